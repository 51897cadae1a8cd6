/*
 * monitor.c: drift monitoring and alerts in `pronto serve` (on unless
 * --monitor off): live profiles filled by the HTTP workers without locks,
 * event-time windows closed on the monitor thread, drift against each
 * arm's reference profile, quality samples from quality.c, and the alert
 * rules evaluated once per closed minute (docs/monitoring.md "In the
 * server"; the picture is in monitor_int.h).
 *
 * Hot path (pr__monitor_observe, after the answer is written): the worker
 * announces the epoch it writes in (`in` = 2e+1, a seq_cst store then a
 * re-read of the epoch), finds the slot of the request's event-time
 * minute in its half e & 1 for the arm, adds the request (count, latency
 * bucket, the answered p) and, when the model has a profile and the
 * request is sampled (take_rows: a budget of rows per minute), up to
 * PR__MON_ROWS of the answered candidates' assembled rows (a uniform pick:
 * a random start in rank order) and every answered p to the slot's
 * pr_live; then `in` = 0. No lock, no allocation but the first time a
 * slot serves a model. The monitor flips the epoch (seq_cst) and waits
 * until no worker is `in` the old one: by the total order of seq_cst
 * operations, a worker that read the old epoch after announcing itself is
 * seen by that wait, so the old halves are then the monitor's alone.
 *
 * Clock: windows follow event time, the request's `ts` when it has one
 * (a replay at simulated time), else the server's clock. The monitor's
 * clock is the largest ts harvested; while the last requests came without
 * ts (live traffic) it also follows the server's clock when idle, so empty
 * minutes close (requests_per_s 0). A minute closes once the clock is past
 * its end by PR__MON_GRACE_MS; rows of a closed minute come too late
 * (counted); rows more than PR__MON_OPEN minutes ahead of the clock are
 * dropped (counted) unless nothing else came in two ticks in a row, in
 * which case the clock jumps to them (a replay that skipped time), and a
 * ts past the server's clock by more than --max-event-skew never counts:
 * a lone request with a wrong ts cannot drag the clock along.
 *
 * Windows: every closed minute is kept (PR__MON_KEEP of them); the 5m and
 * 1h figures are the merge of the minutes in the 5 or 60 minutes ending
 * with the one just closed (sliding, recomputed every minute, so a rule
 * on a 5m window with `for: 10m` sees ten evaluations). Each closed minute
 * produces, per arm: requests_per_s and the drift statistics of every
 * profiled field and of the prediction, for 1m, 5m and 1h; with the
 * latest quality samples, they go to pr_alerts_eval at the minute's end
 * (event time: detection delays in a replay are simulated minutes).
 *
 * Hot swap: at each tick the monitor compares every arm's model generation
 * with the one it monitors; a new one resets that arm (open and kept
 * windows, live profiles) to the new model's reference profile. Rows the
 * workers profiled for another generation are dropped (counted: swap).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve/monitor_int.h"

const char *const pr__mon_win_names[PR__MON_NWIN] = {"1m", "5m", "1h"};
const int64_t pr__mon_win_ms[PR__MON_NWIN] = {60000, 300000, 3600000};
const char *const pr__mon_drop_names[PR__MON_NDROP] = {"slots", "late", "ahead", "swap",
                                                       "memory"};

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    if (a % b != 0 && (a < 0) != (b < 0)) q--;
    return q;
}

static uint32_t ring(int64_t minute, uint32_t n) {
    int64_t r = minute % (int64_t)n;
    return (uint32_t)(r < 0 ? r + n : r);
}

static void sums_clear(pr__mon_sums *u) {
    memset(u, 0, sizeof *u);
    u->ts_max = INT64_MIN;
}

static void sums_add(pr__mon_sums *d, const pr__mon_sums *u) {
    d->requests += u->requests;
    d->rows += u->rows;
    d->scores += u->scores;
    d->p_sum += u->p_sum;
    for (int b = 0; b <= PR__LAT_BUCKETS; b++) d->lat[b] += u->lat[b];
    d->with_ts += u->with_ts;
    d->without_ts += u->without_ts;
    if (u->ts_max > d->ts_max) d->ts_max = u->ts_max;
}

double pr__mon_lat_quantile(const uint64_t *lat, double q) {
    uint64_t n = 0;
    for (int b = 0; b <= PR__LAT_BUCKETS; b++) n += lat[b];
    if (!n) return NAN;
    double want = q * (double)n, cum = 0;
    for (int b = 0; b <= PR__LAT_BUCKETS; b++) {
        if (!lat[b]) continue;
        if (cum + (double)lat[b] >= want) {
            if (b == PR__LAT_BUCKETS) return pr__lat_bounds_us[PR__LAT_BUCKETS - 1];
            double lo = b ? pr__lat_bounds_us[b - 1] : 0, hi = pr__lat_bounds_us[b];
            return lo + (hi - lo) * (want - cum) / (double)lat[b];
        }
        cum += (double)lat[b];
    }
    return pr__lat_bounds_us[PR__LAT_BUCKETS - 1];
}

/* ---------------------------------------------------------------- hot path */

