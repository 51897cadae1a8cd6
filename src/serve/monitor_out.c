/*
 * monitor_out.c: what the monitor shows: GET /v1/monitor (one JSON
 * document: the clock, per arm its model version, whether drift is on,
 * the latest closed 1m / 5m / 1h windows with traffic, latency,
 * prediction mean, observed CTR and quality from quality.c, drift per
 * field sorted worst first, per arm the last PR__MON_HIST closed minutes
 * and live quality's closed 1m windows (the dashboard's charts), the
 * rules, the alert instances and the latest transitions) and its /metrics
 * lines (pronto_drift, pronto_alert, the webhook's counters). Shapes and
 * names: docs/api.md.
 *
 * Everything is copied under mon.mu (the monitor thread publishes under
 * it once per closed minute); quality samples and alert instances are
 * read through their own locks first, never with mon.mu held.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/monitor_int.h"

/* A Prometheus label value, escaped as the text format requires. */
static void label(pr__tb *o, const char *v) {
    for (; *v; v++) {
        if (*v == '\\' || *v == '"') pr__tb_put(o, "\\", 1);
        if (*v == '\n') pr__tb_puts(o, "\\n");
        else pr__tb_put(o, v, 1);
    }
}

static void jstr(pr__tb *o, const char *s) { pr__tb_json_str(o, s, strlen(s)); }

/* ,"key":number (null when not finite) */
static void jnum(pr__tb *o, const char *key, double x) {
    pr__tb_printf(o, ",\"%s\":", key);
    pr__tb_json_num(o, x);
}

static const char *arm_label(const pr_server *s, const pr__mon_arm *ma) {
    return s->reg ? ma->arm->alias : "";
}

/* The quality samples (copied): q, n; caller frees q. */
static size_t quality_copy(pr_server *s, pr_quality_sample **q) {
    size_t cap = 256, n;
    *q = malloc(cap * sizeof **q);
    if (!*q) return 0;
    n = pr__quality_snapshot(s, *q, cap);
    if (n > cap) {
        pr_quality_sample *b = realloc(*q, n * sizeof *b);
        if (!b) return cap;
        *q = b;
        cap = n;
        n = pr__quality_snapshot(s, *q, cap);
        if (n > cap) n = cap;
    }
    return n;
}

static const pr_quality_sample *quality_find(const pr_quality_sample *q, size_t n,
                                             const char *metric, const char *arm,
                                             const char *version, const char *window) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(q[i].metric, metric) && !strcmp(q[i].arm, arm) &&
            !strcmp(q[i].version, version) && !strcmp(q[i].window, window))
            return &q[i];
    return NULL;
}

