/* bitprune.h: the public C API of libbitprune, an inference engine for
 * bit-pruned networks whose conv/linear layers run as add-shift-add over
 * per-bit CSR weight planes. Every function returns a bp_status; on failure
 * bp_last_error() gives a message naming what and where. Nothing aborts.
 *
 * Typical use:
 *
 *   bp_model *m;  bp_session *s;
 *   if (bp_model_load_file("net.bp", NULL, &m)) die(bp_last_error());
 *   bp_session_opts o;  bp_session_opts_init(&o);
 *   o.backend = "bitplane";  o.threads = 2;  o.batch = 1;
 *   if (bp_session_create(m, &o, &s)) die(bp_last_error());
 *   const float *in[1] = {image};   float *out[1] = {logits};
 *   if (bp_session_run(s, in, out)) die(bp_last_error());
 *   bp_session_free(s);  bp_model_free(m);
 *
 * Threading: a loaded bp_model is immutable; any number of sessions on any
 * number of threads may use one model at once. A bp_session is used by one
 * thread at a time (it owns its activation buffers); create one per thread.
 * Each session runs its layers on `threads` threads: the calling thread and
 * worker threads the session owns (reference, bitplane, csr), or oneDNN's
 * OpenMP team (onednn-int8, onednn-f32).
 *
 * Handles: the library keeps a registry of the live bp_model and bp_session
 * handles it returned and consults it before reading anything through a
 * handle. Detected, with BP_ERR_STATE and a message (the free functions
 * then do nothing): a freed handle (double free, use after free); any pointer
 * value this library did not return; a bp_model passed where a bp_session
 * is expected or the reverse (the object is not touched). NULL gives
 * BP_ERR_INVALID_ARG (the free functions ignore it). NOT detected: a freed
 * handle whose address has since been given to a new handle of the same
 * kind. Handles are plain addresses, so the call then acts on that new
 * object; do not use a handle after freeing it.
 *
 * Arithmetic: conv/linear layers quantize their float input per tensor,
 * x_int = saturate(round_half_even(x * inv)) with inv = 1.0f / act_scale
 * rounded to float once (u8 or s8), accumulate w_int * x_int exactly in
 * int32, then y = (float)acc * (w_scale[j] * act_scale) + bias[j] in float,
 * each step rounded, no FMA; a LAYERSCALE or BATCHNORM alone after a layer
 * is folded into its scale and bias. Between layers the values are float
 * (the integer backends pass them quantized where only layers read them:
 * the same bytes); GELU and softmax use fixed exp/erf algorithms, not the
 * C library's.
 * formats/SPEC.md (sections 7.1-7.3 and 8.1-8.2) defines every output bit; the
 * backends "reference", "bitplane" and "csr" produce exactly those.
 *
 * Binary compatibility: every struct below starts with `size_t size`, the
 * size of the struct as the caller's program was compiled, so a program
 * built against an older or newer header keeps working with this library:
 *   - structs the caller fills (bp_model_opts, bp_session_opts,
 *     bp_tensor_view): the caller sets size, through bp_*_init (which also
 *     fills the defaults) or `.size = sizeof(T)`. A smaller size than this
 *     library's struct (an older caller) makes the library read only the
 *     fields inside it and use the defaults for the rest; a larger one (a
 *     newer caller) is accepted when the bytes this library does not know
 *     are all zero (the defaults of fields it cannot honour).
 *   - structs the library fills (bp_model_info, bp_tensor_info,
 *     bp_layer_info, bp_session_info, bp_layer_profile, bp_layer_counts):
 *     the inline getters below pass the caller's sizeof to the *_sized
 *     entry points; the library writes the fields that fit, zeroes the rest
 *     of the caller's struct and sets size to the bytes it wrote (a newer
 *     caller learns which fields an older library filled).
 * A size of 0, one not a multiple of the struct's alignment, smaller than
 * the struct's first field after size, or above BP_STRUCT_SIZE_MAX gives
 * BP_ERR_INVALID_ARG with a message naming the struct. New fields are only
 * ever appended, each starting at or after the previous version's sizeof;
 * tests/abi/ holds the recorded layout of every struct and README.md the
 * SONAME policy. */
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

#include "bitprune_version.h" /* BP_VERSION_MAJOR, _MINOR, _PATCH, _STRING */

/* Status codes: 0 is success, negative is failure. -4..-12 come from the
 * model file validator (see formats/SPEC.md). */
