/* Reliability: hostile inputs (the defects of issue "every input hostile")
 * and allocation failure on every public call that allocates. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* ---- defects -------------------------------------------------------------- */

/* Two 3x3 convs 8 -> 8 -> 8 on 4x4 maps. */
static picpq_net *two_convs(void)
{
    picpq_net *net = NULL;
    int32_t id;
    ck_assert_status(picpq_net_create(&net), PICPQ_OK);
    ck_assert_status(picpq_net_add_conv(net, 8, 8, 3, 3, 1, 4, 4, &id), PICPQ_OK);
    ck_assert_status(picpq_net_add_conv(net, 8, 8, 3, 3, 1, 4, 4, &id), PICPQ_OK);
    return net;
}

/* A sparsity of 1e-17 puts τ/s beyond 2^53 once τ reaches the other layer's
 * breakpoints, where k + 1 == k: the solver used to spin there forever. The
 * TCase timeout turns a hang into a failure. */
START_TEST(test_solve_tiny_sparsity)
{
    picpq_net *net = two_convs();
    const double s[2] = {1e-17, 0.5};
    const int32_t B[2] = {8, 8};
    int32_t bits[2] = {-1, -1};
    double tau = -1;
    /* budget 1 BOP is unreachable: every layer ends at min_bits = 2, and the
     * last breakpoint walked is that of layer 1 losing its 6th bit, τ = 6·0.5 */
    ck_assert_status(picpq_quant_bits_solve(net, NULL, s, B, 2, 1.0, &tau, bits),
                     PICPQ_BUDGET_UNMET);
    ck_assert_int_eq(bits[0], 2);
    ck_assert_int_eq(bits[1], 2);
    ck_assert_double_eq(tau, 3.0);
    picpq_net_free(net);
}
END_TEST

/* The same quotients on the way to a budget that is met: any τ > 0 takes a
 * bit from layer 1 (8 - ⌈τ/0.5⌉), layer 0 is at 1 bit from τ = 7e-17 on
 * (min_bits 1), and layer 1 reaches 6 bits at τ = 2·0.5 = 1. The layers have
 * equal MACs, so {1, 6} bits cost (1 + 36)/(64 + 64) of the 8-bit BOPs and
 * {1, 7} cost (1 + 49)/128, over the budget. */
START_TEST(test_solve_tiny_sparsity_met)
{
    picpq_net *net = two_convs();
    const double s[2] = {1e-17, 0.5};
    const int32_t B[2] = {8, 8}, eight[2] = {8, 8};
    int32_t bits[2] = {-1, -1};
    double tau = -1, full;
    ck_assert_status(picpq_net_bops(net, eight, eight, &full), PICPQ_OK);
    ck_assert_status(picpq_quant_bits_solve(net, NULL, s, B, 1, full * 37.0 / 128.0, &tau, bits),
                     PICPQ_OK);
    ck_assert_int_eq(bits[0], 1);
    ck_assert_int_eq(bits[1], 6);
    ck_assert_double_eq(tau, 1.0);
    picpq_net_free(net);
}
END_TEST

/* codes may be NULL when n is 0 (documented); the 8-bit path used to pass it
 * to memcpy, which UBSan reports (make check-asan). */
START_TEST(test_pack_null_empty)
{
    uint8_t buf[1] = {0xAA};
    int8_t codes[1] = {5};
    size_t need = 99;
    int32_t bits;
    for (bits = 1; bits <= 8; bits++) {
        need = 99;
        ck_assert_status(picpq_quant_pack(NULL, 0, bits, buf, sizeof buf, &need), PICPQ_OK);
        ck_assert_uint_eq(need, 0);
        ck_assert_status(picpq_quant_pack(NULL, 0, bits, buf, 0, NULL), PICPQ_OK);
        ck_assert_status(picpq_quant_unpack(NULL, 0, bits, NULL, 0), PICPQ_OK);
        ck_assert_status(picpq_quant_unpack(buf, 0, bits, codes, 0), PICPQ_OK);
    }
    ck_assert_uint_eq(buf[0], 0xAA);
    ck_assert_int_eq(codes[0], 5);
}
END_TEST

