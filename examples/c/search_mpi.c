/* PIC-PQ's (a, b) search spread over MPI processes, in C: rank 0 owns the
 * picpq_search (ask/tell), every other rank evaluates candidates.
 *
 *   mpirun -np 3 build/examples/search_mpi --state run.state
 *   mpirun -np 3 build/examples/search_mpi --state run.state --resume
 *
 * !! THE FITNESS IS SYNTHETIC. A worker plans the candidate at a MACs budget
 * !! (picpq_plan_compute, --budget), scores the kept-filter fractions against
 * !! made-up per-layer sensitivities and sleeps a heavy-tailed (log-normal,
 * !! mean --eval-ms) time to stand in for the work. A real host would instead
 * !! prune its copy of the network with the plan, fine-tune it for tau_hat
 * !! steps and return the validation loss. The FP scores are synthetic too
 * !! (a real host gets them from picpq_ranker).
 *
 * Guarantees (as examples/python/search_mpi.py):
 * - asynchronous: a worker gets its next candidate as soon as it reports;
 * - durable: after each tell the master saves the whole search atomically
 *   (PATH.tmp + fsync, the old PATH kept as PATH.prev, rename, fsync of the
 *   directory), prints `told ID LOSS`, and only then sends that worker its
 *   next candidate (the acknowledgement); --resume continues from the last
 *   save and re-dispatches the candidates that were out first. --generations,
 *   --population, --sample and --seed are then taken from the state;
 * - a non-finite loss, or no result within --eval-timeout, costs only that
 *   candidate (told as failed); a timed-out worker gets no more work until it
 *   reports again (its late result is ignored); a result for an id the worker
 *   was not given, or given twice, is logged and ignored;
 * - a worker that dies aborts the whole job unless mpirun gets
 *   --enable-recovery; workers give up after --master-timeout without word.
 * Exit status of rank 0: 0 done, 1 error, 2 state file refused (corrupt, or
 * existing without --resume), 3 no live worker left (resume later). mpirun
 * returns it, except that Open MPI 4.1's mpirun exits 0 under
 * --enable-recovery whatever the ranks return: read the last line instead
 * (`done: issued N told N failed F best LOSS` on success).
 *
 * Testing aid: --inject KIND:RANK:K (repeatable) makes worker RANK, at its
 * K-th evaluation (1-based), do KIND: nan (report NaN), dup (report twice),
 * unknown (first report an id it was not given), die (_exit(9)), hang (sleep
 * 3 x --eval-timeout before reporting). Messages are raw structs: the ranks
 * must run on nodes of the same architecture. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "picpq.h"
#include "synthetic_fitness.h"

#define MAX_INJECT 16
enum { TAG_WORK = 1, TAG_STOP = 2, TAG_RESULT = 3 };
enum { W_IDLE, W_BUSY, W_DEAD };

typedef struct {
    uint64_t id;
    double a[SYNTH_NLAYERS], b[SYNTH_NLAYERS];
} work_msg;
typedef struct {
    uint64_t id;
    double loss;
} result_msg;
typedef struct {
    char kind[8];
    int rank, k;
} fault;

typedef struct {
    const char *state;
    int resume, generations, population, sample;
    unsigned long long seed;
    double eval_ms, eval_timeout, master_timeout, budget;
    fault inject[MAX_INJECT];
    int ninject;
} options;

typedef struct {
    int state;
    uint64_t id, last_told;
    double since;
} worker;

static int g_rank;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void sleep_s(double s)
{
    struct timespec t;
    if (s <= 0) return;
    t.tv_sec = (time_t)s;
    t.tv_nsec = (long)((s - (double)t.tv_sec) * 1e9);
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {}
}

/* ---- options --------------------------------------------------------- */
static int parse_fault(const char *s, fault *f)
{
    static const char *kinds[] = {"nan", "dup", "unknown", "die", "hang"};
    size_t i;
    if (sscanf(s, "%7[a-z]:%d:%d", f->kind, &f->rank, &f->k) != 3 || f->rank < 1 || f->k < 1)
        return 0;
    for (i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (strcmp(f->kind, kinds[i]) == 0) return 1;
    return 0;
}

static int parse_options(int argc, char **argv, options *o)
{
    int i;
    memset(o, 0, sizeof *o);
    o->state = "search_mpi.state";
    o->generations = 64, o->population = 16, o->sample = 4, o->seed = 2024;
    o->eval_ms = 20, o->eval_timeout = 60, o->master_timeout = 120, o->budget = 0.5;
    for (i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(k, "--resume") == 0) {
            o->resume = 1;
            continue;
        }
        if (v == NULL) goto bad;
        i++;
        if (strcmp(k, "--state") == 0) o->state = v;
        else if (strcmp(k, "--generations") == 0) o->generations = atoi(v);
        else if (strcmp(k, "--population") == 0) o->population = atoi(v);
        else if (strcmp(k, "--sample") == 0) o->sample = atoi(v);
        else if (strcmp(k, "--seed") == 0) o->seed = strtoull(v, NULL, 10);
        else if (strcmp(k, "--eval-ms") == 0) o->eval_ms = atof(v);
        else if (strcmp(k, "--eval-timeout") == 0) o->eval_timeout = atof(v);
        else if (strcmp(k, "--master-timeout") == 0) o->master_timeout = atof(v);
        else if (strcmp(k, "--budget") == 0) o->budget = atof(v);
        else if (strcmp(k, "--inject") == 0 && o->ninject < MAX_INJECT &&
                 parse_fault(v, &o->inject[o->ninject]))
            o->ninject++;
        else goto bad;
    }
    /* An idle worker waits for STOP while the last candidates are out. */
    if (o->eval_ms >= 0 && o->eval_timeout > 0 && o->master_timeout > o->eval_timeout &&
        o->budget > 0 && o->budget <= 1)
        return 1;
bad:
    if (g_rank == 0)
        fprintf(
            stderr,
            "usage: search_mpi [--state PATH (search_mpi.state)] [--resume]\n"
            "  [--generations G (64)] [--population P (16)] [--sample S (4)] [--seed N (2024)]\n"
            "  [--budget KEEP_MACS (0.5)] [--eval-ms MEAN (20)] [--eval-timeout SEC (60)]\n"
            "  [--master-timeout SEC, > eval-timeout (120)]\n"
            "  [--inject nan|dup|unknown|die|hang:RANK:K]...\n");
    return 0;
}

