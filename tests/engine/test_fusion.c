/* Quantized activation paths and fused epilogues: the plan takes them (the
 * profile's op names say how each step passes its output on) and they give
 * the same bits as the float plan (BP_ACT_PATH=float), on reference,
 * bitplane and csr, at threads 1/2 and batch 1/3. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_builders.h"
#include "test_helpers.h"
#include "test_suites.h"

static uint64_t g_seed;

#define OPS_CAP 4096

/* Runs m once with $BP_ACT_PATH = path; returns the outputs (malloc'd,
 * concatenated) and, if ops, the profile's op names, each followed by '|'. */
static float *run_path(const bp_model *m, const char *backend, int threads, uint32_t batch,
                       const char *path, const float *const *in, char *ops)
{
    const bp_model_info *mi;
    assert_int_equal(bp_model_info_get(m, &mi), BP_OK);
    size_t total = bpt_output_elems(m, batch), off = 0;
    float *out = malloc(total * sizeof(float));
    assert_non_null(out);
    float *outs[8];
    for (uint32_t i = 0; i < mi->n_outputs && i < 8; i++) {
        outs[i] = out + off;
        size_t e = batch;
        for (uint32_t d = 1; d < mi->outputs[i].ndim; d++) e *= mi->outputs[i].dims[d];
        off += e;
    }
    bp_session_opts o;
    bp_session_opts_init(&o);
    o.backend = backend;
    o.threads = threads;
    o.batch = batch;
    bp_session *s = NULL;
    setenv("BP_ACT_PATH", path, 1);
    bp_status st = bp_session_create(m, &o, &s);
    unsetenv("BP_ACT_PATH");
    if (st) printf("  %s: %s\n", backend, bp_last_error());
    assert_int_equal(st, BP_OK);
    assert_int_equal(bp_session_set_profiling(s, 1), BP_OK);
    assert_int_equal(bp_session_run(s, in, outs), BP_OK);
    if (ops) {
        const bp_layer_profile *p;
        uint32_t n;
        assert_int_equal(bp_session_profile(s, &p, &n), BP_OK);
        size_t len = 0;
        ops[0] = 0;
        for (uint32_t i = 0; i < n; i++)
            len += (size_t)snprintf(ops + len, len < OPS_CAP ? OPS_CAP - len : 0, "%s|",
                                    p[i].op);
        assert_true(len < OPS_CAP);
    }
    bp_session_free(s);
    return out;
}

/* How many steps are named exactly op. */
static int count_op(const char *ops, const char *op)
{
    int n = 0;
    size_t l = strlen(op);
    for (const char *p = ops; *p;) {
        const char *e = strchr(p, '|');
        if ((size_t)(e - p) == l && !strncmp(p, op, l)) n++;
        p = e + 1;
    }
    return n;
}

typedef struct want_op {
    const char *op;
    int n;
} want_op;

/* Quantized and float plans agree bit for bit everywhere; the quantized
 * plan has the steps of want (name, count), the float plan passes nothing
 * quantized and runs GELU as its own step when the quantized one fuses it. */
static void check_paths(const void *buf, size_t size, const char *what, const want_op *want,
                        size_t nwant)
{
    bp_model *m = NULL;
    assert_int_equal(bp_model_load_memory(buf, size, NULL, &m), BP_OK);
    const uint32_t B = 3;
    size_t ne = 0;
    const bp_model_info *mi;
    assert_int_equal(bp_model_info_get(m, &mi), BP_OK);
    float *in[4];
    for (uint32_t i = 0; i < mi->n_inputs; i++) {
        ne = bpt_input_elems(m, i, B);
        in[i] = malloc(ne * sizeof(float));
        assert_non_null(in[i]);
        uint64_t r = g_seed + 31 * i;
        bpt_fill_uniform(&r, in[i], ne, -1.5f, 1.5f);
    }
    static const char *const backends[] = {"reference", "bitplane", "csr"};
    char *opsq = malloc(OPS_CAP), *opsf = malloc(OPS_CAP);
    assert_true(opsq && opsf);
    for (int bi = 0; bi < 3; bi++)
        for (int threads = 1; threads <= 2; threads++)
            for (uint32_t batch = 1; batch <= B; batch += B - 1) {
                float *q = run_path(m, backends[bi], threads, batch, "quant",
                                    (const float *const *)in, opsq);
                float *f = run_path(m, backends[bi], threads, batch, "float",
                                    (const float *const *)in, opsf);
                size_t n = bpt_output_elems(m, batch);
                long d = bpt_first_diff(q, f, n);
                if (d >= 0)
                    printf("  %s %s threads %d batch %u: quantized and float plans differ at "
                           "%ld: %a vs %a\n", what, backends[bi], threads, batch, d,
                           (double)q[d], (double)f[d]);
                assert_true(d < 0);
                for (size_t k = 0; k < nwant; k++) {
                    int got = count_op(opsq, want[k].op);
                    if (got != want[k].n)
                        printf("  %s %s: %d steps '%s', want %d; plan: %s\n", what,
                               backends[bi], got, want[k].op, want[k].n, opsq);
                    assert_int_equal(got, want[k].n);
                }
                assert_null(strstr(opsf, "->"));
                assert_null(strstr(opsf, "+gelu"));
                free(q);
                free(f);
            }
    printf("  %s: quantized plan %s\n", what, opsq);
    free(opsq);
    free(opsf);
    for (uint32_t i = 0; i < mi->n_inputs; i++) free(in[i]);
    bp_model_free(m);
}

