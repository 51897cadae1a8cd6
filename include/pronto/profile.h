/*
 * pronto/profile.h: the reference profile of the training data, live
 * sketches built from it, and the drift statistics between the two.
 *
 *   pr_sketch          one column's distribution: counts per bin (numeric:
 *                      quantile bins of the reference plus underflow and
 *                      overflow; categorical: the reference's top values,
 *                      "rest" and "unseen"), missing and non-finite counts,
 *                      min/max/mean/variance. A live sketch shares its
 *                      reference's shape (same edges, same top values), so
 *                      every statistic compares like with like.
 *   pr_profile         the reference: one sketch per spec input column, the
 *                      prediction sketch, base rate, rows, time span.
 *                      Written by `pronto train` into the model file
 *                      (section "profile", docs/model-format.md); immutable
 *                      once built or decoded.
 *   pr_profile_builder computes a profile from records and scores.
 *   pr_live            live sketches for every column of a profile plus the
 *                      predictions: one per worker thread, filled without
 *                      locks, merged per window.
 *   pr_drift           the drift statistics of one field (drift.c).
 *
 * A server's use (the window roll-up is the caller's):
 *
 *     pr_profile *ref;                                // NULL: drift off
 *     pr_profile_of_model(model, &ref, &err);
 *     pr_live *w[N];                                  // one per worker
 *     pr_live_new(ref, &w[i], &err);
 *     pr_live_bind(w[i], column_names, n_columns, &err);
 *     // worker i, per request (no lock, no malloc):
 *     pr_live_add_record(w[i], &rec);
 *     pr_live_add_score(w[i], p);
 *     // once a minute, after swapping the workers' instances out:
 *     pr_live_merge(win, w[i]); pr_live_reset(w[i]);
 *     for (c = 0; c < pr_profile_n_columns(ref); c++) {
 *         pr_drift d;
 *         pr_drift_compute(pr_profile_column(ref, c),
 *                          pr_live_column(win, c), &d);
 *         const char *names[PR_DRIFT_N_STATS]; double v[PR_DRIFT_N_STATS];
 *         int k = pr_drift_samples(&d, names, v);  // -> pr_metric_sample
 *     }
 *
 * Threads: a pr_profile is immutable and may be read by any number of
 * threads. A pr_live (and a pr_sketch inside one) belongs to one thread at
 * a time: the add/merge/reset calls on one instance must not run
 * concurrently; different instances of one profile never share mutable
 * state. pr_profile_builder is single-threaded. pr_drift_compute only reads.
 *
 * Statistic names (the `metric` of a monitoring sample): psi, js, ks,
 * wasserstein, chi2_p, missing_delta, unseen_share, and for the field
 * "prediction" also mean_shift. Formulas, epsilons and sample sizes:
 * docs/monitoring.md.
 */
#ifndef PRONTO_PROFILE_H
#define PRONTO_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "pronto/base.h"
#include "pronto/example.h"
#include "pronto/feature.h"
#include "pronto/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- sketch */

#define PR_SKETCH_MAX_EDGES 33      /* numeric: up to 32 bins between edges */
#define PR_SKETCH_MAX_TOP 64        /* categorical: top values kept */
#define PR_SKETCH_VALUE_MAX 32      /* bytes of a top value kept for display */

typedef enum { PR_SKETCH_NUMERIC = 1, PR_SKETCH_CATEGORICAL = 2 } pr_sketch_kind;

/* The shape a reference and its live sketches share. Immutable. */
typedef struct pr_sketch_shape {
    pr_sketch_kind kind;
    uint32_t n_bins;            /* numeric: n_edges + 1 (bin 0 = x < e[0],
                                   bin i = e[i-1] <= x < e[i], last = x >=
                                   e[n-1]); categorical: n_top + 2 (top
                                   values, rest, unseen) */
    /* numeric */
    uint32_t n_edges;           /* 0..PR_SKETCH_MAX_EDGES */
    double edges[PR_SKETCH_MAX_EDGES];  /* strictly increasing, finite */
    /* categorical */
    uint32_t n_top;             /* 0..PR_SKETCH_MAX_TOP */
    uint64_t top_hash[PR_SKETCH_MAX_TOP];           /* pr_sketch_hash */
    char top_value[PR_SKETCH_MAX_TOP][PR_SKETCH_VALUE_MAX + 1]; /* display */
    int8_t slot[256];           /* hash table over top_hash: top index or -1 */
    uint32_t bloom_log2;        /* 0: no membership filter, else its bits */
    uint32_t bloom_k;           /* probes per value */
    uint64_t *bloom;            /* owned, 2^bloom_log2 bits */
    uint64_t distinct_est;      /* distinct values estimated in the reference */
    double bloom_fp;            /* false-positive rate of the filter */
} pr_sketch_shape;

