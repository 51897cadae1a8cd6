/*
 * pronto/metrics.h: offline evaluation metrics for probabilistic classifiers.
 *
 * pr_metrics accumulates (prediction, label, weight) rows and computes, at
 * the end, log loss, normalized entropy, exact ROC AUC and PR AUC (both
 * sort-based, weighted, ties counted as half), calibration and a reliability
 * table. Memory: 16 bytes per row (exact AUC needs every prediction).
 *
 *     pr_metrics *m;  pr_metrics_new(&m, &err);
 *     for each row: pr_metrics_add(m, p, label, weight);
 *     pr_metrics_report r;  pr_metrics_compute(m, &r, &err);
 *     pr_metrics_print(&r, stdout);
 *     pr_metrics_free(m);
 *
 * Labels may be fractional (a soft label y in [0,1] counts as weight*y of a
 * positive and weight*(1-y) of a negative). A value that is undefined for
 * the data (AUC when all rows have one class, NE when the base rate is 0 or
 * 1, anything with no rows) is NaN in the report, "n/a" in the table and
 * null in JSON.
 *
 * pr_logloss_acc is the cheap running log loss for progressive validation:
 * two doubles, no storage per row.
 */
#ifndef PRONTO_METRICS_H
#define PRONTO_METRICS_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "pronto/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Predictions are clamped into [PR_METRICS_P_MIN, 1 - PR_METRICS_P_MIN]
 * for log loss only (AUC uses them as given). */
#define PR_METRICS_P_MIN 1e-15
#define PR_METRICS_N_BINS 10

typedef struct pr_metrics pr_metrics;

/* out: OUT, owned by caller, free with pr_metrics_free. */
pr_status pr_metrics_new(pr_metrics **out, pr_err *err);

/* Adds one row. p: any finite score (normally a probability); label in
 * [0,1]; weight finite and >= 0. Returns PR_ERR_INVALID (row not added)
 * otherwise, PR_ERR_NOMEM if the row store cannot grow. */
pr_status pr_metrics_add(pr_metrics *m, double p, float label, float weight);

/* Appends src's rows to dst (per-thread accumulators). src is unchanged. If
 * dst cannot grow it is marked failed and pr_metrics_compute reports
 * PR_ERR_NOMEM. */
void pr_metrics_merge(pr_metrics *dst, const pr_metrics *src);

/* Rows added so far. */
uint64_t pr_metrics_rows(const pr_metrics *m);

typedef struct pr_metrics_bin {
    double lo, hi;      /* p in [lo, hi) ([0.9, 1.0] for the last bin) */
    uint64_t rows;
    double mean_p;      /* weighted mean prediction; NaN if empty */
    double observed;    /* weighted positive rate; NaN if empty */
} pr_metrics_bin;

typedef struct pr_metrics_report {
    uint64_t rows;
    double weight_sum;
    double positives;   /* weighted */
    double base_rate;   /* observed positive rate: positives / weight_sum */
    double log_loss;    /* weighted mean of -(y log p + (1-y) log(1-p)) */
    double ne;          /* normalized entropy: log_loss / H(base_rate)
                           (He et al. 2014); NaN when base rate is 0 or 1 */
    double auc;         /* exact ROC AUC, ties as half; NaN if one class */
    double pr_auc;      /* average precision (step-wise area under the
                           precision-recall curve, tied scores one step) */
    double calibration; /* mean_p / base_rate; 1 is perfectly calibrated */
    double mean_p;      /* weighted mean prediction */
    pr_metrics_bin bins[PR_METRICS_N_BINS]; /* reliability table: 10 equal-
                           width bins of p (clamped into [0,1]) */
} pr_metrics_report;

/* Computes the report over every row added. Sorts m's rows in place (later
 * adds and computes are still fine). Fails only with PR_ERR_NOMEM (sort
 * scratch, or an earlier failed merge). */
pr_status pr_metrics_compute(pr_metrics *m, pr_metrics_report *out, pr_err *err);

/* Aligned human-readable table into out. */
void pr_metrics_print(const pr_metrics_report *r, FILE *out);
/* One JSON object (jansson) into out, followed by a newline. Undefined
 * values are null. */
pr_status pr_metrics_print_json(const pr_metrics_report *r, FILE *out, pr_err *err);

/* Accepts NULL. */
void pr_metrics_free(pr_metrics *m);

/* ---------------------------------------------------------------- running
 * log loss: zero-initialise ({0}), add rows, read the weighted mean. */
typedef struct pr_logloss_acc {
    double sum;     /* weighted sum of per-row log losses */
    double weight;  /* sum of weights */
} pr_logloss_acc;

/* The log loss of one prediction p (clamped) for label y in [0,1]. */
static inline double pr_logloss_row(double p, double y) {
    if (p < PR_METRICS_P_MIN) p = PR_METRICS_P_MIN;
    if (p > 1.0 - PR_METRICS_P_MIN) p = 1.0 - PR_METRICS_P_MIN;
    return -(y * log(p) + (1.0 - y) * log1p(-p));
}
static inline void pr_logloss_add(pr_logloss_acc *acc, double p, double y, double w) {
    acc->sum += w * pr_logloss_row(p, y);
    acc->weight += w;
}
/* NaN when nothing (or only zero weight) was added. */
static inline double pr_logloss_value(const pr_logloss_acc *acc) {
    return acc->weight > 0 ? acc->sum / acc->weight : NAN;
}

#ifdef __cplusplus
}
#endif
#endif
