/*
 * bench_log_fill.c: writes a big event log as `pronto serve --log` would
 * have (bench/bench_serve_seed.sh measures what it costs the server to
 * start on it). N event records (impressions, JSON as the simulator writes
 * them, ids 1..N, ts spread evenly over the SPAN seconds before now) and,
 * after every event, P prediction records (~1 KiB each: what a logged
 * predict of 10 candidates looks like), appended 1000 per call with
 * fsync=off. Prints records, bytes and the time it took.
 *
 *   bench_log_fill DIR N [SPAN_S (86400)] [P (0)]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pronto/log.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_log_fill DIR N [SPAN_S] [P]\n");
        return 2;
    }
    char *end;
    long long n = strtoll(argv[2], &end, 10);
    long long span = argc > 3 ? strtoll(argv[3], &end, 10) : 86400;
    long preds = argc > 4 ? strtol(argv[4], &end, 10) : 0;
    if (n < 1 || span < 1 || preds < 0 || preds > 100) {
        fprintf(stderr, "bench_log_fill: N >= 1, SPAN_S >= 1, 0 <= P <= 100\n");
        return 2;
    }
    char uri[4200];
    snprintf(uri, sizeof uri, "log:%s?fsync=off", argv[1]);
    pr_err err;
    pr_event_log *log;
    if (pr_log_open(uri, PR_LOG_WRITE, &log, &err) != PR_OK) {
        fprintf(stderr, "bench_log_fill: %s\n", err.msg);
        return 1;
    }
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    int64_t now = (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000, t0 = now - span * 1000;
    enum { CHUNK = 1000 };
    static char buf[CHUNK][1400];
    pr_log_entry e[CHUNK];
    uint32_t k = 0;
    double start = pr_now();
    uint64_t bytes = 0, recs = 0;
    char pred[1200];
    int pl = snprintf(pred, sizeof pred, "{\"request_id\":\"0123456789abcdef-1\",\"ts\":0,"
                                         "\"model_version\":\"0123456789abcdef\",\"request\":{"
                                         "\"user_id\":\"17\",\"site_id\":\"3\"},\"predictions\":[");
    for (int c = 0; c < 10; c++)
        pl += snprintf(pred + pl, sizeof pred - (size_t)pl, "%s{\"ad_id\":%d,\"p\":0.0%d4626089949}",
                       c ? "," : "", 1000 + c, c);
    pl += snprintf(pred + pl, sizeof pred - (size_t)pl, "]}");
    for (long long i = 1; i <= n; i++) {
        int64_t ts = t0 + (int64_t)((double)span * 1000.0 * (double)i / (double)n);
        for (int p = -1; p < preds; p++) {
            if (k == CHUNK) {
                if (pr_log_append(log, e, k, NULL, &err) != PR_OK) goto fail;
                recs += k;
                k = 0;
            }
            if (p < 0) {
                int len = snprintf(buf[k], sizeof buf[k],
                                   "{\"type\":\"impression\",\"event_id\":%lld,"
                                   "\"impression_id\":%lld,\"ts\":%" PRId64 ",\"user_id\":%lld,"
                                   "\"ad_id\":%lld,\"site_id\":%lld,\"device\":\"mobile\","
                                   "\"position\":1}",
                                   i, i, ts, i % 100000, i % 10000, i % 2000);
                e[k] = (pr_log_entry){PR_LOG_TYPE_EVENT, ts, pr_bytes_of(buf[k], (size_t)len)};
            } else {
                e[k] = (pr_log_entry){PR_LOG_TYPE_PREDICTION, ts, pr_bytes_of(pred, (size_t)pl)};
            }
            bytes += e[k].payload.len + 24;
            k++;
        }
    }
    if (k) {
        if (pr_log_append(log, e, k, NULL, &err) != PR_OK) goto fail;
        recs += k;
    }
    pr_log_close(log);
    printf("bench_log_fill: %" PRIu64 " records (%lld events), %.1f MB in %.1f s\n", recs, n,
           (double)bytes / 1e6, pr_now() - start);
    return 0;
fail:
    fprintf(stderr, "bench_log_fill: %s\n", err.msg);
    pr_log_close(log);
    return 1;
}
