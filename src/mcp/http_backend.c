/*
 * http_backend.c — an MCP server reached over streamable HTTP, revisions
 * 2025-03-26 … 2025-11-25 (spec: mcp-protocol §1.3, gateway §3.3).
 *
 * Each request is one POST performed in the caller's thread on a pooled curl
 * easy handle (a handle keeps its connections alive, so reusing handles
 * reuses connections). The answer is either one JSON object or an SSE stream
 * that may carry notifications and server->client requests before the
 * response; those are routed as they arrive. The session id from the
 * initialize response is sent on every later request with
 * MCP-Protocol-Version. A 404 on a request that carried a session id means
 * the server forgot the session: we initialize again once and retry.
 * If an SSE stream ends after an event with an id but before the response,
 * we resume it with GET + Last-Event-ID (2025-11-25 polling).
 *
 * Plain JSON-RPC over POST (gateway §3.3 step 3, servers like safeinputs):
 * a server that rejects notifications/initialized is not a streamable MCP
 * server, so the connection switches to upstream's plain rules: no more
 * notifications, no MCP-Protocol-Version, the caller's client session id
 * (mcp_call_opts_t.session_id) as Mcp-Session-Id, else the one captured at
 * initialize; a non-200 answer becomes a JSON-RPC error; a 404 whose body says
 * "session not found" re-initializes once and retries.
 *
 * Invariants: `session` changes only under mu, and `session_gen` counts the
 * changes so that only one thread re-initialises for a given expired session.
 */
#include "mcp/mcp_internal.h"

#include <curl/curl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_RESUMES 3

typedef struct http_impl {
    pthread_mutex_t mu;
    pthread_cond_t cv;     /* reinit finished */
    char *session;         /* NULL: none */
    unsigned session_gen;
    bool reiniting;
    bool plain;            /* plain JSON-RPC server (see the top); under mu */
    mcp_curl_pool_t pool;
} http_impl_t;

static http_impl_t *impl_of(mcp_backend_t *b) { return b->impl; }

/* ------------------------------------------------------------ handles */

/* ----------------------------------------------------------- transfers */

typedef struct xfer {
    mcp_backend_t *b;
    mcp_call_t *c;            /* the request being answered; NULL otherwise */
    json_int_t id;            /* its wire id */
    long status;
    char content_type[128];
    char session[256];
    bool got_session;
    bool is_sse;
    util_buf_t body;          /* non-SSE body, bounded by max_message */
    bool too_big;
    mcp_sse_parser_t *sse;
    json_t *response;         /* matched response message */
    int64_t response_at;
    bool saw_event_id;        /* for resumption */
    long retry_ms;
    err_t stream_err;
} xfer_t;

static size_t on_header(char *line, size_t size, size_t nitems, void *ud)
{
    xfer_t *x = ud;
    size_t n = size * nitems;
    const char *v;
    size_t vl;
    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        /* A new response (after 100-continue or a redirect): start over. */
        x->content_type[0] = '\0';
        x->got_session = false;
    } else if (mcp__http_header_is(line, n, "content-type", &v, &vl)) {
        snprintf(x->content_type, sizeof x->content_type, "%.*s", (int)vl, v);
    } else if (mcp__http_header_is(line, n, "mcp-session-id", &v, &vl) && vl > 0 && vl < sizeof x->session) {
        memcpy(x->session, v, vl);
        x->session[vl] = '\0';
        x->got_session = true;
    }
    return n;
}

static void post_message(mcp_backend_t *b, const json_t *msg, const char *method, int64_t deadline_ms);

