/*
 * test_sessions.c — the MCP session idle timeout through the real flowgate
 * binary (spec: gateway §1.3 MCP_GATEWAY_SESSION_TIMEOUT, §4.5 step 8 "idle
 * timer ... paused while POSTs are in flight", §4.6 "expires after the idle
 * timeout"): a session idle past the timeout is gone (404 session not
 * found) and a new initialize works; one in use, or busy with a call longer
 * than the timeout, stays. The timeout is 2 s so the test takes a few
 * seconds; the margins (idle 3.2 s vs pings every 300 ms) leave room for a
 * loaded machine. Backend: examples/demo-server (its `sleep` tool).
 */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static fg_gateway_t gw;
static char url[200];

static const char *const ping = "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\"}";

static int setup(void **state)
{
    (void)state;
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "{\"mcpServers\":{\"demo\":{\"type\":\"stdio\",\"command\":\"%s\",\"args\":[]}},"
             "\"gateway\":{\"port\":8000,\"domain\":\"localhost\",\"agentId\":\"session-agent\"}}",
             DEMO_SERVER);
    setenv("MCP_GATEWAY_SESSION_TIMEOUT", "2s", 1);
    bool ok = fg_gateway_start(&gw, cfg, NULL, 30000);
    unsetenv("MCP_GATEWAY_SESSION_TIMEOUT");
    assert_true(ok);
    snprintf(url, sizeof url, "%s/mcp/demo", gw.url_base);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (gw.proc.pid > 0)
        fg_gateway_stop(&gw);
    return 0;
}

/* The HTTP status of a ping in session sid; body_part, if given, must be
 * in the reply. */
static long ping_status(const char *sid, const char *body_part)
{
    fg_resp_t r;
    assert_true(fg_mcp_post(url, gw.auth, sid, ping, &r));
    long st = r.status;
    if (body_part && !strstr(r.body, body_part))
        fail_msg("ping in %s: HTTP %ld %s (wanted \"%s\")", sid, st, r.body, body_part);
    fg_resp_free(&r);
    return st;
}

static void test_a_session_idle_past_the_timeout_is_gone(void **state)
{
    (void)state;
    char idle[128], busy[128];
    assert_true(fg_mcp_open(url, gw.auth, idle, sizeof idle));
    assert_true(fg_mcp_open(url, gw.auth, busy, sizeof busy));
    assert_int_equal(ping_status(idle, NULL), 200);
    /* 3.2 s: `busy` is used every 300 ms, `idle` not at all. */
    for (int i = 0; i < 11; i++) {
        usleep(300 * 1000);
        assert_int_equal(ping_status(busy, NULL), 200);
    }
    assert_int_equal(ping_status(idle, "session not found"), 404);
    assert_int_equal(ping_status(busy, NULL), 200);
    /* Gone for good, not only for one request; a new session works. */
    assert_int_equal(ping_status(idle, "session not found"), 404);
    char fresh[128];
    assert_true(fg_mcp_open(url, gw.auth, fresh, sizeof fresh));
    assert_string_not_equal(fresh, idle);
    assert_int_equal(ping_status(fresh, NULL), 200);
}

static void test_a_call_longer_than_the_timeout_keeps_its_session(void **state)
{
    (void)state;
    char sid[128];
    assert_true(fg_mcp_open(url, gw.auth, sid, sizeof sid));
    json_t *v = fg_mcp_tool(url, gw.auth, sid, "sleep", "{\"ms\":2600}");
    assert_non_null(v);
    if (!json_object_get(v, "result"))
        fail_msg("sleep failed: %s", json_dumps(v, JSON_COMPACT));
    json_decref(v);
    /* The idle clock starts when the call ends. */
    assert_int_equal(ping_status(sid, NULL), 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_session_idle_past_the_timeout_is_gone),
        cmocka_unit_test(test_a_call_longer_than_the_timeout_keeps_its_session),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
