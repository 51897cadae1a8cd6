/*
 * model_factor.c: the example compaction FFM and FM share.
 *
 * Before the O(n^2) (FFM) or O(n*k) (FM) loops run, the example is turned
 * into parallel arrays holding only the features the model uses, with each
 * feature's bucket row resolved to a pointer once. Up to PR__FX_STACK
 * features live in the caller's stack buffer; a larger example borrows a
 * heap block for the call (no allocation on the common path).
 *
 * Ownership: the arrays belong to the pr__fx_buf; pr__fx_release frees the
 * heap block if one was taken. Rows point into the model's table.
 */
#include <math.h>
#include <stdlib.h>

#include "model/model_int.h"

int pr__fx_build(pr__fx *fx, pr__fx_buf *buf, const pr_example *x,
                 float *table, uint64_t mask, uint64_t row_floats,
                 uint32_t n_fields) {
    uint32_t n = x->n;
    buf->heap = NULL;
    fx->row = buf->row;
    fx->field = buf->field;
    fx->val = buf->val;
    fx->src = buf->src;
    fx->n = 0;
    fx->sq_norm = 0;
    if (n > PR__FX_STACK) {
        size_t per = sizeof(float *) + 2 * sizeof(uint32_t) + sizeof(float);
        char *h = malloc((size_t)n * per);
        if (!h) return 0;
        buf->heap = h;
        fx->row = (float **)h;
        fx->field = (uint32_t *)(h + (size_t)n * sizeof(float *));
        fx->src = fx->field + n;
        fx->val = (float *)(fx->src + n);
    }
    uint32_t m = 0;
    double sq = 0;
    for (uint32_t i = 0; i < n; i++) {
        const pr_feature *f = &x->f[i];
        if (!isfinite(f->value)) continue;
        if (n_fields && f->field >= n_fields) continue;
        fx->row[m] = table + (f->index & mask) * row_floats;
        fx->field[m] = n_fields ? f->field : 0;
        float v = pr__clamp_value(f->value);
        fx->val[m] = v;
        fx->src[m] = i;
        sq += (double)v * v;
        m++;
    }
    fx->n = m;
    fx->sq_norm = sq;
    return 1;
}

void pr__fx_release(pr__fx_buf *buf) {
    free(buf->heap);
    buf->heap = NULL;
}
