/* The engine's "reference" backend (public API) against spec_eval.c, an
 * implementation written from formats/SPEC.md alone, bit for bit: the test
 * model zoo, an op zoo with special values, a layer whose inputs tell a
 * reciprocal from a division, GELU and softmax sweeps, and `bptool gen`
 * models passed as arguments; batch 1 and 2. Seeded (BP_TEST_SEED). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bitprune.h"
#include "bpf.h"
#include "model_builders.h"
#include "spec_eval.h"

static uint64_t g_seed;
static int g_nfiles;
static char **g_files;

/* Equal bits, or both NaN (the spec leaves NaN payloads open). */
static int bps_same(float a, float b)
{
    if (isnan(a) && isnan(b)) return 1;
    return memcmp(&a, &b, sizeof a) == 0;
}

/* plain: uniform [-2, 2); wide: a quarter scaled by 8 (quantization
 * saturates); special: NaN, inf, -0, subnormals, huge values; range: a
 * third are exactly +-2^60, which cancel in f64 sums after the small terms
 * next to them were lost or not: the sums' order shows. */
typedef enum { IN_PLAIN, IN_WIDE, IN_SPECIAL, IN_RANGE } in_mode;
static const char *const g_mode_name[] = {"plain", "wide", "special", "range"};

static const float g_special[] = {
    NAN, INFINITY, -INFINITY, -0.0f, 0.0f, 1e-45f, -1e-40f, 1e30f, -1e30f,
    3.4e38f, -3.4e38f, 1e-30f, 0.5f, -8.5f, 9.0f,
};

static void fill_input(uint64_t *rs, float *x, size_t n, in_mode mode)
{
    bpt_fill_uniform(rs, x, n, -2.0f, 2.0f);
    for (size_t i = 0; i < n; i++) {
        uint64_t r = bpt_rand(rs);
        if (mode == IN_WIDE && r % 4 == 0) x[i] *= 8.0f; /* beyond the calibrated range */
        if (mode == IN_SPECIAL && r % 7 == 0)
            x[i] = g_special[(r >> 8) % (sizeof g_special / sizeof g_special[0])];
        if (mode == IN_RANGE && r % 3 == 0) x[i] = (r >> 8) & 1 ? 0x1p60f : -0x1p60f;
    }
}

/* Runs the model (fm: format view, em: engine) on the engine and the spec at
 * batch N; returns the number of differing elements (0 when bit-identical),
 * printing the first. */
static size_t compare_batch(const char *name, const bpf_model *fm, const bp_model *em,
                            uint32_t N, in_mode mode)
{
    uint64_t rs = g_seed ^ (0x9e3779b97f4a7c15ull * (N + 1)) ^ ((uint64_t)mode << 40);
    for (const char *p = name; *p; p++) rs = rs * 131 + (unsigned char)*p;
    float *in[BPF_MAX_IO] = {0}, *eo[BPF_MAX_IO] = {0}, *so[BPF_MAX_IO] = {0};
    size_t oel[BPF_MAX_IO] = {0}, sel[BPF_MAX_IO] = {0};
    for (uint32_t i = 0; i < fm->n_inputs; i++) {
        const bpf_tensor *T = &fm->tensors[fm->inputs[i]];
        size_t e = N;
        for (uint32_t d = 1; d < T->ndim; d++) e *= T->dims[d];
        in[i] = malloc(e * sizeof(float));
        assert_non_null(in[i]);
        fill_input(&rs, in[i], e, mode);
    }
    for (uint32_t i = 0; i < fm->n_outputs; i++) {
        const bpf_tensor *T = &fm->tensors[fm->outputs[i]];
        size_t e = T->data ? 1 : N;
        for (uint32_t d = T->data ? 0 : 1; d < T->ndim; d++) e *= T->dims[d];
        oel[i] = e;
        eo[i] = malloc(e * sizeof(float));
        assert_non_null(eo[i]);
    }
    bp_session_opts o;
    bp_session_opts_init(&o);
    o.backend = "reference";
    o.threads = (int)N; /* 2 threads at batch 2 */
    o.batch = N;
    bp_session *s = NULL;
    if (bp_session_create(em, &o, &s) || bp_session_run(s, (const float *const *)in, eo))
        fail_msg("%s batch %u: engine: %s", name, N, bp_last_error());
    bp_session_free(s);
    char err[256];
    if (bps_run(fm, N, (const float *const *)in, so, sel, err, sizeof err))
        fail_msg("%s batch %u: spec: %s", name, N, err);
    size_t bad = 0, total = 0;
    for (uint32_t i = 0; i < fm->n_outputs; i++) {
        assert_int_equal(sel[i], oel[i]);
        for (size_t k = 0; k < oel[i]; k++)
            if (!bps_same(eo[i][k], so[i][k]) && bad++ == 0)
                printf("  %s batch %u (%s inputs): output %u ('%s') element %zu: engine %a, "
                       "spec %a\n", name, N, g_mode_name[mode], i,
                       fm->tensors[fm->outputs[i]].name, k,
                       (double)eo[i][k], (double)so[i][k]);
        total += oel[i];
    }
    if (bad) printf("  %s batch %u: %zu of %zu output elements differ\n", name, N, bad, total);
    for (uint32_t i = 0; i < BPF_MAX_IO; i++) {
        free(in[i]);
        free(eo[i]);
        free(so[i]);
    }
    return bad;
}

