/*
 * pronto/train.h: the batch trainer, and the featurize-a-file step that
 * `train`, `predict` and `eval` share.
 *
 * Training runs in two phases:
 *   1. prepare: every input file is read (pr_reader), featurized (the one
 *      pr_featurizer) and written to an example cache (pr_cache); the
 *      minimum-count filter counts every feature on the way.
 *   2. learn: passes over the cache with N threads (Hogwild: lock-free
 *      updates of one shared model; FFM's threads learn its hot rows on
 *      copies of their own, see hot_rows), blocks in a seeded random order,
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
    uint64_t max_memory;       /* bytes; 0 = no limit: pr_train refuses
                                  (PR_ERR_INVALID) a run whose
                                  pr_train_memory_estimate exceeds it,
                                  before reading anything */
    int team;                  /* models with a team update (FFM): 1 = all
                                  threads learn each example together
                                  (race-free, reproducible; spins, so only
                                  for otherwise idle cores), 0 = Hogwild
                                  (the default) */
    uint32_t hot_rows;         /* Hogwild with threads > 1 on a model with
                                  hot replicas (FFM): at most this many of
                                  the most frequent buckets, and the bias,
                                  are learned on per-thread copies added
                                  into the model after each cache block
                                  (model.h, pr_model_hot); 0 = plain
                                  Hogwild. Default PR_TRAIN_HOT_ROWS. */
    int mpi;                   /* 1: data-parallel over the MPI job started
                                  by pr_mpi_init (docs/distributed.md): each
                                  rank trains on its shard of the inputs and
                                  the ranks merge their models; rank 0
                                  validates and writes out_path */
    uint64_t sync_every;       /* mpi: merge about every N examples per rank
                                  (at cache block boundaries) besides the end
                                  of each pass; 0 = at pass ends only */
    pr_merge_mode merge;       /* mpi: how replicas are merged (model.h) */
} pr_train_opts;

/* 128: on 1M gen-criteo rows at 2 threads, 466k-516k examples/s in 16 of
 * 17 runs whichever L3s the host gave the two vCPUs, against 409k-487k
 * with 256 rows, 351k-401k with 1024 (their two copies outgrow a 1 MiB
 * L2) and 147k-484k plain Hogwild; docs/benchmarks.md. */
#define PR_TRAIN_HOT_ROWS 128

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
    int64_t hot_rows;          /* buckets each learner thread kept its own
                                  copy of (pr_train_opts.hot_rows); -1 when
                                  none were (one thread, team, a kind
                                  without hot replicas, or hot_rows 0) */
    /* mpi: rows, examples and log losses above are over all ranks */
    int ranks;                 /* 0 without mpi */
    uint64_t syncs;            /* merges done */
    uint64_t sync_bytes;       /* bytes each rank hands MPI_Allreduce per merge
                                  (mean): touched-bucket bitmap + packed units */
    double sync_seconds;       /* rank 0's time in merges: pack, exchange, unpack */
    double wait_seconds;       /* of which waiting for slower ranks (a barrier) */
    double mpi_seconds;        /* of which inside MPI_Allreduce, after the barrier */
} pr_train_report;

/* The stated peak RSS of a training run (docs/memory.md), in bytes, from
 * its configuration alone: an upper bound that holds whatever the number
 * of rows. The table terms assume every bucket touched (what a large
 * input reaches; memory is taken lazily, so small inputs use less). */
typedef struct pr_train_memory {
    uint64_t model;    /* the model's state: pr_model_state_bytes */
    uint64_t best;     /* early stopping's copy of the best pass (--valid,
                          passes > 1): the state again plus its filter */
    uint64_t filter;   /* rare features (min_count > 1): 2^bits counters
                          of 1 byte and three bitmaps of 2^bits bits */
    uint64_t threads;  /* per learner thread: a decoded cache block, or the
                          streaming batches (16384 examples each); --team
                          adds a 2^bits-bit map per thread */
    uint64_t valid;    /* validation metrics, 32 bytes per validation row,
                          rows bounded by the file's size (32 bytes a row
                          at least; a .zst/.gz/.xz file counts 8 times; an
                          example cache's own count) */
    uint64_t base;     /* the process: code and libraries, reader,
                          featurizer, reference profile, cache window */
    uint64_t total;    /* the sum */
} pr_train_memory;

