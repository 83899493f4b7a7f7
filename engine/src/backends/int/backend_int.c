/* The integer backends "reference", "bitplane" and "csr": one driver, three
 * kernels. Input is quantized once per layer (the kernel table's quantize),
 * or written already quantized by the step before (bp_int_qinput says
 * where); activations are fed to the kernel channel-major (K x pixels):
 * directly for 1x1 stride-1 convs; straight from zero-bordered planes for
 * stride-1 k x k convs on bitplane and csr (the weights' indices rewritten
 * to byte offsets); through cache-sized tiles otherwise (padded-row tiles
 * for stride 1 on the reference kernel, im2col tiles for other strides; both
 * over the whole batch). int32 accumulators go through the canonical epilogue
 * (the kernel table's, bp_arith.h) to float and/or straight into the next
 * layers' quantized input bytes (bp_int_set_qout). All three compute the
 * same int32 accumulators, so their outputs are bit-identical. Work items
 * are (image, group, pixel tile, row block); row blocks balance digit
 * counts. Pixel tiles run over the whole batch (image after image) wherever
 * the input layout allows, so that small maps still fill the kernels'
 * 64-pixel vectors at batch > 1. Every output element is computed by one
 * item in a fixed order: results do not depend on the thread count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "engine.h"
#include "quant.h"

typedef enum bp_int_kind { BP_INT_REF, BP_INT_BITPLANE, BP_INT_CSR } bp_int_kind;

/* Rows per kernel call: bounds the int32 accumulator tile to 64 x pt. */
#define BP_ROW_CHUNK 64u
/* im2col tile budget in bytes (K_g x pt int8), sized for L2. */
#define BP_TILE_BYTES (128u * 1024u)
#define BP_PT_MAX 1024u
#define BP_PT_MIN 64u

/* How a layer's input reaches the kernel (chosen once per layer). */
typedef enum bp_int_path {
    BP_PATH_LINEAR,   /* K x N: one pixel per image */
    BP_PATH_DIRECT,   /* 1x1, stride 1, no padding: the input is already K x P */
    BP_PATH_S2D,      /* kernel == stride, no padding, no dilation (patchify,
                         downsample): quantized space-to-depth makes the input
                         K x P, then as direct */
    BP_PATH_PADDED,   /* stride 1, k > 1: rows over the padded width (below) */
    BP_PATH_INPLACE,  /* the same rows read in place, bitplane/csr: weight
                         indices are offsets into the padded planes (below) */
    BP_PATH_IMPLICIT, /* one input channel per group, bitplane/csr: no im2col,
                         each digit adds a run of the padded plane
                         (bp_int_item_implicit) */
    BP_PATH_IM2COL,   /* anything else: im2col tiles */
} bp_int_path;

typedef struct bp_int_layer {
    bp_layer_desc d;
    bp_int_kind kind;
    bp_int_path path;
    int s8;
    bp_kernel_table kt;
    int threads;
    bp_team *team;       /* the session's (NULL at one thread) */
    uint32_t qparts;     /* parts the input quantization is split into */
    int bmerge;          /* pixel tiles run over the batch's pixels, image after
                            image (padded, im2col; direct and s2d at batch > 1
                            when P leaves vector lanes idle: their quantized
                            input is then K x (N*P), row k holding every image) */
    size_t Wp, plane;    /* padded input geometry (padded, in-place and implicit
                            paths) */
    uint32_t trows;      /* output rows per tile (padded, in-place and implicit
                            paths) */
    const bp_planes *wpl; /* the weights the kernel reads: d.planes / d.csr, or */
    const bp_csr *wcsr;   /* (in-place path) zpl / zcsr */
    bp_planes zpl;       /* in-place path: d's rows with indices rewritten to */
    bp_csr zcsr;         /* byte offsets into the group's padded planes (own */
    void *zidx, *zaux;   /* index array and kernel aux; row_ptr, val shared) */
    bp_tap *taps;        /* implicit path: taps of row j are */
    uint32_t *tap_ptr;   /* taps[tap_ptr[j] .. tap_ptr[j+1]) */
    size_t ldacc;        /* implicit path: accumulator row stride (Wp when
                            sh = sw = 1: "virtual" pixels as in the padded path) */
    uint32_t N, c_in, H, W, OH, OW, c_out, K, groups, cig, cog;
    uint32_t kh, kw, sh, sw, pt_, pl_, dh, dw;
    size_t HW, P;        /* P: pixels per image (conv) or N (linear) */
    size_t xrow;         /* direct and s2d: stride of the quantized input's rows
                            (P, or N*P when bmerge) */
    uint32_t images;     /* images with their own tiles: N, or 1 (linear, bmerge) */
    uint32_t pt;         /* pixel tile */
    uint32_t ntiles;
    uint32_t R;          /* row blocks per group */
    int serial;          /* 1: layer_run stays on the calling thread (the layer
                            is too small to pay for a team and its barriers) */
    uint32_t *rb;        /* [groups * (R + 1)] absolute row bounds */
    size_t n_items;
    uint8_t *xq;         /* quantized input; bytes reinterpreted as s8 when s8 */
    size_t xq_elems;
    unsigned char *scratch; /* per thread: [tile_bytes][acc] */
    size_t tile_bytes, scratch_stride;
    uint8_t *tiles;      /* im2col with row blocks (R > 1): every tile, built
                            once per run by all threads (K split in kparts),
                            instead of by each item that reads it; else NULL */
    uint32_t kparts;
    char kname[96];
    bp_qdest qout[BP_QDEST_MAX]; /* readers' input bytes this layer writes */
    uint32_t n_qout;
} bp_int_layer;

static uint64_t bp_int_row_cost(const bp_int_layer *L, uint32_t j)
{
    switch (L->kind) {
    case BP_INT_BITPLANE: {
        const bp_planes *p = L->d.planes;
        uint32_t M2 = p->M * 2;
        return (uint64_t)(p->row_ptr[(size_t)(j + 1) * M2] - p->row_ptr[(size_t)j * M2]) +
               2u * p->M;
    }
    case BP_INT_CSR:
        return (uint64_t)(L->d.csr->row_ptr[j + 1] - L->d.csr->row_ptr[j]) + 1u;
    default:
        return L->K;
    }
}

/* Splits rows [lo, hi) into R consecutive blocks of about equal total cost
 * (each boundary at the row whose midpoint crosses total*r/R): bounds[0] = lo,
 * bounds[R] = hi, monotone. cost(j) is queried through the callback. */
void bp_split_rows_by_cost(uint64_t (*cost)(const void *ctx, uint32_t j), const void *ctx,
                           uint32_t lo, uint32_t hi, uint32_t R, uint32_t *bounds)
{
    uint64_t total = 0;
    for (uint32_t j = lo; j < hi; j++) total += cost(ctx, j);
    bounds[0] = lo;
    uint64_t acc = 0;
    uint32_t j = lo;
    for (uint32_t r = 1; r < R; r++) {
        uint64_t target = total * r / R;
        while (j < hi && acc + cost(ctx, j) / 2 < target) acc += cost(ctx, j++);
        bounds[r] = j;
    }
    bounds[R] = hi;
}

static uint64_t bp_int_row_cost_cb(const void *ctx, uint32_t j)
{
    return bp_int_row_cost((const bp_int_layer *)ctx, j);
}

/* Splits each group's rows into R blocks of about equal cost (digits for
 * bitplane, nonzeros for csr): bit-pruned rows are very uneven. */
