/* The integer backends "reference", "bitplane" and "csr": one driver, three
 * kernels. Input is quantized once per layer (bp_quant_*), activations are fed
 * to the kernel channel-major (K x pixels): directly for 1x1 stride-1 convs,
 * through cache-sized im2col tiles otherwise; int32 accumulators go through
 * the canonical epilogue (quant.h). All three compute the same int32
 * accumulators, so their float outputs are bit-identical. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "engine.h"
#include "quant.h"

typedef enum bp_int_kind { BP_INT_REF, BP_INT_BITPLANE, BP_INT_CSR } bp_int_kind;

/* Rows per kernel call: bounds the int32 accumulator tile to 64 x pt. */
#define BP_ROW_CHUNK 64u
/* im2col tile budget in bytes (K_g x pt int8), sized for L2. */
#define BP_TILE_BYTES (128u * 1024u)
#define BP_PT_MAX 1024u
#define BP_PT_MIN 64u

typedef struct bp_int_layer {
    bp_layer_desc d;
    bp_int_kind kind;
    int s8;
    bp_kernel_table kt;
    int threads;
    int is_linear;
    int direct;          /* 1x1, stride 1, no padding: input is already K x P */
    uint32_t N, c_in, H, W, OH, OW, c_out, K, groups, cig, cog;
    uint32_t kh, kw, sh, sw, pt_, pl_, dh, dw;
    size_t HW, P;        /* P: pixels per image (conv) or N (linear) */
    uint32_t images;     /* N (conv) or 1 (linear) */
    uint32_t pt;         /* pixel tile */
    uint32_t ntiles;
    uint32_t R;          /* row blocks per group */
    uint32_t *rb;        /* [groups * (R + 1)] absolute row bounds */
    size_t n_items;
    uint8_t *xq;         /* quantized input; bytes reinterpreted as s8 when s8 */
    size_t xq_elems;
    unsigned char *scratch; /* per thread: [tile_bytes][acc] */
    size_t tile_bytes, scratch_stride;
    char kname[96];
} bp_int_layer;

static uint64_t bp_int_row_cost(const bp_int_layer *L, uint32_t j)
{
    switch (L->kind) {
    case BP_INT_BITPLANE: {
        const bp_planes *p = L->d.planes;
        uint32_t M2 = p->M * 2;
        return (uint64_t)(p->row_ptr[(size_t)(j + 1) * M2] - p->row_ptr[(size_t)j * M2]) +
               2u * p->M;
    }
    case BP_INT_CSR:
        return (uint64_t)(L->d.csr->row_ptr[j + 1] - L->d.csr->row_ptr[j]) + 1u;
    default:
        return L->K;
    }
}

/* Splits each group's rows into R blocks of about equal cost (digits for
 * bitplane, nonzeros for csr): bit-pruned rows are very uneven. */
static void bp_int_row_blocks(bp_int_layer *L)
{
    for (uint32_t g = 0; g < L->groups; g++) {
        uint32_t *b = L->rb + (size_t)g * (L->R + 1);
        uint32_t lo = g * L->cog, hi = lo + L->cog;
        uint64_t total = 0;
        for (uint32_t j = lo; j < hi; j++) total += bp_int_row_cost(L, j);
        b[0] = lo;
        uint64_t acc = 0;
        uint32_t r = 1, j = lo;
        while (r < L->R) {
            uint64_t target = total * r / L->R;
            while (j < hi && acc + bp_int_row_cost(L, j) / 2 < target)
                acc += bp_int_row_cost(L, j++);
            b[r++] = j;
        }
        b[L->R] = hi;
    }
}

static void bp_int_destroy(void *state)
{
    bp_int_layer *L = state;
    if (!L) return;
    free(L->rb);
    bp_aligned_free(L->xq);
    bp_aligned_free(L->scratch);
    free(L);
}

