/* bptool internals: the model graph builder, the synthetic-weight recipe
 * (Kaiming init, per-channel quantization, the paper's proximal map, magnitude
 * pruning) and the subcommands. Shared by the bptool executable and its tests. */
#ifndef BPTOOL_H
#define BPTOOL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bitprune_builder.h"
#include "bp_kernels.h"
#include "bpf.h"

/* ---- Deterministic RNG (xoshiro256**, seeded by splitmix64) ---- */
typedef struct bp_tool_rng {
    uint64_t s[4];
    int has_spare;
    double spare;
} bp_tool_rng;
void bp_tool_rng_seed(bp_tool_rng *r, uint64_t seed, uint64_t stream);
uint64_t bp_tool_rng_u64(bp_tool_rng *r);
double bp_tool_rng_uniform(bp_tool_rng *r); /* [0, 1) */
double bp_tool_rng_normal(bp_tool_rng *r);  /* N(0, 1), Box-Muller */

/* ---- The weight recipe (prox.c) ---- */
/* Default weight range [-127, 127]: every 8-bit backend represents it, so a
 * generated model is exact on all of them. 128 (the paper's [-128, 128] grid)
 * and 255 (8-bit magnitude and a sign) are the other ranges gen offers. */
#define BP_TOOL_WMAX_DEFAULT 127
/* Nonzero when wmax is one of the ranges gen offers (127, 128, 255). */
int bp_tool_wmax_valid(int wmax);

/* Add-count cost C_add(|w|) of the proximal map. */
int bp_tool_cost_binary(uint32_t a); /* popcount */
int bp_tool_cost_csd(uint32_t a);    /* nonzero digits of the NAF */

/* The paper's proximal weight (eq. 8) with p = 1/2 over the integers in
 * [-qmax, qmax]: lut[v + qmax] = argmin_w |s(w) - s(v)| + lambda * C_add(w),
 * s(v) = sgn(v)|v|^(1/2). Ties go to the smaller |w|. lut has 2*qmax+1
 * entries. cost_csd selects the CSD digit count as C_add. */
void bp_tool_prox_lut(double lambda, int cost_csd, int qmax, int16_t *lut);

/* Per-output-row quantization: scale[j] = absmax_j / qmax, w = round(wf/scale)
 * (halves away from zero), so |w| <= qmax. A zero row gets scale 1. */
void bp_tool_quantize_rows(const float *wf, uint32_t rows, uint32_t K, int qmax,
                           int16_t *w, float *scale);

/* Magnitude pruning to a weight sparsity: zeroes the weights with the smallest
 * |w[i]| * scale[row] (ties broken by |tiebreak[i]| if given, then by index)
 * until round(sparsity * rows * K) weights are zero. Weights already zero count.
 * Returns 0, or -1 on no memory. */
int bp_tool_prune_magnitude(int16_t *w, uint32_t rows, uint32_t K, const float *scale,
                            const float *tiebreak, double sparsity);

/* ---- Graph (graph.c), on the public writer API ---- */
typedef struct bp_tool_layer {
    float *wf;       /* float master weights [c_out*K] (gen only, else NULL) */
    int16_t *w;      /* integer weights [c_out*K] */
    float *w_scale;  /* [c_out] */
    float *bias;     /* [c_out] */
    int bn;          /* a folded batch norm follows (ResNet) */
    uint32_t x;      /* the layer's input tensor */
    bp_planes_buf planes; /* bp_tool_project_layer's encoding (bptool prune) */
} bp_tool_layer;