/* Heavy-tailed evaluation time: log-normal with mean eval_ms, sigma 1, cut
 * at 10 x the mean (0.3 % of the draws) so that a healthy worker stays far
 * from --eval-timeout. */
static double lognormal_ms(uint64_t *rng, double mean_ms)
{
    double u1, u2;
    *rng = *rng * 6364136223846793005ULL + 1442695040888963407ULL;
    u1 = ((double)(*rng >> 11) + 1.0) / 9007199254740993.0;
    *rng = *rng * 6364136223846793005ULL + 1442695040888963407ULL;
    u2 = (double)(*rng >> 11) / 9007199254740992.0;
    return mean_ms * fmin(10.0, exp(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2) - 0.5));
}

/* ---- worker ----------------------------------------------------------- */
static const char *fault_at(const options *o, int rank, int k)
{
    int i;
    for (i = 0; i < o->ninject; i++)
        if (o->inject[i].rank == rank && o->inject[i].k == k) return o->inject[i].kind;
    return "";
}

/* Wait for the master's next message; 0 = none within --master-timeout. */
static int wait_master(double timeout, MPI_Status *status)
{
    double t0 = now_s();
    int flag = 0;
    while (MPI_Iprobe(0, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, status) == MPI_SUCCESS && !flag) {
        if (now_s() - t0 > timeout) return 0;
        sleep_s(0.001);
    }
    return flag;
}

static void send_result(uint64_t id, double loss)
{
    result_msg r;
    r.id = id, r.loss = loss;
    MPI_Send(&r, (int)sizeof r, MPI_BYTE, 0, TAG_RESULT, MPI_COMM_WORLD);
}

