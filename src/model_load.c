/* Loading a model file (docs/FORMATS.md, "Model file") into a picpq_model:
 * the envelope of the codec, then the ops, each validated and its output
 * shape inferred before the next is read. Every count is checked against
 * the bytes left in the file before anything is allocated for it, so a
 * hostile file cannot ask for memory its size does not pay for. */
#include "picpq_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const unsigned char model_magic[8] = {'P', 'Q', 'M', 'O', 'D', 'E', 'L', 0};
#define MODEL_VERSION 1u
#define MODEL_MIN_BYTES \
    (PICPQ__STATE_HEADER_BYTES + 24 + PICPQ__STATE_CRC_BYTES) /* + fixed fields */
#define MAX_DIM 65536                /* channels, height, width, features */
#define MAX_VALUE ((int64_t)1 << 26) /* floats of one image's value */
#define MAX_COL ((int64_t)1 << 28)   /* floats of one im2col matrix */
#define MAX_KERNEL 64                /* kernel, stride and padding sizes */
#define MAX_OPS 1000000
#define MAX_FILE ((long)1 << 30)

#define BAD(...) picpq__fail(PICPQ_E_FORMAT, __VA_ARGS__)

static const char *op_name(int32_t kind)
{
    static const char *names[] = {"?",   "conv",     "linear",  "affine",  "relu", "actq",
                                  "add", "shortcut", "maxpool", "avgpool", "gap",  "flatten"};
    return kind >= 1 && kind <= PICPQ__OP_LAST ? names[kind] : "?";
}

