/* Save and load a search: a versioned little-endian blob with a CRC-32,
 * holding everything a resumed search needs to continue bit-identically.
 * The layout is documented in docs/FORMATS.md; keep the two in step. */
#include "picpq_internal.h"

#include <math.h>
#include <string.h>

static const unsigned char MAGIC[8] = {'P', 'Q', 'S', 'E', 'A', 'R', 'C', 'H'};
#define FORMAT_VERSION 1u
#define HEADER_BYTES 24 /* magic, version, flags, total length */
#define CRC_BYTES 4

/* ---- writing ---------------------------------------------------------- */

typedef struct writer {
    unsigned char *p;
    size_t pos;
} writer;

static void put_u64(writer *w, uint64_t v)
{
    picpq__le_put(w->p + w->pos, v, 8);
    w->pos += 8;
}

static void put_u32(writer *w, uint32_t v)
{
    picpq__le_put(w->p + w->pos, v, 4);
    w->pos += 4;
}

static void put_i64(writer *w, int64_t v)
{
    put_u64(w, (uint64_t)v);
}

static void put_f64(writer *w, double v)
{
    put_u64(w, picpq__f64_bits(v));
}

static void put_f64s(writer *w, const double *v, int64_t n)
{
    int64_t i;
    for (i = 0; i < n; i++) put_f64(w, v[i]);
}

/* Unsigned LEB128: 7 bits a byte, low first, high bit = more follows. */
static void put_varint(writer *w, uint64_t v)
{
    while (v >= 0x80u) {
        w->p[w->pos++] = (unsigned char)(v | 0x80u);
        v >>= 7;
    }
    w->p[w->pos++] = (unsigned char)v;
}

static int64_t varint_size(uint64_t v)
{
    int64_t n = 1;
    while (v >= 0x80u) v >>= 7, n++;
    return n;
}

/* Genomes in save order: members 0..filled-1, the best, the pending. */
static double *genome_at(const picpq_search *s, int64_t idx)
{
    if (idx < s->filled) return picpq__search_member(s, idx);
    if (s->has_best && idx == s->filled) return s->best;
    return s->pending[idx - s->filled - s->has_best].genes;
}

/* The code of layer l of genome idx: 0 = a new pair (a, b follow);
 * odd 2g+1 = the pair of initial member g (regenerated at load);
 * even 2(m+1) = the same pair as genome m < idx (its first occurrence). */
static uint64_t cell_code(const picpq_search *s, int64_t idx, int32_t l)
{
    const uint64_t o = picpq__search_origins(s, genome_at(s, idx))[l];
    int64_t m;
    if (o & PICPQ__ORIGIN_INITIAL) return 2 * (o & ~PICPQ__ORIGIN_INITIAL) + 1;
    for (m = 0; m < idx; m++) /* quadratic in the genomes: fine for populations of hundreds */
        if (picpq__search_origins(s, genome_at(s, m))[l] == o) return 2 * ((uint64_t)m + 1);
    return 0;
}

static int64_t genome_size(const picpq_search *s, int64_t idx)
{
    int64_t n = 0;
    int32_t l;
    for (l = 0; l < s->L; l++) {
        uint64_t c = cell_code(s, idx, l);
        n += varint_size(c) + (c == 0 ? 16 : 0);
    }
    return n;
}

static void put_genome(writer *w, const picpq_search *s, int64_t idx)
{
    const double *genes = genome_at(s, idx);
    int32_t l;
    for (l = 0; l < s->L; l++) {
        uint64_t c = cell_code(s, idx, l);
        put_varint(w, c);
        if (c == 0) {
            put_f64(w, genes[l]);
            put_f64(w, genes[s->L + l]);
        }
    }
}

/* Size of the blob. */
static size_t state_size(const picpq_search *s)
{
    int64_t total = HEADER_BYTES + 8 + 20 * (int64_t)s->L + 4 /* net */ + 64 /* params */ +
                    8 + 44 /* seed, rng */ + 40 /* counters */ + 4 + 8 /* best flag, pending count */ +
                    8 * s->told /* history */ + CRC_BYTES;
    const int64_t genomes = s->filled + s->has_best + s->n_pending;
    int64_t i;
    for (i = 0; i < genomes; i++) total += genome_size(s, i);
    total += 8 * s->filled + (s->has_best ? 16 : 0) + 8 * s->n_pending;
    return (size_t)total;
}

