/* .bp graph validation: topological order, tensor ids, layer use, op
 * attributes, and shape inference checked against every declared output. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bpf_internal.h"

enum { BPF_AV_NONE = 0, BPF_AV_INPUT, BPF_AV_CONST, BPF_AV_PRODUCED };

typedef struct bpf_shape {
    uint32_t nd;
    uint64_t d[BPF_MAX_DIMS];
} bpf_shape;

static const char *const bpf_op_names[BPF_OP_COUNT] = {
    "?", "conv2d", "linear", "relu", "gelu", "layernorm", "layerscale", "add",
    "maxpool", "avgpool", "globalavgpool", "flatten", "softmax", "batchnorm",
    "sigmoid", "hardsigmoid", "hardswish", "clip", "mul", "concat", "resize", "convtranspose",
};

const char *bpf_op_name(uint32_t op)
{
    return op > 0 && op < BPF_OP_COUNT ? bpf_op_names[op] : "?";
}

/* Fewest and most inputs per op (every op has one output). */
static uint32_t bpf_op_n_in(uint32_t op, uint32_t *most)
{
    uint32_t lo;
    switch (op) {
    case BPF_OP_LAYERNORM: case BPF_OP_BATCHNORM: lo = 3; break;
    case BPF_OP_LAYERSCALE: case BPF_OP_ADD: case BPF_OP_MUL: lo = 2; break;
    case BPF_OP_CONCAT: *most = BPF_MAX_IO; return 2;
    case BPF_OP_CONVTRANSPOSE: *most = 3; return 2;
    default: lo = 1; break;
    }
    *most = lo;
    return lo;
}

static bpf_shape bpf_shape_of(const bpf_tensor *t)
{
    bpf_shape s = {.nd = t->ndim};
    for (uint32_t d = 0; d < t->ndim && d < BPF_MAX_DIMS; d++) s.d[d] = t->dims[d];
    return s;
}

static uint64_t bpf_elems(const bpf_tensor *t)
{
    uint64_t e = 1;
    for (uint32_t d = 0; d < t->ndim; d++) e *= t->dims[d]; /* <= 2^32, checked at read */
    return e;
}

static int bpf_shape_eq(const bpf_shape *a, const bpf_shape *b)
{
    if (a->nd != b->nd) return 0;
    for (uint32_t d = 0; d < a->nd; d++)
        if (a->d[d] != b->d[d]) return 0;
    return 1;
}

static void bpf_shape_str(const bpf_shape *s, char *buf, size_t n)
{
    size_t o = 0;
    o += (size_t)snprintf(buf, n, "(");
    for (uint32_t d = 0; d < s->nd && o < n; d++)
        o += (size_t)snprintf(buf + o, n - o, d ? ",%llu" : "%llu", (unsigned long long)s->d[d]);
    if (o < n) snprintf(buf + o, n - o, ")");
}

/* One spatial output size; 0 when the padded input is smaller than the window. */
static uint64_t bpf_out_dim(uint64_t in, uint64_t pa, uint64_t pb, uint64_t k, uint64_t dil,
                            uint64_t stride)
{
    uint64_t span = dil * (k - 1) + 1, padded = in + pa + pb;
    return padded < span ? 0 : (padded - span) / stride + 1;
}

/* A per-channel parameter: a constant f32 tensor with exactly C elements. */
static bpf_status bpf_check_param(const bpf_model *m, uint32_t ni, const bpf_node *nd, uint32_t k,
                                  uint64_t C)
{
    const bpf_tensor *t = &m->tensors[nd->in[k]];
    if (!t->data || t->dtype != BPF_DT_F32 || bpf_elems(t) != C)
        return bpf_fail(BPF_ERR_BAD_GRAPH, "node %u '%s' (%s): input %u tensor %u '%s' must be a "
                        "constant f32 with %llu elements (one per channel)", ni, nd->name,
                        bpf_op_name(nd->op), k, nd->in[k], t->name, (unsigned long long)C);
    return BPF_OK;
}

