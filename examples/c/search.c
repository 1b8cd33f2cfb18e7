/* Learn the per-layer (a, b) of PIC-PQ with the evolutionary search:
 * ask -> plan -> fitness -> tell, with a save and resume in the middle.
 *
 * The fitness here is SYNTHETIC, computed in C so that the example runs in
 * a blink: a made-up per-layer sensitivity times the squared fraction of
 * pruned filters. A real host would instead prune its network with the plan,
 * fine-tune it for a few hundred steps and return the validation loss.
 * The FP scores are synthetic too (a real host gets them from picpq_ranker). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "picpq.h"

#define NCONV 5
#define NLAYERS (NCONV + 1)

static int fail(const char *what, picpq_status st)
{
    fprintf(stderr, "%s: %s (%s)\n", what, picpq_status_string(st), picpq_last_error());
    return 1;
}

/* A plain 5-conv CIFAR-style chain and its classifier. */
static picpq_status build_net(picpq_net **out)
{
    static const int64_t in[NCONV] = {3, 16, 32, 32, 64}, ch[NCONV] = {16, 32, 32, 64, 64};
    static const int64_t hw[NCONV] = {32, 16, 16, 8, 8};
    picpq_net *net = NULL;
    picpq_status st;
    int32_t l, id;
    if ((st = picpq_net_create(&net)) != PICPQ_OK) return st;
    for (l = 0; l < NCONV && st == PICPQ_OK; l++) {
        double fp[64];
        int64_t i;
        st = picpq_net_add_conv(net, in[l], ch[l], 3, 3, 1, hw[l], hw[l], &id);
        for (i = 0; i < ch[l]; i++) fp[i] = (double)((i * 37 + l * 11) % ch[l]) / (double)ch[l] * hw[l];
        if (st == PICPQ_OK) st = picpq_net_set_scores(net, id, fp, ch[l]);
        if (st == PICPQ_OK && l > 0) st = picpq_net_connect(net, l - 1, l);
    }
    if (st == PICPQ_OK) st = picpq_net_add_linear(net, 64, 10, &id);
    if (st == PICPQ_OK) st = picpq_net_connect(net, NCONV - 1, id);
    if (st != PICPQ_OK) {
        picpq_net_free(net);
        return st;
    }
    *out = net;
    return PICPQ_OK;
}

/* SYNTHETIC fitness: early and last-stage layers are made "sensitive". */
static double synthetic_loss(const picpq_net *net, const picpq_plan *plan)
{
    static const double sensitivity[NCONV] = {3.0, 1.0, 0.3, 2.0, 0.2};
    double loss = 0.1;
    int32_t l;
    for (l = 0; l < NCONV; l++) {
        int64_t in_ch, out_ch, kept;
        picpq_net_layer_channels(net, l, &in_ch, &out_ch);
        picpq_plan_kept(plan, l, &kept);
        loss += sensitivity[l] * pow(1.0 - (double)kept / (double)out_ch, 2);
    }
    return loss;
}

/* Plan one candidate at half the MACs and score it. */
static double evaluate(const picpq_net *net, picpq_plan *plan, const double *a, const double *b)
{
    picpq_status st = picpq_plan_compute(plan, a, b, 0.5);
    if (st < 0) return NAN; /* a failed evaluation: the search ignores it */
    return synthetic_loss(net, plan);
}

int main(void)
{
    picpq_net *net = NULL;
    picpq_plan *plan = NULL;
    picpq_search *s = NULL;
    double a[NLAYERS], b[NLAYERS], loss;
    unsigned char *state = NULL;
    char lub[512];
    size_t size, needed;
    uint64_t id;
    int64_t i, told;
    picpq_status st;
    int rc = 1;

    if ((st = build_net(&net)) != PICPQ_OK) return fail("net", st);
    if ((st = picpq_plan_create(net, &plan)) != PICPQ_OK) {
        rc = fail("plan", st);
        goto done;
    }
    if ((st = picpq_search_create(net, 2024, &s)) != PICPQ_OK ||
        (st = picpq_search_set_int(s, PICPQ_SEARCH_POPULATION, 16)) != PICPQ_OK ||
        (st = picpq_search_set_int(s, PICPQ_SEARCH_GENERATIONS, 120)) != PICPQ_OK ||
        (st = picpq_search_set_double(s, PICPQ_SEARCH_MUTATE_FRACTION, 0.4)) != PICPQ_OK) {
        rc = fail("search", st);
        goto done;
    }

    /* First half: two "workers", so two candidates are out at a time: ask
     * a new one, then tell the older one (out of issue order is fine too). */
    for (i = 0; i < 61; i++) {
        if ((st = picpq_search_ask(s, &id, a, b, NLAYERS)) != PICPQ_OK) {
            rc = fail("ask", st);
            goto done;
        }
        if (i == 0) continue;
        picpq_search_pending(s, 0, &id, a, b, NLAYERS);
        picpq_search_tell(s, id, evaluate(net, plan, a, b));
    }
    /* ... one candidate is still out when the host is interrupted: save. */
    printf("pending before save: %lld\n", (long long)picpq_search_num_pending(s));
    picpq_search_save(s, NULL, 0, &size);
    state = malloc(size);
    if (state == NULL || (st = picpq_search_save(s, state, size, &needed)) != PICPQ_OK) {
        rc = fail("save", st);
        goto done;
    }
    picpq_search_free(s);
    s = NULL;
    printf("saved %zu bytes\n", size);

    /* Restart: load and re-dispatch what was pending. */
    if ((st = picpq_search_load(net, state, size, &s)) != PICPQ_OK) {
        rc = fail("load", st);
        goto done;
    }
    while (picpq_search_num_pending(s) > 0) {
        picpq_search_pending(s, 0, &id, a, b, NLAYERS);
        picpq_search_tell(s, id, evaluate(net, plan, a, b));
    }
    /* Second half: one at a time until every evaluation was issued. */
    while ((st = picpq_search_ask(s, &id, a, b, NLAYERS)) == PICPQ_OK)
        picpq_search_tell(s, id, evaluate(net, plan, a, b));
    if (st != PICPQ_DONE) {
        rc = fail("ask", st);
        goto done;
    }

    picpq_search_stats(s, NULL, &told, NULL, &loss);
    if ((st = picpq_search_best(s, a, b, NLAYERS, &loss)) != PICPQ_OK ||
        (st = picpq_lub_write(net, a, b, NLAYERS, lub, sizeof lub, &needed)) != PICPQ_OK) {
        rc = fail("best", st);
        goto done;
    }
    printf("told %lld candidates, best synthetic loss %.4f\n--lub file:\n%s", (long long)told, loss, lub);
    picpq_plan_compute(plan, a, b, 0.5);
    printf("kept filters per layer:");
    for (i = 0; i < NCONV; i++) {
        int64_t kept;
        picpq_plan_kept(plan, (int32_t)i, &kept);
        printf(" %lld", (long long)kept);
    }
    printf("\n");
    rc = 0;
done:
    free(state);
    picpq_search_free(s);
    picpq_plan_free(plan);
    picpq_net_free(net);
    return rc;
}