typedef enum bp_status {
    BP_OK = 0,
    BP_ERR_INVALID_ARG = -1, /* null pointer, bad option, unknown name */
    BP_ERR_NOMEM = -2,       /* allocation failed */
    BP_ERR_IO = -3,          /* open/stat/mmap of a model file failed */
    BP_ERR_TRUNCATED = -4,   /* model file shorter than its structures */
    BP_ERR_BAD_MAGIC = -5,   /* not a .bp file */
    BP_ERR_VERSION = -6,     /* unsupported format version or endianness */
    BP_ERR_CHECKSUM = -7,    /* a section's xxh3 does not match */
    BP_ERR_BAD_SECTION = -8, /* offsets/sizes out of bounds, overlap, overflow */
    BP_ERR_BAD_PLANES = -9,  /* malformed weight planes */
    BP_ERR_BAD_GRAPH = -10,  /* cycles, dangling ids, shapes that do not chain */
    BP_ERR_LIMIT = -11,      /* a documented limit exceeded */
    BP_ERR_BAD_META = -12,   /* malformed strings or metadata */
    BP_ERR_SHAPE = -13,      /* input/output buffer shape does not match */
    BP_ERR_UNSUPPORTED = -14,/* op, ISA or backend not available here */
    BP_ERR_BACKEND = -15,    /* the backend library (oneDNN) failed */
    BP_ERR_STATE = -16       /* misuse: freed, foreign or wrong-kind handle */
} bp_status;

/* Static English name of a status ("BP_ERR_CHECKSUM: checksum mismatch");
 * never NULL, also for unknown values. */
BP_API const char *bp_status_string(bp_status s);
/* Thread-local message describing the last failure on this thread (read it
 * right after a call returned an error; successful calls may leave an old
 * message in place). Never NULL. */
BP_API const char *bp_last_error(void);
/* "MAJOR.MINOR.PATCH" of the library actually loaded. */
BP_API const char *bp_version_string(void);

/* Largest size a caller may declare for a public struct (see above). */
#define BP_STRUCT_SIZE_MAX 4096

/* Backends built into this library, by index 0..bp_backend_count()-1, in
 * the order bp_session_create knows them; NULL for an index out of range. */
BP_API uint32_t bp_backend_count(void);
BP_API const char *bp_backend_name(uint32_t i);

typedef struct bp_model bp_model;
typedef struct bp_session bp_session;

/* ---- Loading ---- */
typedef struct bp_model_opts {
    size_t size;          /* sizeof(bp_model_opts) as compiled by the caller */
    int verify_checksums; /* 1 (default): verify xxh3 of every section;
                             0: trusted file, skip the hashes (structure
                             is still fully validated) */
    int mmap;             /* 0 (default): bp_model_load_file reads the file
                             into memory owned by the model and never touches
                             it again, so the file may be replaced or
                             truncated while the model lives.
                             1: map the file (MAP_PRIVATE) and use it in
                             place, saving one copy of the file in memory.
                             Contract: the file must not be modified or
                             truncated while the model lives (replace it by
                             renaming a new file over it instead); otherwise
                             behaviour is undefined: SIGBUS, or weights that
                             were never validated. Other values:
                             BP_ERR_INVALID_ARG. bp_model_load_memory does
                             not map anything. */
} bp_model_opts;
/* Fills the first `size` bytes of o with the defaults and sets o->size =
 * size (bytes beyond this library's struct are zeroed). BP_ERR_INVALID_ARG
 * for a size that is not valid (then o is not written). */
BP_API bp_status bp_model_opts_init_sized(bp_model_opts *o, size_t size);
static inline bp_status bp_model_opts_init(bp_model_opts *o)
{
    return bp_model_opts_init_sized(o, sizeof *o);
}

/* Reads (or with opts->mmap, maps) a .bp file and fully validates it. opts
 * may be NULL for defaults. Only a regular file is accepted: a FIFO,
 * directory or device gives BP_ERR_IO at once (nothing blocks), as does a
 * file whose size changes while it is read. Loading costs time and memory
 * bounded by the file size (formats/SPEC.md, "Resource limits when
 * loading"); the dense and CSR weight forms some backends need are built
 * from the planes when the first session needing them is created.
 * On failure *out is NULL and the status says why (file errors pass the
 * validator's code and message through, prefixed by the path). */
