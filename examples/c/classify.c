/* Classify idx images with a model file written by picpq.torch.save_model
 * (e.g. results/model.pqm of `make demo`), without Python:
 *
 *   classify MODEL IMAGES [LABELS] [BATCH]
 *
 * IMAGES/LABELS are idx files (t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte);
 * names ending in .gz are read through `gzip -dc`. Pixels are scaled to
 * [0, 1]; the model applies its own mean/std. Prints accuracy (with labels)
 * and time. With no arguments it prints this usage and exits 0. */
#define _POSIX_C_SOURCE 200809L
#define PICPQ_EXPERIMENTAL
#include <picpq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static FILE *open_maybe_gz(const char *path, int *piped)
{
    size_t n = strlen(path);
    *piped = n > 3 && strcmp(path + n - 3, ".gz") == 0;
    if (*piped) {
        char cmd[4200];
        if (n > 4000 || strchr(path, '\'')) return NULL;
        snprintf(cmd, sizeof cmd, "gzip -dc '%s'", path);
        return popen(cmd, "r");
    }
    return fopen(path, "rb");
}

static unsigned long be32(const unsigned char *p)
{
    return ((unsigned long)p[0] << 24) | ((unsigned long)p[1] << 16) | ((unsigned long)p[2] << 8) |
           p[3];
}

/* An idx file's payload: dims[0..ndim-1] and the bytes. */
static unsigned char *read_idx(const char *path, int want_ndim, unsigned long *dims)
{
    int piped, i;
    unsigned char head[16];
    unsigned char *data = NULL;
    unsigned long total = 1;
    FILE *f = open_maybe_gz(path, &piped);
    if (f == NULL) return NULL;
    if (fread(head, 1, 4 + 4 * (size_t)want_ndim, f) == 4 + 4 * (size_t)want_ndim &&
        head[2] == 0x08 && head[3] == want_ndim) {
        for (i = 0; i < want_ndim; i++) total *= dims[i] = be32(head + 4 + 4 * i);
        data = total < (1ul << 31) ? malloc(total) : NULL;
        if (data && fread(data, 1, total, f) != total) {
            free(data);
            data = NULL;
        }
    }
    if (piped) pclose(f);
    else fclose(f);
    return data;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    picpq_model *m = NULL;
    picpq_model_workspace *ws = NULL;
    unsigned long dims[3], ldims[1];
    unsigned char *images, *labels = NULL;
    int64_t c, h, w, classes, batch = argc > 4 ? atol(argv[4]) : 64, i, j, correct = 0;
    float *x, *logits;
    double t0, t1;
    if (argc < 3) {
        printf("usage: %s MODEL IMAGES [LABELS] [BATCH]\n"
               "  MODEL   a model file (picpq.torch.save_model; `make demo` writes "
               "results/model.pqm)\n"
               "  IMAGES  idx images, e.g. "
               "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz\n"
               "  LABELS  idx labels (accuracy is printed when given)\n"
               "  BATCH   images per run (default 64)\n",
               argv[0]);
        return 0;
    }
    if (picpq_model_load_file(argv[1], &m) != PICPQ_OK) {
        fprintf(stderr, "%s: %s\n", argv[1], picpq_last_error());
        return 1;
    }
    picpq_model_input_shape(m, &c, &h, &w);
    picpq_model_num_classes(m, &classes);
    images = read_idx(argv[2], 3, dims);
    if (images == NULL || c != 1 || (int64_t)dims[1] != h || (int64_t)dims[2] != w) {
        fprintf(stderr, "%s: not an idx3 file of %lldx%lld images for this %lldx%lldx%lld model\n",
                argv[2], (long long)h, (long long)w, (long long)c, (long long)h, (long long)w);
        return 1;
    }
    if (argc > 3 && ((labels = read_idx(argv[3], 1, ldims)) == NULL || ldims[0] != dims[0])) {
        fprintf(stderr, "%s: not an idx1 file of %lu labels\n", argv[3], dims[0]);
        return 1;
    }
    if (batch < 1 || picpq_model_workspace_create(m, batch, &ws) != PICPQ_OK) {
        fprintf(stderr, "workspace: %s\n", picpq_last_error());
        return 1;
    }
    x = malloc((size_t)(batch * h * w) * sizeof(float));
    logits = malloc((size_t)(batch * classes) * sizeof(float));
    if (x == NULL || logits == NULL) return 1;
    t0 = now();
    for (i = 0; i < (int64_t)dims[0]; i += batch) {
        const int64_t n = (int64_t)dims[0] - i < batch ? (int64_t)dims[0] - i : batch;
        for (j = 0; j < n * h * w; j++) x[j] = (float)images[i * h * w + j] / 255.0f;
        if (picpq_model_run(m, ws, x, n, logits) != PICPQ_OK) {
            fprintf(stderr, "run: %s\n", picpq_last_error());
            return 1;
        }
        for (j = 0; j < n; j++) {
            int64_t k, best = 0;
            for (k = 1; k < classes; k++)
                if (logits[j * classes + k] > logits[j * classes + best]) best = k;
            if (labels && best == labels[i + j]) correct++;
        }
    }
    t1 = now();
    printf("%lu images in %.3f s (%.1f us/image, batch %lld)\n", dims[0], t1 - t0,
           1e6 * (t1 - t0) / (double)dims[0], (long long)batch);
    if (labels)
        printf("top-1 accuracy %.2f %% (%lld of %lu)\n", 100.0 * (double)correct / (double)dims[0],
               (long long)correct, dims[0]);
    free(x);
    free(logits);
    free(images);
    free(labels);
    picpq_model_workspace_free(ws);
    picpq_model_free(m);
    return 0;
}
