/* Internal declarations shared by the modules of libpicpq. Never installed.
 * Everything here has hidden visibility (the build uses -fvisibility=hidden);
 * non-static helpers are named picpq__*. */
#ifndef PICPQ_INTERNAL_H
#define PICPQ_INTERNAL_H

#if defined(PICPQ_H) && !defined(PICPQ_EXPERIMENTAL)
#error "include picpq_internal.h before picpq.h (it needs the experimental section)"
#endif
#define PICPQ_EXPERIMENTAL /* the library implements every call */
#include "picpq.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define PICPQ__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define PICPQ__PRINTF(f, a)
#endif

/* ---- errors (status.c) ---------------------------------------------- */

/* Set the calling thread's last-error message and return `status`. */
picpq_status picpq__fail(picpq_status status, const char *fmt, ...) PICPQ__PRINTF(2, 3);
/* Clear the message: every fallible public call starts with this. */
void picpq__clear_error(void);

/* Return PICPQ_E_INVALID_ARG naming `name` when `ptr` is NULL. */
#define PICPQ__REQUIRE(ptr, name)                                                       \
    do {                                                                                \
        if ((ptr) == NULL) return picpq__fail(PICPQ_E_INVALID_ARG, "%s is NULL", name); \
    } while (0)

/* ---- allocation (alloc.c) ------------------------------------------- */

/* Copy `src` (NULL = malloc/free) into `dst`; fails on a half-filled hook. */
picpq_status picpq__allocator_init(picpq_allocator *dst, const picpq_allocator *src);
/* Allocate `size` bytes (size 0 allocates 1); NULL on failure, no message. */
void *picpq__malloc(const picpq_allocator *a, size_t size);
/* Allocate count*size zeroed bytes, overflow-checked; NULL on failure. */
void *picpq__calloc(const picpq_allocator *a, size_t count, size_t size);
void picpq__free(const picpq_allocator *a, void *ptr);

/* ---- checked integer arithmetic (alloc.c) --------------------------- */

/* Each returns 1 and writes *out on success, 0 on overflow. */
int picpq__mul_i64(int64_t a, int64_t b, int64_t *out);
int picpq__add_i64(int64_t a, int64_t b, int64_t *out);
int picpq__i64_to_size(int64_t v, size_t *out);

/* ---- parameters (param.c) ------------------------------------------- */

typedef struct picpq__param_desc {
    picpq_param key;
    const char *name;
    picpq_param_type type;
    double lo, hi, def;
    int has_auto;  /* PICPQ_AUTO is accepted besides [lo, hi] */
    size_t offset; /* of the int64_t or double field in the handle's struct */
} picpq__param_desc;

/* Descriptor of `key`, or NULL when unknown. */
const picpq__param_desc *picpq__param_find(picpq_param key);
/* 1 if every parameter of the handle `obj` (keys in [group, group + 99])
 * holds a valid value: what a loaded state must satisfy. */
int picpq__param_all_ok(const void *obj, int group);
/* Every parameter of the handle `obj` whose keys lie in [group, group + 99]
 * set to its default. */
void picpq__param_defaults(void *obj, int group);
/* A handle's own rule, run after validation and before the value is
 * stored: a status refuses the change, PICPQ_OK lets it through. */
typedef picpq_status (*picpq__param_hook)(void *obj, picpq_param key);
/* The set/get of every handle: `name` names the handle argument in the
 * message. Unknown key, wrong group or type -> INVALID_ARG; a value outside
 * the range (or non-finite) -> OUT_OF_RANGE. `hook` may be NULL. */
picpq_status picpq__param_set_int(void *obj, const char *name, int group, picpq_param key,
                                  int64_t value, picpq__param_hook hook);
picpq_status picpq__param_set_double(void *obj, const char *name, int group, picpq_param key,
                                     double value, picpq__param_hook hook);
picpq_status picpq__param_get_int(const void *obj, const char *name, int group, picpq_param key,
                                  int64_t *value);
picpq_status picpq__param_get_double(const void *obj, const char *name, int group, picpq_param key,
                                     double *value);

/* ---- tensor core (tensor.c) ----------------------------------------- */

