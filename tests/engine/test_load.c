/* Model loading: the file is read into owned memory (replacing or truncating
 * it under a live model changes nothing), mmap is an opt-in, non-regular
 * files are refused without blocking. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model_builders.h"
#include "test_helpers.h"

static uint64_t g_seed;
static char g_dir[64];

static void expect_msg(const char *needle)
{
    if (!strstr(bp_last_error(), needle))
        fail_msg("message '%s' lacks '%s'", bp_last_error(), needle);
}

/* Resident set size in bytes, or 0 if /proc is not readable. */
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
    bp_model_opts_default(&o);
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
            bp_model_opts_default(&o);
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
    };
    return cmocka_run_group_tests_name("engine_load", tests, setup, teardown);
}
