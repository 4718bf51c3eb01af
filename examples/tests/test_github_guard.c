/*
 * test_github_guard.c — the sample GitHub guard's labelling logic, compiled
 * natively from the same sources as github_guard.wasm. Each call goes
 * through guard_alloc/guard_dealloc the way the host drives the ABI (spec:
 * guard-abi §1.6); call_backend is answered by a fake GitHub
 * (search_repositories only) installed as guard_rt's native hook.
 *
 * The guard keeps state between calls (policy, visibility cache), so the
 * tests run in order and each one sets the policy it needs; repositories
 * whose caching a test counts are not used by any other test.
 */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "guard_call.h"

#define OUT_SIZE (1 << 20)

/* ---- the fake backend -------------------------------------------------------- */

/* Visibility answers: owner/repo -> private flag. Owner "many" is public
 * whatever the repo (for the cache's bound); "octo/down" fails; "octo/renamed"
 * answers with another repository; "octo/huge" needs a second, bigger
 * buffer; owner "rawco" is answered as a raw GitHub body (proxy mode), the
 * rest MCP-wrapped (gateway mode). Anything else is not found. */
static const struct {
    const char *full_name;
    bool private_;
} fake_repos[] = {
    {"octo/demo", false},      {"octo/secret", true},   {"other/lib", false}, {"other/vault", true},
    {"acme/api-core", true},   {"octo/huge", false},    {"rawco/pub", false}, {"octo/cached", false},
    {"octo/cached-priv", true},
};

static int backend_calls;
static char last_backend_args[512];

static json_t *fake_answer(const char *repo, bool *raw, bool *fail)
{
    *raw = strncmp(repo, "rawco/", 6) == 0;
    *fail = strcmp(repo, "octo/down") == 0;
    json_t *items = json_array();
    if (!strncmp(repo, "many/", 5)) {
        json_array_append_new(items, json_pack("{s:s,s:b}", "full_name", repo, "private", 0));
    } else if (!strcmp(repo, "octo/renamed")) {
        json_array_append_new(items, json_pack("{s:s,s:b}", "full_name", "octo/renamed-to", "private", 0));
    } else {
        for (size_t i = 0; i < sizeof fake_repos / sizeof fake_repos[0]; i++) {
            if (strcasecmp(repo, fake_repos[i].full_name))
                continue;
            json_t *r = json_pack("{s:s,s:b,s:s}", "full_name", fake_repos[i].full_name, "private",
                                  fake_repos[i].private_, "visibility", fake_repos[i].private_ ? "private" : "public");
            if (!strcmp(repo, "octo/huge")) {
                char *pad = malloc(100001);
                memset(pad, 'x', 100000);
                pad[100000] = '\0';
                json_object_set_new(r, "description", json_string(pad));
                free(pad);
            }
            json_array_append_new(items, r);
        }
    }
    return json_pack("{s:i,s:b,s:o}", "total_count", (int)json_array_size(items), "incomplete_results", 0, "items",
                     items);
}

