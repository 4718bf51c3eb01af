/*
 * proxy.c — `flowgate proxy` (spec: gateway §6): an HTTP(S) forward proxy
 * for the GitHub REST and GraphQL APIs that runs every read through the
 * DIFC pipeline with a WASM guard, so that `gh`, curl or github-script
 * pointed at it (GH_HOST=localhost:8443) see only what the policy allows.
 *
 * One request, in order:
 *   /health, /healthz           {"status":"ok"}
 *   GET /reflect                the agent's labels (difc_agents_reflect)
 *   GET of GitHub metadata      passed through (/meta, /rate_limit, ...)
 *   writes (not GET, and not a POST to GraphQL)   passed through
 *   reads                       mapped to a guard tool (proxy_route.c), then
 *     Phase 0  the agent's labels ("proxy", set by label_agent at startup)
 *     Phase 1  label_resource(tool, args)
 *     Phase 2  the coarse check; only a denied write is final here
 *     Phase 3  the request is sent to GitHub
 *     Phase 4  label_response(tool, args, the response JSON)
 *     Phase 5  items the agent may not see are removed where they stand
 *              (the response keeps GitHub's shape); strict mode refuses
 *              the whole response instead
 *     Phase 6  propagate mode taints the agent with what it read
 *
 * Where upstream fails open, this proxy fails closed (spec README's
 * departures): a read that maps to no guard tool is refused (403), not
 * forwarded; a guard that cannot label a response stops it (502); a
 * response with no labels is judged as one item with the Phase 1 labels,
 * so a read denied at Phase 2 never passes through; a non-JSON body passes
 * only when the coarse check allowed the read. Paths with "." or ".."
 * segments are refused, so what GitHub serves is always what was labelled.
 *
 * The front end is libmicrohttpd with a thread per connection (requests
 * wait on GitHub for a long time; each owns its thread); the guard's
 * instance pool lets those threads run guard code in parallel.
 */
#include "gateway/gateway.h"
#include "gateway/gateway_internal.h"
#include "gateway/log.h"
#include "gateway/pipeline_guard.h"
#include "gateway/proxy_internal.h"
#include "gateway/proxy_route.h"
#include "gateway/proxy_tls.h"

#include <curl/curl.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROXY_AGENT "proxy"          /* the one agent proxy mode labels */
#define PROXY_SERVER_ID "github"     /* server_id of its log records */
#define PROXY_MAX_REQUEST ((size_t)32 << 20)
#define PROXY_GUARD_TIMEOUT_MS 60000

typedef struct proxy {
    guard_t *guard;
    difc_agents_t *agents;
    difc_mode_t mode;
    bool guard_ready;             /* label_agent succeeded at startup */
    gw_upstream_t up;
    gw_proxy_tls_t tls;
    struct MHD_Daemon *daemon;
    int listen_fd, port;
} proxy_t;

/* One HTTP request, from the URI callback to completion. */
typedef struct preq {
    char *raw_uri;                /* as the client sent it */
    bool started;
    bool too_big;
    util_buf_t body;
} preq_t;

/* ------------------------------------------------------------ replies -- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype, const char *body,
                             size_t len, const gw_upstream_resp_t *from)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    if (from) {
        for (int i = 0; i < GW_UH_COUNT; i++)
            if (from->headers[i] && (i != GW_UH_CONTENT_TYPE || !ctype))
                MHD_add_response_header(r, gw_upstream_header_names[i], from->headers[i]);
    }
    if (ctype)
        MHD_add_response_header(r, "Content-Type", ctype);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, json_t *doc /* stolen */,
                                  const gw_upstream_resp_t *from)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    if (!text)
        return reply(c, 500, "application/json", "{\"error\":\"internal_error\",\"message\":\"out of memory\"}", 53,
                     NULL);
    enum MHD_Result r = reply(c, status, "application/json", text, strlen(text), from);
    free(text);
    return r;
}

/* The gateway's error shape, {"error":<code>,"message":<text>}. */
static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *code, const char *msg)
{
    gw_log(status >= 500 ? GW_LOG_ERROR : GW_LOG_WARN, "proxy", "Request rejected: status=%u code=%s message=%s",
           status, code, msg);
    return reply_json(c, status, json_pack("{s:s,s:s}", "error", code, "message", msg), NULL);
}

