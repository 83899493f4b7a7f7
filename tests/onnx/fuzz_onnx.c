/* fuzz_onnx.c: robustness of `bptool import` on bad .onnx bytes. Builds a
 * small valid model with protobuf-c (Constant nodes, raw and typed weights,
 * Conv, BatchNormalization, Relu, GlobalAveragePool, the Shape -> Gather ->
 * Unsqueeze -> Concat -> Reshape chain, Gemm), checks that it imports, then
 * imports every truncation of it and seeded random mutations (also of the
 * .onnx files given as arguments instead): each must succeed or fail with a message,
 * never crash or leak (run under ASan+UBSan). Prints its seed; BP_TEST_SEED
 * replays. Usage: fuzz_onnx [MUTATIONS] [FILE.onnx...] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "onnx.pb-c.h"
#include "onnx_import.h"

static uint64_t rng_state;
static uint32_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}

/* ---- a small model built field by field ---- */
typedef struct tensor_buf {
    Onnx__TensorProto t;
    int64_t dims[4];
    float f[128];
    uint8_t raw[512];
} tensor_buf;

static void tensor(tensor_buf *b, const char *name, int nd, const int64_t *d, int raw,
                   int32_t dtype, const float *vals)
{
    Onnx__TensorProto init = ONNX__TENSOR_PROTO__INIT;
    b->t = init;
    b->t.name = (char *)name;
    memcpy(b->dims, d, (size_t)nd * sizeof *d);
    b->t.n_dims = (size_t)nd;
    b->t.dims = b->dims;
    b->t.has_data_type = 1;
    b->t.data_type = dtype;
    size_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= (size_t)d[i];
    if (raw) {
        size_t es = dtype == 7 ? 8 : 4;
        for (size_t i = 0; i < n; i++) {
            if (dtype == 7) {
                int64_t v = (int64_t)vals[i];
                memcpy(b->raw + i * es, &v, es);
            } else {
                memcpy(b->raw + i * es, &vals[i], es);
            }
        }
        b->t.has_raw_data = 1;
        b->t.raw_data.len = n * es;
        b->t.raw_data.data = b->raw;
    } else {
        memcpy(b->f, vals, n * sizeof *vals);
        b->t.n_float_data = n;
        b->t.float_data = b->f;
    }
}

typedef struct node_buf {
    Onnx__NodeProto n;
    char *in[5], *out[2];
    Onnx__AttributeProto a[3], *ap[3];
    int64_t ints[3][4];
} node_buf;

static void node(node_buf *b, const char *op, const char *name, int nin, const char *const *in,
                 const char *out)
{
    Onnx__NodeProto init = ONNX__NODE_PROTO__INIT;
    b->n = init;
    b->n.op_type = (char *)op;
    b->n.name = (char *)name;
    for (int i = 0; i < nin; i++)
        b->in[i] = (char *)in[i];
    b->out[0] = (char *)out;
    b->n.n_input = (size_t)nin;
    b->n.input = b->in;
    b->n.n_output = 1;
    b->n.output = b->out;
    b->n.attribute = b->ap;
}

static Onnx__AttributeProto *attr(node_buf *b, const char *name)
{
    Onnx__AttributeProto init = ONNX__ATTRIBUTE_PROTO__INIT;
    size_t k = b->n.n_attribute++;
    b->a[k] = init;
    b->a[k].name = (char *)name;
    b->ap[k] = &b->a[k];
    return &b->a[k];
}

static void attr_ints(node_buf *b, const char *name, int n, const int64_t *v)
{
    Onnx__AttributeProto *a = attr(b, name);
    size_t k = b->n.n_attribute - 1;
    memcpy(b->ints[k], v, (size_t)n * sizeof *v);
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    a->n_ints = (size_t)n;
    a->ints = b->ints[k];
}

static void attr_int(node_buf *b, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = attr(b, name);
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    a->has_i = 1;
    a->i = v;
}

