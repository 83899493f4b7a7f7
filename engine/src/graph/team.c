/* A session's worker team (bp_team, engine.h): the calling thread and
 * threads-1 workers share the items of one job through an atomic counter.
 * The caller never waits for a worker to arrive, only for items a worker has
 * already started, so a worker the OS has not scheduled yet (a loaded
 * machine) costs nothing: the caller runs its items. Jobs allocate nothing.
 *
 * Hand-offs avoid the kernel: a job is posted by one atomic store, workers
 * spin on it for a while before sleeping, and the caller spins for workers
 * still inside the job. A futex wake-up of an idle CPU costs tens of
 * microseconds under a hypervisor, about the length of a small layer. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "engine.h"

typedef struct bp_team_worker {
    struct bp_team *t;
    unsigned slot;
    pthread_t th;
} bp_team_worker;

struct bp_team {
    unsigned n_workers;
    bp_team_worker *w;
    /* The job: written by the caller before it publishes `posted`, read by a
     * worker after it has joined (busy counted, job still open). */
    bp_team_fn fn;
    void *ctx;
    size_t n;
    atomic_size_t next;      /* next unclaimed item */
    atomic_uint_fast64_t posted; /* job number */
    atomic_int open;         /* workers may still join the current job */
    atomic_uint busy;        /* workers inside the current job */
    atomic_uint sleepers;    /* workers in (or about to enter) cond_wait */
    atomic_int quit;
    pthread_mutex_t mu;      /* only for sleeping and waking */
    pthread_cond_t wake;
};

/* Workers poll this many times (about 0.1 ms of pause instructions) for the
 * next job before sleeping: steps follow each other within microseconds. */
#define BP_TEAM_SPIN 2000
/* The caller polls for busy workers this many times before yielding its
 * CPU between polls. */
#define BP_TEAM_WAIT_SPIN 20000

static inline void bp_team_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Items are claimed in chunks of 1/(4*threads) of what was left when the
 * thread looked, at least 1 and at most BP_TEAM_CHUNK: jobs of hundreds of
 * small items (a depthwise layer's channels) pay an atomic on a shared line
 * per chunk, not per item; the cap keeps what a preempted thread holds small,
 * and the last items still go one by one for balance. The stale read only
 * sizes the chunk: fetch_add makes the claims disjoint. */
#define BP_TEAM_CHUNK 8
static void bp_team_items(bp_team *t, bp_team_fn fn, void *ctx, size_t n, unsigned slot)
{
    const size_t div = 4 * ((size_t)t->n_workers + 1);
    for (;;) {
        size_t seen = atomic_load_explicit(&t->next, memory_order_relaxed);
        if (seen >= n) break;
        size_t c = (n - seen) / div;
        c = c < 1 ? 1 : c > BP_TEAM_CHUNK ? BP_TEAM_CHUNK : c;
        size_t i = atomic_fetch_add_explicit(&t->next, c, memory_order_relaxed);
        if (i >= n) break;
        size_t e = n - i < c ? n : i + c;
        for (; i < e; i++) fn(ctx, i, slot);
    }
}

static void *bp_team_main(void *arg)
{
    bp_team_worker *w = arg;
    bp_team *t = w->t;
    uint64_t seen = 0;
    for (;;) {
        uint64_t g = atomic_load(&t->posted);
        for (int k = 0; g == seen && k < BP_TEAM_SPIN; k++) {
            bp_team_pause();
            g = atomic_load(&t->posted);
        }
        if (g == seen) {
            /* Sleep. The caller stores `posted` then reads `sleepers`; this
             * thread counts itself in `sleepers` then reads `posted` (all
             * sequentially consistent): one of the two sees the other. */
            pthread_mutex_lock(&t->mu);
            atomic_fetch_add(&t->sleepers, 1);
            while ((g = atomic_load(&t->posted)) == seen && !atomic_load(&t->quit))
                pthread_cond_wait(&t->wake, &t->mu);
            atomic_fetch_sub(&t->sleepers, 1);
            pthread_mutex_unlock(&t->mu);
        }
        if (atomic_load(&t->quit)) break;
        if (g == seen) continue;
        seen = g;
        /* Join: count in `busy`, then check the job is still open and still
         * job g. The caller closes the job then waits for busy == 0, so a
         * worker that sees it open is waited for, and one that does not
         * leaves without touching it. */
        atomic_fetch_add(&t->busy, 1);
        if (atomic_load(&t->open) && atomic_load(&t->posted) == g)
            bp_team_items(t, t->fn, t->ctx, t->n, w->slot);
        atomic_fetch_sub_explicit(&t->busy, 1, memory_order_release);
    }
    return NULL;
}

void bp_team_run(bp_team *t, size_t n, bp_team_fn fn, void *ctx)
{
    if (!t || n <= 1) {
        for (size_t i = 0; i < n; i++) fn(ctx, i, 0);
        return;
    }
    t->fn = fn;
    t->ctx = ctx;
    t->n = n;
    atomic_store_explicit(&t->next, 0, memory_order_relaxed);
    atomic_store(&t->open, 1);
    atomic_fetch_add(&t->posted, 1);
    if (atomic_load(&t->sleepers)) {
        pthread_mutex_lock(&t->mu);
        pthread_cond_broadcast(&t->wake);
        pthread_mutex_unlock(&t->mu);
    }
    bp_team_items(t, fn, ctx, n, 0);
    /* All items are claimed: close the job and wait for the workers still
     * running items (the acquire pairs with their release: their writes are
     * visible on return). */
    atomic_store(&t->open, 0);
    for (unsigned k = 0; atomic_load_explicit(&t->busy, memory_order_acquire); k++) {
        if (k < BP_TEAM_WAIT_SPIN)
            bp_team_pause();
        else
            sched_yield();
    }
}

unsigned bp_team_slots(const bp_team *t)
{
    return t ? t->n_workers + 1 : 1;
}

void bp_team_free(bp_team *t)
{
    if (!t) return;
    pthread_mutex_lock(&t->mu);
    atomic_store(&t->quit, 1);
    pthread_cond_broadcast(&t->wake);
    pthread_mutex_unlock(&t->mu);
    for (unsigned i = 0; i < t->n_workers; i++) pthread_join(t->w[i].th, NULL);
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->mu);
    free(t->w);
    free(t);
}

bp_status bp_team_new(int threads, bp_team **out)
{
    *out = NULL;
    if (threads <= 1) return BP_OK;
    bp_team *t = calloc(1, sizeof *t);
    if (!t) return bp_fail(BP_ERR_NOMEM, "session: out of memory for its worker team");
    t->w = calloc((size_t)threads - 1, sizeof *t->w);
    if (!t->w || pthread_mutex_init(&t->mu, NULL)) {
        free(t->w);
        free(t);
        return bp_fail(BP_ERR_NOMEM, "session: out of memory for its worker team");
    }
    pthread_cond_init(&t->wake, NULL);
    atomic_init(&t->next, 0);
    atomic_init(&t->posted, 0);
    atomic_init(&t->open, 0);
    atomic_init(&t->busy, 0);
    atomic_init(&t->sleepers, 0);
    atomic_init(&t->quit, 0);
    for (int i = 0; i < threads - 1; i++) {
        t->w[i].t = t;
        t->w[i].slot = (unsigned)i + 1;
        if (pthread_create(&t->w[i].th, NULL, bp_team_main, &t->w[i])) {
            bp_team_free(t);
            return bp_fail(BP_ERR_NOMEM, "session: cannot start worker thread %d of %d", i + 1,
                           threads - 1);
        }
        t->n_workers++;
    }
    *out = t;
    return BP_OK;
}
