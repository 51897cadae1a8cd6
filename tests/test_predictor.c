/*
 * test_predictor.c: pr_predictor (pronto/predictor.h) against the path
 * `pronto predict` takes (pr_featurize_inputs over the file, the model's
 * filter, pr_model_predict), on models trained here on generated data:
 *   - Criteo TSV, FFM with a rare-feature filter: the predictor's columns
 *     are I1..C26 (not the label); the same p bit for bit, and the
 *     `pronto predict` command's printed p;
 *   - CSV with the label, weight and timestamp columns among the inputs,
 *     a field reading a column of another name, two fields on one column,
 *     a set-valued field, a cross and fitted quantile bins, LR;
 *   - many threads scoring on one predictor at once;
 *   - bad input: a missing file, a newer model format (refused naming its
 *     version), not a model, sparse-input models, NULLs, a bad number
 *     (named by row and field);
 *   - pr_version / pr_abi_version.
 */
#include <pthread.h>

#include "pronto/pronto.h"
#include "test.h"

/* ------------------------------------------------------------ helpers */

/* Splits line (modified in place) on sep into at most max cells. */
static uint32_t split(char *line, char sep, char **cells, uint32_t max) {
    uint32_t n = 0;
    char *p = line;
    for (;;) {
        if (n < max) cells[n++] = p;
        char *q = strchr(p, sep);
        if (!q) break;
        *q = 0;
        p = q + 1;
    }
    size_t l = strlen(cells[n - 1]);
    if (l && cells[n - 1][l - 1] == '\n') cells[n - 1][l - 1] = 0;
    return n;
}

typedef struct collect {
    const pr_model *ctx_model;
    double *p;
    size_t n, cap;
} collect;

static pr_status collect_one(void *ctx, pr_example *x, const pr_record *rec, pr_err *err) {
    (void)rec;
    (void)err;
    collect *c = ctx;
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 1024;
        c->p = realloc(c->p, c->cap * sizeof *c->p);
        ASSERT_TRUE(c->p != NULL);
    }
    c->p[c->n++] = pr_model_predict(c->ctx_model, x);
    return PR_OK;
}

/* `pronto predict`'s path, in process: cli_open_model + pr_featurize_inputs. */
static collect predict_like_cli(const char *model_path, pr_format format, const char *data) {
    pr_err err;
    pr_model *m = NULL;
    pr_spec *spec = NULL;
    pr_featurizer *fz = NULL;
    ASSERT_OK(pr_model_load(model_path, &m, &err));
    const char *y = pr_model_spec(m);
    ASSERT_OK(pr_spec_parse(y, strlen(y), model_path, &spec, &err));
    ASSERT_OK(pr_featurizer_new(spec, &fz, &err));
    collect c = {m, NULL, 0, 0};
    pr_input in = {format, &data, 1};
    uint64_t bad = 0;
    ASSERT_OK(pr_featurize_inputs(fz, spec, pr_model_filter(m), &in, 1, 0, &bad, collect_one, &c,
                                  &err));
    ASSERT_EQ_INT(bad, 0);
    pr_featurizer_free(fz);
    pr_spec_free(spec);
    pr_model_free(m);
    return c;
}

/* Trains kind on data (format) with spec text, fitting quantile bins
 * first when the spec has any (as `pronto train` does), and saves to out. */
