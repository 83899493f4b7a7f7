/* Standalone mutation driver for fuzz_bpf.c (works with gcc): starts from
 * valid reference models and runs seeded random mutations (byte flips,
 * field overwrites, truncations, splices), re-fixing checksums in half of
 * them so the deeper validator is reached.
 * Usage: fuzz_bpf_driver [iterations] [seconds]   (BP_TEST_SEED=n to replay;
 *        BPF_FUZZ_ONLY=i to rerun one iteration; BPF_FUZZ_SAVE=path saves it;
 *        BPF_FUZZ_SEEDS=dir writes the valid seed models, a libFuzzer corpus) */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bpf_internal.h"
#include "bpf_testmodel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_SEEDS 3

static double bpft_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint32_t bpft_rnd(uint32_t *s, uint32_t n)
{
    return n ? bpft_rng(s) % n : 0;
}

/* Offsets worth hitting: header, table, section contents (located in the
 * unmutated original, whose table is intact). */
static size_t bpft_interesting_offset(const uint8_t *orig, size_t size, uint32_t *s)
{
    switch (bpft_rnd(s, 4)) {
    case 0: return bpft_rnd(s, BPF_HEADER_SIZE + BPF_N_SECTIONS * BPF_SECTION_ENTRY_SIZE);
    case 1: {
        uint32_t kind = 1 + bpft_rnd(s, BPF_N_SECTIONS);
        uint64_t off = bpft_section_off(orig, kind), sz = bpft_section_size(orig, kind);
        return (size_t)(off + bpft_rnd(s, (uint32_t)(sz ? sz : 1))) & ~(size_t)3;
    }
    default: return bpft_rnd(s, (uint32_t)size) & ~(size_t)3;
    }
}

