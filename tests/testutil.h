/* Shared helpers of the Check suites. */
#ifndef PICPQ_TESTUTIL_H
#define PICPQ_TESTUTIL_H

#include <check.h>

#define PICPQ_EXPERIMENTAL /* the tests cover the allocator hooks and diagnostics */
#include "picpq.h"

/* An allocator that fails its `fail_at`-th allocation (1-based; 0 = never)
 * and counts live blocks, to prove that every failure path cleans up. */
typedef struct test_alloc {
    long calls, live, fail_at;
} test_alloc;

picpq_allocator test_alloc_make(test_alloc *ta, long fail_at);

/* An allocator that counts bytes: live, peak live, and all ever allocated
 * (the loaders' allocation bounds of docs/FORMATS.md are tested with it). */
typedef struct byte_count {
    size_t live, peak, total;
} byte_count;
picpq_allocator bc_make(byte_count *c);

/* Assert a status and that the thread's message is non-empty (errors) or
 * empty (success). */
#define ck_assert_status(expr, expected)                                                     \
    do {                                                                                     \
        picpq_status st_ = (expr);                                                           \
        ck_assert_msg(st_ == (expected), "%s returned %d (%s: %s), expected %d", #expr, st_, \
                      picpq_status_string(st_), picpq_last_error(), (int)(expected));        \
        if ((expected) < 0) ck_assert_str_ne(picpq_last_error(), "");                        \
        else ck_assert_str_eq(picpq_last_error(), "");                                       \
    } while (0)

#endif
