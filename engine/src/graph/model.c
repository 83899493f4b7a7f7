/* Model loading: validates the .bp file through formats/, computes each
 * layer's statistics and output scales from its planes (time and memory
 * bounded by the planes, never c_out x K), and builds the derived weight
 * forms a backend needs (dense int16, CSR of nonzeros, kernel aux) once per
 * model, when the first session that needs them is created. Apart from those
 * lock-guarded caches a loaded model is immutable, so any number of
 * sessions/threads may share it. */
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "quant.h"

static void bp_model_opts_defaults(bp_model_opts *o)
{
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->verify_checksums = 1;
    o->mmap = 0;
}

BP_API bp_status bp_model_opts_init_sized(bp_model_opts *o, size_t size)
{
    if (!o) return bp_fail(BP_ERR_INVALID_ARG, "bp_model_opts_init: o is NULL");
    bp_model_opts d;
    bp_model_opts_defaults(&d);
    return bp_struct_init(&bp_sd_model_opts, o, size, &d, "bp_model_opts_init");
}

/* The info of m laid out for one set of caller struct sizes. */
typedef struct bp_info_view {
    struct bp_info_view *next;
    size_t info_size, layer_size, tensor_size;
    const bp_model_info *info; /* into mem */
    unsigned char *mem;
} bp_info_view;

static void bp_model_destroy(bp_model *m)
{
    if (!m) return;
    if (m->layers && m->f) {
        for (uint32_t i = 0; i < m->f->n_layers; i++) {
            bp_model_layer *l = &m->layers[i];
            bp_aligned_free(l->dense);
            bp_aligned_free(l->planes_aux);
            bp_csr_buf_free(&l->csr);
            bp_aligned_free(l->csr_aux);
            free(l->out_scale);
        }
    }
    pthread_mutex_destroy(&m->lock);
    free(m->layers);
    free(m->inputs);
    free(m->outputs);
    free(m->linfo);
    while (m->views) {
        bp_info_view *v = m->views;
        m->views = v->next;
        free(v->mem);
        free(v);
    }
    if (m->f) bpf_model_free(m->f);
    m->magic = 0;
    free(m);
}

void bp_model_release(bp_model *m)
{
    if (!m) return;
    if (atomic_fetch_sub(&m->refs, 1) == 1) bp_model_destroy(m);
}

bp_status bp_model_check(const bp_model *m, const char *fn)
{
    if (!m) return bp_fail(BP_ERR_INVALID_ARG, "%s: model is NULL", fn);
    bp_status st = bp_handle_check(m, BP_HANDLE_MODEL, fn);
    if (!st && m->magic != BP_MODEL_MAGIC)
        st = bp_fail(BP_ERR_STATE, "%s: model %p is corrupted", fn, (const void *)m);
    return st;
}

/* The user's handle dies here; sessions keep the model itself alive. */
BP_API void bp_model_free(bp_model *m)
{
    if (!m) return;
    if (bp_handle_remove(m, BP_HANDLE_MODEL, "bp_model_free")) return;
    bp_model_release(m);
}

/* Digit counts of every weight value in [-255, 255], both encodings. */
static void bp_digit_tables(uint8_t bin[511], uint8_t csd[511])
{
    int8_t d[BP_M_MAX];
    for (int w = -255; w <= 255; w++) {
        int b = bp_digits_encode(w, BP_ENC_BINARY, d);
        int c = bp_digits_encode(w, BP_ENC_CSD, d);
        bin[w + 255] = (uint8_t)(b < 0 ? 0 : b);
        csd[w + 255] = (uint8_t)(c < 0 ? 0 : c);
    }
}

static inline uint32_t bp_col_at(const bpf_layer *L, size_t i)
{
    return L->idx_bytes == 2 ? ((const uint16_t *)L->col_idx)[i]
                             : ((const uint32_t *)L->col_idx)[i];
}

