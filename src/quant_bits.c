/* Layer sparsity and bitwidth assignment (METHOD §7, E6), and the τ solver
 * that meets a BOPs budget. */
#include "picpq_internal.h"

#include <float.h>
#include <math.h>

/* ---- layer sparsity ------------------------------------------------------ */

/* Σ|x| in double over the elements whose axis-0 and axis-1 indices are kept
 * (NULL masks keep everything); NONFINITE on NaN/Inf anywhere. */
static picpq_status masked_l1(const picpq_tensor *t, const uint8_t *out_keep,
                              const uint8_t *in_keep, double *sum)
{
    picpq__rows r;
    double acc = 0;
    int64_t j;
    picpq_status s = picpq_tensor_check_finite(t);
    if (s != PICPQ_OK) return s;
    picpq__rows_init(&r, t);
    do {
        /* rows run over the last axis; idx[] holds the outer indices */
        const int64_t o = t->ndim > 1 ? r.idx[0] : -1, i = t->ndim > 2 ? r.idx[1] : -1;
        if ((o >= 0 && out_keep && !out_keep[o]) || (i >= 0 && in_keep && !in_keep[i])) continue;
        for (j = 0; j < r.len; j++) {
            if ((t->ndim == 1 && out_keep && !out_keep[j]) ||
                (t->ndim == 2 && in_keep && !in_keep[j]))
                continue;
            acc += fabs(picpq__tensor_read(t, r.offset + j * r.step));
        }
    } while (picpq__rows_next(&r));
    *sum = acc;
    return PICPQ_OK;
}

/* s = pruned / orig, with the undefined and impossible cases as statuses. */
static picpq_status l1_ratio(double pruned, double orig, double *s)
{
    if (orig == 0)
        return picpq__fail(PICPQ_E_OUT_OF_RANGE, "w_orig is all zeros: its sparsity is undefined");
    if (pruned > orig)
        return picpq__fail(PICPQ_E_OUT_OF_RANGE,
                           "the pruned weights have more L1 mass (%.17g) "
                           "than the original (%.17g)",
                           pruned, orig);
    *s = pruned / orig;
    return PICPQ_OK;
}

picpq_status picpq_quant_sparsity_l1(const picpq_tensor *w_orig, const picpq_tensor *w_pruned,
                                     double *s)
{
    double lo, lp;
    int32_t i;
    picpq_status st;
    picpq__clear_error();
    PICPQ__REQUIRE(w_orig, "w_orig");
    PICPQ__REQUIRE(w_pruned, "w_pruned");
    PICPQ__REQUIRE(s, "s");
    if (w_orig->ndim != w_pruned->ndim)
        return picpq__fail(PICPQ_E_SHAPE, "w_orig has %d dims, w_pruned %d", (int)w_orig->ndim,
                           (int)w_pruned->ndim);
    for (i = 0; i < w_orig->ndim; i++)
        if (w_pruned->shape[i] > w_orig->shape[i])
            return picpq__fail(PICPQ_E_SHAPE, "axis %d: w_pruned has %lld > %lld of w_orig", (int)i,
                               (long long)w_pruned->shape[i], (long long)w_orig->shape[i]);
    if ((st = masked_l1(w_orig, NULL, NULL, &lo)) != PICPQ_OK) return st;
    if ((st = masked_l1(w_pruned, NULL, NULL, &lp)) != PICPQ_OK) return st;
    return l1_ratio(lp, lo, s);
}

picpq_status picpq_quant_sparsity_l1_masked(const picpq_tensor *w_orig, const uint8_t *out_keep,
                                            int64_t n_out, const uint8_t *in_keep, int64_t n_in,
                                            double *s)
{
    double all, kept;
    picpq_status st;
    picpq__clear_error();
    PICPQ__REQUIRE(w_orig, "w_orig");
    PICPQ__REQUIRE(s, "s");
    if (out_keep != NULL && n_out != w_orig->shape[0])
        return picpq__fail(PICPQ_E_SHAPE, "n_out = %lld but w_orig has %lld output channels",
                           (long long)n_out, (long long)w_orig->shape[0]);
    if (in_keep != NULL && w_orig->ndim < 2)
        return picpq__fail(PICPQ_E_SHAPE, "in_keep given for a 1-d w_orig");
    if (in_keep != NULL && n_in != w_orig->shape[1])
        return picpq__fail(PICPQ_E_SHAPE, "n_in = %lld but w_orig has %lld input channels",
                           (long long)n_in, (long long)w_orig->shape[1]);
    if ((st = masked_l1(w_orig, NULL, NULL, &all)) != PICPQ_OK) return st;
    if ((st = masked_l1(w_orig, out_keep, in_keep, &kept)) != PICPQ_OK) return st;
    return l1_ratio(kept, all, s);
}

