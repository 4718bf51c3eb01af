/*
 * compile.c — validates one function body (spec 3.3, the algorithm of the
 * spec's appendix "validation algorithm") and, in the same pass, translates
 * it into the interpreter's cell stream.
 *
 * The operand stack is virtual: each entry says where its value lives — in
 * its own stack slot, in a local (a deferred local.get) or in the constant
 * area (a deferred const). Consumers read those slots directly, so local.get
 * and consts cost nothing at run time. Invariants that keep this correct:
 *  - before a local is written, stack entries aliasing it are copied out;
 *  - at every control-flow join (block/loop/if entry, else, end, branch) the
 *    entries involved are "materialized" into their canonical stack slots.
 * A local.set right after a foldable instruction rewrites that
 * instruction's destination instead of emitting a copy; an i32 compare right
 * before br_if/if fuses into one compare-and-branch.
 *
 * Slot numbers are 16-bit. While compiling, consts are 0x8000+c and stack
 * slots 0xC000+h; the final layout [locals][consts][stack] is known only at
 * the end, so every such field is recorded and fixed up then.
 */
#include <stdio.h>
#include <stdlib.h>

#include "wasm/ops.h"
#include "wasm/reader.h"
#include "wasm/wasm_internal.h"

#define CONST_BASE 0x8000u
#define STACK_BASE 0xC000u
/* Distinct constants tracked while compiling; only those some instruction
 * reads from a slot survive into the frame's const area (see the end of
 * wasm_compile_func), the rest were folded into immediates. */
#define POOL_MAX 256u

/* Where an operand's value lives: its own stack slot, a local, the const
 * area, or (E_ADDI) nowhere yet: it is `slot + imm` (i32 wrap-around), an
 * address computation kept lazy so a load/store can absorb it. An E_ADDI's
 * source is a local, a constant or the entry's own stack slot. */
enum { E_STACK, E_LOCAL, E_CONST, E_ADDI };

typedef struct ventry {
    uint8_t type;
    uint8_t kind;
    uint16_t slot;
    uint64_t val; /* E_CONST; E_ADDI: the immediate */
} ventry_t;

enum { K_BLOCK, K_LOOP, K_IF, K_ELSE, K_FUNC };

typedef struct patch {
    uint32_t cell, start;
    uint8_t hi; /* rel in the high 32 bits of cell */
} patch_t;

typedef struct ctrl {
    uint8_t kind;
    bool unreachable; /* validation: stack polymorphic after br/return/... */
    bool dead;        /* emission: an enclosing frame is unreachable */
    uint32_t height;
    uint32_t nparams, nresults;
    const wasm_valtype_t *params, *results;
    wasm_valtype_t single;
    uint32_t start;     /* loop: target cell */
    bool has_else_patch;
    patch_t else_patch; /* if: the jump to the else arm */
    patch_t *patches;
    uint32_t npatches, cappatches;
} ctrl_t;

typedef struct comp {
    reader_t r;
    wasm_module_t *m;
    wcode_t *out;
    wasm_valtype_t *locals;
    uint32_t nlocals;

    ventry_t *stk;
    uint32_t h, caph, maxh;

    ctrl_t *ctl;
    uint32_t nctl, capctl;

    cell_t *code;
    uint32_t ncode, capcode;
    uint32_t *fix; /* cell*4 + field */
    uint32_t nfix, capfix;

    uint64_t consts[POOL_MAX];
    uint32_t nconsts;

    const void *const *handlers;
    bool plain; /* m->plain: no deferral, folding or fusion (test oracle) */
    /* Outside every loop, code runs at most once and after all code before
     * it in the text (branches there only go forward), so a declared local
     * no instruction so far writes still holds its zero: clang's
     * "local.set x (i32.const 0)" can be dropped. straight is false for the
     * plain translation. */
    bool straight;
    uint32_t loops_open;
    bool *written;
    uint32_t mov_at;    /* start of the last MOV emitted (UINT32_MAX: none) */
    uint32_t label_pos; /* last code position some branch targets */
    bool fold_ok;
    uint32_t fold_start, fold_end;
    int fold_op;
    /* The foldable instruction before the last one (for fusing a pair
     * with the instruction that follows them). */
    uint32_t prev_start, prev_end;
    int prev_op;
    bool oom;
} comp_t;

/* ---- errors ---- */

static bool invalid(comp_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool invalid(comp_t *c, const char *fmt, ...) {
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return rd_fail(&c->r, WASM_LOAD_INVALID, "%s", msg);
}

static bool nomem(comp_t *c) { return rd_fail(&c->r, WASM_LOAD_NOMEM, "out of memory"); }

static bool grow(void **p, uint32_t *cap, uint32_t need, size_t size) {
    if (need <= *cap)
        return true;
    uint32_t n = *cap ? *cap * 2 : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, (size_t)n * size);
    if (!q)
        return false;
    *p = q;
    *cap = n;
    return true;
}

/* ---- emission ---- */

static inline bool reachable(comp_t *c) {
    const ctrl_t *f = &c->ctl[c->nctl - 1];
    return !f->unreachable && !f->dead;
}

static uint32_t emit_raw(comp_t *c, uint64_t v) {
    if (c->ncode + 1 > c->capcode && !grow((void **)&c->code, &c->capcode, c->ncode + 1, sizeof(cell_t))) {
        c->oom = true;
        return c->ncode;
    }
    c->code[c->ncode].u = v;
    return c->ncode++;
}

static uint32_t emit_op(comp_t *c, int op) { return emit_raw(c, (uint64_t)(uintptr_t)c->handlers[op]); }

/* One cell with up to 4 slot fields (n of them), or 2 slot fields + hi32. */
static uint32_t emit_slots(comp_t *c, unsigned n, const uint16_t *s, uint32_t hi) {
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)s[i] << (16 * i);
    if (n <= 2)
        v |= (uint64_t)hi << 32;
    uint32_t at = emit_raw(c, v);
    for (unsigned i = 0; i < n; i++) {
        if (s[i] >= CONST_BASE) {
            if (!grow((void **)&c->fix, &c->capfix, c->nfix + 1, sizeof(uint32_t))) {
                c->oom = true;
                return at;
            }
            c->fix[c->nfix++] = at * 4 + i;
        }
    }
    return at;
}

static uint32_t emit1(comp_t *c, int op, uint16_t a) {
    uint32_t st = emit_op(c, op);
    emit_slots(c, 1, &a, 0);
    return st;
}
static uint32_t emit1h(comp_t *c, int op, uint16_t a, uint32_t hi) {
    uint32_t st = emit_op(c, op);
    emit_slots(c, 1, &a, hi);
    return st;
}
static uint32_t emit2(comp_t *c, int op, uint16_t a, uint16_t b, uint32_t hi) {
    uint32_t st = emit_op(c, op);
    uint16_t s[2] = {a, b};
    emit_slots(c, 2, s, hi);
    return st;
}
static uint32_t emit3(comp_t *c, int op, uint16_t a, uint16_t b, uint16_t d) {
    uint32_t st = emit_op(c, op);
    uint16_t s[3] = {a, b, d};
    emit_slots(c, 3, s, 0);
    return st;
}
static uint32_t emit4(comp_t *c, int op, uint16_t a, uint16_t b, uint16_t d, uint16_t e) {
    uint32_t st = emit_op(c, op);
    uint16_t s[4] = {a, b, d, e};
    emit_slots(c, 4, s, 0);
    return st;
}

static void truncate_code(comp_t *c, uint32_t to);

/* Copies merge pairwise into MOV2 (block results, call arguments and
 * rotated loop variables come in runs), unless a label sits between. */
static void emit_mov(comp_t *c, uint16_t d, uint16_t a) {
    if (!c->plain && c->mov_at != UINT32_MAX && c->mov_at + 2 == c->ncode && c->label_pos != c->ncode) {
        uint64_t w = c->code[c->mov_at + 1].u;
        truncate_code(c, c->mov_at);
        emit4(c, OP_MOV2, (uint16_t)w, (uint16_t)(w >> 16), d, a);
        c->mov_at = UINT32_MAX;
        return;
    }
    c->mov_at = emit2(c, OP_MOV, d, a, 0);
}

static void truncate_code(comp_t *c, uint32_t to) {
    c->ncode = to;
    if (c->mov_at != UINT32_MAX && c->mov_at >= to)
        c->mov_at = UINT32_MAX;
    while (c->nfix && c->fix[c->nfix - 1] / 4 >= to)
        c->nfix--;
}

static inline uint16_t stack_slot(uint32_t h) { return (uint16_t)(STACK_BASE + h); }

/* ---- virtual stack ---- */

static bool push_e(comp_t *c, ventry_t e) {
    if (c->h >= LIM_STACK)
        return rd_fail(&c->r, WASM_LOAD_TOO_LARGE, "operand stack deeper than the engine limit %u", LIM_STACK);
    if (!grow((void **)&c->stk, &c->caph, c->h + 1, sizeof(ventry_t)))
        return nomem(c);
    c->stk[c->h++] = e;
    if (c->h > c->maxh)
        c->maxh = c->h;
    return true;
}

static bool push(comp_t *c, uint8_t type) {
    ventry_t e = {.type = type, .kind = E_STACK, .slot = stack_slot(c->h)};
    return push_e(c, e);
}

/* Pushes the result of the foldable instruction that started at `start`. */
static bool push_result(comp_t *c, uint8_t type, uint32_t start, int op) {
    if (!push(c, type))
        return false;
    c->prev_start = c->fold_start;
    c->prev_end = c->fold_end;
    c->prev_op = c->fold_op;
    c->fold_ok = true;
    c->fold_start = start;
    c->fold_end = c->ncode;
    c->fold_op = op;
    return true;
}

/* Whether the last emitted instruction is foldable and wrote `slot` (the
 * value just popped): only then may it be rewritten or fused. */
static bool fold_matches(comp_t *c, uint16_t slot) {
    return !c->plain && c->fold_ok && c->ncode == c->fold_end && (uint16_t)(c->code[c->fold_start + 1].u & 0xffff) == slot;
}

/* Rewrites the destination of the foldable instruction just emitted (see
 * fold_matches) to `slot`. Its handler reads all operands before writing,
 * so the new destination may be one of them. */
static void retarget_fold(comp_t *c, uint16_t slot) {
    cell_t *cl = &c->code[c->fold_start + 1];
    cl->u = (cl->u & ~(uint64_t)0xffff) | slot;
    for (uint32_t k = c->nfix; k-- > 0;) {
        if (c->fix[k] == (c->fold_start + 1) * 4) {
            /* keep the list sorted: truncate_code relies on it */
            memmove(&c->fix[k], &c->fix[k + 1], (c->nfix - k - 1) * sizeof(uint32_t));
            c->nfix--;
            break;
        }
        if (c->fix[k] / 4 < c->fold_start)
            break;
    }
    c->fold_ok = false;
}

static const char *tname(uint8_t t) {
    switch (t) {
    case WASM_I32: return "i32";
    case WASM_I64: return "i64";
    case WASM_F32: return "f32";
    case WASM_F64: return "f64";
    case WASM_FUNCREF: return "funcref";
    case WASM_EXTERNREF: return "externref";
    }
    return "any";
}

