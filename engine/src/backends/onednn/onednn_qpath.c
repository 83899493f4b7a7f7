/* Quantized activation paths of "onednn-int8": a layer's source bytes
 * offered to the layer before (qinput), outputs written as the readers'
 * u8/s8 bytes by oneDNN itself (dst u8/s8) or by the quantize kernels after
 * an f32 output, and GELU run with the engine's kernel when not fused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl_debug.h>

#include "engine.h"
#include "onednn_layer.h"
#include "quant.h"

/* ---- Quantized outputs written by the engine's kernels ---- */

/* n floats -> u8/s8 at inv (the kernel table's quantizers). */
static void bp_dnnl_quant_run(const bp_kernel_table *kt, bp_act_type t, const float *x, uint8_t *q,
                              size_t n, float inv)
{
    if (t == BP_ACT_S8) {
        kt->quantize_s8(x, (int8_t *)q, n, inv);
    } else {
        kt->quantize_u8(x, q, n, inv);
    }
}

/* The layer's float output y (the engine's layout: channels contiguous for
 * nhwc convs and linears, else NCHW planes) quantized into q: runs of
 * contiguous channels (cstride 1) or of pixels (xstride 1), else element
 * by element. */
static void bp_dnnl_qput(const bp_dnnl_layer *s, const bp_qdest *q, const float *y)
{
    const size_t Co = s->Co, OH = s->OH, OW = s->OW, xs = q->xstride ? q->xstride : 1;
    const int cl = s->nhwc || s->desc.L->kind == BPF_LAYER_LINEAR;
    const int64_t rows = (int64_t)s->N * OH;
#pragma omp parallel for num_threads(s->threads) if ((int64_t)s->N * Co * OH * OW >= 65536) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const size_t n = (size_t)r / OH, oy = (size_t)r % OH;
        uint8_t *row = q->base + n * q->nstride + q->off + oy * q->ldrow;
        if (cl) {
            const float *yr = y + (size_t)r * OW * Co;
            if (q->cstride == 1 && xs == Co)
                bp_dnnl_quant_run(s->kt, q->type, yr, row, OW * Co, q->inv);
            else if (q->cstride == 1)
                for (size_t ox = 0; ox < OW; ox++)
                    bp_dnnl_quant_run(s->kt, q->type, yr + ox * Co, row + ox * xs, Co, q->inv);
            else
                for (size_t ox = 0; ox < OW; ox++)
                    for (size_t c = 0; c < Co; c++)
                        bp_dnnl_quant_run(NULL, q->type, yr + ox * Co + c,
                                          row + ox * xs + c * q->cstride, 1, q->inv);
        } else {
            for (size_t c = 0; c < Co; c++) {
                const float *yc = y + ((n * Co + c) * OH + oy) * OW;
                uint8_t *qc = row + c * q->cstride;
                if (xs == 1) bp_dnnl_quant_run(s->kt, q->type, yc, qc, OW, q->inv);
                else
                    for (size_t ox = 0; ox < OW; ox++)
                        bp_dnnl_quant_run(NULL, q->type, yc + ox, qc + ox * xs, 1, q->inv);
            }
        }
    }
}

/* After oneDNN wrote the float output y: with epi_after (y holds
 * (float)acc * out_scale) the rest of the canonical epilogue, bias, the
 * residual (in y's layout) and ReLU, each rounded in that order; an unfused
 * GELU (the engine's, formats/SPEC.md 7.3); then the quantized outputs. */
void bp_dnnl_finish(const bp_dnnl_layer *s, float *y, const float *residual)
{
    const size_t ny = (size_t)s->N * s->Co * s->OH * s->OW;
    if (s->epi_after) {
        const float *bias = s->desc.bias;
        const size_t hw = (size_t)s->OH * s->OW, Co = s->Co;
        const int relu = s->desc.act == BP_EPI_RELU;
        for (size_t i = 0; i < ny; i++) {
            const size_t c = s->nhwc ? i % Co : i / hw % Co;
            float t = y[i] + bias[c];
            if (residual) t = t + residual[i];
            y[i] = relu ? bp_relu(t) : t;
        }
    }
    if (s->desc.act == BP_EPI_GELU && !s->gelu_fused) {
        const size_t chunk = 4096;
        const int64_t nc = (int64_t)((ny + chunk - 1) / chunk);
#pragma omp parallel for num_threads(s->threads) if (ny >= 65536) schedule(static)
        for (int64_t i = 0; i < nc; i++) {
            float *p = y + (size_t)i * chunk;
            const size_t m = ny - (size_t)i * chunk < chunk ? ny - (size_t)i * chunk : chunk;
            s->kt->gelu_f32(p, p, m);
        }
    }
    for (uint32_t k = 0; k < s->n_q; k++) bp_dnnl_qput(s, &s->q[k], y);
}

