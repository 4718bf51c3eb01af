/*
 * test_policy.c — guard policies: allow-only and write-sink parsing and
 * validation with upstream's messages (spec §3.10), the per-server forms,
 * and the allow-only -> write-sink accept mapping (§3.9).
 */
#include "difc_test.h"

static void parse_ok(const char *text, difc_policy_t *p)
{
    json_t *v = J(text);
    err_t err = {0};
    if (!difc_policy_parse(v, p, &err))
        fail_msg("%s: %s", text, err.msg);
    json_decref(v);
}

static void parse_err(const char *text, const char *want)
{
    json_t *v = J(text);
    difc_policy_t p;
    err_t err = {0};
    if (difc_policy_parse(v, &p, &err))
        fail_msg("accepted: %s", text);
    json_decref(v);
    if (strncmp(err.msg, want, strlen(want)) != 0)
        fail_msg("%s:\n got  %s\n want %s", text, err.msg, want);
}

static void assert_list(const difc_strlist_t *l, const char *const *want)
{
    size_t n = 0;
    while (want && want[n])
        n++;
    assert_int_equal(l->len, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(l->items[i], want[i]);
}

static void test_policy_object_shape(void **state)
{
    (void)state;
    parse_err("{\"foo\":{}}", "policy contains unsupported field \"foo\"");
    parse_err("{}", "policy must include allow-only or write-sink");
    parse_err("{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\"},\"write-sink\":{\"accept\":[\"*\"]}}",
              "policy must include either allow-only or write-sink, not both");
    parse_err("[]", "policy must be a JSON object");
    difc_policy_t p;
    parse_ok("{\"Allow-Only\":{\"REPOS\":\" ALL \",\"Min-Integrity\":\" Approved \"}}", &p);
    assert_int_equal(p.kind, DIFC_POLICY_ALLOW_ONLY);
    assert_int_equal(p.allow_only.repos_kind, DIFC_REPOS_ALL);
    assert_string_equal(p.allow_only.min_integrity, "approved");
    difc_policy_free(&p);
    parse_ok("{\"allowonly\":{\"repos\":\"public\",\"integrity\":\"none\"}}", &p);
    assert_int_equal(p.allow_only.repos_kind, DIFC_REPOS_PUBLIC);
    assert_string_equal(p.allow_only.min_integrity, "none");
    difc_policy_free(&p);
    parse_ok("{\"writesink\":{\"accept\":[\"*\"]}}", &p);
    assert_int_equal(p.kind, DIFC_POLICY_WRITE_SINK);
    difc_policy_free(&p);
}

static void test_allow_only_required_fields_and_levels(void **state)
{
    (void)state;
    parse_err("{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\",\"foo\":1}}",
              "allow-only contains unsupported field \"foo\"");
    parse_err("{\"allow-only\":{\"min-integrity\":\"none\"}}", "allow-only must include repos");
    parse_err("{\"allow-only\":{\"repos\":null,\"min-integrity\":\"none\"}}", "allow-only must include repos");
    parse_err("{\"allow-only\":{\"repos\":\"all\"}}", "allow-only must include min-integrity");
    parse_err("{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"  \"}}", "allow-only must include min-integrity");
    parse_err("{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"high\"}}",
              "allow-only.min-integrity must be one of: none, unapproved, approved, merged");
    parse_err("{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":3}}", "invalid allow-only.min-integrity: ");
    parse_err("{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\",\"disapproval-integrity\":\"x\"}}",
              "allow-only.disapproval-integrity must be one of: none, unapproved, approved, merged");
    parse_err("{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\",\"endorser-min-integrity\":\"x\"}}",
              "allow-only.endorser-min-integrity must be one of: none, unapproved, approved, merged");
    difc_policy_t p;
    parse_ok("{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"merged\",\"disapproval-integrity\":\"Merged\","
             "\"endorser-min-integrity\":\"\",\"promotion-label\":\"  promote \",\"demotion-label\":\"   \"}}", &p);
    assert_string_equal(p.allow_only.disapproval_integrity, "merged");
    assert_null(p.allow_only.endorser_min_integrity);
    assert_string_equal(p.allow_only.promotion_label, "promote");
    assert_null(p.allow_only.demotion_label);
    difc_policy_free(&p);
}

