/*
 * quantile_fit.c: learning the edges of `transform: quantile` fields.
 *
 * Design: fit_add keeps, per quantile field, a uniform reservoir sample
 * (Vitter's algorithm R, at most PR__FIT_RESERVOIR values) of the finite
 * values seen, with a fixed-seed generator so the same input gives the same
 * edges on every machine. fit_finish sorts each sample and takes the values
 * at ranks k*n/N (k = 1..N-1) as edges, dropping repeats so edges stay
 * strictly increasing (a field with few distinct values gets fewer bins).
 * The field then becomes an ordinary bins field in the featurizer's spec
 * copy: the canonical YAML carries the edges, and a featurizer rebuilt from
 * it needs no fitting.
 *
 * Ownership: reservoirs are owned by the featurizer and freed by
 * fit_finish (or pr_featurizer_free); learned edges move into the spec.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "feature/featurizer_int.h"

static uint64_t next_random(uint64_t *state) { /* xorshift64* */
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * UINT64_C(0x2545F4914F6CDD1D);
}

/* Reservoirs grow by doubling up to PR__FIT_RESERVOIR values (8 MiB). */
static pr_status offer(pr_featurizer *f, pr__fit_sample *s, double x,
                       pr_err *err) {
    s->seen++;
    if (s->n < PR__FIT_RESERVOIR) {
        if (s->n == s->cap) {
            size_t cap = s->cap ? s->cap * 2 : 4096;
            double *v = realloc(s->values, cap * sizeof *v);
            if (!v)
                return pr_err_set(err, PR_ERR_NOMEM,
                                  "out of memory for quantile sample");
            s->values = v;
            s->cap = cap;
        }
        s->values[s->n++] = x;
        return PR_OK;
    }
    uint64_t j = next_random(&f->fit_rng) % s->seen;
    if (j < PR__FIT_RESERVOIR) s->values[j] = x;
    return PR_OK;
}

static pr_status ensure_samples(pr_featurizer *f, pr_err *err) {
    if (f->fit) return PR_OK;
    f->fit = calloc(f->n_fields, sizeof *f->fit);
    if (!f->fit) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    return PR_OK;
}

pr_status pr_featurizer_fit_add(pr_featurizer *f, const pr_record *rec,
                                pr_err *err) {
    char where[300];
    if (!f->bound || f->sparse)
        return pr_err_set(
            err, PR_ERR_INVALID,
            "quantile fitting needs a featurizer bound to columns");
    if (f->n_unfitted == 0) return PR_OK;
    if (rec->n_cols < f->min_cols) {
        pr__record_where(rec, where, sizeof where);
        return pr_err_set(err, PR_ERR_PARSE,
                          "%s: row has %u columns, the spec reads column %u",
                          where, rec->n_cols, f->min_cols);
    }
    pr_status rc = ensure_samples(f, err);
    if (rc != PR_OK) return rc;
    for (uint32_t i = 0; i < f->n_fields; i++) {
        if (f->fields[i].kind != PR__KIND_QUANTILE) continue;
        const pr_bytes *v = &rec->cols[f->cols[i]];
        double x = 0;
        int is_int = 0;
        int64_t iv = 0;
        pr__num_result r;
        if (rec->num && !isnan(rec->num[f->cols[i]])) {
            x = rec->num[f->cols[i]];
            r = isfinite(x) ? PR__NUM_OK : PR__NUM_MISSING;
        } else {
            r = pr__parse_number(v->ptr, v->len, &x, &is_int, &iv);
        }
        if (r == PR__NUM_BAD) {
            char shown[200];
            pr__record_where(rec, where, sizeof where);
            pr__render_bytes(shown, sizeof shown, v->ptr, v->len);
            return pr_err_set(err, PR_ERR_PARSE,
                              "%s: field '%s': expected a number, got '%s'",
                              where, f->names[i], shown);
        }
        if (r == PR__NUM_OK) {
            if (x == 0) x = 0.0; /* no -0 edge: see spec_parse.c get_double */
            rc = offer(f, &f->fit[i], x, err);
            if (rc != PR_OK) return rc;
        }
    }
    return PR_OK;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Learns the edges of field i from its sample (strictly increasing). */
static pr_status learn_edges(pr_featurizer *f, uint32_t i, double **edges,
                             uint32_t *n_edges, pr_err *err) {
    pr__fit_sample *s = &f->fit[i];
    uint32_t bins = f->spec->fields[i].quantile_bins;
    if (s->n == 0)
        return pr_err_set(err, PR_ERR_INVALID,
                          "%s: field '%s': quantile fit saw no numeric value "
                          "(all missing?); use another transform",
                          f->spec->name, f->names[i]);
    qsort(s->values, s->n, sizeof *s->values, cmp_double);
    double *e = malloc((size_t)(bins - 1) * sizeof *e);
    if (!e) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    uint32_t n = 0;
    for (uint32_t k = 1; k < bins; k++) {
        size_t rank = (size_t)((double)k * (double)s->n / (double)bins);
        if (rank >= s->n) rank = s->n - 1;
        double v = s->values[rank];
        if (n == 0 || v > e[n - 1]) e[n++] = v;
    }
    *edges = e;
    *n_edges = n;
    return PR_OK;
}

pr_status pr_featurizer_fit_finish(pr_featurizer *f, pr_err *err) {
    if (f->n_unfitted == 0) return PR_OK;
    pr_status rc = ensure_samples(f, err);
    if (rc != PR_OK) return rc;
    /* Learn everything first so a failure leaves the featurizer unchanged. */
    double **learned = calloc(f->n_fields, sizeof *learned);
    uint32_t *n_learned = calloc(f->n_fields, sizeof *n_learned);
    if (!learned || !n_learned) {
        rc = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (uint32_t i = 0; i < f->n_fields; i++) {
        if (f->fields[i].kind != PR__KIND_QUANTILE) continue;
        rc = learn_edges(f, i, &learned[i], &n_learned[i], err);
        if (rc != PR_OK) goto fail;
    }
    for (uint32_t i = 0; i < f->n_fields; i++) {
        if (f->fields[i].kind != PR__KIND_QUANTILE) continue;
        pr__field_spec *fs = &f->spec->fields[i];
        free(fs->edges);
        fs->edges = learned[i];
        fs->n_edges = n_learned[i];
        learned[i] = NULL;
        fs->quantile_bins = 0;
        fs->transform = PR__TRANSFORM_BINS;
        f->fields[i].kind = PR__KIND_BINS;
        f->fields[i].edges = fs->edges;
        f->fields[i].n_edges = fs->n_edges;
        free(f->fit[i].values);
        f->fit[i].values = NULL;
    }
    f->n_unfitted = 0;
    rc = pr__featurizer_refresh_yaml(f, err);
fail:
    if (learned)
        for (uint32_t i = 0; i < f->n_fields; i++) free(learned[i]);
    free(learned);
    free(n_learned);
    return rc;
}