/* Adds the digits of row j into w (which is zero at every column on entry)
 * and lists each column that has a digit once in cols; returns how many.
 * Every listed column ends with w != 0, and no partial sum is 0: a sum of
 * +-2^m over distinct m is congruent to its smallest 2^m modulo twice that.
 * Time: the row's digits plus 2M row pointers. */
static uint32_t bp_row_gather(const bpf_layer *L, uint32_t j, int16_t *w, uint32_t *cols)
{
    const uint32_t M2 = L->M * 2;
    const uint32_t *rp = L->row_ptr + (size_t)j * M2;
    uint32_t n = 0;
    for (uint32_t e = 0; e < M2; e++) {
        int v = (e & 1) ? -(1 << (e >> 1)) : (1 << (e >> 1));
        for (uint32_t i = rp[e]; i < rp[e + 1]; i++) {
            uint32_t k = bp_col_at(L, i);
            if (!w[k]) cols[n++] = k;
            w[k] = (int16_t)(w[k] + v);
        }
    }
    return n;
}

/* Record checks, output scales and the layer info, all from the planes:
 * O(c_out*M + n_digits) time, scratch w/cols of K entries (zero on entry
 * and on return). */
static bp_status bp_layer_build(bp_model *m, uint32_t li, const uint8_t *tbin,
                                const uint8_t *tcsd, int16_t *w, uint32_t *cols)
{
    const bpf_layer *L = &m->f->layers[li];
    bp_model_layer *l = &m->layers[li];
    bp_layer_info *inf = &m->linfo[li];
    const char *lname = inf->name;

    if (L->K == 0 || L->K > BP_K_MAX)
        return bp_fail(BP_ERR_LIMIT, "layer %u '%s': K=%u outside [1, %u]", li, lname,
                       L->K, BP_K_MAX);
    if (L->M == 0 || L->M > BP_M_MAX)
        return bp_fail(BP_ERR_LIMIT, "layer %u '%s': M=%u outside [1, %u]", li, lname,
                       L->M, BP_M_MAX);
    if (L->c_out == 0 || L->groups == 0 || L->c_out % L->groups || L->c_in % L->groups)
        return bp_fail(BP_ERR_BAD_GRAPH, "layer %u '%s': c_out=%u c_in=%u not divisible "
                       "by groups=%u", li, lname, L->c_out, L->c_in, L->groups);
    if (L->act_dtype != BPF_DT_U8 && L->act_dtype != BPF_DT_S8)
        return bp_fail(BP_ERR_BAD_GRAPH, "layer %u '%s': activation dtype %u is not u8/s8",
                       li, lname, L->act_dtype);
    if (!(L->act_scale > 0.0f))
        return bp_fail(BP_ERR_BAD_GRAPH, "layer %u '%s': activation scale %g is not > 0",
                       li, lname, (double)L->act_scale);

    size_t rows = L->c_out, K = L->K;
    l->planes.rows = L->c_out;
    l->planes.K = L->K;
    l->planes.M = L->M;
    l->planes.idx_bytes = L->idx_bytes;
    l->planes.row_ptr = L->row_ptr;
    l->planes.idx = L->col_idx;
    l->planes.aux = NULL;

    l->out_scale = malloc(rows * sizeof(float));
    if (!l->out_scale)
        return bp_fail(BP_ERR_NOMEM, "layer %u '%s': out of memory for %zu output scales",
                       li, lname, rows);

    uint64_t db = 0, dc = 0, nnz = 0;
    uint32_t wmax = 0;
    bp_status st = BP_OK;
    for (uint32_t j = 0; j < rows; j++) {
        uint32_t n = bp_row_gather(L, j, w, cols);
        nnz += n;
        for (uint32_t i = 0; i < n; i++) {
            int v = w[cols[i]];
            w[cols[i]] = 0;
            int a = v < 0 ? -v : v;
            if (a > 255) { /* the validator's R83 already excludes this */
                if (!st)
                    st = bp_fail(BP_ERR_BAD_PLANES, "layer %u '%s': weight %d at row %u "
                                 "column %u exceeds 255", li, lname, v, j, cols[i]);
                continue;
            }
            if ((uint32_t)a > wmax) wmax = (uint32_t)a;
            db += tbin[v + 255];
            dc += tcsd[v + 255];
        }
        l->out_scale[j] = bp_out_scale(L->w_scale[j], L->act_scale);
    }
    if (st) return st;
    l->nnz = nnz;

    inf->op = L->kind == BPF_LAYER_CONV ? "conv2d" : "linear";
    inf->c_out = L->c_out;
    inf->c_in = L->c_in;
    inf->kh = L->kh;
    inf->kw = L->kw;
    inf->stride = L->stride_h;
    inf->pad = L->pad_t;
    inf->dilation = L->dil_h;
    inf->groups = L->groups;
    inf->K = L->K;
    inf->M = L->M;
    inf->encoding = L->encoding == BP_ENC_CSD ? "csd" : "binary";
    inf->weights = (uint64_t)rows * K;
    inf->nonzeros = nnz;
    inf->digits = L->n_digits;
    inf->digits_binary = db;
    inf->digits_csd = dc;
    inf->act_dtype = L->act_dtype == BPF_DT_U8 ? "u8" : "s8";
    inf->act_scale = L->act_scale;
    inf->w_max = wmax;
    inf->stride_w = L->stride_w;
    inf->pad_l = L->pad_l;
    inf->pad_b = L->pad_b;
    inf->pad_r = L->pad_r;
    inf->dilation_w = L->dil_w;
    inf->out_pixels = 1;
    return BP_OK;
}

