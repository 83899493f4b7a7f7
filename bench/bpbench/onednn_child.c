/* onednn_child.c: the capped onednn-int8 child process: spawning it with
 * ONEDNN_MAX_CPU_ISA set, the line protocol on its stdin/stdout, and the
 * child's serving loop.
 *
 * Protocol (tab-separated lines; the child speaks first):
 *   child:  fail <skipped|failed> <reason>             (and exits), or
 *           info <isa> <onednn_isa> <threads> <stream_threads> <exact> <inexact_reason>
 *           steps <n>, then n lines: step <name> <op> <kernel>
 *           out <n>, then n float32 outputs of the agreement run, raw
 *           ready
 *   parent: L <rewarm 0|1> <layers 0|1>  ->  ok <ms> [<step ms> x n] | err <reason>
 *           T                            ->  ok <images/s>           | err <reason>
 *           Q                            ->  (the child exits) */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "onednn_child.h"

extern char **environ;

struct bp_bench_child {
    pid_t pid;
    FILE *to, *from;
    char *line;
    size_t cap;
};

/* Splits a line in place at tabs; returns the field count (at most max). */
static int bp_bench_fields(char *line, char **f, int max)
{
    int n = 0;
    line[strcspn(line, "\n")] = 0;
    for (char *p = line; n < max;) {
        f[n++] = p;
        char *t = strchr(p, '\t');
        if (!t)
            break;
        *t = 0;
        p = t + 1;
    }
    return n;
}

static void bp_bench_child_reap(bp_bench_row *r, int kill_it)
{
    bp_bench_child *c = r->child;
    if (!c)
        return;
    if (c->to) {
        fputs("Q\n", c->to);
        fclose(c->to);
    }
    if (c->from)
        fclose(c->from);
    if (c->pid > 0) {
        if (kill_it)
            kill(c->pid, SIGTERM);
        int ws = 0;
        pid_t p;
        while ((p = waitpid(c->pid, &ws, 0)) < 0 && errno == EINTR)
            ;
        /* after "Q" the child exits 0; anything else (a sanitizer report,
         * a crash while freeing) is worth a line */
        if (!kill_it && p > 0 && !(WIFEXITED(ws) && WEXITSTATUS(ws) == 0))
            fprintf(stderr, "bpbench: %s: the capped child process ended with %s %d\n", r->name,
                    WIFEXITED(ws) ? "status" : "signal",
                    WIFEXITED(ws) ? WEXITSTATUS(ws) : WTERMSIG(ws));
    }
    free(c->line);
    free(c);
    r->child = NULL;
}

void bp_bench_child_close(bp_bench_row *r) { bp_bench_child_reap(r, 0); }

/* Reads one line; on end of file says how the child ended. */
static int bp_bench_child_line(bp_bench_row *r)
{
    bp_bench_child *c = r->child;
    if (getline(&c->line, &c->cap, c->from) > 0)
        return 0;
    int ws = 0;
    pid_t p;
    while ((p = waitpid(c->pid, &ws, 0)) < 0 && errno == EINTR)
        ;
    c->pid = 0;
    if (p > 0 && WIFSIGNALED(ws))
        snprintf(r->reason, sizeof r->reason, "the capped child process died (signal %d)",
                 WTERMSIG(ws));
    else if (p > 0 && WIFEXITED(ws))
        snprintf(r->reason, sizeof r->reason, "the capped child process exited (status %d)",
                 WEXITSTATUS(ws));
    else
        snprintf(r->reason, sizeof r->reason, "the capped child process closed its output");
    return -1;
}

static int bp_bench_child_protocol_err(bp_bench_row *r, const char *what)
{
    snprintf(r->reason, sizeof r->reason, "capped child: unexpected %s", what);
    return -1;
}

