/* onnx_fold.c: one pass over the nodes in order: a node whose inputs are all
 * constant (or a Shape of a statically shaped value) is evaluated and becomes
 * a constant; every other node gets its output shapes inferred. Exporters'
 * shape arithmetic (Shape -> Gather/Cast/Slice -> Concat -> Reshape) and
 * dequantized weights thus arrive at the mapper as plain constants. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_geom.h"
#include "onnx_ir.h"

#define BP_ONNX_OP(n, s) (!strcmp((n)->op, (s)))

static int bp_onnx_is_int(int32_t dt)
{
    return dt && !bp_onnx_is_float(dt) && dt != BP_ONNX_STRING;
}

static int64_t bp_onnx_norm_axis(int64_t a, int r)
{
    return a < 0 ? a + r : a;
}

/* ---- constant readers ---- */
static double bp_onnx_cget(const bp_onnx_value *v, size_t k)
{
    return v->f ? (double)v->f[k] : (double)v->i[k];
}

static int64_t bp_onnx_cget_i(const bp_onnx_value *v, size_t k)
{
    return v->i ? v->i[k] : (int64_t)v->f[k];
}

/* Reads a 1-D (or scalar) integer constant input into out[max]: count or -1. */
static int bp_onnx_const_ints(const bp_onnx_graph *g, int vid, int64_t *out, int max)
{
    if (vid < 0 || !g->v[vid].is_const || g->v[vid].ndim > 1 || g->v[vid].n > (size_t)max)
        return -1;
    const bp_onnx_value *v = &g->v[vid];
    for (size_t k = 0; k < v->n; k++)
        out[k] = bp_onnx_cget_i(v, k);
    return (int)v->n;
}

/* ---- broadcasting ---- */
static int bp_onnx_bcast(bp_onnx_graph *g, const bp_onnx_node *n, const int *ids, int cnt,
                         int *nd, int64_t *d)
{
    *nd = 0;
    for (int i = 0; i < cnt; i++)
        if (g->v[ids[i]].ndim > *nd)
            *nd = g->v[ids[i]].ndim;
    for (int k = 0; k < *nd; k++)
        d[k] = 1;
    for (int i = 0; i < cnt; i++) {
        const bp_onnx_value *v = &g->v[ids[i]];
        int off = *nd - v->ndim;
        for (int k = 0; k < v->ndim; k++) {
            int64_t a = d[off + k], b = v->dims[k];
            if (a == b || b == 1)
                continue;
            if (a == 1)
                d[off + k] = b;
            else
                return bp_onnx_node_fail(g, n, "shapes of its inputs do not broadcast "
                                         "(dimension %d: %lld vs %lld)", off + k,
                                         (long long)a, (long long)b);
        }
    }
    return 0;
}

/* Offset into v of the output element whose coordinates are c[nd]. */
static size_t bp_onnx_boff(const bp_onnx_value *v, const int64_t *c, int nd)
{
    size_t off = 0;
    int base = nd - v->ndim;
    for (int k = 0; k < v->ndim; k++)
        off = off * (size_t)v->dims[k] + (size_t)(v->dims[k] == 1 ? 0 : c[base + k]);
    return off;
}

static void bp_onnx_coords(size_t idx, const int64_t *d, int nd, int64_t *c)
{
    for (int k = nd - 1; k >= 0; k--) {
        c[k] = d[k] ? (int64_t)(idx % (size_t)d[k]) : 0;
        idx = d[k] ? idx / (size_t)d[k] : 0;
    }
}

static int bp_onnx_set_shape_only(bp_onnx_graph *g, int vid, int32_t dt, int nd,
                                  const int64_t *d)
{
    if (vid < 0)
        return 0;
    bp_onnx_value *v = &g->v[vid];
    if (nd > BP_ONNX_MAX_DIMS)
        return bp_onnx_fail(g, "value '%s': %d dimensions (at most %d)", v->name, nd,
                            BP_ONNX_MAX_DIMS);
    int64_t total = 1;
    for (int i = 0; i < nd; i++) {
        if (d[i] < 0 || (d[i] && total > BP_ONNX_MAX_ACT_ELEMS / d[i]))
            return bp_onnx_fail(g, "value '%s': shape too large (more than %lld elements)",
                                v->name, (long long)BP_ONNX_MAX_ACT_ELEMS);
        total *= d[i];
    }
    v->dtype = dt;
    v->ndim = nd;
    if (nd > 0)
        memcpy(v->dims, d, (size_t)nd * sizeof *d);
    return 0;
}

static int bp_onnx_copy_shape(bp_onnx_graph *g, int dst, int src)
{
    if (dst < 0 || src < 0)
        return 0;
    return bp_onnx_set_shape_only(g, dst, g->v[src].dtype, g->v[src].ndim, g->v[src].dims);
}

/* Makes v (a fresh output) a constant of dtype dt and the given shape. */
static int bp_onnx_make_const(bp_onnx_graph *g, int vid, int32_t dt, int nd, const int64_t *d)
{
    if (nd > BP_ONNX_MAX_DIMS)
        return bp_onnx_fail(g, "value '%s': %d dimensions (at most %d)", g->v[vid].name, nd,
                            BP_ONNX_MAX_DIMS);
    return bp_onnx_is_float(dt) ? bp_onnx_set_const_f(g, vid, nd, d)
                                : bp_onnx_set_const_i(g, vid, dt, nd, d);
}

static void bp_onnx_cset(bp_onnx_value *v, size_t k, double x)
{
    if (v->f)
        v->f[k] = (float)x;
    else
        v->i[k] = fabs(x) < 9.2e18 ? (int64_t)x : 0; /* also NaN -> 0 */
}

/* Copies element sk of s into element dk of d (types may differ). */
static void bp_onnx_ccopy(bp_onnx_value *d, size_t dk, const bp_onnx_value *s, size_t sk)
{
    if (d->f)
        d->f[dk] = s->f ? s->f[sk] : (float)s->i[sk];
    else
        d->i[dk] = s->i ? s->i[sk] : (int64_t)s->f[sk];
}

static int bp_onnx_same_const(bp_onnx_graph *g, int dst, int src, int nd, const int64_t *d)
{
    const bp_onnx_value *s = &g->v[src];
    if (bp_onnx_make_const(g, dst, s->dtype, nd, d))
        return -1;
    s = &g->v[src];
    bp_onnx_value *o = &g->v[dst];
    if (o->n != s->n)
        return bp_onnx_fail(g, "value '%s': reshape of %zu elements to %zu", o->name, s->n,
                            o->n);
    for (size_t k = 0; k < o->n; k++)
        bp_onnx_ccopy(o, k, s, k);
    return 0;
}

