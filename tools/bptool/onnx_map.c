/* onnx_map.c: maps the normalised ONNX graph onto .bp ops. Each ONNX value
 * is an engine tensor seen through an axis map (ONNX axis -> engine axis, or
 * a unit axis), so Transpose, Squeeze/Unsqueeze and view-only Reshape cost
 * nothing and channels-last blocks (Transpose -> LayerNorm -> MatMul ->
 * Transpose) run as channel ops on NCHW. Ops the engine lacks fail here,
 * naming the node and the op. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bptool.h"
#include "onnx_geom.h"
#include "onnx_import.h"
#include "onnx_ir.h"

#define BP_ONNX_NT UINT32_MAX

typedef struct bp_onnx_mapper {
    bp_onnx_graph *g;
    bp_tool_graph *bg;
    int *layer_node; /* bp layer index -> ONNX node index */
} bp_onnx_mapper;

static const char bp_onnx_supported[] =
    "supported: Conv, Gemm, MatMul (constant weights), ConvTranspose (constant weights, "
    "group 1), BatchNormalization, Relu, GELU, Sigmoid, HardSigmoid, HardSwish, Clip, "
    "LayerNormalization, Add and Mul (broadcasting), Sub/Div by constants, Concat, Resize "
    "(nearest, linear), MaxPool, AveragePool, GlobalAveragePool, ReduceMean (spatial), "
    "Flatten/Reshape/Squeeze/Unsqueeze/Transpose (views), Softmax, "
    "QuantizeLinear/DequantizeLinear";

static const bpf_tensor *bp_onnx_et(const bp_onnx_mapper *mp, int vid)
{
    return &mp->bg->tensors[mp->g->v[vid].bt];
}

static int bp_onnx_oom(bp_onnx_mapper *mp)
{
    return bp_onnx_fail(mp->g, "out of memory while building the .bp graph");
}

/* The .bp graph refused node n (or ran out of memory): the builder's message. */
static int bp_onnx_built_fail(bp_onnx_mapper *mp, const bp_onnx_node *n)
{
    if (mp->bg->failed == 1)
        return bp_onnx_oom(mp);
    return bp_onnx_node_fail(mp->g, n, "cannot be written as a .bp node: %s", bp_last_error());
}

/* Input k of n as a mapped activation. */
static int bp_onnx_act_in(bp_onnx_mapper *mp, const bp_onnx_node *n, int k)
{
    bp_onnx_graph *g = mp->g;
    if (k >= n->n_in || n->in[k] < 0)
        return bp_onnx_node_fail(g, n, "input %d is missing", k);
    const bp_onnx_value *v = &g->v[n->in[k]];
    if (v->is_const)
        return bp_onnx_node_fail(g, n, "input %d ('%s') is a constant where the engine needs "
                                 "an activation", k, v->name);
    if (v->bt == BP_ONNX_NT)
        return bp_onnx_node_fail(g, n, "input '%s' was not mapped", v->name);
    return 0;
}

static int bp_onnx_is_identity(const bp_onnx_mapper *mp, int vid)
{
    const bp_onnx_value *v = &mp->g->v[vid];
    const bpf_tensor *t = bp_onnx_et(mp, vid);
    if ((uint32_t)v->ndim != t->ndim)
        return 0;
    for (int i = 0; i < v->ndim; i++)
        if (v->ax[i] != i || (int64_t)t->dims[i] != v->dims[i])
            return 0;
    return 1;
}

/* Output value y aliases engine tensor t with axis map ax. */
static void bp_onnx_bind(bp_onnx_mapper *mp, int y, uint32_t t, const int8_t *ax)
{
    bp_onnx_value *v = &mp->g->v[y];
    v->bt = t;
    memcpy(v->ax, ax, sizeof v->ax);
}

static void bp_onnx_bind_identity(bp_onnx_mapper *mp, int y, uint32_t t)
{
    int8_t ax[BP_ONNX_MAX_DIMS];
    for (int i = 0; i < BP_ONNX_MAX_DIMS; i++)
        ax[i] = (int8_t)i;
    bp_onnx_bind(mp, y, t, ax);
}

/* A node of op on x, named after n, for the caller to complete (more inputs,
 * attributes) before bp_onnx_emit adds it. */
static bp_node_desc *bp_onnx_begin(bp_onnx_mapper *mp, const bp_onnx_node *n, uint32_t op,
                                   uint32_t x)
{
    bp_node_desc *e = bp_tool_node(mp->bg, n->name, op);
    if (e) {
        e->n_in = 1;
        e->in[0] = x;
    }
    return e;
}

/* Adds node e with output dims; returns the output tensor. */
static uint32_t bp_onnx_emit(bp_onnx_mapper *mp, bp_node_desc *e, uint32_t ndim,
                             const uint32_t *dims)
{
    return bp_tool_out(mp->bg, e, ndim, dims);
}

/* Adds node e with 4-D output dims as n's output (same axis order);
 * 0, or -1 with the failure reported. */
static int bp_onnx_emit_out(bp_onnx_mapper *mp, const bp_onnx_node *n, bp_node_desc *e,
                            const uint32_t *dims)
{
    uint32_t t = bp_onnx_emit(mp, e, 4, dims);
    if (t == BP_ONNX_NT)
        return bp_onnx_built_fail(mp, n);
    bp_onnx_bind_identity(mp, n->out[0], t);
    return 0;
}

/* The same with the shape of e's first input. */
static uint32_t bp_onnx_emit_same(bp_onnx_mapper *mp, bp_node_desc *e)
{
    if (!e)
        return BP_ONNX_NT;
    uint32_t dims[BPF_MAX_DIMS];
    const bpf_tensor *t = &mp->bg->tensors[e->in[0]];
    uint32_t nd = t->ndim;
    memcpy(dims, t->dims, sizeof dims);
    return bp_onnx_emit(mp, e, nd, dims);
}

/* The engine axis of ONNX axis a of value v, or -1 for a unit axis. */
static int bp_onnx_eaxis(const bp_onnx_value *v, int a)
{
    return a >= 0 && a < v->ndim ? v->ax[a] : -1;
}

/* Per-channel constant tensor of C values (v has C values or 1). */
static uint32_t bp_onnx_chan_const(bp_onnx_mapper *mp, const char *node, const char *what,
                                   const float *v, size_t nv, uint32_t C)
{
    float *tmp = malloc((size_t)C * sizeof *tmp);
    if (!tmp)
        return BP_ONNX_NT;
    for (uint32_t c = 0; c < C; c++)
        tmp[c] = v[nv == 1 ? 0 : c];
    char name[512];
    snprintf(name, sizeof name, "%s.%s", node, what);
    uint32_t t = bp_tool_const_data(mp->bg, name, 1, &C, tmp);
    free(tmp);
    return t;
}