int bp_bench_child_open(bp_bench_row *r, const bp_bench_cfg *cfg, int threads,
                        const char *cap_isa, bp_bench_io *io)
{
    r->state = BP_BENCH_FAILED;
    bp_bench_child *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(r->reason, sizeof r->reason, "out of memory");
        return -1;
    }
    r->child = c;
    /* a dead child must give EPIPE on write, not kill the parent */
    signal(SIGPIPE, SIG_IGN);
    char a_threads[16], a_batch[16], a_warmup[16], a_seed[32], a_streams[16], a_repeat[16];
    snprintf(a_threads, sizeof a_threads, "%d", threads);
    snprintf(a_batch, sizeof a_batch, "%u", cfg->batch);
    snprintf(a_warmup, sizeof a_warmup, "%u", cfg->warmup);
    snprintf(a_seed, sizeof a_seed, "%llu", (unsigned long long)cfg->seed);
    snprintf(a_streams, sizeof a_streams, "%u", cfg->streams);
    snprintf(a_repeat, sizeof a_repeat, "%u", cfg->repeat);
    char *argv[32];
    int n = 0;
    argv[n++] = "bpbench";
    argv[n++] = "--onednn-child";
    argv[n++] = "--model";
    argv[n++] = (char *)cfg->model;
    argv[n++] = "--backend";
    argv[n++] = cfg->all ? "all" : "onednn-int8";
    argv[n++] = "--threads";
    argv[n++] = a_threads;
    argv[n++] = "--batch";
    argv[n++] = a_batch;
    argv[n++] = "--warmup";
    argv[n++] = a_warmup;
    argv[n++] = "--repeat";
    argv[n++] = a_repeat;
    argv[n++] = "--seed";
    argv[n++] = a_seed;
    if (cfg->streams) {
        argv[n++] = "--streams";
        argv[n++] = a_streams;
    }
    if (cfg->input) {
        argv[n++] = "--input";
        argv[n++] = (char *)cfg->input;
    }
    if (cfg->isa) {
        argv[n++] = "--isa";
        argv[n++] = (char *)cfg->isa;
    }
    if (cfg->layers)
        argv[n++] = "--layers";
    argv[n] = NULL;

    size_t ne = 0;
    while (environ[ne])
        ne++;
    char **envp = calloc(ne + 3, sizeof *envp);
    char e1[64], e2[64];
    snprintf(e1, sizeof e1, "ONEDNN_MAX_CPU_ISA=%s", cap_isa);
    snprintf(e2, sizeof e2, "DNNL_MAX_CPU_ISA=%s", cap_isa);
    int pin[2] = {-1, -1}, pout[2] = {-1, -1};
    int rc = -1;
    if (!envp || pipe2(pin, O_CLOEXEC) || pipe2(pout, O_CLOEXEC)) {
        snprintf(r->reason, sizeof r->reason, "capped child: %s", envp ? strerror(errno)
                                                                        : "out of memory");
        goto out;
    }
    size_t k = 0;
    for (size_t i = 0; i < ne; i++)
        if (strncmp(environ[i], "ONEDNN_MAX_CPU_ISA=", 19) &&
            strncmp(environ[i], "DNNL_MAX_CPU_ISA=", 17))
            envp[k++] = environ[i];
    envp[k++] = e1;
    envp[k++] = e2;
    envp[k] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pin[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&fa, pout[1], STDOUT_FILENO);
    int se = posix_spawn(&c->pid, "/proc/self/exe", &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    if (se) {
        c->pid = 0;
        snprintf(r->reason, sizeof r->reason, "capped child: cannot start /proc/self/exe: %s",
                 strerror(se));
        goto out;
    }
    c->to = fdopen(pin[1], "w");
    if (c->to)
        pin[1] = -1;
    c->from = fdopen(pout[0], "r");
    if (c->from)
        pout[0] = -1;
    if (!c->to || !c->from) {
        snprintf(r->reason, sizeof r->reason, "capped child: fdopen: %s", strerror(errno));
        goto out;
    }
    close(pin[0]);
    close(pout[1]);
    pin[0] = pout[1] = -1;
    bp_bench_status("%s: starting the capped process (%s)", r->name, cap_isa);

    char *f[8];
    if (bp_bench_child_line(r))
        goto out;
    int nf = bp_bench_fields(c->line, f, 8);
    if (!strcmp(f[0], "fail") && nf == 3) {
        snprintf(r->reason, sizeof r->reason, "%s", f[2]);
        if (!strcmp(f[1], "skipped"))
            r->state = BP_BENCH_SKIPPED;
        rc = r->state == BP_BENCH_SKIPPED ? 1 : -1;
        goto out;
    }
    if (strcmp(f[0], "info") || nf != 7) {
        bp_bench_child_protocol_err(r, "first line");
        goto out;
    }
    snprintf(r->isa, sizeof r->isa, "%s", f[1]);
    snprintf(r->onednn_isa, sizeof r->onednn_isa, "%s", f[2]);
    r->threads = atoi(f[3]);
    r->stream_threads = atoi(f[4]);
    r->exact = atoi(f[5]);
    snprintf(r->inexact_reason, sizeof r->inexact_reason, "%s", f[6]);
    if (bp_bench_child_line(r))
        goto out;
    nf = bp_bench_fields(c->line, f, 8);
    long ns = nf == 2 && !strcmp(f[0], "steps") ? strtol(f[1], NULL, 10) : -1;
    if (ns < 0 || ns > 1000000) {
        bp_bench_child_protocol_err(r, "steps line");
        goto out;
    }
    r->steps = ns ? calloc((size_t)ns, sizeof *r->steps) : NULL;
    if (ns && !r->steps) {
        snprintf(r->reason, sizeof r->reason, "out of memory");
        goto out;
    }
    for (long i = 0; i < ns; i++) {
        if (bp_bench_child_line(r))
            goto out;
        if (bp_bench_fields(c->line, f, 8) != 4 || strcmp(f[0], "step")) {
            bp_bench_child_protocol_err(r, "step line");
            goto out;
        }
        r->steps[i].name = strdup(f[1]);
        r->steps[i].op = strdup(f[2]);
        r->steps[i].kernel = strdup(f[3]);
        r->n_steps = (uint32_t)i + 1;
        if (!r->steps[i].name || !r->steps[i].op || !r->steps[i].kernel) {
            snprintf(r->reason, sizeof r->reason, "out of memory");
            goto out;
        }
    }
    if (bp_bench_child_line(r))
        goto out;
    nf = bp_bench_fields(c->line, f, 8);
    if (nf != 2 || strcmp(f[0], "out") || strtoull(f[1], NULL, 10) != io->out_total) {
        bp_bench_child_protocol_err(r, "output size");
        goto out;
    }
    for (uint32_t o = 0; o < io->n_out; o++)
        if (fread(io->out[o], sizeof(float), io->out_n[o], c->from) != io->out_n[o]) {
            bp_bench_child_protocol_err(r, "end of the outputs");
            goto out;
        }
    if (bp_bench_child_line(r))
        goto out;
    if (strcmp(c->line, "ready\n")) {
        bp_bench_child_protocol_err(r, "line instead of ready");
        goto out;
    }
    r->state = BP_BENCH_RAN;
    rc = 0;
out:
    bp_bench_status_clear();
    for (int i = 0; i < 2; i++) {
        if (pin[i] >= 0)
            close(pin[i]);
        if (pout[i] >= 0)
            close(pout[i]);
    }
    free(envp);
    if (rc)
        bp_bench_child_reap(r, 1);
    return rc;
}

