/* The runtime library of `make runtime` (lib/libpicpq_runtime.a, portable
 * GEMM, no BLAS) against hand-computed values and against the BLAS build.
 * Built twice by `make runtime-check`: linked with only the runtime library
 * and libm, and linked with libpicpq.a and OpenBLAS. Each build checks the
 * hand-computed model of tests/check_model.c, then, for every model file
 * named on the command line, runs 4 fixed pseudo-random images and prints
 * their logits ("file image class value"); the make target compares the
 * two outputs. It also prints the heap a model needs (held after load, peak
 * during load, workspace of batch 1), fails if a run allocates, and runs 64
 * images through the file loaded with PICPQ_MODEL_INTEGER (convolutions on
 * the codes) against the float path: the top-1 class must agree on all. */
#include <stdio.h>
#include <stdlib.h>

#include "model_blob.h"

#define PICPQ_EXPERIMENTAL
#include "picpq.h"

typedef struct counter {
    size_t live, peak;
    long calls;
} counter;

static void *count_alloc(void *ud, size_t size)
{
    counter *c = ud;
    size_t *p = malloc(size + sizeof(size_t) * 2); /* two words keep the alignment of malloc */
    if (p == NULL) return NULL;
    p[0] = size;
    c->live += size;
    if (c->live > c->peak) c->peak = c->live;
    c->calls++;
    return p + 2;
}

static void count_free(void *ud, void *ptr)
{
    counter *c = ud;
    size_t *p = (size_t *)ptr - 2;
    c->live -= p[0];
    free(p);
}

static int fail(const char *what, picpq_status st)
{
    fprintf(stderr, "runtime_check: %s: %s (%s)\n", what, picpq_status_string(st),
            picpq_last_error());
    return 1;
}

static int hand_model(void)
{
    float logits[2];
    picpq_status st = run_hand_model(0, logits);
    if (st != PICPQ_OK) return fail("hand model", st);
    /* computed by hand in tests/check_model.c: 5/6 and 2/3 */
    if (fabs(logits[0] - 5.0 / 6.0) > 1e-6 || fabs(logits[1] - 2.0 / 3.0) > 1e-6) {
        fprintf(stderr, "runtime_check: hand model gives %.9g %.9g, not 5/6 2/3\n", logits[0],
                logits[1]);
        return 1;
    }
    printf("# hand-computed model: %.9g %.9g (5/6, 2/3)\n", logits[0], logits[1]);
    return 0;
}

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long size;
    if (f == NULL) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)size)) != NULL && fread(buf, 1, (size_t)size, f) != (size_t)size) {
        free(buf);
        buf = NULL;
    }
    if (buf != NULL) *len = (size_t)size;
    fclose(f);
    return buf;
}

static int model_file(const char *path)
{
    enum { N = 4 };
    counter cnt = {0, 0, 0};
    picpq_allocator a;
    picpq_model *m = NULL;
    picpq_model_workspace *ws = NULL;
    int64_t c, h, w, classes, i, size;
    size_t len = 0, held, peak, ws1;
    unsigned char *buf = read_file(path, &len);
    float *x, *logits;
    uint32_t s = 12345u;
    long calls;
    picpq_status st;
    if (buf == NULL) {
        fprintf(stderr, "runtime_check: %s: cannot be read\n", path);
        return 1;
    }
    a.alloc = count_alloc;
    a.free = count_free;
    a.ud = &cnt;
    st = picpq_model_load_ex(buf, len, &a, &m);
    free(buf);
    if (st != PICPQ_OK) return fail(path, st);
    held = cnt.live;
    peak = cnt.peak;
    picpq_model_input_shape(m, &c, &h, &w);
    picpq_model_num_classes(m, &classes);
    size = c * h * w;
    if ((st = picpq_model_workspace_size(m, 1, &ws1)) != PICPQ_OK) return fail("size", st);
    if ((st = picpq_model_workspace_create(m, N, &ws)) != PICPQ_OK) return fail("workspace", st);
    x = malloc((size_t)(N * size) * sizeof(float));
    logits = malloc((size_t)(N * classes) * sizeof(float));
    if (x == NULL || logits == NULL) return 1;
    for (i = 0; i < N * size; i++) { /* a 32-bit LCG: the same images in both builds */
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(s >> 8) / 16777216.0f;
    }
    calls = cnt.calls;
    if ((st = picpq_model_run(m, ws, x, N, logits)) != PICPQ_OK) return fail("run", st);
    if (cnt.calls != calls) {
        fprintf(stderr, "runtime_check: %s: run allocated %ld times\n", path, cnt.calls - calls);
        return 1;
    }
    printf("# %s: %zu file bytes; heap held after load %zu, peak during load %zu, "
           "workspace (batch 1) %zu\n",
           path, len, held, peak, ws1);
    for (i = 0; i < N * classes; i++)
        printf("%s %lld %lld %.9g\n", path, (long long)(i / classes), (long long)(i % classes),
               logits[i]);
    free(x);
    free(logits);
    picpq_model_workspace_free(ws);
    picpq_model_free(m);
    return cnt.live == 0 ? 0 : 1;
}

