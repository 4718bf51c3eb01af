/*
 * dispatch.c — the JSON-RPC methods the front end answers (spec §4.8) and
 * the initialize result (spec §4.5). tools/call goes to pipeline.c.
 */
#include "gateway/gateway_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_SIZE 1000 /* go-sdk DefaultPageSize */

static const char *const supported_versions[] = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};

json_t *gw_rpc_error(const json_t *id, json_int_t code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mcp_jsonrpc_error(id, code, msg, NULL);
}

/* go-sdk's server method table (mcp/server.go serverMethodInfos): which
 * methods are notifications and which may come without params. Anything
 * else is a 400 before dispatch (spec §4.5 step 9). */
enum { M_NOTIFICATION = 1, M_PARAMS_OPTIONAL = 2 };
static const struct {
    const char *name;
    int flags;
} known_methods[] = {
    {"initialize", 0},
    {"ping", M_PARAMS_OPTIONAL},
    {"tools/list", M_PARAMS_OPTIONAL},
    {"tools/call", 0},
    {"prompts/list", M_PARAMS_OPTIONAL},
    {"prompts/get", 0},
    {"resources/list", M_PARAMS_OPTIONAL},
    {"resources/templates/list", M_PARAMS_OPTIONAL},
    {"resources/read", 0},
    {"resources/subscribe", 0},
    {"resources/unsubscribe", 0},
    {"completion/complete", 0},
    {"logging/setLevel", 0},
    {"notifications/initialized", M_NOTIFICATION | M_PARAMS_OPTIONAL},
    {"notifications/cancelled", M_NOTIFICATION | M_PARAMS_OPTIONAL},
    {"notifications/progress", M_NOTIFICATION},
    {"notifications/roots/list_changed", M_NOTIFICATION | M_PARAMS_OPTIONAL},
};

bool gw_method_check(const mcp_msg_t *m, char *why, size_t n)
{
    for (size_t i = 0; i < sizeof known_methods / sizeof known_methods[0]; i++) {
        if (strcmp(known_methods[i].name, m->method))
            continue;
        bool notification = known_methods[i].flags & M_NOTIFICATION;
        if (notification && m->kind == MCP_MSG_REQUEST)
            snprintf(why, n, "invalid request: unexpected id for \"%s\"", m->method);
        else if (!notification && m->kind == MCP_MSG_NOTIFICATION)
            snprintf(why, n, "invalid request: missing id for \"%s\"", m->method);
        else if (!(known_methods[i].flags & M_PARAMS_OPTIONAL) && !m->params)
            snprintf(why, n, "invalid request: missing required \"params\"");
        else
            return true;
        return false;
    }
    snprintf(why, n, "JSON RPC not handled: \"%.250s\" unsupported", m->method);
    return false;
}

bool gw_request_streams(const mcp_msg_t *m)
{
    return m->kind == MCP_MSG_REQUEST && !strcmp(m->method, "tools/call") &&
           json_object_get(json_object_get(m->params, "_meta"), "progressToken") != NULL;
}

static const gw_toolset_t *route_of(gw_server_t *s, gw_session_t *sess)
{
    if (s->mode == GW_MODE_ROUTED)
        return sess->route >= 0 && (size_t)sess->route < s->nroutes ? &s->routes[sess->route] : NULL;
    return &s->routes[0];
}

static json_t *do_initialize(gw_server_t *s, gw_session_t *sess, const mcp_msg_t *m)
{
    const char *want = json_string_value(json_object_get(m->params, "protocolVersion"));
    const char *ver = MCP_PROTOCOL_LATEST;
    for (size_t i = 0; want && i < sizeof supported_versions / sizeof supported_versions[0]; i++)
        if (!strcmp(want, supported_versions[i]))
            ver = supported_versions[i];
    snprintf(sess->proto, sizeof sess->proto, "%s", ver);
    sess->initialized = true;
    const gw_toolset_t *ts = route_of(s, sess);
    json_t *caps = json_pack("{s:{}}", "logging");
    if (ts && ts->count > 0)
        json_object_set_new(caps, "tools", json_pack("{s:b}", "listChanged", 1));
    if (ts && json_array_size(ts->prompts) > 0)
        json_object_set_new(caps, "prompts", json_pack("{s:b}", "listChanged", 1));
    char name[300];
    if (s->mode == GW_MODE_ROUTED)
        snprintf(name, sizeof name, "awmg-%s", s->backends[sess->route].id);
    else
        snprintf(name, sizeof name, "awmg-unified");
    json_t *res = json_pack("{s:s,s:o,s:{s:s,s:s}}", "protocolVersion", ver, "capabilities", caps,
                            "serverInfo", "name", name, "version", gw_version());
    json_t *reply = mcp_jsonrpc_result(m->id, res);
    json_decref(res);
    gw_log(GW_LOG_INFO, "client", "MCP connection established, route=%s, session=%.8s",
           s->mode == GW_MODE_ROUTED ? s->backends[sess->route].id : "unified", sess->id);
    return reply;
}

/* Pages a list: cursor is the decimal offset, opaque to clients. */
static bool page_bounds(const mcp_msg_t *m, size_t total, size_t *start, size_t *end)
{
    json_t *cur = json_object_get(m->params, "cursor");
    size_t off = 0;
    if (cur) {
        const char *c = json_string_value(cur);
        char *e;
        if (!c || strncmp(c, "fg:", 3) != 0)
            return false;
        unsigned long v = strtoul(c + 3, &e, 10);
        if (*e || v > total)
            return false;
        off = v;
    }
    *start = off;
    *end = off + PAGE_SIZE < total ? off + PAGE_SIZE : total;
    return true;
}

