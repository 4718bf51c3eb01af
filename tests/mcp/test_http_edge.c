/* HTTP backend edge cases against tests/mcp/fixtures/fake_http_server.mjs
 * on 127.0.0.1 with a port picked at run time. */
#include "helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pid_t server = -1;
static char url[64];
static th_rec_t rec;

static int setup(void **state)
{
    (void)state;
    th_node_modules();
    const char *args[] = {th_fixture("fake_http_server.mjs"), "$PORT", NULL};
    server = th_start_http_server(args, url, sizeof url);
    return server > 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    th_kill(server);
    return 0;
}

static bool dyn_headers(void *ud, const char *server_id, mcp_http_add_header_fn add, void *hdrs, err_t *err)
{
    (void)ud, (void)server_id, (void)err;
    return add(hdrs, "X-Test: dynamic");
}

static mcp_backend_t *backend(const char *u, bool dynamic)
{
    const char *headers[] = {"X-Test: static", NULL};
    mcp_backend_config_t cfg = {
        .id = "fake-http",
        .kind = MCP_BACKEND_HTTP,
        .http = {.url = u, .headers = dynamic ? NULL : headers, .dynamic_headers = dynamic ? dyn_headers : NULL,
                 .connect_timeout_ms = 3000},
        .startup_timeout_ms = 10000,
    };
    return th_backend_new(&cfg, &rec);
}

static json_t *whoami(mcp_backend_t *b)
{
    json_t *res = NULL;
    err_t e = {{0}};
    if (th_call_tool(b, "whoami", NULL, NULL, &res, &e) != MCP_CALL_OK)
        fail_msg("whoami: %s", e.msg);
    json_t *v = json_loads(th_text(res), 0, NULL);
    json_decref(res);
    assert_non_null(v);
    return v;
}

static void test_session_version_and_configured_headers_are_sent(void **state)
{
    (void)state;
    mcp_backend_t *b = backend(url, false);
    json_t *w = whoami(b);
    assert_true(strncmp(json_string_value(json_object_get(w, "session")), "s", 1) == 0);
    assert_string_equal(json_string_value(json_object_get(w, "version")), "2025-11-25");
    assert_string_equal(json_string_value(json_object_get(w, "xtest")), "static");
    json_decref(w);
    mcp_backend_free(b);
    b = backend(url, true);
    w = whoami(b);
    assert_string_equal(json_string_value(json_object_get(w, "xtest")), "dynamic");
    json_decref(w);
    mcp_backend_free(b);
}

static void test_connection_is_kept_alive_between_calls(void **state)
{
    (void)state;
    mcp_backend_t *b = backend(url, false);
    json_t *w1 = whoami(b), *w2 = whoami(b);
    assert_int_equal(json_integer_value(json_object_get(w1, "port")), json_integer_value(json_object_get(w2, "port")));
    json_decref(w1);
    json_decref(w2);
    mcp_backend_free(b);
}

static void test_expired_session_is_initialised_again_and_the_call_retried(void **state)
{
    (void)state;
    mcp_backend_t *b = backend(url, false);
    json_t *w1 = whoami(b);
    json_t *res = NULL;
    assert_int_equal(th_call_tool(b, "expire", NULL, NULL, &res, NULL), MCP_CALL_OK);
    json_decref(res);
    json_t *w2 = whoami(b); /* 404 -> initialize -> retry, invisible to the caller */
    assert_string_not_equal(json_string_value(json_object_get(w1, "session")),
                            json_string_value(json_object_get(w2, "session")));
    assert_int_equal(json_integer_value(json_object_get(w2, "inits")),
                     json_integer_value(json_object_get(w1, "inits")) + 1);
    assert_true(th_rec_contains(&rec, "log", "session expired (HTTP 404)"));
    assert_int_equal(mcp_backend_start_count(b), 1);
    json_decref(w1);
    json_decref(w2);
    mcp_backend_free(b);
}

typedef struct seen {
    int n;
    char data[64];
} seen_t;

static void on_note(void *ud, const json_t *n)
{
    seen_t *s = ud;
    s->n++;
    snprintf(s->data, sizeof s->data, "%s", json_string_value(json_object_get(json_object_get(n, "params"), "data")));
}

