/* oneDNN dense baselines (placeholder until the oneDNN backends land). */
#include "backend.h"

static bp_status unsupported_create(const bp_layer_desc *d, const bp_backend_env *env,
                                    void **state)
{
    (void)d; (void)env; *state = NULL;
    return BP_ERR_UNSUPPORTED;
}
static bp_status unsupported_run(void *state, const float *x, const float *r, float *y)
{
    (void)state; (void)x; (void)r; (void)y;
    return BP_ERR_UNSUPPORTED;
}
static void unsupported_destroy(void *state) { (void)state; }
static const char *unsupported_kernel(const void *state) { (void)state; return "none"; }
static int unsupported_exact(const void *state, const char **why)
{
    (void)state; *why = "not built"; return 0;
}

const bp_backend bp_backend_onednn_int8 = {"onednn-int8", unsupported_create, unsupported_run,
    unsupported_destroy, unsupported_kernel, unsupported_exact};
const bp_backend bp_backend_onednn_f32 = {"onednn-f32", unsupported_create, unsupported_run,
    unsupported_destroy, unsupported_kernel, unsupported_exact};
