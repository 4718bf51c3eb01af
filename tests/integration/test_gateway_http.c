/* Raw HTTP probes against a running flowgate with real backends: routes,
 * auth, the streamable-HTTP status codes and headers, SSE bodies, an HTTP
 * backend behind the gateway, large payloads, /health and /close (spec:
 * gateway §4, §8 cases 5–16, 22, 34).
 *
 * Backends: server-everything and server-memory over stdio, and
 * server-everything in streamable-HTTP mode on 127.0.0.1 as an HTTP
 * backend. One routed gateway serves every test in order; the last test
 * closes it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

static fg_gateway_t gw;
static fg_proc_t remote, legacy;
static char url_everything[160], url_memory[160], url_remote[160], url_legacy[160];
static char auth_hdr[300];

static const char *init_body =
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\","
    "\"capabilities\":{},\"clientInfo\":{\"name\":\"probe\",\"version\":\"1\"}}}";

static int setup(void **state)
{
    (void)state;
    int port = fg_free_port();
    char portenv[32];
    snprintf(portenv, sizeof portenv, "PORT=%d", port);
    char *env[] = {portenv, NULL};
    char *argv[] = {(char *)fg_node_bin(), (char *)fg_everything_js(), "streamableHttp", NULL};
    assert_true(fg_spawn(&remote, argv, env, NULL, false));
    assert_true(fg_wait_port(port, 20000));
    /* The same server in its 2024-11-05 HTTP+SSE mode (GET /sse). */
    int sse_port = fg_free_port();
    char sse_portenv[32];
    snprintf(sse_portenv, sizeof sse_portenv, "PORT=%d", sse_port);
    char *sse_env[] = {sse_portenv, NULL};
    char *sse_argv[] = {(char *)fg_node_bin(), (char *)fg_everything_js(), "sse", NULL};
    assert_true(fg_spawn(&legacy, sse_argv, sse_env, NULL, false));
    assert_true(fg_wait_port(sse_port, 20000));
    char *mem = fg_tempdir("memory");
    char cfg[4096];
    snprintf(cfg, sizeof cfg,
             "{\"mcpServers\":{"
             "\"everything\":{\"type\":\"stdio\",\"command\":\"%s\",\"args\":[\"%s\",\"stdio\"]},"
             "\"memory\":{\"type\":\"stdio\",\"command\":\"%s\",\"args\":[\"%s\"],\"env\":{\"MEMORY_FILE_PATH\":\"%s/m.jsonl\"}},"
             "\"remote\":{\"type\":\"http\",\"url\":\"http://127.0.0.1:%d/mcp\"},"
             "\"legacy\":{\"type\":\"http\",\"url\":\"http://127.0.0.1:%d/sse\"}},"
             "\"gateway\":{\"port\":3000,\"domain\":\"localhost\",\"agentId\":\"test-api-key-123\"}}",
             fg_node_bin(), fg_everything_js(), fg_node_bin(), fg_memory_js(), mem, port, sse_port);
    free(mem);
    const char *extra[] = {"--payload-size-threshold", "2000", NULL};
    assert_true(fg_gateway_start(&gw, cfg, extra, 60000));
    snprintf(url_everything, sizeof url_everything, "%s/mcp/everything", gw.url_base);
    snprintf(url_memory, sizeof url_memory, "%s/mcp/memory", gw.url_base);
    snprintf(url_remote, sizeof url_remote, "%s/mcp/remote", gw.url_base);
    snprintf(url_legacy, sizeof url_legacy, "%s/mcp/legacy", gw.url_base);
    snprintf(auth_hdr, sizeof auth_hdr, "Authorization: %s", gw.auth);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (gw.proc.pid > 0)
        fg_gateway_stop(&gw);
    fg_proc_stop(&remote, 3000);
    fg_proc_stop(&legacy, 3000);
    return 0;
}

