/*
 * bench_quality.c: the cost of live quality, without a server (not run by
 * ctest).
 *
 *   build/bench_quality [REQUESTS] [CANDIDATES]
 *
 * hot path   what a predict answered 200 pays with --quality on: the
 *            request id hashed, one key per candidate, p as written, one
 *            malloc'd item (then freed here, as the quality thread would)
 * accumulator what the quality thread does per request: the prediction of
 *            every candidate, 2 impressions (one clicked) as JSON events,
 *            windows counted as the joiner labels them; requests/s on one
 *            core, and the memory it holds at the end (pending capped).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pronto/quality.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    long n_req = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;
    long n_cand = argc > 2 ? strtol(argv[2], NULL, 10) : 100;
    if (n_req < 1 || n_cand < 1 || n_cand > 100000) {
        fprintf(stderr, "usage: bench_quality [REQUESTS] [CANDIDATES]\n");
        return 2;
    }
    char (*cand)[16] = malloc((size_t)n_cand * sizeof *cand);
    double *p = malloc((size_t)n_cand * sizeof *p);
    uint64_t *keys = malloc((size_t)n_cand * sizeof *keys);
    for (long i = 0; i < n_cand; i++) {
        snprintf(cand[i], sizeof cand[i], "%ld", 1000 + i * 7);
        p[i] = 0.001 + 0.3 * (double)i / (double)n_cand;
    }
    /* hot path */
    volatile uint64_t sink = 0;
    double t0 = now();
    for (long r = 0; r < n_req; r++) {
        char rid[32];
        int k = snprintf(rid, sizeof rid, "%016llx-%ld", 0x1234567890abcdefull, r);
        size_t bytes = 200 + (size_t)n_cand * 16;
        char *item = malloc(bytes);
        uint64_t *ik = (uint64_t *)(item + 200);
        double *ip = (double *)(ik + n_cand);
        uint64_t rh = pr_quality_request_hash(pr_bytes_of(rid, (size_t)k));
        for (long i = 0; i < n_cand; i++) {
            ik[i] = pr_quality_key(rh, pr_bytes_of(cand[i], strlen(cand[i])));
            uint64_t v = (uint64_t)(p[i] * 1e12 + 0.5);
            ip[i] = (double)v / 1e12;
        }
        sink += ik[r % n_cand];
        free(item);
    }
    double hot = (now() - t0) / (double)n_req;
    /* accumulator */
    pr_quality_opts o;
    pr_quality_opts_default(&o);
    pr_quality *q;
    pr_err err;
    if (pr_quality_new(&o, &q, &err) != PR_OK) {
        fprintf(stderr, "bench_quality: %s\n", err.msg);
        return 1;
    }
    int64_t ts0 = 1704067200000LL;
    t0 = now();
    for (long r = 0; r < n_req; r++) {
        char rid[32];
        int k = snprintf(rid, sizeof rid, "r%ld", r);
        uint64_t rh = pr_quality_request_hash(pr_bytes_of(rid, (size_t)k));
        for (long i = 0; i < n_cand; i++)
            keys[i] = pr_quality_key(rh, pr_bytes_of(cand[i], strlen(cand[i])));
        int64_t ts = ts0 + r * 50; /* 20 requests/s of event time: windows close */
        pr_quality_pred pd = {ts, "v000001", "production", (uint32_t)n_cand, keys, p};
        pr_quality_add_prediction(q, &pd);
        char ev[256];
        for (int j = 0; j < 2; j++) {
            int m = snprintf(ev, sizeof ev,
                             "{\"type\":\"impression\",\"event_id\":%ld,\"impression_id\":%ld,"
                             "\"ts\":%lld,\"request_id\":\"%s\",\"ad_id\":%s,\"user_id\":7}",
                             r * 4 + j, r * 2 + j, (long long)ts + 5, rid, cand[j * 3]);
            pr_quality_add_event_json(q, ev, (size_t)m, &err);
        }
        int m = snprintf(ev, sizeof ev,
                         "{\"type\":\"click\",\"event_id\":%ld,\"impression_id\":%ld,\"ts\":%lld}",
                         r * 4 + 2, r * 2, (long long)ts + 900);
        pr_quality_add_event_json(q, ev, (size_t)m, &err);
    }
    double acc = now() - t0;
    pr_quality_stats st;
    pr_quality_stats_get(q, &st);
    printf("candidates %ld, requests %ld\n", n_cand, n_req);
    printf("hot path:    %.2f us per request (hash %ld keys, item malloc/free)\n", hot * 1e6,
           n_cand);
    printf("accumulator: %.0f requests/s (%.0f candidate predictions/s, 3 events each)\n",
           (double)n_req / acc, (double)n_req * (double)n_cand / acc);
    printf("             labeled %llu, pending %llu, evicted %llu, expired %llu\n",
           (unsigned long long)st.labeled, (unsigned long long)st.pending,
           (unsigned long long)st.evicted, (unsigned long long)st.expired);
    pr_quality_free(q);
    free(cand);
    free(p);
    free(keys);
    return sink == 42 ? 3 : 0;
}
