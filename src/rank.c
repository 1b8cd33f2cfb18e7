/* Filter property (METHOD §3): matrix rank of float32 maps and the
 * streaming per-filter accumulator picpq_ranker. The per-map kernel (a
 * certificate with an sgesdd fallback) lives in rank_exact.c. */
#include "picpq_internal.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

#define RANK_GROUP 200

/* ---- handle-less matrix rank ----------------------------------------- */

picpq_status picpq__matrix_rank_mode(const float *a, int64_t rows, int64_t cols, int64_t ld,
                                     double atol, double rtol, int mode, int64_t *rank)
{
    picpq_allocator std;
    picpq__rank_ws ws;
    picpq_status s;
    int64_t span, r = 0;
    picpq__clear_error();
    PICPQ__REQUIRE(a, "a");
    PICPQ__REQUIRE(rank, "rank");
    if (rows < 1 || cols < 1)
        return picpq__fail(PICPQ_E_SHAPE, "rows = %lld, cols = %lld: both must be >= 1",
                           (long long)rows, (long long)cols);
    if (ld < cols)
        return picpq__fail(PICPQ_E_SHAPE, "ld = %lld is smaller than cols = %lld", (long long)ld,
                           (long long)cols);
    if (!picpq__mul_i64(rows, ld, &span) || !picpq__mul_i64(span, (int64_t)sizeof(float), &span))
        return picpq__fail(PICPQ_E_OVERFLOW, "rows * ld = %lld * %lld elements overflows",
                           (long long)rows, (long long)ld);
    picpq__allocator_init(&std, NULL);
    s = picpq__rank_ws_init(&ws, &std, rows, cols);
    if (s == PICPQ_E_NOMEM) return picpq__fail(s, "matrix rank: out of memory");
    if (s == PICPQ_E_UNSUPPORTED)
        return picpq__fail(s, "a %lld x %lld matrix is too large for LAPACK's 32-bit indices",
                           (long long)rows, (long long)cols);
    if (s != PICPQ_OK) return picpq__fail(s, "sgesdd workspace query failed");
    s = picpq__rank_map(&ws, (const char *)a, ld * (int64_t)sizeof(float), sizeof(float), atol,
                        rtol, mode, &r);
    if (s == PICPQ_E_NONFINITE) {
        int64_t i, j;
        picpq__rank_find_nonfinite((const char *)a, rows, cols, ld * (int64_t)sizeof(float),
                                   sizeof(float), &i, &j);
        s = picpq__fail(s, "a[%lld, %lld] is NaN or infinite", (long long)i, (long long)j);
    } else if (s == PICPQ_E_NO_CONVERGENCE) {
        s = picpq__fail(s, "sgesdd did not converge (info = %lld)", (long long)ws.info);
    } else if (s != PICPQ_OK) {
        s = picpq__fail(s, "sgesdd rejected argument %lld", (long long)-ws.info);
    } else {
        *rank = r;
    }
    picpq__rank_ws_free(&ws, &std);
    return s;
}

picpq_status picpq_matrix_rank_f32(const float *a, int64_t rows, int64_t cols, int64_t ld,
                                   int64_t *rank)
{
    return picpq__matrix_rank_mode(a, rows, cols, ld, 0, -1, PICPQ__RANK_AUTO, rank);
}

/* ---- ranker: lifecycle and parameters -------------------------------- */

static void free_scratch(picpq_ranker *rk)
{
    int32_t i;
    for (i = 0; i < rk->n_ws; i++) picpq__rank_ws_free(&rk->ws[i], &rk->alloc);
    picpq__free(&rk->alloc, rk->ws);
    picpq__free(&rk->alloc, rk->batch);
    rk->ws = NULL;
    rk->batch = NULL;
    rk->n_ws = 0;
    rk->batch_cap = 0;
}

void picpq_ranker_free(picpq_ranker *rk)
{
    picpq_allocator a;
    if (rk == NULL) return;
    free_scratch(rk);
    a = rk->alloc;
    picpq__free(&a, rk->channels);
    picpq__free(&a, rk->first);
    picpq__free(&a, rk->sums);
    picpq__free(&a, rk->images);
    picpq__free(&a, rk);
}

