/*
 * interp.c — the interpreter loop: computed-goto dispatch over the cell
 * stream compile.c produced. One C function, no recursion for wasm calls:
 * frames live in an explicit array (wexec_t), values in a slot stack.
 *
 * Hot state is kept in locals so the compiler can hold it in registers:
 * pc, fp, the memory base and size (reloaded after calls, returns and
 * memory.grow), the interrupt flag pointer and the fuel counter. The
 * interrupt flag is read at function entry and on backward branches only.
 *
 * Profiling: build with -DWASM_OPCOUNT (e.g. CMAKE_C_FLAGS) and every
 * dispatch is counted; at exit the top ops, functions and (op, next op)
 * pairs go to stderr: the pairs are the candidates for fusion.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "wasm/ops.h"
#include "wasm/wasm_internal.h"

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

#define STACK_SLOTS (1u << 20) /* 8 MiB of value stack per instance */
#define MAX_NESTING 64         /* host -> wasm re-entry depth on one thread */

static _Thread_local int nesting;
static atomic_int always_set = 1; /* the flag fuel-counted runs watch */

/* Type names that double as slot_t member names in the handler macros. */
typedef uint32_t u32;
typedef int32_t i32;
typedef uint64_t u64;
typedef int64_t i64;
typedef float f32;
typedef double f64;

/* ---- float helpers (spec 4.3.3) ---- */

static inline float f32_min(float a, float b) {
    if (isnan(a) || isnan(b))
        return a + b;
    if (a == b)
        return signbit(a) ? a : b;
    return a < b ? a : b;
}
static inline float f32_max(float a, float b) {
    if (isnan(a) || isnan(b))
        return a + b;
    if (a == b)
        return signbit(a) ? b : a;
    return a > b ? a : b;
}
static inline double f64_min(double a, double b) {
    if (isnan(a) || isnan(b))
        return a + b;
    if (a == b)
        return signbit(a) ? a : b;
    return a < b ? a : b;
}
static inline double f64_max(double a, double b) {
    if (isnan(a) || isnan(b))
        return a + b;
    if (a == b)
        return signbit(a) ? b : a;
    return a > b ? a : b;
}

static inline uint64_t f32_bits(float f) {
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

static inline uint32_t rotl32(uint32_t x, uint32_t k) { k &= 31; return (x << k) | (x >> ((32 - k) & 31)); }
static inline uint32_t rotr32(uint32_t x, uint32_t k) { k &= 31; return (x >> k) | (x << ((32 - k) & 31)); }
static inline uint64_t rotl64(uint64_t x, uint64_t k) { k &= 63; return (x << k) | (x >> ((64 - k) & 63)); }
static inline uint64_t rotr64(uint64_t x, uint64_t k) { k &= 63; return (x >> k) | (x << ((64 - k) & 63)); }

static wasm_ref_t elem_item(wasm_instance_t *inst, const wconst_t *c) {
    switch (c->op) {
    case CE_REFFUNC: return inst->funcs[c->idx];
    case CE_GLOBAL: return inst->globals[c->idx]->val.ref;
    default: return NULL;
    }
}

static pthread_once_t handlers_once = PTHREAD_ONCE_INIT;
static const void *const *handlers_table;

typedef struct run {
    wasm_instance_t *inst;   /* instance owning the stack */
    const wasm_func_t *fn;
    atomic_int *intr;
    int64_t fuel;
    wasm_trap_t *trap;
    slot_t *fp;              /* args in / results out */
} run_t;

/* GCC would turn INIT_FRAME's short loops into memset/memcpy calls, which
 * spill the registers the interpreter loop lives in. */
#if defined(__GNUC__) && !defined(__clang__)
#define NO_LOOP_PATTERNS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define NO_LOOP_PATTERNS
#endif
static wasm_status_t run(run_t *R) NO_LOOP_PATTERNS;

static void init_handlers(void) { run(NULL); }

const void *const *wasm_interp_handlers(void) {
    pthread_once(&handlers_once, init_handlers);
    return handlers_table;
}

static void set_func_name(wasm_trap_t *trap, const wcode_t *fn) {
    char buf[64];
    const char *n = wasm_func_name(fn->mod, fn->funcidx, buf, sizeof buf);
    snprintf(trap->func_name, sizeof trap->func_name, "%s", n);
}

/* Calls a host function with args in fp[0..] and results written there. */
static bool call_host(wasm_instance_t *caller, const wasm_func_t *f, slot_t *fp, wasm_trap_t *trap) {
    const wasm_functype_t *t = f->type;
    wasm_val_t small[16], *args = small;
    uint32_t need = t->nparams + t->nresults;
    if (need > 16) {
        args = malloc(need * sizeof(wasm_val_t));
        if (!args) {
            trap->kind = WASM_TRAP_HOST;
            snprintf(trap->message, sizeof trap->message, "out of memory calling a host function");
            return false;
        }
    }
    wasm_val_t *res = args + t->nparams;
    for (uint32_t i = 0; i < t->nparams; i++) {
        args[i].type = t->params[i];
        args[i].of.i64 = 0;
        switch (t->params[i]) {
        case WASM_I32: args[i].of.i32 = fp[i].i32; break;
        case WASM_F32: args[i].of.f32_bits = fp[i].u32; break;
        case WASM_FUNCREF: case WASM_EXTERNREF: args[i].of.ref = fp[i].ref; break;
        default: args[i].of.i64 = fp[i].i64; break;
        }
    }
    for (uint32_t i = 0; i < t->nresults; i++) {
        res[i].type = t->results[i];
        res[i].of.i64 = 0;
    }
    trap->kind = WASM_TRAP_NONE;
    bool ok = f->host(caller, f->env, args, res, trap);
    if (ok) {
        for (uint32_t i = 0; i < t->nresults; i++) {
            fp[i].u64 = 0;
            switch (t->results[i]) {
            case WASM_I32: fp[i].i32 = res[i].of.i32; break;
            case WASM_F32: fp[i].u32 = res[i].of.f32_bits; break;
            case WASM_FUNCREF: case WASM_EXTERNREF: fp[i].ref = res[i].of.ref; break;
            default: fp[i].i64 = res[i].of.i64; break;
            }
        }
    } else if (trap->kind == WASM_TRAP_NONE) {
        trap->kind = WASM_TRAP_HOST;
    }
    if (args != small)
        free(args);
    return ok;
}

static bool exec_alloc(wasm_instance_t *inst) {
    wexec_t *e = &inst->exec;
    if (e->stack)
        return true;
    e->nslots = STACK_SLOTS;
    e->nframes = inst->limits.max_call_depth;
    e->stack = malloc(e->nslots * sizeof(slot_t));
    e->frames = malloc(((size_t)e->nframes + 1) * sizeof(wframe_t));
    if (!e->stack || !e->frames) {
        free(e->stack);
        free(e->frames);
        e->stack = NULL;
        e->frames = NULL;
        return false;
    }
    return true;
}

wasm_status_t wasm_interp_call(wasm_instance_t *inst, const wasm_func_t *fn, slot_t *args, uint32_t nargs,
                               slot_t *results, atomic_int *intr, uint64_t fuel, wasm_trap_t *trap) {
    trap->kind = WASM_TRAP_NONE;
    trap->message[0] = 0;
    trap->func_name[0] = 0;
    if (!fn->code) {
        slot_t buf[64], *b = buf;
        uint32_t n = fn->type->nparams > fn->type->nresults ? fn->type->nparams : fn->type->nresults;
        if (n > 64 && !(b = malloc(n * sizeof(slot_t)))) {
            trap_set(trap, WASM_TRAP_HOST);
            return WASM_TRAPPED;
        }
        memcpy(b, args, nargs * sizeof(slot_t));
        bool ok = call_host(inst, fn, b, trap);
        if (ok)
            memcpy(results, b, fn->type->nresults * sizeof(slot_t));
        if (b != buf)
            free(b);
        return ok ? WASM_OK : WASM_TRAPPED;
    }
    if (nesting >= MAX_NESTING) {
        trap_set(trap, WASM_TRAP_STACK_EXHAUSTED);
        return WASM_TRAPPED;
    }
    if (!exec_alloc(inst)) {
        trap->kind = WASM_TRAP_HOST;
        snprintf(trap->message, sizeof trap->message, "out of memory allocating the wasm stack");
        return WASM_TRAPPED;
    }
    wexec_t *e = &inst->exec;
    slot_t *fp = e->active ? e->top : e->stack;
    uint32_t saved_depth = e->depth;
    slot_t *saved_top = e->top;
    if (!e->active)
        e->depth = 0;
    if ((size_t)(fp - e->stack) + fn->code->frame + nargs + 1 > e->nslots) {
        trap_set(trap, WASM_TRAP_STACK_EXHAUSTED);
        return WASM_TRAPPED;
    }
    memcpy(fp, args, nargs * sizeof(slot_t));
    run_t R = {.inst = inst, .fn = fn, .intr = intr, .fuel = fuel ? (int64_t)fuel : INT64_MAX, .trap = trap, .fp = fp};
    e->active++;
    nesting++;
    wasm_status_t st = run(&R);
    nesting--;
    e->active--;
    e->depth = saved_depth;
    e->top = saved_top;
    if (st == WASM_OK)
        memcpy(results, fp, fn->type->nresults * sizeof(slot_t));
    return st;
}

/* ---- the loop ---- */

/* Immediate fields of the cell after the handler, read as separate loads
 * (cheaper than shifting one 64-bit word). The code is never written while
 * running, so the may_alias views are safe. */
typedef uint16_t __attribute__((may_alias)) u16a_t;
typedef uint32_t __attribute__((may_alias)) u32a_t;
typedef int32_t __attribute__((may_alias)) i32a_t;
#define W (pc[1].u)
#define F0 ((uint32_t)((const u16a_t *)(pc + 1))[0])
#define F1 ((uint32_t)((const u16a_t *)(pc + 1))[1])
#define F2 ((uint32_t)((const u16a_t *)(pc + 1))[2])
#define F3 ((uint32_t)((const u16a_t *)(pc + 1))[3])
#define HI (((const u32a_t *)(pc + 1))[1])
#define HIS (((const i32a_t *)(pc + 1))[1])
#define IMM16 ((int32_t)(int16_t)((const u16a_t *)(pc + 1))[1])
#define IMM16HI ((int32_t)(int16_t)((const u16a_t *)(pc + 1))[2])

#ifdef WASM_OPCOUNT
/* Development aid (build with -DWASM_OPCOUNT): counts every dispatch and
 * every (previous, next) pair, printed at exit; see opcount_* below. */
static void opcount_hit(const void *h, const wcode_t *fn);
#define NEXT() do { opcount_hit(pc->h, cur); goto *pc->h; } while (0)
#else
#define NEXT() goto *pc->h
#endif
#define SKIP(n) do { pc += (n); NEXT(); } while (0)
/* One label per kind: setting the kind on the hot path (which GCC hoists
 * above the bounds check) would cost an instruction per access. */
#define TRAP(k) goto trap_##k
/* One load and a well-predicted branch. With fuel, `intr` points at a flag
 * that is always set, so every check takes the slow path that counts. */
#define CHECK_INTR() do { \
        if (UNLIKELY(atomic_load_explicit(intr, memory_order_relaxed) != 0)) { \
            if (atomic_load_explicit(real_intr, memory_order_relaxed) != 0 || --fuel < 0) goto interrupted; \
        } \
    } while (0)
