/*
 * fs_plan.c: spec store sections -> the flat plan in struct pr_fs
 * (fs_int.h): assembled column names, entity key references, every
 * aggregate's place in its entity's row blob, the event types, and the
 * compiled JSON keys for event lines.
 *
 * The spec parser (spec_store_parse.c) has validated every reference, so a
 * reference that fails to resolve here is an internal error, reported as
 * PR_ERR_SPEC all the same rather than trusted.
 *
 * Ownership: fs->spec is the pr_fs's own copy; every name in the plan is
 * borrowed from it except the "entity.attribute" column names, which the
 * plan owns.
 */
#include <stdio.h>
#include <stdlib.h>

#include "base/json_scan.h"
#include "fstore/fs_int.h"

static const char *const time_names[PR__TIME_COUNT] = {"hour_of_day",
                                                       "day_of_week"};

static pr_status resolve_ref(const pr_fs *fs, const char *name,
                             uint32_t before_entity, int allow_time,
                             pr__fs_ref *out, pr_err *err) {
    const pr__store_spec *ss = fs->ss;
    for (uint32_t i = 0; i < ss->request.n_columns; i++)
        if (!strcmp(ss->request.columns[i], name)) {
            *out = (pr__fs_ref){PR__REF_REQUEST, i, 0};
            return PR_OK;
        }
    if (allow_time)
        for (uint32_t i = 0; i < ss->request.n_time; i++)
            if (!strcmp(time_names[ss->request.time[i]], name)) {
                *out = (pr__fs_ref){PR__REF_TIME, ss->request.time[i], 0};
                return PR_OK;
            }
    const char *dot = strchr(name, '.');
    if (dot) {
        size_t elen = (size_t)(dot - name);
        for (uint32_t e = 0; e < before_entity && e < fs->n_ents; e++) {
            const pr__fs_entity *en = &fs->ents[e];
            if (strlen(en->name) != elen || memcmp(en->name, name, elen) ||
                en->table < 0)
                continue;
            const pr__source_spec *src = &ss->sources[en->table];
            for (uint32_t a = 0; a < src->n_attributes; a++)
                if (!strcmp(src->attributes[a], dot + 1)) {
                    *out = (pr__fs_ref){PR__REF_ATTR, e, a};
                    return PR_OK;
                }
        }
    }
    return pr_err_set(err, PR_ERR_SPEC, "%s: unresolved column reference '%s'",
                      fs->spec->name, name);
}

static int table_of(const pr__store_spec *ss, uint32_t e) {
    for (uint32_t s = 0; s < ss->n_sources; s++)
        if (ss->sources[s].kind == PR__SOURCE_TABLE && ss->sources[s].entity == e)
            return (int)s;
    return -1;
}

static pr_status add_type(pr_fs *fs, const char *t, uint64_t *mask,
                          pr_err *err) {
    pr_bytes b = pr_bytes_of(t, strlen(t));
    int id = pr__fs_type_id(fs, b);
    if (id < 0) {
        if (fs->n_types == PR__FS_MAX_TYPES)
            return pr_err_set(err, PR_ERR_LIMIT,
                              "%s: more than %u distinct event types",
                              fs->spec->name, PR__FS_MAX_TYPES);
        id = (int)fs->n_types;
        fs->types[fs->n_types++] = b;
    }
    *mask |= UINT64_C(1) << id;
    return PR_OK;
}

int pr__fs_type_id(const pr_fs *fs, pr_bytes type) {
    for (uint32_t i = 0; i < fs->n_types; i++)
        if (fs->types[i].len == type.len &&
            !memcmp(fs->types[i].ptr, type.ptr, type.len))
            return (int)i;
    return -1;
}

/* The aggregate's state size and shape. */
static void size_agg(pr__fs_agg *a) {
    const pr__agg_spec *s = a->spec;
    switch (a->fn) {
    case PR__AGG_DECAYED_COUNT:
    case PR__AGG_DECAYED_SUM:
        a->half_life_ms = (double)s->half_life_ms;
        a->size = 16;
        break;
    case PR__AGG_LAST_N:
        a->n = s->n;
        a->max_len = s->max_len;
        a->slot = (8 + 1 + s->max_len + 7) & ~7u;
        a->size = 8 + a->n * a->slot;
        break;
    default:
        a->buckets = s->buckets;
        a->gran_ms = s->window_ms / s->buckets;
        a->width = a->fn == PR__AGG_MEAN || a->fn == PR__AGG_RATE ? 2 : 1;
        a->size = 8 + (a->buckets + 1) * a->width * 8;
        a->prior = s->prior;
        a->prior_weight = s->prior_weight;
        break;
    }
}

