/*
 * report_acc.c: the current side of a drift report (pronto/report.h):
 * live sketches shaped like the reference, row/label/time counts, the
 * reliability histogram and the quality-over-time slots; and the field
 * verdicts (pr_report_fields).
 *
 * Time slots: PR_REPORT_SLOTS slots of res seconds from base. The first
 * timestamped row centres the array on itself at 1 min; a row outside it
 * coarsens the slots to the first step of the ladder (1 min, 5 min, 15
 * min, 1 h, 3 h, 6 h, 12 h, 1 d, 7 d, then doubling: each an integer
 * multiple of the one before, so a slot folds whole into a coarser one)
 * at which the rows seen, that row included, span less than half the
 * array, re-centred on them: every folded slot and the row fit.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_int.h"

static const int64_t ladder[] = {60, 300, 900, 3600, 10800, 21600, 43200, 86400, 604800};
#define N_LADDER (sizeof ladder / sizeof ladder[0])

static int64_t next_res(int64_t res) {
    for (size_t i = 0; i < N_LADDER; i++)
        if (ladder[i] > res) return ladder[i];
    return res * 2;
}

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

pr_status pr_report_acc_new(const pr_profile *ref, pr_report_acc **out, pr_err *err) {
    *out = NULL;
    pr_report_acc *a = calloc(1, sizeof *a);
    if (!a) return pr_err_set(err, PR_ERR_NOMEM, "report: out of memory");
    a->ref = ref;
    a->res = ladder[0];
    pr_status s = pr_live_new(ref, &a->live, err);
    if (s != PR_OK) {
        free(a);
        return s;
    }
    *out = a;
    return PR_OK;
}

pr_status pr_report_acc_bind(pr_report_acc *a, const char *const *names, uint32_t n,
                             pr_err *err) {
    return pr_live_bind(a->live, names, n, err);
}

void pr_report_acc_free(pr_report_acc *a) {
    if (!a) return;
    pr_live_free(a->live);
    free(a);
}

uint64_t pr_report_acc_rows(const pr_report_acc *a) { return a->rows; }

static void slot_add(pr__slot *s, const pr__slot *t) {
    s->n += t->n;
    s->clicks += t->clicks;
    s->sum_p += t->sum_p;
    s->sum_ll += t->sum_ll;
}

/* Folds the slots into slots of res (a multiple of the current one),
 * centred on [q_min, q_max], which must span less than half of them. */
static void coarsen(pr_report_acc *a, int64_t res) {
    int64_t mid = a->q_min + (a->q_max - a->q_min) / 2;
    int64_t base = (floor_div(mid, res) - PR_REPORT_SLOTS / 2) * res;
    pr__slot *t = a->scratch;
    memset(t, 0, sizeof a->scratch);
    for (int64_t i = 0; i < PR_REPORT_SLOTS; i++) {
        if (!a->slots[i].n) continue;
        int64_t j = floor_div(a->base + i * a->res - base, res);
        if (j >= 0 && j < PR_REPORT_SLOTS) slot_add(&t[j], &a->slots[i]);
    }
    memcpy(a->slots, t, sizeof a->slots);
    a->res = res;
    a->base = base;
}

static void add_timed(pr_report_acc *a, int64_t ts, const pr__slot *one) {
    if (!a->has_base) {
        a->has_base = 1;
        a->base = (floor_div(ts, a->res) - PR_REPORT_SLOTS / 2) * a->res;
        a->q_min = a->q_max = ts;
    }
    if (ts < a->q_min) a->q_min = ts;
    if (ts > a->q_max) a->q_max = ts;
    int64_t i = floor_div(ts - a->base, a->res);
    if (i < 0 || i >= PR_REPORT_SLOTS) {
        /* the coarsest step whose half-array covers every row seen */
        int64_t res = next_res(a->res);
        while ((a->q_max - a->q_min) / (PR_REPORT_SLOTS / 2 - 2) >= res) {
            if (res > (int64_t)1 << 50) return; /* beyond any calendar */
            res = next_res(res);
        }
        coarsen(a, res);
        i = floor_div(ts - a->base, a->res);
        if (i < 0 || i >= PR_REPORT_SLOTS) return; /* cannot happen (see the top) */
    }
    slot_add(&a->slots[i], one);
}

