/*
 * test_proxy_route — proxy mode's request mapper (proxy_route.h, spec:
 * gateway §6): every REST route row with its exact tool and arguments, the
 * rows whose order matters, what matches nothing, the path helpers, and the
 * GraphQL patterns with their owner/repo extraction. Expected values are
 * upstream's (gh-aw-mcpg internal/proxy router.go, graphql.go and their
 * tests).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/proxy_route.h"

/* ---- helpers ---------------------------------------------------------- */

/* Asserts that `path` maps to `tool` with exactly the arguments `args`
 * (JSON text), or, with tool NULL, that it maps to nothing. */
static void expect_rest(const char *path, const char *tool, const char *args)
{
    gw_route_match_t m = {0};
    bool ok = gw_proxy_match_rest(path, &m);
    if (!tool) {
        if (ok)
            fail_msg("%s: expected no route, got %s", path, m.tool);
        assert_null(m.tool);
        assert_null(m.args);
        return;
    }
    if (!ok)
        fail_msg("%s: expected %s, got no route", path, tool);
    if (strcmp(m.tool, tool) != 0)
        fail_msg("%s: expected tool %s, got %s", path, tool, m.tool);
    json_t *want = json_loads(args, 0, NULL);
    assert_non_null(want);
    if (!json_equal(want, m.args)) {
        char *got = json_dumps(m.args, JSON_SORT_KEYS | JSON_COMPACT);
        fail_msg("%s: expected args %s, got %s", path, args, got ? got : "(null)");
    }
    json_decref(want);
    gw_route_match_free(&m);
    assert_null(m.args);
    assert_null(m.tool);
}

/* A GraphQL request body: {"query": query, "variables": <vars JSON>}. */
static char *gql_body(const char *query, const char *vars)
{
    json_t *body = json_pack("{s:s}", "query", query);
    assert_non_null(body);
    if (vars) {
        json_t *v = json_loads(vars, JSON_DECODE_ANY, NULL);
        assert_non_null(v);
        json_object_set_new(body, "variables", v);
    }
    char *s = json_dumps(body, JSON_COMPACT);
    assert_non_null(s);
    json_decref(body);
    return s;
}

/* Asserts what a raw body maps to, as expect_rest does. */
static void expect_gql_body(const char *body, size_t len, const char *tool, const char *args)
{
    gw_route_match_t m = {0};
    bool ok = gw_proxy_match_graphql(body, len, &m);
    if (!tool) {
        if (ok)
            fail_msg("%.200s: expected no match, got %s", body, m.tool);
        assert_null(m.tool);
        assert_null(m.args);
        return;
    }
    if (!ok)
        fail_msg("%.200s: expected %s, got no match", body, tool);
    if (strcmp(m.tool, tool) != 0)
        fail_msg("%.200s: expected tool %s, got %s", body, tool, m.tool);
    json_t *want = json_loads(args, 0, NULL);
    assert_non_null(want);
    if (!json_equal(want, m.args)) {
        char *got = json_dumps(m.args, JSON_SORT_KEYS | JSON_COMPACT);
        fail_msg("%.200s: expected args %s, got %s", body, args, got ? got : "(null)");
    }
    json_decref(want);
    gw_route_match_free(&m);
}

/* The same for a query and its variables (NULL: none). */
static void expect_gql(const char *query, const char *vars, const char *tool, const char *args)
{
    char *body = gql_body(query, vars);
    expect_gql_body(body, strlen(body), tool, args);
    free(body);
}

#define OR "\"owner\":\"octo\",\"repo\":\"hello\""

/* ---- REST: every row -------------------------------------------------- */

static void test_rest_issue_routes(void **state)
{
    (void)state;
    expect_rest("/repos/octo/hello/issues/42/comments", "issue_read",
                "{" OR ",\"issue_number\":\"42\",\"method\":\"get_comments\"}");
    expect_rest("/repos/octo/hello/issues/42/labels", "issue_read",
                "{" OR ",\"issue_number\":\"42\",\"method\":\"get_labels\"}");
    expect_rest("/repos/octo/hello/issues/42", "issue_read", "{" OR ",\"issue_number\":\"42\"}");
    expect_rest("/repos/octo/hello/issues", "list_issues", "{" OR "}");
}

static void test_rest_pull_request_routes(void **state)
{
    (void)state;
    expect_rest("/repos/octo/hello/pulls/7/files", "pull_request_read",
                "{" OR ",\"pullNumber\":\"7\",\"method\":\"get_files\"}");
    expect_rest("/repos/octo/hello/pulls/7/reviews", "pull_request_read",
                "{" OR ",\"pullNumber\":\"7\",\"method\":\"get_reviews\"}");
    expect_rest("/repos/octo/hello/pulls/7/comments", "pull_request_read",
                "{" OR ",\"pullNumber\":\"7\",\"method\":\"get_review_comments\"}");
    expect_rest("/repos/octo/hello/pulls/7", "pull_request_read", "{" OR ",\"pullNumber\":\"7\",\"method\":\"get\"}");
    expect_rest("/repos/octo/hello/pulls", "list_pull_requests", "{" OR "}");
}

static void test_rest_commit_branch_tag_release_routes(void **state)
{
    (void)state;
    expect_rest("/repos/octo/hello/commits/abc123", "get_commit", "{" OR ",\"sha\":\"abc123\"}");
    expect_rest("/repos/octo/hello/commits", "list_commits", "{" OR "}");
    expect_rest("/repos/octo/hello/branches", "list_branches", "{" OR "}");
    expect_rest("/repos/octo/hello/git/ref/tags/v2.0.0-beta.1", "get_tag", "{" OR ",\"tag\":\"v2.0.0-beta.1\"}");
    expect_rest("/repos/octo/hello/tags", "list_tags", "{" OR "}");
    expect_rest("/repos/octo/hello/releases/latest", "get_latest_release", "{" OR "}");
    expect_rest("/repos/octo/hello/releases/tags/v1.0.0", "get_release_by_tag", "{" OR ",\"tag\":\"v1.0.0\"}");
    expect_rest("/repos/octo/hello/releases", "list_releases", "{" OR "}");
}

