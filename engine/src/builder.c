/* The public .bp writer API (bitprune_builder.h): a thin layer that keeps a
 * model as the format writer's records (bpf_model_desc), checks each call,
 * encodes layer weights into planes with the kernels' encoder, and leaves
 * validation and serialization to formats/ (bpf_write_memory,
 * bpf_replace_file). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitprune_builder.h"
#include "engine.h"

#define BB_SAME(a, b) ((int)(a) == (int)(b))
_Static_assert(BB_SAME(BP_OP_CONV2D, BPF_OP_CONV2D) && BB_SAME(BP_OP_LINEAR, BPF_OP_LINEAR) &&
                   BB_SAME(BP_OP_RELU, BPF_OP_RELU) && BB_SAME(BP_OP_GELU, BPF_OP_GELU) &&
                   BB_SAME(BP_OP_LAYERNORM, BPF_OP_LAYERNORM) &&
                   BB_SAME(BP_OP_LAYERSCALE, BPF_OP_LAYERSCALE) && BB_SAME(BP_OP_ADD, BPF_OP_ADD) &&
                   BB_SAME(BP_OP_MAXPOOL, BPF_OP_MAXPOOL) && BB_SAME(BP_OP_AVGPOOL, BPF_OP_AVGPOOL) &&
                   BB_SAME(BP_OP_GLOBALAVGPOOL, BPF_OP_GLOBALAVGPOOL) &&
                   BB_SAME(BP_OP_FLATTEN, BPF_OP_FLATTEN) && BB_SAME(BP_OP_SOFTMAX, BPF_OP_SOFTMAX) &&
                   BB_SAME(BP_OP_BATCHNORM, BPF_OP_BATCHNORM),
               "public op codes are the format's");
_Static_assert(BB_SAME(BP_DTYPE_U8, BPF_DT_U8) && BB_SAME(BP_DTYPE_S8, BPF_DT_S8), "dtype codes");
_Static_assert(BB_SAME(BP_ENCODING_BINARY, BPF_ENC_BINARY) && BB_SAME(BP_ENCODING_CSD, BPF_ENC_CSD) &&
                   BB_SAME(BP_ENCODING_BINARY, BP_ENC_BINARY) && BB_SAME(BP_ENCODING_CSD, BP_ENC_CSD),
               "encoding codes");
_Static_assert(BP_MAX_DIMS == BPF_MAX_DIMS && BPF_MAX_IO == 4, "record sizes");

/* What made a tensor. */
enum { BB_ACT_INPUT = 1, BB_CONST = 2, BB_NODE_OUT = 3 };

/* The storage a layer record points at. */
typedef struct bb_layer {
    float *w_scale, *bias;
    bp_planes_buf planes;
} bb_layer;

struct bp_builder {
    bpf_tensor *tensors;
    uint8_t *kind; /* per tensor, BB_* */
    uint32_t n_tensors, cap_tensors;
    bpf_node *nodes;
    uint32_t n_nodes, cap_nodes;
    bpf_layer *layers;
    bb_layer *ls;
    uint32_t n_layers, cap_layers;
    bpf_kv *meta;
    uint32_t n_meta, cap_meta;
    uint32_t inputs[BPF_MAX_IO], n_inputs;
    uint32_t outputs[BPF_MAX_IO], n_outputs;
};

/* Grows *arr (element size es, capacity *cap) to hold need elements. */
static int bb_reserve(void **arr, uint32_t *cap, uint32_t need, size_t es)
{
    if (need <= *cap) return 0;
    uint64_t nc = *cap ? (uint64_t)*cap * 2 : 32;
    while (nc < need) nc *= 2;
    if (nc > UINT32_MAX) nc = UINT32_MAX;
    void *p = realloc(*arr, (size_t)nc * es);
    if (!p) return -1;
    *arr = p;
    *cap = (uint32_t)nc;
    return 0;
}

static bp_status bb_nomem(const char *fn)
{
    return bp_fail(BP_ERR_NOMEM, "%s: out of memory", fn);
}

/* Checks the handle (and NULL) before anything is read through it. */
static bp_status bb_check(const bp_builder *b, const char *fn)
{
    if (!b) return bp_fail(BP_ERR_INVALID_ARG, "%s: builder is NULL", fn);
    return bp_handle_check(b, BP_HANDLE_BUILDER, fn);
}

static const char *bb_str(const char *s)
{
    return s ? s : "";
}

static char *bb_strdup(const char *s)
{
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p) memcpy(p, s, n + 1);
    return p;
}

/* Writes "(d0,d1,...)" into buf. */
static const char *bb_shape_str(char *buf, size_t n, uint32_t ndim, const uint32_t *dims)
{
    size_t o = 0;
    o += (size_t)snprintf(buf + o, n - o, "(");
    for (uint32_t i = 0; i < ndim && i < BPF_MAX_DIMS && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, i ? ",%u" : "%u", dims[i]);
    if (o < n) snprintf(buf + o, n - o, ")");
    return buf;
}

/* A tensor id an op reads: it exists. what names the operand for messages. */
static bp_status bb_tensor_ref(const bp_builder *b, const char *fn, const char *node,
                               const char *what, uint32_t t)
{
    if (t >= b->n_tensors)
        return bp_fail(BP_ERR_BAD_GRAPH,
                       "%s: node '%s': %s is tensor id %u, which does not exist (%u tensors "
                       "so far)", fn, node, what, t, b->n_tensors);
    return BP_OK;
}

/* A shape the format can hold: 1..6 dims of 1..2^20, at most 2^32 elements,
 * batch (dims[0]) 1 for activations. */
static bp_status bb_check_dims(const char *fn, const char *kind, const char *name,
                               uint32_t ndim, const uint32_t *dims, int batch1)
{
    if (ndim < 1 || ndim > BPF_MAX_DIMS)
        return bp_fail(BP_ERR_LIMIT, "%s: %s '%s': %u dims (1..%u)", fn, kind, name, ndim,
                       BPF_MAX_DIMS);
    if (!dims) return bp_fail(BP_ERR_INVALID_ARG, "%s: %s '%s': dims is NULL", fn, kind, name);
    uint64_t elems = 1;
    for (uint32_t i = 0; i < ndim; i++) {
        if (dims[i] < 1 || dims[i] > BPF_MAX_DIM)
            return bp_fail(BP_ERR_LIMIT, "%s: %s '%s': dims[%u] = %u (1..%u)", fn, kind, name,
                           i, dims[i], BPF_MAX_DIM);
        elems *= dims[i];
        if (elems > BPF_MAX_ELEMS)
            return bp_fail(BP_ERR_LIMIT, "%s: %s '%s': more than 2^32 elements", fn, kind,
                           name);
    }
    if (batch1 && dims[0] != 1)
        return bp_fail(BP_ERR_BAD_GRAPH,
                       "%s: %s '%s': dims[0] (the batch) is %u; activations are written "
                       "with batch 1", fn, kind, name, dims[0]);
    return BP_OK;
}

