/* Whole-model analyses that run the graph with a hook on each conv/linear
 * input: calibration (float graph, per-layer input min/max) and operation
 * counts (quantized inputs, the paper's Table 2 counts, binary and CSD). */
#include <float.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "quant.h"

/* Output buffers for one run of session s (freed with free on each entry). */
static bp_status bp_alloc_outputs(const bp_session *s, float ***outs)
{
    const bpf_model *f = s->m->f;
    float **o = calloc(f->n_outputs ? f->n_outputs : 1, sizeof *o);
    if (!o) return bp_fail(BP_ERR_NOMEM, "out of memory");
    for (uint32_t i = 0; i < f->n_outputs; i++) {
        o[i] = malloc(s->telems[f->outputs[i]] * sizeof(float) + 64);
        if (!o[i]) {
            for (uint32_t k = 0; k < i; k++) free(o[k]);
            free(o);
            return bp_fail(BP_ERR_NOMEM, "out of memory");
        }
    }
    *outs = o;
    return BP_OK;
}

static void bp_free_outputs(const bp_session *s, float **o)
{
    if (!o) return;
    for (uint32_t i = 0; i < s->m->f->n_outputs; i++) free(o[i]);
    free(o);
}

/* ---- calibration ---- */
typedef struct bp_calib_ctx {
    float *mn, *mx;
} bp_calib_ctx;

