/*
 * mcp.h — the MCP layer toward backends: JSON-RPC 2.0 messages, the stdio and
 * SSE framings, and connections to MCP servers (a child process over stdio, or
 * a streamable-HTTP endpoint) behind one interface.
 *
 * Pieces, bottom up:
 *   - mcp_msg_t / mcp_jsonrpc_*: classify a JSON text as request, notification,
 *     response or error (spec: mcp-protocol §1.7 codes), and build replies.
 *   - mcp_linebuf_t: newline-delimited framing for stdio (one message a line).
 *   - mcp_sse_parser_t / mcp_sse_format_event: an incremental text/event-stream
 *     parser (HTML "server-sent events" rules) and a writer; the HTTP backend
 *     uses both directions' rules and the gateway's front end reuses them.
 *   - mcp_backend_t: one MCP server. It spawns or connects lazily, performs the
 *     initialize / notifications/initialized handshake, correlates concurrent
 *     requests by rewritten ids (so callers never see each other's replies),
 *     routes notifications and server->client requests to hooks, restarts a
 *     dead stdio child on next use, and pages through list results (tools,
 *     prompts, resources) following nextCursor.
 * The module knows nothing about the gateway above it: logging, routing and
 * DIFC happen in the caller through the hooks below.
 *
 * JSON ownership (jansson): a `const json_t *` argument is borrowed and never
 * kept; a `json_t **` out-parameter receives a NEW reference the caller must
 * json_decref. Values handed to hooks and callbacks are borrowed for the call
 * only: to keep one, json_deep_copy it (jansson's reference counting is not
 * safe for one value used from two threads, and hooks run on reader threads). Strings returned by the _format and _serialize functions are malloc'd, caller
 * frees.
 *
 * Time: deadlines are absolute milliseconds on mcp_now_ms()'s monotonic clock;
 * 0 means "no deadline". Cancellation is an optional atomic_bool the caller
 * sets from any thread; a waiting call notices it within ~50 ms.
 */
#ifndef FLOWGATE_MCP_MCP_H
#define FLOWGATE_MCP_MCP_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/buf.h"
#include "util/err.h"

/* ---------------------------------------------------------------- time */

/* Milliseconds on CLOCK_MONOTONIC. */
int64_t mcp_now_ms(void);

/* ------------------------------------------------------------ JSON-RPC */

/* Standard and MCP error codes (spec: mcp-protocol §1.7). */
#define MCP_ERR_PARSE               (-32700)
#define MCP_ERR_INVALID_REQUEST     (-32600)
#define MCP_ERR_METHOD_NOT_FOUND    (-32601)
#define MCP_ERR_INVALID_PARAMS      (-32602)
#define MCP_ERR_INTERNAL            (-32603)
#define MCP_ERR_CONNECTION_CLOSED   (-32000) /* implementation-defined range */
#define MCP_ERR_REQUEST_TIMEOUT     (-32001) /* as the TS SDK uses it */
#define MCP_ERR_RESOURCE_NOT_FOUND  (-32002)

/* The revision this client asks for in initialize (spec: gateway §3.2). */
#define MCP_PROTOCOL_LATEST "2025-11-25"

typedef enum mcp_msg_kind {
    MCP_MSG_REQUEST,      /* method + id */
    MCP_MSG_NOTIFICATION, /* method, no id */
    MCP_MSG_RESPONSE,     /* id + result */
    MCP_MSG_ERROR,        /* id (maybe null) + error */
} mcp_msg_kind_t;

/* A classified message. `root` is owned (one reference); every other pointer
 * is borrowed from root and dies with mcp_msg_free. */
typedef struct mcp_msg {
    mcp_msg_kind_t kind;
    json_t *root;
    json_t *id;          /* string or integer; json null for an error without id; NULL for notifications */
    const char *method;  /* requests and notifications */
    json_t *params;      /* object or array, or NULL when absent */
    json_t *result;      /* responses */
    json_int_t error_code;       /* errors */
    const char *error_message;   /* errors ("" when the peer sent none) */
    json_t *error_data;          /* errors, NULL when absent */
} mcp_msg_t;

