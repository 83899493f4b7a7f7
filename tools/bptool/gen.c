/* gen.c: synthetic weights for a real architecture (Kaiming-normal, quantized
 * per output channel, bit- or weight-pruned), then activation scales from a
 * float calibration pass through the model itself, then serialization. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitprune.h"
#include "bptool.h"

void bp_tool_gen_opts_default(bp_tool_gen_opts *o)
{
    memset(o, 0, sizeof *o);
    o->prune = BP_TOOL_PRUNE_NONE;
    o->lambda = 1.0;
    o->sparsity = 0.0;
    o->encoding = BP_ENC_BINARY;
    o->seed = 1;
    o->calib = 4;
    o->wmax = BP_TOOL_WMAX_DEFAULT;
}

int bp_tool_wmax_valid(int wmax)
{
    return wmax == 127 || wmax == 128 || wmax == 255;
}

static void bp_tool_err(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
}

int bp_tool_project_weights(bp_tool_layer *L, uint32_t rows, uint32_t K, int qmax,
                            bp_tool_prune prune, double lambda, double sparsity,
                            bp_encoding enc, const float *tiebreak)
{
    size_t n = (size_t)rows * K;
    if (prune == BP_TOOL_PRUNE_BIT) {
        int16_t lut[2 * BP_W_MAX + 1];
        bp_tool_prox_lut(lambda, enc == BP_ENC_CSD, qmax, lut);
        for (size_t i = 0; i < n; i++) {
            int v = L->w[i];
            if (v < -qmax || v > qmax)
                return -1; /* the validator guarantees |w| <= w_max */
            L->w[i] = lut[v + qmax];
        }
    }
    if (prune != BP_TOOL_PRUNE_NONE &&
        bp_tool_prune_magnitude(L->w, rows, K, L->w_scale, tiebreak, sparsity))
        return -2;
    return 0;
}

int bp_tool_project_layer(bp_tool_layer *L, bpf_layer *out, bp_tool_prune prune,
                          double lambda, double sparsity, bp_encoding enc,
                          const float *tiebreak)
{
    uint32_t rows = out->c_out, K = out->K;
    int qmax = (int)out->w_max;
    int rc = bp_tool_project_weights(L, rows, K, qmax, prune, lambda, sparsity, enc, tiebreak);
    if (rc)
        return rc;
    bp_planes_buf_free(&L->planes);
    /* At least one digit position (SPEC.md R44), also for w_max 0. */
    uint32_t M = bp_digits_positions(qmax, enc);
    if (M < 1)
        M = 1;
    if (bp_planes_from_dense(L->w, rows, K, enc, M, &L->planes))
        return -2;
    out->M = M;
    out->encoding = (uint32_t)enc;
    out->idx_bytes = L->planes.p.idx_bytes;
    out->n_digits = L->planes.ndigits;
    out->row_ptr = L->planes.row_ptr;
    out->col_idx = L->planes.idx;
    out->w_scale = L->w_scale;
    out->bias = L->bias;
    return 0;
}

/* Activation rule. The calibration range is the exact min/max over every
 * element of a few random inputs (no percentile): a non-negative input
 * (after ReLU) is u8 with step max/255, a signed one s8 with step
 * max(|min|, |max|)/127, so the range maps into [-127, 127] (-128, which
 * s8 saturation also allows, is reached only below the calibrated minimum).
 * The max of ~1e5+ roughly Gaussian values is ~4-5 sigma, so the step is
 * ~sigma/25 (s8) or finer: no collapse to a few levels, and saturation only
 * for values beyond the calibration extremes. */
void bp_tool_act_rule(float mn, float mx, uint32_t *dtype, float *scale)
{
    if (mn >= 0.0f) {
        *dtype = BPF_DT_U8;
        *scale = mx > 0 ? mx / 255.0f : 1.0f;
    } else {
        float a = fmaxf(-mn, fabsf(mx));
        *dtype = BPF_DT_S8;
        *scale = a > 0 ? a / 127.0f : 1.0f;
    }
}