picpq_status picpq_ranker_create_ex(int32_t n_layers, const int64_t *channels,
                                    const picpq_allocator *alloc, picpq_ranker **out)
{
    picpq_allocator a;
    picpq_ranker *rk;
    picpq_status s;
    int64_t total = 0;
    size_t total_sz;
    int32_t l;
    picpq__clear_error();
    PICPQ__REQUIRE(out, "out");
    *out = NULL;
    PICPQ__REQUIRE(channels, "channels");
    if (n_layers < 1)
        return picpq__fail(PICPQ_E_OUT_OF_RANGE, "n_layers = %d: must be >= 1", (int)n_layers);
    for (l = 0; l < n_layers; l++) {
        if (channels[l] < 1)
            return picpq__fail(PICPQ_E_SHAPE, "channels[%d] = %lld: must be >= 1", (int)l,
                               (long long)channels[l]);
        if (!picpq__add_i64(total, channels[l], &total))
            return picpq__fail(PICPQ_E_OVERFLOW, "total channel count overflows at layer %d",
                               (int)l);
    }
    if (!picpq__i64_to_size(total, &total_sz) || total_sz > SIZE_MAX / sizeof(int64_t))
        return picpq__fail(PICPQ_E_OVERFLOW, "%lld channels do not fit in memory",
                           (long long)total);
    s = picpq__allocator_init(&a, alloc);
    if (s != PICPQ_OK) return s;
    rk = picpq__calloc(&a, 1, sizeof *rk);
    if (rk == NULL) return picpq__fail(PICPQ_E_NOMEM, "ranker: out of memory");
    rk->alloc = a;
    rk->n_layers = n_layers;
    rk->min_work = PICPQ__RANK_MIN_WORK;
    rk->channels = picpq__calloc(&a, (size_t)n_layers, sizeof(int64_t));
    rk->first = picpq__calloc(&a, (size_t)n_layers, sizeof(int64_t));
    rk->images = picpq__calloc(&a, (size_t)n_layers, sizeof(int64_t));
    rk->sums = picpq__calloc(&a, total_sz, sizeof(int64_t));
    if (!rk->channels || !rk->first || !rk->images || !rk->sums) {
        picpq_ranker_free(rk);
        return picpq__fail(PICPQ_E_NOMEM, "ranker: out of memory for %lld filters",
                           (long long)total);
    }
    for (l = 0, total = 0; l < n_layers; l++) {
        rk->channels[l] = channels[l];
        rk->first[l] = total;
        total += channels[l];
    }
    picpq__param_defaults(rk, RANK_GROUP);
    *out = rk;
    return PICPQ_OK;
}

picpq_status picpq_ranker_create(int32_t n_layers, const int64_t *channels, picpq_ranker **out)
{
    return picpq_ranker_create_ex(n_layers, channels, NULL, out);
}

int64_t picpq__ranker_total_filters(const picpq_ranker *rk)
{
    return rk->first[rk->n_layers - 1] + rk->channels[rk->n_layers - 1];
}

picpq_status picpq_ranker_reset(picpq_ranker *rk)
{
    picpq__clear_error();
    PICPQ__REQUIRE(rk, "rk");
    memset(rk->sums, 0, (size_t)picpq__ranker_total_filters(rk) * sizeof(int64_t));
    memset(rk->images, 0, (size_t)rk->n_layers * sizeof(int64_t));
    rk->n_fast = rk->n_fallback = 0;
    picpq__param_defaults(rk, RANK_GROUP);
    return PICPQ_OK;
}

picpq_status picpq_ranker_set_int(picpq_ranker *rk, picpq_param key, int64_t value)
{
    return picpq__param_set_int(rk, "rk", RANK_GROUP, key, value, NULL);
}

picpq_status picpq_ranker_set_double(picpq_ranker *rk, picpq_param key, double value)
{
    return picpq__param_set_double(rk, "rk", RANK_GROUP, key, value, NULL);
}

