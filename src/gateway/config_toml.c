/*
 * config_toml.c — TOML configuration (`--config FILE.toml`, gateway.md §2.5).
 *
 * The document is parsed by util/toml.h, then walked once: each known key
 * is type-checked and converted, unknown keys are collected and rejected
 * together ("configuration contains unrecognized field(s): ..."), except in
 * the free-form subtrees servers.<n>.guard_policies and guards.<n>.config /
 * .policy, which become jansson values. Then the rules: at least one
 * server, per-server requirements and, with containerized_only, upstream's
 * "command must be docker". `${VAR}` is expanded only in
 * [gateway.opentelemetry], as upstream does.
 */
#include "gateway/config_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/toml.h"

typedef struct tctx {
    cfg_ctx_t c;
    err_t *err;
    char unknown[400];   /* "gateway.prot, servers.x.foo" */
    size_t n_unknown;
} tctx_t;

static bool nomem(tctx_t *t) { return err_set(t->err, "out of memory"); }

static bool type_error(tctx_t *t, const toml_value_t *v, const char *path, const char *want)
{
    return err_set(t->err,
                   "failed to parse TOML: line %d, column %d (key %s): incompatible types: TOML "
                   "value has type %s; destination has type %s",
                   v->line, v->column, path, toml_type_name(v->type), want);
}

static void note_unknown(tctx_t *t, const char *path)
{
    size_t n = strlen(t->unknown);
    if (n + strlen(path) + 8 < sizeof t->unknown)
        snprintf(t->unknown + n, sizeof t->unknown - n, "%s%s", t->n_unknown ? ", " : "", path);
    else if (n + 5 < sizeof t->unknown && !strstr(t->unknown, "..."))
        strcat(t->unknown, ", ...");
    t->n_unknown++;
}

/* Checks every key of table v is in allowed; notes the others. */
static void check_keys(tctx_t *t, const toml_value_t *v, const char *const *allowed, const char *path)
{
    for (size_t i = 0; i < v->u.table.count; i++) {
        const char *k = v->u.table.items[i].key;
        const char *const *a = allowed;
        while (*a && strcmp(*a, k) != 0)
            a++;
        if (!*a) {
            char full[300];
            CFG_FMT(full, "%s%s%s", path, *path ? "." : "", k);
            note_unknown(t, full);
        }
    }
}

static bool get_table(tctx_t *t, const toml_value_t *v, const char *path)
{
    return v->type == TOML_TABLE || type_error(t, v, path, "table");
}

static bool get_string(tctx_t *t, const toml_value_t *v, const char *path, char **dst)
{
    if (!v)
        return true;
    if (v->type != TOML_STRING)
        return type_error(t, v, path, "string");
    if (memchr(v->u.str.ptr, '\0', v->u.str.len))
        return err_set(t->err, "failed to parse TOML: line %d, column %d (key %s): NUL characters are not allowed",
                       v->line, v->column, path);
    free(*dst);
    *dst = strdup(v->u.str.ptr);
    return *dst ? true : nomem(t);
}

static bool get_int(tctx_t *t, const toml_value_t *v, const char *path, int64_t lo, int64_t hi, int64_t *dst)
{
    if (!v)
        return true;
    if (v->type != TOML_INTEGER)
        return type_error(t, v, path, "integer");
    if (v->u.integer < lo || v->u.integer > hi)
        return err_set(t->err, "Configuration error at %s: value %lld is out of range [%lld, %lld]", path,
                       (long long)v->u.integer, (long long)lo, (long long)hi);
    *dst = v->u.integer;
    return true;
}

static bool get_int32(tctx_t *t, const toml_value_t *v, const char *path, int lo, int *dst)
{
    int64_t n = *dst;
    if (!get_int(t, v, path, lo, INT_MAX, &n))
        return false;
    *dst = (int)n;
    return true;
}

static bool get_bool(tctx_t *t, const toml_value_t *v, const char *path, bool *dst)
{
    if (!v)
        return true;
    if (v->type != TOML_BOOL)
        return type_error(t, v, path, "bool");
    *dst = v->u.boolean;
    return true;
}

static bool get_strlist(tctx_t *t, const toml_value_t *v, const char *path, gw_strlist_t *dst)
{
    if (!v)
        return true;
    if (v->type != TOML_ARRAY)
        return type_error(t, v, path, "array of strings");
    for (size_t i = 0; i < v->u.array.count; i++) {
        const toml_value_t *e = v->u.array.items[i];
        char *s = NULL;
        char sub[300];
        CFG_FMT(sub, "%s[%zu]", path, i);
        if (!get_string(t, e, sub, &s))
            return false;
        bool ok = cfg_strlist_push(dst, s);
        free(s);
        if (!ok)
            return nomem(t);
    }
    return true;
}

