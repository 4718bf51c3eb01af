/*
 * matmul — f64 matrix multiply, 192x192, three times: loads, stores and
 * floating multiply-add in a tight triple loop. The inputs are small
 * fractions of integers so every product and sum is exact and both builds
 * agree bit for bit; the checksum is the bits of the sum of the result.
 *
 * Built to wasm32 (export `run`) and natively (-DBENCH_ENTRY=...).
 */
#include <stdint.h>

#ifndef BENCH_ENTRY
#define BENCH_ENTRY run
#endif

#define N 192

static double mat_a[N][N], mat_b[N][N], mat_c[N][N];

uint64_t BENCH_ENTRY(void)
{
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            mat_a[i][j] = (double)((i * 7 + j * 3) % 17 - 8) * 0.25;
            mat_b[i][j] = (double)((i * 5 + j * 11) % 13 - 6) * 0.5;
        }
    double sum = 0;
    for (int rep = 0; rep < 3; rep++) {
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) {
                double s = 0;
                for (int k = 0; k < N; k++)
                    s += mat_a[i][k] * mat_b[k][j];
                mat_c[i][j] = s;
            }
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++)
                sum += mat_c[i][j];
        mat_a[rep][rep] += 1.0; /* each repetition multiplies new inputs */
    }
    union {
        double d;
        uint64_t u;
    } bits = {sum};
    return bits.u;
}
