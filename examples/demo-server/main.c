/*
 * demo-server — a small MCP server over stdio, the backend of Flowgate's
 * bundled example and of its end-to-end tests.
 *
 * Wire (spec: mcp-protocol §1.2): one JSON-RPC 2.0 message per line on stdin
 * and stdout; stderr is free-form. The server exits 0 when stdin ends.
 * Lifecycle (§1.4): `initialize` negotiates the protocol version (a supported
 * one is echoed, anything else gets the latest); before it only `ping` is
 * served. Methods: initialize, ping, tools/list (paged when DEMO_PAGE_SIZE is
 * set; a bad cursor is -32602), tools/call (the tracker's tools, tracker.h).
 * Errors: -32700 for a line that is not JSON, -32600 for a message that is not
 * a JSON-RPC request (batches included), -32601 for an unknown method, -32602
 * for bad params or an unknown tool.
 *
 * Usage: demo-server [--log FILE]
 *   --log FILE / DEMO_SERVER_LOG=FILE   append every tools/call received
 *   DEMO_PAGE_SIZE=N                    tools/list returns N tools a page
 */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tracker.h"

#define SERVER_NAME "flowgate-demo-server"
#define SERVER_VERSION "0.1.0"

static const char *const supported_versions[] = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};

typedef struct server {
    tracker_t *tracker;
    json_t *tools;       /* the full tool list */
    size_t page_size;    /* 0: no paging */
    bool initialized;    /* an initialize request was answered */
} server_t;

/* Writes one message as one line. False when stdout is gone. */
static bool send_message(json_t *msg)
{
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (!text)
        return false;
    bool ok = fputs(text, stdout) >= 0 && fputc('\n', stdout) != EOF && fflush(stdout) == 0;
    free(text);
    return ok;
}

static json_t *error_response(const json_t *id, int code, const char *message)
{
    return json_pack("{s:s, s:O?, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id, "error", "code", code, "message",
                     message);
}

static json_t *result_response(const json_t *id, json_t *result /* stolen */)
{
    return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result);
}

static json_t *handle_initialize(server_t *s, const json_t *id, const json_t *params)
{
    const char *asked = json_string_value(json_object_get(params, "protocolVersion"));
    if (!asked)
        return error_response(id, -32602, "Invalid params: initialize needs a string protocolVersion");
    const char *version = supported_versions[0];
    for (size_t i = 0; i < sizeof supported_versions / sizeof supported_versions[0]; i++) {
        if (strcmp(asked, supported_versions[i]) == 0)
            version = supported_versions[i];
    }
    s->initialized = true;
    return result_response(
        id, json_pack("{s:s, s:{s:{s:b}}, s:{s:s, s:s}, s:s}", "protocolVersion", version, "capabilities", "tools",
                      "listChanged", 0, "serverInfo", "name", SERVER_NAME, "version", SERVER_VERSION,
                      "instructions",
                      "An issue tracker (demo/tracker) with public and private issues."));
}

/* Cursors are "offset:<n>" with 0 < n < number of tools; opaque to clients. */
static json_t *handle_tools_list(server_t *s, const json_t *id, const json_t *params)
{
    size_t total = json_array_size(s->tools), start = 0;
    json_t *cursor = json_object_get(params, "cursor");
    if (cursor && !json_is_null(cursor)) {
        const char *c = json_string_value(cursor);
        char *end = NULL;
        unsigned long n = 0;
        if (c && strncmp(c, "offset:", 7) == 0 && c[7] >= '0' && c[7] <= '9') {
            errno = 0;
            n = strtoul(c + 7, &end, 10);
        }
        if (!end || *end != '\0' || errno != 0 || n == 0 || n >= total)
            return error_response(id, -32602, "Invalid params: unknown cursor");
        start = n;
    }
    size_t count = s->page_size ? s->page_size : total;
    if (count > total - start)
        count = total - start;
    json_t *page = json_array();
    for (size_t i = start; page && i < start + count; i++) {
        if (json_array_append(page, json_array_get(s->tools, i)) != 0) {
            json_decref(page);
            page = NULL;
        }
    }
    json_t *result = page ? json_pack("{s:o}", "tools", page) : NULL;
    if (result && start + count < total) {
        char next[32];
        snprintf(next, sizeof next, "offset:%zu", start + count);
        if (json_object_set_new(result, "nextCursor", json_string(next)) != 0) {
            json_decref(result);
            result = NULL;
        }
    }
    if (!result)
        return error_response(id, -32603, "Internal error: out of memory");
    return result_response(id, result);
}

