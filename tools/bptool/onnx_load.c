/* onnx_load.c: reads an ONNX model (protobuf-c) into the importer's working
 * graph: values by name, nodes in file order, constants from initializers and
 * Constant nodes (raw_data or typed fields, little-endian), the one graph
 * input and output. Every failure names the node, tensor or field. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_ir.h"

int bp_onnx_fail(bp_onnx_graph *g, const char *fmt, ...)
{
    if (g->err && g->errlen && !g->err[0]) { /* the first failure is the cause */
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g->err, g->errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int bp_onnx_node_fail(bp_onnx_graph *g, const bp_onnx_node *n, const char *fmt, ...)
{
    if (g->err && g->errlen && !g->err[0]) {
        int k = snprintf(g->err, g->errlen, "node '%s' (%s): ", n->name, n->op);
        if (k < 0 || (size_t)k >= g->errlen)
            return -1;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g->err + k, g->errlen - (size_t)k, fmt, ap);
        va_end(ap);
    }
    return -1;
}

const char *bp_onnx_dtype_name(int32_t dt)
{
    static const char *const names[] = {"undefined", "float", "uint8", "int8", "uint16",
                                        "int16", "int32", "int64", "string", "bool",
                                        "float16", "double", "uint32", "uint64",
                                        "complex64", "complex128", "bfloat16"};
    return dt >= 0 && dt < (int32_t)(sizeof names / sizeof names[0]) ? names[dt] : "unknown";
}

int bp_onnx_is_float(int32_t dt)
{
    return dt == BP_ONNX_FLOAT || dt == BP_ONNX_DOUBLE || dt == BP_ONNX_FLOAT16;
}

