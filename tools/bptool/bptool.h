/* bptool internals: the model graph builder, the synthetic-weight recipe
 * (Kaiming init, per-channel quantization, the paper's proximal map, magnitude
 * pruning) and the subcommands. Shared by the bptool executable and its tests. */
#ifndef BPTOOL_H
#define BPTOOL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bpf.h"
#include "bp_kernels.h"

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

/* ---- Graph builder (graph.c) ---- */
typedef struct bp_tool_layer {
    float *wf;       /* float master weights [c_out*K] (gen only, else NULL) */
    int16_t *w;      /* integer weights [c_out*K] */
    float *w_scale;  /* [c_out] */
    float *bias;     /* [c_out] */
    int bn;          /* a folded batch norm follows (ResNet) */
    bp_planes_buf planes;
} bp_tool_layer;

typedef struct bp_tool_graph {
    bpf_tensor *tensors;
    uint32_t n_tensors, cap_tensors;
    bpf_node *nodes;
    uint32_t n_nodes, cap_nodes;
    bpf_layer *layers;
    bp_tool_layer *lsrc;
    uint32_t n_layers, cap_layers;
    bpf_kv *meta;
    uint32_t n_meta, cap_meta;
    void **owned; /* strings and constant data freed with the graph */
    uint32_t n_owned, cap_owned;
    uint32_t input, output;
    int failed; /* sticky: an allocation failed */
} bp_tool_graph;

void bp_tool_graph_init(bp_tool_graph *g);
void bp_tool_graph_free(bp_tool_graph *g);
/* Graph input (1, c, h, w). */
uint32_t bp_tool_input(bp_tool_graph *g, const char *name, uint32_t c, uint32_t h, uint32_t w);
/* Ops. Each returns the output tensor id (UINT32_MAX once g->failed). */
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
/* General building blocks (the importer's ops): a tensor (activation unless
 * data is attached), a node (the caller fills inputs and attributes), a node's
 * output tensor, a conv/linear layer with zeroed weights, an f32 constant. */
uint32_t bp_tool_tensor(bp_tool_graph *g, const char *name, uint32_t ndim,
                        const uint32_t *dims);
bpf_node *bp_tool_node(bp_tool_graph *g, const char *name, uint32_t op);
uint32_t bp_tool_out(bp_tool_graph *g, bpf_node *n, uint32_t ndim, const uint32_t *dims);
uint32_t bp_tool_add_layer(bp_tool_graph *g, const bpf_layer *l, int bn);
uint32_t bp_tool_const_data(bp_tool_graph *g, const char *name, uint32_t ndim,
                            const uint32_t *dims, const float *v);
int bp_tool_meta_set(bp_tool_graph *g, const char *key, const char *value);
void bp_tool_graph_desc(const bp_tool_graph *g, bpf_model_desc *d);

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
} bp_tool_gen_opts;
void bp_tool_gen_opts_default(bp_tool_gen_opts *o);

/* Builds, synthesizes, calibrates and serializes a model into a malloc'd
 * buffer (free with free()). On failure returns nonzero and writes a message
 * to err (size errlen). */
int bp_tool_gen_memory(const bp_tool_gen_opts *o, void **buf, size_t *size,
                       char *err, size_t errlen);

/* Re-projects the weights of one layer in place (prox at lambda for BIT, then
 * magnitude pruning) and re-encodes its planes. Used by gen and prune. */
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
/* Prints "bptool CMD: message" and the command's usage to stderr; returns 2. */
int bp_tool_usage_error(const char *cmd, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
