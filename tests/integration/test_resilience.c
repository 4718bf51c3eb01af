/*
 * test_resilience.c — the gateway keeping backends usable (spec §3.7, §3.6,
 * §3.3 keepalive), end to end with the real flowgate binary and the fixture
 * server fixtures/resilience_server.mjs:
 *   - rate-limited results open the per-backend circuit breaker; while open,
 *     calls fail without reaching the backend; after the cooldown one probe
 *     goes through and closes it (or reopens it if still rate limited);
 *   - a stdio backend killed behind the gateway's back is restarted by the
 *     health monitor without any client call;
 *   - an HTTP backend receives keepalive pings.
 * Short intervals come from the config (rate_limit_cooldown = 1,
 * keepalive_interval = 1) and FLOWGATE_HEALTH_INTERVAL_MS.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static char fixture[512];
static char auth_hdr[300];

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void post(const char *url, const char *session, const char *body, fg_resp_t *r)
{
    char sh[128];
    const char *h[6] = {auth_hdr, "Content-Type: application/json", "Accept: application/json, text/event-stream",
                        NULL, NULL, NULL};
    if (session) {
        snprintf(sh, sizeof sh, "Mcp-Session-Id: %s", session);
        h[3] = sh;
    }
    assert_true(fg_http("POST", url, h, body, r));
}

static char *open_session(const char *url)
{
    fg_resp_t r;
    post(url, NULL,
         "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\","
         "\"capabilities\":{},\"clientInfo\":{\"name\":\"probe\",\"version\":\"1\"}}}",
         &r);
    assert_int_equal(r.status, 200);
    char *sid = fg_resp_header(&r, "Mcp-Session-Id");
    assert_non_null(sid);
    fg_resp_free(&r);
    post(url, sid, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &r);
    assert_int_equal(r.status, 202);
    fg_resp_free(&r);
    return sid;
}

/* tools/call `tool`; returns the whole JSON-RPC reply (new ref). */
static json_t *call(const char *url, const char *sid, const char *tool, const char *args)
{
    static int id = 100;
    char body[512];
    snprintf(body, sizeof body,
             "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":{\"name\":\"%s\",\"arguments\":%s}}",
             id++, tool, args ? args : "{}");
    fg_resp_t r;
    post(url, sid, body, &r);
    assert_int_equal(r.status, 200);
    json_t *v = fg_sse_first(r.body);
    if (!v)
        fprintf(stderr, "no SSE data in: %s\n", r.body);
    assert_non_null(v);
    fg_resp_free(&r);
    return v;
}

static const char *first_text(const json_t *reply)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(json_object_get(reply, "result"), "content"), 0), "text"));
}

static const char *error_message(const json_t *reply)
{
    return json_string_value(json_object_get(json_object_get(reply, "error"), "message"));
}

/* The stats tool's counters; fails the test if the call was rejected. */
static void stats(const char *url, const char *sid, long *calls, long *pings)
{
    json_t *v = call(url, sid, "stats", NULL);
    const char *t = first_text(v);
    if (!t)
        fprintf(stderr, "stats rejected: %s\n", error_message(v) ? error_message(v) : "?");
    assert_non_null(t);
    json_t *s = json_loads(t, 0, NULL);
    assert_non_null(s);
    *calls = (long)json_integer_value(json_object_get(s, "calls"));
    if (pings)
        *pings = (long)json_integer_value(json_object_get(s, "pings"));
    json_decref(s);
    json_decref(v);
}

static void assert_breaker_open(const char *url, const char *sid, const char *tool)
{
    json_t *v = call(url, sid, tool, NULL);
    const char *em = error_message(v);
    if (!em)
        fprintf(stderr, "expected a breaker error, got a result\n");
    assert_non_null(em);
    assert_non_null(strstr(em, "rate limit circuit breaker is OPEN for server \"rl\""));
    assert_non_null(strstr(em, "requests temporarily rejected"));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(v, "error"), "code")), 0);
    json_decref(v);
}

