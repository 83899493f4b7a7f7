/* Kernel-private per-layer analysis of planes and CSR (placeholder: none yet;
 * kernels take their always-safe path when aux is NULL). */
#include "bp_kernels.h"

size_t bp_planes_aux_size(const bp_planes *p) { (void)p; return 0; }
void bp_planes_aux_build(bp_planes *p, void *aux) { (void)aux; p->aux = NULL; }
size_t bp_csr_aux_size(const bp_csr *c) { (void)c; return 0; }
void bp_csr_aux_build(bp_csr *c, void *aux) { (void)aux; c->aux = NULL; }