/* ---- shape helpers shared by folding and inference ---- */
static int bp_onnx_reshape_dims(bp_onnx_graph *g, const bp_onnx_node *n, const bp_onnx_value *x,
                                int shp, int *nd, int64_t *d)
{
    int64_t s[BP_ONNX_MAX_DIMS];
    int k = bp_onnx_const_ints(g, shp, s, BP_ONNX_MAX_DIMS);
    if (k < 0)
        return bp_onnx_node_fail(g, n, "its target shape is not a constant (of at most %d "
                                 "dims)", BP_ONNX_MAX_DIMS);
    int allowzero = (int)bp_onnx_attr_int(n, "allowzero", 0);
    int64_t known = 1;
    int infer = -1;
    for (int i = 0; i < k; i++) {
        if (s[i] == 0 && !allowzero) {
            if (i >= x->ndim)
                return bp_onnx_node_fail(g, n, "shape entry %d is 0 (copy) beyond the input's "
                                         "rank", i);
            s[i] = x->dims[i];
        }
        if (s[i] == -1) {
            if (infer >= 0)
                return bp_onnx_node_fail(g, n, "its shape has two -1 entries");
            infer = i;
            continue;
        }
        if (s[i] < 0)
            return bp_onnx_node_fail(g, n, "shape entry %d is %lld", i, (long long)s[i]);
        if (s[i] && known > BP_ONNX_MAX_CONST_ELEMS / s[i])
            return bp_onnx_node_fail(g, n, "its shape is too large");
        known *= s[i];
    }
    int64_t total = (int64_t)bp_onnx_numel(x);
    if (infer >= 0) {
        if (!known || total % known)
            return bp_onnx_node_fail(g, n, "cannot infer -1: %lld elements into %lld-sized "
                                     "blocks", (long long)total, (long long)known);
        s[infer] = total / known;
    } else if (known != total) {
        return bp_onnx_node_fail(g, n, "reshape of %lld elements to %lld", (long long)total,
                                 (long long)known);
    }
    *nd = k;
    memcpy(d, s, (size_t)k * sizeof *s);
    return 0;
}

static int bp_onnx_axes_of(bp_onnx_graph *g, const bp_onnx_node *n, int input_idx,
                           int64_t *axes, int max)
{
    /* axes as attribute (older opsets) or as input (newer) */
    int k = bp_onnx_attr_ints(n, "axes", axes, max);
    if (k >= 0)
        return k;
    if (n->n_in > input_idx && n->in[input_idx] >= 0) {
        k = bp_onnx_const_ints(g, n->in[input_idx], axes, max);
        if (k < 0)
            return bp_onnx_node_fail(g, n, "its axes input is not a constant"), -2;
        return k;
    }
    return -1; /* absent */
}

static int bp_onnx_unsqueeze_dims(bp_onnx_graph *g, const bp_onnx_node *n, const bp_onnx_value *x,
                                  int *nd, int64_t *d)
{
    int64_t axes[BP_ONNX_MAX_DIMS];
    int k = bp_onnx_axes_of(g, n, 1, axes, BP_ONNX_MAX_DIMS);
    if (k < 0)
        return k == -2 ? -1 : bp_onnx_node_fail(g, n, "needs axes");
    int r = x->ndim + k;
    if (r > BP_ONNX_MAX_DIMS)
        return bp_onnx_node_fail(g, n, "result has %d dimensions (at most %d)", r,
                                 BP_ONNX_MAX_DIMS);
    int mark[BP_ONNX_MAX_DIMS] = {0};
    for (int i = 0; i < k; i++) {
        int64_t a = bp_onnx_norm_axis(axes[i], r);
        if (a < 0 || a >= r || mark[a])
            return bp_onnx_node_fail(g, n, "bad axis %lld", (long long)axes[i]);
        mark[a] = 1;
    }
    for (int i = 0, j = 0; i < r; i++)
        d[i] = mark[i] ? 1 : x->dims[j++];
    *nd = r;
    return 0;
}

static int bp_onnx_squeeze_dims(bp_onnx_graph *g, const bp_onnx_node *n, const bp_onnx_value *x,
                                int *nd, int64_t *d)
{
    int64_t axes[BP_ONNX_MAX_DIMS];
    int k = bp_onnx_axes_of(g, n, 1, axes, BP_ONNX_MAX_DIMS);
    if (k == -2)
        return -1;
    int mark[BP_ONNX_MAX_DIMS] = {0};
    if (k < 0) {
        for (int i = 0; i < x->ndim; i++)
            mark[i] = x->dims[i] == 1;
    } else {
        for (int i = 0; i < k; i++) {
            int64_t a = bp_onnx_norm_axis(axes[i], x->ndim);
            if (a < 0 || a >= x->ndim || x->dims[a] != 1)
                return bp_onnx_node_fail(g, n, "axis %lld is not a dimension of size 1",
                                         (long long)axes[i]);
            mark[a] = 1;
        }
    }
    int r = 0;
    for (int i = 0; i < x->ndim; i++)
        if (!mark[i])
            d[r++] = x->dims[i];
    *nd = r;
    return 0;
}

static int bp_onnx_transpose_perm(bp_onnx_graph *g, const bp_onnx_node *n, int r, int64_t *perm)
{
    int k = bp_onnx_attr_ints(n, "perm", perm, BP_ONNX_MAX_DIMS);
    if (k < 0) {
        for (int i = 0; i < r; i++)
            perm[i] = r - 1 - i;
        return 0;
    }
    int seen[BP_ONNX_MAX_DIMS] = {0};
    if (k != r)
        return bp_onnx_node_fail(g, n, "perm has %d entries for %d dimensions", k, r);
    for (int i = 0; i < r; i++) {
        if (perm[i] < 0 || perm[i] >= r || seen[perm[i]])
            return bp_onnx_node_fail(g, n, "perm is not a permutation");
        seen[perm[i]] = 1;
    }
    return 0;
}

/* Reduce ops: the reduced axes (mark) and keepdims; noop_with_empty_axes. */
static int bp_onnx_reduce_axes(bp_onnx_graph *g, const bp_onnx_node *n, const bp_onnx_value *x,
                               int *mark)
{
    int64_t axes[BP_ONNX_MAX_DIMS];
    int k = bp_onnx_axes_of(g, n, 1, axes, BP_ONNX_MAX_DIMS);
    if (k == -2)
        return -1;
    for (int i = 0; i < x->ndim; i++)
        mark[i] = k < 0;
    for (int i = 0; i < k; i++) {
        int64_t a = bp_onnx_norm_axis(axes[i], x->ndim);
        if (a < 0 || a >= x->ndim)
            return bp_onnx_node_fail(g, n, "bad axis %lld", (long long)axes[i]);
        mark[a] = 1;
    }
    return 0;
}

