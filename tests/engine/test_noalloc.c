/* Allocations inside bp_session_run, per backend. This executable interposes
 * malloc/calloc/realloc/aligned_alloc/memalign/posix_memalign/free (glibc's __libc_*
 * entry points underneath) and counts calls made while runs are in progress,
 * on every thread, after warm-up runs (which let libgomp build its thread
 * pool). The integer backends must allocate nothing. The oneDNN backends
 * allocate inside oneDNN's execute; for them the test asserts what the
 * header promises: every byte allocated during a run is freed before it
 * returns, and the count does not grow from run to run. Not built under
 * sanitizers (they own malloc). */
#include <malloc.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_builders.h"
#include "test_helpers.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

/* The project builds with -fvisibility=hidden: without this the
 * interposers would only catch calls from this executable (and the static
 * engine in it), not from libgomp, libdnnl or libstdc++. */
#define BPT_EXPORT __attribute__((visibility("default")))

static atomic_int g_counting;
static atomic_long g_allocs, g_frees;
static atomic_llong g_net; /* usable bytes allocated minus freed while counting */

static void *noted(void *p)
{
    if (p && atomic_load(&g_counting)) {
        atomic_fetch_add(&g_allocs, 1);
        atomic_fetch_add(&g_net, (long long)malloc_usable_size(p));
    }
    return p;
}

static void note_free(void *p)
{
    if (p && atomic_load(&g_counting)) {
        atomic_fetch_add(&g_frees, 1);
        atomic_fetch_sub(&g_net, (long long)malloc_usable_size(p));
    }
}

BPT_EXPORT void *malloc(size_t n)
{
    return noted(__libc_malloc(n));
}
BPT_EXPORT void *calloc(size_t a, size_t b)
{
    return noted(__libc_calloc(a, b));
}
BPT_EXPORT void *realloc(void *p, size_t n)
{
    note_free(p);
    return noted(__libc_realloc(p, n));
}
BPT_EXPORT void *aligned_alloc(size_t al, size_t n)
{
    return noted(__libc_memalign(al, n));
}
BPT_EXPORT void *memalign(size_t al, size_t n) /* libgomp's teams */
{
    return noted(__libc_memalign(al, n));
}
BPT_EXPORT int posix_memalign(void **p, size_t al, size_t n)
{
    *p = noted(__libc_memalign(al, n));
    return *p ? 0 : 12;
}
BPT_EXPORT void free(void *p)
{
    note_free(p);
    __libc_free(p);
}

typedef struct bpt_counts {
    long allocs, frees;
    long long net;
} bpt_counts;

static void counting_start(void)
{
    atomic_store(&g_allocs, 0);
    atomic_store(&g_frees, 0);
    atomic_store(&g_net, 0);
    atomic_store(&g_counting, 1);
}

static bpt_counts counting_stop(void)
{
    atomic_store(&g_counting, 0);
    bpt_counts c = {atomic_load(&g_allocs), atomic_load(&g_frees), atomic_load(&g_net)};
    return c;
}

static uint64_t g_seed;

#define BPT_RUNS 6

/* Returns 0 if the backend is not built here (skipped), else 1. */
static int check(int convnext, const char *backend, int threads, uint32_t batch)
{
    void *buf;
    size_t size;
    assert_int_equal(convnext ? bpt_build_convnext(g_seed, 0.6, 1, &buf, &size)
                              : bpt_build_resnet(g_seed, 0.6, 0, &buf, &size), 0);
    bp_model *m;
    assert_int_equal(bp_model_load_memory(buf, size, NULL, &m), BP_OK);
    const bp_model_info *mi;
    bp_model_info_get(m, &mi);
    bp_session_opts o;
    bp_session_opts_init(&o);
    o.backend = backend;
    o.threads = threads;
    o.batch = batch;
    bp_session *s;
    bp_status cst = bp_session_create(m, &o, &s);
    if (cst == BP_ERR_UNSUPPORTED) {
        printf("  %s: not built here, skipped\n", backend);
        bp_model_free(m);
        free(buf);
        return 0;
    }
    assert_int_equal(cst, BP_OK);
    size_t ne = bpt_input_elems(m, 0, batch), no = bpt_output_elems(m, batch);
    float *x = malloc(ne * sizeof(float)), *y = malloc(no * sizeof(float));
    uint64_t r = g_seed;
    bpt_fill_uniform(&r, x, ne, -1, 1);
    float *outs[8];
    size_t off = 0;
    for (uint32_t i = 0; i < mi->n_outputs; i++) {
        outs[i] = y + off;
        size_t e = batch;
        for (uint32_t d = 1; d < mi->outputs[i].ndim; d++) e *= mi->outputs[i].dims[d];
        off += e;
    }
    const float *ins[1] = {x};
    for (int i = 0; i < 2; i++) /* warm-up */
        assert_int_equal(bp_session_run(s, ins, outs), BP_OK);
    assert_int_equal(bp_session_set_profiling(s, 1), BP_OK);
    bpt_counts c[BPT_RUNS];
    for (int i = 0; i < BPT_RUNS; i++) {
        counting_start();
        bp_status st = bp_session_run(s, ins, outs);
        c[i] = counting_stop();
        assert_int_equal(st, BP_OK);
    }
    printf("  %s %-11s threads %d batch %u: allocations per run", convnext ? "convnext" : "resnet",
           backend, threads, batch);
    for (int i = 0; i < BPT_RUNS; i++) printf(" %ld", c[i].allocs);
    printf(" (frees %ld, net bytes %lld in the last)\n", c[BPT_RUNS - 1].frees,
           c[BPT_RUNS - 1].net);
    int onednn = !strncmp(backend, "onednn", 6);
    for (int i = 0; i < BPT_RUNS; i++) {
        if (!onednn) { /* nothing at all */
            assert_int_equal(c[i].allocs, 0);
            assert_int_equal(c[i].frees, 0);
        } else { /* all freed within the run; no growth across runs */
            assert_int_equal(c[i].net, 0);
            assert_int_equal(c[i].frees, c[i].allocs);
            assert_true(c[i].allocs <= c[0].allocs);
        }
    }
    /* the counters work: an allocation and a free while counting are seen */
    void *(*volatile alloc)(size_t) = malloc; /* volatile: -Os would drop a plain malloc/free pair */
    counting_start();
    free(alloc(100));
    bpt_counts t = counting_stop();
    assert_int_equal(t.allocs, 1);
    assert_int_equal(t.frees, 1);
    assert_int_equal(t.net, 0);
    bp_session_free(s);
    bp_model_free(m);
    free(x);
    free(y);
    free(buf);
    return 1;
}

static void test_no_alloc_integer_backends(void **state)
{
    (void)state;
    check(0, "bitplane", 2, 1);
    check(0, "csr", 1, 3);
    check(0, "reference", 1, 1);
    check(1, "reference", 2, 2);
    check(1, "bitplane", 1, 1);
    check(1, "csr", 2, 2);
    check(0, "bitplane", 4, 2);
}

static void test_onednn_allocations_bounded(void **state)
{
    (void)state;
    if (!check(0, "onednn-int8", 2, 1)) skip();
    check(0, "onednn-f32", 1, 3);
    check(1, "onednn-int8", 1, 2);
    check(1, "onednn-f32", 2, 1);
}

int main(void)
{
    g_seed = bpt_test_seed("engine_noalloc");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_alloc_integer_backends),
        cmocka_unit_test(test_onednn_allocations_bounded),
    };
    return cmocka_run_group_tests_name("engine_noalloc", tests, NULL, NULL);
}
