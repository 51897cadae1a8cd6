/*
 * metrics.c: exact offline evaluation metrics (log loss, NE, ROC AUC,
 * PR AUC, calibration, reliability table) and their renderings.
 *
 * Design. Rows are kept as 16-byte records {key, label, weight}, where key
 * is the prediction's IEEE-754 bits mapped to an unsigned integer that sorts
 * in the same order as the doubles (flip all bits of negatives, set the sign
 * bit of the rest; -0.0 is stored as +0.0 so equal doubles have equal keys).
 * compute() sorts the records with an LSD radix sort on the key (6 passes of
 * 11 bits, skipping passes whose digit is the same in every row, which is
 * typical for the top bits of probabilities), then walks them once upward
 * for ROC AUC and once downward for average precision, treating each run of
 * equal keys as one threshold, which is what makes ties count as half.
 *
 * Ownership. pr_metrics owns its row array; compute() borrows a scratch
 * array of the same size for the duration of the sort.
 *
 * Invariants. Every stored row has a finite prediction, a label in [0,1]
 * and a finite weight >= 0 (pr_metrics_add refuses anything else), so the
 * sums below never see NaN from the input. failed is sticky: once a merge
 * could not grow the array, compute() reports PR_ERR_NOMEM.
 */
#include <assert.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pronto/metrics.h"

typedef struct metrics_row {
    uint64_t key;   /* order-preserving bits of the prediction */
    float label;
    float weight;
} metrics_row;

struct pr_metrics {
    metrics_row *rows;
    size_t n, cap;
    int failed;
};

static uint64_t key_of(double p) {
    if (p == 0.0) p = 0.0; /* -0.0 -> +0.0 */
    uint64_t b;
    memcpy(&b, &p, 8);
    return (b & 0x8000000000000000ull) ? ~b : (b | 0x8000000000000000ull);
}

static double p_of(uint64_t key) {
    uint64_t b = (key & 0x8000000000000000ull) ? (key & ~0x8000000000000000ull) : ~key;
    double p;
    memcpy(&p, &b, 8);
    return p;
}

pr_status pr_metrics_new(pr_metrics **out, pr_err *err) {
    *out = calloc(1, sizeof **out);
    if (!*out) return pr_err_set(err, PR_ERR_NOMEM, "metrics: out of memory");
    return PR_OK;
}

void pr_metrics_free(pr_metrics *m) {
    if (!m) return;
    free(m->rows);
    free(m);
}

uint64_t pr_metrics_rows(const pr_metrics *m) { return m->n; }

static int reserve_rows(pr_metrics *m, size_t need) {
    if (need <= m->cap) return 1;
    size_t cap = m->cap ? m->cap : 1024;
    while (cap < need) cap *= 2;
    metrics_row *r = realloc(m->rows, cap * sizeof *r);
    if (!r) return 0;
    m->rows = r;
    m->cap = cap;
    return 1;
}

pr_status pr_metrics_add(pr_metrics *m, double p, float label, float weight) {
    if (!isfinite(p) || !(label >= 0.0f && label <= 1.0f) || !isfinite(weight) ||
        weight < 0.0f)
        return PR_ERR_INVALID;
    if (m->n == m->cap && !reserve_rows(m, m->n + 1)) return PR_ERR_NOMEM;
    m->rows[m->n++] = (metrics_row){key_of(p), label, weight};
    return PR_OK;
}

void pr_metrics_merge(pr_metrics *dst, const pr_metrics *src) {
    if (src->failed) dst->failed = 1;
    if (src->n == 0) return;
    if (!reserve_rows(dst, dst->n + src->n)) {
        dst->failed = 1;
        return;
    }
    memcpy(dst->rows + dst->n, src->rows, src->n * sizeof *src->rows);
    dst->n += src->n;
}

/* ---------------------------------------------------------------- sort */

#define RADIX_BITS 11
#define RADIX_SIZE (1u << RADIX_BITS)
#define RADIX_PASSES 6 /* 6 * 11 >= 64 */

/* Sorts rows[0..n) by key, stable; scratch holds n rows. Returns the array
 * that ends up holding the sorted rows (rows or scratch). */
static metrics_row *radix_sort(metrics_row *rows, metrics_row *scratch, size_t n) {
    static_assert(RADIX_BITS * RADIX_PASSES >= 64, "radix passes cover 64 bits");
    size_t (*count)[RADIX_SIZE] = calloc(RADIX_PASSES, sizeof *count);
    if (!count) return NULL;
    for (size_t i = 0; i < n; i++) {
        uint64_t k = rows[i].key;
        for (int d = 0; d < RADIX_PASSES; d++)
            count[d][(k >> (d * RADIX_BITS)) & (RADIX_SIZE - 1)]++;
    }
    metrics_row *from = rows, *to = scratch;
    for (int d = 0; d < RADIX_PASSES; d++) {
        size_t *c = count[d];
        unsigned shift = (unsigned)(d * RADIX_BITS);
        /* A digit shared by every row leaves the order as it is. */
        if (c[(from[0].key >> shift) & (RADIX_SIZE - 1)] == n) continue;
        size_t sum = 0;
        for (unsigned b = 0; b < RADIX_SIZE; b++) {
            size_t t = c[b];
            c[b] = sum;
            sum += t;
        }
        for (size_t i = 0; i < n; i++)
            to[c[(from[i].key >> shift) & (RADIX_SIZE - 1)]++] = from[i];
        metrics_row *t = from;
        from = to;
        to = t;
    }
    free(count);
    return from;
}

