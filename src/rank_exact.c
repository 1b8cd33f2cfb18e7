/* Rank of one float32 feature map, exactly as the float32 sgesdd rule
 * (METHOD §3.1) decides it, but without an SVD whenever a cheaper
 * certificate settles the answer.
 *
 * The certificate works on the Gram matrix G = V Vᵀ (m x m, m = min(H, W))
 * formed in double from the map's float values, whose eigenvalues are the
 * squared singular values. Every bound below is padded by:
 *  - `err`: the rounding of the Gram matrix and of the Cholesky steps, both
 *    bounded by (dimension + 2)·u·‖A‖_F² in spectral norm (u = 2^-53);
 *  - `P·ε·σ1`: the error of the singular values that float32 sgesdd itself
 *    would compute (backward stable: |σ̂_j − σ_j| ≤ p(m,n)·ε·σ1). Measured
 *    errors on 18,000 random, low-rank, post-ReLU and zero-row maps stay
 *    below 0.5·ε·σ1 (0.03·ε·σ1 for the small values that meet the
 *    tolerance); P = 2 + sqrt(m·n)/8 keeps a margin of 5x or more.
 * Two certificates are tried:
 *  1. full rank: Cholesky of G − thr_hi²·I succeeds => σ_m > thr_hi;
 *  2. rank k: after k steps of diagonally pivoted Cholesky the Schur
 *     complement S has ‖S‖_F < thr_lo² (=> σ_{k+1} < thr_lo, Weyl), and the
 *     k pivoted rows give G11 − thr_hi²·I positive definite (=> σ_k > thr_hi,
 *     Cauchy interlacing).
 * thr_hi/thr_lo lie above/below every tolerance sgesdd could produce, by
 * sgesdd's own error. Anything else (values near the tolerance, tiny or
 * huge magnitudes) goes to sgesdd and the reference rule. */
#include "picpq_internal.h"

#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

#define UNIT_ROUNDOFF_D (DBL_EPSILON / 2)
/* Outside these magnitudes of σ1 sgesdd's output float32 values may be
 * subnormal or overflow, so its error model does not hold: use it. */
#define FAST_SIGMA_MIN 1e-25
#define FAST_SIGMA_MAX 1e35

void picpq__rank_ws_free(picpq__rank_ws *ws, const picpq_allocator *a)
{
    picpq__free(a, ws->v);
    picpq__free(a, ws->g);
    picpq__free(a, ws->c);
    picpq__free(a, ws->idx);
    picpq__free(a, ws->nz);
    picpq__free(a, ws->keep);
    picpq__free(a, ws->colabs);
    picpq__free(a, ws->vt);
    picpq__free(a, ws->a_raw);
    picpq__free(a, ws->s_raw);
    picpq__free(a, ws->work_raw);
    picpq__free(a, ws->iwork);
    memset(ws, 0, sizeof *ws);
}

/* Optimal sgesdd workspace for an h x w column-major matrix, jobz = 'N'. */
static picpq_status query_lwork(int64_t h, int64_t w, lapack_int *lwork)
{
    float dummy_a = 0, dummy_s = 0, wk = 0;
    lapack_int iw = 0, info;
    info = LAPACKE_sgesdd_work(LAPACK_COL_MAJOR, 'N', (lapack_int)h, (lapack_int)w, &dummy_a,
                               (lapack_int)h, &dummy_s, NULL, 1, NULL, 1, &wk, -1, &iw);
    if (info != 0 || !(wk >= 1) || wk > 1e9f) return PICPQ_E_INTERNAL;
    *lwork = (lapack_int)wk + 1; /* the float may round the size down */
    return PICPQ_OK;
}

static int cpu_has_avx2(void);

/* OpenBLAS kernels peel loops to the buffer's alignment, which changes
 * the rounding: 64-byte aligned LAPACK buffers make sgesdd's results the
 * same in every workspace (and so for every thread count). */
static float *aligned_floats(const picpq_allocator *a, size_t count, void **raw)
{
    uintptr_t p;
    *raw = picpq__calloc(a, count + 16, sizeof(float));
    if (*raw == NULL) return NULL;
    p = (uintptr_t)*raw;
    return (float *)(void *)(p + ((64 - p % 64) % 64));
}

