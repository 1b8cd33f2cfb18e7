/* Filter property in a few lines: feed batches of a layer's output maps
 * [N, C, H, W] to a picpq_ranker and read the mean rank of each filter.
 * Filter 0 gets full-rank maps, filter 1 rank-2 maps, filter 2 all-zero
 * maps and filter 3 rank-1 maps, so the FP printed is 8, 2, 0, 1. */
#include <stdio.h>
#include <stdlib.h>

#define PICPQ_EXPERIMENTAL /* picpq_ranker_stats */
#include "picpq.h"

enum { N = 2, C = 4, H = 8, W = 8 };

static double noise(unsigned *state) /* deterministic values in [-1, 1) */
{
    *state = *state * 1103515245u + 12345u;
    return (double)((*state >> 8) & 0xffff) / 32768.0 - 1.0;
}

/* maps[n, c] = sum of `rank` outer products of random vectors */
static void fill(float *maps, unsigned *state)
{
    static const int ranks[C] = {H, 2, 0, 1};
    int n, c, r, i, j;
    for (n = 0; n < N; n++)
        for (c = 0; c < C; c++) {
            float *m = maps + ((n * C + c) * H) * W;
            for (i = 0; i < H * W; i++) m[i] = 0;
            for (r = 0; r < ranks[c]; r++) {
                double u[H], v[W];
                for (i = 0; i < H; i++) u[i] = noise(state);
                for (j = 0; j < W; j++) v[j] = noise(state);
                for (i = 0; i < H; i++)
                    for (j = 0; j < W; j++) m[i * W + j] += (float)(u[i] * v[j]);
            }
        }
}

static int check(picpq_status s, const char *what)
{
    if (s == PICPQ_OK) return 0;
    fprintf(stderr, "%s: %s (%s)\n", what, picpq_status_string(s), picpq_last_error());
    return 1;
}

int main(void)
{
    static float maps[N * C * H * W];
    const int64_t channels = C, shape[4] = {N, C, H, W};
    picpq_ranker *rk;
    picpq_tensor *batch;
    double fp[C];
    int64_t images, certified, fallback;
    unsigned state = 7;
    int b, c;
    if (check(picpq_ranker_create(1, &channels, &rk), "create")) return 1;
    if (check(picpq_ranker_set_int(rk, PICPQ_RANK_THREADS, 2), "threads")) return 1;
    if (check(picpq_tensor_wrap(maps, PICPQ_F32, 4, shape, NULL, &batch), "wrap")) return 1;
    for (b = 0; b < 3; b++) { /* three calibration batches */
        fill(maps, &state);
        if (check(picpq_ranker_feed(rk, 0, batch), "feed")) return 1;
    }
    if (check(picpq_ranker_fp(rk, 0, fp, C), "get")) return 1;
    if (check(picpq_ranker_images(rk, 0, &images), "images")) return 1;
    printf("filter property of layer 0 over %lld images:\n", (long long)images);
    for (c = 0; c < C; c++) printf("  filter %d: FP = %.3f\n", c, fp[c]);
    if (check(picpq_ranker_stats(rk, &certified, &fallback), "stats")) return 1;
    printf("maps decided without an SVD: %lld, by the sgesdd fallback: %lld\n",
           (long long)certified, (long long)fallback);
    picpq_tensor_free(batch);
    picpq_ranker_free(rk);
    return fp[0] == H && fp[1] == 2 && fp[2] == 0 && fp[3] == 1 ? 0 : 1;
}