/* Runs the direct primitive: oneDNN writes q[0]'s bytes. */
dnnl_status_t bp_dnnl_run_q(bp_dnnl_layer *s, const float *residual)
{
    dnnl_status_t ds = dnnl_success;
    int old = bp_dnnl_threads_enter(s->threads);
    if (residual) ds = dnnl_memory_set_data_handle(s->qres, (void *)(uintptr_t)residual);
    if (ds == dnnl_success) ds = dnnl_primitive_execute(s->qprim, s->strm, s->qnargs, s->qargs);
    if (ds == dnnl_success) ds = dnnl_stream_wait(s->strm);
    bp_dnnl_threads_leave(s->threads, old);
    return ds;
}

/* ---- Quantized activation paths ---- */

/* The source bytes, when the layout is plain with contiguous channels:
 * (n, c, y, x) at n*sn + c + (y + h0)*sh + (x + w0)*sw (a linear: n*sn + c). */
int bp_dnnl_qinput(void *state, bp_qdest *q)
{
    bp_dnnl_layer *s = state;
    if (!s || !q || !s->src_q || !s->src_buf) return -1;
    const int linear = s->desc.L->kind == BPF_LAYER_LINEAR;
    memset(q, 0, sizeof *q);
    q->base = s->src_buf;
    q->type = s->s8_src ? BP_ACT_S8 : BP_ACT_U8;
    q->inv = s->inv_scale;
    q->nstride = s->src_strides[0];
    q->cstride = 1;
    q->ldrow = linear ? 1 : s->src_strides[2];
    q->xstride = linear ? 1 : s->src_strides[3];
    q->off = linear ? 0 : s->src_lay.h0 * q->ldrow + s->src_lay.w0 * q->xstride;
    s->qin = 1;
    return 0;
}

/* Whether oneDNN's own conversion of the chain's result, x * inv
 * (eltwise linear, one rounding: beta is 0) then saturation and
 * cvtps2dq's round-half-even, gives bp_quant_u8/s8's bytes. It does for
 * every finite and infinite value. NaN differs for s8: oneDNN saturates
 * with min(x, 127) first, which maps NaN to 127 (bp_quant_s8: 0); for u8
 * max(x, 0) maps it to 0 as bp_quant_u8 does. A NaN needs a non-finite
 * operand: a residual (any float), or inv = inf (0 * inf), or a non-finite
 * scale or bias; those s8 outputs keep the float path. */
static int bp_dnnl_qdirect_exact(const bp_dnnl_layer *s, const bp_qdest *q)
{
    if (!(q->inv > 0.0f) || !isfinite(q->inv)) return 0;
    if (q->type != BP_ACT_S8) return 1;
    if (s->fuse_residual) return 0;
    for (uint32_t j = 0; j < s->Co; j++)
        if (!isfinite(s->desc.out_scale[j]) || !isfinite(s->desc.bias[j])) return 0;
    return 1;
}

/* Builds the direct primitive: the same source memory, weights (shared when
 * the layouts agree) and post-ops as the float one, then x * q->inv, into a
 * u8/s8 dst that is q's bytes (strided view of the reader's source). Kept
 * only when oneDNN picks an implementation as good as the float one's. */
