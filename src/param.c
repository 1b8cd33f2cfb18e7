/* The table of typed parameters: names, ranges, defaults and where each
 * handle stores them. Every handle's set/get and defaults go through the
 * generic functions here; a handle adds only its own rule (a hook). */
#include "picpq_internal.h"

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#define INT_PARAM(k, n, lo, hi, def, aut, type, field)                        \
    {                                                                         \
        k, n, PICPQ_PARAM_INT, lo, hi, def, aut, offsetof(struct type, field) \
    }
#define DBL_PARAM(k, n, lo, hi, def, aut, type, field)                           \
    {                                                                            \
        k, n, PICPQ_PARAM_DOUBLE, lo, hi, def, aut, offsetof(struct type, field) \
    }

static const picpq__param_desc params[] = {
    /* rank */
    INT_PARAM(PICPQ_RANK_THREADS, "rank.threads", 1, 1024, 1, 1, picpq_ranker, threads),
    DBL_PARAM(PICPQ_RANK_ATOL, "rank.atol", 0, DBL_MAX, 0, 0, picpq_ranker, atol),
    DBL_PARAM(PICPQ_RANK_RTOL, "rank.rtol", 0, 1, PICPQ_AUTO, 1, picpq_ranker, rtol),
    /* plan */
    INT_PARAM(PICPQ_PLAN_FAITHFUL, "plan.faithful", 0, 1, 0, 0, picpq_plan, faithful),
    INT_PARAM(PICPQ_PLAN_CHECK_EVERY, "plan.check_every", 1, INT32_MAX, PICPQ_AUTO, 1, picpq_plan,
              check_every),
    INT_PARAM(PICPQ_PLAN_CHAIN_REDUCE, "plan.chain_reduce", PICPQ_CHAIN_SUM, PICPQ_CHAIN_MAX,
              PICPQ_CHAIN_SUM, 0, picpq_plan, chain_reduce),
    DBL_PARAM(PICPQ_PLAN_SAFEGUARD, "plan.safeguard", 0, 1, 0.1, 0, picpq_plan, safeguard),
    INT_PARAM(PICPQ_PLAN_NUM_CLASSES, "plan.num_classes", 0, INT32_MAX, PICPQ_AUTO, 1, picpq_plan,
              num_classes),
    INT_PARAM(PICPQ_PLAN_BUDGET_KIND, "plan.budget_kind", PICPQ_BUDGET_MACS, PICPQ_BUDGET_PARAMS,
              PICPQ_BUDGET_MACS, 0, picpq_plan, budget_kind),
    INT_PARAM(PICPQ_PLAN_ROUND_TO, "plan.round_to", 1, INT32_MAX, 1, 0, picpq_plan, round_to),
    /* search */
    INT_PARAM(PICPQ_SEARCH_POPULATION, "search.population", 2, 1 << 20, 64, 0, picpq_search,
              population),
    INT_PARAM(PICPQ_SEARCH_SAMPLE, "search.sample", 1, 1 << 20, 16, 0, picpq_search, sample),
    INT_PARAM(PICPQ_SEARCH_GENERATIONS, "search.generations", 1, 1000000000, 400, 0, picpq_search,
              generations),
    DBL_PARAM(PICPQ_SEARCH_SIGMA, "search.sigma", DBL_MIN, 100, 1, 0, picpq_search, sigma),
    DBL_PARAM(PICPQ_SEARCH_MUTATE_FRACTION, "search.mutate_fraction", 0, 1, 0.1, 0, picpq_search,
              mutate_fraction),
    DBL_PARAM(PICPQ_SEARCH_ANNEAL, "search.anneal", 1, 1e6, 1.25, 0, picpq_search, anneal),
    DBL_PARAM(PICPQ_SEARCH_SHIFT_SCALE, "search.shift_scale", 0, 100, 1, 0, picpq_search,
              shift_scale),
    INT_PARAM(PICPQ_SEARCH_IDENTITY, "search.identity", 0, 1, 1, 0, picpq_search, identity),
    INT_PARAM(PICPQ_SEARCH_MAX_REPEATS, "search.max_repeats", 0, 1000000000, PICPQ_AUTO, 1,
              picpq_search, max_repeats),
    /* net */
    INT_PARAM(PICPQ_NET_BOPS_SKIP_FIRST, "net.bops_skip_first", 0, 1, 0, 0, picpq_net,
              bops_skip_first),
    INT_PARAM(PICPQ_NET_BOPS_DENSE_DEPTHWISE, "net.bops_dense_depthwise", 0, 1, 0, 0, picpq_net,
              bops_dense_depthwise),
    INT_PARAM(PICPQ_NET_BOPS_LINEAR_UNPRUNED, "net.bops_linear_unpruned", 0, 1, 0, 0, picpq_net,
              bops_linear_unpruned),
};

#define N_PARAMS (sizeof params / sizeof params[0])

