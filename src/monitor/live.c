/*
 * live.c: pr_live, the live sketches of one worker: one pr_sketch per
 * profile column plus the prediction's, all borrowing the profile's shapes
 * (so a live value lands in the same bin a reference value would).
 *
 * A record's columns reach their sketches through a binding made once
 * (pr_live_bind: reader column -> profile column), so adding a request is
 * one pass over its columns with no string compare and no allocation.
 * One instance per thread; merge and reset are how a server rolls windows.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/monitor_int.h"

struct pr_live {
    const pr_profile *ref;
    pr_sketch *sk;            /* n_columns + 1, the last the prediction's */
    int32_t *map;             /* record column -> profile column or -1 */
    uint32_t map_n;
    uint64_t rows;
};

pr_status pr_live_new(const pr_profile *ref, pr_live **out, pr_err *err) {
    *out = NULL;
    pr_live *l = calloc(1, sizeof *l);
    if (!l || !(l->sk = calloc(ref->n_columns + 1, sizeof *l->sk))) {
        free(l);
        return pr_err_set(err, PR_ERR_NOMEM, "live profile: out of memory");
    }
    l->ref = ref;
    for (uint32_t i = 0; i <= ref->n_columns; i++) pr_sketch_init(&l->sk[i], &ref->shapes[i]);
    *out = l;
    return PR_OK;
}

pr_status pr_live_bind(pr_live *l, const char *const *names, uint32_t n,
                       pr_err *err) {
    int32_t *map = realloc(l->map, (n ? n : 1) * sizeof *map);
    if (!map) return pr_err_set(err, PR_ERR_NOMEM, "live profile: out of memory");
    l->map = map;
    l->map_n = n;
    for (uint32_t i = 0; i < n; i++)
        map[i] = names[i] ? pr_profile_find_column(l->ref, names[i]) : -1;
    return PR_OK;
}

void pr_live_add_record(pr_live *l, const pr_record *rec) {
    l->rows++;
    uint32_t n = rec->n_cols < l->map_n ? rec->n_cols : l->map_n;
    for (uint32_t i = 0; i < n; i++) {
        int32_t j = l->map[i];
        if (j < 0) continue;
        pr_sketch *s = &l->sk[j];
        if (rec->num && !isnan(rec->num[i]) && s->shape->kind == PR_SKETCH_NUMERIC)
            pr_sketch_add_number(s, rec->num[i]);
        else
            pr_sketch_add_text(s, rec->cols[i].ptr, rec->cols[i].len);
    }
}

void pr_live_add_value(pr_live *l, uint32_t column, const char *p, size_t len) {
    if (column < l->ref->n_columns) pr_sketch_add_text(&l->sk[column], p, len);
}

void pr_live_add_score(pr_live *l, double p) {
    pr_sketch_add_number(&l->sk[l->ref->n_columns], p >= 0 && p <= 1 ? p : NAN);
}

pr_status pr_live_merge(pr_live *dst, const pr_live *src, pr_err *err) {
    if (dst->ref != src->ref)
        return pr_err_set(err, PR_ERR_INVALID,
                          "live profile: merging sets made from different profiles");
    for (uint32_t i = 0; i <= dst->ref->n_columns; i++) pr_sketch_merge(&dst->sk[i], &src->sk[i]);
    dst->rows += src->rows;
    return PR_OK;
}

void pr_live_reset(pr_live *l) {
    for (uint32_t i = 0; i <= l->ref->n_columns; i++) pr_sketch_reset(&l->sk[i]);
    l->rows = 0;
}

uint64_t pr_live_rows(const pr_live *l) { return l->rows; }

const pr_sketch *pr_live_column(const pr_live *l, uint32_t i) {
    return i < l->ref->n_columns ? &l->sk[i] : NULL;
}

const pr_sketch *pr_live_prediction(const pr_live *l) { return &l->sk[l->ref->n_columns]; }

void pr_live_free(pr_live *l) {
    if (!l) return;
    free(l->sk);
    free(l->map);
    free(l);
}
