/* Internal kernel API: weight encodings, per-bit CSR planes, the ref oracles,
 * and the dispatch table. Pure functions on buffers; no model knowledge. */
#ifndef BP_KERNELS_H
#define BP_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* ---- Limits that make every int32 accumulator provably safe. ----
 * |w| <= BP_W_MAX and |x| <= 255, so |y| <= K * 255 * 255 < 2^31 for
 * K <= BP_K_MAX (32768 * 65025 = 2130739200 < 2147483648). */
#define BP_W_MAX 255
#define BP_K_MAX 32768u
/* Digit positions: binary needs 8 for |w| <= 255, CSD/NAF may need 9. */
#define BP_M_MAX 9u

typedef enum bp_encoding {
    BP_ENC_BINARY = 0, /* bits of |w|, each with the sign of w */
    BP_ENC_CSD = 1,    /* non-adjacent form: fewest nonzero signed digits */
} bp_encoding;

typedef enum bp_act_type {
    BP_ACT_U8 = 0,
    BP_ACT_S8 = 1,
} bp_act_type;

/* ISA levels, ordered. A mask of BP_ISA_BIT(level) says what may be used. */
typedef enum bp_isa {
    BP_ISA_SCALAR = 0,
    BP_ISA_AVX2 = 1,   /* AVX2 + FMA + BMI2, OS saves YMM */
    BP_ISA_AVX512 = 2, /* AVX-512 F/BW/VL/DQ, OS saves ZMM */
    BP_ISA_AVX512VNNI = 3,
    BP_ISA_NEON = 4,   /* aarch64 Advanced SIMD */
    BP_ISA_COUNT
} bp_isa;
#define BP_ISA_BIT(i) (1u << (i))

/* ---- Per-bit CSR planes: the one source of truth for weights. ----
 * For row j in [0, rows), digit position m in [0, M), sign s (0: +1, 1: -1),
 * the sorted column indices k with digit d_m(w[j][k]) = +1 / -1 are
 *   idx[row_ptr[e] .. row_ptr[e+1]),  e = (j*M + m)*2 + s.
 * row_ptr has rows*M*2 + 1 entries, is monotone, starts at 0.
 * idx is u16 when idx_bytes == 2 (K <= 65535), else u32. */
typedef struct bp_planes {
    uint32_t rows;
    uint32_t K;
    uint32_t M;
    uint32_t idx_bytes;
    const uint32_t *row_ptr;
    const void *idx;
    /* Kernel-private analysis built by bp_planes_aux_build (may be NULL:
     * kernels then take their always-safe path). */
    const void *aux;
} bp_planes;

/* ---- CSR of nonzero weights (the sparse mult-add baseline). ----
 * Row j holds (idx[i], val[i]) for i in [row_ptr[j], row_ptr[j+1]), idx sorted. */
typedef struct bp_csr {
    uint32_t rows;
    uint32_t K;
    uint32_t idx_bytes; /* 2 or 4, as for planes */
    const uint32_t *row_ptr; /* rows + 1 */
    const void *idx;
    const int16_t *val;
    const void *aux; /* kernel-private, from bp_csr_aux_build, may be NULL */
} bp_csr;

/* ---- Encoding (kernels/ref/encode.c) ---- */

/* Writes the signed digits of w (d[m] in {-1,0,1}, m < BP_M_MAX) and returns
 * how many are nonzero, or -1 if |w| > BP_W_MAX. */
int bp_digits_encode(int32_t w, bp_encoding enc, int8_t d[BP_M_MAX]);
/* Number of digit positions needed for |w| <= wmax under enc. */
uint32_t bp_digits_positions(int32_t wmax, bp_encoding enc);

/* Owned planes built from a dense row-major rows x K int16 matrix.
 * Returns 0, or -1 on a weight beyond BP_W_MAX, M too small, or no memory. */
typedef struct bp_planes_buf {
    bp_planes p;
    uint32_t *row_ptr;
    void *idx;
    uint64_t ndigits;
} bp_planes_buf;
int bp_planes_from_dense(const int16_t *w, uint32_t rows, uint32_t K,
                         bp_encoding enc, uint32_t M, bp_planes_buf *out);
void bp_planes_buf_free(bp_planes_buf *b);
/* Rebuilds the dense weight exactly: w is rows x K, row-major. */
void bp_planes_to_dense(const bp_planes *p, int16_t *w);

typedef struct bp_csr_buf {
    bp_csr c;
    uint32_t *row_ptr;
    void *idx;
    int16_t *val;
    uint64_t nnz;
} bp_csr_buf;
int bp_csr_from_dense(const int16_t *w, uint32_t rows, uint32_t K, bp_csr_buf *out);
void bp_csr_buf_free(bp_csr_buf *b);

