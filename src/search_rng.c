/* Per-handle pseudo-random numbers for the search: xoshiro256** seeded by
 * splitmix64, uniform integers by rejection, normals by the Marsaglia polar
 * method with the second value cached. The whole state is the struct, so a
 * saved search resumes the same stream (docs/DESIGN.md, search section). */
#include "picpq_internal.h"

#include <math.h>

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* splitmix64: spreads any seed (even 0) over the 256-bit state; it never
 * yields four zero words, the one state xoshiro cannot leave. */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

void picpq__rng_seed(picpq__rng *r, uint64_t seed)
{
    int i;
    for (i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
    r->spare = 0.0;
    r->has_spare = 0;
}

uint64_t picpq__rng_next(picpq__rng *r)
{
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double picpq__rng_uniform(picpq__rng *r)
{
    /* the top 53 bits: every double of the form k * 2^-53 in [0, 1) */
    return (double)(picpq__rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

uint64_t picpq__rng_below(picpq__rng *r, uint64_t n)
{
    /* Reject the lowest 2^64 mod n values so that x mod n is unbiased. */
    const uint64_t threshold = (0 - n) % n;
    uint64_t x;
    do x = picpq__rng_next(r);
    while (x < threshold);
    return x % n;
}

double picpq__rng_normal(picpq__rng *r)
{
    double u, v, q, m;
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    do {
        u = 2.0 * picpq__rng_uniform(r) - 1.0;
        v = 2.0 * picpq__rng_uniform(r) - 1.0;
        q = u * u + v * v;
    } while (q >= 1.0 || q == 0.0);
    m = sqrt(-2.0 * log(q) / q);
    r->spare = v * m;
    r->has_spare = 1;
    return u * m;
}

int picpq__rng_valid(const picpq__rng *r)
{
    return (r->s[0] | r->s[1] | r->s[2] | r->s[3]) != 0 &&
           (r->has_spare == 0 || r->has_spare == 1) && isfinite(r->spare);
}
