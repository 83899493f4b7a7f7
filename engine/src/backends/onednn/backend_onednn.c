/* oneDNN 2.6 dense baselines: "onednn-int8" (u8/s8 x s8 conv / inner product,
 * bit-identical to "reference" where the weights fit s8 and GELU is not
 * fused, with quantized activation paths in onednn_qpath.c) and "onednn-f32"
 * (dequantized weights, float activations: the float reference for users). */
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

#include "backend.h"
#include "engine.h"
#include "onednn_layer.h"
#include "quant.h"

/* Exactness of onednn-int8 (checked bit for bit by tests/engine/onednn):
 * the canonical epilogue is t = (float)acc * out_scale[j]; t += bias[j];
 * [t += residual]; [relu | gelu], each step rounded to float. oneDNN 2.x
 * would add its own bias to the int32 accumulator *before* scaling, so we
 * give it no bias; instead: per-channel output scales (mask 1<<1) ->
 * binary-add post-op with a per-channel f32 bias tensor -> the residual (a
 * sum post-op over dst preloaded with it, or a binary add; see BP_RES_*) ->
 * eltwise relu post-op, dst f32. Each post-op is one separately rounded f32
 * operation in that order, which is the epilogue (verified bit for bit).
 * GELU (fused into the layer on the quantized path) is by default oneDNN's
 * eltwise gelu_erf post-op, which rounds its own way: such a layer reports
 * itself inexact (speed-only). BP_ONEDNN_GELU=exact instead runs the
 * engine's GELU kernel over the f32 output (bp_dnnl_finish). A layer whose
 * output only feeds one other conv/linear may instead end the chain with an
 * eltwise linear x * inv (the reader's 1/act_scale) into a u8/s8 dst: the
 * saturating round-half-even conversion of bp_quant_u8/s8 (onednn_qpath.c
 * says when it differs and falls back).
 * s8 sources of padded convs run shifted to u8 (bp_dnnl_shift_ok), exactly;
 * they and convs oneDNN mishandles padded (bp_dnnl_pad_risky) get their
 * source padded explicitly. u8 x s8 products are summed exactly in int32 by
 * VNNI (vpdpbusd, also AVX-VNNI) or AMX (tdpbusd; its CPUs have VNNI); without
 * VNNI oneDNN pairs products in int16 with saturation (vpmaddubsw) or halves
 * s8 weights (scale_adjust), so such a CPU makes the layer inexact.
 *
 * onednn-f32 tolerance vs "reference": the difference is the activation
 * quantization the reference applies and f32 does not: per output at most
 * sum_k |w[j][k]| * w_scale[j] * act_scale / 2 (inputs inside the quantized
 * range), plus float summation-order rounding (<= 1e-5 of sum_k |w x|;
 * measured 2.5e-7). tests/engine/onednn checks exactly that per layer. On
 * whole models it equals the engine's float graph to 1e-5 (measured 3e-7)
 * and differs from "reference" by that model's own activation-quantization
 * error (measured 0.8% to 17% of max |output| on the test zoo). */

/* Layouts: both backends ask sessions for NHWC activations
 * (bp_backend.layout), oneDNN's int8 layout. A conv then quantizes the nhwc
 * f32 input into the nhwc u8/s8 source in one straight loop, and oneDNN
 * writes the nhwc f32 output (bias, residual, relu fused) straight into the
 * engine's buffer; a residual is read in place (binary post-op) or preloaded
 * into y (sum post-op). Callers that zero d->layout (the layer tests,
 * onednn_layer_timing) get the NCHW path: packing from NCHW and oneDNN
 * reorders back to NCHW. Inner products are 2-D: the same in both.
 *
 * Quantized activation paths (onednn-int8 only; BP_ACT_PATH=float turns
 * them off): a layer whose u8/s8 source is plain with contiguous channels
 * (not the shifted s8 source) offers it to the step before (layer_qinput),
 * which then writes those bytes and runs it with x = NULL. A writer with
 * one such reader and no float output runs a second primitive whose dst is
 * the reader's source (dst u8/s8, profile kernel "... (->q8: dst u8)");
 * otherwise oneDNN writes f32 and the engine's quantize kernels write each
 * reader's bytes. */

/* Memory: layer_create allocates every buffer (oneDNN memories, user-mode
 * scratchpads, reordered weights), layer_set_qout those of the quantized
 * outputs (the direct primitive, sharing the weights when oneDNN picks the
 * same layout, and its scratchpad when it fits; or an f32 buffer); layer_run
 * allocates nothing itself, but dnnl_primitive_execute builds its argument
 * map with ~16-19 small C++ allocations per call (oneDNN 2.6, not avoidable
 * through its C API). */

/* Sets the engine's thread-local error ("onednn layer '<name>': ...") and
 * returns st. */
bp_status bp_dnnl_fail(bp_status st, const char *layer, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return bp_fail(st, "onednn layer '%s': %s", layer ? layer : "?", msg);
}

static int bp_dnnl_has_vnni(void)
{
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    return (isa & dnnl_cpu_isa_avx512_core_vnni) == dnnl_cpu_isa_avx512_core_vnni ||
           (isa & dnnl_cpu_isa_avx2_vnni) == dnnl_cpu_isa_avx2_vnni;
}

/* Fills tab[0..n) with the element offset contributed by index x of logical
 * dimension d of a blocked layout (outer blocks by stride, inner blocks dense,
 * innermost last). */
static void bp_dnnl_dim_offsets(const dnnl_memory_desc_t *md, int d, size_t *tab, uint32_t n)
{
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    dnnl_dim_t blk = 1;
    for (int i = 0; i < b->inner_nblks; i++)
        if (b->inner_idxs[i] == d) blk *= b->inner_blks[i];
    for (uint32_t x = 0; x < n; x++) {
        dnnl_dim_t off = ((dnnl_dim_t)x / blk) * b->strides[d];
        dnnl_dim_t r = (dnnl_dim_t)x % blk, inner_stride = 1;
        for (int i = b->inner_nblks - 1; i >= 0; i--) {
            if (b->inner_idxs[i] == d) {
                off += (r % b->inner_blks[i]) * inner_stride;
                r /= b->inner_blks[i];
            }
            inner_stride *= b->inner_blks[i];
        }
        tab[x] = (size_t)off;
    }
}

/* Builds the layout of an (N, C[, H, W]) activation md (for 2D mds the h and
 * w tables are {0}). *plain = 1 if it is the engine's dense layout: NCHW (or
 * NC), or NHWC when nhwc. Returns 0, or -1 when out of memory. */
static int bp_dnnl_lay_init(bp_dnnl_lay *ly, const dnnl_memory_desc_t *md, const uint32_t dims[4],
                            int nhwc, int *plain)
{
    const int nd = md->ndims;
    for (int d = 0; d < 4; d++) {
        ly->off[d] = malloc(sizeof(size_t) * (d < nd && dims[d] ? dims[d] : 1));
        if (!ly->off[d]) return -1;
        if (d < nd) bp_dnnl_dim_offsets(md, d, ly->off[d], dims[d]);
        else ly->off[d][0] = 0;
    }
    const uint32_t C = dims[1], W = nd > 3 ? dims[3] : 1;
    int cl = 1;
    for (uint32_t c = 0; c < C && cl; c++) cl = ly->off[1][c] == c;
    const size_t ws = W > 1 ? ly->off[3][1] : C;
    for (uint32_t w = 0; w < W && cl; w++) cl = ly->off[3][w] == (size_t)w * ws;
    ly->cl_ws = cl && C > 1 ? ws : 0;

    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    *plain = b->inner_nblks == 0 && md->offset0 == 0;
    /* dimensions from innermost to outermost: w, h, c, n or c, w, h, n */
    static const int ord_nchw[4] = {3, 2, 1, 0}, ord_nhwc[4] = {1, 3, 2, 0};
    static const int ord_nc[2] = {1, 0};
    const int *ord = nd == 4 ? (nhwc ? ord_nhwc : ord_nchw) : ord_nc;
    if (nd != 4 && nd != 2) *plain = 0;
    dnnl_dim_t want = 1;
    for (int i = 0; i < nd && *plain; i++) {
        const int d = ord[i];
        if (md->padded_dims[d] != md->dims[d] || (md->dims[d] > 1 && b->strides[d] != want))
            *plain = 0;
        want *= md->dims[d];
    }
    return 0;
}

