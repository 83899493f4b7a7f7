/* Sessions: backend choice, graph planning (fusion of conv/linear with a
 * following relu / residual add, shape checks, liveness-based buffer reuse in
 * one arena, the activation layout the backend asks for: NCHW, or NHWC with
 * graph inputs/outputs converted once per run), the allocation-free run loop
 * and profiling. Handles are checked
 * against the live-handle registry (handles.c) before use. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"

static bp_status bp_check_session(const bp_session *s, const char *fn)
{
    if (!s) return bp_fail(BP_ERR_INVALID_ARG, "%s: session is NULL", fn);
    bp_status st = bp_handle_check(s, BP_HANDLE_SESSION, fn);
    if (!st && s->magic != BP_SESSION_MAGIC)
        st = bp_fail(BP_ERR_STATE, "%s: session %p is corrupted", fn, (const void *)s);
    return st;
}

/* ---- backends by name ---- */
static const bp_backend *const bp_backends[] = {
    &bp_backend_reference, &bp_backend_bitplane, &bp_backend_csr,
#ifdef BP_HAVE_ONEDNN
    &bp_backend_onednn_int8, &bp_backend_onednn_f32,
#endif
};
#define BP_N_BACKENDS (sizeof bp_backends / sizeof bp_backends[0])

BP_API uint32_t bp_backend_count(void)
{
    return (uint32_t)BP_N_BACKENDS;
}

BP_API const char *bp_backend_name(uint32_t i)
{
    return i < BP_N_BACKENDS ? bp_backends[i]->name : NULL;
}

static void bp_session_opts_defaults(bp_session_opts *o)
{
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->backend = "bitplane";
    o->threads = 0;
    o->batch = 1;
    o->isa = NULL;
}

BP_API bp_status bp_session_opts_init_sized(bp_session_opts *o, size_t size)
{
    if (!o) return bp_fail(BP_ERR_INVALID_ARG, "bp_session_opts_init: o is NULL");
    bp_session_opts d;
    bp_session_opts_defaults(&d);
    return bp_struct_init(&bp_sd_session_opts, o, size, &d, "bp_session_opts_init");
}

/* ---- planning ---- */
static const char *bp_op_name(uint32_t op)
{
    switch (op) {
    case BPF_OP_CONV2D: return "conv2d";
    case BPF_OP_LINEAR: return "linear";
    case BPF_OP_RELU: return "relu";
    case BPF_OP_GELU: return "gelu";
    case BPF_OP_LAYERNORM: return "layernorm";
    case BPF_OP_LAYERSCALE: return "layerscale";
    case BPF_OP_ADD: return "add";
    case BPF_OP_MAXPOOL: return "maxpool";
    case BPF_OP_AVGPOOL: return "avgpool";
    case BPF_OP_GLOBALAVGPOOL: return "globalavgpool";
    case BPF_OP_FLATTEN: return "flatten";
    case BPF_OP_SOFTMAX: return "softmax";
    case BPF_OP_BATCHNORM: return "batchnorm";
    case BPF_OP_SIGMOID: return "sigmoid";
    case BPF_OP_HARDSIGMOID: return "hardsigmoid";
    case BPF_OP_HARDSWISH: return "hardswish";
    case BPF_OP_CLIP: return "clip";
    case BPF_OP_MUL: return "mul";
    case BPF_OP_CONCAT: return "concat";
    case BPF_OP_RESIZE: return "resize";
    case BPF_OP_CONVTRANSPOSE: return "convtranspose";
    }
    return "?";
}

static int bp_is_const(const bpf_model *f, uint32_t t)
{
    return f->tensors[t].data != NULL;
}

static void bp_session_destroy(bp_session *s)
{
    if (!s) return;
    if (s->steps) {
        for (uint32_t i = 0; i < s->n_steps; i++)
            if (s->steps[i].lstate) s->be->layer_destroy(s->steps[i].lstate);
        for (uint32_t i = 0; i < s->m->f->n_nodes; i++) { /* planned or not */
            free(s->steps[i].fold);
            free(s->steps[i].folded);
        }
    }
    free(s->steps);
    free(s->tdims);
    free(s->telems);
    free(s->tbuf);
    free(s->prof);
    free(s->prof_view);
    free(s->tconv);
    free(s->tfixed);
    free(s->tnofloat);
    if (s->tconst_cl)
        for (uint32_t t = 0; t < s->n_tensors; t++) bp_aligned_free(s->tconst_cl[t]);
    free(s->tconst_cl);
    bp_aligned_free(s->scratch_mem);
    bp_aligned_free(s->arena);
    bp_team_free(s->team); /* after the layers: none runs any more */
    if (s->m) bp_model_release(s->m);
    s->magic = 0;
    free(s);
}

/* Elements of a constant f32 tensor, or 0 if it is not one. */
static size_t bp_const_f32(const bpf_model *f, uint32_t t)
{
    const bpf_tensor *T = &f->tensors[t];
    if (!T->data || T->dtype != BPF_DT_F32) return 0;
    return (size_t)(T->nbytes / sizeof(float));
}

/* An ADD/MUL whose second operand broadcasts to the first (formats/SPEC.md
 * 7): its dims, right-aligned, equal the first's or are 1; an activation
 * has the first's rank (its batch then lines up). */
static int bp_step_bcast_ok(const bp_session *s, const bp_step *st)
{
    const bpf_model *f = s->m->f;
    uint32_t a = st->in[0], b = st->in[1];
    uint32_t an = f->tensors[a].ndim, bn = f->tensors[b].ndim;
    if (bn > an || (!bp_is_const(f, b) && bn != an)) return 0;
    if (bp_is_const(f, b) && bp_const_f32(f, b) == 0) return 0;
    for (uint32_t d = 0; d < bn; d++) {
        uint32_t bd = s->tdims[b][bn - 1 - d], ad = s->tdims[a][an - 1 - d];
        if (bd != ad && bd != 1) return 0;
    }
    return 1;
}

/* The ADD/MUL step reads its second operand with broadcasting. */
static int bp_step_bcast(const bp_session *s, const bp_step *st)
{
    const bpf_model *f = s->m->f;
    if ((st->op != BPF_OP_ADD && st->op != BPF_OP_MUL) || st->n_in != 2) return 0;
    uint32_t b = st->in[1];
    size_t be = bp_is_const(f, b) ? bp_const_f32(f, b) * s->N : s->telems[b];
    return be != s->telems[st->in[0]];
}

/* Checks a step's operands against the op (sizes only: everything the run
 * loop indexes must be inside its buffer). */
