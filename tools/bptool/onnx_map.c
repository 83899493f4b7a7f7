/* onnx_map.c: maps the normalised ONNX graph onto .bp ops. Each ONNX value
 * is an engine tensor seen through an axis map (ONNX axis -> engine axis, or
 * a unit axis), so Transpose, Squeeze/Unsqueeze and view-only Reshape cost
 * nothing and channels-last blocks (Transpose -> LayerNorm -> MatMul ->
 * Transpose) run as channel ops on NCHW. Ops the engine lacks fail here,
 * naming the node and the op. */
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
    "supported: Conv, Gemm, MatMul (constant weights), BatchNormalization, Relu, GELU, "
    "LayerNormalization, Add, Sub/Mul/Div by constants, MaxPool, AveragePool, "
    "GlobalAveragePool, ReduceMean (spatial), Flatten/Reshape/Squeeze/Unsqueeze/Transpose "
    "(views), Softmax, QuantizeLinear/DequantizeLinear";

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

static int bp_onnx_map_add(bp_onnx_mapper *mp, bp_onnx_node *n)
{
    bp_onnx_graph *g = mp->g;
    if (n->n_in != 2 || n->in[0] < 0 || n->in[1] < 0)
        return bp_onnx_node_fail(g, n, "needs two inputs");
    int a = n->in[0], b = n->in[1];
    if (g->v[a].is_const) {
        int t = a;
        a = b;
        b = t;
    }
    if (bp_onnx_act_in(mp, n, a == n->in[0] ? 0 : 1))
        return -1;
    const bp_onnx_value *av = &g->v[a], *bv = &g->v[b];
    if (av->ndim != bv->ndim ||
        memcmp(av->dims, bv->dims, (size_t)av->ndim * sizeof av->dims[0]))
        return bp_onnx_node_fail(g, n, "adds tensors of different shapes (broadcasting add is "
                                 "not supported)");
    uint32_t bt;
    if (bv->is_const) {
        if (!bv->f)
            return bp_onnx_node_fail(g, n, "adds an integer constant");
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
    bp_node_desc *e = bp_onnx_begin(mp, n, BPF_OP_ADD, av->bt);
    if (e) {
        e->n_in = 2;
        e->in[1] = bt;
    }
    uint32_t t = bp_onnx_emit_same(mp, e);
    if (t == BP_ONNX_NT)
        return bp_onnx_built_fail(mp, n);
    bp_onnx_bind(mp, n->out[0], t, g->v[a].ax);
    return 0;
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
    uint32_t t = bp_onnx_emit(mp, e, 4, dims);
    if (t == BP_ONNX_NT)
        return bp_onnx_built_fail(mp, n);
    bp_onnx_bind_identity(mp, n->out[0], t);
    return 0;
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
        return bp_onnx_map_add(mp, n);
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
