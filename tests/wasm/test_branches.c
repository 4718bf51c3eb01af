/*
 * test_branches — the compiler's fusions around branches and memory
 * (compile.c emit_forward_jump, emit_load8_branch, emit_andi_branch, the
 * biased br_table index, the sum stored by the store after it, base +
 * index addressing, an i32.load fused into the compare-branch on it, and
 * load + store pairs as one copy): for every shape in `cases` the optimized
 * translation must (a) emit the fused instruction and (b) behave as the
 * plain translation does on edge inputs: the same result, the same trap
 * (an out-of-bounds access traps before anything after it is written) and
 * the same memory afterwards. Loops made of one fused branch must still be
 * interrupted.
 *
 * Every function is (i32 x, i32 y) -> i32 over one page of memory whose
 * first bytes are `data` (reset before each call). Bodies are encoded byte
 * by byte so each is exactly the sequence under test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>

#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modbuild.h"
#include "wasm/ops.h"
#include "wasm/wasm_internal.h"

typedef struct fcase {
    const char *name;
    int op; /* the fused op the optimized translation must contain */
    const uint8_t *body; /* locals declaration + expression */
    size_t n;
} fcase_t;

#define CASE(name, op, ...) {name, op, (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})}

/* Opcode shorthands for the bodies below. */
#define BLOCK 0x02, 0x40
#define LOOP 0x03, 0x40
#define IF 0x04, 0x40
#define IF_I32 0x04, 0x7f
#define ELSE 0x05
#define END 0x0b
#define BR(d) 0x0c, d
#define BR_IF(d) 0x0d, d
#define RETURN 0x0f
#define GET(i) 0x20, i
#define SET(i) 0x21, i
#define TEE(i) 0x22, i
#define K(v) 0x41, v /* v < 64 */
#define LOAD8_U(off) 0x2d, 0, off
#define STORE8(off) 0x3a, 0, off
#define LOAD(off) 0x28, 2, off
#define STORE(off) 0x36, 2, off
#define EQZ 0x45
#define EQ 0x46
#define NE 0x47
#define ADD 0x6a
#define AND 0x71
#define NO_LOCALS 0
#define ONE_LOCAL 1, 1, 0x7f /* local 2 */

