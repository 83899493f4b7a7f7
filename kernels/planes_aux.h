/* Kernel-private analysis of planes and CSR: the int16 merge plan of the
 * bitplane kernels and the VNNI quad stream of the CSR kernels. Shared by
 * planes_aux.c (built once per layer) and the SIMD kernels (which rebuild
 * the plan on the fly when aux is NULL). */
#ifndef BP_PLANES_AUX_H
#define BP_PLANES_AUX_H

#include <stdint.h>

#include "bp_kernels.h"

/* ---- Bitplane merge plan ----
 * A row's digits are summed in int16 lanes with wrapping arithmetic, merged by
 * Horner's rule from the top plane down (acc16 = (acc16 << gap) + s_m). Adds
 * and left shifts are exact modulo 2^16, so a group of planes [m_hi..m_lo]
 * is exact as long as its true value  sum_m 2^(m-m_lo) s_m  lies in int16.
 * With x in 0..255 (u8, or s8 biased by +128) that holds when the weighted
 * digit counts  Wp = sum 2^(m-m_lo) n+_m  and  Wn = sum 2^(m-m_lo) n-_m  are
 * both <= 128 (255*128 = 32640 <= 32767). A group is then widened to int32
 * once and added << m_lo into the row's int32 accumulator ("flush").
 * A plane with more than 128 digits of one sign is split into several
 * groups. Typical lambda=1 rows need 1-3 flushes instead of one per plane. */
#define BPK_PLAN_LIM 128u

typedef struct bpk_plan_step {
    uint32_t pos_begin, pos_end; /* idx range added */
    uint32_t neg_begin, neg_end; /* idx range subtracted */
    uint8_t flush;               /* 1: flush the open group (at fm) first */
    uint8_t fm;                  /* plane of the group to flush */
    uint8_t shl;                 /* else: shift acc16 left by shl first */
    uint8_t m;                   /* plane of this step */
} bpk_plan_step;

/* Incremental planner for one row (no allocation, O(steps)). */
typedef struct bpk_plan_gen {
    const uint32_t *rp; /* row_ptr + j*M*2 */
    int m;              /* plane being consumed */
    uint32_t pcur, ncur;
    uint32_t wp, wn;    /* open group's weighted counts (<= BPK_PLAN_LIM) */
    int gm;             /* open group's lowest plane, -1 if none */
} bpk_plan_gen;

static inline void bpk_plan_init(bpk_plan_gen *g, const bp_planes *p, uint32_t j)
{
    g->rp = p->row_ptr + (size_t)j * p->M * 2;
    g->m = (int)p->M - 1;
    g->pcur = g->m >= 0 ? g->rp[(size_t)g->m * 2] : 0;
    g->ncur = g->m >= 0 ? g->rp[(size_t)g->m * 2 + 1] : 0;
    g->wp = g->wn = 0;
    g->gm = -1;
}

/* Next step, or 0 when the row is done (then g->gm is the group still open,
 * -1 if the row had no digits). */
static inline int bpk_plan_next(bpk_plan_gen *g, bpk_plan_step *s)
{
    for (;;) {
        if (g->m < 0)
            return 0;
        const uint32_t pe = g->rp[(size_t)g->m * 2 + 1];
        const uint32_t ne = g->rp[(size_t)g->m * 2 + 2];
        const uint32_t np = pe - g->pcur, nn = ne - g->ncur;
        if (np == 0 && nn == 0) {
            g->m--;
            if (g->m >= 0) {
                g->pcur = g->rp[(size_t)g->m * 2];
                g->ncur = g->rp[(size_t)g->m * 2 + 1];
            }
            continue;
        }
        s->m = (uint8_t)g->m;
        s->flush = 0;
        s->fm = 0;
        s->shl = 0;
        if (g->gm >= 0) {
            const int gap = g->gm - g->m;
            /* wp <= 128 and gap <= 8: no overflow in 32 bits. */
            const uint64_t wp2 = ((uint64_t)g->wp << gap) + np;
            const uint64_t wn2 = ((uint64_t)g->wn << gap) + nn;
            if (wp2 <= BPK_PLAN_LIM && wn2 <= BPK_PLAN_LIM) {
                s->shl = (uint8_t)gap;
                s->pos_begin = g->pcur;
                s->pos_end = pe;
                s->neg_begin = g->ncur;
                s->neg_end = ne;
                g->pcur = pe;
                g->ncur = ne;
                g->wp = (uint32_t)wp2;
                g->wn = (uint32_t)wn2;
                g->gm = g->m;
                return 1;
            }
            s->flush = 1;
            s->fm = (uint8_t)g->gm;
        }
        const uint32_t tp = np < BPK_PLAN_LIM ? np : BPK_PLAN_LIM;
        const uint32_t tn = nn < BPK_PLAN_LIM ? nn : BPK_PLAN_LIM;
        s->pos_begin = g->pcur;
        s->pos_end = g->pcur + tp;
        s->neg_begin = g->ncur;
        s->neg_end = g->ncur + tn;
        g->pcur += tp;
        g->ncur += tn;
        g->wp = tp;
        g->wn = tn;
        g->gm = g->m;
        return 1;
    }
}

