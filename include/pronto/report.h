/*
 * pronto/report.h: the drift report of `pronto monitor report`: a
 * reference profile (pronto/profile.h) against current data, as one
 * self-contained HTML page (inline SVG and CSS, no script, no network) and
 * as JSON with the same figures. docs/monitoring.md "Report".
 *
 *   pr_report_acc *acc;                       // the current side
 *   pr_report_acc_new(ref, &acc, &err);       // sketches shaped like ref
 *   pr_report_acc_bind(acc, names, n, &err);  // reader columns -> profile
 *   pr_report_acc_add(acc, &rec, p);          // per row; p NaN: no model
 *   pr_report r;
 *   pr_report_init(&r, ref, acc);             // then name the sides
 *   r.ref_side.name = "model.bin"; r.cur_side.name = "today.tsv";
 *   pr_report_render(&r, PR_REPORT_HTML, &html, &len, &err);  free(html);
 *   pr_report_acc_free(acc);
 *
 * What a row adds (pr_report_acc_add): its columns to live sketches of the
 * reference's shape (same bins, same top values), so every drift
 * statistic compares like with like; its label and ts to the side's
 * counts; with a prediction p, p to the prediction sketch, and with a
 * label also (p, y) to a reliability histogram (512 bins of logit(p), cut
 * into at most PR_REPORT_REL_BINS groups of equal rows at the end) and to
 * quality-over-time slots (coarsened through 1 min, 5 min, 15 min, 1 h, 3
 * h, 6 h, 12 h, 1 d, 7 d... so that at most PR_REPORT_SLOTS cover the
 * span; shown as at most PR_REPORT_BUCKETS buckets). Memory is fixed:
 * about 280 KB plus the live sketches.
 *
 * A field is "drifted" when any of its effect sizes reaches its threshold,
 * the one the alert rules set for it (pr_alert_rules_threshold; without a
 * rules file the built-in rules, docs/monitoring.md "Alerts"): PSI >= 0.2,
 * JS distance >= 0.1, normalized Wasserstein >= 0.1, missing rate +5
 * points; a statistic no rule judges is not judged. Its score is the largest value / threshold ratio; fields are
 * listed by score, worst first. KS and the chi-square p-value are shown,
 * not judged (on large samples they flag every tiny shift).
 *
 * Threads: an accumulator is used by one thread at a time; rendering only
 * reads. Strings in pr_report are borrowed and must outlive rendering.
 */
#ifndef PRONTO_REPORT_H
#define PRONTO_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "pronto/alert.h"
#include "pronto/base.h"
#include "pronto/example.h"
#include "pronto/profile.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PR_REPORT_REL_BINS 15   /* reliability diagram points, at most */
#define PR_REPORT_SLOTS 4096    /* time slots kept while accumulating */
#define PR_REPORT_BUCKETS 60    /* quality-over-time buckets shown, at most */

typedef struct pr_report_acc pr_report_acc;

/* An accumulator for current data shaped like ref (borrowed: must outlive
 * it). OUT *out: owned by caller, free with pr_report_acc_free. */
pr_status pr_report_acc_new(const pr_profile *ref, pr_report_acc **out, pr_err *err);
/* Maps record columns (names borrowed for the call) to profile columns;
 * call again when the columns change (a new file). */
pr_status pr_report_acc_bind(pr_report_acc *a, const char *const *names, uint32_t n,
                             pr_err *err);
/* One row (rec borrowed for the call); p: the model's probability for it,
 * NaN when there is no model. */
void pr_report_acc_add(pr_report_acc *a, const pr_record *rec, double p);
/* A prediction without its row (a log window whose rows come from feature
 * records: docs/monitoring.md "Report"): the prediction sketch and mean
 * only. */
void pr_report_acc_add_score(pr_report_acc *a, double p);
uint64_t pr_report_acc_rows(const pr_report_acc *a);
void pr_report_acc_free(pr_report_acc *a);

/* One side of the comparison, as the summary shows it. */
typedef struct pr_report_side {
    const char *kind;       /* "model", "data" (borrowed) */
    const char *name;       /* what was read: paths (borrowed) */
    uint64_t rows, labeled, clicks;
    int64_t ts_min, ts_max; /* Unix s; both 0: no time column */
    double mean_p;          /* mean prediction; NaN: none */
} pr_report_side;

/* The rules' thresholds for fields without a rule of their own (NaN: not
 * judged), as the page's headings show them. */
typedef struct pr_report_thresholds {
    double psi, js, wasserstein, missing_delta;
} pr_report_thresholds;

typedef struct pr_report {
    const pr_profile *ref;  /* borrowed */
    const pr_report_acc *cur; /* borrowed */
    pr_report_side ref_side, cur_side; /* filled by pr_report_init */
    const pr_alert_rules *rules;       /* borrowed; NULL: the built-in rules */
    pr_report_thresholds th;           /* set by pr_report_init / _set_rules */
    const char *model;      /* the model scoring the current data, or NULL */
    const char *title;      /* page title (borrowed); default set by init */
    int64_t generated;      /* Unix s shown as the report's time; 0: none */
} pr_report;

