/* The real MCP client (@modelcontextprotocol/sdk, streamable HTTP) against
 * flowgate in routed and unified modes, with real npm servers behind it:
 * initialize, list tools, echo, get-sum, memory tools, progress
 * notifications, an isError tool result, an unknown tool, session end;
 * 50 concurrent clients × 20 calls with every response matched; a backend
 * killed mid-call; tool timeouts; SIGTERM shutdown with backends reaped. */
#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

static char *config_json(const char *agent, const char *extra_server)
{
    char *mem = fg_tempdir("memory");
    char *cfg = malloc(8192);
    snprintf(cfg, 8192,
             "{\"mcpServers\":{"
             "\"everything\":{\"type\":\"stdio\",\"command\":\"%s\",\"args\":[\"%s\",\"stdio\"]},"
             "\"memory\":{\"type\":\"stdio\",\"command\":\"%s\",\"args\":[\"%s\"],\"env\":{\"MEMORY_FILE_PATH\":\"%s/m.jsonl\"}}"
             "%s},"
             "\"gateway\":{\"port\":3000,\"domain\":\"localhost\",\"agentId\":\"%s\"}}",
             fg_node_bin(), fg_everything_js(), fg_node_bin(), fg_memory_js(), mem, extra_server ? extra_server : "",
             agent);
    free(mem);
    return cfg;
}

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Direct children of pid (scan of /proc/<n>/stat). */
static int children_of(pid_t pid, pid_t *out, int max)
{
    DIR *d = opendir("/proc");
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) && n < max) {
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = 0;
        char *rp = strrchr(buf, ')');
        int ppid = 0;
        char st;
        if (rp && sscanf(rp + 2, "%c %d", &st, &ppid) == 2 && ppid == pid && st != 'Z')
            out[n++] = atoi(e->d_name);
    }
    if (d)
        closedir(d);
    return n;
}

static void check_basic(json_t *r, const char *server_name, const char *prefix)
{
    assert_non_null(r);
    assert_null(json_object_get(r, "scriptError"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "serverInfo"), "name")), server_name);
    assert_non_null(json_object_get(json_object_get(r, "capabilities"), "tools"));
    assert_int_equal(json_string_length(json_object_get(r, "sessionId")), 26);
    char name[128];
    snprintf(name, sizeof name, "%secho", prefix);
    bool found = false;
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(r, "tools"), i, t) found |= !strcmp(json_string_value(t), name);
    assert_true(found);
    assert_string_equal(json_string_value(json_object_get(r, "echo")), "Echo: hello flowgate");
    assert_string_equal(json_string_value(json_object_get(r, "sum")), "The sum of 2 and 40 is 42.");
    assert_true(json_is_true(json_object_get(r, "badIsError")));
    assert_non_null(strstr(json_string_value(json_object_get(r, "badText")), "Invalid"));
    json_t *p = json_object_get(r, "progress");
    assert_int_equal(json_array_size(p), 3);
    for (size_t k = 0; k < 3; k++)
        assert_int_equal(json_integer_value(json_object_get(json_array_get(p, k), "progress")), (json_int_t)k + 1);
    assert_non_null(strstr(json_string_value(json_object_get(r, "longText")), "completed"));
    assert_non_null(strstr(json_string_value(json_object_get(r, "unknown")), "unknown tool"));
    assert_true(json_is_true(json_object_get(r, "terminated")));
}

static void test_sdk_client_routed_mode(void **state)
{
    (void)state;
    /* The HTTP backend is server-everything in streamable-HTTP mode. */
    int port = fg_free_port();
    char portenv[32];
    snprintf(portenv, sizeof portenv, "PORT=%d", port);
    char *env[] = {portenv, NULL};
    char *argv[] = {(char *)fg_node_bin(), (char *)fg_everything_js(), "streamableHttp", NULL};
    fg_proc_t remote;
    assert_true(fg_spawn(&remote, argv, env, NULL, false));
    assert_true(fg_wait_port(port, 20000));
    char extra[200];
    snprintf(extra, sizeof extra, ",\"remote\":{\"type\":\"http\",\"url\":\"http://127.0.0.1:%d/mcp\"}", port);
    char *cfg = config_json("routed-agent", extra);
    fg_gateway_t g;
    assert_true(fg_gateway_start(&g, cfg, NULL, 120000));
    free(cfg);
    char url[200];
    snprintf(url, sizeof url, "%s/mcp/everything", g.url_base);
    json_t *r = fg_sdk("basic", url, g.auth, NULL, 120000);
    check_basic(r, "awmg-everything", "");
    assert_null(json_object_get(json_object_get(r, "capabilities"), "prompts")); /* routed: none */
    json_decref(r);
    snprintf(url, sizeof url, "%s/mcp/remote", g.url_base);
    r = fg_sdk("basic", url, g.auth, NULL, 120000);
    check_basic(r, "awmg-remote", "");
    json_decref(r);
    snprintf(url, sizeof url, "%s/mcp/memory", g.url_base);
    r = fg_sdk("memory", url, g.auth, NULL, 120000);
    assert_non_null(r);
    assert_non_null(strstr(json_string_value(json_object_get(r, "graph")), "written in C"));
    json_decref(r);
    assert_int_equal(fg_gateway_stop(&g), 0);
    fg_proc_stop(&remote, 3000);
}

