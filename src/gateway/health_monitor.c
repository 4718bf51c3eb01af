/*
 * health_monitor.c — one thread that keeps backends alive while the gateway
 * serves (spec §3.6, §3.3 keepalive):
 *   - every health interval (30 s; FLOWGATE_HEALTH_INTERVAL_MS overrides it,
 *     for tests) it relaunches servers whose launch failed, at most 3
 *     consecutive failures each ("will not retry until gateway restart"),
 *     and resets the failure count of running ones;
 *   - departure from upstream (self-healing, like backends.c): a startup or
 *     session connection whose process died or whose connection broke is
 *     restarted right away instead of waiting for the next call;
 *   - every keepaliveInterval seconds (default 1500, -1 disables) it pings
 *     each running HTTP backend with a timeout of half the interval. A failed
 *     ping closes the connection (the next call reconnects); a "method not
 *     found" reply just stops keepalive for that backend.
 * Shutdown sets the stop flag, which also cancels an in-flight ping; the
 * thread is joined before backends are stopped.
 */
#include "gateway/resilience.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway/gateway_internal.h"

#define HEALTH_INTERVAL_MS 30000
#define MAX_RESTART_FAILURES 3

typedef struct gw_monitor {
    gw_server_t *s;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;     /* signalled on stop; clock is CLOCK_MONOTONIC */
    atomic_bool stop;        /* also the cancel flag of pings */
    int64_t health_ms;
    int64_t keepalive_ms;    /* 0: disabled */
    int *failures;           /* consecutive relaunch failures per backend */
    bool *keepalive_off;     /* backend answered "method not found" */
} gw_monitor_t;

static void set_status(gw_backend_t *b, gw_backend_status_t st, const char *error)
{
    pthread_mutex_lock(&b->lock);
    b->status = st;
    if (st == GW_BACKEND_RUNNING && !b->started_at)
        b->started_at = time(NULL);
    free(b->last_error);
    b->last_error = error ? strdup(error) : NULL;
    pthread_mutex_unlock(&b->lock);
}

static gw_backend_status_t get_status(gw_backend_t *b)
{
    pthread_mutex_lock(&b->lock);
    gw_backend_status_t st = b->status;
    pthread_mutex_unlock(&b->lock);
    return st;
}

/* Relaunches the startup connection; counts failures. */
static void relaunch(gw_monitor_t *m, size_t i, const char *why)
{
    gw_backend_t *b = &m->s->backends[i];
    err_t err = {{0}};
    gw_log_server(b->id, GW_LOG_INFO, "backend", "Health monitor: restarting %s (%s)", b->id, why);
    mcp_backend_stop(b->startup);
    if (mcp_backend_start(b->startup, &err)) {
        m->failures[i] = 0;
        set_status(b, GW_BACKEND_RUNNING, NULL);
        gw_log(GW_LOG_INFO, "backend", "Health monitor: server %s restarted", b->id);
        return;
    }
    m->failures[i]++;
    set_status(b, GW_BACKEND_ERROR, err.msg);
    if (m->failures[i] >= MAX_RESTART_FAILURES)
        gw_log_md(GW_LOG_ERROR, "backend",
                  "Health monitor: server %s failed to restart %d times; will not retry until gateway restart: %s",
                  b->id, m->failures[i], err.msg);
    else
        gw_log(GW_LOG_WARN, "backend", "Health monitor: restart of %s failed (%d/%d): %s", b->id, m->failures[i],
               MAX_RESTART_FAILURES, err.msg);
}

/* Session connections (stdio) whose process died are restarted too. */
static void restart_dead_sessions(gw_monitor_t *m, gw_backend_t *b)
{
    pthread_mutex_lock(&b->lock);
    size_t n = b->npool;
    mcp_backend_t **conns = n ? calloc(n, sizeof *conns) : NULL;
    for (size_t k = 0; conns && k < n; k++)
        conns[k] = b->pool[k].conn; /* entries live until gw_backends_free */
    pthread_mutex_unlock(&b->lock);
    for (size_t k = 0; conns && k < n && !atomic_load(&m->stop); k++) {
        if (mcp_backend_state(conns[k]) != MCP_STATE_EXITED)
            continue;
        err_t err = {{0}};
        if (mcp_backend_start(conns[k], &err))
            gw_log_server(b->id, GW_LOG_INFO, "backend", "Health monitor: restarted a session connection of %s",
                          b->id);
        else
            gw_log_server(b->id, GW_LOG_WARN, "backend",
                          "Health monitor: session connection of %s failed to restart: %s", b->id, err.msg);
    }
    free(conns);
}

