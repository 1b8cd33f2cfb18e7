/* The one byte codec of every saved state (docs/FORMATS.md, "Codec"): a
 * writer and a bounds-checked reader of little-endian fixed-width fields,
 * and the envelope shared by all states: magic, version, flags, total
 * length, body, CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, as
 * zlib's crc32; a 16-entry table: small, constant, and fast enough for saved
 * states). Keeping it in one place keeps the formats' conventions equal. */
#include "picpq_internal.h"

#include <string.h>

static const uint32_t nibble_table[16] = {0x00000000u, 0x1db71064u, 0x3b6e20c8u, 0x26d930acu,
                                          0x76dc4190u, 0x6b6b51f4u, 0x4db26158u, 0x5005713cu,
                                          0xedb88320u, 0xf00f9344u, 0xd6d6a3e8u, 0xcb61b38cu,
                                          0x9b64c2b0u, 0x86d3d2d4u, 0xa00ae278u, 0xbdbdf21cu};

uint32_t picpq__crc32(uint32_t crc, const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t i;
    crc = ~crc;
    for (i = 0; i < len; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ nibble_table[crc & 15u];
        crc = (crc >> 4) ^ nibble_table[crc & 15u];
    }
    return ~crc;
}

/* ---- writer ------------------------------------------------------------ */

void picpq__writer_init(picpq__writer *w, void *buf, size_t cap)
{
    w->p = buf;
    w->pos = 0;
    w->cap = cap;
    w->overflow = 0;
}

/* A write past the capacity is dropped and remembered: the caller sized the
 * buffer, so this is a bug that state_end reports instead of a corruption. */
static void put_le(picpq__writer *w, uint64_t v, int bytes)
{
    int i;
    if (w->overflow || w->cap - w->pos < (size_t)bytes) {
        w->overflow = 1;
        return;
    }
    for (i = 0; i < bytes; i++) w->p[w->pos + (size_t)i] = (unsigned char)(v >> (8 * i));
    w->pos += (size_t)bytes;
}

void picpq__put_u8(picpq__writer *w, uint8_t v)
{
    put_le(w, v, 1);
}

void picpq__put_u32(picpq__writer *w, uint32_t v)
{
    put_le(w, v, 4);
}

void picpq__put_u64(picpq__writer *w, uint64_t v)
{
    put_le(w, v, 8);
}

void picpq__put_i64(picpq__writer *w, int64_t v)
{
    put_le(w, (uint64_t)v, 8); /* two's complement: the cast is defined modulo 2^64 */
}

void picpq__put_f64(picpq__writer *w, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8); /* IEEE 754 binary64 bits: -0.0 and NaN payloads survive */
    put_le(w, u, 8);
}

void picpq__put_f64s(picpq__writer *w, const double *v, int64_t n)
{
    int64_t i;
    for (i = 0; i < n; i++) picpq__put_f64(w, v[i]);
}

/* ---- reader ------------------------------------------------------------ */

void picpq__reader_init(picpq__reader *r, const void *buf, size_t len)
{
    r->p = buf;
    r->pos = 0;
    r->len = len;
    r->short_read = 0;
}

/* Past the end: 0, and the sticky flag, so that a decoder reads a whole
 * group of fields and checks once. */
static uint64_t get_le(picpq__reader *r, int bytes)
{
    uint64_t v = 0;
    int i;
    if (r->short_read || r->len - r->pos < (size_t)bytes) {
        r->short_read = 1;
        r->pos = r->len;
        return 0;
    }
    for (i = bytes - 1; i >= 0; i--) v = (v << 8) | r->p[r->pos + (size_t)i];
    r->pos += (size_t)bytes;
    return v;
}

uint8_t picpq__get_u8(picpq__reader *r)
{
    return (uint8_t)get_le(r, 1);
}

uint32_t picpq__get_u32(picpq__reader *r)
{
    return (uint32_t)get_le(r, 4);
}

