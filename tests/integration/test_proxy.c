/* `flowgate proxy` end to end (spec: gateway §6): the real binary in front
 * of a fake GitHub API (fixtures/fake_github.mjs), with the sample github
 * guard (examples/github-guard) built to wasm.
 *
 * Policy for the shared proxy: repos "octo/<any>" at min-integrity approved,
 * trusted user "trusty", fallback token "fallback-token". The fake's issues
 * are #1 by an OWNER, #2 by a CONTRIBUTOR, #3 by NONE and #4 by NONE but
 * written by the trusted user, so an approved-floor agent may see #1 and #4
 * in octo repositories and nothing in other/pub (out of scope). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

#define POLICY "{\"allow-only\":{\"repos\":[\"octo/*\"],\"min-integrity\":\"approved\"}}"

static fg_proc_t github, proxy;
static int gh_port, px_port;
static char base[128], log_dir[256];

static bool start_github(void)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        int p = fg_free_port();
        char ps[16], script[512];
        snprintf(ps, sizeof ps, "%d", p);
        snprintf(script, sizeof script, "%s/integration/fixtures/fake_github.mjs", fg_tests_dir());
        char *argv[] = {(char *)fg_node_bin(), script, ps, NULL};
        if (!fg_spawn(&github, argv, NULL, NULL, false))
            continue;
        if (fg_wait_port(p, 15000)) {
            gh_port = p;
            return true;
        }
        fg_proc_stop(&github, 1000);
    }
    return false;
}

/* Starts `flowgate proxy` on a free port with the fake as upstream, the
 * github guard and `extra` flags; env_add as fg_spawn takes it. */
static bool start_proxy(fg_proc_t *pr, int *port, const char *dir, const char *const extra[], char *const env_add[])
{
    char api[64], listen[64];
    snprintf(api, sizeof api, "http://127.0.0.1:%d", gh_port);
    for (int attempt = 0; attempt < 3; attempt++) {
        int p = fg_free_port();
        snprintf(listen, sizeof listen, "127.0.0.1:%d", p);
        const char *argv[32] = {fg_flowgate_bin(), "proxy", "--guard-wasm", FG_GITHUB_GUARD, "--github-api-url", api,
                                "--listen", listen, "--log-dir", dir};
        int n = 10;
        for (int i = 0; extra && extra[i] && n < 31; i++)
            argv[n++] = extra[i];
        argv[n] = NULL;
        if (!fg_spawn(pr, (char *const *)argv, env_add, NULL, false))
            continue;
        if (fg_wait_port(p, 30000)) {
            *port = p;
            return true;
        }
        fg_proc_stop(pr, 1000);
    }
    return false;
}

static int setup(void **state)
{
    (void)state;
    assert_true(start_github());
    char *dir = fg_tempdir("proxy-logs");
    snprintf(log_dir, sizeof log_dir, "%s", dir);
    free(dir);
    const char *extra[] = {"--policy", POLICY, "--trusted-users", "trusty", "--github-token", "fallback-token",
                           "--guards-mode", "filter", NULL};
    char *env[] = {"GITHUB_REPOSITORY=", NULL}; /* no force-public lookup */
    assert_true(start_proxy(&proxy, &px_port, log_dir, extra, env));
    snprintf(base, sizeof base, "http://127.0.0.1:%d", px_port);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (proxy.pid > 0)
        fg_proc_stop(&proxy, 5000);
    fg_proc_stop(&github, 2000);
    return 0;
}

/* GET/POST base+path; fails the test unless the status is `status`;
 * returns the parsed body (new ref; NULL when not JSON). */
static json_t *call(const char *method, const char *path, const char *const hdrs[], const char *body, long status,
                    fg_resp_t *keep)
{
    char u[512];
    snprintf(u, sizeof u, "%s%s", base, path);
    fg_resp_t r;
    assert_true(fg_http(method, u, hdrs, body, &r));
    if (r.status != status)
        fail_msg("%s %s: want %ld, got %ld: %s", method, path, status, r.status, r.body ? r.body : "");
    json_t *doc = r.body ? json_loads(r.body, JSON_DECODE_ANY, NULL) : NULL;
    if (keep)
        *keep = r;
    else
        fg_resp_free(&r);
    return doc;
}

