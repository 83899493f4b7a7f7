/* onnx_norm.c: normalises the folded graph before mapping: drops no-op
 * nodes, reads QuantizeLinear/DequantizeLinear pairs into activation scales,
 * turns Conv/Gemm/MatMul with constant weights into layers, recognises the
 * decomposed GELU (erf form), HardSwish and LayerNorm patterns, turns BatchNormalization
 * and Add/Sub/Mul/Div by constants into per-channel affines, and folds an
 * affine into the layer before it (BatchNorm folding) where that is exact. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_geom.h"
#include "onnx_ir.h"

#define BP_ONNX_IS(n, s) (!(n)->dead && !strcmp((n)->op, (s)))

static bp_onnx_node *bp_onnx_prod(bp_onnx_graph *g, int vid)
{
    if (vid < 0 || g->v[vid].producer < 0)
        return NULL;
    bp_onnx_node *n = &g->nodes[g->v[vid].producer];
    return n->dead ? NULL : n;
}

/* The single live consumer of vid (NULL if none, several, or a graph output). */
static bp_onnx_node *bp_onnx_sole_user(bp_onnx_graph *g, int vid)
{
    if (vid < 0 || g->v[vid].n_uses != 1 || vid == g->output)
        return NULL;
    for (int i = 0; i < g->nn; i++) {
        bp_onnx_node *n = &g->nodes[i];
        if (n->dead)
            continue;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] == vid)
                return n;
    }
    return NULL;
}

static int bp_onnx_is_act(const bp_onnx_graph *g, int vid)
{
    return vid >= 0 && !g->v[vid].is_const;
}

/* A constant float scalar (any shape of one element). */
static int bp_onnx_scalar(const bp_onnx_graph *g, int vid, float *out)
{
    if (vid < 0 || !g->v[vid].is_const || g->v[vid].n != 1)
        return 0;
    *out = g->v[vid].f ? g->v[vid].f[0] : (float)g->v[vid].i[0];
    return 1;
}

static int bp_onnx_near(float a, float b)
{
    return fabsf(a - b) <= 1e-4f * fabsf(b);
}

/* The operand of binary node n that is not `x` (or -1 if x is not an operand). */
static int bp_onnx_other(const bp_onnx_node *n, int x)
{
    if (n->n_in != 2)
        return -1;
    return n->in[0] == x ? n->in[1] : n->in[1] == x ? n->in[0] : -1;
}

static void bp_onnx_kill(bp_onnx_graph *g, bp_onnx_node *n)
{
    n->dead = 1;
    for (int k = 0; k < n->n_in; k++)
        if (n->in[k] >= 0)
            g->v[n->in[k]].n_uses--;
}

/* Makes node n read only input x (its constant operands are consumed). */
static void bp_onnx_set_single_input(bp_onnx_graph *g, bp_onnx_node *n, int x)
{
    for (int k = 0; k < n->n_in; k++)
        if (n->in[k] >= 0)
            g->v[n->in[k]].n_uses--;
    n->n_in = 1;
    n->in[0] = x;
    g->v[x].n_uses++;
}

/* Replaces the value `from` by `to` everywhere and updates use counts. */
static void bp_onnx_forward(bp_onnx_graph *g, int from, int to)
{
    bp_onnx_replace_uses(g, from, to);
    bp_onnx_count_uses(g);
}

/* ---- 1. no-op nodes ---- */
static int bp_onnx_same_shape(const bp_onnx_value *a, const bp_onnx_value *b)
{
    return a->ndim >= 0 && a->ndim == b->ndim &&
           !memcmp(a->dims, b->dims, (size_t)a->ndim * sizeof a->dims[0]);
}

static int bp_onnx_drop_noops(bp_onnx_graph *g)
{
    for (int i = 0; i < g->nn; i++) {
        bp_onnx_node *n = &g->nodes[i];
        if (n->dead || n->n_in < 1 || n->n_out < 1 || n->in[0] < 0 || n->out[0] < 0)
            continue;
        int x = n->in[0], y = n->out[0];
        int noop = 0;
        if (!strcmp(n->op, "Identity"))
            noop = 1;
        else if (!strcmp(n->op, "Dropout"))
            noop = n->n_out < 2 || n->out[1] < 0 || g->v[n->out[1]].n_uses == 0;
        else if (!strcmp(n->op, "Cast"))
            noop = g->v[x].dtype == (int32_t)bp_onnx_attr_int(n, "to", -1);
        else if (!strcmp(n->op, "Pad")) {
            int64_t p[2 * BP_ONNX_MAX_DIMS];
            noop = g->v[x].ndim >= 0 && !bp_onnx_pad_amounts(g, n, g->v[x].ndim, p);
            for (int k = 0; noop && k < 2 * g->v[x].ndim; k++)
                noop = p[k] == 0;
        } else if (!strcmp(n->op, "Reshape") || !strcmp(n->op, "Flatten") ||
                 !strcmp(n->op, "Squeeze") || !strcmp(n->op, "Unsqueeze"))
            noop = bp_onnx_same_shape(&g->v[x], &g->v[y]);
        if (!noop)
            continue;
        if (y == g->output && x == g->input)
            return bp_onnx_node_fail(g, n, "the graph output would be its input");
        bp_onnx_kill(g, n);
        bp_onnx_forward(g, y, x);
    }
    return 0;
}

/* ---- 2. QuantizeLinear / DequantizeLinear pairs on activations ---- */
static int bp_onnx_is_layer_op(const bp_onnx_node *n)
{
    return !strcmp(n->op, "Conv") || !strcmp(n->op, "Gemm") || !strcmp(n->op, "MatMul");
}