/* ---- ops ---- */
static int bp_onnx_map_conv(bp_onnx_mapper *mp, bp_onnx_node *n)
{
    bp_onnx_graph *g = mp->g;
    if (bp_onnx_act_in(mp, n, 0))
        return -1;
    int x = n->in[0];
    if (!bp_onnx_is_identity(mp, x) || g->v[x].ndim != 4)
        return bp_onnx_node_fail(g, n, "its input is not an NCHW activation (it is reached "
                                 "through a transpose or reshape the engine cannot undo)");
    uint32_t lim[] = {n->kh, n->kw, n->sh, n->sw, n->dh, n->dw};
    for (int i = 0; i < 6; i++)
        if (lim[i] > 64)
            return bp_onnx_node_fail(g, n, "kernel, stride and dilation are limited to 64 in "
                                     "a .bp layer");
    if (n->pt > 64 || n->pl > 64 || n->pb > 64 || n->pr > 64)
        return bp_onnx_node_fail(g, n, "padding is limited to 64 in a .bp layer");
    const bpf_tensor *xt = bp_onnx_et(mp, x);
    bpf_layer l;
    memset(&l, 0, sizeof l);
    l.kind = BPF_LAYER_CONV;
    l.c_out = n->w->rows;
    l.c_in = xt->dims[1];
    l.kh = n->kh;
    l.kw = n->kw;
    l.stride_h = n->sh;
    l.stride_w = n->sw;
    l.pad_t = n->pt;
    l.pad_l = n->pl;
    l.pad_b = n->pb;
    l.pad_r = n->pr;
    l.dil_h = n->dh;
    l.dil_w = n->dw;
    l.groups = n->groups;
    l.K = n->w->K;
    l.act_dtype = BPF_DT_S8;
    l.act_scale = 1.0f;
    uint32_t li;
    uint32_t t = bp_tool_layer_op(mp->bg, n->name, (uint32_t)(xt - mp->bg->tensors), &l, 0, &li);
    if (t == BP_ONNX_NT)
        return bp_onnx_built_fail(mp, n);
    mp->layer_node[li] = (int)(n - g->nodes);
    const bp_onnx_value *y = &g->v[n->out[0]];
    const bpf_tensor *yt = &mp->bg->tensors[t];
    if (yt->dims[1] != (uint32_t)y->dims[1] || yt->dims[2] != (uint32_t)y->dims[2] ||
        yt->dims[3] != (uint32_t)y->dims[3])
        return bp_onnx_node_fail(g, n, "its output shape does not follow from its geometry");
    bp_onnx_bind_identity(mp, n->out[0], t);
    return 0;
}

static int bp_onnx_map_dense(bp_onnx_mapper *mp, bp_onnx_node *n)
{
    bp_onnx_graph *g = mp->g;
    if (bp_onnx_act_in(mp, n, 0))
        return -1;
    int x = n->in[0];
    const bp_onnx_value *xv = &g->v[x];
    const bpf_tensor *xt = bp_onnx_et(mp, x);
    uint32_t xi = g->v[x].bt;
    int e = bp_onnx_eaxis(xv, xv->ndim - 1);
    if (e != 1)
        return bp_onnx_node_fail(g, n, "its feature axis is not the engine's channel axis");
    uint64_t rest = 1;
    for (uint32_t i = 2; i < xt->ndim; i++)
        rest *= xt->dims[i];
    const bp_onnx_value *y = &g->v[n->out[0]];
    bpf_layer l;
    memset(&l, 0, sizeof l);
    l.c_out = n->w->rows;
    l.c_in = n->w->K;
    l.kh = l.kw = l.stride_h = l.stride_w = l.dil_h = l.dil_w = l.groups = 1;
    l.K = n->w->K;
    l.act_dtype = BPF_DT_S8;
    l.act_scale = 1.0f;
    int8_t ax[BP_ONNX_MAX_DIMS];
    memcpy(ax, xv->ax, sizeof ax);
    if (rest == 1 && xt->ndim <= 4) {
        l.kind = BPF_LAYER_LINEAR; /* (N, K) or (N, K, 1, 1): output (N, c_out) */
        for (int i = 1; i < y->ndim; i++)
            ax[i] = i == y->ndim - 1 ? 1 : -1;
    } else if (xt->ndim == 4) {
        l.kind = BPF_LAYER_CONV; /* a 1x1 conv over the channels of NCHW */
    } else {
        return bp_onnx_node_fail(g, n, "a dense layer over the last axis of a %u-D tensor "
                                 "with more than one position per channel is not supported",
                                 xt->ndim);
    }
    uint32_t li;
    uint32_t t = bp_tool_layer_op(mp->bg, n->name, xi, &l, 0, &li);
    if (t == BP_ONNX_NT)
        return bp_onnx_built_fail(mp, n);
    mp->layer_node[li] = (int)(n - g->nodes);
    bp_onnx_bind(mp, n->out[0], t, ax);
    return 0;
}

static int bp_onnx_map_unary(bp_onnx_mapper *mp, bp_onnx_node *n, uint32_t op)
{
    if (bp_onnx_act_in(mp, n, 0))
        return -1;
    const bp_onnx_value *x = &mp->g->v[n->in[0]];
    uint32_t t = bp_onnx_emit_same(mp, bp_onnx_begin(mp, n, op, x->bt));
    if (t == BP_ONNX_NT)
        return bp_onnx_built_fail(mp, n);
    bp_onnx_bind(mp, n->out[0], t, x->ax);
    return 0;
}

/* An elementwise activation with float attributes f0, f1. */
static int bp_onnx_map_act(bp_onnx_mapper *mp, bp_onnx_node *n, uint32_t op, float f0, float f1)
{
    if (bp_onnx_act_in(mp, n, 0))
        return -1;
    const bp_onnx_value *x = &mp->g->v[n->in[0]];
    bp_node_desc *e = bp_onnx_begin(mp, n, op, x->bt);
    if (e) {
        e->floats[0] = f0;
        e->floats[1] = f1;
    }
    uint32_t t = bp_onnx_emit_same(mp, e);
    if (t == BP_ONNX_NT)
        return bp_onnx_built_fail(mp, n);
    bp_onnx_bind(mp, n->out[0], t, x->ax);
    return 0;
}

static int bp_onnx_map_clip(bp_onnx_mapper *mp, bp_onnx_node *n)
{
    bp_onnx_graph *g = mp->g;
    float lo = -INFINITY, hi = INFINITY;
    if (g->opset < 11) {
        lo = bp_onnx_attr_float(n, "min", -INFINITY);
        hi = bp_onnx_attr_float(n, "max", INFINITY);
    } else {
        for (int k = 1; k < n->n_in && k < 3; k++) {
            if (n->in[k] < 0)
                continue;
            const bp_onnx_value *c = &g->v[n->in[k]];
            if (!c->is_const || c->n != 1 || !c->f)
                return bp_onnx_node_fail(g, n, "its %s is not a constant float scalar",
                                         k == 1 ? "min" : "max");
            *(k == 1 ? &lo : &hi) = c->f[0];
        }
    }
    if (isnan(lo) || isnan(hi) || !(lo <= hi))
        return bp_onnx_node_fail(g, n, "min %g and max %g (need min <= max)", (double)lo,
                                 (double)hi);
    return bp_onnx_map_act(mp, n, BPF_OP_CLIP, lo, hi);
}

