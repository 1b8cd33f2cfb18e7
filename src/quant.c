/* Quantizers of METHOD §8 (E7 weights, E8 activations), the integer export
 * of the weight codes, and a per-channel linear quantizer for deployment.
 *
 * The weight quantizer follows the reference's float32 operations in order:
 * t = tanhf(w), m = max|t|, y = t / m, z = y·n, c = nearbyintf(z), q = c / n.
 * Since tanhf is odd and monotone (glibc's is, checked over every float) and
 * the rest of the chain is monotone too, the code c of |w| is a step function
 * of |w|: large tensors find, once, the smallest |w| of each code by bisection
 * over the floats (evaluating the exact chain), then classify each element by
 * comparisons alone. The result is bit-identical to evaluating the chain per
 * element, which small tensors do. */
#include "picpq_internal.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define MAX_LEVELS 127        /* n = 2^(k-1) - 1 for k = 8 */
#define BUCKETS 1024          /* |w| buckets that index the thresholds */
#define TABLE_MIN_NUMEL 16384 /* below this, tanhf per element is cheaper */
#define BLOCK 64              /* elements per vectorized block (a fixed trip count) */

/* How the codes of one tensor are computed. */
typedef enum wmode {
    MODE_MAGNITUDE, /* k = 1: E·sign(w), sign(0) = +1 */
    MODE_SIGN,      /* k = 2: sign(w), 0 for 0 */
    MODE_CHAIN,     /* k >= 3, small tensors: the float32 chain per element */
    MODE_BUCKETS,   /* k >= 3: at most two thresholds per bucket, branch-free */
    MODE_SCAN       /* k >= 3: some bucket holds more thresholds: scan upwards */
} wmode;

/* A bucket of |w|: every |w| in it has code >= c, plus one for each of t1,
 * t2 (the thresholds inside the bucket, or +inf) that it reaches. */
typedef struct wbucket {
    float t1, t2;
    int32_t c, unused;
} wbucket;

/* Everything the weight quantizer needs, fixed for one tensor. */
typedef struct wquant {
    wmode mode;
    int32_t levels;              /* n: codes lie in [-n, n] */
    float m;                     /* max |tanhf(w)| */
    float nf;                    /* (float)n */
    float scale;                 /* buckets per unit of |w| (0: all in bucket 0) */
    float thr[MAX_LEVELS + 3];   /* thr[c]: smallest |w| whose code is >= c; then +inf */
    float value[MAX_LEVELS + 1]; /* value[c] = fl32(c / n); value[1] = E for k = 1 */
    wbucket bucket[BUCKETS + 1];
} wquant;

/* ---- argument checks --------------------------------------------------- */

static picpq_status check_bits(int32_t bits)
{
    if ((bits < 1 || bits > 8) && bits != 32)
        return picpq__fail(PICPQ_E_OUT_OF_RANGE, "bits = %d is not in 1..8 or 32", (int)bits);
    return PICPQ_OK;
}

static picpq_status check_f32(const picpq_tensor *t, const char *name)
{
    PICPQ__REQUIRE(t, name);
    if (t->dtype != PICPQ_F32)
        return picpq__fail(PICPQ_E_INVALID_ARG,
                           "%s: the quantizers take float32 tensors "
                           "(dtype %d)",
                           name, (int)t->dtype);
    return PICPQ_OK;
}

/* ---- scans -------------------------------------------------------------- */

