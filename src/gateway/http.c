/*
 * http.c — the HTTP front end on libmicrohttpd (spec: gateway §4.1–§4.5).
 *
 * Threading: MHD runs one thread per connection. A POST whose requests need
 * nothing streamed is answered from a buffer built in the connection's own
 * thread. A POST carrying a tools/call with a progressToken gets a live SSE
 * response: a detached worker thread runs the call and appends events, the
 * connection thread's content reader blocks on the stream's condition
 * variable. A standalone GET stream blocks only its own connection thread,
 * so long streams never starve other requests. Every wait is sliced (≤1 s)
 * and checks the stop flag, so shutdown joins every thread promptly.
 *
 * Route handling order on the MCP routes is upstream's middleware order:
 * auth, shutdown gate, then the streamable-HTTP rules of go-sdk in their
 * order (Host, Content-Type, Accept, session, DELETE/GET, protocol version,
 * body).
 */
#include "gateway/gateway_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_BODY (32u << 20)

typedef struct req {
    char *body;
    size_t len, cap;
    bool too_big;
} req_t;

/* ---- responses ------------------------------------------------------- */

static enum MHD_Result send_buf(struct MHD_Connection *conn, unsigned status, const char *ctype,
                                const char *body, size_t len, const char *const *hdrs)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    if (ctype)
        MHD_add_response_header(resp, "Content-Type", ctype);
    for (const char *const *h = hdrs; h && h[0]; h += 2)
        MHD_add_response_header(resp, h[0], h[1]);
    enum MHD_Result r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