picpq_status picpq_ranker_get_int(const picpq_ranker *rk, picpq_param key, int64_t *value)
{
    return picpq__param_get_int(rk, "rk", RANK_GROUP, key, value);
}

picpq_status picpq_ranker_get_double(const picpq_ranker *rk, picpq_param key, double *value)
{
    return picpq__param_get_double(rk, "rk", RANK_GROUP, key, value);
}

/* ---- ranker: feed ---------------------------------------------------- */

/* The maps of one feed, handed out to the workers in chunks under a lock so
 * that a worker slowed by sgesdd fallbacks (or by a busy core) does not hold
 * the others back. Sums are integers: the result does not depend on which
 * worker ranked which map. */
typedef struct rank_queue {
    pthread_mutex_t lock;
    int64_t next, n_maps, chunk;
} rank_queue;

/* One worker: its workspace and its own row of per-channel counts. */
typedef struct rank_job {
    const picpq_ranker *rk;
    rank_queue *queue;
    picpq__rank_ws *ws;
    int64_t *batch;
    const char *data;
    int64_t channels, stride[4];
    picpq_status status;
    int64_t failed_at; /* map index of the worker's first failure */
} rank_job;

/* Claim the next chunk [*begin, *end); 0 when none is left. */
static int claim_chunk(rank_queue *q, int64_t *begin, int64_t *end)
{
    pthread_mutex_lock(&q->lock);
    *begin = q->next;
    *end = q->next + q->chunk < q->n_maps ? q->next + q->chunk : q->n_maps;
    q->next = *end;
    pthread_mutex_unlock(&q->lock);
    return *begin < *end;
}

/* A failing map does not stop the worker: every map before the earliest
 * failure gets ranked, so the failure reported is the one a single thread
 * would hit, whatever the thread count. */
static void run_job(rank_job *j)
{
    int64_t i, r, begin, end;
    memset(j->batch, 0, (size_t)j->channels * sizeof(int64_t));
    j->status = PICPQ_OK;
    while (claim_chunk(j->queue, &begin, &end)) {
        for (i = begin; i < end; i++) {
            int64_t n = i / j->channels, c = i % j->channels;
            const char *base = j->data + n * j->stride[0] + c * j->stride[1];
            picpq_status s = picpq__rank_map(j->ws, base, j->stride[2], j->stride[3], j->rk->atol,
                                             j->rk->rtol, PICPQ__RANK_AUTO, &r);
            if (s != PICPQ_OK) {
                if (j->status == PICPQ_OK) {
                    j->status = s;
                    j->failed_at = i;
                }
                continue;
            }
            j->batch[c] += r;
        }
    }
}

static void *job_thread(void *arg)
{
    run_job(arg);
    return NULL;
}

static int64_t resolve_threads(int64_t threads)
{
    long online;
    if (threads > 0) return threads;
    online = sysconf(_SC_NPROCESSORS_ONLN);
    return online < 1 ? 1 : online > 1024 ? 1024 : (int64_t)online;
}

/* Make sure there are n_ws workspaces for h x w maps and batch rows of
 * `channels`. All-or-nothing: the old scratch is dropped only once the
 * new one exists (the accumulated sums are never touched). */
static picpq_status ensure_scratch(picpq_ranker *rk, int32_t n_ws, int64_t h, int64_t w,
                                   int64_t channels)
{
    picpq__rank_ws *ws;
    int64_t *batch;
    int32_t i;
    picpq_status s = PICPQ_OK;
    if (rk->n_ws >= n_ws && rk->ws[0].h == h && rk->ws[0].w == w && rk->batch_cap >= channels)
        return PICPQ_OK;
    ws = picpq__calloc(&rk->alloc, (size_t)n_ws, sizeof *ws);
    batch = picpq__calloc(&rk->alloc, (size_t)n_ws * (size_t)(channels + 8), sizeof(int64_t));
    if (ws == NULL || batch == NULL) s = PICPQ_E_NOMEM;
    for (i = 0; i < n_ws && s == PICPQ_OK; i++) s = picpq__rank_ws_init(&ws[i], &rk->alloc, h, w);
    if (s != PICPQ_OK) {
        int32_t k;
        for (k = 0; ws != NULL && k < i; k++) picpq__rank_ws_free(&ws[k], &rk->alloc);
        picpq__free(&rk->alloc, ws);
        picpq__free(&rk->alloc, batch);
        if (s == PICPQ_E_NOMEM)
            return picpq__fail(s, "ranker: out of memory for the scratch of %lld x %lld maps",
                               (long long)h, (long long)w);
        if (s == PICPQ_E_UNSUPPORTED)
            return picpq__fail(s, "%lld x %lld maps are too large for LAPACK's 32-bit indices",
                               (long long)h, (long long)w);
        return picpq__fail(s, "sgesdd workspace query failed for %lld x %lld", (long long)h,
                           (long long)w);
    }
    free_scratch(rk);
    rk->ws = ws;
    rk->n_ws = n_ws;
    rk->batch = batch;
    rk->batch_cap = channels;
    return PICPQ_OK;
}

