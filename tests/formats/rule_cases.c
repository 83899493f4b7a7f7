/* The bad-file cases: each starts from the valid reference model and breaks
 * exactly one SPEC.md rule, either in the desc (written unchecked) or by
 * patching bytes (then, unless the rule is a checksum, re-fixing hashes). */
#include "bpf.h" /* first: the header is self-contained */
#include "bpf_internal.h" /* likewise */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rule_cases.h"

/* ---- byte access ---- */
static uint8_t *bpft_entry(bpft_bad *f, uint32_t kind)
{
    for (uint32_t i = 0; i < BPF_N_SECTIONS; i++) {
        uint8_t *e = f->b + BPF_HEADER_SIZE + i * BPF_SECTION_ENTRY_SIZE;
        if (bpf_rd32(e + BPF_S_KIND) == kind) return e;
    }
    abort();
}
static uint8_t *bpft_sec(bpft_bad *f, uint32_t kind) { return f->b + bpf_rd64(bpft_entry(f, kind) + BPF_S_OFFSET); }
static uint8_t *bpft_trec(bpft_bad *f, uint32_t i) { return bpft_sec(f, BPF_SEC_TENSORS) + i * BPF_TENSOR_REC; }
static uint8_t *bpft_nrec(bpft_bad *f, uint32_t i) { return bpft_sec(f, BPF_SEC_NODES) + i * BPF_NODE_REC; }
static uint8_t *bpft_lrec(bpft_bad *f, uint32_t i) { return bpft_sec(f, BPF_SEC_LAYERS) + i * BPF_LAYER_REC; }
static uint8_t *bpft_larr(bpft_bad *f, uint32_t l, uint32_t field) { return f->b + bpf_rd64(bpft_lrec(f, l) + field); }
static uint32_t *bpft_row_ptr(bpft_bad *f, uint32_t l) { return (uint32_t *)bpft_larr(f, l, BPF_L_ROW_PTR_OFF); }
static uint16_t *bpft_col_idx(bpft_bad *f, uint32_t l) { return (uint16_t *)bpft_larr(f, l, BPF_L_COL_IDX_OFF); }
static void bpft_set32(uint8_t *p, uint32_t v) { bpf_wr32(p, v); }
static void bpft_set64(uint8_t *p, uint64_t v) { bpf_wr64(p, v); }
static void bpft_setf(uint8_t *p, float v) { bpf_wrf32(p, v); }

/* Planes of layer l from explicit (row, m, sign, k) digits, sorted by
 * (row, m, sign, k); replaces the layer's planes in the desc. */
static void bpft_tuples(bpft_model *t, uint32_t l, const uint32_t (*tp)[4], uint32_t n)
{
    bpf_layer *L = &t->layers[l];
    bpft_layer_store *s = &t->ls[l];
    uint32_t ne = L->c_out * L->M * 2;
    memset(s->row_ptr, 0, sizeof(uint32_t) * (ne + 1));
    for (uint32_t i = 0; i < n; i++) {
        s->row_ptr[(tp[i][0] * L->M + tp[i][1]) * 2 + tp[i][2] + 1]++;
        s->col_idx[i] = (uint16_t)tp[i][3];
    }
    for (uint32_t e = 0; e < ne; e++) s->row_ptr[e + 1] += s->row_ptr[e];
    L->n_digits = n;
}

/* First (row, plane, sign) list of layer l with at least two digits. */
static uint32_t bpft_list_with_two(bpft_bad *f, uint32_t l)
{
    const uint32_t *rp = bpft_row_ptr(f, l);
    uint32_t ne = bpf_rd32(bpft_lrec(f, l) + BPF_L_C_OUT) * bpf_rd32(bpft_lrec(f, l) + BPF_L_M) * 2;
    for (uint32_t e = 0; e < ne; e++)
        if (rp[e + 1] - rp[e] >= 2) return rp[e];
    abort(); /* the reference model always has such a list (w[0] = +-w_max) */
}

/* ---- header and file size ---- */
static void r1(bpft_bad *f) { f->size = 63; }
static void r2(bpft_bad *f) { f->b[1] ^= 0x20; }
static void r3(bpft_bad *f) { bpft_set32(f->b + BPF_H_ENDIAN, 0x0D0C0B0Au); }
static void r4(bpft_bad *f) { bpft_set32(f->b + BPF_H_VERSION, 2); }
static void r5(bpft_bad *f) { bpft_set32(f->b + BPF_H_HEADER_SIZE, 128); }
static void r5b(bpft_bad *f) { bpft_set32(f->b + BPF_H_ENTRY_SIZE, 24); }
static void r6(bpft_bad *f) { bpft_set32(f->b + BPF_H_FLAGS, 1); }
static void r7(bpft_bad *f) { f->b[BPF_H_RESERVED1 + 3] = 1; }
static void r8(bpft_bad *f) { bpft_set32(f->b + BPF_H_N_SECTIONS, 8); }
static void r8b(bpft_bad *f) { bpft_set32(f->b + BPF_H_N_SECTIONS, 0xFFFFFFFFu); }
static void r9(bpft_bad *f) { f->size = BPF_HEADER_SIZE + 100; }
static void r10(bpft_bad *f) { f->b[BPF_H_TABLE_HASH] ^= 1; }
static void r10b(bpft_bad *f) { bpft_set64(bpft_entry(f, BPF_SEC_DATA) + BPF_S_SIZE, 64); } /* not re-fixed */
static void r10c(bpft_bad *f) { f->b[BPF_H_FILE_SIZE] ^= 4; }
static void r11(bpft_bad *f) { f->size -= 1; }
static void r12(bpft_bad *f) { f->b[f->size] = 0; f->size += 1; }

