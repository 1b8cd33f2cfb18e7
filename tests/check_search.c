/* Regularized evolutionary search: METHOD §6 and T7, the asynchronous
 * semantics of docs/DESIGN.md, save/load, the --lub text, every misuse.
 * White-box where the schedule is internal (picpq_internal.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "picpq_internal.h"
#include "testutil.h"
#include "fuzz/fuzz_net.h"

#define MAXL 128

/* ---- fixtures ---------------------------------------------------------- */

/* `nconv` 3x3 convs (out channels 4 + l % 5) then a linear layer (never
 * prunable); conv layers whose id is in `frozen` (terminated by -1) are set
 * non-prunable. Scores fp_l[i] = (7i + 3l) mod 11 + 0.5 l. */
static picpq_net *make_net(int32_t nconv, const int32_t *frozen)
{
    picpq_net *net = NULL;
    int32_t l, id;
    int64_t in = 3;
    ck_assert_int_eq(picpq_net_create(&net), PICPQ_OK);
    for (l = 0; l < nconv; l++) {
        int64_t out = 4 + l % 5, i;
        double fp[8];
        ck_assert_int_eq(picpq_net_add_conv(net, in, out, 3, 3, 1, 8, 8, &id), PICPQ_OK);
        ck_assert_int_eq(id, l);
        for (i = 0; i < out; i++) fp[i] = (double)((7 * i + 3 * l) % 11) + 0.5 * l;
        ck_assert_int_eq(picpq_net_set_fp(net, l, fp, out), PICPQ_OK);
        in = out;
    }
    ck_assert_int_eq(picpq_net_add_linear(net, in, 10, &id), PICPQ_OK);
    for (; frozen && *frozen >= 0; frozen++)
        ck_assert_int_eq(picpq_net_set_prunable(net, *frozen, 0), PICPQ_OK);
    return net;
}

/* Target of the synthetic fitness for prunable layer j: the optimum is
 * a = exp(0.5 sin j), b = 0.8 cos j; the loss is the squared distance in
 * (log a, b), so it is known and smooth. */
static double fitness(const double *genes, int32_t L)
{
    double f = 0.0;
    int32_t j;
    for (j = 0; j < L; j++) {
        double da = log(genes[j]) - 0.5 * sin((double)j);
        double db = genes[L + j] - 0.8 * cos((double)j);
        f += da * da + db * db;
    }
    return f;
}

/* Net-indexed (a, b) -> compact genes of the prunable layers; checks that
 * non-prunable entries are (1, 0). */
static int32_t compact(const picpq_net *net, const double *a, const double *b, double *genes)
{
    int32_t l, j = 0, n = picpq_net_num_layers(net), L = 0;
    for (l = 0; l < n; l++) {
        int p;
        ck_assert_int_eq(picpq_net_is_prunable(net, l, &p), PICPQ_OK);
        L += p;
    }
    for (l = 0; l < n; l++) {
        int p;
        picpq_net_is_prunable(net, l, &p);
        if (p) {
            genes[j] = a[l];
            genes[L + j++] = b[l];
        } else {
            ck_assert(a[l] == 1.0 && b[l] == 0.0);
        }
    }
    return L;
}

static picpq_search *new_search(const picpq_net *net, uint64_t seed, int64_t P, int64_t G)
{
    picpq_search *s = NULL;
    ck_assert_status(picpq_search_create(net, seed, &s), PICPQ_OK);
    ck_assert_status(picpq_search_set_int(s, PICPQ_SEARCH_POPULATION, P), PICPQ_OK);
    ck_assert_status(picpq_search_set_int(s, PICPQ_SEARCH_GENERATIONS, G), PICPQ_OK);
    return s;
}

/* ---- generator ---------------------------------------------------------- */

START_TEST(test_rng_known_values)
{
    /* Expected values from an independent Python transcription of
     * splitmix64 seeding + xoshiro256** + the polar method (Python ints). */
    picpq__rng r;
    picpq__rng_seed(&r, 42);
    ck_assert(picpq__rng_next(&r) == UINT64_C(0x15780b2e0c2ec716));
    ck_assert(picpq__rng_next(&r) == UINT64_C(0x6104d9866d113a7e));
    ck_assert(picpq__rng_next(&r) == UINT64_C(0xae17533239e499a1));
    picpq__rng_seed(&r, 0);
    ck_assert(picpq__rng_next(&r) == UINT64_C(0x99ec5f36cb75f2b4));
    ck_assert(picpq__rng_next(&r) == UINT64_C(0xbf6e1f784956452a));
    picpq__rng_seed(&r, 7);
    ck_assert(picpq__rng_normal(&r) == 0.9643618527255184);
    ck_assert(r.has_spare == 1);
    ck_assert(picpq__rng_normal(&r) == -1.0637531974798475);
    ck_assert(r.has_spare == 0);
    ck_assert(picpq__rng_normal(&r) == -0.3039301238656567);
}
END_TEST

START_TEST(test_rng_distributions)
{
    picpq__rng r;
    double sum = 0, sq = 0;
    int64_t counts[7] = {0}, i;
    picpq__rng_seed(&r, 12345);
    for (i = 0; i < 200000; i++) {
        double z = picpq__rng_normal(&r), u = picpq__rng_uniform(&r);
        ck_assert(u >= 0.0 && u < 1.0);
        sum += z;
        sq += z * z;
        counts[picpq__rng_below(&r, 7)]++;
    }
    /* 200k draws: the mean's sd is 0.0022, the variance's 0.0032 */
    ck_assert_double_eq_tol(sum / 200000, 0.0, 0.012);
    ck_assert_double_eq_tol(sq / 200000, 1.0, 0.016);
    for (i = 0; i < 7; i++) ck_assert_int_lt(llabs(counts[i] - 200000 / 7), 600); /* sd ~ 157 */
    ck_assert(picpq__rng_below(&r, 1) == 0);
    ck_assert(picpq__rng_valid(&r));
    r.has_spare = 2;
    ck_assert(!picpq__rng_valid(&r));
}
END_TEST

/* ---- T7 ----------------------------------------------------------------- */

START_TEST(test_t7_schedule)
{
    ck_assert_double_eq_tol(picpq__search_step(64, 400, 1.25), 0.872, 1e-15);
    ck_assert_double_eq_tol(picpq__search_step(100, 400, 1.25), 0.8, 1e-15);
    ck_assert_double_eq_tol(picpq__search_step(200, 400, 1.25), 0.6, 1e-15);
    ck_assert_double_eq_tol(picpq__search_step(399, 400, 1.25), 0.202, 1e-15);
    ck_assert_int_eq(picpq__search_mutations(55, 0.1), 5);
    ck_assert_int_eq(picpq__search_mutations(13, 0.1), 1);
    ck_assert_int_eq(picpq__search_mutations(52, 0.1), 5);
    ck_assert_int_eq(picpq__search_mutations(9, 0.1), 0);
    ck_assert_int_eq(picpq__search_mutations(30, 0.1), 3);
}
END_TEST

/* An independent transcription of METHOD §6 (sequential, a FIFO queue of
 * slots, K as a list) drawing from the same generator. */
typedef struct ref_run {
    int64_t P, S, G;
    double sigma, frac, anneal;
    int32_t L;
    const double *std;
} ref_run;

static void ref_evolve(const ref_run *c, uint64_t seed, double *cands, int64_t *slots,
                       double *means, double *best, double *best_loss)
{
    const int32_t L = c->L;
    double *pop = calloc((size_t)(c->P * 2 * L), sizeof(double));
    double *losses = calloc((size_t)c->P, sizeof(double));
    int64_t *fifo = calloc((size_t)(c->G + c->P), sizeof(int64_t));
    int64_t head = 0, tail = 0, g, K = (int64_t)(c->frac * L), kk[MAXL];
    picpq__rng r;
    picpq__rng_seed(&r, seed);
    *best_loss = INFINITY;
    for (g = 0; g < c->G; g++) {
        double *cand = cands + g * 2 * L, step = 1.0 - (double)g / (c->anneal * (double)c->G), loss;
        int32_t l;
        int64_t old = -1;
        if (g == c->P - 1) {
            for (l = 0; l < L; l++) cand[l] = 1.0, cand[L + l] = 0.0;
        } else if (g < c->P - 1) {
            for (l = 0; l < L; l++) {
                cand[l] = exp(c->sigma * picpq__rng_normal(&r));
                cand[L + l] = c->std[l] * picpq__rng_normal(&r);
            }
        } else {
            int64_t i, w = 0, idx[64];
            double m = 0;
            for (i = 0; i < c->P; i++) m += losses[i];
            means[g - c->P] = m / (double)c->P;
            for (i = 0; i < c->S; i++) idx[i] = (int64_t)picpq__rng_below(&r, (uint64_t)c->P);
            for (i = 1; i < c->S; i++)
                if (losses[idx[i]] < losses[idx[w]]) w = i;
            w = idx[w];
            old = fifo[head++];
            for (i = 0; i < K; i++) kk[i] = (int64_t)picpq__rng_below(&r, (uint64_t)L);
            for (l = 0; l < L; l++) {
                int in_k = 0;
                for (i = 0; i < K; i++) in_k |= kk[i] == l;
                cand[l] = pop[w * 2 * L + l];
                cand[L + l] = pop[w * 2 * L + L + l];
                if (in_k) {
                    cand[l] *= exp(c->sigma * step * picpq__rng_normal(&r));
                    cand[L + l] += c->std[l] * picpq__rng_normal(&r);
                }
            }
        }
        loss = fitness(cand, L);
        if (loss < *best_loss) {
            *best_loss = loss;
            memcpy(best, cand, (size_t)(2 * L) * sizeof(double));
        }
        slots[g] = g < c->P ? g : old;
        memcpy(pop + slots[g] * 2 * L, cand, (size_t)(2 * L) * sizeof(double));
        losses[slots[g]] = loss;
        fifo[tail++] = slots[g];
    }
    free(pop);
    free(losses);
    free(fifo);
}

