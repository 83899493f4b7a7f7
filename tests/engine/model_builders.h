/* Test model builders: small graphs written with the public writer API
 * (bitprune_builder.h) from random bit-pruning-like weights, plus the
 * ResNet- and ConvNeXt-like models the whole-model tests (and the oneDNN
 * tests) run. Deterministic for a given seed. */
#ifndef BPT_MODEL_BUILDERS_H
#define BPT_MODEL_BUILDERS_H

#include <stddef.h>
#include <stdint.h>

#include "bpf.h"

typedef struct bpt_builder bpt_builder;

/* Weight statistics of a generated layer. */
typedef struct bpt_wspec {
    double density;    /* fraction of nonzero weights, (0, 1] */
    uint32_t encoding; /* BPF_ENC_BINARY (0) or BPF_ENC_CSD (1) */
    int wide;          /* 1: magnitudes up to 255 (not only <= 128) */
} bpt_wspec;

bpt_builder *bpt_new(uint64_t seed, bpt_wspec ws);
void bpt_free(bpt_builder *b);
void bpt_set_wspec(bpt_builder *b, bpt_wspec ws);

/* Activation tensor (dims[0] must be 1). Returns its id. */
uint32_t bpt_input(bpt_builder *b, const char *name, uint32_t ndim, const uint32_t *dims);
/* Conv2d with random weights; act_s8: quantize the input as s8 (else u8).
 * Activation scale starts at 1/32 until bpt_calibrate. Returns the output id. */
uint32_t bpt_conv(bpt_builder *b, const char *name, uint32_t x, uint32_t c_out, uint32_t kh,
                  uint32_t kw, uint32_t stride, uint32_t pad, uint32_t dil, uint32_t groups,
                  int act_s8);
/* Full geometry form. */
uint32_t bpt_conv_ex(bpt_builder *b, const char *name, uint32_t x, uint32_t c_out,
                     uint32_t kh, uint32_t kw, uint32_t sh, uint32_t sw, uint32_t pt,
                     uint32_t pl, uint32_t pb, uint32_t pr, uint32_t dh, uint32_t dw,
                     uint32_t groups, int act_s8);
/* Conv/linear with caller weights (c_out x K int16, row-major), scales, bias. */
uint32_t bpt_conv_w(bpt_builder *b, const char *name, uint32_t x, uint32_t c_out,
                    uint32_t kh, uint32_t kw, uint32_t sh, uint32_t sw, uint32_t pt,
                    uint32_t pl, uint32_t pb, uint32_t pr, uint32_t dh, uint32_t dw,
                    uint32_t groups, int act_s8, float act_scale, const int16_t *w,
                    const float *w_scale, const float *bias);
uint32_t bpt_linear(bpt_builder *b, const char *name, uint32_t x, uint32_t c_out, int act_s8);
uint32_t bpt_linear_w(bpt_builder *b, const char *name, uint32_t x, uint32_t c_out,
                      int act_s8, float act_scale, const int16_t *w, const float *w_scale,
                      const float *bias);
/* Any node: op on n_in inputs, ints[8] / floats[4] (NULL: zeros), output
 * of the given shape (not inferred). Returns the output id. */
uint32_t bpt_op(bpt_builder *b, uint32_t op, uint32_t n_in, const uint32_t *in,
                const int32_t *ints, const float *floats, uint32_t ndim, const uint32_t *dims);
uint32_t bpt_relu(bpt_builder *b, uint32_t x);
uint32_t bpt_gelu(bpt_builder *b, uint32_t x);
uint32_t bpt_add(bpt_builder *b, uint32_t x, uint32_t y);
/* Per-channel parameters random unless given (NULL). */
uint32_t bpt_layernorm(bpt_builder *b, uint32_t x, float eps, const float *gamma,
                       const float *beta);
uint32_t bpt_layerscale(bpt_builder *b, uint32_t x, const float *gamma);
uint32_t bpt_batchnorm(bpt_builder *b, uint32_t x, const float *scale, const float *shift);
uint32_t bpt_pool(bpt_builder *b, uint32_t x, int is_max, uint32_t k, uint32_t s,
                  uint32_t pad);
uint32_t bpt_gap(bpt_builder *b, uint32_t x);
uint32_t bpt_flatten(bpt_builder *b, uint32_t x);
uint32_t bpt_softmax(bpt_builder *b, uint32_t x);
void bpt_output(bpt_builder *b, uint32_t t);
/* Constant f32 tensor of this shape (copied; random in [-1, 1) if data is
 * NULL). Returns its id. */
uint32_t bpt_const(bpt_builder *b, const char *name, uint32_t ndim, const uint32_t *dims,
                   const float *data);

/* Layers added so far / dims of a tensor (the pointer stays valid until
 * bpt_free). */
uint32_t bpt_n_layers(const bpt_builder *b);
const uint32_t *bpt_dims(const bpt_builder *b, uint32_t t, uint32_t *ndim);
/* Dense weights of layer l and the test's record of the layer (geometry,
 * encoding, the M and w_max its weights need, act scale) as generated
 * (valid until bpt_free). */
const int16_t *bpt_layer_weights(const bpt_builder *b, uint32_t l);
const bpf_layer *bpt_layer(const bpt_builder *b, uint32_t l);
void bpt_set_act_scale(bpt_builder *b, uint32_t l, float scale);

/* Serializes (malloc'd buffer, free()). Returns 0 or a bpf_status. */
int bpt_write(bpt_builder *b, void **buf, size_t *size);

/* Sets each layer's activation scale from a float calibration run of the
 * written model (max |x| / 255 for u8, / 127 for s8) on `batch` random
 * inputs; needs the engine (links libbitprune's static twin). 0 on success. */
int bpt_calibrate(bpt_builder *b, uint32_t batch);

/* The whole-model zoo. sparsity: fraction of zero weights. Both call
 * bpt_calibrate; result in *buf (free()). */
int bpt_build_resnet(uint64_t seed, double sparsity, uint32_t encoding, void **buf,
                     size_t *size);
int bpt_build_convnext(uint64_t seed, double sparsity, uint32_t encoding, void **buf,
                       size_t *size);

/* A valid model whose activations cannot fit in any address space at large
 * batches: input x of shape (1, 4096, 1024, 1024) (2^32 elements), n_live
 * relu(x) outputs all live at once, then summed pairwise (add outputs are
 * dead except the last, the graph output). No weights. Result in *buf (free()); 0 or a bpf_status. */
int bpt_build_many_live(uint32_t n_live, void **buf, size_t *size);

/* Deterministic random floats in [lo, hi). */
void bpt_fill_uniform(uint64_t *state, float *x, size_t n, float lo, float hi);
uint64_t bpt_rand(uint64_t *state);

/* Seed from $BP_TEST_SEED or a fixed default; prints it. */
uint64_t bpt_test_seed(const char *suite);

#endif
