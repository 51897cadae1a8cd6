/*
 * report_json.c: the drift report's figures as one JSON object, the same
 * as the HTML page shows (docs/monitoring.md "Report" lists the keys):
 *
 *   {"reference": SIDE, "current": SIDE, "thresholds": {...},
 *    "drifted": [names worst first], "fields": [FIELD worst first],
 *    "reliability": [{n, mean_p, rate}], "quality": {n, logloss,
 *    calibration, bucket_s, buckets: [{start, n, clicks, logloss,
 *    calibration}]}}
 *
 * FIELD: name, kind, score, drifted, the statistics (null when not
 * computed), n, and the distributions: bins (labels) with the reference
 * and current shares, missing shares. Numbers that are not finite are null.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_int.h"

static void side(pr__rbuf *b, const pr_report_side *s) {
    pr__rb_str(b, "{\"kind\":");
    pr__rb_json(b, s->kind);
    pr__rb_str(b, ",\"source\":");
    pr__rb_json(b, s->name);
    pr__rb_printf(b, ",\"rows\":%llu,\"labeled\":%llu,\"positives\":%llu,\"mean_p\":",
                  (unsigned long long)s->rows, (unsigned long long)s->labeled,
                  (unsigned long long)s->clicks);
    pr__rb_jnum(b, s->mean_p);
    if (s->ts_min || s->ts_max)
        pr__rb_printf(b, ",\"ts_min\":%lld,\"ts_max\":%lld", (long long)s->ts_min,
                      (long long)s->ts_max);
    else
        pr__rb_str(b, ",\"ts_min\":null,\"ts_max\":null");
    pr__rb_str(b, "}");
}

static void stat(pr__rbuf *b, const char *name, const pr_drift *d, uint32_t bit, double v) {
    pr__rb_printf(b, ",\"%s\":", name);
    pr__rb_jnum(b, d->has & bit ? v : NAN);
}

static void shares(pr__rbuf *b, const char *key, const pr_sketch *s) {
    pr__rb_printf(b, ",\"%s\":[", key);
    double n = (double)s->n;
    for (uint32_t i = 0; i < s->shape->n_bins; i++) {
        if (i) pr__rb_str(b, ",");
        pr__rb_jnum(b, n > 0 ? (double)s->counts[i] / n : NAN);
    }
    pr__rb_printf(b, "],\"%s_missing\":", key);
    pr__rb_jnum(b, n > 0 ? (double)(s->n_missing + s->n_nonfinite) / n : NAN);
}

static void dist(pr__rbuf *b, const pr_sketch *ref, const pr_sketch *cur) {
    const pr_sketch_shape *sh = ref->shape;
    if (sh->kind == PR_SKETCH_NUMERIC) {
        pr__rb_str(b, ",\"edges\":[");
        for (uint32_t i = 0; i < sh->n_edges; i++) {
            if (i) pr__rb_str(b, ",");
            pr__rb_jnum(b, sh->edges[i]);
        }
        pr__rb_str(b, "]");
    } else {
        pr__rb_str(b, ",\"bins\":[");
        for (uint32_t i = 0; i < sh->n_top; i++) {
            if (i) pr__rb_str(b, ",");
            pr__rb_json(b, sh->top_value[i]);
        }
        pr__rb_str(b, sh->n_top ? ",\"(rest)\",\"(unseen)\"]" : "\"(rest)\",\"(unseen)\"]");
    }
    shares(b, "reference", ref);
    shares(b, "current", cur);
}

pr_status pr__report_json(const pr_report *r, char **out, size_t *len, pr_err *err) {
    *out = NULL;
    *len = 0;
    pr_report_field *f = NULL;
    uint32_t nf = 0;
    pr_status s = pr_report_fields(r, &f, &nf, err);
    if (s != PR_OK) return s;
    const pr_report_acc *a = r->cur;
    pr__rbuf b = {0};
    pr__rb_str(&b, "{\"reference\":");
    side(&b, &r->ref_side);
    pr__rb_str(&b, ",\n\"current\":");
    side(&b, &r->cur_side);
    pr__rb_str(&b, ",\n\"model\":");
    if (r->model) pr__rb_json(&b, r->model);
    else pr__rb_str(&b, "null");
    pr__rb_str(&b, ",\n\"thresholds\":{\"psi\":");
    pr__rb_jnum(&b, r->th.psi);
    pr__rb_str(&b, ",\"js\":");
    pr__rb_jnum(&b, r->th.js);
    pr__rb_str(&b, ",\"wasserstein\":");
    pr__rb_jnum(&b, r->th.wasserstein);
    pr__rb_str(&b, ",\"missing_delta\":");
    pr__rb_jnum(&b, r->th.missing_delta);
    pr__rb_str(&b, "},\n\"drifted\":[");
    int first = 1;
    for (uint32_t i = 0; i < nf; i++) {
        if (!f[i].drifted) continue;
        if (!first) pr__rb_str(&b, ",");
        first = 0;
        pr__rb_json(&b, f[i].name);
    }
    pr__rb_str(&b, "],\n\"fields\":[");
    for (uint32_t i = 0; i < nf; i++) {
        const pr_drift *d = &f[i].d;
        int pred = f[i].column == PR_REPORT_PREDICTION;
        const pr_sketch *ref = pred ? pr_profile_prediction(r->ref)
                                    : pr_profile_column(r->ref, f[i].column);
        const pr_sketch *cur = pred ? pr_live_prediction(a->live)
                                    : pr_live_column(a->live, f[i].column);
        pr__rb_str(&b, i ? ",\n{\"name\":" : "\n{\"name\":");
        pr__rb_json(&b, f[i].name);
        pr__rb_printf(&b, ",\"kind\":\"%s\",\"score\":",
                      ref->shape->kind == PR_SKETCH_NUMERIC ? "numeric" : "categorical");
        pr__rb_jnum(&b, f[i].score);
        pr__rb_printf(&b, ",\"drifted\":%s", f[i].drifted ? "true" : "false");
        stat(&b, "psi", d, PR_DRIFT_PSI, d->psi);
        stat(&b, "js", d, PR_DRIFT_JS, d->js);
        stat(&b, "ks", d, PR_DRIFT_KS, d->ks);
        stat(&b, "wasserstein", d, PR_DRIFT_WASSERSTEIN, d->wasserstein);
        stat(&b, "chi2_p", d, PR_DRIFT_CHI2_P, d->chi2_p);
        stat(&b, "missing_delta", d, PR_DRIFT_MISSING_DELTA, d->missing_delta);
        stat(&b, "unseen_share", d, PR_DRIFT_UNSEEN_SHARE, d->unseen_share);
        stat(&b, "mean_shift", d, PR_DRIFT_MEAN_SHIFT, d->mean_shift);
        pr__rb_printf(&b, ",\"n\":%llu,\"n_present\":%llu", (unsigned long long)d->n,
                      (unsigned long long)d->n_present);
        dist(&b, ref, cur);
        pr__rb_str(&b, "}");
    }
    pr__rb_str(&b, "],\n\"reliability\":[");
    pr__rel_point rel[PR_REPORT_REL_BINS];
    uint32_t nr = pr__report_reliability(a, rel);
    for (uint32_t i = 0; i < nr; i++) {
        pr__rb_printf(&b, "%s{\"n\":%llu,\"mean_p\":", i ? "," : "",
                      (unsigned long long)rel[i].n);
        pr__rb_jnum(&b, rel[i].mean_p);
        pr__rb_str(&b, ",\"rate\":");
        pr__rb_jnum(&b, rel[i].rate);
        pr__rb_str(&b, "}");
    }
    pr__rb_str(&b, "],\n\"quality\":");
    if (a->all.n == 0) {
        pr__rb_str(&b, "null");
    } else {
        double n = (double)a->all.n;
        pr__rb_printf(&b, "{\"n\":%llu,\"positives\":%llu,\"logloss\":",
                      (unsigned long long)a->all.n, (unsigned long long)a->all.clicks);
        pr__rb_jnum(&b, a->all.sum_ll / n);
        pr__rb_str(&b, ",\"calibration\":");
        pr__rb_jnum(&b, a->all.clicks ? a->all.sum_p / (double)a->all.clicks : NAN);
        pr__bucket bk[PR_REPORT_BUCKETS];
        int64_t step = 0;
        uint32_t nbk = pr__report_buckets(a, bk, &step);
        pr__rb_printf(&b, ",\"bucket_s\":%lld,\"buckets\":[", (long long)step);
        for (uint32_t i = 0; i < nbk; i++) {
            double bn = (double)bk[i].s.n;
            pr__rb_printf(&b, "%s{\"start\":%lld,\"n\":%llu,\"positives\":%llu,\"logloss\":",
                          i ? "," : "", (long long)bk[i].start, (unsigned long long)bk[i].s.n,
                          (unsigned long long)bk[i].s.clicks);
            pr__rb_jnum(&b, bk[i].s.sum_ll / bn);
            pr__rb_str(&b, ",\"calibration\":");
            pr__rb_jnum(&b, bk[i].s.clicks ? bk[i].s.sum_p / (double)bk[i].s.clicks : NAN);
            pr__rb_str(&b, "}");
        }
        pr__rb_str(&b, "]}");
    }
    pr__rb_str(&b, "}\n");
    free(f);
    return pr__rb_finish(&b, out, len, err);
}
