/* Network description and cost model: layers, connections, couplings,
 * validation, MACs/params/BOPs against METHOD §5.1, §10, §11.3 and T10. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "testutil.h"
#include "reference_nets.h"

/* Build a fixture by index: 0 ResNet-56, 1 VGG-16, 2 MobileNetV2. */
static picpq_net *make_fixture(int which)
{
    picpq_net *net = NULL;
    ck_assert_status(picpq_net_create(&net), PICPQ_OK);
    if (which == 0) ck_assert_status(fixture_resnet56(net, 10), PICPQ_OK);
    if (which == 1) ck_assert_status(fixture_vgg16(net), PICPQ_OK);
    if (which == 2) ck_assert_status(fixture_mobilenetv2(net), PICPQ_OK);
    ck_assert_status(picpq_net_validate(net), PICPQ_OK);
    return net;
}

/* Keep the first k of n filters of a layer. */
static void keep_first(picpq_plan *p, int32_t layer, int64_t n, int64_t k)
{
    uint8_t mask[2048];
    int64_t j;
    for (j = 0; j < n; j++) mask[j] = j < k;
    ck_assert_status(picpq_plan_set_keep_mask(p, layer, mask, n), PICPQ_OK);
}

START_TEST(test_create_and_accessors)
{
    picpq_net *net = NULL;
    int32_t c = -1, l = -1;
    int64_t in = 0, out = 0;
    picpq_layer_kind kind = 0;
    int prunable = -1;
    ck_assert_status(picpq_net_create(&net), PICPQ_OK);
    ck_assert_int_eq(picpq_net_num_layers(net), 0);
    ck_assert_int_eq(picpq_net_num_layers(NULL), 0);
    ck_assert_status(picpq_net_add_conv(net, 3, 16, 3, 3, 1, 32, 32, &c), PICPQ_OK);
    ck_assert_status(picpq_net_add_linear(net, 16, 10, &l), PICPQ_OK);
    ck_assert_int_eq(c, 0);
    ck_assert_int_eq(l, 1);
    ck_assert_status(picpq_net_layer_kind(net, 1, &kind), PICPQ_OK);
    ck_assert_int_eq(kind, PICPQ_LAYER_LINEAR);
    ck_assert_status(picpq_net_layer_channels(net, 0, &in, &out), PICPQ_OK);
    ck_assert_int_eq(in, 3);
    ck_assert_int_eq(out, 16);
    ck_assert_status(picpq_net_layer_channels(net, 1, NULL, NULL), PICPQ_OK);
    ck_assert_status(picpq_net_is_prunable(net, 0, &prunable), PICPQ_OK);
    ck_assert_int_eq(prunable, 1);
    ck_assert_status(picpq_net_is_prunable(net, 1, &prunable), PICPQ_OK);
    ck_assert_int_eq(prunable, 0);
    ck_assert_status(picpq_net_set_prunable(net, 0, 0), PICPQ_OK);
    ck_assert_status(picpq_net_is_prunable(net, 0, &prunable), PICPQ_OK);
    ck_assert_int_eq(prunable, 0);
    ck_assert_status(picpq_net_layer_kind(net, 2, &kind), PICPQ_E_OUT_OF_RANGE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "layer 2"));
    ck_assert_status(picpq_net_layer_kind(NULL, 0, &kind), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_net_layer_kind(net, 0, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_net_layer_channels(net, -1, &in, &out), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_net_layer_channels(NULL, 0, &in, &out), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_net_is_prunable(net, 5, &prunable), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_net_is_prunable(net, 0, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_net_is_prunable(NULL, 0, &prunable), PICPQ_E_INVALID_ARG);
    picpq_net_free(net);
    picpq_net_free(NULL);
}
END_TEST

START_TEST(test_create_errors)
{
    picpq_allocator half = {NULL, NULL, NULL};
    picpq_net *net = (picpq_net *)&net;
    ck_assert_status(picpq_net_create(NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_net_create_ex(&half, &net), PICPQ_E_INVALID_ARG);
    ck_assert_ptr_null(net);
}
END_TEST

/* Building a 20-layer net (two growths of the layer array) with scores
 * fails cleanly at every allocation: the failing call leaves the net as it
 * was and nothing leaks. */
START_TEST(test_allocation_failures)
{
    const double fp[4] = {1, 2, 3, 4};
    long n;
    for (n = 1;; n++) {
        test_alloc ta;
        picpq_allocator a = test_alloc_make(&ta, n);
        picpq_net *net = (picpq_net *)&n;
        picpq_status s = picpq_net_create_ex(&a, &net);
        int i;
        if (s != PICPQ_OK) {
            ck_assert_int_eq(s, PICPQ_E_NOMEM);
            ck_assert_ptr_null(net);
            ck_assert_int_eq(ta.live, 0);
            continue;
        }
        for (i = 0; i < 20 && s == PICPQ_OK; i++) {
            s = picpq_net_add_conv(net, 4, 4, 3, 3, 1, 8, 8, NULL);
            if (s != PICPQ_OK) ck_assert_int_eq(picpq_net_num_layers(net), i);
        }
        if (s == PICPQ_OK) {
            double before[4] = {0};
            s = picpq_net_set_fp(net, 3, fp, 4);
            if (s != PICPQ_OK) ck_assert_status(picpq_net_fp(net, 3, before, 4), PICPQ_E_BAD_STATE);
        }
        picpq_net_free(net);
        ck_assert_int_eq(ta.live, 0);
        if (s == PICPQ_OK) break;
        ck_assert_int_eq(s, PICPQ_E_NOMEM);
    }
    ck_assert_int_eq(n, 6); /* handle, 8 layers, 16, 32, scores, then success */
}
END_TEST

START_TEST(test_add_errors)
{
    picpq_net *net = NULL;
    int32_t id = -7;
    ck_assert_status(picpq_net_create(&net), PICPQ_OK);
    ck_assert_status(picpq_net_add_conv(NULL, 3, 16, 3, 3, 1, 32, 32, &id), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_net_add_conv(net, 0, 16, 3, 3, 1, 32, 32, &id), PICPQ_E_OUT_OF_RANGE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "in_ch"));
    ck_assert_status(picpq_net_add_conv(net, 3, 16, 3, -3, 1, 32, 32, &id), PICPQ_E_OUT_OF_RANGE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "kw"));
    ck_assert_status(picpq_net_add_conv(net, 3, 16, 3, 3, 1, 32, 0, &id), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_net_add_conv(net, 6, 16, 3, 3, 4, 32, 32, &id), PICPQ_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "layer 0"));
    ck_assert_status(picpq_net_add_conv(net, INT64_MAX / 2, 4, 3, 3, 1, 32, 32, &id),
                     PICPQ_E_OVERFLOW);
    ck_assert_status(picpq_net_add_linear(NULL, 3, 4, &id), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_net_add_linear(net, 3, 0, &id), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_net_add_linear(net, INT64_MAX / 4, 4, &id), PICPQ_E_OVERFLOW);
    ck_assert_int_eq(id, -7);
    ck_assert_int_eq(picpq_net_num_layers(net), 0);
    /* each layer fits, but the net's total BOPs (x1024) would not */
    ck_assert_status(picpq_net_add_linear(net, INT64_MAX / 1024 + 1, 1, &id), PICPQ_E_OVERFLOW);
    ck_assert_status(picpq_net_add_linear(net, INT64_MAX / 1536, 1, &id), PICPQ_OK);
    ck_assert_status(picpq_net_add_linear(net, INT64_MAX / 1536, 1, NULL), PICPQ_E_OVERFLOW);
    ck_assert_int_eq(picpq_net_num_layers(net), 1);
    picpq_net_free(net);
}
END_TEST