static void bp_int_row_blocks(bp_int_layer *L)
{
    for (uint32_t g = 0; g < L->groups; g++)
        bp_split_rows_by_cost(bp_int_row_cost_cb, L, g * L->cog, (g + 1) * L->cog, L->R,
                              L->rb + (size_t)g * (L->R + 1));
}

static void bp_int_destroy(void *state)
{
    bp_int_layer *L = state;
    if (!L) return;
    free(L->rb);
    free(L->taps);
    free(L->tap_ptr);
    free(L->zidx);
    bp_aligned_free(L->zaux);
    bp_aligned_free(L->xq);
    bp_aligned_free(L->scratch);
    bp_aligned_free(L->tiles);
    free(L);
}

static int bp_impl_build(bp_int_layer *L);
static int bp_inplace_build(bp_int_layer *L);

static bp_status bp_int_create(const bp_layer_desc *d, const bp_backend_env *env,
                               bp_int_kind kind, void **state)
{
    *state = NULL;
    const bpf_layer *F = d->L;
    bp_int_layer *L = calloc(1, sizeof *L);
    if (!L) return bp_fail(BP_ERR_NOMEM, "layer '%s': out of memory", d->name);
    L->d = *d;
    L->kind = kind;
    L->s8 = F->act_dtype == BPF_DT_S8;
    L->kt = *env->kt;
    L->threads = env->threads > 0 ? env->threads : 1;
    L->team = d->team; /* bp_team_slots(team) == threads: scratch is per slot */
    L->qparts = 4u * (uint32_t)L->threads;
    L->N = d->N;
    L->c_in = F->c_in;
    L->c_out = F->c_out;
    L->K = F->K;
    L->groups = F->groups;
    L->cig = F->c_in / F->groups;
    L->cog = F->c_out / F->groups;
    L->H = d->H;
    L->W = d->W;
    L->OH = d->OH;
    L->OW = d->OW;
    L->kh = F->kh; L->kw = F->kw;
    L->sh = F->stride_h; L->sw = F->stride_w;
    L->pt_ = F->pad_t; L->pl_ = F->pad_l;
    L->dh = F->dil_h; L->dw = F->dil_w;
    L->HW = (size_t)L->H * L->W;
    L->wpl = d->planes;
    L->wcsr = d->csr;

    if (F->kind == BPF_LAYER_LINEAR) {
        L->path = BP_PATH_LINEAR;
        if (L->groups != 1 || L->K != L->c_in) {
            bp_int_destroy(L);
            return bp_fail(BP_ERR_BAD_GRAPH, "layer '%s': linear with K=%u c_in=%u "
                           "groups=%u", d->name, F->K, F->c_in, F->groups);
        }
        L->P = L->N;
        L->images = 1;
        L->xq_elems = (size_t)L->K * L->N;
    } else {
        if ((uint64_t)(F->c_in / F->groups) * F->kh * F->kw != F->K) {
            bp_int_destroy(L);
            return bp_fail(BP_ERR_BAD_GRAPH, "layer '%s': K=%u but c_in/groups*kh*kw=%llu",
                           d->name, F->K,
                           (unsigned long long)(F->c_in / F->groups) * F->kh * F->kw);
        }
        L->P = (size_t)L->OH * L->OW;
        L->images = L->N;
        L->xq_elems = (size_t)L->N * L->c_in * L->HW;
        int nopad = F->pad_t == 0 && F->pad_l == 0 && F->pad_b == 0 && F->pad_r == 0;
        if (L->kh == 1 && L->kw == 1 && L->sh == 1 && L->sw == 1 && nopad &&
            L->OH == L->H && L->OW == L->W)
            L->path = BP_PATH_DIRECT;
        /* Depthwise-like (one input channel per group, K = kh*kw): a row has
         * a handful of digits out of K, so building K im2col rows wastes
         * nearly everything; the implicit path adds shifted runs of the
         * padded plane instead. Any stride. */
        else if (L->cig == 1 && kind != BP_INT_REF)
            L->path = BP_PATH_IMPLICIT;
        /* Non-overlapping windows: quantizing straight into the im2col order
         * (row (ci*kh+dy)*kw+dx holds pixel (oy*kh+dy, ox*kw+dx)) writes each
         * input byte once and needs no tiles. */
        else if (L->kh == L->sh && L->kw == L->sw && L->dh == 1 && L->dw == 1 && nopad)
            L->path = BP_PATH_S2D;
        /* Stride 1, k > 1: the input is quantized into a zero-bordered
         * (Hp x Wp) plane and the kernel runs over "virtual" pixels r*Wp + c
         * of whole output rows, c < Wp. Then im2col row (ci, dy, dx) of a
         * tile is ONE contiguous run of the padded plane starting at
         * (oy0 + dy*dh)*Wp + dx*dw; columns c >= OW are computed and
         * discarded (the cost: Wp/OW extra work; measured faster than im2col
         * even at 4x4, Wp/OW = 1.5). Valid columns read only inside their
         * padded row. bitplane and csr then skip the tile (in-place path,
         * below); the reference kernel copies it. */
        else if (L->sh == 1 && L->sw == 1)
            L->path = BP_PATH_PADDED;
        else
            L->path = BP_PATH_IM2COL;
        /* Direct and s2d at batch > 1: one pixel range over the batch when an
         * image alone leaves lanes of the kernels' 64-pixel vectors idle
         * (7x7: 49 of 64, 14x14: 196 of 256); batch 2 of 14x14 then fills
         * 392 of 448, batch 3 588 of 640. */
        if ((L->path == BP_PATH_DIRECT || L->path == BP_PATH_S2D) && L->N > 1 && L->P % 64)
            L->bmerge = 1;
        L->xrow = L->bmerge ? (size_t)L->N * L->P : L->P;
        if (L->path == BP_PATH_S2D)
            L->xq_elems = (size_t)L->N * L->c_in * L->kh * L->kw * L->P;
        if (L->path == BP_PATH_PADDED || L->path == BP_PATH_IMPLICIT) {
            L->Wp = (size_t)L->W + F->pad_l + F->pad_r;
            L->plane = ((size_t)L->H + F->pad_t + F->pad_b) * L->Wp;
            /* garbage columns of the last row read up to (kw-1)*dw past the
             * last plane, and the implicit path's runs rounded up to 16
             * outputs up to 15 more: slack at the end */
            L->xq_elems = (size_t)L->N * L->c_in * L->plane + (size_t)(L->kw - 1) * L->dw + 64;
        }
        /* In place: tile row k = (ci, dy, dx) is the run at byte offset
         * ci*plane + dy*dh*Wp + dx*dw of the group's planes, row oy0, so the
         * kernel reads the planes themselves (ldx = 1) when the weights'
         * indices are those offsets. Tiles stay inside one image (its last
         * row and the next image's first are not Wp bytes apart) and end at
         * column OW of their last row: no slack needed (bp_inplace_build).
         * Offsets past 32 bits keep the copying path. */
        if (L->path == BP_PATH_PADDED && kind != BP_INT_REF) {
            int r = bp_inplace_build(L);
            if (r < 0) {
                bp_int_destroy(L);
                return bp_fail(BP_ERR_NOMEM, "layer '%s': out of memory for the in-place "
                               "weight indices", d->name);
            }
            if (r > 0) {
                L->path = BP_PATH_INPLACE;
                L->xq_elems = (size_t)L->N * L->c_in * L->plane;
            }
        }
    }
    const bp_int_path path = L->path;

    /* Pixel tile: an im2col tile of K_g x pt bytes stays within BP_TILE_BYTES. */
    if (path == BP_PATH_PADDED || path == BP_PATH_IM2COL) L->bmerge = 1;
    if (L->bmerge) L->images = 1; /* tiles index pixels of the whole batch */
    size_t pix = L->bmerge ? (size_t)L->N * L->P : L->P; /* pixels tiles cover */
    size_t pt = BP_PT_MAX;
    if (path == BP_PATH_IM2COL) {
        size_t fit = BP_TILE_BYTES / L->K;
        fit = fit / BP_PT_MIN * BP_PT_MIN;
        if (fit < BP_PT_MIN) fit = BP_PT_MIN;
        if (fit < pt) pt = fit;
    }
    if (pt > pix) pt = pix;
    if (pt == 0) pt = 1;
    size_t ntiles = (pix + pt - 1) / pt;
    if (path == BP_PATH_IM2COL && pix > BP_PT_MIN) {
        /* Equal tiles, as many as a multiple of the threads when there are
         * few (each thread builds only its own tiles): 256 pixels at
         * K = 576 were 192 + 64, one thread doing 3/4 of the layer. */
        size_t T = (size_t)L->threads;
        size_t want = ntiles < 4 * T ? (ntiles + T - 1) / T * T : ntiles;
        size_t even = (pix + want - 1) / want;
        even = (even + BP_PT_MIN - 1) / BP_PT_MIN * BP_PT_MIN;
        if (even < pt) pt = even;
        ntiles = (pix + pt - 1) / pt;
    }
    L->pt = (uint32_t)pt;
    if (path == BP_PATH_PADDED) {
        size_t rows_all = (size_t)L->N * L->OH;
        size_t rows = BP_TILE_BYTES / ((size_t)L->K * L->Wp);
        if (rows * L->Wp > BP_PT_MAX) rows = BP_PT_MAX / L->Wp;
        if (rows < 1) rows = 1;
        if (rows > rows_all) rows = rows_all;
        L->trows = (uint32_t)rows;
        pt = rows * L->Wp;
        L->pt = (uint32_t)pt;
        ntiles = (rows_all + rows - 1) / rows;
    }
    if (path == BP_PATH_INPLACE) {
        /* tiles of whole output rows of one image, up to BP_PT_MAX virtual
         * pixels, of equal height */
        size_t most = BP_PT_MAX / L->Wp;
        if (most < 1) most = 1;
        ntiles = (L->OH + most - 1) / most;
        size_t rows = (L->OH + ntiles - 1) / ntiles;
        L->trows = (uint32_t)rows;
        pt = rows * L->Wp;
        L->pt = (uint32_t)pt;
    }

    if (path == BP_PATH_IMPLICIT) {
        /* tiles: output rows of one image whose int32 rows stay within 32 KiB */
        L->ldacc = L->sh == 1 && L->sw == 1 ? L->Wp : L->OW;
        size_t rows = 8192 / L->ldacc;
        if (rows < 1) rows = 1;
        if (rows > L->OH) rows = L->OH;
        L->trows = (uint32_t)rows;
        pt = rows * L->ldacc;
        L->pt = (uint32_t)pt;
        ntiles = (L->OH + rows - 1) / rows;
    }
    /* Buffer sizes in this function stay below 2^57 on 64-bit targets under
     * the format limits (tensors <= 2^32 elements, batch <= 2^16, pads <= 64).
     * Tile counts are kept in 32 bits: a layer needing more (only with
     * hundreds of GiB of input) is refused rather than truncated. */
    size_t tiles_total;
    if (ntiles > UINT32_MAX ||
        bp_mul_overflows((size_t)L->images * L->groups, ntiles, &tiles_total)) {
        bp_int_destroy(L);
        return bp_fail(BP_ERR_LIMIT, "layer '%s': %zu pixel tiles at batch %u, more than "
                       "this backend can count (%u)", d->name, ntiles, d->N, UINT32_MAX);
    }
    L->ntiles = (uint32_t)ntiles;
    size_t T = (size_t)L->threads;
    L->R = 1;
    /* Too few tiles for the threads: split each tile's output rows into R
     * items. The padded and im2col paths build their tile in every item, so
     * they get one item per thread (each thread copies the tile once); the
     * others four, for balance. */
    size_t per_thread = path == BP_PATH_PADDED || path == BP_PATH_IM2COL ? 1 : 4;
    if (T > 1 && tiles_total < per_thread * T) {
        size_t want = (per_thread * T + tiles_total - 1) / tiles_total;
        L->R = (uint32_t)(want < L->cog ? want : L->cog);
        if (L->R == 0) L->R = 1;
    }
    L->n_items = tiles_total * L->R;
    L->rb = malloc(sizeof(uint32_t) * L->groups * (L->R + 1));
    L->xq = bp_aligned_alloc(L->xq_elems);
    L->tile_bytes = (path == BP_PATH_PADDED || path == BP_PATH_IM2COL)
                        ? (((size_t)L->K * pt + 63) & ~(size_t)63) : 0;
    L->scratch_stride = L->tile_bytes + (size_t)BP_ROW_CHUNK * pt * sizeof(int32_t);
    if (path == BP_PATH_IMPLICIT)
        L->scratch_stride = ((size_t)(pt + 16) * sizeof(int32_t) + 63) & ~(size_t)63;
    if ((path == BP_PATH_PADDED || path == BP_PATH_INPLACE || path == BP_PATH_IMPLICIT ||
         path == BP_PATH_S2D) &&
        L->scratch_stride < L->HW) /* quantize temp */
        L->scratch_stride = (L->HW + 63) & ~(size_t)63;
    L->scratch = bp_aligned_alloc(L->scratch_stride * T);
    int tiles_fail = 0;
    if (path == BP_PATH_IM2COL && L->R > 1) {
        /* the R items of a tile would each build all of it */
        L->kparts = 4u * (uint32_t)T;
        L->tiles = bp_aligned_alloc(tiles_total * L->tile_bytes);
        tiles_fail = !L->tiles;
    }
    if (!L->rb || !L->xq || !L->scratch || tiles_fail ||
        (path == BP_PATH_IMPLICIT && bp_impl_build(L) != 0)) {
        bp_int_destroy(L);
        return bp_fail(BP_ERR_NOMEM, "layer '%s': out of memory for backend buffers",
                       d->name);
    }
    bp_int_row_blocks(L);
    /* Small layers run on one thread: a fork and two barriers (a few
     * microseconds on an idle machine) cost more than ~2^18 lane operations
     * of work. */
    uint64_t work = 0;
    for (uint32_t j = 0; j < L->c_out; j++) work += bp_int_row_cost(L, j);
    work *= (uint64_t)L->P * (path == BP_PATH_LINEAR ? 1u : L->N);
    L->serial = L->threads <= 1 || work < (1u << 18);

    const char *kn;
    switch (kind) {
    case BP_INT_BITPLANE: kn = L->s8 ? L->kt.bitplane_s8_name : L->kt.bitplane_u8_name; break;
    case BP_INT_CSR: kn = L->s8 ? L->kt.csr_s8_name : L->kt.csr_u8_name; break;
    default: kn = L->s8 ? "bp_ref_dense_s8" : "bp_ref_dense_u8"; break;
    }
    static const char *const path_name[] = {"linear", "direct 1x1", "space-to-depth",
                                            "padded-row tiles", "padded planes in place",
                                            "implicit depthwise",
                                            "im2col tiles"};
    snprintf(L->kname, sizeof L->kname, "%s (%s%s)", kn ? kn : "?", path_name[path],
             L->bmerge && (path == BP_PATH_DIRECT || path == BP_PATH_S2D) ? ", batch merged"
                                                                         : "");
    int missing = kind == BP_INT_BITPLANE
                      ? (L->s8 ? L->kt.bitplane_s8 == NULL : L->kt.bitplane_u8 == NULL)
                  : kind == BP_INT_CSR ? (L->s8 ? L->kt.csr_s8 == NULL : L->kt.csr_u8 == NULL)
                                       : 0;
    if (missing) {
        bp_int_destroy(L);
        return bp_fail(BP_ERR_UNSUPPORTED, "layer '%s': no kernel in the dispatch table",
                       d->name);
    }
    *state = L;
    return BP_OK;
}