/* Run the jobs on worker threads (job 0 on the caller's); a thread that
 * cannot be started has its job run by the caller: same result. */
static void run_jobs(rank_job *jobs, int32_t n)
{
    pthread_t tid[64];
    int started[64] = {0};
    int32_t i;
    for (i = 1; i < n; i++) started[i] = pthread_create(&tid[i], NULL, job_thread, &jobs[i]) == 0;
    run_job(&jobs[0]);
    for (i = 1; i < n; i++) {
        if (started[i]) pthread_join(tid[i], NULL);
        else run_job(&jobs[i]);
    }
}

static picpq_status check_feed_args(const picpq_ranker *rk, int32_t layer, const picpq_tensor *t)
{
    int64_t c, mn, add;
    int32_t i;
    if (layer < 0 || layer >= rk->n_layers)
        return picpq__fail(PICPQ_E_OUT_OF_RANGE, "layer %d is outside 0..%d", (int)layer,
                           (int)rk->n_layers - 1);
    if (t->dtype != PICPQ_F32)
        return picpq__fail(PICPQ_E_INVALID_ARG, "maps have dtype %d: only PICPQ_F32 is accepted",
                           (int)t->dtype);
    if (t->ndim != 4)
        return picpq__fail(PICPQ_E_SHAPE, "maps have %d dimensions: expected [N, C, H, W]",
                           (int)t->ndim);
    for (i = 0; i < 4; i++)
        if (t->shape[i] < 1)
            return picpq__fail(PICPQ_E_SHAPE, "maps shape[%d] = %lld: must be >= 1", (int)i,
                               (long long)t->shape[i]);
    if (t->shape[1] != rk->channels[layer])
        return picpq__fail(PICPQ_E_SHAPE, "maps have C = %lld channels, layer %d has %lld",
                           (long long)t->shape[1], (int)layer, (long long)rk->channels[layer]);
    if (!picpq__add_i64(rk->images[layer], t->shape[0], &add))
        return picpq__fail(PICPQ_E_OVERFLOW, "image count of layer %d would overflow", (int)layer);
    mn = t->shape[2] < t->shape[3] ? t->shape[2] : t->shape[3];
    if (!picpq__mul_i64(t->shape[0], mn, &mn))
        return picpq__fail(PICPQ_E_OVERFLOW, "rank sum of one batch overflows");
    for (c = 0; c < t->shape[1]; c++)
        if (!picpq__add_i64(rk->sums[rk->first[layer] + c], mn, &add))
            return picpq__fail(PICPQ_E_OVERFLOW, "rank sum of layer %d filter %lld would overflow",
                               (int)layer, (long long)c);
    return PICPQ_OK;
}