/* Fills *m for training a model with params p (kind, hash_bits,
 * n_fields, k) under options o, the spec's rare-feature threshold being
 * min_count. Reads nothing but the validation file's size. */
void pr_train_memory_estimate(const pr_model_params *p, uint32_t min_count,
                              const pr_train_opts *o, pr_train_memory *m);

/* Writes "1.37 GiB (model 1.25 GiB, best-pass copy 0 B, ...)" into buf. */
void pr_train_memory_format(const pr_train_memory *m, char *buf, size_t cap);

/* PR_OK when max is 0 or m->total <= max; else PR_ERR_INVALID with a
 * message naming the limit, the estimate and its parts, and what to lower
 * in the terms of pr_model_params and pr_train_opts (hash_bits, k,
 * threads; `pronto train` says its flags instead). */
pr_status pr_train_memory_check(const pr_train_memory *m, const pr_model_params *p,
                                uint64_t max, pr_err *err);

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

/* Records from the program itself instead of files: training from
 * memory, a host feeding its own rows.
 *
 *   static pr_status next_row(void *user, pr_record *rec, pr_err *err) {
 *       my_rows *m = user;
 *       if (m->i == m->n) return PR_EOF;
 *       rec->cols = m->cells + m->i * m->n_cols;  // borrowed until the next call
 *       rec->n_cols = m->n_cols;
 *       rec->label = m->clicked[m->i++];
 *       return PR_OK;
 *   }
 *   pr_record_source src = {"my_rows", cols, n_cols, NULL, next_row, &rows};
 *   pr_train_records(&model, fz, &src, NULL, &opts, &report, &err);
 *
 * The featurizer binds to columns[0..n_columns) (n_columns 0: sparse
 * records, rec->feats as libsvm/libffm readers give them). Before each
 * call of next, *rec is reset: label 0, has_label 1, weight 1, ts 0,
 * nothing else, file = name, line = the record's number from 1; next fills
 * what it has (cols, num, label, weight, ts) and returns PR_OK, or PR_EOF
 * after the last record, or an error (which stops the reading; a
 * PR_ERR_PARSE row error counts against skip_bad like a file's). What the
 * record points to must stay valid until the next call. The label must be
 * 0 or 1 (PR_ERR_LABEL naming the record otherwise). rewind (may be NULL)
 * is called before each reading of the data; pr_train_records reads each
 * source once. Called only from the thread that called
 * pr_train_records. Everything is borrowed for that call. */
typedef struct pr_record_source {
    const char *name;                 /* errors and the model's info call
                                         the records so; NULL: "records" */
    const char *const *columns;       /* the records' column names */
    uint32_t n_columns;
    pr_status (*rewind)(void *user, pr_err *err);
    pr_status (*next)(void *user, pr_record *rec, pr_err *err);
    void *user;
} pr_record_source;

/* pr_train over records from the program: train's records instead of
 * files, and valid's (NULL: none) as the validation set instead of
 * o->valid_path, which must then be NULL. o->cache_path, o->dataset and
 * o->mpi are refused (PR_ERR_INVALID: a kept cache could not tell that a
 * source changed; the others read files). Everything else as pr_train:
 * the same phases, so the same records give the same model as the same
 * rows in a file (threads 1). The model's info JSON names the sources
 * ("source", and "valid": {"source": ...}). Quantile fields must be fitted
 * before (pr_featurizer_fit_add on the records, fit_finish). */
pr_status pr_train_records(pr_model **model, pr_featurizer *fz, const pr_record_source *train,
                           const pr_record_source *valid, const pr_train_opts *o,
                           pr_train_report *report, pr_err *err);

/* MPI (src/train/dist.c). pr_mpi_built: 1 when this build has MPI. The
 * others are for a `pronto train --mpi` process: pr_mpi_init once before
 * pr_train with opts.mpi (PR_ERR_UNSUPPORTED without MPI), then
 * pr_mpi_finalize after success, or pr_mpi_abort(code), which ends every
 * rank of the job (one failing rank must not leave the others waiting in
 * a collective). */
int pr_mpi_built(void);
pr_status pr_mpi_init(int *argc, char ***argv, int *rank, int *size, pr_err *err);
void pr_mpi_finalize(void);
void pr_mpi_abort(int code) __attribute__((noreturn));

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