BP_API bp_status bp_model_load_file(const char *path, const bp_model_opts *opts,
                                    bp_model **out);
/* The same from memory. If buf is 64-byte aligned it is used in place and
 * must outlive the model unchanged; otherwise it is copied. */
BP_API bp_status bp_model_load_memory(const void *buf, size_t size,
                                      const bp_model_opts *opts, bp_model **out);
/* Releases the caller's reference. Sessions hold their own reference, so a
 * model may be freed while its sessions live; it goes away with the last.
 * NULL is ignored; a handle that is not a live model (see Handles above) is
 * left alone and bp_last_error says so. */
BP_API void bp_model_free(bp_model *m);

/* ---- Inspection ---- */
#define BP_MAX_DIMS 6

typedef struct bp_tensor_info {
    size_t size;     /* bytes the library filled */
    const char *name;
    uint32_t ndim;
    uint32_t dims[BP_MAX_DIMS]; /* NCHW or NC; dims[0] == 1 in the model, the
                                   session batch replaces it */
} bp_tensor_info;

/* One conv/linear layer, in layer order (the order of the model's layer
 * table, which bp_model_calibrate and bp_session_count_ops also use). */
typedef struct bp_layer_info {
    size_t size;           /* bytes the library filled */
    const char *name;      /* node name */
    const char *op;        /* "conv2d" or "linear" */
    uint32_t c_out, c_in, kh, kw;
    uint32_t stride, pad, dilation; /* height / top values; see *_w below */
    uint32_t groups;
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
    const char *act_dtype; /* "u8" or "s8": how the layer's input is quantized */
    float act_scale;       /* its quantization step */
    uint32_t stride_w, pad_l, pad_b, pad_r, dilation_w;
    uint32_t w_max;
} bp_layer_info;

typedef struct bp_model_info {
    size_t size;           /* bytes the library filled */
    uint32_t n_inputs, n_outputs, n_layers, n_nodes;
    const bp_tensor_info *inputs;  /* [n_inputs] */
    const bp_tensor_info *outputs; /* [n_outputs] */
    const bp_layer_info *layers;   /* [n_layers] */
    /* Sums over all layers (macs per image). */
    uint64_t weights, nonzeros, digits, digits_binary, digits_csd, macs;
    double sparsity;          /* 1 - nonzeros/weights */
    double digits_per_weight; /* digits/weights */
    const char *arch;         /* metadata "arch", or "" */
} bp_model_info;

/* Points *info at storage owned by the model (valid until the model is
 * released), laid out for the caller's struct sizes: info_size for
 * bp_model_info, layer_size and tensor_size for the elements of its arrays
 * (the array strides). Use the inline bp_model_info_get. */
BP_API bp_status bp_model_info_get_sized(const bp_model *m, const bp_model_info **info,
                                         size_t info_size, size_t layer_size,
                                         size_t tensor_size);
static inline bp_status bp_model_info_get(const bp_model *m, const bp_model_info **info)
{
    return bp_model_info_get_sized(m, info, sizeof(bp_model_info), sizeof(bp_layer_info),
                                   sizeof(bp_tensor_info));
}
/* Metadata value for key (e.g. "arch", "producer", "lambda"), or NULL if
 * absent or on a NULL argument. Owned by the model. */
BP_API const char *bp_model_meta(const bp_model *m, const char *key);

/* ---- Sessions ---- */
/* Backends for conv/linear layers (everything else is shared float code):
 *   "reference"    naive integer oracle, slow, the judge;
 *   "bitplane"     add-shift-add over per-bit CSR planes, best SIMD kernel;
 *   "csr"          sparse multiply-add over the nonzero weights (baseline);
 *   "onednn-int8"  oneDNN dense u8/s8 x s8 (exact unless a weight is beyond
 *                  s8, or a GELU runs as oneDNN's gelu_erf, the default;
 *                  $BP_ONEDNN_GELU=exact; see bp_session_info.exact);
 *   "onednn-f32"   oneDNN dense f32 with dequantized weights (inexact). */