struct picpq_tensor {
    picpq_allocator alloc; /* for the handle and, when owned, the data */
    void *data;
    int owns;
    picpq_dtype dtype;
    int32_t ndim;
    int64_t numel;
    int64_t shape[PICPQ_TENSOR_MAX_DIMS];
    int64_t strides[PICPQ_TENSOR_MAX_DIMS]; /* bytes, > 0 */
};

/* Walks a tensor row by row in C order: a row is the last axis (length
 * `len`, byte stride `step`); `offset` is the byte offset of the current
 * row's first element. Usage:
 *   picpq__rows r; picpq__rows_init(&r, t);
 *   do { ... r.offset, r.len, r.step ... } while (picpq__rows_next(&r)); */
typedef struct picpq__rows {
    int32_t outer;                        /* ndim - 1 */
    int64_t shape[PICPQ_TENSOR_MAX_DIMS]; /* outer dims only */
    int64_t strides[PICPQ_TENSOR_MAX_DIMS];
    int64_t idx[PICPQ_TENSOR_MAX_DIMS];
    int64_t offset, len, step;
} picpq__rows;
void picpq__rows_init(picpq__rows *r, const picpq_tensor *t);
int picpq__rows_next(picpq__rows *r); /* 0 after the last row */

/* Element at byte offset `off` of `t`'s data, read as a double. */
double picpq__tensor_read(const picpq_tensor *t, int64_t off);
/* PICPQ_E_SHAPE with a message unless src and dst have the same shape. */
picpq_status picpq__tensor_check_same_shape(const picpq_tensor *src, const picpq_tensor *dst);
/* Validate dtype/ndim/shape and compute the element count. */
picpq_status picpq__tensor_check_shape(picpq_dtype dtype, int32_t ndim, const int64_t *shape,
                                       int64_t *numel);

/* ---- rank (rank.c) -------------------------------------------------- */

/* Scratch of one worker, sized for one map shape h x w (rank_exact.c). */
typedef struct picpq__rank_ws {
    int64_t h, w, lwork;
    int64_t info;                   /* LAPACK info of the last sgesdd call */
    int64_t n_fast, n_fallback;     /* maps decided by the certificate / by sgesdd */
    double *v;                      /* m rows of vs: the map in double, short side = rows */
    int64_t vs;                     /* row stride of v: n rounded up to 4, zero padded */
    int simd;                       /* 1: AVX2+FMA kernels (chosen once, at init) */
    double *g, *c;                  /* m*m: Gram matrix and Cholesky scratch */
    int32_t *idx;                   /* m: pivot order */
    unsigned char *nz;              /* h + w: nonzero flags of rows and columns */
    int32_t *keep;                  /* h + w: indices of the nonzero columns */
    double *colabs;                 /* vs: column sums of |v| */
    double *vt;                     /* m * round4(m): transposed compacted vectors */
    float *a, *s, *work;            /* sgesdd: column-major copy, values, workspace */
    void *iwork;                    /* 8m lapack_int */
    void *a_raw, *s_raw, *work_raw; /* allocations behind the 64-byte aligned a, s, work */
    char pad[64];                   /* workers' counters never share a cache line */
} picpq__rank_ws;

enum {
    PICPQ__RANK_AUTO = 0,
    PICPQ__RANK_SGESDD = 1,
    PICPQ__RANK_FAST_ONLY = 2,
    PICPQ__RANK_PORTABLE = 4 /* flag: portable kernels even where AVX2 exists */
};

/* Allocate `ws` for h x w maps (zeroed first; on failure nothing is left
 * allocated). Returns a status WITHOUT setting the message (workers call
 * it too): NOMEM, UNSUPPORTED (too large for LAPACK's ints), INTERNAL. */
picpq_status picpq__rank_ws_init(picpq__rank_ws *ws, const picpq_allocator *a, int64_t h,
                                 int64_t w);
