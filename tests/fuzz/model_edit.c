/* Editable deep copy of a .bp model (see model_edit.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_kernels.h"
#include "bpf_internal.h"
#include "model_edit.h"

void *me_alloc(me_model *e, size_t bytes)
{
    if (e->n_owned == e->cap_owned) {
        size_t c = e->cap_owned ? e->cap_owned * 2 : 64;
        void **o = realloc(e->owned, c * sizeof *o);
        if (!o) {
            e->failed = 1;
            return NULL;
        }
        e->owned = o;
        e->cap_owned = c;
    }
    /* 64-byte aligned like the reader's arrays; a little slack is NOT added,
     * so an over-read of an edited array is caught by ASan in the writer. */
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 1) != 0) {
        e->failed = 1;
        return NULL;
    }
    memset(p, 0, bytes ? bytes : 1);
    e->owned[e->n_owned++] = p;
    return p;
}

char *me_strdup(me_model *e, const char *s)
{
    if (!s) s = "";
    size_t n = strlen(s);
    char *p = me_alloc(e, n + 1);
    if (p) memcpy(p, s, n + 1);
    return p;
}

void me_free(me_model *e)
{
    if (!e) return;
    for (size_t i = 0; i < e->n_owned; i++) free(e->owned[i]);
    free(e->owned);
    free(e->meta);
    free(e->tensors);
    free(e->tcap);
    free(e->nodes);
    free(e->layers);
    free(e->ls);
    free(e);
}

/* Room for one more record in a growable array (and its parallel array). */
static int me_grow(me_model *e, void **arr, size_t elem, void **par, size_t par_elem,
                   uint32_t n, uint32_t *cap)
{
    if (n < *cap) return 0;
    uint32_t c = *cap ? *cap * 2 : 16;
    void *a = realloc(*arr, (size_t)c * elem);
    if (a) *arr = a;
    void *p = par ? realloc(*par, (size_t)c * par_elem) : NULL;
    if (par && p) *par = p;
    if (!a || (par && !p)) {
        e->failed = 1;
        return -1;
    }
    *cap = c;
    return 0;
}

uint32_t me_add_tensor(me_model *e, const bpf_tensor *t)
{
    if (me_grow(e, (void **)&e->tensors, sizeof *e->tensors, (void **)&e->tcap, sizeof *e->tcap,
                e->n_tensors, &e->cap_tensors))
        return UINT32_MAX;
    uint32_t i = e->n_tensors++;
    e->tensors[i] = *t;
    e->tensors[i].name = me_strdup(e, t->name);
    e->tensors[i].data = NULL;
    e->tcap[i] = 0;
    if (t->data) {
        void *d = me_alloc(e, (size_t)t->nbytes);
        if (d) {
            memcpy(d, t->data, (size_t)t->nbytes);
            e->tensors[i].data = d;
            e->tcap[i] = (size_t)t->nbytes;
        }
    }
    return i;
}

uint32_t me_add_node(me_model *e, const bpf_node *n)
{
    if (me_grow(e, (void **)&e->nodes, sizeof *e->nodes, NULL, 0, e->n_nodes, &e->cap_nodes))
        return UINT32_MAX;
    uint32_t i = e->n_nodes++;
    e->nodes[i] = *n;
    e->nodes[i].name = me_strdup(e, n->name);
    return i;
}

uint32_t me_add_layer(me_model *e, const bpf_layer *L)
{
    if (me_grow(e, (void **)&e->layers, sizeof *e->layers, (void **)&e->ls, sizeof *e->ls,
                e->n_layers, &e->cap_layers))
        return UINT32_MAX;
    uint32_t i = e->n_layers++;
    bpf_layer *D = &e->layers[i];
    me_layer_store *s = &e->ls[i];
    memset(s, 0, sizeof *s);
    *D = *L;
    uint64_t rp = (uint64_t)L->c_out * L->M * 2 + 1;
    uint32_t ib = L->idx_bytes ? L->idx_bytes : 2;
    float *ws = me_alloc(e, (size_t)L->c_out * 4), *bs = me_alloc(e, (size_t)L->c_out * 4);
    uint32_t *r = me_alloc(e, (size_t)rp * 4);
    void *ci = me_alloc(e, (size_t)(L->n_digits * ib));
    if (!ws || !bs || !r || !ci) return i;
    if (L->w_scale) memcpy(ws, L->w_scale, (size_t)L->c_out * 4);
    if (L->bias) memcpy(bs, L->bias, (size_t)L->c_out * 4);
    if (L->row_ptr) memcpy(r, L->row_ptr, (size_t)rp * 4);
    if (L->col_idx && L->n_digits) memcpy(ci, L->col_idx, (size_t)(L->n_digits * ib));
    D->w_scale = ws;
    D->bias = bs;
    D->row_ptr = r;
    D->col_idx = ci;
    s->ws_cap = s->bias_cap = L->c_out;
    s->rp_cap = (size_t)rp;
    s->ci_cap = (size_t)(L->n_digits * ib);
    return i;
}

