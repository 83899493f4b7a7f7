/* The public writer API (bitprune_builder.h): models built through it load and
 * compute what their integer weights say, every misuse returns a status and a
 * message naming what is wrong, and random call sequences never crash or
 * produce a file the loader rejects. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bitprune.h"
#include "bitprune_builder.h"
#include "bp_kernels.h"
#include "bpf.h"
#include "model_builders.h"
#include "test_helpers.h"

static uint64_t g_seed;

/* Fails unless st is the expected error and the message holds every word. */
static void expect_err(bp_status st, bp_status want, const char *w1, const char *w2)
{
    if (st != want || (w1 && !strstr(bp_last_error(), w1)) ||
        (w2 && !strstr(bp_last_error(), w2)))
        fail_msg("got %s (want %s), message '%s' (want '%s', '%s')", bp_status_string(st),
                 bp_status_string(want), bp_last_error(), w1 ? w1 : "", w2 ? w2 : "");
}

/* A call that must succeed; the message is printed when it does not. */
#define OK(call)                                                                         \
    do {                                                                                 \
        bp_status st_ = (call);                                                          \
        if (st_ != BP_OK) fail_msg("%s: %s: %s", #call, bp_status_string(st_), bp_last_error()); \
    } while (0)

static void rand_weights(uint64_t *rs, int16_t *w, size_t n, int max)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t r = bpt_rand(rs);
        w[i] = (r & 7) < 3 ? 0 : (int16_t)((int)((r >> 8) % (uint64_t)(2 * max + 1)) - max);
    }
}

/* x * inv quantized as SPEC.md 8.1 says: saturate, then round half even. */
static int32_t quant(float x, float inv, int u8)
{
    float v = x * inv;
    if (u8) {
        v = v > 0 ? v : 0;
        v = v < 255 ? v : 255;
    } else {
        if (v != v) v = 0;
        v = v > -128 ? v : -128;
        v = v < 127 ? v : 127;
    }
    return (int32_t)nearbyintf(v);
}

/* One conv layer with every geometry option, checked against a direct loop
 * over the weights the builder was given (both encodings), on the reference
 * and bitplane backends. */
static void test_conv_geometry(void **state)
{
    (void)state;
    uint64_t rs = g_seed ^ 0xb0b;
    for (uint32_t enc = 0; enc < 2; enc++) {
        const uint32_t C = 4, H = 9, W = 7, CO = 6, G = 2, KH = 3, KW = 2;
        const uint32_t SH = 2, SW = 1, DH = 2, DW = 3, PT = 2, PL = 0, PB = 1, PR = 3;
        const uint32_t K = C / G * KH * KW;
        int16_t w[6 * 12];
        float ws[6], bias[6];
        rand_weights(&rs, w, CO * K, 255);
        for (uint32_t j = 0; j < CO; j++) {
            ws[j] = 0.001f * (float)(j + 1);
            bias[j] = 0.1f * (float)j - 0.2f;
        }
        bp_builder *b;
        OK(bp_builder_create(&b));
        uint32_t x, y, d[4] = {1, C, H, W};
        OK(bp_builder_input(b, "x", 4, d, &x));
        bp_conv2d_params p = {sizeof(bp_conv2d_params), CO, KH, KW, SH, SW, PT, PL, PB, PR, DH, DW, G};
        bp_layer_weights lw = {sizeof(bp_layer_weights), w, ws, bias, 0, enc, BP_DTYPE_S8, 0.03f};
        OK(bp_builder_conv2d(b, "conv", x, &p, &lw, &y));
        uint32_t nd, od[6];
        OK(bp_builder_tensor_shape(b, y, &nd, od));
        const uint32_t OH = (H + PT + PB - DH * (KH - 1) - 1) / SH + 1;
        const uint32_t OW = (W + PL + PR - DW * (KW - 1) - 1) / SW + 1;
        assert_int_equal(nd, 4);
        assert_int_equal(od[1], CO);
        assert_int_equal(od[2], OH);
        assert_int_equal(od[3], OW);
        OK(bp_builder_output(b, y));
        void *buf;
        size_t size;
        OK(bp_builder_write_memory(b, &buf, &size));
        bp_builder_free(b);

        /* The planes hold exactly the weights given. */
        bpf_model *fm;
        assert_int_equal(bpf_load_memory(buf, size, 0, &fm), BPF_OK);
        const bpf_layer *L = &fm->layers[0];
        assert_int_equal(L->encoding, enc);
        assert_int_equal(L->K, K);
        int16_t back[6 * 12];
        bp_planes pl = {L->c_out, L->K, L->M, L->idx_bytes, L->row_ptr, L->col_idx, NULL};
        bp_planes_to_dense(&pl, back);
        assert_memory_equal(back, w, sizeof w);
        bpf_model_free(fm);

        float in[4 * 9 * 7], want[6 * 5 * 10];
        bpt_fill_uniform(&rs, in, C * H * W, -4.0f, 4.0f);
        const float inv = 1.0f / 0.03f;
        for (uint32_t j = 0; j < CO; j++)
            for (uint32_t oy = 0; oy < OH; oy++)
                for (uint32_t ox = 0; ox < OW; ox++) {
                    int64_t acc = 0;
                    uint32_t g = j / (CO / G);
                    for (uint32_t ci = 0; ci < C / G; ci++)
                        for (uint32_t dy = 0; dy < KH; dy++)
                            for (uint32_t dx = 0; dx < KW; dx++) {
                                int64_t iy = (int64_t)oy * SH - PT + dy * DH;
                                int64_t ix = (int64_t)ox * SW - PL + dx * DW;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                float xv = in[((g * (C / G) + ci) * H + iy) * W + ix];
                                acc += (int64_t)w[j * K + (ci * KH + dy) * KW + dx] *
                                       quant(xv, inv, 0);
                            }
                    float s = ws[j] * 0.03f;
                    want[(j * OH + oy) * OW + ox] = (float)acc * s + bias[j];
                }
        bp_model *m;
        assert_int_equal(bp_model_load_memory(buf, size, NULL, &m), BP_OK);
        const float *ins[1] = {in};
        const char *backends[] = {"reference", "bitplane", "csr"};
        for (int k = 0; k < 3; k++) {
            size_t n;
            bp_status st;
            float *got = bpt_run(m, backends[k], 1, 1, ins, &n, &st);
            assert_non_null(got);
            assert_int_equal(n, CO * OH * OW);
            long diff = bpt_first_diff(got, want, n);
            if (diff >= 0)
                fail_msg("%s enc %u: out[%ld] = %a, want %a", backends[k], enc, diff,
                         (double)got[diff], (double)want[diff]);
            free(got);
        }
        bp_model_free(m);
        free(buf);
    }
}

