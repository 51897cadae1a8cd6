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
                           const pr_input *in, const pr_record_source *src,
                           const pr_train_opts *o,
                           pr_count_filter *counts, pr_profile_builder *prof,
                           pr_scores *scores, pr_train_report *rep, pr_err *err);

/* pr_featurize_inputs reading only the rows i with i mod shard_count ==
 * shard_index of each file (shard_count 0: every row; pr_reader_opts);
 * src (NULL: the files of in) reads a record source instead (train.h). */
pr_status pr__featurize_shard(pr_featurizer *fz, const pr_spec *spec,
                              const uint64_t *filter, const pr_input *in,
                              const pr_record_source *src,
                              uint32_t shard_count, uint32_t shard_index,
                              int label_optional, uint64_t skip_bad,
                              uint64_t *bad, pr_example_fn fn, void *ctx,
                              pr_err *err);

/* One learner thread's handle on the model (trainer.c, stream_learn.c):
 * the model itself (Hogwild), or thread ith's hot replicas (pr_model_hot),
 * which pr__learner_update flushes after every PR__HOT_FLUSH_EXAMPLES
 * examples and pr__learner_done once more, for the thread's last changes.
 *
 * Why 1024: the replicas' changes add up as Hogwild's do, but each thread
 * sees the others' one flush late. Flushing only at the end of a cache
 * block overshot where a block holds several thousand examples (a narrow
 * spec): two threads each moved the hot weights, the bias first, all the
 * way, and the sum went twice as far (test_train's FFM: 0.59 test log loss
 * in 2 of 6 runs against 0.498 one thread). Every 1024 examples: 0.497-
 * 0.500, and 0.16658 on 1M gen-criteo rows (plain Hogwild 0.16659). */
#define PR__HOT_FLUSH_EXAMPLES 1024

typedef struct pr__learner {
    pr_model *model;
    pr_model_hot *hot;         /* NULL: plain Hogwild on model */
    int ith;
    uint32_t since_flush;
} pr__learner;

/* Starts fetching what learning x will touch (call it on the next example
 * before updating the current one; x must not change in between). */
static inline void pr__learner_prefetch(pr__learner *l, const pr_example *x) {
    if (l->hot) pr_model_hot_prefetch(l->hot, l->ith, x);
    else pr_model_prefetch(l->model, x);
}

static inline double pr__learner_update(pr__learner *l, const pr_example *x) {
    if (!l->hot) return pr_model_update(l->model, x);
    double z = pr_model_update_hot(l->hot, l->ith, x);
    if (++l->since_flush == PR__HOT_FLUSH_EXAMPLES) {
        pr_model_hot_flush(l->hot, l->ith);
        l->since_flush = 0;
    }
    return z;
}

static inline void pr__learner_done(pr__learner *l) {
    if (l->hot) pr_model_hot_flush(l->hot, l->ith);
}

/* hot_buckets.c: the at most max buckets worth a per-thread copy
 * (pr_model_hot), most frequent first, counted on a sample of the cache's
 * blocks after filter (may be NULL). OUT *out: malloc'd (NULL when none),
 * *n_out of them. */
pr_status pr__hot_buckets(const pr_cache *cache, const pr_featurizer *fz,
                          const uint64_t *filter, uint32_t max, uint32_t **out,
                          uint32_t *n_out, pr_err *err);
/* The counter behind it, for examples from elsewhere: add examples (their
 * indices as the learners will see them), then pick once, by the same rule. */
typedef struct pr__hot_count pr__hot_count;
pr_status pr__hot_count_new(uint32_t hash_bits, pr__hot_count **out, pr_err *err);
pr_status pr__hot_count_add(pr__hot_count *h, const pr_example *x, pr_err *err);
pr_status pr__hot_count_pick(pr__hot_count *h, uint32_t max, uint32_t **out,
                             uint32_t *n_out, pr_err *err);
void pr__hot_count_free(pr__hot_count *h);

/* dist.c: the MPI side of `pronto train --mpi`, for trainer.c. Every call
 * is collective (all ranks, same order); each returns PR_ERR_IO with MPI's
 * message when MPI reports an error (the caller then aborts the job). */
typedef struct pr__dist {
    int rank, size;
    pr_model_merge *merge;     /* owned */
    float *buf;                /* one chunk of packed units, owned */
    uint64_t chunk_units;
    /* Sparse exchange: the learners set touched[bucket] = 1 for every
     * feature they learn from (plain racy stores of 1: a lost one is
     * impossible, every writer writes the same value); a merge exchanges
     * the union of the ranks' touched buckets (and the bias), then clears. */
    uint8_t *touched;          /* 2^hash_bits bytes, owned */
    uint32_t mask;             /* 2^hash_bits - 1 */
    uint64_t *bits;            /* the union as a bitmap, owned */
    uint64_t *list;            /* the union as units, owned */
    uint64_t bytes_total;      /* exchanged by this rank, all merges */
    double wait_seconds;       /* in the barrier before each merge: waiting
                                  for slower ranks, not exchanging */
    pr_train_report *rep;      /* syncs, bytes and seconds added here */
} pr__dist;

/* rank and size of the job started by pr_mpi_init. */
pr_status pr__dist_open(pr__dist *d, pr_train_report *rep, pr_err *err);
/* The merge of model m (its state now is the common start). */
pr_status pr__dist_bind(pr__dist *d, pr_model *m, pr_merge_mode mode, pr_err *err);
void pr__dist_close(pr__dist *d);
/* Element-wise sums / maxima over the ranks, in place. */
pr_status pr__dist_sum_u64(uint64_t *v, int n, pr_err *err);
pr_status pr__dist_max_u64(uint64_t *v, int n, pr_err *err);
pr_status pr__dist_sum_f64(double *v, int n, pr_err *err);
/* Saturating sum of the count filter's 8-bit counters. */
pr_status pr__dist_sum_counts(uint8_t *counts, uint64_t n, pr_err *err);
/* Rank 0's v[0..n) to every rank. */
pr_status pr__dist_bcast_int(int *v, int n, pr_err *err);
/* Merges the bound model across the ranks (threads must be idle). */
pr_status pr__dist_merge(pr__dist *d, pr_err *err);

#endif