#define BP_DNNL_TRY(call, what)                                                   \
    do {                                                                          \
        dnnl_status_t st_ = (call);                                               \
        if (st_ != dnnl_success) {                                                \
            st = bp_dnnl_fail(BP_ERR_BACKEND, d->name, "%s failed: %s", (what),   \
                              dnnl_status2str(st_));                              \
            goto fail;                                                            \
        }                                                                         \
    } while (0)

static void bp_dnnl_reorder_destroy(bp_dnnl_reorder *r)
{
    if (r->prim) dnnl_primitive_destroy(r->prim);
    if (r->user) dnnl_memory_destroy(r->user);
    if (r->scratch) dnnl_memory_destroy(r->scratch);
    memset(r, 0, sizeof *r);
}

/* Builds a reorder between the engine's plain f32 layout (the caller's
 * buffer, given at run time: NCHW, or NHWC when nhwc) and mem (layout md).
 * to_user: mem -> caller, else caller -> mem. */
static dnnl_status_t bp_dnnl_reorder_init(bp_dnnl_reorder *r, dnnl_engine_t eng, const dnnl_memory_desc_t *md,
                                 dnnl_memory_t mem, int to_user, int nhwc)
{
    dnnl_memory_desc_t plain;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st = dnnl_memory_desc_init_by_tag(&plain, md->ndims, md->dims, dnnl_f32,
                                                    md->ndims == 4 ? (nhwc ? dnnl_acdb : dnnl_abcd)
                                                                   : dnnl_ab);
    if (st == dnnl_success) st = dnnl_primitive_attr_create(&attr);
    if (st == dnnl_success) st = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (st == dnnl_success)
        st = to_user ? dnnl_reorder_primitive_desc_create(&pd, md, eng, &plain, eng, attr)
                     : dnnl_reorder_primitive_desc_create(&pd, &plain, eng, md, eng, attr);
    if (st == dnnl_success) st = dnnl_memory_create(&r->user, &plain, eng, DNNL_MEMORY_NONE);
    if (st == dnnl_success) {
        const dnnl_memory_desc_t *q = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        if (q && dnnl_memory_desc_get_size(q) > 0)
            st = dnnl_memory_create(&r->scratch, q, eng, DNNL_MEMORY_ALLOCATE);
    }
    if (st == dnnl_success) st = dnnl_primitive_create(&r->prim, pd);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (st != dnnl_success) {
        bp_dnnl_reorder_destroy(r);
        return st;
    }
    r->args[0] = (dnnl_exec_arg_t){DNNL_ARG_FROM, to_user ? mem : r->user};
    r->args[1] = (dnnl_exec_arg_t){DNNL_ARG_TO, to_user ? r->user : mem};
    r->nargs = 2;
    if (r->scratch) r->args[r->nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, r->scratch};
    return dnnl_success;
}

/* Runs r with the caller's NCHW buffer p (read only when r reads it). */
static dnnl_status_t bp_dnnl_reorder_run(const bp_dnnl_reorder *r, dnnl_stream_t strm, const float *p)
{
    dnnl_status_t st = dnnl_memory_set_data_handle(r->user, (void *)(uintptr_t)p);
    if (st == dnnl_success) st = dnnl_primitive_execute(r->prim, strm, r->nargs, r->args);
    return st;
}

static void bp_dnnl_destroy(void *state)
{
    bp_dnnl_layer *s = state;
    if (!s) return;
    if (s->prim) dnnl_primitive_destroy(s->prim);
    bp_dnnl_reorder_destroy(&s->in_ro);
    bp_dnnl_reorder_destroy(&s->out_ro);
    bp_dnnl_reorder_destroy(&s->res_ro);
    if (s->src) dnnl_memory_destroy(s->src);
    if (s->wei) dnnl_memory_destroy(s->wei);
    if (s->dst) dnnl_memory_destroy(s->dst);
    if (s->bias) dnnl_memory_destroy(s->bias);
    if (s->comp) dnnl_memory_destroy(s->comp);
    if (s->scratch) dnnl_memory_destroy(s->scratch);
    if (s->res) dnnl_memory_destroy(s->res);
    free(s->res_copy);
    if (s->qprim) dnnl_primitive_destroy(s->qprim);
    if (s->qdst) dnnl_memory_destroy(s->qdst);
    if (s->qwei) dnnl_memory_destroy(s->qwei);
    if (s->qscratch) dnnl_memory_destroy(s->qscratch);
    if (s->qres) dnnl_memory_destroy(s->qres);
    free(s->fbuf);
    if (s->strm) dnnl_stream_destroy(s->strm);
    if (s->eng) dnnl_engine_destroy(s->eng);
    for (int i = 0; i < 4; i++) {
        free(s->src_lay.off[i]);
        free(s->dst_lay.off[i]);
    }
    free(s);
}

static bp_status bp_dnnl_check_desc(const bp_layer_desc *d, const bp_backend_env *env, int int8)
{
    const char *name = d->name;
    const bpf_layer *L = d->L;
    if (!env) return bp_dnnl_fail(BP_ERR_INVALID_ARG, name, "null env");
    if (!L || !d->w_dense || !d->bias || (int8 && !d->out_scale) || (!int8 && !L->w_scale && !d->w_scale))
        return bp_dnnl_fail(BP_ERR_INVALID_ARG, name, "null layer, weights, scales or bias");
    if (L->kind != BPF_LAYER_CONV && L->kind != BPF_LAYER_LINEAR)
        return bp_dnnl_fail(BP_ERR_INVALID_ARG, name, "layer kind %u is not conv/linear", L->kind);
    if (d->N == 0 || L->c_out == 0 || L->c_in == 0 || L->groups == 0 ||
        L->c_in % L->groups || L->c_out % L->groups)
        return bp_dnnl_fail(BP_ERR_SHAPE, name, "bad shape N=%u c_in=%u c_out=%u groups=%u",
                            d->N, L->c_in, L->c_out, L->groups);
    if (L->kind == BPF_LAYER_LINEAR) {
        if (L->groups != 1 || L->K != L->c_in)
            return bp_dnnl_fail(BP_ERR_SHAPE, name, "linear needs groups=1 and K=c_in (K=%u c_in=%u)",
                                L->K, L->c_in);
    } else {
        uint64_t K = (uint64_t)(L->c_in / L->groups) * L->kh * L->kw;
        if (K != L->K || L->kh == 0 || L->kw == 0 || L->stride_h == 0 || L->stride_w == 0 ||
            L->dil_h == 0 || L->dil_w == 0)
            return bp_dnnl_fail(BP_ERR_SHAPE, name, "bad conv geometry (K=%u kh=%u kw=%u)",
                                L->K, L->kh, L->kw);
        int64_t eh = (int64_t)(L->kh - 1) * L->dil_h + 1, ew = (int64_t)(L->kw - 1) * L->dil_w + 1;
        int64_t ph = (int64_t)d->H + L->pad_t + L->pad_b - eh;
        int64_t pw = (int64_t)d->W + L->pad_l + L->pad_r - ew;
        if (ph < 0 || pw < 0 || d->OH != ph / L->stride_h + 1 || d->OW != pw / L->stride_w + 1)
            return bp_dnnl_fail(BP_ERR_SHAPE, name, "output %ux%u does not match input %ux%u",
                                d->OH, d->OW, d->H, d->W);
    }
    if (int8 && L->act_dtype != BPF_DT_U8 && L->act_dtype != BPF_DT_S8)
        return bp_dnnl_fail(BP_ERR_UNSUPPORTED, name, "act dtype %u is not u8/s8", L->act_dtype);
    return BP_OK;
}

