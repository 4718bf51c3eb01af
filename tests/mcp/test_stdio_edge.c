/* stdio backend edge cases, against tests/mcp/fixtures/fake_stdio_server.mjs
 * (modes on its command line) and commands that cannot work. */
#include "helpers.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static th_rec_t rec;

static mcp_backend_t *fake(const char *mode, int startup_ms)
{
    th_node_modules(); /* the suite needs the npm install like the others */
    const char *args[] = {th_fixture("fake_stdio_server.mjs"), mode, NULL};
    mcp_backend_config_t cfg = {
        .id = "fake",
        .kind = MCP_BACKEND_STDIO,
        .stdio = {.command = th_node(), .args = args},
        .startup_timeout_ms = startup_ms,
        .shutdown_grace_ms = 300,
    };
    return th_backend_new(&cfg, &rec);
}

static mcp_call_status_t call(mcp_backend_t *b, const char *tool, json_t *args, int64_t deadline, json_t **res,
                              err_t *e)
{
    mcp_call_opts_t o = {.deadline_ms = deadline};
    return th_call_tool(b, tool, args, &o, res, e);
}

static void test_missing_command_fails_with_a_clear_error(void **state)
{
    (void)state;
    mcp_backend_config_t cfg = {.id = "ghost", .kind = MCP_BACKEND_STDIO,
                                .stdio = {.command = "flowgate-no-such-command-xyz"}};
    err_t e = {{0}};
    mcp_backend_t *b = mcp_backend_new(&cfg, &e);
    assert_non_null(b);
    json_t *res = NULL;
    assert_int_equal(mcp_backend_request(b, "tools/list", NULL, mcp_now_ms() + 10000, NULL, &res, &e), MCP_CALL_FAILED);
    assert_null(res);
    assert_non_null(strstr(e.msg, "backend 'ghost'"));
    assert_non_null(strstr(e.msg, "flowgate-no-such-command-xyz"));
    assert_non_null(strstr(e.msg, "No such file or directory"));
    assert_int_equal(mcp_backend_state(b), MCP_STATE_FAILED);
    mcp_backend_free(b);
}

static void test_child_exiting_early_reports_status_and_stderr(void **state)
{
    (void)state;
    mcp_backend_t *b = fake("exit-early", 20000);
    err_t e = {{0}};
    assert_false(mcp_backend_start(b, &e));
    assert_non_null(strstr(e.msg, "backend 'fake' exited with status 2"));
    assert_non_null(strstr(e.msg, "missing configuration"));
    char tail[256];
    mcp_backend_stderr_tail(b, tail, sizeof tail);
    assert_non_null(strstr(tail, "fake: fatal: missing configuration"));
    assert_int_equal(mcp_backend_state(b), MCP_STATE_FAILED);
    mcp_backend_free(b);
}

static void test_no_answer_to_initialize_times_out_and_kills_the_child(void **state)
{
    (void)state;
    mcp_backend_t *b = fake("no-init", 1500);
    err_t e = {{0}};
    int64_t t0 = mcp_now_ms();
    assert_false(mcp_backend_start(b, &e));
    int64_t took = mcp_now_ms() - t0;
    assert_non_null(strstr(e.msg, "server startup timeout after 2s"));
    assert_true(took >= 1400 && took < 15000);
    assert_int_equal(mcp_backend_pid(b), -1);
    mcp_backend_free(b);
}

static void test_unsupported_protocol_version_fails_the_start(void **state)
{
    (void)state;
    mcp_backend_t *b = fake("bad-version", 20000);
    err_t e = {{0}};
    assert_false(mcp_backend_start(b, &e));
    if (!strstr(e.msg, "unsupported protocol version 1999-01-01"))
        fail_msg("got: %s", e.msg);
    mcp_backend_free(b);
}

static void test_tools_list_is_drained_across_pages(void **state)
{
    (void)state;
    mcp_backend_t *b = fake("normal", 20000);
    json_t *tools = NULL;
    err_t e = {{0}};
    assert_int_equal(mcp_backend_list_tools(b, mcp_now_ms() + 20000, NULL, &tools, &e), MCP_CALL_OK);
    assert_int_equal(json_array_size(tools), 5);
    assert_string_equal(json_string_value(json_object_get(json_array_get(tools, 4), "name")), "progress");
    json_decref(tools);
    /* a bad cursor is the server's -32602 */
    json_t *res = NULL;
    json_t *params = json_pack("{s:s}", "cursor", "bogus");
    assert_int_equal(mcp_backend_request(b, "tools/list", params, mcp_now_ms() + 20000, NULL, &res, &e),
                     MCP_CALL_RPC_ERROR);
    assert_int_equal(json_integer_value(json_object_get(res, "code")), -32602);
    json_decref(res);
    json_decref(params);
    mcp_backend_free(b);
}

