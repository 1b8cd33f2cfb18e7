/* C side of bench/rank: reads a batch of float32 maps [N, C, H, W] from a
 * raw file, feeds it to a picpq_ranker with 1 and 2 threads (best of
 * `reps` timed feeds each), reports maps/s and how many maps the
 * certificate decided versus the sgesdd fallback, and writes every map's
 * rank (picpq_matrix_rank_f32) for the agreement check on the Python side;
 * exits 1 if the ranker's sums differ from the sums of those ranks.
 * `cores` is the CPU time the process got per wall second in the best run.
 * Usage: bench_rank IN.f32 N C H W RANKS_OUT.i64 REPS
 * Links the static library: compares the ranker's internal sums. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "picpq_internal.h"

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int die(const char *what, picpq_status s)
{
    fprintf(stderr, "%s: %s (%s)\n", what, picpq_status_string(s), picpq_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    int64_t shape[4], n_maps, i, fast = 0, fallback = 0, *sums[3];
    float *data;
    int64_t *ranks;
    FILE *f;
    picpq_tensor *t;
    int threads, reps, r;
    if (argc != 8) {
        fprintf(stderr, "usage: %s IN N C H W RANKS_OUT REPS\n", argv[0]);
        return 2;
    }
    for (i = 0; i < 4; i++) shape[i] = atoll(argv[2 + i]);
    reps = atoi(argv[7]);
    n_maps = shape[0] * shape[1];
    data = malloc(sizeof(float) * (size_t)(n_maps * shape[2] * shape[3]));
    ranks = malloc(sizeof(int64_t) * (size_t)n_maps);
    for (i = 0; i < 3; i++) sums[i] = calloc((size_t)shape[1], sizeof(int64_t));
    f = fopen(argv[1], "rb");
    if (!data || !ranks || !f ||
        fread(data, sizeof(float), (size_t)(n_maps * shape[2] * shape[3]), f) !=
            (size_t)(n_maps * shape[2] * shape[3])) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 1;
    }
    fclose(f);
    r = picpq_tensor_wrap(data, PICPQ_F32, 4, shape, NULL, &t);
    if (r != PICPQ_OK) return die("wrap", r);
    for (threads = 1; threads <= 2; threads++) {
        double best = 1e300, cores = 0;
        int k;
        for (k = 0; k < reps; k++) {
            picpq_ranker *rk;
            double t0, c0;
            r = picpq_ranker_create(1, &shape[1], &rk);
            if (r != PICPQ_OK) return die("create", r);
            picpq_ranker_set_int(rk, PICPQ_RANK_THREADS, threads);
            t0 = clock_s(CLOCK_MONOTONIC);
            c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
            r = picpq_ranker_feed(rk, 0, t);
            c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
            t0 = clock_s(CLOCK_MONOTONIC) - t0;
            if (r != PICPQ_OK) return die("feed", r);
            if (t0 < best) best = t0, cores = c0 / t0;
            picpq_ranker_stats(rk, &fast, &fallback);
            memcpy(sums[threads], rk->sums, sizeof(int64_t) * (size_t)shape[1]);
            picpq_ranker_free(rk);
        }
        /* cores = CPU seconds per wall second: below `threads` when the
         * machine is shared */
        printf("threads=%d maps_per_s=%.1f cores=%.2f\n", threads, (double)n_maps / best, cores);
    }
    printf("fast=%lld fallback=%lld\n", (long long)fast, (long long)fallback);
    for (i = 0; i < n_maps; i++) {
        r = picpq_matrix_rank_f32(data + i * shape[2] * shape[3], shape[2], shape[3], shape[3],
                                  &ranks[i]);
        if (r != PICPQ_OK) return die("rank", r);
    }
    /* the streaming sums (scratch reused map after map, any thread count)
     * must equal the per-map ranks of fresh calls */
    for (i = 0; i < n_maps; i++) sums[0][i % shape[1]] += ranks[i];
    for (threads = 1; threads <= 2; threads++)
        if (memcmp(sums[0], sums[threads], sizeof(int64_t) * (size_t)shape[1]) != 0) {
            fprintf(stderr, "ranker sums with %d threads differ from per-map ranks\n", threads);
            return 1;
        }
    f = fopen(argv[6], "wb");
    if (!f || fwrite(ranks, sizeof(int64_t), (size_t)n_maps, f) != (size_t)n_maps) return 1;
    fclose(f);
    picpq_tensor_free(t);
    free(data);
    free(ranks);
    for (i = 0; i < 3; i++) free(sums[i]);
    return 0;
}
