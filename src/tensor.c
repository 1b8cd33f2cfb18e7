/* Tensor core: n-d arrays with byte strides, owned or wrapping caller memory. */
#include "picpq_internal.h"

#include <float.h>
#include <math.h>
#include <string.h>

size_t picpq_dtype_size(picpq_dtype dtype)
{
    switch (dtype) {
    case PICPQ_F32: return sizeof(float);
    case PICPQ_F64: return sizeof(double);
    case PICPQ_I8: return sizeof(int8_t);
    case PICPQ_U8: return sizeof(uint8_t);
    case PICPQ_I32: return sizeof(int32_t);
    default: return 0;
    }
}

picpq_status picpq__tensor_check_shape(picpq_dtype dtype, int32_t ndim, const int64_t *shape,
                                       int64_t *numel)
{
    int64_t n = 1, bytes;
    size_t unused;
    int32_t i;
    if (picpq_dtype_size(dtype) == 0)
        return picpq__fail(PICPQ_E_INVALID_ARG, "unknown dtype %d", (int)dtype);
    if (ndim < 1 || ndim > PICPQ_TENSOR_MAX_DIMS)
        return picpq__fail(PICPQ_E_OUT_OF_RANGE, "ndim = %d is outside 1..%d", (int)ndim,
                           PICPQ_TENSOR_MAX_DIMS);
    PICPQ__REQUIRE(shape, "shape");
    for (i = 0; i < ndim; i++) {
        if (shape[i] < 1)
            return picpq__fail(PICPQ_E_SHAPE, "shape[%d] = %lld: sizes must be >= 1", (int)i,
                               (long long)shape[i]);
        if (!picpq__mul_i64(n, shape[i], &n))
            return picpq__fail(PICPQ_E_OVERFLOW, "element count overflows at shape[%d]", (int)i);
    }
    if (!picpq__mul_i64(n, (int64_t)picpq_dtype_size(dtype), &bytes) ||
        !picpq__i64_to_size(bytes, &unused))
        return picpq__fail(PICPQ_E_OVERFLOW, "byte count of %lld elements overflows", (long long)n);
    *numel = n;
    return PICPQ_OK;
}

/* A handle with shape filled in and C-contiguous strides; data not set. */
static picpq_status new_handle(picpq_dtype dtype, int32_t ndim, const int64_t *shape,
                               const picpq_allocator *alloc, picpq_tensor **out)
{
    picpq_allocator a;
    picpq_tensor *t;
    int64_t numel, stride = (int64_t)picpq_dtype_size(dtype);
    int32_t i;
    picpq_status s = picpq__tensor_check_shape(dtype, ndim, shape, &numel);
    if (s != PICPQ_OK) return s;
    s = picpq__allocator_init(&a, alloc);
    if (s != PICPQ_OK) return s;
    t = picpq__calloc(&a, 1, sizeof *t);
    if (t == NULL) return picpq__fail(PICPQ_E_NOMEM, "tensor: out of memory");
    t->alloc = a;
    t->dtype = dtype;
    t->ndim = ndim;
    t->numel = numel;
    for (i = ndim - 1; i >= 0; i--) {
        t->shape[i] = shape[i];
        t->strides[i] = stride;
        stride *= shape[i]; /* cannot overflow: checked above */
    }
    *out = t;
    return PICPQ_OK;
}

picpq_status picpq_tensor_create_ex(picpq_dtype dtype, int32_t ndim, const int64_t *shape,
                                    const picpq_allocator *alloc, picpq_tensor **out)
{
    picpq_tensor *t;
    picpq_status s;
    picpq__clear_error();
    PICPQ__REQUIRE(out, "out");
    *out = NULL;
    s = new_handle(dtype, ndim, shape, alloc, &t);
    if (s != PICPQ_OK) return s;
    t->data = picpq__calloc(&t->alloc, (size_t)t->numel, picpq_dtype_size(dtype));
    if (t->data == NULL) {
        int64_t numel = t->numel;
        picpq__free(&t->alloc, t);
        return picpq__fail(PICPQ_E_NOMEM, "tensor: cannot allocate %lld elements",
                           (long long)numel);
    }
    t->owns = 1;
    *out = t;
    return PICPQ_OK;
}

picpq_status picpq_tensor_create(picpq_dtype dtype, int32_t ndim, const int64_t *shape,
                                 picpq_tensor **out)
{
    return picpq_tensor_create_ex(dtype, ndim, shape, NULL, out);
}

/* Validate caller strides: positive multiples of the element size for every
 * axis longer than 1, and an addressed span that fits in int64 and size_t. */