uint32_t me_add_meta(me_model *e, const char *key, const char *value)
{
    if (me_grow(e, (void **)&e->meta, sizeof *e->meta, NULL, 0, e->n_meta, &e->cap_meta))
        return UINT32_MAX;
    uint32_t i = e->n_meta++;
    e->meta[i].key = me_strdup(e, key);
    e->meta[i].value = me_strdup(e, value);
    return i;
}

void me_remove_tensor(me_model *e, uint32_t i)
{
    if (i >= e->n_tensors) return;
    memmove(&e->tensors[i], &e->tensors[i + 1], (e->n_tensors - i - 1) * sizeof *e->tensors);
    memmove(&e->tcap[i], &e->tcap[i + 1], (e->n_tensors - i - 1) * sizeof *e->tcap);
    e->n_tensors--;
}

void me_remove_node(me_model *e, uint32_t i)
{
    if (i >= e->n_nodes) return;
    memmove(&e->nodes[i], &e->nodes[i + 1], (e->n_nodes - i - 1) * sizeof *e->nodes);
    e->n_nodes--;
}

void me_remove_layer(me_model *e, uint32_t i)
{
    if (i >= e->n_layers) return;
    memmove(&e->layers[i], &e->layers[i + 1], (e->n_layers - i - 1) * sizeof *e->layers);
    memmove(&e->ls[i], &e->ls[i + 1], (e->n_layers - i - 1) * sizeof *e->ls);
    e->n_layers--;
}

me_model *me_from_bpf(const bpf_model *m)
{
    me_model *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    for (uint32_t i = 0; i < m->n_meta; i++) me_add_meta(e, m->meta[i].key, m->meta[i].value);
    for (uint32_t i = 0; i < m->n_tensors; i++) me_add_tensor(e, &m->tensors[i]);
    for (uint32_t i = 0; i < m->n_nodes; i++) me_add_node(e, &m->nodes[i]);
    for (uint32_t i = 0; i < m->n_layers; i++) {
        uint32_t l = me_add_layer(e, &m->layers[i]);
        if (l == UINT32_MAX || e->failed) break;
        /* the planes are validated: decode them once for later re-encoding */
        const bpf_layer *L = &m->layers[i];
        int16_t *w = me_alloc(e, (size_t)L->c_out * L->K * sizeof(int16_t));
        if (!w) break;
        bp_planes p = {L->c_out, L->K, L->M, L->idx_bytes, L->row_ptr, L->col_idx, NULL};
        bp_planes_to_dense(&p, w);
        e->ls[l].dense = w;
        e->ls[l].dense_rows = L->c_out;
        e->ls[l].dense_K = L->K;
    }
    e->n_inputs = m->n_inputs < ME_MAX_IO ? m->n_inputs : ME_MAX_IO;
    e->n_outputs = m->n_outputs < ME_MAX_IO ? m->n_outputs : ME_MAX_IO;
    memcpy(e->inputs, m->inputs, e->n_inputs * sizeof(uint32_t));
    memcpy(e->outputs, m->outputs, e->n_outputs * sizeof(uint32_t));
    if (e->failed) {
        me_free(e);
        return NULL;
    }
    return e;
}

me_model *me_from_buffer(const void *buf, size_t size)
{
    bpf_model *m = NULL;
    if (bpf_load_memory(buf, size, 0, &m) != BPF_OK) return NULL;
    me_model *e = me_from_bpf(m);
    bpf_model_free(m);
    return e;
}

