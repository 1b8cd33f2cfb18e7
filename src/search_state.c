/* Save and load a search: format 3, a versioned little-endian blob with a
 * CRC-32 (codec.c), holding everything a resumed search needs to continue
 * bit-identically. Every genome is stored plainly (its a and b doubles), so
 * that neither the generator's draw order nor the loading machine's libm
 * takes part in decoding, and save and load are linear in the state. The
 * layout is documented in docs/FORMATS.md; keep the two in step. */
#include "picpq_internal.h"

#include <math.h>
#include <string.h>

static const unsigned char MAGIC[8] = {'P', 'Q', 'S', 'E', 'A', 'R', 'C', 'H'};
#define FORMAT_VERSION 3u
#define WHAT "search state"
#define OLD_HINT                                                                     \
    "format 1 stored genomes as references replayed from the seed, format 2 had no " \
    "repeat counter; finish that search with the libpicpq that saved it, or start a new one"

/* Bytes of the blob before the population: header, net, parameters,
 * generator, counters. */
static int64_t fixed_bytes(int32_t L)
{
    return PICPQ__STATE_HEADER_BYTES + 8 + 20 * (int64_t)L + 4 /* net */ + 72 /* params */ + 8 +
           44 /* seed, rng */ + 48 /* counters */;
}

/* Bytes of the blob from the population on, for these counters; 0 when
 * they overflow (only a forged blob's can). */
static int64_t tail_bytes(int32_t L, int64_t filled, int has_best, int64_t pending, int64_t told)
{
    const int64_t genome = 16 * (int64_t)L;
    int64_t a, b, c, total;
    if (!picpq__mul_i64(filled, 8 + genome, &a) || !picpq__mul_i64(pending, 8 + genome, &b) ||
        !picpq__mul_i64(told, 8, &c) || !picpq__add_i64(a, b, &total) ||
        !picpq__add_i64(total, c, &total) ||
        !picpq__add_i64(total, 4 + 8 + PICPQ__STATE_CRC_BYTES + (has_best ? 16 + genome : 0),
                        &total))
        return 0;
    return total;
}

/* ---- writing ---------------------------------------------------------- */

static void put_genome(picpq__writer *w, const picpq_search *s, const double *genes)
{
    picpq__put_f64s(w, genes, 2 * (int64_t)s->L);
}

static void write_state(const picpq_search *s, picpq__writer *w)
{
    int64_t i;
    int k;
    /* the net it belongs to */
    picpq__put_u32(w, (uint32_t)s->n_layers);
    picpq__put_u32(w, (uint32_t)s->L);
    for (i = 0; i < s->L; i++) {
        picpq__put_u32(w, (uint32_t)s->layer_of[i]);
        picpq__put_i64(w, s->channels[i]);
        picpq__put_f64(w, s->std[i]);
    }
    picpq__put_u32(w, s->scores_crc);
    /* parameters */
    picpq__put_i64(w, s->population);
    picpq__put_i64(w, s->sample);
    picpq__put_i64(w, s->generations);
    picpq__put_i64(w, s->identity);
    picpq__put_i64(w, s->max_repeats);
    picpq__put_f64(w, s->sigma);
    picpq__put_f64(w, s->mutate_fraction);
    picpq__put_f64(w, s->anneal);
    picpq__put_f64(w, s->shift_scale);
    /* generator */
    picpq__put_u64(w, s->seed);
    for (k = 0; k < 4; k++) picpq__put_u64(w, s->rng.s[k]);
    picpq__put_f64(w, s->rng.spare);
    picpq__put_u32(w, (uint32_t)s->rng.has_spare);
    /* progress and population */
    picpq__put_i64(w, s->issued);
    picpq__put_i64(w, s->told);
    picpq__put_i64(w, s->failed);
    picpq__put_i64(w, s->repeats);
    picpq__put_i64(w, s->filled);
    picpq__put_i64(w, s->oldest);
    for (i = 0; i < s->filled; i++) {
        picpq__put_f64(w, s->pop_loss[i]);
        put_genome(w, s, picpq__search_member(s, i));
    }
    picpq__put_u32(w, (uint32_t)s->has_best);
    if (s->has_best) {
        picpq__put_u64(w, s->best_id);
        picpq__put_f64(w, s->best_loss);
        put_genome(w, s, s->best);
    }
    picpq__put_i64(w, s->n_pending);
    for (i = 0; i < s->n_pending; i++) {
        picpq__put_u64(w, s->pending[i].id);
        put_genome(w, s, s->pending[i].genes);
    }
    picpq__put_f64s(w, s->history, s->told);
}

