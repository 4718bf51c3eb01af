/*
 * sse_backend.c — an MCP server reached over the HTTP+SSE transport of
 * protocol revision 2024-11-05 (spec: mcp-protocol §1, gateway §3.3 step 2),
 * deprecated since 2025-03-26 but still what many deployed servers speak.
 *
 * The client GETs the server's URL and keeps the text/event-stream open. The
 * server's first event is `endpoint`, whose data is the URI to POST every
 * client message to (usually relative, carrying a session id in its query).
 * Every server message (responses, notifications, server->client requests)
 * then arrives as a `message` event on the GET stream; a POST is answered
 * only with 202 Accepted. So, like stdio, this transport has one inbound
 * stream read by one thread, and pending.c correlates answers by id.
 *
 * Threads: a reader thread per connection drives the GET on its own curl
 * multi handle (so that close() can wake it at once with curl_multi_wakeup);
 * callers POST on pooled easy handles in their own threads. When the stream
 * ends, every waiting call fails and the backend is marked EXITED: the next
 * call reconnects, which is how a server that forgot our session (a restart)
 * is recovered (spec: gateway §3.3, "SDK transports ... reconnect").
 *
 * Security: the endpoint must have the origin (scheme, host, port) of the
 * configured URL. A server cannot make us send its peers our configured
 * headers (tokens, OIDC bearers) by naming another host.
 *
 * Invariants: `endpoint`, `connected`, `ended` and `end_msg` change only
 * under mu; `multi` exists from open() to close(), and only the reader uses
 * it except for curl_multi_wakeup.
 */
#include "mcp/mcp_internal.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define POST_BODY_KEEP 200 /* bytes of a refused POST's body quoted in the error */

typedef struct sse_impl {
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* the endpoint arrived or the stream ended */
    mcp_pending_t pending;      /* its lock is mu */
    CURLM *multi;               /* the GET stream's; NULL when closed */
    pthread_t reader;
    bool reader_started;
    atomic_bool closing;
    bool connected;             /* endpoint known and the stream still open */
    bool ended;                 /* the reader has finished */
    char *endpoint;             /* absolute URL for POSTs; NULL until known */
    char end_msg[ERR_MSG_MAX];  /* why the stream ended or failed */
    mcp_curl_pool_t pool;       /* idle POST handles */
} sse_impl_t;

static sse_impl_t *impl_of(mcp_backend_t *b) { return b->impl; }

/* ------------------------------------------------------------ endpoint */

static bool same_origin_part(CURLU *a, CURLU *b, CURLUPart part, unsigned flags)
{
    char *x = NULL, *y = NULL;
    bool same = curl_url_get(a, part, &x, flags) == CURLUE_OK && curl_url_get(b, part, &y, flags) == CURLUE_OK &&
                strcasecmp(x, y) == 0;
    curl_free(x);
    curl_free(y);
    return same;
}

/* Resolves the `endpoint` event's URI against the configured URL and checks
 * it stays on the same origin. Returns a malloc'd absolute URL or NULL with
 * err set. */
static char *resolve_endpoint(const char *base, const char *ref, err_t *err)
{
    CURLU *origin = curl_url(), *u = curl_url();
    char *out = NULL, *result = NULL;
    if (!origin || !u) {
        err_set(err, "out of memory");
        goto done;
    }
    if (curl_url_set(origin, CURLUPART_URL, base, 0) != CURLUE_OK || curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_URL, ref, 0) != CURLUE_OK) {
        err_set(err, "the endpoint event's URI '%.200s' is not a valid URL reference", ref);
        goto done;
    }
    if (!same_origin_part(origin, u, CURLUPART_SCHEME, 0) || !same_origin_part(origin, u, CURLUPART_HOST, 0) ||
        !same_origin_part(origin, u, CURLUPART_PORT, CURLU_DEFAULT_PORT)) {
        err_set(err, "the endpoint event names another origin than %.200s: '%.200s'", base, ref);
        goto done;
    }
    if (curl_url_get(u, CURLUPART_URL, &out, 0) != CURLUE_OK || !(result = strdup(out)))
        err_set(err, "out of memory");
done:
    curl_free(out);
    curl_url_cleanup(origin);
    curl_url_cleanup(u);
    return result;
}

/* -------------------------------------------------------------- POST */

typedef struct post_body {
    char text[POST_BODY_KEEP + 1];
    size_t len;
} post_body_t;

/* Keeps the start of the answer's body, for error messages; drops the rest. */
static size_t keep_body(char *data, size_t size, size_t nmemb, void *ud)
{
    post_body_t *pb = ud;
    size_t n = size * nmemb;
    size_t take = n < POST_BODY_KEEP - pb->len ? n : POST_BODY_KEEP - pb->len;
    memcpy(pb->text + pb->len, data, take);
    pb->len += take;
    pb->text[pb->len] = '\0';
    return n;
}

