/*
 * fs.c: pr_fs life cycle, accessors, event parsing, and the two writes:
 * applying an event to the aggregates and putting a table row's
 * attributes.
 *
 * Writes are read-modify-write of one row blob per entity. With the
 * in-process table the blob is updated where it lies (the table hands out
 * pointers that stay valid until that row's next put); with a pr_store the
 * blob is copied into fs->scratch, updated and put back.
 *
 * Event context: the texts an event's entity keys and aggregate values
 * need. An "E.attr" reference reads entity E's row as of the event's time
 * (resolving E's own key first), copying the attribute into the arena,
 * since a store's borrowed row dies at the next store call (the in-process
 * table's rows stay where they are while an event is applied: borrowed).
 *
 * Lookahead (fs_ahead.h): pr__fs_ahead_slots/rows prefetch what an event
 * will touch, for the dataset builder.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "base/json_scan.h"
#include "fstore/fs_ahead.h"
#include "fstore/fs_int.h"

pr_status pr_fs_open(const pr_spec *spec, pr_store *store, pr_fs **out,
                     pr_err *err) {
    if (!spec->store.has_request)
        return pr_err_set(err, PR_ERR_SPEC,
                          "%s: the spec has no request section, so no "
                          "feature-store plan (docs/feature-spec.md)",
                          spec->name);
    pr_fs *fs = calloc(1, sizeof *fs);
    if (!fs) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    char *yaml = NULL;
    size_t len = 0;
    pr_status rc = pr_spec_to_yaml(spec, &yaml, &len, err);
    if (rc == PR_OK) rc = pr_spec_parse(yaml, len, spec->name, &fs->spec, err);
    free(yaml);
    if (rc != PR_OK) goto fail;
    fs->ss = &fs->spec->store;
    rc = pr__fs_plan(fs, err);
    if (rc != PR_OK) goto fail;
    if (store) {
        fs->rows = &pr__fs_store_ops;
        fs->rows_impl = store;
    } else {
        rc = pr__fs_table_new(&fs->rows_impl, err);
        if (rc != PR_OK) goto fail;
        fs->rows = &pr__fs_table_ops;
        fs->in_place = 1;
    }
    *out = fs;
    return PR_OK;
fail:
    pr_fs_free(fs);
    return rc;
}

void pr_fs_free(pr_fs *fs) {
    if (!fs) return;
    if (fs->rows) fs->rows->close(fs->rows_impl);
    pr__fs_plan_free(fs);
    free(fs->scratch);
    pr_spec_free(fs->spec);
    free(fs);
}

uint32_t pr_fs_n_columns(const pr_fs *fs) { return fs->n_cols; }
const char *pr_fs_column_name(const pr_fs *fs, uint32_t c) {
    return c < fs->n_cols ? fs->col_names[c] : NULL;
}
uint32_t pr_fs_n_request_columns(const pr_fs *fs) { return fs->n_req; }
uint32_t pr_fs_n_entities(const pr_fs *fs) { return fs->n_ents; }
const char *pr_fs_entity_name(const pr_fs *fs, uint32_t e) {
    return e < fs->n_ents ? fs->ents[e].name : NULL;
}
uint32_t pr_fs_entity_index(const pr_fs *fs, const char *name) {
    for (uint32_t e = 0; e < fs->n_ents; e++)
        if (!strcmp(fs->ents[e].name, name)) return e;
    return UINT32_MAX;
}
uint32_t pr_fs_entity_n_keys(const pr_fs *fs, uint32_t e) {
    return e < fs->n_ents ? fs->ents[e].n_keys : 0;
}
uint32_t pr_fs_row_state_bytes(const pr_fs *fs, uint32_t e) {
    return e < fs->n_ents ? fs->ents[e].state_bytes : 0;
}

void pr_fs_stats_get(const pr_fs *fs, pr_fs_stats *out) {
    *out = fs->stats;
    if (fs->in_place)
        pr__fs_table_usage(fs->rows_impl, &out->rows, &out->row_bytes);
}

/* ---------------------------------------------------------------- events */