/* ---- section table ---- */
static void r13(bpft_bad *f) { bpft_set32(bpft_entry(f, BPF_SEC_META) + BPF_S_KIND, 9); }
static void r13b(bpft_bad *f) { bpft_set32(bpft_entry(f, BPF_SEC_META) + BPF_S_KIND, BPF_SEC_STRINGS); }
static void r13c(bpft_bad *f) { bpft_set32(bpft_entry(f, BPF_SEC_META) + BPF_S_KIND, 0); }
static void r14(bpft_bad *f) { bpft_set32(bpft_entry(f, BPF_SEC_NODES) + BPF_S_RESERVED, 1); }
static void r15(bpft_bad *f)
{
    uint8_t *e = bpft_entry(f, BPF_SEC_DATA);
    bpft_set64(e + BPF_S_OFFSET, bpf_rd64(e + BPF_S_OFFSET) + 8);
    bpft_set64(e + BPF_S_SIZE, bpf_rd64(e + BPF_S_SIZE) - 8);
}
static void r16(bpft_bad *f) { bpft_set64(bpft_entry(f, BPF_SEC_DATA) + BPF_S_SIZE, UINT64_MAX - 63); }
static void r16b(bpft_bad *f) { bpft_set64(bpft_entry(f, BPF_SEC_TENSORS) + BPF_S_OFFSET, UINT64_MAX - 63); }
static void r16c(bpft_bad *f) { bpft_set64(bpft_entry(f, BPF_SEC_STRINGS) + BPF_S_OFFSET, 64); }
static void r16d(bpft_bad *f)
{
    uint8_t *e = bpft_entry(f, BPF_SEC_DATA);
    bpft_set64(e + BPF_S_SIZE, bpf_rd64(e + BPF_S_SIZE) + 1);
}
static void r17(bpft_bad *f)
{
    bpft_set64(bpft_entry(f, BPF_SEC_META) + BPF_S_OFFSET, bpf_rd64(bpft_entry(f, BPF_SEC_STRINGS) + BPF_S_OFFSET));
}
static void r17b(bpft_bad *f)
{
    /* NODES moved inside DATA (aligned, in bounds): overlap, not out of bounds. */
    bpft_set64(bpft_entry(f, BPF_SEC_NODES) + BPF_S_OFFSET, bpf_rd64(bpft_entry(f, BPF_SEC_DATA) + BPF_S_OFFSET));
}
static void r18(bpft_bad *f) { bpft_larr(f, 0, BPF_L_W_SCALE_OFF)[0] ^= 1; } /* hash not re-fixed */
static void r18b(bpft_bad *f) { bpft_sec(f, BPF_SEC_STRINGS)[1] ^= 0x01; }

/* ---- strings and metadata ---- */
static void r19(bpft_bad *f)
{
    uint8_t *s = bpft_sec(f, BPF_SEC_STRINGS);
    s[bpf_rd64(bpft_entry(f, BPF_SEC_STRINGS) + BPF_S_SIZE) - 1] = 'x';
}
static void r19b(bpft_bad *f) { bpft_sec(f, BPF_SEC_STRINGS)[0] = 'x'; }
static void r20(bpft_bad *f)
{
    bpft_set32(bpft_trec(f, 0) + BPF_T_NAME, (uint32_t)bpf_rd64(bpft_entry(f, BPF_SEC_STRINGS) + BPF_S_SIZE));
}
static void r20b(bpft_bad *f) { bpft_set32(bpft_sec(f, BPF_SEC_META) + 8 + BPF_M_VALUE, 0xFFFFFFF0u); }
static char long_name[BPF_MAX_STRING + 2];
static void r21(bpft_model *t)
{
    memset(long_name, 'a', BPF_MAX_STRING + 1);
    long_name[BPF_MAX_STRING + 1] = 0;
    t->tensors[23].name = long_name;
}
static void r21ok(bpft_model *t)
{
    /* exactly at the limit is fine: the case then fails later, on R22 */
    memset(long_name, 'b', BPF_MAX_STRING);
    long_name[BPF_MAX_STRING] = 0;
    long_name[BPF_MAX_STRING - 1] = (char)0xC3; /* cut 2-byte sequence */
    t->tensors[23].name = long_name;
}
static void r22(bpft_model *t) { t->meta[2].value = "\xc0\x80"; }        /* overlong NUL */
static void r22b(bpft_model *t) { t->nodes[3].name = "dw\xed\xa0\x80"; } /* surrogate */
static void r22c(bpft_model *t) { t->meta[0].key = "k\xf4\x90\x80\x80"; } /* > U+10FFFF */
static void r22d(bpft_model *t) { t->tensors[2].name = "\xe2\x82"; }      /* cut short */
static void r23(bpft_bad *f)
{
    uint8_t *e = bpft_entry(f, BPF_SEC_TENSORS);
    bpft_set64(e + BPF_S_SIZE, bpf_rd64(e + BPF_S_SIZE) - 1);
}
static void r23b(bpft_bad *f)
{
    uint8_t *e = bpft_entry(f, BPF_SEC_META);
    bpft_set64(e + BPF_S_SIZE, bpf_rd64(e + BPF_S_SIZE) - 4);
}
static void r23c(bpft_bad *f)
{
    uint8_t *e = bpft_entry(f, BPF_SEC_NODES);
    bpft_set64(e + BPF_S_SIZE, bpf_rd64(e + BPF_S_SIZE) - 8);
}
static void r23d(bpft_bad *f)
{
    uint8_t *e = bpft_entry(f, BPF_SEC_LAYERS);
    bpft_set64(e + BPF_S_SIZE, bpf_rd64(e + BPF_S_SIZE) - 64);
}
static bpf_kv many_meta[BPF_MAX_META + 1];
static void r24(bpft_model *t)
{
    for (uint32_t i = 0; i <= BPF_MAX_META; i++) many_meta[i] = (bpf_kv){"k", "v"};
    t->d.meta = many_meta;
    t->d.n_meta = BPF_MAX_META + 1;
}
static bpf_tensor many_tensors[BPF_MAX_TENSORS + 1];
static void r24b(bpft_model *t)
{
    t->d.tensors = many_tensors; /* all zero: the count is checked first */
    t->d.n_tensors = BPF_MAX_TENSORS + 1;
}
static bpf_layer many_layers[BPF_MAX_LAYERS + 1];
static void r24c(bpft_model *t)
{
    for (uint32_t i = 0; i <= BPF_MAX_LAYERS; i++) many_layers[i] = t->layers[3];
    t->d.layers = many_layers;
    t->d.n_layers = BPF_MAX_LAYERS + 1;
}
static void r25(bpft_model *t) { t->meta[3].key = ""; }
static void r26(bpft_model *t) { t->meta[4].key = t->meta[1].key; }

