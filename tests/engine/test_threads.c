/* Thread-count and batch independence of the integer backends and the float
 * ops, bit for bit: with every split forced on (bp_threads_force), runs at
 * 1, 2 and 3 threads and at batch 1, 2 and 3 must give exactly the outputs
 * of one-image reference runs at 1 thread, on single layers whose small maps
 * take the batch-merged pixel ranges (7x7, 14x14), on short chains and on
 * the model zoo; LayerNorm must equal formats/SPEC.md's formula, restated
 * here, at every block split; the worker team must run each item once. */
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "model_builders.h"
#include "quant.h"
#include "test_helpers.h"
#include "test_suites.h"

static uint64_t g_seed;

/* Every backend of the integer family at batch 1..3 and threads 1..3 against
 * one-image reference runs at 1 thread (which never merge images). */
static void check_model_buf(void *buf, size_t size, const char *what)
{
    bp_model *m = NULL;
    assert_int_equal(bp_model_load_memory(buf, size, NULL, &m), BP_OK);
    const bp_model_info *mi;
    assert_int_equal(bp_model_info_get(m, &mi), BP_OK);
    assert_int_equal(mi->n_inputs, 1);
    uint32_t no = mi->n_outputs;
    assert_true(no <= 8);
    size_t per_img[8], tot1 = 0;
    for (uint32_t o = 0; o < no; o++) {
        per_img[o] = 1;
        for (uint32_t d = 1; d < mi->outputs[o].ndim; d++) per_img[o] *= mi->outputs[o].dims[d];
        tot1 += per_img[o];
    }
    const uint32_t BMAX = 3;
    size_t ne1 = bpt_input_elems(m, 0, 1);
    float *x = malloc(ne1 * BMAX * sizeof(float));
    assert_non_null(x);
    uint64_t rs = g_seed ^ (uint64_t)size;
    bpt_fill_uniform(&rs, x, ne1 * BMAX, -1.5f, 2.0f);
    float *ref[3];
    bp_status st;
    size_t n = 0;
    for (uint32_t img = 0; img < BMAX; img++) {
        const float *in1[1] = {x + img * ne1};
        ref[img] = bpt_run(m, "reference", 1, 1, in1, &n, &st);
        assert_non_null(ref[img]);
        assert_int_equal(n, tot1);
    }
    static const char *const backends[] = {"reference", "bitplane", "csr"};
    bp_threads_force = 1;
    for (int bi = 0; bi < 3; bi++)
        for (uint32_t B = 1; B <= BMAX; B++)
            for (int th = 1; th <= 3; th++) {
                const float *in[1] = {x};
                float *y = bpt_run(m, backends[bi], th, B, in, &n, &st);
                assert_non_null(y);
                assert_int_equal(n, tot1 * B);
                size_t off = 0, off1 = 0;
                for (uint32_t o = 0; o < no; o++) {
                    for (uint32_t img = 0; img < B; img++) {
                        long d = bpt_first_diff(ref[img] + off1, y + off + img * per_img[o],
                                                per_img[o]);
                        if (d >= 0)
                            printf("  %s: %s threads %d batch %u: output %u image %u differs "
                                   "at %ld: %a vs %a\n", what, backends[bi], th, B, o, img, d,
                                   (double)y[off + img * per_img[o] + (size_t)d],
                                   (double)ref[img][off1 + (size_t)d]);
                        assert_true(d < 0);
                    }
                    off += B * per_img[o];
                    off1 += per_img[o];
                }
                free(y);
            }
    bp_threads_force = 0;
    for (uint32_t img = 0; img < BMAX; img++) free(ref[img]);
    free(x);
    bp_model_free(m);
}

typedef struct layer_case {
    const char *what;
    uint32_t c_in, H, W, c_out, kh, kw, stride, pad, groups;
    int s8;
} layer_case;

/* One conv (each backend path, on the map sizes of ConvNeXt's late stages). */
static const layer_case g_layers[] = {
    {"direct 1x1 7x7 u8", 24, 7, 7, 40, 1, 1, 1, 0, 1, 0},
    {"direct 1x1 14x14 s8", 16, 14, 14, 36, 1, 1, 1, 0, 1, 1},
    {"direct 1x1 4x4 grouped", 12, 4, 4, 18, 1, 1, 1, 0, 3, 0},
    {"direct 1x1 8x8 (full vectors)", 8, 8, 8, 12, 1, 1, 1, 0, 1, 0},
    {"space-to-depth 2x2/2 14x14", 12, 14, 14, 24, 2, 2, 2, 0, 1, 1},
    {"space-to-depth 2x2/2 grouped", 8, 6, 10, 8, 2, 2, 2, 0, 2, 0},
    {"implicit depthwise 7x7 at 7x7", 16, 7, 7, 16, 7, 7, 1, 3, 16, 1},
    {"padded 3x3 at 4x4", 8, 4, 4, 16, 3, 3, 1, 1, 1, 0},
    {"im2col 3x3/2 at 9x9", 6, 9, 9, 10, 3, 3, 2, 1, 1, 1},
};

