/* Bit packing of 1..8-bit integer codes and the size of a packed model.
 *
 * Bit order: code i occupies bits [i·b, (i+1)·b) of a little-endian bit
 * stream, least significant bit first. Eight codes therefore fill exactly b
 * bytes, which the fast loops assemble in one 64-bit word. */
#include "picpq_internal.h"

#include <string.h>

static picpq_status check_pack_args(int64_t n, int32_t bits)
{
    if (bits < 1 || bits > 8)
        return picpq__fail(PICPQ_E_OUT_OF_RANGE, "bits = %d is not in 1..8", (int)bits);
    if (n < 0) return picpq__fail(PICPQ_E_OUT_OF_RANGE, "n = %lld is negative", (long long)n);
    return PICPQ_OK;
}

/* ⌈n·bits/8⌉, overflow-checked. */
static picpq_status packed_bytes(int64_t n, int32_t bits, int64_t *bytes)
{
    int64_t nbits;
    if (!picpq__mul_i64(n, bits, &nbits) || !picpq__add_i64(nbits, 7, &nbits))
        return picpq__fail(PICPQ_E_OVERFLOW, "%lld codes of %d bits overflow", (long long)n,
                           (int)bits);
    *bytes = nbits / 8;
    return PICPQ_OK;
}

/* Codes representable in `bits` bits: two's complement, or -1/+1 for 1 bit. */
static int code_fits(int c, int lo, int hi, int32_t bits)
{
    return c >= lo && c <= hi && !(bits == 1 && c == 0);
}

static picpq_status check_codes(const int8_t *codes, int64_t n, int32_t bits)
{
    const int lo = bits == 1 ? -1 : -(1 << (bits - 1)), hi = bits == 1 ? 1 : (1 << (bits - 1)) - 1;
    int8_t mn = 0, mx = 0, zero = 0;
    int64_t i = 0;
    int j;
    if (bits == 8) return PICPQ_OK;
    /* branch-free over blocks of a fixed size, which -O2 vectorizes; the
     * search for the offending index runs on error only */
    for (; i + 64 <= n; i += 64) {
        int8_t bmn = 0, bmx = 0, bzero = 0;
        for (j = 0; j < 64; j++) {
            const int8_t c = codes[i + j];
            bmn = c < bmn ? c : bmn;
            bmx = c > bmx ? c : bmx;
            bzero |= (int8_t)(c == 0);
        }
        mn = bmn < mn ? bmn : mn;
        mx = bmx > mx ? bmx : mx;
        zero |= bzero;
    }
    for (; i < n; i++) {
        mn = codes[i] < mn ? codes[i] : mn;
        mx = codes[i] > mx ? codes[i] : mx;
        zero |= (int8_t)(codes[i] == 0);
    }
    if (mn >= lo && mx <= hi && (bits != 1 || !zero)) return PICPQ_OK;
    for (i = 0; code_fits(codes[i], lo, hi, bits); i++) continue;
    return picpq__fail(PICPQ_E_OUT_OF_RANGE, "codes[%lld] = %d does not fit %d bit%s", (long long)i,
                       codes[i], (int)bits, bits == 1 ? " (1-bit codes are -1 or +1)" : "s");
}

/* The b-bit field stored for a code, and back. */
static uint64_t field_of(int c, int32_t bits)
{
    return bits == 1 ? (uint64_t)((c + 1) >> 1) : ((uint64_t)(uint8_t)c & ((1u << bits) - 1));
}

static int code_of(uint64_t f, int32_t bits)
{
    const int half = 1 << (bits - 1);
    return bits == 1 ? 2 * (int)f - 1 : ((int)f ^ half) - half;
}

/* Whole groups of 8 codes <-> B bytes, one function per width B so that all
 * shifts and masks are constants. On little-endian machines a group is one
 * 64-bit word (byte i = code i) whose B-bit fields are squeezed together in
 * three SWAR steps (byte pairs, then 16-bit pairs, then 32-bit pairs), and
 * spread apart the same way to unpack; elsewhere the portable loop runs. */
#define LANES16 0x0001000100010001u
#define LANES32 0x0000000100000001u
#define BYTES 0x0101010101010101u
#define LOW(n) ((UINT64_C(1) << (n)) - 1)

static int little_endian(void)
{
    const uint16_t one = 1;
    uint8_t first;
    memcpy(&first, &one, 1);
    return first == 1;
}

