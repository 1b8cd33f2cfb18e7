/* Regularized (aging) evolutionary search over the per-layer (a, b) of
 * METHOD §6, driven by the host through ask/tell. The asynchronous
 * steady-state semantics are documented in docs/DESIGN.md (search section):
 * the ask counter g decides random / identity / child; the tournament draws
 * among told members; the slot aged out is chosen at tell time. */
#include "picpq_internal.h"

#include <math.h>
#include <string.h>

#define GROUP 400

/* ---- schedule (METHOD §6, T7) ---------------------------------------- */

double picpq__search_step(int64_t g, int64_t generations, double anneal)
{
    return 1.0 - (double)g / (anneal * (double)generations);
}

int64_t picpq__search_mutations(int32_t prunable, double fraction)
{
    /* Python's int() of a non-negative double is floor */
    return (int64_t)floor(fraction * (double)prunable);
}

int64_t picpq__search_next_slot(const picpq_search *s)
{
    return s->filled < s->population ? s->filled : s->oldest;
}

/* ---- create / free ---------------------------------------------------- */

void picpq__search_destroy(picpq_search *s)
{
    int64_t i;
    if (s == NULL) return;
    for (i = 0; i < s->n_pending; i++) picpq__free(&s->alloc, s->pending[i].genes);
    picpq__free(&s->alloc, s->pending);
    picpq__free(&s->alloc, s->history);
    picpq__free(&s->alloc, s->best);
    picpq__free(&s->alloc, s->marks);
    picpq__free(&s->alloc, s->pop_loss);
    picpq__free(&s->alloc, s->pop);
    picpq__free(&s->alloc, s->std);
    picpq__free(&s->alloc, s->channels);
    picpq__free(&s->alloc, s->layer_of);
    picpq__free(&s->alloc, s);
}

void picpq_search_free(picpq_search *s)
{
    picpq__search_destroy(s);
}

/* Population standard deviation (ddof 0), two-pass in double. */
static double population_std(const double *x, int64_t n)
{
    double mean = 0.0, ss = 0.0;
    int64_t i;
    for (i = 0; i < n; i++) mean += x[i];
    mean /= (double)n;
    for (i = 0; i < n; i++) ss += (x[i] - mean) * (x[i] - mean);
    return sqrt(ss / (double)n);
}

/* Fold the scores, as the saved format's f64 bytes, into the net
 * fingerprint: the same on every machine whatever its endianness. */
static uint32_t crc_doubles(uint32_t crc, const double *x, int64_t n)
{
    unsigned char b[8];
    int64_t i;
    for (i = 0; i < n; i++) {
        picpq__writer w;
        picpq__writer_init(&w, b, sizeof b);
        picpq__put_f64(&w, x[i]);
        crc = picpq__crc32(crc, b, 8);
    }
    return crc;
}

/* Copy the net's message: picpq__fail must not format from its own buffer. */
static picpq_status fail_from_net(picpq_status st, int32_t layer)
{
    char msg[200];
    strncpy(msg, picpq_last_error(), sizeof msg - 1);
    msg[sizeof msg - 1] = '\0';
    return picpq__fail(st, "search: prunable layer %d: %s", (int)layer, msg);
}

/* Which layers are prunable, their channels, and the std of their scores. */
static picpq_status read_net(picpq_search *s)
{
    const picpq_net *net = s->net;
    int32_t l, j = 0;
    int64_t max_ch = 0;
    double *scores;
    picpq_status st;
    for (l = 0; l < s->n_layers; l++) {
        int prunable;
        int64_t in_ch, out_ch;
        if ((st = picpq_net_is_prunable(net, l, &prunable)) != PICPQ_OK)
            return fail_from_net(st, l);
        if (!prunable) continue;
        if ((st = picpq_net_layer_channels(net, l, &in_ch, &out_ch)) != PICPQ_OK)
            return fail_from_net(st, l);
        s->layer_of[j] = l;
        s->channels[j++] = out_ch;
        if (out_ch > max_ch) max_ch = out_ch;
    }
    s->L = j;
    if (j == 0) return picpq__fail(PICPQ_E_INVALID_ARG, "net has no prunable layer to search");
    scores = picpq__calloc(&s->alloc, (size_t)max_ch, sizeof *scores);
    if (scores == NULL) return picpq__fail(PICPQ_E_NOMEM, "search: no memory for the FP scores");
    s->scores_crc = 0;
    for (j = 0; j < s->L; j++) {
        st = picpq_net_fp(net, s->layer_of[j], scores, s->channels[j]);
        if (st != PICPQ_OK) {
            st = fail_from_net(st, s->layer_of[j]);
            break;
        }
        s->std[j] = population_std(scores, s->channels[j]);
        if (!isfinite(s->std[j])) {
            st = picpq__fail(PICPQ_E_NONFINITE,
                             "search: the std of the FP scores of layer %d overflows",
                             (int)s->layer_of[j]);
            break;
        }
        s->scores_crc = crc_doubles(s->scores_crc, scores, s->channels[j]);
    }
    picpq__free(&s->alloc, scores);
    return st;
}

