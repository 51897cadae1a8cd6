/*
 * rank_int.h: the seam between pr_rank (ranker.c) and the HTTP server
 * (src/serve/predict.c, model_ref.c): the two pieces both run, so that an
 * in-process ranking and a POST /v1/predict answer are one code path.
 *
 *   pr__rank_bind_model  a loaded model -> its embedded spec and a
 *                        featurizer bound to the store plan's assembled
 *                        columns, checked against the store's spec;
 *   pr__rank_run         assemble (cold on a store failure) -> featurize
 *                        + filter -> score -> sort, in the caller's arena.
 *
 * Everything the server adds around them (JSON, the arm, metrics, the log,
 * quality, drift, the shadow) stays in src/serve/.
 */
#ifndef PRONTO_RANK_INT_H
#define PRONTO_RANK_INT_H

#include <pthread.h>

#include "pronto/example.h"
#include "pronto/feature.h"
#include "pronto/fstore.h"
#include "pronto/model.h"
#include "pronto/rank.h"

/* Parses model's embedded spec (*spec, owned by caller) and builds its
 * featurizer (*fz, owned by caller) bound to the assembled columns
 * names[0..n) of store_plan, checking with pr_fs_check_model_spec that
 * each column the model reads means the same there; with names NULL, to
 * the columns of its own spec's plan. name (the file) prefixes errors:
 * PR_ERR_FORMAT (no embedded spec, hash_bits unlike the model's),
 * PR_ERR_SPEC (unfitted quantile fields; "the store cannot satisfy the
 * model's spec: ..."). On error *spec and *fz are NULL. */
pr_status pr__rank_bind_model(const pr_model *model, const char *name, const char *const *names,
                              uint32_t n, const pr_fs *store_plan, pr_spec **spec,
                              pr_featurizer **fz, pr_err *err);

/* Where one thread's rows come from. */
typedef struct pr__rank_src {
    pr_fs *fs;                 /* over the store; NULL: not connected (cold) */
    pr_fs *fs_cold;            /* an empty in-process state: the answer when
                                  fs is NULL or its store fails */
    pthread_rwlock_t *lock;    /* NULL, or held for reading around the
                                  assembly (a mem: store another thread
                                  writes: its rows are borrowed until the
                                  next put) */
} pr__rank_src;

/* What pr__rank_run made, all in the arena it was given. */
typedef struct pr__rank_out {
    pr_fs_row *rows;           /* n_candidates assembled rows */
    pr_example *x;             /* their examples (filter applied) */
    pr_rank_item *ranked;      /* sorted: p descending, ties in request order */
    int store_failed;          /* fs NULL or PR_ERR_IO: the cold state answered */
    /* monotonic ns at the end of each stage, and at the start */
    uint64_t t_start, t_lookup, t_featurize, t_score, t_sort;
} pr__rank_out;

/* Ranks q (ts_ms already resolved: not PR_RANK_NOW) with model and fz (fz
 * bound to the columns src's pr_fs assemble). q's fields are checked by the
 * caller (pr_rank, or the server's parser). Errors: those of
 * pr_fs_assemble other than PR_ERR_IO (which falls back to the cold
 * state), of pr_featurizer_apply (PR_ERR_PARSE naming the candidate), and
 * PR_ERR_NOMEM from the arena. */
pr_status pr__rank_run(const pr_model *model, const pr_featurizer *fz, const pr__rank_src *src,
                       const pr_rank_request *q, pr_arena *arena, pr__rank_out *out,
                       pr_err *err);

/* Monotonic nanoseconds. */
uint64_t pr__rank_now_ns(void);

#endif
