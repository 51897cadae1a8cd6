/*
 * test_model.c: the models (FTRL-LR, FFM, FM) and the model file.
 *
 * Math is checked against hand-computed values (FTRL) and finite
 * differences (FFM); the SIMD FFM kernels against the scalar reference;
 * learning against a synthetic problem with a known answer; the file
 * against every failure it promises to name.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>

#include "model/model_int.h"
#include "pronto/model.h"
#include "test.h"

/* ---------------------------------------------------------------- helpers */

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static double rnd01(void) { return (double)(rnd() >> 11) * (1.0 / 9007199254740992.0); }

static pr_example ex_of(pr_feature *f, uint32_t n, float label) {
    pr_example x = {label, 1.0f, 0, n, f};
    return x;
}

static pr_model *new_model(const pr_model_params *p) {
    pr_err err;
    pr_model *m = NULL;
    ASSERT_OK(pr_model_new(p, &m, &err));
    return m;
}

static double logloss(double p, float y) {
    p = p < 1e-12 ? 1e-12 : p > 1 - 1e-12 ? 1 - 1e-12 : p;
    return y > 0.5f ? -log(p) : -log(1 - p);
}

/* Float arrays equal within rel relative (plus a tiny absolute floor). */
static void assert_close_arrays(const float *a, const float *b, uint64_t n,
                                double rel) {
    for (uint64_t i = 0; i < n; i++) {
        double x = a[i], y = b[i];
        double tol = rel * fmax(fabs(x), fabs(y)) + 1e-7;
        if (!(fabs(x - y) <= tol))
            TEST_FAIL("element %llu: %.9g vs %.9g", (unsigned long long)i, x, y);
    }
}

static uint64_t state_floats(pr_model *m, pr__model_block *b, int *nb) {
    *nb = m->ops->blocks(m->impl, b);
    uint64_t n = 0;
    for (int i = 0; i < *nb; i++) n += b[i].n;
    return n;
}

/* ---------------------------------------------------------------- params */