static int bp_onnx_qparams(bp_onnx_graph *g, bp_onnx_node *n, float *s, int32_t *z, int32_t *dt)
{
    if (n->n_in < 2 || !bp_onnx_scalar(g, n->in[1], s))
        return bp_onnx_node_fail(g, n, "the activation scale must be one constant (per-tensor "
                                 "quantization)");
    *z = 0;
    *dt = BP_ONNX_UINT8;
    if (n->n_in > 2 && n->in[2] >= 0) {
        const bp_onnx_value *zv = &g->v[n->in[2]];
        if (!zv->is_const || zv->n != 1 || !zv->i)
            return bp_onnx_node_fail(g, n, "the zero point must be one integer constant");
        *z = (int32_t)zv->i[0];
        *dt = zv->dtype;
    }
    if (*dt != BP_ONNX_UINT8 && *dt != BP_ONNX_INT8)
        return bp_onnx_node_fail(g, n, "activations quantized to %s (uint8 and int8 are "
                                 "supported)", bp_onnx_dtype_name(*dt));
    if (!(*s > 0) || !isfinite(*s))
        return bp_onnx_node_fail(g, n, "the scale %g is not positive and finite", (double)*s);
    return 0;
}

static int bp_onnx_qdq_pairs(bp_onnx_graph *g)
{
    for (int i = 0; i < g->nn; i++) {
        bp_onnx_node *dq = &g->nodes[i];
        if (!BP_ONNX_IS(dq, "DequantizeLinear") || dq->in[0] < 0 || dq->out[0] < 0 ||
            g->v[dq->in[0]].is_const)
            continue;
        bp_onnx_node *q = bp_onnx_prod(g, dq->in[0]);
        if (!q || strcmp(q->op, "QuantizeLinear"))
            return bp_onnx_node_fail(g, dq, "dequantizes '%s', which is not the output of a "
                                     "QuantizeLinear (integer graph inputs are not supported)",
                                     g->v[dq->in[0]].name);
        float s1, s2;
        int32_t z1, z2, t1, t2;
        if (bp_onnx_qparams(g, q, &s1, &z1, &t1) || bp_onnx_qparams(g, dq, &s2, &z2, &t2))
            return -1;
        if (s1 != s2 || z1 != z2 || t1 != t2)
            return bp_onnx_node_fail(g, dq, "its scale/zero point (%g, %d) differ from those of "
                                     "QuantizeLinear '%s' (%g, %d)", (double)s2, z2, q->name,
                                     (double)s1, z1);
        if (q->n_in < 1 || q->in[0] < 0)
            return bp_onnx_node_fail(g, q, "has no input");
        int x = q->in[0], y = dq->out[0];
        int to_layer = 0, other = 0;
        for (int j = 0; j < g->nn; j++) {
            bp_onnx_node *c = &g->nodes[j];
            if (c->dead || c->n_in < 1)
                continue;
            for (int k = 0; k < c->n_in; k++) {
                if (c->in[k] != y)
                    continue;
                if (k == 0 && bp_onnx_is_layer_op(c)) {
                    c->actq.set = 1;
                    c->actq.scale = s1;
                    c->actq.zero = z1;
                    c->actq.is_u8 = t1 == BP_ONNX_UINT8;
                    c->actq.via = q->name;
                    to_layer = 1;
                } else {
                    other = 1;
                }
            }
        }
        if (other || y == g->output || !to_layer)
            g->n_dropped_q++;
        bp_onnx_kill(g, dq);
        bp_onnx_forward(g, y, x);
    }
    for (int i = 0; i < g->nn; i++) {
        bp_onnx_node *q = &g->nodes[i];
        if (BP_ONNX_IS(q, "QuantizeLinear") && q->out[0] >= 0 && g->v[q->out[0]].n_uses == 0)
            bp_onnx_kill(g, q);
        /* torch exports Q -> Cast(uint8) -> DQ; such a cast's output is gone now */
        if (BP_ONNX_IS(q, "Cast") && q->out[0] >= 0 && g->v[q->out[0]].n_uses == 0)
            bp_onnx_kill(g, q);
    }
    /* a second sweep: QuantizeLinear nodes only read by now-dead casts */
    for (int i = 0; i < g->nn; i++) {
        bp_onnx_node *q = &g->nodes[i];
        if (BP_ONNX_IS(q, "QuantizeLinear") && q->out[0] >= 0 && g->v[q->out[0]].n_uses == 0)
            bp_onnx_kill(g, q);
    }
    return 0;
}

/* ---- 3. layers ---- */
static bp_onnx_weights *bp_onnx_weights_new(bp_onnx_graph *g, uint32_t rows, uint32_t K, int q)
{
    bp_onnx_weights *w = calloc(1, sizeof *w);
    size_t n = (size_t)rows * K;
    if (!w)
        return NULL;
    w->rows = rows;
    w->K = K;
    w->bias = calloc(rows ? rows : 1, sizeof *w->bias);
    if (q) {
        w->wq = malloc((n ? n : 1) * sizeof *w->wq);
        w->wq_scale = malloc((rows ? rows : 1) * sizeof *w->wq_scale);
    } else {
        w->wf = malloc((n ? n : 1) * sizeof *w->wf);
    }
    if (!w->bias || (q ? !w->wq || !w->wq_scale : !w->wf)) {
        free(w->bias);
        free(w->wq);
        free(w->wq_scale);
        free(w->wf);
        free(w);
        bp_onnx_fail(g, "out of memory for layer weights");
        return NULL;
    }
    return w;
}

/* Fills w from constant cv laid out as rows x K (transposed: K x rows).
 * Integer weights are used when the constant is dequantized per tensor or
 * per output row; other quantization axes fall back to the float values. */
