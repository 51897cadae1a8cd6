/*
 * bench_log_redis.c: the event log's redis-stream: backend (pronto/log.h)
 * next to redis-benchmark on the same server. Starts its own redis-server
 * on 127.0.0.1 (no persistence, or --aof: appendonly yes + appendfsync
 * always; automatic AOF rewrites off), then prints records/s and MB/s for:
 *   1 writer, 1 record per append (one XADD round trip each)
 *   1 writer, 64 records per append (MULTI, 64 XADD, EXEC in one pipeline)
 *   4 writers (4 log handles: 4 servers appending to one stream), 1 and 64
 *   4 threads sharing one handle (a server's threads), 1 and 64
 *   reading it back: a plain reader (XRANGE batches of 1000) and a
 *   consumer group (XREADGROUP batches, a commit every 1000 records)
 * and, alternating with the one-writer cases, redis-benchmark on the same
 * server:
 *   redis-benchmark -h 127.0.0.1 -p PORT -c 1 -q -n N -P 1  XADD rb '*' t 1 ts 1 p PAYLOAD
 *   redis-benchmark -h 127.0.0.1 -p PORT -c 1 -q -n N -P 64 XADD rb '*' t 1 ts 1 p PAYLOAD
 * (one connection, -c 1, same payload size) for the same figures without
 * pronto in between.
 *
 *   bench_log_redis [--records N (200000)] [--bytes B (200)] [--rounds R (3)]
 *                   [--aof]
 *
 * The one-writer cases and redis-benchmark's alternate for R rounds, and
 * the best rate of each is compared.
 *
 * The server's folder is a fresh temporary one under /tmp, removed at the
 * end. The load average is printed first (the machine may be shared).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../tests/store_redis_server.h"
#include "bench_common.h"
#include "pronto/log.h"

static long n_records = 200000, n_bytes = 200;
static int aof, n_rounds = 3;
static char payload[4096];
static char base_uri[200];
static redis_child srv;

static void die(const char *what, const pr_err *err) {
    fprintf(stderr, "bench_log_redis: %s: %s\n", what, err ? err->msg : "");
    redis_child_stop(&srv, SIGKILL);
    exit(1);
}

typedef struct job {
    pr_event_log *shared;  /* NULL: the job opens its own handle */
    const char *key;
    long n;
    int per_append;
} job;

static void *run_job(void *p) {
    job *j = p;
    pr_err err;
    pr_event_log *log = j->shared;
    char uri[300];
    snprintf(uri, sizeof uri, "%s/%s?timeout_ms=5000", base_uri, j->key);
    if (!log && pr_log_open(uri, PR_LOG_WRITE, &log, &err) != PR_OK) die(uri, &err);
    pr_log_entry e[64];
    for (long i = 0; i < j->n; i += j->per_append) {
        int k = j->per_append;
        if (i + k > j->n) k = (int)(j->n - i);
        for (int q = 0; q < k; q++)
            e[q] = (pr_log_entry){1, i + q, pr_bytes_of(payload + ((i + q) & 63), (size_t)n_bytes)};
        if (pr_log_append(log, e, (uint32_t)k, NULL, &err) != PR_OK) die("append", &err);
    }
    if (!j->shared) pr_log_close(log);
    return NULL;
}

/* Returns records/s. */
static double run_case(const char *name, const char *key, long n, int threads, int per_append,
                       int one_handle) {
    pthread_t th[8];
    job jobs[8];
    pr_event_log *shared = NULL;
    pr_err err;
    char uri[300];
    snprintf(uri, sizeof uri, "%s/%s?timeout_ms=5000", base_uri, key);
    if (one_handle && pr_log_open(uri, PR_LOG_WRITE, &shared, &err) != PR_OK) die(uri, &err);
    double t0 = pr_now();
    for (int t = 0; t < threads; t++) {
        jobs[t] = (job){shared, key, n / threads, per_append};
        pthread_create(&th[t], NULL, run_job, &jobs[t]);
    }
    for (int t = 0; t < threads; t++) pthread_join(th[t], NULL);
    double dt = pr_now() - t0;
    pr_log_close(shared);
    double recs = (double)(n / threads * threads);
    printf("%-36s %9.0f records/s %7.1f MB/s  (%.0f records, %d writer%s, %.2f s)\n", name, recs / dt,
           recs * (double)n_bytes / dt / 1e6, recs, threads, threads > 1 ? "s" : "", dt);
    return recs / dt;
}

static void read_case(const char *name, const char *key, const char *consumer, long want) {
    pr_err err;
    pr_event_log *log;
    pr_log_reader *r;
    pr_log_record rec;
    char uri[300];
    snprintf(uri, sizeof uri, "%s/%s?timeout_ms=5000", base_uri, key);
    if (pr_log_open(uri, PR_LOG_READ, &log, &err) != PR_OK) die(uri, &err);
    pr_log_start st = {.kind = consumer ? PR_LOG_CONSUMER : PR_LOG_FROM_START, .consumer = consumer};
    double t0 = pr_now();
    if (pr_log_reader_open(log, &st, &r, &err) != PR_OK) die("reader", &err);
    long got = 0;
    uint64_t sum = 0;
    pr_status s;
    while ((s = pr_log_next(r, &rec, &err)) == PR_OK) {
        got++;
        sum += rec.payload.len;
        if (consumer && got % 1000 == 0 && pr_log_commit(r, rec.pos, NULL, &err) != PR_OK)
            die("commit", &err);
    }
    if (s != PR_EOF) die("read", &err);
    if (consumer && got % 1000 && pr_log_commit(r, rec.pos, NULL, &err) != PR_OK) die("commit", &err);
    double dt = pr_now() - t0;
    pr_log_reader_close(r);
    pr_log_close(log);
    printf("%-36s %9.0f records/s %7.1f MB/s  (%ld records)\n", name, (double)got / dt,
           (double)sum / dt / 1e6, got);
    if (got != want) die("read back: wrong count", NULL);
}