static void train(const char *spec_yaml, pr_model_kind kind, pr_format format, const char *data,
                  const char *out) {
    pr_err err;
    pr_spec *spec = NULL;
    pr_featurizer *fz = NULL;
    ASSERT_OK(pr_spec_parse(spec_yaml, strlen(spec_yaml), "spec", &spec, &err));
    ASSERT_OK(pr_featurizer_new(spec, &fz, &err));
    if (pr_featurizer_needs_fit(fz)) {
        pr_reader_opts ro;
        const char *cols[PR_MAX_INPUT_COLUMNS];
        pr_reader_opts_from_spec(&ro, format, spec, 1, cols, PR_MAX_INPUT_COLUMNS);
        pr_reader *r;
        ASSERT_OK(pr_reader_open(data, &ro, &r, &err));
        const char *names[PR_MAX_INPUT_COLUMNS];
        uint32_t nc = pr_reader_n_columns(r);
        for (uint32_t c = 0; c < nc; c++) names[c] = pr_reader_column_name(r, c);
        ASSERT_OK(pr_featurizer_bind(fz, names, nc, &err));
        pr_record rec;
        pr_status s;
        while ((s = pr_reader_next(r, &rec, &err)) == PR_OK)
            ASSERT_OK(pr_featurizer_fit_add(fz, &rec, &err));
        ASSERT_EQ_INT(s, PR_EOF);
        pr_reader_free(r);
        ASSERT_OK(pr_featurizer_fit_finish(fz, &err));
    }
    pr_model_params mp;
    pr_model_params_default(&mp, kind);
    mp.hash_bits = pr_featurizer_hash_bits(fz);
    mp.n_fields = pr_featurizer_n_fields(fz);
    pr_model *m = NULL;
    ASSERT_OK(pr_model_new(&mp, &m, &err));
    pr_train_opts o;
    pr_train_opts_default(&o);
    o.passes = 2;
    o.out_path = out;
    pr_input in = {format, &data, 1};
    pr_train_report rep;
    ASSERT_OK(pr_train(&m, fz, &in, &o, &rep, &err));
    pr_model_free(m);
    pr_featurizer_free(fz);
    pr_spec_free(spec);
}

/* Reads data (sep-separated, an optional header line) into the predictor's
 * column order: cell of file column src[c] for predictor column c. Returns
 * the rows; *values is malloc'd (free it), its text in *text (free it). */
static size_t load_rows(const char *data, char sep, int header, const uint32_t *src,
                        uint32_t n_cols, pr_bytes **values, char **text) {
    size_t len = 0;
    *text = test_read_file(data, &len);
    size_t cap = 1024, n = 0;
    *values = malloc(cap * n_cols * sizeof **values);
    char *line = *text, *cells[256];
    int first = 1;
    while (*line) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        uint32_t nc = split(line, sep, cells, 256);
        line = nl ? nl + 1 : line + strlen(line);
        if (first && header) {
            first = 0;
            continue;
        }
        if (n == cap) {
            cap *= 2;
            *values = realloc(*values, cap * n_cols * sizeof **values);
        }
        for (uint32_t c = 0; c < n_cols; c++) {
            ASSERT_TRUE(src[c] < nc);
            (*values)[n * n_cols + c] = pr_bytes_of(cells[src[c]], strlen(cells[src[c]]));
        }
        n++;
    }
    return n;
}

/* ------------------------------------------------------------ criteo */

static void gen_criteo(const char *path, int rows) {
    char cmd[1024];
    const char *src = getenv("PRONTO_SRC");
    snprintf(cmd, sizeof cmd, "awk -v rows=%d -v seed=11 -f '%s/tests/gen_criteo.awk' > '%s'", rows,
             src ? src : "..", path);
    ASSERT_EQ_INT(system(cmd), 0);
}

static const char *criteo_spec(void) {
    /* the shipped spec, small tables, and a filter that drops features
     * seen fewer than 200 times: in 4000 rows, the 30 values of each of
     * C5..C26 (~133 times each) and most of I2..I13's buckets go to their
     * field's rare bucket, so forgetting the filter changes every p */
    static char buf[1 << 16];
    pr_err err;
    pr_spec *s = NULL;
    const char *d = pr_spec_default_criteo();
    ASSERT_OK(pr_spec_parse(d, strlen(d), "criteo.yaml", &s, &err));
    ASSERT_OK(pr_spec_set_hash_bits(s, 16, &err));
    ASSERT_OK(pr_spec_set_min_count(s, 200, &err));
    char *y = NULL;
    ASSERT_OK(pr_spec_to_yaml(s, &y, NULL, &err));
    snprintf(buf, sizeof buf, "%s", y);
    free(y);
    pr_spec_free(s);
    return buf;
}

