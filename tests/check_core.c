/* Status codes, messages, versions, parameters and allocator hooks. */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "picpq_internal.h"
#include "testutil.h"

START_TEST(test_version)
{
    ck_assert_int_eq(picpq_version_number(), PICPQ_VERSION_NUMBER);
    ck_assert_int_eq(picpq_version_number(), 300);
    ck_assert_str_eq(picpq_version_string(), "0.3.0");
    ck_assert_str_eq(picpq_version_string(), PICPQ_VERSION_STRING);
}
END_TEST

START_TEST(test_status_values_fixed)
{
    /* The numbers are ABI: they must never change. */
    ck_assert_int_eq(PICPQ_OK, 0);
    ck_assert_int_eq(PICPQ_E_INVALID_ARG, -1);
    ck_assert_int_eq(PICPQ_E_NOMEM, -2);
    ck_assert_int_eq(PICPQ_E_OUT_OF_RANGE, -3);
    ck_assert_int_eq(PICPQ_E_SHAPE, -4);
    ck_assert_int_eq(PICPQ_E_OVERFLOW, -5);
    ck_assert_int_eq(PICPQ_E_NONFINITE, -20);
    ck_assert_int_eq(PICPQ_E_NO_CONVERGENCE, -21);
    ck_assert_int_eq(PICPQ_E_BAD_STATE, -40);
    ck_assert_int_eq(PICPQ_E_FORMAT, -41);
    ck_assert_int_eq(PICPQ_E_UNSUPPORTED, -42);
    ck_assert_int_eq(PICPQ_E_INTERNAL, -60);
    ck_assert_int_eq(PICPQ_DONE, 1);
    ck_assert_int_eq(PICPQ_BUDGET_UNMET, 2);
}
END_TEST

START_TEST(test_status_strings)
{
    static const picpq_status all[] = {
        PICPQ_OK,          PICPQ_E_INVALID_ARG, PICPQ_E_NOMEM,       PICPQ_E_OUT_OF_RANGE,
        PICPQ_E_SHAPE,     PICPQ_E_OVERFLOW,    PICPQ_E_NONFINITE,   PICPQ_E_NO_CONVERGENCE,
        PICPQ_E_BAD_STATE, PICPQ_E_FORMAT,      PICPQ_E_UNSUPPORTED, PICPQ_E_INTERNAL,
        PICPQ_DONE,        PICPQ_BUDGET_UNMET};
    size_t i, j;
    for (i = 0; i < sizeof all / sizeof all[0]; i++) {
        ck_assert_ptr_nonnull(picpq_status_string(all[i]));
        ck_assert_str_ne(picpq_status_string(all[i]), "unknown status");
        for (j = 0; j < i; j++)
            ck_assert_str_ne(picpq_status_string(all[i]), picpq_status_string(all[j]));
    }
    ck_assert_str_eq(picpq_status_string(-999), "unknown status");
    ck_assert_str_eq(picpq_status_string(77), "unknown status");
}
END_TEST

START_TEST(test_last_error_cleared_by_success)
{
    picpq_param key;
    ck_assert_int_eq(picpq_param_from_name("no.such", &key), PICPQ_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "no.such"));
    ck_assert_int_eq(picpq_param_from_name("plan.safeguard", &key), PICPQ_OK);
    ck_assert_str_eq(picpq_last_error(), "");
}
END_TEST

static void *thread_fails(void *arg)
{
    picpq_param key;
    (void)arg;
    picpq_param_from_name("thread.other", &key);
    return NULL;
}

START_TEST(test_last_error_thread_local)
{
    pthread_t th;
    picpq_param key;
    ck_assert_int_eq(picpq_param_from_name("main.thread", &key), PICPQ_E_INVALID_ARG);
    ck_assert_int_eq(pthread_create(&th, NULL, thread_fails, NULL), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "main.thread"));
    ck_assert_ptr_null(strstr(picpq_last_error(), "thread.other"));
}
END_TEST

