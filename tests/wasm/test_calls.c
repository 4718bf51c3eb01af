/*
 * test_calls — the call/return path and the loop-increment fusion:
 *  - i = i + k; i <cmp> y; br_if (or if) becomes one ADDI_BR(I)_<cmp>
 *    (compile.c addi_cmp_branch) for every compare, y a local or a small
 *    constant, and computes what the plain translation computes on edge
 *    values, i32 wrap-around included;
 *  - a one-instruction loop made of that fused op is still interrupted
 *    (fuel and deadline);
 *  - a value computed right before a return is written to the result slot
 *    (RETURN0), recursion through it gives the plain results, and deep
 *    recursion is the "call stack exhausted" trap at the configured depth;
 *  - a loop-free recursion (fib) is interrupted by fuel and by a deadline;
 *  - the dropped "local.set x (i32.const 0)" of a fresh local stays in
 *    place inside a loop, where the local may hold an earlier iteration's
 *    value.
 *
 * The module is encoded here byte by byte, so each body is exactly the
 * instruction sequence under test.
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

/* i32.eq .. i32.ge_u, in the order of OP_I32_EQ .. OP_I32_GE_U */
static const uint8_t cmp_opc[] = {0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f};
#define NCMP (sizeof cmp_opc / sizeof cmp_opc[0])
static const int32_t addends[] = {-2, 0x40000001};
#define NADD (sizeof addends / sizeof addends[0])

enum { Y_LOCAL, Y_IMM, IF_IMM, NSHAPES };
#define NFUSED ((uint32_t)(NSHAPES * NCMP * NADD))
enum { F_SPIN = NFUSED, F_SUM, F_FIB, F_LOOPZERO, NFUNCS };

static uint32_t fused_index(int shape, unsigned ci, unsigned ai)
{
    return ((uint32_t)shape * NCMP + ci) * NADD + ai;
}

/* (i32 x, i32 n) -> i32:
 *   block  x = x + K; br_if 0 (x cmp y)  x = x + 1000  end  x
 * or with `if` (the compare inverted into the skip branch):
 *   x = x + K; if (x cmp 13) x = x + 1000 end  x */
static void put_fused_body(bytes_t *f, int shape, uint8_t cmp, int32_t k)
{
    mb_put(f, 0); /* no locals beyond the params */
    if (shape != IF_IMM)
        mb_put(f, 0x02), mb_put(f, 0x40);
    mb_put(f, 0x20), mb_put(f, 0);
    mb_put(f, 0x41), mb_put_s32(f, k);
    mb_put(f, 0x6a);
    mb_put(f, 0x22), mb_put(f, 0); /* local.tee 0 */
    if (shape == Y_LOCAL)
        mb_put(f, 0x20), mb_put(f, 1);
    else
        mb_put(f, 0x41), mb_put_s32(f, 13);
    mb_put(f, cmp);
    if (shape == IF_IMM)
        mb_put(f, 0x04), mb_put(f, 0x40);
    else
        mb_put(f, 0x0d), mb_put(f, 0);
    static const uint8_t add1000[] = {0x20, 0, 0x41, 0xe8, 0x07, 0x6a, 0x21, 0}; /* x = x + 1000 */
    mb_put_ops(f, add1000, sizeof add1000);
    mb_put(f, 0x0b);
    mb_put(f, 0x20), mb_put(f, 0);
    mb_put(f, 0x0b);
}

