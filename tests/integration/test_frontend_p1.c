/* The front end's P1 behaviours against a running flowgate (spec: gateway
 * §4.5 DNS-rebinding and Accept/Content-Type rules with go-sdk's texts,
 * §4.7 session auto-init, §3.3 + §8 case 21 the client session id reaching
 * a plain JSON-RPC HTTP backend as Mcp-Session-Id).
 *
 * Backend: tests/mcp/fixtures/fake_plain_server.mjs on 127.0.0.1 (a plain
 * JSON-RPC-over-POST server) as the http server "plain". One routed gateway
 * serves the tests; one test starts a second one with MCPGODEBUG set, one
 * a gateway whose http server uses github-oidc auth (§3.3, P1.9) with the
 * fake server's /token standing in for ACTIONS_ID_TOKEN_REQUEST_URL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

static fg_gateway_t gw;
static fg_proc_t plain;
static char cfg[1024];
static char url[160], auth_hdr[300];
static int plain_port;

static const char *init_body =
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\","
    "\"capabilities\":{},\"clientInfo\":{\"name\":\"probe\",\"version\":\"1\"}}}";
static const char *whoami_body =
    "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"whoami\",\"arguments\":{}}}";

static int setup(void **state)
{
    (void)state;
    int port = 0;
    for (int attempt = 0; attempt < 3 && !port; attempt++) {
        int p = fg_free_port();
        char ps[16];
        snprintf(ps, sizeof ps, "%d", p);
        char script[512];
        snprintf(script, sizeof script, "%s/mcp/fixtures/fake_plain_server.mjs", fg_tests_dir());
        char *argv[] = {(char *)fg_node_bin(), script, ps, NULL};
        if (!fg_spawn(&plain, argv, NULL, NULL, false))
            continue;
        if (fg_wait_port(p, 15000))
            port = p;
        else
            fg_proc_stop(&plain, 1000);
    }
    assert_true(port > 0);
    plain_port = port;
    snprintf(cfg, sizeof cfg,
             "{\"mcpServers\":{\"plain\":{\"type\":\"http\",\"url\":\"http://127.0.0.1:%d/rpc\"}},"
             "\"gateway\":{\"port\":3000,\"domain\":\"localhost\",\"agentId\":\"test-token\"}}",
             port);
    assert_true(fg_gateway_start(&gw, cfg, NULL, 60000));
    snprintf(url, sizeof url, "%s/mcp/plain", gw.url_base);
    snprintf(auth_hdr, sizeof auth_hdr, "Authorization: %s", gw.auth);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (gw.proc.pid > 0)
        fg_gateway_stop(&gw);
    fg_proc_stop(&plain, 2000);
    return 0;
}

/* One request; checks the status and, when given, the whole text body. */
static void expect(const char *method, const char *u, const char *const h[], const char *body, long status,
                   const char *text)
{
    fg_resp_t r;
    assert_true(fg_http(method, u, h, body, &r));
    if (r.status != status)
        fail_msg("%s: want %ld, got %ld: %s", method, status, r.status, r.body ? r.body : "");
    if (text)
        assert_string_equal(r.body, text);
    fg_resp_free(&r);
}

static void test_non_loopback_host_is_forbidden(void **state)
{
    (void)state;
    const char *ct = "Content-Type: application/json", *acc = "Accept: application/json, text/event-stream";
    const char *evil[] = {auth_hdr, ct, acc, "Host: evil.example.com", NULL};
    expect("POST", url, evil, init_body, 403, "Forbidden: invalid Host header \"evil.example.com\"\n");
    /* The check comes before the others: a GET and a bad Content-Type too. */
    const char *evil_get[] = {auth_hdr, "Host: attacker.test:80", NULL};
    expect("GET", url, evil_get, NULL, 403, "Forbidden: invalid Host header \"attacker.test:80\"\n");
    /* go-sdk compares "localhost" exactly. */
    const char *upper[] = {auth_hdr, ct, acc, "Host: LOCALHOST", NULL};
    expect("POST", url, upper, init_body, 403, "Forbidden: invalid Host header \"LOCALHOST\"\n");
    const char *loop[][5] = {{auth_hdr, ct, acc, "Host: localhost:3000", NULL},
                             {auth_hdr, ct, acc, "Host: 127.0.0.1", NULL},
                             {auth_hdr, ct, acc, "Host: [::1]:8080", NULL},
                             {auth_hdr, ct, acc, "Host: 127.5.6.7:1", NULL}};
    for (size_t i = 0; i < 4; i++)
        expect("POST", url, loop[i], init_body, 200, NULL);
}