/* Zeroes the declared locals and copies the constants in: one fixed-size
 * copy (two vector moves) covers most functions, a loop the rest. init is
 * padded and the frame sized so the fixed copy stays inside both
 * (compile.c). */
#define INIT_FRAME() do { \
        const uint64_t *k_ = cur->init; slot_t *d_ = fp + cur->nparams; \
        uint32_t n_ = cur->ninit; \
        memcpy(d_, k_, WASM_INIT_FIXED * sizeof(slot_t)); \
        for (uint32_t i_ = WASM_INIT_FIXED; UNLIKELY(i_ < n_); i_++) d_[i_].u64 = k_[i_]; \
    } while (0)
/* Results are written as whole 8-byte slots (i32 zero-extended, f32 as its
 * bits): a slot is often read back whole soon after (MOV, RETURN1, call
 * arguments), and an 8-byte load cannot be forwarded from a 4-byte store
 * still in flight; the CPU then waits for the store to reach the cache. */
#define SET(s, T, v) SET_##T(s, v)
#define SET_u32(s, v) ((s).u64 = (uint32_t)(v))
#define SET_i32(s, v) ((s).u64 = (uint32_t)(int32_t)(v))
#define SET_u64(s, v) ((s).u64 = (uint64_t)(v))
#define SET_i64(s, v) ((s).u64 = (uint64_t)(int64_t)(v))
#define SET_f32(s, v) ((s).u64 = f32_bits(v))
#define SET_f64(s, v) ((s).f64 = (v))
#define RELOAD_MEM() do { mem = inst->mem->data; memsize = inst->mem->size; } while (0)

#define BINOP(name, T, expr) L_##name: { \
        T x = fp[F1].T; T y = fp[F2].T; (void)x; (void)y; \
        SET(fp[F0], T, expr); SKIP(2); }
#define CMPOP(name, T, expr) L_##name: { \
        T x = fp[F1].T; T y = fp[F2].T; \
        fp[F0].u64 = (expr); SKIP(2); }
#define UNOP(name, TI, TO, expr) L_##name: { \
        TI x = fp[F1].TI; SET(fp[F0], TO, expr); SKIP(2); }
#define LOAD(name, CT, TO, n) L_##name: { \
        uint64_t ea = (uint64_t)fp[F1].u32 + HI; \
        if (UNLIKELY(ea + (n) > memsize)) TRAP(WASM_TRAP_MEMORY_OOB); \
        CT v_; memcpy(&v_, mem + ea, n); SET(fp[F0], TO, v_); SKIP(2); }
#define STORE(name, CT, TI, n) L_##name: { \
        uint64_t ea = (uint64_t)fp[F0].u32 + HI; \
        if (UNLIKELY(ea + (n) > memsize)) TRAP(WASM_TRAP_MEMORY_OOB); \
        CT x_ = (CT)fp[F1].TI; memcpy(mem + ea, &x_, n); SKIP(2); }
#define BRCMP(name, T, expr) L_##name: { \
        T x = fp[F0].T; T y = fp[F1].T; (void)y; \
        if (expr) { int32_t rel_ = HIS; pc += rel_; if (rel_ <= 0) CHECK_INTR(); NEXT(); } \
        SKIP(2); }
#define BRCMPI(name, T, expr) L_##name: { \
        T x = fp[F0].T; T y = (T)IMM16; \
        if (expr) { int32_t rel_ = HIS; pc += rel_; if (rel_ <= 0) CHECK_INTR(); NEXT(); } \
        SKIP(2); }
#define LOADW(name, CT, TO, n) L_##name: { \
        uint64_t ea = (uint32_t)(fp[F1].u32 + HI); \
        if (UNLIKELY(ea + (n) > memsize)) TRAP(WASM_TRAP_MEMORY_OOB); \
        CT v_; memcpy(&v_, mem + ea, n); SET(fp[F0], TO, v_); SKIP(2); }
#define STOREW(name, CT, TI, n) L_##name: { \
        uint64_t ea = (uint32_t)(fp[F0].u32 + HI); \
        if (UNLIKELY(ea + (n) > memsize)) TRAP(WASM_TRAP_MEMORY_OOB); \
        CT x_ = (CT)fp[F1].TI; memcpy(mem + ea, &x_, n); SKIP(2); }