pr_status pr_fs_event_parse(const pr_fs *fs, const char *line, size_t len,
                            pr_arena *arena, pr_fs_event *ev, pr_err *err) {
    uint32_t n = fs->n_json_keys;
    pr_json_value *v = pr_arena_alloc(arena, (size_t)n * sizeof *v);
    pr_bytes *cols = pr_arena_alloc(arena, (fs->n_req ? fs->n_req : 1) * sizeof *cols);
    if (!v || !cols) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    pr_status rc = pr_json_scan(fs->json_keys, line, len, arena, v, err);
    if (rc != PR_OK) return rc;
    memset(ev, 0, sizeof *ev);
    for (uint32_t i = 0; i < fs->n_req; i++) {
        switch (v[i].kind) {
        case PR_JSON_STRING:
        case PR_JSON_NUMBER:
        case PR_JSON_TRUE:
        case PR_JSON_FALSE: cols[i] = v[i].text; break;
        case PR_JSON_ARRAY:
        case PR_JSON_OBJECT:
            return pr_err_set(err, PR_ERR_PARSE,
                              "key '%s': expected a string or a number, "
                              "got an array or object",
                              fs->col_names[i]);
        default: cols[i] = (pr_bytes){NULL, 0}; break;
        }
    }
    ev->cols = cols;
    const pr_json_value *ts = &v[fs->ev_key[0]], *type = &v[fs->ev_key[1]],
                        *id = &v[fs->ev_key[2]], *imp = &v[fs->ev_key[3]];
    if (type->kind == PR_JSON_STRING)
        ev->type = type->text;
    else if (type->kind != PR_JSON_ABSENT && type->kind != PR_JSON_NULL)
        return pr_err_set(err, PR_ERR_PARSE, "key '%s': expected a string (the event type)",
                          fs->ev_key_name[1]);
    ev->has_ts = pr_json_int(ts, &ev->ts_ms);
    if (!ev->has_ts && ts->kind != PR_JSON_ABSENT && ts->kind != PR_JSON_NULL)
        return pr_err_set(err, PR_ERR_PARSE,
                          "key '%s': expected integer Unix milliseconds, got %s",
                          fs->ev_key_name[0],
                          ts->kind == PR_JSON_NUMBER ? "a fraction or an exponent"
                                                     : "something else than a number");
    /* No clock says what is too far here (files are replayed), but a time
     * outside years 1970..9999 is no event's: refused before it can move
     * a row's clock to where every later event is too old for it. */
    if (ev->has_ts && (ev->ts_ms < 0 || ev->ts_ms > PR_FS_TS_MAX))
        return pr_err_set(err, PR_ERR_PARSE,
                          "key '%s': %lld is not a time in the years 1970..9999 "
                          "(Unix milliseconds 0..%lld)",
                          fs->ev_key_name[0], (long long)ev->ts_ms,
                          (long long)PR_FS_TS_MAX);
    int64_t x;
    if (pr_json_int(id, &x) && x >= 0) {
        ev->has_event_id = 1;
        ev->event_id = (uint64_t)x;
    }
    if (pr_json_int(imp, &x) && x >= 0) {
        ev->has_impression_id = 1;
        ev->impression_id = (uint64_t)x;
    }
    return PR_OK;
}

/* "2024-01-01T00:00:00Z" (UTC, to the second). */
static void iso_time(int64_t ms, char out[32]) {
    time_t t = (time_t)(ms / 1000 - (ms % 1000 < 0));
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, 32, "%lld ms", (long long)ms);
}

/* How far apart two times are, in a unit a person reads at a glance. */
static void gap_text(uint64_t ms, char out[48]) {
    double x = (double)ms;
    if (x >= 2 * 86400000.0) snprintf(out, 48, "%.0f days", x / 86400000.0);
    else if (x >= 2 * 3600000.0) snprintf(out, 48, "%.1f hours", x / 3600000.0);
    else if (x >= 2 * 60000.0) snprintf(out, 48, "%.1f minutes", x / 60000.0);
    else snprintf(out, 48, "%.1f s", x / 1000.0);
}

int64_t pr_fs_max_window_ms(const pr_fs *fs) {
    int64_t w = 0;
    for (uint32_t i = 0; i < fs->n_aggs; i++)
        if (fs->aggs[i].spec->window_ms > w) w = fs->aggs[i].spec->window_ms;
    return w;
}

