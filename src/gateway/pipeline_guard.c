/*
 * pipeline_guard.c — guard selection at startup and the DIFC steps of one
 * tools/call (spec: guard-abi-and-difc.md §4; see pipeline_guard.h).
 *
 * Startup (gw_guards_init): for every backend, the policy is resolved (the
 * global override from --guard-policy-json / --allowonly-*, else the
 * server's guard-policies, else the policy of its configured guard, §3.10),
 * then the guard is chosen by guard_choose (§3.9: a WASM file discovered in
 * $MCP_GATEWAY_WASM_GUARDS_DIR/<server>/, else a write-sink for a write-sink
 * policy, else the configured guard, else noop) and kept in a registry.
 *
 * Per call, state that outlives it lives in the agent table, keyed by
 * (agent, backend): whether label_agent succeeded for it and the mode it
 * returned, and the tool-call counters. The table is behind one mutex that
 * is never held while a guard or a backend runs.
 *
 * Fail closed everywhere: a guard error stops the call with an error; a read
 * denied at Phase 2 whose response carries no labels is judged as one item
 * with the Phase 1 labels (difc_filter_response), never passed through.
 */
#include "gateway/pipeline_guard.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AGENT_BUCKETS 64

typedef struct counter {
    char *tool;
    long long n;
} counter_t;

typedef struct astate {
    char *agent;
    int backend;
    bool initialized;        /* label_agent succeeded (failures never cached) */
    difc_mode_t mode;
    counter_t *counters;
    size_t ncounters;
    struct astate *next;
} astate_t;

typedef struct gserver {
    const char *id;          /* borrowed from the config */
    guard_t *guard;          /* borrowed from the registry */
    bool is_wasm;
    bool has_policy;
    difc_policy_t policy;    /* valid when has_policy */
    json_t *payload;         /* label_agent input (owned), NULL: no policy */
    char *init_error;        /* every call fails with this (owned) */
    char *sink_visibility;   /* effective write-sink visibility (owned) */
} gserver_t;

struct gw_guards {
    guard_registry_t *reg;
    gserver_t *servers;      /* one per backend, same index */
    size_t n;
    difc_mode_t default_mode;
    bool any_policy;
    pthread_mutex_t lock;    /* the agent table */
    astate_t *buckets[AGENT_BUCKETS];
};

/* ------------------------------------------------------------- startup -- */

static void guard_log_line(void *ud, guard_log_level_t level, const char *line)
{
    const char *server = ud;
    gw_level_t l = level == GUARD_LOG_WARN ? GW_LOG_WARN : level == GUARD_LOG_ERROR ? GW_LOG_ERROR : GW_LOG_INFO;
    if (level == GUARD_LOG_DEBUG) {
        gw_debug("guard", "%s", line);
        return;
    }
    gw_log_server(server, l, "guard", "%s", line);
}

/* The global override (§3.10 resolution step 1): --guard-policy-json, else
 * the --allowonly-* flags. NULL and no error when none is given. */
static json_t *global_policy_raw(const gw_options_t *o, err_t *err)
{
    if (o->guard_policy_json && *o->guard_policy_json) {
        json_error_t je;
        json_t *v = json_loads(o->guard_policy_json, 0, &je);
        if (!v) {
            err_set(err, "invalid guard policy JSON: %s", je.text);
            return NULL;
        }
        return v;
    }
    bool pub = o->allowonly_scope_public;
    const char *owner = o->allowonly_scope_owner ? o->allowonly_scope_owner : "";
    const char *repo = o->allowonly_scope_repo ? o->allowonly_scope_repo : "";
    const char *mi = o->allowonly_min_integrity ? o->allowonly_min_integrity : "";
    if (!pub && !*owner && !*repo && !*mi)
        return NULL;
    json_t *ao = json_object();
    if (pub) {
        json_object_set_new(ao, "repos", json_string("public"));
    } else if (*owner) {
        char scope[512];
        snprintf(scope, sizeof scope, "%s/%s", owner, *repo ? repo : "*");
        json_object_set_new(ao, "repos", json_pack("[s]", scope));
    }
    if (*mi)
        json_object_set_new(ao, "min-integrity", json_string(mi));
    return json_pack("{s:o}", "allow-only", ao);
}

