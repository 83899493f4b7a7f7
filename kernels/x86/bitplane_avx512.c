/* AVX-512 (F/BW) bitplane kernels: per digit, 64-byte contiguous loads of
 * an activation row over a 256-pixel tile, added into int16 partial sums;
 * groups of planes merged by int16 Horner and widened to int32 once per
 * group (plan in ../planes_aux.h). Bench only: the gather-add phase alone
 * and a K-blocked variant. */
#include <immintrin.h>
#include <stdlib.h>

#include "kernel_list.h"
#include "bitplane_x86.h"
#include "planes_aux.h"
#include "store_avx512.h"

#ifndef BPK_NV
#define BPK_NV 4 /* 64-pixel vectors per tile: 256 pixels */
#endif

/* T(n) for every vector count a tail tile can have (1 .. BPK_NV). */
#if BPK_NV > 4
#define BPK_TAIL_CASES(T) T(1) T(2) T(3) T(4) T(5) T(6) T(7) T(8)
#elif BPK_NV > 2
#define BPK_TAIL_CASES(T) T(1) T(2) T(3) T(4)
#else
#define BPK_TAIL_CASES(T) T(1) T(2)
#endif

/* Pixel layout inside one 64-pixel vector: int16 word i holds pixels 2i
 * (low byte) and 2i+1 (high byte). R sums the raw words, O the high bytes
 * (v >> 8); the even sums are R - (O << 8). All modulo 2^16, exact when the
 * plan's group bound holds. A flush interleaves even/odd back into pixel
 * order (vpermt2w), sign-extends to int32 and adds << m into P[v][q], which
 * holds pixels 16q .. 16q+15 of vector v, ready to store. */

BPK_INLINE __m512i bpk_load(const uint8_t *p, int masked, __mmask64 m)
{
    __m512i a = masked ? _mm512_maskz_loadu_epi8(m, p) : _mm512_loadu_si512((const void *)p);
    /* One load per vector: keeps GCC from folding the load into both the add
     * and the shift (a second load-port use per vector). */
    __asm__("" : "+v"(a));
    return a;
}

#define BPK_LOAD(px, v) bpk_load((px) + 64 * (v), masked && (v) == nv - 1, lm)
#define BPK_FLUSH(m) bpk_flush(R, O, P, nv, m, nflush++ == 0)

/* first: the row's first group, so P is assigned, not accumulated (saves
 * zeroing and adding P for the common one-group row). */
BPK_INLINE void bpk_flush(__m512i *R, __m512i *O, __m512i P[][4], int nv, int m, int first)
{
    const __m128i c = _mm_cvtsi32_si128(m);
    /* Pixel t < 32: even -> e word t/2, odd -> o word t/2 (index 32 + t/2). */
    const __m512i ilo = _mm512_set_epi16(47, 15, 46, 14, 45, 13, 44, 12, 43, 11, 42, 10, 41, 9, 40, 8,
                                         39, 7, 38, 6, 37, 5, 36, 4, 35, 3, 34, 2, 33, 1, 32, 0);
    const __m512i ihi = _mm512_set_epi16(63, 31, 62, 30, 61, 29, 60, 28, 59, 27, 58, 26, 57, 25, 56, 24,
                                         55, 23, 54, 22, 53, 21, 52, 20, 51, 19, 50, 18, 49, 17, 48, 16);
#pragma GCC unroll 8
    for (int v = 0; v < nv; v++) {
        const __m512i e = _mm512_sub_epi16(R[v], _mm512_slli_epi16(O[v], 8));
        const __m512i z0 = _mm512_permutex2var_epi16(e, ilo, O[v]);
        const __m512i z1 = _mm512_permutex2var_epi16(e, ihi, O[v]);
        const __m512i w0 = _mm512_cvtepi16_epi32(_mm512_castsi512_si256(z0));
        const __m512i w1 = _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(z0, 1));
        const __m512i w2 = _mm512_cvtepi16_epi32(_mm512_castsi512_si256(z1));
        const __m512i w3 = _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(z1, 1));
        /* |group value| < 2^15 and m <= 8: the shifted value fits int32. */
        const __m512i s0 = _mm512_sll_epi32(w0, c);
        P[v][0] = first ? s0 : _mm512_add_epi32(P[v][0], s0);
        const __m512i s1 = _mm512_sll_epi32(w1, c);
        P[v][1] = first ? s1 : _mm512_add_epi32(P[v][1], s1);
        const __m512i s2 = _mm512_sll_epi32(w2, c);
        P[v][2] = first ? s2 : _mm512_add_epi32(P[v][2], s2);
        const __m512i s3 = _mm512_sll_epi32(w3, c);
        P[v][3] = first ? s3 : _mm512_add_epi32(P[v][3], s3);
        R[v] = _mm512_setzero_si512();
        O[v] = _mm512_setzero_si512();
    }
}

