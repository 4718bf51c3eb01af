/* stdio backend against the real @modelcontextprotocol/server-everything. */
#include "helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

static th_rec_t rec;
static mcp_backend_t *be;

#define DEADLINE (mcp_now_ms() + 30000)

static int setup(void **state)
{
    (void)state;
    const char *args[] = {th_npm_server("server-everything"), "stdio", NULL};
    mcp_backend_config_t cfg = {
        .id = "everything",
        .kind = MCP_BACKEND_STDIO,
        .stdio = {.command = th_node(), .args = args},
        .startup_timeout_ms = 30000,
        .shutdown_grace_ms = 500,
    };
    be = th_backend_new(&cfg, &rec);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mcp_backend_free(be);
    return 0;
}

static void test_initialize_records_server_info_and_capabilities(void **state)
{
    (void)state;
    err_t e = {{0}};
    if (!mcp_backend_start(be, &e))
        fail_msg("%s", e.msg);
    assert_int_equal(mcp_backend_state(be), MCP_STATE_RUNNING);
    assert_true(mcp_backend_pid(be) > 0);
    json_t *info = mcp_backend_server_info(be);
    assert_string_equal(json_string_value(json_object_get(info, "name")), "mcp-servers/everything");
    json_t *caps = mcp_backend_capabilities(be);
    assert_true(json_is_object(json_object_get(caps, "tools")));
    assert_true(json_is_object(json_object_get(caps, "prompts")));
    char pv[32];
    mcp_backend_protocol_version(be, pv, sizeof pv);
    assert_string_equal(pv, "2025-11-25");
    assert_int_equal(mcp_backend_start_count(be), 1);
    assert_true(th_rec_contains(&rec, "log", "Backend server info: name=mcp-servers/everything"));
    json_decref(info);
    json_decref(caps);
}

static bool has_tool(json_t *tools, const char *name)
{
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t)
    {
        if (strcmp(json_string_value(json_object_get(t, "name")), name) == 0)
            return true;
    }
    return false;
}

static void test_tools_list_returns_every_tool(void **state)
{
    (void)state;
    json_t *tools = NULL;
    err_t e = {{0}};
    assert_int_equal(mcp_backend_list_tools(be, DEADLINE, NULL, &tools, &e), MCP_CALL_OK);
    assert_true(json_array_size(tools) >= 12);
    assert_true(has_tool(tools, "echo"));
    assert_true(has_tool(tools, "get-sum"));
    assert_true(has_tool(tools, "trigger-long-running-operation"));
    json_decref(tools);
}

static void test_echo_and_get_sum_answer(void **state)
{
    (void)state;
    json_t *r = th_call_tool_ok(be, "echo", json_pack("{s:s}", "message", "hello flowgate"));
    assert_string_equal(th_text(r), "Echo: hello flowgate");
    json_decref(r);
    r = th_call_tool_ok(be, "get-sum", json_pack("{s:i, s:i}", "a", 2, "b", 40));
    assert_string_equal(th_text(r), "The sum of 2 and 40 is 42.");
    json_decref(r);
}

static void test_progress_reaches_the_calls_callback_with_its_own_token(void **state)
{
    (void)state;
    th_progress_t p;
    th_long_operation(be, json_string("tok-A"), &p);
    assert_int_equal(p.n, 3);
    assert_true(p.last == 3.0);
    assert_string_equal(p.token, "tok-A"); /* the wire token was rewritten and restored */
}

static void test_concurrent_calls_from_threads_each_get_their_own_answer(void **state)
{
    (void)state;
    assert_int_equal(th_echo_from_threads(be, "stdio", 6, 8), 0);
}

static void test_roots_list_from_the_server_is_answered(void **state)
{
    (void)state;
    /* server-everything asks roots/list ~350 ms after initialized and logs
     * how many roots it received. */
    int64_t until = mcp_now_ms() + 15000;
    while (mcp_now_ms() < until && !th_rec_contains(&rec, "notes", "Roots updated: 0 root(s)"))
        usleep(20000);
    assert_true(th_rec_get(&rec, &rec.server_requests) >= 1);
    assert_string_equal(rec.last_server_request, "roots/list");
    assert_true(th_rec_contains(&rec, "notes", "Roots updated: 0 root(s)"));
}

static void test_unknown_method_is_the_backends_rpc_error(void **state)
{
    (void)state;
    th_expect_method_not_found(be);
}

static void test_unknown_tool_result_is_passed_through(void **state)
{
    (void)state;
    /* The TS SDK reports an unknown tool as an isError result (mcp-protocol §1.5). */
    json_t *r = th_call_tool_ok(be, "no-such-tool", json_object());
    assert_true(json_is_true(json_object_get(r, "isError")));
    assert_non_null(strstr(th_text(r), "no-such-tool"));
    json_decref(r);
}

static void test_rpc_hook_sees_requests_and_responses(void **state)
{
    (void)state;
    int out0 = th_rec_get(&rec, &rec.rpc_out), in0 = th_rec_get(&rec, &rec.rpc_in);
    json_t *res = NULL;
    assert_int_equal(mcp_backend_request(be, "ping", NULL, DEADLINE, NULL, &res, NULL), MCP_CALL_OK);
    json_decref(res);
    assert_int_equal(th_rec_get(&rec, &rec.rpc_out), out0 + 1);
    assert_true(th_rec_get(&rec, &rec.rpc_in) >= in0 + 1);
}

static void test_stop_then_request_starts_a_new_process(void **state)
{
    (void)state;
    pid_t old = mcp_backend_pid(be);
    th_stop_then_echo_restarts(be);
    assert_int_equal(kill(old, 0), -1); /* reaped: gone */
    assert_true(mcp_backend_pid(be) != old);
    assert_string_equal(mcp_backend_transport(be), "stdio");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_initialize_records_server_info_and_capabilities),
        cmocka_unit_test(test_tools_list_returns_every_tool),
        cmocka_unit_test(test_echo_and_get_sum_answer),
        cmocka_unit_test(test_progress_reaches_the_calls_callback_with_its_own_token),
        cmocka_unit_test(test_concurrent_calls_from_threads_each_get_their_own_answer),
        cmocka_unit_test(test_roots_list_from_the_server_is_answered),
        cmocka_unit_test(test_unknown_method_is_the_backends_rpc_error),
        cmocka_unit_test(test_unknown_tool_result_is_passed_through),
        cmocka_unit_test(test_rpc_hook_sees_requests_and_responses),
        cmocka_unit_test(test_stop_then_request_starts_a_new_process),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