void picpq__rank_ws_free(picpq__rank_ws *ws, const picpq_allocator *a);
/* Rank of the ws->h x ws->w float map at `base` with byte strides sh (rows)
 * and sw (columns). mode: AUTO (certificate, else sgesdd), SGESDD (the
 * reference only), FAST_ONLY (*rank = -1 when inconclusive), optionally
 * | PORTABLE. No message:
 * NONFINITE, NO_CONVERGENCE (ws->info), INTERNAL. Thread-safe per ws. */
picpq_status picpq__rank_map(picpq__rank_ws *ws, const char *base, int64_t sh, int64_t sw,
                             double atol, double rtol, int mode, int64_t *rank);
void picpq__rank_find_nonfinite(const char *base, int64_t h, int64_t w, int64_t sh, int64_t sw,
                                int64_t *row, int64_t *col);
/* picpq_matrix_rank_f32 with explicit tolerances and mode (tests, bench). */
picpq_status picpq__matrix_rank_mode(const float *a, int64_t rows, int64_t cols, int64_t ld,
                                     double atol, double rtol, int mode, int64_t *rank);

/* Elements of a batch per worker before feed starts another (a thread
 * start costs ~50 µs); tests lower picpq_ranker.min_work to force workers. */
#define PICPQ__RANK_MIN_WORK 32768

/* Filters of all layers together: the length of the rank sums. */
int64_t picpq__ranker_total_filters(const picpq_ranker *rk);

struct picpq_ranker {
    picpq_allocator alloc;
    int32_t n_layers;
    int64_t *channels; /* [n_layers] */
    int64_t *first;    /* [n_layers]: index of the layer's first filter in sums */
    int64_t *sums;     /* [total filters]: sum of ranks */
    int64_t *images;   /* [n_layers]: images fed */
    int64_t threads;   /* PICPQ_RANK_THREADS */
    double atol, rtol;
    /* scratch, grown by feed: n_ws workspaces for ws_h x ws_w maps and
     * n_ws batch-sum rows of batch_cap filters */
    int32_t n_ws;
    picpq__rank_ws *ws;
    int64_t *batch, batch_cap;  /* row stride batch_cap + 8: no false sharing */
    int64_t n_fast, n_fallback; /* statistics over all feeds */
    int64_t min_work;           /* elements per worker before another is started */
};

/* ---- net (net.c) ---------------------------------------------------- */

/* One layer as declared. Linear layers have kh = kw = groups = out_h =
 * out_w = 1, so the MACs formula below covers both kinds. */
typedef struct picpq__layer {
    picpq_layer_kind kind;
    int64_t in_ch, out_ch, kh, kw, groups, out_h, out_w;
    int64_t area; /* out_h*out_w*kh*kw: MACs per (input, output) channel pair */
    int prunable;
    int32_t producer;  /* the layer whose outputs are our inputs, -1 if none */
    int32_t uf_parent; /* coupling union-find (union by size, no compression) */
    int32_t uf_size;
    double *fp; /* out_ch filter properties (storage may precede them) */
    int has_fp; /* fp holds values set by picpq_net_set_fp */
} picpq__layer;

struct picpq_net {
    picpq_allocator alloc;
    picpq__layer *layers;
    int32_t n, cap;
    uint64_t generation; /* bumped by every structural change */
    int64_t dense_total; /* sum of dense-counted MACs, kept so that x1024 fits int64 */
    int64_t bops_skip_first, bops_dense_depthwise, bops_linear_unpruned;
};

/* A counter bumped by every call that changes the net's structure (add,
 * connect, couple, set_prunable, set_int): plans and searches record it. */
uint64_t picpq__net_generation(const picpq_net *net);
/* groups == in_ch == out_ch (a conv pruned together with its producer). */
int picpq__layer_is_depthwise(const picpq__layer *L);
/* Root of a layer's coupling group (same root = coupled). */
int32_t picpq__net_group_root(const picpq_net *net, int32_t layer);
/* Inputs lost by consumer `L` per pruned filter of its producer: 1 for a
 * conv, in_features/out_ch(producer) for a linear layer. */
int64_t picpq__net_inputs_per_channel(const picpq_net *net, const picpq__layer *L);
/* Cost of `net` with kept[l] filters in layer l (NULL: unpruned); bits
 * NULL = all 32 (net_cost.c). Fails only on NULL `out` and bad bits. */