static void test_disablelocalhostprotection_turns_the_host_check_off(void **state)
{
    (void)state;
    fg_gateway_t g2;
    setenv("MCPGODEBUG", "disablelocalhostprotection=1", 1);
    bool started = fg_gateway_start(&g2, cfg, NULL, 60000);
    unsetenv("MCPGODEBUG");
    assert_true(started);
    char u2[160], a2[300];
    snprintf(u2, sizeof u2, "%s/mcp/plain", g2.url_base);
    snprintf(a2, sizeof a2, "Authorization: %s", g2.auth);
    const char *evil[] = {a2, "Content-Type: application/json", "Accept: application/json, text/event-stream",
                          "Host: evil.example.com", NULL};
    fg_resp_t r;
    assert_true(fg_http("POST", u2, evil, init_body, &r));
    long st = r.status;
    fg_resp_free(&r);
    fg_gateway_stop(&g2);
    assert_int_equal(st, 200);
}

static void test_content_type_must_be_json(void **state)
{
    (void)state;
    const char *acc = "Accept: application/json, text/event-stream";
    const char *bad[][4] = {{auth_hdr, acc, "Content-Type: text/plain", NULL},
                            {auth_hdr, acc, "Content-Type: application/jsonx", NULL},
                            {auth_hdr, acc, "Content-Type:", NULL}};
    for (size_t i = 0; i < 3; i++)
        expect("POST", url, bad[i], init_body, 415, "Content-Type must be 'application/json'\n");
    const char *params[] = {auth_hdr, acc, "Content-Type: application/json; charset=utf-8", NULL};
    expect("POST", url, params, init_body, 200, NULL);
}

static void test_accept_values_match_exactly_as_in_go_sdk(void **state)
{
    (void)state;
    const char *ct = "Content-Type: application/json";
    const char *both = "Accept must contain both 'application/json' and 'text/event-stream'\n";
    const char *bad[][4] = {{auth_hdr, ct, "Accept: application/json", NULL},
                            {auth_hdr, ct, "Accept: text/event-stream", NULL},
                            {auth_hdr, ct, "Accept: application/json;q=0.9, text/event-stream", NULL},
                            {auth_hdr, ct, "Accept: Application/JSON, text/event-stream", NULL}};
    for (size_t i = 0; i < 4; i++)
        expect("POST", url, bad[i], init_body, 400, both);
    const char *good[][5] = {{auth_hdr, ct, "Accept: */*", NULL, NULL},
                             {auth_hdr, ct, "Accept: application/*, text/*", NULL, NULL},
                             {auth_hdr, ct, "Accept: application/json", "Accept: text/event-stream", NULL},
                             {auth_hdr, ct, "Accept:   application/json ,text/event-stream  ", NULL, NULL}};
    for (size_t i = 0; i < 4; i++)
        expect("POST", url, good[i], init_body, 200, NULL);
    /* GET needs only event-stream; other methods need both before their 405. */
    const char *get_json[] = {auth_hdr, "Accept: application/json", NULL};
    expect("GET", url, get_json, NULL, 400, "Accept must contain 'text/event-stream' for GET requests\n");
    const char *put_none[] = {auth_hdr, ct, "Accept:", NULL}; /* curl: no Accept at all */
    expect("PUT", url, put_none, "{}", 400, both);
    const char *put_ok[] = {auth_hdr, ct, "Accept: application/json, text/event-stream", NULL};
    fg_resp_t r;
    assert_true(fg_http("PUT", url, put_ok, "{}", &r));
    assert_int_equal(r.status, 405);
    char *allow = fg_resp_header(&r, "Allow");
    assert_non_null(allow);
    assert_string_equal(allow, "GET, POST, DELETE");
    free(allow);
    fg_resp_free(&r);
    /* DELETE needs no Accept at all. */
    const char *del[] = {auth_hdr, NULL};
    expect("DELETE", url, del, NULL, 400, "Bad Request: DELETE requires an Mcp-Session-Id header\n");
}

static void test_unsupported_protocol_version_lists_go_sdk_versions(void **state)
{
    (void)state;
    const char *h[] = {auth_hdr, "Content-Type: application/json", "Accept: application/json, text/event-stream",
                       "MCP-Protocol-Version: 1999-01-01", NULL};
    expect("POST", url, h, init_body, 400,
           "Bad Request: Unsupported protocol version (supported versions: 2025-11-25,2025-06-18,2025-03-26,2024-11-05)\n");
    /* An empty header counts as absent. */
    const char *empty[] = {auth_hdr, "Content-Type: application/json", "Accept: application/json, text/event-stream",
                           "MCP-Protocol-Version;", NULL}; /* curl: an empty value */
    expect("POST", url, empty, init_body, 200, NULL);
    const char *lei[] = {auth_hdr, "Content-Type: application/json", "Accept: application/json, text/event-stream",
                         "Last-Event-ID: x_1", NULL};
    expect("POST", url, lei, init_body, 400, "can't send Last-Event-ID for POST request\n");
}

