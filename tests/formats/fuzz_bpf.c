/* Fuzz target for the .bp reader/validator (libFuzzer entry point; also
 * driven by fuzz_driver.c with gcc). Properties checked on every input:
 * no crash or sanitizer report; a rejection always carries a message; a
 * model that loads can be walked completely, re-written, and re-loaded. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "bpf_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void bpf_fuzz_fail(const char *what)
{
    fprintf(stderr, "fuzz_bpf: property violated: %s (%s)\n", what, bpf_last_error());
    abort();
}

/* Reads every byte the model exposes, so sanitizers see any bad pointer. */
static uint64_t bpf_fuzz_walk(const bpf_model *m)
{
    uint64_t h = 0;
    for (uint32_t i = 0; i < m->n_meta; i++) h += strlen(m->meta[i].key) + strlen(m->meta[i].value);
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        const bpf_tensor *t = &m->tensors[i];
        h += strlen(t->name);
        for (uint64_t b = 0; t->data && b < t->nbytes; b++) h += ((const uint8_t *)t->data)[b];
    }
    for (uint32_t i = 0; i < m->n_nodes; i++) h += strlen(m->nodes[i].name) + m->nodes[i].in[0];
    for (uint32_t i = 0; i < m->n_layers; i++) {
        const bpf_layer *L = &m->layers[i];
        uint64_t n_rp = (uint64_t)L->c_out * L->M * 2 + 1;
        for (uint64_t e = 0; e < n_rp; e++) h += L->row_ptr[e];
        for (uint64_t d = 0; d < L->n_digits; d++)
            h += L->idx_bytes == 2 ? ((const uint16_t *)L->col_idx)[d]
                                   : ((const uint32_t *)L->col_idx)[d];
        for (uint32_t j = 0; j < L->c_out; j++) h += (uint64_t)(L->w_scale[j] + L->bias[j]);
    }
    for (uint32_t i = 0; i < m->n_inputs; i++) h += m->inputs[i];
    for (uint32_t i = 0; i < m->n_outputs; i++) h += m->outputs[i];
    h += bpf_meta_get(m, "arch") != NULL;
    return h;
}

static void bpf_fuzz_one(const void *buf, size_t size, uint32_t flags)
{
    bpf_model *m = NULL;
    bpf_status st = bpf_load_memory(buf, size, flags, &m);
    if (st != BPF_OK) {
        if (m) bpf_fuzz_fail("model set on failure");
        if (!bpf_last_error()[0]) bpf_fuzz_fail("rejection without a message");
        return;
    }
    volatile uint64_t sink = bpf_fuzz_walk(m);
    (void)sink;
    bpf_model_desc d;
    bpf_model_as_desc(m, &d);
    void *out = NULL;
    size_t out_size = 0;
    if (bpf_write_memory(&d, &out, &out_size) != BPF_OK) bpf_fuzz_fail("accepted model does not re-write");
    bpf_model *m2 = NULL;
    if (bpf_load_memory(out, out_size, 0, &m2) != BPF_OK) bpf_fuzz_fail("re-written model does not load");
    if (m2->n_tensors != m->n_tensors || m2->n_nodes != m->n_nodes || m2->n_layers != m->n_layers ||
        m2->n_meta != m->n_meta)
        bpf_fuzz_fail("re-written model differs in counts");
    for (uint32_t l = 0; l < m->n_layers; l++) {
        const bpf_layer *a = &m->layers[l], *b = &m2->layers[l];
        if (a->n_digits != b->n_digits || a->M != b->M || a->c_out != b->c_out ||
            memcmp(a->row_ptr, b->row_ptr, 4 * ((size_t)a->c_out * a->M * 2 + 1)) ||
            memcmp(a->col_idx, b->col_idx, (size_t)a->n_digits * a->idx_bytes))
            bpf_fuzz_fail("re-written planes differ");
    }
    for (uint32_t t = 0; t < m->n_tensors; t++) {
        const bpf_tensor *a = &m->tensors[t], *b = &m2->tensors[t];
        if (a->nbytes != b->nbytes || strcmp(a->name, b->name) ||
            (a->data && memcmp(a->data, b->data, (size_t)a->nbytes)))
            bpf_fuzz_fail("re-written tensor differs");
    }
    bpf_model_free(m2);
    free(out);
    bpf_model_free(m);
}

/* Recomputes the section hashes that lie in the buffer and the table hash,
 * so coverage-guided fuzzing reaches the validator behind the checksums. */
static void bpf_fuzz_refix(uint8_t *b, size_t size)
{
    const size_t table_end = BPF_HEADER_SIZE + BPF_N_SECTIONS * BPF_SECTION_ENTRY_SIZE;
    if (size < table_end || bpf_rd32(b + BPF_H_N_SECTIONS) != BPF_N_SECTIONS) return;
    for (uint32_t i = 0; i < BPF_N_SECTIONS; i++) {
        uint8_t *e = b + BPF_HEADER_SIZE + i * BPF_SECTION_ENTRY_SIZE;
        uint64_t off = bpf_rd64(e + BPF_S_OFFSET), sz = bpf_rd64(e + BPF_S_SIZE);
        if (off <= size && sz <= size - off) bpf_wr64(e + BPF_S_HASH, XXH3_64bits(b + off, (size_t)sz));
    }
    bpf_wr64(b + BPF_H_TABLE_HASH, bpf_table_hash(b, BPF_N_SECTIONS));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size aligned copy is used in place (over-reads are caught);
     * the raw pointer (any alignment) takes the copying path. */
    void *buf = NULL;
    if (posix_memalign(&buf, 64, size ? size : 1) != 0) return 0;
    if (size) memcpy(buf, data, size);
    bpf_fuzz_one(buf, size, 0);
    bpf_fuzz_one(buf, size, BPF_LOAD_NO_CHECKSUM);
    bpf_fuzz_refix(buf, size);
    bpf_fuzz_one(buf, size, 0);
    free(buf);
    bpf_fuzz_one(data, size, BPF_LOAD_NO_CHECKSUM);
    return 0;
}
