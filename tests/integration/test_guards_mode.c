/*
 * test_guards_mode.c — the gateway's default DIFC mode end to end (spec:
 * gateway §1.2 --guards-mode / MCP_GATEWAY_GUARDS_MODE, §1.3 precedence
 * over TOML guards_mode; guard-abi-and-difc §3.4, §6 item 8: a guard's
 * label_agent difc_mode overrides the default for its server). The default
 * shows in /reflect and the startup log; a guard that names its mode keeps
 * it whatever the flag says. Also §8 case 15 with DIFC on: no /mcp/sys.
 *
 * Backend: examples/demo-server behind the demo guard (filter mode) and the
 * strict fixture guard, both with allow-only repos "public".
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

static char dir[512];

static int setup(void **state)
{
    (void)state;
    char *d = fg_tempdir("guards-mode");
    snprintf(dir, sizeof dir, "%s", d);
    free(d);
    unsetenv("MCP_GATEWAY_GUARDS_MODE");
    return 0;
}

static char *difc_config(void)
{
    json_t *servers = json_object();
    const char *names[] = {"demo", "strict"};
    for (int i = 0; i < 2; i++)
        json_object_set_new(servers, names[i],
                            json_pack("{s:s,s:s,s:[],s:s,s:{s:{s:s,s:s}}}", "type", "stdio", "command", DEMO_SERVER,
                                      "args", "guard", i ? "strictg" : "demo", "guard-policies", "allow-only",
                                      "repos", "public", "min-integrity", "none"));
    json_t *cfg = json_pack("{s:o,s:{s:{s:s,s:s},s:{s:s,s:s}},s:{s:i,s:s,s:s}}", "mcpServers", servers, "guards",
                            "demo", "type", "wasm", "path", DEMO_GUARD, "strictg", "type", "wasm", "path",
                            FIXTURE_GUARDS "/strict_guard.wasm", "gateway", "port", 8000, "domain", "localhost",
                            "agentId", "mode-agent");
    char *text = json_dumps(cfg, JSON_COMPACT);
    json_decref(cfg);
    return text;
}

/* /reflect's "mode" (static buffer). */
static const char *reflected_mode(const fg_gateway_t *g)
{
    static char mode[32];
    char url[200], ah[300];
    snprintf(url, sizeof url, "%s/reflect", g->url_base);
    snprintf(ah, sizeof ah, "Authorization: %s", g->auth);
    const char *h[] = {ah, NULL};
    fg_resp_t r;
    assert_true(fg_http("GET", url, h, NULL, &r));
    assert_int_equal(r.status, 200);
    json_t *v = json_loads(r.body, 0, NULL);
    assert_non_null(v);
    const char *m = json_string_value(json_object_get(v, "mode"));
    snprintf(mode, sizeof mode, "%s", m ? m : "<absent>");
    json_decref(v);
    fg_resp_free(&r);
    return mode;
}

static bool file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

/* The concatenated text of a tools/call result, or its error message. */
static char *list_issues_on(const fg_gateway_t *g, const char *server)
{
    char url[200], sid[128];
    snprintf(url, sizeof url, "%s/mcp/%s", g->url_base, server);
    assert_true(fg_mcp_open(url, g->auth, sid, sizeof sid));
    json_t *v = fg_mcp_tool(url, g->auth, sid, "list_issues", "{}");
    assert_non_null(v);
    char *out = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    return out;
}

