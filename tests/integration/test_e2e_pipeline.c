/*
 * test_e2e_pipeline.c — the DIFC tools/call pipeline end to end (spec:
 * guard-abi-and-difc.md §4, §5 cases 37–46; departures 1, 5, 6): the real
 * flowgate binary in routed mode, the demo issue tracker (examples/demo-server)
 * behind the demo guard and the test guards of fixtures/guards, driven over
 * streamable HTTP with curl.
 *
 * One gateway serves every scenario, one server per guard:
 *   demo    demo_guard.wasm (filter), allow-only public/none, a tool-call
 *           limit on list_public_notes
 *   strict  strict_guard.wasm          prop  propagate_guard.wasm (approved)
 *   sink    a write-sink policy (no guard file: the write-sink guard,
 *           public sink visibility by default); sinkx the same, exempt
 *           from the public default
 *   trap, trap5  trap_guard.wasm       loop  loop_guard.wasm (10 s timeout)
 *   fail    filter_guard.wasm (-1 on __fail__)
 *   disc    configured with the demo guard, but a strict guard is
 *           discovered in $MCP_GATEWAY_WASM_GUARDS_DIR/disc/ and wins
 * Each test is its own agent (X-Agent-ID), because agent labels are shared
 * across servers. Every server writes the calls it receives to its own log,
 * so a test can prove that a denied call never reached it.
 */
#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static fg_gateway_t gw;
static char logs[512];       /* directory of the servers' call logs */
static char auth_hdr[300];

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    fclose(out);
}

static json_t *server(const char *name, const char *guard, json_t *policies)
{
    char log[700];
    snprintf(log, sizeof log, "%s/%s.log", logs, name);
    json_t *s = json_pack("{s:s,s:s,s:[],s:{s:s}}", "type", "stdio", "command", DEMO_SERVER, "args", "env",
                          "DEMO_SERVER_LOG", log);
    if (guard)
        json_object_set_new(s, "guard", json_string(guard));
    if (policies)
        json_object_set_new(s, "guard-policies", policies);
    return s;
}

static json_t *allow_only(const char *min_integrity)
{
    return json_pack("{s:{s:s,s:s}}", "allow-only", "repos", "public", "min-integrity", min_integrity);
}

static char *config(void)
{
    json_t *limited = allow_only("none");
    json_object_set_new(json_object_get(limited, "allow-only"), "tool-call-limits",
                        json_pack("{s:i}", "list_public_notes", 2));
    json_t *servers = json_object();
    json_object_set_new(servers, "demo", server("demo", "demo", limited));
    json_object_set_new(servers, "strict", server("strict", "strictg", allow_only("none")));
    json_object_set_new(servers, "prop", server("prop", "propg", allow_only("approved")));
    json_object_set_new(servers, "sink", server("sink", NULL, json_pack("{s:{s:[s]}}", "write-sink", "accept", "*")));
    json_object_set_new(servers, "sinkx", server("sinkx", NULL, json_pack("{s:{s:[s]}}", "write-sink", "accept", "*")));
    json_object_set_new(servers, "trap", server("trap", "trapg", allow_only("none")));
    json_object_set_new(servers, "trap5", server("trap5", "trapg", allow_only("none")));
    json_t *loop = server("loop", "loopg", allow_only("none"));
    json_object_set_new(loop, "toolTimeout", json_integer(10));
    json_object_set_new(servers, "loop", loop);
    json_object_set_new(servers, "fail", server("fail", "failg", allow_only("none")));
    json_object_set_new(servers, "disc", server("disc", "demo", allow_only("none")));
    json_t *guards = json_pack("{s:{s:s,s:s},s:{s:s,s:s},s:{s:s,s:s},s:{s:s,s:s},s:{s:s,s:s},s:{s:s,s:s}}",
                               "demo", "type", "wasm", "path", DEMO_GUARD,
                               "strictg", "type", "wasm", "path", FIXTURE_GUARDS "/strict_guard.wasm",
                               "propg", "type", "wasm", "path", FIXTURE_GUARDS "/propagate_guard.wasm",
                               "trapg", "type", "wasm", "path", FIXTURE_GUARDS "/trap_guard.wasm",
                               "loopg", "type", "wasm", "path", FIXTURE_GUARDS "/loop_guard.wasm",
                               "failg", "type", "wasm", "path", FIXTURE_GUARDS "/filter_guard.wasm");
    json_t *cfg = json_pack("{s:o,s:o,s:{s:i,s:s,s:s,s:[s]}}", "mcpServers", servers, "guards", guards, "gateway",
                            "port", 8000, "domain", "localhost", "agentId", "e2e-key", "sinkVisibilityExemptServers",
                            "sinkx");
    char *text = json_dumps(cfg, JSON_COMPACT);
    json_decref(cfg);
    return text;
}

