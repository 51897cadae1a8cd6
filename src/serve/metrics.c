/*
 * metrics.c: the server's counters and GET /metrics in the Prometheus text
 * exposition format (version 0.0.4). Names and labels: docs/api.md.
 *
 * Every counter is a uint64 in pr__metrics bumped with a relaxed atomic
 * add, so recording costs a few nanoseconds and never blocks; a scrape
 * reads each counter atomically (the set is not one snapshot, which
 * Prometheus does not need). Latency histograms have fixed bucket bounds
 * (pr__lat_bounds_us), cumulative as the format requires.
 */
#include <string.h>

#include "serve/serve_int.h"

const double pr__lat_bounds_us[PR__LAT_BUCKETS] = {25,   50,   100,  200,   300,   500,   750,
                                                   1000, 2000, 5000, 10000, 50000, 100000, 1000000};

static const char *const route_names[PR__ROUTE_COUNT] = {
    "predict", "events", "model", "healthz", "readyz", "metrics", "admin_reload", "admin_retrain",
    "monitor", "dashboard", "other"};

#define PR__CODE_VALUE(c) c,
static const unsigned codes[PR__N_CODES - 1] = {PR__STATUS_CODES(PR__CODE_VALUE)};

static const char *const stage_names[PR__STAGE_COUNT] = {"parse", "lookup", "featurize", "score",
                                                        "serialize"};

