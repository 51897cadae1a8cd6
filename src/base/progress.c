/*
 * progress.c: the one-line progress display for long work.
 * Drawn on stderr with "\r" at most five times a second, only when stderr is
 * a terminal (PRONTO_PROGRESS=1 forces it on, =0 off), so logs and pipes stay
 * clean. Shows units done, rate, ETA when the total is known, and one
 * running metric.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "pronto/base.h"

void pr_progress_start(pr_progress *p, const char *what, uint64_t total) {
    p->what = what;
    p->total = total;
    p->done = 0;
    p->t_start = p->t_last = pr_now();
    p->drawn = 0;
    const char *env = getenv("PRONTO_PROGRESS");
    if (env && *env) p->enabled = env[0] == '1';
    else p->enabled = isatty(STDERR_FILENO);
}

static void human(double v, char *buf, size_t n) {
    if (v >= 1e9) snprintf(buf, n, "%.2fG", v / 1e9);
    else if (v >= 1e6) snprintf(buf, n, "%.2fM", v / 1e6);
    else if (v >= 1e3) snprintf(buf, n, "%.1fk", v / 1e3);
    else snprintf(buf, n, "%.0f", v);
}

void pr_progress_update(pr_progress *p, uint64_t done, const char *metric_name,
                        double metric) {
    p->done = done;
    if (!p->enabled) return;
    double now = pr_now();
    if (now - p->t_last < 0.2) return;
    p->t_last = now;
    double el = now - p->t_start;
    double rate = el > 0 ? (double)done / el : 0;
    char d[32], r[32], eta[48] = "", met[64] = "";
    human((double)done, d, sizeof d);
    human(rate, r, sizeof r);
    if (p->total && rate > 0 && done <= p->total) {
        double left = (double)(p->total - done) / rate;
        snprintf(eta, sizeof eta, "  %3.0f%%  ETA %dm%02ds",
                 100.0 * (double)done / (double)p->total, (int)(left / 60),
                 (int)left % 60);
    }
    if (metric_name) snprintf(met, sizeof met, "  %s %.5f", metric_name, metric);
    fprintf(stderr, "\r\033[K%s: %s  %s/s%s%s", p->what, d, r, eta, met);
    fflush(stderr);
    p->drawn = 1;
}

void pr_progress_end(pr_progress *p) {
    if (p->enabled && p->drawn) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
    p->drawn = 0;
}