static void test_sdk_client_unified_mode(void **state)
{
    (void)state;
    char *cfg = config_json("unified-agent", NULL);
    fg_gateway_t g;
    const char *extra[] = {"--unified", NULL};
    assert_true(fg_gateway_start(&g, cfg, extra, 120000));
    free(cfg);
    char url[200];
    snprintf(url, sizeof url, "%s/mcp", g.url_base);
    json_t *r = fg_sdk("basic", url, g.auth, (const char *const[]){"everything___", NULL}, 120000);
    check_basic(r, "awmg-unified", "everything___");
    /* Unified mode proxies the backends' prompts, prefixed. */
    bool prompt = false;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(r, "prompts"), i, p) prompt |= !strcmp(json_string_value(p), "everything___simple-prompt");
    assert_true(prompt);
    assert_non_null(strstr(json_string_value(json_object_get(r, "promptText")), "simple prompt"));
    json_decref(r);
    r = fg_sdk("memory", url, g.auth, (const char *const[]){"memory___", NULL}, 120000);
    assert_non_null(r);
    assert_non_null(strstr(json_string_value(json_object_get(r, "created")), "flowgate"));
    json_decref(r);
    assert_int_equal(fg_gateway_stop(&g), 0);
}

static void test_fifty_concurrent_clients_twenty_calls_each(void **state)
{
    (void)state;
    char *cfg = config_json("busy-agent", NULL);
    fg_gateway_t g;
    assert_true(fg_gateway_start(&g, cfg, NULL, 120000));
    free(cfg);
    char url[200];
    snprintf(url, sizeof url, "%s/mcp/everything", g.url_base);
    json_t *r = fg_sdk("concurrent", url, g.auth, (const char *const[]){"", "50", "20", NULL}, 150000);
    assert_non_null(r);
    if (json_array_size(json_object_get(r, "mismatches")))
        fprintf(stderr, "mismatches: %s\n", json_dumps(json_object_get(r, "mismatches"), 0));
    assert_int_equal(json_integer_value(json_object_get(r, "matched")), 1000);
    fprintf(stderr, "50 clients x 20 calls: %lld ms\n", (long long)json_integer_value(json_object_get(r, "ms")));
    json_decref(r);
    assert_int_equal(fg_gateway_stop(&g), 0);
}

static void test_backend_killed_mid_call_fails_fast_then_recovers(void **state)
{
    (void)state;
    char *cfg = config_json("kill-agent", NULL);
    fg_gateway_t g;
    assert_true(fg_gateway_start(&g, cfg, NULL, 120000));
    free(cfg);
    char url[200], script[300];
    snprintf(url, sizeof url, "%s/mcp/everything", g.url_base);
    snprintf(script, sizeof script, "%s/integration/sdk_client.mjs", fg_tests_dir());
    char *argv[] = {(char *)fg_node_bin(), script, "call", url, g.auth, "", "trigger-long-running-operation",
                    "{\"duration\":20,\"steps\":20}", NULL};
    fg_proc_t client;
    assert_true(fg_spawn(&client, argv, NULL, NULL, true));
    /* Wait until the session's own backend process exists (3 children:
     * two startup processes and the session's), then kill every backend. */
    pid_t kids[16];
    int n = 0;
    int64_t t0 = now_ms();
    while (now_ms() - t0 < 45000 && (n = children_of(g.proc.pid, kids, 16)) < 3)
        usleep(100000);
    assert_int_equal(n, 3);
    usleep(1500000);
    int64_t killed_at = now_ms();
    for (int i = 0; i < n; i++)
        kill(kids[i], SIGKILL);
    assert_true(fg_proc_wait(&client, 15000) >= 0);
    int64_t answered = now_ms() - killed_at;
    char buf[4096] = {0};
    ssize_t len = read(client.out_fd, buf, sizeof buf - 1);
    close(client.out_fd);
    assert_true(len > 0);
    json_t *r = json_loads(buf, JSON_DISABLE_EOF_CHECK, NULL);
    assert_non_null(r);
    assert_true(json_is_false(json_object_get(r, "ok")));
    fprintf(stderr, "killed backend -> client error after %lld ms: %s\n", (long long)answered,
            json_string_value(json_object_get(r, "error")));
    assert_true(answered < 10000); /* long before the 20 s operation would end */
    json_decref(r);
    /* The next call restarts the backend and succeeds. */
    r = fg_sdk("call", url, g.auth, (const char *const[]){"", "echo", "{\"message\":\"again\"}", NULL}, 120000);
    assert_true(json_is_true(json_object_get(r, "ok")));
    assert_string_equal(json_string_value(json_object_get(r, "text")), "Echo: again");
    json_decref(r);
    assert_int_equal(fg_gateway_stop(&g), 0);
}