static pr__mon_w *worker_part(pr_server *s, pr__worker *w) {
    pr__mon_w *mw = w->mon;
    if (mw) return mw;
    uint32_t n = s->mon->n_arms;
    mw = calloc(1, sizeof *mw);
    if (!mw) return NULL;
    mw->n_arms = n;
    mw->rng = (uint64_t)(uintptr_t)w ^ 0x9e3779b97f4a7c15ull;
    if (s->o.monitor_rows) { /* the workers share the budget */
        uint32_t th = s->o.threads ? s->o.threads : 1;
        mw->rows_per_min = s->o.monitor_rows / th;
        if (mw->rows_per_min < PR__MON_ROWS) mw->rows_per_min = PR__MON_ROWS;
    }
    if (!(mw->rate = calloc(n, sizeof *mw->rate))) {
        free(mw);
        return NULL;
    }
    for (uint32_t a = 0; a < n; a++) {
        mw->rate[a].minute = PR__MON_EMPTY;
        mw->rate[a].keep = UINT64_MAX;
    }
    for (int h = 0; h < 2; h++) {
        if (!(mw->half[h] = calloc(n, sizeof *mw->half[h]))) {
            free(mw->half[0]);
            free(mw->rate);
            free(mw);
            return NULL;
        }
        for (uint32_t a = 0; a < n; a++)
            for (int k = 0; k < PR__MON_SLOTS; k++) {
                mw->half[h][a].slot[k].minute = PR__MON_EMPTY;
                sums_clear(&mw->half[h][a].slot[k].sums);
            }
    }
    __atomic_store_n(&w->mon, mw, __ATOMIC_RELEASE); /* the monitor reads the list */
    return mw;
}

