/* Flat digit streams of bitplane weights (bench-only prototype): each row's
 * int16 merge groups (the plan of planes_aux.h) as one entry stream per
 * group, so a kernel runs one loop per group instead of one per plane and
 * sign. Built once per layer by bpk_planes_flat_build. */
#ifndef BP_PLANES_FLAT_H
#define BP_PLANES_FLAT_H

#include <stddef.h>
#include <stdint.h>

#include "bp_kernels.h"

/* How an entry's coefficient word c (both halves of `c2`) is encoded:
 *   MUL:   c = +-2^s (int16), s = plane - group's lowest plane (s <= 7);
 *   SHIFT: c = s, the sign given by the entry's place (pos part or neg part);
 *   MADD:  c = (uint8_t)(+-2^s) as an s8 in the low byte, high byte 0, for
 *          vpmaddubsw; +128 is not an s8, so a +2^7 digit is stored as two
 *          +2^6 entries on the same index (the products add: exact). */
typedef enum bpk_flat_mode {
    BPK_FLAT_MUL = 1,
    BPK_FLAT_SHIFT = 2,
    BPK_FLAT_MADD = 3,
} bpk_flat_mode;

/* One digit: activation row idx, coefficient word c in both 16-bit halves
 * of c2 (a 32-bit broadcast is a plain load, a 16-bit one is not). */
typedef struct bpk_flat_ent {
    uint32_t idx;
    uint32_t c2;
} bpk_flat_ent;

/* One group: entries [begin, mid) are added, [mid, end) subtracted (MUL and
 * MADD carry the sign in c, so a kernel may run [begin, end) as one loop).
 * The group's int16 sum is exact by the bound of planes_aux.h (weighted
 * digit counts <= 128 per sign) and is added << m_lo to the row. */
typedef struct bpk_flat_group {
    uint32_t begin, mid, end;
    uint32_t m_lo;
} bpk_flat_group;

#define BPK_PLANES_FLAT_MAGIC 0x31544c46u /* "FLT1" */

typedef struct bpk_planes_flat {
    uint32_t magic, rows, K, M;
    uint32_t mode, ngroups, nents, pad;
    const uint32_t *grp_ptr;       /* rows+1: row j has groups [grp_ptr[j], grp_ptr[j+1]) */
    const bpk_flat_group *groups;  /* ngroups */
    const bpk_flat_ent *ents;      /* nents */
} bpk_planes_flat;

/* Bytes needed for p's flat streams (0 if p is unusable or needs 2^32 or
 * more entries); the caller owns the memory, 64-byte aligned. */
size_t bpk_planes_flat_size(const bp_planes *p, bpk_flat_mode mode);
/* Builds the streams into mem (of bpk_planes_flat_size bytes) and returns
 * them; NULL where the size is 0. */
const bpk_planes_flat *bpk_planes_flat_build(const bp_planes *p, bpk_flat_mode mode, void *mem);

/* The flat streams of p if aux holds ones built for it in this mode. */
static inline const bpk_planes_flat *bpk_planes_flat_get(const bp_planes *p, bpk_flat_mode mode)
{
    const bpk_planes_flat *f = (const bpk_planes_flat *)p->aux;
    if (f && f->magic == BPK_PLANES_FLAT_MAGIC && f->mode == (uint32_t)mode &&
        f->rows == p->rows && f->K == p->K && f->M == p->M)
        return f;
    return NULL;
}

#endif
