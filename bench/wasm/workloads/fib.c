/*
 * fib — tree-recursive Fibonacci: measures call/return cost, nothing else.
 * The argument is read from a volatile so no compiler can fold the result.
 *
 * Built twice from this one file: to wasm32 (export `run`) and natively into
 * bench_wasm with -DBENCH_ENTRY=bench_native_fib. run() returns a checksum
 * that both builds must agree on.
 */
#include <stdint.h>

#ifndef BENCH_ENTRY
#define BENCH_ENTRY run
#endif

static volatile uint32_t fib_n = 34;

static uint32_t fib(uint32_t n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

uint64_t BENCH_ENTRY(void)
{
    return fib(fib_n);
}