/* Engine-layout copy of a constant b that broadcasts (numpy rules) to the
 * ONNX value x: the engine rank of x, b's sizes on the engine axes of the
 * axes it spans, 1 elsewhere. */
static uint32_t bp_onnx_bcast_const(bp_onnx_mapper *mp, const bp_onnx_node *n, int cv, int x)
{
    const bp_onnx_value *c = &mp->g->v[cv], *xv = &mp->g->v[x];
    const bpf_tensor *xt = bp_onnx_et(mp, x);
    uint32_t dims[BPF_MAX_DIMS];
    int src[BPF_MAX_DIMS]; /* engine axis -> b's ONNX axis, or -1 */
    for (uint32_t e = 0; e < xt->ndim; e++) {
        dims[e] = 1;
        src[e] = -1;
    }
    int off = xv->ndim - c->ndim;
    for (int j = 0; j < c->ndim; j++) {
        if (c->dims[j] == 1)
            continue;
        int e = xv->ax[off + j];
        if (e < 1) /* unit or batch axis of x: not a per-image broadcast */
            return BP_ONNX_NT - 1;
        dims[e] = (uint32_t)c->dims[j];
        src[e] = j;
    }
    size_t total = 1;
    for (uint32_t e = 0; e < xt->ndim; e++)
        total *= dims[e];
    float *d = malloc(total * sizeof *d);
    if (!d)
        return BP_ONNX_NT;
    int64_t cstr[BP_ONNX_MAX_DIMS];
    int64_t st = 1;
    for (int j = c->ndim - 1; j >= 0; j--) {
        cstr[j] = st;
        st *= c->dims[j];
    }
    for (size_t k = 0; k < total; k++) {
        size_t rem = k;
        int64_t o = 0;
        for (int e = (int)xt->ndim - 1; e >= 0; e--) {
            size_t coord = rem % dims[e];
            rem /= dims[e];
            if (src[e] >= 0)
                o += (int64_t)coord * cstr[src[e]];
        }
        d[k] = c->f[o];
    }
    char name[512];
    snprintf(name, sizeof name, "%s.const", n->name);
    uint32_t t = bp_tool_const_data(mp->bg, name, xt->ndim, dims, d);
    free(d);
    return t;
}

/* Engine-layout copy of a constant with the same ONNX shape as x. */
static uint32_t bp_onnx_full_const(bp_onnx_mapper *mp, const bp_onnx_node *n, int cv, int x)
{
    const bp_onnx_value *c = &mp->g->v[cv], *xv = &mp->g->v[x];
    const bpf_tensor *xt = bp_onnx_et(mp, x);
    size_t total = c->n;
    float *d = malloc((total ? total : 1) * sizeof *d);
    if (!d)
        return BP_ONNX_NT;
    /* element at ONNX coords -> engine offset */
    uint64_t estr[BPF_MAX_DIMS];
    uint64_t s = 1;
    for (int i = (int)xt->ndim - 1; i >= 0; i--) {
        estr[i] = s;
        s *= xt->dims[i];
    }
    for (size_t k = 0; k < total; k++) {
        size_t rem = k;
        uint64_t off = 0;
        for (int i = xv->ndim - 1; i >= 0; i--) {
            size_t coord = rem % (size_t)xv->dims[i];
            rem /= (size_t)xv->dims[i];
            if (xv->ax[i] >= 0)
                off += coord * estr[(int)xv->ax[i]];
        }
        d[off] = c->f[k];
    }
    char name[512];
    snprintf(name, sizeof name, "%s.const", n->name);
    uint32_t t = bp_tool_const_data(mp->bg, name, xt->ndim, xt->dims, d);
    free(d);
    return t;
}

static int bp_onnx_map_add(bp_onnx_mapper *mp, bp_onnx_node *n, uint32_t op, int a, int b);

/* Emits the two-input node op(a, bt) with a's shape and binds n's output to
 * it in a's axis order. */
static int bp_onnx_emit_binary(bp_onnx_mapper *mp, bp_onnx_node *n, uint32_t op, int a,
                               uint32_t bt)
{
    bp_node_desc *e = bp_onnx_begin(mp, n, op, mp->g->v[a].bt);
    if (e) {
        e->n_in = 2;
        e->in[1] = bt;
    }
    uint32_t t = bp_onnx_emit_same(mp, e);
    if (t == BP_ONNX_NT)
        return bp_onnx_built_fail(mp, n);
    bp_onnx_bind(mp, n->out[0], t, mp->g->v[a].ax);
    return 0;
}


static int bp_onnx_same_dims(const bp_onnx_value *a, const bp_onnx_value *b)
{
    return a->ndim == b->ndim && !memcmp(a->dims, b->dims, (size_t)a->ndim * sizeof a->dims[0]);
}

/* b (an activation) broadcasts to a in the engine's layout: the same
 * engine rank, and every axis where b has a size > 1 lands on a's engine
 * axis for it. */
static int bp_onnx_act_bcast_ok(const bp_onnx_mapper *mp, int a, int b)
{
    const bp_onnx_value *av = &mp->g->v[a], *bv = &mp->g->v[b];
    const bpf_tensor *ta = bp_onnx_et(mp, a), *tb = bp_onnx_et(mp, b);
    if (ta->ndim != tb->ndim || bv->ndim > av->ndim)
        return 0;
    int off = av->ndim - bv->ndim;
    for (int j = 0; j < bv->ndim; j++) {
        if (bv->dims[j] != 1 && (bv->ax[j] != av->ax[off + j] || bv->ax[j] < 0))
            return 0;
        if (bv->dims[j] != 1 && bv->dims[j] != av->dims[off + j])
            return 0;
    }
    for (uint32_t e = 0; e < tb->ndim; e++)
        if (tb->dims[e] != 1 && tb->dims[e] != ta->dims[e])
            return 0;
    return 1;
}

/* Add / Mul with numpy broadcasting: the operand of the output's shape
 * goes first (a constant only second). */
static int bp_onnx_map_binary(bp_onnx_mapper *mp, bp_onnx_node *n, uint32_t op)
{
    bp_onnx_graph *g = mp->g;
    if (n->n_in != 2 || n->in[0] < 0 || n->in[1] < 0)
        return bp_onnx_node_fail(g, n, "needs two inputs");
    int a = n->in[0], b = n->in[1];
    const bp_onnx_value *y = &g->v[n->out[0]];
    if (g->v[a].is_const || (!g->v[b].is_const && !bp_onnx_same_dims(&g->v[a], y))) {
        int t = a;
        a = b;
        b = t;
    }
    if (bp_onnx_act_in(mp, n, a == n->in[0] ? 0 : 1))
        return -1;
    const bp_onnx_value *av = &g->v[a], *bv = &g->v[b];
    if (!bp_onnx_same_dims(av, y))
        return bp_onnx_node_fail(g, n, "both operands broadcast (the engine broadcasts the "
                                 "second operand to the first only)");
    if (bp_onnx_same_dims(av, bv) && (op == BPF_OP_ADD || bv->is_const))
        return bp_onnx_map_add(mp, n, op, a, b);
    uint32_t bt;
    if (bv->is_const) {
        if (!bv->f)
            return bp_onnx_node_fail(g, n, "has an integer constant operand");
        bt = bp_onnx_bcast_const(mp, n, b, a);
        if (bt == BP_ONNX_NT - 1)
            return bp_onnx_node_fail(g, n, "its constant varies along the batch axis");
        if (bt == BP_ONNX_NT)
            return bp_onnx_oom(mp);
    } else {
        if (bv->bt == BP_ONNX_NT)
            return bp_onnx_node_fail(g, n, "input '%s' was not mapped", bv->name);
        if (!bp_onnx_act_bcast_ok(mp, a, b))
            return bp_onnx_node_fail(g, n, "its operands are laid out differently (one is "
                                     "transposed or reshaped)");
        bt = bv->bt;
    }
    return bp_onnx_emit_binary(mp, n, op, a, bt);
}