START_TEST(test_connect_couple_errors)
{
    picpq_net *net = NULL;
    ck_assert_status(picpq_net_create(&net), PICPQ_OK);
    ck_assert_status(picpq_net_add_conv(net, 3, 8, 3, 3, 1, 8, 8, NULL), PICPQ_OK); /* 0 */
    ck_assert_status(picpq_net_add_conv(net, 8, 8, 3, 3, 1, 8, 8, NULL), PICPQ_OK); /* 1 */
    ck_assert_status(picpq_net_add_conv(net, 4, 8, 3, 3, 1, 8, 8, NULL), PICPQ_OK); /* 2 */
    ck_assert_status(picpq_net_add_linear(net, 8 * 16, 10, NULL), PICPQ_OK);        /* 3 */
    ck_assert_status(picpq_net_add_linear(net, 12, 10, NULL), PICPQ_OK);            /* 4 */
    ck_assert_status(picpq_net_connect(NULL, 0, 1), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_net_connect(net, 0, 5), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_net_connect(net, -1, 1), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_net_connect(net, 1, 1), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_net_connect(net, 0, 2), PICPQ_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "0 -> 2"));
    ck_assert_status(picpq_net_connect(net, 1, 4), PICPQ_E_SHAPE); /* 12 not a multiple of 8 */
    ck_assert_status(picpq_net_connect(net, 0, 1), PICPQ_OK);
    ck_assert_status(picpq_net_connect(net, 1, 3), PICPQ_OK); /* 16 positions per channel */
    ck_assert_status(picpq_net_connect(net, 2, 1), PICPQ_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "already fed by layer 0"));
    ck_assert_status(picpq_net_couple(NULL, 0, 1), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_net_couple(net, 0, 3), PICPQ_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "layer 3"));
    ck_assert_status(picpq_net_couple(net, 0, 9), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_net_couple(net, 0, 0), PICPQ_OK);
    ck_assert_status(picpq_net_couple(net, 0, 2), PICPQ_OK);
    ck_assert_status(picpq_net_couple(net, 2, 0), PICPQ_OK);
    ck_assert_status(picpq_net_validate(net), PICPQ_OK);
    picpq_net_free(net);
}
END_TEST

