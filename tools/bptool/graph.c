/* graph.c: bptool's model graph on top of the public writer API (bp_builder):
 * the tool-side record of each conv/linear layer (dense weights, scales,
 * range and input quantization, written to the builder when the graph is
 * serialized) and a copy of every tensor's shape for the importer. Failures
 * are sticky (g->failed); bp_last_error() holds the builder's message. */
#include <stdlib.h>
#include <string.h>

#include "bptool.h"

#define BP_TOOL_NONE UINT32_MAX

void bp_tool_graph_init(bp_tool_graph *g)
{
    memset(g, 0, sizeof *g);
    g->input = g->output = BP_TOOL_NONE;
    if (bp_builder_create(&g->b))
        g->failed = 1;
}

void bp_tool_graph_free(bp_tool_graph *g)
{
    for (uint32_t i = 0; i < g->n_layers; i++) {
        bp_tool_layer *L = &g->lsrc[i];
        free(L->wf);
        free(L->w);
        free(L->w_scale);
        free(L->bias);
        bp_planes_buf_free(&L->planes);
    }
    free(g->tensors);
    free(g->layers);
    free(g->lsrc);
    bp_builder_free(g->b);
    memset(g, 0, sizeof *g);
    g->input = g->output = BP_TOOL_NONE;
}

/* Records a builder status: 1 for no memory, 2 for anything the builder
 * refused (a shape, a geometry). Returns the id, or BP_TOOL_NONE on failure. */
static uint32_t bp_tool_status(bp_tool_graph *g, bp_status st, uint32_t id)
{
    if (st == BP_OK)
        return id;
    if (!g->failed)
        g->failed = st == BP_ERR_NOMEM ? 1 : 2;
    return BP_TOOL_NONE;
}

/* Copies the shapes of the tensors up to id t from the builder. */
static uint32_t bp_tool_sync(bp_tool_graph *g, uint32_t t)
{
    if (t == BP_TOOL_NONE)
        return t;
    if (t >= g->cap_tensors) {
        uint32_t cap = g->cap_tensors ? g->cap_tensors : 64;
        while (cap <= t)
            cap *= 2;
        bpf_tensor *p = realloc(g->tensors, (size_t)cap * sizeof *p);
        if (!p)
            return bp_tool_status(g, BP_ERR_NOMEM, t);
        g->tensors = p;
        g->cap_tensors = cap;
    }
    for (; g->n_tensors <= t; g->n_tensors++) {
        bpf_tensor *d = &g->tensors[g->n_tensors];
        memset(d, 0, sizeof *d);
        d->dtype = BPF_DT_F32;
        if (bp_builder_tensor_shape(g->b, g->n_tensors, &d->ndim, d->dims))
            return bp_tool_status(g, BP_ERR_INVALID_ARG, t);
    }
    return t;
}

/* Result of a builder op that made tensor id. */
static uint32_t bp_tool_made(bp_tool_graph *g, bp_status st, uint32_t id)
{
    return bp_tool_sync(g, bp_tool_status(g, st, id));
}

uint32_t bp_tool_tensor(bp_tool_graph *g, const char *name, uint32_t ndim,
                        const uint32_t *dims)
{
    if (g->failed)
        return BP_TOOL_NONE;
    uint32_t t = BP_TOOL_NONE;
    bp_status st = bp_builder_input(g->b, name, ndim, dims, &t);
    t = bp_tool_made(g, st, t);
    if (t != BP_TOOL_NONE && g->input == BP_TOOL_NONE)
        g->input = t;
    return t;
}

uint32_t bp_tool_input(bp_tool_graph *g, const char *name, uint32_t c, uint32_t h, uint32_t w)
{
    uint32_t dims[4] = {1, c, h, w};
    return bp_tool_tensor(g, name, 4, dims);
}

uint32_t bp_tool_const_data(bp_tool_graph *g, const char *name, uint32_t ndim,
                            const uint32_t *dims, const float *v)
{
    if (g->failed)
        return BP_TOOL_NONE;
    uint32_t t = BP_TOOL_NONE;
    bp_status st = bp_builder_constant(g->b, name, ndim, dims, v, &t);
    return bp_tool_made(g, st, t);
}

bp_node_desc *bp_tool_node(bp_tool_graph *g, const char *name, uint32_t op)
{
    if (g->failed)
        return NULL;
    bp_node_desc_init(&g->pending);
    g->pending.name = name;
    g->pending.op = op;
    return &g->pending;
}

