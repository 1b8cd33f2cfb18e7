/* A Cortex-M4 firmware of `make runtime-m4` (linked, not run): the model
 * file in flash (build/m4/model_data.c, from tests/runtime/resnet20_q.pqm),
 * loaded with PICPQ_MODEL_INTEGER (quantized convolutions keep int8 codes),
 * the model and its batch-1 workspace in a static arena through the
 * allocator hook, one image classified. Its size is the runtime's flash
 * cost with newlib-nano; ARENA_BYTES is the RAM the model needs (measured on
 * x86-64 with the same 4096-float tiles: 165,152 bytes, held after load plus
 * the workspace; docs/DEPLOY.md). */
#include <stddef.h>
#include <stdint.h>

#define PICPQ_EXPERIMENTAL
#include "picpq.h"

#ifndef ARENA_BYTES
#define ARENA_BYTES (168 * 1024)
#endif

extern const unsigned char model_data[];
extern const size_t model_size;

static unsigned char arena[ARENA_BYTES] __attribute__((aligned(8)));
static size_t used;

/* A bump allocator: the runtime allocates only in load and workspace create. */
static void *bump(void *ud, size_t size)
{
    void *p;
    (void)ud;
    size = (size + 7u) & ~(size_t)7u;
    if (size > sizeof arena - used) return NULL;
    p = arena + used;
    used += size;
    return p;
}

static void no_free(void *ud, void *ptr)
{
    (void)ud;
    (void)ptr;
}

static float image[28 * 28];
volatile int32_t result;

int main(void)
{
    picpq_allocator a;
    picpq_model *m;
    picpq_model_workspace *ws;
    float logits[10];
    int32_t k, best = 0;
    a.alloc = bump;
    a.free = no_free;
    a.ud = NULL;
    if (picpq_model_load_opts(model_data, model_size, &a, PICPQ_MODEL_INTEGER, &m) != PICPQ_OK)
        return 1;
    if (picpq_model_workspace_create(m, 1, &ws) != PICPQ_OK) return 2;
    if (picpq_model_run(m, ws, image, 1, logits) != PICPQ_OK) return 3;
    for (k = 1; k < 10; k++)
        if (logits[k] > logits[best]) best = k;
    result = best;
    return 0;
}