static void write_state(const picpq_search *s, writer *w, size_t total)
{
    int64_t i;
    int k;
    picpq__state_open(w->p, MAGIC, FORMAT_VERSION, total);
    w->pos = HEADER_BYTES;
    /* the net it belongs to */
    put_u32(w, (uint32_t)s->n_layers);
    put_u32(w, (uint32_t)s->L);
    for (i = 0; i < s->L; i++) {
        put_u32(w, (uint32_t)s->layer_of[i]);
        put_i64(w, s->channels[i]);
        put_f64(w, s->std[i]);
    }
    put_u32(w, s->scores_crc);
    /* parameters */
    put_i64(w, s->population);
    put_i64(w, s->sample);
    put_i64(w, s->generations);
    put_i64(w, s->identity);
    put_f64(w, s->sigma);
    put_f64(w, s->mutate_fraction);
    put_f64(w, s->anneal);
    put_f64(w, s->shift_scale);
    /* generator */
    put_u64(w, s->seed);
    for (k = 0; k < 4; k++) put_u64(w, s->rng.s[k]);
    put_f64(w, s->rng.spare);
    put_u32(w, (uint32_t)s->rng.has_spare);
    /* progress and population */
    put_i64(w, s->issued);
    put_i64(w, s->told);
    put_i64(w, s->failed);
    put_i64(w, s->filled);
    put_i64(w, s->oldest);
    for (i = 0; i < s->filled; i++) {
        put_f64(w, s->pop_loss[i]);
        put_genome(w, s, i);
    }
    put_u32(w, (uint32_t)s->has_best);
    if (s->has_best) {
        put_u64(w, s->best_id);
        put_f64(w, s->best_loss);
        put_genome(w, s, s->filled);
    }
    put_i64(w, s->n_pending);
    for (i = 0; i < s->n_pending; i++) {
        put_u64(w, s->pending[i].id);
        put_genome(w, s, s->filled + s->has_best + i);
    }
    put_f64s(w, s->history, s->told);
    picpq__state_seal(w->p, total);
    w->pos += CRC_BYTES;
}

picpq_status picpq_search_save(const picpq_search *s, void *buf, size_t cap, size_t *needed)
{
    writer w;
    size_t total;
    picpq__clear_error();
    PICPQ__REQUIRE(s, "s");
    PICPQ__REQUIRE(needed, "needed");
    total = state_size(s);
    *needed = total;
    if (buf == NULL) return PICPQ_OK;
    if (cap < total)
        return picpq__fail(PICPQ_E_BUFFER, "cap = %zu bytes, the state needs %zu", cap, total);
    w.p = buf;
    w.pos = 0;
    write_state(s, &w, total);
    if (w.pos != total) return picpq__fail(PICPQ_E_INTERNAL, "search: wrote %zu of %zu bytes", w.pos, total);
    return PICPQ_OK;
}

/* ---- reading ---------------------------------------------------------- */

typedef struct reader {
    const unsigned char *p;
    size_t len, pos;
    int short_read; /* set once a read ran past the end */
} reader;

/* The next `bytes` little-endian bytes; 0 and short_read past the end. */
static uint64_t get_le(reader *r, int bytes)
{
    if (r->len - r->pos < (size_t)bytes) {
        r->short_read = 1;
        r->pos = r->len;
        return 0;
    }
    r->pos += (size_t)bytes;
    return picpq__le_get(r->p + r->pos - bytes, bytes);
}

static uint64_t get_u64(reader *r)
{
    return get_le(r, 8);
}

static uint32_t get_u32(reader *r)
{
    return (uint32_t)get_le(r, 4);
}

static int64_t get_i64(reader *r)
{
    return (int64_t)get_u64(r);
}

static double get_f64(reader *r)
{
    return picpq__f64_from_bits(get_u64(r));
}

/* Canonical unsigned LEB128 (no redundant high zero bytes), so that every
 * accepted blob saves back to the same bytes; 0 when malformed. */
