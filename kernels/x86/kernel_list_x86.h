/* x86 entries of the kernel lists (see ../kernel_list.h), ascending ISA; at
 * one level the last entry wins dispatch. Each entry needs its ISA's static
 * library (meson.build here). */
#define BP_BITPLANE_KERNELS_X86(X)                          \
    X(u8, bp_bitplane_u8_128x1_avx2, BP_ISA_AVX2)           \
    X(s8, bp_bitplane_s8_128x1_avx2, BP_ISA_AVX2)           \
    X(u8, bp_bitplane_u8_256x1_avx512, BP_ISA_AVX512)       \
    X(s8, bp_bitplane_s8_256x1_avx512, BP_ISA_AVX512)

#define BP_CSR_KERNELS_X86(X)                               \
    X(u8, bp_csr_u8_64x1_avx2, BP_ISA_AVX2)                 \
    X(s8, bp_csr_s8_64x1_avx2, BP_ISA_AVX2)                 \
    X(u8, bp_csr_u8_128x1_avx512, BP_ISA_AVX512)            \
    X(s8, bp_csr_s8_128x1_avx512, BP_ISA_AVX512)            \
    X(u8, bp_csr_u8_128x1_avx512vnni, BP_ISA_AVX512VNNI)    \
    X(s8, bp_csr_s8_128x1_avx512vnni, BP_ISA_AVX512VNNI)

#define BP_EPILOGUE_KERNELS_X86(X)                                \
    X(quantize_u8, bp_quantize_u8_avx2, BP_ISA_AVX2)              \
    X(quantize_s8, bp_quantize_s8_avx2, BP_ISA_AVX2)              \
    X(gelu_f32, bp_gelu_f32_avx2, BP_ISA_AVX2)                    \
    X(epilogue_f32, bp_epilogue_f32_avx2, BP_ISA_AVX2)            \
    X(epilogue_u8, bp_epilogue_u8_avx2, BP_ISA_AVX2)              \
    X(epilogue_s8, bp_epilogue_s8_avx2, BP_ISA_AVX2)              \
    X(quantize_u8, bp_quantize_u8_avx512, BP_ISA_AVX512)          \
    X(quantize_s8, bp_quantize_s8_avx512, BP_ISA_AVX512)          \
    X(gelu_f32, bp_gelu_f32_avx512, BP_ISA_AVX512)                \
    X(epilogue_f32, bp_epilogue_f32_avx512, BP_ISA_AVX512)        \
    X(epilogue_u8, bp_epilogue_u8_avx512, BP_ISA_AVX512)          \
    X(epilogue_s8, bp_epilogue_s8_avx512, BP_ISA_AVX512)

/* Row ops: generic/rowops.c compiled again in each ISA library. */
#define BP_ROWOP_KERNELS_X86(X)                                   \
    BP_ROWOP_KERNELS_OF(X, avx2, BP_ISA_AVX2)                     \
    BP_ROWOP_KERNELS_OF(X, avx512, BP_ISA_AVX512)

/* Bench only (bench/micro): the gather-add phase of a bitplane kernel alone,
 * X(atype, fn, isa, full kernel). Not dispatched; y gets raw partial sums. */
#define BP_BITPLANE_GATHER_X86(X)                                                   \
    X(u8, bpk_bitplane_u8_gather_128x1_avx2, BP_ISA_AVX2, bp_bitplane_u8_128x1_avx2) \
    X(u8, bpk_bitplane_u8_gather_256x1_avx512, BP_ISA_AVX512, bp_bitplane_u8_256x1_avx512)
void bpk_bitplane_u8_gather_128x1_avx2(const bp_planes *w, uint32_t row0, uint32_t nrows,
                                       const uint8_t *x, size_t ldx, size_t np, int32_t *y,
                                       size_t ldy);
void bpk_bitplane_u8_gather_256x1_avx512(const bp_planes *w, uint32_t row0, uint32_t nrows,
                                         const uint8_t *x, size_t ldx, size_t np, int32_t *y,
                                         size_t ldy);