static void me_fill(fz_rng *rng, uint8_t *p, size_t n)
{
    if (!rng) return;
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)fz_next(rng);
}

/* Grows *p (cap bytes) to need bytes, keeping the old bytes. */
static int me_fit_one(me_model *e, const void **p, size_t *cap, uint64_t need, size_t max,
                      fz_rng *rng)
{
    if (need <= *cap) return 0;
    if (need > max) return -1;
    uint8_t *n = me_alloc(e, (size_t)need);
    if (!n) return -1;
    if (*p && *cap) memcpy(n, *p, *cap);
    me_fill(rng, n + *cap, (size_t)need - *cap);
    *p = n;
    *cap = (size_t)need;
    return 0;
}

int me_fit(me_model *e, size_t max_bytes, fz_rng *rng)
{
    for (uint32_t i = 0; i < e->n_tensors; i++) {
        bpf_tensor *t = &e->tensors[i];
        if (!t->name) t->name = "";
        if (t->data && me_fit_one(e, &t->data, &e->tcap[i], t->nbytes, max_bytes, rng)) return -1;
    }
    for (uint32_t i = 0; i < e->n_nodes; i++)
        if (!e->nodes[i].name) e->nodes[i].name = "";
    for (uint32_t i = 0; i < e->n_layers; i++) {
        bpf_layer *L = &e->layers[i];
        me_layer_store *s = &e->ls[i];
        if (L->c_out > BPF_MAX_CHANNELS || L->M > BPF_M_MAX) continue; /* writer refuses */
        uint32_t ib = L->idx_bytes ? L->idx_bytes : (L->K <= 65535u ? 2u : 4u);
        if (ib != 2 && ib != 4) continue;
        if (L->n_digits > (1ull << 40)) continue;
        size_t wcap = s->ws_cap * 4, bcap = s->bias_cap * 4, rcap = s->rp_cap * 4;
        const void *ws = L->w_scale, *bs = L->bias, *rp = L->row_ptr, *ci = L->col_idx;
        if (me_fit_one(e, &ws, &wcap, (uint64_t)L->c_out * 4, max_bytes, rng) ||
            me_fit_one(e, &bs, &bcap, (uint64_t)L->c_out * 4, max_bytes, rng) ||
            me_fit_one(e, &rp, &rcap, ((uint64_t)L->c_out * L->M * 2 + 1) * 4, max_bytes, rng) ||
            me_fit_one(e, &ci, &s->ci_cap, L->n_digits * ib, max_bytes, rng))
            return -1;
        if (!ws) ws = me_alloc(e, 4); /* the writer wants non-NULL pointers */
        if (!bs) bs = me_alloc(e, 4);
        if (!rp) rp = me_alloc(e, 4);
        if (!ci) ci = me_alloc(e, 4);
        L->w_scale = ws;
        L->bias = bs;
        L->row_ptr = rp;
        L->col_idx = ci;
        s->ws_cap = wcap / 4;
        s->bias_cap = bcap / 4;
        s->rp_cap = rcap / 4;
    }
    for (uint32_t i = 0; i < e->n_meta; i++) {
        if (!e->meta[i].key) e->meta[i].key = "";
        if (!e->meta[i].value) e->meta[i].value = "";
    }
    return e->failed ? -1 : 0;
}

void me_desc(const me_model *e, bpf_model_desc *d)
{
    memset(d, 0, sizeof *d);
    d->n_meta = e->n_meta;
    d->meta = e->meta;
    d->n_tensors = e->n_tensors;
    d->tensors = e->tensors;
    d->n_nodes = e->n_nodes;
    d->nodes = e->nodes;
    d->n_layers = e->n_layers;
    d->layers = e->layers;
    d->n_inputs = e->n_inputs;
    d->inputs = e->inputs;
    d->n_outputs = e->n_outputs;
    d->outputs = e->outputs;
}

bpf_status me_write(me_model *e, size_t max_bytes, fz_rng *rng, void **buf, size_t *size)
{
    *buf = NULL;
    *size = 0;
    if (e->n_inputs > ME_MAX_IO) e->n_inputs = ME_MAX_IO;
    if (e->n_outputs > ME_MAX_IO) e->n_outputs = ME_MAX_IO;
    if (me_fit(e, max_bytes, rng)) return BPF_ERR_NOMEM;
    bpf_model_desc d;
    me_desc(e, &d);
    return bpf_write_memory_unchecked(&d, buf, size);
}