/* Short copies/fills (runs of one output row, often 7..56 bytes) inline:
 * a libc call per run costs more than the run itself. Overlapping 16/8-byte
 * moves for the tails; never touch bytes outside [d, d+n). */
static inline void bp_copy_run(uint8_t *restrict d, const uint8_t *restrict s, size_t n)
{
    if (n >= 16) {
        size_t i = 0;
        for (; i + 16 <= n; i += 16) memcpy(d + i, s + i, 16);
        if (i < n) memcpy(d + n - 16, s + n - 16, 16);
    } else if (n >= 8) {
        memcpy(d, s, 8);
        memcpy(d + n - 8, s + n - 8, 8);
    } else {
        for (size_t i = 0; i < n; i++) d[i] = s[i];
    }
}

static inline void bp_zero_run(uint8_t *d, size_t n)
{
    static const uint8_t z[16];
    if (n >= 16) {
        size_t i = 0;
        for (; i + 16 <= n; i += 16) memcpy(d + i, z, 16);
        if (i < n) memcpy(d + n - 16, z, 16);
    } else {
        for (size_t i = 0; i < n; i++) d[i] = 0;
    }
}

/* Builds rows [0, K_g) x pixels [p0, p0+np) of the group's im2col matrix;
 * padding is the integer 0 (symmetric quantization has no zero point). */