#define DEFINE_GROUPS(B)                                                                           \
    static uint64_t squeeze_##B(uint64_t f)                                                        \
    {                                                                                              \
        f = (f & (LOW(B) * LANES16)) | ((f >> (8 - B)) & ((LOW(B) << B) * LANES16));               \
        f = (f & (LOW(2 * B) * LANES32)) |                                                         \
            ((f >> (16 - 2 * B)) & ((LOW(2 * B) << 2 * B) * LANES32));                             \
        return (f & LOW(4 * B)) | ((f >> (32 - 4 * B)) & (LOW(4 * B) << 4 * B));                   \
    }                                                                                              \
    static uint64_t spread_##B(uint64_t f)                                                         \
    {                                                                                              \
        f = (f & LOW(4 * B)) | ((f << (32 - 4 * B)) & (LOW(4 * B) << 32));                         \
        f = (f & (LOW(2 * B) * LANES32)) | ((f << (16 - 2 * B)) & ((LOW(2 * B) << 16) * LANES32)); \
        return (f & (LOW(B) * LANES16)) | ((f << (8 - B)) & ((LOW(B) << 8) * LANES16));            \
    }                                                                                              \
    static void pack_groups_##B(const int8_t *codes, int64_t groups, uint8_t *out)                 \
    {                                                                                              \
        int64_t g;                                                                                 \
        int i;                                                                                     \
        for (g = 0; g < groups; g++, codes += 8, out += B) {                                       \
            uint64_t v = 0;                                                                        \
            if (little_endian()) {                                                                 \
                memcpy(&v, codes, 8); /* -1/+1 -> 0/1 is bit 1 of ~c for B = 1 */                  \
                v = squeeze_##B(B == 1 ? (~v >> 1) & BYTES : v & (LOW(B) * BYTES));                \
                memcpy(out, &v, B);                                                                \
                continue;                                                                          \
            }                                                                                      \
            for (i = 0; i < 8; i++) v |= field_of(codes[i], B) << (i * B);                         \
            for (i = 0; i < B; i++) out[i] = (uint8_t)(v >> (8 * i));                              \
        }                                                                                          \
    }                                                                                              \
    static void unpack_groups_##B(const uint8_t *in, int64_t groups, int8_t *codes)                \
    {                                                                                              \
        int64_t g;                                                                                 \
        int i;                                                                                     \
        for (g = 0; g < groups; g++, codes += 8, in += B) {                                        \
            uint64_t v = 0, sign;                                                                  \
            for (i = 0; i < B; i++) v |= (uint64_t)in[i] << (8 * i);                               \
            if (little_endian()) {                                                                 \
                v = spread_##B(v);                                                                 \
                /* sign-extend each byte; for B = 1 map 0/1 to -1/+1 */                            \
                sign = (v >> (B - 1)) & BYTES;                                                     \
                v = B == 1 ? ((v ^ BYTES) * 0xFE) | BYTES : v | sign * (0xFF ^ LOW(B));            \
                memcpy(codes, &v, 8);                                                              \
                continue;                                                                          \
            }                                                                                      \
            for (i = 0; i < 8; i++) codes[i] = (int8_t)code_of((v >> (i * B)) & LOW(B), B);        \
        }                                                                                          \
    }
DEFINE_GROUPS(1)
DEFINE_GROUPS(2)
DEFINE_GROUPS(3)
DEFINE_GROUPS(4)
DEFINE_GROUPS(5)
DEFINE_GROUPS(6)
DEFINE_GROUPS(7)

typedef void (*pack_fn)(const int8_t *, int64_t, uint8_t *);
typedef void (*unpack_fn)(const uint8_t *, int64_t, int8_t *);
static const pack_fn pack_groups[8] = {NULL,          pack_groups_1, pack_groups_2, pack_groups_3,
                                       pack_groups_4, pack_groups_5, pack_groups_6, pack_groups_7};
static const unpack_fn unpack_groups[8] = {NULL,
                                           unpack_groups_1,
                                           unpack_groups_2,
                                           unpack_groups_3,
                                           unpack_groups_4,
                                           unpack_groups_5,
                                           unpack_groups_6,
                                           unpack_groups_7};

static void pack(const int8_t *codes, int64_t n, int32_t bits, uint8_t *out)
{
    const int64_t groups = n / 8, g = groups * 8;
    int64_t i, j, nbytes;
    uint64_t v = 0;
    if (n == 0) return; /* codes may be NULL then, which memcpy must never see */
    if (bits == 8) {
        memcpy(out, codes, (size_t)n);
        return;
    }
    pack_groups[bits](codes, groups, out);
    out += groups * bits;
    for (i = 0; g + i < n; i++) v |= field_of(codes[g + i], bits) << (i * bits);
    nbytes = (i * bits + 7) / 8;
    for (j = 0; j < nbytes; j++) out[j] = (uint8_t)(v >> (8 * j));
}

