/*
 * test_demo_e2e.c — the bundled example as scripts/run.sh serves it: the
 * flowgate binary on examples/demo.json (paths pointed at this build), the
 * demo server behind demo_guard.wasm, driven over streamable HTTP. Checks
 * what examples/README.md promises for the shipped policy (repos "public",
 * min-integrity "none", filter mode).
 */
#include <jansson.h>
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
static char url[160], auth_hdr[300], session[128], call_log[512];

/* demo.json with the build-relative paths made absolute for this build, and
 * the server's call log in a temporary directory. */
static char *demo_config(void)
{
    json_error_t jerr;
    json_t *cfg = json_load_file(EXAMPLES_DIR "/demo.json", 0, &jerr);
    if (!cfg)
        fail_msg("demo.json: %s", jerr.text);
    json_t *srv = json_object_get(json_object_get(cfg, "mcpServers"), "demo");
    json_t *guard = json_object_get(json_object_get(cfg, "guards"), "demo");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", BUILD_DIR, json_string_value(json_object_get(srv, "command")) + 6);
    json_object_set_new(srv, "command", json_string(path));
    snprintf(path, sizeof path, "%s/%s", BUILD_DIR, json_string_value(json_object_get(guard, "path")) + 6);
    json_object_set_new(guard, "path", json_string(path));
    char *dir = fg_tempdir("demo-e2e");
    snprintf(call_log, sizeof call_log, "%s/calls.log", dir);
    free(dir);
    json_object_set_new(json_object_get(srv, "env"), "DEMO_SERVER_LOG", json_string(call_log));
    char *text = json_dumps(cfg, JSON_COMPACT);
    json_decref(cfg);
    return text;
}

static json_t *post(const char *body)
{
    char sh[160];
    snprintf(sh, sizeof sh, "Mcp-Session-Id: %s", session);
    const char *h[] = {auth_hdr, "Content-Type: application/json", "Accept: application/json, text/event-stream",
                       session[0] ? sh : NULL, NULL};
    fg_resp_t r = {0};
    assert_true(fg_http("POST", url, h, body, &r));
    if (!session[0]) {
        char *sid = fg_resp_header(&r, "Mcp-Session-Id");
        assert_non_null(sid);
        snprintf(session, sizeof session, "%s", sid);
        free(sid);
    }
    json_t *msg = r.status == 202 ? NULL : fg_sse_first(r.body);
    if (r.status != 202 && !msg)
        fail_msg("HTTP %ld: %s", r.status, r.body ? r.body : "");
    fg_resp_free(&r);
    return msg;
}

static int setup(void **state)
{
    (void)state;
    char *cfg = demo_config();
    bool ok = fg_gateway_start(&gw, cfg, NULL, 60000);
    free(cfg);
    assert_true(ok);
    snprintf(url, sizeof url, "%s/mcp/demo", gw.url_base);
    snprintf(auth_hdr, sizeof auth_hdr, "Authorization: %s", gw.auth);
    assert_string_equal(gw.auth, "demo-agent");
    json_decref(post("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
                     "\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"e2e\",\"version\":\"1\"}}}"));
    json_decref(post("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}"));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (gw.proc.pid > 0)
        fg_gateway_stop(&gw);
    return 0;
}

/* tools/call; returns the whole JSON-RPC reply serialised (malloc'd), which
 * is what an agent could read. */
static char *call(const char *tool, const char *args)
{
    char body[1024];
    snprintf(body, sizeof body,
             "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"%s\",\"arguments\":%s}}",
             tool, args);
    json_t *reply = post(body);
    char *text = json_dumps(reply, JSON_COMPACT);
    json_decref(reply);
    return text;
}

static char *read_call_log(void)
{
    FILE *f = fopen(call_log, "r");
    static char text[8192];
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f)
        fclose(f);
    text[n] = '\0';
    return text;
}

static void test_the_demo_tools_are_listed(void **state)
{
    (void)state;
    json_t *r = post("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
    json_t *tools = json_object_get(json_object_get(r, "result"), "tools");
    assert_int_equal(json_array_size(tools), 5);
    json_decref(r);
}

static void test_list_issues_hides_private_issues_with_a_notice(void **state)
{
    (void)state;
    char *reply = call("list_issues", "{}");
    assert_null(strstr(reply, "staging database")); /* issue #2's title */
    assert_null(strstr(reply, "Customer ACME"));     /* issue #4's title */
    assert_non_null(strstr(reply, "Crash on empty config"));
    assert_non_null(strstr(reply, "[Filtered] 2 item(s) in this response were removed by secrecy policy"));
    free(reply);
}

static void test_get_issue_of_a_private_issue_is_filtered(void **state)
{
    (void)state;
    char *reply = call("get_issue", "{\"number\":2}");
    assert_null(strstr(reply, "staging database"));
    assert_non_null(strstr(reply, "[Filtered] issue:demo/tracker#2 exists but is not accessible"));
    free(reply);
    reply = call("get_issue", "{\"number\":1}");
    assert_non_null(strstr(reply, "Crash on empty config"));
    free(reply);
}

static void test_create_issue_is_denied_before_the_server(void **state)
{
    (void)state;
    char *reply = call("create_issue", "{\"title\":\"should never arrive\"}");
    assert_non_null(strstr(reply, "DIFC Violation"));
    free(reply);
    const char *log = read_call_log();
    assert_non_null(strstr(log, "\"list_issues\"")); /* the log works... */
    assert_null(strstr(log, "create_issue"));      /* ...and the write never came */
}

static void test_public_notes_pass_unchanged(void **state)
{
    (void)state;
    char *reply = call("list_public_notes", "{}");
    assert_non_null(strstr(reply, "Release 1.2 ships on Friday."));
    assert_null(strstr(reply, "[Filtered]"));
    free(reply);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_demo_tools_are_listed),
        cmocka_unit_test(test_list_issues_hides_private_issues_with_a_notice),
        cmocka_unit_test(test_get_issue_of_a_private_issue_is_filtered),
        cmocka_unit_test(test_create_issue_is_denied_before_the_server),
        cmocka_unit_test(test_public_notes_pass_unchanged),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