static bp_status bb_check_name(const char *fn, const char *kind, const char *name)
{
    if (strlen(name) > BPF_MAX_STRING)
        return bp_fail(BP_ERR_LIMIT, "%s: %s name of %zu bytes (at most %u)", fn, kind,
                       strlen(name), BPF_MAX_STRING);
    return BP_OK;
}

/* Room for one more tensor and node; nothing is committed. */
static bp_status bb_room(bp_builder *b, const char *fn, uint32_t tensors, uint32_t nodes)
{
    if ((uint64_t)b->n_tensors + tensors > BPF_MAX_TENSORS)
        return bp_fail(BP_ERR_LIMIT, "%s: more than %u tensors", fn, BPF_MAX_TENSORS);
    if ((uint64_t)b->n_nodes + nodes > BPF_MAX_NODES)
        return bp_fail(BP_ERR_LIMIT, "%s: more than %u nodes", fn, BPF_MAX_NODES);
    if (b->n_tensors + tensors > b->cap_tensors) {
        uint32_t cap = b->cap_tensors, cap2 = b->cap_tensors;
        if (bb_reserve((void **)&b->tensors, &cap, b->n_tensors + tensors, sizeof *b->tensors) ||
            bb_reserve((void **)&b->kind, &cap2, cap, 1))
            return bb_nomem(fn); /* both keep at least cap_tensors entries */
        b->cap_tensors = cap;
    }
    if (bb_reserve((void **)&b->nodes, &b->cap_nodes, b->n_nodes + nodes, sizeof *b->nodes))
        return bb_nomem(fn);
    return BP_OK;
}

/* Appends a tensor (room reserved, name owned by the caller until now). */
static uint32_t bb_push_tensor(bp_builder *b, char *name, uint32_t ndim, const uint32_t *dims,
                               void *data, uint64_t nbytes, uint8_t kind)
{
    bpf_tensor *t = &b->tensors[b->n_tensors];
    memset(t, 0, sizeof *t);
    t->name = name;
    t->dtype = BPF_DT_F32;
    t->ndim = ndim;
    memcpy(t->dims, dims, ndim * sizeof *dims);
    t->data = data;
    t->nbytes = nbytes;
    b->kind[b->n_tensors] = kind;
    return b->n_tensors++;
}

/* The name a node gets: name, or "<op>.<node index>". */
static char *bb_node_name(const bp_builder *b, const char *name, uint32_t op)
{
    if (name) return bb_strdup(name);
    char buf[64];
    snprintf(buf, sizeof buf, "%s.%u", bpf_op_name(op), b->n_nodes);
    return bb_strdup(buf);
}

BP_API bp_status bp_builder_create(bp_builder **out)
{
    if (!out) return bp_fail(BP_ERR_INVALID_ARG, "bp_builder_create: out is NULL");
    *out = NULL;
    bp_builder *b = calloc(1, sizeof *b);
    if (!b) return bb_nomem("bp_builder_create");
    if (!bp_handle_add(b, BP_HANDLE_BUILDER)) {
        free(b);
        return bb_nomem("bp_builder_create");
    }
    *out = b;
    return BP_OK;
}

static void bb_layer_free(bb_layer *L)
{
    free(L->w_scale);
    free(L->bias);
    bp_planes_buf_free(&L->planes);
    memset(L, 0, sizeof *L);
}

BP_API void bp_builder_free(bp_builder *b)
{
    if (!b || bp_handle_remove(b, BP_HANDLE_BUILDER, "bp_builder_free")) return;
    for (uint32_t i = 0; i < b->n_tensors; i++) {
        free((void *)b->tensors[i].name);
        free((void *)b->tensors[i].data);
    }
    for (uint32_t i = 0; i < b->n_nodes; i++) free((void *)b->nodes[i].name);
    for (uint32_t i = 0; i < b->n_layers; i++) bb_layer_free(&b->ls[i]);
    for (uint32_t i = 0; i < b->n_meta; i++) {
        free((void *)b->meta[i].key);
        free((void *)b->meta[i].value);
    }
    free(b->tensors);
    free(b->kind);
    free(b->nodes);
    free(b->layers);
    free(b->ls);
    free(b->meta);
    free(b);
}

/* ---- Tensors ---- */

BP_API bp_status bp_builder_input(bp_builder *b, const char *name, uint32_t ndim,
                                  const uint32_t *dims, uint32_t *out)
{
    static const char fn[] = "bp_builder_input";
    if (out) *out = BP_BUILDER_NONE;
    bp_status st = bb_check(b, fn);
    if (st) return st;
    name = bb_str(name);
    if ((st = bb_check_name(fn, "input", name))) return st;
    if ((st = bb_check_dims(fn, "input", name, ndim, dims, 1))) return st;
    if (b->n_inputs >= BPF_MAX_IO)
        return bp_fail(BP_ERR_LIMIT, "%s: input '%s': a model has at most %u inputs", fn, name,
                       BPF_MAX_IO);
    if ((st = bb_room(b, fn, 1, 0))) return st;
    char *nm = bb_strdup(name);
    if (!nm) return bb_nomem(fn);
    uint32_t t = bb_push_tensor(b, nm, ndim, dims, NULL, 0, BB_ACT_INPUT);
    b->inputs[b->n_inputs++] = t;
    if (out) *out = t;
    return BP_OK;
}

/* A constant from n floats (v NULL: all fill). Takes a copy, 64-byte aligned
 * as the reader's arrays are. */
static bp_status bb_constant(bp_builder *b, const char *fn, const char *name, uint32_t ndim,
                             const uint32_t *dims, const float *v, float fill, uint32_t *out)
{
    bp_status st;
    if ((st = bb_check_name(fn, "constant", name))) return st;
    if ((st = bb_check_dims(fn, "constant", name, ndim, dims, 0))) return st;
    uint64_t n = 1;
    for (uint32_t i = 0; i < ndim; i++) n *= dims[i];
    if (n * 4 > SIZE_MAX - 64) return bb_nomem(fn);
    if ((st = bb_room(b, fn, 1, 0))) return st;
    float *d = aligned_alloc(64, ((size_t)n * 4 + 63) & ~(size_t)63);
    char *nm = bb_strdup(name);
    if (!d || !nm) {
        free(d);
        free(nm);
        return bb_nomem(fn);
    }
    if (v)
        memcpy(d, v, (size_t)n * 4);
    else
        for (uint64_t i = 0; i < n; i++) d[i] = fill;
    *out = bb_push_tensor(b, nm, ndim, dims, d, n * 4, BB_CONST);
    return BP_OK;
}