/* ---------------------------------------------------------------- compute */

static double entropy(double b) {
    if (!(b > 0.0 && b < 1.0)) return NAN;
    return -(b * log(b) + (1.0 - b) * log1p(-b));
}

static void fill_sums(const metrics_row *r, size_t n, pr_metrics_report *out) {
    double ll = 0, sum_p = 0;
    double bin_w[PR_METRICS_N_BINS] = {0}, bin_p[PR_METRICS_N_BINS] = {0},
           bin_y[PR_METRICS_N_BINS] = {0};
    for (size_t i = 0; i < n; i++) {
        double p = p_of(r[i].key), y = r[i].label, w = r[i].weight;
        out->weight_sum += w;
        out->positives += w * y;
        ll += w * pr_logloss_row(p, y);
        sum_p += w * p;
        double pc = p < 0 ? 0 : p > 1 ? 1 : p;
        int b = (int)(pc * PR_METRICS_N_BINS);
        if (b >= PR_METRICS_N_BINS) b = PR_METRICS_N_BINS - 1;
        out->bins[b].rows++;
        bin_w[b] += w;
        bin_p[b] += w * p;
        bin_y[b] += w * y;
    }
    double W = out->weight_sum;
    out->base_rate = W > 0 ? out->positives / W : NAN;
    out->log_loss = W > 0 ? ll / W : NAN;
    out->ne = out->log_loss / entropy(out->base_rate);
    out->mean_p = W > 0 ? sum_p / W : NAN;
    out->calibration = out->base_rate > 0 ? out->mean_p / out->base_rate : NAN;
    for (int b = 0; b < PR_METRICS_N_BINS; b++) {
        out->bins[b].lo = (double)b / PR_METRICS_N_BINS;
        out->bins[b].hi = (double)(b + 1) / PR_METRICS_N_BINS;
        out->bins[b].mean_p = bin_w[b] > 0 ? bin_p[b] / bin_w[b] : NAN;
        out->bins[b].observed = bin_w[b] > 0 ? bin_y[b] / bin_w[b] : NAN;
    }
}

/* r sorted ascending by key. Each run of equal keys is one threshold. */
static void fill_ranking(const metrics_row *r, size_t n, pr_metrics_report *out) {
    double P = out->positives, N = out->weight_sum - out->positives;
    /* ROC AUC = P(score of a positive > score of a negative) + 0.5 P(tie),
     * summed group by group from the lowest score up. */
    double neg_below = 0, auc = 0;
    for (size_t i = 0; i < n;) {
        double wp = 0, wn = 0;
        size_t j = i;
        for (; j < n && r[j].key == r[i].key; j++) {
            wp += (double)r[j].weight * r[j].label;
            wn += (double)r[j].weight * (1.0 - r[j].label);
        }
        auc += wp * (neg_below + 0.5 * wn);
        neg_below += wn;
        i = j;
    }
    out->auc = (P > 0 && N > 0) ? auc / (P * N) : NAN;
    /* Average precision: sum over thresholds (highest first) of
     * precision at the threshold times the recall it adds. */
    double tp = 0, fp = 0, ap = 0;
    for (size_t i = n; i > 0;) {
        double wp = 0, wn = 0;
        size_t j = i;
        for (; j > 0 && r[j - 1].key == r[i - 1].key; j--) {
            wp += (double)r[j - 1].weight * r[j - 1].label;
            wn += (double)r[j - 1].weight * (1.0 - r[j - 1].label);
        }
        tp += wp;
        fp += wn;
        if (wp > 0) ap += (tp / (tp + fp)) * (wp / P);
        i = j;
    }
    out->pr_auc = P > 0 ? ap : NAN;
}

pr_status pr_metrics_compute(pr_metrics *m, pr_metrics_report *out, pr_err *err) {
    memset(out, 0, sizeof *out);
    if (m->failed)
        return pr_err_set(err, PR_ERR_NOMEM, "metrics: rows were lost to an out-of-memory merge");
    out->rows = m->n;
    if (m->n > 1) {
        metrics_row *scratch = malloc(m->n * sizeof *scratch);
        metrics_row *sorted = scratch ? radix_sort(m->rows, scratch, m->n) : NULL;
        if (!sorted) {
            free(scratch);
            return pr_err_set(err, PR_ERR_NOMEM,
                              "metrics: out of memory sorting %zu rows", m->n);
        }
        if (sorted != m->rows) {
            free(m->rows);
            m->rows = scratch;  /* same size as rows: cap becomes n */
            m->cap = m->n;
        } else {
            free(scratch);
        }
    }
    fill_sums(m->rows, m->n, out);
    fill_ranking(m->rows, m->n, out);
    return PR_OK;
}