static void put_body(bytes_t *code, uint32_t idx)
{
    bytes_t f = {0};
    if (idx < NFUSED) {
        unsigned ai = idx % NADD, ci = (idx / NADD) % NCMP;
        put_fused_body(&f, (int)(idx / (NADD * NCMP)), cmp_opc[ci], addends[ai]);
    } else if (idx == F_SPIN) {
        /* loop  x = x + 1; br_if 0 (x != 0)  end  x: the fused op is the
         * whole loop and branches to itself */
        static const uint8_t b[] = {0, 0x03, 0x40, 0x20, 0, 0x41, 1, 0x6a, 0x22, 0, 0x41, 0, 0x47, 0x0d, 0, 0x0b,
                                    0x20, 0, 0x0b};
        mb_put_ops(&f, b, sizeof b);
    } else if (idx == F_SUM) {
        /* n == 0 ? 0 : sum(n - 1) + n, the add written to the result slot */
        static const uint8_t b1[] = {0, 0x20, 0, 0x45, 0x04, 0x40, 0x41, 0, 0x0f, 0x0b, 0x20, 0, 0x41, 0x7f, 0x6a, 0x10};
        mb_put_ops(&f, b1, sizeof b1);
        mb_put_u32(&f, F_SUM);
        static const uint8_t b2[] = {0x20, 0, 0x6a, 0x0b};
        mb_put_ops(&f, b2, sizeof b2);
    } else if (idx == F_FIB) {
        /* n < 2 ? n : fib(n - 1) + fib(n - 2): no loop at all */
        static const uint8_t b1[] = {0, 0x20, 0, 0x41, 2, 0x49, 0x04, 0x40, 0x20, 0, 0x0f, 0x0b,
                                     0x20, 0, 0x41, 0x7f, 0x6a, 0x10};
        mb_put_ops(&f, b1, sizeof b1);
        mb_put_u32(&f, F_FIB);
        static const uint8_t b2[] = {0x20, 0, 0x41, 0x7e, 0x6a, 0x10};
        mb_put_ops(&f, b2, sizeof b2);
        mb_put_u32(&f, F_FIB);
        mb_put(&f, 0x6a), mb_put(&f, 0x0b);
    } else {
        /* locals x (2), acc (3):
         * loop  acc += x; x = 0; if (n & 1) x = 5; end; br_if 0 (n = n - 1)  end  acc */
        static const uint8_t b[] = {1, 2, 0x7f,
                                    0x03, 0x40,
                                    0x20, 3, 0x20, 2, 0x6a, 0x21, 3,
                                    0x41, 0, 0x21, 2,
                                    0x20, 0, 0x41, 1, 0x71, 0x04, 0x40, 0x41, 5, 0x21, 2, 0x0b,
                                    0x20, 0, 0x41, 0x7f, 0x6a, 0x22, 0, 0x0d, 0,
                                    0x0b,
                                    0x20, 3, 0x0b};
        mb_put_ops(&f, b, sizeof b);
    }
    mb_put_u32(code, (uint32_t)f.n);
    mb_put_bytes(code, &f);
    free(f.p);
}

static uint32_t func_type(uint32_t idx) { return idx == F_SPIN || idx == F_SUM || idx == F_FIB ? 1 : 0; }