static uint64_t next_rand(uint64_t *x) { /* xorshift64 */
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Sampling: whether this request's rows (and its p values) go to the
 * live profile. The rows the worker was offered in the previous minute
 * set the share it profiles in this one: all while under its budget
 * (rows_per_min), else budget / offered of the requests, drawn at random,
 * so a window's rows stay a uniform sample of its traffic; a minute that
 * has taken twice its budget (a surge, or the first minute) takes no
 * more. The cost is then bounded by the budget whatever the traffic,
 * while a modest traffic (the simulator's 20 requests/s) is profiled
 * whole. A request of an earlier minute than the worker's latest (out
 * of order ts) is judged by the latest minute's share. */
static int take_rows(pr__mon_w *mw, pr__mon_rate *rt, int64_t minute, uint32_t nr) {
    uint64_t budget = mw->rows_per_min;
    if (!budget) return 1;
    if (rt->minute == PR__MON_EMPTY || minute > rt->minute) {
        uint64_t prev = rt->minute != PR__MON_EMPTY && minute == rt->minute + 1 ? rt->offered : 0;
        rt->minute = minute;
        rt->prev_offered = prev;
        rt->offered = rt->taken = 0;
        if (prev <= budget) {
            rt->keep = UINT64_MAX;
        } else { /* budget / prev of 2^64, without overflow */
            double share = (double)budget / (double)prev;
            rt->keep = (uint64_t)(share * 9223372036854775808.0) * 2;
        }
    }
    rt->offered += nr;
    if (rt->taken >= 2 * budget) return 0;
    if (rt->keep != UINT64_MAX && next_rand(&mw->rng) > rt->keep) return 0;
    rt->taken += nr;
    return 1;
}

/* Makes sl's live for m's profile (first use, or after the monitor freed
 * the one of an older model). 0 on success. */
static int slot_live(pr_server *s, pr__mon_slot *sl, const pr__model_ref *m) {
    pr_err err;
    pr_live *l = NULL;
    if (pr_live_new(m->profile->p, &l, &err) != PR_OK) return -1;
    if (pr_live_bind(l, s->col_names, s->n_cols, &err) != PR_OK) {
        pr_live_free(l);
        return -1;
    }
    pr__profile_ref_retain(m->profile);
    sl->live = l;
    sl->pref = m->profile;
    sl->gen = m->generation;
    return 0;
}

void pr__monitor_observe(pr_server *s, pr__worker *w, const pr__arm *a, const pr__model_ref *m,
                         const pr__predict_req *q, const pr_fs_row *rows,
                         const pr__scored *ranked, int64_t ts, uint64_t ns) {
    pr__mon *M = s->mon;
    if (!M) return;
    pr__mon_w *mw = worker_part(s, w);
    uint32_t ai = (uint32_t)(a - s->arms);
    if (!mw || ai >= mw->n_arms) return;
    /* a ts further ahead of the server's clock than an event may be
     * (--max-event-skew) never counts: it would drag the clock along */
    int far = q->has_ts && ts > pr__now_ms() + s->o.max_event_skew_ms;
    uint64_t e;
    for (;;) {
        e = __atomic_load_n(&M->epoch, __ATOMIC_SEQ_CST);
        __atomic_store_n(&mw->in, 2 * e + 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&M->epoch, __ATOMIC_SEQ_CST) == e) break;
    }
    pr__mon_half *h = &mw->half[e & 1][ai];
    if (far) {
        h->dropped[PR__MON_DROP_AHEAD]++;
        goto out;
    }
    int64_t minute = floor_div(ts, PR__MON_MINUTE);
    pr__mon_slot *sl = NULL, *fr = NULL;
    for (int k = 0; k < PR__MON_SLOTS; k++) {
        if (h->slot[k].minute == minute) {
            sl = &h->slot[k];
            break;
        }
        if (!fr && h->slot[k].minute == PR__MON_EMPTY) fr = &h->slot[k];
    }
    if (!sl && fr) {
        sl = fr;
        sl->minute = minute;
    }
    if (!sl) { /* more minutes in one tick than slots: a replay too fast */
        h->dropped[PR__MON_DROP_SLOTS]++;
        goto out;
    }
    pr__mon_sums *u = &sl->sums;
    uint32_t k = q->top_k && q->top_k < q->n ? q->top_k : q->n; /* answered */
    u->requests++;
    double us = (double)ns / 1000.0;
    unsigned b = 0;
    while (b < PR__LAT_BUCKETS && us > pr__lat_bounds_us[b]) b++;
    u->lat[b]++;
    if (q->has_ts) u->with_ts++;
    else u->without_ts++;
    if (ts > u->ts_max) u->ts_max = ts;
    for (uint32_t r = 0; r < k; r++)
        if (isfinite(ranked[r].p)) {
            u->p_sum += ranked[r].p;
            u->scores++;
        }
    if (!m->profile || !k) goto out;
    if (sl->gen != m->generation) {
        if (sl->live) { /* made for another model: the monitor frees it */
            h->dropped[PR__MON_DROP_SWAP]++;
            goto out;
        }
        if (slot_live(s, sl, m) != 0) {
            h->dropped[PR__MON_DROP_MEM]++;
            goto out;
        }
    }
    uint32_t nr = k < PR__MON_ROWS ? k : PR__MON_ROWS;
    if (!take_rows(mw, &mw->rate[ai], minute, nr)) goto out;
    uint32_t start = k > nr ? (uint32_t)(next_rand(&mw->rng) % k) : 0;
    for (uint32_t j = 0; j < nr; j++)
        pr_live_add_record(sl->live, &rows[ranked[(start + j) % k].candidate].rec);
    for (uint32_t r = 0; r < k; r++) pr_live_add_score(sl->live, ranked[r].p);
    u->rows += nr;
out:
    __atomic_store_n(&mw->in, 0, __ATOMIC_RELEASE);
}

void pr__monitor_worker_free(pr__mon_w *mw) {
    if (!mw) return;
    for (int h = 0; h < 2; h++) {
        for (uint32_t a = 0; a < mw->n_arms; a++)
            for (int k = 0; k < PR__MON_SLOTS; k++) {
                pr__mon_slot *sl = &mw->half[h][a].slot[k];
                pr_live_free(sl->live);
                pr__profile_ref_release(sl->pref);
            }
        free(mw->half[h]);
    }
    free(mw->rate);
    free(mw);
}

/* ---------------------------------------------------------------- arms */

static void acc_free(pr__mon_acc *c) {
    pr_live_free(c->live);
    c->live = NULL;
    c->start_ms = PR__MON_EMPTY;
    sums_clear(&c->sums);
}

/* Monitors arm ma on model r (borrowed for the call): every window starts
 * over on r's reference profile. Monitor thread (or start). */
