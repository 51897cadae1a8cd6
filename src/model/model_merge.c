/*
 * model_merge.c: merging replicas of one model for data-parallel training
 * (pr_model_merge_*, model.h; the exchange itself is src/train/dist.c).
 *
 * Every replica packs each unit (a hash bucket; the bias is the last unit)
 * into unit_floats floats whose element-wise sum over the replicas is all
 * that unpack needs; the sum is taken by MPI_Allreduce, so no replica ever
 * sees another's state, and all of them compute the same merged values from
 * the same sums.
 *
 * FTRL-LR (slot {w, z, s = sqrt(n), unused}; snapshot {z0, s0} of the last
 * merge kept here, 8 bytes a bucket, for the modes that need it):
 *   sum       pack {z - z0, n - n0}; z = z0 + sum, n = n0 + sum. z and n
 *             are sums over examples in FTRL, so this is what one process
 *             would hold had it seen every replica's gradients, computed
 *             at weights up to one interval stale.
 *   avg       pack {z, n}; z = sum / R, n = sum / R (model averaging).
 *   weighted  pack {d w, d z, d} with d = n - n0, the coordinate's squared
 *             gradient mass on this replica since the last merge; w = sum(d w)
 *             / sum(d) (VW's adaptive averaging), n = n0 + sum(d), and z
 *             solved so that FTRL's closed form gives back w at that n
 *             (w = 0: z is the weighted mean of z clamped to [-l1, l1]).
 *   A unit no replica changed (all deltas 0) is left as it is, bit for bit.
 *
 * FFM (row of (n_fields + 1) * 2 * kpad floats, ready flag in the linear
 * slot's lane 1, see model_ffm.c): pack the row as it is; an uninitialized
 * row is all zeros, flag included, so the summed flag counts the replicas
 * that initialized the row and the merged row is sum / count: the average
 * over those replicas (rows start from the same seeded values everywhere,
 * so this equals averaging with the untouched replicas' initial values
 * only after they are initialized; it keeps rare rows from being halved).
 * The bias unit carries the bias floats and a count of 1. The mode is
 * ignored: averaging is the only FFM merge.
 *
 * Ownership: the merge borrows the model and owns the snapshot.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/model_ffm_int.h"

struct pr_model_merge {
    pr_model *m;
    pr_merge_mode mode;
    uint32_t replicas;
    uint64_t units;           /* buckets + 1 (the bias) */
    uint32_t unit_floats;
    /* LR */
    float *slots;             /* n_buckets * 4 floats, borrowed */
    float *bias;              /* 4 floats, borrowed */
    float *snap;              /* sum/weighted: {z0, s0} per unit, owned */
    size_t snap_bytes;
    float inv_alpha, beta, l1, l2;
    /* FFM */
    ffm_model *ffm;
};

pr_status pr_merge_mode_parse(const char *s, pr_merge_mode *out) {
    if (s && !strcasecmp(s, "sum")) *out = PR_MERGE_SUM;
    else if (s && !strcasecmp(s, "avg")) *out = PR_MERGE_AVG;
    else if (s && !strcasecmp(s, "weighted")) *out = PR_MERGE_WEIGHTED;
    else return PR_ERR_INVALID;
    return PR_OK;
}

const char *pr_merge_mode_name(pr_merge_mode m) {
    return m == PR_MERGE_AVG ? "avg" : m == PR_MERGE_WEIGHTED ? "weighted" : "sum";
}

static float *lr_slot(pr_model_merge *g, uint64_t u) {
    return u + 1 == g->units ? g->bias : g->slots + u * 4;
}

