/* The integer GEMM of convolutions on codes with AVX-512 VNNI (vpdpbusd:
 * 16 lanes, each the sum of 4 uint8 activation × int8 weight products into
 * int32, 64 multiply-adds an instruction), chosen at run time when the CPU
 * and the OS have it. Integer sums are exact, so it gives the portable
 * kernel's results bit for bit. Elsewhere (other CPUs, other compilers, the
 * Cortex-M build) picpq__gemm_codes_vnni reports it is not there. */
#include "picpq_internal.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(PICPQ_NO_VNNI)
#include <immintrin.h>

#define VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))

static int vnni_off; /* tests compare the two kernels (picpq__vnni_enable) */

void picpq__vnni_enable(int on)
{
    vnni_off = !on;
}

int picpq__vnni_available(void)
{
    return !vnni_off && __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw");
}

/* B (k x n, uint8; row p at b[p], n bytes) as groups of 4 rows interleaved per column:
 * [k4][n16][4], zero beyond k and n (zero activations add nothing). */
VNNI static void pack_b(int64_t n, int64_t k, const uint8_t *const *b, uint8_t *out, int64_t n16)
{
    const int64_t k4 = (k + 3) / 4;
    int64_t q, j, t;
    for (q = 0; q < k4; q++) {
        uint8_t *dst = out + q * n16 * 4;
        const uint8_t *r[4];
        static const uint8_t zeros[16];
        for (t = 0; t < 4; t++) r[t] = 4 * q + t < k ? b[4 * q + t] : NULL;
        for (j = 0; j + 16 <= n; j += 16) {
            const __m128i x0 = _mm_loadu_si128((const void *)(r[0] ? r[0] + j : zeros));
            const __m128i x1 = _mm_loadu_si128((const void *)(r[1] ? r[1] + j : zeros));
            const __m128i x2 = _mm_loadu_si128((const void *)(r[2] ? r[2] + j : zeros));
            const __m128i x3 = _mm_loadu_si128((const void *)(r[3] ? r[3] + j : zeros));
            const __m128i lo01 = _mm_unpacklo_epi8(x0, x1), hi01 = _mm_unpackhi_epi8(x0, x1);
            const __m128i lo23 = _mm_unpacklo_epi8(x2, x3), hi23 = _mm_unpackhi_epi8(x2, x3);
            _mm_storeu_si128((void *)(dst + 4 * j), _mm_unpacklo_epi16(lo01, lo23));
            _mm_storeu_si128((void *)(dst + 4 * j + 16), _mm_unpackhi_epi16(lo01, lo23));
            _mm_storeu_si128((void *)(dst + 4 * j + 32), _mm_unpacklo_epi16(hi01, hi23));
            _mm_storeu_si128((void *)(dst + 4 * j + 48), _mm_unpackhi_epi16(hi01, hi23));
        }
        for (; j < n16; j++)
            for (t = 0; t < 4; t++) dst[4 * j + t] = j < n && r[t] ? r[t][j] : 0;
    }
}

/* A (m x k, int8) with each row padded to k4 groups of 4 (zeros). */
static void pack_a(int64_t m, int64_t k, const int8_t *a, int8_t *out)
{
    const int64_t k4 = (k + 3) / 4;
    int64_t i;
    for (i = 0; i < m; i++) {
        memcpy(out + i * k4 * 4, a + i * k, (size_t)k);
        memset(out + i * k4 * 4 + k, 0, (size_t)(k4 * 4 - k));
    }
}

/* Rows i .. i + R − 1 of C over columns j .. j + 15 (mask: the columns < n). */
#define ROWS_KERNEL(R)                                                                     \
    VNNI static void rows##R(const int8_t *a, const uint8_t *bp, int32_t *c, int64_t n,    \
                             int64_t k4, int64_t n16, int64_t j, __mmask16 mask)           \
    {                                                                                      \
        __m512i acc[R];                                                                    \
        int64_t q;                                                                         \
        int r;                                                                             \
        for (r = 0; r < R; r++) acc[r] = _mm512_setzero_si512();                           \
        for (q = 0; q < k4; q++) {                                                         \
            const __m512i bv = _mm512_loadu_si512((const void *)(bp + (q * n16 + j) * 4)); \
            for (r = 0; r < R; r++) {                                                      \
                int32_t w;                                                                 \
                memcpy(&w, a + (r * k4 + q) * 4, 4);                                       \
                acc[r] = _mm512_dpbusd_epi32(acc[r], bv, _mm512_set1_epi32(w));            \
            }                                                                              \
        }                                                                                  \
        for (r = 0; r < R; r++) _mm512_mask_storeu_epi32(c + r * n + j, mask, acc[r]);     \
    }
ROWS_KERNEL(4)
ROWS_KERNEL(1)

int64_t picpq__gemm_codes_vnni_scratch(int64_t m, int64_t n, int64_t k)
{
    const int64_t k4 = (k + 3) / 4, n16 = (n + 15) / 16 * 16;
    return k4 * 4 * n16 + m * k4 * 4;
}

int picpq__gemm_codes_vnni(int64_t m, int64_t n, int64_t k, const int8_t *a,
                           const uint8_t *const *b, int32_t *c, uint8_t *scratch)
{
    const int64_t k4 = (k + 3) / 4, n16 = (n + 15) / 16 * 16;
    uint8_t *bp = scratch;
    int8_t *ap = (int8_t *)(scratch + k4 * 4 * n16);
    int64_t i, j;
    if (!picpq__vnni_available()) return 0;
    pack_b(n, k, b, bp, n16);
    pack_a(m, k, a, ap);
    for (j = 0; j < n; j += 16) {
        const __mmask16 mask = n - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - j)) - 1);
        for (i = 0; i + 4 <= m; i += 4) rows4(ap + i * k4 * 4, bp, c + i * n, n, k4, n16, j, mask);
        for (; i < m; i++) rows1(ap + i * k4 * 4, bp, c + i * n, n, k4, n16, j, mask);
    }
    return 1;
}

