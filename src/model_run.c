/* Running a loaded model: workspaces and the forward pass. Ops run layer
 * by layer over the whole batch; convolutions are im2col + sgemm per image
 * and group (1x1 stride-1 convolutions skip the im2col), linear layers one
 * sgemm over the batch. Nothing is allocated here once the workspace
 * exists, and the model is only read, so threads can share it. The sgemm
 * is OpenBLAS's, or with PICPQ_NO_BLAS (the runtime library of `make
 * runtime`, for devices without BLAS) the portable loops below: the same
 * products, summed in another order. */
#include "picpq_internal.h"

#ifndef PICPQ_NO_BLAS
#include <cblas.h>
#endif
#include <math.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#ifdef PICPQ_NO_BLAS
/* C (m x n, row stride ldc) = A (m x k) · B (k x n), all row-major. Four
 * rows of C at a time over a strip of NB columns: each row of B's strip is
 * loaded once for four rows, the four accumulator strips (4 · NB floats)
 * stay in L1, and the inner loop is a plain axpy the compiler vectorizes. */
#define GEMM_NB 256
static void gemm_nn(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                    int64_t ldb, float *c, int64_t ldc)
{
    int64_t j0, i, p, j;
    for (j0 = 0; j0 < n; j0 += GEMM_NB) {
        const int64_t nb = n - j0 < GEMM_NB ? n - j0 : GEMM_NB;
        for (i = 0; i + 4 <= m; i += 4) {
            float *restrict c0 = c + i * ldc + j0, *restrict c1 = c0 + ldc;
            float *restrict c2 = c1 + ldc, *restrict c3 = c2 + ldc;
            const float *a0 = a + i * lda;
            memset(c0, 0, (size_t)nb * sizeof(float));
            memset(c1, 0, (size_t)nb * sizeof(float));
            memset(c2, 0, (size_t)nb * sizeof(float));
            memset(c3, 0, (size_t)nb * sizeof(float));
            for (p = 0; p < k; p++) {
                const float *restrict bp = b + p * ldb + j0;
                const float w0 = a0[p], w1 = a0[lda + p], w2 = a0[2 * lda + p],
                            w3 = a0[3 * lda + p];
                for (j = 0; j < nb; j++) {
                    const float v = bp[j];
                    c0[j] += w0 * v;
                    c1[j] += w1 * v;
                    c2[j] += w2 * v;
                    c3[j] += w3 * v;
                }
            }
        }
        for (; i < m; i++) {
            float *restrict c0 = c + i * ldc + j0;
            memset(c0, 0, (size_t)nb * sizeof(float));
            for (p = 0; p < k; p++) {
                const float *restrict bp = b + p * ldb + j0;
                const float w0 = a[i * lda + p];
                for (j = 0; j < nb; j++) c0[j] += w0 * bp[j];
            }
        }
    }
}

/* C (m x n) = A (m x k) · B (n x k)ᵀ: dot products of rows. Four partial
 * sums break the dependency chain of one long sum. */
static void gemm_nt(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                    int64_t ldb, float *c, int64_t ldc)
{
    int64_t i, j, p;
    for (i = 0; i < m; i++)
        for (j = 0; j < n; j++) {
            const float *x = a + i * lda, *w = b + j * ldb;
            float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
            for (p = 0; p + 4 <= k; p += 4) {
                s0 += x[p] * w[p];
                s1 += x[p + 1] * w[p + 1];
                s2 += x[p + 2] * w[p + 2];
                s3 += x[p + 3] * w[p + 3];
            }
            for (; p < k; p++) s0 += x[p] * w[p];
            c[i * ldc + j] = (s0 + s1) + (s2 + s3);
        }
}
#else
static void gemm_nn(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                    int64_t ldb, float *c, int64_t ldc)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0f, a,
                (int)lda, b, (int)ldb, 0.0f, c, (int)ldc);
}

static void gemm_nt(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                    int64_t ldb, float *c, int64_t ldc)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)k, 1.0f, a, (int)lda,
                b, (int)ldb, 0.0f, c, (int)ldc);
}
#endif