/* Any NUL within len is a format error naming its line, wherever it sits. */
START_TEST(test_lub_nul)
{
    static const struct {
        const char *text;
        size_t len;
        const char *line;
    } cases[] = {
        {"1.5\0garbage 2\n3 4\n", 18, "line 1"}, {"1.5 2\0\n3 4\n", 11, "line 1"},
        {"1.5 2\n3 4\n\0", 11, "line 3"},        {"# c\0mment\n1.5 2\n3 4\n", 20, "line 1"},
        {"1 2\n\n3 4\0 \n", 11, "line 3"},       {"\0", 1, "line 1"},
    };
    picpq_net *net = two_convs();
    double a[2] = {-7, -7}, b[2] = {-7, -7};
    size_t i;
    for (i = 0; i < sizeof cases / sizeof *cases; i++) {
        ck_assert_status(picpq_lub_read(net, cases[i].text, cases[i].len, a, b, 2), PICPQ_E_FORMAT);
        ck_assert_msg(strstr(picpq_last_error(), cases[i].line) != NULL, "case %zu: %s", i,
                      picpq_last_error());
        ck_assert_msg(strstr(picpq_last_error(), "NUL") != NULL, "case %zu: %s", i,
                      picpq_last_error());
    }
    ck_assert_double_eq(a[0], -7);
    ck_assert_double_eq(b[1], -7);
    /* the same texts cut before the NUL are fine */
    ck_assert_status(picpq_lub_read(net, "1.5 2\n3 4\n\0", 10, a, b, 2), PICPQ_OK);
    ck_assert_double_eq(a[0], 1.5);
    ck_assert_double_eq(b[1], 4);
    picpq_net_free(net);
}
END_TEST

/* ---- allocation failure on every allocating call --------------------------- */

/* Everything a call of the table may need, its handles built with `al`. */
typedef struct fixture {
    test_alloc ta;
    picpq_allocator al;
    picpq_net *net;
    picpq_plan *plan, *plan2;
    picpq_search *search;
    picpq_ranker *rk;
    picpq_tensor *maps, *tensor, *out_tensor;
    unsigned char *blob; /* a saved state (malloc) */
    size_t blob_len;
    uint64_t id;
    float data[2 * 4 * 3 * 3];
} fixture;

#define FX_LAYERS 4

/* Three 3x3 convs (4, 5, 6 filters; the second frozen) and a classifier,
 * with filter properties on the prunable convs. */
static void fx_net(fixture *f)
{
    static const double fp0[4] = {0, 7, 3, 10}, fp2[6] = {1, 1.5, 4, 2, 8, 3};
    int32_t id;
    ck_assert_status(picpq_net_create_ex(&f->al, &f->net), PICPQ_OK);
    ck_assert_status(picpq_net_add_conv(f->net, 3, 4, 3, 3, 1, 8, 8, &id), PICPQ_OK);
    ck_assert_status(picpq_net_add_conv(f->net, 4, 5, 3, 3, 1, 8, 8, &id), PICPQ_OK);
    ck_assert_status(picpq_net_add_conv(f->net, 5, 6, 3, 3, 1, 8, 8, &id), PICPQ_OK);
    ck_assert_status(picpq_net_add_linear(f->net, 6, 10, &id), PICPQ_OK);
    ck_assert_status(picpq_net_set_prunable(f->net, 1, 0), PICPQ_OK);
    ck_assert_status(picpq_net_set_fp(f->net, 0, fp0, 4), PICPQ_OK);
    ck_assert_status(picpq_net_set_fp(f->net, 2, fp2, 6), PICPQ_OK);
}

static void fx_empty_net(fixture *f)
{
    ck_assert_status(picpq_net_create_ex(&f->al, &f->net), PICPQ_OK);
}

static void fx_two_convs(fixture *f)
{
    int32_t id;
    fx_empty_net(f);
    ck_assert_status(picpq_net_add_conv(f->net, 4, 4, 3, 3, 1, 8, 8, &id), PICPQ_OK);
    ck_assert_status(picpq_net_add_conv(f->net, 4, 4, 3, 3, 1, 8, 8, &id), PICPQ_OK);
}

static void fx_plans(fixture *f)
{
    fx_net(f);
    ck_assert_status(picpq_plan_create_ex(f->net, &f->al, &f->plan), PICPQ_OK);
    ck_assert_status(picpq_plan_create_ex(f->net, &f->al, &f->plan2), PICPQ_OK);
}