/* Attributes an op does not use must be zero. */
static bpf_status bpf_check_attrs(uint32_t ni, const bpf_node *nd)
{
    uint32_t n_ints = 0, n_floats = 0;
    switch (nd->op) {
    case BPF_OP_MAXPOOL: case BPF_OP_AVGPOOL: case BPF_OP_CONVTRANSPOSE: n_ints = 8; break;
    case BPF_OP_CONCAT: n_ints = 1; break;
    case BPF_OP_RESIZE: n_ints = 3; n_floats = 2; break;
    case BPF_OP_LAYERNORM: n_floats = 1; break;
    case BPF_OP_HARDSIGMOID: case BPF_OP_CLIP: n_floats = 2; break;
    default: break;
    }
    for (uint32_t k = n_ints; k < 8; k++)
        if (nd->ints[k])
            return bpf_fail(BPF_ERR_BAD_GRAPH, "node %u '%s' (%s): unused ints[%u] = %d not zero",
                            ni, nd->name, bpf_op_name(nd->op), k, nd->ints[k]);
    for (uint32_t k = n_floats; k < 4; k++)
        if (nd->floats[k] != 0.0f)
            return bpf_fail(BPF_ERR_BAD_GRAPH, "node %u '%s' (%s): unused floats[%u] = %g not zero",
                            ni, nd->name, bpf_op_name(nd->op), k, (double)nd->floats[k]);
    return BPF_OK;
}

/* CONCAT: activations of one rank, equal dims but along the axis. */
static bpf_status bpf_check_concat(const bpf_model *m, uint32_t ni, const bpf_node *nd,
                                   bpf_shape *s)
{
    int32_t ax = nd->ints[0];
    if (ax < 1 || (uint32_t)ax >= s->nd)
        return bpf_fail(BPF_ERR_BAD_GRAPH, "node %u '%s' (concat): axis %d outside 1..%u", ni,
                        nd->name, ax, s->nd - 1);
    uint64_t sum = 0;
    for (uint32_t k = 0; k < nd->n_in; k++) {
        const bpf_tensor *t = &m->tensors[nd->in[k]];
        bpf_shape b = bpf_shape_of(t);
        int ok = !t->data && b.nd == s->nd;
        for (uint32_t d = 0; ok && d < b.nd; d++) ok = d == (uint32_t)ax || b.d[d] == s->d[d];
        if (!ok) {
            char sa[128], sb[128];
            bpf_shape_str(s, sa, sizeof sa);
            bpf_shape_str(&b, sb, sizeof sb);
            return bpf_fail(BPF_ERR_BAD_GRAPH, "node %u '%s' (concat): input %u tensor %u '%s' "
                            "%s%s does not match input 0 %s but along axis %d", ni, nd->name, k,
                            nd->in[k], t->name, t->data ? "is a constant; " : "", sb, sa, ax);
        }
        sum += b.d[ax];
    }
    s->d[ax] = sum; /* <= 4 * 2^20; a larger declared output fails R31 first */
    return BPF_OK;
}

/* RESIZE: attribute ranges, scales, output (N, C, floor(H*sh), floor(W*sw)). */
static bpf_status bpf_check_resize(uint32_t ni, const bpf_node *nd, const bpf_tensor *x,
                                   bpf_shape *s)
{
    const int32_t *a = nd->ints;
    int linear = a[0] == BPF_RESIZE_LINEAR;
    if (a[0] < 0 || a[0] > 1 || a[1] < 0 || a[1] > 3 || a[2] < 0 || a[2] > 3 || (linear && a[2]))
        return bpf_fail(BPF_ERR_BAD_GRAPH, "node %u '%s' (resize): mode %d, coordinates %d, "
                        "rounding %d (mode 0..1, coordinates 0..3, rounding 0..3 and 0 for "
                        "linear)", ni, nd->name, a[0], a[1], a[2]);
    if (s->nd != 4)
        return bpf_fail(BPF_ERR_BAD_GRAPH, "node %u '%s' (resize): input '%s' is not (N,C,H,W)",
                        ni, nd->name, x->name);
    for (int k = 0; k < 2; k++) {
        float sc = nd->floats[k];
        double o = isfinite(sc) && sc > 0.0f ? floor((double)s->d[2 + k] * (double)sc) : 0.0;
        if (!(o >= 1.0) || o > (double)BPF_MAX_DIM)
            return bpf_fail(BPF_ERR_BAD_GRAPH, "node %u '%s' (resize): scale %g of %s %llu "
                            "gives no output size in 1..%u", ni, nd->name, (double)sc,
                            k ? "W" : "H", (unsigned long long)s->d[2 + k], BPF_MAX_DIM);
        s->d[2 + k] = (uint64_t)o;
    }
    return BPF_OK;
}