static int get_varint(reader *r, uint64_t *v)
{
    uint64_t x = 0;
    int k;
    for (k = 0; k < 10; k++) {
        unsigned char c;
        if (r->pos >= r->len) {
            r->short_read = 1;
            return 0;
        }
        c = r->p[r->pos++];
        if (k == 9 && c > 1) return 0; /* beyond 64 bits */
        x |= (uint64_t)(c & 0x7fu) << (7 * k);
        if (!(c & 0x80u)) {
            *v = x;
            return k == 0 || c != 0;
        }
    }
    return 0;
}

/* Decode layer l of genome idx (see cell_code). A new pair's allele id is
 * idx*L + l, so a back reference must land on a new pair of its layer. */
static int get_cell(reader *r, picpq_search *s, int64_t idx, int32_t l, int64_t *max_initial)
{
    double *genes = genome_at(s, idx);
    uint64_t *origin = &picpq__search_origins(s, genes)[l], c;
    const int64_t initial = s->issued < s->population ? s->issued : s->population;
    if (!get_varint(r, &c)) return 0;
    if (c == 0) {
        genes[l] = get_f64(r);
        genes[s->L + l] = get_f64(r);
        *origin = (uint64_t)idx * (uint64_t)s->L + (uint64_t)l;
        return !isnan(genes[l]) && !isnan(genes[s->L + l]);
    }
    if (c & 1) {
        const uint64_t g = (c - 1) / 2;
        if (g >= (uint64_t)initial || (s->identity && g == (uint64_t)(s->population - 1))) return 0;
        genes[l] = 1.0; /* set by regenerate() */
        genes[s->L + l] = 0.0;
        *origin = PICPQ__ORIGIN_INITIAL | g;
        if ((int64_t)g > *max_initial) *max_initial = (int64_t)g;
        return 1;
    }
    {
        const uint64_t m = c / 2 - 1;
        const double *src;
        if (m >= (uint64_t)idx) return 0;
        src = genome_at(s, (int64_t)m);
        if (picpq__search_origins(s, (double *)src)[l] != m * (uint64_t)s->L + (uint64_t)l) return 0;
        genes[l] = src[l];
        genes[s->L + l] = src[s->L + l];
        *origin = m * (uint64_t)s->L + (uint64_t)l;
        return 1;
    }
}

static int get_genome(reader *r, picpq_search *s, int64_t idx, int64_t *max_initial)
{
    int32_t l;
    for (l = 0; l < s->L; l++)
        if (!get_cell(r, s, idx, l, max_initial)) return 0;
    return !r->short_read;
}

#define BAD(...) picpq__fail(PICPQ_E_FORMAT, "search state: " __VA_ARGS__)

/* The blob must describe the same prunable layers, channels and FP scores. */
static picpq_status read_net_fingerprint(reader *r, const picpq_search *s)
{
    int32_t i;
    if (get_u32(r) != (uint32_t)s->n_layers || get_u32(r) != (uint32_t)s->L)
        return BAD("saved for a net with a different number of layers or prunable layers");
    for (i = 0; i < s->L; i++) {
        uint32_t layer = get_u32(r);
        int64_t ch = get_i64(r);
        double sd = get_f64(r);
        if (layer != (uint32_t)s->layer_of[i] || ch != s->channels[i] ||
            memcmp(&sd, &s->std[i], sizeof sd) != 0)
            return BAD("saved for a different net (prunable layer %d differs)", (int)i);
    }
    if (get_u32(r) != s->scores_crc) return BAD("saved for a net with different FP scores");
    return r->short_read ? BAD("truncated net description") : PICPQ_OK;
}

