/* aarch64 entries of the kernel lists (see ../kernel_list.h). */
#define BP_BITPLANE_KERNELS_ARM(X)                    \
    X(u8, bp_bitplane_u8_32x1_neon, BP_ISA_NEON)      \
    X(s8, bp_bitplane_s8_32x1_neon, BP_ISA_NEON)
#define BP_CSR_KERNELS_ARM(X)                         \
    X(u8, bp_csr_u8_32x1_neon, BP_ISA_NEON)           \
    X(s8, bp_csr_s8_32x1_neon, BP_ISA_NEON)
#define BP_EPILOGUE_KERNELS_ARM(X) /* scalar only */
/* Row ops: the baseline build only (NEON is part of the aarch64 baseline, so
 * the compiler already vectorizes it with NEON). */
#define BP_ROWOP_KERNELS_ARM(X)
