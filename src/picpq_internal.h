/* Internal declarations shared by the modules of libpicpq. Never installed.
 * Everything here has hidden visibility (the build uses -fvisibility=hidden);
 * non-static helpers are named picpq__*. */
#ifndef PICPQ_INTERNAL_H
#define PICPQ_INTERNAL_H

#include "picpq.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define PICPQ__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define PICPQ__PRINTF(f, a)
#endif

/* ---- errors (status.c) ---------------------------------------------- */

/* Set the calling thread's last-error message and return `status`. */
picpq_status picpq__fail(picpq_status status, const char *fmt, ...) PICPQ__PRINTF(2, 3);
/* Clear the message: every fallible public call starts with this. */
void picpq__clear_error(void);

/* Return PICPQ_E_INVALID_ARG naming `name` when `ptr` is NULL. */
#define PICPQ__REQUIRE(ptr, name)                                                   \
    do {                                                                            \
        if ((ptr) == NULL) return picpq__fail(PICPQ_E_INVALID_ARG, "%s is NULL", name); \
    } while (0)

/* ---- allocation (alloc.c) ------------------------------------------- */

/* Copy `src` (NULL = malloc/free) into `dst`; fails on a half-filled hook. */
picpq_status picpq__allocator_init(picpq_allocator *dst, const picpq_allocator *src);
/* Allocate `size` bytes (size 0 allocates 1); NULL on failure, no message. */
void *picpq__malloc(const picpq_allocator *a, size_t size);
/* Allocate count*size zeroed bytes, overflow-checked; NULL on failure. */
void *picpq__calloc(const picpq_allocator *a, size_t count, size_t size);
void picpq__free(const picpq_allocator *a, void *ptr);

/* ---- checked integer arithmetic (alloc.c) --------------------------- */

/* Each returns 1 and writes *out on success, 0 on overflow. */
int picpq__mul_i64(int64_t a, int64_t b, int64_t *out);
int picpq__add_i64(int64_t a, int64_t b, int64_t *out);
int picpq__i64_to_size(int64_t v, size_t *out);

/* ---- parameters (param.c) ------------------------------------------- */

typedef struct picpq__param_desc {
    picpq_param key;
    const char *name;
    picpq_param_type type;
    double lo, hi, def;
} picpq__param_desc;

/* Descriptor of `key`, or NULL when unknown. */
const picpq__param_desc *picpq__param_find(picpq_param key);
/* Validate a set_int/set_double call for a handle whose keys lie in
 * [group, group + 99]: unknown key, wrong group or type -> INVALID_ARG, value
 * outside the range (or non-finite) -> OUT_OF_RANGE, with a message. */
picpq_status picpq__param_check_int(picpq_param key, int group, int64_t value);
picpq_status picpq__param_check_double(picpq_param key, int group, double value);

/* ---- tensor core (tensor.c) ----------------------------------------- */

struct picpq_tensor {
    picpq_allocator alloc; /* for the handle and, when owned, the data */
    void *data;
    int owns;
    picpq_dtype dtype;
    int32_t ndim;
    int64_t numel;
    int64_t shape[PICPQ_TENSOR_MAX_DIMS];
    int64_t strides[PICPQ_TENSOR_MAX_DIMS]; /* bytes, > 0 */
};

/* Walks a tensor row by row in C order: a row is the last axis (length
 * `len`, byte stride `step`); `offset` is the byte offset of the current
 * row's first element. Usage:
 *   picpq__rows r; picpq__rows_init(&r, t);
 *   do { ... r.offset, r.len, r.step ... } while (picpq__rows_next(&r)); */
typedef struct picpq__rows {
    int32_t outer;                        /* ndim - 1 */
    int64_t shape[PICPQ_TENSOR_MAX_DIMS]; /* outer dims only */
    int64_t strides[PICPQ_TENSOR_MAX_DIMS];
    int64_t idx[PICPQ_TENSOR_MAX_DIMS];
    int64_t offset, len, step;
} picpq__rows;
void picpq__rows_init(picpq__rows *r, const picpq_tensor *t);
int picpq__rows_next(picpq__rows *r); /* 0 after the last row */

/* Element at byte offset `off` of `t`'s data, read as a double. */
double picpq__tensor_read(const picpq_tensor *t, int64_t off);
/* Validate dtype/ndim/shape and compute the element count. */
picpq_status picpq__tensor_check_shape(picpq_dtype dtype, int32_t ndim, const int64_t *shape,
                                       int64_t *numel);

/* ---- rank (rank.c) -------------------------------------------------- */

/* ---- net (net.c) ---------------------------------------------------- */

/* ---- plan (plan.c) -------------------------------------------------- */

/* ---- search (search.c, rng.c) --------------------------------------- */

/* ---- quant (quant.c) ------------------------------------------------ */

#endif /* PICPQ_INTERNAL_H */