/* Pops without materializing (the caller handles every entry kind). */
static bool pop_raw(comp_t *c, uint8_t want, ventry_t *out) {
    ctrl_t *f = &c->ctl[c->nctl - 1];
    if (c->h == f->height) {
        if (f->unreachable) {
            *out = (ventry_t){.type = VT_ANY, .kind = E_STACK, .slot = stack_slot(c->h)};
            return true;
        }
        return invalid(c, "type mismatch: expected %s but the stack is empty", tname(want));
    }
    ventry_t e = c->stk[--c->h];
    if (want != VT_ANY && e.type != VT_ANY && e.type != want)
        return invalid(c, "type mismatch: expected %s, got %s", tname(want), tname(e.type));
    *out = e;
    return true;
}

static void materialize(comp_t *c, uint32_t k);

/* Pops an operand whose value must be in a slot (an E_ADDI is computed into
 * its stack slot now; that instruction stays foldable into a local.set). */
static bool pop_e(comp_t *c, uint8_t want, ventry_t *out) {
    if (!pop_raw(c, want, out))
        return false;
    if (out->kind == E_ADDI) {
        uint32_t start = c->ncode;
        materialize(c, c->h);
        *out = c->stk[c->h];
        if (reachable(c)) {
            c->fold_ok = true;
            c->fold_start = start;
            c->fold_end = c->ncode;
            c->fold_op = OP_I32_ADDI;
        }
    }
    return true;
}

static bool pop(comp_t *c, uint8_t want) {
    ventry_t e;
    return pop_raw(c, want, &e);
}

/* Copies entry k into its canonical stack slot if it lives elsewhere. */
static void materialize(comp_t *c, uint32_t k) {
    ventry_t *e = &c->stk[k];
    if (e->kind == E_STACK)
        return;
    if (reachable(c)) {
        if (e->kind == E_ADDI)
            emit2(c, OP_I32_ADDI, stack_slot(k), e->slot, (uint32_t)e->val);
        else
            emit_mov(c, stack_slot(k), e->slot);
    }
    e->kind = E_STACK;
    e->slot = stack_slot(k);
}

static void materialize_from(comp_t *c, uint32_t from) {
    for (uint32_t k = from; k < c->h; k++)
        materialize(c, k);
}

static void materialize_local(comp_t *c, uint32_t local) {
    for (uint32_t k = 0; k < c->h; k++)
        if ((c->stk[k].kind == E_LOCAL || c->stk[k].kind == E_ADDI) && c->stk[k].slot == local)
            materialize(c, k);
}

/* Computes lazy addresses among the top n entries (before a branch reads
 * their slots). */
static void settle(comp_t *c, uint32_t n) {
    ctrl_t *f = &c->ctl[c->nctl - 1];
    for (uint32_t k = c->h - n; k < c->h; k++)
        if (k >= f->height && c->stk[k].kind == E_ADDI)
            materialize(c, k);
}

/* The const-area slot holding bits, added to the pool if missing; false
 * when the pool is full. */
static bool const_slot(comp_t *c, uint64_t bits, uint16_t *slot) {
    uint32_t i;
    for (i = 0; i < c->nconsts; i++)
        if (c->consts[i] == bits)
            break;
    if (i == c->nconsts) {
        if (c->nconsts == POOL_MAX)
            return false;
        c->consts[c->nconsts++] = bits;
    }
    *slot = (uint16_t)(CONST_BASE + i);
    return true;
}

static bool push_const(comp_t *c, uint8_t type, uint64_t bits) {
    if (!reachable(c))
        return push(c, type);
    uint16_t slot;
    if (const_slot(c, bits, &slot) && !c->plain) {
        ventry_t e = {.type = type, .kind = E_CONST, .slot = slot, .val = bits};
        return push_e(c, e);
    }
    uint32_t st = emit1(c, OP_CONST, stack_slot(c->h));
    emit_raw(c, bits);
    return push_result(c, type, st, OP_CONST);
}

/* ---- control frames ---- */

static bool push_ctrl(comp_t *c, uint8_t kind, uint32_t np, const wasm_valtype_t *p, uint32_t nr,
                      const wasm_valtype_t *r, wasm_valtype_t single) {
    if (c->nctl >= LIM_NESTING)
        return rd_fail(&c->r, WASM_LOAD_TOO_LARGE, "blocks nested deeper than the engine limit %u", LIM_NESTING);
    uint32_t oldcap = c->capctl;
    if (!grow((void **)&c->ctl, &c->capctl, c->nctl + 1, sizeof(ctrl_t)))
        return nomem(c);
    if (c->capctl > oldcap)
        memset(c->ctl + oldcap, 0, (c->capctl - oldcap) * sizeof(ctrl_t));
    ctrl_t *f = &c->ctl[c->nctl];
    bool dead = c->nctl ? (c->ctl[c->nctl - 1].unreachable || c->ctl[c->nctl - 1].dead) : false;
    f->kind = kind;
    f->unreachable = false;
    f->dead = dead;
    f->single = single;
    f->nparams = np;
    f->nresults = nr;
    f->params = p;
    f->results = r;
    f->height = c->h - np;
    f->start = c->ncode;
    c->label_pos = c->ncode;
    f->has_else_patch = false;
    f->npatches = 0;
    c->nctl++;
    return true;
}

static void set_unreachable(comp_t *c) {
    ctrl_t *f = &c->ctl[c->nctl - 1];
    c->h = f->height;
    f->unreachable = true;
}

static void patch_at(comp_t *c, patch_t p, uint32_t target) {
    if (target == c->ncode)
        c->label_pos = target;
    int64_t rel = (int64_t)target - (int64_t)p.start;
    if (p.hi)
        c->code[p.cell].u = (c->code[p.cell].u & 0xffffffffu) | ((uint64_t)(uint32_t)(int32_t)rel << 32);
    else
        c->code[p.cell].i = rel;
}

static bool add_patch(comp_t *c, ctrl_t *f, patch_t p) {
    if (!grow((void **)&f->patches, &f->cappatches, f->npatches + 1, sizeof(patch_t)))
        return nomem(c);
    f->patches[f->npatches++] = p;
    return true;
}

static inline uint32_t label_arity(const ctrl_t *f) { return f->kind == K_LOOP ? f->nparams : f->nresults; }
static inline const wasm_valtype_t *label_types(const ctrl_t *f) {
    return f->kind == K_LOOP ? f->params : f->results;
}

/* Type-checks the top of stack against a label's types without popping. */
static bool check_label(comp_t *c, const ctrl_t *t) {
    uint32_t n = label_arity(t);
    const wasm_valtype_t *ty = label_types(t);
    ctrl_t *f = &c->ctl[c->nctl - 1];
    for (uint32_t i = 0; i < n; i++) {
        uint8_t want = ty[n - 1 - i];
        if (c->h - f->height <= i) {
            if (f->unreachable)
                continue;
            return invalid(c, "type mismatch: branch needs %u values", n);
        }
        uint8_t got = c->stk[c->h - 1 - i].type;
        if (got != VT_ANY && got != want)
            return invalid(c, "type mismatch in branch: expected %s, got %s", tname(want), tname(got));
    }
    return true;
}

/* Whether moving the label's values into place needs any copy. */
static bool needs_moves(comp_t *c, const ctrl_t *t) {
    uint32_t n = label_arity(t);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = c->h - n + i;
        if (c->stk[k].slot != stack_slot(t->height + i))
            return true;
    }
    return false;
}

static void emit_moves(comp_t *c, const ctrl_t *t) {
    uint32_t n = label_arity(t);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = c->h - n + i;
        uint16_t dst = stack_slot(t->height + i);
        if (c->stk[k].slot != dst)
            emit_mov(c, dst, c->stk[k].slot);
    }
}

static void emit_return(comp_t *c) {
    uint32_t n = c->out->nresults;
    settle(c, n);
    if (n == 0) {
        emit_op(c, OP_RETURN0);
    } else if (n == 1) {
        ventry_t *v = &c->stk[c->h - 1];
        if (v->kind == E_STACK && fold_matches(c, v->slot)) {
            /* the value just computed goes straight to the result slot
             * fp[0]: the locals die with the frame */
            retarget_fold(c, 0);
            emit_op(c, OP_RETURN0);
        } else {
            emit1(c, OP_RETURN1, v->slot);
        }
    } else {
        materialize_from(c, c->h - n);
        emit1h(c, OP_RETURN, stack_slot(c->h - n), n);
    }
}

/* A forward jump to the end of t, patched there. The copy just emitted,
 * if any, rides along as one MOV_BR (a value assigned on the way out of a
 * branch arm: "local.set x; br" and block results): the MOV's cell has its
 * high half free for the relative target. Not when a label sits between
 * the two, since a branch landing on the jump must not do the copy. */
static bool emit_forward_jump(comp_t *c, ctrl_t *t) {
    if (!c->plain && c->mov_at != UINT32_MAX && c->mov_at + 2 == c->ncode && c->label_pos != c->ncode) {
        uint32_t st = c->mov_at;
        c->code[st].h = c->handlers[OP_MOV_BR];
        c->mov_at = UINT32_MAX;
        return add_patch(c, t, (patch_t){st + 1, st, 1});
    }
    uint32_t st = emit_op(c, OP_BR);
    uint32_t cell = emit_raw(c, 0);
    return add_patch(c, t, (patch_t){cell, st, 0});
}

/* Unconditional jump to label t (values already in place). */
static bool emit_jump(comp_t *c, ctrl_t *t) {
    if (t->kind == K_LOOP) {
        uint32_t st = emit_op(c, OP_BR_LOOP);
        emit_raw(c, (uint64_t)((int64_t)t->start - (int64_t)st));
        return true;
    }
    return emit_forward_jump(c, t);
}

static int invert_cmp(int op) {
    switch (op) {
    case OP_I32_EQ: return OP_I32_NE;
    case OP_I32_NE: return OP_I32_EQ;
    case OP_I32_LT_S: return OP_I32_GE_S;
    case OP_I32_LT_U: return OP_I32_GE_U;
    case OP_I32_GT_S: return OP_I32_LE_S;
    case OP_I32_GT_U: return OP_I32_LE_U;
    case OP_I32_LE_S: return OP_I32_GT_S;
    case OP_I32_LE_U: return OP_I32_GT_U;
    case OP_I32_GE_S: return OP_I32_LT_S;
    case OP_I32_GE_U: return OP_I32_LT_U;
    }
    return -1;
}

/* The loop-increment shape: an I32_ADDI whose result the compare just
 * after it takes as left operand (i = i + k; i < n; br_if) becomes one
 * ADDI_BR(I)_<cmp> that still writes the sum, then compares and branches:
 * one dispatch and no reload of the sum. The compare is fold_*, the add
 * prev_*; no branch may land between them. Emits at *st (the relative
 * target goes in the high half of the cell at *st + 2). */
