/*
 * test_chains — the compiler's chained i32 binops (ops.h WASM_CHAINS,
 * compile.c chain_binop): for every (first, second) pair, with the
 * temporary as the left and as the right operand of the second op, and
 * with the first op's immediate forms, the optimized translation must
 * (a) emit the chained instruction and (b) compute what the plain
 * translation computes, on edge-value inputs.
 *
 * The module is encoded here, byte by byte, so that each function body is
 * exactly the instruction sequence under test (a WAT compiler would be free
 * to reorder nothing, but the intent is clearer spelled out).
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

/* The order of WASM_CHAIN_FIRSTS and of the chains' second ops. */
static const uint8_t first_opc[WASM_CHAIN_NFIRST] = {
    0x6a /* add */, 0x6b /* sub */, 0x6c /* mul */, 0x71 /* and */, 0x72 /* or */, 0x73 /* xor */,
    0x74 /* shl */, 0x75 /* shr_s */, 0x76 /* shr_u */, 0x77 /* rotl */, 0x78 /* rotr */,
};
static const uint8_t second_opc[] = {0x6a /* add */, 0x6b /* sub */, 0x71 /* and */, 0x72 /* or */, 0x73 /* xor */};
#define NSECOND (sizeof second_opc / sizeof second_opc[0])

/* Function shapes, each (i32 x, i32 y, i32 z) -> i32. */
enum {
    TEMP_LEFT,  /* (x first y) second z */
    TEMP_RIGHT, /* z second (x first y) */
    IMM_FIRST,  /* (x first 13) second z: immediate forms where they exist */
    IMM_SECOND, /* (x first y) second 13: the mask of (x >> k) & m */
    NSHAPES
};

static void put_body(bytes_t *code, int shape, uint8_t first, uint8_t second)
{
    bytes_t f = {0};
    mb_put(&f, 0); /* no locals beyond the params */
    if (shape == TEMP_RIGHT) {
        mb_put(&f, 0x20), mb_put(&f, 2);
    }
    mb_put(&f, 0x20), mb_put(&f, 0);
    if (shape == IMM_FIRST) {
        mb_put(&f, 0x41), mb_put(&f, 13);
    } else {
        mb_put(&f, 0x20), mb_put(&f, 1);
    }
    mb_put(&f, first);
    if (shape == IMM_SECOND) {
        mb_put(&f, 0x41), mb_put(&f, 13);
    } else if (shape != TEMP_RIGHT) {
        mb_put(&f, 0x20), mb_put(&f, 2);
    }
    mb_put(&f, second);
    mb_put(&f, 0x0b);
    mb_put_u32(code, (uint32_t)f.n);
    mb_put_bytes(code, &f);
    free(f.p);
}

static uint32_t nfuncs(void) { return (uint32_t)(WASM_CHAIN_NFIRST * NSECOND * NSHAPES); }

static uint32_t func_index(int shape, unsigned fi, unsigned si)
{
    return ((uint32_t)shape * NSECOND + si) * WASM_CHAIN_NFIRST + fi;
}

static bytes_t build_module(void)
{
    bytes_t mod = {0}, sec = {0};
    mb_put_header(&mod);
    /* type 0: (i32 i32 i32) -> i32 */
    mb_put_u32(&sec, 1);
    mb_put(&sec, 0x60), mb_put_u32(&sec, 3), mb_put(&sec, 0x7f), mb_put(&sec, 0x7f), mb_put(&sec, 0x7f);
    mb_put_u32(&sec, 1), mb_put(&sec, 0x7f);
    mb_put_section(&mod, 1, &sec);
    mb_put_func_section(&mod, &sec, nfuncs(), NULL);
    mb_put_export_section(&mod, &sec, nfuncs());
    mb_put_u32(&sec, nfuncs());
    for (int shape = 0; shape < NSHAPES; shape++)
        for (unsigned si = 0; si < NSECOND; si++)
            for (unsigned fi = 0; fi < WASM_CHAIN_NFIRST; fi++)
                put_body(&sec, shape, first_opc[fi], second_opc[si]);
    mb_put_section(&mod, 10, &sec);
    free(sec.p);
    return mod;
}

