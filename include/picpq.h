/**
 * @file picpq.h
 * @brief libpicpq — PIC-PQ pruning-quantization for convolutional networks.
 *
 * libpicpq decides *what* to prune and *how many bits* to keep in a CNN with
 * PIC-PQ (physics-inspired criterion for pruning-quantization joint learning).
 * The host application owns the network and its training; the library is
 * called step by step:
 *
 *   1. describe the network (::picpq_net): layers, connections, couplings;
 *   2. feed each conv layer's output maps to a ::picpq_ranker, which turns them
 *      into the filter property FP (mean feature-map rank per filter);
 *   3. search the per-layer (a_l, b_l) of the importance I = a_l·FP + b_l with
 *      the regularized evolutionary ::picpq_search (ask, fine-tune, tell);
 *   4. compute the budgeted global pruning ::picpq_plan;
 *   5. assign per-layer bitwidths, quantize weights and activations, export
 *      integer codes, and report MACs, params and BOPs.
 *
 * @code
 *   picpq_net *net;  picpq_plan *plan;  double macs;
 *   picpq_net_create(&net);
 *   picpq_net_add_conv(net, 3, 16, 3, 3, 1, 32, 32, &l0);
 *   ...                                   // more layers, connect, couple
 *   picpq_net_set_fp(net, l0, fp0, 16);  // FP from a picpq_ranker
 *   picpq_plan_create(net, &plan);
 *   if (picpq_plan_compute(plan, a, b, 0.45) < 0)
 *       fprintf(stderr, "%s\n", picpq_last_error());
 *   picpq_plan_macs(plan, &macs);
 *   picpq_plan_free(plan);  picpq_net_free(net);
 * @endcode
 *
 * Conventions that hold for every call:
 * - Fallible calls return ::picpq_status: ::PICPQ_OK (0), a negative error, or
 *   a positive "finished, and this is why" value. On error, outputs are left
 *   untouched and the handle is unchanged (all-or-nothing). Constructors and
 *   loaders set `*out = NULL` on failure and leave nothing to free.
 * - picpq_last_error() gives the detail message of the most recent failing
 *   call on the calling thread; it is "" after a successful fallible call.
 * - `*_free(NULL)` is a no-op. The library never aborts, exits, prints or
 *   writes files.
 * - Inputs are borrowed for the duration of the call and copied if kept: the
 *   caller may discard or reuse them when the call returns. The exceptions are
 *   named: picpq_tensor_wrap() borrows caller memory for the tensor's
 *   lifetime, and ::picpq_plan and ::picpq_search borrow their ::picpq_net.
 * - Layers are `int32_t`, element and channel counts `int64_t`; every size
 *   computation is overflow-checked (::PICPQ_E_OVERFLOW).
 * - What is not frozen yet sits in the experimental section at the end,
 *   visible only with `#define PICPQ_EXPERIMENTAL` (allocator hooks and the
 *   `*_ex` calls, diagnostics, the reference's `--lub` text format).
 * - Distinct handles may be used from distinct threads. One handle must not
 *   be used by two threads at once; const calls on one handle may run
 *   concurrently. No global state exists beyond the thread-local message.
 */
#ifndef PICPQ_H
#define PICPQ_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ===================================================================== */
/** @name Version                                                         */
/* ===================================================================== */
/**@{*/
#define PICPQ_VERSION_MAJOR 0
#define PICPQ_VERSION_MINOR 3
#define PICPQ_VERSION_PATCH 0
#define PICPQ_VERSION_NUMBER \
    (PICPQ_VERSION_MAJOR * 10000 + PICPQ_VERSION_MINOR * 100 + PICPQ_VERSION_PATCH)
#define PICPQ__STR2(x) #x
#define PICPQ__STR(x) PICPQ__STR2(x)
#define PICPQ_VERSION_STRING        \
    PICPQ__STR(PICPQ_VERSION_MAJOR) \
    "." PICPQ__STR(PICPQ_VERSION_MINOR) "." PICPQ__STR(PICPQ_VERSION_PATCH)

#if defined(__GNUC__) && __GNUC__ >= 4
#define PICPQ_API __attribute__((visibility("default")))
#else
#define PICPQ_API
#endif

/** @brief Runtime version as MAJOR*10000 + MINOR*100 + PATCH.
 *  Thread safety: safe. @since 0.1 */
PICPQ_API int picpq_version_number(void);
/** @brief Runtime version as "MAJOR.MINOR.PATCH" (static, never NULL).
 *  Thread safety: safe. @since 0.1 */
PICPQ_API const char *picpq_version_string(void);
/**@}*/

/* ===================================================================== */
/** @name Status codes and error messages                                */
/* ===================================================================== */
/**@{*/

/** Result of every fallible call. Values are fixed forever once released;
 *  callers must treat any unknown negative value as an error. */
typedef int picpq_status;

#define PICPQ_OK 0 /**< success */
/* -1..-19: argument and memory errors */
#define PICPQ_E_INVALID_ARG (-1)  /**< NULL pointer, bad enum, wrong handle state of an argument */
#define PICPQ_E_NOMEM (-2)        /**< an allocation failed */
#define PICPQ_E_OUT_OF_RANGE (-3) /**< a value or index outside its documented range */
#define PICPQ_E_SHAPE (-4)        /**< dimensions or lengths that do not agree */
#define PICPQ_E_OVERFLOW (-5)     /**< a size computation would overflow */
#define PICPQ_E_BUFFER \
    (-6) /**< an output buffer is smaller than required (the call reports the size) */
/* -20..-39: numerical errors */
#define PICPQ_E_NONFINITE (-20)      /**< NaN or infinity in an input */
#define PICPQ_E_NO_CONVERGENCE (-21) /**< an iterative routine (SVD) did not converge */
/* -40..-59: usage, state and format errors */
#define PICPQ_E_BAD_STATE (-40)   /**< call made in the wrong order or on a changed object */
#define PICPQ_E_FORMAT (-41)      /**< serialized data truncated, corrupted or foreign */
#define PICPQ_E_UNSUPPORTED (-42) /**< a valid request this build or layout cannot serve */
/* -60..: internal */
#define PICPQ_E_INTERNAL (-60) /**< a bug of libpicpq, never the caller's fault */
/* positive: finished, and this is why */
#define PICPQ_DONE 1         /**< search: every evaluation has been issued */
#define PICPQ_BUDGET_UNMET 2 /**< plan: quotas ran out before the budget was met */

/**
 * @brief Static text describing a status code.
 * @param[in] s any value, known or not.
 * @return a static string, never NULL ("unknown status" for unknown codes).
 * Thread safety: safe. @since 0.1
 */
PICPQ_API const char *picpq_status_string(picpq_status s);

/**
 * @brief Detail message of the most recent failing call on this thread.
 *
 * The message names the offending argument, layer or index. It is "" after
 * a successful fallible call. The pointer is owned by the library and valid
 * until the next libpicpq call on the same thread.
 * @return a NUL-terminated string, never NULL.
 * Thread safety: thread-local; safe. @since 0.1
 */
PICPQ_API const char *picpq_last_error(void);
/**@}*/

/* ===================================================================== */
/** @name Handles                                                         */
/* ===================================================================== */
/**@{*/
/** An n-dimensional array with byte strides, owning its memory or wrapping
 *  the caller's (tensor section). */
typedef struct picpq_tensor picpq_tensor;
/** Streaming accumulator of the filter property FP (rank section). */
typedef struct picpq_ranker picpq_ranker;
/** Description of a CNN: layers, connections, couplings, FP (net section). */
typedef struct picpq_net picpq_net;
/** A budgeted global pruning plan of one net (plan section). */
typedef struct picpq_plan picpq_plan;
/** The regularized evolutionary search of (a, b) (search section). */
typedef struct picpq_search picpq_search;
/**@}*/

/* ===================================================================== */
/** @name Parameters                                                      */
/* ===================================================================== */
/**@{*/

/**
 * @brief Keys of the typed per-handle parameters.
 *
 * Grouped by module (tensor 1xx, rank 2xx, plan 3xx, search 4xx, quant 5xx,
 * net 6xx); numbers are never renumbered or reused. Each key has a type (int
 * or double), a valid range (picpq_param_range()) and a default; setting a
 * value outside the range returns ::PICPQ_E_OUT_OF_RANGE, nothing is clamped.
 * A parameter with an automatic value (picpq_param_has_auto()) also accepts
 * ::PICPQ_AUTO, and the comment says what it resolves to.
 */
/** The value of every parameter that has an automatic setting. */
#define PICPQ_AUTO (-1)

typedef enum picpq_param {
    /* rank 2xx: picpq_ranker_set_int / picpq_ranker_set_double */
    PICPQ_RANK_THREADS = 200, /**< int in [1, 1024], worker threads of feed; ::PICPQ_AUTO = all
                                 online cores; default 1 */
    PICPQ_RANK_ATOL = 201,    /**< double >= 0, absolute tolerance; default 0 */
    PICPQ_RANK_RTOL = 202,    /**< double in [0, 1], relative tolerance; ::PICPQ_AUTO (default) =
                                 max(rows, cols)·FLT_EPSILON */

    /* plan 3xx: picpq_plan_set_int / picpq_plan_set_double */
    PICPQ_PLAN_FAITHFUL =
        300, /**< int 0/1, the reference's plan (METHOD §5); default 0. It changes exactly: the cost
                model (§5.2: conv layers only, the last conv's drop counts num_classes), the budget
                test (cost < budget instead of <=, never before the first entry), importances and
                chain sums in float32 (§5.3, §5.5), and what ::PICPQ_AUTO means for
                ::PICPQ_PLAN_CHECK_EVERY. No other parameter changes. */
    PICPQ_PLAN_CHECK_EVERY = 301,  /**< int >= 1, budget tested every N entries; ::PICPQ_AUTO
                                      (default) = 1, or 10 when faithful */
    PICPQ_PLAN_CHAIN_REDUCE = 302, /**< int, ::picpq_chain_reduce; default ::PICPQ_CHAIN_SUM */
    PICPQ_PLAN_SAFEGUARD = 303,    /**< double in [0, 1], minimum kept fraction per layer (1 = prune
                                      nothing); default 0.1 */
    PICPQ_PLAN_NUM_CLASSES =
        304, /**< int >= 0, the num_classes of the faithful cost; ::PICPQ_AUTO (default) =
                out_features of the last linear layer (0 without one) */
    PICPQ_PLAN_BUDGET_KIND = 305, /**< int, ::picpq_budget_kind: what keep_fraction limits; default
                                     ::PICPQ_BUDGET_MACS */
    PICPQ_PLAN_ROUND_TO =
        306, /**< int >= 1, every prunable layer keeps a multiple of N filters (N = 8, 16 for fast
                kernels); a layer narrower than N stays whole; default 1 (any count). @since 0.3 */

    /* search 4xx: picpq_search_set_int / picpq_search_set_double */
    PICPQ_SEARCH_POPULATION = 400,  /**< int >= 2, population P; default 64 */
    PICPQ_SEARCH_SAMPLE = 401,      /**< int >= 1, tournament sample S; default 16 */
    PICPQ_SEARCH_GENERATIONS = 402, /**< int >= 1, evaluations G; default 400 */
    PICPQ_SEARCH_SIGMA = 403,       /**< double > 0, log-scale mutation sigma; default 1 */
    PICPQ_SEARCH_MUTATE_FRACTION =
        404,                   /**< double in [0, 1], layers mutated per child; default 0.1 */
    PICPQ_SEARCH_ANNEAL = 405, /**< double in [1, 1e6], h of step = 1 - g/(h·G); default 1.25 */
    PICPQ_SEARCH_SHIFT_SCALE =
        406, /**< double in [0, 100], shift noise = this · std(FP_l); default 1 */
    PICPQ_SEARCH_IDENTITY = 407, /**< int 0/1, candidate P-1 is the identity (1, 0); default 1 */
    PICPQ_SEARCH_MAX_REPEATS =
        408, /**< int >= 0, repeats picpq_search_tell_repeat() may drop (experimental);
                ::PICPQ_AUTO (default) = 4·G. @since 0.3 */

    /* net 6xx: picpq_net_set_int */
    PICPQ_NET_BOPS_SKIP_FIRST =
        600, /**< int 0/1, BOPs omit the first conv (reference VGG counter); default 0 */
    PICPQ_NET_BOPS_DENSE_DEPTHWISE = 601, /**< int 0/1, BOPs count grouped convs as dense (reference
                                             MobileNetV2 counter); default 0 */
    PICPQ_NET_BOPS_LINEAR_UNPRUNED =
        602 /**< int 0/1, BOPs count linear layers at their declared size, ignoring pruned inputs
               (reference VGG counter); default 0 */
} picpq_param;

/** Values of ::PICPQ_PLAN_CHAIN_REDUCE: how the importances of coupled layers
 *  are combined into one score per channel index. */
typedef enum picpq_chain_reduce {
    PICPQ_CHAIN_SUM = 0,  /**< sum over the members wider than j (reference) */
    PICPQ_CHAIN_MEAN = 1, /**< mean over the members wider than j */
    PICPQ_CHAIN_MAX = 2   /**< maximum over the members wider than j */
} picpq_chain_reduce;

