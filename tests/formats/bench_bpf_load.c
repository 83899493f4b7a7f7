/* Load-time benchmark of the .bp reader (not a unit test): a synthetic
 * chain of bit-pruned linear layers of realistic size; times the checked
 * writer, and file loads (read into memory, the default, and BPF_LOAD_MMAP)
 * with and without per-section checksums.
 * Usage: bench_bpf_load [layers] [channels] [path]   (BP_TEST_SEED=n) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bp_kernels.h"
#include "bpf.h"

static double bpft_bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint32_t bpft_bench_rng(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

int main(int argc, char **argv)
{
    uint32_t nl = argc > 1 ? (uint32_t)atoi(argv[1]) : 8;
    uint32_t c = argc > 2 ? (uint32_t)atoi(argv[2]) : 2048;
    const char *path = argc > 3 ? argv[3] : "/tmp/bench_bpf_load.bp";
    const char *env = getenv("BP_TEST_SEED");
    uint32_t seed = env ? (uint32_t)strtoul(env, NULL, 0) : 12345u;
    if (nl < 1 || nl > 64 || c < 1 || c > BPF_K_MAX) {
        fprintf(stderr, "bench_bpf_load: layers 1..64, channels 1..%u\n", BPF_K_MAX);
        return 2;
    }
    /* Bit-Pruning statistics at lambda ~ 1: 70% zeros, the rest on the
     * proximal targets {2,4,8,16,32,48,64,96,128} with random signs. */
    static const int16_t targets[] = {2, 4, 8, 16, 32, 48, 64, 96, 128};
    bpf_layer *layers = calloc(nl, sizeof *layers);
    bpf_node *nodes = calloc(nl, sizeof *nodes);
    bpf_tensor *tensors = calloc(nl + 1, sizeof *tensors);
    bp_planes_buf *pb = calloc(nl, sizeof *pb);
    float *ones = malloc(sizeof(float) * c), *zeros = calloc(c, sizeof(float));
    int16_t *w = malloc(sizeof(int16_t) * c * c);
    char (*names)[32] = calloc(2 * nl + 1, 32);
    for (uint32_t i = 0; i < c; i++) ones[i] = 0.01f;
    uint64_t digits = 0;
    for (uint32_t l = 0; l < nl; l++) {
        for (size_t i = 0; i < (size_t)c * c; i++) {
            uint32_t r = bpft_bench_rng(&seed);
            w[i] = r % 10 < 7 ? 0 : (int16_t)(targets[(r >> 8) % 9] * ((r >> 16) & 1 ? -1 : 1));
        }
        if (bp_planes_from_dense(w, c, c, BP_ENC_BINARY, 8, &pb[l]) != 0) return 1;
        digits += pb[l].ndigits;
        layers[l] = (bpf_layer){.kind = BPF_LAYER_LINEAR, .c_out = c, .c_in = c, .kh = 1, .kw = 1,
                                .stride_h = 1, .stride_w = 1, .dil_h = 1, .dil_w = 1, .groups = 1,
                                .K = c, .M = 8, .encoding = BPF_ENC_BINARY, .w_max = 128,
                                .act_dtype = BPF_DT_S8, .act_scale = 0.02f, .w_scale = ones,
                                .bias = zeros, .idx_bytes = 2, .n_digits = pb[l].ndigits,
                                .row_ptr = pb[l].row_ptr, .col_idx = pb[l].idx};
        snprintf(names[l], 32, "fc%u", l);
        nodes[l] = (bpf_node){.name = names[l], .op = BPF_OP_LINEAR, .n_in = 1, .n_out = 1,
                              .in = {l}, .out = {l + 1}, .layer = l};
    }
    for (uint32_t t = 0; t <= nl; t++) {
        snprintf(names[nl + t], 32, "act%u", t);
        tensors[t] = (bpf_tensor){.name = names[nl + t], .dtype = BPF_DT_F32, .ndim = 2,
                                  .dims = {1, c}};
    }
    uint32_t in = 0, out = nl;
    bpf_kv meta[] = {{"producer", "bench_bpf_load"}, {"synthetic", "1"}};
    bpf_model_desc d = {.n_meta = 2, .meta = meta, .n_tensors = nl + 1, .tensors = tensors,
                        .n_nodes = nl, .nodes = nodes, .n_layers = nl, .layers = layers,
                        .n_inputs = 1, .n_outputs = 1, .inputs = &in, .outputs = &out};

    double t0 = bpft_bench_now();
    bpf_status st = bpf_write_file(&d, path);
    double t_write = bpft_bench_now() - t0;
    if (st) {
        fprintf(stderr, "write: %s\n", bpf_last_error());
        return 1;
    }
    bpf_model *m;
    static const uint32_t modes[4] = {0, BPF_LOAD_NO_CHECKSUM, BPF_LOAD_MMAP,
                                      BPF_LOAD_MMAP | BPF_LOAD_NO_CHECKSUM};
    double best[4] = {1e9, 1e9, 1e9, 1e9};
    for (int rep = 0; rep < 3; rep++)
        for (int k = 0; k < 4; k++) {
            t0 = bpft_bench_now();
            st = bpf_load_file(path, modes[k], &m);
            double t = bpft_bench_now() - t0;
            if (st) {
                fprintf(stderr, "load: %s\n", bpf_last_error());
                return 1;
            }
            bpf_model_free(m);
            if (t < best[k]) best[k] = t;
        }
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    double mb = (double)ftell(f) / 1e6;
    fclose(f);
    printf("bench_bpf_load: %u linear layers %ux%u, %.1f M weights, %.2f M digits, file %.1f MB\n",
           nl, c, c, (double)nl * c * c / 1e6, (double)digits / 1e6, mb);
    printf("  write (serialize + full validation + file): %.3f s\n", t_write);
    static const char *const names_k[4] = {"read, checksums on  ", "read, NO_CHECKSUM   ",
                                           "mmap, checksums on  ", "mmap, NO_CHECKSUM   "};
    for (int k = 0; k < 4; k++)
        printf("  load %s: %.3f s (%.0f MB/s, %.0f M digits/s)\n", names_k[k], best[k],
               mb / best[k], (double)digits / 1e6 / best[k]);
    unlink(path);
    for (uint32_t l = 0; l < nl; l++) bp_planes_buf_free(&pb[l]);
    free(pb); free(layers); free(nodes); free(tensors); free(ones); free(zeros); free(w); free(names);
    return 0;
}