static bool addi_cmp_branch(comp_t *c, int cmp, uint16_t x, uint16_t y, uint32_t *st) {
    if (c->prev_op != OP_I32_ADDI || c->prev_end != c->fold_start || c->label_pos == c->fold_start ||
        c->code[c->prev_start].h != c->handlers[OP_I32_ADDI])
        return false;
    uint64_t w = c->code[c->prev_start + 1].u;
    uint16_t d = (uint16_t)w, src = (uint16_t)(w >> 16);
    uint32_t imm = (uint32_t)(w >> 32);
    if (d != x)
        return false;
    bool small = false;
    uint32_t v = 0;
    if (y >= CONST_BASE && y < STACK_BASE) {
        v = (uint32_t)c->consts[y - CONST_BASE];
        small = (uint32_t)(int32_t)(int16_t)v == v;
    }
    truncate_code(c, c->prev_start);
    c->fold_ok = false;
    if (small) {
        /* imm16 rides in the third slot field, unrecorded */
        uint16_t s[2] = {d, src};
        *st = emit_op(c, OP_ADDI_BRI_I32_EQ + (cmp - OP_I32_EQ));
        emit_slots(c, 2, s, v & 0xffff);
    } else {
        *st = emit3(c, OP_ADDI_BR_I32_EQ + (cmp - OP_I32_EQ), d, src, y);
    }
    emit_raw(c, imm);
    return true;
}

/* Whether the foldable instruction before the last one is `op`, runs
 * right before it (adjacent, no label between) and wrote x: then the two
 * may become one instruction that still writes x. */
static bool prev_wrote(comp_t *c, int op, uint16_t x) {
    return c->prev_op == op && c->prev_end == c->fold_start && c->label_pos != c->fold_start &&
           c->code[c->prev_start].h == c->handlers[op] && (uint16_t)c->code[c->prev_start + 1].u == x;
}

/* The byte-scan shape: an i32.load8_u (plain or wrapping-address form) at
 * `at`, the last code but for a compare dropped with it, whose byte is
 * tested against v (c == '"', c != '\\', br_if on the byte itself)
 * becomes one LD8U(W)_BRI_<EQ|NE>: load (trapping as the load would),
 * write the byte to the load's destination, compare, branch. Cells:
 * d, addr, imm16; off32 | rel32. */
static patch_t emit_load8_branch(comp_t *c, uint32_t at, bool eq, uint32_t v) {
    uint64_t w = c->code[at + 1].u;
    bool wrap = c->code[at].h == c->handlers[OP_I32_LOAD8_UW];
    uint16_t s[2] = {(uint16_t)w, (uint16_t)(w >> 16)};
    truncate_code(c, at);
    c->fold_ok = false;
    int op = wrap ? (eq ? OP_LD8UW_BRI_EQ : OP_LD8UW_BRI_NE) : (eq ? OP_LD8U_BRI_EQ : OP_LD8U_BRI_NE);
    uint32_t st = emit_op(c, op);
    emit_slots(c, 2, s, v & 0xffff); /* imm16 in the third field, unrecorded */
    emit_raw(c, (uint32_t)(w >> 32));
    return (patch_t){st + 2, st, 1};
}

/* The flag-test shape: the I32_ANDI at `at` (x & m), the last code but for
 * an eqz dropped with it, whose result a branch tests for zero or not,
 * becomes one BR_ANDI_<Z|NZ> that still writes x & m (it may be a local's
 * value, from local.tee). Cells: d, x, imm32; rel. */
static patch_t emit_andi_branch(comp_t *c, uint32_t at, bool zero) {
    uint64_t w = c->code[at + 1].u;
    truncate_code(c, at);
    c->fold_ok = false;
    uint32_t st = emit2(c, zero ? OP_BR_ANDI_Z : OP_BR_ANDI_NZ, (uint16_t)w, (uint16_t)(w >> 16), (uint32_t)(w >> 32));
    emit_raw(c, 0);
    return (patch_t){st + 2, st, 0};
}

/* The bounds-loop shape: an i32.load (plain address form) at prev_*
 * whose value the compare just after it takes as either operand
 * (p < j->end, with j->end loaded right before) becomes one LD_BR_<cmp>:
 * load (trapping as the load would), write the loaded value, compare the
 * other operand with it, branch. Cells: d, addr, other; off32 | rel32. */
static bool load_cmp_branch(comp_t *c, int cmp, uint16_t a, uint16_t b, uint32_t *st) {
    /* the compare with its operands swapped (x < y is y > x) */
    static const int8_t mirror[] = {0, 1, 4, 5, 2, 3, 8, 9, 6, 7};
    uint16_t other;
    if (prev_wrote(c, OP_I32_LOAD, b)) {
        other = a;
    } else if (prev_wrote(c, OP_I32_LOAD, a)) {
        other = b;
        cmp = OP_I32_EQ + mirror[cmp - OP_I32_EQ];
    } else {
        return false;
    }
    uint64_t w = c->code[c->prev_start + 1].u;
    truncate_code(c, c->prev_start);
    c->fold_ok = false;
    *st = emit3(c, OP_LD_BR_I32_EQ + (cmp - OP_I32_EQ), (uint16_t)w, (uint16_t)(w >> 16), other);
    emit_raw(c, (uint32_t)(w >> 32));
    return true;
}

/* Emits "branch if cond is (true ? non-zero : zero)" for the popped entry
 * cond; returns the patch site for the relative target. Fuses with an i32
 * compare/eqz emitted just before. `loop` selects the interrupt-checking
 * variant when there is no fusion (fused ops check on backward jumps). */
static patch_t emit_condbr(comp_t *c, ventry_t cond, bool when_true, bool loop) {
    if (cond.kind == E_STACK && fold_matches(c, cond.slot)) {
        int op = c->fold_op;
        uint64_t w = c->code[c->fold_start + 1].u;
        uint16_t a = (uint16_t)(w >> 16), b = (uint16_t)(w >> 32);
        if (op == OP_I32_LOAD8_U || op == OP_I32_LOAD8_UW)
            return emit_load8_branch(c, c->fold_start, !when_true, 0);
        if (op == OP_I32_ANDI)
            return emit_andi_branch(c, c->fold_start, !when_true);
        if (op == OP_I32_EQZ) {
            if (prev_wrote(c, OP_I32_LOAD8_U, a) || prev_wrote(c, OP_I32_LOAD8_UW, a))
                return emit_load8_branch(c, c->prev_start, when_true, 0);
            if (prev_wrote(c, OP_I32_ANDI, a))
                return emit_andi_branch(c, c->prev_start, when_true);
            truncate_code(c, c->fold_start);
            uint32_t st = emit2(c, when_true ? OP_BR_I32_EQZ : OP_BR_I32_NEZ, a, 0, 0);
            c->fold_ok = false;
            return (patch_t){st + 1, st, 1};
        }
        if (op >= OP_I32_EQ && op <= OP_I32_GE_U) {
            int cmp = when_true ? op : invert_cmp(op);
            uint32_t fst;
            if (addi_cmp_branch(c, cmp, a, b, &fst) || load_cmp_branch(c, cmp, a, b, &fst))
                return (patch_t){fst + 2, fst, 1};
            if (b >= CONST_BASE && b < STACK_BASE) {
                uint32_t v = (uint32_t)c->consts[b - CONST_BASE];
                if ((uint32_t)(int32_t)(int16_t)v == v) {
                    bool eqne = cmp == OP_I32_EQ || cmp == OP_I32_NE;
                    if (eqne && (prev_wrote(c, OP_I32_LOAD8_U, a) || prev_wrote(c, OP_I32_LOAD8_UW, a)))
                        return emit_load8_branch(c, c->prev_start, cmp == OP_I32_EQ, v);
                    if (eqne && v == 0 && prev_wrote(c, OP_I32_ANDI, a))
                        return emit_andi_branch(c, c->prev_start, cmp == OP_I32_EQ);
                    truncate_code(c, c->fold_start);
                    if (v == 0 && (cmp == OP_I32_EQ || cmp == OP_I32_NE)) {
                        uint32_t st = emit2(c, cmp == OP_I32_EQ ? OP_BR_I32_EQZ : OP_BR_I32_NEZ, a, 0, 0);
                        c->fold_ok = false;
                        return (patch_t){st + 1, st, 1};
                    }
                    /* imm16 rides in the second slot field, unrecorded */
                    uint32_t st = emit_op(c, OP_BRI_I32_EQ + (cmp - OP_I32_EQ));
                    emit_slots(c, 1, &a, 0);
                    c->code[st + 1].u |= (uint64_t)(v & 0xffff) << 16;
                    c->fold_ok = false;
                    return (patch_t){st + 1, st, 1};
                }
            }
            truncate_code(c, c->fold_start);
            uint32_t st = emit2(c, OP_BR_I32_EQ + (cmp - OP_I32_EQ), a, b, 0);
            c->fold_ok = false;
            return (patch_t){st + 1, st, 1};
        }
    }
    int op = when_true ? (loop ? OP_BR_IF_LOOP : OP_BR_IF) : OP_BR_IFNOT;
    uint32_t st = emit1h(c, op, cond.slot, 0);
    return (patch_t){st + 1, st, 1};
}

static bool branch_to(comp_t *c, uint32_t depth) {
    ctrl_t *t = &c->ctl[c->nctl - 1 - depth];
    if (t->kind == K_FUNC) {
        emit_return(c);
        return true;
    }
    emit_moves(c, t);
    return emit_jump(c, t);
}

/* Pops n values of the given types and pushes them back typed (block
 * params, br_if values). On a polymorphic stack missing values are
 * invented; nothing is emitted there, so fresh entries are fine. */
static bool repush(comp_t *c, uint32_t n, const wasm_valtype_t *ty) {
    uint32_t h0 = c->h;
    for (uint32_t i = n; i-- > 0;)
        if (!pop(c, ty[i]))
            return false;
    uint32_t h1 = c->h;
    if (h0 - h1 < n) {
        for (uint32_t i = 0; i < n; i++)
            if (!push(c, ty[i]))
                return false;
        return true;
    }
    c->h = h0;
    for (uint32_t i = 0; i < n; i++)
        c->stk[h1 + i].type = ty[i];
    return true;
}

static const wasm_valtype_t *single_of(wasm_valtype_t t) {
    static const wasm_valtype_t singles[] = {WASM_I32, WASM_I64, WASM_F32, WASM_F64, WASM_FUNCREF, WASM_EXTERNREF};
    for (int i = 0; i < 6; i++)
        if (singles[i] == t)
            return &singles[i];
    return &singles[0];
}

/* ---- block types ---- */

static bool read_blocktype(comp_t *c, uint32_t *np, const wasm_valtype_t **p, uint32_t *nr,
                           const wasm_valtype_t **r, wasm_valtype_t *single) {
    int64_t bt;
    if (c->r.p < c->r.end && *c->r.p == 0x40) {
        c->r.p++;
        *np = *nr = 0;
        return true;
    }
    if (c->r.p < c->r.end && (*c->r.p >= 0x6f && *c->r.p <= 0x7f) && (*c->r.p & 0x40)) {
        wasm_valtype_t t;
        if (!rd_valtype(&c->r, &t))
            return false;
        *np = 0;
        *nr = 1;
        *single = t;
        *r = single_of(t);
        return true;
    }
    if (!rd_s33(&c->r, &bt))
        return false;
    if (bt < 0)
        return rd_fail(&c->r, WASM_LOAD_MALFORMED, "malformed block type");
    if ((uint64_t)bt >= c->m->ntypes)
        return invalid(c, "unknown type %lld", (long long)bt);
    const wasm_functype_t *ft = &c->m->types[bt];
    *np = ft->nparams;
    *p = ft->params;
    *nr = ft->nresults;
    *r = ft->results;
    return true;
}