pr_status pr_fs_event_check(const pr_fs *fs, const pr_fs_event *ev, int64_t now_ms,
                            int64_t max_ahead_ms, int64_t max_behind_ms, pr_err *err) {
    if (ev->has_ts) {
        /* Distances as unsigned: no overflow whatever ts and now are. */
        int ahead = ev->ts_ms > now_ms;
        uint64_t gap = ahead ? (uint64_t)ev->ts_ms - (uint64_t)now_ms
                             : (uint64_t)now_ms - (uint64_t)ev->ts_ms;
        uint64_t lim = (uint64_t)(ahead ? max_ahead_ms : max_behind_ms);
        if (gap > lim) {
            char at[32], now[32], g[48], l[32];
            iso_time(ev->ts_ms, at);
            iso_time(now_ms, now);
            gap_text(gap, g);
            pr__fs_dur_text((int64_t)lim, l);
            return pr_err_set(err, PR_ERR_INVALID,
                              "key '%s': %lld (%s) is %s %s the server's clock (%s); "
                              "events at most %s %s are taken",
                              fs->ev_key_name[0], (long long)ev->ts_ms, at, g,
                              ahead ? "ahead of" : "behind", now, l,
                              ahead ? "ahead" : "old");
        }
    }
    int tid = pr__fs_type_id(fs, ev->type);
    if (tid < 0) return PR_OK;
    uint64_t bit = UINT64_C(1) << tid;
    for (uint32_t e = 0; e < fs->n_ents; e++) {
        const pr__fs_entity *en = &fs->ents[e];
        if (!(en->type_mask & bit)) continue;
        pr_bytes parts[PR__FS_MAX_KEYS];
        uint32_t k = 0;
        for (; k < en->n_keys; k++) {
            if (en->keys[k].kind != PR__REF_REQUEST) break;
            parts[k] = ev->cols[en->keys[k].a];
            if (!parts[k].len) break; /* absent: the entity is skipped */
        }
        if (k < en->n_keys) continue;
        size_t len = pr__fs_key_len(parts, en->n_keys);
        size_t max = PR_STORE_KEY_MAX - 4 - en->ns.len;
        if (len <= max) continue;
        char names[3 * (PR__FS_NAME_MAX + 8)];
        size_t o = 0;
        for (k = 0; k < en->n_keys && o < sizeof names; k++)
            o += (size_t)snprintf(names + o, sizeof names - o, "%s'%s'", k ? ", " : "",
                                  fs->col_names[en->keys[k].a]);
        return pr_err_set(err, PR_ERR_LIMIT,
                          "key %s: %zu bytes, more than the %zu a key of "
                          "entity '%s' may have",
                          names, len, max, en->name);
    }
    return PR_OK;
}

/* ---------------------------------------------------------------- context */

typedef struct ectx {
    const pr_bytes *req;
    int64_t ts;
    pr_arena *arena;
    uint8_t done[PR__FS_MAX_ENTITIES];
    pr_bytes key[PR__FS_MAX_ENTITIES];
    pr_bytes attrs[PR__FS_MAX_ENTITIES]; /* copy of the attribute section */
} ectx;

static pr_status resolve_entity(pr_fs *fs, ectx *c, uint32_t e, pr_err *err);

static pr_status ref_text(pr_fs *fs, ectx *c, const pr__fs_ref *r,
                          pr_bytes *out, pr_err *err) {
    *out = (pr_bytes){NULL, 0};
    switch (r->kind) {
    case PR__REF_REQUEST: *out = c->req[r->a]; return PR_OK;
    case PR__REF_TIME:
        *out = pr__fs_num_text(
            (double)pr__fs_time_feature((pr__time_feature)r->a, c->ts),
            c->arena);
        return PR_OK;
    default: {
        pr_status rc = resolve_entity(fs, c, r->a, err);
        if (rc != PR_OK) return rc;
        const pr__fs_entity *en = &fs->ents[r->a];
        if (!c->attrs[r->a].ptr) return PR_OK;
        /* The copy holds a whole blob's attribute section: view it as a
         * row whose state part is empty. */
        pr__fs_entity view = *en;
        view.state_bytes = 0;
        pr__fs_rowview rv = {(const uint8_t *)c->attrs[r->a].ptr,
                             (uint32_t)c->attrs[r->a].len};
        *out = pr__fs_row_attr(&view, rv, r->b);
        return PR_OK;
    }
    }
}