/* Kernel-private analysis (bound checks, plane order, tile choice).
 * Size first; the caller owns the memory, 64-byte aligned. */
size_t bp_planes_aux_size(const bp_planes *p);
void bp_planes_aux_build(bp_planes *p, void *aux);
size_t bp_csr_aux_size(const bp_csr *c);
void bp_csr_aux_build(bp_csr *c, void *aux);

/* ---- Kernel signatures ----
 * Activations x are K x np, channel-major: row k is x[k*ldx .. k*ldx+np).
 * Output rows [row0, row0+nrows) go to y[(j-row0)*ldy + p], p < np, int32.
 * Kernels read no x outside those runs and write no y outside those runs. */
typedef void (*bp_bitplane_u8_fn)(const bp_planes *w, uint32_t row0, uint32_t nrows,
                                  const uint8_t *x, size_t ldx, size_t np,
                                  int32_t *y, size_t ldy);
typedef void (*bp_bitplane_s8_fn)(const bp_planes *w, uint32_t row0, uint32_t nrows,
                                  const int8_t *x, size_t ldx, size_t np,
                                  int32_t *y, size_t ldy);
typedef void (*bp_csr_u8_fn)(const bp_csr *w, uint32_t row0, uint32_t nrows,
                             const uint8_t *x, size_t ldx, size_t np,
                             int32_t *y, size_t ldy);
typedef void (*bp_csr_s8_fn)(const bp_csr *w, uint32_t row0, uint32_t nrows,
                             const int8_t *x, size_t ldx, size_t np,
                             int32_t *y, size_t ldy);

/* ---- Quantize and epilogue kernels (kernels/generic/epilogue_scalar.c and
 * the SIMD twins in kernels/x86): the element arithmetic of bp_arith.h over
 * runs, bit for bit, whatever the ISA. ---- */

/* q[i] = bp_quant_u8/s8(x[i], inv), i < n; x and q do not overlap. */
typedef void bp_quantize_u8_fn_t(const float *x, uint8_t *q, size_t n, float inv);
typedef void bp_quantize_s8_fn_t(const float *x, int8_t *q, size_t n, float inv);
/* y[i] = bp_gelu(x[i]), i < n; y may equal x. */
typedef void bp_gelu_f32_fn_t(const float *x, float *y, size_t n);

/* The activation applied last in an epilogue. */
typedef enum bp_epi_act {
    BP_EPI_NONE = 0,
    BP_EPI_RELU = 1, /* bp_relu */
    BP_EPI_GELU = 2, /* bp_gelu */
} bp_epi_act;

/* nrows epilogue rows of n outputs each. Row r, element i:
 *   t = bp_epilogue(acc[r*lda + i], scale[r], bias[r]);
 *   if (res) t = t + res[r*ldr + i];
 *   t = act(t);
 * then stored as float, or quantized with bp_quant_u8/s8(t, inv). */
typedef struct bp_epi_rows {
    const int32_t *acc;
    size_t lda;
    const float *scale; /* [nrows] per-row output scale */
    const float *bias;  /* [nrows] */
    const float *res;   /* residual rows, or NULL */
    size_t ldr;
    bp_epi_act act;
    float inv;          /* quantized outputs: 1 / act_scale of the reader */
} bp_epi_rows;
/* Output row r goes to y[r*ldy .. r*ldy + n). res may equal y when ldr ==
 * ldy (each element is read before it is written); nothing else overlaps. */
typedef void bp_epilogue_f32_fn_t(const bp_epi_rows *e, size_t nrows, size_t n, float *y,
                                  size_t ldy);
typedef void bp_epilogue_u8_fn_t(const bp_epi_rows *e, size_t nrows, size_t n, uint8_t *q,
                                 size_t ldq);
typedef void bp_epilogue_s8_fn_t(const bp_epi_rows *e, size_t nrows, size_t n, int8_t *q,
                                 size_t ldq);

/* ---- Row ops (kernels/generic/rowops.c, built once per ISA level): the
 * loops between layers that are not a layer's matrix product. Written once
 * in portable C and compiled per ISA (the compiler vectorizes them), so each
 * ISA does the same operations in the same order: results are bit-identical.
 * No argument may overlap another unless stated. ---- */

/* One weight digit (bitplane: +/- x << sh) or nonzero (csr: val * x) of a
 * tap accumulation, reading the input at offset off. */
