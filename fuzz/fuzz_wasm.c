/*
 * fuzz_wasm — libFuzzer target for the engine: every input is a candidate
 * module, loaded, instantiated and called as wasm_harness.h describes.
 * Run: fuzz_wasm CORPUS_DIR [SEED_DIR...] -max_total_time=N
 */
#include "wasm_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_wasm_one(data, size);
    return 0;
}
