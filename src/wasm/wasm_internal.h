/*
 * wasm_internal.h — the engine's private data structures, shared by the
 * decoder (decode.c), the validating compiler (compile.c), instantiation and
 * the embedding API (instance.c, linker.c) and the interpreter (interp.c).
 *
 * A module is decoded into plain arrays (types, imports, functions, ...), then
 * every function body is validated and compiled in one pass into a "cell"
 * stream the interpreter runs without decoding: each instruction is a handler
 * address followed by immediates. Operands are 16-bit slot indices into the
 * function's frame: [params+locals][constants][operand stack]. local.get and
 * constants emit nothing (the consumer reads the local's / constant's slot).
 */
#ifndef FLOWGATE_WASM_INTERNAL_H
#define FLOWGATE_WASM_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "wasm/wasm.h"

#define WASM_PAGE_SIZE 65536u
#define WASM_MAX_PAGES 65536u

/* Engine limits on what hostile input can inflate (load-time). */
#define LIM_TYPES 100000u
#define LIM_FUNCS 200000u
#define LIM_IMPORTS 100000u
#define LIM_EXPORTS 100000u
#define LIM_GLOBALS 100000u
#define LIM_TABLES 100000u
#define LIM_ELEMS 100000u
#define LIM_DATAS 100000u
#define LIM_PARAMS 1000u
#define LIM_LOCALS 30000u   /* params + locals per function */
#define LIM_STACK 16000u    /* operand stack height per function (compile.c encodes h in 14 bits) */
#define LIM_NESTING 10000u  /* block nesting depth */
#define LIM_BRTABLE 1000000u
#define LIM_ELEM_ITEMS 10000000u
#define LIM_CONSTS 64u      /* distinct constants kept in a frame's const area */

/* Value types plus the validator's "unknown" (polymorphic stack). */
#define VT_ANY 0

typedef union slot {
    uint64_t u64;
    int64_t i64;
    uint32_t u32;
    int32_t i32;
    float f32;
    double f64;
    void *ref;
} slot_t;

typedef union cell {
    const void *h;
    uint64_t u;
    int64_t i;
    const void *p;
} cell_t;

/* ---- Module ---- */

typedef struct wlimits {
    uint32_t min, max; /* max == UINT32_MAX: none */
    bool has_max;
} wlimits_t;

enum { CE_I32, CE_I64, CE_F32, CE_F64, CE_GLOBAL, CE_REFNULL, CE_REFFUNC };
typedef struct wconst {
    uint8_t op;
    uint32_t idx; /* global or func index */
    uint64_t bits;
} wconst_t;

typedef struct wimport {
    char *module, *name;
    wasm_externkind_t kind;
    uint32_t typeidx;       /* func */
    wlimits_t lim;          /* table, memory */
    wasm_valtype_t vtype;   /* table elem type / global type */
    bool mut;               /* global */
} wimport_t;

typedef struct wexport {
    char *name;
    wasm_externkind_t kind;
    uint32_t idx;
} wexport_t;

typedef struct wglobaldef {
    wasm_valtype_t type;
    bool mut;
    wconst_t init;
} wglobaldef_t;

typedef struct wtabledef {
    wasm_valtype_t elem;
    wlimits_t lim;
} wtabledef_t;

enum { SEG_ACTIVE, SEG_PASSIVE, SEG_DECLARED };
typedef struct welem {
    uint8_t mode;
    uint32_t table;
    wconst_t offset;
    wasm_valtype_t type;
    uint32_t n;
    wconst_t *items;
} welem_t;

typedef struct wdata {
    uint8_t mode;
    uint32_t mem;
    wconst_t offset;
    const uint8_t *bytes; /* into the module's copy of the binary */
    uint32_t len;
} wdata_t;

/* Slots every call writes above the params with one fixed-size copy (the
 * rest of init, if longer, by a loop): init is padded with zeros to at
 * least this many entries and the frame has room for them. */
#define WASM_INIT_FIXED 4u

/* A compiled function: everything the interpreter needs for a call. */
typedef struct wcode {
    const wasm_functype_t *type;
    uint32_t nparams, nresults;
    uint32_t nlocals;   /* params included */
    uint32_t nconsts;   /* const area right after the locals */
    uint32_t frame;     /* slots used by the frame incl. operand stack */
    uint64_t *consts;
    /* What a call writes above the params: zeroed locals then constants,
     * one array so frame setup is one short copy (see WASM_INIT_FIXED). */
    uint64_t *init;
    uint32_t ninit;
    cell_t *code;
    uint32_t ncode;
    uint32_t funcidx;
    const struct wasm_module *mod;
} wcode_t;

typedef struct wfunc {
    uint32_t typeidx;
    const uint8_t *body; /* locals decl + expression */
    uint32_t body_len;
    uint32_t body_off;   /* offset in the binary (for messages) */
    wcode_t code;
} wfunc_t;

struct wasm_module {
    uint8_t *bytes;
    size_t len;

    wasm_functype_t *types;
    uint32_t ntypes;
    uint32_t *type_canon; /* first index of a structurally equal type */

    wimport_t *imports;
    uint32_t nimports;
    uint32_t nfunc_imports, ntable_imports, nmem_imports, nglobal_imports;