static void test_threads_layers(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof g_layers / sizeof g_layers[0]; i++) {
        const layer_case *c = &g_layers[i];
        bpt_wspec ws = {0.3, 0, 0};
        bpt_builder *b = bpt_new(g_seed + i * 131u, ws);
        assert_non_null(b);
        uint32_t d[4] = {1, c->c_in, c->H, c->W};
        uint32_t x = bpt_input(b, "x", 4, d);
        uint32_t y = bpt_conv(b, "conv", x, c->c_out, c->kh, c->kw, c->stride, c->pad, 1,
                              c->groups, c->s8);
        bpt_output(b, bpt_relu(b, y));
        void *buf = NULL;
        size_t size = 0;
        assert_int_equal(bpt_write(b, &buf, &size), 0);
        check_model_buf(buf, size, c->what);
        free(buf);
        bpt_free(b);
    }
}

/* A ConvNeXt block at 7x7 (LayerNorm writing the quantized input of a
 * batch-merged 1x1 conv, GELU epilogue writing the next one's, residual)
 * and a linear head. */
static void test_threads_block(void **state)
{
    (void)state;
    bpt_wspec ws = {0.2, 0, 0};
    bpt_builder *b = bpt_new(g_seed ^ 0x7b7u, ws);
    assert_non_null(b);
    uint32_t d[4] = {1, 16, 7, 7};
    uint32_t x = bpt_input(b, "x", 4, d);
    uint32_t t = bpt_conv(b, "dw", x, 16, 7, 7, 1, 3, 1, 16, 1);
    t = bpt_layernorm(b, t, 1e-6f, NULL, NULL);
    t = bpt_gelu(b, bpt_conv(b, "pw1", t, 64, 1, 1, 1, 0, 1, 1, 1));
    t = bpt_conv(b, "pw2", t, 16, 1, 1, 1, 0, 1, 1, 0);
    t = bpt_add(b, x, t);
    bpt_output(b, t);
    t = bpt_layernorm(b, bpt_gap(b, t), 1e-6f, NULL, NULL);
    bpt_output(b, bpt_linear(b, "head", bpt_flatten(b, t), 10, 1));
    assert_int_equal(bpt_calibrate(b, 2), 0);
    void *buf = NULL;
    size_t size = 0;
    assert_int_equal(bpt_write(b, &buf, &size), 0);
    check_model_buf(buf, size, "convnext block at 7x7");
    free(buf);
    bpt_free(b);
}

static void test_threads_zoo(void **state)
{
    (void)state;
    void *buf = NULL;
    size_t size = 0;
    assert_int_equal(bpt_build_resnet(g_seed, 0.9, 0, &buf, &size), 0);
    check_model_buf(buf, size, "resnet zoo");
    free(buf);
    assert_int_equal(bpt_build_convnext(g_seed, 0.9, 1, &buf, &size), 0);
    check_model_buf(buf, size, "convnext zoo");
    free(buf);
}

/* formats/SPEC.md 7.1 LAYERNORM, restated in the order it defines. */
static void ln_spec(const float *x, const float *g, const float *be, float eps, float *y,
                    size_t N, size_t C, size_t HW)
{
    for (size_t n = 0; n < N; n++)
        for (size_t p = 0; p < HW; p++) {
            const float *xp = x + n * C * HW + p;
            double S = 0.0;
            for (size_t c = 0; c < C; c++) S += (double)xp[c * HW];
            double mu = S / (double)C, V = 0.0;
            for (size_t c = 0; c < C; c++) {
                double dd = (double)xp[c * HW] - mu;
                V += dd * dd;
            }
            double r = 1.0 / sqrt(V / (double)C + (double)eps);
            for (size_t c = 0; c < C; c++) {
                float v = (float)(((double)xp[c * HW] - mu) * r);
                float pr = v * g[c];
                y[n * C * HW + c * HW + p] = pr + be[c];
            }
        }
}

/* bp_op_layernorm, its quantizing twin and the channels-last one against
 * the formula, at block splits of 1..3 threads (forced) and map sizes that
 * give full and partial 8-pixel vectors. */
