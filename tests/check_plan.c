/* Importance, quotas and the budgeted greedy plan: METHOD §5 test vectors
 * T2-T5 and T11, default vs faithful semantics, several budgets in one pass,
 * host-given masks, bad input. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "testutil.h"
#include "reference_nets.h"

/* ---- helpers ----------------------------------------------------------- */

/* Expect layer `l`'s keep mask to keep exactly the `k` listed filters. */
static void expect_kept(const picpq_plan *p, int32_t l, int64_t n, const int64_t *idx, int k)
{
    uint8_t mask[64], want[64];
    int64_t kept = -1;
    int i;
    memset(want, 0, sizeof want);
    for (i = 0; i < k; i++) want[idx[i]] = 1;
    ck_assert_status(picpq_plan_keep_mask(p, l, mask, n), PICPQ_OK);
    for (i = 0; i < n; i++) ck_assert_msg(mask[i] == want[i], "layer %d filter %d", l, i);
    ck_assert_status(picpq_plan_kept(p, l, &kept), PICPQ_OK);
    ck_assert_int_eq(kept, k);
}

/* T4's net: cost_map {100, 50, 25} as 1x1 convs on 10x10, 5x10, 5x5 maps,
 * in {3, 4, 4}, out 4, next_conv 0->1->2, and a 4 -> 10 classifier. Full
 * cost 2440. Layer 3 is the linear layer. */
static picpq_net *t4_net(void)
{
    static const double fp0[4] = {3, 1, 4, 2}, fp1[4] = {10, 12, 11, 9}, fp2[4] = {5, 7, 6, 8};
    picpq_net *net = NULL;
    ck_assert_status(picpq_net_create(&net), PICPQ_OK);
    ck_assert_status(picpq_net_add_conv(net, 3, 4, 1, 1, 1, 10, 10, NULL), PICPQ_OK);
    ck_assert_status(picpq_net_add_conv(net, 4, 4, 1, 1, 1, 5, 10, NULL), PICPQ_OK);
    ck_assert_status(picpq_net_add_conv(net, 4, 4, 1, 1, 1, 5, 5, NULL), PICPQ_OK);
    ck_assert_status(picpq_net_add_linear(net, 4, 10, NULL), PICPQ_OK);
    ck_assert_status(picpq_net_connect(net, 0, 1), PICPQ_OK);
    ck_assert_status(picpq_net_connect(net, 1, 2), PICPQ_OK);
    ck_assert_status(picpq_net_connect(net, 2, 3), PICPQ_OK);
    ck_assert_status(picpq_net_set_fp(net, 0, fp0, 4), PICPQ_OK);
    ck_assert_status(picpq_net_set_fp(net, 1, fp1, 4), PICPQ_OK);
    ck_assert_status(picpq_net_set_fp(net, 2, fp2, 4), PICPQ_OK);
    return net;
}
static const double t4_a[4] = {1, 0.5, 1, 1}, t4_b[4] = {0, 0, -1, 0};

/* T5's net: chain 0-2 (widths 4 and 8), layer 1 independent; 1x1 convs on
 * 1x1 maps, 0 (3->4) -> 1 (4->4) -> 2 (4->8). Full MACs 12 + 16 + 32 = 60. */
static picpq_net *t5_net(void)
{
    static const double fp0[4] = {1, 5, 2, 6}, fp1[4] = {3, 3.5, 0.5, 4};
    static const double fp2[8] = {2, 1, 2, 1, 0.2, 0.3, 9, 9};
    picpq_net *net = NULL;
    ck_assert_status(picpq_net_create(&net), PICPQ_OK);
    ck_assert_status(picpq_net_add_conv(net, 3, 4, 1, 1, 1, 1, 1, NULL), PICPQ_OK);
    ck_assert_status(picpq_net_add_conv(net, 4, 4, 1, 1, 1, 1, 1, NULL), PICPQ_OK);
    ck_assert_status(picpq_net_add_conv(net, 4, 8, 1, 1, 1, 1, 1, NULL), PICPQ_OK);
    ck_assert_status(picpq_net_connect(net, 0, 1), PICPQ_OK);
    ck_assert_status(picpq_net_connect(net, 1, 2), PICPQ_OK);
    ck_assert_status(picpq_net_couple(net, 0, 2), PICPQ_OK);
    ck_assert_status(picpq_net_set_fp(net, 0, fp0, 4), PICPQ_OK);
    ck_assert_status(picpq_net_set_fp(net, 1, fp1, 4), PICPQ_OK);
    ck_assert_status(picpq_net_set_fp(net, 2, fp2, 8), PICPQ_OK);
    return net;
}
static const double ones[64] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
static const double zeros[64] = {0};

/* Deterministic pseudo-random scores in [0, 32) for every prunable layer. */
static void random_scores(picpq_net *net, uint64_t seed)
{
    int32_t l, n = picpq_net_num_layers(net);
    for (l = 0; l < n; l++) {
        double fp[1280];
        int64_t out = 0, j;
        int prunable = 0;
        ck_assert_status(picpq_net_is_prunable(net, l, &prunable), PICPQ_OK);
        if (!prunable) continue;
        ck_assert_status(picpq_net_layer_channels(net, l, NULL, &out), PICPQ_OK);
        for (j = 0; j < out; j++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            fp[j] = (double)(seed >> 40) / (double)(1 << 19);
        }
        ck_assert_status(picpq_net_set_fp(net, l, fp, out), PICPQ_OK);
    }
}

/* Per-layer a (in [0.5, 2)) and b (in [-2, 2)), deterministic. */
static void random_ab(double *a, double *b, int32_t n, uint64_t seed)
{
    int32_t l;
    for (l = 0; l < n; l++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        a[l] = 0.5 + 1.5 * (double)(seed >> 11) / 9007199254740992.0;
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        b[l] = -2 + 4 * (double)(seed >> 11) / 9007199254740992.0;
    }
}

/* ---- creation and parameters ------------------------------------------ */

