/* Filter property: matrix rank (METHOD §3.1, T1) and the streaming ranker.
 * White-box where needed: picpq__matrix_rank_mode forces the sgesdd
 * reference, and the ranker's counts are set near INT64_MAX directly. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "picpq_internal.h"
#include "testutil.h"

/* ---- helpers ----------------------------------------------------------- */

static uint64_t rng_state = 88172645463325252ull;

static double uniform(void) /* xorshift64*, in [0, 1) */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static double gaussian(void)
{
    double u = uniform() + 1e-300, v = uniform();
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* a (h x w, row-major) = (h x k Gaussian) (k x w Gaussian), rounded to float */
static void low_rank(float *a, int64_t h, int64_t w, int64_t k)
{
    double *u = malloc(sizeof(double) * (size_t)(h * k + 1));
    double *v = malloc(sizeof(double) * (size_t)(k * w + 1));
    int64_t i, j, l;
    for (i = 0; i < h * k; i++) u[i] = gaussian();
    for (i = 0; i < k * w; i++) v[i] = gaussian();
    for (i = 0; i < h; i++)
        for (j = 0; j < w; j++) {
            double s = 0;
            for (l = 0; l < k; l++) s += u[i * k + l] * v[l * w + j];
            a[i * w + j] = (float)s;
        }
    free(u);
    free(v);
}

/* Apply the Householder reflection I − 2xxᵀ/xᵀx (random x) to the rows
 * (side 0) or the columns (side 1) of the h x w double matrix m. */
static void reflect(double *m, int64_t h, int64_t w, int side)
{
    int64_t n = side ? w : h, i, j;
    double x[64], xx = 0;
    for (i = 0; i < n; i++) {
        x[i] = gaussian();
        xx += x[i] * x[i];
    }
    for (j = 0; j < (side ? h : w); j++) {
        double d = 0;
        for (i = 0; i < n; i++) d += x[i] * (side ? m[j * w + i] : m[i * w + j]);
        d *= 2 / xx;
        for (i = 0; i < n; i++) {
            if (side) m[j * w + i] -= d * x[i];
            else m[i * w + j] -= d * x[i];
        }
    }
}

/* A matrix with prescribed singular values sv[0..min(h,w)) (up to float
 * rounding): diag(sv) rotated by random reflections on both sides. */
static void with_singular_values(float *a, int64_t h, int64_t w, const double *sv)
{
    double m[64 * 64];
    int64_t i, r;
    memset(m, 0, sizeof m);
    for (i = 0; i < (h < w ? h : w); i++) m[i * w + i] = sv[i];
    for (r = 0; r < 3; r++) {
        reflect(m, h, w, 0);
        reflect(m, h, w, 1);
    }
    for (i = 0; i < h * w; i++) a[i] = (float)m[i];
}

static int64_t rank_of(const float *a, int64_t h, int64_t w)
{
    int64_t r = -7;
    ck_assert_status(picpq_matrix_rank_f32(a, h, w, w, &r), PICPQ_OK);
    return r;
}

static int64_t reference_rank(const float *a, int64_t h, int64_t w)
{
    int64_t r = -7;
    ck_assert_status(picpq__matrix_rank_mode(a, h, w, w, 0, -1, PICPQ__RANK_SGESDD, &r), PICPQ_OK);
    return r;
}

/* ---- T1 and the rule ----------------------------------------------------- */

START_TEST(test_t1_matrices)
{
    const float a[4] = {1, 2, 2, 4}, zero[6] = {0}, eye[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    const float d7[4] = {1, 0, 0, 1e-7f}, d6[4] = {1, 0, 0, 1e-6f};
    ck_assert_int_eq(rank_of(a, 2, 2), 1);
    ck_assert_int_eq(rank_of(zero, 2, 3), 0);
    ck_assert_int_eq(rank_of(eye, 3, 3), 3);
    ck_assert_int_eq(rank_of(d7, 2, 2), 1); /* 1e-7 < tol = 2·2^-23 = 2.384e-7 */
    ck_assert_int_eq(rank_of(d6, 2, 2), 2);
}
END_TEST

/* T1 running mean: ranks {32, 30} then {31, 31} -> FP = 31. */
START_TEST(test_t1_running_mean)
{
    const int64_t ch = 1, shape[4] = {2, 1, 32, 32};
    static float maps[2 * 32 * 32];
    picpq_ranker *rk;
    picpq_tensor *t;
    double fp = 0;
    int64_t i, images;
    ck_assert_status(picpq_ranker_create(1, &ch, &rk), PICPQ_OK);
    ck_assert_status(picpq_tensor_wrap(maps, PICPQ_F32, 4, shape, NULL, &t), PICPQ_OK);
    memset(maps, 0, sizeof maps);
    for (i = 0; i < 32; i++) maps[i * 33] = 1;           /* rank 32 */
    for (i = 0; i < 30; i++) maps[1024 + i * 33] = 2.5f; /* rank 30 */
    ck_assert_status(picpq_ranker_feed(rk, 0, t), PICPQ_OK);
    memset(maps, 0, sizeof maps);
    for (i = 0; i < 31; i++) maps[i * 33] = maps[1024 + i * 33] = 1; /* 31, 31 */
    ck_assert_status(picpq_ranker_feed(rk, 0, t), PICPQ_OK);
    ck_assert_status(picpq_ranker_fp(rk, 0, &fp, 1), PICPQ_OK);
    ck_assert_double_eq(fp, 31.0);
    ck_assert_status(picpq_ranker_images(rk, 0, &images), PICPQ_OK);
    ck_assert_int_eq(images, 4);
    picpq_tensor_free(t);
    picpq_ranker_free(rk);
}
END_TEST

/* Rank-k products for every k and several shapes (rectangular included):
 * exactly k, and the same as the sgesdd reference. */
START_TEST(test_low_rank_products)
{
    static const int64_t shapes[][2] = {{8, 8},  {14, 14}, {16, 16}, {7, 12}, {12, 7},
                                        {3, 20}, {28, 28}, {32, 32}, {1, 9},  {9, 1}};
    static float a[32 * 32];
    size_t s;
    int64_t k;
    for (s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t h = shapes[s][0], w = shapes[s][1], m = h < w ? h : w;
        for (k = 0; k <= m; k++) {
            low_rank(a, h, w, k);
            ck_assert_msg(rank_of(a, h, w) == k, "%lldx%lld rank %lld", (long long)h, (long long)w,
                          (long long)k);
            ck_assert_int_eq(reference_rank(a, h, w), k);
        }
    }
}
END_TEST

/* The certificate never changes the answer: random, low-rank, post-ReLU,
 * zero rows and singular values scattered around the tolerance, compared
 * with the sgesdd-only route. Also counts that both routes are exercised. */
START_TEST(test_fast_equals_sgesdd)
{
    static const int64_t shapes[][2] = {{2, 2},  {7, 7},  {8, 8},  {14, 14},
                                        {5, 11}, {11, 5}, {16, 16}};
    static float a[16 * 16];
    double sv[16];
    size_t s;
    int64_t t, i, fast = 0, fallback = 0;
    for (s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t h = shapes[s][0], w = shapes[s][1], m = h < w ? h : w, n = h < w ? w : h;
        for (t = 0; t < 60; t++) {
            int kind = (int)(t % 5);
            int64_t r_auto, r_ref, r_fast, r_port;
            if (kind == 0) {
                for (i = 0; i < h * w; i++) a[i] = (float)gaussian();
            } else if (kind == 1 || kind == 2) {
                low_rank(a, h, w, (int64_t)(uniform() * (double)(m + 1)));
                if (kind == 2)
                    for (i = 0; i < h * w; i++) a[i] = a[i] > 0 ? a[i] : 0;
            } else if (kind == 3) {
                for (i = 0; i < h * w; i++) a[i] = (float)gaussian();
                for (i = 0; i < w; i++) a[(t % h) * w + i] = 0;
                for (i = 0; i < h; i++) a[i * w + (t % w)] = 0;
            } else {
                sv[0] = 1;
                for (i = 1; i < m; i++)
                    sv[i] = uniform() < 0.5 ? uniform()
                                            : (double)n * FLT_EPSILON * (0.5 + uniform());
                with_singular_values(a, h, w, sv);
            }
            ck_assert_status(picpq__matrix_rank_mode(a, h, w, w, 0, -1, PICPQ__RANK_AUTO, &r_auto),
                             PICPQ_OK);
            r_ref = reference_rank(a, h, w);
            ck_assert_int_eq(r_auto, r_ref);
            ck_assert_status(
                picpq__matrix_rank_mode(a, h, w, w, 0, -1, PICPQ__RANK_FAST_ONLY, &r_fast),
                PICPQ_OK);
            ck_assert_status(picpq__matrix_rank_mode(a, h, w, w, 0, -1,
                                                     PICPQ__RANK_FAST_ONLY | PICPQ__RANK_PORTABLE,
                                                     &r_port),
                             PICPQ_OK);
            ck_assert_int_eq(r_port, r_fast); /* the AVX2 and portable kernels agree */
            if (r_fast >= 0) {
                ck_assert_int_eq(r_fast, r_ref);
                fast++;
            } else {
                fallback++;
            }
        }
    }
    ck_assert_int_gt(fast, 200);
    ck_assert_int_gt(fallback, 10);
}
END_TEST

/* Huge, tiny and subnormal magnitudes (where the certificate steps aside)
 * give the sgesdd rule's rank, never a crash. */
START_TEST(test_extreme_magnitudes)
{
    static const float scales[] = {FLT_MAX, 1e30f, 1e-30f, 1e-40f, 1.4e-45f};
    float a[6 * 6];
    size_t s;
    int64_t i, r;
    for (s = 0; s < sizeof scales / sizeof scales[0]; s++) {
        double big = 0;
        low_rank(a, 6, 6, 3);
        for (i = 0; i < 36; i++) big = fabs(a[i]) > big ? fabs(a[i]) : big;
        for (i = 0; i < 36; i++) a[i] = (float)((double)a[i] / big * scales[s]);
        ck_assert_status(picpq_matrix_rank_f32(a, 6, 6, 6, &r), PICPQ_OK);
        ck_assert_int_eq(r, reference_rank(a, 6, 6));
        /* near FLT_MAX, σ1 overflows float: sgesdd returns Inf, tol = Inf and
         * the rule gives 0 (numpy too); subnormal rounding may add rank */
        if (scales[s] >= 1e-30f && scales[s] <= 1e30f) ck_assert_int_eq(r, 3);
    }
    for (i = 0; i < 36; i++) a[i] = i % 7 == 0 ? FLT_MAX : 0; /* diag(FLT_MAX) */
    ck_assert_status(picpq_matrix_rank_f32(a, 6, 6, 6, &r), PICPQ_OK);
    ck_assert_int_eq(r, reference_rank(a, 6, 6));
}
END_TEST

/* Explicit tolerances: tol = max(atol, rtol·σ1), strict `>`. */
START_TEST(test_atol_rtol)
{
    const float d[9] = {1, 0, 0, 0, 0.5f, 0, 0, 0, 0.25f};
    const int64_t ch = 1, shape[4] = {1, 1, 3, 3};
    picpq_ranker *rk;
    picpq_tensor *t;
    double fp, v;
    int64_t r;
    ck_assert_status(picpq__matrix_rank_mode(d, 3, 3, 3, 0, 0.5, PICPQ__RANK_AUTO, &r), PICPQ_OK);
    ck_assert_int_eq(r, 1); /* 0.5 is not > 0.5 */
    ck_assert_status(picpq__matrix_rank_mode(d, 3, 3, 3, 0.3, 0, PICPQ__RANK_AUTO, &r), PICPQ_OK);
    ck_assert_int_eq(r, 2);
    ck_assert_status(picpq__matrix_rank_mode(d, 3, 3, 3, 2, -1, PICPQ__RANK_AUTO, &r), PICPQ_OK);
    ck_assert_int_eq(r, 0);
    ck_assert_status(picpq_ranker_create(1, &ch, &rk), PICPQ_OK);
    ck_assert_status(picpq_tensor_wrap((void *)d, PICPQ_F32, 4, shape, NULL, &t), PICPQ_OK);
    ck_assert_status(picpq_ranker_set_double(rk, PICPQ_RANK_RTOL, 0.3), PICPQ_OK);
    ck_assert_status(picpq_ranker_set_double(rk, PICPQ_RANK_ATOL, 0.1), PICPQ_OK);
    ck_assert_status(picpq_ranker_get_double(rk, PICPQ_RANK_RTOL, &v), PICPQ_OK);
    ck_assert_double_eq(v, 0.3);
    ck_assert_status(picpq_ranker_feed(rk, 0, t), PICPQ_OK); /* tol 0.3: rank 2 */
    ck_assert_status(picpq_ranker_set_double(rk, PICPQ_RANK_ATOL, 0.2), PICPQ_OK);
    ck_assert_status(picpq_ranker_set_double(rk, PICPQ_RANK_RTOL, 0.1), PICPQ_OK);
    ck_assert_status(picpq_ranker_feed(rk, 0, t), PICPQ_OK); /* tol 0.2: rank 3 */
    ck_assert_status(picpq_ranker_fp(rk, 0, &fp, 1), PICPQ_OK);
    ck_assert_double_eq(fp, 2.5);
    picpq_tensor_free(t);
    picpq_ranker_free(rk);
}
END_TEST

/* ld > cols: the padding (NaN here) is never read. */
START_TEST(test_leading_dimension)
{
    static float a[12 * 9], packed[12 * 7];
    int64_t i, j;
    for (i = 0; i < 12 * 9; i++) a[i] = NAN;
    low_rank(packed, 12, 7, 4);
    for (i = 0; i < 12; i++)
        for (j = 0; j < 7; j++) a[i * 9 + j] = packed[i * 7 + j];
    ck_assert_status(picpq_matrix_rank_f32(a, 12, 7, 9, &i), PICPQ_OK);
    ck_assert_int_eq(i, 4);
}
END_TEST

START_TEST(test_matrix_rank_errors)
{
    const float a[4] = {1, 2, 3, NAN}, inf[2] = {1, INFINITY};
    int64_t r = 42;
    ck_assert_status(picpq_matrix_rank_f32(NULL, 2, 2, 2, &r), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_matrix_rank_f32(a, 2, 2, 2, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_matrix_rank_f32(a, 0, 2, 2, &r), PICPQ_E_SHAPE);
    ck_assert_status(picpq_matrix_rank_f32(a, 2, -1, 2, &r), PICPQ_E_SHAPE);
    ck_assert_status(picpq_matrix_rank_f32(a, 2, 2, 1, &r), PICPQ_E_SHAPE);
    ck_assert_status(picpq_matrix_rank_f32(a, INT64_MAX / 2, 2, 4, &r), PICPQ_E_OVERFLOW);
    ck_assert_status(picpq_matrix_rank_f32(a, INT32_MAX, 2, 2, &r), PICPQ_E_UNSUPPORTED);
    ck_assert_status(picpq_matrix_rank_f32(a, 2, 2, 2, &r), PICPQ_E_NONFINITE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "a[1, 1]"));
    ck_assert_status(picpq_matrix_rank_f32(inf, 1, 2, 2, &r), PICPQ_E_NONFINITE);
    ck_assert_int_eq(r, 42);
}
END_TEST

/* ---- ranker ---------------------------------------------------------------- */

enum { N_IMG = 3, N_CH = 5, H = 9, W = 11 };

/* Maps of mixed ranks (random, low rank, zero, near the tolerance). */
static void fill_maps(float *maps)
{
    int64_t n, c, i;
    double sv[9];
    for (n = 0; n < N_IMG; n++)
        for (c = 0; c < N_CH; c++) {
            float *m = maps + (n * N_CH + c) * H * W;
            switch ((n + c) % 5) {
            case 0: low_rank(m, H, W, (n * 3 + c) % (H + 1)); break;
            case 1:
                for (i = 0; i < H * W; i++) m[i] = (float)gaussian();
                break;
            case 2: memset(m, 0, sizeof(float) * H * W); break;
            case 3: /* zero rows and columns: the kernel drops them */
                for (i = 0; i < H * W; i++)
                    m[i] = (i / W) % 3 == 1 || i % W % 3 == 2 ? 0 : (float)gaussian();
                break;
            default:
                for (i = 0; i < H; i++) sv[i] = i % 2 ? 11 * FLT_EPSILON : 1;
                with_singular_values(m, H, W, sv);
            }
        }
}

static picpq_ranker *new_ranker(void)
{
    const int64_t ch[2] = {N_CH, 2};
    picpq_ranker *rk = NULL;
    ck_assert_status(picpq_ranker_create(2, ch, &rk), PICPQ_OK);
    return rk;
}

static void fp_of(const picpq_ranker *rk, double *fp)
{
    ck_assert_status(picpq_ranker_fp(rk, 0, fp, N_CH), PICPQ_OK);
}

START_TEST(test_feed_matches_matrix_rank)
{
    static float maps[N_IMG * N_CH * H * W];
    const int64_t shape[4] = {N_IMG, N_CH, H, W};
    picpq_ranker *rk = new_ranker();
    picpq_tensor *t;
    double fp[N_CH];
    int64_t n, c;
    fill_maps(maps);
    ck_assert_status(picpq_tensor_wrap(maps, PICPQ_F32, 4, shape, NULL, &t), PICPQ_OK);
    ck_assert_status(picpq_ranker_feed(rk, 0, t), PICPQ_OK);
    fp_of(rk, fp);
    {
        /* every map is decided one way or the other; the near-threshold
         * maps of fill_maps need the fallback */
        int64_t certified = -1, fallback = -1;
        ck_assert_status(picpq_ranker_stats(rk, &certified, &fallback), PICPQ_OK);
        ck_assert_int_eq(certified + fallback, N_IMG * N_CH);
        ck_assert_int_gt(fallback, 0);
        ck_assert_int_gt(certified, 0);
        ck_assert_status(picpq_ranker_stats(NULL, &certified, NULL), PICPQ_E_INVALID_ARG);
        ck_assert_status(picpq_ranker_reset(rk), PICPQ_OK);
        ck_assert_status(picpq_ranker_stats(rk, &certified, &fallback), PICPQ_OK);
        ck_assert_int_eq(certified + fallback, 0);
        ck_assert_status(picpq_ranker_feed(rk, 0, t), PICPQ_OK);
    }
    for (c = 0; c < N_CH; c++) {
        int64_t sum = 0;
        for (n = 0; n < N_IMG; n++) sum += reference_rank(maps + (n * N_CH + c) * H * W, H, W);
        ck_assert_double_eq(fp[c], (double)sum / N_IMG);
    }
    picpq_tensor_free(t);
    picpq_ranker_free(rk);
}
END_TEST

/* Every shape from 1x1 to 12x12 through one ranker (its scratch reused map
 * after map, two workers): random, zero rows and columns, low-rank,
 * post-ReLU and near-threshold maps give the sgesdd rule's ranks. */
START_TEST(test_all_small_shapes)
{
    enum { KINDS = 6 };
    static float maps[2 * KINDS * 12 * 12];
    double sv[12];
    int64_t h, w, k, i;
    for (h = 1; h <= 12; h++)
        for (w = 1; w <= 12; w++) {
            const int64_t ch = KINDS, shape[4] = {2, KINDS, h, w};
            int64_t m = h < w ? h : w, expect[KINDS] = {0};
            picpq_ranker *rk;
            picpq_tensor *t;
            ck_assert_status(picpq_ranker_create(1, &ch, &rk), PICPQ_OK);
            ck_assert_status(picpq_ranker_set_int(rk, PICPQ_RANK_THREADS, 2), PICPQ_OK);
            rk->min_work = 1;
            ck_assert_status(picpq_tensor_wrap(maps, PICPQ_F32, 4, shape, NULL, &t), PICPQ_OK);
            for (k = 0; k < 2 * KINDS; k++) {
                float *a = maps + k * h * w;
                switch (k % KINDS) {
                case 0:
                    for (i = 0; i < h * w; i++) a[i] = (float)gaussian();
                    break;
                case 1:
                    for (i = 0; i < h * w; i++)
                        a[i] = (i / w) % 2 == 1 || i % w % 3 == 1 ? 0 : (float)gaussian();
                    break;
                case 2: low_rank(a, h, w, (int64_t)(uniform() * (double)(m + 1))); break;
                case 3:
                    low_rank(a, h, w, (int64_t)(uniform() * (double)(m + 1)));
                    for (i = 0; i < h * w; i++) a[i] = a[i] > 0 ? a[i] : 0;
                    break;
                case 4: memset(a, 0, sizeof(float) * (size_t)(h * w)); break;
                default:
                    for (i = 0; i < m; i++)
                        sv[i] = i % 2 ? (double)(h > w ? h : w) * FLT_EPSILON * 0.9 : 1;
                    with_singular_values(a, h, w, sv);
                }
                expect[k % KINDS] += reference_rank(a, h, w);
            }
            ck_assert_status(picpq_ranker_feed(rk, 0, t), PICPQ_OK);
            for (k = 0; k < KINDS; k++)
                ck_assert_msg(rk->sums[k] == expect[k], "%lldx%lld kind %lld: %lld != %lld",
                              (long long)h, (long long)w, (long long)k, (long long)rk->sums[k],
                              (long long)expect[k]);
            picpq_tensor_free(t);
            picpq_ranker_free(rk);
        }
}
END_TEST

/* A strided view (every other image of a larger batch, W padded) and a
 * channels-last layout give the FP of the contiguous tensor. */
START_TEST(test_strided_and_channels_last)
{
    static float maps[N_IMG * N_CH * H * W], big[2 * N_IMG * N_CH * H * (W + 3)],
        nhwc[N_IMG * H * W * N_CH];
    const int64_t shape[4] = {N_IMG, N_CH, H, W};
    const int64_t big_strides[4] = {2 * N_CH * H * (W + 3) * 4, H * (W + 3) * 4, (W + 3) * 4, 4};
    const int64_t nhwc_strides[4] = {H * W * N_CH * 4, 4, W * N_CH * 4, N_CH * 4};
    picpq_tensor *t, *tb, *tl;
    picpq_ranker *a = new_ranker(), *b = new_ranker(), *l = new_ranker();
    double fa[N_CH], fb[N_CH], fl[N_CH];
    int64_t n, c, i, j;
    fill_maps(maps);
    for (i = 0; i < (int64_t)(sizeof big / sizeof big[0]); i++) big[i] = NAN; /* never read */
    for (n = 0; n < N_IMG; n++)
        for (c = 0; c < N_CH; c++)
            for (i = 0; i < H; i++)
                for (j = 0; j < W; j++) {
                    float x = maps[((n * N_CH + c) * H + i) * W + j];
                    big[((2 * n * N_CH + c) * H + i) * (W + 3) + j] = x;
                    nhwc[((n * H + i) * W + j) * N_CH + c] = x;
                }
    ck_assert_status(picpq_tensor_wrap(maps, PICPQ_F32, 4, shape, NULL, &t), PICPQ_OK);
    ck_assert_status(picpq_tensor_wrap(big, PICPQ_F32, 4, shape, big_strides, &tb), PICPQ_OK);
    ck_assert_status(picpq_tensor_wrap(nhwc, PICPQ_F32, 4, shape, nhwc_strides, &tl), PICPQ_OK);
    ck_assert_status(picpq_ranker_feed(a, 0, t), PICPQ_OK);
    ck_assert_status(picpq_ranker_feed(b, 0, tb), PICPQ_OK);
    ck_assert_status(picpq_ranker_feed(l, 0, tl), PICPQ_OK);
    fp_of(a, fa);
    fp_of(b, fb);
    fp_of(l, fl);
    for (c = 0; c < N_CH; c++) {
        ck_assert_double_eq(fa[c], fb[c]);
        ck_assert_double_eq(fa[c], fl[c]);
    }
    picpq_tensor_free(t);
    picpq_tensor_free(tb);
    picpq_tensor_free(tl);
    picpq_ranker_free(a);
    picpq_ranker_free(b);
    picpq_ranker_free(l);
}
END_TEST

/* merge(A, B) equals one ranker fed both batches; thread counts 1, 2, 3
 * and 0 (online cores) give identical sums. */
START_TEST(test_merge_and_threads)
{
    static float m1[N_IMG * N_CH * H * W], m2[N_IMG * N_CH * H * W];
    const int64_t shape[4] = {N_IMG, N_CH, H, W};
    picpq_tensor *t1, *t2;
    picpq_ranker *one = new_ranker(), *a = new_ranker(), *b = new_ranker();
    double f1[N_CH], fa[N_CH];
    int64_t threads, c, images;
    fill_maps(m1);
    fill_maps(m2);
    ck_assert_status(picpq_tensor_wrap(m1, PICPQ_F32, 4, shape, NULL, &t1), PICPQ_OK);
    ck_assert_status(picpq_tensor_wrap(m2, PICPQ_F32, 4, shape, NULL, &t2), PICPQ_OK);
    ck_assert_status(picpq_ranker_feed(one, 0, t1), PICPQ_OK);
    ck_assert_status(picpq_ranker_feed(one, 0, t2), PICPQ_OK);
    ck_assert_status(picpq_ranker_feed(a, 0, t1), PICPQ_OK);
    ck_assert_status(picpq_ranker_feed(b, 0, t2), PICPQ_OK);
    ck_assert_status(picpq_ranker_merge(a, b), PICPQ_OK);
    fp_of(one, f1);
    fp_of(a, fa);
    for (c = 0; c < N_CH; c++) ck_assert_double_eq(f1[c], fa[c]);
    ck_assert_status(picpq_ranker_images(a, 0, &images), PICPQ_OK);
    ck_assert_int_eq(images, 2 * N_IMG);
    ck_assert_status(picpq_ranker_images(a, 1, &images), PICPQ_OK);
    ck_assert_int_eq(images, 0);
    for (threads = 0; threads <= 3; threads++) {
        picpq_ranker *rk = new_ranker();
        int64_t got;
        rk->min_work = 1; /* white-box: real workers even for this small batch */
        const int64_t want = threads == 0 ? PICPQ_AUTO : threads; /* AUTO: every core */
        ck_assert_status(picpq_ranker_set_int(rk, PICPQ_RANK_THREADS, want), PICPQ_OK);
        ck_assert_status(picpq_ranker_get_int(rk, PICPQ_RANK_THREADS, &got), PICPQ_OK);
        ck_assert_int_eq(got, want);
        ck_assert_status(picpq_ranker_feed(rk, 0, t1), PICPQ_OK);
        ck_assert_status(picpq_ranker_feed(rk, 0, t2), PICPQ_OK);
        ck_assert_mem_eq(rk->sums, one->sums, N_CH * sizeof(int64_t));
        picpq_ranker_free(rk);
    }
    picpq_tensor_free(t1);
    picpq_tensor_free(t2);
    picpq_ranker_free(one);
    picpq_ranker_free(a);
    picpq_ranker_free(b);
}
END_TEST

/* A batch large enough for three workers at the default work size gives
 * the single-thread sums. */
START_TEST(test_threads_default_work)
{
    enum { BN = 40, BC = 8, BH = 16, BW = 20 };
    static float maps[BN * BC * BH * BW];
    const int64_t ch = BC, shape[4] = {BN, BC, BH, BW};
    picpq_ranker *one, *three;
    picpq_tensor *t;
    int64_t i;
    for (i = 0; i < BN * BC; i++) low_rank(maps + i * BH * BW, BH, BW, i % (BH + 1));
    ck_assert_int_ge((int64_t)(sizeof maps / sizeof maps[0]), 3 * PICPQ__RANK_MIN_WORK);
    ck_assert_status(picpq_tensor_wrap(maps, PICPQ_F32, 4, shape, NULL, &t), PICPQ_OK);
    ck_assert_status(picpq_ranker_create(1, &ch, &one), PICPQ_OK);
    ck_assert_status(picpq_ranker_create(1, &ch, &three), PICPQ_OK);
    ck_assert_int_eq(three->min_work, PICPQ__RANK_MIN_WORK);
    ck_assert_status(picpq_ranker_set_int(three, PICPQ_RANK_THREADS, 3), PICPQ_OK);
    ck_assert_status(picpq_ranker_feed(one, 0, t), PICPQ_OK);
    ck_assert_status(picpq_ranker_feed(three, 0, t), PICPQ_OK);
    ck_assert_int_eq(three->n_ws, 3);
    ck_assert_mem_eq(one->sums, three->sums, BC * sizeof(int64_t));
    for (i = 0; i < BC; i++) { /* map n*BC + c has rank (n*BC + c) mod 17, exactly */
        int64_t n, expect = 0;
        for (n = 0; n < BN; n++) expect += (n * BC + i) % (BH + 1);
        ck_assert_int_eq(one->sums[i], expect);
    }
    picpq_tensor_free(t);
    picpq_ranker_free(one);
    picpq_ranker_free(three);
}
END_TEST

START_TEST(test_reset_and_params)
{
    picpq_ranker *rk = new_ranker();
    const float m[4] = {1, 0, 0, 1};
    const int64_t shape[4] = {1, 2, 1, 2};
    picpq_tensor *t;
    int64_t v, images;
    double d;
    ck_assert_status(picpq_tensor_wrap((void *)m, PICPQ_F32, 4, shape, NULL, &t), PICPQ_OK);
    ck_assert_status(picpq_ranker_feed(rk, 1, t), PICPQ_OK);
    ck_assert_status(picpq_ranker_set_int(rk, PICPQ_RANK_THREADS, 4), PICPQ_OK);
    ck_assert_status(picpq_ranker_set_int(rk, PICPQ_RANK_THREADS, 0), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_ranker_set_int(rk, PICPQ_RANK_THREADS, -2), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_ranker_set_double(rk, PICPQ_RANK_RTOL, -0.5), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_ranker_set_int(rk, PICPQ_RANK_THREADS, 1025), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_ranker_set_double(rk, PICPQ_RANK_ATOL, -1), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_ranker_set_double(rk, PICPQ_RANK_RTOL, 1.5), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_ranker_set_double(rk, PICPQ_RANK_ATOL, NAN), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_ranker_set_int(rk, PICPQ_RANK_ATOL, 1), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_ranker_set_double(rk, PICPQ_RANK_THREADS, 1), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_ranker_set_int(rk, PICPQ_SEARCH_POPULATION, 8), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_ranker_get_int(rk, PICPQ_RANK_RTOL, &v), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_ranker_get_double(rk, PICPQ_PLAN_SAFEGUARD, &d), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_ranker_get_int(NULL, PICPQ_RANK_THREADS, &v), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_ranker_get_double(rk, PICPQ_RANK_ATOL, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_ranker_set_int(NULL, PICPQ_RANK_THREADS, 1), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_ranker_set_double(NULL, PICPQ_RANK_ATOL, 1), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_ranker_reset(rk), PICPQ_OK);
    ck_assert_status(picpq_ranker_get_int(rk, PICPQ_RANK_THREADS, &v), PICPQ_OK);
    ck_assert_int_eq(v, 1);
    ck_assert_status(picpq_ranker_get_double(rk, PICPQ_RANK_RTOL, &d), PICPQ_OK);
    ck_assert_double_eq(d, -1);
    ck_assert_status(picpq_ranker_images(rk, 1, &images), PICPQ_OK);
    ck_assert_int_eq(images, 0);
    ck_assert_status(picpq_ranker_reset(NULL), PICPQ_E_INVALID_ARG);
    picpq_ranker_free(NULL);
    picpq_tensor_free(t);
    picpq_ranker_free(rk);
}
END_TEST

/* Every bad input leaves the sums and counts exactly as they were. */
START_TEST(test_feed_errors)
{
    static float maps[N_IMG * N_CH * H * W];
    const int64_t shape[4] = {N_IMG, N_CH, H, W}, shape3[3] = {N_IMG * N_CH, H, W};
    const int64_t wrong_c[4] = {N_IMG, N_CH - 1, H, W};
    picpq_ranker *rk = new_ranker();
    picpq_tensor *t, *t3, *tc, *td;
    double before[N_CH], after[N_CH];
    int64_t images, saved;
    fill_maps(maps);
    ck_assert_status(picpq_tensor_wrap(maps, PICPQ_F32, 4, shape, NULL, &t), PICPQ_OK);
    ck_assert_status(picpq_tensor_wrap(maps, PICPQ_F32, 3, shape3, NULL, &t3), PICPQ_OK);
    ck_assert_status(picpq_tensor_wrap(maps, PICPQ_F32, 4, wrong_c, NULL, &tc), PICPQ_OK);
    ck_assert_status(picpq_tensor_create(PICPQ_F64, 4, shape, &td), PICPQ_OK);
    ck_assert_status(picpq_ranker_feed(rk, 0, t), PICPQ_OK);
    fp_of(rk, before);
    ck_assert_status(picpq_ranker_feed(NULL, 0, t), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_ranker_feed(rk, 0, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_ranker_feed(rk, 0, td), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_ranker_feed(rk, 0, t3), PICPQ_E_SHAPE);
    ck_assert_status(picpq_ranker_feed(rk, 0, tc), PICPQ_E_SHAPE);
    ck_assert_status(picpq_ranker_feed(rk, 2, t), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_ranker_feed(rk, -1, t), PICPQ_E_OUT_OF_RANGE);
    /* NaN / Inf in the last map, with 1 and 3 threads */
    maps[N_IMG * N_CH * H * W - 1] = NAN;
    ck_assert_status(picpq_ranker_feed(rk, 0, t), PICPQ_E_NONFINITE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "maps[2, 4, 8, 10]"));
    ck_assert_status(picpq_ranker_set_int(rk, PICPQ_RANK_THREADS, 3), PICPQ_OK);
    rk->min_work = 1;
    maps[N_IMG * N_CH * H * W - 1] = -INFINITY;
    maps[H * W * 7 + 5] = INFINITY; /* an earlier one: reported first */
    ck_assert_status(picpq_ranker_feed(rk, 0, t), PICPQ_E_NONFINITE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "maps[1, 2, 0, 5]"));
    fill_maps(maps);
    /* a zero size (not constructible through the tensor API: white-box) */
    t->shape[2] = 0;
    ck_assert_status(picpq_ranker_feed(rk, 0, t), PICPQ_E_SHAPE);
    t->shape[2] = H;
    /* maps beyond LAPACK's 32-bit indices: refused before any element is read */
    {
        const int64_t huge[4] = {1, N_CH, 20000, 20000};
        picpq_tensor *th;
        ck_assert_status(picpq_tensor_wrap(maps, PICPQ_F32, 4, huge, NULL, &th), PICPQ_OK);
        ck_assert_status(picpq_ranker_feed(rk, 0, th), PICPQ_E_UNSUPPORTED);
        picpq_tensor_free(th);
    }
    /* overflow of the image count and of a filter's sum */
    saved = rk->images[0];
    rk->images[0] = INT64_MAX - 1;
    ck_assert_status(picpq_ranker_feed(rk, 0, t), PICPQ_E_OVERFLOW);
    rk->images[0] = saved;
    rk->sums[2] += INT64_MAX - 20;
    ck_assert_status(picpq_ranker_feed(rk, 0, t), PICPQ_E_OVERFLOW);
    rk->sums[2] -= INT64_MAX - 20;
    fp_of(rk, after);
    ck_assert_mem_eq(before, after, sizeof before);
    ck_assert_status(picpq_ranker_images(rk, 0, &images), PICPQ_OK);
    ck_assert_int_eq(images, N_IMG);
    picpq_tensor_free(t);
    picpq_tensor_free(t3);
    picpq_tensor_free(tc);
    picpq_tensor_free(td);
    picpq_ranker_free(rk);
}
END_TEST

START_TEST(test_get_merge_create_errors)
{
    const int64_t ch[2] = {N_CH, 2}, other[2] = {N_CH, 3}, bad[2] = {4, 0};
    picpq_ranker *rk = new_ranker(), *o = NULL, *x = (picpq_ranker *)&o;
    double fp[N_CH];
    int64_t images;
    ck_assert_status(picpq_ranker_fp(rk, 0, fp, N_CH), PICPQ_E_BAD_STATE);
    ck_assert_status(picpq_ranker_fp(rk, 0, fp, N_CH - 1), PICPQ_E_SHAPE);
    ck_assert_status(picpq_ranker_fp(rk, 5, fp, N_CH), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_ranker_fp(rk, 0, NULL, N_CH), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_ranker_fp(NULL, 0, fp, N_CH), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_ranker_images(rk, 2, &images), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_ranker_images(rk, 0, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_int_eq(picpq_ranker_num_layers(rk), 2);
    ck_assert_int_eq(picpq_ranker_num_layers(NULL), 0);
    ck_assert_status(picpq_ranker_layer_channels(rk, 1, &images), PICPQ_OK);
    ck_assert_int_eq(images, 2);
    ck_assert_status(picpq_ranker_layer_channels(rk, 2, &images), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_ranker_layer_channels(rk, -1, &images), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_ranker_layer_channels(rk, 0, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_ranker_layer_channels(NULL, 0, &images), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_ranker_create(2, bad, &x), PICPQ_E_SHAPE);
    ck_assert_ptr_null(x);
    ck_assert_status(picpq_ranker_create(0, ch, &o), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_ranker_create(2, NULL, &o), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_ranker_create(2, ch, NULL), PICPQ_E_INVALID_ARG);
    {
        const int64_t huge[2] = {INT64_MAX, 1};
        ck_assert_status(picpq_ranker_create(2, huge, &o), PICPQ_E_OVERFLOW);
    }
    ck_assert_status(picpq_ranker_create(2, other, &o), PICPQ_OK);
    ck_assert_status(picpq_ranker_merge(rk, o), PICPQ_E_SHAPE);
    picpq_ranker_free(o);
    ck_assert_status(picpq_ranker_create(1, ch, &o), PICPQ_OK);
    ck_assert_status(picpq_ranker_merge(rk, o), PICPQ_E_SHAPE);
    picpq_ranker_free(o);
    o = new_ranker();
    o->images[1] = 5;
    o->sums[N_CH] = 7;
    rk->images[1] = INT64_MAX - 4;
    ck_assert_status(picpq_ranker_merge(rk, o), PICPQ_E_OVERFLOW);
    rk->images[1] = 1;
    rk->sums[N_CH] = INT64_MAX - 6;
    ck_assert_status(picpq_ranker_merge(rk, o), PICPQ_E_OVERFLOW);
    ck_assert_int_eq(rk->images[1], 1); /* unchanged */
    rk->sums[N_CH] = 3;
    ck_assert_status(picpq_ranker_merge(rk, o), PICPQ_OK);
    ck_assert_int_eq(rk->images[1], 6);
    ck_assert_int_eq(rk->sums[N_CH], 10);
    ck_assert_status(picpq_ranker_merge(rk, rk), PICPQ_OK); /* self: doubles */
    ck_assert_int_eq(rk->sums[N_CH], 20);
    ck_assert_status(picpq_ranker_merge(NULL, o), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_ranker_merge(rk, NULL), PICPQ_E_INVALID_ARG);
    picpq_ranker_free(o);
    picpq_ranker_free(rk);
}
END_TEST

START_TEST(test_create_allocation_failures)
{
    const int64_t ch[3] = {4, 8, 2};
    long n;
    for (n = 1;; n++) {
        test_alloc ta;
        picpq_allocator a = test_alloc_make(&ta, n);
        picpq_ranker *rk = (picpq_ranker *)&n;
        picpq_status s = picpq_ranker_create_ex(3, ch, &a, &rk);
        if (s == PICPQ_OK) {
            picpq_ranker_free(rk);
            ck_assert_int_eq(ta.live, 0);
            break;
        }
        ck_assert_int_eq(s, PICPQ_E_NOMEM);
        ck_assert_str_ne(picpq_last_error(), "");
        ck_assert_ptr_null(rk);
        ck_assert_int_eq(ta.live, 0);
    }
    ck_assert_int_eq(n, 6); /* handle, 4 arrays, then success */
}
END_TEST

/* Scratch growth on a new shape (and more workers): a failed allocation
 * returns NOMEM with nothing accumulated and nothing leaked; a retry works. */
START_TEST(test_feed_allocation_failures)
{
    static float maps[N_IMG * N_CH * H * W];
    const int64_t ch[2] = {N_CH, 2}, shape[4] = {N_IMG, N_CH, H, W};
    const int64_t small[4] = {1, N_CH, 4, 4};
    picpq_tensor *t, *ts;
    long n, failures = 0;
    fill_maps(maps);
    ck_assert_status(picpq_tensor_wrap(maps, PICPQ_F32, 4, shape, NULL, &t), PICPQ_OK);
    ck_assert_status(picpq_tensor_wrap(maps, PICPQ_F32, 4, small, NULL, &ts), PICPQ_OK);
    for (n = 1;; n++) {
        test_alloc ta;
        picpq_allocator a = test_alloc_make(&ta, 0);
        picpq_ranker *rk;
        picpq_status s;
        int64_t images = -1;
        ck_assert_status(picpq_ranker_create_ex(2, ch, &a, &rk), PICPQ_OK);
        ck_assert_status(picpq_ranker_feed(rk, 0, ts), PICPQ_OK); /* 1 worker, 4x4 */
        ck_assert_status(picpq_ranker_set_int(rk, PICPQ_RANK_THREADS, 2), PICPQ_OK);
        rk->min_work = 1;
        ta.fail_at = ta.calls + n;
        s = picpq_ranker_feed(rk, 0, t); /* 2 workers, 9x11: new scratch */
        ck_assert_status(picpq_ranker_images(rk, 0, &images), PICPQ_OK);
        if (s == PICPQ_OK) {
            ck_assert_int_eq(images, 1 + N_IMG);
            picpq_ranker_free(rk);
            ck_assert_int_eq(ta.live, 0);
            break;
        }
        failures++;
        ck_assert_int_eq(s, PICPQ_E_NOMEM);
        ck_assert_int_eq(images, 1);
        ck_assert_int_eq(rk->sums[0] + rk->sums[1] + rk->sums[2] + rk->sums[3] + rk->sums[4], 0);
        ck_assert_status(picpq_ranker_feed(rk, 0, ts), PICPQ_OK); /* still usable */
        picpq_ranker_free(rk);
        ck_assert_int_eq(ta.live, 0);
    }
    ck_assert_int_ge(failures, 10);
    picpq_tensor_free(t);
    picpq_tensor_free(ts);
}
END_TEST

START_TEST(test_create_for_net)
{
    picpq_net *net;
    picpq_ranker *rk = NULL;
    int32_t l0, l1;
    double fp[10];
    const float ones[10 * 2 * 2] = {1, 0, 0, 1};
    const int64_t shape[4] = {1, 10, 2, 2};
    picpq_tensor *t;
    ck_assert_status(picpq_ranker_create_for_net(NULL, &rk), PICPQ_E_INVALID_ARG);
    ck_assert_ptr_null(rk);
    ck_assert_status(picpq_net_create(&net), PICPQ_OK);
    ck_assert_status(picpq_ranker_create_for_net(net, &rk), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_net_add_conv(net, 3, 16, 3, 3, 1, 8, 8, &l0), PICPQ_OK);
    ck_assert_status(picpq_net_add_linear(net, 16, 10, &l1), PICPQ_OK);
    ck_assert_status(picpq_ranker_create_for_net(net, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_ranker_create_for_net(net, &rk), PICPQ_OK);
    ck_assert_int_eq(rk->n_layers, 2);
    ck_assert_int_eq(rk->channels[0], 16);
    ck_assert_int_eq(rk->channels[1], 10);
    ck_assert_status(picpq_tensor_wrap((void *)ones, PICPQ_F32, 4, shape, NULL, &t), PICPQ_OK);
    ck_assert_status(picpq_ranker_feed(rk, 0, t), PICPQ_E_SHAPE);
    ck_assert_status(picpq_ranker_feed(rk, 1, t), PICPQ_OK);
    ck_assert_status(picpq_ranker_fp(rk, 1, fp, 10), PICPQ_OK);
    ck_assert_double_eq(fp[0], 2);
    ck_assert_double_eq(fp[9], 0);
    picpq_tensor_free(t);
    picpq_ranker_free(rk);
    picpq_net_free(net);
}
END_TEST

/* ---- saved state (rank_state.c) ------------------------------------------ */

/* Offsets in the blob of new_ranker() (channels {N_CH, 2}), from the table
 * in docs/FORMATS.md: 24-byte header, n_layers, 2 channel counts, threads,
 * atol, rtol, 2 statistics, 2 image counts, N_CH + 2 sums, CRC. */
enum {
    OFF_LAYERS = 24,
    OFF_CH = 28,
    OFF_THREADS = 44,
    OFF_ATOL = 52,
    OFF_RTOL = 60,
    OFF_STATS = 68,
    OFF_IMAGES = 84,
    OFF_SUMS = 100,
    STATE_LEN = 100 + 8 * (N_CH + 2) + 4
};

static unsigned char *save_state(const picpq_ranker *rk, size_t *len)
{
    unsigned char *buf;
    ck_assert_status(picpq_ranker_save(rk, NULL, 0, len), PICPQ_OK);
    buf = malloc(*len);
    ck_assert_status(picpq_ranker_save(rk, buf, *len, len), PICPQ_OK);
    return buf;
}

static void patch_u64(unsigned char *p, uint64_t v)
{
    int k;
    for (k = 0; k < 8; k++) p[k] = (unsigned char)(v >> (8 * k));
}

static void patch_f64(unsigned char *p, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    patch_u64(p, u);
}

/* Recompute the trailing CRC so that a test reaches the checks behind it. */
static void reseal(unsigned char *buf, size_t len)
{
    uint32_t crc = picpq__crc32(0, buf, len - 4);
    int k;
    for (k = 0; k < 4; k++) buf[len - 4 + k] = (unsigned char)(crc >> (8 * k));
}

static void expect_format_error(const unsigned char *buf, size_t len, const char *words)
{
    picpq_ranker *rk = (picpq_ranker *)&rk;
    ck_assert_status(picpq_ranker_load(buf, len, &rk), PICPQ_E_FORMAT);
    ck_assert_ptr_null(rk);
    ck_assert_msg(strstr(picpq_last_error(), words) != NULL, "message '%s' lacks '%s'",
                  picpq_last_error(), words);
}

/* A ranker fed N_IMG maps of fill_maps into layer 0, with non-default parameters. */
static picpq_ranker *fed_ranker(picpq_tensor **t)
{
    static float maps[N_IMG * N_CH * H * W];
    const int64_t shape[4] = {N_IMG, N_CH, H, W};
    picpq_ranker *rk = new_ranker();
    fill_maps(maps);
    ck_assert_status(picpq_tensor_wrap(maps, PICPQ_F32, 4, shape, NULL, t), PICPQ_OK);
    ck_assert_status(picpq_ranker_feed(rk, 0, *t), PICPQ_OK);
    ck_assert_status(picpq_ranker_set_int(rk, PICPQ_RANK_THREADS, 3), PICPQ_OK);
    ck_assert_status(picpq_ranker_set_double(rk, PICPQ_RANK_ATOL, 0.25), PICPQ_OK);
    ck_assert_status(picpq_ranker_set_double(rk, PICPQ_RANK_RTOL, 0.5), PICPQ_OK);
    return rk;
}

/* The exact bytes of a one-layer ranker, built by Python from the
 * documented layout: struct.pack('<8sIIQIqqddqqqq', b'PQRANKER', 1, 0, 96,
 * 1, 1, 2, 0.5, -1.0, 1, 0, 1, 2) followed by its zlib.crc32 as '<I'. */
START_TEST(test_state_layout)
{
    static const unsigned char expected[96] = {
        0x50, 0x51, 0x52, 0x41, 0x4e, 0x4b, 0x45, 0x52, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x60, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe0, 0x3f, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0xf0, 0xbf, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xee, 0xba, 0x65, 0x95};
    const int64_t ch[1] = {1};
    picpq_ranker *rk, *back = NULL;
    unsigned char *buf;
    size_t len;
    double fp[1];
    ck_assert_status(picpq_ranker_create(1, ch, &rk), PICPQ_OK);
    ck_assert_status(picpq_ranker_set_int(rk, PICPQ_RANK_THREADS, 2), PICPQ_OK);
    ck_assert_status(picpq_ranker_set_double(rk, PICPQ_RANK_ATOL, 0.5), PICPQ_OK);
    rk->sums[0] = 2; /* white-box: one image of rank 2, one certified map */
    rk->images[0] = 1;
    rk->n_fast = 1;
    buf = save_state(rk, &len);
    ck_assert_uint_eq(len, sizeof expected);
    ck_assert_mem_eq(buf, expected, sizeof expected);
    ck_assert_status(picpq_ranker_load(expected, sizeof expected, &back), PICPQ_OK);
    ck_assert_status(picpq_ranker_fp(back, 0, fp, 1), PICPQ_OK);
    ck_assert_double_eq(fp[0], 2);
    free(buf);
    picpq_ranker_free(rk);
    picpq_ranker_free(back);
}
END_TEST

START_TEST(test_state_round_trip)
{
    picpq_tensor *t;
    picpq_ranker *rk = fed_ranker(&t), *back = NULL;
    unsigned char small[STATE_LEN], *buf, *again;
    size_t len = 0, needed = 0, len2;
    double f1[N_CH], f2[N_CH], fp1[2], d;
    int64_t v, images, cert[2], fall[2];
    ck_assert_status(picpq_ranker_save(rk, NULL, 0, &needed), PICPQ_OK);
    ck_assert_uint_eq(needed, STATE_LEN);
    /* too small: needed written, buffer untouched */
    memset(small, 0xab, sizeof small);
    needed = 0;
    ck_assert_status(picpq_ranker_save(rk, small, STATE_LEN - 1, &needed), PICPQ_E_BUFFER);
    ck_assert_uint_eq(needed, STATE_LEN);
    for (v = 0; v < STATE_LEN; v++) ck_assert_int_eq(small[v], 0xab);
    buf = save_state(rk, &len);
    ck_assert_mem_eq(buf, "PQRANKER", 8);
    ck_assert_status(picpq_ranker_load(buf, len, &back), PICPQ_OK);
    ck_assert_mem_eq(back->sums, rk->sums, (N_CH + 2) * sizeof(int64_t));
    ck_assert_int_eq(picpq_ranker_num_layers(back), 2);
    ck_assert_status(picpq_ranker_layer_channels(back, 0, &v), PICPQ_OK);
    ck_assert_int_eq(v, N_CH);
    ck_assert_status(picpq_ranker_layer_channels(back, 1, &v), PICPQ_OK);
    ck_assert_int_eq(v, 2);
    ck_assert_status(picpq_ranker_images(back, 0, &images), PICPQ_OK);
    ck_assert_int_eq(images, N_IMG);
    ck_assert_status(picpq_ranker_images(back, 1, &images), PICPQ_OK);
    ck_assert_int_eq(images, 0);
    ck_assert_status(picpq_ranker_get_int(back, PICPQ_RANK_THREADS, &v), PICPQ_OK);
    ck_assert_int_eq(v, 3);
    ck_assert_status(picpq_ranker_get_double(back, PICPQ_RANK_ATOL, &d), PICPQ_OK);
    ck_assert_double_eq(d, 0.25);
    ck_assert_status(picpq_ranker_get_double(back, PICPQ_RANK_RTOL, &d), PICPQ_OK);
    ck_assert_double_eq(d, 0.5);
    ck_assert_status(picpq_ranker_stats(rk, &cert[0], &fall[0]), PICPQ_OK);
    ck_assert_status(picpq_ranker_stats(back, &cert[1], &fall[1]), PICPQ_OK);
    ck_assert_int_eq(cert[0] + fall[0], N_IMG * N_CH);
    ck_assert_int_eq(cert[1], cert[0]);
    ck_assert_int_eq(fall[1], fall[0]);
    fp_of(rk, f1);
    fp_of(back, f2);
    ck_assert_mem_eq(f1, f2, sizeof f1);
    ck_assert_status(picpq_ranker_fp(back, 1, fp1, 2), PICPQ_E_BAD_STATE);
    /* a loaded ranker saves back to the same bytes, and feeds on (new scratch) */
    again = save_state(back, &len2);
    ck_assert_uint_eq(len2, len);
    ck_assert_mem_eq(again, buf, len);
    ck_assert_status(picpq_ranker_feed(rk, 0, t), PICPQ_OK);
    ck_assert_status(picpq_ranker_feed(back, 0, t), PICPQ_OK);
    ck_assert_mem_eq(back->sums, rk->sums, (N_CH + 2) * sizeof(int64_t));
    free(buf);
    free(again);
    picpq_tensor_free(t);
    picpq_ranker_free(rk);
    picpq_ranker_free(back);
}
END_TEST

/* Calibration split over three "processes": each saves, the blobs are
 * loaded and merged, and the FP equals one ranker fed everything, bit for bit. */
START_TEST(test_state_sharded_merge)
{
    enum { SHARDS = 3 };
    static float maps[SHARDS][N_IMG * N_CH * H * W];
    const int64_t shape[4] = {N_IMG, N_CH, H, W};
    picpq_ranker *one = new_ranker(), *loaded[SHARDS];
    double f1[N_CH], fm[N_CH];
    int64_t images;
    int i;
    for (i = 0; i < SHARDS; i++) {
        picpq_ranker *shard = new_ranker();
        picpq_tensor *t;
        unsigned char *buf;
        size_t len;
        fill_maps(maps[i]); /* the generator moves on: three different batches */
        ck_assert_status(picpq_tensor_wrap(maps[i], PICPQ_F32, 4, shape, NULL, &t), PICPQ_OK);
        ck_assert_status(picpq_ranker_feed(one, 0, t), PICPQ_OK);
        ck_assert_status(picpq_ranker_feed(shard, 0, t), PICPQ_OK);
        buf = save_state(shard, &len);
        ck_assert_status(picpq_ranker_load(buf, len, &loaded[i]), PICPQ_OK);
        free(buf);
        picpq_tensor_free(t);
        picpq_ranker_free(shard);
    }
    ck_assert_status(picpq_ranker_merge(loaded[0], loaded[1]), PICPQ_OK);
    ck_assert_status(picpq_ranker_merge(loaded[0], loaded[2]), PICPQ_OK);
    ck_assert_mem_eq(loaded[0]->sums, one->sums, (N_CH + 2) * sizeof(int64_t));
    ck_assert_status(picpq_ranker_images(loaded[0], 0, &images), PICPQ_OK);
    ck_assert_int_eq(images, SHARDS * N_IMG);
    fp_of(one, f1);
    fp_of(loaded[0], fm);
    ck_assert_mem_eq(f1, fm, sizeof f1);
    for (i = 0; i < SHARDS; i++) picpq_ranker_free(loaded[i]);
    picpq_ranker_free(one);
}
END_TEST

START_TEST(test_state_truncated_and_corrupted)
{
    picpq_tensor *t;
    picpq_ranker *rk = fed_ranker(&t);
    unsigned char *buf, *copy;
    size_t len, n;
    int bit;
    buf = save_state(rk, &len);
    copy = malloc(len + 1);
    for (n = 0; n < len; n++) {
        memcpy(copy, buf, n);
        expect_format_error(copy, n, n < 72 ? "truncated" : "buffer has");
    }
    memcpy(copy, buf, len);
    copy[len] = 0;
    expect_format_error(copy, len + 1, "padded");
    for (n = 0; n < len; n++)
        for (bit = 0; bit < 8; bit++) {
            picpq_ranker *out = (picpq_ranker *)&out;
            memcpy(copy, buf, len);
            copy[n] ^= (unsigned char)(1u << bit);
            ck_assert_status(picpq_ranker_load(copy, len, &out), PICPQ_E_FORMAT);
            ck_assert_ptr_null(out);
        }
    memcpy(copy, buf, len);
    copy[8] = 2; /* a future version, correctly sealed */
    reseal(copy, len);
    expect_format_error(copy, len, "version 2");
    memcpy(copy, buf, len);
    copy[12] = 1;
    reseal(copy, len);
    expect_format_error(copy, len, "flags");
    memcpy(copy, buf, len);
    memcpy(copy, "PQSEARCH", 8); /* a search state is not a ranker state */
    expect_format_error(copy, len, "magic");
    free(copy);
    free(buf);
    picpq_tensor_free(t);
    picpq_ranker_free(rk);
}
END_TEST

/* Sealed blobs (valid CRC) with values no ranker can have. */
START_TEST(test_state_invalid_values)
{
    static const struct {
        int off;
        int is_double;
        double value;
        const char *words;
    } cases[] = {
        {OFF_LAYERS, 0, 0, "layers do not fit"},
        {OFF_LAYERS, 0, 3, "need"},
        {OFF_LAYERS, 0, 1e6, "layers do not fit"},
        {OFF_CH, 0, 0, "layer 0 has 0 channels"},
        {OFF_CH + 8, 0, -1, "layer 1 has -1 channels"},
        {OFF_CH, 0, 4, "need"},
        {OFF_CH, 0, 1e15, "promise more"},
        {OFF_THREADS, 0, 1025, "parameter"},
        {OFF_THREADS, 0, 0, "parameter"},
        {OFF_THREADS, 0, -2, "parameter"},
        {OFF_ATOL, 1, -0.5, "parameter"},
        {OFF_ATOL, 1, NAN, "parameter"},
        {OFF_RTOL, 1, 1.5, "parameter"},
        {OFF_RTOL, 1, INFINITY, "parameter"},
        {OFF_STATS, 0, -1, "statistics"},
        {OFF_STATS + 8, 0, -2, "statistics"},
        {OFF_IMAGES, 0, -3, "layer 0 has a negative image count"},
        {OFF_SUMS + 8 * 2, 0, -1, "filter 2 has a negative rank sum"},
        {OFF_SUMS + 8 * N_CH, 0, 1, "layer 1 has a rank sum but no image"},
    };
    picpq_tensor *t;
    picpq_ranker *rk = fed_ranker(&t);
    unsigned char *buf, *copy;
    size_t len, i;
    buf = save_state(rk, &len);
    copy = malloc(len);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(copy, buf, len);
        if (cases[i].off == OFF_LAYERS) {
            const uint32_t n = (uint32_t)cases[i].value;
            int k;
            for (k = 0; k < 4; k++) copy[OFF_LAYERS + k] = (unsigned char)(n >> (8 * k));
        } else if (cases[i].is_double) {
            patch_f64(copy + cases[i].off, cases[i].value);
        } else {
            patch_u64(copy + cases[i].off, (uint64_t)(int64_t)cases[i].value);
        }
        reseal(copy, len);
        expect_format_error(copy, len, cases[i].words);
    }
    free(copy);
    free(buf);
    picpq_tensor_free(t);
    picpq_ranker_free(rk);
}
END_TEST

/* A sealed blob whose statistics counters leave no room for the next feed
 * (certified = INT64_MAX was once accepted, and feed's unchecked += then
 * overflowed a signed counter): the loader bounds certified + fallback by
 * 2^62 (docs/FORMATS.md); a blob at the bound loads and feeds. */
/* docs/FORMATS.md: the peak of picpq_ranker_load is at most 2 times the
 * blob plus the handle (measured here: the handle is under 1 KiB). */
START_TEST(test_load_peak_allocation)
{
    static const int64_t widths[][3] = {{4, 4, 4}, {1, 1, 1}, {512, 64, 3}, {4096, 4096, 4096}};
    size_t i;
    for (i = 0; i < sizeof widths / sizeof widths[0]; i++) {
        picpq_ranker *rk = NULL, *back = NULL;
        byte_count bc;
        picpq_allocator a = bc_make(&bc);
        size_t len = 0;
        unsigned char *buf;
        ck_assert_status(picpq_ranker_create(3, widths[i], &rk), PICPQ_OK);
        ck_assert_status(picpq_ranker_save(rk, NULL, 0, &len), PICPQ_OK);
        buf = malloc(len);
        ck_assert_status(picpq_ranker_save(rk, buf, len, &len), PICPQ_OK);
        ck_assert_status(picpq_ranker_load_ex(buf, len, &a, &back), PICPQ_OK);
        ck_assert_msg(bc.peak <= 2 * len + 1024, "peak %zu for a %zu-byte blob", bc.peak, len);
        picpq_ranker_free(back);
        ck_assert(bc.live == 0);
        free(buf);
        picpq_ranker_free(rk);
    }
}
END_TEST

START_TEST(test_fp_to_net)
{
    /* two convs 1->3->2 at 2x2; only layer 0 is fed: its FP reaches the net,
     * layer 1 keeps what it had (nothing, then a value set by hand) */
    static const float maps[2 * 3 * 2 * 2] = {1, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0,
                                              1, 2, 2, 4, 1, 0, 0, 1, 0, 0, 0, 0};
    const int64_t shape[4] = {2, 3, 2, 2}, other_ch[2] = {3, 5};
    const double fp1[2] = {4, 5};
    double fp[3], back[3];
    picpq_net *net;
    picpq_ranker *rk, *other;
    picpq_tensor *t;
    int32_t id;
    ck_assert_status(picpq_net_create(&net), PICPQ_OK);
    ck_assert_status(picpq_net_add_conv(net, 1, 3, 3, 3, 1, 2, 2, &id), PICPQ_OK);
    ck_assert_status(picpq_net_add_conv(net, 3, 2, 3, 3, 1, 2, 2, &id), PICPQ_OK);
    ck_assert_status(picpq_net_connect(net, 0, 1), PICPQ_OK);
    ck_assert_status(picpq_ranker_create_for_net(net, &rk), PICPQ_OK);
    ck_assert_status(picpq_ranker_fp_to_net(rk, net), PICPQ_E_BAD_STATE); /* nothing fed */
    ck_assert_status(picpq_tensor_wrap((void *)maps, PICPQ_F32, 4, shape, NULL, &t), PICPQ_OK);
    ck_assert_status(picpq_ranker_feed(rk, 0, t), PICPQ_OK);
    ck_assert_status(picpq_ranker_fp_to_net(NULL, net), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_ranker_fp_to_net(rk, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_ranker_fp_to_net(rk, net), PICPQ_OK);
    /* ranks: filter 0 maps I and [[1, 2], [2, 4]] -> (2 + 1) / 2; filter 1 all-ones
     * and I -> (1 + 2) / 2; filter 2 zero and zero -> 0 */
    ck_assert_status(picpq_net_fp(net, 0, back, 3), PICPQ_OK);
    ck_assert(back[0] == 1.5 && back[1] == 1.5 && back[2] == 0);
    ck_assert_status(picpq_ranker_fp(rk, 0, fp, 3), PICPQ_OK);
    ck_assert(memcmp(fp, back, sizeof fp) == 0);
    ck_assert_status(picpq_net_fp(net, 1, back, 2), PICPQ_E_BAD_STATE);
    ck_assert_status(picpq_net_set_fp(net, 1, fp1, 2), PICPQ_OK);
    ck_assert_status(picpq_ranker_fp_to_net(rk, net), PICPQ_OK);
    ck_assert_status(picpq_net_fp(net, 1, back, 2), PICPQ_OK);
    ck_assert(back[0] == 4 && back[1] == 5);
    /* a ranker of other layers or channels than the net's */
    ck_assert_status(picpq_ranker_create(1, other_ch, &other), PICPQ_OK);
    ck_assert_status(picpq_ranker_feed(other, 0, t), PICPQ_OK);
    ck_assert_status(picpq_ranker_fp_to_net(other, net), PICPQ_E_SHAPE);
    picpq_ranker_free(other);
    ck_assert_status(picpq_ranker_create(2, other_ch, &other), PICPQ_OK);
    ck_assert_status(picpq_ranker_feed(other, 0, t), PICPQ_OK);
    ck_assert_status(picpq_ranker_fp_to_net(other, net), PICPQ_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "layer 1"));
    picpq_ranker_free(other);
    picpq_tensor_free(t);
    picpq_ranker_free(rk);
    picpq_net_free(net);
}
END_TEST

START_TEST(test_feed_counts_overflow)
{
    /* counts a loaded state may hold, next to INT64_MAX: feed refuses before
     * adding (N images add N to the count and at most N·min(H, W) per sum) */
    picpq_tensor *t;
    picpq_ranker *rk = fed_ranker(&t);
    int64_t images;
    const int64_t sum0 = rk->sums[rk->first[0]];
    rk->images[0] = INT64_MAX - 1;
    ck_assert_status(picpq_ranker_feed(rk, 0, t), PICPQ_E_OVERFLOW);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "image count"));
    ck_assert(rk->images[0] == INT64_MAX - 1 && rk->sums[rk->first[0]] == sum0);
    rk->images[0] = 1;
    rk->sums[rk->first[0] + 1] = INT64_MAX - 1;
    ck_assert_status(picpq_ranker_feed(rk, 0, t), PICPQ_E_OVERFLOW);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "filter 1"));
    ck_assert_status(picpq_ranker_images(rk, 0, &images), PICPQ_OK);
    ck_assert_int_eq(images, 1);
    rk->sums[rk->first[0] + 1] = 0;
    ck_assert_status(picpq_ranker_feed(rk, 0, t), PICPQ_OK);
    picpq_tensor_free(t);
    picpq_ranker_free(rk);
}
END_TEST

START_TEST(test_state_counter_overflow)
{
    const uint64_t limit = UINT64_C(1) << 62;
    picpq_tensor *t;
    picpq_ranker *rk = fed_ranker(&t), *back = NULL;
    unsigned char *buf, *copy;
    size_t len;
    int64_t certified = 0, fallback = 0;
    buf = save_state(rk, &len);
    copy = malloc(len);
    memcpy(copy, buf, len);
    patch_u64(copy + OFF_STATS, (uint64_t)INT64_MAX);
    reseal(copy, len);
    expect_format_error(copy, len, "statistics");
    memcpy(copy, buf, len);
    patch_u64(copy + OFF_STATS, limit);
    patch_u64(copy + OFF_STATS + 8, 1);
    reseal(copy, len);
    expect_format_error(copy, len, "exceed 2^62");
    memcpy(copy, buf, len);
    patch_u64(copy + OFF_STATS, limit - 1);
    patch_u64(copy + OFF_STATS + 8, 1);
    reseal(copy, len);
    ck_assert_status(picpq_ranker_load(copy, len, &back), PICPQ_OK);
    ck_assert_status(picpq_ranker_feed(back, 0, t), PICPQ_OK);
    ck_assert_status(picpq_ranker_stats(back, &certified, &fallback), PICPQ_OK);
    /* the feed ranked N_IMG * N_CH maps, each counted once */
    ck_assert_int_eq(certified + fallback - (int64_t)limit, N_IMG * N_CH);
    picpq_ranker_free(back);
    free(copy);
    free(buf);
    picpq_tensor_free(t);
    picpq_ranker_free(rk);
}
END_TEST

START_TEST(test_state_errors_and_allocation)
{
    picpq_tensor *t;
    picpq_ranker *rk = fed_ranker(&t), *out = (picpq_ranker *)&out;
    test_alloc unused;
    picpq_allocator no_free = test_alloc_make(&unused, 0);
    unsigned char *buf;
    size_t len, needed = 7;
    long n;
    no_free.free = NULL;
    buf = save_state(rk, &len);
    ck_assert_status(picpq_ranker_save(NULL, buf, len, &needed), PICPQ_E_INVALID_ARG);
    ck_assert_uint_eq(needed, 7);
    ck_assert_status(picpq_ranker_save(rk, buf, len, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_ranker_load(NULL, len, &out), PICPQ_E_INVALID_ARG);
    ck_assert_ptr_null(out);
    ck_assert_status(picpq_ranker_load(buf, len, NULL), PICPQ_E_INVALID_ARG);
    out = (picpq_ranker *)&out;
    ck_assert_status(picpq_ranker_load_ex(buf, len, &no_free, &out), PICPQ_E_INVALID_ARG);
    ck_assert_ptr_null(out);
    for (n = 1;; n++) {
        test_alloc ta;
        picpq_allocator a = test_alloc_make(&ta, n);
        picpq_status s;
        out = (picpq_ranker *)&n;
        s = picpq_ranker_load_ex(buf, len, &a, &out);
        if (s == PICPQ_OK) {
            /* the loaded handle keeps the allocator for its scratch */
            ta.fail_at = 0;
            ck_assert_status(picpq_ranker_feed(out, 0, t), PICPQ_OK);
            ck_assert_int_gt(ta.live, 5);
            picpq_ranker_free(out);
            ck_assert_int_eq(ta.live, 0);
            break;
        }
        ck_assert_int_eq(s, PICPQ_E_NOMEM);
        ck_assert_str_ne(picpq_last_error(), "");
        ck_assert_ptr_null(out);
        ck_assert_int_eq(ta.live, 0);
    }
    ck_assert_int_eq(n, 7); /* channel scratch, handle, 4 arrays, then success */
    free(buf);
    picpq_tensor_free(t);
    picpq_ranker_free(rk);
}
END_TEST

Suite *rank_suite(void)
{
    Suite *s = suite_create("rank");
    TCase *tc = tcase_create("matrix");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_t1_matrices);
    tcase_add_test(tc, test_low_rank_products);
    tcase_add_test(tc, test_fast_equals_sgesdd);
    tcase_add_test(tc, test_atol_rtol);
    tcase_add_test(tc, test_extreme_magnitudes);
    tcase_add_test(tc, test_leading_dimension);
    tcase_add_test(tc, test_matrix_rank_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("ranker");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_t1_running_mean);
    tcase_add_test(tc, test_feed_matches_matrix_rank);
    tcase_add_test(tc, test_all_small_shapes);
    tcase_add_test(tc, test_strided_and_channels_last);
    tcase_add_test(tc, test_merge_and_threads);
    tcase_add_test(tc, test_threads_default_work);
    tcase_add_test(tc, test_reset_and_params);
    tcase_add_test(tc, test_feed_errors);
    tcase_add_test(tc, test_get_merge_create_errors);
    tcase_add_test(tc, test_create_allocation_failures);
    tcase_add_test(tc, test_feed_allocation_failures);
    tcase_add_test(tc, test_create_for_net);
    suite_add_tcase(s, tc);
    tc = tcase_create("state");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_state_layout);
    tcase_add_test(tc, test_state_round_trip);
    tcase_add_test(tc, test_state_sharded_merge);
    tcase_add_test(tc, test_state_truncated_and_corrupted);
    tcase_add_test(tc, test_state_invalid_values);
    tcase_add_test(tc, test_state_counter_overflow);
    tcase_add_test(tc, test_fp_to_net);
    tcase_add_test(tc, test_feed_counts_overflow);
    tcase_add_test(tc, test_load_peak_allocation);
    tcase_add_test(tc, test_state_errors_and_allocation);
    suite_add_tcase(s, tc);
    return s;
}
