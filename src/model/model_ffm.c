/*
 * model_ffm.c: field-aware factorization machine (Juan et al. 2016; the
 * libffm algorithm) with a linear term and a bias, trained with AdaGrad.
 *
 *   t(x) = b + sum_i l[i] v_i + r * sum_{i<j} <w[i][f_j], w[j][f_i]> v_i v_j
 *   r    = 1 / sum_i v_i^2 when normalize is on (libffm), else 1
 *
 * Layout (libffm's, plus one slot for the linear term): bucket `idx` owns a
 * row of (n_fields + 1) slots of 2*kpad floats, kpad = k rounded up to 4
 * (the SSE width). Slot f < n_fields is the latent vector for field f:
 * kpad weights then kpad AdaGrad accumulators, side by side so one pair
 * update touches one or two cache lines. Slot n_fields holds the linear
 * weight at [0] and its accumulator at [kpad] (lane 1: the ready flag
 * below). Padding lanes of latent vectors have weight 0 and accumulator 1
 * and stay that way (their gradient is always 0).
 *
 *   row(idx) = table + idx * (n_fields + 1) * 2 * kpad
 *   slot(idx, f) = row(idx) + f * 2 * kpad
 *
 * Initialization: latent weights uniform in [0, 0.5/sqrt(k)) from a
 * splitmix64 stream seeded by (params.seed, bucket), accumulators 1
 * (libffm); linear and bias 0. Rows are initialized lazily, on the first
 * example that touches them (predict or update): the table starts as zero
 * pages, so creating a 1.3 GB model is instant and memory is only taken
 * for buckets the data uses. Lane 1 of the linear slot flags a row as
 * initialized; a saved model keeps untouched rows as zeros and they are
 * initialized after loading exactly as they would have been before, so
 * results are reproducible for a given (seed, k, n_fields) whatever the
 * order of first touches. Padding lanes: weight 0, accumulator 1.
 *
 * Kernels: the two O(n^2 k) loops (pair sum, pair update) sit behind
 * pr__ffm_kernels chosen at creation: AVX2+FMA when the CPU has it
 * (model_ffm_simd.c), else the scalar reference below, which tests compare
 * the SIMD kernels against.
 *
 * Fields >= n_fields and non-finite values: the feature is ignored
 * (pr__fx_build), in prediction and training alike.
 *
 * Threads: Hogwild, as model.h says, a team of threads sharing each
 * example's pairs (model_ffm_team.c), or Hogwild with per-thread replicas
 * of the hot rows (model_ffm_hot.c). Ownership: the impl owns the table.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_ffm_int.h"

/* Latent weights start uniform in [0, PR__FFM_INIT_SCALE / sqrt(k)).
 * libffm uses 1; 0.5 measured better on gen-criteo (docs/benchmarks.md). */
#define PR__FFM_INIT_SCALE 0.5f

static uint32_t kpad_of(uint32_t k) { return (k + 3) & ~3u; }

static uint64_t ffm_row_floats(const pr_model_params *p) {
    return (uint64_t)(p->n_fields + 1) * 2 * kpad_of(p->k);
}

static uint64_t ffm_state_floats(const pr_model_params *p) {
    return 4 + ((uint64_t)1 << p->hash_bits) * ffm_row_floats(p);
}

/* Initial values of one row, from a stream seeded by (seed, idx) alone, so
 * a row gets the same values whenever and by whichever thread it is first
 * touched. */
void pr__ffm_init_row(const ffm_model *m, uint64_t idx, float *row) {
    const uint32_t kpad = m->kpad, k = m->k;
    const float scale = PR__FFM_INIT_SCALE / sqrtf((float)k) * (1.0f / 16777216.0f);
    uint64_t s = m->seed ^ (idx + 1) * 0xD1B54A32D192ED03ull;
    for (uint32_t f = 0; f < m->n_fields; f++) {
        float *w = row + (uint64_t)f * 2 * kpad;
        for (uint32_t d = 0; d < k; d += 2) {
            uint64_t r = pr_splitmix64(&s);
            w[d] = (float)(r >> 40) * scale;
            if (d + 1 < k) w[d + 1] = (float)((r >> 8) & 0xFFFFFF) * scale;
        }
        for (uint32_t d = k; d < kpad; d++) w[d] = 0.0f;
        for (uint32_t d = 0; d < kpad; d++) w[kpad + d] = 1.0f;
    }
    float *lin = row + m->lin_off;
    for (uint32_t d = 0; d < kpad; d++) lin[kpad + d] = 1.0f;
    lin[0] = 0.0f;
    pr__model_touch(m->touched, idx * m->row_floats, m->row_floats);
    __atomic_store_n((pr__ffm_ready_word *)&lin[1], PR__FFM_READY_BITS,
                     __ATOMIC_RELEASE);
}