static void check_health(gw_monitor_t *m)
{
    gw_server_t *s = m->s;
    for (size_t i = 0; i < s->nbackends && !atomic_load(&m->stop); i++) {
        gw_backend_t *b = &s->backends[i];
        if (get_status(b) == GW_BACKEND_ERROR) {
            if (m->failures[i] < MAX_RESTART_FAILURES)
                relaunch(m, i, "launch failed");
            continue;
        }
        if (get_status(b) != GW_BACKEND_RUNNING)
            continue;
        mcp_backend_state_t st = mcp_backend_state(b->startup);
        if (st == MCP_STATE_EXITED || st == MCP_STATE_FAILED)
            relaunch(m, i, st == MCP_STATE_EXITED ? "process exited or connection lost" : "last start failed");
        else
            m->failures[i] = 0;
        restart_dead_sessions(m, b);
    }
}

static void keepalive(gw_monitor_t *m)
{
    gw_server_t *s = m->s;
    for (size_t i = 0; i < s->nbackends && !atomic_load(&m->stop); i++) {
        gw_backend_t *b = &s->backends[i];
        if (b->mcfg.kind != MCP_BACKEND_HTTP || m->keepalive_off[i] || get_status(b) != GW_BACKEND_RUNNING ||
            mcp_backend_state(b->startup) != MCP_STATE_RUNNING)
            continue;
        err_t err = {{0}};
        json_t *result = NULL;
        mcp_call_status_t st = mcp_backend_request(b->startup, "ping", NULL, mcp_now_ms() + m->keepalive_ms / 2,
                                                   &m->stop, &result, &err);
        bool not_found = st == MCP_CALL_RPC_ERROR &&
                         json_integer_value(json_object_get(result, "code")) == MCP_ERR_METHOD_NOT_FOUND;
        json_decref(result);
        if (st == MCP_CALL_OK || st == MCP_CALL_CANCELLED)
            continue;
        if (not_found) {
            m->keepalive_off[i] = true;
            gw_log_server(b->id, GW_LOG_INFO, "backend", "Keepalive: %s does not support ping; keepalive stopped",
                          b->id);
            continue;
        }
        gw_log_server(b->id, GW_LOG_WARN, "backend", "Keepalive ping to %s failed, closing the connection: %s",
                      b->id, err.msg);
        mcp_backend_stop(b->startup);
    }
}

static void *monitor_main(void *arg)
{
    gw_monitor_t *m = arg;
    int64_t now = mcp_now_ms();
    int64_t next_health = now + m->health_ms;
    int64_t next_ka = m->keepalive_ms > 0 ? now + m->keepalive_ms : INT64_MAX;
    pthread_mutex_lock(&m->lock);
    while (!atomic_load(&m->stop)) {
        int64_t until = next_health < next_ka ? next_health : next_ka;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t wait = until - mcp_now_ms();
        if (wait > 0) {
            ts.tv_sec += wait / 1000;
            ts.tv_nsec += (long)(wait % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&m->cond, &m->lock, &ts);
            continue; /* re-check stop and the clock */
        }
        pthread_mutex_unlock(&m->lock);
        now = mcp_now_ms();
        if (now >= next_health) {
            check_health(m);
            next_health = mcp_now_ms() + m->health_ms;
        }
        if (now >= next_ka) {
            keepalive(m);
            next_ka = mcp_now_ms() + m->keepalive_ms;
        }
        pthread_mutex_lock(&m->lock);
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

static void monitor_free(gw_monitor_t *m)
{
    pthread_cond_destroy(&m->cond);
    pthread_mutex_destroy(&m->lock);
    free(m->failures);
    free(m->keepalive_off);
    free(m);
}

bool gw_monitor_start(gw_server_t *s, err_t *err)
{
    gw_monitor_t *m = calloc(1, sizeof *m);
    if (!m)
        return err_set(err, "out of memory");
    m->s = s;
    atomic_init(&m->stop, false);
    m->health_ms = HEALTH_INTERVAL_MS;
    const char *e = getenv("FLOWGATE_HEALTH_INTERVAL_MS");
    if (e && *e) {
        char *end;
        long v = strtol(e, &end, 10);
        if (*end == '\0' && v >= 10 && v <= 86400000L)
            m->health_ms = v;
    }
    int ka = s->cfg->gateway.keepalive_interval;
    m->keepalive_ms = ka > 0 ? (int64_t)ka * 1000 : 0;
    m->failures = calloc(s->nbackends + 1, sizeof *m->failures);
    m->keepalive_off = calloc(s->nbackends + 1, sizeof *m->keepalive_off);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&m->lock, NULL);
    if (!m->failures || !m->keepalive_off) {
        monitor_free(m);
        return err_set(err, "out of memory");
    }
    int rc = pthread_create(&m->thread, NULL, monitor_main, m);
    if (rc != 0) {
        monitor_free(m);
        return err_set(err, "health monitor: cannot start thread: %s", strerror(rc));
    }
    s->monitor = m;
    gw_log(GW_LOG_INFO, "startup", "Health monitor started (interval %lldms, keepalive %s)",
           (long long)m->health_ms, m->keepalive_ms ? "on" : "off");
    return true;
}

void gw_monitor_stop(gw_server_t *s)
{
    gw_monitor_t *m = s->monitor;
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    atomic_store(&m->stop, true);
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->lock);
    pthread_join(m->thread, NULL);
    s->monitor = NULL;
    monitor_free(m);
}
