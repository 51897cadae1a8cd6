/*
 * bench_profile.c: what monitoring costs per request. Builds a reference
 * profile of a Criteo TSV file with pr_profile_build_from_file (the
 * shipped Criteo spec: 13 numeric, 26 categorical columns), loads up to
 * --rows rows of a second file into memory, then times, per worker-style
 * live set: pr_live_add_record over those rows (reported per row and per
 * field), pr_live_merge of two sets, and pr_drift_compute over every
 * column plus the prediction. Prints the encoded profile's size.
 *
 *   bench_profile REF.tsv LIVE.tsv [--rows N (200000)] [--rounds R (5)]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pronto/profile.h"
#include "pronto/reader.h"
#include "pronto/train.h"

static double now(void) { return pr_now(); }

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_profile REF.tsv LIVE.tsv [--rows N] [--rounds R]\n");
        return 2;
    }
    long rows_max = 200000, rounds = 5;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--rows")) rows_max = strtol(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--rounds")) rounds = strtol(argv[i + 1], NULL, 10);
    }
    pr_err err;
    pr_spec *spec = NULL;
    const char *y = pr_spec_default_criteo();
    if (pr_spec_parse(y, strlen(y), "criteo", &spec, &err) != PR_OK) goto fail;
    const char *ref_path = argv[1];
    pr_input in = {PR_FORMAT_CRITEO, &ref_path, 1};
    pr_profile *p = NULL;
    double t0 = now();
    if (pr_profile_build_from_file(spec, NULL, &in, 0, &p, &err) != PR_OK) goto fail;
    double t_build = now() - t0;
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (pr_profile_encode(p, &bytes, &len, &err) != PR_OK) goto fail;
    pr_profile_summary s;
    pr_profile_summary_get(p, &s);
    printf("reference: %llu rows profiled in %.2f s (%.0f ns/row), profile %zu bytes\n",
           (unsigned long long)s.rows, t_build, 1e9 * t_build / (double)s.rows, len);
    free(bytes);

    /* the live rows, copied out of the reader */
    pr_reader_opts o;
    pr_reader_opts_init(&o, PR_FORMAT_CRITEO);
    o.label_optional = 1;
    pr_reader *r = NULL;
    if (pr_reader_open(argv[2], &o, &r, &err) != PR_OK) goto fail;
    uint32_t nc = pr_reader_n_columns(r);
    const char *names[64];
    for (uint32_t c = 0; c < nc && c < 64; c++) names[c] = pr_reader_column_name(r, c);
    pr_bytes *cols = malloc((size_t)rows_max * nc * sizeof *cols);
    size_t text_cap = (size_t)rows_max * 256, text_len = 0;
    char *text = malloc(text_cap);
    long n = 0;
    pr_record rec;
    while (n < rows_max && pr_reader_next(r, &rec, &err) == PR_OK) {
        for (uint32_t c = 0; c < nc; c++) {
            pr_bytes v = c < rec.n_cols ? rec.cols[c] : pr_bytes_of("", 0);
            if (text_len + v.len > text_cap) break;
            memcpy(text + text_len, v.ptr, v.len);
            cols[(size_t)n * nc + c] = pr_bytes_of(text + text_len, v.len);
            text_len += v.len;
        }
        n++;
    }
    pr_reader_free(r);
    pr_live *a = NULL, *b = NULL;
    if (pr_live_new(p, &a, &err) != PR_OK || pr_live_new(p, &b, &err) != PR_OK) goto fail;
    if (pr_live_bind(a, names, nc, &err) != PR_OK || pr_live_bind(b, names, nc, &err) != PR_OK)
        goto fail;
    uint32_t fields = 0;
    for (uint32_t c = 0; c < nc; c++) fields += pr_profile_find_column(p, names[c]) >= 0;
    double best = 1e30;
    for (long k = 0; k < rounds; k++) {
        pr_live_reset(a);
        t0 = now();
        for (long i = 0; i < n; i++) {
            pr_record lr;
            memset(&lr, 0, sizeof lr);
            lr.n_cols = nc;
            lr.cols = &cols[(size_t)i * nc];
            pr_live_add_record(a, &lr);
            pr_live_add_score(a, 0.03 + (double)(i % 97) / 1000.0);
        }
        double t = now() - t0;
        if (t < best) best = t;
    }
    printf("live add: %ld rows x %u fields + score: %.0f ns/row, %.1f ns/field (best of %ld)\n",
           n, fields, 1e9 * best / (double)n, 1e9 * best / (double)n / (fields + 1), rounds);
    t0 = now();
    for (int k = 0; k < 1000; k++) pr_live_merge(b, a, &err);
    printf("merge: %.1f us per merge of two live sets\n", 1e6 * (now() - t0) / 1000);
    t0 = now();
    pr_drift d;
    for (int k = 0; k < 100; k++) {
        for (uint32_t c = 0; c < pr_profile_n_columns(p); c++)
            pr_drift_compute(pr_profile_column(p, c), pr_live_column(a, c), &d, &err);
        pr_drift_compute(pr_profile_prediction(p), pr_live_prediction(a), &d, &err);
    }
    printf("drift: %.1f us for all %u columns + prediction\n", 1e6 * (now() - t0) / 100,
           pr_profile_n_columns(p));
    for (uint32_t c = 0; c < 3; c++) {
        pr_drift_compute(pr_profile_column(p, c), pr_live_column(a, c), &d, &err);
        printf("  %s: psi %.4f js %.4f n %llu\n", pr_profile_column_name(p, c), d.psi, d.js,
               (unsigned long long)d.n);
    }
    pr_live_free(a);
    pr_live_free(b);
    free(cols);
    free(text);
    pr_profile_free(p);
    pr_spec_free(spec);
    return 0;
fail:
    fprintf(stderr, "bench_profile: %s\n", err.msg);
    return 1;
}