static int run_64(const unsigned char *buf, size_t len, uint32_t flags, float *x, float *out,
                  size_t *held)
{
    counter cnt = {0, 0, 0};
    picpq_allocator a;
    picpq_model *m = NULL;
    picpq_model_workspace *ws = NULL;
    picpq_status st;
    a.alloc = count_alloc;
    a.free = count_free;
    a.ud = &cnt;
    if ((st = picpq_model_load_opts(buf, len, &a, flags, &m)) != PICPQ_OK) return fail("load", st);
    *held = cnt.live;
    if ((st = picpq_model_workspace_create(m, 64, &ws)) != PICPQ_OK) return fail("workspace", st);
    if ((st = picpq_model_run(m, ws, x, 64, out)) != PICPQ_OK) return fail("run", st);
    picpq_model_workspace_free(ws);
    picpq_model_free(m);
    return 0;
}

/* The integer path against the float path of the same file on 64 images. */
static int integer_path(const char *path)
{
    size_t len = 0, held_f, held_i, ws_i = 0;
    unsigned char *buf = read_file(path, &len);
    picpq_model *m = NULL;
    int64_t c, h, w, classes, i, j, same = 0;
    float *x, *yf, *yi, diff = 0.0f, top = 0.0f;
    uint32_t s = 777u;
    int bad;
    if (buf == NULL || picpq_model_load(buf, len, &m) != PICPQ_OK) return 1;
    picpq_model_input_shape(m, &c, &h, &w);
    picpq_model_num_classes(m, &classes);
    picpq_model_free(m);
    x = malloc((size_t)(64 * c * h * w) * sizeof(float));
    yf = malloc((size_t)(64 * classes) * sizeof(float));
    yi = malloc((size_t)(64 * classes) * sizeof(float));
    if (x == NULL || yf == NULL || yi == NULL) return 1;
    for (i = 0; i < 64 * c * h * w; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(s >> 8) / 16777216.0f;
    }
    bad = run_64(buf, len, 0, x, yf, &held_f) ||
          run_64(buf, len, PICPQ_MODEL_INTEGER, x, yi, &held_i);
    for (i = 0; !bad && i < 64; i++) {
        int64_t bf = 0, bi = 0;
        for (j = 0; j < classes; j++) {
            const float d = fabsf(yf[i * classes + j] - yi[i * classes + j]);
            diff = d > diff ? d : diff;
            top = fabsf(yf[i * classes + j]) > top ? fabsf(yf[i * classes + j]) : top;
            if (yf[i * classes + j] > yf[i * classes + bf]) bf = j;
            if (yi[i * classes + j] > yi[i * classes + bi]) bi = j;
        }
        same += bf == bi;
    }
    if (!bad && picpq_model_load_opts(buf, len, NULL, PICPQ_MODEL_INTEGER, &m) == PICPQ_OK) {
        bad = picpq_model_workspace_size(m, 1, &ws_i) != PICPQ_OK;
        picpq_model_free(m);
    }
    if (!bad)
        printf("# %s, PICPQ_MODEL_INTEGER: top-1 equal on %lld/64 images, largest logit difference "
               "%.3g (largest logit %.3g); heap held after load %zu (float path %zu), "
               "workspace (batch 1) %zu\n",
               path, (long long)same, diff, top, held_i, held_f, ws_i);
    free(buf);
    free(x);
    free(yf);
    free(yi);
    return bad || same != 64;
}

int main(int argc, char **argv)
{
    int i, bad = hand_model();
    for (i = 1; i < argc; i++) bad |= model_file(argv[i]) | integer_path(argv[i]);
    return bad;
}