/* Preference among oneDNN implementations: brgemm-based (brgconv, brdgmm,
 * brgemm) > other jit > gemm-based > reference. */
int bp_dnnl_impl_rank(const char *impl)
{
    if (!impl || strncmp(impl, "ref", 3) == 0) return 0;
    if (strstr(impl, "gemm") && !strstr(impl, "brg") && !strstr(impl, "brdgmm")) return 1;
    if (strncmp(impl, "br", 2) == 0) return 3;
    return 2;
}

/* Creates the primitive desc for one residual mode. Post-op chain, in the
 * order of the canonical epilogue: [int8: binary add bias] -> [residual]
 * -> [relu | gelu_erf when s->gelu_fused] -> [qinv > 0: linear x * qinv,
 * the reader's quantization, before oneDNN's conversion to a u8/s8 dst]. */
dnnl_status_t bp_dnnl_make_pd(const bp_layer_desc *d, const bp_dnnl_layer *s,
                                     const bp_dnnl_mds *m, int mode, float qinv,
                                     dnnl_primitive_desc_t *pd, int *bias_po, int *res_po)
{
    const bpf_layer *L = d->L;
    const int linear = L->kind == BPF_LAYER_LINEAR;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_memory_desc_t res_md;
    dnnl_status_t st = dnnl_primitive_attr_create(&attr);
    if (st != dnnl_success) return st;
    st = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (st == dnnl_success)
        st = s->int8 ? dnnl_primitive_attr_set_output_scales(attr, s->Co, 1 << 1, d->out_scale)
                     : dnnl_primitive_attr_set_fpmath_mode(attr, dnnl_fpmath_mode_strict);
    if (st == dnnl_success) st = dnnl_post_ops_create(&po);
    if (s->epi_after) {
        /* output scales only: bp_dnnl_finish does the rest (mode is NONE) */
    } else if (st == dnnl_success && s->int8) {
        *bias_po = dnnl_post_ops_len(po);
        st = dnnl_post_ops_append_binary(po, dnnl_binary_add, &m->po_bias);
    }
    if (st == dnnl_success && mode == BP_RES_SUM) {
        st = dnnl_post_ops_append_sum(po, 1.0f);
    } else if (st == dnnl_success && mode != BP_RES_NONE) {
        *res_po = dnnl_post_ops_len(po);
        dnnl_format_tag_t tag = mode == BP_RES_BINARY_DST ? dnnl_format_tag_any
                                : linear ? dnnl_ab : s->nhwc ? dnnl_acdb : dnnl_abcd;
        st = dnnl_memory_desc_init_by_tag(&res_md, linear ? 2 : 4, m->ddims, dnnl_f32, tag);
        if (st == dnnl_success) st = dnnl_post_ops_append_binary(po, dnnl_binary_add, &res_md);
    }
    if (st == dnnl_success && d->act == BP_EPI_RELU && !s->epi_after)
        st = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f);
    if (st == dnnl_success && d->act == BP_EPI_GELU && s->gelu_fused)
        st = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_gelu_erf, 0.0f, 0.0f);
    if (st == dnnl_success && qinv > 0.0f)
        st = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_linear, qinv, 0.0f);
    if (st == dnnl_success && dnnl_post_ops_len(po) > 0) st = dnnl_primitive_attr_set_post_ops(attr, po);
    const dnnl_memory_desc_t *op_bias = s->int8 && !s->shift_s8 ? NULL : &m->bias;
    if (st == dnnl_success && linear) {
        dnnl_inner_product_desc_t ipd;
        st = dnnl_inner_product_forward_desc_init(&ipd, dnnl_forward_inference, &m->src, &m->wei,
                                                  op_bias, &m->dst);
        if (st == dnnl_success) st = dnnl_primitive_desc_create(pd, &ipd, attr, s->eng, NULL);
    } else if (st == dnnl_success) {
        dnnl_convolution_desc_t cd;
        dnnl_dims_t strides = {L->stride_h, L->stride_w};
        dnnl_dims_t dil = {L->dil_h - 1, L->dil_w - 1}; /* oneDNN counts the gaps */
        dnnl_dims_t pl = {L->pad_t, L->pad_l}, pr = {L->pad_b, L->pad_r};
        if (s->pad_src) /* the source is padded explicitly */
            pl[0] = pl[1] = pr[0] = pr[1] = 0;
        st = dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference,
                dnnl_convolution_direct, &m->src, &m->wei, op_bias, &m->dst, strides, dil, pl, pr);
        if (st == dnnl_success) st = dnnl_primitive_desc_create(pd, &cd, attr, s->eng, NULL);
    }
    if (st != dnnl_success) *pd = NULL;
    if (po) dnnl_post_ops_destroy(po);
    dnnl_primitive_attr_destroy(attr);
    return st;
}

/* s8 sources of padded convs make oneDNN 2.6 fall back from brgconv /
 * brdgmm to the slower jit_int8. Instead: x_u8 = x_s8 + 128 on an input
 * padded explicitly with 128 (= s8 zero), a conv without padding, and
 * oneDNN's bias = -128 * sum_k w[j][k], which it adds to the accumulator in
 * f32 before the output scale: float(acc_u) + float(-comp) is exactly acc_s8
 * when all three stay below 2^24 in magnitude, so the scaled result is the
 * canonical (float)acc * out_scale. This checks that bound per row on the
 * (clamped) weights: 255 * sum_k |w| < 2^24; else the s8 path is kept. */
static int bp_dnnl_shift_ok(const bp_layer_desc *d)
{
    const bpf_layer *L = d->L;
    if (!(L->pad_t | L->pad_l | L->pad_b | L->pad_r)) return 0; /* brgconv takes s8 as is */
    for (size_t j = 0; j < L->c_out; j++) {
        int64_t a = 0;
        for (size_t k = 0; k < L->K; k++) {
            int w = d->w_dense[j * L->K + k];
            w = w > 127 ? 127 : w < -128 ? -128 : w;
            a += w < 0 ? -w : w;
        }
        if (255 * a >= (1 << 24)) return 0;
    }
    return 1;
}

/* Whether some output position along one axis reads padding only: no tap
 * of its window lands inside [0, in). */
static int bp_dnnl_pad_only_window(uint32_t in, uint32_t out, uint32_t k, uint32_t stride,
                                   uint32_t dil, uint32_t pad0)
{
    for (uint32_t o = 0; o < out; o++) {
        int inside = 0;
        for (uint32_t t = 0; t < k && !inside; t++) {
            const int64_t i = (int64_t)o * stride - pad0 + (int64_t)t * dil;
            inside = i >= 0 && i < (int64_t)in;
        }
        if (!inside) return 1;
    }
    return 0;
}

