/*
 * bench_wasm — how fast our interpreter runs CPU-bound C compared with the
 * same C compiled natively, and how fast it loads a big module.
 *
 * Each workload in workloads/ is one C file built twice: to wasm32 (export
 * `run`, built by CMake into BENCH_WASM_DIR) and natively into this program
 * as bench_native_<name> (gcc -O2). run() returns a checksum; the two builds
 * must agree (MISMATCH is printed otherwise). Figures are wall-clock times
 * measured in this one run; the interpreter runs with a deadline set (as the
 * gateway runs guards), so its interruption checks are on.
 *
 * Usage: bench_wasm [DIR-WITH-WASM-FILES [WORKLOAD...]]   (not a test:
 * prints, never fails on timing; exits 1 only if a module cannot be run or a
 * checksum differs). Naming workloads runs only those and skips the load-time
 * table, so a profiler (valgrind --tool=callgrind) sees one workload alone.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wasm/wasm.h"

#ifndef BENCH_WASM_DIR
#define BENCH_WASM_DIR "."
#endif

#define INTERP_RUNS 2           /* per workload; the best counts */
#define NATIVE_RUNS_PER_ROUND 2 /* native runs after each interpreter run */

typedef uint64_t (*native_fn_t)(void);

uint64_t bench_native_fib(void);
uint64_t bench_native_sha256(void);
uint64_t bench_native_json(void);
uint64_t bench_native_matmul(void);
uint64_t bench_native_coremark(void);

static const struct workload {
    const char *name;
    native_fn_t native;
    const char *what;
} workloads[] = {
    {"fib", bench_native_fib, "recursive fib(34)"},
    {"sha256", bench_native_sha256, "SHA-256 of 16 MB"},
    {"json", bench_native_json, "tokenize 4 MB JSON x2"},
    {"matmul", bench_native_matmul, "f64 matmul 192^3 x3"},
    {"coremark", bench_native_coremark, "list/matrix/state/crc"},
};
#define NWORK (sizeof workloads / sizeof workloads[0])

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static uint8_t *read_file(const char *dir, const char *name, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n > 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n)) != NULL &&
            fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
        *len = (size_t)(n > 0 ? n : 0);
    }
    fclose(f);
    return buf;
}

/* Loads and instantiates; returns the whole time in ms (-1 on failure) and
 * the instantiation part in *inst_ms. */