/* POST with the usual MCP headers plus `more` (NULL-terminated). */
static void post(const char *url, const char *session, const char *body, const char *const more[], fg_resp_t *r)
{
    const char *h[16];
    int n = 0;
    h[n++] = auth_hdr;
    h[n++] = "Content-Type: application/json";
    h[n++] = "Accept: application/json, text/event-stream";
    char sh[128];
    if (session) {
        snprintf(sh, sizeof sh, "Mcp-Session-Id: %s", session);
        h[n++] = sh;
    }
    for (int i = 0; more && more[i] && n < 15; i++)
        h[n++] = more[i];
    h[n] = NULL;
    assert_true(fg_http("POST", url, h, body, r));
}

/* initialize + notifications/initialized; returns the session id. */
static char *open_session(const char *url)
{
    fg_resp_t r;
    post(url, NULL, init_body, NULL, &r);
    assert_int_equal(r.status, 200);
    char *sid = fg_resp_header(&r, "Mcp-Session-Id");
    assert_non_null(sid);
    fg_resp_free(&r);
    post(url, sid, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", NULL, &r);
    assert_int_equal(r.status, 202);
    fg_resp_free(&r);
    return sid;
}

static json_t *call(const char *url, const char *sid, const char *body)
{
    fg_resp_t r;
    post(url, sid, body, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *v = fg_sse_first(r.body);
    if (!v)
        fprintf(stderr, "no SSE data in: %s\n", r.body);
    assert_non_null(v);
    fg_resp_free(&r);
    return v;
}

static void test_health_needs_no_auth_and_reports_servers(void **state)
{
    (void)state;
    const char *methods[] = {"GET", "POST", "HEAD"};
    char url[160];
    snprintf(url, sizeof url, "%s/health", gw.url_base);
    for (int i = 0; i < 3; i++) {
        fg_resp_t r;
        assert_true(fg_http(methods[i], url, NULL, NULL, &r));
        assert_int_equal(r.status, 200);
        char *ct = fg_resp_header(&r, "Content-Type");
        assert_string_equal(ct, "application/json");
        free(ct);
        if (i < 2) {
            json_t *h = json_loads(r.body, 0, NULL);
            assert_string_equal(json_string_value(json_object_get(h, "status")), "healthy");
            assert_string_equal(json_string_value(json_object_get(h, "specVersion")), "1.14.0");
            assert_non_null(json_object_get(h, "gatewayVersion"));
            json_t *s = json_object_get(h, "servers");
            assert_int_equal(json_object_size(s), 4);
            assert_string_equal(json_string_value(json_object_get(json_object_get(s, "remote"), "status")), "running");
            assert_string_equal(json_string_value(json_object_get(json_object_get(s, "legacy"), "status")), "running");
            json_decref(h);
        }
        fg_resp_free(&r);
    }
}

static void expect_status(const char *method, const char *url, const char *const h[], const char *body, long status,
                          const char *body_part)
{
    fg_resp_t r;
    assert_true(fg_http(method, url, h, body, &r));
    if (r.status != status || (body_part && !strstr(r.body, body_part)))
        fprintf(stderr, "%s %s -> %ld %s (wanted %ld, \"%s\")\n", method, url, r.status, r.body, status,
                body_part ? body_part : "");
    assert_int_equal(r.status, status);
    if (body_part)
        assert_non_null(strstr(r.body, body_part));
    fg_resp_free(&r);
}

static void test_auth_failures_use_upstream_texts(void **state)
{
    (void)state;
    const char *ct = "Content-Type: application/json", *acc = "Accept: application/json, text/event-stream";
    const char *none[] = {ct, acc, NULL};
    expect_status("POST", url_everything, none, init_body, 401,
                  "{\"error\":\"unauthorized\",\"message\":\"missing Authorization header\"}");
    const char *wrong[] = {ct, acc, "Authorization: wrong-key", NULL};
    expect_status("POST", url_everything, wrong, init_body, 401, "\"message\":\"invalid API key\"");
    const char *bearer[] = {ct, acc, "Authorization: Bearer test-api-key-123", NULL};
    expect_status("POST", url_everything, bearer, init_body, 401, "invalid API key");
    const char *cased[] = {ct, acc, "Authorization: TEST-API-KEY-123", NULL};
    expect_status("POST", url_everything, cased, init_body, 401, "invalid API key");
    const char *ctl[] = {ct, acc, "Authorization: test-api-key-123\x01x", NULL};
    expect_status("POST", url_everything, ctl, init_body, 400,
                  "{\"error\":\"bad_request\",\"message\":\"malformed Authorization header\"}");
    const char *right[] = {ct, acc, auth_hdr, NULL};
    expect_status("POST", url_everything, right, init_body, 200, "awmg-everything");
}

static void test_unknown_routes_are_404(void **state)
{
    (void)state;
    const char *h[] = {auth_hdr, "Content-Type: application/json", "Accept: application/json, text/event-stream", NULL};
    char url[200];
    const char *paths[] = {"/mcp", "/mcp/nope", "/mcp/sys", "/", "/.well-known/oauth-authorization-server",
                           "/mcp/.well-known/oauth-authorization-server"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        snprintf(url, sizeof url, "%s%s", gw.url_base, paths[i]);
        expect_status("POST", url, h, init_body, 404, "404 page not found");
    }
}

static void test_initialize_answers_sse_with_session_header(void **state)
{
    (void)state;
    fg_resp_t r;
    post(url_everything, NULL, init_body, NULL, &r);
    assert_int_equal(r.status, 200);
    char *ct = fg_resp_header(&r, "Content-Type");
    assert_string_equal(ct, "text/event-stream");
    free(ct);
    char *cc = fg_resp_header(&r, "Cache-Control");
    assert_string_equal(cc, "no-cache, no-transform");
    free(cc);
    char *sid = fg_resp_header(&r, "Mcp-Session-Id");
    assert_non_null(sid);
    assert_int_equal(strlen(sid), 26);
    assert_int_equal(strncmp(r.body, "event: message\ndata: ", 21), 0);
    json_t *v = fg_sse_first(r.body);
    json_t *res = json_object_get(v, "result");
    assert_int_equal(json_integer_value(json_object_get(v, "id")), 1);
    assert_string_equal(json_string_value(json_object_get(res, "protocolVersion")), "2025-06-18");
    assert_string_equal(json_string_value(json_object_get(json_object_get(res, "serverInfo"), "name")),
                        "awmg-everything");
    assert_non_null(json_object_get(json_object_get(res, "capabilities"), "tools"));
    json_decref(v);
    free(sid);
    fg_resp_free(&r);
}

static void test_streamable_http_status_codes(void **state)
{
    (void)state;
    char *sid = open_session(url_everything);
    char sh[128];
    snprintf(sh, sizeof sh, "Mcp-Session-Id: %s", sid);
    const char *text_ct[] = {auth_hdr, "Content-Type: text/plain", "Accept: application/json, text/event-stream", NULL};
    expect_status("POST", url_everything, text_ct, init_body, 415, "Content-Type must be 'application/json'");
    const char *json_only[] = {auth_hdr, "Content-Type: application/json", "Accept: application/json", NULL};
    expect_status("POST", url_everything, json_only, init_body, 400, "Accept must contain both");
    fg_resp_t r;
    post(url_everything, sid, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"foo/bar\"}", NULL, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "JSON RPC not handled: \"foo/bar\" unsupported"));
    fg_resp_free(&r);
    /* go-sdk's checkRequest: ids exactly on requests, params where required. */
    static const struct {
        const char *body, *text;
    } invalid[] = {
        {"{\"jsonrpc\":\"2.0\",\"method\":\"tools/list\"}", "invalid request: missing id for \"tools/list\"\n"},
        {"{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"notifications/initialized\"}",
         "invalid request: unexpected id for \"notifications/initialized\"\n"},
        {"{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\"}", "invalid request: missing required \"params\"\n"},
        {"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}", "invalid request: missing required \"params\"\n"},
    };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        post(url_everything, sid, invalid[i].body, NULL, &r);
        assert_int_equal(r.status, 400);
        assert_string_equal(r.body, invalid[i].text);
        fg_resp_free(&r);
    }
    /* Params may be left out where go-sdk allows it. */
    post(url_everything, sid, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}", NULL, &r);
    assert_int_equal(r.status, 200);
    fg_resp_free(&r);
    post(url_everything, sid, "", NULL, &r);
    assert_int_equal(r.status, 400);
    fg_resp_free(&r);
    post(url_everything, sid, "{not json", NULL, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "malformed payload"));
    fg_resp_free(&r);
    const char *badver[] = {"MCP-Protocol-Version: 1999-01-01", NULL};
    post(url_everything, sid, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}", badver, &r);
    assert_int_equal(r.status, 400);
    fg_resp_free(&r);
    post(url_everything, "NOSUCHSESSION", "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}", NULL, &r);
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(r.body, "session not found"));
    fg_resp_free(&r);
    /* GET: needs a session; with one it opens a stream (cut short here). */
    const char *get_nosess[] = {auth_hdr, "Accept: text/event-stream", NULL};
    expect_status("GET", url_everything, get_nosess, NULL, 400, "GET requires an Mcp-Session-Id header");
    const char *get_sess[] = {auth_hdr, "Accept: text/event-stream", sh, NULL};
    assert_false(fg_http_ex("GET", url_everything, get_sess, NULL, 700, &r));
    assert_int_equal(r.status, 200);
    char *ct = fg_resp_header(&r, "Content-Type");
    assert_string_equal(ct, "text/event-stream");
    free(ct);
    fg_resp_free(&r);
    const char *put[] = {auth_hdr, "Content-Type: application/json", "Accept: application/json, text/event-stream", NULL};
    assert_true(fg_http("PUT", url_everything, put, "{}", &r));
    assert_int_equal(r.status, 405);
    char *allow = fg_resp_header(&r, "Allow");
    assert_string_equal(allow, "GET, POST, DELETE");
    free(allow);
    fg_resp_free(&r);
    /* DELETE ends the session; it is then unknown. */
    const char *del_nosess[] = {auth_hdr, NULL};
    expect_status("DELETE", url_everything, del_nosess, NULL, 400, "DELETE requires an Mcp-Session-Id header");
    const char *del[] = {auth_hdr, sh, NULL};
    expect_status("DELETE", url_everything, del, NULL, 204, NULL);
    post(url_everything, sid, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}", NULL, &r);
    assert_int_equal(r.status, 404);
    fg_resp_free(&r);
    /* A session belongs to its route. */
    char *sid2 = open_session(url_everything);
    post(url_memory, sid2, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}", NULL, &r);
    assert_int_equal(r.status, 404);
    fg_resp_free(&r);
    free(sid2);
    free(sid);
}