/* Resolves a server's policy (§3.10): global, guard-policies, the guard
 * entry's policy. *pol filled and *found set; false with err on an invalid
 * policy. */
static bool resolve_policy(const json_t *global, const char *global_err, const gw_server_config_t *srv,
                           const gw_guard_config_t *gentry, difc_policy_t *pol, bool *found, err_t *err)
{
    *found = false;
    if (global_err)
        return err_set(err, "%s", global_err);
    if (global) {
        if (!difc_policy_parse(global, pol, err))
            return false;
        *found = true;
        return true;
    }
    if (srv->guard_policies) {
        if (!difc_policy_parse_server(srv->id, srv->guard_policies, pol, found, err))
            return false;
        if (*found)
            return true;
    }
    if (gentry && gentry->policy) {
        if (!difc_policy_parse(gentry->policy, pol, err))
            return false;
        *found = true;
    }
    return true;
}

static bool list_has(const gw_strlist_t *l, const char *s)
{
    for (size_t i = 0; i < l->count; i++)
        if (!strcmp(l->items[i], s) || !strcmp(l->items[i], "*"))
            return true;
    return false;
}

/* The effective sink visibility (§3.9 step 2), without the runtime GitHub
 * lookup (no network here; that lookup only ever moves towards public). */
static char *sink_visibility(const gw_config_t *cfg, const char *server_id, const difc_write_sink_t *ws)
{
    if (ws->sink_visibility && *ws->sink_visibility)
        return strdup(ws->sink_visibility);
    bool safe_outputs = !strcmp(server_id, "safe-outputs") || !strcmp(server_id, "safeoutputs");
    bool exempt = !cfg->gateway.force_public_repos ||
                  list_has(&cfg->gateway.sink_visibility_exempt_servers, server_id);
    if (!safe_outputs && !exempt)
        return strdup("public");
    return NULL;
}

/* The label_agent input. A WASM guard gets the strictly checked payload of
 * §2.1; a native guard ignores it, so it gets the canonical policy (minus
 * tool-call-limits) without the allow-only-only checks. */
static json_t *build_payload(const gw_config_t *cfg, const gserver_t *gsv, err_t *err)
{
    json_t *policy = difc_policy_to_json(&gsv->policy);
    if (!policy) {
        err_set(err, "out of memory");
        return NULL;
    }
    json_t *bots = NULL;
    if (cfg->gateway.has_trusted_bots && cfg->gateway.trusted_bots.count > 0) {
        bots = json_array();
        for (size_t i = 0; i < cfg->gateway.trusted_bots.count; i++)
            json_array_append_new(bots, json_string(cfg->gateway.trusted_bots.items[i]));
    }
    json_t *out = NULL;
    if (gsv->is_wasm) {
        if (!guard_label_agent_payload(policy, bots, NULL, &out, err))
            out = NULL;
    } else {
        out = json_deep_copy(policy);
        json_t *ao = json_object_get(out, "allow-only");
        if (ao)
            json_object_del(ao, "tool-call-limits");
        if (bots)
            json_object_set(out, "trusted-bots", bots);
    }
    json_decref(bots);
    json_decref(policy);
    return out;
}

