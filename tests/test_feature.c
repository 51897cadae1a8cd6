/*
 * test_feature.c: the feature spec (parse, validate, canonical YAML) and the
 * featurizer (transforms, hashing, crosses, sparse input, fitting, the
 * count filter, arena behaviour).
 */
#include <float.h>
#include <math.h>

#include "feature/feature_hash.h"
#include "feature/feature_int.h"
#include "feature/featurizer_int.h"
#include "pronto/feature.h"
#include "test.h"

/* ---------------------------------------------------------------- helpers */

#define MAX_COLS 64
typedef struct row {
    pr_bytes cols[MAX_COLS];
    pr_record rec;
} row;

/* Fills r from n NUL-terminated strings (borrowed). */
static const pr_record *make_row(row *r, const char *const *vals, uint32_t n) {
    memset(r, 0, sizeof *r);
    for (uint32_t i = 0; i < n; i++) r->cols[i] = pr_bytes_of(vals[i], strlen(vals[i]));
    r->rec.label = 1;
    r->rec.has_label = 1;
    r->rec.weight = 1;
    r->rec.n_cols = n;
    r->rec.cols = r->cols;
    r->rec.file = "data.tsv";
    r->rec.line = 7;
    return &r->rec;
}

static pr_spec *parse_ok(const char *yaml) {
    pr_err err;
    pr_spec *s = NULL;
    ASSERT_OK(pr_spec_parse(yaml, strlen(yaml), "spec.yaml", &s, &err));
    return s;
}

static pr_featurizer *featurizer_ok(const char *yaml, const char *const *names,
                                    uint32_t n) {
    pr_err err;
    pr_spec *s = parse_ok(yaml);
    pr_featurizer *f = NULL;
    ASSERT_OK(pr_featurizer_new(s, &f, &err));
    pr_spec_free(s); /* the featurizer keeps its own copy */
    ASSERT_OK(pr_featurizer_bind(f, names, n, &err));
    return f;
}

/* Featurizes one row of n values and returns the index of feature k. */
static uint32_t index_of(pr_featurizer *f, const char *const *vals, uint32_t n,
                         uint32_t k) {
    pr_err err;
    row r;
    pr_arena a;
    pr_example ex;
    pr_arena_init(&a, NULL, 0, 0);
    ASSERT_OK(pr_featurizer_apply(f, make_row(&r, vals, n), &a, &ex, &err));
    ASSERT_TRUE(k < ex.n);
    ASSERT_EQ_INT(ex.f[k].field, k);
    uint32_t idx = ex.f[k].index;
    pr_arena_free(&a);
    return idx;
}

static uint32_t one_value_index(pr_featurizer *f, const char *v) {
    const char *vals[1] = {v};
    return index_of(f, vals, 1, 0);
}

/* Expected index of numeric code `code` in field `name` (spec seed 0). */
static uint32_t code_index(const char *name, int64_t code, uint32_t bits) {
    uint64_t seed = pr__field_seed(name, strlen(name), 0);
    return (uint32_t)pr__hash_code(code, seed ^ PR__NUMERIC_DOMAIN) &
           ((1u << bits) - 1);
}

static uint32_t token_index(const char *name, const char *token, uint32_t bits) {
    uint64_t seed = pr__field_seed(name, strlen(name), 0);
    return (uint32_t)pr_hash64(token, strlen(token), seed) & ((1u << bits) - 1);
}

static const char *criteo_names[39];
static char criteo_name_buf[39][8];
static void init_criteo_names(void) {
    for (int i = 0; i < 39; i++) {
        snprintf(criteo_name_buf[i], sizeof criteo_name_buf[i], "%c%d",
                 i < 13 ? 'I' : 'C', i < 13 ? i + 1 : i - 12);
        criteo_names[i] = criteo_name_buf[i];
    }
}

/* A Criteo-like row: 13 integers and 26 hex tokens. */
static const char *const criteo_row[39] = {
    "1", "5", "0", "", "1382", "4", "15", "2", "181", "1", "2", "", "2",
    "68fd1e64", "80e26c9b", "fb936136", "7b4723c4", "25c83c98", "7e0ccccf",
    "de7995b8", "1f89b562", "a73ee510", "a8cd5504", "b2cb9c98", "37c9c164",
    "2824a5f6", "1adce6ef", "8ba8b39a", "891b62e7", "e5ba7672", "f54016b9",
    "21ddcdc9", "b1252a9d", "07b5194c", "", "3a171ecb", "c5c50484",
    "e8b83407", "9727dd16"};

/* ---------------------------------------------------------------- spec */

TEST(criteo_default_matches_shipped_file) {
    pr_err err;
    const char *src = getenv("PRONTO_SRC");
    ASSERT_TRUE(src != NULL);
    char path[1024];
    snprintf(path, sizeof path, "%s/specs/criteo.yaml", src);
    char *text = NULL;
    size_t len = 0;
    ASSERT_OK(pr_read_file(path, &text, &len, &err));
    ASSERT_EQ_INT(len, strlen(pr_spec_default_criteo()));
    ASSERT_TRUE(memcmp(text, pr_spec_default_criteo(), len) == 0);
    free(text);

    pr_spec *s = NULL;
    ASSERT_OK(pr_spec_load(path, &s, &err));
    ASSERT_EQ_INT(pr_spec_hash_bits(s), 20);
    ASSERT_EQ_INT(pr_spec_min_count(s), 10);
    ASSERT_EQ_INT(pr_spec_n_fields(s), 39);
    ASSERT_EQ_STR(pr_spec_input_format(s), "criteo");
    ASSERT_EQ_STR(pr_spec_label_col(s), "label");
    ASSERT_TRUE(pr_spec_weight_col(s) == NULL);
    ASSERT_TRUE(pr_spec_ts_col(s) == NULL);
    ASSERT_EQ_INT(pr_spec_n_input_columns(s), 39);
    ASSERT_EQ_STR(pr_spec_input_column(s, 0), "I1");
    ASSERT_EQ_STR(pr_spec_input_column(s, 38), "C26");
    ASSERT_TRUE(pr_spec_input_column(s, 39) == NULL);
    pr_spec_free(s);
}

static const char *full_spec =
    "version: 1\n"
    "hash_bits: 18\n"
    "seed: 42\n"
    "min_count: 3\n"
    "input:\n"
    "  format: csv\n"
    "  label: clicked\n"
    "  weight: w\n"
    "  timestamp: ts\n"
    "fields:\n"
    "  - name: age\n"
    "    type: numeric\n"
    "    transform: bins\n"
    "    edges: [18, 25.5, 40, 65]\n"
    "  - name: age_raw\n"
    "    column: age\n"
    "    type: numeric\n"
    "    transform: identity\n"
    "  - name: count\n"
    "    type: numeric\n"
    "    transform: log_bucket\n"
    "    missing: \"none\"\n"
    "  - name: site\n"
    "    type: categorical\n"
    "  - {name: device, column: \"device type\", type: categorical}\n"
    "crosses:\n"
    "  - [site, device]\n"
    "  - [age, site, device]\n";