static void test_paths_resnet(void **state)
{
    (void)state;
    void *buf = NULL;
    size_t size = 0;
    assert_int_equal(bpt_build_resnet(g_seed, 0.6, 1, &buf, &size), 0);
    /* stem: read by layer1.conv1 and by the block's add; layer1.conv2's
     * output by both convs of block 2 only; layer2.conv2's also by the graph
     * output; the shortcut convs' outputs are residuals (float) */
    static const want_op want[] = {
        {"conv2d+batchnorm+relu->f32+q8", 1},
        {"conv2d+relu->q8", 3},
        {"conv2d+add+relu->q8", 1},
        {"conv2d+add+relu->f32+q8", 1},
        {"conv2d", 2},
        {"conv2d+add+relu", 1},
        {"linear", 1},
    };
    check_paths(buf, size, "resnet", want, sizeof want / sizeof want[0]);
    free(buf);
}

static void test_paths_convnext(void **state)
{
    (void)state;
    void *buf = NULL;
    size_t size = 0;
    assert_int_equal(bpt_build_convnext(g_seed, 0.5, 0, &buf, &size), 0);
    /* per stage: norm -> pw1 quantized, pw1+gelu -> pw2 quantized; the stem's
     * LayerNorm feeds the first depthwise conv and the residual add, the
     * downsampling conv the second; pw2 (+layerscale+add) is the float
     * residual stream */
    static const want_op want[] = {
        {"layernorm->q8", 2},
        {"conv2d+gelu->q8", 2},
        {"layernorm->f32+q8", 1},
        {"conv2d->f32+q8", 1},
        {"conv2d+layerscale+add", 2},
        {"gelu", 0},
        {"layerscale", 0},
    };
    check_paths(buf, size, "convnext", want, sizeof want / sizeof want[0]);
    free(buf);
}

/* One producer per reader layout: a 1x1 conv read by a padded 3x3, a
 * strided depthwise (implicit), a strided 3x3 (im2col) and a 2x2/2
 * space-to-depth conv (float only); LayerNorms read by a depthwise 3x3 and
 * (2-D) by a linear layer; a conv with 1x1 output read by a linear layer;
 * u8 and s8 readers. */
static int build_layouts(uint64_t seed, void **buf, size_t *size)
{
    bpt_wspec ws = {0.5, 0, 1};
    bpt_builder *b = bpt_new(seed, ws);
    if (!b) return BP_ERR_NOMEM;
    uint32_t d[4] = {1, 8, 12, 10};
    uint32_t x = bpt_input(b, "x", 4, d);
    uint32_t a = bpt_relu(b, bpt_conv(b, "a", x, 16, 1, 1, 1, 0, 1, 1, 1));
    uint32_t b1 = bpt_conv(b, "b1.padded", a, 16, 3, 3, 1, 1, 1, 1, 1);
    uint32_t b2 = bpt_conv(b, "b2.dw_s2", a, 16, 3, 3, 2, 1, 1, 16, 0);
    uint32_t b3 = bpt_conv(b, "b3.im2col", a, 16, 3, 3, 2, 1, 1, 1, 0);
    uint32_t b4 = bpt_conv(b, "b4.s2d", a, 16, 2, 2, 2, 0, 1, 1, 0);
    uint32_t c = bpt_conv(b, "c.direct", b1, 12, 1, 1, 1, 0, 1, 1, 1);
    uint32_t ln = bpt_layernorm(b, b2, 1e-5f, NULL, NULL);
    uint32_t dw = bpt_conv(b, "dw.s1", ln, 16, 3, 3, 1, 1, 1, 16, 1);
    uint32_t e = bpt_conv(b, "e.full", c, 10, 12, 10, 1, 0, 1, 1, 1); /* 1x1 output */
    uint32_t v = bpt_linear(b, "fc1", e, 6, 1);
    v = bpt_linear(b, "fc2", bpt_layernorm(b, v, 1e-5f, NULL, NULL), 4, 1);
    bpt_output(b, v);
    bpt_output(b, bpt_add(b, b3, b4));
    bpt_output(b, dw);
    int st = bpt_calibrate(b, 2);
    if (!st) st = bpt_write(b, buf, size);
    bpt_free(b);
    return st;
}

static void test_paths_layouts(void **state)
{
    (void)state;
    void *buf = NULL;
    size_t size = 0;
    assert_int_equal(build_layouts(g_seed ^ 0x1a7, &buf, &size), 0);
    static const want_op want[] = {
        {"conv2d+relu->f32+q8", 1}, /* a: three quantized readers, s2d reads float */
        {"conv2d->q8", 3},          /* b1 -> c, b2 -> no (LN), c -> e, e -> fc1 */
        {"layernorm->q8", 2},       /* -> dw.s1, and 2-D -> fc2 */
        {"linear->q8", 0},          /* fc1 feeds the LayerNorm */
    };
    check_paths(buf, size, "layouts", want, sizeof want / sizeof want[0]);
    free(buf);
}

int bpt_suite_fusion(uint64_t seed)
{
    g_seed = seed;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths_layouts),
        cmocka_unit_test(test_paths_resnet),
        cmocka_unit_test(test_paths_convnext),
    };
    return cmocka_run_group_tests_name("engine_fusion", tests, NULL, NULL);
}
