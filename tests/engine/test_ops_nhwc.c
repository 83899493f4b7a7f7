/* Channels-last (NHWC) float ops and sessions: every NHWC op against its
 * NCHW twin on the same logical tensor (bit-identical, threads 1 and 2),
 * the layout conversions against their index formula, and whole float
 * graphs (shape-changing adds, flatten, softmax over W, converted graph
 * inputs/outputs) run in an NHWC session ("onednn-f32") against an NCHW one
 * ("bitplane"), bit for bit. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "model_builders.h"
#include "test_helpers.h"

static uint64_t g_seed;
static bp_kernel_table g_kt; /* the row ops of the NCHW ops (BP_ISA caps it) */

typedef struct bpt_shape {
    uint32_t N, C, H, W;
} bpt_shape;

/* Odd channel counts (not a multiple of 8 or 16), C > 256 (the global pool's
 * channel block), C == 1, H*W == 1, and one plane large enough to run
 * parallel. */
static const bpt_shape g_shapes[] = {
    {1, 3, 5, 7}, {2, 17, 6, 5}, {1, 1, 9, 4}, {2, 40, 1, 1}, {1, 300, 3, 3},
    {3, 8, 2, 13}, {1, 96, 28, 28},
};
#define BPT_NSHAPES (sizeof g_shapes / sizeof g_shapes[0])

static float *bpt_rand_tensor(size_t n, uint64_t salt, int specials)
{
    float *x = malloc(n * sizeof(float));
    assert_non_null(x);
    uint64_t s = g_seed ^ (salt * 0x9e3779b97f4a7c15ull);
    bpt_fill_uniform(&s, x, n, -4.0f, 4.0f);
    if (specials && n > 8) {
        x[n / 3] = NAN;
        x[n / 2] = INFINITY;
        x[n - 1] = -INFINITY;
        x[1] = -0.0f;
    }
    return x;
}

static float *bpt_to_nhwc(const float *x, const bpt_shape *s)
{
    size_t n = (size_t)s->N * s->C * s->H * s->W;
    float *y = malloc(n * sizeof(float));
    assert_non_null(y);
    bp_op_nchw_to_nhwc(x, y, s->N, s->C, (size_t)s->H * s->W, 2);
    return y;
}

/* y (NHWC, shape s) equals want (NCHW) bit for bit. */
static void bpt_expect_same(const float *y_nhwc, const float *want, const bpt_shape *s,
                            const char *what)
{
    size_t n = (size_t)s->N * s->C * s->H * s->W;
    float *back = malloc(n * sizeof(float));
    assert_non_null(back);
    bp_op_nhwc_to_nchw(y_nhwc, back, s->N, s->C, (size_t)s->H * s->W, 1);
    long d = bpt_first_diff(back, want, n);
    if (d >= 0)
        print_message("%s (%u,%u,%u,%u): element %ld NHWC %a, NCHW %a\n", what, s->N, s->C,
                      s->H, s->W, d, (double)back[d], (double)want[d]);
    assert_true(d < 0);
    free(back);
}

static void test_conversions(void **unused)
{
    (void)unused;
    for (size_t i = 0; i < BPT_NSHAPES; i++) {
        const bpt_shape *s = &g_shapes[i];
        size_t HW = (size_t)s->H * s->W, n = s->N * s->C * HW;
        float *x = bpt_rand_tensor(n, i, 0);
        float *y = bpt_to_nhwc(x, s);
        for (size_t b = 0; b < s->N; b++)
            for (size_t c = 0; c < s->C; c++)
                for (size_t p = 0; p < HW; p++)
                    assert_true(y[(b * HW + p) * s->C + c] == x[(b * s->C + c) * HW + p]);
        float *z = malloc(n * sizeof(float));
        assert_non_null(z);
        bp_op_nhwc_to_nchw(y, z, s->N, s->C, HW, 2);
        assert_memory_equal(z, x, n * sizeof(float));
        free(x); free(y); free(z);
    }
}

static void test_layernorm_affine_nhwc(void **unused)
{
    (void)unused;
    for (size_t i = 0; i < BPT_NSHAPES; i++) {
        const bpt_shape *s = &g_shapes[i];
        size_t HW = (size_t)s->H * s->W, n = s->N * s->C * HW;
        float *x = bpt_rand_tensor(n, 100 + i, 0);
        float *g = bpt_rand_tensor(s->C, 200 + i, 0), *b = bpt_rand_tensor(s->C, 300 + i, 0);
        float *xn = bpt_to_nhwc(x, s);
        float *want = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
        assert_non_null(want);
        assert_non_null(y);
        for (int threads = 1; threads <= 2; threads++) {
            bp_op_layernorm(&g_kt, x, g, b, 1e-6f, want, s->N, s->C, HW, threads);
            bp_op_layernorm_nhwc(xn, g, b, 1e-6f, y, s->N, s->C, HW, threads);
            bpt_expect_same(y, want, s, "layernorm");
            bp_op_channel_affine(x, g, b, want, s->N, s->C, HW, threads);
            bp_op_channel_affine_nhwc(xn, g, b, y, s->N, s->C, HW, threads);
            bpt_expect_same(y, want, s, "batchnorm");
            bp_op_channel_affine(x, g, NULL, want, s->N, s->C, HW, threads);
            bp_op_channel_affine_nhwc(xn, g, NULL, y, s->N, s->C, HW, threads);
            bpt_expect_same(y, want, s, "layerscale");
        }
        free(x); free(g); free(b); free(xn); free(want); free(y);
    }
}

