/* Shared helpers of the engine tests: run a model on a backend, compare. */
#ifndef BPT_TEST_HELPERS_H
#define BPT_TEST_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include "bitprune.h"

/* Outputs of one run, concatenated in output order (malloc'd, caller frees),
 * or NULL with the status in *st (message printed). */
float *bpt_run(const bp_model *m, const char *backend, int threads, uint32_t batch,
               const float *const *inputs, size_t *n_out, bp_status *st);
/* Total floats of input i / all outputs for a batch. */
size_t bpt_input_elems(const bp_model *m, uint32_t i, uint32_t batch);
size_t bpt_output_elems(const bp_model *m, uint32_t batch);
/* Index of the first differing float (bitwise), or -1 if identical. */
long bpt_first_diff(const float *a, const float *b, size_t n);

#endif