/* Sequential ask/tell equals the transcription exactly: candidates, slots
 * (T7: slot (g - P) mod P), identity at P-1, best, and the loss curve. */
static void check_sequential(int32_t nconv, const int32_t *frozen, int64_t P, int64_t S, int64_t G,
                             double frac, uint64_t seed)
{
    picpq_net *net = make_net(nconv, frozen);
    picpq_search *s = new_search(net, seed, P, G);
    const int32_t n = picpq_net_num_layers(net);
    ref_run c;
    double *cands, *means, *hist, best[2 * MAXL], rbest[2 * MAXL], rloss, loss;
    double a[MAXL + 1], b[MAXL + 1], genes[2 * MAXL];
    int64_t *slots, g, count;
    uint64_t id;
    ck_assert_status(picpq_search_set_int(s, PICPQ_SEARCH_SAMPLE, S), PICPQ_OK);
    ck_assert_status(picpq_search_set_double(s, PICPQ_SEARCH_MUTATE_FRACTION, frac), PICPQ_OK);
    c.P = P, c.S = S, c.G = G, c.sigma = 1.0, c.frac = frac, c.anneal = 1.25;
    c.L = s->L;
    c.std = s->std;
    cands = calloc((size_t)(G * 2 * c.L), sizeof(double));
    means = calloc((size_t)G, sizeof(double));
    hist = calloc((size_t)G, sizeof(double));
    slots = calloc((size_t)G, sizeof(int64_t));
    ref_evolve(&c, seed, cands, slots, means, rbest, &rloss);
    for (g = 0; g < G; g++) {
        ck_assert_status(picpq_search_ask(s, &id, a, b, n), PICPQ_OK);
        ck_assert(id == (uint64_t)g + 1);
        ck_assert_int_eq(compact(net, a, b, genes), c.L);
        ck_assert_msg(memcmp(genes, cands + g * 2 * c.L, (size_t)(2 * c.L) * sizeof(double)) == 0,
                      "candidate %lld differs from the transcription", (long long)g);
        ck_assert_int_eq(picpq__search_next_slot(s), slots[g]);
        if (g >= P) ck_assert_int_eq(slots[g], (g - P) % P);
        ck_assert_status(picpq_search_tell(s, id, fitness(genes, c.L)), PICPQ_OK);
    }
    /* individual P-1 is all (1, 0) */
    for (g = 0; g < c.L; g++)
        ck_assert(cands[(P - 1) * 2 * c.L + g] == 1.0 && cands[(P - 1) * 2 * c.L + c.L + g] == 0.0);
    ck_assert_status(picpq_search_ask(s, &id, a, b, n), PICPQ_DONE);
    ck_assert_status(picpq_search_best(s, a, b, n, &loss), PICPQ_OK);
    compact(net, a, b, best);
    ck_assert(loss == rloss);
    ck_assert(memcmp(best, rbest, (size_t)(2 * c.L) * sizeof(double)) == 0);
    ck_assert_status(picpq_search_history(s, hist, G, &count), PICPQ_OK);
    ck_assert_int_eq(count, G);
    for (g = P; g < G; g++) ck_assert(hist[g - 1] == means[g - P]);
    free(cands);
    free(means);
    free(hist);
    free(slots);
    picpq_search_free(s);
    picpq_net_free(net);
}

START_TEST(test_t7_sequential_small)
{
    const int32_t frozen[] = {2, 5, -1}; /* 8 convs, 6 prunable, + linear */
    check_sequential(8, frozen, 8, 4, 60, 0.34, 99);
}
END_TEST

START_TEST(test_t7_sequential_defaults)
{
    /* the reference constants: L = 55, P 64, S 16, G 400, 10 % -> K = 5 */
    check_sequential(55, NULL, 64, 16, 400, 0.1, 2024);
}
END_TEST

START_TEST(test_defaults_and_params)
{
    picpq_net *net = make_net(3, NULL);
    picpq_search *s = NULL;
    int64_t v;
    double d;
    ck_assert_status(picpq_search_create(net, 1, &s), PICPQ_OK);
    ck_assert_status(picpq_search_get_int(s, PICPQ_SEARCH_POPULATION, &v), PICPQ_OK);
    ck_assert_int_eq(v, 64);
    ck_assert_status(picpq_search_get_int(s, PICPQ_SEARCH_SAMPLE, &v), PICPQ_OK);
    ck_assert_int_eq(v, 16);
    ck_assert_status(picpq_search_get_int(s, PICPQ_SEARCH_GENERATIONS, &v), PICPQ_OK);
    ck_assert_int_eq(v, 400);
    ck_assert_status(picpq_search_get_int(s, PICPQ_SEARCH_IDENTITY, &v), PICPQ_OK);
    ck_assert_int_eq(v, 1);
    ck_assert_status(picpq_search_get_double(s, PICPQ_SEARCH_SIGMA, &d), PICPQ_OK);
    ck_assert(d == 1.0);
    ck_assert_status(picpq_search_get_double(s, PICPQ_SEARCH_MUTATE_FRACTION, &d), PICPQ_OK);
    ck_assert(d == 0.1);
    ck_assert_status(picpq_search_get_double(s, PICPQ_SEARCH_ANNEAL, &d), PICPQ_OK);
    ck_assert(d == 1.25);
    ck_assert_status(picpq_search_get_double(s, PICPQ_SEARCH_SHIFT_SCALE, &d), PICPQ_OK);
    ck_assert(d == 1.0);
    ck_assert_status(picpq_search_set_double(s, PICPQ_SEARCH_SIGMA, 0.5), PICPQ_OK);
    ck_assert_status(picpq_search_get_double(s, PICPQ_SEARCH_SIGMA, &d), PICPQ_OK);
    ck_assert(d == 0.5);
    /* layer 0's scores are [0, 7, 3, 10]: np.std = 3.8078865529319543 */
    ck_assert_double_eq_tol(s->std[0], 3.8078865529319543, 1e-15);
    picpq_search_free(s);
    picpq_net_free(net);
}
END_TEST

START_TEST(test_identity_off_and_shift_scale)
{
    picpq_net *net = make_net(4, NULL);
    picpq_search *s = new_search(net, 5, 3, 10);
    double a[5], b[5];
    uint64_t id;
    int i;
    ck_assert_status(picpq_search_set_int(s, PICPQ_SEARCH_IDENTITY, 0), PICPQ_OK);
    ck_assert_status(picpq_search_set_double(s, PICPQ_SEARCH_SHIFT_SCALE, 0.0), PICPQ_OK);
    for (i = 0; i < 3; i++) ck_assert_status(picpq_search_ask(s, &id, a, b, 5), PICPQ_OK);
    /* candidate P-1 is random (a != 1) and every b is 0 (no shift noise) */
    for (i = 0; i < 4; i++) ck_assert(a[i] != 1.0 && b[i] == 0.0);
    picpq_search_free(s);
    picpq_net_free(net);
}
END_TEST

/* ---- determinism, mutation, asynchronous semantics ---------------------- */

START_TEST(test_determinism_by_seed)
{
    picpq_net *net = make_net(6, NULL);
    picpq_search *s1 = new_search(net, 77, 4, 30), *s2 = new_search(net, 77, 4, 30);
    picpq_search *s3 = new_search(net, 78, 4, 30);
    double a1[7], b1[7], a2[7], b2[7], a3[7], b3[7];
    uint64_t i1, i2, i3;
    int g, differ = 0;
    for (g = 0; g < 30; g++) {
        ck_assert_status(picpq_search_ask(s1, &i1, a1, b1, 7), PICPQ_OK);
        ck_assert_status(picpq_search_ask(s2, &i2, a2, b2, 7), PICPQ_OK);
        ck_assert_status(picpq_search_ask(s3, &i3, a3, b3, 7), PICPQ_OK);
        ck_assert(i1 == i2 && memcmp(a1, a2, sizeof a1) == 0 && memcmp(b1, b2, sizeof b1) == 0);
        differ += memcmp(a1, a3, sizeof a1) != 0;
        ck_assert_status(picpq_search_tell(s1, i1, a1[0] + b1[1]), PICPQ_OK);
        ck_assert_status(picpq_search_tell(s2, i2, a2[0] + b2[1]), PICPQ_OK);
        ck_assert_status(picpq_search_tell(s3, i3, a3[0] + b3[1]), PICPQ_OK);
    }
    ck_assert_int_ge(differ, 29); /* only the identity (g = 3) coincides */
    picpq_search_free(s1);
    picpq_search_free(s2);
    picpq_search_free(s3);
    picpq_net_free(net);
}
END_TEST

/* The identity is the only member (candidate 0 failed), so every child is
 * the identity with int(0.1 * 55) = 5 layers drawn with replacement mutated. */
START_TEST(test_mutation_count_with_replacement)
{
    picpq_net *net = make_net(55, NULL);
    picpq_search *s = new_search(net, 3, 2, 1000);
    double a[56], b[56];
    uint64_t id;
    int c, l, five = 0, fewer = 0;
    ck_assert_status(picpq_search_ask(s, &id, a, b, 56), PICPQ_OK);
    ck_assert_status(picpq_search_tell(s, id, NAN), PICPQ_OK);
    ck_assert_status(picpq_search_ask(s, &id, a, b, 56), PICPQ_OK); /* identity */
    ck_assert_status(picpq_search_tell(s, id, 1.0), PICPQ_OK);
    for (c = 0; c < 400; c++) {
        int changed = 0;
        ck_assert_status(picpq_search_ask(s, &id, a, b, 56), PICPQ_OK);
        for (l = 0; l < 55; l++) {
            ck_assert((a[l] != 1.0) == (b[l] != 0.0)); /* a and b move together */
            changed += a[l] != 1.0;
        }
        ck_assert_int_ge(changed, 1);
        ck_assert_int_le(changed, 5);
        five += changed == 5;
        fewer += changed < 5;
    }
    /* P(5 distinct of 55 with replacement) = 55·54·53·52·51/55^5 = 0.8308 */
    ck_assert_int_gt(five, 300);
    ck_assert_int_lt(five, 365);
    ck_assert_int_gt(fewer, 0);
    picpq_search_free(s);
    picpq_net_free(net);
}
END_TEST

