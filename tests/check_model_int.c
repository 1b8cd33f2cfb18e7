/* PICPQ_MODEL_INTEGER (convolutions on the codes) against a plain reference
 * loop written here: random models "activation quantizer -> conv ->
 * flatten" built byte by byte, over random shapes, strides, paddings,
 * groups, biases and (activation, weight) bit pairs; the float path of the
 * same file must agree with the same reference. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model_blob.h"
#include "picpq_internal.h" /* picpq__vnni_enable */
#include "testutil.h"

typedef struct conv_case {
    int in_c, in_h, in_w, out_c, kh, kw, sh, sw, ph, pw, groups, bias, abits, wbits;
    float scale, mag;
    int8_t codes[8 * 8 * 9];
    float b[8];
} conv_case;

static uint32_t rng;

static int rnd(int lo, int hi) /* inclusive */
{
    rng = rng * 1664525u + 1013904223u;
    return lo + (int)((rng >> 8) % (uint32_t)(hi - lo + 1));
}

static int out_size(int n, int k, int s, int p)
{
    return (n + 2 * p - k) / s + 1;
}

static void random_case(conv_case *cc)
{
    int i, levels, n;
    const int groups[4] = {1, 1, 2, 4};
    cc->groups = groups[rnd(0, 3)];
    cc->in_c = cc->groups * rnd(1, 8 / cc->groups);
    cc->out_c = cc->groups * rnd(1, 8 / cc->groups);
    cc->kh = rnd(1, 3), cc->kw = rnd(1, 3);
    cc->sh = rnd(1, 2), cc->sw = rnd(1, 2);
    cc->ph = rnd(0, cc->kh), cc->pw = rnd(0, cc->kw);
    cc->in_h = rnd(cc->kh, 9), cc->in_w = rnd(cc->kw, 9);
    cc->bias = rnd(0, 1);
    cc->abits = rnd(1, 8), cc->wbits = rnd(1, 8);
    cc->scale = (float)rnd(1, 40) / 8.0f;
    levels = cc->wbits <= 2 ? 1 : (1 << (cc->wbits - 1)) - 1;
    cc->mag = cc->wbits == 1 ? (float)rnd(1, 16) / 16.0f : 1.0f; /* the format's rule */
    n = cc->out_c * (cc->in_c / cc->groups) * cc->kh * cc->kw;
    for (i = 0; i < n; i++) {
        if (cc->wbits == 1) cc->codes[i] = rnd(0, 1) ? 1 : -1;
        else cc->codes[i] = (int8_t)rnd(-levels, levels);
    }
    for (i = 0; i < cc->out_c; i++) cc->b[i] = (float)rnd(-8, 8) / 16.0f;
}

static void build_case(blob *bl, const conv_case *cc)
{
    static const char magic[8] = {'P', 'Q', 'M', 'O', 'D', 'E', 'L', 0};
    const int oh = out_size(cc->in_h, cc->kh, cc->sh, cc->ph);
    const int ow = out_size(cc->in_w, cc->kw, cc->sw, cc->pw);
    const int n = cc->out_c * (cc->in_c / cc->groups) * cc->kh * cc->kw;
    const int levels = cc->wbits <= 2 ? 1 : (1 << (cc->wbits - 1)) - 1;
    uint8_t packed[8 * 8 * 9];
    size_t bytes = (size_t)(n * cc->wbits + 7) / 8;
    int i;
    ck_assert_status(picpq_quant_pack(cc->codes, n, cc->wbits, packed, sizeof packed, NULL),
                     PICPQ_OK);
    memcpy(bl->b, magic, 8);
    bl->n = 8;
    u32(bl, 1), u32(bl, 0), u32(bl, 0), u32(bl, 0); /* version, flags, length */
    u32(bl, (uint32_t)cc->in_c), u32(bl, (uint32_t)cc->in_h), u32(bl, (uint32_t)cc->in_w);
    u32(bl, (uint32_t)(cc->out_c * oh * ow)), u32(bl, 0);                     /* classes, no norm */
    u32(bl, 3);                                                               /* ops */
    u32(bl, 5), u32(bl, 0), u32(bl, (uint32_t)cc->abits), f32(bl, cc->scale); /* actq */
    u32(bl, 1), u32(bl, 1), u32(bl, (uint32_t)cc->out_c);                     /* conv of value 1 */
    u32(bl, (uint32_t)cc->kh), u32(bl, (uint32_t)cc->kw), u32(bl, (uint32_t)cc->sh);
    u32(bl, (uint32_t)cc->sw), u32(bl, (uint32_t)cc->ph), u32(bl, (uint32_t)cc->pw);
    u32(bl, (uint32_t)cc->groups), u32(bl, (uint32_t)cc->bias), u32(bl, (uint32_t)cc->wbits);
    u32(bl, (uint32_t)levels), f32(bl, cc->mag);
    memcpy(bl->b + bl->n, packed, bytes);
    bl->n += bytes;
    if (cc->bias)
        for (i = 0; i < cc->out_c; i++) f32(bl, cc->b[i]);
    u32(bl, 11), u32(bl, 2); /* flatten */
    seal(bl);
}