bool gw_guards_init(gw_server_t *s, err_t *err)
{
    gw_guards_t *gs = calloc(1, sizeof *gs);
    if (!gs)
        return err_set(err, "out of memory");
    pthread_mutex_init(&gs->lock, NULL);
    gs->reg = guard_registry_new();
    gs->servers = calloc(s->nbackends ? s->nbackends : 1, sizeof *gs->servers);
    if (!gs->reg || !gs->servers) {
        gw_guards_free(gs);
        return err_set(err, "out of memory");
    }
    gs->n = s->nbackends;
    gs->default_mode = DIFC_MODE_STRICT;
    err_t e = {{0}};
    if (s->guards_mode && !difc_mode_parse(s->guards_mode, &gs->default_mode, &e)) {
        gw_log(GW_LOG_WARN, "difc", "%s; using strict", e.msg);
        gs->default_mode = DIFC_MODE_STRICT;
    }
    e = (err_t){{0}};
    json_t *global = global_policy_raw(s->opt, &e);
    char *global_err = e.msg[0] ? strdup(e.msg) : NULL;
    const char *guards_dir = getenv("MCP_GATEWAY_WASM_GUARDS_DIR");

    for (size_t i = 0; i < s->nbackends; i++) {
        const gw_server_config_t *srv = s->backends[i].cfg;
        gserver_t *gsv = &gs->servers[i];
        gsv->id = srv->id;
        const gw_guard_config_t *gentry = srv->guard ? gw_config_find_guard(s->cfg, srv->guard) : NULL;

        e = (err_t){{0}};
        bool found = false;
        difc_policy_t pol = {0};
        if (!resolve_policy(global, global_err, srv, gentry, &pol, &found, &e)) {
            difc_policy_free(&pol);
            gsv->init_error = strdup(e.msg);
            gw_log(GW_LOG_ERROR, "difc", "server %s: invalid guard policy: %s", srv->id, e.msg);
        } else if (found) {
            gsv->policy = pol;
            gsv->has_policy = true;
            gs->any_policy = true;
        }

        char *discovered = NULL;
        e = (err_t){{0}};
        if (!guard_discover_wasm(srv->id, guards_dir, NULL, &discovered, &e)) {
            gw_guards_free(gs);
            json_decref(global);
            free(global_err);
            return err_set(err, "%s", e.msg);
        }
        difc_write_sink_t ws = {0};
        const difc_write_sink_t *wsp = NULL;
        if (gsv->has_policy && gsv->policy.kind == DIFC_POLICY_WRITE_SINK) {
            gsv->sink_visibility = sink_visibility(s->cfg, srv->id, &gsv->policy.write_sink);
            ws = gsv->policy.write_sink;
            ws.sink_visibility = gsv->sink_visibility;
            wsp = &ws;
        }
        guard_wasm_opts_t wopts = {0};
        wopts.log.fn = guard_log_line;
        wopts.log.ud = (void *)srv->id;
        guard_choice_t ch = {0};
        ch.server_id = srv->id;
        ch.discovered_wasm = discovered;
        ch.write_sink = wsp;
        ch.guard_name = srv->guard;
        ch.guard_entry_exists = gentry != NULL;
        ch.guard_type = gentry ? gentry->type : NULL;
        ch.guard_path = gentry ? gentry->path : NULL;
        ch.has_policy = gsv->has_policy || srv->guard_policies != NULL || gsv->init_error;
        ch.wasm_opts = &wopts;
        e = (err_t){{0}};
        guard_t *g = guard_choose(&ch, &e);
        free(discovered);
        if (!g || !guard_registry_set(gs->reg, srv->id, g, &e)) {
            gw_guards_free(gs);
            json_decref(global);
            free(global_err);
            return err_set(err, "%s", e.msg[0] ? e.msg : "out of memory");
        }
        gsv->guard = guard_registry_get(gs->reg, srv->id);
        gsv->is_wasm = !strcmp(gsv->guard->type, "wasm");
        if (gsv->has_policy) {
            e = (err_t){{0}};
            gsv->payload = build_payload(s->cfg, gsv, &e);
            if (!gsv->payload && !gsv->init_error)
                gsv->init_error = strdup(e.msg);
        }
        gw_log(GW_LOG_INFO, "difc", "server %s: guard %s (%s), %s", srv->id, guard_name(gsv->guard),
               gsv->guard->type, gsv->has_policy ? "policy set" : "no policy (label_agent skipped)");
    }
    json_decref(global);
    free(global_err);
    s->guards = gs;
    return true;
}