/* ---- folding of all-constant nodes ---- */
static int bp_onnx_fold_binary(bp_onnx_graph *g, bp_onnx_node *n)
{
    int ids[3] = {n->in[0], n->in[1], n->n_in > 2 ? n->in[2] : -1};
    int cnt = BP_ONNX_OP(n, "Where") ? 3 : 2;
    for (int i = 0; i < cnt; i++)
        if (ids[i] < 0)
            return bp_onnx_node_fail(g, n, "missing input %d", i);
    int nd;
    int64_t d[BP_ONNX_MAX_DIMS];
    if (bp_onnx_bcast(g, n, ids, cnt, &nd, d))
        return -1;
    int cmp = BP_ONNX_OP(n, "Equal") || BP_ONNX_OP(n, "Less") || BP_ONNX_OP(n, "Greater") ||
              BP_ONNX_OP(n, "And") || BP_ONNX_OP(n, "Or");
    int32_t dt = cmp ? BP_ONNX_BOOL : g->v[ids[cnt == 3 ? 1 : 0]].dtype;
    if (bp_onnx_make_const(g, n->out[0], dt, nd, d))
        return -1;
    const bp_onnx_value *a = &g->v[ids[0]], *b = &g->v[ids[1]];
    const bp_onnx_value *c = cnt == 3 ? &g->v[ids[2]] : NULL;
    bp_onnx_value *o = &g->v[n->out[0]];
    int isint = o->i != NULL;
    int64_t co[BP_ONNX_MAX_DIMS];
    for (size_t k = 0; k < o->n; k++) {
        bp_onnx_coords(k, d, nd, co);
        size_t ka = bp_onnx_boff(a, co, nd), kb = bp_onnx_boff(b, co, nd);
        if (c) {
            size_t kc = bp_onnx_boff(c, co, nd);
            bp_onnx_ccopy(o, k, bp_onnx_cget(a, ka) != 0 ? b : c, bp_onnx_cget(a, ka) != 0 ? kb : kc);
            continue;
        }
        if (isint && !cmp) {
            int64_t x = bp_onnx_cget_i(a, ka), y = bp_onnx_cget_i(b, kb), r = 0;
            if (BP_ONNX_OP(n, "Add")) r = (int64_t)((uint64_t)x + (uint64_t)y);
            else if (BP_ONNX_OP(n, "Sub")) r = (int64_t)((uint64_t)x - (uint64_t)y);
            else if (BP_ONNX_OP(n, "Mul")) r = (int64_t)((uint64_t)x * (uint64_t)y);
            else if (BP_ONNX_OP(n, "Div")) {
                if (!y || (x == INT64_MIN && y == -1))
                    return bp_onnx_node_fail(g, n, "integer division by zero or overflow");
                r = x / y;
            } else if (BP_ONNX_OP(n, "Max")) r = x > y ? x : y;
            else if (BP_ONNX_OP(n, "Min")) r = x < y ? x : y;
            else if (BP_ONNX_OP(n, "Mod")) {
                if (!y || (x == INT64_MIN && y == -1))
                    return bp_onnx_node_fail(g, n, "integer modulo by zero");
                r = x % y;
                if (r && ((r < 0) != (y < 0)) && !bp_onnx_attr_int(n, "fmod", 0))
                    r += y;
            } else if (BP_ONNX_OP(n, "Pow")) {
                double p = pow((double)x, (double)y);
                r = fabs(p) < 9.2e18 ? (int64_t)p : 0;
            }
            o->i[k] = r;
            continue;
        }
        double x = bp_onnx_cget(a, ka), y = bp_onnx_cget(b, kb), r = 0;
        if (BP_ONNX_OP(n, "Add")) r = (float)x + (float)y;
        else if (BP_ONNX_OP(n, "Sub")) r = (float)x - (float)y;
        else if (BP_ONNX_OP(n, "Mul")) r = (float)x * (float)y;
        else if (BP_ONNX_OP(n, "Div")) r = (float)x / (float)y;
        else if (BP_ONNX_OP(n, "Pow")) r = powf((float)x, (float)y);
        else if (BP_ONNX_OP(n, "Max")) r = x > y ? x : y;
        else if (BP_ONNX_OP(n, "Min")) r = x < y ? x : y;
        else if (BP_ONNX_OP(n, "Mod")) r = fmod(x, y);
        else if (BP_ONNX_OP(n, "Equal")) r = x == y;
        else if (BP_ONNX_OP(n, "Less")) r = x < y;
        else if (BP_ONNX_OP(n, "Greater")) r = x > y;
        else if (BP_ONNX_OP(n, "And")) r = x != 0 && y != 0;
        else if (BP_ONNX_OP(n, "Or")) r = x != 0 || y != 0;
        bp_onnx_cset(o, k, r);
    }
    return 0;
}

static int bp_onnx_fold_unary(bp_onnx_graph *g, bp_onnx_node *n)
{
    const bp_onnx_value *x = &g->v[n->in[0]];
    if (bp_onnx_make_const(g, n->out[0], x->dtype, x->ndim, x->dims))
        return -1;
    x = &g->v[n->in[0]];
    bp_onnx_value *o = &g->v[n->out[0]];
    for (size_t k = 0; k < o->n; k++) {
        if (o->i) {
            int64_t v = x->i[k];
            if (BP_ONNX_OP(n, "Neg")) v = (int64_t)(0 - (uint64_t)v);
            else if (BP_ONNX_OP(n, "Abs")) v = v < 0 ? (int64_t)(0 - (uint64_t)v) : v;
            else if (BP_ONNX_OP(n, "Not")) v = !v;
            o->i[k] = v;
            continue;
        }
        float v = x->f[k];
        if (BP_ONNX_OP(n, "Neg")) v = -v;
        else if (BP_ONNX_OP(n, "Abs")) v = fabsf(v);
        else if (BP_ONNX_OP(n, "Sqrt")) v = sqrtf(v);
        else if (BP_ONNX_OP(n, "Reciprocal")) v = 1.0f / v;
        else if (BP_ONNX_OP(n, "Floor")) v = floorf(v);
        else if (BP_ONNX_OP(n, "Ceil")) v = ceilf(v);
        else if (BP_ONNX_OP(n, "Exp")) v = expf(v);
        else if (BP_ONNX_OP(n, "Erf")) v = erff(v);
        else if (BP_ONNX_OP(n, "Relu")) v = v > 0 ? v : 0;
        o->f[k] = v;
    }
    return 0;
}

static int bp_onnx_fold_cast(bp_onnx_graph *g, bp_onnx_node *n)
{
    int32_t to = (int32_t)bp_onnx_attr_int(n, "to", 0);
    const bp_onnx_value *x = &g->v[n->in[0]];
    if (!bp_onnx_is_float(to) && !bp_onnx_is_int(to))
        return bp_onnx_node_fail(g, n, "cast to %s is not supported", bp_onnx_dtype_name(to));
    if (bp_onnx_make_const(g, n->out[0], bp_onnx_is_float(to) ? BP_ONNX_FLOAT : to, x->ndim,
                           x->dims))
        return -1;
    x = &g->v[n->in[0]];
    bp_onnx_value *o = &g->v[n->out[0]];
    for (size_t k = 0; k < o->n; k++) {
        if (o->f)
            o->f[k] = x->f ? x->f[k] : (float)x->i[k];
        else if (to == BP_ONNX_BOOL)
            o->i[k] = bp_onnx_cget(x, k) != 0;
        else if (x->i)
            o->i[k] = x->i[k];
        else {
            double f = x->f[k];
            o->i[k] = isfinite(f) && fabs(f) < 9.2e18 ? (int64_t)f : 0;
        }
    }
    return 0;
}