/* True when curl failed before any byte of the request could have reached
 * the server, so that sending again cannot duplicate it. */
static bool nothing_sent(CURLcode rc)
{
    return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY ||
           rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_OUT_OF_MEMORY;
}

/* mcp_stream_io_t.send: POSTs one message to the endpoint. */
static mcp_send_result_t post_msg(mcp_backend_t *b, const json_t *msg, const char *method, int64_t deadline_ms,
                                  err_t *err)
{
    sse_impl_t *s = impl_of(b);
    if (!method)
        method = "message";
    char *endpoint = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->endpoint)
        endpoint = strdup(s->endpoint);
    pthread_mutex_unlock(&s->mu);
    if (!endpoint)
        return err_set(err, "backend '%s': not connected", b->id), MCP_SEND_NOT_SENT;
    size_t len;
    char *text = mcp_jsonrpc_serialize(msg, &len);
    struct curl_slist *hdrs = NULL;
    CURL *c = NULL;
    mcp_send_result_t r = MCP_SEND_NOT_SENT;
    if (!text || !(c = mcp__curl_pool_get(&s->pool))) {
        err_set(err, "out of memory");
        goto done;
    }
    if (!mcp__http_base_headers(b, &hdrs, "application/json, text/event-stream", true, err) ||
        !mcp__http_dynamic_headers(b, &hdrs, err))
        goto done;
    mcp__rpc_log(b, MCP_DIR_OUT, method, msg, NULL);
    char cerr[CURL_ERROR_SIZE] = "";
    post_body_t body = {.len = 0};
    /* A POST is only handed over (202): it is bounded by the call's
     * deadline, or by the connect timeout when the call has none. */
    int64_t left = deadline_ms ? deadline_ms - mcp_now_ms() : b->connect_timeout_ms;
    if (left < 1)
        left = 1;
    curl_easy_setopt(c, CURLOPT_URL, endpoint);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)left);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(left < b->connect_timeout_ms ? left : b->connect_timeout_ms));
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        r = MCP_SEND_TIMEOUT;
        err_set(err, "backend '%s': POST %s to %s timed out", b->id, method, endpoint);
    } else if (rc != CURLE_OK) {
        r = nothing_sent(rc) ? MCP_SEND_NOT_SENT : MCP_SEND_FAILED;
        err_set(err, "backend '%s': POST %s to %s failed: %s", b->id, method, endpoint,
                cerr[0] ? cerr : curl_easy_strerror(rc));
    } else if (status == 404) {
        /* The server forgot our session (it keeps none across restarts) and
         * did not act on the message: sending it again after reconnecting
         * cannot duplicate it, so report it unsent and let the backend
         * reconnect and retry once (spec: gateway §3.3, "session not
         * found" reconnect). */
        r = MCP_SEND_NOT_SENT;
        err_set(err, "backend '%s': POST %s answered HTTP 404 (session not found): %s", b->id, method, body.text);
    } else if (status < 200 || status > 299) {
        r = MCP_SEND_FAILED;
        err_set(err, "backend '%s': POST %s answered HTTP %ld: %s", b->id, method, status, body.text);
    } else {
        r = MCP_SEND_OK;
    }
done:
    if (c)
        mcp__curl_pool_put(&s->pool, c);
    curl_slist_free_all(hdrs);
    free(text);
    free(endpoint);
    return r;
}

/* mcp_stream_io_t.ready: mu held. */
static bool stream_ready(mcp_backend_t *b, err_t *err)
{
    sse_impl_t *s = impl_of(b);
    if (s->connected)
        return true;
    return err_set(err, "%s", s->end_msg[0] ? s->end_msg : "backend is not connected");
}

static const mcp_stream_io_t sse_io = {.ready = stream_ready, .send = post_msg};

/* ------------------------------------------------------------ reader */

typedef struct stream {
    mcp_backend_t *b;
    CURL *c;
    mcp_sse_parser_t *parser;
    bool checked;             /* status and content type looked at */
    err_t fail;               /* why the reader stopped the stream */
    err_t event_fail;         /* why on_event stopped the parser */
} stream_t;