/* sum_k w[j][k] from the digit counts (for the +128 bias of s8 inputs);
 * |sum| <= 32768*255 < 2^23, times 128 still fits int32. */
static inline int32_t bpk_planes_row_sum(const bp_planes *p, uint32_t j)
{
    const uint32_t *rp = p->row_ptr + (size_t)j * p->M * 2;
    int32_t s = 0;
    for (uint32_t m = 0; m < p->M; m++)
        s += (int32_t)((rp[2 * m + 1] - rp[2 * m]) - (rp[2 * m + 2] - rp[2 * m + 1])) *
             (int32_t)(1u << m);
    return s;
}

#define BPK_PLANES_AUX_MAGIC 0x31585041u /* "APX1" */

/* Layout (64-byte aligned, from bp_planes_aux_build):
 *   header, step_ptr[rows+1], open_gm[rows] (int8 padded to 4), steps[]. */
typedef struct bpk_planes_aux {
    uint32_t magic, rows, K, M;
    uint32_t nsteps;
    uint32_t pad[3];
    const uint32_t *step_ptr;   /* rows+1 */
    const int32_t *row_sum;     /* rows */
    const int8_t *last_gm;      /* rows: group open at the end, -1 none */
    const bpk_plan_step *steps; /* nsteps */
} bpk_planes_aux;

/* The aux of p if it was built for these planes, else NULL. */
static inline const bpk_planes_aux *bpk_planes_aux_get(const bp_planes *p)
{
    const bpk_planes_aux *a = (const bpk_planes_aux *)p->aux;
    if (a && a->magic == BPK_PLANES_AUX_MAGIC && a->rows == p->rows && a->K == p->K &&
        a->M == p->M)
        return a;
    return NULL;
}

/* ---- Walking one row's plan ----
 * The SIMD kernels take a row's steps from aux when it was built for these
 * planes, else from the incremental planner; `aux` is the same in every call
 * for one row, so the branches stay loop-invariant. */
typedef struct bpk_plan_walk {
    const bpk_plan_step *sp, *se; /* aux: steps still to take */
    bpk_plan_gen g;               /* no aux: the planner */
} bpk_plan_walk;

static inline __attribute__((always_inline)) void
bpk_plan_walk_init(bpk_plan_walk *wk, const bp_planes *p, const bpk_planes_aux *aux, uint32_t j)
{
    *wk = (bpk_plan_walk){0};
    if (aux) {
        wk->sp = aux->steps + aux->step_ptr[j];
        wk->se = aux->steps + aux->step_ptr[j + 1];
    } else {
        bpk_plan_init(&wk->g, p, j);
    }
}

/* Next step into *st, or 0 when the row is done. */
static inline __attribute__((always_inline)) int
bpk_plan_walk_next(bpk_plan_walk *wk, const bpk_planes_aux *aux, bpk_plan_step *st)
{
    if (aux) {
        if (wk->sp == wk->se)
            return 0;
        *st = *wk->sp++;
        return 1;
    }
    return bpk_plan_next(&wk->g, st);
}

/* After the walk: the plane of the group still open, -1 if the row had no
 * digits. */
static inline __attribute__((always_inline)) int
bpk_plan_walk_last_gm(const bpk_plan_walk *wk, const bpk_planes_aux *aux, uint32_t j)
{
    return aux ? aux->last_gm[j] : wk->g.gm;
}

/* Row sum for the s8 bias correction, from aux when there is one. */
static inline __attribute__((always_inline)) int32_t
bpk_plan_row_sum(const bp_planes *p, const bpk_planes_aux *aux, uint32_t j)
{
    return aux ? aux->row_sum[j] : bpk_planes_row_sum(p, j);
}

/* ---- CSR quad stream (VNNI vpdpbusd) ----
 * Per row, the nonzeros as groups of 4 (k, w) with |w| <= 127 packed as s8
 * in one int32: a weight with |w| >= 128 is split into several entries on
 * the same k (exact: the products add). Padding entries repeat a valid k of
 * the row with weight 0, so no x outside the row's runs is read. */
typedef struct bpk_csr_quad {
    uint32_t k[4];
    int32_t w4; /* 4 x s8, entry i in byte i */
} bpk_csr_quad;

#define BPK_CSR_AUX_MAGIC 0x31585143u /* "CQX1" */

typedef struct bpk_csr_aux {
    uint32_t magic, rows, K, pad0;
    uint32_t nquads;
    uint32_t pad[3];
    const uint32_t *quad_ptr; /* rows+1 */
    const int32_t *row_sum;   /* rows: sum_k w[j][k] */
    const bpk_csr_quad *quads;
} bpk_csr_aux;

static inline const bpk_csr_aux *bpk_csr_aux_get(const bp_csr *c)
{
    const bpk_csr_aux *a = (const bpk_csr_aux *)c->aux;
    if (a && a->magic == BPK_CSR_AUX_MAGIC && a->rows == c->rows && a->K == c->K)
        return a;
    return NULL;
}

#endif
