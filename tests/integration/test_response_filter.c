/*
 * test_response_filter.c — tool_response_filters through the real gateway
 * (spec: gateway §4.11): server-everything over stdio with a jq filter on
 * its `echo` tool; a filter that fails keeps the original result.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static fg_gateway_t gw;
static char url[160], auth_hdr[300];

static const char *init_body =
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\","
    "\"capabilities\":{},\"clientInfo\":{\"name\":\"probe\",\"version\":\"1\"}}}";

static int setup(void **state)
{
    (void)state;
    char cfg[4096];
    /* Upper-cases the echo, except that a message containing "boom" makes
     * the filter itself fail. */
    snprintf(cfg, sizeof cfg,
             "{\"mcpServers\":{\"everything\":{\"type\":\"stdio\",\"command\":\"%s\",\"args\":[\"%s\",\"stdio\"],"
             "\"tool_response_filters\":{\"echo\":"
             "\"if (.content[0].text | test(\\\"boom\\\")) then error(\\\"bad\\\") "
             "else .content[0].text |= ascii_upcase end\"}}},"
             "\"gateway\":{\"port\":3000,\"domain\":\"localhost\",\"agentId\":\"filter-key\"}}",
             fg_node_bin(), fg_everything_js());
    assert_true(fg_gateway_start(&gw, cfg, NULL, 60000));
    snprintf(url, sizeof url, "%s/mcp/everything", gw.url_base);
    snprintf(auth_hdr, sizeof auth_hdr, "Authorization: %s", gw.auth);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (gw.proc.pid > 0)
        fg_gateway_stop(&gw);
    return 0;
}

static void post(const char *session, const char *body, fg_resp_t *r)
{
    char sh[128];
    const char *h[] = {auth_hdr, "Content-Type: application/json", "Accept: application/json, text/event-stream",
                       session ? sh : NULL, NULL};
    if (session)
        snprintf(sh, sizeof sh, "Mcp-Session-Id: %s", session);
    assert_true(fg_http("POST", url, h, body, r));
}

static char *open_session(void)
{
    fg_resp_t r;
    post(NULL, init_body, &r);
    assert_int_equal(r.status, 200);
    char *sid = fg_resp_header(&r, "Mcp-Session-Id");
    assert_non_null(sid);
    fg_resp_free(&r);
    post(sid, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &r);
    assert_int_equal(r.status, 202);
    fg_resp_free(&r);
    return sid;
}

/* The text of the first content item of a tools/call echo reply. */
static char *echo(const char *sid, const char *message)
{
    char body[512];
    snprintf(body, sizeof body,
             "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
             "\"arguments\":{\"message\":\"%s\"}}}",
             message);
    fg_resp_t r;
    post(sid, body, &r);
    assert_int_equal(r.status, 200);
    json_t *v = fg_sse_first(r.body);
    if (!v)
        fail_msg("no SSE data in: %s", r.body);
    fg_resp_free(&r);
    const char *t = json_string_value(
        json_object_get(json_array_get(json_object_get(json_object_get(v, "result"), "content"), 0), "text"));
    if (!t)
        fail_msg("no text result: %s", json_dumps(v, JSON_COMPACT));
    char *out = strdup(t);
    json_decref(v);
    return out;
}

static void test_configured_filter_rewrites_the_result(void **state)
{
    (void)state;
    char *sid = open_session();
    char *t = echo(sid, "hello filter");
    assert_non_null(strstr(t, "HELLO FILTER"));
    free(t);
    free(sid);
}

static void test_failing_filter_keeps_the_original_and_logs_a_warning(void **state)
{
    (void)state;
    char *sid = open_session();
    char *t = echo(sid, "boom now");
    assert_non_null(strstr(t, "boom now"));
    free(t);
    free(sid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_configured_filter_rewrites_the_result),
        cmocka_unit_test(test_failing_filter_keeps_the_original_and_logs_a_warning),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
