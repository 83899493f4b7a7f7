/* Engine-internal structures shared by model loading, the graph runtime and
 * the public API: the loaded model, the session plan, error reporting. */
#ifndef BP_ENGINE_H
#define BP_ENGINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "bitprune.h"
#include "bp_kernels.h"
#include "bpf.h"

/* ---- errors (engine/src/status.c) ---- */
/* Sets the thread-local message and returns s (for `return bp_fail(...)`). */
bp_status bp_fail(bp_status s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Clears the thread-local message. */
void bp_error_clear(void);

/* ---- live public handles (engine/src/handles.c) ----
 * Checked before any field of a handle is read. A handle of the other kind,
 * or one not registered, fails with BP_ERR_STATE and a message naming fn. */
typedef enum bp_handle_kind {
    BP_HANDLE_MODEL = 1,
    BP_HANDLE_SESSION = 2,
    BP_HANDLE_BUILDER = 3
} bp_handle_kind;
int bp_handle_add(const void *h, bp_handle_kind kind); /* 0 on allocation failure */
/* BP_OK if h is a live handle of this kind (h != NULL: callers check). */
bp_status bp_handle_check(const void *h, bp_handle_kind kind, const char *fn);
/* The same check, and on success h is no longer live. */
bp_status bp_handle_remove(const void *h, bp_handle_kind kind, const char *fn);

/* ---- size-checked public structs (engine/src/struct_size.c) ---- */
typedef struct bp_struct_desc {
    const char *name;
    size_t known; /* this library's sizeof */
    size_t align; /* every version's size is a multiple of it */
    size_t min;   /* smallest prefix: size and the first field after it */
} bp_struct_desc;
extern const bp_struct_desc bp_sd_model_opts, bp_sd_session_opts, bp_sd_tensor_view,
    bp_sd_tensor_info, bp_sd_layer_info, bp_sd_model_info, bp_sd_session_info,
    bp_sd_layer_profile, bp_sd_layer_counts,
    /* bitprune_builder.h */
    bp_sd_conv2d_params, bp_sd_layer_weights, bp_sd_pool2d_params, bp_sd_node_desc;
/* BP_OK if size can be a version of d; else BP_ERR_INVALID_ARG naming fn,
 * what (the argument) and the struct. */
bp_status bp_struct_size_check(const bp_struct_desc *d, size_t size, const char *fn,
                               const char *what);
/* Reads the caller's input struct src (its size in its first field) into
 * dst, which holds the defaults: the common prefix is copied, bytes beyond
 * the library's struct must be zero. dst->size becomes d->known. */
bp_status bp_struct_read(const bp_struct_desc *d, const void *src, void *dst, const char *fn,
                         const char *what);
/* Writes src (the library's struct) into the caller's dst of `size` bytes
 * (checked): the common prefix, zeros beyond, dst->size = bytes written. */
void bp_struct_write(const bp_struct_desc *d, void *dst, size_t size, const void *src);
/* bp_*_init: defaults into dst's first size bytes, zeros beyond, dst->size =
 * size. */
bp_status bp_struct_init(const bp_struct_desc *d, void *dst, size_t size, const void *defaults,
                         const char *fn);

/* ---- loaded model (engine/src/graph/model.c) ---- */
/* Derived weight forms of a layer, built from its planes on first use. */
enum {
    BP_NEED_DENSE = 1u << 0,      /* int16 c_out x K (reference, oneDNN, float) */
    BP_NEED_PLANES_AUX = 1u << 1, /* kernel aux of the planes (bitplane) */
    BP_NEED_CSR = 1u << 2,        /* CSR of nonzeros with its aux (csr, op counts) */
};
/* Dense weights are c_out*K int16 per layer, not bounded by the file size
 * (planes of a zero weight cost nothing): backends that need them refuse a
 * model with more weights in total than this (formats/SPEC.md). */
#define BP_DENSE_WEIGHTS_MAX (1ull << 30)

typedef struct bp_model_layer {
    uint32_t node;          /* node index of this layer */
    bp_planes planes;       /* view of the file's planes; aux attached once built */
    float *out_scale;       /* [c_out] bp_out_scale(w_scale[j], act_scale) */
    uint64_t nnz;           /* nonzero weights */
    /* Built by bp_model_layer_prepare; written only under bp_model.lock, and
     * read only by sessions that prepared them (so after that lock). */
    unsigned built;         /* BP_NEED_* bits done */
    int16_t *dense;         /* c_out x K, rebuilt exactly from the planes */
    void *planes_aux;
    bp_csr_buf csr;         /* nonzero weights, aux attached to csr.c */
    void *csr_aux;
} bp_model_layer;

#define BP_MODEL_MAGIC 0x4d504231u /* "1BPM" */

struct bp_model {
    uint32_t magic;
    atomic_int refs;         /* 1 for the user + 1 per live session */
    bpf_model *f;
    bp_model_layer *layers;  /* [f->n_layers] */
    bp_model_info info;
    bp_tensor_info *inputs, *outputs;
    bp_layer_info *linfo;
    pthread_mutex_t lock;    /* guards the layers' derived forms and views */
    /* bp_model_info laid out for callers compiled with other struct sizes,
     * made on first request, freed with the model (a list under lock) */
    struct bp_info_view *views;
};

/* Builds what `need` (BP_NEED_*) names for layer li unless already built;
 * thread-safe, once per model. BP_ERR_LIMIT beyond BP_DENSE_WEIGHTS_MAX,
 * BP_ERR_NOMEM, with the layer named. */
bp_status bp_model_layer_prepare(bp_model *m, uint32_t li, unsigned need);
/* The BP_NEED_* bits a backend's layers read. */
unsigned bp_backend_needs(const bp_backend *be);
void bp_model_release(bp_model *m);
/* BP_OK if m is a live user handle, else INVALID_ARG (NULL) / STATE. */
bp_status bp_model_check(const bp_model *m, const char *fn);

/* ---- session (engine/src/graph/session.c) ---- */
#define BP_SESSION_MAGIC 0x53504231u /* "1BPS" */

/* How activations pass between layers: quantized where both ends allow it
 * (and GELU fused into epilogues), or as float between every pair of steps
 * (the plan without those fusions; the results are the same bits). Chosen
 * per session from $BP_ACT_PATH ("quant", the default, or "float"). */
typedef enum bp_act_path {
    BP_ACT_PATH_QUANT = 0,
    BP_ACT_PATH_FLOAT = 1,
} bp_act_path;
#define BP_NO_TENSOR UINT32_MAX

/* How activations cross between steps (engine/src/graph/fusion.c, bp_fuse_qpaths). */
typedef enum bp_act_io {
    BP_IO_FLOAT = 0, /* through the float tensor */
    BP_IO_QUANT = 1, /* quantized only: written into the readers' input bytes */
    BP_IO_BOTH = 2,  /* both (other readers need the float tensor) */
} bp_act_io;

typedef struct bp_step {
    uint32_t node;        /* main node */
    uint32_t op;          /* bpf_op of the main node */
    uint32_t layer;       /* layer index, or UINT32_MAX */
    uint32_t in[BPF_MAX_IO];
    uint32_t n_in;
    uint32_t out;         /* tensor written (after fusion) */
    uint32_t residual;    /* fused residual tensor, or BP_NO_TENSOR */
    bp_epi_act act;       /* fused activation (engine/src/graph/fusion.c) */
    uint32_t *fold;       /* LAYERSCALE/BATCHNORM nodes folded into the layer, */
    uint32_t n_fold;      /* in graph order (formats/SPEC.md 8.2) */
    float *folded;        /* n_fold > 0: [c_out] out_scale, bias, w_scale after
                           * the folds (what desc points to) */
    const char *opname;   /* e.g. "conv2d+add+relu" */
    char opbuf[64];
    bp_act_io in_io;      /* layer steps: BP_IO_QUANT = input bytes written by
                           * the producing step (run with x = NULL) */
    bp_act_io out_io;     /* BP_IO_QUANT: no float output (y = NULL) */
    bp_qdest qout[BP_QDEST_MAX]; /* layernorm steps: quantized outputs */
    uint32_t n_qout;
    /* Channels-last sessions (engine/src/graph/session.c, bp_plan_layouts): cl = 1
     * runs the op's NHWC variant (or an elementwise op on operands in out's
     * storage order); cv_* say how operands are brought into the order the op
     * reads (BP_CV_*), cv_out = 1: the op writes NCHW order into scratch,
     * converted into out's channels-last storage after. All 0 in NCHW sessions. */
    uint8_t cl, cv_in0, cv_in1, cv_res, cv_out;
    /* add with a constant operand in[1] (one image's worth, as in the file):
     * the constant in the element order the add reads, added to every image
     * of in[0]; NULL otherwise. */
    const float *bconst;
    void *lstate;         /* backend layer state */
    bp_layer_desc desc;
} bp_step;

/* Called before a conv/linear step runs, with its float input (conv: in the
 * session's layout, channels-last in NHWC sessions; linear: NCHW order).
 * Not called for a layer fed quantized (sessions that run hooks are created
 * with BP_ACT_PATH_FLOAT). */
typedef void (*bp_layer_hook)(void *ctx, const bp_step *st, const float *x,
                              size_t n_elems);

/* Layout-conversion scratch of a channels-last session (bp_session.scratch). */
enum {
    BP_SC_IN0 = 0, /* first operand brought into the order the op reads */
    BP_SC_IN1,     /* second operand, or a layer's residual */
    BP_SC_OUT,     /* NCHW-order output, converted into out's storage after */
    BP_SC_VIA,     /* the NCHW middle of a channels-last -> channels-last reshape */
    BP_SC_COUNT
};

struct bp_session {
    uint32_t magic;
    bp_model *m;
    const bp_backend *be;
    bp_backend_env env;
    bp_team *team;                   /* integer backends at > 1 thread, else NULL */
    bp_kernel_table kt;
    uint32_t N;
    int threads;
    uint32_t n_tensors;
    uint32_t (*tdims)[BPF_MAX_DIMS]; /* per tensor, dims[0] = N for activations */
    size_t *telems;                  /* elements per tensor (with batch) */
    float **tbuf;                    /* activation buffers (arena or user) */
    unsigned char *arena;
    size_t arena_bytes;
    uint32_t n_steps;
    bp_step *steps;
    int profiling;
    bp_layer_profile *prof;          /* [n_steps] */
    unsigned char *prof_view;        /* prof at a caller's entry size, if other */
    size_t prof_view_size;           /* that entry size */
    int exact;
    const char *inexact_reason;
    int nhwc;                        /* be->layout == BP_LAYOUT_NHWC: 4-D activations
                                      * are stored channels-last */
    uint8_t *tconv;                  /* per tensor: graph input/output converted from/to
                                      * the user's NCHW (lives in the arena) */
    float *scratch[BP_SC_COUNT];     /* layout conversions (BP_SC_*), NULL if unused */
    unsigned char *scratch_mem;
    float **tconst_cl;               /* per tensor: a constant add operand converted
                                      * once to channels-last, or NULL */
    bp_act_path act_path;            /* from BP_ACT_PATH at creation */
    uint8_t *tfixed;                 /* per tensor: 1 = in the user's buffers (graph
                                      * inputs/outputs not converted) */
    uint8_t *tnofloat;               /* per tensor: 1 = only ever quantized (no
                                      * float buffer, tbuf NULL) */
};

/* Operand conversions of a step in a channels-last session. */
enum {
    BP_CV_NONE = 0,
    BP_CV_TO_NCHW,      /* channels-last (own dims) -> NCHW element order */
    BP_CV_TO_OUT,       /* NCHW element order -> channels-last with out's dims */
    BP_CV_VIA_NCHW,     /* channels-last (own dims) -> NCHW -> channels-last (out's dims) */
};

/* ---- fusion (engine/src/graph/fusion.c) ---- */
/* Planning state of bp_plan: readers per tensor, producer node per tensor,
 * graph outputs, nodes absorbed into an earlier step. */
typedef struct bp_fuse_ctx {
    const uint32_t *cons;
    const uint32_t *prod;
    const uint8_t *gout;
    uint8_t *absorbed;
} bp_fuse_ctx;
/* Fuses into the layer step sp (of node i) the folds, a residual ADD and an
 * activation that follow it; sets sp->out. */
bp_status bp_fuse_layer(bp_session *s, bp_step *sp, uint32_t i, const bp_fuse_ctx *cx);
/* Sets sp->opname to what the layer step computes ("conv2d+layerscale+add"). */
void bp_fuse_opname(const bp_session *s, bp_step *sp);
/* sp->folded from the layer's own out_scale, bias and w_scale. */
bp_status bp_fuse_fold_params(const bp_session *s, bp_step *sp, const float *out_scale,
                              const float *bias, const float *w_scale);
/* After the layers exist: which activations pass quantized (sets in_io,
 * out_io, the producers' quantized outputs, s->tnofloat); a no-op for
 * BP_ACT_PATH_FLOAT and backends without quantized paths. */
bp_status bp_fuse_qpaths(bp_session *s);

/* ---- quantized outputs (engine/src/graph/qdest.c) ----
 * Channel rows [c0, c0+nrows) x pixels [p, p+n) of image img of a tensor
 * whose rows are W pixels, into q: from float rows (src, row stride lds), or
 * through the epilogue e (acc and res at pixel p). */
void bp_qdest_put_f32(const bp_kernel_table *kt, const bp_qdest *q, uint32_t img, uint32_t c0,
                      uint32_t nrows, size_t p, size_t n, size_t W, const float *src,
                      size_t lds);
void bp_qdest_put_epi(const bp_kernel_table *kt, const bp_qdest *q, uint32_t img, uint32_t c0,
                      uint32_t nrows, size_t p, size_t n, size_t W, const bp_epi_rows *e);

/* Runs the planned graph; hook (may be NULL) sees each layer's input. */
bp_status bp_graph_run(bp_session *s, const float *const *inputs, float *const *outputs,
                       bp_layer_hook hook, void *ctx);
/* Session with an explicit backend table (used for the internal float one). */
bp_status bp_session_create_with(const bp_model *m, const bp_backend *be, int threads,
                                 uint32_t batch, unsigned isa_mask, bp_act_path path,
                                 bp_session **out);

/* Float-domain conv/linear with dequantized weights (calibration). */
extern const bp_backend bp_backend_float;

/* ---- float operators (engine/src/ops/ops_float.c) ---- */
void bp_op_relu(const float *x, float *y, size_t n, int threads);
void bp_op_gelu(const bp_kernel_table *kt, const float *x, float *y, size_t n, int threads);
void bp_op_add(const float *a, const float *b, float *y, size_t n, int threads);
/* x: [N, C, HW]; per-channel y = x*s[c] (+ t[c] if t). */
void bp_op_channel_affine(const float *x, const float *s, const float *t, float *y,
                          size_t N, size_t C, size_t HW, int threads);
/* LayerNorm, sigmoid and softmax run the row ops of kt (kernels/bp_kernels.h). */
void bp_op_layernorm(const bp_kernel_table *kt, const float *x, const float *gamma,
                     const float *beta, float eps, float *y, size_t N, size_t C, size_t HW,
                     int threads);
/* The same values, also (y may be NULL: only) quantized into q[0..nq); rows of
 * W pixels (HW a multiple of W). On team when there is one, else OpenMP. */
void bp_op_layernorm_q(const bp_kernel_table *kt, const float *x, const float *gamma,
                       const float *beta, float eps, float *y, const bp_qdest *q, uint32_t nq,
                       size_t N, size_t C, size_t HW, size_t W, int threads, bp_team *team);
/* ints: kh,kw,sh,sw,pt,pl,pb,pr. is_max: max pool, else average excluding pad. */
void bp_op_pool(const float *x, float *y, size_t N, size_t C, uint32_t H, uint32_t W,
                uint32_t OH, uint32_t OW, const int32_t *ints, int is_max, int threads);
void bp_op_global_avgpool(const float *x, float *y, size_t N, size_t C, size_t HW,
                          int threads);
void bp_op_softmax(const bp_kernel_table *kt, const float *x, float *y, size_t rows, size_t len,
                   int threads);
/* Elementwise activations (any layout): SIGMOID, HARDSIGMOID, HARDSWISH, CLIP. */
void bp_op_sigmoid(const bp_kernel_table *kt, const float *x, float *y, size_t n, int threads);
void bp_op_hardsigmoid(const float *x, float *y, size_t n, float alpha, float beta,
                       int threads);
void bp_op_hardswish(const float *x, float *y, size_t n, int threads);
void bp_op_clip(const float *x, float *y, size_t n, float lo, float hi, int threads);
/* y = a (op) b, op 0 add, 1 mul; y and a have dims[0..rank) (row-major), b is
 * read at sum(idx[d] * bstr[d]) (stride 0: broadcast). engine/src/ops/ops_broadcast.c */
void bp_op_binary_bcast(int mul, const float *a, const float *b, float *y, uint32_t rank,
                        const size_t *dims, const size_t *bstr, int threads);
void bp_op_mul(const float *a, const float *b, float *y, size_t n, int threads);
/* Concatenation of n blocks: y is outer rows of sum(len[k]) floats, row r
 * holds in[0][r*len[0] ..], in[1][r*len[1] ..], ... */
void bp_op_concat(const float *const *in, const size_t *len, uint32_t n, float *y,
                  size_t outer, int threads);
/* RESIZE of NCHW x (N*C planes of H x W) to OH x OW; ints/floats as the node's.
 * engine/src/ops/ops_resize.c */
void bp_op_resize(const float *x, float *y, size_t NC, uint32_t H, uint32_t W, uint32_t OH,
                  uint32_t OW, const int32_t *ints, const float *floats, int threads);
/* CONVTRANSPOSE of NCHW x (N, C, H, W) with w (C, CO, kh, kw), bias[CO] or NULL,
 * ints sh,sw,pt,pl,pb,pr,oph,opw. engine/src/ops/ops_convtranspose.c */
void bp_op_convtranspose(const float *x, const float *w, const float *bias, float *y,
                         size_t N, uint32_t C, uint32_t H, uint32_t W, uint32_t CO,
                         uint32_t kh, uint32_t kw, uint32_t OH, uint32_t OW,
                         const int32_t *ints, int threads);

/* Channels-last twins (x: [N, HW, C]), bit-identical to the NCHW ops above
 * on the same logical tensor, and the layout conversions [N,C,HW] <-> [N,HW,C]. */
void bp_op_nchw_to_nhwc(const float *x, float *y, size_t N, size_t C, size_t HW, int threads);
void bp_op_nhwc_to_nchw(const float *x, float *y, size_t N, size_t C, size_t HW, int threads);
void bp_op_channel_affine_nhwc(const float *x, const float *s, const float *t, float *y,
                               size_t N, size_t C, size_t HW, int threads);
void bp_op_layernorm_nhwc(const float *x, const float *gamma, const float *beta, float eps,
                          float *y, size_t N, size_t C, size_t HW, int threads);
void bp_op_pool_nhwc(const float *x, float *y, size_t N, size_t C, uint32_t H, uint32_t W,
                     uint32_t OH, uint32_t OW, const int32_t *ints, int is_max, int threads);
/* y: [N, C] */
void bp_op_global_avgpool_nhwc(const float *x, float *y, size_t N, size_t C, size_t HW,
                               int threads);
/* Softmax over W (the last NCHW axis) of a channels-last [N, H, W, C] tensor. */
void bp_op_softmax_nhwc(const bp_kernel_table *kt, const float *x, float *y, size_t N, size_t C,
                        size_t H, size_t W, int threads);

/* Output size of a conv/pool along one axis, 0 if the window never fits. */
uint32_t bp_conv_out_dim(uint32_t in, uint32_t k, uint32_t stride, uint32_t pad0,
                         uint32_t pad1, uint32_t dil);

/* Work split of the integer backends (backend_int.c): rows [lo, hi) into R
 * blocks of about equal summed cost; bounds has R + 1 entries. */
void bp_split_rows_by_cost(uint64_t (*cost)(const void *ctx, uint32_t j), const void *ctx,
                           uint32_t lo, uint32_t hi, uint32_t R, uint32_t *bounds);

/* ---- worker team (engine/src/graph/team.c) ----
 * fn(ctx, i, slot) for every item i < n, on the calling thread (slot 0) and
 * the team's workers (slots 1 .. bp_team_slots - 1); returns when all are
 * done. A worker that wakes after the items are gone skips the job. The
 * integer backends and their float ops run on it; t NULL: all on the caller. */
typedef void (*bp_team_fn)(void *ctx, size_t i, unsigned slot);
bp_status bp_team_new(int threads, bp_team **out); /* *out NULL for threads <= 1 */
void bp_team_free(bp_team *t);
void bp_team_run(bp_team *t, size_t n, bp_team_fn fn, void *ctx);
unsigned bp_team_slots(const bp_team *t);

/* Test hook (tests/engine): 1 makes every float op and layer that can split
 * its work use the session's threads however small the work, so that tests
 * on small models exercise the splits. 0 (the default) in normal use. */
extern int bp_threads_force;

/* for (size_t i = 0; i < n; i++) body, on a team of `threads` (static
 * schedule) when par holds and threads > 1, else on the calling thread.
 * libgomp allocates and frees a team descriptor for every parallel region
 * that runs on one thread (num_threads(1) or a false if clause); the float
 * ops never enter one, so their runs allocate nothing (the integer backends
 * use the session's bp_team, no OpenMP). The body (a braced block) computes
 * each i the same way either way. */
#define BP_PAR_FOR(par, threads, i, n, ...)                                         \
    do {                                                                            \
        const size_t bp_pf_n_ = (n);                                                \
        const int bp_pf_t_ = (threads);                                             \
        if (bp_pf_t_ > 1 && ((par) || bp_threads_force)) {                          \
            _Pragma("omp parallel for num_threads(bp_pf_t_) schedule(static)")      \
            for (size_t i = 0; i < bp_pf_n_; i++) __VA_ARGS__                       \
        } else {                                                                    \
            for (size_t i = 0; i < bp_pf_n_; i++) __VA_ARGS__                       \
        }                                                                           \
    } while (0)

/* Checked size arithmetic: 1 if the result does not fit in size_t (*r is
 * then unspecified), else 0 with the result in *r. */
static inline int bp_mul_overflows(size_t a, size_t b, size_t *r)
{
    return __builtin_mul_overflow(a, b, r);
}
static inline int bp_add_overflows(size_t a, size_t b, size_t *r)
{
    return __builtin_add_overflow(a, b, r);
}
/* *r = a rounded up to a multiple of 64. */
static inline int bp_align64_overflows(size_t a, size_t *r)
{
    if (a > SIZE_MAX - 63) return 1;
    *r = (a + 63) & ~(size_t)63;
    return 0;
}

void *bp_aligned_alloc(size_t bytes); /* 64-byte aligned, zeroed; NULL on failure */
void bp_aligned_free(void *p);

#endif
