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
 *   picpq_net_set_scores(net, l0, fp0, 16);  // FP from a picpq_ranker
 *   picpq_plan_create(net, &plan);
 *   if (picpq_plan_compute(plan, a, b, 0.45) < 0)
 *       fprintf(stderr, "%s\n", picpq_last_error());
 *   picpq_net_macs(net, plan, &macs);
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
#define PICPQ_VERSION_MINOR 1
#define PICPQ_VERSION_PATCH 0
#define PICPQ_VERSION_NUMBER \
    (PICPQ_VERSION_MAJOR * 10000 + PICPQ_VERSION_MINOR * 100 + PICPQ_VERSION_PATCH)
#define PICPQ__STR2(x) #x
#define PICPQ__STR(x) PICPQ__STR2(x)
#define PICPQ_VERSION_STRING                                         \
    PICPQ__STR(PICPQ_VERSION_MAJOR) "." PICPQ__STR(PICPQ_VERSION_MINOR) \
    "." PICPQ__STR(PICPQ_VERSION_PATCH)
/**@}*/

#if defined(__GNUC__) && __GNUC__ >= 4
#define PICPQ_API __attribute__((visibility("default")))
#else
#define PICPQ_API
#endif

/* ===================================================================== */
/** @name Status codes and error messages                                */
/* ===================================================================== */
/**@{*/

/** Result of every fallible call. Values are fixed forever once released;
 *  callers must treat any unknown negative value as an error. */
typedef int picpq_status;

#define PICPQ_OK 0                /**< success */
/* -1..-19: argument and memory errors */
#define PICPQ_E_INVALID_ARG (-1)  /**< NULL pointer, bad enum, wrong handle state of an argument */
#define PICPQ_E_NOMEM (-2)        /**< an allocation failed */
#define PICPQ_E_OUT_OF_RANGE (-3) /**< a value or index outside its documented range */
#define PICPQ_E_SHAPE (-4)        /**< dimensions or lengths that do not agree */
#define PICPQ_E_OVERFLOW (-5)     /**< a size computation would overflow */
/* -20..-39: numerical errors */
#define PICPQ_E_NONFINITE (-20)      /**< NaN or infinity in an input */
#define PICPQ_E_NO_CONVERGENCE (-21) /**< an iterative routine (SVD) did not converge */
/* -40..-59: usage, state and format errors */
#define PICPQ_E_BAD_STATE (-40)   /**< call made in the wrong order or on a changed object */
#define PICPQ_E_FORMAT (-41)      /**< serialized data truncated, corrupted or foreign */
#define PICPQ_E_UNSUPPORTED (-42) /**< a valid request this build or layout cannot serve */
/* -60..: internal */
#define PICPQ_E_INTERNAL (-60)    /**< a bug of libpicpq, never the caller's fault */
/* positive: finished, and this is why */
#define PICPQ_DONE 1              /**< search: every evaluation has been issued */
#define PICPQ_BUDGET_UNMET 2      /**< plan: quotas ran out before the budget was met */

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
/** @name Version queries                                                 */
/* ===================================================================== */
/**@{*/
/** @brief Runtime version as MAJOR*10000 + MINOR*100 + PATCH.
 *  Thread safety: safe. @since 0.1 */
PICPQ_API int picpq_version_number(void);
/** @brief Runtime version as "MAJOR.MINOR.PATCH" (static, never NULL).
 *  Thread safety: safe. @since 0.1 */
PICPQ_API const char *picpq_version_string(void);
/**@}*/

/* ===================================================================== */
/** @name Allocator hooks                                                 */
/* ===================================================================== */
/**@{*/

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
 */
typedef enum picpq_param {
    /* rank 2xx: picpq_ranker_set_int / picpq_ranker_set_double */
    PICPQ_RANK_THREADS = 200, /**< int, worker threads of feed; 0 = all online cores; default 1 */
    PICPQ_RANK_ATOL = 201,    /**< double >= 0, absolute tolerance; default 0 */
    PICPQ_RANK_RTOL = 202,    /**< double <= 1; negative (default -1) = max(rows, cols)·FLT_EPSILON */

    /* plan 3xx: picpq_plan_set_int / picpq_plan_set_double */
    PICPQ_PLAN_FAITHFUL = 300,     /**< int 0/1, reference semantics of METHOD §5; default 0 */
    PICPQ_PLAN_CHECK_EVERY = 301,  /**< int, budget tested every N entries; 0 (default) = 1, or 10 when faithful */
    PICPQ_PLAN_CHAIN_REDUCE = 302, /**< int, ::picpq_chain_reduce; default ::PICPQ_CHAIN_SUM */
    PICPQ_PLAN_SAFEGUARD = 303,    /**< double in [0, 1), minimum kept fraction per layer; default 0.1 */

    /* search 4xx: picpq_search_set_int / picpq_search_set_double */
    PICPQ_SEARCH_POPULATION = 400,      /**< int >= 2, population P; default 64 */
    PICPQ_SEARCH_SAMPLE = 401,          /**< int >= 1, tournament sample S; default 16 */
    PICPQ_SEARCH_GENERATIONS = 402,     /**< int >= 1, evaluations G; default 400 */
    PICPQ_SEARCH_SIGMA = 403,           /**< double > 0, log-scale mutation sigma; default 1 */
    PICPQ_SEARCH_MUTATE_FRACTION = 404, /**< double in [0, 1], layers mutated per child; default 0.1 */

    /* net 6xx: picpq_net_set_int */
    PICPQ_NET_BOPS_SKIP_FIRST = 600,     /**< int 0/1, BOPs omit the first conv (reference VGG counter); default 0 */
    PICPQ_NET_BOPS_DENSE_DEPTHWISE = 601 /**< int 0/1, BOPs count grouped convs as dense (reference MobileNetV2 counter); default 0 */
} picpq_param;