static float float_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t bits_from_float(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* Largest bit pattern of |x| over a row: for non-negative floats the integer
 * order is the float order, and NaN/Inf are the patterns >= 0x7f800000, so
 * one integer max finds both max|x| and non-finites. Contiguous rows go in
 * blocks of BLOCK, a fixed trip count that -O2 vectorizes. */
static uint32_t row_max_abs_bits(const char *p, int64_t step, int64_t len, uint32_t acc)
{
    int64_t j = 0;
    int i;
    if (step == (int64_t)sizeof(float)) {
        for (; j + BLOCK <= len; j += BLOCK) {
            int32_t u[BLOCK], m = 0; /* signed: SSE2 compares int32 natively */
            memcpy(u, p + j * 4, sizeof u);
            for (i = 0; i < BLOCK; i++) {
                const int32_t a = u[i] & 0x7fffffff;
                m = a > m ? a : m;
            }
            acc = (uint32_t)m > acc ? (uint32_t)m : acc;
        }
    }
    for (; j < len; j++) {
        uint32_t u;
        memcpy(&u, p + j * step, 4);
        u &= 0x7fffffffu;
        acc = u > acc ? u : acc;
    }
    return acc;
}

/* max|x| of a float32 tensor; NONFINITE (with the index) for NaN or Inf. */
static picpq_status scan_max_abs(const picpq_tensor *t, float *maxabs)
{
    uint32_t acc = 0;
    const char *base = t->data;
    if (picpq_tensor_is_contiguous(t)) {
        acc = row_max_abs_bits(base, 4, t->numel, 0);
    } else {
        picpq__rows r;
        picpq__rows_init(&r, t);
        do acc = row_max_abs_bits(base + r.offset, r.step, r.len, acc);
        while (picpq__rows_next(&r));
    }
    if (acc >= 0x7f800000u) return picpq_tensor_check_finite(t); /* names the element */
    *maxabs = float_from_bits(acc);
    return PICPQ_OK;
}

/* mean |x| summed in double, rounded to float (the k = 1 magnitude E). */
static float mean_abs(const picpq_tensor *t)
{
    picpq__rows r;
    double sum = 0;
    int64_t j;
    picpq__rows_init(&r, t);
    do {
        const char *p = (const char *)t->data + r.offset;
        for (j = 0; j < r.len; j++) {
            float v;
            memcpy(&v, p + j * r.step, 4);
            sum += fabsf(v);
        }
    } while (picpq__rows_next(&r));
    return (float)(sum / (double)t->numel);
}

/* ---- the weight quantizer ---------------------------------------------- */

/* The reference chain for |w| = ax, in float32 (METHOD E7). */
static int32_t chain_code(const wquant *q, float ax)
{
    float y = tanhf(ax) / q->m;
    int32_t c = (int32_t)nearbyintf(y * q->nf);
    return c > q->levels ? q->levels : c; /* cannot happen with a monotone tanhf */
}

/* Smallest non-negative float of code >= c, by bisection over the bit
 * patterns in (lo, hi], given chain_code(lo) < c <= chain_code(hi). */
static float find_threshold(const wquant *q, int32_t c, uint32_t lo, uint32_t hi)
{
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (chain_code(q, float_from_bits(mid)) >= c) hi = mid;
        else lo = mid;
    }
    return float_from_bits(hi);
}

/* ax <= max|w| and scale = BUCKETS / max|w| keep this in 0..BUCKETS. */
static int32_t bucket_of(const wquant *q, float ax)
{
    return (int32_t)(ax * q->scale);
}

/* Bucket of threshold c; past the last bucket for c > n or an infinite one. */
static int32_t threshold_bucket(const wquant *q, int32_t c)
{
    return c > q->levels || q->thr[c] == INFINITY ? BUCKETS + 1 : bucket_of(q, q->thr[c]);
}

/* Bucket b starts above every threshold whose bucket is lower (the bucket map
 * is monotone), so its lower bound c counts those; the thresholds inside it
 * become t1, t2. Returns 0 when a bucket holds more than two. */
static int fill_buckets(wquant *q)
{
    int32_t b, c = 0, fits = 1;
    for (b = 0; b <= BUCKETS; b++) {
        wbucket *e = &q->bucket[b];
        while (threshold_bucket(q, c + 1) < b) c++;
        e->c = c;
        e->t1 = threshold_bucket(q, c + 1) == b ? q->thr[c + 1] : INFINITY;
        e->t2 = threshold_bucket(q, c + 2) == b ? q->thr[c + 2] : INFINITY;
        e->unused = 0;
        if (threshold_bucket(q, c + 3) == b) fits = 0;
    }
    return fits;
}

/* Thresholds that make code(ax) = #{c : thr[c] <= ax} (k >= 3, max|w| > 0). */
static void build_thresholds(wquant *q, float maxabs)
{
    uint32_t lo = 0, hi = bits_from_float(maxabs);
    int32_t c;
    for (c = 1; c <= q->levels; c++) {
        q->thr[c] = find_threshold(q, c, lo, hi);
        lo = bits_from_float(q->thr[c]) - 1; /* its code is < c */
    }
}