TEST(criteo_ffm_equals_pronto_predict) {
    pr_err err;
    const char *data = test_path("train.tsv"), *model = test_path("ffm.pm");
    gen_criteo(data, 4000);
    train(criteo_spec(), PR_MODEL_KIND_FFM, PR_FORMAT_CRITEO, data, model);

    pr_predictor *p = NULL;
    ASSERT_OK(pr_predictor_open(model, &p, &err));
    ASSERT_EQ_STR(pr_predictor_kind(p), "ffm");
    ASSERT_CONTAINS(pr_predictor_info(p), "{");
    ASSERT_EQ_STR(pr_predictor_path(p), model);
    /* the label is no column: I1..I13, C1..C26 */
    ASSERT_EQ_INT(pr_predictor_n_columns(p), 39);
    ASSERT_EQ_STR(pr_predictor_column(p, 0), "I1");
    ASSERT_EQ_STR(pr_predictor_column(p, 12), "I13");
    ASSERT_EQ_STR(pr_predictor_column(p, 13), "C1");
    ASSERT_EQ_STR(pr_predictor_column(p, 38), "C26");
    ASSERT_TRUE(pr_predictor_column(p, 39) == NULL);

    uint32_t src[39];
    for (uint32_t c = 0; c < 39; c++) src[c] = c + 1; /* file column 0 is the label */
    pr_bytes *values;
    char *text;
    size_t n = load_rows(data, '\t', 0, src, 39, &values, &text);
    ASSERT_EQ_INT(n, 4000);
    double *got = malloc(n * sizeof *got);
    ASSERT_OK(pr_predictor_score(p, values, n, got, &err));

    collect want = predict_like_cli(model, PR_FORMAT_CRITEO, data);
    ASSERT_EQ_INT(want.n, n);
    size_t differ_from_unfiltered = 0;
    for (size_t r = 0; r < n; r++) {
        if (got[r] != want.p[r]) TEST_FAIL("row %zu: %.17g != %.17g", r, got[r], want.p[r]);
    }
    /* the filter is applied: scoring without it gives other numbers */
    {
        pr_model *m;
        pr_spec *spec;
        pr_featurizer *fz;
        ASSERT_OK(pr_model_load(model, &m, &err));
        ASSERT_TRUE(pr_model_filter(m) != NULL);
        const char *y = pr_model_spec(m);
        ASSERT_OK(pr_spec_parse(y, strlen(y), "m", &spec, &err));
        ASSERT_OK(pr_featurizer_new(spec, &fz, &err));
        const char *names[39];
        for (uint32_t c = 0; c < 39; c++) names[c] = pr_predictor_column(p, c);
        ASSERT_OK(pr_featurizer_bind(fz, names, 39, &err));
        pr_arena a;
        pr_arena_init(&a, NULL, 0, 0);
        for (size_t r = 0; r < n; r++) {
            pr_record rec = {.weight = 1, .n_cols = 39, .cols = values + r * 39, .file = "t"};
            pr_example x;
            pr_arena_reset(&a);
            ASSERT_OK(pr_featurizer_apply(fz, &rec, &a, &x, &err));
            if (pr_model_predict(m, &x) != got[r]) differ_from_unfiltered++;
        }
        pr_arena_free(&a);
        pr_featurizer_free(fz);
        pr_spec_free(spec);
        pr_model_free(m);
    }
    ASSERT_TRUE(differ_from_unfiltered > n / 10);

    /* and the command itself, as printed (%.6f) */
    const char *bin = getenv("PRONTO_BIN");
    if (bin) {
        char cmd[2048];
        const char *outp = test_path("pred.txt");
        snprintf(cmd, sizeof cmd, "'%s' predict '%s' '%s' > '%s'", bin, model, data, outp);
        ASSERT_EQ_INT(system(cmd), 0);
        char *printed = test_read_file(outp, NULL);
        char *line = printed;
        for (size_t r = 0; r < n; r++) {
            char mine[32];
            snprintf(mine, sizeof mine, "%.6f\n", got[r]);
            if (strncmp(line, mine, strlen(mine)) != 0)
                TEST_FAIL("row %zu: pronto predict printed %.9s, predictor %s", r, line, mine);
            line += strlen(mine);
        }
        ASSERT_EQ_INT(*line, 0);
        free(printed);
    }
    free(want.p);
    free(got);
    free(values);
    free(text);
    pr_predictor_close(p);
}

