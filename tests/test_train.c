/*
 * test_train.c: pr_train end to end on small generated Criteo-layout files:
 * both paths (streaming single pass, cache + passes) learn, are reproducible
 * with one thread, early stopping keeps the best pass's model (not the
 * last), and the stored filter sends rare features to the rare bucket;
 * training from records in memory (pr_train_records) gives the model the
 * same rows in a file give.
 */
#include <math.h>

#include "pronto/cache.h"
#include "pronto/train.h"
#include "test.h"
#include "train/train_int.h"

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

static int use_team;  /* pr_train_opts.team for the next train() */

/* SPEC parsed, its featurizer, and a fresh model of kind sized for it. */
static pr_model *fresh_model(pr_model_kind kind, pr_spec **spec, pr_featurizer **fz) {
    pr_err err;
    ASSERT_OK(pr_spec_parse(SPEC, strlen(SPEC), "spec", spec, &err));
    ASSERT_OK(pr_featurizer_new(*spec, fz, &err));
    pr_model_params p;
    pr_model_params_default(&p, kind);
    p.hash_bits = pr_featurizer_hash_bits(*fz);
    p.n_fields = pr_featurizer_n_fields(*fz);
    if (kind == PR_MODEL_KIND_FFM) p.eta = 0.3f;
    pr_model *m = NULL;
    ASSERT_OK(pr_model_new(&p, &m, &err));
    return m;
}