#define TRUNC(name, TI, TO, CT, lo_ok, hi_ok) L_##name: { \
        TI x = fp[F1].TI; \
        if (UNLIKELY(isnan(x))) TRAP(WASM_TRAP_INVALID_CONVERSION); \
        if (UNLIKELY(!((lo_ok) && (hi_ok)))) TRAP(WASM_TRAP_INT_OVERFLOW); \
        SET(fp[F0], TO, (CT)x); SKIP(2); }
#define TRUNC_SAT(name, TI, TO, CT, lo_ok, hi_ok, minv, maxv) L_##name: { \
        TI x = fp[F1].TI; CT r_; \
        if (isnan(x)) r_ = 0; else if (!(lo_ok)) r_ = (minv); else if (!(hi_ok)) r_ = (maxv); else r_ = (CT)x; \
        SET(fp[F0], TO, r_); SKIP(2); }

#ifdef WASM_OPCOUNT
static const char *const opcount_names[] = {
#define X(n) #n,
    WASM_OPS(X)
#undef X
#define Y(a, b) "CH_" #a "_" #b,
    WASM_CHAINS(Y)
#undef Y
};
static uint64_t opcount_n[OP__COUNT], opcount_pair[OP__COUNT][OP__COUNT];
static int opcount_prev = -1;
static const void *opcount_h[1024];
static int opcount_op[1024];
static uint64_t opcount_fn[1 << 16];

static void opcount_dump(void) {
    uint64_t total = 0;
    for (int i = 0; i < OP__COUNT; i++)
        total += opcount_n[i];
    fprintf(stderr, "opcount: %llu dispatches\n", (unsigned long long)total);
    for (int k = 0; k < 40; k++) {
        int best = -1;
        for (int i = 0; i < OP__COUNT; i++)
            if (opcount_n[i] && (best < 0 || opcount_n[i] > opcount_n[best]))
                best = i;
        if (best < 0)
            break;
        fprintf(stderr, "  %-22s %12llu %5.1f%%\n", opcount_names[best], (unsigned long long)opcount_n[best],
                100.0 * (double)opcount_n[best] / (double)total);
        opcount_n[best] = 0;
    }
    fprintf(stderr, "opcount functions:\n");
    for (int k = 0; k < 12; k++) {
        int best = -1;
        for (int i = 0; i < (1 << 16); i++)
            if (opcount_fn[i] && (best < 0 || opcount_fn[i] > opcount_fn[best]))
                best = i;
        if (best < 0)
            break;
        fprintf(stderr, "  func %5d %12llu %5.1f%%\n", best, (unsigned long long)opcount_fn[best],
                100.0 * (double)opcount_fn[best] / (double)total);
        opcount_fn[best] = 0;
    }
    fprintf(stderr, "opcount pairs:\n");
    for (int k = 0; k < 60; k++) {
        int ba = -1, bb = -1;
        for (int a = 0; a < OP__COUNT; a++)
            for (int b = 0; b < OP__COUNT; b++)
                if (opcount_pair[a][b] && (ba < 0 || opcount_pair[a][b] > opcount_pair[ba][bb]))
                    ba = a, bb = b;
        if (ba < 0)
            break;
        fprintf(stderr, "  %-22s %-22s %12llu %5.1f%%\n", opcount_names[ba], opcount_names[bb],
                (unsigned long long)opcount_pair[ba][bb], 100.0 * (double)opcount_pair[ba][bb] / (double)total);
        opcount_pair[ba][bb] = 0;
    }
}

static void opcount_hit(const void *h, const wcode_t *fn) {
    opcount_fn[fn->funcidx & 0xffff]++;
    const void *const *t = wasm_interp_handlers();
    size_t k = ((uintptr_t)h >> 3) % 1024;
    if (!opcount_h[0] && !opcount_op[0]) {
        for (int i = 0; i < 1024; i++)
            opcount_op[i] = -1;
        for (int i = 0; i < OP__COUNT; i++) {
            size_t j = ((uintptr_t)t[i] >> 3) % 1024;
            while (opcount_op[j] >= 0)
                j = (j + 1) % 1024;
            opcount_h[j] = t[i];
            opcount_op[j] = i;
        }
        atexit(opcount_dump);
    }
    while (opcount_h[k] != h)
        k = (k + 1) % 1024;
    int op = opcount_op[k];
    opcount_n[op]++;
    if (opcount_prev >= 0)
        opcount_pair[opcount_prev][op]++;
    opcount_prev = op;
}
#endif

