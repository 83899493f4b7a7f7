/* Thread-local last-error message of the .bp reader, validator and writer. */
#include <stdarg.h>
#include <stdio.h>

#include "bpf_internal.h"

static _Thread_local char bpf_err_msg[512];

bpf_status bpf_fail(bpf_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(bpf_err_msg, sizeof bpf_err_msg, fmt, ap);
    va_end(ap);
    return st;
}

void bpf_error_clear(void)
{
    bpf_err_msg[0] = '\0';
}

const char *bpf_last_error(void)
{
    return bpf_err_msg;
}