/* Kaiming-normal float weights, quantization, pruning, folded BN, bias. */
static int bp_tool_synth(bp_tool_graph *g, const bp_tool_gen_opts *o, char *err, size_t errlen)
{
    for (uint32_t li = 0; li < g->n_layers; li++) {
        bpf_layer *l = &g->layers[li];
        bp_tool_layer *L = &g->lsrc[li];
        size_t n = (size_t)l->c_out * l->K;
        if (o->progress) {
            fprintf(o->progress, "\rbptool gen: %s: layer %u/%u", o->arch, li + 1, g->n_layers);
            fflush(o->progress);
        }
        bp_tool_rng rng;
        bp_tool_rng_seed(&rng, o->seed, 1 + li);
        L->wf = malloc((n ? n : 1) * sizeof *L->wf);
        if (!L->wf) {
            bp_tool_err(err, errlen, "out of memory for layer %u weights", li);
            return -1;
        }
        double std = sqrt(2.0 / l->K); /* Kaiming normal, fan_in = K */
        for (size_t i = 0; i < n; i++)
            L->wf[i] = (float)(std * bp_tool_rng_normal(&rng));
        bp_tool_quantize_rows(L->wf, l->c_out, l->K, o->wmax, L->w, L->w_scale);
        l->w_max = (uint32_t)o->wmax;
        int rc = bp_tool_project_weights(L, l->c_out, l->K, o->wmax, o->prune, o->lambda,
                                         o->sparsity, o->encoding, L->wf);
        l->encoding = (uint32_t)o->encoding;
        if (rc) {
            bp_tool_err(err, errlen, "layer %u: %s", li,
                        rc == -1 ? "weight beyond the grid" : "out of memory");
            return -1;
        }
        /* Folded batch norm (ResNet): it rescales each output channel to the
         * dense Kaiming row norm sqrt(2), as BN would renormalize a pruned
         * conv, and adds a shift ~ N(0, 0.1). Others: bias ~ N(0, 0.02). */
        for (uint32_t j = 0; j < l->c_out; j++) {
            if (L->bn) {
                double s2 = 0;
                for (uint32_t k = 0; k < l->K; k++) {
                    double v = L->w[(size_t)j * l->K + k] * (double)L->w_scale[j];
                    s2 += v * v;
                }
                if (s2 > 0)
                    L->w_scale[j] = (float)(L->w_scale[j] * sqrt(2.0 / s2));
                L->bias[j] = (float)(0.1 * bp_tool_rng_normal(&rng));
            } else {
                L->bias[j] = (float)(0.02 * bp_tool_rng_normal(&rng));
            }
        }
        /* Placeholder activation quantization until calibration. */
        l->act_dtype = BPF_DT_S8;
        l->act_scale = 1.0f;
        free(L->wf);
        L->wf = NULL;
    }
    return 0;
}

static int bp_tool_calibrate(bp_tool_graph *g, const bp_tool_gen_opts *o, char *err,
                             size_t errlen)
{
    void *buf = NULL;
    size_t size = 0;
    if (bp_tool_graph_write(g, 0, NULL, &buf, &size) != BP_OK) {
        bp_tool_err(err, errlen, "serializing for calibration: %s", bp_last_error());
        return -1;
    }
    bp_model *m = NULL;
    bp_status st = bp_model_load_memory(buf, size, NULL, &m);
    if (st != BP_OK) {
        bp_tool_err(err, errlen, "loading for calibration: %s: %s", bp_status_string(st),
                    bp_last_error());
        free(buf);
        return -1;
    }
    const bpf_tensor *in = &g->tensors[g->input];
    size_t per = 1;
    for (uint32_t i = 1; i < in->ndim; i++)
        per *= in->dims[i];
    uint32_t nb = o->calib ? o->calib : 1;
    float *x = malloc(per * nb * sizeof *x);
    float *mn = malloc(g->n_layers * sizeof *mn), *mx = malloc(g->n_layers * sizeof *mx);
    int rc = -1;
    if (!x || !mn || !mx) {
        bp_tool_err(err, errlen, "out of memory for calibration inputs");
        goto done;
    }
    bp_tool_rng rng;
    bp_tool_rng_seed(&rng, o->seed, 0xca11b);
    for (size_t i = 0; i < per * nb; i++)
        x[i] = (float)bp_tool_rng_normal(&rng);
    const float *ins[1] = {x};
    st = bp_model_calibrate(m, ins, nb, mn, mx);
    if (st != BP_OK) {
        bp_tool_err(err, errlen, "calibration: %s: %s", bp_status_string(st), bp_last_error());
        goto done;
    }
    for (uint32_t li = 0; li < g->n_layers; li++) {
        if (!isfinite(mn[li]) || !isfinite(mx[li])) {
            bp_tool_err(err, errlen, "calibration: layer %u input range is not finite", li);
            goto done;
        }
        bp_tool_act_rule(mn[li], mx[li], &g->layers[li].act_dtype, &g->layers[li].act_scale);
    }
    rc = 0;
done:
    free(x);
    free(mn);
    free(mx);
    bp_model_free(m);
    free(buf);
    return rc;
}

