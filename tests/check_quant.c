/* Quantizer: layer sparsity, bitwidths (T8), quantizers (T9), export. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* The LCG of the torch script that produced the pasted codes below:
 * s = s·6364136223846793005 + 1442695040888963407 (mod 2^64),
 * u = (s >> 40) / 2^24, value = (2u − 1)·scale in double, then float. */
static void lcg_fill(float *x, int64_t n, uint64_t seed, double scale)
{
    int64_t i;
    for (i = 0; i < n; i++) {
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        x[i] = (float)(((double)(seed >> 40) / 16777216.0 * 2 - 1) * scale);
    }
}

static picpq_tensor *wrap1(float *x, int64_t n)
{
    picpq_tensor *t = NULL;
    ck_assert_status(picpq_tensor_wrap(x, PICPQ_F32, 1, &n, NULL, &t), PICPQ_OK);
    return t;
}

/* The spec's chain (METHOD E7), element by element, as the reference writes it. */
static float spec_weight(float w, float m, int k)
{
    const float n = (float)((1 << (k - 1)) - 1);
    return nearbyintf((tanhf(w) / m) * n) / n;
}

static float max_abs_tanh(const float *x, int64_t n)
{
    float m = 0;
    int64_t i;
    for (i = 0; i < n; i++) m = fabsf(tanhf(x[i])) > m ? fabsf(tanhf(x[i])) : m;
    return m;
}

/* ---- T9: weight quantizer -------------------------------------------------- */

START_TEST(test_t9_weights)
{
    /* METHOD §8 worked values; the codes were confirmed with torch float32 */
    static const int ks[3] = {3, 4, 8};
    static const float codes[3][4] = {{1, -2, 0, 3}, {3, -6, 1, 7}, {61, -100, 13, 127}};
    int i, j;
    for (i = 0; i < 3; i++) {
        float x[4] = {0.5f, -1.0f, 0.1f, 2.0f};
        const float n = (float)((1 << (ks[i] - 1)) - 1);
        picpq_tensor *t = wrap1(x, 4);
        ck_assert_status(picpq_quant_weights(t, ks[i]), PICPQ_OK);
        for (j = 0; j < 4; j++) ck_assert_float_eq(x[j], codes[i][j] / n);
        picpq_tensor_free(t);
    }
}
END_TEST

START_TEST(test_weights_k2_k1_k32)
{
    float x[4] = {0.5f, -1.0f, 0.0f, 2.0f}, y[4] = {0.5f, -1.0f, 0.0f, 2.0f};
    float z[4] = {0.5f, -1.0f, 0.0f, 2.0f};
    picpq_tensor *t = wrap1(x, 4), *u = wrap1(y, 4), *v = wrap1(z, 4);
    /* k = 2: sign, 0 stays 0 (METHOD §8) */
    ck_assert_status(picpq_quant_weights(t, 2), PICPQ_OK);
    ck_assert_float_eq(x[0], 1);
    ck_assert_float_eq(x[1], -1);
    ck_assert_float_eq(x[2], 0);
    ck_assert_float_eq(x[3], 1);
    /* k = 1: mean|w| = 3.5 / 4 = 0.875, sign(0) = +1 */
    ck_assert_status(picpq_quant_weights(u, 1), PICPQ_OK);
    ck_assert_float_eq(y[0], 0.875f);
    ck_assert_float_eq(y[1], -0.875f);
    ck_assert_float_eq(y[2], 0.875f);
    ck_assert_float_eq(y[3], 0.875f);
    /* k = 32: identity */
    ck_assert_status(picpq_quant_weights(v, 32), PICPQ_OK);
    ck_assert_float_eq(z[1], -1.0f);
    ck_assert_float_eq(z[3], 2.0f);
    picpq_tensor_free(t);
    picpq_tensor_free(u);
    picpq_tensor_free(v);
}
END_TEST

START_TEST(test_weights_all_zero)
{
    float x[3] = {0, 0, 0};
    picpq_tensor *t = wrap1(x, 3);
    int k;
    for (k = 1; k <= 8; k++) { /* the reference divides 0 by 0 here */
        ck_assert_status(picpq_quant_weights(t, k), PICPQ_OK);
        ck_assert_float_eq(x[0], 0);
        ck_assert_float_eq(x[2], 0);
    }
    picpq_tensor_free(t);
}
END_TEST

START_TEST(test_weights_match_torch)
{
    /* torch.round(tanh(w)/tanh(w).abs().max()*n) on lcg_fill(24, 12345, 0.75) */
    static const int8_t k3[24] = {-3, -2, 2, 2,  -1, 0,  2,  -1, 2,  -2, 3,  3,
                                  -2, 2,  0, -1, 1,  -1, -1, -1, -3, -3, -2, 0};
    static const int8_t k5[24] = {-13, -8, 12, 11, -6, 2,  10, -4, 11,  -10, 15, 15,
                                  -11, 11, -1, -6, 6,  -4, -4, -5, -15, -13, -9, 2};
    static const int8_t k8[24] = {-107, -69, 106, 94,  -52, 18,  84,  -33, 89,   -89,  127, 126,
                                  -95,  92,  -7,  -50, 48,  -38, -36, -41, -123, -111, -80, 13};
    const int8_t *want[3] = {k3, k5, k8};
    static const int ks[3] = {3, 5, 8};
    float x[24];
    int8_t codes[24];
    int32_t levels;
    float mag;
    picpq_tensor *t;
    int i, j;
    lcg_fill(x, 24, 12345, 0.75);
    ck_assert_float_eq(x[0], -0.5856322050094604f); /* the same draw as the script */
    t = wrap1(x, 24);
    for (i = 0; i < 3; i++) {
        ck_assert_status(picpq_quant_weight_codes(t, ks[i], codes, 24, &levels, &mag), PICPQ_OK);
        ck_assert_int_eq(levels, (1 << (ks[i] - 1)) - 1);
        ck_assert_float_eq(mag, 1);
        for (j = 0; j < 24; j++) ck_assert_int_eq(codes[j], want[i][j]);
    }
    /* k = 1 magnitude: torch's w.abs().mean() = 0.386392205953598 (bits 1053152563) */
    ck_assert_status(picpq_quant_weight_codes(t, 1, codes, 24, &levels, &mag), PICPQ_OK);
    ck_assert_float_eq_tol(mag, 0.386392205953598f, 1e-7f);
    ck_assert_int_eq(codes[0], -1);
    ck_assert_int_eq(codes[2], 1);
    picpq_tensor_free(t);
}
END_TEST

/* Large tensors classify by thresholds; the result must equal the chain. */
static void check_large_against_chain(double scale, float outlier)
{
    enum { N = 20000 };
    static float x[N], y[N];
    picpq_tensor *t = wrap1(y, N);
    float m;
    int k, i;
    lcg_fill(x, N, 777, scale);
    if (outlier != 0) x[N / 2] = outlier;
    m = max_abs_tanh(x, N);
    memcpy(y, x, sizeof x);
    ck_assert_status(picpq_quant_weights(t, 2), PICPQ_OK); /* sign(w) */
    for (i = 0; i < N; i++) ck_assert_float_eq(y[i], x[i] > 0 ? 1.0f : (x[i] < 0 ? -1.0f : 0.0f));
    for (k = 3; k <= 8; k++) {
        memcpy(y, x, sizeof x);
        ck_assert_status(picpq_quant_weights(t, k), PICPQ_OK);
        for (i = 0; i < N; i++)
            ck_assert_msg(y[i] == spec_weight(x[i], m, k), "k=%d i=%d w=%a: %a vs %a", k, i, x[i],
                          y[i], spec_weight(x[i], m, k));
    }
    picpq_tensor_free(t);
}

START_TEST(test_weights_large_equals_chain)
{
    check_large_against_chain(0.1, 0);   /* typical weights */
    check_large_against_chain(3.0, 0);   /* saturating tanh */
    check_large_against_chain(0.05, 40); /* one outlier: many thresholds share a bucket */
    check_large_against_chain(1e-30, 0); /* tiny values: the per-element chain */
}
END_TEST