static void set_defaults(picpq_search *s, uint64_t seed)
{
    picpq__param_defaults(s, GROUP);
    s->seed = seed;
    picpq__rng_seed(&s->rng, seed);
}

picpq_status picpq_search_create_ex(const picpq_net *net, uint64_t seed,
                                    const picpq_allocator *alloc, picpq_search **out)
{
    picpq_allocator a;
    picpq_search *s;
    int32_t n;
    picpq_status st;
    picpq__clear_error();
    PICPQ__REQUIRE(out, "out");
    *out = NULL;
    PICPQ__REQUIRE(net, "net");
    if ((st = picpq__allocator_init(&a, alloc)) != PICPQ_OK) return st;
    n = picpq_net_num_layers(net);
    if (n <= 0) return picpq__fail(PICPQ_E_INVALID_ARG, "net has no layers");
    s = picpq__calloc(&a, 1, sizeof *s);
    if (s == NULL) return picpq__fail(PICPQ_E_NOMEM, "search: no memory for the handle");
    s->alloc = a;
    s->net = net;
    s->n_layers = n;
    s->layer_of = picpq__calloc(&a, (size_t)n, sizeof *s->layer_of);
    s->channels = picpq__calloc(&a, (size_t)n, sizeof *s->channels);
    s->std = picpq__calloc(&a, (size_t)n, sizeof *s->std);
    if (s->layer_of == NULL || s->channels == NULL || s->std == NULL) {
        picpq__search_destroy(s);
        return picpq__fail(PICPQ_E_NOMEM, "search: no memory for %d layers", (int)n);
    }
    if ((st = read_net(s)) != PICPQ_OK) {
        picpq__search_destroy(s);
        return st;
    }
    s->net_gen = picpq__net_generation(net);
    set_defaults(s, seed);
    *out = s;
    return PICPQ_OK;
}

picpq_status picpq_search_create(const picpq_net *net, uint64_t seed, picpq_search **out)
{
    return picpq_search_create_ex(net, seed, NULL, out);
}

/* ---- parameters ------------------------------------------------------- */

/* The parameters are locked by the first ask. */
static picpq_status check_unlocked(void *obj, picpq_param key)
{
    if (((const picpq_search *)obj)->issued > 0)
        return picpq__fail(PICPQ_E_BAD_STATE, "%s cannot change after the first ask",
                           picpq_param_name(key));
    return PICPQ_OK;
}

picpq_status picpq_search_set_int(picpq_search *s, picpq_param key, int64_t v)
{
    return picpq__param_set_int(s, "s", GROUP, key, v, check_unlocked);
}

picpq_status picpq_search_set_double(picpq_search *s, picpq_param key, double v)
{
    return picpq__param_set_double(s, "s", GROUP, key, v, check_unlocked);
}

picpq_status picpq_search_get_int(const picpq_search *s, picpq_param key, int64_t *v)
{
    return picpq__param_get_int(s, "s", GROUP, key, v);
}

picpq_status picpq_search_get_double(const picpq_search *s, picpq_param key, double *v)
{
    return picpq__param_get_double(s, "s", GROUP, key, v);
}

/* ---- storage ---------------------------------------------------------- */

size_t picpq__search_genome_bytes(const picpq_search *s)
{
    return 2 * (size_t)s->L * sizeof(double);
}

double *picpq__search_member(const picpq_search *s, int64_t slot)
{
    return s->pop + (size_t)slot * 2 * (size_t)s->L;
}

/* The capacity an array of capacity `cap` grows to for `need` elements:
 * exactly `need` from empty (a load allocates what its bytes hold), else
 * doubling up to `limit` (asks copy O(1) amortized elements each). */
static int64_t grown(int64_t cap, int64_t need, int64_t limit)
{
    int64_t n = cap == 0 ? need : (cap <= limit / 2 ? 2 * cap : limit);
    return n < need ? need : n;
}