/* Seconds until GitHub's X-RateLimit-Reset (at least 1), 60 without one. */
static long retry_after(const gw_upstream_resp_t *u)
{
    const char *reset = u->headers[GW_UH_RL_RESET];
    char *end;
    long long at = reset ? strtoll(reset, &end, 10) : 0;
    if (!reset || *end || at <= 0)
        return 60;
    long long d = at - (long long)time(NULL);
    return d < 1 ? 1 : d > 3600 ? 3600 : (long)d;
}

/* GitHub's answer as it came, plus Retry-After when it says the client is
 * rate limited (429, or no requests remaining). */
static enum MHD_Result reply_upstream(struct MHD_Connection *c, const gw_upstream_resp_t *u, const char *body,
                                      size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    for (int i = 0; i < GW_UH_COUNT; i++)
        if (u->headers[i])
            MHD_add_response_header(r, gw_upstream_header_names[i], u->headers[i]);
    const char *remaining = u->headers[GW_UH_RL_REMAINING];
    if (u->status == 429 || (remaining && !strcmp(remaining, "0"))) {
        char v[24];
        snprintf(v, sizeof v, "%ld", retry_after(u));
        MHD_add_response_header(r, "Retry-After", v);
        gw_log(GW_LOG_ERROR, "client", "upstream rate limit hit: status=%ld X-Ratelimit-Remaining=%s retry-after=%ss",
               u->status, remaining ? remaining : "", v);
    }
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)u->status, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---------------------------------------------------------- the target -- */

/* Percent-decodes s[0..n) into out (NUL-terminated); false on a malformed
 * escape or an encoded NUL. */
static bool pct_decode(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            out[o++] = s[i];
            continue;
        }
        if (i + 2 >= n)
            return false;
        char hex[3] = {s[i + 1], s[i + 2], 0};
        char *end;
        long v = strtol(hex, &end, 16);
        if (*end || v == 0 || hex[0] == '+' || hex[0] == '-' || hex[0] == ' ')
            return false;
        out[o++] = (char)v;
        i += 2;
    }
    out[o] = '\0';
    return true;
}

/* A path the proxy can label faithfully: absolute, no "." or ".." segment,
 * no empty segment inside it (libcurl and GitHub would collapse them into
 * another resource than the one the route table saw). */
static bool path_is_canonical(const char *p)
{
    if (p[0] != '/')
        return false;
    for (const char *s = p + 1;;) {
        size_t n = strcspn(s, "/");
        bool last = s[n] == '\0';
        if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return false;
        if (n == 0 && !last)
            return false;
        if (last)
            return true;
        s += n + 1;
    }
}

/* The decoded value of the query parameter `name`, or NULL. */
static char *query_param(const char *query, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = query; p && *p;) {
        size_t n = strcspn(p, "&");
        if (n > nl && p[nl] == '=' && !strncmp(p, name, nl)) {
            char *raw = strndup(p + nl + 1, n - nl - 1);
            char *out = raw ? malloc(strlen(raw) + 1) : NULL;
            if (out) {
                for (char *q = raw; *q; q++)
                    if (*q == '+')
                        *q = ' ';
                if (!pct_decode(raw, strlen(raw), out)) {
                    free(out);
                    out = NULL;
                }
            }
            free(raw);
            return out;
        }
        p += n + (p[n] == '&');
    }
    return NULL;
}

/* ------------------------------------------------------ the guard call -- */

typedef struct call_backend_ctx {
    proxy_t *p;
    const char *client_auth;
} call_backend_ctx_t;

static bool rest_call_tool(void *self, guard_ctx_t *ctx, const char *tool, const json_t *args, json_t **result,
                           err_t *err)
{
    (void)ctx;
    call_backend_ctx_t *cb = self;
    gw_debug("proxy:backend", "guard call_backend %s", tool);
    return gw_upstream_call_tool(&cb->p->up, cb->client_auth, tool, args, result, err);
}

/* What one filtered read knows between the phases. */
typedef struct read_call {
    proxy_t *p;
    struct MHD_Connection *conn;
    const char *method;
    const char *target;        /* forwarded "/path?query" */
    const char *tool;
    json_t *args;
    const char *gql_body;      /* the GraphQL request, NULL for REST */
    size_t gql_len;
    const char *client_auth;
    const char *accept;
    call_backend_ctx_t cb;
    guard_backend_t gb;
    guard_ctx_t ctx;
    difc_labels_t agent;
    difc_resource_t res;
    difc_op_t op;
    difc_eval_t ev;
    difc_response_labels_t rl;
    difc_filter_outcome_t out;
    gw_upstream_resp_t up;
    json_t *data;
} read_call_t;