BP_API bp_status bp_builder_constant(bp_builder *b, const char *name, uint32_t ndim,
                                     const uint32_t *dims, const float *data, uint32_t *out)
{
    static const char fn[] = "bp_builder_constant";
    if (out) *out = BP_BUILDER_NONE;
    bp_status st = bb_check(b, fn);
    if (st) return st;
    if (!data)
        return bp_fail(BP_ERR_INVALID_ARG, "%s: constant '%s': data is NULL", fn, bb_str(name));
    uint32_t t = 0;
    if ((st = bb_constant(b, fn, bb_str(name), ndim, dims, data, 0.0f, &t))) return st;
    if (out) *out = t;
    return BP_OK;
}

BP_API bp_status bp_builder_tensor_shape(const bp_builder *b, uint32_t t, uint32_t *ndim,
                                         uint32_t *dims)
{
    static const char fn[] = "bp_builder_tensor_shape";
    bp_status st = bb_check(b, fn);
    if (st) return st;
    if (!ndim || !dims) return bp_fail(BP_ERR_INVALID_ARG, "%s: ndim or dims is NULL", fn);
    if (t >= b->n_tensors)
        return bp_fail(BP_ERR_INVALID_ARG, "%s: tensor id %u does not exist (%u tensors)", fn,
                       t, b->n_tensors);
    *ndim = b->tensors[t].ndim;
    memcpy(dims, b->tensors[t].dims, b->tensors[t].ndim * sizeof *dims);
    return BP_OK;
}

/* ---- Nodes ---- */

/* Appends node (name owned, room reserved) and its output tensor, named
 * after the node. */
static bp_status bb_push_node(bp_builder *b, const char *fn, bpf_node *n, uint32_t ndim,
                              const uint32_t *dims, uint32_t *out)
{
    char *tn = bb_strdup(n->name);
    if (!tn) {
        free((void *)n->name);
        return bb_nomem(fn);
    }
    uint32_t t = bb_push_tensor(b, tn, ndim, dims, NULL, 0, BB_NODE_OUT);
    n->n_out = 1;
    n->out[0] = t;
    b->nodes[b->n_nodes++] = *n;
    if (out) *out = t;
    return BP_OK;
}

BP_API bp_status bp_builder_node(bp_builder *b, const bp_node_desc *d, uint32_t *out)
{
    static const char fn[] = "bp_builder_node";
    if (out) *out = BP_BUILDER_NONE;
    bp_status st = bb_check(b, fn);
    if (st) return st;
    if (!d) return bp_fail(BP_ERR_INVALID_ARG, "%s: desc is NULL", fn);
    bp_node_desc dv;
    memset(&dv, 0, sizeof dv);
    if ((st = bp_struct_read(&bp_sd_node_desc, d, &dv, fn, "desc"))) return st;
    d = &dv;
    char nbuf[64];
    const char *name = d->name;
    if (!name) {
        snprintf(nbuf, sizeof nbuf, "%s.%u", bpf_op_name(d->op), b->n_nodes);
        name = nbuf;
    }
    if ((st = bb_check_name(fn, "node", name))) return st;
    if (!strcmp(bpf_op_name(d->op), "?"))
        return bp_fail(BP_ERR_BAD_GRAPH, "%s: node '%s': unknown op code %u", fn, name, d->op);
    if (d->op == BPF_OP_CONV2D || d->op == BPF_OP_LINEAR)
        return bp_fail(BP_ERR_INVALID_ARG,
                       "%s: node '%s': op %s needs a layer: use bp_builder_%s", fn, name,
                       bpf_op_name(d->op), d->op == BPF_OP_CONV2D ? "conv2d" : "linear");
    if (d->n_in < 1 || d->n_in > BPF_MAX_IO)
        return bp_fail(BP_ERR_LIMIT, "%s: node '%s': n_in = %u (1..%u)", fn, name, d->n_in,
                       BPF_MAX_IO);
    for (uint32_t k = 0; k < BPF_MAX_IO; k++) {
        char what[32];
        snprintf(what, sizeof what, "input %u", k);
        if (k < d->n_in && (st = bb_tensor_ref(b, fn, name, what, d->in[k]))) return st;
        if (k >= d->n_in && d->in[k])
            return bp_fail(BP_ERR_BAD_GRAPH, "%s: node '%s': unused input slot %u is %u, not 0",
                           fn, name, k, d->in[k]);
    }
    if ((st = bb_check_dims(fn, "node output of", name, d->out_ndim, d->out_dims, 1))) return st;
    if ((st = bb_room(b, fn, 1, 1))) return st;
    bpf_node n;
    memset(&n, 0, sizeof n);
    n.name = bb_strdup(name);
    if (!n.name) return bb_nomem(fn);
    n.op = d->op;
    n.n_in = d->n_in;
    memcpy(n.in, d->in, sizeof n.in);
    n.layer = UINT32_MAX;
    memcpy(n.ints, d->ints, sizeof n.ints);
    memcpy(n.floats, d->floats, sizeof n.floats);
    return bb_push_node(b, fn, &n, d->out_ndim, d->out_dims, out);
}

/* A node on x with the output shape of x (or dims when given). */
static bp_status bb_simple(bp_builder *b, const char *fn, const char *name, uint32_t op,
                           uint32_t n_in, const uint32_t *in, uint32_t ndim,
                           const uint32_t *dims, const int32_t *ints, float f0, uint32_t *out)
{
    bp_status st;
    if ((st = bb_room(b, fn, 1, 1))) return st;
    bpf_node n;
    memset(&n, 0, sizeof n);
    n.name = bb_node_name(b, name, op);
    if (!n.name) return bb_nomem(fn);
    n.op = op;
    n.n_in = n_in;
    memcpy(n.in, in, n_in * sizeof *in);
    n.layer = UINT32_MAX;
    if (ints) memcpy(n.ints, ints, sizeof n.ints);
    n.floats[0] = f0;
    return bb_push_node(b, fn, &n, ndim, dims, out);
}

/* Common start of a convenience op on activation x: handle, name, x exists. */
static bp_status bb_begin(const bp_builder *b, const char *fn, const char **name, uint32_t op,
                          char *nbuf, size_t nlen, uint32_t x, uint32_t *out)
{
    if (out) *out = BP_BUILDER_NONE;
    bp_status st = bb_check(b, fn);
    if (st) return st;
    if (!*name) {
        snprintf(nbuf, nlen, "%s.%u", bpf_op_name(op), b->n_nodes);
        *name = nbuf;
    }
    if ((st = bb_check_name(fn, "node", *name))) return st;
    return bb_tensor_ref(b, fn, *name, "input", x);
}

static bp_status bb_unary(bp_builder *b, const char *fn, const char *name, uint32_t op,
                          uint32_t x, uint32_t *out)
{
    char nbuf[64];
    bp_status st = bb_begin(b, fn, &name, op, nbuf, sizeof nbuf, x, out);
    if (st) return st;
    const bpf_tensor *X = &b->tensors[x];
    uint32_t dims[BPF_MAX_DIMS];
    memcpy(dims, X->dims, sizeof dims);
    return bb_simple(b, fn, name, op, 1, &x, X->ndim, dims, NULL, 0.0f, out);
}