int me_set_data(me_model *e, uint32_t t, const void *src, size_t bytes, fz_rng *rng)
{
    if (t >= e->n_tensors) return -1;
    uint8_t *d = me_alloc(e, bytes);
    if (!d) return -1;
    if (src) memcpy(d, src, bytes);
    else me_fill(rng, d, bytes);
    e->tensors[t].data = d;
    e->tensors[t].nbytes = bytes;
    e->tcap[t] = bytes;
    return 0;
}

int me_encode_layer(me_model *e, uint32_t l, const int16_t *w, uint32_t rows, uint32_t K,
                    uint32_t enc, uint32_t M, fz_rng *rng)
{
    if (l >= e->n_layers || enc > 1) return -1;
    int wmax = 0;
    for (size_t i = 0; i < (size_t)rows * K; i++) {
        int a = w[i] < 0 ? -w[i] : w[i];
        if (a > wmax) wmax = a;
    }
    uint32_t need = bp_digits_positions(wmax ? wmax : 1, (bp_encoding)enc);
    if (M == 0) M = need;
    if (M < need || M > BPF_M_MAX) return -1;
    bp_planes_buf pb;
    if (bp_planes_from_dense(w, rows, K, (bp_encoding)enc, M, &pb) != 0) return -1;
    bpf_layer *L = &e->layers[l];
    me_layer_store *s = &e->ls[l];
    size_t rp_n = (size_t)rows * M * 2 + 1, ci_b = (size_t)pb.ndigits * pb.p.idx_bytes;
    uint32_t *rp = me_alloc(e, rp_n * 4);
    void *ci = me_alloc(e, ci_b);
    int16_t *dw = me_alloc(e, (size_t)rows * K * sizeof(int16_t));
    if (!rp || !ci || !dw) {
        bp_planes_buf_free(&pb);
        return -1;
    }
    memcpy(rp, pb.row_ptr, rp_n * 4);
    if (ci_b) memcpy(ci, pb.idx, ci_b);
    memcpy(dw, w, (size_t)rows * K * sizeof(int16_t));
    L->row_ptr = rp;
    L->col_idx = ci;
    L->n_digits = pb.ndigits;
    L->idx_bytes = pb.p.idx_bytes;
    s->rp_cap = rp_n;
    s->ci_cap = ci_b;
    s->dense = dw;
    s->dense_rows = rows;
    s->dense_K = K;
    bp_planes_buf_free(&pb);
    if (rows != L->c_out || !L->w_scale || !L->bias) {
        float *ws = me_alloc(e, (size_t)rows * 4), *bs = me_alloc(e, (size_t)rows * 4);
        if (!ws || !bs) return -1;
        for (uint32_t j = 0; j < rows; j++) {
            int have = L->w_scale && j < L->c_out && j < s->ws_cap;
            ws[j] = have ? L->w_scale[j]
                         : (float)((0.5 + (rng ? fz_unif(rng) : 0.5)) / (64.0 * sqrt(K + 1.0)));
            bs[j] = have && L->bias && j < s->bias_cap ? L->bias[j]
                                                        : (float)((rng ? fz_unif(rng) : 0.5) * 0.2 - 0.1);
        }
        L->w_scale = ws;
        L->bias = bs;
        s->ws_cap = s->bias_cap = rows;
    }
    L->c_out = rows;
    L->K = K;
    L->M = M;
    L->encoding = enc;
    L->w_max = (uint32_t)wmax;
    return 0;
}