static void test_flag_sets_the_default_and_guards_keep_their_own_mode(void **state)
{
    (void)state;
    char *cfg = difc_config();
    fg_gateway_t g;
    const char *extra[] = {"--guards-mode", "propagate", NULL};
    bool started = fg_gateway_start(&g, cfg, extra, 30000);
    free(cfg);
    assert_true(started);
    assert_string_equal(reflected_mode(&g), "propagate");
    char log[600];
    snprintf(log, sizeof log, "%s/mcp-gateway.log", g.log_dir);
    assert_true(file_contains(log, "Guards enforcement enabled with mode: propagate"));
    /* The demo guard says filter: private issues removed with a notice. */
    char *r = list_issues_on(&g, "demo");
    assert_non_null(strstr(r, "[Filtered] 2 item(s) in this response were removed by secrecy policy"));
    assert_null(strstr(r, "staging database"));
    assert_non_null(strstr(r, "Crash on empty config"));
    free(r);
    /* The strict guard says strict: the whole response is refused. */
    r = list_issues_on(&g, "strict");
    assert_non_null(strstr(r, "DIFC policy violation: 2 of 6 items in response are not accessible to agent"));
    assert_null(strstr(r, "Crash on empty config"));
    free(r);
    /* §8 case 15: no sys route with DIFC on either. */
    char url[200];
    snprintf(url, sizeof url, "%s/mcp/sys", g.url_base);
    fg_resp_t resp;
    assert_true(fg_mcp_post(url, g.auth, NULL,
                            "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"sys___init\"}}",
                            &resp));
    assert_int_equal(resp.status, 404);
    fg_resp_free(&resp);
    assert_int_equal(fg_gateway_stop(&g), 0);
}

static void test_env_sets_the_default_mode(void **state)
{
    (void)state;
    char *cfg = difc_config();
    fg_gateway_t g;
    setenv("MCP_GATEWAY_GUARDS_MODE", "filter", 1);
    bool started = fg_gateway_start(&g, cfg, NULL, 30000);
    unsetenv("MCP_GATEWAY_GUARDS_MODE");
    free(cfg);
    assert_true(started);
    assert_string_equal(reflected_mode(&g), "filter");
    assert_int_equal(fg_gateway_stop(&g), 0);
}

/* Starts flowgate on a TOML config with `mode_line` under the top level,
 * `flag_mode` as --guards-mode (NULL: none) and `env_mode` in the
 * environment (NULL: unset); returns /reflect's mode (static buffer). */
static const char *toml_mode(const char *mode_line, const char *flag_mode, const char *env_mode)
{
    char path[700];
    snprintf(path, sizeof path, "%s/c.toml", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "%s\n[gateway]\nport = 3000\nagent_id = \"toml-agent\"\n\n[servers.demo]\ncommand = \"%s\"\nargs = []\n",
            mode_line, DEMO_SERVER);
    fclose(f);
    const char *extra[] = {"--config", path, flag_mode ? "--guards-mode" : NULL, flag_mode, NULL};
    if (env_mode)
        setenv("MCP_GATEWAY_GUARDS_MODE", env_mode, 1);
    fg_gateway_t g;
    bool started = fg_gateway_start(&g, NULL, extra, 30000);
    unsetenv("MCP_GATEWAY_GUARDS_MODE");
    assert_true(started);
    static char mode[32];
    snprintf(mode, sizeof mode, "%s", reflected_mode(&g));
    assert_int_equal(fg_gateway_stop(&g), 0);
    return mode;
}

static void test_toml_guards_mode_yields_to_the_flag_and_the_env(void **state)
{
    (void)state;
    assert_string_equal(toml_mode("", NULL, NULL), "strict");
    assert_string_equal(toml_mode("guards_mode = \"filter\"", NULL, NULL), "filter");
    assert_string_equal(toml_mode("guards_mode = \"filter\"", "propagate", NULL), "propagate");
    assert_string_equal(toml_mode("guards_mode = \"filter\"", NULL, "strict"), "strict");
}

static void test_invalid_mode_stops_startup(void **state)
{
    (void)state;
    char *cfg = difc_config();
    const char *args[] = {"--config-stdin", "--listen", "127.0.0.1:0", "--log-dir", dir, "--guards-mode", "loose", NULL};
    char *out = NULL, *err = NULL;
    int st = fg_run_flowgate(args, cfg, &out, &err, 20000);
    free(cfg);
    if (st != 1 || !strstr(err, "invalid --guards-mode flag"))
        fail_msg("status %d, stderr: %s", st, err);
    assert_string_equal(out, "");
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flag_sets_the_default_and_guards_keep_their_own_mode),
        cmocka_unit_test(test_env_sets_the_default_mode),
        cmocka_unit_test(test_toml_guards_mode_yields_to_the_flag_and_the_env),
        cmocka_unit_test(test_invalid_mode_stops_startup),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
