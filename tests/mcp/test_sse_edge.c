/* The HTTP+SSE backend transport's failure cases, against
 * tests/mcp/fixtures/fake_sse_server.mjs on 127.0.0.1 (port picked at run
 * time): configured headers on the GET and on every POST, server->client
 * requests answered over POST, a stream that dies mid-call, a session the
 * server forgot (404, reconnect and one retry), an endpoint on
 * another origin, a server that never names its endpoint, a non-stream
 * answer, and a deadline that sends notifications/cancelled. */
#include "helpers.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pid_t server = -1;
static char base[64]; /* http://127.0.0.1:<port> */
static th_rec_t rec;

static int setup(void **state)
{
    (void)state;
    th_node_modules();
    const char *args[] = {th_fixture("fake_sse_server.mjs"), "$PORT", NULL};
    server = th_start_http_server(args, base, sizeof base);
    if (server < 0)
        return -1;
    *strrchr(base, '/') = '\0';
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    th_kill(server);
    return 0;
}

static mcp_backend_t *backend_at(const char *path, int startup_ms)
{
    char url[128];
    snprintf(url, sizeof url, "%s%s", base, path);
    const char *headers[] = {"X-Test: from-config", "Authorization: Bearer cfg-token", NULL};
    mcp_backend_config_t cfg = {
        .id = "sse",
        .kind = MCP_BACKEND_HTTP,
        .http = {.url = url, .headers = headers, .connect_timeout_ms = 3000},
        .startup_timeout_ms = startup_ms,
    };
    return th_backend_new(&cfg, &rec);
}

static size_t collect(char *data, size_t size, size_t n, void *ud)
{
    util_buf_append(ud, data, size * n);
    return size * n;
}

/* GET /stats of the fixture (new reference). */
static json_t *server_stats(void)
{
    char url[128];
    snprintf(url, sizeof url, "%s/stats", base);
    util_buf_t body = {0};
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_cleanup(c);
    json_t *v = json_loadb(body.p, body.len, 0, NULL);
    util_buf_free(&body);
    assert_non_null(v);
    return v;
}

static void test_sse_configured_headers_reach_the_stream_and_every_post(void **state)
{
    (void)state;
    mcp_backend_t *b = backend_at("/sse", 10000);
    json_t *r = th_call_tool_ok(b, "whoami", NULL);
    json_t *seen = json_loads(th_text(r), 0, NULL);
    assert_string_equal(mcp_backend_transport(b), "sse");
    json_t *get = json_object_get(seen, "get"), *post = json_object_get(seen, "post");
    assert_string_equal(json_string_value(json_object_get(get, "test")), "from-config");
    assert_string_equal(json_string_value(json_object_get(get, "auth")), "Bearer cfg-token");
    assert_string_equal(json_string_value(json_object_get(post, "test")), "from-config");
    assert_string_equal(json_string_value(json_object_get(post, "auth")), "Bearer cfg-token");
    json_decref(seen);
    json_decref(r);
    json_t *st = server_stats();
    assert_true(json_integer_value(json_object_get(st, "initialized")) >= 1);
    json_decref(st);
    mcp_backend_free(b);
}

static void test_sse_server_request_is_answered_over_post(void **state)
{
    (void)state;
    mcp_backend_t *b = backend_at("/sse", 10000);
    json_t *r = th_call_tool_ok(b, "ask", NULL);
    /* The tool answers with the result our client sent for roots/list. */
    assert_string_equal(th_text(r), "{\"roots\":[]}");
    json_decref(r);
    mcp_backend_free(b);
}

static void test_sse_stream_that_dies_fails_the_call_and_next_call_reconnects(void **state)
{
    (void)state;
    mcp_backend_t *b = backend_at("/sse", 10000);
    json_t *r = th_call_tool_ok(b, "echo", json_pack("{s:s}", "message", "before"));
    json_decref(r);
    int64_t t0 = mcp_now_ms();
    json_t *res = NULL;
    err_t e = {{0}};
    assert_int_equal(th_call_tool(b, "die", NULL, NULL, &res, &e), MCP_CALL_FAILED);
    assert_true(mcp_now_ms() - t0 < 10000); /* failed by the stream's end, not the 30 s deadline */
    assert_non_null(strstr(e.msg, "SSE stream"));
    assert_int_equal(mcp_backend_state(b), MCP_STATE_EXITED);
    r = th_call_tool_ok(b, "echo", json_pack("{s:s}", "message", "after"));
    assert_string_equal(th_text(r), "Echo: after");
    json_decref(r);
    assert_int_equal(mcp_backend_start_count(b), 2);
    mcp_backend_free(b);
}