static picpq_status check_strides(picpq_dtype dtype, int32_t ndim, const int64_t *shape,
                                  const int64_t *strides)
{
    int64_t esize = (int64_t)picpq_dtype_size(dtype), span = esize, extent;
    size_t unused;
    int32_t i;
    for (i = 0; i < ndim; i++) {
        if (shape[i] == 1) continue;
        if (strides[i] <= 0)
            return picpq__fail(PICPQ_E_UNSUPPORTED,
                               "strides[%d] = %lld: zero and negative strides are not supported",
                               (int)i, (long long)strides[i]);
        if (strides[i] % esize != 0)
            return picpq__fail(PICPQ_E_INVALID_ARG,
                               "strides[%d] = %lld is not a multiple of the element size %lld",
                               (int)i, (long long)strides[i], (long long)esize);
        if (!picpq__mul_i64(shape[i] - 1, strides[i], &extent) ||
            !picpq__add_i64(span, extent, &span))
            return picpq__fail(PICPQ_E_OVERFLOW, "addressed span overflows at axis %d", (int)i);
    }
    if (!picpq__i64_to_size(span, &unused))
        return picpq__fail(PICPQ_E_OVERFLOW, "addressed span overflows size_t");
    return PICPQ_OK;
}

picpq_status picpq_tensor_wrap_ex(void *data, picpq_dtype dtype, int32_t ndim, const int64_t *shape,
                                  const int64_t *strides_bytes, const picpq_allocator *alloc,
                                  picpq_tensor **out)
{
    picpq_tensor *t;
    picpq_status s;
    int32_t i;
    size_t esize;
    picpq__clear_error();
    PICPQ__REQUIRE(out, "out");
    *out = NULL;
    PICPQ__REQUIRE(data, "data");
    esize = picpq_dtype_size(dtype);
    if (esize != 0 && (uintptr_t)data % esize != 0)
        return picpq__fail(PICPQ_E_INVALID_ARG, "data is not aligned to the element size %zu",
                           esize);
    s = new_handle(dtype, ndim, shape, alloc, &t);
    if (s != PICPQ_OK) return s;
    if (strides_bytes != NULL) {
        s = check_strides(dtype, ndim, shape, strides_bytes);
        if (s != PICPQ_OK) {
            picpq__free(&t->alloc, t);
            return s;
        }
        for (i = 0; i < ndim; i++)
            if (shape[i] > 1) t->strides[i] = strides_bytes[i];
    }
    t->data = data;
    t->owns = 0;
    *out = t;
    return PICPQ_OK;
}

picpq_status picpq_tensor_wrap(void *data, picpq_dtype dtype, int32_t ndim, const int64_t *shape,
                               const int64_t *strides_bytes, picpq_tensor **out)
{
    return picpq_tensor_wrap_ex(data, dtype, ndim, shape, strides_bytes, NULL, out);
}

void picpq_tensor_free(picpq_tensor *t)
{
    picpq_allocator a;
    if (t == NULL) return;
    a = t->alloc;
    if (t->owns) picpq__free(&a, t->data);
    picpq__free(&a, t);
}

void *picpq_tensor_data(const picpq_tensor *t)
{
    return t ? t->data : NULL;
}
picpq_dtype picpq_tensor_dtype(const picpq_tensor *t)
{
    return t ? t->dtype : (picpq_dtype)0;
}
int32_t picpq_tensor_ndim(const picpq_tensor *t)
{
    return t ? t->ndim : 0;
}
int64_t picpq_tensor_numel(const picpq_tensor *t)
{
    return t ? t->numel : 0;
}
int picpq_tensor_owns_data(const picpq_tensor *t)
{
    return t ? t->owns : 0;
}

int64_t picpq_tensor_dim(const picpq_tensor *t, int32_t axis)
{
    return (t && axis >= 0 && axis < t->ndim) ? t->shape[axis] : 0;
}

int64_t picpq_tensor_stride(const picpq_tensor *t, int32_t axis)
{
    return (t && axis >= 0 && axis < t->ndim) ? t->strides[axis] : 0;
}

int picpq_tensor_is_contiguous(const picpq_tensor *t)
{
    int64_t expect;
    int32_t i;
    if (t == NULL) return 0;
    expect = (int64_t)picpq_dtype_size(t->dtype);
    for (i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] > 1 && t->strides[i] != expect) return 0;
        expect *= t->shape[i];
    }
    return 1;
}