    uint32_t nfuncs;          /* imports included */
    uint32_t *func_types;     /* per function index */
    wfunc_t *funcs;           /* defined functions (nfuncs - nfunc_imports) */

    uint32_t ntables;
    wtabledef_t *tables;      /* all tables, imports first */
    uint32_t nmems;
    wlimits_t mem;            /* memory 0 */

    uint32_t nglobals;
    wglobaldef_t *globals;    /* all globals, imports first (init unused) */

    wexport_t *exports;
    uint32_t nexports;

    bool has_start;
    uint32_t start;

    welem_t *elems;
    uint32_t nelems;
    wdata_t *datas;
    uint32_t ndatas;
    bool has_datacount;
    uint32_t datacount;

    bool *declared_funcs; /* C.refs: may appear in ref.func */

    char **func_names; /* from the name section, may be NULL entries */
    size_t code_size;

    /* Backing for wasm_functype_t valtype arrays. */
    wasm_valtype_t *valtypes;

    bool plain; /* compiled without operand deferral, folding or fusion */
};

/* wasm_module_load with the optimizing translation switched off: a
 * straightforward stack-slot translation, used as the oracle when
 * differential-testing the optimizer. */
wasm_module_t *wasm_module_load_plain(const uint8_t *bytes, size_t len, wasm_load_error_t *why, err_t *err);

/* ---- Runtime objects (refcounted: shared by linker and instances) ---- */

typedef struct wmemory {
    atomic_int refs;
    uint8_t *data;
    uint64_t size; /* bytes */
    uint32_t pages;
    uint32_t max;  /* pages, effective cap (module max and instance limit) */
    uint32_t decl_max; /* declared max for import matching (UINT32_MAX none) */
    bool has_max;
} wmemory_t;

typedef struct wtable {
    atomic_int refs;
    wasm_ref_t *elems;
    uint32_t size;
    uint32_t max;      /* effective cap */
    uint32_t decl_max;
    bool has_max;
    wasm_valtype_t type;
} wtable_t;

typedef struct wglobal {
    atomic_int refs;
    slot_t val;
    wasm_valtype_t type;
    bool mut;
} wglobal_t;

struct wasm_func {
    atomic_int refs;        /* only for host funcs owned by a linker */
    const wasm_functype_t *type;
    wasm_instance_t *inst;  /* owning instance; NULL for host functions */
    const wcode_t *code;    /* wasm functions */
    wasm_host_fn_t host;
    void *env;
    wasm_functype_t own_type; /* host funcs: copied arrays */
};

typedef struct wframe {
    const cell_t *ret_pc;
    slot_t *fp;
    const wcode_t *fn;
    wasm_instance_t *inst;
} wframe_t;

/* Execution stacks of one instance; nested entry (host -> wasm) continues
 * above the live part. */
typedef struct wexec {
    slot_t *stack;
    size_t nslots;
    wframe_t *frames;
    uint32_t nframes;
    slot_t *top;      /* first free slot while a host function runs */
    uint32_t depth;   /* frames in use */
    uint32_t active;  /* nesting count of interpreter runs on this stack */
} wexec_t;

struct wasm_instance {
    const wasm_module_t *mod;
    wasm_func_t **funcs;
    wasm_func_t *own_funcs;
    wmemory_t *mem;
    wtable_t **tables;
    wglobal_t **globals;
    bool *data_dropped;
    bool *elem_dropped;
    wasm_limits_t limits;
    atomic_int intr;
    _Atomic(atomic_int *) watching;
    wexec_t exec;
    bool wrote_shared;                /* instantiation wrote an imported table */
    struct wasm_instance *parked_next; /* see inst_trapped in instance.c */
};

/* ---- Internal functions ---- */

bool wasm_decode(wasm_module_t *m, wasm_load_error_t *why, err_t *err);
bool wasm_compile_func(wasm_module_t *m, uint32_t defidx, wasm_load_error_t *why, err_t *err);
bool wasm_functype_eq(const wasm_functype_t *a, const wasm_functype_t *b);
const char *wasm_func_name(const wasm_module_t *m, uint32_t funcidx, char *buf, size_t n);

/* Interpreter: returns the table of handler addresses indexed by op. */
const void *const *wasm_interp_handlers(void);
/* Runs fn with args in/results out as raw slots. */
wasm_status_t wasm_interp_call(wasm_instance_t *inst, const wasm_func_t *fn, slot_t *args, uint32_t nargs,
                               slot_t *results, atomic_int *intr, uint64_t fuel, wasm_trap_t *trap);

void wmemory_unref(wmemory_t *m);
void wtable_unref(wtable_t *t);
void wglobal_unref(wglobal_t *g);
int32_t wmemory_grow(wmemory_t *m, uint32_t delta);
int32_t wtable_grow(wtable_t *t, uint32_t delta, wasm_ref_t init);

static inline void trap_set(wasm_trap_t *t, wasm_trap_kind_t k) {
    t->kind = k;
    const char *m = wasm_trap_kind_message(k);
    size_t n = strlen(m);
    if (n >= sizeof t->message)
        n = sizeof t->message - 1;
    memcpy(t->message, m, n);
    t->message[n] = 0;
}

#endif