static void arm_switch(pr__mon *M, pr__mon_arm *ma, const pr__model_ref *r) {
    pr__profile_ref *old = ma->pref;
    pthread_mutex_lock(&M->mu);
    for (int i = 0; i < PR__MON_OPEN; i++) acc_free(&ma->open[i]);
    for (int i = 0; i < PR__MON_KEEP; i++) acc_free(&ma->kept[i]);
    pr_live_free(ma->roll);
    ma->roll = NULL;
    for (int w = 0; w < PR__MON_NWIN; w++) {
        free(ma->res[w].fd);
        memset(&ma->res[w], 0, sizeof ma->res[w]);
    }
    ma->gen = r->generation;
    ma->pref = r->profile;
    if (ma->pref) pr__profile_ref_retain(ma->pref);
    ma->prof = r->profile ? r->profile->p : NULL;
    ma->n_cols = ma->prof ? pr_profile_n_columns(ma->prof) : 0;
    snprintf(ma->version, sizeof ma->version, "%s", r->reg_version[0] ? r->reg_version : r->version);
    snprintf(ma->model_version, sizeof ma->model_version, "%s", r->version);
    snprintf(ma->why_off, sizeof ma->why_off, "%s", r->profile ? "" : r->profile_why);
    if (ma->prof)
        for (int w = 0; w < PR__MON_NWIN; w++)
            if (!(ma->res[w].fd = calloc(ma->n_cols + 1, sizeof *ma->res[w].fd))) {
                ma->prof = NULL; /* no memory for the figures: drift off */
                snprintf(ma->why_off, sizeof ma->why_off, "out of memory");
            }
    pthread_mutex_unlock(&M->mu);
    pr__profile_ref_release(old);
}

/* ---------------------------------------------------------------- windows */

typedef struct samples {
    pr_metric_sample *v;
    size_t n, cap;
} samples;

static void sample_add(samples *S, const char *metric, const char *field, const char *arm,
                       const char *version, const char *window, double value, uint64_t n) {
    if (S->n == S->cap) {
        size_t cap = S->cap ? 2 * S->cap : 256;
        pr_metric_sample *v = realloc(S->v, cap * sizeof *v);
        if (!v) return;
        S->v = v;
        S->cap = cap;
    }
    S->v[S->n++] = (pr_metric_sample){metric, field, arm, version, window, value, n};
}

/* value / threshold of one statistic, the threshold the alert rules set
 * for the field (0 when the statistic is unset or no rule judges it). */
static double ratio(const pr_drift *d, unsigned bit, double v, const pr_alert_rules *rules,
                    const char *metric, const char *field) {
    if (!(d->has & bit)) return 0;
    double x = v / pr_alert_rules_threshold(rules, metric, field);
    return isfinite(x) ? x : 0;
}

/* The worst-first order of /v1/monitor: the largest value / threshold over
 * the statistics the rules judge (a monitors file changes it). */
static double drift_score(const pr_drift *d, const pr_alert_rules *rules, const char *field) {
    static const struct {
        unsigned bit;
        const char *metric;
    } st[] = {{PR_DRIFT_PSI, "psi"},
              {PR_DRIFT_JS, "js"},
              {PR_DRIFT_WASSERSTEIN, "wasserstein"},
              {PR_DRIFT_MISSING_DELTA, "missing_delta"},
              {PR_DRIFT_UNSEEN_SHARE, "unseen_share"}};
    const double v[] = {d->psi, d->js, d->wasserstein, d->missing_delta, d->unseen_share};
    double x = 0;
    for (size_t i = 0; i < sizeof st / sizeof st[0]; i++)
        x = fmax(x, ratio(d, st[i].bit, v[i], rules, st[i].metric, field));
    return x;
}

static int by_score_desc(const void *x, const void *y) {
    const pr__mon_fd *a = x, *b = y;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return strcmp(a->field, b->field);
}

/* The figures of window w of arm ma over sums u and live l (NULL: no
 * profile), [start, end); published under mu; samples into S. */
