/* One hand-made bad file per SPEC.md rule: the case table shared by the
 * rule tests and the rule-coverage check. */
#ifndef BPF_RULE_CASES_H
#define BPF_RULE_CASES_H

#include <stddef.h>
#include <stdint.h>

#include "bpf.h"
#include "bpf_testmodel.h"

/* A file being corrupted: b has room for size + 256 bytes. */
typedef struct bpft_bad {
    uint8_t *b;
    size_t size;
} bpft_bad;

typedef struct bpft_case {
    const char *name;     /* starts with the rule id: "R12 ..." */
    bpf_status status;    /* the status SPEC.md gives for the rule */
    const char *msg;      /* a substring the message must hold */
    void (*pre)(bpft_model *t); /* edits the desc before writing, or NULL */
    void (*post)(bpft_bad *f);  /* patches the bytes after writing, or NULL */
    int refix;            /* re-fix checksums after post */
} bpft_case;

extern const bpft_case bpft_cases[];
extern const size_t bpft_n_cases;

#endif
