/* The registry of live public handles (models and sessions). A handle is
 * checked here before it is dereferenced, so use after free, double free and
 * foreign pointers give BP_ERR_STATE instead of undefined behaviour. */
#include <pthread.h>
#include <stdlib.h>

#include "engine.h"

static pthread_mutex_t bp_handles_lock = PTHREAD_MUTEX_INITIALIZER;
static const void **bp_handles;
static size_t bp_handles_n, bp_handles_cap;

int bp_handle_add(const void *h)
{
    int ok = 1;
    pthread_mutex_lock(&bp_handles_lock);
    if (bp_handles_n == bp_handles_cap) {
        size_t cap = bp_handles_cap ? bp_handles_cap * 2 : 16;
        const void **r = realloc((void *)bp_handles, cap * sizeof *r);
        if (r) {
            bp_handles = r;
            bp_handles_cap = cap;
        } else {
            ok = 0;
        }
    }
    if (ok) bp_handles[bp_handles_n++] = h;
    pthread_mutex_unlock(&bp_handles_lock);
    return ok;
}

int bp_handle_remove(const void *h)
{
    int found = 0;
    pthread_mutex_lock(&bp_handles_lock);
    for (size_t i = 0; i < bp_handles_n; i++)
        if (bp_handles[i] == h) {
            bp_handles[i] = bp_handles[--bp_handles_n];
            found = 1;
            break;
        }
    if (bp_handles_n == 0) { /* nothing live: leave no allocation behind */
        free((void *)bp_handles);
        bp_handles = NULL;
        bp_handles_cap = 0;
    }
    pthread_mutex_unlock(&bp_handles_lock);
    return found;
}

int bp_handle_live(const void *h)
{
    int found = 0;
    pthread_mutex_lock(&bp_handles_lock);
    for (size_t i = 0; i < bp_handles_n && !found; i++) found = bp_handles[i] == h;
    pthread_mutex_unlock(&bp_handles_lock);
    return found;
}
