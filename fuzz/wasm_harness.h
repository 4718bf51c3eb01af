/*
 * wasm_harness — what one fuzz input does to the engine, shared by the
 * libFuzzer target (fuzz_wasm.c) and the replay of saved crashing inputs
 * (tests/wasm/test_fuzz_regress.c).
 *
 * An input that starts with the wasm magic is taken as a whole module; any
 * other input becomes the body of an exported function in a small fixed
 * module (so that most inputs get past the decoder into validation,
 * compilation and execution). The module is decoded, validated, compiled,
 * instantiated against stub host functions for every imported function
 * (results zero), and every exported function is called FUZZ_ARG_ROUNDS
 * times (zero arguments first, then edge values), under small fuel and
 * memory limits so that no input runs long. The start
 * function is not run (wasm_instance_run_start takes no fuel). Engine
 * misbehaviour the API can detect (a correct call reported as a bad call,
 * a trap without a kind) aborts, so the fuzzer reports it like a crash.
 */
#ifndef FLOWGATE_FUZZ_WASM_HARNESS_H
#define FLOWGATE_FUZZ_WASM_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wasm/wasm.h"

/* Bounds every fuzz input runs under. */
#define FUZZ_FUEL 20000
#define FUZZ_MAX_VALS 32
#define FUZZ_ARG_ROUNDS 3 /* each export is called this many times, with different arguments */
#define FUZZ_WASM_LIMITS {.max_memory_pages = 16, .max_table_size = 1000, .max_call_depth = 200}

/* Runs one input as described above. */
void fuzz_wasm_one(const uint8_t *data, size_t size);

/* The differential check of fuzz_wasm_diff (wasm_diff.c): the same input
 * through the optimizing and the plain translation (wasm_module_load_plain)
 * must behave the same; aborts on any observable difference. */
void fuzz_wasm_diff_one(const uint8_t *data, size_t size);

/* The module bytes an input stands for (the input itself, or the input
 * wrapped as a function body). *owned is what the caller must free (NULL
 * when the input is used as it is). False only when out of memory. */
bool fuzz_wasm_module_bytes(const uint8_t *data, size_t size, const uint8_t **bytes, size_t *len, uint8_t **owned);

/* The arguments of call number `round` of a function of type ft: zeros
 * first, then edge values (all-ones, minimum integers, NaN, -0, inf, 1e300). */
void fuzz_wasm_args(const wasm_functype_t *ft, unsigned round, wasm_val_t *args);

/* A linker with a stub for every function import of mod (zero results),
 * a 1..2-page memory and a 10..20 funcref table for memory/table imports.
 * Caller frees with wasm_linker_free; NULL when out of memory. */
wasm_linker_t *fuzz_wasm_stub_linker(const wasm_module_t *mod);

#endif