pr_status pr_model_merge_new(pr_model *m, pr_merge_mode mode, uint32_t replicas,
                             pr_model_merge **out, pr_err *err) {
    *out = NULL;
    if (replicas < 1) return pr_err_set(err, PR_ERR_INVALID, "merge: no replicas");
    pr_model_merge *g = calloc(1, sizeof *g);
    if (!g) return pr_err_set(err, PR_ERR_NOMEM, "merge: out of memory");
    g->m = m;
    g->mode = mode;
    g->replicas = replicas;
    const pr_model_params *p = &m->params;
    g->units = ((uint64_t)1 << p->hash_bits) + 1;
    if (m->ops == &pr__model_lr_ops) {
        pr__model_block b[PR__MODEL_MAX_BLOCKS];
        m->ops->blocks(m->impl, b);
        g->bias = b[0].ptr;
        g->slots = b[1].ptr;
        g->inv_alpha = 1.0f / p->alpha;
        g->beta = p->beta;
        g->l1 = p->l1;
        g->l2 = p->l2;
        g->unit_floats = mode == PR_MERGE_WEIGHTED ? 3 : 2;
        if (mode != PR_MERGE_AVG) {
            g->snap_bytes = (size_t)g->units * 2 * sizeof(float);
            g->snap = pr__model_alloc_zero(g->snap_bytes, 0);
            if (!g->snap) {
                size_t bytes = g->snap_bytes;
                free(g);
                return pr_err_set(err, PR_ERR_NOMEM, "merge: cannot allocate %zu bytes", bytes);
            }
            for (uint64_t u = 0; u < g->units; u++) {
                const float *st = lr_slot(g, u);
                if (st[1] != 0.0f || st[2] != 0.0f) {
                    g->snap[2 * u] = st[1];
                    g->snap[2 * u + 1] = st[2];
                }
            }
        }
    } else if (m->ops == &pr__model_ffm_ops) {
        g->ffm = m->impl;
        g->unit_floats = (uint32_t)g->ffm->row_floats;
    } else {
        free(g);
        return pr_err_set(err, PR_ERR_UNSUPPORTED,
                          "merging replicas is implemented for lr and ffm models, not %s",
                          pr_model_kind_name(p->kind));
    }
    *out = g;
    return PR_OK;
}

uint64_t pr_model_merge_units(const pr_model_merge *g) { return g->units; }
uint32_t pr_model_merge_unit_floats(const pr_model_merge *g) { return g->unit_floats; }

/* ------------------------------------------------------------ LR */

static void lr_pack(pr_model_merge *g, const uint64_t *unit, uint64_t n, float *buf) {
    for (uint64_t i = 0; i < n; i++) {
        uint64_t u = unit[i];
        const float *st = lr_slot(g, u);
        float nn = st[2] * st[2];
        if (g->mode == PR_MERGE_AVG) {
            buf[2 * i] = st[1];
            buf[2 * i + 1] = nn;
            continue;
        }
        float z0 = g->snap[2 * u], s0 = g->snap[2 * u + 1];
        float dz = st[1] - z0, dn = st[2] == s0 ? 0.0f : nn - s0 * s0;
        if (g->mode == PR_MERGE_SUM) {
            buf[2 * i] = dz;
            buf[2 * i + 1] = dn;
        } else {
            /* n only grows, but rounding can make a tiny step negative */
            float d = dn > 0 ? dn : 0.0f;
            buf[3 * i] = d * st[0];
            buf[3 * i + 1] = d * st[1];
            buf[3 * i + 2] = d;
        }
    }
}

