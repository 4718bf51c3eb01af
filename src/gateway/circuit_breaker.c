/*
 * circuit_breaker.c — the per-backend rate-limit circuit breaker (spec §3.7):
 * after `threshold` consecutive rate-limited results a backend is not called
 * at all until its cooldown (or the reset time it announced) passes; then one
 * probe goes through and its outcome closes or reopens the breaker.
 * Transport errors leave the breaker alone: only what the backend says about
 * its rate limit counts.
 */
#include "gateway/resilience.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway/gateway_internal.h"
#include "gateway/config.h"

int64_t gw_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void gw_breaker_init(gw_breaker_t *b, const char *server_id, int threshold, int cooldown_s)
{
    memset(b, 0, sizeof *b);
    pthread_mutex_init(&b->lock, NULL);
    b->server_id = server_id;
    b->threshold = threshold > 0 ? threshold : GW_CONFIG_DEFAULT_RATE_LIMIT_THRESHOLD;
    b->cooldown_ms = (int64_t)(cooldown_s > 0 ? cooldown_s : GW_CONFIG_DEFAULT_RATE_LIMIT_COOLDOWN) * 1000;
    b->state = GW_BREAKER_CLOSED;
}

void gw_breaker_destroy(gw_breaker_t *b)
{
    pthread_mutex_destroy(&b->lock);
}

/* Go's time.Duration text for whole seconds ("45s", "1m30s", "2h0m5s"),
 * which is how upstream prints "retry after". */
static void go_duration(int64_t secs, char *out, size_t size)
{
    if (secs < 60)
        snprintf(out, size, "%llds", (long long)secs);
    else if (secs < 3600)
        snprintf(out, size, "%lldm%llds", (long long)(secs / 60), (long long)(secs % 60));
    else
        snprintf(out, size, "%lldh%lldm%llds", (long long)(secs / 3600), (long long)(secs % 3600 / 60),
                 (long long)(secs % 60));
}

static void reject_text(const gw_breaker_t *b, int64_t now_ms, char *msg, size_t size)
{
    if (b->reset_at_ms > now_ms) {
        time_t t = (time_t)(b->reset_at_ms / 1000);
        struct tm tm;
        char when[40], dur[40];
        gmtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        go_duration((b->reset_at_ms - now_ms + 999) / 1000, dur, sizeof dur);
        snprintf(msg, size,
                 "rate limit circuit breaker is OPEN for server \"%s\" — rate limit resets at %s (retry after %s)",
                 b->server_id, when, dur);
    } else {
        snprintf(msg, size, "rate limit circuit breaker is OPEN for server \"%s\" — requests temporarily rejected",
                 b->server_id);
    }
}

bool gw_breaker_allow(gw_breaker_t *b, int64_t now_ms, char *msg, size_t size)
{
    bool ok = false;
    pthread_mutex_lock(&b->lock);
    switch (b->state) {
    case GW_BREAKER_CLOSED:
        ok = true;
        break;
    case GW_BREAKER_OPEN: {
        bool reset_known = b->reset_at_ms > b->opened_at_ms;
        if ((reset_known && now_ms >= b->reset_at_ms) || now_ms >= b->opened_at_ms + b->cooldown_ms) {
            b->state = GW_BREAKER_HALF_OPEN;
            b->probe_in_flight = true;
            ok = true;
        }
        break;
    }
    case GW_BREAKER_HALF_OPEN:
        if (!b->probe_in_flight) {
            b->probe_in_flight = true;
            ok = true;
        }
        break;
    }
    if (!ok)
        reject_text(b, now_ms, msg, size);
    pthread_mutex_unlock(&b->lock);
    return ok;
}

void gw_breaker_record_rate_limit(gw_breaker_t *b, int64_t now_ms, int64_t reset_at_ms)
{
    pthread_mutex_lock(&b->lock);
    b->consecutive++;
    bool open = b->state == GW_BREAKER_HALF_OPEN ||
                (b->state == GW_BREAKER_CLOSED && b->consecutive >= b->threshold);
    if (open) {
        b->state = GW_BREAKER_OPEN;
        b->opened_at_ms = now_ms;
        b->probe_in_flight = false;
    }
    if (reset_at_ms > 0 && (open || b->state == GW_BREAKER_OPEN))
        b->reset_at_ms = reset_at_ms;
    else if (open)
        b->reset_at_ms = 0;
    pthread_mutex_unlock(&b->lock);
    if (open)
        gw_log(GW_LOG_WARN, "backend", "Rate limit circuit breaker OPEN for server %s after %d consecutive rate-limited results",
               b->server_id, b->consecutive);
}

