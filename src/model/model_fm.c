/*
 * model_fm.c: factorization machine (Rendle 2010) with a linear term and a
 * bias, trained with AdaGrad like the FFM.
 *
 *   t(x) = b + sum_i l[i] v_i + r * sum_{i<j} <w[i], w[j]> v_i v_j
 *        = b + sum_i l[i] v_i + r/2 * sum_d ((sum_i v_i w_id)^2 - sum_i v_i^2 w_id^2)
 *
 * computed in O(n k) with the second form. dt/dw_id = r v_i (s_d - v_i w_id)
 * where s_d = sum_i v_i w_id is taken once, before the updates (libfm).
 *
 * Layout: bucket idx owns a row of 4*kpad floats (kpad = k rounded up to
 * 4): kpad weights, kpad accumulators, then the linear weight at [2 kpad]
 * and its accumulator at [3 kpad]. Init as the FFM: uniform [0, 1/sqrt(k))
 * from pr_splitmix64(seed), accumulators 1. Fields are ignored.
 *
 * Scalar only (the O(n k) loops are short). Threads: Hogwild (model.h).
 * Ownership: the impl owns the table.
 */
#include <math.h>
#include <stdlib.h>

#include "model/model_int.h"

typedef struct fm_model {
    float *table;
    uint64_t n_buckets, row_floats;
    uint32_t mask, k, kpad;
    float eta, lambda;
    int normalize;
    float bias[4];
} fm_model;

static uint32_t kpad_of(uint32_t k) { return (k + 3) & ~3u; }

static uint64_t fm_state_floats(const pr_model_params *p) {
    return 4 + ((uint64_t)1 << p->hash_bits) * 4 * kpad_of(p->k);
}

static void fm_init_weights(fm_model *m, uint64_t seed) {
    const float scale = 1.0f / sqrtf((float)m->k) * (1.0f / 16777216.0f);
    uint64_t s = seed;
    for (uint64_t idx = 0; idx < m->n_buckets; idx++) {
        float *w = m->table + idx * m->row_floats;
        for (uint32_t d = 0; d < m->k; d++)
            w[d] = (float)(pr_splitmix64(&s) >> 40) * scale;
        for (uint32_t d = 0; d < m->kpad; d++) {
            w[m->kpad + d] = 1.0f;
            w[3 * m->kpad + d] = 1.0f;
        }
    }
    m->bias[1] = 1.0f;
}

static pr_status fm_create(const pr_model_params *p, int init, void **out,
                           pr_err *err) {
    fm_model *m = calloc(1, sizeof *m);
    if (!m) return pr_err_set(err, PR_ERR_NOMEM, "fm model: out of memory");
    m->n_buckets = (uint64_t)1 << p->hash_bits;
    m->mask = (uint32_t)(m->n_buckets - 1);
    m->k = p->k;
    m->kpad = kpad_of(p->k);
    m->row_floats = 4 * (uint64_t)m->kpad;
    m->eta = p->eta;
    m->lambda = p->lambda;
    m->normalize = p->normalize;
    uint64_t bytes = m->n_buckets * m->row_floats * sizeof(float);
    m->table = pr__model_alloc_zero((size_t)bytes, !init);
    if (!m->table) goto fail;
    if (init) fm_init_weights(m, p->seed);
    *out = m;
    return PR_OK;
fail:
    free(m);
    return pr_err_set(err, PR_ERR_NOMEM,
                      "fm model: cannot allocate %llu bytes of weights",
                      (unsigned long long)bytes);
}

static void fm_destroy(void *impl) {
    fm_model *m = impl;
    pr__model_free_zero(m->table,
                        (size_t)(m->n_buckets * m->row_floats * sizeof(float)));
    free(m);
}

/* Clipped logit; fills sum[d] = sum_i v_i w_id for the update. */
static double fm_score(const fm_model *m, const pr__fx *fx, float r,
                       float *sum) {
    const uint32_t kpad = m->kpad;
    float sq[256];
    for (uint32_t d = 0; d < kpad; d++) sum[d] = sq[d] = 0;
    double t = m->bias[0];
    for (uint32_t i = 0; i < fx->n; i++) {
        const float *w = fx->row[i];
        float v = fx->val[i];
        t += w[2 * kpad] * v;
        for (uint32_t d = 0; d < kpad; d++) {
            float vw = v * w[d];
            sum[d] += vw;
            sq[d] += vw * vw;
        }
    }
    float pairs = 0;
    for (uint32_t d = 0; d < kpad; d++) pairs += sum[d] * sum[d] - sq[d];
    return pr__clip_logit(t + 0.5 * r * pairs);
}

