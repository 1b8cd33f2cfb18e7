/* Tensor core: creation, wrapping with byte strides, views, copies, scans. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "testutil.h"

START_TEST(test_create_contiguous_zeroed)
{
    const int64_t shape[3] = {2, 3, 4};
    picpq_tensor *t = NULL;
    float *d;
    int i;
    ck_assert_status(picpq_tensor_create(PICPQ_F32, 3, shape, &t), PICPQ_OK);
    ck_assert_int_eq(picpq_tensor_ndim(t), 3);
    ck_assert_int_eq(picpq_tensor_dtype(t), PICPQ_F32);
    ck_assert_int_eq(picpq_tensor_numel(t), 24);
    ck_assert_int_eq(picpq_tensor_dim(t, 1), 3);
    ck_assert_int_eq(picpq_tensor_stride(t, 0), 48);
    ck_assert_int_eq(picpq_tensor_stride(t, 1), 16);
    ck_assert_int_eq(picpq_tensor_stride(t, 2), 4);
    ck_assert_int_eq(picpq_tensor_dim(t, 3), 0);
    ck_assert_int_eq(picpq_tensor_stride(t, -1), 0);
    ck_assert(picpq_tensor_is_contiguous(t));
    ck_assert(picpq_tensor_owns_data(t));
    d = picpq_tensor_data(t);
    for (i = 0; i < 24; i++) ck_assert(d[i] == 0.0f);
    picpq_tensor_free(t);
}
END_TEST

START_TEST(test_dtype_sizes)
{
    ck_assert_uint_eq(picpq_dtype_size(PICPQ_F32), 4);
    ck_assert_uint_eq(picpq_dtype_size(PICPQ_F64), 8);
    ck_assert_uint_eq(picpq_dtype_size(PICPQ_I8), 1);
    ck_assert_uint_eq(picpq_dtype_size(PICPQ_U8), 1);
    ck_assert_uint_eq(picpq_dtype_size(PICPQ_I32), 4);
    ck_assert_uint_eq(picpq_dtype_size((picpq_dtype)0), 0);
    ck_assert_uint_eq(picpq_dtype_size((picpq_dtype)6), 0);
}
END_TEST

START_TEST(test_create_errors)
{
    const int64_t ok[2] = {2, 2}, zero[2] = {2, 0}, neg[2] = {-1, 2};
    const int64_t big[2] = {INT64_MAX, 2}, bytes[1] = {INT64_MAX / 4 + 1};
    const int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    picpq_tensor *t = (picpq_tensor *)&t; /* must be reset to NULL */
    ck_assert_status(picpq_tensor_create(PICPQ_F32, 2, ok, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_tensor_create(PICPQ_F32, 2, NULL, &t), PICPQ_E_INVALID_ARG);
    ck_assert_ptr_null(t);
    ck_assert_status(picpq_tensor_create((picpq_dtype)9, 2, ok, &t), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_tensor_create(PICPQ_F32, 0, ok, &t), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_tensor_create(PICPQ_F32, 9, nine, &t), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_tensor_create(PICPQ_F32, 2, zero, &t), PICPQ_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "shape[1]"));
    ck_assert_status(picpq_tensor_create(PICPQ_F32, 2, neg, &t), PICPQ_E_SHAPE);
    ck_assert_status(picpq_tensor_create(PICPQ_F32, 2, big, &t), PICPQ_E_OVERFLOW);
    ck_assert_status(picpq_tensor_create(PICPQ_F64, 1, bytes, &t), PICPQ_E_OVERFLOW);
    ck_assert_ptr_null(t);
}
END_TEST

START_TEST(test_create_allocation_failures)
{
    const int64_t shape[2] = {3, 5};
    long n;
    for (n = 1;; n++) {
        test_alloc ta;
        picpq_allocator a = test_alloc_make(&ta, n);
        picpq_tensor *t = (picpq_tensor *)&n;
        picpq_status s = picpq_tensor_create_ex(PICPQ_F64, 2, shape, &a, &t);
        if (s == PICPQ_OK) {
            ck_assert_int_gt(ta.live, 0);
            picpq_tensor_free(t);
            ck_assert_int_eq(ta.live, 0);
            break;
        }
        ck_assert_int_eq(s, PICPQ_E_NOMEM);
        ck_assert_str_ne(picpq_last_error(), "");
        ck_assert_ptr_null(t);
        ck_assert_int_eq(ta.live, 0);
    }
    ck_assert_int_eq(n, 3); /* handle, data, then success */
}
END_TEST

