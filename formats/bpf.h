/* Internal API of the .bp model format: the in-memory view a reader gives,
 * the builder a writer takes, and the validator's status codes.
 * No engine or kernel knowledge; SPEC.md is the byte-level contract. */
#ifndef BPF_H
#define BPF_H

#include <stddef.h>
#include <stdint.h>

/* Status codes. Numerically identical to the public bp_status (engine checks
 * this at compile time), so a format error passes through unchanged. */
typedef enum bpf_status {
    BPF_OK = 0,
    BPF_ERR_INVALID_ARG = -1,  /* null pointer, bad option */
    BPF_ERR_NOMEM = -2,
    BPF_ERR_IO = -3,           /* open/stat/mmap failed */
    BPF_ERR_TRUNCATED = -4,    /* file shorter than a structure needs */
    BPF_ERR_BAD_MAGIC = -5,
    BPF_ERR_VERSION = -6,      /* unsupported version or endianness */
    BPF_ERR_CHECKSUM = -7,
    BPF_ERR_BAD_SECTION = -8,  /* offsets/sizes out of bounds, overlap, overflow */
    BPF_ERR_BAD_PLANES = -9,   /* row pointers, indices, digits */
    BPF_ERR_BAD_GRAPH = -10,   /* cycles, dangling ids, shapes that do not chain */
    BPF_ERR_LIMIT = -11,       /* a documented limit exceeded */
    BPF_ERR_BAD_META = -12,    /* malformed strings or metadata */
} bpf_status;

/* Documented limits (SPEC.md §Limits). */
#define BPF_MAX_DIMS 6u
#define BPF_MAX_IO 4u          /* inputs or outputs per node */
#define BPF_MAX_TENSORS 65536u
#define BPF_MAX_NODES 65536u
#define BPF_MAX_LAYERS 16384u
#define BPF_MAX_META 1024u
#define BPF_MAX_STRING 4096u   /* bytes, without the terminator */
#define BPF_MAX_DIM 1048576u   /* any single dimension */
#define BPF_MAX_CHANNELS 65536u
#define BPF_MAX_KERNEL 64u     /* kh, kw */
#define BPF_MAX_STRIDE 64u
#define BPF_MAX_DILATION 64u
#define BPF_MAX_PAD 64u
#define BPF_MAX_ELEMS (1ull << 32) /* elements in one tensor */
/* Weight limits, equal to BP_K_MAX / BP_W_MAX / BP_M_MAX of the kernels
 * (|w| <= 255, |x| <= 255, K <= 32768 keep int32 accumulation exact). */
#define BPF_K_MAX 32768u
#define BPF_W_MAX 255u
#define BPF_M_MAX 9u
/* Load budget (SPEC.md, "Resource limits when loading"): the bytes of every
 * layer's w_scale, bias, row_ptr and col_idx, summed over the layers, are at
 * most FACTOR x the file size + SLACK. Layers may share arrays, so without
 * it a small file could make the reader (and the engine) walk huge planes. */
#define BPF_LAYER_BYTES_FACTOR 4u
#define BPF_LAYER_BYTES_SLACK (16ull << 20)
#define BPF_ENC_BINARY 0u /* bpf_layer.encoding */
#define BPF_ENC_CSD 1u

typedef enum bpf_dtype {
    BPF_DT_F32 = 1,
    BPF_DT_U8 = 2,
    BPF_DT_S8 = 3,
    BPF_DT_S32 = 4,
} bpf_dtype;

