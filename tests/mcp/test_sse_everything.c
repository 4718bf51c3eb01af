/* HTTP backend against the real server-everything in HTTP+SSE mode
 * (`node dist/index.js sse`: GET /sse, POST /message?sessionId=...), the
 * 2024-11-05 transport that backend.c falls back to when a server does not
 * speak streamable HTTP (spec: gateway §3.3 step 2). */
#include "helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static th_rec_t rec;
static mcp_backend_t *be;
static pid_t server = -1;
static char url[80];

#define DEADLINE (mcp_now_ms() + 30000)

static int setup(void **state)
{
    (void)state;
    const char *args[] = {th_npm_server("server-everything"), "sse", NULL};
    char base[64];
    server = th_start_http_server(args, base, sizeof base);
    if (server < 0)
        fail_msg("server-everything did not start in sse mode");
    /* th_start_http_server names the streamable path; this server's is /sse. */
    char *slash = strrchr(base, '/');
    *slash = '\0';
    snprintf(url, sizeof url, "%s/sse", base);
    mcp_backend_config_t cfg = {
        .id = "everything-sse",
        .kind = MCP_BACKEND_HTTP,
        .http = {.url = url, .connect_timeout_ms = 5000},
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

static void test_sse_server_is_reached_over_the_sse_transport(void **state)
{
    (void)state;
    assert_string_equal(mcp_backend_transport(be), "none");
    err_t e = {{0}};
    if (!mcp_backend_start(be, &e))
        fail_msg("%s", e.msg);
    assert_string_equal(mcp_backend_transport(be), "sse");
    json_t *info = mcp_backend_server_info(be);
    assert_string_equal(json_string_value(json_object_get(info, "name")), "mcp-servers/everything");
    json_decref(info);
    assert_true(th_rec_contains(&rec, "log", "deprecated HTTP+SSE transport"));
}

static void test_sse_tools_list_and_calls(void **state)
{
    (void)state;
    json_t *tools = NULL;
    err_t e = {{0}};
    if (mcp_backend_list_tools(be, DEADLINE, NULL, &tools, &e) != MCP_CALL_OK)
        fail_msg("%s", e.msg);
    assert_true(json_array_size(tools) >= 12);
    json_decref(tools);
    json_t *r = th_call_tool_ok(be, "echo", json_pack("{s:s}", "message", "over sse"));
    assert_string_equal(th_text(r), "Echo: over sse");
    json_decref(r);
    r = th_call_tool_ok(be, "get-sum", json_pack("{s:i, s:i}", "a", 40, "b", 2));
    assert_string_equal(th_text(r), "The sum of 40 and 2 is 42.");
    json_decref(r);
}

static void test_sse_progress_reaches_the_caller_with_its_own_token(void **state)
{
    (void)state;
    th_progress_t p;
    th_long_operation(be, json_string("tok-sse"), &p);
    assert_int_equal(p.n, 3);
    assert_string_equal(p.token, "tok-sse");
}

static void test_sse_concurrent_calls_each_get_their_own_answer(void **state)
{
    (void)state;
    assert_int_equal(th_echo_from_threads(be, "sse", 4, 8), 0);
}

static void test_sse_unknown_method_is_the_backends_rpc_error(void **state)
{
    (void)state;
    th_expect_method_not_found(be);
}

static void test_sse_stop_then_next_use_opens_a_new_stream(void **state)
{
    (void)state;
    th_stop_then_echo_restarts(be);
    assert_string_equal(mcp_backend_transport(be), "sse");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sse_server_is_reached_over_the_sse_transport),
        cmocka_unit_test(test_sse_tools_list_and_calls),
        cmocka_unit_test(test_sse_progress_reaches_the_caller_with_its_own_token),
        cmocka_unit_test(test_sse_concurrent_calls_each_get_their_own_answer),
        cmocka_unit_test(test_sse_unknown_method_is_the_backends_rpc_error),
        cmocka_unit_test(test_sse_stop_then_next_use_opens_a_new_stream),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
