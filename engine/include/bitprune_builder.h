/* bitprune_builder.h: the public C API for writing .bp model files. A converter
 * describes a network op by op (graph inputs, constants, conv2d/linear layers
 * with integer weights, float ops), and the builder checks each call, encodes
 * the weights as per-bit CSR planes, validates the whole model with the same
 * rules as the loader (formats/SPEC.md section 11), and writes it to memory or
 * atomically to a file. Part of libbitprune (link as for bitprune.h).
 *
 * Typical use (a complete program: engine/examples/write_model.c):
 *
 *   bp_builder *b;  uint32_t x, y;
 *   uint32_t dims[4] = {1, 3, 32, 32};
 *   if (bp_builder_create(&b)) die(bp_last_error());
 *   bp_builder_input(b, "image", 4, dims, &x);
 *   bp_conv2d_params p = {0};  p.c_out = 16;  p.kh = p.kw = 3;
 *   p.pad_t = p.pad_l = p.pad_b = p.pad_r = 1;
 *   bp_layer_weights w = {0};  w.w = weights;  w.w_scale = scales;
 *   w.act_dtype = BP_DTYPE_S8;  w.act_scale = 0.02f;
 *   bp_builder_conv2d(b, "conv1", x, &p, &w, &y);
 *   bp_builder_relu(b, "relu1", y, &y);
 *   bp_builder_output(b, y);
 *   if (bp_builder_write_file(b, "net.bp")) die(bp_last_error());
 *   bp_builder_free(b);
 *
 * Tensors are named by ids (uint32_t) the calls return: graph inputs,
 * constants and every op's output, numbered 0, 1, 2, ... in the order they are
 * made. Conv2d/linear layers are numbered separately, 0, 1, 2, ... in the order
 * they are made (the order of bp_model_info.layers and bp_model_calibrate).
 *
 * Errors: every call returns a bp_status (bitprune.h); on failure
 * bp_last_error() names the node or tensor and what is wrong (bad dims, an
 * unknown op, a tensor id that does not exist, ...), and the builder is left
 * as it was before the call, so a converter may report the error and go on or
 * stop. NULL pointers give BP_ERR_INVALID_ARG; nothing aborts. Each op call
 * checks what it can see (ids, ranks, shapes of its inputs, limits);
 * bp_builder_validate and the write functions then run the complete file
 * validation, so a written file always loads.
 *
 * Threading: a builder is used by one thread at a time; different builders are
 * independent. */
#ifndef BITPRUNE_BUILDER_H
#define BITPRUNE_BUILDER_H

#include <stddef.h>
#include <stdint.h>

#include "bitprune.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bp_builder bp_builder;

/* Not a tensor id (returned in *out on failure). */
#define BP_BUILDER_NONE UINT32_MAX

/* Op codes of the .bp format (formats/SPEC.md section 7). bp_builder_node
 * takes any op code of the format; the functions below are conveniences. */
enum {
    BP_OP_CONV2D = 1,        /* bp_builder_conv2d */
    BP_OP_LINEAR = 2,        /* bp_builder_linear */
    BP_OP_RELU = 3,
    BP_OP_GELU = 4,          /* erf form */
    BP_OP_LAYERNORM = 5,     /* over dim 1; in: x, gamma, beta; floats[0] = eps */
    BP_OP_LAYERSCALE = 6,    /* y = x * gamma[c]; in: x, gamma */
    BP_OP_ADD = 7,           /* y = a + b, same shape */
    BP_OP_MAXPOOL = 8,       /* ints = kh, kw, sh, sw, pt, pl, pb, pr */
    BP_OP_AVGPOOL = 9,       /* same ints; padding is not counted */
    BP_OP_GLOBALAVGPOOL = 10,/* (N,C,H,W) -> (N,C,1,1) */
    BP_OP_FLATTEN = 11,      /* (N,...) -> (N, product of the rest) */
    BP_OP_SOFTMAX = 12,      /* over the last dimension */
    BP_OP_BATCHNORM = 13     /* y = x * s[c] + t[c]; in: x, s, t */
};

/* How a layer quantizes its input (SPEC.md 8.1). */
enum { BP_DTYPE_U8 = 2, BP_DTYPE_S8 = 3 };
/* Digits of the stored weight planes. */
enum { BP_ENCODING_BINARY = 0, BP_ENCODING_CSD = 1 };

/* The parameter structs below start with `size_t size`, the caller's
 * sizeof (set by their bp_*_init, which also zeroes every field), so that
 * later versions can append fields (README, "ABI and SONAME policy"). */

/* Geometry of a 2-D convolution. Zero strides, dilations and groups mean 1,
 * so an initialised struct with c_out, kh and kw set is a stride-1,
 * unpadded, dense convolution. */
typedef struct bp_conv2d_params {
    size_t size;            /* sizeof(bp_conv2d_params): bp_conv2d_params_init */
    uint32_t c_out;
    uint32_t kh, kw;
    uint32_t stride_h, stride_w;
    uint32_t pad_t, pad_l, pad_b, pad_r;
    uint32_t dil_h, dil_w;
    uint32_t groups;
} bp_conv2d_params;