picpq_status picpq__rank_ws_init(picpq__rank_ws *ws, const picpq_allocator *a, int64_t h, int64_t w)
{
    int64_t m = h < w ? h : w, hw;
    size_t mn, mm, m_sz, lw;
    lapack_int lwork;
    picpq_status s;
    memset(ws, 0, sizeof *ws);
    /* LAPACK indexes with 32-bit ints: keep every size well inside. */
    if (h > INT32_MAX / 8 || w > INT32_MAX / 8 || !picpq__mul_i64(h, w, &hw) || hw > INT32_MAX / 8)
        return PICPQ_E_UNSUPPORTED;
    s = query_lwork(h, w, &lwork);
    if (s != PICPQ_OK) return s;
    mn = (size_t)hw;
    mm = (size_t)(m * m);
    m_sz = (size_t)m;
    lw = (size_t)lwork;
    ws->vs = ((h > w ? h : w) + 3) / 4 * 4;
    ws->v = picpq__calloc(a, (size_t)(m * ws->vs), sizeof(double));
    ws->g = picpq__calloc(a, mm, sizeof(double));
    ws->c = picpq__calloc(a, mm, sizeof(double));
    ws->idx = picpq__calloc(a, m_sz, sizeof(int32_t));
    ws->nz = picpq__calloc(a, (size_t)(h + w), 1);
    ws->keep = picpq__calloc(a, (size_t)(h + w), sizeof(int32_t));
    ws->colabs = picpq__calloc(a, (size_t)ws->vs, sizeof(double));
    ws->vt = picpq__calloc(a, (size_t)(m * ((m + 3) / 4 * 4)), sizeof(double));
    ws->a = aligned_floats(a, mn, &ws->a_raw);
    ws->s = aligned_floats(a, m_sz, &ws->s_raw);
    ws->work = aligned_floats(a, lw, &ws->work_raw);
    ws->iwork = picpq__calloc(a, 8 * m_sz, sizeof(lapack_int));
    if (!ws->v || !ws->g || !ws->c || !ws->idx || !ws->nz || !ws->keep || !ws->vt || !ws->colabs ||
        !ws->a || !ws->s || !ws->work || !ws->iwork) {
        picpq__rank_ws_free(ws, a);
        return PICPQ_E_NOMEM;
    }
    ws->h = h;
    ws->w = w;
    ws->simd = cpu_has_avx2();
    ws->lwork = (int64_t)lwork;
    return PICPQ_OK;
}

/* ---- the reference: float32 sgesdd and the tolerance rule ------------ */

static double effective_rtol(double rtol, int64_t h, int64_t w)
{
    return rtol < 0 ? (double)(h > w ? h : w) * FLT_EPSILON : rtol;
}

/* Column-major copy (the layout numpy and torch hand to LAPACK), sgesdd,
 * then count. */
static picpq_status rank_sgesdd(picpq__rank_ws *ws, const char *base, int64_t sh, int64_t sw,
                                double atol, double rtol, int64_t *rank)
{
    int64_t h = ws->h, w = ws->w, m = h < w ? h : w, i, j, r = 0;
    double tol;
    lapack_int info;
    for (j = 0; j < w; j++)
        for (i = 0; i < h; i++) {
            float x;
            memcpy(&x, base + i * sh + j * sw, sizeof x);
            ws->a[i + j * h] = x;
        }
    info = LAPACKE_sgesdd_work(LAPACK_COL_MAJOR, 'N', (lapack_int)h, (lapack_int)w, ws->a,
                               (lapack_int)h, ws->s, NULL, 1, NULL, 1, ws->work,
                               (lapack_int)ws->lwork, (lapack_int *)ws->iwork);
    ws->info = (int64_t)info;
    if (info > 0) return PICPQ_E_NO_CONVERGENCE;
    if (info < 0) return PICPQ_E_INTERNAL;
    tol = (double)ws->s[0] * effective_rtol(rtol, h, w);
    if (atol > tol) tol = atol;
    for (i = 0; i < m; i++) r += (double)ws->s[i] > tol;
    *rank = r;
    return PICPQ_OK;
}

/* ---- the certificate ------------------------------------------------- */

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define RANK_HAVE_AVX2 1
#endif

static void widen_portable(double *dst, const float *src, int64_t n)
{
    int64_t j;
    for (j = 0; j < n; j++) dst[j] = src[j];
}

