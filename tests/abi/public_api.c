/* Sees only the installed header and links the shared library, as a user's
 * program does. Exits non-zero on any mismatch. */
#include <picpq.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    const int64_t shape[2] = {2, 3};
    picpq_tensor *t = NULL;
    picpq_param key;
    if (picpq_version_number() != PICPQ_VERSION_NUMBER ||
        strcmp(picpq_version_string(), PICPQ_VERSION_STRING) != 0) {
        fprintf(stderr, "header %s, library %s\n", PICPQ_VERSION_STRING, picpq_version_string());
        return 1;
    }
    if (picpq_tensor_create(PICPQ_F32, 2, shape, &t) != PICPQ_OK || picpq_tensor_numel(t) != 6)
        return 1;
    picpq_tensor_free(t);
    if (picpq_param_from_name("nope", &key) != PICPQ_E_INVALID_ARG ||
        strstr(picpq_last_error(), "nope") == NULL)
        return 1;
    printf("public_api: libpicpq %s ok\n", picpq_version_string());
    return 0;
}