TEST(spec_full_parse_and_accessors) {
    pr_spec *s = parse_ok(full_spec);
    ASSERT_EQ_INT(pr_spec_hash_bits(s), 18);
    ASSERT_EQ_INT(pr_spec_min_count(s), 3);
    ASSERT_EQ_INT(pr_spec_seed(s), 42);
    ASSERT_EQ_STR(pr_spec_input_format(s), "csv");
    ASSERT_EQ_STR(pr_spec_label_col(s), "clicked");
    ASSERT_EQ_STR(pr_spec_weight_col(s), "w");
    ASSERT_EQ_STR(pr_spec_ts_col(s), "ts");
    /* age is read by two fields but listed once */
    ASSERT_EQ_INT(pr_spec_n_input_columns(s), 4);
    ASSERT_EQ_STR(pr_spec_input_column(s, 0), "age");
    ASSERT_EQ_STR(pr_spec_input_column(s, 1), "count");
    ASSERT_EQ_STR(pr_spec_input_column(s, 2), "site");
    ASSERT_EQ_STR(pr_spec_input_column(s, 3), "device type");
    pr_err err;
    pr_featurizer *f = NULL;
    ASSERT_OK(pr_featurizer_new(s, &f, &err));
    ASSERT_EQ_INT(pr_featurizer_n_fields(f), 7);
    ASSERT_EQ_STR(pr_featurizer_field_name(f, 3), "site");
    ASSERT_EQ_STR(pr_featurizer_field_name(f, 5), "sitexdevice");
    ASSERT_EQ_STR(pr_featurizer_field_name(f, 6), "agexsitexdevice");
    ASSERT_TRUE(pr_featurizer_field_name(f, 7) == NULL);
    ASSERT_EQ_INT(pr_featurizer_hash_bits(f), 18);
    ASSERT_TRUE(!pr_featurizer_needs_fit(f));
    pr_featurizer_free(f);
    pr_spec_free(s);
}

typedef struct bad_case {
    const char *yaml;
    pr_status status;
    const char *message; /* substring expected in err.msg */
} bad_case;

#define V1 "version: 1\n"
#define CAT_A "  - {name: a, type: categorical}\n"

static const bad_case bad_cases[] = {
    {V1 "fields:\n" CAT_A "colour: red\n", PR_ERR_SPEC,
     "spec.yaml:4:1: unknown key 'colour' (expected version, hash_bits, seed, "
     "min_count, input, fields, crosses, request, entities, sources, aggregates, monitors)"},
    {V1 "fields:\n" CAT_A "  - name: b\n    type: numeric\n    transform: logg\n",
     PR_ERR_SPEC,
     "spec.yaml:6:16: fields[1].transform: unknown transform 'logg' (expected "
     "log_bucket, bins, quantile or identity)"},
    {V1 "fields:\n" CAT_A "crosses:\n  - [a, zz]\n", PR_ERR_SPEC,
     "spec.yaml:5:9: crosses[0][1]: unknown field 'zz'"},
    {V1 "fields:\n" CAT_A "  - {name: b, type: categorical}\n"
        "  - {name: a, type: numeric, transform: identity}\n",
     PR_ERR_SPEC, "spec.yaml:5:12: fields[2].name: duplicate field name 'a' (also fields[0])"},
    {V1 "hash_bits: 31\nfields:\n" CAT_A, PR_ERR_SPEC,
     "spec.yaml:2:12: hash_bits: 31 is out of range (expected 1..30)"},
    {V1 "hash_bits: 0\nfields:\n" CAT_A, PR_ERR_SPEC,
     "spec.yaml:2:12: hash_bits: 0 is out of range (expected 1..30)"},
    {V1 "hash_bits: twenty\nfields:\n" CAT_A, PR_ERR_SPEC,
     "spec.yaml:2:12: hash_bits: expected an integer in 1..30, got 'twenty'"},
    {V1 "fields:\n  - name: x\n    type: numeric\n    transform: bins\n",
     PR_ERR_SPEC, "spec.yaml:5:16: fields[0].edges: transform bins needs 'edges: [e1, e2, ...]'"},
    {V1 "fields:\n  - {name: x, type: numeric, transform: bins, edges: [1, 5, 5]}\n",
     PR_ERR_SPEC, "spec.yaml:3:61: fields[0].edges[2]: edges must be strictly increasing"},
    {V1 "fields:\n  - {name: x, type: numeric, transform: bins, edges: [1, nan]}\n",
     PR_ERR_SPEC, "fields[0].edges[1]: expected a finite number, got 'nan'"},
    {V1 "fields:\n  - {name: x, type: numeric, transform: bins, edges: []}\n",
     PR_ERR_SPEC, "fields[0].edges: expected at least one edge"},
    {V1 "fields:\n  - {name: x, type: numeric, transform: quantile}\n",
     PR_ERR_SPEC, "fields[0].bins: transform quantile needs 'bins: N'"},
    {V1 "fields:\n  - {name: x, type: numeric, transform: quantile, bins: 1}\n",
     PR_ERR_SPEC, "fields[0].bins: 1 is out of range (expected 2..65536)"},
    {V1 "fields:\n  - {name: x, type: numeric, transform: log_bucket, edges: [1]}\n",
     PR_ERR_SPEC, "fields[0].edges: edges apply to transform bins only"},
    {V1 "fields:\n  - {name: x, type: categorical, transform: log_bucket}\n",
     PR_ERR_SPEC, "fields[0].transform: categorical fields take no transform"},
    {V1 "fields:\n  - {name: x, type: numeric}\n", PR_ERR_SPEC,
     "spec.yaml:3:5: fields[0].transform: required for numeric fields"},
    {V1 "fields:\n  - {name: x, type: text}\n", PR_ERR_SPEC,
     "fields[0].type: unknown type 'text' (expected numeric or categorical)"},
    {V1 "fields:\n  - {type: categorical}\n", PR_ERR_SPEC,
     "spec.yaml:3:5: fields[0].name: required"},
    {V1 "fields:\n  - {name: \"a b\", type: categorical}\n", PR_ERR_SPEC,
     "fields[0].name: field names may use letters, digits"},
    {V1 "fields:\n  - {name: x, type: categorical, nmae: y}\n", PR_ERR_SPEC,
     "spec.yaml:3:34: fields[0]: unknown key 'nmae'"},
    {"fields:\n" CAT_A, PR_ERR_SPEC, "spec.yaml:1:1: version: required"},
    {"version: 2\nfields:\n" CAT_A, PR_ERR_VERSION,
     "spec.yaml:1:10: version: unsupported spec version 2"},
    {V1 "min_count: 256\nfields:\n" CAT_A, PR_ERR_SPEC,
     "spec.yaml:2:12: min_count: 256 is out of range (expected 0..255)"},
    {V1 "seed: -1\nfields:\n" CAT_A, PR_ERR_SPEC, "spec.yaml:2:7: seed: expected an integer"},
    {V1, PR_ERR_SPEC, "fields: required"},
    {V1 "fields: []\n", PR_ERR_SPEC, "spec.yaml:2:9: fields: expected at least one field"},
    {V1 "fields: a\n", PR_ERR_SPEC, "fields: expected a sequence of fields, got a scalar"},
    {V1 "fields:\n" CAT_A "crosses:\n  - [a]\n", PR_ERR_SPEC,
     "spec.yaml:5:5: crosses[0]: a cross names 2 to 4 fields, got 1"},
    {V1 "fields:\n" CAT_A "crosses:\n  - [a, a]\n", PR_ERR_SPEC,
     "crosses[0][1]: field 'a' appears twice"},
    {V1 "fields:\n" CAT_A "  - {name: n, type: numeric, transform: identity}\n"
        "crosses:\n  - [a, n]\n", PR_ERR_SPEC,
     "crosses[0][1]: field 'n' uses transform identity"},
    {V1 "fields:\n" CAT_A "  - {name: b, type: categorical}\n"
        "crosses:\n  - [a, b]\n  - [b, a]\n", PR_ERR_SPEC,
     "spec.yaml:7:5: crosses[1]: duplicate cross (same fields as crosses[0])"},
    {V1 "version: 1\nfields:\n" CAT_A, PR_ERR_SPEC,
     "spec.yaml:2:1: version: duplicate key (first at line 1)"},
    {V1 "input:\n  format: csv\n  lable: y\nfields:\n" CAT_A, PR_ERR_SPEC,
     "spec.yaml:4:3: input: unknown key 'lable' (expected format, label, weight, timestamp)"},
    {V1 "input:\n  label: \"\"\nfields:\n" CAT_A, PR_ERR_SPEC,
     "spec.yaml:3:10: input.label: expected a non-empty string"},
    {V1 "fields:\n  - {name: a, type: categorical\n", PR_ERR_SPEC,
     "spec.yaml:4:1: YAML syntax error: did not find expected ',' or '}'"},
    {"", PR_ERR_SPEC, "spec.yaml:1:1: empty spec"},
    {"- 1\n- 2\n", PR_ERR_SPEC, "spec.yaml:1:1: expected a mapping, got a sequence"},
    {V1 "fields:\n" CAT_A "---\nversion: 1\n", PR_ERR_SPEC,
     "spec.yaml:4:1: a spec is one YAML document; found another"},
    {V1 "fields:\n  - {name: [x], type: categorical}\n", PR_ERR_SPEC,
     "fields[0].name: expected a scalar value, got a sequence"},
};