typedef struct bp_session_opts {
    size_t size;         /* sizeof(bp_session_opts) as compiled by the caller */
    const char *backend; /* default "bitplane"; bp_backend_name lists them */
    int threads;         /* threads of this session; 0: all cores
                            (omp_get_num_procs); 1..1024 */
    uint32_t batch;      /* N >= 1 (<= 65536), default 1 */
    const char *isa;     /* cap: "scalar", "avx2", "avx512", "avx512vnni",
                            "neon"; NULL: the best the CPU has, capped by
                            $BP_ISA when set */
} bp_session_opts;
/* Fills the first `size` bytes of o with the defaults above and sets
 * o->size = size (bytes beyond this library's struct are zeroed).
 * BP_ERR_INVALID_ARG for a size that is not valid (o is not written). */
BP_API bp_status bp_session_opts_init_sized(bp_session_opts *o, size_t size);
static inline bp_status bp_session_opts_init(bp_session_opts *o)
{
    return bp_session_opts_init_sized(o, sizeof *o);
}

/* Plans the graph for this batch (fusing conv/linear with a following relu
 * or residual add), allocates every buffer a run needs, and lets the backend
 * prepare each layer. Graph constants describe one image: a constant add
 * operand is added to every image of the batch, as in a batch-1 run of that
 * image (bit for bit on the exact backends). opts may be NULL for defaults;
 * otherwise opts->size must be set (bp_session_opts_init).
 * Errors: unknown backend/isa, bad threads/batch or a bad opts->size ->
 * BP_ERR_INVALID_ARG; a
 * backend that is not built -> BP_ERR_UNSUPPORTED; activation memory for
 * this batch beyond what the address space can hold -> BP_ERR_NOMEM (or
 * BP_ERR_LIMIT for a single tensor), with the tensor named. */
BP_API bp_status bp_session_create(const bp_model *m, const bp_session_opts *opts,
                                   bp_session **out);
/* Frees a session. NULL is ignored; a handle that is not a live session
 * (see Handles above) is left alone and bp_last_error says so. */
BP_API void bp_session_free(bp_session *s);

/* Runs the model. inputs[i] / outputs[i]: float NCHW (or NC) buffers for the
 * model's graph inputs/outputs in bp_model_info order, each of
 * batch * prod(dims[1..]) floats; outputs must not overlap inputs. A freed
 * session gives BP_ERR_STATE. Buffer sizes cannot be checked here: use
 * bp_session_run_views for checked shapes.
 *
 * Allocation inside a run, per backend:
 *   "reference", "bitplane", "csr": none, neither by the engine nor by the
 *     OpenMP runtime, once the session has run once on the calling thread.
 *     (libgomp keeps one team per calling thread: a thread that alternates
 *     between sessions of different `threads` makes it allocate a new team
 *     at each switch.)
 *   "onednn-int8", "onednn-f32": oneDNN allocates inside its primitive
 *     execution (about 60-120 small blocks per run for a small ResNet or
 *     ConvNeXt with oneDNN 2.6); all are freed before the run returns and
 *     the count does not grow from run to run. */
BP_API bp_status bp_session_run(bp_session *s, const float *const *inputs,
                                float *const *outputs);

/* A caller buffer with its shape, for bp_session_run_views. */
typedef struct bp_tensor_view {
    size_t size;                /* sizeof(bp_tensor_view) as compiled by the
                                   caller; the same in every element of an
                                   array (it is the array's stride) */
    float *data;                /* inputs are only read */
    uint32_t ndim;
    uint32_t dims[BP_MAX_DIMS]; /* dims[0] is the session batch */
} bp_tensor_view;
/* Zeroes v and sets v->size. */
static inline void bp_tensor_view_init(bp_tensor_view *v)
{
    unsigned char *p = (unsigned char *)v;
    for (size_t i = 0; i < sizeof *v; i++) p[i] = 0;
    v->size = sizeof *v;
}
/* bp_session_run with every count and shape checked against the session
 * (BP_ERR_SHAPE with the expected and given shapes in the message). Each
 * array's stride is its first element's size; every element must carry the
 * same size (BP_ERR_INVALID_ARG otherwise). */
BP_API bp_status bp_session_run_views(bp_session *s, const bp_tensor_view *inputs,
                                      uint32_t n_inputs, const bp_tensor_view *outputs,
                                      uint32_t n_outputs);

/* Backend facts of a session. Strings are static or owned by the session. */
typedef struct bp_session_info {
    size_t size;           /* bytes the library filled */
    const char *backend;
    const char *isa;       /* ISA level of the kernel table in use */
    int threads;
    uint32_t batch;
    int exact;             /* 1: outputs are expected bit-identical to "reference" */
    const char *inexact_reason; /* why not, or "" */
    size_t arena_bytes;    /* planned activation memory (buffers reused by liveness) */
    uint32_t n_steps;      /* graph steps after fusion (= profile entries) */
} bp_session_info;
/* Fills the caller's info of info_size bytes; use the inline
 * bp_session_info_get. */