picpq_status picpq_tensor_view(const picpq_tensor *t, int32_t axis, int64_t start, int64_t len,
                               picpq_tensor **out)
{
    picpq_tensor *v;
    picpq__clear_error();
    PICPQ__REQUIRE(out, "out");
    *out = NULL;
    PICPQ__REQUIRE(t, "t");
    if (axis < 0 || axis > 1 || axis >= t->ndim)
        return picpq__fail(PICPQ_E_OUT_OF_RANGE,
                           "axis = %d: views are along axis 0 or 1 of a "
                           "%d-d tensor",
                           (int)axis, (int)t->ndim);
    if (start < 0 || len < 1 || start > t->shape[axis] - len)
        return picpq__fail(PICPQ_E_OUT_OF_RANGE,
                           "view [%lld, %lld + %lld) exceeds axis %d of "
                           "size %lld",
                           (long long)start, (long long)start, (long long)len, (int)axis,
                           (long long)t->shape[axis]);
    v = picpq__malloc(&t->alloc, sizeof *v);
    if (v == NULL) return picpq__fail(PICPQ_E_NOMEM, "view: out of memory");
    *v = *t;
    v->owns = 0;
    v->data = (char *)t->data + start * t->strides[axis];
    v->numel = t->numel / t->shape[axis] * len;
    v->shape[axis] = len;
    *out = v;
    return PICPQ_OK;
}

/* ---- row walker and element access ---------------------------------- */

void picpq__rows_init(picpq__rows *r, const picpq_tensor *t)
{
    int32_t i;
    r->outer = t->ndim - 1;
    for (i = 0; i < r->outer; i++) {
        r->shape[i] = t->shape[i];
        r->strides[i] = t->strides[i];
        r->idx[i] = 0;
    }
    r->offset = 0;
    r->len = t->shape[t->ndim - 1];
    r->step = t->strides[t->ndim - 1];
}

int picpq__rows_next(picpq__rows *r)
{
    int32_t i;
    for (i = r->outer - 1; i >= 0; i--) {
        r->offset += r->strides[i];
        if (++r->idx[i] < r->shape[i]) return 1;
        r->offset -= r->strides[i] * r->shape[i];
        r->idx[i] = 0;
    }
    return 0;
}

double picpq__tensor_read(const picpq_tensor *t, int64_t off)
{
    const char *p = (const char *)t->data + off;
    switch (t->dtype) {
    case PICPQ_F32: return *(const float *)p;
    case PICPQ_F64: return *(const double *)p;
    case PICPQ_I8: return *(const int8_t *)p;
    case PICPQ_U8: return *(const uint8_t *)p;
    case PICPQ_I32: return *(const int32_t *)p;
    default: return 0;
    }
}

/* Can `v` be stored in `dtype`? Integers take round-half-even values. */
static picpq_status check_convertible(double v, picpq_dtype dtype, int64_t flat)
{
    double lo, hi;
    switch (dtype) {
    case PICPQ_F64: return PICPQ_OK;
    case PICPQ_F32:
        if (isfinite(v) && fabs(v) > FLT_MAX)
            return picpq__fail(PICPQ_E_OUT_OF_RANGE, "element %lld = %g does not fit float",
                               (long long)flat, v);
        return PICPQ_OK;
    case PICPQ_I8:
        lo = INT8_MIN;
        hi = INT8_MAX;
        break;
    case PICPQ_U8:
        lo = 0;
        hi = UINT8_MAX;
        break;
    default:
        lo = INT32_MIN;
        hi = INT32_MAX;
        break;
    }
    if (!isfinite(v))
        return picpq__fail(PICPQ_E_NONFINITE, "element %lld is not finite", (long long)flat);
    v = nearbyint(v);
    if (v < lo || v > hi)
        return picpq__fail(PICPQ_E_OUT_OF_RANGE, "element %lld = %g does not fit the integer type",
                           (long long)flat, v);
    return PICPQ_OK;
}

static void write_value(picpq_tensor *t, int64_t off, double v)
{
    char *p = (char *)t->data + off;
    switch (t->dtype) {
    case PICPQ_F32: *(float *)p = (float)v; break;
    case PICPQ_F64: *(double *)p = v; break;
    case PICPQ_I8: *(int8_t *)p = (int8_t)nearbyint(v); break;
    case PICPQ_U8: *(uint8_t *)p = (uint8_t)nearbyint(v); break;
    case PICPQ_I32: *(int32_t *)p = (int32_t)nearbyint(v); break;
    default: break;
    }
}

/* Validate every value first, then write: on error `dst` stays as it was. */
static picpq_status convert_into(const picpq_tensor *src, picpq_tensor *dst)
{
    picpq__rows rs, rd;
    int64_t j, flat = 0;
    picpq_status s;
    if (dst->dtype != PICPQ_F64) {
        picpq__rows_init(&rs, src);
        do {
            for (j = 0; j < rs.len; j++, flat++) {
                s = check_convertible(picpq__tensor_read(src, rs.offset + j * rs.step), dst->dtype,
                                      flat);
                if (s != PICPQ_OK) return s;
            }
        } while (picpq__rows_next(&rs));
    }
    picpq__rows_init(&rs, src);
    picpq__rows_init(&rd, dst);
    do {
        for (j = 0; j < rs.len; j++)
            write_value(dst, rd.offset + j * rd.step,
                        picpq__tensor_read(src, rs.offset + j * rs.step));
    } while (picpq__rows_next(&rs) && picpq__rows_next(&rd));
    return PICPQ_OK;
}

