/* graph.c: builds a .bp model description (tensors, nodes, conv/linear layers)
 * op by op, tracking shapes, for bpf_write_*. Allocation failure is sticky. */
#include <stdlib.h>
#include <string.h>

#include "bptool.h"

#define BP_TOOL_NONE UINT32_MAX

void bp_tool_graph_init(bp_tool_graph *g)
{
    memset(g, 0, sizeof *g);
    g->input = g->output = BP_TOOL_NONE;
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
    for (uint32_t i = 0; i < g->n_owned; i++)
        free(g->owned[i]);
    free(g->owned);
    free(g->tensors);
    free(g->nodes);
    free(g->layers);
    free(g->lsrc);
    free(g->meta);
    bp_tool_graph_init(g);
}

/* Grows *arr (element size es) to hold n+1 elements. */
static int bp_tool_grow(void **arr, uint32_t n, uint32_t *cap, size_t es)
{
    if (n < *cap)
        return 0;
    uint32_t nc = *cap ? *cap * 2 : 64;
    void *p = realloc(*arr, (size_t)nc * es);
    if (!p)
        return -1;
    memset((char *)p + (size_t)*cap * es, 0, (size_t)(nc - *cap) * es);
    *arr = p;
    *cap = nc;
    return 0;
}

static void *bp_tool_own(bp_tool_graph *g, void *p)
{
    if (!p || bp_tool_grow((void **)&g->owned, g->n_owned, &g->cap_owned, sizeof(void *))) {
        free(p);
        g->failed = 1;
        return NULL;
    }
    g->owned[g->n_owned++] = p;
    return p;
}

static const char *bp_tool_strdup(bp_tool_graph *g, const char *s)
{
    return bp_tool_own(g, strdup(s));
}

uint32_t bp_tool_tensor(bp_tool_graph *g, const char *name, uint32_t ndim,
                        const uint32_t *dims)
{
    if (g->failed || bp_tool_grow((void **)&g->tensors, g->n_tensors, &g->cap_tensors,
                                  sizeof(bpf_tensor))) {
        g->failed = 1;
        return BP_TOOL_NONE;
    }
    bpf_tensor *t = &g->tensors[g->n_tensors];
    memset(t, 0, sizeof *t);
    t->name = bp_tool_strdup(g, name);
    t->dtype = BPF_DT_F32;
    t->ndim = ndim;
    memcpy(t->dims, dims, ndim * sizeof *dims);
    if (g->failed)
        return BP_TOOL_NONE;
    return g->n_tensors++;
}

/* A 1-D f32 constant of n values, all equal to v. */
static uint32_t bp_tool_const(bp_tool_graph *g, const char *name, uint32_t n, float v)
{
    uint32_t dims[1] = {n};
    float *d = aligned_alloc(64, ((size_t)n * 4 + 63) & ~(size_t)63);
    if (!bp_tool_own(g, d))
        return BP_TOOL_NONE;
    for (uint32_t i = 0; i < n; i++)
        d[i] = v;
    uint32_t t = bp_tool_tensor(g, name, 1, dims);
    if (t == BP_TOOL_NONE)
        return t;
    g->tensors[t].data = d;
    g->tensors[t].nbytes = (uint64_t)n * 4;
    return t;
}

/* An f32 constant with the given shape holding a copy of v. */
uint32_t bp_tool_const_data(bp_tool_graph *g, const char *name, uint32_t ndim,
                            const uint32_t *dims, const float *v)
{
    size_t n = 1;
    for (uint32_t i = 0; i < ndim; i++)
        n *= dims[i];
    float *d = aligned_alloc(64, (n * 4 + 63) & ~(size_t)63);
    if (!bp_tool_own(g, d))
        return BP_TOOL_NONE;
    memcpy(d, v, n * 4);
    uint32_t t = bp_tool_tensor(g, name, ndim, dims);
    if (t == BP_TOOL_NONE)
        return t;
    g->tensors[t].data = d;
    g->tensors[t].nbytes = (uint64_t)n * 4;
    return t;
}