/* A tools/call without a session as agent `agent` (X-Agent-ID, or the
 * Authorization value when NULL); returns whoami's JSON from the backend. */
static json_t *auto_init_whoami(const char *agent, char **session_header)
{
    char ah[200];
    snprintf(ah, sizeof ah, "X-Agent-ID: %s", agent ? agent : "");
    const char *h[] = {auth_hdr, "Content-Type: application/json", "Accept: application/json, text/event-stream",
                       agent ? ah : NULL, NULL};
    fg_resp_t r;
    assert_true(fg_http("POST", url, h, whoami_body, &r));
    assert_int_equal(r.status, 200);
    *session_header = fg_resp_header(&r, "Mcp-Session-Id");
    json_t *msg = fg_sse_first(r.body);
    assert_non_null(msg);
    fg_resp_free(&r);
    assert_int_equal(json_integer_value(json_object_get(msg, "id")), 7);
    json_t *content = json_object_get(json_object_get(msg, "result"), "content");
    const char *t = json_string_value(json_object_get(json_array_get(content, 0), "text"));
    if (!t)
        fail_msg("no tool result: %s", json_dumps(msg, JSON_COMPACT));
    json_t *w = json_loads(t, 0, NULL);
    json_decref(msg);
    assert_non_null(w);
    return w;
}

static void test_tools_call_without_session_is_auto_initialised(void **state)
{
    (void)state;
    char *sid = NULL;
    json_t *w = auto_init_whoami(NULL, &sid);
    assert_null(sid); /* the client never sees the internal session */
    /* §3.3 quirk kept: without X-Agent-ID the session id is the agent key. */
    assert_string_equal(json_string_value(json_object_get(w, "session")), "test-token");
    json_decref(w);
    char log[512];
    snprintf(log, sizeof log, "%s/mcp-gateway.log", gw.log_dir);
    FILE *f = fopen(log, "r");
    assert_non_null(f);
    char line[2048];
    bool warned = false, succeeded = false;
    while (fgets(line, sizeof line, f)) {
        warned |= strstr(line, "Gemini-compat: tools/call received before session initialization") != NULL;
        succeeded |= strstr(line, "auto-init succeeded") != NULL;
    }
    fclose(f);
    assert_true(warned);
    assert_true(succeeded);
    /* Other methods without a session get the pre-initialize gate. */
    const char *h[] = {auth_hdr, "Content-Type: application/json", "Accept: application/json, text/event-stream",
                       NULL};
    fg_resp_t r;
    assert_true(fg_http("POST", url, h, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\"}", &r));
    json_t *m = fg_sse_first(r.body);
    fg_resp_free(&r);
    assert_non_null(m);
    assert_non_null(strstr(json_string_value(json_object_get(json_object_get(m, "error"), "message")),
                           "invalid during session initialization"));
    json_decref(m);
}

/* tools/call whoami on `u` with headers h; the parsed JSON text it returns. */
static json_t *whoami_with(const char *u, const char *const h[])
{
    fg_resp_t r;
    assert_true(fg_http("POST", u, h, whoami_body, &r));
    json_t *m = fg_sse_first(r.body);
    fg_resp_free(&r);
    assert_non_null(m);
    json_t *content = json_object_get(json_object_get(m, "result"), "content");
    json_t *v = json_loads(json_string_value(json_object_get(json_array_get(content, 0), "text")), 0, NULL);
    json_decref(m);
    assert_non_null(v);
    return v;
}

static void test_client_session_reaches_plain_backend_as_mcp_session_id(void **state)
{
    (void)state;
    char *sid = NULL;
    json_t *w = auto_init_whoami("client-session-12345", &sid);
    free(sid);
    assert_string_equal(json_string_value(json_object_get(w, "session")), "client-session-12345");
    assert_true(json_is_null(json_object_get(w, "version")));
    json_decref(w);
    /* The same through an initialized session: the id bound at creation. */
    const char *h[] = {auth_hdr, "Content-Type: application/json", "Accept: application/json, text/event-stream",
                       "X-Agent-ID: agent-77", NULL};
    fg_resp_t r;
    assert_true(fg_http("POST", url, h, init_body, &r));
    assert_int_equal(r.status, 200);
    char *s = fg_resp_header(&r, "Mcp-Session-Id");
    fg_resp_free(&r);
    assert_non_null(s);
    char sh[128];
    snprintf(sh, sizeof sh, "Mcp-Session-Id: %s", s);
    free(s);
    const char *h2[] = {auth_hdr, "Content-Type: application/json", "Accept: application/json, text/event-stream", sh,
                        NULL};
    assert_true(fg_http("POST", url, h2, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &r));
    assert_int_equal(r.status, 202);
    fg_resp_free(&r);
    json_t *v = whoami_with(url, h2);
    assert_string_equal(json_string_value(json_object_get(v, "session")), "agent-77");
    json_decref(v);
}