static void test_sse_forgotten_session_reconnects_and_retries_once(void **state)
{
    (void)state;
    mcp_backend_t *b = backend_at("/sse", 10000);
    json_t *r = th_call_tool_ok(b, "forget", NULL);
    assert_string_equal(th_text(r), "forgotten");
    json_decref(r);
    json_t *st = server_stats();
    json_int_t gets = json_integer_value(json_object_get(st, "gets"));
    json_decref(st);
    /* The POST gets 404; the call goes out again on a new stream. */
    r = th_call_tool_ok(b, "echo", json_pack("{s:s}", "message", "again"));
    assert_string_equal(th_text(r), "Echo: again");
    json_decref(r);
    assert_int_equal(mcp_backend_start_count(b), 2);
    st = server_stats();
    assert_int_equal(json_integer_value(json_object_get(st, "gets")), gets + 1);
    json_decref(st);
    mcp_backend_free(b);
}

static void test_sse_endpoint_on_another_origin_is_refused(void **state)
{
    (void)state;
    mcp_backend_t *b = backend_at("/foreign", 10000);
    err_t e = {{0}};
    assert_false(mcp_backend_start(b, &e));
    assert_non_null(strstr(e.msg, "failed to connect using any HTTP transport"));
    if (!strstr(e.msg, "another origin"))
        fail_msg("%s", e.msg);
    assert_non_null(strstr(e.msg, "HTTP 405")); /* the streamable attempt's reason is kept */
    assert_string_equal(mcp_backend_transport(b), "none");
    mcp_backend_free(b);
}

static void test_sse_stream_without_endpoint_fails_at_the_startup_timeout(void **state)
{
    (void)state;
    mcp_backend_t *b = backend_at("/silent", 1500);
    err_t e = {{0}};
    assert_false(mcp_backend_start(b, &e));
    assert_non_null(strstr(e.msg, "no endpoint event"));
    mcp_backend_free(b);
}

static void test_sse_non_stream_answer_is_named_in_the_error(void **state)
{
    (void)state;
    mcp_backend_t *b = backend_at("/notsse", 5000);
    err_t e = {{0}};
    assert_false(mcp_backend_start(b, &e));
    assert_non_null(strstr(e.msg, "not an event stream"));
    mcp_backend_free(b);
}

static void test_sse_deadline_sends_cancelled_with_the_request_id(void **state)
{
    (void)state;
    mcp_backend_t *b = backend_at("/sse", 10000);
    json_t *r = th_call_tool_ok(b, "echo", json_pack("{s:s}", "message", "warm"));
    json_decref(r);
    json_t *st = server_stats();
    size_t before = json_array_size(json_object_get(st, "cancelled"));
    json_decref(st);
    mcp_call_opts_t o = {.deadline_ms = mcp_now_ms() + 300};
    json_t *res = NULL;
    err_t e = {{0}};
    assert_int_equal(th_call_tool(b, "slow", json_pack("{s:i}", "ms", 3000), &o, &res, &e), MCP_CALL_TIMEOUT);
    assert_non_null(strstr(e.msg, "context deadline exceeded"));
    st = server_stats();
    json_t *cancelled = json_object_get(st, "cancelled");
    assert_int_equal(json_array_size(cancelled), before + 1);
    json_t *last = json_array_get(cancelled, json_array_size(cancelled) - 1);
    assert_string_equal(json_string_value(json_object_get(last, "reason")), "context deadline exceeded");
    assert_true(json_is_integer(json_object_get(last, "requestId")));
    json_decref(st);
    /* The connection is still good for the next call. */
    r = th_call_tool_ok(b, "echo", json_pack("{s:s}", "message", "still here"));
    assert_string_equal(th_text(r), "Echo: still here");
    json_decref(r);
    mcp_backend_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sse_configured_headers_reach_the_stream_and_every_post),
        cmocka_unit_test(test_sse_server_request_is_answered_over_post),
        cmocka_unit_test(test_sse_stream_that_dies_fails_the_call_and_next_call_reconnects),
        cmocka_unit_test(test_sse_forgotten_session_reconnects_and_retries_once),
        cmocka_unit_test(test_sse_endpoint_on_another_origin_is_refused),
        cmocka_unit_test(test_sse_stream_without_endpoint_fails_at_the_startup_timeout),
        cmocka_unit_test(test_sse_non_stream_answer_is_named_in_the_error),
        cmocka_unit_test(test_sse_deadline_sends_cancelled_with_the_request_id),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
