/* Concurrency: many threads create sessions on ONE shared model at once
 * (mixed backends), run them repeatedly, and must get exactly the outputs of
 * a serial run. Usage: test_concurrency [threads=8] [iterations=4]
 * [session_threads=2]. Also run under valgrind --tool=helgrind (see
 * meson.build: ThreadSanitizer reports false races inside the uninstrumented
 * libgomp, so helgrind with single-threaded sessions is used instead). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_builders.h"
#include "test_helpers.h"

#define MAX_WORKERS 64
#define N_INPUTS 4

static int g_workers = 8, g_iters = 4, g_sthreads = 2;
static uint64_t g_seed;
static bp_model *g_model;
static float *g_in[N_INPUTS];
static float *g_expect[N_INPUTS];
static size_t g_nout;

typedef struct worker {
    int id;
    int failures;
    char msg[256];
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    static const char *const backends[] = {"bitplane", "csr", "reference"};
    bp_session_opts o;
    bp_session_opts_init(&o);
    o.backend = backends[w->id % 3];
    o.threads = g_sthreads;
    bp_session *s = NULL;
    bp_status st = bp_session_create(g_model, &o, &s);
    if (st) {
        snprintf(w->msg, sizeof w->msg, "create: %s", bp_last_error());
        w->failures++;
        return NULL;
    }
    const bp_model_info *mi;
    bp_model_info_get(g_model, &mi);
    float *y = malloc(g_nout * sizeof(float));
    float *outs[8];
    size_t off = 0;
    for (uint32_t i = 0; i < mi->n_outputs; i++) {
        outs[i] = y + off;
        size_t e = 1;
        for (uint32_t d = 1; d < mi->outputs[i].ndim; d++) e *= mi->outputs[i].dims[d];
        off += e;
    }
    for (int it = 0; it < g_iters; it++) {
        int k = (w->id + it) % N_INPUTS;
        const float *ins[1] = {g_in[k]};
        memset(y, 0xff, g_nout * sizeof(float));
        st = bp_session_run(s, ins, outs);
        if (st || bpt_first_diff(y, g_expect[k], g_nout) >= 0) {
            snprintf(w->msg, sizeof w->msg, "%s iteration %d input %d: %s", o.backend, it, k,
                     st ? bp_last_error() : "output differs from the serial run");
            w->failures++;
        }
    }
    free(y);
    bp_session_free(s);
    return NULL;
}

static void test_shared_model(void **state)
{
    (void)state;
    void *buf = NULL;
    size_t size = 0;
    assert_int_equal(bpt_build_convnext(g_seed, 0.8, 1, &buf, &size), 0);
    assert_int_equal(bp_model_load_memory(buf, size, NULL, &g_model), BP_OK);
    size_t ne = bpt_input_elems(g_model, 0, 1);
    for (int k = 0; k < N_INPUTS; k++) {
        g_in[k] = malloc(ne * sizeof(float));
        uint64_t r = g_seed + (uint64_t)k;
        bpt_fill_uniform(&r, g_in[k], ne, -1, 1);
        const float *ins[1] = {g_in[k]};
        bp_status st;
        g_expect[k] = bpt_run(g_model, "reference", 1, 1, ins, &g_nout, &st);
        assert_non_null(g_expect[k]);
    }
    pthread_t th[MAX_WORKERS];
    worker ws[MAX_WORKERS];
    for (int i = 0; i < g_workers; i++) {
        memset(&ws[i], 0, sizeof ws[i]);
        ws[i].id = i;
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &ws[i]), 0);
    }
    int fails = 0;
    for (int i = 0; i < g_workers; i++) {
        pthread_join(th[i], NULL);
        if (ws[i].failures) printf("  worker %d: %d failures, last: %s\n", i, ws[i].failures,
                                   ws[i].msg);
        fails += ws[i].failures;
    }
    printf("  %d workers x %d runs (session threads %d): %d failures\n", g_workers, g_iters,
           g_sthreads, fails);
    assert_int_equal(fails, 0);
    for (int k = 0; k < N_INPUTS; k++) {
        free(g_in[k]);
        free(g_expect[k]);
    }
    bp_model_free(g_model);
    free(buf);
}

int main(int argc, char **argv)
{
    if (argc > 1) g_workers = atoi(argv[1]);
    if (argc > 2) g_iters = atoi(argv[2]);
    if (argc > 3) g_sthreads = atoi(argv[3]);
    if (g_workers < 1 || g_workers > MAX_WORKERS) g_workers = 8;
    if (g_iters < 1) g_iters = 1;
    if (g_sthreads < 1) g_sthreads = 1;
    g_seed = bpt_test_seed("engine_concurrency");
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_shared_model)};
    return cmocka_run_group_tests_name("engine_concurrency", tests, NULL, NULL);
}