static void astate_free(astate_t *a)
{
    for (size_t i = 0; i < a->ncounters; i++)
        free(a->counters[i].tool);
    free(a->counters);
    free(a->agent);
    free(a);
}

void gw_guards_free(gw_guards_t *gs)
{
    if (!gs)
        return;
    for (size_t i = 0; i < gs->n; i++) {
        difc_policy_free(&gs->servers[i].policy);
        json_decref(gs->servers[i].payload);
        free(gs->servers[i].init_error);
        free(gs->servers[i].sink_visibility);
    }
    free(gs->servers);
    guard_registry_free(gs->reg);
    for (size_t b = 0; b < AGENT_BUCKETS; b++) {
        astate_t *a = gs->buckets[b];
        while (a) {
            astate_t *n = a->next;
            astate_free(a);
            a = n;
        }
    }
    pthread_mutex_destroy(&gs->lock);
    free(gs);
}

bool gw_guards_enabled(const gw_guards_t *gs)
{
    if (!gs)
        return false;
    if (gs->any_policy)
        return true;
    for (size_t i = 0; i < gs->n; i++)
        if (!guard_is_noop(gs->servers[i].guard))
            return true;
    return false;
}

void gw_guards_health(gw_server_t *s, json_t *servers, bool *unhealthy)
{
    gw_guards_t *gs = s->guards;
    if (!gs)
        return;
    for (size_t i = 0; i < gs->n && i < s->nbackends; i++) {
        json_t *entry = json_object_get(servers, s->backends[i].id);
        guard_t *g = gs->servers[i].guard;
        if (!entry || !g)
            continue;
        err_t why = {{0}};
        bool ok = guard_healthy(g, &why);
        json_t *gj = json_pack("{s:s,s:s,s:b}", "name", guard_name(g), "type", g->type, "healthy", ok);
        if (!gj)
            continue;
        if (!ok) {
            json_object_set_new(gj, "error", json_string(why.msg));
            *unhealthy = true;
        }
        guard_wasm_stats_t st;
        if (guard_wasm_stats(g, &st)) {
            json_object_set_new(gj, "instances", json_integer((json_int_t)st.live_instances));
            json_object_set_new(gj, "max_instances", json_integer((json_int_t)st.max_instances));
            json_object_set_new(gj, "instances_created", json_integer((json_int_t)st.instances_created));
            json_object_set_new(gj, "traps", json_integer((json_int_t)st.traps));
        }
        json_object_set_new(entry, "guard", gj);
    }
}

/* --------------------------------------------------------- agent table -- */

static size_t hash_key(const char *agent, int backend)
{
    size_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)agent; *p; p++)
        h = (h ^ *p) * 16777619u;
    return (h ^ (size_t)backend) % AGENT_BUCKETS;
}

/* Caller holds gs->lock. NULL on OOM. */
static astate_t *astate_get(gw_guards_t *gs, const char *agent, int backend)
{
    size_t b = hash_key(agent, backend);
    for (astate_t *a = gs->buckets[b]; a; a = a->next)
        if (a->backend == backend && !strcmp(a->agent, agent))
            return a;
    astate_t *a = calloc(1, sizeof *a);
    if (!a || !(a->agent = strdup(agent))) {
        free(a);
        return NULL;
    }
    a->backend = backend;
    a->next = gs->buckets[b];
    gs->buckets[b] = a;
    return a;
}

/* ----------------------------------------------------------- the steps -- */