BP_API bp_status bp_builder_relu(bp_builder *b, const char *name, uint32_t x, uint32_t *out)
{
    return bb_unary(b, "bp_builder_relu", name, BPF_OP_RELU, x, out);
}

BP_API bp_status bp_builder_gelu(bp_builder *b, const char *name, uint32_t x, uint32_t *out)
{
    return bb_unary(b, "bp_builder_gelu", name, BPF_OP_GELU, x, out);
}

BP_API bp_status bp_builder_softmax(bp_builder *b, const char *name, uint32_t x, uint32_t *out)
{
    return bb_unary(b, "bp_builder_softmax", name, BPF_OP_SOFTMAX, x, out);
}

BP_API bp_status bp_builder_add(bp_builder *b, const char *name, uint32_t a, uint32_t c,
                                uint32_t *out)
{
    static const char fn[] = "bp_builder_add";
    char nbuf[64];
    bp_status st = bb_begin(b, fn, &name, BPF_OP_ADD, nbuf, sizeof nbuf, a, out);
    if (st) return st;
    if ((st = bb_tensor_ref(b, fn, name, "second input", c))) return st;
    const bpf_tensor *A = &b->tensors[a], *C = &b->tensors[c];
    if (A->ndim != C->ndim || memcmp(A->dims, C->dims, A->ndim * sizeof A->dims[0])) {
        char s1[96], s2[96];
        return bp_fail(BP_ERR_BAD_GRAPH, "%s: node '%s': inputs of shapes %s and %s (add needs "
                       "equal shapes)", fn, name, bb_shape_str(s1, sizeof s1, A->ndim, A->dims),
                       bb_shape_str(s2, sizeof s2, C->ndim, C->dims));
    }
    uint32_t in[2] = {a, c}, dims[BPF_MAX_DIMS];
    memcpy(dims, A->dims, sizeof dims);
    return bb_simple(b, fn, name, BPF_OP_ADD, 2, in, A->ndim, dims, NULL, 0.0f, out);
}

/* x must be (1, C, H, W). */
static bp_status bb_need_4d(const bp_builder *b, const char *fn, const char *name, uint32_t x)
{
    const bpf_tensor *X = &b->tensors[x];
    if (X->ndim != 4) {
        char s[96];
        return bp_fail(BP_ERR_BAD_GRAPH, "%s: node '%s': input '%s' has shape %s; this op "
                       "needs (N,C,H,W)", fn, name, bb_str(X->name),
                       bb_shape_str(s, sizeof s, X->ndim, X->dims));
    }
    return BP_OK;
}

static bp_status bb_pool(bp_builder *b, const char *fn, const char *name, uint32_t op,
                         uint32_t x, const bp_pool2d_params *p, uint32_t *out)
{
    char nbuf[64];
    bp_status st = bb_begin(b, fn, &name, op, nbuf, sizeof nbuf, x, out);
    if (st) return st;
    if (!p) return bp_fail(BP_ERR_INVALID_ARG, "%s: node '%s': params is NULL", fn, name);
    bp_pool2d_params pv;
    memset(&pv, 0, sizeof pv);
    if ((st = bp_struct_read(&bp_sd_pool2d_params, p, &pv, fn, "params"))) return st;
    p = &pv;
    if ((st = bb_need_4d(b, fn, name, x))) return st;
    uint32_t sh = p->stride_h ? p->stride_h : 1, sw = p->stride_w ? p->stride_w : 1;
    if (p->kh < 1 || p->kw < 1 || p->kh > BPF_MAX_KERNEL || p->kw > BPF_MAX_KERNEL ||
        sh > BPF_MAX_STRIDE || sw > BPF_MAX_STRIDE)
        return bp_fail(BP_ERR_LIMIT, "%s: node '%s': window %ux%u, stride %ux%u (1..64)", fn,
                       name, p->kh, p->kw, sh, sw);
    if (p->pad_t >= p->kh || p->pad_b >= p->kh || p->pad_l >= p->kw || p->pad_r >= p->kw)
        return bp_fail(BP_ERR_BAD_GRAPH, "%s: node '%s': padding (t %u, l %u, b %u, r %u) must "
                       "be smaller than the %ux%u window", fn, name, p->pad_t, p->pad_l,
                       p->pad_b, p->pad_r, p->kh, p->kw);
    const bpf_tensor *X = &b->tensors[x];
    uint64_t H = (uint64_t)X->dims[2] + p->pad_t + p->pad_b;
    uint64_t W = (uint64_t)X->dims[3] + p->pad_l + p->pad_r;
    if (H < p->kh || W < p->kw)
        return bp_fail(BP_ERR_BAD_GRAPH, "%s: node '%s': padded input %llux%llu is smaller "
                       "than the %ux%u window", fn, name, (unsigned long long)H,
                       (unsigned long long)W, p->kh, p->kw);
    uint32_t dims[4] = {1, X->dims[1], (uint32_t)((H - p->kh) / sh + 1),
                        (uint32_t)((W - p->kw) / sw + 1)};
    int32_t iv[8] = {(int32_t)p->kh,    (int32_t)p->kw,    (int32_t)sh,
                     (int32_t)sw,       (int32_t)p->pad_t, (int32_t)p->pad_l,
                     (int32_t)p->pad_b, (int32_t)p->pad_r};
    return bb_simple(b, fn, name, op, 1, &x, 4, dims, iv, 0.0f, out);
}

BP_API bp_status bp_builder_maxpool(bp_builder *b, const char *name, uint32_t x,
                                    const bp_pool2d_params *p, uint32_t *out)
{
    return bb_pool(b, "bp_builder_maxpool", name, BPF_OP_MAXPOOL, x, p, out);
}

BP_API bp_status bp_builder_avgpool(bp_builder *b, const char *name, uint32_t x,
                                    const bp_pool2d_params *p, uint32_t *out)
{
    return bb_pool(b, "bp_builder_avgpool", name, BPF_OP_AVGPOOL, x, p, out);
}

BP_API bp_status bp_builder_global_avgpool(bp_builder *b, const char *name, uint32_t x,
                                           uint32_t *out)
{
    static const char fn[] = "bp_builder_global_avgpool";
    char nbuf[64];
    bp_status st = bb_begin(b, fn, &name, BPF_OP_GLOBALAVGPOOL, nbuf, sizeof nbuf, x, out);
    if (st || (st = bb_need_4d(b, fn, name, x))) return st;
    uint32_t dims[4] = {1, b->tensors[x].dims[1], 1, 1};
    return bb_simple(b, fn, name, BPF_OP_GLOBALAVGPOOL, 1, &x, 4, dims, NULL, 0.0f, out);
}