/* Sends one command and reads its "ok" line into f; returns the field
 * count, or -1 with r->reason set. */
static int bp_bench_child_call(bp_bench_row *r, const char *cmd, char **f, int max)
{
    bp_bench_child *c = r->child;
    if (!c || !c->to) {
        snprintf(r->reason, sizeof r->reason, "the capped child process is not running");
        return -1;
    }
    if (fputs(cmd, c->to) < 0 || fflush(c->to)) {
        snprintf(r->reason, sizeof r->reason, "capped child: write: %s", strerror(errno));
        return -1;
    }
    if (bp_bench_child_line(r))
        return -1;
    int nf = bp_bench_fields(c->line, f, max);
    if (!strcmp(f[0], "err") && nf >= 2) {
        snprintf(r->reason, sizeof r->reason, "%s", f[1]);
        return -1;
    }
    if (strcmp(f[0], "ok") || nf < 2)
        return bp_bench_child_protocol_err(r, "reply");
    return nf;
}

int bp_bench_child_latency(bp_bench_row *r, int rewarm, int layers, double *ms, double *step_ms)
{
    char cmd[16];
    snprintf(cmd, sizeof cmd, "L %d %d\n", rewarm ? 1 : 0, layers ? 1 : 0);
    int max = 2 + (int)r->n_steps;
    char **f = malloc((size_t)max * sizeof *f);
    if (!f) {
        snprintf(r->reason, sizeof r->reason, "out of memory");
        return -1;
    }
    int nf = bp_bench_child_call(r, cmd, f, max);
    int rc = -1;
    if (nf >= 2) {
        *ms = strtod(f[1], NULL);
        if (layers && step_ms) {
            if (nf != 2 + (int)r->n_steps) {
                bp_bench_child_protocol_err(r, "step count");
                goto out;
            }
            for (uint32_t k = 0; k < r->n_steps; k++)
                step_ms[k] = strtod(f[2 + k], NULL);
        }
        rc = 0;
    }
out:
    free(f);
    return rc;
}

