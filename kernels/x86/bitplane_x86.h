/* Shared by the x86 bitplane kernels (bitplane_avx2.c, bitplane_avx512.c):
 * a row's plan steps with their digit gather-add loops, and the s8 bias
 * correction, as macros over the vector type, so each file expands them with
 * its own ISA flags. Include only from those files. */
#ifndef BPK_BITPLANE_X86_H
#define BPK_BITPLANE_X86_H

#include "kernel_x86.h"

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

/* Walks row j's plan (wk: a bpk_plan_walk) and sums its digits into R/O:
 * per step, first the open group is flushed (FLUSH(m), m its plane) or the
 * sums are shifted left by the step's gap, then its digits are gathered;
 * gonly (bench) skips flushes and shifts. Afterwards
 * bpk_plan_walk_last_gm(wk, aux, j) gives the group still open. Expects w,
 * aux, j and what BPK_GATHER expects in scope. */
#define BPK_PLAN_ROW(wk, V, P, S, UNROLL, LOAD, FLUSH)                          \
    do {                                                                        \
        bpk_plan_walk_init(wk, w, aux, j);                                      \
        for (;;) {                                                              \
            bpk_plan_step st;                                                   \
            if (!bpk_plan_walk_next(wk, aux, &st))                              \
                break;                                                          \
            if (gonly) {                                                        \
            } else if (st.flush) {                                              \
                FLUSH(st.fm);                                                   \
            } else if (st.shl) {                                                \
                const __m128i c = _mm_cvtsi32_si128(st.shl);                    \
                BPK_PRAGMA(GCC unroll UNROLL)                                   \
                for (int v = 0; v < nv; v++) {                                  \
                    R[v] = P##_sll_epi16(R[v], c);                              \
                    O[v] = P##_sll_epi16(O[v], c);                              \
                }                                                               \
            }                                                                   \
            BPK_GATHER(V, P, S, UNROLL, LOAD, add, st.pos_begin, st.pos_end);   \
            BPK_GATHER(V, P, S, UNROLL, LOAD, sub, st.neg_begin, st.neg_end);   \
        }                                                                       \
    } while (0)

/* s8 inputs were biased by +128: y = sum w*(x+128) - 128*sum w, subtracted
 * from every int32 result vector acc[v][0..3] of row j (prefix PFX). */
#define BPK_S8_CORRECT(V, PFX, UNROLL, acc)                                     \
    do {                                                                        \
        const int32_t rs = bpk_plan_row_sum(w, aux, j);                         \
        const V corr = PFX##_set1_epi32(rs * 128);                              \
        BPK_PRAGMA(GCC unroll UNROLL)                                           \
        for (int v = 0; v < nv; v++)                                            \
            for (int q = 0; q < 4; q++)                                         \
                acc[v][q] = PFX##_sub_epi32(acc[v][q], corr);                   \
    } while (0)

#endif