picpq_status picpq_quant_sparsity_from_plan(const picpq_net *net, const picpq_plan *plan, double *s)
{
    int32_t l, n;
    picpq_status st;
    picpq__clear_error();
    PICPQ__REQUIRE(net, "net");
    PICPQ__REQUIRE(plan, "plan");
    PICPQ__REQUIRE(s, "s");
    if ((st = picpq__plan_check_owner(plan, net)) != PICPQ_OK) return st;
    n = picpq_net_num_layers(net);
    for (l = 0; l < n; l++) { /* validate every layer before writing */
        int64_t in_ch, out_ch, kept;
        if ((st = picpq_net_layer_channels(net, l, &in_ch, &out_ch)) != PICPQ_OK ||
            (st = picpq_plan_kept(plan, l, &kept)) != PICPQ_OK)
            return st;
    }
    for (l = 0; l < n; l++) {
        int64_t in_ch, out_ch, kept;
        picpq_net_layer_channels(net, l, &in_ch, &out_ch);
        picpq_plan_kept(plan, l, &kept);
        s[l] = kept >= out_ch ? 1.0 : (double)kept / (double)out_ch;
    }
    picpq__clear_error();
    return PICPQ_OK;
}

/* ---- bitwidth assignment -------------------------------------------------- */

/* ⌈x⌉ for x > 0, where x within 4 ulps of an integer counts as that integer:
 * τ/s of the doubles τ = fl(1/6), s = fl(n'/n) is then the exact rational's
 * ceiling (T8: τ/s = 1 exactly → 1; C0's ⌈(1/s)/6⌉ agrees). Huge quotients
 * are capped: any bit count is lost long before. */
static double ceil_tolerant(double x)
{
    double r;
    if (!(x < 1e9)) return 1e9;
    r = nearbyint(x);
    if (fabs(x - r) <= 4 * DBL_EPSILON * r) return r;
    return ceil(x);
}

static int valid_max_bits(int32_t b)
{
    return (b >= 1 && b <= 8) || b == 32;
}

/* Check everything, then write: bits stay untouched on error; bits = NULL
 * only validates. */
static picpq_status assign(int32_t n, const double *sparsity, const int32_t *max_bits, double tau,
                           int32_t min_bits, int32_t *bits)
{
    int32_t l, pass;
    if (n < 1) return picpq__fail(PICPQ_E_OUT_OF_RANGE, "n = %d: need at least 1 layer", (int)n);
    if (!isfinite(tau)) return picpq__fail(PICPQ_E_NONFINITE, "tau is not finite");
    if (tau <= 0) return picpq__fail(PICPQ_E_OUT_OF_RANGE, "tau = %.17g must be > 0", tau);
    if (min_bits < 0 || min_bits > 8)
        return picpq__fail(PICPQ_E_OUT_OF_RANGE, "min_bits = %d is not in 0..8", (int)min_bits);
    for (pass = 0; pass < 2; pass++) {
        for (l = 0; l < n; l++) {
            const int32_t B = max_bits[l];
            const double s = sparsity[l];
            double q;
            if (!valid_max_bits(B))
                return picpq__fail(PICPQ_E_OUT_OF_RANGE,
                                   "layer %d: max_bits = %d is not in "
                                   "1..8 or 32",
                                   (int)l, (int)B);
            if (!isfinite(s))
                return picpq__fail(PICPQ_E_NONFINITE, "layer %d: sparsity is not finite", (int)l);
            if (!(s > 0 && s <= 1))
                return picpq__fail(PICPQ_E_OUT_OF_RANGE,
                                   "layer %d: sparsity %.17g is not in "
                                   "(0, 1]",
                                   (int)l, s);
            q = (B == 32 || s == 1) ? B : B - ceil_tolerant(tau / s);
            if (min_bits == 0 && q < 1)
                return picpq__fail(PICPQ_E_OUT_OF_RANGE,
                                   "layer %d: %d - ceil(%.17g / %.17g) "
                                   "= %.0f bits (< 1) and min_bits = 0 forbids clamping",
                                   (int)l, (int)B, tau, s, q);
            if (q < min_bits) q = min_bits < B ? min_bits : B;
            if (pass == 1) bits[l] = (int32_t)q;
        }
        if (bits == NULL) break;
    }
    return PICPQ_OK;
}