/* CONVTRANSPOSE: constant f32 weight (C_i, C_o, kh, kw), optional bias
 * (C_o), strides, paddings, output padding below the stride. */
static bpf_status bpf_check_convtranspose(const bpf_model *m, uint32_t ni, const bpf_node *nd,
                                          bpf_shape *s)
{
    const bpf_tensor *w = &m->tensors[nd->in[1]];
    const int32_t *a = nd->ints; /* sh, sw, pt, pl, pb, pr, oph, opw */
    if (s->nd != 4 || !w->data || w->dtype != BPF_DT_F32 || w->ndim != 4 ||
        w->dims[0] != s->d[1] || w->dims[2] > BPF_MAX_KERNEL || w->dims[3] > BPF_MAX_KERNEL)
        return bpf_fail(BPF_ERR_BAD_GRAPH, "node %u '%s' (convtranspose): needs x (N,C,H,W) and "
                        "a constant f32 weight (C,C_out,kh,kw) with kh, kw <= %u; weight '%s'",
                        ni, nd->name, BPF_MAX_KERNEL, w->name);
    if (nd->n_in == 3) {
        const bpf_tensor *b = &m->tensors[nd->in[2]];
        if (!b->data || b->dtype != BPF_DT_F32 || bpf_elems(b) != w->dims[1])
            return bpf_fail(BPF_ERR_BAD_GRAPH, "node %u '%s' (convtranspose): bias '%s' must be "
                            "a constant f32 with %u elements", ni, nd->name, b->name, w->dims[1]);
    }
    for (int k = 0; k < 8; k++) {
        int32_t lo = k < 2 ? 1 : 0, hi = k < 2 ? (int32_t)BPF_MAX_STRIDE : (int32_t)BPF_MAX_PAD;
        if (k >= 6) hi = a[k - 6] - 1;
        if (a[k] < lo || a[k] > hi)
            return bpf_fail(BPF_ERR_BAD_GRAPH, "node %u '%s' (convtranspose): ints[%d] = %d "
                            "outside %d..%d (strides 1..%u, pads 0..%u, output padding below "
                            "the stride)", ni, nd->name, k, a[k], lo, hi, BPF_MAX_STRIDE,
                            BPF_MAX_PAD);
    }
    for (int k = 0; k < 2; k++) {
        int64_t o = ((int64_t)s->d[2 + k] - 1) * a[k] - a[2 + k] - a[4 + k] +
                    (int64_t)w->dims[2 + k] + a[6 + k];
        if (o < 1)
            return bpf_fail(BPF_ERR_BAD_GRAPH, "node %u '%s' (convtranspose): output %s %lld "
                            "< 1", ni, nd->name, k ? "W" : "H", (long long)o);
        s->d[2 + k] = (uint64_t)o;
    }
    s->d[1] = w->dims[1];
    return BPF_OK;
}