START_TEST(test_weights_strided)
{
    /* a 6x5 tensor seen transposed (strides 4, 20) vs its contiguous copy */
    float buf[30], out[30], ref[30];
    const int64_t shape[2] = {5, 6}, strides[2] = {4, 20}, cshape[2] = {5, 6};
    picpq_tensor *t, *o, *c;
    int k, i, j;
    lcg_fill(buf, 30, 99, 0.5);
    for (k = 1; k <= 8; k++) {
        ck_assert_status(picpq_tensor_wrap(buf, PICPQ_F32, 2, shape, strides, &t), PICPQ_OK);
        ck_assert_status(picpq_tensor_wrap(out, PICPQ_F32, 2, shape, strides, &o), PICPQ_OK);
        for (i = 0; i < 5; i++)
            for (j = 0; j < 6; j++) ref[i * 6 + j] = buf[j * 5 + i];
        ck_assert_status(picpq_tensor_wrap(ref, PICPQ_F32, 2, cshape, NULL, &c), PICPQ_OK);
        ck_assert_status(picpq_quant_weights_into(t, o, k), PICPQ_OK);
        ck_assert_status(picpq_quant_weights(c, k), PICPQ_OK);
        for (i = 0; i < 5; i++)
            for (j = 0; j < 6; j++) ck_assert_float_eq(out[j * 5 + i], ref[i * 6 + j]);
        picpq_tensor_free(t);
        picpq_tensor_free(o);
        picpq_tensor_free(c);
    }
}
END_TEST

START_TEST(test_weights_view_in_place)
{
    /* quantizing filters 1..2 of a 4x3 tensor touches only them */
    float buf[12], ref[6];
    const int64_t shape[2] = {4, 3};
    picpq_tensor *t, *v, *r;
    int i;
    lcg_fill(buf, 12, 5, 1.0);
    memcpy(ref, buf + 3, sizeof ref);
    ck_assert_status(picpq_tensor_wrap(buf, PICPQ_F32, 2, shape, NULL, &t), PICPQ_OK);
    ck_assert_status(picpq_tensor_view(t, 0, 1, 2, &v), PICPQ_OK);
    r = wrap1(ref, 6);
    ck_assert_status(picpq_quant_weights(v, 4), PICPQ_OK);
    ck_assert_status(picpq_quant_weights(r, 4), PICPQ_OK);
    for (i = 0; i < 6; i++) ck_assert_float_eq(buf[3 + i], ref[i]);
    picpq_tensor_free(r);
    picpq_tensor_free(v);
    picpq_tensor_free(t);
}
END_TEST

START_TEST(test_weights_errors)
{
    float x[3] = {0.5f, NAN, 1.0f}, y[2] = {1, 2}, z[3] = {1, INFINITY, 0};
    double d[3] = {1, 2, 3};
    const int64_t three = 3;
    picpq_tensor *t = wrap1(x, 3), *u = wrap1(y, 2), *w = wrap1(z, 3), *f64;
    ck_assert_status(picpq_tensor_wrap(d, PICPQ_F64, 1, &three, NULL, &f64), PICPQ_OK);
    ck_assert_status(picpq_quant_weights(NULL, 4), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_quant_weights(f64, 4), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_quant_weights(u, 0), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_quant_weights(u, 9), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_quant_weights(u, 16), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_quant_weights(u, -1), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_quant_weights(t, 4), PICPQ_E_NONFINITE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "element 1"));
    ck_assert_float_eq(x[0], 0.5f); /* untouched */
    ck_assert_status(picpq_quant_weights(w, 32), PICPQ_E_NONFINITE);
    ck_assert_status(picpq_quant_weights(w, 1), PICPQ_E_NONFINITE);
    ck_assert_float_eq(z[0], 1.0f);
    ck_assert_status(picpq_quant_weights_into(t, NULL, 4), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_quant_weights_into(NULL, u, 4), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_quant_weights_into(w, u, 4), PICPQ_E_SHAPE);
    ck_assert_status(picpq_quant_weights_into(u, f64, 4), PICPQ_E_INVALID_ARG);
    picpq_tensor_free(f64);
    picpq_tensor_free(t);
    picpq_tensor_free(u);
    picpq_tensor_free(w);
}
END_TEST

/* ---- T9: activation quantizer -------------------------------------------- */

START_TEST(test_t9_activations)
{
    float a[5] = {-0.5f, 0.2f, 0.5f, 0.9f, 1.7f}, b[5], c[4] = {-0.5f, 0, 0.2f, 1.7f};
    static const float k2[5] = {0, 1, 2, 3, 3}, k3[5] = {0, 1, 4, 6, 7};
    picpq_tensor *ta = wrap1(a, 5), *tb = wrap1(b, 5), *tc = wrap1(c, 4);
    int i;
    ck_assert_status(picpq_quant_activations_into(ta, tb, 2), PICPQ_OK);
    for (i = 0; i < 5; i++) ck_assert_float_eq(b[i], k2[i] / 3.0f);
    ck_assert_status(picpq_quant_activations_into(ta, tb, 3), PICPQ_OK);
    for (i = 0; i < 5; i++) ck_assert_float_eq(b[i], k3[i] / 7.0f);
    ck_assert_float_eq(a[4], 1.7f); /* the source is untouched */
    ck_assert_status(picpq_quant_activations(tc, 1), PICPQ_OK);
    ck_assert_float_eq(c[0], 0);
    ck_assert_float_eq(c[1], 0);
    ck_assert_float_eq(c[2], 1);
    ck_assert_float_eq(c[3], 1);
    /* k = 32: identity, no clip */
    ck_assert_status(picpq_quant_activations(ta, 32), PICPQ_OK);
    ck_assert_float_eq(a[0], -0.5f);
    ck_assert_float_eq(a[4], 1.7f);
    picpq_tensor_free(ta);
    picpq_tensor_free(tb);
    picpq_tensor_free(tc);
}
END_TEST

START_TEST(test_t9_half_even)
{
    /* fl32(1/6)·3 = 0.5f exactly → 0 (half-up would give 1/3);
     * fl32(2.5/7)·7 = 2.5f exactly → 2 → 2/7 (half-up gives 3/7) */
    float x[1] = {1.0f / 6.0f}, y[1] = {(float)(2.5 / 7)};
    picpq_tensor *tx = wrap1(x, 1), *ty = wrap1(y, 1);
    ck_assert_float_eq(x[0] * 3.0f, 0.5f);
    ck_assert_float_eq(y[0] * 7.0f, 2.5f);
    ck_assert_status(picpq_quant_activations(tx, 2), PICPQ_OK);
    ck_assert_status(picpq_quant_activations(ty, 3), PICPQ_OK);
    ck_assert_float_eq(x[0], 0);
    ck_assert_float_eq(y[0], 2.0f / 7.0f);
    picpq_tensor_free(tx);
    picpq_tensor_free(ty);
}
END_TEST

START_TEST(test_activations_strided_and_large)
{
    enum { N = 3000 };
    static float x[2 * N], ref[N], orig[2 * N];
    const int64_t n = N, stride = 8;
    picpq_tensor *t, *r;
    int k, i;
    for (k = 1; k <= 8; k++) {
        lcg_fill(x, 2 * N, 3, 1.5);
        for (i = 0; i < N; i++) ref[i] = x[2 * i];
        ck_assert_status(picpq_tensor_wrap(x, PICPQ_F32, 1, &n, &stride, &t), PICPQ_OK);
        r = wrap1(ref, N);
        ck_assert_status(picpq_quant_activations(t, k), PICPQ_OK);
        ck_assert_status(picpq_quant_activations(r, k), PICPQ_OK);
        for (i = 0; i < N; i++) ck_assert_float_eq(x[2 * i], ref[i]);
        lcg_fill(orig, 2 * N, 3, 1.5);
        for (i = 0; i < N; i++) ck_assert_float_eq(x[2 * i + 1], orig[2 * i + 1]); /* untouched */
        /* the contiguous path against the spec formula */
        lcg_fill(x, 2 * N, 3, 1.5);
        for (i = 0; i < N; i++) {
            const float nf = (float)((1 << k) - 1), v = x[2 * i];
            const float c = v < 0 ? 0 : (v > 1 ? 1 : v);
            const float want = k == 1 ? (v > 0 ? 1.0f : 0.0f) : nearbyintf(c * nf) / nf;
            ck_assert_float_eq(ref[i], want);
        }
        picpq_tensor_free(t);
        picpq_tensor_free(r);
    }
}
END_TEST

