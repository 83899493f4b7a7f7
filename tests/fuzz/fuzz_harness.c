/* Driver loop shared by the fuzzers (see fuzz_harness.h). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fuzz_harness.h"

#if defined(__SANITIZE_ADDRESS__)
#define FZ_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FZ_SANITIZED 1
#endif
#endif
#ifdef FZ_SANITIZED
#include <sanitizer/common_interface_defs.h>
#endif

uint64_t fz_mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void fz_rng_seed(fz_rng *r, uint64_t seed)
{
    memset(r, 0, sizeof *r);
    r->s = seed;
}

void fz_rng_bytes(fz_rng *r, const uint8_t *data, size_t n)
{
    memset(r, 0, sizeof *r);
    r->data = data;
    r->n = n;
}

uint64_t fz_next(fz_rng *r)
{
    if (r->data) {
        uint64_t v = 0;
        for (int i = 0; i < 4; i++, r->pos++)
            v = v << 8 | (r->pos < r->n ? r->data[r->pos] : 0u);
        return v * 0x100000001ull; /* both halves: modulo and the top bits see the bytes */
    }
    r->s += 0x9e3779b97f4a7c15ull;
    return fz_mix(r->s);
}

uint32_t fz_below(fz_rng *r, uint32_t n)
{
    return n ? (uint32_t)(fz_next(r) % n) : 0;
}

int fz_chance(fz_rng *r, uint32_t percent)
{
    return fz_below(r, 100) < percent;
}

double fz_unif(fz_rng *r)
{
    return (double)(fz_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

uint32_t fz_range(fz_rng *r, uint32_t lo, uint32_t hi)
{
    return hi <= lo ? lo : lo + fz_below(r, hi - lo + 1);
}

double fz_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fz_usage(const char *prog, const char *name)
{
    fprintf(stderr,
            "usage: %s [--seconds S] [--iters N] [--seed N] [--only I [--save PATH]]\n"
            "          [--hang-seconds S] [--verbose]\n"
            "  %s: runs iterations until N are done or S seconds have passed.\n"
            "  The run seed is --seed, else $BP_TEST_SEED, else random (printed).\n"
            "  --only I replays iteration I of that seed (printed on a failure);\n"
            "  --save PATH also writes its model file.\n",
            prog, name);
}

int fz_parse_args(int argc, char **argv, const char *name, fz_opts *o)
{
    memset(o, 0, sizeof *o);
    o->prog = argv[0];
    o->name = name;
    o->iters = 1000000000L;
    o->seconds = 5.0;
    o->only = -1;
    o->hang_s = 300.0;
    const char *env = getenv("BP_TEST_SEED");
    if (env && *env) {
        o->seed = strtoull(env, NULL, 0);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        o->seed = fz_mix((uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec ^
                         ((uint64_t)getpid() << 32)) % 1000000000000ull;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!strcmp(a, "--verbose")) {
            o->verbose = 1;
            continue;
        }
        if (!v) {
            fz_usage(o->prog, name);
            return -1;
        }
        i++;
        if (!strcmp(a, "--seconds")) o->seconds = strtod(v, &end);
        else if (!strcmp(a, "--iters")) { o->iters = strtol(v, &end, 0); o->iters_given = 1; }
        else if (!strcmp(a, "--seed")) o->seed = strtoull(v, &end, 0);
        else if (!strcmp(a, "--only")) o->only = strtol(v, &end, 0);
        else if (!strcmp(a, "--hang-seconds")) o->hang_s = strtod(v, &end);
        else if (!strcmp(a, "--save")) { o->save = v; end = (char *)v + strlen(v); }
        else end = NULL;
        if (!end || *end || end == v) {
            fprintf(stderr, "%s: bad argument %s %s\n", name, a, v);
            fz_usage(o->prog, name);
            return -1;
        }
    }
    if (o->seconds <= 0 || o->iters < 0 || o->hang_s <= 0) {
        fz_usage(o->prog, name);
        return -1;
    }
    return 0;
}

/* The command reproducing the running iteration, preformatted so that
 * signal handlers and sanitizer callbacks only write(2) it. */
static char g_repro[1024];
static size_t g_repro_len;

static void fz_write_repro(const char *why)
{
    ssize_t r = write(2, why, strlen(why));
    r = write(2, g_repro, g_repro_len);
    (void)r;
}

static void fz_on_alarm(int sig)
{
    (void)sig;
    fz_write_repro("\n*** hang: one iteration exceeded --hang-seconds\n");
    _exit(1);
}

#ifdef FZ_SANITIZED
static void fz_on_sanitizer_death(void)
{
    fz_write_repro("\n*** sanitizer report above\n");
}
#else
static void fz_on_crash(int sig)
{
    fz_write_repro("\n*** crashed (fatal signal)\n");
    signal(sig, SIG_DFL);
    raise(sig);
}
#endif

static void fz_set_repro(const fz_opts *o, long it)
{
    int n = snprintf(g_repro, sizeof g_repro, "reproduce: BP_TEST_SEED=%llu %s --only %ld\n",
                     (unsigned long long)o->seed, o->prog, it);
    g_repro_len = n < 0 ? 0 : (size_t)n < sizeof g_repro ? (size_t)n : sizeof g_repro - 1;
}

int fz_loop(const fz_opts *o, fz_iter_fn fn, void *ctx)
{
    char iters[48] = "";
    if (o->iters_given) snprintf(iters, sizeof iters, " --iters %ld", o->iters);
    if (o->only >= 0)
        printf("%s: seed %llu, iteration %ld only\n", o->name, (unsigned long long)o->seed,
               o->only);
    else
        printf("%s: seed %llu, %.1f s%s (replay this run: BP_TEST_SEED=%llu %s --seconds %g%s)\n",
               o->name, (unsigned long long)o->seed, o->seconds, o->iters_given ? " at most" : "",
               (unsigned long long)o->seed, o->prog, o->seconds, iters);
    fflush(stdout);
    signal(SIGALRM, fz_on_alarm);
#ifdef FZ_SANITIZED
    __sanitizer_set_death_callback(fz_on_sanitizer_death);
#else
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) signal(sigs[i], fz_on_crash);
#endif
    double t0 = fz_now();
    long first = o->only >= 0 ? o->only : 0, last = o->only >= 0 ? o->only + 1 : o->iters;
    long done = 0;
    int rc = 0;
    for (long it = first; it < last; it++) {
        if (o->only < 0 && done > 0 && fz_now() - t0 > o->seconds) break;
        fz_set_repro(o, it);
        unsigned hang = (unsigned)(o->hang_s + 0.999);
        alarm(hang ? hang : 1);
        int fail = fn(o, it, fz_mix(o->seed ^ fz_mix((uint64_t)it)), ctx);
        alarm(0);
        done++;
        if (fail) {
            fflush(stdout);
            fprintf(stderr, "%s: FAILED at iteration %ld\n", o->name, it);
            fz_write_repro("");
            rc = 1;
            break;
        }
    }
    printf("%s: %ld iterations in %.2f s%s\n", o->name, done, fz_now() - t0,
           rc ? "" : ", no failure");
    return rc;
}
