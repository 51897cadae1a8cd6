/*
 * bench_common.h: what the C benchmarks share (header-only, static):
 * percentiles of a latency array, resident memory, the load average line,
 * and running redis-benchmark's pipelined GETs for the Redis comparison of
 * issue 4 (our request p99 against redis-benchmark's p99 for a pipeline of
 * the same number of GETs, same value size, same server).
 */
#ifndef PRONTO_BENCH_COMMON_H
#define PRONTO_BENCH_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* p-quantile of n sorted values (nearest rank). */
static inline double bench_pct(const double *sorted, long n, double p) {
    long i = (long)(p * (double)(n - 1) + 0.5);
    return sorted[i];
}

static inline long bench_rss_kib(void) {
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Prints "load average (1/5/15 min): ..." (the machine may be shared). */
static inline void bench_print_load(void) {
    FILE *la = fopen("/proc/loadavg", "r");
    if (!la) return;
    double l1, l5, l15;
    if (fscanf(la, "%lf %lf %lf", &l1, &l5, &l15) == 3)
        printf("load average (1/5/15 min): %.2f %.2f %.2f on %ld cpus\n", l1, l5, l15,
               sysconf(_SC_NPROCESSORS_ONLN));
    fclose(la);
}

/* redis-benchmark over the unix socket: one connection, pipelines of
 * `pipeline` GETs of `bytes`-byte values over `keyspace` keys; its CSV line
 * holds p99 in ms as the 6th number (redis-benchmark 7). Prints its
 * figures; returns p99 in seconds, or -1 if it could not run. */
static inline double bench_redis_benchmark_p99(const char *sock, long pipeline, long requests,
                                               long bytes, long keyspace) {
    char cmd[600], line[512];
    double p99 = -1;
    snprintf(cmd, sizeof cmd,
             "redis-benchmark -s '%s' -c 1 -P %ld -n %ld -d %ld -r %ld -t set,get --csv 2>/dev/null",
             sock, pipeline, requests, bytes, keyspace);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    while (fgets(line, sizeof line, p)) {
        double v[6];
        if (strncmp(line, "\"GET\"", 5) != 0) continue;
        if (sscanf(line, "\"GET\",\"%lf\",\"%lf\",\"%lf\",\"%lf\",\"%lf\",\"%lf\"", &v[0], &v[1],
                   &v[2], &v[3], &v[4], &v[5]) == 6) {
            p99 = v[5] / 1e3;
            printf("redis-benchmark -c 1 -P %ld GET (-d %ld): %.0f GET/s, avg %.1f us, p50 %.1f us, "
                   "p95 %.1f us, p99 %.1f us per pipelined batch\n",
                   pipeline, bytes, v[0], v[1] * 1e3, v[3] * 1e3, v[4] * 1e3, v[5] * 1e3);
        }
    }
    pclose(p);
    return p99;
}

#endif