START_TEST(test_activations_errors)
{
    float x[2] = {0.5f, NAN}, y[3] = {0, 0, 0};
    picpq_tensor *t = wrap1(x, 2), *u = wrap1(y, 3);
    ck_assert_status(picpq_quant_activations(NULL, 4), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_quant_activations(t, 0), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_quant_activations(t, 12), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_quant_activations(t, 4), PICPQ_E_NONFINITE);
    ck_assert_status(picpq_quant_activations(t, 32), PICPQ_E_NONFINITE);
    ck_assert_float_eq(x[0], 0.5f);
    ck_assert_status(picpq_quant_activations_into(t, u, 4), PICPQ_E_SHAPE);
    ck_assert_status(picpq_quant_activations_into(t, NULL, 4), PICPQ_E_INVALID_ARG);
    picpq_tensor_free(t);
    picpq_tensor_free(u);
}
END_TEST

/* ---- integer export ------------------------------------------------------- */

START_TEST(test_export_exact_every_width)
{
    enum { N = 20000 };
    static float x[N], q[N];
    static int8_t codes[N];
    picpq_tensor *tq = wrap1(q, N), *tx = wrap1(x, N);
    int32_t levels;
    float mag;
    int k, i, seed;
    for (seed = 1; seed <= 3; seed++) {
        lcg_fill(x, N, (uint64_t)seed, seed * 0.4);
        for (k = 1; k <= 8; k++) {
            memcpy(q, x, sizeof x);
            ck_assert_status(picpq_quant_weights(tq, k), PICPQ_OK);
            ck_assert_status(picpq_quant_weight_codes(tx, k, codes, N, &levels, &mag), PICPQ_OK);
            ck_assert_int_eq(levels, k == 1 ? 1 : (1 << (k - 1)) - 1);
            if (k > 1) ck_assert_float_eq(mag, 1);
            for (i = 0; i < N; i++) {
                const float v = mag * ((float)codes[i] / (float)levels);
                ck_assert_int_le(abs(codes[i]), levels);
                ck_assert_msg(v == q[i], "k=%d i=%d code %d: %a vs %a", k, i, codes[i], v, q[i]);
            }
        }
    }
    picpq_tensor_free(tq);
    picpq_tensor_free(tx);
}
END_TEST