typedef struct pr_sketch {
    const pr_sketch_shape *shape; /* borrowed (the profile's) */
    uint64_t n;                 /* values offered, missing included */
    uint64_t n_missing;         /* empty values */
    uint64_t n_nonfinite;       /* NaN, +-inf, or not a number (numeric) */
    uint64_t counts[PR_SKETCH_MAX_TOP + 2]; /* per bin, shape->n_bins used */
    /* numeric, over finite values (Welford): */
    uint64_t n_finite;
    double min, max, mean, m2;  /* m2 = sum of squared deviations */
} pr_sketch;

/* The hash of a categorical value as sketches use it (xxh3, fixed seed). */
uint64_t pr_sketch_hash(const void *p, size_t len);
/* An empty sketch of shape (borrowed, must outlive it). */
void pr_sketch_init(pr_sketch *s, const pr_sketch_shape *shape);
/* Adds one value. Numeric: text parsed as a number (empty = missing;
 * NaN/inf/garbage = non-finite). Categorical: the bytes as they are (empty
 * = missing). One binary search or one hash lookup: tens of ns. */
void pr_sketch_add_text(pr_sketch *s, const char *p, size_t len);
/* Numeric only: a number (NaN/inf count as non-finite). */
void pr_sketch_add_number(pr_sketch *s, double x);
void pr_sketch_add_missing(pr_sketch *s);
/* dst += src; both of the same shape (else nothing happens, returns -1). */
int pr_sketch_merge(pr_sketch *dst, const pr_sketch *src);
void pr_sketch_reset(pr_sketch *s);
/* Bin of a finite x (numeric shape). */
uint32_t pr_sketch_bin(const pr_sketch_shape *sh, double x);

/* ---------------------------------------------------------------- profile */

typedef struct pr_profile pr_profile;

uint32_t pr_profile_n_columns(const pr_profile *p);
/* Borrowed, valid for the profile's life; NULL when i is out of range. */
const char *pr_profile_column_name(const pr_profile *p, uint32_t i);
const pr_sketch *pr_profile_column(const pr_profile *p, uint32_t i);
/* Index of a column by name, or -1. */
int pr_profile_find_column(const pr_profile *p, const char *name);
/* The prediction sketch (numeric, calibrated probabilities); its n is 0
 * when training recorded no scores. */
const pr_sketch *pr_profile_prediction(const pr_profile *p);
/* What the prediction sketch was computed on, e.g. "validation" or
 * "progressive pass 1". Borrowed; "" when none. */
const char *pr_profile_score_source(const pr_profile *p);
typedef struct pr_profile_summary {
    uint64_t rows;              /* rows profiled */
    uint64_t labeled, clicks;   /* rows with a label, of which positive */
    double base_rate;           /* clicks / labeled, NaN when labeled = 0 */
    int64_t ts_min, ts_max;     /* time span (Unix s); 0 when no ts column */
    uint64_t hour_rows[24];     /* rows per UTC hour of day (every row with a
                                   ts); all 0: not known (profile layout 1) */
} pr_profile_summary;
void pr_profile_summary_get(const pr_profile *p, pr_profile_summary *out);
/* The rows the reference would hold in [start_ms, end_ms) at its own
 * rate for those hours of the day: per UTC hour of day, hour_rows over the
 * seconds of the time span in that hour of day, times the window's
 * seconds in it. NaN when the profile has no time span or hourly counts.
 * What traffic is compared with (the server's traffic_ratio). */
