/*
 * proxy_upstream.c — proxy mode's client for the GitHub API (see
 * proxy_internal.h): where requests go, which credentials they carry, and
 * the REST calls a guard may make through call_backend.
 *
 * One libcurl easy handle per request: the front end runs a thread per
 * connection, requests are few and long (GitHub answers in tens to hundreds
 * of milliseconds), so a shared pool would buy little and cost a lock.
 */
#include "gateway/proxy_internal.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_API_URL "https://api.github.com"
#define UPSTREAM_TIMEOUT_S 60L

const char *const gw_upstream_header_names[GW_UH_COUNT] = {
    "Content-Type", "Content-Disposition", "Location",
    "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Resource", "X-RateLimit-Used",
    "Link", "X-GitHub-Request-Id",
};

/* ---------------------------------------------------------- resolution -- */

static char *trimmed_env(const char *name)
{
    const char *v = getenv(name);
    if (!v)
        return NULL;
    while (isspace((unsigned char)*v))
        v++;
    size_t n = strlen(v);
    while (n && isspace((unsigned char)v[n - 1]))
        n--;
    return n ? strndup(v, n) : NULL;
}

/* Spec §1.7: github.com -> https://api.github.com; <x>.ghe.com ->
 * https://api.<x>.ghe.com; any other server -> <scheme>://<host>/api/v3. */
static char *api_url_from_server_url(const char *server)
{
    const char *host = strstr(server, "://");
    size_t scheme_len = host ? (size_t)(host - server) : 0;
    host = host ? host + 3 : server;
    size_t host_len = strcspn(host, "/");
    if (!host_len)
        return NULL;
    char *out = NULL;
    if (host_len == 10 && !strncasecmp(host, "github.com", 10))
        return strdup(DEFAULT_API_URL);
    if (host_len > 8 && !strncasecmp(host + host_len - 8, ".ghe.com", 8)) {
        if (asprintf(&out, "https://api.%.*s", (int)host_len, host) < 0)
            return NULL;
        return out;
    }
    if (asprintf(&out, "%.*s://%.*s/api/v3", scheme_len ? (int)scheme_len : 5, scheme_len ? server : "https",
                 (int)host_len, host) < 0)
        return NULL;
    return out;
}

static char *resolve_api_url(const char *flag)
{
    char *url = flag && *flag ? strdup(flag) : trimmed_env("GITHUB_API_URL");
    if (!url) {
        char *server = trimmed_env("GITHUB_SERVER_URL");
        url = server ? api_url_from_server_url(server) : NULL;
        free(server);
    }
    if (!url)
        url = strdup(DEFAULT_API_URL);
    if (url) {
        size_t n = strlen(url);
        while (n > 0 && url[n - 1] == '/')
            url[--n] = '\0';
    }
    return url;
}

/* GitHub Enterprise Server serves GraphQL at /api/graphql beside /api/v3;
 * github.com and GHE.com data residency at <api>/graphql. */
static char *graphql_url_for(const char *api)
{
    size_t n = strlen(api);
    char *out = NULL;
    if (n >= 7 && !strcmp(api + n - 7, "/api/v3")) {
        if (asprintf(&out, "%.*s/api/graphql", (int)(n - 7), api) < 0)
            return NULL;
    } else if (asprintf(&out, "%s/graphql", api) < 0) {
        return NULL;
    }
    return out;
}

bool gw_upstream_init(gw_upstream_t *u, const char *api_url_flag, const char *token_flag, err_t *err)
{
    memset(u, 0, sizeof *u);
    u->api_url = resolve_api_url(api_url_flag);
    u->graphql_url = u->api_url ? graphql_url_for(u->api_url) : NULL;
    if (token_flag && *token_flag) {
        u->token = strdup(token_flag);
    } else {
        static const char *const names[] = {"GITHUB_MCP_SERVER_TOKEN", "GITHUB_TOKEN",
                                            "GITHUB_PERSONAL_ACCESS_TOKEN", "GH_TOKEN"};
        for (size_t i = 0; i < sizeof names / sizeof names[0] && !u->token; i++)
            u->token = trimmed_env(names[i]);
    }
    if (!u->api_url || !u->graphql_url || (token_flag && *token_flag && !u->token)) {
        gw_upstream_free(u);
        return err_set(err, "out of memory");
    }
    return true;
}