/* Every key: its name maps back to it, and its range holds its default. */
static const picpq_param all_keys[] = {PICPQ_RANK_THREADS,        PICPQ_RANK_ATOL,
                                       PICPQ_RANK_RTOL,           PICPQ_PLAN_FAITHFUL,
                                       PICPQ_PLAN_CHECK_EVERY,    PICPQ_PLAN_CHAIN_REDUCE,
                                       PICPQ_PLAN_SAFEGUARD,      PICPQ_SEARCH_POPULATION,
                                       PICPQ_SEARCH_SAMPLE,       PICPQ_SEARCH_GENERATIONS,
                                       PICPQ_SEARCH_SIGMA,        PICPQ_SEARCH_MUTATE_FRACTION,
                                       PICPQ_NET_BOPS_SKIP_FIRST, PICPQ_NET_BOPS_DENSE_DEPTHWISE};

START_TEST(test_param_names_roundtrip)
{
    size_t i;
    for (i = 0; i < sizeof all_keys / sizeof all_keys[0]; i++) {
        picpq_param back;
        picpq_param_type type;
        double lo, hi, def;
        const char *name = picpq_param_name(all_keys[i]);
        ck_assert_ptr_nonnull(name);
        ck_assert_status(picpq_param_from_name(name, &back), PICPQ_OK);
        ck_assert_int_eq(back, all_keys[i]);
        ck_assert_status(picpq_param_range(all_keys[i], &type, &lo, &hi, &def), PICPQ_OK);
        ck_assert((lo <= def && def <= hi) ||
                  (def == PICPQ_AUTO && picpq_param_has_auto(all_keys[i])));
        ck_assert(type == PICPQ_PARAM_INT || type == PICPQ_PARAM_DOUBLE);
    }
}
END_TEST

START_TEST(test_param_documented_values)
{
    picpq_param key;
    picpq_param_type type;
    double lo, hi, def;
    ck_assert_status(picpq_param_from_name("search.population", &key), PICPQ_OK);
    ck_assert_int_eq(key, PICPQ_SEARCH_POPULATION);
    ck_assert_status(picpq_param_range(PICPQ_SEARCH_POPULATION, &type, &lo, &hi, &def), PICPQ_OK);
    ck_assert_int_eq(type, PICPQ_PARAM_INT);
    ck_assert_double_eq(def, 64);
    ck_assert_status(picpq_param_range(PICPQ_PLAN_SAFEGUARD, &type, NULL, NULL, &def), PICPQ_OK);
    ck_assert_int_eq(type, PICPQ_PARAM_DOUBLE);
    ck_assert_double_eq(def, 0.1);
    ck_assert_status(picpq_param_range(PICPQ_SEARCH_GENERATIONS, NULL, NULL, NULL, &def), PICPQ_OK);
    ck_assert_double_eq(def, 400);
    ck_assert_status(picpq_param_range(PICPQ_SEARCH_SAMPLE, NULL, NULL, NULL, &def), PICPQ_OK);
    ck_assert_double_eq(def, 16);
}
END_TEST