void gw_breaker_record_success(gw_breaker_t *b)
{
    pthread_mutex_lock(&b->lock);
    bool closed = b->state == GW_BREAKER_HALF_OPEN;
    b->consecutive = 0;
    if (closed) {
        b->state = GW_BREAKER_CLOSED;
        b->probe_in_flight = false;
        b->reset_at_ms = 0;
    }
    pthread_mutex_unlock(&b->lock);
    if (closed)
        gw_log(GW_LOG_INFO, "backend", "Rate limit circuit breaker CLOSED for server %s", b->server_id);
}

void gw_breaker_release(gw_breaker_t *b)
{
    pthread_mutex_lock(&b->lock);
    if (b->state == GW_BREAKER_HALF_OPEN)
        b->probe_in_flight = false;
    pthread_mutex_unlock(&b->lock);
}

gw_breaker_state_t gw_breaker_state(gw_breaker_t *b)
{
    pthread_mutex_lock(&b->lock);
    gw_breaker_state_t st = b->state;
    pthread_mutex_unlock(&b->lock);
    return st;
}

/* The text of a {"type":"text"} content item, else NULL. */
static const char *item_text(const json_t *item)
{
    const char *type = json_string_value(json_object_get(item, "type"));
    return type && !strcmp(type, "text") ? json_string_value(json_object_get(item, "text")) : NULL;
}

bool gw_result_is_rate_limited(const json_t *result, int64_t now_ms, int64_t *reset_at_ms)
{
    *reset_at_ms = 0;
    if (!json_is_true(json_object_get(result, "isError")))
        return false;
    /* The concatenated text content, lower-cased. */
    size_t len = 0, i;
    json_t *item;
    json_array_foreach(json_object_get(result, "content"), i, item) {
        const char *t = item_text(item);
        if (t)
            len += strlen(t) + 1;
    }
    if (len == 0)
        return false;
    char *text = malloc(len + 1);
    if (!text)
        return false;
    size_t k = 0;
    json_array_foreach(json_object_get(result, "content"), i, item) {
        const char *t = item_text(item);
        if (t) {
            for (const char *p = t; *p; p++)
                text[k++] = (char)tolower((unsigned char)*p);
            text[k++] = '\n';
        }
    }
    text[k] = '\0';
    bool hit = strstr(text, "rate limit exceeded") || (strstr(text, "rate limit") && strstr(text, "403")) ||
               strstr(text, "api rate limit") || strstr(text, "secondary rate limit") ||
               strstr(text, "too many requests");
    if (hit) {
        const char *r = strstr(text, "rate reset in ");
        if (r) {
            r += strlen("rate reset in ");
            char *end;
            long long n = strtoll(r, &end, 10);
            if (end != r && *end == 's' && n >= 0 && n < 366LL * 86400)
                *reset_at_ms = now_ms + n * 1000;
        }
    }
    free(text);
    return hit;
}

/* ---- the gateway's breakers */

bool gw_resilience_start(gw_server_t *s, err_t *err)
{
    s->breakers = calloc(s->nbackends ? s->nbackends : 1, sizeof *s->breakers);
    if (!s->breakers)
        return err_set(err, "out of memory");
    for (size_t i = 0; i < s->nbackends; i++)
        gw_breaker_init(&s->breakers[i], s->backends[i].id, s->backends[i].cfg->rate_limit_threshold,
                        s->backends[i].cfg->rate_limit_cooldown);
    return gw_monitor_start(s, err);
}

void gw_resilience_stop(gw_server_t *s)
{
    gw_monitor_stop(s);
}

void gw_resilience_free(gw_server_t *s)
{
    gw_monitor_stop(s);
    if (s->breakers) {
        for (size_t i = 0; i < s->nbackends; i++)
            gw_breaker_destroy(&s->breakers[i]);
        free(s->breakers);
        s->breakers = NULL;
    }
}

bool gw_breaker_admit(gw_server_t *s, int backend, const json_t *id, bool *admitted, json_t **reply)
{
    *admitted = false;
    if (!s->breakers || backend < 0)
        return true;
    char msg[512];
    if (!gw_breaker_allow(&s->breakers[backend], gw_wall_ms(), msg, sizeof msg)) {
        /* Logical status 429; on the wire a JSON-RPC error with code 0 (spec §4.9 step 4). */
        *reply = mcp_jsonrpc_error(id, 0, msg, NULL);
        return false;
    }
    *admitted = true;
    return true;
}

void gw_breaker_observe(gw_server_t *s, int backend, const json_t *result)
{
    if (!s->breakers || backend < 0)
        return;
    gw_breaker_t *b = &s->breakers[backend];
    if (!result) {
        gw_breaker_release(b);
        return;
    }
    int64_t now = gw_wall_ms(), reset = 0;
    if (gw_result_is_rate_limited(result, now, &reset)) {
        gw_log(GW_LOG_WARN, "backend", "Rate-limited result from server %s", b->server_id);
        gw_breaker_record_rate_limit(b, now, reset);
    } else {
        gw_breaker_record_success(b);
    }
}
