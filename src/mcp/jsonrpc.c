/*
 * jsonrpc.c — JSON-RPC 2.0 message classification and construction.
 *
 * MCP narrows JSON-RPC: ids are strings or integers (never null on a
 * request), params is an object (we also accept an array, which JSON-RPC
 * allows), and batches were legal only in revision 2025-03-26
 * (spec: mcp-protocol §1.1, §1.2).
 */
#include "mcp/mcp.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t mcp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool id_is_valid(const json_t *id)
{
    return json_is_string(id) || json_is_integer(id);
}

void mcp_msg_free(mcp_msg_t *msg)
{
    if (!msg)
        return;
    json_decref(msg->root);
    memset(msg, 0, sizeof *msg);
}

/* Fills msg from an object; msg->root already holds it. */
static mcp_parse_status_t classify_object(mcp_msg_t *msg, err_t *err)
{
    json_t *o = msg->root;
    json_t *version = json_object_get(o, "jsonrpc");
    json_t *id = json_object_get(o, "id");
    json_t *method = json_object_get(o, "method");
    json_t *params = json_object_get(o, "params");
    json_t *result = json_object_get(o, "result");
    json_t *error = json_object_get(o, "error");

    if (id && (id_is_valid(id) || json_is_null(id)))
        msg->id = id; /* kept even on invalid messages so the reply can carry it */
    if (!json_is_string(version) || strcmp(json_string_value(version), "2.0") != 0)
        return err_set(err, "not a JSON-RPC 2.0 message: \"jsonrpc\" must be \"2.0\""), MCP_PARSE_INVALID;

    if (method) {
        if (!json_is_string(method) || json_string_length(method) == 0 ||
            strlen(json_string_value(method)) != json_string_length(method))
            return err_set(err, "invalid JSON-RPC request: \"method\" must be a non-empty string"), MCP_PARSE_INVALID;
        if (result || error)
            return err_set(err, "invalid JSON-RPC message: has both \"method\" and \"result\"/\"error\""),
                   MCP_PARSE_INVALID;
        if (params && !json_is_object(params) && !json_is_array(params))
            return err_set(err, "invalid JSON-RPC request: \"params\" must be an object or array"), MCP_PARSE_INVALID;
        if (id && !id_is_valid(id)) {
            msg->id = NULL;
            return err_set(err, "invalid JSON-RPC request: \"id\" must be a string or an integer"),
                   MCP_PARSE_INVALID;
        }
        msg->kind = id ? MCP_MSG_REQUEST : MCP_MSG_NOTIFICATION;
        msg->method = json_string_value(method);
        msg->params = params;
        return MCP_PARSE_OK;
    }

    if (!id)
        return err_set(err, "invalid JSON-RPC message: neither \"method\" nor \"id\""), MCP_PARSE_INVALID;
    if ((result != NULL) == (error != NULL))
        return err_set(err, "invalid JSON-RPC response: needs exactly one of \"result\" and \"error\""),
               MCP_PARSE_INVALID;
    if (result) {
        if (!id_is_valid(id))
            return err_set(err, "invalid JSON-RPC response: \"id\" must be a string or an integer"),
                   MCP_PARSE_INVALID;
        msg->kind = MCP_MSG_RESPONSE;
        msg->result = result;
        return MCP_PARSE_OK;
    }
    json_t *code = json_object_get(error, "code");
    json_t *message = json_object_get(error, "message");
    if (!json_is_object(error) || !json_is_integer(code))
        return err_set(err, "invalid JSON-RPC error: \"error\" must be an object with an integer \"code\""),
               MCP_PARSE_INVALID;
    if (message && !json_is_string(message))
        return err_set(err, "invalid JSON-RPC error: \"message\" must be a string"), MCP_PARSE_INVALID;
    msg->kind = MCP_MSG_ERROR;
    msg->error_code = json_integer_value(code);
    msg->error_message = message ? json_string_value(message) : "";
    msg->error_data = json_object_get(error, "data");
    return MCP_PARSE_OK;
}

mcp_parse_status_t mcp_jsonrpc_classify(json_t *value, mcp_msg_t *msg, err_t *err)
{
    memset(msg, 0, sizeof *msg);
    if (!value)
        return err_set(err, "invalid JSON-RPC message: no value"), MCP_PARSE_INVALID;
    msg->root = json_incref(value);
    if (json_is_array(value)) {
        if (json_array_size(value) == 0)
            return err_set(err, "invalid JSON-RPC message: empty batch"), MCP_PARSE_INVALID;
        return MCP_PARSE_BATCH;
    }
    if (!json_is_object(value))
        return err_set(err, "invalid JSON-RPC message: not an object"), MCP_PARSE_INVALID;
    return classify_object(msg, err);
}

mcp_parse_status_t mcp_jsonrpc_parse(const char *text, size_t len, mcp_msg_t *msg, err_t *err)
{
    memset(msg, 0, sizeof *msg);
    json_error_t jerr;
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!v)
        return err_set(err, "JSON parse error at line %d column %d: %s", jerr.line, jerr.column, jerr.text),
               MCP_PARSE_NOT_JSON;
    mcp_parse_status_t st = mcp_jsonrpc_classify(v, msg, err);
    json_decref(v);
    return st;
}

bool mcp_jsonrpc_batch_allowed(const char *protocol_version)
{
    return protocol_version && strcmp(protocol_version, "2025-03-26") == 0;
}

/* json_object_set with a borrowed value; jansson takes its own reference. */
static bool set_borrowed(json_t *o, const char *key, const json_t *v)
{
    return json_object_set(o, key, (json_t *)v) == 0;
}

json_t *mcp_jsonrpc_request(const json_t *id, const char *method, const json_t *params)
{
    json_t *o = json_pack("{s:s, s:s}", "jsonrpc", "2.0", "method", method);
    if (!o)
        return NULL;
    if ((id && !set_borrowed(o, "id", id)) || (params && !set_borrowed(o, "params", params))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *mcp_jsonrpc_notification(const char *method, const json_t *params)
{
    return mcp_jsonrpc_request(NULL, method, params);
}

json_t *mcp_jsonrpc_result(const json_t *id, const json_t *result)
{
    json_t *o = json_pack("{s:s}", "jsonrpc", "2.0");
    if (!o)
        return NULL;
    bool ok = id ? set_borrowed(o, "id", id) : json_object_set_new(o, "id", json_null()) == 0;
    ok = ok && (result ? set_borrowed(o, "result", result) : json_object_set_new(o, "result", json_object()) == 0);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *mcp_jsonrpc_error(const json_t *id, json_int_t code, const char *message, const json_t *data)
{
    json_t *e = json_pack("{s:I, s:s}", "code", code, "message", message ? message : "");
    json_t *o = json_pack("{s:s}", "jsonrpc", "2.0");
    bool ok = e && o;
    ok = ok && (id ? set_borrowed(o, "id", id) : json_object_set_new(o, "id", json_null()) == 0);
    ok = ok && (!data || set_borrowed(e, "data", data));
    if (ok) {
        ok = json_object_set_new(o, "error", e) == 0;
        e = NULL;
    }
    json_decref(e);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

char *mcp_jsonrpc_serialize(const json_t *msg, size_t *len)
{
    /* Compact output never contains a raw newline: jansson escapes control
     * characters inside strings, which is what stdio framing needs. */
    char *s = json_dumps(msg, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s && len)
        *len = strlen(s);
    return s;
}
