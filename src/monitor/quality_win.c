/*
 * quality_win.c: the series (model version, arm) and their tumbling
 * windows of labeled impressions, the figures of a window, the snapshot.
 *
 * Each series keeps, per length (1 min, 5 min, 1 h), a ring of its
 * windows in start order, at most PR_QUALITY_KEEP_* of them: labeled
 * impressions come out of the joiner in ts order, so a new window always
 * starts after the series' last one, and the oldest is dropped (its
 * memory reused) when the ring is full. A window holds n, clicks, the sums
 * of p and of the log loss, and a histogram of p per label for the AUC
 * (PR_QUALITY_AUC_BINS bins uniform in logit(p) over [-10, 10]; bounds in
 * quality.h). A series idle for PR_QUALITY_SERIES_IDLE_MS of event time
 * gives its slot (and its window memory) to a new one when all are taken.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/quality_int.h"

const int64_t pr__qg_len[PR__QG_N] = {60000, 300000, 3600000};
const char *const pr__qg_name[PR__QG_N] = {"1m", "5m", "1h"};
static const uint32_t qg_keep[PR__QG_N] = {PR_QUALITY_KEEP_1M, PR_QUALITY_KEEP_5M,
                                           PR_QUALITY_KEEP_1H};

static void copy_name(char *dst, const char *src) {
    size_t n = strlen(src);
    if (n > PR_QUALITY_NAME_MAX - 1) n = PR_QUALITY_NAME_MAX - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

uint32_t pr__quality_series(pr_quality *q, const char *version, const char *arm) {
    char v[PR_QUALITY_NAME_MAX], a[PR_QUALITY_NAME_MAX];
    copy_name(v, version);
    copy_name(a, arm);
    if (q->last_series < q->n_series) {
        pr__qseries *s = &q->series[q->last_series];
        if (!strcmp(s->version, v) && !strcmp(s->arm, a)) return q->last_series;
    }
    for (uint32_t i = 0; i < q->n_series; i++)
        if (!strcmp(q->series[i].version, v) && !strcmp(q->series[i].arm, a))
            return q->last_series = i;
    uint32_t i = q->n_series;
    if (i == q->o.max_series) { /* the longest idle one, if idle long enough */
        for (uint32_t k = 0; k < q->n_series; k++)
            if (q->series[k].last_ts < q->clock - PR_QUALITY_SERIES_IDLE_MS &&
                (i == q->n_series || q->series[k].last_ts < q->series[i].last_ts))
                i = k;
        if (i == q->n_series) return UINT32_MAX;
        for (int g = 0; g < PR__QG_N; g++) q->series[i].ring[g].head = q->series[i].ring[g].n = 0;
        q->series[i].gen++;
    }
    pr__qseries *s = &q->series[i];
    memcpy(s->version, v, sizeof v);
    memcpy(s->arm, a, sizeof a);
    s->last_ts = q->clock;
    if (i < q->n_series) return q->last_series = i;
    for (int g = 0; g < PR__QG_N; g++) {
        s->ring[g].w = calloc(qg_keep[g], sizeof *s->ring[g].w);
        if (!s->ring[g].w) {
            for (int k = 0; k < g; k++) free(s->ring[k].w);
            return UINT32_MAX;
        }
        s->ring[g].cap = qg_keep[g];
    }
    return q->last_series = q->n_series++;
}

void pr__quality_series_free(pr_quality *q) {
    for (uint32_t i = 0; q->series && i < q->n_series; i++)
        for (int g = 0; g < PR__QG_N; g++) {
            pr__qring *r = &q->series[i].ring[g];
            for (uint32_t k = 0; k < r->cap; k++) free(r->w[k]);
            free(r->w);
        }
}

static uint32_t p_bin(double p) {
    if (!(p > 0)) return 0;
    if (p >= 1) return PR_QUALITY_AUC_BINS - 1;
    double z = log(p / (1 - p));
    double b = floor((z + 10.0) / 20.0 * PR_QUALITY_AUC_BINS);
    if (b < 0) return 0;
    if (b > PR_QUALITY_AUC_BINS - 1) return PR_QUALITY_AUC_BINS - 1;
    return (uint32_t)b;
}