typedef enum bpf_op {
    BPF_OP_CONV2D = 1,     /* layer; in: x (N,C,H,W); out: y */
    BPF_OP_LINEAR = 2,     /* layer; in: x (N,K) or (N,K,1,1); out: (N,C_o) */
    BPF_OP_RELU = 3,
    BPF_OP_GELU = 4,       /* erf form */
    BPF_OP_LAYERNORM = 5,  /* over channels of NCHW; in: x, gamma, beta; f[0]=eps */
    BPF_OP_LAYERSCALE = 6, /* y = x * gamma[c]; in: x, gamma */
    BPF_OP_ADD = 7,        /* y = a + b, b broadcast to a's shape (SPEC.md 7) */
    BPF_OP_MAXPOOL = 8,    /* i: kh,kw,sh,sw,pt,pl,pb,pr */
    BPF_OP_AVGPOOL = 9,    /* same ints; padding excluded from the count */
    BPF_OP_GLOBALAVGPOOL = 10, /* (N,C,H,W) -> (N,C,1,1) */
    BPF_OP_FLATTEN = 11,   /* (N,C,H,W) -> (N,C*H*W) */
    BPF_OP_SOFTMAX = 12,   /* over the last dimension */
    BPF_OP_BATCHNORM = 13, /* in: x, scale, shift (already folded: y = x*s[c]+t[c]) */
    BPF_OP_SIGMOID = 14,
    BPF_OP_HARDSIGMOID = 15, /* f[0] = alpha, f[1] = beta: clamp(alpha*x + beta, 0, 1) */
    BPF_OP_HARDSWISH = 16, /* x * clamp(x + 3, 0, 6) / 6 */
    BPF_OP_CLIP = 17,      /* f[0] = min, f[1] = max (may be infinite) */
    BPF_OP_MUL = 18,       /* y = a * b, b broadcast to a's shape (as ADD) */
    BPF_OP_CONCAT = 19,    /* 2..4 activations; i[0] = axis (1..ndim-1) */
    BPF_OP_RESIZE = 20,    /* (N,C,H,W); i: mode, coordinates, nearest rounding
                            * (BPF_RESIZE_*); f[0], f[1] = scale_h, scale_w */
    BPF_OP_CONVTRANSPOSE = 21, /* float; in: x, w (C_i,C_o,kh,kw), [bias (C_o)];
                                * i: sh,sw,pt,pl,pb,pr,oph,opw */
    BPF_OP_COUNT
} bpf_op;

/* RESIZE attributes: ints[0] mode, ints[1] coordinate transform, ints[2]
 * rounding of nearest (0 for linear). */
enum { BPF_RESIZE_NEAREST = 0, BPF_RESIZE_LINEAR = 1 };
enum {
    BPF_RESIZE_ASYMMETRIC = 0,
    BPF_RESIZE_HALF_PIXEL = 1,
    BPF_RESIZE_ALIGN_CORNERS = 2,
    BPF_RESIZE_PYTORCH_HALF_PIXEL = 3,
};
enum {
    BPF_RESIZE_FLOOR = 0,
    BPF_RESIZE_ROUND_PREFER_FLOOR = 1,
    BPF_RESIZE_ROUND_PREFER_CEIL = 2,
    BPF_RESIZE_CEIL = 3,
};

typedef struct bpf_kv {
    const char *key;
    const char *value;
} bpf_kv;

typedef struct bpf_tensor {
    const char *name;
    uint32_t dtype;   /* bpf_dtype */
    uint32_t ndim;
    uint32_t dims[BPF_MAX_DIMS]; /* dims[0] is the batch for activations (1 in the file) */
    float scale;      /* advisory annotation, 0 for none; no effect on results (SPEC.md 6) */
    const void *data; /* constant data (64-byte aligned), or NULL for activations */
    uint64_t nbytes;
} bpf_tensor;

typedef struct bpf_node {
    const char *name;
    uint32_t op; /* bpf_op */
    uint32_t n_in, n_out;
    uint32_t in[BPF_MAX_IO];  /* tensor ids */
    uint32_t out[BPF_MAX_IO];
    uint32_t layer;           /* layer index for CONV2D/LINEAR, else UINT32_MAX */
    int32_t ints[8];          /* op attributes, meaning per op (above) */
    float floats[4];
} bpf_node;

typedef enum bpf_layer_kind { BPF_LAYER_CONV = 1, BPF_LAYER_LINEAR = 2 } bpf_layer_kind;

/* One conv/linear layer. Weights exist only as per-bit CSR planes:
 * entry e = (j*M + m)*2 + s of row_ptr (s: 0 = +1, 1 = -1) bounds the sorted
 * column indices of digit position m of output row j. K = c_in/groups*kh*kw,
 * column k = (ci_in_group*kh + dy)*kw + dx. */
typedef struct bpf_layer {
    uint32_t kind; /* bpf_layer_kind */
    uint32_t c_out, c_in;
    uint32_t kh, kw;
    uint32_t stride_h, stride_w;
    uint32_t pad_t, pad_l, pad_b, pad_r;
    uint32_t dil_h, dil_w;
    uint32_t groups;
    uint32_t K;
    uint32_t M;         /* digit positions, 1..9 */
    uint32_t encoding;  /* 0 binary sign-magnitude, 1 CSD/NAF */
    uint32_t w_max;     /* declared max |w| (<= 255); the validator enforces it */
    uint32_t act_dtype; /* BPF_DT_U8 or BPF_DT_S8 */
    float act_scale;    /* input quantization step: x * (1.0f / act_scale) (SPEC.md 8.1) */
    const float *w_scale; /* [c_out] */
    const float *bias;    /* [c_out] */
    uint32_t idx_bytes;   /* 2 when K <= 65535, else 4 */
    uint64_t n_digits;
    const uint32_t *row_ptr; /* [c_out*M*2 + 1] */
    const void *col_idx;     /* [n_digits] */
} bpf_layer;