/* ---- derived weight forms, built on first use under m->lock ---- */

static bp_status bp_build_dense(bp_model *m, uint32_t li)
{
    bp_model_layer *l = &m->layers[li];
    const bpf_layer *L = &m->f->layers[li];
    size_t n = (size_t)L->c_out * L->K;
    l->dense = bp_aligned_alloc(n * sizeof(int16_t));
    if (!l->dense)
        return bp_fail(BP_ERR_NOMEM, "layer %u '%s': out of memory for %zu dense weights", li,
                       m->linfo[li].name, n);
    bp_planes_to_dense(&l->planes, l->dense);
    return BP_OK;
}

static bp_status bp_build_planes_aux(bp_model *m, uint32_t li)
{
    bp_model_layer *l = &m->layers[li];
    size_t asz = bp_planes_aux_size(&l->planes);
    if (!asz) return BP_OK;
    l->planes_aux = bp_aligned_alloc(asz);
    if (!l->planes_aux)
        return bp_fail(BP_ERR_NOMEM, "layer %u '%s': out of memory for plane aux", li,
                       m->linfo[li].name);
    bp_planes_aux_build(&l->planes, l->planes_aux);
    return BP_OK;
}

static int bp_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The CSR of nonzero weights straight from the planes (the same arrays
 * bp_csr_from_dense gives for the dense matrix): per row, the columns in
 * increasing order, by sorting the row's columns, or by scanning all K when
 * that is cheaper (K <= 16 * columns), so time stays within 16x the digits
 * plus a log factor. */
