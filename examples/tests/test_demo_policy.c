/*
 * test_demo_policy.c — what the bundled example promises (examples/README.md),
 * checked with the real pieces short of the gateway: answers from a real
 * demo-server process, the demo guard's logic (compiled natively from the
 * same sources as demo_guard.wasm), and Flowgate's reference monitor
 * (flowgate_difc) parsing the guard's outputs, evaluating and filtering.
 */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "difc/difc.h"
#include "guard_call.h"

#define OUT_SIZE (1 << 20)

/* Runs an export; returns the output (malloc'd) and its length in *len (0:
 * empty output). Fails the test on a negative code. */
static char *run_export(guard_export_fn fn, const char *input, size_t *len)
{
    char *out;
    int32_t rc = guard_call(fn, input, OUT_SIZE, &out);
    if (rc < 0)
        fail_msg("guard export returned %d", rc);
    *len = (size_t)rc;
    return out;
}

/* Runs demo-server on `requests` (one JSON-RPC line each, after an
 * initialize) and returns the tools/call results in order (a JSON array). */
static json_t *server_results(const char *const *calls, size_t n)
{
    char in_path[] = "/tmp/demo-policy-in-XXXXXX";
    int fd = mkstemp(in_path);
    assert_true(fd >= 0);
    FILE *in = fdopen(fd, "w");
    fprintf(in, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
                "\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}\n");
    for (size_t i = 0; i < n; i++)
        fprintf(in, "{\"jsonrpc\":\"2.0\",\"id\":%zu,\"method\":\"tools/call\",\"params\":%s}\n", i + 1, calls[i]);
    fclose(in);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "'%s' < '%s' 2>/dev/null", DEMO_SERVER_PATH, in_path);
    FILE *out = popen(cmd, "r");
    assert_non_null(out);
    json_t *results = json_array();
    char line[1 << 16];
    while (fgets(line, sizeof line, out)) {
        json_t *msg = json_loads(line, 0, NULL);
        assert_non_null(msg);
        if (json_integer_value(json_object_get(msg, "id")) > 0)
            json_array_append(results, json_object_get(msg, "result"));
        json_decref(msg);
    }
    assert_int_equal(pclose(out), 0);
    unlink(in_path);
    assert_int_equal(json_array_size(results), n);
    return results;
}

/* One agent under one policy, as the gateway would hold it. */
typedef struct agent {
    difc_labels_t labels;
    difc_mode_t mode;
} agent_t;

static void agent_from_policy(agent_t *a, const char *policy)
{
    size_t len;
    char *out = run_export(label_agent, policy, &len);
    difc_agent_result_t res = {0};
    err_t err;
    if (!difc_agent_result_parse(out, len, &res, &err))
        fail_msg("label_agent output rejected: %s", err.msg);
    difc_labels_init(&a->labels);
    assert_true(difc_labels_union(&a->labels, &res.labels));
    a->mode = res.mode;
    difc_agent_result_free(&res);
    free(out);
}

/* Phase 1 + 2: label_resource and the coarse check. */
static difc_decision_t coarse(const agent_t *a, const char *tool, const char *args, difc_resource_t *res,
                              difc_op_t *op, char **reason)
{
    char input[1024];
    snprintf(input, sizeof input, "{\"capabilities\":{},\"tool_args\":%s,\"tool_name\":\"%s\"}", args, tool);
    size_t len;
    char *out = run_export(label_resource, input, &len);
    err_t err;
    difc_resource_init(res);
    if (!difc_resource_result_parse(out, len, res, op, &err))
        fail_msg("label_resource output rejected: %s", err.msg);
    free(out);
    difc_eval_t ev = {0};
    assert_true(difc_evaluate(&a->labels, res, *op, a->mode, &ev, &err));
    difc_decision_t d = ev.decision;
    if (reason)
        *reason = ev.reason ? strdup(ev.reason) : NULL;
    difc_eval_free(&ev);
    return d;
}

