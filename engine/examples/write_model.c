/* write_model.c: writes a small .bp model with the builder API (what a
 * converter from another framework does), then loads it back and runs it.
 *
 *   cc write_model.c $(pkg-config --cflags --libs bitprune) -o write_model
 *   ./write_model tiny.bp
 *
 * The network: input (1,3,8,8) -> conv 3x3 (8 channels, pad 1) -> relu ->
 * conv 3x3 stride 2 depthwise -> batchnorm -> global average pool -> flatten
 * -> linear (4 classes) -> softmax. The weights are small integers made up
 * here; a converter would take them from a trained, quantized network. */
#include <stdio.h>
#include <stdlib.h>

#include <bitprune.h>
#include <bitprune_builder.h>

#define CHECK(call)                                                              \
    do {                                                                         \
        bp_status st_ = (call);                                                  \
        if (st_ != BP_OK) {                                                      \
            fprintf(stderr, "%s failed: %s\n  %s\n", #call, bp_status_string(st_), \
                    bp_last_error());                                            \
            return 1;                                                            \
        }                                                                        \
    } while (0)

/* Deterministic small integer weights in [-max, max]. */
static void fill_weights(int16_t *w, size_t n, int max, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        w[i] = (int16_t)((int)((seed >> 16) % (2u * (unsigned)max + 1)) - max);
    }
}

static int write_model(const char *path)
{
    bp_builder *b;
    CHECK(bp_builder_create(&b));
    uint32_t x, y;
    const uint32_t in_dims[4] = {1, 3, 8, 8};
    CHECK(bp_builder_input(b, "image", 4, in_dims, &x));

    /* conv1: 3 -> 8 channels, 3x3, padding 1. K = 3 * 3 * 3 = 27. */
    static int16_t w1[8 * 27];
    static float s1[8], b1[8];
    fill_weights(w1, 8 * 27, 127, 1);
    for (int j = 0; j < 8; j++) {
        s1[j] = 0.01f;
        b1[j] = 0.05f * (float)(j - 4);
    }
    bp_conv2d_params p;
    bp_conv2d_params_init(&p);
    p.c_out = 8;
    p.kh = p.kw = 3;
    p.pad_t = p.pad_l = p.pad_b = p.pad_r = 1;
    bp_layer_weights lw;
    bp_layer_weights_init(&lw);
    lw.w = w1;
    lw.w_scale = s1;
    lw.bias = b1;
    lw.encoding = BP_ENCODING_CSD;
    lw.act_dtype = BP_DTYPE_S8;   /* the image is signed */
    lw.act_scale = 2.0f / 127.0f; /* inputs expected in [-2, 2] */
    CHECK(bp_builder_conv2d(b, "conv1", x, &p, &lw, &y));
    CHECK(bp_builder_relu(b, "relu1", y, &y));

    /* conv2: depthwise (groups = channels) 3x3, stride 2. K = 1 * 3 * 3 = 9. */
    static int16_t w2[8 * 9];
    fill_weights(w2, 8 * 9, 64, 2);
    bp_conv2d_params dw;
    bp_conv2d_params_init(&dw);
    dw.c_out = 8;
    dw.kh = dw.kw = 3;
    dw.stride_h = dw.stride_w = 2;
    dw.pad_t = dw.pad_l = 1; /* asymmetric padding is allowed */
    dw.groups = 8;
    bp_layer_weights lw2;
    bp_layer_weights_init(&lw2);
    lw2.w = w2;             /* scales default to 1, bias to 0 */
    lw2.act_dtype = BP_DTYPE_U8; /* after a relu the input is non-negative */
    lw2.act_scale = 0.05f;
    CHECK(bp_builder_conv2d(b, "conv2", y, &dw, &lw2, &y));
    const float bn_s[8] = {0.5f, 0.6f, 0.7f, 0.8f, 0.9f, 1.0f, 1.1f, 1.2f};
    const float bn_t[8] = {0};
    CHECK(bp_builder_batchnorm(b, "bn2", y, bn_s, bn_t, &y));
    CHECK(bp_builder_global_avgpool(b, "pool", y, &y));
    CHECK(bp_builder_flatten(b, "flatten", y, &y));

    /* fc: 8 -> 4. */
    static int16_t w3[4 * 8];
    static const float s3[4] = {0.002f, 0.002f, 0.002f, 0.002f};
    fill_weights(w3, 4 * 8, 100, 3);
    bp_layer_weights lw3;
    bp_layer_weights_init(&lw3);
    lw3.w = w3;
    lw3.w_scale = s3;
    lw3.act_dtype = BP_DTYPE_S8;
    lw3.act_scale = 0.1f;
    CHECK(bp_builder_linear(b, "fc", y, 4, &lw3, &y));

    /* An op through the generic node function: softmax over the classes. */
    bp_node_desc nd;
    bp_node_desc_init(&nd);
    nd.name = "prob";
    nd.op = BP_OP_SOFTMAX;
    nd.n_in = 1;
    nd.in[0] = y;
    nd.out_ndim = 2;
    nd.out_dims[0] = 1;
    nd.out_dims[1] = 4;
    CHECK(bp_builder_node(b, &nd, &y));
    CHECK(bp_builder_output(b, y));

    CHECK(bp_builder_set_meta(b, "producer", "write_model example"));
    CHECK(bp_builder_set_meta(b, "arch", "tiny-convnet"));
    CHECK(bp_builder_write_file(b, path)); /* validates, then writes atomically */
    bp_builder_free(b);
    return 0;
}

static int run_model(const char *path)
{
    bp_model *m;
    CHECK(bp_model_load_file(path, NULL, &m));
    const bp_model_info *info;
    CHECK(bp_model_info_get(m, &info));
    printf("%s: %u layers, %u nodes, %llu weights\n", path, info->n_layers, info->n_nodes,
           (unsigned long long)info->weights);
    bp_session *s;
    CHECK(bp_session_create(m, NULL, &s));
    float image[3 * 8 * 8], prob[4];
    for (int i = 0; i < 3 * 8 * 8; i++) image[i] = (float)((i * 7) % 17) / 8.0f - 1.0f;
    const float *in[1] = {image};
    float *out[1] = {prob};
    CHECK(bp_session_run(s, in, out));
    float sum = 0;
    for (int c = 0; c < 4; c++) {
        printf("class %d: %.4f\n", c, prob[c]);
        sum += prob[c];
    }
    printf("sum %.4f\n", sum);
    bp_session_free(s);
    bp_model_free(m);
    return sum > 0.999f && sum < 1.001f ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT.bp\n", argv[0]);
        return 2;
    }
    if (write_model(argv[1])) return 1;
    return run_model(argv[1]);
}