typedef enum picpq__cost_kind { COST_MACS, COST_PARAMS, COST_BOPS } picpq__cost_kind;
picpq_status picpq__net_cost(const picpq_net *net, const int64_t *kept, picpq__cost_kind kind,
                             const int32_t *wbits, const int32_t *abits, double *out);
/* The FP of a layer, NULL until set (the plan reads it). */
const double *picpq__net_fp(const picpq_net *net, int32_t layer);
/* Storage for the FP of every layer l with which[l] != 0, all or nothing,
 * so that the picpq_net_set_fp calls that follow cannot fail. */
picpq_status picpq__net_reserve_fp(picpq_net *net, const int64_t *which);
/* Return PICPQ_E_OUT_OF_RANGE naming `layer` when it is not an id of `net`. */
picpq_status picpq__net_check_layer(const picpq_net *net, int32_t layer);

/* ---- plan (plan.c, plan_greedy.c) ---------------------------------------- */

/* One sorted item: channel index j of chain g, with its chain score. */
typedef struct picpq__plan_entry {
    double key;
    int32_t group;
    int64_t j;
} picpq__plan_entry;

struct picpq_plan {
    picpq_allocator alloc;
    const picpq_net *net;
    uint64_t generation;
    int32_t n;
    int64_t faithful, check_every, chain_reduce, num_classes, budget_kind, round_to;
    double safeguard;
    /* the result */
    int computed;        /* 1 after a compute, 0 after create or a host mask */
    double budget, cost; /* of the last compute: its budget and the plan's tested cost */
    int64_t *kept;       /* n */
    uint8_t *mask;       /* every filter; layer l starts at moff[l] */
    int64_t *moff;       /* n + 1 */
    /* structure, fixed at creation */
    int32_t ngroups;
    int32_t *group_of; /* n: chain of a prunable layer, -1 otherwise */
    int32_t *gstart;   /* ngroups + 1, into gmem */
    int32_t *gmem;     /* chain members in ascending id */
    int64_t *gwidth;   /* ngroups: widest member */
    int64_t nentries;
    int32_t *cstart; /* n + 1, into cons */
    int32_t *cons;   /* consumers of each layer */
    int32_t last_conv, last_linear;
    /* workspace of compute */
    double *imp;                           /* importances, same layout as mask */
    picpq__plan_entry *entries, *sort_tmp; /* sort_tmp: the merge sort's buffer */
    int64_t *quota, *outk, *ink;
    uint8_t *wmask;
    int64_t *pend, *npend; /* round-to: filters taken but not yet removed (layout of mask), n */
};

/* BAD_STATE when the net changed after the plan was created. */
picpq_status picpq__plan_check_net(const picpq_plan *p);
/* picpq__plan_check_net, then OUT_OF_RANGE for a bad layer id. */
picpq_status picpq__plan_check_layer(const picpq_plan *p, int32_t layer);
/* SHAPE unless n is the layer's out_ch. */
picpq_status picpq__plan_check_len(const picpq_plan *p, int32_t layer, int64_t n);

/* INVALID_ARG when `plan` was created on another net than `net`, BAD_STATE
 * when the net changed since. */
picpq_status picpq__plan_check_owner(const picpq_plan *plan, const picpq_net *net);

/* ---- search (search.c, search_rng.c) --------------------------------------- */

/* Per-handle generator (search_rng.c): xoshiro256** seeded by splitmix64; normals by
 * the Marsaglia polar method, the second value cached in `spare`. */
typedef struct picpq__rng {
    uint64_t s[4];
    double spare;
    int has_spare;
} picpq__rng;
void picpq__rng_seed(picpq__rng *r, uint64_t seed);
uint64_t picpq__rng_next(picpq__rng *r);
double picpq__rng_uniform(picpq__rng *r);             /* k * 2^-53 in [0, 1) */
uint64_t picpq__rng_below(picpq__rng *r, uint64_t n); /* unbiased in [0, n), n >= 1 */
double picpq__rng_normal(picpq__rng *r);              /* N(0, 1) */
int picpq__rng_valid(const picpq__rng *r);            /* a state a loaded blob may hold */

