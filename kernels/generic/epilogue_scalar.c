/* Scalar quantize, GELU and epilogue kernels: bp_arith.h element by element.
 * They are the oracle the SIMD versions are tested against, and the kernels
 * used where no SIMD version exists. */
#include "bp_arith.h"
#include "kernel_list.h"

void bp_quantize_u8_scalar(const float *x, uint8_t *q, size_t n, float inv)
{
    for (size_t i = 0; i < n; i++) q[i] = bp_quant_u8(x[i], inv);
}

void bp_quantize_s8_scalar(const float *x, int8_t *q, size_t n, float inv)
{
    for (size_t i = 0; i < n; i++) q[i] = bp_quant_s8(x[i], inv);
}

void bp_gelu_f32_scalar(const float *x, float *y, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = bp_gelu(x[i]);
}

/* Element i of row r of an epilogue, before any quantization. */
static inline float bpk_epi_one(const bp_epi_rows *e, size_t r, size_t i)
{
    float t = bp_epilogue(e->acc[r * e->lda + i], e->scale[r], e->bias[r]);
    if (e->res) t = t + e->res[r * e->ldr + i];
    switch (e->act) {
    case BP_EPI_RELU: return bp_relu(t);
    case BP_EPI_GELU: return bp_gelu(t);
    default: return t;
    }
}

void bp_epilogue_f32_scalar(const bp_epi_rows *e, size_t nrows, size_t n, float *y,
                            size_t ldy)
{
    for (size_t r = 0; r < nrows; r++)
        for (size_t i = 0; i < n; i++) y[r * ldy + i] = bpk_epi_one(e, r, i);
}

void bp_epilogue_u8_scalar(const bp_epi_rows *e, size_t nrows, size_t n, uint8_t *q,
                           size_t ldq)
{
    for (size_t r = 0; r < nrows; r++)
        for (size_t i = 0; i < n; i++) q[r * ldq + i] = bp_quant_u8(bpk_epi_one(e, r, i), e->inv);
}

void bp_epilogue_s8_scalar(const bp_epi_rows *e, size_t nrows, size_t n, int8_t *q,
                           size_t ldq)
{
    for (size_t r = 0; r < nrows; r++)
        for (size_t i = 0; i < n; i++) q[r * ldq + i] = bp_quant_s8(bpk_epi_one(e, r, i), e->inv);
}
