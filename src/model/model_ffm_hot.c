/*
 * model_ffm_hot.c: FFM hot replicas (model.h, pr_model_hot_*): Hogwild
 * threads that each learn the hot rows, and the bias, on a copy of their
 * own.
 *
 * Why: in FFM Hogwild every example writes every slot of each of its rows
 * (~40 rows of 22 slots at k = 4) and the bias. A few rows are in most
 * examples: on 1M gen-criteo rows the 256 most frequent buckets carry 55%
 * of the feature occurrences and 97% of the sum of squared bucket counts,
 * which is what the chance that two threads write the same row at once
 * grows with. Their lines then move between the cores on nearly every
 * example, at the price of one core-to-core transfer (45 ns when the
 * host's cores share an L3, 200 ns when they do not: docs/benchmarks.md
 * "FFM spread on an idle machine"). With copies, those lines stay put.
 *
 * Layout (pr__hot, model_int.h): each thread's copies hold the n hot rows
 * (same layout as the table's rows), then the bias (4 floats). A thread's
 * update compacts the example as Hogwild does and points the hot
 * features' rows at its local copies.
 *
 * Flush (under the lock, so two flushes never interleave their read-add-
 * write): for every float of every hot row, shared += local - base, then
 * local = base = shared. A row the thread did not change adds exactly 0;
 * a float no other thread changed since this one's last flush takes the
 * thread's value exactly (so one thread trains as pr_model_update does).
 * What a thread learned is added, never averaged, so the shared model gets
 * the same sum of updates as Hogwild, computed on values at most one flush
 * stale (AdaGrad accumulators add exactly; weights move by the sum of the
 * threads' steps). Averaging the threads' changes, each weighted by its
 * share of the row's touches, measured worse: 0.16695 test log loss
 * against 0.16658 summed (Hogwild 0.16659; 1M gen-criteo rows, 1024 hot
 * rows): a row most threads touch a few times per flush moves by
 * independent small steps, which add. The ready flag lane is equal in all three copies and
 * stays 1.0f.
 *
 * Ownership: the replicas borrow the model and own their pr__hot.
 */
#include <stdlib.h>
#include <string.h>

#include "model/model_ffm_int.h"

/* What pr__ffm_hot_prefetch looked up for the last two examples it was
 * given (callers prefetch the next example, then update the current one),
 * so that their updates do not look the same buckets up again. */
#define STASH_FEATURES 256
typedef struct __attribute__((aligned(64))) stash {
    const pr_example *x[2];  /* NULL: nothing stashed */
    uint32_t next;           /* slot the next prefetch fills */
    int32_t unit[2][STASH_FEATURES];  /* per feature of x[k]: its unit, or -1 */
} stash;

typedef struct ffm_hot {
    ffm_model *m;
    pr__hot h;               /* units: rows; extra: the bias */
    stash *st;               /* one per thread */
} ffm_hot;

pr_status pr__ffm_hot_new(void *impl, int nth, const uint32_t *buckets, uint32_t n,
                          void **out, pr_err *err) {
    ffm_model *m = impl;
    ffm_hot *fh = calloc(1, sizeof *fh);
    if (!fh) return pr_err_set(err, PR_ERR_NOMEM, "hot replicas: out of memory");
    fh->m = m;
    pr_status s = pr__hot_init(&fh->h, nth, buckets, n, m->row_floats, 4, err);
    if (s != PR_OK) {
        free(fh);
        return s;
    }
    fh->st = aligned_alloc(64, (size_t)nth * sizeof *fh->st);
    if (!fh->st) {
        pr__ffm_hot_free(fh);
        return pr_err_set(err, PR_ERR_NOMEM, "hot replicas: out of memory");
    }
    for (int t = 0; t < nth; t++) {
        fh->st[t].x[0] = fh->st[t].x[1] = NULL;
        fh->st[t].next = 0;
    }
    const uint64_t rf = m->row_floats;
    for (uint32_t u = 0; u < n; u++) {
        float *row = m->table + (uint64_t)buckets[u] * rf;
        pr__ffm_ready(m, buckets[u], row);  /* the copies start initialized */
        for (int t = 0; t < nth; t++) memcpy(fh->h.th[t].local + u * rf, row, rf * sizeof *row);
    }
    for (int t = 0; t < nth; t++) {
        memcpy(fh->h.th[t].local + (uint64_t)n * rf, m->bias, sizeof m->bias);
        memcpy(fh->h.th[t].base, fh->h.th[t].local, fh->h.floats * sizeof(float));
    }
    *out = fh;
    return PR_OK;
}

double pr__ffm_hot_update(void *hot, int ith, const pr_example *x) {
    ffm_hot *fh = hot;
    const ffm_model *m = fh->m;
    float *local = fh->h.th[ith].local;
    float *bias = local + (uint64_t)fh->h.n * m->row_floats;
    pr__fx fx;
    pr__fx_buf buf;
    if (!pr__fx_build(&fx, &buf, x, m->table, m->mask, m->row_floats, m->n_fields))
        return pr__clip_logit(bias[0]);
    stash *st = &fh->st[ith];
    const int k = st->x[0] == x ? 0 : st->x[1] == x ? 1 : -1;
    if (k >= 0) st->x[k] = NULL;
    for (uint32_t i = 0; i < fx.n; i++) {  /* hot rows: this thread's copies */
        int64_t u = k >= 0 ? st->unit[k][fx.src[i]]
                           : pr__hot_find(&fh->h, x->f[fx.src[i]].index & m->mask);
        if (u >= 0) fx.row[i] = local + (uint64_t)u * m->row_floats;
    }
    pr__ffm_fx_warm(m, x, &fx);
    double z = pr__ffm_learn(m, &fx, x, bias);
    pr__fx_release(&buf);
    return z;
}

void pr__ffm_hot_prefetch(void *hot, int ith, const pr_example *x) {
    ffm_hot *fh = hot;
    const ffm_model *m = fh->m;
    const float *local = fh->h.th[ith].local;
    const uint64_t span = m->lin_off + 2 * m->kpad;
    stash *st = &fh->st[ith];
    const uint32_t k = st->next;
    st->next ^= 1;
    st->x[k] = x->n <= STASH_FEATURES ? x : NULL;
    for (uint32_t i = 0; i < x->n; i++) {
        uint32_t b = x->f[i].index & m->mask;
        int64_t u = pr__hot_find(&fh->h, b);
        if (i < STASH_FEATURES) st->unit[k][i] = (int32_t)u;
        const float *row = u >= 0 ? local + (uint64_t)u * m->row_floats
                                  : m->table + (uint64_t)b * m->row_floats;
        for (uint64_t off = 0; off < span; off += 16) __builtin_prefetch(row + off, 1, 3);
    }
}

void pr__ffm_hot_flush(void *hot, int ith) {
    ffm_hot *fh = hot;
    ffm_model *m = fh->m;
    pr__hot_copy *c = &fh->h.th[ith];
    const uint64_t rf = m->row_floats, n = fh->h.n;
    pthread_mutex_lock(&fh->h.lock);
    for (uint32_t u = 0; u < n; u++)
        pr__hot_fold(m->table + (uint64_t)fh->h.bucket[u] * rf, c->local + u * rf,
                     c->base + u * rf, rf);
    pr__hot_fold(m->bias, c->local + n * rf, c->base + n * rf, 4);
    pthread_mutex_unlock(&fh->h.lock);
}

void pr__ffm_hot_free(void *hot) {
    ffm_hot *fh = hot;
    if (!fh) return;
    pr__hot_release(&fh->h);
    free(fh->st);
    free(fh);
}