/* The reference: activation codes as METHOD §8 defines them (clip(x / s, 0, 1) · (2^k − 1)
 * rounded half to even; 1 bit: x > 0), then the convolution summed in double. */
static void reference(const conv_case *cc, const float *x, double *y)
{
    const int oh = out_size(cc->in_h, cc->kh, cc->sh, cc->ph);
    const int ow = out_size(cc->in_w, cc->kw, cc->sw, cc->pw);
    const int cg = cc->in_c / cc->groups, og = cc->out_c / cc->groups;
    const int levels = cc->wbits <= 2 ? 1 : (1 << (cc->wbits - 1)) - 1;
    const double lv = cc->abits == 1 ? 1.0 : (double)((1 << cc->abits) - 1);
    int o, oy, ox, c, i, j;
    for (o = 0; o < cc->out_c; o++)
        for (oy = 0; oy < oh; oy++)
            for (ox = 0; ox < ow; ox++) {
                const int g = o / og;
                double acc = 0.0;
                for (c = 0; c < cg; c++)
                    for (i = 0; i < cc->kh; i++)
                        for (j = 0; j < cc->kw; j++) {
                            const int iy = oy * cc->sh - cc->ph + i, ix = ox * cc->sw - cc->pw + j;
                            float v, a;
                            if (iy < 0 || iy >= cc->in_h || ix < 0 || ix >= cc->in_w) continue;
                            v = x[((g * cg + c) * cc->in_h + iy) * cc->in_w + ix];
                            if (cc->abits == 1) a = v > 0.0f ? 1.0f : 0.0f;
                            else {
                                float t = v / cc->scale;
                                t = t < 0.0f ? 0.0f : t > 1.0f ? 1.0f : t;
                                t = t * (float)lv;
                                a = nearbyintf(t);
                            }
                            acc += (double)a * cc->codes[((o * cg + c) * cc->kh + i) * cc->kw + j];
                        }
                y[(o * oh + oy) * ow + ox] = acc * (double)cc->scale / lv * cc->mag / levels +
                                             (cc->bias ? cc->b[o] : 0.0);
            }
}

START_TEST(test_integer_conv_matches_reference)
{
    static blob bl;
    static float x[2 * 8 * 9 * 9], out[2 * 8 * 16 * 16]; /* outputs up to 15 x 15 */
    static double ref[2 * 8 * 16 * 16];
    int trial;
    rng = 20261203u;
    for (trial = 0; trial < 300; trial++) {
        conv_case cc;
        int flags, i, b;
        int64_t classes;
        random_case(&cc);
        build_case(&bl, &cc);
        for (i = 0; i < 2 * cc.in_c * cc.in_h * cc.in_w; i++)
            x[i] = cc.scale * ((float)rnd(-200, 1200) / 1000.0f);
        for (flags = 0; flags < 2; flags++) {
            picpq_model *m = NULL;
            picpq_model_workspace *ws = NULL;
            double worst = 0.0, top = 1e-3;
            ck_assert_status(
                picpq_model_load_opts(bl.b, bl.n, NULL, flags ? PICPQ_MODEL_INTEGER : 0u, &m),
                PICPQ_OK);
            ck_assert_status(picpq_model_num_classes(m, &classes), PICPQ_OK);
            ck_assert_status(picpq_model_workspace_create(m, 2, &ws), PICPQ_OK);
            ck_assert_status(picpq_model_run(m, ws, x, 2, out), PICPQ_OK);
            if (flags) { /* the portable kernel gives the VNNI kernel's sums bit for bit */
                static float portable[2 * 8 * 16 * 16];
                picpq__vnni_enable(0);
                ck_assert_status(picpq_model_run(m, ws, x, 2, portable), PICPQ_OK);
                picpq__vnni_enable(1);
                ck_assert_mem_eq(portable, out, (size_t)(2 * classes) * sizeof(float));
            }
            for (b = 0; b < 2; b++) {
                reference(&cc, x + b * cc.in_c * cc.in_h * cc.in_w, ref + b * classes);
                for (i = 0; i < classes; i++) {
                    const double d = fabs(out[b * classes + i] - ref[b * classes + i]);
                    worst = d > worst ? d : worst;
                    top = fabs(ref[b * classes + i]) > top ? fabs(ref[b * classes + i]) : top;
                }
            }
            ck_assert_msg(worst <= 1e-5 * top,
                          "trial %d (%s path): in %dx%dx%d, out %d, k %dx%d, s %dx%d, p %dx%d, "
                          "groups %d, bits a%d w%d: difference %g of %g",
                          trial, flags ? "integer" : "float", cc.in_c, cc.in_h, cc.in_w, cc.out_c,
                          cc.kh, cc.kw, cc.sh, cc.sw, cc.ph, cc.pw, cc.groups, cc.abits, cc.wbits,
                          worst, top);
            picpq_model_workspace_free(ws);
            picpq_model_free(m);
        }
    }
}
END_TEST