static void test_tool_timeouts_per_server_then_gateway(void **state)
{
    (void)state;
    char *d = fg_tempdir("toml");
    char path[300];
    snprintf(path, sizeof path, "%s/c.toml", d);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "[gateway]\nport = 3000\nagent_id = \"timeout-agent\"\ntool_timeout = 60\n\n"
            "[servers.fast]\ncommand = \"%s\"\nargs = [\"%s\", \"stdio\"]\ntool_timeout = 1\n\n"
            "[servers.patient]\ncommand = \"%s\"\nargs = [\"%s\", \"stdio\"]\n",
            fg_node_bin(), fg_everything_js(), fg_node_bin(), fg_everything_js());
    fclose(f);
    fg_gateway_t g;
    const char *extra[] = {"--config", path, NULL};
    assert_true(fg_gateway_start(&g, NULL, extra, 120000));
    char url[200];
    snprintf(url, sizeof url, "%s/mcp/fast", g.url_base);
    int64_t t0 = now_ms();
    json_t *r = fg_sdk("call", url, g.auth,
                       (const char *const[]){"", "trigger-long-running-operation", "{\"duration\":20,\"steps\":2}", NULL},
                       120000);
    int64_t took = now_ms() - t0;
    assert_non_null(r);
    assert_true(json_is_false(json_object_get(r, "ok")));
    assert_non_null(strstr(json_string_value(json_object_get(r, "error")), "context deadline exceeded"));
    assert_true(took < 15000); /* well before the 20 s operation would end */
    json_decref(r);
    /* Without a per-server value the gateway's 60 s applies. */
    snprintf(url, sizeof url, "%s/mcp/patient", g.url_base);
    r = fg_sdk("call", url, g.auth,
               (const char *const[]){"", "trigger-long-running-operation", "{\"duration\":2,\"steps\":2}", NULL}, 120000);
    assert_true(json_is_true(json_object_get(r, "ok")));
    json_decref(r);
    assert_int_equal(fg_gateway_stop(&g), 0);
    free(d);
}

static void test_sigterm_reaps_backends_and_flushes_logs(void **state)
{
    (void)state;
    char *cfg = config_json("term-agent", NULL);
    fg_gateway_t g;
    assert_true(fg_gateway_start(&g, cfg, NULL, 120000));
    free(cfg);
    char url[200];
    snprintf(url, sizeof url, "%s/mcp/everything", g.url_base);
    json_t *r = fg_sdk("call", url, g.auth, (const char *const[]){"", "echo", "{\"message\":\"x\"}", NULL}, 120000);
    assert_true(json_is_true(json_object_get(r, "ok")));
    json_decref(r);
    pid_t kids[16];
    int n = children_of(g.proc.pid, kids, 16);
    assert_int_equal(n, 3);
    int64_t t0 = now_ms();
    assert_int_equal(fg_gateway_stop(&g), 0);
    assert_true(now_ms() - t0 < 10000);
    for (int i = 0; i < n; i++)
        assert_true(kill(kids[i], 0) != 0); /* reaped */
    char path[400];
    snprintf(path, sizeof path, "%s/gateway.md", g.log_dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[1 << 20];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    buf[len] = 0;
    fclose(f);
    assert_true(len > 12);
    assert_string_equal(buf + len - 12, "\n</details>\n");
    assert_non_null(strstr(buf, "Shutting down"));
}

/* argv[1], if given, selects tests by name pattern (cmocka filter): the
 * ThreadSanitizer build registers a subset. */
int main(int argc, char **argv)
{
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sdk_client_routed_mode),
        cmocka_unit_test(test_sdk_client_unified_mode),
        cmocka_unit_test(test_fifty_concurrent_clients_twenty_calls_each),
        cmocka_unit_test(test_backend_killed_mid_call_fails_fast_then_recovers),
        cmocka_unit_test(test_tool_timeouts_per_server_then_gateway),
        cmocka_unit_test(test_sigterm_reaps_backends_and_flushes_logs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
