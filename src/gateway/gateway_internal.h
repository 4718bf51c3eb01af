/*
 * gateway_internal.h — the running gateway's objects, shared by the files of
 * src/gateway. Private: nothing outside src/gateway (and its tests) includes
 * this.
 *
 *   gw_server_t    the gateway: config, options, backends, the tool index,
 *                  sessions, the HTTP daemon, shutdown state.
 *   gw_backend_t   one configured MCP server: the startup connection used for
 *                  discovery, the per-gateway-session stdio processes
 *                  (spec §3.1), its tools and status for /health.
 *   gw_tool_t      one exposed tool: which backend, its real name, and the
 *                  tool object shown by tools/list in each mode.
 *   gw_session_t   one MCP session (Mcp-Session-Id) with the gateway session
 *                  id (agent) bound at creation (spec §4.6).
 *   gw_out_t       where a request's messages go: the SSE body being built,
 *                  or a live stream when progress notifications must flow
 *                  before the response.
 *   gw_call_t      one tools/call walking the pipeline (pipeline.c).
 *
 * Locking: gw_server_t.lock guards the session list; each backend's lock
 * guards its pool; everything built at startup (tools, backends array) is
 * read-only while serving.
 */
#ifndef FLOWGATE_GATEWAY_INTERNAL_H
#define FLOWGATE_GATEWAY_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "difc/difc.h"
#include "gateway/config.h"
#include "gateway/gateway.h"
#include "gateway/log.h"
#include "mcp/mcp.h"

struct MHD_Daemon;

typedef enum { GW_BACKEND_STOPPED, GW_BACKEND_RUNNING, GW_BACKEND_ERROR } gw_backend_status_t;

typedef struct gw_pool_entry {
    char *gsid;
    mcp_backend_t *conn;
} gw_pool_entry_t;

typedef struct gw_backend {
    const gw_server_config_t *cfg; /* borrowed from gw_server_t.cfg */
    const char *id;
    mcp_backend_config_t mcfg;     /* template for every connection */
    char **argv;                   /* launch argv (owned), stdio only */
    char **envp;                   /* child env (owned), NULL inherits */
    char **headers;                /* "Name: value" (owned), http only */
    const char *oidc_audience;     /* borrowed from cfg; non-NULL: github-oidc auth */
    struct gw_oidc *oidc;          /* borrowed from gw_server_t.oidc */
    mcp_backend_t *startup;        /* discovery connection; shared by all
                                      sessions for http backends */
    pthread_mutex_t lock;
    gw_pool_entry_t *pool;         /* stdio: one process per gateway session */
    size_t npool;
    gw_backend_status_t status;
    int64_t started_at;            /* wall seconds of the first success */
    char *last_error;
    json_t *tools;                 /* backend tool objects after the allowed-tools filter */
    json_t *prompts;               /* backend prompt objects, or NULL */
} gw_backend_t;

typedef struct gw_tool {
    char *exposed;     /* unified: server___tool; routed: bare name */
    const char *bare;  /* borrowed from def */
    int backend;
    json_t *def;       /* what tools/list shows for this route */
} gw_tool_t;

/* A sorted tool index for one route (one per backend in routed mode, one in
 * unified mode). */
typedef struct gw_toolset {
    gw_tool_t *tools;
    size_t count;
    json_t *prompts;   /* unified: prefixed prompt objects; routed: empty array */
} gw_toolset_t;

typedef struct gw_inflight {
    char *id_text;         /* the client's request id, as compact JSON */
    atomic_bool *cancel;
    atomic_int *guard_cancel;  /* the call's guard context (pipeline_guard.c), or NULL */
    struct gw_inflight *next;
} gw_inflight_t;

typedef struct gw_session {
    char id[32];
    char *gsid;            /* gateway session id (agent) */
    int route;             /* routed: backend index; unified: -1 */
    char proto[24];
    bool initialized;
    atomic_bool closed;    /* read without the lock by stream readers */
    bool transient;        /* auto-init session: never stored */
    int refs;
    int inflight;
    int64_t last_used_ms;
    gw_inflight_t *calls;  /* guarded by the server lock */
    struct gw_session *next;
} gw_session_t;

