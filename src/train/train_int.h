/*
 * train_int.h: what the trainer's files share (trainer.c, stream_learn.c).
 */
#ifndef PRONTO_TRAIN_INT_H
#define PRONTO_TRAIN_INT_H

#include <math.h>
#include <stdint.h>

#include "pronto/cache.h"
#include "pronto/profile.h"
#include "pronto/train.h"

/* Log loss of a logit z for label y, computed stably:
 * log(1 + e^-|z|) + max(z, 0) - y z. */
static inline double pr__logloss_of_logit(double z, float y) {
    return log1p(exp(-fabs(z))) + (z > 0 ? z : 0) - y * z;
}

/* One pass straight from the inputs, no cache (stream_learn.c). Fills the
 * report's rows, time span, learn time, passes and progressive log loss;
 * counts (may be NULL) ends holding every feature's count. */
/* featurize_inputs.c: opens an example cache written by `pronto
 * build-dataset` and checks that fz featurizes as its builder did (spec
 * fingerprint, hash bits, fields): PR_ERR_SPEC naming the file if not. */
pr_status pr__open_dataset(const char *path, const pr_featurizer *fz,
                           pr_cache **out, pr_err *err);

pr_status pr__learn_stream(pr_model *model, pr_featurizer *fz, const pr_spec *spec,
                           const pr_input *in, const pr_train_opts *o,
                           pr_count_filter *counts, pr_profile_builder *prof,
                           pr_scores *scores, pr_train_report *rep, pr_err *err);

#endif