static void test_rest_contents_and_label_routes(void **state)
{
    (void)state;
    expect_rest("/repos/octo/hello/contents/README.md", "get_file_contents", "{" OR ",\"path\":\"README.md\"}");
    expect_rest("/repos/octo/hello/git/trees/main", "get_file_contents", "{" OR ",\"path\":\"main\"}");
    expect_rest("/repos/octo/hello/labels/bug", "get_label", "{" OR ",\"name\":\"bug\"}");
    expect_rest("/repos/octo/hello/labels", "list_label", "{" OR "}");
}

static void test_rest_actions_routes(void **state)
{
    (void)state;
    const char *base = "/repos/octo/hello/actions";
    struct {
        const char *sub, *tool, *args;
    } cases[] = {
        {"/workflows", "actions_list", "{" OR ",\"method\":\"list_workflows\"}"},
        {"/workflows/ci.yml/runs", "actions_list",
         "{" OR ",\"method\":\"list_workflow_runs\",\"resource_id\":\"ci.yml\"}"},
        {"/workflows/42", "actions_get", "{" OR ",\"method\":\"get_workflow\",\"resource_id\":\"42\"}"},
        {"/runs/100/attempts/2/jobs", "actions_list",
         "{" OR ",\"method\":\"list_workflow_jobs\",\"resource_id\":\"100\"}"},
        {"/runs/100/attempts/2/logs", "get_job_logs", "{" OR ",\"run_id\":\"100\"}"},
        {"/runs/100/logs", "get_job_logs", "{" OR ",\"run_id\":\"100\"}"},
        {"/runs/100/artifacts", "actions_list",
         "{" OR ",\"method\":\"list_workflow_run_artifacts\",\"resource_id\":\"100\"}"},
        {"/runs/12345", "actions_get", "{" OR ",\"method\":\"get_workflow_run\",\"resource_id\":\"12345\"}"},
        {"/runs", "actions_list", "{" OR ",\"method\":\"list_workflow_runs\"}"},
        {"/jobs/99", "actions_get", "{" OR ",\"method\":\"get_workflow_job\",\"resource_id\":\"99\"}"},
        {"/artifacts", "actions_list", "{" OR ",\"method\":\"list_workflow_run_artifacts\"}"},
        {"/caches", "actions_list", "{" OR ",\"method\":\"list_caches\"}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s%s", base, cases[i].sub);
        expect_rest(path, cases[i].tool, cases[i].args);
    }
}

static void test_rest_secret_and_variable_routes_pass_no_names(void **state)
{
    (void)state;
    expect_rest("/repos/octo/hello/actions/secrets", "actions_list", "{" OR ",\"method\":\"list_secrets\"}");
    expect_rest("/repos/octo/hello/actions/variables", "actions_list", "{" OR ",\"method\":\"list_variables\"}");
    /* upstream quirk: one variable is a listing too, its name not passed */
    expect_rest("/repos/octo/hello/actions/variables/FOO", "actions_list", "{" OR ",\"method\":\"list_variables\"}");
    expect_rest("/repos/octo/hello/environments/prod/secrets", "actions_list",
                "{" OR ",\"method\":\"list_environment_config\"}");
    expect_rest("/repos/octo/hello/environments/prod/variables", "actions_list",
                "{" OR ",\"method\":\"list_environment_config\"}");
    /* org scope: the org is the owner, there is no repo */
    expect_rest("/orgs/acme/actions/secrets", "actions_list", "{\"owner\":\"acme\",\"method\":\"list_org_config\"}");
    expect_rest("/orgs/acme/actions/variables", "actions_list", "{\"owner\":\"acme\",\"method\":\"list_org_config\"}");
    expect_rest("/orgs/acme/actions/secrets/NPM_TOKEN", "actions_list",
                "{\"owner\":\"acme\",\"method\":\"list_org_config\"}");
    expect_rest("/orgs/acme/actions/variables/FOO", "actions_list",
                "{\"owner\":\"acme\",\"method\":\"list_org_config\"}");
}

static void test_rest_secret_and_variable_near_misses(void **state)
{
    (void)state;
    /* no row for one repository secret: the generic fallback takes it */
    expect_rest("/repos/octo/hello/actions/secrets/TOKEN", "get_file_contents", "{" OR "}");
    expect_rest("/repos/octo/hello/actions/variables/FOO/x", "get_file_contents", "{" OR "}");
    expect_rest("/repos/octo/hello/environments/prod/deployments", "get_file_contents", "{" OR "}");
    expect_rest("/orgs/acme/actions/secrets/A/B", NULL, NULL);
    expect_rest("/orgs/acme/actions/caches", NULL, NULL);
    expect_rest("/orgs/acme/actions/secrets/", NULL, NULL);
    expect_rest("/orgs/acme", NULL, NULL);
}

static void test_rest_user_notification_and_search_routes(void **state)
{
    (void)state;
    expect_rest("/notifications", "list_notifications", "{}");
    expect_rest("/user", "get_me", "{}");
    expect_rest("/user/keys", "get_me", "{}");
    expect_rest("/user/ssh_signing_keys", "get_me", "{}");
    expect_rest("/user/gpg_keys", "get_me", "{}");
    expect_rest("/search/code", "search_code", "{}");
    expect_rest("/search/issues", "search_issues", "{}");
    expect_rest("/search/repositories", "search_repositories", "{}");
}

static void test_rest_discussion_and_check_routes(void **state)
{
    (void)state;
    expect_rest("/repos/octo/hello/discussions", "list_discussions", "{" OR "}");
    expect_rest("/repos/octo/hello/discussions/5/comments", "get_discussion_comments",
                "{" OR ",\"discussion_number\":\"5\"}");
    expect_rest("/repos/octo/hello/discussions/5", "list_discussions", "{" OR ",\"discussion_number\":\"5\"}");
    expect_rest("/repos/octo/hello/commits/abc123/check-runs", "pull_request_read",
                "{" OR ",\"sha\":\"abc123\",\"method\":\"get_check_runs\"}");
    expect_rest("/repos/octo/hello/commits/abc123/check-suites", "pull_request_read",
                "{" OR ",\"sha\":\"abc123\",\"method\":\"get_check_runs\"}");
}

