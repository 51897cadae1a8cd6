/*
 * fs_tables.c: entity tables (CSV with a header, or JSON-lines) -> rows of
 * (entity, key texts, attribute texts, effective time), read whole into an
 * arena and sorted by (effective time, file order).
 *
 * Duplicate keys: every row is an attribute change effective at its time;
 * the dataset builder applies them in time order, materialize applies all
 * up to a time, and pr_fs_put_attributes keeps the latest effective time,
 * the later row in file order winning a tie. So a key listed twice takes
 * the row with the latest effective time (docs/fstore.md).
 */
#include <stdio.h>
#include <stdlib.h>

#include "fstore/fs_build_int.h"
#include "pronto/reader.h"

static int cmp_update(const void *a, const void *b) {
    const pr__fs_update *x = a, *y = b;
    if (x->effective_ms != y->effective_ms)
        return x->effective_ms < y->effective_ms ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static pr_status parse_ms(pr_bytes t, int64_t *out) {
    if (!t.len || t.len > 19) return PR_ERR_PARSE;
    size_t i = t.ptr[0] == '-' ? 1 : 0;
    if (i == t.len) return PR_ERR_PARSE;
    int64_t v = 0;
    for (; i < t.len; i++) {
        unsigned d = (unsigned)(unsigned char)t.ptr[i] - '0';
        if (d > 9 || v > (INT64_MAX - (int64_t)d) / 10) return PR_ERR_PARSE;
        v = v * 10 + (int64_t)d;
    }
    *out = t.ptr[0] == '-' ? -v : v;
    return PR_OK;
}

static pr_status read_table(const pr_fs *fs, uint32_t src, const char *dir,
                            pr__fs_updates *u, pr_err *err) {
    const pr__source_spec *s = &fs->ss->sources[src];
    const pr__fs_entity *en = &fs->ents[s->entity];
    char path[4096];
    if (s->path[0] == '/' || !dir)
        snprintf(path, sizeof path, "%s", s->path);
    else
        snprintf(path, sizeof path, "%s/%s", dir, s->path);
    const char *cols[PR__FS_MAX_KEYS + 1 + PR__FS_MAX_ATTRIBUTES];
    uint32_t nc = 0;
    for (uint32_t k = 0; k < en->n_keys; k++) cols[nc++] = s->keys[k];
    cols[nc++] = s->time;
    for (uint32_t a = 0; a < s->n_attributes; a++) cols[nc++] = s->attributes[a];
    pr_reader_opts o;
    pr_reader_opts_init(&o, strcmp(s->format, "jsonl") ? PR_FORMAT_CSV
                                                       : PR_FORMAT_JSONL);
    o.columns = cols;
    o.n_columns = nc;
    o.label_optional = 1; /* tables have no label column */
    pr_reader *r = NULL;
    pr_status rc = pr_reader_open(path, &o, &r, err);
    if (rc != PR_OK) return rc;
    pr_record rec;
    while ((rc = pr_reader_next(r, &rec, err)) == PR_OK) {
        if (u->n == u->cap) {
            size_t cap = u->cap ? u->cap * 2 : 1024;
            pr__fs_update *p = realloc(u->v, cap * sizeof *p);
            if (!p) {
                rc = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
                break;
            }
            u->v = p;
            u->cap = cap;
        }
        pr__fs_update *up = &u->v[u->n];
        up->entity = s->entity;
        up->seq = u->n;
        if (parse_ms(rec.cols[en->n_keys], &up->effective_ms) != PR_OK) {
            char shown[64];
            pr__render_bytes(shown, sizeof shown, rec.cols[en->n_keys].ptr,
                             rec.cols[en->n_keys].len);
            rc = pr_err_set(err, PR_ERR_PARSE,
                            "%s:%llu: column '%s': expected integer Unix "
                            "milliseconds, got '%s'",
                            path, (unsigned long long)rec.line, s->time, shown);
            break;
        }
        if (up->effective_ms < 0 || up->effective_ms > PR_FS_TS_MAX) {
            /* as for events (pr_fs_event_parse): a row effective in the
             * year 200000 would move the row's clock there */
            rc = pr_err_set(err, PR_ERR_PARSE,
                            "%s:%llu: column '%s': %lld is not a time in the years "
                            "1970..9999 (Unix milliseconds 0..%lld)",
                            path, (unsigned long long)rec.line, s->time,
                            (long long)up->effective_ms, (long long)PR_FS_TS_MAX);
            break;
        }
        up->vals = pr_arena_alloc(&u->arena, (size_t)nc * sizeof *up->vals);
        if (!up->vals) {
            rc = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
            break;
        }
        for (uint32_t c = 0; c < nc; c++) {
            const pr_bytes *v = &rec.cols[c];
            char *p = v->len ? pr_arena_strndup(&u->arena, v->ptr, v->len) : NULL;
            if (v->len && !p) {
                rc = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
                break;
            }
            up->vals[c] = v->len ? pr_bytes_of(p, v->len) : (pr_bytes){NULL, 0};
        }
        if (rc != PR_OK) break;
        for (uint32_t k = 0; k < en->n_keys; k++) {
            if (!up->vals[k].len) {
                rc = pr_err_set(err, PR_ERR_PARSE, "%s:%llu: column '%s': empty key",
                                path, (unsigned long long)rec.line, s->keys[k]);
                break;
            }
        }
        size_t key_len = rc == PR_OK ? pr__fs_key_len(up->vals, en->n_keys) : 0; /* escapes too */
        if (rc == PR_OK && 4 + en->ns.len + key_len > PR_STORE_KEY_MAX)
            rc = pr_err_set(err, PR_ERR_PARSE,
                            "%s:%llu: column '%s': key of %zu bytes is longer than a "
                            "store takes (%u with the entity name)",
                            path, (unsigned long long)rec.line, s->keys[0], key_len,
                            PR_STORE_KEY_MAX - 4);
        if (rc != PR_OK) break;
        u->n++;
    }
    pr_reader_free(r);
    return rc == PR_EOF ? PR_OK : rc;
}

pr_status pr__fs_read_tables(const pr_fs *fs, const char *dir,
                             pr__fs_updates *u, pr_err *err) {
    memset(u, 0, sizeof *u);
    pr_arena_init(&u->arena, NULL, 0, 0);
    for (uint32_t s = 0; s < fs->ss->n_sources; s++) {
        if (fs->ss->sources[s].kind != PR__SOURCE_TABLE) continue;
        pr_status rc = read_table(fs, s, dir, u, err);
        if (rc != PR_OK) {
            pr__fs_updates_free(u);
            return rc;
        }
    }
    qsort(u->v, u->n, sizeof *u->v, cmp_update);
    return PR_OK;
}

void pr__fs_updates_free(pr__fs_updates *u) {
    free(u->v);
    pr_arena_free(&u->arena);
    memset(u, 0, sizeof *u);
}

pr_status pr__fs_put_update(pr_fs *fs, const pr__fs_update *up, pr_err *err) {
    const pr__fs_entity *en = &fs->ents[up->entity];
    return pr_fs_put_attributes(fs, up->entity, up->vals,
                                up->vals + en->n_keys + 1, up->effective_ms, err);
}

pr_status pr_fs_load_tables(pr_fs *fs, const char *data_dir, int64_t until_ms,
                            uint64_t *rows, pr_err *err) {
    pr__fs_updates u;
    *rows = 0;
    pr_status rc = pr__fs_read_tables(fs, data_dir, &u, err);
    if (rc != PR_OK) return rc;
    for (size_t i = 0; i < u.n && u.v[i].effective_ms <= until_ms; i++) {
        rc = pr__fs_put_update(fs, &u.v[i], err);
        if (rc != PR_OK) break;
        (*rows)++;
    }
    pr__fs_updates_free(&u);
    return rc;
}
