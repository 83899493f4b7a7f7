/* onnx_run.c: runs an imported .bp model on every backend over a batch of
 * raw float32 inputs, writes each backend's outputs (PREFIX.BACKEND.f32) for
 * the ONNX Runtime comparison, and checks that the integer backends agree
 * bit for bit (reference, bitplane, csr; onednn-int8 where it reports
 * itself exact). Usage: onnx_run MODEL.bp INPUTS.f32 N PREFIX */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitprune.h"

static const char *const backends[] = {"reference", "bitplane", "csr", "onednn-int8",
                                       "onednn-f32"};
#define N_BACKENDS 5

static int write_f32(const char *path, const float *v, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int bad = fwrite(v, sizeof *v, n, f) != n;
    bad |= fclose(f) != 0;
    return bad ? -1 : 0;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: onnx_run MODEL.bp INPUTS.f32 N PREFIX\n");
        return 2;
    }
    uint32_t n = (uint32_t)strtoul(argv[3], NULL, 10);
    bp_model *m = NULL;
    if (bp_model_load_file(argv[1], NULL, &m) != BP_OK) {
        fprintf(stderr, "onnx_run: %s\n", bp_last_error());
        return 1;
    }
    const bp_model_info *mi;
    bp_model_info_get(m, &mi);
    size_t in_per = 1, out_per = 1;
    for (uint32_t i = 1; i < mi->inputs[0].ndim; i++)
        in_per *= mi->inputs[0].dims[i];
    for (uint32_t i = 1; i < mi->outputs[0].ndim; i++)
        out_per *= mi->outputs[0].dims[i];
    float *x = malloc(in_per * n * sizeof *x);
    float *y[N_BACKENDS];
    FILE *f = fopen(argv[2], "rb");
    if (!x || !f || fread(x, sizeof *x, in_per * n, f) != in_per * n) {
        fprintf(stderr, "onnx_run: cannot read %u inputs of %zu floats from %s\n", n, in_per,
                argv[2]);
        return 1;
    }
    fclose(f);
    int fails = 0, ran[N_BACKENDS] = {0}, exact[N_BACKENDS] = {0};
    for (int b = 0; b < N_BACKENDS; b++) {
        y[b] = calloc(out_per * n, sizeof *y[b]);
        bp_session_opts o;
        bp_session_opts_init(&o);
        o.backend = backends[b];
        o.threads = 2;
        o.batch = n;
        bp_session *s = NULL;
        bp_status st = bp_session_create(m, &o, &s);
        if (st == BP_ERR_UNSUPPORTED) {
            printf("# %s: not available here (%s)\n", backends[b], bp_last_error());
            continue;
        }
        const float *in[1] = {x};
        float *out[1] = {y[b]};
        if (st != BP_OK || bp_session_run(s, in, out) != BP_OK) {
            printf("not ok - %s: %s\n", backends[b], bp_last_error());
            fails++;
            bp_session_free(s);
            continue;
        }
        bp_session_info si;
        bp_session_info_get(s, &si);
        exact[b] = si.exact;
        if (!si.exact && b < 4)
            printf("# %s: inexact (%s)\n", backends[b], si.inexact_reason);
        bp_session_free(s);
        ran[b] = 1;
        char path[4096];
        snprintf(path, sizeof path, "%s.%s.f32", argv[4], backends[b]);
        if (write_f32(path, y[b], out_per * n)) {
            printf("not ok - writing %s\n", path);
            fails++;
        }
    }
    if (!ran[0]) {
        printf("not ok - the reference backend did not run\n");
        fails++;
    }
    for (int b = 1; b < 4 && ran[0]; b++) {
        if (!ran[b] || !exact[b])
            continue;
        size_t diff = 0;
        for (size_t k = 0; k < out_per * n; k++)
            diff += memcmp(&y[b][k], &y[0][k], sizeof(float)) != 0;
        if (diff) {
            printf("not ok - %s differs from reference in %zu of %zu outputs\n", backends[b],
                   diff, out_per * n);
            fails++;
        } else {
            printf("ok - %s equals reference bit for bit (%zu outputs, %u inputs)\n",
                   backends[b], out_per * n, n);
        }
    }
    for (int b = 0; b < N_BACKENDS; b++)
        free(y[b]);
    free(x);
    bp_model_free(m);
    return fails ? 1 : 0;
}
