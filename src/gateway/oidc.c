/*
 * oidc.c — the OIDC token provider of oidc.h: one libcurl GET per fetch,
 * a small per-audience cache under one mutex.
 */
#include "gateway/oidc.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/buf.h"

#define REFRESH_MARGIN_S 60      /* refetch this long before exp */
#define NO_EXP_TTL_S (5 * 60)    /* cache life of a token without a readable exp */
#define MAX_TOKEN_BYTES (1 << 20)

typedef struct cached {
    char *audience;
    char *token;
    int64_t valid_until; /* wall seconds */
} cached_t;

struct gw_oidc {
    char *request_url;
    char *request_token;
    int timeout_ms;
    pthread_mutex_t mu;
    cached_t *cache;
    size_t ncache;
};

gw_oidc_t *gw_oidc_new(const char *request_url, const char *request_token, int timeout_ms, err_t *err)
{
    if (!request_url || !*request_url) {
        err_set(err, "ACTIONS_ID_TOKEN_REQUEST_URL is not set");
        return NULL;
    }
    gw_oidc_t *o = calloc(1, sizeof *o);
    if (!o || !(o->request_url = strdup(request_url)) ||
        (request_token && !(o->request_token = strdup(request_token)))) {
        if (o)
            free(o->request_url);
        free(o);
        err_set(err, "out of memory");
        return NULL;
    }
    o->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
    pthread_mutex_init(&o->mu, NULL);
    return o;
}

void gw_oidc_free(gw_oidc_t *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->ncache; i++) {
        free(o->cache[i].audience);
        free(o->cache[i].token);
    }
    free(o->cache);
    free(o->request_url);
    free(o->request_token);
    pthread_mutex_destroy(&o->mu);
    free(o);
}

/* ---- JWT exp ---------------------------------------------------------- */

static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-' || c == '+')
        return 62;
    if (c == '_' || c == '/')
        return 63;
    return -1;
}

/* Decodes unpadded base64url (padding tolerated) into a malloc'd buffer. */
static char *b64url_decode(const char *s, size_t n, size_t *out_len)
{
    while (n && s[n - 1] == '=')
        n--;
    char *out = malloc(n * 3 / 4 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_value(s[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

int64_t gw_oidc_jwt_exp(const char *jwt)
{
    const char *dot1 = jwt ? strchr(jwt, '.') : NULL;
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (!dot2)
        return -1;
    size_t len = 0;
    char *claims = b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &len);
    if (!claims)
        return -1;
    json_t *j = json_loadb(claims, len, 0, NULL);
    free(claims);
    json_t *exp = json_object_get(j, "exp");
    int64_t v = json_is_integer(exp) ? (int64_t)json_integer_value(exp)
                : json_is_real(exp)  ? (int64_t)json_real_value(exp)
                                     : -1;
    json_decref(j);
    return v;
}

/* ---- fetching --------------------------------------------------------- */

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    util_buf_t *b = ud;
    size_t len = size * n;
    if (b->len + len > MAX_TOKEN_BYTES || !util_buf_append(b, p, len))
        return 0;
    return len;
}

/* One GET; returns the token (malloc'd) or NULL with err. */
static char *fetch(gw_oidc_t *o, const char *audience, err_t *err)
{
    CURL *c = curl_easy_init();
    if (!c)
        return err_set(err, "cannot create a curl handle"), NULL;
    char *aud = curl_easy_escape(c, audience, 0);
    char *url = NULL, *auth = NULL, *token = NULL;
    struct curl_slist *hdrs = NULL;
    util_buf_t body = {0};
    if (!aud || asprintf(&url, "%s%caudience=%s", o->request_url, strchr(o->request_url, '?') ? '&' : '?', aud) < 0) {
        url = NULL;
        err_set(err, "out of memory");
        goto out;
    }
    if (o->request_token) {
        if (asprintf(&auth, "Authorization: Bearer %s", o->request_token) < 0 ||
            !(hdrs = curl_slist_append(NULL, auth))) {
            err_set(err, "out of memory");
            goto out;
        }
    }
    char curl_err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK) {
        err_set(err, "%s", curl_err[0] ? curl_err : curl_easy_strerror(rc));
        goto out;
    }
    if (status != 200) {
        err_set(err, "HTTP %ld: %.200s", status, body.p ? body.p : "");
        goto out;
    }
    json_t *j = json_loadb(body.p ? body.p : "", body.len, 0, NULL);
    const char *v = json_string_value(json_object_get(j, "value"));
    if (!v || !*v)
        err_set(err, "the response has no \"value\" token");
    else if (!(token = strdup(v)))
        err_set(err, "out of memory");
    json_decref(j);
out:
    curl_slist_free_all(hdrs);
    free(auth);
    free(url);
    curl_free(aud);
    util_buf_free(&body);
    curl_easy_cleanup(c);
    return token;
}

char *gw_oidc_token(gw_oidc_t *o, const char *audience, err_t *err)
{
    int64_t now = (int64_t)time(NULL);
    char *out = NULL;
    pthread_mutex_lock(&o->mu);
    cached_t *slot = NULL;
    for (size_t i = 0; i < o->ncache && !slot; i++)
        if (!strcmp(o->cache[i].audience, audience))
            slot = &o->cache[i];
    if (slot && slot->token && now < slot->valid_until) {
        out = strdup(slot->token);
        pthread_mutex_unlock(&o->mu);
        if (!out)
            err_set(err, "out of memory");
        return out;
    }
    err_t ferr = {{0}};
    char *token = fetch(o, audience, &ferr);
    if (!token) {
        pthread_mutex_unlock(&o->mu);
        err_set(err, "OIDC token request for audience '%s' failed: %s", audience, ferr.msg);
        return NULL;
    }
    if (!slot) {
        cached_t *grown = realloc(o->cache, (o->ncache + 1) * sizeof *grown);
        char *a = strdup(audience);
        if (grown)
            o->cache = grown;
        if (grown && a) {
            slot = &o->cache[o->ncache++];
            slot->audience = a;
            slot->token = NULL;
        } else {
            free(a);
        }
    }
    if (slot) { /* without a slot (out of memory) the token is just not cached */
        int64_t exp = gw_oidc_jwt_exp(token);
        free(slot->token);
        slot->token = strdup(token);
        slot->valid_until = exp > 0 ? exp - REFRESH_MARGIN_S : now + NO_EXP_TTL_S;
    }
    pthread_mutex_unlock(&o->mu);
    return token;
}