static uint32_t bp_onnx_hash_str(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static int bp_onnx_lookup(const bp_onnx_graph *g, const char *name)
{
    if (!g->hcap)
        return BP_ONNX_NONE;
    uint32_t m = (uint32_t)g->hcap - 1;
    for (uint32_t h = bp_onnx_hash_str(name) & m;; h = (h + 1) & m) {
        int id = g->hash[h];
        if (id < 0)
            return BP_ONNX_NONE;
        if (!strcmp(g->v[id].name, name))
            return id;
    }
}

static int bp_onnx_hash_insert(bp_onnx_graph *g, int id)
{
    if ((g->nv + 1) * 2 > g->hcap) {
        int nc = g->hcap ? g->hcap * 2 : 256;
        while (nc < (g->nv + 1) * 2)
            nc *= 2;
        int *h = malloc((size_t)nc * sizeof *h);
        if (!h)
            return -1;
        for (int i = 0; i < nc; i++)
            h[i] = -1;
        free(g->hash);
        g->hash = h;
        g->hcap = nc;
        for (int i = 0; i < g->nv; i++) {
            if (i == id)
                continue;
            uint32_t k = bp_onnx_hash_str(g->v[i].name) & (uint32_t)(nc - 1);
            while (h[k] >= 0)
                k = (k + 1) & (uint32_t)(nc - 1);
            h[k] = i;
        }
    }
    uint32_t m = (uint32_t)g->hcap - 1;
    uint32_t k = bp_onnx_hash_str(g->v[id].name) & m;
    while (g->hash[k] >= 0)
        k = (k + 1) & m;
    g->hash[k] = id;
    return 0;
}

/* A new value named `name` (a fresh name for importer-made values). */
int bp_onnx_value_new(bp_onnx_graph *g, const char *name)
{
    if (g->nv == g->capv) {
        int nc = g->capv ? g->capv * 2 : 256;
        bp_onnx_value *v = realloc(g->v, (size_t)nc * sizeof *v);
        if (!v)
            return bp_onnx_fail(g, "out of memory");
        g->v = v;
        g->capv = nc;
    }
    bp_onnx_value *v = &g->v[g->nv];
    memset(v, 0, sizeof *v);
    v->name = strdup(name);
    if (!v->name)
        return bp_onnx_fail(g, "out of memory");
    v->ndim = -1;
    v->producer = BP_ONNX_NONE;
    v->bt = UINT32_MAX;
    int id = g->nv++;
    if (bp_onnx_hash_insert(g, id))
        return bp_onnx_fail(g, "out of memory");
    return id;
}

int bp_onnx_node_new(bp_onnx_graph *g, const char *op, const char *name, int n_in, int n_out)
{
    if (g->nn == g->capn) {
        int nc = g->capn ? g->capn * 2 : 256;
        bp_onnx_node *n = realloc(g->nodes, (size_t)nc * sizeof *n);
        if (!n)
            return bp_onnx_fail(g, "out of memory");
        g->nodes = n;
        g->capn = nc;
    }
    bp_onnx_node *n = &g->nodes[g->nn];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->name = name;
    n->n_in = n_in;
    n->n_out = n_out;
    n->in = malloc((size_t)(n_in ? n_in : 1) * sizeof *n->in);
    n->out = malloc((size_t)(n_out ? n_out : 1) * sizeof *n->out);
    if (!n->in || !n->out) {
        free(n->in);
        free(n->out);
        return bp_onnx_fail(g, "out of memory");
    }
    /* slot 0 exists (and reads as absent) even for a node without inputs */
    for (int i = 0; i < (n_in ? n_in : 1); i++)
        n->in[i] = BP_ONNX_NONE;
    for (int i = 0; i < (n_out ? n_out : 1); i++)
        n->out[i] = BP_ONNX_NONE;
    return g->nn++;
}

static void bp_onnx_qw_free(bp_onnx_qw *q)
{
    if (!q)
        return;
    free(q->q);
    free(q->scale);
    free(q);
}

void bp_onnx_graph_free(bp_onnx_graph *g)
{
    for (int i = 0; i < g->nv; i++) {
        free(g->v[i].name);
        free(g->v[i].f);
        free(g->v[i].i);
        bp_onnx_qw_free(g->v[i].qw);
    }
    for (int i = 0; i < g->nn; i++) {
        bp_onnx_node *n = &g->nodes[i];
        free(n->in);
        free(n->out);
        free(n->scale);
        free(n->shift);
        if (n->w) {
            free(n->w->wf);
            free(n->w->wq);
            free(n->w->wq_scale);
            free(n->w->bias);
            free(n->w);
        }
        if (n->own_name)
            free((char *)n->name);
    }
    free(g->v);
    free(g->hash);
    free(g->nodes);
    if (g->model)
        onnx__model_proto__free_unpacked(g->model, NULL);
    char *err = g->err;
    size_t errlen = g->errlen;
    memset(g, 0, sizeof *g);
    g->err = err;
    g->errlen = errlen;
}

/* ---- attributes ---- */
const Onnx__AttributeProto *bp_onnx_attr(const bp_onnx_node *n, const char *name)
{
    if (!n->p)
        return NULL;
    for (size_t i = 0; i < n->p->n_attribute; i++)
        if (n->p->attribute[i]->name && !strcmp(n->p->attribute[i]->name, name))
            return n->p->attribute[i];
    return NULL;
}

int64_t bp_onnx_attr_int(const bp_onnx_node *n, const char *name, int64_t def)
{
    const Onnx__AttributeProto *a = bp_onnx_attr(n, name);
    return a && a->has_i ? a->i : def;
}

float bp_onnx_attr_float(const bp_onnx_node *n, const char *name, float def)
{
    const Onnx__AttributeProto *a = bp_onnx_attr(n, name);
    return a && a->has_f ? a->f : def;
}

int bp_onnx_attr_ints(const bp_onnx_node *n, const char *name, int64_t *out, int max)
{
    const Onnx__AttributeProto *a = bp_onnx_attr(n, name);
    if (!a || a->n_ints > (size_t)max)
        return -1;
    for (size_t i = 0; i < a->n_ints; i++)
        out[i] = a->ints[i];
    return (int)a->n_ints;
}

/* ---- constants ---- */
size_t bp_onnx_numel(const bp_onnx_value *v)
{
    size_t n = 1;
    for (int i = 0; i < v->ndim; i++)
        n *= (size_t)v->dims[i];
    return n;
}

static int bp_onnx_set_shape(bp_onnx_graph *g, int vid, int ndim, const int64_t *dims)
{
    bp_onnx_value *v = &g->v[vid];
    if (ndim < 0 || ndim > BP_ONNX_MAX_DIMS)
        return bp_onnx_fail(g, "tensor '%s': %d dimensions (at most %d)", v->name, ndim,
                            BP_ONNX_MAX_DIMS);
    int64_t n = 1, cap = g->const_cap ? g->const_cap : BP_ONNX_MAX_FOLD_ELEMS;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0 || (dims[i] && n > cap / dims[i]))
            return bp_onnx_fail(g, "tensor '%s': dimension %d = %lld is negative or too large",
                                v->name, i, (long long)dims[i]);
        n *= dims[i];
    }
    v->ndim = ndim;
    if (ndim)
        memcpy(v->dims, dims, (size_t)ndim * sizeof *dims);
    return 0;
}

