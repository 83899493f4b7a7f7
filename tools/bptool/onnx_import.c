/* onnx_import.c: the import pipeline: load, fold, normalise, map, then the
 * weights (QDQ integers kept exactly, float weights quantized per output
 * channel), pruning as in `bptool gen`, activation scales (from QDQ pairs or
 * calibrated), and the comparison of the result with a float reference. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitprune.h"
#include "onnx_import.h"
#include "onnx_ir.h"

void bp_tool_import_opts_default(bp_tool_import_opts *o)
{
    memset(o, 0, sizeof *o);
    o->wmax = 127;
    o->prune = BP_TOOL_PRUNE_NONE;
    o->lambda = 1.0;
    o->encoding = BP_ENC_BINARY;
    o->method = BP_TOOL_CALIB_ABSMAX;
    o->percentile = 99.99;
    o->random_calib = 8;
    o->seed = 1;
    o->report = 1;
}

/* ---- calibration inputs ---- */

/* Parses a .npy header: little-endian float32, C order; returns the data
 * offset and the element count, or -1. */
static long bp_onnx_npy(bp_onnx_graph *g, const char *path, const uint8_t *b, size_t n,
                        size_t *elems)
{
    if (n < 10 || memcmp(b, "\x93NUMPY", 6))
        return bp_onnx_fail(g, "%s: not a .npy file", path);
    size_t hl, off;
    if (b[6] == 1) {
        hl = (size_t)b[8] | (size_t)b[9] << 8;
        off = 10;
    } else if (b[6] == 2 || b[6] == 3) {
        if (n < 12)
            return bp_onnx_fail(g, "%s: truncated .npy header", path);
        hl = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        off = 12;
    } else {
        return bp_onnx_fail(g, "%s: .npy version %u is not known", path, b[6]);
    }
    if (hl > n - off || hl > 65536)
        return bp_onnx_fail(g, "%s: truncated .npy header", path);
    char h[65537];
    memcpy(h, b + off, hl);
    h[hl] = 0;
    if (!strstr(h, "'descr': '<f4'") && !strstr(h, "'descr':'<f4'"))
        return bp_onnx_fail(g, "%s: .npy data must be little-endian float32 ('<f4')", path);
    if (strstr(h, "'fortran_order': True"))
        return bp_onnx_fail(g, "%s: .npy data is in Fortran order", path);
    const char *s = strstr(h, "'shape'");
    s = s ? strchr(s, '(') : NULL;
    if (!s)
        return bp_onnx_fail(g, "%s: .npy header has no shape", path);
    size_t cnt = 1;
    for (s++; *s && *s != ')';) {
        if (*s == ' ' || *s == ',') {
            s++;
            continue;
        }
        char *end;
        unsigned long long d = strtoull(s, &end, 10);
        if (end == s || d > (1ull << 32))
            return bp_onnx_fail(g, "%s: bad .npy shape", path);
        if (d && cnt > (SIZE_MAX / 8) / d)
            return bp_onnx_fail(g, "%s: .npy shape too large", path);
        cnt *= (size_t)d;
        s = end;
    }
    size_t data = off + hl;
    if ((n - data) / 4 < cnt)
        return bp_onnx_fail(g, "%s: .npy holds %zu bytes of data, its shape needs %zu", path,
                            n - data, cnt * 4);
    *elems = cnt;
    return (long)data;
}

