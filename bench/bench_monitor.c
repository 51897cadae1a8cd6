/*
 * bench_monitor.c: what drift monitoring adds to a predict on the HTTP
 * thread (src/serve/monitor.c's hot path, through the public API it
 * calls): for a request of C candidates answered in full, 8 rows through
 * pr_live_add_record (every profiled column) and C scores through
 * pr_live_add_score, on a profile read from a model file; and the monitor
 * thread's per-minute work: merging W worker sets and the drift of every
 * column for the 1m, 5m and 1h windows (5 and 60 merges).
 *
 *   build/bench_monitor MODEL.pm [CANDIDATES] [REQUESTS]
 *
 * The rows' values are the profile's own top values (categorical) and
 * numbers spread over the reference's range, rotated, so lookups hit and
 * miss as live traffic does.
 */
#include <math.h>
#include <time.h>

#include "bench_common.h"
#include "pronto/model.h"
#include "pronto/profile.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

#define NROWS 64

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_monitor MODEL.pm [CANDIDATES] [REQUESTS]\n");
        return 2;
    }
    long cand = argc > 2 ? strtol(argv[2], NULL, 10) : 100;
    long reqs = argc > 3 ? strtol(argv[3], NULL, 10) : 200000;
    pr_err err;
    pr_model *m = NULL;
    pr_profile *prof = NULL;
    if (pr_model_load(argv[1], &m, &err) != PR_OK || pr_profile_of_model(m, &prof, &err) != PR_OK) {
        fprintf(stderr, "bench_monitor: %s\n", err.msg);
        return 1;
    }
    if (!prof) {
        fprintf(stderr, "bench_monitor: %s has no reference profile\n", argv[1]);
        return 1;
    }
    uint32_t nc = pr_profile_n_columns(prof);
    const char **names = calloc(nc, sizeof *names);
    for (uint32_t c = 0; c < nc; c++) names[c] = pr_profile_column_name(prof, c);
    /* NROWS records of nc text columns */
    static char text[NROWS][64][40];
    pr_bytes *cols = calloc((size_t)NROWS * nc, sizeof *cols);
    pr_record *rec = calloc(NROWS, sizeof *rec);
    for (int r = 0; r < NROWS; r++) {
        for (uint32_t c = 0; c < nc && c < 64; c++) {
            const pr_sketch *s = pr_profile_column(prof, c);
            const pr_sketch_shape *sh = s->shape;
            if (sh->kind == PR_SKETCH_CATEGORICAL)
                snprintf(text[r][c], sizeof text[r][c], "%s",
                         sh->n_top && r % 8 ? sh->top_value[r % sh->n_top] : "unseen-value");
            else
                snprintf(text[r][c], sizeof text[r][c], "%.6g",
                         s->n_finite ? s->min + (s->max - s->min) * (r + 0.5) / NROWS : r);
            cols[(size_t)r * nc + c] = pr_bytes_of(text[r][c], strlen(text[r][c]));
        }
        rec[r].n_cols = nc;
        rec[r].cols = &cols[(size_t)r * nc];
    }
    pr_live *l = NULL;
    if (pr_live_new(prof, &l, &err) != PR_OK || pr_live_bind(l, names, nc, &err) != PR_OK) {
        fprintf(stderr, "bench_monitor: %s\n", err.msg);
        return 1;
    }
    bench_print_load();
    double t0 = now();
    for (long q = 0; q < reqs; q++) {
        for (int j = 0; j < 8 && j < cand; j++) pr_live_add_record(l, &rec[(q * 8 + j) % NROWS]);
        for (long i = 0; i < cand; i++) pr_live_add_score(l, 0.001 + 0.3 * (double)((q + i) % 97) / 97);
    }
    double per_req = (now() - t0) / (double)reqs;
    printf("hot path: %u profiled columns, %ld candidates: %.2f us per request (8 rows + %ld scores)\n",
           nc, cand, per_req * 1e6, cand);
    /* the monitor thread: a minute's merge of 2 workers, then 1m, 5m, 1h */
    pr_live *win = NULL, *w5 = NULL;
    pr_live_new(prof, &win, &err);
    pr_live_new(prof, &w5, &err);
    int rounds = 200;
    t0 = now();
    for (int k = 0; k < rounds; k++) {
        pr_live_reset(win);
        pr_live_merge(win, l, &err);
        pr_live_merge(win, l, &err);
        for (int w = 0; w < 3; w++) {
            int merges = w == 0 ? 0 : w == 1 ? 5 : 60;
            pr_live_reset(w5);
            for (int i = 0; i < merges; i++) pr_live_merge(w5, win, &err);
            const pr_live *src = w ? w5 : win;
            for (uint32_t c = 0; c <= nc; c++) {
                pr_drift d;
                pr_drift_compute(c < nc ? pr_profile_column(prof, c) : pr_profile_prediction(prof),
                                 c < nc ? pr_live_column(src, c) : pr_live_prediction(src), &d, &err);
            }
        }
    }
    printf("monitor thread: %.1f us per closed minute and arm (2 workers merged, drift of %u "
           "fields for 1m, 5m, 1h)\n",
           (now() - t0) / rounds * 1e6, nc + 1);
    pr_live_free(l);
    pr_live_free(win);
    pr_live_free(w5);
    pr_profile_free(prof);
    pr_model_free(m);
    free(names);
    free(cols);
    free(rec);
    return 0;
}