/* Grow an array of `elem`-byte elements to hold at least `need` of them. */
static int grow(const picpq_allocator *a, void **arr, int64_t *cap, int64_t need, int64_t limit,
                size_t elem)
{
    const int64_t n = grown(*cap, need, limit);
    void *p;
    if (need <= *cap) return 1;
    if ((uint64_t)n > SIZE_MAX / elem) return 0;
    p = picpq__malloc(a, (size_t)n * elem);
    if (p == NULL) return 0;
    if (*arr != NULL) memcpy(p, *arr, (size_t)*cap * elem);
    picpq__free(a, *arr);
    *arr = p;
    *cap = n;
    return 1;
}

/* Grow the population arrays to `need` members (both or neither). */
static int grow_population(picpq_search *s, int64_t need)
{
    const size_t row = picpq__search_genome_bytes(s);
    const int64_t n = grown(s->cap_pop, need, s->population);
    double *pop, *loss;
    if (need <= s->cap_pop) return 1;
    if ((uint64_t)n > SIZE_MAX / row) return 0;
    pop = picpq__malloc(&s->alloc, (size_t)n * row);
    loss = picpq__malloc(&s->alloc, (size_t)n * sizeof *loss);
    if (pop == NULL || loss == NULL) {
        picpq__free(&s->alloc, pop);
        picpq__free(&s->alloc, loss);
        return 0;
    }
    if (s->cap_pop > 0) { /* load sets `filled` before the arrays exist */
        memcpy(pop, s->pop, (size_t)s->filled * row);
        memcpy(loss, s->pop_loss, (size_t)s->filled * sizeof *loss);
    }
    picpq__free(&s->alloc, s->pop);
    picpq__free(&s->alloc, s->pop_loss);
    s->pop = pop;
    s->pop_loss = loss;
    s->cap_pop = n;
    return 1;
}

/* Memory grows with what the search holds: the population can only gain
 * the pending candidates' results, and every pending candidate adds one
 * history entry once told, so tell never allocates and a loaded state
 * allocates no more than its bytes describe (not P members for a state
 * whose evaluations all failed). */
picpq_status picpq__search_reserve(picpq_search *s, int64_t pending)
{
    const int64_t joiners = s->filled + pending;
    const int64_t members = joiners < s->population ? joiners : s->population;
    const int64_t asks = s->generations +
                         picpq__search_max_repeats(s); /* the most a search issues */
    if (s->marks == NULL) s->marks = picpq__calloc(&s->alloc, (size_t)s->L, 1);
    if (s->best == NULL) s->best = picpq__calloc(&s->alloc, 1, picpq__search_genome_bytes(s));
    if (s->marks == NULL || s->best == NULL ||
        !grow(&s->alloc, (void **)&s->pending, &s->cap_pending, pending, asks,
              sizeof *s->pending) ||
        !grow(&s->alloc, (void **)&s->history, &s->cap_history, s->told + pending, asks,
              sizeof *s->history) ||
        !grow_population(s, members))
        return picpq__fail(PICPQ_E_NOMEM, "search: no memory for %lld candidates",
                           (long long)(s->told + pending));
    return PICPQ_OK;
}

/* ---- candidates ------------------------------------------------------- */

static void random_member(const picpq_search *s, picpq__rng *rng, double *genes)
{
    int32_t l;
    for (l = 0; l < s->L; l++) {
        genes[l] = exp(s->sigma * picpq__rng_normal(rng));
        genes[s->L + l] = s->shift_scale * s->std[l] * picpq__rng_normal(rng);
    }
}

static void identity_member(const picpq_search *s, double *genes)
{
    int32_t l;
    for (l = 0; l < s->L; l++) {
        genes[l] = 1.0;
        genes[s->L + l] = 0.0;
    }
}

/* Tournament among the told members: S draws with replacement, the first
 * minimum wins (numpy's argmin). */
static int64_t tournament(picpq_search *s)
{
    int64_t i, w = -1;
    for (i = 0; i < s->sample; i++) {
        int64_t j = (int64_t)picpq__rng_below(&s->rng, (uint64_t)s->filled);
        if (w < 0 || s->pop_loss[j] < s->pop_loss[w]) w = j;
    }
    return w;
}

/* Copy the winner, then mutate the layers hit by int(fraction*L) draws with
 * replacement, in layer order: a *= exp(N(0, (sigma*step)^2)), b += N(0, std^2). */