typedef struct bp_tool_graph {
    bp_builder *b;       /* the model: tensors, nodes, layers, metadata */
    bpf_tensor *tensors; /* shape (ndim, dims) of every tensor id so far, from b */
    uint32_t n_tensors, cap_tensors;
    bpf_layer *layers;   /* per layer: geometry, and the w_max, encoding and input
                            quantization the tool chose (written to b with the
                            weights of lsrc by bp_tool_graph_write) */
    bp_tool_layer *lsrc;
    uint32_t n_layers, cap_layers;
    uint32_t input, output;
    bp_node_desc pending; /* the node bp_tool_node hands out */
    int failed; /* sticky: 1 no memory, 2 a shape or geometry the builder refused
                   (bp_last_error() says which) */
} bp_tool_graph;

void bp_tool_graph_init(bp_tool_graph *g);
void bp_tool_graph_free(bp_tool_graph *g);
/* Graph input (1, c, h, w). */
uint32_t bp_tool_input(bp_tool_graph *g, const char *name, uint32_t c, uint32_t h, uint32_t w);
/* Ops. Each returns the output tensor id (UINT32_MAX once g->failed). Layers
 * start with zero weights: fill lsrc[l] and layers[l] before writing. */
uint32_t bp_tool_conv(bp_tool_graph *g, const char *name, uint32_t x, uint32_t c_out,
                      uint32_t k, uint32_t stride, uint32_t pad, uint32_t groups, int bn);
uint32_t bp_tool_linear(bp_tool_graph *g, const char *name, uint32_t x, uint32_t c_out);
uint32_t bp_tool_relu(bp_tool_graph *g, const char *name, uint32_t x);
uint32_t bp_tool_gelu(bp_tool_graph *g, const char *name, uint32_t x);
uint32_t bp_tool_add(bp_tool_graph *g, const char *name, uint32_t a, uint32_t b);
uint32_t bp_tool_layernorm(bp_tool_graph *g, const char *name, uint32_t x, float eps);
uint32_t bp_tool_layerscale(bp_tool_graph *g, const char *name, uint32_t x, float gamma);
uint32_t bp_tool_maxpool(bp_tool_graph *g, const char *name, uint32_t x, uint32_t k,
                         uint32_t stride, uint32_t pad);
uint32_t bp_tool_gap(bp_tool_graph *g, const char *name, uint32_t x);
uint32_t bp_tool_flatten(bp_tool_graph *g, const char *name, uint32_t x);
void bp_tool_set_output(bp_tool_graph *g, uint32_t t);
/* General building blocks (the importer's ops):
 * - bp_tool_tensor: a graph input of any shape;
 * - bp_tool_node hands out a node description of op (name is kept by
 *   pointer until bp_tool_out); the caller fills inputs (n_in, in[]) and
 *   attributes (ints, floats), then bp_tool_out adds the node with its
 *   output shape and returns the output tensor;
 * - bp_tool_layer_op: a conv/linear layer (geometry from l, zero weights) and
 *   its node on x; *layer gets the layer index;
 * - bp_tool_const_data: an f32 constant holding a copy of v. */
uint32_t bp_tool_tensor(bp_tool_graph *g, const char *name, uint32_t ndim,
                        const uint32_t *dims);
bp_node_desc *bp_tool_node(bp_tool_graph *g, const char *name, uint32_t op);
uint32_t bp_tool_out(bp_tool_graph *g, bp_node_desc *n, uint32_t ndim, const uint32_t *dims);
uint32_t bp_tool_layer_op(bp_tool_graph *g, const char *name, uint32_t x, const bpf_layer *l,
                          int bn, uint32_t *layer);
uint32_t bp_tool_const_data(bp_tool_graph *g, const char *name, uint32_t ndim,
                            const uint32_t *dims, const float *v);
int bp_tool_meta_set(bp_tool_graph *g, const char *key, const char *value);
/* Writes every layer's weights and quantization to the builder and
 * serializes the model with outputs outs[0..n_out) (outs NULL: g->output)
 * into a malloc'd buffer. On failure bp_last_error() says what is wrong. */
bp_status bp_tool_graph_write(bp_tool_graph *g, uint32_t n_out, const uint32_t *outs,
                              void **buf, size_t *size);