START_TEST(test_bad_allocator)
{
    const int64_t shape[1] = {3};
    picpq_allocator half = {NULL, NULL, NULL};
    picpq_tensor *t;
    ck_assert_status(picpq_tensor_create_ex(PICPQ_F32, 1, shape, &half, &t), PICPQ_E_INVALID_ARG);
    ck_assert_ptr_null(t);
}
END_TEST

START_TEST(test_wrap_strided)
{
    /* a 3x4 float array seen transposed as 4x3: strides (4, 16) bytes */
    float buf[12];
    const int64_t shape[2] = {4, 3}, strides[2] = {4, 16};
    picpq_tensor *t, *c;
    const float *d;
    int i, j;
    for (i = 0; i < 12; i++) buf[i] = (float)i;
    ck_assert_status(picpq_tensor_wrap(buf, PICPQ_F32, 2, shape, strides, &t), PICPQ_OK);
    ck_assert(!picpq_tensor_owns_data(t));
    ck_assert(!picpq_tensor_is_contiguous(t));
    ck_assert_ptr_eq(picpq_tensor_data(t), buf);
    ck_assert_status(picpq_tensor_copy(t, PICPQ_F32, &c), PICPQ_OK);
    ck_assert(picpq_tensor_is_contiguous(c));
    d = picpq_tensor_data(c);
    for (i = 0; i < 4; i++)
        for (j = 0; j < 3; j++) ck_assert(d[i * 3 + j] == buf[j * 4 + i]);
    picpq_tensor_free(c);
    picpq_tensor_free(t);
}
END_TEST

START_TEST(test_wrap_channels_last)
{
    /* NCHW shape (1, 2, 2, 3) over an NHWC buffer: strides (48, 4, 24, 8) */
    float buf[12];
    const int64_t shape[4] = {1, 2, 2, 3}, strides[4] = {48, 4, 24, 8};
    picpq_tensor *t, *c;
    const double *d;
    int ch, h, w;
    for (ch = 0; ch < 12; ch++) buf[ch] = (float)ch;
    ck_assert_status(picpq_tensor_wrap(buf, PICPQ_F32, 4, shape, strides, &t), PICPQ_OK);
    ck_assert_status(picpq_tensor_copy(t, PICPQ_F64, &c), PICPQ_OK);
    d = picpq_tensor_data(c);
    for (ch = 0; ch < 2; ch++)
        for (h = 0; h < 2; h++)
            for (w = 0; w < 3; w++) ck_assert(d[(ch * 2 + h) * 3 + w] == buf[(h * 3 + w) * 2 + ch]);
    picpq_tensor_free(c);
    picpq_tensor_free(t);
}
END_TEST