/** Values of ::PICPQ_PLAN_BUDGET_KIND: the cost a plan's budget limits. */
typedef enum picpq_budget_kind {
    PICPQ_BUDGET_MACS = 0,  /**< multiply-accumulates (the reference) */
    PICPQ_BUDGET_PARAMS = 1 /**< weights (picpq_plan_params()) */
} picpq_budget_kind;

/** Type of a parameter's value. */
typedef enum picpq_param_type { PICPQ_PARAM_INT = 1, PICPQ_PARAM_DOUBLE = 2 } picpq_param_type;

/**
 * @brief Valid range, type and default of a parameter.
 * @param[in]  key  a ::picpq_param value.
 * @param[out] type may be NULL; receives ::PICPQ_PARAM_INT or ::PICPQ_PARAM_DOUBLE.
 * @param[out] lo, hi may be NULL; the inclusive range (ints are exact in a double).
 * @param[out] def  may be NULL; the default value.
 * @return ::PICPQ_OK, ::PICPQ_E_INVALID_ARG for an unknown key.
 * Thread safety: safe. @since 0.1
 */
PICPQ_API picpq_status picpq_param_range(picpq_param key, picpq_param_type *type, double *lo,
                                         double *hi, double *def);

/**
 * @brief 1 if the parameter accepts ::PICPQ_AUTO besides its range, else 0
 *        (also for an unknown key). Thread safety: safe. @since 0.3
 */
PICPQ_API int picpq_param_has_auto(picpq_param key);

/**
 * @brief Look a parameter up by its dotted name, e.g. "search.population".
 *
 * Names are the key without the `PICPQ_` prefix, lower case, with the first
 * underscore written as a dot ("rank.threads", "plan.safeguard").
 * @param[in]  name NUL-terminated name (exact match, no prefixes).
 * @param[out] key  the key.
 * @return ::PICPQ_OK, ::PICPQ_E_INVALID_ARG (NULL or unknown name).
 * Thread safety: safe. @since 0.1
 */
PICPQ_API picpq_status picpq_param_from_name(const char *name, picpq_param *key);

/**
 * @brief The dotted name of a parameter (static), or NULL for an unknown key.
 * Thread safety: safe. @since 0.1
 */
PICPQ_API const char *picpq_param_name(picpq_param key);
/**@}*/

/* ===================================================================== */
/** @name Tensor core                                                     */
/* ===================================================================== */
/**@{*/

/** Maximum number of dimensions of a tensor. */
#define PICPQ_TENSOR_MAX_DIMS 8

/** Element types. */
typedef enum picpq_dtype {
    PICPQ_F32 = 1, /**< float */
    PICPQ_F64 = 2, /**< double */
    PICPQ_I8 = 3,  /**< int8_t */
    PICPQ_U8 = 4,  /**< uint8_t */
    PICPQ_I32 = 5  /**< int32_t */
} picpq_dtype;

/**
 * @brief Size in bytes of one element of @p dtype, 0 for an unknown dtype.
 * Thread safety: safe. @since 0.1
 */
PICPQ_API size_t picpq_dtype_size(picpq_dtype dtype);

/**
 * @brief Create an owned, zero-filled, C-contiguous tensor.
 * @param[in]  dtype a ::picpq_dtype.
 * @param[in]  ndim  1..::PICPQ_TENSOR_MAX_DIMS.
 * @param[in]  shape @p ndim sizes, each >= 1.
 * @param[out] out   the new tensor (NULL on failure); free with picpq_tensor_free().
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL pointer, unknown dtype);
 *   ::PICPQ_E_OUT_OF_RANGE (ndim outside 1..8); ::PICPQ_E_SHAPE (a size < 1);
 *   ::PICPQ_E_OVERFLOW (element or byte count overflows); ::PICPQ_E_NOMEM.
 * Thread safety: safe. @since 0.1
 */
PICPQ_API picpq_status picpq_tensor_create(picpq_dtype dtype, int32_t ndim, const int64_t *shape,
                                           picpq_tensor **out);

/**
 * @brief Wrap caller memory as a tensor (zero-copy; numpy and torch arrays).
 *
 * The tensor borrows @p data for its whole lifetime: the memory must outlive
 * it and is never freed by the library.
 * @param[in] data          first element; aligned to the element size.
 * @param[in] dtype, ndim, shape as picpq_tensor_create().
 * @param[in] strides_bytes @p ndim byte strides, or NULL for C-contiguous.
 *   Each stride of a dimension larger than 1 must be positive and a multiple
 *   of the element size (zero and negative strides are not supported); the
 *   stride of a size-1 dimension is ignored.
 * @param[out] out the new tensor (NULL on failure).
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL pointer, unknown dtype,
 *   misaligned data or stride); ::PICPQ_E_OUT_OF_RANGE (ndim);
 *   ::PICPQ_E_SHAPE (a size < 1); ::PICPQ_E_UNSUPPORTED (zero or negative
 *   stride); ::PICPQ_E_OVERFLOW (the addressed span overflows); ::PICPQ_E_NOMEM.
 * Thread safety: safe. @since 0.1
 */
PICPQ_API picpq_status picpq_tensor_wrap(void *data, picpq_dtype dtype, int32_t ndim,
                                         const int64_t *shape, const int64_t *strides_bytes,
                                         picpq_tensor **out);

/** @brief Free a tensor (its data too when owned). NULL is a no-op.
 *  Views of it must be freed first or not used again.
 *  Thread safety: not with other calls on @p t. @since 0.1 */
PICPQ_API void picpq_tensor_free(picpq_tensor *t);

/** @brief First element (owned or borrowed memory); NULL for a NULL tensor.
 *  Thread safety: const, safe. @since 0.1 */
PICPQ_API void *picpq_tensor_data(const picpq_tensor *t);
/** @brief Element type; 0 for a NULL tensor. Thread safety: const, safe. @since 0.1 */
PICPQ_API picpq_dtype picpq_tensor_dtype(const picpq_tensor *t);
/** @brief Number of dimensions; 0 for a NULL tensor. Thread safety: const, safe. @since 0.1 */
PICPQ_API int32_t picpq_tensor_ndim(const picpq_tensor *t);
/** @brief Size of @p axis; 0 for a NULL tensor or an axis out of range.
 *  Thread safety: const, safe. @since 0.1 */
PICPQ_API int64_t picpq_tensor_dim(const picpq_tensor *t, int32_t axis);
/** @brief Byte stride of @p axis; 0 for a NULL tensor or an axis out of range.
 *  Thread safety: const, safe. @since 0.1 */
PICPQ_API int64_t picpq_tensor_stride(const picpq_tensor *t, int32_t axis);
/** @brief Number of elements; 0 for a NULL tensor. Thread safety: const, safe. @since 0.1 */
PICPQ_API int64_t picpq_tensor_numel(const picpq_tensor *t);
/** @brief 1 if the tensor is C-contiguous, 0 otherwise (and for NULL).
 *  Thread safety: const, safe. @since 0.1 */
PICPQ_API int picpq_tensor_is_contiguous(const picpq_tensor *t);
/** @brief 1 if the tensor owns its memory, 0 if it borrows it (wrap, view).
 *  Thread safety: const, safe. @since 0.1 */
PICPQ_API int picpq_tensor_owns_data(const picpq_tensor *t);

/**
 * @brief A view of @p len consecutive indices of @p axis starting at @p start.
 *
 * Axis 0 selects filters (output channels) of a weight tensor, axis 1 input
 * channels. The view borrows the parent's memory: the parent must outlive it.
 * @param[in]  t     the parent tensor.
 * @param[in]  axis  0 or 1 (and < ndim).
 * @param[in]  start, len  0 <= start, 1 <= len, start + len <= dim(axis).
 * @param[out] out   the view (NULL on failure); free with picpq_tensor_free().
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL); ::PICPQ_E_OUT_OF_RANGE
 *   (axis, start or len); ::PICPQ_E_NOMEM.
 * Thread safety: const on @p t, safe. @since 0.1
 */
PICPQ_API picpq_status picpq_tensor_view(const picpq_tensor *t, int32_t axis, int64_t start,
                                         int64_t len, picpq_tensor **out);

/**
 * @brief An owned C-contiguous copy of @p src converted to @p dtype.
 *
 * Float to integer conversion rounds half to even and fails on values that
 * do not fit; integer to float is exact where the float type can hold it.
 * @param[in]  src   any tensor (any strides).
 * @param[in]  dtype target ::picpq_dtype.
 * @param[out] out   the copy (NULL on failure).
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL, unknown dtype);
 *   ::PICPQ_E_NONFINITE (NaN/Inf converted to an integer type);
 *   ::PICPQ_E_OUT_OF_RANGE (a value does not fit the integer type); ::PICPQ_E_NOMEM.
 * Thread safety: const on @p src, safe. @since 0.1
 */
PICPQ_API picpq_status picpq_tensor_copy(const picpq_tensor *src, picpq_dtype dtype,
                                         picpq_tensor **out);

/**
 * @brief Copy the values of @p src into @p dst (same shape, any strides and
 *        dtypes, same conversion rules as picpq_tensor_copy()).
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL); ::PICPQ_E_SHAPE (shapes
 *   differ); ::PICPQ_E_NONFINITE; ::PICPQ_E_OUT_OF_RANGE. On error @p dst is unchanged.
 * Thread safety: @p dst must not be used concurrently. @since 0.1
 */
PICPQ_API picpq_status picpq_tensor_copy_into(const picpq_tensor *src, picpq_tensor *dst);

/**
 * @brief Sum of |x| per index of axis 0 (per filter of a weight tensor).
 * @param[in]  t   tensor of any dtype, ndim >= 1.
 * @param[out] l1  @p n doubles; l1[i] = sum of |t[i, ...]| in double precision.
 * @param[in]  n   must equal dim(0).
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL); ::PICPQ_E_SHAPE (n != dim 0);
 *   ::PICPQ_E_NONFINITE (NaN or Inf in @p t; @p l1 untouched).
 * Thread safety: const, safe. @since 0.1
 */
PICPQ_API picpq_status picpq_tensor_l1_per_filter(const picpq_tensor *t, double *l1, int64_t n);

/**
 * @brief Check that every element is finite.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL); ::PICPQ_E_NONFINITE, with
 *   the flat index of the first offending element in the message.
 * Thread safety: const, safe. @since 0.1
 */
PICPQ_API picpq_status picpq_tensor_check_finite(const picpq_tensor *t);
/**@}*/

/* ===================================================================== */
/** @name Filter property: matrix rank                                   */
/* ===================================================================== */
/**@{*/

/**
 * @brief Rank of one float32 matrix by the reference rule of METHOD §3.1.
 *
 * rank = #{ σ_j > σ_1 · max(rows, cols) · FLT_EPSILON } (strict), where σ_j
 * are the singular values that float32 LAPACK `sgesdd` computes on the
 * column-major copy of the matrix (the numpy/torch rule; a zero matrix has
 * rank 0). The library decides most matrices with a cheaper certified test
 * in double precision and runs `sgesdd` only when that test cannot rule out
 * a different answer, so the result always equals the `sgesdd` rule.
 * @param[in]  a    rows x cols matrix, row-major, row i at a + i·ld; borrowed
 *                  for the call.
 * @param[in]  rows, cols  >= 1.
 * @param[in]  ld   leading dimension (elements between rows), >= cols.
 * @param[out] rank the rank, 0..min(rows, cols); untouched on error.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL @p a or @p rank);
 *   ::PICPQ_E_SHAPE (rows or cols < 1, ld < cols); ::PICPQ_E_OVERFLOW
 *   (rows·ld overflows); ::PICPQ_E_UNSUPPORTED (too large for LAPACK's 32-bit
 *   indices); ::PICPQ_E_NONFINITE (NaN or Inf, position in the message);
 *   ::PICPQ_E_NOMEM (workspace, allocated with malloc per call);
 *   ::PICPQ_E_NO_CONVERGENCE (`sgesdd` info > 0); ::PICPQ_E_INTERNAL.
 * Thread safety: safe (no shared state). @since 0.1
 */
PICPQ_API picpq_status picpq_matrix_rank_f32(const float *a, int64_t rows, int64_t cols, int64_t ld,
                                             int64_t *rank);

/**
 * @brief Create a streaming filter-property accumulator.
 *
 * One accumulator per layer, sized by its channel (filter) count: integer
 * rank sums per filter and an image count per layer, all zero. Parameters
 * start at their defaults (::PICPQ_RANK_THREADS 1, ::PICPQ_RANK_ATOL 0,
 * ::PICPQ_RANK_RTOL −1 = automatic).
 * @param[in]  n_layers >= 1.
 * @param[in]  channels @p n_layers counts, each >= 1; copied.
 * @param[out] out the ranker (NULL on failure); free with picpq_ranker_free().
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL pointer);
 *   ::PICPQ_E_OUT_OF_RANGE (n_layers < 1); ::PICPQ_E_SHAPE (a count < 1);
 *   ::PICPQ_E_OVERFLOW (total count); ::PICPQ_E_NOMEM.
 * Thread safety: safe. @since 0.1
 */
PICPQ_API picpq_status picpq_ranker_create(int32_t n_layers, const int64_t *channels,
                                           picpq_ranker **out);

