/* The model file loader and runtime (docs/FORMATS.md, "Model file"): a
 * model built byte by byte (model_blob.h), its logits computed by hand, and every
 * documented error of load, workspace and run. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_blob.h"
#include "testutil.h"

START_TEST(test_hand_computed_logit)
{
    blob bl;
    picpq_model *m = NULL;
    picpq_model_workspace *ws = NULL;
    float logits[2];
    int64_t c, h, w, classes;
    build(&bl, 0);
    ck_assert_status(picpq_model_load(bl.b, bl.n, &m), PICPQ_OK);
    ck_assert_status(picpq_model_input_shape(m, &c, &h, &w), PICPQ_OK);
    ck_assert(c == 1 && h == 2 && w == 2);
    ck_assert_status(picpq_model_num_classes(m, &classes), PICPQ_OK);
    ck_assert_int_eq(classes, 1);
    ck_assert_status(picpq_model_workspace_create(m, 2, &ws), PICPQ_OK);
    ck_assert_status(picpq_model_run(m, ws, hand_images, 2, logits), PICPQ_OK);
    /* image 0: normalised {1, 0, 0.5, -1}; channel 0 = x + 0.5 quantizes to
     * {1, 2/3 (1.5 rounds to even 2), 1, 0}: mean 2/3; channel 1 = -x/3 to
     * {0, 0, 0, 1/3}: mean 1/12; logit 2/3 + 2/12 = 5/6. Image 1: all 0,
     * channel 0 = 0.5 -> 2/3 (1.5 -> 2), channel 1 = 0: logit 2/3. */
    ck_assert_double_eq_tol(logits[0], 5.0 / 6.0, 1e-6);
    ck_assert_double_eq_tol(logits[1], 2.0 / 3.0, 1e-6);
    picpq_model_workspace_free(ws);
    picpq_model_free(m);
}
END_TEST