START_TEST(test_create_errors)
{
    picpq_allocator half = {NULL, NULL, NULL};
    picpq_net *net = NULL;
    picpq_plan *p = (picpq_plan *)&p;
    ck_assert_status(picpq_net_create(&net), PICPQ_OK);
    ck_assert_status(picpq_plan_create(net, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_plan_create(NULL, &p), PICPQ_E_INVALID_ARG);
    ck_assert_ptr_null(p);
    ck_assert_status(picpq_plan_create(net, &p), PICPQ_E_INVALID_ARG); /* no layers */
    ck_assert_ptr_null(p);
    ck_assert_status(picpq_net_add_conv(net, 8, 8, 3, 3, 2, 4, 4, NULL), PICPQ_OK);
    ck_assert_status(picpq_plan_create(net, &p), PICPQ_E_UNSUPPORTED); /* validate's status */
    ck_assert_status(picpq_net_set_prunable(net, 0, 0), PICPQ_OK);
    ck_assert_status(picpq_plan_create_ex(net, &half, &p), PICPQ_E_INVALID_ARG);
    ck_assert_ptr_null(p);
    ck_assert_status(picpq_plan_create(net, &p), PICPQ_OK);
    /* nothing prunable: the full net meets only a full budget */
    ck_assert_status(picpq_plan_compute(p, ones, zeros, 1.0), PICPQ_OK);
    ck_assert_status(picpq_plan_compute(p, ones, zeros, 0.5), PICPQ_BUDGET_UNMET);
    picpq_plan_free(p);
    picpq_plan_free(NULL);
    picpq_net_free(net);
}
END_TEST

/* Every allocation of plan creation can fail cleanly; a computed plan never
 * allocates (the allocator fails every call after creation). */
START_TEST(test_allocation_failures)
{
    picpq_net *net = NULL;
    double a[56], b[56];
    long n;
    ck_assert_status(picpq_net_create(&net), PICPQ_OK);
    ck_assert_status(fixture_resnet56(net, 10), PICPQ_OK);
    random_scores(net, 7);
    random_ab(a, b, 56, 3);
    for (n = 1;; n++) {
        test_alloc ta;
        picpq_allocator al = test_alloc_make(&ta, n);
        picpq_plan *p = (picpq_plan *)&n;
        picpq_status s = picpq_plan_create_ex(net, &al, &p);
        if (s == PICPQ_OK) {
            long calls = ta.calls;
            ta.fail_at = calls + 1;
            ck_assert_status(picpq_plan_compute(p, a, b, 0.45), PICPQ_OK);
            ck_assert_int_eq(ta.calls, calls);
            picpq_plan_free(p);
            ck_assert_int_eq(ta.live, 0);
            break;
        }
        ck_assert_int_eq(s, PICPQ_E_NOMEM);
        ck_assert_str_ne(picpq_last_error(), "");
        ck_assert_ptr_null(p);
        ck_assert_int_eq(ta.live, 0);
    }
    ck_assert_int_gt(n, 10);
    picpq_net_free(net);
}
END_TEST

START_TEST(test_params)
{
    picpq_net *net = t4_net();
    picpq_plan *p = NULL;
    int64_t v = -5;
    double d = -5;
    ck_assert_status(picpq_plan_create(net, &p), PICPQ_OK);
    ck_assert_status(picpq_plan_get_int(p, PICPQ_PLAN_FAITHFUL, &v), PICPQ_OK);
    ck_assert_int_eq(v, 0);
    ck_assert_status(picpq_plan_get_int(p, PICPQ_PLAN_CHECK_EVERY, &v), PICPQ_OK);
    ck_assert_int_eq(v, PICPQ_AUTO);
    ck_assert_status(picpq_plan_get_int(p, PICPQ_PLAN_CHAIN_REDUCE, &v), PICPQ_OK);
    ck_assert_int_eq(v, PICPQ_CHAIN_SUM);
    ck_assert_status(picpq_plan_get_int(p, PICPQ_PLAN_NUM_CLASSES, &v), PICPQ_OK);
    ck_assert_int_eq(v, PICPQ_AUTO);
    ck_assert_status(picpq_plan_get_double(p, PICPQ_PLAN_SAFEGUARD, &d), PICPQ_OK);
    ck_assert(d == 0.1);
    ck_assert_status(picpq_plan_set_int(p, PICPQ_PLAN_FAITHFUL, 1), PICPQ_OK);
    ck_assert_status(picpq_plan_set_int(p, PICPQ_PLAN_CHECK_EVERY, 7), PICPQ_OK);
    ck_assert_status(picpq_plan_set_int(p, PICPQ_PLAN_CHAIN_REDUCE, PICPQ_CHAIN_MAX), PICPQ_OK);
    ck_assert_status(picpq_plan_set_int(p, PICPQ_PLAN_NUM_CLASSES, 100), PICPQ_OK);
    ck_assert_status(picpq_plan_set_double(p, PICPQ_PLAN_SAFEGUARD, 0.25), PICPQ_OK);
    ck_assert_status(picpq_plan_get_int(p, PICPQ_PLAN_FAITHFUL, &v), PICPQ_OK);
    ck_assert_int_eq(v, 1);
    ck_assert_status(picpq_plan_get_int(p, PICPQ_PLAN_CHECK_EVERY, &v), PICPQ_OK);
    ck_assert_int_eq(v, 7);
    ck_assert_status(picpq_plan_get_int(p, PICPQ_PLAN_CHAIN_REDUCE, &v), PICPQ_OK);
    ck_assert_int_eq(v, PICPQ_CHAIN_MAX);
    ck_assert_status(picpq_plan_get_int(p, PICPQ_PLAN_NUM_CLASSES, &v), PICPQ_OK);
    ck_assert_int_eq(v, 100);
    ck_assert_status(picpq_plan_get_double(p, PICPQ_PLAN_SAFEGUARD, &d), PICPQ_OK);
    ck_assert(d == 0.25);
    ck_assert_status(picpq_plan_set_int(p, PICPQ_PLAN_FAITHFUL, 2), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_plan_set_int(p, PICPQ_PLAN_CHAIN_REDUCE, 3), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_plan_set_int(p, PICPQ_PLAN_CHECK_EVERY, 0), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_plan_set_int(p, PICPQ_PLAN_CHECK_EVERY, -2), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_plan_set_int(p, PICPQ_PLAN_NUM_CLASSES, -2), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_plan_set_int(p, PICPQ_PLAN_CHECK_EVERY, PICPQ_AUTO), PICPQ_OK);
    ck_assert_status(picpq_plan_set_int(p, PICPQ_PLAN_SAFEGUARD, 0), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_plan_set_int(p, PICPQ_NET_BOPS_SKIP_FIRST, 0), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_plan_set_double(p, PICPQ_PLAN_SAFEGUARD, NAN), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_plan_set_double(p, PICPQ_PLAN_SAFEGUARD, -0.1), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_plan_set_double(p, PICPQ_PLAN_FAITHFUL, 1), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_plan_get_double(p, PICPQ_PLAN_FAITHFUL, &d), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_plan_get_int(p, PICPQ_PLAN_SAFEGUARD, &v), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_plan_set_int(NULL, PICPQ_PLAN_FAITHFUL, 1), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_plan_set_double(NULL, PICPQ_PLAN_SAFEGUARD, 0), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_plan_get_int(p, PICPQ_PLAN_FAITHFUL, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_plan_get_double(NULL, PICPQ_PLAN_SAFEGUARD, &d), PICPQ_E_INVALID_ARG);
    picpq_plan_free(p);
    picpq_net_free(net);
}
END_TEST

/* ---- METHOD test vectors ----------------------------------------------- */

/* T2: FP = [3, 1, 4, 2], (a, b) = (0.5, -1) -> I = [0.5, -0.5, 1, 0], in both
 * modes (all values are exact in float32). */
START_TEST(test_t2_importance)
{
    static const double want[4] = {0.5, -0.5, 1, 0};
    picpq_net *net = t4_net();
    picpq_plan *p = NULL;
    double imp[4] = {9, 9, 9, 9};
    int mode, j;
    ck_assert_status(picpq_plan_create(net, &p), PICPQ_OK);
    for (mode = 0; mode < 2; mode++) {
        ck_assert_status(picpq_plan_set_int(p, PICPQ_PLAN_FAITHFUL, mode), PICPQ_OK);
        ck_assert_status(picpq_plan_importance(p, 0, 0.5, -1, imp, 4), PICPQ_OK);
        for (j = 0; j < 4; j++) ck_assert(imp[j] == want[j]);
    }
    /* float32: 0.1 * 3 = 0.3 in float32 is 0.300000011920928955078125 */
    ck_assert_status(picpq_plan_importance(p, 0, 0.1, 0, imp, 4), PICPQ_OK);
    ck_assert(imp[0] == (double)0.3f);
    ck_assert_status(picpq_plan_set_int(p, PICPQ_PLAN_FAITHFUL, 0), PICPQ_OK);
    ck_assert_status(picpq_plan_importance(p, 0, 0.1, 0, imp, 4), PICPQ_OK);
    ck_assert(imp[0] == 0.1 * 3.0);
    /* errors: nothing written */
    imp[0] = 42;
    ck_assert_status(picpq_plan_importance(p, 0, 0, 0, imp, 4), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_plan_importance(p, 0, NAN, 0, imp, 4), PICPQ_E_NONFINITE);
    ck_assert_status(picpq_plan_importance(p, 0, 1, INFINITY, imp, 4), PICPQ_E_NONFINITE);
    ck_assert_status(picpq_plan_importance(p, 0, 1, 0, imp, 3), PICPQ_E_SHAPE);
    ck_assert_status(picpq_plan_importance(p, 3, 1, 0, imp, 10), PICPQ_E_BAD_STATE);
    ck_assert_status(picpq_plan_importance(p, 4, 1, 0, imp, 4), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_plan_importance(NULL, 0, 1, 0, imp, 4), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_plan_importance(p, 0, 1, 0, NULL, 4), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_plan_set_int(p, PICPQ_PLAN_FAITHFUL, 1), PICPQ_OK);
    ck_assert_status(picpq_plan_importance(p, 0, 1e38, 0, imp, 4), PICPQ_E_NONFINITE);
    ck_assert(imp[0] == 42); /* errors write nothing */
    picpq_plan_free(p);
    picpq_net_free(net);
}
END_TEST

/* T3: quota per width with safeguard 0.1 (and 0), seen as the filters left
 * when the budget can never be met: kept = n - quota. */
START_TEST(test_t3_quota)
{
    static const int64_t n[15] = {2, 3, 4, 8, 10, 16, 24, 32, 64, 96, 128, 144, 256, 512, 1280};
    static const int64_t quota[15] = {0, 1, 2, 6, 8, 14, 21, 28, 57, 86, 115, 129, 230, 460, 1152};
    int i, sg;
    for (i = 0; i < 15; i++) {
        for (sg = 0; sg < 2; sg++) {
            picpq_net *net = NULL;
            picpq_plan *p = NULL;
            double fp[1280], a = 1, b = 0;
            int64_t kept = 0, j;
            for (j = 0; j < n[i]; j++) fp[j] = (double)((j * 7) % 13);
            ck_assert_status(picpq_net_create(&net), PICPQ_OK);
            ck_assert_status(picpq_net_add_conv(net, 1, n[i], 1, 1, 1, 1, 1, NULL), PICPQ_OK);
            ck_assert_status(picpq_net_set_fp(net, 0, fp, n[i]), PICPQ_OK);
            ck_assert_status(picpq_plan_create(net, &p), PICPQ_OK);
            ck_assert_status(picpq_plan_set_double(p, PICPQ_PLAN_SAFEGUARD, sg ? 0.1 : 0),
                             PICPQ_OK);
            ck_assert_status(picpq_plan_compute(p, &a, &b, 1e-9), PICPQ_BUDGET_UNMET);
            ck_assert_status(picpq_plan_kept(p, 0, &kept), PICPQ_OK);
            ck_assert_int_eq(kept, sg ? n[i] - quota[i] : 1);
            picpq_plan_free(p);
            picpq_net_free(net);
        }
    }
}
END_TEST

/* T4, faithful, safeguard 0: check at idx 10 gives cost 385 < 1220; kept
 * layer0 {2}, layer1 {1}, layer2 {3}. */
START_TEST(test_t4_faithful_safeguard0)
{
    static const int64_t k0[1] = {2}, k1[1] = {1}, k2[1] = {3};
    static const int64_t all[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    picpq_net *net = t4_net();
    picpq_plan *p = NULL;
    double budget = 0, cost = 0;
    ck_assert_status(picpq_plan_create(net, &p), PICPQ_OK);
    ck_assert_status(picpq_plan_budget(p, &budget, &cost), PICPQ_E_BAD_STATE);
    ck_assert_status(picpq_plan_set_int(p, PICPQ_PLAN_FAITHFUL, 1), PICPQ_OK);
    ck_assert_status(picpq_plan_set_double(p, PICPQ_PLAN_SAFEGUARD, 0), PICPQ_OK);
    ck_assert_status(picpq_plan_compute(p, t4_a, t4_b, 0.5), PICPQ_OK);
    expect_kept(p, 0, 4, k0, 1);
    expect_kept(p, 1, 4, k1, 1);
    expect_kept(p, 2, 4, k2, 1);
    expect_kept(p, 3, 10, all, 10); /* the classifier is not pruned */
    ck_assert_status(picpq_plan_budget(p, &budget, &cost), PICPQ_OK);
    ck_assert(budget == 1220.0);
    ck_assert(cost == 385.0);
    picpq_plan_free(p);
    picpq_net_free(net);
}
END_TEST

/* T4, faithful, safeguard 0.5 (quota 2): all quotas are spent before the
 * next check; kept layer0 {0,2}, layer1 {1,2}, layer2 {1,3}. The final plan
 * costs 100*3*2 + 50*2*2 + 25*2*2 + 2*10 = 920 < 1220, so it meets the budget. */
START_TEST(test_t4_faithful_safeguard05)
{
    static const int64_t k0[2] = {0, 2}, k1[2] = {1, 2}, k2[2] = {1, 3};
    picpq_net *net = t4_net();
    picpq_plan *p = NULL;
    double cost = 0;
    ck_assert_status(picpq_plan_create(net, &p), PICPQ_OK);
    ck_assert_status(picpq_plan_set_int(p, PICPQ_PLAN_FAITHFUL, 1), PICPQ_OK);
    ck_assert_status(picpq_plan_set_double(p, PICPQ_PLAN_SAFEGUARD, 0.5), PICPQ_OK);
    ck_assert_status(picpq_plan_compute(p, t4_a, t4_b, 0.5), PICPQ_OK);
    expect_kept(p, 0, 4, k0, 2);
    expect_kept(p, 1, 4, k1, 2);
    expect_kept(p, 2, 4, k2, 2);
    ck_assert_status(picpq_plan_budget(p, NULL, &cost), PICPQ_OK);
    ck_assert(cost == 920.0);
    picpq_plan_free(p);
    picpq_net_free(net);
}
END_TEST

/* T4 in the default mode: MACs tested after every entry. Selections (0,1),
 * (0,3), (0,0) cost 2440 - 500 - 500 - 500 = 940 <= 1220 (each removes
 * 100*3 from layer 0 and 50*4 from layer 1's inputs): stop there. */
START_TEST(test_t4_default)
{
    static const int64_t k0[1] = {2}, all[4] = {0, 1, 2, 3};
    picpq_net *net = t4_net();
    picpq_plan *p = NULL;
    double cost = 0, macs = 0;
    ck_assert_status(picpq_plan_create(net, &p), PICPQ_OK);
    ck_assert_status(picpq_plan_set_double(p, PICPQ_PLAN_SAFEGUARD, 0), PICPQ_OK);
    ck_assert_status(picpq_plan_compute(p, t4_a, t4_b, 0.5), PICPQ_OK);
    expect_kept(p, 0, 4, k0, 1);
    expect_kept(p, 1, 4, all, 4);
    expect_kept(p, 2, 4, all, 4);
    ck_assert_status(picpq_plan_budget(p, NULL, &cost), PICPQ_OK);
    ck_assert(cost == 940.0);
    ck_assert_status(picpq_plan_macs(p, &macs), PICPQ_OK);
    ck_assert(macs == 940.0);
    /* a budget met before any entry: nothing is pruned */
    ck_assert_status(picpq_plan_compute(p, t4_a, t4_b, 1.0), PICPQ_OK);
    expect_kept(p, 0, 4, all, 4);
    /* keep_fraction exactly 940/2440 meets with <= after the third entry */
    ck_assert_status(picpq_plan_compute(p, t4_a, t4_b, 940.0 / 2440.0), PICPQ_OK);
    expect_kept(p, 0, 4, k0, 1);
    picpq_plan_free(p);
    picpq_net_free(net);
}
END_TEST

/* T5: the selection order (2,4) (2,5) (1,2) (0,0)+(2,0) (1,0) (1,1)
 * (0,2)+(2,2) [(1,3) skipped] (0,1)+(2,1) (2,3) (2,6). With 1x1 maps the
 * MACs after each entry are, by hand: 60, 56, 52, 42, 33, 25, 17, 12, 12, 7,
 * 6, 5. A default-mode plan with budget = those MACs stops exactly after
 * that entry, so each prefix of the order is observed; the multi-budget call
 * must give the same plans in one pass. */
START_TEST(test_t5_order)
{
    static const double macs_after[12] = {60, 56, 52, 42, 33, 25, 17, 12, 12, 7, 6, 5};
    /* removed filters (layer, index) in order, with the entry they belong to */
    static const int sel_layer[13] = {2, 2, 1, 0, 2, 1, 1, 0, 2, 0, 2, 2, 2};
    static const int sel_index[13] = {4, 5, 2, 0, 0, 0, 1, 2, 2, 1, 1, 3, 6};
    static const int sel_entry[13] = {1, 2, 3, 4, 4, 5, 6, 7, 7, 9, 9, 10, 11};
    static const int widths[3] = {4, 4, 8};
    picpq_net *net = t5_net();
    picpq_plan *plans[12];
    double fractions[12];
    picpq_status st[12];
    int k, i, l;
    for (k = 0; k < 12; k++) {
        ck_assert_status(picpq_plan_create(net, &plans[k]), PICPQ_OK);
        ck_assert_status(picpq_plan_set_double(plans[k], PICPQ_PLAN_SAFEGUARD, 0), PICPQ_OK);
        fractions[k] = macs_after[k] / 60.0;
    }
    ck_assert_status(picpq_plan_compute_multi(plans, 12, ones, zeros, fractions, st), PICPQ_OK);
    for (k = 0; k < 12; k++) {
        if (k == 8) continue; /* entry 8 removes nothing: the same plan as entry 7 */
        for (l = 0; l < 3; l++) {
            uint8_t want[8], got[8];
            int64_t single_kept = 0;
            memset(want, 1, sizeof want);
            for (i = 0; i < 13; i++)
                if (sel_entry[i] <= k && sel_layer[i] == l) want[sel_index[i]] = 0;
            ck_assert_status(picpq_plan_keep_mask(plans[k], l, got, widths[l]), PICPQ_OK);
            ck_assert_msg(memcmp(want, got, (size_t)widths[l]) == 0, "entry %d layer %d", k, l);
            ck_assert_int_eq(st[k], PICPQ_OK);
            (void)single_kept;
        }
    }
    /* the same through single computes */
    for (k = 0; k < 12; k++) {
        picpq_plan *q = NULL;
        for (l = 0; l < 3; l++) {
            uint8_t a[8], b[8];
            if (l == 0) {
                ck_assert_status(picpq_plan_create(net, &q), PICPQ_OK);
                ck_assert_status(picpq_plan_set_double(q, PICPQ_PLAN_SAFEGUARD, 0), PICPQ_OK);
                ck_assert_status(picpq_plan_compute(q, ones, zeros, fractions[k]), PICPQ_OK);
            }
            ck_assert_status(picpq_plan_keep_mask(q, l, a, widths[l]), PICPQ_OK);
            ck_assert_status(picpq_plan_keep_mask(plans[k], l, b, widths[l]), PICPQ_OK);
            ck_assert(memcmp(a, b, (size_t)widths[l]) == 0);
        }
        picpq_plan_free(q);
    }
    for (k = 0; k < 12; k++) picpq_plan_free(plans[k]);
    picpq_net_free(net);
}
END_TEST

/* T5 as METHOD states it: zero budget (here a tiny keep_fraction), faithful:
 * runs until the quotas are spent, PICPQ_BUDGET_UNMET, layer 0 keeps {3},
 * layer 1 {3}, layer 2 {7}. */
START_TEST(test_t5_unmet)
{
    static const int64_t k0[1] = {3}, k2[1] = {7};
    picpq_net *net = t5_net();
    picpq_plan *p = NULL;
    double cost = 0, budget = 0;
    ck_assert_status(picpq_plan_create(net, &p), PICPQ_OK);
    ck_assert_status(picpq_plan_set_int(p, PICPQ_PLAN_FAITHFUL, 1), PICPQ_OK);
    ck_assert_status(picpq_plan_set_double(p, PICPQ_PLAN_SAFEGUARD, 0), PICPQ_OK);
    ck_assert_status(picpq_plan_compute(p, ones, zeros, 1e-12), PICPQ_BUDGET_UNMET);
    expect_kept(p, 0, 4, k0, 1);
    expect_kept(p, 1, 4, k0, 1);
    expect_kept(p, 2, 8, k2, 1);
    ck_assert_status(picpq_plan_budget(p, &budget, &cost), PICPQ_OK);
    ck_assert(cost == 5.0 && budget == 60e-12);
    picpq_plan_free(p);
    picpq_net_free(net);
}
END_TEST

/* Chain reductions on T5's chain, j = 0..3 (both members) and 4..7 (layer 2
 * only). FP0 = [1,5,2,6], FP2 = [2,1,2,1,0.2,0.3,9,9], I = FP:
 * mean = [1.5, 3, 2, 3.5, 0.2, 0.3, 9, 9]; max = [2, 5, 2, 6, 0.2, 0.3, 9, 9].
 * With layer 1 kept out of the way (not prunable), pruning 2 chain entries
 * by budget shows the two lowest entries: mean -> j = 4, 5 then j = 0;
 * max -> j = 4, 5 then j = 0 or 2 (tie 2, 2: j = 0 first). Take 3 entries. */
START_TEST(test_chain_reduce)
{
    picpq_net *net = t5_net();
    picpq_plan *p = NULL;
    uint8_t m0[4], m2[8];
    /* MACs: conv0 12 + conv1 16 + conv2 32. Entries 4, 5 remove 4 each (layer 2
     * in = 4); entry 0 removes conv0 3 + conv1 4 + conv2 4 = 11: 60 - 19 = 41 */
    ck_assert_status(picpq_net_set_prunable(net, 1, 0), PICPQ_OK);
    ck_assert_status(picpq_plan_create(net, &p), PICPQ_OK);
    ck_assert_status(picpq_plan_set_double(p, PICPQ_PLAN_SAFEGUARD, 0), PICPQ_OK);
    ck_assert_status(picpq_plan_set_int(p, PICPQ_PLAN_CHAIN_REDUCE, PICPQ_CHAIN_MEAN), PICPQ_OK);
    ck_assert_status(picpq_plan_compute(p, ones, zeros, 41.0 / 60), PICPQ_OK);
    ck_assert_status(picpq_plan_keep_mask(p, 0, m0, 4), PICPQ_OK);
    ck_assert_status(picpq_plan_keep_mask(p, 2, m2, 8), PICPQ_OK);
    ck_assert(m0[0] == 0 && m0[1] && m0[2] && m0[3]);
    ck_assert(m2[0] == 0 && m2[4] == 0 && m2[5] == 0 && m2[1] && m2[2] && m2[3] && m2[6]);
    /* max ranks j = 0 and j = 2 equal (2): the stable order takes j = 0 */
    ck_assert_status(picpq_plan_set_int(p, PICPQ_PLAN_CHAIN_REDUCE, PICPQ_CHAIN_MAX), PICPQ_OK);
    ck_assert_status(picpq_plan_compute(p, ones, zeros, 41.0 / 60), PICPQ_OK);
    ck_assert_status(picpq_plan_keep_mask(p, 0, m0, 4), PICPQ_OK);
    ck_assert(m0[0] == 0 && m0[2] == 1);
    /* one more entry: max -> j = 2 (2) before j = 1 (5); mean -> j = 2 (2) too.
     * Entry 2 removes 3 + 4 + 3 = 10 more (conv1 in 3, conv2 in 3): 31 */
    ck_assert_status(picpq_plan_compute(p, ones, zeros, 31.0 / 60), PICPQ_OK);
    ck_assert_status(picpq_plan_keep_mask(p, 0, m0, 4), PICPQ_OK);
    ck_assert(m0[0] == 0 && m0[2] == 0 && m0[1] == 1);
    picpq_plan_free(p);
    picpq_net_free(net);
}
END_TEST

/* Faithful importances are float32: two independent 1-filter-pruning
 * candidates whose importances differ in double but tie in float32. In
 * double, layer 1 (0.1) goes first; in float32 both are 0.1f and the stable
 * order picks layer 0 first. */
START_TEST(test_faithful_float32_ties)
{
    const double fp0[2] = {0.1 + 1e-12, 5}, fp1[2] = {0.1, 5};
    picpq_net *net = NULL;
    picpq_plan *p = NULL;
    int64_t k0 = 0, k1 = 0;
    ck_assert_status(picpq_net_create(&net), PICPQ_OK);
    ck_assert_status(picpq_net_add_conv(net, 1, 2, 1, 1, 1, 1, 1, NULL), PICPQ_OK);
    ck_assert_status(picpq_net_add_conv(net, 1, 2, 1, 1, 1, 1, 1, NULL), PICPQ_OK);
    ck_assert_status(picpq_net_set_fp(net, 0, fp0, 2), PICPQ_OK);
    ck_assert_status(picpq_net_set_fp(net, 1, fp1, 2), PICPQ_OK);
    ck_assert_status(picpq_plan_create(net, &p), PICPQ_OK);
    ck_assert_status(picpq_plan_set_double(p, PICPQ_PLAN_SAFEGUARD, 0), PICPQ_OK);
    /* MACs 2 + 2 = 4; budget 3 needs one removal */
    ck_assert_status(picpq_plan_compute(p, ones, zeros, 0.75), PICPQ_OK);
    ck_assert_status(picpq_plan_kept(p, 0, &k0), PICPQ_OK);
    ck_assert_status(picpq_plan_kept(p, 1, &k1), PICPQ_OK);
    ck_assert(k0 == 2 && k1 == 1);
    ck_assert_status(picpq_plan_set_int(p, PICPQ_PLAN_FAITHFUL, 1), PICPQ_OK);
    ck_assert_status(picpq_plan_set_int(p, PICPQ_PLAN_CHECK_EVERY, 1), PICPQ_OK);
    ck_assert_status(picpq_plan_compute(p, ones, zeros, 0.76), PICPQ_OK);
    ck_assert_status(picpq_plan_kept(p, 0, &k0), PICPQ_OK);
    ck_assert_status(picpq_plan_kept(p, 1, &k1), PICPQ_OK);
    ck_assert(k0 == 1 && k1 == 2);
    picpq_plan_free(p);
    picpq_net_free(net);
}
END_TEST

/* T11: the budgets of the reference settings, zeta = (1 - p/100) * C. */
START_TEST(test_t11_budgets)
{
    static const struct {
        int which;
        double removed, zeta;
    } cases[4] = {{0, 0.55, 56468563.2},
                  {1, 0.653, 108771941.4},
                  {1, 0.65, 109712332.8},
                  {2, 0.5, 132903424.0}};
    int i;
    for (i = 0; i < 4; i++) {
        picpq_net *net = NULL;
        picpq_plan *p = NULL;
        double a[64], b[64], budget = 0, cost = 0, macs = 0;
        int32_t n;
        picpq_status s;
        ck_assert_status(picpq_net_create(&net), PICPQ_OK);
        if (cases[i].which == 0) ck_assert_status(fixture_resnet56(net, 10), PICPQ_OK);
        if (cases[i].which == 1) ck_assert_status(fixture_vgg16(net), PICPQ_OK);
        if (cases[i].which == 2) ck_assert_status(fixture_mobilenetv2(net), PICPQ_OK);
        n = picpq_net_num_layers(net);
        random_scores(net, 11 + (uint64_t)i);
        random_ab(a, b, n, 5);
        ck_assert_status(picpq_plan_create(net, &p), PICPQ_OK);
        s = picpq_plan_compute(p, a, b, 1 - cases[i].removed);
        ck_assert_int_eq(s, PICPQ_OK);
        ck_assert_status(picpq_plan_budget(p, &budget, &cost), PICPQ_OK);
        /* METHOD rounds to one decimal */
        ck_assert_msg(fabs(budget - cases[i].zeta) < 0.05, "case %d: %.17g", i, budget);
        ck_assert_status(picpq_plan_macs(p, &macs), PICPQ_OK);
        ck_assert(macs == cost && macs <= budget);
        picpq_plan_free(p);
        picpq_net_free(net);
    }
}
END_TEST

/* PICPQ_BUDGET_UNMET if and only if the returned plan fails the budget test,
 * in both modes, over a sweep of budgets on ResNet-56; the default mode
 * returns the first passing plan, so one more filter than needed is never
 * removed: undoing the last entry's MACs drop would fail the test. The
 * multi-budget call reproduces the single calls exactly. */
START_TEST(test_status_iff_and_multi)
{
    picpq_net *net = NULL;
    picpq_plan *single = NULL, *plans[20];
    double a[56], b[56], fractions[20];
    picpq_status st[20];
    int mode, k;
    ck_assert_status(picpq_net_create(&net), PICPQ_OK);
    ck_assert_status(fixture_resnet56(net, 10), PICPQ_OK);
    random_scores(net, 99);
    random_ab(a, b, 56, 17);
    for (k = 0; k < 20; k++) fractions[k] = 0.05 * (k + 1) - (k % 3 == 0 ? 0.0125 : 0); /* .. 1 */
    fractions[0] = 0.005;
    for (mode = 0; mode < 2; mode++) {
        int unmet = 0;
        for (k = 0; k < 20; k++) {
            ck_assert_status(picpq_plan_create(net, &plans[k]), PICPQ_OK);
            ck_assert_status(picpq_plan_set_int(plans[k], PICPQ_PLAN_FAITHFUL, mode), PICPQ_OK);
        }
        ck_assert_status(picpq_plan_create(net, &single), PICPQ_OK);
        ck_assert_status(picpq_plan_set_int(single, PICPQ_PLAN_FAITHFUL, mode), PICPQ_OK);
        {
            picpq_status all = picpq_plan_compute_multi(plans, 20, a, b, fractions, st);
            for (k = 0; k < 20; k++) unmet |= st[k] == PICPQ_BUDGET_UNMET;
            ck_assert_int_eq(all, unmet ? PICPQ_BUDGET_UNMET : PICPQ_OK);
        }
        ck_assert(unmet); /* 0.5 % of ResNet-56 is below what the 10 % safeguard allows */
        for (k = 0; k < 20; k++) {
            double budget = 0, cost = 0;
            int32_t l;
            picpq_status s = picpq_plan_compute(single, a, b, fractions[k]);
            ck_assert_int_eq(s, st[k]);
            ck_assert_status(picpq_plan_budget(single, &budget, &cost), PICPQ_OK);
            if (mode == 0) ck_assert_int_eq(s == PICPQ_OK, cost <= budget);
            else ck_assert_int_eq(s == PICPQ_OK, cost < budget);
            for (l = 0; l < 55; l++) {
                uint8_t m1[64], m2[64];
                int64_t w = 0;
                ck_assert_status(picpq_net_layer_channels(net, l, NULL, &w), PICPQ_OK);
                ck_assert_status(picpq_plan_keep_mask(single, l, m1, w), PICPQ_OK);
                ck_assert_status(picpq_plan_keep_mask(plans[k], l, m2, w), PICPQ_OK);
                ck_assert(memcmp(m1, m2, (size_t)w) == 0);
            }
        }
        for (k = 0; k < 20; k++) picpq_plan_free(plans[k]);
        picpq_plan_free(single);
    }
    picpq_net_free(net);
}
END_TEST

/* In ResNet-56's chain, index j < 16 binds all 28 members, j < 32 the 18
 * wider ones, j < 64 the 9 of stage 3: coupled members of equal width have
 * equal quotas and so keep identical masks. */
START_TEST(test_resnet_chain_consistency)
{
    picpq_net *net = NULL;
    picpq_plan *p = NULL;
    double a[56], b[56];
    uint8_t m16[16], m32[32], m64[64], m[64];
    int32_t l;
    ck_assert_status(picpq_net_create(&net), PICPQ_OK);
    ck_assert_status(fixture_resnet56(net, 10), PICPQ_OK);
    random_scores(net, 5);
    random_ab(a, b, 56, 9);
    ck_assert_status(picpq_plan_create(net, &p), PICPQ_OK);
    ck_assert_status(picpq_plan_compute(p, a, b, 0.3), PICPQ_OK);
    ck_assert_status(picpq_plan_keep_mask(p, 0, m16, 16), PICPQ_OK);
    ck_assert_status(picpq_plan_keep_mask(p, 20, m32, 32), PICPQ_OK);
    ck_assert_status(picpq_plan_keep_mask(p, 38, m64, 64), PICPQ_OK);
    for (l = 2; l < 55; l += 2) {
        int64_t w = l < 19 ? 16 : l < 37 ? 32 : 64;
        const uint8_t *ref = w == 16 ? m16 : w == 32 ? m32 : m64;
        ck_assert_status(picpq_plan_keep_mask(p, l, m, w), PICPQ_OK);
        ck_assert(memcmp(m, ref, (size_t)w) == 0);
    }
    picpq_plan_free(p);
    picpq_net_free(net);
}
END_TEST

START_TEST(test_compute_errors)
{
    picpq_net *net = t4_net();
    picpq_plan *p = NULL, *q = NULL, *pp[2];
    double a[4] = {1, 1, 1, 1}, b[4] = {0, 0, 0, 0}, f[2] = {0.5, 0.6};
    int64_t kept0 = 0, k = 0;
    picpq_net *empty_scores = NULL;
    ck_assert_status(picpq_plan_create(net, &p), PICPQ_OK);
    ck_assert_status(picpq_plan_compute(NULL, a, b, 0.5), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_plan_compute(p, NULL, b, 0.5), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_plan_compute(p, a, NULL, 0.5), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_plan_compute(p, a, b, 0), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_plan_compute(p, a, b, 1.0000001), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_plan_compute(p, a, b, -0.5), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_plan_compute(p, a, b, NAN), PICPQ_E_NONFINITE);
    a[1] = 0;
    ck_assert_status(picpq_plan_compute(p, a, b, 0.5), PICPQ_E_OUT_OF_RANGE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "layer 1"));
    a[1] = -2;
    ck_assert_status(picpq_plan_compute(p, a, b, 0.5), PICPQ_E_OUT_OF_RANGE);
    a[1] = INFINITY;
    ck_assert_status(picpq_plan_compute(p, a, b, 0.5), PICPQ_E_NONFINITE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "layer 1"));
    a[1] = 1;
    b[2] = NAN;
    ck_assert_status(picpq_plan_compute(p, a, b, 0.5), PICPQ_E_NONFINITE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "layer 2"));
    b[2] = 0;
    a[3] = NAN; /* the classifier is not prunable: its (a, b) are ignored */
    b[3] = INFINITY;
    ck_assert_status(picpq_plan_compute(p, a, b, 0.5), PICPQ_OK);
    ck_assert_status(picpq_plan_kept(p, 0, &kept0), PICPQ_OK);
    ck_assert_int_lt(kept0, 4);
    /* an importance that overflows: 1e300 * 4 + ... is finite; 1e308 * 4 is not */
    a[0] = 1e308;
    ck_assert_status(picpq_plan_compute(p, a, b, 0.3), PICPQ_E_NONFINITE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "layer 0"));
    a[0] = 1;
    /* on error the previous plan is kept */
    ck_assert_status(picpq_plan_kept(p, 0, &k), PICPQ_OK);
    ck_assert_int_eq(k, kept0);
    /* multi: n, NULLs, repeated or foreign plans, differing parameters */
    ck_assert_status(picpq_plan_create(net, &q), PICPQ_OK);
    pp[0] = p;
    pp[1] = q;
    ck_assert_status(picpq_plan_compute_multi(pp, 0, a, b, f, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_plan_compute_multi(NULL, 2, a, b, f, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_plan_compute_multi(pp, 2, a, b, NULL, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_plan_set_int(q, PICPQ_PLAN_FAITHFUL, 1), PICPQ_OK);
    ck_assert_status(picpq_plan_compute_multi(pp, 2, a, b, f, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "plans[1]"));
    ck_assert_status(picpq_plan_set_int(q, PICPQ_PLAN_FAITHFUL, 0), PICPQ_OK);
    f[1] = 2;
    ck_assert_status(picpq_plan_compute_multi(pp, 2, a, b, f, NULL), PICPQ_E_OUT_OF_RANGE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "keep_fractions[1]"));
    f[1] = 0.6;
    pp[1] = p;
    ck_assert_status(picpq_plan_compute_multi(pp, 2, a, b, f, NULL), PICPQ_E_INVALID_ARG);
    pp[1] = NULL;
    ck_assert_status(picpq_plan_compute_multi(pp, 2, a, b, f, NULL), PICPQ_E_INVALID_ARG);
    picpq_plan_free(q);
    /* a second plan older than a change of the net (its arrays are too short) */
    {
        picpq_net *grow = t4_net();
        picpq_plan *old = NULL, *young = NULL, *both[2];
        ck_assert_status(picpq_plan_create(grow, &old), PICPQ_OK);
        ck_assert_status(picpq_net_add_conv(grow, 4, 4, 1, 1, 1, 1, 1, NULL), PICPQ_OK);
        ck_assert_status(picpq_net_set_prunable(grow, 4, 0), PICPQ_OK);
        ck_assert_status(picpq_plan_create(grow, &young), PICPQ_OK);
        both[0] = young;
        both[1] = old;
        ck_assert_status(picpq_plan_compute_multi(both, 2, a, b, f, NULL), PICPQ_E_BAD_STATE);
        ck_assert_ptr_nonnull(strstr(picpq_last_error(), "plans[1]"));
        picpq_plan_free(old);
        picpq_plan_free(young);
        picpq_net_free(grow);
    }
    empty_scores = t5_net();
    ck_assert_status(picpq_plan_create(empty_scores, &q), PICPQ_OK);
    pp[1] = q;
    ck_assert_status(picpq_plan_compute_multi(pp, 2, a, b, f, NULL), PICPQ_E_INVALID_ARG);
    picpq_plan_free(q);
    picpq_net_free(empty_scores);
    /* a prunable layer without scores */
    ck_assert_status(picpq_net_create(&empty_scores), PICPQ_OK);
    ck_assert_status(picpq_net_add_conv(empty_scores, 3, 4, 1, 1, 1, 1, 1, NULL), PICPQ_OK);
    ck_assert_status(picpq_net_add_conv(empty_scores, 4, 4, 1, 1, 1, 1, 1, NULL), PICPQ_OK);
    ck_assert_status(picpq_net_set_fp(empty_scores, 0, zeros, 4), PICPQ_OK);
    ck_assert_status(picpq_plan_create(empty_scores, &q), PICPQ_OK);
    ck_assert_status(picpq_plan_compute(q, a, b, 0.5), PICPQ_E_BAD_STATE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "layer 1"));
    /* the net changed after the plan was created */
    ck_assert_status(picpq_net_set_fp(empty_scores, 1, zeros, 4), PICPQ_OK); /* not structural */
    ck_assert_status(picpq_plan_compute(q, a, b, 0.5), PICPQ_OK);
    ck_assert_status(picpq_net_set_prunable(empty_scores, 1, 0), PICPQ_OK);
    ck_assert_status(picpq_plan_compute(q, a, b, 0.5), PICPQ_E_BAD_STATE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "net changed"));
    {
        uint8_t m[4] = {1, 1, 1, 1};
        double d;
        ck_assert_status(picpq_plan_kept(q, 0, &k), PICPQ_E_BAD_STATE);
        ck_assert_status(picpq_plan_keep_mask(q, 0, m, 4), PICPQ_E_BAD_STATE);
        ck_assert_status(picpq_plan_set_keep_mask(q, 0, m, 4), PICPQ_E_BAD_STATE);
        ck_assert_status(picpq_plan_budget(q, &d, &d), PICPQ_E_BAD_STATE);
        ck_assert_status(picpq_plan_importance(q, 0, 1, 0, &d, 4), PICPQ_E_BAD_STATE);
    }
    picpq_plan_free(q);
    picpq_net_free(empty_scores);
    picpq_plan_free(p);
    picpq_net_free(net);
}
END_TEST