int bp_onnx_set_const_f(bp_onnx_graph *g, int vid, int ndim, const int64_t *dims)
{
    if (bp_onnx_set_shape(g, vid, ndim, dims))
        return -1;
    bp_onnx_value *v = &g->v[vid];
    free(v->f);
    free(v->i);
    v->i = NULL;
    v->n = bp_onnx_numel(v);
    v->f = calloc(v->n ? v->n : 1, sizeof *v->f);
    v->dtype = BP_ONNX_FLOAT;
    v->is_const = 1;
    return v->f ? 0 : bp_onnx_fail(g, "out of memory for constant '%s'", v->name);
}

int bp_onnx_set_const_i(bp_onnx_graph *g, int vid, int32_t dtype, int ndim, const int64_t *dims)
{
    if (bp_onnx_set_shape(g, vid, ndim, dims))
        return -1;
    bp_onnx_value *v = &g->v[vid];
    free(v->f);
    free(v->i);
    v->f = NULL;
    v->n = bp_onnx_numel(v);
    v->i = calloc(v->n ? v->n : 1, sizeof *v->i);
    v->dtype = dtype;
    v->is_const = 1;
    return v->i ? 0 : bp_onnx_fail(g, "out of memory for constant '%s'", v->name);
}

static uint64_t bp_onnx_le(const uint8_t *p, int bytes)
{
    uint64_t x = 0;
    for (int i = bytes - 1; i >= 0; i--)
        x = (x << 8) | p[i];
    return x;
}

static float bp_onnx_half(uint16_t h)
{
    int e = (h >> 10) & 31, m = h & 1023;
    float v = e == 0 ? ldexpf((float)m, -24)
              : e == 31 ? (m ? NAN : INFINITY)
                        : ldexpf((float)(m | 1024), e - 25);
    return (h & 0x8000) ? -v : v;
}

