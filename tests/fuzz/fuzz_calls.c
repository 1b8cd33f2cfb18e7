/* libFuzzer harness of random call sequences (tests/fuzz/run.sh calls).
 *
 * The input is a program: each op byte picks a call on a net, a plan (two,
 * for compute_multi), a search, a ranker or the bit/quantizer functions, and
 * the following bytes give its arguments, drawn from extreme values (0,
 * negatives, 2^31, INT64_MAX, NaN, ±Inf, 1e308, denormals) as often as from
 * small ones. Calls come in any order: on a net that changed after its plan,
 * on a search whose net is empty, twice, never. Every call must return a
 * documented status (>= PICPQ_E_* range, never a crash), a failure must set
 * the thread's message, and when the program ends every handle is freed
 * and the harness allocator (which also fails its k-th allocation, k from
 * the input, and refuses blocks over 64 MiB) has no live block left. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PICPQ_EXPERIMENTAL
#include "picpq.h"

#define MAX_LAYERS 48
#define MAX_VEC 4096

typedef struct input {
    const uint8_t *p, *end;
} input;

static unsigned u8(input *in)
{
    return in->p < in->end ? *in->p++ : 0;
}

static int64_t pick_i64(input *in)
{
    static const int64_t extreme[] = {0,
                                      1,
                                      2,
                                      3,
                                      4,
                                      7,
                                      8,
                                      16,
                                      -1,
                                      -2,
                                      INT32_MAX,
                                      INT32_MIN,
                                      (int64_t)1 << 31,
                                      (int64_t)1 << 40,
                                      INT64_MAX,
                                      INT64_MIN,
                                      1000003,
                                      -1000003};
    const unsigned sel = u8(in);
    if (sel < 128) return (int64_t)(sel % 9); /* small sizes, the usual case */
    if (sel < 192) return (int64_t)(sel - 128) * 3 + 1;
    return extreme[sel % (sizeof extreme / sizeof *extreme)];
}

static double pick_f64(input *in)
{
    static const double extreme[] = {0.0,       -0.0,   1.0,       -1.0,   0.5,
                                     1e-17,     5e-324, 1e308,     -1e308, HUGE_VAL,
                                     -HUGE_VAL, 2.0,    1.0 / 6.0, 1e9,    1e-300};
    const unsigned sel = u8(in);
    if (sel < 16) return NAN;
    if (sel < 160) return (double)(sel - 16) / 64.0; /* 0 .. 2.25 */
    return extreme[sel % (sizeof extreme / sizeof *extreme)];
}

/* ---- an allocator that fails on request and counts live blocks ---------- */
typedef struct harness_alloc {
    long calls, fail_at, live;
} harness_alloc;

static void *ha_alloc(void *ud, size_t size)
{
    harness_alloc *ha = ud;
    void *p;
    if (++ha->calls == ha->fail_at || size > ((size_t)1 << 26)) return NULL;
    p = malloc(size);
    if (p != NULL) ha->live++;
    return p;
}

static void ha_free(void *ud, void *ptr)
{
    harness_alloc *ha = ud;
    if (ptr != NULL) {
        ha->live--;
        free(ptr);
    }
}

typedef struct world {
    picpq_allocator al;
    picpq_net *net;
    picpq_plan *plan[2];
    picpq_search *search;
    picpq_ranker *ranker;
    uint64_t last_id;
    double a[MAX_LAYERS], b[MAX_LAYERS], sp[MAX_LAYERS];
    int32_t bits[MAX_LAYERS], maxb[MAX_LAYERS];
    double vec[MAX_VEC];
    uint8_t mask[MAX_VEC];
} world;

/* A status must be a known one, and a failure must leave a message. */
static void check(picpq_status st)
{
    if (st != PICPQ_OK && st != PICPQ_BUDGET_UNMET && st != PICPQ_DONE &&
        strcmp(picpq_status_string(st), picpq_status_string((picpq_status)-9999)) == 0)
        __builtin_trap();
    if (st < 0 && picpq_last_error()[0] == '\0') __builtin_trap();
}

static void drop_dependents(world *w)
{
    picpq_plan_free(w->plan[0]);
    picpq_plan_free(w->plan[1]);
    picpq_search_free(w->search);
    w->plan[0] = w->plan[1] = NULL;
    w->search = NULL;
}

static int32_t layers(const world *w)
{
    const int32_t n = picpq_net_num_layers(w->net);
    return n > MAX_LAYERS ? MAX_LAYERS : n;
}

static void fill_layers(world *w, input *in)
{
    int32_t l;
    for (l = 0; l < MAX_LAYERS; l++) {
        w->a[l] = pick_f64(in);
        w->b[l] = pick_f64(in);
        w->sp[l] = pick_f64(in);
        w->maxb[l] = (int32_t)pick_i64(in);
        if (in->p >= in->end) break;
    }
}

