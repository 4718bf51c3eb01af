/* The HTTP backend's plain JSON-RPC fallback (spec: gateway §3.3 step 3)
 * against tests/mcp/fixtures/fake_plain_server.mjs on 127.0.0.1 with a port
 * picked at run time: the client session id as Mcp-Session-Id, no protocol
 * version header, no notifications, upstream's answer rules, and one
 * re-initialize on 404 "session not found". */
#include "helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pid_t server = -1;
static char url[64];
static th_rec_t rec;

static int setup(void **state)
{
    (void)state;
    th_node_modules();
    const char *args[] = {th_fixture("fake_plain_server.mjs"), "$PORT", NULL};
    server = th_start_http_server(args, url, sizeof url);
    return server > 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    th_kill(server);
    return 0;
}

static mcp_backend_t *plain_backend(void)
{
    mcp_backend_config_t cfg = {
        .id = "plain",
        .kind = MCP_BACKEND_HTTP,
        .http = {.url = url, .connect_timeout_ms = 3000},
        .startup_timeout_ms = 10000,
    };
    th_rec_init(&rec);
    th_rec_hooks(&rec, &cfg.hooks);
    err_t e = {{0}};
    mcp_backend_t *b = mcp_backend_new(&cfg, &e);
    if (!b)
        fail_msg("mcp_backend_new: %s", e.msg);
    if (!mcp_backend_start(b, &e))
        fail_msg("start: %s", e.msg);
    return b;
}

/* tools/call `tool` as client session `sid` (NULL: none). */
static mcp_call_status_t call(mcp_backend_t *b, const char *tool, const char *sid, json_t **res, err_t *e)
{
    mcp_call_opts_t o = {.deadline_ms = mcp_now_ms() + 20000, .session_id = sid};
    return th_call_tool(b, tool, NULL, &o, res, e);
}

static json_t *whoami(mcp_backend_t *b, const char *sid)
{
    json_t *res = NULL;
    err_t e = {{0}};
    if (call(b, "whoami", sid, &res, &e) != MCP_CALL_OK)
        fail_msg("whoami: %s", e.msg);
    json_t *v = json_loads(th_text(res), 0, NULL);
    json_decref(res);
    assert_non_null(v);
    return v;
}

static void test_client_session_id_is_sent_as_mcp_session_id(void **state)
{
    (void)state;
    mcp_backend_t *b = plain_backend();
    json_t *w = whoami(b, "client-session-12345");
    assert_string_equal(json_string_value(json_object_get(w, "session")), "client-session-12345");
    json_decref(w);
    /* Without a client session: the id captured at initialize. */
    w = whoami(b, NULL);
    assert_string_equal(json_string_value(json_object_get(w, "session")), "plain-1");
    json_decref(w);
    mcp_backend_free(b);
}

static void test_plain_requests_carry_no_protocol_version_and_object_arguments(void **state)
{
    (void)state;
    mcp_backend_t *b = plain_backend();
    json_t *w = whoami(b, "agent-a");
    assert_true(json_is_null(json_object_get(w, "version")));
    /* arguments: null was sent by the caller; the server got {}. */
    assert_true(json_is_object(json_object_get(w, "args")));
    assert_int_equal(json_object_size(json_object_get(w, "args")), 0);
    json_int_t notes = json_integer_value(json_object_get(w, "notes"));
    assert_true(notes >= 1); /* the handshake's, whose rejection chose plain */
    json_decref(w);
    /* No notification follows once the connection is plain (a cancelled
     * call would otherwise send notifications/cancelled). */
    w = whoami(b, "agent-a");
    assert_int_equal(json_integer_value(json_object_get(w, "notes")), notes);
    json_decref(w);
    assert_true(th_rec_contains(&rec, "log", "using plain JSON-RPC over POST"));
    mcp_backend_free(b);
}

static void test_session_not_found_reinitializes_once_and_retries(void **state)
{
    (void)state;
    mcp_backend_t *b = plain_backend();
    json_t *w = whoami(b, "agent-b");
    json_int_t inits = json_integer_value(json_object_get(w, "inits"));
    json_int_t notes = json_integer_value(json_object_get(w, "notes"));
    json_decref(w);
    json_t *res = NULL;
    err_t e = {{0}};
    assert_int_equal(call(b, "expire", "agent-b", &res, &e), MCP_CALL_OK);
    json_decref(res);
    w = whoami(b, "agent-b"); /* 404 "Session not found", initialize, retry */
    assert_int_equal(json_integer_value(json_object_get(w, "inits")), inits + 1);
    assert_string_equal(json_string_value(json_object_get(w, "session")), "agent-b");
    /* The re-initialize sent no notifications/initialized either. */
    assert_int_equal(json_integer_value(json_object_get(w, "notes")), notes);
    json_decref(w);
    mcp_backend_free(b);
}

static void test_non_200_answers_become_internal_errors(void **state)
{
    (void)state;
    mcp_backend_t *b = plain_backend();
    json_t *res = NULL;
    err_t e = {{0}};
    assert_int_equal(call(b, "fail500", "x", &res, &e), MCP_CALL_RPC_ERROR);
    assert_int_equal(json_integer_value(json_object_get(res, "code")), -32603);
    assert_string_equal(json_string_value(json_object_get(res, "message")), "HTTP 500: Internal Server Error");
    assert_string_equal(json_string_value(json_object_get(res, "data")), "kaboom");
    json_decref(res);
    /* A parsed body without an error still fails on a non-200 status. */
    res = NULL;
    assert_int_equal(call(b, "okjson", "x", &res, &e), MCP_CALL_RPC_ERROR);
    assert_string_equal(json_string_value(json_object_get(res, "message")), "HTTP 503: Service Unavailable");
    json_decref(res);
    mcp_backend_free(b);
}

static void test_200_bodies_json_then_data_line_else_parse_error(void **state)
{
    (void)state;
    mcp_backend_t *b = plain_backend();
    json_t *res = NULL;
    err_t e = {{0}};
    assert_int_equal(call(b, "ssedata", "x", &res, &e), MCP_CALL_OK);
    assert_string_equal(th_text(res), "via data line");
    json_decref(res);
    res = NULL;
    assert_int_equal(call(b, "garbage", "x", &res, &e), MCP_CALL_FAILED);
    assert_null(res);
    assert_non_null(strstr(e.msg, "failed to parse JSON-RPC response (received non-JSON or malformed response)"));
    assert_non_null(strstr(e.msg, "<html>not json</html>"));
    mcp_backend_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_session_id_is_sent_as_mcp_session_id),
        cmocka_unit_test(test_plain_requests_carry_no_protocol_version_and_object_arguments),
        cmocka_unit_test(test_session_not_found_reinitializes_once_and_retries),
        cmocka_unit_test(test_non_200_answers_become_internal_errors),
        cmocka_unit_test(test_200_bodies_json_then_data_line_else_parse_error),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