static int run_worker(const options *o, const picpq_net *net, picpq_plan *plan)
{
    uint64_t rng = o->seed * 0x9E3779B97F4A7C15ULL + (uint64_t)g_rank;
    int k = 0;
    for (;;) {
        MPI_Status status;
        work_msg w;
        const char *f;
        double loss;
        if (!wait_master(o->master_timeout, &status)) {
            fprintf(
                stderr,
                "search_mpi[%d]: no word from the master for %g s (--master-timeout): exiting\n",
                g_rank, o->master_timeout);
            return 4;
        }
        MPI_Recv(&w, (int)sizeof w, MPI_BYTE, 0, status.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (status.MPI_TAG == TAG_STOP) return 0;
        f = fault_at(o, g_rank, ++k);
        if (strcmp(f, "die") == 0) _exit(9);
        loss = synthetic_loss(net, plan, w.a, w.b, o->budget);
        sleep_s(1e-3 * lognormal_ms(&rng, o->eval_ms));
        if (strcmp(f, "hang") == 0) sleep_s(3 * o->eval_timeout);
        if (strcmp(f, "nan") == 0) loss = NAN;
        if (strcmp(f, "unknown") == 0) send_result(w.id + 1000000, loss);
        send_result(w.id, loss);
        if (strcmp(f, "dup") == 0) send_result(w.id, loss);
    }
}

/* ---- durable state (master) ------------------------------------------- */
static int fail(const char *what, picpq_status st)
{
    fprintf(stderr, "search_mpi[%d]: %s: %s (%s)\n", g_rank, what, picpq_status_string(st),
            picpq_last_error());
    return 1;
}

static int fsync_dir_of(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    int fd, rc;
    if (slash == NULL) strcpy(dir, ".");
    else snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    if ((fd = open(dir, O_RDONLY)) < 0) return -1;
    rc = fsync(fd);
    close(fd);
    return rc;
}

/* Write all of buf to path and fsync it. */
static int write_synced(const char *path, const unsigned char *buf, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644), ok;
    size_t done = 0;
    ssize_t n = 0;
    if (fd < 0) return 0;
    while (done < size && (n = write(fd, buf + done, size - done)) > 0) done += (size_t)n;
    ok = done == size && fsync(fd) == 0;
    return close(fd) == 0 && ok;
}

/* PATH.tmp written and fsynced; the old PATH hard-linked to PATH.prev (via
 * PATH.prev.tmp, so neither name ever goes missing); PATH.tmp renamed over
 * PATH; the directory fsynced so that the renames are durable too. */
static int replace_durably(const char *path, const unsigned char *buf, size_t size)
{
    char tmp[4096], prev[4096], prevtmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    snprintf(prev, sizeof prev, "%s.prev", path);
    snprintf(prevtmp, sizeof prevtmp, "%s.prev.tmp", path);
    if (!write_synced(tmp, buf, size)) return 0;
    if (access(path, F_OK) == 0) {
        if (unlink(prevtmp) != 0 && errno != ENOENT) return 0;
        if (link(path, prevtmp) != 0 || rename(prevtmp, prev) != 0) return 0;
    }
    return rename(tmp, path) == 0 && fsync_dir_of(path) == 0;
}

static int save_state(const picpq_search *s, const char *path)
{
    unsigned char *buf;
    size_t size, needed;
    picpq_status st;
    int ok;
    if ((st = picpq_search_save(s, NULL, 0, &size)) != PICPQ_OK) return !fail("save", st);
    if ((buf = malloc(size)) == NULL) return !fail("save", PICPQ_E_NOMEM);
    if ((st = picpq_search_save(s, buf, size, &needed)) != PICPQ_OK) ok = !fail("save", st);
    else if (!(ok = replace_durably(path, buf, size)))
        fprintf(stderr, "search_mpi[0]: cannot save the state to %s: %s\n", path, strerror(errno));
    free(buf);
    return ok;
}

/* ---- master ----------------------------------------------------------- */
typedef struct {
    const options *o;
    picpq_search *s;
    int64_t generations;
    worker *w;      /* indexed by rank; w[0] unused */
    int size;       /* MPI world size */
    uint64_t *redo; /* pending ids found at --resume, re-dispatched first */
    int64_t nredo, next_redo;
} master;