START_TEST(test_prunable_and_scores)
{
    const double fp[4] = {3, 1, 4, 2}, bad[4] = {3, NAN, 4, 2};
    double got[4] = {0};
    picpq_net *net = NULL;
    ck_assert_status(picpq_net_create(&net), PICPQ_OK);
    ck_assert_status(picpq_net_add_conv(net, 3, 4, 3, 3, 1, 8, 8, NULL), PICPQ_OK);
    ck_assert_status(picpq_net_add_linear(net, 4, 10, NULL), PICPQ_OK);
    ck_assert_status(picpq_net_set_prunable(net, 1, 1), PICPQ_E_UNSUPPORTED);
    ck_assert_status(picpq_net_set_prunable(net, 1, 0), PICPQ_OK);
    ck_assert_status(picpq_net_set_prunable(net, 0, 2), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_net_set_prunable(net, 2, 1), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_net_set_prunable(NULL, 0, 1), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_net_fp(net, 0, got, 4), PICPQ_E_BAD_STATE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "layer 0"));
    ck_assert_status(picpq_net_set_fp(net, 0, fp, 3), PICPQ_E_SHAPE);
    ck_assert_status(picpq_net_set_fp(net, 0, bad, 4), PICPQ_E_NONFINITE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "fp[1]"));
    ck_assert_status(picpq_net_set_fp(net, 0, NULL, 4), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_net_set_fp(NULL, 0, fp, 4), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_net_set_fp(net, 3, fp, 4), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_net_set_fp(net, 0, fp, 4), PICPQ_OK);
    ck_assert_status(picpq_net_set_fp(net, 0, fp, 4), PICPQ_OK); /* overwrite */
    ck_assert_status(picpq_net_fp(net, 0, got, 4), PICPQ_OK);
    ck_assert(memcmp(got, fp, sizeof fp) == 0);
    ck_assert_status(picpq_net_fp(net, 0, got, 5), PICPQ_E_SHAPE);
    ck_assert_status(picpq_net_fp(net, 0, NULL, 4), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_net_fp(NULL, 0, got, 4), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_net_fp(net, 9, got, 4), PICPQ_E_OUT_OF_RANGE);
    picpq_net_free(net);
}
END_TEST