START_TEST(test_export_errors)
{
    float x[3] = {1, -1, NAN};
    int8_t codes[3] = {9, 9, 9};
    picpq_tensor *t = wrap1(x, 2), *bad = wrap1(x, 3);
    ck_assert_status(picpq_quant_weight_codes(NULL, 4, codes, 2, NULL, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_quant_weight_codes(t, 4, NULL, 2, NULL, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_quant_weight_codes(t, 32, codes, 2, NULL, NULL), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_quant_weight_codes(t, 0, codes, 2, NULL, NULL), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_quant_weight_codes(t, 4, codes, 3, NULL, NULL), PICPQ_E_SHAPE);
    ck_assert_status(picpq_quant_weight_codes(bad, 4, codes, 3, NULL, NULL), PICPQ_E_NONFINITE);
    ck_assert_int_eq(codes[0], 9);
    ck_assert_status(picpq_quant_weight_codes(t, 4, codes, 2, NULL, NULL), PICPQ_OK);
    ck_assert_int_eq(codes[0], 7);
    ck_assert_int_eq(codes[1], -7);
    picpq_tensor_free(t);
    picpq_tensor_free(bad);
}
END_TEST

START_TEST(test_linear_per_channel)
{
    /* bits 3 (codes in [-3, 3]); by hand / numpy float32:
     * row 0: scale fl32(2/3), 1/scale = 1.5 → 2 (half even), -2 → -3, 0.5 → 0.75 → 1
     * row 1: zeros → scale 0, codes 0; row 2: scale 1: 3, 1.5 → 2, -0.75 → -1 */
    float w[9] = {1, -2, 0.5f, 0, 0, 0, 3, 1.5f, -0.75f};
    static const int8_t want[9] = {2, -3, 1, 0, 0, 0, 3, 2, -1};
    const int64_t shape[2] = {3, 3};
    int8_t codes[9];
    float scales[3];
    picpq_tensor *t;
    int i;
    ck_assert_status(picpq_tensor_wrap(w, PICPQ_F32, 2, shape, NULL, &t), PICPQ_OK);
    ck_assert_status(picpq_quant_linear_codes(t, 3, codes, 9, scales, 3), PICPQ_OK);
    ck_assert_float_eq(scales[0], 2.0f / 3.0f);
    ck_assert_float_eq(scales[1], 0);
    ck_assert_float_eq(scales[2], 1);
    for (i = 0; i < 9; i++) ck_assert_int_eq(codes[i], want[i]);
    ck_assert_status(picpq_quant_linear_codes(t, 1, codes, 9, scales, 3), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_quant_linear_codes(t, 3, codes, 8, scales, 3), PICPQ_E_SHAPE);
    ck_assert_status(picpq_quant_linear_codes(t, 3, codes, 9, scales, 2), PICPQ_E_SHAPE);
    ck_assert_status(picpq_quant_linear_codes(t, 3, NULL, 9, scales, 3), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_quant_linear_codes(t, 3, codes, 9, NULL, 3), PICPQ_E_INVALID_ARG);
    w[4] = NAN;
    ck_assert_status(picpq_quant_linear_codes(t, 3, codes, 9, scales, 3), PICPQ_E_NONFINITE);
    picpq_tensor_free(t);
}
END_TEST

START_TEST(test_linear_round_trip_error)
{
    /* dequantized codes lie within half a step of every weight */
    enum { O = 8, I = 50 };
    static float w[O * I];
    static int8_t codes[O * I];
    const int64_t shape[2] = {O, I};
    float scales[O];
    picpq_tensor *t;
    int k, o, i;
    lcg_fill(w, O * I, 42, 2.0);
    ck_assert_status(picpq_tensor_wrap(w, PICPQ_F32, 2, shape, NULL, &t), PICPQ_OK);
    for (k = 2; k <= 8; k++) {
        ck_assert_status(picpq_quant_linear_codes(t, k, codes, O * I, scales, O), PICPQ_OK);
        for (o = 0; o < O; o++)
            for (i = 0; i < I; i++)
                ck_assert_float_le(fabsf(codes[o * I + i] * scales[o] - w[o * I + i]),
                                   scales[o] * 0.5f * (1 + 1e-5f));
    }
    picpq_tensor_free(t);
}
END_TEST

/* ---- layer sparsity ------------------------------------------------------- */

START_TEST(test_sparsity_l1)
{
    /* orig [[1,-2],[3,4]] (mass 10); pruned = its first row (mass 3) */
    float o[4] = {1, -2, 3, 4}, p[2] = {1, -2}, z[4] = {0, 0, 0, 0};
    const int64_t so[2] = {2, 2}, sp[2] = {1, 2}, sbig[2] = {3, 2};
    const uint8_t keep0[2] = {1, 0}, keep1[2] = {0, 1};
    picpq_tensor *to, *tp, *tz, *t1;
    double s = -1;
    ck_assert_status(picpq_tensor_wrap(o, PICPQ_F32, 2, so, NULL, &to), PICPQ_OK);
    ck_assert_status(picpq_tensor_wrap(p, PICPQ_F32, 2, sp, NULL, &tp), PICPQ_OK);
    ck_assert_status(picpq_tensor_wrap(z, PICPQ_F32, 2, so, NULL, &tz), PICPQ_OK);
    t1 = wrap1(p, 2);
    ck_assert_status(picpq_quant_sparsity_l1(to, tp, &s), PICPQ_OK);
    ck_assert_double_eq(s, 0.3);
    ck_assert_status(picpq_quant_sparsity_l1(to, to, &s), PICPQ_OK);
    ck_assert_double_eq(s, 1.0);
    ck_assert_status(picpq_quant_sparsity_l1_masked(to, keep0, 2, NULL, 0, &s), PICPQ_OK);
    ck_assert_double_eq(s, 0.3);
    ck_assert_status(picpq_quant_sparsity_l1_masked(to, NULL, 0, keep1, 2, &s), PICPQ_OK);
    ck_assert_double_eq(s, 0.6); /* (2 + 4) / 10 */
    ck_assert_status(picpq_quant_sparsity_l1_masked(to, keep0, 2, keep1, 2, &s), PICPQ_OK);
    ck_assert_double_eq(s, 0.2);
    s = -1;
    ck_assert_status(picpq_quant_sparsity_l1(tz, tp, &s), PICPQ_E_OUT_OF_RANGE); /* undefined */
    ck_assert_status(picpq_quant_sparsity_l1(tp, to, &s), PICPQ_E_SHAPE);
    ck_assert_status(picpq_quant_sparsity_l1(to, t1, &s), PICPQ_E_SHAPE);
    ck_assert_status(picpq_quant_sparsity_l1(NULL, tp, &s), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_quant_sparsity_l1(to, tp, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_quant_sparsity_l1_masked(tz, keep0, 2, NULL, 0, &s),
                     PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_quant_sparsity_l1_masked(to, keep0, 3, NULL, 0, &s), PICPQ_E_SHAPE);
    ck_assert_status(picpq_quant_sparsity_l1_masked(to, NULL, 0, keep1, 1, &s), PICPQ_E_SHAPE);
    ck_assert_status(picpq_quant_sparsity_l1_masked(t1, NULL, 0, keep1, 2, &s), PICPQ_E_SHAPE);
    ck_assert_status(picpq_quant_sparsity_l1_masked(NULL, keep0, 2, NULL, 0, &s),
                     PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_quant_sparsity_l1_masked(to, keep0, 2, NULL, 0, NULL),
                     PICPQ_E_INVALID_ARG);
    {
        /* more mass in the "pruned" tensor than in the original: not a sub-tensor */
        float heavy[2] = {5, 6};
        picpq_tensor *th;
        ck_assert_status(picpq_tensor_wrap(heavy, PICPQ_F32, 2, sp, NULL, &th), PICPQ_OK);
        ck_assert_status(picpq_quant_sparsity_l1(to, th, &s), PICPQ_E_OUT_OF_RANGE);
        heavy[0] = NAN;
        ck_assert_status(picpq_quant_sparsity_l1(to, th, &s), PICPQ_E_NONFINITE);
        picpq_tensor_free(th);
    }
    ck_assert_double_eq(s, -1); /* untouched on error */
    picpq_tensor_free(to);
    picpq_tensor_free(tp);
    picpq_tensor_free(tz);
    picpq_tensor_free(t1);
    {
        /* a pruned tensor larger than the original on an axis */
        picpq_tensor *big;
        float b[6] = {0};
        ck_assert_status(picpq_tensor_wrap(b, PICPQ_F32, 2, sbig, NULL, &big), PICPQ_OK);
        ck_assert_status(picpq_tensor_wrap(o, PICPQ_F32, 2, so, NULL, &to), PICPQ_OK);
        ck_assert_status(picpq_quant_sparsity_l1(to, big, &s), PICPQ_E_SHAPE);
        picpq_tensor_free(big);
        picpq_tensor_free(to);
    }
}
END_TEST

START_TEST(test_sparsity_l1_4d_and_nonfinite)
{
    /* [out 2, in 3, 1, 2], w = 1..12; keep out {1}, in {0, 2}:
     * kept elements 7, 8, 11, 12 → 38 / 78 */
    double w[12];
    const int64_t shape[4] = {2, 3, 1, 2};
    const uint8_t out_keep[2] = {0, 1}, in_keep[3] = {1, 0, 1};
    picpq_tensor *t;
    double s;
    int i;
    for (i = 0; i < 12; i++) w[i] = i + 1;
    ck_assert_status(picpq_tensor_wrap(w, PICPQ_F64, 4, shape, NULL, &t), PICPQ_OK);
    ck_assert_status(picpq_quant_sparsity_l1_masked(t, out_keep, 2, in_keep, 3, &s), PICPQ_OK);
    ck_assert_double_eq_tol(s, 38.0 / 78.0, 1e-15);
    w[5] = INFINITY;
    ck_assert_status(picpq_quant_sparsity_l1_masked(t, out_keep, 2, in_keep, 3, &s),
                     PICPQ_E_NONFINITE);
    picpq_tensor_free(t);
}
END_TEST

/* ---- T8: bitwidths -------------------------------------------------------- */

START_TEST(test_t8_head)
{
    /* τ = 1/6, B = 8: s → bits (METHOD T8) */
    const double s[6] = {1, 0.5, 1.0 / 6, 0.15, 0.125, 0.05};
    const int32_t want[6] = {8, 7, 7, 6, 6, 4};
    int32_t B[6], bits[6];
    int i;
    for (i = 0; i < 6; i++) B[i] = 8;
    ck_assert_status(picpq_quant_bits_assign(6, s, B, 1.0 / 6, 0, bits), PICPQ_OK);
    for (i = 0; i < 6; i++) ck_assert_int_eq(bits[i], want[i]);
    B[0] = 4;
    ck_assert_status(picpq_quant_bits_assign(1, &s[4], B, 1.0 / 6, 0, bits), PICPQ_OK);
    ck_assert_int_eq(bits[0], 2);
}
END_TEST

START_TEST(test_t8_c0_kept_ratio)
{
    /* C0: ⌈(n/n')/6⌉ = HEAD ⌈(1/6)/s⌉ with s = n'/n (METHOD T8) */
    static const int64_t nn[13][3] = {
        {16, 2, 2}, {32, 4, 2}, {64, 7, 2},  {128, 13, 2}, {256, 26, 2}, {512, 52, 2}, {16, 8, 1},
        {12, 2, 1}, {12, 1, 2}, {64, 11, 1}, {64, 10, 2},  {64, 32, 1},  {64, 64, 0}};
    int i;
    for (i = 0; i < 13; i++) {
        const double s = (double)nn[i][1] / (double)nn[i][0];
        const int32_t B = 8;
        int32_t bits;
        ck_assert_status(picpq_quant_bits_assign(1, &s, &B, 1.0 / 6, 0, &bits), PICPQ_OK);
        ck_assert_msg(bits == 8 - nn[i][2], "(%lld, %lld): %d", (long long)nn[i][0],
                      (long long)nn[i][1], bits);
    }
}
END_TEST

START_TEST(test_vgg_fixture_bits)
{
    /* METHOD §11.3: kept counts of widths with B = qbw_upper → the repo's bits */
    static const int64_t kept[13] = {64, 64, 13, 128, 256, 26, 256, 512, 52, 512, 512, 52, 52};
    static const int64_t width[13] = {64,  64,  128, 128, 256, 256, 256,
                                      512, 512, 512, 512, 512, 512};
    static const int32_t B[13] = {32, 8, 8, 8, 6, 6, 6, 4, 4, 4, 4, 4, 4};
    static const int32_t want[13] = {32, 8, 6, 8, 6, 4, 6, 4, 2, 4, 4, 2, 2};
    double s[13];
    int32_t bits[13];
    int i;
    for (i = 0; i < 13; i++) s[i] = (double)kept[i] / (double)width[i];
    ck_assert_status(picpq_quant_bits_assign(13, s, B, 1.0 / 6, 2, bits), PICPQ_OK);
    for (i = 0; i < 13; i++) ck_assert_int_eq(bits[i], want[i]);
    ck_assert_status(picpq_quant_bits_assign(13, s, B, 1.0 / 6, 0, bits), PICPQ_OK);
    for (i = 0; i < 13; i++) ck_assert_int_eq(bits[i], want[i]);
}
END_TEST

START_TEST(test_bits_clamp_and_32)
{
    /* B = 4, s = 0.05: 4 - 4 = 0 → raised to min_bits 2; B = 32 stays 32;
     * B = 2, s = 0.5: 1 → raised to 2; B = 1: 0 → raised to min(2, B) = 1 */
    const double s[4] = {0.05, 0.01, 0.5, 0.5};
    const int32_t B[4] = {4, 32, 2, 1};
    int32_t bits[4] = {-7, -7, -7, -7};
    ck_assert_status(picpq_quant_bits_assign(4, s, B, 1.0 / 6, 2, bits), PICPQ_OK);
    ck_assert_int_eq(bits[0], 2);
    ck_assert_int_eq(bits[1], 32);
    ck_assert_int_eq(bits[2], 2);
    ck_assert_int_eq(bits[3], 1);
    /* min_bits 3 raises the 1-bit result of B = 4, s = 1/6·(1/2) too */
    ck_assert_status(picpq_quant_bits_assign(1, s, B, 1.0 / 6, 3, bits), PICPQ_OK);
    ck_assert_int_eq(bits[0], 3);
    /* without a clamp, layer 0 (0 bits) is an error naming it */
    ck_assert_status(picpq_quant_bits_assign(4, s, B, 1.0 / 6, 0, bits), PICPQ_E_OUT_OF_RANGE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "layer 0"));
    ck_assert_int_eq(bits[0], 3);
}
END_TEST

START_TEST(test_bits_errors)
{
    const double s[2] = {0.5, 0.05}, zero = 0, big = 1.5, nan = NAN;
    const int32_t B[2] = {8, 4}, B9 = 9, B0 = 0, B16 = 16;
    int32_t bits[2] = {-7, -7};
    ck_assert_status(picpq_quant_bits_assign(2, s, B, 1.0 / 6, 0, bits), PICPQ_E_OUT_OF_RANGE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "layer 1"));
    ck_assert_int_eq(bits[0], -7); /* untouched */
    ck_assert_status(picpq_quant_bits_assign(1, s, B, 0, 2, bits), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_quant_bits_assign(1, s, B, -1, 2, bits), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_quant_bits_assign(1, s, B, NAN, 2, bits), PICPQ_E_NONFINITE);
    ck_assert_status(picpq_quant_bits_assign(1, s, B, INFINITY, 2, bits), PICPQ_E_NONFINITE);
    ck_assert_status(picpq_quant_bits_assign(1, s, &B9, 0.1, 2, bits), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_quant_bits_assign(1, s, &B0, 0.1, 2, bits), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_quant_bits_assign(1, s, &B16, 0.1, 2, bits), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_quant_bits_assign(1, &zero, B, 0.1, 2, bits), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_quant_bits_assign(1, &big, B, 0.1, 2, bits), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_quant_bits_assign(1, &nan, B, 0.1, 2, bits), PICPQ_E_NONFINITE);
    ck_assert_status(picpq_quant_bits_assign(0, s, B, 0.1, 2, bits), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_quant_bits_assign(1, s, B, 0.1, 9, bits), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_quant_bits_assign(1, s, B, 0.1, -1, bits), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_quant_bits_assign(1, NULL, B, 0.1, 2, bits), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_quant_bits_assign(1, s, NULL, 0.1, 2, bits), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_quant_bits_assign(1, s, B, 0.1, 2, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_int_eq(bits[0], -7);
}
END_TEST

/* ---- packing ---------------------------------------------------------------- */

START_TEST(test_pack_layout)
{
    /* 3 bits: fields 001, 111, 011, 100 LSB first → 0xF9, 0x08 */
    const int8_t c3[4] = {1, -1, 3, -4};
    /* 1 bit: +1 → 1, -1 → 0: bits 1,0,1,1,0,0,0,1 | 1 → 0x8D, 0x01 */
    const int8_t c1[9] = {1, -1, 1, 1, -1, -1, -1, 1, 1};
    uint8_t buf[4] = {0xAA, 0xAA, 0xAA, 0xAA};
    size_t need = 0;
    ck_assert_status(picpq_quant_pack(c3, 4, 3, NULL, 0, &need), PICPQ_OK);
    ck_assert_uint_eq(need, 2);
    ck_assert_status(picpq_quant_pack(c3, 4, 3, buf, sizeof buf, &need), PICPQ_OK);
    ck_assert_uint_eq(buf[0], 0xF9);
    ck_assert_uint_eq(buf[1], 0x08);
    ck_assert_uint_eq(buf[2], 0xAA); /* beyond the needed size: untouched */
    ck_assert_status(picpq_quant_pack(c1, 9, 1, buf, sizeof buf, NULL), PICPQ_OK);
    ck_assert_uint_eq(buf[0], 0x8D);
    ck_assert_uint_eq(buf[1], 0x01);
}
END_TEST

START_TEST(test_pack_layout_every_width)
{
    /* the packed bytes against a bit-by-bit transcription of the documented
     * order (code i's bit t is stream bit i·bits + t, LSB first) */
    int8_t codes[37];
    uint8_t buf[40], want[40];
    int bits, i, t;
    uint64_t seed = 11;
    for (bits = 1; bits <= 8; bits++) {
        memset(want, 0, sizeof want);
        for (i = 0; i < 37; i++) {
            int field;
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            if (bits == 1) codes[i] = (seed >> 63) ? 1 : -1;
            else codes[i] = (int8_t)((int)((seed >> 33) % (1u << bits)) - (1 << (bits - 1)));
            field = bits == 1 ? codes[i] > 0 : (codes[i] & ((1 << bits) - 1));
            for (t = 0; t < bits; t++)
                if (field >> t & 1)
                    want[(i * bits + t) / 8] |= (uint8_t)(1u << ((i * bits + t) % 8));
        }
        memset(buf, 0, sizeof buf);
        ck_assert_status(picpq_quant_pack(codes, 37, bits, buf, sizeof buf, NULL), PICPQ_OK);
        ck_assert_mem_eq(buf, want, (size_t)(37 * bits + 7) / 8);
    }
}
END_TEST

START_TEST(test_pack_round_trip)
{
    static const int64_t lens[] = {0, 1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 64, 100, 1001};
    static int8_t codes[1001], back[1001];
    static uint8_t buf[1001];
    size_t li, need;
    int bits;
    for (bits = 1; bits <= 8; bits++) {
        for (li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            const int64_t n = lens[li];
            uint64_t seed = (uint64_t)(bits * 1000 + n);
            int64_t i;
            for (i = 0; i < n; i++) {
                seed = seed * 6364136223846793005u + 1442695040888963407u;
                if (bits == 1) codes[i] = (seed >> 63) ? 1 : -1;
                else codes[i] = (int8_t)((int)((seed >> 33) % (1u << bits)) - (1 << (bits - 1)));
            }
            memset(back, 0x55, sizeof back);
            ck_assert_status(picpq_quant_pack(codes, n, bits, buf, sizeof buf, &need), PICPQ_OK);
            ck_assert_uint_eq(need, (size_t)((n * bits + 7) / 8));
            if (need > 0 && (n * bits) % 8 != 0) /* padding bits are zero */
                ck_assert_uint_eq(buf[need - 1] >> ((n * bits) % 8), 0);
            ck_assert_status(picpq_quant_unpack(buf, need, bits, back, n), PICPQ_OK);
            for (i = 0; i < n; i++) ck_assert_int_eq(back[i], codes[i]);
            if (n < 1001) ck_assert_int_eq(back[n], 0x55);
        }
    }
}
END_TEST

START_TEST(test_pack_errors)
{
    const int8_t c[3] = {1, 2, -3}, c1[2] = {1, 0};
    uint8_t buf[2];
    int8_t out[3];
    size_t need = 0;
    ck_assert_status(picpq_quant_pack(c, 3, 0, buf, 2, &need), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_quant_pack(c, 3, 9, buf, 2, &need), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_quant_pack(c, -1, 3, buf, 2, &need), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_quant_pack(c, 3, 2, buf, 2, &need), PICPQ_E_OUT_OF_RANGE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "codes[1] = 2"));
    ck_assert_status(picpq_quant_pack(c1, 2, 1, buf, 2, &need), PICPQ_E_OUT_OF_RANGE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "codes[1] = 0"));
    ck_assert_status(picpq_quant_pack(NULL, 3, 3, buf, 2, &need), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_quant_pack(c, 3, 3, NULL, 0, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_uint_eq(need, 0);
    /* 3 codes of 8 bits need 3 bytes */
    ck_assert_status(picpq_quant_pack(c, 3, 8, buf, 2, &need), PICPQ_E_BUFFER);
    ck_assert_uint_eq(need, 3);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "need 3"));
    ck_assert_status(picpq_quant_pack(c, INT64_MAX / 2, 3, NULL, 0, &need), PICPQ_E_OVERFLOW);
    ck_assert_status(picpq_quant_pack(NULL, 0, 3, NULL, 0, &need), PICPQ_OK);
    ck_assert_uint_eq(need, 0);
    ck_assert_status(picpq_quant_unpack(buf, 2, 8, out, 3), PICPQ_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "need 3"));
    ck_assert_status(picpq_quant_unpack(buf, 2, 0, out, 3), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_quant_unpack(buf, 2, 3, out, -1), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_quant_unpack(NULL, 2, 3, out, 3), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_quant_unpack(buf, 2, 3, NULL, 3), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_quant_unpack(buf, 2, 3, out, INT64_MAX / 2), PICPQ_E_OVERFLOW);
    ck_assert_status(picpq_quant_unpack(NULL, 0, 3, NULL, 0), PICPQ_OK);
}
END_TEST