/** Values of ::PICPQ_PLAN_CHAIN_REDUCE: how the importances of coupled layers
 *  are combined into one score per channel index. */
typedef enum picpq_chain_reduce {
    PICPQ_CHAIN_SUM = 0,  /**< sum over the members wider than j (reference) */
    PICPQ_CHAIN_MEAN = 1, /**< mean over the members wider than j */
    PICPQ_CHAIN_MAX = 2   /**< maximum over the members wider than j */
} picpq_chain_reduce;

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

/** An n-dimensional array with byte strides, owning its memory or wrapping
 *  the caller's. Opaque. */
typedef struct picpq_tensor picpq_tensor;

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
 * @brief picpq_tensor_create() with an allocator (NULL = malloc/free).
 * @return as picpq_tensor_create(). Thread safety: safe. @since 0.1
 */
PICPQ_API picpq_status picpq_tensor_create_ex(picpq_dtype dtype, int32_t ndim, const int64_t *shape,
                                              const picpq_allocator *alloc, picpq_tensor **out);

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

/** @brief picpq_tensor_wrap() with an allocator for the handle itself.
 *  Thread safety: safe. @since 0.1 */
PICPQ_API picpq_status picpq_tensor_wrap_ex(void *data, picpq_dtype dtype, int32_t ndim,
                                            const int64_t *shape, const int64_t *strides_bytes,
                                            const picpq_allocator *alloc, picpq_tensor **out);

/** @brief Free a tensor (its data too when owned). NULL is a no-op.
 *  Views of it must be freed first or not used again. @since 0.1 */
PICPQ_API void picpq_tensor_free(picpq_tensor *t);

/** @brief First element (owned or borrowed memory); NULL for a NULL tensor.
 *  Thread safety: const, safe. @since 0.1 */
PICPQ_API void *picpq_tensor_data(const picpq_tensor *t);
/** @brief Element type; 0 for a NULL tensor. @since 0.1 */
PICPQ_API picpq_dtype picpq_tensor_dtype(const picpq_tensor *t);
/** @brief Number of dimensions; 0 for a NULL tensor. @since 0.1 */
PICPQ_API int32_t picpq_tensor_ndim(const picpq_tensor *t);
/** @brief Size of @p axis; 0 for a NULL tensor or an axis out of range. @since 0.1 */
PICPQ_API int64_t picpq_tensor_dim(const picpq_tensor *t, int32_t axis);
/** @brief Byte stride of @p axis; 0 for a NULL tensor or an axis out of range. @since 0.1 */
PICPQ_API int64_t picpq_tensor_stride(const picpq_tensor *t, int32_t axis);
/** @brief Number of elements; 0 for a NULL tensor. @since 0.1 */
PICPQ_API int64_t picpq_tensor_numel(const picpq_tensor *t);
/** @brief 1 if the tensor is C-contiguous, 0 otherwise (and for NULL). @since 0.1 */
PICPQ_API int picpq_tensor_is_contiguous(const picpq_tensor *t);
/** @brief 1 if the tensor owns its memory, 0 if it borrows it (wrap, view). @since 0.1 */
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
/** @name Filter property: matrix rank (module rank.c)                    */
/* ===================================================================== */
/**@{*/
typedef struct picpq_ranker picpq_ranker;
/* rank: declarations */
/**@}*/

/* ===================================================================== */
/** @name Network description and cost (module net.c)                    */
/* ===================================================================== */
/**@{*/
typedef struct picpq_net picpq_net;
typedef struct picpq_plan picpq_plan;
/* net: declarations */
/**@}*/

/* ===================================================================== */
/** @name Importance and budgeted global plan (module plan.c)            */
/* ===================================================================== */
/**@{*/
/* plan: declarations */
/**@}*/

/* ===================================================================== */
/** @name Regularized evolutionary search (module search.c)              */
/* ===================================================================== */
/**@{*/
typedef struct picpq_search picpq_search;
/* search: declarations */
/**@}*/

/* ===================================================================== */
/** @name Quantizer (module quant.c)                                      */
/* ===================================================================== */
/**@{*/
/* quant: declarations */
/**@}*/

#ifdef __cplusplus
}
#endif

#endif /* PICPQ_H */