static picpq_status workspace_floats(const picpq_model *m, int64_t batch, int64_t *slots,
                                     size_t *bytes)
{
    int64_t n, total;
    if (!picpq__mul_i64(m->slot_elems, batch, &n) || !picpq__mul_i64(n, m->n_slots, &n) ||
        !picpq__add_i64(n, m->col_elems, &total) || !picpq__mul_i64(total, 4, &total) ||
        !picpq__add_i64(total, m->int_bytes, &total) ||
        !picpq__add_i64(total, (int64_t)sizeof(picpq_model_workspace), &total) ||
        !picpq__i64_to_size(total, bytes))
        return picpq__fail(PICPQ_E_OVERFLOW, "workspace for batch %lld overflows",
                           (long long)batch);
    *slots = n;
    return PICPQ_OK;
}

picpq_status picpq_model_workspace_size(const picpq_model *m, int64_t batch, size_t *bytes)
{
    int64_t slots = 0; /* set by workspace_floats; GCC -O3 cannot see it */
    picpq__clear_error();
    PICPQ__REQUIRE(m, "m");
    PICPQ__REQUIRE(bytes, "bytes");
    if (batch < 1)
        return picpq__fail(PICPQ_E_OUT_OF_RANGE, "batch = %lld is not >= 1", (long long)batch);
    return workspace_floats(m, batch, &slots, bytes);
}

picpq_status picpq_model_workspace_create(const picpq_model *m, int64_t batch,
                                          picpq_model_workspace **out)
{
    picpq_model_workspace *ws;
    int64_t slots = 0; /* set by workspace_floats; GCC -O3 cannot see it */
    size_t bytes;
    picpq_status st;
    picpq__clear_error();
    PICPQ__REQUIRE(out, "out");
    *out = NULL;
    PICPQ__REQUIRE(m, "m");
    if (batch < 1)
        return picpq__fail(PICPQ_E_OUT_OF_RANGE, "batch = %lld is not >= 1", (long long)batch);
    st = workspace_floats(m, batch, &slots, &bytes);
    if (st != PICPQ_OK) return st;
    ws = picpq__malloc(&m->alloc, sizeof(*ws));
    if (ws == NULL) return picpq__fail(PICPQ_E_NOMEM, "workspace handle");
    ws->model = m;
    ws->batch = batch;
    ws->slots = picpq__malloc(&m->alloc, (size_t)slots * sizeof(float));
    ws->col = picpq__malloc(&m->alloc, (size_t)m->col_elems * sizeof(float));
    ws->iscratch = m->int_bytes > 0 ? picpq__malloc(&m->alloc, (size_t)m->int_bytes) : NULL;
    if (ws->slots == NULL || ws->col == NULL || (m->int_bytes > 0 && ws->iscratch == NULL)) {
        picpq_model_workspace_free(ws);
        return picpq__fail(PICPQ_E_NOMEM, "workspace of %zu bytes", bytes);
    }
    *out = ws;
    return PICPQ_OK;
}

void picpq_model_workspace_free(picpq_model_workspace *ws)
{
    const picpq_allocator *a;
    if (ws == NULL) return;
    a = &ws->model->alloc;
    picpq__free(a, ws->slots);
    picpq__free(a, ws->col);
    picpq__free(a, ws->iscratch);
    picpq__free(a, ws);
}

/* Output rows [y0, y0 + rows) of the im2col matrix of channels [c0, c0 +
 * cg) of one image: row (c·kh + i)·kw + j holds input (c, y·sh − ph + i,
 * x·sw − pw + j) for every output (y, x) of those rows, zero outside the
 * input. Elements are floats (esize 4) or activation codes (esize 1); zero
 * is all-zero bytes in both. */
/* Stride 1 and output rows as wide as input rows ("same" padding): the rows
 * of one kernel tap are one contiguous span of the input plane. */
static int same_rows(const picpq__model_op *o)
{
    return o->sh == 1 && o->sw == 1 && o->in_w == o->w;
}

/* One kernel tap (i, j) of a tile for same_rows: the in-range rows as one
 * copy of the span (the columns that wrap into the next input row land in
 * padding positions and are zeroed after), the out-of-range rows zeroed. */
