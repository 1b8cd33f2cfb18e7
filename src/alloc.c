/* Per-handle allocator hooks and checked integer arithmetic. */
#include "picpq_internal.h"

#include <stdlib.h>
#include <string.h>

static void *std_alloc(void *ud, size_t size)
{
    (void)ud;
    return malloc(size);
}

static void std_free(void *ud, void *ptr)
{
    (void)ud;
    free(ptr);
}

picpq_status picpq__allocator_init(picpq_allocator *dst, const picpq_allocator *src)
{
    if (src == NULL) {
        dst->alloc = std_alloc;
        dst->free = std_free;
        dst->ud = NULL;
        return PICPQ_OK;
    }
    if (src->alloc == NULL || src->free == NULL)
        return picpq__fail(PICPQ_E_INVALID_ARG, "allocator: alloc and free must both be set");
    *dst = *src;
    return PICPQ_OK;
}

void *picpq__malloc(const picpq_allocator *a, size_t size)
{
    return a->alloc(a->ud, size ? size : 1);
}

void *picpq__calloc(const picpq_allocator *a, size_t count, size_t size)
{
    void *p;
    if (size != 0 && count > SIZE_MAX / size) return NULL;
    p = picpq__malloc(a, count * size);
    if (p != NULL) memset(p, 0, count * size);
    return p;
}

void picpq__free(const picpq_allocator *a, void *ptr)
{
    if (ptr != NULL) a->free(a->ud, ptr);
}

int picpq__mul_i64(int64_t a, int64_t b, int64_t *out)
{
    if (a < 0 || b < 0) return 0; /* sizes only */
    if (a != 0 && b > INT64_MAX / a) return 0;
    *out = a * b;
    return 1;
}

int picpq__add_i64(int64_t a, int64_t b, int64_t *out)
{
    if ((b > 0 && a > INT64_MAX - b) || (b < 0 && a < INT64_MIN - b)) return 0;
    *out = a + b;
    return 1;
}

int picpq__i64_to_size(int64_t v, size_t *out)
{
    if (v < 0 || (uint64_t)v > (uint64_t)SIZE_MAX) return 0;
    *out = (size_t)v;
    return 1;
}