/* Phases 4 + 5 for a read whose backend answered `result`. */
static void judge(const agent_t *a, const char *tool, const char *args, const json_t *result,
                  difc_filter_outcome_t *outcome)
{
    difc_resource_t res;
    difc_op_t op;
    coarse(a, tool, args, &res, &op, NULL);
    assert_int_equal(op, DIFC_OP_READ);
    json_t *input = json_pack("{s:{}, s:o, s:s, s:O}", "capabilities", "tool_args", json_loads(args, 0, NULL),
                              "tool_name", tool, "tool_result", result);
    char *raw = json_dumps(input, JSON_COMPACT);
    json_decref(input);
    size_t len;
    char *out = run_export(label_response, raw, &len);
    free(raw);
    difc_response_labels_t rl = {0};
    err_t err;
    if (!difc_response_labels_parse(out, len, &rl, &err))
        fail_msg("label_response output rejected: %s", err.msg);
    free(out);
    if (!difc_filter_response(&a->labels, op, a->mode, &res, &rl, result, outcome, &err))
        fail_msg("filtering failed: %s", err.msg);
    difc_response_labels_free(&rl);
    difc_resource_free(&res);
}

/* The issue numbers left in a filtered list_issues result. */
static void assert_numbers(const difc_filter_outcome_t *o, const char *expected)
{
    const char *text =
        json_string_value(json_object_get(json_array_get(json_object_get(o->result, "content"), 0), "text"));
    assert_non_null(text);
    json_t *issues = json_loads(text, 0, NULL);
    char got[64] = "";
    size_t i;
    json_t *issue;
    json_array_foreach(issues, i, issue) {
        char n[8];
        snprintf(n, sizeof n, "%s%lld", i ? "," : "", (long long)json_integer_value(json_object_get(issue, "number")));
        strcat(got, n);
    }
    json_decref(issues);
    assert_string_equal(got, expected);
}

#define PUBLIC_POLICY "{\"allow-only\":{\"min-integrity\":\"none\",\"repos\":\"public\"}}"
#define SCOPED_POLICY "{\"allow-only\":{\"min-integrity\":\"approved\",\"repos\":[\"demo/tracker\"]}}"

static void test_public_agent_sees_only_public_issues(void **state)
{
    (void)state;
    agent_t a;
    agent_from_policy(&a, PUBLIC_POLICY);
    assert_int_equal(a.mode, DIFC_MODE_FILTER);
    const char *calls[] = {"{\"name\":\"list_issues\",\"arguments\":{}}"};
    json_t *results = server_results(calls, 1);
    difc_filter_outcome_t o = {0};
    judge(&a, "list_issues", "{}", json_array_get(results, 0), &o);
    assert_int_equal(o.total, 6);
    assert_int_equal(o.n_filtered, 2);
    assert_false(o.blocked);
    assert_numbers(&o, "1,3,5,6");
    assert_string_equal(difc_filter_policy_name(&o), "secrecy policy");
    char *notice = difc_format_filter_notice(&o);
    assert_non_null(strstr(notice, "issue:demo/tracker#2"));
    assert_non_null(strstr(notice, "issue:demo/tracker#4"));
    free(notice);
    /* The private issues must not survive in structuredContent either. */
    char *all = json_dumps(o.result, JSON_COMPACT);
    assert_null(strstr(all, "staging database"));
    free(all);
    difc_filter_outcome_free(&o);
    json_decref(results);
    difc_labels_free(&a.labels);
}

static void test_public_agent_cannot_get_a_private_issue(void **state)
{
    (void)state;
    agent_t a;
    agent_from_policy(&a, PUBLIC_POLICY);
    const char *calls[] = {"{\"name\":\"get_issue\",\"arguments\":{\"number\":2}}",
                           "{\"name\":\"get_issue\",\"arguments\":{\"number\":1}}"};
    json_t *results = server_results(calls, 2);
    difc_filter_outcome_t o = {0};
    judge(&a, "get_issue", "{\"number\":2}", json_array_get(results, 0), &o);
    assert_int_equal(o.accessible, 0);
    assert_int_equal(o.n_filtered, 1);
    char *msg = difc_format_filtered_single(&o);
    assert_non_null(strstr(msg, "[Filtered] issue:demo/tracker#2 exists but is not accessible"));
    free(msg);
    difc_filter_outcome_free(&o);

    judge(&a, "get_issue", "{\"number\":1}", json_array_get(results, 1), &o);
    assert_int_equal(o.accessible, 1);
    assert_int_equal(o.n_filtered, 0);
    difc_filter_outcome_free(&o);
    json_decref(results);
    difc_labels_free(&a.labels);
}

