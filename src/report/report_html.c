/*
 * report_html.c: the drift report as one self-contained HTML page: inline
 * CSS, inline SVG charts drawn by pronto/chart.h (each with its own id
 * prefix), no script, no external resource. Sections, top to bottom:
 *
 *   #summary      the two sides (rows, labels, time span, mean
 *                 prediction) and the verdict: which fields drifted
 *   #drift        PSI, JS and Wasserstein per field as bars, worst first,
 *                 with the thresholds as dashed lines; then the table of
 *                 every statistic, values at or over a threshold marked
 *   #prediction   the prediction histogram (reference vs current bins),
 *                 the reliability diagram and quality over time (when the
 *                 current rows were scored and labeled)
 *   #fields       one chart per field, worst first: the share of rows in
 *                 each reference bin (numeric: quantile bins; categorical:
 *                 top values, rest, unseen) and missing, side by side
 *
 * Every chart is an <svg class="chart"> inside a <figure>; user text goes
 * through pr__rb_html (here) or the chart's own escaping (inside SVG).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pronto/chart.h"
#include "report/report_int.h"

#define DRIFT_CHART_FIELDS 40   /* fields in the bar chart of scores */

static const char css[] =
    "body{font-family:sans-serif;margin:24px auto;max-width:1200px;color:#222;"
    "padding:0 16px}\n"
    "h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:4px;"
    "margin-top:32px}h3{font-size:15px;margin:8px 0}\n"
    "table{border-collapse:collapse;font-size:13px}"
    "td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}"
    "th{background:#f4f4f4}td.name,th.name{text-align:left;font-family:monospace}\n"
    "td.over{background:#fdd;font-weight:bold}tr.drifted td.name{color:#b00}\n"
    ".verdict{font-size:15px;padding:8px 12px;border-radius:4px}"
    ".bad{background:#fdd}.good{background:#dfd}.note{background:#ffd}\n"
    ".grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:12px}\n"
    "figure{margin:0;border:1px solid #eee;padding:6px}"
    "figcaption{font-size:12px;color:#555}\n"
    "svg.chart{max-width:100%;height:auto}\n"
    ".badge{font-size:11px;padding:1px 6px;border-radius:8px;background:#b00;color:#fff;"
    "margin-left:6px}.meta{color:#666;font-size:12px}\n";

static void fmt_num(char *buf, size_t cap, double v) {
    if (!isfinite(v)) snprintf(buf, cap, "-");
    else if (v != 0 && (fabs(v) >= 1e6 || fabs(v) < 1e-3)) snprintf(buf, cap, "%.3g", v);
    else snprintf(buf, cap, "%.4g", v);
}