/* Integer layers keep int8 codes instead of float32 weights; the others are unchanged. */
START_TEST(test_integer_model_is_smaller_and_flags_checked)
{
    static blob bl;
    conv_case cc;
    byte_count bf, bi;
    picpq_allocator af = bc_make(&bf), ai = bc_make(&bi);
    picpq_model *mf = NULL, *mi = NULL;
    rng = 7u;
    memset(&cc, 0, sizeof cc); /* the fields resized below are read beyond the drawn sizes */
    random_case(&cc);
    cc.in_c = cc.out_c = 8, cc.groups = 1, cc.kh = cc.kw = 3, cc.wbits = 4, cc.mag = 1.0f;
    {
        int i;
        for (i = 0; i < 8 * 8 * 9; i++) cc.codes[i] = (int8_t)rnd(-7, 7);
    }
    build_case(&bl, &cc);
    ck_assert_status(picpq_model_load_opts(bl.b, bl.n, &af, 0, &mf), PICPQ_OK);
    ck_assert_status(picpq_model_load_opts(bl.b, bl.n, &ai, PICPQ_MODEL_INTEGER, &mi), PICPQ_OK);
    /* 576 weights: 2304 float bytes become 576 code bytes */
    ck_assert_int_eq((long)(bf.live - bi.live), 2304 - 576);
    {
        int32_t convs = -1, codes = -1;
        ck_assert_status(picpq_model_conv_counts(mf, &convs, &codes), PICPQ_OK);
        ck_assert_int_eq(convs, 1);
        ck_assert_int_eq(codes, 0);
        ck_assert_status(picpq_model_conv_counts(mi, &convs, NULL), PICPQ_OK);
        ck_assert_status(picpq_model_conv_counts(mi, NULL, &codes), PICPQ_OK);
        ck_assert_int_eq(convs, 1);
        ck_assert_int_eq(codes, 1);
        ck_assert_status(picpq_model_conv_counts(NULL, &convs, &codes), PICPQ_E_INVALID_ARG);
    }
    picpq_model_free(mf);
    picpq_model_free(mi);
    ck_assert_status(picpq_model_load_opts(bl.b, bl.n, NULL, 2u, &mf), PICPQ_E_INVALID_ARG);
    ck_assert_ptr_null(mf);
}
END_TEST

/* A model with no conv after an activation quantizer runs as before (hand values). */
START_TEST(test_integer_flag_keeps_float_models)
{
    float logits[2];
    ck_assert_status(run_hand_model(PICPQ_MODEL_INTEGER, logits), PICPQ_OK);
    ck_assert_double_eq_tol(logits[0], 5.0 / 6.0, 1e-6);
    ck_assert_double_eq_tol(logits[1], 2.0 / 3.0, 1e-6);
}
END_TEST

Suite *model_int_suite(void)
{
    Suite *s = suite_create("model_int");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_integer_conv_matches_reference);
    tcase_add_test(tc, test_integer_model_is_smaller_and_flags_checked);
    tcase_add_test(tc, test_integer_flag_keeps_float_models);
    suite_add_tcase(s, tc);
    return s;
}
