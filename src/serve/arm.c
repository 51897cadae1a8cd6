/*
 * arm.c: what each model served is measured by: per arm of the split (or
 * the one alias served) and for the shadow, counters bumped with relaxed
 * atomic adds by the threads that score (HTTP threads for the arms, the
 * shadow thread for the shadow) and rendered on /metrics with an `arm`
 * label (docs/api.md "GET /metrics"). Nothing without a registry: a plain
 * model file has no alias to name.
 *
 * Scores are summed as integers in units of 1e-9 (PR__NANO) so an add
 * stays one atomic instruction; a p is in [0, 1], so the sums overflow
 * only after 1.8e10 candidates.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "serve/serve_int.h"

static uint64_t ld(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }

static uint64_t nano(double p) {
    return isfinite(p) && p > 0 ? (uint64_t)llround(p * PR__NANO) : 0;
}

static void lat_add(pr__arm *a, uint64_t ns) {
    double us = (double)ns / 1000.0;
    unsigned b = 0;
    while (b < PR__LAT_BUCKETS && us > pr__lat_bounds_us[b]) b++;
    pr__metrics_add(&a->lat_bucket[b], 1);
    pr__metrics_add(&a->lat_sum_ns, ns);
    pr__metrics_add(&a->lat_count, 1);
}

void pr__arm_observe(pr__arm *a, uint64_t ns, const pr__scored *ranked, uint32_t n) {
    uint64_t sum = 0;
    for (uint32_t i = 0; i < n; i++) sum += nano(ranked[i].p);
    lat_add(a, ns);
    pr__metrics_add(&a->scores, n);
    pr__metrics_add(&a->score_sum, sum);
}

void pr__shadow_observe(pr__arm *a, uint64_t ns, const double *p, const pr__scored *ranked,
                        uint32_t n) {
    uint64_t sum = 0, diff = 0;
    for (uint32_t r = 0; r < n; r++) {
        sum += nano(p[ranked[r].candidate]);
        diff += nano(fabs(p[ranked[r].candidate] - ranked[r].p));
    }
    lat_add(a, ns);
    pr__metrics_add(&a->requests, 1);
    pr__metrics_add(&a->scores, n);
    pr__metrics_add(&a->score_sum, sum);
    pr__metrics_add(&a->diff_sum, diff);
}

static void help(pr__tb *o, const char *name, const char *type, const char *text) {
    pr__tb_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

/* One line per arm of arms[0..n): name{arm="…"} value. */
static void per_arm(pr__tb *o, const char *name, const pr__arm *arms, uint32_t n,
                    const uint64_t *(*field)(const pr__arm *)) {
    for (uint32_t i = 0; i < n; i++)
        pr__tb_printf(o, "%s{arm=\"%s\"} %llu\n", name, arms[i].alias,
                      (unsigned long long)ld(field(&arms[i])));
}

static const uint64_t *f_requests(const pr__arm *a) { return &a->requests; }
static const uint64_t *f_errors(const pr__arm *a) { return &a->errors; }
static const uint64_t *f_scores(const pr__arm *a) { return &a->scores; }
static const uint64_t *f_dropped(const pr__arm *a) { return &a->dropped; }

static void histogram(pr__tb *o, const char *name, const pr__arm *arms, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        const pr__arm *a = &arms[i];
        uint64_t cum = 0;
        for (int b = 0; b <= PR__LAT_BUCKETS; b++) {
            cum += ld(&a->lat_bucket[b]);
            if (b < PR__LAT_BUCKETS)
                pr__tb_printf(o, "%s_bucket{arm=\"%s\",le=\"%g\"} %llu\n", name, a->alias,
                              pr__lat_bounds_us[b] / 1e6, (unsigned long long)cum);
            else
                pr__tb_printf(o, "%s_bucket{arm=\"%s\",le=\"+Inf\"} %llu\n", name, a->alias,
                              (unsigned long long)cum);
        }
        pr__tb_printf(o, "%s_sum{arm=\"%s\"} %.9f\n", name, a->alias,
                      (double)ld(&a->lat_sum_ns) / 1e9);
        pr__tb_printf(o, "%s_count{arm=\"%s\"} %llu\n", name, a->alias,
                      (unsigned long long)ld(&a->lat_count));
    }
}

/* PREFIX_WHAT_sum (a counter) and PREFIX_WHAT_mean (per scored
 * candidate) of the nano-unit sum at offset `field` of each arm. */
