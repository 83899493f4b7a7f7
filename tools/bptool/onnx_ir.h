/* onnx_ir.h: the ONNX importer's working graph (values, nodes, constants,
 * shapes) that loading, folding, normalisation and mapping pass along. */
#ifndef BP_ONNX_IR_H
#define BP_ONNX_IR_H

#include <stddef.h>
#include <stdint.h>

#include "onnx.pb-c.h"

#define BP_ONNX_MAX_DIMS 8
#define BP_ONNX_NONE (-1)
/* Largest tensor read from a file (elements; its bytes must be in the file
 * too), largest constant the folder makes (shape arithmetic makes small
 * ones), largest activation (elements per input): allocations stay bounded
 * on bad input. */
#define BP_ONNX_MAX_CONST_ELEMS (1ll << 28)
#define BP_ONNX_MAX_FOLD_ELEMS (1ll << 24)
#define BP_ONNX_MAX_ACT_ELEMS (1ll << 26)

/* ONNX TensorProto.DataType values the importer reads. */
enum {
    BP_ONNX_FLOAT = 1, BP_ONNX_UINT8 = 2, BP_ONNX_INT8 = 3, BP_ONNX_UINT16 = 4,
    BP_ONNX_INT16 = 5, BP_ONNX_INT32 = 6, BP_ONNX_INT64 = 7, BP_ONNX_STRING = 8,
    BP_ONNX_BOOL = 9, BP_ONNX_FLOAT16 = 10, BP_ONNX_DOUBLE = 11, BP_ONNX_UINT32 = 12,
    BP_ONNX_UINT64 = 13
};

/* Per-axis integer weights behind a DequantizeLinear of a constant:
 * value = q[i] * scale[index along axis] (zero points are 0). */
typedef struct bp_onnx_qw {
    int64_t *q;
    float *scale;
    size_t n_scale; /* 1: per tensor, else dims[axis] */
    int axis;
} bp_onnx_qw;

typedef struct bp_onnx_value {
    char *name;
    int32_t dtype;  /* ONNX element type; 0 unknown */
    int ndim;       /* -1: unknown */
    int64_t dims[BP_ONNX_MAX_DIMS];
    /* constant payload: f for float types, i for integer and bool types */
    int is_const;
    float *f;
    int64_t *i;
    size_t n;
    bp_onnx_qw *qw; /* set when the constant is a dequantized integer tensor */
    int producer;   /* node index, or BP_ONNX_NONE */
    int n_uses;     /* live node inputs reading it (+1 if a graph output) */
    /* mapping onto the .bp graph */
    uint32_t bt;    /* engine tensor id, UINT32_MAX: not mapped */
    int8_t ax[BP_ONNX_MAX_DIMS]; /* ONNX axis -> engine axis, -1: a unit axis */
} bp_onnx_value;

/* Activation quantization read from a QuantizeLinear/DequantizeLinear pair
 * on a node's first input. */
typedef struct bp_onnx_actq {
    int set;
    float scale;
    int32_t zero;
    int is_u8;       /* the pair's integer type: uint8 (1) or int8 (0) */
    const char *via; /* the QuantizeLinear node's name, for messages */
} bp_onnx_actq;

/* A conv / dense layer's weights after normalisation: rows = output
 * channels, K = inputs per row in the .bp column order. Exactly one of
 * wf (float) and wq (integer, from QDQ) is set; bias is always set. */
typedef struct bp_onnx_weights {
    uint32_t rows, K;
    float *wf;
    int32_t *wq;
    float *wq_scale; /* [rows] */
    float *bias;     /* [rows] */
} bp_onnx_weights;

/* Internal ops the normaliser produces (op strings start with "bp."). */
typedef struct bp_onnx_node {
    const Onnx__NodeProto *p; /* NULL for nodes made by the importer */
    const char *op;
    const char *name;
    int own_name; /* name was allocated by the importer */
    int n_in, n_out;
    int *in, *out; /* value ids; BP_ONNX_NONE for an omitted optional input */
    int dead;
    bp_onnx_actq actq;
    /* bp.Conv: geometry; bp.Conv / bp.Dense: weights */
    uint32_t kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, groups;
    int64_t pre_pad[4]; /* a folded Pad before the conv: top, left, bottom, right */
    bp_onnx_weights *w;
    /* bp.Affine (y = x*scale + shift along axis), bp.LayerNorm (gamma, beta) */
    int axis;
    float eps;
    int from_bn; /* a bp.Affine made from BatchNormalization */
    float *scale, *shift;
    size_t n_param;
} bp_onnx_node;

typedef struct bp_onnx_graph {
    Onnx__ModelProto *model;
    int64_t opset;
    bp_onnx_value *v;
    int nv, capv;
    int *hash; /* open addressing over value names, capacity hcap */
    int hcap;
    bp_onnx_node *nodes;
    int nn, capn;
    int input, output; /* value ids */
    int64_t const_cap;  /* element limit of new constants (file or folding) */
    uint32_t in_h, in_w; /* user override of the input's spatial size, or 0 */
    char *err;
    size_t errlen;
    /* notes printed after a successful import (dropped QDQ pairs, ...) */
    int n_dropped_q;
    int n_requant;
    int n_folded_bn, n_gelu, n_layernorm, n_affine_folded, n_hardswish;
} bp_onnx_graph;

/* onnx_load.c */
int bp_onnx_load(bp_onnx_graph *g, const void *buf, size_t size);
void bp_onnx_graph_free(bp_onnx_graph *g);
int bp_onnx_fail(bp_onnx_graph *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int bp_onnx_node_fail(bp_onnx_graph *g, const bp_onnx_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int bp_onnx_value_new(bp_onnx_graph *g, const char *name);
int bp_onnx_node_new(bp_onnx_graph *g, const char *op, const char *name, int n_in, int n_out);
const Onnx__AttributeProto *bp_onnx_attr(const bp_onnx_node *n, const char *name);
int64_t bp_onnx_attr_int(const bp_onnx_node *n, const char *name, int64_t def);
float bp_onnx_attr_float(const bp_onnx_node *n, const char *name, float def);
/* Integer list attribute: number of entries (<= max) or -1 if absent/too long. */
int bp_onnx_attr_ints(const bp_onnx_node *n, const char *name, int64_t *out, int max);
int bp_onnx_tensor_to_const(bp_onnx_graph *g, const Onnx__TensorProto *t, int vid,
                            const char *where);
size_t bp_onnx_numel(const bp_onnx_value *v);
int bp_onnx_set_const_f(bp_onnx_graph *g, int vid, int ndim, const int64_t *dims);
int bp_onnx_set_const_i(bp_onnx_graph *g, int vid, int32_t dtype, int ndim,
                        const int64_t *dims);
void bp_onnx_count_uses(bp_onnx_graph *g);
/* Replaces every use of value `from` by `to` (nodes and the graph output). */
void bp_onnx_replace_uses(bp_onnx_graph *g, int from, int to);
int bp_onnx_is_float(int32_t dt);
const char *bp_onnx_dtype_name(int32_t dt);

/* onnx_fold.c: constant folding and shape inference, in node order. */
int bp_onnx_fold(bp_onnx_graph *g);
/* A Pad node's begin/end amounts per axis (2*rank entries) when it pads
 * with the constant 0 (the only padding a conv can absorb): 0, else -1. */
int bp_onnx_pad_amounts(const bp_onnx_graph *g, const bp_onnx_node *n, int rank, int64_t *pads);

/* onnx_norm.c: graph normalisation before mapping. */
int bp_onnx_normalize(bp_onnx_graph *g);

#endif
