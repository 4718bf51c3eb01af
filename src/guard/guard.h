/*
 * guard.h — guards: what decides the DIFC labels of a tool call.
 *
 * A guard answers three questions for the pipeline (spec: guard-abi §1–§2):
 *   label_agent     once per (session, server): the policy is applied and the
 *                   guard says which tags the agent carries and the mode;
 *   label_resource  before the backend call: the labels of the resource a
 *                   tool call touches and whether it reads, writes or both;
 *   label_response  after the backend call: fine-grained labels for the
 *                   items of the result (or none).
 * Every guard is a guard_t behind a small vtable (guard_ops_t). The kinds:
 *   - the WASM guard host (guard_wasm_load_file/_bytes): a sandboxed
 *     WebAssembly module run by src/wasm, with WASI preview1 under sandbox
 *     defaults, the host module "env" (call_backend, host_log), a pool of
 *     initialised instances so requests run in parallel (departure 7), and
 *     self-healing after traps (departure 5);
 *   - noop and write-sink, native guards (guard_noop_new,
 *     guard_write_sink_new);
 *   - the registry mapping server ids to guards.
 *
 * Request context: every call takes a guard_ctx_t that the caller owns and
 * that lives for the whole request — deadline, a cancel flag any thread may
 * set, and the backend the guard may query through call_backend. A guard
 * object stores nothing about a request, so one guard serves any number of
 * concurrent requests; all guard_* calls on one guard_t are thread-safe.
 *
 * Results are difc types (difc/difc.h): label_agent -> difc_agent_result_t,
 * label_resource -> difc_resource_t + difc_op_t, label_response ->
 * difc_response_labels_t. The caller initialises them (= {0}) and frees
 * them with the difc _free functions, on success and on failure alike.
 *
 * Logging: guards never write to the process's stdout (it may carry MCP).
 * What a guard prints or logs goes to a guard_log_sink_t, each line prefixed
 * "[guard:<name>] ".
 */
#ifndef FLOWGATE_GUARD_H
#define FLOWGATE_GUARD_H

#include <jansson.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "difc/difc.h"
#include "util/err.h"

/* ---- logging ----------------------------------------------------------- */

/* host_log levels 0..3 (guard-abi §1.4); any other level is UNTAGGED. */
typedef enum guard_log_level {
    GUARD_LOG_DEBUG = 0,
    GUARD_LOG_INFO = 1,
    GUARD_LOG_WARN = 2,  /* upstream also sends these to the main log */
    GUARD_LOG_ERROR = 3, /* ditto */
    GUARD_LOG_UNTAGGED = 4,
} guard_log_level_t;

/* Receives one complete line, already prefixed "[guard:<name>] ", without a
 * trailing newline. Called from whatever thread runs the guard; must be
 * thread-safe. */
typedef void (*guard_log_fn_t)(void *ud, guard_log_level_t level, const char *line);
typedef struct guard_log_sink {
    guard_log_fn_t fn; /* NULL: lines go to the process's stderr */
    void *ud;
} guard_log_sink_t;

/* "debug", "info", "warn", "error", "" (untagged). */
const char *guard_log_level_name(guard_log_level_t level);
/* Sends "[guard:<name>] <fmt...>" to sink (NULL or no fn: to stderr as
 * "[<level>] <line>", never stdout, which may carry MCP). Thread-safe as
 * the sink is. */
