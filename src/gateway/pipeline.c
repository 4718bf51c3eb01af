/*
 * pipeline.c — one tools/call, front to back, as a table of named steps
 * (design: architecture.md "One tools/call"; spec: gateway §4.9).
 *
 * Each step takes the call context and returns true to continue or false
 * to stop, having set either c->reply (a JSON-RPC error or an early result)
 * or c->result. Steps marked `always` run even after a stop (recording).
 * Adding a phase is adding a row.
 *
 * The DIFC guard pipeline is four rows (pipeline_guard.c):
 *   label_agent      once per (session, server), cached      — before call_backend
 *   label_resource   + flow pre-check; a denied write stops  — before call_backend
 *   label_response   labelled data from the backend result   — after call_backend
 *   filter           strict/filter/propagate by mode         — after label_response
 * c->gsid (the agent), c->backend/c->bare (server and tool), c->arguments
 * and c->result are what they read; a denial sets c->reply and returns false.
 */
#include "gateway/gateway_internal.h"
#include "gateway/jq_filter.h"
#include "gateway/pipeline_guard.h"
#include "gateway/resilience.h"
#include "gateway/tracing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct gw_call {
    gw_server_t *s;
    gw_session_t *sess;
    const mcp_msg_t *m;
    gw_out_t *out;
    const char *gsid;        /* the agent: gateway session id */
    const char *name;        /* tool name as the client called it */
    const gw_tool_t *tool;   /* after route */
    int backend;
    const char *bare;        /* the backend's own tool name */
    json_t *arguments;       /* borrowed from the request, or owned {} */
    bool own_arguments;
    json_t *progress_token;  /* borrowed */
    atomic_bool cancel;
    gw_inflight_t slot;
    int64_t started_ms;
    json_t *result;          /* backend result (owned) */
    json_t *reply;           /* final JSON-RPC message (owned) */
    gw_guard_call_t guard;   /* the DIFC rows' state (pipeline_guard.h) */
    bool breaker_admitted;   /* the circuit breaker let this call through */
    const char *stopped_at;  /* the step that stopped the call, or NULL */
    gw_span_t *span;         /* mcp.tool_call (tracing.h), NULL: not traced */
    gw_span_t *backend_span; /* gateway.backend.execute */
} gw_call_t;

typedef bool (*gw_step_fn)(gw_call_t *c);

static bool fail(gw_call_t *c, json_int_t code, const char *msg)
{
    c->reply = mcp_jsonrpc_error(c->m->id, code, msg, NULL);
    return false;
}

/* The JSON kind as Go's encoding/json names it in its errors. */
static const char *go_json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING: return "string";
    case JSON_INTEGER:
    case JSON_REAL: return "number";
    case JSON_ARRAY: return "array";
    case JSON_TRUE:
    case JSON_FALSE: return "bool";
    default: return "object";
    }
}

/* authenticate: the HTTP layer checked Authorization; here the call is bound
 * to the agent of its session (spec §4.6) and its payload directory exists. */
static bool step_authenticate(gw_call_t *c)
{
    c->gsid = c->sess->gsid && *c->sess->gsid ? c->sess->gsid : "default";
    return true;
}

/* route: the exposed name -> backend + real tool name; arguments. */
static bool step_route(gw_call_t *c)
{
    const json_t *params = c->m->params;
    c->name = json_string_value(json_object_get(params, "name"));
    if (!c->name)
        return fail(c, MCP_ERR_INVALID_PARAMS, "invalid params: missing tool name");
    const gw_toolset_t *ts = c->s->mode == GW_MODE_ROUTED ? &c->s->routes[c->sess->route] : &c->s->routes[0];
    c->tool = gw_toolset_find(ts, c->name);
    if (!c->tool) {
        char msg[600];
        snprintf(msg, sizeof msg, "unknown tool \"%.500s\"", c->name);
        gw_log(GW_LOG_WARN, "client", "MCP tool call for unknown tool, session=%.8s, tool=%s", c->sess->id,
               c->name);
        return fail(c, MCP_ERR_INVALID_PARAMS, msg);
    }
    c->backend = c->tool->backend;
    c->bare = c->tool->bare;
    json_t *args = json_object_get(params, "arguments");
    if (!args || json_is_null(args)) {
        c->arguments = json_object();
        c->own_arguments = true;
    } else if (!json_is_object(args)) {
        /* upstream's text: encoding/json refusing a non-object (guard-abi §4 step 1) */
        char msg[160];
        snprintf(msg, sizeof msg,
                 "failed to parse arguments: json: cannot unmarshal %s into Go value of type map[string]interface {}",
                 go_json_kind(args));
        return fail(c, 0, msg);
    } else {
        c->arguments = args;
    }
    c->progress_token = json_object_get(json_object_get(params, "_meta"), "progressToken");
    gw_log(GW_LOG_INFO, "client", "MCP tool call request, session=%.8s, tool=%s", c->sess->id, c->bare);
    return true;
}

