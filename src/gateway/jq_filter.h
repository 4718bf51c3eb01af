/*
 * jq_filter.h — tool_response_filters: jq programs applied to tool results
 * (spec: gateway §4.11, P1.8), on an embedded libjq (Debian's jq 1.6).
 *
 * A gw_jq_t is one compiled program. Compiling costs tens of milliseconds
 * (libjq compiles its builtins each time), so programs are compiled once,
 * at config load (gw_jq_set_compile, which also makes an invalid expression
 * a config error carrying jq's own message), and kept in the server's
 * config. Running is serialised per program by a mutex, because a jq_state
 * is not reentrant; different programs run in parallel.
 *
 * Upstream (gojq) runs with $ENV disabled: here `$ENV` and `env` are
 * shadowed by `{}`. Upstream's 5 s evaluation timeout is NOT implemented:
 * libjq 1.6 offers no way to interrupt a running program.
 * Numbers go through jq as doubles (integers beyond 2^53 lose precision).
 */
#ifndef FLOWGATE_GATEWAY_JQ_FILTER_H
#define FLOWGATE_GATEWAY_JQ_FILTER_H

#include <jansson.h>
#include <stdbool.h>

#include "util/err.h"

typedef struct gw_jq gw_jq_t;
typedef struct gw_jq_set gw_jq_set_t;

/* Compiles expr. On failure returns NULL and err holds jq's message
 * (the first error line, without the "jq: error: " prefix). */
gw_jq_t *gw_jq_compile(const char *expr, err_t *err);
void gw_jq_free(gw_jq_t *f);

/* Runs f on in (borrowed). It must produce exactly one output: *out gets a
 * new reference to it. Otherwise returns false with err set (a runtime
 * error's message, "no output", or "more than one output"). Thread-safe. */
bool gw_jq_run(gw_jq_t *f, const json_t *in, json_t **out, err_t *err);

/* Applies f to a tools/call result as §4.11 says: when the first content
 * item is text holding JSON, the filter runs on that JSON and the item's
 * text becomes the compact output (other items kept); otherwise it runs on
 * the whole result, and an output without a `content` array becomes one
 * text item (as §3.8 converts backend results). Returns a new result, or
 * NULL with err set (the caller keeps the original). */
json_t *gw_jq_filter_result(gw_jq_t *f, const json_t *result, err_t *err);

/* A server's filters: tool name -> compiled program. filters is the
 * config's object of tool -> expression text; path names it in errors
 * ("<path>.<tool> contains an invalid jq expression: <jq message>").
 * *out gets the new set (NULL for a NULL or empty object). */
bool gw_jq_set_compile(const json_t *filters, const char *path, gw_jq_set_t **out, err_t *err);
/* The program for tool, or NULL. set may be NULL. */
gw_jq_t *gw_jq_set_find(const gw_jq_set_t *set, const char *tool);
void gw_jq_set_free(gw_jq_set_t *set);

#endif