/* Saved states (codec.c): the one byte codec of every format. A 24-byte
 * header (magic, version, flags, total length), the body, a trailing CRC-32
 * of everything before it; fields little-endian, doubles as their bits. */
#define PICPQ__STATE_HEADER_BYTES 24 /* magic, version, flags, total length */
#define PICPQ__STATE_CRC_BYTES 4
/* CRC-32 of zlib; start with crc = 0. */
uint32_t picpq__crc32(uint32_t crc, const void *data, size_t len);
/* Writes into [p, p + cap); a write that does not fit sets `overflow` and
 * every later one is dropped. */
typedef struct picpq__writer {
    unsigned char *p;
    size_t pos, cap;
    int overflow;
} picpq__writer;
void picpq__writer_init(picpq__writer *w, void *buf, size_t cap);
void picpq__put_u8(picpq__writer *w, uint8_t v);
void picpq__put_u32(picpq__writer *w, uint32_t v);
void picpq__put_u64(picpq__writer *w, uint64_t v);
void picpq__put_i64(picpq__writer *w, int64_t v);
void picpq__put_f64(picpq__writer *w, double v);
void picpq__put_f64s(picpq__writer *w, const double *v, int64_t n);
/* Reads [p + pos, p + len); a read past the end returns 0 and sets the
 * sticky `short_read` (pos then stays at len). */
typedef struct picpq__reader {
    const unsigned char *p;
    size_t pos, len;
    int short_read;
} picpq__reader;
void picpq__reader_init(picpq__reader *r, const void *buf, size_t len);
uint8_t picpq__get_u8(picpq__reader *r);
uint32_t picpq__get_u32(picpq__reader *r);
uint64_t picpq__get_u64(picpq__reader *r);
int64_t picpq__get_i64(picpq__reader *r);
double picpq__get_f64(picpq__reader *r);
void picpq__get_f64s(picpq__reader *r, double *v, int64_t n);
size_t picpq__reader_left(const picpq__reader *r); /* bytes before the end */
/* Start a `total`-byte state in buf (its header); end it with its CRC once
 * the body is written: INTERNAL (message "<what>: ...") unless the body
 * filled the state exactly. */
void picpq__state_begin(picpq__writer *w, void *buf, size_t total, const unsigned char magic[8],
                        uint32_t version);
picpq_status picpq__state_end(picpq__writer *w, const char *what);
/* Validate a saved state's envelope: at least min_len bytes, the magic,
 * this version, no flags, the total length, the trailing CRC-32; then set
 * r to read the body (header and CRC excluded). PICPQ_E_FORMAT with a
 * message starting "<what>: " otherwise, or, for an older version when
 * old_hint is not NULL, "<what> format N is no longer read; <old_hint>". */
picpq_status picpq__state_read(picpq__reader *r, const void *buf, size_t len,
                               const unsigned char magic[8], uint32_t version, size_t min_len,
                               const char *what, const char *old_hint);

/* Schedule of METHOD §6, exposed for the T7 tests (search.c). */
double picpq__search_step(int64_t g, int64_t generations, double anneal); /* 1 - g/(anneal*G) */
int64_t picpq__search_mutations(int32_t prunable, double fraction);       /* int(fraction * L) */
/* The population slot the next finite tell fills (or ages out, once full). */
int64_t picpq__search_next_slot(const picpq_search *s);

/* An issued-but-untold candidate; id = generation + 1. */
typedef struct picpq__pending {
    uint64_t id;
    double *genes; /* a genome */
} picpq__pending;

/* The search handle. A genome is the a[L] then b[L] doubles of the L
 * prunable layers; net-indexed arrays are expanded at the API boundary. */