static const fcase_t cases[] = {
    /* if (x) { l2 = 5; br out } l2 = 7; out: l2 */
    CASE("copy then br", OP_MOV_BR, ONE_LOCAL, BLOCK, GET(0), IF, K(5), SET(2), BR(1), END, K(7), SET(2), END,
         GET(2), END),
    /* x ? y : 3, the then-arm's value copied on the way to the end */
    CASE("if-arm result then br", OP_MOV_BR, NO_LOCALS, GET(0), IF_I32, GET(1), ELSE, K(3), END, END),
    /* l2 = mem[x + 1]; if (l2 == '"') l2 = 35 */
    CASE("load8 tee ne", OP_LD8U_BRI_NE, ONE_LOCAL, BLOCK, GET(0), LOAD8_U(1), TEE(2), 0x41, 34, NE, BR_IF(0),
         K(35), SET(2), END, GET(2), END),
    CASE("load8 tee eq", OP_LD8U_BRI_EQ, ONE_LOCAL, BLOCK, GET(0), LOAD8_U(1), TEE(2), 0x41, 34, EQ, BR_IF(0),
         K(35), SET(2), END, GET(2), END),
    /* the address x + 3 wraps at 2^32 */
    CASE("load8 wrapping address ne", OP_LD8UW_BRI_NE, NO_LOCALS, BLOCK, GET(0), K(3), ADD, LOAD8_U(0), 0x41, 0xdc,
         0x00, NE, BR_IF(0), K(1), RETURN, END, K(2), END),
    CASE("load8 eqz", OP_LD8U_BRI_EQ, NO_LOCALS, BLOCK, GET(0), LOAD8_U(0), EQZ, BR_IF(0), K(1), RETURN, END, K(2),
         END),
    CASE("load8 itself", OP_LD8U_BRI_NE, NO_LOCALS, BLOCK, GET(0), LOAD8_U(0), BR_IF(0), K(1), RETURN, END, K(2),
         END),
    /* if skips its arm on the inverted compare */
    CASE("load8 eq under if", OP_LD8U_BRI_NE, NO_LOCALS, GET(0), LOAD8_U(2), 0x41, 34, EQ, IF, K(1), RETURN, END,
         K(2), END),
    /* the store before the load stays done when the load traps */
    CASE("store then load8 trap", OP_LD8U_BRI_NE, NO_LOCALS, K(40), GET(1), STORE8(0), BLOCK, GET(0), LOAD8_U(0),
         0x41, 7, NE, BR_IF(0), K(1), RETURN, END, K(2), END),
    CASE("and itself", OP_BR_ANDI_NZ, NO_LOCALS, BLOCK, GET(0), 0x41, 0x80, 0x01, AND, BR_IF(0), K(1), RETURN, END,
         K(2), END),
    CASE("and wide mask", OP_BR_ANDI_NZ, NO_LOCALS, BLOCK, GET(0), 0x41, 0x80, 0x81, 0x82, 0x84, 0x78, AND, BR_IF(0),
         K(1), RETURN, END, K(2), END),
    CASE("and eqz", OP_BR_ANDI_Z, NO_LOCALS, BLOCK, GET(0), K(4), AND, EQZ, BR_IF(0), K(1), RETURN, END, K(2), END),
    /* the masked value lives on in a local */
    CASE("and tee eqz", OP_BR_ANDI_Z, ONE_LOCAL, BLOCK, GET(0), K(12), AND, TEE(2), EQZ, BR_IF(0), K(1), SET(2), END,
         GET(2), END),
    CASE("and eq 0", OP_BR_ANDI_NZ, NO_LOCALS, BLOCK, GET(0), K(6), AND, K(0), EQ, IF, K(1), RETURN, END, END, K(2),
         END),
    CASE("and under if", OP_BR_ANDI_Z, NO_LOCALS, GET(0), K(1), AND, IF, K(1), RETURN, END, K(2), END),
    /* switch (x - 98) { case 0: 10; case 1: 11; default: 12 } */
    CASE("br_table on a biased index", OP_BR_TABLE_ADDI, NO_LOCALS, BLOCK, BLOCK, BLOCK, GET(0), 0x41, 0x9e, 0x7f,
         ADD, 0x0e, 2, 0, 1, 2, END, K(10), RETURN, END, K(11), RETURN, END, K(12), END),
    /* *x = l2 = y + 1; l2 */
    CASE("add then store the sum", OP_I32_ADDI_STORE, ONE_LOCAL, GET(0), GET(1), K(1), ADD, TEE(2), STORE(0),
         GET(2), END),
    CASE("add then store the sum, offset", OP_I32_ADDI_STORE, NO_LOCALS, GET(0), GET(1), K(5), ADD, STORE(8), K(0),
         END),
    /* mem[x + y + 3] = 42 */
    CASE("store8 base+index", OP_I32_STORE8_RR, NO_LOCALS, GET(0), GET(1), ADD, 0x41, 42, STORE8(3), K(0), END),
    CASE("store base+index", OP_I32_STORE_RR, NO_LOCALS, GET(0), GET(1), ADD, GET(1), STORE(2), K(0), END),
    CASE("load8 base+index", OP_I32_LOAD8_U_RR, NO_LOCALS, GET(0), GET(1), ADD, LOAD8_U(1), END),
    /* y cmp mem[x] and mem[x + 4] cmp y (the compare mirrored) for every
     * i32 compare, then under an if (the compare inverted) */
#define LD_BR_CASES(name, opc, op, mirrored) \
    CASE("load then " name " on it", op, NO_LOCALS, BLOCK, GET(1), GET(0), LOAD(0), opc, BR_IF(0), K(1), RETURN, \
         END, K(2), END), \
    CASE("load then " name " on it, loaded left", mirrored, ONE_LOCAL, BLOCK, GET(0), LOAD(4), TEE(2), GET(1), opc, \
         BR_IF(0), K(1), SET(2), END, GET(2), END)
    LD_BR_CASES("eq", 0x46, OP_LD_BR_I32_EQ, OP_LD_BR_I32_EQ),
    LD_BR_CASES("ne", 0x47, OP_LD_BR_I32_NE, OP_LD_BR_I32_NE),
    LD_BR_CASES("lt_s", 0x48, OP_LD_BR_I32_LT_S, OP_LD_BR_I32_GT_S),
    LD_BR_CASES("lt_u", 0x49, OP_LD_BR_I32_LT_U, OP_LD_BR_I32_GT_U),
    LD_BR_CASES("gt_s", 0x4a, OP_LD_BR_I32_GT_S, OP_LD_BR_I32_LT_S),
    LD_BR_CASES("gt_u", 0x4b, OP_LD_BR_I32_GT_U, OP_LD_BR_I32_LT_U),
    LD_BR_CASES("le_s", 0x4c, OP_LD_BR_I32_LE_S, OP_LD_BR_I32_GE_S),
    LD_BR_CASES("le_u", 0x4d, OP_LD_BR_I32_LE_U, OP_LD_BR_I32_GE_U),
    LD_BR_CASES("ge_s", 0x4e, OP_LD_BR_I32_GE_S, OP_LD_BR_I32_LE_S),
    LD_BR_CASES("ge_u", 0x4f, OP_LD_BR_I32_GE_U, OP_LD_BR_I32_LE_U),
    /* *(y + 16) = *(x + 1), 8, 4 and 1 bytes, plain and wrapping addresses */
    CASE("copy i64", OP_COPY64, NO_LOCALS, GET(1), GET(0), 0x29, 3, 1, 0x37, 3, 16, K(0), END),
    CASE("copy i32, wrapping addresses", OP_COPY32W, NO_LOCALS, GET(1), K(2), ADD, GET(0), K(3), ADD, LOAD(0),
         STORE(0), K(0), END),
    CASE("copy byte", OP_COPY8, NO_LOCALS, GET(1), GET(0), LOAD8_U(0), STORE8(4), K(0), END),
    CASE("copy f64, wrapping addresses", OP_COPY64W, NO_LOCALS, GET(1), K(9), ADD, GET(0), K(1), ADD, 0x2b, 3, 0,
         0x39, 3, 0, K(0), END),
    CASE("load then lt_u under if", OP_LD_BR_I32_GE_U, NO_LOCALS, GET(1), GET(0), LOAD(0), 0x49, IF, K(1), RETURN,
         END, K(2), END),
};
#define NCASES (sizeof cases / sizeof cases[0])