typedef struct gw_server {
    gw_config_t *cfg;          /* owned */
    const gw_options_t *opt;   /* borrowed */
    gw_mode_t mode;
    char *agent_id;            /* owned; never empty */
    char *guards_mode;
    difc_agents_t *agents;     /* owned; agent labels, shown by /reflect */
    struct gw_guards *guards;  /* owned; per-server guards (pipeline_guard.h) */
    gw_backend_t *backends;
    size_t nbackends;
    gw_toolset_t *routes;      /* routed: nbackends entries; unified: 1 */
    size_t nroutes;
    int tool_timeout_s;
    const char *payload_dir;
    const char *payload_prefix;
    long payload_threshold;
    bool url_domain_audit;     /* --url-domain-audit / MCP_GATEWAY_URL_DOMAIN_AUDIT */
    int64_t session_timeout_ms;
    pthread_mutex_t lock;      /* sessions, workers */
    pthread_cond_t cond;
    gw_session_t *sessions;
    int workers;               /* detached stream workers alive */
    atomic_bool shutting_down; /* 503 gate */
    atomic_bool closed;        /* /close was accepted */
    atomic_bool stop_requested;
    struct gw_hmac *hmac;      /* owned; NULL unless --hmac-secret */
    char *tls_cert_pem;        /* owned PEM texts; NULL: plain HTTP */
    char *tls_key_pem;
    struct MHD_Daemon *daemon;
    struct gw_breaker *breakers;  /* owned; one per backend (resilience.h) */
    struct gw_monitor *monitor;   /* owned; health/keepalive thread */
    struct gw_tracer *tracer;     /* owned; NULL: tracing off (tracing.h) */
    struct gw_oidc *oidc;         /* owned (backends.c); NULL unless a server uses github-oidc (oidc.h) */
    int listen_fd;
    int port;
} gw_server_t;

/* ---- backends.c */
bool gw_backends_init(gw_server_t *s, err_t *err);
/* Connects every backend and lists its tools (parallel unless sequential),
 * then builds the tool indexes. Never fails for a backend error: that backend
 * gets status error and no tools (spec §3.5). */
void gw_backends_discover(gw_server_t *s);
/* The connection a session uses for `backend` (spec §3.1): http -> the
 * shared one; stdio -> the session's own process, created on first use.
 * Borrowed; lives until gw_backends_close. NULL with err on failure. */
mcp_backend_t *gw_backend_conn(gw_server_t *s, int backend, const char *gsid, err_t *err);
/* Stops every connection (stdio children terminated). Idempotent. */
void gw_backends_stop(gw_server_t *s);
void gw_backends_free(gw_server_t *s);
const gw_tool_t *gw_toolset_find(const gw_toolset_t *ts, const char *name);
/* The normalised inputSchema of spec §3.5 (new reference). */
json_t *gw_normalize_schema(json_t *schema);

/* ---- session.c */
/* 26 characters of base32 (A-Z, 2-7) from the kernel's random source. */
bool gw_random_session_id(char out[32]);
/* 64 lowercase hex characters (32 random bytes). */
bool gw_random_hex(char *out, size_t nbytes);
/* Derives the gateway session id from X-Agent-ID / Authorization (spec
 * §4.6). Returns a malloc'd id, or NULL when it is not a safe path segment. */
char *gw_session_derive_gsid(const char *x_agent_id, const char *authorization);
gw_session_t *gw_session_create(gw_server_t *s, int route, const char *gsid, bool store);
/* Finds by id for this route and takes a reference; NULL if unknown/expired. */
gw_session_t *gw_session_get(gw_server_t *s, const char *id, int route);
void gw_session_put(gw_server_t *s, gw_session_t *sess);
/* Removes from the table (DELETE, failed first initialize). */
void gw_session_remove(gw_server_t *s, gw_session_t *sess);
void gw_sessions_free(gw_server_t *s);
/* Cancellation bookkeeping for notifications/cancelled. */
void gw_session_track(gw_server_t *s, gw_session_t *sess, const json_t *id, atomic_bool *cancel,
                      gw_inflight_t *slot);
