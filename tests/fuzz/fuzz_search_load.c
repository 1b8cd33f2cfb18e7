/* libFuzzer harness for picpq_search_load (make fuzz; tests/fuzz/run.sh).
 *
 * Input: one mode byte, then the blob. Mode bit 0 set: the harness first
 * writes the blob's true length and CRC-32 into it, so that mutations reach
 * the field checks behind the checksum. Whatever the bytes, load must return
 * a status without crashing; a blob it accepts must save back to the same
 * bytes and survive every other call (asks, tells, queries, save). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_blob.h" /* first: picpq_internal.h asks picpq.h for the experimental calls */
#include "fuzz_net.h"

static picpq_net *net;

/* Drive a loaded search: re-dispatch the pending, ask and tell a little. */
static void exercise(picpq_search *s)
{
    double a[FUZZ_LAYERS], b[FUZZ_LAYERS], loss, hist[4];
    uint64_t id;
    int64_t i, count, sample, n = picpq_search_num_pending(s);
    size_t need;
    unsigned char *buf;
    for (i = 0; i < n; i++)
        if (picpq_search_pending(s, i, &id, a, b, FUZZ_LAYERS) != PICPQ_OK) __builtin_trap();
    picpq_search_best(s, a, b, FUZZ_LAYERS, &loss);
    picpq_search_stats(s, NULL, NULL, NULL, &loss);
    picpq_search_history(s, hist, 4, &count);
    /* a forged tournament of up to 2^20 draws per ask is legal but slow:
     * keep the fuzzer fast by asking only when it is small */
    if (picpq_search_get_int(s, PICPQ_SEARCH_SAMPLE, &sample) != PICPQ_OK) __builtin_trap();
    for (i = 0; i < (sample <= 1024 ? 6 : 0); i++) {
        picpq_status st = picpq_search_ask(s, &id, a, b, FUZZ_LAYERS);
        if (st == PICPQ_OK) picpq_search_tell(s, id, i == 3 ? -INFINITY : a[0] + b[2]);
        else if (st != PICPQ_DONE && st != PICPQ_E_NOMEM) __builtin_trap();
    }
    while (picpq_search_num_pending(s) > 0) {
        if (picpq_search_pending(s, 0, &id, a, b, FUZZ_LAYERS) != PICPQ_OK) __builtin_trap();
        if (picpq_search_tell(s, id, b[0]) != PICPQ_OK) __builtin_trap();
    }
    if (picpq_search_save(s, NULL, 0, &need) != PICPQ_OK) __builtin_trap();
    buf = malloc(need);
    if (buf && picpq_search_save(s, buf, need, &need) != PICPQ_OK) __builtin_trap();
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *blob;
    size_t len;
    picpq_search *s = NULL;
    if (net == NULL && (net = fuzz_net()) == NULL) __builtin_trap();
    if ((blob = fuzz_blob(data, size, &len)) == NULL) return 0;
    if (picpq_search_load(net, blob, len, &s) == PICPQ_OK) {
        FUZZ_SAVES_BACK(picpq_search_save, s, blob, len);
        exercise(s);
        picpq_search_free(s);
    } else if (s != NULL) {
        __builtin_trap();
    }
    free(blob);
    return 0;
}