/* Go's http.Error: text/plain, body + newline. */
static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned status, const char *fmt, ...)
{
    char body[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(body, sizeof body - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n > sizeof body - 2)
        n = (int)sizeof body - 2;
    body[n++] = '\n';
    body[n] = 0;
    static const char *const h[] = {"X-Content-Type-Options", "nosniff", NULL};
    return send_buf(conn, status, "text/plain; charset=utf-8", body, (size_t)n, h);
}

static enum MHD_Result send_json(struct MHD_Connection *conn, unsigned status, json_t *v)
{
    char *t = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    if (!t)
        return MHD_NO;
    size_t n = strlen(t);
    char *b = realloc(t, n + 2);
    if (!b) {
        free(t);
        return MHD_NO;
    }
    b[n] = '\n';
    b[n + 1] = 0;
    enum MHD_Result r = send_buf(conn, status, "application/json", b, n + 1, NULL);
    free(b);
    return r;
}

static enum MHD_Result send_err_json(struct MHD_Connection *conn, unsigned status, const char *code,
                                     const char *msg)
{
    if (msg)
        return send_json(conn, status, json_pack("{s:s,s:s}", "error", code, "message", msg));
    return send_json(conn, status, json_pack("{s:s}", "error", code));
}

/* ---- streams --------------------------------------------------------- */

typedef struct stream {
    gw_out_t out;
    gw_server_t *s;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *buf;
    size_t len, off, cap;
    bool done;
    int refs;
    /* GET streams: the session they belong to (one reference). */
    gw_session_t *sess;
    bool idle_stream;
    int64_t last_write_ms;
} stream_t;

static void stream_append(stream_t *st, const char *data, size_t n)
{
    pthread_mutex_lock(&st->mu);
    if (st->len + n > st->cap) {
        size_t cap = (st->len + n) * 2 + 256;
        char *b = realloc(st->buf, cap);
        if (!b) {
            pthread_mutex_unlock(&st->mu);
            return;
        }
        st->buf = b;
        st->cap = cap;
    }
    memcpy(st->buf + st->len, data, n);
    st->len += n;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

static void stream_emit(gw_out_t *out, const json_t *msg)
{
    stream_t *st = (stream_t *)out;
    size_t n = 0;
    char *line = mcp_jsonrpc_serialize(msg, &n);
    if (!line)
        return;
    size_t en = 0;
    char *ev = mcp_sse_format_event("message", NULL, line, n, -1, &en);
    free(line);
    if (ev)
        stream_append(st, ev, en);
    free(ev);
}

static stream_t *stream_new(gw_server_t *s)
{
    stream_t *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->out.emit = stream_emit;
    st->s = s;
    st->refs = 1;
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
    st->last_write_ms = mcp_now_ms();
    return st;
}

static void stream_unref(stream_t *st)
{
    pthread_mutex_lock(&st->mu);
    bool last = --st->refs == 0;
    pthread_mutex_unlock(&st->mu);
    if (!last)
        return;
    if (st->sess)
        gw_session_put(st->s, st->sess);
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cv);
    free(st->buf);
    free(st);
}

static void stream_finish(stream_t *st)
{
    pthread_mutex_lock(&st->mu);
    st->done = true;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    stream_t *st = cls;
    pthread_mutex_lock(&st->mu);
    for (;;) {
        if (st->off < st->len) {
            size_t n = st->len - st->off;
            if (n > max)
                n = max;
            memcpy(out, st->buf + st->off, n);
            st->off += n;
            if (st->off == st->len)
                st->off = st->len = 0;
            st->last_write_ms = mcp_now_ms();
            pthread_mutex_unlock(&st->mu);
            return (ssize_t)n;
        }
        if (st->done || atomic_load(&st->s->stop_requested) ||
            (st->sess && st->sess->closed)) {
            pthread_mutex_unlock(&st->mu);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        if (st->idle_stream && mcp_now_ms() - st->last_write_ms > 15000) {
            /* An SSE comment now and then finds clients that went away. */
            static const char ka[] = ": keepalive\n\n";
            memcpy(out, ka, sizeof ka - 1);
            st->last_write_ms = mcp_now_ms();
            pthread_mutex_unlock(&st->mu);
            return (ssize_t)(sizeof ka - 1);
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 500 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&st->cv, &st->mu, &ts);
    }
}

static void stream_free_cb(void *cls)
{
    stream_unref(cls);
}

static void add_sse_headers(struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    MHD_add_response_header(resp, "Cache-Control", "no-cache, no-transform");
}

/* ---- helpers --------------------------------------------------------- */

typedef struct {
    char buf[2048];
    size_t len;
    const char *name;
} hdr_join_t;

static enum MHD_Result join_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    hdr_join_t *j = cls;
    if (strcasecmp(key, j->name) == 0 && value) {
        int n = snprintf(j->buf + j->len, sizeof j->buf - j->len, "%s%s", j->len ? "," : "", value);
        if (n > 0 && (size_t)n < sizeof j->buf - j->len)
            j->len += (size_t)n;
    }
    return MHD_YES;
}

/* go-sdk's Accept test: each comma-separated value, whitespace-trimmed,
 * must equal a media range exactly (case and parameters count: a value with
 * ";q=..." matches nothing there, so it matches nothing here either). */
static bool accept_has(const char *accept, bool json)
{
    char tmp[2048];
    snprintf(tmp, sizeof tmp, "%s", accept);
    char *save = NULL;
    for (char *tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ' || *tok == '\t' || *tok == '\r' || *tok == '\n')
            tok++;
        size_t n = strlen(tok);
        while (n > 0 && (tok[n - 1] == ' ' || tok[n - 1] == '\t' || tok[n - 1] == '\r' || tok[n - 1] == '\n'))
            tok[--n] = 0;
        if (!strcmp(tok, "*/*"))
            return true;
        if (json && (!strcmp(tok, "application/json") || !strcmp(tok, "application/*")))
            return true;
        if (!json && (!strcmp(tok, "text/event-stream") || !strcmp(tok, "text/*")))
            return true;
    }
    return false;
}

/* go-sdk's util.IsLoopback on the Host header: "host:port", "[v6]:port" or a
 * bare host; exactly "localhost" (case-sensitive, as there) or a loopback IP
 * literal. An absent Host is "" and is not loopback. */
static bool host_is_loopback(const char *host)
{
    char h[300];
    snprintf(h, sizeof h, "%s", host);
    char *name = h;
    if (h[0] == '[') {
        char *e = strchr(h, ']');
        if (!e || (e[1] && e[1] != ':'))
            return false;
        *e = 0;
        name = h + 1;
    } else {
        char *c = strrchr(h, ':');
        if (c && strchr(h, ':') == c)
            *c = 0;
    }
    if (!strcmp(name, "localhost"))
        return true;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, name, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, name, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return false;
}

static bool conn_local_is_loopback(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return false;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(ci->connect_fd, (struct sockaddr *)&ss, &sl) != 0)
        return false;
    if (ss.ss_family == AF_INET)
        return (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127;
    if (ss.ss_family == AF_INET6) {
        const struct in6_addr *a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
        /* A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d. */
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return false;
}

static const char *header(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

static bool consttime_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = (unsigned char)(la != lb);
    for (size_t i = 0; i < la; i++)
        d |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
    return d == 0;
}

/* spec §4.3. Returns MHD_YES/NO after replying, or -1 to continue. */
static int check_auth(gw_server_t *s, struct MHD_Connection *conn, const char *url, const char *method)
{
    const char *auth = header(conn, "Authorization");
    const char *detail = NULL;
    int status = 0;
    if (!auth || !*auth) {
        detail = "missing_auth_header";
        status = 401;
    } else {
        for (const unsigned char *p = (const unsigned char *)auth; *p; p++)
            if ((*p < 0x20 && *p != '\t') || *p == 0x7f) {
                detail = "malformed_auth_header";
                status = 400;
                break;
            }
        if (!detail && !consttime_eq(auth, s->agent_id)) {
            detail = "invalid_api_key";
            status = 401;
        }
    }
    if (!detail)
        return -1;
    char ts[40];
    gw_log_timestamp(ts, sizeof ts);
    const char *rid = header(conn, "X-Request-ID");
    fprintf(stderr,
            "[ERROR] timestamp=%s server=gateway request_id=%s error_type=authentication_failed detail=%s path=%s method=%s\n",
            ts, rid ? rid : "unknown", detail, url, method);
    gw_log_md(GW_LOG_ERROR, "auth", "Authentication failed: %s, path=%s, method=%s", detail, url, method);
    if (status == 400)
        return send_err_json(conn, 400, "bad_request", "malformed Authorization header");
    return send_err_json(conn, 401, "unauthorized",
                         !auth || !*auth ? "missing Authorization header" : "invalid API key");
}

/* ---- the MCP endpoint ------------------------------------------------ */

typedef struct worker_arg {
    gw_server_t *s;
    gw_session_t *sess;
    mcp_msg_t *msgs;
    size_t n;
    stream_t *st;
} worker_arg_t;

static void process_messages(gw_server_t *s, gw_session_t *sess, mcp_msg_t *msgs, size_t n, stream_t *st)
{
    for (size_t i = 0; i < n; i++)
        if (msgs[i].kind == MCP_MSG_NOTIFICATION)
            gw_dispatch_notification(s, sess, &msgs[i]);
    for (size_t i = 0; i < n; i++) {
        if (msgs[i].kind != MCP_MSG_REQUEST)
            continue;
        json_t *reply = gw_dispatch_request(s, sess, &msgs[i], &st->out);
        if (reply)
            st->out.emit(&st->out, reply);
        json_decref(reply);
    }
}

static void free_msgs(mcp_msg_t *msgs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        mcp_msg_free(&msgs[i]);
    free(msgs);
}

static void *worker_main(void *p)
{
    worker_arg_t *a = p;
    process_messages(a->s, a->sess, a->msgs, a->n, a->st);
    stream_finish(a->st);
    stream_unref(a->st);
    free_msgs(a->msgs, a->n);
    gw_server_t *s = a->s;
    gw_session_put(s, a->sess);
    free(a);
    pthread_mutex_lock(&s->lock);
    s->workers--;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static bool proto_supported(const char *v)
{
    return !strcmp(v, "2025-11-25") || !strcmp(v, "2025-06-18") || !strcmp(v, "2025-03-26") ||
           !strcmp(v, "2024-11-05");
}

static enum MHD_Result handle_get_stream(gw_server_t *s, struct MHD_Connection *conn, gw_session_t *sess)
{
    stream_t *st = stream_new(s);
    if (!st) {
        gw_session_put(s, sess);
        return MHD_NO;
    }
    st->sess = sess;
    st->idle_stream = true;
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, st,
                                                                  stream_free_cb);
    if (!resp) {
        stream_unref(st);
        return MHD_NO;
    }
    add_sse_headers(resp);
    enum MHD_Result r = MHD_queue_response(conn, 200, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result mcp_endpoint(gw_server_t *s, struct MHD_Connection *conn, const char *method,
                                    int route, req_t *r)
{
    bool is_post = !strcmp(method, "POST"), is_get = !strcmp(method, "GET"),
         is_delete = !strcmp(method, "DELETE");
    /* 1. DNS rebinding: loopback listener, non-loopback Host. */
    const char *host = header(conn, "Host");
    if (!host)
        host = ""; /* Go's req.Host of an HTTP/1.0 request without one */
    const char *dbg = getenv("MCPGODEBUG");
    if (!(dbg && strstr(dbg, "disablelocalhostprotection=1")) && conn_local_is_loopback(conn) &&
        !host_is_loopback(host))
        return send_text(conn, 403, "Forbidden: invalid Host header \"%.300s\"", host);
    /* 2. Content-Type. */
    if (is_post) {
        const char *ct = header(conn, "Content-Type");
        bool ok = false;
        if (ct) {
            size_t n = strcspn(ct, ";");
            while (n > 0 && ct[n - 1] == ' ')
                n--;
            ok = n == strlen("application/json") && !strncasecmp(ct, "application/json", n);
        }
        if (!ok && !(dbg && strstr(dbg, "disablecontenttypecheck=1")))
            return send_text(conn, 415, "Content-Type must be 'application/json'");
    }
    /* 3. Accept. */
    hdr_join_t acc = {.name = "Accept"};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, join_header, &acc);
    /* As in go-sdk, every method but GET and DELETE needs both (so PUT gets
     * this 400 before the 405 below). */
    if (!is_get && !is_delete && !(accept_has(acc.buf, true) && accept_has(acc.buf, false)))
        return send_text(conn, 400, "Accept must contain both 'application/json' and 'text/event-stream'");
    if (is_get && !accept_has(acc.buf, false))
        return send_text(conn, 400, "Accept must contain 'text/event-stream' for GET requests");
    /* 4. Session. */
    const char *sid = header(conn, "Mcp-Session-Id");
    gw_session_t *sess = NULL;
    if (sid && *sid) {
        sess = gw_session_get(s, sid, route);
        if (!sess)
            return send_text(conn, 404, "session not found");
    }
    /* 5, 6. DELETE and GET. */
    if (is_delete) {
        if (!sess)
            return send_text(conn, 400, "Bad Request: DELETE requires an Mcp-Session-Id header");
        gw_session_remove(s, sess);
        gw_session_put(s, sess);
        gw_log(GW_LOG_INFO, "client", "MCP session closed by client, session=%.8s", sid);
        return send_buf(conn, 204, NULL, "", 0, NULL);
    }
    if (is_get && !sess)
        return send_text(conn, 400, "Bad Request: GET requires an Mcp-Session-Id header");
    if (!is_post && !is_get) {
        gw_session_put(s, sess);
        static const char *const h[] = {"Allow", "GET, POST, DELETE", NULL};
        return send_buf(conn, 405, "text/plain; charset=utf-8", "Method Not Allowed\n", 19, h);
    }
    /* 7. Protocol version header (GET and POST; empty counts as absent). */
    const char *pv = header(conn, "MCP-Protocol-Version");
    if (pv && !*pv)
        pv = NULL;
    if (pv && !proto_supported(pv)) {
        gw_session_put(s, sess);
        return send_text(conn, 400,
                         "Bad Request: Unsupported protocol version (supported versions: 2025-11-25,2025-06-18,2025-03-26,2024-11-05)");
    }
    if (is_get)
        return handle_get_stream(s, conn, sess);
    /* 9. Body. */
    enum MHD_Result res;
    if (r->too_big) {
        gw_session_put(s, sess);
        return send_text(conn, 413, "request body too large");
    }
    if (header(conn, "Last-Event-ID")) {
        gw_session_put(s, sess);
        return send_text(conn, 400, "can't send Last-Event-ID for POST request");
    }
    if (r->len == 0) {
        gw_session_put(s, sess);
        return send_text(conn, 400, "POST requires a non-empty body");
    }
    mcp_msg_t first = {0};
    err_t err = {{0}};
    mcp_parse_status_t ps = mcp_jsonrpc_parse(r->body, r->len, &first, &err);
    mcp_msg_t *msgs = NULL;
    size_t n = 0;
    if (ps == MCP_PARSE_NOT_JSON || ps == MCP_PARSE_INVALID) {
        mcp_msg_free(&first);
        gw_session_put(s, sess);
        return send_text(conn, 400, "malformed payload: %s", err.msg);
    }
    if (ps == MCP_PARSE_BATCH) {
        const char *ver = sess ? sess->proto : (pv ? pv : "2025-03-26");
        if (pv)
            ver = pv;
        if (!mcp_jsonrpc_batch_allowed(ver)) {
            mcp_msg_free(&first);
            gw_session_put(s, sess);
            return send_text(conn, 400,
                             "JSON-RPC batching is not supported in 2025-06-18 and later (request version: %.40s)", ver);
        }
        n = json_array_size(first.root);
        msgs = calloc(n ? n : 1, sizeof *msgs);
        for (size_t i = 0; msgs && i < n; i++) {
            if (mcp_jsonrpc_classify(json_array_get(first.root, i), &msgs[i], &err) != MCP_PARSE_OK) {
                free_msgs(msgs, n);
                mcp_msg_free(&first);
                gw_session_put(s, sess);
                return send_text(conn, 400, "malformed payload: %s", err.msg);
            }
        }
        mcp_msg_free(&first);
    } else {
        n = 1;
        msgs = calloc(1, sizeof *msgs);
        if (msgs)
            msgs[0] = first;
        else
            mcp_msg_free(&first);
    }
    if (!msgs) {
        gw_session_put(s, sess);
        return MHD_NO;
    }
    size_t nreq = 0;
    bool streams = false, has_init = false;
    for (size_t i = 0; i < n; i++) {
        if (msgs[i].kind == MCP_MSG_REQUEST || msgs[i].kind == MCP_MSG_NOTIFICATION) {
            char why[400];
            if (!gw_method_check(&msgs[i], why, sizeof why)) {
                free_msgs(msgs, n);
                gw_session_put(s, sess);
                return send_text(conn, 400, "%s", why);
            }
        }
        if (msgs[i].kind == MCP_MSG_REQUEST) {
            nreq++;
            streams |= gw_request_streams(&msgs[i]);
            has_init |= !strcmp(msgs[i].method, "initialize");
        }
    }
    /* 8. New session. */
    bool created = false;
    if (!sess) {
        char *gsid = gw_session_derive_gsid(header(conn, "X-Agent-ID"), header(conn, "Authorization"));
        if (!gsid) {
            free_msgs(msgs, n);
            return send_text(conn, 400, "no server available");
        }
        /* spec §4.7: a tools/call without a session is auto-initialised
         * (Gemini CLI); the session is never shown to the client. */
        bool auto_init = n == 1 && msgs[0].kind == MCP_MSG_REQUEST && !strcmp(msgs[0].method, "tools/call");
        sess = gw_session_create(s, route, gsid, !auto_init);
        free(gsid);
        if (!sess) {
            free_msgs(msgs, n);
            return MHD_NO;
        }
        if (auto_init) {
            gw_log(GW_LOG_WARN, "client",
                   "Gemini-compat: tools/call received before session initialization, auto-initializing the session");
            gw_log(GW_LOG_INFO, "client", "Gemini-compat: auto-init succeeded, session=%.8s", sess->id);
            sess->initialized = true;
            snprintf(sess->proto, sizeof sess->proto, "%s", MCP_PROTOCOL_LATEST);
        }
        created = true;
        pthread_mutex_lock(&s->lock);
        sess->inflight++;
        pthread_mutex_unlock(&s->lock);
    }
    if (nreq == 0) {
        process_messages(s, sess, msgs, n, NULL);
        free_msgs(msgs, n);
        if (created && !sess->initialized)
            gw_session_remove(s, sess);
        gw_session_put(s, sess);
        return send_buf(conn, 202, NULL, "", 0, NULL);
    }
    stream_t *st = stream_new(s);
    if (!st) {
        free_msgs(msgs, n);
        gw_session_put(s, sess);
        return MHD_NO;
    }
    const char *hdrs[3] = {NULL, NULL, NULL};
    if (streams) {
        worker_arg_t *a = calloc(1, sizeof *a);
        pthread_t th;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (a) {
            *a = (worker_arg_t){s, sess, msgs, n, st};
            st->refs++;
            pthread_mutex_lock(&s->lock);
            s->workers++;
            pthread_mutex_unlock(&s->lock);
            if (pthread_create(&th, &attr, worker_main, a) != 0) {
                pthread_mutex_lock(&s->lock);
                s->workers--;
                pthread_mutex_unlock(&s->lock);
                st->refs--;
                free(a);
                a = NULL;
            }
        }
        pthread_attr_destroy(&attr);
        if (!a) {
            /* No thread: answer in this one, unstreamed. */
            process_messages(s, sess, msgs, n, st);
            stream_finish(st);
            free_msgs(msgs, n);
            gw_session_put(s, sess);
        }
        struct MHD_Response *resp =
            MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, st, stream_free_cb);
        if (!resp) {
            stream_unref(st);
            return MHD_NO;
        }
        add_sse_headers(resp);
        res = MHD_queue_response(conn, 200, resp);
        MHD_destroy_response(resp);
        return res;
    }
    process_messages(s, sess, msgs, n, st);
    free_msgs(msgs, n);
    if (created && has_init && sess->initialized && !sess->transient) {
        hdrs[0] = "Mcp-Session-Id";
        hdrs[1] = sess->id;
    } else if (created && !sess->transient) {
        gw_session_remove(s, sess); /* the first request did not initialise it */
    }
    static const char *none = "";
    const char *const h[] = {"Cache-Control", "no-cache, no-transform", hdrs[0], hdrs[1], NULL};
    res = send_buf(conn, 200, "text/event-stream", st->buf ? st->buf : none, st->len, h);
    gw_session_put(s, sess);
    stream_unref(st);
    return res;
}

/* ---- routing --------------------------------------------------------- */

static enum MHD_Result route_request(gw_server_t *s, struct MHD_Connection *conn, const char *url,
                                     const char *method, req_t *r)
{
    if (!strcmp(url, "/health"))
        return send_json(conn, 200, gw_health_json(s));
    if (!strcmp(url, "/reflect"))
        return send_json(conn, 200, gw_reflect_json(s));
    if (!strcmp(url, "/.well-known/oauth-authorization-server") ||
        !strcmp(url, "/mcp/.well-known/oauth-authorization-server"))
        return send_text(conn, 404, "404 page not found");
    if (!strcmp(url, "/close")) {
        int a = check_auth(s, conn, url, method);
        if (a >= 0)
            return (enum MHD_Result)a;
        if (strcmp(method, "POST") != 0)
            return send_err_json(conn, 405, "method_not_allowed", "method not allowed");
        if (atomic_exchange(&s->closed, true))
            return send_err_json(conn, 410, "Gateway has already been closed", NULL);
        int n = gw_initiate_shutdown(s);
        return send_json(conn, 200, json_pack("{s:s,s:s,s:i}", "status", "closed", "message",
                                              "Gateway shutdown initiated", "serversTerminated", n));
    }
    int route = -2;
    if (s->mode == GW_MODE_UNIFIED) {
        if (!strcmp(url, "/mcp") || !strncmp(url, "/mcp/", 5))
            route = -1;
    } else if (!strncmp(url, "/mcp/", 5)) {
        const char *id = url + 5;
        size_t idlen = strcspn(id, "/");
        for (size_t i = 0; i < s->nbackends; i++)
            if (strlen(s->backends[i].id) == idlen && !strncmp(s->backends[i].id, id, idlen) &&
                strcmp(s->backends[i].id, "sys") != 0)
                route = (int)i;
    }
    if (route == -2)
        return send_text(conn, 404, "404 page not found");
    int a = check_auth(s, conn, url, method);
    if (a >= 0)
        return (enum MHD_Result)a;
    if (s->hmac) {
        const char *why = gw_hmac_check(s->hmac, header(conn, "X-MCP-Timestamp"), header(conn, "X-MCP-Nonce"),
                                        header(conn, "X-MCP-Signature"), url, r->body, r->len, (int64_t)time(NULL));
        if (why) {
            gw_log_md(GW_LOG_ERROR, "auth", "HMAC validation failed: %s, path=%s, method=%s", why, url, method);
            return send_err_json(conn, 401, "unauthorized", why);
        }
    }
    if (atomic_load(&s->shutting_down))
        return send_err_json(conn, 503, "Gateway is shutting down", NULL);
    return mcp_endpoint(s, conn, method, route, r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    gw_server_t *s = cls;
    req_t *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!r->too_big) {
            if (r->len + *upload_size > MAX_BODY) {
                r->too_big = true;
            } else {
                if (r->len + *upload_size + 1 > r->cap) {
                    size_t cap = (r->len + *upload_size + 1) * 2;
                    char *b = realloc(r->body, cap);
                    if (!b)
                        return MHD_NO;
                    r->body = b;
                    r->cap = cap;
                }
                memcpy(r->body + r->len, upload, *upload_size);
                r->len += *upload_size;
                r->body[r->len] = 0;
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    return route_request(s, conn, url, method, r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    req_t *r = *con_cls;
    if (r) {
        free(r->body);
        free(r);
        *con_cls = NULL;
    }
}

int gw_listen_socket(const char *addr, int *port_out, err_t *err)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    if (!colon)
        return err_set(err, "failed to listen on %s: missing port in address", addr), -1;
    size_t hl = (size_t)(colon - addr);
    if (hl >= sizeof host)
        return err_set(err, "failed to listen on %s: address too long", addr), -1;
    memcpy(host, addr, hl);
    host[hl] = 0;
    char *h = host;
    if (h[0] == '[' && hl > 1 && h[hl - 1] == ']') {
        h[hl - 1] = 0;
        h++;
    }
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int rc = getaddrinfo(*h ? h : NULL, colon + 1, &hints, &res);
    if (rc != 0)
        return err_set(err, "failed to listen on %s: %s", addr, gai_strerror(rc)), -1;
    int fd = -1, saved = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 512) == 0)
            break;
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return err_set(err, "failed to listen on %s: %s", addr, strerror(saved)), -1;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *port_out = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                         : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t n = strlen(buf);
    while (n && buf[n - 1] == '\n')
        buf[--n] = 0;
    gw_debug("server:http", "%s", buf);
}

bool gw_http_start(gw_server_t *s, err_t *err)
{
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (s->tls_cert_pem) /* spec §4.13: HTTPS with the PEM key pair */
        s->daemon = MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET,
                                     s->listen_fd, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)0, MHD_OPTION_CONNECTION_LIMIT,
                                     (unsigned)4096, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                                     MHD_OPTION_HTTPS_MEM_KEY, s->tls_key_pem, MHD_OPTION_HTTPS_MEM_CERT,
                                     s->tls_cert_pem, MHD_OPTION_HTTPS_PRIORITIES,
                                     "NORMAL:-VERS-TLS1.0:-VERS-TLS1.1:-VERS-DTLS-ALL", MHD_OPTION_END);
    else
        s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, s->listen_fd,
                                     MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_TIMEOUT,
                                     (unsigned)0, MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096,
                                     MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
    if (!s->daemon)
        return err_set(err, s->tls_cert_pem ? "failed to configure TLS: the certificate or key was rejected"
                                            : "failed to start the HTTP server");
    return true;
}

void gw_http_stop(gw_server_t *s)
{
    atomic_store(&s->stop_requested, true);
    if (s->daemon) {
        MHD_stop_daemon(s->daemon);
        s->daemon = NULL;
        s->listen_fd = -1;
    }
}