/* Convs oneDNN 2.6 must not see padded: a 1x1 kernel with padding (brgconv
 * on stride 2 with bottom padding and a sum post-op segfaults in its jit
 * code for int8, VNNI and AMX alike, and writes wrong outputs for f32), and
 * any conv with an output row or column whose window is all padding (the
 * same empty-window shape). Their source is padded explicitly, as for
 * shift_s8: the same result, and oneDNN sees no padding. */
static int bp_dnnl_pad_risky(const bp_layer_desc *d)
{
    const bpf_layer *L = d->L;
    if (!(L->pad_t | L->pad_l | L->pad_b | L->pad_r)) return 0;
    if (L->kh == 1 && L->kw == 1) return 1;
    return bp_dnnl_pad_only_window(d->H, d->OH, L->kh, L->stride_h, L->dil_h, L->pad_t) ||
           bp_dnnl_pad_only_window(d->W, d->OW, L->kw, L->stride_w, L->dil_w, L->pad_l);
}

/* The plain (g)oihw weights, which are exactly w_dense row-major (row j =
 * g*Co/G + o, column k = (ci, dy, dx)): int8 clamped to s8 (counted in
 * *n_clamped), f32 dequantized by the (folded) weight scales. NULL when out
 * of memory. */
void *bp_dnnl_plain_weights(const bp_dnnl_layer *s, const bp_layer_desc *d,
                                   uint64_t *n_clamped)
{
    const bpf_layer *L = d->L;
    const size_t Co = L->c_out, nw = Co * L->K;
    void *w = malloc(nw * (s->int8 ? 1 : sizeof(float)));
    if (!w) return NULL;
    if (s->int8) {
        int8_t *w8 = w;
        for (size_t i = 0; i < nw; i++) {
            int v = d->w_dense[i];
            if (v > 127 || v < -128) {
                ++*n_clamped;
                v = v > 127 ? 127 : -128;
            }
            w8[i] = (int8_t)v;
        }
    } else {
        float *wf = w;
        const float *ws = d->w_scale ? d->w_scale : L->w_scale; /* with folds */
        for (size_t j = 0; j < Co; j++)
            for (size_t k = 0; k < L->K; k++)
                wf[j * L->K + k] = (float)d->w_dense[j * L->K + k] * ws[j];
    }
    return w;
}

/* Reorders plain weights (layout plain_md) into `to` (layout md), once; for
 * s8 sources oneDNN's reorder also computes its s8s8 compensation. */
