/*
 * backend.c — the transport-independent half of an MCP backend: config
 * copying, the lifecycle state machine, the initialize handshake, per-call
 * rewriting, server->client request defaults and pagination.
 *
 * Lifecycle invariant: at most one start or stop runs at a time (`busy`);
 * others wait on `cv` bounded by their own deadline. A start that follows an
 * exit first closes what is left of the old connection (reaps the child).
 */
#include "mcp/mcp_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Revisions whose initialize result we accept (spec: gateway §3.2). */
static const char *const supported_versions[] = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};

/* ------------------------------------------------------------ helpers */

bool mcp__cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    if (pthread_condattr_init(&a) != 0)
        return false;
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    bool ok = pthread_cond_init(cv, &a) == 0;
    pthread_condattr_destroy(&a);
    return ok;
}

bool mcp__cond_wait(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline_ms, int max_wait_ms)
{
    int64_t now = mcp_now_ms();
    if (deadline_ms && now >= deadline_ms)
        return false;
    int64_t until = now + max_wait_ms;
    if (deadline_ms && deadline_ms < until)
        until = deadline_ms;
    struct timespec ts = {.tv_sec = until / 1000, .tv_nsec = (until % 1000) * 1000000};
    pthread_cond_timedwait(cv, mu, &ts);
    return !(deadline_ms && mcp_now_ms() >= deadline_ms);
}

void mcp__log(mcp_backend_t *b, mcp_log_level_t level, const char *fmt, ...)
{
    if (!b->hooks.on_log)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    b->hooks.on_log(b->hooks.ud, b->id, level, buf);
}

void mcp__rpc_log(mcp_backend_t *b, mcp_direction_t dir, const char *method, const json_t *msg, const char *error)
{
    if (!b->hooks.on_rpc)
        return;
    mcp_rpc_log_t rec = {.server_id = b->id, .direction = dir, .method = method, .message = msg, .error = error};
    b->hooks.on_rpc(b->hooks.ud, &rec);
}

void mcp__set_exited(mcp_backend_t *b)
{
    pthread_mutex_lock(&b->mu);
    if (b->state == MCP_STATE_RUNNING)
        b->state = MCP_STATE_EXITED;
    pthread_mutex_unlock(&b->mu);
}

void mcp__proto(mcp_backend_t *b, char *buf, size_t size)
{
    pthread_mutex_lock(&b->mu);
    snprintf(buf, size, "%s", b->proto);
    pthread_mutex_unlock(&b->mu);
}

void mcp__route_notification(mcp_backend_t *b, mcp_call_t *c, bool any_on_stream, const json_t *msg)
{
    if (c && c->on_notification) {
        json_t *params = json_object_get(msg, "params");
        json_t *tok = json_object_get(params, "progressToken");
        const char *method = json_string_value(json_object_get(msg, "method"));
        bool mine = c->orig_token && method && strcmp(method, "notifications/progress") == 0 &&
                    json_is_integer(tok) && json_integer_value(tok) == c->token;
        if (mine) {
            /* Hand the caller its own token back, not our wire token. */
            json_t *copy = json_deep_copy(msg);
            json_t *cp = json_object_get(copy, "params");
            if (copy && cp && json_object_set_new(cp, "progressToken", json_deep_copy(c->orig_token)) == 0)
                c->on_notification(c->notify_ud, copy);
            json_decref(copy);
            return;
        }
        if (any_on_stream) {
            c->on_notification(c->notify_ud, msg);
            return;
        }
    }
    if (b->hooks.on_notification)
        b->hooks.on_notification(b->hooks.ud, b->id, msg);
}