START_TEST(test_params_int)
{
    picpq_net *net = NULL;
    int64_t v = -1;
    ck_assert_status(picpq_net_create(&net), PICPQ_OK);
    ck_assert_status(picpq_net_get_int(net, PICPQ_NET_BOPS_SKIP_FIRST, &v), PICPQ_OK);
    ck_assert_int_eq(v, 0);
    ck_assert_status(picpq_net_set_int(net, PICPQ_NET_BOPS_DENSE_DEPTHWISE, 1), PICPQ_OK);
    ck_assert_status(picpq_net_get_int(net, PICPQ_NET_BOPS_DENSE_DEPTHWISE, &v), PICPQ_OK);
    ck_assert_int_eq(v, 1);
    ck_assert_status(picpq_net_set_int(net, PICPQ_NET_BOPS_LINEAR_UNPRUNED, 1), PICPQ_OK);
    ck_assert_status(picpq_net_get_int(net, PICPQ_NET_BOPS_LINEAR_UNPRUNED, &v), PICPQ_OK);
    ck_assert_int_eq(v, 1);
    ck_assert_status(picpq_net_get_int(net, PICPQ_NET_BOPS_SKIP_FIRST, &v), PICPQ_OK);
    ck_assert_int_eq(v, 0);
    ck_assert_status(picpq_net_set_int(net, PICPQ_NET_BOPS_SKIP_FIRST, 2), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_net_set_int(net, PICPQ_PLAN_FAITHFUL, 1), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_net_set_int(NULL, PICPQ_NET_BOPS_SKIP_FIRST, 1), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_net_get_int(net, PICPQ_PLAN_FAITHFUL, &v), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_net_get_int(net, PICPQ_NET_BOPS_SKIP_FIRST, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_net_get_int(NULL, PICPQ_NET_BOPS_SKIP_FIRST, &v), PICPQ_E_INVALID_ARG);
    picpq_net_free(net);
}
END_TEST

START_TEST(test_validate_errors)
{
    picpq_net *net = NULL;
    /* a cycle: 0 -> 1 -> 0 */
    ck_assert_status(picpq_net_create(&net), PICPQ_OK);
    ck_assert_status(picpq_net_add_conv(net, 8, 8, 3, 3, 1, 8, 8, NULL), PICPQ_OK);
    ck_assert_status(picpq_net_add_conv(net, 8, 8, 3, 3, 1, 8, 8, NULL), PICPQ_OK);
    ck_assert_status(picpq_net_connect(net, 0, 1), PICPQ_OK);
    ck_assert_status(picpq_net_validate(net), PICPQ_OK);
    ck_assert_status(picpq_net_connect(net, 1, 0), PICPQ_OK);
    ck_assert_status(picpq_net_validate(net), PICPQ_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "cycle"));
    picpq_net_free(net);
    /* a depthwise conv not coupled to its producer; then coupled but one
     * member not prunable */
    ck_assert_status(picpq_net_create(&net), PICPQ_OK);
    ck_assert_status(picpq_net_add_conv(net, 3, 8, 1, 1, 1, 8, 8, NULL), PICPQ_OK);
    ck_assert_status(picpq_net_add_conv(net, 8, 8, 3, 3, 8, 8, 8, NULL), PICPQ_OK);
    ck_assert_status(picpq_net_connect(net, 0, 1), PICPQ_OK);
    ck_assert_status(picpq_net_validate(net), PICPQ_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "depthwise layer 1"));
    ck_assert_status(picpq_net_couple(net, 0, 1), PICPQ_OK);
    ck_assert_status(picpq_net_validate(net), PICPQ_OK);
    ck_assert_status(picpq_net_set_prunable(net, 1, 0), PICPQ_OK);
    ck_assert_status(picpq_net_validate(net), PICPQ_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "disagree"));
    picpq_net_free(net);
    /* a grouped (non-depthwise) conv fed by a prunable layer */
    ck_assert_status(picpq_net_create(&net), PICPQ_OK);
    ck_assert_status(picpq_net_add_conv(net, 3, 8, 1, 1, 1, 8, 8, NULL), PICPQ_OK);
    ck_assert_status(picpq_net_add_conv(net, 8, 8, 3, 3, 2, 8, 8, NULL), PICPQ_OK);
    ck_assert_status(picpq_net_connect(net, 0, 1), PICPQ_OK);
    ck_assert_status(picpq_net_set_prunable(net, 1, 0), PICPQ_OK);
    ck_assert_status(picpq_net_validate(net), PICPQ_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "grouped conv 1"));
    ck_assert_status(picpq_net_set_prunable(net, 0, 0), PICPQ_OK);
    ck_assert_status(picpq_net_validate(net), PICPQ_OK);
    picpq_net_free(net);
    ck_assert_status(picpq_net_validate(NULL), PICPQ_E_INVALID_ARG);
}
END_TEST

