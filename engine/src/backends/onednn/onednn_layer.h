/* Internal to the oneDNN backends (backend_onednn.c, onednn_qpath.c): the
 * per-layer state and the helpers both files use. */
#ifndef BP_ONEDNN_LAYER_H
#define BP_ONEDNN_LAYER_H

#include <omp.h>
#include <stddef.h>
#include <stdint.h>

#include <oneapi/dnnl/dnnl.h>

#include "backend.h"

enum {
    BP_RES_NONE = 0,
    BP_RES_BINARY_NCHW, /* binary add, src1 = the caller's residual as is (in the
                         * engine's layout, NCHW or NHWC: s->nhwc) */
    BP_RES_SUM,         /* sum post-op over dst preloaded with the residual */
    BP_RES_BINARY_DST,  /* binary add, src1 = residual copied into dst's layout */
};

/* An activation layout: per logical dimension (n, c, h, w) element offsets
 * (a blocked layout's offset is a sum of one term per dimension), and
 * cl_ws != 0 when channels are contiguous (offset c) and pixels of a row are
 * cl_ws apart (nhwc-like): the fast tiled path. */
typedef struct bp_dnnl_lay {
    size_t *off[4];
    size_t cl_ws;
    uint32_t h0, w0; /* logical (h, w) sits at (h + h0, w + w0): explicit padding */
} bp_dnnl_lay;

/* A reorder primitive from/to a caller NCHW buffer (handle set per run). */
typedef struct bp_dnnl_reorder {
    dnnl_primitive_t prim;
    dnnl_memory_t user;    /* the engine's side (plain NCHW/NHWC), no buffer of its own */
    dnnl_memory_t scratch;
    dnnl_exec_arg_t args[3];
    int nargs;
} bp_dnnl_reorder;

typedef struct bp_dnnl_layer {
    const char *name;   /* node name (lives as long as the session) */
    int int8;           /* 1: onednn-int8, 0: onednn-f32 */
    int s8_src;         /* int8 with s8 activations */
    int shift_s8;       /* s8 source run as u8 = s8 + 128 on a pre-padded input (below) */
    int pad_src;        /* conv source padded explicitly (shift_s8 or bp_dnnl_pad_risky) */
    int threads;
    int fuse_residual;
    uint32_t N, C, H, W, Co, OH, OW;
    float inv_scale;
    dnnl_engine_t eng;
    dnnl_stream_t strm;
    dnnl_primitive_t prim;
    dnnl_memory_t src, wei, dst, bias, scratch, res;
    dnnl_memory_t comp; /* shift_s8: oneDNN bias = -128 * sum_k w[j][k] */
    int res_mode;       /* BP_RES_*: how the fused residual reaches oneDNN */
    float *res_copy;    /* y == residual: BP_RES_BINARY_NCHW with dst_direct, or epi_after */
    void *src_buf;      /* u8/s8/f32 in the layout the primitive chose */
    size_t src_bytes, dst_bytes;
    int nhwc;           /* conv with engine activations channels-last (d->layout) */
    int src_direct;     /* f32 src layout is the engine's: hand x to oneDNN */
    int dst_direct;     /* dst layout is the engine's: oneDNN writes y */
    bp_dnnl_lay src_lay, dst_lay;
    dnnl_exec_arg_t args[8];
    int nargs;
    /* oneDNN reorders between the engine's f32 NCHW and the primitive's f32
     * layouts (prim NULL when not needed) */
    bp_dnnl_reorder in_ro, out_ro, res_ro; /* in_ro: f32 source only */
    uint64_t n_clamped; /* weights clamped to [-128, 127] (int8) */
    int exact;
    const char *why;
    char impl[96];
    /* Quantized activation paths (bp_backend.layer_qinput / layer_set_qout) */
    bp_layer_desc desc;         /* the desc the layer was built from (its pointers
                                 * live as long as the session) */
    const bp_kernel_table *kt;  /* quantize / GELU / pack kernels: the session's,
                                 * or kt_own when the env has no table */
    bp_kernel_table kt_own;
    int gelu_fused;             /* d->act GELU as oneDNN's gelu_erf post-op */
    int epi_after;              /* int8: oneDNN applies the output scales only; bias,
                                 * residual and activation by bp_dnnl_finish */
    int src_q;                  /* src is u8/s8 in a plain layout: qinput offered */
    size_t src_strides[4];      /* of that plain layout, elements (= bytes) */
    int qin;                    /* qinput granted: x may be NULL */
    uint32_t n_q;
    bp_qdest q[BP_QDEST_MAX];
    float *fbuf;                /* f32 output when run with y == NULL and no qprim */
    int qerr;                   /* set_qout ran out of memory */
    /* direct path: oneDNN writes q[0]'s bytes itself (dst u8/s8) */
    dnnl_primitive_t qprim;
    dnnl_memory_t qdst, qwei, qscratch, qres; /* qwei NULL: shares wei */
    dnnl_exec_arg_t qargs[8];
    int qnargs;
    char qimpl[96];
} bp_dnnl_layer;

/* Memory descriptors of one layer (format_tag_any where oneDNN chooses). */
typedef struct bp_dnnl_mds {
    dnnl_memory_desc_t src, wei, dst, bias, po_bias;
    dnnl_dims_t ddims;
} bp_dnnl_mds;

/* oneDNN (OpenMP runtime) takes its thread count from omp_get_max_threads()
 * of the calling thread, both when a primitive is created (it sizes its
 * work split) and when it runs: so set it around both, then restore. */
static inline int bp_dnnl_threads_enter(int want)
{
    int old = omp_get_max_threads();
    if (want > 0 && want != old) omp_set_num_threads(want);
    return old;
}

static inline void bp_dnnl_threads_leave(int want, int old)
{
    if (want > 0 && want != old) omp_set_num_threads(old);
}

/* Sets the engine's thread-local error ("onednn layer '<name>': ...") and
 * returns st. */
bp_status bp_dnnl_fail(bp_status st, const char *layer, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Preference among oneDNN implementations: brgemm-based (brgconv, brdgmm,
 * brgemm) > other jit > gemm-based > reference. */
int bp_dnnl_impl_rank(const char *impl);
/* The primitive desc of layer s for residual mode `mode` (BP_RES_*) and the
 * post-op chain of the canonical epilogue; qinv > 0 appends x * qinv. */
dnnl_status_t bp_dnnl_make_pd(const bp_layer_desc *d, const bp_dnnl_layer *s,
                              const bp_dnnl_mds *m, int mode, float qinv,
                              dnnl_primitive_desc_t *pd, int *bias_po, int *res_po);
void *bp_dnnl_plain_weights(const bp_dnnl_layer *s, const bp_layer_desc *d, uint64_t *n_clamped);
dnnl_status_t bp_dnnl_reorder_weights(const bp_dnnl_layer *s, const dnnl_memory_desc_t *plain_md,
                                      void *plain, const dnnl_memory_desc_t *md, dnnl_memory_t to);

/* onednn_qpath.c: quantized activation paths and the unfused GELU. */
void bp_dnnl_finish(const bp_dnnl_layer *s, float *y, const float *residual);
dnnl_status_t bp_dnnl_run_q(bp_dnnl_layer *s, const float *residual);
int bp_dnnl_qinput(void *state, bp_qdest *q);
void bp_dnnl_set_qout(void *state, const bp_qdest *q, uint32_t n);

#endif