/* The reference cost's num_classes comes from the last linear layer or the
 * parameter; T4 with num_classes 1000 makes the last conv's filters costly
 * (each removal saves 1000): faithful check at idx 0 after (0,1): 1940, the
 * same; the final cost with 10 vs 1000 classes differs by 990 per kept
 * filter of layer 2. */
START_TEST(test_num_classes)
{
    picpq_net *net = t4_net();
    picpq_plan *p = NULL;
    double cost = 0;
    ck_assert_status(picpq_plan_create(net, &p), PICPQ_OK);
    ck_assert_status(picpq_plan_set_int(p, PICPQ_PLAN_FAITHFUL, 1), PICPQ_OK);
    ck_assert_status(picpq_plan_set_double(p, PICPQ_PLAN_SAFEGUARD, 0.5), PICPQ_OK);
    ck_assert_status(picpq_plan_set_int(p, PICPQ_PLAN_NUM_CLASSES, 1000), PICPQ_OK);
    /* full reference cost 2400 + 4000 = 6400 > the budget base 2440 */
    ck_assert_status(picpq_plan_compute(p, t4_a, t4_b, 0.5), PICPQ_BUDGET_UNMET);
    ck_assert_status(picpq_plan_budget(p, NULL, &cost), PICPQ_OK);
    ck_assert(cost == 900 + 2 * 1000);
    ck_assert_status(picpq_plan_set_int(p, PICPQ_PLAN_NUM_CLASSES, 0), PICPQ_OK);
    ck_assert_status(picpq_plan_compute(p, t4_a, t4_b, 0.5), PICPQ_OK);
    ck_assert_status(picpq_plan_budget(p, NULL, &cost), PICPQ_OK);
    ck_assert(cost == 900);
    ck_assert_status(picpq_plan_set_int(p, PICPQ_PLAN_NUM_CLASSES, INT32_MAX), PICPQ_OK);
    ck_assert_status(picpq_plan_compute(p, t4_a, t4_b, 0.5), PICPQ_BUDGET_UNMET);
    picpq_plan_free(p);
    picpq_net_free(net);
}
END_TEST