static int bp_onnx_fill_weights(bp_onnx_graph *g, bp_onnx_node *n, int cv, int transposed,
                                float alpha)
{
    const bp_onnx_value *c = &g->v[cv];
    uint32_t rows = n->w->rows, K = n->w->K;
    const bp_onnx_qw *qw = c->qw;
    int row_axis = transposed ? 1 : 0;
    int useq = qw && (qw->n_scale == 1 || qw->axis == row_axis);
    if (useq && !n->w->wq) {
        free(n->w->wf);
        n->w->wf = NULL;
        size_t nw = (size_t)rows * K;
        n->w->wq = malloc((nw ? nw : 1) * sizeof *n->w->wq);
        n->w->wq_scale = malloc((rows ? rows : 1) * sizeof *n->w->wq_scale);
        if (!n->w->wq || !n->w->wq_scale)
            return bp_onnx_fail(g, "out of memory for layer weights");
    }
    if (!useq && !n->w->wf) {
        size_t nw = (size_t)rows * K;
        n->w->wf = malloc((nw ? nw : 1) * sizeof *n->w->wf);
        if (!n->w->wf)
            return bp_onnx_fail(g, "out of memory for layer weights");
    }
    for (uint32_t j = 0; j < rows; j++) {
        for (uint32_t k = 0; k < K; k++) {
            size_t src = transposed ? (size_t)k * rows + j : (size_t)j * K + k;
            if (useq) {
                int64_t q = qw->q[src];
                if (q < -255 || q > 255)
                    return bp_onnx_node_fail(g, n, "integer weight %lld of '%s' is beyond "
                                             "+-255, the largest magnitude a .bp layer stores",
                                             (long long)q, c->name);
                n->w->wq[(size_t)j * K + k] = (int32_t)q;
            } else {
                n->w->wf[(size_t)j * K + k] = c->f[src] * alpha;
            }
        }
        if (useq)
            n->w->wq_scale[j] = qw->scale[qw->n_scale == 1 ? 0 : j] * alpha;
    }
    return 0;
}

/* Bias from a constant that broadcasts to [rows] (scalar, (rows), (1,rows)). */
static int bp_onnx_fill_bias(bp_onnx_graph *g, bp_onnx_node *n, int bv, float beta)
{
    if (bv < 0)
        return 0;
    const bp_onnx_value *b = &g->v[bv];
    uint32_t rows = n->w->rows;
    if (!b->is_const || !b->f)
        return bp_onnx_node_fail(g, n, "bias '%s' is not a float constant", b->name);
    if (b->n != 1 && b->n != rows)
        return bp_onnx_node_fail(g, n, "bias '%s' has %zu values for %u outputs", b->name, b->n,
                                 rows);
    for (uint32_t j = 0; j < rows; j++)
        n->w->bias[j] = b->f[b->n == 1 ? 0 : j] * beta;
    return 0;
}

/* Pad (zeros, spatial axes of NCHW) -> Conv: the conv pads instead. */
static void bp_onnx_pad_into_conv(bp_onnx_graph *g, bp_onnx_node *c)
{
    bp_onnx_node *p = bp_onnx_prod(g, c->in[0]);
    int64_t pads[2 * BP_ONNX_MAX_DIMS];
    if (!p || strcmp(p->op, "Pad") || g->v[c->in[0]].n_uses != 1 || p->in[0] < 0 ||
        g->v[p->in[0]].ndim != 4 || bp_onnx_pad_amounts(g, p, 4, pads) || pads[0] || pads[1] ||
        pads[4] || pads[5])
        return;
    c->pre_pad[0] = pads[2]; /* top, left, bottom, right */
    c->pre_pad[1] = pads[3];
    c->pre_pad[2] = pads[6];
    c->pre_pad[3] = pads[7];
    int x = p->in[0];
    bp_onnx_kill(g, p);
    c->in[0] = x;
    g->v[x].n_uses++;
}

static int bp_onnx_make_layers(bp_onnx_graph *g)
{
    for (int i = 0; i < g->nn; i++) {
        bp_onnx_node *n = &g->nodes[i];
        if (n->dead || !bp_onnx_is_layer_op(n) || n->n_in < 2 || n->in[0] < 0 || n->in[1] < 0)
            continue;
        const bp_onnx_value *x = &g->v[n->in[0]], *w = &g->v[n->in[1]];
        if (!w->is_const || !w->f || !bp_onnx_is_act(g, n->in[0]))
            continue; /* left for the mapper to reject */
        if (!strcmp(n->op, "Conv")) {
            bp_onnx_pad_into_conv(g, n);
            x = &g->v[n->in[0]];
            if (w->ndim != 4 || x->ndim != 4)
                return bp_onnx_node_fail(g, n, "only 2-D convolutions (4-D input and weight) "
                                         "are supported");
            int64_t groups = bp_onnx_attr_int(n, "group", 1);
            if (groups < 1 || x->dims[1] % groups || w->dims[0] % groups ||
                w->dims[1] * groups != x->dims[1])
                return bp_onnx_node_fail(g, n, "group %lld does not fit %lld input and %lld "
                                         "output channels", (long long)groups,
                                         (long long)x->dims[1], (long long)w->dims[0]);
            int64_t K = w->dims[1] * w->dims[2] * w->dims[3];
            if (w->dims[0] > 65536 || K > 32768)
                return bp_onnx_node_fail(g, n, "%lld outputs x K = %lld exceed the .bp limits "
                                         "(65536, 32768)", (long long)w->dims[0], (long long)K);
            n->w = bp_onnx_weights_new(g, (uint32_t)w->dims[0], (uint32_t)K, 0);
            if (!n->w || bp_onnx_fill_weights(g, n, n->in[1], 0, 1.0f) ||
                bp_onnx_fill_bias(g, n, n->n_in > 2 ? n->in[2] : -1, 1.0f))
                return -1;
            bp_onnx_geom gm;
            int64_t xd[4];
            memcpy(xd, g->v[n->in[0]].dims, sizeof xd);
            xd[2] += n->pre_pad[0] + n->pre_pad[2];
            xd[3] += n->pre_pad[1] + n->pre_pad[3];
            if (bp_onnx_conv_geom(g, n, xd, g->v[n->in[1]].dims, &gm))
                return -1;
            gm.pt += n->pre_pad[0];
            gm.pl += n->pre_pad[1];
            gm.pb += n->pre_pad[2];
            gm.pr += n->pre_pad[3];
            n->kh = (uint32_t)gm.kh;
            n->kw = (uint32_t)gm.kw;
            n->sh = (uint32_t)gm.sh;
            n->sw = (uint32_t)gm.sw;
            n->dh = (uint32_t)gm.dh;
            n->dw = (uint32_t)gm.dw;
            n->pt = (uint32_t)gm.pt;
            n->pl = (uint32_t)gm.pl;
            n->pb = (uint32_t)gm.pb;
            n->pr = (uint32_t)gm.pr;
            n->groups = (uint32_t)groups;
            n->op = "bp.Conv";
        } else {
            int gemm = !strcmp(n->op, "Gemm");
            if (w->ndim != 2)
                return bp_onnx_node_fail(g, n, "the weight has %d dimensions (2 supported)",
                                         w->ndim);
            if (gemm && bp_onnx_attr_int(n, "transA", 0))
                return bp_onnx_node_fail(g, n, "transA=1 is not supported");
            int tb = gemm && bp_onnx_attr_int(n, "transB", 0);
            int64_t rows = tb ? w->dims[0] : w->dims[1], K = tb ? w->dims[1] : w->dims[0];
            if (rows > 65536 || K > 32768)
                return bp_onnx_node_fail(g, n, "%lld outputs x K = %lld exceed the .bp limits "
                                         "(65536, 32768)", (long long)rows, (long long)K);
            float alpha = gemm ? bp_onnx_attr_float(n, "alpha", 1.0f) : 1.0f;
            float beta = gemm ? bp_onnx_attr_float(n, "beta", 1.0f) : 1.0f;
            n->w = bp_onnx_weights_new(g, (uint32_t)rows, (uint32_t)K, 0);
            if (!n->w || bp_onnx_fill_weights(g, n, n->in[1], !tb, alpha) ||
                bp_onnx_fill_bias(g, n, gemm && n->n_in > 2 ? n->in[2] : -1, beta))
                return -1;
            n->op = "bp.Dense";
        }
        bp_onnx_set_single_input(g, n, n->in[0]);
    }
    return 0;
}