static void bp_int_im2col(const bp_int_layer *L, const uint8_t *xg, size_t p0, size_t np,
                          uint8_t *tile, size_t ld, uint32_t k0, uint32_t k1)
{
    uint32_t k = 0;
    for (uint32_t ci = 0; ci < L->cig; ci++) {
        const uint8_t *src = xg + ci * L->HW;
        for (uint32_t dy = 0; dy < L->kh; dy++)
            for (uint32_t dx = 0; dx < L->kw; dx++, k++) {
                if (k < k0 || k >= k1)
                    continue;
                uint8_t *dst = tile + (size_t)k * ld;
                size_t p = 0;
                uint32_t oy = (uint32_t)(p0 / L->OW), ox = (uint32_t)(p0 % L->OW);
                long ixo = (long)dx * L->dw - (long)L->pl_;
                while (p < np) {
                    size_t run = L->OW - ox;
                    if (run > np - p) run = np - p;
                    long iy = (long)oy * L->sh - (long)L->pt_ + (long)dy * L->dh;
                    if (iy < 0 || iy >= (long)L->H) {
                        bp_zero_run(dst + p, run);
                    } else {
                        const uint8_t *srow = src + (size_t)iy * L->W;
                        if (L->sw == 1) {
                            /* valid q: 0 <= ox + q + ixo < W */
                            long qa = -ixo - (long)ox, qb = (long)L->W - ixo - (long)ox;
                            if (qa < 0) qa = 0;
                            if (qb > (long)run) qb = (long)run;
                            if (qb < qa) qb = qa;
                            if (qa > (long)run) qa = qb = (long)run;
                            bp_zero_run(dst + p, (size_t)qa);
                            if (qb > qa)
                                bp_copy_run(dst + p + qa, srow + ox + qa + ixo,
                                            (size_t)(qb - qa));
                            bp_zero_run(dst + p + qb, run - (size_t)qb);
                        } else {
                            /* valid q: 0 <= (ox + q) * sw + ixo < W */
                            long sw = (long)L->sw, base = (long)ox * sw + ixo;
                            long qa = base >= 0 ? 0 : (-base + sw - 1) / sw;
                            long qb = base >= (long)L->W ? 0 : ((long)L->W - base + sw - 1) / sw;
                            if (qb > (long)run) qb = (long)run;
                            if (qa > qb) qa = qb;
                            bp_zero_run(dst + p, (size_t)qa);
                            for (long q = qa; q < qb; q++) dst[p + (size_t)q] = srow[base + q * sw];
                            bp_zero_run(dst + p + qb, run - (size_t)qb);
                        }
                    }
                    p += run;
                    ox = 0;
                    oy++;
                }
            }
    }
}

static void bp_int_kernel(const bp_int_layer *L, uint32_t j0, uint32_t nr, const uint8_t *x,
                          size_t ldx, size_t np, int32_t *acc)
{
    switch (L->kind) {
    case BP_INT_BITPLANE:
        if (L->s8) L->kt.bitplane_s8(L->wpl, j0, nr, (const int8_t *)x, ldx, np, acc, np);
        else L->kt.bitplane_u8(L->wpl, j0, nr, x, ldx, np, acc, np);
        break;
    case BP_INT_CSR:
        if (L->s8) L->kt.csr_s8(L->wcsr, j0, nr, (const int8_t *)x, ldx, np, acc, np);
        else L->kt.csr_u8(L->wcsr, j0, nr, x, ldx, np, acc, np);
        break;
    default: {
        const int16_t *w = L->d.w_dense + (size_t)j0 * L->K;
        if (L->s8) bp_ref_dense_s8(w, L->K, nr, L->K, (const int8_t *)x, ldx, np, acc, np);
        else bp_ref_dense_u8(w, L->K, nr, L->K, x, ldx, np, acc, np);
        break;
    }
    }
}

/* Writes epilogue e (rows [j0, j0+nr), n pixels from pixel p of image img):
 * as float to yo (row stride ldy) unless yo is NULL, and quantized to each
 * of the layer's readers (from the float rows when there are some). */
static void bp_int_emit(const bp_int_layer *L, const bp_epi_rows *e, uint32_t j0, uint32_t nr,
                        uint32_t img, size_t p, size_t n, float *yo, size_t ldy)
{
    size_t W = L->path == BP_PATH_LINEAR ? 1 : L->OW;
    if (yo) L->kt.epilogue_f32(e, nr, n, yo, ldy);
    for (uint32_t k = 0; k < L->n_qout; k++) {
        if (yo) bp_qdest_put_f32(&L->kt, &L->qout[k], img, j0, nr, p, n, W, yo, ldy);
        else bp_qdest_put_epi(&L->kt, &L->qout[k], img, j0, nr, p, n, W, e);
    }
}

/* Epilogue of output rows [j0, j0+nr) for n pixels starting at pixel p of
 * image img (the kernel table's canonical epilogue); acc row stride lda,
 * y/residual NCHW (y NULL: quantized outputs only). */
static inline void bp_int_epilogue_run(const bp_int_layer *L, const int32_t *acc, size_t lda,
                                       uint32_t j0, uint32_t nr, uint32_t img, size_t p,
                                       size_t n, const float *res, float *y)
{
    size_t base = ((size_t)img * L->c_out + j0) * L->P + p;
    bp_epi_rows e = {acc, lda, L->d.out_scale + j0, L->d.bias + j0, res ? res + base : NULL,
                     L->P, L->d.act, 0.0f};
    bp_int_emit(L, &e, j0, nr, img, p, n, y ? y + base : NULL, L->P);
}

