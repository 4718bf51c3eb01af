/* test_payload.c — the label_agent input (guard-abi §2.1, §5 cases 21–23,
 * departure 6): built and checked strictly, first failure wins. Pure JSON,
 * no wasm. */
#include "helpers.h"

static json_t *J(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
    if (!v)
        fail_msg("bad test JSON %s: %s", text, je.text);
    return v;
}

/* Builds a payload from `policy` and expects error text `want` (substring),
 * or success when want is NULL; returns the payload dumped (sorted). */
static char *build(const char *policy, const char *bots, const char *users, const char *want)
{
    json_t *p = J(policy), *b = bots ? J(bots) : NULL, *u = users ? J(users) : NULL;
    json_t *orig = json_deep_copy(p);
    json_t *out = NULL;
    err_t err = {{0}};
    bool ok = guard_label_agent_payload(p, b, u, &out, &err);
    assert_true(json_equal(p, orig)); /* the caller's policy is never modified */
    json_decref(p);
    json_decref(orig);
    json_decref(b);
    json_decref(u);
    if (want) {
        assert_false(ok);
        if (!strstr(err.msg, want))
            fail_msg("policy %s: got \"%s\", want \"%s\"", policy, err.msg, want);
        return NULL;
    }
    if (!ok)
        fail_msg("policy %s: %s", policy, err.msg);
    char *s = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(out);
    return s;
}

static void test_valid_policy_is_sent_unchanged_with_trusted_bots(void **state)
{
    (void)state;
    char *s = build("{\"allow-only\":{\"repos\":[\"acme/api-*\",\"acme/web-app\"],\"min-integrity\":\"approved\"}}",
                    "[\"my-bot[bot]\"]", NULL, NULL);
    assert_string_equal(s, "{\"allow-only\":{\"min-integrity\":\"approved\",\"repos\":[\"acme/api-*\",\"acme/web-app\"]},"
                           "\"trusted-bots\":[\"my-bot[bot]\"]}");
    free(s);
}

static void test_tool_call_limits_are_removed_before_the_guard(void **state)
{
    (void)state;
    char *s = build("{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\",\"tool-call-limits\":{\"x\":2}}}",
                    NULL, NULL, NULL);
    assert_string_equal(s, "{\"allow-only\":{\"min-integrity\":\"none\",\"repos\":\"all\"}}");
    free(s);
}

static void test_trusted_users_go_inside_allow_only(void **state)
{
    (void)state;
    char *s = build("{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\"}}", "[\"b\"]", "[\"u\"]", NULL);
    assert_string_equal(s, "{\"allow-only\":{\"min-integrity\":\"none\",\"repos\":\"all\",\"trusted-users\":[\"u\"]},"
                           "\"trusted-bots\":[\"b\"]}");
    free(s);
}

static void test_policy_string_is_parsed(void **state)
{
    (void)state;
    char *s = build("\"  {\\\"allow-only\\\":{\\\"repos\\\":\\\"public\\\",\\\"integrity\\\":\\\"merged\\\"}}  \"",
                    NULL, NULL, NULL);
    assert_string_equal(s, "{\"allow-only\":{\"integrity\":\"merged\",\"repos\":\"public\"}}");
    free(s);
    build("\"   \"", NULL, NULL, "policy string is empty");
    build("\"{nope\"", NULL, NULL, "policy string is not valid JSON object: ");
    build("\"[1]\"", NULL, NULL, "policy JSON must decode to an object");
    build("null", NULL, NULL, "policy is required");
}

static void test_shape_errors_in_upstream_order(void **state)
{
    (void)state;
    build("{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\"},\"extra\":1}", NULL, NULL,
          "invalid guard policy transport shape: unexpected key \"extra\"");
    build("{\"policy\":{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\"}}}", NULL, NULL,
          "gateway policy adapter is outdated: remove legacy envelope key policy before calling label_agent");
    build("{\"write-sink\":{\"accept\":[\"*\"]}}", NULL, NULL,
          "label_agent policy must use top-level allow-only object (received policy.allow-only)");
    build("{\"allow-only\":{\"repos\":\"all\"}}", NULL, NULL,
          "invalid guard policy transport shape: missing required fields repos and/or min-integrity in allow-only "
          "object");
    build("{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\",\"foo\":1}}", NULL, NULL,
          "invalid guard policy transport shape: unexpected allow-only key \"foo\"");
    /* Accepted by config validation, so passed on to the guard (§6.1). */
    char *pl = build("{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\",\"promotion-label\":\"ok\","
                     "\"demotion-label\":\"bad\"}}",
                     NULL, NULL, NULL);
    assert_non_null(strstr(pl, "\"promotion-label\":\"ok\""));
    assert_non_null(strstr(pl, "\"demotion-label\":\"bad\""));
    free(pl);
    free(build("{\"allowonly\":{\"repos\":\"all\",\"min-integrity\":\"none\"}}", NULL, NULL, NULL));
}

