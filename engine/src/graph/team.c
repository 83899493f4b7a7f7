/* A session's worker team (bp_team, engine.h): the calling thread and
 * threads-1 workers share the items of one job through an atomic counter.
 * The caller never waits for a worker to arrive, only for items a worker has
 * already started, so a worker the OS has not scheduled yet (a loaded
 * machine) costs nothing: the caller runs its items. Jobs allocate nothing. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "engine.h"

typedef struct bp_team_worker {
    struct bp_team *t;
    unsigned slot;
    pthread_t th;
} bp_team_worker;

struct bp_team {
    pthread_mutex_t mu;
    pthread_cond_t wake;     /* a job was posted, or quit */
    pthread_cond_t idle;     /* busy dropped to 0 */
    unsigned n_workers;
    bp_team_worker *w;
    /* under mu */
    uint64_t gen;            /* job number */
    int open;                /* workers may still join the current job */
    int quit;
    unsigned busy;           /* workers inside the current job */
    bp_team_fn fn;
    void *ctx;
    size_t n;
    atomic_size_t next;      /* next unclaimed item */
    atomic_uint_fast64_t posted; /* gen, for workers spinning outside mu */
};

/* Workers poll this many times (about 0.1 ms of pause instructions) for the
 * next job before sleeping: steps follow each other within microseconds, a
 * futex wake-up takes longer. */
#define BP_TEAM_SPIN 2000

static void bp_team_items(bp_team *t, bp_team_fn fn, void *ctx, size_t n, unsigned slot)
{
    for (;;) {
        size_t i = atomic_fetch_add_explicit(&t->next, 1, memory_order_relaxed);
        if (i >= n) break;
        fn(ctx, i, slot);
    }
}

static void *bp_team_main(void *arg)
{
    bp_team_worker *w = arg;
    bp_team *t = w->t;
    uint64_t seen = 0;
    pthread_mutex_lock(&t->mu);
    for (;;) {
        if (t->quit) break;
        if (t->gen != seen) {
            seen = t->gen;
            if (t->open) {
                bp_team_fn fn = t->fn;
                void *ctx = t->ctx;
                size_t n = t->n;
                t->busy++;
                pthread_mutex_unlock(&t->mu);
                bp_team_items(t, fn, ctx, n, w->slot);
                pthread_mutex_lock(&t->mu);
                if (--t->busy == 0) pthread_cond_signal(&t->idle);
            }
            pthread_mutex_unlock(&t->mu);
            for (int k = 0; k < BP_TEAM_SPIN; k++) {
                if (atomic_load_explicit(&t->posted, memory_order_relaxed) != seen) break;
#if defined(__x86_64__) || defined(__i386__)
                __builtin_ia32_pause();
#endif
            }
            pthread_mutex_lock(&t->mu);
            continue;
        }
        pthread_cond_wait(&t->wake, &t->mu);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

void bp_team_run(bp_team *t, size_t n, bp_team_fn fn, void *ctx)
{
    if (!t || n <= 1) {
        for (size_t i = 0; i < n; i++) fn(ctx, i, 0);
        return;
    }
    pthread_mutex_lock(&t->mu);
    t->fn = fn;
    t->ctx = ctx;
    t->n = n;
    atomic_store_explicit(&t->next, 0, memory_order_relaxed);
    t->gen++;
    t->open = 1;
    atomic_store_explicit(&t->posted, t->gen, memory_order_relaxed);
    pthread_cond_broadcast(&t->wake);
    pthread_mutex_unlock(&t->mu);
    bp_team_items(t, fn, ctx, n, 0);
    /* all items are claimed; wait for those still running elsewhere (the
     * mutex orders their writes before the return) */
    pthread_mutex_lock(&t->mu);
    t->open = 0;
    while (t->busy) pthread_cond_wait(&t->idle, &t->mu);
    pthread_mutex_unlock(&t->mu);
}

unsigned bp_team_slots(const bp_team *t)
{
    return t ? t->n_workers + 1 : 1;
}

void bp_team_free(bp_team *t)
{
    if (!t) return;
    pthread_mutex_lock(&t->mu);
    t->quit = 1;
    pthread_cond_broadcast(&t->wake);
    pthread_mutex_unlock(&t->mu);
    for (unsigned i = 0; i < t->n_workers; i++) pthread_join(t->w[i].th, NULL);
    pthread_cond_destroy(&t->wake);
    pthread_cond_destroy(&t->idle);
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
    pthread_cond_init(&t->idle, NULL);
    atomic_init(&t->next, 0);
    atomic_init(&t->posted, 0);
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
