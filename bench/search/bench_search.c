/* Overhead of the search itself (no fitness): ask + tell in steady state
 * with the reference constants (P 64, S 16, 10 % of the layers mutated),
 * for L = 55 (ResNet-56) and L = 1000, and the size of a saved state. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "picpq.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static picpq_net *make_net(int32_t L)
{
    picpq_net *net = NULL;
    double fp[16];
    int32_t l, id;
    int i;
    picpq_net_create(&net);
    for (l = 0; l < L; l++) {
        picpq_net_add_conv(net, 16, 16, 3, 3, 1, 8, 8, &id);
        for (i = 0; i < 16; i++) fp[i] = (double)((i * 7 + l) % 16);
        picpq_net_set_fp(net, id, fp, 16);
    }
    picpq_net_add_linear(net, 16, 10, &id);
    return net;
}

/* Median of `reps` timings of `n` ask+tell pairs after the population is full. */
static double ask_tell_us(int32_t L, int64_t n, int reps)
{
    picpq_net *net = make_net(L);
    double *a = malloc((size_t)(L + 1) * sizeof *a), *b = malloc((size_t)(L + 1) * sizeof *b);
    double best[16], t;
    int r, i, j;
    for (r = 0; r < reps; r++) {
        picpq_search *s = NULL;
        uint64_t id;
        int64_t g;
        picpq_search_create(net, 1 + (uint64_t)r, &s);
        picpq_search_set_int(s, PICPQ_SEARCH_GENERATIONS, 64 + n);
        for (g = 0; g < 64; g++) {
            picpq_search_ask(s, &id, a, b, L + 1);
            picpq_search_tell(s, id, a[0] + b[1]);
        }
        t = now();
        for (g = 0; g < n; g++) {
            if (picpq_search_ask(s, &id, a, b, L + 1) != PICPQ_OK) abort();
            picpq_search_tell(s, id, a[0] + b[1]);
        }
        best[r] = (now() - t) / (double)n * 1e6;
        picpq_search_free(s);
    }
    for (i = 0; i < reps; i++) /* insertion sort, then the median */
        for (j = i; j > 0 && best[j] < best[j - 1]; j--)
            t = best[j], best[j] = best[j - 1], best[j - 1] = t;
    free(a);
    free(b);
    picpq_net_free(net);
    return best[reps / 2];
}

/* Synthetic losses for the size of a saved state: a smooth fitness of all
 * layers (selection converges, copies share pairs), or noise (no signal:
 * the most distinct pairs, the largest states). */
static double loss_of(const double *a, const double *b, int32_t L, int noise, uint64_t *x)
{
    double f = 0;
    int32_t l;
    if (noise) {
        *x = *x * UINT64_C(6364136223846793005) + 1442695040888963407u;
        return (double)(*x >> 11) / 9007199254740992.0;
    }
    for (l = 0; l < L; l++)
        f += (log(a[l]) - 0.3) * (log(a[l]) - 0.3) + 0.1 * (b[l] - 1) * (b[l] - 1);
    return f;
}

/* Bytes of a saved default search (P 64, G 400) at g = 64, 200 and the end,
 * and at the end with 8 asks pending. */
static void state_size(int32_t L, int noise)
{
    picpq_net *net = make_net(L);
    double *a = malloc((size_t)(L + 1) * sizeof *a), *b = malloc((size_t)(L + 1) * sizeof *b);
    picpq_search *s = NULL;
    uint64_t id, x = 1;
    size_t at64 = 0, at200 = 0, full, pend;
    int g;
    picpq_search_create(net, 1, &s);
    for (g = 0; g < 392; g++) {
        picpq_search_ask(s, &id, a, b, L + 1);
        picpq_search_tell(s, id, loss_of(a, b, L, noise, &x));
        if (g == 63) picpq_search_save(s, NULL, 0, &at64);
        if (g == 199) picpq_search_save(s, NULL, 0, &at200);
    }
    for (g = 0; g < 8; g++) picpq_search_ask(s, &id, a, b, L + 1);
    picpq_search_save(s, NULL, 0, &pend);
    while (picpq_search_num_pending(s) > 0) {
        picpq_search_pending(s, 0, &id, a, b, L + 1);
        picpq_search_tell(s, id, loss_of(a, b, L, noise, &x));
    }
    picpq_search_save(s, NULL, 0, &full);
    printf(
        "saved state, L = %d, P 64, G 400, %s losses: %zu / %zu / %zu bytes after 64 / 200 / 400 "
        "tells, %zu with 8 pending at 392\n",
        L, noise ? "random" : "smooth", at64, at200, full, pend);
    picpq_search_free(s);
    free(a);
    free(b);
    picpq_net_free(net);
}

int main(void)
{
    printf("libpicpq search: ask + tell, L = 55:   %.2f us (median of 5 x 20000)\n",
           ask_tell_us(55, 20000, 5));
    printf("libpicpq search: ask + tell, L = 1000: %.2f us (median of 5 x 2000)\n",
           ask_tell_us(1000, 2000, 5));
    state_size(55, 0);
    state_size(55, 1);
    state_size(1000, 0);
    return 0;
}
