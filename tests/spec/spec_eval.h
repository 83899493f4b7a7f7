/* A second implementation of what a .bp model computes, written from
 * formats/SPEC.md (sections 7.1-7.3 and 8.1-8.2) alone: it reads the model through
 * the formats reader and runs every node with plain loops in the order the
 * spec states. It shares no code with the engine; tests compare the two. */
#ifndef BPS_SPEC_EVAL_H
#define BPS_SPEC_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "bpf.h"

/* Runs model m on a batch of N images. inputs[i] holds graph input i for
 * the N images (row-major, N x the file's per-image shape). On success
 * outputs[i] is a malloc'd array of out_elems[i] floats (graph output i for
 * the N images; the caller frees) and 0 is returned; on failure -1, with a
 * message in err and no outputs left allocated. */
int bps_run(const bpf_model *m, uint32_t N, const float *const *inputs, float **outputs,
            size_t *out_elems, char *err, size_t errlen);

/* The spec's scalar functions, for direct tests. */
float bps_exp(double t);
float bps_gelu(float x);
/* Quantizes x with the reciprocal inv = 1.0f / act_scale (u8 or s8). */
int32_t bps_quantize(float x, float inv, int s8);

#endif