/* METHOD §5.1 / T10: unpruned MACs; §10: full-precision BOPs (= MACs x 1024)
 * under the code's counters. Params are conv kh*kw*in/groups*out + FC
 * in*out, computed by hand from the architecture tables:
 * ResNet-56 = 848,944 (stem 432, 9x2 blocks of 2304/9216/36864 per stage
 * with the two 4608/18432 stride convs, FC 640); VGG-16 = 14,977,728. */
START_TEST(test_reference_totals)
{
    picpq_net *net;
    double macs = 0, params = 0, bops = 0;

    net = make_fixture(0);
    ck_assert_int_eq(picpq_net_num_layers(net), 56);
    ck_assert_status(picpq_net_macs(net, &macs), PICPQ_OK);
    ck_assert(macs == 125485696.0);
    ck_assert_status(picpq_net_params(net, &params), PICPQ_OK);
    ck_assert(params == 848944.0);
    ck_assert_status(picpq_net_bops(net, NULL, NULL, &bops), PICPQ_OK);
    ck_assert(bops == 128497352704.0);
    picpq_net_free(net);

    net = make_fixture(1);
    ck_assert_int_eq(picpq_net_num_layers(net), 15);
    ck_assert_status(picpq_net_macs(net, &macs), PICPQ_OK);
    ck_assert(macs == 313463808.0);
    ck_assert_status(picpq_net_params(net, &params), PICPQ_OK);
    ck_assert(params == 14977728.0);
    ck_assert_status(picpq_net_bops(net, NULL, NULL, &bops), PICPQ_OK);
    ck_assert(bops == 320986939392.0); /* counting conv0 */
    ck_assert_status(picpq_net_set_int(net, PICPQ_NET_BOPS_SKIP_FIRST, 1), PICPQ_OK);
    ck_assert_status(picpq_net_bops(net, NULL, NULL, &bops), PICPQ_OK);
    ck_assert(bops == 319175000064.0); /* the code's counter */
    picpq_net_free(net);

    net = make_fixture(2);
    ck_assert_int_eq(picpq_net_num_layers(net), 53);
    ck_assert_status(picpq_net_macs(net, &macs), PICPQ_OK);
    ck_assert(macs == 265806848.0);
    ck_assert_status(picpq_net_bops(net, NULL, NULL, &bops), PICPQ_OK);
    ck_assert(bops == 272186212352.0); /* depthwise counted correctly */
    ck_assert_status(picpq_net_set_int(net, PICPQ_NET_BOPS_DENSE_DEPTHWISE, 1), PICPQ_OK);
    ck_assert_status(picpq_net_bops(net, NULL, NULL, &bops), PICPQ_OK);
    ck_assert(bops == 5645228048384.0); /* the code's counter */
    picpq_net_free(net);
}
END_TEST

/* METHOD §16 widths of MobileNetV2 by layer index. */
START_TEST(test_mobilenetv2_widths)
{
    static const int64_t widths[52] = {
        32,  32,  16, 96,  96,  24,  144, 144, 24,  144, 144, 32,  192, 192, 32,  192, 192, 32,
        192, 192, 64, 384, 384, 64,  384, 384, 64,  384, 384, 64,  384, 384, 96,  576, 576, 96,
        576, 576, 96, 576, 576, 160, 960, 960, 160, 960, 960, 160, 960, 960, 320, 1280};
    picpq_net *net = make_fixture(2);
    int32_t l;
    for (l = 0; l < 52; l++) {
        int64_t out = 0;
        ck_assert_status(picpq_net_layer_channels(net, l, NULL, &out), PICPQ_OK);
        ck_assert_int_eq(out, widths[l]);
    }
    picpq_net_free(net);
}
END_TEST

/* METHOD §11.3 / T10, VGG example: kept n', C0 bits, conv FLOPs 108,846,144
 * (+ FC 52*512 + 512*10 = 31,744 planned) and BOPs 4,416,696,576 with the
 * code's counter (conv0 skipped, FC at declared size, own bit twice). */