static void test_cyclic_cursor_and_endless_pages_fail(void **state)
{
    (void)state;
    mcp_backend_t *b = fake("cycle", 20000);
    json_t *tools = NULL;
    err_t e = {{0}};
    assert_int_equal(mcp_backend_list_tools(b, mcp_now_ms() + 20000, NULL, &tools, &e), MCP_CALL_FAILED);
    assert_null(tools);
    assert_non_null(strstr(e.msg, "pagination detected cyclical cursor"));
    mcp_backend_free(b);
    b = fake("many-pages", 20000);
    assert_int_equal(mcp_backend_list_tools(b, mcp_now_ms() + 30000, NULL, &tools, &e), MCP_CALL_FAILED);
    assert_non_null(strstr(e.msg, "pagination exceeded 100-page limit"));
    mcp_backend_free(b);
}

typedef struct sleeper {
    mcp_backend_t *b;
    int ms;
    char text[64];
    int64_t done_at;
} sleeper_t;

static void *sleep_worker(void *arg)
{
    sleeper_t *s = arg;
    json_t *res = NULL;
    if (call(s->b, "sleep", json_pack("{s:i}", "ms", s->ms), mcp_now_ms() + 30000, &res, NULL) == MCP_CALL_OK)
        snprintf(s->text, sizeof s->text, "%s", th_text(res));
    s->done_at = mcp_now_ms();
    json_decref(res);
    return NULL;
}

static void test_out_of_order_replies_reach_the_right_callers(void **state)
{
    (void)state;
    mcp_backend_t *b = fake("normal", 20000);
    assert_true(mcp_backend_start(b, NULL));
    sleeper_t s[3] = {{b, 900, "", 0}, {b, 450, "", 0}, {b, 10, "", 0}};
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pthread_create(&th[i], NULL, sleep_worker, &s[i]), 0);
        usleep(30000); /* issue them in order */
    }
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    assert_string_equal(s[0].text, "slept 900");
    assert_string_equal(s[1].text, "slept 450");
    assert_string_equal(s[2].text, "slept 10");
    assert_true(s[2].done_at < s[0].done_at); /* the last sent came back first */
    mcp_backend_free(b);
}

static void test_tools_call_without_arguments_sends_an_empty_object(void **state)
{
    (void)state;
    mcp_backend_t *b = fake("normal", 20000);
    json_t *res = NULL;
    err_t e = {{0}};
    assert_int_equal(call(b, "echo", NULL, mcp_now_ms() + 20000, &res, &e), MCP_CALL_OK);
    assert_string_equal(th_text(res), "echo:undefined:args={}");
    json_decref(res);
    mcp_backend_free(b);
}

static void test_deadline_fails_the_call_and_sends_cancelled(void **state)
{
    (void)state;
    mcp_backend_t *b = fake("normal", 20000);
    assert_true(mcp_backend_start(b, NULL));
    json_t *res = NULL;
    err_t e = {{0}};
    int64_t t0 = mcp_now_ms();
    assert_int_equal(call(b, "sleep", json_pack("{s:i}", "ms", 5000), t0 + 300, &res, &e), MCP_CALL_TIMEOUT);
    assert_true(mcp_now_ms() - t0 < 3000);
    assert_non_null(strstr(e.msg, "context deadline exceeded"));
    assert_int_equal(call(b, "cancelled", NULL, mcp_now_ms() + 20000, &res, &e), MCP_CALL_OK);
    assert_non_null(strstr(th_text(res), "\"reason\":\"context deadline exceeded\""));
    assert_non_null(strstr(th_text(res), "\"requestId\":"));
    json_decref(res);
    mcp_backend_free(b);
}

typedef struct canceller {
    atomic_bool *flag;
    int after_ms;
} canceller_t;

static void *cancel_later(void *arg)
{
    canceller_t *c = arg;
    usleep((useconds_t)c->after_ms * 1000);
    atomic_store(c->flag, true);
    return NULL;
}

static void test_cancel_flag_ends_the_wait(void **state)
{
    (void)state;
    mcp_backend_t *b = fake("normal", 20000);
    assert_true(mcp_backend_start(b, NULL));
    atomic_bool flag;
    atomic_init(&flag, false);
    canceller_t c = {&flag, 200};
    pthread_t th;
    pthread_create(&th, NULL, cancel_later, &c);
    json_t *params = json_pack("{s:s, s:{s:i}}", "name", "sleep", "arguments", "ms", 5000);
    json_t *res = NULL;
    err_t e = {{0}};
    int64_t t0 = mcp_now_ms();
    assert_int_equal(mcp_backend_request(b, "tools/call", params, t0 + 20000, &flag, &res, &e), MCP_CALL_CANCELLED);
    assert_true(mcp_now_ms() - t0 < 3000);
    pthread_join(th, NULL);
    json_decref(params);
    mcp_backend_free(b);
}

