/* bench/plan: microseconds per global pruning plan for ResNet-56, VGG-16 and
 * MobileNetV2 (METHOD §16) at their reference budgets, default and faithful
 * modes, and 10 budgets in one picpq_plan_compute_multi pass vs 10 single
 * calls. With the argument `dump` it prints each net, its scores and the
 * faithful plan instead, for bench_plan.py's numpy re-implementation to
 * time the reference's approach and cross-check the result. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "picpq.h"
#include "reference_nets.h"

#define MAX_LAYERS 64

static const char *const names[3] = {"resnet56", "vgg16", "mobilenetv2"};
static const double keep[3] = {0.45, 0.347, 0.5};

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Uniform pseudo-random scores in [0, 32) with a fixed seed. */
static int build(int which, picpq_net **out)
{
    uint64_t state = 2024 + (uint64_t)which;
    picpq_net *net = NULL;
    int32_t l;
    picpq_status s = picpq_net_create(&net);
    if (s == PICPQ_OK)
        s = which == 0   ? fixture_resnet56(net, 10)
            : which == 1 ? fixture_vgg16(net)
                         : fixture_mobilenetv2(net);
    for (l = 0; s == PICPQ_OK && l < picpq_net_num_layers(net); l++) {
        double fp[1280];
        int64_t n = 0, j;
        int prunable = 0;
        picpq_net_is_prunable(net, l, &prunable);
        picpq_net_layer_channels(net, l, NULL, &n);
        if (!prunable) continue;
        for (j = 0; j < n; j++) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            fp[j] = (double)(state >> 40) / (double)(1 << 19);
        }
        s = picpq_net_set_fp(net, l, fp, n);
    }
    if (s != PICPQ_OK) {
        fprintf(stderr, "%s: %s\n", names[which], picpq_last_error());
        picpq_net_free(net);
        return 0;
    }
    *out = net;
    return 1;
}

/* The net, a/b, scores and the faithful plan's kept counts, line by line. */
static int dump(int which)
{
    picpq_net *net;
    picpq_plan *plan = NULL;
    double a[MAX_LAYERS], b[MAX_LAYERS], macs = 0;
    int32_t l, n;
    if (!build(which, &net)) return 0;
    n = picpq_net_num_layers(net);
    for (l = 0; l < n; l++) {
        a[l] = 0.5 + (l % 5) * 0.25;
        b[l] = (l % 3) - 1.0;
    }
    picpq_net_macs(net, &macs);
    printf("net %s %d %.0f %.17g\n", names[which], (int)n, macs, keep[which]);
    for (l = 0; l < n; l++) {
        picpq_layer_kind kind;
        int64_t in = 0, out = 0, j;
        int prunable = 0;
        picpq_net_layer_kind(net, l, &kind);
        picpq_net_layer_channels(net, l, &in, &out);
        picpq_net_is_prunable(net, l, &prunable);
        printf("layer %d %d %lld %lld %d %.17g %.17g\n", (int)l, (int)kind, (long long)in,
               (long long)out, prunable, a[l], b[l]);
        if (prunable) {
            double fp[1280];
            picpq_net_fp(net, l, fp, out);
            printf("scores");
            for (j = 0; j < out; j++) printf(" %.17g", fp[j]);
            printf("\n");
        }
    }
    if (picpq_plan_create(net, &plan) != PICPQ_OK ||
        picpq_plan_set_int(plan, PICPQ_PLAN_FAITHFUL, 1) != PICPQ_OK ||
        picpq_plan_compute(plan, a, b, keep[which]) < 0) {
        fprintf(stderr, "%s: %s\n", names[which], picpq_last_error());
        return 0;
    }
    printf("kept");
    for (l = 0; l < n; l++) {
        int64_t k = 0;
        picpq_plan_kept(plan, l, &k);
        printf(" %lld", (long long)k);
    }
    printf("\n");
    picpq_plan_free(plan);
    picpq_net_free(net);
    return 1;
}

/* Best-of-5 mean over `reps` calls, in microseconds. */
static double time_compute(picpq_plan *plan, const double *a, const double *b, double kf, int reps)
{
    double best = 1e300;
    int round, r;
    for (round = 0; round < 5; round++) {
        double t0 = now_us();
        for (r = 0; r < reps; r++) picpq_plan_compute(plan, a, b, kf);
        if ((now_us() - t0) / reps < best) best = (now_us() - t0) / reps;
    }
    return best;
}

static int bench(int which)
{
    picpq_net *net;
    picpq_plan *plan = NULL, *plans[10] = {NULL};
    double a[MAX_LAYERS], b[MAX_LAYERS], fractions[10], t_def, t_faith, t_multi = 1e300, t0;
    int64_t filters = 0;
    int32_t l, n;
    int i, round, reps = which == 2 ? 50 : 200, ok = 1;
    if (!build(which, &net)) return 0;
    n = picpq_net_num_layers(net);
    for (l = 0; l < n; l++) {
        int64_t out = 0;
        int prunable = 0;
        picpq_net_layer_channels(net, l, NULL, &out);
        picpq_net_is_prunable(net, l, &prunable);
        if (prunable) filters += out;
        a[l] = 0.5 + (l % 5) * 0.25;
        b[l] = (l % 3) - 1.0;
    }
    for (i = 0; i < 10; i++) fractions[i] = 0.1 * (i + 1);
    if (picpq_plan_create(net, &plan) != PICPQ_OK) ok = 0;
    for (i = 0; ok && i < 10; i++) ok = picpq_plan_create(net, &plans[i]) == PICPQ_OK;
    if (ok) {
        t_def = time_compute(plan, a, b, keep[which], reps);
        picpq_plan_set_int(plan, PICPQ_PLAN_FAITHFUL, 1);
        t_faith = time_compute(plan, a, b, keep[which], reps);
        for (round = 0; round < 5; round++) {
            t0 = now_us();
            for (i = 0; i < reps / 10; i++)
                picpq_plan_compute_multi(plans, 10, a, b, fractions, NULL);
            if ((now_us() - t0) / (reps / 10) < t_multi) t_multi = (now_us() - t0) / (reps / 10);
        }
        picpq_plan_set_int(plan, PICPQ_PLAN_FAITHFUL, 0);
        t0 = 1e300;
        for (round = 0; round < 5; round++) {
            double s = now_us();
            for (i = 0; i < reps / 10; i++) {
                int k;
                for (k = 0; k < 10; k++) picpq_plan_compute(plan, a, b, fractions[k]);
            }
            if ((now_us() - s) / (reps / 10) < t0) t0 = (now_us() - s) / (reps / 10);
        }
        printf("%-12s %6lld filters  default %8.1f us  faithful %8.1f us  "
               "10 budgets: multi %8.1f us, 10 singles %8.1f us\n",
               names[which], (long long)filters, t_def, t_faith, t_multi, t0);
    }
    for (i = 0; i < 10; i++) picpq_plan_free(plans[i]);
    picpq_plan_free(plan);
    picpq_net_free(net);
    return ok;
}

int main(int argc, char **argv)
{
    int which, dumping = argc > 1 && strcmp(argv[1], "dump") == 0;
    for (which = 0; which < 3; which++)
        if (!(dumping ? dump(which) : bench(which))) return 1;
    return 0;
}