static size_t bpft_mutate(uint8_t *b, size_t size, size_t cap, const uint8_t *orig,
                     const uint8_t *other, size_t other_size, uint32_t *s)
{
    static const uint32_t vals[] = {0, 1, 2, 3, 4, 7, 8, 9, 63, 64, 65, 255, 256, 4096, 32768,
                                    65535, 65536, 0x7FFFFFFF, 0x80000000u, 0xFFFFFFFEu, 0xFFFFFFFFu};
    uint32_t n = 1 + bpft_rnd(s, 4);
    for (uint32_t k = 0; k < n && size; k++) {
        switch (bpft_rnd(s, 7)) {
        case 0: b[bpft_rnd(s, (uint32_t)size)] ^= (uint8_t)(1u << bpft_rnd(s, 8)); break;
        case 1: b[bpft_rnd(s, (uint32_t)size)] = (uint8_t)bpft_rng(s); break;
        case 2: { /* u32 field overwrite */
            size_t o = bpft_interesting_offset(orig, size, s);
            if (o + 4 <= size) bpf_wr32(b + o, vals[bpft_rnd(s, sizeof vals / sizeof vals[0])]);
            break;
        }
        case 3: { /* u64 field overwrite (offsets, sizes) */
            size_t o = bpft_interesting_offset(orig, size, s) & ~(size_t)7;
            uint64_t v = bpft_rnd(s, 2) ? (uint64_t)vals[bpft_rnd(s, sizeof vals / sizeof vals[0])]
                                   : UINT64_MAX - bpft_rnd(s, 128);
            if (o + 8 <= size) bpf_wr64(b + o, v);
            break;
        }
        case 4: size = bpft_rnd(s, (uint32_t)size); break; /* truncation */
        case 5: { /* splice a chunk of another model over this one */
            size_t len = 1 + bpft_rnd(s, 256), from = bpft_rnd(s, (uint32_t)other_size), to = bpft_rnd(s, (uint32_t)size);
            if (from + len > other_size) len = other_size - from;
            if (to + len > size) len = size - to;
            memcpy(b + to, other + from, len);
            break;
        }
        default: { /* insert or delete a chunk, shifting the rest */
            size_t at = bpft_rnd(s, (uint32_t)size), len = 1 + bpft_rnd(s, 64);
            if (bpft_rnd(s, 2) && size + len <= cap) {
                memmove(b + at + len, b + at, size - at);
                for (size_t i = 0; i < len; i++) b[at + i] = (uint8_t)bpft_rng(s);
                size += len;
            } else if (at + len <= size) {
                memmove(b + at, b + at + len, size - at - len);
                size -= len;
            }
            break;
        }
        }
    }
    return size;
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? strtol(argv[1], NULL, 0) : 200000;
    double seconds = argc > 2 ? strtod(argv[2], NULL) : 3.0;
    const char *env = getenv("BP_TEST_SEED");
    uint32_t seed = env ? (uint32_t)strtoul(env, NULL, 0) : (uint32_t)time(NULL);
    const char *only = getenv("BPF_FUZZ_ONLY");
    long first = only ? strtol(only, NULL, 0) : 0, last = only ? first + 1 : iters;
    printf("fuzz_bpf: seed %u (replay: BP_TEST_SEED=%u), up to %ld iterations / %.1f s\n", seed,
           seed, iters, seconds);

    uint8_t *seeds[N_SEEDS];
    size_t seed_size[N_SEEDS];
    bpft_model *t = malloc(sizeof *t);
    for (int i = 0; i < N_SEEDS; i++) {
        bpft_build(t, seed + (uint32_t)i * 7919u);
        seeds[i] = bpft_write(t, &seed_size[i]);
        LLVMFuzzerTestOneInput(seeds[i], seed_size[i]); /* the seeds themselves load */
        const char *dir = getenv("BPF_FUZZ_SEEDS"); /* writes a libFuzzer corpus */
        if (dir) {
            char path[4096];
            snprintf(path, sizeof path, "%s/seed%d.bp", dir, i);
            FILE *f = fopen(path, "wb");
            if (f) {
                fwrite(seeds[i], 1, seed_size[i], f);
                fclose(f);
            }
        }
    }
    free(t);

    size_t cap = seed_size[0] + 4096;
    for (int i = 1; i < N_SEEDS; i++)
        if (seed_size[i] + 4096 > cap) cap = seed_size[i] + 4096;
    uint8_t *buf = malloc(cap);
    long done = 0, refixed = 0, verdicts[16] = {0};
    double t0 = bpft_now_s(); /* wall time: the budget holds on a loaded machine */
    for (long it = first; it < last; it++) {
        uint32_t s = seed ^ (uint32_t)(it * 0x9E3779B1u) ^ 0x5bd1e995u;
        bpft_rng(&s);
        int which = (int)bpft_rnd(&s, N_SEEDS);
        memcpy(buf, seeds[which], seed_size[which]);
        size_t size = bpft_mutate(buf, seed_size[which], cap, seeds[which], seeds[(which + 1) % N_SEEDS],
                             seed_size[(which + 1) % N_SEEDS], &s);
        if (bpft_rnd(&s, 2)) {
            bpft_refix(buf, size);
            refixed++;
        }
        if (only && getenv("BPF_FUZZ_SAVE")) {
            FILE *f = fopen(getenv("BPF_FUZZ_SAVE"), "wb");
            if (f) {
                fwrite(buf, 1, size, f);
                fclose(f);
            }
        }
        LLVMFuzzerTestOneInput(buf, size);
        bpf_model *m = NULL;
        bpf_status st = bpf_load_memory(buf, size, 0, &m); /* tally how deep inputs get */
        bpf_model_free(m);
        if (st <= 0 && st > -16) verdicts[-st]++;
        done++;
        if ((done & 255) == 0 && bpft_now_s() - t0 > seconds) break;
    }
    printf("fuzz_bpf: %ld iterations (%ld with re-fixed checksums) in %.2f s, no failure\n", done,
           refixed, bpft_now_s() - t0);
    printf("fuzz_bpf: verdicts:");
    for (int i = 0; i < 16; i++)
        if (verdicts[i]) printf(" %d:%ld", -i, verdicts[i]);
    printf("  (0 ok, -4 truncated, -7 checksum, -8 section, -9 planes, -10 graph)\n");
    free(buf);
    for (int i = 0; i < N_SEEDS; i++) free(seeds[i]);
    return 0;
}