dnnl_status_t bp_dnnl_reorder_weights(const bp_dnnl_layer *s, const dnnl_memory_desc_t *plain_md,
                                             void *plain, const dnnl_memory_desc_t *md,
                                             dnnl_memory_t to)
{
    dnnl_memory_t from = NULL;
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t rprim = NULL;
    dnnl_status_t st = dnnl_memory_create(&from, plain_md, s->eng, plain);
    if (st == dnnl_success)
        st = dnnl_reorder_primitive_desc_create(&rpd, plain_md, s->eng, md, s->eng, NULL);
    if (st == dnnl_success) st = dnnl_primitive_create(&rprim, rpd);
    if (st == dnnl_success) {
        dnnl_exec_arg_t ra[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
        st = dnnl_primitive_execute(rprim, s->strm, 2, ra);
    }
    if (st == dnnl_success) st = dnnl_stream_wait(s->strm);
    if (rprim) dnnl_primitive_destroy(rprim);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (from) dnnl_memory_destroy(from);
    return st;
}

/* $BP_ONEDNN_GELU: "fused" (default) runs a layer's GELU as oneDNN's
 * eltwise gelu_erf post-op, as a oneDNN user would (fast; its rounding, so
 * the session is inexact); "exact" runs it after oneDNN with the engine's
 * GELU kernel (formats/SPEC.md 7.3, bit-identical to "reference"). */
static int bp_dnnl_gelu_fused(void)
{
    const char *e = getenv("BP_ONEDNN_GELU");
    if (!e || !*e || !strcmp(e, "fused")) return 1;
    if (!strcmp(e, "exact")) return 0;
    fprintf(stderr, "bitprune: BP_ONEDNN_GELU='%s' is not fused or exact; ignored\n", e);
    return 1;
}

static bp_status bp_dnnl_create(const bp_layer_desc *d, const bp_backend_env *env, int int8,
                                void **state)
{
    if (!state) return BP_ERR_INVALID_ARG;
    *state = NULL;
    if (!d) return bp_dnnl_fail(BP_ERR_INVALID_ARG, NULL, "null layer desc");
    bp_status st = bp_dnnl_check_desc(d, env, int8);
    if (st != BP_OK) return st;

    const bpf_layer *L = d->L;
    const int linear = L->kind == BPF_LAYER_LINEAR;
    bp_dnnl_layer *s = calloc(1, sizeof *s);
    if (!s) return bp_dnnl_fail(BP_ERR_NOMEM, d->name, "out of memory");
    s->name = d->name;
    s->int8 = int8;
    s->s8_src = int8 && L->act_dtype == BPF_DT_S8;
    s->shift_s8 = s->s8_src && !linear && bp_dnnl_shift_ok(d) && !getenv("BP_ONEDNN_NO_S8_SHIFT");
    s->pad_src = !linear && (s->shift_s8 || bp_dnnl_pad_risky(d));
    const int threads = env->threads > 0 ? env->threads : omp_get_num_procs();
    s->threads = threads;
    s->fuse_residual = d->fuse_residual != 0;
    s->N = d->N; s->C = L->c_in; s->Co = L->c_out;
    s->H = linear ? 1 : d->H; s->W = linear ? 1 : d->W;
    s->OH = linear ? 1 : d->OH; s->OW = linear ? 1 : d->OW;
    s->inv_scale = d->act_inv_scale;
    s->nhwc = !linear && d->layout == BP_LAYOUT_NHWC;
    s->exact = 1;
    s->why = "";
    s->desc = *d;
    if (env->kt) {
        s->kt = env->kt;
    } else {
        bp_kernels_init(&s->kt_own, env->isa_mask);
        s->kt = &s->kt_own;
    }
    s->gelu_fused = d->act == BP_EPI_GELU && bp_dnnl_gelu_fused();

    int old_thr = bp_dnnl_threads_enter(threads);
    dnnl_primitive_desc_t pd = NULL;
    void *wtmp = NULL;

    BP_DNNL_TRY(dnnl_engine_create(&s->eng, dnnl_cpu, 0), "dnnl_engine_create");
    BP_DNNL_TRY(dnnl_stream_create(&s->strm, s->eng, dnnl_stream_default_flags),
                "dnnl_stream_create");

    const dnnl_data_type_t src_dt = !int8 ? dnnl_f32 : s->s8_src && !s->shift_s8 ? dnnl_s8 : dnnl_u8;
    const dnnl_data_type_t wei_dt = int8 ? dnnl_s8 : dnnl_f32;
    const int64_t G = L->groups, Co = L->c_out, Ci = L->c_in;
    bp_dnnl_mds mds;
    dnnl_memory_desc_t *src_md = &mds.src, *wei_md = &mds.wei, *dst_md = &mds.dst;
    dnnl_memory_desc_t *bias_md = &mds.bias, *po_bias_md = &mds.po_bias;
    dnnl_dims_t sdims, wdims;
    dnnl_dim_t *ddims = mds.ddims;
    int wnd;
    if (linear) {
        sdims[0] = s->N; sdims[1] = Ci;
        ddims[0] = s->N; ddims[1] = Co;
        wdims[0] = Co; wdims[1] = Ci;
        wnd = 2;
        BP_DNNL_TRY(dnnl_memory_desc_init_by_tag(src_md, 2, sdims, src_dt, dnnl_format_tag_any), "src md");
        BP_DNNL_TRY(dnnl_memory_desc_init_by_tag(dst_md, 2, ddims, dnnl_f32, dnnl_format_tag_any), "dst md");
        BP_DNNL_TRY(dnnl_memory_desc_init_by_tag(wei_md, 2, wdims, wei_dt, dnnl_format_tag_any), "weights md");
        dnnl_dims_t bd = {1, Co};
        BP_DNNL_TRY(dnnl_memory_desc_init_by_tag(po_bias_md, 2, bd, dnnl_f32, dnnl_ab), "bias md");
    } else {
        sdims[0] = s->N; sdims[1] = Ci; sdims[2] = s->H; sdims[3] = s->W;
        if (s->pad_src) {
            sdims[2] += L->pad_t + L->pad_b;
            sdims[3] += L->pad_l + L->pad_r;
        }
        ddims[0] = s->N; ddims[1] = Co; ddims[2] = s->OH; ddims[3] = s->OW;
        if (G > 1) {
            wdims[0] = G; wdims[1] = Co / G; wdims[2] = Ci / G; wdims[3] = L->kh; wdims[4] = L->kw;
            wnd = 5;
        } else {
            wdims[0] = Co; wdims[1] = Ci; wdims[2] = L->kh; wdims[3] = L->kw;
            wnd = 4;
        }
        /* The engine's NHWC (acdb) when it keeps activations channels-last:
         * under format_tag_any oneDNN 2.6 picks channels-last src and dst
         * anyway for every conv of convnext-t, int8 and f32 (brgconv,
         * brgconv_1x1, brdgmm_dw; checked with BP_ONEDNN_DEBUG), so src is
         * quantized straight from the engine's buffer and dst is written into
         * it, no reorders. If no implementation takes acdb, _any is retried
         * (with reorders). NCHW engines (d->layout 0) keep _any. */
        const dnnl_format_tag_t atag = s->nhwc ? dnnl_acdb : dnnl_format_tag_any;
        BP_DNNL_TRY(dnnl_memory_desc_init_by_tag(src_md, 4, sdims, src_dt, atag), "src md");
        BP_DNNL_TRY(dnnl_memory_desc_init_by_tag(dst_md, 4, ddims, dnnl_f32, atag), "dst md");
        BP_DNNL_TRY(dnnl_memory_desc_init_by_tag(wei_md, wnd, wdims, wei_dt, dnnl_format_tag_any), "weights md");
        dnnl_dims_t bd = {1, Co, 1, 1};
        BP_DNNL_TRY(dnnl_memory_desc_init_by_tag(po_bias_md, 4, bd, dnnl_f32, dnnl_abcd), "bias md");
    }
    {
        dnnl_dims_t bd = {Co};
        BP_DNNL_TRY(dnnl_memory_desc_init_by_tag(bias_md, 1, bd, dnnl_f32, dnnl_a), "bias md");
    }

    /* Residual: three equivalent ways (each is one separately rounded f32
     * add of the same operands): a binary add reading the caller's NCHW
     * tensor as is (no copy), a sum post-op over dst preloaded with the
     * residual, a binary add with src1 copied into dst's layout. oneDNN
     * supports them in different kernels (brgconv takes only sum; brgemm
     * inner product takes binary NCHW only at N=1), so keep the best ranked
     * implementation, the earlier mode on ties; except that gemm-based
     * implementations take the sum: below AVX-512 their post-processing
     * misplaces a full-tensor binary operand (oneDNN 2.6, f32 nhwc convs:
     * wrong outputs), while sum is their native accumulate. */
    static const int res_modes[3] = {BP_RES_BINARY_NCHW, BP_RES_SUM, BP_RES_BINARY_DST};
    const int n_modes = s->fuse_residual ? 3 : 1;
    int best_rank = -1, best_score = -1, bias_po = -1, res_po = -1, retried = 0;
    dnnl_status_t pst = dnnl_success;
search:
    for (int m = 0; m < n_modes && best_rank < 3; m++) {
        const int mode = s->fuse_residual && !s->epi_after ? res_modes[m] : BP_RES_NONE;
        dnnl_primitive_desc_t cand = NULL;
        int bpo = -1, rpo = -1;
        dnnl_status_t cs = bp_dnnl_make_pd(d, s, &mds, mode, 0.0f, &cand, &bpo, &rpo);
        if (cs != dnnl_success) {
            pst = cs;
            continue;
        }
        const char *ci = NULL;
        if (dnnl_primitive_desc_query(cand, dnnl_query_impl_info_str, 0, &ci) != dnnl_success) ci = NULL;
        const int rank = bp_dnnl_impl_rank(ci), score = 2 * rank + (rank == 1 && mode == BP_RES_SUM);
        if (getenv("BP_ONEDNN_DEBUG"))
            fprintf(stderr, "onednn: '%s' residual mode %d -> %s\n", d->name, mode, ci ? ci : "?");
        if (score > best_score) {
            if (pd) dnnl_primitive_desc_destroy(pd);
            pd = cand;
            best_rank = rank;
            best_score = score;
            s->res_mode = mode;
            bias_po = bpo;
            res_po = rpo;
        } else {
            dnnl_primitive_desc_destroy(cand);
        }
    }
    if (!pd && s->nhwc && !retried) {
        /* no implementation takes nhwc as is: let oneDNN choose (reorders) */
        retried = 1;
        BP_DNNL_TRY(dnnl_memory_desc_init_by_tag(src_md, 4, sdims, src_dt, dnnl_format_tag_any), "src md");
        BP_DNNL_TRY(dnnl_memory_desc_init_by_tag(dst_md, 4, ddims, dnnl_f32, dnnl_format_tag_any), "dst md");
        goto search;
    }
    if (!pd) {
        st = bp_dnnl_fail(BP_ERR_BACKEND, d->name, "no oneDNN %s implementation: %s",
                          linear ? "inner product" : "convolution", dnnl_status2str(pst));
        goto fail;
    }
    const char *impl = NULL;
    BP_DNNL_TRY(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl), "impl query");
    if (int8 && !linear && G > 1 && bp_dnnl_impl_rank(impl) == 1 && !s->epi_after) {
        /* oneDNN 2.6's gemm-based int8 conv (gemm_x8s8s32x) reads the
         * per-channel binary operand at the wrong channel in grouped convs
         * (seen with 17 or 33 output channels per group: wrong bias from
         * the group's second vector on); its output scales are right. So
         * oneDNN applies the scales only and bp_dnnl_finish the epilogue. */
        s->epi_after = 1;
        s->gelu_fused = 0;
        dnnl_primitive_desc_destroy(pd);
        pd = NULL;
        best_rank = best_score = -1;
        bias_po = res_po = -1;
        goto search;
    }
    snprintf(s->impl, sizeof s->impl, "%s", impl ? impl : "?");

    const dnnl_memory_desc_t *q_src = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *q_wei = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *q_dst = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    const dnnl_memory_desc_t *q_scr = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if (!q_src || !q_wei || !q_dst || !q_scr || q_src->format_kind != dnnl_blocked ||
        q_dst->format_kind != dnnl_blocked) {
        st = bp_dnnl_fail(BP_ERR_BACKEND, d->name, "%s chose a non-blocked activation layout", s->impl);
        goto fail;
    }

    const uint32_t sd[4] = {s->N, s->C, (uint32_t)(linear ? 1 : sdims[2]), (uint32_t)(linear ? 1 : sdims[3])};
    const uint32_t dd[4] = {s->N, s->Co, s->OH, s->OW};
    int src_plain = 0;
    if (bp_dnnl_lay_init(&s->src_lay, q_src, sd, s->nhwc, &src_plain) ||
        bp_dnnl_lay_init(&s->dst_lay, q_dst, dd, s->nhwc, &s->dst_direct)) {
        st = bp_dnnl_fail(BP_ERR_NOMEM, d->name, "out of memory");
        goto fail;
    }
    s->src_direct = !int8 && !s->pad_src && src_plain;
    /* A plain u8/s8 source with contiguous channels (nhwc, or a linear's nc),
     * not shifted: the layer before may write it (layer_qinput). */
    if (int8 && !s->shift_s8 && q_src->format_desc.blocking.inner_nblks == 0 &&
        q_src->offset0 == 0 && q_src->format_desc.blocking.strides[1] == 1) {
        s->src_q = 1;
        for (int i = 0; i < q_src->ndims && i < 4; i++)
            s->src_strides[i] = (size_t)q_src->format_desc.blocking.strides[i];
    }

    /* Memories: oneDNN allocates (aligned) here, never in layer_run; direct
     * ones get the caller's x / y pointer at run time. */
    BP_DNNL_TRY(dnnl_memory_create(&s->src, q_src, s->eng,
                                   s->src_direct ? DNNL_MEMORY_NONE : DNNL_MEMORY_ALLOCATE), "src memory");
    BP_DNNL_TRY(dnnl_memory_create(&s->dst, q_dst, s->eng,
                                   s->dst_direct ? DNNL_MEMORY_NONE : DNNL_MEMORY_ALLOCATE), "dst memory");
    BP_DNNL_TRY(dnnl_memory_create(&s->wei, q_wei, s->eng, DNNL_MEMORY_ALLOCATE), "weights memory");
    s->src_bytes = dnnl_memory_desc_get_size(q_src);
    s->dst_bytes = dnnl_memory_desc_get_size(q_dst);
    /* Channel padding of blocked layouts and an explicit border must read as
     * zero (128 in a shifted s8 source); neither is written again. */
    if (!s->src_direct) {
        BP_DNNL_TRY(dnnl_memory_get_data_handle(s->src, &s->src_buf), "src handle");
        memset(s->src_buf, s->shift_s8 ? 128 : 0, s->src_bytes);
    }
    if (s->pad_src) {
        s->src_lay.h0 = L->pad_t;
        s->src_lay.w0 = L->pad_l;
    }
    if (!s->dst_direct) {
        void *dh = NULL;
        BP_DNNL_TRY(dnnl_memory_get_data_handle(s->dst, &dh), "dst handle");
        memset(dh, 0, s->dst_bytes);
    }
    size_t scr_bytes = dnnl_memory_desc_get_size(q_scr);
    if (scr_bytes > 0)
        BP_DNNL_TRY(dnnl_memory_create(&s->scratch, q_scr, s->eng, DNNL_MEMORY_ALLOCATE), "scratchpad memory");

    /* Weights: plain (bp_dnnl_plain_weights), reordered once into the
     * primitive's layout. */
    const size_t nw = (size_t)Co * L->K;
    dnnl_memory_desc_t wplain_md;
    dnnl_format_tag_t wtag = wnd == 2 ? dnnl_ab : wnd == 4 ? dnnl_abcd : dnnl_abcde;
    BP_DNNL_TRY(dnnl_memory_desc_init_by_tag(&wplain_md, wnd, wdims, wei_dt, wtag), "plain weights md");
    wtmp = bp_dnnl_plain_weights(s, d, &s->n_clamped);
    if (!wtmp) {
        st = bp_dnnl_fail(BP_ERR_NOMEM, d->name, "out of memory");
        goto fail;
    }
    BP_DNNL_TRY(bp_dnnl_reorder_weights(s, &wplain_md, wtmp, q_wei, s->wei), "weights reorder");

    /* Bias: oneDNN's own bias for f32; a per-channel binary-add operand for int8. */
    BP_DNNL_TRY(dnnl_memory_create(&s->bias, int8 ? po_bias_md : bias_md, s->eng,
                                   DNNL_MEMORY_ALLOCATE), "bias memory");
    {
        void *bh = NULL;
        BP_DNNL_TRY(dnnl_memory_get_data_handle(s->bias, &bh), "bias handle");
        memcpy(bh, d->bias, sizeof(float) * (size_t)Co);
    }

    if (s->shift_s8) {
        BP_DNNL_TRY(dnnl_memory_create(&s->comp, bias_md, s->eng, DNNL_MEMORY_ALLOCATE), "bias memory");
        void *ch = NULL;
        BP_DNNL_TRY(dnnl_memory_get_data_handle(s->comp, &ch), "bias handle");
        const int8_t *w8 = wtmp;
        for (size_t j = 0; j < (size_t)Co; j++) {
            int64_t sum = 0;
            for (size_t k = 0; k < L->K; k++) sum += w8[j * L->K + k];
            ((float *)ch)[j] = (float)(-128 * sum); /* exact: |.| < 2^24 (bp_dnnl_shift_ok) */
        }
    }

    int na = 0;
    s->args[na++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, s->src};
    s->args[na++] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, s->wei};
    s->args[na++] = (dnnl_exec_arg_t){DNNL_ARG_DST, s->dst};
    if (int8 && !s->epi_after)
        s->args[na++] = (dnnl_exec_arg_t){DNNL_ARG_ATTR_MULTIPLE_POST_OP(bias_po) | DNNL_ARG_SRC_1, s->bias};
    else if (!int8)
        s->args[na++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, s->bias};
    if (s->comp) s->args[na++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, s->comp};
    if (s->scratch) s->args[na++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, s->scratch};
    if (s->res_mode == BP_RES_BINARY_NCHW || s->res_mode == BP_RES_BINARY_DST) {
        const int arg = DNNL_ARG_ATTR_MULTIPLE_POST_OP(res_po) | DNNL_ARG_SRC_1;
        const dnnl_memory_desc_t *q_res = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, arg);
        if (!q_res || q_res->format_kind != dnnl_blocked) {
            st = bp_dnnl_fail(BP_ERR_BACKEND, d->name, "%s: no residual layout", s->impl);
            goto fail;
        }
        const int dir = s->res_mode == BP_RES_BINARY_NCHW;
        BP_DNNL_TRY(dnnl_memory_create(&s->res, q_res, s->eng, dir ? DNNL_MEMORY_NONE : DNNL_MEMORY_ALLOCATE),
                    "residual memory");
        if (dir && s->dst_direct) {
            /* y may alias the residual: oneDNN would then read src1 where it writes dst. */
            size_t nb = (sizeof(float) * (size_t)s->N * s->Co * s->OH * s->OW + 63) & ~(size_t)63;
            s->res_copy = aligned_alloc(64, nb);
            if (!s->res_copy) {
                st = bp_dnnl_fail(BP_ERR_NOMEM, d->name, "out of memory");
                goto fail;
            }
        } else if (!dir) {
            void *rh = NULL;
            BP_DNNL_TRY(dnnl_memory_get_data_handle(s->res, &rh), "residual handle");
            memset(rh, 0, dnnl_memory_desc_get_size(q_res));
        }
        s->args[na++] = (dnnl_exec_arg_t){arg, s->res};
    }
    if (s->epi_after && s->fuse_residual) {
        /* y may alias the residual: oneDNN writes y before bp_dnnl_finish reads it. */
        size_t nb = (sizeof(float) * (size_t)s->N * s->Co * s->OH * s->OW + 63) & ~(size_t)63;
        s->res_copy = aligned_alloc(64, nb);
        if (!s->res_copy) {
            st = bp_dnnl_fail(BP_ERR_NOMEM, d->name, "out of memory");
            goto fail;
        }
    }
    s->nargs = na;

    BP_DNNL_TRY(dnnl_primitive_create(&s->prim, pd), "primitive create");
    /* f32 NCHW <-> oneDNN layouts by its jit reorders (faster than a C
     * transpose when the data is not in cache). */
    if (!int8 && !s->src_direct && !s->pad_src)
        BP_DNNL_TRY(bp_dnnl_reorder_init(&s->in_ro, s->eng, q_src, s->src, 0, s->nhwc), "source reorder");
    if (!s->dst_direct)
        BP_DNNL_TRY(bp_dnnl_reorder_init(&s->out_ro, s->eng, q_dst, s->dst, 1, s->nhwc), "output reorder");
    if (s->res_mode == BP_RES_SUM && !s->dst_direct)
        BP_DNNL_TRY(bp_dnnl_reorder_init(&s->res_ro, s->eng, q_dst, s->dst, 0, s->nhwc), "residual reorder");
    else if (s->res_mode == BP_RES_BINARY_DST)
        BP_DNNL_TRY(bp_dnnl_reorder_init(&s->res_ro, s->eng,
                        dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md,
                            DNNL_ARG_ATTR_MULTIPLE_POST_OP(res_po) | DNNL_ARG_SRC_1),
                        s->res, 0, s->nhwc),
                    "residual reorder");
    if (getenv("BP_ONEDNN_DEBUG"))
        fprintf(stderr, "onednn: '%s' %s: src %s, dst %s, residual mode %d, s8 shift %d, "
                "explicit padding %d, weights %zu bytes (plain %zu), %llu clamped to s8\n",
                d->name, s->impl,
                s->src_direct ? "direct" : s->src_lay.cl_ws ? "channels-last" : "blocked",
                s->dst_direct ? "direct" : s->dst_lay.cl_ws ? "channels-last" : "blocked",
                s->res_mode, s->shift_s8, s->pad_src, dnnl_memory_desc_get_size(q_wei),
                nw * (int8 ? 1 : sizeof(float)), (unsigned long long)s->n_clamped);

    if (!int8) {
        s->exact = 0;
        s->why = "float reference (no activation quantization)";
    } else if (s->n_clamped) {
        s->exact = 0;
        s->why = "weights beyond s8 clamped: result is speed-only";
    } else if (!bp_dnnl_has_vnni() ||
               ((q_wei->extra.flags & dnnl_memory_extra_flag_scale_adjust) &&
                q_wei->extra.scale_adjust != 1.0f)) {
        s->exact = 0;
        s->why = "no VNNI: oneDNN int8 saturates u8*s8 pairs at 16 bits or halves weights";
    } else if (s->gelu_fused) {
        s->exact = 0;
        s->why = "GELU fused as oneDNN's gelu_erf post-op (its rounding, not SPEC.md 7.3): "
                 "speed-only; BP_ONEDNN_GELU=exact keeps GELU exact";
    }

    st = BP_OK;
    *state = s;
    s = NULL;