static int bp_onnx_fold_gather(bp_onnx_graph *g, bp_onnx_node *n)
{
    const bp_onnx_value *x = &g->v[n->in[0]], *ix = &g->v[n->in[1]];
    if (!ix->i)
        return bp_onnx_node_fail(g, n, "indices must be integers");
    int64_t axis = bp_onnx_norm_axis(bp_onnx_attr_int(n, "axis", 0), x->ndim);
    if (axis < 0 || axis >= x->ndim)
        return bp_onnx_node_fail(g, n, "axis out of range");
    int nd = x->ndim - 1 + ix->ndim;
    if (nd > BP_ONNX_MAX_DIMS)
        return bp_onnx_node_fail(g, n, "result has too many dimensions");
    int64_t d[BP_ONNX_MAX_DIMS];
    int r = 0;
    for (int i = 0; i < axis; i++) d[r++] = x->dims[i];
    for (int i = 0; i < ix->ndim; i++) d[r++] = ix->dims[i];
    for (int i = (int)axis + 1; i < x->ndim; i++) d[r++] = x->dims[i];
    if (bp_onnx_make_const(g, n->out[0], x->dtype, nd, d))
        return -1;
    x = &g->v[n->in[0]];
    ix = &g->v[n->in[1]];
    bp_onnx_value *o = &g->v[n->out[0]];
    size_t outer = 1, inner = 1, dim = (size_t)x->dims[axis];
    for (int i = 0; i < axis; i++) outer *= (size_t)x->dims[i];
    for (int i = (int)axis + 1; i < x->ndim; i++) inner *= (size_t)x->dims[i];
    size_t k = 0;
    for (size_t a = 0; a < outer; a++)
        for (size_t j = 0; j < ix->n; j++) {
            int64_t id = ix->i[j] < 0 ? ix->i[j] + (int64_t)dim : ix->i[j];
            if (id < 0 || (size_t)id >= dim)
                return bp_onnx_node_fail(g, n, "index %lld out of range 0..%zu",
                                         (long long)ix->i[j], dim);
            for (size_t b = 0; b < inner; b++)
                bp_onnx_ccopy(o, k++, x, (a * dim + (size_t)id) * inner + b);
        }
    return 0;
}

static int bp_onnx_fold_slice(bp_onnx_graph *g, bp_onnx_node *n)
{
    const bp_onnx_value *x = &g->v[n->in[0]];
    int64_t st[BP_ONNX_MAX_DIMS], en[BP_ONNX_MAX_DIMS], ax[BP_ONNX_MAX_DIMS], sp[BP_ONNX_MAX_DIMS];
    int k, ke, ka, ks;
    if (g->opset < 10) {
        k = bp_onnx_attr_ints(n, "starts", st, BP_ONNX_MAX_DIMS);
        ke = bp_onnx_attr_ints(n, "ends", en, BP_ONNX_MAX_DIMS);
        ka = bp_onnx_attr_ints(n, "axes", ax, BP_ONNX_MAX_DIMS);
        ks = -1;
    } else {
        k = bp_onnx_const_ints(g, n->in[1], st, BP_ONNX_MAX_DIMS);
        ke = n->n_in > 2 ? bp_onnx_const_ints(g, n->in[2], en, BP_ONNX_MAX_DIMS) : -1;
        ka = n->n_in > 3 && n->in[3] >= 0 ? bp_onnx_const_ints(g, n->in[3], ax, BP_ONNX_MAX_DIMS)
                                          : -1;
        ks = n->n_in > 4 && n->in[4] >= 0 ? bp_onnx_const_ints(g, n->in[4], sp, BP_ONNX_MAX_DIMS)
                                          : -1;
    }
    if (k < 0 || ke != k || (ka >= 0 && ka != k) || (ks >= 0 && ks != k))
        return bp_onnx_node_fail(g, n, "starts/ends/axes/steps are missing or differ in length");
    int64_t lo[BP_ONNX_MAX_DIMS], step[BP_ONNX_MAX_DIMS], d[BP_ONNX_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) {
        lo[i] = 0;
        step[i] = 1;
        d[i] = x->dims[i];
    }
    for (int i = 0; i < k; i++) {
        int64_t a = bp_onnx_norm_axis(ka >= 0 ? ax[i] : i, x->ndim);
        int64_t s = ks >= 0 ? sp[i] : 1;
        if (a < 0 || a >= x->ndim || s == 0 || s == INT64_MIN)
            return bp_onnx_node_fail(g, n, "bad axis or zero step");
        int64_t dim = x->dims[a];
        int64_t b = st[i], e = en[i];
        if (b < 0) b += dim;
        if (e < 0) e += dim;
        if (s > 0) {
            b = b < 0 ? 0 : b > dim ? dim : b;
            e = e < 0 ? 0 : e > dim ? dim : e;
            d[a] = e > b ? (e - b + s - 1) / s : 0;
        } else {
            b = b < 0 ? -1 : b > dim - 1 ? dim - 1 : b;
            e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
            d[a] = b > e ? (b - e + (-s) - 1) / (-s) : 0;
        }
        lo[a] = b;
        step[a] = s;
    }
    if (bp_onnx_make_const(g, n->out[0], x->dtype, x->ndim, d))
        return -1;
    x = &g->v[n->in[0]];
    bp_onnx_value *o = &g->v[n->out[0]];
    int64_t c[BP_ONNX_MAX_DIMS];
    for (size_t q = 0; q < o->n; q++) {
        bp_onnx_coords(q, d, x->ndim, c);
        size_t off = 0;
        for (int i = 0; i < x->ndim; i++)
            off = off * (size_t)x->dims[i] + (size_t)(lo[i] + c[i] * step[i]);
        bp_onnx_ccopy(o, q, x, off);
    }
    return 0;
}

static int bp_onnx_fold_concat(bp_onnx_graph *g, bp_onnx_node *n)
{
    const bp_onnx_value *x0 = &g->v[n->in[0]];
    int r = x0->ndim;
    int64_t axis = bp_onnx_norm_axis(bp_onnx_attr_int(n, "axis", 0), r);
    if (axis < 0 || axis >= r)
        return bp_onnx_node_fail(g, n, "axis out of range");
    int64_t d[BP_ONNX_MAX_DIMS];
    memcpy(d, x0->dims, (size_t)r * sizeof *d);
    d[axis] = 0;
    int anyf = 0;
    for (int i = 0; i < n->n_in; i++) {
        const bp_onnx_value *x = &g->v[n->in[i]];
        if (x->ndim != r)
            return bp_onnx_node_fail(g, n, "inputs differ in rank");
        for (int j = 0; j < r; j++)
            if (j != axis && x->dims[j] != x0->dims[j])
                return bp_onnx_node_fail(g, n, "inputs differ in dimension %d", j);
        d[axis] += x->dims[axis];
        anyf |= x->f != NULL;
    }
    if (bp_onnx_make_const(g, n->out[0], anyf ? BP_ONNX_FLOAT : x0->dtype, r, d))
        return -1;
    bp_onnx_value *o = &g->v[n->out[0]];
    size_t outer = 1, inner = 1;
    for (int j = 0; j < axis; j++) outer *= (size_t)d[j];
    for (int j = (int)axis + 1; j < r; j++) inner *= (size_t)d[j];
    size_t q = 0;
    for (size_t a = 0; a < outer; a++)
        for (int i = 0; i < n->n_in; i++) {
            const bp_onnx_value *x = &g->v[n->in[i]];
            size_t blk = (size_t)x->dims[axis] * inner;
            for (size_t b = 0; b < blk; b++)
                bp_onnx_ccopy(o, q++, x, a * blk + b);
        }
    return 0;
}

static int bp_onnx_fold_transpose(bp_onnx_graph *g, bp_onnx_node *n)
{
    const bp_onnx_value *x = &g->v[n->in[0]];
    int r = x->ndim;
    int64_t perm[BP_ONNX_MAX_DIMS], d[BP_ONNX_MAX_DIMS], c[BP_ONNX_MAX_DIMS];
    if (bp_onnx_transpose_perm(g, n, r, perm))
        return -1;
    for (int i = 0; i < r; i++)
        d[i] = x->dims[perm[i]];
    if (bp_onnx_make_const(g, n->out[0], x->dtype, r, d))
        return -1;
    x = &g->v[n->in[0]];
    bp_onnx_value *o = &g->v[n->out[0]];
    for (size_t q = 0; q < o->n; q++) {
        bp_onnx_coords(q, d, r, c);
        int64_t xc[BP_ONNX_MAX_DIMS];
        for (int i = 0; i < r; i++)
            xc[perm[i]] = c[i];
        size_t off = 0;
        for (int i = 0; i < r; i++)
            off = off * (size_t)x->dims[i] + (size_t)xc[i];
        bp_onnx_ccopy(o, q, x, off);
    }
    return 0;
}

