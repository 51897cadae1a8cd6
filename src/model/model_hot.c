/*
 * model_hot.c: the public hot-replica calls (model.h, pr_model_hot_*),
 * dispatched to the kind's optional hot entries of pr__model_ops. The FFM
 * replicas themselves are in model_ffm_hot.c.
 *
 * Here the bucket list is masked, sorted and made distinct, so that every
 * kind gets a clean list.
 *
 * Ownership: a pr_model_hot owns the kind's state (released through
 * ops->hot_free) and borrows the model.
 */
#include <stdlib.h>

#include "model/model_int.h"

struct pr_model_hot {
    const pr__model_ops *ops;
    void *impl;          /* the kind's replicas, owned */
};

#define PR__HOT_THREADS_MAX 1024
#define PR__HOT_BUCKETS_MAX 65536u

int pr_model_supports_hot(const pr_model *m) {
    return m && m->ops->hot_new != NULL;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

pr_status pr_model_hot_new(pr_model *m, int nth, const uint32_t *buckets, uint32_t n,
                           pr_model_hot **out, pr_err *err) {
    *out = NULL;
    if (!pr_model_supports_hot(m))
        return pr_err_set(err, PR_ERR_UNSUPPORTED,
                          "model kind %s has no hot replicas (train it Hogwild)",
                          pr_model_kind_name(m ? m->params.kind : 0));
    if (nth < 1 || nth > PR__HOT_THREADS_MAX)
        return pr_err_set(err, PR_ERR_INVALID, "hot replicas: threads must be in [1, %d], got %d",
                          PR__HOT_THREADS_MAX, nth);
    if (n > PR__HOT_BUCKETS_MAX)
        return pr_err_set(err, PR_ERR_INVALID, "hot replicas: at most %u buckets, got %u",
                          PR__HOT_BUCKETS_MAX, n);
    uint32_t *list = malloc((n ? n : 1) * sizeof *list);
    pr_model_hot *h = calloc(1, sizeof *h);
    if (!list || !h) {
        free(list);
        free(h);
        return pr_err_set(err, PR_ERR_NOMEM, "hot replicas: out of memory");
    }
    const uint32_t mask = (uint32_t)(((uint64_t)1 << m->params.hash_bits) - 1);
    for (uint32_t i = 0; i < n; i++) list[i] = buckets[i] & mask;
    qsort(list, n, sizeof *list, cmp_u32);
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++)
        if (k == 0 || list[i] != list[k - 1]) list[k++] = list[i];
    h->ops = m->ops;
    pr_status s = m->ops->hot_new(m->impl, nth, list, k, &h->impl, err);
    free(list);
    if (s != PR_OK) {
        free(h);
        return s;
    }
    *out = h;
    return PR_OK;
}

double pr_model_update_hot(pr_model_hot *h, int ith, const pr_example *x) {
    return h->ops->hot_update(h->impl, ith, x);
}

void pr_model_hot_prefetch(const pr_model_hot *h, int ith, const pr_example *x) {
    h->ops->hot_prefetch(h->impl, ith, x);
}

void pr_model_hot_flush(pr_model_hot *h, int ith) {
    h->ops->hot_flush(h->impl, ith);
}

void pr_model_hot_free(pr_model_hot *h) {
    if (!h) return;
    h->ops->hot_free(h->impl);
    free(h);
}