static bp_status bp_int_create(const bp_layer_desc *d, const bp_backend_env *env,
                               bp_int_kind kind, void **state)
{
    *state = NULL;
    const bpf_layer *F = d->L;
    bp_int_layer *L = calloc(1, sizeof *L);
    if (!L) return bp_fail(BP_ERR_NOMEM, "layer '%s': out of memory", d->name);
    L->d = *d;
    L->kind = kind;
    L->s8 = F->act_dtype == BPF_DT_S8;
    L->kt = *env->kt;
    L->threads = env->threads > 0 ? env->threads : 1;
    L->is_linear = F->kind == BPF_LAYER_LINEAR;
    L->N = d->N;
    L->c_in = F->c_in;
    L->c_out = F->c_out;
    L->K = F->K;
    L->groups = F->groups;
    L->cig = F->c_in / F->groups;
    L->cog = F->c_out / F->groups;
    L->H = d->H;
    L->W = d->W;
    L->OH = d->OH;
    L->OW = d->OW;
    L->kh = F->kh; L->kw = F->kw;
    L->sh = F->stride_h; L->sw = F->stride_w;
    L->pt_ = F->pad_t; L->pl_ = F->pad_l;
    L->dh = F->dil_h; L->dw = F->dil_w;
    L->HW = (size_t)L->H * L->W;

    if (L->is_linear) {
        if (L->groups != 1 || L->K != L->c_in) {
            bp_int_destroy(L);
            return bp_fail(BP_ERR_BAD_GRAPH, "layer '%s': linear with K=%u c_in=%u "
                           "groups=%u", d->name, F->K, F->c_in, F->groups);
        }
        L->P = L->N;
        L->images = 1;
        L->xq_elems = (size_t)L->K * L->N;
    } else {
        if ((uint64_t)(F->c_in / F->groups) * F->kh * F->kw != F->K) {
            bp_int_destroy(L);
            return bp_fail(BP_ERR_BAD_GRAPH, "layer '%s': K=%u but c_in/groups*kh*kw=%llu",
                           d->name, F->K,
                           (unsigned long long)(F->c_in / F->groups) * F->kh * F->kw);
        }
        L->P = (size_t)L->OH * L->OW;
        L->images = L->N;
        L->xq_elems = (size_t)L->N * L->c_in * L->HW;
        L->direct = L->kh == 1 && L->kw == 1 && L->sh == 1 && L->sw == 1 &&
                    F->pad_t == 0 && F->pad_l == 0 && F->pad_b == 0 && F->pad_r == 0 &&
                    L->OH == L->H && L->OW == L->W;
    }

    /* Pixel tile: an im2col tile of K_g x pt bytes stays within BP_TILE_BYTES. */
    size_t pt = BP_PT_MAX;
    if (!L->direct && !L->is_linear) {
        size_t fit = BP_TILE_BYTES / L->K;
        fit = fit / BP_PT_MIN * BP_PT_MIN;
        if (fit < BP_PT_MIN) fit = BP_PT_MIN;
        if (fit < pt) pt = fit;
    }
    if (pt > L->P) pt = L->P;
    if (pt == 0) pt = 1;
    L->pt = (uint32_t)pt;
    L->ntiles = (uint32_t)((L->P + pt - 1) / pt);

    size_t tiles_total = (size_t)L->images * L->groups * L->ntiles;
    size_t T = (size_t)L->threads;
    L->R = 1;
    if (T > 1 && tiles_total < 4 * T) {
        size_t want = (4 * T + tiles_total - 1) / tiles_total;
        L->R = (uint32_t)(want < L->cog ? want : L->cog);
        if (L->R == 0) L->R = 1;
    }
    L->n_items = tiles_total * L->R;
    L->rb = malloc(sizeof(uint32_t) * L->groups * (L->R + 1));
    L->xq = bp_aligned_alloc(L->xq_elems);
    L->tile_bytes = (L->direct || L->is_linear) ? 0 : (((size_t)L->K * pt + 63) & ~(size_t)63);
    L->scratch_stride = L->tile_bytes + (size_t)BP_ROW_CHUNK * pt * sizeof(int32_t);
    L->scratch = bp_aligned_alloc(L->scratch_stride * T);
    if (!L->rb || !L->xq || !L->scratch) {
        bp_int_destroy(L);
        return bp_fail(BP_ERR_NOMEM, "layer '%s': out of memory for backend buffers",
                       d->name);
    }
    bp_int_row_blocks(L);

    const char *kn;
    switch (kind) {
    case BP_INT_BITPLANE: kn = L->s8 ? L->kt.bitplane_s8_name : L->kt.bitplane_u8_name; break;
    case BP_INT_CSR: kn = L->s8 ? L->kt.csr_s8_name : L->kt.csr_u8_name; break;
    default: kn = L->s8 ? "bp_ref_dense_s8" : "bp_ref_dense_u8"; break;
    }
    snprintf(L->kname, sizeof L->kname, "%s (%s)", kn ? kn : "?",
             L->is_linear ? "linear" : L->direct ? "direct 1x1" : "im2col tiles");
    if ((kind == BP_INT_BITPLANE && !(L->s8 ? (void *)L->kt.bitplane_s8
                                            : (void *)L->kt.bitplane_u8)) ||
        (kind == BP_INT_CSR && !(L->s8 ? (void *)L->kt.csr_s8 : (void *)L->kt.csr_u8))) {
        bp_int_destroy(L);
        return bp_fail(BP_ERR_UNSUPPORTED, "layer '%s': no kernel in the dispatch table",
                       d->name);
    }
    *state = L;
    return BP_OK;
}

