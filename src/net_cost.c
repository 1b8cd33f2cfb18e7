/* Cost model of a picpq_net: MACs, weight count and BOPs, unpruned or with
 * given kept-filter counts (a plan's). Conventions: docs/BOPS.md. add_layer() keeps every total
 * (dense MACs x 32 x 32) within int64, so nothing here can overflow. */
#include "picpq_internal.h"

/* Filters kept by layer i (all of them without a plan). */
static int64_t kept_of(const picpq_net *net, const int64_t *kept, int32_t i)
{
    return kept ? kept[i] : net->layers[i].out_ch;
}

/* Input channels of layer i per group after pruning. A depthwise conv has
 * one input per group (its groups shrink with its filters) unless the
 * reference's dense-depthwise BOPs counter is asked for. */
static int64_t inputs_per_group(const picpq_net *net, const int64_t *kept, int32_t i, int dense_dw)
{
    const picpq__layer *L = &net->layers[i];
    int64_t in = L->in_ch;
    if (L->producer >= 0)
        in = kept_of(net, kept, L->producer) * picpq__net_inputs_per_channel(net, L);
    if (picpq__layer_is_depthwise(L)) return dense_dw ? in : 1;
    return in / L->groups; /* groups > 1 here means nothing around it is pruned */
}

static int64_t layer_cost(const picpq_net *net, const int64_t *kept, int32_t i,
                          picpq__cost_kind kind)
{
    const picpq__layer *L = &net->layers[i];
    int dense_dw = kind == COST_BOPS && net->bops_dense_depthwise;
    int64_t per_pair = kind == COST_PARAMS ? L->kh * L->kw : L->area;
    /* the reference VGG counter sizes its FC layers as declared */
    if (kind == COST_BOPS && net->bops_linear_unpruned && L->kind == PICPQ_LAYER_LINEAR)
        kept = NULL;
    return per_pair * inputs_per_group(net, kept, i, dense_dw) * kept_of(net, kept, i);
}

static int32_t first_conv(const picpq_net *net)
{
    int32_t i;
    for (i = 0; i < net->n; i++)
        if (net->layers[i].kind == PICPQ_LAYER_CONV) return i;
    return -1;
}

static picpq_status check_bits(const int32_t *bits, int32_t n, const char *name)
{
    int32_t i;
    if (bits == NULL) return PICPQ_OK;
    for (i = 0; i < n; i++)
        if (bits[i] < 1 || bits[i] > 32)
            return picpq__fail(PICPQ_E_OUT_OF_RANGE,
                               "%s[%d] = %d: layer %d's bits must be in 1..32", name, (int)i,
                               (int)bits[i], (int)i);
    return PICPQ_OK;
}

picpq_status picpq__net_cost(const picpq_net *net, const int64_t *kept, picpq__cost_kind kind,
                             const int32_t *wbits, const int32_t *abits, double *out)
{
    int64_t total = 0;
    int32_t i, skip;
    picpq_status s;
    PICPQ__REQUIRE(out, kind == COST_MACS ? "macs" : kind == COST_PARAMS ? "params" : "bops");
    if ((s = check_bits(wbits, net->n, "wbits")) != PICPQ_OK) return s;
    if ((s = check_bits(abits, net->n, "abits")) != PICPQ_OK) return s;
    skip = kind == COST_BOPS && net->bops_skip_first ? first_conv(net) : -1;
    for (i = 0; i < net->n; i++) {
        int64_t c;
        if (i == skip) continue;
        c = layer_cost(net, kept, i, kind);
        if (kind == COST_BOPS) c *= (int64_t)(wbits ? wbits[i] : 32) * (abits ? abits[i] : 32);
        total += c;
    }
    *out = (double)total;
    return PICPQ_OK;
}

picpq_status picpq_net_macs(const picpq_net *net, double *macs)
{
    picpq__clear_error();
    PICPQ__REQUIRE(net, "net");
    return picpq__net_cost(net, NULL, COST_MACS, NULL, NULL, macs);
}

picpq_status picpq_net_params(const picpq_net *net, double *params)
{
    picpq__clear_error();
    PICPQ__REQUIRE(net, "net");
    return picpq__net_cost(net, NULL, COST_PARAMS, NULL, NULL, params);
}

picpq_status picpq_net_bops(const picpq_net *net, const int32_t *wbits, const int32_t *abits,
                            double *bops)
{
    picpq__clear_error();
    PICPQ__REQUIRE(net, "net");
    return picpq__net_cost(net, NULL, COST_BOPS, wbits, abits, bops);
}
