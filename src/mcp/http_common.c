/*
 * http_common.c — the pieces both HTTP transports use: libcurl's one-time
 * initialisation, the pool of idle curl handles, and the request headers every HTTP backend request carries
 * (configured headers first, so that they win; the OIDC hook last).
 */
#include "mcp/mcp_internal.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static bool curl_ok;
static void curl_init_once(void) { curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; }

bool mcp__curl_ready(void)
{
    pthread_once(&curl_once, curl_init_once);
    return curl_ok;
}

bool mcp__curl_pool_init(mcp_curl_pool_t *p)
{
    p->n = 0;
    return pthread_mutex_init(&p->mu, NULL) == 0;
}

void *mcp__curl_pool_get(mcp_curl_pool_t *p)
{
    CURL *c = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->n > 0)
        c = p->handles[--p->n];
    pthread_mutex_unlock(&p->mu);
    if (c) {
        curl_easy_reset(c); /* keeps its live connections */
        return c;
    }
    return curl_easy_init();
}

void mcp__curl_pool_put(mcp_curl_pool_t *p, void *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&p->mu);
    if (p->n < MCP_CURL_POOL_MAX) {
        p->handles[p->n++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&p->mu);
    if (c)
        curl_easy_cleanup(c);
}

void mcp__curl_pool_free(mcp_curl_pool_t *p)
{
    for (int i = 0; i < p->n; i++)
        curl_easy_cleanup(p->handles[i]);
    p->n = 0;
    pthread_mutex_destroy(&p->mu);
}

bool mcp__http_add_header(void *list, const char *header)
{
    struct curl_slist **l = list;
    struct curl_slist *n = curl_slist_append(*l, header);
    if (!n)
        return false;
    *l = n;
    return true;
}

static bool has_header(char *const *hdrs, const char *name)
{
    size_t nl = strlen(name);
    for (; hdrs && *hdrs; hdrs++)
        if (strncasecmp(*hdrs, name, nl) == 0 && (*hdrs)[nl] == ':')
            return true;
    return false;
}

bool mcp__http_base_headers(mcp_backend_t *b, struct curl_slist **list, const char *accept, bool content_type,
                            err_t *err)
{
    char line[512];
    bool ok = true;
    for (char **h = b->headers; ok && h && *h; h++)
        ok = mcp__http_add_header(list, *h);
    if (content_type && !has_header(b->headers, "Content-Type"))
        ok = ok && mcp__http_add_header(list, "Content-Type: application/json");
    if (!has_header(b->headers, "Accept")) {
        snprintf(line, sizeof line, "Accept: %s", accept);
        ok = ok && mcp__http_add_header(list, line);
    }
    ok = ok && mcp__http_add_header(list, "Expect:");
    if (!ok)
        return err_set(err, "out of memory");
    return true;
}

bool mcp__http_dynamic_headers(mcp_backend_t *b, struct curl_slist **list, err_t *err)
{
    if (b->dynamic_headers && !b->dynamic_headers(b->dynamic_headers_ud, b->id, mcp__http_add_header, list, err))
        return err_prefix(err, "backend '%s': request headers", b->id);
    return true;
}

bool mcp__http_header_is(const char *line, size_t n, const char *name, const char **value, size_t *vlen)
{
    size_t nl = strlen(name);
    if (n <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0)
        return false;
    const char *v = line + nl + 1;
    const char *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *value = v;
    *vlen = (size_t)(end - v);
    return true;
}
