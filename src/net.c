/* Network description: conv/linear layers, connections, couplings, FP,
 * validation. The cost model (MACs, params, BOPs) is in net_cost.c. */
#include "picpq_internal.h"

#include <math.h>
#include <string.h>

#define NET_GROUP 600

uint64_t picpq__net_generation(const picpq_net *net)
{
    return net->generation;
}

int picpq__layer_is_depthwise(const picpq__layer *L)
{
    return L->kind == PICPQ_LAYER_CONV && L->groups > 1 && L->groups == L->in_ch &&
           L->groups == L->out_ch;
}

int32_t picpq__net_group_root(const picpq_net *net, int32_t layer)
{
    while (net->layers[layer].uf_parent != layer) layer = net->layers[layer].uf_parent;
    return layer;
}

int64_t picpq__net_inputs_per_channel(const picpq_net *net, const picpq__layer *L)
{
    if (L->producer < 0 || L->kind == PICPQ_LAYER_CONV) return 1;
    return L->in_ch / net->layers[L->producer].out_ch;
}

picpq_status picpq__net_check_layer(const picpq_net *net, int32_t layer)
{
    if (layer < 0 || layer >= net->n)
        return picpq__fail(PICPQ_E_OUT_OF_RANGE, "layer %d is not in [0, %d)", (int)layer,
                           (int)net->n);
    return PICPQ_OK;
}

picpq_status picpq_net_create_ex(const picpq_allocator *alloc, picpq_net **out)
{
    picpq_allocator a;
    picpq_net *net;
    picpq_status s;
    picpq__clear_error();
    PICPQ__REQUIRE(out, "out");
    *out = NULL;
    s = picpq__allocator_init(&a, alloc);
    if (s != PICPQ_OK) return s;
    net = picpq__calloc(&a, 1, sizeof *net);
    if (net == NULL) return picpq__fail(PICPQ_E_NOMEM, "net: out of memory");
    net->alloc = a;
    picpq__param_defaults(net, NET_GROUP);
    *out = net;
    return PICPQ_OK;
}

picpq_status picpq_net_create(picpq_net **out)
{
    return picpq_net_create_ex(NULL, out);
}

void picpq_net_free(picpq_net *net)
{
    int32_t i;
    if (net == NULL) return;
    for (i = 0; i < net->n; i++) picpq__free(&net->alloc, net->layers[i].fp);
    picpq__free(&net->alloc, net->layers);
    picpq__free(&net->alloc, net);
}

/* Make room for one more layer (geometric growth). */
static picpq_status reserve_layer(picpq_net *net)
{
    picpq__layer *grown;
    int32_t cap;
    if (net->n == INT32_MAX)
        return picpq__fail(PICPQ_E_OUT_OF_RANGE, "net already has INT32_MAX layers");
    if (net->n < net->cap) return PICPQ_OK;
    cap = net->cap < 8 ? 8 : (net->cap > INT32_MAX / 2 ? INT32_MAX : net->cap * 2);
    grown = picpq__calloc(&net->alloc, (size_t)cap, sizeof *grown);
    if (grown == NULL) return picpq__fail(PICPQ_E_NOMEM, "net: out of memory adding a layer");
    if (net->n > 0) memcpy(grown, net->layers, (size_t)net->n * sizeof *grown);
    picpq__free(&net->alloc, net->layers);
    net->layers = grown;
    net->cap = cap;
    return PICPQ_OK;
}

/* Validate sizes, check that every cost of the net (dense-counted MACs
 * times 32x32 bits) still fits int64 with this layer, then append it. */