/* Add or Mul of two operands of one shape (a is an activation; the caller
 * has mapped it and checked the shapes). */
static int bp_onnx_map_add(bp_onnx_mapper *mp, bp_onnx_node *n, uint32_t op, int a, int b)
{
    bp_onnx_graph *g = mp->g;
    const bp_onnx_value *av = &g->v[a], *bv = &g->v[b];
    uint32_t bt;
    if (bv->is_const) {
        if (!bv->f)
            return bp_onnx_node_fail(g, n, "has an integer constant operand");
        bt = bp_onnx_full_const(mp, n, b, a);
        if (bt == BP_ONNX_NT)
            return bp_onnx_oom(mp);
    } else {
        if (bv->bt == BP_ONNX_NT)
            return bp_onnx_node_fail(g, n, "input '%s' was not mapped", bv->name);
        const bpf_tensor *ta = bp_onnx_et(mp, a), *tb = bp_onnx_et(mp, b);
        if (ta->ndim != tb->ndim || memcmp(ta->dims, tb->dims, sizeof ta->dims) ||
            memcmp(av->ax, bv->ax, (size_t)av->ndim))
            return bp_onnx_node_fail(g, n, "its operands are laid out differently (one is "
                                     "transposed)");
        bt = bv->bt;
    }
    return bp_onnx_emit_binary(mp, n, op, a, bt);
}

/* bp.Affine -> BATCHNORM, bp.LayerNorm -> LAYERNORM (per channel). */
static int bp_onnx_map_channel_op(bp_onnx_mapper *mp, bp_onnx_node *n, uint32_t op)
{
    bp_onnx_graph *g = mp->g;
    if (bp_onnx_act_in(mp, n, 0))
        return -1;
    const bp_onnx_value *x = &g->v[n->in[0]];
    const bpf_tensor *xt = bp_onnx_et(mp, n->in[0]);
    uint32_t xi = x->bt;
    if (xt->ndim < 2)
        return bp_onnx_node_fail(g, n, "needs an input with a channel axis");
    uint32_t C = xt->dims[1];
    if (n->n_param != 1 && bp_onnx_eaxis(x, n->axis) != 1)
        return bp_onnx_node_fail(g, n, "works along axis %d, which is not the engine's "
                                 "channel axis", n->axis);
    uint32_t s = bp_onnx_chan_const(mp, n->name, op == BPF_OP_LAYERNORM ? "weight" : "scale",
                                    n->scale, n->n_param, C);
    uint32_t t2 = bp_onnx_chan_const(mp, n->name, op == BPF_OP_LAYERNORM ? "bias" : "shift",
                                     n->shift, n->n_param, C);
    if (s == BP_ONNX_NT || t2 == BP_ONNX_NT)
        return bp_onnx_oom(mp);
    bp_node_desc *e = bp_onnx_begin(mp, n, op, xi);
    if (e) {
        e->n_in = 3;
        e->in[1] = s;
        e->in[2] = t2;
        if (op == BPF_OP_LAYERNORM)
            e->floats[0] = n->eps;
    }
    uint32_t t = bp_onnx_emit_same(mp, e);
    if (t == BP_ONNX_NT)
        return bp_onnx_built_fail(mp, n);
    bp_onnx_bind(mp, n->out[0], t, g->v[n->in[0]].ax);
    return 0;
}

static int bp_onnx_map_pool(bp_onnx_mapper *mp, bp_onnx_node *n, int maxpool)
{
    bp_onnx_graph *g = mp->g;
    if (bp_onnx_act_in(mp, n, 0))
        return -1;
    int x = n->in[0];
    if (!bp_onnx_is_identity(mp, x) || g->v[x].ndim != 4)
        return bp_onnx_node_fail(g, n, "its input is not an NCHW activation");
    if (n->n_out > 1 && n->out[1] >= 0 && g->v[n->out[1]].n_uses)
        return bp_onnx_node_fail(g, n, "its indices output is used");
    bp_onnx_geom gm;
    if (bp_onnx_pool_geom(g, n, g->v[x].dims, &gm))
        return -1;
    if (gm.ceil_differs)
        return bp_onnx_node_fail(g, n, "ceil_mode=1 changes the output size here; the engine "
                                 "rounds down");
    if (gm.dh != 1 || gm.dw != 1)
        return bp_onnx_node_fail(g, n, "dilated pooling is not supported");
    if (gm.kh > 64 || gm.kw > 64 || gm.sh > 64 || gm.sw > 64)
        return bp_onnx_node_fail(g, n, "kernel and stride are limited to 64");
    if (gm.pt >= gm.kh || gm.pb >= gm.kh || gm.pl >= gm.kw || gm.pr >= gm.kw)
        return bp_onnx_node_fail(g, n, "padding must be smaller than the window");
    int anypad = gm.pt || gm.pl || gm.pb || gm.pr;
    if (!maxpool && anypad && bp_onnx_attr_int(n, "count_include_pad", 0))
        return bp_onnx_node_fail(g, n, "count_include_pad=1 with padding is not supported "
                                 "(the engine averages over the valid positions)");
    const bp_onnx_value *y = &g->v[n->out[0]];
    uint32_t dims[4] = {1, (uint32_t)y->dims[1], (uint32_t)y->dims[2], (uint32_t)y->dims[3]};
    bp_node_desc *e = bp_onnx_begin(mp, n, maxpool ? BPF_OP_MAXPOOL : BPF_OP_AVGPOOL,
                                    g->v[x].bt);
    int32_t iv[8] = {(int32_t)gm.kh, (int32_t)gm.kw, (int32_t)gm.sh, (int32_t)gm.sw,
                     (int32_t)gm.pt, (int32_t)gm.pl, (int32_t)gm.pb, (int32_t)gm.pr};
    if (e)
        memcpy(e->ints, iv, sizeof iv);
    return bp_onnx_emit_out(mp, n, e, dims);
}

/* Axis map of an output whose non-unit axes (beyond the batch) are those of
 * the input in the same order: a view. */
