/*
 * mcp_internal.h — what backend.c (the common part of a backend) shares with
 * the two transports, stdio_backend.c and http_backend.c. Not installed.
 *
 * Split of work: backend.c owns the lifecycle (lazy start, one start at a
 * time, restart after an exit), the initialize handshake, per-call option
 * handling (progress-token rewriting, tools/call arguments) and pagination.
 * A transport only moves one request/notification at a time over its current
 * connection, through mcp_backend_ops_t.
 */
#ifndef FLOWGATE_MCP_INTERNAL_H
#define FLOWGATE_MCP_INTERNAL_H

#include "mcp/mcp.h"

#include <pthread.h>

/* One outgoing request as the transport sees it. */
typedef struct mcp_call {
    const char *method;
    json_t *params;        /* owned by the caller of ops->call; may be NULL */
    int64_t deadline_ms;   /* 0: none */
    const atomic_bool *cancel;
    json_t *orig_token;    /* the caller's progressToken, or NULL */
    json_int_t token;      /* what replaced it on the wire */
    void (*on_notification)(void *ud, const json_t *n);
    void *notify_ud;
    bool not_sent;         /* set by the transport: failed before anything was sent */
    const char *session_id; /* mcp_call_opts_t.session_id (borrowed) */
} mcp_call_t;

typedef struct mcp_backend_ops {
    /* Spawns/connects (before the handshake). */
    bool (*open)(mcp_backend_t *b, int64_t deadline_ms, err_t *err);
    /* Tears the connection down and fails waiting calls with `why`.
     * graceful: the full close-stdin/SIGTERM/SIGKILL sequence (or DELETE);
     * otherwise as fast as possible. Safe when nothing is open. */
    void (*close)(mcp_backend_t *b, bool graceful, const char *why);
    /* One request: on MCP_CALL_OK *response is the whole response or error
     * message (validated). Other statuses: err says why. */
    mcp_call_status_t (*call)(mcp_backend_t *b, mcp_call_t *c, json_t **response, err_t *err);
    /* One notification message (complete JSON-RPC object). */
    bool (*notify)(mcp_backend_t *b, const json_t *msg, int64_t deadline_ms, err_t *err);
    /* Frees b->impl (after close). */
    void (*destroy)(mcp_backend_t *b);
} mcp_backend_ops_t;

struct mcp_backend {
    const mcp_backend_ops_t *ops;
    void *impl;
    /* HTTP backends have two transports, negotiated at the first start
     * (spec: gateway §3.3): streamable HTTP, then HTTP+SSE. ops/impl is the
     * one in use, alt_ops/alt_impl the other (impl NULL until first tried).
     * After a start succeeds the choice is fixed, so that no call can be
     * inside one transport while another thread switches. */
    const mcp_backend_ops_t *alt_ops;
    void *alt_impl;
    bool transport_fixed;

    /* Copied configuration. */
    char *id;
    mcp_backend_kind_t kind;
    char *command, *cwd;
    char **args, **env;           /* NULL-terminated; env NULL = inherit */
    char *url;
    char **headers;               /* NULL-terminated */
    mcp_http_headers_fn dynamic_headers;
    void *dynamic_headers_ud;
    int connect_timeout_ms, startup_timeout_ms, shutdown_grace_ms;
    char *client_name, *client_version, *protocol_version;
    size_t max_message;
    mcp_hooks_t hooks;

    atomic_llong next_id;         /* request ids and rewritten progress tokens */

    /* Lifecycle; mu is a leaf lock (never held while calling out). */
    pthread_mutex_t mu;
    pthread_cond_t cv;            /* monotonic; lifecycle changes */
    mcp_backend_state_t state;
    bool busy;                    /* a start or stop is running */
    unsigned start_gen;           /* bumped after every start attempt */
    err_t start_err;              /* the last failed start */
    json_t *init_result;
    char proto[32];
    unsigned starts;
};

extern const mcp_backend_ops_t mcp_stdio_ops;
extern const mcp_backend_ops_t mcp_http_ops;

bool mcp_stdio_init(mcp_backend_t *b, err_t *err);
bool mcp_http_init(mcp_backend_t *b, err_t *err);

