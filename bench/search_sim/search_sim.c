/* Scale-out by simulation (issue 8): the C search driven by W simulated
 * workers in a discrete-event simulation, fully asynchronous (a worker asks
 * for a new candidate as soon as it tells) against synchronous generations
 * (ask W, wait for all W, tell them, repeat).
 *
 * Nothing is really evaluated: an evaluation takes a log-normal time
 * (median 1, sigma 0.5 or 1.0: heavy-tailed, as fine-tuning jobs on shared
 * clusters are) and returns a synthetic loss with a known optimum,
 *   loss = sum_l (log a_l - log a*_l)^2 + ((b_l - b*_l) / std_l)^2 + N(0, 1),
 * over the L = 55 prunable conv layers of a ResNet-56-shaped net (channels
 * 16/32/64, FP scores with per-layer scales spread over ~2 decades so that
 * std_l matters). The optimum (loss 0) is drawn once per seed:
 * log a*_l ~ N(0, OPT_SCALE^2), b*_l ~ N(0, (OPT_SCALE std_l)^2), OPT_SCALE 1
 * by default (the scale of the search's random candidates: the identity
 * then scores ~110, a random candidate ~220). Quality is the
 * noise-free loss of the search's best candidate (the noisy loss picked it).
 *
 * Workers are identical; wall-clock is simulated time (units of the median
 * evaluation), so the figures do not depend on this machine. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "picpq.h"

#define L_PRUNABLE 55
#define N_LAYERS (L_PRUNABLE + 1) /* + the final linear layer (not prunable) */
#define SEEDS 20
#define NOISE_SD 1.0
#ifndef OPT_SCALE
#define OPT_SCALE 1.0
#endif

/* ---- small generator for durations, noise and the optimum (not the search's) ---- */

