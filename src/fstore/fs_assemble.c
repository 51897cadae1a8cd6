/*
 * fs_assemble.c: one request's candidates -> assembled records, as of a
 * time. The one function training (the dataset builder, n = 1) and serving
 * (n = the candidates) use.
 *
 * Entities are resolved in spec order, so a key reading "E.attr" finds E's
 * attribute already in the candidate's columns. An entity whose key reads
 * no per-candidate column (directly or through such an attribute) is read
 * once for all candidates; the others with one batch get of n keys. A
 * row's attribute texts are copied into the arena before the next store
 * call, since a store's rows are borrowed until then.
 *
 * Numbers (time columns, aggregate values) go to rec.num; their text is
 * rendered only for columns a categorical field reads (fs->col_text), and
 * by pr_fs_row_text on demand.
 */
#include <stdlib.h>

#include "fstore/fs_int.h"

#define PREFETCH_AHEAD 4 /* rows */

/* The row's attributes as texts, split in one pass. From a store, the
 * attribute section is first copied into the arena in one piece (a
 * store's row dies at its next call); the in-process table's rows stay
 * where they are until that row is written, so they are borrowed (see
 * pr_fs_assemble). An absent row, or a section cut short, gives missing
 * values. */
static pr_status copy_attrs(const pr_fs *fs, const pr__fs_entity *en, pr__fs_rowview v,
                            pr_arena *arena, pr_bytes *out) {
    for (uint32_t a = 0; a < en->n_attrs; a++) out[a] = (pr_bytes){NULL, 0};
    if (!v.blob || v.len <= en->state_bytes) return PR_OK;
    size_t n = v.len - en->state_bytes;
    const char *p = (const char *)v.blob + en->state_bytes;
    if (!fs->in_place) {
        char *copy = pr_arena_alloc(arena, n);
        if (!copy) return PR_ERR_NOMEM;
        memcpy(copy, p, n);
        p = copy;
    }
    const char *q = p, *end = p + n;
    for (uint32_t a = 0; a < en->n_attrs && end - q >= 2; a++) {
        uint16_t len;
        memcpy(&len, q, 2);
        q += 2;
        if ((size_t)(end - q) < len) break;
        if (len) out[a] = pr_bytes_of(q, len);
        q += len;
    }
    return PR_OK;
}

/* Value of aggregate a on row state (NULL = absent) as of t. */
static void agg_value(const pr_fs *fs, const pr__fs_agg *a,
                      const uint8_t *state, int64_t t, pr_arena *arena,
                      pr_bytes *text, double *num) {
    double x = NAN;
    pr_bytes list = {NULL, 0};
    *text = (pr_bytes){NULL, 0};
    *num = NAN;
    if (pr__agg_eval(a, state, t, arena, &x, &list)) {
        if (a->fn == PR__AGG_LAST_N) {
            *text = list;
        } else {
            *num = x;
            if (fs->col_text[a->column]) *text = pr__fs_num_text(x, arena);
        }
    } else if (a->has_default) {
        *text = a->default_text;
        *num = a->default_num;
    }
}

/* Fills the columns of entity en from its m fetched rows (m = n, one per
 * candidate, or 1 shared by all). */
static pr_status fill_entity(pr_fs *fs, const pr__fs_entity *en, const pr_bytes *rows,
                             uint32_t m, uint32_t n, int64_t now_ms, pr_bytes *cols,
                             double *nums, pr_arena *arena, pr_err *err) {
    uint32_t nc = fs->n_cols;
    for (uint32_t j = 0; j < m; j++) {
        /* Rows of a batch are scattered in memory: fetch a later row's
         * lines (header, aggregate states, attributes) while this one is
         * evaluated. */
        if (j + PREFETCH_AHEAD < m && rows[j + PREFETCH_AHEAD].ptr) {
            const char *r = rows[j + PREFETCH_AHEAD].ptr;
            size_t len = rows[j + PREFETCH_AHEAD].len;
            __builtin_prefetch(r);
            for (uint32_t i = 0; i < en->n_aggs; i++)
                if (fs->aggs[en->aggs[i]].offset < len)
                    __builtin_prefetch(r + fs->aggs[en->aggs[i]].offset);
            if (en->state_bytes < len) __builtin_prefetch(r + en->state_bytes);
        }
        pr__fs_rowview v = pr__fs_row_check(fs, en, rows[j], now_ms);
        /* Candidates this row serves: j alone, or all when shared. */
        uint32_t c0 = m == n ? j : 0, c1 = m == n ? j + 1 : n;
        if (en->n_attrs) {
            pr_bytes t[PR__FS_MAX_ATTRIBUTES];
            pr_status ar = copy_attrs(fs, en, v, arena, t);
            if (ar != PR_OK) return pr_err_set(err, ar, "out of memory (attributes)");
            for (uint32_t c = c0; c < c1; c++)
                memcpy(cols + (size_t)c * nc + en->attr_col, t, en->n_attrs * sizeof *t);
        }
        for (uint32_t i = 0; i < en->n_aggs; i++) {
            const pr__fs_agg *ag = &fs->aggs[en->aggs[i]];
            pr_bytes t;
            double x;
            agg_value(fs, ag, v.blob ? v.blob + ag->offset : NULL, now_ms, arena, &t, &x);
            for (uint32_t c = c0; c < c1; c++) {
                cols[(size_t)c * nc + ag->column] = t;
                nums[(size_t)c * nc + ag->column] = x;
            }
        }
    }
    return PR_OK;
}