#ifdef RANK_HAVE_AVX2
__attribute__((target("avx2,fma"))) static void widen_avx2(double *dst, const float *src, int64_t n)
{
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) _mm256_storeu_pd(dst + j, _mm256_cvtps_pd(_mm_loadu_ps(src + j)));
    for (; j < n; j++) dst[j] = src[j];
}
#endif

/* Copy the map as m rows of length n (the short side indexes rows) in
 * double, exactly, and zero each row's padding up to vs (compact() of the
 * previous map may have left values there). */
static void load_vectors(picpq__rank_ws *ws, const char *base, int64_t sh, int64_t sw)
{
    int64_t h = ws->h, w = ws->w, vs = ws->vs, m = h < w ? h : w, n = h < w ? w : h, i, j;
    double *v = ws->v;
    for (i = 0; i < m; i++)
        for (j = n; j < vs; j++) v[i * vs + j] = 0;
    if (h <= w && sw == (int64_t)sizeof(float)) { /* contiguous rows */
        for (i = 0; i < h; i++) {
            const float *row = (const float *)(const void *)(base + i * sh);
#ifdef RANK_HAVE_AVX2
            if (ws->simd) {
                widen_avx2(v + i * vs, row, w);
                continue;
            }
#endif
            widen_portable(v + i * vs, row, w);
        }
    } else if (h <= w) {
        for (i = 0; i < h; i++)
            for (j = 0; j < w; j++) {
                float x;
                memcpy(&x, base + i * sh + j * sw, sizeof x);
                v[i * vs + j] = x;
            }
    } else {
        for (i = 0; i < h; i++)
            for (j = 0; j < w; j++) {
                float x;
                memcpy(&x, base + i * sh + j * sw, sizeof x);
                v[j * vs + i] = x;
            }
    }
}

/* Dot product with four partial sums (independent chains run in parallel;
 * the error bound n·u·Σ|x||y| holds for any summation order). */
static double dot_portable(const double *x, const double *y, int64_t n)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t k = 0;
    for (; k + 4 <= n; k += 4) {
        s0 += x[k] * y[k];
        s1 += x[k + 1] * y[k + 1];
        s2 += x[k + 2] * y[k + 2];
        s3 += x[k + 3] * y[k + 3];
    }
    for (; k < n; k++) s0 += x[k] * y[k];
    return (s0 + s1) + (s2 + s3);
}

static void gram_portable(const double *v, int64_t vs, int64_t m, double *g)
{
    int64_t p, q;
    for (p = 0; p < m; p++)
        for (q = 0; q <= p; q++)
            g[p * m + q] = g[q * m + p] = dot_portable(v + p * vs, v + q * vs, vs);
}

#ifdef RANK_HAVE_AVX2
__attribute__((target("avx2,fma"))) static double hsum(__m256d x)
{
    __m128d lo = _mm256_castpd256_pd128(x), hi = _mm256_extractf128_pd(x, 1);
    lo = _mm_add_pd(lo, hi);
    return _mm_cvtsd_f64(_mm_add_sd(lo, _mm_unpackhi_pd(lo, lo)));
}

__attribute__((target("avx2,fma"))) static double dot_avx2(const double *x, const double *y,
                                                           int64_t n)
{
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    int64_t k = 0;
    double tail = 0;
    for (; k + 8 <= n; k += 8) {
        s0 = _mm256_fmadd_pd(_mm256_loadu_pd(x + k), _mm256_loadu_pd(y + k), s0);
        s1 = _mm256_fmadd_pd(_mm256_loadu_pd(x + k + 4), _mm256_loadu_pd(y + k + 4), s1);
    }
    for (; k + 4 <= n; k += 4)
        s0 = _mm256_fmadd_pd(_mm256_loadu_pd(x + k), _mm256_loadu_pd(y + k), s0);
    for (; k < n; k++) tail += x[k] * y[k];
    return hsum(_mm256_add_pd(s0, s1)) + tail;
}