const picpq__param_desc *picpq__param_find(picpq_param key)
{
    size_t i;
    for (i = 0; i < N_PARAMS; i++)
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

int picpq_param_has_auto(picpq_param key)
{
    const picpq__param_desc *d = picpq__param_find(key);
    return d != NULL && d->has_auto;
}

picpq_status picpq_param_from_name(const char *name, picpq_param *key)
{
    size_t i;
    picpq__clear_error();
    PICPQ__REQUIRE(name, "name");
    PICPQ__REQUIRE(key, "key");
    for (i = 0; i < N_PARAMS; i++) {
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

static int in_range(const picpq__param_desc *d, double value)
{
    if (d->has_auto && value == PICPQ_AUTO) return 1;
    return isfinite(value) && value >= d->lo && value <= d->hi;
}

static picpq_status out_of_range(const picpq__param_desc *d, double value, int64_t ivalue)
{
    const char *or_auto = d->has_auto ? " (or PICPQ_AUTO)" : "";
    if (d->type == PICPQ_PARAM_INT)
        return picpq__fail(PICPQ_E_OUT_OF_RANGE, "%s = %lld is outside [%.17g, %.17g]%s", d->name,
                           (long long)ivalue, d->lo, d->hi, or_auto);
    return picpq__fail(PICPQ_E_OUT_OF_RANGE, "%s = %.17g is outside [%.17g, %.17g]%s", d->name,
                       value, d->lo, d->hi, or_auto);
}

int picpq__param_all_ok(const void *obj, int group)
{
    size_t i;
    for (i = 0; i < N_PARAMS; i++) {
        const picpq__param_desc *d = &params[i];
        const char *field = (const char *)obj + d->offset;
        double v;
        if ((int)d->key < group || (int)d->key > group + 99) continue;
        if (d->type == PICPQ_PARAM_INT) {
            int64_t iv;
            memcpy(&iv, field, sizeof iv);
            v = (double)iv;
        } else {
            memcpy(&v, field, sizeof v);
        }
        if (!in_range(d, v)) return 0;
    }
    return 1;
}

void picpq__param_defaults(void *obj, int group)
{
    size_t i;
    for (i = 0; i < N_PARAMS; i++) {
        const picpq__param_desc *d = &params[i];
        char *field = (char *)obj + d->offset;
        if ((int)d->key < group || (int)d->key > group + 99) continue;
        if (d->type == PICPQ_PARAM_INT) *(int64_t *)(void *)field = (int64_t)d->def;
        else *(double *)(void *)field = d->def;
    }
}

/* One setter for every handle and type. An int key's ivalue is checked as
 * a double: its range lies within ±2^53, where the conversion is exact. */
static picpq_status set(void *obj, const char *name, int group, picpq_param key,
                        picpq_param_type type, double value, int64_t ivalue, picpq__param_hook hook)
{
    const picpq__param_desc *d;
    picpq_status s;
    char *field;
    picpq__clear_error();
    PICPQ__REQUIRE(obj, name);
    if ((s = check_key(key, group, type, &d)) != PICPQ_OK) return s;
    if (!in_range(d, value)) return out_of_range(d, value, ivalue);
    if (hook != NULL && (s = hook(obj, key)) != PICPQ_OK) return s;
    field = (char *)obj + d->offset;
    if (type == PICPQ_PARAM_INT) *(int64_t *)(void *)field = ivalue;
    else *(double *)(void *)field = value;
    return PICPQ_OK;
}

picpq_status picpq__param_set_int(void *obj, const char *name, int group, picpq_param key,
                                  int64_t value, picpq__param_hook hook)
{
    return set(obj, name, group, key, PICPQ_PARAM_INT, (double)value, value, hook);
}

picpq_status picpq__param_set_double(void *obj, const char *name, int group, picpq_param key,
                                     double value, picpq__param_hook hook)
{
    return set(obj, name, group, key, PICPQ_PARAM_DOUBLE, value, 0, hook);
}

static picpq_status get(const void *obj, const char *name, int group, picpq_param key,
                        picpq_param_type type, void *value)
{
    const picpq__param_desc *d;
    picpq_status s;
    picpq__clear_error();
    PICPQ__REQUIRE(obj, name);
    PICPQ__REQUIRE(value, "value");
    if ((s = check_key(key, group, type, &d)) != PICPQ_OK) return s;
    memcpy(value, (const char *)obj + d->offset,
           type == PICPQ_PARAM_INT ? sizeof(int64_t) : sizeof(double));
    return PICPQ_OK;
}

picpq_status picpq__param_get_int(const void *obj, const char *name, int group, picpq_param key,
                                  int64_t *value)
{
    return get(obj, name, group, key, PICPQ_PARAM_INT, value);
}

picpq_status picpq__param_get_double(const void *obj, const char *name, int group, picpq_param key,
                                     double *value)
{
    return get(obj, name, group, key, PICPQ_PARAM_DOUBLE, value);
}