static picpq_status read_params(reader *r, picpq_search *s)
{
    uint32_t has_spare;
    int k;
    s->population = get_i64(r);
    s->sample = get_i64(r);
    s->generations = get_i64(r);
    s->identity = get_i64(r);
    s->sigma = get_f64(r);
    s->mutate_fraction = get_f64(r);
    s->anneal = get_f64(r);
    s->shift_scale = get_f64(r);
    s->seed = get_u64(r);
    for (k = 0; k < 4; k++) s->rng.s[k] = get_u64(r);
    s->rng.spare = get_f64(r);
    has_spare = get_u32(r);
    s->rng.has_spare = has_spare > 1 ? 2 : (int)has_spare; /* 2 fails picpq__rng_valid */
    if (r->short_read) return BAD("truncated parameters");
    if (!picpq__param_value_ok(PICPQ_SEARCH_POPULATION, s->population) ||
        !picpq__param_value_ok(PICPQ_SEARCH_SAMPLE, s->sample) ||
        !picpq__param_value_ok(PICPQ_SEARCH_GENERATIONS, s->generations) ||
        !picpq__param_value_ok(PICPQ_SEARCH_IDENTITY, s->identity) ||
        !picpq__param_value_ok(PICPQ_SEARCH_SIGMA, s->sigma) ||
        !picpq__param_value_ok(PICPQ_SEARCH_MUTATE_FRACTION, s->mutate_fraction) ||
        !picpq__param_value_ok(PICPQ_SEARCH_ANNEAL, s->anneal) ||
        !picpq__param_value_ok(PICPQ_SEARCH_SHIFT_SCALE, s->shift_scale))
        return BAD("a parameter is outside its range");
    if (!picpq__rng_valid(&s->rng)) return BAD("invalid generator state");
    return PICPQ_OK;
}

static picpq_status read_counters(reader *r, picpq_search *s)
{
    s->issued = get_i64(r);
    s->told = get_i64(r);
    s->failed = get_i64(r);
    s->filled = get_i64(r);
    s->oldest = get_i64(r);
    if (r->short_read) return BAD("truncated counters");
    if (s->issued < 0 || s->issued > s->generations || s->told < 0 || s->told > s->issued ||
        s->failed < 0 || s->failed > s->told)
        return BAD("inconsistent counters (issued %lld, told %lld, failed %lld)", (long long)s->issued,
                   (long long)s->told, (long long)s->failed);
    if (s->filled < 0 || s->filled > s->population || s->filled > s->told - s->failed ||
        s->oldest < 0 || s->oldest >= s->population || (s->filled < s->population && s->oldest != 0))
        return BAD("inconsistent population (filled %lld, oldest %lld)", (long long)s->filled,
                   (long long)s->oldest);
    return PICPQ_OK;
}

static picpq_status read_population(reader *r, picpq_search *s, int64_t *max_initial)
{
    int64_t i;
    uint32_t has_best;
    for (i = 0; i < s->filled; i++) {
        s->pop_loss[i] = get_f64(r);
        if (!isfinite(s->pop_loss[i]) || !get_genome(r, s, i, max_initial))
            return BAD("member %lld is invalid", (long long)i);
    }
    has_best = get_u32(r);
    if (has_best > 1 || (int64_t)has_best != (s->told - s->failed > 0))
        return BAD("best flag %lu disagrees with the counters", (unsigned long)has_best);
    s->has_best = (int)has_best;
    if (has_best) {
        s->best_id = get_u64(r);
        s->best_loss = get_f64(r);
        if (s->best_id < 1 || s->best_id > (uint64_t)s->issued || !isfinite(s->best_loss) ||
            !get_genome(r, s, s->filled, max_initial))
            return BAD("invalid best candidate");
    }
    return r->short_read ? BAD("truncated population") : PICPQ_OK;
}

static picpq_status read_pending(reader *r, picpq_search *s, int64_t *max_initial)
{
    int64_t n = get_i64(r), i;
    if (r->short_read || n != s->issued - s->told)
        return BAD("%lld pending candidates, the counters say %lld", (long long)n,
                   (long long)(s->issued - s->told));
    for (i = 0; i < n; i++) {
        uint64_t id = get_u64(r);
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
        if (!get_genome(r, s, s->filled + s->has_best + i, max_initial))
            return BAD("pending candidate %lld is invalid", (long long)i);
    }
    for (i = 0; i < s->told; i++) s->history[i] = get_f64(r);
    if (r->short_read) return BAD("truncated history");
    if (r->pos != r->len) return BAD("%zu unexpected trailing bytes", r->len - r->pos);
    return PICPQ_OK;
}

/* Allocate what the counters require before reading the arrays: every
 * count is checked against the remaining bytes first (a genome takes at
 * least L bytes), so a forged count cannot request a huge allocation. */