/**
 * @brief Create a ranker with one accumulator per layer of @p net (conv and
 *        linear alike, indexed by layer id), sized by each layer's output
 *        channels. The net is read during the call only; the ranker
 *        allocates through the net's allocator (picpq_net_create_ex()).
 * @param[in]  net  a net with at least one layer.
 * @param[out] out  the ranker (NULL on failure).
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL); ::PICPQ_E_OUT_OF_RANGE
 *   (the net has no layer); ::PICPQ_E_OVERFLOW; ::PICPQ_E_NOMEM.
 * Thread safety: const on @p net, safe. @since 0.1
 */
PICPQ_API picpq_status picpq_ranker_create_for_net(const picpq_net *net, picpq_ranker **out);

/** @brief Free a ranker and its scratch. NULL is a no-op.
 *  Thread safety: not while the handle is in use. @since 0.1 */
PICPQ_API void picpq_ranker_free(picpq_ranker *rk);

/**
 * @brief Return to the just-created state: all sums and image counts zero
 *        and every parameter back to its default. Scratch is kept.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL).
 * Thread safety: not on the same handle. @since 0.1
 */
PICPQ_API picpq_status picpq_ranker_reset(picpq_ranker *rk);

/**
 * @brief Set an integer parameter: ::PICPQ_RANK_THREADS (0..1024; 0 = all
 *        online cores; at most 64 workers run).
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL, a key of another group or
 *   a double-valued key); ::PICPQ_E_OUT_OF_RANGE. Thread safety: not on the
 *   same handle. @since 0.1
 */
PICPQ_API picpq_status picpq_ranker_set_int(picpq_ranker *rk, picpq_param key, int64_t value);

/**
 * @brief Set a double parameter: ::PICPQ_RANK_ATOL (>= 0) or
 *        ::PICPQ_RANK_RTOL (<= 1; negative = max(rows, cols)·FLT_EPSILON).
 *        The tolerance is max(atol, rtol·σ_1), compared with strict `>`.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL, wrong group or type);
 *   ::PICPQ_E_OUT_OF_RANGE (outside the range or non-finite).
 * Thread safety: not on the same handle. @since 0.1
 */
PICPQ_API picpq_status picpq_ranker_set_double(picpq_ranker *rk, picpq_param key, double value);

/** @brief Read ::PICPQ_RANK_THREADS into @p value.
 *  @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL, wrong group or type).
 *  Thread safety: const, safe. @since 0.1 */
PICPQ_API picpq_status picpq_ranker_get_int(const picpq_ranker *rk, picpq_param key,
                                            int64_t *value);

/** @brief Read ::PICPQ_RANK_ATOL or ::PICPQ_RANK_RTOL into @p value.
 *  @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL, wrong group or type).
 *  Thread safety: const, safe. @since 0.1 */
PICPQ_API picpq_status picpq_ranker_get_double(const picpq_ranker *rk, picpq_param key,
                                               double *value);

/**
 * @brief Add one batch of a layer's output maps.
 *
 * For every image n and channel c the rank of the H x W map maps[n, c]
 * (picpq_matrix_rank_f32()'s rule with the ranker's atol/rtol) is added to
 * filter c's integer sum, and N to the layer's image count. The batch is
 * scanned completely before anything is added: on any error the sums and
 * counts are exactly as before. Scratch is allocated once per map shape
 * and worker count (through the ranker's allocator), never per map.
 *
 * Threads: with ::PICPQ_RANK_THREADS > 1 the maps are split in contiguous
 * (image, channel) ranges over up to that many pthreads (joined before
 * return; one per 32768 elements at most, so tiny batches stay on the
 * caller), each with its own workspace; integer sums make the result
 * identical for every thread count. OpenBLAS's process-wide thread count
 * is left alone (it is the host's): most maps never reach LAPACK, and the
 * `sgesdd` fallback on maps up to 96 x 96 stays below OpenBLAS's own
 * threading thresholds. OpenBLAS's idle pool threads busy-wait for a while
 * after start-up and after any threaded BLAS call, taking cores from the
 * workers: processes using several workers should set
 * OPENBLAS_NUM_THREADS=1 (or call openblas_set_num_threads(1)).
 * @param[in] rk    the ranker.
 * @param[in] layer 0..n_layers−1.
 * @param[in] maps  f32 tensor [N, C, H, W], any byte strides (channels-last
 *                  included), C = the layer's channel count; borrowed.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL, dtype not ::PICPQ_F32);
 *   ::PICPQ_E_OUT_OF_RANGE (layer); ::PICPQ_E_SHAPE (not 4-D, C differs, a
 *   size < 1); ::PICPQ_E_OVERFLOW (image count or a filter's sum would
 *   overflow); ::PICPQ_E_NONFINITE (NaN or Inf anywhere, position in the
 *   message); ::PICPQ_E_UNSUPPORTED (maps too large for LAPACK's indices);
 *   ::PICPQ_E_NOMEM (scratch for a new shape); ::PICPQ_E_NO_CONVERGENCE;
 *   ::PICPQ_E_INTERNAL.
 * Thread safety: not on the same handle. @since 0.1
 */
PICPQ_API picpq_status picpq_ranker_feed(picpq_ranker *rk, int32_t layer, const picpq_tensor *maps);

/**
 * @brief The filter property of a layer: sum of ranks / images, per filter.
 * @param[out] fp  @p n doubles.
 * @param[in]  n   the layer's channel count.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL); ::PICPQ_E_OUT_OF_RANGE
 *   (layer); ::PICPQ_E_SHAPE (n differs); ::PICPQ_E_BAD_STATE (no image fed
 *   to that layer yet).
 * Thread safety: const, safe. @since 0.3
 */
PICPQ_API picpq_status picpq_ranker_fp(const picpq_ranker *rk, int32_t layer, double *fp,
                                       int64_t n);

/**
 * @brief Store the FP of every layer in @p net (picpq_net_set_fp()), for a
 *        ranker made by picpq_ranker_create_for_net() on that net: the
 *        layers with at least one image fed; the others keep theirs.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL); ::PICPQ_E_SHAPE (the
 *   ranker's layers or channels are not the net's); ::PICPQ_E_BAD_STATE (no
 *   layer was fed); ::PICPQ_E_NOMEM. All or nothing.
 * Thread safety: const on @p rk; not with other calls on @p net. @since 0.3
 */
PICPQ_API picpq_status picpq_ranker_fp_to_net(const picpq_ranker *rk, picpq_net *net);

/** @brief Number of images fed to @p layer so far.
 *  @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL); ::PICPQ_E_OUT_OF_RANGE.
 *  Thread safety: const, safe. @since 0.1 */
PICPQ_API picpq_status picpq_ranker_images(const picpq_ranker *rk, int32_t layer, int64_t *images);

/** @brief Number of layers; 0 for NULL. A ranker restored by
 *  picpq_ranker_load() reports the counts it was saved with.
 *  Thread safety: const, safe. @since 0.2 */
PICPQ_API int32_t picpq_ranker_num_layers(const picpq_ranker *rk);

/** @brief Channel count of @p layer, as given at creation.
 *  @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL); ::PICPQ_E_OUT_OF_RANGE.
 *  Thread safety: const, safe. @since 0.2 */
PICPQ_API picpq_status picpq_ranker_layer_channels(const picpq_ranker *rk, int32_t layer,
                                                   int64_t *channels);

/**
 * @brief Add @p src's sums and image counts to @p dst, exactly (the FP of a
 *        calibration split over processes equals that of one pass).
 *        Parameters are not merged. @p src may be @p dst.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL); ::PICPQ_E_SHAPE (layer or
 *   channel counts differ); ::PICPQ_E_OVERFLOW (a sum or count would
 *   overflow; @p dst unchanged).
 * Thread safety: @p dst not used concurrently; @p src const. @since 0.1
 */
PICPQ_API picpq_status picpq_ranker_merge(picpq_ranker *dst, const picpq_ranker *src);

/**
 * @brief Serialize a ranker (channel counts, parameters, statistics
 *        counters, image counts and integer rank sums) into a little-endian
 *        blob with magic, version and CRC-32 (docs/FORMATS.md, "Ranker
 *        state"). Scratch is not saved.
 *
 * A ranker loaded from it gives bit-identical picpq_ranker_fp() results and
 * merges exactly: shards of a calibration saved in several processes, loaded
 * and merged, equal one pass over everything.
 * @param[in]  rk     the ranker.
 * @param[out] buf    NULL to query the size, else @p cap bytes.
 * @param[in]  cap    capacity of @p buf in bytes.
 * @param[out] needed the blob's size in bytes; written even when the call
 *   fails with ::PICPQ_E_BUFFER.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL @p rk or @p needed);
 *   ::PICPQ_E_BUFFER (@p cap too small; @p buf untouched);
 *   ::PICPQ_E_INTERNAL (size overflow: cannot happen for a ranker that exists).
 * Thread safety: const, safe. @since 0.1
 */
PICPQ_API picpq_status picpq_ranker_save(const picpq_ranker *rk, void *buf, size_t cap,
                                         size_t *needed);

/**
 * @brief Recreate a ranker saved by picpq_ranker_save().
 * @param[in]  buf, len the blob (read only during the call).
 * @param[out] out the ranker (NULL on failure); free with picpq_ranker_free().
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL @p buf or @p out);
 *   ::PICPQ_E_FORMAT (truncated, padded, corrupted, foreign or
 *   unsupported-version data, or values out of range; the message says
 *   which); ::PICPQ_E_NOMEM.
 * Thread safety: safe. @since 0.1
 */
PICPQ_API picpq_status picpq_ranker_load(const void *buf, size_t len, picpq_ranker **out);

/**@}*/

/* ===================================================================== */
/** @name Network description and cost                                   */
/* ===================================================================== */
/**@{*/

/** Kind of a layer of a ::picpq_net. */
typedef enum picpq_layer_kind {
    PICPQ_LAYER_CONV = 1,  /**< 2-D convolution (groups-aware) */
    PICPQ_LAYER_LINEAR = 2 /**< fully connected layer */
} picpq_layer_kind;

/**
 * @brief Create an empty network description.
 *
 * A net lists the conv and linear layers of a CNN (ids 0, 1, ... in the order
 * they are added), which layer feeds which (picpq_net_connect()), which
 * layers prune the same output channels (picpq_net_couple()), and the filter
 * property of each prunable layer (picpq_net_set_fp()). It computes the
 * MACs, parameters and BOPs of the network, unpruned or under a ::picpq_plan
 * (conventions: docs/BOPS.md).
 * @param[out] out the new net (NULL on failure); free with picpq_net_free().
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (@p out NULL); ::PICPQ_E_NOMEM.
 * Thread safety: safe. @since 0.1
 */
PICPQ_API picpq_status picpq_net_create(picpq_net **out);

/**
 * @brief Free a net. NULL is a no-op. Plans and searches that borrow it must
 *        be freed first or not used again. Thread safety: not with other
 *        calls on @p net. @since 0.1
 */
PICPQ_API void picpq_net_free(picpq_net *net);

/**
 * @brief Append a convolution layer.
 *
 * Its weight is [out_ch, in_ch/groups, kh, kw] and its output map
 * out_h × out_w; its MACs are out_h·out_w·kh·kw·(in_ch/groups)·out_ch. A conv
 * with groups == in_ch == out_ch is depthwise. New conv layers are prunable.
 * @param[in]  net    the net.
 * @param[in]  in_ch, out_ch  channels, >= 1, both divisible by @p groups.
 * @param[in]  kh, kw kernel size, >= 1.
 * @param[in]  groups >= 1.
 * @param[in]  out_h, out_w output size, >= 1.
 * @param[out] layer  may be NULL; receives the new layer id.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (@p net NULL); ::PICPQ_E_OUT_OF_RANGE
 *   (a size < 1, or INT32_MAX layers already); ::PICPQ_E_SHAPE (@p groups does
 *   not divide the channels); ::PICPQ_E_OVERFLOW (the layer's MACs or
 *   the net's total MACs or BOPs overflow int64); ::PICPQ_E_NOMEM. On error
 *   the net is unchanged.
 * Thread safety: not with other calls on @p net. @since 0.1
 */
PICPQ_API picpq_status picpq_net_add_conv(picpq_net *net, int64_t in_ch, int64_t out_ch, int64_t kh,
                                          int64_t kw, int64_t groups, int64_t out_h, int64_t out_w,
                                          int32_t *layer);

/**
 * @brief Append a fully connected layer (MACs in_features·out_features).
 *        Linear layers are not prunable.
 * @param[in]  net the net.
 * @param[in]  in_features, out_features >= 1.
 * @param[out] layer may be NULL; receives the new layer id.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (@p net NULL); ::PICPQ_E_OUT_OF_RANGE
 *   (a size < 1, too many layers); ::PICPQ_E_OVERFLOW; ::PICPQ_E_NOMEM.
 * Thread safety: not with other calls on @p net. @since 0.1
 */
PICPQ_API picpq_status picpq_net_add_linear(picpq_net *net, int64_t in_features,
                                            int64_t out_features, int32_t *layer);

/**
 * @brief Declare that @p consumer's inputs are @p producer's outputs.
 *
 * Pruning one of the producer's filters then removes one input channel of a
 * conv consumer, or S = in_features/out_ch inputs of a linear consumer (a
 * flattened map of S positions per channel). A layer has at most one producer;
 * a producer may feed several consumers. A conv consumer needs
 * in_ch == producer's out_ch; a linear consumer needs in_features to be a
 * multiple of it.
 * @param[in] net the net.
 * @param[in] producer, consumer distinct layer ids.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (@p net NULL, producer ==
 *   consumer, @p consumer already has a producer); ::PICPQ_E_OUT_OF_RANGE (a
 *   layer id); ::PICPQ_E_SHAPE (channel counts do not agree).
 * Thread safety: not with other calls on @p net. @since 0.1
 */
