/*
 * model_ffm_int.h: the FFM model's state, shared by model_ffm.c (the model
 * and its Hogwild update), model_ffm_team.c (the team update) and
 * model_ffm_hot.c (hot replicas). Nothing
 * else includes it; the layout it describes is documented in model_ffm.c.
 */
#ifndef PRONTO_MODEL_FFM_INT_H
#define PRONTO_MODEL_FFM_INT_H

#include "model/model_int.h"

typedef struct ffm_model {
    float *table;
    uint64_t n_buckets;
    uint64_t row_floats;       /* (n_fields + 1) * 2 * kpad */
    uint64_t lin_off;          /* n_fields * 2 * kpad: the linear slot */
    uint64_t seed;
    uint32_t mask, n_fields, k, kpad;
    float eta, lambda;
    int normalize;
    const pr__ffm_kernels *kern;
    float bias[4];             /* [0] weight, [1] accumulator, [2..3] unused */
    /* Pages of table a row was initialized in (pr__model_block.touched):
     * set by pr__ffm_init_row, so scans (save, clone, n_nonzero) skip the
     * pages no example reached without reading them. */
    uint64_t *touched;
} ffm_model;

/* Lane 1 of a row's linear slot (otherwise padding) marks the row as
 * initialized: 1.0f once it holds its initial values, 0 in a fresh zero
 * page. Read and written atomically through this alias. */
typedef uint32_t __attribute__((may_alias)) pr__ffm_ready_word;
#define PR__FFM_READY_BITS 0x3f800000u  /* 1.0f */

/* Writes the initial values of row idx (model_ffm.c). */
void pr__ffm_init_row(const ffm_model *m, uint64_t idx, float *row);

/* Makes sure a row holds at least its initial values. Also called from
 * the const predict path: initializing a row there is a cache fill, not a
 * change of the model (the values are the ones training would have seen).
 * Two threads may initialize the same row at once; both write the same
 * values. An update landing between them can be lost (Hogwild). */
static inline void pr__ffm_ready(const ffm_model *m, uint64_t idx, float *row) {
    pr__ffm_ready_word *flag = (pr__ffm_ready_word *)&row[m->lin_off + 1];
    if (__builtin_expect(__atomic_load_n(flag, __ATOMIC_ACQUIRE) != PR__FFM_READY_BITS, 0))
        pr__ffm_init_row(m, idx, row);
}

/* The pair-term scale r: 1 / sum v^2 when normalizing, else 1. */
static inline float pr__ffm_r(const ffm_model *m, const pr__fx *fx) {
    if (!m->normalize || !(fx->sq_norm > 0)) return 1.0f;
    return (float)(1.0 / fx->sq_norm);
}

/* The single-thread update (model_ffm.c), the team's fallback. */
double pr__ffm_update(void *impl, const pr_example *x);
/* Its parts (model_ffm.c), for updates that place some rows elsewhere
 * (model_ffm_hot.c): prefetch and initialize the rows fx points at;
 * learn fx (already warmed) with bias b[0] and accumulator b[1],
 * returning the logit before the update. */
void pr__ffm_fx_warm(const ffm_model *m, const pr_example *x, const pr__fx *fx);
double pr__ffm_learn(const ffm_model *m, const pr__fx *fx, const pr_example *x,
                     float *b);

/* Team update (model_ffm_team.c): the pr__model_ops team entries. */
pr_status pr__ffm_team_new(void *impl, int nth, void **team, pr_err *err);
double pr__ffm_team_update(void *team, int ith, const pr_example *x);
void pr__ffm_team_prefetch(void *team, int ith, const pr_example *x);
void pr__ffm_team_sync(void *team, int ith);
void pr__ffm_team_free(void *team);

/* Hot replicas (model_ffm_hot.c): the pr__model_ops hot entries. */
pr_status pr__ffm_hot_new(void *impl, int nth, const uint32_t *buckets, uint32_t n,
                          void **hot, pr_err *err);
double pr__ffm_hot_update(void *hot, int ith, const pr_example *x);
void pr__ffm_hot_prefetch(void *hot, int ith, const pr_example *x);
void pr__ffm_hot_flush(void *hot, int ith);
void pr__ffm_hot_free(void *hot);

#endif
