/* libFuzzer harness for picpq_model_load (tests/fuzz/run.sh model_load).
 *
 * Input: one mode byte, then the file. Mode bit 0 set: the harness first
 * writes the true length and CRC-32 into the file, so that mutations get
 * past the checksum to the field checks. Mode bit 1 set: loaded with
 * PICPQ_MODEL_INTEGER (convolutions on the codes). Whatever the bytes, load
 * returns a status; a model it accepts whose workspace is small runs one image. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_blob.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *blob;
    size_t len, bytes;
    picpq_model *m = NULL;
    if ((blob = fuzz_blob(data, size, &len)) == NULL) return 0;
    if (picpq_model_load_opts(blob, len, NULL, (data[0] & 2) ? PICPQ_MODEL_INTEGER : 0u, &m) ==
        PICPQ_OK) {
        int64_t c, h, w, classes;
        picpq_model_workspace *ws = NULL;
        if (picpq_model_input_shape(m, &c, &h, &w) != PICPQ_OK) __builtin_trap();
        if (picpq_model_num_classes(m, &classes) != PICPQ_OK) __builtin_trap();
        /* run only what is cheap: the fuzzer looks for crashes, not slow models */
        if (picpq_model_workspace_size(m, 1, &bytes) == PICPQ_OK && bytes < (1u << 22) &&
            picpq_model_workspace_create(m, 1, &ws) == PICPQ_OK) {
            float *x = calloc((size_t)(c * h * w), sizeof(float));
            float *y = malloc((size_t)classes * sizeof(float));
            if (x && y && picpq_model_run(m, ws, x, 1, y) != PICPQ_OK) __builtin_trap();
            free(x);
            free(y);
            picpq_model_workspace_free(ws);
        }
        picpq_model_free(m);
    } else if (m != NULL) {
        __builtin_trap();
    }
    free(blob);
    return 0;
}
