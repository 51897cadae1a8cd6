/*
 * monitor_int.h: what monitor.c (the live profiles, windows, drift and
 * alerts of `pronto serve`) and monitor_out.c (GET /v1/monitor, the
 * /metrics lines) share. Nothing else sees these structs: the rest of the
 * server holds an opaque pr__mon and calls the functions in serve_int.h.
 *
 * The picture (docs/monitoring.md "In the server"):
 *
 *   HTTP worker (hot path, no lock)        monitor thread (every 200 ms)
 *   ------------------------------         ----------------------------------
 *   e = epoch; in = 2e+1                   epoch++ ; wait until no worker is
 *   buf = half[e & 1][arm]                 `in` the old epoch: the old halves
 *   slot of the request's minute:          are the monitor's now
 *     requests, latency, p, and            harvest each slot into the arm's
 *     pr_live rows (sampled)               open 1m window of its minute
 *   in = 0                                 clock = max request ts (or now)
 *                                          close minutes the clock passed:
 *                                          drift 1m, 5m, 1h (sliding, ending
 *                                          at the minute) -> samples + quality
 *                                          -> pr_alerts_eval(window end)
 *
 * Ownership: a slot's live and a reference to the profile it was made
 * from (pr__profile_ref, counted apart from the model: the monitor never
 * holds a model, so a reload's wait for the old one is not prolonged) are
 * created by the worker the first time it needs them and released only by
 * the monitor thread.
 */
#ifndef PRONTO_SERVE_MONITOR_INT_H
#define PRONTO_SERVE_MONITOR_INT_H

#include "pronto/alert.h"
#include "pronto/profile.h"
#include "serve/serve_int.h"

#define PR__MON_TICK_MS 200       /* the monitor thread's period */
#define PR__MON_SLOTS 32          /* event-time minutes per worker half (lives
                                     made on first use: a live server uses 1-2) */