static void copy_same(const picpq__model_op *o, const unsigned char *plane, size_t esize, int64_t i,
                      int64_t j, int64_t lo, int64_t hi, int64_t y0, int64_t rows,
                      unsigned char *out)
{
    const int64_t w = o->w;
    int64_t ya = y0, yb = y0 + rows, y; /* rows [ya, yb) read the input */
    while (ya < yb && ya - o->ph + i < 0) ya++;
    while (yb > ya && yb - 1 - o->ph + i >= o->in_h) yb--;
    memset(out, 0, (size_t)((ya - y0) * w) * esize);
    memset(out + (size_t)((yb - y0) * w) * esize, 0, (size_t)((y0 + rows - yb) * w) * esize);
    if (ya == yb) return;
    memcpy(out + (size_t)((ya - y0) * w + lo) * esize,
           plane + (size_t)((ya - o->ph + i) * o->in_w + lo - o->pw + j) * esize,
           (size_t)((yb - ya) * w - lo - (w - hi)) * esize);
    for (y = ya; y < yb; y++) {
        unsigned char *row = out + (size_t)((y - y0) * w) * esize;
        memset(row, 0, (size_t)lo * esize);
        memset(row + (size_t)hi * esize, 0, (size_t)(w - hi) * esize);
    }
}

static void im2col(const picpq__model_op *o, const void *x, size_t esize, int64_t c0, int64_t cg,
                   int64_t y0, int64_t rows, void *col)
{
    const size_t plane_bytes = (size_t)(o->in_h * o->in_w) * esize, w = (size_t)o->w;
    unsigned char *out = col;
    int64_t c, i, j, y, xo;
    for (c = 0; c < cg; c++) {
        const unsigned char *plane = (const unsigned char *)x + (size_t)(c0 + c) * plane_bytes;
        for (i = 0; i < o->kh; i++)
            for (j = 0; j < o->kw; j++) {
                /* outputs xo in [lo, hi) read inside the row (ix = xo·sw − pw + j);
                 * the rest are padding, the same for every row */
                int64_t lo = 0, hi = o->w;
                while (lo < hi && lo * o->sw - o->pw + j < 0) lo++;
                while (hi > lo && (hi - 1) * o->sw - o->pw + j >= o->in_w) hi--;
                if (same_rows(o) && lo < hi) {
                    copy_same(o, plane, esize, i, j, lo, hi, y0, rows, out);
                    out += (size_t)rows * w * esize;
                    continue;
                }
                for (y = y0; y < y0 + rows; y++) {
                    const int64_t iy = y * o->sh - o->ph + i;
                    const unsigned char *src;
                    unsigned char *row = out + (size_t)(y - y0) * w * esize;
                    if (iy < 0 || iy >= o->in_h || lo == hi) {
                        memset(row, 0, w * esize);
                        continue;
                    }
                    /* input element of output lo */
                    src = plane + (size_t)(iy * o->in_w + lo * o->sw - o->pw + j) * esize;
                    memset(row, 0, (size_t)lo * esize);
                    if (o->sw == 1) memcpy(row + lo * esize, src, (size_t)(hi - lo) * esize);
                    else if (esize == sizeof(float))
                        for (xo = lo; xo < hi; xo++)
                            ((float *)(void *)row)[xo] = ((
                                const float *)(const void *)src)[(xo - lo) * o->sw];
                    else
                        for (xo = lo; xo < hi; xo++) row[xo] = src[(xo - lo) * o->sw];
                    memset(row + hi * esize, 0, (size_t)(o->w - hi) * esize);
                }
                out += (size_t)rows * w * esize;
            }
    }
}

static void run_conv(const picpq__model_op *o, const float *x, float *y, float *col, int64_t n,
                     int64_t stride)
{
    const int64_t cg = o->in_c / o->groups, og = o->c / o->groups;
    const int64_t k = cg * o->kh * o->kw, hw = o->h * o->w;
    const int direct = o->kh == 1 && o->kw == 1 && o->sh == 1 && o->sw == 1 && o->ph == 0 &&
                       o->pw == 0;
    int64_t b, g, c, i, y0;
    for (b = 0; b < n; b++) {
        const float *xb = x + b * stride;
        float *yb = y + b * stride;
        for (g = 0; g < o->groups; g++) {
            const float *w = o->weight + g * og * k;
            float *yg = yb + g * og * hw;
            if (direct) {
                gemm_nn(og, hw, k, w, k, xb + g * cg * o->in_h * o->in_w, hw, yg, hw);
                continue;
            }
            for (y0 = 0; y0 < o->h; y0 += o->col_rows) {
                const int64_t rows = o->h - y0 < o->col_rows ? o->h - y0 : o->col_rows;
                im2col(o, xb, sizeof(float), g * cg, cg, y0, rows, col);
                gemm_nn(og, rows * o->w, k, w, k, col, rows * o->w, yg + y0 * o->w, hw);
            }
        }
        if (o->bias != NULL)
            for (c = 0; c < o->c; c++)
                for (i = 0; i < hw; i++) yb[c * hw + i] += o->bias[c];
    }
}