static void publish(pr__mon *M, pr__mon_arm *ma, int w, int64_t start, int64_t end,
                    const pr__mon_sums *u, const pr_live *l, samples *S) {
    pr__mon_res *r = &ma->res[w];
    const char *arm = M->s->reg ? ma->arm->alias : "";
    const char *win = pr__mon_win_names[w];
    double secs = (double)(end - start) / 1000.0;
    pthread_mutex_lock(&M->mu);
    r->valid = 1;
    r->start_ms = start;
    r->end_ms = end;
    r->sums = *u;
    r->rps = (double)u->requests / secs;
    r->p50_us = pr__mon_lat_quantile(u->lat, 0.5);
    r->p99_us = pr__mon_lat_quantile(u->lat, 0.99);
    r->pred_mean = u->scores ? u->p_sum / (double)u->scores : NAN;
    r->n_fd = 0;
    if (l && r->fd) {
        for (uint32_t c = 0; c <= ma->n_cols; c++) {
            pr__mon_fd *f = &r->fd[r->n_fd];
            pr_err err;
            const pr_sketch *ref = c < ma->n_cols ? pr_profile_column(ma->prof, c)
                                                  : pr_profile_prediction(ma->prof);
            const pr_sketch *live = c < ma->n_cols ? pr_live_column(l, c) : pr_live_prediction(l);
            if (pr_drift_compute(ref, live, &f->d, &err) != PR_OK || !f->d.has) continue;
            f->field = c < ma->n_cols ? pr_profile_column_name(ma->prof, c) : "prediction";
            f->score = drift_score(&f->d, M->alerts ? pr_alerts_rules(M->alerts) : NULL,
                                   f->field);
            r->n_fd++;
        }
        qsort(r->fd, r->n_fd, sizeof *r->fd, by_score_desc);
    }
    pthread_mutex_unlock(&M->mu);
    /* the monitor thread is the only writer: reading r without mu is safe */
    sample_add(S, "requests_per_s", "", arm, ma->version, win, r->rps, u->requests);
    if (ma->prof) { /* answered candidates against the reference's rows at these hours */
        double e = pr_profile_expected_rows(ma->prof, start, end);
        if (e > 0)
            sample_add(S, "traffic_ratio", "", arm, ma->version, win, (double)u->scores / e,
                       u->requests);
    }
    for (uint32_t i = 0; i < r->n_fd; i++) {
        const char *names[PR_DRIFT_N_STATS];
        double v[PR_DRIFT_N_STATS];
        int k = pr_drift_samples(&r->fd[i].d, names, v);
        for (int j = 0; j < k; j++)
            sample_add(S, names[j], r->fd[i].field, arm, ma->version, win, v[j], r->fd[i].d.n);
    }
}

/* Closes the minute starting at start for arm ma: keeps it, computes 1m,
 * 5m and 1h ending with it. */
static void close_arm_minute(pr__mon *M, pr__mon_arm *ma, int64_t start, samples *S) {
    int64_t minute = floor_div(start, PR__MON_MINUTE), end = start + PR__MON_MINUTE;
    pr__mon_acc *o = &ma->open[ring(minute, PR__MON_OPEN)];
    pr__mon_acc *k = &ma->kept[ring(minute, PR__MON_KEEP)];
    k->start_ms = start;
    if (o->start_ms == start) { /* the open window becomes the kept one */
        pr_live *t = k->live;
        k->sums = o->sums;
        k->live = o->live;
        o->live = t;
    } else { /* nothing came in this minute */
        sums_clear(&k->sums);
        if (k->live) pr_live_reset(k->live);
    }
    o->start_ms = PR__MON_EMPTY;
    sums_clear(&o->sums);
    if (o->live) pr_live_reset(o->live);
    ma->rows_total += k->sums.rows;
    publish(M, ma, PR__MON_W1M, start, end, &k->sums, ma->prof ? k->live : NULL, S);
    pr__mon_hist_push(M, ma);
    for (int w = PR__MON_W5M; w < PR__MON_NWIN; w++) {
        int64_t from = end - pr__mon_win_ms[w];
        pr__mon_sums u;
        sums_clear(&u);
        pr_live *roll = NULL;
        if (ma->prof) {
            if (!ma->roll) {
                pr_err err;
                if (pr_live_new(ma->prof, &ma->roll, &err) != PR_OK) ma->roll = NULL;
            }
            roll = ma->roll;
            if (roll) pr_live_reset(roll);
        }
        for (int i = 0; i < PR__MON_KEEP; i++) {
            pr__mon_acc *c = &ma->kept[i];
            if (c->start_ms == PR__MON_EMPTY || c->start_ms < from || c->start_ms >= end) continue;
            sums_add(&u, &c->sums);
            if (roll && c->live) {
                pr_err err;
                (void)pr_live_merge(roll, c->live, &err); /* same profile by construction */
            }
        }
        publish(M, ma, w, from, end, &u, roll, S);
    }
}

/* Quality samples for the rules at event time now: the latest closed 1m
 * window, and 5m, 15m and 1h windows sliding over the 1m ones whose labels are
 * final by now (quality.c's thread computes them from joined outcomes, in
 * impression time). */