static pr_status entity_key(pr_fs *fs, ectx *c, uint32_t e, pr_bytes *key,
                            pr_err *err) {
    const pr__fs_entity *en = &fs->ents[e];
    pr_bytes parts[PR__FS_MAX_KEYS];
    for (uint32_t k = 0; k < en->n_keys; k++) {
        pr_status rc = ref_text(fs, c, &en->keys[k], &parts[k], err);
        if (rc != PR_OK) return rc;
    }
    *key = pr__fs_join_key(parts, en->n_keys, c->arena);
    if (key->ptr && !pr__fs_key_fits(en, *key)) {
        fs->stats.long_keys++;
        *key = (pr_bytes){NULL, 0};
    }
    return PR_OK;
}

static pr_status resolve_entity(pr_fs *fs, ectx *c, uint32_t e, pr_err *err) {
    if (c->done[e]) return PR_OK;
    c->done[e] = 1;
    c->attrs[e] = (pr_bytes){NULL, 0};
    pr_status rc = entity_key(fs, c, e, &c->key[e], err);
    if (rc != PR_OK || !c->key[e].ptr) return rc;
    const pr__fs_entity *en = &fs->ents[e];
    pr_bytes row;
    rc = fs->rows->get_batch(fs->rows_impl, en, &c->key[e], 1, c->ts, &row,
                             err);
    if (rc != PR_OK) {
        fs->stats.store_errors++;
        return rc;
    }
    pr__fs_rowview v = pr__fs_row_check(fs, en, row, c->ts);
    if (v.blob && v.len > en->state_bytes && fs->in_place) {
        /* The in-process table's rows stay where they are while the event
         * is applied (updates of aggregates never resize a row): borrow. */
        c->attrs[e] = pr_bytes_of((const char *)v.blob + en->state_bytes,
                                  v.len - en->state_bytes);
    } else if (v.blob && v.len > en->state_bytes) {
        size_t n = v.len - en->state_bytes;
        char *p = pr_arena_alloc(c->arena, n);
        if (!p) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
        memcpy(p, v.blob + en->state_bytes, n);
        c->attrs[e] = pr_bytes_of(p, n);
    }
    return PR_OK;
}

/* The row of entity e for an update: *blob points at a valid row of the
 * current layout (the stored one, or a fresh one in scratch). *in_table:
 * 1 when *blob is the in-process table's own row, updated where it lies
 * (no put needed). */
static pr_status row_for_update(pr_fs *fs, const pr__fs_entity *en,
                                pr_bytes key, int64_t now_ms, uint8_t **blob,
                                uint32_t *len, int *in_table, pr_err *err) {
    *in_table = 0;
    pr_bytes row;
    pr_status rc =
        fs->rows->get_batch(fs->rows_impl, en, &key, 1, now_ms, &row, err);
    if (rc != PR_OK) {
        fs->stats.store_errors++;
        return rc;
    }
    pr__fs_rowview v = pr__fs_row_check(fs, en, row, now_ms);
    if (v.blob && fs->in_place) {
        *blob = (uint8_t *)(uintptr_t)v.blob; /* the table's own memory */
        *len = v.len;
        *in_table = 1;
        return PR_OK;
    }
    size_t n = v.blob ? v.len : en->state_bytes;
    rc = pr__fs_scratch(fs, n, err);
    if (rc != PR_OK) return rc;
    if (v.blob) memcpy(fs->scratch, v.blob, n);
    else pr__fs_row_init(fs, en, fs->scratch);
    *blob = fs->scratch;
    *len = (uint32_t)n;
    return PR_OK;
}

static pr_status commit(pr_fs *fs, const pr__fs_entity *en, pr_bytes key,
                        uint8_t *blob, uint32_t len, pr_err *err) {
    pr_status rc =
        fs->rows->put(fs->rows_impl, en, key, pr_bytes_of((char *)blob, len),
                      pr__fs_expires_s(en, pr__ld_i64(blob + 8)), err);
    if (rc != PR_OK) fs->stats.store_errors++;
    return rc;
}

static double text_number(pr_bytes t) {
    double x = NAN;
    int is_int = 0;
    int64_t iv = 0;
    if (t.len && pr__parse_number(t.ptr, t.len, &x, &is_int, &iv) == PR__NUM_OK)
        return x;
    return NAN;
}

