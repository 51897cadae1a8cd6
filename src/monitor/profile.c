/*
 * profile.c: the reference profile's builder (pr_profile_builder), its
 * accessors, and the link to the model file (an opaque section the model
 * keeps as bytes; decoded here, so a model with a damaged or newer profile
 * still loads and serves, with drift off).
 *
 * The builder keeps, per spec input column, a numeric or a categorical
 * reference builder (monitor_int.h says how each works and what memory it
 * takes), and at finish fixes each into a shape plus its counts. Columns
 * are those of pr_spec_input_column; a column is numeric when a numeric
 * field reads it (a column read both ways counts as numeric), else
 * categorical. A set-valued column is profiled as whole values.
 *
 * Row sampling keeps the cost bounded on large inputs: every row of the
 * first 2 PR__ROWS_PER_LEVEL is profiled; then each time the kept rows
 * reach 2 PR__ROWS_PER_LEVEL, the sampling rate halves and every count
 * already kept is thinned by half (odd counts rounded at random, moments'
 * weights halved), so the counts stay a uniform sample of all rows read so
 * far (a Bernoulli sample at rate 2^-level). n rows cost about
 * PR__ROWS_PER_LEVEL (1 + log2(n / PR__ROWS_PER_LEVEL)) profiled rows.
 * Rows, labels and the time span are counted over every row. A value that
 * occurs in no kept row is not in the membership filter: "unseen" means
 * unseen in the profiled sample.
 *
 * Ownership: the builder owns its column builders and copies names; the
 * finished profile owns everything it points to.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "feature/feature_int.h"
#include "feature/spec_yaml.h"
#include "monitor/monitor_int.h"
#include "pronto/train.h"

typedef struct mg_entry {
    uint64_t hash;
    uint64_t count;
    uint8_t len;
    char value[PR_SKETCH_VALUE_MAX];
} mg_entry;

/* The counters' index: open addressing over the hashes themselves, so a
 * probe touches one 8-byte slot (the entries, with their display bytes,
 * only on a hit or an insert). */
typedef struct mg_slot {
    uint64_t hash;
    uint64_t count;           /* the live count (entries' is synced from it) */
    uint32_t idx;             /* entry index + 1, 0 = empty */
} mg_slot;

typedef struct col_builder {
    char *name;
    pr_sketch_kind kind;
    pr_sketch_shape shape;
    pr_sketch sk;
    /* numeric: the sample the edges are cut from */
    double *sample;
    uint32_t n_sample;
    int fixed;
    /* categorical: value counters (exact over the sample; Misra-Gries
     * past PR__MG_CAP_MAX) and the full-size filter */
    mg_entry *mg;
    uint32_t mg_n, mg_cap;    /* entries used, allocated */
    mg_slot *mg_slot;         /* mg_nslots: a power of two >= 2 * mg_cap */
    uint32_t mg_nslots;
    int mg_inexact;           /* 1 once a Misra-Gries decrement happened */
    uint64_t *bloom;
} col_builder;

struct pr_profile_builder {
    uint32_t n;
    col_builder *cols;
    int32_t *map;             /* reader column -> builder column or -1 */
    uint32_t map_n;
    int32_t *field_col;       /* declared field -> builder column or -1 */
    uint32_t n_fields;
    pr_profile_summary sum;
    pr_scores scores;
    int have_scores;
    char *score_source;
    /* row sampling (see the top of this file) */
    uint32_t level;           /* rows are kept with probability 2^-level */
    uint64_t kept;            /* weight kept at this level, thinned */
    uint64_t rng;
};

static void col_free(col_builder *c) {
    free(c->name);
    free(c->sample);
    free(c->mg);
    free(c->mg_slot);
    free(c->bloom);
}

void pr_profile_builder_free(pr_profile_builder *b) {
    if (!b) return;
    for (uint32_t i = 0; b->cols && i < b->n; i++) col_free(&b->cols[i]);
    free(b->cols);
    free(b->map);
    free(b->field_col);
    free(b->score_source);
    free(b);
}

/* A column the request's timestamp derives (spec `request: time:`,
 * hour_of_day, day_of_week): not profiled. A window of minutes always sees
 * one hour of the day, so its distribution "drifts" against a day's by
 * construction, and it cannot break upstream. */
