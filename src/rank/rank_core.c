/*
 * rank_core.c: the ranking pipeline pr_rank and POST /v1/predict share
 * (rank_int.h), and the binding of a model to a store's columns that
 * pr_ranker_open and the server's model loads share.
 *
 * pr__rank_run, the stages (each timed by the caller's clock reads):
 *   lookup     pr_fs_assemble: one batch get per entity, rows as of ts;
 *              a store that fails (PR_ERR_IO) or a reader that is not
 *              connected: the empty cold state instead (every entity
 *              unknown), flagged store_failed
 *   featurize  pr_featurizer_apply_batch (apply's examples, the columns
 *              every candidate shares hashed once) + pr_featurizer_apply_filter
 *              with the model's filter: the code training used
 *   score      pr_model_predict, prefetching the next example's weights
 *   sort       p descending, ties by request order (a total order: qsort
 *              gives one answer whatever its algorithm)
 * Memory: rows, examples and the ranking are allocated in the caller's
 * arena and stay there (the server logs, monitors and shadows from them);
 * nothing else is allocated.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rank/rank_int.h"

uint64_t pr__rank_now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

pr_status pr__rank_bind_model(const pr_model *model, const char *name, const char *const *names,
                              uint32_t n, const pr_fs *store_plan, pr_spec **spec,
                              pr_featurizer **fz, pr_err *err) {
    *spec = NULL;
    *fz = NULL;
    pr_status s;
    const char *y = pr_model_spec(model);
    if (!y) return pr_err_set(err, PR_ERR_FORMAT, "%s: model has no embedded feature spec", name);
    if ((s = pr_spec_parse(y, strlen(y), name, spec, err)) != PR_OK) return s;
    if ((s = pr_featurizer_new(*spec, fz, err)) != PR_OK) goto fail;
    if (pr_featurizer_needs_fit(*fz)) {
        s = pr_err_set(err, PR_ERR_SPEC, "%s: the embedded spec has unfitted quantile fields",
                       name);
        goto fail;
    }
    if (pr_featurizer_hash_bits(*fz) != pr_model_params_get(model)->hash_bits) {
        s = pr_err_set(err, PR_ERR_FORMAT, "%s: spec hash_bits %u but model hash_bits %u", name,
                       pr_featurizer_hash_bits(*fz), pr_model_params_get(model)->hash_bits);
        goto fail;
    }
    if (!names) { /* the model's own spec is the store spec */
        pr_fs *probe = NULL;
        const char *own[PR_FS_MAX_COLUMNS];
        s = pr_fs_open(*spec, NULL, &probe, err);
        if (s == PR_OK) {
            n = pr_fs_n_columns(probe);
            for (uint32_t c = 0; c < n && c < PR_FS_MAX_COLUMNS; c++)
                own[c] = pr_fs_column_name(probe, c);
            s = pr_featurizer_bind(*fz, own, n, err);
        }
        pr_fs_free(probe);
    } else {
        s = pr_featurizer_bind(*fz, names, n, err);
        /* Same names, same meaning? (a window, a key, a prior changed) */
        if (s == PR_OK && store_plan) s = pr_fs_check_model_spec(store_plan, *spec, err);
    }
    if (s != PR_OK) {
        char why[PR_ERR_MSG_MAX];
        snprintf(why, sizeof why, "%s", err ? err->msg : "");
        s = pr_err_set(err, s, "%s: the store cannot satisfy the model's spec: %s", name, why);
        goto fail;
    }
    return PR_OK;
fail:
    pr_featurizer_free(*fz);
    pr_spec_free(*spec);
    *fz = NULL;
    *spec = NULL;
    return s;
}

static int by_p_desc(const void *a, const void *b) {
    const pr_rank_item *x = a, *y = b;
    if (x->p != y->p) return x->p > y->p ? -1 : 1;
    return x->candidate < y->candidate ? -1 : x->candidate > y->candidate;
}

pr_status pr__rank_run(const pr_model *model, const pr_featurizer *fz, const pr__rank_src *src,
                       const pr_rank_request *q, pr_arena *arena, pr__rank_out *out,
                       pr_err *err) {
    const uint32_t n = q->n_candidates;
    memset(out, 0, sizeof *out);
    out->t_start = pr__rank_now_ns();
    out->rows = pr_arena_alloc(arena, (size_t)n * sizeof *out->rows);
    out->x = pr_arena_alloc(arena, (size_t)n * sizeof *out->x);
    out->ranked = pr_arena_alloc(arena, (size_t)n * sizeof *out->ranked);
    if (!out->rows || !out->x || !out->ranked)
        return pr_err_set(err, PR_ERR_NOMEM, "out of memory for %u candidates", n);

    pr_status rc = PR_ERR_IO;
    if (src->fs) {
        if (src->lock) pthread_rwlock_rdlock(src->lock);
        rc = pr_fs_assemble(src->fs, q->ts_ms, q->request, q->cand_cols, q->n_cand_cols, q->cand,
                            n, arena, out->rows, err);
        if (src->lock) pthread_rwlock_unlock(src->lock);
    }
    if (rc == PR_ERR_IO) {
        out->store_failed = 1;
        rc = pr_fs_assemble(src->fs_cold, q->ts_ms, q->request, q->cand_cols, q->n_cand_cols,
                            q->cand, n, arena, out->rows, err);
    }
    if (rc != PR_OK) return rc;
    out->t_lookup = pr__rank_now_ns();

    /* the candidates' rows share the request's and the user's columns:
     * hashed once (pr_fs_row is its record alone, so the rows are records) */
    _Static_assert(sizeof(pr_fs_row) == sizeof(pr_record), "pr_fs_row is one pr_record");
    const uint64_t *filter = pr_model_filter(model);
    if ((rc = pr_featurizer_apply_batch(fz, &out->rows[0].rec, n, arena, out->x, err)) != PR_OK)
        return rc;
    for (uint32_t i = 0; i < n; i++) pr_featurizer_apply_filter(fz, filter, &out->x[i]);
    out->t_featurize = pr__rank_now_ns();

    for (uint32_t i = 0; i < n; i++) {
        if (i + 1 < n) pr_model_prefetch(model, &out->x[i + 1]);
        out->ranked[i].p = pr_model_predict(model, &out->x[i]);
        out->ranked[i].candidate = i;
    }
    out->t_score = pr__rank_now_ns();
    qsort(out->ranked, n, sizeof *out->ranked, by_p_desc);
    out->t_sort = pr__rank_now_ns();
    return PR_OK;
}
