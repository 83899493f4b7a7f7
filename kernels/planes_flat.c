/* Builder of the flat digit streams of planes_flat.h from the int16 merge
 * plan of planes_aux.h. */
#include <string.h>

#include "planes_aux.h"
#include "planes_flat.h"

static size_t bpk_flat_align64(size_t n) { return (n + 63) & ~(size_t)63; }

static uint32_t bpk_flat_idx(const bp_planes *p, uint32_t i)
{
    return p->idx_bytes == 2 ? ((const uint16_t *)p->idx)[i] : ((const uint32_t *)p->idx)[i];
}

/* Entries of one digit at relative plane s with sign neg. */
static uint32_t bpk_flat_nent(bpk_flat_mode mode, uint32_t s, int neg)
{
    return mode == BPK_FLAT_MADD && s == 7 && !neg ? 2 : 1;
}

static uint32_t bpk_flat_word(bpk_flat_mode mode, uint32_t s, int neg)
{
    switch (mode) {
    case BPK_FLAT_SHIFT:
        return s;
    case BPK_FLAT_MADD: {
        const int c = neg ? -(1 << s) : (1 << (s == 7 ? 6 : s));
        return (uint8_t)(int8_t)c;
    }
    default:
        return (uint16_t)(int16_t)(neg ? -(1 << s) : (1 << s));
    }
}

/* Walks row j's plan and, if out is non-NULL, writes its groups and entries
 * from *ng and *ne on; counts them either way. */
static void bpk_flat_row(const bp_planes *p, bpk_flat_mode mode, uint32_t j, bpk_flat_group *gout,
                         bpk_flat_ent *eout, uint64_t *ng, uint64_t *ne)
{
    /* A group holds at most one step per plane (M <= BP_M_MAX, checked by
     * the callers), plus the flush step that opens the next group. */
    bpk_plan_step st[BP_M_MAX + 1];
    bpk_plan_gen g;
    bpk_plan_init(&g, p, j);
    uint32_t n = 0;
    for (;;) {
        const int more = bpk_plan_next(&g, &st[n]);
        /* A group ends at a flush step or the row's end: emit steps [0, end). */
        const uint32_t end = more ? (st[n].flush ? n : UINT32_MAX) : n;
        if (end != UINT32_MAX && end > 0) {
            const uint32_t m_lo = st[end - 1].m;
            bpk_flat_group gr = {(uint32_t)*ne, 0, 0, m_lo};
            for (int neg = 0; neg < 2; neg++) {
                if (neg)
                    gr.mid = (uint32_t)*ne;
                for (uint32_t t = 0; t < end; t++) {
                    const uint32_t s = st[t].m - m_lo;
                    const uint32_t b = neg ? st[t].neg_begin : st[t].pos_begin;
                    const uint32_t e = neg ? st[t].neg_end : st[t].pos_end;
                    const uint32_t w = bpk_flat_word(mode, s, neg);
                    const uint32_t k = bpk_flat_nent(mode, s, neg);
                    for (uint32_t i = b; i < e; i++)
                        for (uint32_t r = 0; r < k; r++) {
                            if (eout)
                                eout[*ne] = (bpk_flat_ent){bpk_flat_idx(p, i), w | w << 16};
                            (*ne)++;
                        }
                }
            }
            gr.end = (uint32_t)*ne;
            if (gout)
                gout[*ng] = gr;
            (*ng)++;
            /* The flush step opens the next group. */
            if (more)
                st[0] = st[end];
            n = more ? 1 : 0;
        } else if (more) {
            n++;
        }
        if (!more)
            break;
    }
}

/* Counts groups and entries; -1 if entry offsets would not fit 32 bits. */
static int bpk_flat_count(const bp_planes *p, bpk_flat_mode mode, uint64_t *ng, uint64_t *ne)
{
    *ng = *ne = 0;
    for (uint32_t j = 0; j < p->rows; j++)
        bpk_flat_row(p, mode, j, NULL, NULL, ng, ne);
    return *ne > UINT32_MAX || *ng > UINT32_MAX ? -1 : 0;
}

size_t bpk_planes_flat_size(const bp_planes *p, bpk_flat_mode mode)
{
    if (!p || !p->row_ptr || p->M > BP_M_MAX)
        return 0;
    uint64_t ng, ne;
    if (bpk_flat_count(p, mode, &ng, &ne))
        return 0;
    return bpk_flat_align64(sizeof(bpk_planes_flat)) +
           bpk_flat_align64(((size_t)p->rows + 1) * sizeof(uint32_t)) +
           bpk_flat_align64((size_t)ng * sizeof(bpk_flat_group)) + (size_t)ne * sizeof(bpk_flat_ent);
}

const bpk_planes_flat *bpk_planes_flat_build(const bp_planes *p, bpk_flat_mode mode, void *mem)
{
    if (!p || !mem || !p->row_ptr || p->M > BP_M_MAX)
        return NULL;
    uint64_t ng, ne;
    if (bpk_flat_count(p, mode, &ng, &ne))
        return NULL;
    uint8_t *base = mem;
    bpk_planes_flat *h = mem;
    size_t o = bpk_flat_align64(sizeof(bpk_planes_flat));
    uint32_t *grp_ptr = (uint32_t *)(base + o);
    o += bpk_flat_align64(((size_t)p->rows + 1) * sizeof(uint32_t));
    bpk_flat_group *groups = (bpk_flat_group *)(base + o);
    o += bpk_flat_align64((size_t)ng * sizeof(bpk_flat_group));
    bpk_flat_ent *ents = (bpk_flat_ent *)(base + o);
    uint64_t g = 0, e = 0;
    for (uint32_t j = 0; j < p->rows; j++) {
        grp_ptr[j] = (uint32_t)g;
        bpk_flat_row(p, mode, j, groups, ents, &g, &e);
    }
    grp_ptr[p->rows] = (uint32_t)g;
    memset(h, 0, sizeof(*h));
    h->magic = BPK_PLANES_FLAT_MAGIC;
    h->rows = p->rows;
    h->K = p->K;
    h->M = p->M;
    h->mode = (uint32_t)mode;
    h->ngroups = (uint32_t)ng;
    h->nents = (uint32_t)ne;
    h->grp_ptr = grp_ptr;
    h->groups = groups;
    h->ents = ents;
    return h;
}