static picpq_status add_layer(picpq_net *net, const picpq__layer *L, int32_t *layer)
{
    int64_t area, dense, total, bops;
    picpq_status s;
    if (!picpq__mul_i64(L->out_h, L->out_w, &area) || !picpq__mul_i64(area, L->kh, &area) ||
        !picpq__mul_i64(area, L->kw, &area) || !picpq__mul_i64(area, L->in_ch, &dense) ||
        !picpq__mul_i64(dense, L->out_ch, &dense) ||
        !picpq__add_i64(net->dense_total, dense, &total) || !picpq__mul_i64(total, 32 * 32, &bops))
        return picpq__fail(PICPQ_E_OVERFLOW,
                           "layer %d: its MACs or the net's total BOPs overflow int64",
                           (int)net->n);
    s = reserve_layer(net);
    if (s != PICPQ_OK) return s;
    net->layers[net->n] = *L;
    net->layers[net->n].area = area;
    net->layers[net->n].producer = -1;
    net->layers[net->n].uf_parent = net->n;
    net->layers[net->n].uf_size = 1;
    net->layers[net->n].fp = NULL;
    net->layers[net->n].has_fp = 0;
    net->dense_total = total;
    if (layer) *layer = net->n;
    net->n++;
    net->generation++;
    return PICPQ_OK;
}

static picpq_status check_size(int64_t v, const char *name)
{
    if (v < 1)
        return picpq__fail(PICPQ_E_OUT_OF_RANGE, "%s = %lld must be >= 1", name, (long long)v);
    return PICPQ_OK;
}

picpq_status picpq_net_add_conv(picpq_net *net, int64_t in_ch, int64_t out_ch, int64_t kh,
                                int64_t kw, int64_t groups, int64_t out_h, int64_t out_w,
                                int32_t *layer)
{
    const int64_t v[7] = {in_ch, out_ch, kh, kw, groups, out_h, out_w};
    static const char *const names[7] = {"in_ch", "out_ch", "kh", "kw", "groups", "out_h", "out_w"};
    picpq__layer L;
    int i;
    picpq__clear_error();
    PICPQ__REQUIRE(net, "net");
    for (i = 0; i < 7; i++) {
        picpq_status s = check_size(v[i], names[i]);
        if (s != PICPQ_OK) return s;
    }
    if (in_ch % groups != 0 || out_ch % groups != 0)
        return picpq__fail(
            PICPQ_E_SHAPE,
            "conv layer %d: groups = %lld does not divide in_ch = %lld and out_ch = %lld",
            (int)net->n, (long long)groups, (long long)in_ch, (long long)out_ch);
    memset(&L, 0, sizeof L);
    L.kind = PICPQ_LAYER_CONV;
    L.in_ch = in_ch;
    L.out_ch = out_ch;
    L.kh = kh;
    L.kw = kw;
    L.groups = groups;
    L.out_h = out_h;
    L.out_w = out_w;
    L.prunable = 1;
    return add_layer(net, &L, layer);
}

picpq_status picpq_net_add_linear(picpq_net *net, int64_t in_features, int64_t out_features,
                                  int32_t *layer)
{
    picpq__layer L;
    picpq_status s;
    picpq__clear_error();
    PICPQ__REQUIRE(net, "net");
    s = check_size(in_features, "in_features");
    if (s == PICPQ_OK) s = check_size(out_features, "out_features");
    if (s != PICPQ_OK) return s;
    memset(&L, 0, sizeof L);
    L.kind = PICPQ_LAYER_LINEAR;
    L.in_ch = in_features;
    L.out_ch = out_features;
    L.kh = L.kw = L.groups = L.out_h = L.out_w = 1;
    L.prunable = 0;
    return add_layer(net, &L, layer);
}

/* Channel agreement of one connection (layers never change afterwards). */
static picpq_status check_connection(const picpq_net *net, int32_t producer, int32_t consumer)
{
    const picpq__layer *P = &net->layers[producer], *C = &net->layers[consumer];
    if (C->kind == PICPQ_LAYER_CONV && C->in_ch != P->out_ch)
        return picpq__fail(
            PICPQ_E_SHAPE,
            "connection %d -> %d: conv layer %d has in_ch = %lld but layer %d has out_ch = %lld",
            (int)producer, (int)consumer, (int)consumer, (long long)C->in_ch, (int)producer,
            (long long)P->out_ch);
    if (C->kind == PICPQ_LAYER_LINEAR && C->in_ch % P->out_ch != 0)
        return picpq__fail(PICPQ_E_SHAPE,
                           "connection %d -> %d: linear layer %d has in_features = %lld, not a "
                           "multiple of layer %d's out_ch = %lld",
                           (int)producer, (int)consumer, (int)consumer, (long long)C->in_ch,
                           (int)producer, (long long)P->out_ch);
    return PICPQ_OK;
}

