/* NEON ceiling probe (kernels/arm/probe_neon.c), called by kernels/probe.c. */
#ifndef BP_PROBE_ARM_H
#define BP_PROBE_ARM_H

/* An L1-resident stream of contiguous 16-byte loads, each feeding two int16
 * widening adds (vaddw_u8 / vaddw_high_u8: the bitplane u8 gather-add shape).
 * Runs about `seconds`; returns int16 lane-adds per second. */
double bpk_probe_neon(double seconds);

#endif
