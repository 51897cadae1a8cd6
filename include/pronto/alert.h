/*
 * pronto/alert.h: alerting on monitoring samples. Rules (from a
 * monitors.yaml, the `monitors:` block of a spec, or the built-in
 * defaults), per-instance states ok -> pending -> firing -> ok as
 * Prometheus alerting rules have them, the retraining trigger, and a
 * webhook sender that never blocks its caller. Format, defaults and the
 * webhook body: docs/monitoring.md ("Alerts", "Webhook").
 *
 *   pr_alert_rules *rules;
 *   pr_alert_rules_load("monitors.yaml", &rules, &err);   // or _default
 *   pr_webhook *wh;
 *   pr_webhook_opts wo;
 *   pr_webhook_opts_default(&wo);
 *   pr_webhook_new("http://127.0.0.1:9000/hook", &wo, &wh, &err);
 *   pr_alerts_opts ao;
 *   pr_alerts_opts_default(&ao);
 *   ao.on_transition = pr_webhook_on_transition;  // or your own callback
 *   ao.ctx = wh;
 *   ao.registry_dir = "models";                   // retrain: true rules
 *   pr_alerts *al;
 *   pr_alerts_new(rules, &ao, &al, &err);         // rules copied
 *   pr_alert_rules_free(rules);
 *   // once per window tick, time from the caller (replays: simulated)
 *   pr_metric_sample s[] = {{"psi", "C1", "", "", "5m", 0.31, 5400}};
 *   pr_alerts_eval(al, now_ms, s, 1);
 *   pr_alert_active act[64];
 *   size_t n_active = pr_alerts_active(al, act, 64);   // pending + firing
 *   pr_alerts_free(al);
 *   pr_webhook_free(wh);                          // after the alerts
 *
 * Threads: a pr_alerts has its own lock; eval, active and stats may be
 * called from any thread (evals are serialized). The transition callback
 * runs on the evaluating thread, after the lock is released, in the order
 * of the transitions; it must not call pr_alerts_eval. An eval in which a
 * retrain rule goes firing writes a registry request (the registry's lock,
 * an fsync): call eval from a housekeeping thread, never a request path.
 * A pr_webhook may be posted to from any number of threads; its own
 * thread does the HTTP.
 */