/* One pixel tile (nv vectors, the last masked to `lastw` pixels if masked)
 * for every row. */
BPK_INLINE void bpk_tile(const bp_planes *w, const bpk_planes_aux *aux, uint32_t row0,
                         uint32_t nrows, const uint8_t *xt, size_t ldx, int32_t *yt, size_t ldy,
                         int nv, int masked, uint32_t lastw, int s8, int idx4, int gonly)
{
    const __mmask64 lm = bpk_tail_mask64(masked, lastw);
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    const uint16_t *ix2 = (const uint16_t *)w->idx;
    const uint32_t *ix4 = (const uint32_t *)w->idx;
    for (uint32_t r = 0; r < nrows; r++) {
        const uint32_t j = row0 + r;
        __m512i R[BPK_NV], O[BPK_NV], P[BPK_NV][4];
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++)
            R[v] = O[v] = _mm512_setzero_si512();
        int nflush = 0;
        bpk_plan_walk wk;
        BPK_PLAN_ROW(&wk, __m512i, _mm512, si512, 8, BPK_LOAD, BPK_FLUSH);
        const int last_gm = bpk_plan_walk_last_gm(&wk, aux, j);
        if (gonly) {
            /* Keep the sums observable: raw int16 sums into y (bench only). */
            int32_t *yr = yt + (size_t)r * ldy;
#pragma GCC unroll 8
            for (int v = 0; v < nv; v++) {
                const __m512i t = _mm512_add_epi16(R[v], O[v]);
                const uint32_t n = masked && v == nv - 1 ? (lastw < 16 ? lastw : 16) : 16;
                _mm512_mask_storeu_epi32(yr + 64 * v, (__mmask16)((1u << n) - 1), t);
            }
            continue;
        }
        if (last_gm >= 0) {
            bpk_flush(R, O, P, nv, last_gm, nflush == 0);
        } else {
#pragma GCC unroll 8
            for (int v = 0; v < nv; v++) /* no digits: y = 0 */
                P[v][0] = P[v][1] = P[v][2] = P[v][3] = _mm512_setzero_si512();
        }
        if (s8)
            BPK_S8_CORRECT(__m512i, _mm512, 8, P);
        int32_t *yr = yt + (size_t)r * ldy;
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++) {
            const int lastv = masked && v == nv - 1;
            bpk_store64(yr + 64 * v, P[v], lastv, lastv ? lastw : 64);
        }
    }
}

BPK_INLINE void bpk_bitplane(const bp_planes *w, uint32_t row0, uint32_t nrows, const uint8_t *x,
                             size_t ldx, size_t np, int32_t *y, size_t ldy, int s8, int gonly,
                             int idx4)
{
    const bpk_planes_aux *aux = bpk_planes_aux_get(w);
    size_t p0 = 0;
    for (; p0 + 64 * BPK_NV <= np; p0 += 64 * BPK_NV)
        bpk_tile(w, aux, row0, nrows, x + p0, ldx, y + p0, ldy, BPK_NV, 0, 64, s8, idx4, gonly);
    const size_t rem = np - p0;
    const uint32_t lw = (uint32_t)(rem - (rem - 1) / 64 * 64); /* pixels in the last vector */
#define BPK_TAIL(n) \
    case n: bpk_tile(w, aux, row0, nrows, x + p0, ldx, y + p0, ldy, n, 1, lw, s8, idx4, gonly); break;
    switch ((rem + 63) / 64) {
    case 0: break;
    BPK_TAIL_CASES(BPK_TAIL)
    default: break; /* unreachable: rem < 64 * BPK_NV */
    }
#undef BPK_TAIL
}

/* 16 <= np < 32: one masked 64-pixel vector would idle 50-75% of its lanes;
 * the AVX2 kernel's 16-pixel vectors waste none (AVX-512 implies AVX2). */
