/* out_file.c: bpbench's output files, written whole and atomically through
 * the formats library's bpf_replace_file (temp file, fsync, rename). */
#include <stdlib.h>
#include <string.h>

#include "bpf.h"
#include "out_file.h"

static int bp_bench_is_stdout(const char *path)
{
    return path[0] == '-' && !path[1];
}

int bp_bench_out_check(const char *opt, const char *path)
{
    if (bp_bench_is_stdout(path) || bpf_check_output(path) == BPF_OK)
        return 0;
    fprintf(stderr, "bpbench: %s %s\n", opt, bpf_last_error());
    return -1;
}

int bp_bench_out_open(bp_bench_out *o, const char *path)
{
    memset(o, 0, sizeof *o);
    o->path = path;
    o->f = bp_bench_is_stdout(path) ? stdout : open_memstream(&o->buf, &o->size);
    if (!o->f) {
        fprintf(stderr, "bpbench: %s: out of memory\n", path);
        return -1;
    }
    return 0;
}

int bp_bench_out_commit(bp_bench_out *o)
{
    int bad = ferror(o->f);
    if (o->f == stdout) {
        bad |= fflush(o->f) != 0;
    } else {
        bad |= fclose(o->f) != 0;
        if (!bad && bpf_replace_file(o->path, o->buf, o->size) != BPF_OK) {
            fprintf(stderr, "bpbench: %s\n", bpf_last_error());
            free(o->buf);
            return -1;
        }
    }
    free(o->buf);
    if (bad)
        fprintf(stderr, "bpbench: writing %s failed\n", o->path);
    return bad ? -1 : 0;
}