static void test_rest_generic_repository_fallbacks(void **state)
{
    (void)state;
    expect_rest("/repos/octo/hello", "get_repository", "{" OR "}");
    expect_rest("/repos/octo/hello/unknown-endpoint", "get_file_contents", "{" OR "}");
    expect_rest("/repos/octo/hello/statuses/abc123", "get_file_contents", "{" OR "}");
    expect_rest("/repos/octo/hello/", "get_file_contents", "{" OR "}");
}

/* ---- REST: order, placeholders, non-matches --------------------------- */

static void test_rest_more_specific_rows_win_by_order(void **state)
{
    (void)state;
    expect_rest("/repos/o/r/issues/5/comments", "issue_read",
                "{\"owner\":\"o\",\"repo\":\"r\",\"issue_number\":\"5\",\"method\":\"get_comments\"}");
    expect_rest("/repos/o/r/issues/5", "issue_read", "{\"owner\":\"o\",\"repo\":\"r\",\"issue_number\":\"5\"}");
    /* "latest" as a release, but a tag of that name under tags/ */
    expect_rest("/repos/o/r/releases/latest", "get_latest_release", "{\"owner\":\"o\",\"repo\":\"r\"}");
    expect_rest("/repos/o/r/releases/tags/latest", "get_release_by_tag",
                "{\"owner\":\"o\",\"repo\":\"r\",\"tag\":\"latest\"}");
    /* commits/{sha} takes one segment only, so check-runs reaches its row */
    expect_rest("/repos/o/r/commits/abc/check-runs", "pull_request_read",
                "{\"owner\":\"o\",\"repo\":\"r\",\"sha\":\"abc\",\"method\":\"get_check_runs\"}");
    expect_rest("/repos/o/r/commits/check-runs", "get_commit", "{\"owner\":\"o\",\"repo\":\"r\",\"sha\":\"check-runs\"}");
    expect_rest("/repos/o/r/commits/abc/statuses", "get_file_contents", "{\"owner\":\"o\",\"repo\":\"r\"}");
    expect_rest("/repos/o/r/actions/workflows/7/runs", "actions_list",
                "{\"owner\":\"o\",\"repo\":\"r\",\"method\":\"list_workflow_runs\",\"resource_id\":\"7\"}");
    expect_rest("/repos/o/r/actions/runs/1/attempts/2/logs", "get_job_logs",
                "{\"owner\":\"o\",\"repo\":\"r\",\"run_id\":\"1\"}");
    /* the bare repository is not the generic sub-path fallback */
    expect_rest("/repos/o/r", "get_repository", "{\"owner\":\"o\",\"repo\":\"r\"}");
    expect_rest("/repos/o/r/x", "get_file_contents", "{\"owner\":\"o\",\"repo\":\"r\"}");
}

static void test_rest_rest_of_path_keeps_slashes(void **state)
{
    (void)state;
    expect_rest("/repos/o/r/contents/src/gateway/proxy.c", "get_file_contents",
                "{\"owner\":\"o\",\"repo\":\"r\",\"path\":\"src/gateway/proxy.c\"}");
    expect_rest("/repos/o/r/git/ref/tags/release/v1", "get_tag", "{\"owner\":\"o\",\"repo\":\"r\",\"tag\":\"release/v1\"}");
    expect_rest("/repos/o/r/labels/kind/bug", "get_label", "{\"owner\":\"o\",\"repo\":\"r\",\"name\":\"kind/bug\"}");
    expect_rest("/repos/o/r/contents/dir/", "get_file_contents", "{\"owner\":\"o\",\"repo\":\"r\",\"path\":\"dir/\"}");
    /* a decoded space is just a character */
    expect_rest("/repos/o/r/labels/good first issue", "get_label",
                "{\"owner\":\"o\",\"repo\":\"r\",\"name\":\"good first issue\"}");
}

static void test_rest_digits_required_where_upstream_has_d(void **state)
{
    (void)state;
    /* not issue_read: the repository fallback, without the number */
    expect_rest("/repos/o/r/issues/abc", "get_file_contents", "{\"owner\":\"o\",\"repo\":\"r\"}");
    expect_rest("/repos/o/r/issues/4a2/comments", "get_file_contents", "{\"owner\":\"o\",\"repo\":\"r\"}");
    expect_rest("/repos/o/r/pulls/-1", "get_file_contents", "{\"owner\":\"o\",\"repo\":\"r\"}");
    expect_rest("/repos/o/r/actions/runs/abc/logs", "get_file_contents", "{\"owner\":\"o\",\"repo\":\"r\"}");
    expect_rest("/repos/o/r/actions/runs/1/attempts/x/jobs", "get_file_contents", "{\"owner\":\"o\",\"repo\":\"r\"}");
    expect_rest("/repos/o/r/discussions/\xd9\xa3", "get_file_contents", "{\"owner\":\"o\",\"repo\":\"r\"}");
    /* workflow ids are any segment (file names) */
    expect_rest("/repos/o/r/actions/workflows/ci.yml", "actions_get",
                "{\"owner\":\"o\",\"repo\":\"r\",\"method\":\"get_workflow\",\"resource_id\":\"ci.yml\"}");
}