static void call_limited(const char *url, const char *sid)
{
    json_t *v = call(url, sid, "limited", NULL);
    /* The rate-limited result itself reaches the client as an isError result. */
    assert_true(json_is_true(json_object_get(json_object_get(v, "result"), "isError")));
    assert_non_null(strstr(first_text(v), "API rate limit exceeded"));
    json_decref(v);
}

/* ---- an HTTP backend behind a TOML config: breaker and keepalive */

static fg_gateway_t http_gw;
static fg_proc_t http_backend;
static char rl_url[200];

static int http_setup(void **state)
{
    (void)state;
    char *d = fg_tempdir("resil");
    char portfile[600], toml[600];
    snprintf(portfile, sizeof portfile, "%s/port", d);
    snprintf(toml, sizeof toml, "%s/c.toml", d);
    free(d);
    char *argv[] = {(char *)fg_node_bin(), fixture, "http", portfile, NULL};
    assert_true(fg_spawn(&http_backend, argv, NULL, NULL, false));
    char *port = NULL;
    for (int i = 0; i < 200 && !(port && *port); i++) {
        free(port);
        sleep_ms(50);
        port = fg_read_file(portfile);
    }
    assert_true(port && *port);
    FILE *f = fopen(toml, "w");
    assert_non_null(f);
    fprintf(f,
            "[gateway]\nport = 3000\napi_key = \"resilience-key\"\nkeepalive_interval = 1\n\n"
            "[servers.rl]\ntype = \"http\"\nurl = \"http://127.0.0.1:%d/mcp\"\n"
            "rate_limit_threshold = 3\nrate_limit_cooldown = 1\n",
            atoi(port));
    fclose(f);
    free(port);
    const char *extra[] = {"--config", toml, "--routed", NULL};
    assert_true(fg_gateway_start(&http_gw, NULL, extra, 60000));
    snprintf(rl_url, sizeof rl_url, "%s/mcp/rl", http_gw.url_base);
    snprintf(auth_hdr, sizeof auth_hdr, "Authorization: %s", http_gw.auth);
    return 0;
}

static int http_teardown(void **state)
{
    (void)state;
    if (http_gw.proc.pid > 0)
        assert_int_equal(fg_gateway_stop(&http_gw), 0);
    json_decref(http_gw.doc);
    fg_proc_stop(&http_backend, 2000);
    return 0;
}

static void test_rate_limited_results_open_the_breaker_and_a_probe_closes_it(void **state)
{
    (void)state;
    char *sid = open_session(rl_url);
    long base, calls;
    stats(rl_url, sid, &base, NULL);
    for (int i = 0; i < 3; i++)
        call_limited(rl_url, sid);
    /* Open: refused without reaching the backend, whatever the tool. */
    assert_breaker_open(rl_url, sid, "stats");
    assert_breaker_open(rl_url, sid, "ok");
    sleep_ms(1300); /* cooldown 1 s */
    /* The probe goes through: only the 3 limited calls and this one reached it. */
    stats(rl_url, sid, &calls, NULL);
    assert_int_equal(calls, base + 4);
    /* ... and its success closed the breaker. */
    stats(rl_url, sid, &calls, NULL);
    assert_int_equal(calls, base + 5);
    free(sid);
}

static void test_a_rate_limited_probe_reopens_the_breaker(void **state)
{
    (void)state;
    char *sid = open_session(rl_url);
    for (int i = 0; i < 3; i++)
        call_limited(rl_url, sid);
    assert_breaker_open(rl_url, sid, "ok");
    sleep_ms(1300);
    call_limited(rl_url, sid); /* the probe, still limited */
    assert_breaker_open(rl_url, sid, "stats");
    sleep_ms(1300);
    long calls;
    stats(rl_url, sid, &calls, NULL); /* probe succeeds: closed again */
    stats(rl_url, sid, &calls, NULL);
    free(sid);
}