static uint8_t *bp_onnx_read_file(const char *path, size_t *n, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open", path);
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    uint8_t *b = malloc(cap);
    while (b) {
        if (len == cap) {
            uint8_t *nb = cap < ((size_t)1 << 40) ? realloc(b, cap * 2) : NULL;
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
        size_t r = fread(b + len, 1, cap - len, f);
        len += r;
        if (r == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (!b || bad) {
        free(b);
        snprintf(err, errlen, "%s: %s", path, b ? "read error" : "out of memory");
        return NULL;
    }
    *n = len;
    return b;
}

/* All calibration images, per = floats per image. */
static float *bp_onnx_calib_load(bp_onnx_graph *g, const bp_tool_import_opts *o, size_t per,
                                 uint32_t *nimg)
{
    float *x = NULL;
    size_t have = 0;
    for (uint32_t i = 0; i < o->n_calib; i++) {
        const char *path = o->calib[i];
        size_t n;
        uint8_t *b = bp_onnx_read_file(path, &n, g->err, g->errlen);
        if (!b) {
            free(x);
            return NULL;
        }
        size_t len = strlen(path), off = 0, elems = n / 4;
        if (len >= 4 && !strcmp(path + len - 4, ".npy")) {
            long d = bp_onnx_npy(g, path, b, n, &elems);
            if (d < 0) {
                free(b);
                free(x);
                return NULL;
            }
            off = (size_t)d;
        } else if (n % 4) {
            free(b);
            free(x);
            bp_onnx_fail(g, "%s: %zu bytes is not a whole number of float32 values", path, n);
            return NULL;
        }
        if (!elems || elems % per) {
            free(b);
            free(x);
            bp_onnx_fail(g, "%s: %zu values are not a whole number of inputs of %zu values "
                         "(the model's input shape)", path, elems, per);
            return NULL;
        }
        float *nx = realloc(x, (have + elems) * sizeof *x);
        if (!nx) {
            free(b);
            free(x);
            bp_onnx_fail(g, "out of memory for calibration inputs");
            return NULL;
        }
        x = nx;
        for (size_t k = 0; k < elems; k++) {
            uint32_t u = (uint32_t)b[off + 4 * k] | (uint32_t)b[off + 4 * k + 1] << 8 |
                         (uint32_t)b[off + 4 * k + 2] << 16 | (uint32_t)b[off + 4 * k + 3] << 24;
            float f;
            memcpy(&f, &u, sizeof f);
            if (!isfinite(f)) {
                free(b);
                free(x);
                bp_onnx_fail(g, "%s: value %zu is not finite", path, k);
                return NULL;
            }
            x[have + k] = f;
        }
        have += elems;
        free(b);
        if (have / per > 65536) {
            free(x);
            bp_onnx_fail(g, "more than 65536 calibration inputs");
            return NULL;
        }
    }
    if (!o->n_calib) {
        uint32_t nb = o->random_calib ? o->random_calib : 1;
        x = malloc(per * nb * sizeof *x);
        if (!x) {
            bp_onnx_fail(g, "out of memory for calibration inputs");
            return NULL;
        }
        bp_tool_rng rng;
        bp_tool_rng_seed(&rng, o->seed, 0xca11b);
        for (size_t k = 0; k < per * nb; k++)
            x[k] = (float)bp_tool_rng_normal(&rng);
        have = per * nb;
    }
    *nimg = (uint32_t)(have / per);
    return x;
}

/* ---- weights ---- */

/* Activation quantization of a layer from its QuantizeLinear scale. The
 * engine quantizes without a zero point: uint8 with zero point 0 is u8,
 * int8 with 0 and uint8 with 128 are s8 (the same integers shifted), others
 * are approximated by the rule for their float range (returns 0 then). */
static int bp_onnx_act_from_q(const bp_onnx_actq *q, bpf_layer *l)
{
    if (q->zero == 0) {
        l->act_dtype = q->is_u8 ? BPF_DT_U8 : BPF_DT_S8;
        l->act_scale = q->scale;
        return 1;
    }
    if (q->is_u8 && q->zero == 128) {
        l->act_dtype = BPF_DT_S8;
        l->act_scale = q->scale;
        return 1;
    }
    float lo = (float)((q->is_u8 ? 0 : -128) - q->zero) * q->scale;
    float hi = (float)((q->is_u8 ? 255 : 127) - q->zero) * q->scale;
    bp_tool_act_rule(lo, hi, &l->act_dtype, &l->act_scale);
    return 0;
}

/* Sets layer li's integer weights, scales and bias. ref: the float reference
 * (float weights at +-255, no pruning) instead of the final weights. */
static int bp_onnx_layer_weights(bp_onnx_graph *g, bp_tool_graph *bg, const int *layer_node,
                                 uint32_t li, const bp_tool_import_opts *o, int ref)
{
    bp_onnx_node *n = &g->nodes[layer_node[li]];
    const bp_onnx_weights *w = n->w;
    bpf_layer *l = &bg->layers[li];
    bp_tool_layer *L = &bg->lsrc[li];
    size_t nw = (size_t)w->rows * w->K;
    bp_encoding enc = ref ? BP_ENC_BINARY : o->encoding;
    for (uint32_t j = 0; j < w->rows; j++)
        if (!isfinite(w->bias[j]) || (w->wq && !isfinite(w->wq_scale[j])))
            return bp_onnx_node_fail(g, n, "bias or weight scale of output %u is not finite", j);
    if (w->wq) {
        int32_t mx = 1;
        for (size_t k = 0; k < nw; k++) {
            int32_t a = w->wq[k] < 0 ? -w->wq[k] : w->wq[k];
            mx = a > mx ? a : mx;
            L->w[k] = (int16_t)w->wq[k];
        }
        memcpy(L->w_scale, w->wq_scale, w->rows * sizeof *L->w_scale);
        l->w_max = (uint32_t)mx;
    } else {
        for (size_t k = 0; k < nw; k++)
            if (!isfinite(w->wf[k]))
                return bp_onnx_node_fail(g, n, "weight %zu is not finite", k);
        int qmax = ref ? (int)BPF_W_MAX : o->wmax;
        bp_tool_quantize_rows(w->wf, w->rows, w->K, qmax, L->w, L->w_scale);
        l->w_max = (uint32_t)qmax;
    }
    memcpy(L->bias, w->bias, w->rows * sizeof *L->bias);
    int rc = bp_tool_project_weights(L, l->c_out, l->K, (int)l->w_max,
                                     ref ? BP_TOOL_PRUNE_NONE : o->prune, o->lambda,
                                     o->sparsity, enc, w->wf);
    l->encoding = (uint32_t)enc;
    if (rc)
        return rc == -1 ? bp_onnx_node_fail(g, n, "a weight is beyond the layer's w_max")
                        : bp_onnx_fail(g, "out of memory for the digit planes");
    return 0;
}

static int bp_onnx_all_weights(bp_onnx_graph *g, bp_tool_graph *bg, const int *layer_node,
                               const bp_tool_import_opts *o, int ref)
{
    for (uint32_t li = 0; li < bg->n_layers; li++)
        if (bp_onnx_layer_weights(g, bg, layer_node, li, o, ref))
            return -1;
    return 0;
}

static int bp_onnx_serialize(bp_onnx_graph *g, bp_tool_graph *bg, void **buf, size_t *size)
{
    if (bp_tool_graph_write(bg, 0, NULL, buf, size) != BP_OK)
        return bp_onnx_fail(g, "the mapped model does not validate: %s", bp_last_error());
    return 0;
}

static int bp_onnx_load_model(bp_onnx_graph *g, const void *buf, size_t size, bp_model **m)
{
    bp_status st = bp_model_load_memory(buf, size, NULL, m);
    if (st != BP_OK)
        return bp_onnx_fail(g, "the engine rejects the mapped model: %s: %s",
                            bp_status_string(st), bp_last_error());
    return 0;
}

/* Runs model buffer buf on x (nimg images) with backend, into out. */
static int bp_onnx_run(bp_onnx_graph *g, const void *buf, size_t size, const char *backend,
                       const float *x, uint32_t nimg, float **outs)
{
    bp_model *m = NULL;
    bp_session *s = NULL;
    int rc = -1;
    if (bp_onnx_load_model(g, buf, size, &m))
        return -1;
    bp_session_opts so;
    bp_session_opts_init(&so);
    so.backend = backend;
    so.batch = nimg;
    bp_status st = bp_session_create(m, &so, &s);
    if (st != BP_OK) {
        bp_onnx_fail(g, "%s session: %s: %s", backend, bp_status_string(st), bp_last_error());
        goto done;
    }
    const float *ins[1] = {x};
    st = bp_session_run(s, ins, outs);
    if (st != BP_OK) {
        bp_onnx_fail(g, "%s run: %s: %s", backend, bp_status_string(st), bp_last_error());
        goto done;
    }
    rc = 0;
done:
    bp_session_free(s);
    bp_model_free(m);
    return rc;
}

static size_t bp_onnx_tensor_elems(const bpf_tensor *t)
{
    size_t e = 1;
    for (uint32_t i = 1; i < t->ndim; i++)
        e *= t->dims[i];
    return e;
}

static int bp_onnx_cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* Percentile p of v[n] (v is reordered). */
static float bp_onnx_pct(float *v, size_t n, double p)
{
    qsort(v, n, sizeof *v, bp_onnx_cmp_float);
    double r = p / 100.0 * (double)(n - 1);
    size_t i = (size_t)floor(r);
    if (i + 1 >= n)
        return v[n - 1];
    double f = r - (double)i;
    return (float)((1 - f) * v[i] + f * v[i + 1]);
}

/* Percentile calibration: the float graph (onednn-f32) with the layers'
 * input tensors as outputs, four at a time. */
static int bp_onnx_calib_percentile(bp_onnx_graph *g, bp_tool_graph *bg, const int *need,
                                    const float *mn, const float *x, uint32_t nimg, double pct)
{
    uint32_t nl = bg->n_layers;
    uint32_t *lin = malloc(nl * sizeof *lin);
    if (!lin)
        return bp_onnx_fail(g, "out of memory");
    for (uint32_t i = 0; i < nl; i++)
        lin[i] = bg->lsrc[i].x;
    int rc = -1;
    uint32_t li = 0;
    while (li < nl) {
        uint32_t batch[4], nb = 0;
        for (; li < nl && nb < 4; li++)
            if (need[li] && lin[li] != bg->input)
                batch[nb++] = li;
            else if (need[li]) { /* the graph input: the calibration data itself */
                size_t cnt = bp_onnx_tensor_elems(&bg->tensors[bg->input]) * nimg;
                float *v = malloc(cnt * sizeof *v);
                if (!v)
                    goto oom;
                for (size_t k = 0; k < cnt; k++)
                    v[k] = mn[li] >= 0 ? x[k] : fabsf(x[k]);
                float q = bp_onnx_pct(v, cnt, pct);
                free(v);
                bp_tool_act_rule(mn[li] >= 0 ? 0 : -q, q, &bg->layers[li].act_dtype,
                                 &bg->layers[li].act_scale);
            }
        if (!nb)
            continue;
        uint32_t outs_id[4];
        float *outs[4] = {NULL, NULL, NULL, NULL};
        for (uint32_t k = 0; k < nb; k++) {
            outs_id[k] = lin[batch[k]];
            outs[k] = malloc(bp_onnx_tensor_elems(&bg->tensors[outs_id[k]]) * nimg * sizeof(float));
            if (!outs[k]) {
                for (uint32_t j = 0; j < k; j++)
                    free(outs[j]);
                goto oom;
            }
        }
        void *buf = NULL;
        size_t size = 0;
        bp_status fs = bp_tool_graph_write(bg, nb, outs_id, &buf, &size);
        int r = fs == BP_OK ? bp_onnx_run(g, buf, size, "onednn-f32", x, nimg, outs)
                            : bp_onnx_fail(g, "percentile calibration model: %s",
                                           bp_last_error());
        free(buf);
        for (uint32_t k = 0; k < nb && !r; k++) {
            uint32_t l2 = batch[k];
            size_t cnt = bp_onnx_tensor_elems(&bg->tensors[outs_id[k]]) * nimg;
            float *v = outs[k];
            int nonneg = mn[l2] >= 0;
            for (size_t j = 0; j < cnt; j++)
                v[j] = nonneg ? v[j] : fabsf(v[j]);
            float q = bp_onnx_pct(v, cnt, pct);
            if (!isfinite(q)) {
                r = bp_onnx_fail(g, "calibration: layer %u input percentile is not finite", l2);
                break;
            }
            bp_tool_act_rule(nonneg ? 0 : -q, q, &bg->layers[l2].act_dtype,
                             &bg->layers[l2].act_scale);
        }
        for (uint32_t k = 0; k < nb; k++)
            free(outs[k]);
        if (r)
            goto done;
    }
    rc = 0;
    goto done;
oom:
    bp_onnx_fail(g, "out of memory for calibration");
done:
    free(lin);
    return rc;
}

/* Activation scales of the layers without a QDQ scale (need[li]). */
static int bp_onnx_calibrate(bp_onnx_graph *g, bp_tool_graph *bg, const int *need,
                             const bp_tool_import_opts *o, const float *x, uint32_t nimg)
{
    void *buf = NULL;
    size_t size = 0;
    if (bp_onnx_serialize(g, bg, &buf, &size))
        return -1;
    bp_model *m = NULL;
    if (bp_onnx_load_model(g, buf, size, &m)) {
        free(buf);
        return -1;
    }
    uint32_t nl = bg->n_layers;
    float *mn = malloc(nl * sizeof *mn), *mx = malloc(nl * sizeof *mx);
    int rc = -1;
    if (!mn || !mx) {
        bp_onnx_fail(g, "out of memory for calibration");
        goto done;
    }
    const float *ins[1] = {x};
    bp_status st = bp_model_calibrate(m, ins, nimg, mn, mx);
    if (st != BP_OK) {
        bp_onnx_fail(g, "calibration: %s: %s", bp_status_string(st), bp_last_error());
        goto done;
    }
    for (uint32_t li = 0; li < nl; li++) {
        if (!need[li])
            continue;
        if (!isfinite(mn[li]) || !isfinite(mx[li])) {
            bp_onnx_fail(g, "calibration: the input range of layer %u is not finite", li);
            goto done;
        }
        bp_tool_act_rule(mn[li], mx[li], &bg->layers[li].act_dtype, &bg->layers[li].act_scale);
    }
    rc = o->method == BP_TOOL_CALIB_PERCENTILE
             ? bp_onnx_calib_percentile(g, bg, need, mn, x, nimg, o->percentile)
             : 0;
done:
    free(mn);
    free(mx);
    bp_model_free(m);
    free(buf);
    return rc;
}

/* Runs the final model (bitplane) and the float reference (onednn-f32 on
 * +-255 unpruned weights, float activations) on the calibration inputs. */
static int bp_onnx_report(bp_onnx_graph *g, bp_tool_graph *bg, const int *layer_node,
                          const bp_tool_import_opts *o, const void *fin, size_t fsize,
                          const float *x, uint32_t nimg, bp_tool_import_result *res)
{
    /* keep the final activation scales; only weights change in the reference */
    if (bp_onnx_all_weights(g, bg, layer_node, o, 1))
        return -1;
    void *rbuf = NULL;
    size_t rsize = 0;
    if (bp_onnx_serialize(g, bg, &rbuf, &rsize))
        return -1;
    size_t per = bp_onnx_tensor_elems(&bg->tensors[bg->output]);
    float *a = malloc(per * nimg * sizeof *a), *b = malloc(per * nimg * sizeof *b);
    int rc = -1;
    if (!a || !b) {
        bp_onnx_fail(g, "out of memory for the comparison");
        goto done;
    }
    float *oa[1] = {a}, *ob[1] = {b};
    if (bp_onnx_run(g, fin, fsize, "bitplane", x, nimg, oa) ||
        bp_onnx_run(g, rbuf, rsize, "onednn-f32", x, nimg, ob))
        goto done;
    double mxd = 0, sum = 0, rmax = 0;
    uint32_t agree = 0;
    for (uint32_t i = 0; i < nimg; i++) {
        size_t ia = 0, ib = 0;
        for (size_t k = 0; k < per; k++) {
            size_t q = (size_t)i * per + k;
            double d = fabs((double)a[q] - (double)b[q]);
            mxd = d > mxd ? d : mxd;
            sum += d;
            rmax = fabs(b[q]) > rmax ? fabs(b[q]) : rmax;
            if (a[q] > a[(size_t)i * per + ia]) ia = k;
            if (b[q] > b[(size_t)i * per + ib]) ib = k;
        }
        agree += ia == ib;
    }
    res->have_report = 1;
    res->max_diff = mxd;
    res->mean_diff = sum / ((double)per * nimg);
    res->ref_max = rmax;
    res->top1_agree = agree;
    rc = 0;
done:
    free(a);
    free(b);
    free(rbuf);
    return rc;
}

static void bp_onnx_meta(bp_tool_graph *bg, const bp_onnx_graph *g, const bp_tool_import_opts *o,
                         const bp_tool_import_result *r)
{
    char v[512];
    const char *src = o->source ? o->source : "model.onnx";
    const char *base = strrchr(src, '/');
    base = base ? base + 1 : src;
    bp_tool_meta_set(bg, "producer", "bptool import");
    bp_tool_meta_set(bg, "producer_version", bp_version_string());
    snprintf(v, sizeof v, "onnx:%s", base);
    bp_tool_meta_set(bg, "arch", v);
    bp_tool_meta_set(bg, "source", base);
    snprintf(v, sizeof v, "%s %s, opset %lld",
             g->model->producer_name ? g->model->producer_name : "",
             g->model->producer_version ? g->model->producer_version : "", (long long)g->opset);
    bp_tool_meta_set(bg, "source.producer", v);
    bp_tool_meta_set(bg, "synthetic", "false");
    snprintf(v, sizeof v,
             "%u of %u layers: integer weights and per-channel scales from DequantizeLinear; "
             "others: float weights per output channel absmax/%d, round to [-%d,%d]",
             r->n_qdq_layers, r->n_layers, o->wmax, o->wmax, o->wmax);
    bp_tool_meta_set(bg, "weights.quantization", v);
    bp_tool_meta_set(bg, "weights.prune", o->prune == BP_TOOL_PRUNE_BIT      ? "bit"
                                          : o->prune == BP_TOOL_PRUNE_WEIGHT ? "weight"
                                                                             : "none");
    snprintf(v, sizeof v, "%g", o->lambda);
    bp_tool_meta_set(bg, "weights.lambda", o->prune == BP_TOOL_PRUNE_BIT ? v : "");
    snprintf(v, sizeof v, "%g", o->prune == BP_TOOL_PRUNE_NONE ? 0.0 : o->sparsity);
    bp_tool_meta_set(bg, "weights.sparsity", v);
    bp_tool_meta_set(bg, "weights.encoding", o->encoding == BP_ENC_CSD ? "csd" : "binary");
    if (r->n_calibrated) {
        if (o->method == BP_TOOL_CALIB_PERCENTILE)
            snprintf(v, sizeof v, "%u layers: %u %s inputs, percentile %g of |x| (x if x >= 0); "
                     "u8 /255 if x >= 0 else s8 /127", r->n_calibrated, r->n_images,
                     r->calib_random ? "random N(0,1)" : "user", o->percentile);
        else
            snprintf(v, sizeof v, "%u layers: %u %s inputs, float graph; u8 max/255 if min>=0 "
                     "else s8 absmax/127", r->n_calibrated, r->n_images,
                     r->calib_random ? "random N(0,1)" : "user");
        bp_tool_meta_set(bg, "calibration", v);
    }
    if (r->n_qdq_layers) {
        snprintf(v, sizeof v, "%u layers from QuantizeLinear scales (%d approximated: zero "
                 "point not 0 or 128); %d pairs not at a layer input kept in float",
                 r->n_qdq_layers, r->n_requant, r->n_dropped_q);
        bp_tool_meta_set(bg, "activations.qdq", v);
    }
}

int bp_tool_onnx_import(const bp_tool_import_opts *o, const void *onnx, size_t size,
                        void **buf, size_t *bsize, bp_tool_import_result *res, char *err,
                        size_t errlen)
{
    bp_onnx_graph g;
    memset(&g, 0, sizeof g);
    err[0] = 0;
    g.err = err;
    g.errlen = errlen;
    g.in_h = o->in_h;
    g.in_w = o->in_w;
    memset(res, 0, sizeof *res);
    *buf = NULL;
    *bsize = 0;
    bp_tool_graph bg;
    bp_tool_graph_init(&bg);
    int *layer_node = NULL, *need = NULL;
    float *x = NULL;
    void *fin = NULL;
    size_t fsize = 0;
    int rc = -1;
    if (bp_onnx_load(&g, onnx, size) || bp_onnx_fold(&g) || bp_onnx_normalize(&g) ||
        bp_onnx_map(&g, &bg, &layer_node))
        goto done;
    res->n_layers = bg.n_layers;
    need = calloc(bg.n_layers, sizeof *need);
    if (!need) {
        bp_onnx_fail(&g, "out of memory");
        goto done;
    }
    if (bp_onnx_all_weights(&g, &bg, layer_node, o, 0))
        goto done;
    uint32_t n_need = 0;
    for (uint32_t li = 0; li < bg.n_layers; li++) {
        const bp_onnx_node *n = &g.nodes[layer_node[li]];
        res->n_qdq_layers += n->w->wq != NULL;
        if (n->actq.set) {
            if (!bp_onnx_act_from_q(&n->actq, &bg.layers[li])) {
                g.n_requant++;
                fprintf(stderr, "bptool import: note: layer '%s': activation zero point %d of "
                        "QuantizeLinear '%s' is not 0 or 128; the engine has none, so the "
                        "input is requantized (%s, step %g): not exact\n", n->name,
                        n->actq.zero, n->actq.via,
                        bg.layers[li].act_dtype == BPF_DT_U8 ? "u8" : "s8",
                        (double)bg.layers[li].act_scale);
            }
        } else {
            need[li] = 1;
            n_need++;
        }
    }
    res->n_calibrated = n_need;
    const bpf_tensor *in = &bg.tensors[bg.input];
    size_t per = bp_onnx_tensor_elems(in);
    x = bp_onnx_calib_load(&g, o, per, &res->n_images);
    if (!x)
        goto done;
    res->calib_random = o->n_calib == 0;
    if (n_need && bp_onnx_calibrate(&g, &bg, need, o, x, res->n_images))
        goto done;
    res->n_dropped_q = g.n_dropped_q;
    res->n_requant = g.n_requant;
    res->n_folded_bn = g.n_folded_bn;
    res->n_gelu = g.n_gelu;
    res->n_hardswish = g.n_hardswish;
    res->n_layernorm = g.n_layernorm;
    res->n_affine_folded = g.n_affine_folded;
    bp_onnx_meta(&bg, &g, o, res);
    if (bg.failed) {
        bp_onnx_fail(&g, "out of memory for metadata");
        goto done;
    }
    if (bp_onnx_serialize(&g, &bg, &fin, &fsize))
        goto done;
    if (o->report && bp_onnx_report(&g, &bg, layer_node, o, fin, fsize, x, res->n_images, res))
        goto done;
    *buf = fin;
    *bsize = fsize;
    fin = NULL;
    rc = 0;
done:
    free(fin);
    free(x);
    free(need);
    free(layer_node);
    bp_tool_graph_free(&bg);
    bp_onnx_graph_free(&g);
    if (rc && !err[0])
        snprintf(err, errlen, "import failed");
    return rc;
}
