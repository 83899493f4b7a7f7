/* Quick timing of one layer on onednn-int8 and onednn-f32 through the backend
 * vtable (not a test): layer_run wall time including quantize and layout
 * conversion, with the engine's activations NCHW and NHWC (d.layout). For
 * the primitive alone run with ONEDNN_VERBOSE=1.
 * Usage: onednn_layer_timing [c_in c_out H W k stride groups threads reps] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "quant.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    uint32_t a[9] = {96, 384, 56, 56, 1, 1, 1, 1, 50}; /* ConvNeXt-T stage-1 MLP up */
    for (int i = 1; i < argc && i <= 9; i++) a[i - 1] = (uint32_t)strtoul(argv[i], NULL, 10);
    const uint32_t ci = a[0], co = a[1], H = a[2], W = a[3], k = a[4], s = a[5], g = a[6];
    const int threads = (int)a[7], reps = (int)a[8];
    const uint32_t pad = k / 2;
    bpf_layer L;
    memset(&L, 0, sizeof L);
    L.kind = BPF_LAYER_CONV;
    L.c_in = ci; L.c_out = co; L.kh = L.kw = k; L.stride_h = L.stride_w = s;
    L.pad_t = L.pad_l = L.pad_b = L.pad_r = pad;
    L.dil_h = L.dil_w = 1; L.groups = g; L.K = ci / g * k * k; L.M = 8; L.w_max = 127;
    L.act_dtype = BPF_DT_U8; L.act_scale = 0.05f;
    const uint32_t OH = (H + 2 * pad - k) / s + 1, OW = (W + 2 * pad - k) / s + 1;
    const size_t nw = (size_t)co * L.K, nx = (size_t)ci * H * W, ny = (size_t)co * OH * OW;
    int16_t *w = malloc(nw * sizeof *w);
    float *ws = malloc(co * sizeof(float)), *b = malloc(co * sizeof(float));
    float *os = malloc(co * sizeof(float)), *x = malloc(nx * sizeof(float));
    float *y = malloc(ny * sizeof(float));
    if (!w || !ws || !b || !os || !x || !y) return 1;
    srand(1);
    for (size_t i = 0; i < nw; i++) w[i] = (int16_t)(rand() % 255 - 127);
    for (uint32_t j = 0; j < co; j++) {
        ws[j] = 1.0f / 128; b[j] = 0.1f;
        os[j] = bp_out_scale(ws[j], L.act_scale);
    }
    for (size_t i = 0; i < nx; i++) x[i] = (float)(rand() % 1000) * 0.01f;
    L.w_scale = ws; L.bias = b;
    bp_layer_desc d;
    memset(&d, 0, sizeof d);
    d.name = "timing"; d.L = &L; d.N = 1; d.H = H; d.W = W; d.OH = OH; d.OW = OW;
    d.w_dense = w; d.out_scale = os; d.bias = b; d.act_inv_scale = 1.0f / L.act_scale;
    const double macs = (double)nw * OH * OW;
    const bp_backend *bes[2] = {&bp_backend_onednn_int8, &bp_backend_onednn_f32};
    printf("conv %ux%u %u->%u k%u s%u g%u, %u threads: %.1f MMAC\n", H, W, ci, co, k, s, g,
           threads, macs * 1e-6);
    for (int i = 0; i < 4; i++) {
        const bp_backend *be = bes[i % 2];
        d.layout = i < 2 ? BP_LAYOUT_NCHW : BP_LAYOUT_NHWC;
        bp_backend_env env = {threads, ~0u, NULL};
        void *st = NULL;
        if (be->layer_create(&d, &env, &st) != BP_OK) {
            printf("%s: create failed\n", be->name);
            return 1;
        }
        for (int r = 0; r < 3; r++) be->layer_run(st, x, NULL, y);
        double best = 1e30;
        for (int r = 0; r < reps; r++) {
            double t0 = now_s();
            be->layer_run(st, x, NULL, y);
            double t = now_s() - t0;
            if (t < best) best = t;
        }
        printf("%-12s %s %-28s best %.3f ms  %.1f GMAC/s (incl. quantize + layout conversion)\n",
               be->name, i < 2 ? "NCHW" : "NHWC", be->layer_kernel(st), best * 1e3,
               macs / best * 1e-9);
        be->layer_destroy(st);
    }
    free(w); free(ws); free(b); free(os); free(x); free(y);
    return 0;
}