static void read_call_free(read_call_t *rc)
{
    difc_labels_free(&rc->agent);
    difc_resource_free(&rc->res);
    difc_eval_free(&rc->ev);
    difc_response_labels_free(&rc->rl);
    difc_filter_outcome_free(&rc->out);
    gw_upstream_resp_free(&rc->up);
    json_decref(rc->data);
}

static void log_filtered(const read_call_t *rc)
{
    char ts[32];
    gw_log_timestamp(ts, sizeof ts);
    for (size_t i = 0; i < rc->out.n_filtered; i++) {
        json_t *rec = difc_filtered_record(&rc->out.filtered[i], PROXY_SERVER_ID, rc->tool, ts);
        if (rec)
            gw_log_difc_filtered(PROXY_SERVER_ID, rec);
        json_decref(rec);
    }
    gw_log(GW_LOG_INFO, "proxy", "DIFC filtered %zu/%zu items for %s %s (tool=%s)", rc->out.n_filtered,
           rc->out.total, rc->method, rc->target, rc->tool);
}

/* Phases 0-2. False when a reply was queued (*ret set). */
static bool pre_phases(read_call_t *rc, enum MHD_Result *ret)
{
    err_t err = {{0}};
    if (!difc_agents_snapshot(rc->p->agents, PROXY_AGENT, &rc->agent, &err)) {
        *ret = reply_error(rc->conn, 500, "internal_error", err.msg);
        return false;
    }
    if (!guard_label_resource(rc->p->guard, &rc->ctx, rc->tool, rc->args, &rc->res, &rc->op, &err)) {
        gw_log(GW_LOG_ERROR, "difc", "label_resource failed for %s: %s", rc->tool, err.msg);
        *ret = reply_error(rc->conn, 502, "bad_gateway", "resource labeling failed");
        return false;
    }
    difc_evaluate(&rc->agent, &rc->res, rc->op, rc->p->mode, &rc->ev, NULL);
    if (!difc_eval_allowed(&rc->ev) && difc_coarse_deny_is_final(rc->op)) {
        char msg[1024];
        snprintf(msg, sizeof msg, "DIFC policy violation: %s", rc->ev.reason ? rc->ev.reason : "access denied");
        gw_debug("proxy:handler", "[DIFC] Phase 2: BLOCKED %s %s", rc->method, rc->target);
        *ret = reply_error(rc->conn, 403, "difc_forbidden", msg);
        return false;
    }
    return true;
}

/* Phase 3. False when a reply was queued. */
static bool forward_read(read_call_t *rc, enum MHD_Result *ret)
{
    err_t err = {{0}};
    gw_upstream_req_t req = {
        .method = rc->gql_body ? "POST" : rc->method,
        .target = rc->target,
        .body = rc->gql_body,
        .body_len = rc->gql_len,
        .content_type = rc->gql_body ? "application/json" : NULL,
        .accept = rc->accept,
        .client_auth = rc->client_auth,
    };
    if (!gw_upstream_fetch(&rc->p->up, &req, &rc->up, &err)) {
        gw_log(GW_LOG_ERROR, "proxy", "upstream %s %s failed: %s", req.method, rc->target, err.msg);
        *ret = reply_error(rc->conn, 502, "bad_gateway", "upstream request failed");
        return false;
    }
    return true;
}

/* The whole response is one item the agent may not see: say so rather
 * than answer 200 with an empty object. */
static enum MHD_Result reply_whole_filtered(read_call_t *rc)
{
    char *msg = rc->out.n_filtered == 1 ? difc_format_filtered_single(&rc->out) : NULL;
    enum MHD_Result r = reply_error(rc->conn, 403, "difc_forbidden", msg ? msg : "DIFC policy violation: not accessible");
    free(msg);
    return r;
}