static bp_status bp_step_check(bp_session *s, const bp_step *st)
{
    const bpf_model *f = s->m->f;
    const bpf_node *nd = &f->nodes[st->node];
    const char *nm = nd->name;
    uint32_t x = st->in[0];
    const uint32_t *xd = s->tdims[x];
    const uint32_t *yd = s->tdims[st->out];
    uint32_t xn = f->tensors[x].ndim, yn = f->tensors[st->out].ndim;
    size_t xe = s->telems[x], ye = s->telems[st->out];
    if (st->n_in < 1 || bp_is_const(f, x))
        return bp_fail(BP_ERR_BAD_GRAPH, "node %u '%s' (%s): first input must be an "
                       "activation", st->node, nm, bp_op_name(st->op));
    if (bp_is_const(f, st->out))
        return bp_fail(BP_ERR_BAD_GRAPH, "node %u '%s': output tensor %u is a constant",
                       st->node, nm, st->out);
    switch (st->op) {
    case BPF_OP_CONV2D: {
        const bpf_layer *L = &f->layers[st->layer];
        if (xn != 4 || yn != 4 || xd[1] != L->c_in || yd[1] != L->c_out ||
            yd[2] != bp_conv_out_dim(xd[2], L->kh, L->stride_h, L->pad_t, L->pad_b, L->dil_h) ||
            yd[3] != bp_conv_out_dim(xd[3], L->kw, L->stride_w, L->pad_l, L->pad_r, L->dil_w) ||
            yd[2] == 0 || yd[3] == 0)
            return bp_fail(BP_ERR_BAD_GRAPH, "node %u '%s': conv2d shapes (%u,%u,%u,%u) -> "
                           "(%u,%u,%u,%u) do not match the layer geometry", st->node, nm,
                           xd[0], xd[1], xd[2], xd[3], yd[0], yd[1], yd[2], yd[3]);
        break;
    }
    case BPF_OP_LINEAR: {
        const bpf_layer *L = &f->layers[st->layer];
        if (xe != (size_t)s->N * L->c_in || ye != (size_t)s->N * L->c_out)
            return bp_fail(BP_ERR_BAD_GRAPH, "node %u '%s': linear expects %u -> %u features",
                           st->node, nm, L->c_in, L->c_out);
        break;
    }
    case BPF_OP_SIGMOID: case BPF_OP_HARDSIGMOID: case BPF_OP_HARDSWISH: case BPF_OP_CLIP:
    case BPF_OP_RELU: case BPF_OP_GELU: case BPF_OP_FLATTEN: case BPF_OP_SOFTMAX:
        if (xe != ye)
            return bp_fail(BP_ERR_BAD_GRAPH, "node %u '%s' (%s): %zu elements in, %zu out",
                           st->node, nm, bp_op_name(st->op), xe, ye);
        if (st->op == BPF_OP_SOFTMAX && xn < 1)
            return bp_fail(BP_ERR_BAD_GRAPH, "node %u '%s': softmax of a 0-d tensor",
                           st->node, nm);
        /* the last axis of a rank-1 activation is the batch: images would mix */
        if (st->op == BPF_OP_SOFTMAX && xn == 1 && s->N > 1)
            return bp_fail(BP_ERR_UNSUPPORTED, "node %u '%s': softmax of rank-1 tensor %u runs "
                           "over its only axis, the batch; it runs at batch 1 only (batch %u "
                           "asked)", st->node, nm, x, s->N);
        break;
    case BPF_OP_ADD: case BPF_OP_MUL: {
        if (st->n_in != 2)
            return bp_fail(BP_ERR_BAD_GRAPH, "node %u '%s': %s has %u inputs", st->node, nm,
                           bp_op_name(st->op), st->n_in);
        /* a constant operand holds one image and is added to each */
        uint32_t b = st->in[1];
        size_t be = bp_is_const(f, b) ? bp_const_f32(f, b) * s->N : s->telems[b];
        if (be != xe && ye == xe && bp_step_bcast_ok(s, st)) break;
        if (be != xe || ye != xe)
            return bp_fail(BP_ERR_BAD_GRAPH, "node %u '%s': add operands of %zu and %zu "
                           "elements (%s) -> %zu at batch %u", st->node, nm, xe, be,
                           bp_is_const(f, b) ? "constant f32 broadcast over the batch"
                                             : "activation", ye, s->N);
        break;
    }
    case BPF_OP_LAYERNORM: case BPF_OP_LAYERSCALE: case BPF_OP_BATCHNORM: {
        uint32_t need = st->op == BPF_OP_LAYERSCALE ? 2 : 3;
        if (xn < 2 || xe != ye || st->n_in != need)
            return bp_fail(BP_ERR_BAD_GRAPH, "node %u '%s' (%s): bad operands", st->node, nm,
                           bp_op_name(st->op));
        for (uint32_t i = 1; i < need; i++)
            if (bp_const_f32(f, st->in[i]) != xd[1])
                return bp_fail(BP_ERR_BAD_GRAPH, "node %u '%s' (%s): parameter %u must be a "
                               "constant f32 tensor of %u channels", st->node, nm,
                               bp_op_name(st->op), i, xd[1]);
        break;
    }
    case BPF_OP_MAXPOOL: case BPF_OP_AVGPOOL: {
        const int32_t *a = nd->ints;
        for (int i = 0; i < 8; i++)
            if (a[i] < 0 || (i < 4 && a[i] == 0) || a[i] > 1024)
                return bp_fail(BP_ERR_BAD_GRAPH, "node %u '%s': pool attribute %d = %d",
                               st->node, nm, i, a[i]);
        if (xn != 4 || yn != 4 || xd[1] != yd[1] ||
            yd[2] != bp_conv_out_dim(xd[2], (uint32_t)a[0], (uint32_t)a[2], (uint32_t)a[4],
                                     (uint32_t)a[6], 1) ||
            yd[3] != bp_conv_out_dim(xd[3], (uint32_t)a[1], (uint32_t)a[3], (uint32_t)a[5],
                                     (uint32_t)a[7], 1))
            return bp_fail(BP_ERR_BAD_GRAPH, "node %u '%s': pool output shape does not "
                           "match", st->node, nm);
        break;
    }
    case BPF_OP_GLOBALAVGPOOL:
        if (xn != 4 || ye != (size_t)s->N * xd[1])
            return bp_fail(BP_ERR_BAD_GRAPH, "node %u '%s': globalavgpool shapes", st->node,
                           nm);
        break;
    case BPF_OP_CONCAT: {
        int32_t ax = nd->ints[0];
        int ok = st->n_in >= 2 && yn == xn && ax >= 1 && (uint32_t)ax < xn;
        uint64_t sum = 0;
        for (uint32_t k = 0; ok && k < st->n_in; k++) {
            uint32_t t = st->in[k];
            ok = !bp_is_const(f, t) && f->tensors[t].ndim == xn;
            for (uint32_t d = 0; ok && d < xn; d++)
                ok = d == (uint32_t)ax ? 1 : s->tdims[t][d] == yd[d];
            if (ok) sum += s->tdims[t][ax];
        }
        if (!ok || sum != yd[ax])
            return bp_fail(BP_ERR_BAD_GRAPH, "node %u '%s': concat operands (activations of one "
                           "rank, equal but along axis %d) do not give the output shape",
                           st->node, nm, ax);
        break;
    }
    case BPF_OP_RESIZE:
        if (xn != 4 || yn != 4 || xd[0] != yd[0] || xd[1] != yd[1])
            return bp_fail(BP_ERR_BAD_GRAPH, "node %u '%s': resize needs (N,C,H,W) in and out "
                           "with the same N and C", st->node, nm);
        break;
    case BPF_OP_CONVTRANSPOSE: {
        const bpf_tensor *w = &f->tensors[st->in[1]];
        const int32_t *a = nd->ints;
        int ok = xn == 4 && yn == 4 && st->n_in >= 2 && bp_const_f32(f, st->in[1]) &&
                 w->ndim == 4 && w->dims[0] == xd[1] && yd[1] == w->dims[1] && yd[0] == xd[0] &&
                 a[0] >= 1 && a[1] >= 1 &&
                 bp_const_f32(f, st->in[1]) == (size_t)w->dims[0] * w->dims[1] * w->dims[2] *
                                                     w->dims[3];
        if (ok && st->n_in == 3) ok = bp_const_f32(f, st->in[2]) == w->dims[1];
        for (int k = 0; ok && k < 2; k++) {
            int64_t o = ((int64_t)xd[2 + k] - 1) * a[k] - a[2 + k] - a[4 + k] +
                        (int64_t)w->dims[2 + k] + a[6 + k];
            ok = o >= 1 && o == (int64_t)yd[2 + k];
        }
        if (!ok)
            return bp_fail(BP_ERR_BAD_GRAPH, "node %u '%s': convtranspose operands (x, f32 "
                           "weight (C,C_out,kh,kw), bias) do not give the output shape",
                           st->node, nm);
        break;
    }
    default:
        return bp_fail(BP_ERR_UNSUPPORTED, "node %u '%s': op %u is not supported", st->node,
                       nm, st->op);
    }
    return BP_OK;
}

/* "d0,d1,..." of n dims into buf (truncated to cap). */
static void bp_dims_str(const uint32_t *d, uint32_t n, char *buf, size_t cap)
{
    size_t a = 0;
    buf[0] = 0;
    for (uint32_t i = 0; i < n && i < BPF_MAX_DIMS && a + 12 < cap; i++)
        a += (size_t)snprintf(buf + a, cap - a, "%s%u", i ? "," : "", d[i]);
}

static int bp_is_graph_input(const bpf_model *f, uint32_t t)
{
    for (uint32_t i = 0; i < f->n_inputs; i++)
        if (f->inputs[i] == t) return 1;
    return 0;
}

static int bp_is_graph_output(const bpf_model *f, uint32_t t)
{
    for (uint32_t i = 0; i < f->n_outputs; i++)
        if (f->outputs[i] == t) return 1;
    return 0;
}

/* ---- activation layouts ----
 * A channels-last session (s->nhwc) stores every 4-D activation as
 * [N][H][W][C]; everything else, and constants, stay in NCHW element order.
 * A 4-D tensor with C == 1 or H*W == 1 is the same bytes either way. */