START_TEST(test_vgg_fixture_11_3)
{
    static const int64_t width[13] = {64,  64,  128, 128, 256, 256, 256,
                                      512, 512, 512, 512, 512, 512};
    static const int64_t kept[13] = {64, 64, 13, 128, 256, 26, 256, 512, 52, 512, 512, 52, 52};
    static const int32_t bits[15] = {32, 8, 6, 8, 6, 4, 6, 4, 2, 4, 4, 2, 2, 32, 32};
    picpq_net *net = make_fixture(1);
    picpq_plan *plan = NULL;
    double macs = 0, bops = 0;
    int64_t k = 0;
    int32_t l;
    ck_assert_status(picpq_net_set_int(net, PICPQ_NET_BOPS_SKIP_FIRST, 1), PICPQ_OK);
    ck_assert_status(picpq_net_set_int(net, PICPQ_NET_BOPS_LINEAR_UNPRUNED, 1), PICPQ_OK);
    ck_assert_status(picpq_plan_create(net, &plan), PICPQ_OK);
    for (l = 0; l < 13; l++) keep_first(plan, l, width[l], kept[l]);
    ck_assert_status(picpq_plan_kept(plan, 11, &k), PICPQ_OK);
    ck_assert_int_eq(k, 52);
    ck_assert_status(picpq_plan_macs(plan, &macs), PICPQ_OK);
    ck_assert(macs == 108846144.0 + 31744.0);
    ck_assert_status(picpq_plan_bops(plan, bits, bits, &bops), PICPQ_OK);
    ck_assert(bops == 4416696576.0);
    picpq_plan_free(plan);
    picpq_net_free(net);
}
END_TEST

/* METHOD §11.3 / T10, ResNet-56 example: floor-pruned conv1 layers, FLOPs
 * 60,162,688 (FC included) and BOPs 2,868,969,472 with the C0 bits. */
START_TEST(test_resnet_fixture_11_3)
{
    static const int32_t bits[56] = {32, 6, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 6, 8, 6, 8, 8, 8,
                                     4,  6, 4, 6, 4, 6, 4, 6, 4, 6, 4, 6, 4, 6, 4, 6, 4, 6, 4,
                                     4,  4, 4, 4, 4, 2, 4, 2, 4, 4, 4, 4, 4, 2, 4, 2, 4, 32};
    picpq_net *net = make_fixture(0);
    picpq_plan *plan = NULL;
    double macs = 0, bops = 0;
    int32_t l;
    ck_assert_status(picpq_plan_create(net, &plan), PICPQ_OK);
    for (l = 1; l < 55; l += 2) {
        int64_t width = l < 19 ? 16 : l < 37 ? 32 : 64, k = width;
        if (l == 1 || l == 13 || l == 15) k = 2;
        if (l >= 19 && l <= 35) k = 4;
        if (l == 43 || l == 45 || l == 51 || l == 53) k = 7;
        keep_first(plan, l, width, k);
    }
    ck_assert_status(picpq_plan_macs(plan, &macs), PICPQ_OK);
    ck_assert(macs == 60162688.0);
    ck_assert_status(picpq_plan_bops(plan, bits, bits, &bops), PICPQ_OK);
    ck_assert(bops == 2868969472.0);
    picpq_plan_free(plan);
    picpq_net_free(net);
}
END_TEST

/* Planned costs by hand on a small net: conv0 3->4 (3x3 at 8x8), depthwise
 * conv1 coupled to it, conv2 4->6 (1x1 at 8x8), FC fed by conv2 over 4
 * positions per channel (24 -> 10). Keep 2 of conv0/conv1's 4 filters and
 * 3 of conv2's 6. */