typedef enum mcp_parse_status {
    MCP_PARSE_OK,        /* *msg filled */
    MCP_PARSE_BATCH,     /* a non-empty JSON array: msg->root holds it, kind/id unset.
                            Legal only if mcp_jsonrpc_batch_allowed(); then classify
                            each element with mcp_jsonrpc_classify */
    MCP_PARSE_NOT_JSON,  /* reply MCP_ERR_PARSE with id null */
    MCP_PARSE_INVALID,   /* JSON but not JSON-RPC 2.0: reply MCP_ERR_INVALID_REQUEST;
                            msg->id holds the id when one could be read, else NULL */
} mcp_parse_status_t;

/* Parses and classifies one message text (need not be NUL-terminated). Always
 * call mcp_msg_free afterwards, whatever the status. err says what is wrong. */
mcp_parse_status_t mcp_jsonrpc_parse(const char *text, size_t len, mcp_msg_t *msg, err_t *err);

/* Classifies an already parsed value (takes its own reference to it). Returns
 * MCP_PARSE_OK or MCP_PARSE_INVALID (MCP_PARSE_BATCH for arrays). */
mcp_parse_status_t mcp_jsonrpc_classify(json_t *value, mcp_msg_t *msg, err_t *err);

/* Releases msg->root and clears msg. Safe on a zeroed or already freed msg. */
void mcp_msg_free(mcp_msg_t *msg);

/* JSON-RPC batches were legal only in protocol revision 2025-03-26
 * (spec: mcp-protocol §1.1). NULL (not negotiated yet) -> false. */
bool mcp_jsonrpc_batch_allowed(const char *protocol_version);

/* Builders. Each returns a new object, or NULL on allocation failure. id may
 * be NULL (-> json null in errors). params/result/data are borrowed (copied by
 * reference: they must not be mutated while the message is alive). */
json_t *mcp_jsonrpc_request(const json_t *id, const char *method, const json_t *params);
json_t *mcp_jsonrpc_notification(const char *method, const json_t *params);
json_t *mcp_jsonrpc_result(const json_t *id, const json_t *result);
json_t *mcp_jsonrpc_error(const json_t *id, json_int_t code, const char *message, const json_t *data);

/* Compact one-line text of a message (no embedded newline, as stdio framing
 * requires). Returns malloc'd text, length in *len; NULL on failure. */
char *mcp_jsonrpc_serialize(const json_t *msg, size_t *len);

/* ------------------------------------------------ stdio (NDJSON) framing */

/* Splits a byte stream into lines. A line longer than max_line is discarded
 * in full and reported as an error (the stream stays in sync). Trailing "\r"
 * is stripped; empty lines are skipped. */
typedef struct mcp_linebuf {
    util_buf_t line;  /* the current, unfinished line */
    size_t max_line;
    bool discarding; /* inside an over-long line */
} mcp_linebuf_t;

/* Called for every complete line (without the newline; NUL-terminated for
 * convenience). Return false to stop feeding. */
typedef bool (*mcp_line_fn)(void *ud, char *line, size_t len);

void mcp_linebuf_init(mcp_linebuf_t *lb, size_t max_line);
/* Feeds bytes; calls fn per line. Returns false on allocation failure, an
 * over-long line (after resyncing) or when fn stopped; err says which. */
bool mcp_linebuf_feed(mcp_linebuf_t *lb, const char *data, size_t n, mcp_line_fn fn, void *ud, err_t *err);
void mcp_linebuf_free(mcp_linebuf_t *lb);

/* ----------------------------------------------------- SSE (event-stream) */

typedef struct mcp_sse_event {
    const char *event;   /* "message" unless an event: field said otherwise */
    const char *data;    /* data lines joined with "\n"; may be "" (priming events) */
    size_t data_len;
    const char *id;      /* last event id seen on the stream ("" if none) */
    long retry_ms;       /* retry: given in this event, or -1 */
} mcp_sse_event_t;