picpq_status picpq_quant_bits_assign(int32_t n, const double *sparsity, const int32_t *max_bits,
                                     double tau, int32_t min_bits, int32_t *bits)
{
    picpq__clear_error();
    PICPQ__REQUIRE(sparsity, "sparsity");
    PICPQ__REQUIRE(max_bits, "max_bits");
    PICPQ__REQUIRE(bits, "bits");
    return assign(n, sparsity, max_bits, tau, min_bits, bits);
}

/* ---- τ for a BOPs budget ------------------------------------------------- */

/* The smallest breakpoint τ = k·s_l above `tau` at which some layer can still
 * lose a bit (k <= B_l − floor), or 0 when there is none. */
static double next_candidate(int32_t n, const double *sparsity, const int32_t *max_bits,
                             int32_t min_bits, double tau)
{
    const int32_t floor_bits = min_bits > 0 ? min_bits : 1;
    double best = 0;
    int32_t l;
    for (l = 0; l < n; l++) {
        const double s = sparsity[l];
        double k;
        if (max_bits[l] == 32 || s == 1) continue;
        /* past 2^53, k + 1 == k: test the cap before stepping, so that the
         * guard below only ever steps through the few k <= B_l - floor */
        k = floor(tau / s) + 1;
        if (!(k <= max_bits[l] - floor_bits)) continue;
        while (k * s <= tau && k <= max_bits[l] - floor_bits) k++; /* rounding of tau / s */
        if (k > max_bits[l] - floor_bits) continue;
        if (best == 0 || k * s < best) best = k * s;
    }
    return best;
}

/* BOPs of the net, pruned by `plan` unless it is NULL, with `bits` for both
 * weights and activations (NULL = 32); checks that the plan is the net's. */
static picpq_status bops_under(const picpq_net *net, const picpq_plan *plan, const int32_t *bits,
                               double *bops)
{
    picpq_status s;
    if (plan == NULL) return picpq_net_bops(net, bits, bits, bops);
    if ((s = picpq__plan_check_owner(plan, net)) != PICPQ_OK) return s;
    return picpq_plan_bops(plan, bits, bits, bops);
}

/* The budget arguments of solve and fill: max_bops finite and > 0,
 * min_bits in lowest..8. */
static picpq_status check_budget(double max_bops, int32_t min_bits, int32_t lowest)
{
    if (!isfinite(max_bops)) return picpq__fail(PICPQ_E_NONFINITE, "max_bops is not finite");
    if (max_bops <= 0)
        return picpq__fail(PICPQ_E_OUT_OF_RANGE, "max_bops = %.17g must be > 0", max_bops);
    if (min_bits < lowest || min_bits > 8)
        return picpq__fail(PICPQ_E_OUT_OF_RANGE, "min_bits = %d is not in %d..8", (int)min_bits,
                           (int)lowest);
    return PICPQ_OK;
}

picpq_status picpq_quant_bits_solve(const picpq_net *net, const picpq_plan *plan,
                                    const double *sparsity, const int32_t *max_bits,
                                    int32_t min_bits, double max_bops, double *tau, int32_t *bits)
{
    double t = 0, next, bops;
    int32_t n;
    picpq_status s;
    picpq__clear_error();
    PICPQ__REQUIRE(net, "net");
    PICPQ__REQUIRE(sparsity, "sparsity");
    PICPQ__REQUIRE(max_bits, "max_bits");
    PICPQ__REQUIRE(tau, "tau");
    PICPQ__REQUIRE(bits, "bits");
    if ((s = check_budget(max_bops, min_bits, 0)) != PICPQ_OK) return s;
    n = picpq_net_num_layers(net);
    /* validate everything up front (with a clamp any τ passes; all-32 bits
     * check the plan), so that nothing below can fail once bits is written */
    if ((s = assign(n, sparsity, max_bits, 1.0, min_bits > 0 ? min_bits : 1, NULL)) != PICPQ_OK ||
        (s = bops_under(net, plan, NULL, &bops)) != PICPQ_OK)
        return s;
    /* bits are constant between breakpoints: walk them upwards */
    while ((next = next_candidate(n, sparsity, max_bits, min_bits, t)) > 0) {
        if (assign(n, sparsity, max_bits, next, min_bits, NULL) != PICPQ_OK) break; /* < 1 bit */
        t = next;
        assign(n, sparsity, max_bits, t, min_bits, bits);
        bops_under(net, plan, bits, &bops);
        if (bops <= max_bops) break;
    }
    if (t == 0) { /* no breakpoint: nothing pruned, or the first one is infeasible */
        if ((s = assign(n, sparsity, max_bits, 1.0, min_bits, NULL)) != PICPQ_OK) return s;
        t = 1.0;
        assign(n, sparsity, max_bits, t, min_bits, bits);
        bops_under(net, plan, bits, &bops);
    }
    *tau = t;
    picpq__clear_error();
    return bops <= max_bops ? PICPQ_OK : PICPQ_BUDGET_UNMET;
}

