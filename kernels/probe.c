/* Ceiling probe dispatcher (placeholder until the per-ISA probes land). */
#include "bp_kernels.h"

double bp_ceiling_probe(bp_isa isa, double seconds) { (void)isa; (void)seconds; return 0.0; }