/* Asks g >= P issued before any tell draw random candidates; once one
 * member is told, children (K = 0) copy it exactly. */
START_TEST(test_async_child_without_members)
{
    picpq_net *net = make_net(4, NULL);
    picpq_search *s = new_search(net, 11, 4, 20);
    double a[8][5], b[8][5];
    uint64_t id[8];
    int i, j, l;
    ck_assert_status(picpq_search_set_double(s, PICPQ_SEARCH_MUTATE_FRACTION, 0.0), PICPQ_OK);
    for (i = 0; i < 6; i++) ck_assert_status(picpq_search_ask(s, &id[i], a[i], b[i], 5), PICPQ_OK);
    ck_assert_int_eq(picpq_search_num_pending(s), 6);
    for (i = 4; i < 6; i++)
        for (j = 0; j < i; j++)
            for (l = 0; l < 4; l++) ck_assert(a[i][l] != a[j][l] && b[i][l] != b[j][l]);
    ck_assert_status(picpq_search_tell(s, id[1], 2.5), PICPQ_OK);
    ck_assert_status(picpq_search_ask(s, &id[6], a[6], b[6], 5), PICPQ_OK);
    ck_assert(memcmp(a[6], a[1], sizeof a[1]) == 0 && memcmp(b[6], b[1], sizeof b[1]) == 0);
    picpq_search_free(s);
    picpq_net_free(net);
}
END_TEST

/* Tells in any order: slots are filled in tell order, aging follows the
 * tell order, best is the minimum, the history is the running mean. */
START_TEST(test_out_of_order_tells)
{
    picpq_net *net = make_net(3, NULL);
    picpq_search *s = new_search(net, 21, 4, 12);
    double a[4], b[4], hist[12], best_a[4], best_b[4], loss;
    double la[4], lb[4][4];
    uint64_t id[6];
    int64_t count, told, issued, failed;
    int i;
    for (i = 0; i < 4; i++) {
        ck_assert_status(picpq_search_ask(s, &id[i], a, b, 4), PICPQ_OK);
        memcpy(lb[i], a, sizeof a);
    }
    la[0] = 4.0, la[1] = 1.0, la[2] = 3.0, la[3] = 2.0;
    ck_assert_status(picpq_search_tell(s, id[2], la[2]), PICPQ_OK); /* -> slot 0 */
    ck_assert_status(picpq_search_tell(s, id[0], la[0]), PICPQ_OK); /* -> slot 1 */
    ck_assert_int_eq(picpq_search_num_pending(s), 2);
    ck_assert_status(picpq_search_pending(s, 0, &id[5], a, b, 4), PICPQ_OK);
    ck_assert(id[5] == id[1] && memcmp(a, lb[1], sizeof a) == 0);
    ck_assert_status(picpq_search_tell(s, id[3], la[3]), PICPQ_OK); /* -> slot 2 */
    ck_assert_status(picpq_search_tell(s, id[1], la[1]), PICPQ_OK); /* -> slot 3 */
    ck_assert(s->pop_loss[0] == 3.0 && s->pop_loss[1] == 4.0 && s->pop_loss[2] == 2.0 &&
              s->pop_loss[3] == 1.0);
    ck_assert_int_eq(picpq__search_next_slot(s), 0); /* the first told ages out first */
    ck_assert_status(picpq_search_best(s, best_a, best_b, 4, &loss), PICPQ_OK);
    ck_assert(loss == 1.0 && memcmp(best_a, lb[1], sizeof best_a) == 0);
    /* two children outstanding, told in reverse order: slots 0 then 1 */
    ck_assert_status(picpq_search_ask(s, &id[4], a, b, 4), PICPQ_OK);
    ck_assert_status(picpq_search_ask(s, &id[5], a, b, 4), PICPQ_OK);
    ck_assert_status(picpq_search_tell(s, id[5], 7.0), PICPQ_OK);
    ck_assert(s->pop_loss[0] == 7.0);
    ck_assert_status(picpq_search_tell(s, id[4], 0.5), PICPQ_OK);
    ck_assert(s->pop_loss[1] == 0.5);
    ck_assert_int_eq(picpq__search_next_slot(s), 2);
    ck_assert_status(picpq_search_history(s, hist, 12, &count), PICPQ_OK);
    ck_assert_int_eq(count, 6);
    /* by hand: 3; (3+4)/2; (3+4+2)/3; (3+4+2+1)/4; (7+4+2+1)/4; (7+0.5+2+1)/4 */
    ck_assert(hist[0] == 3.0 && hist[1] == 3.5 && hist[2] == 3.0 && hist[3] == 2.5);
    ck_assert(hist[4] == 3.5 && hist[5] == 2.625);
    ck_assert_status(picpq_search_stats(s, &issued, &told, &failed, &loss), PICPQ_OK);
    ck_assert(issued == 6 && told == 6 && failed == 0 && loss == 0.5);
    picpq_search_free(s);
    picpq_net_free(net);
}
END_TEST

START_TEST(test_failed_evaluations)
{
    picpq_net *net = make_net(4, NULL);
    picpq_search *s = new_search(net, 8, 2, 30);
    double a[5], b[5], hist[30], loss;
    uint64_t id;
    int64_t count, failed, told;
    int i, l;
    ck_assert_status(picpq_search_ask(s, &id, a, b, 5), PICPQ_OK);
    ck_assert_status(picpq_search_tell(s, id, NAN), PICPQ_OK);
    ck_assert_status(picpq_search_best(s, a, b, 5, &loss), PICPQ_E_BAD_STATE);
    ck_assert_status(picpq_search_stats(s, NULL, NULL, NULL, &loss), PICPQ_OK);
    ck_assert(isinf(loss) && loss > 0);
    ck_assert_status(picpq_search_ask(s, &id, a, b, 5), PICPQ_OK); /* identity */
    ck_assert_status(picpq_search_tell(s, id, -INFINITY), PICPQ_OK);
    ck_assert_status(picpq_search_ask(s, &id, a, b, 5), PICPQ_OK); /* no member: random */
    ck_assert_status(picpq_search_tell(s, id, 3.0), PICPQ_OK);
    ck_assert_status(picpq_search_ask(s, &id, a, b, 5), PICPQ_OK);
    ck_assert_status(picpq_search_tell(s, id, INFINITY), PICPQ_OK);
    ck_assert_status(picpq_search_stats(s, NULL, &told, &failed, &loss), PICPQ_OK);
    ck_assert(told == 4 && failed == 3 && loss == 3.0);
    ck_assert_int_eq(s->filled, 1); /* failed candidates never join */
    ck_assert_status(picpq_search_history(s, hist, 30, &count), PICPQ_OK);
    ck_assert(count == 4 && isnan(hist[0]) && isnan(hist[1]) && hist[2] == 3.0 && hist[3] == 3.0);
    /* failed tells consume evaluations: 26 more asks, then DONE */
    for (i = 0; i < 26; i++) {
        ck_assert_status(picpq_search_ask(s, &id, a, b, 5), PICPQ_OK);
        ck_assert_status(picpq_search_tell(s, id, (i % 2) ? NAN : 10.0 + i), PICPQ_OK);
    }
    ck_assert_status(picpq_search_ask(s, &id, a, b, 5), PICPQ_DONE);
    ck_assert_status(picpq_search_best(s, a, b, 5, &loss), PICPQ_OK);
    ck_assert(loss == 3.0);
    for (l = 0; l < 5; l++) ck_assert(isfinite(a[l]) && isfinite(b[l]));
    picpq_search_free(s);
    picpq_net_free(net);
}
END_TEST

START_TEST(test_done)
{
    picpq_net *net = make_net(2, NULL);
    picpq_search *s = new_search(net, 1, 2, 3);
    double a[3], b[3] = {-7, -7, -7};
    uint64_t id = 99, ids[3];
    int i;
    for (i = 0; i < 3; i++) ck_assert_status(picpq_search_ask(s, &ids[i], a, b, 3), PICPQ_OK);
    a[0] = -7;
    b[0] = -7;
    ck_assert_status(picpq_search_ask(s, &id, a, b, 3), PICPQ_DONE);
    ck_assert(id == 99 && a[0] == -7 && b[0] == -7);
    for (i = 0; i < 3; i++) ck_assert_status(picpq_search_tell(s, ids[i], 1.0 + i), PICPQ_OK);
    ck_assert_status(picpq_search_ask(s, &id, a, b, 3), PICPQ_DONE);
    ck_assert_int_eq(picpq_search_num_pending(s), 0);
    picpq_search_free(s);
    picpq_net_free(net);
}
END_TEST

/* Random search is the same sampler with P > G (every candidate random);
 * with the fixed seeds the EA gets over 4 times closer to the optimum. */
