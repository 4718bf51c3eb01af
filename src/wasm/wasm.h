/*
 * wasm.h — Flowgate's embedded WebAssembly engine: the one public header.
 *
 * The engine knows nothing of MCP or guards. Its pieces:
 *
 *   wasm_module_t    bytes decoded, validated and compiled once into the
 *                    interpreter's internal form. Immutable after load, so one
 *                    module may be instantiated many times, from any thread.
 *   wasm_linker_t    the names an instantiation may import: host functions,
 *                    host memories/tables/globals, and the exports of
 *                    instances registered under a module name.
 *   wasm_instance_t  a module's runtime state (memory, tables, globals).
 *                    Used by one thread at a time; only wasm_instance_interrupt
 *                    may be called from another thread.
 *   wasm_func_t      an exported (or host) function, borrowed from its
 *                    instance and valid while the instance lives.
 *
 * Feature set: WebAssembly 2.0 without SIMD (MVP, mutable-global import and
 * export, sign-extension, non-trapping float-to-int, multi-value, bulk memory,
 * reference types).
 *
 * Lifetimes: a module must outlive its instances; an instance registered in a
 * linker must outlive the instances linked against it. Nothing here calls
 * exit() or aborts on bad input: every failure of a module or a call is a
 * return value.
 */
#ifndef FLOWGATE_WASM_H
#define FLOWGATE_WASM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* ---- Values and types -------------------------------------------------- */

typedef enum wasm_valtype {
    WASM_I32 = 0x7f,
    WASM_I64 = 0x7e,
    WASM_F32 = 0x7d,
    WASM_F64 = 0x7c,
    WASM_FUNCREF = 0x70,
    WASM_EXTERNREF = 0x6f,
} wasm_valtype_t;

/* A reference value: NULL is the null reference. A funcref points at a
 * wasm_func_t; an externref carries whatever non-NULL pointer the host gave. */
typedef void *wasm_ref_t;

/* Floats are also reachable as raw bits so NaN payloads survive round trips. */
typedef struct wasm_val {
    wasm_valtype_t type;
    union {
        int32_t i32;
        int64_t i64;
        float f32;
        double f64;
        uint32_t f32_bits;
        uint64_t f64_bits;
        wasm_ref_t ref;
    } of;
} wasm_val_t;

/* A function signature. The arrays are borrowed from whoever returned it. */
typedef struct wasm_functype {
    const wasm_valtype_t *params;
    uint32_t nparams;
    const wasm_valtype_t *results;
    uint32_t nresults;
} wasm_functype_t;

typedef enum wasm_externkind {
    WASM_EXTERN_FUNC = 0,
    WASM_EXTERN_TABLE = 1,
    WASM_EXTERN_MEMORY = 2,
    WASM_EXTERN_GLOBAL = 3,
} wasm_externkind_t;

/* ---- Traps ------------------------------------------------------------- */

typedef enum wasm_trap_kind {
    WASM_TRAP_NONE = 0,
    WASM_TRAP_UNREACHABLE,            /* "unreachable" */
    WASM_TRAP_MEMORY_OOB,             /* "out of bounds memory access" */
    WASM_TRAP_TABLE_OOB,              /* "out of bounds table access" */
    WASM_TRAP_DIV_BY_ZERO,            /* "integer divide by zero" */
    WASM_TRAP_INT_OVERFLOW,           /* "integer overflow" */
    WASM_TRAP_INVALID_CONVERSION,     /* "invalid conversion to integer" */
    WASM_TRAP_UNDEFINED_ELEMENT,      /* "undefined element" */
    WASM_TRAP_UNINITIALIZED_ELEMENT,  /* "uninitialized element" */
    WASM_TRAP_INDIRECT_CALL_MISMATCH, /* "indirect call type mismatch" */
    WASM_TRAP_NULL_REFERENCE,         /* "null reference" */
    WASM_TRAP_STACK_EXHAUSTED,        /* "call stack exhausted" */
    WASM_TRAP_HOST,                   /* a host function failed; message is its own */
    WASM_TRAP_EXIT,                   /* a host function asked to end the call (e.g. WASI proc_exit) */
} wasm_trap_kind_t;

/* What a failed call or instantiation reports. func_name is the wasm function
 * that was executing (from the `name` section, else "func[N]"), or "" . */
typedef struct wasm_trap {
    wasm_trap_kind_t kind;
    int32_t exit_code; /* for WASM_TRAP_EXIT */
    char message[256];
    char func_name[128];
} wasm_trap_t;

/* The spec's text for a trap kind ("out of bounds memory access", ...). */
const char *wasm_trap_kind_message(wasm_trap_kind_t kind);

