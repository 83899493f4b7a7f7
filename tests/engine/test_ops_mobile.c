/* The mobile-network ops (SIGMOID, HARDSIGMOID, HARDSWISH, CLIP, MUL,
 * broadcasting ADD/MUL, CONCAT, RESIZE, CONVTRANSPOSE) on every backend:
 * a float-only graph (NCHW sessions and the channels-last oneDNN ones, with
 * the broadcast and concat shapes where the layouts meet) bit-identical to
 * "reference"; a MobileNetV3-like block with conv layers (depthwise conv,
 * squeeze-excitation, hardswish, concat of an upsampled branch, a
 * transposed conv) bit-identical on "bitplane" and "csr". Batch 2, threads
 * 1 and 2, special values in the inputs. Seeded (BP_TEST_SEED). */
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
#include "test_helpers.h"

static uint64_t g_seed;

static uint32_t mo_same(bpt_builder *b, uint32_t op, uint32_t n_in, const uint32_t *in,
                        const float *fv)
{
    uint32_t nd;
    const uint32_t *d = bpt_dims(b, in[0], &nd);
    uint32_t od[BPF_MAX_DIMS];
    memcpy(od, d, nd * sizeof *od);
    return bpt_op(b, op, n_in, in, NULL, fv, nd, od);
}

static uint32_t mo_un(bpt_builder *b, uint32_t op, uint32_t x, float f0, float f1)
{
    float fv[4] = {f0, f1};
    return mo_same(b, op, 1, &x, fv);
}

static uint32_t mo_bin(bpt_builder *b, uint32_t op, uint32_t x, uint32_t y)
{
    uint32_t in[2] = {x, y};
    return mo_same(b, op, 2, in, NULL);
}

static uint32_t mo_concat(bpt_builder *b, uint32_t n, const uint32_t *in, int32_t axis)
{
    uint32_t nd;
    uint32_t od[BPF_MAX_DIMS];
    memcpy(od, bpt_dims(b, in[0], &nd), sizeof od);
    od[axis] = 0;
    for (uint32_t k = 0; k < n; k++) od[axis] += bpt_dims(b, in[k], &nd)[axis];
    int32_t iv[8] = {axis};
    return bpt_op(b, BPF_OP_CONCAT, n, in, iv, NULL, nd, od);
}

static uint32_t mo_resize(bpt_builder *b, uint32_t x, int mode, int ct, int rnd, float s)
{
    uint32_t nd;
    const uint32_t *d = bpt_dims(b, x, &nd);
    uint32_t od[4] = {1, d[1], (uint32_t)floor(d[2] * (double)s),
                      (uint32_t)floor(d[3] * (double)s)};
    int32_t iv[8] = {mode, ct, rnd};
    float fv[4] = {s, s};
    return bpt_op(b, BPF_OP_RESIZE, 1, &x, iv, fv, 4, od);
}

static uint32_t mo_convt(bpt_builder *b, uint32_t x, uint32_t co, uint32_t k, const int32_t *iv)
{
    uint32_t nd;
    const uint32_t *d = bpt_dims(b, x, &nd);
    uint32_t wd[4] = {d[1], co, k, k}, bd[1] = {co};
    uint32_t od[4] = {1, co, (d[2] - 1) * (uint32_t)iv[0] - (uint32_t)(iv[2] + iv[4]) + k +
                                 (uint32_t)iv[6],
                      (d[3] - 1) * (uint32_t)iv[1] - (uint32_t)(iv[3] + iv[5]) + k +
                          (uint32_t)iv[7]};
    uint32_t in[3] = {x, bpt_const(b, NULL, 4, wd, NULL), bpt_const(b, NULL, 1, bd, NULL)};
    return bpt_op(b, BPF_OP_CONVTRANSPOSE, 3, in, iv, NULL, 4, od);
}

static float *mo_input(size_t n, uint64_t salt)
{
    float *x = malloc(n * sizeof(float));
    assert_non_null(x);
    uint64_t s = g_seed ^ (salt * 0x9e3779b97f4a7c15ull);
    bpt_fill_uniform(&s, x, n, -4.0f, 4.0f);
    if (n > 16) {
        x[n / 3] = NAN;
        x[n / 2] = INFINITY;
        x[n - 1] = -INFINITY;
        x[1] = -0.0f;
        x[n / 5] = 1e-42f;
    }
    return x;
}

/* Runs every backend in `backends` at batch 2, threads 1 and 2, against
 * "reference" at 1 thread, bit for bit. */