uint64_t picpq__get_u64(picpq__reader *r)
{
    return get_le(r, 8);
}

int64_t picpq__get_i64(picpq__reader *r)
{
    const uint64_t u = get_le(r, 8);
    int64_t v;
    memcpy(&v, &u, 8); /* two's complement without the implementation-defined cast */
    return v;
}

double picpq__get_f64(picpq__reader *r)
{
    const uint64_t u = get_le(r, 8);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

void picpq__get_f64s(picpq__reader *r, double *v, int64_t n)
{
    int64_t i;
    for (i = 0; i < n; i++) v[i] = picpq__get_f64(r);
}

size_t picpq__reader_left(const picpq__reader *r)
{
    return r->len - r->pos;
}

/* ---- envelope ---------------------------------------------------------- */

void picpq__state_begin(picpq__writer *w, void *buf, size_t total, const unsigned char magic[8],
                        uint32_t version)
{
    size_t i;
    picpq__writer_init(w, buf, total);
    for (i = 0; i < 8; i++) picpq__put_u8(w, magic[i]);
    picpq__put_u32(w, version);
    picpq__put_u32(w, 0); /* flags */
    picpq__put_u64(w, (uint64_t)total);
}

picpq_status picpq__state_end(picpq__writer *w, const char *what)
{
    if (w->overflow || w->pos + PICPQ__STATE_CRC_BYTES != w->cap)
        return picpq__fail(PICPQ_E_INTERNAL, "%s: wrote %zu of %zu bytes", what,
                           w->pos + PICPQ__STATE_CRC_BYTES, w->cap);
    picpq__put_u32(w, picpq__crc32(0, w->p, w->pos));
    return PICPQ_OK;
}

picpq_status picpq__state_read(picpq__reader *r, const void *buf, size_t len,
                               const unsigned char magic[8], uint32_t version, size_t min_len,
                               const char *what, const char *old_hint)
{
    picpq__reader h;
    uint32_t got_version, flags;
    uint64_t total;
    size_t i;
    if (len < min_len || len < PICPQ__STATE_HEADER_BYTES + PICPQ__STATE_CRC_BYTES)
        return picpq__fail(PICPQ_E_FORMAT, "%s: truncated (%zu bytes)", what, len);
    picpq__reader_init(&h, buf, len);
    for (i = 0; i < 8; i++)
        if (picpq__get_u8(&h) != magic[i])
            return picpq__fail(PICPQ_E_FORMAT, "%s: bad magic: not a libpicpq %s", what, what);
    got_version = picpq__get_u32(&h);
    flags = picpq__get_u32(&h);
    total = picpq__get_u64(&h);
    if (got_version < version && old_hint != NULL)
        return picpq__fail(PICPQ_E_FORMAT, "%s format %lu is no longer read; %s", what,
                           (unsigned long)got_version, old_hint);
    if (got_version != version)
        return picpq__fail(PICPQ_E_FORMAT,
                           "%s: format version %lu is not supported (this library reads %lu)", what,
                           (unsigned long)got_version, (unsigned long)version);
    if (flags != 0)
        return picpq__fail(PICPQ_E_FORMAT, "%s: unknown flags 0x%lx", what, (unsigned long)flags);
    if (total != (uint64_t)len)
        return picpq__fail(PICPQ_E_FORMAT,
                           "%s: the header says %llu bytes, the buffer has %zu (truncated or "
                           "padded)",
                           what, (unsigned long long)total, len);
    h.pos = len - PICPQ__STATE_CRC_BYTES;
    if (picpq__get_u32(&h) != picpq__crc32(0, buf, len - PICPQ__STATE_CRC_BYTES))
        return picpq__fail(PICPQ_E_FORMAT, "%s: checksum mismatch (corrupted)", what);
    picpq__reader_init(r, buf, len - PICPQ__STATE_CRC_BYTES);
    r->pos = PICPQ__STATE_HEADER_BYTES;
    return PICPQ_OK;
}