/* Phases 4-6 and the reply. */
static enum MHD_Result post_phases(read_call_t *rc)
{
    err_t err = {{0}};
    proxy_t *p = rc->p;
    gw_upstream_resp_t *up = &rc->up;
    if (up->status < 200 || up->status >= 300) /* errors, redirects: nothing to label */
        return reply_upstream(rc->conn, up, up->body.p, up->body.len);
    rc->data = json_loadb(up->body.p ? up->body.p : "", up->body.len, JSON_DECODE_ANY, NULL);
    if (!rc->data) {
        /* Raw media types (file contents, logs, diffs) carry nothing a
         * guard can label item by item; the coarse check decides. */
        if (difc_eval_allowed(&rc->ev))
            return reply_upstream(rc->conn, up, up->body.p, up->body.len);
        char msg[1024];
        snprintf(msg, sizeof msg, "DIFC policy violation: %s", rc->ev.reason ? rc->ev.reason : "access denied");
        return reply_error(rc->conn, 403, "difc_forbidden", msg);
    }
    if (difc_should_label_response(rc->op, p->mode) &&
        !guard_label_response(p->guard, &rc->ctx, rc->tool, rc->args, rc->data, &rc->rl, &err)) {
        gw_log(GW_LOG_ERROR, "difc", "label_response failed for %s: %s", rc->tool, err.msg);
        return reply_error(rc->conn, 502, "bad_gateway", "response labeling failed");
    }
    if (!difc_filter_response(&rc->agent, rc->op, p->mode, &rc->res, &rc->rl, rc->data, &rc->out, &err)) {
        gw_log(GW_LOG_ERROR, "difc", "filtering %s failed: %s", rc->tool, err.msg);
        return reply_error(rc->conn, 502, "bad_gateway", "response labeling failed");
    }
    if (rc->out.n_filtered)
        log_filtered(rc);
    if (rc->out.blocked) {
        char *msg = difc_format_strict_block(&rc->out, PROXY_AGENT);
        enum MHD_Result r = reply_error(rc->conn, 403, "difc_forbidden", msg ? msg : "DIFC policy violation");
        free(msg);
        return r;
    }
    if (rc->out.n_filtered && !rc->out.accessible && (rc->out.whole || difc_is_singular_read_tool(rc->tool)))
        return reply_whole_filtered(rc);
    if (difc_should_accumulate(rc->op, p->mode) &&
        !difc_agents_accumulate_read(p->agents, PROXY_AGENT, &rc->out.read_labels, &err))
        return reply_error(rc->conn, 500, "internal_error", err.msg);
    if (!rc->out.n_filtered) /* GitHub's bytes, exactly */
        return reply_upstream(rc->conn, up, up->body.p, up->body.len);
    return reply_json(rc->conn, (unsigned)up->status, json_incref(rc->out.result), up);
}

static enum MHD_Result handle_read(proxy_t *p, struct MHD_Connection *conn, const char *method, const char *target,
                                   const char *tool, json_t *args, const preq_t *r)
{
    if (!p->guard_ready)
        return reply_error(conn, 503, "service_unavailable", "proxy enforcement not configured");
    read_call_t rc = {.p = p, .conn = conn, .method = method, .target = target, .tool = tool, .args = args};
    rc.client_auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    rc.accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept");
    if (!strcmp(method, "POST")) {
        rc.gql_body = r->body.p ? r->body.p : "";
        rc.gql_len = r->body.len;
    }
    rc.cb = (call_backend_ctx_t){p, rc.client_auth};
    rc.gb = (guard_backend_t){rest_call_tool, &rc.cb};
    guard_ctx_init(&rc.ctx, PROXY_GUARD_TIMEOUT_MS, &rc.gb);
    enum MHD_Result ret = MHD_NO;
    if (pre_phases(&rc, &ret) && forward_read(&rc, &ret))
        ret = post_phases(&rc);
    read_call_free(&rc);
    return ret;
}

/* ---------------------------------------------------------- passthrough -- */

static enum MHD_Result passthrough(proxy_t *p, struct MHD_Connection *conn, const char *method, const char *target,
                                   const preq_t *r)
{
    gw_debug("proxy:handler", "passthrough %s %s", method, target);
    gw_upstream_req_t req = {
        .method = method,
        .target = target,
        .body = r->body.len ? r->body.p : NULL,
        .body_len = r->body.len,
        .content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type"),
        .accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept"),
        .client_auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization"),
    };
    gw_upstream_resp_t up;
    err_t err = {{0}};
    if (!gw_upstream_fetch(&p->up, &req, &up, &err)) {
        gw_log(GW_LOG_ERROR, "proxy", "upstream %s %s failed: %s", method, target, err.msg);
        return reply_error(conn, 502, "bad_gateway", "upstream request failed");
    }
    enum MHD_Result ret = reply_upstream(conn, &up, up.body.p, up.body.len);
    gw_upstream_resp_free(&up);
    return ret;
}