/* Builds rows [0, K_g) x pixels [p0, p0+np) of the group's im2col matrix;
 * padding is the integer 0 (symmetric quantization has no zero point). */
static void bp_int_im2col(const bp_int_layer *L, const uint8_t *xg, size_t p0, size_t np,
                          uint8_t *tile)
{
    uint32_t k = 0;
    for (uint32_t ci = 0; ci < L->cig; ci++) {
        const uint8_t *src = xg + ci * L->HW;
        for (uint32_t dy = 0; dy < L->kh; dy++)
            for (uint32_t dx = 0; dx < L->kw; dx++, k++) {
                uint8_t *dst = tile + (size_t)k * np;
                size_t p = 0;
                uint32_t oy = (uint32_t)(p0 / L->OW), ox = (uint32_t)(p0 % L->OW);
                long ixo = (long)dx * L->dw - (long)L->pl_;
                while (p < np) {
                    size_t run = L->OW - ox;
                    if (run > np - p) run = np - p;
                    long iy = (long)oy * L->sh - (long)L->pt_ + (long)dy * L->dh;
                    if (iy < 0 || iy >= (long)L->H) {
                        memset(dst + p, 0, run);
                    } else {
                        const uint8_t *srow = src + (size_t)iy * L->W;
                        if (L->sw == 1) {
                            /* valid q: 0 <= ox + q + ixo < W */
                            long qa = -ixo - (long)ox, qb = (long)L->W - ixo - (long)ox;
                            if (qa < 0) qa = 0;
                            if (qb > (long)run) qb = (long)run;
                            if (qb < qa) qb = qa;
                            if (qa > (long)run) qa = qb = (long)run;
                            memset(dst + p, 0, (size_t)qa);
                            if (qb > qa)
                                memcpy(dst + p + qa, srow + ox + qa + ixo, (size_t)(qb - qa));
                            memset(dst + p + qb, 0, run - (size_t)qb);
                        } else {
                            for (size_t q = 0; q < run; q++) {
                                long ix = (long)(ox + q) * L->sw + ixo;
                                dst[p + q] = (ix >= 0 && ix < (long)L->W) ? srow[ix] : 0;
                            }
                        }
                    }
                    p += run;
                    ox = 0;
                    oy++;
                }
            }
    }
}

static void bp_int_kernel(const bp_int_layer *L, uint32_t j0, uint32_t nr, const uint8_t *x,
                          size_t ldx, size_t np, int32_t *acc)
{
    switch (L->kind) {
    case BP_INT_BITPLANE:
        if (L->s8) L->kt.bitplane_s8(L->d.planes, j0, nr, (const int8_t *)x, ldx, np, acc, np);
        else L->kt.bitplane_u8(L->d.planes, j0, nr, x, ldx, np, acc, np);
        break;
    case BP_INT_CSR:
        if (L->s8) L->kt.csr_s8(L->d.csr, j0, nr, (const int8_t *)x, ldx, np, acc, np);
        else L->kt.csr_u8(L->d.csr, j0, nr, x, ldx, np, acc, np);
        break;
    default: {
        const int16_t *w = L->d.w_dense + (size_t)j0 * L->K;
        if (L->s8) bp_ref_dense_s8(w, L->K, nr, L->K, (const int8_t *)x, ldx, np, acc, np);
        else bp_ref_dense_u8(w, L->K, nr, L->K, x, ldx, np, acc, np);
        break;
    }
    }
}