/* The window of ring r starting at start: the last one, or a new one. */
static pr__qwin *window_at(pr_quality *q, pr__qring *r, int64_t start) {
    if (r->n) {
        pr__qwin *last = r->w[(r->head + r->n - 1) % r->cap];
        if (last->start == start) return last;
        if (last->start > start) { /* never: the joiner emits in ts order */
            for (uint32_t k = 0; k < r->n; k++) {
                pr__qwin *w = r->w[(r->head + k) % r->cap];
                if (w->start == start) return w;
            }
            return NULL;
        }
    }
    if (r->n == r->cap) { /* the horizon: the oldest goes, its memory reused */
        r->head = (r->head + 1) % r->cap;
        r->n--;
        q->st.windows_dropped++;
    }
    uint32_t slot = (r->head + r->n) % r->cap;
    if (!r->w[slot] && !(r->w[slot] = malloc(sizeof(pr__qwin)))) return NULL;
    memset(r->w[slot], 0, sizeof(pr__qwin));
    r->w[slot]->start = start;
    r->n++;
    return r->w[slot];
}

static int64_t floor_to(int64_t t, int64_t len) {
    int64_t s = t / len * len;
    return s > t ? s - len : s;
}

void pr__quality_count(pr_quality *q, uint32_t s, int64_t ts, double p, int label) {
    double pc = p < 1e-15 ? 1e-15 : p > 1 - 1e-15 ? 1 - 1e-15 : p;
    if (!(pc == pc)) pc = 0.5; /* NaN: never from a model; counted as 0.5 */
    double ll = label ? -log(pc) : -log1p(-pc);
    uint32_t bin = p_bin(p);
    if (q->series[s].last_ts < q->clock) q->series[s].last_ts = q->clock;
    for (int g = 0; g < PR__QG_N; g++) {
        pr__qwin *w = window_at(q, &q->series[s].ring[g], floor_to(ts, pr__qg_len[g]));
        if (!w) continue;
        w->n++;
        w->clicks += label != 0;
        w->sum_p += p;
        w->sum_ll += ll;
        w->sum_pq += pc * (1 - pc);
        w->hist[label != 0][bin]++;
    }
}

/* ---------------------------------------------------------------- figures */

double pr_quality_calibration_bound(double sum_p, double sum_pq, double clicks, double z) {
    if (!(sum_p > 0)) return NAN;
    double sd = sqrt(sum_pq > 0 ? sum_pq : 0), c = clicks;
    if (c > sum_p) c = fmax(sum_p, c - z * sd);
    else if (c < sum_p) c = fmin(sum_p, c + z * sd);
    return c > 0 ? sum_p / c : NAN;
}

static void figures(const pr_quality *q, const pr__qseries *s, int g, const pr__qwin *w,
                    pr_quality_window *out) {
    memset(out, 0, sizeof *out);
    out->version = s->version;
    out->arm = s->arm;
    out->start_ms = w->start;
    out->len_ms = pr__qg_len[g];
    int64_t wm;
    out->closed = q->flushed ||
                  (pr_joiner_watermark(q->j, &wm) && wm >= w->start + out->len_ms + q->o.window_ms);
    out->n = w->n;
    out->clicks = w->clicks;
    double n = (double)w->n, r = n ? (double)w->clicks / n : NAN;
    out->ctr = r;
    out->mean_p = n ? w->sum_p / n : NAN;
    out->logloss = n ? w->sum_ll / n : NAN;
    double h = (r > 0 && r < 1) ? -(r * log(r) + (1 - r) * log1p(-r)) : 0;
    out->ne = h > 0 ? out->logloss / h : NAN;
    out->calibration = r > 0 ? out->mean_p / r : NAN;
    double pos = (double)w->clicks, neg = n - pos;
    if (pos > 0 && neg > 0) {
        double below = 0, sum = 0, tie = 0;
        for (uint32_t b = 0; b < PR_QUALITY_AUC_BINS; b++) {
            double pb = w->hist[1][b], nb = w->hist[0][b];
            sum += pb * (below + 0.5 * nb);
            tie += pb * nb;
            below += nb;
        }
        out->auc = sum / (pos * neg);
        out->auc_err = 0.5 * tie / (pos * neg);
    } else {
        out->auc = NAN;
        out->auc_err = NAN;
    }
}

static int gran_of(int64_t len_ms) {
    for (int g = 0; g < PR__QG_N; g++)
        if (pr__qg_len[g] == len_ms) return g;
    return -1;
}

pr_status pr_quality_windows(const pr_quality *q, int64_t len_ms, pr_quality_window **out,
                             size_t *n, pr_err *err) {
    *out = NULL;
    *n = 0;
    int g = gran_of(len_ms);
    if (g < 0)
        return pr_err_set(err, PR_ERR_INVALID, "quality: windows are 1m, 5m or 1h, not %lld ms",
                          (long long)len_ms);
    size_t total = 0;
    for (uint32_t i = 0; i < q->n_series; i++) total += q->series[i].ring[g].n;
    if (!total) return PR_OK;
    pr_quality_window *w = malloc(total * sizeof *w);
    if (!w) return pr_err_set(err, PR_ERR_NOMEM, "out of memory for %zu windows", total);
    size_t k = 0;
    for (uint32_t i = 0; i < q->n_series; i++) {
        const pr__qring *r = &q->series[i].ring[g];
        for (uint32_t j = 0; j < r->n; j++)
            figures(q, &q->series[i], g, r->w[(r->head + j) % r->cap], &w[k++]);
    }
    *out = w;
    *n = k;
    return PR_OK;
}