void gw_upstream_free(gw_upstream_t *u)
{
    free(u->api_url);
    free(u->graphql_url);
    free(u->token);
    memset(u, 0, sizeof *u);
}

/* -------------------------------------------------------------- fetch -- */

typedef struct fetch_state {
    gw_upstream_resp_t *resp;
    bool too_big;
} fetch_state_t;

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    fetch_state_t *st = ud;
    size_t n = size * nmemb;
    if (st->resp->body.len + n > GW_UPSTREAM_MAX_BODY) {
        st->too_big = true;
        return 0; /* aborts the transfer */
    }
    return util_buf_append(&st->resp->body, data, n) ? n : 0;
}

/* Keeps the copied headers of the final response: a new status line (after
 * a 100 Continue) starts over. */
static size_t on_header(char *line, size_t size, size_t nmemb, void *ud)
{
    fetch_state_t *st = ud;
    size_t n = size * nmemb;
    if (n >= 5 && !strncmp(line, "HTTP/", 5)) {
        for (int i = 0; i < GW_UH_COUNT; i++) {
            free(st->resp->headers[i]);
            st->resp->headers[i] = NULL;
        }
        return n;
    }
    const char *colon = memchr(line, ':', n);
    if (!colon)
        return n;
    size_t name_len = (size_t)(colon - line);
    for (int i = 0; i < GW_UH_COUNT; i++) {
        if (strlen(gw_upstream_header_names[i]) != name_len ||
            strncasecmp(line, gw_upstream_header_names[i], name_len))
            continue;
        const char *v = colon + 1, *end = line + n;
        while (v < end && (*v == ' ' || *v == '\t'))
            v++;
        while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
            end--;
        free(st->resp->headers[i]);
        st->resp->headers[i] = strndup(v, (size_t)(end - v));
        break;
    }
    return n;
}

static struct curl_slist *request_headers(const gw_upstream_t *u, const gw_upstream_req_t *req, bool *oom)
{
    struct curl_slist *h = NULL, *t;
    char line[8192];
    const char *accept = req->accept && *req->accept ? req->accept : "application/vnd.github+json";
    snprintf(line, sizeof line, "Accept: %s", accept);
    *oom = !(t = curl_slist_append(h, line));
    h = t ? t : h;
    if (req->client_auth && *req->client_auth)
        snprintf(line, sizeof line, "Authorization: %s", req->client_auth);
    else if (u->token)
        snprintf(line, sizeof line, "Authorization: token %s", u->token);
    else
        line[0] = '\0';
    if (line[0] && !*oom) {
        *oom = !(t = curl_slist_append(h, line));
        h = t ? t : h;
    }
    if (req->content_type && *req->content_type && !*oom) {
        snprintf(line, sizeof line, "Content-Type: %s", req->content_type);
        *oom = !(t = curl_slist_append(h, line));
        h = t ? t : h;
    }
    /* libcurl would otherwise add "Expect: 100-continue" to large bodies. */
    if (!*oom) {
        *oom = !(t = curl_slist_append(h, "Expect:"));
        h = t ? t : h;
    }
    return h;
}