START_TEST(test_beats_random_sampling)
{
    picpq_net *net = make_net(20, NULL);
    picpq_search *ea = new_search(net, 2024, 64, 400), *rnd = new_search(net, 2024, 401, 400);
    double a[21], b[21], genes[40], lea, lrnd;
    uint64_t id;
    int g;
    for (g = 0; g < 400; g++) {
        ck_assert_status(picpq_search_ask(ea, &id, a, b, 21), PICPQ_OK);
        compact(net, a, b, genes);
        ck_assert_status(picpq_search_tell(ea, id, fitness(genes, 20)), PICPQ_OK);
        ck_assert_status(picpq_search_ask(rnd, &id, a, b, 21), PICPQ_OK);
        compact(net, a, b, genes);
        ck_assert_status(picpq_search_tell(rnd, id, fitness(genes, 20)), PICPQ_OK);
    }
    ck_assert_status(picpq_search_best(ea, a, b, 21, &lea), PICPQ_OK);
    ck_assert_status(picpq_search_best(rnd, a, b, 21, &lrnd), PICPQ_OK);
    /* seed 2024: EA 9.11, random 81.9 */
    ck_assert_msg(lea < 0.25 * lrnd, "EA best %g vs random best %g", lea, lrnd);
    picpq_search_free(ea);
    picpq_search_free(rnd);
    picpq_net_free(net);
}
END_TEST

/* ---- save / load -------------------------------------------------------- */

/* A deterministic host: keeps up to 3 asks outstanding, tells a pending
 * candidate chosen by the step number (out of order), fails every 7th id.
 * Its only state is the search, so it can resume from a loaded one.
 * Appends what it sees to log (id, a, b or loss). Returns 0 when finished. */
static int host_step(picpq_search *s, const picpq_net *net, int64_t k, double *log, int64_t *pos)
{
    const int32_t n = picpq_net_num_layers(net);
    double a[MAXL + 1], b[MAXL + 1], genes[2 * MAXL];
    uint64_t id;
    int64_t np = picpq_search_num_pending(s);
    if ((k % 3 != 2 && np < 3) || np == 0) {
        picpq_status st = picpq_search_ask(s, &id, a, b, n);
        if (st == PICPQ_DONE) {
            if (np == 0) return 0;
        } else {
            ck_assert_int_eq(st, PICPQ_OK);
            log[(*pos)++] = (double)id;
            memcpy(log + *pos, a, (size_t)n * sizeof(double));
            memcpy(log + *pos + n, b, (size_t)n * sizeof(double));
            *pos += 2 * n;
            return 1;
        }
    }
    ck_assert_status(picpq_search_pending(s, (k * 7) % np, &id, a, b, n), PICPQ_OK);
    log[(*pos)++] = (double)id;
    log[(*pos)++] = id % 7 == 0 ? NAN : fitness((compact(net, a, b, genes), genes), s->L);
    ck_assert_status(picpq_search_tell(s, id, log[*pos - 1]), PICPQ_OK);
    return 1;
}

static picpq_search *reload(picpq_search *s, const picpq_net *net)
{
    size_t need, need2;
    unsigned char *buf, *buf2;
    picpq_search *t = NULL;
    ck_assert_status(picpq_search_save(s, NULL, 0, &need), PICPQ_OK);
    buf = malloc(need);
    buf2 = malloc(need);
    ck_assert_status(picpq_search_save(s, buf, need, &need2), PICPQ_OK);
    ck_assert_uint_eq(need, need2);
    picpq_search_free(s);
    ck_assert_status(picpq_search_load(net, buf, need, &t), PICPQ_OK);
    /* a loaded state saves to the same bytes */
    ck_assert_status(picpq_search_save(t, buf2, need, &need2), PICPQ_OK);
    ck_assert(need2 == need && memcmp(buf, buf2, need) == 0);
    free(buf);
    free(buf2);
    return t;
}

#define LOG_CAP 200000

static void run_host(const picpq_net *net, int64_t resume_at, double *log, int64_t *pos,
                     unsigned char **final, size_t *final_len, int64_t *pending_at_resume)
{
    picpq_search *s = new_search(net, 4242, 6, 50);
    int64_t k = 0;
    ck_assert_status(picpq_search_set_double(s, PICPQ_SEARCH_MUTATE_FRACTION, 0.3), PICPQ_OK);
    *pos = 0;
    for (;; k++) {
        if (k == resume_at) {
            *pending_at_resume = picpq_search_num_pending(s);
            s = reload(s, net);
        }
        if (!host_step(s, net, k, log, pos)) break;
        ck_assert_int_lt(*pos, LOG_CAP - 3 * MAXL);
    }
    if (k < resume_at) s = reload(s, net); /* after the end too */
    ck_assert_status(picpq_search_save(s, NULL, 0, final_len), PICPQ_OK);
    *final = malloc(*final_len);
    ck_assert_status(picpq_search_save(s, *final, *final_len, final_len), PICPQ_OK);
    picpq_search_free(s);
}

START_TEST(test_resume_equivalence)
{
    const int32_t frozen[] = {1, -1};
    picpq_net *net = make_net(5, frozen);
    const int64_t points[] = {0, 1, 4, 9, 16, 40, 77, 103, 1000};
    double *ref = malloc(LOG_CAP * sizeof(double)), *log = malloc(LOG_CAP * sizeof(double));
    int64_t nref, nlog, pending = 0, max_pending = 0;
    unsigned char *fref, *flog;
    size_t lref, llog;
    size_t i;
    run_host(net, -1, ref, &nref, &fref, &lref, &pending);
    ck_assert_int_gt(nref, 100);
    for (i = 0; i < sizeof points / sizeof points[0]; i++) {
        run_host(net, points[i], log, &nlog, &flog, &llog, &pending);
        if (pending > max_pending) max_pending = pending;
        ck_assert_int_eq(nlog, nref);
        /* bitwise, NaN failures included */
        ck_assert_msg(memcmp(log, ref, (size_t)nref * sizeof(double)) == 0,
                      "resume at %lld differs", (long long)points[i]);
        ck_assert(llog == lref && memcmp(flog, fref, lref) == 0);
        free(flog);
    }
    ck_assert_int_eq(max_pending, 3); /* some break points have 3 asks outstanding */
    free(fref);
    free(ref);
    free(log);
    picpq_net_free(net);
}
END_TEST

/* A saved state with members, best, failures and 2 pending asks. */
static unsigned char *sample_state(const picpq_net *net, size_t *len)
{
    picpq_search *s = new_search(net, 5, 3, 20);
    double a[MAXL], b[MAXL];
    uint64_t id[8];
    unsigned char *buf;
    int i, n = picpq_net_num_layers(net);
    for (i = 0; i < 8; i++) ck_assert_status(picpq_search_ask(s, &id[i], a, b, n), PICPQ_OK);
    for (i = 0; i < 6; i++)
        ck_assert_status(picpq_search_tell(s, id[i], i == 2 ? NAN : 1.0 + i), PICPQ_OK);
    ck_assert_status(picpq_search_save(s, NULL, 0, len), PICPQ_OK);
    buf = malloc(*len);
    ck_assert_status(picpq_search_save(s, buf, *len, len), PICPQ_OK);
    picpq_search_free(s);
    return buf;
}

static void put32(unsigned char *p, uint32_t v)
{
    int k;
    for (k = 0; k < 4; k++) p[k] = (unsigned char)(v >> (8 * k));
}

static void fix_crc(unsigned char *buf, size_t len)
{
    put32(buf + len - 4, picpq__crc32(0, buf, len - 4));
}

START_TEST(test_load_rejects_bad_data)
{
    picpq_net *net = make_net(3, NULL);
    size_t len, i;
    unsigned char *buf = sample_state(net, &len), *copy = malloc(len + 8);
    picpq_search *s = (picpq_search *)&len;
    int bit;
    /* every truncation */
    for (i = 0; i < len; i++) {
        ck_assert_status(picpq_search_load(net, buf, i, &s), PICPQ_E_FORMAT);
        ck_assert_ptr_null(s);
    }
    /* every single-bit flip of every byte is caught (CRC, or header checks) */
    for (i = 0; i < len; i++)
        for (bit = 0; bit < 8; bit += 3) {
            memcpy(copy, buf, len);
            copy[i] ^= (unsigned char)(1u << bit);
            ck_assert_status(picpq_search_load(net, copy, len, &s), PICPQ_E_FORMAT);
        }
    /* padding */
    memcpy(copy, buf, len);
    copy[len] = 0;
    ck_assert_status(picpq_search_load(net, copy, len + 1, &s), PICPQ_E_FORMAT);
    /* foreign version, with a valid checksum */
    memcpy(copy, buf, len);
    put32(copy + 8, 4);
    fix_crc(copy, len);
    ck_assert_status(picpq_search_load(net, copy, len, &s), PICPQ_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "version 4"));
    /* unknown flags */
    memcpy(copy, buf, len);
    put32(copy + 12, 1);
    fix_crc(copy, len);
    ck_assert_status(picpq_search_load(net, copy, len, &s), PICPQ_E_FORMAT);
    /* a valid checksum over inconsistent fields: each byte in turn set to 0xff */
    for (i = 24; i < len - 4; i++) {
        picpq_status st;
        memcpy(copy, buf, len);
        copy[i] = 0xff;
        fix_crc(copy, len);
        st = picpq_search_load(net, copy, len, &s);
        ck_assert(st == PICPQ_OK || st == PICPQ_E_FORMAT);
        picpq_search_free(st == PICPQ_OK ? s : NULL);
    }
    /* the intact blob loads */
    ck_assert_status(picpq_search_load(net, buf, len, &s), PICPQ_OK);
    picpq_search_free(s);
    ck_assert_status(picpq_search_load(NULL, buf, len, &s), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_search_load(net, NULL, len, &s), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_search_load(net, buf, len, NULL), PICPQ_E_INVALID_ARG);
    free(buf);
    free(copy);
    picpq_net_free(net);
}
END_TEST

