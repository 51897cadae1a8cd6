/*
 * pronto/train.h: the batch trainer, and the featurize-a-file step that
 * `train`, `predict` and `eval` share.
 *
 * Training runs in two phases:
 *   1. prepare: every input file is read (pr_reader), featurized (the one
 *      pr_featurizer) and written to an example cache (pr_cache); the
 *      minimum-count filter counts every feature on the way.
 *   2. learn: passes over the cache with N threads (Hogwild: lock-free
 *      updates of one shared model), blocks in a seeded random order,
 *      examples shuffled within each block; the count filter's bitmap maps
 *      rare features to their field's rare bucket. Pass 1 reports
 *      progressive-validation log loss; with a validation file, each pass
 *      ends with its log loss and training stops early when it stops
 *      improving, keeping the best pass's model.
 * With threads = 1 and a given seed the result is bit-for-bit reproducible.
 *
 * One pass with no validation file and no --cache skips the cache: rows go
 * from the reader through the featurizer straight into the learners
 * (stream_learn.c), in constant memory, and rare features are admitted
 * online (pr_count_filter_add_admit).
 */
#ifndef PRONTO_TRAIN_H
#define PRONTO_TRAIN_H

#include <stdint.h>

#include "pronto/base.h"
#include "pronto/example.h"
#include "pronto/feature.h"
#include "pronto/metrics.h"
#include "pronto/model.h"
#include "pronto/reader.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pr_train_opts {
    int threads;               /* learner threads (>= 1) */
    int passes;                /* maximum passes over the data */
    uint64_t seed;             /* shuffling and downsampling */
    int early_stop;            /* with a validation file: stop after this many
                                  passes without improvement (0 = never) */
    const char *valid_path;    /* validation file, same format, or NULL */
    const char *cache_path;    /* keep and reuse the cache here, or NULL for a
                                  temporary one removed at the end */
    uint64_t skip_bad;         /* malformed lines tolerated (then counted) */
    float neg_sample_rate;     /* keep this fraction of negatives (1 = all) */
    const char *out_path;      /* where the model goes */
    int dataset;               /* 1: the one input (and valid_path) is an
                                  example cache written by `pronto
                                  build-dataset` with this spec, trained
                                  from as is */
    int team;                  /* models with a team update (FFM): 1 = all
                                  threads learn each example together
                                  (race-free, reproducible; spins, so only
                                  for otherwise idle cores), 0 = Hogwild
                                  (the default) */
} pr_train_opts;

void pr_train_opts_default(pr_train_opts *o);

/* What a training run reports back (filled as far as the run got). */
typedef struct pr_train_report {
    int streamed;              /* 1: one pass straight from the input, no
                                  cache (prepare_seconds is 0) */
    uint64_t rows_read;        /* rows featurized */
    uint64_t rows_bad;         /* malformed rows skipped */
    uint64_t rows_dropped;     /* negatives removed by downsampling */
    uint64_t bytes_read;
    int64_t ts_min, ts_max;    /* time span of the data (0 if unknown) */
    double prepare_seconds;
    double learn_seconds;
    uint64_t example_passes;   /* examples learned from, all passes */
    int passes_run;
    int best_pass;             /* 1-based; the pass whose model was kept */
    double train_logloss;      /* progressive validation, pass 1 */
    double valid_logloss;      /* best pass, NaN if no validation file */
    double valid_auc;
} pr_train_report;

/* An input description shared by train, predict and eval. */
typedef struct pr_input {
    pr_format format;
    const char *const *paths;
    uint32_t n_paths;
} pr_input;

/* Trains *model (new or warm-started) on inputs featurized by `fz`; when
 * early stopping keeps an earlier pass, *model is replaced by that one.
 * fz is bound to each reader's columns as files open. On success the model
 * carries the filter bitmap, the featurizer's spec and the training info
 * JSON, and has been saved to o->out_path. Errors name the file and line. */
pr_status pr_train(pr_model **model, pr_featurizer *fz, const pr_input *in,
                   const pr_train_opts *o, pr_train_report *report,
                   pr_err *err);

/* Most input columns a spec may read. */
#define PR_MAX_INPUT_COLUMNS 1024

/* Reader options for a format as the spec's input section describes it.
 * cols (cols_cap entries, caller's) receives the spec's input column names;
 * ro keeps pointers into it, so it must outlive pr_reader_open. */
void pr_reader_opts_from_spec(pr_reader_opts *ro, pr_format format,
                              const pr_spec *spec, int label_optional,
                              const char **cols, uint32_t cols_cap);

/* Streams every row of the inputs through fz (with the model's filter) and
 * calls fn(ctx, example, record) for each; the example is the callback's to
 * modify, and, like the record, valid only during the call. Used by predict and eval. Stops at
 * the first malformed row unless skip_bad allows it; *bad counts skips. */
typedef pr_status (*pr_example_fn)(void *ctx, pr_example *x,
                                   const pr_record *rec, pr_err *err);
pr_status pr_featurize_inputs(pr_featurizer *fz, const pr_spec *spec,
                              const uint64_t *filter, const pr_input *in,
                              int label_optional, uint64_t skip_bad,
                              uint64_t *bad, pr_example_fn fn, void *ctx,
                              pr_err *err);

/* The same for an example cache written by `pronto build-dataset`: checks
 * that fz featurizes like the builder did (PR_ERR_SPEC otherwise), applies
 * the filter to each example and calls fn with a record carrying only the
 * label (has_label 1) and ts. */
pr_status pr_dataset_for_each(const char *path, const pr_featurizer *fz,
                              const uint64_t *filter, pr_example_fn fn,
                              void *ctx, pr_err *err);

#ifdef __cplusplus
}
#endif
#endif