static void bp_onnx_view_ax(const bp_onnx_value *x, const bp_onnx_value *y, int8_t *ax)
{
    int j = 1;
    memset(ax, -1, BP_ONNX_MAX_DIMS);
    ax[0] = 0;
    for (int i = 1; i < y->ndim; i++) {
        if (y->dims[i] == 1)
            continue;
        while (j < x->ndim && x->dims[j] == 1)
            j++;
        ax[i] = x->ax[j++];
    }
}

/* Non-unit dims beyond the batch, in order. */
static int bp_onnx_nonunit(const bp_onnx_value *v, int64_t *d)
{
    int k = 0;
    for (int i = 1; i < v->ndim; i++)
        if (v->dims[i] != 1)
            d[k++] = v->dims[i];
    return k;
}

/* Engine order equals ONNX order for x's non-unit axes. */
static int bp_onnx_order_kept(const bp_onnx_mapper *mp, int x)
{
    const bp_onnx_value *v = &mp->g->v[x];
    int last = 0;
    for (int i = 1; i < v->ndim; i++) {
        if (v->dims[i] == 1)
            continue;
        if (v->ax[i] <= last)
            return 0;
        last = v->ax[i];
    }
    return 1;
}

static int bp_onnx_flatten_to(bp_onnx_mapper *mp, const bp_onnx_node *n, int x, int y)
{
    const bp_onnx_value *xv = &mp->g->v[x];
    const bpf_tensor *xt = bp_onnx_et(mp, x);
    uint32_t xi = xv->bt;
    if (xt->ndim == 2) {
        bp_onnx_bind_identity(mp, y, xi);
        return 0;
    }
    uint32_t dims[2] = {1, 1};
    for (uint32_t i = 1; i < xt->ndim; i++)
        dims[1] *= xt->dims[i];
    uint32_t t = bp_onnx_emit(mp, bp_onnx_begin(mp, n, BPF_OP_FLATTEN, xi), 2, dims);
    if (t == BP_ONNX_NT)
        return bp_onnx_oom(mp);
    bp_onnx_bind_identity(mp, y, t);
    return 0;
}

static int bp_onnx_map_reshape(bp_onnx_mapper *mp, bp_onnx_node *n)
{
    bp_onnx_graph *g = mp->g;
    if (bp_onnx_act_in(mp, n, 0))
        return -1;
    int x = n->in[0], y = n->out[0];
    const bp_onnx_value *xv = &g->v[x], *yv = &g->v[y];
    if (yv->ndim < 1 || yv->dims[0] != 1)
        return bp_onnx_node_fail(g, n, "moves the batch dimension (output shape starts with "
                                 "%lld)", yv->ndim > 0 ? (long long)yv->dims[0] : 0ll);
    int64_t a[BP_ONNX_MAX_DIMS], b[BP_ONNX_MAX_DIMS];
    int na = bp_onnx_nonunit(xv, a), nb = bp_onnx_nonunit(yv, b);
    if (na == nb && !memcmp(a, b, (size_t)na * sizeof *a)) {
        int8_t ax[BP_ONNX_MAX_DIMS];
        bp_onnx_view_ax(xv, yv, ax);
        bp_onnx_bind(mp, y, xv->bt, ax);
        return 0;
    }
    if (yv->ndim == 2 && bp_onnx_order_kept(mp, x))
        return bp_onnx_flatten_to(mp, n, x, y);
    return bp_onnx_node_fail(g, n, "a reshape that is neither a view nor a flatten to "
                             "(batch, features) in memory order is not supported");
}

static int bp_onnx_map_transpose(bp_onnx_mapper *mp, bp_onnx_node *n)
{
    bp_onnx_graph *g = mp->g;
    if (bp_onnx_act_in(mp, n, 0))
        return -1;
    const bp_onnx_value *xv = &g->v[n->in[0]];
    int64_t perm[BP_ONNX_MAX_DIMS];
    int k = bp_onnx_attr_ints(n, "perm", perm, BP_ONNX_MAX_DIMS);
    if (k != xv->ndim)
        return bp_onnx_node_fail(g, n, "needs an explicit perm of %d entries", xv->ndim);
    if (perm[0] != 0)
        return bp_onnx_node_fail(g, n, "moves the batch axis");
    int8_t ax[BP_ONNX_MAX_DIMS];
    memset(ax, -1, sizeof ax);
    for (int i = 0; i < k; i++)
        ax[i] = xv->ax[perm[i]];
    bp_onnx_bind(mp, n->out[0], xv->bt, ax);
    return 0;
}

/* ReduceMean / GlobalAveragePool over the two spatial axes of an NCHW tensor. */
static int bp_onnx_map_gap(bp_onnx_mapper *mp, bp_onnx_node *n, int reduce)
{
    bp_onnx_graph *g = mp->g;
    if (bp_onnx_act_in(mp, n, 0))
        return -1;
    int x = n->in[0];
    const bp_onnx_value *xv = &g->v[x];
    const bpf_tensor *xt = bp_onnx_et(mp, x);
    if (xt->ndim != 4)
        return bp_onnx_node_fail(g, n, "needs a 4-D NCHW input");
    if (reduce) {
        int64_t axes[BP_ONNX_MAX_DIMS];
        int k = bp_onnx_attr_ints(n, "axes", axes, BP_ONNX_MAX_DIMS);
        if (k < 0 && n->n_in > 1 && n->in[1] >= 0 && g->v[n->in[1]].is_const &&
            g->v[n->in[1]].i && g->v[n->in[1]].n <= BP_ONNX_MAX_DIMS) {
            k = (int)g->v[n->in[1]].n;
            memcpy(axes, g->v[n->in[1]].i, (size_t)k * sizeof *axes);
        }
        int hit[4] = {0, 0, 0, 0};
        for (int i = 0; i < k; i++) {
            int64_t a = axes[i] < 0 ? axes[i] + xv->ndim : axes[i];
            int e = bp_onnx_eaxis(xv, (int)a);
            if (a < 0 || a >= xv->ndim || e < 0) {
                if (a >= 0 && a < xv->ndim && xv->dims[a] == 1)
                    continue; /* a unit axis: the mean is the value */
                return bp_onnx_node_fail(g, n, "reduces axis %lld, not a spatial axis",
                                         (long long)axes[i]);
            }
            hit[e] = 1;
        }
        if (k < 0 || hit[0] || hit[1] || !(hit[2] || xt->dims[2] == 1) ||
            !(hit[3] || xt->dims[3] == 1))
            return bp_onnx_node_fail(g, n, "only a mean over both spatial axes (global "
                                     "average pooling) is supported");
    } else if (!bp_onnx_is_identity(mp, x)) {
        return bp_onnx_node_fail(g, n, "its input is not an NCHW activation");
    }
    uint32_t dims[4] = {1, xt->dims[1], 1, 1};
    uint32_t t = bp_onnx_emit(mp, bp_onnx_begin(mp, n, BPF_OP_GLOBALAVGPOOL, xv->bt), 4, dims);
    if (t == BP_ONNX_NT)
        return bp_onnx_oom(mp);
    const bp_onnx_value *yv = &g->v[n->out[0]];
    int8_t ax[BP_ONNX_MAX_DIMS];
    memset(ax, -1, sizeof ax);
    ax[0] = 0;
    for (int i = 1; i < yv->ndim; i++)
        if (yv->dims[i] != 1)
            ax[i] = 1; /* only the channel axis is left */
    if (yv->ndim == 4 && yv->dims[1] == (int64_t)xt->dims[1] && ax[1] == 1)
        for (int i = 0; i < 4; i++)
            ax[i] = (int8_t)i; /* (N, C, 1, 1) kept: NCHW, as a 1x1 conv reads it */
    bp_onnx_bind(mp, n->out[0], t, ax);
    return 0;
}