/* ---------------------------------------------------------------- output */

static void print_value(FILE *out, const char *name, double v, const char *fmt) {
    fprintf(out, "%-13s ", name);
    if (isnan(v)) fputs("n/a\n", out);
    else {
        fprintf(out, fmt, v);
        fputc('\n', out);
    }
}

static void print_cell(FILE *out, double v) {
    if (isnan(v)) fprintf(out, " %10s", "n/a");
    else fprintf(out, " %10.6f", v);
}

void pr_metrics_print(const pr_metrics_report *r, FILE *out) {
    fprintf(out, "%-13s %llu\n", "rows", (unsigned long long)r->rows);
    print_value(out, "weight", r->weight_sum, "%.6g");
    print_value(out, "positives", r->positives, "%.6g");
    print_value(out, "base rate", r->base_rate, "%.6f");
    print_value(out, "log loss", r->log_loss, "%.6f");
    print_value(out, "NE", r->ne, "%.6f");
    print_value(out, "AUC", r->auc, "%.6f");
    print_value(out, "PR AUC", r->pr_auc, "%.6f");
    print_value(out, "mean p", r->mean_p, "%.6f");
    print_value(out, "calibration", r->calibration, "%.4f");
    fprintf(out, "reliability (%d equal-width bins of p)\n", PR_METRICS_N_BINS);
    fprintf(out, "  %-10s %12s %10s %10s\n", "p", "rows", "mean p", "observed");
    for (int b = 0; b < PR_METRICS_N_BINS; b++) {
        const pr_metrics_bin *x = &r->bins[b];
        fprintf(out, "  [%.1f, %.1f%c %12llu", x->lo, x->hi,
                b == PR_METRICS_N_BINS - 1 ? ']' : ')', (unsigned long long)x->rows);
        print_cell(out, x->mean_p);
        print_cell(out, x->observed);
        fputc('\n', out);
    }
}

/* A JSON number, or null for NaN/inf (JSON has neither). */
static json_t *json_num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

pr_status pr_metrics_print_json(const pr_metrics_report *r, FILE *out, pr_err *err) {
    pr_status rc = PR_OK;
    json_t *o = json_object(), *bins = json_array();
    if (!o || !bins) goto nomem;
    int bad = 0;
    bad |= json_object_set_new(o, "rows", json_integer((json_int_t)r->rows));
    bad |= json_object_set_new(o, "weight_sum", json_num(r->weight_sum));
    bad |= json_object_set_new(o, "positives", json_num(r->positives));
    bad |= json_object_set_new(o, "base_rate", json_num(r->base_rate));
    bad |= json_object_set_new(o, "log_loss", json_num(r->log_loss));
    bad |= json_object_set_new(o, "ne", json_num(r->ne));
    bad |= json_object_set_new(o, "auc", json_num(r->auc));
    bad |= json_object_set_new(o, "pr_auc", json_num(r->pr_auc));
    bad |= json_object_set_new(o, "mean_p", json_num(r->mean_p));
    bad |= json_object_set_new(o, "calibration", json_num(r->calibration));
    for (int b = 0; b < PR_METRICS_N_BINS; b++) {
        const pr_metrics_bin *x = &r->bins[b];
        json_t *jb = json_object();
        if (!jb) goto nomem;
        bad |= json_object_set_new(jb, "lo", json_num(x->lo));
        bad |= json_object_set_new(jb, "hi", json_num(x->hi));
        bad |= json_object_set_new(jb, "rows", json_integer((json_int_t)x->rows));
        bad |= json_object_set_new(jb, "mean_p", json_num(x->mean_p));
        bad |= json_object_set_new(jb, "observed", json_num(x->observed));
        bad |= json_array_append_new(bins, jb);
    }
    bad |= json_object_set_new(o, "bins", bins);
    bins = NULL; /* owned by o now (or freed by jansson on failure) */
    if (bad) goto nomem;
    if (json_dumpf(o, out, JSON_COMPACT | JSON_REAL_PRECISION(17)) != 0 ||
        fputc('\n', out) == EOF) {
        rc = pr_err_set(err, PR_ERR_IO, "metrics: cannot write JSON output");
        goto done;
    }
    goto done;
nomem:
    rc = pr_err_set(err, PR_ERR_NOMEM, "metrics: out of memory building JSON");
done:
    json_decref(bins);
    json_decref(o);
    return rc;
}
