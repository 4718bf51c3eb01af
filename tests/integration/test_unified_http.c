/*
 * test_unified_http.c — unified mode's front end through the real flowgate
 * binary (spec: gateway §4.1, §4.3, §4.10, §4.12; §8 cases 7, 8, 9, 11, 14)
 * and the main log file (§5.1, §8 case 32): GET /mcp needs a session, /mcp
 * and /mcp/ need Authorization, whose exact bytes are checked (raw
 * requests), the OAuth discovery paths are 404 for GET and
 * POST, /close answers JSON and then gates /mcp with 503 while /health
 * keeps answering; mcp-gateway.log is 0644, readable while the gateway
 * runs, and MCP_GATEWAY_LOG_DIR places it without --log-dir.
 *
 * Backends: two examples/demo-server processes. One unified gateway serves
 * the tests in order; the last one closes it.
 */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static fg_gateway_t gw;
static char cfg[2048];
static char mcp[200], mcp_slash[200], auth_hdr[300];

static const char *const init_body =
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\","
    "\"capabilities\":{},\"clientInfo\":{\"name\":\"probe\",\"version\":\"1\"}}}";

static int setup(void **state)
{
    (void)state;
    snprintf(cfg, sizeof cfg,
             "{\"mcpServers\":{\"one\":{\"type\":\"stdio\",\"command\":\"%s\",\"args\":[]},"
             "\"two\":{\"type\":\"stdio\",\"command\":\"%s\",\"args\":[]}},"
             "\"gateway\":{\"port\":3000,\"domain\":\"localhost\",\"agentId\":\"unified-key\"}}",
             DEMO_SERVER, DEMO_SERVER);
    const char *extra[] = {"--unified", NULL};
    assert_true(fg_gateway_start(&gw, cfg, extra, 30000));
    snprintf(mcp, sizeof mcp, "%s/mcp", gw.url_base);
    snprintf(mcp_slash, sizeof mcp_slash, "%s/mcp/", gw.url_base);
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

static void expect(const char *method, const char *url, const char *const h[], const char *body, long status,
                   const char *body_part)
{
    fg_resp_t r;
    assert_true(fg_http(method, url, h, body, &r));
    if (r.status != status || (body_part && !strstr(r.body, body_part)))
        fail_msg("%s %s -> %ld %s (wanted %ld, \"%s\")", method, url, r.status, r.body, status,
                 body_part ? body_part : "");
    fg_resp_free(&r);
}

static void test_every_url_in_the_stdout_document_is_slash_mcp(void **state)
{
    (void)state;
    const char *id;
    json_t *srv;
    size_t n = 0;
    json_object_foreach(json_object_get(gw.doc, "mcpServers"), id, srv) {
        assert_string_equal(json_string_value(json_object_get(srv, "url")), mcp);
        n++;
    }
    assert_int_equal(n, 2);
}

static void test_get_without_a_session_is_400(void **state)
{
    (void)state;
    const char *h[] = {auth_hdr, "Accept: text/event-stream", NULL};
    expect("GET", mcp, h, NULL, 400, "GET requires an Mcp-Session-Id header");
}

static void test_mcp_and_mcp_slash_need_authorization(void **state)
{
    (void)state;
    const char *noauth[] = {"Content-Type: application/json", "Accept: application/json, text/event-stream", NULL};
    const char *urls[] = {mcp, mcp_slash};
    for (int i = 0; i < 2; i++) {
        expect("POST", urls[i], noauth, init_body, 401, "missing Authorization header");
        const char *h[] = {auth_hdr, "Content-Type: application/json", "Accept: application/json, text/event-stream",
                           NULL};
        expect("POST", urls[i], h, init_body, 200, "awmg-unified");
    }
}

/* A raw initialize on /mcp whose header lines are the `hlen` bytes of
 * `hdrs` (each ending in CRLF; they may hold a NUL, which curl would not
 * send); returns the status, the body in body[n]. */
static long raw_initialize(const char *hdrs, size_t hlen, char *body, size_t n)
{
    char req[2048];
    size_t len = (size_t)snprintf(req, sizeof req, "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    assert_true(len + hlen < sizeof req - 512);
    memcpy(req + len, hdrs, hlen);
    len += hlen;
    len += (size_t)snprintf(req + len, sizeof req - len,
                            "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
                            "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                            strlen(init_body), init_body);
    fg_resp_t r;
    assert_true(fg_http_raw(gw.port, req, len, &r));
    snprintf(body, n, "%s", r.body);
    long st = r.status;
    fg_resp_free(&r);
    return st;
}

/* "Authorization: <before><key><after>\r\n" plus `more` (more_len bytes);
 * returns its length in hdrs. */
static size_t auth_lines(char *hdrs, const char *before, size_t blen, const char *after, size_t alen,
                         const char *more, size_t more_len)
{
    size_t len = 0, klen = strlen(gw.auth);
    memcpy(hdrs, "Authorization: ", 15);
    len += 15;
    memcpy(hdrs + len, before, blen);
    len += blen;
    memcpy(hdrs + len, gw.auth, klen);
    len += klen;
    memcpy(hdrs + len, after, alen);
    len += alen;
    memcpy(hdrs + len, "\r\n", 2);
    len += 2;
    memcpy(hdrs + len, more, more_len);
    return len + more_len;
}

/* spec §4.3, §8 case 7, with the exact bytes: a control character or
 * padding around the key is refused. (A NUL inside the value cannot be
 * tested: libmicrohttpd 0.9.75 ends header values at a NUL, so
 * "key\0extra" reaches the gateway as "key".) */
static void test_authorization_with_a_control_character_or_padding_is_refused(void **state)
{
    (void)state;
    char hdrs[600], body[1024];
    size_t n = auth_lines(hdrs, "", 0, "", 0, "", 0);
    assert_int_equal(raw_initialize(hdrs, n, body, sizeof body), 200);
    n = auth_lines(hdrs, "", 0, "\x01", 1, "", 0);
    assert_int_equal(raw_initialize(hdrs, n, body, sizeof body), 400);
    assert_string_equal(body, "{\"error\":\"bad_request\",\"message\":\"malformed Authorization header\"}\n");
    n = auth_lines(hdrs, "\x7f", 1, "", 0, "", 0);
    assert_int_equal(raw_initialize(hdrs, n, body, sizeof body), 400);
    n = auth_lines(hdrs, " ", 1, " ", 1, "", 0);
    assert_int_equal(raw_initialize(hdrs, n, body, sizeof body), 401);
    assert_string_equal(body, "{\"error\":\"unauthorized\",\"message\":\"invalid API key\"}\n");
    /* §4.6: an X-Agent-ID with a control character: no session. */
    static const char agent_ctl[] = "X-Agent-ID: ag\x01ent\r\n";
    n = auth_lines(hdrs, "", 0, "", 0, agent_ctl, sizeof agent_ctl - 1);
    assert_int_equal(raw_initialize(hdrs, n, body, sizeof body), 400);
    assert_non_null(strstr(body, "no server available"));
}

static void test_oauth_discovery_is_404_for_get_and_post(void **state)
{
    (void)state;
    const char *paths[] = {"/.well-known/oauth-authorization-server", "/mcp/.well-known/oauth-authorization-server"};
    const char *methods[] = {"GET", "POST"};
    const char *h[] = {auth_hdr, "Content-Type: application/json", "Accept: application/json, text/event-stream", NULL};
    for (int p = 0; p < 2; p++)
        for (int m = 0; m < 2; m++) {
            char url[300];
            snprintf(url, sizeof url, "%s%s", gw.url_base, paths[p]);
            expect(methods[m], url, h, m ? "{}" : NULL, 404, NULL);
        }
}

static void test_main_log_is_0644_and_readable_while_running(void **state)
{
    (void)state;
    char path[400];
    snprintf(path, sizeof path, "%s/mcp-gateway.log", gw.log_dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char text[65536];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = 0;
    fclose(f);
    assert_non_null(strstr(text, "[startup]"));
    assert_non_null(strstr(text, "Starting MCPG"));
}

/* Without --log-dir: MCP_GATEWAY_LOG_DIR decides where the log goes. */
static void test_log_dir_env_places_the_log_without_the_flag(void **state)
{
    (void)state;
    char *d = fg_tempdir("logdir-env");
    char env[600], path[700];
    snprintf(env, sizeof env, "MCP_GATEWAY_LOG_DIR=%s/nested", d);
    snprintf(path, sizeof path, "%s/nested/mcp-gateway.log", d);
    char *env_add[] = {env, NULL};
    char *argv[] = {(char *)fg_flowgate_bin(), "--config-stdin", "--listen", "127.0.0.1:0", NULL};
    fg_proc_t p;
    assert_true(fg_spawn(&p, argv, env_add, cfg, true));
    bool found = false;
    for (int i = 0; i < 200 && !found; i++) {
        FILE *f = fopen(path, "r");
        if (f) {
            char line[4096];
            while (!found && fgets(line, sizeof line, f))
                found = strstr(line, "Starting MCPG") != NULL;
            fclose(f);
        }
        if (!found)
            usleep(50 * 1000);
    }
    close(p.out_fd);
    int status = fg_proc_stop(&p, 5000);
    free(d);
    assert_true(found);
    assert_int_equal(status, 0);
}

/* Last: closes the gateway. The gateway exits about 100 ms after the 200,
 * so the probes after it check what they get, if anything. */
static void test_close_answers_json_then_gates_mcp(void **state)
{
    (void)state;
    const char *mh[] = {auth_hdr, "Content-Type: application/json", "Accept: application/json, text/event-stream",
                        NULL};
    fg_resp_t r;
    assert_true(fg_http("POST", mcp, mh, init_body, &r));
    assert_int_not_equal(r.status, 503);
    fg_resp_free(&r);
    char url[200], health[200];
    snprintf(url, sizeof url, "%s/close", gw.url_base);
    snprintf(health, sizeof health, "%s/health", gw.url_base);
    const char *h[] = {auth_hdr, NULL};
    assert_true(fg_http("POST", url, h, NULL, &r));
    assert_int_equal(r.status, 200);
    char *ct = fg_resp_header(&r, "Content-Type");
    assert_non_null(ct);
    assert_string_equal(ct, "application/json");
    free(ct);
    json_t *v = json_loads(r.body, 0, NULL);
    assert_non_null(v);
    assert_string_equal(json_string_value(json_object_get(v, "status")), "closed");
    assert_string_equal(json_string_value(json_object_get(v, "message")), "Gateway shutdown initiated");
    assert_int_equal(json_integer_value(json_object_get(v, "serversTerminated")), 2);
    json_decref(v);
    fg_resp_free(&r);
    const char *urls[] = {mcp, mcp_slash};
    for (int i = 0; i < 2; i++) {
        if (fg_http("POST", urls[i], mh, init_body, &r)) {
            assert_int_equal(r.status, 503);
            assert_string_equal(r.body, "{\"error\":\"Gateway is shutting down\"}\n");
        }
        fg_resp_free(&r);
    }
    if (fg_http("GET", health, NULL, NULL, &r))
        assert_int_equal(r.status, 200);
    fg_resp_free(&r);
    if (fg_http("POST", url, h, NULL, &r)) {
        assert_int_equal(r.status, 410);
        assert_string_equal(r.body, "{\"error\":\"Gateway has already been closed\"}\n");
    }
    fg_resp_free(&r);
    assert_int_equal(fg_proc_wait(&gw.proc, 15000), 0);
    gw.proc.pid = 0;
    close(gw.proc.out_fd);
    json_decref(gw.doc);
    gw.doc = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_url_in_the_stdout_document_is_slash_mcp),
        cmocka_unit_test(test_get_without_a_session_is_400),
        cmocka_unit_test(test_mcp_and_mcp_slash_need_authorization),
        cmocka_unit_test(test_authorization_with_a_control_character_or_padding_is_refused),
        cmocka_unit_test(test_oauth_discovery_is_404_for_get_and_post),
        cmocka_unit_test(test_main_log_is_0644_and_readable_while_running),
        cmocka_unit_test(test_log_dir_env_places_the_log_without_the_flag),
        cmocka_unit_test(test_close_answers_json_then_gates_mcp),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