/* Return false to stop parsing (mcp_sse_parser_feed then returns false with
 * an empty err). All pointers are valid only during the call. */
typedef bool (*mcp_sse_event_fn)(void *ud, const mcp_sse_event_t *ev);

typedef struct mcp_sse_parser mcp_sse_parser_t;

/* max_event bounds one event's accumulated data (and one line); larger events
 * fail the stream. Returns NULL on allocation failure. */
mcp_sse_parser_t *mcp_sse_parser_new(size_t max_event, mcp_sse_event_fn fn, void *ud);
/* Feeds bytes of the stream (any split, CRLF/LF/CR line ends, leading BOM). */
bool mcp_sse_parser_feed(mcp_sse_parser_t *p, const char *data, size_t len, err_t *err);
/* The id: of the last event (for Last-Event-ID); "" when none. */
const char *mcp_sse_parser_last_event_id(const mcp_sse_parser_t *p);
void mcp_sse_parser_free(mcp_sse_parser_t *p);

/* Formats one event: optional "event:" and "id:" lines, then one "data:" line
 * per line of data (splitting on CR, LF, CRLF), then a blank line. event/id may
 * be NULL; they must not contain CR or LF (returns NULL). retry_ms < 0 omits
 * retry:. Returns malloc'd text, length in *out_len. */
char *mcp_sse_format_event(const char *event, const char *id, const char *data, size_t data_len,
                           long retry_ms, size_t *out_len);

/* ------------------------------------------------------------- backends */

typedef struct mcp_backend mcp_backend_t;

typedef enum mcp_backend_kind { MCP_BACKEND_STDIO, MCP_BACKEND_HTTP } mcp_backend_kind_t;

typedef enum mcp_backend_state {
    MCP_STATE_STOPPED,  /* never started, or stopped by mcp_backend_stop */
    MCP_STATE_STARTING, /* spawning/connecting and initializing */
    MCP_STATE_RUNNING,  /* initialized, accepting requests */
    MCP_STATE_EXITED,   /* the child died or the connection broke; next use restarts */
    MCP_STATE_FAILED,   /* the last start failed; next use tries again */
} mcp_backend_state_t;

typedef enum mcp_direction { MCP_DIR_OUT, MCP_DIR_IN } mcp_direction_t;

/* One record for rpc-messages.jsonl (spec: gateway §5.3). */
typedef struct mcp_rpc_log {
    const char *server_id;
    mcp_direction_t direction;
    const char *method;    /* the request's method (also on its response); NULL if unknown */
    const json_t *message; /* the message as on the wire; NULL on transport failure */
    const char *error;     /* transport failure text, else NULL */
} mcp_rpc_log_t;

typedef enum mcp_log_level { MCP_LOG_DEBUG, MCP_LOG_INFO, MCP_LOG_WARN, MCP_LOG_ERROR } mcp_log_level_t;

/* Hooks are optional and may be called from any thread (a backend's reader
 * thread or a caller's thread), concurrently for different backends; they
 * must not call back into the same backend. Borrowed arguments live only for
 * the call. */
typedef struct mcp_hooks {
    void *ud;
    /* Every message sent to / received from the backend, and transport
     * failures of requests. */
    void (*on_rpc)(void *ud, const mcp_rpc_log_t *rec);
    /* One line of the child's stderr (stdio), without the newline. */
    void (*on_stderr)(void *ud, const char *server_id, const char *line, size_t len);
    /* Lifecycle lines for <server>.log: start, server info, exit, restart. */
    void (*on_log)(void *ud, const char *server_id, mcp_log_level_t level, const char *message);
    /* Notifications not claimed by a call's own on_notification (see
     * mcp_call_opts_t): tools/list_changed, logging, unmatched progress... */
    void (*on_notification)(void *ud, const char *server_id, const json_t *notification);
    /* Server->client requests. Return a new reference to the result to send,
     * or NULL for the default: ping -> {}, roots/list -> {"roots":[]}, anything
     * else -> -32601. */
    json_t *(*on_server_request)(void *ud, const char *server_id, const char *method, const json_t *params);
} mcp_hooks_t;