/* ---- Architectures (archs.c) ---- */
typedef struct bp_tool_arch_opts {
    uint32_t h, w;       /* input size; 0: the architecture's default */
    uint32_t classes;    /* 0: default */
    int gelu;            /* ConvNeXt: GELU instead of the paper's ReLU */
} bp_tool_arch_opts;
/* Known names: resnet18-cifar, resnet18, convnext-t, convnext-b.
 * Returns 0, -1 for an unknown name, -2 for an input too small, -3 on no memory. */
int bp_tool_build_arch(bp_tool_graph *g, const char *arch, const bp_tool_arch_opts *o);
const char *const *bp_tool_arch_names(void); /* NULL-terminated */
void bp_tool_arch_default_input(const char *arch, uint32_t *h, uint32_t *w,
                                uint32_t *classes);

/* ---- Generation (gen.c) ---- */
typedef enum bp_tool_prune { BP_TOOL_PRUNE_NONE, BP_TOOL_PRUNE_BIT, BP_TOOL_PRUNE_WEIGHT } bp_tool_prune;

typedef struct bp_tool_gen_opts {
    const char *arch;
    bp_tool_prune prune;
    double lambda;
    double sparsity;
    bp_encoding encoding;
    uint64_t seed;
    bp_tool_arch_opts arch_opts;
    uint32_t calib;  /* calibration images */
    int wmax;        /* weight range [-wmax, wmax] (bp_tool_wmax_valid) */
    int quiet;
    FILE *progress;  /* "layer i/n" lines go here (a terminal); NULL: none */
} bp_tool_gen_opts;
void bp_tool_gen_opts_default(bp_tool_gen_opts *o);

/* Builds, synthesizes, calibrates and serializes a model into a malloc'd
 * buffer (free with free()). On failure returns nonzero and writes a message
 * to err (size errlen). */
int bp_tool_gen_memory(const bp_tool_gen_opts *o, void **buf, size_t *size,
                       char *err, size_t errlen);

/* Re-projects the dense weights of one layer (rows x K, range [-qmax, qmax])
 * in place: the proximal map at lambda for BIT, then magnitude pruning.
 * Returns 0, -1 for a weight beyond qmax, -2 on no memory. */
int bp_tool_project_weights(bp_tool_layer *L, uint32_t rows, uint32_t K, int qmax,
                            bp_tool_prune prune, double lambda, double sparsity,
                            bp_encoding enc, const float *tiebreak);
/* bp_tool_project_weights on layer out (range out->w_max), then encodes the
 * planes into L->planes and points out at them (bptool prune re-writes a
 * loaded model's layers this way). */
int bp_tool_project_layer(bp_tool_layer *L, bpf_layer *out, bp_tool_prune prune,
                          double lambda, double sparsity, bp_encoding enc,
                          const float *tiebreak);

/* Activation quantization rule from a calibration range (see gen.c). */
void bp_tool_act_rule(float mn, float mx, uint32_t *dtype, float *scale);

/* ---- Subcommands (cmd_*.c); each returns the process exit code. ---- */
int bp_tool_cmd_gen(int argc, char **argv);
int bp_tool_cmd_info(int argc, char **argv);
int bp_tool_cmd_verify(int argc, char **argv);
int bp_tool_cmd_prune(int argc, char **argv);

/* CLI helpers (cli.c) */
int bp_tool_parse_double(const char *s, double *v);
int bp_tool_parse_u64(const char *s, uint64_t *v);
int bp_tool_parse_hw(const char *s, uint32_t *h, uint32_t *w);
/* "bptool CMD: [PATH: ]msg" on stderr; the path only when msg lacks it. */
void bp_tool_file_error(const char *cmd, const char *path, const char *msg);
/* Prints "bptool CMD: message" and "try 'bptool CMD --help'" to stderr; returns 2.
 * (usage is unused: a usage error is one line, --help prints the text.) */
int bp_tool_usage_error(const char *cmd, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