fail:
    free(wtmp);
    if (pd) dnnl_primitive_desc_destroy(pd);
    bp_dnnl_threads_leave(threads, old_thr);
    bp_dnnl_destroy(s);
    return st;
}

static bp_status bp_dnnl_create_int8(const bp_layer_desc *d, const bp_backend_env *env, void **state)
{
    return bp_dnnl_create(d, env, 1, state);
}

static bp_status bp_dnnl_create_f32(const bp_layer_desc *d, const bp_backend_env *env, void **state)
{
    return bp_dnnl_create(d, env, 0, state);
}

/* ---- Moving activations between float NCHW and oneDNN's layouts ----
 * mode: 0 copy f32, 1 quantize to u8, 2 quantize to s8 (bp_quant_*),
 * 3 quantize to s8 and store it + 128 as u8. Runs of consecutive outputs go
 * through the kernel table (quantize_u8/s8, quantize_s8u: the same bytes as
 * bp_quant_*); single elements scattered through offset tables are quantized
 * here one by one. */
#define BP_DNNL_TILE 16
#define BP_DNNL_CTILE 64

static inline void bp_dnnl_put(void *buf, size_t o, float v, int mode, float inv)
{
    if (mode == 1) ((uint8_t *)buf)[o] = bp_quant_u8(v, inv);
    else if (mode == 2) ((int8_t *)buf)[o] = bp_quant_s8(v, inv);
    else if (mode == 3) ((uint8_t *)buf)[o] = (uint8_t)(bp_quant_s8(v, inv) + 128);
    else ((float *)buf)[o] = v;
}