bool gw_upstream_fetch(const gw_upstream_t *u, const gw_upstream_req_t *req, gw_upstream_resp_t *out, err_t *err)
{
    memset(out, 0, sizeof *out);
    const char *target = req->target;
    size_t path_len = strcspn(target, "?");
    bool graphql = (path_len == 8 && !strncmp(target, "/graphql", 8)) ||
                   (path_len == 9 && !strncmp(target, "/graphql/", 9));
    char *url = NULL;
    if (graphql ? asprintf(&url, "%s%s", u->graphql_url, target + path_len) < 0
                : asprintf(&url, "%s%s", u->api_url, target) < 0)
        return err_set(err, "out of memory");

    CURL *c = curl_easy_init();
    bool oom = false;
    struct curl_slist *hdrs = c ? request_headers(u, req, &oom) : NULL;
    if (!c || oom) {
        curl_slist_free_all(hdrs);
        if (c)
            curl_easy_cleanup(c);
        free(url);
        return err_set(err, "out of memory");
    }
    fetch_state_t st = {out, false};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "flowgate-proxy");
    curl_easy_setopt(c, CURLOPT_TIMEOUT, UPSTREAM_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &st);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &st);
    /* The request path was checked for dot segments before it got here;
     * keep it byte for byte so GitHub serves exactly what was labelled. */
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    if (!strcmp(req->method, "HEAD"))
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(req->method, "GET"))
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
    if (req->body || (strcmp(req->method, "GET") && strcmp(req->method, "HEAD"))) {
        if (!strcmp(req->method, "POST"))
            curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req->body ? req->body_len : 0));
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
    }
    CURLcode rc = curl_easy_perform(c);
    bool ok = true;
    if (st.too_big)
        ok = err_set(err, "upstream response larger than %zu bytes", GW_UPSTREAM_MAX_BODY);
    else if (rc != CURLE_OK || out->body.oom)
        ok = err_set(err, "%s", out->body.oom ? "out of memory" : curl_easy_strerror(rc));
    else
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    free(url);
    if (!ok)
        gw_upstream_resp_free(out);
    else
        util_buf_append(&out->body, "", 0); /* a NUL-terminated body even when empty */
    return ok;
}

void gw_upstream_resp_free(gw_upstream_resp_t *r)
{
    util_buf_free(&r->body);
    for (int i = 0; i < GW_UH_COUNT; i++)
        free(r->headers[i]);
    memset(r, 0, sizeof *r);
}

/* ------------------------------------------------------ call_backend -- */

/* A string argument, or an integral number printed as one (guards send
 * issue numbers either way). */
static bool arg_text(const json_t *args, const char *key, char *buf, size_t cap)
{
    const json_t *v = json_object_get(args, key);
    if (json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) < cap) {
        memcpy(buf, json_string_value(v), json_string_length(v) + 1);
        return true;
    }
    if (json_is_integer(v)) {
        snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
        return true;
    }
    if (json_is_real(v) && json_real_value(v) == (double)(long long)json_real_value(v)) {
        snprintf(buf, cap, "%lld", (long long)json_real_value(v));
        return true;
    }
    return false;
}

/* Appends "/" + the percent-encoded value: an owner or number coming from a
 * guard must stay one path segment ("../x" or "a/b" cannot move the call
 * to another resource). */
static bool put_segment(util_buf_t *b, const char *v)
{
    char *e = curl_easy_escape(NULL, v, 0);
    if (!e)
        return false;
    bool ok = util_buf_putc(b, '/') && util_buf_puts(b, e);
    curl_free(e);
    return ok;
}

/* Builds the REST path for `tool`; false with err for a tool or arguments
 * the proxy cannot serve. */
static bool tool_path(const char *tool, const json_t *args, util_buf_t *path, bool *any_status, err_t *err)
{
    char owner[256], repo[256], x[256];
    *any_status = false;
    const char *num_key = !strcmp(tool, "pull_request_read") ? "pullNumber"
                          : !strcmp(tool, "issue_read")      ? "issue_number"
                                                             : NULL;
    if (num_key) {
        if (!arg_text(args, "owner", owner, sizeof owner) || !arg_text(args, "repo", repo, sizeof repo) ||
            !arg_text(args, num_key, x, sizeof x))
            return err_set(err, "%s: missing owner, repo or %s", tool, num_key);
        util_buf_puts(path, "/repos");
        put_segment(path, owner);
        put_segment(path, repo);
        util_buf_puts(path, num_key[0] == 'p' ? "/pulls" : "/issues");
        put_segment(path, x);
        return true;
    }
    if (!strcmp(tool, "search_repositories")) {
        const json_t *q = json_object_get(args, "query");
        if (!json_is_string(q) || !json_string_length(q))
            return err_set(err, "search_repositories: missing query");
        long per_page = 10;
        const json_t *pp = json_object_get(args, "perPage");
        if (json_is_number(pp) && json_number_value(pp) >= 1 && json_number_value(pp) <= 100)
            per_page = (long)json_number_value(pp);
        char *e = curl_easy_escape(NULL, json_string_value(q), (int)json_string_length(q));
        if (!e)
            return err_set(err, "out of memory");
        util_buf_printf(path, "/search/repositories?q=%s&per_page=%ld", e, per_page);
        curl_free(e);
        return true;
    }
    if (!strcmp(tool, "get_collaborator_permission")) {
        if (!arg_text(args, "owner", owner, sizeof owner) || !arg_text(args, "repo", repo, sizeof repo) ||
            !arg_text(args, "username", x, sizeof x))
            return err_set(err, "get_collaborator_permission: owner, repo and username are required");
        util_buf_puts(path, "/repos");
        put_segment(path, owner);
        put_segment(path, repo);
        util_buf_puts(path, "/collaborators");
        put_segment(path, x);
        util_buf_puts(path, "/permission");
        *any_status = true; /* the guard reads GitHub's answer, 404 included */
        return true;
    }
    return err_set(err, "unsupported tool: %s", tool);
}