typedef enum wasm_status {
    WASM_OK = 0,
    WASM_TRAPPED,     /* the wasm_trap_t says why */
    WASM_INTERRUPTED, /* stopped by deadline, interrupt flag or fuel */
    WASM_BAD_CALL,    /* wrong argument count/types from the host; err says */
} wasm_status_t;

/* ---- Modules ----------------------------------------------------------- */

typedef struct wasm_module wasm_module_t;

typedef enum wasm_load_error {
    WASM_LOAD_OK = 0,
    WASM_LOAD_MALFORMED, /* the binary cannot be decoded (spec: assert_malformed) */
    WASM_LOAD_INVALID,   /* decoded but fails validation (spec: assert_invalid) */
    WASM_LOAD_TOO_LARGE, /* exceeds one of the engine's limits on hostile input */
    WASM_LOAD_NOMEM,
} wasm_load_error_t;

/* Decodes, validates and compiles `bytes` (copied; the caller keeps them).
 * Returns NULL on failure with *why set (if non-NULL) and a message in err
 * that names what is wrong and its byte offset. The caller frees the result
 * with wasm_module_free. Thread-safe. */
wasm_module_t *wasm_module_load(const uint8_t *bytes, size_t len, wasm_load_error_t *why, err_t *err);
void wasm_module_free(wasm_module_t *mod);

typedef struct wasm_import_info {
    const char *module; /* borrowed from the module */
    const char *name;
    wasm_externkind_t kind;
    wasm_functype_t func; /* when kind == WASM_EXTERN_FUNC */
} wasm_import_info_t;

typedef struct wasm_export_info {
    const char *name; /* borrowed from the module */
    wasm_externkind_t kind;
    wasm_functype_t func; /* when kind == WASM_EXTERN_FUNC */
} wasm_export_info_t;

uint32_t wasm_module_import_count(const wasm_module_t *mod);
void wasm_module_import(const wasm_module_t *mod, uint32_t i, wasm_import_info_t *out);
uint32_t wasm_module_export_count(const wasm_module_t *mod);
void wasm_module_export(const wasm_module_t *mod, uint32_t i, wasm_export_info_t *out);
/* Finds an export by name; false if absent. */
bool wasm_module_find_export(const wasm_module_t *mod, const char *name, wasm_export_info_t *out);
/* Size in bytes of all function bodies (for load-time figures). */
size_t wasm_module_code_size(const wasm_module_t *mod);

/* ---- Linking ----------------------------------------------------------- */

typedef struct wasm_instance wasm_instance_t;
typedef struct wasm_func wasm_func_t;
typedef struct wasm_linker wasm_linker_t;

/* A host function. `caller` is the instance whose code made the call (use it
 * for memory access); `env` is what was given at definition. Return false to
 * trap: set trap->kind (WASM_TRAP_HOST, or WASM_TRAP_EXIT with exit_code) and
 * trap->message. results has the declared number of slots, types pre-set. */
typedef bool (*wasm_host_fn_t)(wasm_instance_t *caller, void *env, const wasm_val_t *args, wasm_val_t *results,
                               wasm_trap_t *trap);

/* Caller frees with wasm_linker_free. Not thread-safe while being defined;
 * may be shared read-only by concurrent wasm_instance_new calls afterwards. */
wasm_linker_t *wasm_linker_new(void);
void wasm_linker_free(wasm_linker_t *linker);

/* Each define fails (false + err) on a duplicate module/name pair. The
 * functype arrays are copied. */
bool wasm_linker_define_func(wasm_linker_t *linker, const char *module, const char *name, const wasm_functype_t *type,
                             wasm_host_fn_t fn, void *env, err_t *err);
bool wasm_linker_define_memory(wasm_linker_t *linker, const char *module, const char *name, uint32_t min_pages,
                               uint32_t max_pages /* UINT32_MAX = none */, err_t *err);
bool wasm_linker_define_table(wasm_linker_t *linker, const char *module, const char *name, wasm_valtype_t elem,
                              uint32_t min, uint32_t max /* UINT32_MAX = none */, err_t *err);
bool wasm_linker_define_global(wasm_linker_t *linker, const char *module, const char *name, wasm_val_t value,
                               bool mutable_, err_t *err);
/* Makes every export of `inst` importable as module_name.<export>. The
 * instance must outlive instances linked against it. A later registration
 * under the same name replaces the earlier one. */
bool wasm_linker_define_instance(wasm_linker_t *linker, const char *module_name, wasm_instance_t *inst, err_t *err);

/* ---- Instances --------------------------------------------------------- */