/* Read the whole file; NULL (errno set) on failure. */
static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long n;
    if (f == NULL) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) != NULL && fread(buf, 1, (size_t)n, f) == (size_t)n) {
        *len = (size_t)n;
    } else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

/* Load --state for --resume; 0, or 2 when refused (the file is only read). */
static int load_state(master *m, const picpq_net *net)
{
    const char *path = m->o->state;
    char prev[4096];
    unsigned char *buf;
    size_t len = 0;
    picpq_status st;
    snprintf(prev, sizeof prev, "%s.prev", path);
    if ((buf = read_file(path, &len)) == NULL) {
        fprintf(stderr, "search_mpi[0]: cannot resume: %s: %s\n", path, strerror(errno));
        return 2;
    }
    st = picpq_search_load(net, buf, len, &m->s);
    free(buf);
    if (st == PICPQ_OK) return 0;
    fprintf(stderr, "search_mpi[0]: cannot resume from %s: %s (%s); the file was left as it is",
            path, picpq_status_string(st), picpq_last_error());
    if (access(prev, F_OK) == 0)
        fprintf(stderr, "; the previous good state is %s: `cp %s %s` and resume again", prev, prev,
                path);
    fputc('\n', stderr);
    return 2;
}

/* Remember the candidates that were out when the state was saved. */
static int collect_pending(master *m)
{
    int64_t i, n = picpq_search_num_pending(m->s);
    double a[SYNTH_NLAYERS], b[SYNTH_NLAYERS];
    picpq_status st;
    if (n > 0 && (m->redo = malloc((size_t)n * sizeof *m->redo)) == NULL)
        return fail("resume", PICPQ_E_NOMEM);
    for (i = 0; i < n; i++)
        if ((st = picpq_search_pending(m->s, i, &m->redo[i], a, b, SYNTH_NLAYERS)) != PICPQ_OK)
            return fail("pending", st);
    m->nredo = n;
    return 0;
}

/* A new search, or the saved one with --resume; 0, 1 (error) or 2 (refused). */
static int open_search(master *m, const picpq_net *net)
{
    const options *o = m->o;
    int64_t issued, told, failed;
    picpq_status st;
    int rc;
    if (o->resume) {
        if ((rc = load_state(m, net)) != 0 || (rc = collect_pending(m)) != 0) return rc;
        if ((st = picpq_search_stats(m->s, &issued, &told, &failed, NULL)) != PICPQ_OK)
            return fail("stats", st);
        printf("resumed from %s: issued %lld told %lld failed %lld pending %lld\n", o->state,
               (long long)issued, (long long)told, (long long)failed, (long long)m->nredo);
    } else if (access(o->state, F_OK) == 0) {
        fprintf(stderr,
                "search_mpi[0]: %s exists: pass --resume to continue it, "
                "or remove it to start over\n",
                o->state);
        return 2;
    } else if ((st = picpq_search_create(net, (uint64_t)o->seed, &m->s)) != PICPQ_OK ||
               (st = picpq_search_set_int(m->s, PICPQ_SEARCH_GENERATIONS, o->generations)) !=
                   PICPQ_OK ||
               (st = picpq_search_set_int(m->s, PICPQ_SEARCH_POPULATION, o->population)) !=
                   PICPQ_OK ||
               (st = picpq_search_set_int(m->s, PICPQ_SEARCH_SAMPLE, o->sample)) != PICPQ_OK) {
        return fail("search", st);
    } else if (!save_state(m->s, o->state)) {
        return 1; /* the file exists from the start, so --resume always has one */
    }
    if ((st = picpq_search_get_int(m->s, PICPQ_SEARCH_GENERATIONS, &m->generations)) != PICPQ_OK)
        return fail("search", st);
    return 0;
}

/* The (a, b) of pending candidate id: the pending list shifts as tells
 * arrive, so look the id up rather than keeping an index. */