static bp_status bp_build_csr(bp_model *m, uint32_t li)
{
    bp_model_layer *l = &m->layers[li];
    const bpf_layer *L = &m->f->layers[li];
    const char *lname = m->linfo[li].name;
    uint32_t rows = L->c_out, K = L->K, ib = K <= 65535u ? 2u : 4u;
    size_t nnz = (size_t)l->nnz;
    uint32_t *row_ptr = malloc(((size_t)rows + 1) * sizeof(uint32_t));
    void *idx = malloc(nnz ? nnz * ib : 1);
    int16_t *val = malloc(nnz ? nnz * sizeof(int16_t) : 1);
    int16_t *w = calloc(K, sizeof *w);
    uint32_t *cols = malloc((size_t)K * sizeof *cols);
    if (!row_ptr || !idx || !val || !w || !cols) {
        free(row_ptr);
        free(idx);
        free(val);
        free(w);
        free(cols);
        return bp_fail(BP_ERR_NOMEM, "layer %u '%s': out of memory for the CSR of %zu "
                       "nonzeros", li, lname, nnz);
    }
    size_t pos = 0;
    row_ptr[0] = 0;
    for (uint32_t j = 0; j < rows; j++) {
        uint32_t n = bp_row_gather(L, j, w, cols);
        if ((uint64_t)n * 16 >= K) {
            for (uint32_t k = 0, c = 0; c < n; k++)
                if (w[k]) {
                    cols[c++] = k;
                }
        } else {
            qsort(cols, n, sizeof *cols, bp_cmp_u32);
        }
        for (uint32_t i = 0; i < n; i++, pos++) {
            uint32_t k = cols[i];
            if (ib == 2) ((uint16_t *)idx)[pos] = (uint16_t)k;
            else ((uint32_t *)idx)[pos] = k;
            val[pos] = w[k];
            w[k] = 0;
        }
        row_ptr[j + 1] = (uint32_t)pos;
    }
    free(w);
    free(cols);
    l->csr = (bp_csr_buf){
        .c = {.rows = rows, .K = K, .idx_bytes = ib, .row_ptr = row_ptr, .idx = idx, .val = val},
        .row_ptr = row_ptr, .idx = idx, .val = val, .nnz = nnz};
    size_t asz = bp_csr_aux_size(&l->csr.c);
    if (asz) {
        l->csr_aux = bp_aligned_alloc(asz);
        if (!l->csr_aux) {
            bp_csr_buf_free(&l->csr);
            return bp_fail(BP_ERR_NOMEM, "layer %u '%s': out of memory for CSR aux", li,
                           lname);
        }
        bp_csr_aux_build(&l->csr.c, l->csr_aux);
    }
    return BP_OK;
}

unsigned bp_backend_needs(const bp_backend *be)
{
    if (be == &bp_backend_bitplane) return BP_NEED_PLANES_AUX;
    if (be == &bp_backend_csr) return BP_NEED_CSR;
    return BP_NEED_DENSE; /* reference, oneDNN, the float (calibration) backend */
}

bp_status bp_model_layer_prepare(bp_model *m, uint32_t li, unsigned need)
{
    bp_model_layer *l = &m->layers[li];
    bp_status st = BP_OK;
    pthread_mutex_lock(&m->lock);
    unsigned todo = need & ~l->built;
    if ((todo & BP_NEED_DENSE) && m->info.weights > BP_DENSE_WEIGHTS_MAX)
        st = bp_fail(BP_ERR_LIMIT, "layer %u '%s': the model has %llu weights; backends that "
                     "run dense weights take at most %llu", li, m->linfo[li].name,
                     (unsigned long long)m->info.weights,
                     (unsigned long long)BP_DENSE_WEIGHTS_MAX);
    if (!st && (todo & BP_NEED_DENSE) && !(st = bp_build_dense(m, li)))
        l->built |= BP_NEED_DENSE;
    if (!st && (todo & BP_NEED_PLANES_AUX) && !(st = bp_build_planes_aux(m, li)))
        l->built |= BP_NEED_PLANES_AUX;
    if (!st && (todo & BP_NEED_CSR) && !(st = bp_build_csr(m, li)))
        l->built |= BP_NEED_CSR;
    pthread_mutex_unlock(&m->lock);
    return st;
}