/* One JSON-RPC message received on a stream or as a body. */
static void received(xfer_t *x, json_t *value)
{
    mcp_backend_t *b = x->b;
    mcp_msg_t m;
    err_t e = {{0}};
    if (mcp_jsonrpc_classify(value, &m, &e) != MCP_PARSE_OK) {
        mcp__log(b, MCP_LOG_WARN, "ignoring an invalid message from the server: %s", e.msg);
        mcp_msg_free(&m);
        return;
    }
    switch (m.kind) {
    case MCP_MSG_RESPONSE:
    case MCP_MSG_ERROR: {
        bool mine = x->c && (json_is_null(m.id) ? m.kind == MCP_MSG_ERROR
                                                : json_is_integer(m.id) && json_integer_value(m.id) == x->id);
        mcp__rpc_log(b, MCP_DIR_IN, mine ? x->c->method : NULL, m.root, NULL);
        if (mine && !x->response) {
            x->response = json_incref(m.root);
            x->response_at = mcp_now_ms();
        }
        break;
    }
    case MCP_MSG_NOTIFICATION:
        mcp__rpc_log(b, MCP_DIR_IN, m.method, m.root, NULL);
        mcp__route_notification(b, x->c, true, m.root);
        break;
    case MCP_MSG_REQUEST: {
        mcp__rpc_log(b, MCP_DIR_IN, m.method, m.root, NULL);
        json_t *resp = mcp__answer_server_request(b, &m);
        if (resp)
            post_message(b, resp, m.method, mcp_now_ms() + 5000);
        json_decref(resp);
        break;
    }
    }
    mcp_msg_free(&m);
}

static bool on_sse_event(void *ud, const mcp_sse_event_t *ev)
{
    xfer_t *x = ud;
    if (ev->id[0])
        x->saw_event_id = true;
    if (ev->retry_ms >= 0)
        x->retry_ms = ev->retry_ms;
    if (ev->data_len == 0 || strcmp(ev->event, "message") != 0)
        return true; /* priming events and unknown event types */
    json_error_t je;
    json_t *v = json_loadb(ev->data, ev->data_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!v) {
        mcp__log(x->b, MCP_LOG_WARN, "ignoring a non-JSON SSE event: %s", je.text);
        return true;
    }
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            received(x, json_array_get(v, i));
    } else {
        received(x, v);
    }
    json_decref(v);
    return true;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    xfer_t *x = ud;
    size_t n = size * nmemb;
    if (!x->sse && !x->body.p && strncasecmp(x->content_type, "text/event-stream", 17) == 0) {
        x->is_sse = true;
        x->sse = mcp_sse_parser_new(x->b->max_message, on_sse_event, x);
        if (!x->sse)
            return 0;
    }
    if (x->is_sse) {
        if (!mcp_sse_parser_feed(x->sse, data, n, &x->stream_err))
            return 0;
        return n;
    }
    if (x->body.len + n > x->b->max_message) {
        x->too_big = true;
        return 0;
    }
    if (!util_buf_append(&x->body, data, n))
        return 0;
    return n;
}

static int on_progress(void *ud, curl_off_t dlt, curl_off_t dln, curl_off_t ult, curl_off_t uln)
{
    (void)dlt, (void)dln, (void)ult, (void)uln;
    xfer_t *x = ud;
    if (x->c && x->c->cancel && atomic_load(x->c->cancel))
        return 1;
    /* The server should close an SSE stream after the response; if it lingers
     * we stop reading shortly after, rather than waiting for the deadline. */
    if (x->response && mcp_now_ms() - x->response_at > 300)
        return 1;
    return 0;
}

static void xfer_free(xfer_t *x)
{
    util_buf_free(&x->body);
    mcp_sse_parser_free(x->sse);
    json_decref(x->response);
}

