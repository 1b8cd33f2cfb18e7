/* libFuzzer harness for picpq_ranker_load (tests/fuzz/run.sh ranker_load).
 *
 * Input: one mode byte, then the blob. Mode bit 0 set: the harness first
 * writes the blob's true length and CRC-32 into it, so that mutations get
 * past the checksum to the field checks. Whatever the bytes, load returns a
 * status; a blob it accepts saves back to the same bytes and survives feeds,
 * queries, a merge with itself and fp_to_net. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_blob.h"

/* Drive a loaded ranker: queries, a small feed, a self-merge, a save. */
static void exercise(picpq_ranker *rk)
{
    const int32_t n = picpq_ranker_num_layers(rk);
    int32_t l;
    int64_t ch, images, certified, fallback;
    double fp[16];
    size_t need;
    for (l = 0; l < n; l++) {
        if (picpq_ranker_layer_channels(rk, l, &ch) != PICPQ_OK) __builtin_trap();
        if (picpq_ranker_images(rk, l, &images) != PICPQ_OK) __builtin_trap();
        if (ch <= 16) picpq_ranker_fp(rk, l, fp, ch);
    }
    picpq_ranker_stats(rk, &certified, &fallback);
    /* a feed of one 1 x C x 2 x 2 batch when layer 0 is small enough to be
     * fast; counts near INT64_MAX must give PICPQ_E_OVERFLOW, not overflow */
    if (picpq_ranker_layer_channels(rk, 0, &ch) == PICPQ_OK && ch <= 16) {
        float maps[16 * 4];
        int64_t shape[4] = {1, 0, 2, 2};
        picpq_tensor *t = NULL;
        int64_t i;
        shape[1] = ch;
        for (i = 0; i < ch * 4; i++) maps[i] = (float)((i * 7) % 5);
        if (picpq_tensor_wrap(maps, PICPQ_F32, 4, shape, NULL, &t) == PICPQ_OK) {
            picpq_status st = picpq_ranker_feed(rk, 0, t);
            if (st != PICPQ_OK && st != PICPQ_E_NOMEM && st != PICPQ_E_OVERFLOW) __builtin_trap();
            picpq_tensor_free(t);
        }
    }
    picpq_ranker_merge(rk, rk); /* refused or doubled: either way a status */
    if (picpq_ranker_save(rk, NULL, 0, &need) == PICPQ_OK) {
        unsigned char *buf = malloc(need);
        if (buf && picpq_ranker_save(rk, buf, need, &need) != PICPQ_OK) __builtin_trap();
        free(buf);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *blob;
    size_t len;
    picpq_ranker *rk = NULL;
    if ((blob = fuzz_blob(data, size, &len)) == NULL) return 0;
    if (picpq_ranker_load(blob, len, &rk) == PICPQ_OK) {
        FUZZ_SAVES_BACK(picpq_ranker_save, rk, blob, len);
        exercise(rk);
        picpq_ranker_free(rk);
    } else if (rk != NULL) {
        __builtin_trap();
    }
    free(blob);
    return 0;
}
