/* Layer fusion at session creation: LAYERSCALE/BATCHNORM folded into the
 * preceding conv/linear's per-channel scale and bias (formats/SPEC.md 8.2),
 * a following ADD (the residual) and RELU/GELU run in the layer's epilogue,
 * quantized activation paths (a layer or LayerNorm writes the next layers'
 * quantized input bytes instead of, or besides, a float tensor), and the op
 * names that say what each step does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

/* The first node after `after` that reads tensor t (the only reader when
 * cons[t] == 1), or UINT32_MAX. */
static uint32_t bp_reader_of(const bpf_model *f, uint32_t t, uint32_t after)
{
    for (uint32_t j = after + 1; j < f->n_nodes; j++)
        for (uint32_t k = 0; k < f->nodes[j].n_in; k++)
            if (f->nodes[j].in[k] == t) return j;
    return UINT32_MAX;
}

/* Elements of constant f32 tensor t, 0 if it is not one. */
static size_t bp_f32_elems(const bpf_model *f, uint32_t t)
{
    const bpf_tensor *T = &f->tensors[t];
    return T->data && T->dtype == BPF_DT_F32 ? (size_t)(T->nbytes / sizeof(float)) : 0;
}

/* Node cn folds into a layer of c_out channels whose output is t: a
 * LAYERSCALE (x, gamma) or BATCHNORM (x, s, t) reading t as x, with c_out
 * parameters each, writing as many elements as it reads. */
static int bp_foldable(const bp_session *s, const bpf_node *cn, uint32_t t, uint32_t c_out)
{
    const bpf_model *f = s->m->f;
    uint32_t need = cn->op == BPF_OP_LAYERSCALE ? 2 : cn->op == BPF_OP_BATCHNORM ? 3 : 0;
    if (!need || cn->n_in != need || cn->in[0] != t || s->telems[cn->out[0]] != s->telems[t])
        return 0;
    for (uint32_t k = 1; k < need; k++)
        if (bp_f32_elems(f, cn->in[k]) != c_out) return 0;
    return 1;
}

/* Absorbs the chain of foldable nodes that alone read the layer's output;
 * returns the tensor the layer now writes, UINT32_MAX when out of memory. */
static uint32_t bp_fuse_folds(bp_session *s, bp_step *sp, uint32_t i, uint32_t t,
                              const bp_fuse_ctx *cx)
{
    const bpf_model *f = s->m->f;
    uint32_t c_out = f->layers[sp->layer].c_out;
    while (!cx->gout[t] && cx->cons[t] == 1) {
        uint32_t c = bp_reader_of(f, t, i);
        if (c == UINT32_MAX || !bp_foldable(s, &f->nodes[c], t, c_out)) break;
        uint32_t *nf = realloc(sp->fold, (sp->n_fold + 1) * sizeof *nf);
        if (!nf) return UINT32_MAX;
        sp->fold = nf;
        sp->fold[sp->n_fold++] = c;
        cx->absorbed[c] = 1;
        t = f->nodes[c].out[0];
    }
    return t;
}

/* The epilogue activation node c may become, or BP_EPI_NONE. GELU only on
 * backends whose epilogue runs every bp_epi_act (those with qinput), and
 * not when float activation paths are asked for. */
static bp_epi_act bp_fusable_act(const bp_session *s, const bpf_node *cn)
{
    if (cn->n_in != 1) return BP_EPI_NONE;
    if (cn->op == BPF_OP_RELU) return BP_EPI_RELU;
    if (cn->op == BPF_OP_GELU && s->be->layer_qinput && s->act_path == BP_ACT_PATH_QUANT)
        return BP_EPI_GELU;
    return BP_EPI_NONE;
}

/* The ADD node cn takes t and an operand computed before step node i (or a
 * constant of the same shape): it becomes the layer's residual. */