START_TEST(test_param_errors)
{
    picpq_param key = PICPQ_RANK_THREADS;
    ck_assert_status(picpq_param_range((picpq_param)12345, NULL, NULL, NULL, NULL),
                     PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_param_from_name(NULL, &key), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_param_from_name("search.population", NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_param_from_name("search.pop", &key), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_param_from_name("SEARCH.POPULATION", &key), PICPQ_E_INVALID_ARG);
    ck_assert_int_eq(key, PICPQ_RANK_THREADS); /* untouched on error */
    ck_assert_ptr_null(picpq_param_name((picpq_param)12345));
}
END_TEST

START_TEST(test_param_checks)
{
    /* group, type, range and PICPQ_AUTO validation used by every handle's
     * setters, on bare handle structs (the table stores into their fields) */
    struct picpq_search se;
    struct picpq_plan pl;
    struct picpq_ranker rk;
    int64_t iv = 0;
    double dv = 0;
    memset(&se, 0, sizeof se);
    memset(&pl, 0, sizeof pl);
    memset(&rk, 0, sizeof rk);
    picpq__param_defaults(&se, 400);
    ck_assert(se.population == 64 && se.sample == 16 && se.sigma == 1 && se.anneal == 1.25);
    picpq__param_defaults(&pl, 300);
    ck_assert(pl.check_every == PICPQ_AUTO && pl.num_classes == PICPQ_AUTO && pl.safeguard == 0.1);
    picpq__param_defaults(&rk, 200);
    ck_assert(rk.threads == 1 && rk.atol == 0 && rk.rtol == PICPQ_AUTO);
    ck_assert_int_eq(picpq__param_set_int(&se, "s", 400, PICPQ_SEARCH_POPULATION, 32, NULL),
                     PICPQ_OK);
    ck_assert_int_eq(se.population, 32);
    ck_assert_int_eq(picpq__param_set_int(&se, "s", 400, PICPQ_SEARCH_POPULATION, 1, NULL),
                     PICPQ_E_OUT_OF_RANGE);
    ck_assert_int_eq(picpq__param_set_int(&se, "s", 400, PICPQ_SEARCH_POPULATION, INT64_MAX, NULL),
                     PICPQ_E_OUT_OF_RANGE);
    ck_assert_int_eq(se.population, 32);
    ck_assert_int_eq(picpq__param_set_int(&se, "s", 300, PICPQ_SEARCH_POPULATION, 64, NULL),
                     PICPQ_E_INVALID_ARG);
    ck_assert_int_eq(picpq__param_set_int(&se, "s", 400, PICPQ_SEARCH_SIGMA, 1, NULL),
                     PICPQ_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "use set_double"));
    ck_assert_int_eq(picpq__param_set_double(&se, "s", 400, PICPQ_SEARCH_SIGMA, 0.5, NULL),
                     PICPQ_OK);
    ck_assert_double_eq(se.sigma, 0.5);
    ck_assert_int_eq(picpq__param_set_double(&se, "s", 400, PICPQ_SEARCH_SIGMA, 0.0, NULL),
                     PICPQ_E_OUT_OF_RANGE);
    ck_assert_int_eq(picpq__param_set_double(&se, "s", 400, PICPQ_SEARCH_SIGMA, NAN, NULL),
                     PICPQ_E_OUT_OF_RANGE);
    ck_assert_int_eq(picpq__param_set_double(&se, "s", 400, PICPQ_SEARCH_SIGMA, INFINITY, NULL),
                     PICPQ_E_OUT_OF_RANGE);
    ck_assert_int_eq(picpq__param_set_double(&se, "s", 400, PICPQ_SEARCH_SIGMA, PICPQ_AUTO, NULL),
                     PICPQ_E_OUT_OF_RANGE); /* no automatic value */
    ck_assert_int_eq(picpq__param_set_int(NULL, "s", 400, PICPQ_SEARCH_POPULATION, 64, NULL),
                     PICPQ_E_INVALID_ARG);
    ck_assert_int_eq(picpq__param_get_double(&se, "s", 400, PICPQ_SEARCH_SIGMA, &dv), PICPQ_OK);
    ck_assert_double_eq(dv, 0.5);
    ck_assert_int_eq(picpq__param_get_int(&se, "s", 400, PICPQ_SEARCH_SIGMA, &iv),
                     PICPQ_E_INVALID_ARG);
    ck_assert_int_eq(picpq__param_get_int(&se, "s", 400, PICPQ_SEARCH_POPULATION, NULL),
                     PICPQ_E_INVALID_ARG);
    /* the automatic value and the range next to it */
    ck_assert_int_eq(picpq__param_set_int(&pl, "p", 300, PICPQ_PLAN_CHECK_EVERY, 5, NULL),
                     PICPQ_OK);
    ck_assert_int_eq(picpq__param_set_int(&pl, "p", 300, PICPQ_PLAN_CHECK_EVERY, PICPQ_AUTO, NULL),
                     PICPQ_OK);
    ck_assert_int_eq(pl.check_every, PICPQ_AUTO);
    ck_assert_int_eq(picpq__param_set_int(&pl, "p", 300, PICPQ_PLAN_CHECK_EVERY, 0, NULL),
                     PICPQ_E_OUT_OF_RANGE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "or PICPQ_AUTO"));
    ck_assert_int_eq(picpq__param_set_int(&pl, "p", 300, PICPQ_PLAN_CHECK_EVERY, -2, NULL),
                     PICPQ_E_OUT_OF_RANGE);
    ck_assert_int_eq(picpq__param_set_double(&pl, "p", 300, PICPQ_PLAN_SAFEGUARD, 1.0, NULL),
                     PICPQ_OK);
    ck_assert_int_eq(picpq__param_set_double(&pl, "p", 300, PICPQ_PLAN_SAFEGUARD, -0.01, NULL),
                     PICPQ_E_OUT_OF_RANGE);
    ck_assert_int_eq(picpq__param_set_int(&pl, "p", 300, (picpq_param)399, 0, NULL),
                     PICPQ_E_INVALID_ARG);
    ck_assert_int_eq(picpq__param_set_double(&rk, "rk", 200, PICPQ_RANK_RTOL, -0.5, NULL),
                     PICPQ_E_OUT_OF_RANGE);
    ck_assert_int_eq(picpq__param_set_int(&rk, "rk", 200, PICPQ_RANK_THREADS, 0, NULL),
                     PICPQ_E_OUT_OF_RANGE);
    ck_assert_int_eq(picpq__param_set_int(&rk, "rk", 200, PICPQ_RANK_THREADS, PICPQ_AUTO, NULL),
                     PICPQ_OK);
    /* which keys have an automatic value */
    ck_assert_int_eq(picpq_param_has_auto(PICPQ_RANK_THREADS), 1);
    ck_assert_int_eq(picpq_param_has_auto(PICPQ_RANK_RTOL), 1);
    ck_assert_int_eq(picpq_param_has_auto(PICPQ_PLAN_CHECK_EVERY), 1);
    ck_assert_int_eq(picpq_param_has_auto(PICPQ_PLAN_NUM_CLASSES), 1);
    ck_assert_int_eq(picpq_param_has_auto(PICPQ_RANK_ATOL), 0);
    ck_assert_int_eq(picpq_param_has_auto(PICPQ_SEARCH_POPULATION), 0);
    ck_assert_int_eq(picpq_param_has_auto((picpq_param)12345), 0);
}
END_TEST