static uint64_t rng_next(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static double rng_uniform(uint64_t *x) /* in (0, 1) */
{
    return ((double)(rng_next(x) >> 11) + 0.5) / 9007199254740992.0;
}

static double rng_normal(uint64_t *x)
{
    double u = rng_uniform(x), v = rng_uniform(x);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static void check(picpq_status st, const char *what)
{
    if (st != PICPQ_OK) {
        fprintf(stderr, "search_sim: %s failed (%d): %s\n", what, (int)st, picpq_last_error());
        exit(1);
    }
}

/* ---- the problem: net, scores, optimum ---- */

typedef struct {
    picpq_net *net;
    double std[L_PRUNABLE];
    double log_a_opt[L_PRUNABLE], b_opt[L_PRUNABLE];
} problem;

static double population_std(const double *x, int n)
{
    double m = 0, v = 0;
    int i;
    for (i = 0; i < n; i++) m += x[i];
    m /= n;
    for (i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
    return sqrt(v / n);
}

static void problem_init(problem *p, uint64_t seed)
{
    static const int64_t stage_ch[3] = {16, 32, 64};
    double fp[64];
    uint64_t x = seed * 1000003u + 17u;
    int32_t l, id;
    int i;
    check(picpq_net_create(&p->net), "picpq_net_create");
    for (l = 0; l < L_PRUNABLE; l++) {
        int stage = l == 0 ? 0 : (l - 1) / 18; /* stem + 3 stages of 18 convs */
        int64_t cout = stage_ch[stage], cin = l == 0 ? 3 : stage_ch[stage], hw = 32 >> stage;
        double scale = exp(1.0 * rng_normal(&x)); /* per-layer FP scale: std_l spans decades */
        check(picpq_net_add_conv(p->net, cin, cout, 3, 3, 1, hw, hw, &id), "picpq_net_add_conv");
        for (i = 0; i < cout; i++) fp[i] = scale * fabs(rng_normal(&x));
        check(picpq_net_set_fp(p->net, id, fp, cout), "picpq_net_set_fp");
        p->std[l] = population_std(fp, (int)cout);
        p->log_a_opt[l] = OPT_SCALE * rng_normal(&x);
        p->b_opt[l] = OPT_SCALE * p->std[l] * rng_normal(&x);
    }
    check(picpq_net_add_linear(p->net, 64, 10, &id), "picpq_net_add_linear");
}

static double true_loss(const problem *p, const double *a, const double *b)
{
    double f = 0;
    int l;
    for (l = 0; l < L_PRUNABLE; l++) {
        double da = log(a[l]) - p->log_a_opt[l], db = (b[l] - p->b_opt[l]) / p->std[l];
        f += da * da + db * db;
    }
    return f;
}

/* ---- the simulation ---- */

typedef struct {
    double wall;        /* simulated time of the G-th tell */
    double utilization; /* busy worker-time / (W * wall) */
    double best;        /* noise-free loss of the search's best candidate */
    int64_t fallback;   /* asks g >= P issued with no member told (random, not a child) */
} outcome;

typedef struct { /* one in-flight evaluation */
    uint64_t id;
    double finish, duration, loss;
} job;

typedef struct {
    const problem *p;
    picpq_search *s;
    uint64_t x;      /* durations and noise */
    double sigma_t;  /* log-normal sigma of the evaluation time */
    int64_t P, told; /* every simulated loss is finite: told = members joined */
    double busy;
    outcome out;
    double a[N_LAYERS], b[N_LAYERS];
} sim;

/* Ask one candidate at time `now`; 0 when all G were issued. */
static int sim_ask(sim *m, double now, job *j)
{
    int64_t issued;
    picpq_status st;
    check(picpq_search_stats(m->s, &issued, NULL, NULL, NULL), "picpq_search_stats");
    st = picpq_search_ask(m->s, &j->id, m->a, m->b, N_LAYERS);
    if (st == PICPQ_DONE) return 0;
    check(st, "picpq_search_ask");
    if (issued >= m->P && m->told == 0) m->out.fallback++;
    j->duration = exp(m->sigma_t * rng_normal(&m->x));
    j->finish = now + j->duration;
    j->loss = true_loss(m->p, m->a, m->b) + NOISE_SD * rng_normal(&m->x);
    return 1;
}

static void sim_tell(sim *m, const job *j)
{
    check(picpq_search_tell(m->s, j->id, j->loss), "picpq_search_tell");
    m->busy += j->duration;
    m->told++;
}

/* Fully asynchronous: every worker starts at 0; the earliest to finish tells
 * and immediately asks again (a linear scan for the minimum: W <= 1024). */
static void run_async(sim *m, int W, job *w)
{
    int i, k, live = 0;
    double now = 0;
    int *active = malloc((size_t)W * sizeof *active);
    if (!active) check(PICPQ_E_NOMEM, "malloc");
    for (i = 0; i < W; i++) live += active[i] = sim_ask(m, 0, &w[i]);
    while (live > 0) {
        for (k = -1, i = 0; i < W; i++)
            if (active[i] && (k < 0 || w[i].finish < w[k].finish)) k = i;
        now = w[k].finish;
        sim_tell(m, &w[k]);
        if (!sim_ask(m, now, &w[k])) active[k] = 0, live--;
    }
    m->out.wall = now;
    free(active);
}

static int by_finish(const void *x, const void *y)
{
    double a = ((const job *)x)->finish, b = ((const job *)y)->finish;
    return (a > b) - (a < b);
}

/* Synchronous generations: ask up to W, wait for the slowest, tell all
 * (in completion order, as a master receiving them would), repeat. */
static void run_sync(sim *m, int W, job *w)
{
    double now = 0;
    for (;;) {
        int n = 0, i;
        while (n < W && sim_ask(m, now, &w[n])) n++;
        if (n == 0) break;
        qsort(w, (size_t)n, sizeof *w, by_finish);
        for (i = 0; i < n; i++) sim_tell(m, &w[i]);
        now = w[n - 1].finish;
    }
    m->out.wall = now;
}

static outcome simulate(const problem *p, uint64_t seed, int W, int64_t G, double sigma_t,
                        int async)
{
    sim m = {0};
    job *w = malloc((size_t)W * sizeof *w);
    double best_loss;
    if (!w) check(PICPQ_E_NOMEM, "malloc");
    m.p = p;
    m.x = seed * 7919u + (uint64_t)W;
    m.sigma_t = sigma_t;
    check(picpq_search_create(p->net, seed, &m.s), "picpq_search_create");
    check(picpq_search_set_int(m.s, PICPQ_SEARCH_GENERATIONS, G), "picpq_search_set_int");
    check(picpq_search_get_int(m.s, PICPQ_SEARCH_POPULATION, &m.P), "picpq_search_get_int");
    if (async) run_async(&m, W, w);
    else run_sync(&m, W, w);
    if (m.told != G) {
        fprintf(stderr, "search_sim: %lld tells for G = %lld\n", (long long)m.told, (long long)G);
        exit(1);
    }
    check(picpq_search_best(m.s, m.a, m.b, N_LAYERS, &best_loss), "picpq_search_best");
    m.out.best = true_loss(p, m.a, m.b);
    m.out.utilization = m.busy / ((double)W * m.out.wall);
    picpq_search_free(m.s);
    free(w);
    return m.out;
}

typedef struct {
    double wall, util, best, best2, fallback;
} totals;

static void add(totals *t, outcome o)
{
    t->wall += o.wall, t->util += o.utilization, t->best += o.best, t->best2 += o.best * o.best;
    t->fallback += (double)o.fallback;
}

static double std_error(double sum, double sum2)
{
    double m = sum / SEEDS;
    return sqrt(fmax(0.0, sum2 / SEEDS - m * m) / (SEEDS - 1));
}

static void print_row(int W, int64_t G, double sigma_t, const char *scheme, const totals *t,
                      const char *delta)
{
    printf("| %.1f | %4d | %5lld | %-5s | %5.1f%% | %7.1f | %6.2f ± %.2f | %s | %4.0f |\n", sigma_t,
           W, (long long)G, scheme, 100 * t->util / SEEDS, t->wall / SEEDS, t->best / SEEDS,
           std_error(t->best, t->best2), delta, t->fallback / SEEDS);
}

/* Both schemes on the same SEEDS problems and search seeds; the quality
 * difference is paired per seed (mean ± standard error). W = 1 is the
 * sequential reference (METHOD §6 exactly), printed once. */
static void compare(int W, int64_t G, double sigma_t)
{
    totals as = {0}, sy = {0};
    double d = 0, d2 = 0;
    char delta[64];
    int k;
    for (k = 0; k < SEEDS; k++) {
        problem p;
        outcome oa, os;
        problem_init(&p, (uint64_t)k + 1);
        oa = simulate(&p, (uint64_t)k + 1, W, G, sigma_t, 1);
        add(&as, oa);
        if (W > 1) {
            os = simulate(&p, (uint64_t)k + 1, W, G, sigma_t, 0);
            add(&sy, os);
            d += oa.best - os.best, d2 += (oa.best - os.best) * (oa.best - os.best);
        }
        picpq_net_free(p.net);
    }
    if (W == 1) {
        print_row(W, G, sigma_t, "seq", &as, "");
        return;
    }
    snprintf(delta, sizeof delta, "%+6.2f ± %.2f", d / SEEDS, std_error(d, d2));
    print_row(W, G, sigma_t, "async", &as, delta);
    print_row(W, G, sigma_t, "sync", &sy, "");
}

int main(void)
{
    static const int workers[3] = {8, 64, 1024};
    static const double sigmas[2] = {0.5, 1.0};
    int i, j;
    printf("search_sim: L = %d, P 64, S 16 (defaults), optimum scale %.1f, noise sd %.1f; "
           "log-normal eval times (median 1); mean of %d seeds (± = standard error)\n",
           L_PRUNABLE, OPT_SCALE, NOISE_SD, SEEDS);
    printf("| σ_t | W | G | scheme | utilization | wall-clock | best true loss | async − sync "
           "(paired) "
           "| random fallbacks |\n");
    printf("|---|---|---|---|---|---|---|---|---|\n");
    for (i = 0; i < 2; i++) {
        compare(1, 400, sigmas[i]);
        for (j = 0; j < 3; j++) {
            /* G = 400 is the paper's budget; G = 16 W also lets each worker run
             * 16 evaluations, so the start (W >= P: random fallbacks) and the
             * drain at the end (waiting for the slowest) do not dominate. */
            int64_t G_scaled = 16 * (int64_t)workers[j];
            compare(workers[j], 400, sigmas[i]);
            if (G_scaled > 400) compare(workers[j], G_scaled, sigmas[i]);
        }
    }
    return 0;
}