void me_random_weights(fz_rng *r, int16_t *w, uint32_t rows, uint32_t K)
{
    static const int16_t extremes[] = {255, 128, 127, 170, 171, 85, 86, 1, 2, 3, 254, 129, 64};
    static const int16_t pows[] = {1, 2, 4, 8, 16, 32, 64, 128};
    size_t n = (size_t)rows * K;
    uint32_t mode = fz_below(r, 8);
    uint32_t wmax_choices[] = {1, 3, 7, 15, 31, 100, 127, 128, 255};
    int wmax = (int)wmax_choices[fz_below(r, 9)];
    double density = mode == 1 ? 0.02 + 0.3 * fz_unif(r) : 1.0;
    for (size_t i = 0; i < n; i++) {
        int v = 0;
        switch (mode) {
        case 0: v = 0; break; /* all-zero layer */
        case 1: /* sparse, bit-pruning-like */
        case 2: /* dense uniform */
            if (fz_unif(r) < density) v = (int)fz_range(r, 1, (uint32_t)wmax);
            break;
        case 3: v = extremes[fz_below(r, sizeof extremes / sizeof extremes[0])]; break;
        case 4: v = fz_chance(r, 70) ? pows[fz_below(r, 8)] : 0; break;
        case 5: v = fz_chance(r, 50) ? wmax : 0; break; /* one magnitude */
        default: v = fz_chance(r, 40) ? (int)fz_range(r, 0, 255) : 0; break;
        }
        w[i] = (int16_t)(fz_chance(r, 50) ? -v : v);
    }
    /* some all-zero rows, and sometimes a single nonzero in a row */
    if (rows > 1 && fz_chance(r, 40)) {
        uint32_t z = fz_range(r, 1, rows);
        for (uint32_t q = 0; q < z; q++) memset(w + (size_t)fz_below(r, rows) * K, 0, K * 2);
    }
    if (fz_chance(r, 15) && n) {
        uint32_t j = fz_below(r, rows);
        memset(w + (size_t)j * K, 0, K * 2);
        w[(size_t)j * K + fz_below(r, K)] = (int16_t)(fz_chance(r, 50) ? 255 : -255);
    }
}

/* ---- shape repair ---- */

static uint64_t me_out_dim(uint64_t in, uint64_t pa, uint64_t pb, uint64_t k, uint64_t dil,
                           uint64_t stride)
{
    uint64_t span = dil * (k - 1) + 1, padded = in + pa + pb;
    if (!k || !dil || !stride) return 0;
    return padded < span ? 0 : (padded - span) / stride + 1;
}

