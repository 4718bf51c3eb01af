/* wasm_diff — the differential check of fuzz_wasm_diff (see wasm_harness.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasm/wasm.h"
#include "wasm/wasm_internal.h"
#include "wasm_harness.h"

static void disagree(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_wasm_diff: optimized and plain translations disagree: %s%s%s\n", what,
            detail ? ": " : "", detail ? detail : "");
    abort();
}

static bool same_value(const wasm_val_t *a, const wasm_val_t *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case WASM_I32: return a->of.i32 == b->of.i32;
    case WASM_I64: return a->of.i64 == b->of.i64;
    case WASM_F32: return a->of.f32_bits == b->of.f32_bits || (isnan(a->of.f32) && isnan(b->of.f32));
    case WASM_F64: return a->of.f64_bits == b->of.f64_bits || (isnan(a->of.f64) && isnan(b->of.f64));
    default: return (a->of.ref == NULL) == (b->of.ref == NULL); /* two instances: pointers differ */
    }
}

static void compare_state(wasm_instance_t *a, wasm_instance_t *b, const wasm_module_t *mod, const char *after)
{
    uint32_t pages = wasm_memory_pages(a);
    if (pages != wasm_memory_pages(b))
        disagree("memory size", after);
    if (pages) {
        size_t n = (size_t)pages * 65536;
        const uint8_t *ma = wasm_memory_ptr(a, 0, n), *mb = wasm_memory_ptr(b, 0, n);
        if (!ma || !mb || memcmp(ma, mb, n) != 0)
            disagree("memory contents", after);
    }
    uint32_t nexp = wasm_module_export_count(mod);
    for (uint32_t i = 0; i < nexp; i++) {
        wasm_export_info_t e;
        wasm_module_export(mod, i, &e);
        if (e.kind != WASM_EXTERN_GLOBAL)
            continue;
        wasm_val_t ga, gb;
        bool ha = wasm_instance_export_global(a, e.name, &ga), hb = wasm_instance_export_global(b, e.name, &gb);
        if (ha != hb || (ha && !same_value(&ga, &gb)))
            disagree("exported global", e.name);
    }
}

/* Calls every exported function in both and compares; stops early once the
 * two may have diverged for a reason that is not a bug (fuel ran out). */
static void compare_calls(wasm_instance_t *a, wasm_instance_t *b, const wasm_module_t *mod)
{
    uint32_t n = wasm_module_export_count(mod);
    for (uint32_t call = 0; call < n * FUZZ_ARG_ROUNDS; call++) {
        uint32_t i = call % n;
        wasm_export_info_t e;
        wasm_module_export(mod, i, &e);
        if (e.kind != WASM_EXTERN_FUNC)
            continue;
        wasm_func_t *fa = wasm_instance_export_func(a, e.name), *fb = wasm_instance_export_func(b, e.name);
        if (!fa || !fb)
            disagree("exported function missing", e.name);
        wasm_functype_t ft;
        wasm_func_type(fa, &ft);
        if (ft.nparams > FUZZ_MAX_VALS || ft.nresults > FUZZ_MAX_VALS)
            continue;
        wasm_val_t args[FUZZ_MAX_VALS], ra[FUZZ_MAX_VALS], rb[FUZZ_MAX_VALS];
        fuzz_wasm_args(&ft, call / n, args);
        memset(ra, 0, sizeof ra);
        memset(rb, 0, sizeof rb);
        wasm_call_opts_t oa = {.fuel = FUZZ_FUEL}, ob = {.fuel = FUZZ_FUEL};
        wasm_trap_t ta, tb;
        memset(&ta, 0, sizeof ta);
        memset(&tb, 0, sizeof tb);
        wasm_status_t sa = wasm_func_call(a, fa, args, ft.nparams, ra, ft.nresults, &oa, &ta, NULL);
        wasm_status_t sb = wasm_func_call(b, fb, args, ft.nparams, rb, ft.nresults, &ob, &tb, NULL);
        if (sa == WASM_INTERRUPTED || sb == WASM_INTERRUPTED)
            return; /* out of fuel: the two may stop at different points */
        char detail[1200];
        if (sa != sb) {
            snprintf(detail, sizeof detail, "%s: status %d (trap %d \"%s\") vs plain %d (trap %d \"%s\")", e.name,
                     (int)sa, (int)ta.kind, ta.message, (int)sb, (int)tb.kind, tb.message);
            disagree("call status", detail);
        }
        if (sa == WASM_TRAPPED && ta.kind != tb.kind) {
            snprintf(detail, sizeof detail, "%s: %s vs plain %s", e.name, ta.message, tb.message);
            disagree("trap kind", detail);
        }
        if (sa == WASM_OK)
            for (uint32_t r = 0; r < ft.nresults; r++)
                if (!same_value(&ra[r], &rb[r])) {
                    snprintf(detail, sizeof detail, "%s result %u: 0x%llx vs plain 0x%llx", e.name, r,
                             (unsigned long long)ra[r].of.i64, (unsigned long long)rb[r].of.i64);
                    disagree("result", detail);
                }
        compare_state(a, b, mod, e.name);
    }
}

void fuzz_wasm_diff_one(const uint8_t *data, size_t size)
{
    const uint8_t *bytes;
    size_t len;
    uint8_t *owned;
    if (!fuzz_wasm_module_bytes(data, size, &bytes, &len, &owned))
        return;
    wasm_load_error_t wa = WASM_LOAD_OK, wb = WASM_LOAD_OK;
    wasm_module_t *ma = wasm_module_load(bytes, len, &wa, NULL);
    wasm_module_t *mb = wasm_module_load_plain(bytes, len, &wb, NULL);
    free(owned);
    if ((ma == NULL) != (mb == NULL) || wa != wb) {
        char detail[64];
        snprintf(detail, sizeof detail, "%d vs plain %d", (int)wa, (int)wb);
        disagree("load result", detail);
    }
    if (ma) {
        wasm_linker_t *la = fuzz_wasm_stub_linker(ma), *lb = fuzz_wasm_stub_linker(mb);
        wasm_limits_t limits = FUZZ_WASM_LIMITS;
        wasm_inst_error_t ia = WASM_INST_OK, ib = WASM_INST_OK;
        wasm_instance_t *a = la ? wasm_instance_new(ma, la, &limits, &ia, NULL) : NULL;
        wasm_instance_t *b = lb ? wasm_instance_new(mb, lb, &limits, &ib, NULL) : NULL;
        if (la && lb && ((a == NULL) != (b == NULL) || ia != ib))
            disagree("instantiation", NULL);
        if (a && b) {
            compare_state(a, b, ma, "instantiation");
            compare_calls(a, b, ma);
        }
        wasm_instance_free(a);
        wasm_instance_free(b);
        wasm_linker_free(la);
        wasm_linker_free(lb);
    }
    wasm_module_free(ma);
    wasm_module_free(mb);
}