/* C (m x n, int32) = A (m x k, int8 weight codes) · B (k x n, uint8 activation codes, row p
 * at b[p]): the loop order of gemm_nn; exact (the loader keeps k · levels · (2^k − 1) in
 * int32). */
static void gemm_codes(int64_t m, int64_t n, int64_t k, const int8_t *a, const uint8_t *const *b,
                       int32_t *c)
{
    int64_t i, p, j;
    for (i = 0; i + 4 <= m; i += 4) {
        int32_t *restrict c0 = c + i * n, *restrict c1 = c0 + n;
        int32_t *restrict c2 = c1 + n, *restrict c3 = c2 + n;
        const int8_t *a0 = a + i * k;
        memset(c0, 0, (size_t)(4 * n) * sizeof(int32_t));
        for (p = 0; p < k; p++) {
            const uint8_t *restrict bp = b[p];
            const int32_t w0 = a0[p], w1 = a0[k + p], w2 = a0[2 * k + p], w3 = a0[3 * k + p];
            for (j = 0; j < n; j++) {
                const int32_t v = bp[j];
                c0[j] += w0 * v;
                c1[j] += w1 * v;
                c2[j] += w2 * v;
                c3[j] += w3 * v;
            }
        }
    }
    for (; i < m; i++) {
        int32_t *restrict c0 = c + i * n;
        memset(c0, 0, (size_t)n * sizeof(int32_t));
        for (p = 0; p < k; p++) {
            const uint8_t *restrict bp = b[p];
            const int32_t w0 = a[i * k + p];
            for (j = 0; j < n; j++) c0[j] += w0 * bp[j];
        }
    }
}

/* Where a conv on codes keeps its scratch (bytes from the start). A stride-1 conv
 * reads its GEMM rows straight from the input's codes laid out with the zero padding
 * (wide: the sums of an output row span the padded row's wp columns, of which the
 * first w are outputs), so it needs no im2col tile; others build the tile in col. A conv
 * in the direct order (c4 > 0) keeps in a either the direct kernel's interleaved planes
 * or, on the portable kernel, the plain padded planes; its GEMM rows in that order read
 * the zero row for the channels past in_c. */
typedef struct {
    int wide;
    int64_t k;          /* GEMM depth: the codes of one output channel (per group) */
    int64_t hp, wp, ow; /* the input planes as stored; sums per output row */
    int64_t flat, col, tmp, zero, rows, acc, vnni, total;
} codes_layout;

static int64_t align8(int64_t b)
{
    return (b + 7) / 8 * 8;
}

static void codes_layout_of(const picpq__model_op *o, codes_layout *l)
{
    const int64_t k = o->c4 > 0 ? (int64_t)o->kh * o->kw * o->c4 * 4
                                : o->in_c / o->groups * o->kh * o->kw;
    const int64_t og = o->c / o->groups, in = o->in_c * o->in_h * o->in_w;
    const int64_t planes = o->c4 > 0 ? 4 * o->c4 : o->in_c;
    int64_t cols;
    l->k = k;
    l->wide = o->sh == 1 && o->sw == 1;
    l->hp = l->wide ? o->in_h + 2 * o->ph : o->in_h;
    l->wp = l->wide ? o->in_w + 2 * o->pw : o->in_w;
    l->ow = l->wide ? l->wp : o->w;
    cols = o->col_rows * l->ow;
    /* a: the input codes; the last tap's row runs kw − 1 elements (of 4 bytes in the
     * direct layout) past the last plane, into padding columns */
    l->flat = align8(planes * l->hp * l->wp + (l->wide ? 4 * o->kw : 0));
    l->col = align8(l->flat + (l->wide ? in : 0)); /* flat: the unpadded codes, in one pass */
    l->tmp = align8(l->col + (l->wide ? 0 : k * cols));
    l->zero = align8(l->tmp + (o->c4 > 0 ? 4 * o->c4 * ((o->in_h * o->in_w + 15) / 16 * 16) : 0));
    l->rows = align8(l->zero + (o->c4 > 0 ? cols : 0));
    l->acc = align8(l->rows + (k > o->in_c ? k : o->in_c) * (int64_t)sizeof(uint8_t *));
    l->vnni = align8(l->acc + og * cols * (int64_t)sizeof(int32_t));
    l->total = l->vnni + (o->c4 > 0 ? 0 : picpq__gemm_codes_vnni_scratch(og, cols, k));
}