START_TEST(test_load_rejects_wrong_net)
{
    const int32_t frozen[] = {0, -1};
    picpq_net *net = make_net(3, NULL), *fewer = make_net(2, NULL),
              *other_mask = make_net(3, frozen);
    picpq_net *other_scores = make_net(3, NULL);
    const double fp[4] = {1, 2, 3, 4.5};
    size_t len;
    unsigned char *buf = sample_state(net, &len);
    picpq_search *s = NULL;
    ck_assert_int_eq(picpq_net_set_fp(other_scores, 0, fp, 4), PICPQ_OK);
    ck_assert_status(picpq_search_load(fewer, buf, len, &s), PICPQ_E_FORMAT);
    { /* a net the search cannot be created on: picpq_search_create's status */
        picpq_net *bare = NULL;
        int32_t id;
        ck_assert_int_eq(picpq_net_create(&bare), PICPQ_OK);
        ck_assert_int_eq(picpq_net_add_conv(bare, 3, 4, 3, 3, 1, 8, 8, &id), PICPQ_OK);
        ck_assert_status(picpq_search_load(bare, buf, len, &s), PICPQ_E_BAD_STATE);
        picpq_net_free(bare);
    }
    ck_assert_status(picpq_search_load(other_mask, buf, len, &s), PICPQ_E_FORMAT);
    ck_assert_status(picpq_search_load(other_scores, buf, len, &s), PICPQ_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "different"));
    ck_assert_ptr_null(s);
    free(buf);
    picpq_net_free(net);
    picpq_net_free(fewer);
    picpq_net_free(other_mask);
    picpq_net_free(other_scores);
}
END_TEST

START_TEST(test_save_capacity)
{
    picpq_net *net = make_net(3, NULL);
    picpq_search *s = new_search(net, 1, 4, 10);
    size_t need = 0, got = 0;
    unsigned char small[16] = {0};
    ck_assert_status(picpq_search_save(s, NULL, 0, &need), PICPQ_OK);
    /* empty search: header 24 + net 8 + 3*20 + 4 + params 72 + rng 52 + counters 48 + 4 + 8 + crc 4
     */
    ck_assert_uint_eq(need, 284);
    ck_assert_status(picpq_search_save(s, small, sizeof small, &got), PICPQ_E_BUFFER);
    ck_assert_uint_eq(got, need);
    ck_assert_int_eq(small[0], 0);
    ck_assert_status(picpq_search_save(NULL, small, 16, &got), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_search_save(s, small, 16, NULL), PICPQ_E_INVALID_ARG);
    picpq_search_free(s);
    picpq_net_free(net);
}
END_TEST

/* A format-1 state, saved by the libpicpq that wrote format 1 for the fuzz
 * net (tests/fuzz/fuzz_net.h) after 4 asks and 3 tells: genomes as allele
 * codes. Format 2 does not read it, and says so. */
static const unsigned char FORMAT1_BLOB[] = {
    0x50, 0x51, 0x53, 0x45, 0x41, 0x52, 0x43, 0x48, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x80, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x70, 0xc4, 0x9d, 0x39,
    0x8d, 0x76, 0x0e, 0x40, 0x02, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xfc, 0xcd, 0x4e, 0x6b, 0xe1, 0xb9, 0x02, 0x40, 0x61, 0xeb, 0xa6, 0xd1, 0x03, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0xf0, 0x3f, 0x9a, 0x99, 0x99, 0x99, 0x99, 0x99, 0xb9, 0x3f, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0xf4, 0x3f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f, 0x07, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x01, 0xd1, 0xe5, 0x6e, 0x53, 0xc6, 0x94, 0x1d, 0xb5, 0xec, 0x69, 0xc8,
    0xb2, 0x31, 0xa1, 0x3b, 0xd5, 0x4f, 0x6e, 0x07, 0x9f, 0x08, 0xfa, 0xd6, 0x24, 0xfc, 0x4f, 0x31,
    0x07, 0xff, 0xdb, 0xda, 0x2f, 0xb9, 0xfe, 0x88, 0x50, 0x77, 0xde, 0x3f, 0x00, 0x00, 0x00, 0x00,
    0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x3f,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe0, 0x3f, 0x00, 0xcb, 0x8e, 0x48, 0x5a, 0x6e,
    0x17, 0xc8, 0x3f, 0x4d, 0xbf, 0xf9, 0x19, 0x54, 0x39, 0xec, 0xbf, 0x00, 0x34, 0x1c, 0xef, 0x81,
    0x58, 0xc5, 0xd6, 0x3f, 0x43, 0x88, 0xbf, 0xb3, 0x15, 0xd4, 0xf1, 0x3f, 0x01, 0x00, 0x00, 0x00,
    0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe0, 0x3f,
    0x04, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x03, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x3f, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0xf8, 0x3f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f, 0x10, 0x1e, 0xf0, 0x8c,
};

START_TEST(test_load_rejects_format1)
{
    picpq_net *net = fuzz_net();
    picpq_search *s = (picpq_search *)&net;
    ck_assert_status(picpq_search_load(net, FORMAT1_BLOB, sizeof FORMAT1_BLOB, &s), PICPQ_E_FORMAT);
    ck_assert_ptr_null(s);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "search state format 1 is no longer read; "));
    picpq_net_free(net);
}
END_TEST

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    int k;
    for (k = 7; k >= 0; k--) v = (v << 8) | p[k];
    return v;
}