static void op_net(world *w, unsigned op, input *in)
{
    int32_t id = 0, l = (int32_t)pick_i64(in);
    int64_t n, i, v[7];
    picpq_status st = PICPQ_OK;
    for (i = 0; i < 7; i++) v[i] = pick_i64(in);
    switch (op) {
    case 0:
        if (picpq_net_num_layers(w->net) >= MAX_LAYERS) return;
        st = picpq_net_add_conv(w->net, v[0], v[1], v[2], v[3], v[4], v[5], v[6], &id);
        break;
    case 1:
        if (picpq_net_num_layers(w->net) >= MAX_LAYERS) return;
        st = picpq_net_add_linear(w->net, v[0], v[1], &id);
        break;
    case 2: st = picpq_net_connect(w->net, l, (int32_t)v[0]); break;
    case 3: st = picpq_net_couple(w->net, l, (int32_t)v[0]); break;
    case 4: st = picpq_net_set_prunable(w->net, l, (int)v[0]); break;
    case 5:
        n = v[0] < 0 || v[0] > MAX_VEC ? v[0] % MAX_VEC : v[0];
        for (i = 0; i < MAX_VEC && i < (n < 0 ? -n : n); i++) w->vec[i] = pick_f64(in);
        st = picpq_net_set_fp(w->net, l, w->vec, n);
        break;
    case 6: st = picpq_net_set_int(w->net, (picpq_param)(600 + v[0] % 4), v[1]); break;
    default: {
        double macs, params, bops;
        int32_t prod, chain;
        int64_t in_ch, out_ch;
        check(picpq_net_validate(w->net));
        check(picpq_net_macs(w->net, &macs));
        check(picpq_net_params(w->net, &params));
        fill_layers(w, in);
        check(picpq_net_bops(w->net, w->maxb, w->maxb, &bops));
        check(picpq_net_layer_links(w->net, l, &prod, &chain));
        check(picpq_net_layer_channels(w->net, l, &in_ch, &out_ch));
        st = picpq_net_fp(w->net, l, w->vec, v[0] < 0 || v[0] > MAX_VEC ? MAX_VEC : v[0]);
    }
    }
    check(st);
}

static void op_plan(world *w, unsigned op, input *in)
{
    const int k = (int)(u8(in) & 1);
    int32_t l = (int32_t)pick_i64(in);
    int64_t n = pick_i64(in), kept;
    uint64_t key;
    picpq_status st = PICPQ_OK;
    switch (op) {
    case 0:
        picpq_plan_free(w->plan[k]);
        w->plan[k] = NULL;
        st = picpq_plan_create_ex(w->net, &w->al, &w->plan[k]);
        if (st != PICPQ_OK && w->plan[k] != NULL) __builtin_trap();
        break;
    case 1: st = picpq_plan_set_int(w->plan[k], (picpq_param)(300 + u8(in) % 7), n); break;
    case 2:
        st = picpq_plan_set_double(w->plan[k], (picpq_param)(300 + u8(in) % 7), pick_f64(in));
        break;
    case 3:
        fill_layers(w, in);
        if (layers(w) == picpq_net_num_layers(w->net))
            st = picpq_plan_compute(w->plan[k], w->a, w->b, pick_f64(in));
        break;
    case 4: {
        picpq_plan *both[2];
        double keep[2];
        picpq_status sts[2];
        both[0] = w->plan[0];
        both[1] = w->plan[k ? 1 : 0]; /* sometimes the same plan twice */
        keep[0] = pick_f64(in);
        keep[1] = pick_f64(in);
        fill_layers(w, in);
        if (layers(w) == picpq_net_num_layers(w->net))
            st = picpq_plan_compute_multi(both, 2, w->a, w->b, keep, u8(in) & 1 ? sts : NULL);
        break;
    }
    case 5:
        check(picpq_plan_key(w->plan[k], &key));
        check(picpq_plan_kept(w->plan[k], l, &kept));
        st = picpq_plan_keep_mask(w->plan[k], l, w->mask, n < 0 || n > MAX_VEC ? MAX_VEC : n);
        break;
    case 6: {
        int64_t i;
        const int64_t m = n < 0 || n > MAX_VEC ? MAX_VEC : n;
        for (i = 0; i < m; i++) w->mask[i] = (uint8_t)(u8(in) % 3);
        st = picpq_plan_set_keep_mask(w->plan[k], l, w->mask, m);
        break;
    }
    default: {
        double macs, params, bops, budget, cost;
        fill_layers(w, in);
        check(picpq_plan_macs(w->plan[k], &macs));
        check(picpq_plan_params(w->plan[k], &params));
        check(picpq_plan_budget(w->plan[k], &budget, &cost));
        if (layers(w) == picpq_net_num_layers(w->net)) {
            check(picpq_plan_bops(w->plan[k], w->maxb, w->maxb, &bops));
            check(picpq_plan_importance(w->plan[k], l, w->a[0], w->b[0], w->vec,
                                        n < 0 || n > MAX_VEC ? MAX_VEC : n));
            st = picpq_quant_sparsity_from_plan(w->net, w->plan[k], w->sp);
        }
    }
    }
    check(st);
}