json_t *mcp__answer_server_request(mcp_backend_t *b, const mcp_msg_t *req)
{
    json_t *result = NULL;
    if (b->hooks.on_server_request)
        result = b->hooks.on_server_request(b->hooks.ud, b->id, req->method, req->params);
    if (!result) {
        /* spec: gateway §3.2: the client answers ping and roots/list itself. */
        if (strcmp(req->method, "ping") == 0)
            result = json_object();
        else if (strcmp(req->method, "roots/list") == 0)
            result = json_pack("{s:[]}", "roots");
        else
            return mcp_jsonrpc_error(req->id, MCP_ERR_METHOD_NOT_FOUND, "Method not found", NULL);
    }
    json_t *resp = mcp_jsonrpc_result(req->id, result);
    json_decref(result);
    return resp;
}

/* ------------------------------------------------------------- config */

static char *dup_or_null(const char *s, bool *ok)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *ok = false;
    return d;
}

static char **dup_vec(const char *const *v, bool *ok)
{
    if (!v)
        return NULL;
    size_t n = 0;
    while (v[n])
        n++;
    char **d = calloc(n + 1, sizeof *d);
    if (!d) {
        *ok = false;
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        d[i] = dup_or_null(v[i], ok);
    return d;
}

static void free_vec(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

static void free_config(mcp_backend_t *b)
{
    free(b->id);
    free(b->command);
    free(b->cwd);
    free_vec(b->args);
    free_vec(b->env);
    free(b->url);
    free_vec(b->headers);
    free(b->client_name);
    free(b->client_version);
    free(b->protocol_version);
}

mcp_backend_t *mcp_backend_new(const mcp_backend_config_t *cfg, err_t *err)
{
    if (!cfg->id || !*cfg->id)
        return err_set(err, "backend config: id is required"), NULL;
    if (cfg->kind == MCP_BACKEND_STDIO && (!cfg->stdio.command || !*cfg->stdio.command))
        return err_set(err, "backend '%s': stdio backend needs a command", cfg->id), NULL;
    if (cfg->kind == MCP_BACKEND_HTTP && (!cfg->http.url || !*cfg->http.url))
        return err_set(err, "backend '%s': HTTP backend needs a url", cfg->id), NULL;
    if (cfg->kind != MCP_BACKEND_STDIO && cfg->kind != MCP_BACKEND_HTTP)
        return err_set(err, "backend '%s': unknown backend kind %d", cfg->id, (int)cfg->kind), NULL;

    mcp_backend_t *b = calloc(1, sizeof *b);
    if (!b)
        return err_set(err, "out of memory"), NULL;
    bool ok = true;
    b->id = dup_or_null(cfg->id, &ok);
    b->kind = cfg->kind;
    b->command = dup_or_null(cfg->stdio.command, &ok);
    b->cwd = dup_or_null(cfg->stdio.cwd, &ok);
    b->args = dup_vec(cfg->stdio.args, &ok);
    b->env = dup_vec(cfg->stdio.env, &ok);
    b->url = dup_or_null(cfg->http.url, &ok);
    b->headers = dup_vec(cfg->http.headers, &ok);
    b->dynamic_headers = cfg->http.dynamic_headers;
    b->dynamic_headers_ud = cfg->http.dynamic_headers_ud;
    b->connect_timeout_ms = cfg->http.connect_timeout_ms > 0 ? cfg->http.connect_timeout_ms : 30000;
    b->startup_timeout_ms = cfg->startup_timeout_ms > 0 ? cfg->startup_timeout_ms : 30000;
    b->shutdown_grace_ms = cfg->shutdown_grace_ms > 0 ? cfg->shutdown_grace_ms : 2000;
    b->client_name = dup_or_null(cfg->client_name ? cfg->client_name : "awmg", &ok);
    b->client_version = dup_or_null(cfg->client_version ? cfg->client_version : "0.1.0", &ok);
    b->protocol_version = dup_or_null(cfg->protocol_version ? cfg->protocol_version : MCP_PROTOCOL_LATEST, &ok);
    b->max_message = cfg->max_message ? cfg->max_message : (size_t)64 << 20;
    b->hooks = cfg->hooks;
    atomic_init(&b->next_id, 1);
    b->state = MCP_STATE_STOPPED;
    if (!ok) {
        free_config(b);
        free(b);
        return err_set(err, "out of memory"), NULL;
    }
    if (pthread_mutex_init(&b->mu, NULL) != 0 || !mcp__cond_init(&b->cv)) {
        free_config(b);
        free(b);
        return err_set(err, "backend '%s': cannot create locks", cfg->id), NULL;
    }
    b->ops = b->kind == MCP_BACKEND_STDIO ? &mcp_stdio_ops : &mcp_http_ops;
    b->alt_ops = b->kind == MCP_BACKEND_HTTP ? &mcp_sse_ops : NULL;
    bool init_ok = b->kind == MCP_BACKEND_STDIO ? mcp_stdio_init(b, err) : mcp_http_init(b, err);
    if (!init_ok) {
        pthread_mutex_destroy(&b->mu);
        pthread_cond_destroy(&b->cv);
        free_config(b);
        free(b);
        return NULL;
    }
    return b;
}

void mcp_backend_free(mcp_backend_t *b)
{
    if (!b)
        return;
    mcp_backend_stop(b);
    b->ops->destroy(b);
    if (b->alt_impl) {
        b->impl = b->alt_impl;
        b->alt_ops->destroy(b);
    }
    json_decref(b->init_result);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    free_config(b);
    free(b);
}

/* ---------------------------------------------------------- handshake */

/* One request through the transport, outside the lifecycle (used while
 * STARTING). Splits the response into result / error. */
static mcp_call_status_t raw_request(mcp_backend_t *b, mcp_call_t *c, json_t **result, err_t *err)
{
    json_t *resp = NULL;
    *result = NULL;
    mcp_call_status_t st = b->ops->call(b, c, &resp, err);
    if (st != MCP_CALL_OK)
        return st;
    json_t *e = json_object_get(resp, "error");
    if (e) {
        json_t *msg = json_object_get(e, "message");
        err_set(err, "backend '%s': %s failed: code=%" JSON_INTEGER_FORMAT ": %s", b->id, c->method,
                json_integer_value(json_object_get(e, "code")), msg ? json_string_value(msg) : "");
        *result = json_incref(e);
        json_decref(resp);
        return MCP_CALL_RPC_ERROR;
    }
    *result = json_incref(json_object_get(resp, "result"));
    json_decref(resp);
    return MCP_CALL_OK;
}

bool mcp__handshake(mcp_backend_t *b, int64_t deadline_ms, err_t *err)
{
    json_t *params = json_pack("{s:s, s:{s:{s:b}}, s:{s:s, s:s}}", "protocolVersion", b->protocol_version,
                               "capabilities", "roots", "listChanged", 1, "clientInfo", "name", b->client_name,
                               "version", b->client_version);
    if (!params)
        return err_set(err, "out of memory");
    mcp_call_t c = {.method = "initialize", .params = params, .deadline_ms = deadline_ms};
    json_t *result = NULL;
    mcp_call_status_t st = raw_request(b, &c, &result, err);
    json_decref(params);
    if (st == MCP_CALL_TIMEOUT)
        return err_set(err, "backend '%s': server startup timeout after %ds (no answer to initialize)", b->id,
                       (b->startup_timeout_ms + 999) / 1000);
    if (st != MCP_CALL_OK) {
        json_decref(result);
        return false;
    }
    const char *pv = json_string_value(json_object_get(result, "protocolVersion"));
    bool known = false;
    for (size_t i = 0; pv && i < sizeof supported_versions / sizeof *supported_versions; i++)
        known = known || strcmp(pv, supported_versions[i]) == 0;
    if (!json_is_object(result) || !known) {
        err_set(err, "backend '%s': initialize returned unsupported protocol version %.40s", b->id,
                pv ? pv : "(none)");
        json_decref(result); /* after the message: pv points into it */
        return false;
    }
    pthread_mutex_lock(&b->mu);
    json_decref(b->init_result);
    b->init_result = result;
    snprintf(b->proto, sizeof b->proto, "%s", pv);
    pthread_mutex_unlock(&b->mu);

    json_t *note = mcp_jsonrpc_notification("notifications/initialized", NULL);
    if (!note)
        return err_set(err, "out of memory");
    bool ok = b->ops->notify(b, note, deadline_ms, err);
    json_decref(note);
    if (!ok && b->kind == MCP_BACKEND_HTTP) {
        /* Plain JSON-RPC-over-POST servers (spec: gateway §3.3 step 3) never
         * expect this notification and may reject it; their requests still
         * work, so a rejection is worth a warning, not a failed start. */
        mcp__log(b, MCP_LOG_WARN, "notifications/initialized was rejected: %s", err ? err->msg : "");
        ok = true;
    }
    if (!ok)
        return err_prefix(err, "backend '%s': sending notifications/initialized", b->id);
    json_t *info = json_object_get(result, "serverInfo");
    mcp__log(b, MCP_LOG_INFO, "Backend server info: name=%s, version=%s (protocol %s)",
             json_string_value(json_object_get(info, "name")) ? json_string_value(json_object_get(info, "name")) : "?",
             json_string_value(json_object_get(info, "version")) ? json_string_value(json_object_get(info, "version")) : "?",
             pv);
    return true;
}

/* ---------------------------------------------------------- lifecycle */

/* Opens the current transport and performs the handshake over it; on
 * failure closes what was opened. */
static bool connect_once(mcp_backend_t *b, err_t *err)
{
    int64_t deadline = mcp_now_ms() + b->startup_timeout_ms;
    if (b->ops->open(b, deadline, err) && mcp__handshake(b, deadline, err))
        return true;
    b->ops->close(b, false, "startup failed");
    return false;
}

/* Makes the other HTTP transport current, creating it the first time. */
static bool switch_transport(mcp_backend_t *b, err_t *err)
{
    const mcp_backend_ops_t *ops = b->ops;
    void *impl = b->impl;
    b->ops = b->alt_ops;
    b->impl = b->alt_impl;
    b->alt_ops = ops;
    b->alt_impl = impl;
    if (b->impl)
        return true;
    bool ok = b->ops == &mcp_sse_ops ? mcp_sse_init(b, err) : mcp_http_init(b, err);
    if (!ok) { /* back to the one that exists */
        b->alt_ops = b->ops;
        b->ops = ops;
        b->impl = impl;
        b->alt_impl = NULL;
    }
    return ok;
}

/* The first start of an HTTP backend: streamable HTTP (whose plain
 * JSON-RPC variant http_backend.c detects by itself), then the 2024-11-05
 * HTTP+SSE transport, as upstream negotiates (spec: gateway §3.3). SSE is
 * not tried when streamable HTTP ran out of time: a server that does not
 * answer a POST will not answer a GET either, and trying would double the
 * wait for a dead server. */
static bool negotiate_http(mcp_backend_t *b, err_t *err)
{
    if (b->ops != &mcp_http_ops && !switch_transport(b, err))
        return false;
    int64_t started = mcp_now_ms();
    err_t first = {{0}};
    if (connect_once(b, &first))
        return true;
    if (mcp_now_ms() - started >= b->startup_timeout_ms) {
        if (err)
            *err = first;
        return false;
    }
    err_t second = {{0}};
    if (!switch_transport(b, &second) || !connect_once(b, &second))
        return err_set(err,
                       "backend '%s': failed to connect using any HTTP transport (tried streamable, SSE, and plain "
                       "JSON-RPC): last error: %s (streamable HTTP: %s)",
                       b->id, second.msg, first.msg);
    mcp__log(b, MCP_LOG_WARN,
             "connected using the deprecated HTTP+SSE transport (protocol 2024-11-05); the server should move to "
             "streamable HTTP");
    return true;
}

static bool do_start(mcp_backend_t *b, mcp_backend_state_t prev, err_t *err)
{
    if (prev == MCP_STATE_EXITED || prev == MCP_STATE_FAILED) {
        b->ops->close(b, false, "restarting");
        mcp__log(b, MCP_LOG_INFO, "restarting backend after %s", prev == MCP_STATE_EXITED ? "exit" : "failed start");
    }
    bool negotiating = b->kind == MCP_BACKEND_HTTP && !b->transport_fixed;
    bool ok = negotiating ? negotiate_http(b, err) : connect_once(b, err);
    if (!ok) {
        mcp__log(b, MCP_LOG_ERROR, "%s", err ? err->msg : "start failed");
        return false;
    }
    return true;
}

/* Brings the backend to RUNNING, starting it if needed, or waits for another
 * thread's start. */
static mcp_call_status_t ensure_running(mcp_backend_t *b, int64_t deadline_ms, const atomic_bool *cancel, err_t *err)
{
    pthread_mutex_lock(&b->mu);
    while (b->busy) {
        unsigned gen = b->start_gen;
        bool in_time = mcp__cond_wait(&b->cv, &b->mu, deadline_ms, 50);
        if (b->start_gen != gen && !b->busy && b->state == MCP_STATE_FAILED) {
            if (err)
                *err = b->start_err;
            pthread_mutex_unlock(&b->mu);
            return MCP_CALL_FAILED;
        }
        if (cancel && atomic_load(cancel)) {
            pthread_mutex_unlock(&b->mu);
            return err_set(err, "backend '%s': cancelled while waiting for startup", b->id), MCP_CALL_CANCELLED;
        }
        if (!in_time) {
            pthread_mutex_unlock(&b->mu);
            return err_set(err, "backend '%s': deadline passed while waiting for startup", b->id), MCP_CALL_TIMEOUT;
        }
    }
    if (b->state == MCP_STATE_RUNNING) {
        pthread_mutex_unlock(&b->mu);
        return MCP_CALL_OK;
    }
    mcp_backend_state_t prev = b->state;
    b->busy = true;
    b->state = MCP_STATE_STARTING;
    pthread_mutex_unlock(&b->mu);

    err_t e = {{0}};
    bool ok = do_start(b, prev, &e);

    pthread_mutex_lock(&b->mu);
    b->busy = false;
    b->start_gen++;
    if (ok) {
        b->state = MCP_STATE_RUNNING;
        b->starts++;
        b->transport_fixed = true; /* ops is read by callers from now on */
    } else {
        b->state = MCP_STATE_FAILED;
        b->start_err = e;
    }
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    if (!ok && err)
        *err = e;
    return ok ? MCP_CALL_OK : MCP_CALL_FAILED;
}

bool mcp_backend_start(mcp_backend_t *b, err_t *err)
{
    return ensure_running(b, 0, NULL, err) == MCP_CALL_OK;
}

void mcp_backend_stop(mcp_backend_t *b)
{
    pthread_mutex_lock(&b->mu);
    while (b->busy)
        mcp__cond_wait(&b->cv, &b->mu, 0, 1000);
    bool was_open = b->state != MCP_STATE_STOPPED;
    b->busy = true;
    pthread_mutex_unlock(&b->mu);

    if (was_open) {
        b->ops->close(b, true, "stopped");
        mcp__log(b, MCP_LOG_INFO, "backend stopped");
    }

    pthread_mutex_lock(&b->mu);
    b->busy = false;
    b->state = MCP_STATE_STOPPED;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

bool mcp_backend_restart(mcp_backend_t *b, err_t *err)
{
    mcp_backend_stop(b);
    return mcp_backend_start(b, err);
}

/* ----------------------------------------------------------- requests */

/* Builds the params actually sent: a private copy (the caller's stays
 * untouched), with the progress token replaced by one unique on this backend
 * (two gateway sessions may both use token 1) and tools/call arguments forced
 * to an object (spec: gateway §3.4). */
static bool prepare_call(mcp_backend_t *b, mcp_call_t *c, const json_t *params, err_t *err)
{
    bool is_call = strcmp(c->method, "tools/call") == 0;
    if (!params && !is_call)
        return true;
    if (params && !json_is_object(params) && !json_is_array(params))
        return err_set(err, "backend '%s': %s params must be an object", b->id, c->method);
    c->params = params ? json_deep_copy(params) : json_object();
    if (!c->params)
        return err_set(err, "out of memory");
    if (!json_is_object(c->params))
        return true;
    if (is_call) {
        json_t *args = json_object_get(c->params, "arguments");
        if ((!args || json_is_null(args)) && json_object_set_new(c->params, "arguments", json_object()) != 0)
            return err_set(err, "out of memory");
    }
    json_t *meta = json_object_get(c->params, "_meta");
    json_t *tok = json_object_get(meta, "progressToken");
    if (tok && (json_is_string(tok) || json_is_integer(tok))) {
        c->orig_token = json_incref(tok);
        c->token = (json_int_t)atomic_fetch_add(&b->next_id, 1);
        if (json_object_set_new(meta, "progressToken", json_integer(c->token)) != 0)
            return err_set(err, "out of memory");
    }
    return true;
}

mcp_call_status_t mcp_backend_request_ex(mcp_backend_t *b, const char *method, const json_t *params,
                                         const mcp_call_opts_t *opts, json_t **result, err_t *err)
{
    static const mcp_call_opts_t none;
    if (!opts)
        opts = &none;
    *result = NULL;
    if (!method || !*method)
        return err_set(err, "backend '%s': request without a method", b->id), MCP_CALL_FAILED;
    mcp_call_t c = {
        .method = method,
        .deadline_ms = opts->deadline_ms,
        .cancel = opts->cancel,
        .on_notification = opts->on_notification,
        .notify_ud = opts->notify_ud,
        .session_id = opts->session_id,
    };
    mcp_call_status_t st;
    if (!prepare_call(b, &c, params, err)) {
        st = MCP_CALL_FAILED;
        goto out;
    }
    /* A second attempt only when the first found the connection already dead
     * and sent nothing: that is a restart, never a duplicate request. */
    for (int attempt = 0; attempt < 2; attempt++) {
        st = ensure_running(b, c.deadline_ms, c.cancel, err);
        if (st != MCP_CALL_OK)
            break;
        c.not_sent = false;
        st = raw_request(b, &c, result, err);
        if (!(st == MCP_CALL_FAILED && c.not_sent))
            break;
        mcp__set_exited(b);
    }
out:
    json_decref(c.params);
    json_decref(c.orig_token);
    return st;
}

mcp_call_status_t mcp_backend_request(mcp_backend_t *b, const char *method, const json_t *params,
                                      int64_t deadline_ms, const atomic_bool *cancel, json_t **result, err_t *err)
{
    mcp_call_opts_t o = {.deadline_ms = deadline_ms, .cancel = cancel};
    return mcp_backend_request_ex(b, method, params, &o, result, err);
}

bool mcp_backend_notify(mcp_backend_t *b, const char *method, const json_t *params, int64_t deadline_ms, err_t *err)
{
    if (ensure_running(b, deadline_ms, NULL, err) != MCP_CALL_OK)
        return false;
    json_t *msg = mcp_jsonrpc_notification(method, params);
    if (!msg)
        return err_set(err, "out of memory");
    bool ok = b->ops->notify(b, msg, deadline_ms, err);
    json_decref(msg);
    return ok;
}

mcp_call_status_t mcp_backend_list_all(mcp_backend_t *b, const char *method, const char *key, int64_t deadline_ms,
                                       const atomic_bool *cancel, json_t **items, err_t *err)
{
    *items = NULL;
    json_t *all = json_array();
    json_t *seen = json_object();
    char *cursor = NULL;
    mcp_call_status_t st = MCP_CALL_FAILED;
    if (!all || !seen) {
        err_set(err, "out of memory");
        goto out;
    }
    for (int page = 0; page < 100; page++) {
        json_t *params = cursor ? json_pack("{s:s}", "cursor", cursor) : NULL;
        json_t *res = NULL;
        st = mcp_backend_request(b, method, params, deadline_ms, cancel, &res, err);
        json_decref(params);
        if (st != MCP_CALL_OK) {
            json_decref(res);
            goto out;
        }
        json_t *arr = json_object_get(res, key);
        if (!json_is_array(arr) || json_array_extend(all, arr) != 0) {
            json_decref(res);
            st = MCP_CALL_FAILED;
            err_set(err, "backend '%s': %s result has no \"%s\" array", b->id, method, key);
            goto out;
        }
        const char *next = json_string_value(json_object_get(res, "nextCursor"));
        bool more = next && *next;
        free(cursor);
        cursor = more ? strdup(next) : NULL;
        json_decref(res); /* next pointed into res */
        if (more && !cursor) {
            st = MCP_CALL_FAILED;
            err_set(err, "out of memory");
            goto out;
        }
        if (!cursor) {
            *items = all;
            all = NULL;
            st = MCP_CALL_OK;
            goto out;
        }
        if (json_object_get(seen, cursor)) {
            st = MCP_CALL_FAILED;
            err_set(err, "backend '%s': %s: pagination detected cyclical cursor", b->id, method);
            goto out;
        }
        json_object_set_new(seen, cursor, json_true());
    }
    st = MCP_CALL_FAILED;
    err_set(err, "backend '%s': %s: pagination exceeded 100-page limit", b->id, method);
out:
    free(cursor);
    json_decref(all);
    json_decref(seen);
    return st;
}

mcp_call_status_t mcp_backend_list_tools(mcp_backend_t *b, int64_t deadline_ms, const atomic_bool *cancel,
                                         json_t **tools, err_t *err)
{
    return mcp_backend_list_all(b, "tools/list", "tools", deadline_ms, cancel, tools, err);
}

/* ------------------------------------------------------ introspection */

const char *mcp_backend_id(const mcp_backend_t *b) { return b->id; }

const char *mcp_backend_transport(mcp_backend_t *b)
{
    if (b->kind == MCP_BACKEND_STDIO)
        return "stdio";
    pthread_mutex_lock(&b->mu);
    bool fixed = b->transport_fixed;
    pthread_mutex_unlock(&b->mu);
    if (!fixed)
        return "none";
    return b->ops == &mcp_sse_ops ? "sse" : "streamable-http";
}
mcp_backend_kind_t mcp_backend_kind(const mcp_backend_t *b) { return b->kind; }

mcp_backend_state_t mcp_backend_state(mcp_backend_t *b)
{
    pthread_mutex_lock(&b->mu);
    mcp_backend_state_t s = b->state;
    pthread_mutex_unlock(&b->mu);
    return s;
}

static json_t *init_field(mcp_backend_t *b, const char *key)
{
    pthread_mutex_lock(&b->mu);
    json_t *v = b->init_result ? (key ? json_object_get(b->init_result, key) : b->init_result) : NULL;
    v = v ? json_deep_copy(v) : NULL; /* a copy: the stored one may be replaced on re-init */
    pthread_mutex_unlock(&b->mu);
    return v;
}

json_t *mcp_backend_initialize_result(mcp_backend_t *b) { return init_field(b, NULL); }
json_t *mcp_backend_server_info(mcp_backend_t *b) { return init_field(b, "serverInfo"); }
json_t *mcp_backend_capabilities(mcp_backend_t *b) { return init_field(b, "capabilities"); }

void mcp_backend_protocol_version(mcp_backend_t *b, char *buf, size_t size) { mcp__proto(b, buf, size); }

unsigned mcp_backend_start_count(mcp_backend_t *b)
{
    pthread_mutex_lock(&b->mu);
    unsigned n = b->starts;
    pthread_mutex_unlock(&b->mu);
    return n;
}