static picpq_status find_pending(const picpq_search *s, uint64_t id, work_msg *w)
{
    int64_t i, n = picpq_search_num_pending(s);
    picpq_status st;
    for (i = 0; i < n; i++)
        if ((st = picpq_search_pending(s, i, &w->id, w->a, w->b, SYNTH_NLAYERS)) != PICPQ_OK ||
            w->id == id)
            return st;
    return PICPQ_E_INTERNAL; /* cannot happen: only tells remove pending ids */
}

/* Send rank r its next candidate: re-dispatched ones first, then new asks.
 * Returns 1 sent, 0 nothing left to issue, -1 error. */
static int dispatch(master *m, int r)
{
    work_msg w;
    picpq_status st;
    if (m->next_redo < m->nredo) {
        st = find_pending(m->s, m->redo[m->next_redo++], &w);
        if (st == PICPQ_OK) printf("redispatch %llu\n", (unsigned long long)w.id);
    } else if ((st = picpq_search_ask(m->s, &w.id, w.a, w.b, SYNTH_NLAYERS)) == PICPQ_DONE) {
        return 0;
    }
    if (st != PICPQ_OK) return -fail("dispatch", st);
    if (MPI_Send(&w, (int)sizeof w, MPI_BYTE, r, TAG_WORK, MPI_COMM_WORLD) != MPI_SUCCESS)
        fprintf(stderr, "search_mpi[0]: warning: cannot reach rank %d: id %llu will time out\n", r,
                (unsigned long long)w.id);
    m->w[r].state = W_BUSY, m->w[r].id = w.id, m->w[r].since = now_s();
    return 1;
}

/* Tell, save, print; the caller's next dispatch to that worker is the ack. */
static int tell_and_save(master *m, uint64_t id, double loss)
{
    picpq_status st = picpq_search_tell(m->s, id, loss);
    if (st != PICPQ_OK) {
        fprintf(stderr, "search_mpi[0]: warning: tell %llu refused, result ignored: %s (%s)\n",
                (unsigned long long)id, picpq_status_string(st), picpq_last_error());
        return 1;
    }
    if (!save_state(m->s, m->o->state)) return 0;
    printf("told %llu %.9g\n", (unsigned long long)id, loss);
    fflush(stdout);
    return 1;
}

static int handle_result(master *m, int r, const result_msg *res, int bytes)
{
    worker *w = &m->w[r];
    if (bytes != (int)sizeof *res) {
        fprintf(stderr, "search_mpi[0]: warning: rank %d sent a malformed result: ignored\n", r);
    } else if (w->state == W_DEAD) {
        fprintf(stderr,
                "search_mpi[0]: warning: late result for id %llu from rank %d ignored "
                "(already told as failed); rank %d gets work again\n",
                (unsigned long long)res->id, r, r);
        w->state = W_IDLE;
    } else if (res->id != 0 && res->id == w->last_told) {
        fprintf(stderr, "search_mpi[0]: warning: rank %d reported id %llu a second time: ignored\n",
                r, (unsigned long long)res->id);
    } else if (w->state != W_BUSY || w->id != res->id) {
        fprintf(stderr,
                "search_mpi[0]: warning: rank %d reported id %llu, which it was not given: "
                "ignored\n",
                r, (unsigned long long)res->id);
    } else {
        w->state = W_IDLE, w->last_told = res->id;
        return tell_and_save(m, res->id, res->loss);
    }
    return 1;
}

/* A candidate out for longer than --eval-timeout is told as failed. */
static int check_timeouts(master *m)
{
    double t = now_s();
    int r;
    for (r = 1; r < m->size; r++) {
        worker *w = &m->w[r];
        if (w->state != W_BUSY || t - w->since <= m->o->eval_timeout) continue;
        fprintf(stderr,
                "search_mpi[0]: warning: rank %d gave no result for id %llu in %g s: told as "
                "failed, rank %d gets no more work\n",
                r, (unsigned long long)w->id, m->o->eval_timeout, r);
        w->state = W_DEAD;
        if (!tell_and_save(m, w->id, NAN)) return 0;
    }
    return 1;
}