int64_t picpq__conv_codes_bytes(const picpq__model_op *o)
{
    codes_layout l;
    codes_layout_of(o, &l);
    return l.total;
}

/* Codes of n values: trunc(clip(x · ainv + 0.5, 0, 255)), x · ainv being within a few ulps
 * of the code; a NaN (the quantizer passes one through from an overflowed layer) gives 0.
 * The SSE2 loop gives the scalar one's bytes: maxps returns its second operand, 0, for a
 * NaN, and cvttps truncates as the cast does. */
static void to_codes(const float *x, int64_t n, float ainv, uint8_t *a)
{
    int64_t i = 0;
#ifdef __SSE2__
    const __m128 s = _mm_set1_ps(ainv), half = _mm_set1_ps(0.5f), top = _mm_set1_ps(255.0f);
    const __m128 zero = _mm_setzero_ps();
    for (; i + 8 <= n; i += 8) {
        const __m128 t0 = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(x + i), s), half);
        const __m128 t1 = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(x + i + 4), s), half);
        const __m128i q0 = _mm_cvttps_epi32(_mm_min_ps(_mm_max_ps(t0, zero), top));
        const __m128i q1 = _mm_cvttps_epi32(_mm_min_ps(_mm_max_ps(t1, zero), top));
        _mm_storel_epi64((void *)(a + i), _mm_packus_epi16(_mm_packs_epi32(q0, q1), q0));
    }
#endif
    for (; i < n; i++) {
        float t = x[i] * ainv + 0.5f;
        t = t > 0.0f ? t : 0.0f; /* and a NaN */
        a[i] = (uint8_t)(int32_t)(t < 255.0f ? t : 255.0f);
    }
}

/* The activation codes of one image's input into planes of hp x wp, the padding zero
 * when wide. */
static void input_codes(const picpq__model_op *o, const codes_layout *l, const float *x, uint8_t *a)
{
    uint8_t *flat = a + l->flat;
    int64_t c, iy;
    if (!l->wide) {
        to_codes(x, o->in_c * o->in_h * o->in_w, o->ainv, a);
        return;
    }
    to_codes(x, o->in_c * o->in_h * o->in_w, o->ainv, flat);
    memset(a, 0, (size_t)l->flat);
    for (c = 0; c < o->in_c; c++)
        for (iy = 0; iy < o->in_h; iy++)
            memcpy(a + (c * l->hp + iy + o->ph) * l->wp + o->pw,
                   flat + (c * o->in_h + iy) * o->in_w, (size_t)o->in_w);
}

/* The GEMM rows of output rows y0 .. of a wide conv over its padded planes a: row (c, i, j)
 * is padded input row y0 + i of channel c from column j on; in the direct order (c4 > 0)
 * the rows go tap by tap, channels past in_c reading zero. */
static void wide_rows(const picpq__model_op *o, const codes_layout *l, const uint8_t *a,
                      const uint8_t *zero, int64_t ch0, int64_t cg, int64_t y0, const uint8_t **r)
{
    int64_t ch, i, j;
    if (o->c4 > 0) {
        for (i = 0; i < o->kh; i++)
            for (j = 0; j < o->kw; j++)
                for (ch = 0; ch < 4 * o->c4; ch++)
                    *r++ = ch < o->in_c ? a + (ch * l->hp + y0 + i) * l->wp + j : zero;
        return;
    }
    for (ch = ch0; ch < ch0 + cg; ch++)
        for (i = 0; i < o->kh; i++)
            for (j = 0; j < o->kw; j++) *r++ = a + (ch * l->hp + y0 + i) * l->wp + j;
}