/* ---- numeric op tables ---- */

static const uint8_t conv_types[][2] = {
    /* a7 */ {WASM_I64, WASM_I32},
    {WASM_F32, WASM_I32}, {WASM_F32, WASM_I32}, {WASM_F64, WASM_I32}, {WASM_F64, WASM_I32},
    {WASM_I32, WASM_I64}, {WASM_I32, WASM_I64},
    {WASM_F32, WASM_I64}, {WASM_F32, WASM_I64}, {WASM_F64, WASM_I64}, {WASM_F64, WASM_I64},
    {WASM_I32, WASM_F32}, {WASM_I32, WASM_F32}, {WASM_I64, WASM_F32}, {WASM_I64, WASM_F32}, {WASM_F64, WASM_F32},
    {WASM_I32, WASM_F64}, {WASM_I32, WASM_F64}, {WASM_I64, WASM_F64}, {WASM_I64, WASM_F64}, {WASM_F32, WASM_F64},
    /* bc */ {WASM_F32, WASM_I32}, {WASM_F64, WASM_I64}, {WASM_I32, WASM_F32}, {WASM_I64, WASM_F64},
    /* c0 */ {WASM_I32, WASM_I32}, {WASM_I32, WASM_I32}, {WASM_I64, WASM_I64}, {WASM_I64, WASM_I64},
    {WASM_I64, WASM_I64},
};

/* Classifies a numeric opcode 0x45..0xc4: sets operand count, types, op. */
static bool numeric(uint8_t opc, int *nin, uint8_t *tin, uint8_t *tout, int *op) {
    if (opc < 0x45 || opc > 0xc4)
        return false;
    if (opc <= 0xbb)
        *op = OP_I32_EQZ + (opc - 0x45);
    else if (opc <= 0xbf)
        *op = OP_MOV;
    else
        *op = OP_I32_EXTEND8_S + (opc - 0xc0);
    if (opc == 0x45) { *nin = 1; *tin = WASM_I32; *tout = WASM_I32; }
    else if (opc <= 0x4f) { *nin = 2; *tin = WASM_I32; *tout = WASM_I32; }
    else if (opc == 0x50) { *nin = 1; *tin = WASM_I64; *tout = WASM_I32; }
    else if (opc <= 0x5a) { *nin = 2; *tin = WASM_I64; *tout = WASM_I32; }
    else if (opc <= 0x60) { *nin = 2; *tin = WASM_F32; *tout = WASM_I32; }
    else if (opc <= 0x66) { *nin = 2; *tin = WASM_F64; *tout = WASM_I32; }
    else if (opc <= 0x69) { *nin = 1; *tin = *tout = WASM_I32; }
    else if (opc <= 0x78) { *nin = 2; *tin = *tout = WASM_I32; }
    else if (opc <= 0x7b) { *nin = 1; *tin = *tout = WASM_I64; }
    else if (opc <= 0x8a) { *nin = 2; *tin = *tout = WASM_I64; }
    else if (opc <= 0x91) { *nin = 1; *tin = *tout = WASM_F32; }
    else if (opc <= 0x98) { *nin = 2; *tin = *tout = WASM_F32; }
    else if (opc <= 0x9f) { *nin = 1; *tin = *tout = WASM_F64; }
    else if (opc <= 0xa6) { *nin = 2; *tin = *tout = WASM_F64; }
    else {
        *nin = 1;
        *tin = conv_types[opc - 0xa7][0];
        *tout = conv_types[opc - 0xa7][1];
    }
    return true;
}

/* ---- chained binops (ops.h, WASM_CHAINS) ---- */

/* Index of an i32 binop in WASM_CHAIN_FIRSTS, or -1. */
static int chain_first_index(int op) {
    switch (op) {
    case OP_I32_ADD: return 0;
    case OP_I32_SUB: return 1;
    case OP_I32_MUL: return 2;
    case OP_I32_AND: return 3;
    case OP_I32_OR: return 4;
    case OP_I32_XOR: return 5;
    case OP_I32_SHL: return 6;
    case OP_I32_SHR_S: return 7;
    case OP_I32_SHR_U: return 8;
    case OP_I32_ROTL: return 9;
    case OP_I32_ROTR: return 10;
    }
    return -1;
}

/* Index of an i32 binop among the chains' second operations, or -1. */
static int chain_second_index(int op) {
    switch (op) {
    case OP_I32_ADD: return 0;
    case OP_I32_SUB: return 1;
    case OP_I32_AND: return 2;
    case OP_I32_OR: return 3;
    case OP_I32_XOR: return 4;
    }
    return -1;
}


/* An i32 binop `op` (operands a, b; result to d) one of whose operands is
 * the temporary the instruction just emitted wrote becomes one chained
 * instruction d = (x first y) op z, replacing that instruction. The
 * temporary is read by no one else (wasm has no dup), so it need not be
 * stored: this saves a dispatch and a store-to-load round trip on the
 * dependency chains of hashing and bit manipulation. The first operation
 * may be an immediate form, whose immediate moves to the const area. The
 * temporary must be the left operand, or either for commutative ops.
 * Returns the chained op (emitted at *st), or -1 when op does not chain. */
static int chain_binop(comp_t *c, int op, ventry_t a, ventry_t b, uint16_t d, uint32_t *st) {
    int second = chain_second_index(op);
    if (second < 0)
        return -1;
    const ventry_t *other;
    if (a.kind == E_STACK && fold_matches(c, a.slot))
        other = &b;
    else if (op != OP_I32_SUB && b.kind == E_STACK && fold_matches(c, b.slot))
        other = &a;
    else
        return -1;
    uint64_t w = c->code[c->fold_start + 1].u;
    uint16_t x = (uint16_t)(w >> 16), y = (uint16_t)(w >> 32);
    int first;
    switch (c->fold_op) {
    case OP_I32_ADDI: first = OP_I32_ADD; break;
    case OP_I32_ANDI: first = OP_I32_AND; break;
    case OP_I32_SHLI: first = OP_I32_SHL; break;
    case OP_I32_SHR_UI: first = OP_I32_SHR_U; break;
    case OP_I32_SHR_SI: first = OP_I32_SHR_S; break;
    default: first = c->fold_op; break;
    }
    int fi = chain_first_index(first);
    if (fi < 0 || (first != c->fold_op && !const_slot(c, (uint32_t)(w >> 32), &y)))
        return -1;
    truncate_code(c, c->fold_start);
    c->fold_ok = false;
    int chained = OP_CH_ADD_ADD + second * WASM_CHAIN_NFIRST + fi;
    *st = emit4(c, chained, d, x, y, other->slot);
    return chained;
}

static bool emit_numeric(comp_t *c, int nin, uint8_t tin, uint8_t tout, int op) {
    ventry_t a, b;
    if (nin == 2) {
        if (!pop_e(c, tin, &b) || !pop_e(c, tin, &a))
            return false;
    } else if (!pop_e(c, tin, &a)) {
        return false;
    }
    if (!reachable(c))
        return push(c, tout);
    uint16_t d = stack_slot(c->h);
    uint32_t st;
    if (nin == 2 && b.kind == E_CONST && !c->plain) {
        int iop = -1;
        uint32_t imm = (uint32_t)b.val;
        switch (op) {
        case OP_I32_ADD: iop = OP_I32_ADDI; break;
        case OP_I32_SUB: iop = OP_I32_ADDI; imm = 0u - imm; break;
        case OP_I32_AND: iop = OP_I32_ANDI; break;
        case OP_I32_SHL: iop = OP_I32_SHLI; imm &= 31; break;
        case OP_I32_SHR_U: iop = OP_I32_SHR_UI; imm &= 31; break;
        case OP_I32_SHR_S: iop = OP_I32_SHR_SI; imm &= 31; break;
        case OP_I64_ADD:
            if ((int64_t)b.val == (int32_t)b.val)
                iop = OP_I64_ADDI;
            break;
        }
        if (iop == OP_I32_ADDI) {
            ventry_t e = {.type = WASM_I32, .kind = E_ADDI, .slot = a.slot, .val = imm};
            return push_e(c, e);
        }
        if (iop == OP_I32_ANDI) {
            /* a mask on the temporary just computed ((x >> k) & m): one
             * chained op reading the mask from the const area beats two */
            int chained = chain_binop(c, op, a, b, d, &st);
            if (chained >= 0)
                return push_result(c, tout, st, chained);
        }
        if (iop >= 0) {
            st = emit2(c, iop, d, a.slot, imm);
            return push_result(c, tout, st, iop);
        }
    }
    if (nin == 2 && !c->plain) {
        /* A binop whose operand was loaded by the instruction just before
         * reads memory itself (i32.add/i64.add commute, floats keep order). */
        int fop = -1, want = -1;
        switch (op) {
        case OP_I32_ADD: fop = OP_I32_ADD_LW; want = OP_I32_LOAD; break;
        case OP_I64_ADD: fop = OP_I64_ADD_LW; want = OP_I64_LOAD; break;
        case OP_F32_ADD: fop = OP_F32_ADD_LW; want = OP_I32_LOAD; break;
        case OP_F32_MUL: fop = OP_F32_MUL_LW; want = OP_I32_LOAD; break;
        case OP_F64_ADD: fop = OP_F64_ADD_LW; want = OP_I64_LOAD; break;
        case OP_F64_MUL: fop = OP_F64_MUL_LW; want = OP_I64_LOAD; break;
        }
        if (fop >= 0) {
            ventry_t *ld = NULL, *other = NULL;
            if (b.kind == E_STACK && fold_matches(c, b.slot)) {
                ld = &b;
                other = &a;
            } else if ((op == OP_I32_ADD || op == OP_I64_ADD) && a.kind == E_STACK && fold_matches(c, a.slot)) {
                ld = &a;
                other = &b;
            }
            uint64_t w = ld ? c->code[c->fold_start + 1].u : 0;
            bool wrap = c->fold_op == OP_I32_LOADW + (want - OP_I32_LOAD);
            if (ld && (wrap || (c->fold_op == want && (w >> 32) == 0))) {
                uint16_t addr = (uint16_t)(w >> 16);
                uint32_t imm = (uint32_t)(w >> 32);
                truncate_code(c, c->fold_start);
                c->fold_ok = false;
                st = emit3(c, fop, d, other->slot, addr);
                emit_raw(c, imm);
                return push_result(c, tout, st, fop);
            }
        }
    }
    if (op == OP_MOV) {
        /* reinterpret: same bits, new type */
        a.type = tout;
        return push_e(c, a);
    }
    int chained = nin == 2 && !c->plain ? chain_binop(c, op, a, b, d, &st) : -1;
    if (chained >= 0)
        return push_result(c, tout, st, chained);
    if (nin == 2)
        st = emit3(c, op, d, a.slot, b.slot);
    else
        st = emit2(c, op, d, a.slot, 0);
    return push_result(c, tout, st, op);
}