#define PR__MON_OPEN 16           /* open 1m windows per arm (minutes ahead) */
#define PR__MON_KEEP 60           /* closed 1m windows kept: the 1h roll-up */
#define PR__MON_HIST 120          /* 1m points kept per arm for /v1/monitor's
                                     history (the dashboard's charts) */
#define PR__MON_TRANS 32          /* the latest alert transitions kept */
#define PR__MON_GRACE_MS 5000     /* a minute closes once the clock is past
                                     its end by this much (event time) */
#define PR__MON_ROWS 8            /* candidate rows profiled per sampled request */
#define PR__MON_EMPTY INT64_MIN
#define PR__MON_MINUTE 60000LL

enum { PR__MON_W1M, PR__MON_W5M, PR__MON_W1H, PR__MON_NWIN };
extern const char *const pr__mon_win_names[PR__MON_NWIN];
extern const int64_t pr__mon_win_ms[PR__MON_NWIN];

/* Requests not counted in any window (slots, late, ahead) or whose rows
 * were not profiled (swap, memory). */
enum { PR__MON_DROP_SLOTS, PR__MON_DROP_LATE, PR__MON_DROP_AHEAD, PR__MON_DROP_SWAP,
       PR__MON_DROP_MEM, PR__MON_NDROP };
extern const char *const pr__mon_drop_names[PR__MON_NDROP];

/* Sums over requests, the same in a worker's slot and in a window. */
typedef struct pr__mon_sums {
    uint64_t requests;         /* predicts answered 200 */
    uint64_t rows;             /* candidate rows added to the live profile */
    uint64_t scores;           /* p values summed */
    double p_sum;
    uint64_t lat[PR__LAT_BUCKETS + 1];
    uint64_t with_ts, without_ts; /* requests that carried ts, and not */
    int64_t ts_max;            /* largest event time seen (ms) */
} pr__mon_sums;

/* One event-time minute of one worker and arm (written by the worker in
 * its current half, read and emptied by the monitor in the other). */
typedef struct pr__mon_slot {
    int64_t minute;            /* ts / 60000, or PR__MON_EMPTY */
    pr__mon_sums sums;
    uint64_t gen;              /* live was made for this model generation */
    pr__profile_ref *pref;     /* held: the profile live borrows */
    pr_live *live;             /* NULL: not made yet, or no profile */
} pr__mon_slot;

typedef struct pr__mon_half {
    pr__mon_slot slot[PR__MON_SLOTS];
    uint64_t dropped[PR__MON_NDROP]; /* requests, by reason */
} pr__mon_half;

/* A worker's row sampling for one arm (monitor.c "Sampling"): the rows
 * it was offered in the current and the previous event-time minute, and
 * the share of requests it profiles now (threshold on a 64-bit draw). */
typedef struct pr__mon_rate {
    int64_t minute;            /* PR__MON_EMPTY: none yet */
    uint64_t offered, prev_offered, taken;
    uint64_t keep;             /* profile when draw <= keep (UINT64_MAX: all) */
} pr__mon_rate;

typedef struct pr__mon_w pr__mon_w;
/* A worker's part: half[h][arm]. `in` is 2e+1 while the worker writes
 * into epoch e's half, 0 otherwise (seq_cst: see monitor.c). rate is the
 * worker's alone. */
struct pr__mon_w {
    uint64_t in;
    uint64_t rng;              /* the worker's: which rows to profile */
    uint32_t n_arms;
    pr__mon_half *half[2];     /* n_arms each */
    pr__mon_rate *rate;        /* n_arms */
    uint64_t rows_per_min;     /* this worker's share of --monitor-rows (0: all) */
};

/* One window of one arm: sums and the merged live profile. */
typedef struct pr__mon_acc {
    int64_t start_ms;          /* PR__MON_EMPTY: unused */
    pr__mon_sums sums;
    pr_live *live;             /* NULL: drift off */
} pr__mon_acc;

/* A field's drift in a closed window. */
typedef struct pr__mon_fd {
    const char *field;         /* the profile's name, or "prediction" */
    pr_drift d;
    double score;              /* max of psi/0.2, js/0.1, wasserstein/0.1,
                                  |missing_delta|/5, unseen_share/0.1 */
} pr__mon_fd;

/* The figures of one closed window (published under mon.mu). */
typedef struct pr__mon_res {
    int valid;
    int64_t start_ms, end_ms;
    pr__mon_sums sums;
    double rps, p50_us, p99_us, pred_mean;
    uint32_t n_fd;             /* fields with at least one statistic */
    pr__mon_fd *fd;            /* n_cols + 1, sorted worst first */
} pr__mon_res;

/* A closed 1m window's figures kept for the dashboard's series (written
 * by pr__mon_hist_push, monitor_out.c). */
typedef struct pr__mon_point {
    int64_t start_ms;
    double rps, p50_us, p99_us, pred_mean;
    uint64_t requests, rows;
    double drift_top;          /* the worst field's score, NaN: no drift figure */
    char drift_field[64];      /* its name (cut at a UTF-8 boundary) */
    char version[PR_REGISTRY_ID_MAX]; /* the version the arm served then */
} pr__mon_point;

/* An alert transition kept for /v1/monitor (pr__mon_note_transition). */
typedef struct pr__mon_trans {
    char name[PR_ALERT_NAME_MAX];
    char field[PR_ALERT_LABEL_MAX], arm[PR_ALERT_LABEL_MAX], version[PR_ALERT_LABEL_MAX];
    pr_alert_state from, to;
    double value;
    int64_t at_ms;
    int stale;
} pr__mon_trans;

/* The monitor's view of one arm. Everything but `res`, `hist` and the
 * strings is the monitor thread's alone; those are written under mon.mu. */
typedef struct pr__mon_arm {
    pr__arm *arm;
    uint64_t gen;              /* the model generation monitored (0: none yet) */
    pr__profile_ref *pref;     /* held: the model's profile, NULL: drift off */
    const pr_profile *prof;    /* pref->p */
    char model_version[17];    /* the file's hash */
    uint32_t n_cols;           /* prof's columns */
    char version[PR_REGISTRY_ID_MAX]; /* registry version, else the file's */
    char why_off[160];         /* drift off: why */
    pr__mon_acc open[PR__MON_OPEN];   /* by minute % PR__MON_OPEN */
    pr__mon_acc kept[PR__MON_KEEP];   /* closed, by minute % PR__MON_KEEP */
    pr_live *roll;             /* scratch for the 5m and 1h roll-ups */
    pr__mon_res res[PR__MON_NWIN];
    pr__mon_point hist[PR__MON_HIST]; /* ring, newest at hist_n - 1 */
    uint32_t hist_n;
    uint64_t rows_total, late_rows;
} pr__mon_arm;

struct pr__mon {
    pr_server *s;
    uint64_t epoch;            /* atomic, seq_cst */
    pr__ticker tick;
    pthread_mutex_t mu;        /* res, hist, trans, the clock's copy, versions */
    uint32_t n_arms;
    pr__mon_arm arm[PR_SERVER_ARMS_MAX];
    /* the clock (monitor thread; copied under mu for readers) */
    int has_clock;
    int64_t clock_ms;          /* event time: request ts, or the server's */
    int64_t closed_ms;         /* minutes before this are closed */
    int replay;                /* the last requests carried ts */
    int ahead_ticks;           /* ticks in a row with only far-ahead requests */
    int64_t pub_clock_ms, pub_closed_ms;
    int pub_replay, pub_has_clock;
    uint64_t dropped[PR__MON_NDROP]; /* atomic (merged at harvest) */
    uint64_t windows_closed, evals;
    pr_alerts *alerts;
    pr_webhook *webhook;
    char rules_from[PR_ERR_MSG_MAX]; /* "defaults", or the file */
    size_t n_rules;
    pr__mon_trans trans[PR__MON_TRANS]; /* ring under mu, newest at n_trans - 1 */
    uint64_t n_trans;
};

/* Appends arm ma's 1m window just published (res[PR__MON_W1M]) to its
 * history; takes mu. Monitor thread. */
void pr__mon_hist_push(pr__mon *M, pr__mon_arm *ma);
/* Keeps an alert transition for /v1/monitor; takes mu. */
void pr__mon_note_transition(pr__mon *M, const pr_alert_transition *t);

/* p50 / p99 (µs) of a latency histogram, interpolated in its bucket. */
double pr__mon_lat_quantile(const uint64_t *lat, double q);

#endif
