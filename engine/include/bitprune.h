/* bitprune.h: the public C API of libbitprune, an inference engine for
 * bit-pruned networks whose conv/linear layers run as add-shift-add over
 * per-bit CSR weight planes. Every function returns a bp_status; on failure
 * bp_last_error() gives a message naming what and where. Nothing aborts. */
#ifndef BITPRUNE_H
#define BITPRUNE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(BP_BUILDING_LIBRARY)
#define BP_API __attribute__((visibility("default")))
#else
#define BP_API
#endif

#define BP_VERSION_MAJOR 0
#define BP_VERSION_MINOR 1
#define BP_VERSION_PATCH 0

/* Status codes: 0 is success, negative is failure. */
typedef enum bp_status {
    BP_OK = 0,
    BP_ERR_INVALID_ARG = -1, /* null pointer, bad option, unknown name */
    BP_ERR_NOMEM = -2,
    BP_ERR_IO = -3,
    BP_ERR_TRUNCATED = -4,   /* model file shorter than its structures */
    BP_ERR_BAD_MAGIC = -5,
    BP_ERR_VERSION = -6,
    BP_ERR_CHECKSUM = -7,
    BP_ERR_BAD_SECTION = -8,
    BP_ERR_BAD_PLANES = -9,
    BP_ERR_BAD_GRAPH = -10,
    BP_ERR_LIMIT = -11,
    BP_ERR_BAD_META = -12,
    BP_ERR_SHAPE = -13,       /* input/output buffer shape does not match */
    BP_ERR_UNSUPPORTED = -14, /* op, ISA or backend not available here */
    BP_ERR_BACKEND = -15,     /* the backend library (oneDNN) failed */
    BP_ERR_STATE = -16,       /* misuse: freed or foreign handle */
} bp_status;

/* Static English name of a status ("BP_ERR_CHECKSUM: checksum mismatch"). */
BP_API const char *bp_status_string(bp_status s);
/* Thread-local message describing the last failure on this thread. */
BP_API const char *bp_last_error(void);
BP_API const char *bp_version_string(void);

typedef struct bp_model bp_model;
typedef struct bp_session bp_session;

/* ---- Loading ---- */
typedef struct bp_model_opts {
    int verify_checksums; /* 1 (default): verify xxh3 of every section */
} bp_model_opts;
BP_API void bp_model_opts_default(bp_model_opts *o);

/* mmap + full validation. opts may be NULL for defaults. */
BP_API bp_status bp_model_load_file(const char *path, const bp_model_opts *opts,
                                    bp_model **out);
/* buf must outlive the model if it is 64-byte aligned (used in place);
 * otherwise it is copied. */
BP_API bp_status bp_model_load_memory(const void *buf, size_t size,
                                      const bp_model_opts *opts, bp_model **out);
BP_API void bp_model_free(bp_model *m);

/* ---- Inspection ---- */
#define BP_MAX_DIMS 6

typedef struct bp_tensor_info {
    const char *name;
    uint32_t ndim;
    uint32_t dims[BP_MAX_DIMS]; /* NCHW or NC; dims[0] == 1 in the model */
} bp_tensor_info;

typedef struct bp_layer_info {
    const char *name;      /* node name */
    const char *op;        /* "conv2d" or "linear" */
    uint32_t c_out, c_in, kh, kw, stride, pad, dilation, groups;
    uint32_t K;            /* c_in/groups*kh*kw */
    uint32_t M;            /* digit positions */
    const char *encoding;  /* "binary" or "csd" */
    uint64_t weights;      /* c_out*K */
    uint64_t nonzeros;     /* weights != 0 */
    uint64_t digits;       /* nonzero digits in the stored encoding */
    uint64_t digits_binary;/* popcount(|w|) summed */
    uint64_t digits_csd;   /* NAF digit count summed */
    uint64_t out_pixels;   /* H'*W' per image (1 for linear) */
    uint64_t macs;         /* dense MACs per image: c_out*K*out_pixels */
    const char *act_dtype; /* "u8" or "s8" */
    float act_scale;
    /* Added in 0.1: the full geometry (stride/pad/dilation above are the
     * height/top values) and the largest |w| of the layer. */
    uint32_t stride_w, pad_l, pad_b, pad_r, dilation_w;
    uint32_t w_max;
} bp_layer_info;

typedef struct bp_model_info {
    uint32_t n_inputs, n_outputs, n_layers, n_nodes;
    const bp_tensor_info *inputs;
    const bp_tensor_info *outputs;
    const bp_layer_info *layers;
    uint64_t weights, nonzeros, digits, digits_binary, digits_csd, macs;
    double sparsity;          /* 1 - nonzeros/weights */
    double digits_per_weight; /* digits/weights */
    const char *arch;         /* metadata "arch", or "" */
} bp_model_info;

