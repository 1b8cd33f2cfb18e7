/* The table of typed parameters: names, ranges and defaults. Each handle's
 * set_int/set_double validates through picpq__param_check_*; the handle then
 * stores the value itself. */
#include "picpq_internal.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define INT_PARAM(k, n, lo, hi, def) {k, n, PICPQ_PARAM_INT, lo, hi, def}
#define DBL_PARAM(k, n, lo, hi, def) {k, n, PICPQ_PARAM_DOUBLE, lo, hi, def}

static const picpq__param_desc params[] = {
    /* rank */
    INT_PARAM(PICPQ_RANK_THREADS, "rank.threads", 0, 1024, 1),
    DBL_PARAM(PICPQ_RANK_ATOL, "rank.atol", 0, DBL_MAX, 0),
    DBL_PARAM(PICPQ_RANK_RTOL, "rank.rtol", -1, 1, -1),
    /* plan */
    INT_PARAM(PICPQ_PLAN_FAITHFUL, "plan.faithful", 0, 1, 0),
    INT_PARAM(PICPQ_PLAN_CHECK_EVERY, "plan.check_every", 0, INT32_MAX, 0),
    INT_PARAM(PICPQ_PLAN_CHAIN_REDUCE, "plan.chain_reduce", PICPQ_CHAIN_SUM, PICPQ_CHAIN_MAX,
              PICPQ_CHAIN_SUM),
    DBL_PARAM(PICPQ_PLAN_SAFEGUARD, "plan.safeguard", 0, 1, 0.1),
    INT_PARAM(PICPQ_PLAN_NUM_CLASSES, "plan.num_classes", -1, INT32_MAX, -1),
    INT_PARAM(PICPQ_PLAN_BUDGET_KIND, "plan.budget_kind", PICPQ_BUDGET_MACS, PICPQ_BUDGET_PARAMS,
              PICPQ_BUDGET_MACS),
    /* search */
    INT_PARAM(PICPQ_SEARCH_POPULATION, "search.population", 2, 1 << 20, 64),
    INT_PARAM(PICPQ_SEARCH_SAMPLE, "search.sample", 1, 1 << 20, 16),
    INT_PARAM(PICPQ_SEARCH_GENERATIONS, "search.generations", 1, 1000000000, 400),
    DBL_PARAM(PICPQ_SEARCH_SIGMA, "search.sigma", DBL_MIN, 100, 1),
    DBL_PARAM(PICPQ_SEARCH_MUTATE_FRACTION, "search.mutate_fraction", 0, 1, 0.1),
    DBL_PARAM(PICPQ_SEARCH_ANNEAL, "search.anneal", 1, 1e6, 1.25),
    DBL_PARAM(PICPQ_SEARCH_SHIFT_SCALE, "search.shift_scale", 0, 100, 1),
    INT_PARAM(PICPQ_SEARCH_IDENTITY, "search.identity", 0, 1, 1),
    /* net */
    INT_PARAM(PICPQ_NET_BOPS_SKIP_FIRST, "net.bops_skip_first", 0, 1, 0),
    INT_PARAM(PICPQ_NET_BOPS_DENSE_DEPTHWISE, "net.bops_dense_depthwise", 0, 1, 0),
    INT_PARAM(PICPQ_NET_BOPS_LINEAR_UNPRUNED, "net.bops_linear_unpruned", 0, 1, 0),
};

const picpq__param_desc *picpq__param_find(picpq_param key)
{
    size_t i;
    for (i = 0; i < sizeof params / sizeof params[0]; i++)
        if (params[i].key == key) return &params[i];
    return NULL;
}

picpq_status picpq_param_range(picpq_param key, picpq_param_type *type, double *lo, double *hi,
                               double *def)
{
    const picpq__param_desc *d = picpq__param_find(key);
    picpq__clear_error();
    if (d == NULL) return picpq__fail(PICPQ_E_INVALID_ARG, "unknown parameter key %d", (int)key);
    if (type) *type = d->type;
    if (lo) *lo = d->lo;
    if (hi) *hi = d->hi;
    if (def) *def = d->def;
    return PICPQ_OK;
}

picpq_status picpq_param_from_name(const char *name, picpq_param *key)
{
    size_t i;
    picpq__clear_error();
    PICPQ__REQUIRE(name, "name");
    PICPQ__REQUIRE(key, "key");
    for (i = 0; i < sizeof params / sizeof params[0]; i++) {
        if (strcmp(params[i].name, name) == 0) {
            *key = params[i].key;
            return PICPQ_OK;
        }
    }
    return picpq__fail(PICPQ_E_INVALID_ARG, "unknown parameter name \"%.100s\"", name);
}

const char *picpq_param_name(picpq_param key)
{
    const picpq__param_desc *d = picpq__param_find(key);
    return d ? d->name : NULL;
}

/* The key exists, belongs to the handle's group and has the expected type. */
static picpq_status check_key(picpq_param key, int group, picpq_param_type type,
                              const picpq__param_desc **out)
{
    const picpq__param_desc *d = picpq__param_find(key);
    if (d == NULL || (int)key < group || (int)key > group + 99)
        return picpq__fail(PICPQ_E_INVALID_ARG, "parameter key %d does not apply to this handle",
                           (int)key);
    if (d->type != type)
        return picpq__fail(PICPQ_E_INVALID_ARG, "parameter %s is %s-valued: use set_%s", d->name,
                           d->type == PICPQ_PARAM_INT ? "integer" : "double",
                           d->type == PICPQ_PARAM_INT ? "int" : "double");
    *out = d;
    return PICPQ_OK;
}

picpq_status picpq__param_check_key(picpq_param key, int group, picpq_param_type type)
{
    const picpq__param_desc *unused;
    return check_key(key, group, type, &unused);
}

int picpq__param_value_ok(picpq_param key, double value)
{
    const picpq__param_desc *d = picpq__param_find(key);
    return d != NULL && isfinite(value) && value >= d->lo && value <= d->hi;
}

picpq_status picpq__param_check_int(picpq_param key, int group, int64_t value)
{
    const picpq__param_desc *d;
    picpq_status s = check_key(key, group, PICPQ_PARAM_INT, &d);
    if (s != PICPQ_OK) return s;
    if ((double)value < d->lo || (double)value > d->hi)
        return picpq__fail(PICPQ_E_OUT_OF_RANGE, "%s = %lld is outside [%.17g, %.17g]", d->name,
                           (long long)value, d->lo, d->hi);
    return PICPQ_OK;
}

picpq_status picpq__param_check_double(picpq_param key, int group, double value)
{
    const picpq__param_desc *d;
    picpq_status s = check_key(key, group, PICPQ_PARAM_DOUBLE, &d);
    if (s != PICPQ_OK) return s;
    if (!isfinite(value) || value < d->lo || value > d->hi)
        return picpq__fail(PICPQ_E_OUT_OF_RANGE, "%s = %.17g is outside [%.17g, %.17g]", d->name,
                           value, d->lo, d->hi);
    return PICPQ_OK;
}
