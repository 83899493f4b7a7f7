/* classify: the smallest embedding of libbitprune. Loads a .bp model, runs
 * one input (a raw float32 file in the model's input layout, or a fixed test
 * pattern when none is given) and prints the top-5 classes of the first 2-D
 * output (N, classes).
 *   cc classify.c $(pkg-config --cflags --libs bitprune) -o classify
 *   ./classify model.bp [input.f32] [backend] [threads] */
#include <stdio.h>
#include <stdlib.h>

#include <bitprune.h>

static int fail(const char *what, bp_status st)
{
    fprintf(stderr, "classify: %s: %s (%s)\n", what, bp_status_string(st), bp_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: classify model.bp [input.f32] [backend] [threads]\n");
        return 2;
    }
    bp_model *model = NULL;
    bp_status st = bp_model_load_file(argv[1], NULL, &model);
    if (st) return fail("load", st);
    const bp_model_info *info = NULL;
    bp_model_info_get(model, &info);

    bp_session_opts opts;
    bp_session_opts_init(&opts);
    if (argc > 3) opts.backend = argv[3];
    if (argc > 4) opts.threads = atoi(argv[4]);
    bp_session *session = NULL;
    st = bp_session_create(model, &opts, &session);
    if (st) {
        bp_model_free(model);
        return fail("session", st);
    }

    /* one buffer per graph input and output, batch 1 */
    float *in[8] = {0}, *out[8] = {0};
    size_t n_in[8], n_out[8];
    for (uint32_t i = 0; i < info->n_inputs && i < 8; i++) {
        n_in[i] = 1;
        for (uint32_t d = 1; d < info->inputs[i].ndim; d++) n_in[i] *= info->inputs[i].dims[d];
        in[i] = malloc(n_in[i] * sizeof(float));
        for (size_t k = 0; k < n_in[i]; k++) in[i][k] = (float)((k * 37 % 101) / 50.0 - 1.0);
    }
    for (uint32_t i = 0; i < info->n_outputs && i < 8; i++) {
        n_out[i] = 1;
        for (uint32_t d = 1; d < info->outputs[i].ndim; d++) n_out[i] *= info->outputs[i].dims[d];
        out[i] = malloc(n_out[i] * sizeof(float));
    }
    if (argc > 2) {
        FILE *f = fopen(argv[2], "rb");
        if (!f || fread(in[0], sizeof(float), n_in[0], f) != n_in[0]) {
            fprintf(stderr, "classify: cannot read %zu floats from %s\n", n_in[0], argv[2]);
            return 1;
        }
        fclose(f);
    }

    st = bp_session_run(session, (const float *const *)in, out);
    if (st) return fail("run", st);

    uint32_t o = 0;
    for (uint32_t i = 0; i < info->n_outputs; i++)
        if (info->outputs[i].ndim == 2) {
            o = i;
            break;
        }
    bp_session_info si;
    bp_session_info_get(session, &si);
    printf("model %s: %u layers, sparsity %.3f, %.3f digits/weight; backend %s (isa %s)\n",
           argv[1], info->n_layers, info->sparsity, info->digits_per_weight, si.backend,
           si.isa);
    printf("top-5 of output '%s':\n", info->outputs[o].name);
    int used[5] = {-1, -1, -1, -1, -1};
    for (int r = 0; r < 5 && r < (int)n_out[o]; r++) {
        int best = -1;
        for (size_t k = 0; k < n_out[o]; k++) {
            int taken = 0;
            for (int q = 0; q < r; q++) taken |= used[q] == (int)k;
            if (!taken && (best < 0 || out[o][k] > out[o][best])) best = (int)k;
        }
        used[r] = best;
        printf("  %d. class %d  %.6f\n", r + 1, best, (double)out[o][best]);
    }
    for (uint32_t i = 0; i < 8; i++) {
        free(in[i]);
        free(out[i]);
    }
    bp_session_free(session);
    bp_model_free(model);
    return 0;
}
