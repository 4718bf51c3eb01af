/*
 * wasm_harness — what one fuzz input does to the engine, shared by the
 * libFuzzer target (fuzz_wasm.c) and the replay of saved crashing inputs
 * (tests/wasm/test_fuzz_regress.c).
 *
 * The input is taken as a module: decode + validate + compile; instantiate
 * against stub host functions for every imported function (results zero);
 * call every exported function with zero arguments of its parameter types,
 * with small fuel and memory limits so that no input runs long. The start
 * function is not run (wasm_instance_run_start takes no fuel). Engine
 * misbehaviour the API can detect (a correct call reported as a bad call,
 * a trap without a kind) aborts, so the fuzzer reports it like a crash.
 */
#ifndef FLOWGATE_FUZZ_WASM_HARNESS_H
#define FLOWGATE_FUZZ_WASM_HARNESS_H

#include <stddef.h>
#include <stdint.h>

void fuzz_wasm_one(const uint8_t *data, size_t size);

#endif