/* ---- memory/table helpers ---- */

static bool need_mem(comp_t *c) {
    if (c->m->nmems == 0)
        return invalid(c, "unknown memory 0");
    return true;
}

/* Whether the instruction just emitted is `op` writing `slot`, with no
 * label after it, even if a local.set/tee already took its destination
 * (which clears fold_ok): the next instruction may absorb it. */
static bool last_wrote(comp_t *c, int op, uint16_t slot) {
    return !c->plain && c->ncode == c->fold_end && c->fold_end == c->fold_start + 2 && c->label_pos != c->ncode &&
           c->code[c->fold_start].h == c->handlers[op] && (uint16_t)c->code[c->fold_start + 1].u == slot;
}

/* The COPY op for a store of v (sop; wrap: its address is a lazy
 * slot + imm, the LOADW/STOREW form) when v is the temporary the load just
 * emitted produced, with the same width and address form; -1 otherwise. */
static int copy_op(comp_t *c, int sop, ventry_t v, bool wrap) {
    if (v.kind != E_STACK || !fold_matches(c, v.slot))
        return -1;
    static const struct { int load, store, copy; } pairs[] = {
        {OP_I64_LOAD, OP_I64_STORE, OP_COPY64}, {OP_I32_LOAD, OP_I32_STORE, OP_COPY32},
        {OP_I32_LOAD8_U, OP_I32_STORE8, OP_COPY8},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        if (sop != pairs[i].store)
            continue;
        int load = wrap ? OP_I32_LOADW + (pairs[i].load - OP_I32_LOAD) : pairs[i].load;
        if (c->fold_op == load)
            return pairs[i].copy + (wrap ? 1 : 0);
    }
    return -1;
}

/* An address computed by the I32_ADDI emitted just before (and read by
 * nothing else) folds into a load/store that adds its immediate with 32-bit
 * wrap-around, as i32.add would. */
static bool addr_fusable(comp_t *c, ventry_t a, uint16_t *slot, uint32_t *imm) {
    if (c->fold_op != OP_I32_ADDI || a.kind != E_STACK || !fold_matches(c, a.slot))
        return false;
    uint64_t w = c->code[c->fold_start + 1].u;
    *slot = (uint16_t)(w >> 16);
    *imm = (uint32_t)(w >> 32);
    truncate_code(c, c->fold_start);
    c->fold_ok = false;
    return true;
}

static bool read_memarg(comp_t *c, uint32_t natural_log2, uint32_t *offset) {
    uint32_t align;
    if (!rd_u32(&c->r, &align))
        return false;
    if (align >= 32)
        return rd_fail(&c->r, WASM_LOAD_MALFORMED, "malformed memop flags");
    if (!rd_u32(&c->r, offset))
        return false;
    if (!need_mem(c))
        return false;
    if (align > natural_log2)
        return invalid(c, "alignment must not be larger than natural");
    return true;
}

static bool zero_byte(comp_t *c) {
    uint8_t b;
    if (!rd_u8(&c->r, &b))
        return false;
    if (b != 0) {
        c->r.p--;
        return rd_fail(&c->r, WASM_LOAD_MALFORMED, "zero byte expected");
    }
    return true;
}

static bool table_idx(comp_t *c, uint32_t *t) {
    if (!rd_u32(&c->r, t))
        return false;
    if (*t >= c->m->ntables)
        return invalid(c, "unknown table %u", *t);
    return true;
}

static bool data_idx(comp_t *c, uint32_t *d) {
    if (!rd_u32(&c->r, d))
        return false;
    /* A data section without a data count section is malformed when code
     * names segments (spec 5.5.16); with no data at all it is just an
     * unknown index. */
    if (!c->m->has_datacount && c->m->ndatas)
        return rd_fail(&c->r, WASM_LOAD_MALFORMED, "data count section required");
    if (*d >= (c->m->has_datacount ? c->m->datacount : 0))
        return invalid(c, "unknown data segment %u", *d);
    return true;
}

static bool elem_idx(comp_t *c, uint32_t *e) {
    if (!rd_u32(&c->r, e))
        return false;
    if (*e >= c->m->nelems)
        return invalid(c, "unknown elem segment %u", *e);
    return true;
}

/* Pops n operands of the given types, materializes them into consecutive
 * canonical slots and returns the first slot (for calls). */
static bool pop_args(comp_t *c, const wasm_functype_t *ft, uint16_t *first) {
    for (uint32_t i = ft->nparams; i-- > 0;) {
        ventry_t e;
        if (!pop_e(c, ft->params[i], &e))
            return false;
    }
    /* pop_e only moved h; the entries are still in stk[h..] unless the
     * stack was polymorphic (then nothing is emitted anyway). */
    if (reachable(c)) {
        for (uint32_t i = 0; i < ft->nparams; i++) {
            ventry_t *e = &c->stk[c->h + i];
            if (e->slot != stack_slot(c->h + i))
                emit_mov(c, stack_slot(c->h + i), e->slot);
        }
    }
    *first = stack_slot(c->h);
    return true;
}

static bool push_results(comp_t *c, const wasm_functype_t *ft) {
    for (uint32_t i = 0; i < ft->nresults; i++)
        if (!push(c, ft->results[i]))
            return false;
    return true;
}

static bool is_num(uint8_t t) { return t == WASM_I32 || t == WASM_I64 || t == WASM_F32 || t == WASM_F64; }
static bool is_reft(uint8_t t) { return t == WASM_FUNCREF || t == WASM_EXTERNREF; }

/* ---- the body ---- */