/* ---- tensors ---- */
static void r27(bpft_bad *f) { bpft_set32(bpft_trec(f, 4) + BPF_T_DTYPE, 9); }
static void r27b(bpft_bad *f) { bpft_set32(bpft_trec(f, 4) + BPF_T_DTYPE, 0); }
static void r28(bpft_bad *f) { bpft_set32(bpft_trec(f, 3) + BPF_T_RESERVED1, 1); }
static void r28b(bpft_bad *f) { bpft_set32(bpft_nrec(f, 2) + BPF_N_RESERVED, 1); }
static void r28c(bpft_bad *f) { bpft_set32(bpft_lrec(f, 1) + BPF_L_RESERVED, 1); }
static void r29(bpft_model *t) { t->tensors[23].ndim = 7; }
static void r29b(bpft_model *t) { t->tensors[23].ndim = 0; }
static void r30(bpft_bad *f) { bpft_set32(bpft_trec(f, 18) + BPF_T_DIMS + 4 * 3, 5); }
static void r31(bpft_model *t) { t->tensors[23].dims[1] = BPF_MAX_DIM + 1; }
static void r31b(bpft_model *t) { t->tensors[23].dims[0] = 0; }
static void r32(bpft_model *t)
{
    t->tensors[23].ndim = 3;
    t->tensors[23].dims[0] = 1u << 20;
    t->tensors[23].dims[1] = 1u << 12;
    t->tensors[23].dims[2] = 2;
}
static void r33(bpft_model *t) { t->tensors[0].scale = NAN; }
static void r33b(bpft_model *t) { t->tensors[0].scale = -1.0f; }
static void r33c(bpft_model *t) { t->tensors[24].scale = INFINITY; }
static void r34(bpft_model *t) { t->tensors[5].nbytes = 12; }
static void r34b(bpft_bad *f) { bpft_set64(bpft_trec(f, 23) + BPF_T_NBYTES, 20); } /* offset stays 0 */
static void r35(bpft_bad *f)
{
    bpft_set64(bpft_trec(f, 5) + BPF_T_DATA_OFF, bpf_rd64(bpft_entry(f, BPF_SEC_DATA) + BPF_S_OFFSET) - 64);
}
static void r35b(bpft_bad *f) { bpft_set64(bpft_lrec(f, 2) + BPF_L_ROW_PTR_OFF, UINT64_MAX - 63); }
static void r35c(bpft_bad *f)
{
    uint8_t *e = bpft_entry(f, BPF_SEC_DATA);
    bpft_set64(bpft_lrec(f, 3) + BPF_L_COL_IDX_OFF, bpf_rd64(e + BPF_S_OFFSET) + bpf_rd64(e + BPF_S_SIZE) + 64);
}
static void r35d(bpft_bad *f)
{
    /* starts at the last aligned offset inside DATA, runs past its end */
    uint8_t *e = bpft_entry(f, BPF_SEC_DATA);
    uint64_t end = bpf_rd64(e + BPF_S_OFFSET) + bpf_rd64(e + BPF_S_SIZE);
    bpft_set64(bpft_lrec(f, 2) + BPF_L_ROW_PTR_OFF, (end - 1) / 64 * 64);
}
static void r36(bpft_bad *f)
{
    bpft_set64(bpft_lrec(f, 0) + BPF_L_W_SCALE_OFF, bpf_rd64(bpft_lrec(f, 0) + BPF_L_W_SCALE_OFF) + 4);
}
static void r36b(bpft_bad *f)
{
    bpft_set64(bpft_trec(f, 8) + BPF_T_DATA_OFF, bpf_rd64(bpft_trec(f, 8) + BPF_T_DATA_OFF) + 2);
}

/* ---- layers ---- */
static void r37(bpft_bad *f) { bpft_set32(bpft_lrec(f, 1) + BPF_L_KIND, 3); }
static void r38(bpft_bad *f) { bpft_set32(bpft_lrec(f, 0) + BPF_L_C_OUT, 0); }
static void r38b(bpft_bad *f) { bpft_set32(bpft_lrec(f, 0) + BPF_L_C_IN, BPF_MAX_CHANNELS + 1); }
static void r39(bpft_bad *f) { bpft_set32(bpft_lrec(f, 0) + BPF_L_STRIDE_H, BPF_MAX_STRIDE + 1); }
static void r39b(bpft_bad *f) { bpft_set32(bpft_lrec(f, 0) + BPF_L_KW, 0); }
static void r39c(bpft_bad *f) { bpft_set32(bpft_lrec(f, 1) + BPF_L_PAD_B, BPF_MAX_PAD + 1); }
static void r39d(bpft_bad *f) { bpft_set32(bpft_lrec(f, 1) + BPF_L_DIL_W, 0); }
static void r40(bpft_bad *f) { bpft_set32(bpft_lrec(f, 1) + BPF_L_GROUPS, 3); }
static void r40c(bpft_bad *f) { bpft_set32(bpft_lrec(f, 0) + BPF_L_GROUPS, 3); } /* c_in 3, c_out 4 */
static void r40b(bpft_bad *f) { bpft_set32(bpft_lrec(f, 1) + BPF_L_GROUPS, 0); }
static void r41(bpft_bad *f) { bpft_set32(bpft_lrec(f, 2) + BPF_L_KH, 3); }
static void r41b(bpft_bad *f) { bpft_set32(bpft_lrec(f, 3) + BPF_L_PAD_L, 1); }
static void r42(bpft_bad *f) { bpft_set32(bpft_lrec(f, 0) + BPF_L_K, 26); }
static void r43(bpft_bad *f)
{
    bpft_set32(bpft_lrec(f, 0) + BPF_L_C_IN, 4096);
    bpft_set32(bpft_lrec(f, 0) + BPF_L_K, 4096 * 9);
}
static void r44(bpft_bad *f) { bpft_set32(bpft_lrec(f, 0) + BPF_L_M, 10); }
static void r44b(bpft_bad *f) { bpft_set32(bpft_lrec(f, 0) + BPF_L_M, 0); }
static void r45(bpft_bad *f) { bpft_set32(bpft_lrec(f, 0) + BPF_L_ENCODING, 2); }
static void r46(bpft_bad *f) { bpft_set32(bpft_lrec(f, 1) + BPF_L_W_MAX, 256); }
static void r47(bpft_bad *f) { bpft_set32(bpft_lrec(f, 3) + BPF_L_W_MAX, 16); } /* binary M=4 */
static void r47b(bpft_bad *f) { bpft_set32(bpft_lrec(f, 2) + BPF_L_W_MAX, 22); } /* csd M=5: max 21 */
static void r48(bpft_bad *f) { bpft_set32(bpft_lrec(f, 0) + BPF_L_IDX_BYTES, 4); }
static void r49(bpft_bad *f) { bpft_set32(bpft_lrec(f, 0) + BPF_L_ACT_DTYPE, BPF_DT_F32); }
static void r50(bpft_bad *f) { bpft_setf(bpft_lrec(f, 2) + BPF_L_ACT_SCALE, 0.0f); }
static void r50b(bpft_bad *f) { bpft_setf(bpft_lrec(f, 2) + BPF_L_ACT_SCALE, INFINITY); }
static void r50c(bpft_bad *f) { bpft_setf(bpft_lrec(f, 2) + BPF_L_ACT_SCALE, -0.5f); }
static void r51(bpft_bad *f) { bpft_set64(bpft_lrec(f, 3) + BPF_L_N_DIGITS, 5 * 4 * 4 + 1); }
static void r52(bpft_bad *f) { bpft_setf(bpft_larr(f, 1, BPF_L_W_SCALE_OFF) + 4, INFINITY); }
static void r52b(bpft_bad *f) { bpft_setf(bpft_larr(f, 3, BPF_L_BIAS_OFF) + 8, NAN); }