/* Self-loops of one fused branch: spin while mem[x] != 7 / while x is odd. */
static const fcase_t spins[] = {
    CASE("load8 spin", OP_LD8U_BRI_NE, NO_LOCALS, LOOP, GET(0), LOAD8_U(0), K(7), NE, BR_IF(0), END, K(0), END),
    CASE("and spin", OP_BR_ANDI_NZ, NO_LOCALS, LOOP, GET(0), K(1), AND, BR_IF(0), END, K(0), END),
    /* while (y != *(x + 12)): mem[13..16] is not zero, mem[16..19] is */
    CASE("load spin", OP_LD_BR_I32_NE, NO_LOCALS, LOOP, GET(1), GET(0), LOAD(12), NE, BR_IF(0), END, K(0), END),
};
#define NSPINS (sizeof spins / sizeof spins[0])
#define NFUNCS (NCASES + NSPINS)

static const fcase_t *func_case(uint32_t i) { return i < NCASES ? &cases[i] : &spins[i - NCASES]; }

/* Memory contents at the start of every call: the bytes tokenizers test. */
static const uint8_t data[] = {'a', '"', '\\', 0, 7, 0xff, 0x80, '"', 'z', 7, 34, 92, 0, 1, 2, 3};

static bytes_t build_module(void)
{
    bytes_t mod = {0}, sec = {0};
    mb_put_header(&mod);
    /* type 0: (i32 i32) -> i32 */
    mb_put_u32(&sec, 1);
    mb_put(&sec, 0x60), mb_put_u32(&sec, 2), mb_put(&sec, 0x7f), mb_put(&sec, 0x7f), mb_put_u32(&sec, 1), mb_put(&sec, 0x7f);
    mb_put_section(&mod, 1, &sec);
    mb_put_func_section(&mod, &sec, NFUNCS, NULL);
    mb_put_u32(&sec, 1), mb_put(&sec, 0), mb_put_u32(&sec, 1); /* memory 1 page */
    mb_put_section(&mod, 5, &sec);
    mb_put_export_section(&mod, &sec, NFUNCS);
    mb_put_u32(&sec, NFUNCS);
    for (uint32_t i = 0; i < NFUNCS; i++) {
        const fcase_t *c = func_case(i);
        mb_put_u32(&sec, (uint32_t)c->n);
        mb_put_ops(&sec, c->body, c->n);
    }
    mb_put_section(&mod, 10, &sec);
    free(sec.p);
    return mod;
}

typedef mb_pair_t fixture_t;

static int setup(void **state)
{
    *state = mb_pair_load(build_module());
    return 0;
}

static int teardown(void **state)
{
    mb_pair_free(*state);
    return 0;
}

static wasm_instance_t *instantiate(fixture_t *f, const wasm_module_t *m) { return mb_instantiate(f, m, NULL); }

static wasm_status_t call(wasm_instance_t *inst, uint32_t idx, int32_t x, int32_t y, const wasm_call_opts_t *opts,
                          int32_t *out, wasm_trap_t *trap)
{
    wasm_func_t *fn = mb_export(inst, idx);
    uint8_t *mem = wasm_memory_ptr(inst, 0, WASM_PAGE_SIZE);
    assert_non_null(mem);
    memset(mem, 0, WASM_PAGE_SIZE);
    memcpy(mem, data, sizeof data);
    mem[WASM_PAGE_SIZE - 1] = '"'; /* the last byte in bounds */
    wasm_val_t a[2] = {{.type = WASM_I32, .of.i32 = x}, {.type = WASM_I32, .of.i32 = y}}, r = {0};
    err_t err = {{0}};
    wasm_status_t st = wasm_func_call(inst, fn, a, 2, &r, 1, opts, trap, &err);
    *out = r.of.i32;
    return st;
}