static inline uint32_t bp_idx_at(const void *idx, uint32_t bytes, size_t i)
{
    return bytes == 2 ? ((const uint16_t *)idx)[i] : ((const uint32_t *)idx)[i];
}

/* Offset of window tap r = dy*kw + dx from the tap (0, 0) in a padded plane
 * (the implicit path's taps, the in-place path's weight indices). */
static inline size_t bp_tap_off(const bp_int_layer *L, uint32_t r)
{
    return (size_t)(r / L->kw) * L->dh * L->Wp + (size_t)(r % L->kw) * L->dw;
}

/* Builds the tap lists of all rows (offsets need the padded width) for the
 * kernel table's tap_acc_u8/s8: per weight digit (bitplane, +/- x << sh) or
 * nonzero (csr, val * x) one run of the padded plane at offset off (window
 * tap dy, dx). The bitplane taps are pure shift-adds (per digit, the same
 * int32 sums as the kernels' add-shift-add); the sums fit int32 (|acc| <=
 * K*255*max|w|). */
static int bp_impl_build(bp_int_layer *L)
{
    size_t total;
    if (L->kind == BP_INT_BITPLANE) {
        const bp_planes *P = L->d.planes;
        total = P->row_ptr[(size_t)L->c_out * P->M * 2];
    } else {
        total = L->d.csr->row_ptr[L->c_out];
    }
    L->tap_ptr = malloc(sizeof(uint32_t) * (L->c_out + 1));
    L->taps = malloc(sizeof(bp_tap) * (total ? total : 1));
    if (!L->tap_ptr || !L->taps) return -1;
    size_t nt = 0;
    for (uint32_t j = 0; j < L->c_out; j++) {
        L->tap_ptr[j] = (uint32_t)nt;
        if (L->kind == BP_INT_BITPLANE) {
            const bp_planes *P = L->d.planes;
            for (uint32_t m = 0; m < P->M; m++)
                for (uint32_t sg = 0; sg < 2; sg++) {
                    size_t e = ((size_t)j * P->M + m) * 2 + sg;
                    for (uint32_t i = P->row_ptr[e]; i < P->row_ptr[e + 1]; i++) {
                        uint32_t k = bp_idx_at(P->idx, P->idx_bytes, i);
                        bp_tap *t = &L->taps[nt++];
                        t->off = (uint32_t)bp_tap_off(L, k);
                        t->sh = (uint16_t)m;
                        t->neg = (uint16_t)sg;
                        t->val = 0;
                    }
                }
        } else {
            const bp_csr *C = L->d.csr;
            for (uint32_t i = C->row_ptr[j]; i < C->row_ptr[j + 1]; i++) {
                uint32_t k = bp_idx_at(C->idx, C->idx_bytes, i);
                bp_tap *t = &L->taps[nt++];
                t->off = (uint32_t)bp_tap_off(L, k);
                t->sh = 0;
                t->neg = 0;
                t->val = C->val[i];
            }
        }
    }
    L->tap_ptr[L->c_out] = (uint32_t)nt;
    return 0;
}

/* The in-place path's weights: a copy of the layer's planes (bitplane) or
 * CSR (csr) whose index k = (ci*kh + dy)*kw + dx becomes the byte offset
 * ci*plane + dy*dh*Wp + dx*dw into a group's padded planes (2 bytes when
 * every offset fits, else 4), K the largest offset + 1, the kernel aux
 * rebuilt for it (the CSR quads hold indices; the plane plan only positions,
 * but is tied to K). Offsets grow with k, so each row's order is kept.
 * Returns 1, 0 when the path does not apply (then nothing is allocated),
 * -1 when out of memory. Reads: the tile of output rows [oy0, oy0+nrow)
 * starts at oy0*Wp and covers (nrow-1)*Wp + OW bytes per index, so its last
 * byte read is ci*plane + (oy0+nrow-1 + (kh-1)*dh)*Wp + OW-1 + (kw-1)*dw
 * <= (cig-1)*plane + (Hp-1)*Wp + Wp-1: inside the group's last plane (at
 * stride 1, OH + (kh-1)*dh = Hp and OW + (kw-1)*dw = Wp; checked). */
static int bp_inplace_build(bp_int_layer *L)
{
    const size_t Wp = L->Wp, Hp = L->plane / Wp;
    if ((size_t)L->OH + (size_t)(L->kh - 1) * L->dh != Hp ||
        (size_t)L->OW + (size_t)(L->kw - 1) * L->dw != Wp)
        return 0;
    uint64_t omax = (uint64_t)(L->cig - 1) * L->plane + (uint64_t)(L->kh - 1) * L->dh * Wp +
                    (uint64_t)(L->kw - 1) * L->dw;
    if (omax >= UINT32_MAX) return 0; /* K = omax + 1 is a uint32 */
    const uint32_t ib = omax <= 65535u ? 2u : 4u;
    const uint32_t khw = L->kh * L->kw;
    const void *src;
    uint32_t sb;
    size_t n;
    if (L->kind == BP_INT_BITPLANE) {
        const bp_planes *P = L->d.planes;
        n = P->row_ptr[(size_t)P->rows * P->M * 2];
        src = P->idx;
        sb = P->idx_bytes;
    } else {
        const bp_csr *C = L->d.csr;
        n = C->row_ptr[C->rows];
        src = C->idx;
        sb = C->idx_bytes;
    }
    L->zidx = malloc(n ? n * ib : 1);
    if (!L->zidx) return -1;
    for (size_t i = 0; i < n; i++) {
        uint32_t k = bp_idx_at(src, sb, i), ci = k / khw, r = k % khw;
        size_t off = (size_t)ci * L->plane + bp_tap_off(L, r);
        if (ib == 2) ((uint16_t *)L->zidx)[i] = (uint16_t)off;
        else ((uint32_t *)L->zidx)[i] = (uint32_t)off;
    }
    size_t asz;
    if (L->kind == BP_INT_BITPLANE) {
        L->zpl = *L->d.planes;
        L->zpl.K = (uint32_t)(omax + 1);
        L->zpl.idx_bytes = ib;
        L->zpl.idx = L->zidx;
        L->zpl.aux = NULL;
        asz = bp_planes_aux_size(&L->zpl);
        if (asz && !(L->zaux = bp_aligned_alloc(asz))) return -1;
        if (asz) bp_planes_aux_build(&L->zpl, L->zaux);
        L->wpl = &L->zpl;
    } else {
        L->zcsr = *L->d.csr;
        L->zcsr.K = (uint32_t)(omax + 1);
        L->zcsr.idx_bytes = ib;
        L->zcsr.idx = L->zidx;
        L->zcsr.aux = NULL;
        asz = bp_csr_aux_size(&L->zcsr);
        if (asz && !(L->zaux = bp_aligned_alloc(asz))) return -1;
        if (asz) bp_csr_aux_build(&L->zcsr, L->zaux);
        L->wcsr = &L->zcsr;
    }
    return 1;
}

/* One work item of the in-place path: output rows [oy0, oy0+nrow) of image
 * img, group g, weight rows [lo, hi); the kernel reads the group's padded
 * planes through the offset indices (bp_inplace_build), virtual pixels
 * r*Wp + c up to column OW of the last row. */