/* Every convenience op and the generic node in one model; the written file
 * loads, runs on every exact backend identically, and keeps names, metadata,
 * layers and outputs. */
static void test_all_ops(void **state)
{
    (void)state;
    uint64_t rs = g_seed ^ 0xa11;
    bp_builder *b;
    OK(bp_builder_create(&b));
    uint32_t x, t, u, d[4] = {1, 8, 10, 10};
    OK(bp_builder_input(b, "image", 4, d, &x));
    int16_t w1[8 * 72];
    rand_weights(&rs, w1, 8 * 72, 127);
    bp_conv2d_params p = {sizeof(bp_conv2d_params), 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    bp_layer_weights lw = {sizeof(bp_layer_weights), w1, NULL, NULL, 127, BP_ENCODING_BINARY, BP_DTYPE_S8, 0.05f};
    OK(bp_builder_conv2d(b, "c1", x, &p, &lw, &t));
    float gam[8], bet[8];
    bpt_fill_uniform(&rs, gam, 8, 0.5f, 1.5f);
    bpt_fill_uniform(&rs, bet, 8, -0.5f, 0.5f);
    OK(bp_builder_batchnorm(b, "bn", t, gam, bet, &t));
    OK(bp_builder_relu(b, NULL, t, &t));
    bp_pool2d_params mp = {sizeof(bp_pool2d_params), 3, 3, 2, 2, 1, 1, 1, 1};
    OK(bp_builder_maxpool(b, "mp", t, &mp, &u));
    bp_pool2d_params ap = {sizeof(bp_pool2d_params), 2, 2, 1, 1, 0, 1, 1, 0};
    OK(bp_builder_avgpool(b, "ap", u, &ap, &u));
    OK(bp_builder_layernorm(b, "ln", u, gam, NULL, 1e-5f, &u));
    OK(bp_builder_gelu(b, "gelu", u, &u));
    OK(bp_builder_layerscale(b, "ls", u, bet, &u));
    uint32_t nd, ud[6];
    OK(bp_builder_tensor_shape(b, u, &nd, ud));
    float *cv = malloc(8 * ud[2] * ud[3] * sizeof *cv);
    assert_non_null(cv);
    bpt_fill_uniform(&rs, cv, 8 * ud[2] * ud[3], -1.0f, 1.0f);
    uint32_t c;
    OK(bp_builder_constant(b, "bias_map", 4, ud, cv, &c));
    free(cv);
    OK(bp_builder_add(b, "addc", u, c, &u));
    OK(bp_builder_global_avgpool(b, "gap", u, &u));
    uint32_t feat;
    OK(bp_builder_linear(b, "fc0", u, 5, NULL, &feat)); /* (N,C,1,1) */
    OK(bp_builder_flatten(b, "flat", u, &u));
    int16_t w2[6 * 8];
    rand_weights(&rs, w2, 6 * 8, 200);
    bp_layer_weights lw2 = {sizeof(bp_layer_weights), w2, NULL, NULL, 0, BP_ENCODING_CSD, BP_DTYPE_S8, 0.02f};
    OK(bp_builder_linear(b, "fc", u, 6, &lw2, &u));
    bp_node_desc nd2 = {sizeof(bp_node_desc), "prob", BP_OP_SOFTMAX, 1, {u}, {0}, {0}, 2, {1, 6}};
    uint32_t prob;
    OK(bp_builder_node(b, &nd2, &prob));
    assert_int_equal(bp_builder_layer_count(b), 3);
    uint32_t co, K;
    OK(bp_builder_layer_shape(b, 2, &co, &K));
    assert_int_equal(co, 6);
    assert_int_equal(K, 8);
    /* Weights set after the graph (as a converter that calibrates does). */
    int16_t w0[5 * 8];
    rand_weights(&rs, w0, 5 * 8, 90);
    bp_layer_weights lw0 = {sizeof(bp_layer_weights), w0, NULL, NULL, 0, BP_ENCODING_BINARY, BP_DTYPE_S8, 0.1f};
    OK(bp_builder_set_layer_weights(b, 1, &lw0));
    OK(bp_builder_set_layer_act(b, 1, BP_DTYPE_S8, 0.07f));
    OK(bp_builder_output(b, prob));
    OK(bp_builder_output(b, feat));
    OK(bp_builder_set_meta(b, "arch", "first"));
    OK(bp_builder_set_meta(b, "producer", "test_builder"));
    OK(bp_builder_set_meta(b, "arch", "all-ops"));
    OK(bp_builder_validate(b));
    void *buf;
    size_t size;
    OK(bp_builder_write_memory(b, &buf, &size));
    bp_builder_free(b);

    bp_model *m;
    assert_int_equal(bp_model_load_memory(buf, size, NULL, &m), BP_OK);
    assert_string_equal(bp_model_meta(m, "arch"), "all-ops");
    assert_string_equal(bp_model_meta(m, "producer"), "test_builder");
    const bp_model_info *info;
    assert_int_equal(bp_model_info_get(m, &info), BP_OK);
    assert_int_equal(info->n_layers, 3);
    assert_int_equal(info->n_outputs, 2);
    assert_string_equal(info->outputs[0].name, "prob");
    assert_string_equal(info->layers[1].name, "fc0");
    assert_float_equal(info->layers[1].act_scale, 0.07f, 0);
    assert_string_equal(info->layers[2].encoding, "csd");
    float in[800];
    bpt_fill_uniform(&rs, in, 800, -2.0f, 2.0f);
    const float *ins[1] = {in};
    size_t n0, n1;
    bp_status st;
    float *ref = bpt_run(m, "reference", 1, 1, ins, &n0, &st);
    float *bit = bpt_run(m, "bitplane", 1, 1, ins, &n1, &st);
    assert_non_null(ref);
    assert_non_null(bit);
    assert_int_equal(n0, 6 + 5);
    assert_int_equal(bpt_first_diff(ref, bit, n0), -1);
    float sum = 0;
    for (int i = 0; i < 6; i++) sum += ref[i];
    assert_true(fabsf(sum - 1.0f) < 1e-5f);
    free(ref);
    free(bit);
    bp_model_free(m);
    free(buf);
}

/* A small valid model to misuse: input (1,4,6,6) -> conv -> relu. */
static bp_builder *small(uint32_t *x, uint32_t *y)
{
    bp_builder *b;
    OK(bp_builder_create(&b));
    uint32_t d[4] = {1, 4, 6, 6};
    OK(bp_builder_input(b, "in", 4, d, x));
    bp_conv2d_params p = {sizeof(bp_conv2d_params), 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    OK(bp_builder_conv2d(b, "conv", *x, &p, NULL, y));
    OK(bp_builder_relu(b, "relu", *y, y));
    return b;
}

/* The parameter structs are size-versioned: a size that no version has is
 * refused naming the struct; an older caller's (a prefix) gets defaults for
 * the rest; a newer caller's is accepted only when the unknown bytes are 0. */
static void test_struct_sizes(void **state)
{
    (void)state;
    uint32_t x, y, id;
    bp_builder *b = small(&x, &y);
    bp_conv2d_params p;
    bp_conv2d_params_init(&p);
    assert_int_equal(p.size, sizeof p);
    p.c_out = 2;
    p.kh = p.kw = 1;
    p.size = 0;
    expect_err(bp_builder_conv2d(b, "c0", y, &p, NULL, &id), BP_ERR_INVALID_ARG,
               "bp_conv2d_params", "size 0");
    p.size = 3;
    expect_err(bp_builder_conv2d(b, "c3", y, &p, NULL, &id), BP_ERR_INVALID_ARG,
               "bp_conv2d_params", "size 3");
    /* an older caller whose struct ended after pad_t (32 bytes, a multiple
     * of the alignment): the other pads and the rest default to 0 */
    p.size = offsetof(bp_conv2d_params, pad_l);
    p.pad_l = 7; /* beyond its size: must not be read */
    OK(bp_builder_conv2d(b, "old", y, &p, NULL, &id));
    uint32_t nd, dims[6];
    OK(bp_builder_tensor_shape(b, id, &nd, dims));
    assert_int_equal(dims[3], 6); /* unpadded 1x1: 6, not 6 + 7 */
    /* a newer caller: zero extra bytes accepted, a set one refused */
    struct {
        bp_conv2d_params p;
        uint32_t extra;
    } newer;
    memset(&newer, 0, sizeof newer);
    newer.p.size = sizeof newer;
    newer.p.c_out = 2;
    newer.p.kh = newer.p.kw = 1;
    OK(bp_builder_conv2d(b, "newer", y, &newer.p, NULL, &id));
    newer.extra = 1;
    expect_err(bp_builder_conv2d(b, "newer1", y, &newer.p, NULL, &id), BP_ERR_INVALID_ARG,
               "bp_conv2d_params", "newer");
    bp_layer_weights w;
    bp_layer_weights_init(&w);
    w.size = 1;
    bp_conv2d_params_init(&p);
    p.c_out = 2;
    p.kh = p.kw = 1;
    expect_err(bp_builder_conv2d(b, "cw", y, &p, &w, &id), BP_ERR_INVALID_ARG,
               "bp_layer_weights", "size 1");
    bp_pool2d_params pp;
    bp_pool2d_params_init(&pp);
    pp.kh = pp.kw = 2;
    pp.size = 0;
    expect_err(bp_builder_maxpool(b, "mp", y, &pp, &id), BP_ERR_INVALID_ARG, "bp_pool2d_params",
               NULL);
    bp_node_desc d;
    bp_node_desc_init(&d);
    d.op = BP_OP_RELU;
    d.n_in = 1;
    d.in[0] = y;
    d.out_ndim = 4;
    OK(bp_builder_tensor_shape(b, y, &d.out_ndim, d.out_dims));
    d.name = "r1";
    OK(bp_builder_node(b, &d, &id));
    d.size = sizeof d + 4096;
    expect_err(bp_builder_node(b, &d, &id), BP_ERR_INVALID_ARG, "bp_node_desc", NULL);
    bp_builder_free(b);
}

static void test_null_args(void **state)
{
    (void)state;
    uint32_t id = 7, nd, dims[6] = {1, 2}, x, y;
    float f[4] = {0};
    void *buf = &id;
    size_t size = 5;
    bp_conv2d_params p = {sizeof(bp_conv2d_params), 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    bp_pool2d_params pp = {sizeof(bp_pool2d_params), 1, 1, 0, 0, 0, 0, 0, 0};
    bp_node_desc nd0 = {sizeof(bp_node_desc), "n", BP_OP_RELU, 1, {0}, {0}, {0}, 2, {1, 2}};
    expect_err(bp_builder_create(NULL), BP_ERR_INVALID_ARG, "NULL", NULL);
    bp_builder_free(NULL);
    expect_err(bp_builder_input(NULL, "a", 2, dims, &id), BP_ERR_INVALID_ARG, "bp_builder_input",
               "NULL");
    assert_int_equal(id, BP_BUILDER_NONE);
    expect_err(bp_builder_constant(NULL, "a", 2, dims, f, &id), BP_ERR_INVALID_ARG, NULL, NULL);
    expect_err(bp_builder_tensor_shape(NULL, 0, &nd, dims), BP_ERR_INVALID_ARG, NULL, NULL);
    expect_err(bp_builder_conv2d(NULL, "c", 0, &p, NULL, &id), BP_ERR_INVALID_ARG, NULL, NULL);
    expect_err(bp_builder_linear(NULL, "l", 0, 1, NULL, &id), BP_ERR_INVALID_ARG, NULL, NULL);
    assert_int_equal(bp_builder_layer_count(NULL), 0);
    expect_err(bp_builder_layer_shape(NULL, 0, &nd, &nd), BP_ERR_INVALID_ARG, NULL, NULL);
    expect_err(bp_builder_set_layer_weights(NULL, 0, NULL), BP_ERR_INVALID_ARG, NULL, NULL);
    expect_err(bp_builder_set_layer_act(NULL, 0, BP_DTYPE_U8, 1), BP_ERR_INVALID_ARG, NULL, NULL);
    expect_err(bp_builder_node(NULL, &nd0, &id), BP_ERR_INVALID_ARG, NULL, NULL);
    expect_err(bp_builder_relu(NULL, "r", 0, &id), BP_ERR_INVALID_ARG, NULL, NULL);
    expect_err(bp_builder_gelu(NULL, "r", 0, &id), BP_ERR_INVALID_ARG, NULL, NULL);
    expect_err(bp_builder_softmax(NULL, "r", 0, &id), BP_ERR_INVALID_ARG, NULL, NULL);
    expect_err(bp_builder_add(NULL, "r", 0, 0, &id), BP_ERR_INVALID_ARG, NULL, NULL);
    expect_err(bp_builder_maxpool(NULL, "r", 0, &pp, &id), BP_ERR_INVALID_ARG, NULL, NULL);
    expect_err(bp_builder_avgpool(NULL, "r", 0, &pp, &id), BP_ERR_INVALID_ARG, NULL, NULL);
    expect_err(bp_builder_global_avgpool(NULL, "r", 0, &id), BP_ERR_INVALID_ARG, NULL, NULL);
    expect_err(bp_builder_flatten(NULL, "r", 0, &id), BP_ERR_INVALID_ARG, NULL, NULL);
    expect_err(bp_builder_layernorm(NULL, "r", 0, NULL, NULL, 1e-5f, &id), BP_ERR_INVALID_ARG,
               NULL, NULL);
    expect_err(bp_builder_layerscale(NULL, "r", 0, NULL, &id), BP_ERR_INVALID_ARG, NULL, NULL);
    expect_err(bp_builder_batchnorm(NULL, "r", 0, NULL, NULL, &id), BP_ERR_INVALID_ARG, NULL,
               NULL);
    expect_err(bp_builder_output(NULL, 0), BP_ERR_INVALID_ARG, NULL, NULL);
    expect_err(bp_builder_set_outputs(NULL, 0, NULL), BP_ERR_INVALID_ARG, NULL, NULL);
    expect_err(bp_builder_set_meta(NULL, "k", "v"), BP_ERR_INVALID_ARG, NULL, NULL);
    expect_err(bp_builder_validate(NULL), BP_ERR_INVALID_ARG, NULL, NULL);
    expect_err(bp_builder_write_memory(NULL, &buf, &size), BP_ERR_INVALID_ARG, NULL, NULL);
    assert_null(buf);
    assert_int_equal(size, 0);
    expect_err(bp_builder_write_file(NULL, "/tmp/x.bp"), BP_ERR_INVALID_ARG, NULL, NULL);

    /* NULL pointers other than the builder. */
    bp_builder *b = small(&x, &y);
    expect_err(bp_builder_input(b, "a", 2, NULL, &id), BP_ERR_INVALID_ARG, "'a'", "dims");
    expect_err(bp_builder_constant(b, "k", 2, dims, NULL, &id), BP_ERR_INVALID_ARG, "'k'",
               "data");
    expect_err(bp_builder_tensor_shape(b, 0, NULL, dims), BP_ERR_INVALID_ARG, NULL, NULL);
    expect_err(bp_builder_conv2d(b, "c", x, NULL, NULL, &id), BP_ERR_INVALID_ARG, "'c'",
               "params");
    expect_err(bp_builder_maxpool(b, "mp", x, NULL, &id), BP_ERR_INVALID_ARG, "'mp'", "params");
    expect_err(bp_builder_node(b, NULL, &id), BP_ERR_INVALID_ARG, "desc", NULL);
    expect_err(bp_builder_set_layer_weights(b, 0, NULL), BP_ERR_INVALID_ARG, "'conv'", NULL);
    expect_err(bp_builder_set_meta(b, NULL, "v"), BP_ERR_INVALID_ARG, NULL, NULL);
    expect_err(bp_builder_write_memory(b, NULL, &size), BP_ERR_INVALID_ARG, NULL, NULL);
    OK(bp_builder_output(b, y));
    expect_err(bp_builder_write_file(b, NULL), BP_ERR_INVALID_ARG, "path", NULL);
    OK(bp_builder_validate(b)); /* nothing above changed it */
    bp_builder_free(b);
}

static void test_handles(void **state)
{
    (void)state;
    uint32_t x, y;
    bp_builder *b = small(&x, &y);
    bp_builder_free(b);
    expect_err(bp_builder_relu(b, "r", y, &y), BP_ERR_STATE, "bp_builder_relu", "builder");
    bp_builder_free(b); /* a second free is detected and does nothing */
    /* A model handle is not a builder. */
    void *buf;
    size_t size;
    assert_int_equal(bpt_build_resnet(g_seed, 0.5, 0, &buf, &size), 0);
    bp_model *m;
    assert_int_equal(bp_model_load_memory(buf, size, NULL, &m), BP_OK);
    expect_err(bp_builder_output((bp_builder *)m, 0), BP_ERR_STATE, "model", "builder");
    bp_model_free(m);
    free(buf);
}

static void test_bad_graph(void **state)
{
    (void)state;
    uint32_t x, y, id, t5[5] = {1, 2, 3, 4, 5};
    bp_builder *b = small(&x, &y);
    float f[64] = {0};
    /* ids that do not exist */
    expect_err(bp_builder_relu(b, "r9", 999, &id), BP_ERR_BAD_GRAPH, "'r9'", "999");
    assert_int_equal(id, BP_BUILDER_NONE);
    expect_err(bp_builder_add(b, "a9", y, 77, &id), BP_ERR_BAD_GRAPH, "'a9'", "77");
    expect_err(bp_builder_output(b, 1234), BP_ERR_BAD_GRAPH, "1234", NULL);
    expect_err(bp_builder_set_layer_act(b, 3, BP_DTYPE_U8, 1.0f), BP_ERR_INVALID_ARG, "layer 3",
               NULL);
    expect_err(bp_builder_tensor_shape(b, 50, &id, t5), BP_ERR_INVALID_ARG, "50", NULL);
    /* dims */
    uint32_t bad0[2] = {1, 0}, bigb[2] = {2, 3}, huge[2] = {1, 1u << 21}, d7[7] = {1};
    expect_err(bp_builder_input(b, "i0", 2, bad0, &id), BP_ERR_LIMIT, "'i0'", "dims[1] = 0");
    expect_err(bp_builder_input(b, "ib", 2, bigb, &id), BP_ERR_BAD_GRAPH, "'ib'", "batch");
    expect_err(bp_builder_input(b, "ih", 2, huge, &id), BP_ERR_LIMIT, "'ih'", NULL);
    expect_err(bp_builder_input(b, "i7", 7, d7, &id), BP_ERR_LIMIT, "'i7'", "7 dims");
    expect_err(bp_builder_constant(b, "k0", 0, bad0, f, &id), BP_ERR_LIMIT, "'k0'", NULL);
    /* shapes that do not suit the op */
    uint32_t v2[2] = {1, 6}, v4[4] = {1, 4, 6, 5};
    uint32_t flat, other;
    OK(bp_builder_flatten(b, "flat", y, &flat));
    bp_conv2d_params p = {sizeof(bp_conv2d_params), 4, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1};
    expect_err(bp_builder_conv2d(b, "c2d", flat, &p, NULL, &id), BP_ERR_BAD_GRAPH, "'c2d'",
               "(1,144)");
    expect_err(bp_builder_linear(b, "lin4", y, 3, NULL, &id), BP_ERR_BAD_GRAPH, "'lin4'",
               "(1,4,6,6)");
    expect_err(bp_builder_global_avgpool(b, "gp", flat, &id), BP_ERR_BAD_GRAPH, "'gp'", NULL);
    OK(bp_builder_input(b, "other", 4, v4, &other));
    expect_err(bp_builder_add(b, "badd", y, other, &id), BP_ERR_BAD_GRAPH, "'badd'",
               "(1,4,6,5)");
    uint32_t in1;
    OK(bp_builder_input(b, "vec", 1, v2, &in1));
    expect_err(bp_builder_layerscale(b, "ls1", in1, NULL, &id), BP_ERR_BAD_GRAPH, "'ls1'", NULL);
    expect_err(bp_builder_flatten(b, "fl1", in1, &id), BP_ERR_BAD_GRAPH, "'fl1'", NULL);
    expect_err(bp_builder_layernorm(b, "ln0", y, NULL, NULL, 0.0f, &id), BP_ERR_BAD_GRAPH,
               "'ln0'", "eps");
    float nanv[4] = {1, NAN, 1, 1};
    expect_err(bp_builder_batchnorm(b, "bnn", y, nanv, NULL, &id), BP_ERR_BAD_GRAPH, "'bnn'",
               "scale[1]");
    /* conv geometry */
    bp_conv2d_params g3 = {sizeof(bp_conv2d_params), 4, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 3};
    expect_err(bp_builder_conv2d(b, "grp", y, &g3, NULL, &id), BP_ERR_BAD_GRAPH, "'grp'",
               "groups 3");
    bp_conv2d_params big = {sizeof(bp_conv2d_params), 4, 5, 5, 1, 1, 0, 0, 0, 0, 2, 2, 1};
    expect_err(bp_builder_conv2d(b, "bigk", y, &big, NULL, &id), BP_ERR_BAD_GRAPH, "'bigk'",
               "smaller");
    bp_conv2d_params k65 = {sizeof(bp_conv2d_params), 4, 65, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1};
    expect_err(bp_builder_conv2d(b, "k65", y, &k65, NULL, &id), BP_ERR_LIMIT, "'k65'", "65");
    bp_conv2d_params c0 = {sizeof(bp_conv2d_params), 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1};
    expect_err(bp_builder_conv2d(b, "c0", y, &c0, NULL, &id), BP_ERR_LIMIT, "'c0'", "c_out 0");
    bp_pool2d_params pp = {sizeof(bp_pool2d_params), 2, 2, 1, 1, 2, 0, 0, 0};
    expect_err(bp_builder_maxpool(b, "mpad", y, &pp, &id), BP_ERR_BAD_GRAPH, "'mpad'", "padding");
    bp_pool2d_params p7 = {sizeof(bp_pool2d_params), 7, 7, 1, 1, 0, 0, 0, 0};
    expect_err(bp_builder_avgpool(b, "ap7", y, &p7, &id), BP_ERR_BAD_GRAPH, "'ap7'", "window");
    /* generic node: unknown op, layer ops, slots, dims */
    bp_node_desc nd = {sizeof(bp_node_desc), "gen", 99, 1, {y}, {0}, {0}, 4, {1, 4, 6, 6}};
    expect_err(bp_builder_node(b, &nd, &id), BP_ERR_BAD_GRAPH, "'gen'", "unknown op code 99");
    nd.op = 0;
    expect_err(bp_builder_node(b, &nd, &id), BP_ERR_BAD_GRAPH, "'gen'", "unknown op");
    nd.op = BP_OP_CONV2D;
    expect_err(bp_builder_node(b, &nd, &id), BP_ERR_INVALID_ARG, "'gen'", "bp_builder_conv2d");
    nd.op = BP_OP_RELU;
    nd.n_in = 5;
    expect_err(bp_builder_node(b, &nd, &id), BP_ERR_LIMIT, "'gen'", "n_in");
    nd.n_in = 1;
    nd.in[2] = 3;
    expect_err(bp_builder_node(b, &nd, &id), BP_ERR_BAD_GRAPH, "'gen'", "slot 2");
    nd.in[2] = 0;
    nd.in[0] = 500;
    expect_err(bp_builder_node(b, &nd, &id), BP_ERR_BAD_GRAPH, "'gen'", "500");
    nd.in[0] = y;
    nd.out_dims[2] = 0;
    expect_err(bp_builder_node(b, &nd, &id), BP_ERR_LIMIT, "'gen'", "dims[2] = 0");
    /* weights */
    int16_t w[4 * 36] = {0};
    w[37] = 300;
    bp_layer_weights lw = {sizeof(bp_layer_weights), w, NULL, NULL, 0, 0, BP_DTYPE_S8, 0.1f};
    expect_err(bp_builder_set_layer_weights(b, 0, &lw), BP_ERR_LIMIT, "'conv'", "[1][1] = 300");
    w[37] = -20;
    lw.w_max = 15;
    expect_err(bp_builder_set_layer_weights(b, 0, &lw), BP_ERR_BAD_PLANES, "'conv'", "w_max");
    lw.w_max = 300;
    expect_err(bp_builder_set_layer_weights(b, 0, &lw), BP_ERR_LIMIT, "'conv'", "w_max 300");
    lw.w_max = 0;
    lw.encoding = 4;
    expect_err(bp_builder_set_layer_weights(b, 0, &lw), BP_ERR_INVALID_ARG, "'conv'", "encoding");
    lw.encoding = 1;
    lw.act_dtype = 1;
    expect_err(bp_builder_set_layer_weights(b, 0, &lw), BP_ERR_INVALID_ARG, "'conv'",
               "act_dtype");
    lw.act_dtype = BP_DTYPE_U8;
    lw.act_scale = -1.0f;
    expect_err(bp_builder_set_layer_weights(b, 0, &lw), BP_ERR_BAD_GRAPH, "'conv'", "act_scale");
    lw.act_scale = 0.5f;
    float ws[4] = {1, 1, INFINITY, 1};
    lw.w_scale = ws;
    expect_err(bp_builder_set_layer_weights(b, 0, &lw), BP_ERR_BAD_GRAPH, "'conv'", "w_scale[2]");
    expect_err(bp_builder_set_layer_act(b, 0, BP_DTYPE_S8, NAN), BP_ERR_BAD_GRAPH, "'conv'",
               NULL);
    /* metadata */
    expect_err(bp_builder_set_meta(b, "", "v"), BP_ERR_BAD_META, "empty key", NULL);
    /* outputs: none yet; constants are not outputs */
    expect_err(bp_builder_validate(b), BP_ERR_BAD_GRAPH, "no output", NULL);
    uint32_t k;
    uint32_t kd[1] = {4};
    OK(bp_builder_constant(b, "kc", 1, kd, f, &k));
    expect_err(bp_builder_output(b, k), BP_ERR_BAD_GRAPH, "'kc'", "constant");
    /* The failures changed nothing: the model is still the small valid one. */
    OK(bp_builder_output(b, y));
    OK(bp_builder_validate(b));
    bp_builder_free(b);

    /* A generic node whose output shape is wrong: caught by validation,
     * naming the node. */
    b = small(&x, &y);
    bp_node_desc bad = {sizeof(bp_node_desc), "wrongshape", BP_OP_RELU, 1, {y}, {0}, {0}, 4, {1, 4, 6, 7}};
    OK(bp_builder_node(b, &bad, &id));
    OK(bp_builder_output(b, id));
    expect_err(bp_builder_validate(b), BP_ERR_BAD_GRAPH, "wrongshape", NULL);
    void *buf = &id;
    size_t size = 3;
    expect_err(bp_builder_write_memory(b, &buf, &size), BP_ERR_BAD_GRAPH, "wrongshape", NULL);
    assert_null(buf);
    bp_builder_free(b);

    /* A generic node with a wrong input count and an unused attribute. */
    b = small(&x, &y);
    bp_node_desc two = {sizeof(bp_node_desc), "addone", BP_OP_ADD, 1, {y}, {0}, {0}, 4, {1, 4, 6, 6}};
    OK(bp_builder_node(b, &two, &id));
    OK(bp_builder_output(b, id));
    expect_err(bp_builder_validate(b), BP_ERR_BAD_GRAPH, "addone", NULL);
    bp_builder_free(b);
    b = small(&x, &y);
    bp_node_desc attr = {sizeof(bp_node_desc), "relu_attr", BP_OP_RELU, 1, {y}, {5}, {0}, 4, {1, 4, 6, 6}};
    OK(bp_builder_node(b, &attr, &id));
    OK(bp_builder_output(b, id));
    expect_err(bp_builder_validate(b), BP_ERR_BAD_GRAPH, "relu_attr", NULL);
    bp_builder_free(b);
    /* No input at all. */
    OK(bp_builder_create(&b));
    expect_err(bp_builder_validate(b), BP_ERR_BAD_GRAPH, "no input", NULL);
    bp_builder_free(b);
}

static void test_limits(void **state)
{
    (void)state;
    uint32_t x, y, id;
    bp_builder *b = small(&x, &y);
    uint32_t d[4] = {1, 4, 6, 6};
    for (int i = 0; i < 3; i++) OK(bp_builder_input(b, NULL, 4, d, &id));
    expect_err(bp_builder_input(b, "fifth", 4, d, &id), BP_ERR_LIMIT, "'fifth'", "at most 4");
    for (int i = 0; i < 4; i++) OK(bp_builder_output(b, y));
    expect_err(bp_builder_output(b, y), BP_ERR_LIMIT, "at most 4", NULL);
    /* replacing the output list */
    uint32_t ids[5] = {y, x, y, y, y};
    expect_err(bp_builder_set_outputs(b, 5, ids), BP_ERR_LIMIT, "5 outputs", NULL);
    expect_err(bp_builder_set_outputs(b, 2, NULL), BP_ERR_INVALID_ARG, "ids", NULL);
    ids[1] = 4000;
    expect_err(bp_builder_set_outputs(b, 2, ids), BP_ERR_BAD_GRAPH, "4000", NULL);
    ids[1] = x; /* a graph input may be an output */
    OK(bp_builder_set_outputs(b, 2, ids));
    void *buf;
    size_t size;
    OK(bp_builder_write_memory(b, &buf, &size));
    bp_model *m;
    OK(bp_model_load_memory(buf, size, NULL, &m));
    const bp_model_info *info;
    OK(bp_model_info_get(m, &info));
    assert_int_equal(info->n_outputs, 2);
    assert_string_equal(info->outputs[1].name, "in");
    bp_model_free(m);
    free(buf);
    OK(bp_builder_set_outputs(b, 0, NULL));
    expect_err(bp_builder_validate(b), BP_ERR_BAD_GRAPH, "no output", NULL);
    /* K above 32768 */
    uint32_t wide[2] = {1, 40000};
    uint32_t v;
    assert_int_equal(bp_builder_input(b, NULL, 2, wide, &v), BP_ERR_LIMIT); /* 5th input */
    bp_builder_free(b);
    OK(bp_builder_create(&b));
    OK(bp_builder_input(b, "w", 2, wide, &v));
    expect_err(bp_builder_linear(b, "fcw", v, 2, NULL, &id), BP_ERR_LIMIT, "'fcw'", "K = 40000");
    char *longname = malloc(BPF_MAX_STRING + 2);
    assert_non_null(longname);
    memset(longname, 'a', BPF_MAX_STRING + 1);
    longname[BPF_MAX_STRING + 1] = 0;
    expect_err(bp_builder_relu(b, longname, v, &id), BP_ERR_LIMIT, "name", NULL);
    expect_err(bp_builder_set_meta(b, "k", longname), BP_ERR_LIMIT, "'k'", NULL);
    free(longname);
    /* Invalid UTF-8 is caught by validation, naming the tensor. */
    OK(bp_builder_relu(b, "bad\xff", v, &id));
    OK(bp_builder_output(b, id));
    expect_err(bp_builder_validate(b), BP_ERR_BAD_META, "UTF-8", NULL);
    bp_builder_free(b);
}

static void test_write_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/bp_builder_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/m.bp", dir);
    uint32_t x, y;
    bp_builder *b = small(&x, &y);
    /* invalid model: nothing is written */
    assert_int_equal(bp_builder_write_file(b, path), BP_ERR_BAD_GRAPH);
    assert_int_equal(access(path, F_OK), -1);
    OK(bp_builder_output(b, y));
    expect_err(bp_builder_write_file(b, dir), BP_ERR_IO, "directory", NULL);
    OK(bp_builder_write_file(b, path));
    bp_builder_free(b);
    bp_model *m;
    assert_int_equal(bp_model_load_file(path, NULL, &m), BP_OK);
    bp_model_free(m);
    unlink(path);
    rmdir(dir);
}

/* Random call sequences with arguments that are often wrong: every call
 * returns OK or an error with a message, and whatever validates loads. */
static void test_random_calls(void **state)
{
    (void)state;
    uint64_t rs = g_seed ^ 0xf022;
    int written = 0;
    for (int round = 0; round < 60; round++) {
        bp_builder *b;
        OK(bp_builder_create(&b));
        uint32_t n_t = 0;
        for (int step = 0; step < 40; step++) {
            uint64_t r = bpt_rand(&rs);
            uint32_t t = n_t ? (uint32_t)(bpt_rand(&rs) % (n_t + 2)) : 0; /* sometimes bad */
            uint32_t t2 = n_t ? (uint32_t)(bpt_rand(&rs) % (n_t + 1)) : 0;
            uint32_t id = BP_BUILDER_NONE, s = (uint32_t)(r >> 8);
            bp_status st;
            switch (r % 13) {
            case 0: {
                uint32_t d[4] = {1 + (s & 1) * (s % 3 == 0), 1 + s % 5, 1 + (s >> 3) % 9,
                                 1 + (s >> 7) % 9};
                st = bp_builder_input(b, NULL, 2 + (s >> 11) % 3, d, &id);
                break;
            }
            case 1: {
                bp_conv2d_params p = {sizeof(bp_conv2d_params), 1 + s % 6, 1 + (s >> 3) % 4, 1 + (s >> 5) % 4,
                                      (s >> 7) % 3, (s >> 9) % 3, (s >> 11) % 3,
                                      (s >> 13) % 3, (s >> 15) % 3, (s >> 17) % 3,
                                      (s >> 19) % 3, (s >> 21) % 3, (s >> 23) % 3};
                int16_t w[6 * 64 * 16];
                rand_weights(&rs, w, sizeof w / sizeof w[0], 255);
                bp_layer_weights lw = {sizeof(bp_layer_weights), w, NULL, NULL, (s >> 25) % 2 ? 255 : 0, (s >> 26) % 2,
                                       2 + (s >> 27) % 2, 0.05f};
                st = bp_builder_conv2d(b, NULL, t, &p, (s >> 28) % 4 ? &lw : NULL, &id);
                break;
            }
            case 2:
                st = bp_builder_linear(b, NULL, t, 1 + s % 7, NULL, &id);
                break;
            case 3: st = bp_builder_relu(b, NULL, t, &id); break;
            case 4: st = bp_builder_gelu(b, NULL, t, &id); break;
            case 5: st = bp_builder_add(b, NULL, t, t2, &id); break;
            case 6: {
                bp_pool2d_params p = {sizeof(bp_pool2d_params), 1 + s % 3, 1 + (s >> 2) % 3, (s >> 4) % 3, (s >> 6) % 3,
                                      (s >> 8) % 2, (s >> 9) % 2, (s >> 10) % 2, (s >> 11) % 2};
                st = s & (1u << 20) ? bp_builder_maxpool(b, NULL, t, &p, &id)
                                    : bp_builder_avgpool(b, NULL, t, &p, &id);
                break;
            }
            case 7: st = bp_builder_global_avgpool(b, NULL, t, &id); break;
            case 8: st = bp_builder_flatten(b, NULL, t, &id); break;
            case 9:
                st = s % 3 == 0   ? bp_builder_layernorm(b, NULL, t, NULL, NULL, 1e-5f, &id)
                     : s % 3 == 1 ? bp_builder_layerscale(b, NULL, t, NULL, &id)
                                  : bp_builder_batchnorm(b, NULL, t, NULL, NULL, &id);
                break;
            case 10: {
                bp_node_desc nd = {sizeof(bp_node_desc), NULL, s % 16, 1 + (s >> 4) % 3, {t, t2, (s >> 6) % 2 ? t : 0},
                                   {0}, {0}, 1 + (s >> 8) % 4, {1, 1 + (s >> 10) % 4, 1, 1}};
                st = bp_builder_node(b, &nd, &id);
                break;
            }
            case 11: st = bp_builder_output(b, t); break;
            default:
                st = bp_builder_softmax(b, NULL, t, &id);
                break;
            }
            if (st != BP_OK) {
                assert_true(bp_last_error()[0] != '\0');
                assert_int_equal(id, BP_BUILDER_NONE);
            }
            if (id != BP_BUILDER_NONE) n_t = id + 1 > n_t ? id + 1 : n_t;
        }
        void *buf;
        size_t size;
        bp_status st = bp_builder_write_memory(b, &buf, &size);
        if (st == BP_OK) {
            bp_model *m;
            if (bp_model_load_memory(buf, size, NULL, &m) != BP_OK)
                fail_msg("round %d: written model does not load: %s", round, bp_last_error());
            bp_model_free(m);
            free(buf);
            written++;
        } else {
            assert_true(bp_last_error()[0] != '\0');
        }
        bp_builder_free(b);
    }
    printf("random call sequences: %d of 60 models written and loaded\n", written);
}

int main(void)
{
    g_seed = bpt_test_seed("builder");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_geometry), cmocka_unit_test(test_all_ops),
        cmocka_unit_test(test_null_args),     cmocka_unit_test(test_handles),
        cmocka_unit_test(test_bad_graph),     cmocka_unit_test(test_limits),
        cmocka_unit_test(test_write_file),    cmocka_unit_test(test_random_calls),
        cmocka_unit_test(test_struct_sizes),
    };
    return cmocka_run_group_tests_name("builder", tests, NULL, NULL);
}