static bool deny(gw_guard_call_t *g, json_t **reply, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool deny(gw_guard_call_t *g, json_t **reply, const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    *reply = mcp_jsonrpc_error(g->id, 0, msg ? msg : "out of memory", NULL);
    free(msg);
    return false;
}

/* call_backend for the guard (§2.5): tools/call on the same backend and
 * session, bypassing DIFC, limits and allowed-tools, under the request's
 * deadline and cancel flag. */
static bool guard_call_tool(void *self, guard_ctx_t *ctx, const char *tool, const json_t *args, json_t **result,
                            err_t *err)
{
    (void)ctx;
    gw_guard_call_t *g = self;
    gw_backend_t *b = &g->s->backends[g->backend];
    mcp_backend_t *conn = gw_backend_conn(g->s, g->backend, g->agent, err);
    if (!conn)
        return false;
    json_t *params = json_pack("{s:s}", "name", tool);
    if (!params)
        return err_set(err, "out of memory");
    if (args)
        json_object_set(params, "arguments", (json_t *)args);
    mcp_call_opts_t opts = {0};
    opts.deadline_ms = g->deadline_ms;
    opts.cancel = g->cancel;
    json_t *res = NULL;
    mcp_call_status_t st = mcp_backend_request_ex(conn, "tools/call", params, &opts, &res, err);
    json_decref(params);
    if (st == MCP_CALL_OK) {
        *result = res;
        return true;
    }
    if (st == MCP_CALL_RPC_ERROR) {
        const char *m = json_string_value(json_object_get(res, "message"));
        err_set(err, "backend error server=%s method=tools/call: code=%lld, message=%s", b->id,
                (long long)json_integer_value(json_object_get(res, "code")), m ? m : "");
    }
    json_decref(res);
    return false;
}

/* The request context, once per call: deadline = the tool timeout (§1.10),
 * cancel wired to notifications/cancelled through the in-flight table. */
static void start(gw_guard_call_t *g)
{
    if (g->started)
        return;
    gw_backend_t *b = &g->s->backends[g->backend];
    int timeout_s = b->cfg->tool_timeout > 0 ? b->cfg->tool_timeout : g->s->tool_timeout_s;
    g->deadline_ms = mcp_now_ms() + (int64_t)timeout_s * 1000;
    g->gb.call_tool = guard_call_tool;
    g->gb.self = g;
    guard_ctx_init(&g->ctx, (uint64_t)timeout_s * 1000, &g->gb);
    g->guard = g->s->guards->servers[g->backend].guard;
    g->slot.guard_cancel = &g->ctx.cancel;
    gw_session_track(g->s, g->sess, g->id, g->cancel, &g->slot);
    if (atomic_load(g->cancel))
        guard_ctx_cancel(&g->ctx);
    g->started = true;
}

bool gw_guard_label_agent(gw_guard_call_t *g, json_t **reply)
{
    gw_guards_t *gs = g->s->guards;
    if (!gs || g->backend < 0 || (size_t)g->backend >= gs->n)
        return deny(g, reply, "guard session initialization failed: no guard for this server");
    start(g);
    gserver_t *gsv = &gs->servers[g->backend];
    if (gsv->init_error)
        return deny(g, reply, "guard session initialization failed: %s", gsv->init_error);

    /* Guard initialization (§4 step 5). */
    g->mode = gs->default_mode;
    if (gsv->payload) {
        pthread_mutex_lock(&gs->lock);
        astate_t *a = astate_get(gs, g->agent, g->backend);
        bool cached = a && a->initialized;
        if (cached)
            g->mode = a->mode;
        pthread_mutex_unlock(&gs->lock);
        if (!a)
            return deny(g, reply, "guard session initialization failed: out of memory");
        if (!cached) {
            difc_agent_result_t res = {0};
            err_t e = {{0}};
            bool ok = guard_label_agent(g->guard, &g->ctx, gsv->payload, &res, &e) &&
                      difc_agents_add(g->s->agents, g->agent, &res.labels, &e);
            if (!ok) {
                difc_agent_result_free(&res);
                gw_log_server(gsv->id, GW_LOG_WARN, "difc", "label_agent for agent %s failed: %s", g->agent,
                              e.msg);
                /* Not cached: the next call tries again (§6.21). */
                return deny(g, reply, "guard session initialization failed: LabelAgent failed: %s", e.msg);
            }
            g->mode = res.mode;
            difc_agent_result_free(&res);
            pthread_mutex_lock(&gs->lock);
            a = astate_get(gs, g->agent, g->backend);
            if (a) {
                a->initialized = true;
                a->mode = g->mode;
            }
            pthread_mutex_unlock(&gs->lock);
            gw_log_server(gsv->id, GW_LOG_INFO, "difc", "label_agent applied for agent %s, mode %s", g->agent,
                          difc_mode_name(g->mode));
        }
    }

    /* Tool-call limit (§3.10, §4 step 6): per (agent, server, tool); an
     * attempt within budget counts even if DIFC later denies it. */
    if (gsv->has_policy && gsv->policy.kind == DIFC_POLICY_ALLOW_ONLY) {
        const difc_allow_only_t *ao = &gsv->policy.allow_only;
        long long max = 0;
        for (size_t i = 0; i < ao->n_limits; i++)
            if (!strcmp(ao->limits[i].tool, g->tool))
                max = ao->limits[i].max;
        if (max > 0) {
            bool over = false, oom = false;
            pthread_mutex_lock(&gs->lock);
            astate_t *a = astate_get(gs, g->agent, g->backend);
            counter_t *c = NULL;
            for (size_t i = 0; a && i < a->ncounters; i++)
                if (!strcmp(a->counters[i].tool, g->tool))
                    c = &a->counters[i];
            if (a && !c) {
                counter_t *nc = realloc(a->counters, (a->ncounters + 1) * sizeof *nc);
                if (nc) {
                    a->counters = nc;
                    c = &nc[a->ncounters];
                    c->n = 0;
                    if ((c->tool = strdup(g->tool)))
                        a->ncounters++;
                    else
                        c = NULL;
                }
            }
            if (!c)
                oom = true;
            else if (c->n >= max)
                over = true;
            else
                c->n++;
            pthread_mutex_unlock(&gs->lock);
            if (oom)
                return deny(g, reply, "out of memory");
            if (over)
                return deny(g, reply, "tool call limit reached for \"%s\" (max: %lld)", g->tool, max);
        }
    }

    /* Phase 0: the agent's labels. */
    err_t e = {{0}};
    if (!difc_agents_snapshot(g->s->agents, g->agent, &g->agent_labels, &e))
        return deny(g, reply, "%s", e.msg);
    return true;
}

bool gw_guard_label_resource(gw_guard_call_t *g, json_t **reply)
{
    err_t e = {{0}};
    difc_resource_init(&g->resource);
    g->have_resource = true;
    if (!guard_label_resource(g->guard, &g->ctx, g->tool, g->args, &g->resource, &g->op, &e))
        return deny(g, reply, "guard labeling failed: resource labeling failed: %s", e.msg);

    /* Phase 2: the coarse check. A deny on a write or read-write is final
     * and the backend is never called; a denied read goes on and is judged
     * item by item (or as a whole, fail closed) after the call. */
    difc_eval_t ev = {0};
    difc_evaluate(&g->agent_labels, &g->resource, g->op, g->mode, &ev, NULL);
    bool allowed = difc_eval_allowed(&ev);
    if (!allowed) {
        gw_log_server(g->s->backends[g->backend].id, GW_LOG_WARN, "difc", "Access DENIED for agent %s to %s: %s",
                      g->agent, difc_resource_description(&g->resource), ev.reason ? ev.reason : "");
    }
    if (!allowed && difc_coarse_deny_is_final(g->op)) {
        char *text = difc_format_violation(&ev, &g->agent_labels, &g->resource);
        difc_eval_free(&ev);
        bool r = deny(g, reply, "%s", text ? text : "DIFC Violation");
        free(text);
        return r;
    }
    difc_eval_free(&ev);
    return true;
}

bool gw_guard_label_response(gw_guard_call_t *g, const json_t *result, json_t **reply)
{
    if (!result || !difc_should_label_response(g->op, g->mode))
        return true;
    err_t e = {{0}};
    g->labelled = true;
    if (!guard_label_response(g->guard, &g->ctx, g->tool, g->args, result, &g->rl, &e))
        return deny(g, reply, "response labeling failed: response labeling failed: %s", e.msg);
    return true;
}

static void append_text(json_t *result, const char *text)
{
    json_t *content = json_object_get(result, "content");
    if (!json_is_array(content)) {
        content = json_array();
        json_object_set_new(result, "content", content);
    }
    json_array_append_new(content, json_pack("{s:s,s:s}", "type", "text", "text", text));
}

bool gw_guard_filter(gw_guard_call_t *g, json_t **result, json_t **reply)
{
    if (!*result)
        return true;
    err_t e = {{0}};
    const char *server = g->s->backends[g->backend].id;
    bool accumulate = difc_should_accumulate(g->op, g->mode);
    /* Judged only when labels exist or the coarse read check failed: with
     * no labels and an allowed resource the result is what the agent may
     * see, unchanged (and Phase 6 uses the Phase 1 resource). */
    bool need_judge = g->labelled && g->rl.kind != DIFC_RESPONSE_NONE;
    if (g->labelled && !need_judge) {
        difc_eval_t ev = {0};
        difc_evaluate(&g->agent_labels, &g->resource, g->op, g->mode, &ev, NULL);
        need_judge = !difc_eval_allowed(&ev);
        difc_eval_free(&ev);
    }
    if (!need_judge) {
        if (accumulate && !difc_agents_accumulate_read(g->s->agents, g->agent, &g->resource.labels, &e))
            return deny(g, reply, "%s", e.msg);
        return true;
    }

    difc_filter_outcome_t o = {0};
    if (!difc_filter_response(&g->agent_labels, g->op, g->mode, &g->resource, &g->rl, *result, &o, &e)) {
        difc_filter_outcome_free(&o);
        return deny(g, reply, "response labeling failed: response labeling failed: %s", e.msg);
    }
    bool ok = true;
    if (o.blocked) {
        char *t = difc_format_strict_block(&o, g->agent);
        ok = deny(g, reply, "%s", t ? t : "DIFC policy violation");
        free(t);
    } else if (o.n_filtered > 0) {
        char ts[40];
        gw_log_timestamp(ts, sizeof ts);
        for (size_t i = 0; i < o.n_filtered; i++) {
            json_t *rec = difc_filtered_record(&o.filtered[i], server, g->tool, ts);
            if (rec)
                gw_log_difc_filtered(server, rec);
            json_decref(rec);
        }
        if (difc_is_singular_read_tool(g->tool) && o.accessible == 0 && o.n_filtered == 1) {
            char *t = difc_format_filtered_single(&o);
            ok = deny(g, reply, "%s", t ? t : "[Filtered]");
            free(t);
        }
    }
    if (ok) {
        /* Phase 6 from the unfiltered labelled data (§4 step 15). */
        if (accumulate && !difc_agents_accumulate_read(g->s->agents, g->agent, &o.read_labels, &e)) {
            ok = deny(g, reply, "%s", e.msg);
        } else {
            /* o.result is the outcome's own copy of the result: taken and
             * edited in place. */
            json_t *r = o.result;
            o.result = NULL;
            char *notice = difc_format_filter_notice(&o);
            if (notice && r)
                append_text(r, notice);
            free(notice);
            if (!r) {
                ok = deny(g, reply, "out of memory");
            } else {
                json_decref(*result);
                *result = r;
            }
        }
    }
    difc_filter_outcome_free(&o);
    return ok;
}

void gw_guard_call_done(gw_guard_call_t *g)
{
    if (g->started)
        gw_session_untrack(g->s, g->sess, &g->slot);
    difc_labels_free(&g->agent_labels);
    if (g->have_resource)
        difc_resource_free(&g->resource);
    difc_response_labels_free(&g->rl);
    g->started = false;
}
