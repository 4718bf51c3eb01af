/*
 * wasm_guard_internal.h — the pieces of the WASM guard host, private to
 * src/guard/.
 *
 * A wasm guard owns one compiled module and a pool of slots. A slot is one
 * live instance plus the linker that produced it and the state its host
 * functions need *during* one export call (the request context, the
 * backend-call counter, the stdout/stderr line buffers). Between calls a
 * slot holds no request state: `call` is NULL. The pieces:
 *
 *   wasi.c          wasi_snapshot_preview1 with sandbox defaults
 *   host_env.c      module "env": call_backend, host_log
 *   wasm_call.c     the memory and return-code protocol of one export call
 *   wasm_guard.c    loading, export checks, the pool, traps and health,
 *                   the guard vtable
 */
#ifndef FLOWGATE_GUARD_WASM_GUARD_INTERNAL_H
#define FLOWGATE_GUARD_WASM_GUARD_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guard/guard.h"
#include "util/err.h"
#include "wasm/wasm.h"

/* spec: guard-abi §1.1, §1.4, §1.6, §1.7 */
#define GUARD_MAX_MEMORY_PAGES 512u
#define GUARD_MAX_INPUT (8u * 1024 * 1024)
#define GUARD_OUTPUT_INITIAL (4u * 1024 * 1024)
#define GUARD_OUTPUT_MAX (16u * 1024 * 1024)
#define GUARD_OUTPUT_ATTEMPTS 3
#define GUARD_MAX_BACKEND_CALLS 50
#define GUARD_PAGE 65536u
/* Departure 5: this many traps inside the window mark the guard failed. */
#define GUARD_TRAP_LIMIT 5
#define GUARD_TRAP_WINDOW_NS (60ull * 1000000000ull)
/* A deadline counts as the guard's failure only when its own code ran at
 * least this long and for at least half of the time the call had. */
#define GUARD_BLAME_MIN_NS (50ull * 1000000ull)

typedef struct wasm_guard wasm_guard_t;

/* Line buffer for a guard's stdout or stderr: complete lines go to the log. */
typedef struct guard_linebuf {
    char buf[1024];
    size_t len;
} guard_linebuf_t;

/* What the host functions need while one export call runs. Lives on the
 * caller's stack; slot->call points at it only for the duration. */
typedef struct guard_call_state {
    guard_ctx_t *ctx;
    int backend_calls;
    bool interrupted; /* a host function saw the deadline or the cancel flag */
    bool cancelled;   /* ... and it was the cancel flag */
    uint64_t backend_wait_ns; /* time spent in call_backend: not the guard's own */
} guard_call_state_t;

typedef struct guard_slot {
    wasm_guard_t *guard;
    wasm_linker_t *linker;
    wasm_instance_t *inst;
    guard_call_state_t *call;
    uint64_t policy_gen;   /* generation of label_agent input applied, 0 = none */
    uint64_t last_used_ns; /* for releasing idle extra instances */
    bool in_use;
    bool warned_direct;   /* the direct-memory warning was logged */
    uint64_t region_off;  /* host-owned region from the direct-memory path */
    uint64_t region_len;
    guard_linebuf_t out, errb;
} guard_slot_t;

struct wasm_guard {
    guard_t base;
    char *name;
    wasm_module_t *module;
    guard_log_sink_t log;
    bool has_alloc; /* both alloc and dealloc exported */
    bool has_memory;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    guard_slot_t **slots; /* capacity max_instances; NULL entries are free */
    size_t max_instances;
    size_t live;          /* slots currently allocated (in use or idle) */
    uint64_t idle_ns;     /* idle extra instances older than this are freed */

    /* label_agent replay: the last successful input, owned. */
    uint8_t *policy;
    size_t policy_len;
    uint64_t policy_gen;

    size_t created; /* instances made since load */
    size_t traps;   /* traps and deadline interruptions since load */

    /* health */
    uint64_t trap_times[GUARD_TRAP_LIMIT];
    size_t ntraps;
    bool failed;
    char failed_why[ERR_MSG_MAX];
};

/* The input of label_resource / label_response (with_result):
 * {"capabilities":{},"tool_args":..,"tool_name":..[,"tool_result":..]}, keys
 * sorted as upstream's map serialisation gives them (§2.3, §2.4). Caller
 * frees; NULL on OOM. */
char *guard_wasm_tool_input(const char *tool_name, const json_t *tool_args, const json_t *tool_result,
                            bool with_result);

/* Logs "[guard:NAME] msg" through the guard's sink. */
void guard_wasm_log(const wasm_guard_t *g, guard_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Defines every wasi_snapshot_preview1 function in `linker` bound to slot. */
bool guard_wasi_define(wasm_linker_t *linker, guard_slot_t *slot, err_t *err);
/* Flushes partial stdout/stderr lines of the slot to the log. */
void guard_wasi_flush(guard_slot_t *slot);
/* Defines env.call_backend and env.host_log bound to slot. */
bool guard_env_define(wasm_linker_t *linker, guard_slot_t *slot, err_t *err);

/* True when the call's deadline has passed or its cancel flag is set;
 * records which in the call state. */
bool guard_call_should_stop(guard_call_state_t *cs);

/* Outcome of one export call, so the pool knows what to do with the slot. */
typedef enum guard_call_outcome {
    GUARD_CALL_OK,        /* success; *out / *out_len hold the output */
    GUARD_CALL_ERROR,     /* an error the instance survives (e.g. code -1) */
    GUARD_CALL_TRAPPED,   /* the instance must be discarded; counts toward health */
    GUARD_CALL_INTERRUPTED, /* deadline: discard, counts toward health */
    GUARD_CALL_CANCELLED,   /* cancel flag: discard, does not count */
    GUARD_CALL_EXITED,      /* proc_exit(0): discard, does not count */
} guard_call_outcome_t;

/* Runs export `fname` on the slot's instance with `input` following the
 * memory and return-code protocol (guard-abi §1.6, §1.7 and departures 3,
 * 4). On GUARD_CALL_OK *out is a malloc'd copy (NULL when empty, *out_len
 * 0) the caller frees. The slot must have slot->call set. */
guard_call_outcome_t guard_wasm_call_export(guard_slot_t *slot, const char *fname, const uint8_t *input,
                                            size_t input_len, uint8_t **out, size_t *out_len, err_t *err);

#endif