/* Trains a fresh model of kind on train (optionally validating on valid). */
static pr_model *train(pr_model_kind kind, const char *train_path, const char *valid,
                       int passes, int threads, pr_train_report *rep) {
    pr_err err;
    pr_spec *spec = NULL;
    pr_featurizer *fz = NULL;
    pr_model *m = fresh_model(kind, &spec, &fz);
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
    ASSERT_EQ_INT(rep.hot_rows, -1);  /* LR has no hot replicas */
    pr_model_free(a);
    pr_model_free(b);
    pr_model_free(c);
    /* FFM on two learner threads copies the hot rows picked from the first
     * batch, and learns as one thread does */
    pr_model *f1 = train(PR_MODEL_KIND_FFM, tr, NULL, 1, 1, &rep);
    ASSERT_EQ_INT(rep.hot_rows, -1);
    pr_model *f2 = train(PR_MODEL_KIND_FFM, tr, NULL, 1, 2, &rep);
    ASSERT_EQ_INT(rep.streamed, 1);
    ASSERT_TRUE(rep.hot_rows > 0 && rep.hot_rows <= PR_TRAIN_HOT_ROWS);
    ASSERT_EQ_INT(rep.example_passes, 20000);
    pr_metrics_report r1 = evaluate(f1, te), r2 = evaluate(f2, te);
    fprintf(stderr, "   ffm streamed: one thread %.5f, two with %lld hot rows %.5f\n",
            r1.log_loss, (long long)rep.hot_rows, r2.log_loss);
    ASSERT_NEAR(r2.log_loss, r1.log_loss, 0.01);
    pr_model_free(f1);
    pr_model_free(f2);
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
    fprintf(stderr, "   log loss: one thread %.5f, hogwild %.5f\n", rc.log_loss, rd.log_loss);
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

/* ------------------------------------------------------------ records */

/* A Criteo file held in memory as cells, served by a pr_record_source. */
typedef struct mem_rows {
    char *text;            /* the file, cut into cells in place */
    pr_bytes *cells;       /* n rows x 39 (I1..I13, C1..C26) */
    float *label;
    size_t n, i;
    int rewinds;
    size_t bad_row;        /* 1-based row whose label is made 2, 0: none */
} mem_rows;

static const char *const criteo_cols[39] = {
    "I1",  "I2",  "I3",  "I4",  "I5",  "I6",  "I7",  "I8",  "I9",  "I10", "I11", "I12", "I13",
    "C1",  "C2",  "C3",  "C4",  "C5",  "C6",  "C7",  "C8",  "C9",  "C10", "C11", "C12", "C13",
    "C14", "C15", "C16", "C17", "C18", "C19", "C20", "C21", "C22", "C23", "C24", "C25", "C26"};

static void mem_rows_load(mem_rows *m, const char *path) {
    memset(m, 0, sizeof *m);
    size_t len;
    m->text = test_read_file(path, &len);
    size_t lines = 0;
    for (size_t k = 0; k < len; k++) lines += m->text[k] == '\n';
    m->cells = malloc(lines * 39 * sizeof *m->cells);
    m->label = malloc(lines * sizeof *m->label);
    ASSERT_TRUE(m->cells && m->label);
    char *p = m->text;
    for (; m->n < lines; m->n++) {
        char *nl = strchr(p, '\n');
        *nl = '\0';
        m->label[m->n] = (float)(p[0] - '0');
        char *f = strchr(p, '\t') + 1;
        for (int c = 0; c < 39; c++) {
            char *t = c < 38 ? strchr(f, '\t') : nl;
            m->cells[m->n * 39 + (size_t)c] = pr_bytes_of(f, (size_t)(t - f));
            f = t + 1;
        }
        p = nl + 1;
    }
}

static pr_status mem_rewind(void *user, pr_err *err) {
    mem_rows *m = user;
    m->i = 0;
    m->rewinds++;
    return PR_OK;
}

static pr_status mem_next(void *user, pr_record *rec, pr_err *err) {
    mem_rows *m = user;
    if (m->i == m->n) return PR_EOF;
    ASSERT_TRUE(rec->weight == 1.0f && rec->has_label == 1 && rec->label == 0 && !rec->cols);
    rec->cols = m->cells + m->i * 39;
    rec->n_cols = 39;
    rec->label = m->label[m->i];
    if (m->bad_row && m->i + 1 == m->bad_row) rec->label = 2;
    m->i++;
    return PR_OK;
}

static pr_model *train_records(mem_rows *tr, mem_rows *va, int passes, pr_train_report *rep,
                               pr_train_opts *o_over, pr_status want, pr_err *err_out) {
    pr_err err;
    pr_spec *spec = NULL;
    pr_featurizer *fz = NULL;
    pr_model *m = fresh_model(PR_MODEL_KIND_LR, &spec, &fz);
    pr_train_opts o;
    pr_train_opts_default(&o);
    o.threads = 1;
    o.passes = passes;
    o.early_stop = 3;
    o.out_path = test_path("records.pm");
    if (o_over) o = *o_over;
    pr_record_source src = {"mem", criteo_cols, 39, mem_rewind, mem_next, tr};
    pr_record_source vsrc = {"mem-valid", criteo_cols, 39, mem_rewind, mem_next, va};
    pr_status s = pr_train_records(&m, fz, &src, va ? &vsrc : NULL, &o, rep, &err);
    if (want != PR_OK) {
        ASSERT_EQ_INT(s, want);
        *err_out = err;
        pr_model_free(m);
        m = NULL;
    } else {
        ASSERT_OK(s);
    }
    pr_featurizer_free(fz);
    pr_spec_free(spec);
    return m;
}

TEST(records_from_memory_train_like_the_file) {
    const char *tr = test_path("rec-train.tsv"), *va = test_path("rec-valid.tsv"),
               *te = test_path("rec-test.tsv");
    write_data(tr, 8000);
    write_data(va, 2000);
    write_data(te, 2000);
    mem_rows mt, mv;
    mem_rows_load(&mt, tr);
    mem_rows_load(&mv, va);
    ASSERT_EQ_INT(mt.n, 8000);
    /* one pass, streamed */
    pr_train_report rf, rm;
    pr_model *file = train(PR_MODEL_KIND_LR, tr, NULL, 1, 1, &rf);
    pr_model *mem = train_records(&mt, NULL, 1, &rm, NULL, PR_OK, NULL);
    ASSERT_EQ_INT(rm.streamed, 1);
    ASSERT_EQ_INT(rm.rows_read, rf.rows_read);
    ASSERT_EQ_INT(mt.rewinds, 1);
    ASSERT_TRUE(evaluate(mem, te).log_loss == evaluate(file, te).log_loss); /* bit for bit */
    ASSERT_CONTAINS(pr_model_info(mem), "\"source\": \"mem\"");
    pr_model_free(file);
    pr_model_free(mem);
    /* passes through the cache, validation records, early stopping */
    file = train(PR_MODEL_KIND_LR, tr, va, 4, 1, &rf);
    mem = train_records(&mt, &mv, 4, &rm, NULL, PR_OK, NULL);
    ASSERT_EQ_INT(rm.streamed, 0);
    ASSERT_EQ_INT(rm.best_pass, rf.best_pass);
    ASSERT_TRUE(rm.valid_logloss == rf.valid_logloss);
    ASSERT_TRUE(evaluate(mem, te).log_loss == evaluate(file, te).log_loss);
    ASSERT_TRUE(evaluate(mem, te).auc > 0.70);
    ASSERT_CONTAINS(pr_model_info(mem), "\"source\": \"mem-valid\"");
    pr_model_free(file);
    pr_model_free(mem);

    /* refused: a label that is not 0/1 (named), a kept cache */
    pr_err e;
    mt.bad_row = 77;
    train_records(&mt, NULL, 1, &rm, NULL, PR_ERR_LABEL, &e);
    ASSERT_CONTAINS(e.msg, "mem:77: label must be 0 or 1, got 2");
    mt.bad_row = 0;
    pr_train_opts o;
    pr_train_opts_default(&o);
    o.cache_path = test_path("kept.pcache");
    train_records(&mt, NULL, 2, &rm, &o, PR_ERR_INVALID, &e);
    ASSERT_CONTAINS(e.msg, "kept cache");
    free(mt.text);
    free(mt.cells);
    free(mt.label);
    free(mv.text);
    free(mv.cells);
    free(mv.label);
}

/* The buckets worth per-thread copies (hot_buckets.c): those in at least
 * 1 in 1024 examples, most frequent first, at most max of them. */
TEST(hot_buckets_are_the_most_frequent) {
    const char *path = test_path("hot.pcache");
    pr_cache_writer *w = NULL;
    pr_err err;
    ASSERT_OK(pr_cache_writer_open(path, 12, 3, 1, &w, &err));
    for (uint32_t e = 0; e < 8192; e++) {
        pr_feature f[3] = {
            {7, 0, 1.0f},                                       /* every example */
            {e % 2 == 0 ? 9 : 1000 + e % 1500, 1, 1.0f},        /* half; the rest <= 3 times */
            {e % 8 == 0 ? 11 : 2500 + e % 1500, 2, 1.0f},       /* 1 in 8; the rest <= 6 times */
        };
        pr_example x = {(float)(e % 3 == 0), 1.0f, 0, 3, f};
        ASSERT_OK(pr_cache_writer_add(w, &x, &err));
    }
    ASSERT_OK(pr_cache_writer_close(w, &err));
    pr_cache *c = NULL;
    ASSERT_OK(pr_cache_open(path, &c, &err));
    uint32_t *hot = NULL, n = 99;
    ASSERT_OK(pr__hot_buckets(c, NULL, NULL, 10, &hot, &n, &err));
    ASSERT_EQ_INT(n, 3);
    ASSERT_EQ_INT(hot[0], 7);
    ASSERT_EQ_INT(hot[1], 9);
    ASSERT_EQ_INT(hot[2], 11);
    free(hot);
    ASSERT_OK(pr__hot_buckets(c, NULL, NULL, 2, &hot, &n, &err));
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_INT(hot[1], 9);
    free(hot);
    ASSERT_OK(pr__hot_buckets(c, NULL, NULL, 0, &hot, &n, &err));
    ASSERT_TRUE(n == 0 && hot == NULL);
    pr_cache_close(c);
}

int main(void) {
    RUN(streaming_single_pass_learns_and_is_reproducible);
    RUN(hot_buckets_are_the_most_frequent);
    RUN(rare_features_use_the_rare_bucket);
    RUN(online_admission_counts_and_honours_known_buckets);
    RUN(cache_passes_learn_and_are_reproducible);
    RUN(ffm_with_two_threads_is_reproducible_and_matches_one);
    RUN(early_stopping_keeps_the_best_pass);
    RUN(records_from_memory_train_like_the_file);
    TEST_MAIN_END();
}