/* ---- nodes and graph io ---- */
static void r53(bpft_bad *f) { bpft_set32(bpft_nrec(f, 4) + BPF_N_N_IN, 5); }
static void r53b(bpft_bad *f) { bpft_set32(bpft_nrec(f, 4) + BPF_N_N_OUT, 0xFFFFFFFFu); }
static void r54(bpft_bad *f) { bpft_set32(bpft_nrec(f, 1) + BPF_N_IN + 4 * 1, 3); }
static void r54b(bpft_bad *f) { bpft_set32(bpft_nrec(f, 1) + BPF_N_OUT + 4 * 3, 1); }
static void r55(bpft_bad *f)
{
    uint8_t *e = bpft_entry(f, BPF_SEC_GRAPH_IO);
    bpft_set64(e + BPF_S_SIZE, bpf_rd64(e + BPF_S_SIZE) + 4);
}
static void r55b(bpft_bad *f) { bpft_set64(bpft_entry(f, BPF_SEC_GRAPH_IO) + BPF_S_SIZE, 4); }
static void r56(bpft_model *t) { t->d.n_inputs = 0; }
static void r56b(bpft_bad *f) { bpft_set32(bpft_sec(f, BPF_SEC_GRAPH_IO) + 4, 5); }

/* ---- graph ---- */
static void r57(bpft_model *t) { t->nodes[1].in[0] = 999; }
static void r57b(bpft_model *t) { t->outputs[0] = BPFT_N_TENSORS; }
static void r57c(bpft_model *t) { t->nodes[5].out[0] = 0xFFFFFFFFu; }
static void r58(bpft_model *t) { t->inputs[0] = 5; }
static uint32_t two_inputs[2] = {0, 0};
static void r58b(bpft_model *t)
{
    t->d.inputs = two_inputs;
    t->d.n_inputs = 2;
}
static void r59(bpft_model *t) { t->nodes[1].op = 99; }
static void r59b(bpft_model *t) { t->nodes[1].op = 0; }
static void r60(bpft_model *t) { t->nodes[1].n_in = 2; }
static void r60b(bpft_model *t)
{
    t->nodes[1].n_out = 2;
    t->nodes[1].out[1] = 23;
}
static void r61(bpft_model *t)
{
    bpf_node tmp = t->nodes[0]; /* relu1 before conv1: its input is not yet produced */
    t->nodes[0] = t->nodes[1];
    t->nodes[1] = tmp;
}
static void r61b(bpft_model *t) { t->nodes[1].in[0] = 2; } /* relu1 reads its own output */
static void r61c(bpft_model *t)
{
    /* a two-node cycle: add1 reads gelu's output, gelu reads add1's */
    t->nodes[7].in[1] = 14;
}
static void r62(bpft_model *t) { t->nodes[0].layer = 2; }  /* conv node, linear layer */
static void r62b(bpft_model *t) { t->nodes[13].layer = 4; } /* out of range */
static void r63(bpft_model *t) { t->nodes[14].layer = 2; }
static void r64(bpft_model *t) { t->nodes[1].layer = 0; }
static bpf_layer five_layers[5];
static void r65(bpft_model *t)
{
    memcpy(five_layers, t->layers, sizeof t->layers);
    five_layers[4] = t->layers[3];
    t->d.layers = five_layers;
    t->d.n_layers = 5;
}
static void r66(bpft_model *t) { t->nodes[1].ints[0] = 1; }
static void r66b(bpft_model *t) { t->nodes[5].floats[1] = 1.0f; }
static void r66c(bpft_model *t) { t->nodes[0].ints[7] = -1; }
static void r66d(bpft_model *t) { t->nodes[16].floats[0] = NAN; }
static void r67(bpft_model *t) { t->nodes[1].out[0] = 5; }
static void r67b(bpft_model *t) { t->nodes[1].out[0] = 1; }
static void r67c(bpft_bad *f) { bpft_set32(bpft_nrec(f, 1) + BPF_N_OUT, 0); } /* relu1 writes the input */
static void r68(bpft_model *t) { t->tensors[3].dims[3] = 5; }
static void r68b(bpft_model *t) { t->tensors[19].ndim = 4; t->tensors[19].dims[2] = 1; t->tensors[19].dims[3] = 1; }
static void r68c(bpft_model *t) { t->tensors[4].dims[2] = 3; } /* dw conv output 2x2 */
static void r68d(bpft_model *t) { t->tensors[15].dims[2] = 2; } /* avgpool 2x2 -> 1x1 */
static void r69(bpft_bad *f) { bpft_set32(bpft_trec(f, 0) + BPF_T_DIMS + 4, 5); }
static void r69b(bpft_bad *f)
{
    bpft_set32(bpft_trec(f, 0) + BPF_T_DIMS + 8, 1);
    bpft_set32(bpft_trec(f, 0) + BPF_T_DIMS + 12, 1);
    bpft_set32(bpft_lrec(f, 0) + BPF_L_PAD_B, 0);
    bpft_set32(bpft_lrec(f, 0) + BPF_L_PAD_T, 0);
}
static void r70(bpft_model *t)
{
    t->tensors[5].dims[0] = 3;
    t->tensors[5].nbytes = 12;
}
static void r70b(bpft_model *t) { t->nodes[5].in[1] = 4; } /* ln gamma: an activation */
static void r71(bpft_model *t) { t->nodes[5].floats[0] = 0.0f; }
static void r71b(bpft_model *t) { t->nodes[5].floats[0] = INFINITY; }
static void r72(bpft_model *t) { t->nodes[2].ints[0] = 0; }
static void r72b(bpft_model *t) { t->nodes[9].ints[3] = 65; }
static void r73(bpft_model *t) { t->nodes[2].ints[4] = 2; }
static void r73b(bpft_model *t) { t->nodes[9].ints[7] = -1; }
static void r74(bpft_model *t) { t->outputs[0] = 23; }
static void r60c(bpft_model *t) { t->nodes[7].op = BPF_OP_CONCAT; t->nodes[7].n_in = 1; t->nodes[7].ints[0] = 1; }
static void r66e(bpft_model *t) { t->nodes[1].op = BPF_OP_SIGMOID; t->nodes[1].floats[0] = 1.0f; }
static void r68e(bpft_model *t) { t->nodes[7].op = BPF_OP_CONCAT; t->nodes[7].ints[0] = 1; }
/* ---- broadcasting, the mobile-network ops ---- */
static void r84(bpft_model *t) { t->nodes[7].in[1] = 3; } /* add1: (1,4,2,2) + (1,4,4,4) */
static void r84b(bpft_model *t) { t->nodes[11].op = BPF_OP_MUL; t->nodes[11].in[1] = 4; } /* (1,4,1,1) * (1,4,2,2) */
static void r84c(bpft_model *t) { t->nodes[15].in[0] = 5; t->nodes[15].in[1] = 6; } /* two constants */
static void r85(bpft_model *t) { t->nodes[1].op = BPF_OP_CLIP; t->nodes[1].floats[0] = 1.0f; }
static void r85b(bpft_model *t) { t->nodes[1].op = BPF_OP_HARDSIGMOID; t->nodes[1].floats[0] = INFINITY; }
static void r85c(bpft_model *t) { t->nodes[1].op = BPF_OP_CLIP; t->nodes[1].floats[1] = NAN; }
static void r86(bpft_model *t) { t->nodes[7].op = BPF_OP_CONCAT; }
static void r86b(bpft_model *t) { r68e(t); t->nodes[7].in[1] = 11; } /* ls.gamma: a constant */
static void r86c(bpft_model *t) { r68e(t); t->nodes[7].in[1] = 3; } /* (1,4,4,4) */
static void r87(bpft_model *t)
{
    bpf_node *n = &t->nodes[1];
    n->op = BPF_OP_RESIZE;
    n->ints[0] = 2;
    n->floats[0] = n->floats[1] = 1.0f;
}
static void r87b(bpft_model *t) { r87(t); t->nodes[1].ints[0] = 1; t->nodes[1].ints[2] = 1; }
static void r87c(bpft_model *t) { r87(t); t->nodes[1].ints[0] = 0; t->nodes[1].floats[1] = 0.1f; }
static void r88(bpft_model *t)
{
    bpf_node *n = &t->nodes[1];
    n->op = BPF_OP_CONVTRANSPOSE;
    n->n_in = 2;
    n->in[1] = 5; /* bn.scale, (4): not 4-D */
    n->ints[0] = n->ints[1] = 1;
}
/* bn.scale as a (4,1,1,1) weight (bn still sees 4 elements) */
static void r88b(bpft_model *t)
{
    r88(t);
    t->tensors[5].ndim = 4;
    t->tensors[5].dims[1] = t->tensors[5].dims[2] = t->tensors[5].dims[3] = 1;
    t->nodes[1].ints[1] = 0;
}
static void r88c(bpft_model *t) { r88b(t); t->nodes[1].ints[1] = 1; t->nodes[1].ints[7] = 1; }