static void quality_samples(pr__mon *M, int64_t now, samples *S, pr_quality_sample **buf,
                            size_t *cap) {
    for (int sliding = 0; sliding < 2; sliding++) {
        size_t n = sliding ? pr__quality_sliding(M->s, now, *buf, *cap)
                           : pr__quality_snapshot(M->s, *buf, *cap);
        if (n > *cap) {
            pr_quality_sample *b = realloc(*buf, n * sizeof *b);
            if (!b) return;
            *buf = b;
            *cap = n;
            n = sliding ? pr__quality_sliding(M->s, now, *buf, *cap)
                        : pr__quality_snapshot(M->s, *buf, *cap);
            if (n > *cap) n = *cap;
        }
        for (size_t i = 0; i < n; i++) {
            const pr_quality_sample *q = &(*buf)[i];
            if (!sliding && strcmp(q->window, "1m")) continue;
            sample_add(S, q->metric, q->field, q->arm, q->version, q->window, q->value, q->n);
        }
    }
}

/* Closes the minute at M->closed_ms for every arm and evaluates the rules
 * at its end. */
static void close_minute(pr__mon *M) {
    samples S = {0};
    int64_t start = M->closed_ms;
    for (uint32_t a = 0; a < M->n_arms; a++) close_arm_minute(M, &M->arm[a], start, &S);
    pr_quality_sample *qb = NULL;
    size_t qcap = 0;
    quality_samples(M, start + PR__MON_MINUTE, &S, &qb, &qcap);
    M->closed_ms = start + PR__MON_MINUTE;
    __atomic_add_fetch(&M->windows_closed, 1, __ATOMIC_RELAXED);
    if (M->alerts) {
        pr_alerts_eval(M->alerts, start + PR__MON_MINUTE, S.v, S.n);
        M->evals++;
    }
    free(qb);
    free(S.v);
}

static int any_open(const pr__mon *M) {
    for (uint32_t a = 0; a < M->n_arms; a++)
        for (int i = 0; i < PR__MON_OPEN; i++)
            if (M->arm[a].open[i].start_ms != PR__MON_EMPTY) return 1;
    return 0;
}

/* Closes minutes until closed_ms reaches target (a minute boundary). A
 * long stretch with nothing open is skipped but for its last 5 minutes. */
static void advance_to(pr__mon *M, int64_t target) {
    while (M->closed_ms < target) {
        if (target - M->closed_ms > 120 * PR__MON_MINUTE && !any_open(M))
            M->closed_ms = target - 5 * PR__MON_MINUTE;
        close_minute(M);
    }
}

/* ---------------------------------------------------------------- harvest */

/* Adds slot sl (a worker's, now the monitor's) to arm ma's open window of
 * its minute, or counts it late or ahead; then empties it. */
static void harvest_slot(pr__mon *M, pr__mon_arm *ma, pr__mon_slot *sl, pr__mon_sums *tick) {
    int64_t start = sl->minute * PR__MON_MINUTE;
    int ahead = start >= M->closed_ms + PR__MON_OPEN * PR__MON_MINUTE;
    if (start < M->closed_ms || ahead) {
        __atomic_add_fetch(&M->dropped[ahead ? PR__MON_DROP_AHEAD : PR__MON_DROP_LATE],
                           sl->sums.requests, __ATOMIC_RELAXED);
    } else {
        pr__mon_acc *o = &ma->open[ring(sl->minute, PR__MON_OPEN)];
        if (o->start_ms != start) {
            o->start_ms = start;
            sums_clear(&o->sums);
            if (o->live) pr_live_reset(o->live);
        }
        pr__mon_sums u = sl->sums;
        if (sl->live && sl->gen == ma->gen && ma->prof) {
            pr_err err;
            if (!o->live && pr_live_new(ma->prof, &o->live, &err) != PR_OK) o->live = NULL;
            if (o->live) (void)pr_live_merge(o->live, sl->live, &err);
        } else if (sl->sums.rows) { /* profiled for another model version */
            __atomic_add_fetch(&M->dropped[PR__MON_DROP_SWAP], sl->sums.requests,
                               __ATOMIC_RELAXED);
            u.rows = 0;
        }
        sums_add(&o->sums, &u);
        sums_add(tick, &sl->sums);
    }
    sl->minute = PR__MON_EMPTY;
    sums_clear(&sl->sums);
    if (sl->live) pr_live_reset(sl->live);
}

/* Frees a slot's live made for another model than the arm's (the
 * reference released here, on the monitor thread). */
static void slot_prune(const pr__mon_arm *ma, pr__mon_slot *sl) {
    if (sl->live && sl->gen != ma->gen) {
        pr_live_free(sl->live);
        sl->live = NULL;
        pr__profile_ref_release(sl->pref);
        sl->pref = NULL;
        sl->gen = 0;
    }
}

