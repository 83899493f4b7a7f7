/* Model loading: the file is read into owned memory (replacing or truncating
 * it under a live model changes nothing), mmap is an opt-in, non-regular
 * files are refused without blocking, loading costs time and memory bounded
 * by the file (huge layers described by few digits, arrays shared between
 * layers), and the derived weight forms built on first use equal those of
 * the dense matrix, also when sessions on many threads build them at once. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bpf_testmodel.h"
#include "engine.h"
#include "model_builders.h"
#include "test_helpers.h"

static uint64_t g_seed;
static char g_dir[64];

static void expect_msg(const char *needle)
{
    if (!strstr(bp_last_error(), needle))
        fail_msg("message '%s' lacks '%s'", bp_last_error(), needle);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Resident set size in bytes, or 0 if /proc is not readable. */
static uint64_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long size = 0, res = 0;
    int n = fscanf(f, "%lu %lu", &size, &res);
    fclose(f);
    return n == 2 ? (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

static void write_bytes(const char *path, const void *buf, size_t size)
{
    /* as cp onto an existing file does: same inode, truncated, rewritten */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, size), (ssize_t)size);
    assert_int_equal(close(fd), 0);
}

/* A small net with sparse and dense rows, binary and csd layers, a grouped
 * conv: x(1,16,10,10) -> conv3x3 -> relu -> grouped conv3x3 -> gap ->
 * flatten -> linear(10). */
static void build_net(uint64_t seed, void **buf, size_t *size)
{
    bpt_builder *b = bpt_new(seed, (bpt_wspec){0.05, BPF_ENC_BINARY, 1});
    uint32_t d[4] = {1, 16, 10, 10};
    uint32_t t = bpt_input(b, "x", 4, d);
    t = bpt_conv(b, "c1", t, 24, 3, 3, 1, 1, 1, 1, 0);
    t = bpt_relu(b, t);
    bpt_set_wspec(b, (bpt_wspec){0.8, BPF_ENC_CSD, 1});
    t = bpt_conv(b, "c2", t, 24, 3, 3, 1, 1, 1, 4, 0);
    t = bpt_gap(b, t);
    t = bpt_flatten(b, t);
    bpt_set_wspec(b, (bpt_wspec){0.3, BPF_ENC_CSD, 0});
    t = bpt_linear(b, "fc", t, 10, 1);
    bpt_output(b, t);
    assert_int_equal(bpt_write(b, buf, size), 0);
    bpt_free(b);
}

static const char *const k_backends[] = {"bitplane", "csr", "reference"};

/* Runs m on every integer backend and checks each output against expect. */
static void run_all(const bp_model *m, const float *x, const float *expect, size_t n_expect)
{
    for (size_t i = 0; i < sizeof k_backends / sizeof k_backends[0]; i++) {
        const float *ins[1] = {x};
        size_t n = 0;
        bp_status st;
        float *y = bpt_run(m, k_backends[i], 1, 1, ins, &n, &st);
        assert_non_null(y);
        assert_int_equal(n, n_expect);
        if (bpt_first_diff(y, expect, n) >= 0)
            fail_msg("%s: output differs from the model loaded from memory", k_backends[i]);
        free(y);
    }
}

/* Replacing the model file in place (as cp does) with another valid model,
 * then truncating it to 0 bytes, while the model and a session live: runs
 * give the same outputs, and sessions created afterwards too. With the file
 * mapped this was SIGBUS / out-of-bounds reads in the bitplane kernel. */
static void test_file_replaced_while_loaded(void **state)
{
    (void)state;
    void *a, *b;
    size_t asz, bsz;
    build_net(g_seed, &a, &asz);
    build_net(g_seed + 1, &b, &bsz);
    char path[96];
    snprintf(path, sizeof path, "%s/model.bp", g_dir);
    write_bytes(path, a, asz);

    bp_model *ref = NULL;
    assert_int_equal(bp_model_load_memory(a, asz, NULL, &ref), BP_OK);
    size_t ne = bpt_input_elems(ref, 0, 1), n_out = 0;
    float *x = malloc(ne * sizeof(float));
    uint64_t r = g_seed + 5;
    bpt_fill_uniform(&r, x, ne, -1.0f, 4.0f);
    const float *ins[1] = {x};
    bp_status st;
    float *expect = bpt_run(ref, "reference", 1, 1, ins, &n_out, &st);
    assert_non_null(expect);
    bp_model_free(ref);

    bp_model *m = NULL;
    assert_int_equal(bp_model_load_file(path, NULL, &m), BP_OK);
    bp_session *s = NULL;
    assert_int_equal(bp_session_create(m, NULL, &s), BP_OK); /* bitplane */
    float *y = malloc(n_out * sizeof(float));
    float *outs[1] = {y};
    assert_int_equal(bp_session_run(s, ins, outs), BP_OK);
    assert_true(bpt_first_diff(y, expect, n_out) < 0);

    write_bytes(path, b, bsz);
    memset(y, 0xff, n_out * sizeof(float));
    assert_int_equal(bp_session_run(s, ins, outs), BP_OK);
    assert_true(bpt_first_diff(y, expect, n_out) < 0);

    assert_int_equal(truncate(path, 0), 0);
    memset(y, 0xff, n_out * sizeof(float));
    assert_int_equal(bp_session_run(s, ins, outs), BP_OK);
    assert_true(bpt_first_diff(y, expect, n_out) < 0);
    run_all(m, x, expect, n_out); /* new sessions build csr/dense from the copy */

    bp_session_free(s);
    bp_model_free(m);
    unlink(path);
    free(y);
    free(expect);
    free(x);
    free(a);
    free(b);
}