/* ------------------------------------------------------------- routing -- */

static enum MHD_Result route_graphql(proxy_t *p, struct MHD_Connection *conn, const char *target, const preq_t *r)
{
    gw_route_match_t m = {0};
    if (!gw_proxy_match_graphql(r->body.p ? r->body.p : "", r->body.len, &m)) {
        gw_log(GW_LOG_WARN, "proxy", "unknown GraphQL query, blocking request");
        return reply_json(conn, 403,
                          json_pack("{s:[{s:s}],s:n}", "errors", "message",
                                    "access denied: unrecognized GraphQL operation", "data"),
                          NULL);
    }
    enum MHD_Result ret;
    if (!strcmp(m.tool, "graphql_introspection")) /* schema metadata, no repository data */
        ret = passthrough(p, conn, "POST", target, r);
    else
        ret = handle_read(p, conn, "POST", target, m.tool, m.args, r);
    gw_route_match_free(&m);
    return ret;
}

static enum MHD_Result route(proxy_t *p, struct MHD_Connection *conn, const char *url, const char *method,
                             const preq_t *r)
{
    const char *path = gw_proxy_strip_prefix(url);
    if (!strcmp(path, "/health") || !strcmp(path, "/healthz"))
        return reply_json(conn, 200, json_pack("{s:s}", "status", "ok"), NULL);
    bool get = !strcmp(method, "GET");
    if (get && !strcmp(path, "/reflect"))
        return reply_json(conn, 200, difc_agents_reflect(p->agents, p->mode, NULL), NULL);
    if (!path_is_canonical(path))
        return reply_error(conn, 400, "bad_request", "request path has empty, \".\" or \"..\" segments");
    if (r->too_big)
        return reply_error(conn, 413, "request_too_large", "request body too large");

    /* What GitHub gets: the decoded path, encoded again, so that it is
     * exactly the path the route table judged; the query as sent. */
    const char *raw_q = strchr(r->raw_uri ? r->raw_uri : "", '?');
    bool graphql = gw_proxy_is_graphql_path(path);
    util_buf_t target = {0};
    if (graphql) {
        util_buf_puts(&target, "/graphql");
    } else {
        for (const char *s = path; *s == '/';) {
            size_t n = strcspn(s + 1, "/");
            char *seg = curl_easy_escape(NULL, s + 1, (int)n);
            util_buf_putc(&target, '/');
            util_buf_puts(&target, seg ? seg : "");
            target.oom |= !seg;
            curl_free(seg);
            s += 1 + n;
        }
    }
    util_buf_puts(&target, raw_q ? raw_q : "");
    if (target.oom) {
        util_buf_free(&target);
        return reply_error(conn, 500, "internal_error", "out of memory");
    }

    enum MHD_Result ret;
    bool read = get || (graphql && !strcmp(method, "POST"));
    if (get && gw_proxy_is_metadata_path(path)) {
        ret = passthrough(p, conn, method, target.p, r);
    } else if (!read) {
        ret = passthrough(p, conn, method, target.p, r);
    } else if (graphql) {
        ret = route_graphql(p, conn, target.p, r);
    } else {
        gw_route_match_t m = {0};
        if (!gw_proxy_match_rest(path, &m)) {
            char msg[600];
            snprintf(msg, sizeof msg, "access denied: unrecognized GitHub API endpoint %.500s", path);
            ret = reply_error(conn, 403, "difc_forbidden", msg);
        } else {
            /* The search query lets the guard scope integrity labels. */
            char *q = raw_q ? query_param(raw_q + 1, "q") : NULL;
            if (q && *q)
                json_object_set_new(m.args, "query", json_string(q));
            free(q);
            ret = handle_read(p, conn, method, target.p, m.tool, m.args, r);
            gw_route_match_free(&m);
        }
    }
    util_buf_free(&target);
    return ret;
}

