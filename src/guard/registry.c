/*
 * registry.c — which guard serves which server (spec §3.9 "Registry" and
 * "Selection order", §1.11 discovery).
 *
 * The registry maps server ids to guards; an unknown id gets the registry's
 * shared noop guard, so a lookup never fails. It is filled at startup and
 * then only read, but a rwlock makes late additions (a server added by a
 * reload) safe too.
 *
 * guard_choose() is the per-server selection: a discovered WASM file if it
 * loads, else a write-sink for a resolved write-sink policy, else the
 * server's configured guard (noop, wasm or a registered type), else noop.
 * A guard that fails to load never stops the gateway: it is logged as a
 * warning and the next choice is taken, ending with noop. A non-noop guard
 * with no policy to run it with is replaced by noop, as upstream does.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "guard/guard.h"

/* ---------------------------------------------------------- registry -- */

typedef struct entry {
    char *server_id;
    guard_t *guard;
} entry_t;

struct guard_registry {
    pthread_rwlock_t lock;
    entry_t *entries;
    size_t len, cap;
    guard_t *noop;      /* shared by every unknown server id */
};

guard_registry_t *guard_registry_new(void)
{
    guard_registry_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->noop = guard_noop_new();
    if (!r->noop || pthread_rwlock_init(&r->lock, NULL) != 0) {
        guard_close(r->noop);
        free(r);
        return NULL;
    }
    return r;
}

void guard_registry_free(guard_registry_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->len; i++) {
        free(r->entries[i].server_id);
        guard_close(r->entries[i].guard);
    }
    free(r->entries);
    guard_close(r->noop);
    pthread_rwlock_destroy(&r->lock);
    free(r);
}

/* Index of server_id's entry, or r->len. Caller holds the lock. */
static size_t find(const guard_registry_t *r, const char *server_id)
{
    size_t i = 0;
    while (i < r->len && strcmp(r->entries[i].server_id, server_id) != 0)
        i++;
    return i;
}

bool guard_registry_set(guard_registry_t *r, const char *server_id, guard_t *g, err_t *err)
{
    if (!g)
        return err_set(err, "no guard for server '%s'", server_id);
    guard_t *old = NULL;
    bool ok = true;
    pthread_rwlock_wrlock(&r->lock);
    size_t i = find(r, server_id);
    if (i < r->len) {
        old = r->entries[i].guard;
        r->entries[i].guard = g;
    } else {
        char *id = strdup(server_id);
        if (id && r->len == r->cap) {
            size_t cap = r->cap ? r->cap * 2 : 8;
            entry_t *e = realloc(r->entries, cap * sizeof *e);
            if (e) {
                r->entries = e;
                r->cap = cap;
            }
        }
        if (!id || r->len == r->cap) {
            free(id);
            old = g; /* ownership was taken: close it */
            ok = false;
        } else {
            r->entries[r->len++] = (entry_t){.server_id = id, .guard = g};
        }
    }
    pthread_rwlock_unlock(&r->lock);
    /* Closed outside the lock; no call may still be running on it (the
     * caller replaces guards only when no request uses the old one). */
    guard_close(old);
    return ok ? true : err_set(err, "out of memory");
}

guard_t *guard_registry_get(guard_registry_t *r, const char *server_id)
{
    pthread_rwlock_rdlock(&r->lock);
    size_t i = find(r, server_id);
    guard_t *g = i < r->len ? r->entries[i].guard : r->noop;
    pthread_rwlock_unlock(&r->lock);
    return g;
}

bool guard_registry_has_non_noop(guard_registry_t *r)
{
    bool any = false;
    pthread_rwlock_rdlock(&r->lock);
    for (size_t i = 0; i < r->len && !any; i++)
        any = !guard_is_noop(r->entries[i].guard);
    pthread_rwlock_unlock(&r->lock);
    return any;
}

/* --------------------------------------------------------- discovery -- */

