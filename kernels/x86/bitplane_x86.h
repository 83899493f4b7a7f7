/* Shared by the x86 bitplane kernels (bitplane_avx2.c, bitplane_avx512.c):
 * the digit gather-add loop, as a macro over the vector type, so each file
 * expands it with its own ISA flags. Include only from those files. */
#ifndef BPK_BITPLANE_X86_H
#define BPK_BITPLANE_X86_H

#define BPK_PRAGMA(x) _Pragma(#x)

/* The digits of one sign in a plan step, for a tile of nv vectors of type V
 * (intrinsic prefix P, suffix S): activation rows idx[b..e) are loaded once
 * per vector (LOAD(px, v), one load that GCC does not fold twice), biased by
 * +128 if s8, and added (OP = add) or subtracted (OP = sub) into R (raw int16
 * words) and O (their high bytes). A macro, not an inline function: as one,
 * GCC spilled ldx and the offsets inside these loops (one more load per row
 * in a load-bound loop). Expects ix2, ix4, idx4, xt, ldx, nv, s8, bias, R, O
 * in scope. */
#define BPK_GATHER(V, P, S, UNROLL, LOAD, OP, b, e)                             \
    for (uint32_t i = (b); i < (e); i++) {                                      \
        const uint8_t *px = xt + (size_t)(idx4 ? ix4[i] : ix2[i]) * ldx;        \
        BPK_PRAGMA(GCC unroll UNROLL)                                           \
        for (int v = 0; v < nv; v++) {                                          \
            V a = LOAD(px, v);                                                  \
            if (s8)                                                             \
                a = P##_xor_##S(a, bias);                                       \
            R[v] = P##_##OP##_epi16(R[v], a);                                   \
            O[v] = P##_##OP##_epi16(O[v], P##_srli_epi16(a, 8));                \
        }                                                                       \
    }

#endif