static uint32_t bp_residual_of(const bp_session *s, const bpf_node *cn, uint32_t t, uint32_t i,
                               const bp_fuse_ctx *cx)
{
    const bpf_model *f = s->m->f;
    if (cn->op != BPF_OP_ADD || cn->n_in != 2) return BP_NO_TENSOR;
    uint32_t o = cn->in[0] == t ? cn->in[1] : cn->in[0];
    if (o == t || (cx->prod[o] != UINT32_MAX && cx->prod[o] >= i)) return BP_NO_TENSOR;
    if (s->telems[o] != s->telems[t] || s->telems[cn->out[0]] != s->telems[t])
        return BP_NO_TENSOR;
    if (f->tensors[o].data && bp_f32_elems(f, o) != s->telems[o]) return BP_NO_TENSOR;
    return o;
}

bp_status bp_fuse_layer(bp_session *s, bp_step *sp, uint32_t i, const bp_fuse_ctx *cx)
{
    const bpf_model *f = s->m->f;
    uint32_t t = bp_fuse_folds(s, sp, i, f->nodes[i].out[0], cx);
    if (t == UINT32_MAX)
        return bp_fail(BP_ERR_NOMEM, "session: out of memory while planning");
    sp->out = t;
    /* then one ADD whose other operand is already computed, then one
     * activation; or just the activation */
    for (int stage = 0; stage < 2; stage++) {
        if (cx->gout[t] || cx->cons[t] != 1) break;
        uint32_t c = bp_reader_of(f, t, i);
        if (c == UINT32_MAX) break;
        const bpf_node *cn = &f->nodes[c];
        bp_epi_act act = bp_fusable_act(s, cn);
        if (act != BP_EPI_NONE) {
            sp->act = act;
            sp->out = cn->out[0];
            cx->absorbed[c] = 1;
            break;
        }
        uint32_t o = stage == 0 ? bp_residual_of(s, cn, t, i, cx) : BP_NO_TENSOR;
        if (o == BP_NO_TENSOR) break;
        sp->residual = o;
        sp->out = t = cn->out[0];
        cx->absorbed[c] = 1;
    }
    return BP_OK;
}

/* "conv2d+layerscale+add+relu": the main op, then what was fused, in order. */
void bp_fuse_opname(const bp_session *s, bp_step *sp)
{
    const bpf_model *f = s->m->f;
    char *b = sp->opbuf;
    size_t cap = sizeof sp->opbuf, n = 0;
#define BP_OPN(str) n += (size_t)snprintf(b + n, n < cap ? cap - n : 0, "%s", str)
    BP_OPN(sp->op == BPF_OP_LINEAR ? "linear" : "conv2d");
    for (uint32_t k = 0; k < sp->n_fold; k++)
        BP_OPN(f->nodes[sp->fold[k]].op == BPF_OP_LAYERSCALE ? "+layerscale" : "+batchnorm");
    if (sp->residual != BP_NO_TENSOR) BP_OPN("+add");
    if (sp->act == BP_EPI_RELU) BP_OPN("+relu");
    if (sp->act == BP_EPI_GELU) BP_OPN("+gelu");
#undef BP_OPN
    sp->opname = sp->opbuf;
}

/* Per-channel parameters of the folded nodes, applied in graph order
 * (formats/SPEC.md 8.2): LAYERSCALE s*g, b*g; BATCHNORM s*S, (b*S)+T. The
 * float backends' weight scales fold like s. */
bp_status bp_fuse_fold_params(const bp_session *s, bp_step *sp, const float *out_scale,
                              const float *bias, const float *w_scale)
{
    const bpf_model *f = s->m->f;
    size_t C = f->layers[sp->layer].c_out;
    float *p = malloc(3 * C * sizeof(float));
    if (!p)
        return bp_fail(BP_ERR_NOMEM, "layer '%s': out of memory for folded scales",
                       f->nodes[sp->node].name);
    float *os = p, *b = p + C, *ws = p + 2 * C;
    for (size_t j = 0; j < C; j++) {
        os[j] = out_scale[j];
        b[j] = bias[j];
        ws[j] = w_scale[j];
    }
    for (uint32_t k = 0; k < sp->n_fold; k++) {
        const bpf_node *cn = &f->nodes[sp->fold[k]];
        const float *g = (const float *)f->tensors[cn->in[1]].data;
        const float *t = cn->op == BPF_OP_BATCHNORM ? (const float *)f->tensors[cn->in[2]].data
                                                    : NULL;
        for (size_t j = 0; j < C; j++) {
            os[j] = os[j] * g[j];
            ws[j] = ws[j] * g[j];
            float bg = b[j] * g[j];
            b[j] = t ? bg + t[j] : bg;
        }
    }
    sp->folded = p;
    return BP_OK;
}