/* Called to add per-request HTTP headers (e.g. an OIDC bearer token that
 * changes over time). Append "Name: value" strings with the given adder;
 * return false (with err) to fail the request. */
typedef bool (*mcp_http_add_header_fn)(void *hdrs, const char *header);
typedef bool (*mcp_http_headers_fn)(void *ud, const char *server_id, mcp_http_add_header_fn add, void *hdrs, err_t *err);

typedef struct mcp_backend_config {
    const char *id;                 /* server id, used in messages and hooks (required) */
    mcp_backend_kind_t kind;
    struct {
        const char *command;        /* PATH-searched */
        const char *const *args;    /* NULL-terminated, without argv[0]; may be NULL */
        const char *const *env;     /* NULL-terminated "NAME=VALUE": the child's whole
                                       environment; NULL inherits ours */
        const char *cwd;            /* NULL: ours */
    } stdio;
    struct {
        const char *url;
        const char *const *headers; /* NULL-terminated "Name: value", set on every request */
        mcp_http_headers_fn dynamic_headers; /* optional, called per request */
        void *dynamic_headers_ud;
        int connect_timeout_ms;     /* 0 -> 30000 */
    } http;
    int startup_timeout_ms;         /* spawn/connect + handshake; 0 -> 30000 (gateway §3.2) */
    int shutdown_grace_ms;          /* per step of close-stdin / SIGTERM / SIGKILL; 0 -> 2000 */
    const char *client_name;        /* clientInfo.name; NULL -> "awmg" */
    const char *client_version;     /* clientInfo.version; NULL -> "0.1.0" */
    const char *protocol_version;   /* requested revision; NULL -> MCP_PROTOCOL_LATEST */
    size_t max_message;             /* largest accepted message; 0 -> 64 MiB */
    mcp_hooks_t hooks;
} mcp_backend_config_t;

/* Per-call options. Zero-initialise, then set what you need. */
typedef struct mcp_call_opts {
    int64_t deadline_ms;               /* absolute (mcp_now_ms); 0: none */
    const atomic_bool *cancel;         /* optional; set true to abandon the call */
    /* Notifications that belong to this call: notifications/progress whose
     * progressToken is the one the caller put in params._meta (handed back with
     * the caller's original token), and, for HTTP, anything the server sent on
     * this call's SSE stream. Called from another thread than the caller's. */
    void (*on_notification)(void *ud, const json_t *notification);
    void *notify_ud;
    /* The gateway client session the call belongs to (borrowed, may be
     * NULL). Only a plain JSON-RPC-over-POST HTTP backend uses it: it is sent
     * as Mcp-Session-Id instead of the id captured at initialize, as upstream
     * does (spec: gateway §3.3). Streamable servers keep their own session. */
    const char *session_id;
} mcp_call_opts_t;

typedef enum mcp_call_status {
    MCP_CALL_OK,        /* *result = the response's result */
    MCP_CALL_RPC_ERROR, /* *result = the backend's error object {code,message,data?};
                           err holds "code=<c>: <message>" */
    MCP_CALL_TIMEOUT,   /* deadline passed: notifications/cancelled was sent; err says so */
    MCP_CALL_CANCELLED, /* the cancel flag was set: notifications/cancelled was sent */
    MCP_CALL_FAILED,    /* transport failure, e.g. "backend 'X' exited with status 1",
                           "backend 'X' startup timeout after 30s", HTTP errors */
} mcp_call_status_t;

/* Copies cfg (strings and arrays too; hooks' ud is kept as a pointer). Does not
 * start anything. Returns NULL with err on a bad config or no memory. */
mcp_backend_t *mcp_backend_new(const mcp_backend_config_t *cfg, err_t *err);