typedef struct wasm_limits {
    uint32_t max_memory_pages; /* memory.grow beyond this returns -1; 0 = 65536 */
    uint32_t max_table_size;   /* table.grow beyond this returns -1; 0 = 10,000,000 */
    uint32_t max_call_depth;   /* deeper calls trap "call stack exhausted"; 0 = 10,000 */
} wasm_limits_t;

typedef enum wasm_inst_error {
    WASM_INST_OK = 0,
    WASM_INST_UNLINKABLE,    /* an import is missing or has the wrong type (spec: assert_unlinkable) */
    WASM_INST_TRAPPED,       /* a segment initialisation trapped (spec: assert_uninstantiable) */
    WASM_INST_LIMIT,         /* the module needs more than the limits allow */
    WASM_INST_NOMEM,
} wasm_inst_error_t;

/* Links imports, allocates memory/tables/globals and applies active data and
 * element segments. The start function does NOT run: call
 * wasm_instance_run_start when the embedder wants it. limits may be NULL
 * (defaults). Caller frees with wasm_instance_free. Thread-safe with respect
 * to other instantiations of the same module. */
wasm_instance_t *wasm_instance_new(const wasm_module_t *mod, const wasm_linker_t *linker, const wasm_limits_t *limits,
                                   wasm_inst_error_t *why, err_t *err);
void wasm_instance_free(wasm_instance_t *inst);
const wasm_module_t *wasm_instance_module(const wasm_instance_t *inst);

/* Runs the start function if the module has one (WASM_OK if it has none). */
wasm_status_t wasm_instance_run_start(wasm_instance_t *inst, wasm_trap_t *trap);

/* Exports, borrowed from the instance. NULL if absent or of another kind. */
wasm_func_t *wasm_instance_export_func(wasm_instance_t *inst, const char *name);
bool wasm_instance_export_global(wasm_instance_t *inst, const char *name, wasm_val_t *out);
void wasm_func_type(const wasm_func_t *fn, wasm_functype_t *out);

/* Per-call options. deadline_ns is an absolute CLOCK_MONOTONIC time (0 =
 * none): a timer thread sets the interrupt flag then, so the interpreter never
 * reads the clock. interrupt, if non-NULL, replaces the instance's own flag
 * for this call (e.g. a request's cancel flag, settable from any thread);
 * a non-zero value stops the call at the next function entry or loop
 * back-edge. fuel (0 = unlimited) bounds executed back-edges and calls, for
 * fuzzing. */
typedef struct wasm_call_opts {
    uint64_t deadline_ns;
    atomic_int *interrupt;
    uint64_t fuel;
} wasm_call_opts_t;

/* Calls fn with nargs arguments (types must match) and writes nresults
 * results. opts may be NULL. On WASM_TRAPPED the trap says why; after a trap
 * or an interruption the instance may be in an inconsistent state and should
 * be discarded by an embedder that cares (the process is unaffected).
 * err (may be NULL) gets a message for WASM_BAD_CALL and is also filled with
 * the trap/interrupt text. */
wasm_status_t wasm_func_call(wasm_instance_t *inst, const wasm_func_t *fn, const wasm_val_t *args, uint32_t nargs,
                             wasm_val_t *results, uint32_t nresults, const wasm_call_opts_t *opts, wasm_trap_t *trap,
                             err_t *err);

/* Sets the interrupt flag the instance is currently watching (its own, or
 * the one in the running call's opts). Safe from any thread and from signal
 * handlers. The instance's own flag is cleared at the start of each call. */
void wasm_instance_interrupt(wasm_instance_t *inst);

/* Current monotonic time in ns, the clock deadline_ns is measured on. */
uint64_t wasm_now_ns(void);

/* ---- Memory (memory index 0) ------------------------------------------- */

/* Size in 64 KiB pages; 0 if the instance has no memory. */
uint32_t wasm_memory_pages(const wasm_instance_t *inst);
/* Grows by delta pages; returns the old size in pages, or -1 if that would
 * pass the module's maximum or the instance's max_memory_pages. */
int32_t wasm_memory_grow(wasm_instance_t *inst, uint32_t delta);
/* Bounds-checked copies; false if [offset, offset+len) is outside memory. */
bool wasm_memory_read(const wasm_instance_t *inst, uint64_t offset, void *dst, size_t len);
bool wasm_memory_write(wasm_instance_t *inst, uint64_t offset, const void *src, size_t len);
/* Direct pointer to [offset, offset+len), or NULL if out of bounds. Valid
 * until the memory grows (any call into the instance may grow it). */
uint8_t *wasm_memory_ptr(wasm_instance_t *inst, uint64_t offset, size_t len);

#endif