static void test_allow_only_repos_scopes(void **state)
{
    (void)state;
    parse_err("{\"allow-only\":{\"repos\":\"private\",\"min-integrity\":\"none\"}}",
              "allow-only.repos string must be 'all' or 'public'");
    parse_err("{\"allow-only\":{\"repos\":5,\"min-integrity\":\"none\"}}",
              "allow-only.repos must be 'all', 'public', or a non-empty array of repo scope strings");
    parse_err("{\"allow-only\":{\"repos\":[],\"min-integrity\":\"none\"}}",
              "allow-only.repos array must contain at least one scope");
    parse_err("{\"allow-only\":{\"repos\":[1],\"min-integrity\":\"none\"}}",
              "allow-only.repos array values must be strings");
    parse_err("{\"allow-only\":{\"repos\":[\" \"],\"min-integrity\":\"none\"}}",
              "allow-only.repos scope entries must not be empty");
    parse_err("{\"allow-only\":{\"repos\":[\"acme/x\",\" acme/x \"],\"min-integrity\":\"none\"}}",
              "allow-only.repos must not contain duplicates");
    const char *bad[] = {"Acme/x", "acme/x.y", "acme", "acme/a*b", "acme/**", "acme/*x", "a/b/c", "/x",
                         "acme/", "acme/*-", "0123456789012345678901234567890123456789/x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char text[256], want[256];
        snprintf(text, sizeof text, "{\"allow-only\":{\"repos\":[\"%s\"],\"min-integrity\":\"none\"}}", bad[i]);
        snprintf(want, sizeof want,
                 "allow-only.repos scope \"%s\" is invalid; expected owner/*, owner/repo, or owner/re*", bad[i]);
        if (strcmp(bad[i], "acme/*-") == 0)
            continue; /* see below: a star must be last */
        parse_err(text, want);
    }
    parse_err("{\"allow-only\":{\"repos\":[\"acme/*-\"],\"min-integrity\":\"none\"}}",
              "allow-only.repos scope \"acme/*-\" is invalid");
    difc_policy_t p;
    parse_ok("{\"allow-only\":{\"repos\":[\"octo/web\",\" acme/* \",\"octo/api-*\",\"a_b/c-d\","
             "\"012345678901234567890123456789012345678/x\"],\"min-integrity\":\"none\"}}", &p);
    assert_int_equal(p.allow_only.repos_kind, DIFC_REPOS_SCOPES);
    assert_list(&p.allow_only.scopes, TAGS("012345678901234567890123456789012345678/x", "a_b/c-d", "acme/*",
                                           "octo/api-*", "octo/web"));
    difc_policy_free(&p);
}

static void test_allow_only_lists_and_limits(void **state)
{
    (void)state;
    difc_policy_t p;
    parse_ok("{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\","
             "\"blocked-users\":[\" Bob \",\"bob\",\"alice\"],\"approval-labels\":[],"
             "\"trusted-users\":[\"T\"],\"refusal-labels\":\"  unsafe  ,  needs-triage  \\n x\","
             "\"endorsement-reactions\":[\"thumbs_up\",\"THUMBS_UP\",\"heart\"],"
             "\"tool-call-limits\":{\"issue_read\":2,\"list_issues\":0}}}", &p);
    assert_list(&p.allow_only.blocked_users, TAGS("Bob", "alice"));
    assert_int_equal(p.allow_only.approval_labels.len, 0);
    assert_list(&p.allow_only.trusted_users, TAGS("T"));
    assert_list(&p.allow_only.refusal_labels, TAGS("unsafe", "needs-triage", "x"));
    assert_list(&p.allow_only.endorsement_reactions, TAGS("THUMBS_UP", "HEART"));
    assert_int_equal(p.allow_only.n_limits, 2);
    for (size_t i = 0; i < 2; i++) {
        if (strcmp(p.allow_only.limits[i].tool, "issue_read") == 0)
            assert_int_equal(p.allow_only.limits[i].max, 2);
        else
            assert_int_equal(p.allow_only.limits[i].max, 0);
    }
    difc_policy_free(&p);
    parse_ok("{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\",\"refusal-labels\":[\" a \"]}}", &p);
    assert_list(&p.allow_only.refusal_labels, TAGS("a"));
    difc_policy_free(&p);

    parse_err("{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\",\"refusal-labels\":\",\"}}",
              "invalid allow-only.refusal-labels: must include at least one label");
    parse_err("{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\",\"refusal-labels\":42}}",
              "invalid allow-only.refusal-labels: expected array of strings or comma/newline-delimited expression");
    parse_err("{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\",\"blocked-users\":[\"a\",\" \"]}}",
              "allow-only.blocked-users entries must not be empty");
    parse_err("{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\",\"blocked-users\":\"bob\"}}",
              "invalid allow-only.blocked-users: ");
    parse_err("{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\",\"tool-call-limits\":{\"x\":-1}}}",
              "allow-only.tool-call-limits[\"x\"] must be >= 0");
    parse_err("{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\",\"tool-call-limits\":{\" \":1}}}",
              "allow-only.tool-call-limits keys must not be empty");
    parse_err("{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\",\"tool-call-limits\":{\"x\":1.5}}}",
              "invalid allow-only.tool-call-limits: ");
    parse_err("{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\",\"tool-call-limits\":[1]}}",
              "invalid allow-only.tool-call-limits: ");
}