static bp_status bp_model_build(bp_model *m)
{
    const bpf_model *f = m->f;
    uint32_t nl = f->n_layers;
    m->layers = calloc(nl ? nl : 1, sizeof *m->layers);
    m->linfo = calloc(nl ? nl : 1, sizeof *m->linfo);
    m->inputs = calloc(f->n_inputs ? f->n_inputs : 1, sizeof *m->inputs);
    m->outputs = calloc(f->n_outputs ? f->n_outputs : 1, sizeof *m->outputs);
    if (!m->layers || !m->linfo || !m->inputs || !m->outputs)
        return bp_fail(BP_ERR_NOMEM, "model: out of memory");

    m->info.size = sizeof m->info;
    for (uint32_t i = 0; i < nl; i++) {
        m->layers[i].node = UINT32_MAX;
        m->linfo[i].size = sizeof *m->linfo;
        m->linfo[i].name = "";
    }
    for (uint32_t n = 0; n < f->n_nodes; n++) {
        const bpf_node *nd = &f->nodes[n];
        if (nd->op != BPF_OP_CONV2D && nd->op != BPF_OP_LINEAR) continue;
        if (nd->layer >= nl)
            return bp_fail(BP_ERR_BAD_GRAPH, "node %u '%s': layer index %u out of range "
                           "(%u layers)", n, nd->name, nd->layer, nl);
        if (m->layers[nd->layer].node != UINT32_MAX)
            return bp_fail(BP_ERR_BAD_GRAPH, "node %u '%s': layer %u already used by "
                           "node %u", n, nd->name, nd->layer, m->layers[nd->layer].node);
        m->layers[nd->layer].node = n;
        m->linfo[nd->layer].name = nd->name;
    }

    uint8_t tbin[511], tcsd[511];
    bp_digit_tables(tbin, tcsd);
    uint32_t kmax = 1;
    for (uint32_t i = 0; i < nl; i++)
        if (f->layers[i].K > kmax && f->layers[i].K <= BP_K_MAX) kmax = f->layers[i].K;
    int16_t *w = calloc(kmax, sizeof *w);
    uint32_t *cols = malloc(kmax * sizeof *cols);
    if (!w || !cols) {
        free(w);
        free(cols);
        return bp_fail(BP_ERR_NOMEM, "model: out of memory");
    }
    bp_model_info *I = &m->info;
    for (uint32_t i = 0; i < nl; i++) {
        bp_status st = BP_OK;
        if (m->layers[i].node == UINT32_MAX)
            st = bp_fail(BP_ERR_BAD_GRAPH, "layer %u: no conv2d/linear node uses it", i);
        if (!st) st = bp_layer_build(m, i, tbin, tcsd, w, cols);
        if (st) {
            free(w);
            free(cols);
            return st;
        }
        bp_layer_info *inf = &m->linfo[i];
        const bpf_node *nd = &f->nodes[m->layers[i].node];
        if (f->layers[i].kind == BPF_LAYER_CONV && nd->n_out >= 1 &&
            nd->out[0] < f->n_tensors) {
            const bpf_tensor *t = &f->tensors[nd->out[0]];
            if (t->ndim == 4) inf->out_pixels = (uint64_t)t->dims[2] * t->dims[3];
        }
        inf->macs = inf->weights * inf->out_pixels;
        I->weights += inf->weights;
        I->nonzeros += inf->nonzeros;
        I->digits += inf->digits;
        I->digits_binary += inf->digits_binary;
        I->digits_csd += inf->digits_csd;
        I->macs += inf->macs;
    }
    free(w);
    free(cols);
    for (uint32_t i = 0; i < f->n_inputs + f->n_outputs; i++) {
        int is_in = i < f->n_inputs;
        uint32_t tid = is_in ? f->inputs[i] : f->outputs[i - f->n_inputs];
        if (tid >= f->n_tensors)
            return bp_fail(BP_ERR_BAD_GRAPH, "graph %s %u: tensor id %u out of range",
                           is_in ? "input" : "output", i, tid);
        const bpf_tensor *t = &f->tensors[tid];
        bp_tensor_info *ti = is_in ? &m->inputs[i] : &m->outputs[i - f->n_inputs];
        ti->size = sizeof *ti;
        ti->name = t->name;
        ti->ndim = t->ndim;
        for (uint32_t d = 0; d < t->ndim && d < BP_MAX_DIMS; d++) ti->dims[d] = t->dims[d];
    }
    I->n_inputs = f->n_inputs;
    I->n_outputs = f->n_outputs;
    I->n_layers = nl;
    I->n_nodes = f->n_nodes;
    I->inputs = m->inputs;
    I->outputs = m->outputs;
    I->layers = m->linfo;
    I->sparsity = I->weights ? 1.0 - (double)I->nonzeros / (double)I->weights : 0.0;
    I->digits_per_weight = I->weights ? (double)I->digits / (double)I->weights : 0.0;
    const char *arch = bpf_meta_get(f, "arch");
    I->arch = arch ? arch : "";
    return BP_OK;
}