static void test_http_backend_receives_keepalive_pings(void **state)
{
    (void)state;
    char *sid = open_session(rl_url);
    long calls, before, after;
    stats(rl_url, sid, &calls, &before);
    sleep_ms(3500); /* keepalive_interval = 1 s */
    stats(rl_url, sid, &calls, &after);
    assert_true(after - before >= 2);
    free(sid);
}

/* ---- a stdio backend: restarted by the health monitor */

static long last_pid(const char *pidfile, int *lines)
{
    char *t = fg_read_file(pidfile);
    long pid = 0;
    *lines = 0;
    for (char *p = t; p && *p;) {
        char *nl = strchr(p, '\n');
        if (!nl)
            break;
        pid = strtol(p, NULL, 10);
        (*lines)++;
        p = nl + 1;
    }
    free(t);
    return pid;
}

static void test_killed_stdio_backend_is_restarted_without_a_client_call(void **state)
{
    (void)state;
    char *d = fg_tempdir("resil-stdio");
    char pidfile[600], cfg[2048];
    snprintf(pidfile, sizeof pidfile, "%s/pids", d);
    free(d);
    snprintf(cfg, sizeof cfg,
             "{\"mcpServers\":{\"st\":{\"type\":\"stdio\",\"command\":\"%s\",\"args\":[\"%s\",\"stdio\",\"%s\"]}},"
             "\"gateway\":{\"port\":3000,\"domain\":\"localhost\",\"agentId\":\"resilience-key\"}}",
             fg_node_bin(), fixture, pidfile);
    setenv("FLOWGATE_HEALTH_INTERVAL_MS", "200", 1);
    fg_gateway_t g;
    bool started = fg_gateway_start(&g, cfg, (const char *const[]){"--routed", NULL}, 60000);
    unsetenv("FLOWGATE_HEALTH_INTERVAL_MS");
    assert_true(started);
    snprintf(auth_hdr, sizeof auth_hdr, "Authorization: %s", g.auth);
    int lines;
    long pid = last_pid(pidfile, &lines);
    assert_int_equal(lines, 1);
    assert_true(pid > 1);
    assert_int_equal(kill((pid_t)pid, SIGKILL), 0);
    long npid = pid;
    for (int i = 0; i < 200 && npid == pid; i++) {
        sleep_ms(50);
        npid = last_pid(pidfile, &lines);
    }
    assert_int_equal(lines, 2);
    assert_true(npid != pid && npid > 1);
    assert_int_equal(kill((pid_t)npid, 0), 0); /* alive */
    /* /health still reports it running. */
    char url[200];
    snprintf(url, sizeof url, "%s/health", g.url_base);
    fg_resp_t r;
    assert_true(fg_http("GET", url, NULL, NULL, &r));
    json_t *h = json_loads(r.body, 0, NULL);
    fg_resp_free(&r);
    assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(h, "servers"), "st"), "status")),
                        "running");
    json_decref(h);
    assert_int_equal(fg_gateway_stop(&g), 0);
    json_decref(g.doc);
    /* The gateway took the restarted process down with it. */
    for (int i = 0; i < 100 && kill((pid_t)npid, 0) == 0; i++)
        sleep_ms(50);
    assert_int_not_equal(kill((pid_t)npid, 0), 0);
}

int main(void)
{
    snprintf(fixture, sizeof fixture, "%s/integration/fixtures/resilience_server.mjs", fg_tests_dir());
    const struct CMUnitTest http_tests[] = {
        cmocka_unit_test(test_rate_limited_results_open_the_breaker_and_a_probe_closes_it),
        cmocka_unit_test(test_a_rate_limited_probe_reopens_the_breaker),
        cmocka_unit_test(test_http_backend_receives_keepalive_pings),
    };
    const struct CMUnitTest stdio_tests[] = {
        cmocka_unit_test(test_killed_stdio_backend_is_restarted_without_a_client_call),
    };
    int failed = cmocka_run_group_tests_name("resilience_http", http_tests, http_setup, http_teardown);
    failed += cmocka_run_group_tests_name("resilience_stdio", stdio_tests, NULL, NULL);
    return failed;
}