/* Returns its requests per second (0 if it failed). */
static double redis_benchmark(int pipeline, long n) {
    char cmd[6000], line[512] = "";
    snprintf(cmd, sizeof cmd,
             "redis-benchmark -h 127.0.0.1 -p %d -c 1 -q -n %ld -P %d XADD rb '*' t 1 ts 1 p '%.*s' "
             "2>/dev/null | tr '\\r' '\\n' | grep -v '^$' | tail -1 | sed 's/^.*: //'",
             srv.port, n, pipeline, (int)n_bytes, payload);
    FILE *f = popen(cmd, "r");
    if (f) {
        if (!fgets(line, sizeof line, f)) line[0] = 0;
        pclose(f);
    }
    line[strcspn(line, "\n")] = 0;
    printf("  redis-benchmark -c 1 -P %-2d XADD   %s (%ld requests)\n", pipeline,
           line[0] ? line : "(failed or missing)", n);
    return strtod(line, NULL);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "--aof")) {
            aof = 1;
            continue;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        long x = v ? strtol(v, &end, 10) : 0;
        if (!v || end == v || *end) {
            fprintf(stderr, "bench_log_redis: %s wants a number\n", f);
            return 2;
        }
        if (!strcmp(f, "--records")) n_records = x;
        else if (!strcmp(f, "--bytes")) n_bytes = x;
        else if (!strcmp(f, "--rounds") && x >= 1 && x <= 100) n_rounds = (int)x;
        else {
            fprintf(stderr, "bench_log_redis: unknown flag %s\n", f);
            return 2;
        }
        i++;
    }
    if (n_records < 1000 || n_bytes < 1 || n_bytes > 2048) {
        fprintf(stderr, "bench_log_redis: --records >= 1000, --bytes 1..2048\n");
        return 2;
    }
    for (size_t i = 0; i < sizeof payload; i++) payload[i] = (char)('a' + (i * 7) % 26);
    char dir[] = "/tmp/bench-log-redis-XXXXXX", why[512];
    if (!mkdtemp(dir)) die("mkdtemp", NULL);
    snprintf(srv.dir, sizeof srv.dir, "%s", dir);
    snprintf(srv.sock, sizeof srv.sock, "%s/redis.sock", dir);
    srv.port = redis_free_port();
    srv.aof = aof;
    if (redis_child_start(&srv, why, sizeof why) != 0) {
        fprintf(stderr, "bench_log_redis: %s\n", why);
        return 1;
    }
    snprintf(base_uri, sizeof base_uri, "redis-stream:127.0.0.1:%d", srv.port);
    /* No AOF rewrite in the middle of a case (its fork and its own writes
     * would slow whichever case it fell on). */
    redisContext *ctx = redisConnectUnix(srv.sock);
    if (ctx && !ctx->err) {
        redisReply *r = redisCommand(ctx, "CONFIG SET auto-aof-rewrite-percentage 0");
        if (r) freeReplyObject(r);
    }
    if (ctx) redisFree(ctx);
    bench_print_load();
    printf("redis-server on 127.0.0.1:%d, %s; payload %ld bytes\n", srv.port,
           aof ? "appendonly yes, appendfsync always" : "no persistence", n_bytes);

    /* The one-connection cases alternate with redis-benchmark's, round by
     * round: on a shared machine (and disk, under --aof) the rate drifts. */
    long n1 = aof ? n_records / 20 : n_records / 4;
    double best[4] = {0, 0, 0, 0};
    for (int round = 1; round <= n_rounds; round++) {
        printf("round %d\n", round);
        char key[32];
        snprintf(key, sizeof key, "s1-%d", round);
        double v = run_case("  1 writer, 1 per append", key, n1, 1, 1, 0);
        if (v > best[0]) best[0] = v;
        v = redis_benchmark(1, n1);
        if (v > best[1]) best[1] = v;
        snprintf(key, sizeof key, "s64-%d", round);
        v = run_case("  1 writer, 64 per append", key, n_records, 1, 64, 0);
        if (v > best[2]) best[2] = v;
        v = redis_benchmark(64, n_records);
        if (v > best[3]) best[3] = v;
    }
    printf("best of %d: 1 per append %.0f/s vs redis-benchmark -P 1 %.0f/s (%.2fx); 64 per append "
           "%.0f/s vs -P 64 %.0f/s (%.2fx)\n",
           n_rounds, best[0], best[1], best[1] > 0 ? best[0] / best[1] : 0, best[2], best[3],
           best[3] > 0 ? best[2] / best[3] : 0);
    run_case("4 writers, 1 per append", "s4x1", n1, 4, 1, 0);
    run_case("4 writers, 64 per append", "s4x64", n_records, 4, 64, 0);
    run_case("4 threads, one handle, 1 per append", "s4h1", n1, 4, 1, 1);
    run_case("4 threads, one handle, 64 per append", "s4h64", n_records, 4, 64, 1);
    read_case("read back (XRANGE)", "s64-1", NULL, n_records);
    read_case("consumer group (commit/1000)", "s64-1", "bench", n_records);

    redis_child_stop(&srv, SIGTERM);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "bench_log_redis: cannot remove %s\n", dir);
    return 0;
}