double pr_profile_expected_rows(const pr_profile *p, int64_t start_ms, int64_t end_ms);
/* Accepts NULL. */
void pr_profile_free(pr_profile *p);

/* Serialized form (the model file's profile section; layout in
 * docs/model-format.md). OUT *out and *len: malloc'd, owned by caller. */
pr_status pr_profile_encode(const pr_profile *p, uint8_t **out, size_t *len,
                            pr_err *err);
/* Parses and validates; data borrowed for the call. Any input gives an
 * error (PR_ERR_FORMAT naming name and what is wrong; PR_ERR_VERSION for a
 * newer layout) or a valid profile, never a crash.
 * OUT *out: owned by caller, free with pr_profile_free. */
pr_status pr_profile_decode(const void *data, size_t len, const char *name,
                            pr_profile **out, pr_err *err);
/* The model's profile section decoded: *out NULL (and PR_OK) when the model
 * has none (files written before profiles existed). */
pr_status pr_profile_of_model(const pr_model *m, pr_profile **out, pr_err *err);
/* Stores p in the model (encoded), replacing any earlier one. */
pr_status pr_profile_attach(pr_model *m, const pr_profile *p, pr_err *err);

/* Human-readable table (inspect --profile); json = 1 for one JSON object.
 * OUT *out: NUL-terminated, malloc'd. */
pr_status pr_profile_render(const pr_profile *p, int json, char **out,
                            pr_err *err);

/* ---------------------------------------------------------------- builder */

typedef struct pr_profile_builder pr_profile_builder;

/* A builder for spec's input columns: a column that a numeric field reads
 * is numeric, else categorical. spec borrowed for the call.
 * OUT *out: owned by caller, free with pr_profile_builder_free. */
pr_status pr_profile_builder_new(const pr_spec *spec, pr_profile_builder **out,
                                 pr_err *err);
/* Maps reader columns (names, borrowed for the call) to profile columns;
 * columns the spec does not read are ignored. Call again per input file. */
pr_status pr_profile_builder_bind(pr_profile_builder *b, const char *const *names,
                                  uint32_t n);
/* The same through a featurizer bound to the reader (its fields' columns);
 * what the trainer uses, as it never sees the reader's names. */
pr_status pr_profile_builder_bind_featurizer(pr_profile_builder *b,
                                             const pr_featurizer *fz);
/* One row: its columns, label and ts (rec borrowed for the call). */
void pr_profile_builder_add(pr_profile_builder *b, const pr_record *rec);
/* Rows without column values (an example cache): label and ts only. */
void pr_profile_builder_add_label(pr_profile_builder *b, float label,
                                  int has_label, int64_t ts);

/* Scores for the prediction sketch: a fixed fine histogram over logit(p)
 * (PR_SCORES_BINS bins, 1/16 wide, from -16 to 16), per thread, merged,
 * and cut into quantile bins at finish. Plain struct: zero it to start. */
#define PR_SCORES_BINS 512
typedef struct pr_scores {
    uint64_t hist[PR_SCORES_BINS];
    uint64_t n, n_nonfinite;
    double sum, sumsq, min, max;  /* of p (min/max valid when n > 0) */
} pr_scores;
void pr_scores_add(pr_scores *s, double p);
/* The same from the calibrated logit z (p = sigmoid(z)): no log. */
void pr_scores_add_logit(pr_scores *s, double z);
void pr_scores_merge(pr_scores *dst, const pr_scores *src);
/* Gives the builder its scores (copied) and what they were computed on
 * ("validation", "progressive pass 3"; copied). */
void pr_profile_builder_set_scores(pr_profile_builder *b, const pr_scores *s,
                                   const char *source);
/* Fixes every sketch. The builder can be freed right after.
 * OUT *out: owned by caller. */
pr_status pr_profile_builder_finish(pr_profile_builder *b, pr_profile **out,
                                    pr_err *err);
void pr_profile_builder_free(pr_profile_builder *b);

/* A profile computed from data files (for `pronto monitor report`):
 * spec's columns over every row of in (format and paths as pr_train
 * takes them); with model non-NULL, its predictions (pr_model_predict
 * after the model's filter) fill the prediction sketch ("model scores").
 * Malformed rows stop it unless skip_bad allows them. */
