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
#define BP_EPILOGUE_KERNELS_X86(X)
#define BP_ROWOP_KERNELS_X86(X)
#endif

#if defined(__aarch64__)
#include "arm/kernel_list_arm.h"
#else
#define BP_BITPLANE_KERNELS_ARM(X)
#define BP_CSR_KERNELS_ARM(X)
#define BP_EPILOGUE_KERNELS_ARM(X)
#define BP_ROWOP_KERNELS_ARM(X)
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

/* Quantize/epilogue family: X(kind, fn, isa), kind naming the table entry
 * (and the function type bp_<kind>_fn_t). */
#define BP_EPILOGUE_KERNELS(X)                                  \
    X(quantize_u8, bp_quantize_u8_scalar, BP_ISA_SCALAR)        \
    X(quantize_s8, bp_quantize_s8_scalar, BP_ISA_SCALAR)        \
    X(gelu_f32, bp_gelu_f32_scalar, BP_ISA_SCALAR)              \
    X(epilogue_f32, bp_epilogue_f32_scalar, BP_ISA_SCALAR)      \
    X(epilogue_u8, bp_epilogue_u8_scalar, BP_ISA_SCALAR)        \
    X(epilogue_s8, bp_epilogue_s8_scalar, BP_ISA_SCALAR)        \
    BP_EPILOGUE_KERNELS_X86(X)                                  \
    BP_EPILOGUE_KERNELS_ARM(X)

/* Row ops: X(kind, fn, isa) as for the epilogue family. One portable source
 * (generic/rowops.c) built once per level, the function names suffixed with
 * the level (BP_ROWOP_SFX). */
#define BP_ROWOP_KERNELS_OF(X, sfx, isa)                        \
    X(tap_acc_u8, bp_tap_acc_u8_##sfx, isa)                     \
    X(tap_acc_s8, bp_tap_acc_s8_##sfx, isa)                     \
    X(s2d_u8, bp_s2d_u8_##sfx, isa)                             \
    X(ln_stats, bp_ln_stats_##sfx, isa)                         \
    X(ln_rows, bp_ln_rows_##sfx, isa)                           \
    X(softmax_f32, bp_softmax_f32_##sfx, isa)                   \
    X(sigmoid_f32, bp_sigmoid_f32_##sfx, isa)                   \
    X(quantize_s8u, bp_quantize_s8u_##sfx, isa)
#define BP_ROWOP_KERNELS(X)                                     \
    BP_ROWOP_KERNELS_OF(X, scalar, BP_ISA_SCALAR)               \
    BP_ROWOP_KERNELS_X86(X)                                     \
    BP_ROWOP_KERNELS_ARM(X)

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
#define BP_DECLARE_EPILOGUE(kind, fn, isa) bp_##kind##_fn_t fn;
BP_EPILOGUE_KERNELS(BP_DECLARE_EPILOGUE)
BP_ROWOP_KERNELS(BP_DECLARE_EPILOGUE)

#endif
