/* libFuzzer harness for picpq_quant_unpack and picpq_quant_pack
 * (tests/fuzz/run.sh unpack).
 *
 * Input: bits (1 byte, any value), n (2 bytes, little-endian, any value up to
 * 65535, so also more codes than the buffer holds), then the packed bytes.
 * Whatever the input, unpack returns a status; what it unpacks is in range
 * for the width and packs back to the same leading bits, with the unused
 * high bits of the last byte zero. */
#include <stdlib.h>
#include <string.h>

#include "picpq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int32_t bits;
    int64_t n, i;
    size_t len, need;
    uint8_t *buf, *again;
    int8_t *codes;
    picpq_status st;
    if (size < 3) return 0;
    bits = (int32_t)(int8_t)data[0]; /* negative and > 8 too */
    n = (int64_t)data[1] | (int64_t)data[2] << 8;
    if (data[0] & 0x80) n = -n; /* and negative counts */
    len = size - 3;
    buf = malloc(len ? len : 1);
    codes = malloc(n > 0 ? (size_t)n : 1);
    if (buf == NULL || codes == NULL) __builtin_trap();
    memcpy(buf, data + 3, len);
    st = picpq_quant_unpack(len ? buf : NULL, len, bits, n > 0 ? codes : NULL, n);
    if (st == PICPQ_OK && n > 0) {
        const int lo = bits == 1 ? -1 : -(1 << (bits - 1)),
                  hi = bits == 1 ? 1 : (1 << (bits - 1)) - 1;
        for (i = 0; i < n; i++)
            if (codes[i] < lo || codes[i] > hi || (bits == 1 && codes[i] == 0)) __builtin_trap();
        if (picpq_quant_pack(codes, n, bits, NULL, 0, &need) != PICPQ_OK) __builtin_trap();
        if (need > len) __builtin_trap();
        again = malloc(need);
        if (again == NULL) __builtin_trap();
        if (picpq_quant_pack(codes, n, bits, again, need, &need) != PICPQ_OK) __builtin_trap();
        /* every whole byte matches; of the last, the bits the codes cover */
        if (need > 1 && memcmp(again, buf, need - 1) != 0) __builtin_trap();
        if (need > 0) {
            const int used = (int)((n * bits - 1) % 8) + 1;
            const uint8_t mask = (uint8_t)((1u << used) - 1);
            if ((again[need - 1] & ~mask) != 0) __builtin_trap();
            if ((again[need - 1] & mask) != (buf[need - 1] & mask)) __builtin_trap();
        }
        free(again);
    } else if (st == PICPQ_OK && n < 0) {
        __builtin_trap();
    } else if (st != PICPQ_OK && picpq_last_error()[0] == '\0') {
        __builtin_trap();
    }
    free(buf);
    free(codes);
    return 0;
}