static int bp_t_differs(const bp_session *s, uint32_t t)
{
    const bpf_tensor *T = &s->m->f->tensors[t];
    if (!s->nhwc || T->data || T->ndim != 4) return 0;
    return s->tdims[t][1] > 1 && (size_t)s->tdims[t][2] * s->tdims[t][3] > 1;
}

/* a and b are 4-D activations of the same (C, H, W): same storage order. */
static int bp_t_same4(const bp_session *s, uint32_t a, uint32_t b)
{
    const bpf_model *f = s->m->f;
    if (f->tensors[a].data || f->tensors[b].data || f->tensors[a].ndim != 4 ||
        f->tensors[b].ndim != 4)
        return 0;
    return s->tdims[a][1] == s->tdims[b][1] && s->tdims[a][2] == s->tdims[b][2] &&
           s->tdims[a][3] == s->tdims[b][3];
}

/* How operand t reaches an op that reads it in out's storage order. */
static uint8_t bp_cv_to_out(const bp_session *s, uint32_t t, uint32_t out)
{
    if (bp_t_same4(s, t, out)) return BP_CV_NONE;
    int dt = bp_t_differs(s, t), dout = bp_t_differs(s, out);
    if (!dout) return dt ? BP_CV_TO_NCHW : BP_CV_NONE;
    return dt ? BP_CV_VIA_NCHW : BP_CV_TO_OUT;
}

/* [N, C, H*W] of a 4-D tensor (the dims a layout conversion needs). */
static void bp_t_nchw(const bp_session *s, uint32_t t, size_t *N, size_t *C, size_t *HW)
{
    const uint32_t *d = s->tdims[t];
    *N = d[0];
    *C = d[1];
    *HW = (size_t)d[2] * d[3];
}

/* Points sp->bconst at its constant converted once to out's per-image
 * channels-last order (the constant has out's per-image shape: checked
 * element count, same shape in a validated file). */
static bp_status bp_const_to_cl(bp_session *s, bp_step *sp)
{
    uint32_t c = sp->in[1];
    if (!s->tconst_cl) {
        s->tconst_cl = calloc(s->n_tensors ? s->n_tensors : 1, sizeof *s->tconst_cl);
        if (!s->tconst_cl)
            return bp_fail(BP_ERR_NOMEM, "session: out of memory while planning");
    }
    if (!s->tconst_cl[c]) {
        size_t n = bp_const_f32(s->m->f, c);
        size_t N, C, HW;
        bp_t_nchw(s, sp->out, &N, &C, &HW);
        s->tconst_cl[c] = bp_aligned_alloc(n * sizeof(float));
        if (!s->tconst_cl[c])
            return bp_fail(BP_ERR_NOMEM, "tensor %u '%s': cannot allocate %zu bytes for its "
                           "channels-last copy", c, s->m->f->tensors[c].name, n * sizeof(float));
        bp_op_nchw_to_nhwc(sp->bconst, s->tconst_cl[c], 1, C, HW, 1);
    }
    sp->bconst = s->tconst_cl[c];
    return BP_OK;
}

/* Decides per step which op variant runs and which operands are converted
 * (all by shape, once), and allocates the conversion scratch that needs. */
static bp_status bp_plan_layouts(bp_session *s)
{
    if (!s->nhwc) return BP_OK;
    const bpf_model *f = s->m->f;
    size_t need[BP_SC_COUNT] = {0}; /* elements, each at most some telems */
    for (uint32_t i = 0; i < s->n_steps; i++) {
        bp_step *sp = &s->steps[i];
        uint32_t x = sp->in[0], y = sp->out;
        int dx = bp_t_differs(s, x), dy = bp_t_differs(s, y);
        int x4 = f->tensors[x].ndim == 4;
        switch (sp->op) {
        case BPF_OP_CONV2D:
            sp->cl = 1; /* 4-D in and out (bp_step_check) */
            if (sp->residual != BP_NO_TENSOR) sp->cv_res = bp_cv_to_out(s, sp->residual, y);
            break;
        case BPF_OP_LINEAR: /* reads and writes NCHW element order */
            sp->cv_in0 = dx ? BP_CV_TO_NCHW : BP_CV_NONE;
            if (sp->residual != BP_NO_TENSOR)
                sp->cv_res = bp_t_differs(s, sp->residual) ? BP_CV_TO_NCHW : BP_CV_NONE;
            sp->cv_out = (uint8_t)dy;
            break;
        case BPF_OP_ADD: case BPF_OP_MUL: case BPF_OP_CONCAT:
            if (sp->op == BPF_OP_CONCAT || bp_step_bcast(s, sp)) {
                /* read in place: every 4-D activation's bytes are valid
                 * channels-last (C == 1 or H*W == 1: the same bytes) */
                sp->cl = (uint8_t)dy;
                break;
            }
            /* fall through */
        case BPF_OP_RELU: case BPF_OP_GELU: case BPF_OP_FLATTEN: case BPF_OP_SIGMOID:
        case BPF_OP_HARDSIGMOID: case BPF_OP_HARDSWISH: case BPF_OP_CLIP:
            /* elementwise (flatten: a copy) in out's storage order */
            sp->cl = 1;
            sp->cv_in0 = bp_cv_to_out(s, x, y);
            if ((sp->op == BPF_OP_ADD || sp->op == BPF_OP_MUL) && !sp->bconst)
                sp->cv_in1 = bp_cv_to_out(s, sp->in[1], y);
            if (sp->bconst && dy) {
                bp_status st = bp_const_to_cl(s, sp);
                if (st) return st;
            }
            break;
        case BPF_OP_LAYERNORM: case BPF_OP_LAYERSCALE: case BPF_OP_BATCHNORM:
        case BPF_OP_SOFTMAX:
            if (x4 && bp_t_same4(s, x, y)) {
                sp->cl = 1;
            } else {
                sp->cv_in0 = dx ? BP_CV_TO_NCHW : BP_CV_NONE;
                sp->cv_out = (uint8_t)dy;
            }
            break;
        case BPF_OP_MAXPOOL: case BPF_OP_AVGPOOL:
            sp->cl = 1; /* 4-D in and out */
            break;
        case BPF_OP_RESIZE: case BPF_OP_CONVTRANSPOSE: /* NCHW only */
            sp->cv_in0 = dx ? BP_CV_TO_NCHW : BP_CV_NONE;
            sp->cv_out = (uint8_t)dy;
            break;
        case BPF_OP_GLOBALAVGPOOL: /* 4-D in; writes (n, c) order */
            sp->cl = 1;
            sp->cv_out = (uint8_t)dy;
            break;
        default:
            break;
        }
        size_t big = s->telems[x] > s->telems[y] ? s->telems[x] : s->telems[y];
        if (sp->cv_in0 && need[BP_SC_IN0] < big) need[BP_SC_IN0] = big;
        if ((sp->cv_in1 || sp->cv_res) && need[BP_SC_IN1] < big) need[BP_SC_IN1] = big;
        if (sp->cv_out && need[BP_SC_OUT] < big) need[BP_SC_OUT] = big;
        if ((sp->cv_in0 == BP_CV_VIA_NCHW || sp->cv_in1 == BP_CV_VIA_NCHW ||
             sp->cv_res == BP_CV_VIA_NCHW) && need[BP_SC_VIA] < big)
            need[BP_SC_VIA] = big;
    }
    size_t total = 0, off[BP_SC_COUNT], a;
    for (int k = 0; k < BP_SC_COUNT; k++) {
        off[k] = total;
        if (bp_align64_overflows(need[k] * sizeof(float), &a) ||
            bp_add_overflows(total, a, &total))
            return bp_fail(BP_ERR_NOMEM, "session: layout scratch at batch %u needs more "
                           "memory than can exist (buffer %d: %zu floats after %zu bytes)",
                           s->N, k, need[k], off[k]);
    }
    if (!total) return BP_OK;
    if (bp_add_overflows(s->arena_bytes, total, &a))
        return bp_fail(BP_ERR_NOMEM, "session: activations (%zu bytes) and layout scratch "
                       "(%zu bytes) at batch %u overflow the address space", s->arena_bytes,
                       total, s->N);
    s->scratch_mem = bp_aligned_alloc(total);
    if (!s->scratch_mem)
        return bp_fail(BP_ERR_NOMEM, "session: cannot allocate %zu bytes of layout scratch",
                       total);
    for (int k = 0; k < BP_SC_COUNT; k++)
        if (need[k]) s->scratch[k] = (float *)(s->scratch_mem + off[k]);
    s->arena_bytes = a;
    return BP_OK;
}

