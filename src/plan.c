/* The plan handle: creation (chains, consumers and the whole workspace of
 * the greedy selection are built here, so computing never allocates),
 * parameters, keep masks. The selection itself is in plan_greedy.c. */
#include "picpq_internal.h"

#include <string.h>

#define PLAN_GROUP 300

/* ---- creation --------------------------------------------------------- */

void picpq_plan_free(picpq_plan *p)
{
    picpq_allocator a;
    if (p == NULL) return;
    a = p->alloc;
    picpq__free(&a, p->kept);
    picpq__free(&a, p->mask);
    picpq__free(&a, p->moff);
    picpq__free(&a, p->group_of);
    picpq__free(&a, p->gstart);
    picpq__free(&a, p->gmem);
    picpq__free(&a, p->gwidth);
    picpq__free(&a, p->cstart);
    picpq__free(&a, p->cons);
    picpq__free(&a, p->imp);
    picpq__free(&a, p->entries);
    picpq__free(&a, p->sort_tmp);
    picpq__free(&a, p->quota);
    picpq__free(&a, p->outk);
    picpq__free(&a, p->ink);
    picpq__free(&a, p->wmask);
    picpq__free(&a, p->pend);
    picpq__free(&a, p->npend);
    picpq__free(&a, p);
}

/* Zeroed array of count elements of size bytes, or NULL. */
static void *alloc_array(picpq_plan *p, int64_t count, size_t size)
{
    size_t c;
    if (!picpq__i64_to_size(count, &c)) return NULL;
    return picpq__calloc(&p->alloc, c, size);
}

/* Chains in the order of METHOD §5.5 step 1: numbered by their lowest layer
 * id, members ascending. Non-prunable layers belong to no chain. O(n log n)
 * (the union-find walks); outk serves as the root -> chain map. */
static void build_groups(picpq_plan *p)
{
    const picpq_net *net = p->net;
    int64_t *chain_of_root = p->outk;
    int32_t l, g;
    for (l = 0; l < p->n; l++) chain_of_root[l] = -1;
    p->ngroups = 0;
    for (l = 0; l < p->n; l++) {
        int32_t root = picpq__net_group_root(net, l);
        p->group_of[l] = -1;
        if (!net->layers[l].prunable) continue;
        if (chain_of_root[root] < 0) {
            g = p->ngroups++;
            chain_of_root[root] = g;
            p->gstart[g + 1] = 0;
            p->gwidth[g] = 0;
        }
        g = (int32_t)chain_of_root[root];
        p->group_of[l] = g;
        p->gstart[g + 1]++;
        if (net->layers[l].out_ch > p->gwidth[g]) p->gwidth[g] = net->layers[l].out_ch;
    }
    p->gstart[0] = 0;
    for (g = 0; g < p->ngroups; g++) p->gstart[g + 1] += p->gstart[g];
    for (g = 0; g < p->ngroups; g++) chain_of_root[g] = p->gstart[g]; /* fill cursors */
    for (l = 0; l < p->n; l++)
        if (p->group_of[l] >= 0) p->gmem[chain_of_root[p->group_of[l]]++] = l;
}

static void build_consumers(picpq_plan *p)
{
    const picpq_net *net = p->net;
    int32_t l;
    for (l = 0; l <= p->n; l++) p->cstart[l] = 0;
    for (l = 0; l < p->n; l++)
        if (net->layers[l].producer >= 0) p->cstart[net->layers[l].producer + 1]++;
    for (l = 0; l < p->n; l++) p->cstart[l + 1] += p->cstart[l];
    for (l = 0; l < p->n; l++) p->ink[l] = p->cstart[l]; /* fill cursor */
    for (l = 0; l < p->n; l++) {
        int32_t prod = net->layers[l].producer;
        if (prod >= 0) p->cons[p->ink[prod]++] = l;
    }
}