static bytes_t build_module(void)
{
    bytes_t mod = {0}, sec = {0};
    mb_put_header(&mod);
    /* type 0: (i32 i32) -> i32, type 1: (i32) -> i32 */
    mb_put_u32(&sec, 2);
    mb_put(&sec, 0x60), mb_put_u32(&sec, 2), mb_put(&sec, 0x7f), mb_put(&sec, 0x7f), mb_put_u32(&sec, 1), mb_put(&sec, 0x7f);
    mb_put(&sec, 0x60), mb_put_u32(&sec, 1), mb_put(&sec, 0x7f), mb_put_u32(&sec, 1), mb_put(&sec, 0x7f);
    mb_put_section(&mod, 1, &sec);
    mb_put_func_section(&mod, &sec, NFUNCS, func_type);
    mb_put_export_section(&mod, &sec, NFUNCS);
    mb_put_u32(&sec, NFUNCS);
    for (uint32_t i = 0; i < NFUNCS; i++)
        put_body(&sec, i);
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

static wasm_instance_t *instantiate(fixture_t *f, const wasm_module_t *m, const wasm_limits_t *limits)
{
    return mb_instantiate(f, m, limits);
}

static wasm_status_t call(wasm_instance_t *inst, uint32_t idx, const int32_t *args, uint32_t nargs,
                          const wasm_call_opts_t *opts, int32_t *out, wasm_trap_t *trap)
{
    wasm_func_t *fn = mb_export(inst, idx);
    wasm_val_t a[2], r = {0};
    for (uint32_t i = 0; i < nargs; i++)
        a[i] = (wasm_val_t){.type = WASM_I32, .of.i32 = args[i]};
    err_t err = {{0}};
    wasm_status_t st = wasm_func_call(inst, fn, a, nargs, &r, 1, opts, trap, &err);
    *out = r.of.i32;
    return st;
}

static const cell_t *code_of(const wasm_module_t *m, uint32_t idx) { return m->funcs[idx].code.code; }

static void test_add_then_compare_branch_emits_one_fused_instruction(void **state)
{
    fixture_t *f = *state;
    const void *const *h = wasm_interp_handlers();
    for (int shape = 0; shape < NSHAPES; shape++) {
        for (unsigned ci = 0; ci < NCMP; ci++) {
            for (unsigned ai = 0; ai < NADD; ai++) {
                uint32_t idx = fused_index(shape, ci, ai);
                /* `if` skips its arm on the inverted compare */
                int cmp = OP_I32_EQ + (int)ci;
                if (shape == IF_IMM) {
                    static const int inv[] = {1, 0, 8, 9, 6, 7, 4, 5, 2, 3};
                    cmp = OP_I32_EQ + inv[ci];
                }
                int base = shape == Y_LOCAL ? OP_ADDI_BR_I32_EQ : OP_ADDI_BRI_I32_EQ;
                const void *want = h[base + (cmp - OP_I32_EQ)];
                if (code_of(f->opt, idx)[0].h != want)
                    fail_msg("shape %d, compare %u, addend %d: not fused", shape, ci, addends[ai]);
                assert_ptr_not_equal(code_of(f->plain, idx)[0].h, want);
            }
        }
    }
    assert_ptr_equal(code_of(f->opt, F_SPIN)[0].h, h[OP_ADDI_BRI_I32_NE]);
}

static void test_fused_results_equal_the_plain_translation(void **state)
{
    fixture_t *f = *state;
    static const int32_t edge[] = {0, 1, 2, 11, 12, 13, 14, 15, -1, -2, -13, INT32_MAX, INT32_MAX - 1,
                                   INT32_MIN, INT32_MIN + 1, 0x3fffffff, -0x40000001, (int32_t)0xbfffffffu};
    const size_t nedge = sizeof edge / sizeof edge[0];
    wasm_instance_t *io = instantiate(f, f->opt, NULL), *ip = instantiate(f, f->plain, NULL);
    for (uint32_t idx = 0; idx < NFUSED; idx++) {
        for (size_t i = 0; i < nedge; i++) {
            for (size_t j = 0; j < nedge; j++) {
                int32_t args[2] = {edge[i], edge[j]}, ro, rp;
                wasm_trap_t trap;
                assert_int_equal(call(io, idx, args, 2, NULL, &ro, &trap), WASM_OK);
                assert_int_equal(call(ip, idx, args, 2, NULL, &rp, &trap), WASM_OK);
                if (ro != rp)
                    fail_msg("f%u(%d, %d): fused %d, plain %d", idx, args[0], args[1], ro, rp);
            }
        }
    }
    wasm_instance_free(io);
    wasm_instance_free(ip);
}

static void test_fused_self_loop_is_interrupted_by_fuel_and_deadline(void **state)
{
    fixture_t *f = *state;
    wasm_instance_t *inst = instantiate(f, f->opt, NULL);
    int32_t arg = 1, r;
    wasm_trap_t trap;
    wasm_call_opts_t fuel = {.fuel = 100000};
    assert_int_equal(call(inst, F_SPIN, &arg, 1, &fuel, &r, &trap), WASM_INTERRUPTED);
    /* 2^32 - 1 iterations would take seconds */
    wasm_call_opts_t deadline = {.deadline_ns = wasm_now_ns() + 50ull * 1000000ull};
    assert_int_equal(call(inst, F_SPIN, &arg, 1, &deadline, &r, &trap), WASM_INTERRUPTED);
    /* the loop itself still runs: from -3 it stops at 0 */
    arg = -3;
    assert_int_equal(call(inst, F_SPIN, &arg, 1, NULL, &r, &trap), WASM_OK);
    assert_int_equal(r, 0);
    wasm_instance_free(inst);
}

static void test_value_before_return_goes_to_the_result_slot(void **state)
{
    fixture_t *f = *state;
    const void *const *h = wasm_interp_handlers();
    const wcode_t *w = &f->opt->funcs[F_SUM].code;
    /* ... I32_ADD 0 <- 0 + result; RETURN0 */
    assert_ptr_equal(w->code[w->ncode - 1].h, h[OP_RETURN0]);
    assert_ptr_equal(w->code[w->ncode - 3].h, h[OP_I32_ADD]);
    assert_int_equal(w->code[w->ncode - 2].u & 0xffff, 0);
    wasm_instance_t *io = instantiate(f, f->opt, NULL), *ip = instantiate(f, f->plain, NULL);
    static const int32_t ns[] = {0, 1, 2, 100, 999, 5000};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        int32_t ro, rp;
        wasm_trap_t trap;
        assert_int_equal(call(io, F_SUM, &ns[i], 1, NULL, &ro, &trap), WASM_OK);
        assert_int_equal(call(ip, F_SUM, &ns[i], 1, NULL, &rp, &trap), WASM_OK);
        assert_int_equal(ro, rp);
        assert_int_equal(ro, (int32_t)((int64_t)ns[i] * (ns[i] + 1) / 2));
    }
    wasm_instance_free(io);
    wasm_instance_free(ip);
}