static double getf64(const unsigned char *p)
{
    uint64_t u = get64(p);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* Format 3 byte by byte (docs/FORMATS.md) on sample_state: P 3, 8 asks, 6
 * tells (the third failed), L 3 prunable layers of a 4-layer net. Genomes are
 * compared with what the public calls report. */
START_TEST(test_state_layout_v3)
{
    picpq_net *net = make_net(3, NULL);
    size_t len;
    unsigned char *buf = sample_state(net, &len);
    picpq_search *s = NULL;
    double a[4], b[4], loss;
    uint64_t id;
    const size_t fixed = 24 + 8 + 3 * 20 + 4 + 72 + 52 + 48; /* 268 */
    const size_t genome = 2 * 3 * 8, members = 3 * (8 + genome);
    size_t best = fixed + members, pend = best + 4 + 16 + genome + 8;
    int i, l;
    /* members 3 x (loss, genome), best flag+id+loss+genome, count, 2 x (id, genome),
     * 6 history entries, CRC */
    ck_assert_uint_eq(len, fixed + members + 4 + 16 + genome + 8 + 2 * (8 + genome) + 6 * 8 + 4);
    ck_assert_uint_eq(get64(buf + 8) & 0xffffffffu, 3); /* version */
    ck_assert_uint_eq(get64(buf + fixed - 24), 0);      /* repeats */
    ck_assert_uint_eq(get64(buf + fixed - 16), 3);      /* filled */
    ck_assert_uint_eq(get64(buf + 24 + 8 + 3 * 20 + 4 + 32),
                      (uint64_t)PICPQ_AUTO); /* max_repeats */
    ck_assert_status(picpq_search_load(net, buf, len, &s), PICPQ_OK);
    /* the best candidate: the lowest of the finite losses 1, 2, 4, 5, 6 */
    ck_assert_status(picpq_search_best(s, a, b, 4, &loss), PICPQ_OK);
    ck_assert_uint_eq(get64(buf + best) & 0xffffffffu, 1u); /* has_best */
    ck_assert_uint_eq(get64(buf + best + 4), 1u);
    ck_assert(getf64(buf + best + 12) == 1.0 && loss == 1.0);
    for (l = 0; l < 3; l++) {
        ck_assert(getf64(buf + best + 20 + 8 * l) == a[l]);
        ck_assert(getf64(buf + best + 20 + 24 + 8 * l) == b[l]);
    }
    ck_assert_uint_eq(get64(buf + pend - 8), 2u); /* pending count */
    for (i = 0; i < 2; i++) {
        const unsigned char *p = buf + pend + (size_t)i * (8 + genome);
        ck_assert_status(picpq_search_pending(s, i, &id, a, b, 4), PICPQ_OK);
        ck_assert_uint_eq(get64(p), id);
        ck_assert_uint_eq(id, 7u + (uint64_t)i);
        for (l = 0; l < 3; l++)
            ck_assert(getf64(p + 8 + 8 * l) == a[l] && getf64(p + 32 + 8 * l) == b[l]);
    }
    picpq_search_free(s);
    free(buf);
    picpq_net_free(net);
}
END_TEST

/* A repeat is dropped: it is no evaluation, joins nothing, is never the
 * best; G = 4 distinct evaluations take 4 + repeats asks. */
START_TEST(test_repeats_are_not_evaluations)
{
    picpq_net *net = make_net(3, NULL);
    picpq_search *s = new_search(net, 3, 2, 4);
    double a[4], b[4], hist[8], loss;
    uint64_t id;
    int64_t told, count, v;
    int i;
    ck_assert_status(picpq_search_get_int(s, PICPQ_SEARCH_MAX_REPEATS, &v), PICPQ_OK);
    ck_assert_int_eq(v, PICPQ_AUTO);
    for (i = 0; i < 6; i++) {
        ck_assert_status(picpq_search_ask(s, &id, a, b, 4), PICPQ_OK);
        ck_assert_uint_eq(id, (uint64_t)i + 1);
        if (i == 2 || i == 4) ck_assert_status(picpq_search_tell_repeat(s, id, -100.0), PICPQ_OK);
        else ck_assert_status(picpq_search_tell(s, id, 10.0 - i), PICPQ_OK);
    }
    ck_assert_status(picpq_search_ask(s, &id, a, b, 4), PICPQ_DONE);
    ck_assert_int_eq(picpq_search_num_repeats(s), 2);
    ck_assert_int_eq(picpq_search_num_repeats(NULL), 0);
    ck_assert_status(picpq_search_stats(s, NULL, &told, NULL, &loss), PICPQ_OK);
    ck_assert(told == 6 && loss == 5.0); /* the -100 of the repeats never counts */
    ck_assert_int_eq(s->filled, 2);
    ck_assert_status(picpq_search_history(s, hist, 8, &count), PICPQ_OK);
    ck_assert(count == 6 && hist[2] == hist[1] && hist[4] == hist[3]); /* unchanged mean */
    ck_assert_status(picpq_search_tell_repeat(s, id, 1.0), PICPQ_E_BAD_STATE);
    ck_assert_status(picpq_search_tell_repeat(NULL, 1, 1.0), PICPQ_E_INVALID_ARG);
    picpq_search_free(s);
    picpq_net_free(net);
}
END_TEST

/* Past PICPQ_SEARCH_MAX_REPEATS a repeat is a plain tell (the search ends);
 * AUTO is 4·G. */
START_TEST(test_repeat_cap)
{
    picpq_net *net = make_net(3, NULL);
    picpq_search *s = new_search(net, 3, 2, 3);
    double a[4], b[4], loss;
    uint64_t id;
    int i;
    ck_assert_status(picpq_search_set_int(s, PICPQ_SEARCH_MAX_REPEATS, -2), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_search_set_int(s, PICPQ_SEARCH_MAX_REPEATS, 1), PICPQ_OK);
    for (i = 0; i < 4; i++) {
        ck_assert_status(picpq_search_ask(s, &id, a, b, 4), PICPQ_OK);
        ck_assert_status(picpq_search_tell_repeat(s, id, 7.0 - i), PICPQ_OK);
    }
    ck_assert_status(picpq_search_ask(s, &id, a, b, 4), PICPQ_DONE);
    ck_assert_int_eq(picpq_search_num_repeats(s), 1);
    ck_assert_status(picpq_search_best(s, a, b, 4, &loss), PICPQ_OK);
    ck_assert(loss == 4.0 && s->filled == 2);
    ck_assert_status(picpq_search_set_int(s, PICPQ_SEARCH_MAX_REPEATS, 2), PICPQ_E_BAD_STATE);
    picpq_search_free(s);
    /* AUTO: 4·G = 8 repeats dropped, then 2 asks count */
    s = new_search(net, 3, 2, 2);
    for (i = 0; i < 10; i++) {
        ck_assert_status(picpq_search_ask(s, &id, a, b, 4), PICPQ_OK);
        ck_assert_status(picpq_search_tell_repeat(s, id, 1.0), PICPQ_OK);
    }
    ck_assert_status(picpq_search_ask(s, &id, a, b, 4), PICPQ_DONE);
    ck_assert_int_eq(picpq_search_num_repeats(s), 8);
    picpq_search_free(s);
    picpq_net_free(net);
}
END_TEST

/* A search with repeats saved and loaded goes on as the original; a forged
 * repeat counter is refused. */
START_TEST(test_repeats_resume_and_load_checks)
{
    picpq_net *net = make_net(3, NULL);
    picpq_search *s = new_search(net, 9, 3, 12), *t = NULL;
    double a[4], b[4], a2[4], b2[4];
    uint64_t id, id2;
    size_t len;
    unsigned char *buf;
    const size_t repeats_at = 24 + 8 + 3 * 20 + 4 + 72 + 52 + 24;
    int i, l;
    for (i = 0; i < 7; i++) {
        ck_assert_status(picpq_search_ask(s, &id, a, b, 4), PICPQ_OK);
        if (i % 3 == 1) ck_assert_status(picpq_search_tell_repeat(s, id, 0.5), PICPQ_OK);
        else ck_assert_status(picpq_search_tell(s, id, a[0] + b[1]), PICPQ_OK);
    }
    ck_assert_status(picpq_search_save(s, NULL, 0, &len), PICPQ_OK);
    buf = malloc(len);
    ck_assert_status(picpq_search_save(s, buf, len, &len), PICPQ_OK);
    ck_assert_uint_eq(get64(buf + repeats_at), 2);
    ck_assert_status(picpq_search_load(net, buf, len, &t), PICPQ_OK);
    ck_assert_int_eq(picpq_search_num_repeats(t), 2);
    for (;;) {
        picpq_status st = picpq_search_ask(s, &id, a, b, 4);
        ck_assert_status(picpq_search_ask(t, &id2, a2, b2, 4), st);
        if (st == PICPQ_DONE) break;
        ck_assert_uint_eq(id, id2);
        for (l = 0; l < 4; l++) ck_assert(a[l] == a2[l] && b[l] == b2[l]);
        ck_assert_status(picpq_search_tell(s, id, a[0]), PICPQ_OK);
        ck_assert_status(picpq_search_tell(t, id2, a2[0]), PICPQ_OK);
    }
    ck_assert_uint_eq(id, 14); /* 12 evaluations + 2 repeats */
    picpq_search_free(t);
    t = (picpq_search *)&len;
    buf[repeats_at] = 49; /* more than 4·G */
    fix_crc(buf, len);
    ck_assert_status(picpq_search_load(net, buf, len, &t), PICPQ_E_FORMAT);
    ck_assert_ptr_null(t);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "inconsistent counters"));
    buf[repeats_at] = 6; /* more repeats than tells that did not join */
    fix_crc(buf, len);
    ck_assert_status(picpq_search_load(net, buf, len, &t), PICPQ_E_FORMAT);
    buf[8] = 2; /* an older format */
    ck_assert_status(picpq_search_load(net, buf, len, &t), PICPQ_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "format 2 is no longer read; "));
    free(buf);
    picpq_search_free(s);
    picpq_net_free(net);
}
END_TEST

/* A search on `net` after `told` tells (every one failed when `fail`) and
 * `pending` more asks; optionally through a counting allocator. */
static picpq_search *run_search(const picpq_net *net, int64_t P, int64_t G, int64_t told,
                                int64_t pending, int fail, const picpq_allocator *al)
{
    const int32_t n = picpq_net_num_layers(net);
    picpq_search *s = NULL;
    double a[MAXL + 1], b[MAXL + 1];
    uint64_t id;
    int64_t g;
    ck_assert_status(picpq_search_create_ex(net, 11, al, &s), PICPQ_OK);
    ck_assert_status(picpq_search_set_int(s, PICPQ_SEARCH_POPULATION, P), PICPQ_OK);
    ck_assert_status(picpq_search_set_int(s, PICPQ_SEARCH_GENERATIONS, G), PICPQ_OK);
    for (g = 0; g < told + pending; g++) {
        ck_assert_status(picpq_search_ask(s, &id, a, b, n), PICPQ_OK);
        if (g < told)
            ck_assert_status(picpq_search_tell(s, id, fail ? NAN : a[0] + b[0]), PICPQ_OK);
    }
    return s;
}

/* docs/FORMATS.md: the peak of picpq_search_load is at most 3 times the
 * blob plus the peak of picpq_search_create on the same net. */
START_TEST(test_load_peak_allocation)
{
    static const struct {
        int32_t nconv;
        int64_t P, G, told, pending;
        int fail;
    } cases[] = {
        {3, 3, 20, 6, 2, 0},                  /* small, pending */
        {5, 64, 400, 400, 0, 0},              /* a finished reference-sized run */
        {5, 64, 400, 200, 8, 0},              /* midway with pending */
        {1, 1 << 16, 1 << 16, 1 << 16, 0, 1}, /* population 2^16, every evaluation failed */
        {1, 1 << 12, 1 << 12, 0, 1 << 12, 0}, /* 4096 pending, L = 1: the worst ratio */
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        picpq_net *net = make_net(cases[i].nconv, NULL);
        picpq_search *s = run_search(net, cases[i].P, cases[i].G, cases[i].told, cases[i].pending,
                                     cases[i].fail, NULL),
                     *t = NULL;
        byte_count cc, cl;
        picpq_allocator ac = bc_make(&cc), al = bc_make(&cl);
        size_t len;
        unsigned char *buf;
        ck_assert_status(picpq_search_save(s, NULL, 0, &len), PICPQ_OK);
        buf = malloc(len);
        ck_assert_status(picpq_search_save(s, buf, len, &len), PICPQ_OK);
        ck_assert_status(picpq_search_create_ex(net, 1, &ac, &t), PICPQ_OK);
        picpq_search_free(t);
        ck_assert_status(picpq_search_load_ex(net, buf, len, &al, &t), PICPQ_OK);
        ck_assert_msg(cl.peak <= 3 * len + cc.peak, "case %d: peak %zu for %zu bytes (create %zu)",
                      (int)i, cl.peak, len, cc.peak);
        picpq_search_free(t);
        ck_assert_uint_eq(cl.live, 0);
        picpq_search_free(s);
        free(buf);
        picpq_net_free(net);
    }
}
END_TEST

/* Asks grow the population, pending and history arrays geometrically: all
 * bytes ever allocated over a run stay within a constant of what it holds
 * at the end, also for a population of 2^14 (copies per ask: O(P^2 L)). */
START_TEST(test_ask_growth_amortized)
{
    picpq_net *net = make_net(3, NULL);
    int pass;
    for (pass = 0; pass < 2; pass++) {
        byte_count c;
        picpq_allocator al = bc_make(&c);
        const int64_t P = 1 << 14;
        /* pass 0: every ask told at once; pass 1: every ask left pending */
        picpq_search *s = run_search(net, P, P, pass == 0 ? P : 0, pass == 0 ? 0 : P, 0, &al);
        /* each ask's candidate genome (48 bytes) is allocated once whatever the growth */
        const size_t genomes = (size_t)P * 48;
        ck_assert_msg(c.total - genomes <= 4 * c.live, "pass %d: %zu bytes allocated, %zu live",
                      pass, c.total, c.live);
        picpq_search_free(s);
    }
    picpq_net_free(net);
}
END_TEST

/* ---- allocation failures ------------------------------------------------ */

