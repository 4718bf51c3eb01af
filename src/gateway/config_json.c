/*
 * config_json.c — JSON configuration from stdin (gateway.md §2.1-§2.4, §2.7).
 *
 * The pipeline, in upstream's order:
 *   1. parse; mcpServers.*.type "local" becomes "stdio";
 *   2. ${VAR} expansion (an undefined variable is fatal). Upstream expands
 *      the raw text before re-parsing and so splices values in unescaped;
 *      we expand every string (keys too) of the parsed tree instead, which
 *      rejects the same undefined names without letting a value containing
 *      '"' corrupt the document (§2.6 allows this);
 *   3. the checks of upstream's embedded JSON Schema (schema_*), reported as
 *      "Configuration validation error ..." (§2.8);
 *   4. conversion into gw_config_t with the rule checks of §2.7, reported as
 *      "Configuration error at <path>: ...".
 * Extension fields (top-level guards; per-server guard, auth,
 * tool_response_filters) are outside the schema, as upstream strips them.
 *
 * Flowgate extension: unless containerized_only is set, a stdio server may
 * use "command" (+ "args", "env") instead of "container".
 */
#include "gateway/config_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct jctx {
    cfg_ctx_t c;
    err_t *err;
} jctx_t;

static bool nomem(jctx_t *j) { return err_set(j->err, "out of memory"); }

static const char *jtype(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    default: return "null";
    }
}

/* ------------------------------------------------------------ 1. normalise */

static bool normalize_local(json_t *root)
{
    json_t *servers = json_object_get(root, "mcpServers");
    const char *id;
    json_t *srv;
    json_object_foreach(servers, id, srv) {
        json_t *t = json_object_get(srv, "type");
        if (json_is_string(t) && strcmp(json_string_value(t), "local") == 0)
            if (json_object_set_new(srv, "type", json_string("stdio")) != 0)
                return false;
    }
    return true;
}

/* ------------------------------------------------------------ 2. expand */

/* Expands every string below v in document order; may replace *slot. */
static bool expand_tree(jctx_t *j, json_t **slot)
{
    json_t *v = *slot;
    char undefined[256];
    char *out = NULL;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (!strstr(s, "${"))
            return true;
        switch (cfg_expand(&j->c, s, &out, undefined, sizeof undefined)) {
        case CFG_EXPAND_UNDEFINED: return cfg_undefined_var_error(j->err, undefined);
        case CFG_EXPAND_NOMEM: return nomem(j);
        case CFG_EXPAND_OK: break;
        }
        json_t *nv = json_string(out);
        free(out);
        if (!nv)
            return err_set(j->err, "configuration: expanded value is not valid UTF-8");
        json_decref(*slot);
        *slot = nv;
        return true;
    }
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *e = json_incref(json_array_get(v, i));
            bool ok = expand_tree(j, &e);
            if (ok && json_array_set(v, i, e) != 0)
                ok = nomem(j);
            json_decref(e);
            if (!ok)
                return false;
        }
        return true;
    }
    if (!json_is_object(v))
        return true;
    /* Rebuild the object so that expanded keys keep their position. */
    json_t *nobj = json_object();
    if (!nobj)
        return nomem(j);
    const char *k;
    json_t *e;
    json_object_foreach(v, k, e) {
        char *key = NULL;
        if (strstr(k, "${")) {
            switch (cfg_expand(&j->c, k, &key, undefined, sizeof undefined)) {
            case CFG_EXPAND_UNDEFINED:
                json_decref(nobj);
                return cfg_undefined_var_error(j->err, undefined);
            case CFG_EXPAND_NOMEM:
                json_decref(nobj);
                return nomem(j);
            case CFG_EXPAND_OK:
                break;
            }
        }
        json_t *ce = json_incref(e);
        bool ok = expand_tree(j, &ce);
        if (ok && json_object_set_new(nobj, key ? key : k, ce) != 0) {
            ok = nomem(j);
        } else if (!ok) {
            json_decref(ce);
        }
        free(key);
        if (!ok) {
            json_decref(nobj);
            return false;
        }
    }
    json_decref(*slot);
    *slot = nobj;
    return true;
}

/* ------------------------------------------------------------ 3. schema */

static bool sch_fail(jctx_t *j, const char *loc, const char *details, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool sch_fail(jctx_t *j, const char *loc, const char *details, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cfg_schema_error(j->err, &j->c, loc, msg, details);
}

static bool sch_type(jctx_t *j, const json_t *v, const char *want, const char *loc)
{
    const char *got = jtype(v);
    if (!strcmp(got, want))
        return true;
    char details[128];
    CFG_FMT(details, "Type mismatch - expected %s, got %s", want, got);
    return sch_fail(j, loc, details, "got %s, want %s", got, want);
}

static bool in_list(const char *k, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(k, *list))
            return true;
    return false;
}