static int bp_onnx_fold_expand(bp_onnx_graph *g, bp_onnx_node *n)
{
    int64_t s[BP_ONNX_MAX_DIMS];
    int k = bp_onnx_const_ints(g, n->in[1], s, BP_ONNX_MAX_DIMS);
    if (k < 0)
        return bp_onnx_node_fail(g, n, "shape must be a constant");
    const bp_onnx_value *x = &g->v[n->in[0]];
    int nd = k > x->ndim ? k : x->ndim;
    int64_t d[BP_ONNX_MAX_DIMS], c[BP_ONNX_MAX_DIMS];
    for (int i = 0; i < nd; i++) {
        int ix = i - (nd - x->ndim), is = i - (nd - k);
        int64_t a = ix >= 0 ? x->dims[ix] : 1, b = is >= 0 ? s[is] : 1;
        if (a != b && a != 1 && b != 1)
            return bp_onnx_node_fail(g, n, "shape does not broadcast");
        d[i] = a == 1 ? b : a;
    }
    if (bp_onnx_make_const(g, n->out[0], x->dtype, nd, d))
        return -1;
    x = &g->v[n->in[0]];
    bp_onnx_value *o = &g->v[n->out[0]];
    for (size_t q = 0; q < o->n; q++) {
        bp_onnx_coords(q, d, nd, c);
        bp_onnx_ccopy(o, q, x, bp_onnx_boff(x, c, nd));
    }
    return 0;
}

/* DequantizeLinear of a constant: the float value, and the integer tensor
 * (x - zero point) with its per-axis scale kept exactly. */
static int bp_onnx_fold_dequant(bp_onnx_graph *g, bp_onnx_node *n)
{
    const bp_onnx_value *x = &g->v[n->in[0]], *s = &g->v[n->in[1]];
    const bp_onnx_value *z = n->n_in > 2 && n->in[2] >= 0 ? &g->v[n->in[2]] : NULL;
    if (!x->i || !s->f || (z && !z->i))
        return bp_onnx_node_fail(g, n, "needs an integer input, a float scale and an integer "
                                 "zero point");
    int64_t axis = 0;
    size_t ns = s->n;
    if (ns > 1) { /* per axis; one scale (any shape) is per tensor */
        axis = bp_onnx_norm_axis(bp_onnx_attr_int(n, "axis", 1), x->ndim);
        if (s->ndim != 1 || axis < 0 || axis >= x->ndim || x->dims[axis] != (int64_t)ns)
            return bp_onnx_node_fail(g, n, "scale has %zu entries, input axis %lld has %lld",
                                     ns, (long long)axis,
                                     axis >= 0 && axis < x->ndim ? (long long)x->dims[axis] : -1ll);
    }
    if (z && z->n != ns)
        return bp_onnx_node_fail(g, n, "zero point has %zu entries, scale %zu", z->n, ns);
    if (bp_onnx_set_const_f(g, n->out[0], x->ndim, x->dims))
        return -1;
    x = &g->v[n->in[0]];
    s = &g->v[n->in[1]];
    z = n->n_in > 2 && n->in[2] >= 0 ? &g->v[n->in[2]] : NULL;
    bp_onnx_value *o = &g->v[n->out[0]];
    bp_onnx_qw *qw = calloc(1, sizeof *qw);
    if (!qw)
        return bp_onnx_fail(g, "out of memory");
    o->qw = qw;
    qw->q = malloc((o->n ? o->n : 1) * sizeof *qw->q);
    qw->scale = malloc(ns * sizeof *qw->scale);
    if (!qw->q || !qw->scale)
        return bp_onnx_fail(g, "out of memory");
    qw->n_scale = ns;
    qw->axis = (int)axis;
    memcpy(qw->scale, s->f, ns * sizeof *qw->scale);
    size_t inner = 1;
    if (ns > 1)
        for (int i = (int)axis + 1; i < x->ndim; i++)
            inner *= (size_t)x->dims[i];
    for (size_t k = 0; k < o->n; k++) {
        size_t c = ns > 1 ? (k / inner) % ns : 0;
        qw->q[k] = (int64_t)((uint64_t)x->i[k] - (uint64_t)(z ? z->i[c] : 0));
        o->f[k] = (float)qw->q[k] * s->f[c];
    }
    return 0;
}

static int bp_onnx_fold_constant_of_shape(bp_onnx_graph *g, bp_onnx_node *n)
{
    int64_t d[BP_ONNX_MAX_DIMS];
    int k = bp_onnx_const_ints(g, n->in[0], d, BP_ONNX_MAX_DIMS);
    if (k < 0)
        return bp_onnx_node_fail(g, n, "shape must be a constant of at most %d entries",
                                 BP_ONNX_MAX_DIMS);
    const Onnx__AttributeProto *a = bp_onnx_attr(n, "value");
    float fv = 0;
    int64_t iv = 0;
    int32_t dt = BP_ONNX_FLOAT;
    if (a && a->t) {
        int tmp = bp_onnx_value_new(g, "");
        if (tmp < 0 || bp_onnx_tensor_to_const(g, a->t, tmp, n->name))
            return -1;
        const bp_onnx_value *t = &g->v[tmp];
        if (t->n != 1)
            return bp_onnx_node_fail(g, n, "value must hold one element");
        dt = t->dtype;
        if (t->f) fv = t->f[0];
        else iv = t->i[0];
    }
    if (bp_onnx_make_const(g, n->out[0], dt, k, d))
        return -1;
    bp_onnx_value *o = &g->v[n->out[0]];
    for (size_t q = 0; q < o->n; q++) {
        if (o->f) o->f[q] = fv;
        else o->i[q] = iv;
    }
    return 0;
}

static int bp_onnx_fold_range(bp_onnx_graph *g, bp_onnx_node *n)
{
    const bp_onnx_value *a = &g->v[n->in[0]], *b = &g->v[n->in[1]], *c = &g->v[n->in[2]];
    if (a->n != 1 || b->n != 1 || c->n != 1)
        return bp_onnx_node_fail(g, n, "start, limit and delta must be scalars");
    double s = bp_onnx_cget(a, 0), l = bp_onnx_cget(b, 0), dl = bp_onnx_cget(c, 0);
    if (dl == 0)
        return bp_onnx_node_fail(g, n, "delta is 0");
    double cnt = ceil((l - s) / dl);
    if (!(cnt < (double)BP_ONNX_MAX_FOLD_ELEMS))
        return bp_onnx_node_fail(g, n, "range is too long");
    int64_t d = cnt > 0 ? (int64_t)cnt : 0;
    if (bp_onnx_make_const(g, n->out[0], a->dtype, 1, &d))
        return -1;
    bp_onnx_value *o = &g->v[n->out[0]];
    for (int64_t q = 0; q < d; q++)
        bp_onnx_cset(o, (size_t)q, s + (double)q * dl);
    return 0;
}