static void op_search(world *w, unsigned op, input *in)
{
    int64_t v = pick_i64(in), sample = 0;
    picpq_status st = PICPQ_OK;
    switch (op) {
    case 0:
        picpq_search_free(w->search);
        w->search = NULL;
        st = picpq_search_create_ex(w->net, (uint64_t)v, &w->al, &w->search);
        break;
    case 1: st = picpq_search_set_int(w->search, (picpq_param)(400 + u8(in) % 9), v); break;
    case 2:
        st = picpq_search_set_double(w->search, (picpq_param)(400 + u8(in) % 9), pick_f64(in));
        break;
    case 3: {
        int i, asks = 1 + (int)(u8(in) % 4);
        /* a tournament of up to 2^20 draws is legal but slow: ask when small */
        if (picpq_search_get_int(w->search, PICPQ_SEARCH_SAMPLE, &sample) == PICPQ_OK &&
            sample > 1024)
            return;
        for (i = 0; i < asks; i++) {
            st = picpq_search_ask(w->search, &w->last_id, w->a, w->b,
                                  u8(in) & 7 ? layers(w) : (int64_t)pick_i64(in) % MAX_LAYERS);
            check(st);
        }
        break;
    }
    case 4: {
        const uint64_t id = u8(in) & 1 ? w->last_id : (uint64_t)v;
        st = u8(in) & 1 ? picpq_search_tell_repeat(w->search, id, pick_f64(in))
                        : picpq_search_tell(w->search, id, pick_f64(in));
        break;
    }
    case 5: {
        size_t need = 0;
        void *buf;
        picpq_search *again = NULL;
        st = picpq_search_save(w->search, NULL, 0, &need);
        check(st);
        if (st != PICPQ_OK || need > ((size_t)1 << 24)) return;
        buf = malloc(need);
        if (buf == NULL) return;
        check(picpq_search_save(w->search, buf, need, &need));
        if (need > 0 && (u8(in) & 1))
            ((unsigned char *)buf)[u8(in) % need] ^= (unsigned char)u8(in);
        st = picpq_search_load_ex(w->net, buf, need, &w->al, &again);
        free(buf);
        if (st == PICPQ_OK) {
            picpq_search_free(w->search);
            w->search = again;
        } else if (again != NULL) {
            __builtin_trap();
        }
        break;
    }
    default: {
        double loss, hist[4];
        int64_t issued, told, count, i = pick_i64(in);
        uint64_t id;
        check(picpq_search_best(w->search, w->a, w->b, layers(w), &loss));
        check(picpq_search_stats(w->search, &issued, &told, NULL, &loss));
        check(picpq_search_history(w->search, hist, 4, &count));
        st = picpq_search_pending(w->search, i, &id, w->a, w->b, layers(w));
    }
    }
    check(st);
}

static void op_ranker(world *w, unsigned op, input *in)
{
    int32_t l = (int32_t)pick_i64(in);
    picpq_status st = PICPQ_OK;
    switch (op) {
    case 0: {
        int64_t ch[MAX_LAYERS];
        int32_t i, n = layers(w);
        for (i = 0; i < n; i++) {
            int64_t in_ch = 0, out_ch = 0;
            picpq_net_layer_channels(w->net, i, &in_ch, &out_ch);
            ch[i] = out_ch;
        }
        picpq_ranker_free(w->ranker);
        w->ranker = NULL;
        st = picpq_ranker_create_ex(u8(in) & 1 ? n : (int32_t)pick_i64(in), ch, &w->al, &w->ranker);
        break;
    }
    case 1: {
        /* B x C x H x W maps, each dimension small, values from the input */
        static float maps[4096];
        int64_t shape[4], i, numel = 1;
        picpq_tensor *t = NULL;
        for (i = 0; i < 4; i++) {
            shape[i] = (int64_t)(u8(in) % 9);
            numel *= shape[i];
        }
        if (numel > 4096) return;
        for (i = 0; i < numel; i++) maps[i] = (float)pick_f64(in);
        if (picpq_tensor_wrap(maps, PICPQ_F32, 4, shape, NULL, &t) != PICPQ_OK) return;
        check(picpq_ranker_set_int(w->ranker, PICPQ_RANK_THREADS, 1 + (int64_t)(u8(in) % 2)));
        st = picpq_ranker_feed(w->ranker, l, t);
        picpq_tensor_free(t);
        break;
    }
    case 2: st = picpq_ranker_fp_to_net(w->ranker, w->net); break;
    case 3:
        st = picpq_ranker_set_double(w->ranker, (picpq_param)(200 + u8(in) % 3), pick_f64(in));
        break;
    default: {
        const int64_t n = pick_i64(in);
        st = picpq_ranker_fp(w->ranker, l, w->vec, n < 0 || n > MAX_VEC ? MAX_VEC : n);
    }
    }
    check(st);
}