static void child_member(picpq_search *s, int64_t g, double *genes)
{
    const int64_t w = tournament(s);
    const int64_t k = picpq__search_mutations(s->L, s->mutate_fraction);
    const double sa = s->sigma * picpq__search_step(g, s->generations, s->anneal);
    int64_t i;
    int32_t l;
    memcpy(genes, picpq__search_member(s, w), picpq__search_genome_bytes(s));
    for (i = 0; i < k; i++) s->marks[picpq__rng_below(&s->rng, (uint64_t)s->L)] = 1;
    for (l = 0; l < s->L; l++) {
        if (!s->marks[l]) continue;
        s->marks[l] = 0;
        genes[l] *= exp(sa * picpq__rng_normal(&s->rng));
        genes[s->L + l] += s->shift_scale * s->std[l] * picpq__rng_normal(&s->rng);
    }
}

/* The g-th candidate. A child needs a told member: while none exists (all
 * early asks still pending, or all failed), g >= P draws a random member. */
static void make_candidate(picpq_search *s, int64_t g, double *genes)
{
    if (s->identity && g == s->population - 1) identity_member(s, genes);
    else if (g < s->population || s->filled == 0) random_member(s, &s->rng, genes);
    else child_member(s, g - s->repeats, genes); /* annealed by evaluations, not asks */
}

/* ---- ask / tell ------------------------------------------------------- */

static picpq_status check_net(const picpq_search *s)
{
    if (picpq__net_generation(s->net) != s->net_gen)
        return picpq__fail(PICPQ_E_BAD_STATE, "the net changed after the search was created");
    return PICPQ_OK;
}

static picpq_status check_layers(const picpq_search *s, int64_t n)
{
    if (n != s->n_layers)
        return picpq__fail(PICPQ_E_SHAPE, "n = %lld, the net has %d layers", (long long)n,
                           (int)s->n_layers);
    return PICPQ_OK;
}

/* Expand a genome to net-indexed arrays; non-prunable layers get (1, 0). */
static void expand(const picpq_search *s, const double *genes, double *a, double *b)
{
    int32_t l, j;
    for (l = 0; l < s->n_layers; l++) {
        a[l] = 1.0;
        b[l] = 0.0;
    }
    for (j = 0; j < s->L; j++) {
        a[s->layer_of[j]] = genes[j];
        b[s->layer_of[j]] = genes[s->L + j];
    }
}

picpq_status picpq_search_ask(picpq_search *s, uint64_t *id, double *a, double *b, int64_t n)
{
    picpq_status st;
    double *genes;
    int64_t g;
    picpq__clear_error();
    PICPQ__REQUIRE(s, "s");
    PICPQ__REQUIRE(id, "id");
    PICPQ__REQUIRE(a, "a");
    PICPQ__REQUIRE(b, "b");
    if ((st = check_net(s)) != PICPQ_OK) return st;
    if ((st = check_layers(s, n)) != PICPQ_OK) return st;
    if (s->issued - s->repeats >= s->generations) return PICPQ_DONE;
    if ((st = picpq__search_reserve(s, s->n_pending + 1)) != PICPQ_OK) return st;
    genes = picpq__malloc(&s->alloc, picpq__search_genome_bytes(s));
    if (genes == NULL) return picpq__fail(PICPQ_E_NOMEM, "search: no memory for a candidate");
    g = s->issued++;
    make_candidate(s, g, genes);
    s->pending[s->n_pending].id = (uint64_t)g + 1;
    s->pending[s->n_pending++].genes = genes;
    *id = (uint64_t)g + 1;
    expand(s, genes, a, b);
    return PICPQ_OK;
}