/* Weights and quantization of one conv2d/linear layer. K is
 * c_in/groups * kh * kw (c_in for linear); column k of a conv weight row is
 * (ci * kh + dy) * kw + dx, ci the input channel within the group. Arrays are
 * copied by the call. A layer computes, per output channel j,
 *   y = (float)(sum_k w[j][k] * q(x)[k]) * (w_scale[j] * act_scale) + bias[j]
 * with q(x) = saturate(round_half_even(x * (1 / act_scale))) in u8 or s8. */
typedef struct bp_layer_weights {
    size_t size;            /* sizeof(bp_layer_weights): bp_layer_weights_init */
    const int16_t *w;       /* c_out x K, row-major, |w| <= 255; NULL: all zero */
    const float *w_scale;   /* [c_out], finite; NULL: all 1 */
    const float *bias;      /* [c_out], finite; NULL: all 0 */
    uint32_t w_max;         /* declared bound on |w| (<= 255; it sets the number of
                               digit planes); 0: the largest |w| of the layer */
    uint32_t encoding;      /* BP_ENCODING_BINARY or BP_ENCODING_CSD */
    uint32_t act_dtype;     /* BP_DTYPE_U8 or BP_DTYPE_S8; 0: S8 */
    float act_scale;        /* input quantization step, finite and > 0; 0: 1 */
} bp_layer_weights;

/* Attributes of MAXPOOL / AVGPOOL. Zero strides mean 1. */
typedef struct bp_pool2d_params {
    size_t size;            /* sizeof(bp_pool2d_params): bp_pool2d_params_init */
    uint32_t kh, kw;
    uint32_t stride_h, stride_w;
    uint32_t pad_t, pad_l, pad_b, pad_r;
} bp_pool2d_params;

/* One node for bp_builder_node: any op of the format except CONV2D and
 * LINEAR (those need a layer). Unused inputs and attributes must be 0. */
typedef struct bp_node_desc {
    size_t size;            /* sizeof(bp_node_desc): bp_node_desc_init */
    const char *name;       /* node name; its output tensor gets the same name */
    uint32_t op;            /* BP_OP_* or another op code of the format */
    uint32_t n_in;          /* 1..4 */
    uint32_t in[4];         /* tensor ids */
    int32_t ints[8];        /* integer attributes (meaning per op, SPEC.md 7) */
    float floats[4];        /* float attributes */
    uint32_t out_ndim;      /* 1..6 */
    uint32_t out_dims[6];   /* the output shape; out_dims[0] is the batch, 1 */
} bp_node_desc;

/* Zero every field and set size. */
#define BP_BUILDER_STRUCT_INIT_(T)                                                      \
    static inline void T##_init(T *v)                                                  \
    {                                                                                  \
        unsigned char *p = (unsigned char *)v;                                         \
        for (size_t i = 0; i < sizeof *v; i++) p[i] = 0;                               \
        v->size = sizeof *v;                                                           \
    }
BP_BUILDER_STRUCT_INIT_(bp_conv2d_params)
BP_BUILDER_STRUCT_INIT_(bp_layer_weights)
BP_BUILDER_STRUCT_INIT_(bp_pool2d_params)
BP_BUILDER_STRUCT_INIT_(bp_node_desc)
#undef BP_BUILDER_STRUCT_INIT_

/* ---- Builder ---- */
BP_API bp_status bp_builder_create(bp_builder **out);
/* Frees the builder and everything it copied. NULL is ignored. */
BP_API void bp_builder_free(bp_builder *b);

/* ---- Tensors ---- */
/* A graph input: an f32 activation of ndim (1..6) dims, dims[0] == 1 (the
 * batch; sessions choose their own). Inputs are fed to bp_session_run in the
 * order they are made (at most 4). */
BP_API bp_status bp_builder_input(bp_builder *b, const char *name, uint32_t ndim,
                                  const uint32_t *dims, uint32_t *out);
/* A constant f32 tensor holding a copy of prod(dims) values of data
 * (row-major). Used as an ADD operand or as per-channel op parameters. */
BP_API bp_status bp_builder_constant(bp_builder *b, const char *name, uint32_t ndim,
                                     const uint32_t *dims, const float *data,
                                     uint32_t *out);
/* The shape of tensor t: *ndim and dims[0..*ndim) (dims has room for 6). */
BP_API bp_status bp_builder_tensor_shape(const bp_builder *b, uint32_t t, uint32_t *ndim,
                                         uint32_t *dims);

/* ---- Layers ----
 * x must be (1, c_in, H, W) for conv2d; (1, c_in) or (1, c_in, 1, 1) for
 * linear. w may be NULL: zero weights, unit scales, s8 input at step 1, to be
 * filled in later with bp_builder_set_layer_weights (for converters that build
 * the graph before they compute weights or calibrate). The output shape is
 * (1, c_out, H', W') with H' = (H + pad_t + pad_b - dil_h*(kh-1) - 1)/stride_h + 1,
 * and (1, c_out) for linear. */