/* Give work to idle workers; 1 if some candidate is still out. */
static int feed_workers(master *m, int *error)
{
    int r, busy = 0;
    for (r = 1; r < m->size; r++) {
        if (m->w[r].state == W_IDLE && dispatch(m, r) < 0) *error = 1;
        busy |= m->w[r].state == W_BUSY;
    }
    return busy;
}

static int search_loop(master *m)
{
    picpq_status st;
    int64_t told;
    for (;;) {
        MPI_Status status;
        result_msg res;
        int flag = 0, bytes, error = 0, busy = feed_workers(m, &error);
        if (error) return 1;
        if ((st = picpq_search_stats(m->s, NULL, &told, NULL, NULL)) != PICPQ_OK)
            return fail("stats", st);
        if (told == m->generations) return 0;
        if (!busy) { /* candidates remain, so every worker is marked dead */
            fprintf(
                stderr,
                "search_mpi[0]: no live worker left with %lld of %lld candidates told; the state "
                "is saved in %s: run again with --resume\n",
                (long long)told, (long long)m->generations, m->o->state);
            return 3;
        }
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_RESULT, MPI_COMM_WORLD, &flag, &status);
        if (flag) {
            MPI_Recv(&res, (int)sizeof res, MPI_BYTE, status.MPI_SOURCE, TAG_RESULT, MPI_COMM_WORLD,
                     &status);
            MPI_Get_count(&status, MPI_BYTE, &bytes);
            if (!handle_result(m, status.MPI_SOURCE, &res, bytes)) return 1;
        } else {
            if (!check_timeouts(m)) return 1;
            sleep_s(0.001);
        }
    }
}

static void stop_workers(int size)
{
    int r;
    for (r = 1; r < size; r++)
        if (MPI_Send(NULL, 0, MPI_BYTE, r, TAG_STOP, MPI_COMM_WORLD) != MPI_SUCCESS)
            fprintf(stderr, "search_mpi[0]: rank %d is gone: not stopped\n", r);
}

static int run_master(const options *o, const picpq_net *net, int size)
{
    master m;
    int64_t issued, told, failed;
    picpq_status st;
    double best;
    int rc;
    memset(&m, 0, sizeof m);
    m.o = o, m.size = size;
    printf("master pid %ld\n", (long)getpid());
    fflush(stdout);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD,
                            MPI_ERRORS_RETURN); /* a dead worker is not fatal here */
    if ((m.w = calloc((size_t)size, sizeof *m.w)) == NULL) rc = fail("master", PICPQ_E_NOMEM);
    else if ((rc = open_search(&m, net)) == 0) rc = search_loop(&m);
    stop_workers(size); /* a hung worker may still be alive: let it go when it wakes */
    if (rc == 0 && (st = picpq_search_stats(m.s, &issued, &told, &failed, &best)) != PICPQ_OK)
        rc = fail("stats", st);
    if (rc == 0) {
        printf("done: issued %lld told %lld failed %lld best %.9g\n", (long long)issued,
               (long long)told, (long long)failed, best);
    }
    free(m.redo);
    free(m.w);
    picpq_search_free(m.s);
    return rc;
}

int main(int argc, char **argv)
{
    options o;
    picpq_net *net = NULL;
    picpq_plan *plan = NULL;
    picpq_status st;
    int size, rc = 1;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (!parse_options(argc, argv, &o)) {
        rc = 1;
    } else if (size < 2) {
        fprintf(stderr, "search_mpi: needs at least 2 MPI processes (a master and a worker)\n");
    } else if ((st = synthetic_net(&net)) != PICPQ_OK ||
               (st = picpq_plan_create(net, &plan)) != PICPQ_OK) {
        rc = fail("net", st);
    } else {
        rc = g_rank == 0 ? run_master(&o, net, size) : run_worker(&o, net, plan);
    }
    picpq_plan_free(plan);
    picpq_net_free(net);
    fflush(stdout);
    if (rc == 3 || rc == 4) { /* peers may be gone or hung: do not wait for them in MPI_Finalize */
        fflush(stderr);
        _exit(rc);
    }
    MPI_Finalize();
    return rc;
}
