/*
 * session.c — MCP sessions of the front end (spec §4.5 step 8, §4.6): random
 * ids, the gateway session id bound at creation, idle expiry
 * (MCP_GATEWAY_SESSION_TIMEOUT, paused while requests are in flight), and
 * the in-flight table that notifications/cancelled consults.
 *
 * Sessions are a short linked list under the server lock: gh-aw runs one
 * agent with a handful of sessions, and every lookup is already serialised
 * with the request it belongs to. Expired sessions are swept on creation.
 */
#include "gateway/gateway_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static bool fill_random(unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

bool gw_random_session_id(char out[32])
{
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    unsigned char r[26];
    if (!fill_random(r, sizeof r))
        return false;
    for (int i = 0; i < 26; i++)
        out[i] = alpha[r[i] & 31];
    out[26] = 0;
    return true;
}

bool gw_random_hex(char *out, size_t nbytes)
{
    unsigned char r[64];
    if (nbytes > sizeof r || !fill_random(r, nbytes))
        return false;
    for (size_t i = 0; i < nbytes; i++)
        sprintf(out + 2 * i, "%02x", r[i]);
    out[2 * nbytes] = 0;
    return true;
}

static bool has_ctl(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return true;
    return false;
}

char *gw_session_derive_gsid(const char *xa, const char *auth)
{
    char buf[1024];
    if (xa && *xa) {
        if (has_ctl(xa))
            return NULL;
        snprintf(buf, sizeof buf, "%s", xa);
    } else if (auth && *auth) {
        const char *v = auth;
        if (!strncmp(v, "Bearer ", 7))
            v += 7;
        else if (!strncmp(v, "Agent ", 6))
            v += 6;
        while (*v == ' ' || *v == '\t')
            v++;
        snprintf(buf, sizeof buf, "%s", v);
        size_t n = strlen(buf);
        while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
            buf[--n] = 0;
    } else {
        snprintf(buf, sizeof buf, "default");
    }
    /* One safe path segment: it names the payload subdirectory. */
    if (!buf[0] || !strcmp(buf, ".") || !strcmp(buf, "..") || strchr(buf, '/') || strchr(buf, '\\'))
        return NULL;
    return strdup(buf);
}

static void session_free(gw_session_t *x)
{
    free(x->gsid);
    free(x);
}

gw_session_t *gw_session_create(gw_server_t *s, int route, const char *gsid, bool store)
{
    gw_session_t *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->gsid = strdup(gsid);
    if (!x->gsid || !gw_random_session_id(x->id)) {
        session_free(x);
        return NULL;
    }
    x->route = route;
    x->refs = 1;
    x->transient = !store;
    x->last_used_ms = mcp_now_ms();
    snprintf(x->proto, sizeof x->proto, "2025-03-26");
    if (!store)
        return x;
    pthread_mutex_lock(&s->lock);
    /* Sweep idle sessions (nothing in flight, idle past the timeout). */
    int64_t now = mcp_now_ms();
    for (gw_session_t **pp = &s->sessions; *pp;) {
        gw_session_t *o = *pp;
        if (o->inflight == 0 && now - o->last_used_ms > s->session_timeout_ms) {
            *pp = o->next;
            o->closed = true;
            if (--o->refs == 0)
                session_free(o);
            continue;
        }
        pp = &o->next;
    }
    x->refs++; /* the table's reference */
    x->next = s->sessions;
    s->sessions = x;
    pthread_mutex_unlock(&s->lock);
    return x;
}

gw_session_t *gw_session_get(gw_server_t *s, const char *id, int route)
{
    pthread_mutex_lock(&s->lock);
    gw_session_t *found = NULL;
    int64_t now = mcp_now_ms();
    for (gw_session_t *x = s->sessions; x; x = x->next) {
        if (!strcmp(x->id, id) && x->route == route && !x->closed) {
            if (x->inflight == 0 && now - x->last_used_ms > s->session_timeout_ms)
                break;
            found = x;
            x->refs++;
            x->inflight++;
            x->last_used_ms = now;
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return found;
}

void gw_session_put(gw_server_t *s, gw_session_t *x)
{
    if (!x)
        return;
    pthread_mutex_lock(&s->lock);
    if (x->inflight > 0)
        x->inflight--;
    x->last_used_ms = mcp_now_ms();
    bool last = --x->refs == 0;
    pthread_mutex_unlock(&s->lock);
    if (last)
        session_free(x);
}

void gw_session_remove(gw_server_t *s, gw_session_t *x)
{
    pthread_mutex_lock(&s->lock);
    for (gw_session_t **pp = &s->sessions; *pp; pp = &(*pp)->next) {
        if (*pp == x) {
            *pp = x->next;
            x->closed = true;
            x->refs--; /* the table's reference; the caller still holds one */
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
}

void gw_sessions_free(gw_server_t *s)
{
    pthread_mutex_lock(&s->lock);
    gw_session_t *x = s->sessions;
    s->sessions = NULL;
    while (x) {
        gw_session_t *n = x->next;
        x->closed = true;
        if (--x->refs == 0)
            session_free(x);
        x = n;
    }
    pthread_mutex_unlock(&s->lock);
}

void gw_session_track(gw_server_t *s, gw_session_t *x, const json_t *id, atomic_bool *cancel,
                      gw_inflight_t *slot)
{
    slot->id_text = json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY);
    slot->cancel = cancel;
    pthread_mutex_lock(&s->lock);
    slot->next = x->calls;
    x->calls = slot;
    pthread_mutex_unlock(&s->lock);
}

void gw_session_untrack(gw_server_t *s, gw_session_t *x, gw_inflight_t *slot)
{
    pthread_mutex_lock(&s->lock);
    for (gw_inflight_t **pp = &x->calls; *pp; pp = &(*pp)->next) {
        if (*pp == slot) {
            *pp = slot->next;
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
    free(slot->id_text);
    slot->id_text = NULL;
}

void gw_session_cancel(gw_server_t *s, gw_session_t *x, const json_t *request_id)
{
    char *t = json_dumps(request_id, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!t)
        return;
    pthread_mutex_lock(&s->lock);
    for (gw_inflight_t *c = x->calls; c; c = c->next)
        if (c->id_text && !strcmp(c->id_text, t)) {
            atomic_store(c->cancel, true);
            if (c->guard_cancel)
                atomic_store(c->guard_cancel, 1);
        }
    pthread_mutex_unlock(&s->lock);
    free(t);
}
