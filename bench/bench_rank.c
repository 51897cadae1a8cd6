/*
 * bench_rank.c: pr_rank in process (pronto/rank.h), the ranking without
 * HTTP: latency percentiles of one request of N candidates, and where the
 * time goes (lookup, featurize, score, sort). Not run by ctest.
 *
 *   bench_rank MODEL STORE_URI [DATA_DIR] [SECONDS]
 *
 *   build/pronto demo --dir /tmp/w --days 3 --rate 0.5      # a world
 *   USERS=100000 ADS=10000 SITES=2000 \
 *   build/bench_rank /tmp/w/lr.pm mem: /tmp/w/data 10        # materialized at start
 *   build/bench_rank /tmp/w/ffm.pm 'lmdb:/tmp/w/lmdb' "" 10  # `pronto materialize`d
 *
 * The requests are bench/serve_predict.lua's, built the same way (16
 * bodies, rotating: a user, a site, a device and a position shared, N
 * random ads), so `pronto serve`'s p99 from bench_serve.sh minus this one
 * is the cost of HTTP and JSON. One thread, one session, SECONDS of
 * requests back to back (default 10) after one second of warm-up.
 * Environment: CANDIDATES (default 100), USERS, ADS, SITES (the simulator's
 * id ranges: serve_predict.lua's defaults; bench_serve.sh sets the default
 * world's 100000, 10000, 2000).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "pronto/rank.h"

static unsigned env_u(const char *name, unsigned dflt) {
    const char *v = getenv(name);
    return v && *v ? (unsigned)strtoul(v, NULL, 10) : dflt;
}

enum { N_BODIES = 16, MAX_CAND = 10000 };

typedef struct body {
    char user[16], site[16], pos[4];
    const char *device;
    pr_bytes shared[64];
    char ads[MAX_CAND][12];
    pr_bytes cand[MAX_CAND];
} body;

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_rank MODEL STORE_URI [DATA_DIR] [SECONDS]\n");
        return 2;
    }
    const char *data = argc > 3 && argv[3][0] ? argv[3] : NULL;
    double seconds = argc > 4 ? atof(argv[4]) : 10;
    unsigned n_cand = env_u("CANDIDATES", 100), n_users = env_u("USERS", 10000),
             n_ads = env_u("ADS", 2000), n_sites = env_u("SITES", 500);
    if (n_cand < 1 || n_cand > MAX_CAND) {
        fprintf(stderr, "bench_rank: CANDIDATES must be 1..%d\n", MAX_CAND);
        return 2;
    }
    pr_err err;
    pr_ranker_opts o;
    pr_ranker_opts_default(&o);
    o.store_uri = argv[2];
    o.data_dir = data;
    pr_ranker *r = NULL;
    pr_rank_session *sn = NULL;
    double t_open = pr_now();
    if (pr_ranker_open(argv[1], &o, &r, &err) != PR_OK ||
        pr_rank_session_new(r, &sn, &err) != PR_OK) {
        fprintf(stderr, "bench_rank: %s\n", err.msg);
        return 1;
    }
    t_open = pr_now() - t_open;
    uint32_t nreq = pr_ranker_n_request_columns(r);
    uint32_t c_user = pr_ranker_request_column_index(r, "user_id"),
             c_ad = pr_ranker_request_column_index(r, "ad_id"),
             c_site = pr_ranker_request_column_index(r, "site_id"),
             c_dev = pr_ranker_request_column_index(r, "device"),
             c_pos = pr_ranker_request_column_index(r, "position");
    if (nreq > 64 || c_user == UINT32_MAX || c_ad == UINT32_MAX) {
        fprintf(stderr, "bench_rank: the spec needs request columns user_id and ad_id "
                        "(specs/sim-store.yaml)\n");
        return 1;
    }
    static const char *devices[] = {"mobile", "desktop", "tablet", "ctv"};
    body *b = calloc(N_BODIES, sizeof *b);
    if (!b) return 1;
    uint64_t rng = 42;
    for (int k = 0; k < N_BODIES; k++) {
        snprintf(b[k].user, sizeof b[k].user, "%u", (unsigned)(pr_splitmix64(&rng) % n_users));
        snprintf(b[k].site, sizeof b[k].site, "%u", (unsigned)(pr_splitmix64(&rng) % n_sites));
        snprintf(b[k].pos, sizeof b[k].pos, "%u", (unsigned)(1 + pr_splitmix64(&rng) % 4));
        b[k].device = devices[pr_splitmix64(&rng) % 4];
        b[k].shared[c_user] = pr_bytes_of(b[k].user, strlen(b[k].user));
        if (c_site != UINT32_MAX) b[k].shared[c_site] = pr_bytes_of(b[k].site, strlen(b[k].site));
        if (c_dev != UINT32_MAX) b[k].shared[c_dev] = pr_bytes_of(b[k].device, strlen(b[k].device));
        if (c_pos != UINT32_MAX) b[k].shared[c_pos] = pr_bytes_of(b[k].pos, strlen(b[k].pos));
        for (unsigned i = 0; i < n_cand; i++) {
            snprintf(b[k].ads[i], sizeof b[k].ads[i], "%u", (unsigned)(pr_splitmix64(&rng) % n_ads));
            b[k].cand[i] = pr_bytes_of(b[k].ads[i], strlen(b[k].ads[i]));
        }
    }
    size_t cap = (size_t)(seconds * 200000) + 1024, n = 0;
    double *lat = malloc(cap * sizeof *lat);
    if (!lat) return 1;
    double stage[4] = {0};
    uint64_t degraded = 0;
    double t_end_warm = pr_now() + 1.0, t_end = t_end_warm + seconds;
    for (uint64_t k = 0;; k++) {
        body *q = &b[k % N_BODIES];
        pr_rank_request rq;
        pr_rank_request_default(&rq);
        rq.request = q->shared;
        rq.n_candidates = n_cand;
        rq.cand_cols = &c_ad;
        rq.n_cand_cols = 1;
        rq.cand = q->cand;
        pr_rank_result res;
        double t0 = pr_now();
        if (pr_rank(sn, &rq, &res, &err) != PR_OK) {
            fprintf(stderr, "bench_rank: %s\n", err.msg);
            return 1;
        }
        double t1 = pr_now();
        if (t1 < t_end_warm) continue;
        if (t1 > t_end || n == cap) break;
        lat[n++] = (t1 - t0) * 1e6;
        stage[0] += (double)res.lookup_ns / 1e3;
        stage[1] += (double)res.featurize_ns / 1e3;
        stage[2] += (double)res.score_ns / 1e3;
        stage[3] += (double)res.sort_ns / 1e3;
        degraded += (uint64_t)res.degraded;
    }
    if (n == 0) {
        fprintf(stderr, "bench_rank: no request finished in time\n");
        return 1;
    }
    double total = 0;
    for (size_t i = 0; i < n; i++) total += lat[i];
    qsort(lat, n, sizeof *lat, bench_cmp_double);
    bench_print_load();
    printf("pr_rank %s on %s (%s, %u candidates, 1 thread; open %.2f s)\n", argv[1], argv[2],
           pr_ranker_kind(r), n_cand, t_open);
    printf("requests %zu in %.1f s: %.0f req/s, %.0f candidates/s%s\n", n, seconds,
           (double)n / seconds, (double)n * n_cand / seconds,
           degraded ? " (some degraded: the store failed)" : "");
    printf("latency us: p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  mean %.1f\n",
           bench_pct(lat, (long)n, 0.50), bench_pct(lat, (long)n, 0.99),
           bench_pct(lat, (long)n, 0.999), lat[n - 1], total / (double)n);
    printf("stages us per request: lookup %.1f  featurize %.1f  score %.1f  sort %.1f\n",
           stage[0] / (double)n, stage[1] / (double)n, stage[2] / (double)n, stage[3] / (double)n);
    free(lat);
    free(b);
    pr_rank_session_free(sn);
    pr_ranker_close(r);
    return 0;
}
