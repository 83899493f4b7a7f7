/* x86 ceiling probes (probe_avx2.c, probe_avx512.c), timed by ../probe.c. */
#ifndef BP_PROBE_X86_H
#define BP_PROBE_X86_H

#include <stddef.h>
#include <stdint.h>

/* The bitplane gather-add's instruction shape with the weights taken away:
 * `iters` passes over buf, rows*128 bytes (L1-resident, 64-byte aligned),
 * in rows of the kernel's tile width; per vector one load, an int16 add of
 * the raw words and an int16 add of their high bytes (v >> 8), exactly as
 * the kernels do. Each pass is rows*128 pixel lane-adds. Returns a checksum (keeps the work). */
uint32_t bpk_probe_run_avx2(const uint8_t *buf, size_t rows, uint32_t iters);
uint32_t bpk_probe_run_avx512(const uint8_t *buf, size_t rows, uint32_t iters);

#endif