static picpq_status job_failure(const picpq_ranker *rk, int32_t layer, const picpq_tensor *t,
                                const rank_job *j)
{
    int64_t n = j->failed_at / t->shape[1], c = j->failed_at % t->shape[1];
    if (j->status == PICPQ_E_NONFINITE) {
        int64_t row, col;
        picpq__rank_find_nonfinite(j->data + n * t->strides[0] + c * t->strides[1], t->shape[2],
                                   t->shape[3], t->strides[2], t->strides[3], &row, &col);
        return picpq__fail(PICPQ_E_NONFINITE,
                           "layer %d: maps[%lld, %lld, %lld, %lld] is NaN or infinite; nothing "
                           "of this batch was accumulated",
                           (int)layer, (long long)n, (long long)c, (long long)row, (long long)col);
    }
    if (j->status == PICPQ_E_NO_CONVERGENCE)
        return picpq__fail(PICPQ_E_NO_CONVERGENCE,
                           "layer %d: sgesdd did not converge on map [%lld, %lld] (info = %lld)",
                           (int)layer, (long long)n, (long long)c, (long long)j->ws->info);
    (void)rk;
    return picpq__fail(j->status, "layer %d: sgesdd rejected argument %lld on map [%lld, %lld]",
                       (int)layer, (long long)-j->ws->info, (long long)n, (long long)c);
}

/* The counts a feed adds cannot overflow: each of the N images adds one to
 * the layer's image count and at most min(H, W) to each filter's rank sum.
 * Only a loaded state with counts near INT64_MAX can get here. */
static picpq_status check_counts_room(const picpq_ranker *rk, int32_t layer,
                                      const picpq_tensor *maps)
{
    const int64_t n = maps->shape[0];
    const int64_t side = maps->shape[2] < maps->shape[3] ? maps->shape[2] : maps->shape[3];
    int64_t most, c, total;
    if (!picpq__mul_i64(n, side, &most) || !picpq__add_i64(rk->images[layer], n, &total))
        return picpq__fail(PICPQ_E_OVERFLOW, "layer %d: the image count would overflow",
                           (int)layer);
    for (c = 0; c < rk->channels[layer]; c++)
        if (!picpq__add_i64(rk->sums[rk->first[layer] + c], most, &total))
            return picpq__fail(PICPQ_E_OVERFLOW,
                               "layer %d: the rank sum of filter %lld could "
                               "overflow",
                               (int)layer, (long long)c);
    return PICPQ_OK;
}

picpq_status picpq_ranker_feed(picpq_ranker *rk, int32_t layer, const picpq_tensor *maps)
{
    rank_job jobs[64];
    rank_queue queue;
    int64_t n_maps, workers, c, C, elems;
    int32_t i, n_jobs;
    const rank_job *failed = NULL;
    picpq_status s;
    picpq__clear_error();
    PICPQ__REQUIRE(rk, "rk");
    PICPQ__REQUIRE(maps, "maps");
    s = check_feed_args(rk, layer, maps);
    if (s == PICPQ_OK) s = check_counts_room(rk, layer, maps);
    if (s != PICPQ_OK) return s;
    C = maps->shape[1];
    n_maps = maps->shape[0] * C; /* <= numel: cannot overflow */
    workers = resolve_threads(rk->threads);
    if (workers > 64) workers = 64;
    /* a worker needs enough elements to repay its start (~50 µs): tiny
     * batches run on the caller (the result does not depend on it) */
    elems = maps->numel / rk->min_work;
    if (workers > elems) workers = elems > 1 ? elems : 1;
    if (workers > n_maps) workers = n_maps;
    n_jobs = (int32_t)workers;
    s = ensure_scratch(rk, n_jobs, maps->shape[2], maps->shape[3], C);
    if (s != PICPQ_OK) return s;
    if (pthread_mutex_init(&queue.lock, NULL) != 0)
        return picpq__fail(PICPQ_E_NOMEM, "ranker: cannot create the work queue's lock");
    queue.next = 0;
    queue.n_maps = n_maps;
    queue.chunk = n_maps / ((int64_t)n_jobs * 16); /* ~16 chunks per worker */
    if (queue.chunk < 1) queue.chunk = 1;
    for (i = 0; i < n_jobs; i++) {
        rank_job *j = &jobs[i];
        j->rk = rk;
        j->queue = &queue;
        j->ws = &rk->ws[i];
        j->batch = rk->batch + (int64_t)i * (rk->batch_cap + 8);
        j->data = maps->data;
        j->channels = C;
        memcpy(j->stride, maps->strides, sizeof j->stride);
        j->ws->n_fast = j->ws->n_fallback = 0;
    }
    run_jobs(jobs, n_jobs);
    pthread_mutex_destroy(&queue.lock);
    /* Report the earliest failing map: the one a single thread would hit. */
    for (i = 0; i < n_jobs; i++)
        if (jobs[i].status != PICPQ_OK && (failed == NULL || jobs[i].failed_at < failed->failed_at))
            failed = &jobs[i];
    if (failed != NULL) return job_failure(rk, layer, maps, failed);
    for (i = 0; i < n_jobs; i++) {
        for (c = 0; c < C; c++) rk->sums[rk->first[layer] + c] += jobs[i].batch[c];
        rk->n_fast += jobs[i].ws->n_fast;
        rk->n_fallback += jobs[i].ws->n_fallback;
    }
    rk->images[layer] += maps->shape[0];
    return PICPQ_OK;
}

