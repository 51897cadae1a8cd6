/*
 * test_api.c: the worked example of include/pronto/pronto.h, run for real:
 * train a small model on a CSV with a spec, then open it as a
 * pr_predictor and score hand-made rows. The rows' ranking must follow
 * what the data taught; the lower-level path the predictor wraps (load,
 * featurize, filter, predict with a per-request arena that stops
 * allocating after the first request) must give the same numbers.
 */
#include "pronto/pronto.h"
#include "test.h"

static const char *SPEC =
    "version: 1\nhash_bits: 14\nseed: 0\nmin_count: 0\n"
    "input: {format: csv, label: click}\n"
    "fields:\n"
    "  - {name: user_id, type: categorical}\n"
    "  - {name: ad_id, type: categorical}\n"
    "  - {name: device, type: categorical}\n";

/* ad7 is clicked on mobile 80% of the time, ad9 5%; users are noise. */
static void write_data(const char *path) {
    FILE *f = fopen(path, "w");
    ASSERT_TRUE(f != NULL);
    fprintf(f, "click,user_id,ad_id,device\n");
    uint64_t st = 7;
    for (int i = 0; i < 6000; i++) {
        int ad7 = pr_splitmix64(&st) & 1;
        int mobile = pr_splitmix64(&st) & 1;
        double p = ad7 ? (mobile ? 0.8 : 0.3) : 0.05;
        int y = (double)(pr_splitmix64(&st) >> 11) * 0x1.0p-53 < p;
        fprintf(f, "%d,u%d,%s,%s\n", y, (int)(pr_splitmix64(&st) % 50), ad7 ? "ad7" : "ad9",
                mobile ? "mobile" : "desktop");
    }
    fclose(f);
}

static double score(pr_model *model, pr_featurizer *fz, pr_arena *arena, const char *ad,
                    const char *device) {
    pr_err err;
    pr_bytes vals[] = {{"u42", 3}, {ad, strlen(ad)}, {device, strlen(device)}};
    pr_record rec = {.weight = 1, .n_cols = 3, .cols = vals, .file = "request"};
    pr_example x;
    ASSERT_OK(pr_featurizer_apply(fz, &rec, arena, &x, &err));
    pr_featurizer_apply_filter(fz, pr_model_filter(model), &x);
    double p = pr_model_predict(model, &x);
    pr_arena_reset(arena);
    return p;
}

TEST(train_then_serve_like_the_header_says) {
    pr_err err;
    const char *data = test_path("clicks.csv"), *model_path = test_path("ctr.pm");
    write_data(data);

    /* train: the library path of `pronto train --spec ... --format csv` */
    pr_spec *tspec = NULL;
    pr_featurizer *tfz = NULL;
    ASSERT_OK(pr_spec_parse(SPEC, strlen(SPEC), "spec", &tspec, &err));
    ASSERT_OK(pr_featurizer_new(tspec, &tfz, &err));
    pr_model_params p;
    pr_model_params_default(&p, PR_MODEL_KIND_LR);
    p.hash_bits = pr_featurizer_hash_bits(tfz);
    pr_model *trained = NULL;
    ASSERT_OK(pr_model_new(&p, &trained, &err));
    pr_train_opts o;
    pr_train_opts_default(&o);
    o.passes = 3;
    o.out_path = model_path;
    pr_input in = {PR_FORMAT_CSV, &data, 1};
    pr_train_report rep;
    ASSERT_OK(pr_train(&trained, tfz, &in, &o, &rep, &err));
    ASSERT_EQ_INT(rep.rows_read, 6000);
    pr_model_free(trained);
    pr_featurizer_free(tfz);
    pr_spec_free(tspec);

    /* pronto.h's example */
    pr_predictor *pd;
    ASSERT_OK(pr_predictor_open(model_path, &pd, &err));
    ASSERT_EQ_INT(pr_predictor_n_columns(pd), 3);
    ASSERT_EQ_STR(pr_predictor_column(pd, 0), "user_id");
    ASSERT_EQ_STR(pr_predictor_column(pd, 1), "ad_id");
    ASSERT_EQ_STR(pr_predictor_column(pd, 2), "device");
    ASSERT_TRUE(pr_predictor_column(pd, 3) == NULL);
    pr_bytes rows[] = {{"u42", 3}, {"ad7", 3}, {"mobile", 6},   /* row 0 */
                       {"u42", 3}, {"ad9", 3}, {"", 0}};        /* row 1 */
    double prob[2];
    ASSERT_OK(pr_predictor_score(pd, rows, 2, prob, &err));
    ASSERT_TRUE(prob[0] > 0.55 && prob[1] < 0.25);

    /* what it wraps: load, the embedded spec's featurizer, filter, predict */
    pr_model *model;
    pr_spec *spec;
    pr_featurizer *fz;
    ASSERT_OK(pr_model_load(model_path, &model, &err));
    const char *yaml = pr_model_spec(model);
    ASSERT_OK(pr_spec_parse(yaml, strlen(yaml), "ctr.pm", &spec, &err));
    ASSERT_OK(pr_featurizer_new(spec, &fz, &err));
    const char *cols[] = {"user_id", "ad_id", "device"};
    ASSERT_OK(pr_featurizer_bind(fz, cols, 3, &err));
    pr_arena arena;
    pr_arena_init(&arena, NULL, 0, 0);

    double p7m = score(model, fz, &arena, "ad7", "mobile");
    size_t cap = arena.cap;
    double p7d = score(model, fz, &arena, "ad7", "desktop");
    double p9m = score(model, fz, &arena, "ad9", "mobile");
    double p9x = score(model, fz, &arena, "ad9", "");
    double pnew = score(model, fz, &arena, "ad-never-seen", "mobile");
    ASSERT_EQ_INT(arena.cap, cap); /* no new block after the first request */
    ASSERT_TRUE(p7m > p7d && p7d > p9m);
    ASSERT_TRUE(p7m > 0.55 && p9m < 0.15);
    ASSERT_TRUE(pnew > 0 && pnew < 1);
    ASSERT_TRUE(prob[0] == p7m && prob[1] == p9x);

    pr_arena_free(&arena);
    pr_featurizer_free(fz);
    pr_spec_free(spec);
    pr_model_free(model);
    pr_predictor_close(pd);
}

int main(void) {
    RUN(train_then_serve_like_the_header_says);
    TEST_MAIN_END();
}
