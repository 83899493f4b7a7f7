/* Internal to formats/: the on-disk layout of .bp v1 (offsets per SPEC.md),
 * little-endian field access, and the helpers shared by reader, validator
 * and writer. Not for use outside formats/ and tests/formats/. */
#ifndef BPF_INTERNAL_H
#define BPF_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "bpf.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "bitprune formats: arrays are used in place, which needs a little-endian host"
#endif

/* ---- Header (SPEC.md §2) ---- */
#define BPF_MAGIC "\x89" "BPF\r\n\x1a\n"
#define BPF_VERSION 1u
#define BPF_ENDIAN_MARK 0x0A0B0C0Du
#define BPF_HEADER_SIZE 64u
#define BPF_SECTION_ENTRY_SIZE 32u
#define BPF_ALIGN 64u

enum {
    BPF_H_MAGIC = 0,
    BPF_H_VERSION = 8,
    BPF_H_ENDIAN = 12,
    BPF_H_FLAGS = 16,
    BPF_H_HEADER_SIZE = 20,
    BPF_H_N_SECTIONS = 24,
    BPF_H_ENTRY_SIZE = 28,
    BPF_H_FILE_SIZE = 32,
    BPF_H_RESERVED0 = 40,
    BPF_H_RESERVED1 = 48,
    BPF_H_TABLE_HASH = 56,
};

/* ---- Section table (SPEC.md §3) ---- */
enum {
    BPF_S_KIND = 0,
    BPF_S_RESERVED = 4,
    BPF_S_OFFSET = 8,
    BPF_S_SIZE = 16,
    BPF_S_HASH = 24,
};

typedef enum bpf_section_kind {
    BPF_SEC_STRINGS = 1,
    BPF_SEC_META = 2,
    BPF_SEC_TENSORS = 3,
    BPF_SEC_NODES = 4,
    BPF_SEC_LAYERS = 5,
    BPF_SEC_GRAPH_IO = 6,
    BPF_SEC_DATA = 7,
    BPF_SEC_COUNT = 8 /* kinds are 1..7; v1 files hold each exactly once */
} bpf_section_kind;
#define BPF_N_SECTIONS 7u

/* ---- Records (SPEC.md §5-§8) ---- */
#define BPF_META_REC 8u
enum { BPF_M_KEY = 0, BPF_M_VALUE = 4 };

#define BPF_TENSOR_REC 64u
enum {
    BPF_T_NAME = 0,
    BPF_T_DTYPE = 4,
    BPF_T_NDIM = 8,
    BPF_T_RESERVED0 = 12,
    BPF_T_DIMS = 16, /* u32[6] */
    BPF_T_SCALE = 40,
    BPF_T_RESERVED1 = 44,
    BPF_T_DATA_OFF = 48,
    BPF_T_NBYTES = 56,
};

#define BPF_NODE_REC 104u
enum {
    BPF_N_NAME = 0,
    BPF_N_OP = 4,
    BPF_N_N_IN = 8,
    BPF_N_N_OUT = 12,
    BPF_N_IN = 16,  /* u32[4] */
    BPF_N_OUT = 32, /* u32[4] */
    BPF_N_LAYER = 48,
    BPF_N_RESERVED = 52,
    BPF_N_INTS = 56,   /* i32[8] */
    BPF_N_FLOATS = 88, /* f32[4] */
};

#define BPF_LAYER_REC 128u
enum {
    BPF_L_KIND = 0,
    BPF_L_C_OUT = 4,
    BPF_L_C_IN = 8,
    BPF_L_KH = 12,
    BPF_L_KW = 16,
    BPF_L_STRIDE_H = 20,
    BPF_L_STRIDE_W = 24,
    BPF_L_PAD_T = 28,
    BPF_L_PAD_L = 32,
    BPF_L_PAD_B = 36,
    BPF_L_PAD_R = 40,
    BPF_L_DIL_H = 44,
    BPF_L_DIL_W = 48,
    BPF_L_GROUPS = 52,
    BPF_L_K = 56,
    BPF_L_M = 60,
    BPF_L_ENCODING = 64,
    BPF_L_W_MAX = 68,
    BPF_L_ACT_DTYPE = 72,
    BPF_L_ACT_SCALE = 76,
    BPF_L_IDX_BYTES = 80,
    BPF_L_RESERVED = 84,
    BPF_L_N_DIGITS = 88,
    BPF_L_W_SCALE_OFF = 96,
    BPF_L_BIAS_OFF = 104,
    BPF_L_ROW_PTR_OFF = 112,
    BPF_L_COL_IDX_OFF = 120,
};

/* GRAPH_IO: u32 n_inputs, u32 n_outputs, u32 ids[n_inputs + n_outputs]. */

static inline uint32_t bpf_rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t bpf_rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline float bpf_rdf32(const uint8_t *p) { float v; memcpy(&v, p, 4); return v; }
static inline void bpf_wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void bpf_wr64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static inline void bpf_wrf32(uint8_t *p, float v) { memcpy(p, &v, 4); }

/* Records the message for bpf_last_error() and returns st. */
bpf_status bpf_fail(bpf_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void bpf_error_clear(void);

/* Header/table hash: XXH3_64 of the table, seeded with XXH3_64 of header
 * bytes [0, 56). */
uint64_t bpf_table_hash(const uint8_t *file, uint32_t n_sections);

/* Digit positions limit per encoding: the largest |w| that M positions can
 * hold (binary: 2^M - 1; CSD/NAF: floor(2^(M+1) / 3)). */
uint32_t bpf_max_magnitude(uint32_t M, uint32_t encoding);

uint32_t bpf_dtype_size(uint32_t dtype); /* 0 for an unknown dtype */

/* Graph checks (bpf_graph.c) on a model whose records passed their own
 * checks; fills layer_node[l] with the node that uses layer l. */
bpf_status bpf_graph_validate(const bpf_model *m, uint32_t *layer_node);
/* Plane checks (bpf_validate.c) for one layer; name is for messages. */
bpf_status bpf_planes_validate(const bpf_layer *L, uint32_t li, const char *name);
/* Record-level checks of one layer (geometry, limits, scales). */
bpf_status bpf_layer_check(const bpf_layer *L, uint32_t li);
/* UTF-8 well-formedness of a NUL-terminated string of length n. */
int bpf_utf8_valid(const char *s, size_t n);

/* Serializes without validating the result: for tests that need bad files. */
bpf_status bpf_write_memory_unchecked(const bpf_model_desc *d, void **buf, size_t *size);

#endif