static json_t *handle_tools_call(server_t *s, const json_t *id, const json_t *params)
{
    tracker_outcome_t out = tracker_call(s->tracker, params);
    if (!out.result)
        return error_response(id, out.code, out.message);
    return result_response(id, out.result);
}

/* Handles one parsed message; returns the reply, or NULL when none is due
 * (notifications, responses). */
static json_t *handle_message(server_t *s, const json_t *msg)
{
    if (!json_is_object(msg))
        return error_response(NULL, -32600, "Invalid Request: expected a JSON-RPC object (batches are not supported)");
    json_t *id = json_object_get(msg, "id");
    json_t *method = json_object_get(msg, "method");
    const char *version = json_string_value(json_object_get(msg, "jsonrpc"));
    bool id_ok = json_is_string(id) || json_is_integer(id);
    if (!version || strcmp(version, "2.0") != 0 || (id && !id_ok))
        return error_response(id_ok ? id : NULL, -32600, "Invalid Request: not a JSON-RPC 2.0 message");
    if (!method) {
        if (json_object_get(msg, "result") || json_object_get(msg, "error"))
            return NULL; /* a response; this server sends no requests */
        return error_response(id, -32600, "Invalid Request: missing method");
    }
    if (!json_is_string(method))
        return error_response(id, -32600, "Invalid Request: method must be a string");
    if (!id) /* notification: notifications/initialized, cancelled, ...: nothing to answer */
        return NULL;
    const char *m = json_string_value(method);
    json_t *params = json_object_get(msg, "params");
    if (params && !json_is_object(params))
        return error_response(id, -32602, "Invalid params: params must be an object");
    if (strcmp(m, "initialize") == 0)
        return handle_initialize(s, id, params);
    if (strcmp(m, "ping") == 0)
        return result_response(id, json_object());
    if (!s->initialized)
        return error_response(id, -32600, "Invalid Request: server not initialized");
    if (strcmp(m, "tools/list") == 0)
        return handle_tools_list(s, id, params);
    if (strcmp(m, "tools/call") == 0)
        return handle_tools_call(s, id, params);
    return error_response(id, -32601, "Method not found");
}

static bool parse_page_size(const char *text, size_t *out)
{
    char *end = NULL;
    errno = 0;
    long n = strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || errno != 0 || n < 0)
        return false;
    *out = (size_t)n;
    return true;
}

int main(int argc, char **argv)
{
    const char *log_path = getenv("DEMO_SERVER_LOG");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--log") == 0 && i + 1 < argc) {
            log_path = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--log FILE]\n", argv[0]);
            return 2;
        }
    }
    server_t s = {0};
    const char *page = getenv("DEMO_PAGE_SIZE");
    if (page && *page && !parse_page_size(page, &s.page_size)) {
        fprintf(stderr, "demo-server: DEMO_PAGE_SIZE must be a non-negative integer, got '%s'\n", page);
        return 2;
    }
    FILE *log = NULL;
    if (log_path && *log_path) {
        log = fopen(log_path, "a");
        if (!log) {
            fprintf(stderr, "demo-server: cannot open log %s: %s\n", log_path, strerror(errno));
            return 1;
        }
    }
    /* A client that goes away must end us through a failed write, not a signal. */
    signal(SIGPIPE, SIG_IGN);
    s.tracker = tracker_new(log);
    s.tools = tracker_tool_list();
    if (!s.tracker || !s.tools) {
        fprintf(stderr, "demo-server: out of memory\n");
        return 1;
    }
    fprintf(stderr, "demo-server: ready (%zu tools)\n", json_array_size(s.tools));

    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int status = 0;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0)
            continue;
        json_error_t jerr;
        json_t *msg = json_loadb(line, (size_t)n, JSON_DECODE_ANY, &jerr);
        json_t *reply = msg ? handle_message(&s, msg) : error_response(NULL, -32700, "Parse error");
        json_decref(msg);
        if (reply && !send_message(reply)) {
            status = 1;
            break;
        }
    }
    free(line);
    json_decref(s.tools);
    tracker_free(s.tracker);
    if (log)
        fclose(log);
    return status;
}