typedef struct bp_slot {
    size_t bytes;
    size_t off;
    uint32_t tensor;  /* the largest tensor placed here (for messages) */
    int busy;
} bp_slot;

/* Assigns every intermediate activation to a slot of the arena; a slot is
 * reused once the last step reading its tensor has run. Graph inputs and
 * outputs live in the user's buffers (fixed), except those a channels-last
 * session converts (s->tconv): an input's slot is taken before the first
 * step, an output's is never given back. */
static bp_status bp_plan_memory(bp_session *s, const uint8_t *fixed)
{
    const bpf_model *f = s->m->f;
    uint32_t nt = f->n_tensors;
    uint32_t *first = malloc(sizeof(uint32_t) * nt);
    uint32_t *last = malloc(sizeof(uint32_t) * nt);
    uint32_t *slot_of = malloc(sizeof(uint32_t) * nt);
    bp_slot *slots = calloc(s->n_steps + f->n_inputs + 1, sizeof *slots);
    bp_status st = BP_OK;
    if (!first || !last || !slot_of || !slots) {
        st = bp_fail(BP_ERR_NOMEM, "session: out of memory while planning");
        goto done;
    }
    for (uint32_t t = 0; t < nt; t++) {
        first[t] = last[t] = UINT32_MAX;
        slot_of[t] = UINT32_MAX;
    }
    for (uint32_t i = 0; i < s->n_steps; i++) {
        const bp_step *sp = &s->steps[i];
        first[sp->out] = i;
        if (last[sp->out] == UINT32_MAX) last[sp->out] = i;
        for (uint32_t k = 0; k < sp->n_in; k++) last[sp->in[k]] = i;
        if (sp->residual != BP_NO_TENSOR) last[sp->residual] = i;
    }
    for (uint32_t t = 0; t < nt; t++)
        if (s->tconv[t] && bp_is_graph_output(f, t)) last[t] = UINT32_MAX - 1; /* never released */
    uint32_t nslots = 0;
    for (uint32_t t = 0; t < nt; t++)
        if (s->tconv[t] && !fixed[t] && bp_is_graph_input(f, t)) {
            slots[nslots].bytes = s->telems[t] * sizeof(float);
            slots[nslots].tensor = t;
            slots[nslots].busy = 1;
            slot_of[t] = nslots++;
        }
    for (uint32_t i = 0; i < s->n_steps; i++) {
        uint32_t t = s->steps[i].out;
        if (!fixed[t] && !s->tnofloat[t] && slot_of[t] == UINT32_MAX) {
            size_t need = s->telems[t] * sizeof(float);
            uint32_t best = UINT32_MAX, big = UINT32_MAX;
            for (uint32_t k = 0; k < nslots; k++) {
                if (slots[k].busy) continue;
                if (slots[k].bytes >= need &&
                    (best == UINT32_MAX || slots[k].bytes < slots[best].bytes))
                    best = k;
                if (big == UINT32_MAX || slots[k].bytes > slots[big].bytes) big = k;
            }
            if (best == UINT32_MAX) best = big;
            if (best == UINT32_MAX) best = nslots++;
            if (slots[best].bytes < need) {
                slots[best].bytes = need;
                slots[best].tensor = t;
            }
            slots[best].busy = 1;
            slot_of[t] = best;
        }
        /* release what this step read last (and a dead output) */
        const bp_step *sp = &s->steps[i];
        uint32_t rel[BPF_MAX_IO + 2];
        uint32_t nr = 0;
        for (uint32_t k = 0; k < sp->n_in; k++) rel[nr++] = sp->in[k];
        if (sp->residual != BP_NO_TENSOR) rel[nr++] = sp->residual;
        rel[nr++] = sp->out;
        for (uint32_t k = 0; k < nr; k++) {
            uint32_t r = rel[k];
            if (last[r] == i && slot_of[r] != UINT32_MAX) slots[slot_of[r]].busy = 0;
        }
    }
    /* slot bytes are telems * 4 (checked in bp_plan); their sum may still
     * overflow when many huge tensors are live at once */
    size_t total = 0;
    for (uint32_t k = 0; k < nslots; k++) {
        size_t a;
        slots[k].off = total;
        if (bp_align64_overflows(slots[k].bytes, &a) || bp_add_overflows(total, a, &total)) {
            uint32_t t = slots[k].tensor;
            st = bp_fail(BP_ERR_NOMEM, "session: activations at batch %u need more memory than "
                         "can exist: buffer %u of %u (tensor %u '%s', %zu bytes) overflows the "
                         "%zu bytes before it", s->N, k + 1, nslots, t, f->tensors[t].name,
                         slots[k].bytes, slots[k].off);
            goto done;
        }
    }
    s->arena_bytes = total;
    s->arena = bp_aligned_alloc(total);
    if (!s->arena) {
        st = bp_fail(BP_ERR_NOMEM, "session: cannot allocate %zu bytes of activations", total);
        goto done;
    }
    for (uint32_t t = 0; t < nt; t++)
        if (slot_of[t] != UINT32_MAX)
            s->tbuf[t] = (float *)(s->arena + slots[slot_of[t]].off);
done:
    free(first);
    free(last);
    free(slot_of);
    free(slots);
    return st;
}