void pr_report_acc_add(pr_report_acc *a, const pr_record *rec, double p) {
    a->rows++;
    pr_live_add_record(a->live, rec);
    if (rec->has_label) {
        a->labeled++;
        a->clicks += rec->label > 0.5f;
    }
    if (rec->ts != 0) {
        if (!a->with_ts++ || rec->ts < a->ts_min) a->ts_min = rec->ts;
        if (a->with_ts == 1 || rec->ts > a->ts_max) a->ts_max = rec->ts;
    }
    pr_report_acc_add_score(a, p);
    if (!isfinite(p) || !rec->has_label) return;
    double y = rec->label > 0.5f ? 1 : 0;
    double q = p < 1e-15 ? 1e-15 : p > 1 - 1e-15 ? 1 - 1e-15 : p;
    pr__slot one = {1, (uint64_t)y, p, -(y * log(q) + (1 - y) * log(1 - q))};
    slot_add(&a->all, &one);
    double z = log(q / (1 - q));
    int b = (int)floor((z + 16) * 16);
    if (b < 0) b = 0;
    if (b >= PR__REL_FINE) b = PR__REL_FINE - 1;
    a->rel[b].n++;
    a->rel[b].sum_p += p;
    a->rel[b].sum_y += y;
    if (rec->ts != 0) add_timed(a, rec->ts, &one);
}

void pr_report_acc_add_score(pr_report_acc *a, double p) {
    if (!isfinite(p)) return;
    pr_live_add_score(a->live, p);
    a->scored++;
    a->sum_p += p;
}

uint32_t pr__report_reliability(const pr_report_acc *a, pr__rel_point *out) {
    uint64_t total = a->all.n;
    if (!total) return 0;
    uint64_t target = (total + PR_REPORT_REL_BINS - 1) / PR_REPORT_REL_BINS;
    uint32_t k = 0;
    pr__rel_cell g = {0, 0, 0};
    for (int b = 0; b < PR__REL_FINE; b++) {
        g.n += a->rel[b].n;
        g.sum_p += a->rel[b].sum_p;
        g.sum_y += a->rel[b].sum_y;
        if (g.n && (g.n >= target || b == PR__REL_FINE - 1) && k < PR_REPORT_REL_BINS) {
            out[k].n = g.n;
            out[k].mean_p = g.sum_p / (double)g.n;
            out[k].rate = g.sum_y / (double)g.n;
            k++;
            memset(&g, 0, sizeof g);
        }
    }
    if (g.n && k > 0) { /* the rest joins the last group */
        pr__rel_point *l = &out[k - 1];
        double n = (double)(l->n + g.n);
        l->mean_p = (l->mean_p * (double)l->n + g.sum_p) / n;
        l->rate = (l->rate * (double)l->n + g.sum_y) / n;
        l->n += g.n;
    }
    return k;
}

uint32_t pr__report_buckets(const pr_report_acc *a, pr__bucket *out, int64_t *step) {
    *step = a->res;
    if (!a->has_base) return 0;
    int64_t st = a->res;
    while ((a->q_max - a->q_min) / st + 1 >= PR_REPORT_BUCKETS) st = next_res(st);
    *step = st;
    uint32_t k = 0;
    for (int64_t i = 0; i < PR_REPORT_SLOTS; i++) {
        if (!a->slots[i].n) continue;
        int64_t start = floor_div(a->base + i * a->res, st) * st;
        if (k == 0 || out[k - 1].start != start) {
            if (k == PR_REPORT_BUCKETS) break; /* cannot happen: the span fits */
            out[k].start = start;
            memset(&out[k].s, 0, sizeof out[k].s);
            k++;
        }
        slot_add(&out[k - 1].s, &a->slots[i]);
    }
    return k;
}

void pr__report_duration(int64_t s, char *buf, size_t cap) {
    if (s % 86400 == 0) snprintf(buf, cap, "%lld d", (long long)(s / 86400));
    else if (s % 3600 == 0) snprintf(buf, cap, "%lld h", (long long)(s / 3600));
    else if (s % 60 == 0) snprintf(buf, cap, "%lld min", (long long)(s / 60));
    else snprintf(buf, cap, "%lld s", (long long)s);
}

/* ---------------------------------------------------------------- report */