/* Output shape of node ni from its input shapes and attributes. */
static bpf_status bpf_infer(const bpf_model *m, uint32_t ni, const bpf_node *nd, bpf_shape *out)
{
    const bpf_tensor *x = &m->tensors[nd->in[0]];
    bpf_shape s = bpf_shape_of(x);
    const char *on = bpf_op_name(nd->op);
    char sb[128];
    bpf_status e;
    switch (nd->op) {
    case BPF_OP_CONV2D: {
        const bpf_layer *L = &m->layers[nd->layer];
        if (s.nd != 4 || s.d[1] != L->c_in) {
            bpf_shape_str(&s, sb, sizeof sb);
            return bpf_fail(BPF_ERR_BAD_GRAPH, "node %u '%s' (conv2d): input '%s' shape %s, layer "
                            "%u needs (N,%u,H,W)", ni, nd->name, x->name, sb, nd->layer, L->c_in);
        }
        uint64_t ho = bpf_out_dim(s.d[2], L->pad_t, L->pad_b, L->kh, L->dil_h, L->stride_h);
        uint64_t wo = bpf_out_dim(s.d[3], L->pad_l, L->pad_r, L->kw, L->dil_w, L->stride_w);
        if (!ho || !wo)
            return bpf_fail(BPF_ERR_BAD_GRAPH, "node %u '%s' (conv2d): input %llux%llu smaller "
                            "than the padded %ux%u kernel window", ni, nd->name,
                            (unsigned long long)s.d[2], (unsigned long long)s.d[3], L->kh, L->kw);
        s.d[1] = L->c_out;
        s.d[2] = ho;
        s.d[3] = wo;
        break;
    }
    case BPF_OP_LINEAR: {
        const bpf_layer *L = &m->layers[nd->layer];
        int ok = (s.nd == 2 || (s.nd == 4 && s.d[2] == 1 && s.d[3] == 1)) && s.d[1] == L->c_in;
        if (!ok) {
            bpf_shape_str(&s, sb, sizeof sb);
            return bpf_fail(BPF_ERR_BAD_GRAPH, "node %u '%s' (linear): input '%s' shape %s, layer "
                            "%u needs (N,%u) or (N,%u,1,1)", ni, nd->name, x->name, sb, nd->layer,
                            L->c_in, L->c_in);
        }
        s.nd = 2;
        s.d[1] = L->c_out;
        break;
    }
    case BPF_OP_RELU: case BPF_OP_GELU: case BPF_OP_SOFTMAX: case BPF_OP_SIGMOID:
    case BPF_OP_HARDSWISH:
        break;
    case BPF_OP_HARDSIGMOID: case BPF_OP_CLIP: {
        float f0 = nd->floats[0], f1 = nd->floats[1];
        if (nd->op == BPF_OP_HARDSIGMOID ? !isfinite(f0) || !isfinite(f1)
                                         : isnan(f0) || isnan(f1) || !(f0 <= f1))
            return bpf_fail(BPF_ERR_BAD_GRAPH, "node %u '%s' (%s): floats %g, %g must be %s", ni,
                            nd->name, on, (double)f0, (double)f1,
                            nd->op == BPF_OP_CLIP ? "min <= max, not NaN" : "finite");
        break;
    }
    case BPF_OP_CONCAT:
        if ((e = bpf_check_concat(m, ni, nd, &s))) return e;
        break;
    case BPF_OP_RESIZE:
        if ((e = bpf_check_resize(ni, nd, x, &s))) return e;
        break;
    case BPF_OP_CONVTRANSPOSE:
        if ((e = bpf_check_convtranspose(m, ni, nd, &s))) return e;
        break;
    case BPF_OP_LAYERNORM: case BPF_OP_LAYERSCALE: case BPF_OP_BATCHNORM: {
        if (s.nd < 2) {
            bpf_shape_str(&s, sb, sizeof sb);
            return bpf_fail(BPF_ERR_BAD_GRAPH, "node %u '%s' (%s): input '%s' shape %s has no "
                            "channel dimension", ni, nd->name, on, x->name, sb);
        }
        for (uint32_t k = 1; k < nd->n_in; k++)
            if ((e = bpf_check_param(m, ni, nd, k, s.d[1]))) return e;
        if (nd->op == BPF_OP_LAYERNORM && (!isfinite(nd->floats[0]) || !(nd->floats[0] > 0.0f)))
            return bpf_fail(BPF_ERR_BAD_GRAPH, "node %u '%s' (layernorm): eps %g must be finite "
                            "and > 0", ni, nd->name, (double)nd->floats[0]);
        break;
    }
    case BPF_OP_ADD: case BPF_OP_MUL: {
        const bpf_tensor *bt = &m->tensors[nd->in[1]];
        bpf_shape b = bpf_shape_of(bt);
        int ok = b.nd <= s.nd && (bt->data || b.nd == s.nd) && !(bt->data && x->data);
        for (uint32_t d = 0; ok && d < b.nd; d++) {
            uint64_t bd = b.d[b.nd - 1 - d], ad = s.d[s.nd - 1 - d];
            ok = bd == ad || bd == 1;
        }
        if (!ok) {
            char sb2[128];
            bpf_shape_str(&s, sb, sizeof sb);
            bpf_shape_str(&b, sb2, sizeof sb2);
            return bpf_fail(BPF_ERR_BAD_GRAPH, "node %u '%s' (%s): input shape %s does not "
                            "broadcast to %s (an activation needs the same rank, a constant "
                            "at most; each dim equal or 1; not two constants)", ni, nd->name,
                            on, sb2, sb);
        }
        break;
    }
    case BPF_OP_MAXPOOL: case BPF_OP_AVGPOOL: {
        const int32_t *a = nd->ints; /* kh, kw, sh, sw, pt, pl, pb, pr */
        if (a[0] < 1 || a[0] > (int32_t)BPF_MAX_KERNEL || a[1] < 1 || a[1] > (int32_t)BPF_MAX_KERNEL ||
            a[2] < 1 || a[2] > (int32_t)BPF_MAX_STRIDE || a[3] < 1 || a[3] > (int32_t)BPF_MAX_STRIDE)
            return bpf_fail(BPF_ERR_LIMIT, "node %u '%s' (%s): kernel %dx%d / stride %dx%d outside "
                            "1..%u / 1..%u", ni, nd->name, on, a[0], a[1], a[2], a[3],
                            BPF_MAX_KERNEL, BPF_MAX_STRIDE);
        if (a[4] < 0 || a[5] < 0 || a[6] < 0 || a[7] < 0 || a[4] >= a[0] || a[6] >= a[0] ||
            a[5] >= a[1] || a[7] >= a[1])
            return bpf_fail(BPF_ERR_BAD_GRAPH, "node %u '%s' (%s): padding t%d l%d b%d r%d must be "
                            ">= 0 and smaller than the %dx%d window", ni, nd->name, on, a[4], a[5],
                            a[6], a[7], a[0], a[1]);
        if (s.nd != 4) {
            bpf_shape_str(&s, sb, sizeof sb);
            return bpf_fail(BPF_ERR_BAD_GRAPH, "node %u '%s' (%s): input '%s' shape %s is not "
                            "(N,C,H,W)", ni, nd->name, on, x->name, sb);
        }
        uint64_t ho = bpf_out_dim(s.d[2], (uint64_t)a[4], (uint64_t)a[6], (uint64_t)a[0], 1,
                                  (uint64_t)a[2]);
        uint64_t wo = bpf_out_dim(s.d[3], (uint64_t)a[5], (uint64_t)a[7], (uint64_t)a[1], 1,
                                  (uint64_t)a[3]);
        if (!ho || !wo)
            return bpf_fail(BPF_ERR_BAD_GRAPH, "node %u '%s' (%s): input %llux%llu smaller than "
                            "the padded %dx%d window", ni, nd->name, on, (unsigned long long)s.d[2],
                            (unsigned long long)s.d[3], a[0], a[1]);
        s.d[2] = ho;
        s.d[3] = wo;
        break;
    }
    case BPF_OP_GLOBALAVGPOOL:
        if (s.nd != 4) {
            bpf_shape_str(&s, sb, sizeof sb);
            return bpf_fail(BPF_ERR_BAD_GRAPH, "node %u '%s' (globalavgpool): input '%s' shape %s "
                            "is not (N,C,H,W)", ni, nd->name, x->name, sb);
        }
        s.d[2] = s.d[3] = 1;
        break;
    case BPF_OP_FLATTEN: {
        if (s.nd < 2) {
            bpf_shape_str(&s, sb, sizeof sb);
            return bpf_fail(BPF_ERR_BAD_GRAPH, "node %u '%s' (flatten): input '%s' shape %s has "
                            "fewer than 2 dimensions", ni, nd->name, x->name, sb);
        }
        uint64_t p = 1;
        for (uint32_t d = 1; d < s.nd; d++) p *= s.d[d]; /* <= 2^32 elements in total */
        s.nd = 2;
        s.d[1] = p;
        break;
    }
    default:
        return bpf_fail(BPF_ERR_BAD_GRAPH, "node %u '%s': unknown op %u", ni, nd->name, nd->op);
    }
    *out = s;
    return BPF_OK;
}

