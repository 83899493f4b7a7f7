/* Internal float backend: conv/linear in float with dequantized weights
 * (w_int * w_scale[j]) and no activation quantization. Used by
 * bp_model_calibrate to measure each layer's float input range. Direct loops,
 * skipping zero weights; not tuned. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "engine.h"
#include "quant.h"

typedef struct bp_float_layer {
    bp_layer_desc d;
    int threads;
    float *wf;    /* c_out x K dequantized */
    float *acc;   /* per thread: P floats */
    size_t P;
} bp_float_layer;

static void bp_float_destroy(void *state)
{
    bp_float_layer *L = state;
    if (!L) return;
    bp_aligned_free(L->wf);
    bp_aligned_free(L->acc);
    free(L);
}

static bp_status bp_float_create(const bp_layer_desc *d, const bp_backend_env *env,
                                 void **state)
{
    *state = NULL;
    const bpf_layer *F = d->L;
    bp_float_layer *L = calloc(1, sizeof *L);
    if (!L) return bp_fail(BP_ERR_NOMEM, "layer '%s': out of memory", d->name);
    L->d = *d;
    L->threads = env->threads > 0 ? env->threads : 1;
    L->P = (size_t)d->OH * d->OW;
    L->wf = bp_aligned_alloc((size_t)F->c_out * F->K * sizeof(float));
    L->acc = bp_aligned_alloc(L->P * sizeof(float) * (size_t)L->threads);
    if (!L->wf || !L->acc) {
        bp_float_destroy(L);
        return bp_fail(BP_ERR_NOMEM, "layer '%s': out of memory", d->name);
    }
    const float *ws = d->w_scale ? d->w_scale : F->w_scale; /* with folds */
    for (size_t j = 0; j < F->c_out; j++)
        for (size_t k = 0; k < F->K; k++)
            L->wf[j * F->K + k] = (float)d->w_dense[j * F->K + k] * ws[j];
    *state = L;
    return BP_OK;
}

static bp_status bp_float_run(void *state, const float *x, const float *res, float *y)
{
    bp_float_layer *L = state;
    const bpf_layer *F = L->d.L;
    size_t N = L->d.N, C_out = F->c_out, K = F->K;
    int relu = L->d.act == BP_EPI_RELU;
    const float *bias = L->d.bias;
    if (F->kind == BPF_LAYER_LINEAR) {
#pragma omp parallel for num_threads(L->threads) schedule(static)
        for (size_t q = 0; q < N * C_out; q++) {
            size_t n = q / C_out, j = q % C_out;
            const float *w = L->wf + j * K, *xn = x + n * K;
            float a = 0.0f;
            for (size_t k = 0; k < K; k++) a += w[k] * xn[k];
            float v = a + bias[j];
            if (res) v += res[q];
            if (relu) v = bp_relu(v);
            y[q] = v;
        }
        return BP_OK;
    }
    uint32_t H = L->d.H, W = L->d.W, OH = L->d.OH, OW = L->d.OW;
    uint32_t cig = F->c_in / F->groups, cog = F->c_out / F->groups;
#pragma omp parallel for num_threads(L->threads) schedule(dynamic, 1)
    for (size_t q = 0; q < N * C_out; q++) {
        size_t n = q / C_out, j = q % C_out, g = j / cog;
        float *acc = L->acc + L->P * (size_t)omp_get_thread_num();
        memset(acc, 0, L->P * sizeof(float));
        const float *w = L->wf + j * K;
        size_t k = 0;
        for (uint32_t ci = 0; ci < cig; ci++) {
            const float *xc = x + ((n * F->c_in) + g * cig + ci) * (size_t)H * W;
            for (uint32_t dy = 0; dy < F->kh; dy++)
                for (uint32_t dx = 0; dx < F->kw; dx++, k++) {
                    float wk = w[k];
                    if (wk == 0.0f) continue;
                    for (uint32_t oy = 0; oy < OH; oy++) {
                        long iy = (long)oy * F->stride_h - F->pad_t + (long)dy * F->dil_h;
                        if (iy < 0 || iy >= (long)H) continue;
                        for (uint32_t ox = 0; ox < OW; ox++) {
                            long ix = (long)ox * F->stride_w - F->pad_l + (long)dx * F->dil_w;
                            if (ix < 0 || ix >= (long)W) continue;
                            acc[(size_t)oy * OW + ox] += wk * xc[(size_t)iy * W + ix];
                        }
                    }
                }
        }
        float *yo = y + q * L->P;
        const float *ro = res ? res + q * L->P : NULL;
        for (size_t p = 0; p < L->P; p++) {
            float v = acc[p] + bias[j];
            if (ro) v += ro[p];
            if (relu) v = bp_relu(v);
            yo[p] = v;
        }
    }
    return BP_OK;
}

static const char *bp_float_kernel(const void *state)
{
    (void)state;
    return "float direct (dequantized weights)";
}

static int bp_float_exact(const void *state, const char **why)
{
    (void)state;
    *why = "float arithmetic without activation quantization";
    return 0;
}

const bp_backend bp_backend_float = {"float", bp_float_create, bp_float_run,
    bp_float_destroy, bp_float_kernel, bp_float_exact, BP_LAYOUT_NCHW, NULL, NULL};