START_TEST(test_keep_mask_errors)
{
    picpq_net *net = t5_net();
    picpq_plan *p = NULL;
    uint8_t m[8] = {1, 0, 1, 1, 1, 1, 1, 1}, z[8] = {0}, two[4] = {1, 2, 1, 1};
    uint8_t got[8];
    int64_t k = 0;
    ck_assert_status(picpq_plan_create(net, &p), PICPQ_OK);
    ck_assert_status(picpq_plan_set_keep_mask(NULL, 0, m, 4), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_plan_set_keep_mask(p, 0, NULL, 4), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_plan_set_keep_mask(p, 3, m, 4), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_plan_set_keep_mask(p, 0, m, 8), PICPQ_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "layer 0"));
    ck_assert_status(picpq_plan_set_keep_mask(p, 0, two, 4), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_plan_set_keep_mask(p, 0, z, 4), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_plan_keep_mask(p, 0, got, 3), PICPQ_E_SHAPE);
    ck_assert_status(picpq_plan_keep_mask(p, 0, NULL, 4), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_plan_keep_mask(NULL, 0, got, 4), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_plan_keep_mask(p, -1, got, 4), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_plan_kept(p, 0, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_plan_kept(NULL, 0, &k), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_plan_kept(p, 3, &k), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_plan_budget(NULL, NULL, NULL), PICPQ_E_INVALID_ARG);
    /* layer 2 (width 8) does not share its mask with layer 0 (width 4) */
    ck_assert_status(picpq_plan_set_keep_mask(p, 2, m, 8), PICPQ_OK);
    ck_assert_status(picpq_plan_kept(p, 2, &k), PICPQ_OK);
    ck_assert_int_eq(k, 7);
    ck_assert_status(picpq_plan_kept(p, 0, &k), PICPQ_OK);
    ck_assert_int_eq(k, 4);
    /* a non-prunable layer only takes all-ones masks */
    ck_assert_status(picpq_net_set_prunable(net, 1, 0), PICPQ_OK);
    picpq_plan_free(p);
    ck_assert_status(picpq_plan_create(net, &p), PICPQ_OK);
    ck_assert_status(picpq_plan_set_keep_mask(p, 1, m, 4), PICPQ_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "not prunable"));
    memset(got, 1, sizeof got);
    ck_assert_status(picpq_plan_set_keep_mask(p, 1, got, 4), PICPQ_OK);
    picpq_plan_free(p);
    picpq_net_free(net);
}
END_TEST