picpq_status picpq_net_connect(picpq_net *net, int32_t producer, int32_t consumer)
{
    picpq_status s;
    picpq__clear_error();
    PICPQ__REQUIRE(net, "net");
    if ((s = picpq__net_check_layer(net, producer)) != PICPQ_OK) return s;
    if ((s = picpq__net_check_layer(net, consumer)) != PICPQ_OK) return s;
    if (producer == consumer)
        return picpq__fail(PICPQ_E_INVALID_ARG, "connect: layer %d cannot feed itself",
                           (int)producer);
    if (net->layers[consumer].producer >= 0)
        return picpq__fail(PICPQ_E_INVALID_ARG, "connect: layer %d is already fed by layer %d",
                           (int)consumer, (int)net->layers[consumer].producer);
    if ((s = check_connection(net, producer, consumer)) != PICPQ_OK) return s;
    net->layers[consumer].producer = producer;
    net->generation++;
    return PICPQ_OK;
}

picpq_status picpq_net_couple(picpq_net *net, int32_t a, int32_t b)
{
    int32_t ra, rb, i;
    picpq_status s;
    const int32_t ab[2] = {a, b};
    picpq__clear_error();
    PICPQ__REQUIRE(net, "net");
    for (i = 0; i < 2; i++) {
        if ((s = picpq__net_check_layer(net, ab[i])) != PICPQ_OK) return s;
        if (net->layers[ab[i]].kind != PICPQ_LAYER_CONV)
            return picpq__fail(PICPQ_E_INVALID_ARG, "couple: layer %d is not a conv layer",
                               (int)ab[i]);
    }
    ra = picpq__net_group_root(net, a);
    rb = picpq__net_group_root(net, b);
    if (ra != rb) {
        /* union by size keeps every find O(log n) without path compression,
         * so const functions can walk the tree */
        if (net->layers[ra].uf_size < net->layers[rb].uf_size) {
            int32_t t = ra;
            ra = rb;
            rb = t;
        }
        net->layers[rb].uf_parent = ra;
        net->layers[ra].uf_size += net->layers[rb].uf_size;
    }
    net->generation++;
    return PICPQ_OK;
}

/* A parameter changes what the net's costs mean: plans made before fail. */
static picpq_status bump_generation(void *obj, picpq_param key)
{
    (void)key;
    ((picpq_net *)obj)->generation++;
    return PICPQ_OK;
}

picpq_status picpq_net_set_int(picpq_net *net, picpq_param key, int64_t v)
{
    return picpq__param_set_int(net, "net", NET_GROUP, key, v, bump_generation);
}

picpq_status picpq_net_get_int(const picpq_net *net, picpq_param key, int64_t *v)
{
    return picpq__param_get_int(net, "net", NET_GROUP, key, v);
}

picpq_status picpq_net_set_prunable(picpq_net *net, int32_t layer, int prunable)
{
    picpq_status s;
    picpq__clear_error();
    PICPQ__REQUIRE(net, "net");
    if ((s = picpq__net_check_layer(net, layer)) != PICPQ_OK) return s;
    if (prunable != 0 && prunable != 1)
        return picpq__fail(PICPQ_E_INVALID_ARG,
                           "set_prunable: layer %d: prunable = %d is not 0 or 1", (int)layer,
                           prunable);
    if (prunable && net->layers[layer].kind == PICPQ_LAYER_LINEAR)
        return picpq__fail(PICPQ_E_UNSUPPORTED,
                           "set_prunable: layer %d is linear; only conv layers are pruned",
                           (int)layer);
    net->layers[layer].prunable = prunable;
    net->generation++;
    return PICPQ_OK;
}

const double *picpq__net_fp(const picpq_net *net, int32_t layer)
{
    return net->layers[layer].has_fp ? net->layers[layer].fp : NULL;
}