/* Builds the header list for one request. `session` may be NULL. */
static bool build_headers(mcp_backend_t *b, struct curl_slist **list, const char *accept, const char *session,
                          bool with_version, const char *last_event_id, err_t *err)
{
    char line[512];
    bool ok = mcp__http_base_headers(b, list, accept, true, err);
    if (session) {
        snprintf(line, sizeof line, "Mcp-Session-Id: %s", session);
        ok = ok && mcp__http_add_header(list, line);
    }
    if (with_version) {
        char pv[32];
        mcp__proto(b, pv, sizeof pv);
        if (pv[0]) {
            snprintf(line, sizeof line, "MCP-Protocol-Version: %s", pv);
            ok = ok && mcp__http_add_header(list, line);
        }
    }
    if (last_event_id) {
        snprintf(line, sizeof line, "Last-Event-ID: %.400s", last_event_id);
        ok = ok && mcp__http_add_header(list, line);
    }
    if (!ok)
        return err_set(err, "out of memory");
    return mcp__http_dynamic_headers(b, list, err);
}

/* Performs one HTTP exchange. body NULL means GET. Returns the curl code. */
static CURLcode perform(mcp_backend_t *b, xfer_t *x, const char *body, size_t len, struct curl_slist *hdrs,
                        int64_t deadline_ms, char *curl_err)
{
    http_impl_t *h = impl_of(b);
    CURL *c = mcp__curl_pool_get(&h->pool);
    if (!c) {
        snprintf(curl_err, CURL_ERROR_SIZE, "cannot create a curl handle");
        return CURLE_OUT_OF_MEMORY;
    }
    curl_err[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, b->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
    long connect_ms = b->connect_timeout_ms;
    if (deadline_ms) {
        int64_t left = deadline_ms - mcp_now_ms();
        if (left < 1)
            left = 1;
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)left);
        if (left < connect_ms)
            connect_ms = (long)left;
    }
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x->status);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    mcp__curl_pool_put(&h->pool, c);
    return rc;
}

static bool is_plain(http_impl_t *h)
{
    pthread_mutex_lock(&h->mu);
    bool p = h->plain;
    pthread_mutex_unlock(&h->mu);
    return p;
}

/* Sends a notification or a response (no answer expected but 2xx). The HTTP
 * status goes to *status when given (0: no answer). */
static bool post_simple(mcp_backend_t *b, const json_t *msg, const char *method, int64_t deadline_ms,
                        long *status, err_t *err)
{
    http_impl_t *h = impl_of(b);
    size_t len;
    char *text = mcp_jsonrpc_serialize(msg, &len);
    if (!text)
        return err_set(err, "out of memory");
    char session[256] = "";
    pthread_mutex_lock(&h->mu);
    if (h->session)
        snprintf(session, sizeof session, "%s", h->session);
    pthread_mutex_unlock(&h->mu);
    struct curl_slist *hdrs = NULL;
    bool ok = build_headers(b, &hdrs, "application/json, text/event-stream", session[0] ? session : NULL, true,
                            NULL, err);
    if (ok) {
        mcp__rpc_log(b, MCP_DIR_OUT, method, msg, NULL);
        xfer_t x = {.b = b, .retry_ms = -1};
        char cerr[CURL_ERROR_SIZE];
        CURLcode rc = perform(b, &x, text, len, hdrs, deadline_ms, cerr);
        if (status)
            *status = rc == CURLE_OK ? x.status : 0;
        if (rc != CURLE_OK)
            ok = err_set(err, "backend '%s': POST %s failed: %s", b->id, method, cerr[0] ? cerr : curl_easy_strerror(rc));
        else if (x.status < 200 || x.status > 299)
            ok = err_set(err, "backend '%s': POST %s answered HTTP %ld", b->id, method, x.status);
        xfer_free(&x);
    }
    curl_slist_free_all(hdrs);
    free(text);
    return ok;
}

static void post_message(mcp_backend_t *b, const json_t *msg, const char *method, int64_t deadline_ms)
{
    err_t e = {{0}};
    if (is_plain(impl_of(b)))
        return; /* a plain JSON-RPC server takes no notifications or replies */
    if (!post_simple(b, msg, method, deadline_ms, NULL, &e))
        mcp__log(b, MCP_LOG_WARN, "%s", e.msg);
}