bpf_node *bp_tool_node(bp_tool_graph *g, const char *name, uint32_t op)
{
    if (g->failed || bp_tool_grow((void **)&g->nodes, g->n_nodes, &g->cap_nodes,
                                  sizeof(bpf_node))) {
        g->failed = 1;
        return NULL;
    }
    bpf_node *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    n->name = bp_tool_strdup(g, name);
    n->op = op;
    n->layer = UINT32_MAX;
    if (g->failed)
        return NULL;
    g->n_nodes++;
    return n;
}

/* Output tensor named after the node. */
uint32_t bp_tool_out(bp_tool_graph *g, bpf_node *n, uint32_t ndim, const uint32_t *dims)
{
    uint32_t t = bp_tool_tensor(g, n->name, ndim, dims);
    if (t == BP_TOOL_NONE)
        return t;
    n->n_out = 1;
    n->out[0] = t;
    return t;
}

uint32_t bp_tool_input(bp_tool_graph *g, const char *name, uint32_t c, uint32_t h, uint32_t w)
{
    uint32_t dims[4] = {1, c, h, w};
    g->input = bp_tool_tensor(g, name, 4, dims);
    return g->input;
}

uint32_t bp_tool_add_layer(bp_tool_graph *g, const bpf_layer *l, int bn)
{
    if (g->failed ||
        bp_tool_grow((void **)&g->layers, g->n_layers, &g->cap_layers, sizeof(bpf_layer))) {
        g->failed = 1;
        return BP_TOOL_NONE;
    }
    /* lsrc grows with the same capacity as layers */
    bp_tool_layer *ls = realloc(g->lsrc, (size_t)g->cap_layers * sizeof *ls);
    if (!ls) {
        g->failed = 1;
        return BP_TOOL_NONE;
    }
    g->lsrc = ls;
    bp_tool_layer *L = &g->lsrc[g->n_layers];
    memset(L, 0, sizeof *L);
    L->bn = bn;
    size_t nw = (size_t)l->c_out * l->K;
    L->w = calloc(nw ? nw : 1, sizeof *L->w);
    L->w_scale = calloc(l->c_out, sizeof *L->w_scale);
    L->bias = calloc(l->c_out, sizeof *L->bias);
    g->layers[g->n_layers] = *l;
    uint32_t id = g->n_layers++; /* counted now so graph_free releases partial state */
    if (!L->w || !L->w_scale || !L->bias) {
        g->failed = 1;
        return BP_TOOL_NONE;
    }
    return id;
}

uint32_t bp_tool_conv(bp_tool_graph *g, const char *name, uint32_t x, uint32_t c_out,
                      uint32_t k, uint32_t stride, uint32_t pad, uint32_t groups, int bn)
{
    if (g->failed || x == BP_TOOL_NONE)
        return BP_TOOL_NONE;
    const bpf_tensor *xt = &g->tensors[x];
    uint32_t c_in = xt->dims[1], h = xt->dims[2], w = xt->dims[3];
    if (xt->ndim != 4 || h + 2 * pad < k || w + 2 * pad < k || c_in % groups ||
        c_out % groups) {
        g->failed = 2;
        return BP_TOOL_NONE;
    }
    bpf_layer l;
    memset(&l, 0, sizeof l);
    l.kind = BPF_LAYER_CONV;
    l.c_out = c_out;
    l.c_in = c_in;
    l.kh = l.kw = k;
    l.stride_h = l.stride_w = stride;
    l.pad_t = l.pad_l = l.pad_b = l.pad_r = pad;
    l.dil_h = l.dil_w = 1;
    l.groups = groups;
    l.K = c_in / groups * k * k;
    uint32_t li = bp_tool_add_layer(g, &l, bn);
    bpf_node *n = bp_tool_node(g, name, BPF_OP_CONV2D);
    if (!n || li == BP_TOOL_NONE)
        return BP_TOOL_NONE;
    n->layer = li;
    n->n_in = 1;
    n->in[0] = x;
    uint32_t dims[4] = {1, c_out, (h + 2 * pad - k) / stride + 1, (w + 2 * pad - k) / stride + 1};
    return bp_tool_out(g, n, 4, dims);
}