START_TEST(test_planned_costs_by_hand)
{
    picpq_net *net = NULL;
    picpq_plan *plan = NULL;
    const uint8_t m4[4] = {1, 0, 0, 1}, m6[6] = {0, 1, 1, 0, 1, 0};
    const int32_t w[4] = {8, 4, 2, 32}, a[4] = {4, 4, 2, 32};
    double macs = 0, params = 0, bops = 0;
    int64_t k = 0;
    ck_assert_status(picpq_net_create(&net), PICPQ_OK);
    ck_assert_status(fixture_conv(net, -1, 3, 4, 3, 1, 8, &(int32_t){0}), PICPQ_OK);
    ck_assert_status(fixture_conv(net, 0, 4, 4, 3, 4, 8, &(int32_t){0}), PICPQ_OK);
    ck_assert_status(picpq_net_couple(net, 0, 1), PICPQ_OK);
    ck_assert_status(fixture_conv(net, 1, 4, 6, 1, 1, 8, &(int32_t){0}), PICPQ_OK);
    ck_assert_status(fixture_linear(net, 2, 24, 10, &(int32_t){0}), PICPQ_OK);
    ck_assert_status(picpq_plan_create(net, &plan), PICPQ_OK);
    ck_assert_status(picpq_plan_set_keep_mask(plan, 0, m4, 4), PICPQ_OK);
    ck_assert_status(picpq_plan_kept(plan, 1, &k), PICPQ_OK); /* equal width: same mask */
    ck_assert_int_eq(k, 2);
    ck_assert_status(picpq_plan_set_keep_mask(plan, 2, m6, 6), PICPQ_OK);
    /* conv0 64*9*3*2 = 3456; dw 64*9*1*2 = 1152; conv2 64*1*2*3 = 384; FC 12*10 = 120 */
    ck_assert_status(picpq_plan_macs(plan, &macs), PICPQ_OK);
    ck_assert(macs == 3456 + 1152 + 384 + 120);
    /* 54 + 18 + 6 + 120 */
    ck_assert_status(picpq_plan_params(plan, &params), PICPQ_OK);
    ck_assert(params == 54 + 18 + 6 + 120);
    /* 3456*32 + 1152*16 + 384*4 + 120*1024 */
    ck_assert_status(picpq_plan_bops(plan, w, a, &bops), PICPQ_OK);
    ck_assert(bops == 3456.0 * 32 + 1152 * 16 + 384 * 4 + 120 * 1024);
    /* NULL bits = 32 everywhere; dense depthwise counts 64*9*2*2 for conv1 */
    ck_assert_status(picpq_net_set_int(net, PICPQ_NET_BOPS_DENSE_DEPTHWISE, 1), PICPQ_OK);
    ck_assert_status(picpq_plan_bops(plan, NULL, NULL, &bops), PICPQ_E_BAD_STATE);
    picpq_plan_free(plan);
    ck_assert_status(picpq_plan_create(net, &plan), PICPQ_OK);
    ck_assert_status(picpq_plan_set_keep_mask(plan, 0, m4, 4), PICPQ_OK);
    ck_assert_status(picpq_plan_set_keep_mask(plan, 2, m6, 6), PICPQ_OK);
    ck_assert_status(picpq_plan_bops(plan, NULL, NULL, &bops), PICPQ_OK);
    ck_assert(bops == (3456.0 + 2304 + 384 + 120) * 1024);
    picpq_plan_free(plan);
    picpq_net_free(net);
}
END_TEST