static void op_quant(world *w, unsigned op, input *in)
{
    picpq_status st = PICPQ_OK;
    double tau;
    switch (op) {
    case 0:
        fill_layers(w, in);
        st = picpq_quant_bits_assign((int32_t)pick_i64(in) % MAX_LAYERS, w->sp, w->maxb,
                                     pick_f64(in), (int32_t)pick_i64(in), w->bits);
        break;
    case 1:
        fill_layers(w, in);
        if (layers(w) != picpq_net_num_layers(w->net)) return;
        st = picpq_quant_bits_solve(w->net, u8(in) & 1 ? w->plan[0] : NULL, w->sp, w->maxb,
                                    (int32_t)pick_i64(in), pick_f64(in) * 1e6, &tau, w->bits);
        check(st);
        if (u8(in) & 1) /* the bits just solved, or whatever the last call left */
            st = picpq_quant_bits_fill(w->net, u8(in) & 1 ? w->plan[0] : NULL, w->sp, w->maxb,
                                       (int32_t)pick_i64(in), pick_f64(in) * 1e6, w->bits);
        break;
    case 2: {
        static float x[256];
        static int8_t codes[256];
        const int64_t n = (int64_t)(u8(in) % 255) + 1;
        const int32_t bits = (int32_t)pick_i64(in);
        int64_t i;
        int32_t levels;
        float mag;
        uint8_t packed[256];
        size_t need;
        picpq_tensor *t = NULL;
        for (i = 0; i < n; i++) x[i] = (float)pick_f64(in);
        if (picpq_tensor_wrap(x, PICPQ_F32, 1, &n, NULL, &t) != PICPQ_OK) return;
        check(picpq_quant_weight_codes(t, bits, codes, n, &levels, &mag));
        check(picpq_quant_pack(codes, n, bits, packed, sizeof packed, &need));
        check(picpq_quant_activations(t, bits));
        st = picpq_quant_weights(t, bits);
        picpq_tensor_free(t);
        break;
    }
    default: {
        char text[2048];
        size_t need;
        fill_layers(w, in);
        if (layers(w) != picpq_net_num_layers(w->net)) return;
        st = picpq_lub_write(w->net, w->a, w->b, layers(w), text, sizeof text, &need);
        check(st);
        if (st == PICPQ_OK) st = picpq_lub_read(w->net, text, need - 1, w->a, w->b, layers(w));
    }
    }
    check(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    harness_alloc ha = {0, 0, 0};
    world w;
    input in;
    int steps = 0;
    in.p = data;
    in.end = data + size;
    memset(&w, 0, sizeof w);
    w.al.alloc = ha_alloc;
    w.al.free = ha_free;
    w.al.ud = &ha;
    ha.fail_at = (long)u8(&in) * 3; /* 0 = never */
    if (picpq_net_create_ex(&w.al, &w.net) != PICPQ_OK) {
        if (w.net != NULL || ha.live != 0) __builtin_trap();
        return 0;
    }
    while (in.p < in.end && steps++ < 64) {
        const unsigned op = u8(&in);
        switch (op % 6) {
        case 0: op_net(&w, (op / 6) % 8, &in); break;
        case 1:
            /* the net changes under its plans and search: legal, the calls report BAD_STATE */
            op_net(&w, (op / 6) % 2, &in);
            break;
        case 2: op_plan(&w, (op / 6) % 8, &in); break;
        case 3: op_search(&w, (op / 6) % 7, &in); break;
        case 4: op_ranker(&w, (op / 6) % 5, &in); break;
        default:
            if ((op / 6) % 16 == 15) drop_dependents(&w); /* then recreate them later */
            else op_quant(&w, (op / 6) % 4, &in);
        }
    }
    drop_dependents(&w);
    picpq_ranker_free(w.ranker);
    picpq_net_free(w.net);
    if (ha.live != 0) __builtin_trap();
    return 0;
}
