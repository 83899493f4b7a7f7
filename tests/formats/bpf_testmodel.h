/* Test helpers for the .bp format: a small valid model touching every op,
 * a dense -> planes encoder written independently of the validator, and
 * byte-level patching with checksum re-fixing. */
#ifndef BPF_TESTMODEL_H
#define BPF_TESTMODEL_H

#include <stddef.h>
#include <stdint.h>

#include "bpf.h"

#define BPFT_N_TENSORS 26
#define BPFT_N_NODES 17
#define BPFT_N_LAYERS 4
#define BPFT_N_META 6
#define BPFT_MAX_ROWS 8
#define BPFT_MAX_K 64

typedef struct bpft_layer_store {
    int16_t w[BPFT_MAX_ROWS * BPFT_MAX_K]; /* dense, rows x K */
    float w_scale[BPFT_MAX_ROWS], bias[BPFT_MAX_ROWS];
    uint32_t row_ptr[BPFT_MAX_ROWS * 9 * 2 + 1];
    uint16_t col_idx[BPFT_MAX_ROWS * BPFT_MAX_K * 9];
} bpft_layer_store;

typedef struct bpft_model {
    bpf_model_desc d;
    bpf_kv meta[BPFT_N_META];
    bpf_tensor tensors[BPFT_N_TENSORS];
    bpf_node nodes[BPFT_N_NODES];
    bpf_layer layers[BPFT_N_LAYERS];
    bpft_layer_store ls[BPFT_N_LAYERS];
    uint32_t inputs[1], outputs[1];
    float params[8][4]; /* per-channel constants */
} bpft_model;

/* Digits of w (|w| <= 255) in binary or NAF; returns the count of nonzeros. */
int bpft_digits(int32_t w, uint32_t enc, int8_t d[9]);
/* Planes of a dense rows x K matrix; returns n_digits. */
uint32_t bpft_planes(const int16_t *w, uint32_t rows, uint32_t K, uint32_t M, uint32_t enc,
                     uint32_t *row_ptr, uint16_t *col_idx);

/* Fills m with the reference model; weights from a seeded generator. */
void bpft_build(bpft_model *m, uint32_t seed);
/* Writes m with the checked writer; asserts success. Free with free(). */
void *bpft_write(const bpft_model *m, size_t *size);

/* Byte access to a serialized file (offsets per SPEC.md). */
uint64_t bpft_section_off(const uint8_t *b, uint32_t kind);
uint64_t bpft_section_size(const uint8_t *b, uint32_t kind);
uint8_t *bpft_record(uint8_t *b, uint32_t kind, uint32_t rec_size, uint32_t i);
/* Recomputes every section hash whose range lies in the file, then the
 * header/table hash. */
void bpft_refix(uint8_t *b, size_t size);

uint32_t bpft_rng(uint32_t *s);

/* A chain x -> fc0 -> ... -> fc{n-1} of width x width linear layers (u8
 * input, M = 1) whose weight is the identity: one +1 digit per row, so
 * y[j] = quant(x[j]) * w_scale[j] * act_scale + bias[j]. All layers use the
 * same four arrays; the checked writer stores a copy per layer. Returns the
 * file (free()); n_layers <= 64, width <= BPF_K_MAX. */
void *bpft_write_identity_chain(uint32_t n_layers, uint32_t width, size_t *size);
/* Points every layer's arrays at layer 0's, drops the other copies from the
 * end of DATA (the last section) and re-fixes the checksums: a file whose
 * layers share their arrays, each layer still fully valid. */
void bpft_share_layer_arrays(uint8_t *b, size_t *size);

#endif