static uint64_t ld(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static int64_t ldi(const int64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }

void pr__metrics_request(pr__metrics *m, pr__route r, unsigned status, uint64_t ns) {
    unsigned slot = PR__N_CODES - 1;
    for (unsigned i = 0; i < PR__N_CODES - 1; i++)
        if (codes[i] == status) slot = i;
    pr__metrics_add(&m->requests[r][slot], 1);
    double us = (double)ns / 1000.0;
    unsigned b = 0;
    while (b < PR__LAT_BUCKETS && us > pr__lat_bounds_us[b]) b++;
    pr__metrics_add(&m->lat_bucket[r][b], 1);
    pr__metrics_add(&m->lat_sum_ns[r], ns);
    pr__metrics_add(&m->lat_count[r], 1);
}

static void help(pr__tb *o, const char *name, const char *type, const char *text) {
    pr__tb_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

static void counter(pr__tb *o, const char *name, const char *text, uint64_t v) {
    help(o, name, "counter", text);
    pr__tb_printf(o, "%s %llu\n", name, (unsigned long long)v);
}

static void gauge(pr__tb *o, const char *name, const char *text, double v) {
    help(o, name, "gauge", text);
    pr__tb_printf(o, "%s %.17g\n", name, v);
}

static void http_metrics(const pr__metrics *m, pr__tb *o) {
    help(o, "pronto_http_requests_total", "counter", "HTTP requests answered, by route and status");
    for (int r = 0; r < PR__ROUTE_COUNT; r++)
        for (int c = 0; c < PR__N_CODES; c++) {
            uint64_t v = ld(&m->requests[r][c]);
            if (!v) continue;
            if (c < PR__N_CODES - 1)
                pr__tb_printf(o, "pronto_http_requests_total{route=\"%s\",code=\"%u\"} %llu\n",
                              route_names[r], codes[c], (unsigned long long)v);
            else
                pr__tb_printf(o, "pronto_http_requests_total{route=\"%s\",code=\"other\"} %llu\n",
                              route_names[r], (unsigned long long)v);
        }
    help(o, "pronto_http_request_duration_seconds", "histogram",
         "time from the request's headers to its reply being queued");
    for (int r = 0; r < PR__ROUTE_COUNT; r++) {
        uint64_t n = ld(&m->lat_count[r]), cum = 0;
        if (!n) continue;
        for (int b = 0; b <= PR__LAT_BUCKETS; b++) {
            cum += ld(&m->lat_bucket[r][b]);
            if (b < PR__LAT_BUCKETS)
                pr__tb_printf(o,
                              "pronto_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} "
                              "%llu\n",
                              route_names[r], pr__lat_bounds_us[b] / 1e6, (unsigned long long)cum);
            else
                pr__tb_printf(o,
                              "pronto_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} "
                              "%llu\n",
                              route_names[r], (unsigned long long)cum);
        }
        pr__tb_printf(o, "pronto_http_request_duration_seconds_sum{route=\"%s\"} %.9f\n",
                      route_names[r], (double)ld(&m->lat_sum_ns[r]) / 1e9);
        pr__tb_printf(o, "pronto_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                      route_names[r], (unsigned long long)n);
    }
    gauge(o, "pronto_http_connections_open", "open client connections",
          (double)ldi(&m->connections_open));
    gauge(o, "pronto_http_requests_in_flight", "requests begun and not yet completed",
          (double)ldi(&m->in_flight));
    counter(o, "pronto_http_overload_rejected_total",
            "requests answered 503 at once because too many connections were open",
            ld(&m->overload_rejected));
    gauge(o, "pronto_http_body_bytes", "request-body memory held (--max-body-memory)",
          (double)ldi(&m->body_bytes));
    counter(o, "pronto_http_body_memory_rejected_total",
            "requests answered 503 because request bodies held --max-body-memory",
            ld(&m->body_budget_rejected));
    counter(o, "pronto_http_framing_rejected_total",
            "requests answered 400 for ambiguous framing or a missing Host",
            ld(&m->framing_rejected));
    help(o, "pronto_http_timeouts_total", "counter", "connections cut by the reaper");
    pr__tb_printf(o, "pronto_http_timeouts_total{phase=\"headers\"} %llu\n",
                  (unsigned long long)ld(&m->header_timeouts));
    pr__tb_printf(o, "pronto_http_timeouts_total{phase=\"body\"} %llu\n",
                  (unsigned long long)ld(&m->body_timeouts));
    pr__tb_printf(o, "pronto_http_timeouts_total{phase=\"idle\"} %llu\n",
                  (unsigned long long)ld(&m->idle_timeouts));
}

static void predict_metrics(const pr__metrics *m, pr__tb *o) {
    counter(o, "pronto_predictions_total", "predict requests answered 200", ld(&m->predictions));
    counter(o, "pronto_candidates_scored_total", "candidates scored by predict requests",
            ld(&m->candidates));
    counter(o, "pronto_predict_degraded_total",
            "predict requests answered with default features because the store failed",
            ld(&m->degraded));
    help(o, "pronto_predict_stage_seconds_total", "counter",
         "time spent in each stage of the predict requests answered 200");
    for (int k = 0; k < PR__STAGE_COUNT; k++)
        pr__tb_printf(o, "pronto_predict_stage_seconds_total{stage=\"%s\"} %.9f\n", stage_names[k],
                      (double)ld(&m->stage_ns[k]) / 1e9);
    help(o, "pronto_events_total", "counter", "posted events, by what became of them");
    pr__tb_printf(o, "pronto_events_total{result=\"applied\"} %llu\n",
                  (unsigned long long)ld(&m->events_applied));
    pr__tb_printf(o, "pronto_events_total{result=\"duplicate\"} %llu\n",
                  (unsigned long long)ld(&m->events_duplicate));
    pr__tb_printf(o, "pronto_events_total{result=\"rejected\"} %llu\n",
                  (unsigned long long)ld(&m->events_rejected));
    pr__tb_printf(o, "pronto_events_total{result=\"failed\"} %llu\n",
                  (unsigned long long)ld(&m->events_failed));
    counter(o, "pronto_events_late_total",
            "applied events that some aggregate dropped as older than its window",
            ld(&m->events_late));
}

void pr__metrics_render(const pr_server *cs, pr__tb *o) {
    pr_server *s = (pr_server *)cs; /* the holder and worker list take locks */
    const pr__metrics *m = &s->metrics;
    http_metrics(m, o);
    predict_metrics(m, o);

    pr__model_ref *r = pr__holder_acquire(pr__main_holder(s));
    help(o, "pronto_model_info", "gauge", "the model being served (value 1)");
    pr__tb_printf(o,
                  "pronto_model_info{version=\"%s\",kind=\"%s\",fingerprint=\"%016llx\"} 1\n",
                  r->version, r->kind, (unsigned long long)r->fingerprint);
    gauge(o, "pronto_model_loaded_timestamp_seconds", "when the model being served was loaded",
          (double)r->loaded_at);
    gauge(o, "pronto_model_load_duration_seconds", "how long loading and verifying it took",
          r->load_seconds);
    gauge(o, "pronto_model_generation", "models loaded since start (1 = the first)",
          (double)r->generation);
    pr__model_ref_release(r);
    help(o, "pronto_model_reloads_total", "counter", "reload attempts, by result");
    pr__tb_printf(o, "pronto_model_reloads_total{result=\"ok\"} %llu\n",
                  (unsigned long long)ld(&m->reloads_ok));
    pr__tb_printf(o, "pronto_model_reloads_total{result=\"refused\"} %llu\n",
                  (unsigned long long)ld(&m->reloads_refused));

    pr_store_stats c;
    pr_store_stats_get(s->store, &c);
    if (s->is_redis) {
        pr__workers_store_stats(s, &c);
        pr_store_stats in; /* the ingester's own connection */
        pr_store_stats_get(s->ingest.own_store, &in);
        c.gets += in.gets;
        c.hits += in.hits;
        c.puts += in.puts;
        c.failures += in.failures;
        c.reconnects += in.reconnects;
    }
    counter(o, "pronto_store_errors_total",
            "predict lookups that failed in the store (answered with defaults)",
            ld(&m->store_errors));
    counter(o, "pronto_store_gets_total", "rows asked of the store", c.gets);
    counter(o, "pronto_store_hits_total", "rows found alive", c.hits);
    counter(o, "pronto_store_puts_total", "rows written", c.puts);
    counter(o, "pronto_store_failures_total", "store calls that failed in the backend", c.failures);
    counter(o, "pronto_store_reconnects_total", "redis connections re-established", c.reconnects);
    pr__arms_render(s, o);
    pr__jobs_render(s, o);
    pr__elog_render(s, o);
    pr__quality_render(s, o);
    pr__monitor_render(s, o);
    gauge(o, "pronto_store_empty",
          "1 while the store lacks its materialize sentinel (empty or wiped)",
          (double)pr__store_empty(s));
    gauge(o, "pronto_start_timestamp_seconds", "when the server started", (double)s->started_at);
}