/* Batch 1 and 2 with the given input modes; fails on any difference. */
static void check_model(const char *name, const void *buf, size_t size, const char *path,
                        int modes)
{
    bpf_model *fm = NULL;
    bp_model *em = NULL;
    if (path) {
        if (bpf_load_file(path, 0, &fm)) fail_msg("%s: %s", path, bpf_last_error());
        if (bp_model_load_file(path, NULL, &em)) fail_msg("%s: %s", path, bp_last_error());
    } else {
        if (bpf_load_memory(buf, size, 0, &fm)) fail_msg("%s: %s", name, bpf_last_error());
        if (bp_model_load_memory(buf, size, NULL, &em)) fail_msg("%s: %s", name, bp_last_error());
    }
    size_t bad = 0;
    for (uint32_t N = 1; N <= 2; N++)
        for (int mode = IN_PLAIN; mode <= IN_RANGE; mode++)
            if (modes & (1 << mode)) bad += compare_batch(name, fm, em, N, (in_mode)mode);
    bp_model_free(em);
    bpf_model_free(fm);
    if (bad) fail_msg("%s: engine and spec differ (seed %llu)", name, (unsigned long long)g_seed);
}

static void check_buf(const char *name, int st, void *buf, size_t size, int modes)
{
    if (st) fail_msg("%s: building the model failed (%d)", name, st);
    check_model(name, buf, size, NULL, modes);
    free(buf);
}

static void test_zoo_resnet(void **state)
{
    (void)state;
    void *buf = NULL;
    size_t size = 0;
    int st = bpt_build_resnet(g_seed, 0.5, BPF_ENC_BINARY, &buf, &size);
    check_buf("resnet binary", st, buf, size, 3);
    st = bpt_build_resnet(g_seed + 1, 0.8, BPF_ENC_CSD, &buf, &size);
    check_buf("resnet csd", st, buf, size, 3);
}

static void test_zoo_convnext(void **state)
{
    (void)state;
    void *buf = NULL;
    size_t size = 0;
    int st = bpt_build_convnext(g_seed, 0.3, BPF_ENC_BINARY, &buf, &size);
    check_buf("convnext binary", st, buf, size, 3);
    st = bpt_build_convnext(g_seed + 2, 0.6, BPF_ENC_CSD, &buf, &size);
    check_buf("convnext csd", st, buf, size, 3);
}

/* Every op in shapes the zoo does not use: asymmetric padding, dilation,
 * grouped conv, u8 input that goes negative, pools with padding, softmax
 * over W, 2-D layer norm, unfused relu/add; a second input feeds the float
 * ops directly so special values (NaN, inf, -0, subnormals) reach them. */
