/*
 * report_int.h: what the drift report's files share (report_acc.c
 * accumulates the current side, report_html.c and report_json.c render).
 */
#ifndef PRONTO_REPORT_INT_H
#define PRONTO_REPORT_INT_H

#include "pronto/report.h"

#define PR__REL_FINE 512        /* reliability: bins of logit(p), 1/16 wide */

typedef struct pr__rel_cell {
    uint64_t n;
    double sum_p, sum_y;
} pr__rel_cell;

/* One time slot or bucket of labeled, scored rows. */
typedef struct pr__slot {
    uint64_t n, clicks;
    double sum_p, sum_ll;       /* sum of p and of the log loss terms */
} pr__slot;

struct pr_report_acc {
    const pr_profile *ref;
    pr_live *live;
    uint64_t rows, labeled, clicks, scored;
    double sum_p;               /* over scored rows */
    int64_t ts_min, ts_max;     /* over rows with a ts (ts != 0) */
    uint64_t with_ts;
    /* labeled and scored rows */
    pr__slot all;
    pr__rel_cell rel[PR__REL_FINE];
    /* ... with a ts: slot i covers [base + i res, base + (i + 1) res) */
    int64_t res, base;
    int has_base;
    int64_t q_min, q_max;       /* ts range of the slotted rows */
    pr__slot slots[PR_REPORT_SLOTS];
    pr__slot scratch[PR_REPORT_SLOTS]; /* coarsening */
};

/* A reliability point: mean p and observed rate of one group of rows. */
typedef struct pr__rel_point {
    uint64_t n;
    double mean_p, rate;
} pr__rel_point;
/* Up to PR_REPORT_REL_BINS groups of about equal rows; returns how many. */
uint32_t pr__report_reliability(const pr_report_acc *a, pr__rel_point *out);

/* A quality-over-time bucket. */
typedef struct pr__bucket {
    int64_t start;              /* Unix s */
    pr__slot s;
} pr__bucket;
/* Up to PR_REPORT_BUCKETS buckets of *step seconds (a round duration),
 * in time order, empty ones left out; returns how many. */
uint32_t pr__report_buckets(const pr_report_acc *a, pr__bucket *out, int64_t *step);

/* A growing output buffer; failures are sticky (checked once at the end). */
typedef struct pr__rbuf {
    char *p;
    size_t n, cap;
    int failed;
} pr__rbuf;
void pr__rb_put(pr__rbuf *b, const char *s, size_t n);
void pr__rb_str(pr__rbuf *b, const char *s);
void pr__rb_printf(pr__rbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Text escaped for HTML/XML (& < > " '), invalid UTF-8 and C0 controls as '?'. */
void pr__rb_html(pr__rbuf *b, const char *s);
/* A JSON string with its quotes; invalid UTF-8 as '?', controls as \u00XX. */
void pr__rb_json(pr__rbuf *b, const char *s);
/* A JSON number, or null when not finite. */
void pr__rb_jnum(pr__rbuf *b, double v);
/* Hands the text over: *out (NUL-terminated) and *len, or PR_ERR_NOMEM. */
pr_status pr__rb_finish(pr__rbuf *b, char **out, size_t *len, pr_err *err);

pr_status pr__report_html(const pr_report *r, char **out, size_t *len, pr_err *err);
pr_status pr__report_json(const pr_report *r, char **out, size_t *len, pr_err *err);

/* The text of a duration: "5 min", "1 h", "7 d". */
void pr__report_duration(int64_t s, char *buf, size_t cap);

#endif
