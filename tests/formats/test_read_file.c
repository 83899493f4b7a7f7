/* tests/formats: loading from a path (what is refused without blocking, the
 * private copy that outlives changes to the file, the mmap opt-in) and the
 * load budget of arrays shared between layers (SPEC.md, resource limits). */
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
#include <time.h>
#include <unistd.h>

#include "bpf_internal.h"
#include "bpf_testmodel.h"

static uint32_t bpft_seed;
static char bpft_dir[64];

static void bpft_expect_msg(const char *want)
{
    if (!strstr(bpf_last_error(), want))
        fail_msg("message '%s' lacks '%s'", bpf_last_error(), want);
}

/* The loaded layers hold exactly the planes, scales and biases of t. */
static void bpft_same_layers(const bpf_model *m, const bpft_model *t)
{
    assert_int_equal(m->n_layers, t->d.n_layers);
    for (uint32_t l = 0; l < m->n_layers; l++) {
        const bpf_layer *a = &m->layers[l], *b = &t->d.layers[l];
        assert_int_equal(a->c_out, b->c_out);
        assert_int_equal(a->K, b->K);
        assert_int_equal(a->M, b->M);
        assert_int_equal(a->n_digits, b->n_digits);
        assert_memory_equal(a->w_scale, b->w_scale, 4 * (size_t)a->c_out);
        assert_memory_equal(a->bias, b->bias, 4 * (size_t)a->c_out);
        assert_memory_equal(a->row_ptr, b->row_ptr, 4 * ((size_t)a->c_out * a->M * 2 + 1));
        assert_memory_equal(a->col_idx, b->col_idx, (size_t)a->n_digits * a->idx_bytes);
    }
}

static void bpft_write_bytes(const char *path, const void *buf, size_t size)
{
    /* like cp onto an existing file: same inode, truncated, rewritten */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, size), (ssize_t)size);
    assert_int_equal(close(fd), 0);
}

/* A FIFO, a directory and a character device are refused with BPF_ERR_IO and
 * a message naming the path and what it is; none of them blocks (a FIFO
 * without a writer used to block in open forever: alarm() ends the test). */
static void test_not_regular_files(void **state)
{
    (void)state;
    char fifo[96];
    snprintf(fifo, sizeof fifo, "%s/model.fifo", bpft_dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    const struct {
        const char *path, *kind;
    } cases[] = {{fifo, "a FIFO"}, {bpft_dir, "a directory"}, {"/dev/null", "a character device"}};
    alarm(20);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (access(cases[i].path, F_OK) != 0) continue; /* no /dev/null in this sandbox */
        for (uint32_t mmap_flag = 0; mmap_flag <= BPF_LOAD_MMAP; mmap_flag += BPF_LOAD_MMAP) {
            bpf_model *m = (bpf_model *)&m;
            assert_int_equal(bpf_load_file(cases[i].path, mmap_flag, &m), BPF_ERR_IO);
            assert_null(m);
            bpft_expect_msg(cases[i].path);
            bpft_expect_msg(cases[i].kind);
        }
    }
    alarm(0);
    unlink(fifo);
}

/* The default load reads the file into memory and never touches it again:
 * overwriting it with another valid model and then truncating it to 0 bytes
 * leaves the loaded model intact. */
static void test_private_copy_outlives_file(void **state)
{
    (void)state;
    bpft_model *t = malloc(sizeof *t), *u = malloc(sizeof *u);
    bpft_build(t, bpft_seed);
    bpft_build(u, bpft_seed + 1);
    size_t size, usize;
    void *buf = bpft_write(t, &size), *ubuf = bpft_write(u, &usize);
    char path[96];
    snprintf(path, sizeof path, "%s/model.bp", bpft_dir);
    bpft_write_bytes(path, buf, size);
    bpf_model *m = NULL;
    assert_int_equal(bpf_load_file(path, 0, &m), BPF_OK);
    bpft_same_layers(m, t);

    bpft_write_bytes(path, ubuf, usize);
    bpf_model *m2 = NULL;
    assert_int_equal(bpf_load_file(path, 0, &m2), BPF_OK);
    bpft_same_layers(m2, u);
    bpf_model_free(m2);
    bpft_same_layers(m, t);
    assert_int_equal(truncate(path, 0), 0);
    bpft_same_layers(m, t);
    assert_int_equal(bpf_load_file(path, 0, &m2), BPF_ERR_TRUNCATED);
    bpf_model_free(m);
    unlink(path);
    free(buf);
    free(ubuf);
    free(t);
    free(u);
}

