/* Size-checked public structs: every struct in bitprune.h starts with
 * `size_t size`, the caller's sizeof. Here are the layouts this library
 * knows and the rules that let older and newer callers work with it: read
 * or write only the common prefix, defaults (zeros) for the rest, and a
 * status naming the struct for a size that cannot be a version of it. */
#include <string.h>

#include "bitprune_builder.h"
#include "engine.h"

#define BP_ROUND_UP(x, a) (((x) + (a) - 1) / (a) * (a))
/* first: the first field after size; a prefix must hold at least it */
#define BP_DESC(T, first)                                                              \
    {#T, sizeof(T), _Alignof(T),                                                       \
     BP_ROUND_UP(offsetof(T, first) + sizeof(((T *)0)->first), _Alignof(T))}

const bp_struct_desc bp_sd_model_opts = BP_DESC(bp_model_opts, verify_checksums);
const bp_struct_desc bp_sd_session_opts = BP_DESC(bp_session_opts, backend);
const bp_struct_desc bp_sd_tensor_view = BP_DESC(bp_tensor_view, data);
const bp_struct_desc bp_sd_tensor_info = BP_DESC(bp_tensor_info, name);
const bp_struct_desc bp_sd_layer_info = BP_DESC(bp_layer_info, name);
const bp_struct_desc bp_sd_model_info = BP_DESC(bp_model_info, n_inputs);
const bp_struct_desc bp_sd_session_info = BP_DESC(bp_session_info, backend);
const bp_struct_desc bp_sd_layer_profile = BP_DESC(bp_layer_profile, name);
const bp_struct_desc bp_sd_layer_counts = BP_DESC(bp_layer_counts, dots);
const bp_struct_desc bp_sd_conv2d_params = BP_DESC(bp_conv2d_params, c_out);
const bp_struct_desc bp_sd_layer_weights = BP_DESC(bp_layer_weights, w);
const bp_struct_desc bp_sd_pool2d_params = BP_DESC(bp_pool2d_params, kh);
const bp_struct_desc bp_sd_node_desc = BP_DESC(bp_node_desc, name);

bp_status bp_struct_size_check(const bp_struct_desc *d, size_t size, const char *fn,
                               const char *what)
{
    if (size == 0)
        return bp_fail(BP_ERR_INVALID_ARG, "%s: %s (%s) has size 0; set it to sizeof(%s) "
                       "(the bp_*_init functions do)", fn, what, d->name, d->name);
    if (size < d->min || size > BP_STRUCT_SIZE_MAX || size % d->align)
        return bp_fail(BP_ERR_INVALID_ARG, "%s: %s (%s) has size %zu, which no version of "
                       "%s has: it must be a multiple of %zu in [%zu, %d] (this library's "
                       "is %zu); uninitialised?", fn, what, d->name, size, d->name, d->align,
                       d->min, BP_STRUCT_SIZE_MAX, d->known);
    return BP_OK;
}

bp_status bp_struct_read(const bp_struct_desc *d, const void *src, void *dst, const char *fn,
                         const char *what)
{
    size_t size;
    memcpy(&size, src, sizeof size);
    bp_status st = bp_struct_size_check(d, size, fn, what);
    if (st) return st;
    const unsigned char *p = src;
    for (size_t i = d->known; i < size; i++)
        if (p[i])
            return bp_fail(BP_ERR_INVALID_ARG, "%s: %s (%s) is %zu bytes, this library knows "
                           "%zu, and byte %zu is not zero: it sets a field of a newer "
                           "bitprune that this one cannot honour", fn, what, d->name, size,
                           d->known, i);
    /* fields beyond an older caller's size keep dst's defaults */
    memcpy(dst, src, size < d->known ? size : d->known);
    memcpy(dst, &d->known, sizeof d->known);
    return BP_OK;
}

void bp_struct_write(const bp_struct_desc *d, void *dst, size_t size, const void *src)
{
    size_t n = size < d->known ? size : d->known;
    memcpy(dst, src, n);
    if (size > n) memset((unsigned char *)dst + n, 0, size - n);
    memcpy(dst, &n, sizeof n);
}

bp_status bp_struct_init(const bp_struct_desc *d, void *dst, size_t size, const void *defaults,
                         const char *fn)
{
    bp_status st = bp_struct_size_check(d, size, fn, "the struct");
    if (st) return st;
    bp_struct_write(d, dst, size, defaults);
    memcpy(dst, &size, sizeof size); /* an input struct carries the caller's size */
    return BP_OK;
}