TEST(kind_names_and_params_check) {
    pr_err err;
    pr_model_kind k;
    ASSERT_OK(pr_model_kind_parse("FFM", &k));
    ASSERT_EQ_INT(k, PR_MODEL_KIND_FFM);
    ASSERT_OK(pr_model_kind_parse("lr", &k));
    ASSERT_EQ_INT(k, PR_MODEL_KIND_LR);
    ASSERT_EQ_INT(pr_model_kind_parse("gbdt", &k), PR_ERR_INVALID);
    ASSERT_EQ_STR(pr_model_kind_name(PR_MODEL_KIND_FM), "fm");

    pr_model_params p;
    pr_model_params_default(&p, PR_MODEL_KIND_LR);
    ASSERT_OK(pr_model_params_check(&p, &err));
    p.alpha = -1;
    ASSERT_STATUS(pr_model_params_check(&p, &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "alpha");
    pr_model_params_default(&p, PR_MODEL_KIND_FFM);
    ASSERT_OK(pr_model_params_check(&p, &err));
    p.n_fields = 0;
    ASSERT_STATUS(pr_model_params_check(&p, &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "n_fields");
    pr_model_params_default(&p, PR_MODEL_KIND_FFM);
    p.neg_sample_rate = 0;
    ASSERT_STATUS(pr_model_params_check(&p, &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "neg_sample_rate");
    p.neg_sample_rate = 1;
    p.hash_bits = 31;
    ASSERT_STATUS(pr_model_params_check(&p, &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "hash_bits");
    p.hash_bits = 10;
    p.eta = NAN;
    ASSERT_STATUS(pr_model_params_check(&p, &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "eta");
    pr_model *m = NULL;
    ASSERT_STATUS(pr_model_new(&p, &m, &err), PR_ERR_INVALID);
    ASSERT_TRUE(m == NULL);
}

/* ---------------------------------------------------------------- FTRL */

/*
 * Two FTRL steps worked out by hand. alpha = 0.5, beta = 1, l1 = 0.1,
 * l2 = 1; features A (bucket 3, value 1) and B (bucket 7, value 2);
 * label 1; the bias has no L1/L2. All state starts at 0.
 *
 * Step 1: t = 0, p = 0.5, p - y = -0.5.
 *   A: g = -0.5, sigma = (sqrt(0.25) - 0) / 0.5 = 1, z = g - sigma*0 = -0.5,
 *      n = 0.25, w = -(z + l1) / ((beta + sqrt n)/alpha + l2)
 *                  = 0.4 / (1.5/0.5 + 1) = 0.1
 *   B: g = -1, sigma = 2, z = -1, n = 1, w = 0.9 / (2/0.5 + 1) = 0.18
 *   bias: g = -0.5, z = -0.5, n = 0.25, w = 0.5 / (1.5/0.5) = 1/6
 * Step 2: t = 1/6 + 0.1*1 + 0.18*2 = 0.6266667, p = 0.6517333,
 *   p - y = -0.3482667.
 *   A: g = -0.3482667, sigma = (sqrt(0.25 + g^2) - 0.5)/0.5 = 0.2186710,
 *      z = -0.5 + g - sigma*0.1 = -0.8701338, n = 0.3712897,
 *      w = (0.8701338 - 0.1) / ((1 + 0.6093355)/0.5 + 1) = 0.1825537
 *   B: g = -0.6965335, sigma = 0.4373419, z = -1.7752550, n = 1.4851589,
 *      w = 1.6752550 / ((1 + 1.2186710)/0.5 + 1) = 0.3081018
 *   bias: z = -0.8847119, n = 0.3712897, w = 0.8847119 / 3.2186710 = 0.2748687
 */
TEST(ftrl_step_matches_hand_computation) {
    pr_model_params p;
    pr_model_params_default(&p, PR_MODEL_KIND_LR);
    p.hash_bits = 4;
    p.alpha = 0.5f;
    p.beta = 1.0f;
    p.l1 = 0.1f;
    p.l2 = 1.0f;
    pr_model *m = new_model(&p);
    pr_feature f[2] = {{3, 0, 1.0f}, {7, 1, 2.0f}};
    pr_example x = ex_of(f, 2, 1.0f);

    ASSERT_NEAR(pr_model_update(m, &x), 0.0, 1e-12);
    float *a = pr__lr_state(m, 3), *b = pr__lr_state(m, 7);
    float *bias = pr__lr_state(m, UINT32_MAX);
    ASSERT_NEAR(a[0], 0.1, 1e-6);
    ASSERT_NEAR(a[1], -0.5, 1e-6);
    ASSERT_NEAR(a[2] * a[2], 0.25, 1e-6);
    ASSERT_NEAR(b[0], 0.18, 1e-6);
    ASSERT_NEAR(b[1], -1.0, 1e-6);
    ASSERT_NEAR(bias[0], 1.0 / 6, 1e-6);

    ASSERT_NEAR(pr_model_update(m, &x), 0.6266667, 1e-6);
    ASSERT_NEAR(a[1], -0.8701338, 1e-6);
    ASSERT_NEAR(a[2] * a[2], 0.3712897, 1e-6);
    ASSERT_NEAR(a[0], 0.1825537, 1e-6);
    ASSERT_NEAR(b[1], -1.7752550, 1e-6);
    ASSERT_NEAR(b[2] * b[2], 1.4851589, 1e-6);
    ASSERT_NEAR(b[0], 0.3081018, 1e-6);
    ASSERT_NEAR(bias[1], -0.8847119, 1e-6);
    ASSERT_NEAR(bias[0], 0.2748687, 1e-6);
    /* The stored w and the one recomputed from z and n agree. */
    double t = 0.2748687 + 0.1825537 * 1 + 0.3081018 * 2;
    ASSERT_NEAR(pr_model_logit(m, &x), t, 1e-6);
    ASSERT_NEAR(pr__lr_logit_lazy(m, &x), t, 1e-6);
    ASSERT_EQ_INT(pr_model_n_nonzero(m), 2);
    ASSERT_NEAR(pr_model_weight_norm(m, 7), 0.3081018, 1e-6);
    pr_model_free(m);
}

/* Random examples: 8 features over 2^bits buckets, label ~ Bernoulli(rate). */
static void random_example(pr_feature *f, uint32_t n, uint32_t n_fields,
                           uint32_t bits) {
    for (uint32_t i = 0; i < n; i++) {
        f[i].field = i % (n_fields ? n_fields : 1);
        f[i].index = (uint32_t)(rnd() & ((1u << bits) - 1));
        f[i].value = 1.0f;
    }
}

TEST(ftrl_strong_l1_gives_true_zeros_and_bias_keeps_base_rate) {
    pr_model_params p;
    pr_model_params_default(&p, PR_MODEL_KIND_LR);
    p.hash_bits = 10;
    p.l1 = 1000.0f;  /* no feature can overcome it */
    pr_model *m = new_model(&p);
    pr_model_params p2 = p;
    p2.l1 = 0;
    pr_model *m0 = new_model(&p2);
    pr_feature f[8];
    for (int i = 0; i < 4000; i++) {
        random_example(f, 8, 8, 10);
        pr_example x = ex_of(f, 8, rnd01() < 0.3 ? 1.0f : 0.0f);
        pr_model_update(m, &x);
        pr_model_update(m0, &x);
    }
    ASSERT_EQ_INT(pr_model_n_nonzero(m), 0);
    int trained_buckets = 0;
    for (uint32_t i = 0; i < 1024; i++) {
        float *st = pr__lr_state(m, i);
        ASSERT_TRUE(st[0] == 0.0f);        /* exactly zero ... */
        trained_buckets += st[2] > 0;      /* ... though trained */
    }
    ASSERT_TRUE(trained_buckets > 900);
    ASSERT_TRUE(pr_model_n_nonzero(m0) > 900);
    /* Empty example: the bias alone predicts the base rate. */
    pr_example empty = ex_of(NULL, 0, 0);
    ASSERT_NEAR(pr_model_predict(m, &empty), 0.3, 0.03);
    pr_model_free(m);
    pr_model_free(m0);
}

TEST(recalibration_for_negative_downsampling) {
    pr_model_params p;
    pr_model_params_default(&p, PR_MODEL_KIND_LR);
    p.hash_bits = 8;
    p.neg_sample_rate = 0.25f;
    pr_model *m = new_model(&p);
    pr_feature f[8];
    for (int i = 0; i < 500; i++) {
        random_example(f, 8, 8, 8);
        pr_example x = ex_of(f, 8, rnd01() < 0.5 ? 1.0f : 0.0f);
        pr_model_update(m, &x);
    }
    for (int i = 0; i < 20; i++) {
        random_example(f, 8, 8, 8);
        pr_example x = ex_of(f, 8, 0);
        double praw = 1 / (1 + exp(-pr_model_logit(m, &x)));
        double want = praw / (praw + (1 - praw) / 0.25);
        ASSERT_NEAR(pr_model_predict(m, &x), want, 1e-9);
        ASSERT_TRUE(pr_model_predict(m, &x) < praw);
    }
    /* Rate 1: predict is the plain sigmoid. */
    pr_model_params_default(&p, PR_MODEL_KIND_LR);
    p.hash_bits = 8;
    pr_model *m1 = new_model(&p);
    pr_example x = ex_of(f, 8, 1);
    pr_model_update(m1, &x);
    ASSERT_NEAR(pr_model_predict(m1, &x), 1 / (1 + exp(-pr_model_logit(m1, &x))),
                1e-12);
    pr_model_free(m);
    pr_model_free(m1);
}

/* Bad features never crash and never poison weights. */
TEST(bad_features_are_ignored_or_masked) {
    pr_model_kind kinds[] = {PR_MODEL_KIND_LR, PR_MODEL_KIND_FFM, PR_MODEL_KIND_FM};
    for (int ki = 0; ki < 3; ki++) {
        pr_model_params p;
        pr_model_params_default(&p, kinds[ki]);
        p.hash_bits = 6;
        p.n_fields = 4;
        pr_model *m = new_model(&p);
        pr_feature good[3] = {{1, 0, 1}, {2, 1, 1}, {3, 2, 0.5f}};
        pr_feature bad[6] = {{1, 0, 1},        {2, 1, 1},       {3, 2, 0.5f},
                             {5, 0, NAN},      {6, 1, INFINITY}, {7, 99, 1}};
        pr_example xg = ex_of(good, 3, 1), xb = ex_of(bad, 6, 1);
        if (kinds[ki] == PR_MODEL_KIND_FFM) {
            /* field 99 >= n_fields: ignored */
            ASSERT_TRUE(pr_model_logit(m, &xg) == pr_model_logit(m, &xb));
        } else {
            bad[5].field = 0;  /* fields do not matter: keep it comparable */
            bad[5].index = 7 + 64;  /* masked to bucket 7 */
        }
        /* huge values and weights are clamped: weights stay finite */
        pr_feature huge[2] = {{9, 0, 1e30f}, {10, 1, -1e30f}};
        pr_example xh = ex_of(huge, 2, 1);
        xh.weight = 1e30f;
        for (int i = 0; i < 50; i++) {
            pr_model_update(m, &xb);
            pr_model_update(m, &xh);
            xb.label = 1 - xb.label;
        }
        pr__model_block b[PR__MODEL_MAX_BLOCKS];
        int nb;
        state_floats(m, b, &nb);
        for (int i = 0; i < nb; i++)
            for (uint64_t j = 0; j < b[i].n; j++) ASSERT_TRUE(isfinite(b[i].ptr[j]));
        ASSERT_TRUE(isfinite(pr_model_predict(m, &xh)));
        pr_example nan_w = ex_of(good, 3, 1);
        nan_w.weight = NAN;
        double before = pr_model_logit(m, &xg);
        pr_model_update(m, &nan_w);  /* untrainable weight: no change */
        ASSERT_TRUE(pr_model_logit(m, &xg) == before);
        pr_model_free(m);
    }
}

/* ---------------------------------------------------------------- FFM */

static pr_model_params ffm_params(uint32_t bits, uint32_t n_fields, uint32_t k) {
    pr_model_params p;
    pr_model_params_default(&p, PR_MODEL_KIND_FFM);
    p.hash_bits = bits;
    p.n_fields = n_fields;
    p.k = k;
    return p;
}

/* Weighted log loss of x under the model (for finite differences). */
static double model_loss(const pr_model *m, const pr_example *x) {
    double p = 1 / (1 + exp(-pr_model_logit(m, x)));
    return x->weight * logloss(p, x->label);
}

static void check_ffm_gradient(uint32_t k, int normalize) {
    pr_model_params p = ffm_params(6, 3, k);
    p.normalize = normalize;
    pr_model *m = new_model(&p);
    /* Move the linear terms and bias away from 0 so they matter too. */
    for (uint32_t i = 0; i < 64; i++) pr__ffm_linear(m, i)[0] = 0.1f * (float)(i % 5) - 0.2f;
    pr__ffm_bias(m)[0] = -0.3f;
    pr_feature f[3] = {{5, 0, 1.0f}, {17, 1, 0.5f}, {40, 2, 2.0f}};
    pr_example x = ex_of(f, 3, 1.0f);
    x.weight = 1.5f;
    const uint32_t kpad = pr__ffm_kpad(m);
    float latent[3 * 3 * 8], lin[3], gbias;
    pr__ffm_grad(m, &x, latent, lin, &gbias);
    const double eps = 1e-2;
    int nonzero = 0;
    for (uint32_t i = 0; i < 3; i++) {
        for (uint32_t fld = 0; fld < 3; fld++) {
            float *w = pr__ffm_latent(m, f[i].index, fld);
            for (uint32_t d = 0; d < k; d++) {
                float keep = w[d];
                w[d] = (float)(keep + eps);
                double up = model_loss(m, &x);
                w[d] = (float)(keep - eps);
                double down = model_loss(m, &x);
                w[d] = keep;
                double fd = (up - down) / (2 * eps);
                double an = latent[(i * 3 + fld) * kpad + d];
                ASSERT_NEAR(an, fd, 2e-3 + 1e-2 * fabs(fd));
                nonzero += an != 0;
            }
        }
        float *l = pr__ffm_linear(m, f[i].index);
        float keep = l[0];
        l[0] = (float)(keep + eps);
        double up = model_loss(m, &x);
        l[0] = (float)(keep - eps);
        double down = model_loss(m, &x);
        l[0] = keep;
        ASSERT_NEAR(lin[i], (up - down) / (2 * eps), 2e-3);
    }
    /* Each feature has 2 partner fields of k lanes: 3 * 2 * k used slots. */
    ASSERT_EQ_INT(nonzero, 3 * 2 * k);
    float *b = pr__ffm_bias(m);
    float keep = b[0];
    b[0] = (float)(keep + eps);
    double up = model_loss(m, &x);
    b[0] = (float)(keep - eps);
    double down = model_loss(m, &x);
    b[0] = keep;
    ASSERT_NEAR(gbias, (up - down) / (2 * eps), 2e-3);

    /* The update is one AdaGrad step along that gradient (plus L2), from
     * accumulators at 1: w' = w - eta g / sqrt(1 + g^2). */
    pr_err err;
    ASSERT_OK(pr__ffm_use_simd(m, 0));
    float *w01 = pr__ffm_latent(m, f[0].index, 1);
    float before = w01[0];
    double g = latent[(0 * 3 + 1) * kpad + 0] + p.lambda * before;
    pr_model_update(m, &x);
    ASSERT_NEAR(w01[0], before - p.eta * g / sqrt(1 + g * g), 1e-6);
    ASSERT_NEAR(w01[kpad], 1 + g * g, 1e-6);
    pr_model_free(m);
}

TEST(ffm_gradient_matches_finite_differences) {
    check_ffm_gradient(4, 1);
    check_ffm_gradient(3, 0);  /* padded k, no normalization */
    check_ffm_gradient(8, 1);
}

/* Clones a model through the file (also a round-trip check). */
static pr_model *clone_model(const pr_model *m, const char *name) {
    pr_err err;
    pr_model *c = NULL;
    ASSERT_OK(pr_model_save(m, test_path(name), &err));
    ASSERT_OK(pr_model_load(test_path(name), &c, &err));
    return c;
}

static void check_simd_agrees(uint32_t k, uint32_t n_fields, uint32_t n_feat) {
    pr_err err;
    pr_model_params p = ffm_params(10, n_fields, k);
    pr_model *a = new_model(&p);
    if (pr__ffm_use_simd(a, 1) != PR_OK) {
        fprintf(stderr, "   (no AVX2+FMA on this CPU: SIMD check skipped)\n");
        pr_model_free(a);
        return;
    }
    pr_feature f[64];
    /* Warm up so weights and accumulators are not at their initial values. */
    for (int i = 0; i < 300; i++) {
        random_example(f, n_feat, n_fields, 10);
        pr_example x = ex_of(f, n_feat, (float)(rnd() & 1));
        pr_model_update(a, &x);
    }
    pr__model_block ba[PR__MODEL_MAX_BLOCKS], bb[PR__MODEL_MAX_BLOCKS];
    int nba, nbb;
    for (int trial = 0; trial < 10; trial++) {
        pr_model *b = clone_model(a, "simd.pm");
        ASSERT_OK(pr__ffm_use_simd(a, 1));
        ASSERT_OK(pr__ffm_use_simd(b, 0));
        random_example(f, n_feat, n_fields, 10);
        if (trial == 3) f[1] = f[0];  /* a pair whose slots coincide */
        if (trial == 4) f[2].field = f[1].field;  /* repeated field */
        if (trial == 5) f[3].value = 0.37f;
        pr_example x = ex_of(f, n_feat, (float)(trial & 1));
        double la = pr_model_logit(a, &x), lb = pr_model_logit(b, &x);
        ASSERT_NEAR(la, lb, 1e-5 * fabs(lb) + 1e-6);
        double ua = pr_model_update(a, &x), ub = pr_model_update(b, &x);
        ASSERT_NEAR(ua, ub, 1e-5 * fabs(ub) + 1e-6);
        uint64_t na = state_floats(a, ba, &nba), nb = state_floats(b, bb, &nbb);
        ASSERT_EQ_INT(na, nb);
        for (int i = 0; i < nba; i++) assert_close_arrays(ba[i].ptr, bb[i].ptr, ba[i].n, 1e-5);
        pr_model_free(b);
    }
    pr_model_free(a);
}

TEST(ffm_simd_agrees_with_scalar) {
    check_simd_agrees(4, 39, 39);
    check_simd_agrees(3, 5, 7);    /* k padded to 4 */
    check_simd_agrees(16, 8, 12);  /* several vectors per latent */
}

TEST(ffm_init_is_seeded_and_in_range) {
    pr_model_params p = ffm_params(4, 3, 5);
    pr_model *a = new_model(&p), *b = new_model(&p);
    p.seed = 2;
    pr_model *c = new_model(&p);
    uint32_t kpad = pr__ffm_kpad(a);
    ASSERT_EQ_INT(kpad, 8);
    int differ = 0;
    for (uint32_t i = 0; i < 16; i++)
        for (uint32_t fld = 0; fld < 3; fld++) {
            float *wa = pr__ffm_latent(a, i, fld), *wb = pr__ffm_latent(b, i, fld);
            float *wc = pr__ffm_latent(c, i, fld);
            for (uint32_t d = 0; d < kpad; d++) {
                ASSERT_TRUE(wa[d] == wb[d]);
                differ += wa[d] != wc[d];
                if (d < 5) ASSERT_TRUE(wa[d] >= 0 && wa[d] < 1 / sqrt(5.0));
                else ASSERT_TRUE(wa[d] == 0);
                ASSERT_TRUE(wa[kpad + d] == 1.0f);
            }
        }
    ASSERT_TRUE(differ > 100);
    pr_model_free(a);
    pr_model_free(b);
    pr_model_free(c);
}

/* Rows are initialized on first touch from (seed, bucket): the order of
 * touches, and whether a save/load happened in between, do not matter. */
TEST(ffm_lazy_init_is_order_independent) {
    pr_model_params p = ffm_params(6, 4, 4);
    pr_model *a = new_model(&p), *b = new_model(&p);
    pr_feature f[4] = {{3, 0, 1}, {9, 1, 1}, {27, 2, 1}, {60, 3, 1}};
    pr_example x = ex_of(f, 4, 1);
    double before = pr_model_logit(a, &x);  /* predict touches a's rows */
    for (uint32_t i = 64; i-- > 0;) (void)pr__ffm_latent(b, i, 0);  /* reverse */
    ASSERT_TRUE(pr_model_logit(b, &x) == before);
    for (uint32_t fld = 0; fld < 4; fld++)
        ASSERT_TRUE(memcmp(pr__ffm_latent(a, 27, fld), pr__ffm_latent(b, 27, fld),
                           8 * sizeof(float)) == 0);
    /* Untouched rows survive a save/load as zeros and come back the same. */
    pr_model *c = new_model(&p);
    pr_model *d = clone_model(c, "lazy.pm");
    ASSERT_TRUE(pr_model_logit(d, &x) == before);
    ASSERT_EQ_INT(pr_model_update(d, &x) == pr_model_update(a, &x), 1);
    pr_model_free(a);
    pr_model_free(b);
    pr_model_free(c);
    pr_model_free(d);
}

TEST(prefetch_changes_nothing) {
    pr_model_kind kinds[] = {PR_MODEL_KIND_LR, PR_MODEL_KIND_FFM, PR_MODEL_KIND_FM};
    for (int ki = 0; ki < 3; ki++) {
        pr_model_params p;
        pr_model_params_default(&p, kinds[ki]);
        p.hash_bits = 8;
        p.n_fields = 6;
        pr_model *a = new_model(&p), *b = new_model(&p);
        pr_feature f[6];
        for (int i = 0; i < 100; i++) {
            random_example(f, 6, 6, 8);
            pr_example x = ex_of(f, 6, (float)(i & 1));
            pr_model_prefetch(a, &x);
            ASSERT_TRUE(pr_model_update(a, &x) == pr_model_update(b, &x));
        }
        pr_model_free(a);
        pr_model_free(b);
    }
}

/* ---------------------------------------------------------------- learning */

/* A synthetic problem with a known generator: 8 fields of 40 values each,
 * a per-value effect and an interaction between fields 0 and 1 that no
 * linear model can express. */
typedef struct truth {
    float eff[8][40];
    float inter[40][40];
} truth;

static void make_truth(truth *t) {
    for (int f = 0; f < 8; f++)
        for (int v = 0; v < 40; v++) t->eff[f][v] = (float)(rnd01() * 2 - 1);
    /* Low rank, as a factorization can represent: 3 u_a v_b. */
    float u[40], v[40];
    for (int a = 0; a < 40; a++) u[a] = (float)(rnd01() * 2 - 1), v[a] = (float)(rnd01() * 2 - 1);
    for (int a = 0; a < 40; a++)
        for (int b = 0; b < 40; b++) t->inter[a][b] = 3 * u[a] * v[b];
}

static void draw(const truth *t, pr_feature *f, float *label) {
    int v[8];
    double s = -1.0;
    for (int k = 0; k < 8; k++) {
        v[k] = (int)(rnd() % 40);
        f[k].field = (uint32_t)k;
        f[k].index = (uint32_t)(k * 40 + v[k]) * 2654435761u >> 20;  /* 12 bits */
        f[k].value = 1.0f;
        s += t->eff[k][v[k]];
    }
    s += t->inter[v[0]][v[1]];
    *label = rnd01() < 1 / (1 + exp(-s)) ? 1.0f : 0.0f;
}

static double holdout_loss(const pr_model *m, const truth *t, int n) {
    uint64_t keep = rng_state;
    rng_state = 12345;  /* the same holdout every time */
    double sum = 0;
    for (int i = 0; i < n; i++) {
        pr_feature f[8];
        float y;
        draw(t, f, &y);
        pr_example x = ex_of(f, 8, y);
        sum += logloss(pr_model_predict(m, &x), y);
    }
    rng_state = keep;
    return sum / n;
}

TEST(training_reduces_log_loss) {
    truth t;
    make_truth(&t);
    pr_model_kind kinds[] = {PR_MODEL_KIND_LR, PR_MODEL_KIND_FFM, PR_MODEL_KIND_FM};
    double final[3];
    for (int ki = 0; ki < 3; ki++) {
        pr_model_params p;
        pr_model_params_default(&p, kinds[ki]);
        p.hash_bits = 12;
        p.n_fields = 8;
        if (kinds[ki] == PR_MODEL_KIND_LR) p.l1 = 0.1f;
        /* a small problem: a larger step than the Criteo-tuned default */
        if (kinds[ki] == PR_MODEL_KIND_FFM) p.eta = 0.3f;
        pr_model *m = new_model(&p);
        double before = holdout_loss(m, &t, 3000);
        for (int pass = 0; pass < 3; pass++) {
            uint64_t keep = rng_state;
            rng_state = 999;
            for (int i = 0; i < 20000; i++) {
                pr_feature f[8];
                float y;
                draw(&t, f, &y);
                pr_example x = ex_of(f, 8, y);
                pr_model_update(m, &x);
            }
            rng_state = keep;
        }
        final[ki] = holdout_loss(m, &t, 3000);
        fprintf(stderr, "   %s: holdout log loss %.4f -> %.4f\n",
                pr_model_kind_name(kinds[ki]), before, final[ki]);
        ASSERT_TRUE(final[ki] < before - 0.05);
        ASSERT_TRUE(final[ki] < 0.62);
        pr_model_free(m);
    }
    /* The interaction is there to be found: FFM beats plain LR. */
    ASSERT_TRUE(final[1] < final[0]);
}

/* ---------------------------------------------------------------- file */

static pr_model *trained(pr_model_kind kind, uint32_t bits) {
    pr_model_params p;
    pr_model_params_default(&p, kind);
    p.hash_bits = bits;
    p.n_fields = 6;
    p.l1 = 0.01f;
    p.neg_sample_rate = 0.5f;
    pr_model *m = new_model(&p);
    pr_feature f[6];
    for (int i = 0; i < 400; i++) {
        random_example(f, 6, 6, bits);
        pr_example x = ex_of(f, 6, (float)(rnd() & 1));
        pr_model_update(m, &x);
    }
    return m;
}

TEST(save_load_roundtrip_is_bitwise) {
    pr_err err;
    pr_model_kind kinds[] = {PR_MODEL_KIND_LR, PR_MODEL_KIND_FFM, PR_MODEL_KIND_FM};
    for (int ki = 0; ki < 3; ki++) {
        pr_model *m = trained(kinds[ki], 8);
        uint64_t bits[4] = {0x5555555555555555ull, 1, 0, ~0ull};
        ASSERT_OK(pr_model_set_spec(m, "fields:\n  - name: C1\n", &err));
        ASSERT_OK(pr_model_set_info(m, "{\"rows\": 400, \"auc\": 0.71}", &err));
        ASSERT_OK(pr_model_set_filter(m, bits, &err));
        ASSERT_STATUS(pr_model_set_info(m, "rows=400", &err), PR_ERR_INVALID);
        const char *path = test_path("rt.pm");
        ASSERT_OK(pr_model_save(m, path, &err));
        pr_model *l = NULL;
        ASSERT_OK(pr_model_load(path, &l, &err));
        ASSERT_EQ_STR(pr_model_spec(l), "fields:\n  - name: C1\n");
        ASSERT_EQ_STR(pr_model_info(l), "{\"rows\": 400, \"auc\": 0.71}");
        ASSERT_TRUE(memcmp(pr_model_filter(l), bits, sizeof bits) == 0);
        ASSERT_TRUE(memcmp(pr_model_params_get(l), pr_model_params_get(m),
                           sizeof(pr_model_params)) == 0);
        ASSERT_EQ_INT(pr_model_n_nonzero(l), pr_model_n_nonzero(m));
        pr_feature f[6];
        for (int i = 0; i < 100; i++) {
            random_example(f, 6, 6, 8);
            pr_example x = ex_of(f, 6, 0);
            double a = pr_model_logit(m, &x), b = pr_model_logit(l, &x);
            ASSERT_TRUE(memcmp(&a, &b, sizeof a) == 0);
            ASSERT_TRUE(pr_model_predict(m, &x) == pr_model_predict(l, &x));
        }
        /* Load from memory gives the same model; metadata is optional. */
        ASSERT_OK(pr_model_set_filter(l, NULL, &err));
        ASSERT_OK(pr_model_set_spec(l, NULL, &err));
        ASSERT_OK(pr_model_save(l, path, &err));
        char *data;
        size_t len;
        ASSERT_OK(pr_read_file(path, &data, &len, &err));
        pr_model *mm = NULL;
        ASSERT_OK(pr_model_load_mem(data, len, "mem", &mm, &err));
        ASSERT_TRUE(pr_model_filter(mm) == NULL && pr_model_spec(mm) == NULL);
        random_example(f, 6, 6, 8);
        pr_example x = ex_of(f, 6, 0);
        ASSERT_TRUE(pr_model_logit(mm, &x) == pr_model_logit(m, &x));
        free(data);
        pr_model_free(mm);
        pr_model_free(l);
        pr_model_free(m);
    }
}

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    ASSERT_TRUE(f != NULL);
    ASSERT_EQ_INT(fwrite(p, 1, n, f), n);
    fclose(f);
}

static pr_status load_bytes(const char *name, const void *p, size_t n,
                            pr_err *err) {
    const char *path = test_path(name);
    write_bytes(path, p, n);
    pr_model *m = NULL;
    pr_status s = pr_model_load(path, &m, err);
    ASSERT_TRUE((s == PR_OK) == (m != NULL));
    pr_model_free(m);
    /* The memory loader must agree. */
    pr_err err2;
    pr_model *m2 = NULL;
    ASSERT_EQ_INT(pr_model_load_mem(p, n, path, &m2, &err2), s);
    ASSERT_EQ_STR(err2.msg, s == PR_OK ? err2.msg : err->msg);
    pr_model_free(m2);
    return s;
}

TEST(corrupt_files_are_rejected_with_their_reason) {
    pr_err err;
    pr_model *m = trained(PR_MODEL_KIND_LR, 9);
    const char *path = test_path("good.pm");
    ASSERT_OK(pr_model_save(m, path, &err));
    char *data;
    size_t len;
    ASSERT_OK(pr_read_file(path, &data, &len, &err));
    uint8_t *b = (uint8_t *)data;
    /* 2^9 slots of 16 bytes + 16 bytes of bias. */
    const uint64_t wbytes = 512 * 16 + 16;
    ASSERT_OK(load_bytes("copy.pm", b, len, &err));

    b[len - 100] ^= 0x10;  /* a weight byte */
    ASSERT_STATUS(load_bytes("flip.pm", b, len, &err), PR_ERR_CHECKSUM);
    ASSERT_CONTAINS(err.msg, "flip.pm: checksum mismatch (file corrupt)");
    b[len - 100] ^= 0x10;
    b[len - 3] ^= 1;  /* the checksum itself */
    ASSERT_STATUS(load_bytes("flip2.pm", b, len, &err), PR_ERR_CHECKSUM);
    b[len - 3] ^= 1;
    b[60] ^= 0x80;  /* a directory byte: caught by the header checksum */
    ASSERT_STATUS(load_bytes("flip3.pm", b, len, &err), PR_ERR_CHECKSUM);
    ASSERT_CONTAINS(err.msg, "checksum mismatch (file corrupt)");
    b[60] ^= 0x80;

    ASSERT_STATUS(load_bytes("short.pm", b, 1200, &err), PR_ERR_TRUNCATED);
    char want[200];
    /* weights start 8 bytes before the end of the file minus their size */
    uint64_t wstart = len - 8 - wbytes;
    snprintf(want, sizeof want,
             "short.pm: truncated: expected %llu bytes of weights, file ends after %llu",
             (unsigned long long)wbytes, (unsigned long long)(1200 - wstart));
    ASSERT_CONTAINS(err.msg, want);
    ASSERT_STATUS(load_bytes("short2.pm", b, len - 1, &err), PR_ERR_TRUNCATED);
    ASSERT_CONTAINS(err.msg, "checksum");
    ASSERT_STATUS(load_bytes("short3.pm", b, 20, &err), PR_ERR_TRUNCATED);
    ASSERT_STATUS(load_bytes("empty.pm", b, 0, &err), PR_ERR_FORMAT);

    memcpy(b, "PRONTOMX", 8);
    ASSERT_STATUS(load_bytes("magic.pm", b, len, &err), PR_ERR_FORMAT);
    ASSERT_CONTAINS(err.msg, "magic.pm: not a pronto model file (bad magic)");
    memcpy(b, "PRONTOMD", 8);
    b[8] = 9;  /* format version 9 */
    ASSERT_STATUS(load_bytes("future.pm", b, len, &err), PR_ERR_VERSION);
    ASSERT_CONTAINS(err.msg,
                    "future.pm: format version 9 is newer than this pronto supports (1)");
    b[8] = 1;
    ASSERT_OK(load_bytes("again.pm", b, len, &err));

    /* Trailing garbage. */
    char *big = malloc(len + 5);
    memcpy(big, b, len);
    memset(big + len, 'x', 5);
    ASSERT_STATUS(load_bytes("long.pm", big, len + 5, &err), PR_ERR_FORMAT);
    ASSERT_CONTAINS(err.msg, "5 unexpected bytes");
    free(big);

    pr_model *none = NULL;
    ASSERT_STATUS(pr_model_load(test_path("missing.pm"), &none, &err), PR_ERR_IO);
    ASSERT_CONTAINS(err.msg, "missing.pm");
    free(data);
    pr_model_free(m);
}

TEST(warm_start_continues_from_saved_state) {
    pr_model_kind kinds[] = {PR_MODEL_KIND_LR, PR_MODEL_KIND_FFM, PR_MODEL_KIND_FM};
    for (int ki = 0; ki < 3; ki++) {
        pr_model *m = trained(kinds[ki], 8);
        pr_model *l = clone_model(m, "warm.pm");
        pr__model_block bm[PR__MODEL_MAX_BLOCKS], bl[PR__MODEL_MAX_BLOCKS];
        int nbm, nbl;
        state_floats(m, bm, &nbm);
        state_floats(l, bl, &nbl);
        pr_feature f[6];
        for (int i = 0; i < 50; i++) {
            random_example(f, 6, 6, 8);
            pr_example x = ex_of(f, 6, (float)(i & 1));
            double a = pr_model_update(m, &x), b = pr_model_update(l, &x);
            ASSERT_TRUE(a == b);
        }
        /* Same state after the same steps: the loaded model carried the
         * optimizer state, not just the weights. */
        for (int i = 0; i < nbm; i++)
            ASSERT_TRUE(memcmp(bm[i].ptr, bl[i].ptr, bm[i].n * 4) == 0);
        /* ... and a fresh model given the same steps ends elsewhere. */
        pr_model *fresh = new_model(pr_model_params_get(m));
        pr_example x = ex_of(f, 6, 1);
        pr_model_update(fresh, &x);
        ASSERT_TRUE(pr_model_logit(fresh, &x) != pr_model_logit(l, &x));
        pr_model_free(fresh);
        pr_model_free(l);
        pr_model_free(m);
    }
}

/* ---------------------------------------------------------------- sparse file */

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}
static uint64_t le64(const uint8_t *p) {
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}
static void set_le64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* The last section (the writer puts the weights last): its directory entry. */
static uint8_t *last_entry(uint8_t *b) {
    return b + 32 + 24 * (le32(b + 16) - 1);
}

/* After an edit: fixes the total length and both checksums, so the loader
 * gets past them to the check under test. */
static void reseal(uint8_t *b, size_t len) {
    size_t h = 32 + 24 * (size_t)le32(b + 16);
    set_le64(b + 24, len);
    set_le64(b + h, pr_hash64(b, h, 0));
    pr_checksum *ck = pr_checksum_new();
    ASSERT_TRUE(ck != NULL);
    pr_checksum_update(ck, b, len - 8);
    set_le64(b + len - 8, pr_checksum_digest(ck));
    pr_checksum_free(ck);
}

/* An FFM at 2^14 buckets, 6 fields, k 4 (56 floats a row, 896 table pages
 * of 4 KiB) trained on 30 examples over at most 40 buckets (the base
 * buckets themselves always, as field 0): a few dozen pages. */
#define SPARSE_BITS 14
static const uint32_t sparse_buckets[4] = {17, 4100, 9000, 16383};
static void sparse_example(pr_feature *f, int i) {
    for (uint32_t j = 0; j < 6; j++) {
        f[j].field = j;
        f[j].index = sparse_buckets[(i + (int)j) % 4] + (j ? (uint32_t)(rnd() % 10) : 0);
        if (f[j].index >= 1u << SPARSE_BITS) f[j].index -= 100;
        f[j].value = 1.0f;
    }
}
static pr_model *sparse_ffm(void) {
    pr_model_params p = ffm_params(SPARSE_BITS, 6, 4);
    pr_model *m = new_model(&p);
    pr_feature f[6];
    for (int i = 0; i < 30; i++) {
        sparse_example(f, i);
        pr_example x = ex_of(f, 6, (float)(i % 3 == 0));
        pr_model_update(m, &x);
    }
    return m;
}

static void assert_same_state(pr_model *a, pr_model *b) {
    pr__model_block ba[PR__MODEL_MAX_BLOCKS], bb[PR__MODEL_MAX_BLOCKS];
    int na, nb;
    state_floats(a, ba, &na);
    state_floats(b, bb, &nb);
    ASSERT_EQ_INT(na, nb);
    for (int i = 0; i < na; i++) {
        ASSERT_EQ_INT(ba[i].n, bb[i].n);
        ASSERT_TRUE(memcmp(ba[i].ptr, bb[i].ptr, ba[i].n * 4) == 0);
    }
}

TEST(sparse_ffm_saves_small_and_loads_identical) {
    pr_err err;
    pr_model *m = sparse_ffm();
    const char *path = test_path("sparse.pm");
    ASSERT_OK(pr_model_save(m, path, &err));
    char *data;
    size_t len;
    ASSERT_OK(pr_read_file(path, &data, &len, &err));
    uint8_t *b = (uint8_t *)data, *e = last_entry(b);
    ASSERT_EQ_INT(le32(e), 6);  /* weights_sparse */
    const uint64_t dense = (4 + ((uint64_t)1 << SPARSE_BITS) * 56) * 4;
    /* At most 40 touched rows of 224 bytes, each in at most 2 pages. */
    ASSERT_TRUE(len < dense / 8);
    ASSERT_TRUE(le64(e + 16) <= 16 + 15 * 8 + 16 + 80 * 4096);
    const uint8_t *pay = b + le64(e + 8);
    ASSERT_EQ_INT(le64(pay), 4 + ((uint64_t)1 << SPARSE_BITS) * 56);
    ASSERT_EQ_INT(le32(pay + 8), 1024);

    pr_model *l = NULL, *mm = NULL;
    ASSERT_OK(pr_model_load(path, &l, &err));
    ASSERT_OK(pr_model_load_mem(data, len, "mem", &mm, &err));
    assert_same_state(m, l);
    assert_same_state(m, mm);
    ASSERT_EQ_INT(pr_model_n_nonzero(l), pr_model_n_nonzero(m));
    pr_feature f[6];
    for (int i = 0; i < 50; i++) {
        /* Touched rows and, every other time, rows nobody touched. */
        if (i & 1) random_example(f, 6, 6, SPARSE_BITS); else sparse_example(f, i);
        pr_example x = ex_of(f, 6, 0);
        double a = pr_model_logit(m, &x), c = pr_model_logit(l, &x);
        double d = pr_model_logit(mm, &x);
        ASSERT_TRUE(memcmp(&a, &c, sizeof a) == 0);
        ASSERT_TRUE(memcmp(&a, &d, sizeof a) == 0);
    }
    /* Saving the loaded model gives the same bytes. */
    ASSERT_OK(pr_model_save(mm, test_path("sparse2.pm"), &err));
    ASSERT_OK(pr_model_save(m, path, &err));
    char *again, *orig;
    size_t alen, olen;
    ASSERT_OK(pr_read_file(test_path("sparse2.pm"), &again, &alen, &err));
    ASSERT_OK(pr_read_file(path, &orig, &olen, &err));
    ASSERT_TRUE(alen == olen && memcmp(again, orig, alen) == 0);
    free(again);
    free(orig);
    free(data);
    pr_model_free(mm);
    pr_model_free(l);
    pr_model_free(m);
}

TEST(sparse_lr_and_dense_lr_roundtrip) {
    pr_err err;
    /* Dense: 400 examples over 2^8 buckets touch every page. */
    pr_model *m = trained(PR_MODEL_KIND_LR, 8);
    pr_model *l = clone_model(m, "dense_lr.pm");
    char *data;
    size_t len;
    ASSERT_OK(pr_read_file(test_path("dense_lr.pm"), &data, &len, &err));
    ASSERT_EQ_INT(le32(last_entry((uint8_t *)data)), 5);  /* weights */
    ASSERT_EQ_INT(le64(last_entry((uint8_t *)data) + 16), (4 + 4 * 256) * 4);
    assert_same_state(m, l);
    free(data);
    pr_model_free(l);
    pr_model_free(m);

    /* Sparse: 2^16 buckets, a few used (one -0.0f weight must survive). */
    pr_model_params p;
    pr_model_params_default(&p, PR_MODEL_KIND_LR);
    p.hash_bits = 16;
    m = new_model(&p);
    pr_feature f[3] = {{5, 0, 1.0f}, {40000, 1, 1.0f}, {65535, 2, 1.0f}};
    for (int i = 0; i < 20; i++) {
        pr_example x = ex_of(f, 3, (float)(i & 1));
        pr_model_update(m, &x);
    }
    pr__lr_state(m, 30000)[0] = -0.0f;
    l = clone_model(m, "sparse_lr.pm");
    ASSERT_OK(pr_read_file(test_path("sparse_lr.pm"), &data, &len, &err));
    ASSERT_EQ_INT(le32(last_entry((uint8_t *)data)), 6);
    /* bias page + 4 table pages (buckets 5, 30000, 40000, 65535) */
    ASSERT_EQ_INT(le64(last_entry((uint8_t *)data) + 16), 16 + 5 * 8 + 16 + 4 * 4096);
    assert_same_state(m, l);
    ASSERT_TRUE(signbit(pr__lr_state(l, 30000)[0]));
    pr_example x = ex_of(f, 3, 0);
    double a = pr_model_logit(m, &x), c = pr_model_logit(l, &x);
    ASSERT_TRUE(memcmp(&a, &c, sizeof a) == 0);
    free(data);
    pr_model_free(l);
    pr_model_free(m);
}

TEST(sparse_corruption_is_rejected_with_its_reason) {
    pr_err err;
    pr_model *m = sparse_ffm();
    const char *path = test_path("sp.pm");
    ASSERT_OK(pr_model_save(m, path, &err));
    char *data;
    size_t len;
    ASSERT_OK(pr_read_file(path, &data, &len, &err));
    uint8_t *b = (uint8_t *)data, *e = last_entry(b);
    uint64_t off = le64(e + 8), plen = le64(e + 16);
    uint8_t *pay = b + off, *bitmap = pay + 16;
    /* 1 bias page + 896 table pages = 897 pages, 15 bitmap words. */
    uint64_t stored = 0;
    for (int i = 0; i < 15; i++) stored += (uint64_t)__builtin_popcountll(le64(bitmap + 8 * i));
    ASSERT_EQ_INT(plen, 16 + 15 * 8 + 16 + (stored - 1) * 4096);
    char want[200];

    /* A page bit flipped on (no reseal: the bitmap check comes before the
     * file checksum). Find a page that is not stored. */
    int bit = 1;
    while (bitmap[bit / 8] >> (bit % 8) & 1) bit++;
    bitmap[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    ASSERT_STATUS(load_bytes("bitflip.pm", b, len, &err), PR_ERR_FORMAT);
    snprintf(want, sizeof want,
             "bitflip.pm: weights_sparse: bitmap says %llu pages, payload holds %llu",
             (unsigned long long)(stored + 1), (unsigned long long)stored);
    ASSERT_CONTAINS(err.msg, want);
    bitmap[bit / 8] ^= (uint8_t)(1u << (bit % 8));

    /* A bit beyond the 897 pages: bit 897 % 64 = 1 of the last word. */
    bitmap[14 * 8] ^= 0x02;
    ASSERT_STATUS(load_bytes("beyond.pm", b, len, &err), PR_ERR_FORMAT);
    ASSERT_CONTAINS(err.msg,
                    "beyond.pm: weights_sparse: bitmap has bits set beyond its 897 pages");
    bitmap[14 * 8] ^= 0x02;

    /* Page data corrupt: only the file checksum can tell. */
    b[len - 100] ^= 0x40;
    ASSERT_STATUS(load_bytes("pagebit.pm", b, len, &err), PR_ERR_CHECKSUM);
    ASSERT_CONTAINS(err.msg, "pagebit.pm: checksum mismatch (file corrupt)");
    b[len - 100] ^= 0x40;
    ASSERT_OK(load_bytes("sp_ok.pm", b, len, &err));

    /* File truncated: named by the header, before any parsing. */
    ASSERT_STATUS(load_bytes("sp_short.pm", b, (size_t)off + 100, &err),
                  PR_ERR_TRUNCATED);
    snprintf(want, sizeof want,
             "sp_short.pm: truncated: expected %llu bytes of weights_sparse, "
             "file ends after 100", (unsigned long long)plen);
    ASSERT_CONTAINS(err.msg, want);

    /* Payload cut short, header and checksums consistent: the last page
     * (4096 bytes before the file checksum) taken out. */
    uint8_t *cut = malloc(len);
    memcpy(cut, b, len - 8 - 4096);
    size_t clen = len - 4096;
    set_le64(last_entry(cut) + 16, plen - 4096);
    reseal(cut, clen);
    ASSERT_STATUS(load_bytes("cut.pm", cut, clen, &err), PR_ERR_FORMAT);
    snprintf(want, sizeof want,
             "cut.pm: weights_sparse: bitmap says %llu pages, payload holds %llu",
             (unsigned long long)stored, (unsigned long long)(stored - 1));
    ASSERT_CONTAINS(err.msg, want);
    /* ... or by 10 bytes: the last page is partly there. */
    memcpy(cut, b, len - 8 - 10);
    set_le64(last_entry(cut) + 16, plen - 10);
    reseal(cut, len - 10);
    ASSERT_STATUS(load_bytes("cut10.pm", cut, len - 10, &err), PR_ERR_FORMAT);
    snprintf(want, sizeof want, "holds %llu and 4086 bytes",
             (unsigned long long)(stored - 1));
    ASSERT_CONTAINS(err.msg, want);

    /* Resealed edits of the payload head: total floats, page size, reserved. */
    memcpy(cut, b, len);
    set_le64(cut + off, 12345);
    reseal(cut, len);
    ASSERT_STATUS(load_bytes("total.pm", cut, len, &err), PR_ERR_FORMAT);
    snprintf(want, sizeof want, "total.pm: weights_sparse: 12345 floats, params imply %llu",
             (unsigned long long)(4 + ((uint64_t)1 << SPARSE_BITS) * 56));
    ASSERT_CONTAINS(err.msg, want);
    memcpy(cut, b, len);
    cut[off + 8] = 0, cut[off + 9] = 0;  /* page size 0 */
    reseal(cut, len);
    ASSERT_STATUS(load_bytes("page0.pm", cut, len, &err), PR_ERR_FORMAT);
    ASSERT_CONTAINS(err.msg, "page0.pm: weights_sparse: page size 0 floats, expected 1..16384");
    memcpy(cut, b, len);
    cut[off + 8] = 0, cut[off + 9] = 0, cut[off + 10] = 1;  /* 65536 floats */
    reseal(cut, len);
    ASSERT_STATUS(load_bytes("page64k.pm", cut, len, &err), PR_ERR_FORMAT);
    ASSERT_CONTAINS(err.msg, "page64k.pm: weights_sparse: page size 65536 floats");
    memcpy(cut, b, len);
    cut[off + 8] = 1, cut[off + 9] = 0;  /* page size 1: the bitmap is far too short */
    reseal(cut, len);
    ASSERT_STATUS(load_bytes("page1.pm", cut, len, &err), PR_ERR_FORMAT);
    ASSERT_CONTAINS(err.msg, "page1.pm: weights_sparse: section has");
    ASSERT_CONTAINS(err.msg, "too short for the bitmap of 917508 pages");
    memcpy(cut, b, len);
    cut[off + 12] = 7;
    reseal(cut, len);
    ASSERT_STATUS(load_bytes("reserved.pm", cut, len, &err), PR_ERR_FORMAT);
    ASSERT_CONTAINS(err.msg, "reserved.pm: weights_sparse: reserved field is 7, expected 0");
    free(cut);
    free(data);
    pr_model_free(m);
}

TEST(warm_start_from_sparse_file_continues_training) {
    pr_model *m = sparse_ffm();
    pr_model *l = clone_model(m, "warm_sparse.pm");
    /* A row never touched before saving is zeros after loading, and takes
     * the same initial values as in the saved model when first used (also
     * checked for the rows random_example touches first below: the states
     * end equal). */
    const uint32_t fresh_bucket = 12000;
    pr__model_block bl[PR__MODEL_MAX_BLOCKS];
    int nbl;
    state_floats(l, bl, &nbl);
    const float *raw = bl[1].ptr + (uint64_t)fresh_bucket * 56;
    for (int i = 0; i < 56; i++) ASSERT_TRUE(raw[i] == 0.0f);
    /* (pr__ffm_latent initializes the row, as training would.) */
    ASSERT_TRUE(memcmp(pr__ffm_latent(l, fresh_bucket, 2),
                       pr__ffm_latent(m, fresh_bucket, 2), 8 * sizeof(float)) == 0);
    ASSERT_TRUE(raw[2 * 8] != 0.0f);
    float touched[8];
    memcpy(touched, pr__ffm_latent(l, sparse_buckets[1], 3), sizeof touched);
    ASSERT_TRUE(memcmp(touched, pr__ffm_latent(m, sparse_buckets[1], 3),
                       sizeof touched) == 0);
    pr_feature f[6];
    for (int i = 0; i < 40; i++) {
        if (i % 4 == 3) random_example(f, 6, 6, SPARSE_BITS); else sparse_example(f, i);
        pr_example x = ex_of(f, 6, (float)(i & 1));
        double a = pr_model_update(m, &x), c = pr_model_update(l, &x);
        ASSERT_TRUE(a == c);
    }
    assert_same_state(m, l);
    /* Training moved the touched row on from its saved values. */
    ASSERT_TRUE(memcmp(touched, pr__ffm_latent(l, sparse_buckets[1], 3),
                       sizeof touched) != 0);
    pr_model_free(l);
    pr_model_free(m);
}

TEST(save_failure_leaves_existing_file_intact) {
    pr_err err;
    pr_model *m = trained(PR_MODEL_KIND_FFM, 6);
    const char *path = test_path("keep.pm");
    test_write_file(path, "previous model");
    /* Make the temporary name unusable: a folder where the file would go. */
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    ASSERT_TRUE(mkdir(tmp, 0755) == 0);
    ASSERT_STATUS(pr_model_save(m, path, &err), PR_ERR_IO);
    ASSERT_CONTAINS(err.msg, "keep.pm");
    char *data;
    size_t len;
    ASSERT_OK(pr_read_file(path, &data, &len, &err));
    ASSERT_TRUE(len == 14 && memcmp(data, "previous model", 14) == 0);
    free(data);
    rmdir(tmp);
    ASSERT_STATUS(pr_model_save(m, "/nonexistent-dir/x/model.pm", &err), PR_ERR_IO);
    ASSERT_CONTAINS(err.msg, "/nonexistent-dir/x/model.pm");
    pr_model_free(m);
}

/* ---------------------------------------------------------------- threads */

typedef struct hog_arg {
    pr_model *m;
    uint64_t seed;
} hog_arg;

/* pr_model_clone (early stopping's snapshot): a deep, independent copy. */
TEST(clone_is_deep_and_independent) {
    pr_err err;
    pr_model_kind kinds[] = {PR_MODEL_KIND_LR, PR_MODEL_KIND_FFM, PR_MODEL_KIND_FM};
    for (int k = 0; k < 3; k++) {
        pr_model *m = trained(kinds[k], 12);
        ASSERT_OK(pr_model_set_spec(m, "version: 1\n", &err));
        pr_model *c = NULL;
        ASSERT_OK(pr_model_clone(m, &c, &err));
        ASSERT_EQ_STR(pr_model_spec(c), "version: 1\n");
        pr_feature f[6];
        pr_example xs[50];
        pr_feature fs[50][6];
        for (int i = 0; i < 50; i++) {
            random_example(fs[i], 6, 6, 12);
            xs[i] = ex_of(fs[i], 6, (float)(rnd() & 1));
            ASSERT_TRUE(pr_model_logit(m, &xs[i]) == pr_model_logit(c, &xs[i]));
        }
        double before = pr_model_logit(c, &xs[0]);
        /* training the original leaves the clone as it was */
        for (int i = 0; i < 200; i++) {
            random_example(f, 6, 6, 12);
            pr_example x = ex_of(f, 6, 1.0f);
            pr_model_update(m, &x);
        }
        ASSERT_TRUE(pr_model_logit(c, &xs[0]) == before);
        ASSERT_TRUE(pr_model_logit(m, &xs[0]) != before);
        pr_model_free(c);
        pr_model_free(m);
    }
}

/* The FFM table's touched map (model_int.h): a lazily filled table's
 * never-touched pages are neither read nor copied by clone, copy and save
 * (on a kernel without the shared zero page reading them commits them), and
 * the results are the same as a full copy's. */
static uint64_t touched_pages(const pr_model *m) {
    pr__model_block b[PR__MODEL_MAX_BLOCKS];
    int nb = pr__model_blocks(m, b);
    uint64_t n = 0;
    for (int i = 0; i < nb; i++)
        for (uint64_t p = 0; p < pr__model_pages(b[i].n); p++)
            n += b[i].touched ? pr__model_page_touched(&b[i], p) : 0;
    return n;
}

static void learn_rows(pr_model *m, uint32_t first, uint32_t count, int n) {
    pr_feature f[6];
    for (int i = 0; i < n; i++) {
        for (uint32_t j = 0; j < 6; j++)
            f[j] = (pr_feature){first + (uint32_t)(rnd() % count), j, 1.0f};
        pr_example x = ex_of(f, 6, (float)(rnd() & 1));
        pr_model_update(m, &x);
    }
}

TEST(ffm_scans_skip_untouched_pages) {
    pr_err err;
    /* 2^16 rows of 7 * 2 * 4 floats: 3584 pages, an mmap'd table */
    pr_model_params p = ffm_params(16, 6, 4);
    pr_model *m = new_model(&p);
    ASSERT_TRUE(touched_pages(m) == 0);
    learn_rows(m, 0, 64, 300);               /* rows 0..63: pages 0..3 */
    uint64_t t = touched_pages(m);
    ASSERT_TRUE(t >= 1 && t <= 4);
    pr_model *c = NULL;
    ASSERT_OK(pr_model_clone(m, &c, &err));
    ASSERT_TRUE(touched_pages(c) == t);
    /* the clone learns far rows; copying m back zeroes them (their pages
     * stay marked) and the clone then scores like m everywhere */
    learn_rows(c, 60000, 64, 300);
    ASSERT_TRUE(touched_pages(c) > t);
    ASSERT_OK(pr_model_copy(c, m, &err));
    pr_feature g[6];
    for (uint32_t j = 0; j < 6; j++) g[j] = (pr_feature){60000 + j, j, 1.0f};
    pr_example far2 = ex_of(g, 6, 1.0f);
    pr_model *fresh = NULL;
    ASSERT_OK(pr_model_clone(m, &fresh, &err));
    ASSERT_TRUE(pr_model_logit(c, &far2) == pr_model_logit(fresh, &far2));
    for (uint32_t j = 0; j < 6; j++) g[j] = (pr_feature){(uint32_t)j * 7, j, 1.0f};
    pr_example near = ex_of(g, 6, 1.0f);
    ASSERT_TRUE(pr_model_logit(c, &near) == pr_model_logit(m, &near));
    /* save and load: only touched pages stored, and marked after loading */
    pr_model *l = clone_model(m, "touched.pm");
    struct stat st;
    ASSERT_TRUE(stat(test_path("touched.pm"), &st) == 0);
    ASSERT_TRUE((uint64_t)st.st_size < (t + 2) * 4096 + 4096);
    ASSERT_TRUE(touched_pages(l) == touched_pages(m));
    ASSERT_TRUE(pr_model_logit(l, &near) == pr_model_logit(m, &near));
    ASSERT_TRUE(pr_model_n_nonzero(l) == pr_model_n_nonzero(m));
    pr_model_free(l);
    pr_model_free(fresh);
    pr_model_free(c);
    pr_model_free(m);
}

static void *hog_worker(void *p) {
    hog_arg *a = p;
    uint64_t s = a->seed;
    pr_feature f[10];
    for (int i = 0; i < 3000; i++) {
        for (int j = 0; j < 10; j++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            f[j].field = (uint32_t)j;
            f[j].index = (uint32_t)(s & 31);  /* heavy collisions on purpose */
            f[j].value = 1;
        }
        pr_example x = ex_of(f, 10, (float)(s >> 63));
        pr_model_update(a->m, &x);
    }
    return NULL;
}

TEST(hogwild_updates_from_two_threads_stay_finite) {
    pr_model_kind kinds[] = {PR_MODEL_KIND_LR, PR_MODEL_KIND_FFM};
    for (int ki = 0; ki < 2; ki++) {
        pr_model_params p;
        pr_model_params_default(&p, kinds[ki]);
        p.hash_bits = 5;
        p.n_fields = 10;
        pr_model *m = new_model(&p);
        pthread_t t[2];
        hog_arg a[2] = {{m, 1}, {m, 2}};
        for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, hog_worker, &a[i]);
        for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
        pr__model_block b[PR__MODEL_MAX_BLOCKS];
        int nb;
        state_floats(m, b, &nb);
        for (int i = 0; i < nb; i++)
            for (uint64_t j = 0; j < b[i].n; j++) ASSERT_TRUE(isfinite(b[i].ptr[j]));
        pr_model_free(m);
    }
}

/* ---------------------------------------------------------------- team */

#define TEAM_N_EX 1500
#define TEAM_NF 39

typedef struct team_data {
    pr_feature f[TEAM_N_EX][TEAM_NF];
    pr_example x[TEAM_N_EX];
} team_data;

/* Examples on 39 fields of 300 values each (buckets distinct across
 * fields), with the awkward cases mixed in: fields out of order, missing
 * features, other values, a repeated field and a repeated bucket (both
 * learned by one thread), and a weight of 0 (no update). */
static void make_team_data(team_data *d) {
    for (int e = 0; e < TEAM_N_EX; e++) {
        pr_feature *f = d->f[e];
        uint32_t n = TEAM_NF;
        for (uint32_t i = 0; i < n; i++) {
            f[i].field = i;
            f[i].index = i * 300 + (uint32_t)(rnd() % 300);
            f[i].value = 1.0f;
        }
        if (e % 7 == 3)
            for (uint32_t i = n - 1; i > 0; i--) {  /* shuffled field order */
                uint32_t j = (uint32_t)(rnd() % (i + 1));
                pr_feature t = f[i];
                f[i] = f[j];
                f[j] = t;
            }
        if (e % 13 == 5) n = 20 + (uint32_t)(rnd() % 10);
        if (e % 11 == 2) f[7].value = 0.25f + (float)rnd01();
        if (e % 50 == 7) f[5].field = f[4].field;
        if (e % 50 == 17) f[9].index = f[3].index;
        float label = (f[0].index & 1) ^ (rnd01() < 0.2) ? 1.0f : 0.0f;
        d->x[e] = ex_of(f, n, label);
        if (e % 97 == 11) d->x[e].weight = 0.0f;
    }
}

typedef struct team_arg {
    pr_model_team *team;
    int ith;
    const team_data *d;
    double *z;               /* TEAM_N_EX logits out */
} team_arg;

static void *team_worker(void *p) {
    team_arg *a = p;
    for (int e = 0; e < TEAM_N_EX; e++) {
        if (e + 1 < TEAM_N_EX) pr_model_team_prefetch(a->team, a->ith, &a->d->x[e + 1]);
        a->z[e] = pr_model_update_team(a->team, a->ith, &a->d->x[e]);
    }
    pr_model_team_sync(a->team, a->ith);
    return NULL;
}

/* Trains a fresh FFM on d with a team of nth threads; z gets thread 0's
 * logits, and every thread's logits are checked to be the same. */
static pr_model *team_train(const team_data *d, int nth, double *z) {
    pr_err err;
    pr_model_params p = ffm_params(14, TEAM_NF, 4);
    pr_model *m = new_model(&p);
    ASSERT_TRUE(pr_model_supports_team(m));
    pr_model_team *team = NULL;
    ASSERT_OK(pr_model_team_new(m, nth, &team, &err));
    pthread_t tid[4];
    team_arg a[4];
    double *zs = malloc(sizeof(double) * TEAM_N_EX * (size_t)nth);
    ASSERT_TRUE(zs != NULL);
    for (int i = 0; i < nth; i++) {
        a[i] = (team_arg){team, i, d, zs + (size_t)i * TEAM_N_EX};
        ASSERT_EQ_INT(pthread_create(&tid[i], NULL, team_worker, &a[i]), 0);
    }
    for (int i = 0; i < nth; i++) pthread_join(tid[i], NULL);
    for (int i = 1; i < nth; i++)
        for (int e = 0; e < TEAM_N_EX; e++) ASSERT_TRUE(zs[e] == zs[(size_t)i * TEAM_N_EX + e]);
    memcpy(z, zs, sizeof(double) * TEAM_N_EX);
    free(zs);
    pr_model_team_free(team);
    return m;
}

/* Also covers the fallback: examples 7, 57, ... (repeated field) and 17,
 * 67, ... (repeated bucket) would give other weights if the team split
 * them (their pairs share slots, so the order of updates matters). */
TEST(ffm_team_matches_one_thread) {
    team_data *d = malloc(sizeof *d);
    double *z1 = malloc(sizeof(double) * TEAM_N_EX);
    double *zt = malloc(sizeof(double) * TEAM_N_EX);
    double *zt2 = malloc(sizeof(double) * TEAM_N_EX);
    ASSERT_TRUE(d && z1 && zt && zt2);
    make_team_data(d);

    /* the reference: one thread, the plain update */
    pr_model_params p = ffm_params(14, TEAM_NF, 4);
    pr_model *ref = new_model(&p);
    for (int e = 0; e < TEAM_N_EX; e++) z1[e] = pr_model_update(ref, &d->x[e]);
    pr__model_block br[PR__MODEL_MAX_BLOCKS], bt[PR__MODEL_MAX_BLOCKS];
    int nbr, nbt;
    uint64_t nr = state_floats(ref, br, &nbr);

    /* a team of 1 runs the team code path and equals it bit for bit */
    pr_model *one = team_train(d, 1, zt);
    for (int e = 0; e < TEAM_N_EX; e++) ASSERT_TRUE(zt[e] == z1[e]);
    ASSERT_EQ_INT(state_floats(one, bt, &nbt), nr);
    for (int i = 0; i < nbr; i++)
        ASSERT_TRUE(memcmp(br[i].ptr, bt[i].ptr, br[i].n * sizeof(float)) == 0);
    pr_model_free(one);

    /* teams of 2 and 3: the same up to the pair sum's order, and the same
     * bits on a second run (no dependence on timing) */
    for (int nth = 2; nth <= 3; nth++) {
        pr_model *a = team_train(d, nth, zt);
        pr_model *b = team_train(d, nth, zt2);
        double worst = 0;
        for (int e = 0; e < TEAM_N_EX; e++) {
            ASSERT_NEAR(zt[e], z1[e], 1e-5 * fabs(z1[e]) + 1e-6);
            worst = fmax(worst, fabs(zt[e] - z1[e]));
            ASSERT_TRUE(zt[e] == zt2[e]);
        }
        ASSERT_EQ_INT(state_floats(a, bt, &nbt), nr);
        for (int i = 0; i < nbr; i++) assert_close_arrays(br[i].ptr, bt[i].ptr, br[i].n, 1e-4);
        pr__model_block bb[PR__MODEL_MAX_BLOCKS];
        int nbb;
        state_floats(b, bb, &nbb);
        for (int i = 0; i < nbt; i++)
            ASSERT_TRUE(memcmp(bt[i].ptr, bb[i].ptr, bt[i].n * sizeof(float)) == 0);
        fprintf(stderr, "   team of %d: largest logit difference %.3g\n", nth, worst);
        pr_model_free(a);
        pr_model_free(b);
    }

    pr_model_free(ref);
    free(d);
    free(z1);
    free(zt);
    free(zt2);
}

/* Teams and hot replicas are FFM's: LR and FM say so by name. */
TEST(team_and_hot_are_ffm_only_and_check_their_arguments) {
    pr_err err;
    pr_model_team *team = NULL;
    pr_model_hot *h = NULL;
    uint32_t b[2] = {1, 2};
    pr_model_kind kinds[2] = {PR_MODEL_KIND_LR, PR_MODEL_KIND_FM};
    for (int i = 0; i < 2; i++) {
        pr_model_params p;
        pr_model_params_default(&p, kinds[i]);
        p.hash_bits = 10;
        pr_model *m = new_model(&p);
        ASSERT_EQ_INT(pr_model_supports_team(m), 0);
        ASSERT_STATUS(pr_model_team_new(m, 2, &team, &err), PR_ERR_UNSUPPORTED);
        ASSERT_TRUE(team == NULL);
        ASSERT_CONTAINS(err.msg, pr_model_kind_name(kinds[i]));
        ASSERT_EQ_INT(pr_model_supports_hot(m), 0);
        ASSERT_STATUS(pr_model_hot_new(m, 2, b, 2, &h, &err), PR_ERR_UNSUPPORTED);
        ASSERT_TRUE(h == NULL);
        ASSERT_CONTAINS(err.msg, pr_model_kind_name(kinds[i]));
        pr_model_free(m);
    }
    pr_model_params p = ffm_params(10, 4, 4);
    pr_model *m = new_model(&p);
    ASSERT_STATUS(pr_model_team_new(m, 0, &team, &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "team size");
    pr_model_team_free(NULL);
    ASSERT_EQ_INT(pr_model_supports_hot(m), 1);
    ASSERT_STATUS(pr_model_hot_new(m, 0, b, 2, &h, &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "threads");
    ASSERT_STATUS(pr_model_hot_new(m, 2, b, 65537, &h, &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "65536");
    ASSERT_TRUE(h == NULL);
    ASSERT_OK(pr_model_hot_new(m, 2, NULL, 0, &h, &err)); /* the bias alone */
    pr_model_hot_free(h);
    pr_model_hot_free(NULL);
    pr_model_free(m);
}

/* ---------------------------------------------------------------- hot replicas */

/* Buckets of make_team_data's examples: field i's values are buckets
 * i * 300 .. i * 300 + 299. */
#define HOT_ALL_BUCKETS (TEAM_NF * 300)

/* The buckets of the first `per_field` values of every field. */
static uint32_t hot_some_buckets(uint32_t *out, uint32_t per_field) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < TEAM_NF; i++)
        for (uint32_t v = 0; v < per_field; v++) out[n++] = i * 300 + v;
    return n;
}

/* make_team_data's examples, and room for HOT_ALL_BUCKETS buckets in
 * *hot; free both. */
static team_data *hot_data(uint32_t **hot) {
    team_data *d = malloc(sizeof *d);
    *hot = malloc(sizeof(uint32_t) * HOT_ALL_BUCKETS);
    ASSERT_TRUE(d && *hot);
    make_team_data(d);
    return d;
}

/* The whole row of bucket b (initialized first, as training would). */
static const float *ffm_row(pr_model *m, uint32_t b) {
    return pr__ffm_latent(m, b, 0);
}

TEST(ffm_hot_one_thread_matches_update) {
    uint32_t *hot;
    team_data *d = hot_data(&hot);
    pr_model_params p = ffm_params(14, TEAM_NF, 4);
    pr_model *ref = new_model(&p), *m = new_model(&p);
    /* hot: a few values of each field, given twice and unmasked (the
     * replicas mask them and keep each once), plus buckets no example has */
    uint32_t n = hot_some_buckets(hot, 5);
    for (uint32_t i = 0; i < 20; i++) hot[n++] = hot[i] + (1u << 14);
    hot[n++] = 16000;
    pr_model_hot *h = NULL;
    pr_err err;
    ASSERT_OK(pr_model_hot_new(m, 1, hot, n, &h, &err));
    for (int e = 0; e < TEAM_N_EX; e++) {
        double z1 = pr_model_update(ref, &d->x[e]);
        if (e + 1 < TEAM_N_EX) pr_model_hot_prefetch(h, 0, &d->x[e + 1]);
        double zh = pr_model_update_hot(h, 0, &d->x[e]);
        ASSERT_TRUE(z1 == zh);
        if (e % 37 == 36) pr_model_hot_flush(h, 0);
    }
    pr_model_hot_flush(h, 0);
    pr_model_hot_free(h);
    /* the shared model now holds exactly what the plain update gives (the
     * replicas initialized their rows up front: a row's initial values are
     * the same whenever it is initialized, so do the same in ref) */
    for (uint32_t i = 0; i < n; i++) (void)ffm_row(ref, hot[i]);
    pr__model_block br[PR__MODEL_MAX_BLOCKS], bm[PR__MODEL_MAX_BLOCKS];
    int nbr, nbm;
    ASSERT_EQ_INT(state_floats(m, bm, &nbm), state_floats(ref, br, &nbr));
    for (int i = 0; i < nbr; i++)
        ASSERT_TRUE(memcmp(br[i].ptr, bm[i].ptr, br[i].n * sizeof(float)) == 0);
    pr_model_free(ref);
    pr_model_free(m);
    free(hot);
    free(d);
}

/* Two replicas learning disjoint halves without seeing each other: after
 * both flush, the model is the start plus both changes, every float (bias
 * included) exactly as the flush's arithmetic gives it from two models
 * that each learned one half alone. */
TEST(ffm_hot_flush_adds_each_threads_changes) {
    uint32_t *hot;
    team_data *d = hot_data(&hot);
    pr_model_params p = ffm_params(14, TEAM_NF, 4);
    pr_model *m = new_model(&p), *ra = new_model(&p), *rb = new_model(&p),
             *s0 = new_model(&p);
    uint32_t n = hot_some_buckets(hot, 300);
    pr_model_hot *h = NULL;
    pr_err err;
    ASSERT_OK(pr_model_hot_new(m, 2, hot, n, &h, &err));
    const int half = TEAM_N_EX / 2;
    for (int e = 0; e < half; e++) {
        ASSERT_TRUE(pr_model_update_hot(h, 0, &d->x[e]) == pr_model_update(ra, &d->x[e]));
        ASSERT_TRUE(pr_model_update_hot(h, 1, &d->x[half + e]) ==
                    pr_model_update(rb, &d->x[half + e]));
    }
    /* nothing reached the shared model yet */
    const float *m0 = ffm_row(m, d->x[0].f[0].index), *i0 = ffm_row(s0, d->x[0].f[0].index);
    ASSERT_TRUE(memcmp(m0, i0, p.n_fields * 8 * sizeof(float)) == 0);
    pr_model_hot_flush(h, 0);
    pr_model_hot_flush(h, 1);
    const uint64_t rf = (uint64_t)(p.n_fields + 1) * 8;
    uint64_t summed = 0;
    for (uint32_t b = 0; b < HOT_ALL_BUCKETS; b++) {
        const float *rm = ffm_row(m, b), *a = ffm_row(ra, b), *bb = ffm_row(rb, b),
                    *z = ffm_row(s0, b);
        for (uint64_t k = 0; k < rf; k++) {
            float want = a[k] == z[k] ? bb[k] : a[k] + (bb[k] - z[k]);
            if (rm[k] != want)
                TEST_FAIL("bucket %u float %llu: %.9g, want %.9g", b, (unsigned long long)k,
                          rm[k], want);
            summed += a[k] != z[k] && bb[k] != z[k];
        }
    }
    ASSERT_TRUE(summed > 1000);  /* most changed floats were changed by both */
    const float *bm = pr__ffm_bias(m), *ba = pr__ffm_bias(ra), *bB = pr__ffm_bias(rb),
                *bz = pr__ffm_bias(s0);
    for (int k = 0; k < 2; k++) ASSERT_TRUE(bm[k] == ba[k] + (bB[k] - bz[k]));
    /* thread 1 flushed last, so its copy is the merged model; thread 0
     * takes thread 1's changes at its next flush, adding nothing */
    const pr_example *x = &d->x[3];
    double want = pr_model_logit(m, x);
    ASSERT_TRUE(pr_model_update_hot(h, 1, x) == want);
    pr_model_hot_flush(h, 0);
    ASSERT_TRUE(pr_model_logit(m, x) == want);
    ASSERT_TRUE(pr_model_update_hot(h, 0, x) == want);
    pr_model_hot_free(h);
    pr_model_free(m);
    pr_model_free(ra);
    pr_model_free(rb);
    pr_model_free(s0);
    free(hot);
    free(d);
}

typedef struct hot_arg {
    pr_model_hot *h;
    int ith;
    const team_data *d;
} hot_arg;

static void *hot_worker(void *p) {
    hot_arg *a = p;
    for (int pass = 0; pass < 3; pass++)
        for (int e = a->ith; e < TEAM_N_EX; e += 2) {
            pr_model_update_hot(a->h, a->ith, &a->d->x[e]);
            if (e % 64 == a->ith) pr_model_hot_flush(a->h, a->ith);
        }
    pr_model_hot_flush(a->h, a->ith);
    return NULL;
}

/* Two threads at once (Hogwild on the cold half of the buckets, replicas
 * of the hot half, flushing concurrently): the model learns the data as
 * well as one thread does. */
TEST(ffm_hot_two_threads_learn_like_one) {
    uint32_t *hot;
    team_data *d = hot_data(&hot);
    pr_model_params p = ffm_params(14, TEAM_NF, 4);
    pr_model *ref = new_model(&p), *m = new_model(&p);
    double before = 0, loss1 = 0, loss2 = 0;
    for (int e = 0; e < TEAM_N_EX; e++) before += model_loss(m, &d->x[e]);
    for (int pass = 0; pass < 3; pass++)
        for (int e = 0; e < TEAM_N_EX; e++) pr_model_update(ref, &d->x[e]);
    pr_model_hot *h = NULL;
    pr_err err;
    ASSERT_OK(pr_model_hot_new(m, 2, hot, hot_some_buckets(hot, 150), &h, &err));
    pthread_t t[2];
    hot_arg a[2];
    for (int i = 0; i < 2; i++) {
        a[i] = (hot_arg){h, i, d};
        ASSERT_TRUE(pthread_create(&t[i], NULL, hot_worker, &a[i]) == 0);
    }
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    pr_model_hot_free(h);
    for (int e = 0; e < TEAM_N_EX; e++) {
        loss1 += model_loss(ref, &d->x[e]);
        loss2 += model_loss(m, &d->x[e]);
    }
    fprintf(stderr, "   mean log loss: start %.4f, one thread %.4f, two with replicas %.4f\n",
            before / TEAM_N_EX, loss1 / TEAM_N_EX, loss2 / TEAM_N_EX);
    ASSERT_TRUE(loss2 < 0.8 * before);
    ASSERT_NEAR(loss2, loss1, 0.05 * loss1);
    pr_model_free(ref);
    pr_model_free(m);
    free(hot);
    free(d);
}

int main(void) {
    RUN(kind_names_and_params_check);
    RUN(ftrl_step_matches_hand_computation);
    RUN(ftrl_strong_l1_gives_true_zeros_and_bias_keeps_base_rate);
    RUN(recalibration_for_negative_downsampling);
    RUN(bad_features_are_ignored_or_masked);
    RUN(ffm_gradient_matches_finite_differences);
    RUN(ffm_simd_agrees_with_scalar);
    RUN(ffm_init_is_seeded_and_in_range);
    RUN(ffm_lazy_init_is_order_independent);
    RUN(prefetch_changes_nothing);
    RUN(training_reduces_log_loss);
    RUN(save_load_roundtrip_is_bitwise);
    RUN(corrupt_files_are_rejected_with_their_reason);
    RUN(warm_start_continues_from_saved_state);
    RUN(sparse_ffm_saves_small_and_loads_identical);
    RUN(sparse_lr_and_dense_lr_roundtrip);
    RUN(sparse_corruption_is_rejected_with_its_reason);
    RUN(warm_start_from_sparse_file_continues_training);
    RUN(save_failure_leaves_existing_file_intact);
    RUN(hogwild_updates_from_two_threads_stay_finite);
    RUN(clone_is_deep_and_independent);
    RUN(ffm_scans_skip_untouched_pages);
    RUN(ffm_team_matches_one_thread);
    RUN(team_and_hot_are_ffm_only_and_check_their_arguments);
    RUN(ffm_hot_one_thread_matches_update);
    RUN(ffm_hot_flush_adds_each_threads_changes);
    RUN(ffm_hot_two_threads_learn_like_one);
    TEST_MAIN_END();
}