/* Points *info at storage owned by the model (valid until bp_model_free). */
BP_API bp_status bp_model_info_get(const bp_model *m, const bp_model_info **info);
/* Metadata value for key, or NULL. */
BP_API const char *bp_model_meta(const bp_model *m, const char *key);

/* ---- Sessions ---- */
/* Backends for conv/linear: "reference", "bitplane", "csr", "onednn-int8",
 * "onednn-f32". */
typedef struct bp_session_opts {
    const char *backend; /* default "bitplane" */
    int threads;         /* 0: all cores (omp_get_num_procs) */
    uint32_t batch;      /* N >= 1, default 1 */
    const char *isa;     /* cap: "scalar", "avx2", "avx512", "avx512vnni",
                            "neon", or NULL for the best (or $BP_ISA) */
} bp_session_opts;
BP_API void bp_session_opts_default(bp_session_opts *o);

BP_API bp_status bp_session_create(const bp_model *m, const bp_session_opts *opts,
                                   bp_session **out);
BP_API void bp_session_free(bp_session *s);

/* inputs[i] / outputs[i]: float NCHW (or NC) buffers for the model's graph
 * inputs/outputs, each of batch * prod(dims[1..]) floats. No allocation
 * happens inside. */
BP_API bp_status bp_session_run(bp_session *s, const float *const *inputs,
                                float *const *outputs);

typedef struct bp_tensor_view {
    float *data;                /* inputs are only read */
    uint32_t ndim;
    uint32_t dims[BP_MAX_DIMS]; /* dims[0] is the session batch */
} bp_tensor_view;
BP_API bp_status bp_session_run_views(bp_session *s, const bp_tensor_view *inputs,
                                      uint32_t n_inputs, const bp_tensor_view *outputs,
                                      uint32_t n_outputs);

/* Backend facts: 1 if outputs are bit-identical to "reference". */
typedef struct bp_session_info {
    const char *backend;
    const char *isa;       /* ISA level used by kernels */
    int threads;
    uint32_t batch;
    int exact;             /* 1: bit-identical to reference is expected */
    const char *inexact_reason; /* why not, or "" */
    size_t arena_bytes;    /* planned activation memory */
    uint32_t n_steps;      /* graph steps after fusion */
} bp_session_info;
BP_API bp_status bp_session_info_get(const bp_session *s, bp_session_info *info);

typedef struct bp_layer_profile {
    const char *name;
    const char *op;
    const char *kernel;    /* kernel name or oneDNN implementation string */
    double ms;             /* summed over runs since the last reset */
    uint64_t runs;
} bp_layer_profile;

/* Per-node timings accumulated over bp_session_run calls (profiling is
 * enabled when set_profiling(s, 1) was called; off by default). */
BP_API bp_status bp_session_set_profiling(bp_session *s, int on);
BP_API bp_status bp_session_profile(const bp_session *s, const bp_layer_profile **layers,
                                    uint32_t *n);
BP_API bp_status bp_session_profile_reset(bp_session *s);

/* ---- Calibration (used by bptool gen) ----
 * Runs the float graph (dequantized weights, no activation quantization) on
 * `batch` inputs and writes, per conv/linear layer in layer order, the min
 * and max of that layer's float input. */
BP_API bp_status bp_model_calibrate(const bp_model *m, const float *const *inputs,
                                    uint32_t batch, float *layer_min, float *layer_max);

/* ---- Operation counts (the paper's Table 2 inputs) ----
 * Quantizes `inputs` through the model (reference arithmetic) and counts, per
 * conv/linear layer in layer order, per whole batch. "_w" counts ignore
 * activation values (weight-only); "_wx" count only effectual operations,
 * where the quantized activation is nonzero (padding counts as zero). */
typedef struct bp_layer_counts {
    uint64_t dots;            /* dot products: c_out * N * OH * OW */
    uint64_t macs_dense;      /* dots * K */
    uint64_t mults_w;         /* sum over dots of nonzero weights */
    uint64_t mults_wx;        /* sum of [w != 0][x != 0] */
    uint64_t adds_binary_w;   /* sum of popcount(|w|) */
    uint64_t adds_binary_wx;  /* sum of popcount(|w|)[x != 0] */
    uint64_t adds_csd_w;      /* sum of NAF digits of w */
    uint64_t adds_csd_wx;
    uint32_t M;               /* digit positions of the layer */
} bp_layer_counts;

BP_API bp_status bp_session_count_ops(bp_session *s, const float *const *inputs,
                                      bp_layer_counts *per_layer);

#ifdef __cplusplus
}
#endif
#endif
