/*
 * test_url_audit.c — --url-domain-audit through the real gateway (spec:
 * gateway §1.2, §4.11, §5.1): a stdio backend (fixtures/url_server.mjs)
 * returns URLs in JSON text, structured content and prose; with the flag
 * the hosts of its successful results land in observed-url-domains.json
 * (mode 0600) under the server id; without it the file stays {}.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"

static const char *init_body =
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\","
    "\"capabilities\":{},\"clientInfo\":{\"name\":\"probe\",\"version\":\"1\"}}}";

static bool start(fg_gateway_t *gw, bool audit)
{
    char fixture[512], cfg[2048];
    snprintf(fixture, sizeof fixture, "%s/integration/fixtures/url_server.mjs", fg_tests_dir());
    snprintf(cfg, sizeof cfg,
             "{\"mcpServers\":{\"urls\":{\"type\":\"stdio\",\"command\":\"%s\",\"args\":[\"%s\"]}},"
             "\"gateway\":{\"port\":3000,\"domain\":\"localhost\",\"agentId\":\"audit-key\"}}",
             fg_node_bin(), fixture);
    const char *flag[] = {"--url-domain-audit", NULL};
    return fg_gateway_start(gw, cfg, audit ? flag : NULL, 60000);
}

static void post(const fg_gateway_t *gw, const char *session, const char *body, fg_resp_t *r)
{
    char url[200], auth[300], sh[128];
    snprintf(url, sizeof url, "%s/mcp/urls", gw->url_base);
    snprintf(auth, sizeof auth, "Authorization: %s", gw->auth);
    if (session)
        snprintf(sh, sizeof sh, "Mcp-Session-Id: %s", session);
    const char *h[] = {auth, "Content-Type: application/json", "Accept: application/json, text/event-stream",
                       session ? sh : NULL, NULL};
    assert_true(fg_http("POST", url, h, body, r));
}

static char *open_session(const fg_gateway_t *gw)
{
    fg_resp_t r;
    post(gw, NULL, init_body, &r);
    assert_int_equal(r.status, 200);
    char *sid = fg_resp_header(&r, "Mcp-Session-Id");
    assert_non_null(sid);
    fg_resp_free(&r);
    post(gw, sid, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &r);
    assert_int_equal(r.status, 202);
    fg_resp_free(&r);
    return sid;
}

/* Calls each tool of the fixture once; every call must come back as a
 * result (the isError one included). */
static void call_every_tool(const fg_gateway_t *gw)
{
    char *sid = open_session(gw);
    const char *tools[] = {"links", "prose", "broken", "none"};
    for (size_t i = 0; i < 4; i++) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"jsonrpc\":\"2.0\",\"id\":%zu,\"method\":\"tools/call\",\"params\":{\"name\":\"%s\","
                 "\"arguments\":{}}}",
                 i + 2, tools[i]);
        fg_resp_t r;
        post(gw, sid, body, &r);
        assert_int_equal(r.status, 200);
        json_t *v = fg_sse_first(r.body);
        if (!v || !json_object_get(v, "result"))
            fail_msg("tools/call %s: %s", tools[i], r.body);
        json_decref(v);
        fg_resp_free(&r);
    }
    free(sid);
}

/* observed-url-domains.json's text (malloc'd), checking its mode. */
static char *read_observed(const fg_gateway_t *gw)
{
    char path[400];
    snprintf(path, sizeof path, "%s/observed-url-domains.json", gw->log_dir);
    struct stat st;
    if (stat(path, &st) != 0)
        fail_msg("%s does not exist", path);
    assert_int_equal(st.st_mode & 0777, 0600);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *buf = calloc(1, 8192);
    size_t n = fread(buf, 1, 8191, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void test_audit_records_the_hosts_of_successful_results(void **state)
{
    (void)state;
    fg_gateway_t gw;
    assert_true(start(&gw, true));
    char *t = read_observed(&gw);
    assert_string_equal(t, "{}");
    free(t);
    call_every_tool(&gw);
    /* links: the JSON text's escaped and \u-escaped URLs, a URL used as a
     * key, structuredContent; prose: userinfo and port dropped, case
     * folded, punctuation trimmed; broken (isError) and ftp:// are not
     * recorded. */
    t = read_observed(&gw);
    assert_string_equal(t, "{\n"
                           "  \"urls\": [\n"
                           "    \"api.github.com\",\n"
                           "    \"docs.example.com\",\n"
                           "    \"example.org\",\n"
                           "    \"github.com\",\n"
                           "    \"key.example\",\n"
                           "    \"mixed.case.example\",\n"
                           "    \"trailing.example\"\n"
                           "  ]\n"
                           "}");
    free(t);
    assert_int_equal(fg_gateway_stop(&gw), 0);
}

static void test_without_the_flag_the_file_stays_an_empty_object(void **state)
{
    (void)state;
    fg_gateway_t gw;
    assert_true(start(&gw, false));
    call_every_tool(&gw);
    char *t = read_observed(&gw);
    assert_string_equal(t, "{}");
    free(t);
    assert_int_equal(fg_gateway_stop(&gw), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_audit_records_the_hosts_of_successful_results),
        cmocka_unit_test(test_without_the_flag_the_file_stays_an_empty_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
