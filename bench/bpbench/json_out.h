/* json_out.h: a minimal streaming JSON writer (objects, arrays, numbers,
 * escaped strings) with comma and indentation bookkeeping. */
#ifndef BP_BENCH_JSON_OUT_H
#define BP_BENCH_JSON_OUT_H

#include <stdint.h>
#include <stdio.h>

#define BP_JSON_DEPTH 16

typedef struct bp_json {
    FILE *f;
    int depth;
    int first[BP_JSON_DEPTH];
} bp_json;

void bp_json_init(bp_json *j, FILE *f);
/* key may be NULL inside arrays. */
void bp_json_obj(bp_json *j, const char *key);
void bp_json_arr(bp_json *j, const char *key);
void bp_json_end(bp_json *j, char close); /* '}' or ']' */
void bp_json_str(bp_json *j, const char *key, const char *v); /* NULL -> null */
void bp_json_num(bp_json *j, const char *key, double v);      /* non-finite -> null */
void bp_json_int(bp_json *j, const char *key, uint64_t v);
void bp_json_bool(bp_json *j, const char *key, int v);
void bp_json_null(bp_json *j, const char *key);

#endif