static wasm_status_t run(run_t *R) {
    static const void *const labels[] = {
#define X(n) &&L_##n,
        WASM_OPS(X)
#undef X
#define Y(a, b) &&L_CH_##a##_##b,
        WASM_CHAINS(Y)
#undef Y
    };
    if (!R) {
        handlers_table = labels;
        return WASM_OK;
    }
    wasm_instance_t *const owner = R->inst;
    wexec_t *const ex = &owner->exec;
    const uint32_t base_depth = ex->depth;
    wframe_t *const fr_base = ex->frames + base_depth;
    wframe_t *const fr_limit = ex->frames + ex->nframes;
    wframe_t *fr = fr_base; /* next free frame record */
    slot_t *const stack_end = ex->stack + ex->nslots;
    atomic_int *const real_intr = R->intr;
    atomic_int *const intr = R->fuel != INT64_MAX ? &always_set : real_intr;
    int64_t fuel = R->fuel != INT64_MAX ? R->fuel : -1;
    wasm_trap_t *const trap = R->trap;

    const wcode_t *cur = R->fn->code;
    wasm_instance_t *inst = R->fn->inst;
    slot_t *fp = R->fp;
    uint8_t *mem;
    uint64_t memsize;
    wglobal_t **globals = inst->globals;
    RELOAD_MEM();
    const cell_t *pc;

    /* entry frame */
    if (UNLIKELY(fp + cur->frame > stack_end))
        TRAP(WASM_TRAP_STACK_EXHAUSTED);
    INIT_FRAME();
    CHECK_INTR();
    pc = cur->code;
    NEXT();

    /* ---- calls ---- */
    const wcode_t *callee;
    const wasm_func_t *callee_f;
    uint32_t argslot;
    const cell_t *retpc;

L_CALL:
    callee = pc[1].p;
    argslot = (uint32_t)(pc[2].u & 0xffff);
    retpc = pc + 3;
do_call: {
        slot_t *nfp = fp + argslot;
        if (UNLIKELY(fr == fr_limit || nfp + callee->frame > stack_end))
            TRAP(WASM_TRAP_STACK_EXHAUSTED);
        fr->ret_pc = retpc;
        fr->fp = fp;
        fr->fn = cur;
        fr->inst = inst;
        fr++;
        fp = nfp;
        cur = callee;
        INIT_FRAME();
        CHECK_INTR();
        pc = cur->code;
        NEXT();
    }
L_CALL_IMPORT:
    callee_f = inst->funcs[pc[1].u];
    argslot = (uint32_t)(pc[2].u & 0xffff);
    retpc = pc + 3;
do_call_func:
    if (callee_f->code) {
        callee = callee_f->code;
        if (callee_f->inst != inst) {
            /* cross-instance call: the frame records our instance */
            slot_t *nfp = fp + argslot;
            if (UNLIKELY(fr == fr_limit || nfp + callee->frame > stack_end))
                TRAP(WASM_TRAP_STACK_EXHAUSTED);
            fr->ret_pc = retpc;
            fr->fp = fp;
            fr->fn = cur;
            fr->inst = inst;
            fr++;
            fp = nfp;
            cur = callee;
            inst = callee_f->inst;
            globals = inst->globals;
            RELOAD_MEM();
            INIT_FRAME();
            CHECK_INTR();
            pc = cur->code;
            NEXT();
        }
        goto do_call;
    }
    {
        ex->top = fp + cur->frame;
        ex->depth = (uint32_t)(fr - ex->frames);
        if (UNLIKELY(!call_host(inst, callee_f, fp + argslot, trap))) {
            set_func_name(trap, cur);
            ex->depth = base_depth;
            return WASM_TRAPPED;
        }
        RELOAD_MEM();
        pc = retpc;
        if (UNLIKELY(atomic_load_explicit(real_intr, memory_order_relaxed) != 0))
            goto interrupted;
        NEXT();
    }
L_CALL_INDIRECT: {
        uint64_t w = W;
        argslot = (uint32_t)(w & 0xffff);
        uint32_t i = fp[(w >> 16) & 0xffff].u32;
        wtable_t *t = inst->tables[w >> 32];
        if (UNLIKELY(i >= t->size))
            TRAP(WASM_TRAP_UNDEFINED_ELEMENT);
        callee_f = t->elems[i];
        if (UNLIKELY(!callee_f))
            TRAP(WASM_TRAP_UNINITIALIZED_ELEMENT);
        const wasm_functype_t *ft = pc[2].p;
        if (UNLIKELY(callee_f->type != ft && !wasm_functype_eq(callee_f->type, ft)))
            TRAP(WASM_TRAP_INDIRECT_CALL_MISMATCH);
        retpc = pc + 3;
        goto do_call_func;
    }

    /* ---- returns ---- */
L_RETURN0:
    goto do_return;
L_RETURN1:
    fp[0] = fp[F0];
    goto do_return;
L_RETURN: {
        uint32_t src = F0, n = HI;
        memmove(fp, fp + src, n * sizeof(slot_t));
    }
do_return:
    if (UNLIKELY(fr == fr_base))
        goto done;
    {
        fr--;
        pc = fr->ret_pc;
        fp = fr->fp;
        cur = fr->fn;
        if (UNLIKELY(fr->inst != inst)) {
            inst = fr->inst;
            globals = inst->globals;
        }
        RELOAD_MEM();
        NEXT();
    }

    /* ---- control ---- */
L_UNREACHABLE:
    TRAP(WASM_TRAP_UNREACHABLE);
L_BR:
    pc += pc[1].i;
    NEXT();
L_BR_LOOP:
    pc += pc[1].i;
    CHECK_INTR();
    NEXT();
L_BR_IF:
    if (fp[F0].u32) {
        pc += HIS;
        NEXT();
    }
    SKIP(2);
L_BR_IF_LOOP:
    if (fp[F0].u32) {
        pc += HIS;
        CHECK_INTR();
        NEXT();
    }
    SKIP(2);
L_BR_IFNOT:
    if (!fp[F0].u32) {
        pc += HIS;
        NEXT();
    }
    SKIP(2);
L_BR_TABLE: {
        uint32_t i = fp[F0].u32, n = HI;
        if (i > n)
            i = n;
        int64_t rel = pc[2 + i].i;
        pc += rel;
        if (rel <= 0) /* a loop may start at this very instruction */
            CHECK_INTR();
        NEXT();
    }
    BRCMP(BR_I32_EQZ, u32, x == 0)
    BRCMP(BR_I32_NEZ, u32, x != 0)
    BRCMP(BR_I32_EQ, u32, x == y)
    BRCMP(BR_I32_NE, u32, x != y)
    BRCMP(BR_I32_LT_S, i32, x < y)
    BRCMP(BR_I32_LT_U, u32, x < y)
    BRCMP(BR_I32_GT_S, i32, x > y)
    BRCMP(BR_I32_GT_U, u32, x > y)
    BRCMP(BR_I32_LE_S, i32, x <= y)
    BRCMP(BR_I32_LE_U, u32, x <= y)
    BRCMP(BR_I32_GE_S, i32, x >= y)
    BRCMP(BR_I32_GE_U, u32, x >= y)

    BRCMPI(BRI_I32_EQ, u32, x == y)
    BRCMPI(BRI_I32_NE, u32, x != y)
    BRCMPI(BRI_I32_LT_S, i32, x < y)
    BRCMPI(BRI_I32_LT_U, u32, x < y)
    BRCMPI(BRI_I32_GT_S, i32, x > y)
    BRCMPI(BRI_I32_GT_U, u32, x > y)
    BRCMPI(BRI_I32_LE_S, i32, x <= y)
    BRCMPI(BRI_I32_LE_U, u32, x <= y)
    BRCMPI(BRI_I32_GE_S, i32, x >= y)
    BRCMPI(BRI_I32_GE_U, u32, x >= y)

    /* i = i + imm; branch on (i cmp y): the sum is written before y is
     * read (y may be i itself). Cells: d, src, y (or imm16); imm32 | rel. */
#define ADDBR(name, T, Y, expr) L_##name: { \
        u32 s_ = fp[F1].u32 + (u32)pc[2].u; SET(fp[F0], u32, s_); \
        T x = (T)s_; T y = (Y); \
        if (expr) { int32_t rel_ = (int32_t)(pc[2].u >> 32); pc += rel_; if (rel_ <= 0) CHECK_INTR(); NEXT(); } \
        SKIP(3); }
#define ADDBR2(cmp, T, expr) \
    ADDBR(ADDI_BR_I32_##cmp, T, fp[F2].T, expr) ADDBR(ADDI_BRI_I32_##cmp, T, (T)(int16_t)F2, expr)
    ADDBR2(EQ, u32, x == y)
    ADDBR2(NE, u32, x != y)
    ADDBR2(LT_S, i32, x < y)
    ADDBR2(LT_U, u32, x < y)
    ADDBR2(GT_S, i32, x > y)
    ADDBR2(GT_U, u32, x > y)
    ADDBR2(LE_S, i32, x <= y)
    ADDBR2(LE_U, u32, x <= y)
    ADDBR2(GE_S, i32, x >= y)
    ADDBR2(GE_U, u32, x >= y)

    /* Byte load, write, compare with imm16, branch: the load traps before
     * anything is written. EA is the plain or wrapping address form (LOAD,
     * LOADW). Cells: d, addr, imm16; off32 | rel32. */
#define LD8BR(name, EA, expr) L_##name: { \
        uint64_t w_ = pc[2].u; uint64_t ea = (EA); \
        if (UNLIKELY(ea + 1 > memsize)) TRAP(WASM_TRAP_MEMORY_OOB); \
        u32 x = mem[ea]; u32 y = (u32)IMM16HI; SET(fp[F0], u32, x); \
        if (expr) { int32_t rel_ = (int32_t)(w_ >> 32); pc += rel_; if (rel_ <= 0) CHECK_INTR(); NEXT(); } \
        SKIP(3); }
    LD8BR(LD8U_BRI_EQ, (uint64_t)fp[F1].u32 + (uint32_t)w_, x == y)
    LD8BR(LD8U_BRI_NE, (uint64_t)fp[F1].u32 + (uint32_t)w_, x != y)
    LD8BR(LD8UW_BRI_EQ, (uint32_t)(fp[F1].u32 + (uint32_t)w_), x == y)
    LD8BR(LD8UW_BRI_NE, (uint32_t)(fp[F1].u32 + (uint32_t)w_), x != y)
    /* y = d = mem[addr + off] (i32.load); branch on other cmp y. The load
     * traps before anything is written; other is read after d is written
     * (it may be d). Cells: d, addr, other; off32 | rel32. */