/* ---- 4. patterns ---- */

/* Erf-form GELU: y = x * 0.5 * (1 + erf(x / sqrt(2))), in the orders
 * exporters emit. The last node becomes bp.Gelu(x). */
static int bp_onnx_match_gelu(bp_onnx_graph *g, bp_onnx_node *erf)
{
    int ein = erf->in[0];
    bp_onnx_node *sc = bp_onnx_prod(g, ein);
    float c;
    if (!sc || g->v[ein].n_uses != 1)
        return 0;
    int x = -1;
    if (!strcmp(sc->op, "Div") && bp_onnx_scalar(g, sc->in[1], &c) && bp_onnx_near(c, 1.41421356f))
        x = sc->in[0];
    else if (!strcmp(sc->op, "Mul") && sc->n_in == 2) {
        for (int k = 0; k < 2; k++)
            if (bp_onnx_scalar(g, sc->in[k], &c) && bp_onnx_near(c, 0.70710678f))
                x = sc->in[1 - k];
    }
    if (x < 0 || !bp_onnx_is_act(g, x))
        return 0;
    bp_onnx_node *a1 = bp_onnx_sole_user(g, erf->out[0]);
    if (!a1 || strcmp(a1->op, "Add") || !bp_onnx_scalar(g, bp_onnx_other(a1, erf->out[0]), &c) ||
        c != 1.0f)
        return 0;
    bp_onnx_node *m1 = bp_onnx_sole_user(g, a1->out[0]);
    if (!m1 || strcmp(m1->op, "Mul"))
        return 0;
    int o = bp_onnx_other(m1, a1->out[0]);
    bp_onnx_node *last = NULL, *half = NULL;
    if (o == x) { /* (x * (1 + erf)) * 0.5 */
        bp_onnx_node *m2 = bp_onnx_sole_user(g, m1->out[0]);
        if (m2 && !strcmp(m2->op, "Mul") && bp_onnx_scalar(g, bp_onnx_other(m2, m1->out[0]), &c) &&
            c == 0.5f)
            last = m2;
    } else if (bp_onnx_scalar(g, o, &c) && c == 0.5f) { /* x * ((1 + erf) * 0.5) */
        bp_onnx_node *m2 = bp_onnx_sole_user(g, m1->out[0]);
        if (m2 && !strcmp(m2->op, "Mul") && bp_onnx_other(m2, m1->out[0]) == x)
            last = m2;
    } else if ((half = bp_onnx_prod(g, o)) != NULL && !strcmp(half->op, "Mul") &&
               g->v[o].n_uses == 1 && bp_onnx_other(half, x) >= 0 &&
               bp_onnx_scalar(g, bp_onnx_other(half, x), &c) && c == 0.5f) { /* (x*0.5) * (1+erf) */
        last = m1;
    }
    if (!last)
        return 0;
    bp_onnx_node *dead[5] = {sc, erf, a1, m1 != last ? m1 : NULL, half};
    for (int k = 0; k < 5; k++)
        if (dead[k])
            bp_onnx_kill(g, dead[k]);
    for (int k = 0; k < last->n_in; k++)
        g->v[last->in[k]].n_uses--;
    last->op = "bp.Gelu";
    last->n_in = 1;
    last->in[0] = x;
    g->v[x].n_uses++;
    g->n_gelu++;
    return 1;
}

/* Clip's bounds: inputs 1 and 2 (opset 11+, each optional) or the min/max
 * attributes. 0 if a bound is not a constant scalar. */