bool gw_upstream_call_tool(const gw_upstream_t *u, const char *client_auth, const char *tool, const json_t *args,
                           json_t **result, err_t *err)
{
    *result = NULL;
    util_buf_t path = {0};
    bool any_status;
    if (!tool_path(tool, args, &path, &any_status, err)) {
        util_buf_free(&path);
        return false;
    }
    if (path.oom) {
        util_buf_free(&path);
        return err_set(err, "out of memory");
    }
    /* Enrichment needs org-wide visibility (author association, private
     * repositories), which the client's token may lack. */
    char auth[4096] = "";
    if (u->token)
        snprintf(auth, sizeof auth, "token %s", u->token);
    else if (client_auth)
        snprintf(auth, sizeof auth, "%s", client_auth);
    gw_upstream_req_t req = {.method = "GET", .target = path.p, .client_auth = auth};
    gw_upstream_resp_t resp;
    bool ok = gw_upstream_fetch(u, &req, &resp, err);
    util_buf_free(&path);
    if (!ok)
        return err_prefix(err, "REST call failed");
    if (!any_status && (resp.status < 200 || resp.status >= 300)) {
        err_set(err, "GitHub API returned status %ld for %s", resp.status, tool);
        gw_upstream_resp_free(&resp);
        return false;
    }
    *result = json_pack("{s:[{s:s,s:s%}]}", "content", "type", "text", "text", resp.body.p ? resp.body.p : "",
                        resp.body.len);
    gw_upstream_resp_free(&resp);
    return *result ? true : err_set(err, "GitHub API returned a body that is not UTF-8 text");
}

bool gw_upstream_repo_is_public(const gw_upstream_t *u, const char *nwo, bool *is_public, err_t *err)
{
    *is_public = false;
    util_buf_t path = {0};
    util_buf_puts(&path, "/repos");
    const char *slash = strchr(nwo, '/');
    if (!slash || slash == nwo || !slash[1] || strchr(slash + 1, '/')) {
        util_buf_free(&path);
        return err_set(err, "GITHUB_REPOSITORY %s is not owner/repo", nwo);
    }
    char owner[256];
    snprintf(owner, sizeof owner, "%.*s", (int)(slash - nwo), nwo);
    put_segment(&path, owner);
    put_segment(&path, slash + 1);
    if (path.oom) {
        util_buf_free(&path);
        return err_set(err, "out of memory");
    }
    gw_upstream_req_t req = {.method = "GET", .target = path.p};
    gw_upstream_resp_t resp;
    bool ok = gw_upstream_fetch(u, &req, &resp, err);
    util_buf_free(&path);
    if (!ok)
        return false;
    json_t *doc = resp.status == 200 ? json_loadb(resp.body.p, resp.body.len, 0, NULL) : NULL;
    if (!doc) {
        err_set(err, "GET /repos/%s returned status %ld", nwo, resp.status);
        gw_upstream_resp_free(&resp);
        return false;
    }
    const json_t *vis = json_object_get(doc, "visibility");
    const json_t *priv = json_object_get(doc, "private");
    *is_public = json_is_string(vis) ? !strcmp(json_string_value(vis), "public") : json_is_false(priv);
    json_decref(doc);
    gw_upstream_resp_free(&resp);
    return true;
}