/* Fill moff (layer offsets into the per-filter arrays; the total fits int64
 * because it is below the net's MACs) and the last conv/linear ids. Return
 * the filter count, which also bounds the number of entries. */
static int64_t measure(picpq_plan *p)
{
    const picpq_net *net = p->net;
    int32_t l;
    int64_t total = 0;
    p->last_conv = p->last_linear = -1;
    for (l = 0; l < p->n; l++) {
        const picpq__layer *L = &net->layers[l];
        p->moff[l] = total;
        total += L->out_ch;
        if (L->kind == PICPQ_LAYER_CONV) p->last_conv = l;
        else p->last_linear = l;
    }
    p->moff[p->n] = total;
    return total;
}

static void reset_full(picpq_plan *p)
{
    int32_t l;
    memset(p->mask, 1, (size_t)p->moff[p->n]);
    for (l = 0; l < p->n; l++) p->kept[l] = p->net->layers[l].out_ch;
}

picpq_status picpq_plan_create_ex(const picpq_net *net, const picpq_allocator *alloc,
                                  picpq_plan **out)
{
    picpq_allocator a;
    picpq_plan *p;
    picpq_status s;
    int64_t filters, n;
    int32_t g;
    picpq__clear_error();
    PICPQ__REQUIRE(out, "out");
    *out = NULL;
    PICPQ__REQUIRE(net, "net");
    if ((s = picpq__allocator_init(&a, alloc)) != PICPQ_OK) return s;
    if (net->n == 0) return picpq__fail(PICPQ_E_INVALID_ARG, "plan: the net has no layers");
    if ((s = picpq_net_validate(net)) != PICPQ_OK) return s;
    p = picpq__calloc(&a, 1, sizeof *p);
    if (p == NULL) return picpq__fail(PICPQ_E_NOMEM, "plan: out of memory");
    p->alloc = a;
    p->net = net;
    p->generation = picpq__net_generation(net);
    p->n = net->n;
    picpq__param_defaults(p, PLAN_GROUP);
    n = net->n;
    if ((p->moff = alloc_array(p, n + 1, sizeof *p->moff)) == NULL) goto nomem;
    filters = measure(p);
    if ((p->kept = alloc_array(p, n, sizeof *p->kept)) == NULL ||
        (p->mask = alloc_array(p, filters, 1)) == NULL ||
        (p->group_of = alloc_array(p, n, sizeof *p->group_of)) == NULL ||
        (p->gstart = alloc_array(p, n + 1, sizeof *p->gstart)) == NULL ||
        (p->gmem = alloc_array(p, n, sizeof *p->gmem)) == NULL ||
        (p->gwidth = alloc_array(p, n, sizeof *p->gwidth)) == NULL ||
        (p->cstart = alloc_array(p, n + 1, sizeof *p->cstart)) == NULL ||
        (p->cons = alloc_array(p, n, sizeof *p->cons)) == NULL ||
        (p->imp = alloc_array(p, filters, sizeof *p->imp)) == NULL ||
        (p->entries = alloc_array(p, filters, sizeof *p->entries)) == NULL ||
        (p->sort_tmp = alloc_array(p, filters, sizeof *p->sort_tmp)) == NULL ||
        (p->quota = alloc_array(p, n, sizeof *p->quota)) == NULL ||
        (p->outk = alloc_array(p, n, sizeof *p->outk)) == NULL ||
        (p->ink = alloc_array(p, n, sizeof *p->ink)) == NULL ||
        (p->wmask = alloc_array(p, filters, 1)) == NULL ||
        (p->pend = alloc_array(p, filters, sizeof *p->pend)) == NULL ||
        (p->npend = alloc_array(p, n, sizeof *p->npend)) == NULL)
        goto nomem;
    build_groups(p);
    build_consumers(p);
    p->nentries = 0;
    for (g = 0; g < p->ngroups; g++) p->nentries += p->gwidth[g];
    reset_full(p);
    *out = p;
    return PICPQ_OK;
nomem:
    picpq_plan_free(p);
    return picpq__fail(PICPQ_E_NOMEM, "plan: out of memory");
}

