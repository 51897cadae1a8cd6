/*
 * pronto/quality.h: live model quality from outcomes. Served predictions
 * are joined to their impressions (by request_id and candidate key), the
 * impressions to their clicks through the label joiner (stream.h: the
 * attribution window, lateness, watermark), and every labeled impression
 * counts in tumbling windows by impression time (1 min, 5 min, 1 h), per
 * model version and per A/B arm: n, clicks, log loss, NE, calibration,
 * AUC. The same code runs offline over a log (`pronto monitor quality`)
 * and in the server (on a thread of its own). docs/monitoring.md "Live
 * quality".
 *
 *   pr_quality_opts o;
 *   pr_quality_opts_default(&o);
 *   pr_quality *q;
 *   pr_quality_new(&o, &q, &err);
 *   // a served request: one key per candidate, its p
 *   uint64_t rk = pr_quality_request_hash(request_id);
 *   keys[i] = pr_quality_key(rk, cand_key_text[i]);
 *   pr_quality_pred pd = {ts_ms, "v000002", "production", n, keys, p};
 *   pr_quality_add_prediction(q, &pd);
 *   // an event as the client sent it (impression, click, conversion)
 *   pr_quality_add_event_json(q, line, len, &err);
 *   // or a log record of either kind: pr_quality_add_record(q, type, payload, len, &err)
 *   pr_quality_sample s[256];
 *   size_t n = pr_quality_snapshot(q, s, 256);   // the latest closed windows
 *   pr_quality_flush(q);                          // end of input: close all
 *   pr_quality_windows(q, 5 * 60000, &w, &nw, &err); ... free(w);
 *   pr_quality_free(q);
 *
 * Joining. A prediction of candidate c in request r is remembered under
 * key(r, c) until an impression with that key comes (request_id: the
 * impression's "request_id" key, else its impression_id as decimal text;
 * c: its value of the candidate key column, as text: 7 and "7" are one
 * ad), and at most pred_ttl_ms of event time (then it is counted as a
 * prediction without an impression) and at most max_pending of them (the
 * oldest evicted beyond that, counted). An impression whose prediction is
 * not there yet waits up to hold_ms of event time for it (in a log, the
 * prediction record may follow its impression: the server logs
 * predictions from a background thread), then goes on without one. The
 * joiner then holds the impression until its attribution window has
 * closed (watermark > ts + window): only then is it counted, with label 1
 * if a click came within the window, so delay does not bias the rate.
 * Impressions without a prediction are counted (unmatched), not errors.
 *
 * Windows. A labeled impression at t counts in the windows containing t of
 * each length (1 min, 5 min, 1 h) of its prediction's series (version,
 * arm). A window [s, e) is closed once the watermark >= e + window: every
 * impression in it has been labeled. Windows are kept for a horizon
 * (PR_QUALITY_KEEP_*); windows without labeled impressions do not exist.
 *
 * Figures (p clamped to [1e-15, 1 - 1e-15] for the log):
 *   logloss      -(1/n) sum(y ln p + (1-y) ln(1-p))
 *   ne           logloss / H(r), r = clicks/n, H(r) = -(r ln r + (1-r) ln(1-r));
 *                undefined (NaN) when r is 0 or 1 (H = 0)
 *   calibration  mean p / r; NaN when r = 0
 *   auc          from a histogram of p per class, PR_QUALITY_AUC_BINS bins
 *                uniform in logit(p) over [-10, 10] (0.0195 wide, 2% in
 *                odds; end bins take the rest): pairs in different bins
 *                are ordered exactly, a
 *                positive and a negative in the same bin count 1/2, so
 *                |auc - exact AUC| <= auc_err = (1/2) sum_b pos_b neg_b / (P N),
 *                computed and reported with it (0 when no bin holds both;
 *                equal p values are ties in the exact AUC too). NaN
 *                without clicks or without non-clicks.
 *
 * Memory: max_pending predictions (32 bytes each plus 32 in the index),
 * max_held waiting impressions, the joiner's (one window + lateness of
 * impressions, 24 bytes of payload each), and per series at most
 * PR_QUALITY_KEEP_1M + _5M + _1H windows of about 8.2 KB (2.6 MB); max_series
 * series. Nothing grows with the stream's length. A series that saw no
 * prediction and no labeled impression for PR_QUALITY_SERIES_IDLE_MS of
 * event time (an old model version) gives its slot to a new one; its
 * impressions labeled later are counted in series_overflow.
 *
 * Thread safety: a pr_quality is used by one thread at a time (every
 * function, the snapshot included); the server serializes with a mutex.
 * Strings handed out (version, arm of windows and samples) are owned by q
 * and valid until pr_quality_free.
 */
#ifndef PRONTO_QUALITY_H
#define PRONTO_QUALITY_H

#include <stddef.h>
#include <stdint.h>