/* Hook helpers: no-ops when the hook is unset. */
void mcp__log(mcp_backend_t *b, mcp_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void mcp__rpc_log(mcp_backend_t *b, mcp_direction_t dir, const char *method, const json_t *msg, const char *error);

/* Routes a notification from the backend: to the call's own callback when it
 * is progress for that call (token restored) or when `c` is the call whose
 * stream carried it (HTTP: any_on_stream), else to hooks.on_notification. */
void mcp__route_notification(mcp_backend_t *b, mcp_call_t *c, bool any_on_stream, const json_t *msg);

/* Builds the response message to a server->client request (hook or default). */
json_t *mcp__answer_server_request(mcp_backend_t *b, const mcp_msg_t *req);

/* The initialize / notifications/initialized exchange over ops->call and
 * ops->notify; records the result. Used by start and by the HTTP transport's
 * re-initialisation after an expired session. */
bool mcp__handshake(mcp_backend_t *b, int64_t deadline_ms, err_t *err);

/* Marks a RUNNING backend EXITED (the transport saw it die). */
void mcp__set_exited(mcp_backend_t *b);

/* Negotiated version into buf ("" before initialize). */
void mcp__proto(mcp_backend_t *b, char *buf, size_t size);

/* Child processes (process.c). */
typedef struct mcp_child {
    pid_t pid;               /* leader of its own process group */
    int in_fd, out_fd, err_fd; /* our ends: child's stdin, stdout, stderr; close-on-exec */
} mcp_child_t;

/* posix_spawnp's command with args (NULL-terminated, without argv[0]) and env
 * (NULL = ours), in a new process group, signals reset to default. */
bool mcp__spawn(const char *command, char *const *args, char *const *env, const char *cwd, mcp_child_t *child,
                err_t *err);
/* Waits up to ms for the process to exit, without reaping it. */
bool mcp__wait_exit(pid_t pid, int ms);
/* Reaps pid (blocking) and describes how it ended into buf ("exited with
 * status 1", "exited (killed by signal 9: Killed)"). */
void mcp__reap(pid_t pid, char *buf, size_t size);
/* Describes an exit seen with waitid(WNOWAIT) within ms; false if still running. */
bool mcp__peek_exit(pid_t pid, int ms, char *buf, size_t size);
/* write() that never raises SIGPIPE in this process (EPIPE instead). */
ssize_t mcp__write_nosigpipe(int fd, const void *data, size_t len);

/* ------------------------------------------------------------------
 * Request correlation for transports with one inbound stream (pending.c).
 *
 * stdio and the legacy HTTP+SSE transport both send each request on one
 * channel and receive every answer, notification and server->client request
 * on another (the child's stdout, the GET event stream), read by one reader
 * thread. A caller registers a slot under its request's wire id, sends, and
 * waits on the slot; the reader completes slots by id, in any order.
 *
 * Invariants: a slot is in `slots` only while its caller waits; a slot with
 * pins > 0 is being used by the reader outside the lock and its caller does
 * not return (the slot lives on the caller's stack) until pins drop to 0.
 * ------------------------------------------------------------------ */
typedef struct mcp_slot {
    struct mcp_slot *next;
    json_int_t id;
    mcp_call_t *call;
    json_t *response;      /* owned by the slot until handed to the caller */
    bool done, failed;
    int pins;
    char fail[ERR_MSG_MAX];
    pthread_cond_t cv;
} mcp_slot_t;

typedef struct mcp_pending {
    pthread_mutex_t *mu;   /* the transport's own lock: guards slots too */
    mcp_slot_t *slots;
} mcp_pending_t;

typedef enum mcp_send_result {
    MCP_SEND_OK,
    MCP_SEND_TIMEOUT,      /* nothing went out before the deadline */
    MCP_SEND_NOT_SENT,     /* the connection is gone; the peer saw nothing */
    MCP_SEND_FAILED,       /* something may have reached the peer */
} mcp_send_result_t;

/* What a stream transport provides to mcp__pending_call / _dispatch. */
typedef struct mcp_stream_io {
    /* Called with *mu held: false (err set) when the connection cannot take
     * a request now; the request is then reported as not sent. */
    bool (*ready)(mcp_backend_t *b, err_t *err);
    /* Called without the lock: sends one complete message (and logs it).
     * On failure err says why. */
    mcp_send_result_t (*send)(mcp_backend_t *b, const json_t *msg, const char *method, int64_t deadline_ms,
                              err_t *err);
} mcp_stream_io_t;

/* Completes every waiting slot with msg as its error (*mu held). */
void mcp__pending_fail_all(mcp_pending_t *p, const char *msg);
/* One request, whole: register, send, wait for the answer, the deadline or
 * the cancel flag; on expiry tell the server with notifications/cancelled.
 * Same contract as mcp_backend_ops_t.call. */
mcp_call_status_t mcp__pending_call(mcp_backend_t *b, mcp_pending_t *p, const mcp_stream_io_t *io, mcp_call_t *c,
                                    json_t **response, err_t *err);
/* Reader side: parses one message text (a single message or a batch) from
 * the server and completes a slot, routes a notification or answers a
 * server->client request through io->send. Never blocks on the lock for
 * longer than a list walk. */
void mcp__pending_dispatch_text(mcp_backend_t *b, mcp_pending_t *p, const mcp_stream_io_t *io, const char *text,
                                size_t len);

/* ------------------------------------------------------------------
 * What the two HTTP transports share (http_common.c): streamable HTTP
 * (http_backend.c) and the legacy HTTP+SSE transport of 2024-11-05
 * (sse_backend.c). backend.c negotiates between them (spec: gateway §3.3).
 * ------------------------------------------------------------------ */
struct curl_slist;

/* libcurl's global initialisation, once per process; false if it failed. */
bool mcp__curl_ready(void);

/* Idle curl easy handles of one backend: a handle keeps its connections
 * alive, so reusing handles reuses connections. Thread-safe. */
#define MCP_CURL_POOL_MAX 8
typedef struct mcp_curl_pool {
    pthread_mutex_t mu;
    void *handles[MCP_CURL_POOL_MAX]; /* CURL * */
    int n;
} mcp_curl_pool_t;

bool mcp__curl_pool_init(mcp_curl_pool_t *p);
/* An idle handle (reset, connections kept) or a new one; NULL on OOM. */
void *mcp__curl_pool_get(mcp_curl_pool_t *p);
/* Gives c back (NULL is fine); cleaned up when the pool is full. */
void mcp__curl_pool_put(mcp_curl_pool_t *p, void *c);
/* Cleans up every idle handle. */
void mcp__curl_pool_free(mcp_curl_pool_t *p);
/* Appends one header line to *(struct curl_slist **)list; false on OOM.
 * (The void * form is the one mcp_http_headers_fn callbacks receive.) */
bool mcp__http_add_header(void *list, const char *header);
/* Every request's first headers: the configured ones (they win: Set
 * semantics, spec: gateway §3.3), then Content-Type: application/json when
 * content_type, Accept: accept, and an empty Expect (no 100-continue round
 * trip), each unless configured. False (err set) on OOM. */
bool mcp__http_base_headers(mcp_backend_t *b, struct curl_slist **list, const char *accept, bool content_type,
                            err_t *err);
/* Every request's last headers: those of the dynamic_headers hook (OIDC
 * bearer tokens). False with err set when the hook fails. */
bool mcp__http_dynamic_headers(mcp_backend_t *b, struct curl_slist **list, err_t *err);
/* A response header line "Name: value\r\n" of the given name (any case):
 * *value / *vlen get the trimmed value. */
bool mcp__http_header_is(const char *line, size_t n, const char *name, const char **value, size_t *vlen);

extern const mcp_backend_ops_t mcp_sse_ops;
bool mcp_sse_init(mcp_backend_t *b, err_t *err);

/* Condition-variable helpers on CLOCK_MONOTONIC. */
bool mcp__cond_init(pthread_cond_t *cv);
/* Waits until signalled or min(deadline_ms, now + max_wait_ms); deadline 0 = none.
 * Returns false when deadline_ms has passed. */
bool mcp__cond_wait(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline_ms, int max_wait_ms);

/* The reason a call stopped waiting, or MCP_CALL_OK to keep waiting. */
static inline mcp_call_status_t mcp__call_expired(const mcp_call_t *c)
{
    if (c->cancel && atomic_load(c->cancel))
        return MCP_CALL_CANCELLED;
    if (c->deadline_ms && mcp_now_ms() >= c->deadline_ms)
        return MCP_CALL_TIMEOUT;
    return MCP_CALL_OK;
}

#endif