static bool sch_keys(jctx_t *j, const json_t *obj, const char *const *allowed, const char *loc)
{
    char names[256] = "", quoted[256] = "";
    size_t bad = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        if (in_list(k, allowed))
            continue;
        size_t n = strlen(names), q = strlen(quoted);
        snprintf(names + n, sizeof names - n, "%s'%s'", bad ? ", " : "", k);
        snprintf(quoted + q, sizeof quoted - q, "%s\"%s\"", bad ? ", " : "", k);
        bad++;
    }
    if (!bad)
        return true;
    char details[300];
    CFG_FMT(details, "Unexpected field(s): %s", quoted);
    return sch_fail(j, loc, details, "additional properties %s not allowed", names);
}

static bool sch_required(jctx_t *j, const json_t *obj, const char *key, const char *loc,
                         const char *hint)
{
    if (json_object_get(obj, key))
        return true;
    char details[200];
    CFG_FMT(details, "Missing required field(s): %s%s", key, hint ? hint : "");
    return sch_fail(j, loc, details, "missing properties: '%s'", key);
}

static bool sch_string_array(jctx_t *j, const json_t *v, const char *loc)
{
    if (!sch_type(j, v, "array", loc))
        return false;
    for (size_t i = 0; i < json_array_size(v); i++) {
        char sub[300];
        CFG_FMT(sub, "%s/%zu", loc, i);
        if (!sch_type(j, json_array_get(v, i), "string", sub))
            return false;
    }
    return true;
}

static bool sch_string_map(jctx_t *j, const json_t *v, const char *loc)
{
    if (!sch_type(j, v, "object", loc))
        return false;
    const char *k;
    json_t *e;
    json_object_foreach((json_t *)v, k, e) {
        char sub[300];
        CFG_FMT(sub, "%s/%s", loc, k);
        if (!sch_type(j, e, "string", sub))
            return false;
    }
    return true;
}

static bool sch_min_string(jctx_t *j, const json_t *v, const char *loc)
{
    if (!sch_type(j, v, "string", loc))
        return false;
    if (json_string_length(v) == 0)
        return sch_fail(j, loc, "Invalid value - must not be empty", "length must be >= 1, but got 0");
    return true;
}

/* The optional members that share a shape between server kinds. */
static bool sch_server_common(jctx_t *j, const json_t *srv, const char *loc)
{
    static const char *const arrays[] = {"tools", "args", "entrypointArgs", "mounts", NULL};
    static const char *const maps[] = {"env", "headers", NULL};
    static const char *const strings[] = {"registry", "url", "container", "command", "entrypoint", NULL};
    static const char *const ints[] = {"toolTimeout", "tool_timeout", "connectTimeout",
                                       "connect_timeout", NULL};
    char sub[300];
    for (const char *const *k = arrays; *k; k++) {
        json_t *v = json_object_get(srv, *k);
        CFG_FMT(sub, "%s/%s", loc, *k);
        if (v && !sch_string_array(j, v, sub))
            return false;
    }
    for (const char *const *k = maps; *k; k++) {
        json_t *v = json_object_get(srv, *k);
        CFG_FMT(sub, "%s/%s", loc, *k);
        if (v && !sch_string_map(j, v, sub))
            return false;
    }
    for (const char *const *k = strings; *k; k++) {
        json_t *v = json_object_get(srv, *k);
        CFG_FMT(sub, "%s/%s", loc, *k);
        if (v && !sch_type(j, v, "string", sub))
            return false;
    }
    for (const char *const *k = ints; *k; k++) {
        json_t *v = json_object_get(srv, *k);
        CFG_FMT(sub, "%s/%s", loc, *k);
        if (v && !sch_type(j, v, "integer", sub))
            return false;
    }
    json_t *gp = json_object_get(srv, "guard-policies");
    if (gp) {
        CFG_FMT(sub, "%s/guard-policies", loc);
        if (!sch_type(j, gp, "object", sub))
            return false;
        json_t *ws = json_object_get(gp, "write-sink");
        if (ws) {
            static const char *const ws_keys[] = {"accept", "sink-visibility", NULL};
            CFG_FMT(sub, "%s/guard-policies/write-sink", loc);
            if (!sch_type(j, ws, "object", sub) || !sch_keys(j, ws, ws_keys, sub) ||
                !sch_required(j, ws, "accept", sub, NULL))
                return false;
            char sub2[340];
            CFG_FMT(sub2, "%s/accept", sub);
            if (!sch_string_array(j, json_object_get(ws, "accept"), sub2))
                return false;
            json_t *vis = json_object_get(ws, "sink-visibility");
            CFG_FMT(sub2, "%s/sink-visibility", sub);
            if (vis) {
                if (!sch_type(j, vis, "string", sub2))
                    return false;
                const char *s = json_string_value(vis);
                if (strcmp(s, "public") && strcmp(s, "private") && strcmp(s, "internal"))
                    return sch_fail(j, sub2, "Invalid value - allowed values: public, private, internal",
                                    "value must be one of 'public', 'private', 'internal'");
            }
        }
    }
    return true;
}