/* The numbers of the issues in a JSON array, as "1,4". */
static void numbers(const json_t *arr, char *out, size_t cap)
{
    out[0] = '\0';
    size_t i;
    json_t *it;
    json_array_foreach(arr, i, it) {
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "%s%lld", i ? "," : "", (long long)json_integer_value(json_object_get(it, "number")));
    }
}

/* The requests the fake GitHub has seen whose url starts with `prefix`. */
static json_t *seen_requests(const char *prefix)
{
    char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/__requests", gh_port);
    fg_resp_t r;
    assert_true(fg_http("GET", u, NULL, NULL, &r));
    json_t *all = json_loads(r.body, 0, NULL);
    fg_resp_free(&r);
    assert_non_null(all);
    json_t *out = json_array();
    size_t i;
    json_t *it;
    json_array_foreach(all, i, it) {
        const char *url = json_string_value(json_object_get(it, "url"));
        if (url && !strncmp(url, prefix, strlen(prefix)))
            json_array_append(out, it);
    }
    json_decref(all);
    return out;
}

static void test_health_and_reflect(void **state)
{
    (void)state;
    json_t *h = call("GET", "/health", NULL, NULL, 200, NULL);
    assert_string_equal(json_string_value(json_object_get(h, "status")), "ok");
    json_decref(h);
    h = call("GET", "/healthz", NULL, NULL, 200, NULL);
    assert_string_equal(json_string_value(json_object_get(h, "status")), "ok");
    json_decref(h);
    /* The agent carries the guard's labels for the policy, and the guard's
     * mode (the github guard always answers "filter"). */
    json_t *r = call("GET", "/api/v3/reflect", NULL, NULL, 200, NULL);
    assert_string_equal(json_string_value(json_object_get(r, "mode")), "filter");
    json_t *agent = json_object_get(json_object_get(r, "agents"), "proxy");
    assert_non_null(agent);
    char *sec = json_dumps(json_object_get(agent, "secrecy"), JSON_COMPACT);
    char *integ = json_dumps(json_object_get(agent, "integrity"), JSON_COMPACT);
    assert_string_equal(sec, "[\"private:octo\"]");
    assert_string_equal(integ, "[\"approved:octo\",\"none:octo\",\"unapproved:octo\"]");
    free(sec);
    free(integ);
    json_decref(r);
}

static void test_rest_list_filtered_in_place(void **state)
{
    (void)state;
    const char *h[] = {"Authorization: token client-token", NULL};
    fg_resp_t keep;
    json_t *arr = call("GET", "/repos/octo/demo/issues?state=open", h, NULL, 200, &keep);
    assert_true(json_is_array(arr));
    char nums[64];
    numbers(arr, nums, sizeof nums);
    assert_string_equal(nums, "1,4"); /* CONTRIBUTOR and NONE removed; trusted user kept */
    /* Item fields and GitHub's pagination header survive. */
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "title")), "issue 1");
    char *link = fg_resp_header(&keep, "Link");
    assert_non_null(link);
    assert_non_null(strstr(link, "rel=\"next\""));
    free(link);
    fg_resp_free(&keep);
    json_decref(arr);

    /* The read reached GitHub with the client's credentials and query. */
    json_t *seen = seen_requests("/repos/octo/demo/issues?state=open");
    assert_true(json_array_size(seen) >= 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(seen, 0), "authorization")),
                        "token client-token");
    json_decref(seen);
    /* The guard's visibility lookup went out with the fallback token. */
    seen = seen_requests("/search/repositories?q=repo%3Aocto%2Fdemo");
    assert_true(json_array_size(seen) >= 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(seen, 0), "authorization")),
                        "token fallback-token");
    json_decref(seen);

    /* The same through gh's GH_HOST prefix. */
    arr = call("GET", "/api/v3/repos/octo/demo/issues", NULL, NULL, 200, NULL);
    numbers(arr, nums, sizeof nums);
    assert_string_equal(nums, "1,4");
    json_decref(arr);
}