struct picpq_search {
    picpq_allocator alloc;
    const picpq_net *net;
    uint64_t net_gen; /* picpq__net_generation(net) when created/loaded */
    int32_t n_layers, L;
    int32_t *layer_of;   /* L: net layer id of the j-th prunable layer */
    int64_t *channels;   /* L: its output channels */
    double *std;         /* L: population std of its FP scores */
    uint32_t scores_crc; /* CRC-32 of all FP scores (wrong-net check of load) */
    /* parameters (locked by the first ask) */
    int64_t population, sample, generations, identity, max_repeats;
    double sigma, mutate_fraction, anneal, shift_scale;
    uint64_t seed;
    picpq__rng rng;
    int64_t issued, told, failed;
    int64_t repeats; /* candidates dropped by tell_repeat (not evaluations) */
    /* population: slots 0..filled-1 are members. cap_pop >= min(P, filled +
     * n_pending) between calls, so that tell never allocates */
    double *pop;      /* cap_pop genomes */
    double *pop_loss; /* cap_pop */
    int64_t cap_pop;
    int64_t filled, oldest; /* oldest: next slot aged out once full (FIFO) */
    unsigned char *marks;   /* L scratch of the mutation, all zero between calls */
    int has_best;
    uint64_t best_id;
    double best_loss;
    double *best;            /* a genome */
    picpq__pending *pending; /* issue order = increasing id */
    int64_t n_pending, cap_pending;
    double *history; /* told entries: mean population loss after each tell */
    int64_t cap_history;
};

/* search.c helpers shared with search_state.c (save/load). */
size_t picpq__search_genome_bytes(const picpq_search *s); /* 2 L doubles */
double *picpq__search_member(const picpq_search *s, int64_t slot);
/* Room for `pending` untold candidates, what their tells need (history,
 * population slots) and the scratch. Arrays grow geometrically from their
 * capacity, or exactly to the need from an empty handle (a load). */
picpq_status picpq__search_reserve(picpq_search *s, int64_t pending);
void picpq__search_destroy(picpq_search *s);
/* PICPQ_SEARCH_MAX_REPEATS resolved (AUTO = 4·G). */
int64_t picpq__search_max_repeats(const picpq_search *s);

/* ---- model runtime (model_load.c, model_run.c) ---------------------- */

/* Op kinds of the model file (docs/FORMATS.md, "Model file"). */
enum {
    PICPQ__OP_CONV = 1,
    PICPQ__OP_LINEAR = 2,
    PICPQ__OP_AFFINE = 3, /* batch norm in eval form: x * scale[c] + shift[c] */
    PICPQ__OP_RELU = 4,   /* max(x, 0), clipped at an upper bound when one is given */
    PICPQ__OP_ACTQ = 5,   /* E8 activation quantizer */
    PICPQ__OP_ADD = 6,
    PICPQ__OP_SHORTCUT = 7, /* option A: subsample by stride, gather channels (-1 = zero) */
    PICPQ__OP_MAXPOOL = 8,
    PICPQ__OP_AVGPOOL = 9,
    PICPQ__OP_GAP = 10, /* adaptive average pooling to 1 x 1 */
    PICPQ__OP_FLATTEN = 11,
    PICPQ__OP_LAST = 11
};

/* One op: value i + 1 is the output of op i (value 0 is the input). */
typedef struct picpq__model_op {
    int32_t kind;
    int32_t src, src2; /* value ids; src2 for ADD only */
    int64_t c, h, w;   /* output shape of one image */
    int64_t in_c, in_h, in_w;
    int32_t kh, kw, sh, sw, ph, pw; /* conv and pool geometry; SHORTCUT: sh = sw = stride */
    int32_t groups;
    int32_t flag;     /* CONV/LINEAR: has bias; AVGPOOL: count_include_pad */
    int32_t bits;     /* CONV/LINEAR: weight bits; ACTQ: activation bits */
    float scale;      /* ACTQ: range [0, scale]; RELU: upper bound (0 = none) */
    float *weight;    /* CONV: c x in_c/groups x kh x kw; LINEAR: c x in_c; AFFINE: scale */
    float *bias;      /* CONV/LINEAR: c or NULL; AFFINE: shift */
    int32_t *index;   /* SHORTCUT: c input channels, -1 = zero */
    int32_t slot;     /* workspace slot of the output */
    int64_t col_rows; /* CONV: output rows per im2col tile (PICPQ__COL_FLOATS) */
    /* CONV run on codes (PICPQ_MODEL_INTEGER): weight codes instead of weight, the source's
     * activation code of x is x · ainv (2^k − 1 over its scale), y = Σ codes · a · step */
    int8_t *codes;
    int32_t code_lv; /* 2^k − 1 of the source quantizer (1 for 1 bit) while reading; 0 = float */
    float ainv, step;
    float *cstep; /* CONV on codes with a folded batch norm: c per-channel steps, else NULL */
    /* CONV on codes run by the direct VNNI kernel (chosen at load): its codes in the order
     * [c][tap][c4][4] (input channels in groups of 4, zero beyond in_c); 0 = the im2col
     * order [c][in_c / groups][kh][kw] */
    int32_t c4;
} picpq__model_op;

