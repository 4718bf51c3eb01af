/*
 * test_server_options.c — the per-server options that shape what an agent
 * can call, through the real flowgate binary with examples/demo-server as
 * the backend (five tools: create_issue, get_issue, list_issues,
 * list_public_notes, sleep; no guard):
 *   - allowed tools (spec: gateway §3.5 step 3, §4.10, §8 case 18): only the
 *     listed tools are exposed, in routed and unified mode and in tools.json;
 *     a call to another tool fails naming it and never reaches the server;
 *     `tools:["*"]`, `tools:[]` or no list expose every tool;
 *   - tool timeouts (§4.9 step 3a, §8 case 19): the gateway's tool_timeout
 *     applies where a server sets none, and a server's own value wins.
 * Every server writes the calls it receives to its own log (DEMO_SERVER_LOG).
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

static char logs[512]; /* the servers' call logs */

static json_t *demo_server(const char *name, json_t *tools)
{
    char log[700];
    snprintf(log, sizeof log, "%s/%s.log", logs, name);
    json_t *s = json_pack("{s:s,s:s,s:[],s:{s:s}}", "type", "stdio", "command", DEMO_SERVER, "args", "env",
                          "DEMO_SERVER_LOG", log);
    if (tools)
        json_object_set_new(s, "tools", tools);
    return s;
}

/* Servers: listed (two tools allowed), star ("*"), empty ([]), all (no list). */
static char *allowed_tools_config(void)
{
    json_t *servers = json_object();
    json_object_set_new(servers, "listed", demo_server("listed", json_pack("[s,s]", "create_issue", "list_issues")));
    json_object_set_new(servers, "star", demo_server("star", json_pack("[s]", "*")));
    json_object_set_new(servers, "empty", demo_server("empty", json_array()));
    json_object_set_new(servers, "all", demo_server("all", NULL));
    json_t *cfg = json_pack("{s:o,s:{s:i,s:s,s:s}}", "mcpServers", servers, "gateway", "port", 8000, "domain",
                            "localhost", "agentId", "tools-agent");
    char *text = json_dumps(cfg, JSON_COMPACT);
    json_decref(cfg);
    return text;
}

static int setup(void **state)
{
    (void)state;
    char *dir = fg_tempdir("server-options");
    snprintf(logs, sizeof logs, "%s", dir);
    free(dir);
    return 0;
}

/* The sorted names tools/list shows on url, comma-joined (static buffer). */
static const char *listed_names(const char *url, const char *auth)
{
    static char names[1024];
    char sid[128];
    assert_true(fg_mcp_open(url, auth, sid, sizeof sid));
    json_t *v = fg_mcp_rpc(url, auth, sid, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
    assert_non_null(v);
    json_t *tools = json_object_get(json_object_get(v, "result"), "tools");
    assert_true(json_is_array(tools));
    names[0] = 0;
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        size_t len = strlen(names);
        snprintf(names + len, sizeof names - len, "%s%s", i ? "," : "", json_string_value(json_object_get(t, "name")));
    }
    json_decref(v);
    return names;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    static char text[16384];
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f)
        fclose(f);
    text[n] = 0;
    return text;
}

static const char *const every_tool = "create_issue,get_issue,list_issues,list_public_notes,sleep";

static void test_routed_exposes_only_the_allowed_tools(void **state)
{
    (void)state;
    char *cfg = allowed_tools_config();
    fg_gateway_t g;
    bool started = fg_gateway_start(&g, cfg, NULL, 30000);
    free(cfg);
    assert_true(started);
    char url[200];
    snprintf(url, sizeof url, "%s/mcp/listed", g.url_base);
    assert_string_equal(listed_names(url, g.auth), "create_issue,list_issues");
    const char *open_servers[] = {"star", "empty", "all"};
    for (size_t i = 0; i < 3; i++) {
        char u[200];
        snprintf(u, sizeof u, "%s/mcp/%s", g.url_base, open_servers[i]);
        assert_string_equal(listed_names(u, g.auth), every_tool);
    }

    /* A disallowed tool: an error naming it; the server never sees it. */
    char sid[128];
    assert_true(fg_mcp_open(url, g.auth, sid, sizeof sid));
    json_t *v = fg_mcp_tool(url, g.auth, sid, "get_issue", "{\"number\":1}");
    assert_non_null(v);
    assert_null(json_object_get(v, "result"));
    const char *msg = json_string_value(json_object_get(json_object_get(v, "error"), "message"));
    assert_non_null(msg);
    assert_non_null(strstr(msg, "\"get_issue\""));
    json_decref(v);
    /* An allowed one goes through to the same server. */
    v = fg_mcp_tool(url, g.auth, sid, "list_issues", "{}");
    assert_non_null(v);
    assert_non_null(strstr(json_string_value(json_object_get(
                               json_array_get(json_object_get(json_object_get(v, "result"), "content"), 0), "text")),
                           "Crash on empty config"));
    json_decref(v);
    char path[700];
    snprintf(path, sizeof path, "%s/listed.log", logs);
    const char *calls = read_text(path);
    assert_non_null(strstr(calls, "\"list_issues\""));
    assert_null(strstr(calls, "get_issue"));
    /* Where a list admits everything, the same call is served. */
    snprintf(url, sizeof url, "%s/mcp/star", g.url_base);
    assert_true(fg_mcp_open(url, g.auth, sid, sizeof sid));
    v = fg_mcp_tool(url, g.auth, sid, "get_issue", "{\"number\":1}");
    assert_non_null(v);
    assert_non_null(json_object_get(v, "result"));
    json_decref(v);

    /* tools.json records the filtered lists; stdout echoes the list. */
    snprintf(path, sizeof path, "%s/tools.json", g.log_dir);
    json_t *tj = json_load_file(path, 0, NULL);
    assert_non_null(tj);
    json_t *listed = json_object_get(json_object_get(tj, "servers"), "listed");
    assert_int_equal(json_array_size(listed), 2);
    assert_int_equal(json_array_size(json_object_get(json_object_get(tj, "servers"), "all")), 5);
    size_t i;
    json_t *t;
    json_array_foreach(listed, i, t) {
        const char *name = json_string_value(json_object_get(t, "name"));
        assert_true(!strcmp(name, "create_issue") || !strcmp(name, "list_issues"));
    }
    json_decref(tj);
    json_t *doc_tools = json_object_get(json_object_get(json_object_get(g.doc, "mcpServers"), "listed"), "tools");
    assert_int_equal(json_array_size(doc_tools), 2);
    assert_int_equal(fg_gateway_stop(&g), 0);
}

