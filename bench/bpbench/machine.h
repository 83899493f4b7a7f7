/* machine.h: what bpbench records about the machine and the build: CPU
 * model and flags, the vector/matrix engines they imply, load average,
 * oneDNN version and ISA, compiler, git commit. */
#ifndef BP_BENCH_MACHINE_H
#define BP_BENCH_MACHINE_H

#include <stddef.h>

#ifdef BP_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#endif

/* A vector or matrix engine, and whether /proc/cpuinfo lists its flag. */
typedef struct bp_bench_engine {
    const char *name; /* "AVX2", "AVX-512", "AVX-512 VNNI", "AVX-VNNI", "AMX", ... */
    const char *flag; /* the cpuinfo flag(s) that say so */
    int present;
} bp_bench_engine;

#define BP_BENCH_MAX_ENGINES 8

typedef struct bp_bench_machine {
    char cpu[256];
    long logical_cpus;
    char *flags; /* the cpuinfo "flags" (x86) or "Features" (arm) line; owned */
    bp_bench_engine engines[BP_BENCH_MAX_ENGINES];
    int n_engines;
    int has_matrix_engine; /* AMX tiles with int8 (x86) */
    char onednn_version[32]; /* "" in a build without oneDNN */
    char onednn_isa[32]; /* effective ISA of this process; "" without oneDNN */
    const char *compiler, *git_commit;
    double load_start[3], load_end[3]; /* NaN when /proc/loadavg is unreadable */
} bp_bench_machine;

/* Reads everything but the load averages. Never fails (fields fall back to
 * "unknown"). Queries oneDNN's effective ISA, which freezes its ISA cap for
 * this process. */
void bp_bench_machine_read(bp_bench_machine *m);
void bp_bench_machine_free(bp_bench_machine *m);
/* The 1, 5 and 15 minute load averages, NaN when unavailable. */
void bp_bench_loadavg(double la[3]);
/* "gcc 12.2.0", "clang 16.0.6", or "unknown". */
const char *bp_bench_compiler(void);
#ifdef BP_HAVE_ONEDNN
/* oneDNN's name of an ISA ("avx512_core_vnni"). */
const char *bp_bench_dnnl_isa_name(dnnl_cpu_isa_t isa);
#endif
/* The engine a kernel or oneDNN implementation string names ("AMX" for
 * "brg:avx512_core_amx", "AVX-512 VNNI" for "bp_csr_u8_128x1_avx512vnni"),
 * or NULL when the string names no ISA (e.g. "float", "gemm:jit"). */
const char *bp_bench_engine_of(const char *kernel);

#endif