/* opts.mmap = 1 maps the file: it loads and runs like the default (the file
 * is left alone: changing it under the mapping is undefined by contract).
 * The default is 0; values other than 0 and 1 are refused. */
static void test_mmap_opt_in(void **state)
{
    (void)state;
    void *a;
    size_t asz;
    build_net(g_seed + 2, &a, &asz);
    char path[96];
    snprintf(path, sizeof path, "%s/mapped.bp", g_dir);
    write_bytes(path, a, asz);
    bp_model_opts o;
    memset(&o, 0x5a, sizeof o);
    bp_model_opts_init(&o);
    assert_int_equal(o.mmap, 0);
    assert_int_equal(o.verify_checksums, 1);

    bp_model *ref = NULL;
    assert_int_equal(bp_model_load_memory(a, asz, NULL, &ref), BP_OK);
    size_t ne = bpt_input_elems(ref, 0, 1), n_out = 0;
    float *x = malloc(ne * sizeof(float));
    uint64_t r = g_seed + 6;
    bpt_fill_uniform(&r, x, ne, -1.0f, 4.0f);
    const float *ins[1] = {x};
    bp_status st;
    float *expect = bpt_run(ref, "reference", 1, 1, ins, &n_out, &st);
    assert_non_null(expect);
    bp_model_free(ref);

    o.mmap = 1;
    bp_model *m = NULL;
    assert_int_equal(bp_model_load_file(path, &o, &m), BP_OK);
    run_all(m, x, expect, n_out);
    bp_model_free(m);
    o.verify_checksums = 0;
    assert_int_equal(bp_model_load_file(path, &o, &m), BP_OK);
    run_all(m, x, expect, n_out);
    bp_model_free(m);

    o.mmap = 2;
    m = (bp_model *)&m;
    assert_int_equal(bp_model_load_file(path, &o, &m), BP_ERR_INVALID_ARG);
    assert_null(m);
    expect_msg("mmap");
    unlink(path);
    free(expect);
    free(x);
    free(a);
}

/* A FIFO (which used to block open() forever), a directory and a character
 * device are refused at once with BP_ERR_IO naming the path and its kind. */
static void test_not_regular_files(void **state)
{
    (void)state;
    char fifo[96];
    snprintf(fifo, sizeof fifo, "%s/model.fifo", g_dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    const struct {
        const char *path, *kind;
    } cases[] = {{fifo, "a FIFO"}, {g_dir, "a directory"}, {"/dev/null", "a character device"}};
    alarm(20); /* a hang ends the test */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (access(cases[i].path, F_OK) != 0) continue;
        for (int mm = 0; mm <= 1; mm++) {
            bp_model_opts o;
            bp_model_opts_init(&o);
            o.mmap = mm;
            bp_model *m = (bp_model *)&m;
            assert_int_equal(bp_model_load_file(cases[i].path, &o, &m), BP_ERR_IO);
            assert_null(m);
            expect_msg(cases[i].path);
            expect_msg(cases[i].kind);
        }
    }
    alarm(0);
    unlink(fifo);
}

/* Expected output of bpft_write_identity_chain's model, computed here: every
 * value is a small dyadic rational, so float arithmetic is exact and the
 * u8 quantization (round half to even, saturate) is reproduced exactly. */
static void identity_chain_expect(uint32_t n_layers, uint32_t width, const float *x, float *y)
{
    for (uint32_t j = 0; j < width; j++) y[j] = x[j];
    for (uint32_t l = 0; l < n_layers; l++)
        for (uint32_t j = 0; j < width; j++) {
            double q = nearbyint((double)y[j] * 16.0);
            q = q < 0 ? 0 : q > 255 ? 255 : q;
            double ws = 0.5 + 0.25 * (double)(j % 3), b = 0.125 * (double)(j % 7) - 0.25;
            y[j] = (float)(q * (ws / 16.0) + b);
        }
}