static int bp_onnx_map_softmax(bp_onnx_mapper *mp, bp_onnx_node *n)
{
    bp_onnx_graph *g = mp->g;
    if (bp_onnx_act_in(mp, n, 0))
        return -1;
    int x = n->in[0];
    const bp_onnx_value *xv = &g->v[x];
    int64_t a = bp_onnx_attr_int(n, "axis", g->opset >= 13 ? -1 : 1);
    a = a < 0 ? a + xv->ndim : a;
    /* opset < 13 softmaxes the flattened axes [a, r); one non-unit axis is the same */
    int nonunit = -1;
    for (int i = (int)a; i < xv->ndim; i++)
        if (xv->dims[i] != 1) {
            if (nonunit >= 0 && (g->opset < 13 || i != a))
                return bp_onnx_node_fail(g, n, "softmax over more than one axis");
            nonunit = nonunit < 0 ? i : nonunit;
        }
    if (g->opset >= 13)
        nonunit = (int)a;
    if (nonunit < 0 || nonunit >= xv->ndim)
        return bp_onnx_node_fail(g, n, "axis out of range");
    const bpf_tensor *xt = bp_onnx_et(mp, x);
    int e = bp_onnx_eaxis(xv, nonunit);
    uint32_t src = xv->bt;
    int8_t ax[BP_ONNX_MAX_DIMS];
    memcpy(ax, xv->ax, sizeof ax);
    if (e != (int)xt->ndim - 1) {
        /* (N, C, 1, 1) with the axis on C: flatten first */
        uint64_t rest = 1;
        for (uint32_t i = 1; i < xt->ndim; i++)
            if ((int)i != e)
                rest *= xt->dims[i];
        if (e != 1 || rest != 1)
            return bp_onnx_node_fail(g, n, "softmax along an axis that is not the engine's "
                                     "last axis");
        uint32_t dims[2] = {1, xt->dims[1]};
        src = bp_onnx_emit(mp, bp_onnx_begin(mp, n, BPF_OP_FLATTEN, src), 2, dims);
        if (src == BP_ONNX_NT)
            return bp_onnx_oom(mp);
    }
    uint32_t t = bp_onnx_emit_same(mp, bp_onnx_begin(mp, n, BPF_OP_SOFTMAX, src));
    if (t == BP_ONNX_NT)
        return bp_onnx_oom(mp);
    if (src != xv->bt) {
        for (int i = 1; i < xv->ndim; i++)
            ax[i] = i == nonunit ? 1 : -1;
    }
    bp_onnx_bind(mp, n->out[0], t, ax);
    return 0;
}

/* Concat of 2..4 activations laid out alike, along a non-batch axis. */
static int bp_onnx_map_concat(bp_onnx_mapper *mp, bp_onnx_node *n)
{
    bp_onnx_graph *g = mp->g;
    if (n->n_in < 2 || n->n_in > (int)BPF_MAX_IO)
        return bp_onnx_node_fail(g, n, "concatenates %d inputs (2..%u)", n->n_in, BPF_MAX_IO);
    for (int k = 0; k < n->n_in; k++)
        if (bp_onnx_act_in(mp, n, k))
            return -1;
    const bp_onnx_value *x = &g->v[n->in[0]];
    int64_t a = bp_onnx_attr_int(n, "axis", 0);
    a = a < 0 ? a + x->ndim : a;
    int e = bp_onnx_eaxis(x, (int)a);
    if (e < 1)
        return bp_onnx_node_fail(g, n, "concatenates along the batch or a unit axis");
    const bpf_tensor *t0 = bp_onnx_et(mp, n->in[0]);
    uint32_t dims[BPF_MAX_DIMS];
    memcpy(dims, t0->dims, sizeof dims);
    dims[e] = 0;
    bp_node_desc *en = bp_tool_node(mp->bg, n->name, BPF_OP_CONCAT);
    if (!en)
        return bp_onnx_built_fail(mp, n);
    en->n_in = (uint32_t)n->n_in;
    en->ints[0] = e;
    for (int k = 0; k < n->n_in; k++) {
        const bp_onnx_value *v = &g->v[n->in[k]];
        const bpf_tensor *t = bp_onnx_et(mp, n->in[k]);
        int same = v->ndim == x->ndim && t->ndim == t0->ndim &&
                   !memcmp(v->ax, x->ax, (size_t)x->ndim);
        for (uint32_t d = 0; same && d < t->ndim; d++)
            same = (int)d == e || t->dims[d] == t0->dims[d];
        if (!same)
            return bp_onnx_node_fail(g, n, "input %d is laid out differently from input 0", k);
        en->in[k] = v->bt;
        dims[e] += t->dims[e];
    }
    uint32_t t = bp_tool_out(mp->bg, en, t0->ndim, dims);
    if (t == BP_ONNX_NT)
        return bp_onnx_built_fail(mp, n);
    bp_onnx_bind(mp, n->out[0], t, x->ax);
    return 0;
}

/* The string attribute name equals one of opts[]: its index, or def when
 * absent, -1 otherwise. */
static int bp_onnx_attr_choice(const bp_onnx_node *n, const char *name,
                               const char *const *opts, int def)
{
    const Onnx__AttributeProto *a = bp_onnx_attr(n, name);
    if (!a || !a->has_s)
        return def;
    for (int i = 0; opts[i]; i++)
        if (strlen(opts[i]) == a->s.len && !memcmp(opts[i], a->s.data, a->s.len))
            return i;
    return -1;
}

