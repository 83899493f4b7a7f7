/* Helpers shared by all x86 kernel files (plain C, no intrinsics). */
#ifndef BPK_KERNEL_X86_H
#define BPK_KERNEL_X86_H

#define BPK_INLINE static inline __attribute__((always_inline))
#define BPK_PRAGMA(x) _Pragma(#x)

/* F(..., idx4) with idx4 a constant in each branch, so F is specialised once
 * per index width of w (2 or 4 bytes). */
#define BPK_BY_IDX_WIDTH(w, F, ...)                                             \
    do {                                                                        \
        if ((w)->idx_bytes == 2)                                                \
            F(__VA_ARGS__, 0);                                                  \
        else                                                                    \
            F(__VA_ARGS__, 1);                                                  \
    } while (0)

#endif