picpq_status picpq__net_reserve_fp(picpq_net *net, const int64_t *which)
{
    int32_t l, failed = -1;
    for (l = 0; l < net->n && failed < 0; l++) {
        picpq__layer *L = &net->layers[l];
        if (which[l] != 0 && L->fp == NULL &&
            (L->fp = picpq__calloc(&net->alloc, (size_t)L->out_ch, sizeof(double))) == NULL)
            failed = l;
    }
    if (failed < 0) return PICPQ_OK;
    for (l = 0; l < failed; l++) /* storage without values is harmless, but give it back */
        if (which[l] != 0 && !net->layers[l].has_fp) {
            picpq__free(&net->alloc, net->layers[l].fp);
            net->layers[l].fp = NULL;
        }
    return picpq__fail(PICPQ_E_NOMEM, "net: out of memory for the FP of layer %d", (int)failed);
}

picpq_status picpq_net_set_fp(picpq_net *net, int32_t layer, const double *fp, int64_t n)
{
    picpq__layer *L;
    picpq_status s;
    int64_t i;
    size_t count;
    picpq__clear_error();
    PICPQ__REQUIRE(net, "net");
    PICPQ__REQUIRE(fp, "fp");
    if ((s = picpq__net_check_layer(net, layer)) != PICPQ_OK) return s;
    L = &net->layers[layer];
    if (n != L->out_ch)
        return picpq__fail(PICPQ_E_SHAPE, "set_fp: layer %d has %lld filters, got n = %lld",
                           (int)layer, (long long)L->out_ch, (long long)n);
    for (i = 0; i < n; i++)
        if (!isfinite(fp[i]))
            return picpq__fail(PICPQ_E_NONFINITE, "set_fp: layer %d: fp[%lld] is not finite",
                               (int)layer, (long long)i);
    if (L->fp == NULL) {
        if (!picpq__i64_to_size(n, &count) ||
            (L->fp = picpq__calloc(&net->alloc, count, sizeof(double))) == NULL)
            return picpq__fail(PICPQ_E_NOMEM, "set_fp: layer %d: out of memory", (int)layer);
    }
    memcpy(L->fp, fp, (size_t)n * sizeof(double));
    L->has_fp = 1;
    return PICPQ_OK;
}

picpq_status picpq_net_fp(const picpq_net *net, int32_t layer, double *fp, int64_t n)
{
    const picpq__layer *L;
    picpq_status s;
    picpq__clear_error();
    PICPQ__REQUIRE(net, "net");
    PICPQ__REQUIRE(fp, "fp");
    if ((s = picpq__net_check_layer(net, layer)) != PICPQ_OK) return s;
    L = &net->layers[layer];
    if (n != L->out_ch)
        return picpq__fail(PICPQ_E_SHAPE, "fp: layer %d has %lld filters, got n = %lld", (int)layer,
                           (long long)L->out_ch, (long long)n);
    if (!L->has_fp)
        return picpq__fail(PICPQ_E_BAD_STATE, "fp: no FP was set for layer %d", (int)layer);
    memcpy(fp, L->fp, (size_t)n * sizeof(double));
    return PICPQ_OK;
}

int32_t picpq_net_num_layers(const picpq_net *net)
{
    return net ? net->n : 0;
}

picpq_status picpq_net_layer_kind(const picpq_net *net, int32_t layer, picpq_layer_kind *kind)
{
    picpq_status s;
    picpq__clear_error();
    PICPQ__REQUIRE(net, "net");
    PICPQ__REQUIRE(kind, "kind");
    if ((s = picpq__net_check_layer(net, layer)) != PICPQ_OK) return s;
    *kind = net->layers[layer].kind;
    return PICPQ_OK;
}

picpq_status picpq_net_layer_channels(const picpq_net *net, int32_t layer, int64_t *in_ch,
                                      int64_t *out_ch)
{
    picpq_status s;
    picpq__clear_error();
    PICPQ__REQUIRE(net, "net");
    if ((s = picpq__net_check_layer(net, layer)) != PICPQ_OK) return s;
    if (in_ch) *in_ch = net->layers[layer].in_ch;
    if (out_ch) *out_ch = net->layers[layer].out_ch;
    return PICPQ_OK;
}