typedef struct fixture {
    mb_pair_t *pair;
    wasm_instance_t *iopt, *iplain;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->pair = mb_pair_load(build_module());
    f->iopt = mb_instantiate(f->pair, f->pair->opt, NULL);
    f->iplain = mb_instantiate(f->pair, f->pair->plain, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    wasm_instance_free(f->iopt);
    wasm_instance_free(f->iplain);
    mb_pair_free(f->pair);
    free(f);
    return 0;
}

/* The handler of the first instruction of function `idx`'s compiled code. */
static const void *first_handler(const wasm_module_t *m, uint32_t idx)
{
    return m->funcs[idx].code.code[0].h;
}

static void test_every_pair_emits_a_chained_instruction(void **state)
{
    fixture_t *f = *state;
    const void *const *h = wasm_interp_handlers();
    for (int shape = 0; shape < NSHAPES; shape++) {
        for (unsigned si = 0; si < NSECOND; si++) {
            for (unsigned fi = 0; fi < WASM_CHAIN_NFIRST; fi++) {
                uint32_t idx = func_index(shape, fi, si);
                bool sub_right = shape == TEMP_RIGHT && second_opc[si] == 0x6b;
                /* z - temp does not chain (subtraction does not commute);
                 * temp + 13 stays a lazy address computation a load may
                 * absorb, and temp - 13 is temp + (-13) */
                bool want = !sub_right && !(shape == IMM_SECOND && (second_opc[si] == 0x6a || second_opc[si] == 0x6b));
                /* x - 13 is compiled as x + (-13) */
                unsigned efi = shape == IMM_FIRST && first_opc[fi] == 0x6b ? 0 : fi;
                const void *expect = h[OP_CH_ADD_ADD + si * WASM_CHAIN_NFIRST + efi];
                if (want && first_handler(f->pair->opt, idx) != expect)
                    fail_msg("shape %d, first op %u, second op %u: not chained", shape, fi, si);
                if (!want && first_handler(f->pair->opt, idx) == expect)
                    fail_msg("z - (x op y) must not chain");
                /* the oracle never chains */
                assert_ptr_not_equal(first_handler(f->pair->plain, idx), expect);
            }
        }
    }
}

static void test_chained_results_equal_the_plain_translation(void **state)
{
    fixture_t *f = *state;
    static const uint32_t edge[] = {0, 1, 2, 7, 13, 31, 32, 33, 63, 0x7fffffff, 0x80000000u, 0xffffffffu,
                                    0xdeadbeefu, 0x12345678u, 0xfffffff0u};
    const size_t nedge = sizeof edge / sizeof edge[0];
    unsigned checked = 0;
    for (uint32_t idx = 0; idx < nfuncs(); idx++) {
        wasm_func_t *fo = mb_export(f->iopt, idx);
        wasm_func_t *fp = mb_export(f->iplain, idx);
        for (size_t i = 0; i < nedge; i++) {
            for (size_t j = 0; j < nedge; j++) {
                uint32_t z = edge[(i * 7 + j * 3) % nedge];
                wasm_val_t args[3] = {
                    {.type = WASM_I32, .of.i32 = (int32_t)edge[i]},
                    {.type = WASM_I32, .of.i32 = (int32_t)edge[j]},
                    {.type = WASM_I32, .of.i32 = (int32_t)z},
                };
                wasm_val_t ro, rp;
                wasm_trap_t trap;
                err_t err = {{0}};
                assert_int_equal(wasm_func_call(f->iopt, fo, args, 3, &ro, 1, NULL, &trap, &err), WASM_OK);
                assert_int_equal(wasm_func_call(f->iplain, fp, args, 3, &rp, 1, NULL, &trap, &err), WASM_OK);
                if (ro.of.i32 != rp.of.i32)
                    fail_msg("f%u(%#x, %#x, %#x): chained %#x, plain %#x", idx, edge[i], edge[j], z,
                             (unsigned)ro.of.i32, (unsigned)rp.of.i32);
                checked++;
            }
        }
    }
    assert_int_equal(checked, nfuncs() * nedge * nedge);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_pair_emits_a_chained_instruction),
        cmocka_unit_test(test_chained_results_equal_the_plain_translation),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