static void bp_int_item_inplace(const bp_int_layer *L, uint32_t img, uint32_t g, uint32_t tile,
                                uint32_t lo, uint32_t hi, unsigned char *scr, const float *res,
                                float *y)
{
    size_t oy0 = (size_t)tile * L->trows;
    size_t nrow = L->OH - oy0 < L->trows ? L->OH - oy0 : L->trows;
    size_t Wp = L->Wp, np = (nrow - 1) * Wp + L->OW;
    const uint8_t *x = L->xq + ((size_t)img * L->c_in + (size_t)g * L->cig) * L->plane + oy0 * Wp;
    int32_t *acc = (int32_t *)scr;
    for (uint32_t j0 = lo; j0 < hi; j0 += BP_ROW_CHUNK) {
        uint32_t nr = hi - j0 < BP_ROW_CHUNK ? hi - j0 : BP_ROW_CHUNK;
        bp_int_kernel(L, j0, nr, x, 1, np, acc);
        for (size_t rr = 0; rr < nrow; rr++)
            bp_int_epilogue_run(L, acc + rr * Wp, np, j0, nr, img, (oy0 + rr) * L->OW, L->OW,
                                res, y);
    }
}

/* One work item of the implicit path (one input channel per group): output
 * rows [oy0, oy0+nrow) of image img, weight rows [lo, hi) of group g. No
 * im2col: each tap adds one run of the padded plane of input channel g.
 * Stride 1: one run over "virtual" pixels of whole padded rows (columns >= OW
 * computed and discarded; the last row stops at OW, so reads stay inside the
 * padded plane); other strides: one strided run per output row. */
static void bp_int_item_implicit(const bp_int_layer *L, uint32_t img, uint32_t g,
                                 uint32_t tile, uint32_t lo, uint32_t hi, unsigned char *scr,
                                 const float *res, float *y)
{
    uint32_t oy0 = tile * L->trows;
    uint32_t nrow = L->OH - oy0 < L->trows ? L->OH - oy0 : L->trows;
    const uint8_t *xp = L->xq + ((size_t)img * L->c_in + g) * L->plane;
    uint32_t *acc = (uint32_t *)scr;
    int csr = L->kind == BP_INT_CSR, virt = L->sh == 1 && L->sw == 1;
    for (uint32_t j = lo; j < hi; j++) {
        const bp_tap *t = L->taps + L->tap_ptr[j];
        uint32_t nt = L->tap_ptr[j + 1] - L->tap_ptr[j];
        for (uint32_t r = 0; r < (virt ? 1u : nrow); r++) {
            const uint8_t *x = xp + (size_t)(oy0 + r) * L->sh * L->Wp;
            /* virtual runs rounded up to whole 16-output blocks (the extra
             * outputs are discarded columns or past the tile: never stored
             * to y; reads stay in xq's slack) */
            size_t n = virt ? ((size_t)(nrow - 1) * L->Wp + L->OW + 15) & ~(size_t)15 : L->OW;
            uint32_t *a = acc + (size_t)r * L->ldacc;
            if (L->s8) L->kt.tap_acc_s8(a, (const int8_t *)x, n, L->sw, t, nt, csr);
            else L->kt.tap_acc_u8(a, x, n, L->sw, t, nt, csr);
        }
        /* virtual rows (stride Wp) packed to OW apart, in place (forward:
         * row r moves down), so one epilogue call covers the tile */
        if (virt)
            for (uint32_t r = 1; r < nrow; r++)
                memmove(acc + (size_t)r * L->OW, acc + (size_t)r * L->ldacc,
                        (size_t)L->OW * sizeof *acc);
        bp_int_epilogue_run(L, (const int32_t *)acc, (size_t)nrow * L->OW, j, 1, img,
                            (size_t)oy0 * L->OW, (size_t)nrow * L->OW, res, y);
    }
}

/* One work item of the padded path: global output rows [g0, g0+nrow) of the
 * batch (row G is row G % OH of image G / OH), group g, weight rows [lo, hi). */
static void bp_int_item_padded(const bp_int_layer *L, uint32_t g, uint32_t tile, uint32_t lo,
                               uint32_t hi, unsigned char *scr, const float *res, float *y)
{
    size_t rows_all = (size_t)L->N * L->OH;
    size_t g0 = (size_t)tile * L->trows;
    size_t nrow = rows_all - g0 < L->trows ? rows_all - g0 : L->trows;
    size_t Wp = L->Wp, np = nrow * Wp, OW = L->OW, OH = L->OH;
    uint8_t *tile_x = scr;
    /* per image segment: rows [r0, r0+seg) of image img go to tile rows G-g0 */
    for (size_t G = g0; G < g0 + nrow;) {
        size_t img = G / OH, r0 = G % OH;
        size_t seg = OH - r0 < g0 + nrow - G ? OH - r0 : g0 + nrow - G;
        const uint8_t *xg = L->xq + (img * L->c_in + (size_t)g * L->cig) * L->plane;
        uint8_t *dst0 = tile_x + (G - g0) * Wp;
        size_t k = 0;
        for (uint32_t ci = 0; ci < L->cig; ci++)
            for (uint32_t dy = 0; dy < L->kh; dy++) {
                const uint8_t *src = xg + ci * L->plane + (r0 + (size_t)dy * L->dh) * Wp;
                for (uint32_t dx = 0; dx < L->kw; dx++, k++)
                    memcpy(dst0 + k * np, src + (size_t)dx * L->dw, seg * Wp);
            }
        G += seg;
    }
    int32_t *acc = (int32_t *)(scr + L->tile_bytes);
    for (uint32_t j0 = lo; j0 < hi; j0 += BP_ROW_CHUNK) {
        uint32_t nr = hi - j0 < BP_ROW_CHUNK ? hi - j0 : BP_ROW_CHUNK;
        bp_int_kernel(L, j0, nr, tile_x, np, np, acc);
        for (size_t rr = 0; rr < nrow; rr++) {
            size_t G = g0 + rr;
            bp_int_epilogue_run(L, acc + rr * Wp, np, j0, nr, (uint32_t)(G / OH),
                                (G % OH) * OW, OW, res, y);
        }
    }
}

/* Epilogue of rows [j0, j0+nr) for the batch's pixels [gq0, gq0+np) (pixel
 * q is pixel q % P of image q / P), split where images end; acc holds pixel
 * gq0 at column 0, row stride lda. */
static void bp_int_epilogue_tile(const bp_int_layer *L, const int32_t *acc, size_t lda,
                                 uint32_t j0, uint32_t nr, size_t gq0, size_t np,
                                 const float *res, float *y)
{
    const size_t P = L->P;
    for (size_t q = gq0; q < gq0 + np;) {
        size_t img = q / P, p = q % P;
        size_t seg = P - p < gq0 + np - q ? P - p : gq0 + np - q;
        bp_int_epilogue_run(L, acc + (q - gq0), lda, j0, nr, (uint32_t)img, p, seg, res, y);
        q += seg;
    }
}

/* Rows [k0, k1) of im2col tile `tile` of group g into dst (row stride: the
 * tile's pixel count). */
static void bp_int_im2col_tile(const bp_int_layer *L, uint32_t g, uint32_t tile, uint32_t k0,
                               uint32_t k1, uint8_t *dst)
{
    size_t P = L->P, all = (size_t)L->N * P;
    size_t gp0 = (size_t)tile * L->pt;
    size_t np = all - gp0 < L->pt ? all - gp0 : L->pt;
    for (size_t q = gp0; q < gp0 + np;) {
        size_t img = q / P, p = q % P;
        size_t seg = P - p < gp0 + np - q ? P - p : gp0 + np - q;
        const uint8_t *xg = L->xq + (img * L->c_in + (size_t)g * L->cig) * L->HW;
        bp_int_im2col(L, xg, p, seg, dst + (q - gp0), np, k0, k1);
        q += seg;
    }
}