/* n consecutive elements. */
static inline void bp_dnnl_put_run(const bp_kernel_table *kt, void *buf, size_t o,
                                   const float *src, size_t n, int mode, float inv)
{
    if (mode == 1) kt->quantize_u8(src, (uint8_t *)buf + o, n, inv);
    else if (mode == 2) kt->quantize_s8(src, (int8_t *)buf + o, n, inv);
    else if (mode == 3) kt->quantize_s8u(src, (uint8_t *)buf + o, n, inv);
    else memcpy((float *)buf + o, src, n * sizeof(float));
}

/* One row of the packing. From an NHWC engine tensor (src_nhwc): row (n, h);
 * into channels-last layouts a run of C channels per pixel (one run of W*C
 * when pixels are dense: nhwc), else through the offset tables. From NCHW:
 * (n, h) for channels-last layouts (nhwc and friends: channel offset c,
 * pixel offset w * cl_ws), by tiles of 16 pixels x 64 channels transposed
 * into tmp so that each pixel's channels are one run; (n, c) for any other
 * blocked layout, through the per-dimension offset tables. */
static void bp_dnnl_pack_row(const bp_kernel_table *kt, const bp_dnnl_lay *ly, void *buf,
                             const float *t, uint32_t C, uint32_t H, uint32_t W, int64_t r,
                             int mode, float inv, int src_nhwc)
{
    const size_t HW = (size_t)H * W;
    if (src_nhwc) {
        const uint32_t n = (uint32_t)(r / H), h = (uint32_t)(r % H);
        const float *trow = t + ((size_t)n * H + h) * W * C;
        const size_t *ow = ly->off[3] + ly->w0;
        if (ly->cl_ws) {
            const size_t base = ly->off[0][n] + ly->off[2][h + ly->h0] + ly->w0 * ly->cl_ws;
            if (ly->cl_ws == C) {
                bp_dnnl_put_run(kt, buf, base, trow, (size_t)W * C, mode, inv);
            } else {
                for (uint32_t w = 0; w < W; w++)
                    bp_dnnl_put_run(kt, buf, base + w * ly->cl_ws, trow + (size_t)w * C, C,
                                    mode, inv);
            }
        } else {
            const size_t base = ly->off[0][n] + ly->off[2][h + ly->h0];
            for (uint32_t w = 0; w < W; w++)
                for (uint32_t c = 0; c < C; c++)
                    bp_dnnl_put(buf, base + ly->off[1][c] + ow[w], trow[(size_t)w * C + c], mode, inv);
        }
        return;
    }
    if (ly->cl_ws) {
        const size_t ws = ly->cl_ws;
        const uint32_t n = (uint32_t)(r / H), h = (uint32_t)(r % H);
        const float *trow = t + (size_t)n * C * HW + (size_t)h * W;
        const size_t base = ly->off[0][n] + ly->off[2][h + ly->h0] + ly->w0 * ws;
        float tmp[BP_DNNL_TILE][BP_DNNL_CTILE];
        for (uint32_t w0 = 0; w0 < W; w0 += BP_DNNL_TILE) {
            const uint32_t w1 = W - w0 < BP_DNNL_TILE ? W : w0 + BP_DNNL_TILE;
            for (uint32_t c0 = 0; c0 < C; c0 += BP_DNNL_CTILE) {
                const uint32_t c1 = C - c0 < BP_DNNL_CTILE ? C : c0 + BP_DNNL_CTILE;
                for (uint32_t c = c0; c < c1; c++)
                    for (uint32_t w = w0; w < w1; w++) tmp[w - w0][c - c0] = trow[c * HW + w];
                for (uint32_t w = w0; w < w1; w++)
                    bp_dnnl_put_run(kt, buf, base + w * ws + c0, tmp[w - w0], c1 - c0, mode, inv);
            }
        }
    } else {
        const size_t *oh = ly->off[2] + ly->h0, *ow = ly->off[3] + ly->w0;
        const uint32_t n = (uint32_t)(r / C), c = (uint32_t)(r % C);
        const float *tp = t + (size_t)r * HW;
        const size_t base = ly->off[0][n] + ly->off[1][c];
        for (uint32_t h = 0; h < H; h++)
            for (uint32_t w = 0; w < W; w++)
                bp_dnnl_put(buf, base + oh[h] + ow[w], tp[(size_t)h * W + w], mode, inv);
    }
}