void gw_session_untrack(gw_server_t *s, gw_session_t *sess, gw_inflight_t *slot);
void gw_session_cancel(gw_server_t *s, gw_session_t *sess, const json_t *request_id);

/* ---- output of one POST */
typedef struct gw_out gw_out_t;
struct gw_out {
    /* Emits one JSON-RPC message (borrowed) to the client. */
    void (*emit)(gw_out_t *out, const json_t *msg);
};

/* ---- dispatch.c */
/* go-sdk's checkRequest for one incoming request or notification (spec
 * §4.5 step 9): a known method (§4.8), an id exactly when it is not a
 * notification, params where required. False with the 400 body text in
 * why ("JSON RPC not handled: ..." or "invalid request: ..."). */
bool gw_method_check(const mcp_msg_t *m, char *why, size_t n);
/* Handles one client request; returns the response message (new ref). */
json_t *gw_dispatch_request(gw_server_t *s, gw_session_t *sess, const mcp_msg_t *m, gw_out_t *out);
/* Handles one client notification. */
void gw_dispatch_notification(gw_server_t *s, gw_session_t *sess, const mcp_msg_t *m);
/* True if the request is a tools/call carrying params._meta.progressToken:
 * its notifications must stream before the response. */
bool gw_request_streams(const mcp_msg_t *m);

/* ---- pipeline.c */
json_t *gw_tools_call(gw_server_t *s, gw_session_t *sess, const mcp_msg_t *m, gw_out_t *out);

/* ---- payload.c */
/* Spec §4.11: if `result` serialises above the threshold, saves it and
 * returns the replacement result (new ref); otherwise returns NULL. */
json_t *gw_payload_spill(const char *payload_dir, const char *prefix, long threshold,
                         const char *gsid, json_t *result);
json_t *gw_payload_schema(json_t *v);

/* ---- url_audit.c (spec §4.11 URL-domain audit; the rule for what counts
 * as a host is at the top of url_audit.c) */
/* The URL hosts in every string and object key of `value` (borrowed),
 * searching JSON text inside strings as JSON. Returns a new array of unique
 * lower-case hosts sorted bytewise, possibly empty; NULL when out of memory. */
json_t *gw_url_domains_extract(json_t *value);
/* Adds the hosts of the URLs in text[0..len) (raw text, not parsed as
 * JSON) as keys of the object `set` (borrowed). */
void gw_url_hosts_scan(const char *text, size_t len, json_t *set);

/* ---- hmac.c (spec §4.4) */
typedef struct gw_hmac gw_hmac_t;
void gw_sha256_hex(const void *data, size_t len, char out[65]);
void gw_hmac_sha256_hex(const void *key, size_t klen, const void *data, size_t len, char out[65]);
gw_hmac_t *gw_hmac_new(const char *secret);
void gw_hmac_free(gw_hmac_t *h);
/* NULL when the request verifies (its nonce is then consumed), else the
 * 401 message. `now` is Unix seconds. Thread-safe. */
const char *gw_hmac_check(gw_hmac_t *h, const char *ts, const char *nonce, const char *sig, const char *path,
                          const char *body, size_t len, int64_t now);

/* ---- http.c */
bool gw_http_start(gw_server_t *s, err_t *err);
void gw_http_stop(gw_server_t *s);
/* Creates and binds the listening socket for "host:port". */
int gw_listen_socket(const char *addr, int *port_out, err_t *err);

/* ---- ops.c: /health /reflect /close and the stdout document */
json_t *gw_health_json(gw_server_t *s);
json_t *gw_reflect_json(gw_server_t *s);
/* Marks the gateway closed and stops backends; returns the number of
 * configured servers. */
int gw_initiate_shutdown(gw_server_t *s);
json_t *gw_stdout_config(gw_server_t *s, const char *listen, int port);

/* JSON-RPC error with code and printf message (new ref). */
json_t *gw_rpc_error(const json_t *id, json_int_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

bool gw_parse_duration_ms(const char *s, long *out);

#endif