static void sum_and_mean(pr__tb *o, const char *prefix, const char *what, size_t field,
                         const char *help_sum, const char *help_mean, const pr__arm *arms,
                         uint32_t n) {
    char name[96];
    snprintf(name, sizeof name, "%s_%s_sum", prefix, what);
    help(o, name, "counter", help_sum);
    for (uint32_t i = 0; i < n; i++)
        pr__tb_printf(o, "%s{arm=\"%s\"} %.9f\n", name, arms[i].alias,
                      (double)ld((const uint64_t *)((const char *)&arms[i] + field)) / PR__NANO);
    snprintf(name, sizeof name, "%s_%s_mean", prefix, what);
    help(o, name, "gauge", help_mean);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t k = ld(&arms[i].scores);
        double sum = (double)ld((const uint64_t *)((const char *)&arms[i] + field)) / PR__NANO;
        pr__tb_printf(o, "%s{arm=\"%s\"} %.9f\n", name, arms[i].alias, k ? sum / (double)k : 0.0);
    }
}

/* _score_sum, _score_mean (and the shadow's _abs_diff_*) of arms[0..n). */
static void scores(pr__tb *o, const char *prefix, const pr__arm *arms, uint32_t n, int diff) {
    sum_and_mean(o, prefix, "score", offsetof(pr__arm, score_sum),
                 "sum of the p scored (every candidate)",
                 "mean p scored since start (score_sum / scores_total)", arms, n);
    if (diff)
        sum_and_mean(o, prefix, "abs_diff", offsetof(pr__arm, diff_sum),
                     "sum over candidates of |shadow p - answered p|",
                     "mean |shadow p - answered p| since start", arms, n);
}

/* pronto_arm_info / pronto_shadow_info{arm,registry_version,version[,weight]} 1 */
static void info(pr__tb *o, const char *name, pr__arm *arms, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        pr__model_ref *r = pr__holder_acquire(&arms[i].holder);
        pr__tb_printf(o, "%s{arm=\"%s\",registry_version=\"%s\",version=\"%s\"", name,
                      arms[i].alias, r ? r->reg_version : "", r ? r->version : "");
        if (arms[i].weight) pr__tb_printf(o, ",weight=\"%u\"", arms[i].weight);
        pr__tb_puts(o, "} 1\n");
        pr__model_ref_release(r);
    }
}

void pr__arms_render(pr_server *s, pr__tb *o) {
    if (!s->reg) return;
    pr__arm *arms = s->arms;
    uint32_t n = s->n_arms;
    help(o, "pronto_arm_info", "gauge",
         "each arm served (value 1): its alias, registry version, model version, split weight");
    info(o, "pronto_arm_info", arms, n);
    help(o, "pronto_predict_requests_total", "counter", "predict requests routed to each arm");
    per_arm(o, "pronto_predict_requests_total", arms, n, f_requests);
    help(o, "pronto_predict_errors_total", "counter",
         "predict requests routed to each arm and not answered 200");
    per_arm(o, "pronto_predict_errors_total", arms, n, f_errors);
    help(o, "pronto_predict_duration_seconds", "histogram",
         "each arm's predict requests answered 200: from the handler's start to the reply written");
    histogram(o, "pronto_predict_duration_seconds", arms, n);
    help(o, "pronto_predict_scores_total", "counter", "candidates scored by each arm");
    per_arm(o, "pronto_predict_scores_total", arms, n, f_scores);
    scores(o, "pronto_predict", arms, n, 0);
    if (!s->shadow) return;
    help(o, "pronto_shadow_info", "gauge", "the shadow model (value 1)");
    info(o, "pronto_shadow_info", s->shadow, 1);
    help(o, "pronto_shadow_requests_total", "counter", "answered requests the shadow scored");
    per_arm(o, "pronto_shadow_requests_total", s->shadow, 1, f_requests);
    help(o, "pronto_shadow_errors_total", "counter",
         "answered requests the shadow failed to score (its featurizer refused a row)");
    per_arm(o, "pronto_shadow_errors_total", s->shadow, 1, f_errors);
    help(o, "pronto_shadow_dropped_total", "counter",
         "answered requests not scored by the shadow: its queue was full");
    per_arm(o, "pronto_shadow_dropped_total", s->shadow, 1, f_dropped);
    help(o, "pronto_shadow_handoff_seconds_total", "counter",
         "time the HTTP threads spent handing requests to the shadow (copying the body before "
         "parsing, queueing the request's arena after the answer was sent)");
    pr__tb_printf(o, "pronto_shadow_handoff_seconds_total{arm=\"%s\"} %.9f\n", s->shadow->alias,
                  (double)ld(&s->shadow->handoff_ns) / 1e9);
    help(o, "pronto_shadow_duration_seconds", "histogram",
         "the shadow's featurize and score of one request, on its own thread");
    histogram(o, "pronto_shadow_duration_seconds", s->shadow, 1);
    help(o, "pronto_shadow_scores_total", "counter", "candidates the shadow scored");
    per_arm(o, "pronto_shadow_scores_total", s->shadow, 1, f_scores);
    scores(o, "pronto_shadow", s->shadow, 1, 1);
}