static void test_op_zoo(void **state)
{
    (void)state;
    bpt_wspec ws = {0.6, BPF_ENC_BINARY, 1};
    bpt_builder *b = bpt_new(g_seed ^ 0x5bec, ws);
    assert_non_null(b);
    uint32_t d1[4] = {1, 6, 11, 9}, d2[4] = {1, 4, 5, 6};
    uint32_t x = bpt_input(b, "x", 4, d1), z = bpt_input(b, "z", 4, d2);
    uint32_t t = bpt_conv_ex(b, "asym", x, 8, 3, 2, 2, 1, 1, 0, 0, 1, 1, 2, 2, 1);
    t = bpt_relu(b, bpt_batchnorm(b, t, NULL, NULL));
    uint32_t avg = bpt_pool(b, t, 0, 3, 2, 1);
    uint32_t mx = bpt_pool(b, t, 1, 2, 1, 1);
    uint32_t g = bpt_layerscale(b, bpt_gelu(b, mx), NULL);
    uint32_t ln = bpt_layernorm(b, g, 1e-5f, NULL, NULL);
    uint32_t c2 = bpt_conv(b, "grouped", bpt_add(b, ln, g), 8, 1, 1, 1, 0, 1, 4, 0);
    bpt_output(b, bpt_softmax(b, c2));
    uint32_t v = bpt_linear(b, "fc", bpt_flatten(b, bpt_gap(b, avg)), 5, 1);
    uint32_t w = bpt_linear(b, "zfc", bpt_flatten(b, bpt_gap(b, z)), 5, 0);
    v = bpt_layernorm(b, bpt_add(b, v, w), 1e-3f, NULL, NULL);
    bpt_output(b, bpt_softmax(b, bpt_relu(b, v)));
    /* float ops straight on the second input */
    uint32_t f = bpt_layernorm(b, bpt_gelu(b, bpt_pool(b, z, 1, 2, 2, 1)), 1e-6f, NULL, NULL);
    bpt_output(b, bpt_softmax(b, f));
    bpt_output(b, bpt_relu(b, bpt_pool(b, z, 0, 3, 1, 1)));
    void *buf = NULL;
    size_t size = 0;
    int st = bpt_calibrate(b, 2);
    if (!st) st = bpt_write(b, &buf, &size);
    bpt_free(b);
    check_buf("op zoo", st, buf, size, 15);

    /* The float ops alone, each as a graph output of its own (a quantizing
     * layer downstream would hide last-bit differences). */
    uint32_t d3[4] = {1, 6, 5, 7};
    for (int part = 0; part < 2; part++) {
        b = bpt_new(g_seed ^ (0xf10a7u + (unsigned)part), ws);
        assert_non_null(b);
        z = bpt_input(b, "z", 4, d3);
        if (part == 0) {
            bpt_output(b, bpt_gelu(b, bpt_batchnorm(b, z, NULL, NULL)));
            bpt_output(b, bpt_relu(b, bpt_layerscale(b, z, NULL)));
            /* beta 0: tiny (x - mean) * r survive, so the sums' order shows */
            static const float one[6] = {1, 1, 1, 1, 1, 1}, zero[6] = {0};
            bpt_output(b, bpt_layernorm(b, z, 1e-5f, one, zero));
            bpt_output(b, bpt_flatten(b, bpt_gap(b, z)));
        } else {
            bpt_output(b, bpt_softmax(b, z));
            bpt_output(b, bpt_add(b, bpt_pool(b, z, 1, 3, 1, 1), bpt_pool(b, z, 0, 3, 1, 1)));
            bpt_output(b, bpt_pool(b, z, 1, 2, 2, 1));
            bpt_output(b, bpt_softmax(b, bpt_flatten(b, bpt_gap(b, z))));
        }
        buf = NULL;
        size = 0;
        st = bpt_write(b, &buf, &size);
        bpt_free(b);
        check_buf(part ? "float op zoo 2" : "float op zoo 1", st, buf, size, 15);
    }
}

/* Output (1, C, floor(H*sh), floor(W*sw)) of a RESIZE node. */
static uint32_t mob_resize(bpt_builder *b, uint32_t x, int mode, int ct, int rnd, float sh,
                           float sw)
{
    uint32_t nd;
    const uint32_t *d = bpt_dims(b, x, &nd);
    uint32_t od[4] = {1, d[1], (uint32_t)floor((double)d[2] * sh),
                      (uint32_t)floor((double)d[3] * sw)};
    int32_t iv[8] = {mode, ct, rnd};
    float fv[4] = {sh, sw};
    return bpt_op(b, BPF_OP_RESIZE, 1, &x, iv, fv, 4, od);
}

static uint32_t mob_unary(bpt_builder *b, uint32_t op, uint32_t x, float f0, float f1)
{
    uint32_t nd;
    const uint32_t *d = bpt_dims(b, x, &nd);
    uint32_t od[BPF_MAX_DIMS];
    memcpy(od, d, nd * sizeof *od);
    float fv[4] = {f0, f1};
    return bpt_op(b, op, 1, &x, NULL, fv, nd, od);
}