bpf_status bpf_graph_validate(const bpf_model *m, uint32_t *layer_node)
{
    const uint32_t nt = m->n_tensors;
    uint8_t *av = calloc(nt ? nt : 1, 1);
    if (!av) return bpf_fail(BPF_ERR_NOMEM, "graph: out of memory");
    bpf_status e = BPF_OK;
    for (uint32_t l = 0; l < m->n_layers; l++) layer_node[l] = UINT32_MAX;
    for (uint32_t t = 0; t < nt; t++)
        if (m->tensors[t].data) av[t] = BPF_AV_CONST;
    for (uint32_t k = 0; k < m->n_inputs + m->n_outputs; k++) {
        uint32_t id = k < m->n_inputs ? m->inputs[k] : m->outputs[k - m->n_inputs];
        const char *what = k < m->n_inputs ? "input" : "output";
        uint32_t idx = k < m->n_inputs ? k : k - m->n_inputs;
        if (id >= nt) {
            e = bpf_fail(BPF_ERR_BAD_GRAPH, "graph %s %u: tensor id %u out of range (%u tensors)",
                         what, idx, id, nt);
            goto done;
        }
        if (k < m->n_inputs) {
            if (av[id] != BPF_AV_NONE) {
                e = bpf_fail(BPF_ERR_BAD_GRAPH, "graph input %u: tensor %u '%s' is %s", k, id,
                             m->tensors[id].name,
                             av[id] == BPF_AV_CONST ? "a constant" : "listed twice");
                goto done;
            }
            av[id] = BPF_AV_INPUT;
        }
    }
    for (uint32_t ni = 0; ni < m->n_nodes; ni++) {
        const bpf_node *nd = &m->nodes[ni];
        if (nd->op < 1 || nd->op >= BPF_OP_COUNT) {
            e = bpf_fail(BPF_ERR_BAD_GRAPH, "node %u '%s': unknown op %u", ni, nd->name, nd->op);
            goto done;
        }
        const char *on = bpf_op_name(nd->op);
        uint32_t most, least = bpf_op_n_in(nd->op, &most);
        if (nd->n_in < least || nd->n_in > most || nd->n_out != 1) {
            e = bpf_fail(BPF_ERR_BAD_GRAPH, "node %u '%s' (%s): %u inputs / %u outputs, the op "
                         "takes %u%s / 1", ni, nd->name, on, nd->n_in, nd->n_out, least,
                         most > least ? (most == 3 ? "..3" : "..4") : "");
            goto done;
        }
        for (uint32_t k = 0; k < nd->n_in + nd->n_out; k++) {
            uint32_t id = k < nd->n_in ? nd->in[k] : nd->out[k - nd->n_in];
            if (id >= nt) {
                e = bpf_fail(BPF_ERR_BAD_GRAPH, "node %u '%s' (%s): %s %u: tensor id %u out of "
                             "range (%u tensors)", ni, nd->name, on,
                             k < nd->n_in ? "input" : "output", k < nd->n_in ? k : k - nd->n_in,
                             id, nt);
                goto done;
            }
        }
        for (uint32_t k = 0; k < nd->n_in; k++)
            if (av[nd->in[k]] == BPF_AV_NONE) {
                e = bpf_fail(BPF_ERR_BAD_GRAPH, "node %u '%s' (%s): input %u tensor %u '%s' is "
                             "not a graph input, constant or output of an earlier node (cycle or "
                             "unordered)", ni, nd->name, on, k, nd->in[k],
                             m->tensors[nd->in[k]].name);
                goto done;
            }
        int is_layer = nd->op == BPF_OP_CONV2D || nd->op == BPF_OP_LINEAR;
        if (is_layer) {
            uint32_t want = nd->op == BPF_OP_CONV2D ? BPF_LAYER_CONV : BPF_LAYER_LINEAR;
            if (nd->layer >= m->n_layers || m->layers[nd->layer].kind != want) {
                e = bpf_fail(BPF_ERR_BAD_GRAPH, "node %u '%s' (%s): layer %u is not a %s layer "
                             "(%u layers)", ni, nd->name, on, nd->layer,
                             want == BPF_LAYER_CONV ? "conv" : "linear", m->n_layers);
                goto done;
            }
            if (layer_node[nd->layer] != UINT32_MAX) {
                e = bpf_fail(BPF_ERR_BAD_GRAPH, "node %u '%s' (%s): layer %u already used by "
                             "node %u", ni, nd->name, on, nd->layer, layer_node[nd->layer]);
                goto done;
            }
            layer_node[nd->layer] = ni;
        } else if (nd->layer != UINT32_MAX) {
            e = bpf_fail(BPF_ERR_BAD_GRAPH, "node %u '%s' (%s): layer field %u, must be "
                         "0xffffffff for ops without weights", ni, nd->name, on, nd->layer);
            goto done;
        }
        if ((e = bpf_check_attrs(ni, nd))) goto done;
        bpf_shape s = {0};
        if ((e = bpf_infer(m, ni, nd, &s))) goto done;
        uint32_t o = nd->out[0];
        const bpf_tensor *t = &m->tensors[o];
        if (av[o] != BPF_AV_NONE) {
            e = bpf_fail(BPF_ERR_BAD_GRAPH, "node %u '%s' (%s): output tensor %u '%s' is %s", ni,
                         nd->name, on, o, t->name,
                         av[o] == BPF_AV_CONST   ? "a constant"
                         : av[o] == BPF_AV_INPUT ? "a graph input"
                                                 : "produced twice");
            goto done;
        }
        bpf_shape ts = bpf_shape_of(t);
        if (!bpf_shape_eq(&s, &ts)) {
            char a[128], b[128];
            bpf_shape_str(&ts, a, sizeof a);
            bpf_shape_str(&s, b, sizeof b);
            e = bpf_fail(BPF_ERR_BAD_GRAPH, "node %u '%s' (%s): output tensor %u '%s' declared %s, "
                         "inputs give %s", ni, nd->name, on, o, t->name, a, b);
            goto done;
        }
        av[o] = BPF_AV_PRODUCED;
    }
    for (uint32_t l = 0; l < m->n_layers; l++)
        if (layer_node[l] == UINT32_MAX) {
            e = bpf_fail(BPF_ERR_BAD_GRAPH, "layer %u: not used by any node", l);
            goto done;
        }
    for (uint32_t k = 0; k < m->n_outputs; k++)
        if (av[m->outputs[k]] != BPF_AV_PRODUCED && av[m->outputs[k]] != BPF_AV_INPUT) {
            e = bpf_fail(BPF_ERR_BAD_GRAPH, "graph output %u: tensor %u '%s' is never produced", k,
                         m->outputs[k], m->tensors[m->outputs[k]].name);
            goto done;
        }
done:
    free(av);
    return e;
}