/* ------------------------------------------------------ libmicrohttpd -- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls, (void)conn;
    preq_t *r = calloc(1, sizeof *r);
    if (r)
        r->raw_uri = strdup(uri);
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    proxy_t *p = cls;
    preq_t *r = *con_cls;
    if (!r || !r->raw_uri)
        return MHD_NO;
    if (!r->started) {
        r->started = true;
        return MHD_YES;
    }
    if (*upload_size) {
        if (r->body.len + *upload_size > PROXY_MAX_REQUEST)
            r->too_big = true;
        else
            util_buf_append(&r->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->body.oom)
        return reply_error(conn, 500, "internal_error", "out of memory");
    gw_debug("proxy:handler", "incoming %s %s", method, url);
    return route(p, conn, url, method, r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)conn, (void)toe;
    preq_t *r = *con_cls;
    if (r) {
        util_buf_free(&r->body);
        free(r->raw_uri);
        free(r);
        *con_cls = NULL;
    }
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    gw_debug("proxy:http", "%s", line);
}

static bool start_http(proxy_t *p, err_t *err)
{
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (p->tls.cert_pem)
        p->daemon = MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, on_request, p, MHD_OPTION_LISTEN_SOCKET,
                                     p->listen_fd, MHD_OPTION_URI_LOG_CALLBACK, on_uri, p,
                                     MHD_OPTION_NOTIFY_COMPLETED, on_completed, p, MHD_OPTION_CONNECTION_LIMIT,
                                     (unsigned)1024, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                                     MHD_OPTION_HTTPS_MEM_KEY, p->tls.key_pem, MHD_OPTION_HTTPS_MEM_CERT,
                                     p->tls.cert_pem, MHD_OPTION_HTTPS_PRIORITIES,
                                     "NORMAL:-VERS-TLS1.0:-VERS-TLS1.1:-VERS-DTLS-ALL", MHD_OPTION_END);
    else
        p->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, p, MHD_OPTION_LISTEN_SOCKET, p->listen_fd,
                                     MHD_OPTION_URI_LOG_CALLBACK, on_uri, p, MHD_OPTION_NOTIFY_COMPLETED,
                                     on_completed, p, MHD_OPTION_CONNECTION_LIMIT, (unsigned)1024,
                                     MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
    if (!p->daemon)
        return err_set(err, p->tls.cert_pem ? "failed to configure TLS: the certificate or key was rejected"
                                            : "failed to start the HTTP server");
    return true;
}

/* ------------------------------------------------------------- startup -- */

static void guard_log_line(void *ud, guard_log_level_t level, const char *line)
{
    (void)ud;
    if (level == GUARD_LOG_DEBUG) {
        gw_debug("guard", "%s", line);
        return;
    }
    gw_log(level == GUARD_LOG_WARN ? GW_LOG_WARN : level == GUARD_LOG_ERROR ? GW_LOG_ERROR : GW_LOG_INFO, "guard",
           "%s", line);
}

/* A comma list ("a, b,,c") as a JSON array of trimmed, non-empty names;
 * NULL for no list. */
static json_t *comma_list(const char *s)
{
    if (!s || !*s)
        return NULL;
    json_t *a = json_array();
    for (const char *p = s; a && *p;) {
        size_t n = strcspn(p, ",");
        const char *b = p, *e = p + n;
        while (b < e && (*b == ' ' || *b == '\t'))
            b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e > b)
            json_array_append_new(a, json_stringn(b, (size_t)(e - b)));
        p += n + (p[n] == ',');
    }
    return a;
}

/* --force-public-repos (upstream's defence in depth): when the workflow's
 * own repository (GITHUB_REPOSITORY) is public, the allow-only scope becomes
 * "public" so an agent in a public workflow cannot read private data even
 * if its policy was compiled too wide. Any failure keeps the policy. */
static void force_public_repos(const gw_upstream_t *up, json_t *policy)
{
    const char *nwo = getenv("GITHUB_REPOSITORY");
    if (!nwo || !*nwo) {
        gw_log(GW_LOG_INFO, "difc", "forcePublicRepos: GITHUB_REPOSITORY not set — skipping");
        return;
    }
    if (!up->token) {
        gw_log(GW_LOG_INFO, "difc", "forcePublicRepos: no GitHub token available — skipping");
        return;
    }
    bool pub;
    err_t err = {{0}};
    if (!gw_upstream_repo_is_public(up, nwo, &pub, &err)) {
        gw_log(GW_LOG_WARN, "difc", "forcePublicRepos: failed to determine visibility for %s (policy unchanged): %s",
               nwo, err.msg);
        return;
    }
    if (!pub) {
        gw_log(GW_LOG_INFO, "difc", "forcePublicRepos: repo %s is not public — no override needed", nwo);
        return;
    }
    json_t *ao = json_object_get(policy, "allow-only");
    if (!ao)
        ao = json_object_get(policy, "allowonly");
    if (json_is_object(ao))
        json_object_set_new(ao, "repos", json_string("public"));
    else
        json_object_set_new(policy, "allow-only", json_pack("{s:s,s:s}", "repos", "public", "min-integrity", "none"));
    gw_log(GW_LOG_WARN, "difc",
           "FORCED REPOS=PUBLIC: workflow repo %s is public — overriding proxy allow-only scope to prevent private data reads",
           nwo);
}