BP_API bp_status bp_builder_flatten(bp_builder *b, const char *name, uint32_t x, uint32_t *out)
{
    static const char fn[] = "bp_builder_flatten";
    char nbuf[64];
    bp_status st = bb_begin(b, fn, &name, BPF_OP_FLATTEN, nbuf, sizeof nbuf, x, out);
    if (st) return st;
    const bpf_tensor *X = &b->tensors[x];
    uint64_t c = 1;
    for (uint32_t i = 1; i < X->ndim; i++) c *= X->dims[i];
    if (X->ndim < 2 || c > BPF_MAX_DIM)
        return bp_fail(X->ndim < 2 ? BP_ERR_BAD_GRAPH : BP_ERR_LIMIT,
                       "%s: node '%s': flattening %u-D input '%s' gives %llu features (needs "
                       "2+ dims, at most %u features)", fn, name, X->ndim, bb_str(X->name),
                       (unsigned long long)c, BPF_MAX_DIM);
    uint32_t dims[2] = {1, (uint32_t)c};
    return bb_simple(b, fn, name, BPF_OP_FLATTEN, 1, &x, 2, dims, NULL, 0.0f, out);
}

/* LAYERNORM / LAYERSCALE / BATCHNORM: np per-channel constants, then the node. */
static bp_status bb_channel_op(bp_builder *b, const char *fn, const char *name, uint32_t op,
                               uint32_t x, uint32_t np, const float *const *pv,
                               const float *fill, const char *const *suffix, float eps,
                               uint32_t *out)
{
    char nbuf[64];
    bp_status st = bb_begin(b, fn, &name, op, nbuf, sizeof nbuf, x, out);
    if (st) return st;
    const bpf_tensor *X = &b->tensors[x];
    if (X->ndim < 2)
        return bp_fail(BP_ERR_BAD_GRAPH, "%s: node '%s': input '%s' has %u dim; per-channel "
                       "ops need 2 or more (channels are dim 1)", fn, name, bb_str(X->name),
                       X->ndim);
    if (op == BPF_OP_LAYERNORM && !(isfinite(eps) && eps > 0))
        return bp_fail(BP_ERR_BAD_GRAPH, "%s: node '%s': eps = %g (finite and > 0)", fn, name,
                       (double)eps);
    for (uint32_t k = 0; k < np; k++)
        if (pv[k])
            for (uint32_t c = 0; c < X->dims[1]; c++)
                if (!isfinite(pv[k][c]))
                    return bp_fail(BP_ERR_BAD_GRAPH, "%s: node '%s': %s[%u] is not finite", fn,
                                   name, suffix[k], c);
    /* Constants first (their ids precede the node's output), then the node;
     * a failure after a constant was added removes it again. */
    uint32_t in[3] = {x, 0, 0}, C = X->dims[1], n0 = b->n_tensors;
    uint32_t dims[BPF_MAX_DIMS];
    memcpy(dims, X->dims, sizeof dims);
    uint32_t ndim = X->ndim;
    if ((st = bb_room(b, fn, np + 1, 1))) return st; /* X may move */
    for (uint32_t k = 0; k < np && !st; k++) {
        char cn[BPF_MAX_STRING + 32];
        snprintf(cn, sizeof cn, "%s.%s", name, suffix[k]);
        st = bb_constant(b, fn, cn, 1, &C, pv[k], fill[k], &in[1 + k]);
    }
    if (!st) st = bb_simple(b, fn, name, op, 1 + np, in, ndim, dims, NULL, eps, out);
    if (st) {
        while (b->n_tensors > n0) {
            b->n_tensors--;
            free((void *)b->tensors[b->n_tensors].name);
            free((void *)b->tensors[b->n_tensors].data);
        }
    }
    return st;
}

BP_API bp_status bp_builder_layernorm(bp_builder *b, const char *name, uint32_t x,
                                      const float *gamma, const float *beta, float eps,
                                      uint32_t *out)
{
    const float *pv[2] = {gamma, beta};
    static const float fill[2] = {1.0f, 0.0f};
    static const char *const sfx[2] = {"weight", "bias"};
    return bb_channel_op(b, "bp_builder_layernorm", name, BPF_OP_LAYERNORM, x, 2, pv, fill, sfx,
                         eps, out);
}

BP_API bp_status bp_builder_layerscale(bp_builder *b, const char *name, uint32_t x,
                                       const float *gamma, uint32_t *out)
{
    const float *pv[1] = {gamma};
    static const float fill[1] = {1.0f};
    static const char *const sfx[1] = {"gamma"};
    return bb_channel_op(b, "bp_builder_layerscale", name, BPF_OP_LAYERSCALE, x, 1, pv, fill,
                         sfx, 0.0f, out);
}

BP_API bp_status bp_builder_batchnorm(bp_builder *b, const char *name, uint32_t x,
                                      const float *scale, const float *shift, uint32_t *out)
{
    const float *pv[2] = {scale, shift};
    static const float fill[2] = {1.0f, 0.0f};
    static const char *const sfx[2] = {"scale", "shift"};
    return bb_channel_op(b, "bp_builder_batchnorm", name, BPF_OP_BATCHNORM, x, 2, pv, fill, sfx,
                         0.0f, out);
}

/* ---- Layers ---- */

/* Fills L's quantization, scales, bias and planes from w (NULL: zero weights,
 * unit scales, s8 at step 1) into fresh storage *ls; nothing of the builder
 * changes. */
