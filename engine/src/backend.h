/* The conv/linear backend interface. A backend turns one layer of the graph
 * into something that maps a float activation to a float activation, in the
 * activation layout the backend asks for (bp_backend.layout); the graph, the
 * float ops between layers and memory planning are shared by all. */
#ifndef BP_BACKEND_H
#define BP_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "bitprune.h"
#include "bp_kernels.h"
#include "bpf.h"

/* Everything a backend needs to build one conv/linear layer for a session.
 * All pointers stay valid for the life of the session. */
/* Activation layouts of a session: how 4-D (N, C, H, W) activations are
 * stored between steps. 2-D (N, C) tensors, and 4-D ones with H*W == 1 or
 * C == 1, are the same bytes in both. */
enum {
    BP_LAYOUT_NCHW = 0, /* channel-major planes: [N][C][H][W] */
    BP_LAYOUT_NHWC = 1, /* channels-last: [N][H][W][C] */
};

/* A session's worker team (engine/src/graph/team.c). */
typedef struct bp_team bp_team;

typedef struct bp_layer_desc {
    const char *name;        /* node name */
    const bpf_layer *L;      /* geometry, scales, planes, act quantization */
    uint32_t N;              /* batch */
    uint32_t H, W;           /* input spatial size (1,1 for linear) */
    uint32_t OH, OW;         /* output spatial size (1,1 for linear) */
    /* Derived forms are built only for the backends that read them
     * (bp_backend_needs): w_dense for reference/oneDNN/float, the planes'
     * aux for bitplane, csr for csr; the others may be NULL / without aux. */
    const int16_t *w_dense;  /* c_out x K row-major, rebuilt exactly from planes */
    const bp_planes *planes;
    const bp_csr *csr;       /* with aux built */
    /* Per-channel scales with folded LAYERSCALE/BATCHNORM nodes applied
     * (formats/SPEC.md 8.2): out_scale and bias for the integer epilogue,
     * w_scale for the float backends (NULL: the layer's own, L->w_scale). */
    const float *out_scale;  /* [c_out], bp_out_scale(w_scale[j], act_scale) */
    const float *bias;       /* [c_out] */
    const float *w_scale;    /* [c_out] or NULL */
    float act_inv_scale;     /* 1.0f / act_scale, for bp_quant_* */
    int fuse_residual;       /* y = epilogue + residual[same index] */
    bp_epi_act act;          /* then y = act(y); BP_EPI_GELU only on backends
                              * with layer_qinput */
    int layout;              /* BP_LAYOUT_*: of x, residual and y in layer_run
                              * (conv only; 0 = NCHW when a caller zeroes the desc) */
    bp_team *team;           /* the session's worker team, of env->threads threads
                              * (the integer backends run their work on it), or
                              * NULL: everything on the calling thread */
} bp_layer_desc;

typedef struct bp_backend_env {
    int threads;
    unsigned isa_mask;
    const bp_kernel_table *kt;
} bp_backend_env;

/* Quantized activations between steps: where a layer reads its input bytes
 * (quantized at its own act scale), so the step producing that input can
 * write them directly. Input element (n, c, y, x) of an (N, C, H, W) input
 * (linear: H = W = 1) is the byte at
 *   base + n*nstride + c*cstride + off + y*ldrow + x*xstride
 * (u8, or s8 reinterpreted; xstride 0 means 1: planar rows, the only kind
 * LayerNorm and the integer backends write; channels-last readers have
 * cstride 1 and xstride >= C). Bytes not addressed so (zero borders of
 * padded planes) are the reader's and never written. */
#define BP_QDEST_MAX 4
typedef struct bp_qdest {
    uint8_t *base;
    size_t nstride, cstride, ldrow, off, xstride;
    bp_act_type type;
    float inv;               /* 1.0f / the reader's act_scale */
} bp_qdest;

typedef struct bp_backend {
    const char *name;
    /* Builds per-layer state: reorders weights, allocates every buffer that
     * layer_run will need (layer_run must not allocate). */
    bp_status (*layer_create)(const bp_layer_desc *d, const bp_backend_env *env,
                              void **state);
    /* Layout contract: x, residual and y are float activations in the layout
     * d->layout of the desc the state was built from (the session passes its
     * backend's `layout`): conv x is [N, c_in, H, W] (NCHW) or [N, H, W, c_in]
     * (NHWC), residual and y likewise with (c_out, OH, OW); linear x is
     * [N, c_in] and y / residual [N, c_out] in either layout (the session
     * hands a linear layer its input in NCHW element order). residual is
     * non-NULL iff d->fuse_residual and may alias y; x never aliases y. */
    bp_status (*layer_run)(void *state, const float *x, const float *residual, float *y);
    void (*layer_destroy)(void *state);
    /* The kernel or oneDNN implementation this layer runs. */
    const char *(*layer_kernel)(const void *state);
    /* 1 if the layer's output is expected bit-identical to "reference";
     * otherwise *why says why (static string). */
    int (*layer_exact)(const void *state, const char **why);
    /* BP_LAYOUT_*: the layout the session keeps 4-D activations in between
     * steps (inputs converted from the user's NCHW once per run, outputs
     * back once). NCHW for reference/bitplane/csr (channel-major K x P rows
     * for their kernels), NHWC for oneDNN (its int8 kernels' layout). */
    int layout;
    /* Quantized activation paths, NULL where the backend has none. A layer
     * whose layer_qinput returns 0 (filling *q) can be run with x = NULL:
     * its input bytes were written at *q by the step before. layer_set_qout
     * (once, before any run) makes a layer also write its output quantized
     * to q[0..n) (n <= BP_QDEST_MAX); layer_run's y may then be NULL (no
     * float output). Backends with these run every bp_epi_act. */
    int (*layer_qinput)(void *state, bp_qdest *q);
    void (*layer_set_qout)(void *state, const bp_qdest *q, uint32_t n);
} bp_backend;

/* Backends: engine/src/backends/{int,float,onednn}/ */
extern const bp_backend bp_backend_reference;
extern const bp_backend bp_backend_bitplane;
extern const bp_backend bp_backend_csr;
extern const bp_backend bp_backend_onednn_int8;
extern const bp_backend bp_backend_onednn_f32;

#endif