static void test_github_oidc_bearer_token_replaces_static_authorization(void **state)
{
    (void)state;
    char ocfg[1024], token_url[200];
    snprintf(ocfg, sizeof ocfg,
             "{\"mcpServers\":{\"oidc\":{\"type\":\"http\",\"url\":\"http://127.0.0.1:%d/rpc\","
             "\"headers\":{\"Authorization\":\"static-secret\",\"X-Extra\":\"kept\"},"
             "\"auth\":{\"type\":\"github-oidc\",\"audience\":\"api://flowgate test\"}}},"
             "\"gateway\":{\"port\":3000,\"domain\":\"localhost\",\"agentId\":\"test-token\"}}",
             plain_port);
    snprintf(token_url, sizeof token_url, "http://127.0.0.1:%d/token?api-version=2.0", plain_port);
    char stats_url[200];
    snprintf(stats_url, sizeof stats_url, "http://127.0.0.1:%d/tokenstats", plain_port);
    fg_resp_t r;
    assert_true(fg_http("GET", stats_url, NULL, NULL, &r));
    json_t *st = json_loads(r.body, 0, NULL);
    fg_resp_free(&r);
    json_int_t before = json_integer_value(json_object_get(st, "fetches"));
    json_decref(st);

    fg_gateway_t g2;
    setenv("ACTIONS_ID_TOKEN_REQUEST_URL", token_url, 1);
    setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-secret", 1);
    bool started = fg_gateway_start(&g2, ocfg, NULL, 60000);
    unsetenv("ACTIONS_ID_TOKEN_REQUEST_URL");
    unsetenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN");
    assert_true(started);
    char u2[160], a2[300];
    snprintf(u2, sizeof u2, "%s/mcp/oidc", g2.url_base);
    snprintf(a2, sizeof a2, "Authorization: %s", g2.auth);
    const char *h[] = {a2, "Content-Type: application/json", "Accept: application/json, text/event-stream", NULL};
    json_t *w1 = whoami_with(u2, h);
    json_t *w2 = whoami_with(u2, h);
    fg_gateway_stop(&g2);

    /* The backend saw the JWT the token endpoint issued, not the static
     * header; other static headers still go along. */
    const char *bearer = json_string_value(json_object_get(w1, "authorization"));
    assert_non_null(bearer);
    assert_int_equal(strncmp(bearer, "Bearer ", 7), 0);
    assert_non_null(strchr(bearer + 7, '.'));
    assert_string_equal(json_string_value(json_object_get(w2, "authorization")), bearer);
    assert_string_equal(json_string_value(json_object_get(w1, "extra")), "kept");
    json_decref(w1);
    json_decref(w2);
    /* One fetch served the handshake and both calls (cached until exp - 60 s);
     * it carried the request token and the URL-encoded audience. */
    assert_true(fg_http("GET", stats_url, NULL, NULL, &r));
    st = json_loads(r.body, 0, NULL);
    fg_resp_free(&r);
    assert_int_equal(json_integer_value(json_object_get(st, "fetches")), before + 1);
    assert_string_equal(json_string_value(json_object_get(st, "audience")), "api://flowgate test");
    assert_string_equal(json_string_value(json_object_get(st, "auth")), "Bearer request-secret");
    json_decref(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_non_loopback_host_is_forbidden),
        cmocka_unit_test(test_disablelocalhostprotection_turns_the_host_check_off),
        cmocka_unit_test(test_content_type_must_be_json),
        cmocka_unit_test(test_accept_values_match_exactly_as_in_go_sdk),
        cmocka_unit_test(test_unsupported_protocol_version_lists_go_sdk_versions),
        cmocka_unit_test(test_tools_call_without_session_is_auto_initialised),
        cmocka_unit_test(test_client_session_reaches_plain_backend_as_mcp_session_id),
        cmocka_unit_test(test_github_oidc_bearer_token_replaces_static_authorization),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