/* A MobileNetV2 plan: every depthwise conv keeps exactly its producer's
 * mask, and the residual projections of a stage agree. */
START_TEST(test_mobilenetv2_couplings)
{
    picpq_net *net = NULL;
    picpq_plan *p = NULL;
    double a[53], b[53];
    uint8_t m1[1280], m2[1280];
    int32_t l;
    ck_assert_status(picpq_net_create(&net), PICPQ_OK);
    ck_assert_status(fixture_mobilenetv2(net), PICPQ_OK);
    random_scores(net, 1);
    random_ab(a, b, 53, 2);
    ck_assert_status(picpq_plan_create(net, &p), PICPQ_OK);
    ck_assert_status(picpq_plan_compute(p, a, b, 0.5), PICPQ_OK);
    for (l = 1; l < 51; l++) {
        int64_t w = 0, wp = 0;
        ck_assert_status(picpq_net_layer_channels(net, l, NULL, &w), PICPQ_OK);
        ck_assert_status(picpq_net_layer_channels(net, l - 1, NULL, &wp), PICPQ_OK);
        if (l % 3 != 1) continue; /* depthwise convs are l = 1, 4, 7, ... */
        ck_assert_int_eq(w, wp);
        ck_assert_status(picpq_plan_keep_mask(p, l, m1, w), PICPQ_OK);
        ck_assert_status(picpq_plan_keep_mask(p, l - 1, m2, w), PICPQ_OK);
        ck_assert(memcmp(m1, m2, (size_t)w) == 0);
    }
    /* stage (6, 24, 2, 1): projections 5 and 8 are one chain */
    ck_assert_status(picpq_plan_keep_mask(p, 5, m1, 24), PICPQ_OK);
    ck_assert_status(picpq_plan_keep_mask(p, 8, m2, 24), PICPQ_OK);
    ck_assert(memcmp(m1, m2, 24) == 0);
    picpq_plan_free(p);
    picpq_net_free(net);
}
END_TEST