/* a (op) b with b broadcast: output has a's shape. */
static uint32_t mob_binary(bpt_builder *b, uint32_t op, uint32_t x, uint32_t y)
{
    uint32_t nd;
    const uint32_t *d = bpt_dims(b, x, &nd);
    uint32_t od[BPF_MAX_DIMS], in[2] = {x, y};
    memcpy(od, d, nd * sizeof *od);
    return bpt_op(b, op, 2, in, NULL, NULL, nd, od);
}

static uint32_t mob_concat(bpt_builder *b, uint32_t n, const uint32_t *in, int32_t axis)
{
    uint32_t nd;
    const uint32_t *d = bpt_dims(b, in[0], &nd);
    uint32_t od[BPF_MAX_DIMS];
    memcpy(od, d, nd * sizeof *od);
    od[axis] = 0;
    for (uint32_t k = 0; k < n; k++) od[axis] += bpt_dims(b, in[k], &nd)[axis];
    int32_t iv[8] = {axis};
    return bpt_op(b, BPF_OP_CONCAT, n, in, iv, NULL, nd, od);
}

/* ConvTranspose with random weights (C, co, k, k) and bias. */
static uint32_t mob_convt(bpt_builder *b, uint32_t x, uint32_t co, uint32_t kh, uint32_t kw,
                          const int32_t *iv, int bias)
{
    uint32_t nd;
    const uint32_t *d = bpt_dims(b, x, &nd);
    uint32_t wd[4] = {d[1], co, kh, kw}, bd[1] = {co};
    uint32_t od[4] = {1, co, (d[2] - 1) * (uint32_t)iv[0] - (uint32_t)(iv[2] + iv[4]) + kh +
                                 (uint32_t)iv[6],
                      (d[3] - 1) * (uint32_t)iv[1] - (uint32_t)(iv[3] + iv[5]) + kw +
                          (uint32_t)iv[7]};
    uint32_t in[3] = {x, bpt_const(b, "ct.w", 4, wd, NULL), 0};
    if (bias) in[2] = bpt_const(b, "ct.b", 1, bd, NULL);
    return bpt_op(b, BPF_OP_CONVTRANSPOSE, bias ? 3 : 2, in, iv, NULL, 4, od);
}

/* The mobile-network ops (SIGMOID, HARDSIGMOID, HARDSWISH, CLIP, broadcast
 * ADD/MUL, CONCAT, RESIZE, CONVTRANSPOSE), each a graph output on inputs
 * with special values, in every mode and with the edge shapes: broadcasts
 * of (N,C,1,1), (C,1,1), (W), (1,1,H,1) shapes, a 1x1 image resized, odd
 * sizes, align_corners with an output of 1. */