static void put_time(pr__rbuf *b, int64_t s) {
    time_t t = (time_t)s;
    struct tm tm;
    char buf[40];
    if (gmtime_r(&t, &tm) && strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", &tm))
        pr__rb_str(b, buf);
    else
        pr__rb_printf(b, "%lld", (long long)s);
}

/* Renders c into b as inline SVG (the XML declaration dropped). */
static pr_status put_chart(pr__rbuf *b, pr_chart *c, const char *caption, pr_err *err) {
    char *svg;
    size_t len;
    pr_status s = pr_chart_render_svg(c, &svg, &len, err);
    if (s != PR_OK) return s;
    const char *p = strstr(svg, "<svg ");
    if (!p) p = svg;
    pr__rb_str(b, "<figure>");
    pr__rb_str(b, "<svg class=\"chart\" ");
    pr__rb_put(b, p + 5, len - (size_t)(p + 5 - svg));
    if (caption) {
        pr__rb_str(b, "<figcaption>");
        pr__rb_html(b, caption);
        pr__rb_str(b, "</figcaption>");
    }
    pr__rb_str(b, "</figure>\n");
    free(svg);
    return PR_OK;
}

/* ---------------------------------------------------------------- summary */

static void side_row(pr__rbuf *b, const char *label, const pr_report_side *s) {
    char num[64];
    pr__rb_str(b, "<tr><th class=\"name\">");
    pr__rb_html(b, label);
    pr__rb_str(b, "</th><td class=\"name\">");
    pr__rb_html(b, s->kind);
    pr__rb_str(b, " ");
    pr__rb_html(b, s->name);
    pr__rb_printf(b, "</td><td>%llu</td><td>%llu</td><td>", (unsigned long long)s->rows,
                  (unsigned long long)s->labeled);
    fmt_num(num, sizeof num, s->labeled ? (double)s->clicks / (double)s->labeled : NAN);
    pr__rb_str(b, num);
    pr__rb_str(b, "</td><td>");
    fmt_num(num, sizeof num, s->mean_p);
    pr__rb_str(b, num);
    pr__rb_str(b, "</td><td>");
    if (s->ts_min || s->ts_max) {
        put_time(b, s->ts_min);
        pr__rb_str(b, " &ndash; ");
        put_time(b, s->ts_max);
    } else {
        pr__rb_str(b, "-");
    }
    pr__rb_str(b, "</td></tr>\n");
}

/* "&ge; 0.2", or "not judged" when no rule sets the threshold. */
static const char *th_text(char *buf, size_t cap, double th) {
    if (isnan(th)) snprintf(buf, cap, "not judged");
    else snprintf(buf, cap, "&ge; %g", th);
    return buf;
}

static void summary(pr__rbuf *b, const pr_report *r, const pr_report_field *f, uint32_t nf) {
    pr__rb_str(b, "<section id=\"summary\"><h2>Summary</h2>\n<table class=\"sides\">"
                  "<tr><th class=\"name\">side</th><th class=\"name\">source</th><th>rows</th>"
                  "<th>labeled</th><th>positive rate</th><th>mean prediction</th>"
                  "<th>time span (UTC)</th></tr>\n");
    side_row(b, "reference", &r->ref_side);
    side_row(b, "current", &r->cur_side);
    pr__rb_str(b, "</table>\n");
    uint32_t drifted = 0, fields = 0;
    for (uint32_t i = 0; i < nf; i++) {
        drifted += f[i].drifted;
        fields += f[i].column != PR_REPORT_PREDICTION;
    }
    if (r->cur_side.rows == 0) {
        pr__rb_str(b, "<p class=\"verdict note\" id=\"verdict\">The current data has no rows: "
                      "nothing to compare.</p>\n");
    } else if (drifted == 0) {
        pr__rb_printf(b, "<p class=\"verdict good\" id=\"verdict\">No drift: none of the %u "
                         "fields reaches a threshold.</p>\n", fields);
    } else {
        pr__rb_printf(b, "<p class=\"verdict bad\" id=\"verdict\">Drift in %u of %u:", drifted,
                      nf);
        uint32_t shown = 0;
        for (uint32_t i = 0; i < nf; i++) {
            if (!f[i].drifted) continue;
            if (shown++ == 20) {
                pr__rb_str(b, " ...");
                break;
            }
            pr__rb_str(b, shown > 1 ? ", <b>" : " <b>");
            pr__rb_html(b, f[i].name);
            pr__rb_str(b, "</b>");
        }
        pr__rb_str(b, ".</p>\n");
    }
    char t1[32], t2[32], t3[32], t4[32];
    pr__rb_printf(b, "<p class=\"meta\">Thresholds (effect sizes, as the %s alert rules): "
                     "PSI %s, Jensen&ndash;Shannon distance %s, normalized "
                     "Wasserstein %s, missing rate %s points. KS and the "
                     "chi-square p-value are shown, not judged.</p>\n",
                  r->rules ? "given" : "default", th_text(t1, sizeof t1, r->th.psi),
                  th_text(t2, sizeof t2, r->th.js), th_text(t3, sizeof t3, r->th.wasserstein),
                  th_text(t4, sizeof t4, r->th.missing_delta));
    pr__rb_str(b, "</section>\n");
}

/* ---------------------------------------------------------------- drift */

static void cell(pr__rbuf *b, const pr_drift *d, uint32_t bit, double v, double th) {
    char num[64];
    if (!(d->has & bit)) {
        pr__rb_str(b, "<td>-</td>");
        return;
    }
    fmt_num(num, sizeof num, v);
    pr__rb_printf(b, "<td%s>%s</td>", th > 0 && v >= th ? " class=\"over\"" : "", num);
}

static pr_status drift_section(pr__rbuf *b, const pr_report *r, const pr_report_field *f,
                               uint32_t nf, pr_err *err) {
    char t1[32], t2[32], t3[32], t4[32];
    pr__rb_str(b, "<section id=\"drift\"><h2>Drift by field (worst first)</h2>\n");
    if (nf > 0 && r->cur_side.rows > 0) {
        uint32_t n = nf < DRIFT_CHART_FIELDS ? nf : DRIFT_CHART_FIELDS;
        const char *labels[DRIFT_CHART_FIELDS];
        for (uint32_t i = 0; i < n; i++) labels[i] = f[i].name;
        pr_chart *c = NULL;
        uint32_t s_psi, s_js, s_w;
        pr_status s = pr_chart_new(&c, err);
        if (s == PR_OK) s = pr_chart_set_id(c, "drift", err);
        if (s == PR_OK) s = pr_chart_set_size(c, 1100, 420, err);
        if (s == PR_OK) s = pr_chart_set_title(c, nf > n ? "Drift scores (the 40 worst fields)"
                                                         : "Drift scores", err);
        if (s == PR_OK) s = pr_chart_set_y_label(c, "statistic", err);
        if (s == PR_OK) s = pr_chart_set_categories(c, labels, n, err);
        if (s == PR_OK) s = pr_chart_add_series(c, "PSI", &s_psi, err);
        if (s == PR_OK) s = pr_chart_add_series(c, "JS distance", &s_js, err);
        if (s == PR_OK) s = pr_chart_add_series(c, "Wasserstein (normalized)", &s_w, err);
        for (uint32_t i = 0; s == PR_OK && i < n; i++) {
            const pr_drift *d = &f[i].d;
            s = pr_chart_add_point(c, s_psi, i, d->has & PR_DRIFT_PSI ? d->psi : NAN, err);
            if (s == PR_OK)
                s = pr_chart_add_point(c, s_js, i, d->has & PR_DRIFT_JS ? d->js : NAN, err);
            if (s == PR_OK)
                s = pr_chart_add_point(c, s_w, i,
                                       d->has & PR_DRIFT_WASSERSTEIN ? d->wasserstein : NAN,
                                       err);
        }
        char lab[80];
        snprintf(lab, sizeof lab, "PSI threshold %g", r->th.psi);
        if (s == PR_OK && isfinite(r->th.psi)) s = pr_chart_add_hline(c, r->th.psi, lab, err);
        if (r->th.wasserstein == r->th.js)
            snprintf(lab, sizeof lab, "JS, Wasserstein threshold %g", r->th.js);
        else
            snprintf(lab, sizeof lab, "JS threshold %g", r->th.js);
        if (s == PR_OK && isfinite(r->th.js)) s = pr_chart_add_hline(c, r->th.js, lab, err);
        snprintf(lab, sizeof lab, "Wasserstein threshold %g", r->th.wasserstein);
        if (s == PR_OK && isfinite(r->th.wasserstein) && r->th.wasserstein != r->th.js)
            s = pr_chart_add_hline(c, r->th.wasserstein, lab, err);
        if (s == PR_OK) s = put_chart(b, c, NULL, err);
        pr_chart_free(c);
        if (s != PR_OK) return s;
    }
    pr__rb_printf(b,
                  "<table class=\"drift\"><tr><th class=\"name\">field</th><th>kind</th>"
                  "<th>score</th><th>PSI (%s)</th><th>JS (%s)</th>"
                  "<th>Wasserstein (%s)</th><th>KS</th><th>chi&sup2; p</th>"
                  "<th>missing &Delta; pts (%s)</th><th>unseen share</th>"
                  "<th>mean shift</th><th>rows</th></tr>\n",
                  th_text(t1, sizeof t1, r->th.psi), th_text(t2, sizeof t2, r->th.js),
                  th_text(t3, sizeof t3, r->th.wasserstein),
                  th_text(t4, sizeof t4, r->th.missing_delta));
    for (uint32_t i = 0; i < nf; i++) {
        const pr_drift *d = &f[i].d;
        const pr_sketch *ref = f[i].column == PR_REPORT_PREDICTION
                                   ? pr_profile_prediction(r->ref)
                                   : pr_profile_column(r->ref, f[i].column);
        char num[64];
        pr__rb_printf(b, "<tr%s><td class=\"name\">", f[i].drifted ? " class=\"drifted\"" : "");
        pr__rb_html(b, f[i].name);
        fmt_num(num, sizeof num, f[i].score);
        pr__rb_printf(b, "</td><td>%s</td><td>%s</td>",
                      ref->shape->kind == PR_SKETCH_NUMERIC ? "numeric" : "categorical", num);
        const char *fn = f[i].name;
        cell(b, d, PR_DRIFT_PSI, d->psi, pr_alert_rules_threshold(r->rules, "psi", fn));
        cell(b, d, PR_DRIFT_JS, d->js, pr_alert_rules_threshold(r->rules, "js", fn));
        cell(b, d, PR_DRIFT_WASSERSTEIN, d->wasserstein,
             pr_alert_rules_threshold(r->rules, "wasserstein", fn));
        cell(b, d, PR_DRIFT_KS, d->ks, 0);
        cell(b, d, PR_DRIFT_CHI2_P, d->chi2_p, 0);
        cell(b, d, PR_DRIFT_MISSING_DELTA, d->missing_delta,
             pr_alert_rules_threshold(r->rules, "missing_delta", fn));
        cell(b, d, PR_DRIFT_UNSEEN_SHARE, d->unseen_share, 0);
        cell(b, d, PR_DRIFT_MEAN_SHIFT, d->mean_shift, 0);
        pr__rb_printf(b, "<td>%llu</td></tr>\n", (unsigned long long)d->n);
    }
    pr__rb_str(b, "</table>\n</section>\n");
    return PR_OK;
}

/* ---------------------------------------------------------------- distributions */

/* The label of bin i of a sketch's shape. */
static void bin_label(const pr_sketch_shape *sh, uint32_t i, char *buf, size_t cap) {
    char a[32], z[32];
    if (sh->kind == PR_SKETCH_CATEGORICAL) {
        if (i < sh->n_top) snprintf(buf, cap, "%s", sh->top_value[i]);
        else snprintf(buf, cap, "%s", i == sh->n_top ? "(rest)" : "(unseen)");
        return;
    }
    if (sh->n_edges == 0) {
        snprintf(buf, cap, "all");
        return;
    }
    if (i == 0) {
        snprintf(a, sizeof a, "%.4g", sh->edges[0]);
        snprintf(buf, cap, "< %s", a);
    } else if (i >= sh->n_edges) {
        snprintf(a, sizeof a, "%.4g", sh->edges[sh->n_edges - 1]);
        snprintf(buf, cap, ">= %s", a);
    } else {
        snprintf(a, sizeof a, "%.4g", sh->edges[i - 1]);
        snprintf(z, sizeof z, "%.4g", sh->edges[i]);
        snprintf(buf, cap, "%s..%s", a, z);
    }
}

/* Reference and current shares per bin (and missing) as grouped bars. */
static pr_status dist_chart(pr__rbuf *b, const char *id, const char *title, const pr_sketch *ref,
                            const pr_sketch *cur, int missing_bar, const char *caption,
                            pr_err *err) {
    const pr_sketch_shape *sh = ref->shape;
    uint32_t nb = sh->n_bins + (missing_bar ? 1 : 0);
    if (sh->kind == PR_SKETCH_NUMERIC && sh->n_edges == 0) nb = 1 + (missing_bar ? 1 : 0);
    char(*lab)[PR_SKETCH_VALUE_MAX + 48] = calloc(nb, sizeof *lab);
    const char **labels = calloc(nb, sizeof *labels);
    pr_chart *c = NULL;
    pr_status s = !lab || !labels ? pr_err_set(err, PR_ERR_NOMEM, "report: out of memory")
                                  : pr_chart_new(&c, err);
    uint32_t nbins = nb - (missing_bar ? 1 : 0);
    for (uint32_t i = 0; s == PR_OK && i < nb; i++) {
        if (i < nbins) bin_label(sh, i, lab[i], sizeof lab[i]);
        else snprintf(lab[i], sizeof lab[i], "(missing)");
        labels[i] = lab[i];
    }
    if (s == PR_OK) s = pr_chart_set_id(c, id, err);
    if (s == PR_OK) s = pr_chart_set_size(c, 560, 300, err);
    if (s == PR_OK) s = pr_chart_set_title(c, title, err);
    if (s == PR_OK) s = pr_chart_set_y_label(c, "share of rows", err);
    if (s == PR_OK) s = pr_chart_set_categories(c, labels, nb, err);
    const pr_sketch *side[2] = {ref, cur};
    const char *names[2] = {"reference", "current"};
    for (int k = 0; k < 2 && s == PR_OK; k++) {
        uint32_t si;
        s = pr_chart_add_series(c, names[k], &si, err);
        double n = (double)side[k]->n;
        if (!(n > 0)) continue;
        for (uint32_t i = 0; s == PR_OK && i < nbins; i++)
            s = pr_chart_add_point(c, si, i, (double)side[k]->counts[i] / n, err);
        if (s == PR_OK && missing_bar)
            s = pr_chart_add_point(c, si, nbins,
                                   (double)(side[k]->n_missing + side[k]->n_nonfinite) / n, err);
    }
    if (s == PR_OK) s = put_chart(b, c, caption, err);
    pr_chart_free(c);
    free(lab);
    free(labels);
    return s;
}

static pr_status fields_section(pr__rbuf *b, const pr_report *r, const pr_report_field *f,
                                uint32_t nf, pr_err *err) {
    pr__rb_str(b, "<section id=\"fields\"><h2>Distributions (worst first)</h2>\n"
                  "<div class=\"grid\">\n");
    for (uint32_t i = 0; i < nf; i++) {
        if (f[i].column == PR_REPORT_PREDICTION) continue;
        const pr_sketch *ref = pr_profile_column(r->ref, f[i].column);
        const pr_sketch *cur = pr_live_column(r->cur->live, f[i].column);
        char id[32], cap[160], score[32];
        snprintf(id, sizeof id, "f%u", f[i].column);
        fmt_num(score, sizeof score, f[i].score);
        snprintf(cap, sizeof cap, "%s; score %s%s",
                 ref->shape->kind == PR_SKETCH_NUMERIC ? "numeric: reference quantile bins"
                                                       : "categorical: reference top values",
                 score, f[i].drifted ? " (drifted)" : "");
        pr__rb_str(b, "<div class=\"field\"><h3>");
        pr__rb_html(b, f[i].name);
        if (f[i].drifted) pr__rb_str(b, "<span class=\"badge\">drifted</span>");
        pr__rb_str(b, "</h3>");
        pr_status s = dist_chart(b, id, f[i].name, ref, cur, 1, cap, err);
        if (s != PR_OK) return s;
        pr__rb_str(b, "</div>\n");
    }
    pr__rb_str(b, "</div>\n</section>\n");
    return PR_OK;
}

/* ---------------------------------------------------------------- prediction */

static pr_status prediction_section(pr__rbuf *b, const pr_report *r, pr_err *err) {
    const pr_sketch *ref = pr_profile_prediction(r->ref);
    const pr_sketch *cur = pr_live_prediction(r->cur->live);
    const pr_report_acc *a = r->cur;
    pr__rb_str(b, "<section id=\"prediction\"><h2>Prediction and quality</h2>\n");
    pr_status s = PR_OK;
    if (ref->n == 0 && cur->n == 0) {
        pr__rb_str(b, "<p class=\"note\">No predictions: give a model (a model file as the "
                      "reference, or --model) to compare them.</p>\n</section>\n");
        return PR_OK;
    }
    pr__rb_str(b, "<div class=\"grid\">\n");
    if (ref->n > 0) {
        const char *src = pr_profile_score_source(r->ref);
        char cap[160];
        snprintf(cap, sizeof cap, "reference scores: %s", src && *src ? src : "-");
        s = dist_chart(b, "pred", "Prediction histogram", ref, cur, 0, cap, err);
    }
    pr__rel_point rel[PR_REPORT_REL_BINS];
    uint32_t nr = pr__report_reliability(a, rel);
    if (s == PR_OK && nr > 0) {
        pr_chart *c = NULL;
        uint32_t sd, so;
        double hi = 0;
        for (uint32_t i = 0; i < nr; i++) {
            if (rel[i].mean_p > hi) hi = rel[i].mean_p;
            if (rel[i].rate > hi) hi = rel[i].rate;
        }
        s = pr_chart_new(&c, err);
        if (s == PR_OK) s = pr_chart_set_id(c, "rel", err);
        if (s == PR_OK) s = pr_chart_set_size(c, 560, 300, err);
        if (s == PR_OK) s = pr_chart_set_title(c, "Reliability (current data)", err);
        if (s == PR_OK) s = pr_chart_set_x_label(c, "mean prediction", err);
        if (s == PR_OK) s = pr_chart_set_y_label(c, "observed rate", err);
        if (s == PR_OK) s = pr_chart_add_series(c, "perfectly calibrated", &sd, err);
        if (s == PR_OK) s = pr_chart_add_point(c, sd, 0, 0, err);
        if (s == PR_OK) s = pr_chart_add_point(c, sd, hi, hi, err);
        if (s == PR_OK) s = pr_chart_add_series(c, "model", &so, err);
        for (uint32_t i = 0; s == PR_OK && i < nr; i++)
            s = pr_chart_add_point(c, so, rel[i].mean_p, rel[i].rate, err);
        char cap[200];
        double n = (double)a->all.n;
        snprintf(cap, sizeof cap,
                 "%u groups of about equal rows; overall calibration (mean p / rate) %.4f, "
                 "log loss %.5f",
                 nr, a->all.clicks ? (a->all.sum_p / n) / ((double)a->all.clicks / n) : NAN,
                 a->all.sum_ll / n);
        if (s == PR_OK) s = put_chart(b, c, cap, err);
        pr_chart_free(c);
    }
    pr__rb_str(b, "</div>\n");
    pr__bucket bk[PR_REPORT_BUCKETS];
    int64_t step = 0;
    uint32_t nbk = pr__report_buckets(a, bk, &step);
    if (s == PR_OK && nbk > 0) {
        pr_chart *c = NULL;
        uint32_t sl, sc;
        char title[96], d[32];
        pr__report_duration(step, d, sizeof d);
        snprintf(title, sizeof title, "Quality over time (%s buckets)", d);
        s = pr_chart_new(&c, err);
        if (s == PR_OK) s = pr_chart_set_id(c, "time", err);
        if (s == PR_OK) s = pr_chart_set_size(c, 1100, 320, err);
        if (s == PR_OK) s = pr_chart_set_title(c, title, err);
        if (s == PR_OK) s = pr_chart_set_x_kind(c, PR_CHART_X_TIME, err);
        if (s == PR_OK) s = pr_chart_set_x_label(c, "bucket start (UTC)", err);
        if (s == PR_OK) s = pr_chart_add_series(c, "log loss", &sl, err);
        if (s == PR_OK) s = pr_chart_add_series(c, "calibration (mean p / rate)", &sc, err);
        for (uint32_t i = 0; s == PR_OK && i < nbk; i++) {
            double n = (double)bk[i].s.n;
            double t = (double)bk[i].start + (double)step / 2;
            s = pr_chart_add_point(c, sl, t, bk[i].s.sum_ll / n, err);
            if (s == PR_OK)
                s = pr_chart_add_point(c, sc, t,
                                       bk[i].s.clicks ? bk[i].s.sum_p / (double)bk[i].s.clicks
                                                      : NAN,
                                       err);
        }
        if (s == PR_OK) s = pr_chart_add_hline(c, 1, "calibration 1", err);
        if (s == PR_OK) s = put_chart(b, c, "labeled, scored rows with a timestamp", err);
        pr_chart_free(c);
    }
    if (nr == 0)
        pr__rb_str(b, "<p class=\"meta\">No reliability diagram or quality over time: the "
                      "current rows need labels and a model.</p>\n");
    pr__rb_str(b, "</section>\n");
    return s;
}

/* ---------------------------------------------------------------- page */

pr_status pr__report_html(const pr_report *r, char **out, size_t *len, pr_err *err) {
    *out = NULL;
    *len = 0;
    pr_report_field *f = NULL;
    uint32_t nf = 0;
    pr_status s = pr_report_fields(r, &f, &nf, err);
    if (s != PR_OK) return s;
    pr__rbuf b = {0};
    pr__rb_str(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>");
    pr__rb_html(&b, r->title);
    pr__rb_str(&b, "</title>\n<style>\n");
    pr__rb_str(&b, css);
    pr__rb_str(&b, "</style></head><body>\n<h1>");
    pr__rb_html(&b, r->title);
    pr__rb_str(&b, "</h1>\n<p class=\"meta\">");
    if (r->generated) {
        pr__rb_str(&b, "Generated ");
        put_time(&b, r->generated);
        pr__rb_str(&b, " by pronto monitor report. ");
    }
    if (r->model) {
        pr__rb_str(&b, "Current rows scored by ");
        pr__rb_html(&b, r->model);
        pr__rb_str(&b, ".");
    }
    pr__rb_str(&b, "</p>\n");
    summary(&b, r, f, nf);
    s = drift_section(&b, r, f, nf, err);
    if (s == PR_OK) s = prediction_section(&b, r, err);
    if (s == PR_OK) s = fields_section(&b, r, f, nf, err);
    pr__rb_str(&b, "</body></html>\n");
    free(f);
    if (s != PR_OK) {
        free(b.p);
        return s;
    }
    return pr__rb_finish(&b, out, len, err);
}
