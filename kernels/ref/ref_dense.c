/* ref oracle: dense integer matrix product y = W x, int64 accumulation. */
#include "bp_kernels.h"

void bp_ref_dense_u8(const int16_t *w, size_t ldw, uint32_t rows, uint32_t K,
                     const uint8_t *x, size_t ldx, size_t np, int32_t *y, size_t ldy)
{
    for (uint32_t j = 0; j < rows; j++) {
        for (size_t p = 0; p < np; p++) {
            int64_t acc = 0;
            for (uint32_t k = 0; k < K; k++)
                acc += (int64_t)w[j * ldw + k] * (int64_t)x[k * ldx + p];
            y[j * ldy + p] = (int32_t)acc;
        }
    }
}

void bp_ref_dense_s8(const int16_t *w, size_t ldw, uint32_t rows, uint32_t K,
                     const int8_t *x, size_t ldx, size_t np, int32_t *y, size_t ldy)
{
    for (uint32_t j = 0; j < rows; j++) {
        for (size_t p = 0; p < np; p++) {
            int64_t acc = 0;
            for (uint32_t k = 0; k < K; k++)
                acc += (int64_t)w[j * ldw + k] * (int64_t)x[k * ldx + p];
            y[j * ldy + p] = (int32_t)acc;
        }
    }
}