/* Stops (see mcp_backend_stop) and frees. No call may be in progress. */
void mcp_backend_free(mcp_backend_t *b);

/* Spawns/connects and initializes if not RUNNING; idempotent and thread-safe
 * (concurrent callers wait for one start). Bounded by startup_timeout_ms. */
bool mcp_backend_start(mcp_backend_t *b, err_t *err);

/* Shuts down: stdio closes stdin, waits, SIGTERMs the process group, waits,
 * SIGKILLs, reaps; HTTP sends DELETE for its session. Waiting calls fail with
 * "backend 'X' stopped". Thread-safe; a later request starts it again. */
void mcp_backend_stop(mcp_backend_t *b);

/* stop + start. */
bool mcp_backend_restart(mcp_backend_t *b, err_t *err);

/* Sends one request and waits for its response. Starts the backend if it is
 * not running (this is how a dead stdio child is restarted on next use).
 * Thread-safe: any number of threads may call concurrently. params may be
 * NULL. On MCP_CALL_OK / MCP_CALL_RPC_ERROR *result is a new reference;
 * otherwise *result is NULL and err says why. */
mcp_call_status_t mcp_backend_request(mcp_backend_t *b, const char *method, const json_t *params,
                                      int64_t deadline_ms, const atomic_bool *cancel,
                                      json_t **result, err_t *err);
mcp_call_status_t mcp_backend_request_ex(mcp_backend_t *b, const char *method, const json_t *params,
                                         const mcp_call_opts_t *opts, json_t **result, err_t *err);

/* Sends a notification (e.g. a forwarded notifications/cancelled). Starts the
 * backend if needed. */
bool mcp_backend_notify(mcp_backend_t *b, const char *method, const json_t *params,
                        int64_t deadline_ms, err_t *err);

/* Pages through `method` (tools/list, prompts/list, resources/list,
 * resources/templates/list) following nextCursor, at most 100 pages, failing
 * on a repeated cursor (spec: gateway §3.4). *items = new array of all items
 * under `key` ("tools", "prompts", ...). */
mcp_call_status_t mcp_backend_list_all(mcp_backend_t *b, const char *method, const char *key,
                                       int64_t deadline_ms, const atomic_bool *cancel,
                                       json_t **items, err_t *err);
/* = mcp_backend_list_all(b, "tools/list", "tools", ...). */
mcp_call_status_t mcp_backend_list_tools(mcp_backend_t *b, int64_t deadline_ms, const atomic_bool *cancel,
                                         json_t **tools, err_t *err);

/* Introspection (thread-safe). */
const char *mcp_backend_id(const mcp_backend_t *b);
mcp_backend_kind_t mcp_backend_kind(const mcp_backend_t *b);
/* The transport in use: "stdio", "streamable-http" or "sse" (HTTP+SSE of
 * 2024-11-05, chosen when a server does not speak streamable HTTP), or
 * "none" for an HTTP backend that never started. Static string. */
const char *mcp_backend_transport(mcp_backend_t *b);
mcp_backend_state_t mcp_backend_state(mcp_backend_t *b);
/* From the last successful initialize; new references, NULL before one. */
json_t *mcp_backend_initialize_result(mcp_backend_t *b);
json_t *mcp_backend_server_info(mcp_backend_t *b);
json_t *mcp_backend_capabilities(mcp_backend_t *b);
/* Negotiated protocol version copied into buf ("" before initialize). */
void mcp_backend_protocol_version(mcp_backend_t *b, char *buf, size_t size);
/* stdio: the child's pid while running, else -1. HTTP: -1. */
pid_t mcp_backend_pid(mcp_backend_t *b);
/* stdio: the last few KB of the child's stderr (for startup-failure reports,
 * spec: gateway §3.2), copied into buf; "" when none. */
void mcp_backend_stderr_tail(mcp_backend_t *b, char *buf, size_t size);
/* Times the backend was (re)started successfully. */
unsigned mcp_backend_start_count(mcp_backend_t *b);

#endif