/* A convolution on codes (PICPQ_MODEL_INTEGER): its input is an activation quantizer's
 * output, step · a with a in 0 .. 2^k − 1; the int32 sums times one step per layer (or
 * channel), then the bias. Where the float path would carry a NaN through, this one reads
 * code 0. */
static void run_conv_codes(const picpq__model_op *o, const float *x, float *y,
                           unsigned char *scratch, int64_t n, int64_t stride)
{
    const int64_t cg = o->in_c / o->groups, og = o->c / o->groups, hw = o->h * o->w;
    const int direct = o->c4 > 0 && picpq__vnni_available();
    codes_layout l;
    uint8_t *a = scratch, *col, *zero;
    const uint8_t **rows;
    int32_t *acc;
    int64_t b, g, c, p, yy, j, y0;
    int64_t k;
    codes_layout_of(o, &l);
    k = l.k;
    col = scratch + l.col;
    zero = scratch + l.zero;
    rows = (const uint8_t **)(void *)(scratch + l.rows);
    acc = (int32_t *)(void *)(scratch + l.acc);
    if (o->c4 > 0) memset(zero, 0, (size_t)(l.rows - l.zero));
    for (b = 0; b < n; b++) {
        float *yb = y + b * stride;
        if (direct) {
            to_codes(x + b * stride, o->in_c * o->in_h * o->in_w, o->ainv, a + l.flat);
            picpq__direct_input(o, a + l.flat, scratch + l.tmp, rows, a);
        } else input_codes(o, &l, x + b * stride, a);
        for (g = 0; g < o->groups; g++)
            for (y0 = 0; y0 < o->h; y0 += o->col_rows) {
                const int64_t nrows = o->h - y0 < o->col_rows ? o->h - y0 : o->col_rows;
                const int64_t cols = nrows * l.ow;
                if (direct) picpq__direct_gemm(o, a, y0, nrows, acc);
                else {
                    if (l.wide) wide_rows(o, &l, a, zero, g * cg, cg, y0, rows);
                    else {
                        im2col(o, a, 1, g * cg, cg, y0, nrows, col);
                        for (p = 0; p < k; p++) rows[p] = col + p * cols;
                    }
                    if (o->c4 > 0 || !picpq__gemm_codes_vnni(og, cols, k, o->codes + g * og * k,
                                                             rows, acc, scratch + l.vnni))
                        gemm_codes(og, cols, k, o->codes + g * og * k, rows, acc);
                }
                for (c = 0; c < og; c++) {
                    const float bias = o->bias != NULL ? o->bias[g * og + c] : 0.0f;
                    const float step = o->cstep != NULL ? o->cstep[g * og + c] : o->step;
                    for (yy = 0; yy < nrows; yy++) {
                        float *out = yb + (g * og + c) * hw + (y0 + yy) * o->w;
                        const int32_t *sum = acc + c * cols + yy * l.ow;
                        for (j = 0; j < o->w; j++) out[j] = (float)sum[j] * step + bias;
                    }
                }
            }
    }
}

static void run_linear(const picpq__model_op *o, const float *x, float *y, int64_t n,
                       int64_t stride)
{
    int64_t b, c;
    gemm_nt(n, o->c, o->in_c, x, stride, o->weight, o->in_c, y, stride);
    if (o->bias != NULL)
        for (b = 0; b < n; b++)
            for (c = 0; c < o->c; c++) y[b * stride + c] += o->bias[c];
}

/* Max or average pooling of one image (windows always hold an input
 * element: the loader bounds the padding by half the window). */