static void test_filtered_items_are_logged(void **state)
{
    (void)state;
    json_decref(call("GET", "/repos/octo/secret/issues", NULL, NULL, 200, NULL));
    char path[512];
    snprintf(path, sizeof path, "%s/rpc-messages.jsonl", log_dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[8192];
    int filtered = 0;
    while (fgets(line, sizeof line, f)) {
        json_t *rec = json_loads(line, 0, NULL);
        if (rec && !strcmp(json_string_value(json_object_get(rec, "event")) ?: "", "difc_filtered") &&
            !strcmp(json_string_value(json_object_get(rec, "tool_name")) ?: "", "list_issues")) {
            filtered++;
            assert_string_equal(json_string_value(json_object_get(rec, "_schema")), "difc-filtered/v2");
            assert_string_equal(json_string_value(json_object_get(rec, "server_id")), "github");
        }
        json_decref(rec);
    }
    fclose(f);
    assert_true(filtered >= 2);
    /* Proxy mode's files (spec §5.1): proxy.log, not mcp-gateway.log. */
    snprintf(path, sizeof path, "%s/proxy.log", log_dir);
    assert_int_equal(access(path, F_OK), 0);
    snprintf(path, sizeof path, "%s/mcp-gateway.log", log_dir);
    assert_int_not_equal(access(path, F_OK), 0);
    snprintf(path, sizeof path, "%s/tools.json", log_dir);
    assert_int_not_equal(access(path, F_OK), 0);
}

static void test_single_items(void **state)
{
    (void)state;
    json_t *ok = call("GET", "/repos/octo/demo/issues/1", NULL, NULL, 200, NULL);
    assert_int_equal(json_integer_value(json_object_get(ok, "number")), 1);
    json_decref(ok);
    /* An issue the agent may not read is refused, not answered with {}. */
    json_t *e = call("GET", "/repos/octo/demo/issues/3", NULL, NULL, 403, NULL);
    assert_string_equal(json_string_value(json_object_get(e, "error")), "difc_forbidden");
    assert_non_null(strstr(json_string_value(json_object_get(e, "message")), "[Filtered]"));
    json_decref(e);
}

static void test_out_of_scope_repo_yields_nothing(void **state)
{
    (void)state;
    json_t *arr = call("GET", "/repos/other/pub/issues", NULL, NULL, 200, NULL);
    assert_true(json_is_array(arr));
    assert_int_equal(json_array_size(arr), 0);
    json_decref(arr);
}

static void test_search_envelope_kept(void **state)
{
    (void)state;
    json_t *doc = call("GET", "/search/issues?q=repo%3Aocto%2Fdemo+is%3Aopen", NULL, NULL, 200, NULL);
    assert_true(json_is_object(doc));
    assert_int_equal(json_integer_value(json_object_get(doc, "total_count")), 4); /* GitHub's own field */
    char nums[64];
    numbers(json_object_get(doc, "items"), nums, sizeof nums);
    assert_string_equal(nums, "1,4");
    json_decref(doc);
}

static void test_graphql(void **state)
{
    (void)state;
    const char *h[] = {"Content-Type: application/json", NULL};
    const char *q = "{\"query\":\"query($owner:String!,$name:String!){ repository(owner:$owner, name:$name) "
                    "{ issues(first:10) { nodes { number title } } } }\",\"variables\":{\"owner\":\"octo\",\"name\":\"demo\"}}";
    json_t *doc = call("POST", "/graphql", h, q, 200, NULL);
    json_t *issues = json_object_get(json_object_get(json_object_get(doc, "data"), "repository"), "issues");
    assert_int_equal(json_integer_value(json_object_get(issues, "totalCount")), 4);
    char nums[64];
    numbers(json_object_get(issues, "nodes"), nums, sizeof nums);
    assert_string_equal(nums, "1,4");
    json_decref(doc);
    /* gh's GHES path form reaches the same endpoint. */
    doc = call("POST", "/api/graphql", h, q, 200, NULL);
    numbers(json_object_get(json_object_get(json_object_get(json_object_get(doc, "data"), "repository"), "issues"),
                            "nodes"),
            nums, sizeof nums);
    assert_string_equal(nums, "1,4");
    json_decref(doc);

    /* Unknown operations are refused in GraphQL's error shape. */
    doc = call("POST", "/graphql", h, "{\"query\":\"mutation { addStar(input:{}) { clientMutationId } }\"}", 403, NULL);
    assert_true(json_is_null(json_object_get(doc, "data")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(doc, "errors"), 0), "message")),
                        "access denied: unrecognized GraphQL operation");
    json_decref(doc);
    /* Schema introspection carries no repository data: passed through. */
    doc = call("POST", "/graphql", h, "{\"query\":\"{ __schema { queryType { name } } }\"}", 200, NULL);
    assert_non_null(json_object_get(json_object_get(doc, "data"), "__schema"));
    json_decref(doc);
}