/* Part i of building every shared tile (L->tiles): tile i / kparts, its
 * share i % kparts of the K rows. */
static void bp_int_tiles_part(const bp_int_layer *L, size_t i)
{
    size_t t = i / L->kparts;
    uint32_t kp = (uint32_t)(i % L->kparts);
    uint32_t k0 = (uint32_t)((uint64_t)L->K * kp / L->kparts);
    uint32_t k1 = (uint32_t)((uint64_t)L->K * (kp + 1) / L->kparts);
    bp_int_im2col_tile(L, (uint32_t)(t / L->ntiles), (uint32_t)(t % L->ntiles), k0, k1,
                       L->tiles + t * L->tile_bytes);
}

/* One work item of the im2col path: global pixels [gp0, gp0+np) of the batch
 * (pixel q is pixel q % P of image q / P); its tile built here, or read from
 * L->tiles. */
static void bp_int_item_im2col(const bp_int_layer *L, uint32_t g, uint32_t tile, uint32_t lo,
                               uint32_t hi, unsigned char *scr, const float *res, float *y)
{
    size_t all = (size_t)L->N * L->P;
    size_t gp0 = (size_t)tile * L->pt;
    size_t np = all - gp0 < L->pt ? all - gp0 : L->pt;
    const uint8_t *x = scr;
    if (L->tiles)
        x = L->tiles + ((size_t)g * L->ntiles + tile) * L->tile_bytes;
    else
        bp_int_im2col_tile(L, g, tile, 0, L->K, scr);
    int32_t *acc = (int32_t *)(scr + L->tile_bytes);
    for (uint32_t j0 = lo; j0 < hi; j0 += BP_ROW_CHUNK) {
        uint32_t nr = hi - j0 < BP_ROW_CHUNK ? hi - j0 : BP_ROW_CHUNK;
        bp_int_kernel(L, j0, nr, x, np, np, acc);
        bp_int_epilogue_tile(L, acc, np, j0, nr, gp0, np, res, y);
    }
}

static void bp_int_item(const bp_int_layer *L, size_t it, unsigned char *scr,
                        const float *res, float *y)
{
    uint32_t r = (uint32_t)(it % L->R);
    size_t t = it / L->R;
    uint32_t tile = (uint32_t)(t % L->ntiles);
    t /= L->ntiles;
    uint32_t g = (uint32_t)(t % L->groups);
    uint32_t img = (uint32_t)(t / L->groups);
    const uint32_t *b = L->rb + (size_t)g * (L->R + 1);
    uint32_t lo = b[r], hi = b[r + 1];
    if (lo >= hi) return;
    switch (L->path) {
    case BP_PATH_IMPLICIT: bp_int_item_implicit(L, img, g, tile, lo, hi, scr, res, y); return;
    case BP_PATH_PADDED: bp_int_item_padded(L, g, tile, lo, hi, scr, res, y); return;
    case BP_PATH_INPLACE: bp_int_item_inplace(L, img, g, tile, lo, hi, scr, res, y); return;
    case BP_PATH_IM2COL: bp_int_item_im2col(L, g, tile, lo, hi, scr, res, y); return;
    default: break;
    }
    /* direct / s2d: pixels [p0, p0+np) of image img, or of the whole batch
     * (bmerge, img = 0); linear: images [p0, p0+np) */
    const size_t span = L->bmerge ? (size_t)L->N * L->P : L->P;
    size_t p0 = (size_t)tile * L->pt;
    size_t np = span - p0 < L->pt ? span - p0 : L->pt;
    const uint8_t *x;
    size_t ldx;
    const int linear = L->path == BP_PATH_LINEAR;
    if (linear) {
        x = L->xq + p0;
        ldx = L->N;
    } else { /* direct 1x1 (K = cig, the quantized NCHW input) or s2d: group g
              * of image img is K rows of xrow bytes */
        x = L->xq + ((size_t)img * L->groups + g) * L->K * L->xrow + p0;
        ldx = L->xrow;
    }
    int32_t *acc = (int32_t *)(scr + L->tile_bytes);
    for (uint32_t j0 = lo; j0 < hi; j0 += BP_ROW_CHUNK) {
        uint32_t nr = hi - j0 < BP_ROW_CHUNK ? hi - j0 : BP_ROW_CHUNK;
        bp_int_kernel(L, j0, nr, x, ldx, np, acc);
        if (!linear) {
            bp_int_epilogue_tile(L, acc, np, j0, nr, (size_t)img * L->P + p0, np, res, y);
            continue;
        }
        /* linear: y is (N, c_out), one output per row and image */
        for (size_t p = 0; p < np; p++) {
            size_t o = (p0 + p) * L->c_out + j0;
            bp_epi_rows e = {acc + p, np, L->d.out_scale + j0, L->d.bias + j0,
                             res ? res + o : NULL, 1, L->d.act, 0.0f};
            bp_int_emit(L, &e, j0, nr, (uint32_t)(p0 + p), 0, 1, y ? y + o : NULL, 1);
        }
    }
}

/* n floats quantized at the layer's input scale, as u8 or s8 bytes. */
static void bp_int_quantize_run(const bp_int_layer *L, const float *x, uint8_t *q, size_t n)
{
    if (L->s8) L->kt.quantize_s8(x, (int8_t *)q, n, L->d.act_inv_scale);
    else L->kt.quantize_u8(x, q, n, L->d.act_inv_scale);
}

/* [lo, hi) of n split into nt near-equal parts, part tid. */
static void bp_int_share(size_t n, size_t tid, size_t nt, size_t *lo, size_t *hi)
{
    size_t q = n / nt, r = n % nt;
    *lo = tid * q + (tid < r ? tid : r);
    *hi = *lo + q + (tid < r ? 1 : 0);
}

/* Part tid of nt of the layer input quantized into xq (every element is
 * computed the same way whatever the split); tmp: the running thread's
 * scratch. */