#define LDBR(name, T, expr) L_##name: { \
        uint64_t w_ = pc[2].u; uint64_t ea = (uint64_t)fp[F1].u32 + (uint32_t)w_; \
        if (UNLIKELY(ea + 4 > memsize)) TRAP(WASM_TRAP_MEMORY_OOB); \
        u32 v_; memcpy(&v_, mem + ea, 4); SET(fp[F0], u32, v_); \
        T x = fp[F2].T; T y = (T)v_; \
        if (expr) { int32_t rel_ = (int32_t)(w_ >> 32); pc += rel_; if (rel_ <= 0) CHECK_INTR(); NEXT(); } \
        SKIP(3); }
    LDBR(LD_BR_I32_EQ, u32, x == y)
    LDBR(LD_BR_I32_NE, u32, x != y)
    LDBR(LD_BR_I32_LT_S, i32, x < y)
    LDBR(LD_BR_I32_LT_U, u32, x < y)
    LDBR(LD_BR_I32_GT_S, i32, x > y)
    LDBR(LD_BR_I32_GT_U, u32, x > y)
    LDBR(LD_BR_I32_LE_S, i32, x <= y)
    LDBR(LD_BR_I32_LE_U, u32, x <= y)
    LDBR(LD_BR_I32_GE_S, i32, x >= y)
    LDBR(LD_BR_I32_GE_U, u32, x >= y)
    /* switch on x + bias: cells idx, n; bias; n + 1 targets */
L_BR_TABLE_ADDI: {
        uint32_t i = fp[F0].u32 + (uint32_t)pc[2].u, n = HI;
        if (i > n)
            i = n;
        int64_t rel = pc[3 + i].i;
        pc += rel;
        if (rel <= 0)
            CHECK_INTR();
        NEXT();
    }
    /* d = x & imm32; branch on it being zero / non-zero. Cells: d, x,
     * imm32; rel. */
L_BR_ANDI_Z: {
        u32 t_ = fp[F1].u32 & HI;
        SET(fp[F0], u32, t_);
        if (t_ == 0) { int64_t rel_ = pc[2].i; pc += rel_; if (rel_ <= 0) CHECK_INTR(); NEXT(); }
        SKIP(3);
    }
L_BR_ANDI_NZ: {
        u32 t_ = fp[F1].u32 & HI;
        SET(fp[F0], u32, t_);
        if (t_ != 0) { int64_t rel_ = pc[2].i; pc += rel_; if (rel_ <= 0) CHECK_INTR(); NEXT(); }
        SKIP(3);
    }

    /* ---- data movement ---- */
L_MOV:
    fp[F0] = fp[F1];
    SKIP(2);
L_MOV_BR: /* a copy, then a forward jump (no interruption check needed) */
    fp[F0] = fp[F1];
    pc += HIS;
    NEXT();
#define BINOP_LW(name, T, expr) L_##name: { \
        uint64_t ea = (uint32_t)(fp[F2].u32 + (uint32_t)pc[2].u); \
        if (UNLIKELY(ea + sizeof(T) > memsize)) TRAP(WASM_TRAP_MEMORY_OOB); \
        T x = fp[F1].T, y; memcpy(&y, mem + ea, sizeof(T)); \
        SET(fp[F0], T, expr); SKIP(3); }
    BINOP_LW(I32_ADD_LW, u32, x + y)
    BINOP_LW(I64_ADD_LW, u64, x + y)
    BINOP_LW(F32_ADD_LW, f32, x + y)
    BINOP_LW(F32_MUL_LW, f32, x * y)
    BINOP_LW(F64_ADD_LW, f64, x + y)
    BINOP_LW(F64_MUL_LW, f64, x * y)
    /* Chained i32 binops (ops.h): the temporary stays in a register. */
#define CH_ADD(x, y) ((x) + (y))
#define CH_SUB(x, y) ((x) - (y))
#define CH_MUL(x, y) ((x) * (y))
#define CH_AND(x, y) ((x) & (y))
#define CH_OR(x, y) ((x) | (y))
#define CH_XOR(x, y) ((x) ^ (y))
#define CH_SHL(x, y) ((x) << ((y) & 31))
#define CH_SHR_S(x, y) ((u32)((i32)(x) >> ((y) & 31)))
#define CH_SHR_U(x, y) ((x) >> ((y) & 31))
#define CH_ROTL(x, y) rotl32(x, y)
#define CH_ROTR(x, y) rotr32(x, y)
#define Y(a, b) L_CH_##a##_##b: { \
        u32 t_ = CH_##a(fp[F1].u32, fp[F2].u32); \
        SET(fp[F0], u32, CH_##b(t_, fp[F3].u32)); SKIP(2); }
    WASM_CHAINS(Y)
#undef Y
L_MOV2: /* in order: the second copy may read the first's destination */
    fp[F0] = fp[F1];
    fp[F2] = fp[F3];
    SKIP(2);
L_CONST:
    fp[F0].u64 = pc[2].u;
    SKIP(3);
L_SELECT: {
        uint64_t w = W;
        fp[w & 0xffff] = fp[(w >> 48)].u32 ? fp[(w >> 16) & 0xffff] : fp[(w >> 32) & 0xffff];
        SKIP(2);
    }
L_GLOBAL_GET:
    fp[F0] = globals[HI]->val;
    SKIP(2);
L_GLOBAL_SET:
    globals[HI]->val = fp[F0];
    SKIP(2);

    /* ---- memory ---- */
    LOAD(I32_LOAD, uint32_t, u32, 4)
    LOAD(I64_LOAD, uint64_t, u64, 8)
    LOAD(I32_LOAD8_S, int8_t, i32, 1)
    LOAD(I32_LOAD8_U, uint8_t, u32, 1)
    LOAD(I32_LOAD16_S, int16_t, i32, 2)
    LOAD(I32_LOAD16_U, uint16_t, u32, 2)
    LOAD(I64_LOAD8_S, int8_t, i64, 1)
    LOAD(I64_LOAD8_U, uint8_t, u64, 1)
    LOAD(I64_LOAD16_S, int16_t, i64, 2)
    LOAD(I64_LOAD16_U, uint16_t, u64, 2)
    LOAD(I64_LOAD32_S, int32_t, i64, 4)
    LOAD(I64_LOAD32_U, uint32_t, u64, 4)
    STORE(I32_STORE, uint32_t, u32, 4)
    STORE(I64_STORE, uint64_t, u64, 8)
    STORE(I32_STORE8, uint8_t, u32, 1)
    STORE(I32_STORE16, uint16_t, u32, 2)
    STORE(I64_STORE8, uint8_t, u64, 1)
    STORE(I64_STORE16, uint16_t, u64, 2)
    STORE(I64_STORE32, uint32_t, u64, 4)
    LOADW(I32_LOADW, uint32_t, u32, 4)
    LOADW(I64_LOADW, uint64_t, u64, 8)
    LOADW(I32_LOAD8_SW, int8_t, i32, 1)
    LOADW(I32_LOAD8_UW, uint8_t, u32, 1)
    LOADW(I32_LOAD16_SW, int16_t, i32, 2)
    LOADW(I32_LOAD16_UW, uint16_t, u32, 2)
    LOADW(I64_LOAD8_SW, int8_t, i64, 1)
    LOADW(I64_LOAD8_UW, uint8_t, u64, 1)
    LOADW(I64_LOAD16_SW, int16_t, i64, 2)
    LOADW(I64_LOAD16_UW, uint16_t, u64, 2)
    LOADW(I64_LOAD32_SW, int32_t, i64, 4)
    LOADW(I64_LOAD32_UW, uint32_t, u64, 4)
    STOREW(I32_STOREW, uint32_t, u32, 4)
    STOREW(I64_STOREW, uint64_t, u64, 8)
    STOREW(I32_STORE8W, uint8_t, u32, 1)
    STOREW(I32_STORE16W, uint16_t, u32, 2)
    STOREW(I64_STORE8W, uint8_t, u64, 1)
    STOREW(I64_STORE16W, uint16_t, u64, 2)
    STOREW(I64_STORE32W, uint32_t, u64, 4)
    /* d = x + imm; mem[a + off] = d: the sum is written before the address
     * is read (it may be the same slot). Cells: d, x, a; imm32 | off32. */
L_I32_ADDI_STORE: {
        uint64_t w_ = pc[2].u;
        u32 s_ = fp[F1].u32 + (u32)w_;
        SET(fp[F0], u32, s_);
        uint64_t ea = (uint64_t)fp[F2].u32 + (w_ >> 32);
        if (UNLIKELY(ea + 4 > memsize))
            TRAP(WASM_TRAP_MEMORY_OOB);
        memcpy(mem + ea, &s_, 4);
        SKIP(3);
    }
    /* Base + index addressing: the address is the i32 sum (wrapping) of
     * two slots, plus a 16-bit offset in the fourth field. Loads: d, base,
     * index, off; stores: base, index, value, off. */
#define LOAD_RR(name, CT, n) L_##name: { \
        uint64_t ea = (uint64_t)(uint32_t)(fp[F1].u32 + fp[F2].u32) + F3; \
        if (UNLIKELY(ea + (n) > memsize)) TRAP(WASM_TRAP_MEMORY_OOB); \
        CT v_; memcpy(&v_, mem + ea, n); SET(fp[F0], u32, v_); SKIP(2); }