static void test_unknown_reads_fail_closed(void **state)
{
    (void)state;
    json_t *e = call("GET", "/gists/public", NULL, NULL, 403, NULL);
    assert_string_equal(json_string_value(json_object_get(e, "error")), "difc_forbidden");
    json_decref(e);
    json_t *seen = seen_requests("/gists");
    assert_int_equal(json_array_size(seen), 0); /* never reached GitHub */
    json_decref(seen);
    /* A dot segment could make GitHub serve another repository than the
     * one labelled: refused before routing. */
    e = call("GET", "/repos/octo/demo//octo/secret/issues", NULL, NULL, 400, NULL);
    json_decref(e);
    e = call("GET", "/repos/octo/demo/%2e%2e/x", NULL, NULL, 400, NULL);
    json_decref(e);
}

static void test_writes_pass_through(void **state)
{
    (void)state;
    const char *h[] = {"Authorization: token writer-token", "Content-Type: application/json", NULL};
    json_t *doc = call("POST", "/repos/octo/demo/issues", h, "{\"title\":\"new\"}", 201, NULL);
    assert_true(json_is_true(json_object_get(doc, "created")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "request"), "title")), "new");
    json_decref(doc);
    json_t *seen = seen_requests("/repos/octo/demo/issues");
    bool found = false;
    size_t i;
    json_t *it;
    json_array_foreach(seen, i, it) {
        if (!strcmp(json_string_value(json_object_get(it, "method")), "POST")) {
            found = true;
            assert_string_equal(json_string_value(json_object_get(it, "authorization")), "token writer-token");
            assert_string_equal(json_string_value(json_object_get(it, "body")), "{\"title\":\"new\"}");
        }
    }
    assert_true(found);
    json_decref(seen);
    /* Without client credentials the fallback token is used. */
    const char *h2[] = {"Content-Type: application/json", NULL};
    json_decref(call("POST", "/repos/other/pub/issues", h2, "{}", 201, NULL));
    seen = seen_requests("/repos/other/pub/issues");
    json_array_foreach(seen, i, it) {
        if (!strcmp(json_string_value(json_object_get(it, "method")), "POST"))
            assert_string_equal(json_string_value(json_object_get(it, "authorization")), "token fallback-token");
    }
    json_decref(seen);
}

static void test_metadata_and_rate_limit(void **state)
{
    (void)state;
    fg_resp_t keep;
    json_t *doc = call("GET", "/rate_limit", NULL, NULL, 200, &keep);
    char *ra = fg_resp_header(&keep, "Retry-After");
    assert_non_null(ra); /* X-RateLimit-Remaining: 0 */
    long secs = strtol(ra, NULL, 10);
    assert_true(secs >= 1 && secs <= 121);
    free(ra);
    fg_resp_free(&keep);
    json_decref(doc);
}

static void test_raw_media_follows_coarse_check(void **state)
{
    (void)state;
    const char *h[] = {"Accept: application/vnd.github.raw", NULL};
    fg_resp_t keep;
    call("GET", "/repos/octo/demo/contents/docs/read%20me.md", h, NULL, 200, &keep);
    assert_string_equal(keep.body, "raw contents of docs/read me.md\n");
    fg_resp_free(&keep);
    /* Out of scope and private: the coarse check denies, and a body no
     * guard can label does not pass. */
    json_t *e = call("GET", "/repos/other/hidden/contents/x", h, NULL, 403, NULL);
    json_decref(e);
}