void guard_log_printf(const guard_log_sink_t *sink, const char *name, guard_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void guard_log_vprintf(const guard_log_sink_t *sink, const char *name, guard_log_level_t level, const char *fmt,
                       va_list ap);

/* ---- request context --------------------------------------------------- */

typedef struct guard_ctx guard_ctx_t;

/* How a guard reaches its backend (call_backend, guard-abi §2.5). The
 * pipeline supplies one per request. `args` is borrowed and NULL when the
 * guard sent no args (JSON null). On success *result is a new reference the
 * guard host takes (NULL reads as JSON null). Called on the thread running
 * the guard, while the request's deadline applies. */
typedef struct guard_backend {
    bool (*call_tool)(void *self, guard_ctx_t *ctx, const char *tool, const json_t *args, json_t **result,
                      err_t *err);
    void *self;
} guard_backend_t;

struct guard_ctx {
    /* Absolute CLOCK_MONOTONIC time in ns (wasm_now_ns()), 0 = none. Guard
     * code still running then is stopped. */
    uint64_t deadline_ns;
    /* Non-zero = cancelled. Any thread may set it (guard_ctx_cancel); guard
     * code notices within a few ms. The engine's deadline timer may also
     * set it when the deadline passes. */
    atomic_int cancel;
    /* May be NULL: every call_backend then returns -1. Borrowed. */
    const guard_backend_t *backend;
};

/* timeout_ms 0 = no deadline. backend may be NULL. */
void guard_ctx_init(guard_ctx_t *ctx, uint64_t timeout_ms, const guard_backend_t *backend);
/* Safe from any thread and from signal handlers. */
void guard_ctx_cancel(guard_ctx_t *ctx);
/* True once cancelled or past the deadline. */
bool guard_ctx_done(const guard_ctx_t *ctx);

/* ---- the guard interface ----------------------------------------------- */

typedef struct guard guard_t;

typedef struct guard_ops {
    /* `payload` is the label_agent input of §2.1, as built and checked by
     * guard_label_agent_payload. Borrowed. */
    bool (*label_agent)(guard_t *g, guard_ctx_t *ctx, const json_t *payload, difc_agent_result_t *out, err_t *err);
    /* tool_args: the client's arguments ({} when none; NULL reads as null).
     * On failure *op is DIFC_OP_WRITE. */
    bool (*label_resource)(guard_t *g, guard_ctx_t *ctx, const char *tool_name, const json_t *tool_args,
                           difc_resource_t *res, difc_op_t *op, err_t *err);
    /* tool_result: the backend's JSON-RPC result as decoded. out->kind ==
     * DIFC_RESPONSE_NONE means "no fine-grained labels". */
    bool (*label_response)(guard_t *g, guard_ctx_t *ctx, const char *tool_name, const json_t *tool_args,
                           const json_t *tool_result, difc_response_labels_t *out, err_t *err);
    /* False (with the reason) once the guard is marked failed; NULL = always
     * healthy. */
    bool (*healthy)(guard_t *g, err_t *why);
    /* Releases everything; no call may be running. */
    void (*close)(guard_t *g);
} guard_ops_t;

struct guard {
    const guard_ops_t *ops;
    const char *name; /* owned by the implementation; the log prefix */
    const char *type; /* "wasm", "noop", "write-sink" (static string) */
};

/* Dispatchers: errors are returned as the guard made them; the pipeline adds
 * its "guard labeling failed: ..." prefixes. */
bool guard_label_agent(guard_t *g, guard_ctx_t *ctx, const json_t *payload, difc_agent_result_t *out, err_t *err);
bool guard_label_resource(guard_t *g, guard_ctx_t *ctx, const char *tool_name, const json_t *tool_args,
                          difc_resource_t *res, difc_op_t *op, err_t *err);
bool guard_label_response(guard_t *g, guard_ctx_t *ctx, const char *tool_name, const json_t *tool_args,
                          const json_t *tool_result, difc_response_labels_t *out, err_t *err);
bool guard_healthy(guard_t *g, err_t *why);
/* NULL is allowed. */
void guard_close(guard_t *g);
const char *guard_name(const guard_t *g);
/* "Has non-noop guard" (§3.9) — true for every guard whose type is not noop. */
bool guard_is_noop(const guard_t *g);

/* ---- label_agent payload (§2.1) ---------------------------------------- */

/* Builds the label_agent input from a resolved policy and checks it the
 * strict way upstream does before calling a guard, first failure wins, with
 * upstream's messages ("policy is required", "invalid guard policy transport
 * shape: unexpected key \"x\"", "invalid repos value: ...", ...).
 *   policy         an object, or a JSON string holding one (borrowed);
 *   trusted_bots   NULL or an array of strings: added as top-level
 *                  "trusted-bots" when non-empty;
 *   trusted_users  NULL or an array: put in allow-only.trusted-users (only
 *                  when allow-only is present).
 * `tool-call-limits` is removed first (departure 6: the gateway enforces
 * it); refusal-labels is rewritten to its normalised array. The caller's
 * policy is never modified. *out is a new reference. */
bool guard_label_agent_payload(const json_t *policy, const json_t *trusted_bots, const json_t *trusted_users,
                               json_t **out, err_t *err);
/* The strict checks alone, on a payload as it will be sent (used by the
 * WASM guard before every label_agent). */
bool guard_label_agent_payload_check(const json_t *payload, err_t *err);

/* ---- the WASM guard host ----------------------------------------------- */

typedef struct guard_wasm_opts {
    const char *name;        /* guard name; NULL or "" -> "guard" */
    guard_log_sink_t log;    /* where guard output and warnings go */
    size_t max_instances;    /* pool ceiling; 0 = number of online cores */
    uint32_t idle_ms;        /* idle extra instances are freed after this;
                                0 = 30000 */
} guard_wasm_opts_t;

/* Loads, validates and instantiates a guard (guard-abi §1.1, §1.2): the
 * module is compiled once; its start function never runs; required exports
 * and signatures are checked with upstream's messages ("failed to read WASM
 * file: ...", "failed to instantiate WASM module: ...", "WASM module must
 * export label_agent", ...). opts may be NULL. Returns a guard of type
 * "wasm" that guard_close frees, or NULL with err set. */
guard_t *guard_wasm_load_file(const char *path, const guard_wasm_opts_t *opts, err_t *err);
guard_t *guard_wasm_load_bytes(const uint8_t *bytes, size_t len, const guard_wasm_opts_t *opts, err_t *err);

/* Runs one export ("label_agent", "label_resource", "label_response") with
 * raw input bytes through the full memory/return-code protocol and the pool,
 * without building or parsing JSON. For `flowgate guard` and tests. On
 * success *out (malloc'd, NULL when the guard wrote nothing) and *out_len. A
 * label_agent call here is NOT remembered for replay. */
bool guard_wasm_call_raw(guard_t *g, guard_ctx_t *ctx, const char *export_name, const uint8_t *input,
                         size_t input_len, uint8_t **out, size_t *out_len, err_t *err);

typedef struct guard_wasm_stats {
    size_t live_instances; /* in the pool now (busy + idle) */
    size_t max_instances;
    size_t instances_created; /* since load, incl. replacements */
    size_t traps;             /* traps and deadline interruptions */
    bool failed;
} guard_wasm_stats_t;

/* False if g is not a WASM guard. */
bool guard_wasm_stats(guard_t *g, guard_wasm_stats_t *out);

/* ---- native guards and the registry (noop.c, write_sink.c, registry.c) -- */

/* noop (§3.9): strict, empty labels, read-write, no response labels. */
guard_t *guard_noop_new(void);
/* write-sink (§3.9), with the effective sink visibility already decided by
 * the gateway (NULL = not public). ws is copied. */
guard_t *guard_write_sink_new(const difc_write_sink_t *ws, err_t *err);
/* CreateGuard (§3.9): "" and "noop" give noop; anything else
 * "unknown guard type: <t>". */
guard_t *guard_create(const char *type, err_t *err);

/* Server id -> guard. Lookup of an unknown id gives the registry's shared
 * noop guard. Thread-safe for lookups after setup. */
typedef struct guard_registry guard_registry_t;
guard_registry_t *guard_registry_new(void);
/* Closes every guard it owns. */
void guard_registry_free(guard_registry_t *r);
/* Takes ownership of g (also on failure); replaces (and closes) an earlier
 * guard for the same id. */
bool guard_registry_set(guard_registry_t *r, const char *server_id, guard_t *g, err_t *err);
/* Borrowed; never NULL. */
guard_t *guard_registry_get(guard_registry_t *r, const char *server_id);

/* True when any registered guard is not noop ("DIFC enabled", §3.9). */
bool guard_registry_has_non_noop(guard_registry_t *r);

/* Discovery (§1.11): the WASM guard file for a server. For server "github"
 * the default file (github_default; NULL = "/guards/github/00-github-guard.wasm")
 * is tried first unless guards_dir is set but empty; then the first entry
 * ending in .wasm (any case), by name, that is not a directory, in
 * <guards_dir trimmed>/<server_id>/. guards_dir is the value of
 * MCP_GATEWAY_WASM_GUARDS_DIR, NULL when unset. *out_path (malloc'd) is
 * NULL when nothing is found; false only on OOM. */
bool guard_discover_wasm(const char *server_id, const char *guards_dir, const char *github_default,
                         char **out_path, err_t *err);

/* What the gateway resolved for one server, for guard_choose. Borrowed. */
typedef struct guard_choice {
    const char *server_id;
    const char *discovered_wasm;          /* guard_discover_wasm result, or NULL */
    const difc_write_sink_t *write_sink;  /* resolved write-sink policy with the
                                             effective sink visibility, or NULL */
    const char *guard_name;               /* the server's `guard`, or NULL */
    bool guard_entry_exists;              /* guards[guard_name] exists */
    const char *guard_type;               /* its type ("", "noop", "wasm", other) */
    const char *guard_path;               /* its path (type wasm) */
    bool has_policy;                      /* a policy resolves or guard-policies set */
    const guard_wasm_opts_t *wasm_opts;   /* log sink and pool options; NULL = defaults */
} guard_choice_t;

/* Selection (§3.9): a discovered WASM file that loads (named after the
 * server), else a write-sink for a write-sink policy, else the configured
 * guard (noop / wasm named after its key / guard_create), else noop. Load
 * failures are logged as warnings and fall through; a non-noop guard
 * without a policy is replaced by noop. Returns a guard the caller owns;
 * NULL only on OOM. */
guard_t *guard_choose(const guard_choice_t *c, err_t *err);

/* ---- `flowgate guard` --------------------------------------------------- */

/* The guard authors' tool; main.c dispatches `flowgate guard ...` here.
 * argv[0] is "guard". Returns the process exit status. */
int guard_cli_main(int argc, char **argv);

#endif