static void test_write_sink_validation(void **state)
{
    (void)state;
    difc_policy_t p;
    parse_ok("{\"write-sink\":{\"accept\":[\"private:github/gh-aw*\",\"myorg\",\"internal:o/r\",\"public:o/*\","
             "\"private:myorg\",\" github/x \"],\"sink-visibility\":\" PUBLIC \",\"other\":1}}", &p);
    assert_list(&p.write_sink.accept, TAGS("private:github/gh-aw*", "myorg", "internal:o/r", "public:o/*",
                                           "private:myorg", "github/x"));
    assert_string_equal(p.write_sink.sink_visibility, "public");
    difc_policy_free(&p);
    parse_ok("{\"write-sink\":{\"Accept\":[\" * \"]}}", &p);
    assert_list(&p.write_sink.accept, TAGS("*"));
    assert_null(p.write_sink.sink_visibility);
    difc_policy_free(&p);

    parse_err("{\"write-sink\":{\"accept\":[]}}", "write-sink.accept must contain at least one entry");
    parse_err("{\"write-sink\":{}}", "write-sink.accept must contain at least one entry");
    parse_err("{\"write-sink\":{\"accept\":[\"*\",\"private:x\"]}}",
              "write-sink.accept wildcard \"*\" must be the only entry");
    parse_err("{\"write-sink\":{\"accept\":[\"private:x\",\"private:x\"]}}",
              "write-sink.accept must not contain duplicates");
    parse_err("{\"write-sink\":{\"accept\":[\" \"]}}", "write-sink.accept entries must not be empty");
    parse_err("{\"write-sink\":{\"accept\":[\"secret:x/y\"]}}",
              "write-sink.accept entry \"secret:x/y\" is invalid: visibility prefix must be private, public, "
              "or internal; got \"secret\"");
    parse_err("{\"write-sink\":{\"accept\":[\"private:X\"]}}",
              "write-sink.accept entry \"private:X\" is invalid: scope \"X\" is invalid; expected owner, "
              "owner/*, owner/repo, or owner/re*");
    parse_err("{\"write-sink\":{\"accept\":[\"*\"],\"sink-visibility\":\"secret\"}}",
              "write-sink.sink-visibility must be one of: public, private, internal");
    parse_err("{\"write-sink\":{\"accept\":\"*\"}}", "invalid write-sink.accept: ");
}

/* §3.9 table */
static void test_accept_rules_mapping(void **state)
{
    (void)state;
    struct { const char *repos; const char *const *want; } cases[] = {
        {"\"all\"", TAGS("*")},
        {"\"public\"", TAGS("*")},
        {"[\"o/r\"]", TAGS("private:o/r")},
        {"[\"o/*\"]", TAGS("private:o")},
        {"[\"o/p*\"]", TAGS("private:o/p*")},
        {"[\"o2/r\",\"o1/*\"]", TAGS("private:o1", "private:o2/r")},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char text[256];
        snprintf(text, sizeof text, "{\"allow-only\":{\"repos\":%s,\"min-integrity\":\"approved\"}}", cases[i].repos);
        difc_policy_t p;
        parse_ok(text, &p);
        difc_strlist_t got;
        assert_true(difc_allow_only_accept_rules(&p.allow_only, &got, NULL));
        assert_list(&got, cases[i].want);
        difc_strlist_free(&got);
        difc_policy_free(&p);
    }
}

static void test_write_sink_covers_allow_only(void **state)
{
    (void)state;
    difc_policy_t ao, ws;
    parse_ok("{\"allow-only\":{\"repos\":[\"o1/*\",\"o2/r\"],\"min-integrity\":\"none\"}}", &ao);
    parse_ok("{\"write-sink\":{\"accept\":[\"private:o1\",\"private:o2/r\",\"private:extra\"]}}", &ws);
    assert_true(difc_write_sink_covers(&ws.write_sink, &ao.allow_only)); /* superset is fine */
    difc_policy_free(&ws);
    parse_ok("{\"write-sink\":{\"accept\":[\"private:o1\"]}}", &ws);
    assert_false(difc_write_sink_covers(&ws.write_sink, &ao.allow_only)); /* partial fails */
    difc_policy_free(&ws);
    parse_ok("{\"write-sink\":{\"accept\":[\"*\"]}}", &ws);
    assert_true(difc_write_sink_covers(&ws.write_sink, &ao.allow_only));
    difc_policy_free(&ao);
    parse_ok("{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\"}}", &ao);
    assert_true(difc_write_sink_covers(&ws.write_sink, &ao.allow_only));
    difc_policy_free(&ws);
    parse_ok("{\"write-sink\":{\"accept\":[\"private:o1\"]}}", &ws);
    assert_false(difc_write_sink_covers(&ws.write_sink, &ao.allow_only));
    difc_policy_free(&ws);
    difc_policy_free(&ao);
}

