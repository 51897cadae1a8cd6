/* log.c: leveled log lines on stderr ("pronto: warning: ..."). */
#include <stdarg.h>
#include <stdio.h>

#include "pronto/base.h"

static pr_log_level g_level = PR_LOG_INFO;

void pr_log_set_level(pr_log_level level) { g_level = level; }

void pr_log(pr_log_level level, const char *fmt, ...) {
    static const char *names[] = {"error", "warning", "info", "debug"};
    if (level > g_level) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "pronto: %s: ", names[level]);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}
