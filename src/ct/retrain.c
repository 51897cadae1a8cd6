/*
 * retrain.c: one retraining cycle (retrain.h, docs/continuous-training.md).
 *
 *   1. resolve the alias (production) and load its model into memory, so
 *      a gc or a move during the cycle changes nothing for it;
 *   2. build, in ONE replay of the event log with nothing after now
 *      applied, the examples of two windows into example caches in the
 *      work folder beside the registry: train [now-lag-holdout-window,
 *      now-lag-holdout) and holdout [now-lag-holdout, now-lag);
 *   3. too few examples, or no click, in either: "skipped";
 *   4. train the candidate (scratch: a new model; warm: production's,
 *      continued) on the train cache;
 *   5. score candidate and production on the holdout;
 *   6. the gate: NE against production's by the margin, calibration in
 *      bounds, every weight and holdout prediction finite, size, spec
 *      fingerprint (the first model: calibration and finiteness only);
 *   7. register (rejected, with the failures, if the gate failed), move
 *      the alias, append the "gate" line. Each of these is crash-safe in
 *      itself (registry.c), and they come last, so a cycle that fails or
 *      is killed before leaves every alias as it was.
 *
 * Ownership: the result's json is the caller's (pr_retrain_result_free);
 * everything else is freed before returning; the work folder is removed
 * on every path.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ct/ct_int.h"
#include "pronto/feature.h"
#include "pronto/train.h"

#define DAY_MS (INT64_C(86400000))
#define HOUR_MS (INT64_C(3600000))
#define MAX_REASONS 16

const char *pr_retrain_decision_name(pr_retrain_decision d) {
    switch (d) {
    case PR_RETRAIN_PROMOTED: return "promoted";
    case PR_RETRAIN_REGISTERED: return "registered";
    case PR_RETRAIN_REJECTED: return "rejected";
    case PR_RETRAIN_SKIPPED: return "skipped";
    case PR_RETRAIN_ERROR: return "error";
    case PR_RETRAIN_ROLLBACK: return "rollback";
    case PR_RETRAIN_KEEP: return "keep";
    case PR_RETRAIN_NONE: return "none";
    }
    return "unknown";
}

void pr_retrain_opts_default(pr_retrain_opts *o) {
    memset(o, 0, sizeof *o);
    o->alias = "production";
    o->train_window_ms = 7 * DAY_MS;
    o->holdout_ms = HOUR_MS;
    o->window_ms = 2 * HOUR_MS;
    o->lateness_ms = 10 * 60 * 1000;
    o->label_lag_ms = -1; /* = window_ms */
    o->min_examples = 1000;
    o->policy = PR_RETRAIN_POLICY_SCRATCH;
    o->kind = PR_MODEL_KIND_LR;
    pr_model_params_default(&o->params, PR_MODEL_KIND_LR);
    o->threads = 1;
    o->seed = 1;
    o->calibration_lo = 0.8;
    o->calibration_hi = 1.25;
    o->max_bytes = -1;
    o->rollback_margin = 0.01;
}

void pr_retrain_result_free(pr_retrain_result *r) {
    if (!r) return;
    free(r->json);
    r->json = NULL;
}

/* ---------------------------------------------------------------- checks */

static pr_status check_opts(const pr_retrain_opts *o, pr_err *err) {
    if (!o->events_uri || !*o->events_uri) return pr_err_set(err, PR_ERR_INVALID, "retrain: no event log given");
    if (!o->spec_path || !*o->spec_path) return pr_err_set(err, PR_ERR_INVALID, "retrain: no spec given");
    if (o->now_ms <= 0) return pr_err_set(err, PR_ERR_INVALID, "retrain: the cycle's time must be > 0");
    if (o->train_window_ms <= 0 || o->holdout_ms <= 0)
        return pr_err_set(err, PR_ERR_INVALID, "retrain: train window and holdout must be > 0");
    if (o->window_ms < 0 || o->lateness_ms < 0)
        return pr_err_set(err, PR_ERR_INVALID, "retrain: attribution window and lateness must be >= 0");
    if (!(o->calibration_lo > 0 && o->calibration_lo <= o->calibration_hi && isfinite(o->calibration_hi)))
        return pr_err_set(err, PR_ERR_INVALID, "retrain: calibration bounds must be 0 < LO <= HI");
    if (!isfinite(o->min_gain) || !isfinite(o->rollback_margin))
        return pr_err_set(err, PR_ERR_INVALID, "retrain: margins must be finite");
    if (o->threads < 1 || o->threads > 256)
        return pr_err_set(err, PR_ERR_INVALID, "retrain: threads must be 1..256");
    if (o->passes < 0 || o->passes > 1000)
        return pr_err_set(err, PR_ERR_INVALID, "retrain: passes must be 0..1000");
    return PR_OK;
}