static void test_json_and_sse_answers_are_both_understood(void **state)
{
    (void)state;
    mcp_backend_t *b = backend(url, false);
    seen_t seen = {0};
    mcp_call_opts_t o = {.deadline_ms = mcp_now_ms() + 20000, .on_notification = on_note, .notify_ud = &seen};
    json_t *res = NULL;
    err_t e = {{0}};
    assert_int_equal(th_call_tool(b, "sse", NULL, &o, &res, &e), MCP_CALL_OK);
    assert_string_equal(th_text(res), "via sse");
    json_decref(res);
    assert_int_equal(seen.n, 1); /* the notification sent on this call's stream */
    assert_string_equal(seen.data, "before");
    assert_int_equal(th_call_tool(b, "json", NULL, NULL, &res, &e), MCP_CALL_OK);
    assert_string_equal(th_text(res), "via json");
    json_decref(res);
    mcp_backend_free(b);
}

static void test_stream_closed_before_the_answer_is_resumed(void **state)
{
    (void)state;
    mcp_backend_t *b = backend(url, false);
    json_t *res = NULL;
    err_t e = {{0}};
    if (th_call_tool(b, "drop", NULL, NULL, &res, &e) != MCP_CALL_OK)
        fail_msg("%s", e.msg);
    assert_string_equal(th_text(res), "resumed");
    json_decref(res);
    mcp_backend_free(b);
}

static void test_http_500_gives_a_clear_error(void **state)
{
    (void)state;
    mcp_backend_t *b = backend(url, false);
    json_t *res = NULL;
    err_t e = {{0}};
    assert_int_equal(th_call_tool(b, "fail500", NULL, NULL, &res, &e), MCP_CALL_FAILED);
    assert_null(res);
    assert_non_null(strstr(e.msg, "HTTP 500"));
    assert_non_null(strstr(e.msg, "kaboom"));
    assert_true(th_rec_get(&rec, &rec.rpc_errors) >= 1);
    mcp_backend_free(b);
}

static void test_http_deadline_and_cancel_end_the_call(void **state)
{
    (void)state;
    mcp_backend_t *b = backend(url, false);
    assert_true(mcp_backend_start(b, NULL));
    json_t *res = NULL;
    err_t e = {{0}};
    int64_t t0 = mcp_now_ms();
    mcp_call_opts_t o = {.deadline_ms = t0 + 300};
    assert_int_equal(th_call_tool(b, "slow", json_pack("{s:i}", "ms", 5000), &o, &res, &e), MCP_CALL_TIMEOUT);
    assert_true(mcp_now_ms() - t0 < 3000);
    assert_non_null(strstr(e.msg, "context deadline exceeded"));

    atomic_bool flag;
    atomic_init(&flag, true); /* already cancelled: returns at the first progress check */
    mcp_call_opts_t oc = {.deadline_ms = mcp_now_ms() + 20000, .cancel = &flag};
    t0 = mcp_now_ms();
    assert_int_equal(th_call_tool(b, "slow", json_pack("{s:i}", "ms", 5000), &oc, &res, &e), MCP_CALL_CANCELLED);
    assert_true(mcp_now_ms() - t0 < 3000);
    mcp_backend_free(b);
}

static void test_unreachable_server_fails_the_start_clearly(void **state)
{
    (void)state;
    char u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/mcp", th_free_port());
    mcp_backend_t *b = backend(u, false);
    err_t e = {{0}};
    assert_false(mcp_backend_start(b, &e));
    assert_non_null(strstr(e.msg, "backend 'fake-http'"));
    assert_non_null(strstr(e.msg, "failed"));
    assert_int_equal(mcp_backend_state(b), MCP_STATE_FAILED);
    mcp_backend_free(b);
}

static void test_rejected_initialized_notification_only_warns(void **state)
{
    (void)state;
    char u[80];
    snprintf(u, sizeof u, "%s?plain=1", url);
    mcp_backend_t *b = backend(u, false);
    json_t *w = whoami(b);
    assert_non_null(json_object_get(w, "session"));
    json_decref(w);
    assert_true(th_rec_contains(&rec, "log", "notifications/initialized was rejected"));
    mcp_backend_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_version_and_configured_headers_are_sent),
        cmocka_unit_test(test_connection_is_kept_alive_between_calls),
        cmocka_unit_test(test_expired_session_is_initialised_again_and_the_call_retried),
        cmocka_unit_test(test_json_and_sse_answers_are_both_understood),
        cmocka_unit_test(test_stream_closed_before_the_answer_is_resumed),
        cmocka_unit_test(test_http_500_gives_a_clear_error),
        cmocka_unit_test(test_http_deadline_and_cancel_end_the_call),
        cmocka_unit_test(test_unreachable_server_fails_the_start_clearly),
        cmocka_unit_test(test_rejected_initialized_notification_only_warns),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