START_TEST(test_wrap_errors)
{
    float buf[8];
    const int64_t shape[2] = {2, 4}, zero[2] = {0, 4}, one_row[2] = {1, 4}, four[2] = {4, 4};
    const int64_t s_zero[2] = {0, 4}, s_neg[2] = {-16, 4}, s_odd[2] = {16, 6};
    const int64_t s_any[2] = {-99, 4}, s_huge[2] = {INT64_MAX / 8 * 4, 4};
    picpq_tensor *t = (picpq_tensor *)buf;
    ck_assert_status(picpq_tensor_wrap(NULL, PICPQ_F32, 2, shape, NULL, &t), PICPQ_E_INVALID_ARG);
    ck_assert_ptr_null(t);
    ck_assert_status(picpq_tensor_wrap(buf, PICPQ_F32, 2, shape, NULL, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_tensor_wrap((char *)buf + 1, PICPQ_F32, 2, shape, NULL, &t),
                     PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_tensor_wrap(buf, PICPQ_F32, 2, zero, NULL, &t), PICPQ_E_SHAPE);
    ck_assert_status(picpq_tensor_wrap(buf, PICPQ_F32, 2, shape, s_zero, &t), PICPQ_E_UNSUPPORTED);
    ck_assert_status(picpq_tensor_wrap(buf, PICPQ_F32, 2, shape, s_neg, &t), PICPQ_E_UNSUPPORTED);
    ck_assert_status(picpq_tensor_wrap(buf, PICPQ_F32, 2, shape, s_odd, &t), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_tensor_wrap(buf, PICPQ_F32, 2, four, s_huge, &t), PICPQ_E_OVERFLOW);
    ck_assert_ptr_null(t);
    /* the stride of a size-1 axis is meaningless and ignored */
    ck_assert_status(picpq_tensor_wrap(buf, PICPQ_F32, 2, one_row, s_any, &t), PICPQ_OK);
    ck_assert(picpq_tensor_is_contiguous(t));
    picpq_tensor_free(t);
}
END_TEST

START_TEST(test_view_axes)
{
    const int64_t shape[3] = {4, 3, 2};
    picpq_tensor *t, *v0, *v1;
    double *d, l1[2];
    int i;
    ck_assert_status(picpq_tensor_create(PICPQ_F64, 3, shape, &t), PICPQ_OK);
    d = picpq_tensor_data(t);
    for (i = 0; i < 24; i++) d[i] = i;
    ck_assert_status(picpq_tensor_view(t, 0, 1, 2, &v0), PICPQ_OK);
    ck_assert_int_eq(picpq_tensor_dim(v0, 0), 2);
    ck_assert_int_eq(picpq_tensor_numel(v0), 12);
    ck_assert_ptr_eq(picpq_tensor_data(v0), d + 6);
    ck_assert(!picpq_tensor_owns_data(v0));
    ck_assert(picpq_tensor_is_contiguous(v0));
    ck_assert_status(picpq_tensor_view(v0, 1, 2, 1, &v1), PICPQ_OK);
    ck_assert_int_eq(picpq_tensor_numel(v1), 4);
    ck_assert(!picpq_tensor_is_contiguous(v1));
    /* filters 1 and 2, input channel 2: elements {10, 11} and {16, 17} */
    ck_assert_status(picpq_tensor_l1_per_filter(v1, l1, 2), PICPQ_OK);
    ck_assert_double_eq(l1[0], 21);
    ck_assert_double_eq(l1[1], 33);
    picpq_tensor_free(v1);
    picpq_tensor_free(v0);
    picpq_tensor_free(t);
}
END_TEST

START_TEST(test_view_errors)
{
    const int64_t shape[3] = {4, 3, 2};
    picpq_tensor *t, *v = (picpq_tensor *)&v;
    ck_assert_status(picpq_tensor_create(PICPQ_F32, 3, shape, &t), PICPQ_OK);
    ck_assert_status(picpq_tensor_view(NULL, 0, 0, 1, &v), PICPQ_E_INVALID_ARG);
    ck_assert_ptr_null(v);
    ck_assert_status(picpq_tensor_view(t, 0, 0, 1, NULL), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_tensor_view(t, 2, 0, 1, &v), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_tensor_view(t, -1, 0, 1, &v), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_tensor_view(t, 0, 3, 2, &v), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_tensor_view(t, 0, -1, 2, &v), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_tensor_view(t, 1, 0, 0, &v), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_tensor_view(t, 0, INT64_MAX, 2, &v), PICPQ_E_OUT_OF_RANGE);
    ck_assert_ptr_null(v);
    picpq_tensor_free(t);
}
END_TEST

START_TEST(test_copy_conversions)
{
    double src[6] = {2.5, -1.5, 0.5, 127.4, -128.0, 3.5};
    const int64_t shape[1] = {6};
    picpq_tensor *t, *c;
    const int8_t *q;
    ck_assert_status(picpq_tensor_wrap(src, PICPQ_F64, 1, shape, NULL, &t), PICPQ_OK);
    ck_assert_status(picpq_tensor_copy(t, PICPQ_I8, &c), PICPQ_OK);
    q = picpq_tensor_data(c);
    /* round half to even */
    ck_assert_int_eq(q[0], 2);
    ck_assert_int_eq(q[1], -2);
    ck_assert_int_eq(q[2], 0);
    ck_assert_int_eq(q[3], 127);
    ck_assert_int_eq(q[4], -128);
    ck_assert_int_eq(q[5], 4);
    picpq_tensor_free(c);
    src[3] = 127.6; /* rounds to 128: does not fit */
    c = (picpq_tensor *)&c;
    ck_assert_status(picpq_tensor_copy(t, PICPQ_I8, &c), PICPQ_E_OUT_OF_RANGE);
    ck_assert_ptr_null(c);
    ck_assert_status(picpq_tensor_copy(t, PICPQ_U8, &c), PICPQ_E_OUT_OF_RANGE);
    src[3] = NAN;
    ck_assert_status(picpq_tensor_copy(t, PICPQ_I32, &c), PICPQ_E_NONFINITE);
    ck_assert_status(picpq_tensor_copy(t, PICPQ_F32, &c), PICPQ_OK); /* NaN is a float */
    picpq_tensor_free(c);
    src[3] = 1e300;
    ck_assert_status(picpq_tensor_copy(t, PICPQ_F32, &c), PICPQ_E_OUT_OF_RANGE);
    ck_assert_status(picpq_tensor_copy(t, (picpq_dtype)0, &c), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_tensor_copy(NULL, PICPQ_F32, &c), PICPQ_E_INVALID_ARG);
    picpq_tensor_free(t);
}
END_TEST

START_TEST(test_copy_into)
{
    int32_t a[4] = {1, -2, 3, 400};
    uint8_t b[4] = {9, 9, 9, 9};
    float f[4];
    const int64_t s4[1] = {4}, s22[2] = {2, 2};
    picpq_tensor *ta, *tb, *tf, *t22;
    ck_assert_status(picpq_tensor_wrap(a, PICPQ_I32, 1, s4, NULL, &ta), PICPQ_OK);
    ck_assert_status(picpq_tensor_wrap(b, PICPQ_U8, 1, s4, NULL, &tb), PICPQ_OK);
    ck_assert_status(picpq_tensor_wrap(f, PICPQ_F32, 1, s4, NULL, &tf), PICPQ_OK);
    ck_assert_status(picpq_tensor_wrap(f, PICPQ_F32, 2, s22, NULL, &t22), PICPQ_OK);
    /* -2 and 400 do not fit uint8: nothing is written */
    ck_assert_status(picpq_tensor_copy_into(ta, tb), PICPQ_E_OUT_OF_RANGE);
    ck_assert_int_eq(b[0], 9);
    ck_assert_int_eq(b[3], 9);
    ck_assert_status(picpq_tensor_copy_into(ta, tf), PICPQ_OK);
    ck_assert(f[1] == -2.0f && f[3] == 400.0f);
    ck_assert_status(picpq_tensor_copy_into(ta, t22), PICPQ_E_SHAPE);
    ck_assert_status(picpq_tensor_copy_into(NULL, tf), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_tensor_copy_into(ta, NULL), PICPQ_E_INVALID_ARG);
    picpq_tensor_free(ta);
    picpq_tensor_free(tb);
    picpq_tensor_free(tf);
    picpq_tensor_free(t22);
}
END_TEST

START_TEST(test_l1_and_finite)
{
    float w[2][3] = {{1, -2, 3}, {-0.5f, 0, 0.25f}};
    const int64_t shape[2] = {2, 3}, s1[1] = {6};
    double l1[2] = {-1, -1}, l6[6];
    picpq_tensor *t, *flat;
    ck_assert_status(picpq_tensor_wrap(w, PICPQ_F32, 2, shape, NULL, &t), PICPQ_OK);
    ck_assert_status(picpq_tensor_l1_per_filter(t, l1, 2), PICPQ_OK);
    ck_assert_double_eq(l1[0], 6);
    ck_assert_double_eq(l1[1], 0.75);
    ck_assert_status(picpq_tensor_wrap(w, PICPQ_F32, 1, s1, NULL, &flat), PICPQ_OK);
    ck_assert_status(picpq_tensor_l1_per_filter(flat, l6, 6), PICPQ_OK);
    ck_assert_double_eq(l6[1], 2);
    ck_assert_status(picpq_tensor_l1_per_filter(t, l1, 3), PICPQ_E_SHAPE);
    ck_assert_status(picpq_tensor_l1_per_filter(t, NULL, 2), PICPQ_E_INVALID_ARG);
    ck_assert_status(picpq_tensor_check_finite(t), PICPQ_OK);
    w[1][2] = INFINITY;
    ck_assert_status(picpq_tensor_check_finite(t), PICPQ_E_NONFINITE);
    ck_assert_ptr_nonnull(strstr(picpq_last_error(), "element 5"));
    l1[0] = -1;
    ck_assert_status(picpq_tensor_l1_per_filter(t, l1, 2), PICPQ_E_NONFINITE);
    ck_assert_double_eq(l1[0], -1); /* untouched */
    ck_assert_status(picpq_tensor_check_finite(NULL), PICPQ_E_INVALID_ARG);
    picpq_tensor_free(flat);
    picpq_tensor_free(t);
}
END_TEST

START_TEST(test_null_accessors)
{
    picpq_tensor_free(NULL);
    ck_assert_ptr_null(picpq_tensor_data(NULL));
    ck_assert_int_eq(picpq_tensor_ndim(NULL), 0);
    ck_assert_int_eq(picpq_tensor_dim(NULL, 0), 0);
    ck_assert_int_eq(picpq_tensor_stride(NULL, 0), 0);
    ck_assert_int_eq(picpq_tensor_numel(NULL), 0);
    ck_assert_int_eq(picpq_tensor_dtype(NULL), 0);
    ck_assert(!picpq_tensor_is_contiguous(NULL));
    ck_assert(!picpq_tensor_owns_data(NULL));
}
END_TEST

/* Every dtype round-trips through f64 for values it can hold. */
START_TEST(test_copy_every_dtype)
{
    static const picpq_dtype types[] = {PICPQ_F32, PICPQ_F64, PICPQ_I8, PICPQ_U8, PICPQ_I32};
    double v[3] = {0, 7, 100};
    const int64_t shape[1] = {3};
    picpq_tensor *src, *mid, *back;
    const double *d;
    ck_assert_status(picpq_tensor_wrap(v, PICPQ_F64, 1, shape, NULL, &src), PICPQ_OK);
    ck_assert_status(picpq_tensor_copy(src, types[_i], &mid), PICPQ_OK);
    ck_assert_status(picpq_tensor_copy(mid, PICPQ_F64, &back), PICPQ_OK);
    d = picpq_tensor_data(back);
    ck_assert(d[0] == 0 && d[1] == 7 && d[2] == 100);
    picpq_tensor_free(back);
    picpq_tensor_free(mid);
    picpq_tensor_free(src);
}
END_TEST

Suite *tensor_suite(void)
{
    Suite *s = suite_create("tensor");
    TCase *tc = tcase_create("create");
    tcase_add_test(tc, test_create_contiguous_zeroed);
    tcase_add_test(tc, test_dtype_sizes);
    tcase_add_test(tc, test_create_errors);
    tcase_add_test(tc, test_create_allocation_failures);
    tcase_add_test(tc, test_bad_allocator);
    tcase_add_test(tc, test_null_accessors);
    suite_add_tcase(s, tc);
    tc = tcase_create("wrap");
    tcase_add_test(tc, test_wrap_strided);
    tcase_add_test(tc, test_wrap_channels_last);
    tcase_add_test(tc, test_wrap_errors);
    tcase_add_test(tc, test_view_axes);
    tcase_add_test(tc, test_view_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("copy");
    tcase_add_test(tc, test_copy_conversions);
    tcase_add_test(tc, test_copy_into);
    tcase_add_loop_test(tc, test_copy_every_dtype, 0, 5);
    tcase_add_test(tc, test_l1_and_finite);
    suite_add_tcase(s, tc);
    return s;
}
