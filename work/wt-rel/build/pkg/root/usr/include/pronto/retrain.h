/*
 * pronto/retrain.h: continuous training's batch side. One retraining
 * cycle (build the window's examples from the event log point in time,
 * train a candidate, score it and production on the newest held-out
 * slice, pass it through the gate, register and promote it or register
 * it as rejected) and the probation check that rolls production back
 * when a new model does worse live than its predecessor. `pronto
 * retrain` is a thin shell over these; the online learner reuses the
 * probation check. docs/continuous-training.md says what each step does.
 *
 *   pr_retrain_opts o;
 *   pr_retrain_opts_default(&o);
 *   o.events_uri = "log:events"; o.spec_path = "spec.yaml";
 *   o.now_ms = t;                       // the cycle's "now"
 *   pr_retrain_result res;
 *   pr_retrain_cycle(reg, &o, &res, &err);   // res.decision, res.json
 *   pr_retrain_result_free(&res);
 *
 * Windows (all impression times, [from, to)): with lag = label_lag_ms,
 *   holdout = [now - lag - holdout, now - lag)          never trained on
 *   train   = [holdout.from - train_window, holdout.from)
 * Events after now are not applied (a replay may hold a longer log), so
 * every example is labeled as of now; impressions younger than now - lag
 * are left out because their clicks may still come.
 *
 * Failure safety: the registry is written only at the end of a cycle, in
 * the order register, move the alias, note the decision, each step
 * crash-safe in itself (registry.h). A cycle that fails or is killed at
 * any instant leaves the aliases as they were (or, killed after the
 * register, an extra version no alias names). Temporary example caches
 * go to a folder beside the registry (DIR.retrain-PID), removed at the
 * end; a later cycle removes those of dead processes.
 */
#ifndef PRONTO_RETRAIN_H
#define PRONTO_RETRAIN_H

#include <stdint.h>

#include "pronto/base.h"
#include "pronto/model.h"
#include "pronto/registry.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    PR_RETRAIN_POLICY_SCRATCH = 0, /* a new model (kind and params below) */
    PR_RETRAIN_POLICY_WARM = 1     /* continue production's model on the window */
} pr_retrain_policy;

/* What a cycle (or a probation check) decided. */
typedef enum {
    PR_RETRAIN_PROMOTED = 0, /* gate passed, registered, alias moved */
    PR_RETRAIN_REGISTERED,   /* gate passed, registered (no_promote) */
    PR_RETRAIN_REJECTED,     /* gate failed: registered as rejected */
    PR_RETRAIN_SKIPPED,      /* too little data: nothing registered */
    PR_RETRAIN_ERROR,        /* the cycle failed: nothing moved */
    PR_RETRAIN_ROLLBACK,     /* probation: production moved back */
    PR_RETRAIN_KEEP,         /* probation: compared, production stays */
    PR_RETRAIN_NONE          /* probation: nothing to check */
} pr_retrain_decision;

/* "promoted", "registered", "rejected", "skipped", "error", "rollback",
 * "keep", "none". */
const char *pr_retrain_decision_name(pr_retrain_decision d);

typedef struct pr_retrain_opts {
    /* Inputs. Borrowed for the call. */
    const char *events_uri;     /* the event log (pr_log_open URI) */
    const char *spec_path;      /* feature spec with the store sections */
    const char *data_dir;       /* the spec's entity tables (NULL: cwd) */
    const char *alias;          /* default "production" */
    const char *command;        /* recorded as the creator (may be NULL) */
    const char *trigger;        /* why this cycle runs ("schedule",
                                   "request: ...", "once"), recorded */
    /* Times (ms). */
    int64_t now_ms;             /* the cycle's now (required) */
    int64_t train_window_ms;    /* default 7 d */
    int64_t holdout_ms;         /* default 1 h */
    int64_t label_lag_ms;       /* default: window_ms */
    int64_t window_ms;          /* attribution window, default 2 h */
    int64_t lateness_ms;        /* joiner lateness, default 10 min */
    uint64_t min_examples;      /* fewer in train or holdout: skipped
                                   (default 1000); probation: the least
                                   matured impressions compared */
    /* Training. */
    pr_retrain_policy policy;
    pr_model_kind kind;         /* scratch: lr (default), ffm, fm */
    pr_model_params params;     /* scratch: hyperparameters as set; kind,
                                   hash_bits, n_fields and seed are set by
                                   the cycle. Default: pr_model_params_default */
    uint32_t hash_bits;         /* scratch: 0 = the spec's */
    int threads;                /* default 1 */
    int passes;                 /* 0: 1 (lr), 10 (ffm/fm) */
    uint64_t seed;              /* default 1 */
    /* Gate. */
    double min_gain;            /* candidate NE <= production NE - min_gain
                                   (negative: a tolerance); default 0 */
    double calibration_lo, calibration_hi; /* sum p / clicks on the
                                   holdout; default 0.8, 1.25 */
    int64_t max_bytes;          /* model file size; -1 (default): 4 x
                                   production's, none for the first */
    int allow_spec_change;      /* promote a candidate whose spec
                                   fingerprint differs from production's */
    int no_promote;             /* register only */
    /* Probation (pr_retrain_check_probation). */
    int64_t probation_ms;       /* 0: off */
    double rollback_margin;     /* default 0.01 NE */
    int64_t moved_at_ms;        /* 0, or the time of the alias's last move
                                   to use instead of the history's (for
                                   moves made outside simulated time) */
} pr_retrain_opts;

