/* x86 entries of the kernel lists (see ../kernel_list.h). Owned by the x86
 * SIMD work; each entry needs its ISA's static library. */
#define BP_BITPLANE_KERNELS_X86(X)
#define BP_CSR_KERNELS_X86(X)
