/* The registry of live public handles: each entry is the address of a model,
 * session or builder object and which kind it is. Every public entry point
 * looks a handle up here before it reads any field of the object, so NULL,
 * double free, pointers this library never returned and a handle passed as
 * another kind give a status instead of undefined behaviour.
 * Addresses are what the user holds, so a freed handle whose address now
 * belongs to a new object of the same kind is indistinguishable from it. */
#include <pthread.h>
#include <stdlib.h>

#include "engine.h"

typedef struct bp_handle_entry {
    const void *h;
    bp_handle_kind kind;
} bp_handle_entry;

static pthread_mutex_t bp_handles_lock = PTHREAD_MUTEX_INITIALIZER;
static bp_handle_entry *bp_handles;
static size_t bp_handles_n, bp_handles_cap;

static const char *bp_kind_name(bp_handle_kind k)
{
    return k == BP_HANDLE_MODEL ? "model" : k == BP_HANDLE_SESSION ? "session" : "builder";
}

/* Index of h, or SIZE_MAX; called with the lock held. */
static size_t bp_handle_find(const void *h)
{
    for (size_t i = 0; i < bp_handles_n; i++)
        if (bp_handles[i].h == h) return i;
    return SIZE_MAX;
}

int bp_handle_add(const void *h, bp_handle_kind kind)
{
    int ok = 1;
    pthread_mutex_lock(&bp_handles_lock);
    if (bp_handles_n == bp_handles_cap) {
        size_t cap = bp_handles_cap ? bp_handles_cap * 2 : 16;
        bp_handle_entry *r = realloc(bp_handles, cap * sizeof *r);
        if (r) {
            bp_handles = r;
            bp_handles_cap = cap;
        } else {
            ok = 0;
        }
    }
    if (ok) bp_handles[bp_handles_n++] = (bp_handle_entry){h, kind};
    pthread_mutex_unlock(&bp_handles_lock);
    return ok;
}

/* The failure message for h not being a live handle of this kind; k is the
 * kind h is registered as, or 0 if it is not registered at all. */
static bp_status bp_handle_fail(const void *h, bp_handle_kind want, int k, const char *fn)
{
    if (k)
        return bp_fail(BP_ERR_STATE, "%s: %p is a live %s handle, not a %s; nothing was "
                       "done", fn, h, bp_kind_name((bp_handle_kind)k), bp_kind_name(want));
    return bp_fail(BP_ERR_STATE, "%s: %s %p is not live (already freed, or not a handle "
                   "this library returned)", fn, bp_kind_name(want), h);
}

bp_status bp_handle_check(const void *h, bp_handle_kind kind, const char *fn)
{
    pthread_mutex_lock(&bp_handles_lock);
    size_t i = bp_handle_find(h);
    int k = i == SIZE_MAX ? 0 : (int)bp_handles[i].kind;
    pthread_mutex_unlock(&bp_handles_lock);
    if (k == (int)kind) return BP_OK;
    return bp_handle_fail(h, kind, k, fn);
}

bp_status bp_handle_remove(const void *h, bp_handle_kind kind, const char *fn)
{
    pthread_mutex_lock(&bp_handles_lock);
    size_t i = bp_handle_find(h);
    int k = i == SIZE_MAX ? 0 : (int)bp_handles[i].kind;
    if (k == (int)kind) {
        bp_handles[i] = bp_handles[--bp_handles_n];
        if (bp_handles_n == 0) { /* nothing live: leave no allocation behind */
            free(bp_handles);
            bp_handles = NULL;
            bp_handles_cap = 0;
        }
    }
    pthread_mutex_unlock(&bp_handles_lock);
    if (k == (int)kind) return BP_OK;
    return bp_handle_fail(h, kind, k, fn);
}
