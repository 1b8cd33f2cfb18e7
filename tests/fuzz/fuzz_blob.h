/* What the saved-state and model-file harnesses share: their input is one
 * mode byte, then the bytes to load. Mode bit 0 set: the harness first writes
 * the true length and CRC-32 into the envelope (docs/FORMATS.md, "Codec"), so
 * that mutations reach the field checks behind the checksum. */
#ifndef FUZZ_BLOB_H
#define FUZZ_BLOB_H

#include <stdlib.h>
#include <string.h>

#include "picpq_internal.h"

static void fuzz_put32(unsigned char *p, uint32_t v)
{
    int k;
    for (k = 0; k < 4; k++) p[k] = (unsigned char)(v >> (8 * k));
}

/* A malloc'd copy of the bytes after the mode byte (*len of them), its
 * envelope fixed up under mode bit 0; NULL for an empty input. */
static unsigned char *fuzz_blob(const uint8_t *data, size_t size, size_t *len)
{
    unsigned char *blob;
    if (size < 1) return NULL;
    *len = size - 1;
    blob = malloc(*len ? *len : 1);
    if (blob == NULL) return NULL;
    memcpy(blob, data + 1, *len);
    if ((data[0] & 1) && *len >= PICPQ__STATE_HEADER_BYTES + PICPQ__STATE_CRC_BYTES) {
        fuzz_put32(blob + 16, (uint32_t)*len); /* the length field (low word) */
        memset(blob + 20, 0, 4);
        fuzz_put32(blob + *len - 4, picpq__crc32(0, blob, *len - 4));
    }
    return blob;
}

/* What loads must save back to the very same bytes: SAVE(handle, buf, cap,
 * &needed) is picpq_ranker_save or picpq_search_save. */
#define FUZZ_SAVES_BACK(save, handle, blob, len)                                               \
    do {                                                                                       \
        size_t need_;                                                                          \
        unsigned char *again_;                                                                 \
        if (save(handle, NULL, 0, &need_) != PICPQ_OK || need_ != (len)) __builtin_trap();     \
        again_ = malloc(need_);                                                                \
        if (again_ == NULL) __builtin_trap();                                                  \
        if (save(handle, again_, need_, &need_) != PICPQ_OK || memcmp(again_, blob, len) != 0) \
            __builtin_trap();                                                                  \
        free(again_);                                                                          \
    } while (0)

#endif