static bp_status bb_weights(const char *fn, const char *name, bpf_layer *L, bb_layer *ls,
                            const bp_layer_weights *w)
{
    bp_layer_weights wv;
    memset(&wv, 0, sizeof wv);
    if (w) {
        bp_status st = bp_struct_read(&bp_sd_layer_weights, w, &wv, fn, "weights");
        if (st) return st;
    }
    w = &wv;
    uint32_t c_out = L->c_out, K = L->K;
    uint32_t act_dtype = w->act_dtype ? w->act_dtype : BPF_DT_S8;
    float act_scale = w->act_scale != 0.0f ? w->act_scale : 1.0f;
    if (act_dtype != BPF_DT_U8 && act_dtype != BPF_DT_S8)
        return bp_fail(BP_ERR_INVALID_ARG, "%s: layer '%s': act_dtype %u (BP_DTYPE_U8 or "
                       "BP_DTYPE_S8)", fn, name, act_dtype);
    if (!(isfinite(act_scale) && act_scale > 0))
        return bp_fail(BP_ERR_BAD_GRAPH, "%s: layer '%s': act_scale %g (finite and > 0)", fn,
                       name, (double)act_scale);
    if (w->encoding != BPF_ENC_BINARY && w->encoding != BPF_ENC_CSD)
        return bp_fail(BP_ERR_INVALID_ARG, "%s: layer '%s': encoding %u (BP_ENCODING_BINARY or "
                       "BP_ENCODING_CSD)", fn, name, w->encoding);
    if (w->w_max > BPF_W_MAX)
        return bp_fail(BP_ERR_LIMIT, "%s: layer '%s': w_max %u (at most %u)", fn, name,
                       w->w_max, BPF_W_MAX);
    size_t n = (size_t)c_out * K;
    uint32_t amax = 0;
    if (w->w)
        for (size_t i = 0; i < n; i++) {
            int32_t v = w->w[i];
            uint32_t a = (uint32_t)(v < 0 ? -v : v);
            if (a > BPF_W_MAX || (w->w_max && a > w->w_max))
                return bp_fail(a > BPF_W_MAX ? BP_ERR_LIMIT : BP_ERR_BAD_PLANES,
                               "%s: layer '%s': weight [%zu][%zu] = %d is beyond %u (%s)", fn,
                               name, i / K, i % K, (int)v,
                               a > BPF_W_MAX ? BPF_W_MAX : w->w_max,
                               a > BPF_W_MAX ? "the format's limit" : "the declared w_max");
            if (a > amax) amax = a;
        }
    for (uint32_t j = 0; j < c_out; j++) {
        if (w->w_scale && !isfinite(w->w_scale[j]))
            return bp_fail(BP_ERR_BAD_GRAPH, "%s: layer '%s': w_scale[%u] = %g is not finite",
                           fn, name, j, (double)w->w_scale[j]);
        if (w->bias && !isfinite(w->bias[j]))
            return bp_fail(BP_ERR_BAD_GRAPH, "%s: layer '%s': bias[%u] = %g is not finite", fn,
                           name, j, (double)w->bias[j]);
    }
    uint32_t wmax = w->w_max ? w->w_max : amax;
    uint32_t M = bp_digits_positions((int32_t)wmax, (bp_encoding)w->encoding);
    if (M < 1) M = 1; /* at least one digit position (SPEC.md R44), also for w_max 0 */
    memset(ls, 0, sizeof *ls);
    ls->w_scale = malloc((size_t)c_out * sizeof(float));
    ls->bias = malloc((size_t)c_out * sizeof(float));
    int16_t *zw = w->w ? NULL : calloc(n ? n : 1, sizeof *zw);
    if (!ls->w_scale || !ls->bias || (!w->w && !zw) ||
        bp_planes_from_dense(w->w ? w->w : zw, c_out, K, (bp_encoding)w->encoding, M,
                             &ls->planes)) {
        free(zw);
        bb_layer_free(ls);
        return bb_nomem(fn);
    }
    free(zw);
    for (uint32_t j = 0; j < c_out; j++) {
        ls->w_scale[j] = w->w_scale ? w->w_scale[j] : 1.0f;
        ls->bias[j] = w->bias ? w->bias[j] : 0.0f;
    }
    L->M = M;
    L->encoding = w->encoding;
    L->w_max = wmax;
    L->act_dtype = act_dtype;
    L->act_scale = act_scale;
    L->w_scale = ls->w_scale;
    L->bias = ls->bias;
    L->idx_bytes = ls->planes.p.idx_bytes;
    L->n_digits = ls->planes.ndigits;
    L->row_ptr = ls->planes.row_ptr;
    L->col_idx = ls->planes.idx;
    return BP_OK;
}

/* Adds layer L (geometry filled) with its node reading x. */
static bp_status bb_layer_node(bp_builder *b, const char *fn, const char *name, uint32_t op,
                               uint32_t x, bpf_layer *L, const bp_layer_weights *w,
                               uint32_t ndim, const uint32_t *dims, uint32_t *out)
{
    bp_status st;
    if (L->K < 1 || L->K > BPF_K_MAX)
        return bp_fail(BP_ERR_LIMIT, "%s: layer '%s': K = %u (1..%u)", fn, name, L->K,
                       BPF_K_MAX);
    if (b->n_layers >= BPF_MAX_LAYERS)
        return bp_fail(BP_ERR_LIMIT, "%s: layer '%s': more than %u layers", fn, name,
                       BPF_MAX_LAYERS);
    if ((st = bb_room(b, fn, 1, 1))) return st;
    if (b->n_layers + 1 > b->cap_layers) {
        uint32_t cap = b->cap_layers, cap2 = b->cap_layers;
        if (bb_reserve((void **)&b->layers, &cap, b->n_layers + 1, sizeof *b->layers) ||
            bb_reserve((void **)&b->ls, &cap2, cap, sizeof *b->ls))
            return bb_nomem(fn);
        b->cap_layers = cap;
    }
    bb_layer ls;
    if ((st = bb_weights(fn, name, L, &ls, w))) return st;
    bpf_node n;
    memset(&n, 0, sizeof n);
    n.name = bb_strdup(name);
    if (!n.name) {
        bb_layer_free(&ls);
        return bb_nomem(fn);
    }
    n.op = op;
    n.n_in = 1;
    n.in[0] = x;
    n.layer = b->n_layers;
    if ((st = bb_push_node(b, fn, &n, ndim, dims, out))) {
        bb_layer_free(&ls);
        return st;
    }
    b->layers[b->n_layers] = *L;
    b->ls[b->n_layers] = ls;
    b->n_layers++;
    return BP_OK;
}