/* The key texts of entity en for candidates 0..m-1, from their columns. */
static void entity_keys(pr_fs *fs, const pr__fs_entity *en, const pr_bytes *cols, uint32_t m,
                        pr_arena *arena, pr_bytes *keys) {
    for (uint32_t j = 0; j < m; j++) {
        const pr_bytes *cc = cols + (size_t)j * fs->n_cols;
        pr_bytes parts[PR__FS_MAX_KEYS];
        for (uint32_t k = 0; k < en->n_keys; k++) {
            const pr__fs_ref *r = &en->keys[k];
            parts[k] = r->kind == PR__REF_REQUEST ? cc[r->a]
                                                  : cc[fs->ents[r->a].attr_col + r->b];
        }
        keys[j] = pr__fs_join_key(parts, en->n_keys, arena);
        if (!keys[j].ptr) {
            fs->stats.missing_keys++;
        } else if (!pr__fs_key_fits(en, keys[j])) {
            fs->stats.long_keys++;
            keys[j] = (pr_bytes){NULL, 0};
        }
    }
}

pr_status pr_fs_assemble(pr_fs *fs, int64_t now_ms, const pr_bytes *base,
                         const uint32_t *cand_cols, uint32_t n_cand_cols,
                         const pr_bytes *cand, uint32_t n, pr_arena *arena,
                         pr_fs_row *out, pr_err *err) {
    if (n == 0 || n > PR_STORE_BATCH_MAX)
        return pr_err_set(err, PR_ERR_INVALID, "%u candidates (1..%u)", n,
                          PR_STORE_BATCH_MAX);
    uint32_t nc = fs->n_cols, ne = fs->n_ents ? fs->n_ents : 1;
    pr_bytes *cols = pr_arena_alloc(arena, (size_t)n * nc * sizeof *cols);
    double *nums = pr_arena_alloc(arena, (size_t)n * nc * sizeof *nums);
    /* keys, entity names and rows of one wave: at most n per entity */
    pr_bytes *keys = pr_arena_alloc(arena, (size_t)n * ne * sizeof *keys);
    pr_bytes *names = pr_arena_alloc(arena, (size_t)n * ne * sizeof *names);
    pr_bytes *rows = pr_arena_alloc(arena, (size_t)n * ne * sizeof *rows);
    uint8_t varies[PR__FS_MAX_REQUEST_COLUMNS] = {0};
    uint8_t ent_varies[PR__FS_MAX_ENTITIES] = {0};
    uint32_t wave[PR__FS_MAX_ENTITIES], first[PR__FS_MAX_ENTITIES], n_waves = 0;
    if (!cols || !nums || !keys || !names || !rows)
        return pr_err_set(err, PR_ERR_NOMEM, "out of memory (%u candidates)", n);
    for (uint32_t j = 0; j < n_cand_cols; j++) {
        if (cand_cols[j] >= fs->n_req)
            return pr_err_set(err, PR_ERR_INVALID,
                              "candidate column %u is not a request column",
                              cand_cols[j]);
        varies[cand_cols[j]] = 1;
    }

    /* Time columns: the same for every candidate, computed once. */
    double tnum[PR__TIME_COUNT];
    pr_bytes ttext[PR__TIME_COUNT];
    for (uint32_t i = 0; i < fs->n_time; i++) {
        uint32_t col = fs->n_req + i;
        tnum[i] = (double)pr__fs_time_feature(fs->ss->request.time[i], now_ms);
        ttext[i] = fs->col_text[col] ? pr__fs_num_text(tnum[i], arena)
                                     : (pr_bytes){NULL, 0};
    }
    /* Request and time columns. */
    for (uint32_t c = 0; c < n; c++) {
        pr_bytes *cc = cols + (size_t)c * nc;
        double *cn = nums + (size_t)c * nc;
        for (uint32_t i = 0; i < nc; i++) cn[i] = NAN;
        for (uint32_t i = 0; i < fs->n_req; i++) cc[i] = base[i];
        for (uint32_t j = 0; j < n_cand_cols; j++)
            cc[cand_cols[j]] = cand[(size_t)c * n_cand_cols + j];
        for (uint32_t i = 0; i < fs->n_time; i++) {
            cn[fs->n_req + i] = tnum[i];
            cc[fs->n_req + i] = ttext[i];
        }
    }

    /* Waves: an entity keyed by request columns only is in wave 0; one
     * keyed by an attribute of E comes a wave after E. A wave is fetched
     * with one multi-entity get (one round trip to Redis). */
    for (uint32_t e = 0; e < fs->n_ents; e++) {
        const pr__fs_entity *en = &fs->ents[e];
        wave[e] = 0;
        for (uint32_t k = 0; k < en->n_keys; k++) {
            const pr__fs_ref *r = &en->keys[k];
            if ((r->kind == PR__REF_REQUEST && varies[r->a]) ||
                (r->kind == PR__REF_ATTR && ent_varies[r->a]))
                ent_varies[e] = 1;
            if (r->kind == PR__REF_ATTR && wave[r->a] + 1 > wave[e]) wave[e] = wave[r->a] + 1;
        }
        if (wave[e] + 1 > n_waves) n_waves = wave[e] + 1;
    }
    for (uint32_t w = 0; w < n_waves; w++) {
        uint32_t total = 0;
        for (uint32_t e = 0; e < fs->n_ents; e++) {
            const pr__fs_entity *en = &fs->ents[e];
            /* An entity with nothing to read (a key for others only)
             * costs no lookup. */
            if (wave[e] != w || (!en->n_attrs && !en->n_aggs)) continue;
            uint32_t m = ent_varies[e] ? n : 1;
            first[e] = total;
            entity_keys(fs, en, cols, m, arena, keys + total);
            for (uint32_t j = 0; j < m; j++) names[total + j] = en->ns;
            if (!fs->rows->get_multi) {
                /* No multi-entity get: fetch and fill this entity now,
                 * before the next call ends its rows' life. */
                pr_status rc = fs->rows->get_batch(fs->rows_impl, en, keys + total, m, now_ms,
                                                   rows + total, err);
                if (rc != PR_OK) {
                    fs->stats.store_errors++;
                    return rc;
                }
                rc = fill_entity(fs, en, rows + total, m, n, now_ms, cols, nums, arena, err);
                if (rc != PR_OK) return rc;
            }
            total += m;
        }
        if (!fs->rows->get_multi || !total) continue;
        pr_status rc = fs->rows->get_multi(fs->rows_impl, names, keys, total, now_ms, rows, err);
        if (rc != PR_OK) {
            fs->stats.store_errors++;
            return rc;
        }
        for (uint32_t e = 0; e < fs->n_ents; e++) {
            const pr__fs_entity *en = &fs->ents[e];
            if (wave[e] != w || (!en->n_attrs && !en->n_aggs)) continue;
            rc = fill_entity(fs, en, rows + first[e], ent_varies[e] ? n : 1, n, now_ms, cols,
                             nums, arena, err);
            if (rc != PR_OK) return rc;
        }
    }

    for (uint32_t c = 0; c < n; c++) {
        pr_record *r = &out[c].rec;
        memset(r, 0, sizeof *r);
        r->weight = 1.0f;
        r->ts = now_ms / 1000 - (now_ms % 1000 < 0);
        r->n_cols = nc;
        r->cols = cols + (size_t)c * nc;
        r->num = nums + (size_t)c * nc;
        r->file = "request";
        r->line = c + 1;
    }
    return PR_OK;
}

pr_bytes pr_fs_row_text(const pr_fs *fs, const pr_fs_row *row, uint32_t c,
                        pr_arena *arena) {
    if (c >= fs->n_cols || c >= row->rec.n_cols) return (pr_bytes){NULL, 0};
    if (row->rec.cols[c].len || !row->rec.num || isnan(row->rec.num[c]))
        return row->rec.cols[c];
    return pr__fs_num_text(row->rec.num[c], arena);
}
