/*
 * bench_log.c: the event log log:DIR (pronto/log.h). Appends N records of B
 * payload bytes (random-ish text, ~200 bytes like a JSON event) and prints
 * records/s and MB/s for:
 *   fsync=off, one thread, one record per append   (issue 10 goal >= 1M/s)
 *   fsync=off, one thread, 64 records per append
 *   fsync=batch:10 with 1, 2 and 4 writer threads, each appending 1 record
 *   per call and 64 per call (a request's events; goal >= 200k/s)
 *   fsync=always, one thread (measured, no goal)
 * then reads the fsync=off log back (records/s) and seeks by time (a reader
 * opened FROM_TIME at random times and its first record read: p50/p99),
 * compresses its closed segments (pr_log_compact) and reads and seeks again.
 *
 *   bench_log [--records N (1000000)] [--bytes B (200)] [--dir DIR (/tmp)]
 *             [--always N (2000)] [--only TEXT]
 *
 * --only TEXT runs the cases whose name contains TEXT (e.g. "fsync=off",
 * "writers"); the read-back and seek figures come with "64 per append".
 *
 * Each case writes a fresh directory under DIR and removes it afterwards.
 * The figures depend on the disk under DIR (fsync costs) and on the load:
 * the load average is printed first.
 */
#include <pthread.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_common.h"
#include "pronto/log.h"

static long n_records = 1000000, n_bytes = 200, n_always = 2000;
static const char *base_dir = "/tmp";
static const char *only;
static char payload[4096];

static void die(const char *what, const pr_err *err) {
    fprintf(stderr, "bench_log: %s: %s\n", what, err ? err->msg : "");
    exit(1);
}

static void rmrf(const char *d) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    if (system(cmd) != 0) fprintf(stderr, "bench_log: cannot remove %s\n", d);
}

typedef struct job {
    pr_event_log *log;
    long n;
    int per_append;
    long first_ts;
} job;

static void *run_job(void *p) {
    job *j = p;
    pr_err err;
    pr_log_entry e[64];
    for (long i = 0; i < j->n; i += j->per_append) {
        int k = j->per_append;
        if (i + k > j->n) k = (int)(j->n - i);
        for (int q = 0; q < k; q++) {
            e[q].type = 1;
            e[q].ts_ms = j->first_ts + i + q;
            e[q].payload = pr_bytes_of(payload + ((i + q) & 63), (size_t)n_bytes);
        }
        if (pr_log_append(j->log, e, (uint32_t)k, NULL, &err) != PR_OK) die("append", &err);
    }
    return NULL;
}

/* CPU seconds (user + system) of the process so far: on a shared machine
 * records per CPU-second says more than records per wall second. */
static double cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Appends n records with `threads` writers; returns seconds. */
static double run_case(const char *name, const char *opts, long n, int threads, int per_append,
                       const char *dir, int keep) {
    if (only && !strstr(name, only)) return 0;
    char uri[700];
    rmrf(dir);
    snprintf(uri, sizeof uri, "log:%s?%s", dir, opts);
    pr_err err;
    pr_event_log *log;
    if (pr_log_open(uri, PR_LOG_WRITE, &log, &err) != PR_OK) die(uri, &err);
    pthread_t th[8];
    job jobs[8];
    double t0 = pr_now(), c0 = cpu_s();
    for (int t = 0; t < threads; t++) {
        jobs[t] = (job){log, n / threads, per_append, (long)t * (n / threads)};
        pthread_create(&th[t], NULL, run_job, &jobs[t]);
    }
    for (int t = 0; t < threads; t++) pthread_join(th[t], NULL);
    double dt = pr_now() - t0, dc = cpu_s() - c0;
    pr_log_stats s;
    pr_log_stats_get(log, &s);
    pr_log_close(log);
    double recs = (double)(n / threads * threads);
    printf("%-34s %9.0f records/s %7.1f MB/s  (%ld records, %d thread%s, %llu fsyncs, %llu "
           "segments, %.2f s; %.2f cpu s: %.0f records per cpu s)\n",
           name, recs / dt, recs * (double)(n_bytes + 24) / dt / 1e6, n / threads * threads,
           threads, threads > 1 ? "s" : "", (unsigned long long)s.fsyncs,
           (unsigned long long)s.segments, dt, dc, dc > 0 ? recs / dc : 0);
    if (!keep) rmrf(dir);
    return dt;
}

