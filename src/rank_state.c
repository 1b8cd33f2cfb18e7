/* Save and load a ranker: a versioned little-endian blob with a CRC-32,
 * holding the integer rank sums, image counts, parameters and statistics,
 * so that shards of a calibration run in other processes merge exactly.
 * The layout is documented in docs/FORMATS.md ("Ranker state"); keep the
 * two in step. Scratch is not saved: feed regrows it on demand. */
#include "picpq_internal.h"

static const unsigned char MAGIC[8] = {'P', 'Q', 'R', 'A', 'N', 'K', 'E', 'R'};
#define FORMAT_VERSION 1u
#define FIXED_BYTES 44 /* n_layers, threads, atol, rtol, certified, fallback */
#define PICPQ__RANK_STATS_MAX (INT64_C(1) << 62) /* certified + fallback maps */

/* ---- writing ---------------------------------------------------------- */

/* Blob size for n_layers layers and `filters` filters in all. The ranker
 * already holds 8 bytes per layer and per filter in memory, so the sum
 * cannot overflow for a ranker that exists; the loader checks it. */
static int blob_size(int64_t n_layers, int64_t filters, size_t *size)
{
    int64_t words, bytes;
    if (!picpq__add_i64(2 * n_layers, filters, &words) || !picpq__mul_i64(words, 8, &bytes) ||
        !picpq__add_i64(bytes, PICPQ__STATE_HEADER_BYTES + FIXED_BYTES + PICPQ__STATE_CRC_BYTES,
                        &bytes))
        return 0;
    return picpq__i64_to_size(bytes, size);
}

static picpq_status write_state(const picpq_ranker *rk, void *buf, size_t total)
{
    const int64_t filters = picpq__ranker_total_filters(rk);
    picpq__writer w;
    int64_t i;
    picpq__state_begin(&w, buf, total, MAGIC, FORMAT_VERSION);
    picpq__put_u32(&w, (uint32_t)rk->n_layers);
    for (i = 0; i < rk->n_layers; i++) picpq__put_i64(&w, rk->channels[i]);
    picpq__put_i64(&w, rk->threads);
    picpq__put_f64(&w, rk->atol);
    picpq__put_f64(&w, rk->rtol);
    picpq__put_i64(&w, rk->n_fast);
    picpq__put_i64(&w, rk->n_fallback);
    for (i = 0; i < rk->n_layers; i++) picpq__put_i64(&w, rk->images[i]);
    for (i = 0; i < filters; i++) picpq__put_i64(&w, rk->sums[i]);
    return picpq__state_end(&w, "ranker state");
}

picpq_status picpq_ranker_save(const picpq_ranker *rk, void *buf, size_t cap, size_t *needed)
{
    size_t total;
    picpq__clear_error();
    PICPQ__REQUIRE(rk, "rk");
    PICPQ__REQUIRE(needed, "needed");
    if (!blob_size(rk->n_layers, picpq__ranker_total_filters(rk), &total))
        return picpq__fail(PICPQ_E_INTERNAL, "ranker: state size overflows");
    *needed = total;
    if (buf == NULL) return PICPQ_OK;
    if (cap < total)
        return picpq__fail(PICPQ_E_BUFFER, "cap = %zu bytes, the state needs %zu", cap, total);
    return write_state(rk, buf, total);
}

/* ---- reading ---------------------------------------------------------- */

#define BAD(...) picpq__fail(PICPQ_E_FORMAT, "ranker state: " __VA_ARGS__)

/* Channel counts: each >= 1, and together exactly as many sums as the
 * buffer holds (checked before anything is allocated). */
static picpq_status read_channels(picpq__reader r, size_t len, int32_t *n_layers)
{
    const size_t body = len - PICPQ__STATE_HEADER_BYTES - FIXED_BYTES - PICPQ__STATE_CRC_BYTES;
    uint32_t n = picpq__get_u32(&r), l;
    size_t expected;
    int64_t total = 0;
    if (n < 1 || n > INT32_MAX || (size_t)n > body / 16)
        return BAD("%lu layers do not fit in %zu bytes", (unsigned long)n, len);
    for (l = 0; l < n; l++) {
        const int64_t ch = picpq__get_i64(&r);
        if (ch < 1) return BAD("layer %lu has %lld channels", (unsigned long)l, (long long)ch);
        if (!picpq__add_i64(total, ch, &total) || (uint64_t)total > (uint64_t)(body / 8))
            return BAD("the channel counts promise more sums than the buffer holds");
    }
    if (!blob_size(n, total, &expected) || expected != len)
        return BAD("%lld filters need %zu bytes, the buffer has %zu", (long long)total, expected,
                   len);
    *n_layers = (int32_t)n;
    return PICPQ_OK;
}