static float get_f32(picpq__reader *r)
{
    const uint32_t u = picpq__get_u32(r);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* n finite float32 values into a new array; NULL with a status in *st. */
static float *read_floats(picpq__reader *r, const picpq_allocator *a, int64_t n, int positive,
                          int32_t op, const char *what, picpq_status *st)
{
    float *v;
    int64_t i;
    if ((uint64_t)n > picpq__reader_left(r) / 4) {
        *st = BAD("model: op %d: %lld %s values run past the end of the file", (int)op,
                  (long long)n, what);
        return NULL;
    }
    v = picpq__malloc(a, (size_t)n * sizeof(float));
    if (v == NULL) {
        *st = picpq__fail(PICPQ_E_NOMEM, "model: %lld %s values", (long long)n, what);
        return NULL;
    }
    for (i = 0; i < n; i++) {
        v[i] = get_f32(r);
        if (!isfinite(v[i]) || (positive && !(v[i] > 0))) {
            const int finite = isfinite(v[i]);
            picpq__free(a, v);
            *st = BAD("model: op %d: %s value %lld is %s", (int)op, what, (long long)i,
                      finite ? "not positive" : "not finite");
            return NULL;
        }
    }
    *st = PICPQ_OK;
    return v;
}

/* The weights of a conv or linear op: float32, or packed codes with their
 * levels and magnitude, decoded to magnitude * (code / levels) in float32
 * (the value the E7 quantizer gives, METHOD §8). */
static picpq_status read_weights(picpq__reader *r, const picpq_allocator *a, picpq__model_op *o,
                                 int32_t id, int64_t n)
{
    picpq_status st;
    uint32_t levels, expect;
    float mag;
    int64_t bytes, i;
    int8_t *codes;
    if (o->bits == 32) {
        o->code_lv = 0;
        o->weight = read_floats(r, a, n, 0, id, "weight", &st);
        return st;
    }
    if (o->bits < 1 || o->bits > 8)
        return BAD("model: op %d (%s): weight bits %d is not 1..8 or 32", (int)id, op_name(o->kind),
                   (int)o->bits);
    levels = picpq__get_u32(r);
    mag = get_f32(r);
    expect = o->bits <= 2 ? 1u : (1u << (o->bits - 1)) - 1u;
    if (r->short_read) return BAD("model: op %d (%s): truncated", (int)id, op_name(o->kind));
    if (levels != expect)
        return BAD("model: op %d (%s): levels %lu for %d-bit weights (expected %lu)", (int)id,
                   op_name(o->kind), (unsigned long)levels, (int)o->bits, (unsigned long)expect);
    if (!isfinite(mag) || mag < 0 || (o->bits > 1 && mag != 1.0f))
        return BAD("model: op %d (%s): bad weight magnitude", (int)id, op_name(o->kind));
    bytes = (n * o->bits + 7) / 8; /* n < 2^55 by the dimension limits */
    if ((uint64_t)bytes > picpq__reader_left(r))
        return BAD("model: op %d (%s): %lld packed weight bytes run past the end of the file",
                   (int)id, op_name(o->kind), (long long)bytes);
    /* run on codes: the sum of k products of |code| <= levels and activation codes <=
     * code_lv must fit int32 (METHOD §8: exact integer dot product), else float */
    if (o->code_lv > 0 && (n / o->c) * (int64_t)levels * o->code_lv > INT32_MAX) o->code_lv = 0;
    codes = picpq__malloc(a, (size_t)n);
    o->weight = o->code_lv > 0 ? NULL : picpq__malloc(a, (size_t)n * sizeof(float));
    if (codes == NULL || (o->code_lv == 0 && o->weight == NULL)) {
        picpq__free(a, codes);
        return picpq__fail(PICPQ_E_NOMEM, "model: op %d: %lld weights", (int)id, (long long)n);
    }
    st = picpq_quant_unpack(r->p + r->pos, (size_t)bytes, o->bits, codes, n);
    r->pos += (size_t)bytes;
    for (i = 0; st == PICPQ_OK && i < n; i++) {
        if (codes[i] < -(int32_t)levels || codes[i] > (int32_t)levels)
            st = BAD("model: op %d (%s): weight code %lld = %d is outside [-%lu, %lu]", (int)id,
                     op_name(o->kind), (long long)i, codes[i], (unsigned long)levels,
                     (unsigned long)levels);
        else if (o->weight != NULL) o->weight[i] = mag * ((float)codes[i] / (float)levels);
    }
    if (st == PICPQ_OK && o->code_lv > 0) {
        o->codes = codes; /* freed with the op */
        o->step *= mag / (float)levels;
    } else picpq__free(a, codes);
    if (st != PICPQ_OK && st != PICPQ_E_FORMAT)
        st = BAD("model: op %d: undecodable weight codes", (int)id);
    return st;
}

/* Output size of a window of k, stride s, padding p over n (0 = none). */
static int64_t window_out(int64_t n, int32_t k, int32_t s, int32_t p)
{
    return n + 2 * p < k ? 0 : (n + 2 * p - k) / s + 1;
}

static picpq_status read_geometry(picpq__reader *r, picpq__model_op *o, int32_t id, int pool)
{
    o->kh = (int32_t)picpq__get_u32(r);
    o->kw = (int32_t)picpq__get_u32(r);
    o->sh = (int32_t)picpq__get_u32(r);
    o->sw = (int32_t)picpq__get_u32(r);
    o->ph = (int32_t)picpq__get_u32(r);
    o->pw = (int32_t)picpq__get_u32(r);
    if (r->short_read) return BAD("model: op %d (%s): truncated", (int)id, op_name(o->kind));
    if (o->kh < 1 || o->kh > MAX_KERNEL || o->kw < 1 || o->kw > MAX_KERNEL || o->sh < 1 ||
        o->sh > MAX_KERNEL || o->sw < 1 || o->sw > MAX_KERNEL || o->ph < 0 || o->ph > MAX_KERNEL ||
        o->pw < 0 || o->pw > MAX_KERNEL)
        return BAD("model: op %d (%s): kernel, stride or padding outside 1..64 (padding 0..64)",
                   (int)id, op_name(o->kind));
    /* a pooling window must always see an input element (torch's rule) */
    if (pool && (2 * o->ph > o->kh || 2 * o->pw > o->kw))
        return BAD("model: op %d (%s): padding over half the window", (int)id, op_name(o->kind));
    o->h = window_out(o->in_h, o->kh, o->sh, o->ph);
    o->w = window_out(o->in_w, o->kw, o->sw, o->pw);
    if (o->h < 1 || o->w < 1)
        return BAD("model: op %d (%s): the window is larger than the padded %lldx%lld input",
                   (int)id, op_name(o->kind), (long long)o->in_h, (long long)o->in_w);
    return PICPQ_OK;
}

static picpq_status read_dense(picpq__reader *r, const picpq_allocator *a, picpq__model_op *o,
                               int32_t id)
{
    picpq_status st;
    int64_t n;
    o->flag = (int32_t)picpq__get_u32(r);
    o->bits = (int32_t)picpq__get_u32(r);
    if (r->short_read) return BAD("model: op %d (%s): truncated", (int)id, op_name(o->kind));
    if (o->flag != 0 && o->flag != 1)
        return BAD("model: op %d (%s): has_bias is not 0 or 1", (int)id, op_name(o->kind));
    n = o->c * (o->in_c / o->groups) * o->kh * o->kw; /* < 2^16 * 2^16 * 2^12 */
    st = read_weights(r, a, o, id, n);
    if (st == PICPQ_OK && o->flag) o->bias = read_floats(r, a, o->c, 0, id, "bias", &st);
    return st;
}

/* The fields of op `id` after its kind and source; its output shape. */
static picpq_status read_op(picpq__reader *r, const picpq_allocator *a, picpq__model_op *o,
                            int32_t id)
{
    picpq_status st = PICPQ_OK;
    uint32_t u;
    int64_t i;
    o->c = o->in_c;
    o->h = o->in_h;
    o->w = o->in_w;
    o->groups = 1;
    o->kh = o->kw = o->sh = o->sw = 1;
    switch (o->kind) {
    case PICPQ__OP_CONV:
        u = picpq__get_u32(r);
        st = read_geometry(r, o, id, 0);
        if (st != PICPQ_OK) return st;
        o->groups = (int32_t)picpq__get_u32(r);
        if (u < 1 || u > MAX_DIM || o->groups < 1 || o->in_c % o->groups || u % o->groups)
            return BAD("model: op %d (conv): %lu outputs, %lld inputs and groups %d do not agree",
                       (int)id, (unsigned long)u, (long long)o->in_c, (int)o->groups);
        o->c = u;
        if (!picpq__mul_i64((o->in_c / o->groups) * o->kh * o->kw, o->h * o->w, &i) || i > MAX_COL)
            return BAD("model: op %d (conv): im2col matrix over 2^28 floats", (int)id);
        return read_dense(r, a, o, id);
    case PICPQ__OP_LINEAR:
        u = picpq__get_u32(r);
        if (o->in_h != 1 || o->in_w != 1)
            return BAD("model: op %d (linear): input is %lldx%lldx%lld, not flat", (int)id,
                       (long long)o->in_c, (long long)o->in_h, (long long)o->in_w);
        if (u < 1 || u > MAX_DIM) return BAD("model: op %d (linear): bad output count", (int)id);
        if (o->in_c * (int64_t)u > MAX_COL)
            return BAD("model: op %d (linear): weight over 2^28 values", (int)id);
        o->c = u;
        return read_dense(r, a, o, id);
    case PICPQ__OP_AFFINE:
        o->weight = read_floats(r, a, o->c, 0, id, "scale", &st);
        if (st == PICPQ_OK) o->bias = read_floats(r, a, o->c, 0, id, "shift", &st);
        return st;
    case PICPQ__OP_ACTQ:
        o->bits = (int32_t)picpq__get_u32(r);
        o->scale = get_f32(r);
        if (o->bits < 1 || o->bits > 8)
            return BAD("model: op %d (actq): bits %d is not 1..8", (int)id, (int)o->bits);
        if (!isfinite(o->scale) || !(o->scale > 0))
            return BAD("model: op %d (actq): scale is not finite and positive", (int)id);
        return PICPQ_OK;
    case PICPQ__OP_RELU:
        o->scale = get_f32(r);
        if (!isfinite(o->scale) || o->scale < 0)
            return BAD("model: op %d (relu): upper bound is not finite and >= 0", (int)id);
        return PICPQ_OK;
    case PICPQ__OP_SHORTCUT:
        o->sh = o->sw = (int32_t)picpq__get_u32(r);
        u = picpq__get_u32(r);
        if (r->short_read) return BAD("model: op %d (shortcut): truncated", (int)id);
        if (o->sh < 1 || o->sh > MAX_KERNEL || u < 1 || u > MAX_DIM)
            return BAD("model: op %d (shortcut): bad stride or channel count", (int)id);
        if ((uint64_t)u > picpq__reader_left(r) / 4)
            return BAD("model: op %d (shortcut): index runs past the end of the file", (int)id);
        o->c = u;
        o->h = (o->in_h + o->sh - 1) / o->sh;
        o->w = (o->in_w + o->sw - 1) / o->sw;
        o->index = picpq__malloc(a, (size_t)u * sizeof(int32_t));
        if (o->index == NULL) return picpq__fail(PICPQ_E_NOMEM, "model: shortcut index");
        for (i = 0; i < (int64_t)u; i++) {
            o->index[i] = (int32_t)picpq__get_u32(r);
            if (o->index[i] < -1 || o->index[i] >= o->in_c)
                return BAD("model: op %d (shortcut): index %lld = %d is outside -1..%lld", (int)id,
                           (long long)i, (int)o->index[i], (long long)o->in_c - 1);
        }
        return PICPQ_OK;
    case PICPQ__OP_MAXPOOL: return read_geometry(r, o, id, 1);
    case PICPQ__OP_AVGPOOL:
        st = read_geometry(r, o, id, 1);
        if (st != PICPQ_OK) return st;
        o->flag = (int32_t)picpq__get_u32(r);
        if (o->flag != 0 && o->flag != 1)
            return BAD("model: op %d (avgpool): count_include_pad is not 0 or 1", (int)id);
        return PICPQ_OK;
    case PICPQ__OP_GAP: o->h = o->w = 1; return PICPQ_OK;
    case PICPQ__OP_FLATTEN:
        o->c = o->in_c * o->in_h * o->in_w;
        o->h = o->w = 1;
        return PICPQ_OK;
    default: /* ADD: nothing more */ return PICPQ_OK;
    }
}

static void free_ops(picpq_model *m)
{
    int32_t i;
    if (m->ops == NULL) return;
    for (i = 0; i < m->n_ops; i++) {
        picpq__free(&m->alloc, m->ops[i].weight);
        picpq__free(&m->alloc, m->ops[i].bias);
        picpq__free(&m->alloc, m->ops[i].index);
        picpq__free(&m->alloc, m->ops[i].codes);
        picpq__free(&m->alloc, m->ops[i].cstep);
    }
    picpq__free(&m->alloc, m->ops);
}

void picpq_model_free(picpq_model *m)
{
    picpq_allocator a;
    if (m == NULL) return;
    a = m->alloc;
    free_ops(m);
    picpq__free(&a, m->mean);
    picpq__free(&a, m->std);
    picpq__free(&a, m);
}

/* Shape of value v (0 = the input, i + 1 = op i's output). */
static void value_shape(const picpq_model *m, int32_t v, int64_t *c, int64_t *h, int64_t *w)
{
    if (v == 0) {
        *c = m->in_c;
        *h = m->in_h;
        *w = m->in_w;
    } else {
        *c = m->ops[v - 1].c;
        *h = m->ops[v - 1].h;
        *w = m->ops[v - 1].w;
    }
}

static picpq_status read_ops(picpq__reader *r, picpq_model *m)
{
    int32_t i;
    for (i = 0; i < m->n_ops; i++) {
        picpq__model_op *o = &m->ops[i];
        uint32_t kind = picpq__get_u32(r), src = picpq__get_u32(r), src2 = 0;
        picpq_status st;
        if (r->short_read) return BAD("model: truncated at op %d", (int)i);
        if (kind < 1 || kind > PICPQ__OP_LAST)
            return BAD("model: op %d: unknown kind %lu", (int)i, (unsigned long)kind);
        o->kind = (int32_t)kind;
        if (src > (uint32_t)i)
            return BAD("model: op %d (%s): source value %lu is not produced yet", (int)i,
                       op_name(o->kind), (unsigned long)src);
        o->src = (int32_t)src;
        value_shape(m, o->src, &o->in_c, &o->in_h, &o->in_w);
        if (kind == PICPQ__OP_ADD) {
            int64_t c, h, w;
            src2 = picpq__get_u32(r);
            if (src2 > (uint32_t)i)
                return BAD("model: op %d (add): source value %lu is not produced yet", (int)i,
                           (unsigned long)src2);
            value_shape(m, (int32_t)src2, &c, &h, &w);
            if (c != o->in_c || h != o->in_h || w != o->in_w)
                return BAD("model: op %d (add): operands of %lldx%lldx%lld and %lldx%lldx%lld",
                           (int)i, (long long)o->in_c, (long long)o->in_h, (long long)o->in_w,
                           (long long)c, (long long)h, (long long)w);
        }
        o->src2 = (int32_t)src2;
        if ((m->flags & PICPQ_MODEL_INTEGER) && kind == PICPQ__OP_CONV && src > 0 &&
            m->ops[src - 1].kind == PICPQ__OP_ACTQ) {
            const picpq__model_op *q = &m->ops[src - 1];
            o->code_lv = q->bits == 1 ? 1 : (1 << q->bits) - 1;
            o->ainv = (float)o->code_lv / q->scale;
            o->step = q->scale / (float)o->code_lv; /* times the weight step, once read */
        }
        st = read_op(r, &m->alloc, o, i);
        if (st != PICPQ_OK) return st;
        if (r->short_read) return BAD("model: op %d (%s): truncated", (int)i, op_name(o->kind));
        if (o->c * o->h * o->w > MAX_VALUE)
            return BAD("model: op %d (%s): output of %lldx%lldx%lld over 2^26 values", (int)i,
                       op_name(o->kind), (long long)o->c, (long long)o->h, (long long)o->w);
    }
    return PICPQ_OK;
}

/* Batch norm folded into the conv before it (the conv's output read by that
 * affine alone): y·s + t = Σ (w·s)·x + (b·s + t), on codes a per-channel step
 * s·step. One pass over the output less per conv. */
static picpq_status fold_affine(picpq_model *m, picpq__model_op *o, picpq__model_op *f)
{
    const int64_t k = (o->in_c / o->groups) * o->kh * o->kw;
    int64_t c, e;
    if (o->bias == NULL && (o->bias = picpq__calloc(&m->alloc, (size_t)o->c, 4)) == NULL)
        return picpq__fail(PICPQ_E_NOMEM, "model: folded bias");
    if (o->codes != NULL && o->cstep == NULL) { /* a second affine scales the first's steps */
        if ((o->cstep = picpq__malloc(&m->alloc, (size_t)o->c * sizeof(float))) == NULL)
            return picpq__fail(PICPQ_E_NOMEM, "model: folded steps");
        for (c = 0; c < o->c; c++) o->cstep[c] = o->step;
    }
    for (c = 0; c < o->c; c++) {
        if (o->codes != NULL) o->cstep[c] *= f->weight[c];
        else
            for (e = 0; e < k; e++) o->weight[c * k + e] *= f->weight[c];
        o->bias[c] = o->bias[c] * f->weight[c] + f->bias[c];
    }
    return PICPQ_OK;
}

/* One pass: every affine that alone reads a conv's output is folded into
 * it and leaves the op list, whose value ids close up (map: old id -> new). */
static picpq_status fold_affines(picpq_model *m)
{
    const int32_t nv = m->n_ops + 1;
    int32_t *readers = picpq__calloc(&m->alloc, (size_t)nv, sizeof(int32_t));
    int32_t *map = picpq__malloc(&m->alloc, (size_t)nv * sizeof(int32_t));
    int32_t i, out = 0;
    picpq_status st = PICPQ_OK;
    if (readers == NULL || map == NULL) {
        st = picpq__fail(PICPQ_E_NOMEM, "model: fold tables");
        goto done;
    }
    for (i = 0; i < m->n_ops; i++) {
        readers[m->ops[i].src]++;
        if (m->ops[i].kind == PICPQ__OP_ADD) readers[m->ops[i].src2]++;
    }
    map[0] = 0;
    for (i = 0; i < m->n_ops; i++) {
        picpq__model_op o = m->ops[i];
        const int32_t src = o.src;
        o.src = map[src];
        if (o.kind == PICPQ__OP_ADD) o.src2 = map[o.src2];
        if (o.kind == PICPQ__OP_AFFINE && out > 0 && o.src == out &&
            m->ops[out - 1].kind == PICPQ__OP_CONV && readers[src] == 1) {
            st = fold_affine(m, &m->ops[out - 1], &o);
            picpq__free(&m->alloc, o.weight);
            picpq__free(&m->alloc, o.bias);
            m->ops[i].weight = m->ops[i].bias = NULL; /* freed: not twice on an error */
            if (st != PICPQ_OK) break;
            map[i + 1] = out; /* the affine's value is the conv's now */
            continue;
        }
        m->ops[out++] = o;
        map[i + 1] = out;
        if (out - 1 != i) { /* moved: one owner for its arrays, whatever happens next */
            m->ops[i].weight = m->ops[i].bias = m->ops[i].cstep = NULL;
            m->ops[i].index = NULL;
            m->ops[i].codes = NULL;
        }
    }
    if (st == PICPQ_OK) m->n_ops = out; /* on an error every array has one owner below n_ops */
done:
    picpq__free(&m->alloc, readers);
    picpq__free(&m->alloc, map);
    return st;
}

/* Workspace slots: each value lives from its op to its last reader; a slot
 * is reused once its value is dead. Also the size of the largest value and
 * im2col matrix. */
/* The codes of each conv the direct VNNI kernel runs, reordered from [c][in_c][kh][kw] to
 * [c][tap][c4][4] with zero codes for the channels past in_c (they meet zero activations). */
static picpq_status direct_order(picpq_model *m)
{
    int32_t k;
    for (k = 0; k < m->n_ops; k++) {
        picpq__model_op *o = &m->ops[k];
        const int32_t c4 = o->kind == PICPQ__OP_CONV && o->codes != NULL ? picpq__direct_groups(o)
                                                                         : 0;
        const int64_t taps = (int64_t)o->kh * o->kw, row = taps * c4 * 4;
        int64_t oc, t, ch;
        int8_t *codes;
        if (c4 == 0) continue;
        codes = picpq__calloc(&m->alloc, (size_t)(o->c * row), 1);
        if (codes == NULL) return picpq__fail(PICPQ_E_NOMEM, "model: op %d codes", (int)k);
        for (oc = 0; oc < o->c; oc++)
            for (ch = 0; ch < o->in_c; ch++)
                for (t = 0; t < taps; t++)
                    codes[oc * row + (t * c4 + ch / 4) * 4 + ch % 4] =
                        o->codes[(oc * o->in_c + ch) * taps + t];
        picpq__free(&m->alloc, o->codes);
        o->codes = codes;
        o->c4 = c4;
    }
    return PICPQ_OK;
}

static picpq_status plan_slots(picpq_model *m)
{
    int32_t *last, *free_slots, n_free = 0, i, k;
    const int32_t nv = m->n_ops + 1;
    last = picpq__malloc(&m->alloc, (size_t)nv * sizeof(int32_t));
    free_slots = picpq__malloc(&m->alloc, (size_t)nv * sizeof(int32_t));
    if (last == NULL || free_slots == NULL) {
        picpq__free(&m->alloc, last);
        picpq__free(&m->alloc, free_slots);
        return picpq__fail(PICPQ_E_NOMEM, "model: slot tables");
    }
    for (i = 0; i < nv; i++) last[i] = i - 1; /* a value nobody reads dies at once */
    last[0] = 0;
    for (i = 0; i < m->n_ops; i++) {
        last[m->ops[i].src] = i;
        if (m->ops[i].kind == PICPQ__OP_ADD) last[m->ops[i].src2] = i;
    }
    last[nv - 1] = m->n_ops; /* the logits */
    m->input_slot = 0;
    m->n_slots = 1;
    m->slot_elems = m->in_c * m->in_h * m->in_w;
    m->col_elems = 1;
    for (i = 0; i < m->n_ops; i++) {
        picpq__model_op *o = &m->ops[i];
        const int32_t srcs[2] = {o->src, o->kind == PICPQ__OP_ADD ? o->src2 : -1};
        o->slot = n_free > 0 ? free_slots[--n_free] : m->n_slots++;
        if (o->c * o->h * o->w > m->slot_elems) m->slot_elems = o->c * o->h * o->w;
        if (o->kind == PICPQ__OP_CONV) {
            const int64_t row = (o->in_c / o->groups) * o->kh * o->kw * o->w;
            int64_t rows = o->h;
            if (PICPQ__COL_FLOATS > 0 && row > 0 && rows > PICPQ__COL_FLOATS / row)
                rows = PICPQ__COL_FLOATS / row;
            o->col_rows = rows < 1 ? 1 : rows;
            /* a conv on codes builds its tile in the integer scratch */
            if (o->codes == NULL && row * o->col_rows > m->col_elems)
                m->col_elems = row * o->col_rows;
            if (o->codes != NULL && picpq__conv_codes_bytes(o) > m->int_bytes)
                m->int_bytes = picpq__conv_codes_bytes(o);
        }
        for (k = 0; k < 2; k++) {
            const int32_t v = srcs[k];
            if (v < 0 || last[v] != i || (k == 1 && v == srcs[0])) continue;
            free_slots[n_free++] = v == 0 ? m->input_slot : m->ops[v - 1].slot;
        }
        if (last[i + 1] < i + 1 && i + 1 != nv - 1) free_slots[n_free++] = o->slot;
    }
    picpq__free(&m->alloc, last);
    picpq__free(&m->alloc, free_slots);
    return PICPQ_OK;
}

static picpq_status decode(picpq__reader *r, picpq_model *m)
{
    uint32_t in_c = picpq__get_u32(r), in_h = picpq__get_u32(r), in_w = picpq__get_u32(r);
    uint32_t classes = picpq__get_u32(r), has_norm = picpq__get_u32(r), n_ops;
    picpq_status st;
    int64_t c, h, w;
    if (r->short_read) return BAD("model: truncated header");
    if (in_c < 1 || in_c > MAX_DIM || in_h < 1 || in_h > MAX_DIM || in_w < 1 || in_w > MAX_DIM ||
        (int64_t)in_c * in_h * in_w > MAX_VALUE)
        return BAD("model: input shape %lux%lux%lu outside the limits", (unsigned long)in_c,
                   (unsigned long)in_h, (unsigned long)in_w);
    if (classes < 1 || classes > MAX_DIM)
        return BAD("model: class count %lu outside 1..65536", (unsigned long)classes);
    if (has_norm > 1) return BAD("model: has_norm is not 0 or 1");
    m->in_c = in_c;
    m->in_h = in_h;
    m->in_w = in_w;
    m->classes = classes;
    if (has_norm) {
        m->mean = read_floats(r, &m->alloc, in_c, 0, -1, "mean", &st);
        if (st != PICPQ_OK) return st;
        m->std = read_floats(r, &m->alloc, in_c, 1, -1, "std", &st);
        if (st != PICPQ_OK) return st;
    }
    n_ops = picpq__get_u32(r);
    if (r->short_read) return BAD("model: truncated header");
    /* every op takes at least 8 bytes (kind, source) */
    if (n_ops < 1 || n_ops > MAX_OPS || n_ops > picpq__reader_left(r) / 8)
        return BAD("model: op count %lu does not fit the file", (unsigned long)n_ops);
    m->ops = picpq__calloc(&m->alloc, n_ops, sizeof(picpq__model_op));
    if (m->ops == NULL) return picpq__fail(PICPQ_E_NOMEM, "model: %lu ops", (unsigned long)n_ops);
    m->n_ops = (int32_t)n_ops;
    st = read_ops(r, m);
    if (st != PICPQ_OK) return st;
    if (picpq__reader_left(r) != 0)
        return BAD("model: %zu trailing bytes after the last op", picpq__reader_left(r));
    value_shape(m, m->n_ops, &c, &h, &w);
    if (c != (int64_t)classes || h != 1 || w != 1)
        return BAD("model: the last op gives %lldx%lldx%lld, not %lu logits", (long long)c,
                   (long long)h, (long long)w, (unsigned long)classes);
    if ((st = fold_affines(m)) != PICPQ_OK) return st;
    if ((st = direct_order(m)) != PICPQ_OK) return st;
    return plan_slots(m);
}

picpq_status picpq_model_load_ex(const void *buf, size_t len, const picpq_allocator *alloc,
                                 picpq_model **out)
{
    return picpq_model_load_opts(buf, len, alloc, 0, out);
}

picpq_status picpq_model_load_opts(const void *buf, size_t len, const picpq_allocator *alloc,
                                   uint32_t flags, picpq_model **out)
{
    picpq_allocator a;
    picpq__reader r;
    picpq_model *m;
    picpq_status st;
    picpq__clear_error();
    PICPQ__REQUIRE(out, "out");
    *out = NULL;
    PICPQ__REQUIRE(buf, "buf");
    if (flags & ~(uint32_t)PICPQ_MODEL_INTEGER)
        return picpq__fail(PICPQ_E_INVALID_ARG, "flags 0x%lx: unknown bits", (unsigned long)flags);
    st = picpq__allocator_init(&a, alloc);
    if (st != PICPQ_OK) return st;
    st = picpq__state_read(&r, buf, len, model_magic, MODEL_VERSION, MODEL_MIN_BYTES, "model",
                           NULL);
    if (st != PICPQ_OK) return st;
    m = picpq__calloc(&a, 1, sizeof(*m));
    if (m == NULL) return picpq__fail(PICPQ_E_NOMEM, "model handle");
    m->alloc = a;
    m->flags = flags;
    st = decode(&r, m);
    if (st != PICPQ_OK) {
        picpq_model_free(m);
        return st;
    }
    *out = m;
    picpq__clear_error(); /* picpq_quant_unpack succeeded quietly, but be sure */
    return PICPQ_OK;
}

picpq_status picpq_model_load(const void *buf, size_t len, picpq_model **out)
{
    return picpq_model_load_ex(buf, len, NULL, out);
}

picpq_status picpq_model_load_file(const char *path, picpq_model **out)
{
#ifdef PICPQ_NO_FILE_IO
    picpq__clear_error();
    PICPQ__REQUIRE(out, "out");
    *out = NULL;
    PICPQ__REQUIRE(path, "path");
    return picpq__fail(PICPQ_E_UNSUPPORTED, "%s: this build has no file I/O (PICPQ_NO_FILE_IO)",
                       path);
#else
    FILE *f;
    long size;
    unsigned char *buf;
    picpq_allocator a;
    picpq_status st;
    picpq__clear_error();
    PICPQ__REQUIRE(out, "out");
    *out = NULL;
    PICPQ__REQUIRE(path, "path");
    f = fopen(path, "rb");
    if (f == NULL) return picpq__fail(PICPQ_E_INVALID_ARG, "%s: cannot be opened", path);
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return picpq__fail(PICPQ_E_INVALID_ARG, "%s: cannot be read (not a regular file?)", path);
    }
    if (size > MAX_FILE) {
        fclose(f);
        return picpq__fail(PICPQ_E_UNSUPPORTED, "%s: %ld bytes is over 1 GiB", path, size);
    }
    picpq__allocator_init(&a, NULL);
    buf = picpq__malloc(&a, (size_t)size);
    if (buf == NULL) {
        fclose(f);
        return picpq__fail(PICPQ_E_NOMEM, "%s: %ld bytes", path, size);
    }
    if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
        picpq__free(&a, buf);
        fclose(f);
        return picpq__fail(PICPQ_E_INVALID_ARG, "%s: read error", path);
    }
    fclose(f);
    st = picpq_model_load(buf, (size_t)size, out);
    picpq__free(&a, buf);
    return st;
#endif
}

picpq_status picpq_model_input_shape(const picpq_model *m, int64_t *c, int64_t *h, int64_t *w)
{
    picpq__clear_error();
    PICPQ__REQUIRE(m, "m");
    if (c) *c = m->in_c;
    if (h) *h = m->in_h;
    if (w) *w = m->in_w;
    return PICPQ_OK;
}

picpq_status picpq_model_num_classes(const picpq_model *m, int64_t *classes)
{
    picpq__clear_error();
    PICPQ__REQUIRE(m, "m");
    PICPQ__REQUIRE(classes, "classes");
    *classes = m->classes;
    return PICPQ_OK;
}

picpq_status picpq_model_conv_counts(const picpq_model *m, int32_t *convs, int32_t *on_codes)
{
    int32_t k, all = 0, codes = 0;
    picpq__clear_error();
    PICPQ__REQUIRE(m, "m");
    for (k = 0; k < m->n_ops; k++)
        if (m->ops[k].kind == PICPQ__OP_CONV) {
            all++;
            codes += m->ops[k].codes != NULL;
        }
    if (convs != NULL) *convs = all;
    if (on_codes != NULL) *on_codes = codes;
    return PICPQ_OK;
}
