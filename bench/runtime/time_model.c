/* Best-of-R wall time of picpq_model_run on one model file, for comparing
 * builds of the runtime (docs/BENCHMARKS.md, "Runtime for small devices"):
 *   cc -O2 -Iinclude -o build/time_rt bench/runtime/time_model.c lib/libpicpq_runtime.a -lm
 *   build/time_rt MODEL BATCH REPEATS [int]
 * `int`: load with PICPQ_MODEL_INTEGER (convolutions on the codes). The images
 * are a fixed ramp: only the time is measured. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define PICPQ_EXPERIMENTAL
#include "picpq.h"

int main(int argc, char **argv)
{
    picpq_model *m;
    picpq_model_workspace *ws;
    int64_t batch, size, classes, c, h, w, i, r, reps;
    float *x, *logits;
    double best = 1e30;
    FILE *f;
    unsigned char *buf;
    long len;
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL BATCH REPEATS [int]\n", argv[0]);
        return 2;
    }
    batch = atoi(argv[2]);
    reps = atoi(argv[3]);
    f = fopen(argv[1], "rb");
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) <= 0 ||
        fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t)len)) == NULL ||
        fread(buf, 1, (size_t)len, f) != (size_t)len) {
        fprintf(stderr, "%s: cannot be read\n", argv[1]);
        return 1;
    }
    fclose(f);
    if (picpq_model_load_opts(buf, (size_t)len, NULL, argc > 4 ? PICPQ_MODEL_INTEGER : 0, &m) !=
            PICPQ_OK ||
        picpq_model_workspace_create(m, batch, &ws) != PICPQ_OK) {
        fprintf(stderr, "%s: %s\n", argv[1], picpq_last_error());
        return 1;
    }
    picpq_model_input_shape(m, &c, &h, &w);
    picpq_model_num_classes(m, &classes);
    size = c * h * w;
    x = malloc((size_t)(batch * size) * sizeof(float));
    logits = malloc((size_t)(batch * classes) * sizeof(float));
    if (x == NULL || logits == NULL) return 1;
    for (i = 0; i < batch * size; i++) x[i] = (float)(i % 97) / 97.0f;
    for (r = 0; r < reps; r++) {
        struct timespec t0, t1;
        double ms;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (picpq_model_run(m, ws, x, batch, logits) != PICPQ_OK) return 1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        if (ms < best) best = ms;
    }
    printf("%s%s batch %lld: best of %lld %.3f ms\n", argv[1], argc > 4 ? " (integer)" : "",
           (long long)batch, (long long)reps, best);
    free(buf);
    free(x);
    free(logits);
    picpq_model_workspace_free(ws);
    picpq_model_free(m);
    return 0;
}
