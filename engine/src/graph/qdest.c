/* Quantized activations written straight into the input layout of the
 * layer that reads them (bp_qdest, backend.h): rows of float values or of
 * int32 accumulators go through the kernel table's quantize / epilogue
 * kernels, split where the reader's rows are padded. */
#include "engine.h"

/* Calls put(dst, done, seg) for the runs of pixels [p, p+n) of image img,
 * channel row c0, that are contiguous in q (rows of W pixels; one run when
 * the reader's rows are not padded). */
#define BP_QDEST_RUNS(q, img, c0, p, n, W, BODY)                                      \
    do {                                                                              \
        uint8_t *bp_q0_ = (q)->base + (size_t)(img) * (q)->nstride +                 \
                          (size_t)(c0) * (q)->cstride + (q)->off;                    \
        for (size_t done = 0, seg; done < (n); done += seg) {                         \
            size_t pp_ = (p) + done, oy_ = pp_ / (W), ox_ = pp_ % (W);                \
            seg = (q)->ldrow == (W) ? (n) - done                                      \
                  : ((W) - ox_ < (n) - done ? (W) - ox_ : (n) - done);                \
            uint8_t *dst = bp_q0_ + oy_ * (q)->ldrow + ox_;                           \
            BODY                                                                      \
        }                                                                             \
    } while (0)

void bp_qdest_put_f32(const bp_kernel_table *kt, const bp_qdest *q, uint32_t img, uint32_t c0,
                      uint32_t nrows, size_t p, size_t n, size_t W, const float *src,
                      size_t lds)
{
    BP_QDEST_RUNS(q, img, c0, p, n, W, {
        for (uint32_t r = 0; r < nrows; r++) {
            const float *s = src + r * lds + done;
            uint8_t *d = dst + r * q->cstride;
            if (q->type == BP_ACT_S8) kt->quantize_s8(s, (int8_t *)d, seg, q->inv);
            else kt->quantize_u8(s, d, seg, q->inv);
        }
    });
}

void bp_qdest_put_epi(const bp_kernel_table *kt, const bp_qdest *q, uint32_t img, uint32_t c0,
                      uint32_t nrows, size_t p, size_t n, size_t W, const bp_epi_rows *e)
{
    BP_QDEST_RUNS(q, img, c0, p, n, W, {
        bp_epi_rows es = *e;
        es.acc += done;
        if (es.res) es.res += done;
        es.inv = q->inv;
        if (q->type == BP_ACT_S8) kt->epilogue_s8(&es, nrows, seg, (int8_t *)dst, q->cstride);
        else kt->epilogue_u8(&es, nrows, seg, dst, q->cstride);
    });
}