/* ---- ranker: results ------------------------------------------------- */

static picpq_status check_layer(const picpq_ranker *rk, int32_t layer)
{
    if (layer < 0 || layer >= rk->n_layers)
        return picpq__fail(PICPQ_E_OUT_OF_RANGE, "layer %d is outside 0..%d", (int)layer,
                           (int)rk->n_layers - 1);
    return PICPQ_OK;
}

picpq_status picpq_ranker_fp(const picpq_ranker *rk, int32_t layer, double *fp, int64_t n)
{
    int64_t c;
    picpq_status s;
    picpq__clear_error();
    PICPQ__REQUIRE(rk, "rk");
    PICPQ__REQUIRE(fp, "fp");
    s = check_layer(rk, layer);
    if (s != PICPQ_OK) return s;
    if (n != rk->channels[layer])
        return picpq__fail(PICPQ_E_SHAPE, "n = %lld, layer %d has %lld channels", (long long)n,
                           (int)layer, (long long)rk->channels[layer]);
    if (rk->images[layer] == 0)
        return picpq__fail(PICPQ_E_BAD_STATE, "layer %d has not been fed any image", (int)layer);
    for (c = 0; c < n; c++)
        fp[c] = (double)rk->sums[rk->first[layer] + c] / (double)rk->images[layer];
    return PICPQ_OK;
}

picpq_status picpq_ranker_fp_to_net(const picpq_ranker *rk, picpq_net *net)
{
    int32_t l, fed = 0;
    int64_t widest = 1;
    double *fp;
    picpq_status s;
    picpq__clear_error();
    PICPQ__REQUIRE(rk, "rk");
    PICPQ__REQUIRE(net, "net");
    if (rk->n_layers != picpq_net_num_layers(net))
        return picpq__fail(PICPQ_E_SHAPE, "the ranker has %d layers, the net %d", (int)rk->n_layers,
                           (int)picpq_net_num_layers(net));
    for (l = 0; l < rk->n_layers; l++) {
        int64_t in_ch, out_ch;
        picpq_net_layer_channels(net, l, &in_ch, &out_ch);
        if (out_ch != rk->channels[l])
            return picpq__fail(PICPQ_E_SHAPE,
                               "layer %d: the ranker has %lld channels, the net %lld", (int)l,
                               (long long)rk->channels[l], (long long)out_ch);
        if (rk->images[l] > 0) fed++;
        if (out_ch > widest) widest = out_ch;
    }
    if (fed == 0) return picpq__fail(PICPQ_E_BAD_STATE, "no layer has been fed any image");
    /* storage first, so that no layer is set unless all are */
    if ((s = picpq__net_reserve_fp(net, rk->images)) != PICPQ_OK) return s;
    if ((fp = picpq__calloc(&rk->alloc, (size_t)widest, sizeof *fp)) == NULL)
        return picpq__fail(PICPQ_E_NOMEM, "ranker: out of memory for %lld FP values",
                           (long long)widest);
    for (l = 0; l < rk->n_layers; l++) {
        if (rk->images[l] == 0) continue;
        picpq_ranker_fp(rk, l, fp, rk->channels[l]);
        picpq_net_set_fp(net, l, fp, rk->channels[l]); /* cannot fail now */
    }
    picpq__free(&rk->alloc, fp);
    return PICPQ_OK;
}