/* ---- quantized activation paths ---- */

/* Step sp can write its output quantized: a layer on a backend with
 * quantized outputs, or a LAYERNORM over a 4-D (or 2-D) NCHW tensor. */
static int bp_q_writer(const bp_session *s, const bp_step *sp)
{
    if (sp->lstate) return s->be->layer_set_qout != NULL;
    if (sp->op != BPF_OP_LAYERNORM || sp->cl) return 0;
    uint32_t nd = s->m->f->tensors[sp->out].ndim;
    return nd == 4 || nd == 2;
}

/* Step c reads tensor t only as a layer input it can take quantized; then
 * *q is where. */
static int bp_q_reader(const bp_session *s, const bp_step *c, uint32_t t, bp_qdest *q)
{
    if (!c->lstate || c->in[0] != t || c->residual == t) return 0;
    memset(q, 0, sizeof *q);
    return s->be->layer_qinput(c->lstate, q) == 0;
}

/* Step c reads tensor t in any way. */
static int bp_reads(const bp_step *c, uint32_t t)
{
    for (uint32_t k = 0; k < c->n_in; k++)
        if (c->in[k] == t) return 1;
    return c->residual == t;
}

/* Decides the path of step i's output: quantized into the layer readers
 * that take it so, float too if anything else reads it. */
static void bp_fuse_qpath(bp_session *s, uint32_t i)
{
    bp_step *sp = &s->steps[i];
    uint32_t t = sp->out;
    bp_qdest q[BP_QDEST_MAX];
    uint32_t nq = 0, nfloat = 0;
    for (uint32_t j = i + 1; j < s->n_steps; j++) {
        bp_step *c = &s->steps[j];
        if (!bp_reads(c, t)) continue;
        /* LayerNorm writes planar rows only (bp_qdest.xstride <= 1) */
        if (nq < BP_QDEST_MAX && bp_q_reader(s, c, t, &q[nq]) &&
            (sp->lstate || q[nq].xstride <= 1)) {
            c->in_io = BP_IO_QUANT;
            nq++;
        } else {
            nfloat++;
        }
    }
    if (!nq) return;
    const bpf_model *f = s->m->f;
    for (uint32_t k = 0; k < f->n_outputs; k++) nfloat += f->outputs[k] == t;
    sp->out_io = nfloat ? BP_IO_BOTH : BP_IO_QUANT;
    s->tnofloat[t] = !nfloat;
    if (sp->lstate) {
        s->be->layer_set_qout(sp->lstate, q, nq);
    } else {
        for (uint32_t k = 0; k < nq; k++) sp->qout[k] = q[k];
        sp->n_qout = nq;
    }
}

static void bp_opname_suffix(bp_step *sp)
{
    if (sp->out_io == BP_IO_FLOAT) return;
    if (sp->opname != sp->opbuf) snprintf(sp->opbuf, sizeof sp->opbuf, "%s", sp->opname);
    size_t n = strlen(sp->opbuf);
    snprintf(sp->opbuf + n, sizeof sp->opbuf - n, "%s",
             sp->out_io == BP_IO_QUANT ? "->q8" : "->f32+q8");
    sp->opname = sp->opbuf;
}

bp_status bp_fuse_qpaths(bp_session *s)
{
    s->tnofloat = calloc(s->n_tensors ? s->n_tensors : 1, 1);
    if (!s->tnofloat) return bp_fail(BP_ERR_NOMEM, "session: out of memory while planning");
    if (s->act_path != BP_ACT_PATH_QUANT || !s->be->layer_qinput || !s->be->layer_set_qout)
        return BP_OK;
    for (uint32_t i = 0; i < s->n_steps; i++)
        if (bp_q_writer(s, &s->steps[i])) bp_fuse_qpath(s, i);
    for (uint32_t i = 0; i < s->n_steps; i++) bp_opname_suffix(&s->steps[i]);
    return BP_OK;
}
