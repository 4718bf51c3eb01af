/* HTTP backend against the real server-everything in streamable-HTTP mode
 * (`node dist/index.js streamableHttp`, port from $PORT), on a port picked at
 * run time, connected through 127.0.0.1. */
#include "helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static th_rec_t rec;
static mcp_backend_t *be;
static pid_t server = -1;
static char url[64];

#define DEADLINE (mcp_now_ms() + 30000)

static int setup(void **state)
{
    (void)state;
    const char *args[] = {th_npm_server("server-everything"), "streamableHttp", NULL};
    server = th_start_http_server(args, url, sizeof url);
    if (server < 0)
        fail_msg("server-everything did not start in streamableHttp mode");
    const char *headers[] = {"X-Flowgate-Test: yes", NULL};
    mcp_backend_config_t cfg = {
        .id = "everything-http",
        .kind = MCP_BACKEND_HTTP,
        .http = {.url = url, .headers = headers, .connect_timeout_ms = 5000},
    };
    be = th_backend_new(&cfg, &rec);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mcp_backend_free(be);
    th_kill(server);
    return 0;
}

static void test_http_initialize_gets_a_session_and_server_info(void **state)
{
    (void)state;
    err_t e = {{0}};
    if (!mcp_backend_start(be, &e))
        fail_msg("%s", e.msg);
    json_t *info = mcp_backend_server_info(be);
    assert_string_equal(json_string_value(json_object_get(info, "name")), "mcp-servers/everything");
    json_decref(info);
    char pv[32];
    mcp_backend_protocol_version(be, pv, sizeof pv);
    assert_string_equal(pv, "2025-11-25");
    assert_int_equal(mcp_backend_pid(be), -1);
}

static void test_http_tools_list_and_calls(void **state)
{
    (void)state;
    /* Each of these needs the session id: server-everything answers 400
     * "No valid session ID" without it. */
    json_t *tools = NULL;
    err_t e = {{0}};
    if (mcp_backend_list_tools(be, DEADLINE, NULL, &tools, &e) != MCP_CALL_OK)
        fail_msg("%s", e.msg);
    assert_true(json_array_size(tools) >= 12);
    json_decref(tools);
    json_t *r = th_call_tool_ok(be, "echo", json_pack("{s:s}", "message", "over http"));
    assert_string_equal(th_text(r), "Echo: over http");
    json_decref(r);
    r = th_call_tool_ok(be, "get-sum", json_pack("{s:i, s:i}", "a", 20, "b", 22));
    assert_string_equal(th_text(r), "The sum of 20 and 22 is 42.");
    json_decref(r);
}

static void test_http_progress_arrives_on_the_sse_stream(void **state)
{
    (void)state;
    th_progress_t p;
    th_long_operation(be, json_integer(77), &p);
    assert_int_equal(p.n, 3);
    assert_string_equal(p.token, "77");
}

static void test_http_concurrent_calls_each_get_their_own_answer(void **state)
{
    (void)state;
    assert_int_equal(th_echo_from_threads(be, "http", 4, 6), 0);
}

static void test_http_unknown_method_is_the_backends_rpc_error(void **state)
{
    (void)state;
    th_expect_method_not_found(be);
}

static void test_http_stop_ends_the_session_and_next_use_starts_a_new_one(void **state)
{
    (void)state;
    th_stop_then_echo_restarts(be);
    assert_string_equal(mcp_backend_transport(be), "streamable-http");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_initialize_gets_a_session_and_server_info),
        cmocka_unit_test(test_http_tools_list_and_calls),
        cmocka_unit_test(test_http_progress_arrives_on_the_sse_stream),
        cmocka_unit_test(test_http_concurrent_calls_each_get_their_own_answer),
        cmocka_unit_test(test_http_unknown_method_is_the_backends_rpc_error),
        cmocka_unit_test(test_http_stop_ends_the_session_and_next_use_starts_a_new_one),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