/* G = V Vᵀ in 2 x 2 blocks of rows (vs is a multiple of 4). */
__attribute__((target("avx2,fma"))) static void gram_avx2(const double *v, int64_t vs, int64_t m,
                                                          double *g)
{
    int64_t p, q, k;
    for (p = 0; p + 1 < m; p += 2) {
        const double *a0 = v + p * vs, *a1 = a0 + vs;
        for (q = 0; q <= p; q += 2) {
            const double *b0 = v + q * vs, *b1 = b0 + vs;
            __m256d s00 = _mm256_setzero_pd(), s01 = s00, s10 = s00, s11 = s00;
            for (k = 0; k < vs; k += 4) {
                __m256d x0 = _mm256_loadu_pd(a0 + k), x1 = _mm256_loadu_pd(a1 + k);
                __m256d y0 = _mm256_loadu_pd(b0 + k), y1 = _mm256_loadu_pd(b1 + k);
                s00 = _mm256_fmadd_pd(x0, y0, s00);
                s01 = _mm256_fmadd_pd(x0, y1, s01);
                s10 = _mm256_fmadd_pd(x1, y0, s10);
                s11 = _mm256_fmadd_pd(x1, y1, s11);
            }
            g[p * m + q] = g[q * m + p] = hsum(s00);
            g[p * m + q + 1] = g[(q + 1) * m + p] = hsum(s01);
            g[(p + 1) * m + q] = g[q * m + p + 1] = hsum(s10);
            g[(p + 1) * m + q + 1] = g[(q + 1) * m + p + 1] = hsum(s11);
        }
    }
    if (p < m) /* the odd last row */
        for (q = 0; q <= p; q++) g[p * m + q] = g[q * m + p] = dot_avx2(v + p * vs, v + q * vs, vs);
}
#endif

