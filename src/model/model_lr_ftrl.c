/*
 * model_lr_ftrl.c: logistic regression trained with FTRL-Proximal
 * (McMahan et al. 2013, "Ad click prediction: a view from the trenches",
 * Algorithm 1), with per-coordinate learning rates, L1 and L2.
 *
 * State: one 16-byte slot per bucket, {w, z, sqrt(n), unused}, side by side
 * so that one cache line serves predict and update (VW keeps W_XT/W_ZT/W_G2
 * together the same way). w is a cache of the closed form
 *     w = 0                                         if |z| <= l1
 *     w = -(z - sgn(z) l1) / ((beta + sqrt(n)) / alpha + l2)   otherwise
 * refreshed whenever z or n change, so predict is a plain sparse dot
 * product: bench_model measures it against recomputing w from z and n on
 * every predict (pr__lr_logit_lazy). Keeping sqrt(n) instead of n saves one
 * square root per update. Under L1 the cached w is exactly 0.0f.
 *
 * Bias: a separate slot updated on every example as a feature of value 1,
 * exempt from L1 and L2, so an empty example predicts the base rate.
 *
 * Threads: update is lock-free Hogwild (see model.h); slots are plain
 * floats written without atomics, a lost update is accepted.
 *
 * Ownership: the impl owns the table (pr__model_alloc_zero).
 */
#include <math.h>
#include <stdlib.h>

#include "model/model_int.h"

typedef struct lr_slot {
    float w, z, s, unused;
} lr_slot;

typedef struct lr_model {
    lr_slot *table;        /* 2^hash_bits slots */
    uint64_t n_buckets;
    uint32_t mask;
    float inv_alpha, beta, l1, l2;
    lr_slot bias;
} lr_model;

static uint64_t lr_state_floats(const pr_model_params *p) {
    return 4 + ((uint64_t)1 << p->hash_bits) * 4;
}

static pr_status lr_create(const pr_model_params *p, int init, void **out,
                           pr_err *err) {
    lr_model *m = calloc(1, sizeof *m);
    if (!m) return pr_err_set(err, PR_ERR_NOMEM, "lr model: out of memory");
    m->n_buckets = (uint64_t)1 << p->hash_bits;
    m->mask = (uint32_t)(m->n_buckets - 1);
    m->inv_alpha = 1.0f / p->alpha;
    m->beta = p->beta;
    m->l1 = p->l1;
    m->l2 = p->l2;
    uint64_t bytes = m->n_buckets * sizeof(lr_slot);
    m->table = pr__model_alloc_zero((size_t)bytes, !init);
    if (!m->table) goto fail;
    *out = m;
    return PR_OK;
fail:
    free(m);
    return pr_err_set(err, PR_ERR_NOMEM,
                      "lr model: cannot allocate %llu bytes of weights",
                      (unsigned long long)bytes);
}

static void lr_destroy(void *impl) {
    lr_model *m = impl;
    pr__model_free_zero(m->table, m->n_buckets * sizeof(lr_slot));
    free(m);
}

#define ftrl_weight pr__ftrl_weight

/* One FTRL step for a slot with gradient g (Algorithm 1's inner loop). */
static inline void ftrl_step(lr_slot *st, float g, float inv_alpha, float beta,
                             float l1, float l2) {
    float s_old = st->s;
    float s_new = sqrtf(s_old * s_old + g * g);
    float sigma = (s_new - s_old) * inv_alpha;
    float z = st->z + g - sigma * st->w;
    st->z = z;
    st->s = s_new;
    st->w = ftrl_weight(z, s_new, inv_alpha, beta, l1, l2);
}

static double lr_logit(const void *impl, const pr_example *x) {
    const lr_model *m = impl;
    const lr_slot *t = m->table;
    double sum = m->bias.w;
    for (uint32_t i = 0; i < x->n; i++) {
        const pr_feature *f = &x->f[i];
        if (!isfinite(f->value)) continue;
        sum += t[f->index & m->mask].w * pr__clamp_value(f->value);
    }
    return pr__clip_logit(sum);
}

static double lr_update(void *impl, const pr_example *x) {
    lr_model *m = impl;
    double t = lr_logit(impl, x);
    if (!pr__trainable_weight(x->weight)) return t;
    float y = pr__is_click(x->label) ? 1.0f : 0.0f;
    float gm = (float)(pr__sigmoid(t) - y) * pr__clamp_value(x->weight);
    const float ia = m->inv_alpha, beta = m->beta, l1 = m->l1, l2 = m->l2;
    for (uint32_t i = 0; i < x->n; i++) {
        const pr_feature *f = &x->f[i];
        if (!isfinite(f->value)) continue;
        ftrl_step(&m->table[f->index & m->mask],
                  gm * pr__clamp_value(f->value), ia, beta, l1, l2);
    }
    ftrl_step(&m->bias, gm, ia, beta, 0.0f, 0.0f);
    return t;
}

double pr__lr_logit_lazy(const pr_model *model, const pr_example *x) {
    const lr_model *m = model->impl;
    const lr_slot *t = m->table;
    double sum = ftrl_weight(m->bias.z, m->bias.s, m->inv_alpha, m->beta, 0, 0);
    for (uint32_t i = 0; i < x->n; i++) {
        const pr_feature *f = &x->f[i];
        if (!isfinite(f->value)) continue;
        const lr_slot *st = &t[f->index & m->mask];
        sum += ftrl_weight(st->z, st->s, m->inv_alpha, m->beta, m->l1, m->l2) *
               pr__clamp_value(f->value);
    }
    return pr__clip_logit(sum);
}

float *pr__lr_state(pr_model *model, uint32_t index) {
    lr_model *m = model->impl;
    if (index == UINT32_MAX) return &m->bias.w;
    return &m->table[index & m->mask].w;
}

static void lr_prefetch(const void *impl, const pr_example *x) {
    const lr_model *m = impl;
    for (uint32_t i = 0; i < x->n; i++)
        __builtin_prefetch(&m->table[x->f[i].index & m->mask], 1, 3);
}

static double lr_weight_norm(const void *impl, uint32_t index) {
    const lr_model *m = impl;
    return m->table[index & m->mask].w;
}

static uint64_t lr_n_nonzero(const void *impl) {
    const lr_model *m = impl;
    uint64_t n = 0;
    for (uint64_t i = 0; i < m->n_buckets; i++) n += m->table[i].w != 0.0f;
    return n;
}

static int lr_blocks(void *impl, pr__model_block *out) {
    lr_model *m = impl;
    out[0].ptr = &m->bias.w;
    out[0].n = 4;
    out[1].ptr = &m->table[0].w;
    out[1].n = m->n_buckets * 4;
    return 2;
}

const pr__model_ops pr__model_lr_ops = {
    .state_floats = lr_state_floats,
    .create = lr_create,
    .logit = lr_logit,
    .update = lr_update,
    .prefetch = lr_prefetch,
    .weight_norm = lr_weight_norm,
    .n_nonzero = lr_n_nonzero,
    .blocks = lr_blocks,
    .destroy = lr_destroy,
};