static void test_pool_nhwc(void **unused)
{
    (void)unused;
    /* kh, kw, sh, sw, pt, pl, pb, pr: padded, uneven, window past the edge */
    static const int32_t params[][8] = {
        {3, 3, 2, 2, 1, 1, 1, 1}, {2, 2, 2, 2, 0, 0, 0, 0}, {3, 2, 1, 2, 0, 1, 2, 0},
        {1, 1, 1, 1, 0, 0, 0, 0}, {4, 4, 3, 3, 2, 2, 2, 2},
    };
    for (size_t i = 0; i < BPT_NSHAPES; i++) {
        const bpt_shape *s = &g_shapes[i];
        size_t HW = (size_t)s->H * s->W, n = s->N * s->C * HW;
        float *x = bpt_rand_tensor(n, 400 + i, 1);
        float *xn = bpt_to_nhwc(x, s);
        for (size_t k = 0; k < sizeof params / sizeof params[0]; k++) {
            const int32_t *a = params[k];
            uint32_t OH = bp_conv_out_dim(s->H, (uint32_t)a[0], (uint32_t)a[2], (uint32_t)a[4],
                                          (uint32_t)a[6], 1);
            uint32_t OW = bp_conv_out_dim(s->W, (uint32_t)a[1], (uint32_t)a[3], (uint32_t)a[5],
                                          (uint32_t)a[7], 1);
            if (!OH || !OW) continue;
            bpt_shape os = {s->N, s->C, OH, OW};
            size_t no = (size_t)s->N * s->C * OH * OW;
            float *want = malloc(no * sizeof(float)), *y = malloc(no * sizeof(float));
            assert_non_null(want);
            assert_non_null(y);
            for (int is_max = 0; is_max <= 1; is_max++)
                for (int threads = 1; threads <= 2; threads++) {
                    bp_op_pool(x, want, s->N, s->C, s->H, s->W, OH, OW, a, is_max, threads);
                    bp_op_pool_nhwc(xn, y, s->N, s->C, s->H, s->W, OH, OW, a, is_max, threads);
                    bpt_expect_same(y, want, &os, is_max ? "maxpool" : "avgpool");
                }
            free(want); free(y);
        }
        free(x); free(xn);
    }
}

static void test_gap_softmax_nhwc(void **unused)
{
    (void)unused;
    for (size_t i = 0; i < BPT_NSHAPES; i++) {
        const bpt_shape *s = &g_shapes[i];
        size_t HW = (size_t)s->H * s->W, n = s->N * s->C * HW;
        float *x = bpt_rand_tensor(n, 500 + i, 0);
        float *xn = bpt_to_nhwc(x, s);
        float *want = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
        assert_non_null(want);
        assert_non_null(y);
        for (int threads = 1; threads <= 2; threads++) {
            bp_op_global_avgpool(x, want, s->N, s->C, HW, threads);
            bp_op_global_avgpool_nhwc(xn, y, s->N, s->C, HW, threads);
            assert_true(bpt_first_diff(y, want, (size_t)s->N * s->C) < 0);
            bp_op_softmax(&g_kt, x, want, (size_t)s->N * s->C * s->H, s->W, threads);
            bp_op_softmax_nhwc(&g_kt, xn, y, s->N, s->C, s->H, s->W, threads);
            bpt_expect_same(y, want, s, "softmax");
        }
        free(x); free(xn); free(want); free(y);
    }
}

/* Runs the model on an NCHW session ("bitplane") and an NHWC one
 * ("onednn-f32": the graph has no conv/linear, so only the shared float ops
 * and the session's conversions run) and compares all outputs bit for bit. */
