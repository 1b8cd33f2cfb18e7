/* Importance I = a*FP + b, chain scores, quotas and the budgeted greedy
 * global selection of METHOD §5, default and faithful semantics
 * (PICPQ_PLAN_FAITHFUL in picpq.h), for one or many budgets in one pass. The cost is kept
 * up to date per removed filter, so a plan costs O(N log N) for N filters. */
#include "picpq_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* A budget of a compute call and the plan that receives its result. */
typedef struct plan_budget {
    double budget;
    int32_t plan;
} plan_budget;

/* (a, b) of one layer, and the FP they apply to. */
static picpq_status check_layer_ab(const picpq_net *net, int32_t l, double a, double b)
{
    if (!isfinite(a) || !isfinite(b))
        return picpq__fail(PICPQ_E_NONFINITE, "layer %d: a = %g, b = %g must be finite", (int)l, a,
                           b);
    if (a <= 0) return picpq__fail(PICPQ_E_OUT_OF_RANGE, "layer %d: a = %g must be > 0", (int)l, a);
    if (picpq__net_fp(net, l) == NULL)
        return picpq__fail(PICPQ_E_BAD_STATE, "layer %d has no FP (picpq_net_set_fp)", (int)l);
    return PICPQ_OK;
}

/* Every input of a compute call, checked before anything changes. */
static picpq_status check_inputs(const picpq_plan *p, const double *a, const double *b)
{
    const picpq_net *net = p->net;
    int32_t l;
    picpq_status s;
    PICPQ__REQUIRE(a, "a");
    PICPQ__REQUIRE(b, "b");
    if ((s = picpq__plan_check_net(p)) != PICPQ_OK) return s;
    for (l = 0; l < p->n; l++) {
        if (!net->layers[l].prunable) continue;
        if ((s = check_layer_ab(net, l, a[l], b[l])) != PICPQ_OK) return s;
    }
    return PICPQ_OK;
}

/* `name` is "keep_fraction" or "keep_fractions[i]" (index >= 0). */
static picpq_status check_fraction(double keep_fraction, int32_t index)
{
    char name[40] = "keep_fraction";
    if (index >= 0) snprintf(name, sizeof name, "keep_fractions[%d]", (int)index);
    if (!isfinite(keep_fraction)) return picpq__fail(PICPQ_E_NONFINITE, "%s is not finite", name);
    if (!(keep_fraction > 0 && keep_fraction <= 1))
        return picpq__fail(PICPQ_E_OUT_OF_RANGE, "%s = %g is outside (0, 1]", name, keep_fraction);
    return PICPQ_OK;
}

/* I = a*FP + b of one filter. Faithful: in float32 as the reference's
 * numpy does (FP is a float32 array, the scalars are cast to float32; C99
 * mode keeps the compiler from fusing the multiply-add). */
static double importance(const picpq_plan *p, double fp, double a, double b)
{
    if (p->faithful) {
        float prod = (float)fp * (float)a;
        float sum = prod + (float)b;
        return sum;
    }
    return fp * a + b;
}

/* Importances of layer l into imp (NULL: only check them). */
static picpq_status layer_importances(const picpq_plan *p, int32_t l, double a, double b,
                                      double *imp)
{
    const double *fp = picpq__net_fp(p->net, l);
    int64_t j;
    for (j = 0; j < p->net->layers[l].out_ch; j++) {
        double v = importance(p, fp[j], a, b);
        if (!isfinite(v))
            return picpq__fail(PICPQ_E_NONFINITE,
                               "layer %d: importance of filter %lld is not finite (a = %g, b = %g)",
                               (int)l, (long long)j, a, b);
        if (imp) imp[j] = v;
    }
    return PICPQ_OK;
}

static picpq_status compute_importances(picpq_plan *p, const double *a, const double *b)
{
    int32_t l;
    picpq_status s;
    for (l = 0; l < p->n; l++) {
        if (!p->net->layers[l].prunable) continue;
        if ((s = layer_importances(p, l, a[l], b[l], p->imp + p->moff[l])) != PICPQ_OK) return s;
    }
    return PICPQ_OK;
}

