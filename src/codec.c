/* The envelope shared by every saved state (docs/FORMATS.md): magic,
 * version, flags, total length, body, CRC-32 (IEEE 802.3, reflected
 * polynomial 0xEDB88320, as zlib's crc32; a 16-entry table: small, constant,
 * and fast enough for saved states). */
#include "picpq_internal.h"

#include <string.h>

static const uint32_t nibble_table[16] = {
    0x00000000u, 0x1db71064u, 0x3b6e20c8u, 0x26d930acu, 0x76dc4190u, 0x6b6b51f4u,
    0x4db26158u, 0x5005713cu, 0xedb88320u, 0xf00f9344u, 0xd6d6a3e8u, 0xcb61b38cu,
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

void picpq__le_put(unsigned char *p, uint64_t v, int bytes)
{
    int i;
    for (i = 0; i < bytes; i++) p[i] = (unsigned char)(v >> (8 * i));
}

uint64_t picpq__le_get(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    int i;
    for (i = bytes - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

uint64_t picpq__f64_bits(double v)
{
    uint64_t u;
    memcpy(&u, &v, 8); /* IEEE 754 binary64, stored as its little-endian bits */
    return u;
}

double picpq__f64_from_bits(uint64_t u)
{
    double v;
    memcpy(&v, &u, 8);
    return v;
}

void picpq__state_open(unsigned char *buf, const unsigned char magic[8], uint32_t version,
                       size_t total)
{
    memcpy(buf, magic, 8);
    picpq__le_put(buf + 8, version, 4);
    picpq__le_put(buf + 12, 0, 4); /* flags */
    picpq__le_put(buf + 16, (uint64_t)total, 8);
}

void picpq__state_seal(unsigned char *buf, size_t total)
{
    picpq__le_put(buf + total - 4, picpq__crc32(0, buf, total - 4), 4);
}

picpq_status picpq__state_check(const unsigned char *p, size_t len, const unsigned char magic[8],
                                uint32_t version, size_t min_len, const char *what)
{
    uint64_t got_version, flags, total;
    if (len < min_len) return picpq__fail(PICPQ_E_FORMAT, "%s: truncated (%zu bytes)", what, len);
    if (memcmp(p, magic, 8) != 0)
        return picpq__fail(PICPQ_E_FORMAT, "%s: bad magic: not a libpicpq %s", what, what);
    got_version = picpq__le_get(p + 8, 4);
    flags = picpq__le_get(p + 12, 4);
    total = picpq__le_get(p + 16, 8);
    if (got_version != version)
        return picpq__fail(PICPQ_E_FORMAT,
                           "%s: format version %lu is not supported (this library reads %lu)",
                           what, (unsigned long)got_version, (unsigned long)version);
    if (flags != 0) return picpq__fail(PICPQ_E_FORMAT, "%s: unknown flags 0x%lx", what,
                                       (unsigned long)flags);
    if (total != (uint64_t)len)
        return picpq__fail(PICPQ_E_FORMAT,
                           "%s: the header says %llu bytes, the buffer has %zu (truncated or "
                           "padded)", what, (unsigned long long)total, len);
    if (picpq__le_get(p + len - 4, 4) != picpq__crc32(0, p, len - 4))
        return picpq__fail(PICPQ_E_FORMAT, "%s: checksum mismatch (corrupted)", what);
    return PICPQ_OK;
}