/* A table of strings; with expand, values get ${VAR} expansion. */
static bool get_strmap(tctx_t *t, const toml_value_t *v, const char *path, gw_strmap_t *dst, bool expand)
{
    if (!v)
        return true;
    if (!get_table(t, v, path))
        return false;
    for (size_t i = 0; i < v->u.table.count; i++) {
        const toml_entry_t *e = &v->u.table.items[i];
        char sub[300], *s = NULL;
        CFG_FMT(sub, "%s.%s", path, e->key);
        if (!get_string(t, e->value, sub, &s))
            return false;
        if (expand) {
            char *x = NULL, undefined[256];
            cfg_expand_result_t r = cfg_expand(&t->c, s, &x, undefined, sizeof undefined);
            free(s);
            if (r == CFG_EXPAND_UNDEFINED)
                return cfg_undefined_var_error(t->err, undefined);
            if (r == CFG_EXPAND_NOMEM)
                return nomem(t);
            s = x;
        }
        bool ok = cfg_strmap_set(dst, e->key, s);
        free(s);
        if (!ok)
            return nomem(t);
    }
    return true;
}

static bool get_json(tctx_t *t, const toml_value_t *v, const char *path, json_t **dst)
{
    if (!v)
        return true;
    err_t e;
    json_t *j = toml_to_json(v, &e);
    if (!j)
        return err_set(t->err, "Configuration error at %s: %s", path, e.msg);
    json_decref(*dst);
    *dst = j;
    return true;
}

static bool expand_in_place(tctx_t *t, char **s)
{
    if (!*s)
        return true;
    char *x = NULL, undefined[256];
    switch (cfg_expand(&t->c, *s, &x, undefined, sizeof undefined)) {
    case CFG_EXPAND_UNDEFINED: return cfg_undefined_var_error(t->err, undefined);
    case CFG_EXPAND_NOMEM: return nomem(t);
    case CFG_EXPAND_OK: break;
    }
    free(*s);
    *s = x;
    return true;
}

/* ------------------------------------------------------------ [gateway] */

static bool convert_otel(tctx_t *t, const toml_value_t *v, const char *path, gw_otel_config_t *o, bool expand)
{
    static const char *const keys[] = {"endpoint", "headers", "trace_id", "span_id", "service_name",
                                       "sample_rate", "signal_path", NULL};
    if (!get_table(t, v, path))
        return false;
    check_keys(t, v, keys, path);
    /* opentelemetry replaces a legacy tracing table given before it. */
    free(o->endpoint);
    free(o->trace_id);
    free(o->span_id);
    free(o->service_name);
    free(o->signal_path);
    cfg_strmap_free(&o->headers);
    memset(o, 0, sizeof *o);
    o->present = true;
    char sub[300];
#define SUB(k) (CFG_FMT(sub, "%s.%s", path, k), sub)
    if (!get_string(t, toml_get(v, "endpoint"), SUB("endpoint"), &o->endpoint) ||
        !get_string(t, toml_get(v, "trace_id"), SUB("trace_id"), &o->trace_id) ||
        !get_string(t, toml_get(v, "span_id"), SUB("span_id"), &o->span_id) ||
        !get_string(t, toml_get(v, "service_name"), SUB("service_name"), &o->service_name) ||
        !get_string(t, toml_get(v, "signal_path"), SUB("signal_path"), &o->signal_path))
        return false;
    const toml_value_t *h = toml_get(v, "headers");
    if (h && h->type == TOML_STRING) {
        /* "k=v,k2=v2", as OTEL_EXPORTER_OTLP_HEADERS is written. */
        char *copy = NULL;
        if (!get_string(t, h, SUB("headers"), &copy) || (expand && !expand_in_place(t, &copy))) {
            free(copy);
            return false;
        }
        char *save = NULL;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(tok, '=');
            if (!eq || eq == tok) {
                free(copy);
                return err_set(t->err, "Configuration error at %s: headers must be 'key=value' pairs separated by commas", sub);
            }
            *eq = '\0';
            if (!cfg_strmap_set(&o->headers, tok, eq + 1)) {
                free(copy);
                return nomem(t);
            }
        }
        free(copy);
    } else if (!get_strmap(t, h, SUB("headers"), &o->headers, expand)) {
        return false;
    }
    const toml_value_t *sr = toml_get(v, "sample_rate");
    if (sr) {
        if (sr->type == TOML_FLOAT)
            o->sample_rate = sr->u.fp;
        else if (sr->type == TOML_INTEGER)
            o->sample_rate = (double)sr->u.integer;
        else
            return type_error(t, sr, SUB("sample_rate"), "float");
        if (!(o->sample_rate >= 0.0 && o->sample_rate <= 1.0))
            return err_set(t->err, "Configuration error at %s: sample_rate must be between 0 and 1", sub);
        o->has_sample_rate = true;
    }