picpq_status picpq_plan_create(const picpq_net *net, picpq_plan **out)
{
    return picpq_plan_create_ex(net, NULL, out);
}

/* ---- parameters ------------------------------------------------------- */

picpq_status picpq__plan_check_net(const picpq_plan *p)
{
    if (picpq__net_generation(p->net) != p->generation)
        return picpq__fail(PICPQ_E_BAD_STATE, "plan: the net changed after the plan was created");
    return PICPQ_OK;
}

picpq_status picpq_plan_set_int(picpq_plan *p, picpq_param key, int64_t v)
{
    return picpq__param_set_int(p, "p", PLAN_GROUP, key, v, NULL);
}

picpq_status picpq_plan_get_int(const picpq_plan *p, picpq_param key, int64_t *v)
{
    return picpq__param_get_int(p, "p", PLAN_GROUP, key, v);
}

picpq_status picpq_plan_set_double(picpq_plan *p, picpq_param key, double v)
{
    return picpq__param_set_double(p, "p", PLAN_GROUP, key, v, NULL);
}

picpq_status picpq_plan_get_double(const picpq_plan *p, picpq_param key, double *v)
{
    return picpq__param_get_double(p, "p", PLAN_GROUP, key, v);
}

/* ---- reading and setting the result ------------------------------------ */

picpq_status picpq__plan_check_owner(const picpq_plan *plan, const picpq_net *net)
{
    if (plan->net != net)
        return picpq__fail(PICPQ_E_INVALID_ARG, "plan was created on another net");
    return picpq__plan_check_net(plan);
}

static picpq_status plan_cost(const picpq_plan *p, picpq__cost_kind kind, const int32_t *wbits,
                              const int32_t *abits, double *out)
{
    picpq_status s;
    picpq__clear_error();
    PICPQ__REQUIRE(p, "p");
    if ((s = picpq__plan_check_net(p)) != PICPQ_OK) return s;
    return picpq__net_cost(p->net, p->kept, kind, wbits, abits, out);
}

picpq_status picpq_plan_macs(const picpq_plan *p, double *macs)
{
    return plan_cost(p, COST_MACS, NULL, NULL, macs);
}

picpq_status picpq_plan_params(const picpq_plan *p, double *params)
{
    return plan_cost(p, COST_PARAMS, NULL, NULL, params);
}

picpq_status picpq_plan_bops(const picpq_plan *p, const int32_t *wbits, const int32_t *abits,
                             double *bops)
{
    return plan_cost(p, COST_BOPS, wbits, abits, bops);
}

picpq_status picpq__plan_check_layer(const picpq_plan *p, int32_t layer)
{
    picpq_status s = picpq__plan_check_net(p);
    if (s == PICPQ_OK) s = picpq__net_check_layer(p->net, layer);
    return s;
}

picpq_status picpq_plan_kept(const picpq_plan *p, int32_t layer, int64_t *kept)
{
    picpq_status s;
    picpq__clear_error();
    PICPQ__REQUIRE(p, "p");
    PICPQ__REQUIRE(kept, "kept");
    if ((s = picpq__plan_check_layer(p, layer)) != PICPQ_OK) return s;
    *kept = p->kept[layer];
    return PICPQ_OK;
}

picpq_status picpq__plan_check_len(const picpq_plan *p, int32_t layer, int64_t n)
{
    int64_t width = p->net->layers[layer].out_ch;
    if (n != width)
        return picpq__fail(PICPQ_E_SHAPE, "keep mask of layer %d has %lld entries, expected %lld",
                           (int)layer, (long long)n, (long long)width);
    return PICPQ_OK;
}