typedef struct bp_tap {
    uint32_t off;
    uint16_t sh, neg;
    int32_t val;
} bp_tap;
/* acc[i] = sum over d < nt of op_d(x[t[d].off + i*sx]), i < n: csr != 0 adds
 * t[d].val * x, else x << t[d].sh, subtracted when t[d].neg. uint32
 * arithmetic: wraps instead of UB (the integer backends' sums fit int32). */
typedef void bp_tap_acc_u8_fn_t(uint32_t *acc, const uint8_t *x, size_t n, size_t sx,
                                const bp_tap *t, uint32_t nt, int csr);
typedef void bp_tap_acc_s8_fn_t(uint32_t *acc, const int8_t *x, size_t n, size_t sx,
                                const bp_tap *t, uint32_t nt, int csr);
/* Space-to-depth of one byte plane (row stride W): byte (oy*kh + dy, ox*kw +
 * dx) goes to dst[(dy*kw + dx)*P + oy*OW + ox], oy < OH, ox < OW. */
typedef void bp_s2d_u8_fn_t(const uint8_t *src, size_t W, uint8_t *dst, size_t P, size_t OH,
                            size_t OW, size_t kh, size_t kw);
/* LayerNorm over C rows strided by HW (formats/SPEC.md 7.1), np pixels
 * starting at xb: mean[p] = (sum over c in order of x) / C, and r[p] =
 * 1 / sqrt((sum over c in order of (x - mean)^2) / C + eps), all in double. */
typedef void bp_ln_stats_fn_t(const float *xb, float eps, size_t C, size_t HW, size_t np,
                              double *mean, double *r);
/* Rows c0..c1-1 of those pixels normalised: yb[(c - c0)*ys + p] =
 * (float)((x - mean[p]) * r[p]) * gamma[c] + beta[c]. In place allowed:
 * yb == xb + c0*HW with ys == HW. */
typedef void bp_ln_rows_fn_t(const float *xb, size_t HW, const double *mean, const double *r,
                             const float *gamma, const float *beta, size_t c0, size_t c1,
                             float *yb, size_t ys, size_t np);
/* One softmax row of n elements at stride st (formats/SPEC.md 7.2): exp by
 * bp_exp1 of x - max, summed in order in double, each divided by the sum.
 * y may equal x. */
typedef void bp_softmax_f32_fn_t(const float *x, float *y, size_t n, size_t st);
/* y[i] = (float)(1 / (1 + bp_exp1(-x[i]))) in double, i < n; y may equal x. */
typedef void bp_sigmoid_f32_fn_t(const float *x, float *y, size_t n);
/* q[i] = (uint8_t)(bp_quant_s8(x[i], inv) + 128): s8 stored shifted as u8. */
typedef void bp_quantize_s8u_fn_t(const float *x, uint8_t *q, size_t n, float inv);

/* ---- ref oracles (kernels/ref/): obviously correct, int64 accumulation ----
 * Dense weight is rows x K row-major int16 with leading dimension ldw. */
void bp_ref_dense_u8(const int16_t *w, size_t ldw, uint32_t rows, uint32_t K,
                     const uint8_t *x, size_t ldx, size_t np, int32_t *y, size_t ldy);
void bp_ref_dense_s8(const int16_t *w, size_t ldw, uint32_t rows, uint32_t K,
                     const int8_t *x, size_t ldx, size_t np, int32_t *y, size_t ldy);
void bp_ref_bitplane_u8(const bp_planes *w, uint32_t row0, uint32_t nrows,
                        const uint8_t *x, size_t ldx, size_t np, int32_t *y, size_t ldy);
void bp_ref_bitplane_s8(const bp_planes *w, uint32_t row0, uint32_t nrows,
                        const int8_t *x, size_t ldx, size_t np, int32_t *y, size_t ldy);
void bp_ref_csr_u8(const bp_csr *w, uint32_t row0, uint32_t nrows,
                   const uint8_t *x, size_t ldx, size_t np, int32_t *y, size_t ldy);
void bp_ref_csr_s8(const bp_csr *w, uint32_t row0, uint32_t nrows,
                   const int8_t *x, size_t ldx, size_t np, int32_t *y, size_t ldy);

/* ---- CPU features and dispatch (kernels/cpu.c, kernels/dispatch.c) ---- */

/* The x86 registers ISA detection reads: cpuid leaf 0 EAX (highest leaf),
 * leaf 1 ECX, leaf 7 subleaf 0 EBX/ECX/EDX, and XCR0 (xgetbv 0; zero when
 * leaf 1 ECX lacks OSXSAVE). Leaves above max_leaf read as zero. */
typedef struct bp_cpuid_regs {
    uint32_t max_leaf;
    uint32_t l1_ecx;
    uint32_t l7_ebx, l7_ecx, l7_edx;
    uint64_t xcr0;
} bp_cpuid_regs;

