/*
 * ct_int.h: what the continuous-training files (retrain.c, probation.c)
 * share: the work folder beside the registry, the point-in-time build of
 * a window's examples from the event log, scoring a model on an example
 * cache, and metrics as JSON. Not part of the public API.
 */
#ifndef PRONTO_CT_INT_H
#define PRONTO_CT_INT_H

#include <jansson.h>

#include "pronto/fstore.h"
#include "pronto/metrics.h"
#include "pronto/retrain.h"

/* Room for a work path. */
#define CT_PATH_MAX 4096

/* Makes DIR.retrain-PID beside the registry (after removing the ones
 * whose process is gone). OUT dir: CT_PATH_MAX bytes. */
pr_status pr__ct_workdir(const pr_registry *reg, char *dir, pr_err *err);
/* Removes the work folder and what is in it (one level). Accepts "". */
void pr__ct_workdir_remove(const char *dir);

/* Builds the examples of the impressions in each [from, to) of outs from
 * o->events_uri with spec (borrowed; events after o->now_ms not applied). */
pr_status pr__ct_build(const pr_retrain_opts *o, const pr_spec *spec,
                       const pr_fs_build_output *outs, uint32_t n, pr_fs_build_stats *st,
                       pr_err *err);

/* Scores model (with its embedded spec's featurizer) on the example cache
 * at path. nonfinite: OUT, predictions that were not finite (left out of
 * the metrics). PR_ERR_SPEC when the cache was built with another
 * featurization. */
pr_status pr__ct_score(const pr_model *model, const char *path, pr_metrics_report *rep,
                       uint64_t *nonfinite, pr_err *err);

/* The featurization fingerprint of a model's embedded spec (0: none). */
pr_status pr__ct_fingerprint(const pr_model *model, uint64_t *fp, pr_err *err);

/* {"rows","positives","log_loss","ne","auc","calibration","mean_p",
 * "base_rate"} (NaN as null). New reference. */
json_t *pr__ct_metrics_json(const pr_metrics_report *r);
/* A real or null for NaN/inf. New reference. */
json_t *pr__ct_num(double v);
/* ISO-8601 UTC text of Unix ms into buf (at least 32 bytes). */
const char *pr__ct_iso(int64_t ms, char *buf, size_t n);

#endif