#define STORE_RR(name, CT, n) L_##name: { \
        uint64_t ea = (uint64_t)(uint32_t)(fp[F0].u32 + fp[F1].u32) + F3; \
        if (UNLIKELY(ea + (n) > memsize)) TRAP(WASM_TRAP_MEMORY_OOB); \
        CT x_ = (CT)fp[F2].u32; memcpy(mem + ea, &x_, n); SKIP(2); }
    LOAD_RR(I32_LOAD8_U_RR, uint8_t, 1)
    STORE_RR(I32_STORE_RR, uint32_t, 4)
    STORE_RR(I32_STORE8_RR, uint8_t, 1)
    /* A load whose value only the store after it reads: copy n bytes from
     * src + off_s to dst + off_d, each address in the plain (LOAD/STORE) or
     * wrapping (LOADW/STOREW) form; the load's bounds are checked first.
     * Cells: src, dst; off_s | off_d. */
#define EA_PLAIN(x, off) ((uint64_t)(x) + (uint32_t)(off))
#define EA_WRAP(x, off) ((uint64_t)(uint32_t)((x) + (uint32_t)(off)))
#define COPY(name, CT, n, EA) L_##name: { \
        uint64_t w_ = pc[2].u; uint64_t s_ = EA(fp[F0].u32, w_); \
        if (UNLIKELY(s_ + (n) > memsize)) TRAP(WASM_TRAP_MEMORY_OOB); \
        uint64_t d_ = EA(fp[F1].u32, w_ >> 32); \
        if (UNLIKELY(d_ + (n) > memsize)) TRAP(WASM_TRAP_MEMORY_OOB); \
        CT v_; memcpy(&v_, mem + s_, n); memcpy(mem + d_, &v_, n); SKIP(3); }
    COPY(COPY64, uint64_t, 8, EA_PLAIN)
    COPY(COPY64W, uint64_t, 8, EA_WRAP)
    COPY(COPY32, uint32_t, 4, EA_PLAIN)
    COPY(COPY32W, uint32_t, 4, EA_WRAP)
    COPY(COPY8, uint8_t, 1, EA_PLAIN)
    COPY(COPY8W, uint8_t, 1, EA_WRAP)
L_MEMORY_SIZE:
    fp[F0].u64 = inst->mem->pages;
    SKIP(2);
L_MEMORY_GROW: {
        int32_t r = wmemory_grow(inst->mem, fp[F1].u32);
        fp[F0].u64 = (uint32_t)r;
        RELOAD_MEM();
        SKIP(2);
    }
L_MEMORY_FILL: {
        uint64_t d = fp[F0].u32, n = fp[F2].u32;
        if (UNLIKELY(d + n > memsize))
            TRAP(WASM_TRAP_MEMORY_OOB);
        memset(mem + d, (int)(fp[F1].u32 & 0xff), n);
        SKIP(2);
    }
L_MEMORY_COPY: {
        uint64_t d = fp[F0].u32, s = fp[F1].u32, n = fp[F2].u32;
        if (UNLIKELY(d + n > memsize || s + n > memsize))
            TRAP(WASM_TRAP_MEMORY_OOB);
        memmove(mem + d, mem + s, n);
        SKIP(2);
    }
L_MEMORY_INIT: {
        uint64_t d = fp[F0].u32, s = fp[F1].u32, n = fp[F2].u32;
        uint32_t seg = (uint32_t)pc[2].u;
        const wdata_t *ds = &inst->mod->datas[seg];
        uint64_t len = inst->data_dropped[seg] ? 0 : ds->len;
        if (UNLIKELY(s + n > len || d + n > memsize))
            TRAP(WASM_TRAP_MEMORY_OOB);
        if (n)
            memcpy(mem + d, ds->bytes + s, n);
        SKIP(3);
    }
L_DATA_DROP:
    inst->data_dropped[pc[1].u] = true;
    SKIP(2);

    /* ---- tables and references ---- */
L_TABLE_GET: {
        wtable_t *t = inst->tables[HI];
        uint32_t i = fp[F1].u32;
        if (UNLIKELY(i >= t->size))
            TRAP(WASM_TRAP_TABLE_OOB);
        fp[F0].ref = t->elems[i];
        SKIP(2);
    }
L_TABLE_SET: {
        wtable_t *t = inst->tables[HI];
        uint32_t i = fp[F0].u32;
        if (UNLIKELY(i >= t->size))
            TRAP(WASM_TRAP_TABLE_OOB);
        t->elems[i] = fp[F1].ref;
        SKIP(2);
    }
L_TABLE_SIZE:
    fp[F0].u64 = inst->tables[HI]->size;
    SKIP(2);
L_TABLE_GROW: {
        wtable_t *t = inst->tables[pc[2].u];
        int32_t r = wtable_grow(t, fp[F2].u32, fp[F1].ref);
        fp[F0].u64 = (uint32_t)r;
        SKIP(3);
    }
L_TABLE_FILL: {
        wtable_t *t = inst->tables[pc[2].u];
        uint64_t i = fp[F0].u32, n = fp[F2].u32;
        if (UNLIKELY(i + n > t->size))
            TRAP(WASM_TRAP_TABLE_OOB);
        wasm_ref_t v = fp[F1].ref;
        for (uint64_t k = 0; k < n; k++)
            t->elems[i + k] = v;
        SKIP(3);
    }
L_TABLE_COPY: {
        wtable_t *td = inst->tables[pc[2].u & 0xffffffff], *ts = inst->tables[pc[2].u >> 32];
        uint64_t d = fp[F0].u32, s = fp[F1].u32, n = fp[F2].u32;
        if (UNLIKELY(d + n > td->size || s + n > ts->size))
            TRAP(WASM_TRAP_TABLE_OOB);
        memmove(td->elems + d, ts->elems + s, n * sizeof(wasm_ref_t));
        SKIP(3);
    }
L_TABLE_INIT: {
        wtable_t *t = inst->tables[pc[2].u & 0xffffffff];
        uint32_t seg = (uint32_t)(pc[2].u >> 32);
        const welem_t *es = &inst->mod->elems[seg];
        uint64_t d = fp[F0].u32, s = fp[F1].u32, n = fp[F2].u32;
        uint64_t len = inst->elem_dropped[seg] ? 0 : es->n;
        if (UNLIKELY(s + n > len || d + n > t->size))
            TRAP(WASM_TRAP_TABLE_OOB);
        for (uint64_t k = 0; k < n; k++)
            t->elems[d + k] = elem_item(inst, &es->items[s + k]);
        SKIP(3);
    }