/* Index of `id` among the pending candidates (sorted by id), or -1. */
static int64_t find_pending(const picpq_search *s, uint64_t id)
{
    int64_t lo = 0, hi = s->n_pending - 1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (s->pending[mid].id == id) return mid;
        if (s->pending[mid].id < id) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

static double mean_population_loss(const picpq_search *s)
{
    double sum = 0.0;
    int64_t i;
    if (s->filled == 0) return NAN;
    for (i = 0; i < s->filled; i++) sum += s->pop_loss[i];
    return sum / (double)s->filled;
}

/* A finite result joins the population: the next free slot while filling,
 * then the oldest member's slot (aging, FIFO), whatever its loss. */
static void insert_member(picpq_search *s, uint64_t id, const double *genes, double loss)
{
    const int64_t slot = picpq__search_next_slot(s);
    memcpy(picpq__search_member(s, slot), genes, picpq__search_genome_bytes(s));
    s->pop_loss[slot] = loss;
    if (s->filled < s->population) s->filled++;
    else s->oldest = (s->oldest + 1) % s->population;
    if (!s->has_best || loss < s->best_loss) {
        s->has_best = 1;
        s->best_loss = loss;
        s->best_id = id;
        memcpy(s->best, genes, picpq__search_genome_bytes(s));
    }
}

int64_t picpq__search_max_repeats(const picpq_search *s)
{
    return s->max_repeats == PICPQ_AUTO ? 4 * s->generations : s->max_repeats;
}

static picpq_status tell(picpq_search *s, uint64_t id, double loss, int repeat)
{
    picpq_status st;
    picpq__pending p;
    int64_t i;
    PICPQ__REQUIRE(s, "s");
    if ((st = check_net(s)) != PICPQ_OK) return st;
    i = find_pending(s, id);
    if (i < 0) {
        if (id >= 1 && id <= (uint64_t)s->issued)
            return picpq__fail(PICPQ_E_BAD_STATE, "candidate id %llu was already told",
                               (unsigned long long)id);
        return picpq__fail(PICPQ_E_BAD_STATE, "candidate id %llu was never issued by this search",
                           (unsigned long long)id);
    }
    p = s->pending[i];
    if (repeat && s->repeats < picpq__search_max_repeats(s)) s->repeats++;
    else if (isfinite(loss)) insert_member(s, id, p.genes, loss);
    else s->failed++;
    s->history[s->told++] = mean_population_loss(s);
    memmove(s->pending + i, s->pending + i + 1,
            (size_t)(s->n_pending - i - 1) * sizeof *s->pending);
    s->n_pending--;
    picpq__free(&s->alloc, p.genes);
    return PICPQ_OK;
}

picpq_status picpq_search_tell(picpq_search *s, uint64_t id, double loss)
{
    picpq__clear_error();
    return tell(s, id, loss, 0);
}

picpq_status picpq_search_tell_repeat(picpq_search *s, uint64_t id, double loss)
{
    picpq__clear_error();
    return tell(s, id, loss, 1);
}

int64_t picpq_search_num_repeats(const picpq_search *s)
{
    return s ? s->repeats : 0;
}

/* ---- queries ---------------------------------------------------------- */

picpq_status picpq_search_best(const picpq_search *s, double *a, double *b, int64_t n, double *loss)
{
    picpq_status st;
    picpq__clear_error();
    PICPQ__REQUIRE(s, "s");
    PICPQ__REQUIRE(a, "a");
    PICPQ__REQUIRE(b, "b");
    if ((st = check_net(s)) != PICPQ_OK) return st;
    if ((st = check_layers(s, n)) != PICPQ_OK) return st;
    if (!s->has_best) return picpq__fail(PICPQ_E_BAD_STATE, "no finite loss has been told yet");
    expand(s, s->best, a, b);
    if (loss) *loss = s->best_loss;
    return PICPQ_OK;
}

int64_t picpq_search_num_pending(const picpq_search *s)
{
    return s ? s->n_pending : 0;
}

picpq_status picpq_search_pending(const picpq_search *s, int64_t i, uint64_t *id, double *a,
                                  double *b, int64_t n)
{
    picpq_status st;
    picpq__clear_error();
    PICPQ__REQUIRE(s, "s");
    PICPQ__REQUIRE(id, "id");
    PICPQ__REQUIRE(a, "a");
    PICPQ__REQUIRE(b, "b");
    if ((st = check_net(s)) != PICPQ_OK) return st;
    if ((st = check_layers(s, n)) != PICPQ_OK) return st;
    if (i < 0 || i >= s->n_pending)
        return picpq__fail(PICPQ_E_OUT_OF_RANGE, "pending index %lld is outside [0, %lld)",
                           (long long)i, (long long)s->n_pending);
    *id = s->pending[i].id;
    expand(s, s->pending[i].genes, a, b);
    return PICPQ_OK;
}

picpq_status picpq_search_stats(const picpq_search *s, int64_t *issued, int64_t *told,
                                int64_t *failed, double *best_loss)
{
    picpq__clear_error();
    PICPQ__REQUIRE(s, "s");
    if (issued) *issued = s->issued;
    if (told) *told = s->told;
    if (failed) *failed = s->failed;
    if (best_loss) *best_loss = s->has_best ? s->best_loss : INFINITY;
    return PICPQ_OK;
}

picpq_status picpq_search_history(const picpq_search *s, double *mean_loss, int64_t cap,
                                  int64_t *count)
{
    picpq__clear_error();
    PICPQ__REQUIRE(s, "s");
    PICPQ__REQUIRE(count, "count");
    *count = s->told;
    if (mean_loss == NULL) return PICPQ_OK;
    if (cap < s->told)
        return picpq__fail(PICPQ_E_BUFFER, "cap = %lld, the history has %lld entries",
                           (long long)cap, (long long)s->told);
    if (s->told > 0) memcpy(mean_loss, s->history, (size_t)s->told * sizeof *mean_loss);
    return PICPQ_OK;
}