picpq_status picpq_plan_keep_mask(const picpq_plan *p, int32_t layer, uint8_t *mask, int64_t n)
{
    picpq_status s;
    picpq__clear_error();
    PICPQ__REQUIRE(p, "p");
    PICPQ__REQUIRE(mask, "mask");
    if ((s = picpq__plan_check_layer(p, layer)) != PICPQ_OK) return s;
    if ((s = picpq__plan_check_len(p, layer, n)) != PICPQ_OK) return s;
    memcpy(mask, p->mask + p->moff[layer], (size_t)n);
    return PICPQ_OK;
}

/* Filters mask keeps. */
static int64_t count_kept(const uint8_t *mask, int64_t n)
{
    int64_t j, k = 0;
    for (j = 0; j < n; j++) k += mask[j];
    return k;
}

picpq_status picpq_plan_set_keep_mask(picpq_plan *p, int32_t layer, const uint8_t *mask, int64_t n)
{
    picpq_status s;
    int32_t g, i;
    int64_t j, kept;
    picpq__clear_error();
    PICPQ__REQUIRE(p, "p");
    PICPQ__REQUIRE(mask, "mask");
    if ((s = picpq__plan_check_layer(p, layer)) != PICPQ_OK) return s;
    if ((s = picpq__plan_check_len(p, layer, n)) != PICPQ_OK) return s;
    for (j = 0; j < n; j++) {
        if (mask[j] > 1)
            return picpq__fail(PICPQ_E_INVALID_ARG,
                               "keep mask of layer %d: mask[%lld] = %d is not 0 or 1", (int)layer,
                               (long long)j, (int)mask[j]);
        if (mask[j] == 0 && !p->net->layers[layer].prunable)
            return picpq__fail(PICPQ_E_INVALID_ARG,
                               "keep mask of layer %d: the layer is not prunable", (int)layer);
    }
    kept = count_kept(mask, n);
    if (kept == 0)
        return picpq__fail(PICPQ_E_INVALID_ARG, "keep mask of layer %d keeps no filter",
                           (int)layer);
    p->computed = 0;
    g = p->group_of[layer];
    if (g < 0) {
        memcpy(p->mask + p->moff[layer], mask, (size_t)n);
        p->kept[layer] = kept;
        return PICPQ_OK;
    }
    /* members of equal width have equal quotas, so the greedy always prunes
     * them identically: keep that invariant for host-given masks too */
    for (i = p->gstart[g]; i < p->gstart[g + 1]; i++) {
        int32_t m = p->gmem[i];
        if (p->net->layers[m].out_ch != n) continue;
        memcpy(p->mask + p->moff[m], mask, (size_t)n);
        p->kept[m] = kept;
    }
    return PICPQ_OK;
}

picpq_status picpq_plan_budget(const picpq_plan *p, double *budget, double *cost)
{
    picpq_status s;
    picpq__clear_error();
    PICPQ__REQUIRE(p, "p");
    if ((s = picpq__plan_check_net(p)) != PICPQ_OK) return s;
    if (!p->computed)
        return picpq__fail(PICPQ_E_BAD_STATE,
                           "plan_budget: the plan was not computed (or was set by hand since)");
    if (budget) *budget = p->budget;
    if (cost) *cost = p->cost;
    return PICPQ_OK;
}

/* FNV-1a over every layer's mask: equal plans give equal keys, and distinct
 * ones collide with probability ~2^-64 per pair (no adversary chooses them). */
picpq_status picpq_plan_key(const picpq_plan *p, uint64_t *key)
{
    picpq_status s;
    uint64_t h = 14695981039346656037ull;
    int64_t j;
    picpq__clear_error();
    PICPQ__REQUIRE(p, "p");
    PICPQ__REQUIRE(key, "key");
    if ((s = picpq__plan_check_net(p)) != PICPQ_OK) return s;
    for (j = 0; j < p->moff[p->n]; j++) {
        h ^= p->mask[j];
        h *= 1099511628211ull;
    }
    *key = h;
    return PICPQ_OK;
}