int bp_bench_child_tput(bp_bench_row *r, double *ips)
{
    char *f[2];
    if (bp_bench_child_call(r, "T\n", f, 2) < 2)
        return -1;
    *ips = strtod(f[1], NULL);
    return 0;
}

/* ------------------------------------------------------------ the child */

int bp_bench_child_serve(const bp_bench_cfg *cfg)
{
    FILE *out = stdout;
    bp_model *m = NULL;
    bp_bench_io io;
    memset(&io, 0, sizeof io);
    bp_bench_row r;
    memset(&r, 0, sizeof r);
    r.id = BP_BENCH_INT8_CAPPED;
    r.name = "onednn-int8-capped";
    r.backend = "onednn-int8";
    r.requested = !cfg->all;
    r.iters = cfg->repeat;
    double *steps = NULL;
    char *line = NULL;
    size_t cap = 0;
    int status = BP_BENCH_EXIT_ERROR;
    char err[512];
    const bp_model_info *mi = NULL;
    bp_status st = bp_model_load_file(cfg->model, NULL, &m);
    if (st != BP_OK || bp_model_info_get(m, &mi) != BP_OK) {
        fprintf(out, "fail\tfailed\t%s: %s\n", bp_status_string(st), bp_last_error());
        goto done;
    }
    if (bp_bench_io_init(&io, mi, cfg, err, sizeof err)) {
        char *e = bp_bench_strdup_clean(err);
        fprintf(out, "fail\tfailed\t%s\n", e ? e : "input");
        free(e);
        goto done;
    }
    double ms = 0;
    if (bp_bench_local_open(&r, m, cfg, cfg->threads[0], &io, io.out, &ms, NULL)) {
        char *e = bp_bench_strdup_clean(r.reason);
        fprintf(out, "fail\t%s\t%s\n", r.state == BP_BENCH_SKIPPED ? "skipped" : "failed",
                e ? e : "open");
        free(e);
        goto done;
    }
    char *why = bp_bench_strdup_clean(r.inexact_reason);
    fprintf(out, "info\t%s\t%s\t%d\t%d\t%d\t%s\n", r.isa, r.onednn_isa, r.threads,
            r.stream_threads, r.exact, why ? why : "");
    free(why);
    fprintf(out, "steps\t%u\n", r.n_steps);
    for (uint32_t i = 0; i < r.n_steps; i++)
        fprintf(out, "step\t%s\t%s\t%s\n", r.steps[i].name, r.steps[i].op, r.steps[i].kernel);
    fprintf(out, "out\t%zu\n", io.out_total);
    for (uint32_t o = 0; o < io.n_out; o++)
        fwrite(io.out[o], sizeof(float), io.out_n[o], out);
    fputs("ready\n", out);
    if (fflush(out))
        goto done;
    steps = calloc(r.n_steps ? r.n_steps : 1, sizeof *steps);
    if (!steps)
        goto done;
    while (getline(&line, &cap, stdin) > 0) {
        if (line[0] == 'Q')
            break;
        int ok;
        double v = 0;
        int layers = 0;
        if (line[0] == 'L') {
            int rewarm = 0;
            if (sscanf(line, "L %d %d", &rewarm, &layers) != 2)
                break;
            ok = !bp_bench_local_latency(&r, &io, rewarm, layers, &v, steps);
            r.n_lat++; /* numbers the runs in error messages */
        } else if (line[0] == 'T') {
            ok = !bp_bench_local_tput(&r, cfg->batch, &v);
        } else {
            break;
        }
        if (!ok) {
            char *e = bp_bench_strdup_clean(r.reason);
            fprintf(out, "err\t%s\n", e ? e : "run failed");
            free(e);
        } else {
            fprintf(out, "ok\t%.17g", v);
            for (uint32_t k = 0; layers && k < r.n_steps; k++)
                fprintf(out, "\t%.17g", steps[k]);
            fputc('\n', out);
        }
        if (fflush(out))
            break;
    }
    status = BP_BENCH_EXIT_OK;
done:
    fflush(out);
    free(line);
    free(steps);
    bp_bench_row_free(&r);
    bp_bench_io_free(&io);
    bp_model_free(m);
    return status;
}