/* BPF_LOAD_MMAP loads the same model (the file stays unchanged here: changing
 * it under a mapping is undefined by contract). Unknown flags are refused. */
static void test_mmap_opt_in(void **state)
{
    (void)state;
    bpft_model *t = malloc(sizeof *t);
    bpft_build(t, bpft_seed + 2);
    size_t size;
    void *buf = bpft_write(t, &size);
    char path[96];
    snprintf(path, sizeof path, "%s/mapped.bp", bpft_dir);
    bpft_write_bytes(path, buf, size);
    bpf_model *m = NULL;
    assert_int_equal(bpf_load_file(path, BPF_LOAD_MMAP, &m), BPF_OK);
    bpft_same_layers(m, t);
    bpf_model_free(m);
    assert_int_equal(bpf_load_file(path, BPF_LOAD_MMAP | BPF_LOAD_NO_CHECKSUM, &m), BPF_OK);
    bpft_same_layers(m, t);
    bpf_model_free(m);
    assert_int_equal(bpf_load_file(path, 1u << 7, &m), BPF_ERR_INVALID_ARG);
    assert_null(m);
    /* mapping is a file option; a memory load does not take it */
    assert_int_equal(bpf_load_memory(buf, size, BPF_LOAD_MMAP, &m), BPF_ERR_INVALID_ARG);
    unlink(path);
    free(buf);
    free(t);
}

/* Layers may share arrays, but the arrays of all layers add up to at most
 * 4 x the file size + 16 MiB: a few shared layers load (and share), many
 * huge layers described by one small set of arrays are refused with
 * BPF_ERR_LIMIT naming the first layer beyond the budget, while the same
 * model written without sharing loads. */
static void test_shared_arrays_budget(void **state)
{
    (void)state;
    const uint32_t width = 32768;
    size_t size;
    uint8_t *b = bpft_write_identity_chain(8, width, &size);
    bpft_share_layer_arrays(b, &size);
    bpf_model *m = NULL;
    assert_int_equal(bpf_load_memory(b, size, 0, &m), BPF_OK);
    for (uint32_t l = 1; l < m->n_layers; l++) {
        assert_ptr_equal(m->layers[l].row_ptr, m->layers[0].row_ptr);
        assert_ptr_equal(m->layers[l].col_idx, m->layers[0].col_idx);
    }
    bpf_model_free(m);
    free(b);

    const uint32_t nl = 40;
    b = bpft_write_identity_chain(nl, width, &size);
    assert_int_equal(bpf_load_memory(b, size, 0, &m), BPF_OK); /* no sharing: within */
    bpf_model_free(m);
    bpft_share_layer_arrays(b, &size);
    /* SPEC: per layer 4*c_out (w_scale) + 4*c_out (bias) + 4*(2*c_out*M + 1)
     * (row_ptr) + 2*n_digits (col_idx) bytes */
    const uint64_t per_layer = 4ull * width + 4ull * width + 4ull * (2ull * width + 1) +
                               2ull * width;
    const uint64_t budget = 4ull * size + (16ull << 20);
    uint32_t first = 0;
    while ((first + 1) * per_layer <= budget) first++;
    assert_true(first < nl);
    char want[32];
    snprintf(want, sizeof want, "layer %u:", first);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(bpf_load_memory(b, size, 0, &m), BPF_ERR_LIMIT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_null(m);
    bpft_expect_msg(want);
    bpft_expect_msg("load budget");
    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("  %zu-byte file, %u layers of %ux%u sharing arrays: refused at layer %u in %.3f s\n",
           size, nl, width, width, first, s);
    free(b);
}

static int bpft_setup(void **state)
{
    (void)state;
    snprintf(bpft_dir, sizeof bpft_dir, "/tmp/bpf_read_file_XXXXXX");
    return mkdtemp(bpft_dir) ? 0 : -1;
}

static int bpft_teardown(void **state)
{
    (void)state;
    return rmdir(bpft_dir);
}

int main(void)
{
    const char *env = getenv("BP_TEST_SEED");
    bpft_seed = env ? (uint32_t)strtoul(env, NULL, 0) : 4242u;
    printf("formats_read_file: BP_TEST_SEED=%u\n", bpft_seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_regular_files),
        cmocka_unit_test(test_private_copy_outlives_file),
        cmocka_unit_test(test_mmap_opt_in),
        cmocka_unit_test(test_shared_arrays_budget),
    };
    return cmocka_run_group_tests_name("formats_read_file", tests, bpft_setup, bpft_teardown);
}