static bool compile_body(comp_t *c) {
    wasm_module_t *m = c->m;
    reader_t *r = &c->r;
    for (;;) {
        uint8_t opc;
        if (c->oom)
            return nomem(c);
        if (!rd_u8(r, &opc))
            return false;
        ctrl_t *f = &c->ctl[c->nctl - 1];
        int nin, op;
        uint8_t tin, tout;
        if (numeric(opc, &nin, &tin, &tout, &op)) {
            if (!emit_numeric(c, nin, tin, tout, op))
                return false;
            continue;
        }
        switch (opc) {
        case 0x00: /* unreachable */
            if (reachable(c))
                emit_op(c, OP_UNREACHABLE);
            set_unreachable(c);
            break;
        case 0x01: /* nop */
            break;
        case 0x02: /* block */
        case 0x03: /* loop */
        case 0x04: { /* if */
            uint32_t np = 0, nr = 0;
            const wasm_valtype_t *p = NULL, *rs = NULL;
            wasm_valtype_t single = 0;
            if (!read_blocktype(c, &np, &p, &nr, &rs, &single))
                return false;
            ventry_t cond = {0};
            if (opc == 0x04 && !pop_e(c, WASM_I32, &cond))
                return false;
            if (!repush(c, np, p))
                return false;
            materialize_from(c, 0);
            patch_t ep = {0};
            if (opc == 0x04 && reachable(c))
                ep = emit_condbr(c, cond, false, false);
            c->fold_ok = false;
            if (!push_ctrl(c, opc == 0x02 ? K_BLOCK : opc == 0x03 ? K_LOOP : K_IF, np, p, nr, rs, single))
                return false;
            if (opc == 0x03)
                c->loops_open++;
            if (opc == 0x04 && reachable(c)) {
                c->ctl[c->nctl - 1].has_else_patch = true;
                c->ctl[c->nctl - 1].else_patch = ep;
            }
            break;
        }
        case 0x05: { /* else */
            if (f->kind != K_IF)
                return invalid(c, "else without matching if");
            for (uint32_t i = f->nresults; i-- > 0;)
                if (!pop(c, f->results[i]))
                    return false;
            if (c->h != f->height)
                return invalid(c, "type mismatch: values remain at the end of the if arm");
            if (reachable(c)) {
                c->h += f->nresults;
                materialize_from(c, f->height);
                c->h -= f->nresults;
                if (!emit_forward_jump(c, f))
                    return false;
            }
            if (f->has_else_patch)
                patch_at(c, f->else_patch, c->ncode);
            f->has_else_patch = false;
            f->kind = K_ELSE;
            f->unreachable = false;
            for (uint32_t i = 0; i < f->nparams; i++)
                if (!push(c, f->params[i]))
                    return false;
            c->fold_ok = false;
            break;
        }
        case 0x0b: { /* end */
            for (uint32_t i = f->nresults; i-- > 0;)
                if (!pop(c, f->results[i]))
                    return false;
            if (c->h != f->height)
                return invalid(c, "type mismatch: values remain at the end of the block");
            if (f->kind == K_IF) {
                if (f->nparams != f->nresults)
                    return invalid(c, "type mismatch: if without else must have matching params and results");
                for (uint32_t i = 0; i < f->nparams; i++)
                    if (f->params[i] != f->results[i])
                        return invalid(c, "type mismatch: if without else must have matching params and results");
            }
            c->h += f->nresults;
            if (reachable(c)) {
                if (f->kind == K_FUNC)
                    emit_return(c);
                else
                    materialize_from(c, f->height);
            }
            c->h -= f->nresults;
            if (f->has_else_patch)
                patch_at(c, f->else_patch, c->ncode);
            for (uint32_t i = 0; i < f->npatches; i++)
                patch_at(c, f->patches[i], c->ncode);
            c->fold_ok = false;
            uint8_t kind = f->kind;
            uint32_t nr = f->nresults;
            const wasm_valtype_t *rs = f->results;
            c->nctl--;
            if (kind == K_LOOP)
                c->loops_open--;
            if (kind == K_FUNC) {
                if (r->p != r->end)
                    return rd_fail(r, WASM_LOAD_MALFORMED, "section size mismatch: bytes after the function's end");
                return true;
            }
            for (uint32_t i = 0; i < nr; i++)
                if (!push(c, rs[i]))
                    return false;
            break;
        }
        case 0x0c: { /* br */
            uint32_t depth;
            if (!rd_u32(r, &depth))
                return false;
            if (depth >= c->nctl)
                return invalid(c, "unknown label %u", depth);
            ctrl_t *t = &c->ctl[c->nctl - 1 - depth];
            if (!check_label(c, t))
                return false;
            if (reachable(c)) {
                settle(c, label_arity(t));
                if (!branch_to(c, depth))
                    return false;
            }
            set_unreachable(c);
            break;
        }
        case 0x0d: { /* br_if */
            uint32_t depth;
            ventry_t cond;
            if (!rd_u32(r, &depth))
                return false;
            if (depth >= c->nctl)
                return invalid(c, "unknown label %u", depth);
            if (!pop_e(c, WASM_I32, &cond))
                return false;
            ctrl_t *t = &c->ctl[c->nctl - 1 - depth];
            if (!check_label(c, t))
                return false;
            if (!repush(c, label_arity(t), label_types(t)))
                return false;
            if (!reachable(c))
                break;
            settle(c, label_arity(t));
            if (t->kind == K_FUNC) {
                if (c->out->nresults > 1)
                    materialize_from(c, c->h - c->out->nresults);
                patch_t skip = emit_condbr(c, cond, false, false);
                emit_return(c);
                patch_at(c, skip, c->ncode);
            } else if (needs_moves(c, t)) {
                patch_t skip = emit_condbr(c, cond, false, false);
                emit_moves(c, t);
                if (!emit_jump(c, t))
                    return false;
                patch_at(c, skip, c->ncode);
            } else {
                patch_t p = emit_condbr(c, cond, true, t->kind == K_LOOP);
                if (t->kind == K_LOOP)
                    patch_at(c, p, t->start);
                else if (!add_patch(c, t, p))
                    return false;
            }
            c->fold_ok = false;
            break;
        }
        case 0x0e: { /* br_table */
            uint32_t n;
            if (!rd_u32(r, &n))
                return false;
            if (n > LIM_BRTABLE)
                return rd_fail(r, WASM_LOAD_TOO_LARGE, "br_table with %u targets exceeds the engine limit", n);
            if ((size_t)(r->end - r->p) < n)
                return rd_fail(r, WASM_LOAD_MALFORMED, "unexpected end in br_table");
            uint32_t *depths = malloc(((size_t)n + 1) * sizeof(uint32_t));
            if (!depths)
                return nomem(c);
            ventry_t idx;
            bool ok = true;
            for (uint32_t i = 0; i <= n && ok; i++) {
                ok = rd_u32(r, &depths[i]);
                if (ok && depths[i] >= c->nctl)
                    ok = invalid(c, "unknown label %u", depths[i]);
            }
            ok = ok && pop_e(c, WASM_I32, &idx);
            uint32_t arity = ok ? label_arity(&c->ctl[c->nctl - 1 - depths[n]]) : 0;
            for (uint32_t i = 0; i <= n && ok; i++) {
                ctrl_t *t = &c->ctl[c->nctl - 1 - depths[i]];
                if (label_arity(t) != arity)
                    ok = invalid(c, "type mismatch: br_table targets have different arities");
                else
                    ok = check_label(c, t);
            }
            if (ok && reachable(c)) {
                materialize_from(c, c->h - arity); /* also settles lazy addresses */
                uint32_t st;
                if (c->fold_op == OP_I32_ADDI && idx.kind == E_STACK && fold_matches(c, idx.slot)) {
                    /* switch (c - 'a'): the index's bias rides in a cell
                     * of its own, before the targets */
                    uint64_t w = c->code[c->fold_start + 1].u;
                    uint16_t src = (uint16_t)(w >> 16);
                    truncate_code(c, c->fold_start);
                    c->fold_ok = false;
                    st = emit1h(c, OP_BR_TABLE_ADDI, src, n);
                    emit_raw(c, (uint32_t)(w >> 32));
                } else {
                    st = emit1h(c, OP_BR_TABLE, idx.slot, n);
                }
                uint32_t tab = c->ncode;
                for (uint32_t i = 0; i <= n; i++)
                    emit_raw(c, 0);
                for (uint32_t i = 0; i <= n && ok && !c->oom; i++) {
                    ctrl_t *t = &c->ctl[c->nctl - 1 - depths[i]];
                    if (t->kind == K_FUNC || t->kind == K_LOOP || needs_moves(c, t)) {
                        /* stub: moves then jump/return */
                        c->code[tab + i].i = (int64_t)c->ncode - (int64_t)st;
                        c->label_pos = c->ncode;
                        ok = branch_to(c, depths[i]);
                    } else {
                        ok = add_patch(c, t, (patch_t){tab + i, st, 0});
                    }
                }
            }
            free(depths);
            if (!ok)
                return false;
            set_unreachable(c);
            break;
        }
        case 0x0f: /* return */
            if (!check_label(c, &c->ctl[0]))
                return false;
            if (reachable(c))
                emit_return(c);
            set_unreachable(c);
            break;
        case 0x10: { /* call */
            uint32_t fi;
            if (!rd_u32(r, &fi))
                return false;
            if (fi >= m->nfuncs)
                return invalid(c, "unknown function %u", fi);
            const wasm_functype_t *ft = &m->types[m->func_types[fi]];
            uint16_t argslot;
            if (!pop_args(c, ft, &argslot))
                return false;
            if (reachable(c)) {
                if (fi < m->nfunc_imports) {
                    emit_op(c, OP_CALL_IMPORT);
                    emit_raw(c, fi);
                } else {
                    emit_op(c, OP_CALL);
                    emit_raw(c, (uint64_t)(uintptr_t)&m->funcs[fi - m->nfunc_imports].code);
                }
                emit_slots(c, 1, &argslot, 0);
            }
            if (!push_results(c, ft))
                return false;
            break;
        }
        case 0x11: { /* call_indirect */
            uint32_t ti, tbl;
            if (!rd_u32(r, &ti) || !rd_u32(r, &tbl))
                return false;
            if (tbl >= m->ntables)
                return invalid(c, "unknown table %u", tbl);
            if (ti >= m->ntypes)
                return invalid(c, "unknown type %u", ti);
            if (m->tables[tbl].elem != WASM_FUNCREF)
                return invalid(c, "type mismatch: call_indirect on a table of externref");
            const wasm_functype_t *ft = &m->types[m->type_canon[ti]];
            ventry_t idx;
            if (!pop_e(c, WASM_I32, &idx))
                return false;
            uint16_t argslot;
            if (!pop_args(c, ft, &argslot))
                return false;
            if (reachable(c)) {
                emit2(c, OP_CALL_INDIRECT, argslot, idx.slot, tbl);
                emit_raw(c, (uint64_t)(uintptr_t)ft);
            }
            if (!push_results(c, ft))
                return false;
            break;
        }
        case 0x1a: /* drop */
            if (!pop(c, VT_ANY))
                return false;
            break;
        case 0x1b:   /* select */
        case 0x1c: { /* select t */
            uint8_t want = VT_ANY;
            if (opc == 0x1c) {
                uint32_t n;
                wasm_valtype_t t;
                if (!rd_u32(r, &n))
                    return false;
                if (n != 1)
                    return invalid(c, "invalid result arity for select");
                if (!rd_valtype(r, &t))
                    return false;
                want = t;
            }
            ventry_t cond, a, b;
            if (!pop_e(c, WASM_I32, &cond) || !pop_e(c, want, &b) || !pop_e(c, want, &a))
                return false;
            uint8_t t = want;
            if (opc == 0x1b) {
                if ((a.type != VT_ANY && !is_num(a.type)) || (b.type != VT_ANY && !is_num(b.type)))
                    return invalid(c, "type mismatch: select without type needs numeric operands");
                if (a.type != VT_ANY && b.type != VT_ANY && a.type != b.type)
                    return invalid(c, "type mismatch in select");
                t = a.type != VT_ANY ? a.type : b.type;
            }
            if (!reachable(c)) {
                if (!push(c, t))
                    return false;
                break;
            }
            uint32_t st = emit4(c, OP_SELECT, stack_slot(c->h), a.slot, b.slot, cond.slot);
            if (!push_result(c, t, st, OP_SELECT))
                return false;
            break;
        }
        case 0x20: { /* local.get */
            uint32_t i;
            if (!rd_u32(r, &i))
                return false;
            if (i >= c->nlocals)
                return invalid(c, "unknown local %u", i);
            ventry_t e = {.type = c->locals[i], .kind = E_LOCAL, .slot = (uint16_t)i};
            if (!reachable(c))
                e = (ventry_t){.type = c->locals[i], .kind = E_STACK, .slot = stack_slot(c->h)};
            if (!push_e(c, e))
                return false;
            if (c->plain)
                materialize(c, c->h - 1);
            break;
        }
        case 0x21:   /* local.set */
        case 0x22: { /* local.tee */
            uint32_t i;
            ventry_t v;
            if (!rd_u32(r, &i))
                return false;
            if (i >= c->nlocals)
                return invalid(c, "unknown local %u", i);
            if (!pop_e(c, c->locals[i], &v))
                return false;
            if (c->straight && c->loops_open == 0 && i >= c->out->nparams && !c->written[i] && v.kind == E_CONST &&
                v.val == 0) {
                /* the local already holds zero */
            } else if (reachable(c)) {
                c->written[i] = true;
                bool aliased = false;
                for (uint32_t k = 0; k < c->h; k++)
                    if ((c->stk[k].kind == E_LOCAL || c->stk[k].kind == E_ADDI) && c->stk[k].slot == i)
                        aliased = true;
                if (!aliased && v.kind == E_STACK && fold_matches(c, v.slot)) {
                    retarget_fold(c, (uint16_t)i);
                } else if (!(v.kind == E_LOCAL && v.slot == i)) {
                    materialize_local(c, i);
                    emit_mov(c, (uint16_t)i, v.slot);
                }
                c->fold_ok = false;
            }
            if (opc == 0x22) {
                ventry_t e = {.type = c->locals[i], .kind = E_LOCAL, .slot = (uint16_t)i};
                if (!reachable(c))
                    e = (ventry_t){.type = c->locals[i], .kind = E_STACK, .slot = stack_slot(c->h)};
                if (!push_e(c, e))
                    return false;
                if (c->plain)
                    materialize(c, c->h - 1);
            }
            break;
        }
        case 0x23: { /* global.get */
            uint32_t g;
            if (!rd_u32(r, &g))
                return false;
            if (g >= m->nglobals)
                return invalid(c, "unknown global %u", g);
            if (!reachable(c)) {
                if (!push(c, m->globals[g].type))
                    return false;
                break;
            }
            uint32_t st = emit1h(c, OP_GLOBAL_GET, stack_slot(c->h), g);
            if (!push_result(c, m->globals[g].type, st, OP_GLOBAL_GET))
                return false;
            break;
        }
        case 0x24: { /* global.set */
            uint32_t g;
            ventry_t v;
            if (!rd_u32(r, &g))
                return false;
            if (g >= m->nglobals)
                return invalid(c, "unknown global %u", g);
            if (!m->globals[g].mut)
                return invalid(c, "global is immutable");
            if (!pop_e(c, m->globals[g].type, &v))
                return false;
            if (reachable(c))
                emit1h(c, OP_GLOBAL_SET, v.slot, g);
            break;
        }
        case 0x25: { /* table.get */
            uint32_t t;
            ventry_t i;
            if (!table_idx(c, &t) || !pop_e(c, WASM_I32, &i))
                return false;
            if (!reachable(c)) {
                if (!push(c, m->tables[t].elem))
                    return false;
                break;
            }
            uint32_t st = emit2(c, OP_TABLE_GET, stack_slot(c->h), i.slot, t);
            if (!push_result(c, m->tables[t].elem, st, OP_TABLE_GET))
                return false;
            break;
        }
        case 0x26: { /* table.set */
            uint32_t t;
            ventry_t i, v;
            if (!table_idx(c, &t) || !pop_e(c, m->tables[t].elem, &v) || !pop_e(c, WASM_I32, &i))
                return false;
            if (reachable(c))
                emit2(c, OP_TABLE_SET, i.slot, v.slot, t);
            break;
        }
        case 0x28: case 0x29: case 0x2a: case 0x2b: case 0x2c: case 0x2d: case 0x2e: case 0x2f:
        case 0x30: case 0x31: case 0x32: case 0x33: case 0x34: case 0x35: {
            static const uint8_t nat[] = {2, 3, 2, 3, 0, 0, 1, 1, 0, 0, 1, 1, 2, 2};
            static const uint8_t ty[] = {WASM_I32, WASM_I64, WASM_F32, WASM_F64, WASM_I32, WASM_I32, WASM_I32,
                                         WASM_I32, WASM_I64, WASM_I64, WASM_I64, WASM_I64, WASM_I64, WASM_I64};
            static const int ops[] = {OP_I32_LOAD, OP_I64_LOAD, OP_I32_LOAD, OP_I64_LOAD, OP_I32_LOAD8_S,
                                      OP_I32_LOAD8_U, OP_I32_LOAD16_S, OP_I32_LOAD16_U, OP_I64_LOAD8_S,
                                      OP_I64_LOAD8_U, OP_I64_LOAD16_S, OP_I64_LOAD16_U, OP_I64_LOAD32_S,
                                      OP_I64_LOAD32_U};
            uint32_t k = opc - 0x28, off;
            ventry_t a;
            if (!read_memarg(c, nat[k], &off) || !pop_raw(c, WASM_I32, &a))
                return false;
            if (!reachable(c)) {
                if (!push(c, ty[k]))
                    return false;
                break;
            }
            int lop = ops[k];
            uint16_t asl = a.slot;
            if (lop == OP_I32_LOAD8_U && off <= 0xffff && a.kind == E_STACK && c->fold_op == OP_I32_ADD &&
                fold_matches(c, a.slot)) {
                /* base + index addressing (s[i]; for i32.load the same
                 * fusion made sha256 3% slower at fewer dispatches) */
                uint64_t w = c->code[c->fold_start + 1].u;
                truncate_code(c, c->fold_start);
                c->fold_ok = false;
                lop = OP_I32_LOAD8_U_RR;
                uint32_t st = emit3(c, lop, stack_slot(c->h), (uint16_t)(w >> 16), (uint16_t)(w >> 32));
                c->code[st + 1].u |= (uint64_t)off << 48; /* unrecorded: not a slot */
                if (!push_result(c, ty[k], st, lop))
                    return false;
                break;
            }
            if (a.kind == E_ADDI && off == 0) {
                lop = OP_I32_LOADW + (lop - OP_I32_LOAD);
                off = (uint32_t)a.val;
            } else if (a.kind == E_ADDI) {
                c->h++;
                ventry_t m;
                pop_e(c, WASM_I32, &m);
                asl = m.slot;
            } else if (off == 0 && addr_fusable(c, a, &asl, &off)) {
                lop = OP_I32_LOADW + (lop - OP_I32_LOAD);
            }
            uint32_t st = emit2(c, lop, stack_slot(c->h), asl, off);
            if (!push_result(c, ty[k], st, lop))
                return false;
            break;
        }
        case 0x36: case 0x37: case 0x38: case 0x39: case 0x3a: case 0x3b: case 0x3c: case 0x3d: case 0x3e: {
            static const uint8_t nat[] = {2, 3, 2, 3, 0, 1, 0, 1, 2};
            static const uint8_t ty[] = {WASM_I32, WASM_I64, WASM_F32, WASM_F64, WASM_I32,
                                         WASM_I32, WASM_I64, WASM_I64, WASM_I64};
            static const int ops[] = {OP_I32_STORE, OP_I64_STORE, OP_I32_STORE, OP_I64_STORE, OP_I32_STORE8,
                                      OP_I32_STORE16, OP_I64_STORE8, OP_I64_STORE16, OP_I64_STORE32};
            uint32_t k = opc - 0x36, off;
            ventry_t a, v;
            if (!read_memarg(c, nat[k], &off) || !pop_e(c, ty[k], &v) || !pop_raw(c, WASM_I32, &a))
                return false;
            if (reachable(c)) {
                int sop = ops[k];
                uint16_t asl = a.slot;
                int cop = copy_op(c, sop, v, a.kind == E_ADDI);
                if (cop >= 0 && (a.kind != E_ADDI || off == 0)) {
                    /* a load whose value only this store reads: one
                     * memory-to-memory copy (memcpy's unrolled loops) */
                    uint64_t w = c->code[c->fold_start + 1].u;
                    if (a.kind == E_ADDI)
                        off = (uint32_t)a.val;
                    truncate_code(c, c->fold_start);
                    c->fold_ok = false;
                    emit2(c, cop, (uint16_t)(w >> 16), asl, 0);
                    emit_raw(c, (w >> 32) | (uint64_t)off << 32);
                    break;
                }
                if (sop == OP_I32_STORE && a.kind != E_ADDI && last_wrote(c, OP_I32_ADDI, v.slot)) {
                    /* p = p + k written back ("j->p++"): one ADDI_STORE */
                    uint64_t w = c->code[c->fold_start + 1].u;
                    truncate_code(c, c->fold_start);
                    c->fold_ok = false;
                    emit3(c, OP_I32_ADDI_STORE, (uint16_t)w, (uint16_t)(w >> 16), asl);
                    emit_raw(c, (w >> 32) | (uint64_t)off << 32);
                    break;
                }
                if ((sop == OP_I32_STORE || sop == OP_I32_STORE8) && off <= 0xffff && a.kind == E_STACK &&
                    c->fold_op == OP_I32_ADD && fold_matches(c, a.slot)) {
                    /* base + index addressing */
                    uint64_t w = c->code[c->fold_start + 1].u;
                    truncate_code(c, c->fold_start);
                    c->fold_ok = false;
                    uint32_t st = emit3(c, sop == OP_I32_STORE ? OP_I32_STORE_RR : OP_I32_STORE8_RR, (uint16_t)(w >> 16),
                                        (uint16_t)(w >> 32), v.slot);
                    c->code[st + 1].u |= (uint64_t)off << 48; /* unrecorded: not a slot */
                    break;
                }
                if (a.kind == E_ADDI && off == 0) {
                    sop = OP_I32_STOREW + (sop - OP_I32_STORE);
                    off = (uint32_t)a.val;
                } else if (a.kind == E_ADDI) {
                    c->h++;
                    ventry_t m;
                    pop_e(c, WASM_I32, &m);
                    asl = m.slot;
                } else if (off == 0 && addr_fusable(c, a, &asl, &off)) {
                    sop = OP_I32_STOREW + (sop - OP_I32_STORE);
                }
                emit2(c, sop, asl, v.slot, off);
            }
            break;
        }
        case 0x3f: { /* memory.size */
            if (!zero_byte(c) || !need_mem(c))
                return false;
            if (!reachable(c)) {
                if (!push(c, WASM_I32))
                    return false;
                break;
            }
            uint32_t st = emit1(c, OP_MEMORY_SIZE, stack_slot(c->h));
            if (!push_result(c, WASM_I32, st, OP_MEMORY_SIZE))
                return false;
            break;
        }
        case 0x40: { /* memory.grow */
            ventry_t a;
            if (!zero_byte(c) || !need_mem(c) || !pop_e(c, WASM_I32, &a))
                return false;
            if (reachable(c))
                emit2(c, OP_MEMORY_GROW, stack_slot(c->h), a.slot, 0);
            if (!push(c, WASM_I32))
                return false;
            break;
        }
        case 0x41: {
            int32_t v;
            if (!rd_s32(r, &v) || !push_const(c, WASM_I32, (uint32_t)v))
                return false;
            break;
        }
        case 0x42: {
            int64_t v;
            if (!rd_s64(r, &v) || !push_const(c, WASM_I64, (uint64_t)v))
                return false;
            break;
        }
        case 0x43: {
            const uint8_t *b;
            uint32_t v;
            if (!rd_bytes(r, 4, &b))
                return false;
            memcpy(&v, b, 4);
            if (!push_const(c, WASM_F32, v))
                return false;
            break;
        }
        case 0x44: {
            const uint8_t *b;
            uint64_t v;
            if (!rd_bytes(r, 8, &b))
                return false;
            memcpy(&v, b, 8);
            if (!push_const(c, WASM_F64, v))
                return false;
            break;
        }
        case 0xd0: { /* ref.null */
            wasm_valtype_t t;
            if (!rd_reftype(r, &t) || !push_const(c, t, 0))
                return false;
            break;
        }
        case 0xd1: { /* ref.is_null */
            ventry_t a;
            if (!pop_e(c, VT_ANY, &a))
                return false;
            if (a.type != VT_ANY && !is_reft(a.type))
                return invalid(c, "type mismatch: ref.is_null needs a reference");
            if (!reachable(c)) {
                if (!push(c, WASM_I32))
                    return false;
                break;
            }
            uint32_t st = emit2(c, OP_REF_IS_NULL, stack_slot(c->h), a.slot, 0);
            if (!push_result(c, WASM_I32, st, OP_REF_IS_NULL))
                return false;
            break;
        }
        case 0xd2: { /* ref.func */
            uint32_t fi;
            if (!rd_u32(r, &fi))
                return false;
            if (fi >= m->nfuncs)
                return invalid(c, "unknown function %u", fi);
            if (!m->declared_funcs[fi])
                return invalid(c, "undeclared function reference %u", fi);
            if (!reachable(c)) {
                if (!push(c, WASM_FUNCREF))
                    return false;
                break;
            }
            uint32_t st = emit1h(c, OP_REF_FUNC, stack_slot(c->h), fi);
            if (!push_result(c, WASM_FUNCREF, st, OP_REF_FUNC))
                return false;
            break;
        }
        case 0xfc: {
            uint32_t sub;
            if (!rd_u32(r, &sub))
                return false;
            if (sub <= 7) {
                static const uint8_t tins[] = {WASM_F32, WASM_F32, WASM_F64, WASM_F64,
                                               WASM_F32, WASM_F32, WASM_F64, WASM_F64};
                if (!emit_numeric(c, 1, tins[sub], sub < 4 ? WASM_I32 : WASM_I64, OP_I32_TRUNC_SAT_F32_S + (int)sub))
                    return false;
                break;
            }
            switch (sub) {
            case 8: { /* memory.init */
                uint32_t d;
                ventry_t dst, src, n;
                if (!data_idx(c, &d) || !zero_byte(c) || !need_mem(c))
                    return false;
                if (!pop_e(c, WASM_I32, &n) || !pop_e(c, WASM_I32, &src) || !pop_e(c, WASM_I32, &dst))
                    return false;
                if (reachable(c)) {
                    emit3(c, OP_MEMORY_INIT, dst.slot, src.slot, n.slot);
                    emit_raw(c, d);
                }
                break;
            }
            case 9: { /* data.drop */
                uint32_t d;
                if (!data_idx(c, &d))
                    return false;
                if (reachable(c)) {
                    emit_op(c, OP_DATA_DROP);
                    emit_raw(c, d);
                }
                break;
            }
            case 10:   /* memory.copy */
            case 11: { /* memory.fill */
                ventry_t a, b, n;
                if (!zero_byte(c) || (sub == 10 && !zero_byte(c)) || !need_mem(c))
                    return false;
                if (!pop_e(c, WASM_I32, &n) || !pop_e(c, WASM_I32, &b) || !pop_e(c, WASM_I32, &a))
                    return false;
                if (reachable(c))
                    emit3(c, sub == 10 ? OP_MEMORY_COPY : OP_MEMORY_FILL, a.slot, b.slot, n.slot);
                break;
            }
            case 12: { /* table.init elem table */
                uint32_t e, t;
                ventry_t dst, src, n;
                if (!elem_idx(c, &e) || !table_idx(c, &t))
                    return false;
                if (m->tables[t].elem != m->elems[e].type)
                    return invalid(c, "type mismatch: table.init element type");
                if (!pop_e(c, WASM_I32, &n) || !pop_e(c, WASM_I32, &src) || !pop_e(c, WASM_I32, &dst))
                    return false;
                if (reachable(c)) {
                    emit3(c, OP_TABLE_INIT, dst.slot, src.slot, n.slot);
                    emit_raw(c, (uint64_t)t | (uint64_t)e << 32);
                }
                break;
            }
            case 13: { /* elem.drop */
                uint32_t e;
                if (!elem_idx(c, &e))
                    return false;
                if (reachable(c)) {
                    emit_op(c, OP_ELEM_DROP);
                    emit_raw(c, e);
                }
                break;
            }
            case 14: { /* table.copy dst src */
                uint32_t td, ts;
                ventry_t dst, src, n;
                if (!table_idx(c, &td) || !table_idx(c, &ts))
                    return false;
                if (m->tables[td].elem != m->tables[ts].elem)
                    return invalid(c, "type mismatch: table.copy between different element types");
                if (!pop_e(c, WASM_I32, &n) || !pop_e(c, WASM_I32, &src) || !pop_e(c, WASM_I32, &dst))
                    return false;
                if (reachable(c)) {
                    emit3(c, OP_TABLE_COPY, dst.slot, src.slot, n.slot);
                    emit_raw(c, (uint64_t)td | (uint64_t)ts << 32);
                }
                break;
            }
            case 15: { /* table.grow */
                uint32_t t;
                ventry_t init, n;
                if (!table_idx(c, &t) || !pop_e(c, WASM_I32, &n) || !pop_e(c, m->tables[t].elem, &init))
                    return false;
                if (reachable(c)) {
                    emit3(c, OP_TABLE_GROW, stack_slot(c->h), init.slot, n.slot);
                    emit_raw(c, t);
                }
                if (!push(c, WASM_I32))
                    return false;
                break;
            }
            case 16: { /* table.size */
                uint32_t t;
                if (!table_idx(c, &t))
                    return false;
                if (!reachable(c)) {
                    if (!push(c, WASM_I32))
                        return false;
                    break;
                }
                uint32_t st = emit1h(c, OP_TABLE_SIZE, stack_slot(c->h), t);
                if (!push_result(c, WASM_I32, st, OP_TABLE_SIZE))
                    return false;
                break;
            }
            case 17: { /* table.fill */
                uint32_t t;
                ventry_t i, v, n;
                if (!table_idx(c, &t) || !pop_e(c, WASM_I32, &n) || !pop_e(c, m->tables[t].elem, &v) ||
                    !pop_e(c, WASM_I32, &i))
                    return false;
                if (reachable(c)) {
                    emit3(c, OP_TABLE_FILL, i.slot, v.slot, n.slot);
                    emit_raw(c, t);
                }
                break;
            }
            default:
                return rd_fail(r, WASM_LOAD_MALFORMED, "illegal opcode 0xfc %u", sub);
            }
            break;
        }
        default:
            r->p--;
            return rd_fail(r, WASM_LOAD_MALFORMED, "illegal opcode 0x%02x", opc);
        }
    }
}

