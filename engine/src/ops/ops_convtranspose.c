/* CONVTRANSPOSE in f32 (every backend runs this same code): each output
 * sums its terms in the order formats/SPEC.md 7.2 states, (ci, ky, kx)
 * ascending, then adds the bias. The loops scatter input rows into the
 * output plane with ci, ky, kx outermost, which visits each output's terms
 * in exactly that order. */
#include <string.h>

#include "engine.h"

void bp_op_convtranspose(const float *x, const float *w, const float *bias, float *y,
                         size_t N, uint32_t C, uint32_t H, uint32_t W, uint32_t CO,
                         uint32_t kh, uint32_t kw, uint32_t OH, uint32_t OW,
                         const int32_t *ints, int threads)
{
    const int sh = ints[0], sw = ints[1], pt = ints[2], pl = ints[3];
    size_t planes = N * CO;
    BP_PAR_FOR(planes * OH * OW * C >= 16384, threads, p, planes, {
        size_t n = p / CO;
        uint32_t co = (uint32_t)(p % CO);
        float *yp = y + p * (size_t)OH * OW;
        for (size_t i = 0; i < (size_t)OH * OW; i++) yp[i] = 0.0f;
        for (uint32_t ci = 0; ci < C; ci++) {
            const float *xp = x + (n * C + ci) * (size_t)H * W;
            const float *wk = w + ((size_t)ci * CO + co) * kh * kw;
            for (uint32_t ky = 0; ky < kh; ky++)
                for (uint32_t kx = 0; kx < kw; kx++) {
                    float wv = wk[(size_t)ky * kw + kx];
                    for (uint32_t iy = 0; iy < H; iy++) {
                        long oy = (long)iy * sh - pt + (long)ky;
                        if (oy < 0 || oy >= (long)OH) continue;
                        float *yr = yp + (size_t)oy * OW;
                        const float *xr = xp + (size_t)iy * W;
                        for (uint32_t ix = 0; ix < W; ix++) {
                            long ox = (long)ix * sw - pl + (long)kx;
                            if (ox < 0 || ox >= (long)OW) continue;
                            yr[ox] = yr[ox] + xr[ix] * wv;
                        }
                    }
                }
        }
        if (bias) {
            float b = bias[co];
            for (size_t i = 0; i < (size_t)OH * OW; i++) yp[i] = yp[i] + b;
        }
    });
}