static pr_status ffm_create(const pr_model_params *p, int init, void **out,
                            pr_err *err) {
    ffm_model *m = calloc(1, sizeof *m);
    if (!m) return pr_err_set(err, PR_ERR_NOMEM, "ffm model: out of memory");
    m->n_buckets = (uint64_t)1 << p->hash_bits;
    m->mask = (uint32_t)(m->n_buckets - 1);
    m->n_fields = p->n_fields;
    m->k = p->k;
    m->kpad = kpad_of(p->k);
    m->row_floats = ffm_row_floats(p);
    m->lin_off = (uint64_t)p->n_fields * 2 * m->kpad;
    m->eta = p->eta;
    m->lambda = p->lambda;
    m->normalize = p->normalize;
    m->kern = pr__ffm_simd();
    if (!m->kern) m->kern = &pr__ffm_scalar;
    uint64_t bytes = m->n_buckets * m->row_floats * sizeof(float);
    uint64_t words = (pr__model_pages(m->n_buckets * m->row_floats) + 63) / 64;
    /* init=0: the loader fills the table, every page may hold data until
     * it says which (model_file.c) */
    m->touched = malloc((size_t)words * 8);
    if (m->touched) memset(m->touched, init ? 0 : 0xff, (size_t)words * 8);
    m->table = bytes <= SIZE_MAX && m->touched
                   ? pr__model_alloc_zero((size_t)bytes, !init) : NULL;
    if (!m->table) {
        free(m->touched);
        free(m);
        return pr_err_set(err, PR_ERR_NOMEM,
                          "ffm model: cannot allocate %llu bytes of weights "
                          "(2^%u buckets x %u fields x k %u)",
                          (unsigned long long)bytes, p->hash_bits, p->n_fields,
                          p->k);
    }
    m->seed = p->seed;
    if (init) {
        /* Rows are initialized on first touch (pr__ffm_ready): creating even a
         * 1.3 GB model costs nothing up front and untouched buckets never
         * take memory. */
        m->bias[0] = 0.0f;
        m->bias[1] = 1.0f;
    }
    *out = m;
    return PR_OK;
}

static void ffm_destroy(void *impl) {
    ffm_model *m = impl;
    pr__model_free_zero(m->table,
                        (size_t)(m->n_buckets * m->row_floats * sizeof(float)));
    free(m->touched);
    free(m);
}

/* ---------------------------------------------------------------- scalar */