/* Eight 32768 x 32768 layers (2^33 weights) described by one set of shared
 * arrays in a ~600 KB file: loading takes milliseconds and a few MB (it used
 * to build 16 GB of dense weights), the info is exact, bitplane and csr run
 * it, and the dense backends refuse it with BP_ERR_LIMIT before allocating.
 * Forty such layers exceed the load budget: BP_ERR_LIMIT, also at once. */
static void test_huge_shared_layers(void **state)
{
    (void)state;
    const uint32_t width = 32768, nl = 8;
    size_t size;
    uint8_t *buf = bpft_write_identity_chain(nl, width, &size);
    bpft_share_layer_arrays(buf, &size);
    char path[96];
    snprintf(path, sizeof path, "%s/huge.bp", g_dir);
    write_bytes(path, buf, size);

    uint64_t rss0 = rss_bytes();
    double t0 = now_s();
    bp_model *m = NULL;
    assert_int_equal(bp_model_load_file(path, NULL, &m), BP_OK);
    double dt = now_s() - t0;
    uint64_t rss1 = rss_bytes();
    printf("  %zu-byte file, %u layers of %ux%u: loaded in %.3f s, RSS +%.1f MB\n", size, nl,
           width, width, dt, rss0 && rss1 > rss0 ? (double)(rss1 - rss0) / 1e6 : 0.0);
    assert_true(dt < 2.0);
    if (rss0 && rss1) assert_true(rss1 < rss0 + (64u << 20));

    const bp_model_info *mi;
    assert_int_equal(bp_model_info_get(m, &mi), BP_OK);
    assert_int_equal(mi->weights, (uint64_t)nl * width * width);
    assert_int_equal(mi->nonzeros, (uint64_t)nl * width);
    assert_int_equal(mi->digits, (uint64_t)nl * width);
    assert_int_equal(mi->digits_binary, (uint64_t)nl * width);
    assert_int_equal(mi->digits_csd, (uint64_t)nl * width);
    assert_int_equal(mi->layers[nl - 1].w_max, 1);

    float *x = malloc(width * sizeof(float)), *expect = malloc(width * sizeof(float));
    uint64_t r = g_seed + 11;
    bpt_fill_uniform(&r, x, width, -0.5f, 8.0f);
    identity_chain_expect(nl, width, x, expect);
    const float *ins[1] = {x};
    for (int i = 0; i < 2; i++) {
        size_t n = 0;
        bp_status st;
        float *y = bpt_run(m, k_backends[i], 1, 1, ins, &n, &st);
        assert_non_null(y);
        assert_int_equal(n, width);
        long d = bpt_first_diff(y, expect, width);
        if (d >= 0)
            fail_msg("%s: y[%ld] = %g, expected %g", k_backends[i], d, (double)y[d],
                     (double)expect[d]);
        free(y);
    }
    /* dense backends (and the operation counts, which run the reference) */
    t0 = now_s();
    bp_session_opts so;
    bp_session_opts_init(&so);
    so.backend = "reference";
    bp_session *s = (bp_session *)&s;
    assert_int_equal(bp_session_create(m, &so, &s), BP_ERR_LIMIT);
    assert_null(s);
    expect_msg("fc0");
    so.backend = "bitplane";
    assert_int_equal(bp_session_create(m, &so, &s), BP_OK);
    bp_layer_counts *counts = calloc(nl, sizeof *counts);
    assert_int_equal(bp_session_count_ops(s, ins, counts), BP_ERR_LIMIT);
    bp_session_free(s);
    free(counts);
    assert_true(now_s() - t0 < 2.0);
    bp_model_free(m);
    free(buf);

    buf = bpft_write_identity_chain(40, width, &size);
    bpft_share_layer_arrays(buf, &size);
    t0 = now_s();
    m = (bp_model *)&m;
    assert_int_equal(bp_model_load_memory(buf, size, NULL, &m), BP_ERR_LIMIT);
    assert_true(now_s() - t0 < 2.0);
    assert_null(m);
    expect_msg("load budget");
    unlink(path);
    free(buf);
    free(x);
    free(expect);
}

/* The forms built from the planes (CSR of nonzeros straight from the
 * planes, the layer statistics) equal those the kernels derive from the
 * dense matrix (bp_csr_from_dense, bp_digits_encode per weight). */