static int cpu_has_avx2(void)
{
#ifdef RANK_HAVE_AVX2
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

typedef double (*dot_fn)(const double *, const double *, int64_t);

static dot_fn pick_dot(int simd)
{
#ifdef RANK_HAVE_AVX2
    if (simd) return dot_avx2;
#endif
    (void)simd;
    return dot_portable;
}

static void gram(const double *v, int64_t vs, int64_t m, int simd, double *g)
{
#ifdef RANK_HAVE_AVX2
    if (simd) {
        gram_avx2(v, vs, m, g);
        return;
    }
#endif
    (void)simd;
    gram_portable(v, vs, m, g);
}

/* rz[p] / cz[j] = 1 when row p / column j of V (m x n, stride vs) has a
 * nonzero (NaN and Inf count as nonzero). Column flags come from sums of
 * |v| (no cancellation, and a float's magnitude never underflows a double). */
static void nonzero_flags_portable(const double *v, int64_t vs, int64_t m, int64_t n,
                                   unsigned char *rz, unsigned char *cz, double *colabs)
{
    int64_t p, j;
    memset(colabs, 0, (size_t)vs * sizeof *colabs);
    for (p = 0; p < m; p++) {
        double r = 0;
        for (j = 0; j < vs; j++) colabs[j] += fabs(v[p * vs + j]);
        for (j = 0; j < vs; j++) r += fabs(v[p * vs + j]);
        rz[p] = r != 0;
    }
    for (j = 0; j < n; j++) cz[j] = colabs[j] != 0;
}

#ifdef RANK_HAVE_AVX2
__attribute__((target("avx2,fma"))) static void nonzero_flags_avx2(const double *v, int64_t vs,
                                                                   int64_t m, int64_t n,
                                                                   unsigned char *rz,
                                                                   unsigned char *cz,
                                                                   double *colabs)
{
    const __m256d sign = _mm256_set1_pd(-0.0);
    int64_t p, j;
    memset(colabs, 0, (size_t)vs * sizeof *colabs);
    for (p = 0; p < m; p++) {
        __m256d any = _mm256_setzero_pd();
        for (j = 0; j < vs; j += 4) {
            __m256d a = _mm256_andnot_pd(sign, _mm256_loadu_pd(v + p * vs + j));
            _mm256_storeu_pd(colabs + j, _mm256_add_pd(_mm256_loadu_pd(colabs + j), a));
            any = _mm256_or_pd(any, a);
        }
        rz[p] = !_mm256_testz_si256(_mm256_castpd_si256(any), _mm256_castpd_si256(any));
    }
    for (j = 0; j < n; j++) cz[j] = colabs[j] != 0;
}
#endif

static void nonzero_flags(const double *v, int64_t vs, int64_t m, int64_t n, int simd,
                          unsigned char *rz, unsigned char *cz, double *colabs)
{
#ifdef RANK_HAVE_AVX2
    if (simd) {
        nonzero_flags_avx2(v, vs, m, n, rz, cz, colabs);
        return;
    }
#endif
    (void)simd;
    nonzero_flags_portable(v, vs, m, n, rz, cz, colabs);
}

/* Drop the all-zero rows and columns of V (m x n, stride ws->vs): they only
 * add exact zero singular values. The Gram matrix is then formed over the
 * shorter side of what remains: *vec points to *rows vectors of stride *st
 * (a multiple of 4, zero padded). NaN and Inf count as nonzero, so the
 * trace of the Gram matrix still sees them. */
static void compact(picpq__rank_ws *ws, int simd, int64_t m, int64_t n, const double **vec,
                    int64_t *rows, int64_t *st)
{
    unsigned char *rz = ws->nz, *cz = ws->nz + m;
    int64_t vs = ws->vs, p, j, mr = 0, nc = 0, st2;
    double *v = ws->v;
    nonzero_flags(v, vs, m, n, simd, rz, cz, ws->colabs);
    for (p = 0; p < m; p++) mr += rz[p];
    for (j = 0; j < n; j++) nc += cz[j];
    *vec = v;
    *rows = m;
    *st = vs;
    if (mr == m && nc == n) return;
    st2 = (nc + 3) / 4 * 4;
    for (j = 0, nc = 0; j < n; j++)
        if (cz[j]) ws->keep[nc++] = (int32_t)j;
    for (p = 0, mr = 0; p < m; p++) { /* in place: targets never pass sources */
        double *dst = v + mr * st2;
        const double *src = v + p * vs;
        if (!rz[p]) continue;
        if (nc == n) {
            memmove(dst, src, (size_t)vs * sizeof *dst); /* st2 == vs */
        } else {
            for (j = 0; j < nc; j++) dst[j] = src[ws->keep[j]];
            for (j = nc; j < st2; j++) dst[j] = 0;
        }
        mr++;
    }
    *rows = mr;
    *st = st2;
    if (nc < mr) { /* the columns are now the shorter side */
        int64_t st3 = (mr + 3) / 4 * 4;
        for (j = 0; j < nc; j++) {
            for (p = 0; p < mr; p++) ws->vt[j * st3 + p] = v[p * st2 + j];
            for (p = mr; p < st3; p++) ws->vt[j * st3 + p] = 0;
        }
        *vec = ws->vt;
        *rows = nc;
        *st = st3;
    }
}

static void axpy_portable(double *restrict y, const double *restrict x, double a, int64_t n)
{
    int64_t k;
    for (k = 0; k < n; k++) y[k] -= a * x[k];
}

#ifdef RANK_HAVE_AVX2
__attribute__((target("avx2,fma"))) static void axpy_avx2(double *restrict y,
                                                          const double *restrict x, double a,
                                                          int64_t n)
{
    __m256d va = _mm256_set1_pd(a);
    int64_t k = 0;
    for (; k + 4 <= n; k += 4)
        _mm256_storeu_pd(y + k,
                         _mm256_fnmadd_pd(va, _mm256_loadu_pd(x + k), _mm256_loadu_pd(y + k)));
    for (; k < n; k++) y[k] -= a * x[k];
}
#endif

typedef void (*axpy_fn)(double *restrict, const double *restrict, double, int64_t);

static axpy_fn pick_axpy(int simd)
{
#ifdef RANK_HAVE_AVX2
    if (simd) return axpy_avx2;
#endif
    (void)simd;
    return axpy_portable;
}

/* In-place Cholesky RᵀR of c − shift·I (k x k symmetric, row-major; the
 * upper triangle is used), right-looking so the inner loop is a
 * contiguous axpy. 1 if every pivot is positive (positive definite up to
 * the rounding covered by `err`), 0 at the first pivot that is not. */
static int shifted_cholesky(double *c, int64_t k, double shift, axpy_fn axpy)
{
    int64_t i, j;
    for (i = 0; i < k; i++) c[i * k + i] -= shift;
    for (i = 0; i < k; i++) {
        double *ri = c + i * k, d = ri[i];
        if (!(d > 0)) return 0;
        d = sqrt(d);
        ri[i] = d;
        for (j = i + 1; j < k; j++) ri[j] /= d;
        for (j = i + 1; j < k; j++) axpy(c + j * k + j, ri + j, ri[j], k - j);
    }
    return 1;
}

/* c = G[idx, idx] (k x k). */
static void gather(const double *g, int64_t m, const int32_t *idx, int64_t k, double *c)
{
    int64_t i, j;
    for (i = 0; i < k; i++)
        for (j = 0; j < k; j++) c[i * k + j] = g[idx[i] * m + idx[j]];
}

static void swap_index(double *c, int64_t m, int32_t *idx, int64_t a, int64_t b)
{
    int64_t j;
    int32_t t = idx[a];
    idx[a] = idx[b];
    idx[b] = t;
    for (j = 0; j < m; j++) {
        double x = c[a * m + j];
        c[a * m + j] = c[b * m + j];
        c[b * m + j] = x;
    }
    for (j = 0; j < m; j++) {
        double x = c[j * m + a];
        c[j * m + a] = c[j * m + b];
        c[j * m + b] = x;
    }
}

/* Diagonally pivoted Cholesky of G (copied into c, rows and columns
 * swapped so the Schur complement stays the contiguous trailing block)
 * until that complement S has ‖S‖_F <= limit. Returns the number k of
 * pivots (original indices in idx[0..k)) or -1 if none qualifies. */
static int64_t pivoted_split(const double *g, int64_t m, double limit, double *c, int32_t *idx,
                             axpy_fn axpy)
{
    int64_t k, i, j;
    memcpy(c, g, (size_t)(m * m) * sizeof *c);
    for (i = 0; i < m; i++) idx[i] = (int32_t)i;
    for (k = 0; k < m; k++) {
        double trace = 0, frob = 0, best = -1, inv;
        int64_t bi = k;
        for (i = k; i < m; i++) {
            double d = c[i * m + i];
            trace += fabs(d);
            if (d > best) best = d, bi = i;
        }
        if (trace <= limit) {
            for (i = k; i < m; i++)
                for (j = k; j < m; j++) frob += c[i * m + j] * c[i * m + j];
            return sqrt(frob) <= limit ? k : -1;
        }
        if (!(best > 0)) return -1;
        if (bi != k) swap_index(c, m, idx, k, bi);
        inv = 1 / c[k * m + k];
        for (i = k + 1; i < m; i++)
            axpy(c + i * m + k + 1, c + k * m + k + 1, c[i * m + k] * inv, m - k - 1);
    }
    return -1;
}

/* Bounds [lo, hi] on λmax(G) for the exact Gram matrix of the map:
 * max diagonal and a Rayleigh quotient below, ‖G‖_F above. */
static void lambda_max_bounds(const double *g, int64_t m, double *y, double err, dot_fn dot,
                              double *lo, double *hi)
{
    int64_t p, best = 0;
    double frob = 0, yy, yz = 0;
    for (p = 0; p < m; p++) {
        frob += dot(g + p * m, g + p * m, m);
        if (g[p * m + p] > g[best * m + best]) best = p;
    }
    /* Rayleigh quotient of y = G e_best: e Gᶟ e / e G² e <= λmax. */
    memcpy(y, g + best * m, (size_t)m * sizeof *y);
    yy = dot(y, y, m);
    for (p = 0; p < m; p++) yz += y[p] * dot(g + p * m, y, m);
    *lo = yy > 0 ? yz / yy : 0;
    if (g[best * m + best] > *lo) *lo = g[best * m + best];
    *hi = sqrt(frob);
    /* rounding of these few sums is far below err, which pads both */
    *lo = (*lo - err) * (1 - 1e-10);
    *hi = (*hi + err) * (1 + 1e-10);
}

/* The certified rank, or -1 when the certificate is inconclusive, from the
 * Gram matrix already in ws->g with trace `trace` > 0. */
static int64_t rank_certified(picpq__rank_ws *ws, int64_t me, int simd, double trace, double atol,
                              double rtol)
{
    int64_t h = ws->h, w = ws->w;
    int64_t m0 = h < w ? h : w, n = h < w ? w : h, m = me, k;
    dot_fn dot = pick_dot(simd);
    axpy_fn axpy = pick_axpy(simd);
    double err, lam_lo, lam_hi, s1_lo, s1_up, P, rt, tol_lo, tol_hi, thr_lo, thr_hi;
    err = (double)(n + 2 * m0 + 10) * UNIT_ROUNDOFF_D * trace * 1.1;
    lambda_max_bounds(ws->g, m, ws->c, err, dot, &lam_lo, &lam_hi);
    s1_lo = lam_lo > 0 ? sqrt(lam_lo) : 0;
    s1_up = sqrt(lam_hi);
    if (s1_lo < FAST_SIGMA_MIN || s1_up > FAST_SIGMA_MAX) return -1;
    P = 2 + sqrt((double)(m0 * n)) / 8; /* sgesdd runs on the whole map */
    rt = effective_rtol(rtol, h, w);
    tol_hi = rt * s1_up * (1 + P * FLT_EPSILON);
    tol_lo = rt * s1_lo * (1 - P * FLT_EPSILON);
    if (atol > tol_hi) tol_hi = atol;
    if (atol > tol_lo) tol_lo = atol;
    thr_hi = (tol_hi + P * FLT_EPSILON * s1_up) * (1 + 1e-10);
    thr_lo = (tol_lo - P * FLT_EPSILON * s1_up) * (1 - 1e-10);
    /* the m0 - m singular values of removed zero rows/columns are exactly 0:
     * sgesdd keeps them within P·ε·σ1 of it, below the tolerance iff thr_lo > 0 */
    if (m < m0 && thr_lo <= 0) return -1;
    memcpy(ws->c, ws->g, (size_t)(m * m) * sizeof *ws->c);
    if (shifted_cholesky(ws->c, m, thr_hi * thr_hi + err, axpy)) return m;
    if (thr_lo <= 0 || thr_lo * thr_lo <= err) return -1;
    k = pivoted_split(ws->g, m, thr_lo * thr_lo - err, ws->c, ws->idx, axpy);
    if (k <= 0) return k; /* 0: every σ is below the tolerance; -1: unknown */
    gather(ws->g, m, ws->idx, k, ws->c);
    return shifted_cholesky(ws->c, k, thr_hi * thr_hi + err, axpy) ? k : -1;
}

/* NaN/Inf check from an exact double sum of squares: a float's square
 * cannot overflow a double, so only NaN or Inf make it non-finite. */
static int vectors_finite(const picpq__rank_ws *ws, int64_t m)
{
    int64_t p;
    double s = 0;
    for (p = 0; p < m; p++) s += dot_portable(ws->v + p * ws->vs, ws->v + p * ws->vs, ws->vs);
    return isfinite(s);
}

picpq_status picpq__rank_map(picpq__rank_ws *ws, const char *base, int64_t sh, int64_t sw,
                             double atol, double rtol, int mode, int64_t *rank)
{
    int64_t m = ws->h < ws->w ? ws->h : ws->w, r, p;
    int simd = ws->simd && !(mode & PICPQ__RANK_PORTABLE);
    double trace = 0;
    mode &= ~PICPQ__RANK_PORTABLE;
    ws->info = 0;
    load_vectors(ws, base, sh, sw);
    if (mode == PICPQ__RANK_SGESDD) {
        if (!vectors_finite(ws, m)) return PICPQ_E_NONFINITE;
    } else {
        const double *vec;
        int64_t me, st;
        compact(ws, simd, m, ws->h < ws->w ? ws->w : ws->h, &vec, &me, &st);
        gram(vec, st, me, simd, ws->g);
        /* the trace is every value squared once: the NaN/Inf check too */
        for (p = 0; p < me; p++) trace += ws->g[p * me + p];
        if (!isfinite(trace)) return PICPQ_E_NONFINITE;
        r = trace == 0 ? 0 /* zero matrix: sgesdd returns exact zeros */
                       : rank_certified(ws, me, simd, trace, atol, rtol);
        if (r >= 0 || mode == PICPQ__RANK_FAST_ONLY) {
            ws->n_fast += r >= 0;
            *rank = r;
            return PICPQ_OK;
        }
    }
    ws->n_fallback++;
    return rank_sgesdd(ws, base, sh, sw, atol, rtol, rank);
}

/* First non-finite element of a map (for the error message). */
void picpq__rank_find_nonfinite(const char *base, int64_t h, int64_t w, int64_t sh, int64_t sw,
                                int64_t *row, int64_t *col)
{
    int64_t i, j;
    for (i = 0; i < h; i++)
        for (j = 0; j < w; j++) {
            float x;
            memcpy(&x, base + i * sh + j * sw, sizeof x);
            if (!isfinite(x)) {
                *row = i;
                *col = j;
                return;
            }
        }
    *row = *col = -1;
}
