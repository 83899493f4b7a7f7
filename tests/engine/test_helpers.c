/* Shared helpers of the engine tests (see test_helpers.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_helpers.h"

static size_t bpt_elems(const bp_tensor_info *t, uint32_t batch)
{
    size_t e = batch;
    for (uint32_t d = 1; d < t->ndim; d++) e *= t->dims[d];
    return e;
}

size_t bpt_input_elems(const bp_model *m, uint32_t i, uint32_t batch)
{
    const bp_model_info *mi = NULL;
    if (bp_model_info_get(m, &mi) || i >= mi->n_inputs) return 0;
    return bpt_elems(&mi->inputs[i], batch);
}

size_t bpt_output_elems(const bp_model *m, uint32_t batch)
{
    const bp_model_info *mi = NULL;
    if (bp_model_info_get(m, &mi)) return 0;
    size_t e = 0;
    for (uint32_t i = 0; i < mi->n_outputs; i++) e += bpt_elems(&mi->outputs[i], batch);
    return e;
}

float *bpt_run(const bp_model *m, const char *backend, int threads, uint32_t batch,
               const float *const *inputs, size_t *n_out, bp_status *st)
{
    const bp_model_info *mi = NULL;
    *st = bp_model_info_get(m, &mi);
    if (*st) return NULL;
    size_t total = bpt_output_elems(m, batch);
    float *out = malloc(total * sizeof(float));
    float *outs[16];
    size_t off = 0;
    for (uint32_t i = 0; i < mi->n_outputs && i < 16; i++) {
        outs[i] = out + off;
        off += bpt_elems(&mi->outputs[i], batch);
    }
    bp_session_opts o;
    bp_session_opts_init(&o);
    o.backend = backend;
    o.threads = threads;
    o.batch = batch;
    bp_session *s = NULL;
    *st = bp_session_create(m, &o, &s);
    if (!*st) *st = bp_session_run(s, inputs, outs);
    if (*st) {
        printf("bpt_run(%s, threads %d, batch %u): %s: %s\n", backend, threads, batch,
               bp_status_string(*st), bp_last_error());
        free(out);
        out = NULL;
    }
    bp_session_free(s);
    if (n_out) *n_out = total;
    return out;
}

long bpt_first_diff(const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(float))) return (long)i;
    return -1;
}