/* label_agent with the policy (upstream's initGuardPolicy): the agent
 * "proxy" gets the guard's labels, the guard's difc_mode becomes the mode. */
static bool init_policy(proxy_t *p, const gw_proxy_options_t *o, err_t *err)
{
    json_error_t je;
    json_t *raw = json_loads(o->policy, 0, &je);
    if (!raw)
        return err_set(err, "invalid policy JSON: %s", je.text);
    if (o->force_public_repos)
        force_public_repos(&p->up, raw);
    else
        gw_log(GW_LOG_INFO, "difc", "forcePublicRepos: disabled");
    difc_policy_t pol = {0};
    bool ok = difc_policy_parse(raw, &pol, err);
    json_decref(raw);
    if (!ok)
        return err_prefix(err, "policy validation failed");
    if (pol.kind != DIFC_POLICY_ALLOW_ONLY) {
        difc_policy_free(&pol);
        return err_set(err, "policy validation failed: write-sink policies are not supported for guard "
                            "initialization; expected top-level allow-only/allowonly policy");
    }
    json_t *canon = difc_policy_to_json(&pol);
    difc_policy_free(&pol);
    json_t *bots = comma_list(o->trusted_bots), *users = comma_list(o->trusted_users), *payload = NULL;
    ok = canon && guard_label_agent_payload(canon, bots, users, &payload, err);
    json_decref(canon);
    json_decref(bots);
    json_decref(users);
    if (!ok)
        return canon ? err_prefix(err, "policy validation failed") : err_set(err, "out of memory");

    call_backend_ctx_t cb = {p, NULL};
    guard_backend_t gb = {rest_call_tool, &cb};
    guard_ctx_t ctx;
    guard_ctx_init(&ctx, PROXY_GUARD_TIMEOUT_MS, &gb);
    difc_agent_result_t res = {0};
    ok = guard_label_agent(p->guard, &ctx, payload, &res, err) && difc_agents_add(p->agents, PROXY_AGENT, &res.labels, err);
    json_decref(payload);
    if (ok) {
        p->mode = res.mode;
        p->guard_ready = true;
        char *s = difc_tagset_format(&res.labels.secrecy), *i = difc_tagset_format(&res.labels.integrity);
        gw_log(GW_LOG_INFO, "difc", "Guard initialized: mode=%s, secrecy=%s, integrity=%s", difc_mode_name(p->mode),
               s ? s : "", i ? i : "");
        free(s);
        free(i);
    }
    difc_agent_result_free(&res);
    return ok;
}

static bool setup(proxy_t *p, const gw_proxy_options_t *o, err_t *err)
{
    if (!difc_mode_parse(o->guards_mode, &p->mode, err))
        return err_prefix(err, "invalid --guards-mode flag");
    if (!gw_upstream_init(&p->up, o->github_api_url, o->github_token, err))
        return false;
    gw_log(GW_LOG_INFO, "startup", "%s", p->up.token ? "GitHub token configured from flag/env"
                                                     : "No fallback token — proxy will forward client Authorization headers");
    gw_log(GW_LOG_INFO, "startup", "Upstream GitHub API URL: %s", p->up.api_url);
    if (!(p->agents = difc_agents_new()))
        return err_set(err, "out of memory");
    guard_wasm_opts_t gopts = {.name = "github", .log = {guard_log_line, NULL}};
    if (!(p->guard = guard_wasm_load_file(o->guard_wasm, &gopts, err)))
        return err_prefix(err, "failed to load WASM guard from %s", o->guard_wasm);
    if (*o->policy) {
        if (!init_policy(p, o, err))
            return err_prefix(err, "failed to initialize guard policy");
    } else {
        gw_log(GW_LOG_WARN, "startup", "No guard policy configured: every filtered read is refused (503)");
    }
    if (o->tls) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", o->tls_dir && *o->tls_dir ? o->tls_dir : "");
        if (!*dir)
            snprintf(dir, sizeof dir, "%s/proxy-tls", o->log_dir);
        if (!gw_proxy_tls_generate(dir, &p->tls, err))
            return err_prefix(err, "failed to generate TLS certificates");
        /* Tools this process starts trust the proxy's CA. */
        static const char *const vars[] = {"NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "GIT_SSL_CAINFO",
                                           "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE"};
        for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
            setenv(vars[i], p->tls.ca_path, 1);
        gw_log(GW_LOG_INFO, "startup", "TLS certificates generated: ca=%s", p->tls.ca_path);
    }
    p->listen_fd = gw_listen_socket(o->listen, &p->port, err);
    if (p->listen_fd < 0)
        return false;
    return start_http(p, err);
}