/* ------------------------------------------------------------ csv */

static const char *CSV_SPEC =
    "version: 1\nhash_bits: 14\nseed: 3\nmin_count: 2\n"
    "input: {format: csv, label: click, weight: w, timestamp: ts}\n"
    "fields:\n"
    "  - {name: ad, type: categorical}\n"
    "  - {name: device_kind, column: device, type: categorical}\n"
    "  - {name: price_q, column: price, type: numeric, transform: quantile, bins: 8}\n"
    "  - {name: price_log, column: price, type: numeric, transform: log_bucket}\n"
    "  - {name: tags, type: categorical, separator: \"|\"}\n"
    "crosses:\n"
    "  - [ad, device_kind]\n";

static void gen_csv(const char *path, int rows) {
    FILE *f = fopen(path, "w");
    ASSERT_TRUE(f != NULL);
    /* the label, weight and timestamp interleaved with the inputs */
    fprintf(f, "ts,ad,click,device,w,price,tags\n");
    uint64_t st = 5;
    static const char *tags[] = {"a", "b|c", "", "c|a|a", "d"};
    for (int i = 0; i < rows; i++) {
        int ad = (int)(pr_splitmix64(&st) % 40);
        int mobile = pr_splitmix64(&st) & 1;
        double price = (double)(pr_splitmix64(&st) % 10000) / 100.0;
        double p = (ad < 5 ? 0.6 : 0.1) + (mobile ? 0.1 : 0) + (price > 50 ? 0.1 : 0);
        int y = (double)(pr_splitmix64(&st) >> 11) * 0x1.0p-53 < p;
        const char *tg = tags[pr_splitmix64(&st) % 5];
        if (i % 17 == 3)
            fprintf(f, "%d,ad%d,%d,,1,,%s\n", 1700000000 + i, ad, y, tg); /* missing */
        else
            fprintf(f, "%d,ad%d,%d,%s,%.1f,%.2f,%s\n", 1700000000 + i, ad, y,
                    mobile ? "mobile" : "desktop", 1.0 + (i % 3), price, tg);
    }
    fclose(f);
}

TEST(csv_lr_equals_pronto_predict) {
    pr_err err;
    const char *data = test_path("train.csv"), *model = test_path("lr.pm");
    gen_csv(data, 3000);
    train(CSV_SPEC, PR_MODEL_KIND_LR, PR_FORMAT_CSV, data, model);

    pr_predictor *p = NULL;
    ASSERT_OK(pr_predictor_open(model, &p, &err));
    ASSERT_EQ_STR(pr_predictor_kind(p), "lr");
    /* the spec's input columns, in field order without duplicates */
    ASSERT_EQ_INT(pr_predictor_n_columns(p), 4);
    ASSERT_EQ_STR(pr_predictor_column(p, 0), "ad");
    ASSERT_EQ_STR(pr_predictor_column(p, 1), "device");
    ASSERT_EQ_STR(pr_predictor_column(p, 2), "price");
    ASSERT_EQ_STR(pr_predictor_column(p, 3), "tags");

    uint32_t src[4] = {1, 3, 5, 6}; /* their positions in the file */
    pr_bytes *values;
    char *text;
    size_t n = load_rows(data, ',', 1, src, 4, &values, &text);
    ASSERT_EQ_INT(n, 3000);
    double *got = malloc(n * sizeof *got);
    ASSERT_OK(pr_predictor_score(p, values, n, got, &err));
    collect want = predict_like_cli(model, PR_FORMAT_CSV, data);
    ASSERT_EQ_INT(want.n, n);
    for (size_t r = 0; r < n; r++)
        if (got[r] != want.p[r]) TEST_FAIL("row %zu: %.17g != %.17g", r, got[r], want.p[r]);
    /* the model learned something, so equal numbers are not all alike */
    double lo = 1, hi = 0;
    for (size_t r = 0; r < n; r++) {
        if (got[r] < lo) lo = got[r];
        if (got[r] > hi) hi = got[r];
    }
    ASSERT_TRUE(hi - lo > 0.3);

    /* a bad number is named by row and field (and the column it reads) */
    pr_bytes bad[8] = {{"ad1", 3}, {"mobile", 6}, {"3.5", 3}, {"a", 1},
                       {"ad2", 3}, {"mobile", 6}, {"cheap", 5}, {"a", 1}};
    double two[2];
    ASSERT_STATUS(pr_predictor_score(p, bad, 2, two, &err), PR_ERR_PARSE);
    ASSERT_CONTAINS(err.msg, "row 1: field 'price_q' (column 'price'): expected a number, got 'cheap'");
    ASSERT_TRUE(two[0] > 0 && two[0] < 1); /* rows before it are written */
    /* missing everything (len 0, NULL ptr) scores */
    pr_bytes none[4] = {{NULL, 0}, {NULL, 0}, {NULL, 0}, {NULL, 0}};
    ASSERT_OK(pr_predictor_score(p, none, 1, two, &err));
    ASSERT_TRUE(two[0] > 0 && two[0] < 1);

    free(want.p);
    free(got);
    free(values);
    free(text);
    pr_predictor_close(p);
}