PICPQ_API picpq_status picpq_net_connect(picpq_net *net, int32_t producer, int32_t consumer);

/**
 * @brief Declare that conv layers @p a and @p b prune the same output channel
 *        indices (residual additions; a depthwise conv and its producer).
 *
 * Coupling is transitive: the coupled layers form a chain, ordered by layer
 * id. Widths may differ: index j binds only the members wider than j
 * (ResNet option-A shortcuts). Coupling a pair twice is harmless.
 * @param[in] net the net.
 * @param[in] a, b conv layer ids (may be equal: a no-op).
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (@p net NULL, a linear layer);
 *   ::PICPQ_E_OUT_OF_RANGE (a layer id).
 * Thread safety: not with other calls on @p net. @since 0.1
 */
PICPQ_API picpq_status picpq_net_couple(picpq_net *net, int32_t a, int32_t b);

/**
 * @brief Set a cost-convention parameter (::PICPQ_NET_BOPS_SKIP_FIRST,
 *        ::PICPQ_NET_BOPS_DENSE_DEPTHWISE, ::PICPQ_NET_BOPS_LINEAR_UNPRUNED).
 *
 * This counts as a change of the net: plans created before it report
 * ::PICPQ_E_BAD_STATE afterwards.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (@p net NULL, a key of another
 *   module or a double key); ::PICPQ_E_OUT_OF_RANGE (value outside the key's range).
 * Thread safety: not with other calls on @p net. @since 0.1
 */
PICPQ_API picpq_status picpq_net_set_int(picpq_net *net, picpq_param key, int64_t v);

/**
 * @brief Read a parameter set with picpq_net_set_int() (or its default).
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL pointer, foreign key).
 * Thread safety: const, safe. @since 0.1
 */
PICPQ_API picpq_status picpq_net_get_int(const picpq_net *net, picpq_param key, int64_t *v);

/**
 * @brief Mark a layer prunable (1) or not (0). Conv layers are prunable by
 *        default; coupled layers must all agree (checked by picpq_net_validate()).
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (@p net NULL, @p prunable not 0/1);
 *   ::PICPQ_E_OUT_OF_RANGE (layer id); ::PICPQ_E_UNSUPPORTED (making a linear
 *   layer prunable).
 * Thread safety: not with other calls on @p net. @since 0.1
 */
PICPQ_API picpq_status picpq_net_set_prunable(picpq_net *net, int32_t layer, int prunable);

/**
 * @brief Store the filter property FP of a layer (copied), e.g. from
 *        picpq_ranker_fp(). Does not change the net's structure.
 * @param[in] fp @p n finite values, @p n == the layer's out_ch.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL pointer);
 *   ::PICPQ_E_OUT_OF_RANGE (layer id); ::PICPQ_E_SHAPE (@p n != out_ch);
 *   ::PICPQ_E_NONFINITE (NaN/Inf, index in the message); ::PICPQ_E_NOMEM.
 * Thread safety: not with other calls on @p net. @since 0.3
 */
PICPQ_API picpq_status picpq_net_set_fp(picpq_net *net, int32_t layer, const double *fp, int64_t n);

/**
 * @brief Copy out the scores stored by picpq_net_set_fp().
 * @param[out] fp @p n doubles, @p n == the layer's out_ch.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL pointer);
 *   ::PICPQ_E_OUT_OF_RANGE (layer id); ::PICPQ_E_SHAPE (@p n);
 *   ::PICPQ_E_BAD_STATE (no scores were set for that layer).
 * Thread safety: const, safe. @since 0.3
 */
PICPQ_API picpq_status picpq_net_fp(const picpq_net *net, int32_t layer, double *fp, int64_t n);

/** @brief Number of layers; 0 for NULL. Thread safety: const, safe. @since 0.1 */
PICPQ_API int32_t picpq_net_num_layers(const picpq_net *net);

/**
 * @brief Kind of a layer.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL); ::PICPQ_E_OUT_OF_RANGE (layer id).
 * Thread safety: const, safe. @since 0.1
 */
PICPQ_API picpq_status picpq_net_layer_kind(const picpq_net *net, int32_t layer,
                                            picpq_layer_kind *kind);

/**
 * @brief Channels of a layer as declared (in_features/out_features for linear).
 * @param[out] in_ch, out_ch each may be NULL.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (@p net NULL); ::PICPQ_E_OUT_OF_RANGE (layer id).
 * Thread safety: const, safe. @since 0.1
 */
PICPQ_API picpq_status picpq_net_layer_channels(const picpq_net *net, int32_t layer, int64_t *in_ch,
                                                int64_t *out_ch);

/**
 * @brief Kernel, groups and output size of a layer as declared (1 for a linear layer).
 * @param[out] kh, kw, groups, out_h, out_w each may be NULL.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (@p net NULL); ::PICPQ_E_OUT_OF_RANGE (layer id).
 * Thread safety: const, safe. @since 0.1
 */
PICPQ_API picpq_status picpq_net_layer_geometry(const picpq_net *net, int32_t layer, int64_t *kh,
                                                int64_t *kw, int64_t *groups, int64_t *out_h,
                                                int64_t *out_w);

/**
 * @brief How a layer is linked: its producer and its chain.
 * @param[out] producer may be NULL; the layer connected as its producer, -1 if none.
 * @param[out] chain    may be NULL; the lowest id of the layers coupled with it
 *   (the layer itself when it is coupled to none): layers with equal values
 *   prune the same indices.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (@p net NULL); ::PICPQ_E_OUT_OF_RANGE (layer id).
 * Thread safety: const, safe. @since 0.1
 */
PICPQ_API picpq_status picpq_net_layer_links(const picpq_net *net, int32_t layer, int32_t *producer,
                                             int32_t *chain);

/**
 * @brief Whether a layer is prunable (1) or not (0).
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL); ::PICPQ_E_OUT_OF_RANGE (layer id).
 * Thread safety: const, safe. @since 0.1
 */
PICPQ_API picpq_status picpq_net_is_prunable(const picpq_net *net, int32_t layer, int *prunable);

/**
 * @brief Check the whole description.
 *
 * Checks, naming the offending layers: the producers' links form no cycle
 * (channel counts were checked by picpq_net_connect()); every depthwise conv fed by
 * a producer is coupled to it; coupled layers are all prunable or all not;
 * no grouped, non-depthwise conv has pruned inputs or outputs (a prunable
 * producer or itself prunable). picpq_plan_create() runs it.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (@p net NULL, a cycle or an
 *   inconsistent coupling); ::PICPQ_E_UNSUPPORTED (pruning through a grouped
 *   non-depthwise conv).
 * Thread safety: const, safe. @since 0.1
 */
PICPQ_API picpq_status picpq_net_validate(const picpq_net *net);

/**
 * @brief Multiply-accumulates of the unpruned net (conv and linear layers).
 * @param[out] macs the total (exact up to 2^53).
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (@p net or @p macs NULL). No
 *   overflow is possible: picpq_net_add_conv() keeps every total of the net
 *   within int64. The pruned count is picpq_plan_macs().
 * Thread safety: const, safe. @since 0.3
 */
PICPQ_API picpq_status picpq_net_macs(const picpq_net *net, double *macs);

/**
 * @brief Weight count of the unpruned net (conv kh·kw·(in/groups)·out,
 *        linear in·out; no biases, no batch-norm).
 * @return as picpq_net_macs(). Thread safety: const, safe. @since 0.3
 */
PICPQ_API picpq_status picpq_net_params(const picpq_net *net, double *params);

/**
 * @brief Bit operations of the unpruned net: Σ_l MACs_l·wbits[l]·abits[l]
 *        (docs/BOPS.md), with the reference's variants selected by
 *        ::PICPQ_NET_BOPS_SKIP_FIRST, ::PICPQ_NET_BOPS_DENSE_DEPTHWISE and
 *        ::PICPQ_NET_BOPS_LINEAR_UNPRUNED.
 * @param[in] wbits, abits per-layer bits in 1..32 (picpq_net_num_layers() long),
 *   or NULL for all 32. Pass the same array twice for the reference's
 *   convention (a layer's own bit counts for its activations).
 * @param[out] bops the total.
 * @return as picpq_net_macs(), plus ::PICPQ_E_OUT_OF_RANGE (a bit outside
 *   1..32, layer named).
 * Thread safety: const, safe. @since 0.3
 */
PICPQ_API picpq_status picpq_net_bops(const picpq_net *net, const int32_t *wbits,
                                      const int32_t *abits, double *bops);
/**@}*/

/* ===================================================================== */
/** @name Importance and budgeted global plan                            */
/* ===================================================================== */
/**@{*/

/**
 * @brief Create a plan on @p net: every filter kept, default parameters.
 *
 * The plan borrows @p net: the net must outlive it and keep its structure
 * (any later add, connect, couple, set_prunable or set_int on the net makes
 * every call on this plan fail with ::PICPQ_E_BAD_STATE). Scores may change.
 * The net is validated (picpq_net_validate()) and the plan's workspace is
 * allocated here, so picpq_plan_compute() never allocates.
 * @param[in]  net a valid net with at least one layer.
 * @param[out] out the plan (NULL on failure); free with picpq_plan_free().
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL pointer, an empty net, or
 *   an invalid net); ::PICPQ_E_UNSUPPORTED (see picpq_net_validate());
 *   ::PICPQ_E_NOMEM.
 * Thread safety: const on @p net, safe. @since 0.1
 */
PICPQ_API picpq_status picpq_plan_create(const picpq_net *net, picpq_plan **out);

/** @brief Free a plan (never the net). NULL is a no-op.
 *  Thread safety: not with other calls on @p p. @since 0.1 */
PICPQ_API void picpq_plan_free(picpq_plan *p);

/**
 * @brief Set an integer parameter: ::PICPQ_PLAN_FAITHFUL, ::PICPQ_PLAN_CHECK_EVERY,
 *        ::PICPQ_PLAN_CHAIN_REDUCE, ::PICPQ_PLAN_NUM_CLASSES, ::PICPQ_PLAN_BUDGET_KIND,
 *        ::PICPQ_PLAN_ROUND_TO.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL, foreign or double key);
 *   ::PICPQ_E_OUT_OF_RANGE.
 * Thread safety: not with other calls on @p p. @since 0.1
 */
PICPQ_API picpq_status picpq_plan_set_int(picpq_plan *p, picpq_param key, int64_t v);

/** @brief Read an integer parameter. @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG.
 *  Thread safety: const, safe. @since 0.1 */
PICPQ_API picpq_status picpq_plan_get_int(const picpq_plan *p, picpq_param key, int64_t *v);

/**
 * @brief Set a double parameter: ::PICPQ_PLAN_SAFEGUARD.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL, foreign or int key);
 *   ::PICPQ_E_OUT_OF_RANGE (outside the range, or not finite).
 * Thread safety: not with other calls on @p p. @since 0.1
 */
PICPQ_API picpq_status picpq_plan_set_double(picpq_plan *p, picpq_param key, double v);

/** @brief Read a double parameter. @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG.
 *  Thread safety: const, safe. @since 0.1 */
PICPQ_API picpq_status picpq_plan_get_double(const picpq_plan *p, picpq_param key, double *v);

/**
 * @brief Compute the budgeted global pruning plan for importances
 *        I = a[l]·FP + b[l] (METHOD §5).
 *
 * Coupled layers are scored per channel index (::PICPQ_PLAN_CHAIN_REDUCE),
 * each layer may lose at most its quota (::PICPQ_PLAN_SAFEGUARD), and the
 * entries are taken in ascending score (stable: ties keep layer order, then
 * index) until the budget keep_fraction × the unpruned cost is met (MACs, or
 * params with ::PICPQ_PLAN_BUDGET_KIND). Sorted entries are numbered
 * 0, 1, 2, ...; with N = ::PICPQ_PLAN_CHECK_EVERY the budget is tested after
 * entries 0, N, 2N, ... Default mode: double importances, the test "planned
 * cost <= budget", also made before the first entry, N = 1 unless set.
 * Faithful mode (::PICPQ_PLAN_FAITHFUL): float32 importances and chain sums,
 * the reference cost Σ_conv + out'_last·num_classes
 * (::PICPQ_PLAN_NUM_CLASSES), strict `<`, N = 10 unless set. Both stop at the
 * first plan that passes, or when every quota is spent.
 * Round-to (::PICPQ_PLAN_ROUND_TO = R > 1): a layer of n filters first loses
 * n mod R of them (or R when n is a multiple of R), then R at a time, each
 * batch the lowest-scored filters the entries have reached in that layer; a
 * layer's filters taken by entries wait until its batch is full, so only
 * batches change the cost and the budget test. Its quota becomes the largest
 * q' <= q with n − q' a multiple of R (0 when n < R: the layer stays whole), so
 * every prunable layer keeps a multiple of R filters, at least R. R = 1 is the
 * plain selection.
 * The cost is updated per removed filter: O(N log N) for N filters, and no
 * allocation. On error the previous plan is kept.
 * @param[in] a, b per-layer arrays (picpq_net_num_layers() long); entries
 *   of non-prunable layers are ignored. a[l] finite and > 0, b[l] finite.
 * @param[in] keep_fraction in (0, 1].
 * @return ::PICPQ_OK (budget met); ::PICPQ_BUDGET_UNMET (the quotas ran out:
 *   the plan is the most-pruned one they allow, and it fails the budget test);
 *   ::PICPQ_E_INVALID_ARG (NULL pointer); ::PICPQ_E_OUT_OF_RANGE (a[l] <= 0,
 *   keep_fraction outside (0, 1]); ::PICPQ_E_NONFINITE (a, b, keep_fraction
 *   or a resulting importance not finite); ::PICPQ_E_BAD_STATE (no scores for a
 *   prunable layer, or the net changed after the plan was created);
 *   ::PICPQ_E_OVERFLOW (the reference cost's num_classes term). Layers are named.
 * Thread safety: not with other calls on @p p; const on the net. @since 0.1
 */
