/*
 * fuzz_wasm_diff — differential fuzzing of the engine's optimizing
 * translation (operand deferral, folding, fused instructions) against its
 * plain stack-slot translation of the same module (wasm_module_load_plain,
 * the oracle the engine keeps for this purpose).
 *
 * Each input becomes a module as in fuzz_wasm (wasm_harness.h). Both
 * translations must agree on: whether the module loads and why not;
 * whether it instantiates; for every call of every exported function (the
 * argument rounds of wasm_harness.h), the status, the trap kind, the results (floats bit for bit,
 * any NaN matching any NaN), and afterwards the whole linear memory and the
 * exported globals. A call that runs out of fuel ends the comparison (fuel
 * is a bound, not a semantics). Any disagreement aborts with both sides
 * printed. The check itself is fuzz_wasm_diff_one (wasm_diff.c), also
 * replayed on saved inputs by tests/wasm/test_fuzz_regress.c.
 */
#include "wasm_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_wasm_diff_one(data, size);
    return 0;
}