static bool sch_server(jctx_t *j, const char *id, const json_t *srv)
{
    char loc[300];
    CFG_FMT(loc, "mcpServers/%s", id);
    if (!sch_type(j, srv, "object", loc))
        return false;
    json_t *t = json_object_get(srv, "type");
    const char *type = "stdio";
    if (t) {
        char sub[320];
        CFG_FMT(sub, "%s/type", loc);
        if (!sch_type(j, t, "string", sub))
            return false;
        type = json_string_value(t);
    }
    if (!strcmp(type, "stdio")) {
        static const char *const keys[] = {
            "type", "container", "entrypoint", "entrypointArgs", "mounts", "env", "args", "tools",
            "toolTimeout", "tool_timeout", "registry", "guard-policies",
            "guard", "auth", "tool_response_filters", NULL};
        static const char *const keys_ext[] = {
            "type", "container", "entrypoint", "entrypointArgs", "mounts", "env", "args", "tools",
            "toolTimeout", "tool_timeout", "registry", "guard-policies",
            "guard", "auth", "tool_response_filters", "command", NULL};
        if (!sch_keys(j, srv, j->c.containerized_only ? keys : keys_ext, loc))
            return false;
        bool has_command = !j->c.containerized_only && json_object_get(srv, "command");
        if (!has_command &&
            !sch_required(j, srv, "container", loc,
                          j->c.containerized_only ? NULL : " (or 'command', a Flowgate extension)"))
            return false;
        if (!sch_server_common(j, srv, loc))
            return false;
        json_t *c = json_object_get(srv, "container");
        char sub[320];
        if (c) {
            CFG_FMT(sub, "%s/container", loc);
            if (!sch_min_string(j, c, sub))
                return false;
            if (!cfg_valid_container(json_string_value(c)))
                return sch_fail(j, sub, "Invalid value - expected an image name like 'ghcr.io/org/image:tag' (no digest)",
                                "'%s' does not match pattern '^[a-zA-Z0-9][a-zA-Z0-9./_-]*(:([a-zA-Z0-9._-]+|latest))?$'",
                                json_string_value(c));
        }
        json_t *ep = json_object_get(srv, "entrypoint");
        CFG_FMT(sub, "%s/entrypoint", loc);
        if (ep && !sch_min_string(j, ep, sub))
            return false;
        return true;
    }
    if (!strcmp(type, "http")) {
        static const char *const keys[] = {
            "type", "url", "headers", "tools", "env", "guard-policies", "auth", "connectTimeout",
            "connect_timeout", "toolTimeout", "tool_timeout", "registry",
            "guard", "tool_response_filters", NULL};
        if (!sch_keys(j, srv, keys, loc) || !sch_required(j, srv, "url", loc, NULL) ||
            !sch_server_common(j, srv, loc))
            return false;
        const char *url = json_string_value(json_object_get(srv, "url"));
        char sub[320];
        CFG_FMT(sub, "%s/url", loc);
        bool ok = (!strncmp(url, "http://", 7) && url[7]) || (!strncmp(url, "https://", 8) && url[8]);
        if (!ok)
            return sch_fail(j, sub, "Invalid value - expected an http:// or https:// URL",
                            "'%s' does not match pattern '^https?://.+'", url);
        static const char *const ct[] = {"connectTimeout", "connect_timeout", NULL};
        for (const char *const *k = ct; *k; k++) {
            json_t *v = json_object_get(srv, *k);
            CFG_FMT(sub, "%s/%s", loc, *k);
            if (v && json_integer_value(v) < 1)
                return sch_fail(j, sub, "Invalid value - must be >= 1", "must be >= 1 but found %lld",
                                (long long)json_integer_value(v));
        }
        return true;
    }
    /* custom: ^[a-z][a-z0-9-]*$, any other keys */
    bool ok = type[0] >= 'a' && type[0] <= 'z';
    for (const char *p = type; ok && *p; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-';
    if (!ok) {
        char sub[320];
        CFG_FMT(sub, "%s/type", loc);
        return sch_fail(j, sub, "Invalid value - allowed values: stdio, http, or a custom type name matching ^[a-z][a-z0-9-]*$",
                        "value '%s' is not a valid server type", type);
    }
    /* Any keys are allowed, but the ones Flowgate reads must have the
     * right shape before conversion (stricter than upstream). */
    return sch_server_common(j, srv, loc);
}

static bool sch_gateway(jctx_t *j, const json_t *g)
{
    static const char *const keys[] = {
        "port", "domain", "agentId", "apiKey", "startupTimeout", "toolTimeout", "payloadDir",
        "payloadSizeThreshold", "payloadPathPrefix", "trustedBots", "keepaliveInterval",
        "forcePublicRepos", "sinkVisibilityExemptServers", "opentelemetry", NULL};
    if (!sch_type(j, g, "object", "gateway") || !sch_keys(j, g, keys, "gateway") ||
        !sch_required(j, g, "port", "gateway", NULL) || !sch_required(j, g, "domain", "gateway", NULL))
        return false;
    if (!json_object_get(g, "agentId") && !json_object_get(g, "apiKey"))
        return sch_fail(j, "gateway", "Missing required field(s): agentId (or the deprecated apiKey)",
                        "missing properties: 'agentId' or 'apiKey'");
    json_t *port = json_object_get(g, "port");
    if (json_is_string(port)) {
        if (!cfg_is_var_expr(json_string_value(port)))
            return sch_fail(j, "gateway/port", "Type mismatch - expected integer, got string",
                            "'%s' is not an integer port or a ${VAR} expression (write the port unquoted)",
                            json_string_value(port));
    } else if (!sch_type(j, port, "integer", "gateway/port")) {
        return false;
    }
    if (!sch_type(j, json_object_get(g, "domain"), "string", "gateway/domain"))
        return false;
    static const char *const strs[] = {"agentId", "apiKey", "payloadDir", "payloadPathPrefix", NULL};
    for (const char *const *k = strs; *k; k++) {
        json_t *v = json_object_get(g, *k);
        char sub[64];
        CFG_FMT(sub, "gateway/%s", *k);
        if (v && !sch_min_string(j, v, sub))
            return false;
    }
    static const char *const ints[] = {"startupTimeout", "toolTimeout", "payloadSizeThreshold",
                                       "keepaliveInterval", NULL};
    for (const char *const *k = ints; *k; k++) {
        json_t *v = json_object_get(g, *k);
        char sub[64];
        CFG_FMT(sub, "gateway/%s", *k);
        if (v && !sch_type(j, v, "integer", sub))
            return false;
    }
    json_t *v = json_object_get(g, "trustedBots");
    if (v && !sch_string_array(j, v, "gateway/trustedBots"))
        return false;
    v = json_object_get(g, "sinkVisibilityExemptServers");
    if (v && !sch_string_array(j, v, "gateway/sinkVisibilityExemptServers"))
        return false;
    v = json_object_get(g, "forcePublicRepos");
    if (v && !sch_type(j, v, "boolean", "gateway/forcePublicRepos"))
        return false;
    v = json_object_get(g, "opentelemetry");
    if (v) {
        static const char *const otel[] = {"endpoint", "traceId", "spanId", "serviceName", NULL};
        if (!sch_type(j, v, "object", "gateway/opentelemetry") ||
            !sch_keys(j, v, otel, "gateway/opentelemetry") ||
            !sch_required(j, v, "endpoint", "gateway/opentelemetry", NULL))
            return false;
        for (const char *const *k = otel; *k; k++) {
            json_t *e = json_object_get(v, *k);
            char sub[64];
            CFG_FMT(sub, "gateway/opentelemetry/%s", *k);
            if (e && !sch_min_string(j, e, sub))
                return false;
        }
    }
    return true;
}

static bool schema_check(jctx_t *j, const json_t *root)
{
    static const char *const keys[] = {"mcpServers", "gateway", "customSchemas", "guards", NULL};
    if (!sch_keys(j, root, keys, "<root>") || !sch_required(j, root, "mcpServers", "<root>", NULL) ||
        !sch_required(j, root, "gateway", "<root>", NULL))
        return false;
    json_t *servers = json_object_get(root, "mcpServers");
    if (!sch_type(j, servers, "object", "mcpServers"))
        return false;
    const char *id;
    json_t *srv;
    json_object_foreach(servers, id, srv) {
        if (!sch_server(j, id, srv))
            return false;
    }
    if (!sch_gateway(j, json_object_get(root, "gateway")))
        return false;
    json_t *cs = json_object_get(root, "customSchemas");
    if (cs) {
        if (!sch_type(j, cs, "object", "customSchemas"))
            return false;
        const char *k;
        json_t *v;
        json_object_foreach(cs, k, v) {
            char sub[300];
            CFG_FMT(sub, "customSchemas/%s", k);
            if (!sch_type(j, v, "string", sub))
                return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------ 4. convert */

static bool dup_into(jctx_t *j, char **dst, const json_t *v)
{
    if (!v)
        return true;
    free(*dst);
    *dst = strdup(json_string_value(v));
    return *dst ? true : nomem(j);
}

static bool list_into(jctx_t *j, gw_strlist_t *dst, const json_t *arr)
{
    for (size_t i = 0; i < json_array_size(arr); i++)
        if (!cfg_strlist_push(dst, json_string_value(json_array_get(arr, i))))
            return nomem(j);
    return true;
}

/* Copies a string map, expanding ${VAR} a second time (§2.1 step 7). */
static bool map_into(jctx_t *j, gw_strmap_t *dst, const json_t *obj, const char *id)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        char *val = NULL, undefined[256];
        switch (cfg_expand(&j->c, json_string_value(v), &val, undefined, sizeof undefined)) {
        case CFG_EXPAND_UNDEFINED:
            cfg_undefined_var_error(j->err, undefined);
            return err_prefix(j->err, "server \"%s\": failed to expand environment variable(s)", id);
        case CFG_EXPAND_NOMEM:
            return nomem(j);
        case CFG_EXPAND_OK:
            break;
        }
        bool ok = cfg_strmap_set(dst, k, val);
        free(val);
        if (!ok)
            return nomem(j);
    }
    return true;
}

static bool tool_timeout_into(jctx_t *j, int *dst, const json_t *srv, const char *id)
{
    static const char *const names[] = {"toolTimeout", "tool_timeout"};
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(srv, names[i]);
        if (!v)
            continue;
        json_int_t n = json_integer_value(v);
        char path[300];
        CFG_FMT(path, "mcpServers.%s.%s", id, names[i]);
        if (n != 0 && n < 10)
            return cfg_field_error(j->err, path, "Use 0 (the gateway's default) or a value of at least 10 seconds",
                                   "%s must be at least 10, got %lld", names[i], (long long)n);
        if (n > INT_MAX)
            return cfg_field_error(j->err, path, NULL, "%s is too large, got %lld", names[i], (long long)n);
        *dst = (int)n; /* the camelCase key wins when both are present */
        return true;
    }
    return true;
}

static bool convert_server_common(jctx_t *j, gw_server_config_t *s, const json_t *srv)
{
    char path[300];
    json_t *tools = json_object_get(srv, "tools");
    if (tools) {
        s->has_tools = true;
        if (!list_into(j, &s->tools, tools))
            return false;
    }
    if (!tool_timeout_into(j, &s->tool_timeout, srv, s->id) ||
        !dup_into(j, &s->registry, json_object_get(srv, "registry")))
        return false;
    json_t *gp = json_object_get(srv, "guard-policies");
    if (gp) {
        s->guard_policies = json_deep_copy(gp);
        if (!s->guard_policies)
            return nomem(j);
        CFG_FMT(path, "mcpServers.%s.guard-policies", s->id);
        if (!cfg_check_server_policy(s, path, j->err))
            return false;
    }
    json_t *guard = json_object_get(srv, "guard");
    if (guard) {
        CFG_FMT(path, "mcpServers.%s.guard", s->id);
        if (!json_is_string(guard) || json_string_length(guard) == 0)
            return cfg_field_error(j->err, path, NULL, "guard must be a non-empty string naming an entry in 'guards'");
        if (!dup_into(j, &s->guard, guard))
            return false;
    }
    json_t *trf = json_object_get(srv, "tool_response_filters");
    if (trf) {
        CFG_FMT(path, "mcpServers.%s.tool_response_filters", s->id);
        if (!json_is_object(trf))
            return cfg_field_error(j->err, path, NULL, "tool_response_filters must be an object mapping tool names to jq expressions");
        const char *k;
        json_t *v;
        json_object_foreach(trf, k, v) {
            if (!*k)
                return cfg_field_error(j->err, path, NULL, "tool names must not be empty");
            if (!json_is_string(v) || json_string_length(v) == 0)
                return cfg_field_error(j->err, path, NULL, "%s.%s contains an invalid jq expression: it must be a non-empty string", path, k);
        }
        s->tool_response_filters = json_deep_copy(trf);
        if (!s->tool_response_filters)
            return nomem(j);
        err_t jerr = {{0}};
        if (!gw_jq_set_compile(trf, path, &s->jq_filters, &jerr))
            return cfg_field_error(j->err, path, NULL, "%s", jerr.msg);
    }
    return true;
}

static bool convert_auth(jctx_t *j, gw_server_config_t *s, const json_t *srv)
{
    json_t *auth = json_object_get(srv, "auth");
    if (!auth)
        return true;
    char path[300];
    CFG_FMT(path, "mcpServers.%s.auth", s->id);
    if (s->kind != GW_SERVER_HTTP)
        return cfg_field_error(j->err, path, "Remove 'auth' or make this an http server",
                               "auth is only supported for HTTP servers, got server type \"%s\"", s->type);
    if (!json_is_object(auth))
        return cfg_field_error(j->err, path, NULL, "auth must be an object");
    static const char *const keys[] = {"type", "audience", NULL};
    const char *k;
    json_t *v;
    json_object_foreach(auth, k, v) {
        if (!in_list(k, keys))
            return cfg_field_error(j->err, path, NULL, "unexpected field '%s' in auth", k);
        if (!json_is_string(v))
            return cfg_field_error(j->err, path, NULL, "auth.%s must be a string", k);
    }
    const char *type = json_string_value(json_object_get(auth, "type"));
    if (!type || !*type)
        return cfg_field_error(j->err, path, "Set auth.type to 'github-oidc'", "auth.type is required");
    if (strcmp(type, "github-oidc") != 0)
        return cfg_field_error(j->err, path, "Set auth.type to 'github-oidc'",
                               "unsupported auth type '%s' (only 'github-oidc' is supported)", type);
    if (!cfg_getenv(&j->c, "ACTIONS_ID_TOKEN_REQUEST_URL"))
        return err_set(j->err,
                       "server \"%s\" requires OIDC authentication but ACTIONS_ID_TOKEN_REQUEST_URL "
                       "is not set; run inside GitHub Actions with 'permissions: id-token: write'",
                       s->id);
    s->auth_type = strdup(type);
    const char *aud = json_string_value(json_object_get(auth, "audience"));
    s->auth_audience = strdup(aud && *aud ? aud : s->url);
    return s->auth_type && s->auth_audience ? true : nomem(j);
}

static bool convert_stdio(jctx_t *j, gw_server_config_t *s, const json_t *srv)
{
    char path[300];
    json_t *command = json_object_get(srv, "command");
    json_t *container = json_object_get(srv, "container");
    if (command && !j->c.containerized_only) {
        /* Flowgate extension: a plain command. */
        CFG_FMT(path, "mcpServers.%s", s->id);
        if (container)
            return cfg_field_error(j->err, path, "Use either 'container' or 'command'",
                                   "'command' and 'container' cannot both be set");
        static const char *const docker_only[] = {"entrypoint", "entrypointArgs", "mounts", NULL};
        for (const char *const *k = docker_only; *k; k++)
            if (json_object_get(srv, *k))
                return cfg_field_error(j->err, path, NULL, "'%s' is only supported with 'container'", *k);
        if (json_string_length(command) == 0 || strspn(json_string_value(command), " \t") == json_string_length(command))
            return cfg_field_error(j->err, path, NULL, "'command' must not be empty");
        if (!dup_into(j, &s->command, command) || !list_into(j, &s->args, json_object_get(srv, "args")))
            return false;
        json_t *env = json_object_get(srv, "env");
        return !env || map_into(j, &s->env, env, s->id);
    }
    const char *ep = json_string_value(json_object_get(srv, "entrypoint"));
    if (ep && strspn(ep, " \t\r\n") == strlen(ep)) {
        CFG_FMT(path, "mcpServers.%s.entrypoint", s->id);
        return cfg_field_error(j->err, path, NULL, "entrypoint must not be empty or whitespace only");
    }
    gw_strlist_t mounts = {0}, args = {0}, ep_args = {0};
    gw_strmap_t env = {0};
    bool ok = list_into(j, &mounts, json_object_get(srv, "mounts")) &&
              list_into(j, &args, json_object_get(srv, "args")) &&
              list_into(j, &ep_args, json_object_get(srv, "entrypointArgs"));
    for (size_t i = 0; ok && i < mounts.count; i++) {
        CFG_FMT(path, "mcpServers.%s.mounts[%zu]", s->id, i);
        ok = cfg_check_mount(mounts.items[i], path, j->err);
    }
    json_t *envj = json_object_get(srv, "env");
    if (ok && envj)
        ok = map_into(j, &env, envj, s->id);
    if (ok && container)
        ok = dup_into(j, &s->container, container);
    if (ok)
        ok = cfg_build_docker_args(s, ep, &mounts, &env, &args, &ep_args, j->err);
    cfg_strlist_free(&mounts);
    cfg_strlist_free(&args);
    cfg_strlist_free(&ep_args);
    cfg_strmap_free(&env);
    return ok;
}

static bool convert_server(jctx_t *j, gw_config_t *cfg, const char *id, const json_t *srv)
{
    gw_server_config_t *s = cfg_add_server(cfg, id);
    if (!s)
        return nomem(j);
    const char *type = json_string_value(json_object_get(srv, "type"));
    if (!type)
        type = "stdio";
    s->type = strdup(type);
    if (!s->type)
        return nomem(j);
    char path[300];
    CFG_FMT(path, "mcpServers.%s", id);
    if (!strcmp(type, "http")) {
        s->kind = GW_SERVER_HTTP;
        if (!dup_into(j, &s->url, json_object_get(srv, "url")))
            return false;
        json_t *h = json_object_get(srv, "headers");
        if (h && !map_into(j, &s->headers, h, id))
            return false;
        json_t *ct = json_object_get(srv, "connectTimeout");
        if (!ct)
            ct = json_object_get(srv, "connect_timeout");
        if (ct)
            s->connect_timeout = json_integer_value(ct) > INT_MAX ? INT_MAX : (int)json_integer_value(ct);
    } else {
        s->kind = GW_SERVER_STDIO;
        if (strcmp(type, "stdio") != 0) {
            /* A custom type: it must be registered, and Flowgate does not
             * fetch remote schemas (fail closed rather than skip checks). */
            json_t *reg = json_object_get(cfg->custom_schemas, type);
            if (!reg)
                return cfg_field_error(j->err, path,
                                       "Server type is not registered in customSchemas; add it there or use 'stdio' or 'http'",
                                       "unsupported server type '%s'", type);
            if (json_string_length(reg) > 0)
                return cfg_field_error(j->err, path,
                                       "Register the type with \"\" in customSchemas to skip schema validation",
                                       "custom server type '%s': fetching its schema from %s is not supported",
                                       type, json_string_value(reg));
            const json_t *c = json_object_get(srv, "container");
            if (c && !json_is_string(c))
                return cfg_field_error(j->err, path, NULL, "container must be a string");
        }
        if (!convert_stdio(j, s, srv))
            return false;
    }
    return convert_server_common(j, s, srv) && convert_auth(j, s, srv);
}

static bool convert_gateway(jctx_t *j, gw_config_t *cfg, const json_t *g)
{
    gw_gateway_config_t *gw = &cfg->gateway;
    json_t *port = json_object_get(g, "port");
    if (json_is_integer(port)) {
        json_int_t p = json_integer_value(port);
        if (p < 1 || p > 65535)
            return cfg_field_error(j->err, "gateway.port", NULL, "port must be between 1 and 65535, got %lld", (long long)p);
        gw->port = (int)p;
    }
    const char *domain = json_string_value(json_object_get(g, "domain"));
    if (!cfg_valid_domain(domain))
        return cfg_field_error(j->err, "gateway.domain", NULL,
                               "domain '%s' must be 'localhost', 'host.docker.internal', an RFC-1123 hostname label (e.g. 'awmg-mcpg'), or a variable expression",
                               domain);
    if (!dup_into(j, &gw->domain, json_object_get(g, "domain")))
        return false;
    json_t *agent = json_object_get(g, "agentId");
    if (!agent) {
        agent = json_object_get(g, "apiKey");
        gw->agent_id_from_api_key = agent != NULL;
    }
    if (!dup_into(j, &gw->agent_id, agent))
        return false;

    json_t *v = json_object_get(g, "startupTimeout");
    if (v) {
        if (json_integer_value(v) < 1 || json_integer_value(v) > INT_MAX)
            return cfg_field_error(j->err, "gateway.startupTimeout", NULL, "startupTimeout must be at least 1, got %lld",
                                   (long long)json_integer_value(v));
        gw->startup_timeout = (int)json_integer_value(v);
    }
    v = json_object_get(g, "toolTimeout");
    if (v) {
        if (json_integer_value(v) < 10 || json_integer_value(v) > INT_MAX)
            return cfg_field_error(j->err, "gateway.toolTimeout", NULL, "toolTimeout must be at least 10, got %lld",
                                   (long long)json_integer_value(v));
        gw->tool_timeout = (int)json_integer_value(v);
    } else {
        /* spec: §1.3 — MCP_GATEWAY_TOOL_TIMEOUT (an integer >= 10) when
         * the config has none; anything else is ignored. */
        const char *e = cfg_getenv(&j->c, "MCP_GATEWAY_TOOL_TIMEOUT");
        if (e && *e) {
            char *end;
            errno = 0;
            long n = strtol(e, &end, 10);
            if (!errno && *end == '\0' && n >= 10 && n <= INT_MAX)
                gw->tool_timeout = (int)n;
        }
    }
    v = json_object_get(g, "keepaliveInterval");
    if (v) {
        json_int_t k = json_integer_value(v);
        if (k < -1 || k > INT_MAX)
            return cfg_field_error(j->err, "gateway.keepaliveInterval", NULL, "keepaliveInterval must be -1 (disabled) or positive, got %lld",
                                   (long long)k);
        /* spec: §9 quirk — an explicit 0 in JSON ends up disabled too. */
        gw->keepalive_interval = k <= 0 ? -1 : (int)k;
    }
    v = json_object_get(g, "payloadDir");
    if (v) {
        const char *d = json_string_value(v);
        bool abs = d[0] == '/' || (((d[0] >= 'A' && d[0] <= 'Z') || (d[0] >= 'a' && d[0] <= 'z')) && d[1] == ':' && d[2] == '\\');
        if (!abs)
            return cfg_field_error(j->err, "gateway.payloadDir", NULL, "payloadDir must be an absolute path, got '%s'", d);
        if (!dup_into(j, &gw->payload_dir, v))
            return false;
    }
    v = json_object_get(g, "payloadSizeThreshold");
    if (v) {
        if (json_integer_value(v) < 1)
            return cfg_field_error(j->err, "gateway.payloadSizeThreshold", NULL,
                                   "payloadSizeThreshold must be a positive integer (>= 1), got %lld",
                                   (long long)json_integer_value(v));
        gw->payload_size_threshold = json_integer_value(v);
    }
    if (!dup_into(j, &gw->payload_path_prefix, json_object_get(g, "payloadPathPrefix")))
        return false;
    v = json_object_get(g, "trustedBots");
    if (v) {
        bool ok = json_array_size(v) > 0;
        for (size_t i = 0; ok && i < json_array_size(v); i++)
            ok = json_string_length(json_array_get(v, i)) > 0;
        if (!ok)
            return cfg_field_error(j->err, "gateway.trustedBots", NULL,
                                   "trusted_bots must be a non-empty array when present (spec §4.1.3.4)");
        gw->has_trusted_bots = true;
        if (!list_into(j, &gw->trusted_bots, v))
            return false;
    }
    v = json_object_get(g, "forcePublicRepos");
    if (v)
        gw->force_public_repos = json_is_true(v);
    v = json_object_get(g, "sinkVisibilityExemptServers");
    if (v && !list_into(j, &gw->sink_visibility_exempt_servers, v))
        return false;
    v = json_object_get(g, "opentelemetry");
    if (v) {
        gw_otel_config_t *o = &gw->otel;
        o->present = true;
        if (!dup_into(j, &o->endpoint, json_object_get(v, "endpoint")) ||
            !dup_into(j, &o->trace_id, json_object_get(v, "traceId")) ||
            !dup_into(j, &o->span_id, json_object_get(v, "spanId")) ||
            !dup_into(j, &o->service_name, json_object_get(v, "serviceName")))
            return false;
        if (!cfg_check_otel(o, "gateway.opentelemetry", "traceId", "spanId", j->err))
            return false;
    }
    return true;
}

static bool convert_custom_schemas(jctx_t *j, gw_config_t *cfg, json_t *cs)
{
    if (!cs)
        return true;
    const char *k;
    json_t *v;
    json_object_foreach(cs, k, v) {
        char path[300];
        CFG_FMT(path, "customSchemas.%s", k);
        if (!strcmp(k, "stdio") || !strcmp(k, "http"))
            return cfg_field_error(j->err, path, "Pick another name for the custom type",
                                   "custom schema type name '%s' is reserved", k);
        bool ok = k[0] >= 'a' && k[0] <= 'z';
        for (const char *p = k; ok && *p; p++)
            ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-';
        if (!ok)
            return cfg_field_error(j->err, path, NULL, "custom schema type name '%s' must match ^[a-z][a-z0-9-]*$", k);
        const char *url = json_string_value(v);
        if (*url && (strncmp(url, "https://", 8) != 0 || !url[8]))
            return cfg_field_error(j->err, path, NULL, "custom schema URL must use https://, got '%s'", url);
    }
    cfg->custom_schemas = json_deep_copy(cs);
    return cfg->custom_schemas ? true : nomem(j);
}

static bool convert_guards(jctx_t *j, gw_config_t *cfg, json_t *guards)
{
    if (!guards)
        return true;
    if (!json_is_object(guards))
        return cfg_field_error(j->err, "guards", NULL, "guards must be an object mapping names to guard definitions");
    const char *name;
    json_t *g;
    json_object_foreach(guards, name, g) {
        char path[300];
        CFG_FMT(path, "guards.%s", name);
        if (!json_is_object(g))
            return cfg_field_error(j->err, path, NULL, "a guard definition must be an object");
        static const char *const keys[] = {"type", "path", "config", "policy", NULL};
        const char *k;
        json_t *v;
        json_object_foreach(g, k, v) {
            if (!in_list(k, keys))
                return cfg_field_error(j->err, path, "Allowed fields: type, path, config, policy",
                                       "unexpected field '%s'", k);
        }
        json_t *type = json_object_get(g, "type"), *gpath = json_object_get(g, "path");
        json_t *policy = json_object_get(g, "policy");
        if ((type && !json_is_string(type)) || (gpath && !json_is_string(gpath)))
            return cfg_field_error(j->err, path, NULL, "type and path must be strings");
        if (policy && !json_is_object(policy))
            return cfg_field_error(j->err, path, NULL, "policy must be an object");
        gw_guard_config_t *gd = cfg_add_guard(cfg, name);
        if (!gd)
            return nomem(j);
        if (!dup_into(j, &gd->type, type) || !dup_into(j, &gd->path, gpath))
            return false;
        json_t *c = json_object_get(g, "config");
        if ((c && !(gd->config = json_deep_copy(c))) || (policy && !(gd->policy = json_deep_copy(policy))))
            return nomem(j);
        if (policy) {
            CFG_FMT(path, "guards.%s.policy", name);
            if (!cfg_check_guard_policy(policy, path, j->err))
                return false;
        }
    }
    return true;
}

bool gw_config_load_json(const char *text, size_t len, const gw_config_options_t *opts,
                         gw_config_t **out, err_t *err)
{
    jctx_t j = {.err = err};
    cfg_ctx_init(&j.c, opts);
    json_error_t je;
    json_t *root = json_loadb(text ? text : "", text ? len : 0, JSON_DECODE_ANY, &je);
    if (!root)
        return err_set(err, "failed to normalize configuration: invalid JSON at line %d, column %d: %s",
                       je.line, je.column, je.text);
    if (!json_is_object(root)) {
        err_set(err, "failed to normalize configuration: the JSON document must be an object, got %s", jtype(root));
        json_decref(root);
        return false;
    }
    gw_config_t *cfg = NULL;
    bool ok = normalize_local(root) || nomem(&j);
    ok = ok && expand_tree(&j, &root) && schema_check(&j, root);
    if (ok && !(cfg = cfg_new(GW_CONFIG_SOURCE_JSON)))
        ok = nomem(&j);
    ok = ok && convert_gateway(&j, cfg, json_object_get(root, "gateway")) &&
         convert_custom_schemas(&j, cfg, json_object_get(root, "customSchemas")) &&
         convert_guards(&j, cfg, json_object_get(root, "guards"));
    if (ok) {
        const char *id;
        json_t *srv;
        json_object_foreach(json_object_get(root, "mcpServers"), id, srv) {
            if (!convert_server(&j, cfg, id, srv)) {
                ok = false;
                break;
            }
        }
    }
    json_decref(root);
    if (!ok) {
        gw_config_free(cfg);
        return false;
    }
    *out = cfg;
    return true;
}

bool gw_config_load_json_stream(FILE *in, const gw_config_options_t *opts, gw_config_t **out,
                                err_t *err)
{
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return err_set(err, "failed to read stdin: out of memory");
    for (;;) {
        if (len == cap) {
            if (cap >= (64u << 20)) {
                free(buf);
                return err_set(err, "failed to read stdin: configuration larger than 64 MiB");
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return err_set(err, "failed to read stdin: out of memory");
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len, in);
        len += got;
        if (got == 0) {
            if (ferror(in)) {
                int e = errno;
                free(buf);
                return err_set(err, "failed to read stdin: %s", strerror(e));
            }
            break;
        }
    }
    bool ok = gw_config_load_json(buf, len, opts, out, err);
    free(buf);
    return ok;
}