/* Copies src into dst[cap], cut at a UTF-8 character boundary. */
static void copy_cut(char *dst, size_t cap, const char *src) {
    size_t n = strlen(src);
    if (n >= cap) {
        n = cap - 1;
        while (n && ((unsigned char)src[n] & 0xC0) == 0x80) n--; /* a continuation byte */
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void pr__mon_hist_push(pr__mon *M, pr__mon_arm *ma) {
    const pr__mon_res *r = &ma->res[PR__MON_W1M];
    pthread_mutex_lock(&M->mu);
    pr__mon_point *pt = &ma->hist[ma->hist_n % PR__MON_HIST];
    pt->start_ms = r->start_ms;
    pt->rps = r->rps;
    pt->p50_us = r->p50_us;
    pt->p99_us = r->p99_us;
    pt->pred_mean = r->pred_mean;
    pt->requests = r->sums.requests;
    pt->rows = r->sums.rows;
    pt->drift_top = r->n_fd ? r->fd[0].score : NAN; /* fd sorted worst first */
    copy_cut(pt->drift_field, sizeof pt->drift_field, r->n_fd ? r->fd[0].field : "");
    copy_cut(pt->version, sizeof pt->version, ma->version);
    ma->hist_n++;
    pthread_mutex_unlock(&M->mu);
}

void pr__mon_note_transition(pr__mon *M, const pr_alert_transition *t) {
    pthread_mutex_lock(&M->mu);
    pr__mon_trans *x = &M->trans[M->n_trans % PR__MON_TRANS];
    copy_cut(x->name, sizeof x->name, t->rule->name);
    copy_cut(x->field, sizeof x->field, t->field);
    copy_cut(x->arm, sizeof x->arm, t->arm);
    copy_cut(x->version, sizeof x->version, t->version);
    x->from = t->from;
    x->to = t->to;
    x->value = t->value;
    x->at_ms = t->at_ms;
    x->stale = t->stale;
    M->n_trans++;
    pthread_mutex_unlock(&M->mu);
}

static void put_drift(pr__tb *o, const pr__mon_fd *f) {
    static const struct {
        uint32_t bit;
        const char *name;
    } stats[] = {{PR_DRIFT_PSI, "psi"},
                 {PR_DRIFT_JS, "js"},
                 {PR_DRIFT_KS, "ks"},
                 {PR_DRIFT_WASSERSTEIN, "wasserstein"},
                 {PR_DRIFT_CHI2_P, "chi2_p"},
                 {PR_DRIFT_MISSING_DELTA, "missing_delta"},
                 {PR_DRIFT_UNSEEN_SHARE, "unseen_share"},
                 {PR_DRIFT_MEAN_SHIFT, "mean_shift"}};
    const double v[] = {f->d.psi,          f->d.js,           f->d.ks,
                        f->d.wasserstein,  f->d.chi2_p,       f->d.missing_delta,
                        f->d.unseen_share, f->d.mean_shift};
    pr__tb_puts(o, "{\"field\":");
    jstr(o, f->field);
    jnum(o, "score", f->score);
    pr__tb_printf(o, ",\"n\":%llu,\"n_present\":%llu", (unsigned long long)f->d.n,
                  (unsigned long long)f->d.n_present);
    for (size_t i = 0; i < sizeof stats / sizeof stats[0]; i++)
        if (f->d.has & stats[i].bit) jnum(o, stats[i].name, v[i]);
    pr__tb_puts(o, "}");
}

static void put_window(pr__tb *o, const pr_server *s, const pr__mon_arm *ma, int w,
                       const pr_quality_sample *q, size_t nq) {
    const pr__mon_res *r = &ma->res[w];
    if (!r->valid) {
        pr__tb_puts(o, "null");
        return;
    }
    pr__tb_printf(o, "{\"start_ms\":%lld,\"end_ms\":%lld,\"requests\":%llu", (long long)r->start_ms,
                  (long long)r->end_ms, (unsigned long long)r->sums.requests);
    jnum(o, "requests_per_s", r->rps);
    jnum(o, "latency_p50_us", r->p50_us);
    jnum(o, "latency_p99_us", r->p99_us);
    pr__tb_printf(o, ",\"rows_profiled\":%llu", (unsigned long long)r->sums.rows);
    jnum(o, "prediction_mean", r->pred_mean);
    const char *arm = arm_label(s, ma), *win = pr__mon_win_names[w];
    const pr_quality_sample *ctr = quality_find(q, nq, "ctr", arm, ma->version, win);
    jnum(o, "observed_ctr", ctr ? ctr->value : NAN);
    pr__tb_puts(o, ",\"quality\":");
    static const char *const qm[] = {"n_labeled", "ctr", "mean_p", "logloss", "ne",
                                     "calibration", "auc", "auc_err"};
    int any = 0;
    for (size_t i = 0; i < sizeof qm / sizeof qm[0]; i++) {
        const pr_quality_sample *x = quality_find(q, nq, qm[i], arm, ma->version, win);
        if (!x) continue;
        if (!any) pr__tb_printf(o, "{\"window_start_ms\":%lld", (long long)x->start_ms);
        any = 1;
        jnum(o, qm[i], x->value);
    }
    pr__tb_puts(o, any ? "}" : "null");
    pr__tb_puts(o, ",\"drift\":[");
    for (uint32_t i = 0; i < r->n_fd; i++) {
        if (i) pr__tb_put(o, ",", 1);
        put_drift(o, &r->fd[i]);
    }
    pr__tb_puts(o, "]}");
}

/* The arm's live-quality series (one per version), closed 1m windows
 * oldest first: "quality_history":[{"version","points":[...]}]. */
static void put_quality_history(pr__tb *o, const pr_server *s, const pr__mon_arm *ma,
                                const pr__qhist *qh, size_t nh) {
    const char *arm = arm_label(s, ma);
    pr__tb_puts(o, ",\"quality_history\":[");
    int series = 0;
    for (size_t i = 0; i < nh;) {
        size_t j = i; /* [i, j): one series (windows come by series, then start) */
        while (j < nh && !strcmp(qh[j].version, qh[i].version) && !strcmp(qh[j].arm, qh[i].arm))
            j++;
        if (!strcmp(qh[i].arm, arm)) {
            pr__tb_puts(o, series++ ? ",{\"version\":" : "{\"version\":");
            jstr(o, qh[i].version);
            pr__tb_puts(o, ",\"points\":[");
            for (size_t k = i; k < j; k++) {
                const pr_quality_window *w = &qh[k].w;
                pr__tb_printf(o, "%s{\"start_ms\":%lld,\"n_labeled\":%llu,\"clicks\":%llu",
                              k > i ? "," : "", (long long)w->start_ms, (unsigned long long)w->n,
                              (unsigned long long)w->clicks);
                jnum(o, "ctr", w->ctr);
                jnum(o, "mean_p", w->mean_p);
                jnum(o, "logloss", w->logloss);
                jnum(o, "ne", w->ne);
                jnum(o, "calibration", w->calibration);
                jnum(o, "auc", w->auc);
                pr__tb_puts(o, "}");
            }
            pr__tb_puts(o, "]}");
        }
        i = j;
    }
    pr__tb_puts(o, "]");
}

static void put_arm(pr__tb *o, const pr_server *s, const pr__mon_arm *ma,
                    const pr_quality_sample *q, size_t nq,
                    const pr__qhist *qh, size_t nh) {
    pr__tb_puts(o, "{\"arm\":");
    jstr(o, arm_label(s, ma));
    if (ma->arm->weight) pr__tb_printf(o, ",\"weight\":%u", ma->arm->weight);
    pr__tb_puts(o, ",\"version\":");
    jstr(o, ma->version);
    pr__tb_printf(o, ",\"model_version\":\"%s\",\"generation\":%llu",
                  ma->model_version, (unsigned long long)ma->gen);
    pr__tb_printf(o, ",\"drift\":%s,\"drift_off_reason\":", ma->prof ? "true" : "false");
    if (ma->prof) pr__tb_puts(o, "null");
    else jstr(o, ma->why_off);
    pr__tb_printf(o, ",\"profiled_columns\":%u,\"windows\":{", ma->n_cols);
    for (int w = 0; w < PR__MON_NWIN; w++) {
        pr__tb_printf(o, "%s\"%s\":", w ? "," : "", pr__mon_win_names[w]);
        put_window(o, s, ma, w, q, nq);
    }
    pr__tb_puts(o, "},\"history\":[");
    uint32_t n = ma->hist_n < PR__MON_HIST ? ma->hist_n : PR__MON_HIST;
    for (uint32_t i = 0; i < n; i++) {
        const pr__mon_point *p = &ma->hist[(ma->hist_n - n + i) % PR__MON_HIST];
        pr__tb_printf(o, "%s{\"start_ms\":%lld,\"version\":", i ? "," : "",
                      (long long)p->start_ms);
        jstr(o, p->version);
        pr__tb_printf(o, ",\"requests\":%llu", (unsigned long long)p->requests);
        jnum(o, "requests_per_s", p->rps);
        jnum(o, "latency_p50_us", p->p50_us);
        jnum(o, "latency_p99_us", p->p99_us);
        jnum(o, "prediction_mean", p->pred_mean);
        pr__tb_printf(o, ",\"rows_profiled\":%llu", (unsigned long long)p->rows);
        jnum(o, "drift_top_score", p->drift_top);
        pr__tb_puts(o, ",\"drift_top_field\":");
        if (isfinite(p->drift_top)) jstr(o, p->drift_field);
        else pr__tb_puts(o, "null");
        pr__tb_puts(o, "}");
    }
    pr__tb_puts(o, "]");
    put_quality_history(o, s, ma, qh, nh);
    pr__tb_puts(o, "}");
}

/* ,"list":[the rules, in order] */
static void put_rules(pr__tb *o, pr__mon *M) {
    const pr_alert_rules *rs = M->alerts ? pr_alerts_rules(M->alerts) : NULL;
    pr__tb_puts(o, ",\"list\":[");
    for (size_t i = 0; rs && i < rs->n; i++) {
        const pr_alert_rule *r = &rs->rules[i];
        pr__tb_puts(o, i ? ",{\"name\":" : "{\"name\":");
        jstr(o, r->name);
        pr__tb_puts(o, ",\"metric\":");
        jstr(o, r->metric);
        pr__tb_puts(o, ",\"field\":");
        jstr(o, r->field);
        pr__tb_puts(o, ",\"arm\":");
        jstr(o, r->arm);
        pr__tb_puts(o, ",\"version\":");
        jstr(o, r->version);
        pr__tb_puts(o, ",\"window\":");
        jstr(o, r->window);
        pr__tb_printf(o, ",\"op\":\"%s\"", pr_alert_op_str(r->op));
        jnum(o, "threshold", r->threshold);
        if (r->op == PR_ALERT_OP_OUTSIDE) jnum(o, "threshold_hi", r->threshold_hi);
        pr__tb_printf(o, ",\"for_ms\":%lld,\"keep_firing_for_ms\":%lld,\"min_n\":%llu,"
                         "\"severity\":\"%s\"}",
                      (long long)r->for_ms, (long long)r->keep_firing_ms,
                      (unsigned long long)r->min_n,
                      pr_alert_severity_str(r->severity));
    }
    pr__tb_puts(o, "]");
}

/* ,"transitions":[the latest PR__MON_TRANS, oldest first]; under mu. */
static void put_transitions(pr__tb *o, const pr__mon *M) {
    uint64_t n = M->n_trans < PR__MON_TRANS ? M->n_trans : PR__MON_TRANS;
    pr__tb_puts(o, ",\"transitions\":[");
    for (uint64_t i = 0; i < n; i++) {
        const pr__mon_trans *t = &M->trans[(M->n_trans - n + i) % PR__MON_TRANS];
        pr__tb_puts(o, i ? ",{\"name\":" : "{\"name\":");
        jstr(o, t->name);
        pr__tb_puts(o, ",\"field\":");
        jstr(o, t->field);
        pr__tb_puts(o, ",\"arm\":");
        jstr(o, t->arm);
        pr__tb_puts(o, ",\"version\":");
        jstr(o, t->version);
        pr__tb_printf(o, ",\"from\":\"%s\",\"to\":\"%s\"", pr_alert_state_str(t->from),
                      pr_alert_state_str(t->to));
        jnum(o, "value", t->value);
        pr__tb_printf(o, ",\"at_ms\":%lld,\"stale\":%s}", (long long)t->at_ms,
                      t->stale ? "true" : "false");
    }
    pr__tb_puts(o, "]");
}

#define ACTIVE_MAX 1000 /* alert instances listed at most (the count is exact) */

static void put_alerts(pr__tb *o, pr__mon *M) {
    pr_alert_active *act = malloc(ACTIVE_MAX * sizeof *act);
    size_t n = act ? pr_alerts_active(M->alerts, act, ACTIVE_MAX) : 0;
    size_t shown = n < ACTIVE_MAX ? n : ACTIVE_MAX;
    pr__tb_puts(o, ",\"alerts\":[");
    for (size_t i = 0; i < shown; i++) {
        const pr_alert_active *a = &act[i];
        pr__tb_puts(o, i ? ",{\"name\":" : "{\"name\":");
        jstr(o, a->name);
        pr__tb_printf(o, ",\"state\":\"%s\",\"severity\":\"%s\",\"field\":",
                      pr_alert_state_str(a->state), pr_alert_severity_str(a->severity));
        jstr(o, a->field);
        pr__tb_puts(o, ",\"arm\":");
        jstr(o, a->arm);
        pr__tb_puts(o, ",\"version\":");
        jstr(o, a->version);
        jnum(o, "value", a->value);
        pr__tb_printf(o, ",\"n\":%llu,\"since_ms\":%lld,\"firing_since_ms\":", (unsigned long long)a->n,
                      (long long)a->since_ms);
        if (a->state == PR_ALERT_STATE_FIRING) pr__tb_printf(o, "%lld", (long long)a->firing_since_ms);
        else pr__tb_puts(o, "null");
        pr__tb_printf(o, ",\"last_seen_ms\":%lld}", (long long)a->last_seen_ms);
    }
    pr__tb_printf(o, "],\"alerts_active\":%zu", n);
    free(act);
    pr_alerts_stats st;
    pr_alerts_stats_get(M->alerts, &st);
    pr__tb_printf(o,
                  ",\"alert_stats\":{\"evaluations\":%llu,\"samples_counted\":%llu,"
                  "\"samples_below_min_n\":%llu,\"transitions\":%llu,\"instances\":%llu,"
                  "\"instances_dropped\":%llu,\"retrain_requests\":%llu,\"retrain_failed\":%llu}",
                  (unsigned long long)st.evals, (unsigned long long)st.samples_counted,
                  (unsigned long long)st.samples_below_min_n, (unsigned long long)st.transitions,
                  (unsigned long long)st.instances, (unsigned long long)st.instances_dropped,
                  (unsigned long long)st.retrain_requests, (unsigned long long)st.retrain_failed);
    pr__tb_puts(o, ",\"webhook\":");
    if (!M->webhook) {
        pr__tb_puts(o, "null");
        return;
    }
    pr_webhook_stats ws;
    pr_webhook_stats_get(M->webhook, &ws);
    pr__tb_printf(o,
                  "{\"sent\":%llu,\"failed\":%llu,\"retried\":%llu,\"dropped\":%llu,"
                  "\"timeouts\":%llu,\"queued\":%llu}",
                  (unsigned long long)ws.sent, (unsigned long long)ws.failed,
                  (unsigned long long)ws.retried, (unsigned long long)ws.dropped,
                  (unsigned long long)ws.timeouts, (unsigned long long)ws.queued);
}

const char *pr__handle_monitor(pr_server *s, unsigned *status, pr__tb *o) {
    pr__mon *M = s->mon;
    *status = 200;
    if (!M) {
        pr__tb_puts(o, "{\"monitor\":\"off\"}\n");
        return "application/json";
    }
    pr_quality_sample *q = NULL;
    size_t nq = quality_copy(s, &q);
    pr__qhist *qh = NULL;
    size_t nh = pr__quality_history(s, &qh);
    pr__tb_puts(o, "{\"monitor\":\"on\",\"rules\":{\"from\":");
    jstr(o, M->rules_from);
    pr__tb_printf(o, ",\"n\":%zu", M->n_rules);
    put_rules(o, M);
    pr__tb_puts(o, "}");
    pthread_mutex_lock(&M->mu);
    pr__tb_puts(o, ",\"clock\":{\"source\":");
    if (!M->pub_has_clock) pr__tb_puts(o, "null,\"event_time_ms\":null,\"closed_until_ms\":null");
    else
        pr__tb_printf(o, "\"%s\",\"event_time_ms\":%lld,\"closed_until_ms\":%lld",
                      M->pub_replay ? "request_ts" : "server", (long long)M->pub_clock_ms,
                      (long long)M->pub_closed_ms);
    pr__tb_printf(o, ",\"grace_ms\":%d},\"windows_closed\":%llu,\"arms\":[", PR__MON_GRACE_MS,
                  (unsigned long long)M->windows_closed);
    for (uint32_t a = 0; a < M->n_arms; a++) {
        if (a) pr__tb_put(o, ",", 1);
        put_arm(o, s, &M->arm[a], q, nq, qh, nh);
    }
    pr__tb_puts(o, "]");
    put_transitions(o, M);
    pthread_mutex_unlock(&M->mu);
    pr__tb_puts(o, ",\"dropped\":{");
    for (int r = 0; r < PR__MON_NDROP; r++)
        pr__tb_printf(o, "%s\"%s\":%llu", r ? "," : "", pr__mon_drop_names[r],
                      (unsigned long long)__atomic_load_n(&M->dropped[r], __ATOMIC_RELAXED));
    pr__tb_puts(o, "}");
    put_alerts(o, M);
    pr__tb_puts(o, "}\n");
    free(q);
    free(qh);
    return "application/json";
}

/* ---------------------------------------------------------------- metrics */

static void help(pr__tb *o, const char *name, const char *type, const char *text) {
    pr__tb_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

static void put_drift_lines(pr__tb *o, const pr_server *s, const pr__mon_arm *ma) {
    static const char *const names[] = {"psi",          "js",           "ks",
                                        "wasserstein",  "chi2_p",       "missing_delta",
                                        "unseen_share", "mean_shift"};
    for (int w = 0; w < PR__MON_NWIN; w++) {
        const pr__mon_res *r = &ma->res[w];
        if (!r->valid) continue;
        for (uint32_t i = 0; i < r->n_fd; i++) {
            const pr__mon_fd *f = &r->fd[i];
            const pr_drift *d = &f->d;
            const double v[] = {d->psi,         d->js,           d->ks,
                                d->wasserstein, d->chi2_p,       d->missing_delta,
                                d->unseen_share, d->mean_shift};
            for (int k = 0; k < PR_DRIFT_N_STATS; k++) {
                if (!(d->has & (1u << k))) continue;
                pr__tb_puts(o, "pronto_drift{field=\"");
                label(o, f->field);
                pr__tb_printf(o, "\",stat=\"%s\",window=\"%s\",arm=\"", names[k],
                              pr__mon_win_names[w]);
                label(o, arm_label(s, ma));
                pr__tb_printf(o, "\"} %.17g\n", v[k]);
            }
        }
    }
}

void pr__monitor_render(pr_server *s, pr__tb *o) {
    pr__mon *M = s->mon;
    if (!M) return;
    pthread_mutex_lock(&M->mu);
    help(o, "pronto_monitor_info", "gauge",
         "1 per arm: the model version monitored and whether drift is on (a model file without "
         "a reference profile: off, /v1/monitor says why)");
    for (uint32_t a = 0; a < M->n_arms; a++) {
        pr__tb_puts(o, "pronto_monitor_info{arm=\"");
        label(o, arm_label(s, &M->arm[a]));
        pr__tb_puts(o, "\",version=\"");
        label(o, M->arm[a].version);
        pr__tb_printf(o, "\",drift=\"%s\"} 1\n", M->arm[a].prof ? "on" : "off");
    }
    help(o, "pronto_drift", "gauge",
         "drift of a field (or of the prediction) against the model's reference profile in the "
         "latest closed window (1m, and 5m and 1h ending with it), by statistic and arm");
    for (uint32_t a = 0; a < M->n_arms; a++) put_drift_lines(o, s, &M->arm[a]);
    help(o, "pronto_monitor_requests_per_second", "gauge",
         "predicts answered per second in the latest closed window (event time)");
    for (uint32_t a = 0; a < M->n_arms; a++)
        for (int w = 0; w < PR__MON_NWIN; w++) {
            if (!M->arm[a].res[w].valid) continue;
            pr__tb_printf(o, "pronto_monitor_requests_per_second{window=\"%s\",arm=\"",
                          pr__mon_win_names[w]);
            label(o, arm_label(s, &M->arm[a]));
            pr__tb_printf(o, "\"} %.17g\n", M->arm[a].res[w].rps);
        }
    help(o, "pronto_monitor_event_time_seconds", "gauge",
         "the monitor's clock: the largest request ts seen, or the server's clock");
    pr__tb_printf(o, "pronto_monitor_event_time_seconds %.3f\n",
                  M->pub_has_clock ? (double)M->pub_clock_ms / 1e3 : 0.0);
    pthread_mutex_unlock(&M->mu);
    help(o, "pronto_monitor_windows_closed_total", "counter", "1-minute windows closed");
    pr__tb_printf(o, "pronto_monitor_windows_closed_total %llu\n",
                  (unsigned long long)__atomic_load_n(&M->windows_closed, __ATOMIC_RELAXED));
    help(o, "pronto_monitor_dropped_requests_total", "counter",
         "predicts left out of the windows (slots: more minutes in a tick than a worker holds; "
         "late: their minute had closed; ahead: ts too far past the clock) or whose rows were "
         "not profiled (swap: another model version; memory)");
    for (int r = 0; r < PR__MON_NDROP; r++)
        pr__tb_printf(o, "pronto_monitor_dropped_requests_total{reason=\"%s\"} %llu\n",
                      pr__mon_drop_names[r],
                      (unsigned long long)__atomic_load_n(&M->dropped[r], __ATOMIC_RELAXED));
    pr_alert_active *act = malloc(ACTIVE_MAX * sizeof *act);
    size_t n = act ? pr_alerts_active(M->alerts, act, ACTIVE_MAX) : 0;
    if (n > ACTIVE_MAX) n = ACTIVE_MAX;
    help(o, "pronto_alert", "gauge",
         "1 per pending or firing alert instance (rule name, state, and the instance's labels)");
    for (size_t i = 0; i < n; i++) {
        pr__tb_puts(o, "pronto_alert{name=\"");
        label(o, act[i].name);
        pr__tb_printf(o, "\",state=\"%s\",severity=\"%s\",field=\"", pr_alert_state_str(act[i].state),
                      pr_alert_severity_str(act[i].severity));
        label(o, act[i].field);
        pr__tb_puts(o, "\",arm=\"");
        label(o, act[i].arm);
        pr__tb_puts(o, "\",version=\"");
        label(o, act[i].version);
        pr__tb_puts(o, "\"} 1\n");
    }
    free(act);
    pr_alerts_stats st;
    pr_alerts_stats_get(M->alerts, &st);
    help(o, "pronto_alert_evaluations_total", "counter", "rule evaluations (one per closed minute)");
    pr__tb_printf(o, "pronto_alert_evaluations_total %llu\n", (unsigned long long)st.evals);
    help(o, "pronto_alert_transitions_total", "counter", "alert state changes");
    pr__tb_printf(o, "pronto_alert_transitions_total %llu\n", (unsigned long long)st.transitions);
    help(o, "pronto_alert_retrain_requests_total", "counter",
         "retrain requests written into the registry by firing retrain rules, and failures");
    pr__tb_printf(o,
                  "pronto_alert_retrain_requests_total{outcome=\"ok\"} %llu\n"
                  "pronto_alert_retrain_requests_total{outcome=\"failed\"} %llu\n",
                  (unsigned long long)st.retrain_requests, (unsigned long long)st.retrain_failed);
    if (M->webhook) {
        pr_webhook_stats ws;
        pr_webhook_stats_get(M->webhook, &ws);
        help(o, "pronto_alert_webhook_total", "counter",
             "webhook documents: sent (2xx), failed (given up), retried, dropped (queue full, "
             "shutdown), timeouts (attempts)");
        pr__tb_printf(o,
                      "pronto_alert_webhook_total{outcome=\"sent\"} %llu\n"
                      "pronto_alert_webhook_total{outcome=\"failed\"} %llu\n"
                      "pronto_alert_webhook_total{outcome=\"retried\"} %llu\n"
                      "pronto_alert_webhook_total{outcome=\"dropped\"} %llu\n"
                      "pronto_alert_webhook_total{outcome=\"timeout\"} %llu\n",
                      (unsigned long long)ws.sent, (unsigned long long)ws.failed,
                      (unsigned long long)ws.retried, (unsigned long long)ws.dropped,
                      (unsigned long long)ws.timeouts);
        help(o, "pronto_alert_webhook_queued", "gauge", "webhook documents waiting");
        pr__tb_printf(o, "pronto_alert_webhook_queued %llu\n", (unsigned long long)ws.queued);
    }
}