L_ELEM_DROP:
    inst->elem_dropped[pc[1].u] = true;
    SKIP(2);
L_REF_IS_NULL:
    fp[F0].u64 = fp[F1].ref == NULL;
    SKIP(2);
L_REF_FUNC:
    fp[F0].ref = inst->funcs[HI];
    SKIP(2);

    /* ---- numeric ---- */
    UNOP(I32_EQZ, u32, u32, x == 0)
    CMPOP(I32_EQ, u32, x == y)
    CMPOP(I32_NE, u32, x != y)
    CMPOP(I32_LT_S, i32, x < y)
    CMPOP(I32_LT_U, u32, x < y)
    CMPOP(I32_GT_S, i32, x > y)
    CMPOP(I32_GT_U, u32, x > y)
    CMPOP(I32_LE_S, i32, x <= y)
    CMPOP(I32_LE_U, u32, x <= y)
    CMPOP(I32_GE_S, i32, x >= y)
    CMPOP(I32_GE_U, u32, x >= y)
    UNOP(I64_EQZ, u64, u32, x == 0)
    CMPOP(I64_EQ, u64, x == y)
    CMPOP(I64_NE, u64, x != y)
    CMPOP(I64_LT_S, i64, x < y)
    CMPOP(I64_LT_U, u64, x < y)
    CMPOP(I64_GT_S, i64, x > y)
    CMPOP(I64_GT_U, u64, x > y)
    CMPOP(I64_LE_S, i64, x <= y)
    CMPOP(I64_LE_U, u64, x <= y)
    CMPOP(I64_GE_S, i64, x >= y)
    CMPOP(I64_GE_U, u64, x >= y)
    CMPOP(F32_EQ, f32, x == y)
    CMPOP(F32_NE, f32, x != y)
    CMPOP(F32_LT, f32, x < y)
    CMPOP(F32_GT, f32, x > y)
    CMPOP(F32_LE, f32, x <= y)
    CMPOP(F32_GE, f32, x >= y)
    CMPOP(F64_EQ, f64, x == y)
    CMPOP(F64_NE, f64, x != y)
    CMPOP(F64_LT, f64, x < y)
    CMPOP(F64_GT, f64, x > y)
    CMPOP(F64_LE, f64, x <= y)
    CMPOP(F64_GE, f64, x >= y)

    UNOP(I32_CLZ, u32, u32, x ? (uint32_t)__builtin_clz(x) : 32)
    UNOP(I32_CTZ, u32, u32, x ? (uint32_t)__builtin_ctz(x) : 32)
    UNOP(I32_POPCNT, u32, u32, (uint32_t)__builtin_popcount(x))
    BINOP(I32_ADD, u32, x + y)
    BINOP(I32_SUB, u32, x - y)
    BINOP(I32_MUL, u32, x * y)
L_I32_DIV_S: {
        int32_t x = fp[F1].i32, y = fp[F2].i32;
        if (UNLIKELY(y == 0))
            TRAP(WASM_TRAP_DIV_BY_ZERO);
        if (UNLIKELY(x == INT32_MIN && y == -1))
            TRAP(WASM_TRAP_INT_OVERFLOW);
        SET(fp[F0], i32, x / y);
        SKIP(2);
    }
L_I32_DIV_U: {
        uint32_t x = fp[F1].u32, y = fp[F2].u32;
        if (UNLIKELY(y == 0))
            TRAP(WASM_TRAP_DIV_BY_ZERO);
        SET(fp[F0], u32, x / y);
        SKIP(2);
    }
L_I32_REM_S: {
        int32_t x = fp[F1].i32, y = fp[F2].i32;
        if (UNLIKELY(y == 0))
            TRAP(WASM_TRAP_DIV_BY_ZERO);
        SET(fp[F0], i32, y == -1 ? 0 : x % y);
        SKIP(2);
    }
L_I32_REM_U: {
        uint32_t x = fp[F1].u32, y = fp[F2].u32;
        if (UNLIKELY(y == 0))
            TRAP(WASM_TRAP_DIV_BY_ZERO);
        SET(fp[F0], u32, x % y);
        SKIP(2);
    }
    BINOP(I32_AND, u32, x & y)
    BINOP(I32_OR, u32, x | y)
    BINOP(I32_XOR, u32, x ^ y)
    BINOP(I32_SHL, u32, x << (y & 31))
    BINOP(I32_SHR_S, i32, x >> (y & 31))
    BINOP(I32_SHR_U, u32, x >> (y & 31))
    BINOP(I32_ROTL, u32, rotl32(x, y))
    BINOP(I32_ROTR, u32, rotr32(x, y))

    UNOP(I64_CLZ, u64, u64, x ? (uint64_t)__builtin_clzll(x) : 64)
    UNOP(I64_CTZ, u64, u64, x ? (uint64_t)__builtin_ctzll(x) : 64)
    UNOP(I64_POPCNT, u64, u64, (uint64_t)__builtin_popcountll(x))
    BINOP(I64_ADD, u64, x + y)
    BINOP(I64_SUB, u64, x - y)
    BINOP(I64_MUL, u64, x * y)
L_I64_DIV_S: {
        int64_t x = fp[F1].i64, y = fp[F2].i64;
        if (UNLIKELY(y == 0))
            TRAP(WASM_TRAP_DIV_BY_ZERO);
        if (UNLIKELY(x == INT64_MIN && y == -1))
            TRAP(WASM_TRAP_INT_OVERFLOW);
        fp[F0].i64 = x / y;
        SKIP(2);
    }
L_I64_DIV_U: {
        uint64_t x = fp[F1].u64, y = fp[F2].u64;
        if (UNLIKELY(y == 0))
            TRAP(WASM_TRAP_DIV_BY_ZERO);
        fp[F0].u64 = x / y;
        SKIP(2);
    }
L_I64_REM_S: {
        int64_t x = fp[F1].i64, y = fp[F2].i64;
        if (UNLIKELY(y == 0))
            TRAP(WASM_TRAP_DIV_BY_ZERO);
        fp[F0].i64 = y == -1 ? 0 : x % y;
        SKIP(2);
    }