static void side_of_profile(pr_report_side *s, const pr_profile *p) {
    pr_profile_summary sum;
    pr_profile_summary_get(p, &sum);
    s->rows = sum.rows;
    s->labeled = sum.labeled;
    s->clicks = sum.clicks;
    s->ts_min = sum.ts_min;
    s->ts_max = sum.ts_max;
    const pr_sketch *pred = pr_profile_prediction(p);
    s->mean_p = pred->n_finite ? pred->mean : NAN;
}

void pr_report_init(pr_report *r, const pr_profile *ref, const pr_report_acc *cur) {
    memset(r, 0, sizeof *r);
    r->ref = ref;
    r->cur = cur;
    r->ref_side.kind = "data";
    r->ref_side.name = "";
    side_of_profile(&r->ref_side, ref);
    r->cur_side.kind = "data";
    r->cur_side.name = "";
    r->cur_side.rows = cur->rows;
    r->cur_side.labeled = cur->labeled;
    r->cur_side.clicks = cur->clicks;
    r->cur_side.ts_min = cur->with_ts ? cur->ts_min : 0;
    r->cur_side.ts_max = cur->with_ts ? cur->ts_max : 0;
    r->cur_side.mean_p = cur->scored ? cur->sum_p / (double)cur->scored : NAN;
    pr_report_set_rules(r, NULL);
    r->title = "pronto drift report";
}

void pr_report_set_rules(pr_report *r, const pr_alert_rules *rules) {
    r->rules = rules;
    r->th.psi = pr_alert_rules_threshold(rules, "psi", NULL);
    r->th.js = pr_alert_rules_threshold(rules, "js", NULL);
    r->th.wasserstein = pr_alert_rules_threshold(rules, "wasserstein", NULL);
    r->th.missing_delta = pr_alert_rules_threshold(rules, "missing_delta", NULL);
}

/* value / threshold of one statistic (0 when unset or not judged). */
static double ratio(const pr_drift *d, unsigned bit, double v, const pr_alert_rules *rules,
                    const char *metric, const char *field) {
    if (!(d->has & bit)) return 0;
    double th = pr_alert_rules_threshold(rules, metric, field);
    double x = v / th;
    return isfinite(x) ? x : 0;
}

/* The largest value / threshold over the statistics the rules judge for
 * field: the order of the page, and >= 1 is "drifted". */
static double field_score(const pr_drift *d, const pr_alert_rules *rules, const char *field) {
    double s = 0, x;
    if ((x = ratio(d, PR_DRIFT_PSI, d->psi, rules, "psi", field)) > s) s = x;
    if ((x = ratio(d, PR_DRIFT_JS, d->js, rules, "js", field)) > s) s = x;
    if ((x = ratio(d, PR_DRIFT_WASSERSTEIN, d->wasserstein, rules, "wasserstein", field)) > s)
        s = x;
    if ((x = ratio(d, PR_DRIFT_MISSING_DELTA, d->missing_delta, rules, "missing_delta", field)) >
        s)
        s = x;
    return s;
}

static int by_score(const void *x, const void *y) {
    const pr_report_field *a = x, *b = y;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return a->column < b->column ? -1 : a->column > b->column;
}

pr_status pr_report_fields(const pr_report *r, pr_report_field **out, uint32_t *n,
                           pr_err *err) {
    *out = NULL;
    *n = 0;
    uint32_t nc = pr_profile_n_columns(r->ref);
    pr_report_field *f = calloc((size_t)nc + 1, sizeof *f);
    if (!f) return pr_err_set(err, PR_ERR_NOMEM, "report: out of memory");
    uint32_t k = 0;
    for (uint32_t c = 0; c <= nc; c++) {
        const pr_sketch *ref = c < nc ? pr_profile_column(r->ref, c) : pr_profile_prediction(r->ref);
        const pr_sketch *cur = c < nc ? pr_live_column(r->cur->live, c)
                                      : pr_live_prediction(r->cur->live);
        if (c == nc && (ref->n == 0 || cur->n == 0)) break;
        pr_report_field *x = &f[k];
        x->column = c < nc ? c : PR_REPORT_PREDICTION;
        x->name = c < nc ? pr_profile_column_name(r->ref, c) : "prediction";
        pr_status s = pr_drift_compute(ref, cur, &x->d, err);
        if (s != PR_OK) {
            free(f);
            return s;
        }
        x->score = field_score(&x->d, r->rules, x->name);
        x->drifted = x->score >= 1;
        k++;
    }
    qsort(f, k, sizeof *f, by_score);
    *out = f;
    *n = k;
    return PR_OK;
}