static void *crash_worker(void *arg)
{
    mcp_backend_t *b = arg;
    json_t *res = NULL;
    static __thread err_t e;
    mcp_call_status_t st = call(b, "sleep", json_pack("{s:i}", "ms", 10000), mcp_now_ms() + 30000, &res, &e);
    json_decref(res);
    char *msg = malloc(ERR_MSG_MAX + 8);
    snprintf(msg, ERR_MSG_MAX + 8, "%d|%s", (int)st, e.msg);
    return msg;
}

static void test_backend_killed_mid_call_fails_callers_and_restarts_on_next_use(void **state)
{
    (void)state;
    mcp_backend_t *b = fake("normal", 20000);
    assert_true(mcp_backend_start(b, NULL));
    pid_t pid = mcp_backend_pid(b);
    assert_true(pid > 0);
    int sent0 = th_rec_get(&rec, &rec.rpc_out);
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, crash_worker, b);
    /* Kill only once both requests are on the wire (slow CI machines). */
    int64_t until = mcp_now_ms() + 10000;
    while (th_rec_get(&rec, &rec.rpc_out) < sent0 + 2 && mcp_now_ms() < until)
        usleep(10000);
    usleep(100000);
    assert_int_equal(kill(pid, SIGKILL), 0);
    for (int i = 0; i < 2; i++) {
        char *msg;
        pthread_join(th[i], (void **)&msg);
        char want[64];
        snprintf(want, sizeof want, "%d|backend 'fake' exited (killed by signal 9", MCP_CALL_FAILED);
        if (strncmp(msg, want, strlen(want)) != 0)
            fail_msg("got %s", msg);
        free(msg);
    }
    assert_int_equal(mcp_backend_state(b), MCP_STATE_EXITED);
    /* next use restarts it */
    json_t *res = NULL;
    err_t e = {{0}};
    assert_int_equal(call(b, "echo", json_pack("{s:s}", "message", "back"), mcp_now_ms() + 20000, &res, &e),
                     MCP_CALL_OK);
    assert_string_equal(th_text(res), "echo:back:args={\"message\":\"back\"}");
    json_decref(res);
    assert_int_equal(mcp_backend_start_count(b), 2);
    assert_true(mcp_backend_pid(b) != pid);
    assert_true(th_rec_contains(&rec, "log", "restarting backend after exit"));
    mcp_backend_free(b);
}

static void test_backend_exiting_during_a_call_names_its_status(void **state)
{
    (void)state;
    mcp_backend_t *b = fake("normal", 20000);
    json_t *res = NULL;
    err_t e = {{0}};
    assert_int_equal(call(b, "crash", NULL, mcp_now_ms() + 20000, &res, &e), MCP_CALL_FAILED);
    assert_non_null(strstr(e.msg, "backend 'fake' exited with status 3"));
    assert_non_null(strstr(e.msg, "crashing on purpose"));
    assert_true(th_rec_get(&rec, &rec.stderr_lines) >= 1);
    assert_true(th_rec_get(&rec, &rec.rpc_errors) >= 1);
    mcp_backend_free(b);
}

static void test_stop_ends_the_process_group(void **state)
{
    (void)state;
    mcp_backend_t *b = fake("normal", 20000);
    assert_true(mcp_backend_start(b, NULL));
    pid_t pid = mcp_backend_pid(b);
    mcp_backend_stop(b);
    assert_int_equal(kill(-pid, 0), -1); /* no process left in its group */
    assert_int_equal(mcp_backend_pid(b), -1);
    mcp_backend_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_command_fails_with_a_clear_error),
        cmocka_unit_test(test_child_exiting_early_reports_status_and_stderr),
        cmocka_unit_test(test_no_answer_to_initialize_times_out_and_kills_the_child),
        cmocka_unit_test(test_unsupported_protocol_version_fails_the_start),
        cmocka_unit_test(test_tools_list_is_drained_across_pages),
        cmocka_unit_test(test_cyclic_cursor_and_endless_pages_fail),
        cmocka_unit_test(test_out_of_order_replies_reach_the_right_callers),
        cmocka_unit_test(test_tools_call_without_arguments_sends_an_empty_object),
        cmocka_unit_test(test_deadline_fails_the_call_and_sends_cancelled),
        cmocka_unit_test(test_cancel_flag_ends_the_wait),
        cmocka_unit_test(test_backend_killed_mid_call_fails_callers_and_restarts_on_next_use),
        cmocka_unit_test(test_backend_exiting_during_a_call_names_its_status),
        cmocka_unit_test(test_stop_ends_the_process_group),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
