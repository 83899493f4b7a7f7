/* RESIZE (nearest and bilinear, the ONNX coordinate transforms) on NCHW
 * planes, as formats/SPEC.md 7.2 defines it: source coordinates in f64,
 * interpolation in f32, each output from its own inputs only. */
#include <math.h>

#include "engine.h"

/* Source coordinate of output index o (SPEC.md 7.2, RESIZE). */
static inline double bp_rs_coord(int ct, uint32_t o, uint32_t in, uint32_t out, double s)
{
    switch (ct) {
    case BPF_RESIZE_HALF_PIXEL: return ((double)o + 0.5) / s - 0.5;
    case BPF_RESIZE_PYTORCH_HALF_PIXEL: return out > 1 ? ((double)o + 0.5) / s - 0.5 : 0.0;
    case BPF_RESIZE_ALIGN_CORNERS:
        return out > 1 ? ((double)o * (double)(in - 1)) / (double)(out - 1) : 0.0;
    default: return (double)o / s;
    }
}

static inline uint32_t bp_rs_nearest(int rnd, double u, uint32_t in)
{
    double v = rnd == BPF_RESIZE_ROUND_PREFER_FLOOR  ? ceil(u - 0.5)
               : rnd == BPF_RESIZE_ROUND_PREFER_CEIL ? floor(u + 0.5)
               : rnd == BPF_RESIZE_CEIL              ? ceil(u)
                                                     : floor(u);
    v = v < 0.0 ? 0.0 : v;
    v = v > (double)(in - 1) ? (double)(in - 1) : v;
    return (uint32_t)v;
}

/* Bilinear taps: i0, i1 and the f32 weight of i1. */
static inline void bp_rs_linear(double u, uint32_t in, uint32_t *i0, uint32_t *i1, float *l)
{
    u = u < 0.0 ? 0.0 : u;
    u = u > (double)(in - 1) ? (double)(in - 1) : u;
    double f = floor(u);
    *i0 = (uint32_t)f;
    *i1 = *i0 + 1 < in ? *i0 + 1 : in - 1;
    *l = (float)(u - f);
}

void bp_op_resize(const float *x, float *y, size_t NC, uint32_t H, uint32_t W, uint32_t OH,
                  uint32_t OW, const int32_t *ints, const float *floats, int threads)
{
    const int linear = ints[0] == BPF_RESIZE_LINEAR, ct = ints[1], rnd = ints[2];
    const double sh = (double)floats[0], sw = (double)floats[1];
    size_t rows = NC * OH;
    BP_PAR_FOR(rows * OW >= 16384, threads, r, rows, {
        size_t plane = r / OH;
        uint32_t oy = (uint32_t)(r % OH);
        const float *xp = x + plane * (size_t)H * W;
        float *yr = y + r * (size_t)OW;
        double uy = bp_rs_coord(ct, oy, H, OH, sh);
        if (!linear) {
            const float *xr = xp + (size_t)bp_rs_nearest(rnd, uy, H) * W;
            for (uint32_t ox = 0; ox < OW; ox++)
                yr[ox] = xr[bp_rs_nearest(rnd, bp_rs_coord(ct, ox, W, OW, sw), W)];
        } else {
            uint32_t y0, y1;
            float ly;
            bp_rs_linear(uy, H, &y0, &y1, &ly);
            const float *r0 = xp + (size_t)y0 * W, *r1 = xp + (size_t)y1 * W;
            float my = 1.0f - ly;
            for (uint32_t ox = 0; ox < OW; ox++) {
                uint32_t x0, x1;
                float lx;
                bp_rs_linear(bp_rs_coord(ct, ox, W, OW, sw), W, &x0, &x1, &lx);
                float mx = 1.0f - lx;
                float top = r0[x0] * mx + r0[x1] * lx;
                float bot = r1[x0] * mx + r1[x1] * lx;
                yr[ox] = top * my + bot * ly;
            }
        }
    });
}