static void test_derived_forms_match_dense(void **state)
{
    (void)state;
    void *a;
    size_t asz;
    build_net(g_seed + 3, &a, &asz);
    bp_model *m = NULL;
    assert_int_equal(bp_model_load_memory(a, asz, NULL, &m), BP_OK);
    for (uint32_t li = 0; li < m->f->n_layers; li++) {
        assert_int_equal(bp_model_layer_prepare(m, li, BP_NEED_DENSE | BP_NEED_CSR), BP_OK);
        const bp_model_layer *l = &m->layers[li];
        const bp_layer_info *inf = &m->linfo[li];
        bp_csr_buf want;
        assert_int_equal(bp_csr_from_dense(l->dense, inf->c_out, inf->K, &want), 0);
        assert_int_equal(l->csr.nnz, want.nnz);
        assert_int_equal(l->csr.c.idx_bytes, want.c.idx_bytes);
        assert_memory_equal(l->csr.row_ptr, want.row_ptr, 4 * ((size_t)inf->c_out + 1));
        assert_memory_equal(l->csr.idx, want.idx, want.nnz * want.c.idx_bytes);
        assert_memory_equal(l->csr.val, want.val, want.nnz * sizeof(int16_t));
        assert_non_null(l->csr.c.aux);
        bp_csr_buf_free(&want);
        uint64_t nnz = 0, db = 0, dc = 0;
        uint32_t wmax = 0;
        int8_t dg[BP_M_MAX];
        for (size_t i = 0; i < (size_t)inf->c_out * inf->K; i++) {
            int v = l->dense[i], av = v < 0 ? -v : v;
            nnz += v != 0;
            db += (uint64_t)bp_digits_encode(v, BP_ENC_BINARY, dg);
            dc += (uint64_t)bp_digits_encode(v, BP_ENC_CSD, dg);
            if ((uint32_t)av > wmax) wmax = (uint32_t)av;
        }
        assert_int_equal(inf->nonzeros, nnz);
        assert_int_equal(inf->digits_binary, db);
        assert_int_equal(inf->digits_csd, dc);
        assert_int_equal(inf->w_max, wmax);
        assert_true(nnz > 0 && nnz < (uint64_t)inf->c_out * inf->K);
    }
    bp_model_free(m);
    free(a);
}

/* Sessions of every backend created at the same moment on many threads on
 * a freshly loaded model (nothing derived yet) build the forms once and all
 * give the outputs of a serial run on a separate load. */
#define N_WORKERS 6
static bp_model *g_shared;
static const float *g_x;
static const float *g_expect;
static size_t g_nout;
static pthread_barrier_t g_barrier;

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    bp_session_opts o;
    bp_session_opts_init(&o);
    o.backend = k_backends[id % 3];
    o.threads = 1;
    pthread_barrier_wait(&g_barrier);
    bp_session *s = NULL;
    if (bp_session_create(g_shared, &o, &s) != BP_OK) return (void *)1;
    float *y = malloc(g_nout * sizeof(float));
    float *outs[1] = {y};
    const float *ins[1] = {g_x};
    intptr_t bad = bp_session_run(s, ins, outs) != BP_OK || bpt_first_diff(y, g_expect, g_nout) >= 0;
    free(y);
    bp_session_free(s);
    return (void *)bad;
}

static void test_concurrent_first_use(void **state)
{
    (void)state;
    void *a;
    size_t asz;
    build_net(g_seed + 4, &a, &asz);
    bp_model *ref = NULL;
    assert_int_equal(bp_model_load_memory(a, asz, NULL, &ref), BP_OK);
    size_t ne = bpt_input_elems(ref, 0, 1);
    float *x = malloc(ne * sizeof(float));
    uint64_t r = g_seed + 8;
    bpt_fill_uniform(&r, x, ne, -1.0f, 4.0f);
    const float *ins[1] = {x};
    bp_status st;
    float *expect = bpt_run(ref, "reference", 1, 1, ins, &g_nout, &st);
    assert_non_null(expect);
    bp_model_free(ref);

    assert_int_equal(bp_model_load_memory(a, asz, NULL, &g_shared), BP_OK);
    g_x = x;
    g_expect = expect;
    assert_int_equal(pthread_barrier_init(&g_barrier, NULL, N_WORKERS), 0);
    pthread_t th[N_WORKERS];
    for (intptr_t i = 0; i < N_WORKERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, worker, (void *)i), 0);
    int fails = 0;
    for (int i = 0; i < N_WORKERS; i++) {
        void *ret;
        pthread_join(th[i], &ret);
        fails += ret != NULL;
    }
    pthread_barrier_destroy(&g_barrier);
    assert_int_equal(fails, 0);
    bp_model_free(g_shared);
    free(expect);
    free(x);
    free(a);
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/bp_test_load_XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return rmdir(g_dir);
}

int main(void)
{
    g_seed = bpt_test_seed("engine_load");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_replaced_while_loaded),
        cmocka_unit_test(test_mmap_opt_in),
        cmocka_unit_test(test_not_regular_files),
        cmocka_unit_test(test_huge_shared_layers),
        cmocka_unit_test(test_derived_forms_match_dense),
        cmocka_unit_test(test_concurrent_first_use),
    };
    return cmocka_run_group_tests_name("engine_load", tests, setup, teardown);
}
