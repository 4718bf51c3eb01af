/*
 * pending.c — request/response correlation for the transports that read
 * every message from the server on one stream: stdio (the child's stdout)
 * and HTTP+SSE (the GET event stream). See mcp_internal.h for the slot
 * invariants; the transports supply only "is the connection up" and "send
 * this message".
 *
 * Ids come from the backend's counter, so concurrent calls never collide and
 * a late answer to an abandoned request finds no slot and is dropped.
 */
#include "mcp/mcp_internal.h"

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------- slots */

void mcp__pending_fail_all(mcp_pending_t *p, const char *msg)
{
    for (mcp_slot_t *sl = p->slots; sl; sl = sl->next) {
        if (sl->done)
            continue;
        sl->done = sl->failed = true;
        snprintf(sl->fail, sizeof sl->fail, "%s", msg);
        pthread_cond_signal(&sl->cv);
    }
}

static mcp_slot_t *find_by_id(mcp_pending_t *p, json_int_t id)
{
    for (mcp_slot_t *sl = p->slots; sl; sl = sl->next)
        if (sl->id == id)
            return sl;
    return NULL;
}

static mcp_slot_t *find_by_token(mcp_pending_t *p, json_int_t token)
{
    for (mcp_slot_t *sl = p->slots; sl; sl = sl->next)
        if (sl->call && sl->call->orig_token && sl->call->token == token)
            return sl;
    return NULL;
}

static void unlink_slot(mcp_pending_t *p, mcp_slot_t *slot)
{
    for (mcp_slot_t **q = &p->slots; *q; q = &(*q)->next)
        if (*q == slot) {
            *q = slot->next;
            return;
        }
}

static void unpin(mcp_pending_t *p, mcp_slot_t *sl)
{
    pthread_mutex_lock(p->mu);
    sl->pins--;
    pthread_cond_signal(&sl->cv);
    pthread_mutex_unlock(p->mu);
}

/* ------------------------------------------------------------ reader */

static void deliver_response(mcp_backend_t *b, mcp_pending_t *p, mcp_msg_t *m)
{
    mcp_slot_t *sl = NULL;
    const char *method = NULL;
    pthread_mutex_lock(p->mu);
    if (json_is_integer(m->id) && (sl = find_by_id(p, json_integer_value(m->id))) && !sl->done) {
        sl->pins++;
        method = sl->call->method;
    } else {
        sl = NULL;
    }
    pthread_mutex_unlock(p->mu);
    mcp__rpc_log(b, MCP_DIR_IN, method, m->root, NULL);
    if (!sl) {
        mcp__log(b, MCP_LOG_DEBUG, "dropping response for an unknown or abandoned request id");
        return;
    }
    pthread_mutex_lock(p->mu);
    if (!sl->done) {
        /* Hand our reference over instead of sharing one: jansson's
         * refcount check is not safe for two threads on one value. */
        sl->response = m->root;
        m->root = NULL;
        sl->done = true;
    }
    sl->pins--;
    pthread_cond_signal(&sl->cv);
    pthread_mutex_unlock(p->mu);
}

static void deliver_notification(mcp_backend_t *b, mcp_pending_t *p, mcp_msg_t *m)
{
    mcp__rpc_log(b, MCP_DIR_IN, m->method, m->root, NULL);
    json_t *tok = json_object_get(m->params, "progressToken");
    mcp_slot_t *sl = NULL;
    if (strcmp(m->method, "notifications/progress") == 0 && json_is_integer(tok)) {
        pthread_mutex_lock(p->mu);
        if ((sl = find_by_token(p, json_integer_value(tok))))
            sl->pins++;
        pthread_mutex_unlock(p->mu);
    }
    mcp__route_notification(b, sl ? sl->call : NULL, false, m->root);
    if (sl)
        unpin(p, sl);
}

static void dispatch(mcp_backend_t *b, mcp_pending_t *p, const mcp_stream_io_t *io, mcp_msg_t *m)
{
    switch (m->kind) {
    case MCP_MSG_RESPONSE:
    case MCP_MSG_ERROR:
        deliver_response(b, p, m);
        return;
    case MCP_MSG_NOTIFICATION:
        deliver_notification(b, p, m);
        return;
    case MCP_MSG_REQUEST: {
        mcp__rpc_log(b, MCP_DIR_IN, m->method, m->root, NULL);
        json_t *resp = mcp__answer_server_request(b, m);
        err_t e = {{0}};
        if (resp && io->send(b, resp, m->method, mcp_now_ms() + 5000, &e) != MCP_SEND_OK)
            mcp__log(b, MCP_LOG_WARN, "answering the server's %s request: %s", m->method, e.msg);
        json_decref(resp);
        return;
    }
    }
}