/* ---- fitting bits to a budget -------------------------------------------- */

static picpq_status check_fill_bits(int32_t n, const int32_t *max_bits, const int32_t *bits)
{
    int32_t l;
    for (l = 0; l < n; l++)
        if (max_bits[l] == 32 ? bits[l] != 32 : (bits[l] < 1 || bits[l] > max_bits[l]))
            return picpq__fail(PICPQ_E_OUT_OF_RANGE, "layer %d: %d bits with max_bits = %d", (int)l,
                               (int)bits[l], (int)max_bits[l]);
    return PICPQ_OK;
}

/* Over the budget: the layer a rising τ takes a bit from next (smallest
 * (B − q)·s above the floor), one bit at a time. Returns the BOPs. */
static double shed_bits(const picpq_net *net, const picpq_plan *plan, const double *sparsity,
                        const int32_t *max_bits, int32_t min_bits, double max_bops, double bops,
                        int32_t *bits)
{
    const int32_t n = picpq_net_num_layers(net);
    while (bops > max_bops) {
        int32_t l, pick = -1;
        double t = 0;
        for (l = 0; l < n; l++) {
            const int32_t floor_l = min_bits < max_bits[l] ? min_bits : max_bits[l];
            double tl;
            if (max_bits[l] == 32 || bits[l] <= floor_l) continue;
            tl = (double)(max_bits[l] - bits[l]) * sparsity[l];
            if (pick < 0 || tl < t) pick = l, t = tl;
        }
        if (pick < 0) break;
        bits[pick]--;
        bops_under(net, plan, bits, &bops);
    }
    return bops;
}

/* Within the budget: the layer a falling τ gives a bit to next (largest
 * (B − q − 1)·s), skipping those whose bit does not fit; a raise that does
 * not fit never will (BOPs only grow), so such a layer is blocked. */
static void raise_bits(const picpq_net *net, const picpq_plan *plan, const double *sparsity,
                       const int32_t *max_bits, double max_bops, int32_t *bits,
                       unsigned char *blocked)
{
    const int32_t n = picpq_net_num_layers(net);
    double bops;
    int32_t l;
    for (l = 0; l < n; l++) blocked[l] = max_bits[l] == 32 || bits[l] >= max_bits[l];
    for (;;) {
        int32_t pick = -1;
        double t = -1;
        for (l = 0; l < n; l++) {
            double tl;
            if (blocked[l]) continue;
            tl = (double)(max_bits[l] - bits[l] - 1) * sparsity[l];
            if (tl > t) pick = l, t = tl;
        }
        if (pick < 0) break;
        bits[pick]++;
        bops_under(net, plan, bits, &bops);
        if (bops > max_bops) {
            bits[pick]--;
            blocked[pick] = 1;
        } else if (bits[pick] >= max_bits[pick]) {
            blocked[pick] = 1;
        }
    }
}

picpq_status picpq_quant_bits_fill(const picpq_net *net, const picpq_plan *plan,
                                   const double *sparsity, const int32_t *max_bits,
                                   int32_t min_bits, double max_bops, int32_t *bits)
{
    unsigned char *blocked;
    double bops;
    int32_t n;
    picpq_status s;
    picpq__clear_error();
    PICPQ__REQUIRE(net, "net");
    PICPQ__REQUIRE(sparsity, "sparsity");
    PICPQ__REQUIRE(max_bits, "max_bits");
    PICPQ__REQUIRE(bits, "bits");
    if ((s = check_budget(max_bops, min_bits, 1)) != PICPQ_OK) return s;
    n = picpq_net_num_layers(net);
    if ((s = assign(n, sparsity, max_bits, 1.0, 1, NULL)) != PICPQ_OK ||
        (s = check_fill_bits(n, max_bits, bits)) != PICPQ_OK ||
        (s = bops_under(net, plan, bits, &bops)) != PICPQ_OK)
        return s;
    blocked = picpq__malloc(&net->alloc, (size_t)n);
    if (blocked == NULL) return picpq__fail(PICPQ_E_NOMEM, "bits_fill: no memory");
    bops = shed_bits(net, plan, sparsity, max_bits, min_bits, max_bops, bops, bits);
    if (bops <= max_bops) raise_bits(net, plan, sparsity, max_bits, max_bops, bits, blocked);
    picpq__free(&net->alloc, blocked);
    return bops <= max_bops ? PICPQ_OK : PICPQ_BUDGET_UNMET;
}