/* Whether the function's code contains op (scanning every cell: an
 * immediate never equals a handler address). */
static bool contains_op(const wasm_module_t *m, uint32_t idx, int op)
{
    const void *h = wasm_interp_handlers()[op];
    const wcode_t *w = &m->funcs[idx].code;
    for (uint32_t i = 0; i < w->ncode; i++)
        if (w->code[i].h == h)
            return true;
    return false;
}

static void test_each_shape_emits_its_fused_instruction(void **state)
{
    fixture_t *f = *state;
    for (uint32_t i = 0; i < NFUNCS; i++) {
        const fcase_t *c = func_case(i);
        if (!contains_op(f->opt, i, c->op))
            fail_msg("%s: fused instruction not emitted", c->name);
        if (contains_op(f->plain, i, c->op))
            fail_msg("%s: the plain translation fuses", c->name);
    }
}

static void test_fused_shapes_equal_the_plain_translation(void **state)
{
    fixture_t *f = *state;
    static const int32_t xs[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 0x7f, 0x80, 0x81, 0x100,
                                 97, 98, 99, 100, (int32_t)0x80808080u, 65530, 65531, 65532, 65533, 65534,
                                 65535, 65536, 65537, -1, -2, -3, -4, -96, -97, -98, -99, INT32_MAX, INT32_MIN};
    /* ... and two words of data: 'a' '"' '\\' 0 at 0, '\\' 0 7 0xff at 2 */
    static const int32_t ys[] = {0, 1, 34, -1, 0x005c2261, (int32_t)0xff07005cu};
    wasm_instance_t *io = instantiate(f, f->opt), *ip = instantiate(f, f->plain);
    for (uint32_t idx = 0; idx < NCASES; idx++) {
        for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
            for (size_t j = 0; j < sizeof ys / sizeof ys[0]; j++) {
                int32_t ro = 0, rp = 0;
                wasm_trap_t to = {0}, tp = {0};
                wasm_status_t so = call(io, idx, xs[i], ys[j], NULL, &ro, &to);
                wasm_status_t sp = call(ip, idx, xs[i], ys[j], NULL, &rp, &tp);
                const char *what = cases[idx].name;
                if (so != sp)
                    fail_msg("%s (%d, %d): status %d, plain %d", what, xs[i], ys[j], so, sp);
                if (so == WASM_OK && ro != rp)
                    fail_msg("%s (%d, %d): fused %d, plain %d", what, xs[i], ys[j], ro, rp);
                if (so == WASM_TRAPPED && to.kind != tp.kind)
                    fail_msg("%s (%d, %d): trap %d, plain %d", what, xs[i], ys[j], to.kind, tp.kind);
                if (memcmp(wasm_memory_ptr(io, 0, WASM_PAGE_SIZE), wasm_memory_ptr(ip, 0, WASM_PAGE_SIZE),
                           WASM_PAGE_SIZE) != 0)
                    fail_msg("%s (%d, %d): memory differs from the plain translation", what, xs[i], ys[j]);
            }
        }
    }
    wasm_instance_free(io);
    wasm_instance_free(ip);
}

static void test_fused_self_loops_are_interrupted(void **state)
{
    fixture_t *f = *state;
    wasm_instance_t *inst = instantiate(f, f->opt);
    for (uint32_t k = 0; k < NSPINS; k++) {
        uint32_t idx = (uint32_t)NCASES + k;
        int32_t r;
        wasm_trap_t trap;
        /* x = 1: mem[1] is '"', not 7, and 1 is odd: all spin forever */
        wasm_call_opts_t fuel = {.fuel = 100000};
        if (call(inst, idx, 1, 0, &fuel, &r, &trap) != WASM_INTERRUPTED)
            fail_msg("%s: not interrupted by fuel", spins[k].name);
        wasm_call_opts_t deadline = {.deadline_ns = wasm_now_ns() + 20ull * 1000000ull};
        if (call(inst, idx, 1, 0, &deadline, &r, &trap) != WASM_INTERRUPTED)
            fail_msg("%s: not interrupted by the deadline", spins[k].name);
        /* and the loop still ends: mem[4] is 7, 4 is even */
        assert_int_equal(call(inst, idx, 4, 0, NULL, &r, &trap), WASM_OK);
    }
    wasm_instance_free(inst);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_shape_emits_its_fused_instruction),
        cmocka_unit_test(test_fused_shapes_equal_the_plain_translation),
        cmocka_unit_test(test_fused_self_loops_are_interrupted),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
