/*
 * test_train.c: pr_train end to end on small generated Criteo-layout files:
 * both paths (streaming single pass, cache + passes) learn, are reproducible
 * with one thread, early stopping keeps the best pass's model (not the
 * last), and the stored filter sends rare features to the rare bucket.
 */
#include <math.h>

#include "pronto/train.h"
#include "test.h"

static uint64_t rng = 88172645463325252ULL;
static double rnd01(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) * 0x1.0p-53;
}

/* Rows whose label depends on C1, C2 and the pair (C3, C4); I1 is noise.
 * C26 is a fresh token in every row: always below min_count. */
static void write_data(const char *path, int rows) {
    FILE *f = fopen(path, "w");
    ASSERT_TRUE(f != NULL);
    static int serial;
    for (int r = 0; r < rows; r++) {
        int c1 = (int)(rnd01() * 20), c2 = (int)(rnd01() * 6), c3 = (int)(rnd01() * 4),
            c4 = (int)(rnd01() * 4);
        double z = -1.0 + (c1 % 4 == 0 ? 1.5 : -0.5) + (c2 < 2 ? 1.0 : -0.3) +
                   (c3 == c4 ? 1.2 : -0.4);
        int y = rnd01() < 1 / (1 + exp(-z));
        fprintf(f, "%d\t%d", y, (int)(rnd01() * 50));
        for (int i = 2; i <= 13; i++) fprintf(f, "\t");
        fprintf(f, "\ta%d\tb%d\tc%d\td%d", c1, c2, c3, c4);
        for (int i = 5; i <= 25; i++) fprintf(f, "\tx");
        fprintf(f, "\tu%d\n", serial++);
    }
    fclose(f);
}

typedef struct eval_ctx {
    const pr_model *m;
    pr_metrics *metrics;
} eval_ctx;

static pr_status eval_one(void *v, pr_example *x, const pr_record *rec, pr_err *err) {
    eval_ctx *c = v;
    return pr_metrics_add(c->metrics, pr_model_predict(c->m, x), x->label, 1.0f);
}

static pr_metrics_report evaluate(const pr_model *m, const char *path) {
    pr_err err;
    pr_spec *spec = NULL;
    pr_featurizer *fz = NULL;
    const char *y = pr_model_spec(m);
    ASSERT_OK(pr_spec_parse(y, strlen(y), "model", &spec, &err));
    ASSERT_OK(pr_featurizer_new(spec, &fz, &err));
    eval_ctx c = {m, NULL};
    ASSERT_OK(pr_metrics_new(&c.metrics, &err));
    pr_input in = {PR_FORMAT_CRITEO, &path, 1};
    uint64_t bad = 0;
    ASSERT_OK(pr_featurize_inputs(fz, spec, pr_model_filter(m), &in, 0, 0, &bad, eval_one, &c,
                                  &err));
    pr_metrics_report r;
    ASSERT_OK(pr_metrics_compute(c.metrics, &r, &err));
    pr_metrics_free(c.metrics);
    pr_featurizer_free(fz);
    pr_spec_free(spec);
    return r;
}

static const char *SPEC =
    "version: 1\nhash_bits: 16\nseed: 0\nmin_count: 3\ninput: {format: criteo}\n"
    "fields:\n"
    "  - {name: I1, type: numeric, transform: log_bucket}\n"
    "  - {name: C1, type: categorical}\n  - {name: C2, type: categorical}\n"
    "  - {name: C3, type: categorical}\n  - {name: C4, type: categorical}\n"
    "  - {name: C26, type: categorical}\n";

/* Trains a fresh model of kind on train (optionally validating on valid). */
static int use_team;  /* pr_train_opts.team for the next train() */

static pr_model *train(pr_model_kind kind, const char *train_path, const char *valid,
                       int passes, int threads, pr_train_report *rep) {
    pr_err err;
    pr_spec *spec = NULL;
    pr_featurizer *fz = NULL;
    ASSERT_OK(pr_spec_parse(SPEC, strlen(SPEC), "spec", &spec, &err));
    ASSERT_OK(pr_featurizer_new(spec, &fz, &err));
    pr_model_params p;
    pr_model_params_default(&p, kind);
    p.hash_bits = pr_featurizer_hash_bits(fz);
    p.n_fields = pr_featurizer_n_fields(fz);
    if (kind == PR_MODEL_KIND_FFM) p.eta = 0.3f;
    pr_model *m = NULL;
    ASSERT_OK(pr_model_new(&p, &m, &err));
    pr_train_opts o;
    pr_train_opts_default(&o);
    o.threads = threads;
    o.passes = passes;
    o.valid_path = valid;
    o.early_stop = 3;
    o.team = use_team;
    o.out_path = test_path("model.pm");
    pr_input in = {PR_FORMAT_CRITEO, &train_path, 1};
    ASSERT_OK(pr_train(&m, fz, &in, &o, rep, &err));
    pr_featurizer_free(fz);
    pr_spec_free(spec);
    return m;
}