static uint8_t *build_model(size_t *size)
{
    static tensor_buf T[12];
    static node_buf N[12];
    float v[128];
    for (int i = 0; i < 128; i++)
        v[i] = (float)((int)(rnd() % 2001) - 1000) / 1000.0f;
    int64_t dw[4] = {4, 3, 3, 3}, d4[1] = {4}, dfc[2] = {5, 4}, d5[1] = {5}, dm[4] = {1, 3, 1, 1};
    int64_t d1[1] = {1}, d0[1] = {0};
    tensor(&T[0], "W", 4, dw, 1, 1, v);          /* raw_data */
    tensor(&T[1], "B", 1, d4, 0, 1, v + 108);    /* float_data */
    float pos[4] = {0.5f, 1.0f, 1.5f, 2.0f};
    tensor(&T[2], "bn_s", 1, d4, 0, 1, pos);
    tensor(&T[3], "bn_b", 1, d4, 1, 1, v + 4);
    tensor(&T[4], "bn_m", 1, d4, 0, 1, v + 8);
    tensor(&T[5], "bn_v", 1, d4, 1, 1, pos);
    tensor(&T[6], "Wfc", 2, dfc, 1, 1, v + 20);
    tensor(&T[7], "Bfc", 1, d5, 0, 1, v + 40);
    float zero = 0, minus1 = -1;
    tensor(&T[8], "idx0", 0, d0, 1, 7, &zero);   /* int64 scalar */
    tensor(&T[9], "axes0", 1, d1, 1, 7, &zero);
    tensor(&T[10], "minus1", 1, d1, 1, 7, &minus1);
    tensor(&T[11], "mean", 4, dm, 0, 1, pos);
    const char *in_sub[] = {"x", "mean_c"}, *in_conv[] = {"xs", "W", "B"};
    const char *in_bn[] = {"c", "bn_s", "bn_b", "bn_m", "bn_v"}, *in_r[] = {"bn"};
    const char *in_gap[] = {"r"}, *in_shape[] = {"g"}, *in_gather[] = {"shp", "idx0"};
    const char *in_unsq[] = {"n0", "axes0"}, *in_cat[] = {"n1", "minus1"};
    const char *in_reshape[] = {"g", "shape"}, *in_gemm[] = {"flat", "Wfc", "Bfc"};
    node(&N[0], "Constant", "mean_const", 0, NULL, "mean_c");
    Onnx__AttributeProto *a = attr(&N[0], "value");
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
    a->t = &T[11].t;
    node(&N[1], "Sub", "norm", 2, in_sub, "xs");
    node(&N[2], "Conv", "conv", 3, in_conv, "c");
    int64_t pads[4] = {1, 1, 1, 1}, k3[2] = {3, 3};
    attr_ints(&N[2], "pads", 4, pads);
    attr_ints(&N[2], "kernel_shape", 2, k3);
    node(&N[3], "BatchNormalization", "bn", 5, in_bn, "bn");
    node(&N[4], "Relu", "relu", 1, in_r, "r");
    node(&N[5], "GlobalAveragePool", "gap", 1, in_gap, "g");
    node(&N[6], "Shape", "shape_of", 1, in_shape, "shp");
    node(&N[7], "Gather", "batch", 2, in_gather, "n0");
    node(&N[8], "Unsqueeze", "unsq", 2, in_unsq, "n1");
    node(&N[9], "Concat", "cat", 2, in_cat, "shape");
    attr_int(&N[9], "axis", 0);
    node(&N[10], "Reshape", "flatten", 2, in_reshape, "flat");
    node(&N[11], "Gemm", "fc", 3, in_gemm, "y");
    attr_int(&N[11], "transB", 1);

    static Onnx__TensorShapeProto__Dimension dim[4];
    static Onnx__TensorShapeProto__Dimension *dimp[4];
    static Onnx__TensorShapeProto shape = ONNX__TENSOR_SHAPE_PROTO__INIT;
    static Onnx__TypeProto__Tensor tt = ONNX__TYPE_PROTO__TENSOR__INIT, tto =
        ONNX__TYPE_PROTO__TENSOR__INIT;
    static Onnx__TypeProto tp = ONNX__TYPE_PROTO__INIT, tpo = ONNX__TYPE_PROTO__INIT;
    static Onnx__ValueInfoProto vin = ONNX__VALUE_INFO_PROTO__INIT,
                                vout = ONNX__VALUE_INFO_PROTO__INIT;
    int64_t xs[4] = {1, 3, 8, 8};
    for (int i = 0; i < 4; i++) {
        Onnx__TensorShapeProto__Dimension init = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT;
        dim[i] = init;
        if (i == 0) {
            dim[i].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            dim[i].dim_param = "batch";
        } else {
            dim[i].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dim[i].dim_value = xs[i];
        }
        dimp[i] = &dim[i];
    }
    shape.n_dim = 4;
    shape.dim = dimp;
    tt.has_elem_type = tto.has_elem_type = 1;
    tt.elem_type = tto.elem_type = 1;
    tt.shape = &shape;
    tp.value_case = tpo.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp.tensor_type = &tt;
    tpo.tensor_type = &tto;
    vin.name = "x";
    vin.type = &tp;
    vout.name = "y";
    vout.type = &tpo;
    static Onnx__ValueInfoProto *ins[1] = {&vin}, *outs[1] = {&vout};
    static Onnx__NodeProto *np[12];
    static Onnx__TensorProto *tpp[11];
    for (int i = 0; i < 12; i++)
        np[i] = &N[i].n;
    for (int i = 0; i < 11; i++)
        tpp[i] = &T[i].t;
    static Onnx__GraphProto gr = ONNX__GRAPH_PROTO__INIT;
    gr.name = "fuzz";
    gr.n_node = 12;
    gr.node = np;
    gr.n_initializer = 11;
    gr.initializer = tpp;
    gr.n_input = 1;
    gr.input = ins;
    gr.n_output = 1;
    gr.output = outs;
    static Onnx__OperatorSetIdProto ops = ONNX__OPERATOR_SET_ID_PROTO__INIT;
    static Onnx__OperatorSetIdProto *opsp[1] = {&ops};
    ops.domain = "";
    ops.has_version = 1;
    ops.version = 13;
    Onnx__ModelProto m = ONNX__MODEL_PROTO__INIT;
    m.has_ir_version = 1;
    m.ir_version = 7;
    m.n_opset_import = 1;
    m.opset_import = opsp;
    m.producer_name = "fuzz_onnx";
    m.graph = &gr;
    *size = onnx__model_proto__get_packed_size(&m);
    uint8_t *buf = malloc(*size);
    if (buf)
        onnx__model_proto__pack(&m, buf);
    return buf;
}

