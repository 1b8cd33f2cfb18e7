#include "testutil.h"

#include <stdlib.h>

static void *ta_alloc(void *ud, size_t size)
{
    test_alloc *ta = ud;
    void *p;
    ta->calls++;
    if (ta->fail_at > 0 && ta->calls == ta->fail_at) return NULL;
    p = malloc(size);
    if (p) ta->live++;
    return p;
}

static void ta_free(void *ud, void *ptr)
{
    test_alloc *ta = ud;
    if (ptr) {
        ta->live--;
        free(ptr);
    }
}

picpq_allocator test_alloc_make(test_alloc *ta, long fail_at)
{
    picpq_allocator a;
    ta->calls = 0;
    ta->live = 0;
    ta->fail_at = fail_at;
    a.alloc = ta_alloc;
    a.free = ta_free;
    a.ud = ta;
    return a;
}