START_TEST(test_create_and_load_allocation_failures)
{
    picpq_net *net = make_net(3, NULL);
    size_t len;
    unsigned char *buf = sample_state(net, &len);
    long n;
    int pass;
    for (pass = 0; pass < 2; pass++) {
        for (n = 1;; n++) {
            test_alloc ta;
            picpq_allocator al = test_alloc_make(&ta, n);
            picpq_search *s = (picpq_search *)&n;
            picpq_status st = pass == 0 ? picpq_search_create_ex(net, 1, &al, &s)
                                        : picpq_search_load_ex(net, buf, len, &al, &s);
            if (st == PICPQ_OK) {
                picpq_search_free(s);
                ck_assert_int_eq(ta.live, 0);
                break;
            }
            ck_assert_int_eq(st, PICPQ_E_NOMEM);
            ck_assert_str_ne(picpq_last_error(), "");
            ck_assert_ptr_null(s);
            ck_assert_int_eq(ta.live, 0);
        }
        ck_assert_int_gt(n, pass == 0 ? 4 : 8);
    }
    free(buf);
    picpq_net_free(net);
}
END_TEST

/* An ask that fails for memory changes nothing: retried, it gives the
 * candidate a never-failing twin gives. */
START_TEST(test_ask_allocation_failures)
{
    picpq_net *net = make_net(3, NULL);
    long n;
    for (n = 1; n < 60; n++) {
        test_alloc ta;
        picpq_allocator al = test_alloc_make(&ta, 0);
        picpq_search *s = NULL, *twin = new_search(net, 9, 3, 12);
        double a[4], b[4], ta_[4], tb[4];
        uint64_t id, tid;
        int g, nomem = 0;
        ck_assert_status(picpq_search_create_ex(net, 9, &al, &s), PICPQ_OK);
        ck_assert_status(picpq_search_set_int(s, PICPQ_SEARCH_POPULATION, 3), PICPQ_OK);
        ck_assert_status(picpq_search_set_int(s, PICPQ_SEARCH_GENERATIONS, 12), PICPQ_OK);
        ta.fail_at = ta.calls + n;
        for (g = 0; g < 12; g++) {
            picpq_status st = picpq_search_ask(s, &id, a, b, 4);
            if (st == PICPQ_E_NOMEM) {
                nomem++;
                ck_assert_int_eq(picpq_search_num_pending(s), 0);
                ck_assert_status(picpq_search_ask(s, &id, a, b, 4), PICPQ_OK);
            } else {
                ck_assert_int_eq(st, PICPQ_OK);
            }
            ck_assert_status(picpq_search_ask(twin, &tid, ta_, tb, 4), PICPQ_OK);
            ck_assert(id == tid && memcmp(a, ta_, sizeof a) == 0 && memcmp(b, tb, sizeof b) == 0);
            ck_assert_status(picpq_search_tell(s, id, a[0]), PICPQ_OK);
            ck_assert_status(picpq_search_tell(twin, tid, ta_[0]), PICPQ_OK);
        }
        picpq_search_free(s);
        picpq_search_free(twin);
        ck_assert_int_eq(ta.live, 0);
        if (nomem == 0) break; /* n is past the last allocation of the run */
    }
    ck_assert_int_gt(n, 5);
    ck_assert_int_lt(n, 60);
    picpq_net_free(net);
}
END_TEST

/* ---- misuse ------------------------------------------------------------- */

START_TEST(test_create_errors)
{
    const int32_t all[] = {0, 1, -1};
    picpq_net *net = make_net(2, NULL), *none = make_net(2, all), *empty = NULL, *noscores = NULL;
    picpq_net *huge = NULL;
    picpq_search *s = (picpq_search *)&s;
    picpq_allocator half = {NULL, NULL, NULL};
    const double big[2] = {1e300, -1e300};
    int32_t id;
    ck_assert_int_eq(picpq_net_create(&empty), PICPQ_OK);
    ck_assert_int_eq(picpq_net_create(&noscores), PICPQ_OK);
    ck_assert_int_eq(picpq_net_add_conv(noscores, 3, 4, 3, 3, 1, 8, 8, &id), PICPQ_OK);
    ck_assert_int_eq(picpq_net_create(&huge), PICPQ_OK);
    ck_assert_int_eq(picpq_net_add_conv(huge, 3, 2, 3, 3, 1, 8, 8, &id), PICPQ_OK);
    ck_assert_int_eq(picpq_net_set_fp(huge, 0, big, 2), PICPQ_OK);
    ck_assert_status(picpq_search_create(NULL, 1, &s), PICPQ_E_INVALID_ARG);
    ck_assert_ptr_null(s);
    ck_assert_status(picpq_search_create(net, 1, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_search_create(empty, 1, &s), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_search_create(none, 1, &s), PICPQ_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "prunable"));
    ck_assert_status(picpq_search_create(noscores, 1, &s), PICPQ_E_BAD_STATE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "layer 0"));
    ck_assert_status(picpq_search_create(huge, 1, &s), PICPQ_E_NONFINITE);
    ck_assert_status(picpq_search_create_ex(net, 1, &half, &s), PICPQ_E_INVALID_ARG);
    ck_assert_ptr_null(s);
    picpq_search_free(NULL);
    picpq_net_free(net);
    picpq_net_free(none);
    picpq_net_free(empty);
    picpq_net_free(noscores);
    picpq_net_free(huge);
}
END_TEST

