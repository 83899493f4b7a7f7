/* Dispatch: fills the kernel table with the scalar kernels, then upgrades
 * entry by entry from the X-macro lists, one ISA level at a time. */
#include <string.h>

#include "kernel_list.h"

void bp_kernels_init(bp_kernel_table *t, unsigned mask)
{
    memset(t, 0, sizeof(*t));
    /* Never hand out a kernel the CPU/OS cannot run, whatever the caller asks. */
    mask &= bp_cpu_isa_mask();
    t->bitplane_u8 = bp_bitplane_u8_32x1_scalar;
    t->bitplane_s8 = bp_bitplane_s8_32x1_scalar;
    t->csr_u8 = bp_csr_u8_32x1_scalar;
    t->csr_s8 = bp_csr_s8_32x1_scalar;
    t->bitplane_u8_name = "bp_bitplane_u8_32x1_scalar";
    t->bitplane_s8_name = "bp_bitplane_s8_32x1_scalar";
    t->csr_u8_name = "bp_csr_u8_32x1_scalar";
    t->csr_s8_name = "bp_csr_s8_32x1_scalar";
#define BPK_SET_SCALAR(kind, fn, lv)             \
    if ((lv) == BP_ISA_SCALAR) {                 \
        t->kind = fn;                            \
        t->kind##_name = #fn;                    \
    }
    BP_EPILOGUE_KERNELS(BPK_SET_SCALAR)
    BP_ROWOP_KERNELS(BPK_SET_SCALAR)
#undef BPK_SET_SCALAR
    t->isa = BP_ISA_SCALAR;

    /* Lists are in ascending ISA order; walking the levels outermost makes
     * the upgrade order explicit even if a list is not. */
    for (int lvl = BP_ISA_SCALAR + 1; lvl < BP_ISA_COUNT; lvl++) {
        if (!(mask & BP_ISA_BIT(lvl)))
            continue;
#define BPK_SET(family, at, fn, lv)                  \
        if ((int)(lv) == lvl) {                      \
            t->family##_##at = fn;                   \
            t->family##_##at##_name = #fn;           \
            t->isa = (lv) > t->isa ? (lv) : t->isa;  \
        }
#define BPK_SET_BITPLANE(at, fn, lv) BPK_SET(bitplane, at, fn, lv)
#define BPK_SET_CSR(at, fn, lv) BPK_SET(csr, at, fn, lv)
        BP_BITPLANE_KERNELS(BPK_SET_BITPLANE)
        BP_CSR_KERNELS(BPK_SET_CSR)
#define BPK_SET_EPILOGUE(kind, fn, lv)               \
        if ((int)(lv) == lvl) {                      \
            t->kind = fn;                            \
            t->kind##_name = #fn;                    \
        }
        BP_EPILOGUE_KERNELS(BPK_SET_EPILOGUE)
        BP_ROWOP_KERNELS(BPK_SET_EPILOGUE)
#undef BPK_SET_EPILOGUE
#undef BPK_SET_BITPLANE
#undef BPK_SET_CSR
#undef BPK_SET
    }
}