BP_API bp_status bp_builder_conv2d(bp_builder *b, const char *name, uint32_t x,
                                   const bp_conv2d_params *p, const bp_layer_weights *w,
                                   uint32_t *out);
BP_API bp_status bp_builder_linear(bp_builder *b, const char *name, uint32_t x, uint32_t c_out,
                                   const bp_layer_weights *w, uint32_t *out);
/* Number of layers so far (0 for a NULL or freed builder), and the shape of
 * layer l's weight matrix (c_out x K). */
BP_API uint32_t bp_builder_layer_count(const bp_builder *b);
BP_API bp_status bp_builder_layer_shape(const bp_builder *b, uint32_t layer, uint32_t *c_out,
                                        uint32_t *K);
/* Replaces layer l's weights, scales, bias and quantization (w as for
 * bp_builder_conv2d; NULL is refused here). */
BP_API bp_status bp_builder_set_layer_weights(bp_builder *b, uint32_t layer,
                                              const bp_layer_weights *w);
/* Replaces only how layer l quantizes its input (e.g. after calibration). */
BP_API bp_status bp_builder_set_layer_act(bp_builder *b, uint32_t layer, uint32_t act_dtype,
                                          float act_scale);

/* ---- Other ops ----
 * Each adds one node named name (NULL: "<op>.<node index>") whose output
 * tensor has the same name, and returns the output id in *out. */
BP_API bp_status bp_builder_node(bp_builder *b, const bp_node_desc *d, uint32_t *out);
BP_API bp_status bp_builder_relu(bp_builder *b, const char *name, uint32_t x, uint32_t *out);
BP_API bp_status bp_builder_gelu(bp_builder *b, const char *name, uint32_t x, uint32_t *out);
BP_API bp_status bp_builder_softmax(bp_builder *b, const char *name, uint32_t x,
                                   uint32_t *out);
BP_API bp_status bp_builder_add(bp_builder *b, const char *name, uint32_t a, uint32_t c,
                                uint32_t *out);
BP_API bp_status bp_builder_maxpool(bp_builder *b, const char *name, uint32_t x,
                                    const bp_pool2d_params *p, uint32_t *out);
BP_API bp_status bp_builder_avgpool(bp_builder *b, const char *name, uint32_t x,
                                    const bp_pool2d_params *p, uint32_t *out);
BP_API bp_status bp_builder_global_avgpool(bp_builder *b, const char *name, uint32_t x,
                                           uint32_t *out);
BP_API bp_status bp_builder_flatten(bp_builder *b, const char *name, uint32_t x,
                                    uint32_t *out);
/* Per-channel ops over dim 1 of x (C values each). The parameters become
 * constant tensors "<name>.weight" and "<name>.bias" (layernorm),
 * "<name>.gamma" (layerscale), "<name>.scale" and "<name>.shift" (batchnorm),
 * made before the node. NULL parameters: gamma and scale 1, beta and shift 0. */
BP_API bp_status bp_builder_layernorm(bp_builder *b, const char *name, uint32_t x,
                                      const float *gamma, const float *beta, float eps,
                                      uint32_t *out);
BP_API bp_status bp_builder_layerscale(bp_builder *b, const char *name, uint32_t x,
                                       const float *gamma, uint32_t *out);
BP_API bp_status bp_builder_batchnorm(bp_builder *b, const char *name, uint32_t x,
                                      const float *scale, const float *shift, uint32_t *out);

/* ---- Model ---- */
/* Marks tensor t as a graph output (in order; at most 4). */
BP_API bp_status bp_builder_output(bp_builder *b, uint32_t t);
/* Replaces the list of graph outputs with ids[0..n) (n <= 4; 0 clears it),
 * e.g. to write a variant of the model that outputs intermediate tensors. */
BP_API bp_status bp_builder_set_outputs(bp_builder *b, uint32_t n, const uint32_t *ids);
/* Sets metadata key to value (UTF-8; a key set twice keeps its place and
 * takes the new value). Keys tools read: producer, arch, dataset, accuracy,
 * synthetic (formats/SPEC.md section 5). */
BP_API bp_status bp_builder_set_meta(bp_builder *b, const char *key, const char *value);

/* Runs every check a loader runs on the model as built so far. */
BP_API bp_status bp_builder_validate(const bp_builder *b);
/* Validates and serializes into a malloc'd, 64-byte aligned buffer (release
 * it with free(); bp_model_load_memory can use it in place). */
BP_API bp_status bp_builder_write_memory(const bp_builder *b, void **buf, size_t *size);
/* Validates and writes path atomically: a temporary file in the same
 * directory, synced, then renamed over path. On failure path is unchanged;
 * a path that exists and is not a regular file (device, FIFO, directory) is
 * refused (BP_ERR_IO). */
BP_API bp_status bp_builder_write_file(const bp_builder *b, const char *path);

#ifdef __cplusplus
}
#endif
#endif