#undef SUB
    if (!expand)
        return true;
    /* spec: §2.5 — opentelemetry fields are expanded, then checked. */
    if (!expand_in_place(t, &o->endpoint) || !expand_in_place(t, &o->trace_id) ||
        !expand_in_place(t, &o->span_id) || !expand_in_place(t, &o->service_name) ||
        !expand_in_place(t, &o->signal_path))
        return false;
    return cfg_check_otel(o, path, "trace_id", "span_id", t->err);
}

static bool convert_gateway(tctx_t *t, gw_config_t *cfg, const toml_value_t *v)
{
    static const char *const keys[] = {
        "port", "agent_id", "api_key", "domain", "startup_timeout", "tool_timeout",
        "keepalive_interval", "payload_dir", "payload_path_prefix", "payload_size_threshold",
        "trusted_bots", "force_public_repos", "sink_visibility_exempt_servers", "tracing",
        "opentelemetry", NULL};
    if (!get_table(t, v, "gateway"))
        return false;
    check_keys(t, v, keys, "gateway");
    gw_gateway_config_t *g = &cfg->gateway;
    int64_t n;
    const toml_value_t *e;
    if ((e = toml_get(v, "port"))) {
        n = 0;
        if (!get_int(t, e, "gateway.port", INT64_MIN, INT64_MAX, &n))
            return false;
        if (n != 0 && (n < 1 || n > 65535))
            return cfg_field_error(t->err, "gateway.port", NULL, "port must be between 1 and 65535, got %lld", (long long)n);
        if (n)
            g->port = (int)n;
    }
    char *agent = NULL, *api_key = NULL;
    if (!get_string(t, toml_get(v, "agent_id"), "gateway.agent_id", &agent) ||
        !get_string(t, toml_get(v, "api_key"), "gateway.api_key", &api_key)) {
        free(agent);
        free(api_key);
        return false;
    }
    /* spec: §1.3 — agent_id wins over the deprecated api_key. */
    if (agent && *agent) {
        g->agent_id = agent;
        free(api_key);
    } else {
        free(agent);
        if (api_key && *api_key) {
            g->agent_id = api_key;
            g->agent_id_from_api_key = true;
        } else {
            free(api_key);
        }
    }
    if (!get_string(t, toml_get(v, "domain"), "gateway.domain", &g->domain))
        return false;
    /* Zero values mean "use the default" in TOML. */
    int st = 0, tt = 0, ka = 0;
    if (!get_int32(t, toml_get(v, "startup_timeout"), "gateway.startup_timeout", 0, &st) ||
        !get_int32(t, toml_get(v, "tool_timeout"), "gateway.tool_timeout", 0, &tt) ||
        !get_int32(t, toml_get(v, "keepalive_interval"), "gateway.keepalive_interval", -1, &ka))
        return false;
    if (st)
        g->startup_timeout = st;
    if (tt)
        g->tool_timeout = tt;
    if (ka)
        g->keepalive_interval = ka;
    if (!get_string(t, toml_get(v, "payload_dir"), "gateway.payload_dir", &g->payload_dir) ||
        !get_string(t, toml_get(v, "payload_path_prefix"), "gateway.payload_path_prefix", &g->payload_path_prefix))
        return false;
    if ((e = toml_get(v, "payload_size_threshold"))) {
        if (!get_int(t, e, "gateway.payload_size_threshold", INT64_MIN, INT64_MAX, &n))
            return false;
        if (n < 1)
            return cfg_field_error(t->err, "gateway.payload_size_threshold", NULL,
                                   "payload_size_threshold must be a positive integer (>= 1), got %lld", (long long)n);
        g->payload_size_threshold = n;
    }
    if ((e = toml_get(v, "trusted_bots"))) {
        if (!get_strlist(t, e, "gateway.trusted_bots", &g->trusted_bots))
            return false;
        bool ok = g->trusted_bots.count > 0;
        for (size_t i = 0; ok && i < g->trusted_bots.count; i++)
            ok = g->trusted_bots.items[i][0] != '\0';
        if (!ok)
            return cfg_field_error(t->err, "gateway.trusted_bots", NULL,
                                   "trusted_bots must be a non-empty array when present (spec §4.1.3.4)");
        g->has_trusted_bots = true;
    }
    if (!get_bool(t, toml_get(v, "force_public_repos"), "gateway.force_public_repos", &g->force_public_repos) ||
        !get_strlist(t, toml_get(v, "sink_visibility_exempt_servers"), "gateway.sink_visibility_exempt_servers",
                     &g->sink_visibility_exempt_servers))
        return false;
    const toml_value_t *otel = toml_get(v, "opentelemetry"), *tracing = toml_get(v, "tracing");
    if (otel)
        return convert_otel(t, otel, "gateway.opentelemetry", &g->otel, true);
    if (tracing)
        return convert_otel(t, tracing, "gateway.tracing", &g->otel, false);
    return true;
}