static int bp_onnx_clip_bounds(const bp_onnx_graph *g, const bp_onnx_node *n, float *lo,
                               float *hi)
{
    *lo = -INFINITY;
    *hi = INFINITY;
    if (g->opset < 11) {
        *lo = bp_onnx_attr_float(n, "min", -INFINITY);
        *hi = bp_onnx_attr_float(n, "max", INFINITY);
        return 1;
    }
    if (n->n_in > 1 && n->in[1] >= 0 && !bp_onnx_scalar(g, n->in[1], lo))
        return 0;
    if (n->n_in > 2 && n->in[2] >= 0 && !bp_onnx_scalar(g, n->in[2], hi))
        return 0;
    return 1;
}

/* x / 6 written as Div by 6 or Mul by 1/6: the other operand, else -1. */
static int bp_onnx_div6(const bp_onnx_graph *g, const bp_onnx_node *n)
{
    float c;
    if (n->n_in != 2)
        return -1;
    if (!strcmp(n->op, "Div") && bp_onnx_scalar(g, n->in[1], &c) && c == 6.0f)
        return n->in[0];
    if (!strcmp(n->op, "Mul"))
        for (int k = 0; k < 2; k++)
            if (bp_onnx_scalar(g, n->in[k], &c) && bp_onnx_near(c, 1.0f / 6.0f))
                return n->in[1 - k];
    return -1;
}

/* Decomposed HardSwish: x * Clip(x + 3, 0, 6) / 6 (ReLU6 may export as Relu
 * then Clip; the division may come before or after the product). The last
 * node becomes HardSwish(x). */
static int bp_onnx_match_hardswish(bp_onnx_graph *g, bp_onnx_node *clip)
{
    float lo, hi, c;
    if (!bp_onnx_clip_bounds(g, clip, &lo, &hi) || lo != 0.0f || hi != 6.0f ||
        g->v[clip->in[0]].n_uses != 1)
        return 0;
    bp_onnx_node *relu = bp_onnx_prod(g, clip->in[0]), *add = relu;
    if (relu && !strcmp(relu->op, "Relu")) {
        if (g->v[relu->in[0]].n_uses != 1)
            return 0;
        add = bp_onnx_prod(g, relu->in[0]);
    } else {
        relu = NULL;
    }
    if (!add || strcmp(add->op, "Add") || add->n_in != 2)
        return 0;
    int x = -1;
    for (int k = 0; k < 2; k++)
        if (bp_onnx_scalar(g, add->in[k], &c) && c == 3.0f)
            x = add->in[1 - k];
    if (x < 0 || !bp_onnx_is_act(g, x))
        return 0;
    bp_onnx_node *u = bp_onnx_sole_user(g, clip->out[0]), *last = NULL, *mid = NULL;
    if (!u)
        return 0;
    if (!strcmp(u->op, "Mul") && bp_onnx_other(u, clip->out[0]) == x) { /* (x * clip) / 6 */
        bp_onnx_node *d = bp_onnx_sole_user(g, u->out[0]);
        if (d && bp_onnx_div6(g, d) == u->out[0]) {
            mid = u;
            last = d;
        }
    } else if (bp_onnx_div6(g, u) == clip->out[0]) { /* x * (clip / 6) */
        bp_onnx_node *m = bp_onnx_sole_user(g, u->out[0]);
        if (m && !strcmp(m->op, "Mul") && bp_onnx_other(m, u->out[0]) == x) {
            mid = u;
            last = m;
        }
    }
    if (!last)
        return 0;
    bp_onnx_node *dead[4] = {add, relu, clip, mid};
    for (int k = 0; k < 4; k++)
        if (dead[k])
            bp_onnx_kill(g, dead[k]);
    for (int k = 0; k < last->n_in; k++)
        if (last->in[k] >= 0)
            g->v[last->in[k]].n_uses--;
    last->op = "HardSwish";
    last->n_in = 1;
    last->in[0] = x;
    g->v[x].n_uses++;
    g->n_hardswish++;
    return 1;
}

/* Per-axis constant of a broadcast against x's rank r: returns the axis
 * (-1 for a scalar), or -2 if c varies along more than one axis or does
 * not broadcast onto x without growing it. */
static int bp_onnx_const_axis(const bp_onnx_graph *g, int cv, int xv)
{
    const bp_onnx_value *c = &g->v[cv], *x = &g->v[xv];
    if (c->ndim > x->ndim || x->ndim < 0)
        return -2;
    int axis = -1;
    for (int k = 0; k < c->ndim; k++) {
        int xa = x->ndim - c->ndim + k;
        if (c->dims[k] == 1)
            continue;
        if (c->dims[k] != x->dims[xa] || axis >= 0)
            return -2;
        axis = xa;
    }
    return axis;
}

/* Reads a constant that is per-axis along `axis` of x (or scalar) into
 * out[C] (C = x's dim at axis, or 1). */
static int bp_onnx_read_axis_const(const bp_onnx_graph *g, int cv, int xv, int axis,
                                   float **out, size_t *nout)
{
    const bp_onnx_value *c = &g->v[cv];
    int a = bp_onnx_const_axis(g, cv, xv);
    if (a == -2 || (a >= 0 && a != axis) || !c->f)
        return -1;
    size_t C = axis >= 0 ? (size_t)g->v[xv].dims[axis] : 1;
    float *p = malloc(C * sizeof *p);
    if (!p)
        return -1;
    for (size_t k = 0; k < C; k++)
        p[k] = c->f[c->n == 1 ? 0 : k];
    *out = p;
    *nout = C;
    return 0;
}

static int bp_onnx_single_axis(bp_onnx_graph *g, bp_onnx_node *r, int x)
{
    int64_t axes[BP_ONNX_MAX_DIMS];
    int k = bp_onnx_attr_ints(r, "axes", axes, BP_ONNX_MAX_DIMS);
    if (k < 0 && r->n_in > 1 && r->in[1] >= 0 && g->v[r->in[1]].is_const &&
        g->v[r->in[1]].n == 1 && g->v[r->in[1]].i) {
        axes[0] = g->v[r->in[1]].i[0];
        k = 1;
    }
    if (k != 1 || !bp_onnx_attr_int(r, "keepdims", 1))
        return -1;
    int rank = g->v[x].ndim;
    int64_t a = axes[0] < 0 ? axes[0] + rank : axes[0];
    return a >= 0 && a < rank ? (int)a : -1;
}