static void test_policy_to_json_round_trips(void **state)
{
    (void)state;
    const char *texts[] = {
        ("{\"allow-only\":{\"repos\":[\"b/x\",\"a/*\"],\"min-integrity\":\"Approved\",\"blocked-users\":[\"u\"],"
         "\"tool-call-limits\":{\"t\":3},\"disapproval-integrity\":\"none\",\"refusal-labels\":\"a,b\"}}"),
        "{\"allow-only\":{\"repos\":\"ALL\",\"integrity\":\"none\"}}",
        "{\"write-sink\":{\"accept\":[\"private:o/r\"],\"sink-visibility\":\"Private\"}}",
    };
    for (size_t i = 0; i < 3; i++) {
        difc_policy_t p, q;
        parse_ok(texts[i], &p);
        json_t *j = difc_policy_to_json(&p);
        assert_non_null(j);
        err_t err = {0};
        assert_true(difc_policy_parse(j, &q, &err));
        json_t *k = difc_policy_to_json(&q);
        assert_true(json_equal(j, k));
        json_decref(j);
        json_decref(k);
        difc_policy_free(&p);
        difc_policy_free(&q);
    }
    difc_policy_t p;
    parse_ok(texts[1], &p);
    json_t *j = difc_policy_to_json(&p);
    assert_json_eq(j, "{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\"}}");
    json_decref(j);
    difc_policy_free(&p);
}

static void server_ok(const char *id, const char *text, bool want_found, difc_policy_kind_t kind)
{
    json_t *v = J(text);
    difc_policy_t p;
    bool found = !want_found;
    err_t err = {0};
    if (!difc_policy_parse_server(id, v, &p, &found, &err))
        fail_msg("%s: %s", text, err.msg);
    assert_int_equal(found, want_found);
    if (found)
        assert_int_equal(p.kind, kind);
    difc_policy_free(&p);
    json_decref(v);
}

static void server_err(const char *id, const char *text, const char *want)
{
    json_t *v = J(text);
    difc_policy_t p;
    bool found;
    err_t err = {0};
    assert_false(difc_policy_parse_server(id, v, &p, &found, &err));
    assert_starts_with(err.msg, want);
    json_decref(v);
}

/* §3.10 "Per-server guard-policies forms", in order. */
static void test_server_guard_policy_forms(void **state)
{
    (void)state;
    server_ok("gh", "{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\"}}", true, DIFC_POLICY_ALLOW_ONLY);
    server_ok("gh", "{\"write-sink\":{\"accept\":[\"*\"]}}", true, DIFC_POLICY_WRITE_SINK);
    server_ok("gh", "{\"repos\":[\"o/r\"],\"integrity\":\"approved\"}", true, DIFC_POLICY_ALLOW_ONLY);
    server_ok("gh", "{\"gh\":{\"write-sink\":{\"accept\":[\"*\"]}},\"other\":{}}", true, DIFC_POLICY_WRITE_SINK);
    server_ok("gh", "{\"anything\":{\"repos\":\"public\",\"min-integrity\":\"none\"}}", true, DIFC_POLICY_ALLOW_ONLY);
    server_ok("gh", "{\"a\":1,\"b\":2}", false, DIFC_POLICY_ALLOW_ONLY);
    server_ok("gh", "{}", false, DIFC_POLICY_ALLOW_ONLY);
    server_ok("gh", "{\"only\":\"scalar\"}", false, DIFC_POLICY_ALLOW_ONLY);
    server_err("gh", "{\"repos\":\"all\"}", "invalid server guard policy: repos specified without min-integrity");
    server_err("gh", "{\"gh\":\"x\",\"y\":1}", "invalid guard policy for server 'gh': expected object");
    server_err("gh", "{\"allow-only\":{\"repos\":\"nope\",\"min-integrity\":\"none\"}}",
               "invalid server guard policy: allow-only.repos string must be 'all' or 'public'");
    server_err("gh", "{\"repos\":\"all\",\"min-integrity\":5}",
               "invalid server guard policy: allow-only.min-integrity must be one of");
    /* A map with a modern key is parsed whole: other keys are errors. */
    server_err("gh", "{\"write-sink\":{\"accept\":[\"*\"]},\"repos\":\"all\"}",
               "invalid server guard policy: policy contains unsupported field \"repos\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_object_shape),
        cmocka_unit_test(test_allow_only_required_fields_and_levels),
        cmocka_unit_test(test_allow_only_repos_scopes),
        cmocka_unit_test(test_allow_only_lists_and_limits),
        cmocka_unit_test(test_write_sink_validation),
        cmocka_unit_test(test_accept_rules_mapping),
        cmocka_unit_test(test_write_sink_covers_allow_only),
        cmocka_unit_test(test_policy_to_json_round_trips),
        cmocka_unit_test(test_server_guard_policy_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