static void fx_search(fixture *f)
{
    fx_net(f);
    ck_assert_status(picpq_search_create_ex(f->net, 7, &f->al, &f->search), PICPQ_OK);
    ck_assert_status(picpq_search_set_int(f->search, PICPQ_SEARCH_POPULATION, 2), PICPQ_OK);
}

/* A search with its whole first generation told, so that the next tell
 * closes a generation too. */
static void fx_search_asked(fixture *f)
{
    double a[FX_LAYERS], b[FX_LAYERS];
    fx_search(f);
    ck_assert_status(picpq_search_ask(f->search, &f->id, a, b, FX_LAYERS), PICPQ_OK);
    ck_assert_status(picpq_search_tell(f->search, f->id, 1.0), PICPQ_OK);
    ck_assert_status(picpq_search_ask(f->search, &f->id, a, b, FX_LAYERS), PICPQ_OK);
}

static void fx_search_blob(fixture *f)
{
    size_t need;
    fx_search_asked(f);
    ck_assert_status(picpq_search_save(f->search, NULL, 0, &need), PICPQ_OK);
    f->blob = malloc(need);
    ck_assert_status(picpq_search_save(f->search, f->blob, need, &f->blob_len), PICPQ_OK);
    picpq_search_free(f->search);
    f->search = NULL;
}

static void fx_maps(fixture *f, int64_t channels)
{
    int64_t shape[4] = {2, 0, 3, 3}, i;
    shape[1] = channels;
    for (i = 0; i < 2 * channels * 9; i++) f->data[i] = (float)((i * 37) % 11) - 5.0f;
    ck_assert_status(picpq_tensor_wrap(f->data, PICPQ_F32, 4, shape, NULL, &f->maps), PICPQ_OK);
}

static void fx_ranker(fixture *f)
{
    static const int64_t ch[FX_LAYERS] = {4, 5, 6, 10};
    fx_net(f);
    fx_maps(f, 4);
    ck_assert_status(picpq_ranker_create_ex(FX_LAYERS, ch, &f->al, &f->rk), PICPQ_OK);
}

static void fx_ranker_fed(fixture *f)
{
    fx_ranker(f);
    ck_assert_status(picpq_ranker_feed(f->rk, 0, f->maps), PICPQ_OK);
}

static void fx_ranker_blob(fixture *f)
{
    size_t need;
    fx_ranker_fed(f);
    ck_assert_status(picpq_ranker_save(f->rk, NULL, 0, &need), PICPQ_OK);
    f->blob = malloc(need);
    ck_assert_status(picpq_ranker_save(f->rk, f->blob, need, &f->blob_len), PICPQ_OK);
    picpq_ranker_free(f->rk);
    f->rk = NULL;
}

static void fx_tensor(fixture *f)
{
    const int64_t shape[2] = {6, 5};
    ck_assert_status(picpq_tensor_create_ex(PICPQ_F32, 2, shape, &f->al, &f->tensor), PICPQ_OK);
}

static void fx_free(fixture *f)
{
    picpq_tensor_free(f->out_tensor);
    picpq_tensor_free(f->tensor);
    picpq_tensor_free(f->maps);
    picpq_search_free(f->search);
    picpq_plan_free(f->plan);
    picpq_plan_free(f->plan2);
    picpq_ranker_free(f->rk);
    picpq_net_free(f->net);
    free(f->blob);
}

static const double fx_a[FX_LAYERS] = {1, 1, 2, 1}, fx_b[FX_LAYERS] = {0, 0, 0.5, 0};