static int bp_onnx_map_resize(bp_onnx_mapper *mp, bp_onnx_node *n)
{
    bp_onnx_graph *g = mp->g;
    if (bp_onnx_act_in(mp, n, 0))
        return -1;
    int x = n->in[0];
    const bp_onnx_value *xv = &g->v[x], *yv = &g->v[n->out[0]];
    if (!bp_onnx_is_identity(mp, x) || xv->ndim != 4 || yv->ndim != 4)
        return bp_onnx_node_fail(g, n, "its input is not an NCHW activation");
    static const char *const modes[] = {"nearest", "linear", NULL};
    static const char *const cts[] = {"asymmetric", "half_pixel", "align_corners",
                                      "pytorch_half_pixel", NULL};
    static const char *const rnds[] = {"floor", "round_prefer_floor", "round_prefer_ceil",
                                       "ceil", NULL};
    int mode = bp_onnx_attr_choice(n, "mode", modes, 0);
    int ct = g->opset < 11 ? 0 : bp_onnx_attr_choice(n, "coordinate_transformation_mode", cts, 1);
    int rnd = g->opset < 11 ? 0 : bp_onnx_attr_choice(n, "nearest_mode", rnds, 1);
    if (mode < 0 || ct < 0 || (mode == 0 && rnd < 0))
        return bp_onnx_node_fail(g, n, "mode, coordinate_transformation_mode or nearest_mode "
                                 "is not supported (nearest or linear; asymmetric, half_pixel, "
                                 "align_corners or pytorch_half_pixel; floor, ceil or "
                                 "round_prefer_floor/ceil)");
    if (bp_onnx_attr_int(n, "antialias", 0) || bp_onnx_attr(n, "axes") ||
        bp_onnx_attr(n, "keep_aspect_ratio_policy"))
        return bp_onnx_node_fail(g, n, "antialias, axes and keep_aspect_ratio_policy are not "
                                 "supported");
    if (mode == 1)
        rnd = 0;
    if (yv->dims[0] != xv->dims[0] || yv->dims[1] != xv->dims[1])
        return bp_onnx_node_fail(g, n, "resizes the batch or channel axis");
    int si = g->opset < 11 ? 1 : 2;
    const bp_onnx_value *sc = n->n_in > si && n->in[si] >= 0 ? &g->v[n->in[si]] : NULL;
    float s[2];
    for (int k = 0; k < 2; k++) {
        /* scales given: those; sizes given: out / in, as ONNX Runtime computes it */
        s[k] = sc && sc->is_const && sc->f && sc->n == 4
                   ? sc->f[2 + k]
                   : (float)yv->dims[2 + k] / (float)xv->dims[2 + k];
        if (!(s[k] > 0.0f) ||
            floor((double)xv->dims[2 + k] * (double)s[k]) != (double)yv->dims[2 + k])
            return bp_onnx_node_fail(g, n, "scale %g does not give the output size %lld "
                                     "(floor(%lld * scale))", (double)s[k],
                                     (long long)yv->dims[2 + k], (long long)xv->dims[2 + k]);
    }
    uint32_t dims[4] = {1, (uint32_t)yv->dims[1], (uint32_t)yv->dims[2], (uint32_t)yv->dims[3]};
    bp_node_desc *e = bp_onnx_begin(mp, n, BPF_OP_RESIZE, xv->bt);
    if (!e)
        return bp_onnx_built_fail(mp, n);
    e->ints[0] = mode;
    e->ints[1] = ct;
    e->ints[2] = rnd;
    e->floats[0] = s[0];
    e->floats[1] = s[1];
    return bp_onnx_emit_out(mp, n, e, dims);
}

/* ConvTranspose with constant float weights: a float op on every backend. */
static int bp_onnx_map_convtranspose(bp_onnx_mapper *mp, bp_onnx_node *n)
{
    bp_onnx_graph *g = mp->g;
    if (bp_onnx_act_in(mp, n, 0))
        return -1;
    int x = n->in[0];
    const bp_onnx_value *xv = &g->v[x], *yv = &g->v[n->out[0]];
    const bp_onnx_value *w = n->n_in > 1 && n->in[1] >= 0 ? &g->v[n->in[1]] : NULL;
    const bp_onnx_value *b = n->n_in > 2 && n->in[2] >= 0 ? &g->v[n->in[2]] : NULL;
    if (!bp_onnx_is_identity(mp, x) || xv->ndim != 4 || yv->ndim != 4)
        return bp_onnx_node_fail(g, n, "its input is not an NCHW activation");
    if (!w || !w->is_const || !w->f || w->ndim != 4 || (b && (!b->is_const || !b->f)))
        return bp_onnx_node_fail(g, n, "needs constant float weights (and bias)");
    int64_t st[2] = {1, 1}, pd[4] = {0, 0, 0, 0}, op_[2] = {0, 0}, dl[2] = {1, 1};
    bp_onnx_attr_ints(n, "strides", st, 2);
    bp_onnx_attr_ints(n, "pads", pd, 4);
    bp_onnx_attr_ints(n, "output_padding", op_, 2);
    bp_onnx_attr_ints(n, "dilations", dl, 2);
    const Onnx__AttributeProto *ap = bp_onnx_attr(n, "auto_pad");
    if (bp_onnx_attr_int(n, "group", 1) != 1 || dl[0] != 1 || dl[1] != 1 ||
        bp_onnx_attr(n, "output_shape") ||
        (ap && ap->has_s && !(ap->s.len == 6 && !memcmp(ap->s.data, "NOTSET", 6))))
        return bp_onnx_node_fail(g, n, "group, dilation, auto_pad and output_shape are not "
                                 "supported (group 1, dilation 1, explicit pads)");
    int32_t iv[8] = {(int32_t)st[0], (int32_t)st[1], (int32_t)pd[0], (int32_t)pd[1],
                     (int32_t)pd[2], (int32_t)pd[3], (int32_t)op_[0], (int32_t)op_[1]};
    for (int k = 0; k < 8; k++) {
        int64_t v = k < 2 ? st[k] : k < 6 ? pd[k - 2] : op_[k - 6];
        int64_t hi = k < 2 ? 64 : k < 6 ? 64 : st[k - 6] - 1;
        if (v < (k < 2 ? 1 : 0) || v > hi)
            return bp_onnx_node_fail(g, n, "stride, pads or output_padding out of range "
                                     "(stride 1..64, pads 0..64, output_padding < stride)");
    }
    if (w->dims[0] != xv->dims[1] || w->dims[2] > 64 || w->dims[3] > 64 ||
        (b && (int64_t)b->n != w->dims[1]))
        return bp_onnx_node_fail(g, n, "weight or bias shape does not match its input");
    uint32_t wd[4] = {(uint32_t)w->dims[0], (uint32_t)w->dims[1], (uint32_t)w->dims[2],
                      (uint32_t)w->dims[3]};
    char name[512];
    snprintf(name, sizeof name, "%s.weight", n->name);
    uint32_t wt = bp_tool_const_data(mp->bg, name, 4, wd, w->f);
    uint32_t bt = BP_ONNX_NT;
    if (b) {
        snprintf(name, sizeof name, "%s.bias", n->name);
        bt = bp_tool_const_data(mp->bg, name, 1, &wd[1], b->f);
    }
    if (wt == BP_ONNX_NT || (b && bt == BP_ONNX_NT))
        return bp_onnx_oom(mp);
    uint32_t dims[4] = {1, (uint32_t)yv->dims[1], (uint32_t)yv->dims[2], (uint32_t)yv->dims[3]};
    bp_node_desc *e = bp_onnx_begin(mp, n, BPF_OP_CONVTRANSPOSE, xv->bt);
    if (!e)
        return bp_onnx_built_fail(mp, n);
    e->n_in = b ? 3 : 2;
    e->in[1] = wt;
    e->in[2] = b ? bt : 0;
    memcpy(e->ints, iv, sizeof iv);
    return bp_onnx_emit_out(mp, n, e, dims);
}