/* y = (x - mean) / sqrt(var + eps) [* gamma] [+ beta], mean/var over one
 * axis. The last node becomes bp.LayerNorm(x). */
static int bp_onnx_match_layernorm(bp_onnx_graph *g, bp_onnx_node *r1)
{
    int x = r1->in[0];
    int axis = bp_onnx_single_axis(g, r1, x);
    if (axis < 0 || !bp_onnx_is_act(g, x))
        return 0;
    int mean = r1->out[0];
    if (g->v[mean].n_uses != 1)
        return 0;
    bp_onnx_node *sub = bp_onnx_sole_user(g, mean);
    if (!sub || strcmp(sub->op, "Sub") || sub->in[0] != x || sub->in[1] != mean)
        return 0;
    int d = sub->out[0];
    if (g->v[d].n_uses != 2 && g->v[d].n_uses != 3)
        return 0;
    bp_onnx_node *sq = NULL, *div = NULL;
    for (int i = 0; i < g->nn; i++) {
        bp_onnx_node *n = &g->nodes[i];
        if (n->dead)
            continue;
        float c;
        if (!strcmp(n->op, "Pow") && n->in[0] == d && bp_onnx_scalar(g, n->in[1], &c) && c == 2.0f)
            sq = n;
        else if (!strcmp(n->op, "Mul") && n->in[0] == d && n->in[1] == d)
            sq = n;
        else if (!strcmp(n->op, "Div") && n->in[0] == d)
            div = n;
    }
    if (!sq || !div)
        return 0;
    bp_onnx_node *r2 = bp_onnx_sole_user(g, sq->out[0]);
    if (!r2 || strcmp(r2->op, "ReduceMean") || bp_onnx_single_axis(g, r2, sq->out[0]) != axis)
        return 0;
    bp_onnx_node *ae = bp_onnx_sole_user(g, r2->out[0]);
    float eps;
    if (!ae || strcmp(ae->op, "Add") || !bp_onnx_scalar(g, bp_onnx_other(ae, r2->out[0]), &eps) ||
        !(eps > 0))
        return 0;
    bp_onnx_node *rt = bp_onnx_sole_user(g, ae->out[0]);
    if (!rt || strcmp(rt->op, "Sqrt") || div->in[1] != rt->out[0] ||
        g->v[rt->out[0]].n_uses != 1)
        return 0;
    /* optional gamma and beta */
    bp_onnx_node *last = div, *mg = NULL;
    float *gamma = NULL, *beta = NULL;
    size_t ng = 0, nb = 0;
    bp_onnx_node *u = bp_onnx_sole_user(g, div->out[0]);
    if (u && !strcmp(u->op, "Mul")) {
        int c = bp_onnx_other(u, div->out[0]);
        if (c >= 0 && g->v[c].is_const &&
            !bp_onnx_read_axis_const(g, c, x, axis, &gamma, &ng)) {
            mg = last = u;
            u = bp_onnx_sole_user(g, u->out[0]);
        }
    }
    if (u && !strcmp(u->op, "Add")) {
        int c = bp_onnx_other(u, last->out[0]);
        if (c >= 0 && g->v[c].is_const && !bp_onnx_read_axis_const(g, c, x, axis, &beta, &nb))
            last = u;
    }
    size_t C = (size_t)g->v[x].dims[axis];
    float *gm = malloc(C * sizeof *gm), *bt = malloc(C * sizeof *bt);
    if (!gm || !bt) {
        free(gm);
        free(bt);
        free(gamma);
        free(beta);
        return bp_onnx_fail(g, "out of memory");
    }
    for (size_t k = 0; k < C; k++) {
        gm[k] = gamma ? gamma[ng == 1 ? 0 : k] : 1.0f;
        bt[k] = beta ? beta[nb == 1 ? 0 : k] : 0.0f;
    }
    free(gamma);
    free(beta);
    bp_onnx_node *dead[8] = {r1, sub, sq, r2, ae, rt, div, mg};
    for (int k = 0; k < 8; k++)
        if (dead[k] && dead[k] != last)
            bp_onnx_kill(g, dead[k]);
    for (int k = 0; k < last->n_in; k++)
        if (last->in[k] >= 0)
            g->v[last->in[k]].n_uses--;
    last->op = "bp.LayerNorm";
    last->n_in = 1;
    last->in[0] = x;
    g->v[x].n_uses++;
    last->axis = axis;
    last->eps = eps;
    last->scale = gm;
    last->shift = bt;
    last->n_param = C;
    g->n_layernorm++;
    return 1;
}

