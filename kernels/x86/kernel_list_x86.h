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