PICPQ_API picpq_status picpq_plan_compute(picpq_plan *p, const double *a, const double *b,
                                          double keep_fraction);

/**
 * @brief Compute @p n plans for @p n budgets from one (a, b) in one pass of
 *        the greedy selection (one ranking, many budgets).
 *
 * plans[i] receives exactly what picpq_plan_compute(plans[i], a, b,
 * keep_fractions[i]) would give. All plans must be distinct, created on the
 * same net and have the same parameters.
 * @param[in,out] plans    @p n plans.
 * @param[in]     keep_fractions @p n values in (0, 1], any order.
 * @param[out]    statuses NULL or @p n statuses (OK or BUDGET_UNMET per plan).
 * @return ::PICPQ_OK when every budget is met, ::PICPQ_BUDGET_UNMET when at
 *   least one is not; the errors of picpq_plan_compute(), plus
 *   ::PICPQ_E_INVALID_ARG (n < 1, a NULL or repeated plan, plans on different
 *   nets or with different parameters). On error no plan changes.
 * Thread safety: not with other calls on the plans. @since 0.1
 */
PICPQ_API picpq_status picpq_plan_compute_multi(picpq_plan *const *plans, int32_t n,
                                                const double *a, const double *b,
                                                const double *keep_fractions,
                                                picpq_status *statuses);

/**
 * @brief The importances I = a·FP + b that picpq_plan_compute() would use
 *        for the filters of one layer (double, or float32 values when
 *        ::PICPQ_PLAN_FAITHFUL is set).
 * @param[in]  a, b  the layer's parameters: a finite and > 0, b finite.
 * @param[out] imp   @p n values, @p n == the layer's out_ch.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL); ::PICPQ_E_OUT_OF_RANGE
 *   (layer id, a <= 0); ::PICPQ_E_SHAPE (@p n); ::PICPQ_E_NONFINITE (a, b
 *   or an importance not finite); ::PICPQ_E_BAD_STATE (no scores for the
 *   layer, or the net changed after the plan was created).
 * Thread safety: const, safe. @since 0.1
 */
PICPQ_API picpq_status picpq_plan_importance(const picpq_plan *p, int32_t layer, double a, double b,
                                             double *imp, int64_t n);

/**
 * @brief The budget of the last compute and the cost the plan was judged by
 *        (planned MACs by default; the reference cost of METHOD §5.2 when
 *        faithful).
 * @param[out] budget, cost each may be NULL.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (@p p NULL); ::PICPQ_E_BAD_STATE
 *   (never computed, or a mask was set by hand since; or the net changed).
 * Thread safety: const, safe. @since 0.1
 */
PICPQ_API picpq_status picpq_plan_budget(const picpq_plan *p, double *budget, double *cost);

/**
 * @brief Number of filters the plan keeps in a layer (its out_ch for layers
 *        that are not pruned).
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL); ::PICPQ_E_OUT_OF_RANGE
 *   (layer id); ::PICPQ_E_BAD_STATE (the net changed after the plan was created).
 * Thread safety: const, safe. @since 0.1
 */
PICPQ_API picpq_status picpq_plan_kept(const picpq_plan *p, int32_t layer, int64_t *kept);

/**
 * @brief The keep mask of a layer: mask[j] = 1 if filter j is kept, else 0.
 * @param[out] mask @p n bytes, @p n == the layer's out_ch.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL); ::PICPQ_E_OUT_OF_RANGE
 *   (layer id); ::PICPQ_E_SHAPE (@p n); ::PICPQ_E_BAD_STATE (net changed).
 * Thread safety: const, safe. @since 0.1
 */
PICPQ_API picpq_status picpq_plan_keep_mask(const picpq_plan *p, int32_t layer, uint8_t *mask,
                                            int64_t n);

/**
 * @brief Set a layer's keep mask by hand (baselines, fixtures).
 *
 * Coupled layers of equal width always prune the same indices (the greedy
 * gives them equal quotas), so the mask is also applied to every member of
 * the layer's chain that has the same width. Coupled members of other widths
 * are set separately: the greedy can leave them different where a narrower
 * member ran out of quota (METHOD §5.5, T5).
 * @param[in] mask @p n bytes, each 0 or 1, at least one 1, @p n == out_ch.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL pointer, a value other than
 *   0/1, no filter kept, a zero on a non-prunable layer);
 *   ::PICPQ_E_OUT_OF_RANGE (layer id); ::PICPQ_E_SHAPE (@p n);
 *   ::PICPQ_E_BAD_STATE (the net changed after the plan was created).
 * Thread safety: not with other calls on @p p. @since 0.1
 */
PICPQ_API picpq_status picpq_plan_set_keep_mask(picpq_plan *p, int32_t layer, const uint8_t *mask,
                                                int64_t n);

/**
 * @brief Multiply-accumulates of the plan's net with the filters the plan
 *        keeps (as picpq_net_macs() for the kept channels).
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL); ::PICPQ_E_BAD_STATE (the
 *   net changed after the plan was created).
 * Thread safety: const, safe. @since 0.3
 */
PICPQ_API picpq_status picpq_plan_macs(const picpq_plan *p, double *macs);

/** @brief Weight count under the plan (as picpq_net_params()).
 *  @return as picpq_plan_macs(). Thread safety: const, safe. @since 0.3 */
PICPQ_API picpq_status picpq_plan_params(const picpq_plan *p, double *params);

/**
 * @brief Bit operations under the plan (as picpq_net_bops()).
 * @return as picpq_plan_macs(), plus ::PICPQ_E_OUT_OF_RANGE (a bit outside
 *   1..32, layer named). Thread safety: const, safe. @since 0.3
 */
PICPQ_API picpq_status picpq_plan_bops(const picpq_plan *p, const int32_t *wbits,
                                       const int32_t *abits, double *bops);
/**@}*/

/* ===================================================================== */
/** @name Regularized evolutionary search                                */
/* ===================================================================== */
/**@{*/

/**
 * @brief Create a regularized evolutionary search over the (a, b) of @p net.
 *
 * The search samples and mutates the L prunable layers of @p net (in layer
 * order); entries of non-prunable layers are always written as (1, 0). Each
 * prunable layer's shift noise is std_l = population std (ddof 0) of its FP
 * scores, read once here from the net. The search borrows @p net: it must
 * outlive the search and must not change afterwards (later calls then fail
 * with ::PICPQ_E_BAD_STATE). Parameters take their defaults (METHOD §6:
 * P 64, S 16, G 400, σ 1, 10 % of the layers mutated) and may be changed
 * until the first picpq_search_ask().
 *
 * The generator is per handle: xoshiro256** seeded by splitmix64(@p seed),
 * normals by the Marsaglia polar method. The same seed and the same calls
 * give bit-identical candidates on machines of the same architecture and libm.
 * @param[in]  net  the network, with scores set on every prunable layer.
 * @param[in]  seed any value (0 included).
 * @param[out] out  the new search (NULL on failure); free with picpq_search_free().
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL pointer, a net without
 *   layers or without prunable layers); ::PICPQ_E_BAD_STATE (a prunable layer
 *   has no scores); ::PICPQ_E_NONFINITE (the std of a layer's scores
 *   overflows); ::PICPQ_E_NOMEM.
 * Thread safety: const on @p net, safe. @since 0.1
 */
PICPQ_API picpq_status picpq_search_create(const picpq_net *net, uint64_t seed, picpq_search **out);

/** @brief Free a search and its pending candidates. NULL is a no-op.
 *  Thread safety: not with other calls on @p s. @since 0.1 */
PICPQ_API void picpq_search_free(picpq_search *s);

/**
 * @brief Set an integer parameter: ::PICPQ_SEARCH_POPULATION,
 *        ::PICPQ_SEARCH_SAMPLE, ::PICPQ_SEARCH_GENERATIONS, ::PICPQ_SEARCH_IDENTITY.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL @p s, a key that is not an
 *   integer search parameter); ::PICPQ_E_OUT_OF_RANGE (value outside
 *   picpq_param_range()); ::PICPQ_E_BAD_STATE (after the first ask).
 * Thread safety: not with other calls on @p s. @since 0.1
 */
PICPQ_API picpq_status picpq_search_set_int(picpq_search *s, picpq_param key, int64_t v);

/**
 * @brief Set a double parameter: ::PICPQ_SEARCH_SIGMA,
 *        ::PICPQ_SEARCH_MUTATE_FRACTION, ::PICPQ_SEARCH_ANNEAL, ::PICPQ_SEARCH_SHIFT_SCALE.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL @p s, a key that is not a
 *   double search parameter); ::PICPQ_E_OUT_OF_RANGE (outside the range, or
 *   NaN/Inf); ::PICPQ_E_BAD_STATE (after the first ask).
 * Thread safety: not with other calls on @p s. @since 0.1
 */
PICPQ_API picpq_status picpq_search_set_double(picpq_search *s, picpq_param key, double v);

/**
 * @brief Read an integer parameter.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL pointer, a key that is not
 *   an integer search parameter).
 * Thread safety: const, safe. @since 0.1
 */
PICPQ_API picpq_status picpq_search_get_int(const picpq_search *s, picpq_param key, int64_t *v);

/**
 * @brief Read a double parameter.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL pointer, a key that is not
 *   a double search parameter).
 * Thread safety: const, safe. @since 0.1
 */
PICPQ_API picpq_status picpq_search_get_double(const picpq_search *s, picpq_param key, double *v);

/**
 * @brief Issue the next candidate (a, b) to evaluate.
 *
 * The g-th ask (g = 0, 1, ...) is, as generation g of METHOD §6: random for
 * g < P (a = exp(N(0, σ²)), b = N(0, std_l²)), the identity (1, 0) for
 * g = P−1 (when ::PICPQ_SEARCH_IDENTITY is 1), and a child otherwise: a
 * tournament of S draws with replacement among the members whose loss has
 * been told (first minimum wins), then int(fraction·L) layers drawn with
 * replacement get a ·= exp(N(0, (σ·step)²)), b += N(0, std_l²), step =
 * 1 − g/(anneal·G). While no member has been told yet, a g >= P ask draws a
 * random candidate instead. Any number of asks may be outstanding.
 * @param[in]  s  the search.
 * @param[out] id the candidate's id (g + 1; never 0), to pass to picpq_search_tell().
 * @param[out] a, b @p n doubles each, indexed by net layer id; non-prunable
 *   layers get (1, 0).
 * @param[in]  n  must equal picpq_net_num_layers(net).
 * @return ::PICPQ_OK; ::PICPQ_DONE (all G candidates were issued: outputs
 *   untouched, not an error); ::PICPQ_E_INVALID_ARG (NULL pointer);
 *   ::PICPQ_E_SHAPE (@p n); ::PICPQ_E_BAD_STATE (the net changed);
 *   ::PICPQ_E_NOMEM.
 * Thread safety: not with other calls on @p s. @since 0.1
 */
PICPQ_API picpq_status picpq_search_ask(picpq_search *s, uint64_t *id, double *a, double *b,
                                        int64_t n);

/**
 * @brief Report the loss of an issued candidate, in any order.
 *
 * A finite loss makes the candidate a member: it takes the next free slot
 * while the population is not full, afterwards the slot of the oldest
 * member (aging, first in first out, whatever that member's loss), and it
 * becomes the best if its loss is strictly below every earlier one. A
 * non-finite loss (NaN, ±Inf) marks a failed evaluation: it still consumes
 * its evaluation (it counts among the G and is not re-issued) but never
 * joins the population, never ages a member and is never the best.
 * @param[in] s    the search.
 * @param[in] id   an id returned by picpq_search_ask() and not told yet.
 * @param[in] loss the candidate's loss (lower is better).
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL @p s); ::PICPQ_E_BAD_STATE
 *   (unknown or already told id, or the net changed).
 * Thread safety: not with other calls on @p s. @since 0.1
 */
PICPQ_API picpq_status picpq_search_tell(picpq_search *s, uint64_t id, double loss);

/**
 * @brief The best candidate told so far (global best, not the population's).
 * @param[out] a, b @p n doubles each, indexed by net layer id.
 * @param[in]  n    must equal picpq_net_num_layers(net).
 * @param[out] loss may be NULL; its loss.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL @p s, @p a or @p b);
 *   ::PICPQ_E_SHAPE (@p n); ::PICPQ_E_BAD_STATE (no finite loss told yet,
 *   or the net changed).
 * Thread safety: const, safe. @since 0.1
 */