static int bp_onnx_native_layernorm(bp_onnx_graph *g, bp_onnx_node *n)
{
    int x = n->in[0];
    const bp_onnx_value *xv = &g->v[x];
    if (xv->ndim < 0)
        return 0;
    int64_t a = bp_onnx_attr_int(n, "axis", -1);
    a = a < 0 ? a + xv->ndim : a;
    if (a < 0 || a >= xv->ndim)
        return bp_onnx_node_fail(g, n, "axis out of range");
    for (int k = (int)a + 1; k < xv->ndim; k++)
        if (xv->dims[k] != 1)
            return bp_onnx_node_fail(g, n, "normalises over %d axes; one axis is supported",
                                     xv->ndim - (int)a);
    for (int k = 1; k < n->n_out; k++)
        if (n->out[k] >= 0 && g->v[n->out[k]].n_uses)
            return bp_onnx_node_fail(g, n, "its mean / inverse std outputs are used");
    size_t C = (size_t)xv->dims[a];
    float *gm = NULL, *bt = NULL;
    size_t ng = 0, nb = 0;
    if (n->n_in < 2 || n->in[1] < 0 || !g->v[n->in[1]].is_const ||
        bp_onnx_read_axis_const(g, n->in[1], x, (int)a, &gm, &ng))
        return bp_onnx_node_fail(g, n, "scale must be a float constant of %zu values", C);
    if (n->n_in > 2 && n->in[2] >= 0 &&
        (!g->v[n->in[2]].is_const || bp_onnx_read_axis_const(g, n->in[2], x, (int)a, &bt, &nb))) {
        free(gm);
        return bp_onnx_node_fail(g, n, "bias must be a float constant of %zu values", C);
    }
    float *g2 = malloc(C * sizeof *g2), *b2 = malloc(C * sizeof *b2);
    if (!g2 || !b2) {
        free(g2);
        free(b2);
        free(gm);
        free(bt);
        return bp_onnx_fail(g, "out of memory");
    }
    for (size_t k = 0; k < C; k++) {
        g2[k] = gm[ng == 1 ? 0 : k];
        b2[k] = bt ? bt[nb == 1 ? 0 : k] : 0.0f;
    }
    free(gm);
    free(bt);
    n->op = "bp.LayerNorm";
    n->axis = (int)a;
    n->eps = bp_onnx_attr_float(n, "epsilon", 1e-5f);
    n->scale = g2;
    n->shift = b2;
    n->n_param = C;
    n->n_out = 1;
    bp_onnx_set_single_input(g, n, x);
    g->n_layernorm++;
    return 1;
}

/* ---- 5. affines ---- */
static int bp_onnx_set_affine(bp_onnx_graph *g, bp_onnx_node *n, int x, int axis, size_t C)
{
    n->scale = malloc(C * sizeof *n->scale);
    n->shift = malloc(C * sizeof *n->shift);
    if (!n->scale || !n->shift)
        return bp_onnx_fail(g, "out of memory");
    for (size_t k = 0; k < C; k++) {
        n->scale[k] = 1.0f;
        n->shift[k] = 0.0f;
    }
    n->n_param = C;
    n->axis = axis;
    n->op = "bp.Affine";
    bp_onnx_set_single_input(g, n, x);
    return 0;
}

static int bp_onnx_batchnorm(bp_onnx_graph *g, bp_onnx_node *n)
{
    int x = n->in[0];
    if (n->n_in != 5 || g->v[x].ndim < 2)
        return bp_onnx_node_fail(g, n, "needs 5 inputs and an input of at least 2 dimensions");
    if (bp_onnx_attr_int(n, "training_mode", 0))
        return bp_onnx_node_fail(g, n, "training_mode=1 is not an inference graph");
    for (int k = 1; k < n->n_out; k++)
        if (n->out[k] >= 0 && g->v[n->out[k]].n_uses)
            return bp_onnx_node_fail(g, n, "its running statistics outputs are used");
    size_t C = (size_t)g->v[x].dims[1];
    const bp_onnx_value *p[4];
    for (int k = 0; k < 4; k++) {
        p[k] = n->in[k + 1] >= 0 ? &g->v[n->in[k + 1]] : NULL;
        if (!p[k] || !p[k]->is_const || !p[k]->f || p[k]->n != C)
            return bp_onnx_node_fail(g, n, "input %d must be a float constant of %zu values",
                                     k + 1, C);
    }
    float eps = bp_onnx_attr_float(n, "epsilon", 1e-5f);
    float *s = malloc(C * sizeof *s), *t = malloc(C * sizeof *t);
    if (!s || !t) {
        free(s);
        free(t);
        return bp_onnx_fail(g, "out of memory");
    }
    for (size_t c = 0; c < C; c++) {
        s[c] = (float)((double)p[0]->f[c] / sqrt((double)p[3]->f[c] + (double)eps));
        t[c] = (float)((double)p[1]->f[c] - (double)p[2]->f[c] * (double)s[c]);
    }
    if (bp_onnx_set_affine(g, n, x, 1, C)) {
        free(s);
        free(t);
        return -1;
    }
    free(n->scale);
    free(n->shift);
    n->scale = s;
    n->shift = t;
    n->n_out = 1;
    n->from_bn = 1;
    return 0;
}

/* Add/Sub/Mul/Div of an activation and a scalar or per-axis constant. */
static int bp_onnx_arith_affine(bp_onnx_graph *g, bp_onnx_node *n)
{
    if (n->n_in != 2 || n->in[0] < 0 || n->in[1] < 0)
        return 0;
    int ca = g->v[n->in[0]].is_const, cb = g->v[n->in[1]].is_const;
    if (ca == cb)
        return 0;
    int x = ca ? n->in[1] : n->in[0], c = ca ? n->in[0] : n->in[1];
    if (!g->v[c].f || g->v[x].ndim < 1)
        return 0;
    int axis = bp_onnx_const_axis(g, c, x);
    if (axis == -2)
        return 0;
    int sub = !strcmp(n->op, "Sub"), mul = !strcmp(n->op, "Mul"), div = !strcmp(n->op, "Div");
    if (div && ca)
        return 0; /* c / x */
    const bp_onnx_value *cv = &g->v[c];
    size_t C = axis >= 0 ? (size_t)g->v[x].dims[axis] : 1;
    float *cf = malloc(C * sizeof *cf);
    if (!cf)
        return bp_onnx_fail(g, "out of memory");
    for (size_t k = 0; k < C; k++)
        cf[k] = cv->f[cv->n == 1 ? 0 : k];
    if (bp_onnx_set_affine(g, n, x, axis, C)) {
        free(cf);
        return -1;
    }
    for (size_t k = 0; k < C; k++) {
        if (mul)
            n->scale[k] = cf[k];
        else if (div)
            n->scale[k] = 1.0f / cf[k];
        else if (sub && ca) {
            n->scale[k] = -1.0f;
            n->shift[k] = cf[k];
        } else
            n->shift[k] = sub ? -cf[k] : cf[k];
    }
    free(cf);
    return 1;
}

