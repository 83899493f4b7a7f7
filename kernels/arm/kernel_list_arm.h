/* aarch64 entries of the kernel lists (see ../kernel_list.h). */
#define BP_BITPLANE_KERNELS_ARM(X)
#define BP_CSR_KERNELS_ARM(X)