picpq_status picpq__tensor_check_same_shape(const picpq_tensor *src, const picpq_tensor *dst)
{
    int32_t i;
    if (src->ndim != dst->ndim)
        return picpq__fail(PICPQ_E_SHAPE, "src has %d dims, dst %d", (int)src->ndim,
                           (int)dst->ndim);
    for (i = 0; i < src->ndim; i++)
        if (src->shape[i] != dst->shape[i])
            return picpq__fail(PICPQ_E_SHAPE, "axis %d: src size %lld, dst size %lld", (int)i,
                               (long long)src->shape[i], (long long)dst->shape[i]);
    return PICPQ_OK;
}

picpq_status picpq_tensor_copy_into(const picpq_tensor *src, picpq_tensor *dst)
{
    picpq_status s;
    picpq__clear_error();
    PICPQ__REQUIRE(src, "src");
    PICPQ__REQUIRE(dst, "dst");
    if ((s = picpq__tensor_check_same_shape(src, dst)) != PICPQ_OK) return s;
    return convert_into(src, dst);
}

picpq_status picpq_tensor_copy(const picpq_tensor *src, picpq_dtype dtype, picpq_tensor **out)
{
    picpq_tensor *t;
    picpq_status s;
    picpq__clear_error();
    PICPQ__REQUIRE(out, "out");
    *out = NULL;
    PICPQ__REQUIRE(src, "src");
    s = picpq_tensor_create_ex(dtype, src->ndim, src->shape, &src->alloc, &t);
    if (s != PICPQ_OK) return s;
    s = convert_into(src, t);
    if (s != PICPQ_OK) {
        picpq_tensor_free(t);
        return s;
    }
    *out = t;
    return PICPQ_OK;
}

/* Index of the first non-finite element of a float row, or -1. Typed loops:
 * this scan guards every numeric entry point, so it must run at memory speed. */
static int64_t row_first_nonfinite(const char *p, int64_t len, int64_t step, picpq_dtype dtype)
{
    int64_t j;
    if (dtype == PICPQ_F32) {
        for (j = 0; j < len; j++)
            if (!isfinite(*(const float *)(p + j * step))) return j;
    } else {
        for (j = 0; j < len; j++)
            if (!isfinite(*(const double *)(p + j * step))) return j;
    }
    return -1;
}

picpq_status picpq_tensor_check_finite(const picpq_tensor *t)
{
    picpq__rows r;
    int64_t flat = 0, bad;
    picpq__clear_error();
    PICPQ__REQUIRE(t, "t");
    if (t->dtype != PICPQ_F32 && t->dtype != PICPQ_F64) return PICPQ_OK;
    picpq__rows_init(&r, t);
    if (picpq_tensor_is_contiguous(t)) { /* one row over everything */
        r.len = t->numel;
        r.outer = 0;
    }
    do {
        bad = row_first_nonfinite((const char *)t->data + r.offset, r.len, r.step, t->dtype);
        if (bad >= 0)
            return picpq__fail(PICPQ_E_NONFINITE, "element %lld is not finite",
                               (long long)(flat + bad));
        flat += r.len;
    } while (picpq__rows_next(&r));
    return PICPQ_OK;
}

picpq_status picpq_tensor_l1_per_filter(const picpq_tensor *t, double *l1, int64_t n)
{
    picpq__rows r;
    int64_t j, per_filter, row = 0, rows_per_filter;
    picpq_status s;
    picpq__clear_error();
    PICPQ__REQUIRE(t, "t");
    PICPQ__REQUIRE(l1, "l1");
    if (n != t->shape[0])
        return picpq__fail(PICPQ_E_SHAPE, "n = %lld but the tensor has %lld filters", (long long)n,
                           (long long)t->shape[0]);
    s = picpq_tensor_check_finite(t);
    if (s != PICPQ_OK) return s;
    per_filter = t->numel / t->shape[0];
    rows_per_filter = t->ndim == 1 ? 1 : per_filter / t->shape[t->ndim - 1];
    memset(l1, 0, (size_t)n * sizeof *l1);
    picpq__rows_init(&r, t);
    do {
        int64_t f = t->ndim == 1 ? 0 : row / rows_per_filter;
        for (j = 0; j < r.len; j++) {
            double v = fabs(picpq__tensor_read(t, r.offset + j * r.step));
            if (t->ndim == 1) l1[j] += v;
            else l1[f] += v;
        }
        row++;
    } while (picpq__rows_next(&r));
    return PICPQ_OK;
}