static int setup(void **state)
{
    (void)state;
    char *dir = fg_tempdir("e2e-pipe");
    snprintf(logs, sizeof logs, "%s", dir);
    char *gdir = fg_tempdir("e2e-guards");
    char path[700];
    snprintf(path, sizeof path, "%s/disc", gdir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/disc/00-strict.wasm", gdir);
    copy_file(FIXTURE_GUARDS "/strict_guard.wasm", path);
    setenv("MCP_GATEWAY_WASM_GUARDS_DIR", gdir, 1);
    free(dir);
    free(gdir);
    char *cfg = config();
    bool ok = fg_gateway_start(&gw, cfg, NULL, 60000);
    free(cfg);
    assert_true(ok);
    snprintf(auth_hdr, sizeof auth_hdr, "Authorization: %s", gw.auth);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (gw.proc.pid > 0)
        assert_int_equal(fg_gateway_stop(&gw), 0);
    return 0;
}

/* ------------------------------------------------------------ client -- */

typedef struct client {
    char url[200];
    char agent_hdr[200];
    char session[128];
} client_t;

static json_t *post(client_t *c, const char *body)
{
    char sh[200];
    snprintf(sh, sizeof sh, "Mcp-Session-Id: %s", c->session);
    const char *h[] = {auth_hdr, c->agent_hdr, "Content-Type: application/json",
                       "Accept: application/json, text/event-stream", c->session[0] ? sh : NULL, NULL};
    fg_resp_t r = {0};
    assert_true(fg_http_ex("POST", c->url, h, body, 60000, &r));
    if (!c->session[0]) {
        char *sid = fg_resp_header(&r, "Mcp-Session-Id");
        assert_non_null(sid);
        snprintf(c->session, sizeof c->session, "%s", sid);
        free(sid);
    }
    json_t *msg = r.status == 202 ? NULL : fg_sse_first(r.body);
    if (r.status != 202 && !msg)
        fail_msg("HTTP %ld: %s", r.status, r.body ? r.body : "");
    fg_resp_free(&r);
    return msg;
}

/* An initialized MCP session on /mcp/<server> for agent `agent`. */
static void open_client(client_t *c, const char *srv, const char *agent)
{
    memset(c, 0, sizeof *c);
    snprintf(c->url, sizeof c->url, "%s/mcp/%s", gw.url_base, srv);
    snprintf(c->agent_hdr, sizeof c->agent_hdr, "X-Agent-ID: %s", agent);
    json_decref(post(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
                        "\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"e2e\",\"version\":\"1\"}}}"));
    json_decref(post(c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}"));
}

/* tools/call: the JSON-RPC reply (new ref). */
static json_t *call(client_t *c, const char *tool, const char *args)
{
    char body[1024];
    snprintf(body, sizeof body,
             "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"%s\",\"arguments\":%s}}",
             tool, args);
    return post(c, body);
}

/* The error message of a JSON-RPC error reply, or NULL for a result. */
static const char *error_of(json_t *reply)
{
    return json_string_value(json_object_get(json_object_get(reply, "error"), "message"));
}

/* All the text of a result's content items, concatenated (static buffer). */
static const char *text_of(json_t *reply)
{
    static char buf[65536];
    buf[0] = 0;
    json_t *content = json_object_get(json_object_get(reply, "result"), "content");
    size_t i;
    json_t *it;
    json_array_foreach(content, i, it) {
        const char *t = json_string_value(json_object_get(it, "text"));
        if (t)
            strncat(buf, t, sizeof buf - strlen(buf) - 2);
        strcat(buf, "\n");
    }
    return buf;
}

static char *read_file(const char *path)
{
    char *text = fg_read_file(path);
    return text ? text : strdup("");
}

/* How many calls of `tool` the server `srv` received. */
static int calls_received(const char *srv, const char *tool)
{
    char path[700], needle[128];
    snprintf(path, sizeof path, "%s/%s.log", logs, srv);
    snprintf(needle, sizeof needle, "\"tool\":\"%s\"", tool);
    char *text = read_file(path);
    int n = 0;
    for (char *p = text; (p = strstr(p, needle)); p++)
        n++;
    free(text);
    return n;
}

static json_t *get_json(const char *path)
{
    char url[300];
    snprintf(url, sizeof url, "%s%s", gw.url_base, path);
    const char *h[] = {auth_hdr, NULL};
    fg_resp_t r = {0};
    assert_true(fg_http("GET", url, h, NULL, &r));
    assert_int_equal(r.status, 200);
    json_t *v = json_loads(r.body, 0, NULL);
    fg_resp_free(&r);
    assert_non_null(v);
    return v;
}

/* The agent's labels in /reflect as "secrecy|integrity", tags joined by
 * commas (sorted, as /reflect prints them). */
static const char *reflect_labels(const char *agent)
{
    static char buf[1024];
    json_t *doc = get_json("/reflect");
    json_t *a = json_object_get(json_object_get(doc, "agents"), agent);
    buf[0] = 0;
    if (!a) {
        snprintf(buf, sizeof buf, "<absent>");
    } else {
        const char *keys[2] = {"secrecy", "integrity"};
        for (int k = 0; k < 2; k++) {
            size_t i;
            json_t *t;
            json_array_foreach(json_object_get(a, keys[k]), i, t) {
                strncat(buf, i ? "," : "", sizeof buf - strlen(buf) - 1);
                strncat(buf, json_string_value(t), sizeof buf - strlen(buf) - 1);
            }
            if (k == 0)
                strncat(buf, "|", sizeof buf - strlen(buf) - 1);
        }
    }
    json_decref(doc);
    return buf;
}

static json_t *guard_health(const char *srv)
{
    json_t *doc = get_json("/health");
    json_t *g = json_incref(json_object_get(json_object_get(json_object_get(doc, "servers"), srv), "guard"));
    json_decref(doc);
    assert_non_null(g);
    return g;
}

#define NONE_I "none:demo/tracker"
#define APPROVED_I "approved:demo/tracker,none:demo/tracker,unapproved:demo/tracker"

/* ------------------------------------------------------------- tests -- */

static void test_allowed_read_passes_and_label_agent_sets_the_agent(void **state)
{
    (void)state;
    client_t c;
    open_client(&c, "demo", "reader");
    assert_string_equal(reflect_labels("reader"), "<absent>");
    json_t *r = call(&c, "list_public_notes", "{}");
    assert_null(error_of(r));
    assert_non_null(strstr(text_of(r), "Release 1.2 ships on Friday."));
    assert_null(strstr(text_of(r), "[Filtered]"));
    json_decref(r);
    /* label_agent ran once for this agent: public scope, min-integrity none. */
    assert_string_equal(reflect_labels("reader"), "|" NONE_I);
}

static void test_filter_mode_removes_private_items_with_notice_and_records(void **state)
{
    (void)state;
    client_t c;
    open_client(&c, "demo", "filtered");
    json_t *r = call(&c, "list_issues", "{}");
    assert_null(error_of(r));
    const char *t = text_of(r);
    assert_non_null(strstr(t, "Crash on empty config"));
    assert_null(strstr(t, "staging database")); /* #2, private */
    assert_null(strstr(t, "Customer ACME"));    /* #4, private */
    assert_non_null(strstr(t, "[Filtered] 2 item(s) in this response were removed by secrecy policy"));
    assert_false(json_is_true(json_object_get(json_object_get(r, "result"), "isError")));
    json_decref(r);
    /* The private data did reach the gateway (the backend sent it)... */
    assert_int_equal(calls_received("demo", "list_issues"), 1);
    /* ...and each filtered item has its difc_filtered record (§4.1). */
    char path[400];
    snprintf(path, sizeof path, "%s/rpc-messages.jsonl", gw.log_dir);
    char *jsonl = read_file(path);
    int records = 0;
    for (char *line = strtok(jsonl, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *rec = json_loads(line, 0, NULL);
        if (rec && !strcmp(json_string_value(json_object_get(rec, "event")) ?: "", "difc_filtered")) {
            assert_string_equal(json_string_value(json_object_get(rec, "_schema")), "difc-filtered/v2");
            assert_string_equal(json_string_value(json_object_get(rec, "server_id")), "demo");
            assert_string_equal(json_string_value(json_object_get(rec, "tool_name")), "list_issues");
            const char *d = json_string_value(json_object_get(rec, "description"));
            assert_true(!strcmp(d, "issue:demo/tracker#2") || !strcmp(d, "issue:demo/tracker#4"));
            assert_string_equal(json_string_value(json_array_get(json_object_get(rec, "secrecy_tags"), 0)),
                                "private:demo/tracker");
            records++;
        }
        json_decref(rec);
    }
    free(jsonl);
    assert_int_equal(records, 2);
    snprintf(path, sizeof path, "%s/mcp-gateway.log", gw.log_dir);
    char *log = read_file(path);
    assert_non_null(strstr(log, "[DIFC-FILTERED] {"));
    free(log);
    assert_string_equal(reflect_labels("filtered"), "|" NONE_I);
}

static void test_single_item_read_of_a_private_issue_is_an_error(void **state)
{
    (void)state;
    client_t c;
    open_client(&c, "demo", "single");
    json_t *r = call(&c, "get_issue", "{\"number\":2}");
    const char *e = error_of(r);
    assert_non_null(e);
    assert_non_null(strstr(e, "[Filtered] issue:demo/tracker#2 exists but is not accessible"));
    char *all = json_dumps(r, 0);
    assert_null(strstr(all, "staging database"));
    free(all);
    json_decref(r);
    r = call(&c, "get_issue", "{\"number\":1}");
    assert_null(error_of(r));
    assert_non_null(strstr(text_of(r), "Crash on empty config"));
    json_decref(r);
}

static void test_denied_write_never_reaches_the_backend(void **state)
{
    (void)state;
    client_t c;
    open_client(&c, "demo", "writer");
    json_t *r = call(&c, "create_issue", "{\"title\":\"should never arrive\"}");
    const char *e = error_of(r);
    assert_non_null(e);
    assert_true(!strncmp(e, "DIFC Violation: ", 16));
    assert_non_null(strstr(e, "Current Agent Labels:"));
    json_decref(r);
    assert_int_equal(calls_received("demo", "create_issue"), 0);
    assert_string_equal(reflect_labels("writer"), "|" NONE_I);
}

static void test_strict_mode_blocks_a_response_with_filtered_items(void **state)
{
    (void)state;
    client_t c;
    open_client(&c, "strict", "strict-agent");
    json_t *r = call(&c, "list_issues", "{}");
    assert_non_null(error_of(r));
    assert_string_equal(error_of(r), "DIFC policy violation: 2 of 6 items in response are not accessible to agent "
                                     "strict-agent");
    json_decref(r);
    r = call(&c, "get_issue", "{\"number\":1}");
    assert_null(error_of(r));
    assert_non_null(strstr(text_of(r), "Crash on empty config"));
    json_decref(r);
    assert_string_equal(reflect_labels("strict-agent"), "|" NONE_I);
}

static void test_propagate_taints_the_agent_so_a_public_sink_write_is_denied(void **state)
{
    (void)state;
    client_t sink, prop;
    open_client(&sink, "sink", "tainted");
    open_client(&prop, "prop", "tainted");
    /* Clean agent: the public sink accepts its write. */
    json_t *r = call(&sink, "create_issue", "{\"title\":\"before reading\",\"visibility\":\"public\"}");
    assert_null(error_of(r));
    json_decref(r);
    assert_int_equal(calls_received("sink", "create_issue"), 1);
    assert_string_equal(reflect_labels("tainted"), "|");
    /* label_agent on prop: min-integrity approved; public notes keep it. */
    r = call(&prop, "list_public_notes", "{}");
    assert_null(error_of(r));
    json_decref(r);
    assert_string_equal(reflect_labels("tainted"), "|" APPROVED_I);
    /* Reading private issues in propagate mode shows them and taints. */
    r = call(&prop, "list_issues", "{}");
    assert_null(error_of(r));
    assert_non_null(strstr(text_of(r), "staging database"));
    assert_null(strstr(text_of(r), "[Filtered]"));
    json_decref(r);
    /* Secrecy gains the private tag; integrity drops to what every item
     * read carries (difc intersects per item, stricter than upstream's
     * union, guard-abi §6.6): issues from outsiders carry only none. */
    assert_string_equal(reflect_labels("tainted"), "private:demo/tracker|" NONE_I);
    /* Now the same write is denied for secrecy, before the sink. */
    r = call(&sink, "create_issue", "{\"title\":\"after reading\",\"visibility\":\"public\"}");
    const char *e = error_of(r);
    assert_non_null(e);
    assert_true(!strncmp(e, "DIFC Violation: ", 16));
    assert_non_null(strstr(e, "private"));
    json_decref(r);
    assert_int_equal(calls_received("sink", "create_issue"), 1);
    /* A sink exempt from the public default (sinkVisibilityExemptServers)
     * takes the accept list as its secrecy: "*" accepts the tainted agent. */
    client_t sinkx;
    open_client(&sinkx, "sinkx", "tainted");
    r = call(&sinkx, "create_issue", "{\"title\":\"to an exempt sink\",\"visibility\":\"public\"}");
    assert_null(error_of(r));
    json_decref(r);
    assert_int_equal(calls_received("sinkx", "create_issue"), 1);
}

static void test_guard_trap_is_an_error_and_the_next_call_succeeds(void **state)
{
    (void)state;
    client_t c;
    open_client(&c, "trap", "trapper");
    json_t *r = call(&c, "get_issue", "{\"number\":1,\"note\":\"__trap__\"}");
    const char *e = error_of(r);
    assert_non_null(e);
    assert_non_null(strstr(e, "guard labeling failed: resource labeling failed: "));
    json_decref(r);
    assert_int_equal(calls_received("trap", "get_issue"), 0);
    r = call(&c, "get_issue", "{\"number\":1}");
    assert_null(error_of(r));
    assert_non_null(strstr(text_of(r), "Crash on empty config"));
    json_decref(r);
    json_t *g = guard_health("trap");
    assert_true(json_is_true(json_object_get(g, "healthy")));
    assert_int_equal(json_integer_value(json_object_get(g, "traps")), 1);
    json_decref(g);
    assert_string_equal(reflect_labels("trapper"), "|" NONE_I);
}

static void test_guard_stuck_in_a_loop_is_answered_within_the_tool_timeout(void **state)
{
    (void)state;
    client_t c;
    open_client(&c, "loop", "looper");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    json_t *r = call(&c, "get_issue", "{\"number\":1,\"note\":\"__loop__\"}");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    const char *e = error_of(r);
    assert_non_null(e);
    assert_non_null(strstr(e, "deadline"));
    json_decref(r);
    /* The tool timeout is 10 s; generous bounds for a loaded machine. */
    assert_true(s >= 9.0);
    assert_true(s < 30.0);
    assert_int_equal(calls_received("loop", "get_issue"), 0);
    r = call(&c, "get_issue", "{\"number\":1}");
    assert_null(error_of(r));
    assert_non_null(strstr(text_of(r), "Crash on empty config"));
    json_decref(r);
}

typedef struct {
    client_t *c;
    json_t *reply;
    double secs;
} async_call_t;

static void *call_loop_thread(void *arg)
{
    async_call_t *a = arg;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* No cmocka assertion may run on this thread: plain HTTP, checked by
     * the test thread afterwards. */
    char sh[200];
    snprintf(sh, sizeof sh, "Mcp-Session-Id: %s", a->c->session);
    const char *h[] = {auth_hdr, a->c->agent_hdr, "Content-Type: application/json",
                       "Accept: application/json, text/event-stream", sh, NULL};
    fg_resp_t r = {0};
    if (fg_http_ex("POST", a->c->url, h,
                   "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"get_issue\","
                   "\"arguments\":{\"number\":1,\"note\":\"__loop__\"}}}",
                   60000, &r))
        a->reply = fg_sse_first(r.body);
    fg_resp_free(&r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    a->secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    return NULL;
}

/* notifications/cancelled reaches guard code too: the looping guard is
 * stopped long before the tool timeout. */
static void test_cancelling_a_call_stops_the_guard(void **state)
{
    (void)state;
    client_t c;
    open_client(&c, "loop", "canceller");
    async_call_t a = {.c = &c};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, call_loop_thread, &a), 0);
    usleep(1500 * 1000);
    json_decref(post(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":7}}"));
    pthread_join(th, NULL);
    const char *e = error_of(a.reply);
    assert_non_null(e);
    assert_non_null(strstr(e, "cancel"));
    assert_true(a.secs < 8.0); /* the tool timeout is 10 s */
    json_decref(a.reply);
    json_t *r = call(&c, "get_issue", "{\"number\":1}");
    assert_null(error_of(r));
    json_decref(r);
}

static void test_guard_error_code_fails_the_call_and_keeps_the_guard_healthy(void **state)
{
    (void)state;
    client_t c;
    open_client(&c, "fail", "failer");
    json_t *r = call(&c, "get_issue", "{\"number\":1,\"note\":\"__fail__\"}");
    const char *e = error_of(r);
    assert_non_null(e);
    assert_non_null(strstr(e, "guard labeling failed: resource labeling failed: "));
    assert_non_null(strstr(e, "error code: -1"));
    json_decref(r);
    json_t *g = guard_health("fail");
    assert_true(json_is_true(json_object_get(g, "healthy")));
    assert_int_equal(json_integer_value(json_object_get(g, "traps")), 0);
    json_decref(g);
}

static void test_tool_call_limit_per_agent(void **state)
{
    (void)state;
    client_t c, other;
    open_client(&c, "demo", "limited");
    int before = calls_received("demo", "list_public_notes");
    for (int i = 0; i < 2; i++) {
        json_t *r = call(&c, "list_public_notes", "{}");
        assert_null(error_of(r));
        json_decref(r);
    }
    json_t *r = call(&c, "list_public_notes", "{}");
    assert_non_null(error_of(r));
    assert_string_equal(error_of(r), "tool call limit reached for \"list_public_notes\" (max: 2)");
    json_decref(r);
    assert_int_equal(calls_received("demo", "list_public_notes"), before + 2);
    /* Other tools are not limited; another agent has its own budget. */
    r = call(&c, "get_issue", "{\"number\":1}");
    assert_null(error_of(r));
    json_decref(r);
    open_client(&other, "demo", "limited-2");
    r = call(&other, "list_public_notes", "{}");
    assert_null(error_of(r));
    json_decref(r);
}

static void test_discovered_guard_wins_over_the_configured_one(void **state)
{
    (void)state;
    json_t *g = guard_health("disc");
    assert_string_equal(json_string_value(json_object_get(g, "name")), "disc");
    assert_string_equal(json_string_value(json_object_get(g, "type")), "wasm");
    json_decref(g);
    client_t c;
    open_client(&c, "disc", "disc-agent");
    json_t *r = call(&c, "list_issues", "{}");
    assert_non_null(error_of(r)); /* strict, not the configured filter guard */
    assert_non_null(strstr(error_of(r), "DIFC policy violation: 2 of 6 items"));
    json_decref(r);
    /* The sink server got the write-sink guard. */
    g = guard_health("sink");
    assert_string_equal(json_string_value(json_object_get(g, "type")), "write-sink");
    json_decref(g);
}

/* --guard-policy-json overrides every server's policy (§3.10 step 1): a
 * second gateway whose demo server has no guard-policies of its own. */
static void test_global_policy_override_applies_to_the_server(void **state)
{
    (void)state;
    char log[700];
    snprintf(log, sizeof log, "%s/global.log", logs);
    json_t *cfg = json_pack("{s:{s:{s:s,s:s,s:[],s:s,s:{s:s}}},s:{s:{s:s,s:s}},s:{s:i,s:s,s:s}}", "mcpServers", "demo",
                            "type", "stdio", "command", DEMO_SERVER, "args", "guard", "demo", "env", "DEMO_SERVER_LOG",
                            log, "guards", "demo", "type", "wasm", "path", DEMO_GUARD, "gateway", "port", 8000, "domain",
                            "localhost", "agentId", "e2e-key");
    char *text = json_dumps(cfg, JSON_COMPACT);
    json_decref(cfg);
    const char *extra[] = {"--guard-policy-json",
                           "{\"allow-only\":{\"repos\":[\"demo/tracker\"],\"min-integrity\":\"approved\"}}", NULL};
    fg_gateway_t g2;
    bool ok = fg_gateway_start(&g2, text, extra, 60000);
    free(text);
    assert_true(ok);
    client_t c;
    memset(&c, 0, sizeof c);
    snprintf(c.url, sizeof c.url, "%s/mcp/demo", g2.url_base);
    snprintf(c.agent_hdr, sizeof c.agent_hdr, "X-Agent-ID: global");
    json_decref(post(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
                         "\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"e2e\",\"version\":\"1\"}}}"));
    json_t *r = call(&c, "list_issues", "{}");
    assert_null(error_of(r));
    const char *t = text_of(r);
    assert_non_null(strstr(t, "staging database")); /* private, and in scope */
    assert_null(strstr(t, "Please add dark mode")); /* #5, an outsider's */
    assert_non_null(strstr(t, "[Filtered] 3 item(s) in this response were removed by integrity policy"));
    json_decref(r);
    assert_int_equal(fg_gateway_stop(&g2), 0);
}

/* ---------------------------------------------------- the SDK client -- */

static bool file_has(const char *srv, const char *needle)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s.log", logs, srv);
    char *text = read_file(path);
    bool has = strstr(text, needle) != NULL;
    free(text);
    return has;
}

static const char *field(json_t *out, const char *scenario, const char *key)
{
    return json_string_value(json_object_get(json_object_get(out, scenario), key));
}

/* The same scenarios through @modelcontextprotocol/sdk (pipeline_sdk.mjs). */
static void test_sdk_client_sees_the_same_enforcement(void **state)
{
    (void)state;
    char script[512];
    snprintf(script, sizeof script, "%s/integration/pipeline_sdk.mjs", fg_tests_dir());
    const char *argv[] = {fg_node_bin(), script, gw.url_base, gw.auth, "sdk-", NULL};
    fg_proc_t p;
    assert_true(fg_spawn(&p, (char *const *)argv, NULL, NULL, true));
    size_t len = 0, cap = 65536;
    char *buf = malloc(cap);
    ssize_t n;
    while ((n = read(p.out_fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)n;
        if (cap - len < 4096)
            buf = realloc(buf, cap *= 2);
    }
    buf[len] = 0;
    close(p.out_fd);
    int st = fg_proc_wait(&p, 10000);
    json_t *out = json_loads(buf, JSON_DISABLE_EOF_CHECK, NULL);
    if (!out || json_object_get(out, "scriptError")) {
        char *e = fg_proc_stderr(&p);
        fail_msg("pipeline_sdk.mjs (status %d): %s\nstderr: %s", st, buf, e);
    }
    free(buf);
    /* Filter mode. */
    assert_non_null(strstr(field(out, "notes", "text"), "Release 1.2 ships on Friday."));
    const char *list = field(out, "list", "text");
    assert_non_null(strstr(list, "Crash on empty config"));
    assert_null(strstr(list, "staging database"));
    assert_non_null(strstr(list, "[Filtered] 2 item(s) in this response were removed by secrecy policy"));
    assert_non_null(strstr(field(out, "private", "error"), "[Filtered] issue:demo/tracker#2 exists but is not accessible"));
    assert_non_null(strstr(field(out, "write", "error"), "DIFC Violation: "));
    assert_false(file_has("demo", "sdk write never arrives"));
    json_t *labels = json_object_get(out, "readerLabels");
    assert_int_equal(json_array_size(json_object_get(labels, "secrecy")), 0);
    assert_string_equal(json_string_value(json_array_get(json_object_get(labels, "integrity"), 0)), NONE_I);
    /* Strict mode. */
    assert_non_null(strstr(field(out, "strictList", "error"),
                           "DIFC policy violation: 2 of 6 items in response are not accessible to agent sdk-strict"));
    /* Propagate, then the public sink. */
    assert_null(field(out, "sinkBefore", "error"));
    assert_non_null(strstr(field(out, "propList", "text"), "staging database"));
    labels = json_object_get(out, "taintedLabels");
    assert_string_equal(json_string_value(json_array_get(json_object_get(labels, "secrecy"), 0)),
                        "private:demo/tracker");
    assert_non_null(strstr(field(out, "sinkAfter", "error"), "DIFC Violation: "));
    assert_true(file_has("sink", "sdk before"));
    assert_false(file_has("sink", "sdk after"));
    /* Trap, loop. */
    assert_non_null(strstr(field(out, "trap", "error"), "guard labeling failed: resource labeling failed: "));
    assert_non_null(strstr(field(out, "afterTrap", "text"), "Crash on empty config"));
    assert_true(json_is_true(json_object_get(json_object_get(out, "trapHealth"), "healthy")));
    assert_non_null(strstr(field(out, "loop", "error"), "deadline"));
    json_int_t ms = json_integer_value(json_object_get(json_object_get(out, "loop"), "ms"));
    assert_true(ms >= 9000 && ms < 30000);
    assert_non_null(strstr(field(out, "afterLoop", "text"), "Crash on empty config"));
    /* Tool-call limit. */
    json_t *lim = json_object_get(out, "limit");
    assert_null(json_object_get(json_array_get(lim, 0), "error"));
    assert_null(json_object_get(json_array_get(lim, 1), "error"));
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(lim, 2), "error")),
                           "tool call limit reached for \"list_public_notes\" (max: 2)"));
    json_decref(out);
}