static void test_unified_exposes_only_the_allowed_tools(void **state)
{
    (void)state;
    char *cfg = allowed_tools_config();
    fg_gateway_t g;
    const char *extra[] = {"--unified", NULL};
    bool started = fg_gateway_start(&g, cfg, extra, 30000);
    free(cfg);
    assert_true(started);
    char url[200];
    snprintf(url, sizeof url, "%s/mcp", g.url_base);
    const char *names = listed_names(url, g.auth);
    assert_non_null(strstr(names, "listed___create_issue,listed___list_issues,"));
    assert_null(strstr(names, "listed___get_issue"));
    assert_null(strstr(names, "listed___sleep"));
    assert_non_null(strstr(names, "star___get_issue"));
    assert_non_null(strstr(names, "empty___get_issue"));
    assert_non_null(strstr(names, "all___get_issue"));
    char sid[128];
    assert_true(fg_mcp_open(url, g.auth, sid, sizeof sid));
    json_t *v = fg_mcp_tool(url, g.auth, sid, "listed___get_issue", "{\"number\":1}");
    assert_non_null(v);
    const char *msg = json_string_value(json_object_get(json_object_get(v, "error"), "message"));
    assert_non_null(msg);
    assert_non_null(strstr(msg, "listed___get_issue"));
    json_decref(v);
    v = fg_mcp_tool(url, g.auth, sid, "all___get_issue", "{\"number\":1}");
    assert_non_null(v);
    assert_non_null(json_object_get(v, "result"));
    json_decref(v);
    assert_int_equal(fg_gateway_stop(&g), 0);
}

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* TOML, because JSON insists on toolTimeout >= 10: a 1 s gateway timeout,
 * a server without its own value and one with 30 s. */
static void test_gateway_tool_timeout_applies_unless_the_server_sets_one(void **state)
{
    (void)state;
    char path[700];
    snprintf(path, sizeof path, "%s/timeouts.toml", logs);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "[gateway]\nport = 3000\nagent_id = \"timeout-agent\"\ntool_timeout = 1\n\n"
            "[servers.inherits]\ncommand = \"%s\"\nargs = []\n\n"
            "[servers.patient]\ncommand = \"%s\"\nargs = []\ntool_timeout = 30\n",
            DEMO_SERVER, DEMO_SERVER);
    fclose(f);
    fg_gateway_t g;
    const char *extra[] = {"--config", path, NULL};
    assert_true(fg_gateway_start(&g, NULL, extra, 30000));
    char url[200], sid[128];
    snprintf(url, sizeof url, "%s/mcp/inherits", g.url_base);
    assert_true(fg_mcp_open(url, g.auth, sid, sizeof sid));
    int64_t t0 = now_ms();
    json_t *v = fg_mcp_tool(url, g.auth, sid, "sleep", "{\"ms\":5000}");
    int64_t took = now_ms() - t0;
    assert_non_null(v);
    const char *msg = json_string_value(json_object_get(json_object_get(v, "error"), "message"));
    if (!msg)
        fail_msg("no deadline error: %s", json_dumps(v, JSON_COMPACT));
    assert_non_null(strstr(msg, "context deadline exceeded"));
    assert_true(took < 4500); /* the 1 s deadline, not the 5 s sleep */
    json_decref(v);
    /* 2 s is past the gateway's 1 s but within the server's own 30 s. */
    snprintf(url, sizeof url, "%s/mcp/patient", g.url_base);
    assert_true(fg_mcp_open(url, g.auth, sid, sizeof sid));
    v = fg_mcp_tool(url, g.auth, sid, "sleep", "{\"ms\":2000}");
    assert_non_null(v);
    if (!json_object_get(v, "result"))
        fail_msg("the server's 30 s did not apply: %s", json_dumps(v, JSON_COMPACT));
    assert_false(json_is_true(json_object_get(json_object_get(v, "result"), "isError")));
    json_decref(v);
    assert_int_equal(fg_gateway_stop(&g), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routed_exposes_only_the_allowed_tools),
        cmocka_unit_test(test_unified_exposes_only_the_allowed_tools),
        cmocka_unit_test(test_gateway_tool_timeout_applies_unless_the_server_sets_one),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
