#include "testutil.h"

#include <stdlib.h>
#include <string.h>

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

static void *bc_alloc(void *ud, size_t size)
{
    byte_count *c = ud;
    size_t *p = malloc(size + 16);
    if (p == NULL) return NULL;
    p[0] = size;
    c->live += size;
    c->total += size;
    if (c->live > c->peak) c->peak = c->live;
    return (char *)p + 16;
}

static void bc_free(void *ud, void *ptr)
{
    byte_count *c = ud;
    size_t *p;
    if (ptr == NULL) return;
    p = (size_t *)(void *)((char *)ptr - 16);
    c->live -= p[0];
    free(p);
}

picpq_allocator bc_make(byte_count *c)
{
    picpq_allocator a;
    memset(c, 0, sizeof *c);
    a.alloc = bc_alloc;
    a.free = bc_free;
    a.ud = c;
    return a;
}