/* allowed_tools: defence in depth; such tools were never registered. */
static bool step_allowed_tools(gw_call_t *c)
{
    const gw_server_config_t *cfg = c->s->backends[c->backend].cfg;
    if (!cfg->has_tools || cfg->tools.count == 0)
        return true;
    for (size_t i = 0; i < cfg->tools.count; i++)
        if (!strcmp(cfg->tools.items[i], "*") || !strcmp(cfg->tools.items[i], c->bare))
            return true;
    char msg[600];
    snprintf(msg, sizeof msg, "tool \"%.500s\" is not in the allowed-tools list for this server", c->bare);
    return fail(c, 0, msg);
}

/* The DIFC rows (pipeline_guard.c): the call's fields they read. */
static gw_guard_call_t *guard_view(gw_call_t *c)
{
    gw_guard_call_t *g = &c->guard;
    g->s = c->s;
    g->sess = c->sess;
    g->backend = c->backend;
    g->agent = c->gsid;
    g->tool = c->bare;
    g->args = c->arguments;
    g->id = c->m->id;
    g->cancel = &c->cancel;
    return g;
}

static bool step_label_agent(gw_call_t *c)
{
    return gw_guard_label_agent(guard_view(c), &c->reply);
}

static bool step_label_resource(gw_call_t *c)
{
    return gw_guard_label_resource(guard_view(c), &c->reply);
}

static bool step_label_response(gw_call_t *c)
{
    return gw_guard_label_response(guard_view(c), c->result, &c->reply);
}

static bool step_filter(gw_call_t *c)
{
    return gw_guard_filter(guard_view(c), &c->result, &c->reply);
}

static void forward_notification(void *ud, const json_t *n)
{
    gw_call_t *c = ud;
    c->out->emit(c->out, n);
}

/* call_backend: the request with the tool-timeout deadline (per-server,
 * else the gateway's), cancellable by notifications/cancelled. */
static bool step_call_backend(gw_call_t *c)
{
    gw_backend_t *b = &c->s->backends[c->backend];
    int timeout_s = b->cfg->tool_timeout > 0 ? b->cfg->tool_timeout : c->s->tool_timeout_s;
    err_t err = {{0}};
    mcp_backend_t *conn = gw_backend_conn(c->s, c->backend, c->gsid, &err);
    if (!conn) {
        char msg[700];
        snprintf(msg, sizeof msg, "failed to connect to backend %s: %s", b->id, err.msg);
        return fail(c, 0, msg);
    }
    json_t *params = json_pack("{s:s,s:O}", "name", c->bare, "arguments", c->arguments);
    if (c->progress_token)
        json_object_set_new(params, "_meta", json_pack("{s:O}", "progressToken", c->progress_token));
    mcp_call_opts_t opts = {0};
    /* One deadline for the whole call (guard-abi §1.10): the guard rows
     * started it; without them, from now. */
    opts.deadline_ms = c->guard.started ? c->guard.deadline_ms : mcp_now_ms() + (int64_t)timeout_s * 1000;
    opts.cancel = &c->cancel;
    opts.on_notification = forward_notification;
    opts.notify_ud = c;
    opts.session_id = c->gsid; /* plain JSON-RPC HTTP backends send it (spec §3.3) */
    json_t *result = NULL;
    gw_session_track(c->s, c->sess, c->m->id, &c->cancel, &c->slot);
    mcp_call_status_t st = mcp_backend_request_ex(conn, "tools/call", params, &opts, &result, &err);
    gw_session_untrack(c->s, c->sess, &c->slot);
    json_decref(params);
    char msg[900];
    switch (st) {
    case MCP_CALL_OK:
        if (!json_is_object(result) || !json_is_array(json_object_get(result, "content"))) {
            /* spec §3.8: anything without a content array becomes one text item. */
            char *t = json_dumps(result, JSON_COMPACT | JSON_ENCODE_ANY);
            json_t *r = json_pack("{s:[{s:s,s:s}]}", "content", "type", "text", "text", t ? t : "null");
            free(t);
            json_decref(result);
            result = r;
        }
        c->result = result;
        return true;
    case MCP_CALL_RPC_ERROR: {
        json_int_t code = json_integer_value(json_object_get(result, "code"));
        const char *em = json_string_value(json_object_get(result, "message"));
        snprintf(msg, sizeof msg, "calling \"tools/call\": %.800s", em ? em : "");
        json_t *data = json_object_get(result, "data");
        c->reply = mcp_jsonrpc_error(c->m->id, code, msg, data);
        json_decref(result);
        return false;
    }
    case MCP_CALL_TIMEOUT:
        snprintf(msg, sizeof msg, "context deadline exceeded: tool \"%s\" on server \"%s\" did not answer within %ds",
                 c->bare, b->id, timeout_s);
        return fail(c, 0, msg);
    case MCP_CALL_CANCELLED:
        return fail(c, 0, "context canceled");
    default:
        snprintf(msg, sizeof msg, "failed to call tool \"%s\" on backend %s: %.700s", c->bare, b->id, err.msg);
        return fail(c, 0, msg);
    }
}