static int is_time_column(const pr_spec *spec, const char *name) {
    const pr__request_spec *r = &spec->store.request;
    for (uint32_t t = 0; t < r->n_time; t++)
        if (!strcmp(pr__time_feature_name(r->time[t]), name)) return 1;
    return 0;
}

pr_status pr_profile_builder_new(const pr_spec *spec, pr_profile_builder **out,
                                 pr_err *err) {
    *out = NULL;
    pr_profile_builder *b = calloc(1, sizeof *b);
    uint32_t all = pr_spec_n_input_columns(spec), n = 0;
    if (all > PR__MAX_COLUMNS) all = PR__MAX_COLUMNS;
    if (!b || !(b->cols = calloc(all ? all : 1, sizeof *b->cols))) goto nomem;
    for (uint32_t i = 0; i < all; i++) {
        const char *name = pr_spec_input_column(spec, i);
        if (is_time_column(spec, name)) continue;
        col_builder *c = &b->cols[n++];
        b->n = n;
        size_t len = strlen(name);
        if (len > PR__COLUMN_NAME_MAX) len = PR__COLUMN_NAME_MAX;
        if (!(c->name = malloc(len + 1))) goto nomem;
        memcpy(c->name, name, len);
        c->name[len] = '\0';
        c->kind = PR_SKETCH_CATEGORICAL;
        for (uint32_t f = 0; f < spec->n_fields; f++)
            if (spec->fields[f].type == PR__FIELD_NUMERIC &&
                strcmp(spec->fields[f].column, name) == 0)
                c->kind = PR_SKETCH_NUMERIC;
        memset(&c->shape, 0, sizeof c->shape);
        c->shape.kind = c->kind;
        c->shape.n_bins = c->kind == PR_SKETCH_NUMERIC ? 1 : 2;
        memset(c->shape.slot, -1, sizeof c->shape.slot);
        pr_sketch_init(&c->sk, &c->shape);
        if (c->kind == PR_SKETCH_NUMERIC) {
            if (!(c->sample = malloc(PR__SAMPLE * sizeof *c->sample))) goto nomem;
        } else {
            c->mg_cap = PR__MG_CAP;
            c->mg_nslots = 2 * PR__MG_CAP;
            c->mg = malloc(PR__MG_CAP * sizeof *c->mg);
            c->mg_slot = calloc(2 * PR__MG_CAP, sizeof *c->mg_slot);
            c->bloom = calloc(((size_t)1 << PR__BLOOM_BUILD_LOG2) / 64, 8);
            if (!c->mg || !c->mg_slot || !c->bloom) goto nomem;
        }
    }
    b->n_fields = spec->n_fields;
    if (!(b->field_col = calloc(b->n_fields ? b->n_fields : 1, sizeof *b->field_col))) goto nomem;
    for (uint32_t f = 0; f < b->n_fields; f++) {
        b->field_col[f] = -1;
        for (uint32_t j = 0; j < n; j++)
            if (strcmp(spec->fields[f].column, b->cols[j].name) == 0) b->field_col[f] = (int32_t)j;
    }
    b->sum.base_rate = NAN;
    b->rng = 0x70726f66ULL;
    *out = b;
    return PR_OK;
nomem:
    pr_profile_builder_free(b);
    return pr_err_set(err, PR_ERR_NOMEM, "profile: out of memory");
}

pr_status pr_profile_builder_bind(pr_profile_builder *b, const char *const *names,
                                  uint32_t n) {
    int32_t *map = realloc(b->map, (n ? n : 1) * sizeof *map);
    if (!map) return PR_ERR_NOMEM;
    b->map = map;
    b->map_n = n;
    for (uint32_t i = 0; i < n; i++) {
        map[i] = -1;
        for (uint32_t j = 0; names[i] && j < b->n; j++)
            if (strcmp(names[i], b->cols[j].name) == 0) map[i] = (int32_t)j;
    }
    return PR_OK;
}