static void test_methods_before_initialize_are_rejected(void **state)
{
    (void)state;
    fg_resp_t r;
    post(url_everything, NULL, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/list\"}", NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *v = fg_sse_first(r.body);
    assert_non_null(strstr(json_string_value(json_object_get(json_object_get(v, "error"), "message")),
                           "is invalid during session initialization"));
    /* The session was not kept: no header. */
    char *sid = fg_resp_header(&r, "Mcp-Session-Id");
    assert_null(sid);
    json_decref(v);
    fg_resp_free(&r);
}

static void test_tools_list_and_calls_through_stdio_and_http_backends(void **state)
{
    (void)state;
    char *sid = open_session(url_everything);
    json_t *v = call(url_everything, sid, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
    json_t *tools = json_object_get(json_object_get(v, "result"), "tools");
    assert_true(json_array_size(tools) >= 10);
    const char *prev = "";
    size_t i;
    json_t *t;
    bool saw_echo = false;
    json_array_foreach(tools, i, t) {
        const char *name = json_string_value(json_object_get(t, "name"));
        assert_true(strcmp(prev, name) < 0); /* sorted */
        prev = name;
        if (!strcmp(name, "echo")) {
            saw_echo = true;
            assert_int_equal(strncmp(json_string_value(json_object_get(t, "description")), "[everything] ", 13), 0);
            assert_non_null(json_object_get(t, "inputSchema"));
        }
    }
    assert_true(saw_echo);
    json_decref(v);
    v = call(url_everything, sid,
             "{\"jsonrpc\":\"2.0\",\"id\":\"c1\",\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{\"message\":\"raw\"}}}");
    assert_string_equal(json_string_value(json_object_get(v, "id")), "c1");
    json_t *content = json_object_get(json_object_get(v, "result"), "content");
    assert_string_equal(json_string_value(json_object_get(json_array_get(content, 0), "text")), "Echo: raw");
    json_decref(v);
    v = call(url_everything, sid,
             "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"foobar\",\"arguments\":{}}}");
    json_t *err = json_object_get(v, "error");
    assert_int_equal(json_integer_value(json_object_get(err, "code")), -32602);
    assert_string_equal(json_string_value(json_object_get(err, "message")), "unknown tool \"foobar\"");
    json_decref(v);
    /* Arguments that are not an object: upstream's decoding error. */
    v = call(url_everything, sid,
             "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":[1]}}");
    assert_string_equal(json_string_value(json_object_get(json_object_get(v, "error"), "message")),
                        "failed to parse arguments: json: cannot unmarshal array into Go value of type "
                        "map[string]interface {}");
    json_decref(v);
    /* Another backend's tool is not reachable through this route. */
    v = call(url_everything, sid,
             "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"read_graph\",\"arguments\":{}}}");
    assert_non_null(json_object_get(v, "error"));
    json_decref(v);
    v = call(url_everything, sid, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"resources/list\"}");
    assert_int_equal(json_array_size(json_object_get(json_object_get(v, "result"), "resources")), 0);
    json_decref(v);
    v = call(url_everything, sid, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"resources/read\",\"params\":{\"uri\":\"x://y\"}}");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(v, "error"), "code")), -32002);
    json_decref(v);
    free(sid);
    /* The HTTP backend. */
    sid = open_session(url_remote);
    v = call(url_remote, sid,
             "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{\"name\":\"get-sum\",\"arguments\":{\"a\":20,\"b\":22}}}");
    content = json_object_get(json_object_get(v, "result"), "content");
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(content, 0), "text")), "42"));
    json_decref(v);
    free(sid);
    /* The HTTP backend that speaks only HTTP+SSE (2024-11-05). */
    sid = open_session(url_legacy);
    v = call(url_legacy, sid, "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"tools/list\"}");
    assert_true(json_array_size(json_object_get(json_object_get(v, "result"), "tools")) >= 10);
    json_decref(v);
    v = call(url_legacy, sid,
             "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{\"message\":\"via sse\"}}}");
    content = json_object_get(json_object_get(v, "result"), "content");
    assert_string_equal(json_string_value(json_object_get(json_array_get(content, 0), "text")), "Echo: via sse");
    json_decref(v);
    free(sid);
}