static bool read_locals(comp_t *c, const wasm_functype_t *ft) {
    uint32_t ngroups;
    if (!rd_u32(&c->r, &ngroups))
        return false;
    uint64_t total = ft->nparams;
    const uint8_t *save = c->r.p;
    for (uint32_t g = 0; g < ngroups; g++) {
        uint32_t n;
        wasm_valtype_t t;
        if (!rd_u32(&c->r, &n) || !rd_valtype(&c->r, &t))
            return false;
        total += n;
        if (total > UINT32_MAX)
            return rd_fail(&c->r, WASM_LOAD_MALFORMED, "too many locals");
    }
    if (total > LIM_LOCALS)
        return rd_fail(&c->r, WASM_LOAD_TOO_LARGE, "%llu locals exceed the engine limit %u",
                       (unsigned long long)total, LIM_LOCALS);
    c->locals = malloc((total + 1) * sizeof(wasm_valtype_t));
    c->written = calloc(total + 1, sizeof(bool));
    if (!c->locals || !c->written)
        return nomem(c);
    c->straight = !c->plain;
    memcpy(c->locals, ft->params, ft->nparams * sizeof(wasm_valtype_t));
    c->nlocals = ft->nparams;
    c->r.p = save;
    for (uint32_t g = 0; g < ngroups; g++) {
        uint32_t n;
        wasm_valtype_t t;
        rd_u32(&c->r, &n);
        rd_valtype(&c->r, &t);
        for (uint32_t k = 0; k < n; k++)
            c->locals[c->nlocals++] = t;
    }
    return true;
}