static void bp_calib_hook(void *ctx, const bp_step *st, const float *x, size_t n)
{
    bp_calib_ctx *c = ctx;
    float lo = FLT_MAX, hi = -FLT_MAX;
    for (size_t i = 0; i < n; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    c->mn[st->layer] = lo;
    c->mx[st->layer] = hi;
}

BP_API bp_status bp_model_calibrate(const bp_model *m, const float *const *inputs,
                                    uint32_t batch, float *layer_min, float *layer_max)
{
    if (!m || !inputs || !layer_min || !layer_max)
        return bp_fail(BP_ERR_INVALID_ARG, "bp_model_calibrate: %s is NULL",
                       !m ? "model" : !inputs ? "inputs" : !layer_min ? "layer_min"
                                                                      : "layer_max");
    bp_status mst = bp_model_check(m, "bp_model_calibrate");
    if (mst) return mst;
    if (batch < 1 || batch > 65536)
        return bp_fail(BP_ERR_INVALID_ARG, "bp_model_calibrate: batch=%u outside [1, 65536]",
                       batch);
    bp_session *s = NULL;
    bp_status st = bp_session_create_with(m, &bp_backend_float, omp_get_max_threads(),
                                          batch, bp_isa_mask_from_env(), BP_ACT_PATH_FLOAT,
                                          &s);
    if (st) return st;
    float **outs = NULL;
    st = bp_alloc_outputs(s, &outs);
    if (!st) {
        for (uint32_t i = 0; i < m->f->n_layers; i++) {
            layer_min[i] = 0.0f;
            layer_max[i] = 0.0f;
        }
        bp_calib_ctx c = {layer_min, layer_max};
        st = bp_graph_run(s, inputs, outs, bp_calib_hook, &c);
    }
    bp_free_outputs(s, outs);
    bp_session_free(s);
    if (!st) bp_error_clear();
    return st;
}

/* ---- operation counts ---- */
typedef struct bp_count_ctx {
    const bp_model *m;
    bp_layer_counts *out;
    uint8_t tbin[511], tcsd[511];
    bp_status st;
} bp_count_ctx;

/* Nonzero mask of the quantized input, im2col order, for one image and
 * group: nz[k * P + p], padding is zero. */
static void bp_count_mask(const bpf_layer *L, const uint8_t *xq, uint32_t H, uint32_t W,
                          uint32_t OH, uint32_t OW, uint8_t *nz)
{
    uint32_t cig = L->c_in / L->groups;
    size_t P = (size_t)OH * OW;
    uint32_t k = 0;
    for (uint32_t ci = 0; ci < cig; ci++)
        for (uint32_t dy = 0; dy < L->kh; dy++)
            for (uint32_t dx = 0; dx < L->kw; dx++, k++)
                for (uint32_t oy = 0; oy < OH; oy++)
                    for (uint32_t ox = 0; ox < OW; ox++) {
                        long iy = (long)oy * L->stride_h - L->pad_t + (long)dy * L->dil_h;
                        long ix = (long)ox * L->stride_w - L->pad_l + (long)dx * L->dil_w;
                        uint8_t v = 0;
                        if (iy >= 0 && iy < (long)H && ix >= 0 && ix < (long)W)
                            v = xq[(size_t)ci * H * W + (size_t)iy * W + (size_t)ix] != 0;
                        nz[(size_t)k * P + (size_t)oy * OW + ox] = v;
                    }
}

static void bp_count_hook(void *vctx, const bp_step *st, const float *x, size_t n)
{
    bp_count_ctx *c = vctx;
    if (c->st) return;
    const bp_layer_desc *d = &st->desc;
    const bpf_layer *L = d->L;
    const bp_model_layer *ml = &c->m->layers[st->layer];
    bp_layer_counts *o = &c->out[st->layer];
    memset(o, 0, sizeof *o);
    o->M = L->M;
    int s8 = L->act_dtype == BPF_DT_S8;
    uint8_t *xq = malloc(n ? n : 1);
    int linear = L->kind == BPF_LAYER_LINEAR;
    uint32_t H = linear ? 1 : d->H, W = linear ? 1 : d->W;
    uint32_t OH = linear ? 1 : d->OH, OW = linear ? 1 : d->OW;
    size_t P = (size_t)OH * OW;
    size_t K = L->K;
    uint8_t *nz = malloc(K * P);
    if (!xq || !nz) {
        free(xq);
        free(nz);
        c->st = bp_fail(BP_ERR_NOMEM, "bp_session_count_ops: out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++)
        xq[i] = s8 ? (bp_quant_s8(x[i], d->act_inv_scale) != 0)
                   : (bp_quant_u8(x[i], d->act_inv_scale) != 0);
    const bp_csr *cs = &ml->csr.c;
    uint32_t cig = L->c_in / L->groups, cog = L->c_out / L->groups;
    uint64_t img_dots = (uint64_t)P; /* dots per row per image */
    for (uint32_t img = 0; img < d->N; img++)
        for (uint32_t g = 0; g < L->groups; g++) {
            const uint8_t *xg = xq + ((size_t)img * L->c_in + (size_t)g * cig) * H * W;
            if (linear)
                memcpy(nz, xq + (size_t)img * K, K); /* (N, K): one pixel per image */
            else
                bp_count_mask(L, xg, H, W, OH, OW, nz);
            for (uint32_t j = g * cog; j < (g + 1) * cog; j++) {
                o->dots += img_dots;
                o->macs_dense += img_dots * K;
                for (uint32_t e = cs->row_ptr[j]; e < cs->row_ptr[j + 1]; e++) {
                    uint32_t k = cs->idx_bytes == 2 ? ((const uint16_t *)cs->idx)[e]
                                                    : ((const uint32_t *)cs->idx)[e];
                    int w = cs->val[e];
                    uint64_t pb = c->tbin[w + 255], pc = c->tcsd[w + 255];
                    uint64_t cnt = 0;
                    const uint8_t *row = nz + (size_t)k * P;
                    for (size_t p = 0; p < P; p++) cnt += row[p];
                    o->mults_w += img_dots;
                    o->mults_wx += cnt;
                    o->adds_binary_w += pb * img_dots;
                    o->adds_binary_wx += pb * cnt;
                    o->adds_csd_w += pc * img_dots;
                    o->adds_csd_wx += pc * cnt;
                }
            }
        }
    free(xq);
    free(nz);
}

BP_API bp_status bp_session_count_ops_sized(bp_session *s, const float *const *inputs,
                                            bp_layer_counts *per_layer, size_t entry_size)
{
    if (!s || !inputs || !per_layer)
        return bp_fail(BP_ERR_INVALID_ARG, "bp_session_count_ops: %s is NULL",
                       !s ? "session" : !inputs ? "inputs" : "per_layer");
    bp_session_info info;
    bp_status st = bp_session_info_get(s, &info);
    if (st) return st;
    st = bp_struct_size_check(&bp_sd_layer_counts, entry_size, "bp_session_count_ops",
                              "per_layer entry size");
    if (st) return st;
    const bp_model *m = s->m;
    /* counted in this library's layout, then written at the caller's stride */
    bp_layer_counts *counts = calloc(m->f->n_layers ? m->f->n_layers : 1, sizeof *counts);
    if (!counts) return bp_fail(BP_ERR_NOMEM, "bp_session_count_ops: out of memory");
    /* counts are defined on the reference arithmetic, whatever s runs */
    bp_session *r = NULL;
    st = bp_session_create_with(m, &bp_backend_reference, s->threads, s->N,
                                bp_isa_mask_from_env(), BP_ACT_PATH_FLOAT, &r); /* the hook
                                                                                 * reads floats */
    if (st) {
        free(counts);
        return st;
    }
    bp_count_ctx *c = calloc(1, sizeof *c);
    float **outs = NULL;
    if (!c) st = bp_fail(BP_ERR_NOMEM, "bp_session_count_ops: out of memory");
    if (!st) st = bp_alloc_outputs(r, &outs);
    for (uint32_t i = 0; !st && i < m->f->n_layers; i++)
        st = bp_model_layer_prepare(s->m, i, BP_NEED_CSR); /* the counts walk the nonzeros */
    if (!st) {
        c->m = m;
        c->out = counts;
        int8_t dg[BP_M_MAX];
        for (int w = -255; w <= 255; w++) {
            int b = bp_digits_encode(w, BP_ENC_BINARY, dg);
            int q = bp_digits_encode(w, BP_ENC_CSD, dg);
            c->tbin[w + 255] = (uint8_t)(b < 0 ? 0 : b);
            c->tcsd[w + 255] = (uint8_t)(q < 0 ? 0 : q);
        }
        st = bp_graph_run(r, inputs, outs, bp_count_hook, c);
        if (!st) st = c->st;
    }
    for (uint32_t i = 0; !st && i < m->f->n_layers; i++) {
        counts[i].size = sizeof *counts;
        bp_struct_write(&bp_sd_layer_counts, (unsigned char *)per_layer + (size_t)i * entry_size,
                        entry_size, &counts[i]);
    }
    free(counts);
    bp_free_outputs(r, outs);
    free(c);
    bp_session_free(r);
    if (!st) bp_error_clear();
    return st;
}
