/* Status names, the thread-local last-error message, the version string and
 * aligned allocation helpers. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

/* Format errors pass through unchanged: the codes must match one to one. */
_Static_assert((int)BPF_OK == (int)BP_OK, "status code");
_Static_assert((int)BPF_ERR_INVALID_ARG == (int)BP_ERR_INVALID_ARG, "status code");
_Static_assert((int)BPF_ERR_NOMEM == (int)BP_ERR_NOMEM, "status code");
_Static_assert((int)BPF_ERR_IO == (int)BP_ERR_IO, "status code");
_Static_assert((int)BPF_ERR_TRUNCATED == (int)BP_ERR_TRUNCATED, "status code");
_Static_assert((int)BPF_ERR_BAD_MAGIC == (int)BP_ERR_BAD_MAGIC, "status code");
_Static_assert((int)BPF_ERR_VERSION == (int)BP_ERR_VERSION, "status code");
_Static_assert((int)BPF_ERR_CHECKSUM == (int)BP_ERR_CHECKSUM, "status code");
_Static_assert((int)BPF_ERR_BAD_SECTION == (int)BP_ERR_BAD_SECTION, "status code");
_Static_assert((int)BPF_ERR_BAD_PLANES == (int)BP_ERR_BAD_PLANES, "status code");
_Static_assert((int)BPF_ERR_BAD_GRAPH == (int)BP_ERR_BAD_GRAPH, "status code");
_Static_assert((int)BPF_ERR_LIMIT == (int)BP_ERR_LIMIT, "status code");
_Static_assert((int)BPF_ERR_BAD_META == (int)BP_ERR_BAD_META, "status code");

static _Thread_local char bp_err_msg[1024];

bp_status bp_fail(bp_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(bp_err_msg, sizeof bp_err_msg, fmt, ap);
    va_end(ap);
    return s;
}

void bp_error_clear(void)
{
    bp_err_msg[0] = '\0';
}

BP_API const char *bp_last_error(void)
{
    return bp_err_msg;
}

BP_API const char *bp_status_string(bp_status s)
{
    switch (s) {
    case BP_OK: return "BP_OK: success";
    case BP_ERR_INVALID_ARG: return "BP_ERR_INVALID_ARG: invalid argument";
    case BP_ERR_NOMEM: return "BP_ERR_NOMEM: out of memory";
    case BP_ERR_IO: return "BP_ERR_IO: I/O error";
    case BP_ERR_TRUNCATED: return "BP_ERR_TRUNCATED: model file truncated";
    case BP_ERR_BAD_MAGIC: return "BP_ERR_BAD_MAGIC: not a .bp model file";
    case BP_ERR_VERSION: return "BP_ERR_VERSION: unsupported format version";
    case BP_ERR_CHECKSUM: return "BP_ERR_CHECKSUM: checksum mismatch";
    case BP_ERR_BAD_SECTION: return "BP_ERR_BAD_SECTION: malformed section table";
    case BP_ERR_BAD_PLANES: return "BP_ERR_BAD_PLANES: malformed weight planes";
    case BP_ERR_BAD_GRAPH: return "BP_ERR_BAD_GRAPH: malformed graph";
    case BP_ERR_LIMIT: return "BP_ERR_LIMIT: documented limit exceeded";
    case BP_ERR_BAD_META: return "BP_ERR_BAD_META: malformed metadata or string";
    case BP_ERR_SHAPE: return "BP_ERR_SHAPE: shape mismatch";
    case BP_ERR_UNSUPPORTED: return "BP_ERR_UNSUPPORTED: not supported here";
    case BP_ERR_BACKEND: return "BP_ERR_BACKEND: backend library failure";
    case BP_ERR_STATE: return "BP_ERR_STATE: invalid handle or state";
    }
    return "BP_ERR_?: unknown status";
}

BP_API const char *bp_version_string(void)
{
#define BP_STR2(x) #x
#define BP_STR(x) BP_STR2(x)
    return BP_STR(BP_VERSION_MAJOR) "." BP_STR(BP_VERSION_MINOR) "." BP_STR(BP_VERSION_PATCH);
}

void *bp_aligned_alloc(size_t bytes)
{
    if (bytes == 0) bytes = 64;
    size_t rounded = (bytes + 63) & ~(size_t)63;
    if (rounded < bytes) return NULL;
    void *p = aligned_alloc(64, rounded);
    if (p) memset(p, 0, rounded);
    return p;
}

void bp_aligned_free(void *p)
{
    free(p);
}