static uint32_t me_gcd(uint32_t a, uint32_t b)
{
    while (b) {
        uint32_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Sets tensor t to ndim/dims if that shape is within the format's limits. */
static void me_set_shape(me_model *e, uint32_t t, uint32_t nd, const uint64_t *d)
{
    uint64_t prod = 1;
    for (uint32_t k = 0; k < nd; k++) {
        if (d[k] < 1 || d[k] > BPF_MAX_DIM) return;
        prod *= d[k];
        if (prod > (1ull << 28)) return; /* far beyond what the fuzzer runs */
    }
    bpf_tensor *T = &e->tensors[t];
    if (T->data) return;
    T->ndim = nd;
    for (uint32_t k = 0; k < BPF_MAX_DIMS; k++) T->dims[k] = k < nd ? (uint32_t)d[k] : 0;
}

/* New random weights when the layer's size changed; keeps its encoding. */
static void me_reweight(me_model *e, uint32_t l, uint32_t c_out, uint32_t K, fz_rng *rng)
{
    bpf_layer *L = &e->layers[l];
    me_layer_store *s = &e->ls[l];
    if (s->dense && s->dense_rows == c_out && s->dense_K == K && L->K == K && L->c_out == c_out)
        return;
    if (!c_out || !K || K > BPF_K_MAX || (uint64_t)c_out * K > (1u << 22)) return;
    int16_t *w = malloc((size_t)c_out * K * sizeof *w);
    if (!w) return;
    me_random_weights(rng, w, c_out, K);
    uint32_t enc = L->encoding <= 1 ? L->encoding : 0;
    uint32_t M = L->M >= 1 && L->M <= BPF_M_MAX ? L->M : 0;
    if (me_encode_layer(e, l, w, c_out, K, enc, M, rng) != 0)
        me_encode_layer(e, l, w, c_out, K, enc, 0, rng);
    free(w);
}

static int me_is_const(const me_model *e, uint32_t t)
{
    return t < e->n_tensors && e->tensors[t].data != NULL;
}

void me_repair(me_model *e, fz_rng *rng)
{
    for (uint32_t ni = 0; ni < e->n_nodes; ni++) {
        bpf_node *nd = &e->nodes[ni];
        if (nd->n_in < 1 || nd->n_in > BPF_MAX_IO || nd->n_out != 1) continue;
        int ok = nd->out[0] < e->n_tensors;
        for (uint32_t k = 0; k < nd->n_in; k++) ok &= nd->in[k] < e->n_tensors;
        if (!ok) continue;
        const bpf_tensor *X = &e->tensors[nd->in[0]];
        uint64_t d[BPF_MAX_DIMS] = {0};
        uint32_t xn = X->ndim <= BPF_MAX_DIMS ? X->ndim : 0;
        for (uint32_t k = 0; k < xn; k++) d[k] = X->dims[k];
        if (!xn) continue;
        uint32_t o = nd->out[0];
        switch (nd->op) {
        case BPF_OP_CONV2D: {
            if (nd->layer >= e->n_layers || xn != 4) break;
            bpf_layer *L = &e->layers[nd->layer];
            if (L->kind != BPF_LAYER_CONV) break;
            uint32_t c_in = (uint32_t)d[1];
            if (L->c_in != c_in || !L->groups || L->c_out % L->groups || c_in % L->groups) {
                uint32_t g = L->groups ? L->groups : 1;
                if (L->c_in == L->groups && L->c_out % c_in == 0) g = c_in; /* keep depthwise */
                else g = me_gcd(me_gcd(g, c_in), L->c_out ? L->c_out : 1);
                L->c_in = c_in;
                L->groups = g ? g : 1;
            }
            if (!L->c_out) break;
            uint64_t K = (uint64_t)(L->c_in / L->groups) * L->kh * L->kw;
            if (K == 0 || K > BPF_K_MAX) break;
            me_reweight(e, nd->layer, L->c_out, (uint32_t)K, rng);
            uint64_t ho = me_out_dim(d[2], L->pad_t, L->pad_b, L->kh, L->dil_h, L->stride_h);
            uint64_t wo = me_out_dim(d[3], L->pad_l, L->pad_r, L->kw, L->dil_w, L->stride_w);
            if (!ho || !wo) break;
            uint64_t y[4] = {d[0], L->c_out, ho, wo};
            me_set_shape(e, o, 4, y);
            break;
        }
        case BPF_OP_LINEAR: {
            if (nd->layer >= e->n_layers) break;
            bpf_layer *L = &e->layers[nd->layer];
            if (L->kind != BPF_LAYER_LINEAR) break;
            if (!(xn == 2 || (xn == 4 && d[2] == 1 && d[3] == 1))) break;
            if (d[1] > BPF_K_MAX || !L->c_out) break;
            L->c_in = (uint32_t)d[1];
            me_reweight(e, nd->layer, L->c_out, L->c_in, rng);
            uint64_t y[2] = {d[0], L->c_out};
            me_set_shape(e, o, 2, y);
            break;
        }
        case BPF_OP_RELU: case BPF_OP_GELU: case BPF_OP_SOFTMAX: case BPF_OP_SIGMOID:
        case BPF_OP_HARDSIGMOID: case BPF_OP_HARDSWISH: case BPF_OP_CLIP:
            me_set_shape(e, o, xn, d);
            break;
        case BPF_OP_LAYERNORM: case BPF_OP_LAYERSCALE: case BPF_OP_BATCHNORM: {
            if (xn < 2) break;
            uint32_t C = (uint32_t)d[1];
            for (uint32_t k = 1; k < nd->n_in; k++) {
                uint32_t p = nd->in[k];
                if (!me_is_const(e, p)) continue;
                bpf_tensor *P = &e->tensors[p];
                if (P->dtype == BPF_DT_F32 && P->nbytes == (uint64_t)C * 4) continue;
                float *v = malloc((size_t)C * 4);
                if (!v) continue;
                for (uint32_t c = 0; c < C; c++) v[c] = (float)(0.5 + fz_unif(rng));
                if (me_set_data(e, p, v, (size_t)C * 4, NULL) == 0) {
                    P->dtype = BPF_DT_F32;
                    P->ndim = 1;
                    memset(P->dims, 0, sizeof P->dims);
                    P->dims[0] = C;
                }
                free(v);
            }
            me_set_shape(e, o, xn, d);
            break;
        }
        case BPF_OP_ADD: case BPF_OP_MUL: {
            const bpf_tensor *B = &e->tensors[nd->in[1]];
            int same = B->ndim == X->ndim;
            for (uint32_t k = 0; same && k < xn; k++) same = B->dims[k] == X->dims[k];
            if (same) me_set_shape(e, o, xn, d);
            break;
        }
        case BPF_OP_MAXPOOL: case BPF_OP_AVGPOOL: {
            const int32_t *a = nd->ints;
            if (xn != 4) break;
            int bad = 0;
            for (int k = 0; k < 8; k++) bad |= a[k] < 0 || a[k] > 64;
            if (bad) break;
            uint64_t ho = me_out_dim(d[2], (uint64_t)a[4], (uint64_t)a[6], (uint64_t)a[0], 1,
                                     (uint64_t)a[2]);
            uint64_t wo = me_out_dim(d[3], (uint64_t)a[5], (uint64_t)a[7], (uint64_t)a[1], 1,
                                     (uint64_t)a[3]);
            if (!ho || !wo) break;
            uint64_t y[4] = {d[0], d[1], ho, wo};
            me_set_shape(e, o, 4, y);
            break;
        }
        case BPF_OP_GLOBALAVGPOOL:
            if (xn == 4) {
                uint64_t y[4] = {d[0], d[1], 1, 1};
                me_set_shape(e, o, 4, y);
            }
            break;
        case BPF_OP_FLATTEN:
            if (xn >= 2) {
                uint64_t p = 1;
                for (uint32_t k = 1; k < xn; k++) p *= d[k];
                uint64_t y[2] = {d[0], p};
                me_set_shape(e, o, 2, y);
            }
            break;
        default:
            break;
        }
    }
}

static void me_dump_tensor(const bpf_model *m, uint32_t t)
{
    if (t >= m->n_tensors) {
        printf("t%u(?)", t);
        return;
    }
    const bpf_tensor *T = &m->tensors[t];
    printf("t%u%s(", t, T->data ? "[const]" : "");
    for (uint32_t d = 0; d < T->ndim; d++) printf(d ? ",%u" : "%u", T->dims[d]);
    printf(")");
}

void me_dump(const void *buf, size_t size)
{
    bpf_model *m = NULL;
    if (bpf_load_memory(buf, size, 0, &m) != BPF_OK) {
        printf("  (model does not load: %s)\n", bpf_last_error());
        return;
    }
    printf("  graph: inputs");
    for (uint32_t i = 0; i < m->n_inputs; i++) {
        printf(" ");
        me_dump_tensor(m, m->inputs[i]);
    }
    printf(", outputs");
    for (uint32_t i = 0; i < m->n_outputs; i++) {
        printf(" ");
        me_dump_tensor(m, m->outputs[i]);
    }
    printf("\n");
    for (uint32_t i = 0; i < m->n_nodes; i++) {
        const bpf_node *n = &m->nodes[i];
        printf("  node %u '%s' %s:", i, n->name, bpf_op_name(n->op));
        for (uint32_t k = 0; k < n->n_in; k++) {
            printf(" ");
            me_dump_tensor(m, n->in[k]);
        }
        printf(" -> ");
        me_dump_tensor(m, n->out[0]);
        if (n->op == BPF_OP_MAXPOOL || n->op == BPF_OP_AVGPOOL)
            printf(" k%dx%d s%dx%d pad %d,%d,%d,%d", n->ints[0], n->ints[1], n->ints[2], n->ints[3],
                   n->ints[4], n->ints[5], n->ints[6], n->ints[7]);
        if (n->op == BPF_OP_LAYERNORM) printf(" eps %g", (double)n->floats[0]);
        if (n->layer < m->n_layers) {
            const bpf_layer *L = &m->layers[n->layer];
            printf(" [layer %u: %u->%u k%ux%u s%ux%u pad %u,%u,%u,%u dil %ux%u g%u K%u M%u %s "
                   "w_max %u %s act_scale %g]", n->layer, L->c_in, L->c_out, L->kh, L->kw,
                   L->stride_h, L->stride_w, L->pad_t, L->pad_l, L->pad_b, L->pad_r, L->dil_h,
                   L->dil_w, L->groups, L->K, L->M, L->encoding ? "csd" : "binary", L->w_max,
                   L->act_dtype == BPF_DT_S8 ? "s8" : "u8", (double)L->act_scale);
        }
        printf("\n");
    }
    bpf_model_free(m);
}