picpq_status picpq_plan_importance(const picpq_plan *p, int32_t layer, double a, double b,
                                   double *imp, int64_t n)
{
    picpq_status s;
    picpq__clear_error();
    PICPQ__REQUIRE(p, "p");
    PICPQ__REQUIRE(imp, "imp");
    if ((s = picpq__plan_check_layer(p, layer)) != PICPQ_OK) return s;
    if ((s = picpq__plan_check_len(p, layer, n)) != PICPQ_OK) return s;
    if ((s = check_layer_ab(p->net, layer, a, b)) != PICPQ_OK) return s;
    /* all-or-nothing: write only once every value is known to be finite */
    if ((s = layer_importances(p, layer, a, b, NULL)) != PICPQ_OK) return s;
    return layer_importances(p, layer, a, b, imp);
}

/* Score of index j of chain g over the members wider than j, in chain order
 * (float32 sums when faithful). */
static double chain_score(const picpq_plan *p, int32_t g, int64_t j)
{
    double sum = 0, best = -HUGE_VAL;
    float fsum = 0.0f;
    int64_t count = 0;
    int32_t i;
    for (i = p->gstart[g]; i < p->gstart[g + 1]; i++) {
        int32_t m = p->gmem[i];
        double v;
        if (j >= p->net->layers[m].out_ch) continue;
        v = p->imp[p->moff[m] + j];
        fsum = fsum + (float)v;
        sum += v;
        if (v > best) best = v;
        count++;
    }
    if (p->chain_reduce == PICPQ_CHAIN_MAX) return best;
    if (p->faithful)
        return p->chain_reduce == PICPQ_CHAIN_MEAN ? (double)(fsum / (float)count) : (double)fsum;
    return p->chain_reduce == PICPQ_CHAIN_MEAN ? sum / (double)count : sum;
}

/* Stable bottom-up merge sort of the entries by key, through the plan's own
 * buffer (qsort may call malloc, and its callbacks are slow). Stability keeps
 * ties in the order of METHOD §5.5 step 1, as Python's sorted does. */
static void sort_entries(picpq_plan *p)
{
    picpq__plan_entry *src = p->entries, *dst = p->sort_tmp, *t;
    int64_t n = p->nentries, width, lo;
    for (width = 1; width < n; width *= 2) {
        for (lo = 0; lo < n; lo += 2 * width) {
            int64_t mid = lo + width < n ? lo + width : n;
            int64_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            int64_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) dst[k++] = src[j].key < src[i].key ? src[j++] : src[i++];
            while (i < mid) dst[k++] = src[i++];
            while (j < hi) dst[k++] = src[j++];
        }
        t = src;
        src = dst;
        dst = t;
    }
    if (src != p->entries) memcpy(p->entries, src, (size_t)n * sizeof *src);
}

static picpq_status build_entries(picpq_plan *p)
{
    int64_t e = 0, j;
    int32_t g;
    for (g = 0; g < p->ngroups; g++) {
        for (j = 0; j < p->gwidth[g]; j++, e++) {
            p->entries[e].key = chain_score(p, g, j);
            p->entries[e].group = g;
            p->entries[e].j = j;
            if (!isfinite(p->entries[e].key))
                return picpq__fail(
                    PICPQ_E_NONFINITE,
                    "the score of channel %lld of the chain of layer %d is not finite",
                    (long long)j, (int)p->gmem[p->gstart[g]]);
        }
    }
    sort_entries(p);
    return PICPQ_OK;
}

/* METHOD §5.4: the most filters layer l may lose; with round-to r > 1 the
 * largest quota at most that one that leaves a multiple of r (0 if n < r). */
static int64_t quota_of(int64_t n, double safeguard, int64_t r)
{
    int64_t q, least;
    if (safeguard == 0) q = n - 1;
    else {
        q = (int64_t)floor((double)n * (1 - safeguard));
        if (q > n - 2) q = n - 2;
        if (q < 0) q = 0;
    }
    if (r <= 1) return q;
    least = (n - q + r - 1) / r * r; /* the fewest filters kept, rounded up */
    return least > n ? 0 : n - least;
}

