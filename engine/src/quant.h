/* The engine's canonical scalar arithmetic between float and integer domains
 * (formats/SPEC.md section 8.1 is its definition): the element functions of
 * kernels/bp_arith.h (quantize, epilogue, ReLU, GELU), shared with the
 * quantize/epilogue kernels, plus the per-layer output scale. Every backend
 * quantizes and dequantizes through these, so that backends that compute the
 * same int32 accumulators give bit-identical float outputs. Compiled with
 * -ffp-contract=off: no FMA may fuse the epilogue. */
#ifndef BP_QUANT_H
#define BP_QUANT_H

#include <stdint.h>

#include "bp_arith.h"

/* Per-channel output scale, computed once per layer: w_scale[j] * act_scale
 * rounded to float. */
static inline float bp_out_scale(float w_scale, float act_scale)
{
    return w_scale * act_scale;
}

#endif