/* ------------------------------------------------------------ [servers.<id>] */

static bool convert_server(tctx_t *t, gw_config_t *cfg, const char *id, const toml_value_t *v)
{
    static const char *const keys[] = {
        "type", "command", "args", "env", "working_directory", "url", "headers", "auth", "tools",
        "tool_response_filters", "registry", "guard_policies", "guard", "connect_timeout",
        "tool_timeout", "rate_limit_threshold", "rate_limit_cooldown", NULL};
    char path[300], sub[400];
    CFG_FMT(path, "servers.%s", id);
    if (!get_table(t, v, path))
        return false;
    check_keys(t, v, keys, path);
    gw_server_config_t *s = cfg_add_server(cfg, id);
    if (!s)
        return nomem(t);
#define SUB(k) (CFG_FMT(sub, "%s.%s", path, k), sub)
    char *type = NULL;
    if (!get_string(t, toml_get(v, "type"), SUB("type"), &type))
        return false;
    if (!type || !*type || !strcmp(type, "local") || !strcmp(type, "stdio")) {
        free(type);
        s->type = strdup("stdio");
        s->kind = GW_SERVER_STDIO;
    } else if (!strcmp(type, "http")) {
        s->type = type;
        s->kind = GW_SERVER_HTTP;
    } else {
        free(type);
        return err_set(t->err, "server '%s': unsupported server type '%s' (use 'stdio' or 'http')", id,
                       toml_get(v, "type")->u.str.ptr);
    }
    if (!s->type)
        return nomem(t);
    if (!get_string(t, toml_get(v, "command"), SUB("command"), &s->command) ||
        !get_strlist(t, toml_get(v, "args"), SUB("args"), &s->args) ||
        !get_strmap(t, toml_get(v, "env"), SUB("env"), &s->env, false) ||
        !get_string(t, toml_get(v, "working_directory"), SUB("working_directory"), &s->working_directory) ||
        !get_string(t, toml_get(v, "url"), SUB("url"), &s->url) ||
        !get_strmap(t, toml_get(v, "headers"), SUB("headers"), &s->headers, false) ||
        !get_string(t, toml_get(v, "registry"), SUB("registry"), &s->registry) ||
        !get_string(t, toml_get(v, "guard"), SUB("guard"), &s->guard) ||
        !get_json(t, toml_get(v, "guard_policies"), SUB("guard_policies"), &s->guard_policies))
        return false;
    const toml_value_t *tools = toml_get(v, "tools");
    if (tools) {
        s->has_tools = true;
        if (!get_strlist(t, tools, SUB("tools"), &s->tools))
            return false;
    }
    int ct = 0, tt = 0, rlt = 0, rlc = 0;
    if (!get_int32(t, toml_get(v, "connect_timeout"), SUB("connect_timeout"), 0, &ct) ||
        !get_int32(t, toml_get(v, "tool_timeout"), SUB("tool_timeout"), 0, &tt) ||
        !get_int32(t, toml_get(v, "rate_limit_threshold"), SUB("rate_limit_threshold"), 0, &rlt) ||
        !get_int32(t, toml_get(v, "rate_limit_cooldown"), SUB("rate_limit_cooldown"), 0, &rlc))
        return false;
    if (ct)
        s->connect_timeout = ct;
    s->tool_timeout = tt;
    if (rlt)
        s->rate_limit_threshold = rlt;
    if (rlc)
        s->rate_limit_cooldown = rlc;
    const toml_value_t *trf = toml_get(v, "tool_response_filters");
    if (trf) {
        gw_strmap_t m = {0};
        bool ok = get_strmap(t, trf, SUB("tool_response_filters"), &m, false);
        for (size_t i = 0; ok && i < m.count; i++)
            if (!m.items[i].value[0])
                ok = err_set(t->err, "Configuration error at %s.%s contains an invalid jq expression: it must be a non-empty string",
                             sub, m.items[i].key);
        cfg_strmap_free(&m);
        if (!ok || !get_json(t, trf, sub, &s->tool_response_filters))
            return false;
        err_t jerr = {{0}};
        if (!gw_jq_set_compile(s->tool_response_filters, sub, &s->jq_filters, &jerr))
            return err_set(t->err, "Configuration error at %s", jerr.msg);
    }
    const toml_value_t *auth = toml_get(v, "auth");
    if (auth) {
        static const char *const akeys[] = {"type", "audience", NULL};
        if (!get_table(t, auth, SUB("auth")))
            return false;
        check_keys(t, auth, akeys, sub);
        char apath[420];
        CFG_FMT(apath, "%s", sub);
        if (!get_string(t, toml_get(auth, "type"), "auth.type", &s->auth_type) ||
            !get_string(t, toml_get(auth, "audience"), "auth.audience", &s->auth_audience))
            return false;
    }
#undef SUB
    return true;
}