/* Prepare the quantizer of a finite float32 tensor with max|w| = maxabs. */
static void wquant_init(wquant *q, const picpq_tensor *w, int32_t bits, float maxabs)
{
    int32_t c;
    q->levels = bits >= 2 ? (1 << (bits - 1)) - 1 : 1;
    q->nf = (float)q->levels;
    q->m = tanhf(maxabs); /* = max|tanhf(w)|: tanhf is monotone and odd */
    for (c = 0; c <= q->levels; c++) q->value[c] = (float)c / q->nf;
    if (bits == 1) {
        q->mode = MODE_MAGNITUDE;
        q->value[1] = mean_abs(w);
        return;
    }
    if (bits == 2) {
        q->mode = MODE_SIGN;
        return;
    }
    q->scale = 0;
    for (c = 1; c < MAX_LEVELS + 3; c++) q->thr[c] = INFINITY;
    q->mode = MODE_BUCKETS;
    if (maxabs > 0) {
        if (w->numel < TABLE_MIN_NUMEL || !((float)BUCKETS / maxabs <= FLT_MAX)) {
            q->mode = MODE_CHAIN;
            return;
        }
        build_thresholds(q, maxabs);
        q->scale = (float)BUCKETS / maxabs;
    } /* else all zeros: one bucket, code 0 */
    if (!fill_buckets(q)) q->mode = MODE_SCAN;
}

/* Code of |w| = ax (finite, at most max|w|). */
static int32_t wquant_code(const wquant *q, float ax)
{
    const wbucket *e;
    int32_t c;
    switch (q->mode) {
    case MODE_MAGNITUDE: return 1;
    case MODE_SIGN: return ax > 0.0f;
    case MODE_CHAIN: return chain_code(q, ax);
    case MODE_BUCKETS:
        e = &q->bucket[bucket_of(q, ax)];
        return e->c + (ax >= e->t1) + (ax >= e->t2);
    default:
        c = q->bucket[bucket_of(q, ax)].c;
        while (ax >= q->thr[c + 1]) c++;
        return c;
    }
}

/* The sign bit of w, 0 or 1. */
static uint32_t sign_of(float w)
{
    return bits_from_float(w) >> 31;
}

/* The hot loop of the common case, kept free of mode switches and branches. */
static void weights_row_buckets(const wquant *q, const char *s, int64_t sstep, char *d,
                                int64_t dstep, int64_t len)
{
    const wbucket *bucket = q->bucket;
    const float scale = q->scale;
    int64_t j = 0;
    int i;
    if (sstep == 4 && dstep == 4) { /* |w| and bucket indices vectorize by block */
        for (; j + BLOCK <= len; j += BLOCK) {
            uint32_t u[BLOCK], v[BLOCK];
            float ax[BLOCK];
            int32_t b[BLOCK];
            memcpy(u, s + j * 4, sizeof u);
            for (i = 0; i < BLOCK; i++) v[i] = u[i] & 0x7fffffffu;
            memcpy(ax, v, sizeof ax);
            for (i = 0; i < BLOCK; i++) b[i] = (int32_t)(ax[i] * scale);
            for (i = 0; i < BLOCK; i++) {
                const wbucket *e = &bucket[b[i]];
                v[i] = bits_from_float(q->value[e->c + (ax[i] >= e->t1) + (ax[i] >= e->t2)]) |
                       (u[i] & 0x80000000u);
            }
            memcpy(d + j * 4, v, sizeof v);
        }
    }
    for (; j < len; j++) {
        float w, ax;
        const wbucket *e;
        uint32_t v;
        memcpy(&w, s + j * sstep, 4);
        ax = fabsf(w);
        e = &bucket[(int32_t)(ax * scale)];
        v = bits_from_float(q->value[e->c + (ax >= e->t1) + (ax >= e->t2)]);
        v |= sign_of(w) << 31; /* -0.0 gives -0.0, as the reference's round(-0.0) */
        memcpy(d + j * dstep, &v, 4);
    }
}

/* sign(w) on the bit patterns: 1.0f for |w| > 0, with w's sign bit. */
static uint32_t sign_bits(uint32_t u)
{
    return ((u & 0x7fffffffu) != 0 ? 0x3f800000u : 0) | (u & 0x80000000u);
}