static bool on_event(void *ud, const mcp_sse_event_t *ev)
{
    stream_t *st = ud;
    mcp_backend_t *b = st->b;
    sse_impl_t *s = impl_of(b);
    if (strcmp(ev->event, "endpoint") == 0) {
        pthread_mutex_lock(&s->mu);
        bool known = s->endpoint != NULL;
        pthread_mutex_unlock(&s->mu);
        if (known) {
            mcp__log(b, MCP_LOG_DEBUG, "ignoring a second endpoint event");
            return true;
        }
        char *ref = strndup(ev->data, ev->data_len);
        char *url = ref ? resolve_endpoint(b->url, ref, &st->event_fail) : NULL;
        if (!ref)
            err_set(&st->event_fail, "out of memory");
        free(ref);
        if (!url)
            return false; /* stops the stream: st->event_fail says why */
        pthread_mutex_lock(&s->mu);
        s->endpoint = url;
        s->connected = true;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        mcp__log(b, MCP_LOG_DEBUG, "SSE endpoint: %s", url);
        return true;
    }
    if (strcmp(ev->event, "message") != 0 || ev->data_len == 0)
        return true; /* comments, pings and events of other names */
    mcp__pending_dispatch_text(b, &s->pending, &sse_io, ev->data, ev->data_len);
    return true;
}