uint32_t bp_tool_linear(bp_tool_graph *g, const char *name, uint32_t x, uint32_t c_out)
{
    if (g->failed || x == BP_TOOL_NONE)
        return BP_TOOL_NONE;
    const bpf_tensor *xt = &g->tensors[x];
    uint32_t K = 1;
    for (uint32_t i = 1; i < xt->ndim; i++)
        K *= xt->dims[i];
    bpf_layer l;
    memset(&l, 0, sizeof l);
    l.kind = BPF_LAYER_LINEAR;
    l.c_out = c_out;
    l.c_in = K;
    l.kh = l.kw = 1;
    l.stride_h = l.stride_w = 1;
    l.dil_h = l.dil_w = 1;
    l.groups = 1;
    l.K = K;
    uint32_t li = bp_tool_add_layer(g, &l, 0);
    bpf_node *n = bp_tool_node(g, name, BPF_OP_LINEAR);
    if (!n || li == BP_TOOL_NONE)
        return BP_TOOL_NONE;
    n->layer = li;
    n->n_in = 1;
    n->in[0] = x;
    uint32_t dims[2] = {1, c_out};
    return bp_tool_out(g, n, 2, dims);
}

static uint32_t bp_tool_unary(bp_tool_graph *g, const char *name, uint32_t op, uint32_t x)
{
    if (g->failed || x == BP_TOOL_NONE)
        return BP_TOOL_NONE;
    bpf_node *n = bp_tool_node(g, name, op);
    if (!n)
        return BP_TOOL_NONE;
    n->n_in = 1;
    n->in[0] = x;
    uint32_t dims[BPF_MAX_DIMS];
    const bpf_tensor *xt = &g->tensors[x];
    memcpy(dims, xt->dims, sizeof dims);
    return bp_tool_out(g, n, xt->ndim, dims);
}

uint32_t bp_tool_relu(bp_tool_graph *g, const char *name, uint32_t x)
{
    return bp_tool_unary(g, name, BPF_OP_RELU, x);
}

uint32_t bp_tool_gelu(bp_tool_graph *g, const char *name, uint32_t x)
{
    return bp_tool_unary(g, name, BPF_OP_GELU, x);
}

uint32_t bp_tool_add(bp_tool_graph *g, const char *name, uint32_t a, uint32_t b)
{
    if (g->failed || a == BP_TOOL_NONE || b == BP_TOOL_NONE)
        return BP_TOOL_NONE;
    if (memcmp(g->tensors[a].dims, g->tensors[b].dims, sizeof g->tensors[a].dims)) {
        g->failed = 2;
        return BP_TOOL_NONE;
    }
    uint32_t t = bp_tool_unary(g, name, BPF_OP_ADD, a);
    if (t != BP_TOOL_NONE) {
        g->nodes[g->n_nodes - 1].n_in = 2;
        g->nodes[g->n_nodes - 1].in[1] = b;
    }
    return t;
}

uint32_t bp_tool_layernorm(bp_tool_graph *g, const char *name, uint32_t x, float eps)
{
    if (g->failed || x == BP_TOOL_NONE)
        return BP_TOOL_NONE;
    uint32_t c = g->tensors[x].dims[1];
    char buf[512];
    snprintf(buf, sizeof buf, "%s.weight", name);
    uint32_t gamma = bp_tool_const(g, buf, c, 1.0f);
    snprintf(buf, sizeof buf, "%s.bias", name);
    uint32_t beta = bp_tool_const(g, buf, c, 0.0f);
    uint32_t t = bp_tool_unary(g, name, BPF_OP_LAYERNORM, x);
    if (t == BP_TOOL_NONE)
        return t;
    bpf_node *n = &g->nodes[g->n_nodes - 1];
    n->n_in = 3;
    n->in[1] = gamma;
    n->in[2] = beta;
    n->floats[0] = eps;
    return t;
}

uint32_t bp_tool_layerscale(bp_tool_graph *g, const char *name, uint32_t x, float gamma)
{
    if (g->failed || x == BP_TOOL_NONE)
        return BP_TOOL_NONE;
    char buf[512];
    snprintf(buf, sizeof buf, "%s.gamma", name);
    uint32_t gm = bp_tool_const(g, buf, g->tensors[x].dims[1], gamma);
    uint32_t t = bp_tool_unary(g, name, BPF_OP_LAYERSCALE, x);
    if (t == BP_TOOL_NONE)
        return t;
    g->nodes[g->n_nodes - 1].n_in = 2;
    g->nodes[g->n_nodes - 1].in[1] = gm;
    return t;
}