static void test_mobile_ops(void **state)
{
    (void)state;
    bpt_wspec ws = {0.6, BPF_ENC_BINARY, 1};
    for (int part = 0; part < 6; part++) {
        bpt_builder *b = bpt_new(g_seed ^ (0x30b1u + (unsigned)part), ws);
        assert_non_null(b);
        uint32_t d1[4] = {1, 5, 7, 3}, d2[4] = {1, 5, 1, 1}, d3[4] = {1, 3, 1, 1};
        uint32_t x = bpt_input(b, "x", 4, d1), z = bpt_input(b, "z", 4, d2);
        uint32_t one = bpt_input(b, "one", 4, d3);
        if (part == 0) {
            bpt_output(b, mob_unary(b, BPF_OP_SIGMOID, x, 0, 0));
            bpt_output(b, mob_unary(b, BPF_OP_HARDSIGMOID, x, 0.2f, 0.5f));
            bpt_output(b, mob_unary(b, BPF_OP_HARDSWISH, x, 0, 0));
            bpt_output(b, mob_binary(b, BPF_OP_MUL, mob_unary(b, BPF_OP_CLIP, x, 0.0f, 6.0f),
                                     mob_unary(b, BPF_OP_CLIP, z, -INFINITY, 0.5f)));
        } else if (part == 1) {
            uint32_t cd[3] = {5, 1, 1}, wd[1] = {3}, hd[4] = {1, 1, 7, 1};
            bpt_output(b, mob_binary(b, BPF_OP_ADD, x, bpt_const(b, "c", 3, cd, NULL)));
            bpt_output(b, mob_binary(b, BPF_OP_MUL, x, bpt_const(b, "w", 1, wd, NULL)));
            bpt_output(b, mob_binary(b, BPF_OP_MUL, x, bpt_const(b, "hc", 4, hd, NULL)));
        } else if (part == 2) {
            uint32_t hd[4] = {1, 1, 7, 1};
            uint32_t h = mob_binary(b, BPF_OP_ADD, x, bpt_const(b, "h", 4, hd, NULL));
            uint32_t in3[3] = {h, mob_binary(b, BPF_OP_MUL, x, z), x};
            bpt_output(b, mob_concat(b, 3, in3, 1));
            uint32_t in2[2] = {x, mob_unary(b, BPF_OP_SIGMOID, x, 0, 0)};
            bpt_output(b, mob_concat(b, 2, in2, 3));
            uint32_t in4[4] = {x, x, h, x};
            bpt_output(b, mob_concat(b, 4, in4, 2));
        } else if (part == 3) {
            bpt_output(b, mob_resize(b, x, BPF_RESIZE_NEAREST, BPF_RESIZE_ASYMMETRIC,
                                     BPF_RESIZE_FLOOR, 2.0f, 2.0f));
            bpt_output(b, mob_resize(b, x, BPF_RESIZE_LINEAR, BPF_RESIZE_HALF_PIXEL, 0, 2.0f,
                                     1.5f));
            bpt_output(b, mob_resize(b, x, BPF_RESIZE_LINEAR, BPF_RESIZE_ALIGN_CORNERS, 0,
                                     0.2f, 2.5f));
            bpt_output(b, mob_resize(b, mob_resize(b, x, BPF_RESIZE_NEAREST,
                                                   BPF_RESIZE_HALF_PIXEL,
                                                   BPF_RESIZE_ROUND_PREFER_CEIL, 0.7f, 3.0f),
                                     BPF_RESIZE_NEAREST, BPF_RESIZE_PYTORCH_HALF_PIXEL,
                                     BPF_RESIZE_ROUND_PREFER_FLOOR, 1.0f, 0.5f));
        } else if (part == 4) {
            /* a 1x1 image */
            bpt_output(b, mob_resize(b, one, BPF_RESIZE_LINEAR, BPF_RESIZE_PYTORCH_HALF_PIXEL,
                                     0, 3.0f, 2.0f));
            bpt_output(b, mob_resize(b, one, BPF_RESIZE_NEAREST, BPF_RESIZE_ASYMMETRIC,
                                     BPF_RESIZE_CEIL, 4.0f, 1.0f));
        } else {
            int32_t s2[8] = {2, 2, 1, 1, 1, 1, 1, 1}, s1[8] = {1, 3, 0, 2, 1, 0, 0, 2};
            bpt_output(b, mob_convt(b, x, 4, 3, 3, s2, 1));
            bpt_output(b, mob_convt(b, x, 2, 2, 5, s1, 0));
            bpt_output(b, mob_convt(b, one, 3, 2, 2, s2, 1));
        }
        void *buf = NULL;
        size_t size = 0;
        int st = bpt_write(b, &buf, &size);
        bpt_free(b);
        char name[32];
        snprintf(name, sizeof name, "mobile ops %d", part);
        check_buf(name, st, buf, size, 15);
    }
}

/* Folded per-channel scales (SPEC.md 8.2): a BATCHNORM -> LAYERSCALE chain
 * then a relu after a conv, a LAYERSCALE feeding an add, a linear's
 * BATCHNORM whose output is a graph output; and nodes that must not fold:
 * after a conv whose output is also a graph output, or is also read by an
 * add. */
static void test_folds(void **state)
{
    (void)state;
    bpt_wspec ws = {0.5, BPF_ENC_BINARY, 1};
    bpt_builder *b = bpt_new(g_seed ^ 0xf01d, ws);
    assert_non_null(b);
    uint32_t d[4] = {1, 5, 7, 6};
    uint32_t x = bpt_input(b, "x", 4, d);
    uint32_t c1 = bpt_conv(b, "c1", x, 6, 3, 3, 1, 1, 1, 1, 1);
    uint32_t t = bpt_relu(b, bpt_layerscale(b, bpt_batchnorm(b, c1, NULL, NULL), NULL));
    uint32_t c2 = bpt_conv(b, "c2", t, 6, 1, 1, 1, 0, 1, 1, 0);
    uint32_t c4 = bpt_conv(b, "c4", t, 6, 3, 3, 1, 1, 1, 6, 1);
    uint32_t a = bpt_add(b, bpt_layerscale(b, c2, NULL), bpt_batchnorm(b, c4, NULL, NULL));
    bpt_output(b, bpt_add(b, a, c4));
    uint32_t c3 = bpt_conv(b, "c3", t, 6, 1, 1, 1, 0, 1, 1, 0);
    bpt_output(b, c3);
    bpt_output(b, bpt_layerscale(b, c3, NULL));
    uint32_t v = bpt_linear(b, "fc", bpt_flatten(b, bpt_gap(b, t)), 5, 1);
    bpt_output(b, bpt_batchnorm(b, v, NULL, NULL));
    void *buf = NULL;
    size_t size = 0;
    int st = bpt_calibrate(b, 2);
    if (!st) st = bpt_write(b, &buf, &size);
    bpt_free(b);
    check_buf("folds", st, buf, size, 15);
}