/* ------------------------------------------------------------ threads */

typedef struct scorer {
    pr_predictor *p;
    const pr_bytes *values;
    size_t n;
    const double *want;
    int ok;
} scorer;

static void *score_thread(void *arg) {
    scorer *s = arg;
    pr_err err;
    double *got = malloc(s->n * sizeof *got);
    s->ok = got != NULL;
    for (int rep = 0; rep < 20 && s->ok; rep++) {
        /* batches of different sizes, so calls overlap in every way */
        size_t batch = 1 + (size_t)rep * 37;
        for (size_t r = 0; r < s->n && s->ok; r += batch) {
            size_t k = s->n - r < batch ? s->n - r : batch;
            if (pr_predictor_score(s->p, s->values + r * 39, k, got + r, &err) != PR_OK)
                s->ok = 0;
        }
        for (size_t r = 0; r < s->n && s->ok; r++)
            if (got[r] != s->want[r]) s->ok = 0;
    }
    free(got);
    return NULL;
}

TEST(many_threads_on_one_predictor) {
    pr_err err;
    const char *data = test_path("mt.tsv"), *model = test_path("mt.pm");
    gen_criteo(data, 1500);
    train(criteo_spec(), PR_MODEL_KIND_FFM, PR_FORMAT_CRITEO, data, model);
    pr_predictor *p = NULL;
    ASSERT_OK(pr_predictor_open(model, &p, &err));
    uint32_t src[39];
    for (uint32_t c = 0; c < 39; c++) src[c] = c + 1;
    pr_bytes *values;
    char *text;
    size_t n = load_rows(data, '\t', 0, src, 39, &values, &text);
    collect want = predict_like_cli(model, PR_FORMAT_CRITEO, data);
    ASSERT_EQ_INT(want.n, n);
    enum { NT = 6 };
    pthread_t th[NT];
    scorer s[NT];
    for (int t = 0; t < NT; t++) {
        s[t] = (scorer){p, values, n, want.p, 0};
        ASSERT_EQ_INT(pthread_create(&th[t], NULL, score_thread, &s[t]), 0);
    }
    for (int t = 0; t < NT; t++) {
        pthread_join(th[t], NULL);
        ASSERT_TRUE(s[t].ok);
    }
    free(want.p);
    free(values);
    free(text);
    pr_predictor_close(p);
}

/* ------------------------------------------------------------ bad input */

