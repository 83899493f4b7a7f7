/* The kernel lists: one X-macro list per family, X(atype, fn, isa), in
 * ascending ISA order. They drive dispatch (kernels/dispatch.c), the
 * conformance tests (tests/kernels) and the microbenchmarks (bench/micro), so
 * no kernel exists without a test and a benchmark. */
#ifndef BP_KERNEL_LIST_H
#define BP_KERNEL_LIST_H

#include "bp_kernels.h"

#if defined(__x86_64__)
#include "x86/kernel_list_x86.h"
#else
#define BP_BITPLANE_KERNELS_X86(X)
#define BP_CSR_KERNELS_X86(X)
#endif

#if defined(__aarch64__)
#include "arm/kernel_list_arm.h"
#else
#define BP_BITPLANE_KERNELS_ARM(X)
#define BP_CSR_KERNELS_ARM(X)
#endif

#define BP_BITPLANE_KERNELS(X)                        \
    X(u8, bp_bitplane_u8_32x1_scalar, BP_ISA_SCALAR)  \
    X(s8, bp_bitplane_s8_32x1_scalar, BP_ISA_SCALAR)  \
    BP_BITPLANE_KERNELS_X86(X)                        \
    BP_BITPLANE_KERNELS_ARM(X)

#define BP_CSR_KERNELS(X)                             \
    X(u8, bp_csr_u8_32x1_scalar, BP_ISA_SCALAR)       \
    X(s8, bp_csr_s8_32x1_scalar, BP_ISA_SCALAR)       \
    BP_CSR_KERNELS_X86(X)                             \
    BP_CSR_KERNELS_ARM(X)

/* Prototypes for every listed kernel. */
#define BP_DECLARE_BITPLANE(at, fn, isa) \
    void fn(const bp_planes *w, uint32_t row0, uint32_t nrows, \
            const bp_##at##_t *x, size_t ldx, size_t np, int32_t *y, size_t ldy);
#define BP_DECLARE_CSR(at, fn, isa) \
    void fn(const bp_csr *w, uint32_t row0, uint32_t nrows, \
            const bp_##at##_t *x, size_t ldx, size_t np, int32_t *y, size_t ldy);
typedef uint8_t bp_u8_t;
typedef int8_t bp_s8_t;
BP_BITPLANE_KERNELS(BP_DECLARE_BITPLANE)
BP_CSR_KERNELS(BP_DECLARE_CSR)

#endif