struct pr_input;
pr_status pr_profile_build_from_file(const pr_spec *spec, const pr_model *model,
                                     const struct pr_input *in, uint64_t skip_bad,
                                     pr_profile **out, pr_err *err);

/* ---------------------------------------------------------------- live */

typedef struct pr_live pr_live;

/* Live sketches shaped like ref (borrowed: must outlive the live set).
 * OUT *out: owned by caller, free with pr_live_free. */
pr_status pr_live_new(const pr_profile *ref, pr_live **out, pr_err *err);
/* Maps record columns (names borrowed for the call) to profile columns. A
 * profile column absent from names stays empty (n = 0). */
pr_status pr_live_bind(pr_live *l, const char *const *names, uint32_t n,
                       pr_err *err);
/* One request's fields, through the binding (rec borrowed for the call). */
void pr_live_add_record(pr_live *l, const pr_record *rec);
/* One value of profile column i (no binding needed). */
void pr_live_add_value(pr_live *l, uint32_t column, const char *p, size_t len);
/* One prediction (calibrated probability). */
void pr_live_add_score(pr_live *l, double p);
/* dst += src: both made from the same profile (else PR_ERR_INVALID). The
 * binding of dst is kept. */
pr_status pr_live_merge(pr_live *dst, const pr_live *src, pr_err *err);
/* Back to empty, binding kept. */
void pr_live_reset(pr_live *l);
uint64_t pr_live_rows(const pr_live *l);
/* Borrowed, valid until pr_live_free. */
const pr_sketch *pr_live_column(const pr_live *l, uint32_t i);
const pr_sketch *pr_live_prediction(const pr_live *l);
/* Accepts NULL. */
void pr_live_free(pr_live *l);

/* ---------------------------------------------------------------- drift */

enum {
    PR_DRIFT_PSI = 1u << 0,
    PR_DRIFT_JS = 1u << 1,
    PR_DRIFT_KS = 1u << 2,
    PR_DRIFT_WASSERSTEIN = 1u << 3,
    PR_DRIFT_CHI2_P = 1u << 4,
    PR_DRIFT_MISSING_DELTA = 1u << 5,
    PR_DRIFT_UNSEEN_SHARE = 1u << 6,
    PR_DRIFT_MEAN_SHIFT = 1u << 7
};
#define PR_DRIFT_N_STATS 8
/* The PSI epsilon: empty bins count as this share. */
#define PR_DRIFT_PSI_EPS 1e-4

typedef struct pr_drift {
    uint32_t has;          /* PR_DRIFT_* bits: which values below are set
                              (a value not set is 0, never NaN) */
    double psi, js, ks, wasserstein, chi2_p;
    double missing_delta;  /* points: 100 * (live - reference missing rate) */
    double unseen_share;   /* categorical: share of live present values the
                              reference never had (corrected for the
                              filter's false positives) */
    double mean_shift;     /* numeric: (live mean - ref mean) / |ref mean| */
    uint64_t n;            /* live values behind the figures (rows) */
    uint64_t n_present;    /* of which present (neither missing nor NaN) */
} pr_drift;

/* Compares live against ref (same shape, else PR_ERR_INVALID). Statistics
 * that the data cannot support are left unset: every one when live->n is
 * 0, the distribution ones when either side has no present value, chi2_p
 * for numeric sketches, unseen_share when the filter is saturated
 * (false-positive rate > 0.5), mean_shift when the reference mean is 0. */
pr_status pr_drift_compute(const pr_sketch *ref, const pr_sketch *live,
                           pr_drift *out, pr_err *err);
/* The set statistics as (name, value) pairs in a fixed order (names are
 * static strings: "psi", "js", ...); returns how many (<= PR_DRIFT_N_STATS). */
int pr_drift_samples(const pr_drift *d, const char **names, double *values);
/* Upper tail of the chi-square distribution: P(X >= x), df >= 1. */
double pr_chi2_sf(double x, double df);

#ifdef __cplusplus
}
#endif
#endif