static picpq_status call_net_create(fixture *f)
{
    return picpq_net_create_ex(&f->al, &f->net);
}
static picpq_status call_add_conv(fixture *f)
{
    int32_t id;
    return picpq_net_add_conv(f->net, 4, 4, 3, 3, 1, 8, 8, &id);
}
static picpq_status call_add_linear(fixture *f)
{
    int32_t id;
    return picpq_net_add_linear(f->net, 4, 10, &id);
}
static picpq_status call_connect(fixture *f)
{
    return picpq_net_connect(f->net, 0, 1);
}
static picpq_status call_couple(fixture *f)
{
    return picpq_net_couple(f->net, 0, 1);
}
static picpq_status call_set_fp(fixture *f)
{
    static const double fp[4] = {1, 2, 3, 4};
    return picpq_net_set_fp(f->net, 1, fp, 4);
}
static picpq_status call_plan_create(fixture *f)
{
    return picpq_plan_create_ex(f->net, &f->al, &f->plan);
}
static picpq_status call_plan_compute(fixture *f)
{
    return picpq_plan_compute(f->plan, fx_a, fx_b, 0.6);
}
static picpq_status call_plan_multi(fixture *f)
{
    picpq_plan *plans[2];
    const double keep[2] = {0.6, 0.9};
    plans[0] = f->plan;
    plans[1] = f->plan2;
    return picpq_plan_compute_multi(plans, 2, fx_a, fx_b, keep, NULL);
}
static picpq_status call_search_create(fixture *f)
{
    return picpq_search_create_ex(f->net, 7, &f->al, &f->search);
}
static picpq_status call_search_ask(fixture *f)
{
    double a[FX_LAYERS], b[FX_LAYERS];
    return picpq_search_ask(f->search, &f->id, a, b, FX_LAYERS);
}
static picpq_status call_search_tell(fixture *f)
{
    return picpq_search_tell(f->search, f->id, 0.5);
}
static picpq_status call_search_save(fixture *f)
{
    unsigned char buf[4096];
    size_t need;
    return picpq_search_save(f->search, buf, sizeof buf, &need);
}
static picpq_status call_search_load(fixture *f)
{
    return picpq_search_load_ex(f->net, f->blob, f->blob_len, &f->al, &f->search);
}
static picpq_status call_ranker_create(fixture *f)
{
    static const int64_t ch[FX_LAYERS] = {4, 5, 6, 10};
    return picpq_ranker_create_ex(FX_LAYERS, ch, &f->al, &f->rk);
}
static picpq_status call_ranker_feed(fixture *f)
{
    return picpq_ranker_feed(f->rk, 0, f->maps);
}
static picpq_status call_ranker_fp_to_net(fixture *f)
{
    return picpq_ranker_fp_to_net(f->rk, f->net);
}
static picpq_status call_ranker_merge(fixture *f)
{
    return picpq_ranker_merge(f->rk, f->rk);
}
static picpq_status call_ranker_save(fixture *f)
{
    unsigned char buf[4096];
    size_t need;
    return picpq_ranker_save(f->rk, buf, sizeof buf, &need);
}
static picpq_status call_ranker_load(fixture *f)
{
    return picpq_ranker_load_ex(f->blob, f->blob_len, &f->al, &f->rk);
}
static picpq_status call_tensor_create(fixture *f)
{
    const int64_t shape[2] = {6, 5};
    return picpq_tensor_create_ex(PICPQ_F32, 2, shape, &f->al, &f->tensor);
}
static picpq_status call_ranker_create_for_net(fixture *f)
{
    return picpq_ranker_create_for_net(f->net, &f->rk);
}
static picpq_status call_tensor_copy(fixture *f)
{
    return picpq_tensor_copy(f->tensor, PICPQ_F64, &f->out_tensor);
}
static picpq_status call_tensor_view(fixture *f)
{
    return picpq_tensor_view(f->tensor, 0, 1, 3, &f->out_tensor);
}

/* A fresh fixture, built with a working allocator. */
static void fx_init(fixture *f, void (*setup)(fixture *))
{
    memset(f, 0, sizeof *f);
    f->al = test_alloc_make(&f->ta, 0);
    if (setup) setup(f);
}

typedef struct alloc_case {
    const char *name;
    void (*setup)(fixture *);
    picpq_status (*call)(fixture *);
    /* allocations the call makes: 0 for calls documented or designed not to
     * allocate, whose row proves that they never will */
    int allocates;
    /* the call may keep a buffer it grew before a later allocation failed:
     * capacity the handle owns and frees, not a leak (search_ask's reserve) */
    int keeps_capacity;
} alloc_case;