/* PICPQ_PLAN_BUDGET_KIND = params: T4's net has 12 + 16 + 16 conv weights
 * and 40 FC weights (84). Keep 0.5 -> 42: removals (0,1), (0,3), (0,0) drop
 * 3 + 4 each (a filter's 3 weights and one input of each of layer 1's 4
 * filters): 84 - 21 = 63; (0,2) is out of quota; then (2,0) drops 4 + 10 (FC
 * inputs) = 49, (1,3) drops 1 + 3 = 45, (1,0) drops 1 + 3 = 41 <= 42: stop.
 * Check: 3*1 + 1*2 + 2*3 + 3*10 = 41. */
START_TEST(test_budget_params)
{
    static const int64_t k0[1] = {2}, k1[2] = {1, 2}, k2[3] = {1, 2, 3};
    picpq_net *net = t4_net();
    picpq_plan *p = NULL;
    double cost = 0, params = 0, budget = 0;
    int64_t v = -1;
    ck_assert_status(picpq_plan_create(net, &p), PICPQ_OK);
    ck_assert_status(picpq_plan_get_int(p, PICPQ_PLAN_BUDGET_KIND, &v), PICPQ_OK);
    ck_assert_int_eq(v, PICPQ_BUDGET_MACS);
    ck_assert_status(picpq_plan_set_int(p, PICPQ_PLAN_BUDGET_KIND, PICPQ_BUDGET_PARAMS), PICPQ_OK);
    ck_assert_status(picpq_plan_set_int(p, PICPQ_PLAN_BUDGET_KIND, 2), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_plan_set_double(p, PICPQ_PLAN_SAFEGUARD, 0), PICPQ_OK);
    ck_assert_status(picpq_plan_compute(p, t4_a, t4_b, 0.5), PICPQ_OK);
    ck_assert_status(picpq_plan_budget(p, &budget, &cost), PICPQ_OK);
    ck_assert(budget == 42.0);
    ck_assert(cost == 41.0);
    ck_assert_status(picpq_plan_params(p, &params), PICPQ_OK);
    ck_assert(params == 41.0);
    expect_kept(p, 0, 4, k0, 1);
    expect_kept(p, 1, 4, k1, 2);
    expect_kept(p, 2, 4, k2, 3);
    picpq_plan_free(p);
    picpq_net_free(net);
}
END_TEST