static void weights_row_sign(const char *s, int64_t sstep, char *d, int64_t dstep, int64_t len)
{
    int64_t j = 0;
    int i;
    if (sstep == 4 && dstep == 4) {
        for (; j + BLOCK <= len; j += BLOCK) {
            uint32_t u[BLOCK];
            memcpy(u, s + j * 4, sizeof u);
            for (i = 0; i < BLOCK; i++) u[i] = sign_bits(u[i]);
            memcpy(d + j * 4, u, sizeof u);
        }
    }
    for (; j < len; j++) {
        uint32_t u;
        memcpy(&u, s + j * sstep, 4);
        u = sign_bits(u);
        memcpy(d + j * dstep, &u, 4);
    }
}

static void weights_row(const wquant *q, const char *s, int64_t sstep, char *d, int64_t dstep,
                        int64_t len)
{
    int64_t j;
    if (q->mode == MODE_BUCKETS) {
        weights_row_buckets(q, s, sstep, d, dstep, len);
        return;
    }
    if (q->mode == MODE_SIGN) {
        weights_row_sign(s, sstep, d, dstep, len);
        return;
    }
    for (j = 0; j < len; j++) {
        float w, v;
        uint32_t u;
        memcpy(&w, s + j * sstep, 4);
        v = q->value[wquant_code(q, fabsf(w))];
        if (q->mode == MODE_MAGNITUDE) { /* sign(0) = +1, also for -0.0 */
            v = w < 0.0f ? -v : v;
            memcpy(d + j * dstep, &v, 4);
            continue;
        }
        u = bits_from_float(v) | sign_of(w) << 31;
        memcpy(d + j * dstep, &u, 4);
    }
}

static void codes_row(const wquant *q, const char *s, int64_t sstep, int8_t *codes, int64_t len)
{
    int64_t j;
    for (j = 0; j < len; j++) {
        float w;
        int32_t c, neg;
        memcpy(&w, s + j * sstep, 4);
        c = wquant_code(q, fabsf(w));
        neg = q->mode == MODE_MAGNITUDE ? w < 0.0f : (int32_t)sign_of(w);
        codes[j] = (int8_t)((c ^ -neg) + neg); /* c or -c without a branch */
    }
}

/* Apply `row` to matching rows of src and dst (same shape, any strides). */
typedef void (*row_fn)(const void *ctx, const char *s, int64_t sstep, char *d, int64_t dstep,
                       int64_t len);

static void for_each_row(const void *ctx, row_fn row, const picpq_tensor *src, picpq_tensor *dst)
{
    picpq__rows rs, rd;
    if (picpq_tensor_is_contiguous(src) && picpq_tensor_is_contiguous(dst)) {
        row(ctx, src->data, 4, dst->data, 4, src->numel);
        return;
    }
    picpq__rows_init(&rs, src);
    picpq__rows_init(&rd, dst);
    do
        row(ctx, (const char *)src->data + rs.offset, rs.step, (char *)dst->data + rd.offset,
            rd.step, rs.len);
    while (picpq__rows_next(&rs) && picpq__rows_next(&rd));
}

static void weights_row_fn(const void *ctx, const char *s, int64_t sstep, char *d, int64_t dstep,
                           int64_t len)
{
    weights_row(ctx, s, sstep, d, dstep, len);
}

static void copy_row_fn(const void *ctx, const char *s, int64_t sstep, char *d, int64_t dstep,
                        int64_t len)
{
    int64_t j;
    (void)ctx;
    if (sstep == 4 && dstep == 4) {
        memmove(d, s, (size_t)len * 4);
        return;
    }
    for (j = 0; j < len; j++) memcpy(d + j * dstep, s + j * sstep, 4);
}

/* k = 32 (identity): dst = src after the finiteness check. */
static picpq_status copy_finite(const picpq_tensor *src, picpq_tensor *dst)
{
    float unused;
    picpq_status s = scan_max_abs(src, &unused);
    if (s != PICPQ_OK) return s;
    if (src != dst) for_each_row(NULL, copy_row_fn, src, dst);
    return PICPQ_OK;
}

/* Validate, then prepare the weight quantizer of src (bits 1..8). */
static picpq_status wquant_prepare(wquant *q, const picpq_tensor *src, int32_t bits)
{
    float maxabs;
    picpq_status s = scan_max_abs(src, &maxabs);
    if (s != PICPQ_OK) return s;
    wquant_init(q, src, bits, maxabs);
    return PICPQ_OK;
}

