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

#define PICPQ_EXPERIMENTAL /* picpq_lub_write */
#include "picpq.h"
#include "synthetic_fitness.h"

static int fail(const char *what, picpq_status st)
{
    fprintf(stderr, "%s: %s (%s)\n", what, picpq_status_string(st), picpq_last_error());
    return 1;
}

int main(void)
{
    picpq_net *net = NULL;
    picpq_plan *plan = NULL;
    picpq_search *s = NULL;
    double a[SYNTH_NLAYERS], b[SYNTH_NLAYERS], loss;
    unsigned char *state = NULL;
    char lub[512];
    size_t size, needed;
    uint64_t id;
    int64_t i, told;
    picpq_status st;
    int rc = 1;

    if ((st = synthetic_net(&net)) != PICPQ_OK) return fail("net", st);
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
        if ((st = picpq_search_ask(s, &id, a, b, SYNTH_NLAYERS)) != PICPQ_OK) {
            rc = fail("ask", st);
            goto done;
        }
        if (i == 0) continue;
        picpq_search_pending(s, 0, &id, a, b, SYNTH_NLAYERS);
        picpq_search_tell(s, id, synthetic_loss(net, plan, a, b, 0.5));
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
        picpq_search_pending(s, 0, &id, a, b, SYNTH_NLAYERS);
        picpq_search_tell(s, id, synthetic_loss(net, plan, a, b, 0.5));
    }
    /* Second half: one at a time until every evaluation was issued. */
    while ((st = picpq_search_ask(s, &id, a, b, SYNTH_NLAYERS)) == PICPQ_OK)
        picpq_search_tell(s, id, synthetic_loss(net, plan, a, b, 0.5));
    if (st != PICPQ_DONE) {
        rc = fail("ask", st);
        goto done;
    }

    picpq_search_stats(s, NULL, &told, NULL, &loss);
    if ((st = picpq_search_best(s, a, b, SYNTH_NLAYERS, &loss)) != PICPQ_OK ||
        (st = picpq_lub_write(net, a, b, SYNTH_NLAYERS, lub, sizeof lub, &needed)) != PICPQ_OK) {
        rc = fail("best", st);
        goto done;
    }
    printf("told %lld candidates, best synthetic loss %.4f\n--lub file:\n%s", (long long)told, loss,
           lub);
    picpq_plan_compute(plan, a, b, 0.5);
    printf("kept filters per layer:");
    for (i = 0; i < SYNTH_NCONV; i++) {
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