static void bp_int_quantize(const bp_int_layer *L, const float *x, size_t tid, size_t nt,
                            unsigned char *tmp)
{
    const float inv = L->d.act_inv_scale;
    uint8_t *const xq = L->xq;
    size_t lo, hi;
    switch (L->path) {
    case BP_PATH_LINEAR: {
        /* (N, K) float -> K x N channel-major */
        const size_t K = L->K, N = L->N;
        bp_int_share(K, tid, nt, &lo, &hi);
        for (size_t k = lo; k < hi; k++)
            for (size_t n = 0; n < N; n++) {
                float v = x[n * K + k];
                xq[k * N + n] = L->s8 ? (uint8_t)bp_quant_s8(v, inv) : bp_quant_u8(v, inv);
            }
        break;
    }
    case BP_PATH_S2D: {
        /* plane (n, ci) becomes rows ci*kh*kw.. of image n (row stride xrow;
         * with bmerge the images sit side by side in each row) */
        const size_t kk = (size_t)L->kh * L->kw;
        const size_t img_off = L->bmerge ? L->P : (size_t)L->c_in * kk * L->P;
        bp_int_share((size_t)L->N * L->c_in, tid, nt, &lo, &hi);
        for (size_t q = lo; q < hi; q++) {
            size_t n = q / L->c_in, ci = q % L->c_in;
            bp_int_quantize_run(L, x + q * L->HW, tmp, L->HW);
            /* space-to-depth: byte (oy*kh+dy, ox*kw+dx) to row dy*kw+dx */
            L->kt.s2d_u8(tmp, L->W, xq + n * img_off + ci * kk * L->xrow, L->xrow, L->OH,
                         L->OW, L->kh, L->kw);
        }
        break;
    }
    case BP_PATH_PADDED:
    case BP_PATH_INPLACE:
    case BP_PATH_IMPLICIT: {
        /* interior of each zero-bordered plane; borders stay 0 */
        /* whole planes are quantized into the thread's scratch (long
         * vector loops; rows of 7..56 would run the scalar tails), then
         * copied row by row into the padded planes */
        const size_t H = L->H, W = L->W;
        const size_t off = (size_t)L->pt_ * L->Wp + L->pl_;
        bp_int_share((size_t)L->N * L->c_in, tid, nt, &lo, &hi);
        for (size_t q = lo; q < hi; q++) {
            bp_int_quantize_run(L, x + q * L->HW, tmp, L->HW);
            for (size_t iy = 0; iy < H; iy++)
                bp_copy_run(xq + q * L->plane + off + iy * L->Wp, tmp + iy * W, W);
        }
        break;
    }
    default:
        if (L->path == BP_PATH_DIRECT && L->bmerge) { /* row (n, c) to c*N*P + n*P */
            bp_int_share((size_t)L->N * L->c_in, tid, nt, &lo, &hi);
            for (size_t q = lo; q < hi; q++) {
                size_t n = q / L->c_in, c = q % L->c_in;
                bp_int_quantize_run(L, x + q * L->P, xq + c * L->xrow + n * L->P, L->P);
            }
            break;
        }
        /* direct, im2col: NCHW bytes */
        const size_t n_el = L->xq_elems;
        size_t chunk = (n_el + nt - 1) / nt;
        chunk = (chunk + 63) & ~(size_t)63;
        lo = tid * chunk < n_el ? tid * chunk : n_el;
        hi = lo + chunk < n_el ? lo + chunk : n_el;
        bp_int_quantize_run(L, x + lo, xq + lo, hi - lo);
        break;
    }
}

typedef struct bp_int_job {
    const bp_int_layer *L;
    const float *x, *res;
    float *y;
} bp_int_job;

static void bp_int_quantize_part(void *ctx, size_t i, unsigned slot)
{
    const bp_int_job *j = ctx;
    const bp_int_layer *L = j->L;
    bp_int_quantize(L, j->x, i, L->qparts, L->scratch + L->scratch_stride * slot);
}

static void bp_int_tiles_job(void *ctx, size_t i, unsigned slot)
{
    (void)slot;
    bp_int_tiles_part(((const bp_int_job *)ctx)->L, i);
}

static void bp_int_item_job(void *ctx, size_t i, unsigned slot)
{
    const bp_int_job *j = ctx;
    const bp_int_layer *L = j->L;
    bp_int_item(L, i, L->scratch + L->scratch_stride * slot, j->res, j->y);
}

/* Quantization parts, then work items, on the session's team (small layers
 * on the calling thread alone). */
static bp_status bp_int_run(void *state, const float *x, const float *res, float *y)
{
    bp_int_layer *L = state;
    const size_t tparts = L->tiles ? (size_t)L->images * L->groups * L->ntiles * L->kparts : 0;
    if (!L->team || (L->serial && !bp_threads_force)) {
        if (x) bp_int_quantize(L, x, 0, 1, L->scratch);
        for (size_t i = 0; i < tparts; i++) bp_int_tiles_part(L, i);
        for (size_t it = 0; it < L->n_items; it++) bp_int_item(L, it, L->scratch, res, y);
        return BP_OK;
    }
    bp_int_job job = {L, x, res, y};
    if (x) bp_team_run(L->team, L->qparts, bp_int_quantize_part, &job);
    if (tparts) bp_team_run(L->team, tparts, bp_int_tiles_job, &job);
    bp_team_run(L->team, L->n_items, bp_int_item_job, &job);
    return BP_OK;
}

/* Where this layer's input bytes are (bp_qdest): every layout but
 * space-to-depth, whose byte order a row writer cannot produce. */
static int bp_int_qinput(void *state, bp_qdest *q)
{
    bp_int_layer *L = state;
    if (L->path == BP_PATH_S2D) return -1;
    q->base = L->xq;
    q->type = L->s8 ? BP_ACT_S8 : BP_ACT_U8;
    q->inv = L->d.act_inv_scale;
    q->off = 0;
    if (L->path == BP_PATH_LINEAR) { /* K x N: channel k of image n at k*N + n */
        q->nstride = 1;
        q->cstride = L->N;
        q->ldrow = 1;
    } else if (L->path == BP_PATH_PADDED || L->path == BP_PATH_INPLACE ||
               L->path == BP_PATH_IMPLICIT) {
        /* interior of zero-bordered planes */
        q->cstride = L->plane;
        q->nstride = (size_t)L->c_in * L->plane;
        q->ldrow = L->Wp;
        q->off = (size_t)L->pt_ * L->Wp + L->pl_;
    } else if (L->path == BP_PATH_DIRECT && L->bmerge) {
        /* K x (N*P): channel c of image n at c*N*P + n*P */
        q->cstride = L->xrow;
        q->nstride = L->P;
        q->ldrow = L->W;
    } else { /* NCHW bytes */
        q->cstride = L->HW;
        q->nstride = (size_t)L->c_in * L->HW;
        q->ldrow = L->W;
    }
    return 0;
}

static void bp_int_set_qout(void *state, const bp_qdest *q, uint32_t n)
{
    bp_int_layer *L = state;
    L->n_qout = n < BP_QDEST_MAX ? n : BP_QDEST_MAX;
    for (uint32_t k = 0; k < L->n_qout; k++) L->qout[k] = q[k];
}

static const char *bp_int_kernel_name(const void *state)
{
    return ((const bp_int_layer *)state)->kname;
}

static int bp_int_exact(const void *state, const char **why)
{
    (void)state;
    *why = "";
    return 1;
}

static bp_status bp_ref_create(const bp_layer_desc *d, const bp_backend_env *env, void **s)
{
    return bp_int_create(d, env, BP_INT_REF, s);
}
static bp_status bp_bitplane_create(const bp_layer_desc *d, const bp_backend_env *env,
                                    void **s)
{
    return bp_int_create(d, env, BP_INT_BITPLANE, s);
}
static bp_status bp_csr_create(const bp_layer_desc *d, const bp_backend_env *env, void **s)
{
    return bp_int_create(d, env, BP_INT_CSR, s);
}

const bp_backend bp_backend_reference = {"reference", bp_ref_create, bp_int_run,
    bp_int_destroy, bp_int_kernel_name, bp_int_exact, BP_LAYOUT_NCHW, bp_int_qinput, bp_int_set_qout};
const bp_backend bp_backend_bitplane = {"bitplane", bp_bitplane_create, bp_int_run,
    bp_int_destroy, bp_int_kernel_name, bp_int_exact, BP_LAYOUT_NCHW, bp_int_qinput, bp_int_set_qout};
const bp_backend bp_backend_csr = {"csr", bp_csr_create, bp_int_run,
    bp_int_destroy, bp_int_kernel_name, bp_int_exact, BP_LAYOUT_NCHW, bp_int_qinput, bp_int_set_qout};