static void bpt_compare_sessions(bpt_builder *b, const float *const *in, uint32_t batch,
                                 const char *what)
{
    void *buf = NULL;
    size_t size = 0;
    assert_int_equal(bpt_write(b, &buf, &size), 0);
    bp_model *m = NULL;
    assert_int_equal(bp_model_load_memory(buf, size, NULL, &m), BP_OK);
    for (int threads = 1; threads <= 2; threads++) {
        bp_status st;
        size_t na = 0, nb = 0;
        float *ya = bpt_run(m, "bitplane", threads, batch, in, &na, &st);
        float *yb = bpt_run(m, "onednn-f32", threads, batch, in, &nb, &st);
        assert_non_null(ya);
        assert_non_null(yb);
        assert_int_equal(na, nb);
        long d = bpt_first_diff(ya, yb, na);
        if (d >= 0)
            print_message("%s threads %d: output float %ld NCHW session %a, NHWC %a\n", what,
                          threads, d, (double)ya[d], (double)yb[d]);
        assert_true(d < 0);
        free(ya);
        free(yb);
    }
    bp_model_free(m);
    free(buf);
}

/* A ConvNeXt-like float chain plus the graph edges where the layouts meet:
 * a 4-D output that later steps still read, flatten of an (N, C, H, W)
 * tensor, softmax over W, an output that is an input. */
static void test_session_float_graph(void **unused)
{
    (void)unused;
    const uint32_t batch = 2;
    bpt_wspec ws = {1.0, 0, 0};
    bpt_builder *b = bpt_new(g_seed, ws);
    const uint32_t dims[4] = {1, 6, 9, 11};
    uint32_t x = bpt_input(b, "x", 4, dims);
    uint32_t a = bpt_gelu(b, bpt_layernorm(b, x, 1e-6f, NULL, NULL));
    uint32_t c = bpt_add(b, a, bpt_batchnorm(b, a, NULL, NULL));
    uint32_t sm = bpt_softmax(b, bpt_layerscale(b, c, NULL));
    uint32_t e = bpt_pool(b, sm, 1, 3, 2, 1);
    uint32_t f = bpt_pool(b, bpt_relu(b, e), 0, 2, 1, 1);
    uint32_t g = bpt_softmax(b, bpt_flatten(b, bpt_gap(b, f)));
    bpt_output(b, c);
    bpt_output(b, g);
    bpt_output(b, bpt_flatten(b, e));
    bpt_output(b, x);
    size_t n = (size_t)batch * 6 * 9 * 11;
    float *in0 = bpt_rand_tensor(n, 600, 0);
    const float *in[1] = {in0};
    bpt_compare_sessions(b, in, batch, "float graph");
    bpt_free(b);
    free(in0);
}

/* Tensors a channels-last session keeps as they are (2-D, 3-D, 4-D with
 * C == 1 or H*W == 1) meeting converted ones: flatten of a 4-D tensor added
 * to a 2-D input, layer norm and softmax of a 3-D tensor, pools and layer
 * of (N, 1, H, W), layer norm and softmax of (N, C, 1, 1). */
static void test_session_mixed_shapes(void **unused)
{
    (void)unused;
    const uint32_t batch = 3;
    bpt_wspec ws = {1.0, 0, 0};
    bpt_builder *b = bpt_new(g_seed, ws);
    const uint32_t d4[4] = {1, 6, 4, 5}, d2[2] = {1, 120}, d3[3] = {1, 7, 10};
    const uint32_t dc1[4] = {1, 1, 5, 6};
    uint32_t x = bpt_input(b, "x", 4, d4);
    uint32_t y = bpt_input(b, "y", 2, d2);
    uint32_t t = bpt_input(b, "t", 3, d3);
    uint32_t u = bpt_input(b, "u", 4, dc1);
    bpt_output(b, bpt_add(b, bpt_flatten(b, bpt_gelu(b, x)), y));
    bpt_output(b, bpt_softmax(b, bpt_layernorm(b, t, 1e-5f, NULL, NULL)));
    bpt_output(b, bpt_pool(b, bpt_layerscale(b, u, NULL), 1, 3, 2, 1));
    uint32_t x11 = bpt_pool(b, x, 0, 4, 4, 0); /* (N, 6, 1, 1) */
    bpt_output(b, bpt_softmax(b, bpt_layernorm(b, x11, 1e-5f, NULL, NULL)));
    float *ix = bpt_rand_tensor(batch * 120, 700, 0), *iy = bpt_rand_tensor(batch * 120, 701, 0);
    float *it = bpt_rand_tensor(batch * 70, 702, 0), *iu = bpt_rand_tensor(batch * 30, 703, 0);
    const float *in[4] = {ix, iy, it, iu};
    bpt_compare_sessions(b, in, batch, "mixed shapes");
    bpt_free(b);
    free(ix); free(iy); free(it); free(iu);
}

int main(void)
{
    g_seed = bpt_test_seed("engine_nhwc");
    bp_kernels_init(&g_kt, bp_isa_mask_from_env());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conversions),
        cmocka_unit_test(test_layernorm_affine_nhwc),
        cmocka_unit_test(test_pool_nhwc),
        cmocka_unit_test(test_gap_softmax_nhwc),
        cmocka_unit_test(test_session_float_graph),
        cmocka_unit_test(test_session_mixed_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