static float bp_onnx_f32_bits(uint32_t b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

static double bp_onnx_f64_bits(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static int bp_onnx_elem_size(int32_t dt)
{
    switch (dt) {
    case BP_ONNX_UINT8: case BP_ONNX_INT8: case BP_ONNX_BOOL: return 1;
    case BP_ONNX_UINT16: case BP_ONNX_INT16: case BP_ONNX_FLOAT16: return 2;
    case BP_ONNX_FLOAT: case BP_ONNX_INT32: case BP_ONNX_UINT32: return 4;
    case BP_ONNX_INT64: case BP_ONNX_UINT64: case BP_ONNX_DOUBLE: return 8;
    }
    return 0;
}

/* Element k of raw little-endian data as integer (signed per dtype). */
static int64_t bp_onnx_raw_int(const uint8_t *p, int32_t dt)
{
    int es = bp_onnx_elem_size(dt);
    uint64_t x = bp_onnx_le(p, es);
    switch (dt) {
    case BP_ONNX_INT8: return (int8_t)x;
    case BP_ONNX_INT16: return (int16_t)x;
    case BP_ONNX_INT32: return (int32_t)x;
    case BP_ONNX_BOOL: return x != 0;
    default: return (int64_t)x;
    }
}

int bp_onnx_tensor_to_const(bp_onnx_graph *g, const Onnx__TensorProto *t, int vid,
                            const char *where)
{
    const char *nm = t->name && t->name[0] ? t->name : g->v[vid].name;
    int32_t dt = t->has_data_type ? t->data_type : 0;
    if (t->n_external_data ||
        (t->has_data_location &&
         t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL))
        return bp_onnx_fail(g, "%s: tensor '%s' keeps its data in an external file; "
                            "save the model with the weights inside the .onnx file",
                            where, nm);
    if (t->segment)
        return bp_onnx_fail(g, "%s: tensor '%s' is segmented (not supported)", where, nm);
    int es = bp_onnx_elem_size(dt);
    if (!es)
        return bp_onnx_fail(g, "%s: tensor '%s' has data type %s, which the importer does "
                            "not read", where, nm, bp_onnx_dtype_name(dt));
    if (t->n_dims > BP_ONNX_MAX_DIMS)
        return bp_onnx_fail(g, "%s: tensor '%s' has %zu dimensions (at most %d)", where, nm,
                            t->n_dims, BP_ONNX_MAX_DIMS);
    size_t want = 1;
    for (size_t i = 0; i < t->n_dims; i++) {
        if (t->dims[i] < 0 || (t->dims[i] && want > (size_t)BP_ONNX_MAX_CONST_ELEMS / (size_t)t->dims[i]))
            return bp_onnx_fail(g, "%s: tensor '%s': dimension %zu = %lld is negative or too "
                                "large", where, nm, i, (long long)t->dims[i]);
        want *= (size_t)t->dims[i];
    }
    size_t stored;
    if (t->has_raw_data)
        stored = t->raw_data.len / (size_t)es;
    else
        switch (dt) {
        case BP_ONNX_FLOAT: stored = t->n_float_data; break;
        case BP_ONNX_DOUBLE: stored = t->n_double_data; break;
        case BP_ONNX_INT64: stored = t->n_int64_data; break;
        case BP_ONNX_UINT32: case BP_ONNX_UINT64: stored = t->n_uint64_data; break;
        default: stored = t->n_int32_data; break;
        }
    if (stored != want || (t->has_raw_data && t->raw_data.len % (size_t)es))
        return bp_onnx_fail(g, "%s: tensor '%s' stores %zu values (%s), its shape needs %zu",
                            where, nm, stored, t->has_raw_data ? "raw_data" : "typed field",
                            want);
    int isf = bp_onnx_is_float(dt);
    g->const_cap = BP_ONNX_MAX_CONST_ELEMS;
    int rc = isf ? bp_onnx_set_const_f(g, vid, (int)t->n_dims, t->dims)
                 : bp_onnx_set_const_i(g, vid, dt, (int)t->n_dims, t->dims);
    g->const_cap = BP_ONNX_MAX_FOLD_ELEMS;
    if (rc)
        return bp_onnx_fail(g, "%s: tensor '%s' has a bad shape", where, nm);
    bp_onnx_value *v = &g->v[vid];
    size_t n = v->n;
    if (t->has_raw_data) {
        if (t->raw_data.len != n * (size_t)es)
            return bp_onnx_fail(g, "%s: tensor '%s': raw_data holds %zu bytes, its shape needs "
                                "%zu", where, nm, t->raw_data.len, n * (size_t)es);
        const uint8_t *p = t->raw_data.data;
        for (size_t k = 0; k < n; k++, p += es) {
            if (dt == BP_ONNX_FLOAT)
                v->f[k] = bp_onnx_f32_bits((uint32_t)bp_onnx_le(p, 4));
            else if (dt == BP_ONNX_DOUBLE)
                v->f[k] = (float)bp_onnx_f64_bits(bp_onnx_le(p, 8));
            else if (dt == BP_ONNX_FLOAT16)
                v->f[k] = bp_onnx_half((uint16_t)bp_onnx_le(p, 2));
            else
                v->i[k] = bp_onnx_raw_int(p, dt);
        }
    } else {
        size_t have;
        switch (dt) {
        case BP_ONNX_FLOAT: have = t->n_float_data; break;
        case BP_ONNX_DOUBLE: have = t->n_double_data; break;
        case BP_ONNX_INT64: have = t->n_int64_data; break;
        case BP_ONNX_UINT32: case BP_ONNX_UINT64: have = t->n_uint64_data; break;
        default: have = t->n_int32_data; break; /* int8..int32, uint8, uint16, bool, f16 */
        }
        if (have != n)
            return bp_onnx_fail(g, "%s: tensor '%s': %zu values stored, its shape needs %zu",
                                where, nm, have, n);
        for (size_t k = 0; k < n; k++) {
            switch (dt) {
            case BP_ONNX_FLOAT: v->f[k] = t->float_data[k]; break;
            case BP_ONNX_DOUBLE: v->f[k] = (float)t->double_data[k]; break;
            case BP_ONNX_FLOAT16: v->f[k] = bp_onnx_half((uint16_t)t->int32_data[k]); break;
            case BP_ONNX_INT64: v->i[k] = t->int64_data[k]; break;
            case BP_ONNX_UINT32: case BP_ONNX_UINT64: v->i[k] = (int64_t)t->uint64_data[k]; break;
            case BP_ONNX_BOOL: v->i[k] = t->int32_data[k] != 0; break;
            default: v->i[k] = t->int32_data[k]; break;
            }
        }
    }
    v->dtype = dt == BP_ONNX_DOUBLE || dt == BP_ONNX_FLOAT16 ? BP_ONNX_FLOAT : dt;
    return 0;
}

/* Constant node: its one attribute becomes the output's value. */
static int bp_onnx_constant_node(bp_onnx_graph *g, bp_onnx_node *n)
{
    int vid = n->out[0];
    if (n->n_out != 1 || vid < 0 || !n->p->n_attribute)
        return bp_onnx_node_fail(g, n, "needs one output and one value attribute");
    const Onnx__AttributeProto *a = n->p->attribute[0];
    const char *an = a->name ? a->name : "";
    if (!strcmp(an, "value") && a->t)
        return bp_onnx_tensor_to_const(g, a->t, vid, n->name);
    if (!strcmp(an, "value_float")) {
        if (bp_onnx_set_const_f(g, vid, 0, NULL))
            return -1;
        g->v[vid].f[0] = a->f;
        return 0;
    }
    if (!strcmp(an, "value_int")) {
        if (bp_onnx_set_const_i(g, vid, BP_ONNX_INT64, 0, NULL))
            return -1;
        g->v[vid].i[0] = a->i;
        return 0;
    }
    if (!strcmp(an, "value_floats")) {
        int64_t d = (int64_t)a->n_floats;
        if (bp_onnx_set_const_f(g, vid, 1, &d))
            return -1;
        if (a->n_floats)
            memcpy(g->v[vid].f, a->floats, a->n_floats * sizeof(float));
        return 0;
    }
    if (!strcmp(an, "value_ints")) {
        int64_t d = (int64_t)a->n_ints;
        if (bp_onnx_set_const_i(g, vid, BP_ONNX_INT64, 1, &d))
            return -1;
        if (a->n_ints)
            memcpy(g->v[vid].i, a->ints, a->n_ints * sizeof(int64_t));
        return 0;
    }
    return bp_onnx_node_fail(g, n, "attribute '%s' is not a numeric constant the importer "
                             "reads", an);
}

/* The input's static shape: batch 1 (symbolic or 1), other dims fixed or
 * given by --input HxW for the two spatial dims of a 4-D input. */
static int bp_onnx_input_shape(bp_onnx_graph *g, const Onnx__ValueInfoProto *vi, int vid)
{
    const char *nm = g->v[vid].name;
    const Onnx__TypeProto *tp = vi->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
        return bp_onnx_fail(g, "graph input '%s' is not a tensor", nm);
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    if (!tt->has_elem_type || tt->elem_type != BP_ONNX_FLOAT)
        return bp_onnx_fail(g, "graph input '%s' has element type %s; bitprune models take "
                            "float32 inputs", nm,
                            bp_onnx_dtype_name(tt->has_elem_type ? tt->elem_type : 0));
    if (!tt->shape)
        return bp_onnx_fail(g, "graph input '%s' has no shape", nm);
    size_t nd = tt->shape->n_dim;
    if (nd < 2 || nd > 6)
        return bp_onnx_fail(g, "graph input '%s' has %zu dimensions; bitprune models take 2 "
                            "to 6 (batch first)", nm, nd);
    int64_t dims[BP_ONNX_MAX_DIMS];
    for (size_t i = 0; i < nd; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        int fixed = d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        int64_t val = fixed ? d->dim_value : 0;
        if (i == 0) {
            if (fixed && val != 1)
                return bp_onnx_fail(g, "graph input '%s' has a fixed batch of %lld; export "
                                    "the model with batch 1 or a dynamic batch", nm,
                                    (long long)val);
            val = 1;
        } else if (nd == 4 && i >= 2 && g->in_h) {
            val = i == 2 ? g->in_h : g->in_w;
        } else if (!fixed) {
            return bp_onnx_fail(g, "graph input '%s': dimension %zu is symbolic ('%s'); give "
                                "the input size with --input HxW", nm, i,
                                d->value_case ==
                                        ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
                                    d->dim_param
                                    ? d->dim_param
                                    : "?");
        }
        if (val < 1 || val > 1048576)
            return bp_onnx_fail(g, "graph input '%s': dimension %zu = %lld is out of range",
                                nm, i, (long long)val);
        dims[i] = val;
    }
    int64_t total = 1;
    for (size_t i = 0; i < nd; i++) {
        total *= dims[i];
        if (total > BP_ONNX_MAX_ACT_ELEMS)
            return bp_onnx_fail(g, "graph input '%s' has more than %lld elements", nm,
                                (long long)BP_ONNX_MAX_ACT_ELEMS);
    }
    bp_onnx_value *v = &g->v[vid];
    v->dtype = BP_ONNX_FLOAT;
    v->ndim = (int)nd;
    memcpy(v->dims, dims, nd * sizeof *dims);
    return 0;
}

void bp_onnx_count_uses(bp_onnx_graph *g)
{
    for (int i = 0; i < g->nv; i++)
        g->v[i].n_uses = 0;
    for (int i = 0; i < g->nn; i++) {
        const bp_onnx_node *n = &g->nodes[i];
        if (n->dead)
            continue;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0)
                g->v[n->in[k]].n_uses++;
    }
    if (g->output >= 0)
        g->v[g->output].n_uses++;
}

void bp_onnx_replace_uses(bp_onnx_graph *g, int from, int to)
{
    for (int i = 0; i < g->nn; i++) {
        bp_onnx_node *n = &g->nodes[i];
        if (n->dead)
            continue;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] == from)
                n->in[k] = to;
    }
    if (g->output == from)
        g->output = to;
}

