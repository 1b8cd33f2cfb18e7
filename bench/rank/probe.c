/* A tiny shared library over lib/libpicpq.a that exposes the internal
 * route selector to verify_exact.py: rank of one map by the certificate
 * with sgesdd fallback (mode 0), sgesdd only (1), the certificate only
 * (2, -1 = inconclusive), | 4 for the portable kernels. */
#include "picpq_internal.h"

__attribute__((visibility("default"))) int picpq_probe_rank(const float *a, int64_t rows,
                                                            int64_t cols, int mode, int64_t *rank)
{
    return picpq__matrix_rank_mode(a, rows, cols, cols, 0, -1, mode, rank);
}