static bp_status bp_model_finish(bpf_status fs, bpf_model *f, bp_model **out)
{
    if (fs != BPF_OK) {
        const char *msg = bpf_last_error();
        return bp_fail((bp_status)fs, "%s", msg && *msg ? msg : "model load failed");
    }
    bp_model *m = calloc(1, sizeof *m);
    if (!m) {
        bpf_model_free(f);
        return bp_fail(BP_ERR_NOMEM, "model: out of memory");
    }
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        bpf_model_free(f);
        return bp_fail(BP_ERR_NOMEM, "model: cannot create its lock");
    }
    m->magic = BP_MODEL_MAGIC;
    atomic_init(&m->refs, 1);
    m->f = f;
    bp_status st = bp_model_build(m);
    if (!st && !bp_handle_add(m, BP_HANDLE_MODEL))
        st = bp_fail(BP_ERR_NOMEM, "model: out of memory");
    if (st) {
        bp_model_destroy(m);
        return st;
    }
    *out = m;
    bp_error_clear();
    return BP_OK;
}

static uint32_t bp_load_flags(const bp_model_opts *opts)
{
    return !opts->verify_checksums ? BPF_LOAD_NO_CHECKSUM : 0u;
}

/* The caller's opts (NULL: defaults) read into o and checked. */
static bp_status bp_check_opts(const bp_model_opts *opts, bp_model_opts *o, const char *fn)
{
    bp_model_opts_defaults(o);
    if (opts) {
        bp_status st = bp_struct_read(&bp_sd_model_opts, opts, o, fn, "opts");
        if (st) return st;
    }
    if (o->mmap != 0 && o->mmap != 1)
        return bp_fail(BP_ERR_INVALID_ARG, "%s: opts->mmap is %d, must be 0 or 1", fn,
                       o->mmap);
    return BP_OK;
}

BP_API bp_status bp_model_load_file(const char *path, const bp_model_opts *opts,
                                    bp_model **out)
{
    if (out) *out = NULL;
    if (!path || !out)
        return bp_fail(BP_ERR_INVALID_ARG, "bp_model_load_file: %s is NULL",
                       !path ? "path" : "out");
    bp_model_opts o;
    bp_status st = bp_check_opts(opts, &o, "bp_model_load_file");
    if (st) return st;
    uint32_t flags = bp_load_flags(&o) | (o.mmap ? BPF_LOAD_MMAP : 0u);
    bpf_model *f = NULL;
    bpf_status fs = bpf_load_file(path, flags, &f);
    if (fs != BPF_OK) {
        const char *msg = bpf_last_error();
        if (!msg || !*msg)
            msg = "load failed";
        /* I/O errors already name the file; validation errors name the place
         * inside it, so they get the path in front. */
        size_t n = strlen(path);
        if (strncmp(msg, path, n) == 0 && msg[n] == ':')
            return bp_fail((bp_status)fs, "%s", msg);
        return bp_fail((bp_status)fs, "%s: %s", path, msg);
    }
    return bp_model_finish(fs, f, out);
}

BP_API bp_status bp_model_load_memory(const void *buf, size_t size,
                                      const bp_model_opts *opts, bp_model **out)
{
    if (out) *out = NULL;
    if (!buf || !out)
        return bp_fail(BP_ERR_INVALID_ARG, "bp_model_load_memory: %s is NULL",
                       !buf ? "buf" : "out");
    bp_model_opts o;
    bp_status st = bp_check_opts(opts, &o, "bp_model_load_memory");
    if (st) return st;
    bpf_model *f = NULL;
    bpf_status fs = bpf_load_memory(buf, size, bp_load_flags(&o), &f);
    return bp_model_finish(fs, f, out);
}

