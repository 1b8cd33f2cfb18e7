/* Print the library version and what each status code means. */
#include <picpq.h>
#include <stdio.h>

int main(void)
{
    static const picpq_status codes[] = {
        PICPQ_OK,          PICPQ_E_INVALID_ARG, PICPQ_E_NOMEM,       PICPQ_E_OUT_OF_RANGE,
        PICPQ_E_SHAPE,     PICPQ_E_OVERFLOW,    PICPQ_E_NONFINITE,   PICPQ_E_NO_CONVERGENCE,
        PICPQ_E_BAD_STATE, PICPQ_E_FORMAT,      PICPQ_E_UNSUPPORTED, PICPQ_E_INTERNAL,
        PICPQ_DONE,        PICPQ_BUDGET_UNMET};
    size_t i;
    printf("libpicpq %s (%d)\n", picpq_version_string(), picpq_version_number());
    for (i = 0; i < sizeof codes / sizeof codes[0]; i++)
        printf("  %4d  %s\n", codes[i], picpq_status_string(codes[i]));
    return 0;
}