TEST(bad_input_is_refused_clearly) {
    pr_err err;
    pr_predictor *p = (pr_predictor *)&err; /* must stay untouched on error */
    pr_predictor *const sentinel = p;

    ASSERT_STATUS(pr_predictor_open(test_path("nope.pm"), &p, &err), PR_ERR_IO);
    ASSERT_CONTAINS(err.msg, "nope.pm");
    ASSERT_TRUE(p == sentinel);

    /* not a model */
    const char *junk = test_path("junk.pm");
    test_write_file(junk, "this is not a model file at all, not even close............");
    ASSERT_STATUS(pr_predictor_open(junk, &p, &err), PR_ERR_FORMAT);
    ASSERT_CONTAINS(err.msg, "junk.pm");

    /* a newer format version: refused naming it */
    const char *data = test_path("v.csv"), *model = test_path("v.pm");
    gen_csv(data, 300);
    train(CSV_SPEC, PR_MODEL_KIND_LR, PR_FORMAT_CSV, data, model);
    size_t len = 0;
    char *bytes = test_read_file(model, &len);
    ASSERT_TRUE(len > 16);
    bytes[8] = 42; /* format version, u32 little-endian at offset 8 */
    bytes[9] = bytes[10] = bytes[11] = 0;
    const char *newer = test_path("newer.pm");
    FILE *f = fopen(newer, "wb");
    ASSERT_TRUE(f && fwrite(bytes, 1, len, f) == len);
    fclose(f);
    free(bytes);
    ASSERT_STATUS(pr_predictor_open(newer, &p, &err), PR_ERR_VERSION);
    ASSERT_CONTAINS(err.msg, "newer.pm");
    ASSERT_CONTAINS(err.msg, "format version 42");
    ASSERT_TRUE(p == sentinel);

    /* a model of sparse inputs has no columns */
    const char *svm = test_path("d.libsvm"), *svm_model = test_path("svm.pm");
    test_write_file(svm, "1 1:1 2:1\n0 3:1\n1 1:1\n0 2:1 3:1\n");
    train("version: 1\nhash_bits: 10\ninput: {format: libsvm}\n"
          "fields:\n  - {name: f, type: categorical}\n",
          PR_MODEL_KIND_LR, PR_FORMAT_LIBSVM, svm, svm_model);
    ASSERT_STATUS(pr_predictor_open(svm_model, &p, &err), PR_ERR_UNSUPPORTED);
    ASSERT_CONTAINS(err.msg, "sparse");

    /* NULLs */
    ASSERT_STATUS(pr_predictor_open(NULL, &p, &err), PR_ERR_INVALID);
    ASSERT_STATUS(pr_predictor_open(model, NULL, &err), PR_ERR_INVALID);
    ASSERT_STATUS(pr_predictor_open(model, &p, NULL), PR_OK); /* err may be NULL */
    ASSERT_TRUE(p != sentinel);
    double out[1];
    pr_bytes row[4] = {{"ad1", 3}, {"mobile", 6}, {"1", 1}, {"a", 1}};
    ASSERT_STATUS(pr_predictor_score(NULL, row, 1, out, &err), PR_ERR_INVALID);
    ASSERT_STATUS(pr_predictor_score(p, NULL, 1, out, &err), PR_ERR_INVALID);
    ASSERT_STATUS(pr_predictor_score(p, row, 1, NULL, &err), PR_ERR_INVALID);
    ASSERT_STATUS(pr_predictor_score(p, NULL, 0, NULL, &err), PR_OK);
    ASSERT_STATUS(pr_predictor_score(p, row, 1, out, NULL), PR_OK);
    ASSERT_EQ_INT(pr_predictor_n_columns(NULL), 0);
    ASSERT_TRUE(pr_predictor_column(NULL, 0) == NULL);
    pr_predictor_close(p);
    pr_predictor_close(NULL);
}

TEST(versions) {
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", PR_VERSION_MAJOR, PR_VERSION_MINOR,
             PR_VERSION_PATCH);
    ASSERT_EQ_STR(pr_version(), want);
    ASSERT_EQ_STR(pr_version(), PR_VERSION_STRING);
    ASSERT_EQ_INT(pr_abi_version(), PR_ABI_VERSION);
    ASSERT_TRUE(PR_ABI_VERSION >= 1);
}

int main(void) {
    RUN(versions);
    RUN(criteo_ffm_equals_pronto_predict);
    RUN(csv_lr_equals_pronto_predict);
    RUN(many_threads_on_one_predictor);
    RUN(bad_input_is_refused_clearly);
    TEST_MAIN_END();
}