TEST(streaming_single_pass_learns_and_is_reproducible) {
    const char *tr = test_path("train.tsv"), *te = test_path("test.tsv");
    write_data(tr, 20000);
    write_data(te, 5000);
    pr_train_report rep;
    pr_model *a = train(PR_MODEL_KIND_LR, tr, NULL, 1, 1, &rep);
    ASSERT_EQ_INT(rep.streamed, 1);
    ASSERT_EQ_INT(rep.rows_read, 20000);
    ASSERT_TRUE(rep.train_logloss < 0.69);
    pr_metrics_report ra = evaluate(a, te);
    ASSERT_TRUE(ra.auc > 0.70);
    pr_model *b = train(PR_MODEL_KIND_LR, tr, NULL, 1, 1, &rep);
    pr_metrics_report rb = evaluate(b, te);
    ASSERT_TRUE(ra.log_loss == rb.log_loss); /* bit for bit */
    /* two learner threads: same data, nearly the same model */
    pr_model *c = train(PR_MODEL_KIND_LR, tr, NULL, 1, 2, &rep);
    pr_metrics_report rc = evaluate(c, te);
    ASSERT_NEAR(rc.log_loss, ra.log_loss, 0.01);
    pr_model_free(a);
    pr_model_free(b);
    pr_model_free(c);
}

TEST(rare_features_use_the_rare_bucket) {
    /* C26 is unique per row: never admitted, so the model's filter bitmap
     * has none of its buckets, while C1's values (seen ~1000 times) are. */
    const char *tr = test_path("train.tsv");
    pr_train_report rep;
    pr_model *m = train(PR_MODEL_KIND_LR, tr, NULL, 1, 1, &rep);
    const uint64_t *bits = pr_model_filter(m);
    ASSERT_TRUE(bits != NULL);
    pr_err err;
    pr_spec *spec = NULL;
    pr_featurizer *fz = NULL;
    ASSERT_OK(pr_spec_parse(SPEC, strlen(SPEC), "spec", &spec, &err));
    ASSERT_OK(pr_featurizer_new(spec, &fz, &err));
    pr_record rec;
    memset(&rec, 0, sizeof rec);
    rec.label = 1;
    rec.has_label = 1;
    rec.weight = 1;
    rec.file = "t";
    const char *all[] = {"I1", "C1", "C2", "C3", "C4", "C26"};
    pr_bytes allv[6] = {{"", 0}, {"a4", 2}, {"b1", 2}, {"c1", 2}, {"d1", 2}, {"u123", 4}};
    ASSERT_OK(pr_featurizer_bind(fz, all, 6, &err));
    rec.n_cols = 6;
    rec.cols = allv;
    pr_arena arena;
    pr_arena_init(&arena, NULL, 0, 0);
    pr_example x;
    ASSERT_OK(pr_featurizer_apply(fz, &rec, &arena, &x, &err));
    uint32_t c1 = 0, c26 = 0;
    for (uint32_t i = 0; i < x.n; i++) {
        if (!strcmp(pr_featurizer_field_name(fz, x.f[i].field), "C1")) c1 = x.f[i].index;
        if (!strcmp(pr_featurizer_field_name(fz, x.f[i].field), "C26")) c26 = x.f[i].index;
    }
    ASSERT_TRUE(bits[c1 >> 6] >> (c1 & 63) & 1);
    ASSERT_TRUE(!(bits[c26 >> 6] >> (c26 & 63) & 1));
    pr_featurizer_apply_filter(fz, bits, &x);
    for (uint32_t i = 0; i < x.n; i++)
        if (!strcmp(pr_featurizer_field_name(fz, x.f[i].field), "C26"))
            ASSERT_EQ_INT(x.f[i].index, pr_featurizer_rare_index(fz, x.f[i].field));
    pr_arena_free(&arena);
    pr_featurizer_free(fz);
    pr_spec_free(spec);
    pr_model_free(m);
}