static const alloc_case alloc_cases[] = {
    {"net_create_ex", NULL, call_net_create, 1, 0},
    {"net_add_conv", fx_empty_net, call_add_conv, 1, 0},
    {"net_add_linear", fx_empty_net, call_add_linear, 1, 0},
    {"net_connect", fx_two_convs, call_connect, 0, 0},
    {"net_couple", fx_two_convs, call_couple, 0, 0},
    {"net_set_fp", fx_two_convs, call_set_fp, 1, 0},
    {"plan_create_ex", fx_net, call_plan_create, 1, 0},
    {"plan_compute", fx_plans, call_plan_compute, 0, 0},
    {"plan_compute_multi", fx_plans, call_plan_multi, 0, 0},
    {"search_create_ex", fx_net, call_search_create, 1, 0},
    {"search_ask", fx_search, call_search_ask, 1, 1},
    {"search_tell", fx_search_asked, call_search_tell, 0, 0},
    {"search_save", fx_search_asked, call_search_save, 0, 0},
    {"search_load_ex", fx_search_blob, call_search_load, 1, 0},
    {"ranker_create_ex", NULL, call_ranker_create, 1, 0},
    {"ranker_create_for_net", fx_net, call_ranker_create_for_net, 1, 0},
    {"ranker_feed", fx_ranker, call_ranker_feed, 1, 0},
    {"ranker_fp_to_net", fx_ranker_fed, call_ranker_fp_to_net, 1, 0},
    {"ranker_merge", fx_ranker_fed, call_ranker_merge, 0, 0},
    {"ranker_save", fx_ranker_fed, call_ranker_save, 0, 0},
    {"ranker_load_ex", fx_ranker_blob, call_ranker_load, 1, 0},
    {"tensor_create_ex", NULL, call_tensor_create, 1, 0},
    {"tensor_view", fx_tensor, call_tensor_view, 1, 0},
    {"tensor_copy", fx_tensor, call_tensor_copy, 1, 0},
};

/* Fail the k-th allocation of the call for k = 1, 2, ... until it succeeds:
 * each failure is a clean NOMEM with a message, frees what the call took
 * (live blocks as before it), and leaves the handles usable: with the
 * allocator working again the same call succeeds and everything frees. */
START_TEST(test_alloc_failure_every_call)
{
    const alloc_case *c = &alloc_cases[_i];
    long k;
    for (k = 1;; k++) {
        fixture f;
        long calls0, live0;
        picpq_status st;
        fx_init(&f, c->setup);
        calls0 = f.ta.calls;
        live0 = f.ta.live;
        f.ta.fail_at = calls0 + k;
        st = c->call(&f);
        if (st == PICPQ_OK) {
            ck_assert_str_eq(picpq_last_error(), "");
            /* `allocates` rows made k - 1 allocations fail first */
            ck_assert_msg(c->allocates ? k > 1 : k == 1, "%s: %ld allocation(s) failed", c->name,
                          k - 1);
            if (!c->allocates) ck_assert_int_eq(f.ta.calls, calls0);
            fx_free(&f);
            ck_assert_msg(f.ta.live == 0, "%s: %ld blocks leaked", c->name, f.ta.live);
            break;
        }
        ck_assert_msg(st == PICPQ_E_NOMEM, "%s, allocation %ld failed: status %d (%s)", c->name, k,
                      st, picpq_last_error());
        ck_assert_str_ne(picpq_last_error(), "");
        ck_assert_msg(f.ta.live == live0 || (c->keeps_capacity && f.ta.live > live0),
                      "%s, allocation %ld failed: %ld blocks live, %ld before", c->name, k,
                      f.ta.live, live0);
        f.ta.fail_at = 0;
        ck_assert_msg(c->call(&f) == PICPQ_OK, "%s unusable after allocation %ld failed: %s",
                      c->name, k, picpq_last_error());
        fx_free(&f);
        ck_assert_msg(f.ta.live == 0, "%s: %ld blocks leaked", c->name, f.ta.live);
    }
}
END_TEST

Suite *reliability_suite(void)
{
    Suite *s = suite_create("reliability");
    TCase *tc = tcase_create("defects");
    /* a regression of the solver hang must fail fast, not stall the suite */
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_solve_tiny_sparsity);
    tcase_add_test(tc, test_solve_tiny_sparsity_met);
    tcase_add_test(tc, test_pack_null_empty);
    tcase_add_test(tc, test_lub_nul);
    suite_add_tcase(s, tc);
    tc = tcase_create("alloc");
    tcase_add_loop_test(tc, test_alloc_failure_every_call, 0,
                        (int)(sizeof alloc_cases / sizeof *alloc_cases));
    suite_add_tcase(s, tc);
    return s;
}