/* Fills r from ref and cur (summaries, the built-in rules' thresholds). */
void pr_report_init(pr_report *r, const pr_profile *ref, const pr_report_acc *cur);
/* Judges drift by rules (borrowed, must outlive r; NULL: built-in): sets
 * r->rules and r->th. */
void pr_report_set_rules(pr_report *r, const pr_alert_rules *rules);

/* One field's verdict. */
typedef struct pr_report_field {
    uint32_t column;        /* profile column; PR_REPORT_PREDICTION: the prediction */
    const char *name;       /* borrowed from the profile */
    pr_drift d;
    double score;           /* largest value / threshold; 0 with no figures */
    int drifted;            /* score >= 1 */
} pr_report_field;
#define PR_REPORT_PREDICTION 0xffffffffu

/* The fields (and the prediction when both sides have one), worst first.
 * OUT *out malloc'd (free()), *n its length. */
pr_status pr_report_fields(const pr_report *r, pr_report_field **out, uint32_t *n,
                           pr_err *err);

typedef enum { PR_REPORT_HTML = 0, PR_REPORT_JSON = 1 } pr_report_format;

/* The page or the JSON document. OUT *out: malloc'd, NUL-terminated (free());
 * *len its length. Every user text (field names, categories, file names)
 * is escaped for HTML or JSON. */
pr_status pr_report_render(const pr_report *r, pr_report_format fmt, char **out, size_t *len,
                           pr_err *err);

/* ---------------------------------------------------------------- log windows */

/* Rows of a window of a server's event log (`pronto serve --log`) for
 * either side of a report, from the records with from_ms <= ts < to_ms:
 *   - when the window holds `features` records (`serve --log-features`):
 *     one row per features record, every assembled column of the store's
 *     spec (what the model read: request fields, entity attributes,
 *     aggregates), a sample of the requests; the p of every answered
 *     candidate of the `prediction` records goes to score();
 *   - else every candidate of every `prediction` record, as a row of the
 *     request's columns and the candidate key column, with the p the
 *     answer gave it (entity attributes and aggregates are not in
 *     prediction records: such a side shows the request's fields and the
 *     prediction only).
 * Values: strings as they are, numbers as written, null missing. Rows
 * carry no label. docs/monitoring.md "Report".
 *
 * The sink: bind() when the columns of the rows that follow change (names
 * borrowed for the call; the first row, another server's records), row()
 * per row (rec borrowed for the call; p NaN when it is not in [0, 1] or
 * not known), score() per prediction without a row (NULL: dropped). */
typedef struct pr_report_log_sink {
    pr_status (*bind)(void *ctx, const char *const *names, uint32_t n, pr_err *err);
    void (*row)(void *ctx, const pr_record *rec, double p);
    void (*score)(void *ctx, double p);
    void *ctx;
} pr_report_log_sink;

typedef struct pr_report_log_stats {
    uint64_t records;     /* records read from the window's start (each pass) */
    uint64_t predictions; /* prediction records in [from, to) */
    uint64_t features;    /* features records in [from, to) */
    uint64_t rows;        /* rows handed to the sink */
    uint64_t malformed;   /* prediction or features records that did not parse */
    int from_features;    /* 1: the rows came from features records */
} pr_report_log_stats;

/* Reads the log at uri (any pr_log URI) from from_ms; a malformed
 * prediction record stops it (PR_ERR_PARSE naming the log, the record's
 * position and ts, and what is wrong) unless there are at most skip_bad of
 * them. stats may be NULL. */
pr_status pr_report_log_scan(const char *uri, int64_t from_ms, int64_t to_ms,
                             uint64_t skip_bad, const pr_report_log_sink *sink,
                             pr_report_log_stats *stats, pr_err *err);

/* A reference profile of a log window: spec's columns over its rows (the
 * prediction sketch from the served p). OUT *out: owned by caller. */
struct pr_spec;
pr_status pr_report_log_profile(const struct pr_spec *spec, const char *uri, int64_t from_ms,
                                int64_t to_ms, uint64_t skip_bad, pr_profile **out,
                                pr_report_log_stats *stats, pr_err *err);

/* What the scan does per record, for callers with their own records (and
 * the fuzzer): feed one record's payload (type PR_LOG_TYPE_PREDICTION or
 * PR_LOG_TYPE_FEATURES; others are passed over). from_features: rows come
 * from features records and predictions go to score(), as above. */
typedef struct pr_report_log_rows pr_report_log_rows;
pr_status pr_report_log_rows_new(const pr_report_log_sink *sink, int from_features,
                                 pr_report_log_rows **out, pr_err *err);
/* PR_ERR_PARSE (counted malformed) for a payload that is not a record of
 * its type; what a good one holds goes to the sink. */
pr_status pr_report_log_rows_feed(pr_report_log_rows *lr, uint32_t type, const char *payload,
                                  size_t len, int64_t ts_ms, pr_err *err);
void pr_report_log_rows_stats_get(const pr_report_log_rows *lr, pr_report_log_stats *out);
void pr_report_log_rows_free(pr_report_log_rows *lr);

#ifdef __cplusplus
}
#endif
#endif