static bp_status bp_plan(bp_session *s)
{
    const bpf_model *f = s->m->f;
    uint32_t nt = f->n_tensors, nn = f->n_nodes;
    bp_status st = BP_OK;
    s->n_tensors = nt;
    uint32_t *cons = calloc(nt ? nt : 1, sizeof(uint32_t));
    uint32_t *prod = malloc(sizeof(uint32_t) * (nt ? nt : 1));
    uint8_t *fixed = s->tfixed = calloc(nt ? nt : 1, 1); /* graph inputs/outputs */
    uint8_t *gout = calloc(nt ? nt : 1, 1);
    uint8_t *absorbed = calloc(nn ? nn : 1, 1);
    s->tdims = calloc(nt ? nt : 1, sizeof *s->tdims);
    s->telems = calloc(nt ? nt : 1, sizeof *s->telems);
    s->tbuf = calloc(nt ? nt : 1, sizeof *s->tbuf);
    s->steps = calloc(nn ? nn : 1, sizeof *s->steps);
    s->tconv = calloc(nt ? nt : 1, 1);
    if (!cons || !prod || !fixed || !gout || !absorbed || !s->tdims || !s->telems ||
        !s->tbuf || !s->steps || !s->tconv) {
        st = bp_fail(BP_ERR_NOMEM, "session: out of memory while planning");
        goto done;
    }
    for (uint32_t t = 0; t < nt; t++) {
        const bpf_tensor *T = &f->tensors[t];
        size_t e = 1, bytes;
        int ovf = 0;
        for (uint32_t d = 0; d < T->ndim && d < BPF_MAX_DIMS; d++) {
            s->tdims[t][d] = T->dims[d];
            ovf |= bp_mul_overflows(e, T->dims[d], &e);
        }
        if (!T->data) {
            if (T->ndim == 0 || T->dims[0] != 1) {
                st = bp_fail(BP_ERR_BAD_GRAPH, "tensor %u '%s': activation batch dimension "
                             "must be 1 in the file", t, T->name);
                goto done;
            }
            /* an activation's dtype is advisory (SPEC.md §6): all are f32 here */
            s->tdims[t][0] = s->N;
            ovf |= bp_mul_overflows(e, s->N, &e);
            /* every later byte count of an activation is telems * 4 */
            ovf |= bp_mul_overflows(e, sizeof(float), &bytes);
        }
        if (ovf) {
            char sh[96];
            bp_dims_str(T->dims, T->ndim, sh, sizeof sh);
            st = bp_fail(BP_ERR_LIMIT, "tensor %u '%s': shape (%s) at batch %u has more bytes "
                         "than size_t can count", t, T->name, sh, s->N);
            goto done;
        }
        s->telems[t] = e;
        prod[t] = UINT32_MAX;
    }
    for (uint32_t i = 0; i < f->n_inputs; i++) fixed[f->inputs[i]] = 1;
    for (uint32_t i = 0; i < f->n_outputs; i++) fixed[f->outputs[i]] = gout[f->outputs[i]] = 1;
    /* channels-last sessions convert 4-D graph inputs/outputs in the arena */
    for (uint32_t t = 0; t < nt; t++)
        if (fixed[t] && bp_t_differs(s, t)) {
            s->tconv[t] = 1;
            fixed[t] = 0;
        }
    for (uint32_t i = 0; i < nn; i++) {
        const bpf_node *nd = &f->nodes[i];
        if (nd->n_in == 0 || nd->n_in > BPF_MAX_IO || nd->n_out != 1) {
            st = bp_fail(BP_ERR_BAD_GRAPH, "node %u '%s': %u inputs / %u outputs", i,
                         nd->name, nd->n_in, nd->n_out);
            goto done;
        }
        for (uint32_t k = 0; k < nd->n_in; k++) {
            if (nd->in[k] >= nt) {
                st = bp_fail(BP_ERR_BAD_GRAPH, "node %u '%s': input tensor %u out of range",
                             i, nd->name, nd->in[k]);
                goto done;
            }
            cons[nd->in[k]]++;
        }
        if (nd->out[0] >= nt || prod[nd->out[0]] != UINT32_MAX) {
            st = bp_fail(BP_ERR_BAD_GRAPH, "node %u '%s': output tensor %u invalid or "
                         "written twice", i, nd->name, nd->out[0]);
            goto done;
        }
        prod[nd->out[0]] = i;
    }
    for (uint32_t i = 0; i < f->n_inputs; i++)
        if (prod[f->inputs[i]] != UINT32_MAX) {
            st = bp_fail(BP_ERR_BAD_GRAPH, "graph input tensor %u is written by node %u",
                         f->inputs[i], prod[f->inputs[i]]);
            goto done;
        }

    uint32_t ns = 0;
    for (uint32_t i = 0; i < nn; i++) {
        if (absorbed[i]) continue;
        const bpf_node *nd = &f->nodes[i];
        bp_step *sp = &s->steps[ns];
        sp->node = i;
        sp->op = nd->op;
        sp->layer = UINT32_MAX;
        sp->n_in = nd->n_in;
        memcpy(sp->in, nd->in, sizeof sp->in);
        sp->out = nd->out[0];
        sp->residual = BP_NO_TENSOR;
        sp->opname = bp_op_name(nd->op);
        /* a constant first add operand goes second (IEEE a + b == b + a) */
        if ((nd->op == BPF_OP_ADD || nd->op == BPF_OP_MUL) && nd->n_in == 2 &&
            bp_is_const(f, nd->in[0]) &&
            !bp_is_const(f, nd->in[1])) {
            sp->in[0] = nd->in[1];
            sp->in[1] = nd->in[0];
        }
        if (nd->op == BPF_OP_CONV2D || nd->op == BPF_OP_LINEAR) {
            sp->layer = nd->layer;
            sp->n_in = 1;
            bp_fuse_ctx cx = {cons, prod, gout, absorbed};
            st = bp_fuse_layer(s, sp, i, &cx);
            if (st) goto done;
            bp_fuse_opname(s, sp);
        }
        st = bp_step_check(s, sp);
        if (st) goto done;
        if ((sp->op == BPF_OP_ADD || sp->op == BPF_OP_MUL) && bp_is_const(f, sp->in[1]) &&
            !bp_step_bcast(s, sp))
            sp->bconst = (const float *)f->tensors[sp->in[1]].data;
        ns++;
    }
    s->n_steps = ns;
done:
    free(cons);
    free(prod);
    free(gout);
    free(absorbed);
    return st;
}

static bp_status bp_create_layers(bp_session *s)
{
    const bpf_model *f = s->m->f;
    s->exact = 1;
    s->inexact_reason = "";
    for (uint32_t i = 0; i < s->n_steps; i++) {
        bp_step *sp = &s->steps[i];
        if (sp->layer == UINT32_MAX) continue;
        const bpf_layer *L = &f->layers[sp->layer];
        const bp_model_layer *ml = &s->m->layers[sp->layer];
        bp_status pst = bp_model_layer_prepare(s->m, sp->layer, bp_backend_needs(s->be));
        if (pst) return pst;
        bp_layer_desc *d = &sp->desc;
        d->name = f->nodes[sp->node].name;
        d->L = L;
        d->N = s->N;
        if (L->kind == BPF_LAYER_CONV) {
            d->H = s->tdims[sp->in[0]][2];
            d->W = s->tdims[sp->in[0]][3];
            d->OH = s->tdims[sp->out][2];
            d->OW = s->tdims[sp->out][3];
        } else {
            d->H = d->W = d->OH = d->OW = 1;
        }
        d->w_dense = ml->dense;
        d->planes = &ml->planes;
        d->csr = &ml->csr.c;
        d->out_scale = ml->out_scale;
        d->bias = L->bias;
        d->w_scale = L->w_scale;
        if (sp->n_fold) {
            bp_status fst = bp_fuse_fold_params(s, sp, ml->out_scale, L->bias, L->w_scale);
            if (fst) return fst;
            d->out_scale = sp->folded;
            d->bias = sp->folded + L->c_out;
            d->w_scale = sp->folded + 2 * (size_t)L->c_out;
        }
        d->act_inv_scale = 1.0f / L->act_scale;
        d->fuse_residual = sp->residual != BP_NO_TENSOR;
        d->act = sp->act;
        d->layout = s->nhwc && L->kind == BPF_LAYER_CONV ? BP_LAYOUT_NHWC : BP_LAYOUT_NCHW;
        d->team = s->team;
        bp_status st = s->be->layer_create(d, &s->env, &sp->lstate);
        if (st) {
            sp->lstate = NULL;
            if (!*bp_last_error())
                bp_fail(st, "layer '%s': backend '%s' could not build it", d->name,
                        s->be->name);
            return st;
        }
        const char *why = "";
        if (!s->be->layer_exact(sp->lstate, &why) && s->exact) {
            s->exact = 0;
            s->inexact_reason = why ? why : "";
        }
    }
    return BP_OK;
}

/* $BP_ACT_PATH: "float" keeps activations float between all steps; unset,
 * empty or "quant" gives the default; anything else is ignored with a
 * warning (as $BP_ISA is). */
static bp_act_path bp_act_path_from_env(void)
{
    const char *e = getenv("BP_ACT_PATH");
    if (!e || !*e || !strcmp(e, "quant")) return BP_ACT_PATH_QUANT;
    if (!strcmp(e, "float")) return BP_ACT_PATH_FLOAT;
    fprintf(stderr, "bitprune: BP_ACT_PATH='%s' is not quant or float; ignored\n", e);
    return BP_ACT_PATH_QUANT;
}

bp_status bp_session_create_with(const bp_model *mc, const bp_backend *be, int threads,
                                 uint32_t batch, unsigned isa_mask, bp_act_path path,
                                 bp_session **out)
{
    bp_model *m = (bp_model *)mc; /* only the atomic refcount changes */
    bp_session *s = calloc(1, sizeof *s);
    if (!s) return bp_fail(BP_ERR_NOMEM, "session: out of memory");
    atomic_fetch_add(&m->refs, 1);
    s->m = m;
    s->be = be;
    s->N = batch;
    s->threads = threads;
    bp_kernels_init(&s->kt, isa_mask);
    s->env.threads = threads;
    s->env.isa_mask = isa_mask;
    s->env.kt = &s->kt;
    s->nhwc = be->layout == BP_LAYOUT_NHWC;
    s->act_path = path;
    bp_error_clear();
    /* the integer backends (those with quantized paths) run on a worker
     * team; oneDNN and the float calibration backend on OpenMP */
    bp_status st = be->layer_qinput ? bp_team_new(threads, &s->team) : BP_OK;
    if (!st) st = bp_plan(s);
    if (!st) st = bp_create_layers(s);
    if (!st) st = bp_fuse_qpaths(s);
    if (!st) st = bp_plan_memory(s, s->tfixed);
    if (!st) st = bp_plan_layouts(s);
    if (!st) {
        s->prof = calloc(s->n_steps ? s->n_steps : 1, sizeof *s->prof);
        if (!s->prof) st = bp_fail(BP_ERR_NOMEM, "session: out of memory");
    }
    if (!st) {
        for (uint32_t i = 0; i < s->n_steps; i++) {
            const bp_step *sp = &s->steps[i];
            s->prof[i].size = sizeof *s->prof;
            s->prof[i].name = m->f->nodes[sp->node].name;
            s->prof[i].op = sp->opname;
            s->prof[i].kernel = sp->lstate ? be->layer_kernel(sp->lstate) : "float";
        }
        s->magic = BP_SESSION_MAGIC;
        if (!bp_handle_add(s, BP_HANDLE_SESSION))
            st = bp_fail(BP_ERR_NOMEM, "session: out of memory");
    }
    if (st) {
        bp_session_destroy(s);
        return st;
    }
    *out = s;
    bp_error_clear();
    return BP_OK;
}