/* Input channels per group of layer l under the working state. */
static int64_t work_inputs(const picpq_plan *p, int32_t l)
{
    const picpq__layer *L = &p->net->layers[l];
    return picpq__layer_is_depthwise(L) ? 1 : p->ink[l] / L->groups;
}

/* Cost per (input, output) channel pair of a layer in the budget's unit. */
static int64_t pair_cost(const picpq_plan *p, const picpq__layer *L)
{
    return p->budget_kind == PICPQ_BUDGET_PARAMS ? L->kh * L->kw : L->area;
}

/* The number of classes of the reference cost's last term. */
static int64_t num_classes(const picpq_plan *p)
{
    if (p->num_classes >= 0) return p->num_classes;
    return p->last_linear >= 0 ? p->net->layers[p->last_linear].out_ch : 0;
}

/* Reset the working state to the unpruned net and return its cost: real
 * MACs (default) or the reference's §5.2 cost (faithful). */
static picpq_status reset_work(picpq_plan *p, int64_t *cost, int64_t *quota_left)
{
    const picpq_net *net = p->net;
    int64_t total = 0, q = 0, last = 0;
    int32_t l;
    memset(p->wmask, 1, (size_t)p->moff[p->n]);
    for (l = 0; l < p->n; l++) {
        const picpq__layer *L = &net->layers[l];
        p->outk[l] = L->out_ch;
        p->ink[l] = L->in_ch;
        p->quota[l] = L->prunable ? quota_of(L->out_ch, p->safeguard, p->round_to) : 0;
        p->npend[l] = 0;
        q += p->quota[l];
    }
    for (l = 0; l < p->n; l++) {
        if (p->faithful && net->layers[l].kind != PICPQ_LAYER_CONV) continue;
        total += pair_cost(p, &net->layers[l]) * work_inputs(p, l) * p->outk[l];
    }
    if (p->faithful && p->last_conv >= 0 &&
        (!picpq__mul_i64(net->layers[p->last_conv].out_ch, num_classes(p), &last) ||
         !picpq__add_i64(total, last, &total)))
        return picpq__fail(PICPQ_E_OVERFLOW, "plan: out_ch of layer %d times num_classes overflows",
                           (int)p->last_conv);
    *cost = total;
    *quota_left = q;
    return PICPQ_OK;
}

/* Remove filter j of layer l from the working state; return the cost drop. */
static int64_t remove_filter(picpq_plan *p, int32_t l, int64_t j)
{
    const picpq_net *net = p->net;
    const picpq__layer *L = &net->layers[l];
    int64_t drop = pair_cost(p, L) * work_inputs(p, l);
    int32_t c;
    p->wmask[p->moff[l] + j] = 0;
    p->quota[l]--;
    p->outk[l]--;
    if (p->faithful && l == p->last_conv) drop += num_classes(p);
    for (c = p->cstart[l]; c < p->cstart[l + 1]; c++) {
        int32_t m = p->cons[c];
        const picpq__layer *M = &net->layers[m];
        int64_t per = picpq__net_inputs_per_channel(net, M);
        /* a depthwise consumer is coupled to l and loses its own filter */
        if (picpq__layer_is_depthwise(M)) continue;
        if (p->faithful && M->kind != PICPQ_LAYER_CONV) continue;
        drop += pair_cost(p, M) * per * p->outk[m] / M->groups;
        p->ink[m] -= per;
    }
    return drop;
}

/* Layer m takes filter j. Without round-to it is removed at once; with
 * round-to r it waits until the layer's next batch is full (the batch brings
 * the kept count down to the multiple of r below it), then the batch goes. */