static int bp_onnx_fold_quant(bp_onnx_graph *g, bp_onnx_node *n)
{
    const bp_onnx_value *x = &g->v[n->in[0]], *s = &g->v[n->in[1]];
    const bp_onnx_value *z = n->n_in > 2 && n->in[2] >= 0 ? &g->v[n->in[2]] : NULL;
    if (!s->f || s->n != 1 || (z && (z->n != 1 || !z->i)))
        return bp_onnx_node_fail(g, n, "constant input with a per-axis scale is not folded");
    int32_t dt = z ? z->dtype : BP_ONNX_UINT8;
    int64_t zp = z ? z->i[0] : 0;
    int64_t lo = dt == BP_ONNX_INT8 ? -128 : 0, hi = dt == BP_ONNX_INT8 ? 127 : 255;
    if (bp_onnx_set_const_i(g, n->out[0], dt, x->ndim, x->dims))
        return -1;
    x = &g->v[n->in[0]];
    s = &g->v[n->in[1]];
    bp_onnx_value *o = &g->v[n->out[0]];
    for (size_t q = 0; q < o->n; q++) {
        double v = nearbyint(bp_onnx_cget(x, q) / s->f[0]) + (double)zp;
        o->i[q] = v != v ? zp : v < lo ? lo : v > hi ? hi : (int64_t)v;
    }
    return 0;
}

/* Returns 1 if folded, 0 if the op is not folded here, -1 on failure. */
static int bp_onnx_try_fold(bp_onnx_graph *g, bp_onnx_node *n)
{
    const char *op = n->op;
    if (n->n_out < 1 || n->out[0] < 0)
        return 0;
    if (!strcmp(op, "Shape")) {
        const bp_onnx_value *x = n->in[0] >= 0 ? &g->v[n->in[0]] : NULL;
        if (!x || x->ndim < 0)
            return 0;
        int64_t r = x->ndim, b = bp_onnx_attr_int(n, "start", 0), e = bp_onnx_attr_int(n, "end", r);
        b = b < 0 ? b + r : b;
        e = e < 0 ? e + r : e;
        b = b < 0 ? 0 : b > r ? r : b;
        e = e < 0 ? 0 : e > r ? r : e;
        int64_t d = e > b ? e - b : 0;
        if (bp_onnx_set_const_i(g, n->out[0], BP_ONNX_INT64, 1, &d))
            return -1;
        for (int64_t i = 0; i < d; i++)
            g->v[n->out[0]].i[i] = g->v[n->in[0]].dims[b + i];
        return 1;
    }
    if (!strcmp(op, "Size")) {
        const bp_onnx_value *x = n->in[0] >= 0 ? &g->v[n->in[0]] : NULL;
        if (!x || x->ndim < 0)
            return 0;
        if (bp_onnx_set_const_i(g, n->out[0], BP_ONNX_INT64, 0, NULL))
            return -1;
        g->v[n->out[0]].i[0] = (int64_t)bp_onnx_numel(&g->v[n->in[0]]);
        return 1;
    }
    /* inputs each folding rule reads unconditionally */
    static const struct { const char *op; int need; } req[] = {
        {"Gather", 2}, {"Slice", 2}, {"Expand", 2}, {"Range", 3}, {"DequantizeLinear", 2},
        {"QuantizeLinear", 2}, {"Reshape", 2}, {"ConstantOfShape", 1}, {NULL, 0}};
    int need = 1;
    for (int i = 0; req[i].op; i++)
        if (!strcmp(op, req[i].op))
            need = req[i].need;
    if (n->n_in < need)
        return 0;
    for (int k = 0; k < need; k++)
        if (n->in[k] < 0)
            return 0;
    if (!strcmp(op, "Concat"))
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] < 0)
                return 0;
    int nin = 0;
    for (int k = 0; k < n->n_in; k++) {
        if (n->in[k] < 0)
            continue;
        if (!g->v[n->in[k]].is_const)
            return 0;
        nin++;
    }
    if (!nin && strcmp(op, "ConstantOfShape"))
        return 0;
    static const char *const binary[] = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min",
                                         "Equal", "Less", "Greater", "Where", "Mod", "And",
                                         "Or", NULL};
    for (int i = 0; binary[i]; i++)
        if (!strcmp(op, binary[i])) {
            if (n->n_in < 2 || n->in[0] < 0 || n->in[1] < 0)
                return 0;
            return bp_onnx_fold_binary(g, n) ? -1 : 1;
        }
    static const char *const unary[] = {"Neg", "Abs", "Sqrt", "Reciprocal", "Floor", "Ceil",
                                        "Exp", "Erf", "Relu", "Not", NULL};
    for (int i = 0; unary[i]; i++)
        if (!strcmp(op, unary[i])) {
            if (!strcmp(op, "Not") ? !g->v[n->in[0]].i
                                   : (!g->v[n->in[0]].f && strcmp(op, "Neg") && strcmp(op, "Abs")))
                return 0;
            return bp_onnx_fold_unary(g, n) ? -1 : 1;
        }
    int64_t d[BP_ONNX_MAX_DIMS];
    int nd;
    const bp_onnx_value *x = n->in[0] >= 0 ? &g->v[n->in[0]] : NULL;
    if (!strcmp(op, "Identity") || !strcmp(op, "Dropout")) {
        if (n->n_out > 1 && n->out[1] >= 0)
            return 0;
        return bp_onnx_same_const(g, n->out[0], n->in[0], x->ndim, x->dims) ? -1 : 1;
    }
    if (!strcmp(op, "Cast"))
        return bp_onnx_fold_cast(g, n) ? -1 : 1;
    if (!strcmp(op, "Gather") && n->n_in == 2)
        return bp_onnx_fold_gather(g, n) ? -1 : 1;
    if (!strcmp(op, "Slice"))
        return bp_onnx_fold_slice(g, n) ? -1 : 1;
    if (!strcmp(op, "Concat"))
        return bp_onnx_fold_concat(g, n) ? -1 : 1;
    if (!strcmp(op, "Transpose"))
        return bp_onnx_fold_transpose(g, n) ? -1 : 1;
    if (!strcmp(op, "Expand") && n->n_in == 2)
        return bp_onnx_fold_expand(g, n) ? -1 : 1;
    if (!strcmp(op, "ConstantOfShape"))
        return bp_onnx_fold_constant_of_shape(g, n) ? -1 : 1;
    if (!strcmp(op, "Range") && n->n_in == 3)
        return bp_onnx_fold_range(g, n) ? -1 : 1;
    if (!strcmp(op, "DequantizeLinear"))
        return bp_onnx_fold_dequant(g, n) ? -1 : 1;
    if (!strcmp(op, "QuantizeLinear"))
        return bp_onnx_fold_quant(g, n) ? -1 : 1;
    if (!strcmp(op, "Reshape")) {
        if (n->n_in < 2 || bp_onnx_reshape_dims(g, n, x, n->in[1], &nd, d))
            return -1;
        return bp_onnx_same_const(g, n->out[0], n->in[0], nd, d) ? -1 : 1;
    }
    if (!strcmp(op, "Unsqueeze")) {
        if (bp_onnx_unsqueeze_dims(g, n, x, &nd, d))
            return -1;
        return bp_onnx_same_const(g, n->out[0], n->in[0], nd, d) ? -1 : 1;
    }
    if (!strcmp(op, "Squeeze")) {
        if (bp_onnx_squeeze_dims(g, n, x, &nd, d))
            return -1;
        return bp_onnx_same_const(g, n->out[0], n->in[0], nd, d) ? -1 : 1;
    }
    if (!strcmp(op, "Flatten")) {
        int64_t a = bp_onnx_norm_axis(bp_onnx_attr_int(n, "axis", 1), x->ndim);
        if (a < 0 || a > x->ndim)
            return bp_onnx_node_fail(g, n, "axis out of range");
        d[0] = d[1] = 1;
        for (int i = 0; i < x->ndim; i++)
            d[i >= a] *= x->dims[i];
        return bp_onnx_same_const(g, n->out[0], n->in[0], 2, d) ? -1 : 1;
    }
    return 0;
}

