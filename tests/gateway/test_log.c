/* The log files of spec §5: line format, per-server logs, gateway.md,
 * rpc-messages.jsonl (rpc-message/v2) with redaction, tools.json, DEBUG
 * patterns. */
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "gateway/log.h"

static char dir[64];

static int open_logs(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/fg-logtest-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char sub[128];
    snprintf(sub, sizeof sub, "%s/nested/logs", dir); /* mkdir -p */
    memmove(dir, sub, strlen(sub) + 1);
    err_t err = {{0}};
    assert_true(gw_log_open(dir, &err));
    return 0;
}

static int close_logs(void **state)
{
    (void)state;
    gw_log_close();
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%.*s'", (int)(strstr(dir, "/nested") - dir), dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static char *read_file(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void test_main_log_line_has_bracketed_utc_millis(void **state)
{
    (void)state;
    gw_log(GW_LOG_INFO, "startup", "Starting MCPG in %s mode", "ROUTED");
    char *t = read_file("mcp-gateway.log");
    assert_non_null(t);
    regex_t re;
    assert_int_equal(regcomp(&re,
                             "^\\[[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z\\] "
                             "\\[INFO\\] \\[startup\\] Starting MCPG in ROUTED mode\n$",
                             REG_EXTENDED),
                     0);
    assert_int_equal(regexec(&re, t, 0, NULL, 0), 0);
    regfree(&re);
    struct stat st;
    char path[256];
    snprintf(path, sizeof path, "%s/mcp-gateway.log", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
}

static void test_server_lines_go_to_both_files(void **state)
{
    (void)state;
    gw_log_server("github", GW_LOG_WARN, "backend", "slow %d", 7);
    char *s = read_file("github.log");
    assert_non_null(s);
    assert_non_null(strstr(s, "] [WARN] [backend] slow 7\n"));
    assert_null(strstr(s, "[github]"));
    char *m = read_file("mcp-gateway.log");
    assert_non_null(strstr(m, "] [WARN] [backend] [github] slow 7\n"));
}

static void test_markdown_has_header_entries_and_footer(void **state)
{
    (void)state;
    gw_log_md(GW_LOG_INFO, "startup", "MCPG Gateway version: %s", "v1");
    gw_log_md(GW_LOG_ERROR, "backend", "failed\nline two");
    gw_log_close();
    char *t = read_file("gateway.md");
    assert_non_null(t);
    assert_int_equal(strncmp(t, "<details>\n<summary>MCP Gateway</summary>\n\n", 41), 0);
    assert_non_null(strstr(t, "- \xe2\x9c\x93 **startup** MCPG Gateway version: v1\n"));
    assert_non_null(strstr(t, "- \xe2\x9c\x97 **backend**\n  ```\n  failed\n  line two\n  ```\n"));
    size_t n = strlen(t);
    assert_true(n > 12 && !strcmp(t + n - 12, "\n</details>\n"));
    err_t err = {{0}};
    assert_true(gw_log_open(dir, &err)); /* for the teardown */
}

static void test_rpc_records_follow_schema_v2(void **state)
{
    (void)state;
    json_t *req = json_pack("{s:s,s:i,s:s,s:{s:s}}", "jsonrpc", "2.0", "id", 7, "method", "tools/call", "params",
                            "name", "echo");
    json_t *resp = json_pack("{s:s,s:i,s:{s:[]}}", "jsonrpc", "2.0", "id", 7, "result", "content");
    gw_log_rpc("everything", "OUT", "tools/call", "echo", req, NULL);
    gw_log_rpc("everything", "IN", "tools/call", NULL, resp, NULL);
    gw_log_rpc("everything", "IN", "tools/call", NULL, NULL, "backend exited");
    json_decref(req);
    json_decref(resp);
    char *t = read_file("rpc-messages.jsonl");
    assert_non_null(t);
    char *l1 = t, *l2 = strchr(l1, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
    /* Field order is part of the format. */
    assert_int_equal(strncmp(l1, "{\"timestamp\":\"", 14), 0);
    assert_non_null(strstr(l1, "\"event\":\"rpc_request\",\"_schema\":\"rpc-message/v2\",\"direction\":\"OUT\","
                               "\"server_id\":\"everything\",\"method\":\"tools/call\",\"payload\":"
                               "{\"jsonrpc\":\"2.0\",\"method\":\"tools/call\",\"params\":{\"name\":\"echo\"}}}\n"));
    assert_non_null(strstr(l2, "\"event\":\"rpc_response\""));
    assert_non_null(strstr(l2, "\"payload\":{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"content\":[]}}"));
    assert_non_null(strstr(l3, "\"error\":\"backend exited\",\"payload\":{\"_error\":\"invalid JSON\",\"_raw\":\"\"}"));
}

static void test_redaction_hides_tokens_and_secret_keys(void **state)
{
    (void)state;
    json_t *v = json_pack("{s:s,s:s,s:s,s:s,s:i}", "text",
                          "use ghp_abcdefghijklmnopqrstuvwxyz0123456789 and Bearer abc.def",
                          "api_key", "plain", "note", "password=hunter2hunter2",
                          "hash", "0123456789abcdef0123456789abcdef01", "progressToken", 3);
    json_t *r = gw_redact(v);
    char *t = json_dumps(r, JSON_SORT_KEYS | JSON_COMPACT);
    assert_null(strstr(t, "ghp_abc"));
    assert_null(strstr(t, "abc.def"));
    assert_null(strstr(t, "hunter2"));
    assert_null(strstr(t, "0123456789abcdef0123"));
    assert_non_null(strstr(t, "\"api_key\":\"[REDACTED]\""));
    assert_non_null(strstr(t, "password=[REDACTED]"));
    assert_non_null(strstr(t, "\"progressToken\":3"));
    free(t);
    json_decref(r);
    json_decref(v);
}

static void test_tools_json_lists_names_and_descriptions(void **state)
{
    (void)state;
    json_t *tools = json_pack("[{s:s,s:s,s:{}}]", "name", "echo", "description", "Echoes", "inputSchema");
    gw_log_tools("everything", tools);
    json_decref(tools);
    char *t = read_file("tools.json");
    json_t *doc = json_loads(t, 0, NULL);
    assert_non_null(doc);
    json_t *e = json_array_get(json_object_get(json_object_get(doc, "servers"), "everything"), 0);
    assert_string_equal(json_string_value(json_object_get(e, "name")), "echo");
    assert_string_equal(json_string_value(json_object_get(e, "description")), "Echoes");
    assert_null(json_object_get(e, "inputSchema"));
    json_decref(doc);
}

static void test_debug_patterns_include_exclude_and_wildcards(void **state)
{
    (void)state;
    assert_true(gw_debug_pattern_match("*", "server:http"));
    assert_true(gw_debug_pattern_match("server:*", "server:http"));
    assert_false(gw_debug_pattern_match("server:*", "launcher:pool"));
    assert_true(gw_debug_pattern_match("*:pool", "launcher:pool"));
    assert_true(gw_debug_pattern_match("a:*:b", "a:x:b"));
    assert_true(gw_debug_pattern_match("cmd:*, server:*", "server:x"));
    assert_false(gw_debug_pattern_match("*,-server:*", "server:x"));
    assert_true(gw_debug_pattern_match("*,-server:*", "rpc"));
    assert_false(gw_debug_pattern_match("", "rpc"));
    assert_false(gw_debug_pattern_match(NULL, "rpc"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_main_log_line_has_bracketed_utc_millis, open_logs, close_logs),
        cmocka_unit_test_setup_teardown(test_server_lines_go_to_both_files, open_logs, close_logs),
        cmocka_unit_test_setup_teardown(test_markdown_has_header_entries_and_footer, open_logs, close_logs),
        cmocka_unit_test_setup_teardown(test_rpc_records_follow_schema_v2, open_logs, close_logs),
        cmocka_unit_test_setup_teardown(test_redaction_hides_tokens_and_secret_keys, open_logs, close_logs),
        cmocka_unit_test_setup_teardown(test_tools_json_lists_names_and_descriptions, open_logs, close_logs),
        cmocka_unit_test(test_debug_patterns_include_exclude_and_wildcards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