void pr_retrain_opts_default(pr_retrain_opts *o);

/* What a cycle reports. json: one line (no newline), malloc'd, owned by
 * the result: {"decision", "version", "alias", "production", "policy",
 * "reasons", "checks", "candidate", "production_metrics", "window",
 * "examples", "seconds", "trigger", "at"} (docs/continuous-training.md). */
typedef struct pr_retrain_result {
    pr_retrain_decision decision;
    char version[PR_REGISTRY_ID_MAX];    /* registered (or rolled back to) */
    char production[PR_REGISTRY_ID_MAX]; /* the alias's target before */
    double seconds_build, seconds_train, seconds_evaluate, seconds_register, seconds_total;
    char *json;
} pr_retrain_result;

void pr_retrain_result_free(pr_retrain_result *r);

/* One cycle on reg (borrowed). Returns PR_OK whenever a decision was made
 * (promoted, registered, rejected, skipped); on failure the error, with
 * res->decision PR_RETRAIN_ERROR and res->json describing it, and the
 * registry's aliases as they were. Every decision also goes to the
 * registry's history as a "gate" line (an error too, when the registry
 * can still be written). */
pr_status pr_retrain_cycle(pr_registry *reg, const pr_retrain_opts *o, pr_retrain_result *res,
                           pr_err *err);

/* The probation check at o->now_ms: if o->alias was last moved (not by a
 * rollback) less than o->probation_ms ago, scores its target and the
 * version a rollback would return to on the matured impressions since
 * the move ([moved_at, now - lag)), and when the target's NE is worse
 * than the predecessor's by more than o->rollback_margin on at least
 * o->min_examples impressions, rolls the alias back with a reason giving
 * both figures. res->decision: ROLLBACK, KEEP (compared: within the
 * margin, or too few impressions) or NONE (no probation running,
 * nothing to go back to, off). */
pr_status pr_retrain_check_probation(pr_registry *reg, const pr_retrain_opts *o,
                                     pr_retrain_result *res, pr_err *err);

/* ---------------------------------------------------------------- parsers */

/* "LO,HI" with 0 < LO <= HI, finite. PR_ERR_PARSE with what is wrong. */
pr_status pr_retrain_parse_range(const char *text, double *lo, double *hi, pr_err *err);

/* The last move of alias in a registry history text (registry.h's
 * pr_registry_history): its op ("alias" or "rollback"), target, the
 * version a rollback would return to ("" if none), and when it happened:
 * the cycle time ("at_ms") a retrain gate line after it recorded, else
 * the line's wall time. PR_ERR_NOTFOUND if the alias never moved.
 * Lines that do not parse, or name no version id ("v" and 6-12 digits),
 * are skipped. */
typedef struct pr_retrain_move {
    char op[16];
    char version[PR_REGISTRY_ID_MAX];
    char previous[PR_REGISTRY_ID_MAX];
    int64_t at_ms;
    int at_from_gate;  /* 1: at_ms is a retrain cycle's time */
} pr_retrain_move;

pr_status pr_retrain_last_move(const char *history, size_t len, const char *alias,
                               pr_retrain_move *out, pr_err *err);

#ifdef __cplusplus
}
#endif
#endif
