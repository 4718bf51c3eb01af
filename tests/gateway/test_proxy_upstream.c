/*
 * test_proxy_upstream — proxy mode's GitHub client (proxy_internal.h)
 * against an API served in-process by libmicrohttpd: where the upstream URL
 * comes from (spec §1.7), which credentials go out, the REST calls behind a
 * guard's call_backend (paths, escaping of guard-supplied values, status
 * handling) and the headers kept for the client.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/proxy_internal.h"

/* What the fake API saw last. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char last_uri[1024], last_auth[256], last_method[16];
static struct MHD_Daemon *daemon_;
static char base_url[128];

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls, (void)c;
    pthread_mutex_lock(&mu);
    snprintf(last_uri, sizeof last_uri, "%s", uri);
    pthread_mutex_unlock(&mu);
    return NULL;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                              const char *version, const char *data, size_t *size, void **con_cls)
{
    (void)cls, (void)version, (void)data;
    if (!*con_cls) { /* first call: headers only */
        *con_cls = (void *)1;
        return MHD_YES;
    }
    if (*size) {
        *size = 0;
        return MHD_YES;
    }
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    pthread_mutex_lock(&mu);
    snprintf(last_auth, sizeof last_auth, "%s", auth ? auth : "(none)");
    snprintf(last_method, sizeof last_method, "%s", method);
    pthread_mutex_unlock(&mu);
    int status = 200;
    const char *body = "{\"ok\":true}";
    if (strstr(url, "/missing"))
        status = 404, body = "{\"message\":\"Not Found\"}";
    else if (strstr(url, "/repos/pub/lic"))
        body = "{\"visibility\":\"public\",\"private\":false}";
    else if (strstr(url, "/repos/priv/x"))
        body = "{\"visibility\":\"private\",\"private\":true}";
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "X-RateLimit-Remaining", "41");
    MHD_add_response_header(r, "X-Unrelated", "dropped");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static int setup(void **state)
{
    (void)state;
    daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL,
                               answer, NULL, MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL, MHD_OPTION_END);
    assert_non_null(daemon_);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(base_url, sizeof base_url, "http://127.0.0.1:%u", (unsigned)info->port);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    MHD_stop_daemon(daemon_);
    return 0;
}

