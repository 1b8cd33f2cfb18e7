/* Throughput of the quantizers and of bit packing, single thread.
 * Usage: bench_quant [elements]   (default 1048576). Prints one line per case. */
#include <picpq.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Normal(0, sigma) draws (Box-Muller on a fixed LCG): conv-weight-like. */
static void fill_normal(float *x, int64_t n, double sigma)
{
    uint64_t s = 2024;
    int64_t i;
    for (i = 0; i < n; i++) {
        double u1, u2;
        s = s * 6364136223846793005u + 1442695040888963407u;
        u1 = ((double)(s >> 11) + 0.5) / 9007199254740992.0;
        s = s * 6364136223846793005u + 1442695040888963407u;
        u2 = (double)(s >> 11) / 9007199254740992.0;
        x[i] = (float)(sigma * sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
    }
}

#define REPS 15

int main(int argc, char **argv)
{
    int64_t n = argc > 1 ? atoll(argv[1]) : 1048576, i;
    float *x = malloc((size_t)n * 4), *y = malloc((size_t)n * 4);
    int8_t *codes = malloc((size_t)n), *back = malloc((size_t)n);
    uint8_t *buf = malloc((size_t)n);
    picpq_tensor *tx, *ty;
    int k, r;
    if (!x || !y || !codes || !back || !buf) return 1;
    fill_normal(x, n, 0.05);
    if (picpq_tensor_wrap(x, PICPQ_F32, 1, &n, NULL, &tx) != PICPQ_OK ||
        picpq_tensor_wrap(y, PICPQ_F32, 1, &n, NULL, &ty) != PICPQ_OK)
        return 1;
    printf("# libpicpq %s, %lld elements, best of %d\n", picpq_version_string(), (long long)n,
           REPS);
    for (k = 2; k <= 8; k += 2) {
        double best = 1e30;
        for (r = 0; r < REPS; r++) {
            double t0 = now();
            if (picpq_quant_weights_into(tx, ty, k) != PICPQ_OK) return 1;
            t0 = now() - t0;
            best = t0 < best ? t0 : best;
        }
        printf("c weights k=%d %.3f ms %.1f Melem/s\n", k, best * 1e3, (double)n / best / 1e6);
    }
    for (k = 4; k <= 8; k += 4) {
        double best = 1e30;
        for (i = 0; i < n; i++) y[i] = x[i] * 20;
        for (r = 0; r < REPS; r++) {
            double t0 = now();
            if (picpq_quant_activations_into(ty, ty, k) != PICPQ_OK) return 1;
            t0 = now() - t0;
            best = t0 < best ? t0 : best;
        }
        printf("c activations k=%d %.3f ms %.1f Melem/s\n", k, best * 1e3, (double)n / best / 1e6);
    }
    for (k = 1; k <= 8; k++) {
        double bp = 1e30, bu = 1e30;
        size_t need;
        if (picpq_quant_weight_codes(tx, k, codes, n, NULL, NULL) != PICPQ_OK) return 1;
        for (r = 0; r < REPS; r++) {
            double t0 = now();
            if (picpq_quant_pack(codes, n, k, buf, (size_t)n, &need) != PICPQ_OK) return 1;
            t0 = now() - t0;
            bp = t0 < bp ? t0 : bp;
            t0 = now();
            if (picpq_quant_unpack(buf, need, k, back, n) != PICPQ_OK) return 1;
            t0 = now() - t0;
            bu = t0 < bu ? t0 : bu;
        }
        if (memcmp(codes, back, (size_t)n) != 0) return 1;
        /* GB/s of int8 codes (1 byte per code) in or out */
        printf("c pack k=%d %.2f GB/s unpack %.2f GB/s\n", k, (double)n / bp / 1e9,
               (double)n / bu / 1e9);
    }
    picpq_tensor_free(tx);
    picpq_tensor_free(ty);
    free(x);
    free(y);
    free(codes);
    free(back);
    free(buf);
    return 0;
}