static uint32_t layout_id(const pr_fs *fs, const pr__fs_entity *e) {
    /* Everything that gives the state bytes their meaning. */
    uint64_t h = pr_hash64(e->name, strlen(e->name), 0x524f57);
    for (uint32_t i = 0; i < e->n_aggs; i++) {
        const pr__fs_agg *a = &fs->aggs[e->aggs[i]];
        int64_t words[8] = {a->fn,          a->spec->window_ms, a->buckets,
                            a->spec->half_life_ms, a->n, a->max_len,
                            (int64_t)a->offset, 0};
        h = pr_hash64(words, sizeof words, h);
        h = pr_hash64(a->spec->name, strlen(a->spec->name), h);
    }
    if (e->table >= 0) {
        const pr__source_spec *src = &fs->ss->sources[e->table];
        for (uint32_t a = 0; a < src->n_attributes; a++)
            h = pr_hash64(src->attributes[a], strlen(src->attributes[a]) + 1, h);
    }
    return (uint32_t)h;
}

static pr_status plan_columns(pr_fs *fs, pr_err *err) {
    const pr__store_spec *ss = fs->ss;
    fs->n_req = ss->request.n_columns;
    fs->n_time = ss->request.n_time;
    uint32_t n = fs->n_req + fs->n_time + ss->n_aggregates;
    for (uint32_t e = 0; e < fs->n_ents; e++) n += fs->ents[e].n_attrs;
    fs->col_names = calloc(n ? n : 1, sizeof *fs->col_names);
    fs->col_text = calloc(n ? n : 1, 1);
    if (!fs->col_names || !fs->col_text)
        return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    fs->n_cols = n; /* so a failure below frees what was made */
    uint32_t c = 0;
    for (uint32_t i = 0; i < fs->n_req; i++)
        fs->col_names[c++] = strdup(ss->request.columns[i]);
    for (uint32_t i = 0; i < fs->n_time; i++)
        fs->col_names[c++] = strdup(time_names[ss->request.time[i]]);
    for (uint32_t e = 0; e < fs->n_ents; e++) {
        pr__fs_entity *en = &fs->ents[e];
        en->attr_col = c;
        for (uint32_t a = 0; a < en->n_attrs; a++) {
            const char *attr = ss->sources[en->table].attributes[a];
            size_t len = strlen(en->name) + 1 + strlen(attr) + 1;
            char *name = malloc(len);
            if (name) snprintf(name, len, "%s.%s", en->name, attr);
            fs->col_names[c++] = name;
        }
    }
    for (uint32_t i = 0; i < ss->n_aggregates; i++) {
        fs->aggs[i].column = c;
        fs->col_names[c++] = strdup(ss->aggregates[i].name);
    }
    for (uint32_t i = 0; i < c; i++)
        if (!fs->col_names[i])
            return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    /* Text is rendered only where a categorical field reads it. */
    for (uint32_t f = 0; f < fs->spec->n_fields; f++) {
        const pr__field_spec *fld = &fs->spec->fields[f];
        if (fld->type != PR__FIELD_CATEGORICAL) continue;
        for (uint32_t i = 0; i < c; i++)
            if (!strcmp(fs->col_names[i], fld->column)) fs->col_text[i] = 1;
    }
    return PR_OK;
}

static pr_status plan_json_keys(pr_fs *fs, pr_err *err) {
    const pr__store_spec *ss = fs->ss;
    const pr__source_spec *ev = NULL;
    for (uint32_t s = 0; s < ss->n_sources; s++)
        if (ss->sources[s].kind == PR__SOURCE_EVENTS) ev = &ss->sources[s];
    const char *keys[PR__FS_MAX_REQUEST_COLUMNS + 4];
    uint32_t n = 0;
    if (fs->n_req > PR__FS_MAX_REQUEST_COLUMNS)
        return pr_err_set(err, PR_ERR_LIMIT, "%s: %u request columns (max %u)",
                          fs->spec->name, fs->n_req, PR__FS_MAX_REQUEST_COLUMNS);
    for (uint32_t i = 0; i < fs->n_req; i++) keys[n++] = ss->request.columns[i];
    const char *ev_keys[4] = {ev && ev->time ? ev->time : ss->request.timestamp,
                              ev && ev->type ? ev->type : "type",
                              ev && ev->id ? ev->id : "event_id",
                              ev && ev->impression ? ev->impression : "impression_id"};
    for (uint32_t k = 0; k < 4; k++) {
        /* A request column may be the event's own key (impression_id as a
         * feature): both read the one slot. */
        uint32_t j = 0;
        while (j < n && strcmp(keys[j], ev_keys[k])) j++;
        if (j == n) keys[n++] = ev_keys[k];
        fs->ev_key[k] = j;
        fs->ev_key_name[k] = ev_keys[k];
    }
    pr_json_keys *jk = NULL;
    pr_status rc = pr_json_keys_new(keys, n, &jk, err);
    if (rc != PR_OK) return rc;
    fs->json_keys = jk;
    fs->n_json_keys = n;
    return PR_OK;
}