/* 1 if every bucket's weight (as pr_model_weight_norm reports it) is
 * finite. */
static int weights_finite(const pr_model *m) {
    uint32_t bits = pr_model_params_get(m)->hash_bits;
    uint64_t n = (uint64_t)1 << bits;
    for (uint64_t i = 0; i < n; i++)
        if (!isfinite(pr_model_weight_norm(m, (uint32_t)i))) return 0;
    return 1;
}

static int64_t file_bytes(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

typedef struct reasons {
    char text[MAX_REASONS][256];
    int failed[MAX_REASONS];
    int n, n_failed;
} reasons;

static void reason(reasons *r, int failed, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void reason(reasons *r, int failed, const char *fmt, ...) {
    if (r->n == MAX_REASONS) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->text[r->n], sizeof r->text[0], fmt, ap);
    va_end(ap);
    r->failed[r->n++] = failed;
    r->n_failed += failed;
}

/* The reason that sums a decision up: the first failure, else the NE
 * comparison (or the first-model note). */
static int headline(const reasons *r) {
    for (int i = 0; i < r->n; i++)
        if (r->failed[i]) return i;
    for (int i = 0; i < r->n; i++)
        if (!strncmp(r->text[i], "NE ", 3) || !strncmp(r->text[i], "first model", 11)) return i;
    return 0;
}

/* ---------------------------------------------------------------- training */

/* Trains the candidate into out_path. prod: production's model (warm
 * start: copied and continued), may be NULL. build_spec: the spec the
 * caches were built with (a scratch model's). */
static pr_status train_candidate(const pr_retrain_opts *o, const pr_model *prod,
                                 const pr_spec *build_spec, uint64_t spec_fp, const char *train_cache, const char *out_path,
                                 pr_model **out, int *warm, pr_err *err) {
    pr_model *model = NULL;
    pr_spec *spec = NULL;
    pr_featurizer *fz = NULL;
    pr_status s = PR_OK;
    *out = NULL;
    *warm = o->policy == PR_RETRAIN_POLICY_WARM && prod != NULL;
    if (*warm) {
        uint64_t pfp;
        if ((s = pr__ct_fingerprint(prod, &pfp, err)) != PR_OK) return s;
        if (pfp != spec_fp)
            return pr_err_set(err, PR_ERR_SPEC,
                              "warm start: production's embedded spec (fingerprint %016llx) "
                              "featurizes differently from %s (%016llx); a spec change needs "
                              "the scratch policy", (unsigned long long)pfp, o->spec_path,
                              (unsigned long long)spec_fp);
        if ((s = pr_model_clone(prod, &model, err)) != PR_OK) return s;
        const char *y = pr_model_spec(model);
        s = pr_spec_parse(y, strlen(y), "production's spec", &spec, err);
    }
    if (s == PR_OK) s = pr_featurizer_new(spec ? spec : build_spec, &fz, err);
    if (s == PR_OK && !model) {
        pr_model_params p = o->params;
        p.kind = o->kind;
        p.hash_bits = pr_featurizer_hash_bits(fz);
        p.n_fields = pr_featurizer_n_fields(fz);
        p.seed = o->seed;
        s = pr_model_params_check(&p, err);
        if (s == PR_OK) s = pr_model_new(&p, &model, err);
    }
    if (s == PR_OK) {
        pr_model_kind kind = pr_model_params_get(model)->kind;
        pr_train_opts t;
        pr_train_opts_default(&t);
        t.threads = o->threads;
        t.passes = o->passes ? o->passes : (kind == PR_MODEL_KIND_LR ? 1 : 10);
        t.seed = o->seed;
        t.out_path = out_path;
        t.dataset = 1;
        t.neg_sample_rate = pr_model_params_get(model)->neg_sample_rate;
        const char *paths[1] = {train_cache};
        pr_input in = {PR_FORMAT_CSV, paths, 1};
        pr_train_report rep;
        s = pr_train(&model, fz, &in, &t, &rep, err);
    }
    pr_featurizer_free(fz);
    pr_spec_free(spec);
    if (s != PR_OK) {
        pr_model_free(model);
        return s;
    }
    *out = model;
    return PR_OK;
}

/* ---------------------------------------------------------------- the cycle */

static void window_json(json_t *w, const char *name, int64_t from, int64_t to) {
    char a[32], b[32];
    json_t *o = json_object();
    json_object_set_new(o, "from_ms", json_integer(from));
    json_object_set_new(o, "to_ms", json_integer(to));
    json_object_set_new(o, "from", json_string(pr__ct_iso(from, a, sizeof a)));
    json_object_set_new(o, "to", json_string(pr__ct_iso(to, b, sizeof b)));
    json_object_set_new(w, name, o);
}

pr_status pr_retrain_cycle(pr_registry *reg, const pr_retrain_opts *o, pr_retrain_result *res,
                           pr_err *err) {
    memset(res, 0, sizeof *res);
    res->decision = PR_RETRAIN_ERROR;
    double t0 = pr_now(), t_mark = t0;
    const char *alias = o->alias ? o->alias : "production";
    int64_t lag = o->label_lag_ms >= 0 ? o->label_lag_ms : (o->window_ms ? o->window_ms : 2 * HOUR_MS);
    int64_t hold_to = o->now_ms - lag, hold_from = hold_to - o->holdout_ms;
    int64_t train_to = hold_from, train_from = train_to - o->train_window_ms;
    char workdir[CT_PATH_MAX] = "", train_cache[CT_PATH_MAX], hold_cache[CT_PATH_MAX],
         cand_path[CT_PATH_MAX], prod_path[PR_REGISTRY_PATH_MAX];
    pr_model *prod = NULL, *cand = NULL;
    pr_spec *build_spec = NULL;
    pr_metrics_report crep, prep;
    memset(&crep, 0, sizeof crep);
    memset(&prep, 0, sizeof prep);
    int have_crep = 0, have_prep = 0, warm = 0;
    uint64_t spec_fp = 0, prod_fp = 0, cand_fp = 0;
    int64_t prod_bytes = -1, cand_bytes = -1;
    pr_fs_build_stats bst;
    memset(&bst, 0, sizeof bst);
    reasons rs;
    memset(&rs, 0, sizeof rs);
    json_t *line = json_object(), *data = NULL, *metrics = NULL;

    pr_status s = check_opts(o, err);
    if (s != PR_OK) goto done;
    /* 1. production, held in memory */
    s = pr_registry_resolve(reg, alias, res->production, prod_path, err);
    if (s == PR_ERR_NOTFOUND) {
        res->production[0] = '\0';
        s = PR_OK;
    } else if (s == PR_OK) {
        if ((s = pr_model_load(prod_path, &prod, err)) != PR_OK) goto done;
        prod_bytes = file_bytes(prod_path);
        if ((s = pr__ct_fingerprint(prod, &prod_fp, err)) != PR_OK) goto done;
    }
    if (s != PR_OK) goto done;
    /* The spec the caches are built with (and a scratch candidate trained
     * with): --spec, with the hash-bits override of a scratch model. */
    {
        pr_featurizer *fz = NULL;
        s = pr_spec_load(o->spec_path, &build_spec, err);
        if (s == PR_OK && o->hash_bits && o->policy == PR_RETRAIN_POLICY_SCRATCH)
            s = pr_spec_set_hash_bits(build_spec, o->hash_bits, err);
        if (s == PR_OK) s = pr_featurizer_new(build_spec, &fz, err);
        if (s == PR_OK) spec_fp = pr_featurizer_fingerprint(fz);
        pr_featurizer_free(fz);
        if (s != PR_OK) goto done;
    }
    /* 2. one replay, two outputs */
    if ((s = pr__ct_workdir(reg, workdir, err)) != PR_OK) {
        workdir[0] = '\0';
        goto done;
    }
    snprintf(train_cache, sizeof train_cache, "%s/train.pcache", workdir);
    snprintf(hold_cache, sizeof hold_cache, "%s/holdout.pcache", workdir);
    snprintf(cand_path, sizeof cand_path, "%s/candidate.pm", workdir);
    pr_fs_build_output outs[2] = {{train_cache, NULL, train_from, train_to},
                                  {hold_cache, NULL, hold_from, hold_to}};
    t_mark = pr_now();
    s = pr__ct_build(o, build_spec, outs, 2, &bst, err);
    res->seconds_build = pr_now() - t_mark;
    if (s != PR_OK) goto done;
    /* 3. enough data? */
    if (bst.labeled[0] < o->min_examples || bst.labeled[1] < o->min_examples ||
        !bst.positives[0] || !bst.positives[1]) {
        reason(&rs, 1,
               "not enough data: %llu training examples (%llu clicks), %llu holdout examples "
               "(%llu clicks); at least %llu each with a click are needed",
               (unsigned long long)bst.labeled[0], (unsigned long long)bst.positives[0],
               (unsigned long long)bst.labeled[1], (unsigned long long)bst.positives[1],
               (unsigned long long)o->min_examples);
        res->decision = PR_RETRAIN_SKIPPED;
        goto decided;
    }
    /* 4. train */
    t_mark = pr_now();
    s = train_candidate(o, prod, build_spec, spec_fp, train_cache, cand_path, &cand, &warm, err);
    res->seconds_train = pr_now() - t_mark;
    if (s != PR_OK) goto done;
    cand_bytes = file_bytes(cand_path);
    if ((s = pr__ct_fingerprint(cand, &cand_fp, err)) != PR_OK) goto done;
    /* 5. evaluate */
    t_mark = pr_now();
    uint64_t cand_nonfinite = 0, prod_nonfinite = 0;
    if ((s = pr__ct_score(cand, hold_cache, &crep, &cand_nonfinite, err)) != PR_OK) goto done;
    have_crep = 1;
    int prod_comparable = 0;
    if (prod) {
        pr_err perr;
        pr_err_clear(&perr);
        pr_status ps = pr__ct_score(prod, hold_cache, &prep, &prod_nonfinite, &perr);
        if (ps == PR_OK) {
            have_prep = prod_comparable = 1;
        } else if (ps != PR_ERR_SPEC) {
            s = pr_err_set(err, ps, "scoring production (%s) on the holdout: %s", res->production,
                           perr.msg);
            goto done;
        }
    }
    int finite = weights_finite(cand) && cand_nonfinite == 0;
    res->seconds_evaluate = pr_now() - t_mark;
    /* 6. the gate */
    if (!prod)
        reason(&rs, 0, "first model: no %s version yet, so no NE, size or spec comparison; "
                       "calibration and finiteness checked", alias);
    if (prod && o->policy == PR_RETRAIN_POLICY_WARM)
        reason(&rs, 0, "warm start from %s", res->production);
    if (!prod && o->policy == PR_RETRAIN_POLICY_WARM)
        reason(&rs, 0, "warm policy without a %s version: trained from scratch", alias);
    if (prod_comparable) {
        double need = prep.ne - o->min_gain;
        if (isfinite(crep.ne) && isfinite(prep.ne) && crep.ne <= need)
            reason(&rs, 0, "NE %.5f <= %s's %.5f - %g on %llu holdout impressions", crep.ne,
                   res->production, prep.ne, o->min_gain, (unsigned long long)crep.rows);
        else
            reason(&rs, 1, "NE %.5f > %s's %.5f - %g (the margin) on %llu holdout impressions",
                   crep.ne, res->production, prep.ne, o->min_gain, (unsigned long long)crep.rows);
    } else if (prod) {
        reason(&rs, !o->allow_spec_change,
               "%s cannot be scored on the holdout built with %s (another featurization): NE "
               "not compared", res->production, o->spec_path);
    }
    if (crep.calibration >= o->calibration_lo && crep.calibration <= o->calibration_hi)
        reason(&rs, 0, "calibration %.4f within [%g, %g]", crep.calibration, o->calibration_lo,
               o->calibration_hi);
    else
        reason(&rs, 1, "calibration %.4f (sum predicted / clicks on the holdout) outside [%g, %g]",
               crep.calibration, o->calibration_lo, o->calibration_hi);
    if (finite)
        reason(&rs, 0, "every weight and holdout prediction finite");
    else
        reason(&rs, 1, "non-finite weights or predictions (%llu holdout predictions not finite)",
               (unsigned long long)cand_nonfinite);
    int64_t max_bytes = o->max_bytes >= 0 ? o->max_bytes : prod_bytes >= 0 ? 4 * prod_bytes : -1;
    if (max_bytes >= 0) {
        if (cand_bytes <= max_bytes)
            reason(&rs, 0, "size %lld bytes <= %lld", (long long)cand_bytes, (long long)max_bytes);
        else
            reason(&rs, 1, "size %lld bytes > %lld (%s)", (long long)cand_bytes,
                   (long long)max_bytes, o->max_bytes >= 0 ? "--max-bytes" : "4 x production's");
    }
    if (prod) {
        if (cand_fp == prod_fp)
            reason(&rs, 0, "spec fingerprint %016llx as %s's", (unsigned long long)cand_fp,
                   res->production);
        else
            reason(&rs, !o->allow_spec_change, "spec fingerprint %016llx differs from %s's %016llx%s",
                   (unsigned long long)cand_fp, res->production, (unsigned long long)prod_fp,
                   o->allow_spec_change ? " (allowed)" : " (a spec change needs --allow-spec-change)");
    }
    res->decision = rs.n_failed ? PR_RETRAIN_REJECTED
                    : o->no_promote ? PR_RETRAIN_REGISTERED : PR_RETRAIN_PROMOTED;

decided:;
    /* 7. register, promote, note */
    char iso[32];
    data = json_object();
    json_object_set_new(data, "events", json_string(o->events_uri));
    json_object_set_new(data, "spec", json_string(o->spec_path));
    json_object_set_new(data, "at_ms", json_integer(o->now_ms));
    json_object_set_new(data, "at", json_string(pr__ct_iso(o->now_ms, iso, sizeof iso)));
    window_json(data, "train", train_from, train_to);
    window_json(data, "holdout", hold_from, hold_to);
    json_object_set_new(data, "label_lag_ms", json_integer(lag));
    json_object_set_new(data, "attribution_window_ms", json_integer(o->window_ms));
    json_t *ex = json_object();
    json_object_set_new(ex, "train", json_integer((json_int_t)bst.labeled[0]));
    json_object_set_new(ex, "train_clicks", json_integer((json_int_t)bst.positives[0]));
    json_object_set_new(ex, "holdout", json_integer((json_int_t)bst.labeled[1]));
    json_object_set_new(ex, "holdout_clicks", json_integer((json_int_t)bst.positives[1]));
    json_object_set_new(data, "examples", ex);
    json_t *lg = json_object();
    json_object_set_new(lg, "records_read", json_integer((json_int_t)bst.lines));
    json_object_set_new(lg, "events_applied", json_integer((json_int_t)bst.events));
    json_object_set_new(lg, "events_after_now", json_integer((json_int_t)bst.after_until));
    json_object_set_new(data, "log", lg);
    json_object_set_new(data, "policy", json_string(warm ? "warm" : "scratch"));
    metrics = json_object();
    if (have_crep) json_object_set_new(metrics, "candidate", pr__ct_metrics_json(&crep));
    if (have_prep) json_object_set_new(metrics, "production", pr__ct_metrics_json(&prep));
    if (res->production[0]) json_object_set_new(metrics, "production_version", json_string(res->production));
    t_mark = pr_now();
    if (res->decision != PR_RETRAIN_SKIPPED) {
        const char *texts[MAX_REASONS];
        uint32_t nt = 0;
        for (int i = 0; i < rs.n; i++)
            if (res->decision != PR_RETRAIN_REJECTED || rs.failed[i]) texts[nt++] = rs.text[i];
        pr_registry_version_opts vo;
        pr_registry_version_opts_default(&vo);
        vo.parent = warm ? res->production : NULL;
        char *dj = json_dumps(data, JSON_COMPACT | JSON_REAL_PRECISION(15));
        char *mj = json_dumps(metrics, JSON_COMPACT | JSON_REAL_PRECISION(15));
        vo.data_json = dj;
        vo.metrics_json = mj;
        vo.command = o->command;
        vo.rejected = res->decision == PR_RETRAIN_REJECTED;
        vo.reasons = texts;
        vo.n_reasons = nt;
        s = dj && mj ? pr_registry_register(reg, cand_path, &vo, res->version, err)
                     : pr_err_set(err, PR_ERR_NOMEM, "out of memory");
        free(dj);
        free(mj);
        if (s != PR_OK) goto done;
        if (res->decision == PR_RETRAIN_PROMOTED) {
            char why[512];
            snprintf(why, sizeof why, "gate passed: %s", rs.text[headline(&rs)]);
            /* force only for a spec change the caller allowed */
            s = pr_registry_set_alias(reg, alias, res->version, why,
                                      o->allow_spec_change && prod && cand_fp != prod_fp, err);
            if (s != PR_OK) goto done;
        }
    }
    res->seconds_register = pr_now() - t_mark;
    s = PR_OK;
done:;
    if (s != PR_OK) {
        res->decision = PR_RETRAIN_ERROR;
        rs.n = rs.n_failed = 0;
        reason(&rs, 1, "%s", err->msg);
    }
    res->seconds_total = pr_now() - t0;
    /* The decision line: stdout (the caller prints res->json) and history. */
    char iso2[32];
    json_object_set_new(line, "decision", json_string(pr_retrain_decision_name(res->decision)));
    json_object_set_new(line, "version", res->version[0] ? json_string(res->version) : json_null());
    json_object_set_new(line, "alias", json_string(alias));
    json_object_set_new(line, "production", res->production[0] ? json_string(res->production) : json_null());
    json_object_set_new(line, "policy", json_string(warm ? "warm" : o->policy == PR_RETRAIN_POLICY_WARM ? "warm (from scratch)" : "scratch"));
    json_object_set_new(line, "parent", warm && res->production[0] ? json_string(res->production) : json_null());
    json_t *rj = json_array(), *cj = json_array();
    for (int i = 0; i < rs.n; i++) {
        if (res->decision != PR_RETRAIN_REJECTED || rs.failed[i]) json_array_append_new(rj, json_string(rs.text[i]));
        json_t *c = json_object();
        json_object_set_new(c, "ok", json_boolean(!rs.failed[i]));
        json_object_set_new(c, "what", json_string(rs.text[i]));
        json_array_append_new(cj, c);
    }
    json_object_set_new(line, "reasons", rj);
    json_object_set_new(line, "checks", cj);
    json_object_set_new(line, "candidate", have_crep ? pr__ct_metrics_json(&crep) : json_null());
    json_object_set_new(line, "production_metrics", have_prep ? pr__ct_metrics_json(&prep) : json_null());
    json_t *w = json_object();
    json_object_set_new(w, "now_ms", json_integer(o->now_ms));
    window_json(w, "train", train_from, train_to);
    window_json(w, "holdout", hold_from, hold_to);
    json_object_set_new(w, "label_lag_ms", json_integer(lag));
    json_object_set_new(line, "window", w);
    json_t *ex2 = json_object();
    json_object_set_new(ex2, "train", json_integer((json_int_t)bst.labeled[0]));
    json_object_set_new(ex2, "holdout", json_integer((json_int_t)bst.labeled[1]));
    json_object_set_new(line, "examples", ex2);
    json_t *sec = json_object();
    json_object_set_new(sec, "build", json_real(res->seconds_build));
    json_object_set_new(sec, "train", json_real(res->seconds_train));
    json_object_set_new(sec, "evaluate", json_real(res->seconds_evaluate));
    json_object_set_new(sec, "register", json_real(res->seconds_register));
    json_object_set_new(sec, "total", json_real(res->seconds_total));
    json_object_set_new(line, "seconds", sec);
    json_object_set_new(line, "trigger", o->trigger ? json_string(o->trigger) : json_null());
    json_object_set_new(line, "at_ms", json_integer(o->now_ms));
    json_object_set_new(line, "at", json_string(pr__ct_iso(o->now_ms, iso2, sizeof iso2)));
    res->json = json_dumps(line, JSON_COMPACT | JSON_REAL_PRECISION(10));
    /* History: the same, less the bulky parts. */
    {
        json_t *h = json_deep_copy(line);
        json_object_del(h, "version");
        json_object_del(h, "checks");
        char *hj = json_dumps(h, JSON_COMPACT | JSON_REAL_PRECISION(10));
        json_decref(h);
        pr_err nerr;
        char why[300];
        snprintf(why, sizeof why, "%s: %s", pr_retrain_decision_name(res->decision),
                 rs.n ? rs.text[headline(&rs)] : "");
        if (!hj || pr_registry_note(reg, "gate", res->version[0] ? res->version : NULL, why, hj,
                                    &nerr) != PR_OK) {
            if (s == PR_OK) {
                /* the decision stands (its version is registered); say so */
                pr_log(PR_LOG_WARN, "retrain: the gate decision could not be noted in the "
                                    "history: %s", hj ? nerr.msg : "out of memory");
            }
        }
        free(hj);
    }
    json_decref(line);
    json_decref(data);
    json_decref(metrics);
    pr_model_free(prod);
    pr_model_free(cand);
    pr_spec_free(build_spec);
    pr__ct_workdir_remove(workdir);
    return s;
}
