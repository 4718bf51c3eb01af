/*
 * test_oidc — the OIDC token provider (oidc.h, spec: gateway §3.3) against
 * a token endpoint served in-process by libmicrohttpd on 127.0.0.1: the
 * request it makes, the per-audience cache and its expiry rules, and the
 * errors of a failing endpoint.
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
#include <time.h>

#include "gateway/oidc.h"

/* What the endpoint answers next, and what it saw last. */
typedef struct endpoint {
    pthread_mutex_t mu;
    int status;       /* HTTP status to answer */
    long exp_offset;  /* exp = now + this; 0: a token without exp */
    bool no_value;    /* answer {} */
    int requests;
    char audience[256];
    char auth[256];
    char api_version[32];
} endpoint_t;

static endpoint_t ep = {.mu = PTHREAD_MUTEX_INITIALIZER};
static struct MHD_Daemon *daemon_;
static char base_url[128];

static char *b64url(const char *s)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t n = strlen(s);
    char *o = malloc(n * 4 / 3 + 4), *p = o;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)s[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)(unsigned char)s[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)s[i + 2];
        *p++ = tbl[v >> 18 & 63];
        *p++ = tbl[v >> 12 & 63];
        if (i + 1 < n)
            *p++ = tbl[v >> 6 & 63];
        if (i + 2 < n)
            *p++ = tbl[v & 63];
    }
    *p = '\0';
    return o;
}

/* A JWT-shaped token: {"alg":"none"}.<claims>.sig */
static char *make_jwt(const char *claims)
{
    char *h = b64url("{\"alg\":\"none\"}"), *c = b64url(claims), *out = NULL;
    assert_true(asprintf(&out, "%s.%s.sig", h, c) > 0);
    free(h);
    free(c);
    return out;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                              const char *version, const char *data, size_t *size, void **con_cls)
{
    (void)cls, (void)url, (void)method, (void)version, (void)data, (void)size, (void)con_cls;
    const char *aud = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "audience");
    const char *api = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "api-version");
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    pthread_mutex_lock(&ep.mu);
    ep.requests++;
    snprintf(ep.audience, sizeof ep.audience, "%s", aud ? aud : "(none)");
    snprintf(ep.auth, sizeof ep.auth, "%s", auth ? auth : "(none)");
    snprintf(ep.api_version, sizeof ep.api_version, "%s", api ? api : "(none)");
    char claims[512];
    if (ep.exp_offset)
        snprintf(claims, sizeof claims, "{\"aud\":\"%s\",\"n\":%d,\"exp\":%ld}", ep.audience, ep.requests,
                 (long)time(NULL) + ep.exp_offset);
    else
        snprintf(claims, sizeof claims, "{\"aud\":\"%s\",\"n\":%d}", ep.audience, ep.requests);
    int status = ep.status;
    bool no_value = ep.no_value;
    pthread_mutex_unlock(&ep.mu);
    char *body = NULL;
    if (status != 200) {
        body = strdup("token service down");
    } else if (no_value) {
        body = strdup("{}");
    } else {
        char *jwt = make_jwt(claims);
        assert_true(asprintf(&body, "{\"value\":\"%s\"}", jwt) > 0);
        free(jwt);
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static int setup(void **state)
{
    (void)state;
    daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, answer, NULL,
                               MHD_OPTION_END);
    assert_non_null(daemon_);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(base_url, sizeof base_url, "http://127.0.0.1:%u/token?api-version=2.0", info->port);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    MHD_stop_daemon(daemon_);
    return 0;
}

static void reset(int status, long exp_offset)
{
    pthread_mutex_lock(&ep.mu);
    ep.status = status;
    ep.exp_offset = exp_offset;
    ep.no_value = false;
    ep.requests = 0;
    pthread_mutex_unlock(&ep.mu);
}

