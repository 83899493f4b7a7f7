/* "Nothing is allocated inside bp_session_run": this executable interposes
 * malloc/calloc/realloc/aligned_alloc/posix_memalign (glibc's __libc_*
 * entry points underneath) and counts calls made while runs are in
 * progress, on every thread, after one warm-up run (which lets libgomp
 * build its thread pool). Not built under sanitizers (they own malloc). */
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

static atomic_int g_counting;
static atomic_long g_allocs;

static void note(void)
{
    if (atomic_load(&g_counting)) atomic_fetch_add(&g_allocs, 1);
}

void *malloc(size_t n)
{
    note();
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b)
{
    note();
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n)
{
    note();
    return __libc_realloc(p, n);
}
void *aligned_alloc(size_t al, size_t n)
{
    note();
    return __libc_memalign(al, n);
}
int posix_memalign(void **p, size_t al, size_t n)
{
    note();
    *p = __libc_memalign(al, n);
    return *p ? 0 : 12;
}

static uint64_t g_seed;

static void check(int convnext, const char *backend, int threads, uint32_t batch)
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
    bp_session_opts_default(&o);
    o.backend = backend;
    o.threads = threads;
    o.batch = batch;
    bp_session *s;
    assert_int_equal(bp_session_create(m, &o, &s), BP_OK);
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
    assert_int_equal(bp_session_run(s, ins, outs), BP_OK); /* warm-up */
    assert_int_equal(bp_session_set_profiling(s, 1), BP_OK);
    atomic_store(&g_allocs, 0);
    atomic_store(&g_counting, 1);
    for (int i = 0; i < 3; i++) assert_int_equal(bp_session_run(s, ins, outs), BP_OK);
    atomic_store(&g_counting, 0);
    long n = atomic_load(&g_allocs);
    printf("  %s %s threads %d batch %u: %ld allocations in 3 runs\n",
           convnext ? "convnext" : "resnet", backend, threads, batch, n);
    assert_int_equal(n, 0);
    /* the counter works: an allocation while counting is seen (through a
     * volatile pointer: -Os would drop a plain malloc/free pair) */
    void *(*volatile alloc)(size_t) = malloc;
    atomic_store(&g_counting, 1);
    free(alloc(16));
    atomic_store(&g_counting, 0);
    assert_int_equal(atomic_load(&g_allocs), 1);
    bp_session_free(s);
    bp_model_free(m);
    free(x);
    free(y);
    free(buf);
}

static void test_no_alloc_in_run(void **state)
{
    (void)state;
    check(0, "bitplane", 2, 1);
    check(0, "csr", 1, 3);
    check(1, "reference", 2, 2);
    check(1, "bitplane", 1, 1);
}

int main(void)
{
    g_seed = bpt_test_seed("engine_noalloc");
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_no_alloc_in_run)};
    return cmocka_run_group_tests_name("engine_noalloc", tests, NULL, NULL);
}