static void mo_compare(bpt_builder *b, uint32_t n_in, const char *const *backends, int nb,
                       const char *what)
{
    void *buf = NULL;
    size_t size = 0;
    assert_int_equal(bpt_write(b, &buf, &size), 0);
    bp_model *m = NULL;
    if (bp_model_load_memory(buf, size, NULL, &m)) fail_msg("%s: %s", what, bp_last_error());
    const uint32_t batch = 2;
    float *in[4] = {0};
    for (uint32_t i = 0; i < n_in; i++) in[i] = mo_input(bpt_input_elems(m, i, batch), 40 + i);
    bp_status st;
    size_t nr = 0;
    float *ref = bpt_run(m, "reference", 1, batch, (const float *const *)in, &nr, &st);
    assert_non_null(ref);
    for (int k = 0; k < nb; k++)
        for (int threads = 1; threads <= 2; threads++) {
            size_t ny = 0;
            float *y = bpt_run(m, backends[k], threads, batch, (const float *const *)in, &ny, &st);
            if (!y) fail_msg("%s: %s threads %d failed", what, backends[k], threads);
            assert_int_equal(ny, nr);
            long d = bpt_first_diff(ref, y, nr);
            if (d >= 0)
                fail_msg("%s: %s threads %d: output float %ld is %a, reference %a (seed %llu)",
                         what, backends[k], threads, d, (double)y[d], (double)ref[d],
                         (unsigned long long)g_seed);
            free(y);
        }
    free(ref);
    for (uint32_t i = 0; i < n_in; i++) free(in[i]);
    bp_model_free(m);
    free(buf);
}

/* Float ops only: the oneDNN sessions keep 4-D activations channels-last,
 * so broadcast operands of every kind ((N,C,1,1), (N,1,H,W), constants of
 * lower rank) and concat along C, H and W meet converted tensors there. */
static void test_float_graph_all_backends(void **unused)
{
    (void)unused;
    static const char *const every[] = {"reference", "bitplane", "csr", "onednn-int8",
                                        "onednn-f32"};
    /* the ones this library was built with (the oneDNN pair is optional) */
    const char *all[5];
    int n_all = 0;
    for (int i = 0; i < 5; i++)
        for (uint32_t k = 0; k < bp_backend_count(); k++)
            if (!strcmp(every[i], bp_backend_name(k))) all[n_all++] = every[i];
    assert_true(n_all >= 3);
    bpt_wspec ws = {1.0, 0, 0};
    for (int part = 0; part < 3; part++) {
        bpt_builder *b = bpt_new(g_seed ^ (0xa11u + (unsigned)part), ws);
        uint32_t dx[4] = {1, 6, 5, 7}, ds[4] = {1, 6, 1, 1}, dp[4] = {1, 1, 5, 7};
        uint32_t x = bpt_input(b, "x", 4, dx), se = bpt_input(b, "s", 4, ds);
        uint32_t pl = bpt_input(b, "p", 4, dp);
        if (part == 0) {
            uint32_t h = mo_un(b, BPF_OP_HARDSWISH, x, 0, 0);
            uint32_t g = mo_un(b, BPF_OP_HARDSIGMOID, se, 1.0f / 6.0f, 0.5f);
            uint32_t m1 = mo_bin(b, BPF_OP_MUL, h, g);             /* (N,C,1,1) */
            uint32_t m2 = mo_bin(b, BPF_OP_ADD, m1, pl);           /* (N,1,H,W) */
            uint32_t cd[3] = {6, 1, 7}, wd[2] = {5, 1};
            uint32_t m3 = mo_bin(b, BPF_OP_MUL, m2, bpt_const(b, NULL, 3, cd, NULL));
            uint32_t m4 = mo_bin(b, BPF_OP_ADD, m3, bpt_const(b, NULL, 2, wd, NULL));
            bpt_output(b, mo_un(b, BPF_OP_CLIP, m4, -1.0f, 6.0f));
            bpt_output(b, mo_un(b, BPF_OP_SIGMOID, mo_bin(b, BPF_OP_MUL, x, x), 0, 0));
            bpt_output(b, mo_bin(b, BPF_OP_MUL, se, mo_un(b, BPF_OP_SIGMOID, se, 0, 0)));
        } else if (part == 1) {
            uint32_t s = mo_un(b, BPF_OP_SIGMOID, x, 0, 0);
            uint32_t c3[3] = {x, s, mo_bin(b, BPF_OP_MUL, s, se)};
            uint32_t cc = mo_concat(b, 3, c3, 1);
            uint32_t c2[2] = {cc, cc};
            bpt_output(b, mo_concat(b, 2, c2, 2));
            uint32_t cw[2] = {mo_un(b, BPF_OP_HARDSWISH, x, 0, 0), x};
            bpt_output(b, mo_concat(b, 2, cw, 3));
            uint32_t cp[2] = {pl, pl}; /* C == 1 inputs, C == 2 output */
            bpt_output(b, mo_concat(b, 2, cp, 1));
            uint32_t cs[4] = {se, se, se, se}; /* H*W == 1 */
            bpt_output(b, mo_concat(b, 4, cs, 1));
        } else {
            int32_t s2[8] = {2, 2, 1, 1, 1, 1, 1, 1};
            uint32_t up = mo_resize(b, x, BPF_RESIZE_NEAREST, BPF_RESIZE_ASYMMETRIC,
                                    BPF_RESIZE_FLOOR, 2.0f);
            bpt_output(b, mo_bin(b, BPF_OP_ADD, up, mo_convt(b, x, 6, 3, s2)));
            bpt_output(b, mo_resize(b, x, BPF_RESIZE_LINEAR, BPF_RESIZE_HALF_PIXEL, 0, 2.0f));
            bpt_output(b, mo_resize(b, se, BPF_RESIZE_LINEAR, BPF_RESIZE_ALIGN_CORNERS, 0,
                                    3.0f));
            bpt_output(b, mo_convt(b, pl, 3, 2, s2));
        }
        char what[32];
        snprintf(what, sizeof what, "float graph %d", part);
        mo_compare(b, 3, all, n_all, what);
        bpt_free(b);
    }
}