static void test_threads_layernorm(void **state)
{
    (void)state;
    static const size_t shapes[][2] = {{5, 1}, {3, 7}, {24, 49}, {40, 196},
                                       {16, 300}, {7, 33}, {96, 784}};
    bp_kernel_table kt;
    bp_kernels_init(&kt, bp_isa_mask_from_env());
    uint64_t rs = g_seed ^ 0x1a7e4u;
    bp_threads_force = 1;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (size_t N = 1; N <= 3; N++) {
            size_t C = shapes[si][0], HW = shapes[si][1], ne = N * C * HW;
            float *x = malloc(ne * sizeof(float)), *want = malloc(ne * sizeof(float));
            float *y = malloc(ne * sizeof(float)), *xt = malloc(ne * sizeof(float));
            float *yt = malloc(ne * sizeof(float)), *g = malloc(C * sizeof(float));
            float *be = malloc(C * sizeof(float));
            uint8_t *q = malloc(ne);
            assert_true(x && want && y && xt && yt && g && be && q);
            bpt_fill_uniform(&rs, x, ne, -4.0f, 6.0f);
            bpt_fill_uniform(&rs, g, C, -2.0f, 2.0f);
            bpt_fill_uniform(&rs, be, C, -1.0f, 1.0f);
            ln_spec(x, g, be, 1e-5f, want, N, C, HW);
            const float inv = 1.0f / 0.05f;
            for (int th = 1; th <= 3; th++) {
                memset(y, 0, ne * sizeof(float));
                bp_op_layernorm(&kt, x, g, be, 1e-5f, y, N, C, HW, th);
                long d = bpt_first_diff(want, y, ne);
                if (d >= 0)
                    printf("  layernorm C %zu HW %zu N %zu threads %d: %ld differs\n", C, HW, N,
                           th, d);
                assert_true(d < 0);
                /* quantizing form: float rows and u8 bytes (rows of HW pixels) */
                bp_qdest qd = {.base = q, .nstride = C * HW, .cstride = HW, .ldrow = HW,
                               .type = BP_ACT_U8, .inv = inv};
                memset(y, 0, ne * sizeof(float));
                bp_op_layernorm_q(&kt, x, g, be, 1e-5f, y, &qd, 1, N, C, HW, HW, th, NULL);
                assert_true(bpt_first_diff(want, y, ne) < 0);
                for (size_t i = 0; i < ne; i++) assert_int_equal(q[i], bp_quant_u8(want[i], inv));
                /* on a worker team of th threads */
                bp_team *team = NULL;
                assert_int_equal(bp_team_new(th, &team), BP_OK);
                memset(y, 0, ne * sizeof(float));
                memset(q, 0, ne);
                bp_op_layernorm_q(&kt, x, g, be, 1e-5f, y, &qd, 1, N, C, HW, HW, th, team);
                bp_team_free(team);
                assert_true(bpt_first_diff(want, y, ne) < 0);
                for (size_t i = 0; i < ne; i++) assert_int_equal(q[i], bp_quant_u8(want[i], inv));
                /* channels-last */
                bp_op_nchw_to_nhwc(x, xt, N, C, HW, 1);
                bp_op_layernorm_nhwc(xt, g, be, 1e-5f, yt, N, C, HW, th);
                bp_op_nhwc_to_nchw(yt, y, N, C, HW, 1);
                assert_true(bpt_first_diff(want, y, ne) < 0);
            }
            free(x); free(want); free(y); free(xt); free(yt); free(g); free(be); free(q);
        }
    bp_threads_force = 0;
}

/* The worker team: every item of every job runs exactly once, on a slot the
 * team has, and the job's writes are visible when bp_team_run returns. */
typedef struct team_job {
    _Atomic unsigned *count;
    int *stamp; /* plain writes: visible after bp_team_run only if it synchronises */
    int rep;
    unsigned slots;
    _Atomic unsigned bad_slot;
} team_job;

static void team_item(void *ctx, size_t i, unsigned slot)
{
    team_job *j = ctx;
    if (slot >= j->slots) atomic_fetch_add(&j->bad_slot, 1);
    atomic_fetch_add(&j->count[i], 1);
    j->stamp[i] = j->rep;
}

static void test_threads_team(void **state)
{
    (void)state;
    for (int th = 1; th <= 3; th++) {
        bp_team *t = NULL;
        assert_int_equal(bp_team_new(th, &t), BP_OK);
        assert_true(th == 1 ? t == NULL : t != NULL);
        assert_int_equal(bp_team_slots(t), (unsigned)th);
        static const size_t sizes[] = {0, 1, 2, 3, 7, 64, 301};
        _Atomic unsigned count[301];
        int stamp[301];
        /* many short jobs back to back: workers join late, leave early,
         * sleep and wake between them */
        for (int rep = 0; rep < 5000; rep++) {
            size_t n = sizes[rep % 7];
            for (size_t i = 0; i < n; i++) atomic_init(&count[i], 0);
            team_job j = {count, stamp, rep, (unsigned)th, 0};
            bp_team_run(t, n, team_item, &j);
            assert_int_equal(atomic_load(&j.bad_slot), 0);
            for (size_t i = 0; i < n; i++) {
                assert_int_equal(atomic_load(&count[i]), 1);
                assert_int_equal(stamp[i], rep);
            }
            if (rep % 1000 == 999) usleep(2000); /* let the workers fall asleep */
        }
        bp_team_free(t);
    }
}

int bpt_suite_threads(uint64_t seed)
{
    g_seed = seed;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_team),
        cmocka_unit_test(test_threads_layernorm),
        cmocka_unit_test(test_threads_layers),
        cmocka_unit_test(test_threads_block),
        cmocka_unit_test(test_threads_zoo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