/* The worker parts (the list only grows while the server runs). */
static size_t worker_parts(pr_server *s, pr__mon_w ***out) {
    size_t n = 0, cap = 0;
    pr__mon_w **v = NULL;
    pthread_mutex_lock(&s->workers_mu);
    for (pr__worker *w = s->workers; w; w = w->next) {
        pr__mon_w *mw = __atomic_load_n(&w->mon, __ATOMIC_ACQUIRE);
        if (!mw) continue;
        if (n == cap) {
            size_t c = cap ? 2 * cap : 8;
            pr__mon_w **x = realloc(v, c * sizeof *x);
            if (!x) break;
            v = x;
            cap = c;
        }
        v[n++] = mw;
    }
    pthread_mutex_unlock(&s->workers_mu);
    *out = v;
    return n;
}

static void mon_tick(pr_server *s) {
    pr__mon *M = s->mon;
    /* Not lowered to nice +10 as the job threads are: a tick is a few
     * merges, but a starved monitor leaves the workers without free
     * slots (counted as dropped) when a replay moves fast. */
    /* a new model version on an arm: its windows start over */
    for (uint32_t a = 0; a < M->n_arms; a++) {
        pr__model_ref *r = pr__holder_acquire(&M->arm[a].arm->holder);
        if (r && r->generation != M->arm[a].gen) arm_switch(M, &M->arm[a], r);
        pr__model_ref_release(r);
    }
    pr__mon_w **mws;
    size_t n = worker_parts(s, &mws);
    uint64_t old = __atomic_fetch_add(&M->epoch, 1, __ATOMIC_SEQ_CST);
    for (size_t i = 0; i < n; i++)
        while (__atomic_load_n(&mws[i]->in, __ATOMIC_SEQ_CST) == 2 * old + 1) {
            struct timespec t = {0, 20000};
            nanosleep(&t, NULL);
        }
    /* the halves old & 1 are the monitor's until the next flip */
    int h = (int)(old & 1);
    int64_t first = INT64_MAX, ahead_min = INT64_MAX;
    uint64_t in_range = 0, ahead = 0;
    for (size_t i = 0; i < n; i++)
        for (uint32_t a = 0; a < mws[i]->n_arms && a < M->n_arms; a++) {
            pr__mon_half *hf = &mws[i]->half[h][a];
            for (int k = 0; k < PR__MON_SLOTS; k++) {
                pr__mon_slot *sl = &hf->slot[k];
                if (sl->minute == PR__MON_EMPTY) continue;
                int64_t st = sl->minute * PR__MON_MINUTE;
                if (st < first) first = st;
                if (M->has_clock && st >= M->closed_ms + PR__MON_OPEN * PR__MON_MINUTE) {
                    ahead += sl->sums.requests;
                    if (st < ahead_min) ahead_min = st;
                } else {
                    in_range += sl->sums.requests;
                }
            }
            for (int r = 0; r < PR__MON_NDROP; r++) {
                __atomic_add_fetch(&M->dropped[r], hf->dropped[r], __ATOMIC_RELAXED);
                hf->dropped[r] = 0;
            }
        }
    if (!M->has_clock && first != INT64_MAX) {
        M->has_clock = 1;
        M->closed_ms = first;
        M->clock_ms = first;
    } else if (ahead && !in_range) {
        /* only requests far ahead, a second tick in a row: time jumped (a
         * replay skipped a quiet stretch): follow it. One tick is not
         * enough: a lone request with a wrong ts would move the clock. */
        if (++M->ahead_ticks >= 2) {
            advance_to(M, ahead_min - (PR__MON_OPEN / 2) * PR__MON_MINUTE);
            M->ahead_ticks = 0;
        }
    } else if (in_range) {
        M->ahead_ticks = 0;
    }
    pr__mon_sums tick;
    sums_clear(&tick);
    for (size_t i = 0; i < n; i++)
        for (uint32_t a = 0; a < mws[i]->n_arms && a < M->n_arms; a++) {
            pr__mon_half *hf = &mws[i]->half[h][a];
            for (int k = 0; k < PR__MON_SLOTS; k++) {
                pr__mon_slot *sl = &hf->slot[k];
                if (sl->minute != PR__MON_EMPTY) harvest_slot(M, &M->arm[a], sl, &tick);
                slot_prune(&M->arm[a], sl);
            }
        }
    free(mws);
    if (tick.without_ts) M->replay = 0;
    else if (tick.with_ts) M->replay = 1;
    if (M->has_clock) {
        if (tick.requests && tick.ts_max > M->clock_ms) M->clock_ms = tick.ts_max;
        if (!M->replay) {
            int64_t now = pr__now_ms();
            if (now > M->clock_ms) M->clock_ms = now;
        }
        int64_t target = floor_div(M->clock_ms - PR__MON_GRACE_MS, PR__MON_MINUTE) * PR__MON_MINUTE;
        advance_to(M, target);
    }
    pthread_mutex_lock(&M->mu);
    M->pub_has_clock = M->has_clock;
    M->pub_clock_ms = M->clock_ms;
    M->pub_closed_ms = M->closed_ms;
    M->pub_replay = M->replay;
    pthread_mutex_unlock(&M->mu);
}

