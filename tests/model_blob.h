/* The hand-computed model of tests/check_model.c, built byte by byte (the
 * Check suite and the runtime test of `make runtime-check` both run it):
 * input 1x2x2, logits 5/6 and 2/3 for the two images of its test. */
#ifndef PICPQ_MODEL_BLOB_H
#define PICPQ_MODEL_BLOB_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#ifndef PICPQ_EXPERIMENTAL
#define PICPQ_EXPERIMENTAL /* the model runtime */
#endif
#include "picpq.h"

typedef struct blob {
    unsigned char b[4096];
    size_t n;
} blob;

static void u32(blob *bl, uint32_t v)
{
    int k;
    for (k = 0; k < 4; k++) bl->b[bl->n++] = (unsigned char)(v >> (8 * k));
}

static void f32(blob *bl, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    u32(bl, u);
}

/* zlib's crc32, bit by bit (a transcription independent of src/codec.c) */
static uint32_t crc32_bits(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    size_t i;
    int k;
    for (i = 0; i < n; i++) {
        c ^= p[i];
        for (k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

/* Fix the length field and append the CRC. */
static void seal(blob *bl)
{
    size_t total = bl->n + 4, k;
    for (k = 0; k < 8; k++) bl->b[16 + k] = (unsigned char)((uint64_t)total >> (8 * k));
    u32(bl, crc32_bits(bl->b, bl->n));
}

/* Input 1x2x2, mean 0.5, std 0.5; conv 1->2 1x1 with 3-bit codes {3, -1}
 * (weights 1 and -1/3) and bias {0.5, 0}; 2-bit activation quantizer;
 * global average pool; linear 2->1 float weights {1, 2}. `variant` breaks
 * one field for the error tests. */
static void build(blob *bl, int variant)
{
    static const char magic[8] = {'P', 'Q', 'M', 'O', 'D', 'E', 'L', 0};
    bl->n = 0;
    memcpy(bl->b, magic, 8);
    bl->n = 8;
    u32(bl, variant == 1 ? 2 : 1); /* version */
    u32(bl, 0);                    /* flags */
    u32(bl, 0);
    u32(bl, 0);                         /* length, set by seal */
    u32(bl, 1), u32(bl, 2), u32(bl, 2); /* input */
    u32(bl, variant == 2 ? 3 : 1);      /* classes */
    u32(bl, 1);                         /* has_norm */
    f32(bl, 0.5f), f32(bl, variant == 3 ? -0.5f : 0.5f);
    u32(bl, 4); /* ops */
    /* op 0: conv */
    u32(bl, variant == 4 ? 99 : 1), u32(bl, variant == 5 ? 1 : 0);
    u32(bl, 2);                                                             /* out_c */
    u32(bl, 1), u32(bl, 1), u32(bl, 1), u32(bl, 1), u32(bl, 0), u32(bl, 0); /* k, s, p */
    u32(bl, 1), u32(bl, 1), u32(bl, variant == 6 ? 9 : 3); /* groups, has_bias, bits */
    u32(bl, variant == 7 ? 4 : 3), f32(bl, 1.0f);          /* levels, magnitude */
    bl->b[bl->n++] = variant == 8 ? 0x3C : 0x3B;           /* codes 3, -1 (8: 3 -> 4) */
    f32(bl, 0.5f), f32(bl, 0.0f);                          /* bias */
    /* op 1: actq 2 bits, scale 1 */
    u32(bl, 5), u32(bl, 1), u32(bl, 2), f32(bl, variant == 9 ? NAN : 1.0f);
    /* op 2: gap */
    u32(bl, 10), u32(bl, 2);
    /* op 3: linear 2 -> 1, float weights */
    u32(bl, 2), u32(bl, 3), u32(bl, 1), u32(bl, 0), u32(bl, 32);
    f32(bl, 1.0f), f32(bl, 2.0f);
    if (variant == 10) u32(bl, 0); /* trailing bytes */
    seal(bl);
}

/* The two images of the hand computation: their logits are 5/6 and 2/3. */
static const float hand_images[8] = {1.0f, 0.5f, 0.75f, 0.0f, 0.5f, 0.5f, 0.5f, 0.5f};

/* Load the hand model with `flags` (picpq_model_load_opts) and run both
 * images into logits[2]; the first failing status. */
static inline picpq_status run_hand_model(uint32_t flags, float logits[2])
{
    blob bl;
    picpq_model *m = NULL;
    picpq_model_workspace *ws = NULL;
    picpq_status st;
    build(&bl, 0);
    st = picpq_model_load_opts(bl.b, bl.n, NULL, flags, &m);
    if (st == PICPQ_OK) st = picpq_model_workspace_create(m, 2, &ws);
    if (st == PICPQ_OK) st = picpq_model_run(m, ws, hand_images, 2, logits);
    picpq_model_workspace_free(ws);
    picpq_model_free(m);
    return st;
}

#endif