static picpq_status reserve_for(reader *r, picpq_search *s)
{
    const int64_t remaining = (int64_t)(r->len - r->pos);
    int64_t need;
    if (!picpq__mul_i64(s->filled, 8 + (int64_t)s->L, &need) || need > remaining ||
        !picpq__mul_i64(s->issued - s->told, 8 + (int64_t)s->L, &need) || need > remaining ||
        8 * s->told > remaining)
        return BAD("the counters promise more data than the buffer holds");
    if (s->issued == 0) return PICPQ_OK;
    return picpq__search_reserve(s, s->issued - s->told, s->issued);
}

/* Fill the pairs whose origin is initial member g: replay the generator from the seed
 * through the first initial members exactly as the asks drew them. */
static void fill_initial(const picpq_search *s, double *genes, const double *initial, size_t row)
{
    const uint64_t *origins = picpq__search_origins(s, genes);
    int32_t l;
    for (l = 0; l < s->L; l++) {
        const double *src;
        if (!(origins[l] & PICPQ__ORIGIN_INITIAL)) continue;
        src = (const double *)(const void *)((const char *)initial +
                                             (size_t)(origins[l] & ~PICPQ__ORIGIN_INITIAL) * row);
        genes[l] = src[l];
        genes[s->L + l] = src[s->L + l];
    }
}

static picpq_status regenerate(picpq_search *s, int64_t max_initial)
{
    const size_t row = picpq__search_genome_bytes(s);
    picpq__rng rng;
    double *initial;
    int64_t g;
    if (max_initial < 0) return PICPQ_OK;
    initial = picpq__malloc(&s->alloc, (size_t)(max_initial + 1) * row);
    if (initial == NULL) return picpq__fail(PICPQ_E_NOMEM, "search: no memory to regenerate the initial members");
    picpq__rng_seed(&rng, s->seed);
    for (g = 0; g <= max_initial; g++)
        picpq__search_random_member(s, &rng, (double *)(void *)((char *)initial + (size_t)g * row));
    for (g = 0; g < s->filled; g++) fill_initial(s, picpq__search_member(s, g), initial, row);
    for (g = 0; g < s->n_pending; g++) fill_initial(s, s->pending[g].genes, initial, row);
    if (s->has_best) fill_initial(s, s->best, initial, row);
    picpq__free(&s->alloc, initial);
    return PICPQ_OK;
}

picpq_status picpq_search_load_ex(const picpq_net *net, const void *buf, size_t len,
                                  const picpq_allocator *alloc, picpq_search **out)
{
    picpq_search *s = NULL;
    reader r;
    int64_t max_initial = -1;
    picpq_status st;
    picpq__clear_error();
    PICPQ__REQUIRE(out, "out");
    *out = NULL;
    PICPQ__REQUIRE(net, "net");
    PICPQ__REQUIRE(buf, "buf");
    st = picpq__state_check(buf, len, MAGIC, FORMAT_VERSION, HEADER_BYTES + CRC_BYTES,
                            "search state");
    if (st != PICPQ_OK) return st;
    if ((st = picpq_search_create_ex(net, 0, alloc, &s)) != PICPQ_OK) return st;
    r.p = buf;
    r.len = len - CRC_BYTES;
    r.pos = HEADER_BYTES;
    r.short_read = 0;
    if ((st = read_net_fingerprint(&r, s)) == PICPQ_OK && (st = read_params(&r, s)) == PICPQ_OK &&
        (st = read_counters(&r, s)) == PICPQ_OK && (st = reserve_for(&r, s)) == PICPQ_OK &&
        (st = read_population(&r, s, &max_initial)) == PICPQ_OK &&
        (st = read_pending(&r, s, &max_initial)) == PICPQ_OK)
        st = regenerate(s, max_initial);
    /* allele ids in use are genome*L + layer: new pairs continue above them */
    if (st == PICPQ_OK) s->next_allele = (uint64_t)(s->filled + s->has_best + s->n_pending) * (uint64_t)s->L;
    if (st != PICPQ_OK) {
        picpq__search_destroy(s);
        return st;
    }
    *out = s;
    return PICPQ_OK;
}

picpq_status picpq_search_load(const picpq_net *net, const void *buf, size_t len, picpq_search **out)
{
    return picpq_search_load_ex(net, buf, len, NULL, out);
}
