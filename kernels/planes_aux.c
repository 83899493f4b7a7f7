/* Kernel-private per-layer analysis, built once at load time: the int16
 * merge plan of every bitplane row and the VNNI quad stream of every CSR row
 * (layouts and invariants in planes_aux.h). */
#include <string.h>

#include "planes_aux.h"

static size_t bpk_align64(size_t n) { return (n + 63) & ~(size_t)63; }

static uint64_t bpk_planes_count_steps(const bp_planes *p)
{
    uint64_t n = 0;
    for (uint32_t j = 0; j < p->rows; j++) {
        bpk_plan_gen g;
        bpk_plan_step s;
        bpk_plan_init(&g, p, j);
        while (bpk_plan_next(&g, &s))
            n++;
    }
    return n;
}

size_t bp_planes_aux_size(const bp_planes *p)
{
    if (!p || !p->row_ptr)
        return 0;
    const uint64_t ns = bpk_planes_count_steps(p);
    return bpk_align64(sizeof(bpk_planes_aux)) +
           bpk_align64(((size_t)p->rows + 1) * sizeof(uint32_t)) +
           bpk_align64((size_t)p->rows * sizeof(int32_t)) +
           bpk_align64((size_t)p->rows) + (size_t)ns * sizeof(bpk_plan_step);
}

void bp_planes_aux_build(bp_planes *p, void *aux)
{
    if (!p)
        return;
    p->aux = NULL;
    if (!aux || !p->row_ptr)
        return;
    uint8_t *base = aux;
    bpk_planes_aux *h = aux;
    size_t o = bpk_align64(sizeof(bpk_planes_aux));
    uint32_t *step_ptr = (uint32_t *)(base + o);
    o += bpk_align64(((size_t)p->rows + 1) * sizeof(uint32_t));
    int32_t *row_sum = (int32_t *)(base + o);
    o += bpk_align64((size_t)p->rows * sizeof(int32_t));
    int8_t *last_gm = (int8_t *)(base + o);
    o += bpk_align64((size_t)p->rows);
    bpk_plan_step *steps = (bpk_plan_step *)(base + o);

    uint32_t n = 0;
    for (uint32_t j = 0; j < p->rows; j++) {
        bpk_plan_gen g;
        bpk_plan_init(&g, p, j);
        step_ptr[j] = n;
        while (bpk_plan_next(&g, &steps[n]))
            n++;
        last_gm[j] = (int8_t)g.gm;
        row_sum[j] = bpk_planes_row_sum(p, j);
    }
    step_ptr[p->rows] = n;
    memset(h, 0, sizeof(*h));
    h->magic = BPK_PLANES_AUX_MAGIC;
    h->rows = p->rows;
    h->K = p->K;
    h->M = p->M;
    h->nsteps = n;
    h->step_ptr = step_ptr;
    h->row_sum = row_sum;
    h->last_gm = last_gm;
    h->steps = steps;
    p->aux = h;
}

/* Entries of |w| split into pieces of at most 127. */
static uint32_t bpk_csr_pieces(int32_t w)
{
    const uint32_t a = (uint32_t)(w < 0 ? -w : w);
    return a == 0 ? 0 : (a + 126) / 127;
}

static uint32_t bpk_csr_row_quads(const bp_csr *c, uint32_t j)
{
    uint64_t e = 0;
    for (uint32_t i = c->row_ptr[j]; i < c->row_ptr[j + 1]; i++)
        e += bpk_csr_pieces(c->val[i]);
    return (uint32_t)((e + 3) / 4);
}

size_t bp_csr_aux_size(const bp_csr *c)
{
    if (!c || !c->row_ptr)
        return 0;
    uint64_t nq = 0;
    for (uint32_t j = 0; j < c->rows; j++)
        nq += bpk_csr_row_quads(c, j);
    return bpk_align64(sizeof(bpk_csr_aux)) +
           bpk_align64(((size_t)c->rows + 1) * sizeof(uint32_t)) +
           bpk_align64((size_t)c->rows * sizeof(int32_t)) + (size_t)nq * sizeof(bpk_csr_quad);
}

void bp_csr_aux_build(bp_csr *c, void *aux)
{
    if (!c)
        return;
    c->aux = NULL;
    if (!aux || !c->row_ptr)
        return;
    uint8_t *base = aux;
    bpk_csr_aux *h = aux;
    size_t o = bpk_align64(sizeof(bpk_csr_aux));
    uint32_t *quad_ptr = (uint32_t *)(base + o);
    o += bpk_align64(((size_t)c->rows + 1) * sizeof(uint32_t));
    int32_t *row_sum = (int32_t *)(base + o);
    o += bpk_align64((size_t)c->rows * sizeof(int32_t));
    bpk_csr_quad *q = (bpk_csr_quad *)(base + o);

    uint32_t nq = 0;
    for (uint32_t j = 0; j < c->rows; j++) {
        quad_ptr[j] = nq;
        const uint32_t b = c->row_ptr[j], e = c->row_ptr[j + 1];
        int32_t sum = 0;
        uint32_t slot = 0;
        uint32_t kpad = 0;
        for (uint32_t i = b; i < e; i++) {
            const uint32_t k = c->idx_bytes == 2 ? ((const uint16_t *)c->idx)[i]
                                                 : ((const uint32_t *)c->idx)[i];
            int32_t w = c->val[i];
            sum += w;
            if (i == b)
                kpad = k;
            while (w != 0) {
                const int32_t piece = w > 127 ? 127 : w < -127 ? -127 : w;
                w -= piece;
                if (slot == 0)
                    memset(&q[nq], 0, sizeof(q[nq]));
                q[nq].k[slot] = k;
                q[nq].w4 = (int32_t)((uint32_t)q[nq].w4 | ((uint32_t)(uint8_t)(int8_t)piece << (8 * slot)));
                if (++slot == 4) {
                    slot = 0;
                    nq++;
                }
            }
        }
        if (slot) {
            for (; slot < 4; slot++)
                q[nq].k[slot] = kpad; /* weight byte stays 0 */
            nq++;
        }
        row_sum[j] = sum;
    }
    quad_ptr[c->rows] = nq;
    memset(h, 0, sizeof(*h));
    h->magic = BPK_CSR_AUX_MAGIC;
    h->rows = c->rows;
    h->K = c->K;
    h->nquads = nq;
    h->quad_ptr = quad_ptr;
    h->row_sum = row_sum;
    h->quads = q;
    c->aux = h;
}
