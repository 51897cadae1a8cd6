/*
 * status.c: pr_status names and messages, and the pr_err buffer.
 * Both tables are generated from PR_STATUS_LIST so they never drift apart.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pronto/base.h"

const char *pr_status_str(pr_status s) {
    switch (s) {
#define PR__STATUS_STR(name, value, msg) \
    case name:                           \
        return msg;
        PR_STATUS_LIST(PR__STATUS_STR)
#undef PR__STATUS_STR
    }
    return "unknown status";
}

const char *pr_status_name(pr_status s) {
    switch (s) {
#define PR__STATUS_NAME(name, value, msg) \
    case name:                            \
        return #name;
        PR_STATUS_LIST(PR__STATUS_NAME)
#undef PR__STATUS_NAME
    }
    return "PR_UNKNOWN";
}

pr_status pr_err_set(pr_err *err, pr_status status, const char *fmt, ...) {
    if (!err) return status;
    err->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return status;
}

pr_status pr_err_errno(pr_err *err, pr_status status, int errno_value,
                       const char *fmt, ...) {
    if (!err) return status;
    err->status = status;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n < sizeof err->msg)
        snprintf(err->msg + n, sizeof err->msg - (size_t)n, ": %s",
                 strerror(errno_value));
    return status;
}

void pr_err_clear(pr_err *err) {
    if (!err) return;
    err->status = PR_OK;
    err->msg[0] = '\0';
}