static inline float fm_r(const fm_model *m, const pr__fx *fx) {
    if (!m->normalize || !(fx->sq_norm > 0)) return 1.0f;
    return (float)(1.0 / fx->sq_norm);
}

static inline int fm_fx(const fm_model *m, const pr_example *x, pr__fx *fx,
                        pr__fx_buf *buf) {
    return pr__fx_build(fx, buf, x, m->table, m->mask, m->row_floats, 0);
}

static double fm_logit(const void *impl, const pr_example *x) {
    const fm_model *m = impl;
    pr__fx fx;
    pr__fx_buf buf;
    float sum[256];
    if (!fm_fx(m, x, &fx, &buf)) return pr__clip_logit(m->bias[0]);
    double t = fm_score(m, &fx, fm_r(m, &fx), sum);
    pr__fx_release(&buf);
    return t;
}

static double fm_update(void *impl, const pr_example *x) {
    fm_model *m = impl;
    pr__fx fx;
    pr__fx_buf buf;
    float sum[256];
    if (!fm_fx(m, x, &fx, &buf)) return pr__clip_logit(m->bias[0]);
    float r = fm_r(m, &fx);
    double t = fm_score(m, &fx, r, sum);
    if (pr__trainable_weight(x->weight)) {
        float y = pr__is_click(x->label) ? 1.0f : 0.0f;
        float kappa = (float)(pr__sigmoid(t) - y) * pr__clamp_value(x->weight);
        const uint32_t kpad = m->kpad;
        const float eta = m->eta, lambda = m->lambda;
        for (uint32_t i = 0; i < fx.n; i++) {
            float *w = fx.row[i], *G = w + kpad;
            float v = fx.val[i], c = kappa * r * v;
            for (uint32_t d = 0; d < kpad; d++) {
                float g = lambda * w[d] + c * (sum[d] - v * w[d]);
                float G1 = G[d] + g * g;
                G[d] = G1;
                w[d] -= eta * g / sqrtf(G1);
            }
            pr__adagrad1(&w[2 * kpad], &w[3 * kpad],
                         lambda * w[2 * kpad] + kappa * v, eta);
        }
        pr__adagrad1(&m->bias[0], &m->bias[1], kappa, m->eta);
    }
    pr__fx_release(&buf);
    return t;
}

static void fm_prefetch(const void *impl, const pr_example *x) {
    const fm_model *m = impl;
    for (uint32_t i = 0; i < x->n; i++) {
        const float *row = m->table + (uint64_t)(x->f[i].index & m->mask) * m->row_floats;
        for (uint64_t off = 0; off < m->row_floats; off += 16)
            __builtin_prefetch(row + off, 1, 3);
    }
}

static double fm_weight_norm(const void *impl, uint32_t index) {
    const fm_model *m = impl;
    const float *w = m->table + (uint64_t)(index & m->mask) * m->row_floats;
    if (w[2 * m->kpad] != 0.0f) return w[2 * m->kpad];
    double sq = 0;
    for (uint32_t d = 0; d < m->k; d++) sq += (double)w[d] * w[d];
    return sqrt(sq);
}

static uint64_t fm_n_nonzero(const void *impl) {
    const fm_model *m = impl;
    uint64_t n = 0;
    for (uint64_t i = 0; i < m->n_buckets; i++)
        n += m->table[i * m->row_floats + 3 * m->kpad] > 1.0f;
    return n;
}

static int fm_blocks(void *impl, pr__model_block *out) {
    fm_model *m = impl;
    out[0].ptr = m->bias;
    out[0].n = 4;
    out[1].ptr = m->table;
    out[1].n = m->n_buckets * m->row_floats;
    return 2;
}

const pr__model_ops pr__model_fm_ops = {
    .state_floats = fm_state_floats,
    .create = fm_create,
    .logit = fm_logit,
    .update = fm_update,
    .prefetch = fm_prefetch,
    .weight_norm = fm_weight_norm,
    .n_nonzero = fm_n_nonzero,
    .blocks = fm_blocks,
    .destroy = fm_destroy,
};