int bp_onnx_pad_amounts(const bp_onnx_graph *g, const bp_onnx_node *n, int rank, int64_t *pads)
{
    const Onnx__AttributeProto *m = bp_onnx_attr(n, "mode");
    if (m && m->has_s && !(m->s.len == 8 && !memcmp(m->s.data, "constant", 8)))
        return -1;
    float value = 0.0f;
    int k;
    if (g->opset < 11) {
        k = bp_onnx_attr_ints(n, "pads", pads, 2 * BP_ONNX_MAX_DIMS);
        value = bp_onnx_attr_float(n, "value", 0.0f);
    } else {
        k = n->n_in > 1 ? bp_onnx_const_ints(g, n->in[1], pads, 2 * BP_ONNX_MAX_DIMS) : -1;
        if (n->n_in > 2 && n->in[2] >= 0) {
            const bp_onnx_value *c = &g->v[n->in[2]];
            if (!c->is_const || c->n != 1)
                return -1;
            value = c->f ? c->f[0] : (float)c->i[0];
        }
        if (n->n_in > 3 && n->in[3] >= 0)
            return -1; /* axes (opset 18): not read */
    }
    if (k != 2 * rank || value != 0.0f)
        return -1;
    for (int i = 0; i < k; i++)
        if (pads[i] < 0 || pads[i] > 1024)
            return -1;
    return 0;
}

/* ---- shape inference of nodes on activations ---- */
static int bp_onnx_is_unary_same(const char *op)
{
    static const char *const ops[] = {
        "Relu", "Erf", "Sqrt", "Sigmoid", "Tanh", "Exp", "Log", "Neg", "Abs", "Clip",
        "LeakyRelu", "HardSigmoid", "HardSwish", "Softplus", "Softsign", "Elu", "Selu",
        "Reciprocal", "Floor", "Ceil", "Round", "Identity", "Softmax", "LogSoftmax", "Gelu",
        "PRelu", "InstanceNormalization", "LRN", "Mish", "Sin", "Cos", "Celu", NULL};
    for (int i = 0; ops[i]; i++)
        if (!strcmp(op, ops[i]))
            return 1;
    return 0;
}