pr_status pr__fs_plan(pr_fs *fs, pr_err *err) {
    const pr__store_spec *ss = fs->ss;
    fs->n_ents = ss->n_entities;
    fs->n_aggs = ss->n_aggregates;
    fs->ents = calloc(fs->n_ents ? fs->n_ents : 1, sizeof *fs->ents);
    fs->aggs = calloc(fs->n_aggs ? fs->n_aggs : 1, sizeof *fs->aggs);
    if (!fs->ents || !fs->aggs)
        return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    pr_status rc = PR_OK;
    for (uint32_t e = 0; e < fs->n_ents; e++) {
        const pr__entity_spec *es = &ss->entities[e];
        pr__fs_entity *en = &fs->ents[e];
        en->id = e;
        en->name = es->name;
        en->ns = pr_bytes_of(es->name, strlen(es->name));
        en->ttl_ms = es->ttl_ms;
        en->table = table_of(ss, e);
        en->n_attrs = en->table >= 0 ? ss->sources[en->table].n_attributes : 0;
        en->n_keys = es->n_keys;
        for (uint32_t k = 0; k < es->n_keys; k++) {
            rc = resolve_ref(fs, es->keys[k], e, 0, &en->keys[k], err);
            if (rc != PR_OK) return rc;
        }
        en->aggs = calloc(ss->n_aggregates ? ss->n_aggregates : 1,
                          sizeof *en->aggs);
        if (!en->aggs) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
        en->state_bytes = PR__ROW_HEADER;
    }
    for (uint32_t i = 0; i < fs->n_aggs; i++) {
        const pr__agg_spec *as = &ss->aggregates[i];
        pr__fs_agg *a = &fs->aggs[i];
        a->spec = as;
        a->fn = as->function;
        a->entity = as->entity;
        size_agg(a);
        for (uint32_t t = 0; t < as->n_events; t++)
            if ((rc = add_type(fs, as->events[t], &a->num_mask, err)) != PR_OK)
                return rc;
        for (uint32_t t = 0; t < as->n_per; t++)
            if ((rc = add_type(fs, as->per[t], &a->den_mask, err)) != PR_OK)
                return rc;
        if (as->value) {
            a->has_value = 1;
            rc = resolve_ref(fs, as->value, fs->n_ents, 1, &a->value, err);
            if (rc != PR_OK) return rc;
        }
        a->default_num = NAN;
        if (as->default_text) {
            a->has_default = 1;
            a->default_text =
                pr_bytes_of(as->default_text, strlen(as->default_text));
            char *end = NULL;
            double x = strtod(as->default_text, &end);
            if (end && end != as->default_text && !*end && isfinite(x))
                a->default_num = x;
        }
        pr__fs_entity *en = &fs->ents[a->entity];
        if (en->n_aggs == PR__FS_MAX_ENTITY_AGGS)
            return pr_err_set(err, PR_ERR_LIMIT,
                              "%s: entity '%s' has more than %u aggregates",
                              fs->spec->name, en->name, PR__FS_MAX_ENTITY_AGGS);
        a->offset = en->state_bytes;
        en->state_bytes += a->size;
        en->aggs[en->n_aggs++] = i;
        en->type_mask |= a->num_mask | a->den_mask;
    }
    for (uint32_t e = 0; e < fs->n_ents; e++)
        fs->ents[e].layout_id = layout_id(fs, &fs->ents[e]);
    rc = plan_columns(fs, err);
    if (rc != PR_OK) return rc;
    return plan_json_keys(fs, err);
}

void pr__fs_plan_free(pr_fs *fs) {
    if (fs->col_names)
        for (uint32_t i = 0; i < fs->n_cols; i++) free(fs->col_names[i]);
    free(fs->col_names);
    free(fs->col_text);
    if (fs->ents)
        for (uint32_t e = 0; e < fs->n_ents; e++) free(fs->ents[e].aggs);
    free(fs->ents);
    free(fs->aggs);
    pr_json_keys_free(fs->json_keys);
}
