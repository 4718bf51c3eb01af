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
 * (results zero), and every exported function is called with zero arguments
 * of its parameter types, under small fuel and memory limits so that no
 * input runs long. The start
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