static bool is_regular_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool has_wasm_ext(const char *name)
{
    size_t n = strlen(name);
    return n >= 5 && strcasecmp(name + n - 5, ".wasm") == 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

bool guard_discover_wasm(const char *server_id, const char *guards_dir, const char *github_default,
                         char **out_path, err_t *err)
{
    *out_path = NULL;
    /* The trimmed value; "set but empty" also turns off the github default. */
    const char *dir = guards_dir;
    size_t dn = 0;
    if (dir) {
        while (*dir == ' ' || *dir == '\t' || *dir == '\n' || *dir == '\r')
            dir++;
        dn = strlen(dir);
        while (dn > 0 && strchr(" \t\n\r", dir[dn - 1]))
            dn--;
    }
    if (strcmp(server_id, "github") == 0 && !(guards_dir && dn == 0)) {
        const char *p = github_default ? github_default : "/guards/github/00-github-guard.wasm";
        if (is_regular_file(p)) {
            *out_path = strdup(p);
            return *out_path ? true : err_set(err, "out of memory");
        }
    }
    if (!dir || dn == 0)
        return true;

    size_t plen = dn + 1 + strlen(server_id) + 1;
    char *sub = malloc(plen);
    if (!sub)
        return err_set(err, "out of memory");
    snprintf(sub, plen, "%.*s/%s", (int)dn, dir, server_id);
    DIR *d = opendir(sub);
    if (!d) {
        free(sub);
        return true; /* no directory for this server: nothing discovered */
    }
    /* ReadDir order is sorted by name: collect the candidates, sort, and
     * take the first that is not a directory. */
    char **names = NULL;
    size_t n = 0, cap = 0;
    bool ok = true;
    struct dirent *de;
    while (ok && (de = readdir(d)) != NULL) {
        if (!has_wasm_ext(de->d_name))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                ok = false;
                break;
            }
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name)))
            ok = false;
        else
            n++;
    }
    closedir(d);
    if (ok)
        qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; ok && i < n && !*out_path; i++) {
        size_t fl = strlen(sub) + 1 + strlen(names[i]) + 1;
        char *full = malloc(fl);
        if (!full) {
            ok = false;
            break;
        }
        snprintf(full, fl, "%s/%s", sub, names[i]);
        struct stat st;
        if (stat(full, &st) == 0 && !S_ISDIR(st.st_mode))
            *out_path = full;
        else
            free(full);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(sub);
    return ok ? true : err_set(err, "out of memory");
}

/* --------------------------------------------------------- selection -- */

static void warn(const guard_choice_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(const guard_choice_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    guard_log_vprintf(c->wasm_opts ? &c->wasm_opts->log : NULL, c->server_id, GUARD_LOG_WARN, fmt, ap);
    va_end(ap);
}

static guard_t *load_wasm(const guard_choice_t *c, const char *path, const char *name, err_t *err)
{
    guard_wasm_opts_t opts = {0};
    if (c->wasm_opts)
        opts = *c->wasm_opts;
    opts.name = name;
    return guard_wasm_load_file(path, &opts, err);
}

/* Step 3: the server's configured guard name. */
static guard_t *configured(const guard_choice_t *c)
{
    err_t e = {0};
    guard_t *g = NULL;
    const char *name = c->guard_name;
    if (c->guard_entry_exists) {
        const char *type = c->guard_type ? c->guard_type : "";
        if (*type == '\0' || strcmp(type, "noop") == 0)
            return guard_noop_new();
        if (strcmp(type, "wasm") == 0) {
            if (!c->guard_path || !*c->guard_path)
                err_set(&e, "wasm guard '%s' requires a 'path' field", name);
            else
                g = load_wasm(c, c->guard_path, name, &e);
        } else {
            g = guard_create(type, &e);
        }
    } else {
        g = guard_create(name, &e);
    }
    if (!g) {
        warn(c, "guard '%s' for server '%s' could not be created, using noop: %s", name, c->server_id,
             e.msg);
        g = guard_noop_new();
    }
    return g;
}

guard_t *guard_choose(const guard_choice_t *c, err_t *err)
{
    guard_t *g = NULL;
    err_t e = {0};
    /* 1. A discovered WASM file, named after the server. */
    if (c->discovered_wasm) {
        g = load_wasm(c, c->discovered_wasm, c->server_id, &e);
        if (!g)
            warn(c, "failed to load WASM guard %s for server '%s', trying other guards: %s",
                 c->discovered_wasm, c->server_id, e.msg);
    }
    /* 2. A resolved write-sink policy. */
    if (!g && c->write_sink) {
        g = guard_write_sink_new(c->write_sink, &e);
        if (!g)
            warn(c, "write-sink guard for server '%s' could not be created: %s", c->server_id, e.msg);
    }
    /* 3. The configured guard; 4. noop. */
    if (!g && c->guard_name && *c->guard_name)
        g = configured(c);
    if (!g)
        g = guard_noop_new();
    if (g && !guard_is_noop(g) && !c->has_policy) {
        warn(c, "guard '%s' for server '%s' has no policy; using noop instead", guard_name(g),
             c->server_id);
        guard_close(g);
        g = guard_noop_new();
    }
    if (!g)
        err_set(err, "out of memory");
    return g;
}