#ifndef PRONTO_ALERT_H
#define PRONTO_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include "pronto/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One monitoring value, as drift (profile) and quality code produce them.
 * Strings are borrowed for the call; "" where a label does not apply.
 * metric: psi, js, ks, wasserstein, chi2_p, missing_delta, unseen_share,
 * mean_shift, logloss, ne, calibration, auc, n_labeled, requests_per_s.
 * window: "1m", "5m", "15m" (live quality's sliding windows only) or
 * "1h". n: the observations behind value. */
typedef struct pr_metric_sample {
    const char *metric;
    const char *field;
    const char *arm;
    const char *version;
    const char *window;
    double value;
    uint64_t n;
} pr_metric_sample;

/* Room for a rule name (1..63 of [A-Za-z0-9_.-]) and for a label (metric,
 * field, arm, version: at most 128 bytes), each with its NUL. */
#define PR_ALERT_NAME_MAX 64
#define PR_ALERT_LABEL_MAX 129
#define PR_ALERT_WINDOW_MAX 8
/* At most this many rules in a file. */
#define PR_ALERT_RULES_MAX 1024

typedef enum {
    PR_ALERT_OP_GT = 0,  /* value >  threshold */
    PR_ALERT_OP_GE,      /* value >= threshold */
    PR_ALERT_OP_LT,      /* value <  threshold */
    PR_ALERT_OP_LE,      /* value <= threshold */
    PR_ALERT_OP_OUTSIDE  /* value < threshold or value > threshold_hi */
} pr_alert_op;

typedef enum {
    PR_ALERT_SEVERITY_INFO = 0,
    PR_ALERT_SEVERITY_WARNING,
    PR_ALERT_SEVERITY_CRITICAL
} pr_alert_severity;

typedef enum {
    PR_ALERT_STATE_OK = 0,
    PR_ALERT_STATE_PENDING,
    PR_ALERT_STATE_FIRING
} pr_alert_state;

/* A rule. field, arm, version: an exact label or "*" (any, one alert
 * instance per distinct value). A sample counts for a rule when metric
 * and window are equal, the labels match and n >= min_n; a NaN value
 * counts as no sample. */
typedef struct pr_alert_rule {
    char name[PR_ALERT_NAME_MAX];
    char metric[PR_ALERT_LABEL_MAX];
    char field[PR_ALERT_LABEL_MAX];    /* default "*" */
    char arm[PR_ALERT_LABEL_MAX];      /* default "*" */
    char version[PR_ALERT_LABEL_MAX];  /* default "*" */
    char window[PR_ALERT_WINDOW_MAX];  /* "1m", "5m", "15m", "1h" */
    pr_alert_op op;
    double threshold;     /* the bound; OUTSIDE: the low end */
    double threshold_hi;  /* OUTSIDE: the high end (>= threshold) */
    int64_t for_ms;       /* pending this long before firing (0: at once) */
    int64_t keep_firing_ms; /* a firing instance resolves only once the
                             condition has failed this long (0: at the
                             first sample that fails it), as Prometheus's
                             keep_firing_for: no flapping near a threshold */
    int64_t stale_ms;     /* no counting sample this long: the instance
                             resolves (default: twice the window) */
    uint64_t min_n;       /* samples with fewer observations do not count */
    pr_alert_severity severity;
    int retrain;          /* 1: going firing requests a retrain */
} pr_alert_rule;

/* A rule set. rules[0..n) owned by the set. */
typedef struct pr_alert_rules {
    pr_alert_rule *rules;
    size_t n;
} pr_alert_rules;

/* Parses a rules document (docs/monitoring.md): either the rules block
 * itself (a mapping with `rules:` and optionally `defaults: true`) or any
 * mapping with a `monitors:` key holding that block (a feature spec; its
 * other keys are left to the spec parser). Errors: PR_ERR_SPEC (or
 * PR_ERR_LIMIT past 1 MiB / PR_ALERT_RULES_MAX rules) naming
 * "name:line:col: path: what was expected". name: what messages call the
 * text (NULL: "<monitors>"). OUT *out: owned by caller, free with
 * pr_alert_rules_free. */
pr_status pr_alert_rules_parse(const char *yaml, size_t len, const char *name,
                               pr_alert_rules **out, pr_err *err);
/* pr_alert_rules_parse of a file (named in errors by its path). */
pr_status pr_alert_rules_load(const char *path, pr_alert_rules **out, pr_err *err);
/* The built-in defaults (what `defaults: true` adds and what applies when
 * no file is given). OUT *out: as parse. */
pr_status pr_alert_rules_default(pr_alert_rules **out, pr_err *err);
/* The built-in defaults themselves (static, never freed). */
const pr_alert_rules *pr_alert_rules_builtin(void);
/* Accepts NULL. */
void pr_alert_rules_free(pr_alert_rules *r);
/* The level at which r calls a value of metric "drifted" for field: the
 * smallest positive threshold of the rules on metric with op ">=" or ">"
 * that name field exactly, or when no rule on metric names it, of those
 * with field "*" (field NULL: "*" rules only), any window, arm, version;
 * NaN when no such rule (the metric is not judged). The alerts match the
 * same way: a rule naming a field takes it from the "*" rules of its
 * metric.
 * r NULL: the built-in rules. The report's verdicts and the server's
 * worst-first drift order come from here, so a monitors file changes them
 * too. */
double pr_alert_rules_threshold(const pr_alert_rules *r, const char *metric, const char *field);
/* The rules as a monitors document that parses back to the same rules
 * (every key spelled out). OUT *text: malloc'd, NUL-terminated (free()). */
pr_status pr_alert_rules_to_yaml(const pr_alert_rules *r, char **text, size_t *len,
                                 pr_err *err);

/* Words for messages and JSON: ">=", "outside"; "warning"; "pending". */
const char *pr_alert_op_str(pr_alert_op op);
const char *pr_alert_severity_str(pr_alert_severity s);
const char *pr_alert_state_str(pr_alert_state s);

/* ------------------------------------------------------------ evaluation */

/* One state change of one alert instance. Every pointer is borrowed, valid
 * during the callback only. */
typedef struct pr_alert_transition {
    const pr_alert_rule *rule;
    const char *field, *arm, *version;  /* the instance's labels */
    pr_alert_state from, to;
    double value;       /* the last counting value (NaN if none) */
    uint64_t n;         /* its observations */
    int64_t at_ms;      /* the evaluation time */
    int64_t since_ms;   /* when the instance entered `to` (= at_ms), or for
                           to == OK, when it had entered pending */
    int stale;          /* 1: resolved because samples stopped coming */
} pr_alert_transition;

typedef void (*pr_alert_cb)(void *ctx, const pr_alert_transition *t);

typedef struct pr_alerts_opts {
    pr_alert_cb on_transition;  /* NULL: none */
    void *ctx;                  /* its first argument */
    const char *registry_dir;   /* a registry (copied); NULL: rules with
                                   retrain: true only alert */
    size_t max_instances;       /* live instances over all rules (default
                                   10000); more are dropped and counted */
} pr_alerts_opts;

void pr_alerts_opts_default(pr_alerts_opts *o);

typedef struct pr_alerts pr_alerts;

/* rules: copied. The registry, if any, is opened here (PR_ERR_NOTFOUND...
 * naming it when it is not one). OUT *out: owned by caller, free with
 * pr_alerts_free. */
pr_status pr_alerts_new(const pr_alert_rules *rules, const pr_alerts_opts *o,
                        pr_alerts **out, pr_err *err);
/* Accepts NULL. */
void pr_alerts_free(pr_alerts *a);

/* Evaluates every rule at now_ms (Unix ms, the caller's clock) against the
 * samples of this tick (borrowed for the call). Per instance (rule x
 * labels): a counting sample whose condition holds moves ok -> pending
 * (or straight to firing when for is 0) and pending -> firing once it has
 * held for `for` (now - pending since >= for); one whose condition does
 * not hold moves pending or firing -> ok. No counting sample: the state
 * stays as it is until stale_ms after the last counting one, then the
 * instance resolves to ok (stale = 1) and is forgotten. Two samples for
 * one instance in a call: the last counts. Firing transitions of retrain
 * rules make one pr_registry_request("retrain") per call naming them
 * (errors logged and counted, never fatal). Returns the number of
 * transitions (each passed to on_transition). */
size_t pr_alerts_eval(pr_alerts *a, int64_t now_ms, const pr_metric_sample *samples,
                      size_t n);

/* One pending or firing instance. */
typedef struct pr_alert_active {
    size_t rule;                       /* index into the rules */
    char name[PR_ALERT_NAME_MAX];
    char field[PR_ALERT_LABEL_MAX];
    char arm[PR_ALERT_LABEL_MAX];
    char version[PR_ALERT_LABEL_MAX];
    pr_alert_state state;
    pr_alert_severity severity;
    double value;
    uint64_t n;
    int64_t since_ms;         /* entered pending (Prometheus' activeAt) */
    int64_t firing_since_ms;  /* entered firing; 0 while pending */
    int64_t last_seen_ms;     /* the last counting sample */
} pr_alert_active;

/* Copies up to cap active instances (by rule, then labels) into out and
 * returns how many there are in all. */
size_t pr_alerts_active(pr_alerts *a, pr_alert_active *out, size_t cap);

/* The rules the alerts were made with (borrowed, valid until free). */
const pr_alert_rules *pr_alerts_rules(const pr_alerts *a);

typedef struct pr_alerts_stats {
    uint64_t evals;
    uint64_t samples_counted;    /* matched a rule and counted */
    uint64_t samples_below_min_n;
    uint64_t transitions;
    uint64_t instances;          /* live now */
    uint64_t instances_dropped;  /* refused: max_instances reached */
    uint64_t retrain_requests;   /* pr_registry_request calls that succeeded */
    uint64_t retrain_failed;
} pr_alerts_stats;

void pr_alerts_stats_get(pr_alerts *a, pr_alerts_stats *out);

/* A transition as the webhook's JSON object (docs/monitoring.md):
 * {"alert","labels":{metric,field,arm,version,window},"state","previous",
 *  "value","n","op","threshold"[,"threshold_hi"],"for_ms","since","at",
 *  "severity","retrain","stale","summary"}. OUT *json: malloc'd (free()). */
pr_status pr_alert_transition_json(const pr_alert_transition *t, char **json, size_t *len,
                                   pr_err *err);
/* The one-line summary in that JSON ("psi of field C1 (5m) is 0.31 >= 0.2
 * ..."), NUL-terminated into buf of cap bytes (truncated if short). */
void pr_alert_transition_summary(const pr_alert_transition *t, char *buf, size_t cap);

/* ------------------------------------------------------------ webhook
 * POSTs JSON documents to a URL from its own thread. The queue is bounded:
 * when full, the OLDEST queued document is dropped (and counted) to make
 * room, so the newest states (a resolution after a firing) get through. A
 * request that fails to connect, times out or gets a 5xx (or 429) is
 * retried after a backoff (backoff_ms, doubled each time, at most
 * backoff_max_ms) up to max_retries times, then counted failed; any other
 * non-2xx is failed at once. */
typedef struct pr_webhook_opts {
    size_t queue_max;            /* documents waiting (default 256) */
    int64_t timeout_ms;          /* whole request (default 5000) */
    int64_t connect_timeout_ms;  /* (default 2000) */
    unsigned max_retries;        /* after the first attempt (default 3) */
    int64_t backoff_ms;          /* first retry delay (default 500) */
    int64_t backoff_max_ms;      /* (default 30000) */
} pr_webhook_opts;

void pr_webhook_opts_default(pr_webhook_opts *o);

typedef struct pr_webhook pr_webhook;

/* url: http:// or https:// (copied). Starts the sender thread.
 * OUT *out: owned by caller, free with pr_webhook_free. */
pr_status pr_webhook_new(const char *url, const pr_webhook_opts *o, pr_webhook **out,
                         pr_err *err);
/* Stops the thread: an attempt in flight ends within its timeout, a
 * backoff wait at once; documents still queued are counted dropped.
 * Accepts NULL. */
void pr_webhook_free(pr_webhook *w);

/* Queues a copy of json[0..len). Never waits for the network: it takes the
 * queue's lock, which the sender holds only to pop. Returns PR_OK, or
 * PR_ERR_NOMEM (counted dropped). */
pr_status pr_webhook_post(pr_webhook *w, const char *json, size_t len);
/* A pr_alert_cb: ctx is the pr_webhook; posts pr_alert_transition_json. */
void pr_webhook_on_transition(void *ctx, const pr_alert_transition *t);
/* Waits until the queue is empty and no request is in flight, at most
 * timeout_ms. Returns 1 when idle, 0 on timeout. (Tests, shutdown.) */
int pr_webhook_flush(pr_webhook *w, int64_t timeout_ms);

typedef struct pr_webhook_stats {
    uint64_t sent;      /* delivered (2xx) */
    uint64_t failed;    /* given up: retries exhausted or a 4xx */
    uint64_t retried;   /* attempts after the first */
    uint64_t dropped;   /* never attempted: queue full, memory, shutdown */
    uint64_t timeouts;  /* attempts that timed out (also retried/failed) */
    uint64_t queued;    /* waiting now */
} pr_webhook_stats;

void pr_webhook_stats_get(pr_webhook *w, pr_webhook_stats *out);

#ifdef __cplusplus
}
#endif
#endif