static double load(const uint8_t *bytes, size_t len, wasm_module_t **mod, wasm_instance_t **inst,
                   wasm_linker_t *linker, double *inst_ms)
{
    err_t err = {{0}};
    wasm_load_error_t why;
    wasm_inst_error_t iwhy;
    double t0 = now_ms();
    *mod = wasm_module_load(bytes, len, &why, &err);
    if (!*mod) {
        fprintf(stderr, "bench_wasm: load failed: %s\n", err.msg);
        return -1;
    }
    double t1 = now_ms();
    *inst = wasm_instance_new(*mod, linker, NULL, &iwhy, &err);
    if (!*inst) {
        fprintf(stderr, "bench_wasm: instantiate failed: %s\n", err.msg);
        wasm_module_free(*mod);
        *mod = NULL;
        return -1;
    }
    double t2 = now_ms();
    if (inst_ms)
        *inst_ms = t2 - t1;
    return t2 - t0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median load time over `reps` loads of one module, plus its code size. */
static bool measure_load(const char *dir, const char *file, wasm_linker_t *linker, int reps, double *ms,
                         double *inst_ms, size_t *file_size, size_t *code_size)
{
    size_t len = 0;
    uint8_t *bytes = read_file(dir, file, &len);
    if (!bytes) {
        fprintf(stderr, "bench_wasm: cannot read %s/%s\n", dir, file);
        return false;
    }
    double t[16], ti[16];
    if (reps > 16)
        reps = 16;
    for (int i = 0; i < reps; i++) {
        wasm_module_t *mod;
        wasm_instance_t *inst;
        t[i] = load(bytes, len, &mod, &inst, linker, &ti[i]);
        if (t[i] < 0) {
            free(bytes);
            return false;
        }
        *code_size = wasm_module_code_size(mod);
        wasm_instance_free(inst);
        wasm_module_free(mod);
    }
    qsort(t, (size_t)reps, sizeof t[0], cmp_double);
    qsort(ti, (size_t)reps, sizeof ti[0], cmp_double);
    *ms = t[reps / 2];
    *inst_ms = ti[reps / 2];
    *file_size = len;
    free(bytes);
    return true;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : BENCH_WASM_DIR;
    char *const *only = argv + 2;
    int nonly = argc > 2 ? argc - 2 : 0;
    wasm_linker_t *linker = wasm_linker_new();
    if (!linker) {
        fprintf(stderr, "bench_wasm: out of memory\n");
        return 1;
    }
    int bad = 0;
    double log_sum = 0;
    int nratios = 0;

    printf("Interpreter vs native (gcc -O2), same C source, wall clock, best of %d interpreter runs\n"
           "each followed by %d native runs (best of all native runs):\n\n",
           INTERP_RUNS, NATIVE_RUNS_PER_ROUND);
    printf("%-9s %-24s %12s %12s %9s  %s\n", "workload", "what", "interp ms", "native ms", "ratio", "checksum");
    for (size_t w = 0; w < NWORK; w++) {
        const struct workload *wl = &workloads[w];
        bool wanted = nonly == 0;
        for (int i = 0; i < nonly; i++)
            wanted = wanted || strcmp(only[i], wl->name) == 0;
        if (!wanted)
            continue;
        char file[64];
        snprintf(file, sizeof file, "%s.wasm", wl->name);
        size_t len = 0;
        uint8_t *bytes = read_file(dir, file, &len);
        wasm_module_t *mod = NULL;
        wasm_instance_t *inst = NULL;
        if (!bytes || load(bytes, len, &mod, &inst, linker, NULL) < 0) {
            printf("%-9s cannot load %s/%s\n", wl->name, dir, file);
            free(bytes);
            bad = 1;
            continue;
        }
        free(bytes);
        wasm_func_t *run = wasm_instance_export_func(inst, "run");
        wasm_val_t result = {.type = WASM_I64};
        wasm_trap_t trap;
        err_t err = {{0}};
        double interp = -2; /* -2: not run yet, -1: failed */
        double native = 1e30;
        uint64_t expect = 0;
        if (!run) {
            printf("%-9s no export \"run\"\n", wl->name);
            bad = 1;
        } else {
            /* Interpreter and native runs alternate, and the best of each
             * counts: on a shared machine that cancels most of the noise.
             * A deadline far away arms the interruption machinery as in the
             * gateway, but never fires. */
            for (int round = 0; round < INTERP_RUNS && interp != -1; round++) {
                wasm_call_opts_t opts = {.deadline_ns = wasm_now_ns() + 120ull * 1000000000ull};
                double t0 = now_ms();
                wasm_status_t st = wasm_func_call(inst, run, NULL, 0, &result, 1, &opts, &trap, &err);
                double t = now_ms() - t0;
                if (st != WASM_OK) {
                    printf("%-9s call failed: %s\n", wl->name, err.msg);
                    bad = 1;
                    interp = -1;
                    break;
                }
                if (interp < 0 || t < interp)
                    interp = t;
                for (int rep = 0; rep < NATIVE_RUNS_PER_ROUND; rep++) {
                    t0 = now_ms();
                    expect = wl->native();
                    t = now_ms() - t0;
                    if (t < native)
                        native = t;
                }
            }
        }
        if (interp >= 0) {
            double ratio = interp / native;
            bool same = (uint64_t)result.of.i64 == expect;
            printf("%-9s %-24s %12.1f %12.1f %8.1fx  %s\n", wl->name, wl->what, interp, native, ratio,
                   same ? "ok" : "MISMATCH");
            if (!same) {
                printf("          wasm %llu native %llu\n", (unsigned long long)result.of.i64,
                       (unsigned long long)expect);
                bad = 1;
            }
            log_sum += log(ratio);
            nratios++;
        }
        wasm_instance_free(inst);
        wasm_module_free(mod);
    }
    if (nratios)
        printf("%-9s %-24s %12s %12s %8.1fx\n", "geomean", "", "", "", exp(log_sum / nratios));

    if (nonly) {
        wasm_linker_free(linker);
        return bad;
    }
    printf("\nLoad time (decode + validate + compile + instantiate), median of 5:\n\n");
    printf("%-14s %9s %9s %9s %14s %14s\n", "module", "file KB", "code KB", "load ms", "ms / 100 KB",
           "of which inst");
    const char *files[] = {"fib.wasm", "sha256.wasm", "json.wasm", "matmul.wasm", "coremark.wasm", "big.wasm"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        double ms, inst_ms;
        size_t fsize = 0, csize = 0;
        if (!measure_load(dir, files[i], linker, 5, &ms, &inst_ms, &fsize, &csize)) {
            bad = 1;
            continue;
        }
        printf("%-14s %9.1f %9.1f %9.2f %14.2f %11.2f ms\n", files[i], (double)fsize / 1024, (double)csize / 1024,
               ms, csize ? ms / ((double)csize / 102400.0) : 0.0, inst_ms);
    }
    wasm_linker_free(linker);
    return bad;
}