BP_API bp_status bp_builder_conv2d(bp_builder *b, const char *name, uint32_t x,
                                   const bp_conv2d_params *p, const bp_layer_weights *w,
                                   uint32_t *out)
{
    static const char fn[] = "bp_builder_conv2d";
    char nbuf[64];
    bp_status st = bb_begin(b, fn, &name, BPF_OP_CONV2D, nbuf, sizeof nbuf, x, out);
    if (st) return st;
    if (!p) return bp_fail(BP_ERR_INVALID_ARG, "%s: layer '%s': params is NULL", fn, name);
    bp_conv2d_params pv;
    memset(&pv, 0, sizeof pv);
    if ((st = bp_struct_read(&bp_sd_conv2d_params, p, &pv, fn, "params"))) return st;
    p = &pv;
    if ((st = bb_need_4d(b, fn, name, x))) return st;
    const bpf_tensor *X = &b->tensors[x];
    bpf_layer L;
    memset(&L, 0, sizeof L);
    L.kind = BPF_LAYER_CONV;
    L.c_out = p->c_out;
    L.c_in = X->dims[1];
    L.kh = p->kh;
    L.kw = p->kw;
    L.stride_h = p->stride_h ? p->stride_h : 1;
    L.stride_w = p->stride_w ? p->stride_w : 1;
    L.pad_t = p->pad_t;
    L.pad_l = p->pad_l;
    L.pad_b = p->pad_b;
    L.pad_r = p->pad_r;
    L.dil_h = p->dil_h ? p->dil_h : 1;
    L.dil_w = p->dil_w ? p->dil_w : 1;
    L.groups = p->groups ? p->groups : 1;
    if (L.c_out < 1 || L.c_out > BPF_MAX_CHANNELS || L.c_in > BPF_MAX_CHANNELS)
        return bp_fail(BP_ERR_LIMIT, "%s: layer '%s': c_out %u, c_in %u (1..%u)", fn, name,
                       L.c_out, L.c_in, BPF_MAX_CHANNELS);
    if (L.kh < 1 || L.kw < 1 || L.kh > BPF_MAX_KERNEL || L.kw > BPF_MAX_KERNEL ||
        L.stride_h > BPF_MAX_STRIDE || L.stride_w > BPF_MAX_STRIDE ||
        L.dil_h > BPF_MAX_DILATION || L.dil_w > BPF_MAX_DILATION || L.pad_t > BPF_MAX_PAD ||
        L.pad_l > BPF_MAX_PAD || L.pad_b > BPF_MAX_PAD || L.pad_r > BPF_MAX_PAD)
        return bp_fail(BP_ERR_LIMIT, "%s: layer '%s': kernel %ux%u, stride %ux%u, dilation "
                       "%ux%u (1..64), pads t %u l %u b %u r %u (0..64)", fn, name, L.kh, L.kw,
                       L.stride_h, L.stride_w, L.dil_h, L.dil_w, L.pad_t, L.pad_l, L.pad_b,
                       L.pad_r);
    if (L.c_in % L.groups || L.c_out % L.groups)
        return bp_fail(BP_ERR_BAD_GRAPH, "%s: layer '%s': groups %u does not divide c_in %u "
                       "and c_out %u", fn, name, L.groups, L.c_in, L.c_out);
    uint64_t H = (uint64_t)X->dims[2] + L.pad_t + L.pad_b;
    uint64_t W = (uint64_t)X->dims[3] + L.pad_l + L.pad_r;
    uint64_t eh = (uint64_t)L.dil_h * (L.kh - 1) + 1, ew = (uint64_t)L.dil_w * (L.kw - 1) + 1;
    if (H < eh || W < ew)
        return bp_fail(BP_ERR_BAD_GRAPH, "%s: layer '%s': padded input %llux%llu is smaller "
                       "than the dilated %llux%llu kernel", fn, name, (unsigned long long)H,
                       (unsigned long long)W, (unsigned long long)eh, (unsigned long long)ew);
    L.K = (uint32_t)((uint64_t)L.c_in / L.groups * L.kh * L.kw > UINT32_MAX
                         ? UINT32_MAX
                         : (uint64_t)L.c_in / L.groups * L.kh * L.kw);
    uint32_t dims[4] = {1, L.c_out, (uint32_t)((H - eh) / L.stride_h + 1),
                        (uint32_t)((W - ew) / L.stride_w + 1)};
    return bb_layer_node(b, fn, name, BPF_OP_CONV2D, x, &L, w, 4, dims, out);
}

BP_API bp_status bp_builder_linear(bp_builder *b, const char *name, uint32_t x, uint32_t c_out,
                                   const bp_layer_weights *w, uint32_t *out)
{
    static const char fn[] = "bp_builder_linear";
    char nbuf[64];
    bp_status st = bb_begin(b, fn, &name, BPF_OP_LINEAR, nbuf, sizeof nbuf, x, out);
    if (st) return st;
    const bpf_tensor *X = &b->tensors[x];
    if (!(X->ndim == 2 || (X->ndim == 4 && X->dims[2] == 1 && X->dims[3] == 1))) {
        char s[96];
        return bp_fail(BP_ERR_BAD_GRAPH, "%s: layer '%s': input '%s' has shape %s; linear "
                       "needs (N,C) or (N,C,1,1) (flatten it first)", fn, name, bb_str(X->name),
                       bb_shape_str(s, sizeof s, X->ndim, X->dims));
    }
    if (c_out < 1 || c_out > BPF_MAX_CHANNELS || X->dims[1] > BPF_MAX_CHANNELS)
        return bp_fail(BP_ERR_LIMIT, "%s: layer '%s': c_out %u, c_in %u (1..%u)", fn, name,
                       c_out, X->dims[1], BPF_MAX_CHANNELS);
    bpf_layer L;
    memset(&L, 0, sizeof L);
    L.kind = BPF_LAYER_LINEAR;
    L.c_out = c_out;
    L.c_in = X->dims[1];
    L.kh = L.kw = L.stride_h = L.stride_w = L.dil_h = L.dil_w = L.groups = 1;
    L.K = L.c_in;
    uint32_t dims[2] = {1, c_out};
    return bb_layer_node(b, fn, name, BPF_OP_LINEAR, x, &L, w, 2, dims, out);
}

BP_API uint32_t bp_builder_layer_count(const bp_builder *b)
{
    return bb_check(b, "bp_builder_layer_count") ? 0 : b->n_layers;
}

/* The node that uses layer l (for messages). */
static const char *bb_layer_name(const bp_builder *b, uint32_t l)
{
    for (uint32_t i = 0; i < b->n_nodes; i++)
        if (b->nodes[i].layer == l) return bb_str(b->nodes[i].name);
    return "";
}

static bp_status bb_layer_ref(const bp_builder *b, const char *fn, uint32_t layer)
{
    bp_status st = bb_check(b, fn);
    if (st) return st;
    if (layer >= b->n_layers)
        return bp_fail(BP_ERR_INVALID_ARG, "%s: layer %u does not exist (%u layers)", fn, layer,
                       b->n_layers);
    return BP_OK;
}

BP_API bp_status bp_builder_layer_shape(const bp_builder *b, uint32_t layer, uint32_t *c_out,
                                        uint32_t *K)
{
    bp_status st = bb_layer_ref(b, "bp_builder_layer_shape", layer);
    if (st) return st;
    if (c_out) *c_out = b->layers[layer].c_out;
    if (K) *K = b->layers[layer].K;
    return BP_OK;
}

BP_API bp_status bp_builder_set_layer_weights(bp_builder *b, uint32_t layer,
                                              const bp_layer_weights *w)
{
    static const char fn[] = "bp_builder_set_layer_weights";
    bp_status st = bb_layer_ref(b, fn, layer);
    if (st) return st;
    const char *name = bb_layer_name(b, layer);
    if (!w) return bp_fail(BP_ERR_INVALID_ARG, "%s: layer %u '%s': weights is NULL", fn, layer,
                           name);
    bpf_layer L = b->layers[layer];
    bb_layer ls;
    if ((st = bb_weights(fn, name, &L, &ls, w))) return st;
    bb_layer_free(&b->ls[layer]);
    b->ls[layer] = ls;
    b->layers[layer] = L;
    return BP_OK;
}