#define BPK_NARROW(np) ((np) >= 16 && (np) < 32)

void bp_bitplane_u8_256x1_avx512(const bp_planes *w, uint32_t row0, uint32_t nrows,
                                 const uint8_t *x, size_t ldx, size_t np, int32_t *y, size_t ldy)
{
    if (BPK_NARROW(np)) {
        bp_bitplane_u8_128x1_avx2(w, row0, nrows, x, ldx, np, y, ldy);
        return;
    }
    BPK_BY_IDX_WIDTH(w, bpk_bitplane, w, row0, nrows, x, ldx, np, y, ldy, 0, 0);
}

void bp_bitplane_s8_256x1_avx512(const bp_planes *w, uint32_t row0, uint32_t nrows,
                                 const int8_t *x, size_t ldx, size_t np, int32_t *y, size_t ldy)
{
    if (BPK_NARROW(np)) {
        bp_bitplane_s8_128x1_avx2(w, row0, nrows, x, ldx, np, y, ldy);
        return;
    }
    BPK_BY_IDX_WIDTH(w, bpk_bitplane, w, row0, nrows, (const uint8_t *)x, ldx, np, y, ldy, 1, 0);
}

/* Bench only (not dispatched): the gather-add phase of the u8 kernel alone,
 * same loads and adds, no merge; y receives raw int16 sums, not results. */
void bpk_bitplane_u8_gather_256x1_avx512(const bp_planes *w, uint32_t row0, uint32_t nrows,
                                     const uint8_t *x, size_t ldx, size_t np, int32_t *y,
                                     size_t ldy)
{
    if (BPK_NARROW(np)) {
        bpk_bitplane_u8_gather_128x1_avx2(w, row0, nrows, x, ldx, np, y, ldy);
        return;
    }
    BPK_BY_IDX_WIDTH(w, bpk_bitplane, w, row0, nrows, x, ldx, np, y, ldy, 0, 1);
}

/* ---- Bench only: K blocking (bpk_kblock in kernel_list_x86.h) ----
 * Each K block sums its digits into R/O from zero, with the plan's shifts
 * and flush points: every group sum is linear in its digits, and a block's
 * part of a group has fewer digits than the group, so the bound holds for
 * the part and for the parts' sum. The parts are summed in `carry` (int16,
 * modulo 2^16), and only the last block flushes them to int32. */

#define BPK_KB_SLOT (2 * BPK_NV) /* vectors per carry slot: R then O */

BPK_INLINE void bpk_kb_end_group(__m512i *R, __m512i *O, __m512i P[][4], __m512i *slot, int nv,
                                 uint32_t b, int lastb, int m, int *nflush)
{
    if (b > 0) {
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++) {
            R[v] = _mm512_add_epi16(R[v], _mm512_load_si512((const void *)(slot + v)));
            O[v] = _mm512_add_epi16(O[v], _mm512_load_si512((const void *)(slot + BPK_NV + v)));
        }
    }
    if (lastb) {
        bpk_flush(R, O, P, nv, m, (*nflush)++ == 0);
        return;
    }
#pragma GCC unroll 8
    for (int v = 0; v < nv; v++) {
        _mm512_store_si512((void *)(slot + v), R[v]);
        _mm512_store_si512((void *)(slot + BPK_NV + v), O[v]);
        R[v] = O[v] = _mm512_setzero_si512();
    }
}