int bp_onnx_load(bp_onnx_graph *g, const void *buf, size_t size)
{
    g->input = g->output = BP_ONNX_NONE;
    g->model = onnx__model_proto__unpack(NULL, size, buf);
    if (!g->model)
        return bp_onnx_fail(g, "not a valid ONNX model (the protobuf is truncated or corrupt)");
    const Onnx__ModelProto *m = g->model;
    if (!m->graph)
        return bp_onnx_fail(g, "the model has no graph");
    g->opset = -1;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = m->opset_import[i];
        if (!o->domain || !o->domain[0] || !strcmp(o->domain, "ai.onnx"))
            g->opset = o->has_version ? o->version : -1;
    }
    if (g->opset < 0)
        return bp_onnx_fail(g, "the model imports no version of the default ONNX operator set");
    if (g->opset < 9)
        return bp_onnx_fail(g, "the model uses ONNX opset %lld; the importer reads opset 9 and "
                            "newer", (long long)g->opset);
    const Onnx__GraphProto *gp = m->graph;
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *t = gp->initializer[i];
        if (!t->name || !t->name[0])
            return bp_onnx_fail(g, "initializer %zu has no name", i);
        if (bp_onnx_lookup(g, t->name) >= 0)
            return bp_onnx_fail(g, "initializer '%s' is defined twice", t->name);
        int vid = bp_onnx_value_new(g, t->name);
        if (vid < 0 || bp_onnx_tensor_to_const(g, t, vid, "initializer"))
            return -1;
    }
    if (gp->n_sparse_initializer)
        return bp_onnx_fail(g, "the graph has sparse initializers (not supported)");
    for (size_t i = 0; i < gp->n_input; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        if (!vi->name || !vi->name[0])
            return bp_onnx_fail(g, "graph input %zu has no name", i);
        if (bp_onnx_lookup(g, vi->name) >= 0)
            continue; /* an initializer listed as an input (IR < 4) */
        if (g->input >= 0)
            return bp_onnx_fail(g, "the graph has more than one input ('%s', '%s'); the "
                                "importer supports one", g->v[g->input].name, vi->name);
        int vid = bp_onnx_value_new(g, vi->name);
        if (vid < 0)
            return -1;
        g->input = vid;
        if (bp_onnx_input_shape(g, vi, vid))
            return -1;
    }
    if (g->input < 0)
        return bp_onnx_fail(g, "the graph has no input besides its initializers");
    if (gp->n_output != 1)
        return bp_onnx_fail(g, "the graph has %zu outputs; the importer supports one",
                            gp->n_output);
    for (size_t i = 0; i < gp->n_node; i++) {
        const Onnx__NodeProto *np = gp->node[i];
        const char *op = np->op_type ? np->op_type : "";
        int id = bp_onnx_node_new(g, op, NULL, (int)np->n_input, (int)np->n_output);
        if (id < 0)
            return -1;
        bp_onnx_node *n = &g->nodes[id];
        n->p = np;
        n->name = np->name && np->name[0] ? np->name : NULL;
        if (!n->name) { /* unnamed: op type and position */
            char b[64];
            snprintf(b, sizeof b, "#%zu", i);
            n->name = strdup(b);
            if (!n->name)
                return bp_onnx_fail(g, "out of memory");
            n->own_name = 1;
        }
        for (size_t k = 0; k < np->n_input; k++) {
            const char *in = np->input[k];
            if (!in || !in[0])
                continue;
            int vid = bp_onnx_lookup(g, in);
            if (vid < 0)
                return bp_onnx_node_fail(g, n, "input '%s' is not produced by an earlier node, "
                                         "an initializer or the graph input", in);
            n->in[k] = vid;
        }
        for (size_t k = 0; k < np->n_output; k++) {
            const char *out = np->output[k];
            if (!out || !out[0])
                continue;
            if (bp_onnx_lookup(g, out) >= 0)
                return bp_onnx_node_fail(g, n, "output '%s' is already defined", out);
            int vid = bp_onnx_value_new(g, out);
            if (vid < 0)
                return -1;
            n = &g->nodes[id];
            n->out[k] = vid;
            g->v[vid].producer = id;
        }
        if (!(np->domain == NULL || !np->domain[0] || !strcmp(np->domain, "ai.onnx")))
            continue; /* custom domains fail when mapped */
        if (!strcmp(op, "Constant")) {
            if (bp_onnx_constant_node(g, n))
                return -1;
            n->dead = 1;
        }
    }
    const char *on = gp->output[0]->name;
    g->output = on ? bp_onnx_lookup(g, on) : BP_ONNX_NONE;
    if (g->output < 0)
        return bp_onnx_fail(g, "graph output '%s' is not produced by any node", on ? on : "");
    if (g->output == g->input)
        return bp_onnx_fail(g, "the graph output is its input");
    return 0;
}