L_I64_REM_U: {
        uint64_t x = fp[F1].u64, y = fp[F2].u64;
        if (UNLIKELY(y == 0))
            TRAP(WASM_TRAP_DIV_BY_ZERO);
        fp[F0].u64 = x % y;
        SKIP(2);
    }
    BINOP(I64_AND, u64, x & y)
    BINOP(I64_OR, u64, x | y)
    BINOP(I64_XOR, u64, x ^ y)
    BINOP(I64_SHL, u64, x << (y & 63))
    BINOP(I64_SHR_S, i64, x >> (y & 63))
    BINOP(I64_SHR_U, u64, x >> (y & 63))
    BINOP(I64_ROTL, u64, rotl64(x, y))
    BINOP(I64_ROTR, u64, rotr64(x, y))

    UNOP(F32_ABS, u32, u32, x & 0x7fffffffu)
    UNOP(F32_NEG, u32, u32, x ^ 0x80000000u)
    UNOP(F32_CEIL, f32, f32, isnan(x) ? x + x : __builtin_ceilf(x))
    UNOP(F32_FLOOR, f32, f32, isnan(x) ? x + x : __builtin_floorf(x))
    UNOP(F32_TRUNC, f32, f32, isnan(x) ? x + x : __builtin_truncf(x))
    UNOP(F32_NEAREST, f32, f32, isnan(x) ? x + x : __builtin_rintf(x))
    UNOP(F32_SQRT, f32, f32, __builtin_sqrtf(x))
    BINOP(F32_ADD, f32, x + y)
    BINOP(F32_SUB, f32, x - y)
    BINOP(F32_MUL, f32, x * y)
    BINOP(F32_DIV, f32, x / y)
    BINOP(F32_MIN, f32, f32_min(x, y))
    BINOP(F32_MAX, f32, f32_max(x, y))
    BINOP(F32_COPYSIGN, u32, (x & 0x7fffffffu) | (y & 0x80000000u))
    UNOP(F64_ABS, u64, u64, x & 0x7fffffffffffffffull)
    UNOP(F64_NEG, u64, u64, x ^ 0x8000000000000000ull)
    UNOP(F64_CEIL, f64, f64, isnan(x) ? x + x : __builtin_ceil(x))
    UNOP(F64_FLOOR, f64, f64, isnan(x) ? x + x : __builtin_floor(x))
    UNOP(F64_TRUNC, f64, f64, isnan(x) ? x + x : __builtin_trunc(x))
    UNOP(F64_NEAREST, f64, f64, isnan(x) ? x + x : __builtin_rint(x))
    UNOP(F64_SQRT, f64, f64, __builtin_sqrt(x))
    BINOP(F64_ADD, f64, x + y)
    BINOP(F64_SUB, f64, x - y)
    BINOP(F64_MUL, f64, x * y)
    BINOP(F64_DIV, f64, x / y)
    BINOP(F64_MIN, f64, f64_min(x, y))
    BINOP(F64_MAX, f64, f64_max(x, y))
    BINOP(F64_COPYSIGN, u64, (x & 0x7fffffffffffffffull) | (y & 0x8000000000000000ull))

    UNOP(I32_WRAP_I64, u64, u32, (uint32_t)x)
    TRUNC(I32_TRUNC_F32_S, f32, i32, int32_t, x >= -2147483648.0f, x < 2147483648.0f)
    TRUNC(I32_TRUNC_F32_U, f32, u32, uint32_t, x > -1.0f, x < 4294967296.0f)
    TRUNC(I32_TRUNC_F64_S, f64, i32, int32_t, x > -2147483649.0, x < 2147483648.0)
    TRUNC(I32_TRUNC_F64_U, f64, u32, uint32_t, x > -1.0, x < 4294967296.0)
    UNOP(I64_EXTEND_I32_S, i32, i64, (int64_t)x)
    UNOP(I64_EXTEND_I32_U, u32, u64, (uint64_t)x)
    TRUNC(I64_TRUNC_F32_S, f32, i64, int64_t, x >= -9223372036854775808.0f, x < 9223372036854775808.0f)
    TRUNC(I64_TRUNC_F32_U, f32, u64, uint64_t, x > -1.0f, x < 18446744073709551616.0f)
    TRUNC(I64_TRUNC_F64_S, f64, i64, int64_t, x >= -9223372036854775808.0, x < 9223372036854775808.0)
    TRUNC(I64_TRUNC_F64_U, f64, u64, uint64_t, x > -1.0, x < 18446744073709551616.0)
    UNOP(F32_CONVERT_I32_S, i32, f32, (float)x)
    UNOP(F32_CONVERT_I32_U, u32, f32, (float)x)
    UNOP(F32_CONVERT_I64_S, i64, f32, (float)x)
    UNOP(F32_CONVERT_I64_U, u64, f32, (float)x)
    UNOP(F32_DEMOTE_F64, f64, f32, (float)x)
    UNOP(F64_CONVERT_I32_S, i32, f64, (double)x)
    UNOP(F64_CONVERT_I32_U, u32, f64, (double)x)
    UNOP(F64_CONVERT_I64_S, i64, f64, (double)x)
    UNOP(F64_CONVERT_I64_U, u64, f64, (double)x)
    UNOP(F64_PROMOTE_F32, f32, f64, (double)x)
    UNOP(I32_EXTEND8_S, u32, i32, (int32_t)(int8_t)x)
    UNOP(I32_EXTEND16_S, u32, i32, (int32_t)(int16_t)x)
    UNOP(I64_EXTEND8_S, u64, i64, (int64_t)(int8_t)x)
    UNOP(I64_EXTEND16_S, u64, i64, (int64_t)(int16_t)x)
    UNOP(I64_EXTEND32_S, u64, i64, (int64_t)(int32_t)x)
    TRUNC_SAT(I32_TRUNC_SAT_F32_S, f32, i32, int32_t, x >= -2147483648.0f, x < 2147483648.0f, INT32_MIN, INT32_MAX)
    TRUNC_SAT(I32_TRUNC_SAT_F32_U, f32, u32, uint32_t, x > -1.0f, x < 4294967296.0f, 0, UINT32_MAX)
    TRUNC_SAT(I32_TRUNC_SAT_F64_S, f64, i32, int32_t, x > -2147483649.0, x < 2147483648.0, INT32_MIN, INT32_MAX)
    TRUNC_SAT(I32_TRUNC_SAT_F64_U, f64, u32, uint32_t, x > -1.0, x < 4294967296.0, 0, UINT32_MAX)
    TRUNC_SAT(I64_TRUNC_SAT_F32_S, f32, i64, int64_t, x >= -9223372036854775808.0f, x < 9223372036854775808.0f,
              INT64_MIN, INT64_MAX)
    TRUNC_SAT(I64_TRUNC_SAT_F32_U, f32, u64, uint64_t, x > -1.0f, x < 18446744073709551616.0f, 0, UINT64_MAX)
    TRUNC_SAT(I64_TRUNC_SAT_F64_S, f64, i64, int64_t, x >= -9223372036854775808.0, x < 9223372036854775808.0,
              INT64_MIN, INT64_MAX)
    TRUNC_SAT(I64_TRUNC_SAT_F64_U, f64, u64, uint64_t, x > -1.0, x < 18446744073709551616.0, 0, UINT64_MAX)

L_I32_ADDI:
    SET(fp[F0], u32, fp[F1].u32 + HI);
    SKIP(2);
L_I32_SUBI: /* unused: subtraction is emitted as ADDI of the negation */
    SET(fp[F0], u32, fp[F1].u32 - HI);
    SKIP(2);
L_I32_ANDI:
    SET(fp[F0], u32, fp[F1].u32 & HI);
    SKIP(2);
L_I32_SHLI:
    SET(fp[F0], u32, fp[F1].u32 << HI);
    SKIP(2);
L_I32_SHR_UI:
    SET(fp[F0], u32, fp[F1].u32 >> HI);
    SKIP(2);
L_I32_SHR_SI:
    SET(fp[F0], i32, fp[F1].i32 >> HI);
    SKIP(2);
L_I64_ADDI:
    fp[F0].u64 = fp[F1].u64 + (uint64_t)(int64_t)HIS;
    SKIP(2);

done:
    ex->depth = base_depth;
    return WASM_OK;
interrupted:
    ex->depth = base_depth;
    return WASM_INTERRUPTED;
#define TRAP_LABEL(k) trap_##k: trap_set(trap, k); goto trapped;
    TRAP_LABEL(WASM_TRAP_UNREACHABLE)
    TRAP_LABEL(WASM_TRAP_MEMORY_OOB)
    TRAP_LABEL(WASM_TRAP_TABLE_OOB)
    TRAP_LABEL(WASM_TRAP_DIV_BY_ZERO)
    TRAP_LABEL(WASM_TRAP_INT_OVERFLOW)
    TRAP_LABEL(WASM_TRAP_INVALID_CONVERSION)
    TRAP_LABEL(WASM_TRAP_UNDEFINED_ELEMENT)
    TRAP_LABEL(WASM_TRAP_UNINITIALIZED_ELEMENT)
    TRAP_LABEL(WASM_TRAP_INDIRECT_CALL_MISMATCH)
    TRAP_LABEL(WASM_TRAP_STACK_EXHAUSTED)
trapped:
    set_func_name(trap, cur);
    ex->depth = base_depth;
    return WASM_TRAPPED;
}