static float pairs_scalar(const pr__fx *fx, uint32_t kpad, uint32_t i0,
                          uint32_t i1) {
    const uint32_t s2 = 2 * kpad;
    float acc[4] = {0, 0, 0, 0};  /* one per SSE lane, as the SIMD kernel */
    for (uint32_t i = i0; i < i1; i++) {
        const float *ri = fx->row[i];
        for (uint32_t j = i + 1; j < fx->n; j++) {
            const float *a = ri + fx->field[j] * s2;
            const float *b = fx->row[j] + fx->field[i] * s2;
            float v = fx->val[i] * fx->val[j];
            for (uint32_t d = 0; d < kpad; d++) acc[d & 3] += a[d] * b[d] * v;
        }
    }
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

static void pairs_update_scalar(const pr__fx *fx, uint32_t kpad, uint32_t i0,
                                uint32_t i1, float kv, float eta, float lambda) {
    const uint32_t s2 = 2 * kpad;
    for (uint32_t i = i0; i < i1; i++) {
        float *ri = fx->row[i];
        for (uint32_t j = i + 1; j < fx->n; j++) {
            float *a = ri + fx->field[j] * s2;
            float *b = fx->row[j] + fx->field[i] * s2;
            float c = kv * fx->val[i] * fx->val[j];
            for (uint32_t d = 0; d < kpad; d++) {
                float wa = a[d], wb = b[d];
                float Ga = a[kpad + d], Gb = b[kpad + d];
                float ga = lambda * wa + c * wb;
                float gb = lambda * wb + c * wa;
                Ga += ga * ga;
                Gb += gb * gb;
                /* Stores in the SIMD kernel's order (a, then b), so that a
                 * pair whose two slots coincide ends the same way. */
                a[kpad + d] = Ga;
                a[d] = wa - eta * ga / sqrtf(Ga);
                b[kpad + d] = Gb;
                b[d] = wb - eta * gb / sqrtf(Gb);
            }
        }
    }
}

const pr__ffm_kernels pr__ffm_scalar = {pairs_scalar, pairs_update_scalar};

/* ---------------------------------------------------------------- model */

/* Prefetches the rows of a compacted example (each pair reads one slot in
 * each of two rows: scattered loads that otherwise miss one after the
 * other) and initializes rows touched for the first time. */
void pr__ffm_fx_warm(const ffm_model *m, const pr_example *x, const pr__fx *fx) {
    const uint64_t span = m->lin_off + 2 * m->kpad;
    for (uint32_t i = 0; i < fx->n; i++)
        for (uint64_t off = 0; off < span; off += 16)
            __builtin_prefetch(fx->row[i] + off, 1, 3);
    for (uint32_t i = 0; i < fx->n; i++)
        pr__ffm_ready(m, x->f[fx->src[i]].index & m->mask, fx->row[i]);
}

/* Compacts x with rows in the shared table, then warms them. */
static int ffm_fx(const ffm_model *m, const pr_example *x, pr__fx *fx,
                  pr__fx_buf *buf) {
    if (!pr__fx_build(fx, buf, x, m->table, m->mask, m->row_floats,
                      m->n_fields))
        return 0;
    pr__ffm_fx_warm(m, x, fx);
    return 1;
}

/* Clipped logit of an already compacted example, with bias b. */
static double ffm_score(const ffm_model *m, const pr__fx *fx, float r, const float *b) {
    const uint64_t lin = m->lin_off;
    double t = b[0];
    for (uint32_t i = 0; i < fx->n; i++) t += fx->row[i][lin] * fx->val[i];
    t += (double)r * m->kern->pairs(fx, m->kpad, 0, fx->n);
    return pr__clip_logit(t);
}

static double ffm_logit(const void *impl, const pr_example *x) {
    const ffm_model *m = impl;
    pr__fx fx;
    pr__fx_buf buf;
    if (!ffm_fx(m, x, &fx, &buf)) return pr__clip_logit(m->bias[0]);
    double t = ffm_score(m, &fx, pr__ffm_r(m, &fx), m->bias);
    pr__fx_release(&buf);
    return t;
}

double pr__ffm_learn(const ffm_model *m, const pr__fx *fx, const pr_example *x,
                     float *bias) {
    float r = pr__ffm_r(m, fx);
    double t = ffm_score(m, fx, r, bias);
    if (pr__trainable_weight(x->weight)) {
        float y = pr__is_click(x->label) ? 1.0f : 0.0f;
        float kappa = (float)(pr__sigmoid(t) - y) * pr__clamp_value(x->weight);
        const uint32_t kpad = m->kpad;
        const uint64_t lin = (uint64_t)m->n_fields * 2 * kpad;
        m->kern->pairs_update(fx, kpad, 0, fx->n, kappa * r, m->eta, m->lambda);
        /* The linear gradient is scaled by r like the pair terms: without
         * it the linear part learns ~n_features times faster than the
         * interactions and overfits within a pass (measured on gen-criteo:
         * 0.4520 -> 0.4462 test log loss; docs/benchmarks.md). */
        for (uint32_t i = 0; i < fx->n; i++) {
            float *l = fx->row[i] + lin;
            pr__adagrad1(&l[0], &l[kpad], m->lambda * l[0] + kappa * r * fx->val[i],
                         m->eta);
        }
        pr__adagrad1(&bias[0], &bias[1], kappa, m->eta);
    }
    return t;
}

double pr__ffm_update(void *impl, const pr_example *x) {
    ffm_model *m = impl;
    pr__fx fx;
    pr__fx_buf buf;
    if (!ffm_fx(m, x, &fx, &buf)) return pr__clip_logit(m->bias[0]);
    double t = pr__ffm_learn(m, &fx, x, m->bias);
    pr__fx_release(&buf);
    return t;
}

static void ffm_prefetch(const void *impl, const pr_example *x) {
    const ffm_model *m = impl;
    const uint64_t span = m->lin_off + 2 * m->kpad;
    for (uint32_t i = 0; i < x->n; i++) {
        const float *row = m->table + (uint64_t)(x->f[i].index & m->mask) * m->row_floats;
        for (uint64_t off = 0; off < span; off += 16) __builtin_prefetch(row + off, 1, 3);
    }
}

static double ffm_weight_norm(const void *impl, uint32_t index) {
    const ffm_model *m = impl;
    const float *row = m->table + (uint64_t)(index & m->mask) * m->row_floats;
    float lin = row[(uint64_t)m->n_fields * 2 * m->kpad];
    if (lin != 0.0f) return lin;
    double sq = 0;
    for (uint32_t f = 0; f < m->n_fields; f++)
        for (uint32_t d = 0; d < m->k; d++) {
            double w = row[(uint64_t)f * 2 * m->kpad + d];
            sq += w * w;
        }
    return sqrt(sq);
}

static uint64_t ffm_n_nonzero(const void *impl) {
    const ffm_model *m = impl;
    const uint64_t lin = (uint64_t)m->n_fields * 2 * m->kpad;
    uint64_t n = 0;
    pr__model_block b = {m->table, m->n_buckets * m->row_floats, m->touched};
    for (uint64_t i = 0; i < m->n_buckets; i++) {
        uint64_t at = i * m->row_floats + lin + m->kpad;
        /* never read a page no row was initialized in (model_int.h) */
        if (pr__model_page_touched(&b, at / PR__MODEL_PAGE_FLOATS))
            n += m->table[at] > 1.0f;
    }
    return n;
}

static int ffm_blocks(void *impl, pr__model_block *out) {
    ffm_model *m = impl;
    out[0].ptr = m->bias;
    out[0].n = 4;
    out[1].ptr = m->table;
    out[1].n = m->n_buckets * m->row_floats;
    out[1].touched = m->touched;
    return 2;
}

const pr__model_ops pr__model_ffm_ops = {
    .state_floats = ffm_state_floats,
    .create = ffm_create,
    .logit = ffm_logit,
    .update = pr__ffm_update,
    .prefetch = ffm_prefetch,
    .weight_norm = ffm_weight_norm,
    .n_nonzero = ffm_n_nonzero,
    .blocks = ffm_blocks,
    .destroy = ffm_destroy,
    .team_new = pr__ffm_team_new,
    .team_update = pr__ffm_team_update,
    .team_prefetch = pr__ffm_team_prefetch,
    .team_sync = pr__ffm_team_sync,
    .team_free = pr__ffm_team_free,
    .hot_new = pr__ffm_hot_new,
    .hot_update = pr__ffm_hot_update,
    .hot_prefetch = pr__ffm_hot_prefetch,
    .hot_flush = pr__ffm_hot_flush,
    .hot_free = pr__ffm_hot_free,
};

/* ---------------------------------------------------------------- internals */

pr_status pr__ffm_use_simd(pr_model *model, int simd) {
    ffm_model *m = model->impl;
    if (!simd) {
        m->kern = &pr__ffm_scalar;
        return PR_OK;
    }
    const pr__ffm_kernels *k = pr__ffm_simd();
    if (!k) return PR_ERR_UNSUPPORTED;
    m->kern = k;
    return PR_OK;
}

float *pr__ffm_latent(pr_model *model, uint32_t index, uint32_t field) {
    ffm_model *m = model->impl;
    float *row = m->table + (uint64_t)(index & m->mask) * m->row_floats;
    pr__ffm_ready(m, index & m->mask, row);
    return row + (uint64_t)field * 2 * m->kpad;
}

float *pr__ffm_linear(pr_model *model, uint32_t index) {
    ffm_model *m = model->impl;
    return pr__ffm_latent(model, index, m->n_fields);
}

float *pr__ffm_bias(pr_model *model) {
    ffm_model *m = model->impl;
    return m->bias;
}

uint32_t pr__ffm_kpad(const pr_model *model) {
    const ffm_model *m = model->impl;
    return m->kpad;
}

void pr__ffm_grad(const pr_model *model, const pr_example *x, float *latent,
                  float *lin, float *bias) {
    const ffm_model *m = model->impl;
    const uint32_t kpad = m->kpad, nf = m->n_fields, s2 = 2 * kpad;
    memset(latent, 0, sizeof(float) * x->n * nf * kpad);
    memset(lin, 0, sizeof(float) * x->n);
    *bias = 0;
    pr__fx fx;
    pr__fx_buf buf;
    if (!ffm_fx(m, x, &fx, &buf)) return;
    float r = pr__ffm_r(m, &fx);
    double t = ffm_score(m, &fx, r, m->bias);
    float y = pr__is_click(x->label) ? 1.0f : 0.0f;
    float kappa = (float)(pr__sigmoid(t) - y) * pr__clamp_value(x->weight);
    for (uint32_t i = 0; i < fx.n; i++) {
        for (uint32_t j = i + 1; j < fx.n; j++) {
            const float *a = fx.row[i] + fx.field[j] * s2;
            const float *b = fx.row[j] + fx.field[i] * s2;
            float c = kappa * r * fx.val[i] * fx.val[j];
            float *ga = latent + ((uint64_t)fx.src[i] * nf + fx.field[j]) * kpad;
            float *gb = latent + ((uint64_t)fx.src[j] * nf + fx.field[i]) * kpad;
            for (uint32_t d = 0; d < kpad; d++) {
                ga[d] += c * b[d];
                gb[d] += c * a[d];
            }
        }
        lin[fx.src[i]] = kappa * fx.val[i];
    }
    *bias = kappa;
    pr__fx_release(&buf);
}