TEST(online_admission_counts_and_honours_known_buckets) {
    /* min_count 3: a feature goes to the rare bucket on its first two
     * sightings and is itself from the third on; a bucket the model already
     * admitted (warm start) is itself from the first. */
    pr_err err;
    pr_spec *spec = NULL;
    pr_featurizer *fz = NULL;
    ASSERT_OK(pr_spec_parse(SPEC, strlen(SPEC), "spec", &spec, &err));
    ASSERT_OK(pr_featurizer_new(spec, &fz, &err));
    pr_count_filter *cf = NULL;
    ASSERT_OK(pr_count_filter_new(16, 3, &cf, &err));
    uint32_t rare = pr_featurizer_rare_index(fz, 1);
    pr_feature f = {12345, 1, 1.0f};
    pr_example x = {1, 1, 0, 1, &f};
    for (int seen = 1; seen <= 4; seen++) {
        f.index = 12345;
        pr_count_filter_add_admit(cf, fz, NULL, &x);
        ASSERT_EQ_INT(f.index, seen < 3 ? rare : 12345);
    }
    uint64_t known[1024] = {0};
    known[777 >> 6] |= (uint64_t)1 << (777 & 63);
    f.index = 777;
    pr_count_filter_add_admit(cf, fz, known, &x);
    ASSERT_EQ_INT(f.index, 777);
    f.index = 778;
    pr_count_filter_add_admit(cf, fz, known, &x);
    ASSERT_EQ_INT(f.index, rare);
    pr_count_filter_free(cf);
    pr_featurizer_free(fz);
    pr_spec_free(spec);
}

TEST(cache_passes_learn_and_are_reproducible) {
    const char *tr = test_path("train.tsv"), *te = test_path("test.tsv");
    pr_train_report rep;
    pr_model *a = train(PR_MODEL_KIND_FFM, tr, NULL, 3, 1, &rep);
    ASSERT_EQ_INT(rep.streamed, 0);
    ASSERT_EQ_INT(rep.passes_run, 3);
    ASSERT_EQ_INT(rep.example_passes, 60000);
    pr_model *b = train(PR_MODEL_KIND_FFM, tr, NULL, 3, 1, &rep);
    pr_metrics_report ra = evaluate(a, te), rb = evaluate(b, te);
    ASSERT_TRUE(ra.auc > 0.70);
    ASSERT_TRUE(ra.log_loss == rb.log_loss);
    pr_model_free(a);
    pr_model_free(b);
}

TEST(ffm_with_two_threads_is_reproducible_and_matches_one) {
    /* As a team (--team), threads work on one example at a time: no races,
     * so two runs give the same bits and one thread nearly so. */
    const char *tr = test_path("train.tsv"), *te = test_path("test.tsv");
    pr_train_report rep;
    use_team = 1;
    pr_model *a = train(PR_MODEL_KIND_FFM, tr, NULL, 2, 2, &rep);
    pr_model *b = train(PR_MODEL_KIND_FFM, tr, NULL, 2, 2, &rep);
    use_team = 0;
    pr_model *c = train(PR_MODEL_KIND_FFM, tr, NULL, 2, 1, &rep);
    /* Hogwild: not bit-reproducible, but it learns the same model */
    pr_model *d = train(PR_MODEL_KIND_FFM, tr, NULL, 2, 2, &rep);
    pr_metrics_report rd = evaluate(d, te);
    pr_model_free(d);
    pr_metrics_report ra = evaluate(a, te), rb = evaluate(b, te), rc = evaluate(c, te);
    ASSERT_TRUE(ra.log_loss == rb.log_loss);
    ASSERT_NEAR(ra.log_loss, rc.log_loss, 1e-4);
    ASSERT_NEAR(rd.log_loss, rc.log_loss, 0.01);
    ASSERT_TRUE(ra.auc > 0.70);
    pr_model_free(a);
    pr_model_free(b);
    pr_model_free(c);
}

TEST(early_stopping_keeps_the_best_pass) {
    /* A tiny training set and many passes overfit: validation log loss
     * turns up, training stops, and the model kept is the best pass's --
     * re-evaluating it gives exactly the reported validation log loss. */
    const char *tr = test_path("small.tsv"), *va = test_path("valid.tsv");
    write_data(tr, 600);
    write_data(va, 3000);
    pr_train_report rep;
    pr_model *m = train(PR_MODEL_KIND_FFM, tr, va, 40, 1, &rep);
    ASSERT_TRUE(rep.passes_run < 40);
    ASSERT_TRUE(rep.best_pass < rep.passes_run);
    pr_metrics_report r = evaluate(m, va);
    ASSERT_NEAR(r.log_loss, rep.valid_logloss, 1e-12);
    pr_model_free(m);
}

int main(void) {
    RUN(streaming_single_pass_learns_and_is_reproducible);
    RUN(rare_features_use_the_rare_bucket);
    RUN(online_admission_counts_and_honours_known_buckets);
    RUN(cache_passes_learn_and_are_reproducible);
    RUN(ffm_with_two_threads_is_reproducible_and_matches_one);
    RUN(early_stopping_keeps_the_best_pass);
    TEST_MAIN_END();
}
