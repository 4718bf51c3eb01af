/*
 * test_pipeline.c — the tools/call pipeline's allowed-tools row (spec:
 * gateway §4.9 step 3c, §8 case 18; guard-abi-and-difc §4 step 4). Through
 * the front end a tool outside a server's `tools` list is never registered,
 * so a call to it is `unknown tool` (tests/integration/test_server_options);
 * the row is defence in depth for a tool that is registered anyway. Here it
 * is: one route whose tool index holds a tool the configuration does not
 * allow, and gw_tools_call() on a gateway with no guards and no backend
 * connections (a call that got past the row would stop at the next one,
 * guard initialisation, with another message).
 */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "gateway/gateway_internal.h"

/* The JSON-RPC reply of tools/call `tool` on a routed gateway with one
 * server whose configured list is `allowed` (NULL: no `tools` key) and
 * whose route registered `tool`. */
static json_t *call_registered_tool(const char *const *allowed, size_t nallowed, const char *tool)
{
    gw_server_config_t scfg = {0};
    scfg.id = "srv";
    scfg.has_tools = allowed != NULL;
    scfg.tools.items = (char **)allowed;
    scfg.tools.count = nallowed;
    gw_backend_t backend = {0};
    backend.cfg = &scfg;
    backend.id = "srv";
    gw_tool_t t = {.exposed = (char *)tool, .bare = tool, .backend = 0};
    gw_toolset_t route = {.tools = &t, .count = 1};
    gw_server_t s = {0};
    s.mode = GW_MODE_ROUTED;
    s.backends = &backend;
    s.nbackends = 1;
    s.routes = &route;
    s.nroutes = 1;
    pthread_mutex_init(&s.lock, NULL);
    gw_session_t sess = {0};
    snprintf(sess.id, sizeof sess.id, "SESSIONSESSIONSESSIONSESSI");
    sess.gsid = "agent";
    sess.route = 0;
    char text[256];
    snprintf(text, sizeof text,
             "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"%s\",\"arguments\":{}}}", tool);
    mcp_msg_t m;
    err_t err = {{0}};
    assert_int_equal(mcp_jsonrpc_parse(text, strlen(text), &m, &err), MCP_PARSE_OK);
    json_t *reply = gw_tools_call(&s, &sess, &m, NULL);
    mcp_msg_free(&m);
    pthread_mutex_destroy(&s.lock);
    return reply;
}

static const char *error_message(const json_t *reply)
{
    return json_string_value(json_object_get(json_object_get(reply, "error"), "message"));
}

static void test_registered_tool_outside_the_allowed_list_is_refused_naming_it(void **state)
{
    (void)state;
    const char *const allowed[] = {"create_issue", "list_issues"};
    json_t *reply = call_registered_tool(allowed, 2, "delete_repo");
    assert_non_null(reply);
    assert_null(json_object_get(reply, "result"));
    assert_int_equal(json_integer_value(json_object_get(reply, "id")), 4);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(reply, "error"), "code")), 0);
    assert_string_equal(error_message(reply), "tool \"delete_repo\" is not in the allowed-tools list for this server");
    json_decref(reply);
}

/* Listed, "*", [] or no list: the row lets the call on to guard
 * initialisation (no guards here). */
static void test_listed_star_empty_or_absent_lists_let_the_call_through(void **state)
{
    (void)state;
    const char *const listed[] = {"create_issue", "list_issues"};
    const char *const star[] = {"*"};
    struct {
        const char *const *allowed;
        size_t n;
        const char *tool;
    } cases[] = {{listed, 2, "list_issues"}, {star, 1, "delete_repo"}, {listed, 0, "delete_repo"}, {NULL, 0, "delete_repo"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *reply = call_registered_tool(cases[i].allowed, cases[i].n, cases[i].tool);
        const char *msg = error_message(reply);
        assert_non_null(msg);
        if (strstr(msg, "allowed-tools"))
            fail_msg("case %zu: refused by allowed-tools: %s", i, msg);
        assert_non_null(strstr(msg, "guard session initialization failed"));
        json_decref(reply);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registered_tool_outside_the_allowed_list_is_refused_naming_it),
        cmocka_unit_test(test_listed_star_empty_or_absent_lists_let_the_call_through),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