BP_API bp_status bp_session_info_get_sized(const bp_session *s, bp_session_info *info,
                                           size_t info_size);
static inline bp_status bp_session_info_get(const bp_session *s, bp_session_info *info)
{
    return bp_session_info_get_sized(s, info, sizeof(bp_session_info));
}

/* One profile entry per graph step. A fused step (e.g. op
 * "conv2d+add+relu") is named after its conv/linear node. */
typedef struct bp_layer_profile {
    size_t size;           /* bytes the library filled */
    const char *name;
    const char *op;
    const char *kernel;    /* kernel name (+ activation path) or oneDNN
                              implementation string; "float" for float ops */
    double ms;             /* wall time summed over runs since the last reset */
    uint64_t runs;
} bp_layer_profile;

/* Profiling is off by default; when on, each run adds its per-step times. */
BP_API bp_status bp_session_set_profiling(bp_session *s, int on);
/* *layers points at session storage, an array of *n entries (one per step)
 * of entry_size bytes each, the caller's sizeof(bp_layer_profile). Valid
 * until the session is freed; the times are those of the moment of the call
 * (with the library's own entry size, the array is live: later runs update
 * it). Use the inline bp_session_profile. */
BP_API bp_status bp_session_profile_sized(const bp_session *s,
                                          const bp_layer_profile **layers, uint32_t *n,
                                          size_t entry_size);
static inline bp_status bp_session_profile(const bp_session *s,
                                           const bp_layer_profile **layers, uint32_t *n)
{
    return bp_session_profile_sized(s, layers, n, sizeof(bp_layer_profile));
}
BP_API bp_status bp_session_profile_reset(bp_session *s);

/* ---- Calibration (used by bptool gen) ----
 * Runs the float graph (dequantized weights w_int * w_scale, no activation
 * quantization) on `batch` inputs (same layout as bp_session_run) and writes,
 * per conv/linear layer in layer order, the min and max of that layer's float
 * input over the batch. layer_min/layer_max hold n_layers floats. Uses
 * omp_get_max_threads() threads (honours OMP_NUM_THREADS). */
BP_API bp_status bp_model_calibrate(const bp_model *m, const float *const *inputs,
                                    uint32_t batch, float *layer_min, float *layer_max);

/* ---- Operation counts (the paper's Table 2 inputs) ----
 * Runs `inputs` (the session's batch) through the model with the reference
 * arithmetic, whatever backend s uses, and counts per conv/linear layer in
 * layer order, over the whole batch. "_w" counts ignore activation values
 * (weight-only); "_wx" count only effectual operations, where the quantized
 * activation is nonzero (padding counts as zero). Depthwise/grouped layers
 * count each output against its own group's K inputs. per_layer holds
 * n_layers entries. Allocates (it is an analysis, not a run). */
typedef struct bp_layer_counts {
    size_t size;              /* bytes the library filled */
    uint64_t dots;            /* dot products: c_out * N * OH * OW */
    uint64_t macs_dense;      /* dots * K */
    uint64_t mults_w;         /* sum over dots of nonzero weights */
    uint64_t mults_wx;        /* sum of [w != 0][x != 0] */
    uint64_t adds_binary_w;   /* sum of popcount(|w|) */
    uint64_t adds_binary_wx;  /* sum of popcount(|w|)[x != 0] */
    uint64_t adds_csd_w;      /* sum of NAF digits of w */
    uint64_t adds_csd_wx;     /* sum of NAF digits of w [x != 0] */
    uint32_t M;               /* digit positions of the layer */
} bp_layer_counts;

/* per_layer: n_layers entries of entry_size bytes (the caller's sizeof);
 * use the inline bp_session_count_ops. */
BP_API bp_status bp_session_count_ops_sized(bp_session *s, const float *const *inputs,
                                            bp_layer_counts *per_layer, size_t entry_size);
static inline bp_status bp_session_count_ops(bp_session *s, const float *const *inputs,
                                             bp_layer_counts *per_layer)
{
    return bp_session_count_ops_sized(s, inputs, per_layer, sizeof(bp_layer_counts));
}

#ifdef __cplusplus
}
#endif
#endif
