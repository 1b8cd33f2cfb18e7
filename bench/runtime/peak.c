/* The roofline's ceilings for the runtime's kernels (docs/BENCHMARKS.md,
 * "Runtime against ONNX Runtime"): multiply-adds per second of OpenBLAS
 * sgemm and of the integer kernel (VNNI where the CPU has it, else the
 * portable loop) on the GEMM shapes of a pruned ResNet-20's convolutions
 * (M output channels x N output pixels of one im2col tile x K = C·9) and on
 * a large square one, one thread, best of 7:
 *   make DEPS=0 build/bench/peak && OPENBLAS_NUM_THREADS=1 build/bench/peak
 * Only the time is measured; the operands are a fixed ramp. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "picpq_internal.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The integer kernel the runtime would pick (model_run.c's portable loop is
 * static; this copy has its loop order). */
static void gemm_codes_portable(int64_t m, int64_t n, int64_t k, const int8_t *a, const uint8_t *b,
                                int32_t *c)
{
    int64_t i, p, j;
    for (i = 0; i < m; i++) {
        int32_t *ci = c + i * n;
        memset(ci, 0, (size_t)n * sizeof *ci);
        for (p = 0; p < k; p++) {
            const int32_t w = a[i * k + p];
            const uint8_t *bp = b + p * n;
            for (j = 0; j < n; j++) ci[j] += w * bp[j];
        }
    }
}

int main(void)
{
    static const int64_t shapes[][3] = {
        {16, 784, 144}, {32, 196, 288}, {64, 49, 576}, {8, 784, 72}, {256, 256, 256}};
    size_t s;
    printf("| M x N x K | sgemm GMAC/s | integer GMAC/s (%s) |\n|---|---|---|\n",
           picpq__vnni_available() ? "VNNI" : "portable");
    for (s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int64_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        float *a = malloc((size_t)(m * k) * 4), *b = malloc((size_t)(k * n) * 4);
        float *c = malloc((size_t)(m * n) * 4);
        int8_t *qa = malloc((size_t)(m * k));
        uint8_t *qb = malloc((size_t)(k * n));
        int32_t *qc = malloc((size_t)(m * n) * 4);
        uint8_t *scratch = malloc((size_t)picpq__gemm_codes_vnni_scratch(m, n, k) + 64);
        const uint8_t **rows = malloc((size_t)k * sizeof *rows);
        double best_f = 1e30, best_i = 1e30;
        int64_t i, r, reps = 2e8 / (m * n * k) + 1;
        int round;
        for (i = 0; i < m * k; i++) a[i] = (float)(i % 7) - 3, qa[i] = (int8_t)(i % 7 - 3);
        for (i = 0; i < k * n; i++) b[i] = (float)(i % 5), qb[i] = (uint8_t)(i % 5);
        for (i = 0; i < k; i++) rows[i] = qb + i * n;
        for (round = 0; round < 7; round++) {
            double t = now();
            for (r = 0; r < reps; r++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0f,
                            a, (int)k, b, (int)n, 0.0f, c, (int)n);
            t = (now() - t) / (double)reps;
            best_f = t < best_f ? t : best_f;
            t = now();
            for (r = 0; r < reps; r++)
                if (!picpq__gemm_codes_vnni(m, n, k, qa, rows, qc, scratch))
                    gemm_codes_portable(m, n, k, qa, qb, qc);
            t = (now() - t) / (double)reps;
            best_i = t < best_i ? t : best_i;
        }
        printf("| %lld x %lld x %lld | %.1f | %.1f |\n", (long long)m, (long long)n, (long long)k,
               1e-9 * (double)(m * n * k) / best_f, 1e-9 * (double)(m * n * k) / best_i);
        free(a), free(b), free(c), free(qa), free(qb), free(qc), free(scratch), free(rows);
    }
    return 0;
}