/* A linear layer with identity weights (y = q * act_scale) fed inputs x
 * whose quantization by the reciprocal, round(x * (1/s)), differs from a
 * division, round(x / s): the spec defines the first. */
static void test_reciprocal(void **state)
{
    (void)state;
    static const float scales[] = {0.1f, 0.3f, 0.7f, 1.0f / 3.0f, 0.0123f, 2.9f, 0.031f};
    enum { K = 64 };
    for (int s8 = 0; s8 <= 1; s8++) {
        int found = 0;
        for (size_t si = 0; si < sizeof scales / sizeof scales[0]; si++) {
            float sc = scales[si], inv = 1.0f / sc;
            float xs[K];
            int n = 0;
            for (int k = s8 ? -127 : 0; k < (s8 ? 127 : 255) && n < K; k++) {
                float x0 = ((float)k + 0.5f) * sc;
                float xv = x0;
                for (int u = 0; u < 40 && n < K; u++, xv = nextafterf(xv, INFINITY))
                    if (nearbyintf(xv * inv) != nearbyintf(xv / sc)) xs[n++] = xv;
                xv = x0;
                for (int u = 0; u < 40 && n < K; u++, xv = nextafterf(xv, -INFINITY))
                    if (nearbyintf(xv * inv) != nearbyintf(xv / sc)) xs[n++] = xv;
            }
            if (n == 0) continue;
            found += n;
            bpt_wspec ws = {1.0, BPF_ENC_BINARY, 0};
            bpt_builder *b = bpt_new(g_seed, ws);
            assert_non_null(b);
            uint32_t d[2] = {1, (uint32_t)n};
            uint32_t x = bpt_input(b, "x", 2, d);
            int16_t *w = calloc((size_t)n * n, sizeof *w);
            float *one = malloc(n * sizeof(float)), *zero = calloc(n, sizeof(float));
            assert_true(w && one && zero);
            for (int j = 0; j < n; j++) {
                w[(size_t)j * n + j] = 1;
                one[j] = 1.0f;
            }
            bpt_output(b, bpt_linear_w(b, "id", x, (uint32_t)n, s8, sc, w, one, zero));
            void *buf;
            size_t size;
            int st = bpt_write(b, &buf, &size);
            bpt_free(b);
            free(w);
            free(one);
            free(zero);
            if (st) fail_msg("reciprocal model: %d", st);
            /* run exactly these inputs (batch 1), then the seeded batches */
            bpf_model *fm = NULL;
            bp_model *em = NULL;
            assert_int_equal(bpf_load_memory(buf, size, 0, &fm), 0);
            assert_int_equal(bp_model_load_memory(buf, size, NULL, &em), 0);
            bp_session *s = NULL;
            bp_session_opts o;
            bp_session_opts_init(&o);
            o.backend = "reference";
            o.threads = 1;
            assert_int_equal(bp_session_create(em, &o, &s), 0);
            float ye[K], *ys[1] = {NULL};
            size_t yn[1];
            const float *in[1] = {xs};
            float *out[1] = {ye};
            char err[256];
            assert_int_equal(bp_session_run(s, in, out), 0);
            if (bps_run(fm, 1, in, ys, yn, err, sizeof err)) fail_msg("spec: %s", err);
            assert_int_equal(yn[0], (size_t)n);
            for (int j = 0; j < n; j++) {
                float want = (float)bps_quantize(xs[j], inv, s8) * sc;
                if (!bps_same(ye[j], ys[0][j]) || !bps_same(ye[j], want))
                    fail_msg("%s scale %a input %a: engine %a, spec %a, q*s %a", s8 ? "s8" : "u8",
                             (double)sc, (double)xs[j], (double)ye[j], (double)ys[0][j],
                             (double)want);
            }
            free(ys[0]);
            bp_session_free(s);
            bp_model_free(em);
            bpf_model_free(fm);
            free(buf);
        }
        /* the inputs really separate the two readings of the spec */
        printf("  %s: %d inputs where x * (1/s) and x / s round differently\n",
               s8 ? "s8" : "u8", found);
        assert_true(found > 0);
    }
}