START_TEST(test_packed_size)
{
    const int64_t numel[3] = {100, 9, 10}, neg = -1, huge = INT64_MAX / 2;
    const int32_t bits[3] = {32, 3, 1}, b9 = 9, b32 = 32;
    int64_t bytes = -1;
    /* 100·4 + ⌈27/8⌉ + ⌈10/8⌉ = 400 + 4 + 2 */
    ck_assert_status(picpq_quant_packed_size(3, numel, bits, &bytes), PICPQ_OK);
    ck_assert_int_eq(bytes, 406);
    ck_assert_status(picpq_quant_packed_size(0, numel, bits, &bytes), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_quant_packed_size(1, &neg, bits, &bytes), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_quant_packed_size(1, numel, &b9, &bytes), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_quant_packed_size(1, &huge, &b32, &bytes), PICPQ_E_OVERFLOW);
    ck_assert_status(picpq_quant_packed_size(1, NULL, bits, &bytes), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_quant_packed_size(1, numel, NULL, &bytes), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_quant_packed_size(1, numel, bits, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_int_eq(bytes, 406);
}
END_TEST

/* ---- bits from a plan, and the τ solver (needs net and plan) ------------ */

/* VGG-16 of METHOD §16 with the kept counts of §11.3, counted like the
 * reference's count_bops.py (conv0 skipped, FCs at 32×32 bits, unpruned). */
static const int64_t vgg_width[13] = {64,  64,  128, 128, 256, 256, 256,
                                      512, 512, 512, 512, 512, 512};
static const int64_t vgg_hw[13] = {32, 32, 16, 16, 8, 8, 8, 4, 4, 4, 2, 2, 2};
static const int64_t vgg_kept[13] = {64, 64, 13, 128, 256, 26, 256, 512, 52, 512, 512, 52, 52};
static const int32_t vgg_B[15] = {32, 8, 8, 8, 6, 6, 6, 4, 4, 4, 4, 4, 4, 32, 32};
static const int32_t vgg_bits[15] = {32, 8, 6, 8, 6, 4, 6, 4, 2, 4, 4, 2, 2, 32, 32};

static void vgg_fixture(picpq_net **net, picpq_plan **plan)
{
    static uint8_t mask[512];
    int32_t l, id, prev = -1;
    ck_assert_status(picpq_net_create(net), PICPQ_OK);
    for (l = 0; l < 13; l++) {
        ck_assert_status(picpq_net_add_conv(*net, l ? vgg_width[l - 1] : 3, vgg_width[l], 3, 3, 1,
                                            vgg_hw[l], vgg_hw[l], &id),
                         PICPQ_OK);
        if (prev >= 0) ck_assert_status(picpq_net_connect(*net, prev, id), PICPQ_OK);
        prev = id;
    }
    ck_assert_status(picpq_net_add_linear(*net, 512, 512, &id), PICPQ_OK);
    ck_assert_status(picpq_net_add_linear(*net, 512, 10, &id), PICPQ_OK);
    ck_assert_status(picpq_net_set_int(*net, PICPQ_NET_BOPS_SKIP_FIRST, 1), PICPQ_OK);
    ck_assert_status(picpq_plan_create(*net, plan), PICPQ_OK);
    for (l = 0; l < 13; l++) {
        memset(mask, 0, sizeof mask);
        memset(mask, 1, (size_t)vgg_kept[l]);
        if (vgg_kept[l] < vgg_width[l])
            ck_assert_status(picpq_plan_set_keep_mask(*plan, l, mask, vgg_width[l]), PICPQ_OK);
    }
}

START_TEST(test_sparsity_from_plan_vgg)
{
    picpq_net *net;
    picpq_plan *plan;
    double s[15], bops;
    int32_t bits[15];
    int l;
    vgg_fixture(&net, &plan);
    ck_assert_status(picpq_quant_sparsity_from_plan(net, plan, s), PICPQ_OK);
    for (l = 0; l < 13; l++) ck_assert_double_eq(s[l], (double)vgg_kept[l] / vgg_width[l]);
    ck_assert_double_eq(s[13], 1);
    ck_assert_double_eq(s[14], 1);
    ck_assert_status(picpq_quant_bits_assign(15, s, vgg_B, 1.0 / 6, 2, bits), PICPQ_OK);
    for (l = 0; l < 15; l++) ck_assert_int_eq(bits[l], vgg_bits[l]);
    /* METHOD T10: the fixture's BOPs with the code's counter */
    ck_assert_status(picpq_plan_bops(plan, bits, bits, &bops), PICPQ_OK);
    ck_assert_double_eq(bops, 4416696576.0);
    ck_assert_status(picpq_quant_sparsity_from_plan(NULL, plan, s), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_quant_sparsity_from_plan(net, NULL, s), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_quant_sparsity_from_plan(net, plan, NULL), PICPQ_E_INVALID_ARG);
    picpq_plan_free(plan);
    picpq_net_free(net);
}
END_TEST

/* The fill raises pruned layers in the order a falling τ would: on the VGG
 * fixture every pruned layer (2, 5, 8, 11, 12) sits at B − 2 with s = 13/128,
 * so they tie and the lowest id goes first. */
static double bops_with(const picpq_plan *plan, const int32_t *base, int l1, int l2)
{
    int32_t b[15];
    double bops;
    memcpy(b, base, sizeof b);
    if (l1 >= 0) b[l1]++;
    if (l2 >= 0) b[l2]++;
    ck_assert_status(picpq_plan_bops(plan, b, b, &bops), PICPQ_OK);
    return bops;
}

START_TEST(test_bits_fill_vgg)
{
    picpq_net *net;
    picpq_plan *plan;
    double s[15], bops, budget;
    int32_t bits[15], bad[15];
    int l, k;
    vgg_fixture(&net, &plan);
    ck_assert_status(picpq_quant_sparsity_from_plan(net, plan, s), PICPQ_OK);
    /* exactly the fixture's BOPs: no raise fits */
    memcpy(bits, vgg_bits, sizeof bits);
    ck_assert_status(picpq_quant_bits_fill(net, plan, s, vgg_B, 2, 4416696576.0, bits), PICPQ_OK);
    for (l = 0; l < 15; l++) ck_assert_int_eq(bits[l], vgg_bits[l]);
    /* room for layer 2's bit only, then for layers 2 and 5 */
    ck_assert_status(
        picpq_quant_bits_fill(net, plan, s, vgg_B, 2, bops_with(plan, vgg_bits, 2, -1), bits),
        PICPQ_OK);
    for (l = 0; l < 15; l++) ck_assert_int_eq(bits[l], vgg_bits[l] + (l == 2));
    memcpy(bits, vgg_bits, sizeof bits);
    ck_assert_status(
        picpq_quant_bits_fill(net, plan, s, vgg_B, 2, bops_with(plan, vgg_bits, 2, 5), bits),
        PICPQ_OK);
    for (l = 0; l < 15; l++) ck_assert_int_eq(bits[l], vgg_bits[l] + (l == 2 || l == 5));
    /* no limit: every layer at B_l */
    memcpy(bits, vgg_bits, sizeof bits);
    ck_assert_status(picpq_quant_bits_fill(net, plan, s, vgg_B, 2, 1e18, bits), PICPQ_OK);
    for (l = 0; l < 15; l++) ck_assert_int_eq(bits[l], vgg_B[l]);
    /* any budget: within it, and no single further bit fits */
    for (k = 0; k < 4; k++) {
        budget = 4416696576.0 * (1.05 + 0.3 * k);
        memcpy(bits, vgg_bits, sizeof bits);
        ck_assert_status(picpq_quant_bits_fill(net, plan, s, vgg_B, 2, budget, bits), PICPQ_OK);
        ck_assert_status(picpq_plan_bops(plan, bits, bits, &bops), PICPQ_OK);
        ck_assert_double_le(bops, budget);
        for (l = 0; l < 15; l++) {
            ck_assert_int_ge(bits[l], vgg_bits[l]);
            if (vgg_B[l] != 32 && s[l] < 1 && bits[l] < vgg_B[l])
                ck_assert_double_gt(bops_with(plan, bits, l, -1), budget);
        }
    }
    /* over the budget: bits go, the unpruned layers' too (s = 1 after the pruned ones'
     * (B − q)·s = 2·13/128), until it fits; a bit more room is then spent */
    memcpy(bits, vgg_bits, sizeof bits);
    budget = 0.8 * 4416696576.0;
    ck_assert_status(picpq_quant_bits_fill(net, plan, s, vgg_B, 2, budget, bits), PICPQ_OK);
    ck_assert_status(picpq_plan_bops(plan, bits, bits, &bops), PICPQ_OK);
    ck_assert_double_le(bops, budget);
    for (l = 0; l < 15; l++) {
        if (vgg_B[l] != 32 && bits[l] < vgg_B[l]) /* nothing left that fits */
            ck_assert_double_gt(bops_with(plan, bits, l, -1), budget);
        if (vgg_B[l] == 32) ck_assert_int_eq(bits[l], 32);
    }
    ck_assert_int_lt(bits[1] + bits[3] + bits[4], 8 + 8 + 6); /* unpruned layers gave bits */
    /* beyond the floor: BUDGET_UNMET, every layer above min_bits brought down to it */
    memcpy(bits, vgg_bits, sizeof bits);
    ck_assert_status(picpq_quant_bits_fill(net, plan, s, vgg_B, 3, 1e9, bits), PICPQ_BUDGET_UNMET);
    for (l = 0; l < 15; l++)
        ck_assert_int_eq(bits[l], (vgg_B[l] == 32 ? 32 : (vgg_bits[l] < 3 ? vgg_bits[l] : 3)));
    ck_assert_status(picpq_quant_bits_fill(net, plan, s, vgg_B, 0, 1e12, bits),
                     PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_quant_bits_fill(net, plan, s, vgg_B, 9, 1e12, bits),
                     PICPQ_E_OUT_OF_RANGE);
    /* errors */
    memcpy(bad, vgg_bits, sizeof bad);
    bad[2] = 9;
    ck_assert_status(picpq_quant_bits_fill(net, plan, s, vgg_B, 2, 1e12, bad),
                     PICPQ_E_OUT_OF_RANGE);
    bad[2] = 0;
    ck_assert_status(picpq_quant_bits_fill(net, plan, s, vgg_B, 2, 1e12, bad),
                     PICPQ_E_OUT_OF_RANGE);
    bad[2] = 6;
    bad[0] = 8;
    ck_assert_status(picpq_quant_bits_fill(net, plan, s, vgg_B, 2, 1e12, bad),
                     PICPQ_E_OUT_OF_RANGE);
    ck_assert_int_eq(bad[2], 6);
    ck_assert_status(picpq_quant_bits_fill(net, plan, s, vgg_B, 2, 0, bits), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_quant_bits_fill(net, plan, s, vgg_B, 2, NAN, bits), PICPQ_E_NONFINITE);
    ck_assert_status(picpq_quant_bits_fill(NULL, plan, s, vgg_B, 2, 1e12, bits),
                     PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_quant_bits_fill(net, plan, NULL, vgg_B, 2, 1e12, bits),
                     PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_quant_bits_fill(net, plan, s, NULL, 2, 1e12, bits), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_quant_bits_fill(net, plan, s, vgg_B, 2, 1e12, NULL),
                     PICPQ_E_INVALID_ARG);
    s[3] = 0;
    ck_assert_status(picpq_quant_bits_fill(net, plan, s, vgg_B, 2, 1e12, bits),
                     PICPQ_E_OUT_OF_RANGE);
    picpq_plan_free(plan);
    picpq_net_free(net);
}
END_TEST

START_TEST(test_bits_solve_vgg)
{
    /* every pruned layer has s = 13/128, so the candidates are τ = k·13/128:
     * k = 1 takes one bit, k = 2 two (= the τ = 1/6 bits), ... */
    picpq_net *net;
    picpq_plan *plan;
    double s[15], tau = -1, bops_k1;
    int32_t bits[15], again[15];
    const double s_pruned = 13.0 / 128;
    int l;
    vgg_fixture(&net, &plan);
    ck_assert_status(picpq_quant_sparsity_from_plan(net, plan, s), PICPQ_OK);
    /* budget = the fixture's BOPs: k = 1 is over it, k = 2 meets it */
    ck_assert_status(picpq_quant_bits_solve(net, plan, s, vgg_B, 2, 4416696576.0, &tau, bits),
                     PICPQ_OK);
    ck_assert_double_eq(tau, 2 * s_pruned);
    for (l = 0; l < 15; l++) ck_assert_int_eq(bits[l], vgg_bits[l]);
    /* the τ it reports reproduces its bits */
    ck_assert_status(picpq_quant_bits_assign(15, s, vgg_B, tau, 2, again), PICPQ_OK);
    for (l = 0; l < 15; l++) ck_assert_int_eq(again[l], bits[l]);
    /* a generous budget: one bit off every pruned layer (k = 1) */
    ck_assert_status(picpq_quant_bits_solve(net, plan, s, vgg_B, 2, 1e12, &tau, bits), PICPQ_OK);
    ck_assert_double_eq(tau, s_pruned);
    ck_assert_int_eq(bits[2], 7);
    ck_assert_int_eq(bits[8], 3);
    ck_assert_int_eq(bits[3], 8);
    ck_assert_status(picpq_plan_bops(plan, bits, bits, &bops_k1), PICPQ_OK);
    ck_assert_double_gt(bops_k1, 4416696576.0);
    /* one BOP less than the fixture: k = 3 (B - 3, floored at 2) */
    ck_assert_status(picpq_quant_bits_solve(net, plan, s, vgg_B, 2, 4416696575.0, &tau, bits),
                     PICPQ_OK);
    ck_assert_double_eq(tau, 3 * s_pruned);
    ck_assert_int_eq(bits[2], 5);
    ck_assert_int_eq(bits[5], 3);
    ck_assert_int_eq(bits[8], 2);
    /* unreachable: every pruned layer at min_bits, BUDGET_UNMET */
    ck_assert_status(picpq_quant_bits_solve(net, plan, s, vgg_B, 2, 1.0, &tau, bits),
                     PICPQ_BUDGET_UNMET);
    ck_assert_int_eq(bits[2], 2);
    ck_assert_int_eq(bits[5], 2);
    ck_assert_int_eq(bits[0], 32);
    ck_assert_int_eq(bits[1], 8);
    /* min_bits 0: stops where the first layer would reach 0 bits (4-bit layers, k = 3) */
    ck_assert_status(picpq_quant_bits_solve(net, plan, s, vgg_B, 0, 1.0, &tau, bits),
                     PICPQ_BUDGET_UNMET);
    ck_assert_double_eq(tau, 3 * s_pruned);
    ck_assert_int_eq(bits[8], 1);
    ck_assert_int_eq(bits[2], 5);
    /* errors leave the outputs untouched */
    tau = -1;
    ck_assert_status(picpq_quant_bits_solve(net, plan, s, vgg_B, 2, 0, &tau, bits),
                     PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_quant_bits_solve(net, plan, s, vgg_B, 2, NAN, &tau, bits),
                     PICPQ_E_NONFINITE);
    ck_assert_status(picpq_quant_bits_solve(net, plan, s, vgg_B, 9, 1e9, &tau, bits),
                     PICPQ_E_OUT_OF_RANGE);
    s[4] = 0;
    ck_assert_status(picpq_quant_bits_solve(net, plan, s, vgg_B, 2, 1e9, &tau, bits),
                     PICPQ_E_OUT_OF_RANGE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "layer 4"));
    ck_assert_status(picpq_quant_bits_solve(NULL, plan, s, vgg_B, 2, 1e9, &tau, bits),
                     PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_quant_bits_solve(net, plan, s, vgg_B, 2, 1e9, NULL, bits),
                     PICPQ_E_INVALID_ARG);
    ck_assert_double_eq(tau, -1);
    picpq_plan_free(plan);
    picpq_net_free(net);
}
END_TEST

START_TEST(test_bits_solve_edges)
{
    /* two convs 3→8→8 at 4x4, no plan (unpruned MACs 3·8·9·16 + 8·8·9·16 = 12672) */
    picpq_net *net;
    int32_t id, bits[2] = {-7, -7};
    const double ones[2] = {1, 1}, half[2] = {0.5, 1};
    const int32_t B[2] = {8, 4}, B1[2] = {1, 8};
    double tau = -1;
    ck_assert_status(picpq_net_create(&net), PICPQ_OK);
    ck_assert_status(picpq_net_add_conv(net, 3, 8, 3, 3, 1, 4, 4, &id), PICPQ_OK);
    ck_assert_status(picpq_net_add_conv(net, 8, 8, 3, 3, 1, 4, 4, &id), PICPQ_OK);
    ck_assert_status(picpq_net_connect(net, 0, 1), PICPQ_OK);
    /* nothing pruned: the bits are B whatever τ, reported as τ = 1;
     * BOPs = 3456·64 + 9216·16 = 368640 */
    ck_assert_status(picpq_quant_bits_solve(net, NULL, ones, B, 2, 368640, &tau, bits), PICPQ_OK);
    ck_assert_double_eq(tau, 1);
    ck_assert_int_eq(bits[0], 8);
    ck_assert_int_eq(bits[1], 4);
    ck_assert_status(picpq_quant_bits_solve(net, NULL, ones, B, 2, 368639, &tau, bits),
                     PICPQ_BUDGET_UNMET);
    /* a pruned 1-bit layer cannot lose a bit: with min_bits = 0 no τ is valid */
    tau = -1;
    bits[0] = -7;
    ck_assert_status(picpq_quant_bits_solve(net, NULL, half, B1, 0, 1e9, &tau, bits),
                     PICPQ_E_OUT_OF_RANGE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "layer 0"));
    ck_assert_double_eq(tau, -1);
    ck_assert_int_eq(bits[0], -7);
    /* ... and with the clamp it keeps its 1 bit */
    ck_assert_status(picpq_quant_bits_solve(net, NULL, half, B1, 2, 1e9, &tau, bits), PICPQ_OK);
    ck_assert_int_eq(bits[0], 1);
    ck_assert_int_eq(bits[1], 8);
    picpq_net_free(net);
}
END_TEST

