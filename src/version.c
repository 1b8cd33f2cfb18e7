/* Runtime version queries (the numbers live in picpq.h only). */
#include "picpq_internal.h"

int picpq_version_number(void)
{
    return PICPQ_VERSION_NUMBER;
}

const char *picpq_version_string(void)
{
    return PICPQ_VERSION_STRING;
}