/* GELU over a dense sweep of [-12, 12) (every polynomial interval, the cut
 * at |x/sqrt2| = 6) and softmax rows spanning [-120, 0] (exp down to
 * subnormals and the cut at -110), through the public API. */
static void test_gelu_exp_sweep(void **state)
{
    (void)state;
    bpt_wspec ws = {1.0, BPF_ENC_BINARY, 0};
    bpt_builder *b = bpt_new(g_seed, ws);
    assert_non_null(b);
    uint32_t d[4] = {1, 1, 256, 256};
    uint32_t g = bpt_input(b, "g", 4, d), e = bpt_input(b, "e", 4, d);
    bpt_output(b, bpt_gelu(b, g));
    bpt_output(b, bpt_softmax(b, e));
    void *buf = NULL;
    size_t size = 0;
    int st = bpt_write(b, &buf, &size);
    bpt_free(b);
    if (st) fail_msg("sweep model: %d", st);
    enum { NE = 256 * 256 };
    float *xg = malloc(NE * sizeof(float)), *xe = malloc(NE * sizeof(float));
    float *yg = malloc(NE * sizeof(float)), *ye = malloc(NE * sizeof(float));
    assert_true(xg && xe && yg && ye);
    uint64_t rs = g_seed ^ 0x5eedull;
    for (size_t i = 0; i < NE; i++) {
        xg[i] = -12.0f + 24.0f * ((float)i + (float)(bpt_rand(&rs) % 1024) / 1024.0f) / NE;
        xe[i] = -120.0f * (float)(i % 256) / 255.0f + (float)(bpt_rand(&rs) % 1000) * 1e-3f;
    }
    bpf_model *fm = NULL;
    bp_model *em = NULL;
    assert_int_equal(bpf_load_memory(buf, size, 0, &fm), 0);
    assert_int_equal(bp_model_load_memory(buf, size, NULL, &em), 0);
    bp_session_opts o;
    bp_session_opts_init(&o);
    o.backend = "reference";
    o.threads = 1;
    bp_session *s = NULL;
    const float *in[2] = {xg, xe};
    float *out[2] = {yg, ye}, *so[2] = {NULL, NULL};
    size_t sn[2];
    char err[256];
    assert_int_equal(bp_session_create(em, &o, &s), 0);
    assert_int_equal(bp_session_run(s, in, out), 0);
    if (bps_run(fm, 1, in, so, sn, err, sizeof err)) fail_msg("spec: %s", err);
    size_t bad = 0;
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < NE; i++)
            if (!bps_same(out[k][i], so[k][i]) && bad++ < 5)
                printf("  %s(%a): engine %a, spec %a\n", k ? "softmax at" : "gelu",
                       (double)in[k][i], (double)out[k][i], (double)so[k][i]);
    bp_session_free(s);
    bp_model_free(em);
    bpf_model_free(fm);
    free(buf);
    free(xg);
    free(xe);
    free(yg);
    free(ye);
    free(so[0]);
    free(so[1]);
    if (bad) fail_msg("%zu GELU/softmax values differ (seed %llu)", bad,
                      (unsigned long long)g_seed);
}

/* bptool gen models given on the command line (built by meson). */
static void test_gen_models(void **state)
{
    (void)state;
    if (g_nfiles == 0) skip();
    for (int i = 0; i < g_nfiles; i++) check_model(g_files[i], NULL, 0, g_files[i], 1);
}

int main(int argc, char **argv)
{
    g_seed = bpt_test_seed("spec");
    g_nfiles = argc - 1;
    g_files = argv + 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reciprocal),
        cmocka_unit_test(test_op_zoo),
        cmocka_unit_test(test_folds),
        cmocka_unit_test(test_mobile_ops),
        cmocka_unit_test(test_gelu_exp_sweep),
        cmocka_unit_test(test_zoo_resnet),
        cmocka_unit_test(test_zoo_convnext),
        cmocka_unit_test(test_gen_models),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