BPK_INLINE void bpk_kb_tile(const bpk_kblock *kb, const bp_planes *w, const bpk_planes_aux *aux,
                            uint32_t row0, uint32_t nrows, const uint8_t *xt, size_t ldx,
                            int32_t *yt, size_t ldy, int nv, int masked, uint32_t lastw, int idx4,
                            int gonly)
{
    const __mmask64 lm = bpk_tail_mask64(masked, lastw);
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    const int s8 = 0;
    const uint16_t *ix2 = (const uint16_t *)w->idx;
    const uint32_t *ix4 = (const uint32_t *)w->idx;
    const uint32_t nb = kb->nb, rb = kb->rb ? kb->rb : nrows;
    __m512i *carry = kb->carry;
    for (uint32_t ra = 0; ra < nrows; ra += rb) {
        const uint32_t re = nrows - ra < rb ? nrows : ra + rb;
        for (uint32_t b = 0; b < nb; b++) {
            const int lastb = b == nb - 1;
            for (uint32_t r = ra; r < re; r++) {
                const uint32_t j = row0 + r;
                __m512i R[BPK_NV], O[BPK_NV], P[BPK_NV][4];
#pragma GCC unroll 8
                for (int v = 0; v < nv; v++) {
                    R[v] = O[v] = _mm512_setzero_si512();
                    /* assigned by the first flush of the last block; zeroed
                     * here only so GCC sees every path assign it */
                    P[v][0] = P[v][1] = P[v][2] = P[v][3] = R[v];
                }
                int nflush = 0;
                __m512i *slot = carry + (size_t)kb->slot_ptr[j] * BPK_KB_SLOT;
                const uint32_t t0 = aux->step_ptr[j], t1 = aux->step_ptr[j + 1];
                for (uint32_t t = t0; t < t1; t++) {
                    const bpk_plan_step st = aux->steps[t];
                    const uint32_t *sp = kb->split + (size_t)t * 2 * (nb + 1);
                    if (gonly) {
                    } else if (st.flush) {
                        bpk_kb_end_group(R, O, P, slot, nv, b, lastb, st.fm, &nflush);
                        slot += BPK_KB_SLOT;
                    } else if (st.shl) {
                        const __m128i c = _mm_cvtsi32_si128(st.shl);
#pragma GCC unroll 8
                        for (int v = 0; v < nv; v++) {
                            R[v] = _mm512_sll_epi16(R[v], c);
                            O[v] = _mm512_sll_epi16(O[v], c);
                        }
                    }
                    BPK_GATHER(__m512i, _mm512, si512, 8, BPK_LOAD, add, sp[b], sp[b + 1]);
                    BPK_GATHER(__m512i, _mm512, si512, 8, BPK_LOAD, sub, sp[nb + 1 + b],
                               sp[nb + 2 + b]);
                }
                if (gonly) {
                    /* Keep the sums observable: per row and block, one
                     * 64-byte store of their sum into y (bench only). */
                    __m512i t = _mm512_add_epi16(R[0], O[0]);
#pragma GCC unroll 8
                    for (int v = 1; v < nv; v++)
                        t = _mm512_add_epi16(t, _mm512_add_epi16(R[v], O[v]));
                    const uint32_t n = masked && nv == 1 ? (lastw < 16 ? lastw : 16) : 16;
                    _mm512_mask_storeu_epi32(yt + (size_t)r * ldy, (__mmask16)((1u << n) - 1), t);
                    continue;
                }
                if (t1 > t0)
                    bpk_kb_end_group(R, O, P, slot, nv, b, lastb, aux->last_gm[j], &nflush);
                if (!lastb)
                    continue;
                int32_t *yr = yt + (size_t)r * ldy;
#pragma GCC unroll 8
                for (int v = 0; v < nv; v++) {
                    const int lastv = masked && v == nv - 1;
                    bpk_store64(yr + 64 * v, P[v], lastv, lastv ? lastw : 64);
                }
            }
        }
    }
}

BPK_INLINE void bpk_kb_bitplane(const bpk_kblock *kb, const bp_planes *w,
                                const bpk_planes_aux *aux, uint32_t row0, uint32_t nrows,
                                const uint8_t *x, size_t ldx, size_t np, int32_t *y, size_t ldy,
                                int gonly, int idx4)
{
    size_t p0 = 0;
    for (; p0 + 64 * BPK_NV <= np; p0 += 64 * BPK_NV)
        bpk_kb_tile(kb, w, aux, row0, nrows, x + p0, ldx, y + p0, ldy, BPK_NV, 0, 64, idx4, gonly);
    const size_t rem = np - p0;
    const uint32_t lw = (uint32_t)(rem - (rem - 1) / 64 * 64);
#define BPK_TAIL(n) \
    case n: bpk_kb_tile(kb, w, aux, row0, nrows, x + p0, ldx, y + p0, ldy, n, 1, lw, idx4, gonly); break;
    switch ((rem + 63) / 64) {
    case 0: break;
    BPK_TAIL_CASES(BPK_TAIL)
    default: break;
    }
#undef BPK_TAIL
}