START_TEST(test_misuse)
{
    picpq_net *net = make_net(3, NULL);
    picpq_search *s = new_search(net, 1, 2, 10);
    double a[4], b[4], h[1], d;
    uint64_t id, id2;
    int64_t v, count;
    /* parameters */
    ck_assert_status(picpq_search_set_int(NULL, PICPQ_SEARCH_SAMPLE, 3), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_search_set_int(s, PICPQ_SEARCH_SIGMA, 3), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_search_set_int(s, PICPQ_PLAN_FAITHFUL, 1), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_search_set_int(s, PICPQ_SEARCH_POPULATION, 1), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_search_set_int(s, PICPQ_SEARCH_IDENTITY, 2), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_search_set_double(NULL, PICPQ_SEARCH_SIGMA, 1), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_search_set_double(s, PICPQ_SEARCH_SAMPLE, 1), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_search_set_double(s, PICPQ_SEARCH_SIGMA, 0.0), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_search_set_double(s, PICPQ_SEARCH_SIGMA, NAN), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_search_set_double(s, PICPQ_SEARCH_MUTATE_FRACTION, 1.5),
                     PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_search_set_double(s, PICPQ_SEARCH_ANNEAL, 0.5), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_search_get_int(s, PICPQ_SEARCH_SIGMA, &v), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_search_get_int(NULL, PICPQ_SEARCH_SAMPLE, &v), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_search_get_int(s, PICPQ_SEARCH_SAMPLE, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_search_get_double(s, PICPQ_SEARCH_SAMPLE, &d), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_search_get_double(s, PICPQ_RANK_ATOL, &d), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_search_get_double(NULL, PICPQ_SEARCH_SIGMA, &d), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_search_get_double(s, PICPQ_SEARCH_SIGMA, NULL), PICPQ_E_INVALID_ARG);
    /* before the first ask */
    ck_assert_status(picpq_search_best(s, a, b, 4, &d), PICPQ_E_BAD_STATE);
    ck_assert_status(picpq_search_tell(s, 1, 1.0), PICPQ_E_BAD_STATE);
    ck_assert_status(picpq_search_pending(s, 0, &id, a, b, 4), PICPQ_E_OUT_OF_RANGE);
    /* ask */
    ck_assert_status(picpq_search_ask(NULL, &id, a, b, 4), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_search_ask(s, NULL, a, b, 4), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_search_ask(s, &id, NULL, b, 4), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_search_ask(s, &id, a, NULL, 4), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_search_ask(s, &id, a, b, 3), PICPQ_E_SHAPE);
    ck_assert_status(picpq_search_ask(s, &id, a, b, 4), PICPQ_OK);
    ck_assert_status(picpq_search_ask(s, &id2, a, b, 4), PICPQ_OK);
    /* parameters are locked */
    ck_assert_status(picpq_search_set_int(s, PICPQ_SEARCH_SAMPLE, 3), PICPQ_E_BAD_STATE);
    ck_assert_status(picpq_search_set_double(s, PICPQ_SEARCH_SIGMA, 2.0), PICPQ_E_BAD_STATE);
    /* tell */
    ck_assert_status(picpq_search_tell(NULL, id, 1.0), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_search_tell(s, 0, 1.0), PICPQ_E_BAD_STATE);
    ck_assert_status(picpq_search_tell(s, 3, 1.0), PICPQ_E_BAD_STATE);
    ck_assert_status(picpq_search_tell(s, UINT64_MAX, 1.0), PICPQ_E_BAD_STATE);
    ck_assert_status(picpq_search_tell(s, id, 1.0), PICPQ_OK);
    ck_assert_status(picpq_search_tell(s, id, 1.0), PICPQ_E_BAD_STATE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "already"));
    /* queries */
    ck_assert_status(picpq_search_best(NULL, a, b, 4, &d), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_search_best(s, NULL, b, 4, &d), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_search_best(s, a, NULL, 4, &d), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_search_best(s, a, b, 5, &d), PICPQ_E_SHAPE);
    ck_assert_status(picpq_search_best(s, a, b, 4, NULL), PICPQ_OK);
    ck_assert_int_eq(picpq_search_num_pending(NULL), 0);
    ck_assert_status(picpq_search_pending(NULL, 0, &id, a, b, 4), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_search_pending(s, 0, NULL, a, b, 4), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_search_pending(s, 0, &id, NULL, b, 4), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_search_pending(s, 0, &id, a, NULL, 4), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_search_pending(s, 0, &id, a, b, 2), PICPQ_E_SHAPE);
    ck_assert_status(picpq_search_pending(s, -1, &id, a, b, 4), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_search_pending(s, 1, &id, a, b, 4), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_search_pending(s, 0, &id, a, b, 4), PICPQ_OK);
    ck_assert(id == id2);
    ck_assert_status(picpq_search_stats(NULL, &v, NULL, NULL, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_search_stats(s, NULL, NULL, NULL, NULL), PICPQ_OK);
    ck_assert_status(picpq_search_history(NULL, h, 1, &count), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_search_history(s, h, 1, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_search_history(s, h, 0, &count), PICPQ_E_BUFFER);
    ck_assert_int_eq(count, 1);
    ck_assert_status(picpq_search_history(s, NULL, 0, &count), PICPQ_OK);
    ck_assert_int_eq(count, 1);
    picpq_search_free(s);
    picpq_net_free(net);
}
END_TEST

START_TEST(test_net_changed)
{
    picpq_net *net = make_net(3, NULL);
    picpq_search *s = new_search(net, 1, 2, 10);
    double a[5], b[5];
    uint64_t id;
    int32_t l;
    ck_assert_status(picpq_search_ask(s, &id, a, b, 4), PICPQ_OK);
    ck_assert_int_eq(picpq_net_add_conv(net, 3, 4, 1, 1, 1, 8, 8, &l), PICPQ_OK);
    ck_assert_status(picpq_search_ask(s, &id, a, b, 5), PICPQ_E_BAD_STATE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "net changed"));
    ck_assert_status(picpq_search_tell(s, id, 1.0), PICPQ_E_BAD_STATE);
    ck_assert_status(picpq_search_best(s, a, b, 4, NULL), PICPQ_E_BAD_STATE);
    ck_assert_status(picpq_search_pending(s, 0, &id, a, b, 4), PICPQ_E_BAD_STATE);
    ck_assert_int_eq(picpq_search_num_pending(s), 1);
    picpq_search_free(s);
    picpq_net_free(net);
}
END_TEST

/* ---- --lub text ---------------------------------------------------------- */

START_TEST(test_lub_write_read)
{
    const int32_t frozen[] = {1, -1};
    picpq_net *net = make_net(3, frozen); /* prunable 0 and 2; 1 and linear 3 not */
    const double a[4] = {0.5, 9, 2, 9}, b[4] = {-1, 9, 0.1, 9};
    const double bad[4] = {NAN, 1, 1, 1};
    char text[128];
    double ra[4], rb[4];
    size_t need = 0;
    ck_assert_status(picpq_lub_write(net, a, b, 4, NULL, 0, &need), PICPQ_OK);
    ck_assert_uint_eq(need, strlen("0.5 -1\n2 0.10000000000000001\n") + 1);
    ck_assert_status(picpq_lub_write(net, a, b, 4, text, 5, &need), PICPQ_E_BUFFER);
    ck_assert_status(picpq_lub_write(net, a, b, 4, text, sizeof text, &need), PICPQ_OK);
    ck_assert_str_eq(text, "0.5 -1\n2 0.10000000000000001\n");
    ck_assert_status(picpq_lub_read(net, text, strlen(text), ra, rb, 4), PICPQ_OK);
    ck_assert(ra[0] == 0.5 && rb[0] == -1 && ra[2] == 2 && rb[2] == 0.1);
    ck_assert(ra[1] == 1 && rb[1] == 0 && ra[3] == 1 && rb[3] == 0);
    ck_assert_status(picpq_lub_write(net, bad, b, 4, text, sizeof text, &need), PICPQ_E_NONFINITE);
    ck_assert_status(picpq_lub_write(net, a, b, 3, text, sizeof text, &need), PICPQ_E_SHAPE);
    ck_assert_status(picpq_lub_write(NULL, a, b, 4, text, sizeof text, &need), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_lub_write(net, a, b, 4, text, sizeof text, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_lub_write(net, NULL, b, 4, text, sizeof text, &need),
                     PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_lub_write(net, a, NULL, 4, text, sizeof text, &need),
                     PICPQ_E_INVALID_ARG);
    picpq_net_free(net);
    { /* a net without prunable layers has no --lub rows */
        const int32_t all[] = {0, 1, 2, -1};
        net = make_net(3, all);
        ck_assert_status(picpq_lub_write(net, a, b, 4, text, sizeof text, &need),
                         PICPQ_E_INVALID_ARG);
        ck_assert_status(picpq_lub_read(net, "1 2\n", 4, ra, rb, 4), PICPQ_E_INVALID_ARG);
        picpq_net_free(net);
    }
}
END_TEST

START_TEST(test_lub_read_numpy_and_errors)
{
    const int32_t frozen[] = {1, -1};
    picpq_net *net = make_net(3, frozen);
    /* np.savetxt(f, [[1.5, -0.25], [2.0, 3e-5]]) writes '%.18e' rows */
    const char *np_text = "# header\r\n1.500000000000000000e+00 -2.500000000000000000e-01\r\n\n"
                          "  2.000000000000000000e+00\t3.000000000000000076e-05  # note\n";
    const char *bad[] = {
        "1 2\n",        "1 2\n3 4\n5 6\n", "1 2 3\n4 5\n",   "1\n2 3\n",     "1 x\n2 3\n",
        "nan 1\n2 3\n", "1 inf\n2 3\n",    "1e999 1\n2 3\n", "1,5 2\n2 3\n", ""};
    double ra[4] = {7, 7, 7, 7}, rb[4] = {7, 7, 7, 7};
    size_t i;
    ck_assert_status(picpq_lub_read(net, np_text, strlen(np_text), ra, rb, 4), PICPQ_OK);
    ck_assert(ra[0] == 1.5 && rb[0] == -0.25 && ra[2] == 2.0 && rb[2] == 3e-5);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double xa[4] = {7, 7, 7, 7}, xb[4] = {7, 7, 7, 7};
        ck_assert_status(picpq_lub_read(net, bad[i], strlen(bad[i]), xa, xb, 4), PICPQ_E_FORMAT);
        ck_assert(xa[0] == 7 && xb[3] == 7); /* untouched */
    }
    /* the length bounds the text: "1 2\n3 4" cut after the first row */
    ck_assert_status(picpq_lub_read(net, "1 2\n3 4\n", 4, ra, rb, 4), PICPQ_E_FORMAT);
    ck_assert_status(picpq_lub_read(net, "1 2\n3 4", 7, ra, rb, 4), PICPQ_OK);
    ck_assert(ra[2] == 3 && rb[2] == 4);
    ck_assert_status(picpq_lub_read(net, "1 2\n3 4\n", 8, ra, rb, 3), PICPQ_E_SHAPE);
    ck_assert_status(picpq_lub_read(NULL, "1 2\n3 4\n", 8, ra, rb, 4), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_lub_read(net, NULL, 8, ra, rb, 4), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_lub_read(net, "1 2\n3 4\n", 8, NULL, rb, 4), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_lub_read(net, "1 2\n3 4\n", 8, ra, NULL, 4), PICPQ_E_INVALID_ARG);
    picpq_net_free(net);
}
END_TEST

/* A search's best round-trips through the text bit for bit (%.17g). */
START_TEST(test_lub_roundtrip_search)
{
    picpq_net *net = make_net(10, NULL);
    picpq_search *s = new_search(net, 31, 4, 20);
    double a[11], b[11], ra[11], rb[11], genes[20];
    char text[2048];
    size_t need;
    uint64_t id;
    int g;
    for (g = 0; g < 20; g++) {
        ck_assert_status(picpq_search_ask(s, &id, a, b, 11), PICPQ_OK);
        compact(net, a, b, genes);
        ck_assert_status(picpq_search_tell(s, id, fitness(genes, 10)), PICPQ_OK);
    }
    ck_assert_status(picpq_search_best(s, a, b, 11, NULL), PICPQ_OK);
    ck_assert_status(picpq_lub_write(net, a, b, 11, text, sizeof text, &need), PICPQ_OK);
    ck_assert_status(picpq_lub_read(net, text, need - 1, ra, rb, 11), PICPQ_OK);
    ck_assert(memcmp(a, ra, sizeof a) == 0 && memcmp(b, rb, sizeof b) == 0);
    picpq_search_free(s);
    picpq_net_free(net);
}
END_TEST

Suite *search_suite(void)
{
    Suite *su = suite_create("search");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_rng_known_values);
    tcase_add_test(tc, test_rng_distributions);
    tcase_add_test(tc, test_t7_schedule);
    tcase_add_test(tc, test_t7_sequential_small);
    tcase_add_test(tc, test_t7_sequential_defaults);
    tcase_add_test(tc, test_defaults_and_params);
    tcase_add_test(tc, test_identity_off_and_shift_scale);
    tcase_add_test(tc, test_determinism_by_seed);
    tcase_add_test(tc, test_mutation_count_with_replacement);
    tcase_add_test(tc, test_async_child_without_members);
    tcase_add_test(tc, test_out_of_order_tells);
    tcase_add_test(tc, test_failed_evaluations);
    tcase_add_test(tc, test_done);
    tcase_add_test(tc, test_beats_random_sampling);
    tcase_add_test(tc, test_resume_equivalence);
    tcase_add_test(tc, test_load_rejects_bad_data);
    tcase_add_test(tc, test_load_rejects_wrong_net);
    tcase_add_test(tc, test_save_capacity);
    tcase_add_test(tc, test_load_rejects_format1);
    tcase_add_test(tc, test_state_layout_v3);
    tcase_add_test(tc, test_repeats_are_not_evaluations);
    tcase_add_test(tc, test_repeat_cap);
    tcase_add_test(tc, test_repeats_resume_and_load_checks);
    tcase_add_test(tc, test_load_peak_allocation);
    tcase_add_test(tc, test_ask_growth_amortized);
    tcase_add_test(tc, test_create_and_load_allocation_failures);
    tcase_add_test(tc, test_ask_allocation_failures);
    tcase_add_test(tc, test_create_errors);
    tcase_add_test(tc, test_misuse);
    tcase_add_test(tc, test_net_changed);
    tcase_add_test(tc, test_lub_write_read);
    tcase_add_test(tc, test_lub_read_numpy_and_errors);
    tcase_add_test(tc, test_lub_roundtrip_search);
    suite_add_tcase(su, tc);
    return su;
}