/* circuit_breaker: a backend that keeps answering "rate limited" is not
 * called until its cooldown passes (spec §3.7, §4.9 step f). */
static bool step_circuit_breaker(gw_call_t *c)
{
    return gw_breaker_admit(c->s, c->backend, c->m->id, &c->breaker_admitted, &c->reply);
}

/* rate_limit: the backend's answer updates its breaker (§4.9 step h). Runs
 * after a failed call too, to free a HALF-OPEN probe slot. */
static bool step_rate_limit(gw_call_t *c)
{
    if (c->breaker_admitted)
        gw_breaker_observe(c->s, c->backend, c->result);
    c->breaker_admitted = false;
    return true;
}

/* response_filter: the server's tool_response_filters[tool] (jq, compiled
 * at config load) rewrites a successful result; a failing filter is logged
 * and the original kept (spec §4.11). */
static bool step_response_filter(gw_call_t *c)
{
    const gw_server_config_t *cfg = c->s->backends[c->backend].cfg;
    gw_jq_t *f = gw_jq_set_find(cfg->jq_filters, c->bare);
    if (!f || !c->result || json_is_true(json_object_get(c->result, "isError")))
        return true;
    err_t err = {{0}};
    json_t *r = gw_jq_filter_result(f, c->result, &err);
    if (!r) {
        gw_log(GW_LOG_WARN, "client", "tool_response_filters: filter for tool %s failed, keeping the original: %s",
               c->bare, err.msg);
        return true;
    }
    json_decref(c->result);
    c->result = r;
    return true;
}

/* url_domain_audit: with --url-domain-audit, the URL hosts of a successful
 * result are recorded under the backend's id in observed-url-domains.json.
 * It runs after DIFC filtering and the response filter, so it records what
 * the agent is shown, and before the size check, as upstream's middleware
 * does (spec §4.11): a spilled payload is audited whole. */
static bool step_url_domain_audit(gw_call_t *c)
{
    if (!c->s->url_domain_audit || !c->result || json_is_true(json_object_get(c->result, "isError")))
        return true;
    json_t *domains = gw_url_domains_extract(c->result);
    gw_log_url_domains(c->s->backends[c->backend].id, domains);
    json_decref(domains);
    return true;
}

/* spill_payload: large results go to payloadDir (spec §4.11). */
static bool step_spill_payload(gw_call_t *c)
{
    if (!c->result || json_is_true(json_object_get(c->result, "isError")))
        return true;
    json_t *r = gw_payload_spill(c->s->payload_dir, c->s->payload_prefix, c->s->payload_threshold, c->gsid,
                                 c->result);
    if (r) {
        json_decref(c->result);
        c->result = r;
    }
    return true;
}

/* trace_begin: the mcp.tool_call span (spec §5.6), once the tool is known. */
static bool step_trace_begin(gw_call_t *c)
{
    c->span = gw_trace_tool_call_begin(c->s->tracer, c->s->backends[c->backend].id, c->bare);
    return true;
}