BP_API bp_status bp_session_create(const bp_model *m, const bp_session_opts *opts,
                                   bp_session **out)
{
    if (out) *out = NULL;
    if (!m || !out)
        return bp_fail(BP_ERR_INVALID_ARG, "bp_session_create: %s is NULL",
                       !m ? "model" : "out");
    bp_status mst = bp_model_check(m, "bp_session_create");
    if (mst) return mst;
    bp_session_opts o;
    bp_session_opts_defaults(&o);
    if (opts) {
        bp_status ost = bp_struct_read(&bp_sd_session_opts, opts, &o, "bp_session_create",
                                       "opts");
        if (ost) return ost;
    }
    const char *bname = o.backend ? o.backend : "bitplane";
    const bp_backend *be = NULL;
    for (size_t i = 0; i < BP_N_BACKENDS; i++)
        if (!strcmp(bp_backends[i]->name, bname)) be = bp_backends[i];
    if (!be && (!strcmp(bname, "onednn-int8") || !strcmp(bname, "onednn-f32")))
        return bp_fail(BP_ERR_UNSUPPORTED, "bp_session_create: backend '%s' was not built "
                       "(this libbitprune was built without oneDNN)", bname);
    if (!be)
        return bp_fail(BP_ERR_INVALID_ARG, "bp_session_create: unknown backend '%s' (valid: "
                       "reference, bitplane, csr, onednn-int8, onednn-f32)", bname);
    if (o.threads < 0 || o.threads > 1024)
        return bp_fail(BP_ERR_INVALID_ARG, "bp_session_create: threads=%d outside [0, 1024]",
                       o.threads);
    int threads = o.threads ? o.threads : omp_get_num_procs();
    if (threads < 1) threads = 1;
    if (o.batch < 1 || o.batch > 65536)
        return bp_fail(BP_ERR_INVALID_ARG, "bp_session_create: batch=%u outside [1, 65536]",
                       o.batch);
    unsigned mask;
    if (o.isa) {
        int lv = bp_isa_parse(o.isa);
        if (lv < 0)
            return bp_fail(BP_ERR_INVALID_ARG, "bp_session_create: unknown isa '%s' (valid: "
                           "scalar, avx2, avx512, avx512vnni, neon)", o.isa);
        const unsigned cpu = bp_cpu_isa_mask();
        if (!(cpu & BP_ISA_BIT(lv))) {
            char have[96] = "";
            for (int i = 0; i < BP_ISA_COUNT; i++)
                if (cpu & BP_ISA_BIT(i))
                    snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s",
                             have[0] ? " " : "", bp_isa_name((bp_isa)i));
            return bp_fail(BP_ERR_UNSUPPORTED, "bp_session_create: isa '%s' not supported by "
                           "this CPU (it has: %s)", o.isa, have);
        }
        mask = bp_isa_mask_cap((bp_isa)lv);
    } else {
        mask = bp_isa_mask_from_env();
    }
    return bp_session_create_with(m, be, threads, o.batch, mask, bp_act_path_from_env(), out);
}

BP_API void bp_session_free(bp_session *s)
{
    if (!s) return;
    if (bp_handle_remove(s, BP_HANDLE_SESSION, "bp_session_free")) return;
    bp_session_destroy(s);
}

static double bp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static const float *bp_tensor_ptr(const bp_session *s, uint32_t t)
{
    const bpf_tensor *T = &s->m->f->tensors[t];
    return T->data ? (const float *)T->data : s->tbuf[t];
}

/* Operand t (data p) brought into the order the step reads (cv: BP_CV_*). */
static const float *bp_operand(const bp_session *s, uint32_t t, const float *p, uint8_t cv,
                               uint32_t out, float *sc)
{
    size_t N, C, HW;
    if (cv == BP_CV_NONE) return p;
    if (cv == BP_CV_TO_NCHW || cv == BP_CV_VIA_NCHW) {
        float *dst = cv == BP_CV_TO_NCHW ? sc : s->scratch[BP_SC_VIA];
        bp_t_nchw(s, t, &N, &C, &HW);
        bp_op_nhwc_to_nchw(p, dst, N, C, HW, s->threads);
        if (cv == BP_CV_TO_NCHW) return dst;
        p = dst;
    }
    bp_t_nchw(s, out, &N, &C, &HW);
    bp_op_nchw_to_nhwc(p, sc, N, C, HW, s->threads);
    return sc;
}

/* Storage order of a step whose cl is set: 4-D tensors as [N][H][W][C]. */
static const int bp_cl_perm[4] = {0, 2, 3, 1};

/* ADD/MUL with b broadcast: b's stride per output dim (0 where b has 1),
 * iterated in out's storage order. */
static void bp_exec_bcast(const bp_session *s, const bp_step *sp, const float *a, float *y)
{
    const bpf_model *f = s->m->f;
    uint32_t b = sp->in[1], o = sp->out;
    uint32_t r = f->tensors[o].ndim, bn = f->tensors[b].ndim;
    const uint32_t *od = s->tdims[o], *bd = s->tdims[b];
    size_t own[BPF_MAX_DIMS] = {0}, lstr[BPF_MAX_DIMS] = {0}, dims[BPF_MAX_DIMS],
           bstr[BPF_MAX_DIMS];
    if (sp->cl && bn == 4 && !bp_is_const(f, b)) {
        own[0] = (size_t)bd[1] * bd[2] * bd[3];
        own[1] = 1;
        own[2] = (size_t)bd[3] * bd[1];
        own[3] = bd[1];
    } else {
        size_t st = 1;
        for (uint32_t d = bn; d-- > 0;) {
            own[d] = st;
            st *= bd[d];
        }
    }
    for (uint32_t d = 0; d < bn; d++) lstr[r - bn + d] = bd[d] == 1 ? 0 : own[d];
    for (uint32_t d = 0; d < r; d++) {
        uint32_t p = sp->cl && r == 4 ? (uint32_t)bp_cl_perm[d] : d;
        dims[d] = od[p];
        bstr[d] = lstr[p];
    }
    bp_op_binary_bcast(sp->op == BPF_OP_MUL, a, bp_tensor_ptr(s, b), y, r, dims, bstr,
                       s->threads);
}

/* CONCAT along the node's axis, in out's storage order. */
static void bp_exec_concat(const bp_session *s, const bp_step *sp, float *y)
{
    const bpf_model *f = s->m->f;
    uint32_t r = f->tensors[sp->out].ndim, ax = (uint32_t)f->nodes[sp->node].ints[0];
    const float *in[BPF_MAX_IO];
    size_t len[BPF_MAX_IO], outer = 1;
    uint32_t sax = ax; /* the axis in storage order */
    if (sp->cl && r == 4) sax = ax == 1 ? 3 : ax - 1;
    for (uint32_t k = 0; k < sp->n_in; k++) {
        const uint32_t *d = s->tdims[sp->in[k]];
        size_t l = 1;
        for (uint32_t i = 0; i < r; i++) {
            uint32_t p = sp->cl && r == 4 ? (uint32_t)bp_cl_perm[i] : i;
            if (i >= sax) l *= d[p];
            else if (k == 0) outer *= d[p];
        }
        len[k] = l;
        in[k] = bp_tensor_ptr(s, sp->in[k]);
    }
    bp_op_concat(in, len, sp->n_in, y, outer, s->threads);
}