void mcp__pending_dispatch_text(mcp_backend_t *b, mcp_pending_t *p, const mcp_stream_io_t *io, const char *text,
                                size_t len)
{
    mcp_msg_t m;
    err_t e = {{0}};
    mcp_parse_status_t st = mcp_jsonrpc_parse(text, len, &m, &e);
    if (st == MCP_PARSE_OK) {
        dispatch(b, p, io, &m);
    } else if (st == MCP_PARSE_BATCH) {
        for (size_t i = 0; i < json_array_size(m.root); i++) {
            /* A private copy, so that handing it to a caller shares nothing
             * with the batch array this thread still owns. */
            json_t *el = json_deep_copy(json_array_get(m.root, i));
            mcp_msg_t one;
            mcp_parse_status_t one_st = mcp_jsonrpc_classify(el, &one, &e);
            json_decref(el); /* one.root is now the only reference */
            if (one_st == MCP_PARSE_OK)
                dispatch(b, p, io, &one);
            mcp_msg_free(&one);
        }
    } else {
        mcp__log(b, MCP_LOG_WARN, "ignoring a message that is not JSON-RPC: %s", e.msg);
    }
    mcp_msg_free(&m);
}

/* ------------------------------------------------------------ caller */

/* Deadline or cancel: tell the server to stop (spec: mcp-protocol §1.4
 * cancellation); its late reply, if any, finds no slot and is dropped. */
static void send_cancelled(mcp_backend_t *b, const mcp_stream_io_t *io, const mcp_call_t *c, json_int_t id,
                           const char *reason)
{
    if (strcmp(c->method, "initialize") == 0)
        return; /* spec: the initialize request must not be cancelled */
    json_t *params = json_pack("{s:I, s:s}", "requestId", id, "reason", reason);
    json_t *note = params ? mcp_jsonrpc_notification("notifications/cancelled", params) : NULL;
    err_t e = {{0}};
    if (note)
        io->send(b, note, "notifications/cancelled", mcp_now_ms() + 1000, &e);
    json_decref(note);
    json_decref(params);
}

mcp_call_status_t mcp__pending_call(mcp_backend_t *b, mcp_pending_t *p, const mcp_stream_io_t *io, mcp_call_t *c,
                                    json_t **response, err_t *err)
{
    *response = NULL;
    mcp_slot_t slot;
    memset(&slot, 0, sizeof slot);
    if (!mcp__cond_init(&slot.cv))
        return err_set(err, "backend '%s': cannot create a condition variable", b->id), MCP_CALL_FAILED;
    slot.call = c;
    slot.id = (json_int_t)atomic_fetch_add(&b->next_id, 1);

    pthread_mutex_lock(p->mu);
    if (!io->ready(b, err)) {
        pthread_mutex_unlock(p->mu);
        pthread_cond_destroy(&slot.cv);
        c->not_sent = true;
        return MCP_CALL_FAILED;
    }
    slot.next = p->slots;
    p->slots = &slot;
    pthread_mutex_unlock(p->mu);

    json_t *id = json_integer(slot.id);
    json_t *msg = id ? mcp_jsonrpc_request(id, c->method, c->params) : NULL;
    json_decref(id);
    err_t send_err = {{0}};
    mcp_send_result_t sr = MCP_SEND_NOT_SENT;
    if (msg)
        sr = io->send(b, msg, c->method, c->deadline_ms, &send_err);
    else
        err_set(&send_err, "out of memory");
    json_decref(msg);

    mcp_call_status_t st = MCP_CALL_OK;
    pthread_mutex_lock(p->mu);
    if (sr == MCP_SEND_OK) {
        while (!slot.done && (st = mcp__call_expired(c)) == MCP_CALL_OK)
            mcp__cond_wait(&slot.cv, p->mu, c->deadline_ms, c->cancel ? 50 : 1000);
    }
    unlink_slot(p, &slot);
    while (slot.pins > 0)
        pthread_cond_wait(&slot.cv, p->mu);
    pthread_mutex_unlock(p->mu);
    pthread_cond_destroy(&slot.cv);

    if (sr != MCP_SEND_OK) {
        json_decref(slot.response); /* a reply to a half-sent request: not ours to trust */
        if (sr == MCP_SEND_TIMEOUT) {
            err_set(err, "backend '%s': %s timed out writing the request", b->id, c->method);
            mcp__rpc_log(b, MCP_DIR_IN, c->method, NULL, err ? err->msg : "timeout");
            return MCP_CALL_TIMEOUT;
        }
        if (err)
            *err = send_err;
        c->not_sent = sr == MCP_SEND_NOT_SENT;
        mcp__rpc_log(b, MCP_DIR_IN, c->method, NULL, send_err.msg);
        return MCP_CALL_FAILED;
    }
    if (slot.done && !slot.failed) {
        *response = slot.response;
        return MCP_CALL_OK;
    }
    if (slot.done) {
        err_set(err, "%s", slot.fail);
        mcp__rpc_log(b, MCP_DIR_IN, c->method, NULL, slot.fail);
        return MCP_CALL_FAILED;
    }
    const char *reason = st == MCP_CALL_TIMEOUT ? "context deadline exceeded" : "request cancelled";
    send_cancelled(b, io, c, slot.id, reason);
    if (st == MCP_CALL_TIMEOUT)
        err_set(err, "backend '%s': %s: %s", b->id, c->method, reason);
    else
        err_set(err, "backend '%s': %s cancelled", b->id, c->method);
    mcp__rpc_log(b, MCP_DIR_IN, c->method, NULL, reason);
    return st;
}
