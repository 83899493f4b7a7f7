/* ref oracle: dense integer matrix product y = W x, int64 accumulation. */
#include "bp_kernels.h"

#define BPK_REF_DENSE(at, xt)                                                     \
void bp_ref_dense_##at(const int16_t *w, size_t ldw, uint32_t rows, uint32_t K,   \
                       const xt *x, size_t ldx, size_t np, int32_t *y, size_t ldy) \
{                                                                                 \
    for (uint32_t j = 0; j < rows; j++) {                                         \
        for (size_t p = 0; p < np; p++) {                                         \
            int64_t acc = 0;                                                      \
            for (uint32_t k = 0; k < K; k++)                                      \
                acc += (int64_t)w[j * ldw + k] * (int64_t)x[k * ldx + p];         \
            y[j * ldy + p] = (int32_t)acc;                                        \
        }                                                                         \
    }                                                                             \
}

BPK_REF_DENSE(u8, uint8_t)
BPK_REF_DENSE(s8, int8_t)
