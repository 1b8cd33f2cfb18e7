/* ThreadSanitizer check (tests/tsan/run.sh): several threads use their own
 * net, plan, search and ranker at the same time, and each thread's failing
 * calls leave a message that only that thread sees; then they all run one
 * shared loaded model (float and integer paths), each with its own
 * workspace, and must get the single-threaded logits bit for bit. Exits 0
 * when every check held; TSan reports any data race. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PICPQ_EXPERIMENTAL /* the model runtime */
#include "picpq.h"
#include "fuzz/fuzz_net.h" /* the small net of the search-state fuzzer */

#define THREADS 6
#define ROUNDS 20

static pthread_barrier_t barrier;
static int failures;
static pthread_mutex_t failures_lock = PTHREAD_MUTEX_INITIALIZER;

static void fail(int tid, const char *what)
{
    pthread_mutex_lock(&failures_lock);
    failures++;
    pthread_mutex_unlock(&failures_lock);
    fprintf(stderr, "thread %d: %s (last error: \"%s\")\n", tid, what, picpq_last_error());
}

static void *worker(void *arg)
{
    const int tid = (int)(size_t)arg;
    const double a[4] = {1, 1, 2, 1}, b[4] = {0, 0, 0.5, 0};
    const int64_t ch[4] = {4, 5, 6, 10};
    picpq_net *net = NULL;
    picpq_plan *plan = NULL;
    picpq_search *search = NULL;
    picpq_ranker *rk = NULL;
    picpq_tensor *maps = NULL;
    float data[2 * 4 * 3 * 3];
    int64_t shape[4] = {2, 4, 3, 3};
    int32_t id;
    int round, i;
    char want[64];
    for (i = 0; i < 72; i++) data[i] = (float)((i * (tid + 3)) % 11) - 5.0f;
    if ((net = fuzz_net()) == NULL) return NULL;
    if (picpq_plan_create(net, &plan) != PICPQ_OK ||
        picpq_search_create(net, (uint64_t)tid, &search) != PICPQ_OK ||
        picpq_ranker_create(4, ch, &rk) != PICPQ_OK ||
        picpq_ranker_set_int(rk, PICPQ_RANK_THREADS, 2) != PICPQ_OK || /* feed's own workers */
        picpq_tensor_wrap(data, PICPQ_F32, 4, shape, NULL, &maps) != PICPQ_OK) {
        fail(tid, "setup failed");
        return NULL;
    }
    for (round = 0; round < ROUNDS; round++) {
        double sa[4], sb[4];
        uint64_t sid;
        picpq_status st;
        if (picpq_ranker_feed(rk, 0, maps) != PICPQ_OK) fail(tid, "feed");
        st = picpq_plan_compute(plan, a, b, 0.5 + 0.02 * tid);
        if (st != PICPQ_OK && st != PICPQ_BUDGET_UNMET) fail(tid, "plan_compute");
        if (picpq_search_ask(search, &sid, sa, sb, 4) == PICPQ_OK &&
            picpq_search_tell(search, sid, sa[0] + sb[2]) != PICPQ_OK)
            fail(tid, "search_tell");
        /* every thread fails with its own number in the message, all at once */
        pthread_barrier_wait(&barrier);
        if (picpq_net_add_conv(net, -1000 - tid, 4, 3, 3, 1, 8, 8, &id) == PICPQ_OK)
            fail(tid, "a negative in_ch was accepted");
        snprintf(want, sizeof want, "%d", -1000 - tid);
        pthread_barrier_wait(&barrier); /* the others have failed too, with their numbers */
        if (strstr(picpq_last_error(), want) == NULL) fail(tid, "message is not this thread's");
        if (picpq_search_tell(search, UINT64_MAX - (uint64_t)tid, 1.0) == PICPQ_OK)
            fail(tid, "an unknown id was accepted");
        pthread_barrier_wait(&barrier);
        if (picpq_last_error()[0] == '\0') fail(tid, "message lost");
        if (picpq_net_num_layers(net) != 4) fail(tid, "failed add changed the net");
        picpq_plan_compute(plan, a, b, 0.9); /* a success clears this thread's message only */
        pthread_barrier_wait(&barrier);
        if (picpq_last_error()[0] != '\0') fail(tid, "message not cleared by a success");
    }
    picpq_tensor_free(maps);
    picpq_ranker_free(rk);
    picpq_search_free(search);
    picpq_plan_free(plan);
    picpq_net_free(net);
    return NULL;
}

/* One model shared by every thread: the images, the logits one thread got
 * alone, and the model itself (read-only after load). */
#define MODEL_FILE "tests/runtime/resnet20_q.pqm"
#define IMAGES 4
static const picpq_model *shared_model;
static float images[IMAGES * 28 * 28], reference[IMAGES * 64];

static int run_once(const picpq_model *m, float *logits)
{
    picpq_model_workspace *ws = NULL;
    picpq_status st = picpq_model_workspace_create(m, IMAGES, &ws);
    memset(logits, 0, sizeof(float) * IMAGES * 64); /* up to 64 classes: the rest stays 0 */
    if (st == PICPQ_OK) st = picpq_model_run(m, ws, images, IMAGES, logits);
    picpq_model_workspace_free(ws);
    return st == PICPQ_OK;
}

static void *model_worker(void *arg)
{
    const int tid = (int)(size_t)arg;
    float logits[IMAGES * 64];
    int round;
    pthread_barrier_wait(&barrier);
    for (round = 0; round < ROUNDS / 4; round++)
        if (!run_once(shared_model, logits) || memcmp(logits, reference, sizeof logits) != 0)
            fail(tid, "shared model: logits differ from the single-threaded run");
    return NULL;
}

static int shared_model_check(uint32_t flags)
{
    picpq_model *m = NULL;
    FILE *f = fopen(MODEL_FILE, "rb");
    static unsigned char buf[1 << 16];
    size_t len;
    pthread_t th[THREADS];
    int i;
    if (f == NULL) {
        fprintf(stderr, "tsan_threads: cannot open %s\n", MODEL_FILE);
        return 0;
    }
    len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (picpq_model_load_opts(buf, len, NULL, flags, &m) != PICPQ_OK) {
        fprintf(stderr, "tsan_threads: %s: %s\n", MODEL_FILE, picpq_last_error());
        return 0;
    }
    for (i = 0; i < IMAGES * 28 * 28; i++) images[i] = (float)((i * 37) % 101) / 100.0f;
    if (!run_once(m, reference)) fail(-1, "shared model: the single-threaded run failed");
    shared_model = m;
    for (i = 0; i < THREADS; i++) pthread_create(&th[i], NULL, model_worker, (void *)(size_t)i);
    for (i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    picpq_model_free(m);
    return 1;
}

int main(void)
{
    pthread_t th[THREADS];
    int i;
    pthread_barrier_init(&barrier, NULL, THREADS);
    for (i = 0; i < THREADS; i++) pthread_create(&th[i], NULL, worker, (void *)(size_t)i);
    for (i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    if (!shared_model_check(0) || !shared_model_check(PICPQ_MODEL_INTEGER)) failures++;
    pthread_barrier_destroy(&barrier);
    if (failures) {
        fprintf(stderr, "tsan_threads: %d failures\n", failures);
        return 1;
    }
    printf("tsan_threads: %d threads x %d rounds, each saw its own messages; %d threads ran "
           "one shared model (float and integer) with the single-threaded logits\n",
           THREADS, ROUNDS, THREADS);
    return 0;
}