int32_t picpq__direct_groups(const picpq__model_op *o)
{
    if (!picpq__vnni_available() || o->sh != 1 || o->sw != 1 || o->groups != 1) return 0;
    return (int32_t)((o->in_c + 3) / 4);
}

void picpq__direct_input(const picpq__model_op *o, const uint8_t *flat, uint8_t *tmp,
                         const uint8_t **rows, uint8_t *pad)
{
    const int64_t n = o->in_h * o->in_w, n16 = (n + 15) / 16 * 16;
    const int64_t hp = o->in_h + 2 * o->ph, wp = o->in_w + 2 * o->pw;
    int64_t c, iy;
    for (c = 0; c < o->in_c; c++) rows[c] = flat + c * n;
    pack_b(n, o->in_c, rows, tmp, n16); /* [c4][n16][4]: the interleave, unpadded */
    memset(pad, 0, (size_t)(o->c4 * 4 * hp * wp + 4 * o->kw));
    for (c = 0; c < o->c4; c++)
        for (iy = 0; iy < o->in_h; iy++)
            memcpy(pad + ((c * hp + iy + o->ph) * wp + o->pw) * 4,
                   tmp + (c * n16 + iy * o->in_w) * 4, (size_t)(o->in_w * 4));
}

/* Output channels r0 .. r0 + R − 1 over the 16 sums from column j0 (mask: those < n). */
#define DIRECT_KERNEL(R)                                                                    \
    VNNI static void direct##R(const picpq__model_op *o, const int8_t *a, const uint8_t *b, \
                               int32_t *c, int64_t n, int64_t j0, __mmask16 mask)           \
    {                                                                                       \
        const int64_t wp = o->in_w + 2 * o->pw, plane = (o->in_h + 2 * o->ph) * wp * 4;     \
        const int64_t kq = (int64_t)o->kh * o->kw * o->c4;                                  \
        __m512i acc[R];                                                                     \
        int64_t i, j, g, q = 0;                                                             \
        int r;                                                                              \
        for (r = 0; r < R; r++) acc[r] = _mm512_setzero_si512();                            \
        for (i = 0; i < o->kh; i++)                                                         \
            for (j = 0; j < o->kw; j++) {                                                   \
                const uint8_t *bt = b + (i * wp + j + j0) * 4;                              \
                for (g = 0; g < o->c4; g++, q++) {                                          \
                    const __m512i bv = _mm512_maskz_loadu_epi32(mask, bt + g * plane);      \
                    for (r = 0; r < R; r++) {                                               \
                        int32_t w;                                                          \
                        memcpy(&w, a + (r * kq + q) * 4, 4);                                \
                        acc[r] = _mm512_dpbusd_epi32(acc[r], bv, _mm512_set1_epi32(w));     \
                    }                                                                       \
                }                                                                           \
            }                                                                               \
        for (r = 0; r < R; r++) _mm512_mask_storeu_epi32(c + r * n + j0, mask, acc[r]);     \
    }
DIRECT_KERNEL(4)
DIRECT_KERNEL(1)

VNNI void picpq__direct_gemm(const picpq__model_op *o, const uint8_t *pad, int64_t y0, int64_t rows,
                             int32_t *c)
{
    const int64_t wp = o->in_w + 2 * o->pw, n = rows * wp;
    const int64_t row_bytes = (int64_t)o->kh * o->kw * o->c4 * 4;
    const uint8_t *b = pad + y0 * wp * 4;
    int64_t r, j0;
    for (j0 = 0; j0 < n; j0 += 16) {
        const __mmask16 mask = n - j0 >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - j0)) - 1);
        for (r = 0; r + 4 <= o->c; r += 4)
            direct4(o, o->codes + r * row_bytes, b, c + r * n, n, j0, mask);
        for (; r < o->c; r++) direct1(o, o->codes + r * row_bytes, b, c + r * n, n, j0, mask);
    }
}

#else

int32_t picpq__direct_groups(const picpq__model_op *o)
{
    (void)o;
    return 0;
}

void picpq__direct_input(const picpq__model_op *o, const uint8_t *flat, uint8_t *tmp,
                         const uint8_t **rows, uint8_t *pad)
{
    (void)o, (void)flat, (void)tmp, (void)rows, (void)pad;
}

void picpq__direct_gemm(const picpq__model_op *o, const uint8_t *pad, int64_t y0, int64_t rows,
                        int32_t *c)
{
    (void)o, (void)pad, (void)y0, (void)rows, (void)c;
}

void picpq__vnni_enable(int on)
{
    (void)on;
}

int picpq__vnni_available(void)
{
    return 0;
}

int64_t picpq__gemm_codes_vnni_scratch(int64_t m, int64_t n, int64_t k)
{
    (void)m, (void)n, (void)k;
    return 0;
}

int picpq__gemm_codes_vnni(int64_t m, int64_t n, int64_t k, const int8_t *a,
                           const uint8_t *const *b, int32_t *c, uint8_t *scratch)
{
    (void)m, (void)n, (void)k, (void)a, (void)b, (void)c, (void)scratch;
    return 0;
}

#endif
