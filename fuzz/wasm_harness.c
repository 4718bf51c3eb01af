/* See wasm_harness.h. */
#include "wasm_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasm/wasm.h"

#define FUZZ_FUEL 20000
#define FUZZ_MAX_VALS 32

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

static void call_exports(wasm_instance_t *inst, const wasm_module_t *mod)
{
    uint32_t n = wasm_module_export_count(mod);
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
        memset(args, 0, sizeof args);
        memset(results, 0, sizeof results);
        for (uint32_t a = 0; a < ft.nparams; a++)
            args[a].type = ft.params[a];
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
        if (st == WASM_TRAPPED && trap.kind != WASM_TRAP_STACK_EXHAUSTED && trap.kind != WASM_TRAP_HOST)
            break; /* the instance may now be inconsistent (wasm.h): stop using it */
    }
}

void fuzz_wasm_one(const uint8_t *data, size_t size)
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
    wasm_linker_t *linker = wasm_linker_new();
    if (!linker) {
        wasm_module_free(mod);
        return;
    }
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
    wasm_limits_t limits = {.max_memory_pages = 16, .max_table_size = 1000, .max_call_depth = 200};
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