static json_t *do_tools_list(gw_server_t *s, gw_session_t *sess, const mcp_msg_t *m)
{
    const gw_toolset_t *ts = route_of(s, sess);
    size_t total = ts ? ts->count : 0, a, b;
    if (!page_bounds(m, total, &a, &b))
        return gw_rpc_error(m->id, MCP_ERR_INVALID_PARAMS, "invalid cursor");
    json_t *arr = json_array();
    for (size_t i = a; i < b; i++)
        json_array_append(arr, ts->tools[i].def);
    json_t *res = json_pack("{s:o}", "tools", arr);
    if (b < total) {
        char c[32];
        snprintf(c, sizeof c, "fg:%zu", b);
        json_object_set_new(res, "nextCursor", json_string(c));
    }
    json_t *reply = mcp_jsonrpc_result(m->id, res);
    json_decref(res);
    return reply;
}

static json_t *do_prompts_get(gw_server_t *s, gw_session_t *sess, const mcp_msg_t *m)
{
    const char *name = json_string_value(json_object_get(m->params, "name"));
    if (s->mode != GW_MODE_UNIFIED || !name)
        return gw_rpc_error(m->id, MCP_ERR_INVALID_PARAMS, "unknown prompt \"%s\"", name ? name : "");
    const char *sep = strstr(name, "___");
    for (size_t i = 0; sep && i < s->nbackends; i++) {
        gw_backend_t *b = &s->backends[i];
        if (strlen(b->id) != (size_t)(sep - name) || strncmp(b->id, name, (size_t)(sep - name)) || !b->prompts)
            continue;
        json_t *params = json_pack("{s:s}", "name", sep + 3);
        json_t *args = json_object_get(m->params, "arguments");
        if (args)
            json_object_set(params, "arguments", args);
        err_t err = {{0}};
        mcp_backend_t *c = gw_backend_conn(s, (int)i, sess->gsid, &err);
        json_t *result = NULL;
        int64_t dl = mcp_now_ms() + (int64_t)s->tool_timeout_s * 1000;
        mcp_call_status_t st =
            c ? mcp_backend_request(c, "prompts/get", params, dl, NULL, &result, &err) : MCP_CALL_FAILED;
        json_decref(params);
        json_t *reply;
        if (st == MCP_CALL_OK)
            reply = mcp_jsonrpc_result(m->id, result);
        else if (st == MCP_CALL_RPC_ERROR)
            reply = gw_rpc_error(m->id, json_integer_value(json_object_get(result, "code")),
                                 "calling \"prompts/get\": %s",
                                 json_string_value(json_object_get(result, "message")) ?: "");
        else
            reply = gw_rpc_error(m->id, 0, "%s", err.msg);
        json_decref(result);
        return reply;
    }
    return gw_rpc_error(m->id, MCP_ERR_INVALID_PARAMS, "unknown prompt \"%s\"", name);
}

json_t *gw_dispatch_request(gw_server_t *s, gw_session_t *sess, const mcp_msg_t *m, gw_out_t *out)
{
    const char *meth = m->method;
    if (!strcmp(meth, "initialize")) {
        if (!json_is_object(m->params))
            return gw_rpc_error(m->id, MCP_ERR_INVALID_PARAMS, "invalid params: missing params");
        return do_initialize(s, sess, m);
    }
    if (!strcmp(meth, "ping"))
        return json_pack("{s:s,s:O,s:{}}", "jsonrpc", "2.0", "id", m->id, "result");
    if (!sess->initialized)
        return gw_rpc_error(m->id, 0, "method \"%s\" is invalid during session initialization", meth);
    if (!strcmp(meth, "tools/list"))
        return do_tools_list(s, sess, m);
    if (!strcmp(meth, "tools/call"))
        return gw_tools_call(s, sess, m, out);
    json_t *res = NULL;
    if (!strcmp(meth, "prompts/list")) {
        const gw_toolset_t *ts = route_of(s, sess);
        res = json_pack("{s:O}", "prompts", ts ? ts->prompts : json_array());
    } else if (!strcmp(meth, "prompts/get")) {
        return do_prompts_get(s, sess, m);
    } else if (!strcmp(meth, "resources/list")) {
        res = json_pack("{s:[]}", "resources");
    } else if (!strcmp(meth, "resources/templates/list")) {
        res = json_pack("{s:[]}", "resourceTemplates");
    } else if (!strcmp(meth, "resources/read")) {
        const char *uri = json_string_value(json_object_get(m->params, "uri"));
        return gw_rpc_error(m->id, MCP_ERR_RESOURCE_NOT_FOUND, "Resource not found: %s", uri ? uri : "");
    } else if (!strcmp(meth, "logging/setLevel")) {
        res = json_object();
    } else {
        return gw_rpc_error(m->id, MCP_ERR_METHOD_NOT_FOUND, "method not found: %s", meth);
    }
    json_t *reply = mcp_jsonrpc_result(m->id, res);
    json_decref(res);
    return reply;
}

void gw_dispatch_notification(gw_server_t *s, gw_session_t *sess, const mcp_msg_t *m)
{
    if (!strcmp(m->method, "notifications/cancelled")) {
        json_t *rid = json_object_get(m->params, "requestId");
        if (rid)
            gw_session_cancel(s, sess, rid);
    }
}