picpq_status picpq_search_save(const picpq_search *s, void *buf, size_t cap, size_t *needed)
{
    picpq__writer w;
    size_t total;
    picpq__clear_error();
    PICPQ__REQUIRE(s, "s");
    PICPQ__REQUIRE(needed, "needed");
    /* every term is bounded by what the handle holds in memory: no overflow */
    total = (size_t)(fixed_bytes(s->L) +
                     tail_bytes(s->L, s->filled, s->has_best, s->n_pending, s->told));
    *needed = total;
    if (buf == NULL) return PICPQ_OK;
    if (cap < total)
        return picpq__fail(PICPQ_E_BUFFER, "cap = %zu bytes, the state needs %zu", cap, total);
    picpq__state_begin(&w, buf, total, MAGIC, FORMAT_VERSION);
    write_state(s, &w);
    return picpq__state_end(&w, WHAT);
}

/* ---- reading ---------------------------------------------------------- */

#define BAD(...) picpq__fail(PICPQ_E_FORMAT, WHAT ": " __VA_ARGS__)

/* NaN is the one value no search produces (a loss is told, never a gene). */
static int get_genome(picpq__reader *r, const picpq_search *s, double *genes)
{
    int64_t i;
    picpq__get_f64s(r, genes, 2 * (int64_t)s->L);
    for (i = 0; i < 2 * (int64_t)s->L; i++)
        if (isnan(genes[i])) return 0;
    return !r->short_read;
}

/* The blob must describe the same prunable layers, channels and FP scores. */
static picpq_status read_net_fingerprint(picpq__reader *r, const picpq_search *s)
{
    int32_t i;
    if (picpq__get_u32(r) != (uint32_t)s->n_layers || picpq__get_u32(r) != (uint32_t)s->L)
        return BAD("saved for a net with a different number of layers or prunable layers");
    for (i = 0; i < s->L; i++) {
        uint32_t layer = picpq__get_u32(r);
        int64_t ch = picpq__get_i64(r);
        double sd = picpq__get_f64(r);
        if (layer != (uint32_t)s->layer_of[i] || ch != s->channels[i] ||
            memcmp(&sd, &s->std[i], sizeof sd) != 0)
            return BAD("saved for a different net (prunable layer %d differs)", (int)i);
    }
    if (picpq__get_u32(r) != s->scores_crc) return BAD("saved for a net with different FP scores");
    return r->short_read ? BAD("truncated net description") : PICPQ_OK;
}

static picpq_status read_params(picpq__reader *r, picpq_search *s)
{
    uint32_t has_spare;
    int k;
    s->population = picpq__get_i64(r);
    s->sample = picpq__get_i64(r);
    s->generations = picpq__get_i64(r);
    s->identity = picpq__get_i64(r);
    s->max_repeats = picpq__get_i64(r);
    s->sigma = picpq__get_f64(r);
    s->mutate_fraction = picpq__get_f64(r);
    s->anneal = picpq__get_f64(r);
    s->shift_scale = picpq__get_f64(r);
    s->seed = picpq__get_u64(r);
    for (k = 0; k < 4; k++) s->rng.s[k] = picpq__get_u64(r);
    s->rng.spare = picpq__get_f64(r);
    has_spare = picpq__get_u32(r);
    s->rng.has_spare = has_spare > 1 ? 2 : (int)has_spare; /* 2 fails picpq__rng_valid */
    if (r->short_read) return BAD("truncated parameters");
    if (!picpq__param_all_ok(s, PICPQ_SEARCH_POPULATION /* the 4xx group */))
        return BAD("a parameter is outside its range");
    if (!picpq__rng_valid(&s->rng)) return BAD("invalid generator state");
    return PICPQ_OK;
}

/* Candidates told that joined the population (neither failed nor dropped). */
static int64_t members_told(const picpq_search *s)
{
    return s->told - s->failed - s->repeats;
}

/* The counters, then the exact size of everything after them: the arrays
 * are allocated only once the buffer is known to hold them. */
static picpq_status read_counters(picpq__reader *r, picpq_search *s)
{
    int64_t expected;
    s->issued = picpq__get_i64(r);
    s->told = picpq__get_i64(r);
    s->failed = picpq__get_i64(r);
    s->repeats = picpq__get_i64(r);
    s->filled = picpq__get_i64(r);
    s->oldest = picpq__get_i64(r);
    if (r->short_read) return BAD("truncated counters");
    if (s->repeats < 0 || s->repeats > picpq__search_max_repeats(s) || s->issued < 0 ||
        s->issued - s->repeats > s->generations || s->told < 0 || s->told > s->issued ||
        s->failed < 0 || s->failed > s->told - s->repeats)
        return BAD("inconsistent counters (issued %lld, told %lld, failed %lld, repeats %lld)",
                   (long long)s->issued, (long long)s->told, (long long)s->failed,
                   (long long)s->repeats);
    if (s->filled < 0 || s->filled > s->population ||
        s->filled > s->told - s->failed - s->repeats || s->oldest < 0 ||
        s->oldest >= s->population || (s->filled < s->population && s->oldest != 0))
        return BAD("inconsistent population (filled %lld, oldest %lld)", (long long)s->filled,
                   (long long)s->oldest);
    expected = tail_bytes(s->L, s->filled, members_told(s) > 0, s->issued - s->told, s->told);
    if (expected == 0 ||
        (uint64_t)expected != (uint64_t)picpq__reader_left(r) + PICPQ__STATE_CRC_BYTES)
        return BAD("the counters describe %lld more bytes, the buffer has %zu", (long long)expected,
                   picpq__reader_left(r) + PICPQ__STATE_CRC_BYTES);
    return PICPQ_OK;
}