/* backend_span_begin/_end: gateway.backend.execute around the backend call. */
static bool step_backend_span_begin(gw_call_t *c)
{
    c->backend_span = gw_trace_backend_begin(c->span, c->s->backends[c->backend].id);
    return true;
}

static bool step_backend_span_end(gw_call_t *c)
{
    gw_trace_backend_end(c->backend_span, c->result != NULL);
    c->backend_span = NULL;
    return true;
}

/* trace_end: the logical status (§4.9 item 6) from where the call stopped. */
static bool step_trace_end(gw_call_t *c)
{
    if (!c->span)
        return true;
    int status = 200;
    int64_t reset_at = 0;
    bool rate_limited = !c->stopped_at && gw_result_is_rate_limited(c->result, gw_wall_ms(), &reset_at);
    const char *em = json_string_value(json_object_get(json_object_get(c->reply, "error"), "message"));
    if (rate_limited)
        status = 429;
    else if (!c->stopped_at)
        status = 200;
    else if (!strcmp(c->stopped_at, "circuit_breaker") || (em && strstr(em, "tool call limit reached")))
        status = 429;
    else if (!strcmp(c->stopped_at, "allowed_tools") || !strcmp(c->stopped_at, "label_resource") ||
             !strcmp(c->stopped_at, "label_response") || !strcmp(c->stopped_at, "filter"))
        status = 403;
    else
        status = 500;
    gw_trace_tool_call_end(c->span, status, rate_limited, status == 200 ? NULL : em);
    c->span = NULL;
    return true;
}

/* record: the response (or error) line, and the reply itself. */
static bool step_record(gw_call_t *c)
{
    if (!c->reply && c->result)
        c->reply = mcp_jsonrpc_result(c->m->id, c->result);
    long ms = (long)(mcp_now_ms() - c->started_ms);
    if (c->result) {
        gw_log(GW_LOG_INFO, "client", "MCP tool call response, session=%.8s, tool=%s, isError=%s, %ldms",
               c->sess->id, c->bare ? c->bare : "", json_is_true(json_object_get(c->result, "isError")) ? "true" : "false",
               ms);
    } else {
        const char *em = json_string_value(json_object_get(json_object_get(c->reply, "error"), "message"));
        gw_log(GW_LOG_WARN, "client", "MCP tool call error, session=%.8s, tool=%s: %s", c->sess->id,
               c->name ? c->name : "", em ? em : "");
    }
    return true;
}

static const struct {
    const char *name;
    gw_step_fn fn;
    bool always;
} steps[] = {
    {"authenticate", step_authenticate, false},
    {"route", step_route, false},
    {"trace_begin", step_trace_begin, false},
    {"allowed_tools", step_allowed_tools, false},
    {"label_agent", step_label_agent, false},
    {"label_resource", step_label_resource, false},
    {"circuit_breaker", step_circuit_breaker, false},
    {"backend_span_begin", step_backend_span_begin, false},
    {"call_backend", step_call_backend, false},
    {"backend_span_end", step_backend_span_end, true},
    {"rate_limit", step_rate_limit, true},
    {"label_response", step_label_response, false},
    {"filter", step_filter, false},
    {"response_filter", step_response_filter, false},
    {"url_domain_audit", step_url_domain_audit, false},
    {"spill_payload", step_spill_payload, false},
    {"trace_end", step_trace_end, true},
    {"record", step_record, true},
};

json_t *gw_tools_call(gw_server_t *s, gw_session_t *sess, const mcp_msg_t *m, gw_out_t *out)
{
    gw_call_t c = {.s = s, .sess = sess, .m = m, .out = out, .backend = -1};
    atomic_init(&c.cancel, false);
    c.started_ms = mcp_now_ms();
    bool go = true;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        if (!go && !steps[i].always)
            continue;
        if (!steps[i].fn(&c) && go) {
            go = false;
            c.stopped_at = steps[i].name;
        }
    }
    gw_guard_call_done(&c.guard);
    if (c.own_arguments)
        json_decref(c.arguments);
    json_decref(c.result);
    if (!c.reply)
        c.reply = mcp_jsonrpc_error(m->id, MCP_ERR_INTERNAL, "internal error", NULL);
    return c.reply;
}