TEST(spec_validation_errors_name_line_and_key) {
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        pr_err err;
        pr_spec *s = NULL;
        pr_status rc = pr_spec_parse(bad_cases[i].yaml, strlen(bad_cases[i].yaml),
                                     "spec.yaml", &s, &err);
        if (rc != bad_cases[i].status || !strstr(err.msg, bad_cases[i].message))
            TEST_FAIL("case %zu: got %s \"%s\", want %s containing \"%s\"", i,
                      pr_status_name(rc), err.msg,
                      pr_status_name(bad_cases[i].status), bad_cases[i].message);
        ASSERT_TRUE(s == NULL);
    }
}

TEST(spec_load_errors_name_the_file) {
    pr_err err;
    pr_spec *s = NULL;
    const char *path = test_path("bad.yaml");
    test_write_file(path, "version: 1\nfields:\n  - {name: I1, type: numeric, transform: logg}\n");
    ASSERT_STATUS(pr_spec_load(path, &s, &err), PR_ERR_SPEC);
    char want[600];
    snprintf(want, sizeof want, "%s:3:42: fields[0].transform: unknown transform 'logg'", path);
    ASSERT_CONTAINS(err.msg, want);
    ASSERT_TRUE(pr_spec_load(test_path("does-not-exist.yaml"), &s, &err) != PR_OK);
    ASSERT_CONTAINS(err.msg, "does-not-exist.yaml");
}

TEST(spec_size_limit) {
    pr_err err;
    pr_spec *s = NULL;
    size_t n = (1u << 20) + 1;
    char *big = malloc(n);
    memset(big, '#', n);
    ASSERT_STATUS(pr_spec_parse(big, n, "big.yaml", &s, &err), PR_ERR_LIMIT);
    free(big);
}

TEST(canonical_yaml_round_trip) {
    pr_err err;
    pr_spec *s1 = parse_ok(full_spec);
    char *y1 = NULL, *y2 = NULL;
    size_t l1 = 0, l2 = 0;
    ASSERT_OK(pr_spec_to_yaml(s1, &y1, &l1, &err));
    ASSERT_EQ_INT(l1, strlen(y1));
    pr_spec *s2 = parse_ok(y1);
    ASSERT_OK(pr_spec_to_yaml(s2, &y2, &l2, &err));
    ASSERT_EQ_STR(y1, y2); /* canonical text is a fixed point */
    ASSERT_CONTAINS(y1, "edges: [18, 25.5, 40, 65]");
    ASSERT_CONTAINS(y1, "column: \"device type\"");
    ASSERT_CONTAINS(y1, "seed: 42");

    /* Same featurization from both specs. */
    const char *names[] = {"device type", "site", "count", "age"};
    const char *vals[] = {"phone", "news.example", "1234", "31.5"};
    pr_featurizer *f1 = NULL, *f2 = NULL;
    ASSERT_OK(pr_featurizer_new(s1, &f1, &err));
    ASSERT_OK(pr_featurizer_new(s2, &f2, &err));
    ASSERT_OK(pr_featurizer_bind(f1, names, 4, &err));
    ASSERT_OK(pr_featurizer_bind(f2, names, 4, &err));
    ASSERT_EQ_STR(pr_featurizer_spec_yaml(f1), y1);
    for (uint32_t k = 0; k < 7; k++) {
        ASSERT_EQ_INT(index_of(f1, vals, 4, k), index_of(f2, vals, 4, k));
        ASSERT_EQ_INT(pr_featurizer_rare_index(f1, k), pr_featurizer_rare_index(f2, k));
    }
    /* The seed matters: the same spec with another seed moves indices. */
    pr_spec *s3 = parse_ok("version: 1\nseed: 43\nfields:\n"
                           "  - {name: site, type: categorical}\n");
    pr_featurizer *f3 = NULL;
    ASSERT_OK(pr_featurizer_new(s3, &f3, &err));
    ASSERT_OK(pr_featurizer_bind(f3, names, 4, &err));
    const char *site_only[] = {"x", "news.example"};
    ASSERT_TRUE(index_of(f3, site_only, 2, 0) != index_of(f1, vals, 4, 3));
    free(y1);
    free(y2);
    pr_featurizer_free(f1);
    pr_featurizer_free(f2);
    pr_featurizer_free(f3);
    pr_spec_free(s1);
    pr_spec_free(s2);
    pr_spec_free(s3);
}

/* ---------------------------------------------------------------- hashing */

/* Cross-machine stability. These indices were computed once by this code
 * and pinned: they are what every model trained with the default Criteo
 * spec depends on. If this test fails, the hashing scheme changed, and with
 * it every feature index of every existing model. That must be a
 * deliberate, versioned change, never an accident. */