/* One per-layer count (images fed, channels) of a ranker. */
static picpq_status layer_count(const picpq_ranker *rk, int32_t layer, const int64_t *counts,
                                int64_t *out, const char *name)
{
    picpq_status s;
    picpq__clear_error();
    PICPQ__REQUIRE(rk, "rk");
    PICPQ__REQUIRE(out, name);
    s = check_layer(rk, layer);
    if (s != PICPQ_OK) return s;
    *out = counts[layer];
    return PICPQ_OK;
}

picpq_status picpq_ranker_images(const picpq_ranker *rk, int32_t layer, int64_t *images)
{
    return layer_count(rk, layer, rk ? rk->images : NULL, images, "images");
}

int32_t picpq_ranker_num_layers(const picpq_ranker *rk)
{
    return rk ? rk->n_layers : 0;
}

picpq_status picpq_ranker_layer_channels(const picpq_ranker *rk, int32_t layer, int64_t *channels)
{
    return layer_count(rk, layer, rk ? rk->channels : NULL, channels, "channels");
}

picpq_status picpq_ranker_stats(const picpq_ranker *rk, int64_t *certified, int64_t *fallback)
{
    picpq__clear_error();
    PICPQ__REQUIRE(rk, "rk");
    if (certified) *certified = rk->n_fast;
    if (fallback) *fallback = rk->n_fallback;
    return PICPQ_OK;
}

picpq_status picpq_ranker_merge(picpq_ranker *dst, const picpq_ranker *src)
{
    int64_t i, total, unused;
    int32_t l;
    picpq__clear_error();
    PICPQ__REQUIRE(dst, "dst");
    PICPQ__REQUIRE(src, "src");
    if (dst->n_layers != src->n_layers)
        return picpq__fail(PICPQ_E_SHAPE, "dst has %d layers, src has %d", (int)dst->n_layers,
                           (int)src->n_layers);
    for (l = 0; l < dst->n_layers; l++) {
        if (dst->channels[l] != src->channels[l])
            return picpq__fail(PICPQ_E_SHAPE, "layer %d: dst has %lld channels, src has %lld",
                               (int)l, (long long)dst->channels[l], (long long)src->channels[l]);
        if (!picpq__add_i64(dst->images[l], src->images[l], &unused))
            return picpq__fail(PICPQ_E_OVERFLOW, "image count of layer %d would overflow", (int)l);
    }
    total = picpq__ranker_total_filters(dst);
    for (i = 0; i < total; i++)
        if (!picpq__add_i64(dst->sums[i], src->sums[i], &unused))
            return picpq__fail(PICPQ_E_OVERFLOW, "rank sum of filter %lld would overflow",
                               (long long)i);
    for (l = 0; l < dst->n_layers; l++) dst->images[l] += src->images[l];
    for (i = 0; i < total; i++) dst->sums[i] += src->sums[i];
    return PICPQ_OK;
}

/* ---- ranker for a described network ---------------------------------- */

picpq_status picpq_ranker_create_for_net(const picpq_net *net, picpq_ranker **out)
{
    int64_t *channels;
    int64_t in_ch;
    int32_t n, l;
    picpq_status s = PICPQ_OK;
    picpq__clear_error();
    PICPQ__REQUIRE(out, "out");
    *out = NULL;
    PICPQ__REQUIRE(net, "net");
    n = picpq_net_num_layers(net);
    if (n < 1) return picpq__fail(PICPQ_E_OUT_OF_RANGE, "the net has no layer");
    /* the ranker of a net allocates as the net does (picpq_net_create_ex) */
    channels = picpq__calloc(&net->alloc, (size_t)n, sizeof *channels);
    if (channels == NULL) return picpq__fail(PICPQ_E_NOMEM, "ranker: out of memory");
    for (l = 0; l < n && s == PICPQ_OK; l++)
        s = picpq_net_layer_channels(net, l, &in_ch, &channels[l]);
    if (s == PICPQ_OK) s = picpq_ranker_create_ex(n, channels, &net->alloc, out);
    picpq__free(&net->alloc, channels);
    return s;
}