/* One conv of n filters (FP j on filter j) on a 1x1 map, optionally followed by
 * a conv of `next` filters fed by it (0: none). */
/* The key is FNV-1a of every layer's mask, recomputed here from the masks
 * the plan reports; equal kept filters, equal keys. */
static uint64_t fnv_of_masks(const picpq_net *net, const picpq_plan *p)
{
    uint64_t h = 14695981039346656037ull;
    uint8_t mask[256];
    int32_t l, n = picpq_net_num_layers(net);
    int64_t in, out, j;
    for (l = 0; l < n; l++) {
        ck_assert_status(picpq_net_layer_channels(net, l, &in, &out), PICPQ_OK);
        ck_assert_status(picpq_plan_keep_mask(p, l, mask, out), PICPQ_OK);
        for (j = 0; j < out; j++) {
            h ^= mask[j];
            h *= 1099511628211ull;
        }
    }
    return h;
}

START_TEST(test_plan_key)
{
    picpq_net *net = t5_net();
    picpq_plan *p = NULL, *q = NULL;
    double a[16], b[16];
    uint64_t k1, k2, k3;
    int32_t n = picpq_net_num_layers(net);
    random_scores(net, 3);
    random_ab(a, b, n, 4);
    ck_assert_status(picpq_plan_create(net, &p), PICPQ_OK);
    ck_assert_status(picpq_plan_create(net, &q), PICPQ_OK);
    ck_assert_status(picpq_plan_key(p, &k1), PICPQ_OK);
    ck_assert_uint_eq(k1, fnv_of_masks(net, p)); /* nothing pruned yet */
    ck_assert_int_ge(picpq_plan_compute(p, a, b, 0.5), 0);
    ck_assert_status(picpq_plan_key(p, &k2), PICPQ_OK);
    ck_assert_uint_eq(k2, fnv_of_masks(net, p));
    ck_assert_uint_ne(k1, k2);
    ck_assert_int_ge(picpq_plan_compute(q, a, b, 0.5), 0); /* same inputs: same key */
    ck_assert_status(picpq_plan_key(q, &k3), PICPQ_OK);
    ck_assert_uint_eq(k2, k3);
    ck_assert_status(picpq_plan_key(NULL, &k3), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_plan_key(p, NULL), PICPQ_E_INVALID_ARG);
    picpq_plan_free(p);
    picpq_plan_free(q);
    picpq_net_free(net);
}
END_TEST

static picpq_net *round_net(int64_t n, int64_t next, int couple)
{
    double fp[128];
    picpq_net *net = NULL;
    int64_t j;
    for (j = 0; j < n; j++) fp[j] = (double)j;
    ck_assert_status(picpq_net_create(&net), PICPQ_OK);
    ck_assert_status(picpq_net_add_conv(net, 1, n, 1, 1, 1, 1, 1, NULL), PICPQ_OK);
    ck_assert_status(picpq_net_set_fp(net, 0, fp, n), PICPQ_OK);
    if (next > 0) {
        for (j = 0; j < next; j++) fp[j] = (double)j;
        ck_assert_status(picpq_net_add_conv(net, n, next, 1, 1, 1, 1, 1, NULL), PICPQ_OK);
        ck_assert_status(picpq_net_connect(net, 0, 1), PICPQ_OK);
        if (couple) ck_assert_status(picpq_net_couple(net, 0, 1), PICPQ_OK);
        ck_assert_status(picpq_net_set_fp(net, 1, fp, next), PICPQ_OK);
    }
    return net;
}

/* PICPQ_PLAN_ROUND_TO: the quota of a layer of n filters is the largest one
 * of the safeguard's that leaves a multiple of R, seen as the filters kept
 * when the budget can never be met. R = 8, safeguard 0.1: n = 4 and 8 stay
 * whole; 12 (quota 10 -> 4), 16 (14 -> 8), 24 (21 -> 16) keep 8; 100 (90:
 * at least 10 kept, rounded up to 16) keeps 16. Safeguard 0: at least 1 kept,
 * so 8 (n = 4 stays 4). R = 16: 24 and 100 keep 16, 12 stays whole. */
START_TEST(test_round_to_quota)
{
    static const int64_t n[6] = {4, 8, 12, 16, 24, 100};
    static const int64_t k8[6] = {4, 8, 8, 8, 8, 16}, k8_sg0[6] = {4, 8, 8, 8, 8, 8};
    static const int64_t k16[6] = {4, 8, 12, 16, 16, 16};
    int i, c;
    for (c = 0; c < 3; c++) {
        for (i = 0; i < 6; i++) {
            picpq_net *net = round_net(n[i], 0, 0);
            picpq_plan *p = NULL;
            double a = 1, b = 0;
            int64_t kept = 0, want = c == 0 ? k8[i] : c == 1 ? k8_sg0[i] : k16[i];
            ck_assert_status(picpq_plan_create(net, &p), PICPQ_OK);
            ck_assert_status(picpq_plan_set_int(p, PICPQ_PLAN_ROUND_TO, c == 2 ? 16 : 8), PICPQ_OK);
            if (c == 1)
                ck_assert_status(picpq_plan_set_double(p, PICPQ_PLAN_SAFEGUARD, 0), PICPQ_OK);
            ck_assert_status(picpq_plan_compute(p, &a, &b, 1e-9), PICPQ_BUDGET_UNMET);
            ck_assert_status(picpq_plan_kept(p, 0, &kept), PICPQ_OK);
            ck_assert_int_eq(kept, want);
            ck_assert_int_eq(kept == n[i] || kept % (c == 2 ? 16 : 8) == 0, 1);
            picpq_plan_free(p);
            picpq_net_free(net);
        }
    }
}
END_TEST

/* Round-to 8 on conv0 (1 -> 12) feeding conv1 (12 -> 4), 1x1 maps: MACs 12 +
 * 48 = 60. Entries by score: (0,0) (1,0) (0,1) (1,1) (0,2) (1,2) (0,3) ... Layer
 * 1 (4 < 8) stays whole; layer 0's first batch is 12 mod 8 = 4 filters, taken
 * at (0,3): cost 8 + 32 = 40 at once (without round-to: 55, 44, ...). Keep 0.9
 * (54) is met with 40 and filters {4..11}; keep 0.5 (30) is not: its quota is
 * spent (12 - 8). */
START_TEST(test_round_to_budget)
{
    static const int64_t k0[8] = {4, 5, 6, 7, 8, 9, 10, 11}, k1[4] = {0, 1, 2, 3};
    static const int64_t k0_plain[11] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
                         k1_plain[3] = {1, 2, 3};
    static const double a[2] = {1, 1}, b[2] = {0, 0};
    picpq_net *net = round_net(12, 4, 0);
    picpq_plan *p = NULL;
    double cost = 0, macs = 0;
    int64_t v = 0;
    ck_assert_status(picpq_plan_create(net, &p), PICPQ_OK);
    ck_assert_status(picpq_plan_get_int(p, PICPQ_PLAN_ROUND_TO, &v), PICPQ_OK);
    ck_assert_int_eq(v, 1);
    ck_assert_status(picpq_plan_set_int(p, PICPQ_PLAN_ROUND_TO, 0), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_plan_set_int(p, PICPQ_PLAN_ROUND_TO, PICPQ_AUTO), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_plan_set_double(p, PICPQ_PLAN_SAFEGUARD, 0), PICPQ_OK);
    /* R = 1: (0,0) drops 1 + 4 (55), (1,0) drops 11 (44) */
    ck_assert_status(picpq_plan_compute(p, a, b, 0.9), PICPQ_OK);
    ck_assert_status(picpq_plan_budget(p, NULL, &cost), PICPQ_OK);
    ck_assert(cost == 44.0);
    expect_kept(p, 0, 12, k0_plain, 11);
    expect_kept(p, 1, 4, k1_plain, 3);
    ck_assert_status(picpq_plan_set_int(p, PICPQ_PLAN_ROUND_TO, 8), PICPQ_OK);
    ck_assert_status(picpq_plan_compute(p, a, b, 0.9), PICPQ_OK);
    ck_assert_status(picpq_plan_budget(p, NULL, &cost), PICPQ_OK);
    ck_assert(cost == 40.0);
    ck_assert_status(picpq_plan_macs(p, &macs), PICPQ_OK);
    ck_assert(macs == 40.0);
    expect_kept(p, 0, 12, k0, 8);
    expect_kept(p, 1, 4, k1, 4);
    ck_assert_status(picpq_plan_compute(p, a, b, 0.5), PICPQ_BUDGET_UNMET);
    ck_assert_status(picpq_plan_budget(p, NULL, &cost), PICPQ_OK);
    ck_assert(cost == 40.0);
    expect_kept(p, 0, 12, k0, 8);
    picpq_plan_free(p);
    picpq_net_free(net);
}
END_TEST