static int clear_env(void **state)
{
    (void)state;
    const char *vars[] = {"GITHUB_API_URL", "GITHUB_SERVER_URL", "GITHUB_MCP_SERVER_TOKEN", "GITHUB_TOKEN",
                          "GITHUB_PERSONAL_ACCESS_TOKEN", "GH_TOKEN"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
    return 0;
}

static void expect_urls(const char *flag, const char *api, const char *graphql)
{
    gw_upstream_t u;
    assert_true(gw_upstream_init(&u, flag, NULL, NULL));
    assert_string_equal(u.api_url, api);
    assert_string_equal(u.graphql_url, graphql);
    gw_upstream_free(&u);
}

static void test_api_url_resolution(void **state)
{
    (void)state;
    expect_urls(NULL, "https://api.github.com", "https://api.github.com/graphql");
    expect_urls("http://127.0.0.1:9/", "http://127.0.0.1:9", "http://127.0.0.1:9/graphql");
    setenv("GITHUB_SERVER_URL", "https://github.com", 1);
    expect_urls(NULL, "https://api.github.com", "https://api.github.com/graphql");
    setenv("GITHUB_SERVER_URL", "https://acme.ghe.com/", 1);
    expect_urls(NULL, "https://api.acme.ghe.com", "https://api.acme.ghe.com/graphql");
    /* GitHub Enterprise Server: REST under /api/v3, GraphQL at /api/graphql. */
    setenv("GITHUB_SERVER_URL", "http://ghes.internal:8080", 1);
    expect_urls(NULL, "http://ghes.internal:8080/api/v3", "http://ghes.internal:8080/api/graphql");
    setenv("GITHUB_API_URL", " https://api.example.test ", 1);
    expect_urls(NULL, "https://api.example.test", "https://api.example.test/graphql");
    expect_urls("https://flag.test", "https://flag.test", "https://flag.test/graphql"); /* flag first */
}

static void test_token_precedence(void **state)
{
    (void)state;
    gw_upstream_t u;
    setenv("GH_TOKEN", "gh", 1);
    setenv("GITHUB_TOKEN", "  ", 1); /* blank: skipped */
    assert_true(gw_upstream_init(&u, NULL, NULL, NULL));
    assert_string_equal(u.token, "gh");
    gw_upstream_free(&u);
    setenv("GITHUB_MCP_SERVER_TOKEN", " mcp ", 1);
    assert_true(gw_upstream_init(&u, NULL, NULL, NULL));
    assert_string_equal(u.token, "mcp");
    gw_upstream_free(&u);
    assert_true(gw_upstream_init(&u, NULL, "flag", NULL));
    assert_string_equal(u.token, "flag");
    gw_upstream_free(&u);
}

static void fetch(gw_upstream_t *u, const char *method, const char *target, const char *auth, gw_upstream_resp_t *r)
{
    gw_upstream_req_t req = {.method = method, .target = target, .client_auth = auth};
    err_t err = {{0}};
    if (!gw_upstream_fetch(u, &req, r, &err))
        fail_msg("%s", err.msg);
}

static void test_fetch_auth_and_headers(void **state)
{
    (void)state;
    gw_upstream_t u;
    assert_true(gw_upstream_init(&u, base_url, "fallback", NULL));
    gw_upstream_resp_t r;
    fetch(&u, "GET", "/repos/a/b/issues?state=open", "Bearer client", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.p, "{\"ok\":true}");
    assert_string_equal(r.headers[GW_UH_RL_REMAINING], "41");
    assert_string_equal(r.headers[GW_UH_CONTENT_TYPE], "application/json");
    assert_null(r.headers[GW_UH_LINK]);
    assert_string_equal(last_uri, "/repos/a/b/issues?state=open");
    assert_string_equal(last_auth, "Bearer client"); /* the client's own credentials win */
    gw_upstream_resp_free(&r);
    fetch(&u, "DELETE", "/repos/a/b/labels/x", NULL, &r);
    assert_string_equal(last_method, "DELETE");
    assert_string_equal(last_auth, "token fallback");
    gw_upstream_resp_free(&r);
    /* GraphQL goes to the GraphQL endpoint. */
    gw_upstream_req_t req = {.method = "POST", .target = "/graphql", .body = "{}", .body_len = 2};
    assert_true(gw_upstream_fetch(&u, &req, &r, NULL));
    assert_string_equal(last_uri, "/graphql");
    assert_string_equal(last_method, "POST");
    gw_upstream_resp_free(&r);
    gw_upstream_free(&u);

    /* No token anywhere and no client credentials: no Authorization. */
    assert_true(gw_upstream_init(&u, base_url, NULL, NULL));
    fetch(&u, "GET", "/x", NULL, &r);
    assert_string_equal(last_auth, "(none)");
    gw_upstream_resp_free(&r);
    gw_upstream_free(&u);
}

static void test_transport_error(void **state)
{
    (void)state;
    gw_upstream_t u;
    assert_true(gw_upstream_init(&u, "http://127.0.0.1:1", NULL, NULL));
    gw_upstream_resp_t r;
    gw_upstream_req_t req = {.method = "GET", .target = "/x"};
    err_t err = {{0}};
    assert_false(gw_upstream_fetch(&u, &req, &r, &err));
    assert_true(strlen(err.msg) > 0);
    assert_null(r.body.p);
    gw_upstream_free(&u);
}

static void call(gw_upstream_t *u, const char *tool, const char *args_json, bool ok, const char *want_uri)
{
    json_t *args = json_loads(args_json, 0, NULL), *res = NULL;
    err_t err = {{0}};
    last_uri[0] = '\0';
    bool got = gw_upstream_call_tool(u, "token client", tool, args, &res, &err);
    json_decref(args);
    if (got != ok)
        fail_msg("%s %s: want %d, got %d (%s)", tool, args_json, ok, got, err.msg);
    if (ok) {
        const char *text = json_string_value(json_object_get(json_array_get(json_object_get(res, "content"), 0), "text"));
        assert_non_null(text);
    }
    if (want_uri)
        assert_string_equal(last_uri, want_uri);
    json_decref(res);
}

static void test_call_backend_paths(void **state)
{
    (void)state;
    gw_upstream_t u;
    assert_true(gw_upstream_init(&u, base_url, "enrich", NULL));
    call(&u, "issue_read", "{\"owner\":\"o\",\"repo\":\"r\",\"issue_number\":7}", true, "/repos/o/r/issues/7");
    assert_string_equal(last_auth, "token enrich"); /* enrichment uses the proxy's token */
    call(&u, "pull_request_read", "{\"owner\":\"o\",\"repo\":\"r\",\"pullNumber\":\"12\"}", true, "/repos/o/r/pulls/12");
    call(&u, "search_repositories", "{\"query\":\"repo:o/r\",\"perPage\":5}", true,
         "/search/repositories?q=repo%3Ao%2Fr&per_page=5");
    call(&u, "search_repositories", "{\"query\":\"repo:o/r\"}", true, "/search/repositories?q=repo%3Ao%2Fr&per_page=10");
    /* A guard-supplied value stays one path segment. */
    call(&u, "issue_read", "{\"owner\":\"../../orgs\",\"repo\":\"r/x\",\"issue_number\":1}", true,
         "/repos/..%2F..%2Forgs/r%2Fx/issues/1");
    /* The collaborator check returns GitHub's answer whatever its status. */
    call(&u, "get_collaborator_permission", "{\"owner\":\"o\",\"repo\":\"missing\",\"username\":\"u\"}", true,
         "/repos/o/missing/collaborators/u/permission");
    /* Other tools fail on an error status... */
    call(&u, "issue_read", "{\"owner\":\"o\",\"repo\":\"missing\",\"issue_number\":1}", false, NULL);
    /* ...and on missing arguments or unknown tools, without a request. */
    call(&u, "issue_read", "{\"owner\":\"o\",\"repo\":\"r\"}", false, "");
    call(&u, "search_repositories", "{}", false, "");
    call(&u, "get_collaborator_permission", "{\"owner\":\"o\",\"repo\":\"r\"}", false, "");
    call(&u, "delete_repository", "{}", false, "");
    gw_upstream_free(&u);
    /* Without a proxy token, the client's credentials. */
    assert_true(gw_upstream_init(&u, base_url, NULL, NULL));
    call(&u, "issue_read", "{\"owner\":\"o\",\"repo\":\"r\",\"issue_number\":1}", true, NULL);
    assert_string_equal(last_auth, "token client");
    gw_upstream_free(&u);
}

static void test_repo_visibility(void **state)
{
    (void)state;
    gw_upstream_t u;
    assert_true(gw_upstream_init(&u, base_url, "t", NULL));
    bool pub = false;
    assert_true(gw_upstream_repo_is_public(&u, "pub/lic", &pub, NULL));
    assert_true(pub);
    assert_true(gw_upstream_repo_is_public(&u, "priv/x", &pub, NULL));
    assert_false(pub);
    err_t err = {{0}};
    assert_false(gw_upstream_repo_is_public(&u, "o/missing", &pub, &err));
    assert_non_null(strstr(err.msg, "404"));
    assert_false(gw_upstream_repo_is_public(&u, "not-a-repo", &pub, &err));
    assert_false(gw_upstream_repo_is_public(&u, "a/b/c", &pub, &err));
    gw_upstream_free(&u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_api_url_resolution, clear_env),
        cmocka_unit_test_setup(test_token_precedence, clear_env),
        cmocka_unit_test_setup(test_fetch_auth_and_headers, clear_env),
        cmocka_unit_test_setup(test_transport_error, clear_env),
        cmocka_unit_test_setup(test_call_backend_paths, clear_env),
        cmocka_unit_test_setup(test_repo_visibility, clear_env),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