uint32_t bp_tool_out(bp_tool_graph *g, bp_node_desc *n, uint32_t ndim, const uint32_t *dims)
{
    if (g->failed || !n)
        return BP_TOOL_NONE;
    if (ndim > BPF_MAX_DIMS)
        return bp_tool_status(g, BP_ERR_LIMIT, BP_TOOL_NONE);
    n->out_ndim = ndim;
    memset(n->out_dims, 0, sizeof n->out_dims);
    memcpy(n->out_dims, dims, ndim * sizeof *dims);
    uint32_t t = BP_TOOL_NONE;
    bp_status st = bp_builder_node(g->b, n, &t);
    return bp_tool_made(g, st, t);
}

uint32_t bp_tool_layer_op(bp_tool_graph *g, const char *name, uint32_t x, const bpf_layer *l,
                          int bn, uint32_t *layer)
{
    if (layer)
        *layer = BP_TOOL_NONE;
    if (g->failed || x == BP_TOOL_NONE)
        return BP_TOOL_NONE;
    if (g->n_layers == g->cap_layers) {
        uint32_t cap = g->cap_layers ? g->cap_layers * 2 : 64;
        bpf_layer *ls = realloc(g->layers, (size_t)cap * sizeof *ls);
        if (ls)
            g->layers = ls;
        bp_tool_layer *src = realloc(g->lsrc, (size_t)cap * sizeof *src);
        if (src)
            g->lsrc = src;
        if (!ls || !src)
            return bp_tool_status(g, BP_ERR_NOMEM, BP_TOOL_NONE);
        g->cap_layers = cap;
    }
    uint32_t y = BP_TOOL_NONE;
    bp_status st;
    if (l->kind == BPF_LAYER_LINEAR) {
        st = bp_builder_linear(g->b, name, x, l->c_out, NULL, &y);
    } else {
        bp_conv2d_params p = {sizeof(bp_conv2d_params), l->c_out,  l->kh,    l->kw,    l->stride_h, l->stride_w,
                              l->pad_t,  l->pad_l, l->pad_b, l->pad_r,    l->dil_h,
                              l->dil_w,  l->groups};
        st = bp_builder_conv2d(g->b, name, x, &p, NULL, &y);
    }
    if (bp_tool_made(g, st, y) == BP_TOOL_NONE)
        return BP_TOOL_NONE;
    uint32_t li = g->n_layers;
    bpf_layer *rec = &g->layers[li];
    *rec = *l;
    bp_builder_layer_shape(g->b, li, &rec->c_out, &rec->K);
    rec->c_in = g->tensors[x].dims[1];
    bp_tool_layer *L = &g->lsrc[li];
    memset(L, 0, sizeof *L);
    L->bn = bn;
    L->x = x;
    size_t nw = (size_t)rec->c_out * rec->K;
    L->w = calloc(nw ? nw : 1, sizeof *L->w);
    L->w_scale = calloc(rec->c_out, sizeof *L->w_scale);
    L->bias = calloc(rec->c_out, sizeof *L->bias);
    g->n_layers++; /* counted now so graph_free releases partial state */
    if (!L->w || !L->w_scale || !L->bias)
        return bp_tool_status(g, BP_ERR_NOMEM, BP_TOOL_NONE);
    if (layer)
        *layer = li;
    return y;
}

uint32_t bp_tool_conv(bp_tool_graph *g, const char *name, uint32_t x, uint32_t c_out,
                      uint32_t k, uint32_t stride, uint32_t pad, uint32_t groups, int bn)
{
    bpf_layer l;
    memset(&l, 0, sizeof l);
    l.kind = BPF_LAYER_CONV;
    l.c_out = c_out;
    l.kh = l.kw = k;
    l.stride_h = l.stride_w = stride;
    l.pad_t = l.pad_l = l.pad_b = l.pad_r = pad;
    l.dil_h = l.dil_w = 1;
    l.groups = groups;
    return bp_tool_layer_op(g, name, x, &l, bn, NULL);
}

uint32_t bp_tool_linear(bp_tool_graph *g, const char *name, uint32_t x, uint32_t c_out)
{
    bpf_layer l;
    memset(&l, 0, sizeof l);
    l.kind = BPF_LAYER_LINEAR;
    l.c_out = c_out;
    l.kh = l.kw = l.stride_h = l.stride_w = l.dil_h = l.dil_w = l.groups = 1;
    return bp_tool_layer_op(g, name, x, &l, 0, NULL);
}

uint32_t bp_tool_relu(bp_tool_graph *g, const char *name, uint32_t x)
{
    uint32_t y = BP_TOOL_NONE;
    bp_status st = g->failed ? BP_OK : bp_builder_relu(g->b, name, x, &y);
    return g->failed ? BP_TOOL_NONE : bp_tool_made(g, st, y);
}