static void unpack(const uint8_t *in, int32_t bits, int8_t *codes, int64_t n)
{
    const int64_t groups = n / 8, g = groups * 8;
    const uint64_t mask = (1u << bits) - 1;
    int64_t i, j, nbytes;
    uint64_t v = 0;
    if (n == 0) return; /* as in pack(): no NULL pointer reaches memcpy */
    if (bits == 8) {
        memcpy(codes, in, (size_t)n);
        return;
    }
    unpack_groups[bits](in, groups, codes);
    in += groups * bits;
    nbytes = ((n - g) * bits + 7) / 8;
    for (j = 0; j < nbytes; j++) v |= (uint64_t)in[j] << (8 * j);
    for (i = 0; g + i < n; i++) codes[g + i] = (int8_t)code_of((v >> (i * bits)) & mask, bits);
}

picpq_status picpq_quant_pack(const int8_t *codes, int64_t n, int32_t bits, uint8_t *buf,
                              size_t cap, size_t *needed)
{
    int64_t bytes;
    size_t need;
    picpq_status s;
    picpq__clear_error();
    if ((s = check_pack_args(n, bits)) != PICPQ_OK) return s;
    if (n > 0) PICPQ__REQUIRE(codes, "codes");
    if (buf == NULL && needed == NULL)
        return picpq__fail(PICPQ_E_INVALID_ARG, "buf and needed are both NULL");
    if ((s = packed_bytes(n, bits, &bytes)) != PICPQ_OK) return s;
    if (!picpq__i64_to_size(bytes, &need))
        return picpq__fail(PICPQ_E_OVERFLOW, "%lld bytes do not fit size_t", (long long)bytes);
    if ((s = check_codes(codes, n, bits)) != PICPQ_OK) return s;
    if (needed) *needed = need;
    if (buf == NULL) return PICPQ_OK;
    if (cap < need)
        return picpq__fail(PICPQ_E_BUFFER, "cap = %zu bytes: %lld codes of %d bits need %zu", cap,
                           (long long)n, (int)bits, need);
    pack(codes, n, bits, buf);
    return PICPQ_OK;
}

picpq_status picpq_quant_unpack(const uint8_t *buf, size_t len, int32_t bits, int8_t *codes,
                                int64_t n)
{
    int64_t bytes;
    size_t need;
    picpq_status s;
    picpq__clear_error();
    if ((s = check_pack_args(n, bits)) != PICPQ_OK) return s;
    if (n == 0) return PICPQ_OK;
    PICPQ__REQUIRE(buf, "buf");
    PICPQ__REQUIRE(codes, "codes");
    if ((s = packed_bytes(n, bits, &bytes)) != PICPQ_OK) return s;
    if (!picpq__i64_to_size(bytes, &need))
        return picpq__fail(PICPQ_E_OVERFLOW, "%lld bytes do not fit size_t", (long long)bytes);
    if (len < need)
        return picpq__fail(PICPQ_E_SHAPE, "len = %zu bytes: %lld codes of %d bits need %zu", len,
                           (long long)n, (int)bits, need);
    unpack(buf, bits, codes, n);
    return PICPQ_OK;
}

picpq_status picpq_quant_packed_size(int32_t n, const int64_t *numel, const int32_t *bits,
                                     int64_t *bytes)
{
    int64_t total = 0, layer;
    int32_t l;
    picpq_status s;
    picpq__clear_error();
    PICPQ__REQUIRE(numel, "numel");
    PICPQ__REQUIRE(bits, "bits");
    PICPQ__REQUIRE(bytes, "bytes");
    if (n < 1) return picpq__fail(PICPQ_E_OUT_OF_RANGE, "n = %d: need at least 1 tensor", (int)n);
    for (l = 0; l < n; l++) {
        if (numel[l] < 0)
            return picpq__fail(PICPQ_E_OUT_OF_RANGE, "numel[%d] = %lld is negative", (int)l,
                               (long long)numel[l]);
        if (bits[l] == 32) {
            if (!picpq__mul_i64(numel[l], 4, &layer))
                return picpq__fail(PICPQ_E_OVERFLOW, "tensor %d: byte count overflows", (int)l);
        } else if (bits[l] < 1 || bits[l] > 8) {
            return picpq__fail(PICPQ_E_OUT_OF_RANGE, "bits[%d] = %d is not in 1..8 or 32", (int)l,
                               (int)bits[l]);
        } else if ((s = packed_bytes(numel[l], bits[l], &layer)) != PICPQ_OK) {
            return s;
        }
        if (!picpq__add_i64(total, layer, &total))
            return picpq__fail(PICPQ_E_OVERFLOW, "total byte count overflows at tensor %d", (int)l);
    }
    *bytes = total;
    return PICPQ_OK;
}