static void take_filter(picpq_plan *p, int32_t m, int64_t j, int64_t *cost)
{
    int64_t *pend = p->pend + p->moff[m], k, batch;
    if (p->round_to <= 1) {
        *cost -= remove_filter(p, m, j);
        return;
    }
    pend[p->npend[m]++] = j;
    batch = p->outk[m] - (p->outk[m] - 1) / p->round_to * p->round_to;
    if (p->npend[m] < batch) return;
    for (k = 0; k < p->npend[m]; k++) *cost -= remove_filter(p, m, pend[k]);
    p->npend[m] = 0;
}

/* Apply sorted entry e: each chain member wider than j with quota left
 * takes filter j. */
static void apply_entry(picpq_plan *p, const picpq__plan_entry *e, int64_t *cost,
                        int64_t *quota_left)
{
    int32_t i;
    for (i = p->gstart[e->group]; i < p->gstart[e->group + 1]; i++) {
        int32_t m = p->gmem[i];
        if (e->j >= p->net->layers[m].out_ch || p->quota[m] - p->npend[m] <= 0) continue;
        take_filter(p, m, e->j, cost);
        (*quota_left)--;
    }
}

static int budget_met(const picpq_plan *p, int64_t cost, double budget)
{
    return p->faithful ? (double)cost < budget : (double)cost <= budget;
}

static void snapshot(const picpq_plan *w, int64_t cost, double budget, picpq_plan *dst)
{
    memcpy(dst->mask, w->wmask, (size_t)w->moff[w->n]);
    memcpy(dst->kept, w->outk, (size_t)w->n * sizeof(int64_t));
    dst->computed = 1;
    dst->cost = (double)cost;
    dst->budget = budget;
}

/* Hand the working state to every budget from *next on that it meets
 * (budgets descend, so the met ones come first). */
static void take_met(picpq_plan *w, int64_t cost, const plan_budget *bud, int32_t nb, int32_t *next,
                     picpq_plan *const *plans, picpq_status *statuses)
{
    while (*next < nb && budget_met(w, cost, bud[*next].budget)) {
        snapshot(w, cost, bud[*next].budget, plans[bud[*next].plan]);
        statuses[bud[*next].plan] = PICPQ_OK;
        (*next)++;
    }
}

/* The greedy selection of METHOD §5.5, one pass for all budgets. */
static picpq_status run_greedy(picpq_plan *w, const plan_budget *bud, int32_t nb,
                               picpq_plan *const *plans, picpq_status *statuses)
{
    int64_t cost = 0, quota_left = 0, idx;
    int64_t every = w->check_every > 0 ? w->check_every : (w->faithful ? 10 : 1);
    int32_t next = 0, i;
    picpq_status s = reset_work(w, &cost, &quota_left);
    if (s != PICPQ_OK) return s;
    if (!w->faithful) take_met(w, cost, bud, nb, &next, plans, statuses);
    for (idx = 0; idx < w->nentries && next < nb && quota_left > 0; idx++) {
        apply_entry(w, &w->entries[idx], &cost, &quota_left);
        if (idx % every == 0) take_met(w, cost, bud, nb, &next, plans, statuses);
    }
    /* out of entries or quota: the last state, judged by the same test */
    for (i = next; i < nb; i++) {
        snapshot(w, cost, bud[i].budget, plans[bud[i].plan]);
        statuses[bud[i].plan] = budget_met(w, cost, bud[i].budget) ? PICPQ_OK : PICPQ_BUDGET_UNMET;
    }
    return PICPQ_OK;
}

/* Budgets in descending order, ties by plan index (insertion sort: at most
 * PLAN_MULTI_CHUNK items). */
static void sort_budgets(plan_budget *bud, int32_t n)
{
    int32_t i, k;
    for (i = 1; i < n; i++) {
        plan_budget v = bud[i];
        for (k = i; k > 0 && bud[k - 1].budget < v.budget; k--) bud[k] = bud[k - 1];
        bud[k] = v;
    }
}

/* Unpruned MACs (the reference's C) or params: the base of every budget. */
static double full_cost(const picpq_plan *p)
{
    double full = 0;
    /* cannot fail on a valid net */
    if (p->budget_kind == PICPQ_BUDGET_PARAMS) picpq_net_params(p->net, &full);
    else picpq_net_macs(p->net, &full);
    return full;
}