/* Round-to 8 on two coupled convs of 16 (conv0 1 -> 16, conv1 16 -> 16, MACs
 * 16 + 256 = 272), safeguard 0: chain scores 2j, quota 8 each, one batch of 8
 * for both at entry 7: cost 8 + 64 = 72, both keep {8..15}. compute_multi
 * refuses plans whose round-to differs. */
START_TEST(test_round_to_chain)
{
    static const int64_t k[8] = {8, 9, 10, 11, 12, 13, 14, 15};
    static const double a[2] = {1, 1}, b[2] = {0, 0}, keep[2] = {0.5, 0.5};
    picpq_net *net = round_net(16, 16, 1);
    picpq_plan *p = NULL, *q = NULL, *both[2];
    double cost = 0;
    ck_assert_status(picpq_plan_create(net, &p), PICPQ_OK);
    ck_assert_status(picpq_plan_create(net, &q), PICPQ_OK);
    ck_assert_status(picpq_plan_set_int(p, PICPQ_PLAN_ROUND_TO, 8), PICPQ_OK);
    ck_assert_status(picpq_plan_set_double(p, PICPQ_PLAN_SAFEGUARD, 0), PICPQ_OK);
    ck_assert_status(picpq_plan_set_double(q, PICPQ_PLAN_SAFEGUARD, 0), PICPQ_OK);
    ck_assert_status(picpq_plan_compute(p, a, b, 0.5), PICPQ_OK);
    ck_assert_status(picpq_plan_budget(p, NULL, &cost), PICPQ_OK);
    ck_assert(cost == 72.0);
    expect_kept(p, 0, 16, k, 8);
    expect_kept(p, 1, 16, k, 8);
    ck_assert_status(picpq_plan_compute(p, a, b, 0.1), PICPQ_BUDGET_UNMET);
    expect_kept(p, 1, 16, k, 8);
    both[0] = p;
    both[1] = q;
    ck_assert_status(picpq_plan_compute_multi(both, 2, a, b, keep, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_plan_set_int(q, PICPQ_PLAN_ROUND_TO, 8), PICPQ_OK);
    ck_assert_status(picpq_plan_compute_multi(both, 2, a, b, keep, NULL), PICPQ_OK);
    expect_kept(q, 0, 16, k, 8);
    picpq_plan_free(p);
    picpq_plan_free(q);
    picpq_net_free(net);
}
END_TEST

/* Chain sums are checked too: two coupled layers with importances 3e38 sum
 * to infinity in float32 (faithful) but not in double (default). */
START_TEST(test_chain_sum_overflow)
{
    const double big[2] = {3e38, 1};
    picpq_net *net = NULL;
    picpq_plan *p = NULL;
    ck_assert_status(picpq_net_create(&net), PICPQ_OK);
    ck_assert_status(picpq_net_add_conv(net, 1, 2, 1, 1, 1, 1, 1, NULL), PICPQ_OK);
    ck_assert_status(picpq_net_add_conv(net, 1, 2, 1, 1, 1, 1, 1, NULL), PICPQ_OK);
    ck_assert_status(picpq_net_couple(net, 0, 1), PICPQ_OK);
    ck_assert_status(picpq_net_set_fp(net, 0, big, 2), PICPQ_OK);
    ck_assert_status(picpq_net_set_fp(net, 1, big, 2), PICPQ_OK);
    ck_assert_status(picpq_plan_create(net, &p), PICPQ_OK);
    ck_assert_status(picpq_plan_set_double(p, PICPQ_PLAN_SAFEGUARD, 0), PICPQ_OK);
    ck_assert_status(picpq_plan_compute(p, ones, zeros, 0.5), PICPQ_OK);
    ck_assert_status(picpq_plan_set_int(p, PICPQ_PLAN_FAITHFUL, 1), PICPQ_OK);
    ck_assert_status(picpq_plan_compute(p, ones, zeros, 0.5), PICPQ_E_NONFINITE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "chain of layer 0"));
    picpq_plan_free(p);
    picpq_net_free(net);
}
END_TEST

/* PICPQ_PLAN_CHECK_EVERY = 2 in the default mode on T5 (MACs after entries
 * 0, 1, 2 are 56, 52, 42): budget 52 is first met at the check after entry
 * 2, so the plan overshoots to 42 MACs; budget 56 is met after entry 0. */
START_TEST(test_check_every)
{
    picpq_net *net = t5_net();
    picpq_plan *p = NULL;
    double cost = 0;
    ck_assert_status(picpq_plan_create(net, &p), PICPQ_OK);
    ck_assert_status(picpq_plan_set_double(p, PICPQ_PLAN_SAFEGUARD, 0), PICPQ_OK);
    ck_assert_status(picpq_plan_set_int(p, PICPQ_PLAN_CHECK_EVERY, 2), PICPQ_OK);
    ck_assert_status(picpq_plan_compute(p, ones, zeros, 52.0 / 60), PICPQ_OK);
    ck_assert_status(picpq_plan_budget(p, NULL, &cost), PICPQ_OK);
    ck_assert(cost == 42.0);
    ck_assert_status(picpq_plan_compute(p, ones, zeros, 56.0 / 60), PICPQ_OK);
    ck_assert_status(picpq_plan_budget(p, NULL, &cost), PICPQ_OK);
    ck_assert(cost == 56.0);
    /* faithful with N = 2 and strict <: 56 < 56.5 after entry 0 */
    ck_assert_status(picpq_plan_set_int(p, PICPQ_PLAN_FAITHFUL, 1), PICPQ_OK);
    ck_assert_status(picpq_plan_compute(p, ones, zeros, 56.5 / 60), PICPQ_OK);
    ck_assert_status(picpq_plan_budget(p, NULL, &cost), PICPQ_OK);
    ck_assert(cost == 56.0);
    /* ... but not 56 < 56: the next check is after entry 2 */
    ck_assert_status(picpq_plan_compute(p, ones, zeros, 56.0 / 60), PICPQ_OK);
    ck_assert_status(picpq_plan_budget(p, NULL, &cost), PICPQ_OK);
    ck_assert(cost == 42.0);
    picpq_plan_free(p);
    picpq_net_free(net);
}
END_TEST

Suite *plan_suite(void)
{
    Suite *s = suite_create("plan");
    TCase *tc = tcase_create("setup");
    tcase_add_test(tc, test_create_errors);
    tcase_add_test(tc, test_allocation_failures);
    tcase_add_test(tc, test_params);
    tcase_add_test(tc, test_plan_key);
    suite_add_tcase(s, tc);
    tc = tcase_create("method");
    tcase_add_test(tc, test_t2_importance);
    tcase_add_test(tc, test_t3_quota);
    tcase_add_test(tc, test_t4_faithful_safeguard0);
    tcase_add_test(tc, test_t4_faithful_safeguard05);
    tcase_add_test(tc, test_t4_default);
    tcase_add_test(tc, test_t5_order);
    tcase_add_test(tc, test_t5_unmet);
    tcase_add_test(tc, test_chain_reduce);
    tcase_add_test(tc, test_faithful_float32_ties);
    tcase_add_test(tc, test_t11_budgets);
    tcase_add_test(tc, test_num_classes);
    tcase_add_test(tc, test_budget_params);
    tcase_add_test(tc, test_check_every);
    tcase_add_test(tc, test_round_to_quota);
    tcase_add_test(tc, test_round_to_budget);
    tcase_add_test(tc, test_round_to_chain);
    suite_add_tcase(s, tc);
    tc = tcase_create("nets");
    tcase_add_test(tc, test_status_iff_and_multi);
    tcase_add_test(tc, test_resnet_chain_consistency);
    tcase_add_test(tc, test_mobilenetv2_couplings);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, test_compute_errors);
    tcase_add_test(tc, test_keep_mask_errors);
    tcase_add_test(tc, test_chain_sum_overflow);
    suite_add_tcase(s, tc);
    return s;
}