static void test_deep_recursion_traps_at_the_depth_limit(void **state)
{
    fixture_t *f = *state;
    wasm_limits_t limits = {.max_call_depth = 100};
    const wasm_module_t *mods[2] = {f->opt, f->plain};
    for (int m = 0; m < 2; m++) {
        wasm_instance_t *inst = instantiate(f, mods[m], &limits);
        int32_t r, n;
        wasm_trap_t trap;
        /* sum(n) makes n nested calls */
        n = 100;
        assert_int_equal(call(inst, F_SUM, &n, 1, NULL, &r, &trap), WASM_OK);
        assert_int_equal(r, 5050);
        n = 101;
        assert_int_equal(call(inst, F_SUM, &n, 1, NULL, &r, &trap), WASM_TRAPPED);
        assert_int_equal(trap.kind, WASM_TRAP_STACK_EXHAUSTED);
        /* the instance is usable again and the depth count starts over */
        n = 100;
        assert_int_equal(call(inst, F_SUM, &n, 1, NULL, &r, &trap), WASM_OK);
        assert_int_equal(r, 5050);
        wasm_instance_free(inst);
    }
    /* the default limit: a trap, not a crash */
    wasm_instance_t *inst = instantiate(f, f->opt, NULL);
    int32_t r, n = 1000000;
    wasm_trap_t trap;
    assert_int_equal(call(inst, F_SUM, &n, 1, NULL, &r, &trap), WASM_TRAPPED);
    assert_int_equal(trap.kind, WASM_TRAP_STACK_EXHAUSTED);
    wasm_instance_free(inst);
}

static void test_loop_free_recursion_is_interrupted(void **state)
{
    fixture_t *f = *state;
    wasm_instance_t *inst = instantiate(f, f->opt, NULL);
    int32_t r, n = 20;
    wasm_trap_t trap;
    assert_int_equal(call(inst, F_FIB, &n, 1, NULL, &r, &trap), WASM_OK);
    assert_int_equal(r, 6765);
    n = 40; /* ~330 million calls: seconds */
    wasm_call_opts_t fuel = {.fuel = 10000};
    assert_int_equal(call(inst, F_FIB, &n, 1, &fuel, &r, &trap), WASM_INTERRUPTED);
    wasm_call_opts_t deadline = {.deadline_ns = wasm_now_ns() + 50ull * 1000000ull};
    assert_int_equal(call(inst, F_FIB, &n, 1, &deadline, &r, &trap), WASM_INTERRUPTED);
    wasm_instance_free(inst);
}

static void test_zero_store_to_fresh_local_stays_inside_a_loop(void **state)
{
    fixture_t *f = *state;
    wasm_instance_t *io = instantiate(f, f->opt, NULL), *ip = instantiate(f, f->plain, NULL);
    for (int32_t n = 1; n <= 9; n++) {
        /* what the body computes, spelled out */
        int32_t x = 0, acc = 0;
        for (int32_t k = n; k != 0; k--) {
            acc += x;
            x = (k & 1) ? 5 : 0;
        }
        int32_t args[2] = {n, 0}, ro, rp;
        wasm_trap_t trap;
        assert_int_equal(call(io, F_LOOPZERO, args, 2, NULL, &ro, &trap), WASM_OK);
        assert_int_equal(call(ip, F_LOOPZERO, args, 2, NULL, &rp, &trap), WASM_OK);
        assert_int_equal(rp, acc);
        assert_int_equal(ro, acc);
    }
    wasm_instance_free(io);
    wasm_instance_free(ip);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_then_compare_branch_emits_one_fused_instruction),
        cmocka_unit_test(test_fused_results_equal_the_plain_translation),
        cmocka_unit_test(test_fused_self_loop_is_interrupted_by_fuel_and_deadline),
        cmocka_unit_test(test_value_before_return_goes_to_the_result_slot),
        cmocka_unit_test(test_deep_recursion_traps_at_the_depth_limit),
        cmocka_unit_test(test_loop_free_recursion_is_interrupted),
        cmocka_unit_test(test_zero_store_to_fresh_local_stays_inside_a_loop),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
