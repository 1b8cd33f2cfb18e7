/* Describe ResNet-56, VGG-16 and MobileNetV2 (METHOD §16), print their MACs,
 * params and full-precision BOPs, then plan each at its reference budget
 * (METHOD §11.2 / T11) with synthetic filter properties and (a, b) = (1, 0),
 * in the default and the faithful mode. A host would take FP from a
 * picpq_ranker and (a, b) from a picpq_search instead. */
#include <stdio.h>

#include "picpq.h"
#include "reference_nets.h"

#define MAX_LAYERS 64

/* Deterministic stand-in for mean feature-map ranks: values in [0, width). */
static int set_synthetic_scores(picpq_net *net)
{
    uint64_t state = 12345;
    int32_t l;
    for (l = 0; l < picpq_net_num_layers(net); l++) {
        double fp[1280];
        int64_t out = 0, j;
        int prunable = 0;
        if (picpq_net_is_prunable(net, l, &prunable) != PICPQ_OK ||
            picpq_net_layer_channels(net, l, NULL, &out) != PICPQ_OK)
            return 0;
        if (!prunable) continue;
        for (j = 0; j < out; j++) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            fp[j] = (double)(state >> 33) / 2147483648.0 * 32.0;
        }
        if (picpq_net_set_fp(net, l, fp, out) != PICPQ_OK) return 0;
    }
    return 1;
}

static int plan_and_print(const picpq_net *net, double keep_fraction, int faithful)
{
    double a[MAX_LAYERS], b[MAX_LAYERS], macs = 0, params = 0, budget = 0;
    int32_t l, n = picpq_net_num_layers(net);
    picpq_plan *plan = NULL;
    picpq_status s;
    for (l = 0; l < n; l++) {
        a[l] = 1;
        b[l] = 0;
    }
    if (picpq_plan_create(net, &plan) != PICPQ_OK ||
        picpq_plan_set_int(plan, PICPQ_PLAN_FAITHFUL, faithful) != PICPQ_OK) {
        fprintf(stderr, "plan: %s\n", picpq_last_error());
        picpq_plan_free(plan);
        return 0;
    }
    s = picpq_plan_compute(plan, a, b, keep_fraction);
    if (s < 0) {
        fprintf(stderr, "compute: %s\n", picpq_last_error());
        picpq_plan_free(plan);
        return 0;
    }
    picpq_plan_budget(plan, &budget, NULL);
    picpq_plan_macs(plan, &macs);
    picpq_plan_params(plan, &params);
    printf("  %-8s budget %.1f -> %s, MACs %.0f, params %.0f\n    kept:",
           faithful ? "faithful" : "default", budget, picpq_status_string(s), macs, params);
    for (l = 0; l < n; l++) {
        int64_t kept = 0;
        picpq_plan_kept(plan, l, &kept);
        printf(" %lld", (long long)kept);
    }
    printf("\n");
    picpq_plan_free(plan);
    return 1;
}

int main(void)
{
    static const char *const names[3] = {"ResNet-56 / CIFAR-10", "VGG-16 / CIFAR-10",
                                         "MobileNetV2 / CIFAR-100"};
    static const double removed[3] = {0.55, 0.653, 0.5};
    int which, ok = 1;
    for (which = 0; which < 3 && ok; which++) {
        picpq_net *net = NULL;
        picpq_status s = picpq_net_create(&net);
        double macs = 0, params = 0, bops = 0;
        if (s == PICPQ_OK)
            s = which == 0   ? fixture_resnet56(net, 10)
                : which == 1 ? fixture_vgg16(net)
                             : fixture_mobilenetv2(net);
        if (s != PICPQ_OK || !set_synthetic_scores(net)) {
            fprintf(stderr, "%s: %s\n", names[which], picpq_last_error());
            picpq_net_free(net);
            return 1;
        }
        picpq_net_macs(net, &macs);
        picpq_net_params(net, &params);
        picpq_net_bops(net, NULL, NULL, &bops);
        printf("%s: %d layers, MACs %.0f, params %.0f, FP32 BOPs %.0f; %.1f %% of MACs removed:\n",
               names[which], (int)picpq_net_num_layers(net), macs, params, bops,
               100 * removed[which]);
        ok = plan_and_print(net, 1 - removed[which], 0) &&
             plan_and_print(net, 1 - removed[which], 1);
        picpq_net_free(net);
    }
    return ok ? 0 : 1;
}