BP_API bp_status bp_builder_set_layer_act(bp_builder *b, uint32_t layer, uint32_t act_dtype,
                                          float act_scale)
{
    static const char fn[] = "bp_builder_set_layer_act";
    bp_status st = bb_layer_ref(b, fn, layer);
    if (st) return st;
    if (act_dtype != BPF_DT_U8 && act_dtype != BPF_DT_S8)
        return bp_fail(BP_ERR_INVALID_ARG, "%s: layer %u '%s': act_dtype %u (BP_DTYPE_U8 or "
                       "BP_DTYPE_S8)", fn, layer, bb_layer_name(b, layer), act_dtype);
    if (!(isfinite(act_scale) && act_scale > 0))
        return bp_fail(BP_ERR_BAD_GRAPH, "%s: layer %u '%s': act_scale %g (finite and > 0)", fn,
                       layer, bb_layer_name(b, layer), (double)act_scale);
    b->layers[layer].act_dtype = act_dtype;
    b->layers[layer].act_scale = act_scale;
    return BP_OK;
}

/* ---- Model ---- */

/* t can be a graph output. */
static bp_status bb_output_ok(const bp_builder *b, const char *fn, uint32_t t)
{
    if (t >= b->n_tensors)
        return bp_fail(BP_ERR_BAD_GRAPH, "%s: tensor id %u does not exist (%u tensors so far)",
                       fn, t, b->n_tensors);
    if (b->kind[t] == BB_CONST)
        return bp_fail(BP_ERR_BAD_GRAPH, "%s: tensor %u '%s' is a constant; outputs are "
                       "activations", fn, t, bb_str(b->tensors[t].name));
    return BP_OK;
}

BP_API bp_status bp_builder_output(bp_builder *b, uint32_t t)
{
    static const char fn[] = "bp_builder_output";
    bp_status st = bb_check(b, fn);
    if (st || (st = bb_output_ok(b, fn, t))) return st;
    if (b->n_outputs >= BPF_MAX_IO)
        return bp_fail(BP_ERR_LIMIT, "%s: tensor %u '%s': a model has at most %u outputs", fn, t,
                       bb_str(b->tensors[t].name), BPF_MAX_IO);
    b->outputs[b->n_outputs++] = t;
    return BP_OK;
}

BP_API bp_status bp_builder_set_meta(bp_builder *b, const char *key, const char *value)
{
    static const char fn[] = "bp_builder_set_meta";
    bp_status st = bb_check(b, fn);
    if (st) return st;
    if (!key || !value)
        return bp_fail(BP_ERR_INVALID_ARG, "%s: key or value is NULL", fn);
    if (!*key) return bp_fail(BP_ERR_BAD_META, "%s: empty key", fn);
    if (strlen(key) > BPF_MAX_STRING || strlen(value) > BPF_MAX_STRING)
        return bp_fail(BP_ERR_LIMIT, "%s: key '%.64s': key or value longer than %u bytes", fn,
                       key, BPF_MAX_STRING);
    char *v = bb_strdup(value);
    if (!v) return bb_nomem(fn);
    for (uint32_t i = 0; i < b->n_meta; i++)
        if (!strcmp(b->meta[i].key, key)) {
            free((void *)b->meta[i].value);
            b->meta[i].value = v;
            return BP_OK;
        }
    if (b->n_meta >= BPF_MAX_META) {
        free(v);
        return bp_fail(BP_ERR_LIMIT, "%s: key '%.64s': more than %u metadata entries", fn, key,
                       BPF_MAX_META);
    }
    char *k = bb_strdup(key);
    if (!k || bb_reserve((void **)&b->meta, &b->cap_meta, b->n_meta + 1, sizeof *b->meta)) {
        free(k);
        free(v);
        return bb_nomem(fn);
    }
    b->meta[b->n_meta].key = k;
    b->meta[b->n_meta].value = v;
    b->n_meta++;
    return BP_OK;
}

BP_API bp_status bp_builder_set_outputs(bp_builder *b, uint32_t n, const uint32_t *ids)
{
    static const char fn[] = "bp_builder_set_outputs";
    bp_status st = bb_check(b, fn);
    if (st) return st;
    if (n > BPF_MAX_IO)
        return bp_fail(BP_ERR_LIMIT, "%s: %u outputs (at most %u)", fn, n, BPF_MAX_IO);
    if (n && !ids) return bp_fail(BP_ERR_INVALID_ARG, "%s: ids is NULL", fn);
    for (uint32_t i = 0; i < n; i++)
        if ((st = bb_output_ok(b, fn, ids[i]))) return st;
    if (n) memcpy(b->outputs, ids, n * sizeof *ids);
    b->n_outputs = n;
    return BP_OK;
}

/* The writer's view of the model, after the checks a desc cannot express. */
static bp_status bb_desc(const bp_builder *b, const char *fn, bpf_model_desc *d)
{
    bp_status st = bb_check(b, fn);
    if (st) return st;
    if (!b->n_inputs)
        return bp_fail(BP_ERR_BAD_GRAPH, "%s: the model has no input (bp_builder_input)", fn);
    if (!b->n_outputs)
        return bp_fail(BP_ERR_BAD_GRAPH, "%s: the model has no output (bp_builder_output)", fn);
    memset(d, 0, sizeof *d);
    d->n_meta = b->n_meta;
    d->meta = b->meta;
    d->n_tensors = b->n_tensors;
    d->tensors = b->tensors;
    d->n_nodes = b->n_nodes;
    d->nodes = b->nodes;
    d->n_layers = b->n_layers;
    d->layers = b->layers;
    d->n_inputs = b->n_inputs;
    d->inputs = b->inputs;
    d->n_outputs = b->n_outputs;
    d->outputs = b->outputs;
    return BP_OK;
}

BP_API bp_status bp_builder_write_memory(const bp_builder *b, void **buf, size_t *size)
{
    static const char fn[] = "bp_builder_write_memory";
    if (buf) *buf = NULL;
    if (size) *size = 0;
    bp_status st = bb_check(b, fn);
    if (st) return st;
    if (!buf || !size) return bp_fail(BP_ERR_INVALID_ARG, "%s: buf or size is NULL", fn);
    bpf_model_desc d;
    if ((st = bb_desc(b, fn, &d))) return st;
    st = (bp_status)bpf_write_memory(&d, buf, size);
    if (st) return bp_fail(st, "%s: %s", fn, bpf_last_error());
    return BP_OK;
}

BP_API bp_status bp_builder_validate(const bp_builder *b)
{
    void *buf;
    size_t size;
    bp_status st = bp_builder_write_memory(b, &buf, &size);
    if (!st) free(buf);
    return st;
}

BP_API bp_status bp_builder_write_file(const bp_builder *b, const char *path)
{
    static const char fn[] = "bp_builder_write_file";
    bp_status st = bb_check(b, fn);
    if (st) return st;
    if (!path) return bp_fail(BP_ERR_INVALID_ARG, "%s: path is NULL", fn);
    bpf_model_desc d;
    if ((st = bb_desc(b, fn, &d))) return st;
    st = (bp_status)bpf_write_file(&d, path);
    if (st) return bp_fail(st, "%s: %s", fn, bpf_last_error());
    return BP_OK;
}