static void sample(pr_quality_sample *out, size_t cap, size_t *k, const char *metric,
                   const pr_quality_window *w, const char *win, double v) {
    if (v != v) return; /* undefined: left out */
    if (*k < cap)
        out[*k] = (pr_quality_sample){metric, "", w->arm, w->version, win, v, w->n, w->start_ms};
    (*k)++;
}

size_t pr_quality_sliding(const pr_quality *q, int64_t until_ms, pr_quality_sample *out,
                          size_t cap) {
    static const int64_t lens[3] = {300000, 900000, 3600000};
    static const char *const names[3] = {"5m", "15m", "1h"};
    size_t k = 0;
    pr__qwin *sum = malloc(sizeof *sum);
    if (!sum) return 0;
    for (uint32_t i = 0; i < q->n_series; i++) {
        const pr__qseries *se = &q->series[i];
        const pr__qring *r = &se->ring[PR__QG_1M];
        for (int L = 0; L < 3; L++) {
            memset(sum, 0, sizeof *sum);
            sum->start = until_ms - lens[L];
            for (uint32_t j = 0; j < r->n; j++) {
                const pr__qwin *w = r->w[(r->head + j) % r->cap];
                pr_quality_window f;
                if (w->start < sum->start || w->start + 60000 > until_ms) continue;
                figures(q, se, PR__QG_1M, w, &f);
                if (!f.closed) continue;
                sum->n += w->n;
                sum->clicks += w->clicks;
                sum->sum_p += w->sum_p;
                sum->sum_ll += w->sum_ll;
                sum->sum_pq += w->sum_pq;
                for (int y = 0; y < 2; y++)
                    for (uint32_t b = 0; b < PR_QUALITY_AUC_BINS; b++) sum->hist[y][b] += w->hist[y][b];
            }
            if (!sum->n) continue;
            pr_quality_window w;
            figures(q, se, PR__QG_1M, sum, &w);
            w.len_ms = lens[L];
            const char *wn = names[L];
            sample(out, cap, &k, "n_labeled", &w, wn, (double)w.n);
            sample(out, cap, &k, "logloss", &w, wn, w.logloss);
            sample(out, cap, &k, "ne", &w, wn, w.ne);
            sample(out, cap, &k, "calibration", &w, wn, w.calibration);
            sample(out, cap, &k, "calibration_bound", &w, wn,
                   pr_quality_calibration_bound(sum->sum_p, sum->sum_pq, (double)sum->clicks,
                                                PR_QUALITY_BOUND_Z));
            sample(out, cap, &k, "auc", &w, wn, w.auc);
            sample(out, cap, &k, "ctr", &w, wn, w.ctr);
            sample(out, cap, &k, "mean_p", &w, wn, w.mean_p);
            sample(out, cap, &k, "auc_err", &w, wn, w.auc_err);
        }
    }
    free(sum);
    return k;
}

size_t pr_quality_snapshot(const pr_quality *q, pr_quality_sample *out, size_t cap) {
    size_t k = 0;
    for (uint32_t i = 0; i < q->n_series; i++)
        for (int g = 0; g < PR__QG_N; g++) {
            const pr__qring *r = &q->series[i].ring[g];
            for (uint32_t j = r->n; j-- > 0;) {
                pr_quality_window w;
                figures(q, &q->series[i], g, r->w[(r->head + j) % r->cap], &w);
                if (!w.closed) continue;
                const char *wn = pr__qg_name[g];
                sample(out, cap, &k, "n_labeled", &w, wn, (double)w.n);
                sample(out, cap, &k, "logloss", &w, wn, w.logloss);
                sample(out, cap, &k, "ne", &w, wn, w.ne);
                sample(out, cap, &k, "calibration", &w, wn, w.calibration);
                sample(out, cap, &k, "auc", &w, wn, w.auc);
                sample(out, cap, &k, "ctr", &w, wn, w.ctr);
                sample(out, cap, &k, "mean_p", &w, wn, w.mean_p);
                sample(out, cap, &k, "auc_err", &w, wn, w.auc_err);
                break;
            }
        }
    return k;
}