/* ---- planes ---- */
static void r75(bpft_bad *f) { bpft_row_ptr(f, 0)[0] = 1; }
static void r76(bpft_bad *f)
{
    uint32_t *rp = bpft_row_ptr(f, 1);
    uint32_t e = 1;
    while (rp[e + 1] == 0) e++; /* rp[e+1] > 0: make rp[e] exceed it */
    rp[e] = rp[e + 1] + 1;
}
static void r77(bpft_bad *f)
{
    uint32_t n = (uint32_t)bpf_rd64(bpft_lrec(f, 2) + BPF_L_N_DIGITS);
    bpft_row_ptr(f, 2)[5 * 5 * 2] = n + 1;
}
static void r77b(bpft_bad *f)
{
    /* the last list loses a digit; monotone but short of n_digits */
    uint32_t *rp = bpft_row_ptr(f, 0);
    uint32_t last = 4 * 8 * 2;
    uint32_t e = last;
    while (rp[e - 1] == rp[last]) e--; /* rp[e] is the end of the last non-empty list */
    for (uint32_t q = e; q <= last; q++) rp[q]--;
}
static void r78(bpft_bad *f) { bpft_col_idx(f, 0)[0] = 27; }
static void r78b(bpft_bad *f) { bpft_col_idx(f, 3)[bpf_rd64(bpft_lrec(f, 3) + BPF_L_N_DIGITS) - 1] = 0xFFFF; }
static void r79(bpft_bad *f)
{
    uint32_t i = bpft_list_with_two(f, 1);
    bpft_col_idx(f, 1)[i + 1] = bpft_col_idx(f, 1)[i];
}
static void r79b(bpft_bad *f)
{
    uint32_t i = bpft_list_with_two(f, 0);
    uint16_t *c = bpft_col_idx(f, 0);
    uint16_t tmp = c[i];
    c[i] = c[i + 1];
    c[i + 1] = tmp;
}
static void r80(bpft_model *t)
{
    static const uint32_t tp[][4] = {{0, 0, 0, 1}, {0, 0, 1, 1}, {2, 3, 0, 0}};
    bpft_tuples(t, 3, tp, 3);
}
static void r81(bpft_model *t)
{
    /* binary layer 3: w[1][2] = +1 - 4 = -3 in mixed signs */
    static const uint32_t tp[][4] = {{1, 0, 0, 2}, {1, 2, 1, 2}};
    bpft_tuples(t, 3, tp, 2);
}
static void r82(bpft_model *t)
{
    /* csd layer 2: w[0][1] = 1 + 2 = 3 with adjacent digits */
    static const uint32_t tp[][4] = {{0, 0, 0, 1}, {0, 1, 0, 1}};
    bpft_tuples(t, 2, tp, 2);
}
static void r82b(bpft_model *t)
{
    /* csd layer 2: +8 - 4 = 4 with adjacent digits of opposite sign */
    static const uint32_t tp[][4] = {{4, 2, 1, 3}, {4, 3, 0, 3}};
    bpft_tuples(t, 2, tp, 2);
}
static void r83(bpft_bad *f) { bpft_set32(bpft_lrec(f, 1) + BPF_L_W_MAX, 254); } /* w[0][0] = 255 */
static void r83b(bpft_model *t)
{
    /* binary layer 3, w_max 15 lowered to 7 with a valid 8 = digit 3 */
    t->layers[3].w_max = 7;
    static const uint32_t tp[][4] = {{3, 3, 1, 2}};
    bpft_tuples(t, 3, tp, 1);
}

#define PRE(id, st, msg, fn) {id, st, msg, fn, NULL, 0}
#define POST(id, st, msg, fn) {id, st, msg, NULL, fn, 1}
#define RAW(id, st, msg, fn) {id, st, msg, NULL, fn, 0}