START_TEST(test_from_plan_stale)
{
    /* a plan whose net grew afterwards is refused (BAD_STATE from the net) */
    picpq_net *net, *other;
    picpq_plan *plan, *other_plan;
    double s[16], tau = -1;
    int32_t id, B[16], bits[16];
    vgg_fixture(&net, &plan);
    ck_assert_status(picpq_net_add_linear(net, 10, 10, &id), PICPQ_OK);
    for (id = 0; id < 16; id++) {
        s[id] = -1;
        B[id] = id < 15 ? vgg_B[id] : 32;
        bits[id] = -7;
    }
    ck_assert_status(picpq_quant_sparsity_from_plan(net, plan, s), PICPQ_E_BAD_STATE);
    ck_assert_double_eq(s[0], -1); /* untouched */
    for (id = 0; id < 16; id++) s[id] = 1;
    ck_assert_status(picpq_quant_bits_solve(net, plan, s, B, 2, 1e9, &tau, bits),
                     PICPQ_E_BAD_STATE);
    ck_assert_double_eq(tau, -1);
    ck_assert_int_eq(bits[0], -7);
    /* a plan of another net */
    vgg_fixture(&other, &other_plan);
    ck_assert_status(picpq_quant_sparsity_from_plan(net, other_plan, s), PICPQ_E_INVALID_ARG);
    picpq_plan_free(other_plan);
    picpq_net_free(other);
    picpq_plan_free(plan);
    picpq_net_free(net);
}
END_TEST