/* Departure 5: a guard that keeps trapping is marked failed, /health says
 * so, and its server's calls fail closed. Runs last: /health stays
 * unhealthy afterwards. */
static void test_a_guard_that_keeps_trapping_is_failed_and_reported(void **state)
{
    (void)state;
    client_t c;
    open_client(&c, "trap5", "trapper5");
    for (int i = 0; i < 5; i++) {
        json_t *r = call(&c, "get_issue", "{\"number\":1,\"note\":\"__trap__\"}");
        assert_non_null(error_of(r));
        json_decref(r);
    }
    json_t *g = guard_health("trap5");
    assert_false(json_is_true(json_object_get(g, "healthy")));
    assert_non_null(json_string_value(json_object_get(g, "error")));
    json_decref(g);
    json_t *doc = get_json("/health");
    assert_string_equal(json_string_value(json_object_get(doc, "status")), "unhealthy");
    json_decref(doc);
    json_t *r = call(&c, "get_issue", "{\"number\":1}");
    assert_non_null(error_of(r));
    json_decref(r);
    assert_int_equal(calls_received("trap5", "get_issue"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allowed_read_passes_and_label_agent_sets_the_agent),
        cmocka_unit_test(test_filter_mode_removes_private_items_with_notice_and_records),
        cmocka_unit_test(test_single_item_read_of_a_private_issue_is_an_error),
        cmocka_unit_test(test_denied_write_never_reaches_the_backend),
        cmocka_unit_test(test_strict_mode_blocks_a_response_with_filtered_items),
        cmocka_unit_test(test_propagate_taints_the_agent_so_a_public_sink_write_is_denied),
        cmocka_unit_test(test_guard_trap_is_an_error_and_the_next_call_succeeds),
        cmocka_unit_test(test_guard_stuck_in_a_loop_is_answered_within_the_tool_timeout),
        cmocka_unit_test(test_cancelling_a_call_stops_the_guard),
        cmocka_unit_test(test_guard_error_code_fails_the_call_and_keeps_the_guard_healthy),
        cmocka_unit_test(test_tool_call_limit_per_agent),
        cmocka_unit_test(test_discovered_guard_wins_over_the_configured_one),
        cmocka_unit_test(test_global_policy_override_applies_to_the_server),
        cmocka_unit_test(test_sdk_client_sees_the_same_enforcement),
        cmocka_unit_test(test_a_guard_that_keeps_trapping_is_failed_and_reported),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
