/* machine.c: CPU model, flags and engines from /proc/cpuinfo, load average,
 * oneDNN version and ISA names, compiler and git commit of this build. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpbench_build.h"
#include "machine.h"

const char *bp_bench_compiler(void)
{
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "gcc " __VERSION__;
#else
    return "unknown";
#endif
}

#ifdef BP_HAVE_ONEDNN
const char *bp_bench_dnnl_isa_name(dnnl_cpu_isa_t i)
{
    switch (i) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    default: return "all";
    }
}
#endif

const char *bp_bench_engine_of(const char *k)
{
    if (!k)
        return NULL;
    if (strstr(k, "amx"))
        return "AMX";
    if (strstr(k, "avx512_core_vnni") || strstr(k, "avx512vnni"))
        return "AVX-512 VNNI";
    if (strstr(k, "avx2_vnni"))
        return "AVX-VNNI";
    if (strstr(k, "avx512"))
        return "AVX-512";
    if (strstr(k, "avx2"))
        return "AVX2";
    if (strstr(k, "sse41"))
        return "SSE4.1";
    if (strstr(k, "neon"))
        return "NEON";
    if (strstr(k, "scalar") || strstr(k, "_ref_"))
        return "scalar";
    return NULL;
}

/* Whole-word search in a space-separated flag list. */
static int bp_bench_has_flag(const char *flags, const char *f)
{
    size_t n = strlen(f);
    for (const char *p = flags; p && (p = strstr(p, f)); p += n)
        if ((p == flags || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0))
            return 1;
    return 0;
}

static void bp_bench_engine_add(bp_bench_machine *m, const char *name, const char *flag,
                                int present)
{
    if (m->n_engines < BP_BENCH_MAX_ENGINES)
        m->engines[m->n_engines++] = (bp_bench_engine){name, flag, present};
}

void bp_bench_loadavg(double la[3])
{
    la[0] = la[1] = la[2] = NAN;
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f)
        return;
    if (fscanf(f, "%lf %lf %lf", &la[0], &la[1], &la[2]) != 3)
        la[0] = la[1] = la[2] = NAN;
    fclose(f);
}

void bp_bench_machine_read(bp_bench_machine *m)
{
    memset(m, 0, sizeof *m);
    snprintf(m->cpu, sizeof m->cpu, "unknown");
    m->logical_cpus = sysconf(_SC_NPROCESSORS_ONLN);
    FILE *f = fopen("/proc/cpuinfo", "r");
    char *line = NULL;
    size_t cap = 0;
    int have_cpu = 0;
    while (f && getline(&line, &cap, f) > 0) {
        char *c = strchr(line, ':');
        if (!c)
            continue;
        char *v = c + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        v[strcspn(v, "\n")] = 0;
        if (!have_cpu && !strncmp(line, "model name", 10)) {
            snprintf(m->cpu, sizeof m->cpu, "%s", v);
            have_cpu = 1;
        } else if (!m->flags && (!strncmp(line, "flags", 5) || !strncmp(line, "Features", 8))) {
            m->flags = strdup(v);
        }
        if (have_cpu && m->flags)
            break;
    }
    free(line);
    if (f)
        fclose(f);
    const char *fl = m->flags ? m->flags : "";
#if defined(__x86_64__) || defined(__i386__)
    bp_bench_engine_add(m, "AVX2", "avx2", bp_bench_has_flag(fl, "avx2"));
    bp_bench_engine_add(m, "AVX-512", "avx512f", bp_bench_has_flag(fl, "avx512f"));
    bp_bench_engine_add(m, "AVX-512 VNNI", "avx512_vnni", bp_bench_has_flag(fl, "avx512_vnni"));
    bp_bench_engine_add(m, "AVX-VNNI", "avx_vnni", bp_bench_has_flag(fl, "avx_vnni"));
    m->has_matrix_engine = bp_bench_has_flag(fl, "amx_tile") && bp_bench_has_flag(fl, "amx_int8");
    bp_bench_engine_add(m, "AMX", "amx_tile+amx_int8", m->has_matrix_engine);
#elif defined(__aarch64__)
    bp_bench_engine_add(m, "NEON", "asimd", bp_bench_has_flag(fl, "asimd"));
    bp_bench_engine_add(m, "dot product", "asimddp", bp_bench_has_flag(fl, "asimddp"));
    bp_bench_engine_add(m, "I8MM", "i8mm", bp_bench_has_flag(fl, "i8mm"));
    bp_bench_engine_add(m, "SVE", "sve", bp_bench_has_flag(fl, "sve"));
    m->has_matrix_engine = bp_bench_has_flag(fl, "sme");
    bp_bench_engine_add(m, "SME", "sme", m->has_matrix_engine);
#endif
#ifdef BP_HAVE_ONEDNN
    const dnnl_version_t *dv = dnnl_version();
    snprintf(m->onednn_version, sizeof m->onednn_version, "%d.%d.%d", dv->major, dv->minor,
             dv->patch);
    snprintf(m->onednn_isa, sizeof m->onednn_isa, "%s",
             bp_bench_dnnl_isa_name(dnnl_get_effective_cpu_isa()));
#endif
    m->compiler = bp_bench_compiler();
    m->git_commit = BP_BENCH_GIT_COMMIT;
    m->load_start[0] = m->load_start[1] = m->load_start[2] = NAN;
    m->load_end[0] = m->load_end[1] = m->load_end[2] = NAN;
}

void bp_bench_machine_free(bp_bench_machine *m)
{
    free(m->flags);
    m->flags = NULL;
}