static void test_field_values_are_checked(void **state)
{
    (void)state;
    const char *repos_err = "invalid repos value: expected all, public, or non-empty array of scoped strings";
    build("{\"allow-only\":{\"repos\":[],\"min-integrity\":\"none\"}}", NULL, NULL, repos_err);
    build("{\"allow-only\":{\"repos\":\"some\",\"min-integrity\":\"none\"}}", NULL, NULL, repos_err);
    build("{\"allow-only\":{\"repos\":[\"Acme/x\"],\"min-integrity\":\"none\"}}", NULL, NULL, repos_err);
    build("{\"allow-only\":{\"repos\":[\"a/b\",\"a/b\"],\"min-integrity\":\"none\"}}", NULL, NULL, repos_err);
    free(build("{\"allow-only\":{\"repos\":\" ALL \",\"min-integrity\":\" Approved \"}}", NULL, NULL, NULL));
    build("{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"high\"}}", NULL, NULL,
          "min-integrity must be one of: none, unapproved, approved, merged");
    build("{\"allow-only\":{\"repos\":\"all\",\"integrity\":\"high\"}}", NULL, NULL,
          "integrity must be one of: none, unapproved, approved, merged");
    build("{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\",\"blocked-users\":\"x\"}}", NULL, NULL,
          "invalid blocked-users value: expected array of strings");
    build("{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\",\"approval-labels\":[\" \"]}}", NULL, NULL,
          "invalid approval-labels value: each entry must be a non-empty string");
    build("{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\"},\"trusted-bots\":[]}", NULL, NULL,
          "invalid trusted-bots value: must be a non-empty array when present");
    build("{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\",\"disapproval-integrity\":\"x\"}}", NULL, NULL,
          "disapproval-integrity must be one of: none, unapproved, approved, merged");
}

static void test_refusal_labels_are_normalised(void **state)
{
    (void)state;
    char *s = build("{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\",\"refusal-labels\":\"  unsafe  ,  "
                    "needs-triage  \"}}",
                    NULL, NULL, NULL);
    assert_non_null(strstr(s, "\"refusal-labels\":[\"unsafe\",\"needs-triage\"]"));
    free(s);
    s = build("{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\",\"refusal-labels\":[\" a \"]}}", NULL,
              NULL, NULL);
    assert_non_null(strstr(s, "\"refusal-labels\":[\"a\"]"));
    free(s);
    build("{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\",\"refusal-labels\":\",\"}}", NULL, NULL,
          "invalid refusal-labels value: must include at least one non-empty label");
    build("{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\",\"refusal-labels\":42}}", NULL, NULL,
          "invalid refusal-labels value: expected array of strings or comma/newline-delimited string");
}

static void test_check_alone_accepts_a_built_payload(void **state)
{
    (void)state;
    json_t *p = J("{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\"},\"trusted-bots\":[\"b\"]}");
    err_t err = {{0}};
    assert_true(guard_label_agent_payload_check(p, &err));
    json_decref(p);
    assert_false(guard_label_agent_payload_check(NULL, &err));
    assert_string_equal(err.msg, "policy is required");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_policy_is_sent_unchanged_with_trusted_bots),
        cmocka_unit_test(test_tool_call_limits_are_removed_before_the_guard),
        cmocka_unit_test(test_trusted_users_go_inside_allow_only),
        cmocka_unit_test(test_policy_string_is_parsed),
        cmocka_unit_test(test_shape_errors_in_upstream_order),
        cmocka_unit_test(test_field_values_are_checked),
        cmocka_unit_test(test_refusal_labels_are_normalised),
        cmocka_unit_test(test_check_alone_accepts_a_built_payload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