static void test_token_request_and_cache_per_audience(void **state)
{
    (void)state;
    reset(200, 3600);
    err_t err = {{0}};
    gw_oidc_t *o = gw_oidc_new(base_url, "req-token", 0, &err);
    assert_non_null(o);
    char *t1 = gw_oidc_token(o, "https://api.example.com/mcp?x=1&y", &err);
    assert_non_null(t1);
    assert_string_equal(ep.audience, "https://api.example.com/mcp?x=1&y"); /* encoded on the way */
    assert_string_equal(ep.auth, "Bearer req-token");
    assert_string_equal(ep.api_version, "2.0"); /* the URL's own query is kept */
    assert_true(gw_oidc_jwt_exp(t1) > (int64_t)time(NULL));
    char *t2 = gw_oidc_token(o, "https://api.example.com/mcp?x=1&y", &err);
    assert_string_equal(t1, t2);
    assert_int_equal(ep.requests, 1);
    char *t3 = gw_oidc_token(o, "other", &err);
    assert_non_null(t3);
    assert_string_not_equal(t1, t3);
    assert_int_equal(ep.requests, 2);
    free(t1);
    free(t2);
    free(t3);
    gw_oidc_free(o);
}

static void test_token_within_a_minute_of_exp_is_fetched_again(void **state)
{
    (void)state;
    reset(200, 30); /* expires in 30 s: inside the 60 s refresh margin */
    err_t err = {{0}};
    gw_oidc_t *o = gw_oidc_new(base_url, NULL, 0, &err);
    char *t1 = gw_oidc_token(o, "aud", &err);
    char *t2 = gw_oidc_token(o, "aud", &err);
    assert_non_null(t1);
    assert_non_null(t2);
    assert_string_not_equal(t1, t2);
    assert_int_equal(ep.requests, 2);
    assert_string_equal(ep.auth, "(none)"); /* no request token configured */
    free(t1);
    free(t2);
    gw_oidc_free(o);
}

static void test_token_without_exp_is_cached(void **state)
{
    (void)state;
    reset(200, 0);
    err_t err = {{0}};
    gw_oidc_t *o = gw_oidc_new(base_url, "t", 0, &err);
    char *t1 = gw_oidc_token(o, "aud", &err);
    assert_int_equal(gw_oidc_jwt_exp(t1), -1);
    char *t2 = gw_oidc_token(o, "aud", &err);
    assert_string_equal(t1, t2);
    assert_int_equal(ep.requests, 1);
    free(t1);
    free(t2);
    gw_oidc_free(o);
}

static void test_failing_endpoint_gives_clear_errors(void **state)
{
    (void)state;
    reset(500, 3600);
    err_t err = {{0}};
    gw_oidc_t *o = gw_oidc_new(base_url, "t", 0, &err);
    assert_null(gw_oidc_token(o, "aud", &err));
    assert_string_equal(err.msg, "OIDC token request for audience 'aud' failed: HTTP 500: token service down");
    /* A failure is not cached: the next call asks again and succeeds. */
    reset(200, 3600);
    char *t = gw_oidc_token(o, "aud", &err);
    assert_non_null(t);
    free(t);
    pthread_mutex_lock(&ep.mu);
    ep.no_value = true;
    pthread_mutex_unlock(&ep.mu);
    assert_null(gw_oidc_token(o, "aud2", &err));
    assert_string_equal(err.msg, "OIDC token request for audience 'aud2' failed: the response has no \"value\" token");
    gw_oidc_free(o);
    /* Nothing listening. */
    o = gw_oidc_new("http://127.0.0.1:1/token", "t", 2000, &err);
    assert_null(gw_oidc_token(o, "aud", &err));
    assert_non_null(strstr(err.msg, "OIDC token request for audience 'aud' failed: "));
    gw_oidc_free(o);
    assert_null(gw_oidc_new("", "t", 0, &err));
    assert_string_equal(err.msg, "ACTIONS_ID_TOKEN_REQUEST_URL is not set");
}

static void test_jwt_exp_parsing(void **state)
{
    (void)state;
    char *j = make_jwt("{\"exp\":1700000000}");
    assert_int_equal(gw_oidc_jwt_exp(j), 1700000000);
    free(j);
    j = make_jwt("{\"exp\":\"soon\"}");
    assert_int_equal(gw_oidc_jwt_exp(j), -1);
    free(j);
    assert_int_equal(gw_oidc_jwt_exp("not-a-jwt"), -1);
    assert_int_equal(gw_oidc_jwt_exp("a.!!!.c"), -1);
    assert_int_equal(gw_oidc_jwt_exp(NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_request_and_cache_per_audience),
        cmocka_unit_test(test_token_within_a_minute_of_exp_is_fetched_again),
        cmocka_unit_test(test_token_without_exp_is_cached),
        cmocka_unit_test(test_failing_endpoint_gives_clear_errors),
        cmocka_unit_test(test_jwt_exp_parsing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