/* ---------------------------------------------------------------- ops */

static bool http_open(mcp_backend_t *b, int64_t deadline_ms, err_t *err)
{
    (void)deadline_ms;
    http_impl_t *h = impl_of(b);
    pthread_mutex_lock(&h->mu);
    free(h->session);
    h->session = NULL;
    h->session_gen++;
    h->plain = false; /* decided again by this connection's handshake */
    pthread_mutex_unlock(&h->mu);
    if (!mcp__curl_ready())
        return err_set(err, "backend '%s': libcurl failed to initialise", b->id);
    mcp__log(b, MCP_LOG_INFO, "connecting to %s", b->url);
    return true;
}

static void http_close(mcp_backend_t *b, bool graceful, const char *why)
{
    (void)why;
    http_impl_t *h = impl_of(b);
    pthread_mutex_lock(&h->mu);
    char *session = h->session;
    h->session = NULL;
    h->session_gen++;
    bool plain = h->plain;
    pthread_mutex_unlock(&h->mu);
    if (session && graceful && !plain) {
        /* End the session politely; 405 (not supported) is fine too. */
        CURL *c = mcp__curl_pool_get(&h->pool);
        struct curl_slist *hdrs = NULL;
        char line[300];
        snprintf(line, sizeof line, "Mcp-Session-Id: %s", session);
        if (c && mcp__http_add_header(&hdrs, line)) {
            for (char **p = b->headers; p && *p; p++)
                mcp__http_add_header(&hdrs, *p);
            curl_easy_setopt(c, CURLOPT_URL, b->url);
            curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
            curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
            curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)b->shutdown_grace_ms);
            curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
            xfer_t x = {.b = b, .retry_ms = -1};
            curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
            curl_easy_perform(c);
            curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
            xfer_free(&x);
        }
        curl_slist_free_all(hdrs);
        if (c)
            curl_easy_cleanup(c); /* not back to the pool: CUSTOMREQUEST set */
    }
    free(session);
}

static bool http_notify(mcp_backend_t *b, const json_t *msg, int64_t deadline_ms, err_t *err)
{
    http_impl_t *h = impl_of(b);
    const char *method = json_string_value(json_object_get(msg, "method"));
    bool initialized = method && strcmp(method, "notifications/initialized") == 0;
    if (initialized && is_plain(h))
        return true; /* re-initialising a plain server: upstream sends none */
    long status = 0;
    bool ok = post_simple(b, msg, method ? method : "notification", deadline_ms, &status, err);
    if (!ok && initialized && status >= 400) {
        /* Answered, but not as a streamable server would: plain JSON-RPC. */
        pthread_mutex_lock(&h->mu);
        h->plain = true;
        pthread_mutex_unlock(&h->mu);
        mcp__log(b, MCP_LOG_INFO, "server rejected notifications/initialized (HTTP %ld): using plain JSON-RPC over POST",
                 status);
    }
    return ok;
}

/* Waits while another thread re-initialises the session. */
static void wait_reinit(http_impl_t *h, int64_t deadline_ms)
{
    pthread_mutex_lock(&h->mu);
    while (h->reiniting && mcp__cond_wait(&h->cv, &h->mu, deadline_ms, 100)) {
    }
    pthread_mutex_unlock(&h->mu);
}

/* The server said 404 to session `gen`: initialize again, unless another
 * thread already did. */
static bool reinitialize(mcp_backend_t *b, unsigned gen, int64_t deadline_ms, err_t *err)
{
    http_impl_t *h = impl_of(b);
    pthread_mutex_lock(&h->mu);
    while (h->reiniting)
        mcp__cond_wait(&h->cv, &h->mu, 0, 100);
    if (h->session_gen != gen) {
        pthread_mutex_unlock(&h->mu);
        return true;
    }
    h->reiniting = true;
    free(h->session);
    h->session = NULL;
    h->session_gen++;
    pthread_mutex_unlock(&h->mu);

    mcp__log(b, MCP_LOG_INFO, "session expired (HTTP 404); initializing again");
    int64_t d = mcp_now_ms() + b->startup_timeout_ms;
    if (deadline_ms && deadline_ms < d)
        d = deadline_ms;
    bool ok = mcp__handshake(b, d, err);

    pthread_mutex_lock(&h->mu);
    h->reiniting = false;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    return ok;
}