static void test_public_agent_may_not_create_issues(void **state)
{
    (void)state;
    agent_t a;
    agent_from_policy(&a, PUBLIC_POLICY);
    difc_resource_t res;
    difc_op_t op;
    char *reason;
    assert_int_equal(coarse(&a, "create_issue", "{\"title\":\"x\"}", &res, &op, &reason), DIFC_DENY);
    assert_int_equal(op, DIFC_OP_WRITE);
    assert_non_null(strstr(reason, "lacks required integrity"));
    assert_non_null(strstr(reason, "\"approved\""));
    free(reason);
    difc_resource_free(&res);
    difc_labels_free(&a.labels);
}

static void test_scoped_agent_sees_private_issues_from_trusted_authors(void **state)
{
    (void)state;
    agent_t a;
    agent_from_policy(&a, SCOPED_POLICY);
    const char *calls[] = {"{\"name\":\"list_issues\",\"arguments\":{}}"};
    json_t *results = server_results(calls, 1);
    difc_filter_outcome_t o = {0};
    judge(&a, "list_issues", "{}", json_array_get(results, 0), &o);
    assert_numbers(&o, "1,2,4");
    assert_int_equal(o.n_filtered, 3);
    assert_string_equal(difc_filter_policy_name(&o), "integrity policy");
    difc_filter_outcome_free(&o);
    json_decref(results);
    difc_labels_free(&a.labels);
}

static void test_scoped_agent_may_create_private_but_not_public_issues(void **state)
{
    (void)state;
    agent_t a;
    agent_from_policy(&a, SCOPED_POLICY);
    difc_resource_t res;
    difc_op_t op;
    char *reason;
    assert_int_equal(coarse(&a, "create_issue", "{\"title\":\"x\"}", &res, &op, NULL), DIFC_ALLOW);
    difc_resource_free(&res);
    assert_int_equal(coarse(&a, "create_issue", "{\"title\":\"x\",\"visibility\":\"public\"}", &res, &op, &reason),
                     DIFC_DENY);
    assert_non_null(strstr(reason, "Agent carries private (demo/tracker)-scoped data"));
    free(reason);
    difc_resource_free(&res);
    difc_labels_free(&a.labels);
}

static void test_propagate_mode_taints_instead_of_filtering(void **state)
{
    (void)state;
    agent_t a;
    agent_from_policy(&a, PUBLIC_POLICY);
    a.mode = DIFC_MODE_PROPAGATE; /* what propagate_guard.wasm says */
    const char *calls[] = {"{\"name\":\"list_issues\",\"arguments\":{}}"};
    json_t *results = server_results(calls, 1);
    difc_filter_outcome_t o = {0};
    judge(&a, "list_issues", "{}", json_array_get(results, 0), &o);
    assert_int_equal(o.n_filtered, 0);
    assert_numbers(&o, "1,2,3,4,5,6");
    assert_true(difc_tagset_contains(&o.read_labels.secrecy, "private:demo/tracker"));
    difc_filter_outcome_free(&o);
    json_decref(results);
    difc_labels_free(&a.labels);
}

static void test_server_errors_and_notes_pass(void **state)
{
    (void)state;
    agent_t a;
    agent_from_policy(&a, "{\"allow-only\":{\"min-integrity\":\"merged\",\"repos\":\"public\"}}");
    const char *calls[] = {"{\"name\":\"get_issue\",\"arguments\":{\"number\":99}}",
                           "{\"name\":\"list_public_notes\",\"arguments\":{}}"};
    json_t *results = server_results(calls, 2);
    difc_filter_outcome_t o = {0};
    judge(&a, "get_issue", "{\"number\":99}", json_array_get(results, 0), &o);
    assert_int_equal(o.n_filtered, 0);
    assert_true(json_is_true(json_object_get(o.result, "isError")));
    difc_filter_outcome_free(&o);
    judge(&a, "list_public_notes", "{}", json_array_get(results, 1), &o);
    assert_int_equal(o.n_filtered, 0);
    assert_true(json_equal(o.result, json_array_get(results, 1)));
    difc_filter_outcome_free(&o);
    json_decref(results);
    difc_labels_free(&a.labels);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_public_agent_sees_only_public_issues),
        cmocka_unit_test(test_public_agent_cannot_get_a_private_issue),
        cmocka_unit_test(test_public_agent_may_not_create_issues),
        cmocka_unit_test(test_scoped_agent_sees_private_issues_from_trusted_authors),
        cmocka_unit_test(test_scoped_agent_may_create_private_but_not_public_issues),
        cmocka_unit_test(test_propagate_mode_taints_instead_of_filtering),
        cmocka_unit_test(test_server_errors_and_notes_pass),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
