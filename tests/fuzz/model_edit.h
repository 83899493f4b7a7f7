/* An editable deep copy of a .bp model: every record field can be changed
 * freely, arrays are owned and grown so the format writer never reads past
 * them, planes can be re-encoded from dense weights, and shapes can be
 * re-derived through the graph after a change. Written back with the
 * format's own writer (which seals the checksums). */
#ifndef ME_MODEL_EDIT_H
#define ME_MODEL_EDIT_H

#include <stddef.h>
#include <stdint.h>

#include "bpf.h"
#include "fuzz_harness.h"

#define ME_MAX_IO 8 /* room for graph input/output counts beyond the limit of 4 */

typedef struct me_layer_store {
    size_t ws_cap, bias_cap; /* floats */
    size_t rp_cap;           /* u32 */
    size_t ci_cap;           /* bytes */
    int16_t *dense;          /* weights as last encoded (dense_rows x dense_K) */
    uint32_t dense_rows, dense_K;
} me_layer_store;

typedef struct me_model {
    bpf_kv *meta;
    uint32_t n_meta, cap_meta;
    bpf_tensor *tensors;
    size_t *tcap; /* bytes of each tensor's data buffer */
    uint32_t n_tensors, cap_tensors;
    bpf_node *nodes;
    uint32_t n_nodes, cap_nodes;
    bpf_layer *layers;
    me_layer_store *ls;
    uint32_t n_layers, cap_layers;
    uint32_t inputs[ME_MAX_IO], outputs[ME_MAX_IO];
    uint32_t n_inputs, n_outputs;
    void **owned;
    size_t n_owned, cap_owned;
    int failed; /* an allocation failed */
} me_model;

/* Deep copy of a loaded model / of a serialized one (NULL if it does not
 * load or memory runs out). */
me_model *me_from_bpf(const bpf_model *m);
me_model *me_from_buffer(const void *buf, size_t size);
void me_free(me_model *e);

/* Zeroed memory / string copy owned by e (freed with it). */
void *me_alloc(me_model *e, size_t bytes);
char *me_strdup(me_model *e, const char *s);

/* Grows every array the writer will read (tensor data, w_scale, bias,
 * row_ptr, col_idx) to what the current fields say, filling new room from
 * rng (NULL: zeros). Returns -1 when that would exceed max_bytes in one
 * array (the caller then skips this model). */
int me_fit(me_model *e, size_t max_bytes, fz_rng *rng);
/* The writer's view. */
void me_desc(const me_model *e, bpf_model_desc *d);
/* me_fit + bpf_write_memory_unchecked (no validation): the file the
 * fields describe, with correct checksums. */
bpf_status me_write(me_model *e, size_t max_bytes, fz_rng *rng, void **buf, size_t *size);

/* Encodes dense rows x K weights (|w| <= 255) into layer l's planes with
 * encoding enc and M positions (0: the fewest that fit); sets c_out, K, M,
 * encoding, w_max (= max |w|), idx_bytes, n_digits and sizes w_scale/bias
 * (new entries from rng). Returns 0, or -1 if M is too small or no memory. */
int me_encode_layer(me_model *e, uint32_t l, const int16_t *w, uint32_t rows, uint32_t K,
                    uint32_t enc, uint32_t M, fz_rng *rng);

/* Re-derives shapes in node order after an edit (SPEC.md §7): a conv or
 * linear layer takes its input's channel count (new weights when K or
 * c_out changes), per-channel parameters are resized, and every output
 * tensor gets the shape its inputs give. Nodes whose inputs cannot work
 * are left alone (the validator then rejects the model). */
void me_repair(me_model *e, fz_rng *rng);

/* Appends a record; returns its index (UINT32_MAX when out of memory). */
uint32_t me_add_tensor(me_model *e, const bpf_tensor *t);
uint32_t me_add_node(me_model *e, const bpf_node *n);
uint32_t me_add_layer(me_model *e, const bpf_layer *L);
/* Removes record i (ids above it are NOT renumbered: edits that break). */
void me_remove_tensor(me_model *e, uint32_t i);
void me_remove_node(me_model *e, uint32_t i);
void me_remove_layer(me_model *e, uint32_t i);
uint32_t me_add_meta(me_model *e, const char *key, const char *value);

/* Sets tensor t's constant data to `bytes` bytes (copied from src, or from
 * rng when src is NULL, or zeros when both are NULL). */
int me_set_data(me_model *e, uint32_t t, const void *src, size_t bytes, fz_rng *rng);

/* Prints the graph of a valid serialized model (tensors with shapes,
 * nodes with their attributes and layer geometry) for failure reports. */
void me_dump(const void *buf, size_t size);

/* Random weights for a layer, c_out x K: one of several digit patterns
 * (all zero, sparse, dense, extremes, powers of two, zero rows). */
void me_random_weights(fz_rng *r, int16_t *w, uint32_t rows, uint32_t K);

#endif