/* Rules applied after decoding and the unknown-key check. */
static bool check_server(tctx_t *t, gw_server_config_t *s)
{
    char path[300];
    CFG_FMT(path, "servers.%s", s->id);
    if (s->kind == GW_SERVER_STDIO) {
        if (!s->command || !*s->command)
            return cfg_field_error(t->err, path, "Set command (and args) for the server process",
                                   "'command' is required for stdio servers");
        /* spec: §2.5 containerisation rule (upstream always applies it;
         * Flowgate only with containerized_only). */
        if (t->c.containerized_only && strcmp(s->command, "docker") != 0)
            return err_set(t->err,
                           "server '%s': stdio servers must use containerized execution (command must "
                           "be 'docker', got '%s'). This is required by MCP Gateway Specification "
                           "Section 3.2.1. See: https://github.com/github/gh-aw/blob/main/docs/src/"
                           "content/docs/reference/mcp-gateway.md#321-containerization-requirement",
                           s->id, s->command);
    } else {
        if (!s->url || !*s->url)
            return cfg_field_error(t->err, path, NULL, "'url' is required for HTTP servers");
        bool ok = (!strncmp(s->url, "http://", 7) && s->url[7]) || (!strncmp(s->url, "https://", 8) && s->url[8]);
        if (!ok)
            return cfg_field_error(t->err, path, NULL, "url must start with http:// or https://, got '%s'", s->url);
    }
    if (s->auth_type || s->auth_audience) {
        CFG_FMT(path, "servers.%s.auth", s->id);
        if (s->kind != GW_SERVER_HTTP)
            return cfg_field_error(t->err, path, NULL, "auth is only supported for HTTP servers, got server type \"%s\"", s->type);
        if (!s->auth_type || strcmp(s->auth_type, "github-oidc") != 0)
            return cfg_field_error(t->err, path, "Set auth.type to 'github-oidc'",
                                   "unsupported auth type '%s' (only 'github-oidc' is supported)",
                                   s->auth_type ? s->auth_type : "");
        if (!cfg_getenv(&t->c, "ACTIONS_ID_TOKEN_REQUEST_URL"))
            return err_set(t->err,
                           "server \"%s\" requires OIDC authentication but ACTIONS_ID_TOKEN_REQUEST_URL "
                           "is not set; run inside GitHub Actions with 'permissions: id-token: write'",
                           s->id);
        if (!s->auth_audience || !*s->auth_audience) {
            free(s->auth_audience);
            s->auth_audience = strdup(s->url);
            if (!s->auth_audience)
                return nomem(t);
        }
    }
    if (s->guard_policies) {
        CFG_FMT(path, "servers.%s.guard_policies", s->id);
        if (!json_is_object(s->guard_policies))
            return cfg_field_error(t->err, path, NULL, "guard_policies must be a table");
        if (!cfg_check_server_policy(s, path, t->err))
            return false;
    }
    return true;
}