pr_status pr_fs_apply_event(pr_fs *fs, const pr_fs_event *ev,
                            pr_arena *arena, pr_err *err) {
    int tid = pr__fs_type_id(fs, ev->type);
    if (tid < 0 || !ev->has_ts) return PR_OK;
    uint64_t bit = UINT64_C(1) << tid;
    ectx c;
    memset(c.done, 0, fs->n_ents);
    c.req = ev->cols;
    c.ts = ev->ts_ms;
    c.arena = arena;
    fs->stats.events++;
    for (uint32_t e = 0; e < fs->n_ents; e++) {
        const pr__fs_entity *en = &fs->ents[e];
        if (!(en->type_mask & bit)) continue;
        pr_bytes key;
        pr_status rc = entity_key(fs, &c, e, &key, err);
        if (rc != PR_OK) return rc;
        if (!key.ptr) {
            fs->stats.missing_keys++;
            continue;
        }
        /* Values first: resolving them may read other rows. */
        double x[PR__FS_MAX_ENTITY_AGGS];
        pr_bytes tok[PR__FS_MAX_ENTITY_AGGS];
        for (uint32_t i = 0; i < en->n_aggs; i++) {
            const pr__fs_agg *a = &fs->aggs[en->aggs[i]];
            x[i] = 1.0;
            tok[i] = (pr_bytes){NULL, 0};
            if (!((a->num_mask | a->den_mask) & bit) || !a->has_value) continue;
            rc = ref_text(fs, &c, &a->value, &tok[i], err);
            if (rc != PR_OK) return rc;
            if (a->fn != PR__AGG_LAST_N) x[i] = text_number(tok[i]);
        }
        uint8_t *blob;
        uint32_t len;
        int in_table;
        rc = row_for_update(fs, en, key, ev->ts_ms, &blob, &len, &in_table, err);
        if (rc != PR_OK) return rc;
        int took = 0;
        for (uint32_t i = 0; i < en->n_aggs; i++) {
            const pr__fs_agg *a = &fs->aggs[en->aggs[i]];
            int num = (a->num_mask & bit) != 0, den = (a->den_mask & bit) != 0;
            if (!num && !den) continue;
            if (a->has_value && a->fn != PR__AGG_LAST_N && isnan(x[i]))
                continue; /* no usable value: nothing to add */
            if (pr__agg_apply(a, blob + a->offset, ev->ts_ms, num, den, x[i],
                              tok[i]))
                took = 1;
            else
                fs->stats.late_updates++; /* the state is untouched */
        }
        /* Nothing taken (every update late, or no usable value): the row
         * stays as it was, clock included. */
        if (!took) continue;
        if (pr__ld_i64(blob + 8) < ev->ts_ms) pr__st_i64(blob + 8, ev->ts_ms);
        if (in_table) continue; /* updated in place: a put would copy it onto itself */
        rc = commit(fs, en, key, blob, len, err);
        if (rc != PR_OK) return rc;
    }
    return PR_OK;
}

/* ---------------------------------------------------------------- lookahead */

#define AHEAD_ROW_MAX 4096u /* bytes of a row prefetched whole */

void pr__fs_ahead_slots(pr_fs *fs, const pr_fs_event *ev, pr_arena *arena,
                        pr__fs_ahead *a) {
    a->n = 0;
    if (!fs->in_place) return;
    for (uint32_t e = 0; e < fs->n_ents; e++) {
        const pr__fs_entity *en = &fs->ents[e];
        if (!en->n_attrs && !en->n_aggs) continue;
        /* Keys read through another row's attribute need that row first:
         * left to the lookup itself. */
        pr_bytes parts[PR__FS_MAX_KEYS];
        uint32_t k = 0;
        while (k < en->n_keys && en->keys[k].kind == PR__REF_REQUEST) {
            parts[k] = ev->cols[en->keys[k].a];
            k++;
        }
        if (k < en->n_keys) continue;
        pr_bytes key = pr__fs_join_key(parts, en->n_keys, arena);
        if (!key.ptr) continue;
        uint64_t h = pr__fs_table_hash(e, key);
        pr__fs_table_prefetch_slot(fs->rows_impl, h);
        a->ent[a->n] = e;
        a->hash[a->n++] = h;
    }
}