Suite *quant_suite(void)
{
    Suite *s = suite_create("quant");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_t9_weights);
    tcase_add_test(tc, test_weights_k2_k1_k32);
    tcase_add_test(tc, test_weights_all_zero);
    tcase_add_test(tc, test_weights_match_torch);
    tcase_add_test(tc, test_weights_large_equals_chain);
    tcase_add_test(tc, test_weights_strided);
    tcase_add_test(tc, test_weights_view_in_place);
    tcase_add_test(tc, test_weights_errors);
    tcase_add_test(tc, test_t9_activations);
    tcase_add_test(tc, test_t9_half_even);
    tcase_add_test(tc, test_activations_strided_and_large);
    tcase_add_test(tc, test_activations_errors);
    tcase_add_test(tc, test_export_exact_every_width);
    tcase_add_test(tc, test_export_errors);
    tcase_add_test(tc, test_linear_per_channel);
    tcase_add_test(tc, test_linear_round_trip_error);
    tcase_add_test(tc, test_sparsity_l1);
    tcase_add_test(tc, test_sparsity_l1_4d_and_nonfinite);
    tcase_add_test(tc, test_t8_head);
    tcase_add_test(tc, test_t8_c0_kept_ratio);
    tcase_add_test(tc, test_vgg_fixture_bits);
    tcase_add_test(tc, test_bits_clamp_and_32);
    tcase_add_test(tc, test_bits_errors);
    tcase_add_test(tc, test_pack_layout);
    tcase_add_test(tc, test_pack_layout_every_width);
    tcase_add_test(tc, test_pack_round_trip);
    tcase_add_test(tc, test_pack_errors);
    tcase_add_test(tc, test_packed_size);
    suite_add_tcase(s, tc);
    tc = tcase_create("plan");
    tcase_add_test(tc, test_sparsity_from_plan_vgg);
    tcase_add_test(tc, test_bits_solve_vgg);
    tcase_add_test(tc, test_bits_fill_vgg);
    tcase_add_test(tc, test_bits_solve_edges);
    tcase_add_test(tc, test_from_plan_stale);
    suite_add_tcase(s, tc);
    return s;
}