bool wasm_compile_func(wasm_module_t *m, uint32_t defidx, wasm_load_error_t *why, err_t *err) {
    wfunc_t *fn = &m->funcs[defidx];
    const wasm_functype_t *ft = &m->types[fn->typeidx];
    comp_t c = {0};
    c.r = (reader_t){.base = m->bytes, .p = fn->body, .end = fn->body + fn->body_len, .why = why, .err = err};
    c.m = m;
    c.handlers = wasm_interp_handlers();
    c.plain = m->plain;
    c.mov_at = UINT32_MAX;
    c.label_pos = UINT32_MAX;
    c.out = &fn->code;
    wcode_t *out = &fn->code;
    out->type = ft;
    out->nparams = ft->nparams;
    out->nresults = ft->nresults;
    out->funcidx = m->nfunc_imports + defidx;
    out->mod = m;
    bool ok = read_locals(&c, ft);
    if (ok)
        ok = push_ctrl(&c, K_FUNC, 0, NULL, ft->nresults, ft->results, 0);
    if (ok)
        ok = compile_body(&c);
    if (ok && c.oom)
        ok = nomem(&c);
    uint32_t remap[POOL_MAX];
    uint32_t K = 0;
    if (ok) {
        /* keep only constants some emitted field reads */
        bool used[POOL_MAX] = {false};
        for (uint32_t i = 0; i < c.nfix; i++) {
            uint32_t cell = c.fix[i] / 4, field = c.fix[i] % 4;
            uint32_t s = (uint32_t)(c.code[cell].u >> (16 * field)) & 0xffff;
            if (s < STACK_BASE)
                used[s - CONST_BASE] = true;
        }
        for (uint32_t i = 0; i < c.nconsts; i++) {
            remap[i] = K;
            if (used[i])
                c.consts[K++] = c.consts[i];
        }
    }
    if (ok) {
        uint32_t L = c.nlocals;
        if ((uint64_t)L + K + c.maxh + 2 > 0xffff)
            ok = rd_fail(&c.r, WASM_LOAD_TOO_LARGE, "function frame exceeds the engine limit");
        for (uint32_t i = 0; ok && i < c.nfix; i++) {
            uint32_t cell = c.fix[i] / 4, field = c.fix[i] % 4;
            uint64_t w = c.code[cell].u;
            uint32_t s = (uint32_t)(w >> (16 * field)) & 0xffff;
            uint32_t v = s >= STACK_BASE ? L + K + (s - STACK_BASE) : L + remap[s - CONST_BASE];
            w &= ~((uint64_t)0xffff << (16 * field));
            w |= (uint64_t)v << (16 * field);
            c.code[cell].u = w;
        }
        out->nlocals = L;
        out->nconsts = K;
        out->frame = L + K + c.maxh + 1;
        /* the fixed-size init copy may write past the consts (into stack
         * slots, garbage until written), never past the frame */
        if (out->frame < out->nparams + WASM_INIT_FIXED)
            out->frame = out->nparams + WASM_INIT_FIXED;
        if (ok) {
            /* never NULL: the interpreter memcpy()s it on every call */
            out->consts = malloc((K + 1) * sizeof(uint64_t));
            out->ninit = L - out->nparams + K;
            out->init = calloc(out->ninit + WASM_INIT_FIXED, sizeof(uint64_t));
            if (!out->consts || !out->init) {
                ok = nomem(&c);
            } else {
                memcpy(out->consts, c.consts, K * sizeof(uint64_t));
                memcpy(out->init + (L - out->nparams), c.consts, K * sizeof(uint64_t));
            }
        }
    }
    if (ok) {
        out->code = c.code;
        out->ncode = c.ncode;
        c.code = NULL;
    }
    free(c.code);
    free(c.fix);
    free(c.stk);
    free(c.locals);
    free(c.written);
    for (uint32_t i = 0; i < c.capctl; i++)
        free(c.ctl[i].patches);
    free(c.ctl);
    return ok;
}

#ifdef WASM_DUMP
/* Development aid: prints a function's cell stream (build with -DWASM_DUMP). */
static const char *const op_names[] = {
#define X(n) #n,
    WASM_OPS(X)
#undef X
#define Y(a, b) "CH_" #a "_" #b,
    WASM_CHAINS(Y)
#undef Y
};
void wasm_dump_code(const wcode_t *w);
void wasm_dump_code(const wcode_t *w) {
    const void *const *h = wasm_interp_handlers();
    fprintf(stderr, "func %u: locals %u consts %u frame %u\n", w->funcidx, w->nlocals, w->nconsts, w->frame);
    for (uint32_t i = 0; i < w->ncode;) {
        int op = -1;
        for (int k = 0; k < OP__COUNT; k++)
            if (h[k] == w->code[i].h)
                op = k;
        uint64_t v = i + 1 < w->ncode ? w->code[i + 1].u : 0;
        fprintf(stderr, "  %4u %-18s %u %u %u %u  (hi %d)\n", i, op >= 0 ? op_names[op] : "?", (unsigned)(v & 0xffff),
                (unsigned)(v >> 16 & 0xffff), (unsigned)(v >> 32 & 0xffff), (unsigned)(v >> 48), (int32_t)(v >> 32));
        int len = 2;
        if ((op >= OP_I32_ADD_LW && op <= OP_F64_MUL_LW) || (op >= OP_ADDI_BR_I32_EQ && op <= OP_ADDI_BRI_I32_GE_U) ||
            (op >= OP_LD8U_BRI_EQ && op <= OP_BR_ANDI_NZ) || op == OP_I32_ADDI_STORE ||
            (op >= OP_LD_BR_I32_EQ && op <= OP_LD_BR_I32_GE_U) || (op >= OP_COPY64 && op <= OP_COPY8W) ||
            op == OP_CONST || op == OP_CALL || op == OP_CALL_IMPORT || op == OP_CALL_INDIRECT || op == OP_MEMORY_INIT ||
            op == OP_TABLE_GROW || op == OP_TABLE_FILL || op == OP_TABLE_COPY || op == OP_TABLE_INIT)
            len = 3;
        if (op == OP_BR_TABLE)
            len = 2 + (int)(v >> 32) + 1;
        if (op == OP_BR_TABLE_ADDI)
            len = 3 + (int)(v >> 32) + 1;
        if (op == OP_RETURN0)
            len = 1;
        i += len;
    }
}
#endif