static long n_ok, n_err, n_bad;

/* One import: success, or failure with a message. */
static int try_import(const uint8_t *b, size_t n, int must_pass, const char *what)
{
    bp_tool_import_opts o;
    bp_tool_import_opts_default(&o);
    o.random_calib = 1;
    o.report = 0;
    char err[1024];
    void *out = NULL;
    size_t osz = 0;
    bp_tool_import_result r;
    int rc = bp_tool_onnx_import(&o, b, n, &out, &osz, &r, err, sizeof err);
    free(out);
    if (rc == 0) {
        n_ok++;
        return 0;
    }
    n_err++;
    if (must_pass || !err[0]) {
        printf("not ok - %s: %s\n", what, err[0] ? err : "failed without a message");
        n_bad++;
        return -1;
    }
    return 0;
}

static void fuzz_buffer(const uint8_t *buf, size_t size, long mutations, const char *name)
{
    char what[256];
    /* every truncation of a small buffer; 256 spread and random ones of a large one */
    size_t cuts = size <= 4096 ? size : 256;
    for (size_t c = 0; c < cuts; c++) {
        size_t len = size <= 4096 ? c : (c % 2 ? rnd() % size : c * (size / cuts));
        snprintf(what, sizeof what, "%s truncated to %zu bytes", name, len);
        try_import(buf, len, 0, what);
    }
    uint8_t *m = malloc(size);
    for (long it = 0; m && it < mutations; it++) {
        memcpy(m, buf, size);
        int edits = 1 + (int)(rnd() % 4);
        for (int e = 0; e < edits; e++) {
            size_t at = rnd() % size;
            switch (rnd() % 5) {
            case 0: m[at] ^= (uint8_t)(1u << (rnd() % 8)); break;
            case 1: m[at] = (uint8_t)rnd(); break;
            case 2: m[at] = 0xff; break;
            case 3: m[at] = 0x00; break;
            default: /* a long varint run */
                for (size_t k = at; k < size && k < at + 1 + rnd() % 9; k++)
                    m[k] = 0x80 | (uint8_t)rnd();
            }
        }
        snprintf(what, sizeof what, "%s mutation %ld", name, it);
        try_import(m, size, 0, what);
    }
    free(m);
}

int main(int argc, char **argv)
{
    const char *env = getenv("BP_TEST_SEED");
    uint32_t seed = env ? (uint32_t)strtoul(env, NULL, 0) : (uint32_t)time(NULL);
    printf("fuzz_onnx: seed %u (replay: BP_TEST_SEED=%u)\n", seed, seed);
    rng_state = seed;
    long mutations = argc > 1 ? strtol(argv[1], NULL, 10) : 2000;
    size_t size;
    uint8_t *buf = build_model(&size);
    if (!buf || try_import(buf, size, 1, "the built model")) {
        printf("not ok - the built model does not import\n");
        return 1;
    }
    printf("ok - the built model (%zu bytes) imports\n", size);
    rng_state = seed;
    if (argc <= 2) /* with files given, only those are fuzzed */
        fuzz_buffer(buf, size, mutations, "built model");
    free(buf);
    for (int i = 2; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            printf("not ok - cannot open %s\n", argv[i]);
            n_bad++;
            continue;
        }
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *b = n > 0 ? malloc((size_t)n) : NULL;
        if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) {
            printf("not ok - cannot read %s\n", argv[i]);
            n_bad++;
        } else {
            if (try_import(b, (size_t)n, 1, argv[i]) == 0)
                fuzz_buffer(b, (size_t)n, mutations / 4, argv[i]);
        }
        free(b);
        fclose(f);
    }
    printf("%s - %ld imports: %ld succeeded, %ld failed with a message, %ld bad\n",
           n_bad ? "not ok" : "ok", n_ok + n_err, n_ok, n_err, n_bad);
    printf("%ld passed, %ld failed\n", n_bad ? 1l : 2l, n_bad ? 1l : 0l);
    return n_bad ? 1 : 0;
}