uint32_t bp_tool_gelu(bp_tool_graph *g, const char *name, uint32_t x)
{
    uint32_t y = BP_TOOL_NONE;
    bp_status st = g->failed ? BP_OK : bp_builder_gelu(g->b, name, x, &y);
    return g->failed ? BP_TOOL_NONE : bp_tool_made(g, st, y);
}

uint32_t bp_tool_add(bp_tool_graph *g, const char *name, uint32_t a, uint32_t b)
{
    uint32_t y = BP_TOOL_NONE;
    bp_status st = g->failed ? BP_OK : bp_builder_add(g->b, name, a, b, &y);
    return g->failed ? BP_TOOL_NONE : bp_tool_made(g, st, y);
}

uint32_t bp_tool_layernorm(bp_tool_graph *g, const char *name, uint32_t x, float eps)
{
    uint32_t y = BP_TOOL_NONE;
    bp_status st = g->failed ? BP_OK : bp_builder_layernorm(g->b, name, x, NULL, NULL, eps, &y);
    return g->failed ? BP_TOOL_NONE : bp_tool_made(g, st, y);
}

uint32_t bp_tool_layerscale(bp_tool_graph *g, const char *name, uint32_t x, float gamma)
{
    if (g->failed || x == BP_TOOL_NONE || x >= g->n_tensors)
        return bp_tool_status(g, BP_ERR_INVALID_ARG, BP_TOOL_NONE);
    uint32_t c = g->tensors[x].dims[1];
    float *v = malloc((c ? c : 1) * sizeof *v);
    if (!v)
        return bp_tool_status(g, BP_ERR_NOMEM, BP_TOOL_NONE);
    for (uint32_t i = 0; i < c; i++)
        v[i] = gamma;
    uint32_t y = BP_TOOL_NONE;
    bp_status st = bp_builder_layerscale(g->b, name, x, v, &y);
    free(v);
    return bp_tool_made(g, st, y);
}

uint32_t bp_tool_maxpool(bp_tool_graph *g, const char *name, uint32_t x, uint32_t k,
                         uint32_t stride, uint32_t pad)
{
    bp_pool2d_params p = {sizeof(bp_pool2d_params), k, k, stride, stride, pad, pad, pad, pad};
    uint32_t y = BP_TOOL_NONE;
    bp_status st = g->failed ? BP_OK : bp_builder_maxpool(g->b, name, x, &p, &y);
    return g->failed ? BP_TOOL_NONE : bp_tool_made(g, st, y);
}

uint32_t bp_tool_gap(bp_tool_graph *g, const char *name, uint32_t x)
{
    uint32_t y = BP_TOOL_NONE;
    bp_status st = g->failed ? BP_OK : bp_builder_global_avgpool(g->b, name, x, &y);
    return g->failed ? BP_TOOL_NONE : bp_tool_made(g, st, y);
}

uint32_t bp_tool_flatten(bp_tool_graph *g, const char *name, uint32_t x)
{
    uint32_t y = BP_TOOL_NONE;
    bp_status st = g->failed ? BP_OK : bp_builder_flatten(g->b, name, x, &y);
    return g->failed ? BP_TOOL_NONE : bp_tool_made(g, st, y);
}

void bp_tool_set_output(bp_tool_graph *g, uint32_t t) { g->output = t; }

int bp_tool_meta_set(bp_tool_graph *g, const char *key, const char *value)
{
    if (g->failed)
        return -1;
    bp_status st = bp_builder_set_meta(g->b, key, value);
    return bp_tool_status(g, st, 0) == BP_TOOL_NONE ? -1 : 0;
}

bp_status bp_tool_graph_write(bp_tool_graph *g, uint32_t n_out, const uint32_t *outs,
                              void **buf, size_t *size)
{
    *buf = NULL;
    *size = 0;
    if (g->failed == 1)
        return BP_ERR_NOMEM;
    if (!g->b)
        return BP_ERR_INVALID_ARG;
    for (uint32_t li = 0; li < g->n_layers; li++) {
        const bpf_layer *l = &g->layers[li];
        const bp_tool_layer *L = &g->lsrc[li];
        bp_layer_weights w = {sizeof(bp_layer_weights), L->w,       L->w_scale,   L->bias,      l->w_max,
                              l->encoding, l->act_dtype, l->act_scale};
        bp_status st = bp_builder_set_layer_weights(g->b, li, &w);
        if (st)
            return st;
    }
    if (!outs) {
        n_out = 1;
        outs = &g->output;
    }
    bp_status st = bp_builder_set_outputs(g->b, n_out, outs);
    return st ? st : bp_builder_write_memory(g->b, buf, size);
}