static void run_pool(const picpq__model_op *o, const float *x, float *y)
{
    int64_t c, oy, ox, i, j;
    for (c = 0; c < o->c; c++) {
        const float *plane = x + c * o->in_h * o->in_w;
        for (oy = 0; oy < o->h; oy++)
            for (ox = 0; ox < o->w; ox++) {
                const int64_t y0 = oy * o->sh - o->ph, x0 = ox * o->sw - o->pw;
                float acc = o->kind == PICPQ__OP_MAXPOOL ? -INFINITY : 0.0f;
                int64_t count = 0;
                for (i = y0; i < y0 + o->kh; i++)
                    for (j = x0; j < x0 + o->kw; j++) {
                        float v;
                        if (i < 0 || i >= o->in_h || j < 0 || j >= o->in_w) continue;
                        v = plane[i * o->in_w + j];
                        if (o->kind == PICPQ__OP_MAXPOOL) acc = v > acc || isnan(v) ? v : acc;
                        else acc += v;
                        count++;
                    }
                if (o->kind == PICPQ__OP_AVGPOOL) {
                    /* torch's divisor: the window clipped to the padded input */
                    const int64_t hy = (y0 + o->kh < o->in_h + o->ph ? y0 + o->kh
                                                                     : o->in_h + o->ph) -
                                       y0,
                                  wx = (x0 + o->kw < o->in_w + o->pw ? x0 + o->kw
                                                                     : o->in_w + o->pw) -
                                       x0;
                    acc /= (float)(o->flag ? hy * wx : count);
                }
                *y++ = acc;
            }
    }
}

/* y = round(clip(y, 0, 1) · lv) / lv in place (METHOD §8, E8): nearbyintf (half to even) of
 * a value in [0, 255] by the 2^23 trick, which is that rounding and no libm call; a NaN
 * passes through. The SSE2 loop gives the scalar one's bits: maxps/minps return their
 * second operand, y, for a NaN, and the arithmetic is the same IEEE single precision. */
static void quantize_levels(float *y, int64_t n, float lv)
{
    int64_t i = 0;
#ifdef __SSE2__
    const __m128 zero = _mm_setzero_ps(), one = _mm_set1_ps(1.0f), big = _mm_set1_ps(8388608.0f);
    const __m128 lvs = _mm_set1_ps(lv);
    for (; i + 4 <= n; i += 4) {
        __m128 v = _mm_min_ps(one, _mm_max_ps(zero, _mm_loadu_ps(y + i)));
        v = _mm_sub_ps(_mm_add_ps(_mm_mul_ps(v, lvs), big), big);
        _mm_storeu_ps(y + i, _mm_div_ps(v, lvs));
    }
#endif
    for (; i < n; i++) {
        float v = y[i] < 0.0f ? 0.0f : y[i];
        v = v > 1.0f ? 1.0f : v;
        {
            const float t = v * lv; /* a statement of its own: never fused */
            y[i] = ((t + 8388608.0f) - 8388608.0f) / lv;
        }
    }
}