/* Parameters, statistics, counts and sums into a fresh ranker rk (whose
 * channels came from the blob). r is just past the channel counts. */
static picpq_status read_body(picpq__reader *r, picpq_ranker *rk)
{
    const int64_t filters = picpq__ranker_total_filters(rk);
    int64_t i;
    rk->threads = picpq__get_i64(r);
    rk->atol = picpq__get_f64(r);
    rk->rtol = picpq__get_f64(r);
    rk->n_fast = picpq__get_i64(r);
    rk->n_fallback = picpq__get_i64(r);
    if (!picpq__param_all_ok(rk, PICPQ_RANK_THREADS /* the 2xx group */))
        return BAD("a parameter is outside its range");
    if (rk->n_fast < 0 || rk->n_fallback < 0) return BAD("negative statistics counters");
    /* feed adds one per map it ranks to these counters unchecked; 2^62
     * maps (at least 2^64 bytes of input) are beyond any run, so the rest
     * of the range can never be used up and the sums cannot overflow */
    if (rk->n_fast > PICPQ__RANK_STATS_MAX - rk->n_fallback)
        return BAD("statistics counters %lld + %lld exceed 2^62 maps", (long long)rk->n_fast,
                   (long long)rk->n_fallback);
    for (i = 0; i < rk->n_layers; i++) {
        rk->images[i] = picpq__get_i64(r);
        if (rk->images[i] < 0) return BAD("layer %lld has a negative image count", (long long)i);
    }
    for (i = 0; i < filters; i++) {
        rk->sums[i] = picpq__get_i64(r);
        if (rk->sums[i] < 0) return BAD("filter %lld has a negative rank sum", (long long)i);
    }
    /* a layer without images has nothing to sum */
    for (i = 0; i < rk->n_layers; i++) {
        int64_t c;
        for (c = 0; rk->images[i] == 0 && c < rk->channels[i]; c++)
            if (rk->sums[rk->first[i] + c] != 0)
                return BAD("layer %lld has a rank sum but no image", (long long)i);
    }
    return PICPQ_OK;
}

picpq_status picpq_ranker_load_ex(const void *buf, size_t len, const picpq_allocator *alloc,
                                  picpq_ranker **out)
{
    picpq__reader r;
    picpq_allocator a;
    picpq_ranker *rk = NULL;
    int64_t *channels;
    int32_t n_layers = 0, l;
    picpq_status st;
    picpq__clear_error();
    PICPQ__REQUIRE(out, "out");
    *out = NULL;
    PICPQ__REQUIRE(buf, "buf");
    if ((st = picpq__allocator_init(&a, alloc)) != PICPQ_OK) return st;
    st = picpq__state_read(&r, buf, len, MAGIC, FORMAT_VERSION,
                           PICPQ__STATE_HEADER_BYTES + FIXED_BYTES + PICPQ__STATE_CRC_BYTES,
                           "ranker state", NULL);
    if (st != PICPQ_OK) return st;
    if ((st = read_channels(r, len, &n_layers)) != PICPQ_OK) return st;
    channels = picpq__calloc(&a, (size_t)n_layers, sizeof *channels);
    if (channels == NULL) return picpq__fail(PICPQ_E_NOMEM, "ranker: out of memory");
    (void)picpq__get_u32(&r); /* the layer count, validated by read_channels */
    for (l = 0; l < n_layers; l++) channels[l] = picpq__get_i64(&r);
    st = picpq_ranker_create_ex(n_layers, channels, alloc, &rk);
    picpq__free(&a, channels);
    if (st != PICPQ_OK) return st;
    if ((st = read_body(&r, rk)) != PICPQ_OK) {
        picpq_ranker_free(rk);
        return st;
    }
    *out = rk;
    return PICPQ_OK;
}

picpq_status picpq_ranker_load(const void *buf, size_t len, picpq_ranker **out)
{
    return picpq_ranker_load_ex(buf, len, NULL, out);
}