static int32_t fake_call_backend(const char *tool, int32_t tool_len, const char *args, int32_t args_len,
                                 char *result, int32_t result_size)
{
    backend_calls++;
    if (tool_len != 19 || memcmp(tool, "search_repositories", 19) != 0)
        return -1;
    snprintf(last_backend_args, sizeof last_backend_args, "%.*s", (int)args_len, args);
    json_t *a = json_loadb(args, (size_t)args_len, 0, NULL);
    const char *q = json_string_value(json_object_get(a, "query"));
    if (!q || strncmp(q, "repo:", 5) != 0 || json_integer_value(json_object_get(a, "perPage")) != 10) {
        json_decref(a);
        return -1;
    }
    bool raw, fail;
    json_t *inner = fake_answer(q + 5, &raw, &fail);
    json_decref(a);
    if (fail) {
        json_decref(inner);
        return -1;
    }
    char *text = json_dumps(inner, JSON_COMPACT);
    json_decref(inner);
    char *out = text;
    if (!raw) {
        json_t *wrapped = json_pack("{s:[{s:s,s:s}],s:b}", "content", "type", "text", "text", text, "isError", 0);
        out = json_dumps(wrapped, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(wrapped);
        free(text);
    }
    size_t len = strlen(out);
    if (len > (size_t)result_size) {
        if (result_size >= 4)
            for (int i = 0; i < 4; i++)
                result[i] = (char)(len >> (8 * i));
        free(out);
        return -2;
    }
    memcpy(result, out, len);
    free(out);
    return (int32_t)len;
}

static int warnings_logged;

static void fake_host_log(int32_t level, const char *msg, int32_t len)
{
    (void)msg, (void)len;
    if (level == 2)
        warnings_logged++;
}

static int setup(void **state)
{
    (void)state;
    rt_native_call_backend = fake_call_backend;
    rt_native_host_log = fake_host_log;
    return 0;
}

/* ---- calling the guard ------------------------------------------------------ */

static json_t *call_json(guard_export_fn fn, const char *input)
{
    char *out;
    int32_t rc = guard_call(fn, input, OUT_SIZE, &out);
    if (rc <= 0)
        fail_msg("export returned %d for %s", rc, input);
    json_error_t jerr;
    json_t *v = json_loads(out, 0, &jerr);
    if (!v)
        fail_msg("guard output is not JSON (%s): %s", jerr.text, out);
    free(out);
    return v;
}

static json_t *call_jsonf(guard_export_fn fn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *call_jsonf(guard_export_fn fn, const char *fmt, ...)
{
    char input[65536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(input, sizeof input, fmt, ap);
    va_end(ap);
    return call_json(fn, input);
}

static int32_t call_rc(guard_export_fn fn, const char *input)
{
    char *out = NULL;
    int32_t rc = guard_call(fn, input, OUT_SIZE, &out);
    free(out);
    return rc;
}

static void assert_tags(const json_t *arr, const char *expected_json)
{
    json_t *want = json_loads(expected_json, 0, NULL);
    assert_non_null(want);
    if (!json_equal((json_t *)arr, want)) {
        char *got = json_dumps(arr, JSON_COMPACT | JSON_ENCODE_ANY);
        fail_msg("tags %s, expected %s", got ? got : "(none)", expected_json);
    }
    json_decref(want);
}

static json_t *agent(const char *payload) { return call_json(label_agent, payload); }

static void set_policy(const char *payload) { json_decref(agent(payload)); }

static json_t *resource(const char *tool, const char *args)
{
    return call_jsonf(label_resource, "{\"capabilities\":{},\"tool_args\":%s,\"tool_name\":\"%s\"}", args, tool);
}

/* label_response for `result` (JSON text). */
static json_t *response(const char *tool, const char *args, const char *result)
{
    return call_jsonf(label_response, "{\"capabilities\":{},\"tool_args\":%s,\"tool_name\":\"%s\",\"tool_result\":%s}",
                      args, tool, result);
}

static const char *desc_of(const json_t *labels)
{
    return json_string_value(json_object_get(labels, "description"));
}

/* The resource's secrecy, integrity and operation. */
static void assert_resource(json_t *r, const char *op, const char *secrecy, const char *integrity)
{
    assert_string_equal(json_string_value(json_object_get(r, "operation")), op);
    assert_tags(json_object_get(json_object_get(r, "resource"), "secrecy"), secrecy);
    assert_tags(json_object_get(json_object_get(r, "resource"), "integrity"), integrity);
}

/* labeled_paths[i]: its path and labels. */
static void assert_path(json_t *out, size_t i, const char *path, const char *secrecy, const char *integrity)
{
    json_t *e = json_array_get(json_object_get(out, "labeled_paths"), i);
    if (!e)
        fail_msg("no labeled_paths[%zu]", i);
    assert_string_equal(json_string_value(json_object_get(e, "path")), path);
    assert_tags(json_object_get(json_object_get(e, "labels"), "secrecy"), secrecy);
    assert_tags(json_object_get(json_object_get(e, "labels"), "integrity"), integrity);
}

static json_t *path_labels(json_t *out, size_t i)
{
    return json_object_get(json_array_get(json_object_get(out, "labeled_paths"), i), "labels");
}

#define POLICY_OCTO "{\"allow-only\":{\"repos\":[\"octo/*\"],\"min-integrity\":\"approved\"}}"
#define OCTO_NONE "[\"none:octo\"]"
#define OCTO_UNAPPROVED "[\"none:octo\",\"unapproved:octo\"]"
#define OCTO_APPROVED "[\"none:octo\",\"unapproved:octo\",\"approved:octo\"]"
#define OCTO_MERGED "[\"none:octo\",\"unapproved:octo\",\"approved:octo\",\"merged:octo\"]"
#define TAGS4(t) "[\"none:" t "\",\"unapproved:" t "\",\"approved:" t "\",\"merged:" t "\"]"
#define TAGS3(t) "[\"none:" t "\",\"unapproved:" t "\",\"approved:" t "\"]"

/* ---- before any policy ------------------------------------------------------ */

static void test_without_a_policy_every_repo_is_out_of_scope(void **state)
{
    (void)state;
    json_t *r = resource("list_issues", "{\"owner\":\"other\",\"repo\":\"lib\"}");
    assert_resource(r, "read", "[]", TAGS4("other/lib"));
    json_decref(r);
    r = resource("get_me", "{}");
    assert_resource(r, "read", "[]", "[\"none\",\"unapproved\",\"approved\",\"merged\"]");
    json_decref(r);
}

/* ---- label_agent --------------------------------------------------------------- */

static void test_agent_labels_for_each_scope_form(void **state)
{
    (void)state;
    static const struct {
        const char *repos, *level, *kind, *secrecy, *integrity;
    } cases[] = {
        {"\"all\"", "approved", "All", "[]", "[\"none:all\",\"unapproved:all\",\"approved:all\"]"},
        {"\"public\"", "none", "Public", "[]", "[\"none:public\"]"},
        {"[\"octo/*\"]", "unapproved", "Owner", "[\"private:octo\"]", OCTO_UNAPPROVED},
        {"[\"octo/demo\"]", "merged", "Repo", "[\"private:octo/demo\"]", TAGS4("octo/demo")},
        {"[\"octo/de*\"]", "approved", "RepoPrefix", "[\"private:octo/de*\"]", TAGS3("octo/de*")},
        {"[\"octo/demo\",\"acme/api-*\"]", "approved", "Composite", "[\"private:octo/demo\",\"private:acme/api-*\"]",
         "[\"integrity=none;scopes=octo/demo,acme/api-*\",\"integrity=unapproved;scopes=octo/demo,acme/api-*\","
         "\"integrity=approved;scopes=octo/demo,acme/api-*\"]"},
        {"[\"octo/*\",\"acme/*\",\"x/y\"]", "none", "Composite", "[\"private:octo\",\"private:acme\",\"private:x/y\"]",
         "[\"integrity=none;scopes=octo,acme,x/y\"]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *r = call_jsonf(label_agent, "{\"allow-only\":{\"min-integrity\":\"%s\",\"repos\":%s}}", cases[i].level,
                               cases[i].repos);
        json_t *a = json_object_get(r, "agent");
        assert_tags(json_object_get(a, "secrecy"), cases[i].secrecy);
        assert_tags(json_object_get(a, "integrity"), cases[i].integrity);
        assert_string_equal(json_string_value(json_object_get(r, "difc_mode")), "filter");
        json_t *np = json_object_get(r, "normalized_policy");
        assert_string_equal(json_string_value(json_object_get(np, "scope_kind")), cases[i].kind);
        assert_string_equal(json_string_value(json_object_get(np, "min-integrity")), cases[i].level);
        json_decref(r);
    }
}

static void test_agent_keys_and_levels_ignore_case(void **state)
{
    (void)state;
    json_t *r = agent("{\"Allow-Only\":{\"REPOS\":\" All \",\"Min-Integrity\":\" Merged \"}}");
    assert_tags(json_object_get(json_object_get(r, "agent"), "integrity"), TAGS4("all"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "normalized_policy"), "min-integrity")),
                        "merged");
    json_decref(r);
    /* The legacy spellings. */
    r = agent("{\"allowonly\":{\"repos\":[\"octo/*\"],\"integrity\":\"none\"}}");
    assert_tags(json_object_get(json_object_get(r, "agent"), "integrity"), OCTO_NONE);
    json_decref(r);
}

static void test_agent_rejects_bad_policies_and_keeps_the_last_good_one(void **state)
{
    (void)state;
    set_policy(POLICY_OCTO);
    const char *bad[] = {
        "",
        "not json",
        "[]",
        "{\"repos\":\"all\",\"min-integrity\":\"none\"}",
        "{\"allow-only\":{\"repos\":\"all\"}}",
        "{\"allow-only\":\"all\"}",
        "{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"high\"}}",
        "{\"allow-only\":{\"repos\":\"mine\",\"min-integrity\":\"none\"}}",
        "{\"allow-only\":{\"repos\":[],\"min-integrity\":\"none\"}}",
        "{\"allow-only\":{\"repos\":[3],\"min-integrity\":\"none\"}}",
        "{\"allow-only\":{\"repos\":[\"octo\"],\"min-integrity\":\"none\"}}",
        "{\"allow-only\":{\"repos\":[\"/x\"],\"min-integrity\":\"none\"}}",
        "{\"allow-only\":{\"repos\":[\"octo/\"],\"min-integrity\":\"none\"}}",
        "{\"allow-only\":{\"repos\":[\"octo/a/b\"],\"min-integrity\":\"none\"}}",
        "{\"allow-only\":{\"repos\":[\"octo/a*b\"],\"min-integrity\":\"none\"}}",
        "{\"allow-only\":{\"repos\":[\"octo/**\"],\"min-integrity\":\"none\"}}",
        "{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\"},\"trusted-bots\":\"b\"}",
        "{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\",\"trusted-users\":[1]}}",
        "{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\"}} trailing",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (call_rc(label_agent, bad[i]) != -1)
            fail_msg("accepted %s", bad[i]);
    json_t *r = resource("get_me", "{}");
    assert_resource(r, "read", "[]", OCTO_MERGED);
    json_decref(r);
}

static void test_agent_output_uses_the_minus_two_protocol(void **state)
{
    (void)state;
    char *out;
    const char *in = POLICY_OCTO;
    int32_t rc = guard_call(label_agent, in, 16, &out);
    assert_int_equal(rc, -2);
    uint32_t need = (uint32_t)(unsigned char)out[0] | (uint32_t)(unsigned char)out[1] << 8 |
                    (uint32_t)(unsigned char)out[2] << 16 | (uint32_t)(unsigned char)out[3] << 24;
    free(out);
    rc = guard_call(label_agent, in, (int32_t)need, &out);
    assert_int_equal(rc, (int32_t)need);
    json_t *v = json_loads(out, 0, NULL);
    assert_non_null(v);
    json_decref(v);
    free(out);
}

/* ---- label_resource -------------------------------------------------------------- */

static void test_reads_of_in_scope_repos(void **state)
{
    (void)state;
    set_policy(POLICY_OCTO);
    int calls = backend_calls;
    json_t *r = resource("list_issues", "{\"owner\":\"octo\",\"repo\":\"demo\",\"state\":\"open\"}");
    assert_resource(r, "read", "[]", OCTO_MERGED);
    assert_string_equal(desc_of(json_object_get(r, "resource")), "resource:list_issues:octo/demo");
    json_decref(r);
    assert_int_equal(backend_calls, calls + 1);
    assert_string_equal(last_backend_args, "{\"query\":\"repo:octo/demo\",\"perPage\":10}");
    r = resource("get_file_contents", "{\"owner\":\"octo\",\"repo\":\"secret\",\"path\":\"README.md\"}");
    assert_resource(r, "read", "[\"private:octo\"]", OCTO_MERGED);
    json_decref(r);
    /* GitHub names ignore case: the same scope and the same cached answer. */
    calls = backend_calls;
    r = resource("issue_read", "{\"owner\":\"OCTO\",\"repo\":\"Secret\",\"issue_number\":3}");
    assert_resource(r, "read", "[\"private:octo\"]", OCTO_MERGED);
    json_decref(r);
    assert_int_equal(backend_calls, calls);
}

static void test_reads_of_out_of_scope_repos_carry_their_own_tags(void **state)
{
    (void)state;
    set_policy(POLICY_OCTO);
    json_t *r = resource("list_issues", "{\"owner\":\"other\",\"repo\":\"lib\"}");
    assert_resource(r, "read", "[]", TAGS4("other/lib"));
    json_decref(r);
    r = resource("list_commits", "{\"owner\":\"other\",\"repo\":\"vault\"}");
    assert_resource(r, "read", "[\"private:other/vault\"]", TAGS4("other/vault"));
    json_decref(r);
}

static void test_unknown_visibility_is_private_and_not_cached(void **state)
{
    (void)state;
    set_policy(POLICY_OCTO);
    const char *repos[] = {"ghost", "down", "renamed"}; /* not found; call fails; another repo answers */
    for (size_t i = 0; i < 3; i++) {
        char args[128];
        snprintf(args, sizeof args, "{\"owner\":\"octo\",\"repo\":\"%s\"}", repos[i]);
        for (int k = 0; k < 2; k++) {
            int calls = backend_calls, warned = warnings_logged;
            json_t *r = resource("list_issues", args);
            assert_resource(r, "read", "[\"private:octo\"]", OCTO_MERGED);
            json_decref(r);
            assert_int_equal(backend_calls, calls + 1); /* asked again every time */
            assert_int_equal(warnings_logged, warned + 1);
        }
    }
    /* Out of scope, the fail-secure tag is the repo's own. */
    json_t *r = resource("list_issues", "{\"owner\":\"nobody\",\"repo\":\"x\"}");
    assert_resource(r, "read", "[\"private:nobody/x\"]", TAGS4("nobody/x"));
    json_decref(r);
}

static void test_visibility_is_cached(void **state)
{
    (void)state;
    set_policy(POLICY_OCTO);
    int calls = backend_calls;
    for (int i = 0; i < 3; i++) {
        json_t *r = resource("list_pull_requests", "{\"owner\":\"octo\",\"repo\":\"cached\"}");
        assert_resource(r, "read", "[]", OCTO_MERGED);
        json_decref(r);
        r = resource("list_pull_requests", "{\"owner\":\"octo\",\"repo\":\"cached-priv\"}");
        assert_resource(r, "read", "[\"private:octo\"]", OCTO_MERGED);
        json_decref(r);
    }
    assert_int_equal(backend_calls, calls + 2);
    /* A new policy does not forget what GitHub said. */
    set_policy("{\"allow-only\":{\"repos\":\"public\",\"min-integrity\":\"none\"}}");
    json_t *r = resource("list_pull_requests", "{\"owner\":\"octo\",\"repo\":\"cached-priv\"}");
    assert_resource(r, "read", "[\"private\"]", TAGS4("public"));
    json_decref(r);
    assert_int_equal(backend_calls, calls + 2);
}

static void test_visibility_cache_is_bounded(void **state)
{
    (void)state;
    set_policy(POLICY_OCTO);
    char args[128];
    int calls = backend_calls;
    for (int i = 0; i < 70; i++) {
        snprintf(args, sizeof args, "{\"owner\":\"many\",\"repo\":\"r%d\"}", i);
        json_decref(resource("list_tags", args));
    }
    assert_int_equal(backend_calls, calls + 70);
    json_decref(resource("list_tags", "{\"owner\":\"many\",\"repo\":\"r69\"}")); /* still cached */
    assert_int_equal(backend_calls, calls + 70);
    json_decref(resource("list_tags", "{\"owner\":\"many\",\"repo\":\"r0\"}")); /* evicted */
    assert_int_equal(backend_calls, calls + 71);
}

static void test_big_backend_answers_are_retried_with_the_hint(void **state)
{
    (void)state;
    set_policy(POLICY_OCTO);
    int calls = backend_calls;
    json_t *r = resource("list_releases", "{\"owner\":\"octo\",\"repo\":\"huge\"}");
    assert_resource(r, "read", "[]", OCTO_MERGED);
    json_decref(r);
    assert_int_equal(backend_calls, calls + 2); /* -2, then the answer */
    /* Proxy mode answers with GitHub's own body, not an MCP wrapper. */
    r = resource("list_releases", "{\"owner\":\"rawco\",\"repo\":\"pub\"}");
    assert_resource(r, "read", "[]", TAGS4("rawco/pub"));
    json_decref(r);
    assert_int_equal(backend_calls, calls + 3);
}

static void test_non_repo_reads_are_public_with_the_policy_token(void **state)
{
    (void)state;
    set_policy(POLICY_OCTO);
    int calls = backend_calls;
    const char *tools[] = {"get_me", "list_notifications", "search_issues", "search_code", "search_repositories",
                           "search_orgs", "list_projects"};
    for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++) {
        json_t *r = resource(tools[i], "{\"query\":\"repo:other/vault is:open\",\"owner\":\"octo\"}");
        assert_resource(r, "read", "[]", OCTO_MERGED);
        json_decref(r);
    }
    json_t *r = resource("get_me", "null");
    assert_resource(r, "read", "[]", OCTO_MERGED);
    assert_string_equal(desc_of(json_object_get(r, "resource")), "resource:get_me");
    json_decref(r);
    assert_int_equal(backend_calls, calls);
}

static void test_writes_require_integrity_and_carry_no_secrecy(void **state)
{
    (void)state;
    set_policy(POLICY_OCTO);
    int calls = backend_calls;
    json_t *r = resource("create_issue", "{\"owner\":\"octo\",\"repo\":\"secret\",\"title\":\"t\"}");
    assert_resource(r, "write", "[]", OCTO_UNAPPROVED);
    assert_string_equal(desc_of(json_object_get(r, "resource")), "resource:create_issue:octo/secret");
    json_decref(r);
    r = resource("add_issue_comment", "{\"owner\":\"other\",\"repo\":\"lib\"}");
    assert_resource(r, "write", "[]", "[\"none:other/lib\",\"unapproved:other/lib\"]");
    json_decref(r);
    r = resource("merge_pull_request", "{\"owner\":\"octo\",\"repo\":\"demo\"}");
    assert_resource(r, "write", "[]", OCTO_APPROVED);
    json_decref(r);
    r = resource("issue_write", "{\"owner\":\"octo\",\"repo\":\"demo\"}");
    assert_resource(r, "write", "[]", OCTO_APPROVED);
    json_decref(r);
    r = resource("create_gist", "{}");
    assert_resource(r, "write", "[]", OCTO_UNAPPROVED);
    json_decref(r);
    assert_int_equal(backend_calls, calls);
}

static void test_unknown_and_blocked_tools_are_writes_nobody_may_make(void **state)
{
    (void)state;
    set_policy(POLICY_OCTO);
    json_t *r = resource("frobnicate", "{\"owner\":\"octo\",\"repo\":\"demo\"}");
    assert_resource(r, "write", "[]", "[\"blocked:octo\"]");
    json_decref(r);
    r = resource("frobnicate", "null");
    assert_resource(r, "write", "[]", "[\"blocked:octo\"]");
    json_decref(r);
    r = resource("get_issue", "{\"owner\":\"other\",\"repo\":\"lib\"}"); /* not this guard's read list */
    assert_resource(r, "write", "[]", "[\"blocked:other/lib\"]");
    json_decref(r);
    const char *blocked[] = {"archive_repository", "create_agent_task", "rename_repository", "transfer_repository",
                             "unarchive_repository"};
    for (size_t i = 0; i < sizeof blocked / sizeof blocked[0]; i++) {
        r = resource(blocked[i], "{\"owner\":\"octo\",\"repo\":\"demo\"}");
        assert_resource(r, "write", "[]", "[\"blocked:octo\"]");
        json_decref(r);
    }
}

static void test_resource_secrecy_follows_the_policy_scope_form(void **state)
{
    (void)state;
    set_policy("{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\"}}");
    json_t *r = resource("list_issues", "{\"owner\":\"other\",\"repo\":\"vault\"}");
    assert_resource(r, "read", "[]", TAGS4("all"));
    json_decref(r);
    set_policy("{\"allow-only\":{\"repos\":\"public\",\"min-integrity\":\"none\"}}");
    r = resource("list_issues", "{\"owner\":\"other\",\"repo\":\"vault\"}");
    assert_resource(r, "read", "[\"private\"]", TAGS4("public"));
    json_decref(r);
    set_policy("{\"allow-only\":{\"repos\":[\"octo/secret\"],\"min-integrity\":\"none\"}}");
    r = resource("list_issues", "{\"owner\":\"octo\",\"repo\":\"secret\"}");
    assert_resource(r, "read", "[\"private:octo/secret\"]", TAGS4("octo/secret"));
    json_decref(r);
    set_policy("{\"allow-only\":{\"repos\":[\"octo/se*\"],\"min-integrity\":\"none\"}}");
    r = resource("list_issues", "{\"owner\":\"octo\",\"repo\":\"secret\"}");
    assert_resource(r, "read", "[\"private:octo/se*\"]", TAGS4("octo/se*"));
    json_decref(r);
    r = resource("list_issues", "{\"owner\":\"other\",\"repo\":\"vault\"}");
    assert_resource(r, "read", "[\"private:other/vault\"]", TAGS4("other/vault"));
    json_decref(r);

    set_policy("{\"allow-only\":{\"repos\":[\"octo/demo\",\"acme/api-*\"],\"min-integrity\":\"approved\"}}");
#define COMPOSITE(l) "\"integrity=" l ";scopes=octo/demo,acme/api-*\""
    const char *all = "[" COMPOSITE("none") "," COMPOSITE("unapproved") "," COMPOSITE("approved") ","
        COMPOSITE("merged") "]";
    r = resource("list_issues", "{\"owner\":\"octo\",\"repo\":\"demo\"}");
    assert_resource(r, "read", "[]", all);
    json_decref(r);
    r = resource("list_issues", "{\"owner\":\"acme\",\"repo\":\"api-core\"}");
    assert_resource(r, "read", "[\"private:acme/api-*\"]", all);
    json_decref(r);
    r = resource("list_issues", "{\"owner\":\"octo\",\"repo\":\"secret\"}"); /* outside: only octo/demo */
    assert_resource(r, "read", "[\"private:octo/secret\"]", TAGS4("octo/secret"));
    json_decref(r);
    r = resource("frobnicate", "{}");
    assert_resource(r, "write", "[]", "[" COMPOSITE("blocked") "]");
    json_decref(r);
#undef COMPOSITE
}

static void test_resource_rejects_bad_input(void **state)
{
    (void)state;
    set_policy(POLICY_OCTO);
    assert_int_equal(call_rc(label_resource, "not json"), -1);
    assert_int_equal(call_rc(label_resource, "{\"tool_args\":{}}"), -1);
    assert_int_equal(call_rc(label_resource, "{\"tool_name\":3}"), -1);
    char big[600];
    snprintf(big, sizeof big, "{\"tool_name\":\"list_issues\",\"tool_args\":{\"owner\":\"%0300d\",\"repo\":\"r\"}}", 0);
    assert_int_equal(call_rc(label_resource, big), -1);
}

/* ---- label_response ---------------------------------------------------------------- */

#define ISSUE(n, login, assoc)                                                                                   \
    "{\"number\":" #n ",\"title\":\"t\",\"repository_url\":\"https://api.github.com/repos/octo/demo\","            \
    "\"user\":{\"login\":\"" login "\"},\"author_association\":\"" assoc "\"}"

static const char *const mixed_issues =
    "[" ISSUE(1, "a", "OWNER") "," ISSUE(2, "b", "CONTRIBUTOR") "," ISSUE(3, "c", "FIRST_TIME_CONTRIBUTOR") ","
    ISSUE(4, "d", "NONE") "," ISSUE(5, "e", "MANNEQUIN") ",{\"number\":6,\"user\":{\"login\":\"f\"}},"
    ISSUE(7, "g", "MEMBER") "," ISSUE(8, "h", "collaborator") "," ISSUE(9, "i", "FIRST_TIMER") "]";

static void test_rest_issue_list_is_labelled_item_by_item(void **state)
{
    (void)state;
    set_policy(POLICY_OCTO);
    json_t *out = response("list_issues", "{\"owner\":\"octo\",\"repo\":\"demo\"}", mixed_issues);
    assert_int_equal(json_array_size(json_object_get(out, "labeled_paths")), 9);
    assert_null(json_object_get(out, "items_path")); /* a top-level array */
    assert_null(json_object_get(out, "default_labels"));
    static const char *const want[] = {OCTO_APPROVED, OCTO_UNAPPROVED, OCTO_NONE,     OCTO_NONE,    OCTO_NONE,
                                       OCTO_NONE,     OCTO_APPROVED,   OCTO_APPROVED, OCTO_NONE};
    for (size_t i = 0; i < 9; i++) {
        char path[8];
        snprintf(path, sizeof path, "/%zu", i);
        assert_path(out, i, path, "[]", want[i]);
    }
    assert_string_equal(desc_of(path_labels(out, 0)), "list_issues:octo/demo#1");
    json_decref(out);

    /* The same issues from a private repo carry its secrecy; out of scope,
     * its own tags. */
    out = response("list_issues", "{\"owner\":\"octo\",\"repo\":\"secret\"}",
                   "[{\"number\":1,\"author_association\":\"OWNER\",\"user\":{\"login\":\"a\"}}]");
    assert_path(out, 0, "/0", "[\"private:octo\"]", OCTO_APPROVED);
    json_decref(out);
    out = response("list_issues", "{\"owner\":\"other\",\"repo\":\"vault\"}",
                   "[{\"number\":1,\"author_association\":\"OWNER\",\"user\":{\"login\":\"a\"}}]");
    assert_path(out, 0, "/0", "[\"private:other/vault\"]", TAGS3("other/vault"));
    json_decref(out);
}

static void test_trusted_users_and_bots_are_approved(void **state)
{
    (void)state;
    set_policy("{\"allow-only\":{\"repos\":[\"octo/*\"],\"min-integrity\":\"approved\",\"trusted-users\":[\"Alice\"]},"
               "\"trusted-bots\":[\"helper-bot[bot]\"]}");
    json_t *out = response(
        "list_issues", "{\"owner\":\"octo\",\"repo\":\"demo\"}",
        "[" ISSUE(1, "alice", "NONE") "," ISSUE(2, "helper-bot[bot]", "FIRST_TIMER") "," ISSUE(3, "dependabot[bot]",
                                                                                                "NONE") ","
        ISSUE(4, "github-actions[bot]", "CONTRIBUTOR") "," ISSUE(5, "Copilot", "NONE") "," ISSUE(6, "mallory", "NONE") ","
        "{\"number\":7,\"user\":{\"login\":\"alice\"}}]");
    for (size_t i = 0; i < 5; i++)
        assert_tags(json_object_get(path_labels(out, i), "integrity"), OCTO_APPROVED);
    assert_tags(json_object_get(path_labels(out, 5), "integrity"), OCTO_NONE);
    assert_tags(json_object_get(path_labels(out, 6), "integrity"), OCTO_APPROVED);
    json_decref(out);
    /* GraphQL spells it author.login; trusted-users may also sit at the top level. */
    set_policy("{\"allow-only\":{\"repos\":[\"octo/*\"],\"min-integrity\":\"approved\"},\"trusted-users\":[\"bob\"]}");
    out = response("list_issues", "{\"owner\":\"octo\",\"repo\":\"demo\"}",
                   "{\"data\":{\"repository\":{\"issues\":{\"nodes\":[{\"number\":1,\"author\":{\"login\":\"BOB\"},"
                   "\"authorAssociation\":\"NONE\"},{\"number\":2,\"author\":{\"login\":\"alice\"},"
                   "\"authorAssociation\":\"NONE\"}]}}}}");
    assert_tags(json_object_get(path_labels(out, 0), "integrity"), OCTO_APPROVED);
    assert_tags(json_object_get(path_labels(out, 1), "integrity"), OCTO_NONE); /* no longer trusted */
    json_decref(out);
}

static void test_search_results_are_labelled_by_their_own_repo(void **state)
{
    (void)state;
    set_policy(POLICY_OCTO);
    json_t *out = response(
        "search_issues", "{\"query\":\"is:open\"}",
        "{\"total_count\":3,\"incomplete_results\":false,\"items\":["
        "{\"number\":1,\"repository_url\":\"https://api.github.com/repos/octo/demo\",\"author_association\":\"OWNER\"},"
        "{\"number\":2,\"repository_url\":\"https://api.github.com/repos/other/vault\",\"author_association\":\"OWNER\"},"
        "{\"number\":3,\"repository_url\":\"https://api.github.com/repos/octo/secret\",\"author_association\":"
        "\"CONTRIBUTOR\"},{\"number\":4,\"repository_url\":\"ftp://elsewhere\"}]}");
    assert_string_equal(json_string_value(json_object_get(out, "items_path")), "/items");
    assert_path(out, 0, "/items/0", "[]", OCTO_APPROVED);
    assert_path(out, 1, "/items/1", "[\"private:other/vault\"]", TAGS3("other/vault"));
    assert_path(out, 2, "/items/2", "[\"private:octo\"]", OCTO_UNAPPROVED);
    assert_path(out, 3, "/items/3", "[\"private\"]", "[]"); /* an unreadable repo reference */
    assert_string_equal(desc_of(path_labels(out, 1)), "search_issues:other/vault#2");
    json_decref(out);

    /* search_code: a "repository" object with its own private flag (no lookup). */
    int calls = backend_calls;
    out = response("search_code", "{\"query\":\"foo\"}",
                   "{\"total_count\":2,\"items\":[{\"path\":\"a.c\",\"repository\":{\"full_name\":\"zed/hidden\","
                   "\"private\":true}},{\"path\":\"b.c\",\"repository\":{\"full_name\":\"octo/open\",\"private\":false}}]}");
    assert_path(out, 0, "/items/0", "[\"private:zed/hidden\"]", TAGS3("zed/hidden"));
    assert_path(out, 1, "/items/1", "[]", OCTO_APPROVED);
    json_decref(out);

    /* search_repositories: every item is a repository. */
    out = response("search_repositories", "{\"query\":\"stars:>1\"}",
                   "{\"total_count\":3,\"items\":[{\"full_name\":\"octo/newrepo\",\"private\":true,"
                   "\"owner\":{\"login\":\"octo\"}},{\"full_name\":\"zed/open\",\"private\":false},{\"name\":\"x\"}]}");
    assert_path(out, 0, "/items/0", "[\"private:octo\"]", OCTO_APPROVED);
    assert_path(out, 1, "/items/1", "[]", TAGS3("zed/open"));
    assert_path(out, 2, "/items/2", "[\"private\"]", "[]");
    json_decref(out);
    assert_int_equal(backend_calls, calls);
}

static void test_graphql_collections(void **state)
{
    (void)state;
    set_policy(POLICY_OCTO);
    json_t *out = response("list_issues", "{\"owner\":\"octo\",\"repo\":\"demo\"}",
                           "{\"data\":{\"repository\":{\"issues\":{\"totalCount\":2,\"nodes\":["
                           "{\"number\":1,\"author\":{\"login\":\"x\"},\"authorAssociation\":\"OWNER\"},"
                           "{\"number\":2,\"author\":{\"login\":\"y\"},\"authorAssociation\":\"NONE\"}]}}}}");
    assert_string_equal(json_string_value(json_object_get(out, "items_path")), "/data/repository/issues/nodes");
    assert_path(out, 0, "/data/repository/issues/nodes/0", "[]", OCTO_APPROVED);
    assert_path(out, 1, "/data/repository/issues/nodes/1", "[]", OCTO_NONE);
    json_decref(out);
    static const char *const fields[] = {"pullRequests", "discussions", "discussionCategories"};
    for (size_t i = 0; i < 3; i++) {
        out = call_jsonf(label_response,
                         "{\"tool_args\":{\"owner\":\"octo\",\"repo\":\"demo\"},\"tool_name\":\"list_discussions\","
                         "\"tool_result\":{\"data\":{\"repository\":{\"%s\":{\"nodes\":[{\"name\":\"n\"}]}}}}}",
                         fields[i]);
        char want[96];
        snprintf(want, sizeof want, "/data/repository/%s/nodes", fields[i]);
        assert_string_equal(json_string_value(json_object_get(out, "items_path")), want);
        json_decref(out);
    }
    out = response("search_issues", "{\"query\":\"x\"}",
                   "{\"data\":{\"search\":{\"nodes\":[{\"number\":1,\"authorAssociation\":\"MEMBER\","
                   "\"repository\":{\"nameWithOwner\":\"octo/secret\",\"isPrivate\":true}}]}}}");
    assert_string_equal(json_string_value(json_object_get(out, "items_path")), "/data/search/nodes");
    assert_path(out, 0, "/data/search/nodes/0", "[\"private:octo\"]", OCTO_APPROVED);
    json_decref(out);
    /* A single GraphQL object is labelled from the inner object. */
    out = response("issue_read", "{\"owner\":\"octo\",\"repo\":\"demo\"}",
                   "{\"data\":{\"repository\":{\"issue\":{\"number\":9,\"authorAssociation\":\"CONTRIBUTOR\"}}}}");
    assert_int_equal(json_array_size(json_object_get(out, "labeled_paths")), 0);
    assert_tags(json_object_get(json_object_get(out, "default_labels"), "integrity"), OCTO_UNAPPROVED);
    assert_string_equal(desc_of(json_object_get(out, "default_labels")), "issue_read:octo/demo#9");
    json_decref(out);
}

static void test_single_objects_label_the_whole_result(void **state)
{
    (void)state;
    set_policy(POLICY_OCTO);
    json_t *out = response("issue_read", "{\"owner\":\"octo\",\"repo\":\"secret\",\"issue_number\":42}",
                           "{\"number\":42,\"user\":{\"login\":\"a\"},\"author_association\":\"OWNER\"}");
    assert_int_equal(json_array_size(json_object_get(out, "labeled_paths")), 0);
    assert_null(json_object_get(out, "items_path"));
    json_t *d = json_object_get(out, "default_labels");
    assert_string_equal(desc_of(d), "issue_read:octo/secret#42");
    assert_tags(json_object_get(d, "secrecy"), "[\"private:octo\"]");
    assert_tags(json_object_get(d, "integrity"), OCTO_APPROVED);
    json_decref(out);
    out = response("issue_read", "{\"owner\":\"octo\",\"repo\":\"demo\"}",
                   "{\"number\":3,\"user\":{\"login\":\"m\"},\"author_association\":\"NONE\"}");
    assert_tags(json_object_get(json_object_get(out, "default_labels"), "integrity"), OCTO_NONE);
    json_decref(out);
    /* Repository content is merged; authorless metadata approved. */
    out = response("get_repository", "{\"owner\":\"octo\",\"repo\":\"demo\"}",
                   "{\"full_name\":\"octo/demo\",\"private\":false,\"owner\":{\"login\":\"octo\"}}");
    assert_tags(json_object_get(json_object_get(out, "default_labels"), "integrity"), OCTO_MERGED);
    json_decref(out);
    out = response("list_commits", "{\"owner\":\"octo\",\"repo\":\"demo\"}",
                   "[{\"sha\":\"abc\",\"author\":{\"login\":\"x\"},\"commit\":{\"message\":\"m\"}}]");
    assert_path(out, 0, "/0", "[]", OCTO_MERGED);
    json_decref(out);
    out = response("get_file_contents", "{\"owner\":\"octo\",\"repo\":\"secret\",\"path\":\"a\"}",
                   "{\"type\":\"file\",\"content\":\"aGVsbG8K\",\"encoding\":\"base64\"}");
    assert_tags(json_object_get(json_object_get(out, "default_labels"), "secrecy"), "[\"private:octo\"]");
    assert_tags(json_object_get(json_object_get(out, "default_labels"), "integrity"), OCTO_MERGED);
    json_decref(out);
    out = response("list_label", "{\"owner\":\"octo\",\"repo\":\"demo\"}", "[{\"name\":\"bug\"}]");
    assert_path(out, 0, "/0", "[]", OCTO_APPROVED);
    json_decref(out);
    out = response("get_me", "{}", "{\"login\":\"me\"}");
    assert_tags(json_object_get(json_object_get(out, "default_labels"), "secrecy"), "[]");
    assert_tags(json_object_get(json_object_get(out, "default_labels"), "integrity"), OCTO_APPROVED);
    json_decref(out);
}

static void test_mcp_wrapped_results_get_the_same_labels(void **state)
{
    (void)state;
    set_policy(POLICY_OCTO);
    json_t *raw = response("list_issues", "{\"owner\":\"octo\",\"repo\":\"demo\"}", mixed_issues);
    json_t *text = json_string(mixed_issues);
    char *enc = json_dumps(text, JSON_ENCODE_ANY);
    json_decref(text);
    char wrapped[16384];
    snprintf(wrapped, sizeof wrapped, "{\"content\":[{\"type\":\"text\",\"text\":%s}],\"isError\":false}", enc);
    free(enc);
    json_t *out = response("list_issues", "{\"owner\":\"octo\",\"repo\":\"demo\"}", wrapped);
    assert_true(json_equal(raw, out));
    json_decref(out);
    json_decref(raw);
    /* The host concatenates every text item (spec: guard-abi §2.4 step 1). */
    out = response("list_issues", "{\"owner\":\"octo\",\"repo\":\"demo\"}",
                   "{\"content\":[{\"type\":\"text\",\"text\":\"[{\\\"number\\\":1,\\\"author_association\\\":"
                   "\\\"OWNER\\\"},\"},{\"type\":\"image\",\"data\":\"x\"},{\"type\":\"text\",\"text\":\"{\\\"number\\\":2}]\"}]}");
    assert_int_equal(json_array_size(json_object_get(out, "labeled_paths")), 2);
    assert_path(out, 0, "/0", "[]", OCTO_APPROVED);
    assert_path(out, 1, "/1", "[]", OCTO_APPROVED); /* no author at all */
    json_decref(out);
    /* A wrapped search envelope keeps its items_path. */
    out = response("search_issues", "{}",
                   "{\"content\":[{\"type\":\"text\",\"text\":\"{\\\"total_count\\\":0,\\\"items\\\":[]}\"}]}");
    assert_string_equal(json_string_value(json_object_get(out, "items_path")), "/items");
    assert_int_equal(json_array_size(json_object_get(out, "labeled_paths")), 0);
    json_decref(out);
}

static void test_response_gives_no_labels_for_what_it_cannot_read(void **state)
{
    (void)state;
    set_policy(POLICY_OCTO);
    const char *results[] = {
        "\"plain text\"",
        "42",
        "null",
        "{\"content\":[{\"type\":\"text\",\"text\":\"not json\"}],\"isError\":true}",
        "{\"data\":{\"viewer\":{\"login\":\"x\"}}}",
        "{\"data\":{\"repository\":{\"issue\":null}}}",
    };
    char in[512];
    for (size_t i = 0; i < sizeof results / sizeof results[0]; i++) {
        snprintf(in, sizeof in, "{\"tool_args\":{},\"tool_name\":\"list_issues\",\"tool_result\":%s}", results[i]);
        if (call_rc(label_response, in) != 0)
            fail_msg("labelled %s", results[i]);
    }
    assert_int_equal(call_rc(label_response, "{\"tool_name\":\"list_issues\"}"), 0);
    assert_int_equal(call_rc(label_response, "not json"), -1);
    assert_int_equal(call_rc(label_response, "{\"tool_result\":[]}"), -1);
}

static void test_big_responses_use_the_minus_two_protocol(void **state)
{
    (void)state;
    set_policy(POLICY_OCTO);
    char *in = malloc(1 << 20);
    size_t n = (size_t)sprintf(in, "{\"tool_args\":{\"owner\":\"octo\",\"repo\":\"demo\"},\"tool_name\":\"list_issues\","
                                   "\"tool_result\":[");
    for (int i = 0; i < 500; i++)
        n += (size_t)sprintf(in + n, "%s{\"number\":%d,\"author_association\":\"OWNER\"}", i ? "," : "", i + 1);
    strcpy(in + n, "]}");
    char *out;
    assert_int_equal(guard_call(label_response, in, 4096, &out), -2);
    uint32_t need = (uint32_t)(unsigned char)out[0] | (uint32_t)(unsigned char)out[1] << 8 |
                    (uint32_t)(unsigned char)out[2] << 16 | (uint32_t)(unsigned char)out[3] << 24;
    free(out);
    assert_true(need > 4096);
    assert_int_equal(guard_call(label_response, in, (int32_t)need, &out), (int32_t)need);
    json_t *v = json_loads(out, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(v, "labeled_paths")), 500);
    assert_path(v, 499, "/499", "[]", OCTO_APPROVED);
    json_decref(v);
    free(out);
    free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_without_a_policy_every_repo_is_out_of_scope),
        cmocka_unit_test(test_agent_labels_for_each_scope_form),
        cmocka_unit_test(test_agent_keys_and_levels_ignore_case),
        cmocka_unit_test(test_agent_rejects_bad_policies_and_keeps_the_last_good_one),
        cmocka_unit_test(test_agent_output_uses_the_minus_two_protocol),
        cmocka_unit_test(test_reads_of_in_scope_repos),
        cmocka_unit_test(test_reads_of_out_of_scope_repos_carry_their_own_tags),
        cmocka_unit_test(test_unknown_visibility_is_private_and_not_cached),
        cmocka_unit_test(test_visibility_is_cached),
        cmocka_unit_test(test_visibility_cache_is_bounded),
        cmocka_unit_test(test_big_backend_answers_are_retried_with_the_hint),
        cmocka_unit_test(test_non_repo_reads_are_public_with_the_policy_token),
        cmocka_unit_test(test_writes_require_integrity_and_carry_no_secrecy),
        cmocka_unit_test(test_unknown_and_blocked_tools_are_writes_nobody_may_make),
        cmocka_unit_test(test_resource_secrecy_follows_the_policy_scope_form),
        cmocka_unit_test(test_resource_rejects_bad_input),
        cmocka_unit_test(test_rest_issue_list_is_labelled_item_by_item),
        cmocka_unit_test(test_trusted_users_and_bots_are_approved),
        cmocka_unit_test(test_search_results_are_labelled_by_their_own_repo),
        cmocka_unit_test(test_graphql_collections),
        cmocka_unit_test(test_single_objects_label_the_whole_result),
        cmocka_unit_test(test_mcp_wrapped_results_get_the_same_labels),
        cmocka_unit_test(test_response_gives_no_labels_for_what_it_cannot_read),
        cmocka_unit_test(test_big_responses_use_the_minus_two_protocol),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
