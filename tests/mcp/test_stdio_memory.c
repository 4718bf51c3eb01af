/* stdio backend against the real @modelcontextprotocol/server-memory. */
#include "helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];
static char file[128];
static char env_file[160];

static mcp_backend_t *memory_backend(void)
{
    const char *args[] = {th_npm_server("server-memory"), NULL};
    /* The child's whole environment: PATH for node's helpers, and where the
     * knowledge graph lives (a temp dir, not inside node_modules). */
    static char path[4096];
    snprintf(path, sizeof path, "PATH=%s", getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    const char *env[] = {path, env_file, NULL};
    mcp_backend_config_t cfg = {
        .id = "memory",
        .kind = MCP_BACKEND_STDIO,
        .stdio = {.command = th_node(), .args = args, .env = env, .cwd = dir},
        .shutdown_grace_ms = 500,
    };
    return th_backend_new(&cfg, NULL);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/flowgate-mcp-memory-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(file, sizeof file, "%s/memory.jsonl", dir);
    snprintf(env_file, sizeof env_file, "MEMORY_FILE_PATH=%s", file);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(file);
    rmdir(dir);
    return 0;
}

static json_t *call(mcp_backend_t *b, const char *tool, json_t *args)
{
    json_t *params = json_pack("{s:s, s:o}", "name", tool, "arguments", args);
    json_t *res = NULL;
    err_t e = {{0}};
    mcp_call_status_t st = mcp_backend_request(b, "tools/call", params, mcp_now_ms() + 30000, NULL, &res, &e);
    json_decref(params);
    if (st != MCP_CALL_OK)
        fail_msg("%s: %s", tool, e.msg);
    return res;
}

static void test_memory_server_lists_its_tools(void **state)
{
    (void)state;
    mcp_backend_t *b = memory_backend();
    json_t *tools = NULL;
    err_t e = {{0}};
    if (mcp_backend_list_tools(b, mcp_now_ms() + 30000, NULL, &tools, &e) != MCP_CALL_OK)
        fail_msg("%s", e.msg);
    assert_int_equal(json_array_size(tools), 9);
    json_t *info = mcp_backend_server_info(b);
    assert_string_equal(json_string_value(json_object_get(info, "name")), "memory-server");
    json_decref(info);
    json_decref(tools);
    mcp_backend_free(b);
}

static void test_entities_persist_across_a_restart(void **state)
{
    (void)state;
    mcp_backend_t *b = memory_backend();
    json_t *r = call(b, "create_entities",
                     json_pack("{s:[{s:s, s:s, s:[s]}]}", "entities", "name", "flowgate", "entityType", "project",
                               "observations", "written in C"));
    assert_false(json_is_true(json_object_get(r, "isError")));
    json_decref(r);
    err_t e = {{0}};
    assert_true(mcp_backend_restart(b, &e));
    r = call(b, "search_nodes", json_pack("{s:s}", "query", "flowgate"));
    assert_non_null(strstr(th_text(r), "written in C"));
    json_decref(r);
    assert_int_equal(mcp_backend_start_count(b), 2);
    mcp_backend_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_server_lists_its_tools),
        cmocka_unit_test(test_entities_persist_across_a_restart),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
