/* bpbench.c: whole-model benchmark: parse the command line, measure every
 * backend (run.c), compute the report once (report.c), write it as text,
 * JSON and an SVG of the per-layer times. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "layer_plot.h"
#include "machine.h"
#include "onednn_child.h"
#include "options.h"
#include "out_file.h"
#include "report.h"
#include "run.h"

/* OpenMP threads (oneDNN's, and the engine's float ops') spin for
 * GOMP_SPINCOUNT iterations after a parallel region before they sleep:
 * libgomp's default is milliseconds, so at more than one thread the backend
 * timed next lost a core to them (resnet18-cifar bitplane at 2 threads:
 * 2.5 ms alone, 3.2-3.5 ms in rounds interleaved with onednn-int8).
 * libgomp reads the variable when it is loaded, so bpbench sets it and
 * starts again, unless the user set it or OMP_WAIT_POLICY. 10000 spins
 * still cover the gaps between primitives inside a oneDNN run (onednn-int8
 * alone: 1.27 ms with it, 1.24 ms without, within the noise). */
#define BP_BENCH_GOMP_SPINCOUNT "10000"

static void bp_bench_omp_spin(char **argv)
{
    if (getenv("GOMP_SPINCOUNT") || getenv("OMP_WAIT_POLICY"))
        return;
    if (setenv("GOMP_SPINCOUNT", BP_BENCH_GOMP_SPINCOUNT, 1) == 0) {
        execv("/proc/self/exe", argv);
        unsetenv("GOMP_SPINCOUNT"); /* no exec: libgomp keeps its default */
    }
}

int main(int argc, char **argv)
{
    bp_bench_omp_spin(argv);
    /* A write beyond the file size limit fails with EFBIG instead of killing
     * the process, so an output's temporary file is cleaned up. */
    signal(SIGXFSZ, SIG_IGN);
    bp_bench_cfg cfg;
    int code = bp_bench_parse_args(argc, argv, &cfg);
    if (code >= 0)
        return code;
    if (cfg.child)
        return bp_bench_child_serve(&cfg);

    /* Output destinations are checked before any run (a benchmark is long). */
    if ((cfg.json && bp_bench_out_check("--json", cfg.json)) ||
        (cfg.plot && bp_bench_out_check("--plot-layers", cfg.plot)))
        return BP_BENCH_EXIT_ERROR;
    /* With --json - the JSON owns stdout and the tables go to stderr. */
    FILE *out = cfg.json && cfg.json[0] == '-' && !cfg.json[1] ? stderr : stdout;
    bp_bench_progress_enable(isatty(STDERR_FILENO) && out != stderr);
    time_t started = time(NULL);
    bp_bench_machine mach;
    bp_bench_machine_read(&mach);
    bp_bench_loadavg(mach.load_start);
    bp_bench_run run;
    code = bp_bench_run_all(&run, &cfg, &mach);
    bp_bench_loadavg(mach.load_end);
    if (run.n_sets && run.sets[0].rows[BP_BENCH_REF].state == BP_BENCH_RAN) {
        bp_bench_report rep;
        if (bp_bench_report_build(&rep, &run, &cfg, &mach, started)) {
            fprintf(stderr, "bpbench: out of memory\n");
            code = BP_BENCH_EXIT_ERROR;
        } else {
            bp_bench_write_text(&rep, out);
            if (cfg.plot && bp_bench_write_plot(&rep, cfg.plot))
                code = rep.exit_code = code ? code : BP_BENCH_EXIT_ERROR;
            if (cfg.json && bp_bench_write_json(&rep, cfg.json))
                code = code ? code : BP_BENCH_EXIT_ERROR;
        }
        bp_bench_report_free(&rep);
    }
    bp_bench_run_free(&run);
    bp_bench_machine_free(&mach);
    return code;
}
