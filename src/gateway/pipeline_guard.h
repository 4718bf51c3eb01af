/*
 * pipeline_guard.h — the DIFC rows of the tools/call pipeline (spec:
 * guard-abi-and-difc.md §4, §3.4–§3.10, with the fail-closed departures of
 * spec/README.md). Private to src/gateway.
 *
 * Two objects:
 *   gw_guards_t      per gateway, built at startup by gw_guards_init: the
 *                    guard chosen for every backend (§3.9, §1.11), its
 *                    resolved policy and label_agent payload (§3.10, §2.1),
 *                    tool-call limits, and the per-(agent, server) state:
 *                    the label_agent cache (mode) and the tool-call counters.
 *   gw_guard_call_t  one tools/call's guard state, embedded in pipeline.c's
 *                    call context: the request context handed to the guard
 *                    (deadline = tool timeout, cancel wired to the call's
 *                    notifications/cancelled), the agent's labels, the Phase 1
 *                    resource and operation, the Phase 4 response labels.
 *
 * The four steps run in this order, each returning true to continue or false
 * with *reply set to the JSON-RPC error the client gets (code 0, spec
 * gateway §4.9 item 4):
 *   gw_guard_label_agent     guard init (label_agent once per agent and
 *                            server, failures not cached), tool-call limit,
 *                            Phase 0 (agent snapshot)
 *   gw_guard_label_resource  Phase 1 + the Phase 2 pre-check: a denied write
 *                            or read-write never reaches the backend
 *   gw_guard_label_response  Phase 4 (after the backend call)
 *   gw_guard_filter          Phases 5–6 and the notice: strict blocks,
 *                            filter/propagate remove items in place, the
 *                            difc_filtered records, propagation into the agent
 * gw_guard_call_done releases the call's state; it must run on every path.
 */
#ifndef FLOWGATE_GATEWAY_PIPELINE_GUARD_H
#define FLOWGATE_GATEWAY_PIPELINE_GUARD_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "difc/difc.h"
#include "gateway/gateway_internal.h"
#include "guard/guard.h"

typedef struct gw_guards gw_guards_t;

/* Chooses and loads the guard of every backend and resolves its policy.
 * Never fails for a guard that does not load (it falls back as §3.9 says,
 * with a warning); a policy that does not validate makes that server's tool
 * calls fail at guard initialization, as upstream does. False only on OOM.
 * Sets s->guards. */
bool gw_guards_init(gw_server_t *s, err_t *err);
/* Closes every guard. No call may be running. NULL-safe. */
void gw_guards_free(gw_guards_t *gs);
/* "DIFC enabled" (§3.9): a non-noop guard or any policy. */
bool gw_guards_enabled(const gw_guards_t *gs);
/* Adds "guard":{name,type,healthy,...} to each server entry of /health's
 * `servers` object; a guard marked failed makes *unhealthy true. */
void gw_guards_health(gw_server_t *s, json_t *servers, bool *unhealthy);

typedef struct gw_guard_call {
    /* Inputs, borrowed, set by pipeline.c before each step. */
    gw_server_t *s;
    gw_session_t *sess;
    int backend;
    const char *agent;       /* the gateway session id */
    const char *tool;        /* the backend's own tool name */
    const json_t *args;
    const json_t *id;        /* the JSON-RPC request id */
    atomic_bool *cancel;     /* the call's cancel flag */
    /* State. */
    bool started;            /* ctx initialised and tracked */
    guard_t *guard;          /* borrowed from the registry */
    guard_ctx_t ctx;
    guard_backend_t gb;
    gw_inflight_t slot;      /* notifications/cancelled -> ctx.cancel */
    int64_t deadline_ms;     /* mcp_now_ms() clock */
    difc_mode_t mode;
    difc_labels_t agent_labels;
    difc_resource_t resource;
    difc_op_t op;
    bool have_resource;
    difc_response_labels_t rl;
    bool labelled;           /* label_response ran */
} gw_guard_call_t;

bool gw_guard_label_agent(gw_guard_call_t *g, json_t **reply);
bool gw_guard_label_resource(gw_guard_call_t *g, json_t **reply);
/* result: the backend's result (borrowed). */
bool gw_guard_label_response(gw_guard_call_t *g, const json_t *result, json_t **reply);
/* *result (owned) is replaced by what the client may see. */
bool gw_guard_filter(gw_guard_call_t *g, json_t **result, json_t **reply);
void gw_guard_call_done(gw_guard_call_t *g);

/* log_difc.c: one difc_filtered record (§4.1) into rpc-messages.jsonl and
 * its "[DIFC-FILTERED] <json>" line into the unified and per-server logs.
 * `rec` is borrowed. */
void gw_log_difc_filtered(const char *server, const json_t *rec);

#endif