static void test_rest_unknown_paths_match_nothing(void **state)
{
    (void)state;
    const char *paths[] = {
        "/gists", "/gists/abc", "/users/octocat", "/users/octocat/repos", "/user/emails", "/user/repos",
        "/search/commits", "/search", "/orgs/acme/repos", "/repos", "/repos/octo", "/", "", "/meta",
        "repos/o/r/issues", "/notifications/1", "/Repos/o/r", "/REPOS/o/r/issues", "/repositories/1",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        expect_rest(paths[i], NULL, NULL);
}

static void test_rest_empty_segments_never_match_placeholders(void **state)
{
    (void)state;
    expect_rest("/repos//r/issues", NULL, NULL);
    expect_rest("/repos/o//issues", NULL, NULL);
    expect_rest("/repos//", NULL, NULL);
    expect_rest("//repos/o/r", NULL, NULL);
    expect_rest("/user//keys", NULL, NULL);
    expect_rest("/orgs//actions/secrets", NULL, NULL);
    /* a word row needs its exact segments, so the fallback takes these */
    expect_rest("/repos/o/r/issues//comments", "get_file_contents", "{\"owner\":\"o\",\"repo\":\"r\"}");
    expect_rest("/repos/o/r/issues/5/", "get_file_contents", "{\"owner\":\"o\",\"repo\":\"r\"}");
    expect_rest("/repos/o/r/commits//check-runs", "get_file_contents", "{\"owner\":\"o\",\"repo\":\"r\"}");
    /* the rest of a path may not start with an empty segment */
    expect_rest("/repos/o/r/contents//etc/passwd", "get_file_contents", "{\"owner\":\"o\",\"repo\":\"r\"}");
    expect_rest("/repos/o/r/contents/", "get_file_contents", "{\"owner\":\"o\",\"repo\":\"r\"}");
}

static void test_rest_trailing_slash_is_not_the_same_route(void **state)
{
    (void)state;
    expect_rest("/repos/o/r/issues/", "get_file_contents", "{\"owner\":\"o\",\"repo\":\"r\"}");
    expect_rest("/repos/o/r/actions/variables/", "get_file_contents", "{\"owner\":\"o\",\"repo\":\"r\"}");
    expect_rest("/user/", NULL, NULL);
    expect_rest("/search/code/", NULL, NULL);
    expect_rest("/notifications/", NULL, NULL);
}

static void test_rest_query_string_is_ignored(void **state)
{
    (void)state;
    expect_rest("/repos/o/r/issues?state=open&per_page=10", "list_issues", "{\"owner\":\"o\",\"repo\":\"r\"}");
    expect_rest("/repos/o/r?x=1", "get_repository", "{\"owner\":\"o\",\"repo\":\"r\"}");
    expect_rest("/search/issues?q=repo:o/r+is:open", "search_issues", "{}");
    expect_rest("/repos/o/r/contents/a.md?ref=main", "get_file_contents",
                "{\"owner\":\"o\",\"repo\":\"r\",\"path\":\"a.md\"}");
    expect_rest("/user?", "get_me", "{}");
    expect_rest("?/user", NULL, NULL);
    expect_rest("/gists?x=/user", NULL, NULL);
}

static void test_rest_newline_ends_what_dot_matches(void **state)
{
    (void)state;
    /* Go's '.' stops at '\n' (the rest of a path), [^/] does not */
    expect_rest("/repos/o/r/contents/a\nb", NULL, NULL);
    expect_rest("/repos/o/r/x\ny", NULL, NULL);
    expect_rest("/repos/o\n/r", "get_repository", "{\"owner\":\"o\\n\",\"repo\":\"r\"}");
}

static void test_rest_invalid_utf8_becomes_replacement_characters(void **state)
{
    (void)state;
    expect_rest("/repos/o\xff/r", "get_repository", "{\"owner\":\"o\\ufffd\",\"repo\":\"r\"}");
    expect_rest("/repos/\xc0\xaf/r", "get_repository", "{\"owner\":\"\\ufffd\\ufffd\",\"repo\":\"r\"}");
    expect_rest("/repos/\xed\xa0\x80/r", "get_repository", "{\"owner\":\"\\ufffd\\ufffd\\ufffd\",\"repo\":\"r\"}");
    expect_rest("/repos/o/r/contents/\xe2\x82", "get_file_contents",
                "{\"owner\":\"o\",\"repo\":\"r\",\"path\":\"\\ufffd\\ufffd\"}");
    expect_rest("/repos/\xc3\xb6/r\xf0\x9f\x90\x99", "get_repository",
                "{\"owner\":\"\xc3\xb6\",\"repo\":\"r\xf0\x9f\x90\x99\"}");
}

static void test_rest_very_long_paths(void **state)
{
    (void)state;
    size_t n = 1 << 20;
    char *p = malloc(n + 64);
    assert_non_null(p);

    strcpy(p, "/repos/o/r/contents/");
    size_t at = strlen(p);
    for (; at < n; at += 2)
        memcpy(p + at, "a/", 2);
    memcpy(p + at, "z", 2);
    gw_route_match_t m = {0};
    assert_true(gw_proxy_match_rest(p, &m));
    assert_string_equal(m.tool, "get_file_contents");
    const char *path = json_string_value(json_object_get(m.args, "path"));
    assert_non_null(path);
    assert_int_equal(strlen(path), strlen(p) - strlen("/repos/o/r/contents/"));
    gw_route_match_free(&m);

    memset(p, '/', n);
    p[n] = '\0';
    assert_false(gw_proxy_match_rest(p, &m));

    memcpy(p, "/repos/", 7);
    memset(p + 7, 'x', n - 7);
    memcpy(p + n, "/r/issues/1", 12);
    assert_true(gw_proxy_match_rest(p, &m));
    assert_string_equal(m.tool, "issue_read");
    const char *owner = json_string_value(json_object_get(m.args, "owner"));
    assert_non_null(owner);
    assert_int_equal(strlen(owner), n - 7);
    gw_route_match_free(&m);
    free(p);
}

static void test_rest_null_arguments_are_refused(void **state)
{
    (void)state;
    gw_route_match_t m = {.tool = "stale"};
    assert_false(gw_proxy_match_rest(NULL, &m));
    assert_null(m.tool);
    assert_false(gw_proxy_match_rest("/user", NULL));
    gw_route_match_free(NULL);
    gw_route_match_free(&m);
}

/* ---- path helpers ----------------------------------------------------- */

static void test_strip_prefix(void **state)
{
    (void)state;
    const char *p = "/api/v3/repos/o/r/issues";
    assert_ptr_equal(gw_proxy_strip_prefix(p), p + 7);
    assert_string_equal(gw_proxy_strip_prefix("/api/v3/user"), "/user");
    assert_string_equal(gw_proxy_strip_prefix("/api/v3/graphql"), "/graphql");
    assert_string_equal(gw_proxy_strip_prefix("/api/v3"), "/");
    assert_string_equal(gw_proxy_strip_prefix("/api/v3/"), "/");
    const char *unchanged[] = {"/repos/o/r/issues", "/user", "/api/v3x", "/api/v4/user", "/API/V3/user",
                               "/api/graphql", "api/v3/user", "", "/"};
    for (size_t i = 0; i < sizeof unchanged / sizeof unchanged[0]; i++)
        assert_ptr_equal(gw_proxy_strip_prefix(unchanged[i]), unchanged[i]);
    assert_null(gw_proxy_strip_prefix(NULL));
}

static void test_graphql_path_forms(void **state)
{
    (void)state;
    const char *yes[] = {"/graphql", "/graphql/", "/api/graphql", "/api/graphql/", "/api/v3/graphql",
                         "/api/v3/graphql/"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (!gw_proxy_is_graphql_path(yes[i]))
            fail_msg("%s should be a GraphQL path", yes[i]);
    const char *no[] = {"/graphql//", "/graphqlx", "/GraphQL", "graphql", "/x/graphql", "/api/v4/graphql",
                        "/repos/o/r", "/user", "/", "", "/graphql?x=1"};
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (gw_proxy_is_graphql_path(no[i]))
            fail_msg("%s should not be a GraphQL path", no[i]);
    assert_false(gw_proxy_is_graphql_path(NULL));
}

static void test_metadata_paths(void **state)
{
    (void)state;
    const char *yes[] = {"/meta", "/rate_limit", "/octocat", "/zen", "/versions"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        assert_true(gw_proxy_is_metadata_path(yes[i]));
    const char *no[] = {"/meta/", "/meta/x", "/Meta", "/emojis", "/user", "/api/v3/meta", "/zenx", "", "/"};
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (gw_proxy_is_metadata_path(no[i]))
            fail_msg("%s should not be a metadata path", no[i]);
    assert_false(gw_proxy_is_metadata_path(NULL));
}

/* ---- GraphQL: patterns ------------------------------------------------ */

#define REPO_Q(body) "query { repository(owner: \"octo\", name: \"hello\") { " body " } }"

static void test_graphql_introspection(void **state)
{
    (void)state;
    expect_gql("query Issue_fields{Issue: __type(name: \"Issue\"){fields(includeDeprecated: true){name}}}", NULL,
               "graphql_introspection", "{}");
    expect_gql("query { __schema { types { name } } }", NULL, "graphql_introspection", "{}");
    expect_gql("{__SCHEMA{queryType{name}}}", NULL, "graphql_introspection", "{}");
    expect_gql("{ x: __type\n (name: \"Repo\") { name } }", NULL, "graphql_introspection", "{}");
    /* \b after __schema; __type needs its '(' */
    expect_gql("{ __schemata { x } }", NULL, NULL, NULL);
    expect_gql("{ __typename }", NULL, NULL, NULL);
    /* introspection comes first, whatever else the query holds */
    expect_gql(REPO_Q("issue(number: 1) { title } __typename") " __type(name: \"X\") { name }", NULL,
               "graphql_introspection", "{\"owner\":\"octo\",\"repo\":\"hello\"}");
}

static void test_graphql_repository_patterns(void **state)
{
    (void)state;
    const char *args = "{\"owner\":\"octo\",\"repo\":\"hello\"}";
    struct {
        const char *body, *tool;
    } cases[] = {
        {"issue(number: 1) { title body }", "issue_read"},
        {"issues(first: 10) { nodes { title } }", "list_issues"},
        {"issues { totalCount }", "list_issues"},
        {"pullRequest(number: 1) { title }", "pull_request_read"},
        {"pullRequests(first: 10) { nodes { title } }", "list_pull_requests"},
        {"pullRequests { totalCount }", "list_pull_requests"},
        {"discussion(number: 1) { title }", "list_discussions"},
        {"discussions(first: 10) { nodes { title } }", "list_discussions"},
        {"discussions { totalCount }", "list_discussions"},
        {"discussionCategories(first: 10) { nodes { name } }", "list_discussion_categories"},
        {"discussionCategories { totalCount }", "list_discussion_categories"},
        {"description stargazerCount defaultBranchRef { name }", "get_file_contents"},
        {"readme: object(expression: \"HEAD:README.md\") { ... on Blob { text } }", "get_file_contents"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char q[512];
        snprintf(q, sizeof q, "query { repository(owner: \"octo\", name: \"hello\") { %s } }", cases[i].body);
        expect_gql(q, NULL, cases[i].tool, args);
    }
}

static void test_graphql_top_level_patterns(void **state)
{
    (void)state;
    expect_gql("query { search(query: \"is:issue\", type: ISSUE, first: 10) { nodes { ... on Issue { title } } } }",
               NULL, "search_issues", "{}");
    expect_gql("query { node(id: \"PVT_abc\") { ... on ProjectV2 { title } } }", NULL, "list_projects", "{}");
    expect_gql("query { viewer { projectv2(number: 1) { title } } }", NULL, "list_projects", "{}");
    expect_gql("query { viewer { login name email } }", NULL, "get_me", "{}");
    expect_gql("query { organization(login: \"github\") { name } }", NULL, "search_orgs", "{}");
    expect_gql("query { repository(owner: \"octo\", name: \"hello\") { id } }", NULL, "get_file_contents",
               "{\"owner\":\"octo\",\"repo\":\"hello\"}");
}

static void test_graphql_singular_is_tried_before_plural(void **state)
{
    (void)state;
    const char *args = "{\"owner\":\"octo\",\"repo\":\"hello\"}";
    expect_gql(REPO_Q("issue(number: 1) { title } issues(first: 1) { totalCount }"), NULL, "issue_read", args);
    expect_gql(REPO_Q("pullRequests(first: 1) pullRequest(number: 2) { title }"), NULL, "pull_request_read", args);
    expect_gql(REPO_Q("discussions(first: 1) discussion(number: 2) { title }"), NULL, "list_discussions", args);
    expect_gql(REPO_Q("discussionCategories(first: 1) discussions(first: 2) { id }"), NULL, "list_discussions", args);
    /* "issues(" is not "issue(": the '(' must follow the word */
    expect_gql(REPO_Q("issues(first: 1) { totalCount }"), NULL, "list_issues", args);
    /* issues before pull requests, whatever their place in the query */
    expect_gql(REPO_Q("pullRequests(first: 1) issues(first: 1) { totalCount }"), NULL, "list_issues", args);
}

static void test_graphql_term_must_be_in_the_first_block(void **state)
{
    (void)state;
    const char *args = "{\"owner\":\"octo\",\"repo\":\"hello\"}";
    /* the block ends at its first '}', so issue( after it does not count */
    expect_gql(REPO_Q("issues(first: 1) { totalCount } issue(number: 1) { title }"), NULL, "list_issues", args);
    expect_gql(REPO_Q("labels { totalCount } issues(first: 1) { totalCount }"), NULL, "get_file_contents", args);
    expect_gql("query { repository(owner: \"octo\", name: \"hello\") { id } issues(first: 1) { x } }", NULL,
               "get_file_contents", args);
    /* a word boundary before the term */
    expect_gql(REPO_Q("myissue(number: 1) { title }"), NULL, "get_file_contents", args);
    expect_gql(REPO_Q("x_issues { title }"), NULL, "get_file_contents", args);
    /* the block must follow the head's first ')' */
    expect_gql("query { repository(owner: \"o\", name: \"r\") x { issue(number: 1) { title } } }", NULL,
               "get_file_contents", "{\"owner\":\"o\",\"repo\":\"r\"}");
    /* upstream quirk: no boundary before the head itself */
    expect_gql("query { myrepository(id: 1) { issue(number: 1) { title } } }", NULL, "issue_read", "{}");
    /* a later head can still match after an earlier one did not */
    expect_gql("query { a: repository(owner: \"o\", name: \"r\") { id } b: repository(owner: \"p\", name: \"q\") "
               "{ pullRequest(number: 1) { id } } }",
               NULL, "pull_request_read", "{\"owner\":\"o\",\"repo\":\"r\"}");
}

static void test_graphql_patterns_ignore_case(void **state)
{
    (void)state;
    expect_gql("QUERY { REPOSITORY(OWNER: \"O\", NAME: \"R\") { PULLREQUEST(NUMBER: 1) { TITLE } } }", NULL,
               "pull_request_read", "{\"owner\":\"O\",\"repo\":\"R\"}");
    expect_gql("{ Viewer { login } }", NULL, "get_me", "{}");
    expect_gql("{ SEARCH(query: \"x\") { issueCount } }", NULL, "search_issues", "{}");
    expect_gql("{ Organization(login: \"x\") { id } }", NULL, "search_orgs", "{}");
}

static void test_graphql_whitespace_is_gos_backslash_s(void **state)
{
    (void)state;
    expect_gql("query{repository\n\t(owner:\"o\",name:\"r\")\r\n\f{\n issue \n(number:1){title}}}", NULL,
               "issue_read", "{\"owner\":\"o\",\"repo\":\"r\"}");
    expect_gql("{ viewer\n\n{ login } }", NULL, "get_me", "{}");
    /* \v is not in Go's \s */
    expect_gql("{ viewer\v{ login } }", NULL, NULL, NULL);
    expect_gql("{ repository\v(owner: \"o\", name: \"r\") { issue(number: 1) { id } } }", NULL, NULL, NULL);
}

static void test_graphql_word_boundaries(void **state)
{
    (void)state;
    expect_gql("{ research(x: 1) { id } }", NULL, NULL, NULL);
    expect_gql("{ theviewer { id } }", NULL, NULL, NULL);
    expect_gql("{ suborganization(login: \"x\") { id } }", NULL, NULL, NULL);
    expect_gql("{ -search(query: \"x\") { id } }", NULL, "search_issues", "{}");
    expect_gql("{ a:viewer { id } }", NULL, "get_me", "{}");
}

static void test_graphql_unmatched_queries(void **state)
{
    (void)state;
    expect_gql("query { rateLimit { remaining } }", NULL, NULL, NULL);
    expect_gql("query { node(id: \"I_abc\") { id } }", NULL, NULL, NULL);
    expect_gql("query { user(login: \"octocat\") { name } }", NULL, NULL, NULL);
    expect_gql("query { repository { id } }", NULL, NULL, NULL);
    expect_gql("mutation { addStar(input: {starrableId: \"x\"}) { clientMutationId } }", NULL, NULL, NULL);
}

/* ---- GraphQL: owner and repo ------------------------------------------ */

static void test_graphql_owner_repo_from_variables(void **state)
{
    (void)state;
    const char *q = "query($owner: String!, $name: String!) { repository(owner: $owner, name: $name) { "
                    "issues(first: 1) { nodes { title } } } }";
    expect_gql(q, "{\"owner\":\"github\",\"name\":\"copilot\"}", "list_issues",
               "{\"owner\":\"github\",\"repo\":\"copilot\"}");
    expect_gql(q, "{\"owner\":\"org\",\"repo\":\"myrepo\"}", "list_issues", "{\"owner\":\"org\",\"repo\":\"myrepo\"}");
    /* name over repo */
    expect_gql(q, "{\"owner\":\"org\",\"name\":\"by-name\",\"repo\":\"by-repo\"}", "list_issues",
               "{\"owner\":\"org\",\"repo\":\"by-name\"}");
    /* variables win over query literals */
    expect_gql(REPO_Q("issues { totalCount }"), "{\"owner\":\"v-owner\",\"name\":\"v-name\"}", "list_issues",
               "{\"owner\":\"v-owner\",\"repo\":\"v-name\"}");
    expect_gql("{ search(query: \"is:issue\") { issueCount } }", "{\"owner\":\"myorg\"}", "search_issues",
               "{\"owner\":\"myorg\"}");
    expect_gql("{ viewer { login } }", "null", "get_me", "{}");
}

static void test_graphql_owner_repo_from_query_literals(void **state)
{
    (void)state;
    expect_gql("query { repository(owner: \"fallback-org\", name: \"fallback-repo\") { issues { totalCount } } }",
               NULL, "list_issues", "{\"owner\":\"fallback-org\",\"repo\":\"fallback-repo\"}");
    /* no comma, odd spacing */
    expect_gql("{repository( owner :\"a\"  name : \"b\" ){id}}", NULL, "get_file_contents",
               "{\"owner\":\"a\",\"repo\":\"b\"}");
    /* mixed: a literal fills only what the variables lack */
    expect_gql("query { repository(owner: \"github\", name: $name) { issues { totalCount } } }",
               "{\"name\":\"copilot\"}", "list_issues", "{\"owner\":\"github\",\"repo\":\"copilot\"}");
    expect_gql("query { repository(owner: $owner, name: \"my-repo\") { issues { totalCount } } }",
               "{\"owner\":\"my-org\"}", "list_issues", "{\"owner\":\"my-org\",\"repo\":\"my-repo\"}");
    /* non-string or empty variables do not count */
    expect_gql("query { repository(owner: \"typed-org\", name: \"typed-repo\") { issues { totalCount } } }",
               "{\"owner\":42,\"name\":true,\"repo\":\"\"}", "list_issues",
               "{\"owner\":\"typed-org\",\"repo\":\"typed-repo\"}");
    expect_gql(REPO_Q("id"), "{\"owner\":\"\"}", "get_file_contents", "{\"owner\":\"octo\",\"repo\":\"hello\"}");
}

static void test_graphql_dollar_variables_are_not_values(void **state)
{
    (void)state;
    expect_gql("query { repository(owner: $owner, name: $name) { issues { totalCount } } }", NULL, "list_issues",
               "{}");
    /* the leftmost head decides, even when it names only variables */
    expect_gql("query { a: repository(owner: $o, name: $n) { id } b: repository(owner: \"x\", name: \"y\") { id } }",
               NULL, "get_file_contents", "{}");
    /* a head whose arguments do not fit is skipped for the next */
    expect_gql("query { a: repository(name: \"n\", owner: \"o\") { id } b: repository(owner: \"x\", name: \"y\") "
               "{ id } }",
               NULL, "get_file_contents", "{\"owner\":\"x\",\"repo\":\"y\"}");
    /* upstream's $\w+ gives back a trailing "name" (regex backtracking) */
    expect_gql("query { repository(owner: $ownername: \"r\") { id } }", NULL, "get_file_contents", "{\"repo\":\"r\"}");
    expect_gql("query { repository(owner: $name: \"r\") { id } }", NULL, "get_file_contents", "{}");
}

static void test_graphql_owner_repo_from_inline_json(void **state)
{
    (void)state;
    expect_gql("query { search(query: \"is:issue\") { issueCount } } \"owner\": \"inline-org\"", NULL,
               "search_issues", "{\"owner\":\"inline-org\"}");
    expect_gql("query { search(query: \"is:issue\") { issueCount } } \"repo\": \"inline-repo\"", NULL,
               "search_issues", "{\"repo\":\"inline-repo\"}");
    expect_gql("query { search(query: \"is:issue\") { issueCount } } \"OWNER\" :\n\"io\" \"Name\":\"ir\"", NULL,
               "search_issues", "{\"owner\":\"io\",\"repo\":\"ir\"}");
    /* the leftmost of name and repo */
    expect_gql("{ viewer { login } } \"repo\": \"first\" \"name\": \"second\"", NULL, "get_me",
               "{\"repo\":\"first\"}");
    /* empty values are no values */
    expect_gql("{ viewer { login } } \"owner\": \"\" \"owner\": \"later\"", NULL, "get_me", "{\"owner\":\"later\"}");
    /* variables still come first */
    expect_gql("{ viewer { login } } \"owner\": \"inline\"", "{\"owner\":\"var\"}", "get_me", "{\"owner\":\"var\"}");
}

/* ---- GraphQL: bodies that are refused --------------------------------- */

static void test_graphql_bad_bodies_are_refused(void **state)
{
    (void)state;
    const char *bodies[] = {
        "not json",
        "",
        "null",
        "[{\"query\":\"{ viewer { login } }\"}]",
        "\"{ viewer { login } }\"",
        "{}",
        "{\"query\":\"\"}",
        "{\"query\":null}",
        "{\"query\":5}",
        "{\"query\":[\"{ viewer { login } }\"]}",
        "{\"Query\":\"{ viewer { login } }\"}",
        "{\"query\":\"{ viewer { login } }\",\"variables\":[1]}",
        "{\"query\":\"{ viewer { login } }\",\"variables\":\"x\"}",
        "{\"query\":\"{ viewer { login } }\"} trailing",
        "{\"query\":\"{ viewer \xff{ login } }\"}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
        expect_gql_body(bodies[i], strlen(bodies[i]), NULL, NULL);

    gw_route_match_t m = {.tool = "stale"};
    assert_false(gw_proxy_match_graphql(NULL, 0, &m));
    assert_null(m.tool);
    const char *good = "{\"query\":\"{ viewer { login } }\"}";
    assert_false(gw_proxy_match_graphql(good, strlen(good), NULL));
}

static void test_graphql_body_length_is_respected(void **state)
{
    (void)state;
    const char *body = "{\"query\":\"{ viewer { login } }\"}GARBAGE";
    expect_gql_body(body, strlen(body) - 7, "get_me", "{}");
    expect_gql_body(body, strlen(body), NULL, NULL);
    /* a NUL inside the query string is data (Go accepts it) */
    const char nul[] = "{\"query\":\"\\u0000 { viewer { login } }\"}";
    expect_gql_body(nul, sizeof nul - 1, "get_me", "{}");
    expect_gql("{ viewer { login } }", "{\"variables\":null,\"x\":[1,2]}", "get_me", "{}");
    const char *named = "{\"query\":\"{ viewer { login } }\",\"variables\":null,\"operationName\":\"Q\"}";
    expect_gql_body(named, strlen(named), "get_me", "{}");
}

/* Builds a query of `count` copies of `unit` and returns its body. */
static char *repeated_query(const char *unit, size_t count, const char *tail)
{
    size_t un = strlen(unit), tn = strlen(tail);
    char *q = malloc(un * count + tn + 1);
    assert_non_null(q);
    for (size_t i = 0; i < count; i++)
        memcpy(q + i * un, unit, un);
    memcpy(q + un * count, tail, tn + 1);
    char *body = gql_body(q, NULL);
    free(q);
    return body;
}

static void test_graphql_huge_adversarial_queries(void **state)
{
    (void)state;
    /* Each would make a backtracking or per-start regex search quadratic:
     * heads with no ')', heads sharing one ')', blocks sharing one '}'. */
    struct {
        const char *unit, *tail, *tool;
    } cases[] = {
        {"repository(", "", "get_file_contents"},
        {"repository(x ", ") { id }", "get_file_contents"},
        {"repository(x) { ", " issues { x }", "list_issues"},
        {"repository(x) {\n", "", "get_file_contents"},
        {"repository(owner:\"", "", "get_file_contents"},
        {"\"owner\":\"", " viewer { x }", "get_me"},
        {"repository(owner: $a ", "", "get_file_contents"},
        {"issue ", "", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *body = repeated_query(cases[i].unit, (size_t)(4 << 20) / strlen(cases[i].unit), cases[i].tail);
        gw_route_match_t m = {0};
        bool ok = gw_proxy_match_graphql(body, strlen(body), &m);
        if (cases[i].tool) {
            if (!ok)
                fail_msg("case %zu: expected %s", i, cases[i].tool);
            assert_string_equal(m.tool, cases[i].tool);
        } else {
            assert_false(ok);
        }
        gw_route_match_free(&m);
        free(body);
    }
}

/* ---- threads ---------------------------------------------------------- */

static void *match_many(void *arg)
{
    (void)arg;
    const char *body = "{\"query\":\"query { repository(owner: \\\"o\\\", name: \\\"r\\\") { issue(number: 1) { id "
                       "} } }\"}";
    for (int i = 0; i < 2000; i++) {
        gw_route_match_t m = {0};
        if (!gw_proxy_match_rest("/repos/o/r/pulls/3/files", &m) || strcmp(m.tool, "pull_request_read") ||
            strcmp(json_string_value(json_object_get(m.args, "pullNumber")), "3"))
            return (void *)1;
        gw_route_match_free(&m);
        if (!gw_proxy_match_graphql(body, strlen(body), &m) || strcmp(m.tool, "issue_read") ||
            strcmp(json_string_value(json_object_get(m.args, "repo")), "r"))
            return (void *)1;
        gw_route_match_free(&m);
    }
    return NULL;
}

static void test_concurrent_matching(void **state)
{
    (void)state;
    pthread_t t[8];
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&t[i], NULL, match_many, NULL), 0);
    for (size_t i = 0; i < 8; i++) {
        void *ret;
        assert_int_equal(pthread_join(t[i], &ret), 0);
        assert_null(ret);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rest_issue_routes),
        cmocka_unit_test(test_rest_pull_request_routes),
        cmocka_unit_test(test_rest_commit_branch_tag_release_routes),
        cmocka_unit_test(test_rest_contents_and_label_routes),
        cmocka_unit_test(test_rest_actions_routes),
        cmocka_unit_test(test_rest_secret_and_variable_routes_pass_no_names),
        cmocka_unit_test(test_rest_secret_and_variable_near_misses),
        cmocka_unit_test(test_rest_user_notification_and_search_routes),
        cmocka_unit_test(test_rest_discussion_and_check_routes),
        cmocka_unit_test(test_rest_generic_repository_fallbacks),
        cmocka_unit_test(test_rest_more_specific_rows_win_by_order),
        cmocka_unit_test(test_rest_rest_of_path_keeps_slashes),
        cmocka_unit_test(test_rest_digits_required_where_upstream_has_d),
        cmocka_unit_test(test_rest_unknown_paths_match_nothing),
        cmocka_unit_test(test_rest_empty_segments_never_match_placeholders),
        cmocka_unit_test(test_rest_trailing_slash_is_not_the_same_route),
        cmocka_unit_test(test_rest_query_string_is_ignored),
        cmocka_unit_test(test_rest_newline_ends_what_dot_matches),
        cmocka_unit_test(test_rest_invalid_utf8_becomes_replacement_characters),
        cmocka_unit_test(test_rest_very_long_paths),
        cmocka_unit_test(test_rest_null_arguments_are_refused),
        cmocka_unit_test(test_strip_prefix),
        cmocka_unit_test(test_graphql_path_forms),
        cmocka_unit_test(test_metadata_paths),
        cmocka_unit_test(test_graphql_introspection),
        cmocka_unit_test(test_graphql_repository_patterns),
        cmocka_unit_test(test_graphql_top_level_patterns),
        cmocka_unit_test(test_graphql_singular_is_tried_before_plural),
        cmocka_unit_test(test_graphql_term_must_be_in_the_first_block),
        cmocka_unit_test(test_graphql_patterns_ignore_case),
        cmocka_unit_test(test_graphql_whitespace_is_gos_backslash_s),
        cmocka_unit_test(test_graphql_word_boundaries),
        cmocka_unit_test(test_graphql_unmatched_queries),
        cmocka_unit_test(test_graphql_owner_repo_from_variables),
        cmocka_unit_test(test_graphql_owner_repo_from_query_literals),
        cmocka_unit_test(test_graphql_dollar_variables_are_not_values),
        cmocka_unit_test(test_graphql_owner_repo_from_inline_json),
        cmocka_unit_test(test_graphql_bad_bodies_are_refused),
        cmocka_unit_test(test_graphql_body_length_is_respected),
        cmocka_unit_test(test_graphql_huge_adversarial_queries),
        cmocka_unit_test(test_concurrent_matching),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