/* Bench only (bench/micro, tests/kernels): bitplane kernels over the flat
 * digit streams of planes_flat.h, X(atype, fn, isa, mode). Not dispatched;
 * w->aux must hold bpk_planes_flat_build(w, mode, ...) (else they call
 * bp_bitplane_u8_256x1_avx512). */
#define BP_BITPLANE_FLAT_X86(X)                                                            \
    X(u8, bpk_bitplane_u8_flatmul_256x1_avx512, BP_ISA_AVX512, BPK_FLAT_MUL)               \
    X(u8, bpk_bitplane_u8_flatshift_256x1_avx512, BP_ISA_AVX512, BPK_FLAT_SHIFT)           \
    X(u8, bpk_bitplane_u8_flatmadd_256x1_avx512, BP_ISA_AVX512, BPK_FLAT_MADD)
#define BPK_DECLARE_FLAT(at, fn, isa, mode)                                               \
    void fn(const bp_planes *w, uint32_t row0, uint32_t nrows, const uint8_t *x, size_t ldx, \
            size_t np, int32_t *y, size_t ldy);
BP_BITPLANE_FLAT_X86(BPK_DECLARE_FLAT)

/* Bench only (bench/micro): the AVX-512 bitplane kernel on activations
 * already widened to int16 (x: K rows of ldx int16, u8 values 0..255 or s8
 * values -128..127; no s8 bias), its gather-add phase alone (y gets raw
 * partial sums), the u8 -> int16 widening of n bytes, and the probe loop of
 * that shape (per 32 int16 pixels one load and one add; rows of 256 pixels,
 * 64-byte aligned; returns a checksum). Not dispatched. */
void bpk_bitplane_i16_256x1_avx512(const bp_planes *w, uint32_t row0, uint32_t nrows,
                                   const int16_t *x, size_t ldx, size_t np, int32_t *y,
                                   size_t ldy);
void bpk_bitplane_i16_gather_256x1_avx512(const bp_planes *w, uint32_t row0, uint32_t nrows,
                                          const int16_t *x, size_t ldx, size_t np, int32_t *y,
                                          size_t ldy);
void bpk_widen_u8_i16_avx512(const uint8_t *x, size_t n, int16_t *y);
uint32_t bpk_probe_run_i16_avx512(const int16_t *buf, size_t rows, uint32_t iters);

/* Bench only (bench/micro): the AVX-512 u8 bitplane kernel with K blocking.
 * Per 256-pixel tile the rows are taken rb at a time (0: all), and for each
 * such row block the K rows of x kb at a time, so the block of x being
 * gathered (kb x 256 bytes) can stay in L1; every row walks its plan once
 * per K block over the digits whose k falls in the block, and carries each
 * int16 group sum (R and O, 512 bytes) between blocks in `carry`; the last
 * block flushes and stores. Split points of every plan step per block are
 * computed by bpk_kblock_new (needs the planes aux built; NULL if absent or
 * out of memory). One bpk_kblock serves one call at a time. */
typedef struct bpk_kblock {
    uint32_t kb, nb, rb;       /* x rows per K block, K blocks, rows per row block */
    uint32_t rows, K, nsteps;  /* of the planes it was built for */
    uint32_t *split;           /* per plan step: nb+1 pos, then nb+1 neg split points */
    uint32_t *slot_ptr;        /* rows+1: first carry slot of each row (one per group) */
    void *carry;               /* slot_ptr[rows] slots of 512 bytes, 64-byte aligned */
} bpk_kblock;
bpk_kblock *bpk_kblock_new(const bp_planes *w, uint32_t kb, uint32_t rb);
void bpk_kblock_free(bpk_kblock *k);
void bpk_bitplane_u8_kblock_256x1_avx512(const bpk_kblock *kb, const bp_planes *w, uint32_t row0,
                                         uint32_t nrows, const uint8_t *x, size_t ldx, size_t np,
                                         int32_t *y, size_t ldy);
/* Its gather-add phase alone (no shifts, flushes, carries; y gets raw sums). */
void bpk_bitplane_u8_kblock_gather_256x1_avx512(const bpk_kblock *kb, const bp_planes *w,
                                                uint32_t row0, uint32_t nrows, const uint8_t *x,
                                                size_t ldx, size_t np, int32_t *y, size_t ldy);