static void run_op(const picpq__model_op *o, const float *x, const float *x2, float *y,
                   picpq_model_workspace *ws, int64_t n, int64_t stride)
{
    const int64_t hw = o->h * o->w, size = o->c * hw;
    int64_t b, c, i;
    switch (o->kind) {
    case PICPQ__OP_CONV:
        if (o->codes != NULL) run_conv_codes(o, x, y, ws->iscratch, n, stride);
        else run_conv(o, x, y, ws->col, n, stride);
        return;
    case PICPQ__OP_LINEAR: run_linear(o, x, y, n, stride); return;
    default: break;
    }
    for (b = 0; b < n; b++) {
        const float *xb = x + b * stride;
        float *yb = y + b * stride;
        switch (o->kind) {
        case PICPQ__OP_AFFINE:
            for (c = 0; c < o->c; c++)
                for (i = 0; i < hw; i++)
                    yb[c * hw + i] = xb[c * hw + i] * o->weight[c] + o->bias[c];
            break;
        case PICPQ__OP_RELU:
            for (i = 0; i < size; i++) yb[i] = xb[i] > 0.0f ? xb[i] : 0.0f;
            if (o->scale > 0.0f)
                for (i = 0; i < size; i++) yb[i] = yb[i] > o->scale ? o->scale : yb[i];
            break;
        case PICPQ__OP_ACTQ:
            if (o->bits == 1) {
                for (i = 0; i < size; i++) yb[i] = xb[i] > 0.0f ? 1.0f : 0.0f;
            } else {
                const float lv = (float)((1 << o->bits) - 1);
                if (o->scale != 1.0f)
                    for (i = 0; i < size; i++) yb[i] = xb[i] / o->scale;
                else if (yb != xb) memcpy(yb, xb, (size_t)size * sizeof(float));
                quantize_levels(yb, size, lv);
            }
            if (o->scale != 1.0f)
                for (i = 0; i < size; i++) yb[i] *= o->scale; /* ActQuant: scale · q(x / scale) */
            break;
        case PICPQ__OP_ADD:
            for (i = 0; i < size; i++) yb[i] = xb[i] + x2[b * stride + i];
            break;
        case PICPQ__OP_SHORTCUT:
            for (c = 0; c < o->c; c++) {
                const int32_t ic = o->index[c];
                const float *plane = xb + ic * o->in_h * o->in_w;
                float *out = yb + c * hw;
                int64_t oy, ox;
                if (ic < 0) {
                    memset(out, 0, (size_t)hw * sizeof(float));
                    continue;
                }
                for (oy = 0; oy < o->h; oy++)
                    for (ox = 0; ox < o->w; ox++) *out++ = plane[oy * o->sh * o->in_w + ox * o->sw];
            }
            break;
        case PICPQ__OP_MAXPOOL:
        case PICPQ__OP_AVGPOOL: run_pool(o, xb, yb); break;
        case PICPQ__OP_GAP: {
            const int64_t area = o->in_h * o->in_w;
            for (c = 0; c < o->c; c++) {
                float acc = 0.0f;
                for (i = 0; i < area; i++) acc += xb[c * area + i];
                yb[c] = acc / (float)area;
            }
            break;
        }
        default: /* FLATTEN: the same floats in the same order */
            memcpy(yb, xb, (size_t)size * sizeof(float));
            break;
        }
    }
}

/* Where value v lives in the workspace (0 = the input, k + 1 = op k's output):
 * its slot, batch images one slot_elems stride apart. */
static float *value_at(const picpq_model *m, const picpq_model_workspace *ws, int32_t v)
{
    const int32_t slot = v == 0 ? m->input_slot : m->ops[v - 1].slot;
    return ws->slots + (int64_t)slot * ws->batch * m->slot_elems;
}

picpq_status picpq_model_run(const picpq_model *m, picpq_model_workspace *ws, const float *input,
                             int64_t n, float *logits)
{
    const int64_t in_size = m ? m->in_c * m->in_h * m->in_w : 0;
    int64_t stride, b, c, i;
    float *slot0;
    int32_t k;
    picpq__clear_error();
    PICPQ__REQUIRE(m, "m");
    PICPQ__REQUIRE(ws, "ws");
    PICPQ__REQUIRE(input, "input");
    PICPQ__REQUIRE(logits, "logits");
    if (ws->model != m) return picpq__fail(PICPQ_E_INVALID_ARG, "ws was created on another model");
    if (n < 1 || n > ws->batch)
        return picpq__fail(PICPQ_E_OUT_OF_RANGE,
                           "n = %lld is not in 1..%lld (the workspace's batch)", (long long)n,
                           (long long)ws->batch);
    for (i = 0; i < n * in_size; i++)
        if (!isfinite(input[i]))
            return picpq__fail(PICPQ_E_NONFINITE, "input[%lld] is not finite", (long long)i);
    stride = m->slot_elems;
    slot0 = value_at(m, ws, 0);
    for (b = 0; b < n; b++) {
        const int64_t area = m->in_h * m->in_w;
        for (c = 0; c < m->in_c; c++)
            for (i = 0; i < area; i++) {
                const float v = input[b * in_size + c * area + i];
                slot0[b * stride + c * area + i] = m->mean != NULL ? (v - m->mean[c]) / m->std[c]
                                                                   : v;
            }
    }
    for (k = 0; k < m->n_ops; k++) {
        const picpq__model_op *o = &m->ops[k];
        run_op(o, value_at(m, ws, o->src), value_at(m, ws, o->src2), value_at(m, ws, k + 1), ws, n,
               stride);
    }
    {
        const float *out = value_at(m, ws, m->n_ops);
        for (b = 0; b < n; b++)
            memcpy(logits + b * m->classes, out + b * stride, (size_t)m->classes * sizeof(float));
    }
    return PICPQ_OK;
}