void pr__fs_ahead_rows(pr_fs *fs, const pr_fs_event *ev,
                       const pr__fs_ahead *a) {
    if (!fs->in_place) return;
    for (uint32_t i = 0; i < a->n; i++) {
        const pr__fs_entity *en = &fs->ents[a->ent[i]];
        uint32_t len;
        const uint8_t *row = pr__fs_table_peek(fs->rows_impl, a->ent[i],
                                               a->hash[i], &len);
        if (!row || len < en->state_bytes) continue;
        /* The whole row, up to AHEAD_ROW_MAX: assembly reads the header,
         * every aggregate's head and total and the attributes; an update
         * moving a ring sums all its buckets again (most updates of a row
         * seen now and then). Of a longer row, each aggregate's first
         * line and the bucket the event lands in. */
        if (len <= AHEAD_ROW_MAX) {
            for (uint32_t o = 0; o < len; o += 64) __builtin_prefetch(row + o);
            __builtin_prefetch(row + len - 1);
            continue;
        }
        __builtin_prefetch(row);
        for (uint32_t g = 0; g < en->n_aggs; g++) {
            const pr__fs_agg *ag = &fs->aggs[en->aggs[g]];
            __builtin_prefetch(row + ag->offset);
            __builtin_prefetch(row + ag->offset + pr__agg_touch_offset(ag, ev->ts_ms));
        }
        __builtin_prefetch(row + en->state_bytes);
    }
}

/* ---------------------------------------------------------------- tables */

pr_status pr_fs_put_attributes(pr_fs *fs, uint32_t e, const pr_bytes *key,
                               const pr_bytes *attrs, int64_t effective_ms,
                               pr_err *err) {
    if (e >= fs->n_ents || fs->ents[e].table < 0)
        return pr_err_set(err, PR_ERR_INVALID,
                          "entity %u has no table attributes", e);
    const pr__fs_entity *en = &fs->ents[e];
    char kbuf[1024];
    pr_arena a;
    pr_arena_init(&a, kbuf, sizeof kbuf, 0);
    pr_bytes k = pr__fs_join_key(key, en->n_keys, &a);
    pr_status rc = PR_OK;
    if (!k.ptr) {
        rc = pr_err_set(err, PR_ERR_INVALID, "entity '%s': empty key", en->name);
        goto out;
    }
    size_t alen = 0;
    for (uint32_t i = 0; i < en->n_attrs; i++) {
        if (attrs[i].len > UINT16_MAX) {
            rc = pr_err_set(err, PR_ERR_LIMIT,
                            "entity '%s': attribute %u is %zu bytes (max %u)",
                            en->name, i, attrs[i].len, UINT16_MAX);
            goto out;
        }
        alen += 2 + attrs[i].len;
    }
    pr_bytes row;
    /* now = effective time: the TTL clock of the row at that moment. */
    rc = fs->rows->get_batch(fs->rows_impl, en, &k, 1, effective_ms, &row, err);
    if (rc != PR_OK) {
        fs->stats.store_errors++;
        goto out;
    }
    pr__fs_rowview v = pr__fs_row_check(fs, en, row, effective_ms);
    if (v.blob && pr__ld_i64(v.blob + 16) > effective_ms) goto out; /* newer */
    rc = pr__fs_scratch(fs, en->state_bytes + alen, err);
    if (rc != PR_OK) goto out;
    uint8_t *b = fs->scratch;
    if (v.blob) memmove(b, v.blob, en->state_bytes);
    else pr__fs_row_init(fs, en, b);
    pr__st_u32(b + 4, (uint32_t)alen);
    if (pr__ld_i64(b + 8) < effective_ms) pr__st_i64(b + 8, effective_ms);
    pr__st_i64(b + 16, effective_ms);
    uint8_t *p = b + en->state_bytes;
    for (uint32_t i = 0; i < en->n_attrs; i++) {
        uint16_t l = (uint16_t)attrs[i].len;
        memcpy(p, &l, 2);
        if (l) memcpy(p + 2, attrs[i].ptr, l);
        p += 2 + l;
    }
    rc = commit(fs, en, k, b, (uint32_t)(en->state_bytes + alen), err);
out:
    pr_arena_free(&a);
    return rc;
}

