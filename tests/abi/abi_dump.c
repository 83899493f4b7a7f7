/* abi_dump: prints the binary layout of the public headers (bitprune.h,
 * bitprune_builder.h) as this compiler sees it
 * (every public struct's size, alignment and field offsets and sizes, the
 * status codes and the integer constants), one fact per line, for
 * check_abi.py to compare with the recorded baseline. */
#include <stddef.h>
#include <stdio.h>

#include "bitprune.h"
#include "bitprune_builder.h"

#define FIELD(T, f) \
    printf("field %s.%s %zu %zu\n", #T, #f, offsetof(T, f), sizeof(((T *)0)->f));
#define STRUCT(T, LIST) \
    printf("struct %s %zu %zu\n", #T, sizeof(T), _Alignof(T)); \
    LIST(T, FIELD)

#define MODEL_OPTS(T, F) F(T, size) F(T, verify_checksums) F(T, mmap)
#define TENSOR_INFO(T, F) F(T, size) F(T, name) F(T, ndim) F(T, dims)
#define LAYER_INFO(T, F) \
    F(T, size) F(T, name) F(T, op) F(T, c_out) F(T, c_in) F(T, kh) F(T, kw) F(T, stride) \
    F(T, pad) F(T, dilation) F(T, groups) F(T, K) F(T, M) F(T, encoding) F(T, weights) \
    F(T, nonzeros) F(T, digits) F(T, digits_binary) F(T, digits_csd) F(T, out_pixels) \
    F(T, macs) F(T, act_dtype) F(T, act_scale) F(T, stride_w) F(T, pad_l) F(T, pad_b) \
    F(T, pad_r) F(T, dilation_w) F(T, w_max)
#define MODEL_INFO(T, F) \
    F(T, size) F(T, n_inputs) F(T, n_outputs) F(T, n_layers) F(T, n_nodes) F(T, inputs) \
    F(T, outputs) F(T, layers) F(T, weights) F(T, nonzeros) F(T, digits) \
    F(T, digits_binary) F(T, digits_csd) F(T, macs) F(T, sparsity) \
    F(T, digits_per_weight) F(T, arch)
#define SESSION_OPTS(T, F) F(T, size) F(T, backend) F(T, threads) F(T, batch) F(T, isa)
#define TENSOR_VIEW(T, F) F(T, size) F(T, data) F(T, ndim) F(T, dims)
#define SESSION_INFO(T, F) \
    F(T, size) F(T, backend) F(T, isa) F(T, threads) F(T, batch) F(T, exact) \
    F(T, inexact_reason) F(T, arena_bytes) F(T, n_steps)
#define LAYER_PROFILE(T, F) F(T, size) F(T, name) F(T, op) F(T, kernel) F(T, ms) F(T, runs)
#define LAYER_COUNTS(T, F) \
    F(T, size) F(T, dots) F(T, macs_dense) F(T, mults_w) F(T, mults_wx) \
    F(T, adds_binary_w) F(T, adds_binary_wx) F(T, adds_csd_w) F(T, adds_csd_wx) F(T, M)
#define CONV2D_PARAMS(T, F) \
    F(T, size) F(T, c_out) F(T, kh) F(T, kw) F(T, stride_h) F(T, stride_w) F(T, pad_t) \
    F(T, pad_l) F(T, pad_b) F(T, pad_r) F(T, dil_h) F(T, dil_w) F(T, groups)
#define LAYER_WEIGHTS(T, F) \
    F(T, size) F(T, w) F(T, w_scale) F(T, bias) F(T, w_max) F(T, encoding) F(T, act_dtype) \
    F(T, act_scale)
#define POOL2D_PARAMS(T, F) \
    F(T, size) F(T, kh) F(T, kw) F(T, stride_h) F(T, stride_w) F(T, pad_t) F(T, pad_l) \
    F(T, pad_b) F(T, pad_r)
#define NODE_DESC(T, F) \
    F(T, size) F(T, name) F(T, op) F(T, n_in) F(T, in) F(T, ints) F(T, floats) \
    F(T, out_ndim) F(T, out_dims)

#define ENUM(e) printf("enum %s %d\n", #e, (int)(e));
#define CONST(c) printf("const %s %lld\n", #c, (long long)(c));

int main(void)
{
    STRUCT(bp_model_opts, MODEL_OPTS)
    STRUCT(bp_tensor_info, TENSOR_INFO)
    STRUCT(bp_layer_info, LAYER_INFO)
    STRUCT(bp_model_info, MODEL_INFO)
    STRUCT(bp_session_opts, SESSION_OPTS)
    STRUCT(bp_tensor_view, TENSOR_VIEW)
    STRUCT(bp_session_info, SESSION_INFO)
    STRUCT(bp_layer_profile, LAYER_PROFILE)
    STRUCT(bp_layer_counts, LAYER_COUNTS)
    STRUCT(bp_conv2d_params, CONV2D_PARAMS)
    STRUCT(bp_layer_weights, LAYER_WEIGHTS)
    STRUCT(bp_pool2d_params, POOL2D_PARAMS)
    STRUCT(bp_node_desc, NODE_DESC)
    ENUM(BP_OK) ENUM(BP_ERR_INVALID_ARG) ENUM(BP_ERR_NOMEM) ENUM(BP_ERR_IO)
    ENUM(BP_ERR_TRUNCATED) ENUM(BP_ERR_BAD_MAGIC) ENUM(BP_ERR_VERSION) ENUM(BP_ERR_CHECKSUM)
    ENUM(BP_ERR_BAD_SECTION) ENUM(BP_ERR_BAD_PLANES) ENUM(BP_ERR_BAD_GRAPH) ENUM(BP_ERR_LIMIT)
    ENUM(BP_ERR_BAD_META) ENUM(BP_ERR_SHAPE) ENUM(BP_ERR_UNSUPPORTED) ENUM(BP_ERR_BACKEND)
    ENUM(BP_ERR_STATE)
    CONST(BP_MAX_DIMS) CONST(BP_STRUCT_SIZE_MAX)
    return 0;
}