picpq_status picpq_quant_weights_into(const picpq_tensor *src, picpq_tensor *dst, int32_t bits)
{
    wquant q;
    picpq_status s;
    picpq__clear_error();
    if ((s = check_f32(src, "src")) != PICPQ_OK || (s = check_f32(dst, "dst")) != PICPQ_OK ||
        (s = picpq__tensor_check_same_shape(src, dst)) != PICPQ_OK ||
        (s = check_bits(bits)) != PICPQ_OK)
        return s;
    if (bits == 32) return copy_finite(src, dst);
    if ((s = wquant_prepare(&q, src, bits)) != PICPQ_OK) return s;
    for_each_row(&q, weights_row_fn, src, dst);
    return PICPQ_OK;
}

picpq_status picpq_quant_weights(picpq_tensor *w, int32_t bits)
{
    picpq__clear_error();
    PICPQ__REQUIRE(w, "w");
    return picpq_quant_weights_into(w, w, bits);
}

picpq_status picpq_quant_weight_codes(const picpq_tensor *w, int32_t bits, int8_t *codes, int64_t n,
                                      int32_t *levels, float *magnitude)
{
    wquant q;
    picpq__rows r;
    int64_t flat = 0;
    picpq_status s;
    picpq__clear_error();
    if ((s = check_f32(w, "w")) != PICPQ_OK) return s;
    PICPQ__REQUIRE(codes, "codes");
    if (bits < 1 || bits > 8)
        return picpq__fail(PICPQ_E_OUT_OF_RANGE, "bits = %d: only 1..8-bit codes are exported",
                           (int)bits);
    if (n != w->numel)
        return picpq__fail(PICPQ_E_SHAPE, "n = %lld but w has %lld elements", (long long)n,
                           (long long)w->numel);
    if ((s = wquant_prepare(&q, w, bits)) != PICPQ_OK) return s;
    picpq__rows_init(&r, w);
    do {
        codes_row(&q, (const char *)w->data + r.offset, r.step, codes + flat, r.len);
        flat += r.len;
    } while (picpq__rows_next(&r));
    if (levels) *levels = q.levels;
    if (magnitude) *magnitude = q.mode == MODE_MAGNITUDE ? q.value[1] : 1.0f;
    return PICPQ_OK;
}

/* ---- the activation quantizer ------------------------------------------- */

typedef struct aquant {
    int32_t bits;
    float nf; /* 2^k - 1 */
} aquant;

/* nearbyintf for 0 <= z <= 2^22 under the default rounding mode: adding
 * 1.5·2^23 leaves no fraction bits, so the FPU rounds half to even; unlike
 * nearbyintf this vectorizes on plain SSE2. */
static float round_half_even_small(float z)
{
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
    const float magic = 12582912.0f; /* 1.5 * 2^23 */
    return (z + magic) - magic;
#else
    return nearbyintf(z);
#endif
}

static float act_value(const aquant *q, float x)
{
    float y;
    if (q->bits == 1) return x > 0.0f ? 1.0f : 0.0f;
    y = x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x);
    return round_half_even_small(y * q->nf) / q->nf;
}

/* A contiguous block: the clip runs on the bit patterns (the integer order
 * of non-negative floats is theirs; negative floats are negative integers),
 * which unlike float compares vectorizes at -O2. */
static void act_block(const aquant *q, const char *s, char *d)
{
    int32_t u[BLOCK];
    float f[BLOCK];
    const float nf = q->nf;
    const int32_t one = 0x3f800000; /* 1.0f */
    int i;
    memcpy(u, s, sizeof u);
    if (q->bits == 1) {
        for (i = 0; i < BLOCK; i++) u[i] = u[i] > 0 ? one : 0;
        memcpy(d, u, sizeof u);
        return;
    }
    for (i = 0; i < BLOCK; i++) {
        const int32_t v = u[i] > 0 ? u[i] : 0;
        u[i] = v < one ? v : one;
    }
    memcpy(f, u, sizeof f);
    for (i = 0; i < BLOCK; i++) f[i] = round_half_even_small(f[i] * nf) / nf;
    memcpy(d, f, sizeof f);
}