static void test_startup_errors(void **state)
{
    (void)state;
    char *out = NULL, *err = NULL;
    const char *no_guard[] = {"proxy", "--policy", POLICY, NULL};
    assert_int_equal(fg_run_flowgate(no_guard, NULL, &out, &err, 20000), 1);
    assert_non_null(strstr(err, "required flag(s) \"guard-wasm\" not set"));
    free(out), free(err);

    const char *bad_mode[] = {"proxy", "--guard-wasm", FG_GITHUB_GUARD, "--guards-mode", "loose", NULL};
    assert_int_equal(fg_run_flowgate(bad_mode, NULL, &out, &err, 20000), 1);
    assert_non_null(strstr(err, "invalid --guards-mode flag"));
    free(out), free(err);

    char *dir = fg_tempdir("proxy-bad");
    const char *bad_policy[] = {"proxy", "--guard-wasm", FG_GITHUB_GUARD, "--log-dir", dir, "--listen",
                                "127.0.0.1:0", "--policy", "{\"allow-only\":{\"repos\":\"all\"}}", NULL};
    assert_int_equal(fg_run_flowgate(bad_policy, NULL, &out, &err, 30000), 1);
    assert_non_null(strstr(err, "failed to initialize guard policy"));
    free(out), free(err);

    const char *bad_wasm[] = {"proxy", "--guard-wasm", "/nonexistent/guard.wasm", "--log-dir", dir, NULL};
    assert_int_equal(fg_run_flowgate(bad_wasm, NULL, &out, &err, 30000), 1);
    assert_non_null(strstr(err, "failed to load WASM guard from /nonexistent/guard.wasm"));
    free(out), free(err);

    const char *help[] = {"proxy", "--help", NULL};
    assert_int_equal(fg_run_flowgate(help, NULL, &out, &err, 20000), 0);
    assert_non_null(strstr(out, "--trusted-users"));
    free(out), free(err);
    free(dir);
}

/* Without a policy nothing can be labelled, so reads are refused. */
static void test_no_policy_refuses_reads(void **state)
{
    (void)state;
    fg_proc_t pr = {0};
    int port;
    char *dir = fg_tempdir("proxy-nopolicy");
    char *env[] = {"MCP_GATEWAY_GUARD_POLICY_JSON=", NULL};
    assert_true(start_proxy(&pr, &port, dir, NULL, env));
    char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/repos/octo/demo/issues", port);
    fg_resp_t r;
    assert_true(fg_http("GET", u, NULL, NULL, &r));
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.body, "proxy enforcement not configured"));
    fg_resp_free(&r);
    assert_int_equal(fg_proc_stop(&pr, 5000), 0); /* SIGTERM: clean exit */
    free(dir);
}

/* --tls: a CA and a localhost certificate in --tls-dir; clients that trust
 * the CA connect over HTTPS. */
static void test_tls(void **state)
{
    (void)state;
    fg_proc_t pr = {0};
    int port;
    char *dir = fg_tempdir("proxy-tls");
    char tls_dir[512];
    snprintf(tls_dir, sizeof tls_dir, "%s/certs", dir);
    const char *extra[] = {"--tls", "--tls-dir", tls_dir, "--policy", POLICY, NULL};
    assert_true(start_proxy(&pr, &port, dir, extra, NULL));
    char path[600];
    struct stat st;
    snprintf(path, sizeof path, "%s/server.key", tls_dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(path, sizeof path, "%s/ca.crt", tls_dir);
    assert_int_equal(stat(path, &st), 0);
    fg_http_cainfo = path;
    char u[128];
    snprintf(u, sizeof u, "https://localhost:%d/repos/octo/demo/issues", port);
    fg_resp_t r;
    assert_true(fg_http("GET", u, NULL, NULL, &r));
    assert_int_equal(r.status, 200);
    json_t *arr = json_loads(r.body, 0, NULL);
    assert_int_equal(json_array_size(arr), 1); /* no trusted users on this proxy: only #1 */
    json_decref(arr);
    fg_resp_free(&r);
    fg_http_cainfo = NULL;
    /* Without the CA the certificate is not trusted. */
    assert_false(fg_http("GET", u, NULL, NULL, &r) && r.status == 200);
    fg_resp_free(&r);
    assert_int_equal(fg_proc_stop(&pr, 5000), 0);
    free(dir);
}

int main(void)
{
    /* A workflow repository in the environment would make every proxy
     * started here ask GitHub for its visibility (--force-public-repos). */
    unsetenv("GITHUB_REPOSITORY");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health_and_reflect),
        cmocka_unit_test(test_rest_list_filtered_in_place),
        cmocka_unit_test(test_filtered_items_are_logged),
        cmocka_unit_test(test_single_items),
        cmocka_unit_test(test_out_of_scope_repo_yields_nothing),
        cmocka_unit_test(test_search_envelope_kept),
        cmocka_unit_test(test_graphql),
        cmocka_unit_test(test_unknown_reads_fail_closed),
        cmocka_unit_test(test_writes_pass_through),
        cmocka_unit_test(test_metadata_and_rate_limit),
        cmocka_unit_test(test_raw_media_follows_coarse_check),
        cmocka_unit_test(test_startup_errors),
        cmocka_unit_test(test_no_policy_refuses_reads),
        cmocka_unit_test(test_tls),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