uint32_t bp_tool_maxpool(bp_tool_graph *g, const char *name, uint32_t x, uint32_t k,
                         uint32_t stride, uint32_t pad)
{
    if (g->failed || x == BP_TOOL_NONE)
        return BP_TOOL_NONE;
    const bpf_tensor *xt = &g->tensors[x];
    uint32_t h = xt->dims[2], w = xt->dims[3];
    if (h + 2 * pad < k || w + 2 * pad < k) {
        g->failed = 2;
        return BP_TOOL_NONE;
    }
    uint32_t dims[4] = {1, xt->dims[1], (h + 2 * pad - k) / stride + 1,
                        (w + 2 * pad - k) / stride + 1};
    bpf_node *n = bp_tool_node(g, name, BPF_OP_MAXPOOL);
    if (!n)
        return BP_TOOL_NONE;
    n->n_in = 1;
    n->in[0] = x;
    int32_t iv[8] = {(int32_t)k, (int32_t)k, (int32_t)stride, (int32_t)stride,
                     (int32_t)pad, (int32_t)pad, (int32_t)pad, (int32_t)pad};
    memcpy(n->ints, iv, sizeof iv);
    return bp_tool_out(g, n, 4, dims);
}

uint32_t bp_tool_gap(bp_tool_graph *g, const char *name, uint32_t x)
{
    if (g->failed || x == BP_TOOL_NONE)
        return BP_TOOL_NONE;
    uint32_t dims[4] = {1, g->tensors[x].dims[1], 1, 1};
    bpf_node *n = bp_tool_node(g, name, BPF_OP_GLOBALAVGPOOL);
    if (!n)
        return BP_TOOL_NONE;
    n->n_in = 1;
    n->in[0] = x;
    return bp_tool_out(g, n, 4, dims);
}

uint32_t bp_tool_flatten(bp_tool_graph *g, const char *name, uint32_t x)
{
    if (g->failed || x == BP_TOOL_NONE)
        return BP_TOOL_NONE;
    const bpf_tensor *xt = &g->tensors[x];
    uint32_t c = 1;
    for (uint32_t i = 1; i < xt->ndim; i++)
        c *= xt->dims[i];
    uint32_t dims[2] = {1, c};
    bpf_node *n = bp_tool_node(g, name, BPF_OP_FLATTEN);
    if (!n)
        return BP_TOOL_NONE;
    n->n_in = 1;
    n->in[0] = x;
    return bp_tool_out(g, n, 2, dims);
}

void bp_tool_set_output(bp_tool_graph *g, uint32_t t) { g->output = t; }

int bp_tool_meta_set(bp_tool_graph *g, const char *key, const char *value)
{
    for (uint32_t i = 0; i < g->n_meta; i++) {
        if (!strcmp(g->meta[i].key, key)) {
            const char *v = bp_tool_strdup(g, value);
            if (!v)
                return -1;
            g->meta[i].value = v;
            return 0;
        }
    }
    if (g->failed || bp_tool_grow((void **)&g->meta, g->n_meta, &g->cap_meta, sizeof(bpf_kv))) {
        g->failed = 1;
        return -1;
    }
    const char *k = bp_tool_strdup(g, key), *v = bp_tool_strdup(g, value);
    if (!k || !v)
        return -1;
    g->meta[g->n_meta].key = k;
    g->meta[g->n_meta].value = v;
    g->n_meta++;
    return 0;
}

void bp_tool_graph_desc(const bp_tool_graph *g, bpf_model_desc *d)
{
    memset(d, 0, sizeof *d);
    d->n_meta = g->n_meta;
    d->meta = g->meta;
    d->n_tensors = g->n_tensors;
    d->tensors = g->tensors;
    d->n_nodes = g->n_nodes;
    d->nodes = g->nodes;
    d->n_layers = g->n_layers;
    d->layers = g->layers;
    d->n_inputs = 1;
    d->inputs = &g->input;
    d->n_outputs = 1;
    d->outputs = &g->output;
}