START_TEST(test_format_errors)
{
    blob bl;
    picpq_model *m = (picpq_model *)&bl;
    int variant;
    build(&bl, 0);
    ck_assert_status(picpq_model_load(bl.b, bl.n - 1, &m), PICPQ_E_FORMAT); /* truncated */
    ck_assert_ptr_null(m);
    ck_assert_status(picpq_model_load(bl.b, 10, &m), PICPQ_E_FORMAT);
    bl.b[0] = 'X';
    ck_assert_status(picpq_model_load(bl.b, bl.n, &m), PICPQ_E_FORMAT); /* magic */
    build(&bl, 0);
    bl.b[60] ^= 1;
    ck_assert_status(picpq_model_load(bl.b, bl.n, &m), PICPQ_E_FORMAT); /* checksum */
    /* 1 version, 2 class count, 3 std <= 0, 4 unknown op, 5 source not yet
     * produced, 6 weight bits, 7 levels, 8 code outside [-levels, levels],
     * 9 NaN scale, 10 trailing bytes */
    for (variant = 1; variant <= 10; variant++) {
        build(&bl, variant);
        ck_assert_status(picpq_model_load(bl.b, bl.n, &m), PICPQ_E_FORMAT);
        ck_assert_ptr_null(m);
    }
    ck_assert_status(picpq_model_load(NULL, 4, &m), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_model_load(bl.b, bl.n, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_model_load_file("/nonexistent/model.pqm", &m), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_model_load_file(NULL, &m), PICPQ_E_INVALID_ARG);
}
END_TEST

START_TEST(test_run_errors)
{
    blob bl;
    picpq_model *m = NULL, *m2 = NULL;
    picpq_model_workspace *ws = NULL, *ws2 = NULL;
    float x[8] = {0}, logits[2] = {7.0f, 7.0f};
    size_t bytes;
    int64_t c, h, w;
    build(&bl, 0);
    ck_assert_status(picpq_model_load(bl.b, bl.n, &m), PICPQ_OK);
    ck_assert_status(picpq_model_load(bl.b, bl.n, &m2), PICPQ_OK);
    ck_assert_status(picpq_model_workspace_create(m, 0, &ws), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_model_workspace_create(NULL, 1, &ws), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_model_workspace_size(m, 0, &bytes), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_model_workspace_size(NULL, 1, &bytes), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_model_input_shape(NULL, &c, &h, &w), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_model_num_classes(NULL, &c), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_model_num_classes(m, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_model_workspace_size(m, INT64_MAX, &bytes), PICPQ_E_OVERFLOW);
    ck_assert_status(picpq_model_workspace_create(m, INT64_MAX, &ws), PICPQ_E_OVERFLOW);
    ck_assert_status(picpq_model_workspace_size(m, 1, &bytes), PICPQ_OK);
    ck_assert_status(picpq_model_workspace_create(m, 1, &ws), PICPQ_OK);
    ck_assert_status(picpq_model_workspace_create(m2, 1, &ws2), PICPQ_OK);
    ck_assert_status(picpq_model_run(m, ws, x, 2, logits), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_model_run(m, ws, x, 0, logits), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_model_run(m, ws2, x, 1, logits), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_model_run(m, ws, NULL, 1, logits), PICPQ_E_INVALID_ARG);
    x[3] = NAN;
    ck_assert_status(picpq_model_run(m, ws, x, 1, logits), PICPQ_E_NONFINITE);
    ck_assert(logits[0] == 7.0f); /* untouched */
    picpq_model_workspace_free(ws);
    picpq_model_workspace_free(ws2);
    picpq_model_workspace_free(NULL);
    picpq_model_free(m);
    picpq_model_free(m2);
    picpq_model_free(NULL);
}
END_TEST

START_TEST(test_failing_allocator)
{
    blob bl;
    long n;
    build(&bl, 0);
    for (n = 1;; n++) {
        test_alloc ta;
        picpq_allocator a = test_alloc_make(&ta, n);
        picpq_model *m = NULL;
        picpq_model_workspace *ws = NULL;
        picpq_status st = picpq_model_load_ex(bl.b, bl.n, &a, &m);
        if (st == PICPQ_OK) st = picpq_model_workspace_create(m, 3, &ws);
        picpq_model_workspace_free(ws);
        picpq_model_free(m);
        ck_assert_int_eq(ta.live, 0);
        if (st == PICPQ_OK) break;
        ck_assert_int_eq(st, PICPQ_E_NOMEM);
    }
    ck_assert_int_gt(n, 5);
}
END_TEST

/* The worst expansion FORMATS.md allows: 1-bit codes become float32 weights
 * (32x). Input 1x8x8; conv 1->32 7x7, pad 3, 1-bit codes; global average
 * pool; linear 32->1 with float weights. */
static void build_1bit(blob *bl)
{
    static const char magic[8] = {'P', 'Q', 'M', 'O', 'D', 'E', 'L', 0};
    int k;
    memcpy(bl->b, magic, 8);
    bl->n = 8;
    u32(bl, 1), u32(bl, 0), u32(bl, 0), u32(bl, 0);             /* version, flags, length */
    u32(bl, 1), u32(bl, 8), u32(bl, 8), u32(bl, 1), u32(bl, 0); /* input, classes, no norm */
    u32(bl, 3);                                                 /* ops */
    u32(bl, 1), u32(bl, 0), u32(bl, 32);                        /* conv, src, out_c */
    u32(bl, 7), u32(bl, 7), u32(bl, 1), u32(bl, 1), u32(bl, 3), u32(bl, 3);
    u32(bl, 1), u32(bl, 0), u32(bl, 1); /* groups, no bias, 1 bit */
    u32(bl, 1), f32(bl, 0.25f);         /* levels, magnitude */
    for (k = 0; k < 32 * 49 / 8; k++) bl->b[bl->n++] = 0x5A;
    u32(bl, 10), u32(bl, 1);                                     /* gap */
    u32(bl, 2), u32(bl, 2), u32(bl, 1), u32(bl, 0), u32(bl, 32); /* linear 32 -> 1 */
    for (k = 0; k < 32; k++) f32(bl, (float)k / 32);
    seal(bl);
}

/* docs/FORMATS.md: a model takes at most about 40 x the file length plus
 * the op table (about 15 x at worst); measured with a byte counter. */
START_TEST(test_load_peak_allocation)
{
    blob small, heavy;
    const blob *cases[2];
    int i;
    build(&small, 0);
    build_1bit(&heavy);
    cases[0] = &small;
    cases[1] = &heavy;
    for (i = 0; i < 2; i++) {
        byte_count bc;
        picpq_allocator a = bc_make(&bc);
        picpq_model *m = NULL;
        ck_assert_status(picpq_model_load_ex(cases[i]->b, cases[i]->n, &a, &m), PICPQ_OK);
        ck_assert_msg(bc.peak <= 55 * cases[i]->n, "case %d: peak %zu for %zu bytes", i, bc.peak,
                      cases[i]->n);
        picpq_model_free(m);
        ck_assert(bc.live == 0);
    }
}
END_TEST

Suite *model_suite(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_hand_computed_logit);
    tcase_add_test(tc, test_format_errors);
    tcase_add_test(tc, test_run_errors);
    tcase_add_test(tc, test_failing_allocator);
    tcase_add_test(tc, test_load_peak_allocation);
    suite_add_tcase(s, tc);
    return s;
}