PICPQ_API picpq_status picpq_search_best(const picpq_search *s, double *a, double *b, int64_t n,
                                         double *loss);

/** @brief Number of issued but untold candidates; 0 for NULL.
 *  Thread safety: const, safe. @since 0.1 */
PICPQ_API int64_t picpq_search_num_pending(const picpq_search *s);

/**
 * @brief The @p i-th issued-but-untold candidate, in issue order (e.g. to
 *        re-dispatch them after picpq_search_load()).
 * @param[in]  i  0 <= i < picpq_search_num_pending().
 * @param[out] id, a, b as picpq_search_ask().
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL pointer); ::PICPQ_E_SHAPE
 *   (@p n); ::PICPQ_E_OUT_OF_RANGE (@p i); ::PICPQ_E_BAD_STATE (the net changed).
 * Thread safety: const, safe. @since 0.1
 */
PICPQ_API picpq_status picpq_search_pending(const picpq_search *s, int64_t i, uint64_t *id,
                                            double *a, double *b, int64_t n);

/**
 * @brief Progress counters, for polling.
 * @param[out] issued    may be NULL; candidates issued so far (<= G).
 * @param[out] told      may be NULL; candidates told (failed ones included).
 * @param[out] failed    may be NULL; candidates told with a non-finite loss.
 * @param[out] best_loss may be NULL; the best finite loss, +Inf if none yet.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL @p s).
 * Thread safety: const, safe. @since 0.1
 */
PICPQ_API picpq_status picpq_search_stats(const picpq_search *s, int64_t *issued, int64_t *told,
                                          int64_t *failed, double *best_loss);

/**
 * @brief Serialize the whole search (parameters, generator, population and
 *        its aging order, best, pending candidates, history) into a
 *        little-endian blob with magic, version and CRC-32 (docs/FORMATS.md).
 *
 * A search loaded from it continues bit-identically to this one.
 * @param[out] buf    NULL to query the size, else @p cap bytes.
 * @param[out] needed the blob's size in bytes; written even when the call
 *   fails with ::PICPQ_E_BUFFER.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL @p s or @p needed);
 *   ::PICPQ_E_BUFFER (@p cap too small; @p buf untouched).
 * Thread safety: const, safe. @since 0.1
 */
PICPQ_API picpq_status picpq_search_save(const picpq_search *s, void *buf, size_t cap,
                                         size_t *needed);

/**
 * @brief Recreate a search saved by picpq_search_save() over the same net.
 *
 * @p net must have the same layers, prunable layers, channels and FP scores
 * as the saved search's net; the new search borrows it.
 * @param[in]  buf, len the blob (read only during the call).
 * @param[out] out the search (NULL on failure).
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL pointer); ::PICPQ_E_FORMAT
 *   (truncated, corrupted, foreign or unsupported-version data, or data
 *   saved for a different net; the message says which); the statuses of
 *   picpq_search_create() for @p net; ::PICPQ_E_NOMEM.
 * Thread safety: const on @p net, safe. @since 0.1
 */
PICPQ_API picpq_status picpq_search_load(const picpq_net *net, const void *buf, size_t len,
                                         picpq_search **out);

/**@}*/

/* ===================================================================== */
/** @name Quantizer                                                       */
/* ===================================================================== */
/**@{*/

/**
 * @brief Layer sparsity as the L1-mass ratio ‖W_pruned‖₁ / ‖W_orig‖₁ (METHOD §7.1,
 *        the current reference code's rule).
 *
 * @p w_pruned is the pruned weight tensor (a sub-tensor of @p w_orig: same
 * number of dimensions, each size at most the original's). Sums are taken in
 * double precision. A layer with nothing pruned gives exactly 1.
 * @param[in]  w_orig   original weights, any dtype and strides.
 * @param[in]  w_pruned pruned weights, any dtype and strides.
 * @param[out] s        the ratio, in [0, 1].
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL); ::PICPQ_E_SHAPE (the number
 *   of dimensions differs or a pruned size exceeds the original's);
 *   ::PICPQ_E_NONFINITE (NaN or Inf in either tensor); ::PICPQ_E_OUT_OF_RANGE
 *   (@p w_orig is all zeros, so the ratio is undefined, or @p w_pruned has more
 *   L1 mass than @p w_orig). On error @p s is untouched.
 * Thread safety: const, safe. @since 0.3
 */
PICPQ_API picpq_status picpq_quant_sparsity_l1(const picpq_tensor *w_orig,
                                               const picpq_tensor *w_pruned, double *s);

/**
 * @brief picpq_quant_sparsity_l1() without building the pruned tensor: the L1 mass
 *        of the elements of @p w_orig whose output channel (axis 0) and input
 *        channel (axis 1) are both kept, over the mass of all of @p w_orig.
 *
 * @param[in]  w_orig   original weights, any dtype and strides.
 * @param[in]  out_keep @p n_out flags (non-zero = kept) for axis 0, or NULL = all kept.
 * @param[in]  n_out    must equal dim(0) when @p out_keep is given.
 * @param[in]  in_keep  @p n_in flags for axis 1, or NULL = all kept; needs ndim >= 2.
 * @param[in]  n_in     must equal dim(1) when @p in_keep is given.
 * @param[out] s        the ratio, in [0, 1].
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL @p w_orig or @p s);
 *   ::PICPQ_E_SHAPE (a mask length differs from its axis, or @p in_keep on a
 *   1-d tensor); ::PICPQ_E_NONFINITE; ::PICPQ_E_OUT_OF_RANGE (all-zero @p w_orig).
 * Thread safety: const, safe. @since 0.3
 */
PICPQ_API picpq_status picpq_quant_sparsity_l1_masked(const picpq_tensor *w_orig,
                                                      const uint8_t *out_keep, int64_t n_out,
                                                      const uint8_t *in_keep, int64_t n_in,
                                                      double *s);

/**
 * @brief Per-layer sparsity as the kept-filter ratio s_l = n'_l / n_l of a plan
 *        (METHOD §7.2: the default rule, which produced the reference's bit lists).
 *
 * n_l is the layer's output channel count, n'_l its kept count in @p plan
 * (layers that are not pruned give exactly 1).
 * @param[in]  net  the network.
 * @param[in]  plan a plan of @p net.
 * @param[out] s    picpq_net_num_layers(@p net) ratios in [0, 1].
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL, @p plan made on another
 *   net); ::PICPQ_E_BAD_STATE (the net changed after the plan was created);
 *   the other errors of picpq_net_macs(), picpq_net_layer_channels() and
 *   picpq_plan_kept(). On error @p s is untouched.
 * Thread safety: const, safe. @since 0.3
 */
PICPQ_API picpq_status picpq_quant_sparsity_from_plan(const picpq_net *net, const picpq_plan *plan,
                                                      double *s);

/**
 * @brief Per-layer bitwidths from sparsities (METHOD §7, E6):
 *        q_l = B_l − ⌈τ / s_l⌉, q_l = B_l when s_l = 1, and 32 when B_l = 32.
 *
 * The ceiling is taken on the double quotient τ/s_l, except that a quotient
 * within 4 ulps of an integer counts as that integer: the value the exact
 * rationals would give (τ = 1/6 with s = 1/6 → 1; the C0 form ⌈(1/s)/6⌉ of
 * METHOD §7.2 with s = n'/n gives the same bits). Results below @p min_bits
 * are raised to min(@p min_bits, B_l) (a layer never gets more than B_l).
 * With @p min_bits = 0 nothing is raised and a result below 1 is an error.
 * @param[in]  n         number of layers, >= 1.
 * @param[in]  sparsity  @p n values in (0, 1].
 * @param[in]  max_bits  @p n available maximum bitwidths B_l, each in 1..8 or 32.
 * @param[in]  tau       penalty factor τ > 0 (the reference uses 1/6).
 * @param[in]  min_bits  0 (no clamp) or 1..8; the default policy is 2.
 * @param[out] bits      @p n bitwidths.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL); ::PICPQ_E_OUT_OF_RANGE
 *   (@p n < 1, τ <= 0, @p min_bits outside 0..8, a B_l outside {1..8, 32}, an
 *   s_l outside (0, 1], or with @p min_bits = 0 a layer whose bits fall below 1;
 *   the message names the layer); ::PICPQ_E_NONFINITE (τ or an s_l is NaN or
 *   infinite). On error @p bits is untouched.
 * Thread safety: safe. @since 0.3
 */
PICPQ_API picpq_status picpq_quant_bits_assign(int32_t n, const double *sparsity,
                                               const int32_t *max_bits, double tau,
                                               int32_t min_bits, int32_t *bits);

/**
 * @brief Choose τ so that the bits of picpq_quant_bits_assign() give the largest
 *        BOPs that do not exceed @p max_bops for @p plan.
 *
 * Bits only change where τ/s_l crosses an integer, so the candidates are
 * τ = k·s_l (k = 1, 2, ...); the smallest candidate whose BOPs
 * (picpq_net_bops() with weight and activation bits both = the layer's bits,
 * METHOD §10) fit is returned: its bits are the largest assignment that meets
 * the budget, and any τ between the previous candidate and it gives the same bits.
 * @param[in]  net       the network.
 * @param[in]  plan      its pruning plan, or NULL for the unpruned net.
 * @param[in]  sparsity  picpq_net_num_layers(@p net) values, as picpq_quant_bits_assign().
 * @param[in]  max_bits  B_l per layer, as picpq_quant_bits_assign().
 * @param[in]  min_bits  as picpq_quant_bits_assign().
 * @param[in]  max_bops  the budget, > 0.
 * @param[out] tau       the chosen τ (when no layer is pruned the bits do not
 *   depend on τ and 1 is reported).
 * @param[out] bits      picpq_net_num_layers(@p net) bitwidths.
 * @return ::PICPQ_OK; ::PICPQ_BUDGET_UNMET (no τ meets the budget: @p tau and
 *   @p bits are those of the fewest bits allowed: every pruned layer at
 *   min(@p min_bits, B_l), or with @p min_bits = 0 the largest τ that keeps
 *   every layer at >= 1 bit); ::PICPQ_E_INVALID_ARG (NULL);
 *   ::PICPQ_E_OUT_OF_RANGE (@p max_bops <= 0, @p min_bits, or as
 *   picpq_quant_bits_assign(), naming the layer); ::PICPQ_E_NONFINITE (@p max_bops
 *   or a sparsity NaN or infinite); the errors of
 *   picpq_net_bops() (e.g. ::PICPQ_E_BAD_STATE). On error the outputs are untouched.
 * Thread safety: const on @p net and @p plan, safe. @since 0.3
 */
PICPQ_API picpq_status picpq_quant_bits_solve(const picpq_net *net, const picpq_plan *plan,
                                              const double *sparsity, const int32_t *max_bits,
                                              int32_t min_bits, double max_bops, double *tau,
                                              int32_t *bits);

/**
 * @brief Quantize float32 weights in place with the reference's quantizer
 *        (METHOD §8, E7), whole-tensor normalization.
 *
 * For k = @p bits in 3..8 and n = 2^(k−1) − 1, in float32 operations in this
 * order: t = tanhf(w); m = max|t| (= tanhf(max|w|), tanhf being monotone);
 * y = t / m; z = y · n; c = nearbyintf(z) (round half to even); q = c / n.
 * k = 2: q = sign(w) ∈ {−1, 0, +1}. k = 1: q = E·sign(w) with E = mean|w|
 * (summed in double, rounded to float) and sign(0) = +1 (the reference gives
 * NaN). k = 32: identity. An all-zero tensor stays zero (the reference
 * divides 0 by 0). C's tanhf may differ from torch's tanh in the last ulp,
 * which moves a value by one code only at an exact rounding boundary.
 * @param[in,out] w     a ::PICPQ_F32 tensor, any strides.
 * @param[in]     bits  1..8 or 32.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL, dtype not ::PICPQ_F32);
 *   ::PICPQ_E_OUT_OF_RANGE (@p bits); ::PICPQ_E_NONFINITE (NaN or Inf, with
 *   its flat index; @p w untouched).
 * Thread safety: @p w must not be used concurrently. @since 0.3
 */
PICPQ_API picpq_status picpq_quant_weights(picpq_tensor *w, int32_t bits);

/**
 * @brief picpq_quant_weights() of @p src written into @p dst (same shape,
 *        both ::PICPQ_F32, any strides; @p dst may be @p src).
 * @return as picpq_quant_weights(), plus ::PICPQ_E_SHAPE (shapes differ).
 *   On error @p dst is untouched.
 * Thread safety: const on @p src; @p dst must not be used concurrently. @since 0.3
 */
PICPQ_API picpq_status picpq_quant_weights_into(const picpq_tensor *src, picpq_tensor *dst,
                                                int32_t bits);

/**
 * @brief Quantize float32 activations in place (METHOD §8, E8).
 *
 * For k = @p bits in 2..8 and n = 2^k − 1, in float32: c = nearbyintf(clip(x, 0, 1) · n),
 * q = c / n. k = 1: q = 1 if x > 0 else 0. k = 32: identity (no clip).
 * @param[in,out] x     a ::PICPQ_F32 tensor, any strides.
 * @param[in]     bits  1..8 or 32.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL, dtype); ::PICPQ_E_OUT_OF_RANGE
 *   (@p bits); ::PICPQ_E_NONFINITE (NaN or Inf; @p x untouched).
 * Thread safety: @p x must not be used concurrently. @since 0.3
 */