/* ---------------------------------------------------------------- debug */

/* A JSON string of bytes that may not be UTF-8 (a table attribute is
 * whatever the file held): invalid input is shown with \xNN escapes
 * rather than dropped. */
static json_t *json_text(pr_bytes t) {
    json_t *j = json_stringn(t.ptr ? t.ptr : "", t.len);
    if (j) return j;
    char *buf = malloc(t.len * 4 + 1);
    if (!buf) return json_null();
    size_t o = 0;
    for (size_t i = 0; i < t.len; i++) {
        unsigned char ch = (unsigned char)t.ptr[i];
        if (ch >= 0x20 && ch < 0x7f) {
            buf[o++] = (char)ch;
        } else {
            snprintf(buf + o, 5, "\\x%02x", ch);
            o += 4;
        }
    }
    j = json_stringn(buf, o);
    free(buf);
    return j ? j : json_null();
}

/* A number, null when it is not finite (JSON has no inf or NaN). */
static json_t *json_number(double x) {
    if (!isfinite(x)) return json_null();
    if (x == floor(x) && fabs(x) < 9e15) return json_integer((json_int_t)x);
    return json_real(x);
}

pr_status pr_fs_describe_row(pr_fs *fs, uint32_t e, const pr_bytes *key,
                             int64_t now_ms, char **json, pr_err *err) {
    if (e >= fs->n_ents)
        return pr_err_set(err, PR_ERR_INVALID, "no entity %u", e);
    const pr__fs_entity *en = &fs->ents[e];
    pr_arena a;
    pr_arena_init(&a, NULL, 0, 0);
    pr_bytes k = pr__fs_join_key(key, en->n_keys, &a);
    pr_bytes row = {NULL, 0};
    pr_status rc = PR_OK;
    json_t *root = NULL;
    if (!k.ptr) {
        rc = pr_err_set(err, PR_ERR_INVALID, "entity '%s': empty key", en->name);
        goto out;
    }
    rc = fs->rows->get_batch(fs->rows_impl, en, &k, 1, now_ms, &row, err);
    if (rc != PR_OK) goto out;
    pr__fs_rowview v = pr__fs_row_check(fs, en, row, now_ms);
    if (!v.blob) {
        rc = pr_err_set(err, PR_ERR_NOTFOUND,
                        "entity '%s' has no row for this key%s", en->name,
                        row.ptr ? " (the stored row is expired or was written "
                                  "under another spec)"
                                : "");
        goto out;
    }
    root = json_object();
    json_t *attrs = json_object(), *aggs = json_object();
    json_object_set_new(root, "entity", json_string(en->name));
    json_object_set_new(root, "key", json_text(k));
    json_object_set_new(root, "as_of_ms", json_integer(now_ms));
    int64_t upd = pr__ld_i64(v.blob + 8), eff = pr__ld_i64(v.blob + 16);
    json_object_set_new(root, "updated_ms",
                        upd == PR__ROW_EMPTY ? json_null() : json_integer(upd));
    json_object_set_new(root, "attributes_effective_ms",
                        eff == PR__ROW_EMPTY ? json_null() : json_integer(eff));
    json_object_set_new(root, "row_bytes", json_integer(v.len));
    for (uint32_t i = 0; i < en->n_attrs; i++) {
        pr_bytes t = pr__fs_row_attr(en, v, i);
        json_object_set_new(attrs, fs->ss->sources[en->table].attributes[i], json_text(t));
    }
    for (uint32_t i = 0; i < en->n_aggs; i++) {
        const pr__fs_agg *ag = &fs->aggs[en->aggs[i]];
        double x;
        pr_bytes list = {NULL, 0};
        json_t *val;
        if (!pr__agg_eval(ag, v.blob + ag->offset, now_ms, &a, &x, &list))
            val = json_null();
        else if (ag->fn == PR__AGG_LAST_N)
            val = json_text(list);
        else
            val = json_number(x);
        json_object_set_new(aggs, ag->spec->name, val);
    }
    json_object_set_new(root, "attributes", attrs);
    json_object_set_new(root, "aggregates", aggs);
    *json = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!*json) rc = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
out:
    json_decref(root);
    pr_arena_free(&a);
    return rc;
}