picpq_status picpq_net_layer_geometry(const picpq_net *net, int32_t layer, int64_t *kh, int64_t *kw,
                                      int64_t *groups, int64_t *out_h, int64_t *out_w)
{
    const picpq__layer *L;
    picpq_status s;
    picpq__clear_error();
    PICPQ__REQUIRE(net, "net");
    if ((s = picpq__net_check_layer(net, layer)) != PICPQ_OK) return s;
    L = &net->layers[layer];
    if (kh) *kh = L->kh;
    if (kw) *kw = L->kw;
    if (groups) *groups = L->groups;
    if (out_h) *out_h = L->out_h;
    if (out_w) *out_w = L->out_w;
    return PICPQ_OK;
}

picpq_status picpq_net_layer_links(const picpq_net *net, int32_t layer, int32_t *producer,
                                   int32_t *chain)
{
    picpq_status s;
    int32_t root, first;
    picpq__clear_error();
    PICPQ__REQUIRE(net, "net");
    if ((s = picpq__net_check_layer(net, layer)) != PICPQ_OK) return s;
    if (producer) *producer = net->layers[layer].producer;
    if (chain) {
        root = picpq__net_group_root(net, layer);
        for (first = 0; picpq__net_group_root(net, first) != root; first++) continue;
        *chain = first;
    }
    return PICPQ_OK;
}

picpq_status picpq_net_is_prunable(const picpq_net *net, int32_t layer, int *prunable)
{
    picpq_status s;
    picpq__clear_error();
    PICPQ__REQUIRE(net, "net");
    PICPQ__REQUIRE(prunable, "prunable");
    if ((s = picpq__net_check_layer(net, layer)) != PICPQ_OK) return s;
    *prunable = net->layers[layer].prunable;
    return PICPQ_OK;
}

/* Each layer has at most one producer, so walking producers from a layer
 * either ends (-1) or loops. A loop must contain a link to a higher id, so
 * only walks that start at such a link are needed (none in the usual
 * topologically ordered net). */
static picpq_status check_acyclic(const picpq_net *net)
{
    int32_t i, j, steps;
    for (i = 0; i < net->n; i++) {
        if (net->layers[i].producer <= i) continue;
        for (steps = 0, j = i; j >= 0 && steps <= net->n; steps++) j = net->layers[j].producer;
        if (j >= 0)
            return picpq__fail(PICPQ_E_INVALID_ARG,
                               "validate: the connections through layer %d form a cycle", (int)i);
    }
    return PICPQ_OK;
}

/* Coupled layers share the prunable flag; a depthwise conv is coupled to its
 * producer; grouped convs that are not depthwise are never pruned through. */
static picpq_status check_layer_rules(const picpq_net *net, int32_t i)
{
    const picpq__layer *L = &net->layers[i];
    int32_t root = picpq__net_group_root(net, i);
    if (net->layers[root].prunable != L->prunable)
        return picpq__fail(PICPQ_E_INVALID_ARG,
                           "validate: coupled layers %d and %d disagree on being prunable",
                           (int)root, (int)i);
    if (picpq__layer_is_depthwise(L) && L->producer >= 0 &&
        picpq__net_group_root(net, L->producer) != root)
        return picpq__fail(PICPQ_E_INVALID_ARG,
                           "validate: depthwise layer %d is not coupled to its producer %d", (int)i,
                           (int)L->producer);
    if (L->groups > 1 && !picpq__layer_is_depthwise(L) &&
        (L->prunable || (L->producer >= 0 && net->layers[L->producer].prunable)))
        return picpq__fail(
            PICPQ_E_UNSUPPORTED,
            "validate: grouped conv %d (groups = %lld) cannot be pruned or fed by a prunable layer",
            (int)i, (long long)L->groups);
    return PICPQ_OK;
}

picpq_status picpq_net_validate(const picpq_net *net)
{
    int32_t i;
    picpq_status s;
    picpq__clear_error();
    PICPQ__REQUIRE(net, "net");
    for (i = 0; i < net->n; i++)
        if ((s = check_layer_rules(net, i)) != PICPQ_OK) return s;
    return check_acyclic(net);
}