TEST(hash_indices_are_pinned) {
    pr_featurizer *f = featurizer_ok(pr_spec_default_criteo(), criteo_names, 39);
    pr_err err;
    row r;
    pr_arena a;
    pr_example ex;
    pr_arena_init(&a, NULL, 0, 0);
    ASSERT_OK(pr_featurizer_apply(f, make_row(&r, criteo_row, 39), &a, &ex, &err));
    ASSERT_EQ_INT(ex.n, 39);
    static const uint32_t pinned[39] = {
        232617, 441147, 482709, 1033431, 37923,  653310, 443642, 396293,
        587855, 1004851, 747158, 466127, 453208, 705086, 601618, 509137,
        339023, 170903, 1019700, 71641, 753342, 2530,   460763, 657428,
        400069, 210714, 812818, 598161, 257194, 430936, 459859, 449484,
        586291, 800375, 929019, 1023823, 598319, 956218, 566608};
    for (uint32_t k = 0; k < 39; k++) {
        if (ex.f[k].index != pinned[k])
            TEST_FAIL("field %u (%s): index %u, pinned %u", k,
                      pr_featurizer_field_name(f, k), ex.f[k].index, pinned[k]);
        ASSERT_EQ_INT(ex.f[k].field, k);
        ASSERT_TRUE(ex.f[k].value == 1.0f);
    }
    static const uint32_t pinned_rare[3] = {382029, 911215, 880479};
    ASSERT_EQ_INT(pr_featurizer_rare_index(f, 0), pinned_rare[0]);
    ASSERT_EQ_INT(pr_featurizer_rare_index(f, 13), pinned_rare[1]);
    ASSERT_EQ_INT(pr_featurizer_rare_index(f, 38), pinned_rare[2]);
    ASSERT_EQ_INT(pr_featurizer_rare_index(f, 39), UINT32_MAX);
    /* The raw xxh3 underneath, for one token. */
    ASSERT_EQ_INT(pr_hash64("68fd1e64", 8, 0), UINT64_C(49613333376404301));
    pr_arena_free(&a);
    pr_featurizer_free(f);
}

/* The featurizer's inlined hash is pr_hash64, bit for bit. */
TEST(inline_hash_is_pr_hash64) {
    unsigned char buf[300];
    uint64_t s = 12345;
    for (size_t i = 0; i < sizeof buf; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        buf[i] = (unsigned char)(s >> 56);
    }
    for (size_t len = 0; len <= sizeof buf; len++)
        for (uint64_t seed = 0; seed < 3; seed++) {
            uint64_t sd = seed * 0x9E3779B97F4A7C15ull;
            if (pr__hash(buf, len, sd) != pr_hash64(buf, len, sd))
                TEST_FAIL("pr__hash != pr_hash64 at len %zu seed %llu", len,
                          (unsigned long long)sd);
        }
}

/* ---------------------------------------------------------------- transforms */

static const char *x_names[] = {"x"};