typedef struct bp_cpu_features {
    unsigned isa_mask; /* BP_ISA_BIT levels usable (scalar always set) */
    /* AMX-TILE with AMX-INT8 / AMX-BF16, and the OS saves tile state (XCR0
     * TILECFG and TILEDATA). Reported only: no kernel level uses AMX. */
    int amx_int8, amx_bf16;
} bp_cpu_features;

/* Decodes register values into features: a pure function, so any CPU/OS
 * combination can be checked. A level needs its instructions and the OS
 * saving its register state: AVX2 = AVX2 + FMA + BMI2 with YMM state,
 * AVX512 = F/DQ/BW/VL with opmask and ZMM state, AVX512VNNI = AVX512 + VNNI. */
void bp_cpu_features_from_regs(const bp_cpuid_regs *r, bp_cpu_features *f);
/* The host's features (x86: its cpuid/xgetbv; aarch64: NEON). */
void bp_cpu_features_get(bp_cpu_features *f);
/* Mask of the ISA levels this CPU and OS support (scalar always set). */
unsigned bp_cpu_isa_mask(void);
/* Highest level in mask. */
bp_isa bp_isa_best(unsigned mask);
const char *bp_isa_name(bp_isa isa);
/* Parses "scalar|avx2|avx512|avx512vnni|neon" (any case); -1 if unknown. */
int bp_isa_parse(const char *s);
/* The CPU's mask, capped by $BP_ISA when set (a level at or below it). */
unsigned bp_isa_mask_from_env(void);
/* The levels of cpu at or below cap (cpu itself for cap >= BP_ISA_COUNT). */
unsigned bp_isa_mask_cap_of(unsigned cpu, bp_isa cap);
/* Mask of all levels at or below cap that the CPU supports. */
unsigned bp_isa_mask_cap(bp_isa cap);
/* What a BP_ISA value makes of the mask cpu: NULL or "" -> cpu, a level
 * name -> cpu capped at it; returns 0, or -1 for an unknown name (then
 * *mask = cpu). */
int bp_isa_mask_from_value(unsigned cpu, const char *value, unsigned *mask);

typedef struct bp_kernel_table {
    bp_bitplane_u8_fn bitplane_u8;
    bp_bitplane_s8_fn bitplane_s8;
    bp_csr_u8_fn csr_u8;
    bp_csr_s8_fn csr_s8;
    const char *bitplane_u8_name; /* e.g. "bp_bitplane_u8_32x4_avx512" */
    const char *bitplane_s8_name;
    const char *csr_u8_name;
    const char *csr_s8_name;
    bp_quantize_u8_fn_t *quantize_u8;
    bp_quantize_s8_fn_t *quantize_s8;
    bp_gelu_f32_fn_t *gelu_f32;
    bp_epilogue_f32_fn_t *epilogue_f32;
    bp_epilogue_u8_fn_t *epilogue_u8;
    bp_epilogue_s8_fn_t *epilogue_s8;
    const char *quantize_u8_name, *quantize_s8_name, *gelu_f32_name;
    const char *epilogue_f32_name, *epilogue_u8_name, *epilogue_s8_name;
    bp_tap_acc_u8_fn_t *tap_acc_u8;
    bp_tap_acc_s8_fn_t *tap_acc_s8;
    bp_s2d_u8_fn_t *s2d_u8;
    bp_ln_stats_fn_t *ln_stats;
    bp_ln_rows_fn_t *ln_rows;
    bp_softmax_f32_fn_t *softmax_f32;
    bp_sigmoid_f32_fn_t *sigmoid_f32;
    bp_quantize_s8u_fn_t *quantize_s8u;
    const char *tap_acc_u8_name, *tap_acc_s8_name, *s2d_u8_name, *ln_stats_name;
    const char *ln_rows_name, *softmax_f32_name, *sigmoid_f32_name, *quantize_s8u_name;
    bp_isa isa; /* best level used */
} bp_kernel_table;

/* ---- Ceiling probe (kernels/<isa>/probe_*.c) ----
 * The instruction shape of the bitplane gather-add with the weights taken
 * away: an L1-resident stream of contiguous vector loads, each followed by an
 * int16 add, at the ISA's vector width. Runs for about `seconds` and returns
 * the measured int16 lane-adds per second, or 0 if isa is not supported. */
double bp_ceiling_probe(bp_isa isa, double seconds);

/* Fills t with the best kernels allowed by mask: scalar first, then
 * upgraded one ISA at a time (dav1d style). */
void bp_kernels_init(bp_kernel_table *t, unsigned mask);

#endif