#include "pronto/base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PR_QUALITY_AUC_BINS 1024
#define PR_QUALITY_KEEP_1M 120  /* 2 h of 1 min windows per series */
#define PR_QUALITY_KEEP_5M 144  /* 12 h of 5 min windows */
#define PR_QUALITY_KEEP_1H 48   /* 48 h of 1 h windows */
#define PR_QUALITY_NAME_MAX 72  /* a version or arm name, NUL included */
#define PR_QUALITY_SERIES_IDLE_MS (48 * 3600 * 1000LL)

typedef struct pr_quality_opts {
    int64_t window_ms;       /* attribution window (default 2 h, as pronto join) */
    int64_t lateness_ms;     /* allowed out-of-orderness of events (default 10 min) */
    int64_t pred_ttl_ms;     /* event time a prediction waits for its impression
                                (default 30 min) */
    int64_t hold_ms;         /* event time an impression waits for its
                                prediction; at most lateness_ms (default: the
                                smaller of lateness and 1 min) */
    uint32_t max_pending;    /* predictions remembered (default 1048576) */
    uint32_t max_held;       /* impressions waiting for their prediction
                                (default 65536) */
    uint32_t max_series;     /* (version, arm) pairs (default 32; more, while
                                none is idle, are counted in series_overflow
                                and not measured) */
    const char *candidate_key; /* the impression's column naming the candidate
                                  (default "ad_id"; copied) */
} pr_quality_opts;

void pr_quality_opts_default(pr_quality_opts *o);

/* Sampling. Matching every candidate of every request costs a few cache
 * misses each (the pending map is large by design), which at thousands of
 * requests a second with 100 candidates is a core. A sampler keeps about
 * per_second candidates a second of event time: a request is sampled, or
 * not, by its request hash (the top `level` bits zero: a 2^-level share,
 * the level rising with the traffic, per second), so the server that
 * answers it and the accumulator that sees its impression decide alike,
 * and the figures are those of a uniform sample of requests (n and clicks
 * count the sample; rates, log loss, NE, calibration and AUC estimate the
 * whole). Thread-safe: take() from any number of threads.
 *
 *   pr_quality_sampler *smp;
 *   pr_quality_sampler_new(5000, &smp, &err);
 *   pr_quality_set_sampler(q, smp);               // impressions: judged by it
 *   if (pr_quality_sampler_take(smp, ts, pr_quality_request_hash(id), n))
 *       ... pr_quality_add_prediction(q, &pd);    // else: not remembered
 */
typedef struct pr_quality_sampler pr_quality_sampler;
/* PR_ERR_INVALID: per_second 0. *out: free with pr_quality_sampler_free
 * (after the pr_quality that borrows it). */
pr_status pr_quality_sampler_new(uint32_t per_second, pr_quality_sampler **out, pr_err *err);
void pr_quality_sampler_free(pr_quality_sampler *s);
/* Counts a request of n candidates at ts; 1 when it is sampled. */
int pr_quality_sampler_take(pr_quality_sampler *s, int64_t ts_ms, uint64_t request_hash,
                            uint32_t n);
/* 1 when the request of that hash at ts is sampled at its second's level
 * now (1 when that second is unknown: older than the last hour or never
 * seen). */
int pr_quality_sampler_sampled(const pr_quality_sampler *s, int64_t ts_ms, uint64_t request_hash);
/* The level of the latest second counted (0: every request). */
uint32_t pr_quality_sampler_level(const pr_quality_sampler *s);

/* One served request: keys[i] = pr_quality_key(request hash, candidate
 * i's key text), p[i] its probability. version and arm are copied (each
 * at most PR_QUALITY_NAME_MAX - 1 bytes, cut beyond; arm may be ""). */
typedef struct pr_quality_pred {
    int64_t ts_ms;
    const char *version;
    const char *arm;
    uint32_t n;
    const uint64_t *keys;
    const double *p;
} pr_quality_pred;

/* The hash of a request id's text (the digits of an integer id). */
uint64_t pr_quality_request_hash(pr_bytes request_id);
/* The key of one candidate of that request (never 0). */
uint64_t pr_quality_key(uint64_t request_hash, pr_bytes candidate_key);

typedef struct pr_quality_stats {
    uint64_t predictions;      /* requests added */
    uint64_t candidates;       /* candidate predictions added */
    uint64_t duplicate_keys;   /* a candidate key already pending: the first kept */
    uint64_t pending;          /* gauge: predictions waiting for an impression */
    uint64_t expired;          /* predictions that waited pred_ttl_ms in vain */
    uint64_t evicted;          /* predictions pushed out by max_pending */
    uint64_t events;           /* events added (parsed) */
    uint64_t malformed;        /* events or records that did not parse */
    uint64_t held;             /* gauge: impressions waiting for a prediction */
    uint64_t held_overflow;    /* impressions let go early: max_held */
    uint64_t impressions;      /* impressions handed to the joiner */
    uint64_t labeled;          /* labeled impressions out of the joiner */
    uint64_t matched;          /* ... with a prediction: counted in windows */
    uint64_t unmatched;        /* ... without one */
    uint64_t unsampled;        /* ... whose request the sampler left out
                                  (pr_quality_set_sampler): not counted */
    uint64_t series_overflow;  /* labeled, their series beyond max_series (or
                                  its slot since given to another) */
    uint64_t too_late;         /* joiner: events older than its watermark */
    uint64_t duplicates;       /* joiner: duplicate event ids */
    uint64_t unattributed_clicks; /* joiner: clicks outside any window */
    uint64_t windows_dropped;  /* windows past their horizon, freed */
    int has_watermark;
    int64_t watermark_ms;      /* the joiner's */
} pr_quality_stats;