static bool convert_guards(tctx_t *t, gw_config_t *cfg, const toml_value_t *v)
{
    static const char *const keys[] = {"type", "path", "config", "policy", NULL};
    if (!get_table(t, v, "guards"))
        return false;
    for (size_t i = 0; i < v->u.table.count; i++) {
        const toml_entry_t *e = &v->u.table.items[i];
        char path[300], sub[400];
        CFG_FMT(path, "guards.%s", e->key);
        if (!get_table(t, e->value, path))
            return false;
        check_keys(t, e->value, keys, path);
        gw_guard_config_t *g = cfg_add_guard(cfg, e->key);
        if (!g)
            return nomem(t);
#define SUB(k) (CFG_FMT(sub, "%s.%s", path, k), sub)
        if (!get_string(t, toml_get(e->value, "type"), SUB("type"), &g->type) ||
            !get_string(t, toml_get(e->value, "path"), SUB("path"), &g->path) ||
            !get_json(t, toml_get(e->value, "config"), SUB("config"), &g->config) ||
            !get_json(t, toml_get(e->value, "policy"), SUB("policy"), &g->policy))
            return false;
        if (g->policy && !json_is_object(g->policy))
            return cfg_field_error(t->err, sub, NULL, "policy must be a table");
        if (g->policy && !cfg_check_guard_policy(g->policy, sub, t->err))
            return false;
#undef SUB
    }
    return true;
}

static bool convert(tctx_t *t, gw_config_t *cfg, const toml_value_t *root)
{
    static const char *const keys[] = {"servers", "gateway", "guards", "guards_mode",
                                       "sequential_launch", NULL};
    check_keys(t, root, keys, "");
    const toml_value_t *v;
    if ((v = toml_get(root, "gateway")) && !convert_gateway(t, cfg, v))
        return false;
    if ((v = toml_get(root, "guards")) && !convert_guards(t, cfg, v))
        return false;
    if (!get_string(t, toml_get(root, "guards_mode"), "guards_mode", &cfg->guards_mode) ||
        !get_bool(t, toml_get(root, "sequential_launch"), "sequential_launch", &cfg->sequential_launch))
        return false;
    const toml_value_t *servers = toml_get(root, "servers");
    if (servers) {
        if (!get_table(t, servers, "servers"))
            return false;
        for (size_t i = 0; i < servers->u.table.count; i++)
            if (!convert_server(t, cfg, servers->u.table.items[i].key, servers->u.table.items[i].value))
                return false;
    }
    if (t->n_unknown)
        return err_set(t->err,
                       "configuration contains unrecognized field(s): %s — check the MCP Gateway "
                       "Specification for supported fields",
                       t->unknown);
    if (cfg->guards_mode && strcmp(cfg->guards_mode, "strict") && strcmp(cfg->guards_mode, "filter") &&
        strcmp(cfg->guards_mode, "propagate"))
        return cfg_field_error(t->err, "guards_mode", NULL,
                               "guards_mode must be 'strict', 'filter' or 'propagate', got '%s'", cfg->guards_mode);
    if (cfg->server_count == 0)
        return err_set(t->err, "no servers defined in configuration");
    for (size_t i = 0; i < cfg->server_count; i++)
        if (!check_server(t, &cfg->servers[i]))
            return false;
    return true;
}

bool gw_config_load_toml(const char *text, size_t len, const gw_config_options_t *opts,
                         gw_config_t **out, err_t *err)
{
    tctx_t t = {.err = err};
    cfg_ctx_init(&t.c, opts);
    toml_value_t *root = NULL;
    if (!toml_parse(text, len, &root, err))
        return err_prefix(err, "failed to parse TOML");
    gw_config_t *cfg = cfg_new(GW_CONFIG_SOURCE_TOML);
    bool ok = cfg ? convert(&t, cfg, root) : nomem(&t);
    toml_free(root);
    if (!ok) {
        gw_config_free(cfg);
        return false;
    }
    *out = cfg;
    return true;
}

bool gw_config_load_toml_file(const char *path, const gw_config_options_t *opts,
                              gw_config_t **out, err_t *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return err_set(err, "failed to open config file %s: %s", path, strerror(errno));
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    bool ok = buf != NULL;
    while (ok) {
        if (len == cap) {
            char *nb = cap < (64u << 20) ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                ok = false;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ok && ferror(f))
        ok = false;
    fclose(f);
    if (!ok) {
        free(buf);
        return err_set(err, "failed to read config file %s", path);
    }
    ok = gw_config_load_toml(buf, len, opts, out, err);
    free(buf);
    return ok;
}