PICPQ_API picpq_status picpq_quant_activations(picpq_tensor *x, int32_t bits);

/**
 * @brief picpq_quant_activations() of @p src written into @p dst (same
 *        shape, both ::PICPQ_F32, any strides; @p dst may be @p src).
 * @return as picpq_quant_activations(), plus ::PICPQ_E_SHAPE. On error @p dst is untouched.
 * Thread safety: const on @p src; @p dst must not be used concurrently. @since 0.3
 */
PICPQ_API picpq_status picpq_quant_activations_into(const picpq_tensor *src, picpq_tensor *dst,
                                                    int32_t bits);

/**
 * @brief Integer codes of picpq_quant_weights(): the quantized weight of
 *        element i is exactly fl32(@p magnitude · fl32(codes[i] / @p levels)).
 *
 * k = @p bits in 3..8: codes in [−n, n], @p levels = n = 2^(k−1) − 1,
 * @p magnitude = 1 (a float scale 1/n would not be exact). k = 2: codes in
 * {−1, 0, 1}, levels 1, magnitude 1. k = 1: codes in {−1, +1}, levels 1,
 * @p magnitude = E = mean|w|. Codes are in C order of @p w's indices and fit
 * picpq_quant_pack() with the same @p bits.
 * @param[in]  w         a ::PICPQ_F32 tensor, any strides.
 * @param[in]  bits      1..8 (32-bit layers are not quantized).
 * @param[out] codes     @p n codes.
 * @param[in]  n         must equal the element count of @p w.
 * @param[out] levels    the level count n (may be NULL).
 * @param[out] magnitude the scale E of k = 1, else 1 (may be NULL).
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL @p w or @p codes, dtype);
 *   ::PICPQ_E_OUT_OF_RANGE (@p bits); ::PICPQ_E_SHAPE (@p n);
 *   ::PICPQ_E_NONFINITE. On error the outputs are untouched.
 * Thread safety: const, safe. @since 0.3
 */
PICPQ_API picpq_status picpq_quant_weight_codes(const picpq_tensor *w, int32_t bits, int8_t *codes,
                                                int64_t n, int32_t *levels, float *magnitude);

/**
 * @brief Pack @p n signed codes of @p bits bits each into bytes.
 *
 * Bit order: code i occupies bits [i·bits, (i+1)·bits) of a little-endian bit
 * stream (stream bit j is bit j mod 8, LSB = 0, of byte j / 8), its least
 * significant bit first. For bits >= 2 a code is stored in two's complement and
 * must lie in [−2^(bits−1), 2^(bits−1) − 1]; for bits = 1 a code must be −1
 * (stored 0) or +1 (stored 1), the k = 1 weight codes. Unused bits of the last
 * byte are zero. The packed size is ⌈n·bits/8⌉ bytes.
 * @param[in]  codes  @p n codes (may be NULL when @p n is 0).
 * @param[in]  n      >= 0.
 * @param[in]  bits   1..8.
 * @param[out] buf    @p cap bytes, or NULL to query the size.
 * @param[in]  cap    capacity of @p buf.
 * @param[out] needed receives ⌈n·bits/8⌉ (may be NULL when @p buf is given);
 *   also written when @p cap is too small.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL @p codes with n > 0, or both
 *   @p buf and @p needed NULL); ::PICPQ_E_OUT_OF_RANGE (@p bits, @p n < 0, or a
 *   code outside the range, with its index); ::PICPQ_E_SHAPE (@p cap smaller
 *   than the needed size, which the message and @p needed report);
 *   ::PICPQ_E_OVERFLOW. On other errors the outputs are untouched.
 * Thread safety: safe. @since 0.3
 */
PICPQ_API picpq_status picpq_quant_pack(const int8_t *codes, int64_t n, int32_t bits, uint8_t *buf,
                                        size_t cap, size_t *needed);

/**
 * @brief Unpack @p n codes written by picpq_quant_pack() with the same @p bits.
 * @param[in]  buf   @p len bytes.
 * @param[in]  len   at least ⌈n·bits/8⌉.
 * @param[in]  bits  1..8.
 * @param[out] codes @p n codes (sign-extended; −1/+1 for bits = 1).
 * @param[in]  n     >= 0.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL with n > 0);
 *   ::PICPQ_E_OUT_OF_RANGE (@p bits, @p n < 0); ::PICPQ_E_SHAPE (@p len too
 *   small: the message gives the needed size); ::PICPQ_E_OVERFLOW.
 * Thread safety: safe. @since 0.3
 */
PICPQ_API picpq_status picpq_quant_unpack(const uint8_t *buf, size_t len, int32_t bits,
                                          int8_t *codes, int64_t n);

/**
 * @brief Bytes of a packed model: Σ ⌈numel_l·bits_l/8⌉ over quantized layers
 *        plus 4·numel_l for 32-bit (float) layers; metadata (levels, scales) excluded.
 * @param[in]  n      number of tensors, >= 1.
 * @param[in]  numel  @p n element counts, each >= 0.
 * @param[in]  bits   @p n bitwidths in 1..8 or 32.
 * @param[out] bytes  the total.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL); ::PICPQ_E_OUT_OF_RANGE
 *   (@p n, a negative count or a bitwidth outside {1..8, 32}, naming the
 *   index); ::PICPQ_E_OVERFLOW.
 * Thread safety: safe. @since 0.3
 */
PICPQ_API picpq_status picpq_quant_packed_size(int32_t n, const int64_t *numel, const int32_t *bits,
                                               int64_t *bytes);
/**@}*/

/* ===================================================================== */
/** @name Experimental: allocators, diagnostics, compatibility            */
/* ===================================================================== */
/**@{*/
/*
 * Calls that are not frozen yet: they are exported in the version node
 * PICPQ_EXPERIMENTAL and may change or go in any release, without a soname
 * change. Define PICPQ_EXPERIMENTAL before including picpq.h to use them.
 */
#ifdef PICPQ_EXPERIMENTAL

/**
 * @brief Per-handle memory allocator, given to the `*_create_ex` calls.
 *
 * The structure is copied at creation; the handle then allocates and frees
 * all of its memory through it. `alloc` returns NULL on failure (the call
 * then fails with ::PICPQ_E_NOMEM and releases what it took). `free` must
 * accept NULL. A NULL allocator pointer means malloc/free. There is no
 * process-wide hook.
 */
typedef struct picpq_allocator {
    void *(*alloc)(void *ud, size_t size); /**< like malloc(size) */
    void (*free)(void *ud, void *ptr);     /**< like free(ptr) */
    void *ud;                              /**< passed back unchanged */
} picpq_allocator;

/**
 * @brief picpq_tensor_create() with an allocator (NULL = malloc/free).
 * @return as picpq_tensor_create(). Thread safety: safe. @since 0.1
 */
PICPQ_API picpq_status picpq_tensor_create_ex(picpq_dtype dtype, int32_t ndim, const int64_t *shape,
                                              const picpq_allocator *alloc, picpq_tensor **out);

/** @brief picpq_tensor_wrap() with an allocator for the handle itself.
 *  @return as picpq_tensor_wrap(). Thread safety: safe. @since 0.1 */
PICPQ_API picpq_status picpq_tensor_wrap_ex(void *data, picpq_dtype dtype, int32_t ndim,
                                            const int64_t *shape, const int64_t *strides_bytes,
                                            const picpq_allocator *alloc, picpq_tensor **out);

/**
 * @brief picpq_ranker_create() with an allocator (NULL = malloc/free),
 *        used for the handle and for all scratch that feed allocates.
 * @return as picpq_ranker_create(), plus ::PICPQ_E_INVALID_ARG for an
 *   allocator with a NULL hook. Thread safety: safe. @since 0.1
 */
PICPQ_API picpq_status picpq_ranker_create_ex(int32_t n_layers, const int64_t *channels,
                                              const picpq_allocator *alloc, picpq_ranker **out);

/** @brief picpq_ranker_load() with an allocator (NULL = malloc/free), used
 *         for the handle and all its later scratch.
 *  @return as picpq_ranker_load(), plus ::PICPQ_E_INVALID_ARG for an
 *  allocator with a NULL hook. Thread safety: safe. @since 0.1 */
PICPQ_API picpq_status picpq_ranker_load_ex(const void *buf, size_t len,
                                            const picpq_allocator *alloc, picpq_ranker **out);

/**
 * @brief picpq_net_create() with an allocator (NULL = malloc/free).
 * @return as picpq_net_create(), plus ::PICPQ_E_INVALID_ARG for an allocator
 *   with only one of its two hooks set.
 * Thread safety: safe. @since 0.1
 */
PICPQ_API picpq_status picpq_net_create_ex(const picpq_allocator *alloc, picpq_net **out);

/**
 * @brief picpq_plan_create() with an allocator (NULL = malloc/free).
 * @return as picpq_plan_create() (a half-set allocator is ::PICPQ_E_INVALID_ARG).
 * Thread safety: const on @p net, safe. @since 0.1
 */
PICPQ_API picpq_status picpq_plan_create_ex(const picpq_net *net, const picpq_allocator *alloc,
                                            picpq_plan **out);

/**
 * @brief picpq_search_create() with an allocator (NULL = malloc/free).
 * @return as picpq_search_create(), and ::PICPQ_E_INVALID_ARG for an
 *   allocator with only one hook set.
 * Thread safety: const on @p net, safe. @since 0.1
 */
PICPQ_API picpq_status picpq_search_create_ex(const picpq_net *net, uint64_t seed,
                                              const picpq_allocator *alloc, picpq_search **out);

/** @brief picpq_search_load() with an allocator (NULL = malloc/free).
 *  @return as picpq_search_load(). Thread safety: const on @p net, safe. @since 0.1 */
PICPQ_API picpq_status picpq_search_load_ex(const picpq_net *net, const void *buf, size_t len,
                                            const picpq_allocator *alloc, picpq_search **out);

/**
 * @brief How the maps fed so far were decided: by the certificate alone or
 *        by the `sgesdd` fallback (see picpq_matrix_rank_f32()). Counts of
 *        this handle's feeds since creation or reset; merge does not add them.
 * @param[out] certified, fallback  may be NULL.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL @p rk).
 * Thread safety: const, safe. @since 0.1
 */
PICPQ_API picpq_status picpq_ranker_stats(const picpq_ranker *rk, int64_t *certified,
                                          int64_t *fallback);

/**
 * @brief Mean loss of the population after each tell (the reference's
 *        `_ea_loss.txt` curve): entry k is the mean over the members right
 *        after the k-th tell (NaN while the population is empty).
 *
 * With one outstanding ask at a time, entries P−1 .. G−2 are the values the
 * reference logs at generations P .. G−1.
 * @param[out] mean_loss NULL to query the length, else @p cap doubles.
 * @param[in]  cap       capacity of @p mean_loss.
 * @param[out] count     the number of entries (= told); written even when
 *   the call fails with ::PICPQ_E_BUFFER.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL @p s or @p count);
 *   ::PICPQ_E_BUFFER (@p cap < count; nothing copied).
 * Thread safety: const, safe. @since 0.1
 */
PICPQ_API picpq_status picpq_search_history(const picpq_search *s, double *mean_loss, int64_t cap,
                                            int64_t *count);

/**
 * @brief Tell the loss of a candidate whose network was already scored
 *        (the host compares picpq_plan_key() of the plans): the search
 *        drops it and issues another candidate in its place, so that the G
 *        evaluations are G distinct networks.
 *
 * A dropped candidate does not join the population, does not age a member,
 * is not the best and does not advance the mutation's annealing; it adds a
 * history entry (the unchanged mean). Once ::PICPQ_SEARCH_MAX_REPEATS
 * candidates were dropped, this call is picpq_search_tell() with @p loss (a
 * search that only finds known networks still ends).
 * @param[in] id   an id returned by picpq_search_ask() and not told yet.
 * @param[in] loss the network's known loss (used once the cap is reached).
 * @return as picpq_search_tell().
 * Thread safety: not with other calls on @p s. @since 0.3
 */
PICPQ_API picpq_status picpq_search_tell_repeat(picpq_search *s, uint64_t id, double loss);

/** @brief Candidates dropped by picpq_search_tell_repeat() so far; 0 for NULL.
 *  Thread safety: const, safe. @since 0.3 */
PICPQ_API int64_t picpq_search_num_repeats(const picpq_search *s);

/**
 * @brief A 64-bit key of the filters the plan keeps (FNV-1a of every
 *        layer's keep mask): two plans of one net with the same kept filters
 *        have the same key, different ones collide with probability ~2^-64.
 *        A host skips scoring a network whose key it has already scored.
 * @param[out] key the key.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL); ::PICPQ_E_BAD_STATE (the
 *   net changed after the plan was created).
 * Thread safety: const, safe. @since 0.3
 */
PICPQ_API picpq_status picpq_plan_key(const picpq_plan *p, uint64_t *key);