static int bp_onnx_map_node(bp_onnx_mapper *mp, bp_onnx_node *n)
{
    bp_onnx_graph *g = mp->g;
    const char *op = n->op;
    if (n->p && n->p->domain && n->p->domain[0] && strcmp(n->p->domain, "ai.onnx"))
        return bp_onnx_node_fail(g, n, "op of domain '%s' is not supported by the bitprune "
                                 "engine", n->p->domain);
    if (n->n_out < 1 || n->out[0] < 0)
        return bp_onnx_node_fail(g, n, "has no output");
    if (g->v[n->out[0]].ndim < 0 && strncmp(op, "bp.", 3))
        return bp_onnx_node_fail(g, n, "op is not supported by the bitprune engine (%s)",
                                 bp_onnx_supported);
    if (!strcmp(op, "bp.Conv"))
        return bp_onnx_map_conv(mp, n);
    if (!strcmp(op, "bp.Dense"))
        return bp_onnx_map_dense(mp, n);
    if (!strcmp(op, "Relu"))
        return bp_onnx_map_unary(mp, n, BPF_OP_RELU);
    if (!strcmp(op, "bp.Gelu"))
        return bp_onnx_map_unary(mp, n, BPF_OP_GELU);
    if (!strcmp(op, "Add") || (!strcmp(op, "Sum") && n->n_in == 2))
        return bp_onnx_map_binary(mp, n, BPF_OP_ADD);
    if (!strcmp(op, "Mul"))
        return bp_onnx_map_binary(mp, n, BPF_OP_MUL);
    if (!strcmp(op, "Sigmoid"))
        return bp_onnx_map_act(mp, n, BPF_OP_SIGMOID, 0.0f, 0.0f);
    if (!strcmp(op, "HardSigmoid"))
        return bp_onnx_map_act(mp, n, BPF_OP_HARDSIGMOID, bp_onnx_attr_float(n, "alpha", 0.2f),
                               bp_onnx_attr_float(n, "beta", 0.5f));
    if (!strcmp(op, "HardSwish"))
        return bp_onnx_map_act(mp, n, BPF_OP_HARDSWISH, 0.0f, 0.0f);
    if (!strcmp(op, "Clip"))
        return bp_onnx_map_clip(mp, n);
    if (!strcmp(op, "Concat"))
        return bp_onnx_map_concat(mp, n);
    if (!strcmp(op, "Resize"))
        return bp_onnx_map_resize(mp, n);
    if (!strcmp(op, "ConvTranspose"))
        return bp_onnx_map_convtranspose(mp, n);
    if (!strcmp(op, "bp.Affine"))
        return bp_onnx_map_channel_op(mp, n, BPF_OP_BATCHNORM);
    if (!strcmp(op, "bp.LayerNorm"))
        return bp_onnx_map_channel_op(mp, n, BPF_OP_LAYERNORM);
    if (!strcmp(op, "MaxPool") || !strcmp(op, "AveragePool"))
        return bp_onnx_map_pool(mp, n, op[0] == 'M');
    if (!strcmp(op, "GlobalAveragePool"))
        return bp_onnx_map_gap(mp, n, 0);
    if (!strcmp(op, "ReduceMean"))
        return bp_onnx_map_gap(mp, n, 1);
    if (!strcmp(op, "Flatten") || !strcmp(op, "Reshape") || !strcmp(op, "Squeeze") ||
        !strcmp(op, "Unsqueeze"))
        return bp_onnx_map_reshape(mp, n);
    if (!strcmp(op, "Transpose"))
        return bp_onnx_map_transpose(mp, n);
    if (!strcmp(op, "Softmax"))
        return bp_onnx_map_softmax(mp, n);
    if (!strcmp(op, "Conv") || !strcmp(op, "Gemm") || !strcmp(op, "MatMul"))
        return bp_onnx_node_fail(g, n, "needs constant weights (a weight computed at run time "
                                 "is not supported)");
    if (!strcmp(op, "QuantizeLinear") || !strcmp(op, "DequantizeLinear"))
        return bp_onnx_node_fail(g, n, "is not part of a QuantizeLinear -> DequantizeLinear "
                                 "pair on a float activation");
    return bp_onnx_node_fail(g, n, "op is not supported by the bitprune engine (%s)",
                             bp_onnx_supported);
}

int bp_onnx_map(bp_onnx_graph *g, bp_tool_graph *bg, int **layer_node)
{
    bp_onnx_mapper mp = {g, bg, NULL};
    int nl = 0;
    for (int i = 0; i < g->nn; i++)
        nl += !g->nodes[i].dead && !strncmp(g->nodes[i].op, "bp.", 3);
    mp.layer_node = calloc((size_t)(nl ? nl : 1), sizeof *mp.layer_node);
    if (!mp.layer_node)
        return bp_onnx_fail(g, "out of memory");
    *layer_node = mp.layer_node;
    const bp_onnx_value *in = &g->v[g->input];
    uint32_t dims[BPF_MAX_DIMS];
    for (int i = 0; i < in->ndim; i++)
        dims[i] = (uint32_t)in->dims[i];
    uint32_t t = bp_tool_tensor(bg, in->name, (uint32_t)in->ndim, dims);
    if (t == BP_ONNX_NT)
        return bp_onnx_oom(&mp);
    bg->input = t;
    bp_onnx_bind_identity(&mp, g->input, t);
    for (int i = 0; i < g->nn; i++) {
        bp_onnx_node *n = &g->nodes[i];
        if (n->dead)
            continue;
        /* nodes whose outputs nothing reads are skipped (not mapped) */
        int used = 0;
        for (int k = 0; k < n->n_out; k++)
            used |= n->out[k] >= 0 && g->v[n->out[k]].n_uses > 0;
        if (!used)
            continue;
        if (bp_onnx_map_node(&mp, n))
            return -1;
        if (bg->failed)
            return bp_onnx_oom(&mp);
    }
    int y = g->output;
    const bp_onnx_value *yv = &g->v[y];
    if (yv->is_const)
        return bp_onnx_fail(g, "the graph output '%s' is a constant", yv->name);
    if (yv->bt == BP_ONNX_NT)
        return bp_onnx_fail(g, "the graph output '%s' was not mapped", yv->name);
    if (!bp_onnx_is_identity(&mp, y)) {
        const bpf_tensor *et = bp_onnx_et(&mp, y);
        if (yv->ndim == 2 && bp_onnx_order_kept(&mp, y)) {
            bp_onnx_node tmp;
            memset(&tmp, 0, sizeof tmp);
            tmp.name = yv->name;
            tmp.op = "output";
            int r = bp_onnx_flatten_to(&mp, &tmp, y, y);
            if (r)
                return r;
        } else {
            return bp_onnx_fail(g, "the graph output '%s' (%d-D) is not in the engine's "
                                "layout (%u-D tensor, possibly transposed)", yv->name, yv->ndim,
                                et->ndim);
        }
    }
    bg->output = g->v[y].bt;
    if (bg->output == bg->input)
        return bp_onnx_fail(g, "the graph output is its input");
    if (bg->n_layers == 0)
        return bp_onnx_fail(g, "the model has no conv or dense layer to bit-prune");
    return 0;
}
