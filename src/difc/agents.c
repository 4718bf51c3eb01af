/*
 * agents.c — the agent registry: agent id -> labels (spec §3.5).
 *
 * One process-wide table shared by every backend server and request. A
 * pthread rwlock guards it: snapshots of known agents take the read lock,
 * so concurrent requests of many sessions do not serialise; creating an
 * agent and every label update take the write lock, which makes each
 * update (union, accumulate) atomic — two requests tainting the same agent
 * at once both land, none is lost. Entries are kept sorted by id so that
 * /reflect lists agents in a stable order.
 */
#include "difc/difc.h"
#include "difc/difc_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct agent {
    char *id;
    difc_labels_t labels;
} agent_t;

struct difc_agents {
    pthread_rwlock_t lock;
    agent_t **agents;   /* sorted by id */
    size_t len, cap;
};

difc_agents_t *difc_agents_new(void)
{
    difc_agents_t *reg = calloc(1, sizeof *reg);
    if (!reg)
        return NULL;
    if (pthread_rwlock_init(&reg->lock, NULL) != 0) {
        free(reg);
        return NULL;
    }
    return reg;
}

void difc_agents_free(difc_agents_t *reg)
{
    if (!reg)
        return;
    for (size_t i = 0; i < reg->len; i++) {
        free(reg->agents[i]->id);
        difc_labels_free(&reg->agents[i]->labels);
        free(reg->agents[i]);
    }
    free(reg->agents);
    pthread_rwlock_destroy(&reg->lock);
    free(reg);
}

/* Caller holds the lock (either kind). */
static size_t find(const difc_agents_t *reg, const char *id, bool *found)
{
    size_t lo = 0, hi = reg->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(reg->agents[mid]->id, id);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

/* Caller holds the write lock. Returns the agent, creating it; NULL on OOM. */
static agent_t *get_or_create(difc_agents_t *reg, const char *id)
{
    bool found;
    size_t at = find(reg, id, &found);
    if (found)
        return reg->agents[at];
    if (reg->len == reg->cap) {
        size_t cap = reg->cap ? reg->cap * 2 : 16;
        agent_t **a = realloc(reg->agents, cap * sizeof *a);
        if (!a)
            return NULL;
        reg->agents = a;
        reg->cap = cap;
    }
    agent_t *ag = calloc(1, sizeof *ag);
    if (!ag)
        return NULL;
    ag->id = strdup(id);
    if (!ag->id) {
        free(ag);
        return NULL;
    }
    memmove(reg->agents + at + 1, reg->agents + at, (reg->len - at) * sizeof *reg->agents);
    reg->agents[at] = ag;
    reg->len++;
    return ag;
}

bool difc_agents_snapshot(difc_agents_t *reg, const char *agent_id,
                          difc_labels_t *out, err_t *err)
{
    difc_labels_init(out);
    bool found, ok = true;
    pthread_rwlock_rdlock(&reg->lock);
    size_t at = find(reg, agent_id, &found);
    if (found)
        ok = difc_labels_copy(out, &reg->agents[at]->labels);
    pthread_rwlock_unlock(&reg->lock);
    if (found)
        return ok ? true : err_set(err, "out of memory");

    pthread_rwlock_wrlock(&reg->lock);
    agent_t *ag = get_or_create(reg, agent_id);
    /* Another thread may have created and labelled it in between. */
    ok = ag && difc_labels_copy(out, &ag->labels);
    pthread_rwlock_unlock(&reg->lock);
    return ok ? true : err_set(err, "out of memory");
}

bool difc_agents_add(difc_agents_t *reg, const char *agent_id,
                     const difc_labels_t *add, err_t *err)
{
    pthread_rwlock_wrlock(&reg->lock);
    agent_t *ag = get_or_create(reg, agent_id);
    bool ok = ag && difc_labels_union(&ag->labels, add);
    pthread_rwlock_unlock(&reg->lock);
    return ok ? true : err_set(err, "out of memory");
}

bool difc_agents_accumulate_read(difc_agents_t *reg, const char *agent_id,
                                 const difc_labels_t *read, err_t *err)
{
    pthread_rwlock_wrlock(&reg->lock);
    agent_t *ag = get_or_create(reg, agent_id);
    bool ok = ag != NULL;
    /* spec §3.5 AccumulateFromRead: secrecy grows only from a non-empty
     * label; integrity is intersected even with an empty one (§6.7). The
     * intersection never allocates, so the update is all-or-nothing. */
    if (ok && read->secrecy.len > 0)
        ok = difc_tagset_union(&ag->labels.secrecy, &read->secrecy);
    if (ok)
        difc_tagset_intersect(&ag->labels.integrity, &read->integrity);
    pthread_rwlock_unlock(&reg->lock);
    return ok ? true : err_set(err, "out of memory");
}

size_t difc_agents_count(difc_agents_t *reg)
{
    pthread_rwlock_rdlock(&reg->lock);
    size_t n = reg->len;
    pthread_rwlock_unlock(&reg->lock);
    return n;
}

json_t *difc_agents_reflect(difc_agents_t *reg, difc_mode_t mode, const char *timestamp)
{
    char now[32];
    if (!timestamp) {
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
        timestamp = now;
    }
    json_t *doc = json_object();
    json_t *agents = json_object();
    bool ok = doc && agents;
    if (ok) {
        pthread_rwlock_rdlock(&reg->lock);
        for (size_t i = 0; ok && i < reg->len; i++) {
            json_t *l = difc_labels_to_json(&reg->agents[i]->labels);
            ok = l != NULL;
            /* An id that is not valid UTF-8 cannot be a JSON key; such an
             * agent is left out of the document rather than failing it. */
            if (ok)
                json_object_set_new(agents, reg->agents[i]->id, l);
        }
        pthread_rwlock_unlock(&reg->lock);
    }
    if (ok)
        ok = json_object_set_new(doc, "agents", agents) == 0;
    else
        json_decref(agents);
    if (ok)
        ok = json_object_set_new(doc, "mode", json_string(difc_mode_name(mode))) == 0 &&
             json_object_set_new(doc, "timestamp", json_string(timestamp)) == 0;
    if (!ok) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}