/* The im2col matrix of a conv is built and multiplied in tiles of whole
 * output rows of at most this many floats (at least one row), so that the
 * workspace stays small (`make runtime-m4` sets 4096). A whole-image matrix
 * measured no faster with OpenBLAS and took 3x the batch-1 workspace. The
 * portable GEMM sums each output in the same order whatever the tile. */
#ifndef PICPQ__COL_FLOATS
#define PICPQ__COL_FLOATS 16384
#endif

/* model_vnni.c: C (m x n, int32) = A (m x k, int8) · B (k x n, uint8; row p at b[p])
 * with AVX-512 VNNI when the CPU has it (returns 1; 0 = not run, use the portable
 * kernel), with picpq__gemm_codes_vnni_scratch(m, n, k) bytes of scratch. */
int picpq__gemm_codes_vnni(int64_t m, int64_t n, int64_t k, const int8_t *a,
                           const uint8_t *const *b, int32_t *c, uint8_t *scratch);
int64_t picpq__gemm_codes_vnni_scratch(int64_t m, int64_t n, int64_t k);
int picpq__vnni_available(void);
void picpq__vnni_enable(int on); /* for tests: 0 forces the portable kernel */
/* model_vnni.c, the direct kernel of a stride-1, one-group conv on codes with VNNI: no
 * im2col tile and no packing, the input held as groups of 4 channels interleaved per pixel
 * in zero-padded planes ([c4][hp][wp][4], then kw · 4 zero bytes). picpq__direct_groups:
 * the c4 such a conv gets at load (0: not for this conv or CPU); picpq__direct_input: that
 * layout from the codes of one image (in_c planes), through tmp (c4 · 4 · ⌈in_h · in_w⌉16
 * bytes) and rows (in_c pointers); picpq__direct_gemm: c (c x rows · wp, int32) for output
 * rows y0 .. y0 + rows − 1, each over the padded width wp. */
int32_t picpq__direct_groups(const picpq__model_op *o);
void picpq__direct_input(const picpq__model_op *o, const uint8_t *flat, uint8_t *tmp,
                         const uint8_t **rows, uint8_t *pad);
void picpq__direct_gemm(const picpq__model_op *o, const uint8_t *pad, int64_t y0, int64_t rows,
                        int32_t *c);
/* model_run.c: bytes of integer scratch a conv on codes needs (codes, tile, sums, packing) */
int64_t picpq__conv_codes_bytes(const picpq__model_op *o);

struct picpq_model {
    picpq_allocator alloc;
    int64_t in_c, in_h, in_w, classes;
    float *mean, *std; /* in_c each, or NULL: no normalisation */
    int32_t n_ops;
    picpq__model_op *ops;
    int32_t input_slot, n_slots;
    int64_t slot_elems; /* floats of the largest value of one image */
    int64_t col_elems;  /* floats of the largest im2col tile */
    int64_t int_bytes;  /* scratch of the largest conv run on codes (0: none) */
    uint32_t flags;     /* PICPQ_MODEL_* of the load */
};

struct picpq_model_workspace {
    const picpq_model *model;
    int64_t batch;
    float *slots;            /* n_slots x batch x slot_elems */
    float *col;              /* col_elems */
    unsigned char *iscratch; /* int_bytes: activation codes, their im2col tile, int32 sums */
};

/* ---- quant (quant.c) ------------------------------------------------ */

#endif /* PICPQ_INTERNAL_H */