static int bp_onnx_infer(bp_onnx_graph *g, bp_onnx_node *n)
{
    const char *op = n->op;
    const bp_onnx_value *x = n->n_in > 0 && n->in[0] >= 0 ? &g->v[n->in[0]] : NULL;
    if (!x || x->ndim < 0 || n->n_out < 1)
        return 0; /* unknown: stays unknown */
    int64_t d[BP_ONNX_MAX_DIMS];
    int nd;
    int y = n->out[0];
    if (bp_onnx_is_unary_same(op) || !strcmp(op, "Dropout") ||
        !strcmp(op, "BatchNormalization") || !strcmp(op, "LayerNormalization"))
        return bp_onnx_copy_shape(g, y, n->in[0]);
    if (!strcmp(op, "Cast")) {
        int32_t to = (int32_t)bp_onnx_attr_int(n, "to", 0);
        return bp_onnx_set_shape_only(g, y, to, x->ndim, x->dims);
    }
    if (!strcmp(op, "QuantizeLinear")) {
        int32_t dt = n->n_in > 2 && n->in[2] >= 0 ? g->v[n->in[2]].dtype : BP_ONNX_UINT8;
        return bp_onnx_set_shape_only(g, y, dt, x->ndim, x->dims);
    }
    if (!strcmp(op, "DequantizeLinear"))
        return bp_onnx_set_shape_only(g, y, BP_ONNX_FLOAT, x->ndim, x->dims);
    static const char *const binary[] = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min",
                                         "Sum", "Mean", "Where", "Equal", "Less", "Greater",
                                         NULL};
    for (int i = 0; binary[i]; i++)
        if (!strcmp(op, binary[i])) {
            int ids[BP_ONNX_MAX_DIMS];
            int cnt = 0;
            for (int k = 0; k < n->n_in && cnt < BP_ONNX_MAX_DIMS; k++) {
                if (n->in[k] < 0 || g->v[n->in[k]].ndim < 0)
                    return 0;
                ids[cnt++] = n->in[k];
            }
            if (bp_onnx_bcast(g, n, ids, cnt, &nd, d))
                return -1;
            int32_t dt = !strcmp(op, "Equal") || !strcmp(op, "Less") || !strcmp(op, "Greater")
                             ? BP_ONNX_BOOL
                             : g->v[ids[!strcmp(op, "Where") ? 1 : 0]].dtype;
            return bp_onnx_set_shape_only(g, y, dt, nd, d);
        }
    if (!strcmp(op, "Conv") || !strcmp(op, "MaxPool") || !strcmp(op, "AveragePool")) {
        bp_onnx_geom gm;
        if (x->ndim != 4)
            return 0;
        if (!strcmp(op, "Conv")) {
            if (n->n_in < 2 || n->in[1] < 0 || g->v[n->in[1]].ndim != 4)
                return 0;
            if (bp_onnx_conv_geom(g, n, x->dims, g->v[n->in[1]].dims, &gm))
                return -1;
            d[1] = g->v[n->in[1]].dims[0];
        } else {
            if (bp_onnx_pool_geom(g, n, x->dims, &gm))
                return -1;
            d[1] = x->dims[1];
        }
        d[0] = x->dims[0];
        d[2] = gm.oh;
        d[3] = gm.ow;
        return bp_onnx_set_shape_only(g, y, BP_ONNX_FLOAT, 4, d);
    }
    if (!strcmp(op, "GlobalAveragePool") || !strcmp(op, "GlobalMaxPool")) {
        nd = x->ndim;
        for (int i = 0; i < nd; i++)
            d[i] = i < 2 ? x->dims[i] : 1;
        return bp_onnx_set_shape_only(g, y, x->dtype, nd, d);
    }
    if (!strncmp(op, "Reduce", 6)) {
        int mark[BP_ONNX_MAX_DIMS];
        if (bp_onnx_reduce_axes(g, n, x, mark))
            return -1;
        int keep = (int)bp_onnx_attr_int(n, "keepdims", 1);
        nd = 0;
        for (int i = 0; i < x->ndim; i++)
            if (!mark[i])
                d[nd++] = x->dims[i];
            else if (keep)
                d[nd++] = 1;
        return bp_onnx_set_shape_only(g, y, x->dtype, nd, d);
    }
    if (!strcmp(op, "Flatten")) {
        int64_t a = bp_onnx_norm_axis(bp_onnx_attr_int(n, "axis", 1), x->ndim);
        if (a < 0 || a > x->ndim)
            return bp_onnx_node_fail(g, n, "axis out of range");
        d[0] = d[1] = 1;
        for (int i = 0; i < x->ndim; i++)
            d[i >= a] *= x->dims[i];
        return bp_onnx_set_shape_only(g, y, x->dtype, 2, d);
    }
    if (!strcmp(op, "Reshape")) {
        if (n->n_in < 2 || bp_onnx_reshape_dims(g, n, x, n->in[1], &nd, d))
            return -1;
        return bp_onnx_set_shape_only(g, y, x->dtype, nd, d);
    }
    if (!strcmp(op, "Unsqueeze")) {
        if (bp_onnx_unsqueeze_dims(g, n, x, &nd, d))
            return -1;
        return bp_onnx_set_shape_only(g, y, x->dtype, nd, d);
    }
    if (!strcmp(op, "Squeeze")) {
        if (bp_onnx_squeeze_dims(g, n, x, &nd, d))
            return -1;
        return bp_onnx_set_shape_only(g, y, x->dtype, nd, d);
    }
    if (!strcmp(op, "Pad")) {
        int64_t p[2 * BP_ONNX_MAX_DIMS];
        if (bp_onnx_pad_amounts(g, n, x->ndim, p))
            return 0; /* left unknown: the mapper rejects it */
        for (int i = 0; i < x->ndim; i++)
            d[i] = x->dims[i] + p[i] + p[i + x->ndim];
        return bp_onnx_set_shape_only(g, y, x->dtype, x->ndim, d);
    }
    if (!strcmp(op, "Transpose")) {
        int64_t perm[BP_ONNX_MAX_DIMS];
        if (bp_onnx_transpose_perm(g, n, x->ndim, perm))
            return -1;
        for (int i = 0; i < x->ndim; i++)
            d[i] = x->dims[perm[i]];
        return bp_onnx_set_shape_only(g, y, x->dtype, x->ndim, d);
    }
    if (!strcmp(op, "Concat")) {
        int64_t a = bp_onnx_norm_axis(bp_onnx_attr_int(n, "axis", 0), x->ndim);
        if (a < 0 || a >= x->ndim)
            return bp_onnx_node_fail(g, n, "axis out of range");
        nd = x->ndim;
        memcpy(d, x->dims, (size_t)nd * sizeof *d);
        d[a] = 0;
        for (int k = 0; k < n->n_in; k++) {
            const bp_onnx_value *v = n->in[k] >= 0 ? &g->v[n->in[k]] : NULL;
            if (!v || v->ndim != nd)
                return 0; /* unknown, or the mapper's message */
            for (int i = 0; i < nd; i++)
                if (i != a && v->dims[i] != x->dims[i])
                    return bp_onnx_node_fail(g, n, "input %d differs in dimension %d", k, i);
            d[a] += v->dims[a];
        }
        return bp_onnx_set_shape_only(g, y, x->dtype, nd, d);
    }
    if (!strcmp(op, "Resize") && x->ndim == 4) {
        /* opset 10: (X, scales); 11+: (X, roi, scales, sizes) */
        int si = g->opset < 11 ? 1 : 2, zi = 3;
        const bp_onnx_value *sc = n->n_in > si && n->in[si] >= 0 ? &g->v[n->in[si]] : NULL;
        const bp_onnx_value *sz = n->n_in > zi && n->in[zi] >= 0 ? &g->v[n->in[zi]] : NULL;
        if (sz && sz->is_const && sz->i && sz->n == 4) {
            for (int i = 0; i < 4; i++)
                d[i] = sz->i[i];
        } else if (sc && sc->is_const && sc->f && sc->n == 4) {
            for (int i = 0; i < 4; i++) {
                double o = floor((double)x->dims[i] * (double)sc->f[i]);
                if (!(o >= 0.0 && o <= (double)BP_ONNX_MAX_ACT_ELEMS))
                    return bp_onnx_node_fail(g, n, "scale %g gives no output size",
                                             (double)sc->f[i]);
                d[i] = (int64_t)o;
            }
        } else {
            return 0;
        }
        return bp_onnx_set_shape_only(g, y, x->dtype, 4, d);
    }
    if (!strcmp(op, "ConvTranspose") && x->ndim == 4) {
        const bp_onnx_value *w = n->n_in > 1 && n->in[1] >= 0 ? &g->v[n->in[1]] : NULL;
        if (!w || w->ndim != 4)
            return 0;
        int64_t st[2] = {1, 1}, pd[4] = {0, 0, 0, 0}, op_[2] = {0, 0}, dl[2] = {1, 1};
        bp_onnx_attr_ints(n, "strides", st, 2);
        bp_onnx_attr_ints(n, "pads", pd, 4);
        bp_onnx_attr_ints(n, "output_padding", op_, 2);
        bp_onnx_attr_ints(n, "dilations", dl, 2);
        d[0] = x->dims[0];
        d[1] = w->dims[1] * bp_onnx_attr_int(n, "group", 1);
        for (int i = 0; i < 2; i++) {
            d[2 + i] = (x->dims[2 + i] - 1) * st[i] - pd[i] - pd[i + 2] +
                       dl[i] * (w->dims[2 + i] - 1) + 1 + op_[i];
            if (d[2 + i] < 1 || st[i] < 1 || dl[i] < 1)
                return bp_onnx_node_fail(g, n, "gives no output size");
        }
        return bp_onnx_set_shape_only(g, y, BP_ONNX_FLOAT, 4, d);
    }
    if (!strcmp(op, "Gemm") || !strcmp(op, "MatMul")) {
        const bp_onnx_value *w = n->n_in > 1 && n->in[1] >= 0 ? &g->v[n->in[1]] : NULL;
        if (!w || w->ndim != 2 || x->ndim < 1)
            return 0;
        int tb = !strcmp(op, "Gemm") && bp_onnx_attr_int(n, "transB", 0);
        int64_t kin = tb ? w->dims[1] : w->dims[0], nout = tb ? w->dims[0] : w->dims[1];
        if (!strcmp(op, "Gemm") && (x->ndim != 2 || bp_onnx_attr_int(n, "transA", 0)))
            return 0;
        if (x->dims[x->ndim - 1] != kin)
            return bp_onnx_node_fail(g, n, "input has %lld features, the weight %lld",
                                     (long long)x->dims[x->ndim - 1], (long long)kin);
        nd = x->ndim;
        memcpy(d, x->dims, (size_t)nd * sizeof *d);
        d[nd - 1] = nout;
        return bp_onnx_set_shape_only(g, y, BP_ONNX_FLOAT, nd, d);
    }
    return 0;
}

int bp_onnx_fold(bp_onnx_graph *g)
{
    for (int i = 0; i < g->nn; i++) {
        bp_onnx_node *n = &g->nodes[i];
        if (n->dead)
            continue;
        if (n->p && n->p->domain && n->p->domain[0] && strcmp(n->p->domain, "ai.onnx"))
            continue; /* custom domain: left for the mapper to reject */
        int r = bp_onnx_try_fold(g, n);
        n = &g->nodes[i];
        if (r < 0)
            return -1;
        if (r > 0) {
            n->dead = 1;
            continue;
        }
        if (bp_onnx_infer(g, n))
            return -1;
    }
    bp_onnx_count_uses(g);
    return 0;
}
