/* json_out.c: streaming JSON writer for bpbench --json. */
#include <math.h>

#include "json_out.h"

void bp_json_init(bp_json *j, FILE *f)
{
    j->f = f;
    j->depth = 0;
    j->first[0] = 1;
}

static void bp_json_escaped(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void bp_json_pre(bp_json *j, const char *key)
{
    if (!j->first[j->depth])
        fputc(',', j->f);
    j->first[j->depth] = 0;
    if (j->depth) {
        fputc('\n', j->f);
        for (int i = 0; i < j->depth; i++)
            fputs("  ", j->f);
    }
    if (key) {
        bp_json_escaped(j->f, key);
        fputs(": ", j->f);
    }
}

static void bp_json_open(bp_json *j, const char *key, char c)
{
    bp_json_pre(j, key);
    fputc(c, j->f);
    if (j->depth < BP_JSON_DEPTH - 1)
        j->depth++;
    j->first[j->depth] = 1;
}

void bp_json_obj(bp_json *j, const char *key) { bp_json_open(j, key, '{'); }
void bp_json_arr(bp_json *j, const char *key) { bp_json_open(j, key, '['); }

void bp_json_end(bp_json *j, char close)
{
    int empty = j->first[j->depth];
    if (j->depth)
        j->depth--;
    if (!empty) {
        fputc('\n', j->f);
        for (int i = 0; i < j->depth; i++)
            fputs("  ", j->f);
    }
    fputc(close, j->f);
    if (!j->depth)
        fputc('\n', j->f);
}

void bp_json_str(bp_json *j, const char *key, const char *v)
{
    bp_json_pre(j, key);
    if (v)
        bp_json_escaped(j->f, v);
    else
        fputs("null", j->f);
}

void bp_json_num(bp_json *j, const char *key, double v)
{
    bp_json_pre(j, key);
    if (isfinite(v))
        fprintf(j->f, "%.10g", v);
    else
        fputs("null", j->f);
}

void bp_json_int(bp_json *j, const char *key, uint64_t v)
{
    bp_json_pre(j, key);
    fprintf(j->f, "%llu", (unsigned long long)v);
}

void bp_json_bool(bp_json *j, const char *key, int v)
{
    bp_json_pre(j, key);
    fputs(v ? "true" : "false", j->f);
}

void bp_json_null(bp_json *j, const char *key)
{
    bp_json_pre(j, key);
    fputs("null", j->f);
}
