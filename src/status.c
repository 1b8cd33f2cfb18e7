/* Status strings and the thread-local last-error message. */
#include "picpq_internal.h"

#include <stdio.h>

/* The only mutable state of the library: one message per thread. With
 * PICPQ_NO_THREADS (bare-metal runtime builds: no TLS runtime, one thread)
 * it is one plain static buffer. */
#ifdef PICPQ_NO_THREADS
static char last_error[512];
#else
static __thread char last_error[512];
#endif

const char *picpq_status_string(picpq_status s)
{
    switch (s) {
    case PICPQ_OK: return "success";
    case PICPQ_E_INVALID_ARG: return "invalid argument";
    case PICPQ_E_NOMEM: return "out of memory";
    case PICPQ_E_OUT_OF_RANGE: return "value out of range";
    case PICPQ_E_SHAPE: return "shape mismatch";
    case PICPQ_E_OVERFLOW: return "size overflow";
    case PICPQ_E_BUFFER: return "buffer too small";
    case PICPQ_E_NONFINITE: return "non-finite value";
    case PICPQ_E_NO_CONVERGENCE: return "no convergence";
    case PICPQ_E_BAD_STATE: return "bad state";
    case PICPQ_E_FORMAT: return "bad format";
    case PICPQ_E_UNSUPPORTED: return "unsupported";
    case PICPQ_E_INTERNAL: return "internal error";
    case PICPQ_DONE: return "done";
    case PICPQ_BUDGET_UNMET: return "budget unmet";
    default: return "unknown status";
    }
}

const char *picpq_last_error(void)
{
    return last_error;
}

void picpq__clear_error(void)
{
    last_error[0] = '\0';
}

picpq_status picpq__fail(picpq_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}