/* Output-channel axis of a layer's output value (conv: 1, dense: last). */
static int bp_onnx_layer_axis(const bp_onnx_graph *g, const bp_onnx_node *l)
{
    return !strcmp(l->op, "bp.Conv") ? 1 : g->v[l->out[0]].ndim - 1;
}

/* Folds affine a into the layer l before it: exact for integer weights
 * (the scale goes into the per-row weight scale, a negative one flips the
 * row's signs), and the float weights are scaled before quantization. */
static void bp_onnx_fold_into_layer(bp_onnx_graph *g, bp_onnx_node *l, bp_onnx_node *a)
{
    bp_onnx_weights *w = l->w;
    for (uint32_t j = 0; j < w->rows; j++) {
        float s = a->scale[a->n_param == 1 ? 0 : j], t = a->shift[a->n_param == 1 ? 0 : j];
        if (w->wq) {
            if (s < 0)
                for (uint32_t k = 0; k < w->K; k++)
                    w->wq[(size_t)j * w->K + k] = -w->wq[(size_t)j * w->K + k];
            w->wq_scale[j] *= fabsf(s);
        } else {
            for (uint32_t k = 0; k < w->K; k++)
                w->wf[(size_t)j * w->K + k] *= s;
        }
        w->bias[j] = w->bias[j] * s + t;
    }
    int y = a->out[0], ly = l->out[0];
    bp_onnx_kill(g, a);
    bp_onnx_forward(g, y, ly);
    if (a->from_bn)
        g->n_folded_bn++;
    else
        g->n_affine_folded++;
}

static int bp_onnx_fold_affines(bp_onnx_graph *g)
{
    for (int i = 0; i < g->nn; i++) {
        bp_onnx_node *a = &g->nodes[i];
        if (!BP_ONNX_IS(a, "bp.Affine"))
            continue;
        int x = a->in[0];
        bp_onnx_node *p = bp_onnx_prod(g, x);
        if (!p || g->v[x].n_uses != 1 || x == g->output)
            continue;
        if (!strcmp(p->op, "bp.Affine") && (p->axis == a->axis || p->n_param == 1 ||
                                            a->n_param == 1)) {
            size_t C = p->n_param > a->n_param ? p->n_param : a->n_param;
            float *s = malloc(C * sizeof *s), *t = malloc(C * sizeof *t);
            if (!s || !t) {
                free(s);
                free(t);
                return bp_onnx_fail(g, "out of memory");
            }
            for (size_t k = 0; k < C; k++) {
                float s1 = p->scale[p->n_param == 1 ? 0 : k], t1 = p->shift[p->n_param == 1 ? 0 : k];
                float s2 = a->scale[a->n_param == 1 ? 0 : k], t2 = a->shift[a->n_param == 1 ? 0 : k];
                s[k] = s1 * s2;
                t[k] = t1 * s2 + t2;
            }
            free(a->scale);
            free(a->shift);
            a->scale = s;
            a->shift = t;
            a->axis = p->n_param > 1 ? p->axis : a->axis;
            a->n_param = C;
            int px = p->in[0];
            bp_onnx_kill(g, p);
            a->in[0] = px;
            bp_onnx_count_uses(g);
            continue;
        }
        if ((!strcmp(p->op, "bp.Conv") || !strcmp(p->op, "bp.Dense")) &&
            (a->n_param == 1 || a->axis == bp_onnx_layer_axis(g, p))) {
            if (!strcmp(p->op, "bp.Conv") && a->n_param > 1 && a->n_param != p->w->rows)
                continue;
            bp_onnx_fold_into_layer(g, p, a);
        }
    }
    return 0;
}

int bp_onnx_normalize(bp_onnx_graph *g)
{
    bp_onnx_count_uses(g);
    if (bp_onnx_drop_noops(g) || bp_onnx_qdq_pairs(g) || bp_onnx_drop_noops(g) ||
        bp_onnx_make_layers(g))
        return -1;
    for (int i = 0; i < g->nn; i++) {
        bp_onnx_node *n = &g->nodes[i];
        if (n->dead || n->n_in < 1 || n->in[0] < 0)
            continue;
        int r = 0;
        if (!strcmp(n->op, "Erf"))
            r = bp_onnx_match_gelu(g, n);
        else if (!strcmp(n->op, "Clip"))
            r = bp_onnx_match_hardswish(g, n);
        else if (!strcmp(n->op, "ReduceMean"))
            r = bp_onnx_match_layernorm(g, n);
        else if (!strcmp(n->op, "LayerNormalization"))
            r = bp_onnx_native_layernorm(g, n);
        else if (!strcmp(n->op, "Gelu")) {
            const Onnx__AttributeProto *a = bp_onnx_attr(n, "approximate");
            if (a && a->has_s && !(a->s.len == 4 && !memcmp(a->s.data, "none", 4)))
                return bp_onnx_node_fail(g, n, "approximate GELU (tanh) is not supported; the "
                                         "engine computes the erf form");
            n->op = "bp.Gelu";
        }
        if (r < 0)
            return -1;
    }
    for (int i = 0; i < g->nn; i++) {
        bp_onnx_node *n = &g->nodes[i];
        if (n->dead || n->n_in < 1 || n->in[0] < 0)
            continue;
        int r = 0;
        if (!strcmp(n->op, "BatchNormalization"))
            r = bp_onnx_batchnorm(g, n);
        else if (!strcmp(n->op, "Add") || !strcmp(n->op, "Sub") || !strcmp(n->op, "Mul") ||
                 !strcmp(n->op, "Div"))
            r = bp_onnx_arith_affine(g, n);
        if (r < 0)
            return -1;
    }
    bp_onnx_count_uses(g);
    return bp_onnx_fold_affines(g);
}