START_TEST(test_cost_errors)
{
    picpq_net *net = make_fixture(1), *other = make_fixture(1);
    picpq_plan *plan = NULL;
    int32_t bits[15];
    double v = -1;
    int i;
    for (i = 0; i < 15; i++) bits[i] = 8;
    ck_assert_status(picpq_plan_create(other, &plan), PICPQ_OK);
    ck_assert_status(picpq_plan_macs(NULL, &v), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_plan_macs(plan, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_plan_params(plan, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_plan_bops(plan, NULL, NULL, NULL), PICPQ_E_INVALID_ARG);
    bits[3] = 0;
    ck_assert_status(picpq_plan_bops(plan, bits, NULL, &v), PICPQ_E_OUT_OF_RANGE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "layer 3"));
    bits[3] = 8;
    ck_assert(v == -1);
    ck_assert_status(picpq_net_macs(NULL, &v), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_net_macs(net, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_net_params(net, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_net_bops(net, NULL, NULL, NULL), PICPQ_E_INVALID_ARG);
    bits[4] = 33;
    ck_assert_status(picpq_net_bops(net, bits, NULL, &v), PICPQ_E_OUT_OF_RANGE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "layer 4"));
    bits[4] = 0;
    ck_assert_status(picpq_net_bops(net, NULL, bits, &v), PICPQ_E_OUT_OF_RANGE);
    ck_assert(v == -1);
    /* a structural change of the net invalidates its plans */
    ck_assert_status(picpq_net_add_linear(other, 10, 10, NULL), PICPQ_OK);
    ck_assert_status(picpq_plan_macs(plan, &v), PICPQ_E_BAD_STATE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "net changed"));
    ck_assert(v == -1);
    picpq_plan_free(plan);
    picpq_net_free(net);
    picpq_net_free(other);
}
END_TEST

/* Geometry and links read back what the fixtures declared: ResNet-56's
 * chain is the stem and every conv2 (first id 0), conv1 layers are alone;
 * MobileNetV2's depthwise convs are 3x3 with groups = width and chained to
 * their producer; the classifier is fed by the last conv. */
START_TEST(test_geometry_and_links)
{
    picpq_net *net = make_fixture(0);
    int64_t kh = 0, kw = 0, g = 0, oh = 0, ow = 0;
    int32_t prod = -5, chain = -5, l;
    for (l = 0; l < 55; l++) {
        ck_assert_status(picpq_net_layer_links(net, l, &prod, &chain), PICPQ_OK);
        ck_assert_int_eq(prod, l - 1);
        ck_assert_int_eq(chain, l % 2 == 0 ? 0 : l);
    }
    ck_assert_status(picpq_net_layer_links(net, 55, &prod, NULL), PICPQ_OK);
    ck_assert_int_eq(prod, 54);
    ck_assert_status(picpq_net_layer_geometry(net, 19, &kh, &kw, &g, &oh, &ow), PICPQ_OK);
    ck_assert(kh == 3 && kw == 3 && g == 1 && oh == 16 && ow == 16);
    ck_assert_status(picpq_net_layer_geometry(net, 55, &kh, NULL, &g, &oh, NULL), PICPQ_OK);
    ck_assert(kh == 1 && g == 1 && oh == 1);
    ck_assert_status(picpq_net_layer_geometry(net, 56, &kh, &kw, &g, &oh, &ow),
                     PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_net_layer_geometry(NULL, 0, &kh, &kw, &g, &oh, &ow),
                     PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_net_layer_links(net, -1, &prod, &chain), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_net_layer_links(NULL, 0, &prod, &chain), PICPQ_E_INVALID_ARG);
    picpq_net_free(net);
    net = make_fixture(2);
    ck_assert_status(picpq_net_layer_geometry(net, 13, &kh, &kw, &g, &oh, &ow), PICPQ_OK);
    ck_assert(kh == 3 && g == 192 && oh == 16); /* block (6, 32) #2: 192 wide at 16x16 */
    ck_assert_status(picpq_net_layer_links(net, 13, &prod, &chain), PICPQ_OK);
    ck_assert(prod == 12 && chain == 12);
    ck_assert_status(picpq_net_layer_links(net, 17, NULL, &chain), PICPQ_OK);
    ck_assert_int_eq(chain, 11); /* the stage's projections 11, 14, 17 */
    ck_assert_status(picpq_net_layer_links(net, 1, NULL, &chain), PICPQ_OK);
    ck_assert_int_eq(chain, 0); /* the first depthwise conv is chained to the stem */
    picpq_net_free(net);
}
END_TEST

Suite *net_suite(void)
{
    Suite *s = suite_create("net");
    TCase *tc = tcase_create("describe");
    tcase_add_test(tc, test_create_and_accessors);
    tcase_add_test(tc, test_create_errors);
    tcase_add_test(tc, test_allocation_failures);
    tcase_add_test(tc, test_add_errors);
    tcase_add_test(tc, test_connect_couple_errors);
    tcase_add_test(tc, test_prunable_and_scores);
    tcase_add_test(tc, test_params_int);
    tcase_add_test(tc, test_validate_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("cost");
    tcase_add_test(tc, test_reference_totals);
    tcase_add_test(tc, test_mobilenetv2_widths);
    tcase_add_test(tc, test_geometry_and_links);
    tcase_add_test(tc, test_vgg_fixture_11_3);
    tcase_add_test(tc, test_resnet_fixture_11_3);
    tcase_add_test(tc, test_planned_costs_by_hand);
    tcase_add_test(tc, test_cost_errors);
    suite_add_tcase(s, tc);
    return s;
}
