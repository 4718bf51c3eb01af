/*
 * resilience.h — keeping backends usable while the gateway runs: the
 * per-backend rate-limit circuit breaker (spec §3.7, circuit_breaker.c) and
 * the monitor thread that restarts dead backends and sends keepalive pings
 * to HTTP backends (spec §3.6, §3.3; health_monitor.c).
 *
 * How they relate to the rest: gw_resilience_start runs after discovery and
 * creates one breaker per backend (gw_server_t.breakers) and the monitor
 * (gw_server_t.monitor); the tools/call pipeline asks gw_breaker_admit before
 * calling a backend and hands the outcome to gw_breaker_observe after it;
 * gw_resilience_stop joins the monitor before backends are stopped, and
 * gw_resilience_free releases both. The gw_breaker_* functions on one
 * gw_breaker_t are the state machine itself, with time passed in so unit
 * tests can drive it.
 */
#ifndef FLOWGATE_GATEWAY_RESILIENCE_H
#define FLOWGATE_GATEWAY_RESILIENCE_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct gw_server;

typedef enum { GW_BREAKER_CLOSED, GW_BREAKER_OPEN, GW_BREAKER_HALF_OPEN } gw_breaker_state_t;

/* One backend's breaker. Times are wall-clock milliseconds (the reset time
 * a backend announces is wall time, and the error shows it as RFC 3339). */
typedef struct gw_breaker {
    pthread_mutex_t lock;
    const char *server_id;     /* borrowed */
    int threshold;             /* consecutive rate-limited results that open it */
    int64_t cooldown_ms;
    gw_breaker_state_t state;
    int consecutive;
    int64_t opened_at_ms;
    int64_t reset_at_ms;       /* announced by the backend; 0 when unknown */
    bool probe_in_flight;      /* HALF-OPEN: the one call let through */
} gw_breaker_t;

/* threshold <= 0 and cooldown_s <= 0 take the defaults (3, 60 s). */
void gw_breaker_init(gw_breaker_t *b, const char *server_id, int threshold, int cooldown_s);
void gw_breaker_destroy(gw_breaker_t *b);
/* True when a call may go to the backend (in OPEN past the cooldown or the
 * announced reset, this call becomes the HALF-OPEN probe). False: msg holds
 * the rejection text of spec §3.7. */
bool gw_breaker_allow(gw_breaker_t *b, int64_t now_ms, char *msg, size_t size);
/* A rate-limited result: counts; opens at the threshold; a rate-limited
 * probe reopens. reset_at_ms is 0 when the text announced none. */
void gw_breaker_record_rate_limit(gw_breaker_t *b, int64_t now_ms, int64_t reset_at_ms);
/* A result that was not rate limited: count reset, HALF-OPEN -> CLOSED. */
void gw_breaker_record_success(gw_breaker_t *b);
/* The admitted call ended without a result (transport or JSON-RPC error):
 * the state is untouched, but a HALF-OPEN probe slot is freed so the next
 * call can probe instead of the breaker staying stuck. */
void gw_breaker_release(gw_breaker_t *b);
gw_breaker_state_t gw_breaker_state(gw_breaker_t *b);

/* Spec §3.7: isError:true and the lower-cased text content mentions a rate
 * limit. *reset_at_ms = now + N s for "rate reset in <N>s", else 0. */
bool gw_result_is_rate_limited(const json_t *result, int64_t now_ms, int64_t *reset_at_ms);
/* Wall clock in milliseconds. */
int64_t gw_wall_ms(void);

/* ---- the gateway's use (pipeline.c, run.c) */
/* Breakers for every backend, then the monitor thread. */
bool gw_resilience_start(struct gw_server *s, err_t *err);
/* Stops and joins the monitor (idempotent). Call before gw_backends_stop. */
void gw_resilience_stop(struct gw_server *s);
void gw_resilience_free(struct gw_server *s);
/* Pipeline step before the backend call: false with *reply set (a JSON-RPC
 * error, code 0) when the backend's breaker refuses. *admitted records
 * whether gw_breaker_observe must be called. */
bool gw_breaker_admit(struct gw_server *s, int backend, const json_t *id, bool *admitted, json_t **reply);
/* Pipeline step after it: result is the backend result, or NULL when the
 * call failed without one. */
void gw_breaker_observe(struct gw_server *s, int backend, const json_t *result);

/* ---- health_monitor.c */
bool gw_monitor_start(struct gw_server *s, err_t *err);
void gw_monitor_stop(struct gw_server *s);

#endif