TEST(log_bucket_boundaries) {
    pr_featurizer *f = featurizer_ok(
        "version: 1\nfields:\n  - {name: x, type: numeric, transform: log_bucket}\n",
        x_names, 1);
    /* small values are their own token */
    ASSERT_EQ_INT(one_value_index(f, "0"), code_index("x", 0, 20));
    ASSERT_EQ_INT(one_value_index(f, "2"), code_index("x", 2, 20));
    ASSERT_EQ_INT(one_value_index(f, "-3"), code_index("x", -3, 20));
    ASSERT_EQ_INT(one_value_index(f, "-2.5"), code_index("x", -3, 20)); /* floor */
    ASSERT_EQ_INT(one_value_index(f, "1.5"), code_index("x", 1, 20));
    /* above 2: floor(ln(x)^2), tagged apart from the small values */
    ASSERT_EQ_INT(one_value_index(f, "3"), code_index("x", PR__LOG_TAG + 1, 20));
    ASSERT_EQ_INT(one_value_index(f, "4"), code_index("x", PR__LOG_TAG + 1, 20));
    ASSERT_EQ_INT(one_value_index(f, "5"), code_index("x", PR__LOG_TAG + 2, 20));
    ASSERT_EQ_INT(one_value_index(f, "1382"), code_index("x", PR__LOG_TAG + 52, 20));
    ASSERT_TRUE(one_value_index(f, "5") != one_value_index(f, "2"));
    /* ln(x)^2 crosses 4 at x = e^2 = 7.389 */
    ASSERT_EQ_INT(one_value_index(f, "7.38"), code_index("x", PR__LOG_TAG + 3, 20));
    ASSERT_EQ_INT(one_value_index(f, "7.39"), code_index("x", PR__LOG_TAG + 4, 20));
    /* the integer fast path (and its table) agrees with the general path */
    static const char *const pairs[][2] = {
        {"7", "7.0"}, {"1023", "1023.0"}, {"1024", "1.024e3"},
        {"123456789012345678", "123456789012345678.0"}, {"+12", " 12 "},
        {"-7", "-7.0"}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        ASSERT_EQ_INT(one_value_index(f, pairs[i][0]), one_value_index(f, pairs[i][1]));
    for (int64_t v = 0; v < 3000; v++) {
        char a[32], b[32];
        snprintf(a, sizeof a, "%lld", (long long)v);
        snprintf(b, sizeof b, "%lld.0", (long long)v);
        ASSERT_EQ_INT(one_value_index(f, a), one_value_index(f, b));
    }
    pr_featurizer_free(f);
}

TEST(bins_boundaries) {
    static const double edges[] = {0, 10, 20};
    ASSERT_EQ_INT(pr__bin_of(edges, 3, -1), 0);
    ASSERT_EQ_INT(pr__bin_of(edges, 3, 0), 1); /* an edge opens its bin */
    ASSERT_EQ_INT(pr__bin_of(edges, 3, 9.999), 1);
    ASSERT_EQ_INT(pr__bin_of(edges, 3, 10), 2);
    ASSERT_EQ_INT(pr__bin_of(edges, 3, 20), 3);
    ASSERT_EQ_INT(pr__bin_of(edges, 3, 1e300), 3);
    ASSERT_EQ_INT(pr__bin_of(edges, 1, 5), 1);

    pr_featurizer *f = featurizer_ok(
        "version: 1\nhash_bits: 24\nfields:\n"
        "  - {name: x, type: numeric, transform: bins, edges: [0, 10, 20]}\n",
        x_names, 1);
    ASSERT_EQ_INT(one_value_index(f, "-5"), code_index("x", 0, 24));
    ASSERT_EQ_INT(one_value_index(f, "0"), code_index("x", 1, 24));
    ASSERT_EQ_INT(one_value_index(f, "9.5"), code_index("x", 1, 24));
    ASSERT_EQ_INT(one_value_index(f, "10"), code_index("x", 2, 24));
    ASSERT_EQ_INT(one_value_index(f, "25"), code_index("x", 3, 24));
    ASSERT_TRUE(one_value_index(f, "25") < (1u << 24));
    pr_featurizer_free(f);
}

TEST(quantile_fit_learns_edges) {
    pr_err err;
    const char *yaml =
        "version: 1\nfields:\n"
        "  - {name: x, type: numeric, transform: quantile, bins: 4}\n"
        "  - {name: c, type: categorical}\n";
    const char *names[] = {"x", "c"};
    pr_featurizer *f = featurizer_ok(yaml, names, 2);
    ASSERT_TRUE(pr_featurizer_needs_fit(f));
    row r;
    pr_arena a;
    pr_example ex;
    pr_arena_init(&a, NULL, 0, 0);
    const char *vals[2] = {"5", "k"};
    ASSERT_STATUS(pr_featurizer_apply(f, make_row(&r, vals, 2), &a, &ex, &err),
                  PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "not fitted");
    /* values 1000 down to 1, plus missing and NaN values that must be ignored */
    for (int v = 1000; v >= 1; v--) {
        char buf[16];
        snprintf(buf, sizeof buf, "%d", v);
        vals[0] = buf;
        ASSERT_OK(pr_featurizer_fit_add(f, make_row(&r, vals, 2), &err));
        vals[0] = v % 2 ? "" : "nan";
        ASSERT_OK(pr_featurizer_fit_add(f, make_row(&r, vals, 2), &err));
    }
    vals[0] = "abc";
    ASSERT_STATUS(pr_featurizer_fit_add(f, make_row(&r, vals, 2), &err), PR_ERR_PARSE);
    ASSERT_CONTAINS(err.msg, "data.tsv:7: field 'x': expected a number, got 'abc'");
    ASSERT_OK(pr_featurizer_fit_finish(f, &err));
    ASSERT_TRUE(!pr_featurizer_needs_fit(f));
    const char *fitted = pr_featurizer_spec_yaml(f);
    ASSERT_CONTAINS(fitted, "transform: bins\n    edges: [251, 501, 751]\n");
    vals[0] = "250";
    ASSERT_EQ_INT(index_of(f, vals, 2, 0), code_index("x", 0, 20));
    vals[0] = "251";
    ASSERT_EQ_INT(index_of(f, vals, 2, 0), code_index("x", 1, 20));
    vals[0] = "999";
    ASSERT_EQ_INT(index_of(f, vals, 2, 0), code_index("x", 3, 20));

    /* The fitted YAML rebuilds the same featurizer with no fitting. */
    pr_featurizer *g = featurizer_ok(fitted, names, 2);
    ASSERT_TRUE(!pr_featurizer_needs_fit(g));
    ASSERT_EQ_STR(pr_featurizer_spec_yaml(g), fitted);
    for (int v = 0; v < 1100; v += 7) {
        char buf[16];
        snprintf(buf, sizeof buf, "%d", v);
        vals[0] = buf;
        ASSERT_EQ_INT(index_of(f, vals, 2, 0), index_of(g, vals, 2, 0));
    }
    pr_featurizer_free(g);
    pr_featurizer_free(f);

    /* A field that never saw a number cannot be fitted. */
    f = featurizer_ok(yaml, names, 2);
    vals[0] = "";
    ASSERT_OK(pr_featurizer_fit_add(f, make_row(&r, vals, 2), &err));
    ASSERT_STATUS(pr_featurizer_fit_finish(f, &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "field 'x': quantile fit saw no numeric value");
    ASSERT_TRUE(pr_featurizer_needs_fit(f));
    pr_featurizer_free(f);
    pr_arena_free(&a);
}

TEST(identity_carries_the_value) {
    pr_err err;
    pr_featurizer *f = featurizer_ok(
        "version: 1\nfields:\n  - {name: x, type: numeric, transform: identity}\n",
        x_names, 1);
    row r;
    pr_arena a;
    pr_example ex;
    pr_arena_init(&a, NULL, 0, 0);
    const char *v[1] = {"2.5"};
    ASSERT_OK(pr_featurizer_apply(f, make_row(&r, v, 1), &a, &ex, &err));
    ASSERT_EQ_INT(ex.n, 1);
    ASSERT_NEAR(ex.f[0].value, 2.5, 0);
    ASSERT_EQ_INT(ex.f[0].index, code_index("x", PR__CODE_IDENTITY, 20));
    ASSERT_EQ_INT(one_value_index(f, "-7"), ex.f[0].index); /* one index */
    pr_arena_free(&a);
    pr_featurizer_free(f);
}

TEST(missing_tokens) {
    const char *names[] = {"n", "c", "d"};
    pr_featurizer *f = featurizer_ok(
        "version: 1\nfields:\n"
        "  - {name: n, type: numeric, transform: log_bucket}\n"
        "  - {name: c, type: categorical}\n"
        "  - {name: d, type: categorical, missing: \"\"}\n",
        names, 3);
    const char *empty[] = {"", "", ""};
    ASSERT_EQ_INT(index_of(f, empty, 3, 0), token_index("n", "__missing__", 20));
    ASSERT_EQ_INT(index_of(f, empty, 3, 1), token_index("c", "__missing__", 20));
    ASSERT_EQ_INT(index_of(f, empty, 3, 2), token_index("d", "", 20));
    const char *blank[] = {"  ", "x", "y"}; /* blank numeric = missing */
    ASSERT_EQ_INT(index_of(f, blank, 3, 0), token_index("n", "__missing__", 20));
    ASSERT_EQ_INT(index_of(f, blank, 3, 1), token_index("c", "x", 20));
    /* the same token in two fields lands on different indices */
    const char *same[] = {"1", "tok", "tok"};
    ASSERT_TRUE(index_of(f, same, 3, 1) != index_of(f, same, 3, 2));
    pr_featurizer_free(f);
}

TEST(non_finite_numerics_are_missing) {
    const char *names[] = {"a", "b"};
    pr_featurizer *f = featurizer_ok(
        "version: 1\nfields:\n"
        "  - {name: a, type: numeric, transform: log_bucket}\n"
        "  - {name: b, type: numeric, transform: identity}\n",
        names, 2);
    const char *bad[] = {"nan", "inf", "-inf", "NaN", "1e999", "-Infinity"};
    uint32_t miss_a = token_index("a", "__missing__", 20);
    uint32_t miss_b = token_index("b", "__missing__", 20);
    pr_err err;
    pr_arena a;
    pr_arena_init(&a, NULL, 0, 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *vals[2] = {bad[i], bad[i]};
        row r;
        pr_example ex;
        ASSERT_OK(pr_featurizer_apply(f, make_row(&r, vals, 2), &a, &ex, &err));
        ASSERT_EQ_INT(ex.f[0].index, miss_a);
        ASSERT_EQ_INT(ex.f[1].index, miss_b);
        ASSERT_TRUE(ex.f[1].value == 1.0f);
    }
    /* finite as a double but not as a float: missing too */
    const char *huge[2] = {"1", "1e39"};
    row r;
    pr_example ex;
    ASSERT_OK(pr_featurizer_apply(f, make_row(&r, huge, 2), &a, &ex, &err));
    ASSERT_EQ_INT(ex.f[1].index, miss_b);
    ASSERT_TRUE(isfinite(ex.f[1].value));
    pr_arena_free(&a);
    pr_featurizer_free(f);
}

TEST(bad_rows_give_clear_errors) {
    pr_featurizer *f = featurizer_ok(pr_spec_default_criteo(), criteo_names, 39);
    pr_err err;
    row r;
    pr_arena a;
    pr_example ex;
    pr_arena_init(&a, NULL, 0, 0);
    const char *vals[39];
    memcpy(vals, criteo_row, sizeof vals);
    vals[2] = "abc";
    ASSERT_STATUS(pr_featurizer_apply(f, make_row(&r, vals, 39), &a, &ex, &err),
                  PR_ERR_PARSE);
    ASSERT_EQ_STR(err.msg, "data.tsv:7: field 'I3': expected a number, got 'abc'");
    vals[2] = "12x";
    ASSERT_STATUS(pr_featurizer_apply(f, make_row(&r, vals, 39), &a, &ex, &err),
                  PR_ERR_PARSE);
    vals[2] = "1\x01";
    ASSERT_STATUS(pr_featurizer_apply(f, make_row(&r, vals, 39), &a, &ex, &err),
                  PR_ERR_PARSE);
    ASSERT_CONTAINS(err.msg, "got '1\\x01'");
    vals[2] = "3";
    ASSERT_STATUS(pr_featurizer_apply(f, make_row(&r, vals, 20), &a, &ex, &err),
                  PR_ERR_PARSE);
    ASSERT_CONTAINS(err.msg, "data.tsv:7: row has 20 columns");
    make_row(&r, vals, 39);
    r.rec.weight = NAN;
    ASSERT_STATUS(pr_featurizer_apply(f, &r.rec, &a, &ex, &err), PR_ERR_PARSE);
    ASSERT_CONTAINS(err.msg, "weight must be a finite number");

    /* binding to an input without a spec column names the column */
    pr_featurizer *g = NULL;
    pr_spec *s = parse_ok(pr_spec_default_criteo());
    ASSERT_OK(pr_featurizer_new(s, &g, &err));
    ASSERT_STATUS(pr_featurizer_apply(g, make_row(&r, vals, 39), &a, &ex, &err),
                  PR_ERR_INVALID); /* not bound */
    ASSERT_STATUS(pr_featurizer_bind(g, criteo_names, 38, &err), PR_ERR_SPEC);
    ASSERT_CONTAINS(err.msg, "field 'C26' reads column 'C26', which the input does not have");
    pr_featurizer_free(g);
    pr_spec_free(s);
    pr_arena_free(&a);
    pr_featurizer_free(f);
}

TEST(columns_bind_by_name_in_any_order) {
    /* Reversed column order: same features as the natural order. */
    const char *rev_names[39], *rev_vals[39];
    for (int i = 0; i < 39; i++) {
        rev_names[i] = criteo_names[38 - i];
        rev_vals[i] = criteo_row[38 - i];
    }
    pr_featurizer *f = featurizer_ok(pr_spec_default_criteo(), criteo_names, 39);
    pr_featurizer *g = featurizer_ok(pr_spec_default_criteo(), rev_names, 39);
    for (uint32_t k = 0; k < 39; k++)
        ASSERT_EQ_INT(index_of(f, criteo_row, 39, k), index_of(g, rev_vals, 39, k));
    pr_featurizer_free(f);
    pr_featurizer_free(g);
}

TEST(crosses) {
    const char *names[] = {"a", "b", "n"};
    pr_featurizer *f = featurizer_ok(
        "version: 1\nfields:\n"
        "  - {name: a, type: categorical}\n"
        "  - {name: b, type: categorical}\n"
        "  - {name: n, type: numeric, transform: log_bucket}\n"
        "crosses:\n  - [a, b]\n  - [b, n]\n",
        names, 3);
    ASSERT_EQ_INT(pr_featurizer_n_fields(f), 5);
    ASSERT_EQ_STR(pr_featurizer_field_name(f, 3), "axb");
    ASSERT_EQ_STR(pr_featurizer_field_name(f, 4), "bxn");
    const char *r1[] = {"x", "y", "3"};
    const char *r2[] = {"x", "z", "3"};
    const char *r3[] = {"w", "y", "4"}; /* 3 and 4 share a log bucket */
    uint32_t c1 = index_of(f, r1, 3, 3);
    ASSERT_TRUE(c1 != index_of(f, r2, 3, 3)); /* b changed */
    ASSERT_TRUE(c1 != index_of(f, r3, 3, 3)); /* a changed */
    ASSERT_EQ_INT(index_of(f, r1, 3, 4), index_of(f, r3, 3, 4));
    ASSERT_TRUE(index_of(f, r1, 3, 4) != index_of(f, r2, 3, 4));
    /* recompute the cross from the documented scheme */
    uint64_t seeds[2] = {pr__field_seed("a", 1, 0), pr__field_seed("b", 1, 0)};
    uint64_t hashes[2] = {pr_hash64("x", 1, seeds[0]), pr_hash64("y", 1, seeds[1])};
    uint64_t h = pr__hash_cross(hashes, 2, pr__cross_seed(seeds, 2, 0));
    ASSERT_EQ_INT(c1, (uint32_t)h & ((1u << 20) - 1));
    /* cross of missing values is still a feature */
    const char *empty[] = {"", "", ""};
    ASSERT_TRUE(index_of(f, empty, 3, 3) < (1u << 20));
    pr_featurizer_free(f);
}

/* pr_featurizer_apply_batch gives exactly what apply gives record by
 * record: candidates of one request (shared request columns, by pointer
 * or by equal bytes, numbers beside the text) and rows with nothing in
 * common, a set-valued field shared or not, crosses of every kind; a bad
 * number in the fourth record is that record's error. */
TEST(batch_equals_one_at_a_time) {
    const char *names[] = {"user", "ad", "dev", "tags", "n", "x"};
    pr_featurizer *f = featurizer_ok(
        "version: 1\nfields:\n"
        "  - {name: user, type: categorical}\n"
        "  - {name: ad, type: categorical}\n"
        "  - {name: dev, type: categorical}\n"
        "  - {name: tags, type: categorical, separator: \"|\"}\n"
        "  - {name: n, type: numeric, transform: log_bucket}\n"
        "  - {name: x, type: numeric, transform: identity}\n"
        "crosses:\n  - [user, ad]\n  - [user, dev]\n  - [tags, ad]\n  - [tags, dev]\n"
        "  - [n, dev]\n",
        names, 6);
    /* no set-valued field: pr_featurizer_apply takes its fast path */
    pr_featurizer *fast = featurizer_ok(
        "version: 1\nfields:\n"
        "  - {name: user, type: categorical}\n"
        "  - {name: ad, type: categorical}\n"
        "  - {name: n, type: numeric, transform: log_bucket}\n"
        "  - {name: x, type: numeric, transform: identity}\n"
        "crosses:\n  - [user, ad]\n  - [n, user]\n",
        names, 6);
    pr_err err;
    pr_arena arena;
    pr_arena_init(&arena, NULL, 0, 0);
    enum { N = 7 };
    static char texts[N][6][32];
    pr_bytes cols[N][6];
    double nums[N][6];
    pr_record recs[N];
    uint64_t rng = 42;
    for (int mode = 0; mode < 4; mode++) {
        /* mode 0: one request (user, dev, tags, x shared; ad, n vary);
         * 1: shared by equal bytes, not pointers, and numbers beside;
         * 2: nothing shared; 3: everything shared */
        for (int r = 0; r < N; r++) {
            int same = mode == 3;
            snprintf(texts[r][0], 32, "u%d", mode == 2 ? r : 5);
            snprintf(texts[r][1], 32, "ad%d", same ? 1 : r);
            snprintf(texts[r][2], 32, "%s", mode == 2 && r % 2 ? "ios" : "web");
            snprintf(texts[r][3], 32, "%s", mode == 2 ? (r % 3 ? "a|b" : "") : "c|a|c|d");
            snprintf(texts[r][4], 32, "%d", same ? 9 : (int)(pr_splitmix64(&rng) % 5000));
            snprintf(texts[r][5], 32, "%s", mode == 2 ? (r % 2 ? "2.5" : "") : "0.25");
            for (int c = 0; c < 6; c++) {
                /* mode 0: shared columns point at row 0's text */
                const char *p = mode == 0 && c != 1 && c != 4 ? texts[0][c] : texts[r][c];
                cols[r][c] = pr_bytes_of(p, strlen(p));
                nums[r][c] = NAN;
            }
            if (mode == 1) nums[r][5] = 0.25, nums[r][4] = r % 2 ? 3.0 : NAN;
            memset(&recs[r], 0, sizeof recs[r]);
            recs[r].label = (float)(r % 2);
            recs[r].has_label = 1;
            recs[r].weight = 1.0f + (float)r;
            recs[r].ts = 1000 + r;
            recs[r].n_cols = 6;
            recs[r].cols = cols[r];
            recs[r].num = mode == 1 ? nums[r] : NULL;
            recs[r].file = "batch";
            recs[r].line = (uint64_t)r + 1;
        }
        for (uint32_t n = 1; n <= N; n += 3)
        for (int which = 0; which < 2; which++) {
            const pr_featurizer *fz = which ? fast : f;
            pr_example one[N], many[N];
            for (uint32_t r = 0; r < n; r++)
                ASSERT_OK(pr_featurizer_apply(fz, &recs[r], &arena, &one[r], &err));
            /* the shared path itself (the public call falls back to one at
             * a time on any failure, which would hide a bug here) */
            ASSERT_OK(pr__featurizer_apply_batch_shared(fz, recs, n, &arena, many, &err));
            for (uint32_t r = 0; r < n; r++) {
                ASSERT_EQ_INT(many[r].n, one[r].n);
                ASSERT_TRUE(many[r].weight == one[r].weight && many[r].label == one[r].label &&
                            many[r].ts == one[r].ts);
                for (uint32_t k = 0; k < one[r].n; k++)
                    if (many[r].f[k].index != one[r].f[k].index ||
                        many[r].f[k].field != one[r].f[k].field ||
                        memcmp(&many[r].f[k].value, &one[r].f[k].value, sizeof(float)))
                        TEST_FAIL("spec %d, mode %d, %u records: record %u feature %u differs",
                                  which, mode, n, r, k);
            }
            pr_arena_reset(&arena);
        }
    }
    /* a bad number in record 3: its error, as apply words it */
    cols[3][4] = pr_bytes_of("abc", 3);
    recs[3].num = NULL;
    pr_example many[N], one;
    char want[PR_ERR_MSG_MAX];
    ASSERT_TRUE(pr_featurizer_apply(f, &recs[3], &arena, &one, &err) == PR_ERR_PARSE);
    snprintf(want, sizeof want, "%s", err.msg);
    ASSERT_TRUE(pr_featurizer_apply_batch(f, recs, N, &arena, many, &err) == PR_ERR_PARSE);
    ASSERT_TRUE(pr__featurizer_apply_batch_shared(f, recs, N, &arena, many, &err) != PR_OK);
    ASSERT_EQ_STR(err.msg, want);
    ASSERT_TRUE(strstr(want, "batch:4") != NULL);
    pr_arena_free(&arena);
    pr_featurizer_free(f);
    pr_featurizer_free(fast);
}

TEST(sparse_records) {
    pr_err err;
    pr_featurizer *f = featurizer_ok(
        "version: 1\nhash_bits: 16\nfields:\n"
        "  - {name: f0, type: categorical}\n"
        "  - {name: f1, type: categorical}\n"
        "  - {name: f2, type: categorical}\n",
        NULL, 0);
    pr_raw_feature raw[] = {{0, 12, 1.0f}, {2, 7, 0.5f}, {1, 12, 2.0f},
                            {2, 9, NAN}};
    pr_record rec;
    memset(&rec, 0, sizeof rec);
    rec.label = 0;
    rec.weight = 2;
    rec.ts = 1700000000;
    rec.n_feats = 4;
    rec.feats = raw;
    rec.file = "train.ffm";
    rec.line = 3;
    pr_arena a;
    pr_example ex;
    pr_arena_init(&a, NULL, 0, 0);
    ASSERT_OK(pr_featurizer_apply(f, &rec, &a, &ex, &err));
    ASSERT_EQ_INT(ex.n, 4);
    ASSERT_TRUE(ex.weight == 2.0f && ex.label == 0.0f);
    ASSERT_EQ_INT(ex.ts, 1700000000);
    ASSERT_EQ_INT(ex.f[0].field, 0);
    ASSERT_EQ_INT(ex.f[0].index, code_index("f0", 12, 16));
    ASSERT_EQ_INT(ex.f[1].field, 2);
    ASSERT_EQ_INT(ex.f[1].index, code_index("f2", 7, 16));
    ASSERT_TRUE(ex.f[1].value == 0.5f);
    /* same input index, other field: other bucket */
    ASSERT_EQ_INT(ex.f[2].index, code_index("f1", 12, 16));
    ASSERT_TRUE(ex.f[2].index != ex.f[0].index);
    /* a NaN value becomes the field's missing token with value 1 */
    ASSERT_EQ_INT(ex.f[3].index, token_index("f2", "__missing__", 16));
    ASSERT_TRUE(ex.f[3].value == 1.0f);

    raw[1].field = 3;
    ASSERT_STATUS(pr_featurizer_apply(f, &rec, &a, &ex, &err), PR_ERR_PARSE);
    ASSERT_EQ_STR(err.msg, "train.ffm:3: feature 2: field 3 is out of range "
                           "(the spec declares 3 fields)");
    rec.n_feats = 0;
    ASSERT_OK(pr_featurizer_apply(f, &rec, &a, &ex, &err));
    ASSERT_EQ_INT(ex.n, 0);
    pr_arena_free(&a);
    pr_featurizer_free(f);
}

/* ---------------------------------------------------------------- filter */

TEST(count_filter_maps_rare_features) {
    pr_err err;
    const char *names[] = {"c", "d"};
    pr_featurizer *f = featurizer_ok(
        "version: 1\nhash_bits: 16\nmin_count: 3\nfields:\n"
        "  - {name: c, type: categorical}\n"
        "  - {name: d, type: categorical}\n"
        "crosses:\n  - [c, d]\n",
        names, 2);
    pr_count_filter *cf = NULL;
    ASSERT_STATUS(pr_count_filter_new(16, 256, &cf, &err), PR_ERR_INVALID);
    ASSERT_STATUS(pr_count_filter_new(31, 3, &cf, &err), PR_ERR_INVALID);
    ASSERT_OK(pr_count_filter_new(16, 3, &cf, &err));
    pr_arena a;
    pr_arena_init(&a, NULL, 0, 0);
    /* "common" x3 in c, "seldom" x2 in c, d always "k" (x5) */
    const char *rows[5][2] = {{"common", "k"}, {"common", "k"}, {"common", "k"},
                              {"seldom", "k"}, {"seldom", "k"}};
    for (int i = 0; i < 5; i++) {
        row r;
        pr_example ex;
        ASSERT_OK(pr_featurizer_apply(f, make_row(&r, rows[i], 2), &a, &ex, &err));
        pr_count_filter_add(cf, &ex);
        pr_arena_reset(&a);
    }
    const uint64_t *bm = pr_count_filter_bitmap(cf);
    row r;
    pr_example ex;
    ASSERT_OK(pr_featurizer_apply(f, make_row(&r, rows[0], 2), &a, &ex, &err));
    uint32_t common = ex.f[0].index, k = ex.f[1].index, cross_common = ex.f[2].index;
    pr_featurizer_apply_filter(f, bm, &ex);
    ASSERT_EQ_INT(ex.f[0].index, common); /* seen 3 times: kept */
    ASSERT_EQ_INT(ex.f[1].index, k);
    ASSERT_EQ_INT(ex.f[2].index, cross_common);
    ASSERT_OK(pr_featurizer_apply(f, make_row(&r, rows[3], 2), &a, &ex, &err));
    pr_featurizer_apply_filter(f, bm, &ex);
    ASSERT_EQ_INT(ex.f[0].index, pr_featurizer_rare_index(f, 0)); /* 2 < 3 */
    ASSERT_EQ_INT(ex.f[1].index, k);
    ASSERT_EQ_INT(ex.f[2].index, pr_featurizer_rare_index(f, 2));
    const char *unseen[2] = {"never", "k"};
    ASSERT_OK(pr_featurizer_apply(f, make_row(&r, unseen, 2), &a, &ex, &err));
    pr_featurizer_apply_filter(f, bm, &ex);
    ASSERT_EQ_INT(ex.f[0].index, pr_featurizer_rare_index(f, 0));
    ASSERT_TRUE(pr_featurizer_rare_index(f, 0) != pr_featurizer_rare_index(f, 1));
    /* NULL bitmap: no-op */
    ASSERT_OK(pr_featurizer_apply(f, make_row(&r, unseen, 2), &a, &ex, &err));
    uint32_t before = ex.f[0].index;
    pr_featurizer_apply_filter(f, NULL, &ex);
    ASSERT_EQ_INT(ex.f[0].index, before);
    pr_count_filter_free(cf);

    /* min_count 0 admits everything; counters saturate without wrapping */
    ASSERT_OK(pr_count_filter_new(4, 0, &cf, &err));
    bm = pr_count_filter_bitmap(cf);
    ASSERT_TRUE(bm[0] == 0xffff);
    pr_count_filter_free(cf);
    ASSERT_OK(pr_count_filter_new(4, 255, &cf, &err));
    pr_feature one = {5, 0, 1.0f};
    pr_example x1 = {1, 1, 0, 1, &one};
    for (int i = 0; i < 300; i++) pr_count_filter_add(cf, &x1);
    bm = pr_count_filter_bitmap(cf);
    ASSERT_TRUE(bm[0] == (1u << 5));
    pr_count_filter_free(cf);
    pr_count_filter_free(NULL);
    pr_arena_free(&a);
    pr_featurizer_free(f);
}

/* ---------------------------------------------------------------- arena */

TEST(arena_reuse_does_not_grow) {
    pr_err err;
    const char *yaml =
        "version: 1\nfields:\n"
        "  - {name: I1, type: numeric, transform: log_bucket}\n"
        "  - {name: C1, type: categorical}\n"
        "  - {name: C2, type: categorical}\n"
        "crosses:\n  - [C1, C2]\n";
    const char *names[] = {"I1", "C1", "C2"};
    pr_featurizer *f = featurizer_ok(yaml, names, 3);
    pr_arena a;
    pr_arena_init(&a, NULL, 0, 0);
    row r;
    pr_example ex;
    const char *vals[3] = {"12", "a", "b"};
    ASSERT_OK(pr_featurizer_apply(f, make_row(&r, vals, 3), &a, &ex, &err));
    size_t per_example = a.total;
    ASSERT_TRUE(per_example >= 4 * sizeof(pr_feature));
    ASSERT_TRUE(per_example <= 4 * sizeof(pr_feature) + 16);
    pr_arena_reset(&a);
    void *block = a.head;
    size_t cap = a.cap;
    char num[16];
    for (int i = 0; i < 10000; i++) {
        snprintf(num, sizeof num, "%d", i);
        vals[0] = num;
        vals[1] = num;
        ASSERT_OK(pr_featurizer_apply(f, make_row(&r, vals, 3), &a, &ex, &err));
        ASSERT_EQ_INT(a.total, per_example);
        pr_arena_reset(&a);
    }
    ASSERT_TRUE(a.head == block); /* same block, never re-malloc'd */
    ASSERT_EQ_INT(a.cap, cap);

    /* a caller buffer that fits: no malloc at all */
    static _Alignas(16) char buf[256];
    pr_arena b;
    pr_arena_init(&b, buf, sizeof buf, 0);
    for (int i = 0; i < 100; i++) {
        ASSERT_OK(pr_featurizer_apply(f, make_row(&r, vals, 3), &b, &ex, &err));
        ASSERT_TRUE((char *)ex.f >= buf && (char *)ex.f < buf + sizeof buf);
        pr_arena_reset(&b);
    }
    ASSERT_TRUE(b.head == NULL);
    /* an arena with a ceiling refuses cleanly */
    pr_arena c;
    pr_arena_init(&c, NULL, 0, 16);
    ASSERT_STATUS(pr_featurizer_apply(f, make_row(&r, vals, 3), &c, &ex, &err),
                  PR_ERR_NOMEM);
    pr_arena_free(&c);
    pr_arena_free(&b);
    pr_arena_free(&a);
    pr_featurizer_free(f);
}

TEST(number_parser) {
    double x = 0;
    int is_int = 0;
    int64_t i = 0;
    ASSERT_EQ_INT(pr__parse_number("42", 2, &x, &is_int, &i), PR__NUM_OK);
    ASSERT_TRUE(is_int && i == 42 && x == 42.0);
    ASSERT_EQ_INT(pr__parse_number("-0.25", 5, &x, &is_int, &i), PR__NUM_OK);
    ASSERT_TRUE(!is_int && x == -0.25);
    ASSERT_EQ_INT(pr__parse_number("1234567890123456789", 19, &x, &is_int, &i), PR__NUM_OK);
    ASSERT_TRUE(!is_int); /* 19 digits take the general path */
    ASSERT_EQ_INT(pr__parse_number("", 0, &x, &is_int, &i), PR__NUM_MISSING);
    ASSERT_EQ_INT(pr__parse_number(" \t", 2, &x, &is_int, &i), PR__NUM_MISSING);
    ASSERT_EQ_INT(pr__parse_number("-", 1, &x, &is_int, &i), PR__NUM_BAD);
    ASSERT_EQ_INT(pr__parse_number("1 2", 3, &x, &is_int, &i), PR__NUM_BAD);
    ASSERT_EQ_INT(pr__parse_number("5\0", 2, &x, &is_int, &i), PR__NUM_BAD);
    char longnum[200];
    memset(longnum, '1', sizeof longnum);
    ASSERT_EQ_INT(pr__parse_number(longnum, sizeof longnum, &x, &is_int, &i), PR__NUM_BAD);
}

int main(void) {
    init_criteo_names();
    RUN(criteo_default_matches_shipped_file);
    RUN(spec_full_parse_and_accessors);
    RUN(spec_validation_errors_name_line_and_key);
    RUN(spec_load_errors_name_the_file);
    RUN(spec_size_limit);
    RUN(canonical_yaml_round_trip);
    RUN(hash_indices_are_pinned);
    RUN(inline_hash_is_pr_hash64);
    RUN(log_bucket_boundaries);
    RUN(bins_boundaries);
    RUN(quantile_fit_learns_edges);
    RUN(identity_carries_the_value);
    RUN(missing_tokens);
    RUN(non_finite_numerics_are_missing);
    RUN(bad_rows_give_clear_errors);
    RUN(columns_bind_by_name_in_any_order);
    RUN(crosses);
    RUN(batch_equals_one_at_a_time);
    RUN(sparse_records);
    RUN(count_filter_maps_rare_features);
    RUN(arena_reuse_does_not_grow);
    RUN(number_parser);
    TEST_MAIN_END();
}