static picpq_status read_population(picpq__reader *r, picpq_search *s)
{
    int64_t i;
    uint32_t has_best;
    for (i = 0; i < s->filled; i++) {
        s->pop_loss[i] = picpq__get_f64(r);
        if (!isfinite(s->pop_loss[i]) || !get_genome(r, s, picpq__search_member(s, i)))
            return BAD("member %lld is invalid", (long long)i);
    }
    has_best = picpq__get_u32(r);
    if (has_best > 1 || (int64_t)has_best != (members_told(s) > 0))
        return BAD("best flag %lu disagrees with the counters", (unsigned long)has_best);
    s->has_best = (int)has_best;
    if (has_best) {
        s->best_id = picpq__get_u64(r);
        s->best_loss = picpq__get_f64(r);
        if (s->best_id < 1 || s->best_id > (uint64_t)s->issued || !isfinite(s->best_loss) ||
            !get_genome(r, s, s->best))
            return BAD("invalid best candidate");
    }
    return r->short_read ? BAD("truncated population") : PICPQ_OK;
}

static picpq_status read_pending(picpq__reader *r, picpq_search *s)
{
    int64_t n = picpq__get_i64(r), i;
    if (r->short_read || n != s->issued - s->told)
        return BAD("%lld pending candidates, the counters say %lld", (long long)n,
                   (long long)(s->issued - s->told));
    for (i = 0; i < n; i++) {
        uint64_t id = picpq__get_u64(r);
        uint64_t prev = i > 0 ? s->pending[i - 1].id : 0;
        if (r->short_read) return BAD("truncated pending candidate %lld", (long long)i);
        if (id <= prev || id > (uint64_t)s->issued)
            return BAD("pending candidate %lld has an invalid id", (long long)i);
        s->pending[i].genes = picpq__malloc(&s->alloc, picpq__search_genome_bytes(s));
        if (s->pending[i].genes == NULL)
            return picpq__fail(PICPQ_E_NOMEM, "search: no memory for pending candidate %lld",
                               (long long)i);
        s->pending[i].id = id;
        s->n_pending = i + 1; /* owned from here on, freed with the handle */
        if (!get_genome(r, s, s->pending[i].genes))
            return BAD("pending candidate %lld is invalid", (long long)i);
    }
    picpq__get_f64s(r, s->history, s->told);
    if (r->short_read) return BAD("truncated history");
    if (picpq__reader_left(r) != 0)
        return BAD("%zu unexpected trailing bytes", picpq__reader_left(r));
    return PICPQ_OK;
}

picpq_status picpq_search_load_ex(const picpq_net *net, const void *buf, size_t len,
                                  const picpq_allocator *alloc, picpq_search **out)
{
    picpq_search *s = NULL;
    picpq__reader r;
    picpq_status st;
    picpq__clear_error();
    PICPQ__REQUIRE(out, "out");
    *out = NULL;
    PICPQ__REQUIRE(net, "net");
    PICPQ__REQUIRE(buf, "buf");
    st = picpq__state_read(&r, buf, len, MAGIC, FORMAT_VERSION,
                           PICPQ__STATE_HEADER_BYTES + PICPQ__STATE_CRC_BYTES, WHAT, OLD_HINT);
    if (st != PICPQ_OK) return st;
    if ((st = picpq_search_create_ex(net, 0, alloc, &s)) != PICPQ_OK) return st;
    if ((st = read_net_fingerprint(&r, s)) == PICPQ_OK && (st = read_params(&r, s)) == PICPQ_OK &&
        (st = read_counters(&r, s)) == PICPQ_OK &&
        (s->issued == 0 || (st = picpq__search_reserve(s, s->issued - s->told)) == PICPQ_OK) &&
        (st = read_population(&r, s)) == PICPQ_OK)
        st = read_pending(&r, s);
    if (st != PICPQ_OK) {
        picpq__search_destroy(s);
        return st;
    }
    *out = s;
    return PICPQ_OK;
}

picpq_status picpq_search_load(const picpq_net *net, const void *buf, size_t len,
                               picpq_search **out)
{
    return picpq_search_load_ex(net, buf, len, NULL, out);
}