/* Reads the log in dir back (records/s) and seeks by time (latency). */
static void read_and_seek(const char *dir, const char *what) {
    char uri[700], name[64];
    snprintf(uri, sizeof uri, "log:%s", dir);
    pr_err err;
    pr_event_log *log;
    if (pr_log_open(uri, PR_LOG_READ, &log, &err) != PR_OK) die(uri, &err);
    pr_log_reader *r;
    if (pr_log_reader_open(log, NULL, &r, &err) != PR_OK) die("reader", &err);
    pr_log_record rec;
    long got = 0;
    uint64_t sum = 0;
    double t0 = pr_now();
    while (pr_log_next(r, &rec, &err) == PR_OK) {
        got++;
        sum += rec.payload.len;
    }
    double dt = pr_now() - t0;
    pr_log_reader_close(r);
    snprintf(name, sizeof name, "read back%s", what);
    printf("%-34s %9.0f records/s %7.1f MB/s  (%ld records, checksums verified)\n", name,
           (double)got / dt, (double)sum / dt / 1e6, got);
    if (got != n_records) die("read back: wrong count", NULL);
    enum { SEEKS = 2000 };
    static double lat[SEEKS];
    uint64_t seed = 42;
    for (int i = 0; i < SEEKS; i++) {
        int64_t ts = (int64_t)(pr_splitmix64(&seed) % (uint64_t)n_records);
        pr_log_start st = {.kind = PR_LOG_FROM_TIME, .from_ms = ts};
        double a = pr_now();
        if (pr_log_reader_open(log, &st, &r, &err) != PR_OK) die("seek", &err);
        if (pr_log_next(r, &rec, &err) != PR_OK || rec.ts_ms != ts)
            die("seek: wrong record", &err);
        lat[i] = pr_now() - a;
        pr_log_reader_close(r);
    }
    qsort(lat, SEEKS, sizeof *lat, bench_cmp_double);
    snprintf(name, sizeof name, "seek by time%s", what);
    printf("%-34s p50 %.1f us  p99 %.1f us  (%d seeks, open + first record)\n", name,
           bench_pct(lat, SEEKS, 0.5) * 1e6, bench_pct(lat, SEEKS, 0.99) * 1e6, SEEKS);
    pr_log_close(log);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "bench_log: %s needs a value\n", f);
            return 2;
        }
        char *end = NULL;
        long x = strtol(v, &end, 10);
        int num_ok = end != v && *end == 0;
        if (!strcmp(f, "--dir")) base_dir = v;
        else if (!strcmp(f, "--only")) only = v;
        else if (!num_ok) {
            fprintf(stderr, "bench_log: %s wants a number, got '%s'\n", f, v);
            return 2;
        } else if (!strcmp(f, "--records")) n_records = x;
        else if (!strcmp(f, "--bytes")) n_bytes = x;
        else if (!strcmp(f, "--always")) n_always = x;
        else {
            fprintf(stderr, "bench_log: unknown flag %s\n", f);
            return 2;
        }
        i++;
    }
    if (n_records < 1000 || n_bytes < 1 || n_bytes > 2048 || n_always < 1) {
        fprintf(stderr, "bench_log: --records >= 1000, --bytes 1..2048, --always >= 1\n");
        return 2;
    }
    for (size_t i = 0; i < sizeof payload; i++) payload[i] = (char)('a' + (i * 7) % 26);
    bench_print_load();
    printf("payload %ld bytes (+24 framing), dir %s\n", n_bytes, base_dir);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/bench-log-%d", base_dir, (int)getpid());

    run_case("fsync=off, 1 per append", "fsync=off", n_records, 1, 1, dir, 0);
    /* 16 MiB segments so that read back and seeks also run over
     * compressed segments after pr_log_compact */
    if (run_case("fsync=off, 64 per append", "fsync=off&segment_bytes=16777216", n_records, 1,
                 64, dir, 1) > 0) {
        read_and_seek(dir, "");
        char uri[700];
        snprintf(uri, sizeof uri, "log:%s", dir);
        pr_err err;
        pr_event_log *log;
        if (pr_log_open(uri, PR_LOG_WRITE, &log, &err) != PR_OK) die(uri, &err);
        pr_log_compact_opts o = {.compress = 1};
        pr_log_compact_result res;
        double t0 = pr_now();
        if (pr_log_compact(log, &o, &res, &err) != PR_OK) die("compact", &err);
        double dt = pr_now() - t0;
        pr_log_close(log);
        printf("%-34s %9.1f MB/s in  (%llu segments, %.1f MB -> %.1f MB; the bench's payloads "
               "are repetitive: real events ~3.8:1)\n",
               "compact (zstd)", (double)(res.bytes_before - res.bytes_after) / dt / 1e6 +
               (double)res.bytes_after / dt / 1e6,
               (unsigned long long)res.compressed, (double)res.bytes_before / 1e6,
               (double)res.bytes_after / 1e6);
        read_and_seek(dir, ", compressed");
        rmrf(dir);
    }

    long nb = n_records / 2;
    run_case("batch:10, 1 writer, 1/append", "fsync=batch:10", nb / 40, 1, 1, dir, 0);
    run_case("batch:10, 2 writers, 1/append", "fsync=batch:10", nb / 20, 2, 1, dir, 0);
    run_case("batch:10, 4 writers, 1/append", "fsync=batch:10", nb / 10, 4, 1, dir, 0);
    run_case("batch:10, 1 writer, 64/append", "fsync=batch:10", nb, 1, 64, dir, 0);
    run_case("batch:10, 2 writers, 64/append", "fsync=batch:10", nb, 2, 64, dir, 0);
    run_case("batch:10, 4 writers, 64/append", "fsync=batch:10", nb, 4, 64, dir, 0);
    run_case("fsync=always, 1 writer", "fsync=always", n_always, 1, 1, dir, 0);
    printf("goals (issue 10): fsync=off >= 1M records/s; batch:10 with 2 and 4 writers >= "
           "200k records/s; seek < 1 ms\n");
    return 0;
}