static dnnl_status_t bp_dnnl_make_qprim(bp_dnnl_layer *s, const bp_qdest *q)
{
    const bp_layer_desc *d = &s->desc;
    const bpf_layer *L = d->L;
    const int linear = L->kind == BPF_LAYER_LINEAR;
    const_dnnl_primitive_desc_t fpd = NULL;
    dnnl_primitive_desc_t pd = NULL;
    void *wplain = NULL;
    bp_dnnl_mds m;
    dnnl_status_t st = dnnl_primitive_get_primitive_desc(s->prim, &fpd);
    if (st != dnnl_success) return st;
    const dnnl_memory_desc_t *f_src = dnnl_primitive_desc_query_md(fpd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *f_wei = dnnl_primitive_desc_query_md(fpd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *f_po_bias = dnnl_primitive_desc_query_md(
        fpd, dnnl_query_exec_arg_md, DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1);
    if (!f_src || !f_wei || !f_po_bias) return dnnl_invalid_arguments;
    m.src = *f_src;
    m.po_bias = *f_po_bias;
    const dnnl_data_type_t dt = q->type == BP_ACT_S8 ? dnnl_s8 : dnnl_u8;
    const size_t xs = q->xstride ? q->xstride : 1;
    if (linear) {
        m.ddims[0] = s->N; m.ddims[1] = s->Co;
        dnnl_dims_t str = {(dnnl_dim_t)q->nstride, (dnnl_dim_t)q->cstride};
        st = dnnl_memory_desc_init_by_strides(&m.dst, 2, m.ddims, dt, str);
    } else {
        m.ddims[0] = s->N; m.ddims[1] = s->Co; m.ddims[2] = s->OH; m.ddims[3] = s->OW;
        dnnl_dims_t str = {(dnnl_dim_t)q->nstride, (dnnl_dim_t)q->cstride,
                           (dnnl_dim_t)(q->ldrow ? q->ldrow : 1), (dnnl_dim_t)xs};
        st = dnnl_memory_desc_init_by_strides(&m.dst, 4, m.ddims, dt, str);
    }
    if (st == dnnl_success)
        st = dnnl_memory_desc_init_by_tag(&m.wei, f_wei->ndims, f_wei->dims, dnnl_s8,
                                          dnnl_format_tag_any);
    if (st == dnnl_success) {
        dnnl_dims_t bd = {s->Co};
        st = dnnl_memory_desc_init_by_tag(&m.bias, 1, bd, dnnl_f32, dnnl_a);
    }
    int bias_po = -1, res_po = -1;
    const int mode = s->fuse_residual ? BP_RES_BINARY_NCHW : BP_RES_NONE;
    if (st == dnnl_success) st = bp_dnnl_make_pd(d, s, &m, mode, q->inv, &pd, &bias_po, &res_po);
    if (st != dnnl_success) return st;
    const char *impl = NULL;
    st = dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
    if (st == dnnl_success && bp_dnnl_impl_rank(impl) < bp_dnnl_impl_rank(s->impl))
        st = dnnl_unimplemented;
    if (st == dnnl_success)
        snprintf(s->qimpl, sizeof s->qimpl, "%s (->q8: dst %s)", impl ? impl : "?",
                 dt == dnnl_s8 ? "s8" : "u8");
    const dnnl_memory_desc_t *q_wei = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *q_scr = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if (st == dnnl_success && (!q_wei || !q_scr)) st = dnnl_runtime_error;
    if (st == dnnl_success && !dnnl_memory_desc_equal(q_wei, f_wei)) {
        uint64_t nc = 0;
        dnnl_memory_desc_t plain_md;
        wplain = bp_dnnl_plain_weights(s, d, &nc);
        st = wplain ? dnnl_success : dnnl_out_of_memory;
        if (st == dnnl_success)
            st = dnnl_memory_desc_init_by_tag(&plain_md, f_wei->ndims, f_wei->dims, dnnl_s8,
                                              f_wei->ndims == 2 ? dnnl_ab : f_wei->ndims == 4
                                                  ? dnnl_abcd : dnnl_abcde);
        if (st == dnnl_success) st = dnnl_memory_create(&s->qwei, q_wei, s->eng, DNNL_MEMORY_ALLOCATE);
        if (st == dnnl_success) st = bp_dnnl_reorder_weights(s, &plain_md, wplain, q_wei, s->qwei);
    }
    if (st == dnnl_success)
        st = dnnl_memory_create(&s->qdst, &m.dst, s->eng, q->base + q->off);
    if (st == dnnl_success && dnnl_memory_desc_get_size(q_scr) > 0) {
        /* runs are sequential: the float primitive's scratchpad when it is big enough */
        void *h = NULL;
        if (s->scratch && dnnl_memory_desc_get_size(q_scr) <= dnnl_memory_desc_get_size(
                              dnnl_primitive_desc_query_md(fpd, dnnl_query_scratchpad_md, 0)))
            st = dnnl_memory_get_data_handle(s->scratch, &h);
        if (st == dnnl_success)
            st = dnnl_memory_create(&s->qscratch, q_scr, s->eng, h ? h : DNNL_MEMORY_ALLOCATE);
    }
    if (st == dnnl_success && res_po >= 0) {
        const dnnl_memory_desc_t *q_res = dnnl_primitive_desc_query_md(
            pd, dnnl_query_exec_arg_md, DNNL_ARG_ATTR_MULTIPLE_POST_OP(res_po) | DNNL_ARG_SRC_1);
        st = q_res ? dnnl_memory_create(&s->qres, q_res, s->eng, DNNL_MEMORY_NONE)
                   : dnnl_runtime_error;
    }
    if (st == dnnl_success) st = dnnl_primitive_create(&s->qprim, pd);
    if (st == dnnl_success) {
        int na = 0;
        s->qargs[na++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, s->src};
        s->qargs[na++] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, s->qwei ? s->qwei : s->wei};
        s->qargs[na++] = (dnnl_exec_arg_t){DNNL_ARG_DST, s->qdst};
        s->qargs[na++] = (dnnl_exec_arg_t){DNNL_ARG_ATTR_MULTIPLE_POST_OP(bias_po) | DNNL_ARG_SRC_1,
                                           s->bias};
        if (s->comp) s->qargs[na++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, s->comp};
        if (s->qscratch) s->qargs[na++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, s->qscratch};
        if (s->qres)
            s->qargs[na++] = (dnnl_exec_arg_t){DNNL_ARG_ATTR_MULTIPLE_POST_OP(res_po) | DNNL_ARG_SRC_1,
                                               s->qres};
        s->qnargs = na;
    }
    free(wplain);
    dnnl_primitive_desc_destroy(pd);
    if (st != dnnl_success) {
        if (s->qprim) dnnl_primitive_destroy(s->qprim);
        if (s->qdst) dnnl_memory_destroy(s->qdst);
        if (s->qwei) dnnl_memory_destroy(s->qwei);
        if (s->qscratch) dnnl_memory_destroy(s->qscratch);
        if (s->qres) dnnl_memory_destroy(s->qres);
        s->qprim = NULL;
        s->qdst = s->qwei = s->qscratch = s->qres = NULL;
    }
    return st;
}

/* One reader whose bytes oneDNN can produce exactly: the direct primitive
 * (run when the session wants no float output, y == NULL). Otherwise, and
 * for several readers, oneDNN writes f32 and the quantize kernels write
 * each reader's bytes (bp_dnnl_finish). */
void bp_dnnl_set_qout(void *state, const bp_qdest *q, uint32_t n)
{
    bp_dnnl_layer *s = state;
    if (!s || !q) return;
    s->n_q = n < BP_QDEST_MAX ? n : BP_QDEST_MAX;
    memcpy(s->q, q, s->n_q * sizeof *q);
    const int gelu_after = s->desc.act == BP_EPI_GELU && !s->gelu_fused; /* bp_dnnl_finish */
    if (s->int8 && s->n_q == 1 && !gelu_after && !s->epi_after && bp_dnnl_qdirect_exact(s, &q[0])) {
        int old = bp_dnnl_threads_enter(s->threads);
        dnnl_status_t st = bp_dnnl_make_qprim(s, &q[0]);
        bp_dnnl_threads_leave(s->threads, old);
        if (getenv("BP_ONEDNN_DEBUG"))
            fprintf(stderr, "onednn: '%s' quantized output %s: %s\n", s->name,
                    st == dnnl_success ? "direct" : "by kernels", st == dnnl_success ? s->qimpl
                    : dnnl_status2str(st));
    }
    if (!s->qprim && !s->fbuf) {
        size_t nb = (sizeof(float) * (size_t)s->N * s->Co * s->OH * s->OW + 63) & ~(size_t)63;
        s->fbuf = aligned_alloc(64, nb);
        s->qerr = !s->fbuf;
    }
}