static bool check_response(stream_t *st)
{
    st->checked = true;
    long status = 0;
    char *ct = NULL;
    curl_easy_getinfo(st->c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(st->c, CURLINFO_CONTENT_TYPE, &ct);
    if (status != 200)
        return err_set(&st->fail, "GET %s answered HTTP %ld", st->b->url, status);
    if (!ct || strncasecmp(ct, "text/event-stream", 17) != 0)
        return err_set(&st->fail, "GET %s answered %s, not an event stream", st->b->url, ct ? ct : "without a content type");
    return true;
}

static size_t on_stream(char *data, size_t size, size_t nmemb, void *ud)
{
    stream_t *st = ud;
    size_t n = size * nmemb;
    if (!st->checked && !check_response(st))
        return 0;
    if (!mcp_sse_parser_feed(st->parser, data, n, &st->fail)) {
        if (st->event_fail.msg[0])
            st->fail = st->event_fail;
        return 0;
    }
    return n;
}

/* Marks the stream ended and fails what waited on it (the reader's last act). */
static void stream_ended(mcp_backend_t *b, const char *why)
{
    sse_impl_t *s = impl_of(b);
    bool closing = atomic_load(&s->closing);
    pthread_mutex_lock(&s->mu);
    bool was_connected = s->connected;
    pthread_mutex_unlock(&s->mu);
    if (was_connected && !closing)
        mcp__set_exited(b); /* before waking callers, so that they see EXITED */
    pthread_mutex_lock(&s->mu);
    s->connected = false;
    s->ended = true;
    if (!closing) {
        snprintf(s->end_msg, sizeof s->end_msg, "backend '%s': SSE stream %.400s", b->id, why);
        mcp__pending_fail_all(&s->pending, s->end_msg);
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (was_connected && !closing)
        mcp__log(b, MCP_LOG_WARN, "SSE stream %s", why);
}

/* Drives the GET until it ends or close() sets `closing`. */
static void run_stream(mcp_backend_t *b, stream_t *st, struct curl_slist *hdrs, char *cerr)
{
    sse_impl_t *s = impl_of(b);
    curl_easy_setopt(st->c, CURLOPT_URL, b->url);
    curl_easy_setopt(st->c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(st->c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(st->c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(st->c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(st->c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(st->c, CURLOPT_CONNECTTIMEOUT_MS, (long)b->connect_timeout_ms);
    curl_easy_setopt(st->c, CURLOPT_WRITEFUNCTION, on_stream);
    curl_easy_setopt(st->c, CURLOPT_WRITEDATA, st);
    CURLcode rc = CURLE_OK;
    if (curl_multi_add_handle(s->multi, st->c) != CURLM_OK) {
        err_set(&st->fail, "cannot start the GET");
        return;
    }
    int running = 1;
    while (running && !atomic_load(&s->closing)) {
        if (curl_multi_perform(s->multi, &running) != CURLM_OK)
            break;
        if (running)
            curl_multi_poll(s->multi, NULL, 0, 1000, NULL);
    }
    int left;
    for (CURLMsg *m; (m = curl_multi_info_read(s->multi, &left));)
        if (m->msg == CURLMSG_DONE)
            rc = m->data.result;
    curl_multi_remove_handle(s->multi, st->c);
    if (!st->fail.msg[0] && !atomic_load(&s->closing)) {
        if (rc != CURLE_OK)
            err_set(&st->fail, "GET %s failed: %s", b->url, cerr[0] ? cerr : curl_easy_strerror(rc));
        else if (!st->checked && check_response(st))
            err_set(&st->fail, "closed by the server before any event");
        else if (!st->fail.msg[0])
            err_set(&st->fail, "closed by the server");
    }
}

static void *reader_main(void *arg)
{
    mcp_backend_t *b = arg;
    stream_t st = {.b = b};
    char cerr[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = NULL;
    st.c = curl_easy_init();
    st.parser = mcp_sse_parser_new(b->max_message, on_event, &st);
    if (!st.c || !st.parser)
        err_set(&st.fail, "out of memory");
    else if (mcp__http_base_headers(b, &hdrs, "text/event-stream", false, &st.fail) &&
             mcp__http_dynamic_headers(b, &hdrs, &st.fail))
        run_stream(b, &st, hdrs, cerr);
    stream_ended(b, st.fail.msg[0] ? st.fail.msg : "closed");
    if (st.c)
        curl_easy_cleanup(st.c);
    curl_slist_free_all(hdrs);
    mcp_sse_parser_free(st.parser);
    return NULL;
}

/* --------------------------------------------------------------- ops */

static bool sse_open(mcp_backend_t *b, int64_t deadline_ms, err_t *err)
{
    sse_impl_t *s = impl_of(b);
    if (!mcp__curl_ready())
        return err_set(err, "backend '%s': libcurl failed to initialise", b->id);
    pthread_mutex_lock(&s->mu);
    free(s->endpoint);
    s->endpoint = NULL;
    s->connected = s->ended = false;
    s->end_msg[0] = '\0';
    pthread_mutex_unlock(&s->mu);
    atomic_store(&s->closing, false);
    if (!(s->multi = curl_multi_init()))
        return err_set(err, "out of memory");
    mcp__log(b, MCP_LOG_INFO, "connecting to %s (HTTP+SSE)", b->url);
    if (pthread_create(&s->reader, NULL, reader_main, b) != 0)
        return err_set(err, "backend '%s': cannot create the SSE reader thread", b->id);
    s->reader_started = true;

    /* The connection is usable once the endpoint event has arrived. */
    pthread_mutex_lock(&s->mu);
    while (!s->connected && !s->ended && mcp__cond_wait(&s->cv, &s->mu, deadline_ms, 1000)) {
    }
    bool ok = s->connected;
    if (!ok && s->ended)
        err_set(err, "%s", s->end_msg);
    else if (!ok)
        err_set(err, "backend '%s': no endpoint event from GET %s in time", b->id, b->url);
    pthread_mutex_unlock(&s->mu);
    return ok;
}

static void sse_close(mcp_backend_t *b, bool graceful, const char *why)
{
    (void)graceful; /* ending the GET is how an SSE session ends */
    sse_impl_t *s = impl_of(b);
    char msg[ERR_MSG_MAX];
    snprintf(msg, sizeof msg, "backend '%s' %s", b->id, why);
    atomic_store(&s->closing, true);
    pthread_mutex_lock(&s->mu);
    s->connected = false;
    if (!s->end_msg[0] || graceful)
        snprintf(s->end_msg, sizeof s->end_msg, "%s", msg);
    mcp__pending_fail_all(&s->pending, msg);
    pthread_mutex_unlock(&s->mu);
    if (s->reader_started) {
        curl_multi_wakeup(s->multi);
        pthread_join(s->reader, NULL);
        s->reader_started = false;
    }
    if (s->multi) {
        curl_multi_cleanup(s->multi);
        s->multi = NULL;
    }
    pthread_mutex_lock(&s->mu);
    free(s->endpoint);
    s->endpoint = NULL;
    pthread_mutex_unlock(&s->mu);
}

static mcp_call_status_t sse_call(mcp_backend_t *b, mcp_call_t *c, json_t **response, err_t *err)
{
    return mcp__pending_call(b, &impl_of(b)->pending, &sse_io, c, response, err);
}

static bool sse_notify(mcp_backend_t *b, const json_t *msg, int64_t deadline_ms, err_t *err)
{
    const char *method = json_string_value(json_object_get(msg, "method"));
    return post_msg(b, msg, method, deadline_ms, err) == MCP_SEND_OK;
}

static void sse_destroy(mcp_backend_t *b)
{
    sse_impl_t *s = impl_of(b);
    mcp__curl_pool_free(&s->pool);
    free(s->endpoint);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
    b->impl = NULL;
}

const mcp_backend_ops_t mcp_sse_ops = {
    .open = sse_open,
    .close = sse_close,
    .call = sse_call,
    .notify = sse_notify,
    .destroy = sse_destroy,
};

bool mcp_sse_init(mcp_backend_t *b, err_t *err)
{
    sse_impl_t *s = calloc(1, sizeof *s);
    if (!s)
        return err_set(err, "out of memory");
    if (pthread_mutex_init(&s->mu, NULL) != 0 || !mcp__cond_init(&s->cv) || !mcp__curl_pool_init(&s->pool)) {
        free(s);
        return err_set(err, "backend '%s': cannot create locks", b->id);
    }
    s->pending.mu = &s->mu;
    atomic_init(&s->closing, false);
    b->impl = s;
    return true;
}