static void test_tools_call_without_session_is_auto_initialised(void **state)
{
    (void)state;
    json_t *v = call(url_everything, NULL,
                     "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{\"message\":\"gemini\"}}}");
    json_t *content = json_object_get(json_object_get(v, "result"), "content");
    assert_string_equal(json_string_value(json_object_get(json_array_get(content, 0), "text")), "Echo: gemini");
    json_decref(v);
}

static void test_large_result_is_saved_to_payload_dir(void **state)
{
    (void)state;
    char *sid = open_session(url_everything);
    char body[8192];
    char msg[5001];
    memset(msg, 'z', 5000);
    msg[5000] = 0;
    snprintf(body, sizeof body,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{\"message\":\"%s\"}}}",
             msg);
    json_t *v = call(url_everything, sid, body);
    json_t *content = json_object_get(json_object_get(v, "result"), "content");
    assert_int_equal(json_array_size(content), 1);
    json_t *meta = json_loads(json_string_value(json_object_get(json_array_get(content, 0), "text")), 0, NULL);
    assert_non_null(meta);
    const char *path = json_string_value(json_object_get(meta, "payloadPath"));
    char want[400];
    snprintf(want, sizeof want, "%s/test-api-key-123/", gw.payload_dir);
    assert_int_equal(strncmp(path, want, strlen(want)), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_true(json_integer_value(json_object_get(meta, "originalSize")) > 5000);
    json_decref(meta);
    json_decref(v);
    free(sid);
}

static void test_logs_record_backend_rpc_and_startup(void **state)
{
    (void)state;
    char path[400];
    snprintf(path, sizeof path, "%s/rpc-messages.jsonl", gw.log_dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[65536];
    bool saw_call = false;
    while (fgets(line, sizeof line, f)) {
        json_t *rec = json_loads(line, 0, NULL);
        assert_non_null(rec);
        assert_string_equal(json_string_value(json_object_get(rec, "_schema")), "rpc-message/v2");
        const char *m = json_string_value(json_object_get(rec, "method"));
        if (m && !strcmp(m, "tools/call") &&
            !strcmp(json_string_value(json_object_get(rec, "direction")), "OUT"))
            saw_call = true;
        json_decref(rec);
    }
    fclose(f);
    assert_true(saw_call);
    snprintf(path, sizeof path, "%s/mcp-gateway.log", gw.log_dir);
    f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(line, 1, sizeof line - 1, f);
    line[n] = 0;
    fclose(f);
    assert_non_null(strstr(line, "] [INFO] [startup] Starting MCPG"));
    snprintf(path, sizeof path, "%s/everything.log", gw.log_dir);
    assert_int_equal(access(path, R_OK), 0);
    snprintf(path, sizeof path, "%s/tools.json", gw.log_dir);
    assert_int_equal(access(path, R_OK), 0);
}

static void test_close_then_gate_then_exit_zero(void **state)
{
    (void)state;
    char url[160];
    snprintf(url, sizeof url, "%s/close", gw.url_base);
    const char *noauth[] = {NULL};
    expect_status("POST", url, noauth, NULL, 401, "missing Authorization header");
    const char *h[] = {auth_hdr, NULL};
    expect_status("GET", url, h, NULL, 405, "{\"error\":\"method_not_allowed\",\"message\":\"method not allowed\"}");
    fg_resp_t r;
    assert_true(fg_http("POST", url, h, NULL, &r));
    assert_int_equal(r.status, 200);
    json_t *v = json_loads(r.body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(v, "status")), "closed");
    assert_string_equal(json_string_value(json_object_get(v, "message")), "Gateway shutdown initiated");
    assert_int_equal(json_integer_value(json_object_get(v, "serversTerminated")), 4);
    json_decref(v);
    fg_resp_free(&r);
    /* Until the process is gone: 410 for close, 503 for MCP, health 200. */
    if (fg_http("POST", url, h, NULL, &r)) {
        assert_int_equal(r.status, 410);
        assert_non_null(strstr(r.body, "Gateway has already been closed"));
    }
    fg_resp_free(&r);
    const char *mh[] = {auth_hdr, "Content-Type: application/json", "Accept: application/json, text/event-stream", NULL};
    if (fg_http("POST", url_everything, mh, init_body, &r)) {
        assert_int_equal(r.status, 503);
        assert_non_null(strstr(r.body, "Gateway is shutting down"));
    }
    fg_resp_free(&r);
    int st = fg_proc_wait(&gw.proc, 15000);
    assert_int_equal(st, 0);
}

/* argv[1], if given, selects tests by name pattern (cmocka filter): the
 * ThreadSanitizer build registers a subset. */
int main(int argc, char **argv)
{
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health_needs_no_auth_and_reports_servers),
        cmocka_unit_test(test_auth_failures_use_upstream_texts),
        cmocka_unit_test(test_unknown_routes_are_404),
        cmocka_unit_test(test_initialize_answers_sse_with_session_header),
        cmocka_unit_test(test_streamable_http_status_codes),
        cmocka_unit_test(test_methods_before_initialize_are_rejected),
        cmocka_unit_test(test_tools_list_and_calls_through_stdio_and_http_backends),
        cmocka_unit_test(test_tools_call_without_session_is_auto_initialised),
        cmocka_unit_test(test_large_result_is_saved_to_payload_dir),
        cmocka_unit_test(test_logs_record_backend_rpc_and_startup),
        cmocka_unit_test(test_close_then_gate_then_exit_zero),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