/**
 * @brief Fit a bit assignment to a BOPs budget, so that the BOPs land at it
 *        rather than below (or above) it.
 *
 * Over the budget (as the bits of picpq_quant_bits_solve() when it returns
 * ::PICPQ_BUDGET_UNMET: every pruned layer at the floor, the unpruned ones
 * at B_l by METHOD E6), layers lose one bit at a time in the order a rising
 * τ would take them — smallest (B_l − q_l)·s_l first, unpruned layers
 * (s_l = 1) included, the lower layer id on ties — down to
 * min(@p min_bits, B_l), until the BOPs fit. Then layers gain one bit at a
 * time in the order a falling τ would — largest (B_l − q_l − 1)·s_l first —
 * skipping a layer whose next bit would exceed @p max_bops, until none
 * fits. Layers with B_l = 32 never change.
 * @param[in]     net, plan, sparsity, max_bits as picpq_quant_bits_solve().
 * @param[in]     min_bits the floor, 1..8.
 * @param[in]     max_bops the budget, > 0.
 * @param[in,out] bits     picpq_net_num_layers(@p net) bitwidths, each in
 *   1..B_l (32 where B_l = 32); changed in place.
 * @return ::PICPQ_OK (within the budget); ::PICPQ_BUDGET_UNMET (over it even
 *   with every layer at the floor: every layer above it is brought down to it);
 *   ::PICPQ_E_INVALID_ARG (NULL); ::PICPQ_E_OUT_OF_RANGE (@p max_bops <= 0,
 *   @p min_bits, a bit outside its range, or as picpq_quant_bits_assign());
 *   ::PICPQ_E_NONFINITE; ::PICPQ_E_NOMEM; the errors of picpq_net_bops().
 *   On error @p bits is untouched.
 * Thread safety: const on @p net and @p plan, safe. @since 0.3
 */
PICPQ_API picpq_status picpq_quant_bits_fill(const picpq_net *net, const picpq_plan *plan,
                                             const double *sparsity, const int32_t *max_bits,
                                             int32_t min_bits, double max_bops, int32_t *bits);

/**
 * @brief Write (a, b) in the reference's `--lub` text format: one row
 *        "a b" per prunable layer of @p net, in layer order, `%.17g`, '\n'
 *        line ends, NUL-terminated.
 *
 * Numbers are formatted with the C library, so the process must use a
 * locale whose decimal point is '.' (the "C" locale, the default of C
 * programs and of Python).
 * @param[in]  a, b   @p n doubles each, indexed by net layer id.
 * @param[in]  n      must equal picpq_net_num_layers(net).
 * @param[out] text   NULL to query the size, else @p cap bytes.
 * @param[out] needed bytes needed including the NUL; written even when the
 *   call fails with ::PICPQ_E_SHAPE.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL @p net, @p a, @p b or
 *   @p needed, or a net without prunable layers); ::PICPQ_E_SHAPE (@p n);
 *   ::PICPQ_E_BUFFER (@p cap too small); ::PICPQ_E_NONFINITE (a prunable layer's a or b).
 * Thread safety: const on @p net, safe. @since 0.1
 */
PICPQ_API picpq_status picpq_lub_write(const picpq_net *net, const double *a, const double *b,
                                       int64_t n, char *text, size_t cap, size_t *needed);

/**
 * @brief Read the `--lub` text format (numpy.savetxt of an L×2 matrix):
 *        exactly L rows of two numbers separated by blanks, for the
 *        prunable layers of @p net in layer order.
 *
 * Blank lines and lines starting with '#' are skipped; "\r\n" line ends are
 * accepted. Numbers are parsed with strtod (locale: see picpq_lub_write()).
 * Non-prunable layers get (1, 0).
 * @param[in]  text, len the text (need not be NUL-terminated).
 * @param[out] a, b  @p n doubles each; untouched on error.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL pointer, a net without
 *   prunable layers); ::PICPQ_E_SHAPE (@p n); ::PICPQ_E_FORMAT (a malformed
 *   or non-finite number, a row without exactly two numbers, or a row count
 *   other than L; the message gives the line).
 * Thread safety: const on @p net, safe. @since 0.1
 */
PICPQ_API picpq_status picpq_lub_read(const picpq_net *net, const char *text, size_t len, double *a,
                                      double *b, int64_t n);

/**
 * @brief Symmetric per-output-channel linear quantization for deployment
 *        (not PIC-PQ's tanh quantizer): w ≈ codes · scales[o].
 *
 * For each index o of axis 0, in float32: scale = max|w[o,…]| / n with
 * n = 2^(k−1) − 1, code = nearbyintf(w / scale) (half to even) clamped to
 * [−n, n]; a channel of zeros gets scale 0 and codes 0.
 * @param[in]  w        a ::PICPQ_F32 tensor, any strides.
 * @param[in]  bits     2..8.
 * @param[out] codes    @p n codes in C order.
 * @param[in]  n        must equal the element count of @p w.
 * @param[out] scales   @p n_scales per-channel scales.
 * @param[in]  n_scales must equal dim(0).
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL, dtype); ::PICPQ_E_OUT_OF_RANGE
 *   (@p bits); ::PICPQ_E_SHAPE (@p n or @p n_scales); ::PICPQ_E_NONFINITE.
 *   On error the outputs are untouched.
 * Thread safety: const, safe. @since 0.3
 */
PICPQ_API picpq_status picpq_quant_linear_codes(const picpq_tensor *w, int32_t bits, int8_t *codes,
                                                int64_t n, float *scales, int64_t n_scales);

/* ---- Model runtime -------------------------------------------------- */

/**
 * @brief A compressed model loaded from a model file (docs/FORMATS.md,
 *        "Model file"): the graph, its float32 weights decoded from the
 *        packed codes, batch-norm scales and shifts, activation bits.
 *
 * Immutable once loaded: one model may be run from several threads at
 * once, each with its own ::picpq_model_workspace.
 */
typedef struct picpq_model picpq_model;
/** @brief The scratch of picpq_model_run() for up to a fixed batch: the
 *  activations and the im2col buffer. Used by one thread at a time. */
typedef struct picpq_model_workspace picpq_model_workspace;

/**
 * @brief Load a model file from memory (written by `picpq.torch.save_model`).
 *
 * The envelope (magic "PQMODEL" and a NUL, version, flags, length, CRC-32) and every
 * field are checked, and every size is bounded before anything is allocated:
 * the loaded model takes at most 32 × @p len bytes plus its op table
 * (float32 weights decoded from 1-bit codes are the worst case).
 * @param[in]  buf  @p len bytes (borrowed for the call).
 * @param[in]  len  the file's size.
 * @param[out] out  the model, NULL on failure.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL); ::PICPQ_E_FORMAT (bad,
 *   truncated, corrupted or inconsistent file: bad magic, unknown version,
 *   checksum, an unknown op, a value id not yet produced, shapes that do not
 *   agree, a size over its limit, a non-finite number, trailing bytes; the
 *   message names the op); ::PICPQ_E_NOMEM.
 * Thread safety: safe. @since 0.3 (experimental)
 */
PICPQ_API picpq_status picpq_model_load(const void *buf, size_t len, picpq_model **out);

/** @brief picpq_model_load() with an allocator (NULL = malloc/free), used
 *         for the model and for the workspaces created on it.
 *  @return as picpq_model_load(), plus ::PICPQ_E_INVALID_ARG for a half-set
 *  allocator. Thread safety: safe. @since 0.3 (experimental) */
PICPQ_API picpq_status picpq_model_load_ex(const void *buf, size_t len,
                                           const picpq_allocator *alloc, picpq_model **out);

/** @brief Option of picpq_model_load_opts(): run quantized convolutions on their codes. */
#define PICPQ_MODEL_INTEGER 1u

/**
 * @brief picpq_model_load_ex() with options (@p flags: 0 or ::PICPQ_MODEL_INTEGER).
 *
 * ::PICPQ_MODEL_INTEGER: every convolution whose weights are quantized (< 32 bits) and
 * whose input is an activation quantizer's output runs on the codes (METHOD §8): unsigned
 * activation codes times signed weight codes, summed exactly in int32, times one float per
 * layer, plus the bias. Such a layer keeps its weights as int8 codes, a quarter of the
 * float32 bytes (on an AVX-512 VNNI CPU, a stride-1 one-group convolution pads its input
 * channels to a multiple of 4). Other layers, and a convolution whose sums could exceed
 * int32, run in float. The logits equal the float path's up to its rounding (which can move a later
 * activation quantizer by one level when a value lies on a rounding boundary).
 * @return as picpq_model_load_ex(), plus ::PICPQ_E_INVALID_ARG for an unknown flag.
 * Thread safety: safe. @since 0.3 (experimental)
 */
PICPQ_API picpq_status picpq_model_load_opts(const void *buf, size_t len,
                                             const picpq_allocator *alloc, uint32_t flags,
                                             picpq_model **out);

/**
 * @brief How the loaded model runs its convolutions: @p convs of them in all, @p on_codes
 *        on their codes (::PICPQ_MODEL_INTEGER; 0 without it), the rest in float.
 * @param[out] convs, on_codes  either may be NULL.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL @p m).
 * Thread safety: const, safe. @since 0.3 (experimental)
 */
PICPQ_API picpq_status picpq_model_conv_counts(const picpq_model *m, int32_t *convs,
                                               int32_t *on_codes);

/**
 * @brief Read the file at @p path (read only; at most 1 GiB) and
 *        picpq_model_load() it.
 * @return as picpq_model_load(), plus ::PICPQ_E_INVALID_ARG (NULL, or a file
 *   that cannot be opened or read: the message gives the reason) and
 *   ::PICPQ_E_UNSUPPORTED (a file over 1 GiB, or a runtime library built
 *   without file I/O, `PICPQ_NO_FILE_IO`: docs/DEPLOY.md).
 * Thread safety: safe. @since 0.3 (experimental)
 */
PICPQ_API picpq_status picpq_model_load_file(const char *path, picpq_model **out);

/** @brief Free a model (NULL: no-op). Its workspaces must be freed first.
 *  Thread safety: not concurrently with any use of @p m. @since 0.3 (experimental) */
PICPQ_API void picpq_model_free(picpq_model *m);

/**
 * @brief The input one image must have: @p c channels of @p h × @p w float32
 *        values in C order (NCHW for a batch), before normalisation (the
 *        model applies its stored mean and std itself).
 * @param[out] c, h, w may be NULL.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL @p m).
 * Thread safety: const, safe. @since 0.3 (experimental)
 */
PICPQ_API picpq_status picpq_model_input_shape(const picpq_model *m, int64_t *c, int64_t *h,
                                               int64_t *w);

/**
 * @brief Logits per image (the output features of the last layer).
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL).
 * Thread safety: const, safe. @since 0.3 (experimental)
 */
PICPQ_API picpq_status picpq_model_num_classes(const picpq_model *m, int64_t *classes);

/**
 * @brief Bytes a workspace for @p batch images takes (to check before
 *        creating one for a model from an untrusted file).
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL); ::PICPQ_E_OUT_OF_RANGE
 *   (@p batch < 1); ::PICPQ_E_OVERFLOW.
 * Thread safety: const, safe. @since 0.3 (experimental)
 */
PICPQ_API picpq_status picpq_model_workspace_size(const picpq_model *m, int64_t batch,
                                                  size_t *bytes);

/**
 * @brief Scratch for runs of up to @p batch images on @p m; allocated with
 *        the model's allocator. @p m must outlive it.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL); ::PICPQ_E_OUT_OF_RANGE
 *   (@p batch < 1); ::PICPQ_E_OVERFLOW; ::PICPQ_E_NOMEM.
 * Thread safety: const on @p m, safe. @since 0.3 (experimental)
 */
PICPQ_API picpq_status picpq_model_workspace_create(const picpq_model *m, int64_t batch,
                                                    picpq_model_workspace **out);

/** @brief Free a workspace (NULL: no-op). @since 0.3 (experimental) */
PICPQ_API void picpq_model_workspace_free(picpq_model_workspace *ws);

/**
 * @brief Forward pass of @p n images: the QAT model's forward in float32
 *        (weights = magnitude · code / levels, activations on the E8 grid
 *        round(clip(x, 0, 1)·n)/n with round half to even, batch norms in
 *        eval form x·scale + shift), convolutions by im2col and cblas_sgemm.
 *
 * Allocates nothing. Results equal torch's up to float summation order
 * (a rounding boundary of an activation quantizer can move one level).
 * @param[in]  m      the model.
 * @param[in]  ws     a workspace created on @p m, for at least @p n images.
 * @param[in]  input  n × C × H × W float32 (picpq_model_input_shape()), C order.
 * @param[in]  n      1 .. the workspace's batch.
 * @param[out] logits n × classes float32; untouched on error.
 * @return ::PICPQ_OK; ::PICPQ_E_INVALID_ARG (NULL, or @p ws made on another
 *   model); ::PICPQ_E_OUT_OF_RANGE (@p n < 1 or over the workspace's batch);
 *   ::PICPQ_E_NONFINITE (NaN or Inf in @p input, with its index).
 * Thread safety: const on @p m (runs on one model may overlap); @p ws must
 *   not be used by two threads at once. @since 0.3 (experimental)
 */
PICPQ_API picpq_status picpq_model_run(const picpq_model *m, picpq_model_workspace *ws,
                                       const float *input, int64_t n, float *logits);

#endif /* PICPQ_EXPERIMENTAL */
/**@}*/

#ifdef __cplusplus
}
#endif

#endif /* PICPQ_H */