static void lr_unpack(pr_model_merge *g, const uint64_t *unit, uint64_t n, const float *sum) {
    const float R = (float)g->replicas;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t u = unit[i];
        float *st = lr_slot(g, u);
        const int bias = u + 1 == g->units;
        const float l1 = bias ? 0.0f : g->l1, l2 = bias ? 0.0f : g->l2;
        float z, nn;
        if (g->mode == PR_MERGE_AVG) {
            z = sum[2 * i] / R;
            nn = sum[2 * i + 1] / R;
        } else if (g->mode == PR_MERGE_SUM) {
            if (sum[2 * i] == 0.0f && sum[2 * i + 1] == 0.0f) {
                /* nobody changed it: every replica still holds the snapshot */
                st[1] = g->snap[2 * u];
                st[2] = g->snap[2 * u + 1];
                st[0] = pr__ftrl_weight(st[1], st[2], g->inv_alpha, g->beta, l1, l2);
                continue;
            }
            float s0 = g->snap[2 * u + 1];
            z = g->snap[2 * u] + sum[2 * i];
            nn = s0 * s0 + sum[2 * i + 1];
        } else {
            float d = sum[3 * i + 2];
            if (d == 0.0f) {
                st[1] = g->snap[2 * u];
                st[2] = g->snap[2 * u + 1];
                st[0] = pr__ftrl_weight(st[1], st[2], g->inv_alpha, g->beta, l1, l2);
                continue;
            }
            float w = sum[3 * i] / d, zm = sum[3 * i + 1] / d;
            float s0 = g->snap[2 * u + 1];
            nn = s0 * s0 + d;
            float s = sqrtf(nn > 0 ? nn : 0);
            float denom = (g->beta + s) * g->inv_alpha + l2;
            if (w == 0.0f) z = zm > l1 ? l1 : zm < -l1 ? -l1 : zm;
            else z = -copysignf(l1, w) - w * denom;
        }
        float s = sqrtf(nn > 0 ? nn : 0);
        st[1] = z;
        st[2] = s;
        st[0] = pr__ftrl_weight(z, s, g->inv_alpha, g->beta, l1, l2);
        if (g->snap) {
            g->snap[2 * u] = z;
            g->snap[2 * u + 1] = s;
        }
    }
}

/* ------------------------------------------------------------ FFM */

static void ffm_pack(pr_model_merge *g, const uint64_t *unit, uint64_t n, float *buf) {
    const ffm_model *f = g->ffm;
    const uint64_t rf = f->row_floats;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t u = unit[i];
        float *dst = buf + i * rf;
        if (u + 1 == g->units) {
            memset(dst, 0, rf * sizeof *dst);
            memcpy(dst, f->bias, sizeof f->bias);
            dst[f->lin_off + 1] = 1.0f; /* every replica has a bias */
            continue;
        }
        /* a row is initialized with all its pages marked (model_ffm.c):
         * an unmarked first page means zeros, and is not read (reading
         * an untouched page commits it on some kernels, docs/memory.md) */
        pr__model_block b = {f->table, f->n_buckets * rf, f->touched};
        if (!pr__model_page_touched(&b, u * rf / PR__MODEL_PAGE_FLOATS))
            memset(dst, 0, rf * sizeof *dst);
        else
            memcpy(dst, f->table + u * rf, rf * sizeof *dst);
    }
}

static void ffm_unpack(pr_model_merge *g, const uint64_t *unit, uint64_t n, const float *sum) {
    ffm_model *f = g->ffm;
    const uint64_t rf = f->row_floats, flag = f->lin_off + 1;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t u = unit[i];
        const float *src = sum + i * rf;
        float c = src[flag];
        if (c < 0.5f) continue; /* nobody initialized the row: zeros everywhere */
        float inv = 1.0f / c;
        if (u + 1 == g->units) {
            for (int d = 0; d < 4; d++) f->bias[d] = src[d] * inv;
            continue;
        }
        float *row = f->table + u * rf;
        pr__model_touch(f->touched, u * rf, rf); /* save and clone read it */
        for (uint64_t d = 0; d < rf; d++) row[d] = src[d] * inv;
        uint32_t bits = PR__FFM_READY_BITS;
        memcpy(&row[flag], &bits, sizeof bits);
    }
}

/* ------------------------------------------------------------ front door */

void pr_model_merge_pack(pr_model_merge *g, const uint64_t *unit, uint64_t n, float *buf) {
    if (g->ffm) ffm_pack(g, unit, n, buf);
    else lr_pack(g, unit, n, buf);
}

void pr_model_merge_unpack(pr_model_merge *g, const uint64_t *unit, uint64_t n,
                           const float *sum) {
    if (g->ffm) ffm_unpack(g, unit, n, sum);
    else lr_unpack(g, unit, n, sum);
}

void pr_model_merge_free(pr_model_merge *g) {
    if (!g) return;
    if (g->snap) pr__model_free_zero(g->snap, g->snap_bytes);
    free(g);
}