static bp_status bp_step_exec(bp_session *s, const bp_step *sp, bp_layer_hook hook,
                              void *ctx)
{
    const bpf_model *f = s->m->f;
    /* BP_IO_QUANT: the layer's input bytes are already written */
    const float *x = sp->in_io == BP_IO_QUANT
                         ? NULL
                         : bp_operand(s, sp->in[0], bp_tensor_ptr(s, sp->in[0]), sp->cv_in0,
                                      sp->out, s->scratch[BP_SC_IN0]);
    float *yt = s->tbuf[sp->out]; /* NULL when only quantized (BP_IO_QUANT) */
    float *y = sp->cv_out ? s->scratch[BP_SC_OUT] : yt; /* cv_out: NCHW order first */
    const uint32_t *xd = s->tdims[sp->in[0]];
    size_t xe = s->telems[sp->in[0]];
    /* Sessions with a worker team run the float ops other than LayerNorm
     * (small next to the layers in the zoo: pooling, adds and activations
     * not fused) on the calling thread: an OpenMP team of its own, idle
     * between them, would be woken for each and on a loaded machine costs
     * milliseconds per op (measured: globalavgpool of convnext-t 26 ms). */
    int T = s->team ? 1 : s->threads;
    const bpf_node *nd = &f->nodes[sp->node];
    uint32_t xn = f->tensors[sp->in[0]].ndim;
    size_t hw = 1;
    for (uint32_t d = 2; d < xn; d++) hw *= xd[d];
    const int cl = sp->cl;
    switch (sp->op) {
    case BPF_OP_CONV2D:
    case BPF_OP_LINEAR: {
        if (hook && x) hook(ctx, sp, x, xe);
        const float *r = NULL;
        if (sp->residual != BP_NO_TENSOR)
            r = bp_operand(s, sp->residual, bp_tensor_ptr(s, sp->residual), sp->cv_res,
                           sp->out, s->scratch[BP_SC_IN1]);
        bp_status st = s->be->layer_run(sp->lstate, x, r, y);
        if (st) return st;
        break;
    }
    case BPF_OP_RELU: bp_op_relu(x, y, xe, T); break;
    case BPF_OP_GELU: bp_op_gelu(&s->kt, x, y, xe, T); break;
    case BPF_OP_SIGMOID: bp_op_sigmoid(&s->kt, x, y, xe, T); break;
    case BPF_OP_HARDSIGMOID: bp_op_hardsigmoid(x, y, xe, nd->floats[0], nd->floats[1], T); break;
    case BPF_OP_HARDSWISH: bp_op_hardswish(x, y, xe, T); break;
    case BPF_OP_CLIP: bp_op_clip(x, y, xe, nd->floats[0], nd->floats[1], T); break;
    case BPF_OP_ADD:
    case BPF_OP_MUL: {
        void (*fn)(const float *, const float *, float *, size_t, int) =
            sp->op == BPF_OP_MUL ? bp_op_mul : bp_op_add;
        if (bp_step_bcast(s, sp)) {
            bp_exec_bcast(s, sp, x, y);
            break;
        }
        if (sp->bconst) {
            size_t pe = xe / s->N; /* the constant's elements */
            for (uint32_t n = 0; n < s->N; n++) fn(x + n * pe, sp->bconst, y + n * pe, pe, T);
            break;
        }
        fn(x, bp_operand(s, sp->in[1], bp_tensor_ptr(s, sp->in[1]), sp->cv_in1, sp->out,
                         s->scratch[BP_SC_IN1]),
           y, xe, T);
        break;
    }
    case BPF_OP_CONCAT: bp_exec_concat(s, sp, y); break;
    case BPF_OP_RESIZE:
        bp_op_resize(x, y, (size_t)s->N * xd[1], xd[2], xd[3], s->tdims[sp->out][2],
                     s->tdims[sp->out][3], nd->ints, nd->floats, T);
        break;
    case BPF_OP_CONVTRANSPOSE: {
        const bpf_tensor *w = &f->tensors[sp->in[1]];
        bp_op_convtranspose(x, (const float *)w->data,
                            sp->n_in == 3 ? (const float *)f->tensors[sp->in[2]].data : NULL, y,
                            s->N, xd[1], xd[2], xd[3], w->dims[1], w->dims[2], w->dims[3],
                            s->tdims[sp->out][2], s->tdims[sp->out][3], nd->ints, T);
        break;
    }
    case BPF_OP_LAYERNORM:
        if (sp->n_qout || !cl) /* NCHW: the same values with no quantized output */
            bp_op_layernorm_q(&s->kt, x, bp_tensor_ptr(s, sp->in[1]),
                              bp_tensor_ptr(s, sp->in[2]), nd->floats[0], y, sp->qout,
                              sp->n_qout, s->N, xd[1], hw, xn == 4 ? xd[3] : 1, s->threads,
                              s->team);
        else
            bp_op_layernorm_nhwc(x, bp_tensor_ptr(s, sp->in[1]), bp_tensor_ptr(s, sp->in[2]),
                                 nd->floats[0], y, s->N, xd[1], hw, T);
        break;
    case BPF_OP_LAYERSCALE:
        (cl ? bp_op_channel_affine_nhwc : bp_op_channel_affine)(
            x, bp_tensor_ptr(s, sp->in[1]), NULL, y, s->N, xd[1], hw, T);
        break;
    case BPF_OP_BATCHNORM:
        (cl ? bp_op_channel_affine_nhwc : bp_op_channel_affine)(
            x, bp_tensor_ptr(s, sp->in[1]), bp_tensor_ptr(s, sp->in[2]), y, s->N, xd[1], hw, T);
        break;
    case BPF_OP_MAXPOOL:
    case BPF_OP_AVGPOOL:
        (cl ? bp_op_pool_nhwc : bp_op_pool)(x, y, s->N, xd[1], xd[2], xd[3],
                                            s->tdims[sp->out][2], s->tdims[sp->out][3],
                                            nd->ints, sp->op == BPF_OP_MAXPOOL, T);
        break;
    case BPF_OP_GLOBALAVGPOOL:
        (cl ? bp_op_global_avgpool_nhwc : bp_op_global_avgpool)(x, y, s->N, xd[1], hw, T);
        break;
    case BPF_OP_FLATTEN:
        if (x != y) memcpy(y, x, xe * sizeof(float));
        break;
    case BPF_OP_SOFTMAX:
        if (cl) {
            bp_op_softmax_nhwc(&s->kt, x, y, s->N, xd[1], xd[2], xd[3], T);
        } else {
            size_t len = xd[xn - 1];
            bp_op_softmax(&s->kt, x, y, len ? xe / len : 0, len, T);
        }
        break;
    default:
        return bp_fail(BP_ERR_UNSUPPORTED, "node '%s': op %u", nd->name, sp->op);
    }
    if (sp->cv_out) {
        size_t N, C, HW;
        bp_t_nchw(s, sp->out, &N, &C, &HW);
        bp_op_nchw_to_nhwc(y, yt, N, C, HW, T);
    }
    return BP_OK;
}

bp_status bp_graph_run(bp_session *s, const float *const *inputs, float *const *outputs,
                       bp_layer_hook hook, void *ctx)
{
    const bpf_model *f = s->m->f;
    if (!inputs || !outputs)
        return bp_fail(BP_ERR_INVALID_ARG, "bp_session_run: %s is NULL",
                       !inputs ? "inputs" : "outputs");
    for (uint32_t i = 0; i < f->n_inputs; i++)
        if (!inputs[i])
            return bp_fail(BP_ERR_INVALID_ARG, "bp_session_run: inputs[%u] ('%s') is NULL", i,
                           f->tensors[f->inputs[i]].name);
    for (uint32_t i = 0; i < f->n_outputs; i++)
        if (!outputs[i])
            return bp_fail(BP_ERR_INVALID_ARG, "bp_session_run: outputs[%u] ('%s') is NULL",
                           i, f->tensors[f->outputs[i]].name);
    /* converted inputs (s->tconv) go into their arena slots, channels-last */
    for (uint32_t i = 0; i < f->n_inputs; i++) {
        uint32_t t = f->inputs[i];
        if (!s->tconv[t]) {
            s->tbuf[t] = (float *)inputs[i];
        } else {
            size_t N, C, HW;
            bp_t_nchw(s, t, &N, &C, &HW);
            bp_op_nchw_to_nhwc(inputs[i], s->tbuf[t], N, C, HW, s->threads);
        }
    }
    /* an output tensor listed twice, or that is a graph input, is copied at the end */
    for (uint32_t i = 0; i < f->n_outputs; i++) {
        uint32_t t = f->outputs[i];
        int is_in = 0;
        for (uint32_t k = 0; k < f->n_inputs; k++) is_in |= f->inputs[k] == t;
        if (!is_in && !s->tconv[t]) s->tbuf[t] = outputs[i];
    }
    for (uint32_t i = 0; i < s->n_steps; i++) {
        const bp_step *sp = &s->steps[i];
        double t0 = s->profiling ? bp_now_ms() : 0.0;
        bp_status st = bp_step_exec(s, sp, hook, ctx);
        if (st) return st;
        if (s->profiling) {
            s->prof[i].ms += bp_now_ms() - t0;
            s->prof[i].runs++;
        }
    }
    for (uint32_t i = 0; i < f->n_outputs; i++) {
        uint32_t t = f->outputs[i];
        if (s->tconv[t]) {
            size_t N, C, HW;
            bp_t_nchw(s, t, &N, &C, &HW);
            bp_op_nhwc_to_nchw(s->tbuf[t], outputs[i], N, C, HW, s->threads);
        } else if (s->tbuf[t] != outputs[i]) {
            memcpy(outputs[i], s->tbuf[t], s->telems[t] * sizeof(float));
        }
    }
    return BP_OK;
}