typedef struct bpf_model {
    uint32_t version;
    uint32_t flags;
    uint32_t n_meta;
    const bpf_kv *meta;
    uint32_t n_tensors;
    const bpf_tensor *tensors;
    uint32_t n_nodes;
    const bpf_node *nodes; /* topologically ordered (validated) */
    uint32_t n_layers;
    const bpf_layer *layers;
    uint32_t n_inputs, n_outputs;
    const uint32_t *inputs;  /* graph input tensor ids */
    const uint32_t *outputs; /* graph output tensor ids */
    /* private: backing storage */
    void *priv_;
} bpf_model;

enum {
    BPF_LOAD_NO_CHECKSUM = 1u << 0, /* trusted file: skip xxh3 verification */
    BPF_LOAD_MMAP = 1u << 1,        /* bpf_load_file: map the file instead of
                                       reading it (see bpf_load_file) */
};

/* Reads a regular file into owned 64-byte aligned memory and fully
 * validates it; the file is not used afterwards (it may be replaced or
 * truncated while the model lives). Anything but a regular file (FIFO,
 * directory, device) is refused with BPF_ERR_IO without blocking; a file
 * whose size changes while it is read is refused with BPF_ERR_IO.
 * BPF_LOAD_MMAP maps it (MAP_PRIVATE) instead: no copy, but the file must
 * not be modified or truncated while the model lives, or reading the model
 * is undefined (SIGBUS, or weights that were never validated).
 * On failure *out is NULL and bpf_last_error() names what and where. */
bpf_status bpf_load_file(const char *path, uint32_t flags, bpf_model **out);
/* Validates a caller buffer. If buf is 64-byte aligned it is used in place
 * and must outlive the model; otherwise it is copied. */
bpf_status bpf_load_memory(const void *buf, size_t size, uint32_t flags, bpf_model **out);
void bpf_model_free(bpf_model *m);
/* Looks up a metadata value, NULL if absent. */
const char *bpf_meta_get(const bpf_model *m, const char *key);

/* Lower-case name of an op ("conv2d"), "?" for a code that is not an op. */
const char *bpf_op_name(uint32_t op);

/* Thread-local message for the last failure on this thread. */
const char *bpf_last_error(void);

/* ---- Writer: describe a model with the same structs, then serialize. ----
 * Pointers inside are only read during bpf_write_*. */
typedef struct bpf_model_desc {
    uint32_t n_meta;
    const bpf_kv *meta;
    uint32_t n_tensors;
    const bpf_tensor *tensors;
    uint32_t n_nodes;
    const bpf_node *nodes;
    uint32_t n_layers;
    const bpf_layer *layers;
    uint32_t n_inputs, n_outputs;
    const uint32_t *inputs;
    const uint32_t *outputs;
} bpf_model_desc;

/* Serializes to a malloc'd buffer (64-byte aligned; free with free()).
 * The result is validated exactly like a loaded file (SPEC.md rules), so a
 * bad desc fails with the validator's status and message and no buffer. */
bpf_status bpf_write_memory(const bpf_model_desc *d, void **buf, size_t *size);
/* Serializes and writes with bpf_replace_file. */
bpf_status bpf_write_file(const bpf_model_desc *d, const char *path);

/* Atomic file output, used by every tool that writes a file.
 * bpf_replace_file writes buf to a new temporary file in the destination's
 * directory (mkstemp), fsyncs it, renames it over the destination and
 * fsyncs the directory: readers see the old file or the new one, never a
 * partial one. The new file gets the mode of the file it replaces, or
 * 0666 & ~umask. A symbolic link is followed and its target replaced. On
 * failure only the temporary file is removed; the destination is
 * unchanged. A destination that exists and is not a regular file (device,
 * FIFO, directory, socket) is refused before anything is written:
 * BPF_ERR_IO, and the message says what it is. Hard links to the old file
 * keep the old contents. bpf_check_output makes only that check (a tool
 * calls it before long work). */
bpf_status bpf_replace_file(const char *path, const void *buf, size_t size);
bpf_status bpf_check_output(const char *path);
/* A desc view of a loaded model (for re-writing it with changes). */
void bpf_model_as_desc(const bpf_model *m, bpf_model_desc *d);

#endif