static void act_row_fn(const void *ctx, const char *s, int64_t sstep, char *d, int64_t dstep,
                       int64_t len)
{
    const aquant *q = ctx;
    int64_t j = 0;
    if (sstep == 4 && dstep == 4)
        for (; j + BLOCK <= len; j += BLOCK) act_block(q, s + j * 4, d + j * 4);
    for (; j < len; j++) {
        float v;
        memcpy(&v, s + j * sstep, 4);
        v = act_value(q, v);
        memcpy(d + j * dstep, &v, 4);
    }
}

picpq_status picpq_quant_activations_into(const picpq_tensor *src, picpq_tensor *dst, int32_t bits)
{
    aquant q;
    picpq_status s;
    picpq__clear_error();
    if ((s = check_f32(src, "src")) != PICPQ_OK || (s = check_f32(dst, "dst")) != PICPQ_OK ||
        (s = picpq__tensor_check_same_shape(src, dst)) != PICPQ_OK ||
        (s = check_bits(bits)) != PICPQ_OK)
        return s;
    if (bits == 32) return copy_finite(src, dst);
    {
        float unused;
        if ((s = scan_max_abs(src, &unused)) != PICPQ_OK) return s;
    }
    q.bits = bits;
    q.nf = (float)((1 << bits) - 1);
    for_each_row(&q, act_row_fn, src, dst);
    return PICPQ_OK;
}

picpq_status picpq_quant_activations(picpq_tensor *x, int32_t bits)
{
    picpq__clear_error();
    PICPQ__REQUIRE(x, "x");
    return picpq_quant_activations_into(x, x, bits);
}

/* ---- per-channel linear quantizer (deployment) -------------------------- */

/* The sub-tensor of index o along axis 0 (a 1-element tensor for 1-d input). */
static void channel_of(const picpq_tensor *w, int64_t o, picpq_tensor *sub)
{
    int32_t i;
    *sub = *w;
    sub->owns = 0;
    sub->data = (char *)w->data + o * w->strides[0];
    if (w->ndim == 1) {
        sub->shape[0] = 1;
        sub->numel = 1;
        return;
    }
    sub->ndim = w->ndim - 1;
    for (i = 0; i < sub->ndim; i++) {
        sub->shape[i] = w->shape[i + 1];
        sub->strides[i] = w->strides[i + 1];
    }
    sub->numel = w->numel / w->shape[0];
}

picpq_status picpq_quant_linear_codes(const picpq_tensor *w, int32_t bits, int8_t *codes, int64_t n,
                                      float *scales, int64_t n_scales)
{
    picpq_tensor sub;
    picpq__rows r;
    int64_t o, j, flat = 0;
    float qmax, unused;
    picpq_status s;
    picpq__clear_error();
    if ((s = check_f32(w, "w")) != PICPQ_OK) return s;
    PICPQ__REQUIRE(codes, "codes");
    PICPQ__REQUIRE(scales, "scales");
    if (bits < 2 || bits > 8)
        return picpq__fail(PICPQ_E_OUT_OF_RANGE, "bits = %d is not in 2..8", (int)bits);
    if (n != w->numel)
        return picpq__fail(PICPQ_E_SHAPE, "n = %lld but w has %lld elements", (long long)n,
                           (long long)w->numel);
    if (n_scales != w->shape[0])
        return picpq__fail(PICPQ_E_SHAPE, "n_scales = %lld but w has %lld output channels",
                           (long long)n_scales, (long long)w->shape[0]);
    if ((s = scan_max_abs(w, &unused)) != PICPQ_OK) return s;
    qmax = (float)((1 << (bits - 1)) - 1);
    for (o = 0; o < w->shape[0]; o++) {
        float amax, scale;
        channel_of(w, o, &sub);
        scan_max_abs(&sub, &amax); /* finite: checked above */
        scale = amax / qmax;
        scales[o] = scale;
        picpq__rows_init(&r, &sub);
        do {
            const char *p = (const char *)sub.data + r.offset;
            for (j = 0; j < r.len; j++, flat++) {
                float v, c = 0;
                memcpy(&v, p + j * r.step, 4);
                if (scale > 0) c = nearbyintf(v / scale);
                c = c > qmax ? qmax : (c < -qmax ? -qmax : c);
                codes[flat] = (int8_t)c;
            }
        } while (picpq__rows_next(&r));
    }
    return PICPQ_OK;
}