pr_status pr_profile_builder_bind_featurizer(pr_profile_builder *b,
                                             const pr_featurizer *fz) {
    uint32_t max_col = 0, cols[4];
    for (uint32_t f = 0; f < b->n_fields; f++)
        if (pr_featurizer_field_columns(fz, f, cols, 4) == 1 && cols[0] + 1 > max_col)
            max_col = cols[0] + 1;
    int32_t *map = realloc(b->map, (max_col ? max_col : 1) * sizeof *map);
    if (!map) return PR_ERR_NOMEM;
    b->map = map;
    b->map_n = max_col;
    for (uint32_t i = 0; i < max_col; i++) map[i] = -1;
    for (uint32_t f = 0; f < b->n_fields; f++)
        if (pr_featurizer_field_columns(fz, f, cols, 4) == 1) map[cols[0]] = b->field_col[f];
    return PR_OK;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Cuts the edges from the sample and counts the sample into them. */
static void numeric_fix(col_builder *c) {
    qsort(c->sample, c->n_sample, sizeof *c->sample, cmp_double);
    pr_sketch keep = c->sk;
    pr__shape_numeric_from_sorted(&c->shape, c->sample, c->n_sample);
    c->sk = keep;
    c->sk.shape = &c->shape;
    c->sk.counts[0] = 0;  /* every finite value so far is in the sample */
    for (uint32_t i = 0; i < c->n_sample; i++)
        c->sk.counts[pr_sketch_bin(&c->shape, c->sample[i])]++;
    c->fixed = 1;
    free(c->sample);
    c->sample = NULL;
}

static void numeric_add(col_builder *c, const pr_bytes *v, double num) {
    double x = num;
    int r = isnan(num) ? pr__sketch_parse(v->ptr, v->len, &x) : 2;
    if (r == 0) {
        pr_sketch_add_missing(&c->sk);
        return;
    }
    if (r == 1 || !isfinite(x)) {
        pr_sketch_add_number(&c->sk, NAN);
        return;
    }
    if (!c->fixed && c->n_sample == PR__SAMPLE) numeric_fix(c);
    if (!c->fixed) c->sample[c->n_sample++] = x;
    pr_sketch_add_number(&c->sk, x);
}

static uint32_t mg_slots(const col_builder *c) { return c->mg_nslots; }

static void mg_reindex(col_builder *c) {
    uint32_t mask = mg_slots(c) - 1;
    memset(c->mg_slot, 0, mg_slots(c) * sizeof *c->mg_slot);
    for (uint32_t e = 0; e < c->mg_n; e++) {
        uint32_t i = (uint32_t)c->mg[e].hash & mask;
        while (c->mg_slot[i].idx) i = (i + 1) & mask;
        c->mg_slot[i].hash = c->mg[e].hash;
        c->mg_slot[i].count = c->mg[e].count;
        c->mg_slot[i].idx = e + 1;
    }
}

/* Copies the slots' counts into the entries. */
static void mg_sync(col_builder *c) {
    for (uint32_t i = 0; i < mg_slots(c); i++)
        if (c->mg_slot[i].idx) c->mg[c->mg_slot[i].idx - 1].count = c->mg_slot[i].count;
}

/* Doubles the counters (up to PR__MG_CAP_MAX); 0 when it cannot. */
static int mg_grow(col_builder *c) {
    if (c->mg_cap >= PR__MG_CAP_MAX) return 0;
    uint32_t cap = 2 * c->mg_cap > PR__MG_CAP_MAX ? PR__MG_CAP_MAX : 2 * c->mg_cap;
    uint32_t slots = c->mg_nslots;
    while (slots < 2 * cap) slots *= 2;
    mg_entry *e = realloc(c->mg, cap * sizeof *e);
    if (!e) return 0;
    c->mg = e;
    mg_slot *t = calloc(slots, sizeof *t);
    if (!t) return 0;
    mg_sync(c);
    free(c->mg_slot);
    c->mg_slot = t;
    c->mg_nslots = slots;
    c->mg_cap = cap;
    mg_reindex(c);
    return 1;
}

static void categorical_add(col_builder *c, const pr_bytes *v) {
    if (v->len == 0) {
        pr_sketch_add_missing(&c->sk);
        return;
    }
    c->sk.n++;
    uint64_t h = pr_sketch_hash(v->ptr, v->len);
    uint32_t mask = mg_slots(c) - 1, i = (uint32_t)h & mask;
    for (; c->mg_slot[i].idx; i = (i + 1) & mask) {
        if (c->mg_slot[i].hash == h) {
            c->mg_slot[i].count++;   /* counted, so already in the filter */
            return;
        }
    }
    c->bloom[pr__bloom_word(h, PR__BLOOM_BUILD_LOG2)] |= pr__bloom_bits(h);
    if (c->mg_n == c->mg_cap && mg_grow(c)) { /* the newcomer's slot moved */
        mask = mg_slots(c) - 1;
        for (i = (uint32_t)h & mask; c->mg_slot[i].idx; i = (i + 1) & mask) {
        }
    }
    if (c->mg_n < c->mg_cap) {
        mg_entry *e = &c->mg[c->mg_n++];
        e->hash = h;
        e->count = 1;
        e->len = (uint8_t)(v->len < PR_SKETCH_VALUE_MAX ? v->len : PR_SKETCH_VALUE_MAX);
        memcpy(e->value, v->ptr, e->len);
        c->mg_slot[i].hash = h;
        c->mg_slot[i].count = 1;
        c->mg_slot[i].idx = c->mg_n;
        return;
    }
    /* full at PR__MG_CAP_MAX (the sample outgrew its bound): Misra-Gries,
     * every counter (and the newcomer's) goes down by one */
    mg_sync(c);
    c->mg_inexact = 1;
    uint32_t k = 0;
    for (uint32_t e = 0; e < c->mg_n; e++)
        if (--c->mg[e].count > 0) c->mg[k++] = c->mg[e];
    c->mg_n = k;
    mg_reindex(c);
}

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int hour_of_day(int64_t t) {
    int64_t h = floor_div(t, 3600) % 24;
    return (int)(h < 0 ? h + 24 : h);
}

void pr_profile_builder_add_label(pr_profile_builder *b, float label,
                                  int has_label, int64_t ts) {
    b->sum.rows++;
    if (has_label) {
        b->sum.labeled++;
        if (label > 0.5f) b->sum.clicks++;
    }
    if (ts) {
        if (!b->sum.ts_min || ts < b->sum.ts_min) b->sum.ts_min = ts;
        if (ts > b->sum.ts_max) b->sum.ts_max = ts;
        b->sum.hour_rows[hour_of_day(ts)]++;
    }
}

static uint64_t thin(uint64_t c, uint64_t *rng) {
    return c / 2 + ((c & 1) && (pr_splitmix64(rng) >> 63));
}

static void thin_sketch(pr_sketch *s, uint64_t *rng) {
    uint64_t sum = 0;
    for (uint32_t i = 0; i < PR_SKETCH_MAX_TOP + 2; i++) sum += s->counts[i] = thin(s->counts[i], rng);
    s->n_missing = thin(s->n_missing, rng);
    s->n_nonfinite = thin(s->n_nonfinite, rng);
    s->n = sum + s->n_missing + s->n_nonfinite;
}

/* Halves the sampling rate and thins what was kept (file comment). */
static void next_level(pr_profile_builder *b) {
    b->level++;
    b->kept /= 2;
    for (uint32_t j = 0; j < b->n; j++) {
        col_builder *c = &b->cols[j];
        if (c->kind == PR_SKETCH_NUMERIC) {
            if (!c->fixed) numeric_fix(c);
            thin_sketch(&c->sk, &b->rng);
            uint64_t nf = c->sk.n - c->sk.n_missing - c->sk.n_nonfinite;
            /* same mean, half the weight: m2 scales with the weight */
            c->sk.m2 = c->sk.n_finite ? c->sk.m2 * (double)nf / (double)c->sk.n_finite : 0;
            c->sk.n_finite = nf;
        } else {
            uint64_t present = 0, sum = 0;
            uint32_t k = 0;
            mg_sync(c);
            for (uint32_t e = 0; e < c->mg_n; e++) {
                c->mg[e].count = thin(c->mg[e].count, &b->rng);
                sum += c->mg[e].count;
                if (c->mg[e].count > 0) c->mg[k++] = c->mg[e];
            }
            c->mg_n = k;
            mg_reindex(c);
            /* exact counters: the present count is their sum, thinned alike */
            present = c->mg_inexact ? thin(c->sk.n - c->sk.n_missing, &b->rng) : sum;
            c->sk.n_missing = thin(c->sk.n_missing, &b->rng);
            c->sk.n = present + c->sk.n_missing;
        }
    }
}

void pr_profile_builder_add(pr_profile_builder *b, const pr_record *rec) {
    pr_profile_builder_add_label(b, rec->label, rec->has_label, rec->ts);
    if (b->level && (pr_splitmix64(&b->rng) & (((uint64_t)1 << b->level) - 1)) != 0) return;
    if (++b->kept > 2 * PR__ROWS_PER_LEVEL && b->level < 40) next_level(b);
    uint32_t n = rec->n_cols < b->map_n ? rec->n_cols : b->map_n;
    for (uint32_t i = 0; i < n; i++) {
        int32_t j = b->map[i];
        if (j < 0) continue;
        col_builder *c = &b->cols[j];
        if (c->kind == PR_SKETCH_NUMERIC) numeric_add(c, &rec->cols[i], rec->num ? rec->num[i] : NAN);
        else categorical_add(c, &rec->cols[i]);
    }
}

void pr_profile_builder_set_scores(pr_profile_builder *b, const pr_scores *s,
                                   const char *source) {
    b->scores = *s;
    b->have_scores = 1;
    free(b->score_source);
    b->score_source = source ? strdup(source) : NULL;
}

static int cmp_mg(const void *a, const void *b) {
    const mg_entry *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return x->hash < y->hash ? -1 : x->hash > y->hash;
}

/* The estimated number of distinct values behind a filter of m bits with
 * `set` bits set (Swamidass and Baldi 2007). */
static double distinct_estimate(uint64_t set, uint64_t m, uint32_t k) {
    if (set >= m) set = m - 1;
    return -((double)m / k) * log(1.0 - (double)set / (double)m);
}

static void categorical_fix(col_builder *c, uint32_t max_log2, pr_sketch_shape *sh,
                            pr_sketch *sk) {
    *sh = c->shape;
    sh->kind = PR_SKETCH_CATEGORICAL;
    mg_sync(c);
    qsort(c->mg, c->mg_n, sizeof *c->mg, cmp_mg);
    uint32_t nt = c->mg_n < PR_SKETCH_MAX_TOP ? c->mg_n : PR_SKETCH_MAX_TOP;
    *sk = c->sk;
    sk->shape = sh;
    uint64_t present = c->sk.n - c->sk.n_missing, top = 0;
    for (uint32_t t = 0; t < nt; t++) {
        sh->top_hash[t] = c->mg[t].hash;
        memcpy(sh->top_value[t], c->mg[t].value, c->mg[t].len);
        sh->top_value[t][c->mg[t].len] = '\0';
        sk->counts[t] = c->mg[t].count;
        top += c->mg[t].count;
    }
    sh->n_top = nt;
    sh->n_bins = nt + 2;
    /* exact counters sum to the present count; after Misra-Gries
     * decrements they are lower bounds, and thinning rounds each count on
     * its own, so the top may exceed the present count by a few */
    if (top > present) {
        present = top;
        sk->n = present + sk->n_missing;
    }
    sk->counts[nt] = present - top;
    sk->counts[nt + 1] = 0;
    pr__shape_index_top(sh);
    /* the smallest fold keeping the false-positive rate near 1% */
    uint64_t m = (uint64_t)1 << PR__BLOOM_BUILD_LOG2, set = 0;
    for (uint64_t i = 0; i < m / 64; i++) set += (uint64_t)__builtin_popcountll(c->bloom[i]);
    double d = distinct_estimate(set, m, PR__BLOOM_K);
    uint32_t L = PR__BLOOM_MIN_LOG2;
    while (L < max_log2 && pow(1 - exp(-(double)PR__BLOOM_K * d / (double)((uint64_t)1 << L)),
                               PR__BLOOM_K) > 0.01)
        L++;
    uint64_t words = ((uint64_t)1 << L) / 64;
    sh->bloom = calloc(words, 8);
    sh->distinct_est = (uint64_t)(d + 0.5);
    if (!sh->bloom) {
        sh->bloom_log2 = 0;
        return;
    }
    for (uint64_t i = 0; i < m / 64; i++) sh->bloom[i & (words - 1)] |= c->bloom[i];
    sh->bloom_log2 = L;
    sh->bloom_k = PR__BLOOM_K;
    pr__bloom_set_fp(sh);
}

pr_status pr_profile_builder_finish(pr_profile_builder *b, pr_profile **out,
                                    pr_err *err) {
    *out = NULL;
    pr_profile *p = pr__profile_alloc(b->n);
    if (!p) return pr_err_set(err, PR_ERR_NOMEM, "profile: out of memory");
    uint32_t n_cat = 0;
    for (uint32_t i = 0; i < b->n; i++) n_cat += b->cols[i].kind == PR_SKETCH_CATEGORICAL;
    uint32_t max_log2 = PR__BLOOM_MAX_LOG2;
    while (max_log2 > PR__BLOOM_MIN_LOG2 &&
           (uint64_t)n_cat << max_log2 > (uint64_t)1 << PR__BLOOM_BUDGET_LOG2)
        max_log2--;
    for (uint32_t i = 0; i < b->n; i++) {
        col_builder *c = &b->cols[i];
        if (!(p->names[i] = strdup(c->name))) goto nomem;
        if (c->kind == PR_SKETCH_NUMERIC) {
            if (!c->fixed) numeric_fix(c);
            p->shapes[i] = c->shape;
            p->sketches[i] = c->sk;
            p->sketches[i].shape = &p->shapes[i];
        } else {
            categorical_fix(c, max_log2, &p->shapes[i], &p->sketches[i]);
            if (!p->shapes[i].bloom) goto nomem;
        }
    }
    pr_sketch_shape *ps = &p->shapes[b->n];
    if (b->have_scores) {
        pr__shape_from_scores(ps, &b->scores);
        pr__sketch_from_scores(&p->sketches[b->n], &b->scores);
        free(p->score_source);
        p->score_source = strdup(b->score_source ? b->score_source : "");
        if (!p->score_source) goto nomem;
    }
    p->sum = b->sum;
    p->sum.base_rate = b->sum.labeled ? (double)b->sum.clicks / (double)b->sum.labeled : NAN;
    *out = p;
    return PR_OK;
nomem:
    pr_profile_free(p);
    return pr_err_set(err, PR_ERR_NOMEM, "profile: out of memory");
}

/* ---------------------------------------------------------------- access */

uint32_t pr_profile_n_columns(const pr_profile *p) { return p->n_columns; }
const char *pr_profile_column_name(const pr_profile *p, uint32_t i) {
    return i < p->n_columns ? p->names[i] : NULL;
}
const pr_sketch *pr_profile_column(const pr_profile *p, uint32_t i) {
    return i < p->n_columns ? &p->sketches[i] : NULL;
}
int pr_profile_find_column(const pr_profile *p, const char *name) {
    for (uint32_t i = 0; i < p->n_columns; i++)
        if (strcmp(p->names[i], name) == 0) return (int)i;
    return -1;
}
const pr_sketch *pr_profile_prediction(const pr_profile *p) {
    return &p->sketches[p->n_columns];
}
const char *pr_profile_score_source(const pr_profile *p) { return p->score_source; }
void pr_profile_summary_get(const pr_profile *p, pr_profile_summary *out) { *out = p->sum; }

/* Adds the seconds of [a, b) to sec[hour of day]. */
static void spread(int64_t a, int64_t b, double *sec) {
    int64_t days = (b - a) / 86400;
    if (days > 0) {
        for (int k = 0; k < 24; k++) sec[k] += (double)days * 3600;
        a += days * 86400;
    }
    while (a < b) { /* less than a day: at most 25 pieces */
        int64_t next = (floor_div(a, 3600) + 1) * 3600;
        if (next > b) next = b;
        sec[hour_of_day(a)] += (double)(next - a);
        a = next;
    }
}

double pr_profile_expected_rows(const pr_profile *p, int64_t start_ms, int64_t end_ms) {
    const pr_profile_summary *s = &p->sum;
    uint64_t total = 0;
    for (int k = 0; k < 24; k++) total += s->hour_rows[k];
    if (!total || !s->ts_min || s->ts_max < s->ts_min || end_ms <= start_ms) return NAN;
    double ref[24] = {0}, win[24] = {0};
    spread(s->ts_min, s->ts_max + 1, ref); /* the span, its last second included */
    /* the window in seconds (its edges to the second, rounded down) */
    int64_t a = floor_div(start_ms, 1000), b = floor_div(end_ms, 1000);
    if (b - a > 400 * 86400) return NAN;
    spread(a, b, win);
    double e = 0;
    for (int k = 0; k < 24; k++)
        if (win[k] > 0) {
            if (!(ref[k] > 0)) return NAN; /* an hour the reference never saw */
            e += (double)s->hour_rows[k] / ref[k] * win[k];
        }
    return e;
}

pr_status pr_profile_of_model(const pr_model *m, pr_profile **out, pr_err *err) {
    size_t len = 0;
    const void *bytes = pr_model_profile_bytes(m, &len);
    *out = NULL;
    if (!bytes) return PR_OK;
    return pr_profile_decode(bytes, len, "model profile", out, err);
}

pr_status pr_profile_attach(pr_model *m, const pr_profile *p, pr_err *err) {
    uint8_t *bytes = NULL;
    size_t len = 0;
    pr_status s = pr_profile_encode(p, &bytes, &len, err);
    if (s == PR_OK) s = pr_model_set_profile_bytes(m, bytes, len, err);
    free(bytes);
    return s;
}

/* ---------------------------------------------------------------- from file */

typedef struct file_ctx {
    pr_profile_builder *b;
    const pr_model *model;
    const pr_featurizer *fz;
    pr_scores scores;
    uint32_t bound_for;   /* columns of the record the map was made for */
} file_ctx;

static pr_status file_row(void *vctx, pr_example *x, const pr_record *rec, pr_err *err) {
    file_ctx *c = vctx;
    pr_profile_builder_add(c->b, rec);
    if (c->model) pr_scores_add(&c->scores, pr_model_predict(c->model, x));
    return PR_OK;
}

pr_status pr_profile_build_from_file(const pr_spec *spec, const pr_model *model,
                                     const struct pr_input *in, uint64_t skip_bad,
                                     pr_profile **out, pr_err *err) {
    *out = NULL;
    pr_featurizer *fz = NULL;
    pr_profile_builder *b = NULL;
    pr_status s = pr_featurizer_new(spec, &fz, err);
    if (s == PR_OK) s = pr_profile_builder_new(spec, &b, err);
    file_ctx c;
    memset(&c, 0, sizeof c);
    c.b = b;
    c.model = model;
    c.fz = fz;
    /* the reader's columns are the spec's, in spec order, for csv and
     * jsonl; criteo's are its fixed 40 (bound by name the same way) */
    for (uint32_t i = 0; s == PR_OK && i < in->n_paths; i++) {
        pr_input one = {in->format, &in->paths[i], 1};
        pr_reader_opts ro;
        const char *cols[PR_MAX_INPUT_COLUMNS];
        pr_reader_opts_from_spec(&ro, in->format, spec, 1, cols, PR_MAX_INPUT_COLUMNS);
        pr_reader *r = NULL;
        s = pr_reader_open(in->paths[i], &ro, &r, err);
        if (s != PR_OK) break;
        const char *names[PR_MAX_INPUT_COLUMNS];
        uint32_t nc = pr_reader_n_columns(r);
        if (nc > PR_MAX_INPUT_COLUMNS) nc = PR_MAX_INPUT_COLUMNS;
        for (uint32_t k = 0; k < nc; k++) names[k] = pr_reader_column_name(r, k);
        s = pr_profile_builder_bind(b, names, nc) == PR_OK
                ? PR_OK : pr_err_set(err, PR_ERR_NOMEM, "profile: out of memory");
        pr_reader_free(r);
        uint64_t bad = 0;
        if (s == PR_OK)
            s = pr_featurize_inputs(fz, spec, model ? pr_model_filter(model) : NULL, &one, 1,
                                    skip_bad, &bad, file_row, &c, err);
    }
    if (s == PR_OK && model) pr_profile_builder_set_scores(b, &c.scores, "model scores");
    if (s == PR_OK) s = pr_profile_builder_finish(b, out, err);
    pr_profile_builder_free(b);
    pr_featurizer_free(fz);
    return s;
}