static void bp_int_item(const bp_int_layer *L, size_t it, unsigned char *scr,
                        const float *res, float *y)
{
    uint32_t r = (uint32_t)(it % L->R);
    size_t t = it / L->R;
    uint32_t tile = (uint32_t)(t % L->ntiles);
    t /= L->ntiles;
    uint32_t g = (uint32_t)(t % L->groups);
    uint32_t img = (uint32_t)(t / L->groups);
    const uint32_t *b = L->rb + (size_t)g * (L->R + 1);
    uint32_t lo = b[r], hi = b[r + 1];
    if (lo >= hi) return;
    size_t p0 = (size_t)tile * L->pt;
    size_t np = L->P - p0 < L->pt ? L->P - p0 : L->pt;

    const uint8_t *x;
    size_t ldx;
    if (L->is_linear) {
        x = L->xq + p0;
        ldx = L->N;
    } else {
        const uint8_t *xg = L->xq + ((size_t)img * L->c_in + (size_t)g * L->cig) * L->HW;
        if (L->direct) {
            x = xg + p0;
            ldx = L->HW;
        } else {
            bp_int_im2col(L, xg, p0, np, scr);
            x = scr;
            ldx = np;
        }
    }
    int32_t *acc = (int32_t *)(scr + L->tile_bytes);
    const float *os = L->d.out_scale, *bias = L->d.bias;
    int relu = L->d.fuse_relu;
    for (uint32_t j0 = lo; j0 < hi; j0 += BP_ROW_CHUNK) {
        uint32_t nr = hi - j0 < BP_ROW_CHUNK ? hi - j0 : BP_ROW_CHUNK;
        bp_int_kernel(L, j0, nr, x, ldx, np, acc);
        for (uint32_t jj = 0; jj < nr; jj++) {
            uint32_t j = j0 + jj;
            const int32_t *a = acc + (size_t)jj * np;
            float s = os[j], bj = bias[j];
            if (L->is_linear) {
                for (size_t p = 0; p < np; p++) {
                    size_t o = (p0 + p) * L->c_out + j;
                    float v = bp_epilogue(a[p], s, bj);
                    if (res) v = v + res[o];
                    if (relu) v = bp_relu(v);
                    y[o] = v;
                }
            } else {
                size_t base = ((size_t)img * L->c_out + j) * L->P + p0;
                float *yo = y + base;
                const float *ro = res ? res + base : NULL;
                for (size_t p = 0; p < np; p++) {
                    float v = bp_epilogue(a[p], s, bj);
                    if (ro) v = v + ro[p];
                    if (relu) v = bp_relu(v);
                    yo[p] = v;
                }
            }
        }
    }
}

static bp_status bp_int_run(void *state, const float *x, const float *res, float *y)
{
    bp_int_layer *L = state;
    float inv = L->d.act_inv_scale;
#pragma omp parallel num_threads(L->threads)
    {
        if (L->is_linear) {
            /* (N, K) float -> K x N channel-major */
#pragma omp for schedule(static)
            for (size_t k = 0; k < L->K; k++)
                for (size_t n = 0; n < L->N; n++) {
                    float v = x[n * L->K + k];
                    L->xq[k * L->N + n] = L->s8 ? (uint8_t)bp_quant_s8(v, inv)
                                                : bp_quant_u8(v, inv);
                }
        } else if (L->s8) {
#pragma omp for schedule(static)
            for (size_t i = 0; i < L->xq_elems; i++)
                L->xq[i] = (uint8_t)bp_quant_s8(x[i], inv);
        } else {
#pragma omp for schedule(static)
            for (size_t i = 0; i < L->xq_elems; i++) L->xq[i] = bp_quant_u8(x[i], inv);
        }
        unsigned char *scr = L->scratch + L->scratch_stride * (size_t)omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
        for (size_t it = 0; it < L->n_items; it++) bp_int_item(L, it, scr, res, y);
    }
    return BP_OK;
}

static const char *bp_int_kernel_name(const void *state)
{
    return ((const bp_int_layer *)state)->kname;
}

static int bp_int_exact(const void *state, const char **why)
{
    (void)state;
    *why = "";
    return 1;
}

static bp_status bp_ref_create(const bp_layer_desc *d, const bp_backend_env *env, void **s)
{
    return bp_int_create(d, env, BP_INT_REF, s);
}
static bp_status bp_bitplane_create(const bp_layer_desc *d, const bp_backend_env *env,
                                    void **s)
{
    return bp_int_create(d, env, BP_INT_BITPLANE, s);
}
static bp_status bp_csr_create(const bp_layer_desc *d, const bp_backend_env *env, void **s)
{
    return bp_int_create(d, env, BP_INT_CSR, s);
}

const bp_backend bp_backend_reference = {"reference", bp_ref_create, bp_int_run,
    bp_int_destroy, bp_int_kernel_name, bp_int_exact};
const bp_backend bp_backend_bitplane = {"bitplane", bp_bitplane_create, bp_int_run,
    bp_int_destroy, bp_int_kernel_name, bp_int_exact};
const bp_backend bp_backend_csr = {"csr", bp_csr_create, bp_int_run,
    bp_int_destroy, bp_int_kernel_name, bp_int_exact};