/* Go's http.StatusText for the codes a backend plausibly sends. */
static const char *status_text(long code)
{
    switch (code) {
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Request Entity Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
    }
}

static bool contains_nocase(const char *hay, size_t n, const char *needle)
{
    size_t nl = strlen(needle);
    for (size_t i = 0; hay && i + nl <= n; i++)
        if (strncasecmp(hay + i, needle, nl) == 0)
            return true;
    return false;
}

/* A plain server's body: JSON first, then the first "data: " line (SSE
 * without the content type). New reference or NULL. */
static json_t *plain_parse(const xfer_t *x)
{
    if (!x->body.p || x->body.len == 0)
        return NULL;
    json_t *v = json_loadb(x->body.p, x->body.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (json_is_object(v))
        return v;
    json_decref(v);
    for (const char *p = x->body.p, *end = x->body.p + x->body.len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if (le - p > 6 && strncmp(p, "data: ", 6) == 0) {
            v = json_loadb(p + 6, (size_t)(le - p - 6), JSON_DECODE_ANY, NULL);
            if (json_is_object(v))
                return v;
            json_decref(v);
            return NULL;
        }
        p = le + 1;
    }
    return NULL;
}

/* Upstream's answer rules for a plain server (gateway §3.3): the response
 * as parsed; a non-200 status turns it, or an unparseable body, into the
 * JSON-RPC error {-32603, "HTTP <code>: <text>", data: <raw body>}. */
static mcp_call_status_t plain_answer(mcp_backend_t *b, xfer_t *x, const char *method, json_int_t id,
                                      json_t **response, err_t *err)
{
    json_t *v = x->response ? json_incref(x->response) : plain_parse(x);
    if (x->status == 200) {
        if (!v)
            return err_set(err,
                           "backend '%s': %s: failed to parse JSON-RPC response (received non-JSON or malformed response): %.500s",
                           b->id, method, x->body.p ? x->body.p : ""),
                   MCP_CALL_FAILED;
        *response = v;
        return MCP_CALL_OK;
    }
    if (v && json_object_get(v, "error")) {
        *response = v;
        return MCP_CALL_OK;
    }
    char msg[128];
    snprintf(msg, sizeof msg, "HTTP %ld: %s", x->status, status_text(x->status));
    json_t *data = json_stringn(x->body.p ? x->body.p : "", x->body.len); /* NULL (omitted) if not UTF-8 */
    json_t *e = json_pack("{s:i,s:s,s:o*}", "code", MCP_ERR_INTERNAL, "message", msg, "data", data);
    if (!v) {
        json_t *jid = json_integer(id);
        v = json_pack("{s:s,s:o*}", "jsonrpc", "2.0", "id", jid);
    }
    if (!e || !v || json_object_set_new(v, "error", e) != 0) {
        json_decref(v);
        return err_set(err, "out of memory"), MCP_CALL_FAILED;
    }
    json_object_del(v, "result");
    *response = v;
    return MCP_CALL_OK;
}

static void send_cancel(mcp_backend_t *b, json_int_t id, const char *reason)
{
    if (is_plain(impl_of(b)))
        return;
    json_t *params = json_pack("{s:I, s:s}", "requestId", id, "reason", reason);
    json_t *note = params ? mcp_jsonrpc_notification("notifications/cancelled", params) : NULL;
    if (note)
        post_message(b, note, "notifications/cancelled", mcp_now_ms() + 1000);
    json_decref(note);
    json_decref(params);
}

/* Keeps the Mcp-Session-Id of an initialize answer (none: no session). */
static void capture_session(http_impl_t *h, const xfer_t *x)
{
    pthread_mutex_lock(&h->mu);
    free(h->session);
    h->session = x->got_session ? strdup(x->session) : NULL;
    h->session_gen++;
    pthread_mutex_unlock(&h->mu);
}

static mcp_call_status_t http_call(mcp_backend_t *b, mcp_call_t *c, json_t **response, err_t *err)
{
    http_impl_t *h = impl_of(b);
    *response = NULL;
    bool is_init = strcmp(c->method, "initialize") == 0;
    json_int_t id = (json_int_t)atomic_fetch_add(&b->next_id, 1);
    json_t *jid = json_integer(id);
    json_t *msg = jid ? mcp_jsonrpc_request(jid, c->method, c->params) : NULL;
    json_decref(jid);
    size_t len = 0;
    char *text = msg ? mcp_jsonrpc_serialize(msg, &len) : NULL;
    if (!text) {
        json_decref(msg);
        return err_set(err, "out of memory"), MCP_CALL_FAILED;
    }
    mcp_call_status_t st = MCP_CALL_FAILED;
    bool retried = false;
    int resumes = 0;
    char last_id[512] = "";
    long retry_ms = -1;

    for (;;) {
        if (!is_init)
            wait_reinit(h, c->deadline_ms);
        char session[256] = "";
        pthread_mutex_lock(&h->mu);
        unsigned gen = h->session_gen;
        bool plain = h->plain;
        if (plain && c->session_id && *c->session_id && !is_init)
            snprintf(session, sizeof session, "%s", c->session_id);
        else if (h->session)
            snprintf(session, sizeof session, "%s", h->session);
        pthread_mutex_unlock(&h->mu);

        bool resuming = last_id[0] != '\0';
        struct curl_slist *hdrs = NULL;
        if (!build_headers(b, &hdrs, resuming ? "text/event-stream" : "application/json, text/event-stream",
                           session[0] ? session : NULL, !is_init && !plain, resuming ? last_id : NULL, err)) {
            curl_slist_free_all(hdrs);
            break;
        }
        if (resuming) {
            if (retry_ms > 0) {
                int64_t until = mcp_now_ms() + retry_ms;
                while (mcp_now_ms() < until && mcp__call_expired(c) == MCP_CALL_OK)
                    poll(NULL, 0, 20);
            }
        } else {
            mcp__rpc_log(b, MCP_DIR_OUT, c->method, msg, NULL);
        }
        xfer_t x = {.b = b, .c = c, .id = id, .retry_ms = -1};
        char cerr[CURL_ERROR_SIZE];
        CURLcode rc = perform(b, &x, resuming ? NULL : text, len, hdrs, c->deadline_ms, cerr);
        curl_slist_free_all(hdrs);

        if (!x.response && x.is_sse && x.sse)
            snprintf(last_id, sizeof last_id, "%s", mcp_sse_parser_last_event_id(x.sse));
        else
            last_id[0] = '\0';
        retry_ms = x.retry_ms;

        if (x.response && !(plain && x.status != 200)) {
            /* Got it, even if we then cut a lingering stream. */
            if (is_init)
                capture_session(h, &x);
            *response = x.response;
            x.response = NULL;
            xfer_free(&x);
            st = MCP_CALL_OK;
            break;
        }
        if (rc == CURLE_OPERATION_TIMEDOUT || (rc != CURLE_OK && mcp__call_expired(c) == MCP_CALL_TIMEOUT)) {
            xfer_free(&x);
            st = MCP_CALL_TIMEOUT;
            err_set(err, "backend '%s': %s: context deadline exceeded", b->id, c->method);
            if (!is_init)
                send_cancel(b, id, "context deadline exceeded");
            break;
        }
        if (rc == CURLE_ABORTED_BY_CALLBACK && mcp__call_expired(c) == MCP_CALL_CANCELLED) {
            xfer_free(&x);
            st = MCP_CALL_CANCELLED;
            err_set(err, "backend '%s': %s cancelled", b->id, c->method);
            send_cancel(b, id, "request cancelled");
            break;
        }
        if (rc != CURLE_OK) {
            if (x.too_big)
                err_set(err, "backend '%s': %s: response larger than %zu bytes", b->id, c->method, b->max_message);
            else if (x.stream_err.msg[0])
                err_set(err, "backend '%s': %s: %s", b->id, c->method, x.stream_err.msg);
            else
                err_set(err, "backend '%s': %s: HTTP request to %s failed: %s", b->id, c->method, b->url,
                        cerr[0] ? cerr : curl_easy_strerror(rc));
            xfer_free(&x);
            break;
        }
        bool expired = plain ? x.status == 404 && contains_nocase(x.body.p, x.body.len, "session not found")
                             : x.status == 404 && session[0];
        if (expired && !is_init && !retried && !resuming) {
            xfer_free(&x);
            retried = true;
            if (!reinitialize(b, gen, c->deadline_ms, err)) {
                err_prefix(err, "backend '%s': session expired and re-initialisation failed", b->id);
                break;
            }
            continue;
        }
        if (plain) {
            st = plain_answer(b, &x, c->method, id, response, err);
            if (st == MCP_CALL_OK && is_init)
                capture_session(h, &x);
            xfer_free(&x);
            break;
        }
        if (!x.is_sse && x.body.len > 0) {
            /* A JSON body: normally 200 with the response; on 4xx/5xx a
             * JSON-RPC error body is passed on as the backend's error. */
            json_t *v = json_loadb(x.body.p, x.body.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
            if (v)
                received(&x, v);
            json_decref(v);
            if (x.response) {
                if (is_init)
                    capture_session(h, &x); /* a JSON initialize answer names it too */
                *response = x.response;
                x.response = NULL;
                xfer_free(&x);
                st = MCP_CALL_OK;
                break;
            }
        }
        if (x.is_sse && last_id[0] && x.status == 200 && resumes < MAX_RESUMES) {
            resumes++;
            xfer_free(&x);
            continue; /* the server closed the stream early: resume it */
        }
        if (x.status >= 200 && x.status <= 299)
            err_set(err, "backend '%s': %s: HTTP %ld without a JSON-RPC response", b->id, c->method, x.status);
        else
            err_set(err, "backend '%s': %s: HTTP %ld from %s: %.200s", b->id, c->method, x.status, b->url,
                    x.body.p ? x.body.p : "");
        xfer_free(&x);
        break;
    }
    if (st != MCP_CALL_OK)
        mcp__rpc_log(b, MCP_DIR_IN, c->method, NULL, err ? err->msg : "request failed");
    free(text);
    json_decref(msg);
    return st;
}

static void http_destroy(mcp_backend_t *b)
{
    http_impl_t *h = impl_of(b);
    mcp__curl_pool_free(&h->pool);
    free(h->session);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    free(h);
    b->impl = NULL;
}

const mcp_backend_ops_t mcp_http_ops = {
    .open = http_open,
    .close = http_close,
    .call = http_call,
    .notify = http_notify,
    .destroy = http_destroy,
};

bool mcp_http_init(mcp_backend_t *b, err_t *err)
{
    http_impl_t *h = calloc(1, sizeof *h);
    if (!h)
        return err_set(err, "out of memory");
    if (pthread_mutex_init(&h->mu, NULL) != 0 || !mcp__cond_init(&h->cv) || !mcp__curl_pool_init(&h->pool)) {
        free(h);
        return err_set(err, "backend '%s': cannot create locks", b->id);
    }
    b->impl = h;
    return true;
}