/* A MobileNetV3-like network: conv 3x3/2 + hardswish, depthwise 3x3,
 * squeeze-excitation (gap, 1x1 conv, relu, 1x1 conv, hardsigmoid, mul),
 * 1x1 projection with a residual add, an upsampled branch concatenated,
 * a transposed conv, and a classifier: "bitplane" and "csr" equal "reference". */
static void test_mobilenet_block_backends(void **unused)
{
    (void)unused;
    /* onednn-int8 is exact only for s8 weights and VNNI (tests/engine/onednn);
     * the float ops it shares are covered by the float graph above */
    static const char *const ints[] = {"bitplane", "csr"};
    bpt_wspec ws = {0.5, BPF_ENC_CSD, 0};
    bpt_builder *b = bpt_new(g_seed ^ 0x3b3, ws);
    uint32_t dx[4] = {1, 3, 16, 16};
    uint32_t x = bpt_input(b, "x", 4, dx);
    uint32_t t = mo_un(b, BPF_OP_HARDSWISH, bpt_conv(b, "stem", x, 16, 3, 3, 2, 1, 1, 1, 1), 0, 0);
    uint32_t dw = mo_un(b, BPF_OP_HARDSWISH, bpt_conv(b, "dw", t, 16, 3, 3, 1, 1, 1, 16, 1), 0, 0);
    uint32_t sq = bpt_relu(b, bpt_conv(b, "se1", bpt_gap(b, dw), 8, 1, 1, 1, 0, 1, 1, 0));
    uint32_t ex = mo_un(b, BPF_OP_HARDSIGMOID, bpt_conv(b, "se2", sq, 16, 1, 1, 1, 0, 1, 1, 0),
                        1.0f / 6.0f, 0.5f);
    uint32_t se = mo_bin(b, BPF_OP_MUL, dw, ex);
    uint32_t pr = bpt_add(b, bpt_conv(b, "proj", se, 16, 1, 1, 1, 0, 1, 1, 1), t);
    uint32_t lo = mo_un(b, BPF_OP_CLIP, bpt_conv(b, "down", pr, 8, 3, 3, 2, 1, 1, 1, 1), 0.0f,
                        6.0f);
    uint32_t up = mo_resize(b, lo, BPF_RESIZE_LINEAR, BPF_RESIZE_HALF_PIXEL, 0, 2.0f);
    /* 16 -> 8 -> 4 -> 8: the upsampled branch meets pr */
    uint32_t cat_in[2] = {up, mo_un(b, BPF_OP_SIGMOID, pr, 0, 0)};
    uint32_t cat = mo_concat(b, 2, cat_in, 1);
    uint32_t fuse = bpt_conv(b, "fuse", cat, 12, 1, 1, 1, 0, 1, 1, 1);
    int32_t s2[8] = {2, 2, 1, 1, 1, 1, 1, 1};
    uint32_t ct = mo_convt(b, fuse, 4, 3, s2);
    bpt_output(b, mo_un(b, BPF_OP_HARDSWISH, bpt_conv(b, "head", ct, 6, 3, 3, 1, 1, 1, 1, 1),
                        0, 0));
    bpt_output(b, bpt_linear(b, "fc", bpt_flatten(b, bpt_gap(b, pr)), 10, 1));
    assert_int_equal(bpt_calibrate(b, 2), 0);
    mo_compare(b, 1, ints, 2, "mobilenet block");
    bpt_free(b);
}

int main(void)
{
    g_seed = bpt_test_seed("engine_mobile");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_float_graph_all_backends),
        cmocka_unit_test(test_mobilenet_block_backends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
