/* See wasm_harness.h. */
#include "wasm_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasm/wasm.h"


static bool stub_host(wasm_instance_t *caller, void *env, const wasm_val_t *args, wasm_val_t *results,
                      wasm_trap_t *trap)
{
    (void)caller, (void)args, (void)trap;
    uint32_t n = (uint32_t)(uintptr_t)env;
    for (uint32_t i = 0; i < n; i++) /* types are pre-set; zero every payload */
        memset(&results[i].of, 0, sizeof results[i].of);
    return true;
}

static void engine_bug(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_wasm: engine bug: %s: %s\n", what, detail);
    abort();
}

void fuzz_wasm_args(const wasm_functype_t *ft, unsigned round, wasm_val_t *args)
{
    static const uint32_t i32s[FUZZ_ARG_ROUNDS] = {0, 0xffffffffu, 0x80000000u};
    static const uint64_t i64s[FUZZ_ARG_ROUNDS] = {0, 0x8000000000000000ull, 0xffffffffffffffffull};
    static const uint32_t f32s[FUZZ_ARG_ROUNDS] = {0, 0x7fc00000u /* NaN */, 0x7f800000u /* inf */};
    static const uint64_t f64s[FUZZ_ARG_ROUNDS] = {0, 0x8000000000000000ull /* -0 */, 0x7e37e43c8800759cull /* 1e300 */};
    round %= FUZZ_ARG_ROUNDS;
    for (uint32_t k = 0; k < ft->nparams && k < FUZZ_MAX_VALS; k++) {
        memset(&args[k], 0, sizeof args[k]);
        args[k].type = ft->params[k];
        switch (ft->params[k]) {
        case WASM_I32: args[k].of.i32 = (int32_t)(i32s[round] ^ (round ? k : 0)); break;
        case WASM_I64: args[k].of.i64 = (int64_t)(i64s[round] ^ (round ? k : 0)); break;
        case WASM_F32: args[k].of.f32_bits = f32s[round]; break;
        case WASM_F64: args[k].of.f64_bits = f64s[round]; break;
        default: break; /* references: null */
        }
    }
}

static void call_exports(wasm_instance_t *inst, const wasm_module_t *mod)
{
    uint32_t n = wasm_module_export_count(mod);
    for (unsigned round = 0; round < FUZZ_ARG_ROUNDS; round++)
        for (uint32_t i = 0; i < n; i++) {
            wasm_export_info_t e;
            wasm_module_export(mod, i, &e);
            if (e.kind != WASM_EXTERN_FUNC)
                continue;
            wasm_func_t *fn = wasm_instance_export_func(inst, e.name);
            if (!fn)
                engine_bug("exported function not found by name", e.name);
            wasm_functype_t ft;
            wasm_func_type(fn, &ft);
            if (ft.nparams > FUZZ_MAX_VALS || ft.nresults > FUZZ_MAX_VALS)
                continue;
            wasm_val_t args[FUZZ_MAX_VALS], results[FUZZ_MAX_VALS];
            fuzz_wasm_args(&ft, round, args);
            memset(results, 0, sizeof results);
            wasm_call_opts_t opts = {.fuel = FUZZ_FUEL};
            wasm_trap_t trap;
            err_t err = {{0}};
            wasm_status_t st = wasm_func_call(inst, fn, args, ft.nparams, results, ft.nresults, &opts, &trap, &err);
            if (st == WASM_BAD_CALL)
                engine_bug("well-typed call rejected", err.msg);
            if (st == WASM_TRAPPED && trap.kind == WASM_TRAP_NONE)
                engine_bug("trap without a kind", trap.message);
            if (st == WASM_OK)
                for (uint32_t r = 0; r < ft.nresults; r++)
                    if (results[r].type != ft.results[r])
                        engine_bug("result of the wrong type", e.name);
            /* After a trap or an interruption the instance may be
             * inconsistent, but wasm.h promises the process is unaffected:
             * keep calling. */
        }
}

/* ---- Wrapping a function body in a fixed module ------------------------- */

typedef struct buf {
    uint8_t *p;
    size_t len, cap;
    bool failed;
} buf_t;

static void put(buf_t *b, const uint8_t *src, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n > b->cap) {
        size_t cap = (b->len + n) * 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void put_byte(buf_t *b, uint8_t v)
{
    put(b, &v, 1);
}

static void put_uleb(buf_t *b, uint32_t v)
{
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        put_byte(b, byte | (v ? 0x80 : 0));
    } while (v);
}

static void put_section(buf_t *b, uint8_t id, const uint8_t *content, size_t n)
{
    put_byte(b, id);
    put_uleb(b, (uint32_t)n);
    put(b, content, n);
}

/* A module whose function 0, exported as "f", has `body` as its code:
 *   (type (func (param i32 i64 f32 f64) (result i32)))  (type (func))
 *   (table 4 funcref) (memory 1 2) (global (mut i32) (i32.const 0))
 *   (elem (i32.const 0) 0 1)   function 1 = (func)
 *   function 0 locals: 2 x i32, 1 x i64, 1 x f32, 1 x f64, 1 x funcref, 1 x externref
 * Inputs that are not modules reach validation and execution this way,
 * instead of stopping at the magic number. The body gets a final `end`. */