static const char *bp_tool_prune_name(bp_tool_prune p)
{
    return p == BP_TOOL_PRUNE_BIT ? "bit" : p == BP_TOOL_PRUNE_WEIGHT ? "weight" : "none";
}

int bp_tool_gen_memory(const bp_tool_gen_opts *o, void **buf, size_t *size, char *err,
                       size_t errlen)
{
    bp_tool_graph g;
    bp_tool_graph_init(&g);
    int rc = bp_tool_build_arch(&g, o->arch, &o->arch_opts);
    if (rc) {
        bp_tool_err(err, errlen, "%s: %s", o->arch,
                    rc == -1   ? "unknown architecture"
                    : rc == -2 ? "input too small for this architecture"
                               : "out of memory");
        bp_tool_graph_free(&g);
        return -1;
    }
    int bad = bp_tool_synth(&g, o, err, errlen);
    if (!bad && o->progress) {
        fprintf(o->progress, "\rbptool gen: %s: calibrating (%u images)\033[K",
                o->arch, o->calib ? o->calib : 1);
        fflush(o->progress);
    }
    bad = bad || bp_tool_calibrate(&g, o, err, errlen);
    if (o->progress) {
        fputs("\r\033[K", o->progress); /* the terminal line is left clean */
        fflush(o->progress);
    }
    if (bad) {
        bp_tool_graph_free(&g);
        return -1;
    }
    char v[256];
    const bpf_tensor *in = &g.tensors[g.input];
    bp_tool_meta_set(&g, "producer", "bptool");
    bp_tool_meta_set(&g, "producer_version", bp_version_string());
    bp_tool_meta_set(&g, "arch", o->arch);
    bp_tool_meta_set(&g, "synthetic", "true");
    snprintf(v, sizeof v,
             "kaiming-normal std sqrt(2/K); per-output-channel scale absmax/%d, round half "
             "away from zero; weights in [-%d,%d]",
             o->wmax, o->wmax, o->wmax);
    bp_tool_meta_set(&g, "weights.init", v);
    bp_tool_meta_set(&g, "weights.prune", bp_tool_prune_name(o->prune));
    snprintf(v, sizeof v, "%g", o->lambda);
    bp_tool_meta_set(&g, "weights.lambda", o->prune == BP_TOOL_PRUNE_BIT ? v : "");
    snprintf(v, sizeof v, "eq.8 p=1/2, argmin over the integers in [-%d,%d], C_add=%s", o->wmax,
             o->wmax, o->encoding == BP_ENC_CSD ? "CSD digit count" : "popcount");
    bp_tool_meta_set(&g, "weights.prox", o->prune == BP_TOOL_PRUNE_BIT ? v : "");
    snprintf(v, sizeof v, "%g", o->prune == BP_TOOL_PRUNE_NONE ? 0.0 : o->sparsity);
    bp_tool_meta_set(&g, "weights.sparsity", v);
    bp_tool_meta_set(&g, "weights.encoding", o->encoding == BP_ENC_CSD ? "csd" : "binary");
    snprintf(v, sizeof v, "%llu", (unsigned long long)o->seed);
    bp_tool_meta_set(&g, "weights.seed", v);
    bp_tool_meta_set(&g, "weights.bn",
                     !strncmp(o->arch, "resnet", 6)
                         ? "folded: channel rescaled to row norm sqrt(2), shift N(0,0.1)"
                         : "none; conv/linear bias N(0,0.02)");
    snprintf(v, sizeof v, "%ux%u", in->dims[2], in->dims[3]);
    bp_tool_meta_set(&g, "input", v);
    snprintf(v, sizeof v, "%u", g.layers[g.n_layers - 1].c_out);
    bp_tool_meta_set(&g, "classes", v);
    if (!strncmp(o->arch, "convnext", 8))
        bp_tool_meta_set(&g, "activation", o->arch_opts.gelu ? "gelu" : "relu");
    snprintf(v, sizeof v,
             "%u random N(0,1) inputs, float graph, exact min/max per layer input; min>=0: "
             "u8, scale max/255; else s8, scale max(|min|,|max|)/127 (the range maps to "
             "[-127,127]; s8 saturates at -128 and 127)",
             o->calib ? o->calib : 1);
    bp_tool_meta_set(&g, "calibration", v);
    if (g.failed) {
        bp_tool_err(err, errlen, "out of memory for metadata");
        bp_tool_graph_free(&g);
        return -1;
    }
    bp_status st = bp_tool_graph_write(&g, 0, NULL, buf, size);
    if (st != BP_OK)
        bp_tool_err(err, errlen, "serializing: %s", bp_last_error());
    bp_tool_graph_free(&g);
    return st == BP_OK ? 0 : -1;
}