static void teardown(proxy_t *p)
{
    if (p->daemon)
        MHD_stop_daemon(p->daemon);
    else if (p->listen_fd >= 0)
        close(p->listen_fd);
    guard_close(p->guard);
    difc_agents_free(p->agents);
    gw_upstream_free(&p->up);
    gw_proxy_tls_free(&p->tls);
}

/* The host clients should name: the listen host, or localhost for a
 * wildcard address. */
static void client_host(const char *listen, char *out, size_t cap)
{
    const char *colon = strrchr(listen, ':');
    size_t n = colon ? (size_t)(colon - listen) : strlen(listen);
    snprintf(out, cap, "%.*s", (int)n, listen);
    if (!*out || !strcmp(out, "0.0.0.0") || !strcmp(out, "[::]") || !strcmp(out, "::"))
        snprintf(out, cap, "localhost");
}

static void print_banner(const proxy_t *p, const gw_proxy_options_t *o)
{
    const char *scheme = p->tls.cert_pem ? "https" : "http";
    char host[256];
    client_host(o->listen, host, sizeof host);
    fprintf(stderr, "\nMCPG GitHub API Proxy\n  Listening: %s://%s:%d\n  Upstream:  %s\n  Mode:      %s\n"
                    "  Guard:     %s\n",
            scheme, host, p->port, p->up.api_url, difc_mode_name(p->mode), o->guard_wasm);
    if (p->tls.cert_pem)
        fprintf(stderr,
                "  CA cert:   %s\n\nConnect with:\n  export GH_HOST=%s:%d\n  export NODE_EXTRA_CA_CERTS=%s\n"
                "  export SSL_CERT_FILE=%s\n  export GIT_SSL_CAINFO=%s\n  gh issue list -R org/repo\n\n",
                p->tls.ca_path, host, p->port, p->tls.ca_path, p->tls.ca_path, p->tls.ca_path);
    else
        fprintf(stderr, "\nConnect with:\n  curl http://%s:%d/repos/org/repo/issues\n\n", host, p->port);
}

int gw_proxy_run(const gw_proxy_options_t *o)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    err_t err = {{0}};
    gw_debug_set_patterns(NULL);
    if (!gw_log_open_set(o->log_dir, GW_LOGS_PROXY, &err))
        fprintf(stderr, "Warning: %s; logging to stderr\n", err.msg);
    gw_log_md(GW_LOG_INFO, "startup", "MCPG Proxy starting: listen=%s, guard=%s, mode=%s, tls=%s", o->listen,
              o->guard_wasm, o->guards_mode, o->tls ? "true" : "false");

    proxy_t p = {.listen_fd = -1};
    int status = 0;
    if (!setup(&p, o, &err)) {
        gw_log(GW_LOG_ERROR, "startup", "%s", err.msg);
        fprintf(stderr, "%s\n", err.msg);
        status = 1;
    } else {
        gw_log(GW_LOG_INFO, "startup", "Proxy listening on %s://%s (port %d)", p.tls.cert_pem ? "https" : "http",
               o->listen, p.port);
        print_banner(&p, o);
        int sig = sigwaitinfo(&set, NULL);
        while (sig < 0)
            sig = sigwaitinfo(&set, NULL);
        gw_log_md(GW_LOG_INFO, "shutdown", "Shutting down proxy... (%s)", sig == SIGINT ? "SIGINT" : "SIGTERM");
    }
    teardown(&p);
    gw_log_close();
    curl_global_cleanup();
    return status;
}