/* One window of one series. */
typedef struct pr_quality_window {
    const char *version, *arm; /* owned by q */
    int64_t start_ms, len_ms;
    int closed;                /* every impression in it is labeled */
    uint64_t n, clicks;
    double ctr, mean_p, logloss, ne, calibration, auc, auc_err; /* NaN: undefined */
} pr_quality_window;

/* A sample for alert rules and /v1/monitor (fits alert.h's
 * pr_metric_sample): metric is "logloss", "ne", "calibration", "auc",
 * "n_labeled", "ctr", "mean_p" or "auc_err" (the AUC's error bound);
 * field ""; window "1m", "5m", "1h";
 * n the labeled impressions behind value. start_ms: the window's start. */
typedef struct pr_quality_sample {
    const char *metric, *field, *arm, *version, *window; /* static or owned by q */
    double value;
    uint64_t n;
    int64_t start_ms;
} pr_quality_sample;

typedef struct pr_quality pr_quality;

/* *out owned by caller, free with pr_quality_free. PR_ERR_INVALID (a
 * negative duration, hold_ms > lateness_ms, a zero cap, no candidate key),
 * PR_ERR_NOMEM. */
pr_status pr_quality_new(const pr_quality_opts *o, pr_quality **out, pr_err *err);
void pr_quality_free(pr_quality *q);
/* Impressions of requests s did not sample go on unmatched and are
 * counted apart (stats.unsampled), without waiting for a prediction. s is
 * borrowed (NULL: every request). */
void pr_quality_set_sampler(pr_quality *q, const pr_quality_sampler *s);

/* A served request. Never fails: memory refused is counted as evicted. */
void pr_quality_add_prediction(pr_quality *q, const pr_quality_pred *pd);
/* An event object as the client sent it (docs/events.md). PR_ERR_PARSE
 * ("column N: ...") when it is not a JSON object: counted as malformed,
 * nothing else changes. Events missing ids are the joiner's to count. */
pr_status pr_quality_add_event_json(pr_quality *q, const char *line, size_t len, pr_err *err);
/* A prediction record's payload (docs/log.md "Records pronto writes").
 * PR_ERR_PARSE naming what is wrong: counted as malformed. */
pr_status pr_quality_add_prediction_json(pr_quality *q, const char *rec, size_t len,
                                         pr_err *err);
/* A log record: event (1) or prediction (2); other types are ignored (PR_OK). */
pr_status pr_quality_add_record(pr_quality *q, uint32_t type, const char *payload, size_t len,
                                pr_err *err);
/* End of input: every attribution window closes, waiting impressions go on
 * without a prediction, every window closes. Adding after it is ignored. */
void pr_quality_flush(pr_quality *q);

void pr_quality_stats_get(const pr_quality *q, pr_quality_stats *out);
/* The windows of length len_ms (60000, 300000 or 3600000), closed or not,
 * ordered by series (first seen first) then start. *out malloc'd (free());
 * NULL with *n = 0 when there are none. PR_ERR_INVALID for another length,
 * PR_ERR_NOMEM. */
pr_status pr_quality_windows(const pr_quality *q, int64_t len_ms, pr_quality_window **out,
                             size_t *n, pr_err *err);
/* The latest closed window of every series and length, as samples (those
 * whose value is undefined left out) in out[0..cap); returns how many
 * there are (more than cap: call again with a larger out). */
size_t pr_quality_snapshot(const pr_quality *q, pr_quality_sample *out, size_t cap);
/* Sliding windows for alerting, recomputed at every call: per series, the
 * sum of its closed 1 min windows inside [until_ms - len, until_ms), len
 * 5 min, 15 min and 1 h, as samples of window "5m", "15m" and "1h" (start_ms until_ms -
 * len; those with no labeled impression left out): the figures of the
 * snapshot plus "calibration_bound". A caller at event time `now` passes
 * until_ms = now - attribution window - lateness: the minutes whose labels
 * are final by then, whatever the accumulator's thread has taken since. */
size_t pr_quality_sliding(const pr_quality *q, int64_t until_ms, pr_quality_sample *out,
                          size_t cap);
/* Calibration (sum_p / clicks) moved toward 1 by z standard deviations of
 * the click count (sd = sqrt(sum_pq), sum_pq = sum of p (1 - p)); 1 when
 * the interval clicks +- z sd holds sum_p. Outside a band like [0.9, 1.1]
 * only when the miscalibration is both that large and significant at z.
 * NaN when sum_p is 0 (or no click and z sd = 0). */
double pr_quality_calibration_bound(double sum_p, double sum_pq, double clicks, double z);
#define PR_QUALITY_BOUND_Z 3.0

#ifdef __cplusplus
}
#endif
#endif
