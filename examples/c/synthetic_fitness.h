/* The SYNTHETIC problem of the search examples (search.c, search_mpi.c):
 * a plain 5-conv CIFAR-style chain with made-up FP scores, and a made-up
 * loss of a plan. A real host gets the scores from picpq_ranker and the loss
 * by pruning its network with the plan, fine-tuning it for tau_hat steps and
 * measuring the validation loss. */
#ifndef PICPQ_SYNTHETIC_FITNESS_H
#define PICPQ_SYNTHETIC_FITNESS_H

#include <math.h>

#include "picpq.h"

#define SYNTH_NCONV 5
#define SYNTH_NLAYERS (SYNTH_NCONV + 1) /* the convs and the classifier */

/* The chain and its classifier, with deterministic made-up scores. */
static inline picpq_status synthetic_net(picpq_net **out)
{
    static const int64_t in[SYNTH_NCONV] = {3, 16, 32, 32, 64},
                         ch[SYNTH_NCONV] = {16, 32, 32, 64, 64};
    static const int64_t hw[SYNTH_NCONV] = {32, 16, 16, 8, 8};
    picpq_net *net = NULL;
    picpq_status st;
    int32_t l, id;
    if ((st = picpq_net_create(&net)) != PICPQ_OK) return st;
    for (l = 0; l < SYNTH_NCONV && st == PICPQ_OK; l++) {
        double fp[64];
        int64_t i;
        st = picpq_net_add_conv(net, in[l], ch[l], 3, 3, 1, hw[l], hw[l], &id);
        for (i = 0; i < ch[l]; i++)
            fp[i] = (double)((i * 37 + l * 11) % ch[l]) / (double)ch[l] * hw[l];
        if (st == PICPQ_OK) st = picpq_net_set_fp(net, id, fp, ch[l]);
        if (st == PICPQ_OK && l > 0) st = picpq_net_connect(net, l - 1, l);
    }
    if (st == PICPQ_OK) st = picpq_net_add_linear(net, 64, 10, &id);
    if (st == PICPQ_OK) st = picpq_net_connect(net, SYNTH_NCONV - 1, id);
    if (st != PICPQ_OK) picpq_net_free(net);
    else *out = net;
    return st;
}

/* Plan (a, b) at `keep` of the MACs and score it: early and last-stage
 * layers are made "sensitive", so the optimum prunes layers 2 and 4 most.
 * A plan the library refuses is a failed evaluation (NaN). */
static inline double synthetic_loss(const picpq_net *net, picpq_plan *plan, const double *a,
                                    const double *b, double keep)
{
    static const double sensitivity[SYNTH_NCONV] = {3.0, 1.0, 0.3, 2.0, 0.2};
    double loss = 0.1;
    int32_t l;
    if (picpq_plan_compute(plan, a, b, keep) < 0) return NAN;
    for (l = 0; l < SYNTH_NCONV; l++) {
        int64_t in_ch, out_ch, kept;
        if (picpq_net_layer_channels(net, l, &in_ch, &out_ch) != PICPQ_OK ||
            picpq_plan_kept(plan, l, &kept) != PICPQ_OK)
            return NAN;
        loss += sensitivity[l] * pow(1.0 - (double)kept / (double)out_ch, 2);
    }
    return loss;
}

#endif /* PICPQ_SYNTHETIC_FITNESS_H */