/* Float t [N, C, H, W] (NCHW, or NHWC when src_nhwc) -> buf in layout ly
 * (quantizing for modes 1-3). */
static void bp_dnnl_pack(const bp_kernel_table *kt, const bp_dnnl_lay *ly, void *buf,
                         const float *t, uint32_t N, uint32_t C, uint32_t H, uint32_t W,
                         int mode, float inv, int src_nhwc, int threads)
{
    const int64_t rows = (int64_t)N * (src_nhwc || ly->cl_ws ? H : C);
#pragma omp parallel for num_threads(threads) if ((int64_t)N * C * H * W >= 65536) schedule(static)
    for (int64_t r = 0; r < rows; r++)
        bp_dnnl_pack_row(kt, ly, buf, t, C, H, W, r, mode, inv, src_nhwc);
}

static bp_status bp_dnnl_run(void *state, const float *x, const float *residual, float *y)
{
    bp_dnnl_layer *s = state;
    if (!s) return bp_dnnl_fail(BP_ERR_INVALID_ARG, NULL, "null layer state");
    if ((!x && !s->qin) || (!y && !s->n_q))
        return bp_dnnl_fail(BP_ERR_INVALID_ARG, s->name, "null %s", !x ? "input" : "output");
    if (s->qerr) return bp_dnnl_fail(BP_ERR_NOMEM, s->name, "out of memory for quantized outputs");
    if (s->fuse_residual != (residual != NULL))
        return bp_dnnl_fail(BP_ERR_INVALID_ARG, s->name, "residual %s but layer built %s it",
                            residual ? "given" : "missing", s->fuse_residual ? "with" : "without");
    dnnl_status_t ds = dnnl_success;
    if (!x) {
        /* layer_qinput: the step before wrote the source bytes */
    } else if (s->src_direct) {
        /* oneDNN only reads its source. */
        ds = dnnl_memory_set_data_handle(s->src, (void *)(uintptr_t)x);
        if (ds != dnnl_success) goto dnnl_fail;
    } else if (s->int8 || s->pad_src) {
        /* bp_quant_* straight into the source layout (f32: a copy inside the
         * explicit border) */
        bp_dnnl_pack(s->kt, &s->src_lay, s->src_buf, x, s->N, s->C, s->H, s->W,
                     !s->int8 ? 0 : s->shift_s8 ? 3 : s->s8_src ? 2 : 1,
                     s->inv_scale, s->nhwc, s->threads);
    }
    if (!y && s->qprim) {
        ds = bp_dnnl_run_q(s, residual);
        if (ds != dnnl_success) goto dnnl_fail;
        return BP_OK;
    }
    if (!y) y = s->fbuf;
    const size_t ny = (size_t)s->N * s->Co * s->OH * s->OW;
    if (s->dst_direct) {
        ds = dnnl_memory_set_data_handle(s->dst, y);
        if (ds != dnnl_success) goto dnnl_fail;
    }
    int old = bp_dnnl_threads_enter(s->threads);
    if (s->in_ro.prim) ds = bp_dnnl_reorder_run(&s->in_ro, s->strm, x);
    const float *res_after = s->epi_after ? residual : NULL; /* bp_dnnl_finish's */
    if (res_after && residual == y) {
        memcpy(s->res_copy, residual, sizeof(float) * ny);
        res_after = s->res_copy;
    } else if (res_after) {
        /* read by bp_dnnl_finish */
    } else if (residual && ds == dnnl_success) {
        if (s->res_mode == BP_RES_BINARY_NCHW) {
            const float *r = residual;
            if (s->dst_direct && residual == y) {
                memcpy(s->res_copy, residual, sizeof(float) * ny);
                r = s->res_copy;
            }
            /* oneDNN only reads a post-op operand. */
            ds = dnnl_memory_set_data_handle(s->res, (void *)(uintptr_t)r);
        } else if (s->res_ro.prim) { /* SUM into dst's layout, or BINARY_DST */
            ds = bp_dnnl_reorder_run(&s->res_ro, s->strm, residual);
        } else if (residual != y) { /* BP_RES_SUM, dst is y */
            memcpy(y, residual, sizeof(float) * ny);
        }
    }
    if (ds == dnnl_success) ds = dnnl_primitive_execute(s->prim, s->strm, s->nargs, s->args);
    if (ds == dnnl_success && s->out_ro.prim) ds = bp_dnnl_reorder_run(&s->out_ro, s->strm, y);
    if (ds == dnnl_success) ds = dnnl_stream_wait(s->strm);
    bp_dnnl_threads_leave(s->threads, old);
    if (ds != dnnl_success) goto dnnl_fail;
    bp_dnnl_finish(s, y, res_after);
    return BP_OK;
dnnl_fail:
    return bp_dnnl_fail(BP_ERR_BACKEND, s->name, "%s: execution failed: %s", s->impl,
                        dnnl_status2str(ds));
}

static const char *bp_dnnl_kernel(const void *state)
{
    const bp_dnnl_layer *s = state;
    return !s ? "none" : s->qprim ? s->qimpl : s->impl;
}

static int bp_dnnl_exact(const void *state, const char **why)
{
    const bp_dnnl_layer *s = state;
    const char *w = s ? s->why : "no layer state";
    if (why) *why = w;
    return s ? s->exact : 0;
}

const bp_backend bp_backend_onednn_int8 = {"onednn-int8", bp_dnnl_create_int8, bp_dnnl_run,
    bp_dnnl_destroy, bp_dnnl_kernel, bp_dnnl_exact, BP_LAYOUT_NHWC, bp_dnnl_qinput,
    bp_dnnl_set_qout};
const bp_backend bp_backend_onednn_f32 = {"onednn-f32", bp_dnnl_create_f32, bp_dnnl_run,
    bp_dnnl_destroy, bp_dnnl_kernel, bp_dnnl_exact, BP_LAYOUT_NHWC, NULL, NULL};