/* m's info copied for callers whose structs have the given sizes (checked):
 * bp_model_info, then the inputs, outputs and layers arrays at those
 * strides, each entry the common prefix and zeros. */
static bp_info_view *bp_info_view_make(const bp_model *m, size_t is, size_t ls, size_t ts)
{
    const bp_model_info *I = &m->info;
    size_t nt = (size_t)I->n_inputs + I->n_outputs;
    /* sizes <= BP_STRUCT_SIZE_MAX and counts < 2^32: no overflow */
    size_t total = is + nt * ts + (size_t)I->n_layers * ls;
    bp_info_view *v = calloc(1, sizeof *v);
    unsigned char *mem = calloc(1, total);
    if (!v || !mem) {
        free(v);
        free(mem);
        return NULL;
    }
    unsigned char *tin = mem + is, *tout = tin + (size_t)I->n_inputs * ts;
    unsigned char *lay = tout + (size_t)I->n_outputs * ts;
    bp_model_info c = *I;
    c.inputs = (const bp_tensor_info *)tin;
    c.outputs = (const bp_tensor_info *)tout;
    c.layers = (const bp_layer_info *)lay;
    bp_struct_write(&bp_sd_model_info, mem, is, &c);
    for (uint32_t i = 0; i < I->n_inputs; i++)
        bp_struct_write(&bp_sd_tensor_info, tin + i * ts, ts, &m->inputs[i]);
    for (uint32_t i = 0; i < I->n_outputs; i++)
        bp_struct_write(&bp_sd_tensor_info, tout + i * ts, ts, &m->outputs[i]);
    for (uint32_t i = 0; i < I->n_layers; i++)
        bp_struct_write(&bp_sd_layer_info, lay + (size_t)i * ls, ls, &m->linfo[i]);
    v->info_size = is;
    v->layer_size = ls;
    v->tensor_size = ts;
    v->info = (const bp_model_info *)mem;
    v->mem = mem;
    return v;
}

BP_API bp_status bp_model_info_get_sized(const bp_model *m, const bp_model_info **info,
                                         size_t info_size, size_t layer_size,
                                         size_t tensor_size)
{
    const char *fn = "bp_model_info_get";
    bp_status st = bp_model_check(m, fn);
    if (st) return st;
    if (!info) return bp_fail(BP_ERR_INVALID_ARG, "%s: info is NULL", fn);
    *info = NULL;
    if ((st = bp_struct_size_check(&bp_sd_model_info, info_size, fn, "info_size")) ||
        (st = bp_struct_size_check(&bp_sd_layer_info, layer_size, fn, "layer_size")) ||
        (st = bp_struct_size_check(&bp_sd_tensor_info, tensor_size, fn, "tensor_size")))
        return st;
    if (info_size == sizeof(bp_model_info) && layer_size == sizeof(bp_layer_info) &&
        tensor_size == sizeof(bp_tensor_info)) {
        *info = &m->info;
        return BP_OK;
    }
    bp_model *mm = (bp_model *)m; /* the view cache; the model stays immutable */
    pthread_mutex_lock(&mm->lock);
    bp_info_view *v = mm->views;
    while (v && (v->info_size != info_size || v->layer_size != layer_size ||
                 v->tensor_size != tensor_size))
        v = v->next;
    if (!v && (v = bp_info_view_make(m, info_size, layer_size, tensor_size))) {
        v->next = mm->views;
        mm->views = v;
    }
    pthread_mutex_unlock(&mm->lock);
    if (!v) return bp_fail(BP_ERR_NOMEM, "%s: out of memory", fn);
    *info = v->info;
    return BP_OK;
}

BP_API const char *bp_model_meta(const bp_model *m, const char *key)
{
    if (!key || bp_model_check(m, "bp_model_meta")) return NULL;
    return bpf_meta_get(m->f, key);
}