void bpk_bitplane_u8_kblock_256x1_avx512(const bpk_kblock *kb, const bp_planes *w, uint32_t row0,
                                         uint32_t nrows, const uint8_t *x, size_t ldx, size_t np,
                                         int32_t *y, size_t ldy)
{
    const bpk_planes_aux *aux = bpk_planes_aux_get(w);
    /* Without a matching split table (or with one K block) it is the u8
     * kernel. */
    if (!kb || !aux || kb->rows != w->rows || kb->K != w->K || kb->nsteps != aux->nsteps ||
        kb->nb <= 1 || BPK_NARROW(np)) {
        bp_bitplane_u8_256x1_avx512(w, row0, nrows, x, ldx, np, y, ldy);
        return;
    }
    BPK_BY_IDX_WIDTH(w, bpk_kb_bitplane, kb, w, aux, row0, nrows, x, ldx, np, y, ldy, 0);
}

/* Its gather-add phase alone: the same loads and adds per K block, no
 * shifts, flushes or carries; y receives raw sums, not results. */
void bpk_bitplane_u8_kblock_gather_256x1_avx512(const bpk_kblock *kb, const bp_planes *w,
                                                uint32_t row0, uint32_t nrows, const uint8_t *x,
                                                size_t ldx, size_t np, int32_t *y, size_t ldy)
{
    const bpk_planes_aux *aux = bpk_planes_aux_get(w);
    if (!kb || !aux || kb->rows != w->rows || kb->K != w->K || kb->nsteps != aux->nsteps ||
        kb->nb <= 1 || BPK_NARROW(np)) {
        bpk_bitplane_u8_gather_256x1_avx512(w, row0, nrows, x, ldx, np, y, ldy);
        return;
    }
    BPK_BY_IDX_WIDTH(w, bpk_kb_bitplane, kb, w, aux, row0, nrows, x, ldx, np, y, ldy, 1);
}

bpk_kblock *bpk_kblock_new(const bp_planes *w, uint32_t kb, uint32_t rb)
{
    const bpk_planes_aux *aux = bpk_planes_aux_get(w);
    if (!aux || kb == 0)
        return NULL;
    bpk_kblock *k = calloc(1, sizeof(*k));
    if (!k)
        return NULL;
    const uint32_t nb = w->K ? (w->K - 1) / kb + 1 : 1;
    *k = (bpk_kblock){.kb = kb, .nb = nb, .rb = rb, .rows = w->rows, .K = w->K,
                      .nsteps = aux->nsteps};
    k->split = malloc((size_t)aux->nsteps * 2 * (nb + 1) * sizeof(uint32_t) + 4);
    k->slot_ptr = malloc(((size_t)w->rows + 1) * sizeof(uint32_t));
    if (!k->split || !k->slot_ptr) {
        bpk_kblock_free(k);
        return NULL;
    }
    uint32_t nslots = 0;
    for (uint32_t j = 0; j < w->rows; j++) {
        k->slot_ptr[j] = nslots;
        const uint32_t t0 = aux->step_ptr[j], t1 = aux->step_ptr[j + 1];
        nslots += t1 > t0; /* the group open at the end */
        for (uint32_t t = t0; t < t1; t++) {
            const bpk_plan_step *st = &aux->steps[t];
            nslots += st->flush;
            for (int s = 0; s < 2; s++) {
                const uint32_t e = s ? st->neg_end : st->pos_end;
                uint32_t i = s ? st->neg_begin : st->pos_begin;
                uint32_t *sp = k->split + (size_t)t * 2 * (nb + 1) + (size_t)s * (nb + 1);
                for (uint32_t b = 0; b < nb; b++) {
                    /* indices within a step are ascending */
                    while (i < e && (uint64_t)(w->idx_bytes == 2 ? ((const uint16_t *)w->idx)[i]
                                                                 : ((const uint32_t *)w->idx)[i]) <
                                        (uint64_t)b * kb)
                        i++;
                    sp[b] = i;
                }
                sp[nb] = e;
            }
        }
    }
    k->slot_ptr[w->rows] = nslots;
    const size_t cbytes = ((size_t)nslots + 1) * BPK_KB_SLOT * 64;
    k->carry = aligned_alloc(64, cbytes);
    if (!k->carry) {
        bpk_kblock_free(k);
        return NULL;
    }
    return k;
}

void bpk_kblock_free(bpk_kblock *k)
{
    if (!k)
        return;
    free(k->split);
    free(k->slot_ptr);
    free(k->carry);
    free(k);
}