static picpq_status same_setup(picpq_plan *const *plans, int32_t n)
{
    int32_t i, k;
    for (i = 0; i < n; i++) {
        const picpq_plan *p = plans[i], *q = plans[0];
        if (p == NULL) return picpq__fail(PICPQ_E_INVALID_ARG, "plans[%d] is NULL", (int)i);
        for (k = 0; k < i; k++)
            if (plans[k] == p)
                return picpq__fail(PICPQ_E_INVALID_ARG, "plans[%d] and plans[%d] are the same plan",
                                   (int)k, (int)i);
        if (p->net != q->net)
            return picpq__fail(PICPQ_E_INVALID_ARG,
                               "plans[%d] was created on another net than plans[0]", (int)i);
        /* a plan made before a change of the net has arrays of the old size */
        if (p->generation != picpq__net_generation(p->net))
            return picpq__fail(PICPQ_E_BAD_STATE,
                               "plans[%d]: the net changed after the plan was created", (int)i);
        if (p->faithful != q->faithful || p->check_every != q->check_every ||
            p->chain_reduce != q->chain_reduce || p->num_classes != q->num_classes ||
            p->budget_kind != q->budget_kind || p->safeguard != q->safeguard ||
            p->round_to != q->round_to)
            return picpq__fail(PICPQ_E_INVALID_ARG, "plans[%d] has other parameters than plans[0]",
                               (int)i);
    }
    return PICPQ_OK;
}

/* Up to this many budgets live on the stack; more are handled in chunks. */
#define PLAN_MULTI_CHUNK 64

picpq_status picpq_plan_compute_multi(picpq_plan *const *plans, int32_t n, const double *a,
                                      const double *b, const double *keep_fractions,
                                      picpq_status *statuses)
{
    plan_budget bud[PLAN_MULTI_CHUNK];
    picpq_status st[PLAN_MULTI_CHUNK];
    picpq_plan *w;
    picpq_status s, result = PICPQ_OK;
    double full;
    int32_t i, start;
    picpq__clear_error();
    PICPQ__REQUIRE(plans, "plans");
    PICPQ__REQUIRE(keep_fractions, "keep_fractions");
    if (n < 1) return picpq__fail(PICPQ_E_INVALID_ARG, "n = %d must be >= 1", (int)n);
    if ((s = same_setup(plans, n)) != PICPQ_OK) return s;
    w = plans[0];
    if ((s = check_inputs(w, a, b)) != PICPQ_OK) return s;
    for (i = 0; i < n; i++)
        if ((s = check_fraction(keep_fractions[i], i)) != PICPQ_OK) return s;
    if ((s = compute_importances(w, a, b)) != PICPQ_OK) return s;
    if ((s = build_entries(w)) != PICPQ_OK) return s;
    full = full_cost(w);
    for (start = 0; start < n; start += PLAN_MULTI_CHUNK) {
        int32_t m = n - start < PLAN_MULTI_CHUNK ? n - start : PLAN_MULTI_CHUNK;
        for (i = 0; i < m; i++) {
            bud[i].budget = keep_fractions[start + i] * full;
            bud[i].plan = i;
        }
        sort_budgets(bud, m);
        s = run_greedy(w, bud, m, plans + start, st);
        if (s != PICPQ_OK) return s; /* only in the first chunk, before any plan changed */
        for (i = 0; i < m; i++) {
            if (statuses) statuses[start + i] = st[i];
            if (st[i] != PICPQ_OK) result = PICPQ_BUDGET_UNMET;
        }
    }
    return result;
}

picpq_status picpq_plan_compute(picpq_plan *p, const double *a, const double *b,
                                double keep_fraction)
{
    picpq_status s;
    picpq__clear_error();
    PICPQ__REQUIRE(p, "p");
    if ((s = check_fraction(keep_fraction, -1)) != PICPQ_OK) return s;
    return picpq_plan_compute_multi(&p, 1, a, b, &keep_fraction, NULL);
}