BP_API bp_status bp_session_run(bp_session *s, const float *const *inputs,
                                float *const *outputs)
{
    bp_status st = bp_check_session(s, "bp_session_run");
    if (st) return st;
    return bp_graph_run(s, inputs, outputs, NULL, NULL);
}

static bp_status bp_check_view(const bp_session *s, const bp_tensor_view *v, uint32_t tid,
                               const char *what, uint32_t i)
{
    const bpf_tensor *T = &s->m->f->tensors[tid];
    if (!v->data)
        return bp_fail(BP_ERR_INVALID_ARG, "bp_session_run_views: %s[%u] ('%s') data is "
                       "NULL", what, i, T->name);
    int ok = v->ndim == T->ndim;
    for (uint32_t d = 0; ok && d < T->ndim; d++) ok = v->dims[d] == s->tdims[tid][d];
    if (!ok) {
        char want[128], got[128];
        bp_dims_str(s->tdims[tid], T->ndim, want, sizeof want);
        bp_dims_str(v->dims, v->ndim, got, sizeof got);
        return bp_fail(BP_ERR_SHAPE, "bp_session_run_views: %s[%u] ('%s') has shape (%s), "
                       "the session expects (%s)", what, i, T->name, got, want);
    }
    return BP_OK;
}

BP_API bp_status bp_session_run_views(bp_session *s, const bp_tensor_view *inputs,
                                      uint32_t n_inputs, const bp_tensor_view *outputs,
                                      uint32_t n_outputs)
{
    bp_status st = bp_check_session(s, "bp_session_run_views");
    if (st) return st;
    const bpf_model *f = s->m->f;
    if (!inputs || !outputs)
        return bp_fail(BP_ERR_INVALID_ARG, "bp_session_run_views: %s is NULL",
                       !inputs ? "inputs" : "outputs");
    if (n_inputs != f->n_inputs || n_outputs != f->n_outputs)
        return bp_fail(BP_ERR_SHAPE, "bp_session_run_views: %u inputs / %u outputs given, "
                       "the model has %u / %u", n_inputs, n_outputs, f->n_inputs,
                       f->n_outputs);
    if (n_inputs > BPF_MAX_IO * 16 || n_outputs > BPF_MAX_IO * 16)
        return bp_fail(BP_ERR_LIMIT, "bp_session_run_views: too many inputs/outputs");
    /* each array's stride is its first element's size; views are read
     * through a copy in this library's layout */
    const unsigned char *arr[2] = {(const unsigned char *)inputs,
                                   (const unsigned char *)outputs};
    const uint32_t cnt[2] = {n_inputs, n_outputs};
    size_t stride[2];
    for (int a = 0; a < 2; a++) {
        stride[a] = 0;
        if (cnt[a]) memcpy(&stride[a], arr[a], sizeof stride[a]);
        for (uint32_t i = 0; i < cnt[a]; i++) {
            char what[32];
            snprintf(what, sizeof what, "%s[%u]", a ? "outputs" : "inputs", i);
            size_t sz;
            memcpy(&sz, arr[a] + i * stride[a], sizeof sz);
            if (sz != stride[a])
                return bp_fail(BP_ERR_INVALID_ARG, "bp_session_run_views: %s (bp_tensor_view)"
                               " has size %zu, element 0 has %zu: every element of the array "
                               "must carry the same size", what, sz, stride[a]);
            bp_tensor_view v;
            memset(&v, 0, sizeof v);
            st = bp_struct_read(&bp_sd_tensor_view, arr[a] + i * stride[a], &v,
                                "bp_session_run_views", what);
            if (st) return st;
        }
    }
    const float *in[BPF_MAX_IO * 16];
    float *outp[BPF_MAX_IO * 16];
    for (uint32_t i = 0; i < n_inputs + n_outputs; i++) {
        int o = i >= n_inputs;
        uint32_t k = o ? i - n_inputs : i;
        bp_tensor_view v;
        memset(&v, 0, sizeof v);
        bp_struct_read(&bp_sd_tensor_view, arr[o] + k * stride[o], &v, "", ""); /* checked */
        st = bp_check_view(s, &v, o ? f->outputs[k] : f->inputs[k], o ? "outputs" : "inputs",
                           k);
        if (st) return st;
        if (o)
            outp[k] = v.data;
        else
            in[k] = v.data;
    }
    return bp_graph_run(s, in, outp, NULL, NULL);
}

BP_API bp_status bp_session_info_get_sized(const bp_session *s, bp_session_info *info,
                                           size_t info_size)
{
    const char *fn = "bp_session_info_get";
    bp_status st = bp_check_session(s, fn);
    if (st) return st;
    if (!info) return bp_fail(BP_ERR_INVALID_ARG, "%s: info is NULL", fn);
    st = bp_struct_size_check(&bp_sd_session_info, info_size, fn, "info");
    if (st) return st;
    bp_session_info I;
    memset(&I, 0, sizeof I);
    I.backend = s->be->name;
    I.isa = bp_isa_name(s->kt.isa);
    I.threads = s->threads;
    I.batch = s->N;
    I.exact = s->exact;
    I.inexact_reason = s->inexact_reason;
    I.arena_bytes = s->arena_bytes;
    I.n_steps = s->n_steps;
    bp_struct_write(&bp_sd_session_info, info, info_size, &I);
    return BP_OK;
}

BP_API bp_status bp_session_set_profiling(bp_session *s, int on)
{
    bp_status st = bp_check_session(s, "bp_session_set_profiling");
    if (st) return st;
    s->profiling = on != 0;
    return BP_OK;
}

BP_API bp_status bp_session_profile_sized(const bp_session *s,
                                          const bp_layer_profile **layers, uint32_t *n,
                                          size_t entry_size)
{
    const char *fn = "bp_session_profile";
    bp_status st = bp_check_session(s, fn);
    if (st) return st;
    if (!layers || !n)
        return bp_fail(BP_ERR_INVALID_ARG, "%s: %s is NULL", fn, !layers ? "layers" : "n");
    st = bp_struct_size_check(&bp_sd_layer_profile, entry_size, fn, "entry_size");
    if (st) return st;
    if (entry_size == sizeof(bp_layer_profile)) {
        *layers = s->prof;
        *n = s->n_steps;
        return BP_OK;
    }
    /* another entry size: a copy at that stride (the session is used by one
     * thread at a time, so its copy may be refreshed here) */
    bp_session *ss = (bp_session *)s;
    if (ss->prof_view_size != entry_size) {
        unsigned char *v = calloc(s->n_steps ? s->n_steps : 1, entry_size);
        if (!v) return bp_fail(BP_ERR_NOMEM, "%s: out of memory", fn);
        free(ss->prof_view);
        ss->prof_view = v;
        ss->prof_view_size = entry_size;
    }
    for (uint32_t i = 0; i < s->n_steps; i++)
        bp_struct_write(&bp_sd_layer_profile, ss->prof_view + (size_t)i * entry_size,
                        entry_size, &s->prof[i]);
    *layers = (const bp_layer_profile *)ss->prof_view;
    *n = s->n_steps;
    return BP_OK;
}

BP_API bp_status bp_session_profile_reset(bp_session *s)
{
    bp_status st = bp_check_session(s, "bp_session_profile_reset");
    if (st) return st;
    for (uint32_t i = 0; i < s->n_steps; i++) {
        s->prof[i].ms = 0.0;
        s->prof[i].runs = 0;
    }
    return BP_OK;
}
