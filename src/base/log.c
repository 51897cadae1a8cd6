/*
 * log.c: leveled log lines on stderr ("pronto: warning: ..."), or to the
 * sink a program sets (pr_log_set_sink).
 *
 * Each line is formatted into one buffer (at most 2048 bytes,
 * cut with "..." past that) and written with a single write(2), so lines
 * from different threads never interleave inside a line (POSIX keeps one
 * write to a pipe of up to PIPE_BUF bytes whole; files opened O_APPEND and
 * terminals keep it whole in practice).
 *
 * Rate limit (off by default, so batch tools report every bad line up to
 * their own limits; `pronto serve` turns it on): a call site (its format
 * string's address) logs at most `per_second` lines per second. Later
 * calls from that site within the same second are counted, not written;
 * the next line it writes in a later second ends with "(suppressed N
 * similar)". The table of call sites is small and
 * fixed (RL_SLOTS, direct-mapped by the format's address: two sites that
 * share a slot take turns), guarded by one mutex: logging is never on a
 * hot path, and a flood is exactly when it must stay cheap.
 *
 * Sink: a function and its user pointer behind a reader-writer lock.
 * pr_log holds it for reading while it calls the sink (lines of many
 * threads go out at once); pr_log_set_sink takes it for writing, so once
 * it returns no call to the old sink is running. A sink that sets the
 * sink would wait for itself: base.h forbids it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pronto/base.h"

static pr_log_level g_level = PR_LOG_INFO;

static unsigned g_per_second = 0; /* 0: no rate limit */

static pr_log_sink_fn g_sink;   /* NULL: stderr */
static void *g_sink_user;
static pthread_rwlock_t g_sink_mu = PTHREAD_RWLOCK_INITIALIZER;

void pr_log_set_sink(pr_log_sink_fn fn, void *user) {
    pthread_rwlock_wrlock(&g_sink_mu);
    g_sink = fn;
    g_sink_user = user;
    pthread_rwlock_unlock(&g_sink_mu);
}

void pr_log_set_level(pr_log_level level) { g_level = level; }
void pr_log_set_rate_limit(unsigned per_second) { g_per_second = per_second; }

enum { RL_SLOTS = 64, PR_LOG_LINE_MAX = 2048 };

typedef struct rl_slot {
    const char *fmt;     /* the call site, NULL: free */
    int64_t second;      /* monotonic second of its last written line */
    unsigned written;    /* lines written in that second */
    uint64_t suppressed; /* lines dropped since */
} rl_slot;

static rl_slot g_rl[RL_SLOTS];
static pthread_mutex_t g_rl_mu = PTHREAD_MUTEX_INITIALIZER;

/* 1 if the line may be written; *dropped: lines suppressed before it. */
static int rate_ok(const char *fmt, uint64_t *dropped) {
    *dropped = 0;
    if (!g_per_second) return 1;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    size_t i = (size_t)(((uintptr_t)fmt >> 3) * 0x9E3779B97F4A7C15ull >> 58) % RL_SLOTS;
    int ok = 1;
    pthread_mutex_lock(&g_rl_mu);
    rl_slot *s = &g_rl[i];
    if (s->fmt == fmt && s->second == (int64_t)t.tv_sec) {
        if (s->written < g_per_second) s->written++;
        else s->suppressed++, ok = 0;
    } else {
        if (s->fmt == fmt) *dropped = s->suppressed;
        s->fmt = fmt;
        s->second = (int64_t)t.tv_sec;
        s->written = 1;
        s->suppressed = 0;
    }
    pthread_mutex_unlock(&g_rl_mu);
    return ok;
}

void pr_log(pr_log_level level, const char *fmt, ...) {
    static const char *names[] = {"error", "warning", "info", "debug"};
    if (level > g_level) return;
    uint64_t dropped;
    if (!rate_ok(fmt, &dropped)) return;
    char line[PR_LOG_LINE_MAX];
    const size_t room = sizeof line - 48; /* for the suffix and "\n" */
    int n = snprintf(line, room, "pronto: %s: ", names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, room - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len >= room) { /* cut: end with "..." */
        len = room - 1;
        memcpy(line + len - 3, "...", 3);
    }
    if (dropped)
        len += (size_t)snprintf(line + len, sizeof line - len, " (suppressed %llu similar)",
                                (unsigned long long)dropped);
    pthread_rwlock_rdlock(&g_sink_mu);
    if (g_sink) {
        line[len] = '\0';
        g_sink(g_sink_user, level, line + n, len - (size_t)n);
        pthread_rwlock_unlock(&g_sink_mu);
        return;
    }
    pthread_rwlock_unlock(&g_sink_mu);
    line[len++] = '\n';
    ssize_t w;
    do w = write(2, line, len);
    while (w < 0 && errno == EINTR);
}