const bpft_case bpft_cases[] = {
    RAW("R1 file shorter than the header", BPF_ERR_TRUNCATED, "shorter than the 64-byte header", r1),
    RAW("R2 bad magic", BPF_ERR_BAD_MAGIC, "magic", r2),
    POST("R3 big-endian marker", BPF_ERR_VERSION, "endianness", r3),
    POST("R4 version 2", BPF_ERR_VERSION, "version 2", r4),
    POST("R5 header size", BPF_ERR_VERSION, "header size 128", r5),
    POST("R5 entry size", BPF_ERR_VERSION, "entry size 24", r5b),
    POST("R6 unknown flag", BPF_ERR_VERSION, "flags", r6),
    POST("R7 reserved header bytes", BPF_ERR_VERSION, "reserved", r7),
    POST("R8 eight sections", BPF_ERR_BAD_SECTION, "8 sections", r8),
    RAW("R8 2^32-1 sections", BPF_ERR_BAD_SECTION, "sections", r8b),
    RAW("R9 table cut short", BPF_ERR_TRUNCATED, "section table ends", r9),
    RAW("R10 table hash flipped", BPF_ERR_CHECKSUM, "header/table hash", r10),
    RAW("R10 table edited without re-hash", BPF_ERR_CHECKSUM, "header/table hash", r10b),
    RAW("R10 file_size edited without re-hash", BPF_ERR_CHECKSUM, "header/table hash", r10c),
    RAW("R11 one byte short", BPF_ERR_TRUNCATED, "header says", r11),
    RAW("R12 one trailing byte", BPF_ERR_BAD_SECTION, "trailing", r12),
    POST("R13 unknown kind", BPF_ERR_BAD_SECTION, "unknown kind 9", r13),
    POST("R13 duplicate kind", BPF_ERR_BAD_SECTION, "second STRINGS", r13b),
    POST("R13 kind 0", BPF_ERR_BAD_SECTION, "unknown kind 0", r13c),
    POST("R14 entry reserved", BPF_ERR_BAD_SECTION, "reserved", r14),
    POST("R15 misaligned section", BPF_ERR_BAD_SECTION, "aligned", r15),
    POST("R16 size overflows", BPF_ERR_BAD_SECTION, "outside the file body", r16),
    POST("R16 offset overflows", BPF_ERR_BAD_SECTION, "outside the file body", r16b),
    POST("R16 section over the table", BPF_ERR_BAD_SECTION, "outside the file body", r16c),
    POST("R16 one byte past the end", BPF_ERR_BAD_SECTION, "outside the file body", r16d),
    POST("R17 META over STRINGS", BPF_ERR_BAD_SECTION, "overlap", r17),
    POST("R17 NODES inside DATA", BPF_ERR_BAD_SECTION, "overlap", r17b),
    RAW("R18 DATA byte flipped", BPF_ERR_CHECKSUM, "(DATA): xxh3", r18),
    RAW("R18 STRINGS byte flipped", BPF_ERR_CHECKSUM, "(STRINGS): xxh3", r18b),
    POST("R19 STRINGS not NUL-terminated", BPF_ERR_BAD_META, "NUL", r19),
    POST("R19 STRINGS not starting with NUL", BPF_ERR_BAD_META, "NUL", r19b),
    POST("R20 name offset past STRINGS", BPF_ERR_BAD_META, "tensor 0: name offset", r20),
    POST("R20 meta value offset huge", BPF_ERR_BAD_META, "meta 1: value offset", r20b),
    PRE("R21 4097-byte name", BPF_ERR_LIMIT, "longer than 4096", r21),
    PRE("R22 4096-byte name is allowed, cut UTF-8 is not", BPF_ERR_BAD_META, "tensor 23: name", r21ok),
    PRE("R22 overlong", BPF_ERR_BAD_META, "meta 2: value at STRINGS", r22),
    PRE("R22 surrogate", BPF_ERR_BAD_META, "node 3: name", r22b),
    PRE("R22 above U+10FFFF", BPF_ERR_BAD_META, "meta 0: key", r22c),
    PRE("R22 truncated sequence", BPF_ERR_BAD_META, "tensor 2: name", r22d),
    POST("R23 TENSORS size", BPF_ERR_BAD_SECTION, "TENSORS: size", r23),
    POST("R23 META size", BPF_ERR_BAD_SECTION, "META: size", r23b),
    POST("R23 NODES size", BPF_ERR_BAD_SECTION, "NODES: size", r23c),
    POST("R23 LAYERS size", BPF_ERR_BAD_SECTION, "LAYERS: size", r23d),
    PRE("R24 1025 metadata entries", BPF_ERR_LIMIT, "META: 1025 entries", r24),
    PRE("R24 65537 tensors", BPF_ERR_LIMIT, "TENSORS: 65537 tensors, limit 65536", r24b),
    PRE("R24 16385 layers", BPF_ERR_LIMIT, "LAYERS: 16385 layers, limit 16384", r24c),
    PRE("R25 empty key", BPF_ERR_BAD_META, "meta 3: empty key", r25),
    PRE("R26 duplicate key", BPF_ERR_BAD_META, "duplicate key 'arch'", r26),
    POST("R27 dtype 9", BPF_ERR_BAD_GRAPH, "tensor 4 'dw.out': unknown dtype 9", r27),
    POST("R27 dtype 0", BPF_ERR_BAD_GRAPH, "unknown dtype 0", r27b),
    POST("R28 tensor reserved", BPF_ERR_BAD_SECTION, "tensor 3 'pool1.out': reserved", r28),
    POST("R28 node reserved", BPF_ERR_BAD_SECTION, "node 2 'pool1': reserved", r28b),
    POST("R28 layer reserved", BPF_ERR_BAD_SECTION, "layer 1: reserved", r28c),
    PRE("R29 ndim 7", BPF_ERR_LIMIT, "ndim 7", r29),
    PRE("R29 ndim 0", BPF_ERR_LIMIT, "ndim 0", r29b),
    POST("R30 dim beyond ndim", BPF_ERR_BAD_GRAPH, "dims[3] = 5 beyond ndim 2", r30),
    PRE("R31 dimension 2^20+1", BPF_ERR_LIMIT, "dims[1] = 1048577", r31),
    PRE("R31 dimension 0", BPF_ERR_LIMIT, "dims[0] = 0", r31b),
    PRE("R32 2^33 elements", BPF_ERR_LIMIT, "elements", r32),
    PRE("R33 NaN scale", BPF_ERR_BAD_GRAPH, "tensor 0 'input': scale nan", r33),
    PRE("R33 negative scale", BPF_ERR_BAD_GRAPH, "scale -1", r33b),
    PRE("R33 inf scale", BPF_ERR_BAD_GRAPH, "tensor 24 '': scale inf", r33c),
    PRE("R34 constant too short", BPF_ERR_BAD_SECTION, "12 data bytes, shape and dtype need 16", r34),
    POST("R34 activation with a size", BPF_ERR_BAD_SECTION, "20 data bytes, shape and dtype need 28", r34b),
    POST("R35 tensor data before DATA", BPF_ERR_BAD_SECTION, "tensor 5: data", r35),
    POST("R35 row_ptr offset overflows", BPF_ERR_BAD_SECTION, "layer 2: row_ptr", r35b),
    POST("R35 col_idx past DATA", BPF_ERR_BAD_SECTION, "layer 3: col_idx", r35c),
    POST("R35 row_ptr runs past the end of DATA", BPF_ERR_BAD_SECTION, "layer 2: row_ptr", r35d),
    POST("R36 w_scale misaligned", BPF_ERR_BAD_SECTION, "w_scale offset", r36),
    POST("R36 tensor data misaligned", BPF_ERR_BAD_SECTION, "tensor 8: data offset", r36b),
    POST("R37 layer kind 3", BPF_ERR_BAD_GRAPH, "layer 1: unknown kind 3", r37),
    POST("R38 c_out 0", BPF_ERR_LIMIT, "c_out 0", r38),
    POST("R38 c_in 65537", BPF_ERR_LIMIT, "c_in 65537", r38b),
    POST("R39 stride 65", BPF_ERR_LIMIT, "stride 65x1", r39),
    POST("R39 kernel width 0", BPF_ERR_LIMIT, "kernel 3x0", r39b),
    POST("R39 padding 65", BPF_ERR_LIMIT, "padding", r39c),
    POST("R39 dilation 0", BPF_ERR_LIMIT, "dilation 1x0", r39d),
    POST("R40 groups 3 of 4", BPF_ERR_BAD_GRAPH, "groups 3", r40),
    POST("R40 groups divide c_in, not c_out", BPF_ERR_BAD_GRAPH, "groups 3 must divide c_in 3 and c_out 4", r40c),
    POST("R40 groups 0", BPF_ERR_BAD_GRAPH, "groups 0", r40b),
    POST("R41 linear 3x3", BPF_ERR_BAD_GRAPH, "layer 2 (linear): needs kernel 1x1", r41),
    POST("R41 linear padded", BPF_ERR_BAD_GRAPH, "layer 3 (linear)", r41b),
    POST("R42 K mismatch", BPF_ERR_BAD_GRAPH, "K = 26, but c_in/groups*kh*kw = 27", r42),
    POST("R43 K 36864", BPF_ERR_LIMIT, "K = 36864 above 32768", r43),
    POST("R44 M 10", BPF_ERR_LIMIT, "M = 10", r44),
    POST("R44 M 0", BPF_ERR_LIMIT, "M = 0", r44b),
    POST("R45 encoding 2", BPF_ERR_BAD_PLANES, "unknown encoding 2", r45),
    POST("R46 w_max 256", BPF_ERR_LIMIT, "w_max 256", r46),
    POST("R47 binary w_max beyond M", BPF_ERR_BAD_PLANES, "w_max 16 needs more than M = 4 binary", r47),
    POST("R47 csd w_max beyond M", BPF_ERR_BAD_PLANES, "w_max 22 needs more than M = 5 csd digits (max 21)", r47b),
    POST("R48 idx_bytes 4 for small K", BPF_ERR_BAD_PLANES, "idx_bytes 4", r48),
    POST("R49 f32 act_dtype", BPF_ERR_BAD_GRAPH, "act_dtype 1", r49),
    POST("R50 act_scale 0", BPF_ERR_BAD_GRAPH, "act_scale 0", r50),
    POST("R50 act_scale inf", BPF_ERR_BAD_GRAPH, "act_scale inf", r50b),
    POST("R50 act_scale negative", BPF_ERR_BAD_GRAPH, "act_scale -0.5", r50c),
    POST("R51 n_digits above c_out*M*K", BPF_ERR_BAD_PLANES, "n_digits 81 above c_out*M*K = 80", r51),
    POST("R52 w_scale inf", BPF_ERR_BAD_GRAPH, "layer 1: w_scale[1] = inf", r52),
    POST("R52 bias NaN", BPF_ERR_BAD_GRAPH, "layer 3: bias[2] = nan", r52b),
    POST("R53 five inputs", BPF_ERR_LIMIT, "node 4 'bn': 5 inputs", r53),
    POST("R53 2^32-1 outputs", BPF_ERR_LIMIT, "4294967295 outputs", r53b),
    POST("R54 unused input slot", BPF_ERR_BAD_GRAPH, "unused in/out slot 1", r54),
    POST("R54 unused output slot", BPF_ERR_BAD_GRAPH, "unused in/out slot 3", r54b),
    POST("R55 GRAPH_IO too long", BPF_ERR_BAD_SECTION, "GRAPH_IO: size 20", r55),
    POST("R55 GRAPH_IO under 8 bytes", BPF_ERR_BAD_SECTION, "GRAPH_IO: 4 bytes", r55b),
    PRE("R56 no graph input", BPF_ERR_BAD_GRAPH, "0 inputs", r56),
    POST("R56 five outputs", BPF_ERR_BAD_GRAPH, "5 outputs", r56b),
    PRE("R57 dangling node input", BPF_ERR_BAD_GRAPH, "node 1 'relu1' (relu): input 0: tensor id 999 out of range", r57),
    PRE("R57 dangling graph output", BPF_ERR_BAD_GRAPH, "graph output 0: tensor id 26", r57b),
    PRE("R57 dangling node output", BPF_ERR_BAD_GRAPH, "output 0: tensor id 4294967295", r57c),
    PRE("R58 constant graph input", BPF_ERR_BAD_GRAPH, "graph input 0: tensor 5 'bn.scale' is a constant", r58),
    PRE("R58 input listed twice", BPF_ERR_BAD_GRAPH, "listed twice", r58b),
    PRE("R59 op 99", BPF_ERR_BAD_GRAPH, "unknown op 99", r59),
    PRE("R59 op 0", BPF_ERR_BAD_GRAPH, "unknown op 0", r59b),
    PRE("R60 relu with two inputs", BPF_ERR_BAD_GRAPH, "2 inputs / 1 outputs, the op takes 1 / 1", r60),
    PRE("R60 relu with two outputs", BPF_ERR_BAD_GRAPH, "1 inputs / 2 outputs", r60b),
    PRE("R61 nodes out of order", BPF_ERR_BAD_GRAPH, "node 0 'relu1' (relu): input 0 tensor 1 'conv1.out' is not", r61),
    PRE("R61 self loop", BPF_ERR_BAD_GRAPH, "cycle", r61b),
    PRE("R61 two-node cycle", BPF_ERR_BAD_GRAPH, "node 7 'add1' (add): input 1 tensor 14", r61c),
    PRE("R62 conv node on a linear layer", BPF_ERR_BAD_GRAPH, "layer 2 is not a conv layer", r62),
    PRE("R62 layer index out of range", BPF_ERR_BAD_GRAPH, "layer 4 is not a linear layer (4 layers)", r62b),
    PRE("R63 layer used twice", BPF_ERR_BAD_GRAPH, "layer 2 already used by node 13", r63),
    PRE("R64 relu with a layer", BPF_ERR_BAD_GRAPH, "layer field 0", r64),
    PRE("R65 unused layer", BPF_ERR_BAD_GRAPH, "layer 4: not used by any node", r65),
    PRE("R66 relu ints[0]", BPF_ERR_BAD_GRAPH, "unused ints[0] = 1", r66),
    PRE("R66 layernorm floats[1]", BPF_ERR_BAD_GRAPH, "unused floats[1] = 1", r66b),
    PRE("R66 conv ints[7]", BPF_ERR_BAD_GRAPH, "node 0 'conv1' (conv2d): unused ints[7] = -1", r66c),
    PRE("R66 softmax NaN float", BPF_ERR_BAD_GRAPH, "unused floats[0] = nan", r66d),
    PRE("R67 output is a constant", BPF_ERR_BAD_GRAPH, "output tensor 5 'bn.scale' is a constant", r67),
    PRE("R67 tensor produced twice", BPF_ERR_BAD_GRAPH, "produced twice", r67b),
    POST("R67 output is the graph input", BPF_ERR_BAD_GRAPH, "is a graph input", r67c),
    PRE("R68 pool output declared wrong", BPF_ERR_BAD_GRAPH, "output tensor 3 'pool1.out' declared (1,4,4,5), inputs give (1,4,4,4)", r68),
    PRE("R68 linear output rank", BPF_ERR_BAD_GRAPH, "'fc1.out' declared (1,5,1,1), inputs give (1,5)", r68b),
    PRE("R68 strided conv output", BPF_ERR_BAD_GRAPH, "declared (1,4,3,2), inputs give (1,4,2,2)", r68c),
    PRE("R68 avgpool output", BPF_ERR_BAD_GRAPH, "'avgpool.out' declared (1,4,2,1)", r68d),
    POST("R69 conv input channels", BPF_ERR_BAD_GRAPH, "input 'input' shape (1,5,8,8), layer 0 needs (N,3,H,W)", r69),
    POST("R69 input smaller than the window", BPF_ERR_BAD_GRAPH, "input 1x1 smaller than the padded 3x3", r69b),
    PRE("R60 concat of one input", BPF_ERR_BAD_GRAPH, "1 inputs / 1 outputs, the op takes 2..4 / 1", r60c),
    PRE("R66 sigmoid floats[0]", BPF_ERR_BAD_GRAPH, "node 1 'relu1' (sigmoid): unused floats[0] = 1", r66e),
    PRE("R68 concat output", BPF_ERR_BAD_GRAPH, "'add1.out' declared (1,4,2,2), inputs give (1,8,2,2)", r68e),
    PRE("R84 add of shapes that do not broadcast", BPF_ERR_BAD_GRAPH, "node 7 'add1' (add): input shape (1,4,4,4) does not broadcast to (1,4,2,2)", r84),
    PRE("R84 mul by a larger operand", BPF_ERR_BAD_GRAPH, "node 11 'add2' (mul): input shape (1,4,2,2) does not broadcast to (1,4,1,1)", r84b),
    PRE("R84 add of two constants", BPF_ERR_BAD_GRAPH, "node 15 'add3' (add): input shape (4) does not broadcast to (4)", r84c),
    PRE("R85 clip min > max", BPF_ERR_BAD_GRAPH, "node 1 'relu1' (clip): floats 1, 0 must be min <= max", r85),
    PRE("R85 hardsigmoid alpha inf", BPF_ERR_BAD_GRAPH, "(hardsigmoid): floats inf, 0 must be finite", r85b),
    PRE("R85 clip max NaN", BPF_ERR_BAD_GRAPH, "(clip): floats 0, nan must be min <= max", r85c),
    PRE("R86 concat axis 0", BPF_ERR_BAD_GRAPH, "node 7 'add1' (concat): axis 0 outside 1..3", r86),
    PRE("R86 concat of a constant", BPF_ERR_BAD_GRAPH, "input 1 tensor 11 'ls.gamma' is a constant", r86b),
    PRE("R86 concat of other dims", BPF_ERR_BAD_GRAPH, "input 1 tensor 3 'pool1.out' (1,4,4,4) does not match input 0 (1,4,2,2) but along axis 1", r86c),
    PRE("R87 resize mode 2", BPF_ERR_BAD_GRAPH, "node 1 'relu1' (resize): mode 2, coordinates 0, rounding 0", r87),
    PRE("R87 linear resize with a rounding", BPF_ERR_BAD_GRAPH, "(resize): mode 1, coordinates 0, rounding 1", r87b),
    PRE("R87 resize to nothing", BPF_ERR_BAD_GRAPH, "(resize): scale 0.1 of W 8 gives no output size", r87c),
    PRE("R88 convtranspose weight not 4-D", BPF_ERR_BAD_GRAPH, "node 1 'relu1' (convtranspose): needs x (N,C,H,W) and a constant f32 weight", r88),
    PRE("R88 convtranspose stride 0", BPF_ERR_BAD_GRAPH, "(convtranspose): ints[1] = 0 outside 1..64", r88b),
    PRE("R88 convtranspose output padding = stride", BPF_ERR_BAD_GRAPH, "(convtranspose): ints[7] = 1 outside 0..0", r88c),
    PRE("R70 bn scale with 3 elements", BPF_ERR_BAD_GRAPH, "input 1 tensor 5 'bn.scale' must be a constant f32 with 4", r70),
    PRE("R70 ln gamma is an activation", BPF_ERR_BAD_GRAPH, "'ln' (layernorm): input 1 tensor 4", r70b),
    PRE("R71 eps 0", BPF_ERR_BAD_GRAPH, "eps 0", r71),
    PRE("R71 eps inf", BPF_ERR_BAD_GRAPH, "eps inf", r71b),
    PRE("R72 pool kernel 0", BPF_ERR_LIMIT, "kernel 0x2", r72),
    PRE("R72 pool stride 65", BPF_ERR_LIMIT, "stride 2x65", r72b),
    PRE("R73 pool padding = window", BPF_ERR_BAD_GRAPH, "padding t2 l0 b0 r0", r73),
    PRE("R73 negative pool padding", BPF_ERR_BAD_GRAPH, "padding t1 l1 b0 r-1", r73b),
    PRE("R74 output never produced", BPF_ERR_BAD_GRAPH, "graph output 0: tensor 23 'unused.activation' is never produced", r74),
    POST("R75 row_ptr[0] = 1", BPF_ERR_BAD_PLANES, "layer 0 'conv1': plane row_ptr[0] = 1", r75),
    POST("R76 row_ptr not monotone", BPF_ERR_BAD_PLANES, "layer 1 'stage1.dw': plane row_ptr[", r76),
    POST("R77 row_ptr end above n_digits", BPF_ERR_BAD_PLANES, "layer 2 'fc1': plane row_ptr[50]", r77),
    POST("R77 row_ptr end below n_digits", BPF_ERR_BAD_PLANES, "expected n_digits", r77b),
    POST("R78 column index = K", BPF_ERR_BAD_PLANES, "column index 27 out of range (K=27)", r78),
    POST("R78 column index 65535", BPF_ERR_BAD_PLANES, "column index 65535 out of range (K=4)", r78b),
    POST("R79 duplicate index", BPF_ERR_BAD_PLANES, "(duplicate)", r79),
    POST("R79 unsorted indices", BPF_ERR_BAD_PLANES, "(unsorted)", r79b),
    PRE("R80 same column in both signs", BPF_ERR_BAD_PLANES, "layer 3 'fc2': row 0 plane 0: column 1 has both", r80),
    PRE("R81 binary digits of mixed sign", BPF_ERR_BAD_PLANES, "row 1 column 2: binary digits with mixed signs", r81),
    PRE("R82 adjacent csd digits", BPF_ERR_BAD_PLANES, "row 0 column 1: adjacent nonzero csd digits", r82),
    PRE("R82 adjacent csd digits of opposite sign", BPF_ERR_BAD_PLANES, "row 4 column 3: adjacent", r82b),
    POST("R83 |w| = 255 above w_max 254", BPF_ERR_BAD_PLANES, "layer 1 'stage1.dw': row 0 column 1: |w| = 255 above w_max 254", r83),
    PRE("R83 binary |w| = 8 above w_max 7", BPF_ERR_BAD_PLANES, "row 3 column 2: |w| = 8 above w_max 7", r83b),
};
const size_t bpft_n_cases = sizeof bpft_cases / sizeof bpft_cases[0];