START_TEST(test_allocator_init)
{
    picpq_allocator a, half = {NULL, NULL, NULL};
    test_alloc ta;
    picpq_allocator t = test_alloc_make(&ta, 0);
    void *p;
    ck_assert_int_eq(picpq__allocator_init(&a, NULL), PICPQ_OK);
    p = picpq__calloc(&a, 4, 8);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(((char *)p)[31], 0);
    picpq__free(&a, p);
    ck_assert_ptr_null(picpq__calloc(&a, SIZE_MAX / 2, 4)); /* overflow, no call */
    half.alloc = t.alloc;
    ck_assert_int_eq(picpq__allocator_init(&a, &half), PICPQ_E_INVALID_ARG);
    ck_assert_int_eq(picpq__allocator_init(&a, &t), PICPQ_OK);
    p = picpq__malloc(&a, 0);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(ta.live, 1);
    picpq__free(&a, p);
    picpq__free(&a, NULL);
    ck_assert_int_eq(ta.live, 0);
}
END_TEST

START_TEST(test_checked_arithmetic)
{
    int64_t r = 7;
    size_t z;
    ck_assert(picpq__mul_i64(INT64_MAX / 2, 2, &r) && r == INT64_MAX - 1);
    ck_assert(!picpq__mul_i64(INT64_MAX / 2 + 1, 2, &r));
    ck_assert(!picpq__mul_i64(-1, 2, &r));
    ck_assert(picpq__mul_i64(0, INT64_MAX, &r) && r == 0);
    ck_assert(picpq__add_i64(INT64_MAX - 1, 1, &r) && r == INT64_MAX);
    ck_assert(!picpq__add_i64(INT64_MAX, 1, &r));
    ck_assert(!picpq__add_i64(INT64_MIN, -1, &r));
    ck_assert(picpq__i64_to_size(5, &z) && z == 5);
    ck_assert(!picpq__i64_to_size(-5, &z));
}
END_TEST

Suite *core_suite(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("status");
    tcase_add_test(tc, test_version);
    tcase_add_test(tc, test_status_values_fixed);
    tcase_add_test(tc, test_status_strings);
    tcase_add_test(tc, test_last_error_cleared_by_success);
    tcase_add_test(tc, test_last_error_thread_local);
    suite_add_tcase(s, tc);
    tc = tcase_create("param");
    tcase_add_test(tc, test_param_names_roundtrip);
    tcase_add_test(tc, test_param_documented_values);
    tcase_add_test(tc, test_param_errors);
    tcase_add_test(tc, test_param_checks);
    suite_add_tcase(s, tc);
    tc = tcase_create("alloc");
    tcase_add_test(tc, test_allocator_init);
    tcase_add_test(tc, test_checked_arithmetic);
    suite_add_tcase(s, tc);
    return s;
}