static bool wrap_body(const uint8_t *body, size_t n, buf_t *out)
{
    static const uint8_t head[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
    static const uint8_t types[] = {0x02, 0x60, 0x04, 0x7f, 0x7e, 0x7d, 0x7c, 0x01, 0x7f, 0x60, 0x00, 0x00};
    static const uint8_t funcs[] = {0x02, 0x00, 0x01};
    static const uint8_t table[] = {0x01, 0x70, 0x00, 0x04};
    static const uint8_t memory[] = {0x01, 0x01, 0x01, 0x02};
    static const uint8_t global[] = {0x01, 0x7f, 0x01, 0x41, 0x00, 0x0b};
    static const uint8_t exports[] = {0x01, 0x01, 'f', 0x00, 0x00};
    static const uint8_t elems[] = {0x01, 0x00, 0x41, 0x00, 0x0b, 0x02, 0x00, 0x01};
    static const uint8_t locals[] = {0x06, 0x02, 0x7f, 0x01, 0x7e, 0x01, 0x7d, 0x01, 0x7c, 0x01, 0x70, 0x01, 0x6f};
    static const uint8_t nop_body[] = {0x02, 0x00, 0x0b};
    buf_t code = {0};
    put_uleb(&code, 2);
    put_uleb(&code, (uint32_t)(sizeof locals + n + 1));
    put(&code, locals, sizeof locals);
    put(&code, body, n);
    put_byte(&code, 0x0b);
    put(&code, nop_body, sizeof nop_body);
    put(out, head, sizeof head);
    put_section(out, 1, types, sizeof types);
    put_section(out, 3, funcs, sizeof funcs);
    put_section(out, 4, table, sizeof table);
    put_section(out, 5, memory, sizeof memory);
    put_section(out, 6, global, sizeof global);
    put_section(out, 7, exports, sizeof exports);
    put_section(out, 9, elems, sizeof elems);
    put_section(out, 10, code.p, code.len);
    bool ok = !code.failed && !out->failed;
    free(code.p);
    return ok;
}

static void run_module(const uint8_t *data, size_t size)
{
    err_t err = {{0}};
    wasm_load_error_t why = WASM_LOAD_OK;
    wasm_module_t *mod = wasm_module_load(data, size, &why, &err);
    if (!mod) {
        if (why == WASM_LOAD_OK)
            engine_bug("load failed without a reason", err.msg);
        return;
    }
    (void)wasm_module_code_size(mod);
    wasm_linker_t *linker = fuzz_wasm_stub_linker(mod);
    if (!linker) {
        wasm_module_free(mod);
        return;
    }
    wasm_limits_t limits = FUZZ_WASM_LIMITS;
    wasm_inst_error_t iwhy = WASM_INST_OK;
    wasm_instance_t *inst = wasm_instance_new(mod, linker, &limits, &iwhy, &err);
    if (inst) {
        if (wasm_instance_module(inst) != mod)
            engine_bug("instance reports another module", "");
        call_exports(inst, mod);
        wasm_instance_free(inst);
    } else if (iwhy == WASM_INST_OK) {
        engine_bug("instantiation failed without a reason", err.msg);
    }
    wasm_linker_free(linker);
    wasm_module_free(mod);
}

bool fuzz_wasm_module_bytes(const uint8_t *data, size_t size, const uint8_t **bytes, size_t *len, uint8_t **owned)
{
    *owned = NULL;
    if (size >= 4 && memcmp(data, "\0asm", 4) == 0) {
        *bytes = data;
        *len = size;
        return true;
    }
    buf_t b = {0};
    if (!wrap_body(data, size, &b)) {
        free(b.p);
        return false;
    }
    *owned = b.p;
    *bytes = b.p;
    *len = b.len;
    return true;
}

wasm_linker_t *fuzz_wasm_stub_linker(const wasm_module_t *mod)
{
    wasm_linker_t *linker = wasm_linker_new();
    if (!linker)
        return NULL;
    uint32_t nimports = wasm_module_import_count(mod);
    for (uint32_t i = 0; i < nimports; i++) {
        wasm_import_info_t im;
        wasm_module_import(mod, i, &im);
        /* Duplicates fail to define; the first definition stands. */
        if (im.kind == WASM_EXTERN_FUNC)
            (void)wasm_linker_define_func(linker, im.module, im.name, &im.func, stub_host,
                                          (void *)(uintptr_t)im.func.nresults, NULL);
        else if (im.kind == WASM_EXTERN_MEMORY)
            (void)wasm_linker_define_memory(linker, im.module, im.name, 1, 2, NULL);
        else if (im.kind == WASM_EXTERN_TABLE)
            (void)wasm_linker_define_table(linker, im.module, im.name, WASM_FUNCREF, 10, 20, NULL);
    }
    return linker;
}

void fuzz_wasm_one(const uint8_t *data, size_t size)
{
    const uint8_t *bytes;
    size_t len;
    uint8_t *owned;
    if (fuzz_wasm_module_bytes(data, size, &bytes, &len, &owned))
        run_module(bytes, len);
    free(owned);
}