/* ---------------------------------------------------------------- life */

static void on_transition(void *ctx, const pr_alert_transition *t) {
    pr__mon *M = ctx;
    pr__mon_note_transition(M, t);
    if (M->webhook) pr_webhook_on_transition(M->webhook, t);
    if (!M->s->o.quiet) {
        char sum[256];
        pr_alert_transition_summary(t, sum, sizeof sum);
        pr_log(t->to == PR_ALERT_STATE_FIRING ? PR_LOG_WARN : PR_LOG_INFO,
               "serve: alert %s %s -> %s: %s", t->rule->name, pr_alert_state_str(t->from),
               pr_alert_state_str(t->to), sum);
    }
}

pr_status pr__monitor_start(pr_server *s, pr_err *err) {
    if (!s->o.monitor) return PR_OK;
    pr__mon *M = calloc(1, sizeof *M);
    if (!M) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    M->s = s;
    M->n_arms = s->n_arms;
    pthread_mutex_init(&M->mu, NULL);
    for (uint32_t a = 0; a < M->n_arms; a++) {
        pr__mon_arm *ma = &M->arm[a];
        ma->arm = &s->arms[a];
        for (int i = 0; i < PR__MON_OPEN; i++) acc_free(&ma->open[i]);
        for (int i = 0; i < PR__MON_KEEP; i++) acc_free(&ma->kept[i]);
    }
    s->mon = M; /* from here pr__monitor_stop frees it */
    pr_alert_rules *rules = NULL;
    pr_status st;
    if (s->o.monitors_path) {
        st = pr_alert_rules_load(s->o.monitors_path, &rules, err);
        snprintf(M->rules_from, sizeof M->rules_from, "%s", s->o.monitors_path);
    } else {
        st = pr_alert_rules_default(&rules, err);
        snprintf(M->rules_from, sizeof M->rules_from, "defaults");
    }
    if (st != PR_OK) return st;
    M->n_rules = rules->n;
    if (s->o.alert_webhook) {
        pr_webhook_opts wo;
        pr_webhook_opts_default(&wo);
        if ((st = pr_webhook_new(s->o.alert_webhook, &wo, &M->webhook, err)) != PR_OK) {
            pr_alert_rules_free(rules);
            return st;
        }
    }
    pr_alerts_opts ao;
    pr_alerts_opts_default(&ao);
    ao.on_transition = on_transition;
    ao.ctx = M;
    char dir[PR_REGISTRY_PATH_MAX], alias[PR_REGISTRY_ID_MAX];
    if (pr_registry_uri(s->model_path, dir, alias) == 1) ao.registry_dir = dir;
    st = pr_alerts_new(rules, &ao, &M->alerts, err);
    pr_alert_rules_free(rules);
    if (st != PR_OK) return st;
    for (uint32_t a = 0; a < M->n_arms; a++) {
        pr__model_ref *r = pr__holder_acquire(&s->arms[a].holder);
        if (r) arm_switch(M, &M->arm[a], r);
        if (r && !r->profile && !s->o.quiet)
            pr_log(PR_LOG_WARN, "serve: drift is off%s%s: %s", s->arms[a].alias[0] ? " for arm " : "",
                   s->arms[a].alias, r->profile_why);
        pr__model_ref_release(r);
    }
    return pr__ticker_start(&M->tick, PR__MON_TICK_MS, mon_tick, s, "monitor", err);
}

void pr__monitor_stop(pr_server *s) {
    pr__mon *M = s->mon;
    if (!M) return;
    pr__ticker_stop(&M->tick);
    pr_alerts_free(M->alerts);
    if (M->webhook) pr_webhook_flush(M->webhook, 1000); /* the last transitions */
    pr_webhook_free(M->webhook);
    for (uint32_t a = 0; a < M->n_arms; a++) {
        pr__mon_arm *ma = &M->arm[a];
        for (int i = 0; i < PR__MON_OPEN; i++) acc_free(&ma->open[i]);
        for (int i = 0; i < PR__MON_KEEP; i++) acc_free(&ma->kept[i]);
        pr_live_free(ma->roll);
        for (int w = 0; w < PR__MON_NWIN; w++) free(ma->res[w].fd);
        pr__profile_ref_release(ma->pref);
    }
    pthread_mutex_destroy(&M->mu);
    s->mon = NULL;
    free(M);
}
