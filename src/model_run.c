/* Running a loaded model: workspaces and the forward pass. Ops run layer
 * by layer over the whole batch; convolutions are im2col + cblas_sgemm per
 * image and group (1x1 stride-1 convolutions skip the im2col), linear
 * layers one sgemm over the batch. Nothing is allocated here once the
 * workspace exists, and the model is only read, so threads can share it. */
#include "picpq_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

static picpq_status workspace_floats(const picpq_model *m, int64_t batch, int64_t *slots,
                                     size_t *bytes)
{
    int64_t n, total;
    if (!picpq__mul_i64(m->slot_elems, batch, &n) || !picpq__mul_i64(n, m->n_slots, &n) ||
        !picpq__add_i64(n, m->col_elems, &total) || !picpq__mul_i64(total, 4, &total) ||
        !picpq__add_i64(total, (int64_t)sizeof(picpq_model_workspace), &total) ||
        !picpq__i64_to_size(total, bytes))
        return picpq__fail(PICPQ_E_OVERFLOW, "workspace for batch %lld overflows",
                           (long long)batch);
    *slots = n;
    return PICPQ_OK;
}

picpq_status picpq_model_workspace_size(const picpq_model *m, int64_t batch, size_t *bytes)
{
    int64_t slots;
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
    int64_t slots;
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
    if (ws->slots == NULL || ws->col == NULL) {
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
    picpq__free(a, ws);
}

/* The rows of the im2col matrix of channels [c0, c0 + cg) of one image:
 * row (c·kh + i)·kw + j holds input (c, y·sh − ph + i, x·sw − pw + j) for
 * every output (y, x), zero outside the input. */
static void im2col(const picpq__model_op *o, const float *x, int64_t c0, int64_t cg, float *col)
{
    int64_t c, i, j, y, xo;
    for (c = 0; c < cg; c++) {
        const float *plane = x + (c0 + c) * o->in_h * o->in_w;
        for (i = 0; i < o->kh; i++)
            for (j = 0; j < o->kw; j++) {
                /* outputs xo in [lo, hi) read inside the row (ix = xo·sw − pw + j);
                 * the rest are padding, the same for every row */
                int64_t lo = 0, hi = o->w;
                while (lo < hi && lo * o->sw - o->pw + j < 0) lo++;
                while (hi > lo && (hi - 1) * o->sw - o->pw + j >= o->in_w) hi--;
                for (y = 0; y < o->h; y++) {
                    const int64_t iy = y * o->sh - o->ph + i;
                    const float *src;
                    float *row = col + y * o->w;
                    if (iy < 0 || iy >= o->in_h || lo == hi) {
                        memset(row, 0, (size_t)o->w * sizeof(float));
                        continue;
                    }
                    src = plane + iy * o->in_w + (lo * o->sw - o->pw + j); /* output lo */
                    for (xo = 0; xo < lo; xo++) row[xo] = 0.0f;
                    if (o->sw == 1) memcpy(row + lo, src, (size_t)(hi - lo) * sizeof(float));
                    else
                        for (xo = lo; xo < hi; xo++) row[xo] = src[(xo - lo) * o->sw];
                    for (xo = hi; xo < o->w; xo++) row[xo] = 0.0f;
                }
                col += o->h * o->w;
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
    int64_t b, g, c, i;
    for (b = 0; b < n; b++) {
        const float *xb = x + b * stride;
        float *yb = y + b * stride;
        for (g = 0; g < o->groups; g++) {
            const float *src = xb + g * cg * o->in_h * o->in_w;
            if (!direct) {
                im2col(o, xb, g * cg, cg, col);
                src = col;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)og, (int)hw, (int)k, 1.0f,
                        o->weight + g * og * k, (int)k, src, (int)hw, 0.0f, yb + g * og * hw,
                        (int)hw);
        }
        if (o->bias != NULL)
            for (c = 0; c < o->c; c++)
                for (i = 0; i < hw; i++) yb[c * hw + i] += o->bias[c];
    }
}

static void run_linear(const picpq__model_op *o, const float *x, float *y, int64_t n,
                       int64_t stride)
{
    int64_t b, c;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)o->c, (int)o->in_c, 1.0f, x,
                (int)stride, o->weight, (int)o->in_c, 0.0f, y, (int)stride);
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

static void run_op(const picpq__model_op *o, const float *x, const float *x2, float *y, float *col,
                   int64_t n, int64_t stride)
{
    const int64_t hw = o->h * o->w, size = o->c * hw;
    int64_t b, c, i;
    switch (o->kind) {
    case PICPQ__OP_CONV: run_conv(o, x, y, col, n, stride); return;
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
                for (i = 0; i < size; i++) {
                    float v = yb[i] < 0.0f ? 0.0f : yb[i];
                    v = v > 1.0f ? 1.0f : v;
                    /* METHOD §8, E8: nearbyintf (half to even) of a value in [0, 255],
                     * by the 2^23 trick, which is that rounding and no libm call */
                    const float t = v * lv; /* a statement of its own: never fused */
                    yb[i] = ((t + 8388608.0f) - 8388608.0f) / lv;
                }
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
    slot0 = ws->slots + (int64_t)m->input_slot * ws->batch * stride;
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
        const int32_t s1 = o->src == 0 ? m->input_slot : m->ops[o->src - 1].slot;
        const int32_t s2 = o->src2 == 0 ? m->input_slot : m->ops[o->src2 - 1].slot;
        run_op(o, ws->slots + (int64_t)s1 * ws->batch * stride,
               ws->slots + (int64_t)s2 * ws->batch * stride,
               ws->slots + (int64_t)o->slot * ws->batch * stride, ws->col, n, stride);
    }
    {
        const float *out = ws->slots + (int64_t)m->ops[m->n_ops - 1].slot * ws->batch * stride;
        for (b = 0; b < n; b++)
            memcpy(logits + b * m->classes, out + b * stride, (size_t)m->classes * sizeof(float));
    }
    return PICPQ_OK;
}
