/*
 * fs_compare.c: does a model's spec mean by its columns what the store's
 * spec means? (pr_fs_check_model_spec, fstore.h)
 *
 * A model learned its weights from columns its own spec computed; the
 * server feeds it the columns the store's spec computes, matched by name.
 * Names are not enough: "user_ctr_1h" over a 2 h window, or a user keyed
 * by (user, site), gives the model numbers it never saw in training. So
 * for every column the model's fields read, the two compiled plans are
 * compared definition by definition, and the first difference is named:
 *
 *   request / time column   the name is the definition (a raw request
 *                           value, or hour/day of the request's time); a
 *                           model spec without store sections (trained on
 *                           a file's columns) reads these only
 *   "entity.attribute"      the entity's key (each part: the request
 *                           column, or "E.attr" of an entity compared the
 *                           same way) and its ttl
 *   aggregate               function, entity (as above), event types and
 *                           rate's denominator types (as sets), value
 *                           column, window, buckets, half-life, n,
 *                           max_len, prior, prior weight, default
 *
 * What is not compared: names of entities and sources (the store's
 * namespaces, not the values), file paths and formats, the JSON keys of
 * events, and aggregates no field reads.
 *
 * Ownership: the model's plan is built here over no store and freed
 * before returning; nothing is kept.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fstore/fs_int.h"

typedef enum { COL_INPUT, COL_REQUEST, COL_TIME, COL_ATTR, COL_AGG } col_kind;

static const char *const kind_names[] = {"a column of the training input",
                                         "a request column", "a time column",
                                         "a table attribute", "an aggregate"};

/* The kind of column c of fs's plan; for COL_AGG, *idx = its aggregate;
 * for COL_ATTR, *idx = its entity. */
static col_kind kind_of(const pr_fs *fs, uint32_t c, uint32_t *idx) {
    if (c < fs->n_req) return COL_REQUEST;
    if (c < fs->n_req + fs->n_time) return COL_TIME;
    for (uint32_t a = 0; a < fs->n_aggs; a++)
        if (fs->aggs[a].column == c) {
            *idx = a;
            return COL_AGG;
        }
    for (uint32_t e = 0; e < fs->n_ents; e++)
        if (c >= fs->ents[e].attr_col && c < fs->ents[e].attr_col + fs->ents[e].n_attrs) {
            *idx = e;
            return COL_ATTR;
        }
    return COL_INPUT; /* not reached: every column has a kind */
}

static int find_col(const pr_fs *fs, const char *name, uint32_t *c) {
    if (!fs) return 0;
    for (uint32_t i = 0; i < fs->n_cols; i++)
        if (!strcmp(fs->col_names[i], name)) {
            *c = i;
            return 1;
        }
    return 0;
}

/* The text a reference names: "user_id", "hour_of_day", "ad.advertiser_id". */
static void ref_name(const pr_fs *fs, const pr__fs_ref *r, char *out, size_t cap) {
    switch (r->kind) {
    case PR__REF_REQUEST: snprintf(out, cap, "%s", fs->col_names[r->a]); break;
    case PR__REF_TIME:
        snprintf(out, cap, "%s", r->a == PR__TIME_HOUR_OF_DAY ? "hour_of_day" : "day_of_week");
        break;
    default: {
        const pr__fs_entity *en = &fs->ents[r->a];
        snprintf(out, cap, "%s", fs->col_names[en->attr_col + r->b]);
        break;
    }
    }
}

static void key_text(const pr_fs *fs, const pr__fs_entity *en, char *out, size_t cap) {
    size_t o = (size_t)snprintf(out, cap, "[");
    for (uint32_t k = 0; k < en->n_keys && o < cap; k++) {
        char n[160];
        ref_name(fs, &en->keys[k], n, sizeof n);
        o += (size_t)snprintf(out + o, cap - o, "%s%s", k ? ", " : "", n);
    }
    if (o < cap) snprintf(out + o, cap - o, "]");
}

static void ttl_text(int64_t ms, char *out) {
    if (!ms) snprintf(out, 32, "none");
    else pr__fs_dur_text(ms, out);
}

static int entity_diff(const pr_fs *m, const pr__fs_entity *me, const pr_fs *s,
                       const pr__fs_entity *se, char *why, size_t cap);

/* References m_r (in m) and s_r (in s): the same column, meaning the
 * same? 0, or 1 with *why set. */
static int ref_diff(const pr_fs *m, const pr__fs_ref *mr, const pr_fs *s, const pr__fs_ref *sr,
                    const char *what, char *why, size_t cap) {
    char a[160], b[160];
    ref_name(m, mr, a, sizeof a);
    ref_name(s, sr, b, sizeof b);
    if (mr->kind != sr->kind || strcmp(a, b)) {
        snprintf(why, cap, "%s %s in the model's spec, %s in the store's", what, a, b);
        return 1;
    }
    if (mr->kind == PR__REF_ATTR)
        return entity_diff(m, &m->ents[mr->a], s, &s->ents[sr->a], why, cap);
    return 0;
}

static int entity_diff(const pr_fs *m, const pr__fs_entity *me, const pr_fs *s,
                       const pr__fs_entity *se, char *why, size_t cap) {
    int same_keys = me->n_keys == se->n_keys;
    for (uint32_t k = 0; same_keys && k < me->n_keys; k++) {
        char a[160], b[160];
        ref_name(m, &me->keys[k], a, sizeof a);
        ref_name(s, &se->keys[k], b, sizeof b);
        same_keys = me->keys[k].kind == se->keys[k].kind && !strcmp(a, b);
    }
    if (!same_keys) {
        char a[512], b[512];
        key_text(m, me, a, sizeof a);
        key_text(s, se, b, sizeof b);
        snprintf(why, cap, "entity '%s' keyed by %s in the model's spec, '%s' keyed by %s in "
                 "the store's", me->name, a, se->name, b);
        return 1;
    }
    for (uint32_t k = 0; k < me->n_keys; k++) /* "E.attr" parts: E itself */
        if (me->keys[k].kind == PR__REF_ATTR &&
            entity_diff(m, &m->ents[me->keys[k].a], s, &s->ents[se->keys[k].a], why, cap))
            return 1;
    if (me->ttl_ms != se->ttl_ms) {
        char a[32], b[32];
        ttl_text(me->ttl_ms, a);
        ttl_text(se->ttl_ms, b);
        snprintf(why, cap, "entity '%s' ttl %s in the model's spec, %s in the store's",
                 me->name, a, b);
        return 1;
    }
    return 0;
}

static const char *const fn_names[] = {"count", "sum", "mean", "rate", "decayed_count",
                                       "decayed_sum", "last_n"};

/* Whether two lists of event types hold the same set. */
static int same_types(char *const *a, uint32_t na, char *const *b, uint32_t nb) {
    for (int pass = 0; pass < 2; pass++) {
        char *const *x = pass ? b : a, *const *y = pass ? a : b;
        uint32_t nx = pass ? nb : na, ny = pass ? na : nb;
        for (uint32_t i = 0; i < nx; i++) {
            uint32_t j = 0;
            while (j < ny && strcmp(x[i], y[j])) j++;
            if (j == ny) return 0;
        }
    }
    return 1;
}

static void types_text(char *const *t, uint32_t n, char *out, size_t cap) {
    size_t o = (size_t)snprintf(out, cap, "[");
    for (uint32_t i = 0; i < n && o < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? ", " : "", t[i]);
    if (o < cap) snprintf(out + o, cap - o, "]");
}

#define DIFF_DUR(field, label)                                                               \
    if (ma->field != sa->field) {                                                            \
        char dx[32], dy[32];                                                                 \
        pr__fs_dur_text(ma->field, dx);                                                      \
        pr__fs_dur_text(sa->field, dy);                                                      \
        snprintf(why, cap, label " %s in the model's spec, %s in the store's", dx, dy);     \
        return 1;                                                                            \
    }
#define DIFF_U32(field, label)                                                               \
    if (ma->field != sa->field) {                                                            \
        snprintf(why, cap, label " %u in the model's spec, %u in the store's", ma->field,    \
                 sa->field);                                                                 \
        return 1;                                                                            \
    }
#define DIFF_F64(field, label)                                                               \
    if (ma->field != sa->field) {                                                            \
        snprintf(why, cap, label " %.17g in the model's spec, %.17g in the store's",         \
                 ma->field, sa->field);                                                      \
        return 1;                                                                            \
    }

static int agg_diff(const pr_fs *m, const pr__fs_agg *mg, const pr_fs *s, const pr__fs_agg *sg,
                    char *why, size_t cap) {
    const pr__agg_spec *ma = mg->spec, *sa = sg->spec;
    if (ma->function != sa->function) {
        snprintf(why, cap, "function %s in the model's spec, %s in the store's",
                 fn_names[ma->function], fn_names[sa->function]);
        return 1;
    }
    if (entity_diff(m, &m->ents[mg->entity], s, &s->ents[sg->entity], why, cap)) return 1;
    char x[512], y[512];
    if (!same_types(ma->events, ma->n_events, sa->events, sa->n_events)) {
        types_text(ma->events, ma->n_events, x, sizeof x);
        types_text(sa->events, sa->n_events, y, sizeof y);
        snprintf(why, cap, "events %s in the model's spec, %s in the store's", x, y);
        return 1;
    }
    if (!same_types(ma->per, ma->n_per, sa->per, sa->n_per)) {
        types_text(ma->per, ma->n_per, x, sizeof x);
        types_text(sa->per, sa->n_per, y, sizeof y);
        snprintf(why, cap, "per %s in the model's spec, %s in the store's", x, y);
        return 1;
    }
    if (mg->has_value != sg->has_value) {
        snprintf(why, cap, "value %s in the model's spec, %s in the store's",
                 mg->has_value ? ma->value : "none", sg->has_value ? sa->value : "none");
        return 1;
    }
    if (mg->has_value && ref_diff(m, &mg->value, s, &sg->value, "value", why, cap)) return 1;
    DIFF_DUR(window_ms, "window")
    DIFF_U32(buckets, "buckets")
    DIFF_DUR(half_life_ms, "half_life")
    DIFF_U32(n, "n")
    DIFF_U32(max_len, "max_len")
    DIFF_F64(prior, "prior")
    DIFF_F64(prior_weight, "prior_weight")
    if ((ma->default_text == NULL) != (sa->default_text == NULL) ||
        (ma->default_text && strcmp(ma->default_text, sa->default_text))) {
        snprintf(why, cap, "default %s%s%s in the model's spec, %s%s%s in the store's",
                 ma->default_text ? "'" : "", ma->default_text ? ma->default_text : "none",
                 ma->default_text ? "'" : "", sa->default_text ? "'" : "",
                 sa->default_text ? sa->default_text : "none", sa->default_text ? "'" : "");
        return 1;
    }
    return 0;
}

/* Column `name` in the model's plan m (NULL: a spec without store
 * sections) against the store's s: 0 or 1 with *why. */
static int column_diff(const pr_fs *m, const pr_fs *s, const char *name, char *why,
                       size_t cap) {
    uint32_t sc, mc, si = 0, mi = 0;
    if (!find_col(s, name, &sc)) return 0; /* binding reports it */
    col_kind sk = kind_of(s, sc, &si);
    col_kind mk = find_col(m, name, &mc) ? kind_of(m, mc, &mi) : COL_INPUT;
    int raw_s = sk == COL_REQUEST || sk == COL_TIME;
    if (raw_s && (mk == sk || (mk == COL_INPUT && sk == COL_REQUEST))) return 0;
    if (mk != sk) {
        snprintf(why, cap, "%s in the model's spec, %s in the store's", kind_names[mk],
                 kind_names[sk]);
        return 1;
    }
    if (sk == COL_ATTR) return entity_diff(m, &m->ents[mi], s, &s->ents[si], why, cap);
    return agg_diff(m, &m->aggs[mi], s, &s->aggs[si], why, cap);
}

pr_status pr_fs_check_model_spec(const pr_fs *store, const pr_spec *model, pr_err *err) {
    pr_fs *m = NULL;
    if (model->store.has_request) {
        pr_status rc = pr_fs_open(model, NULL, &m, err);
        if (rc != PR_OK) return rc;
    }
    pr_status rc = PR_OK;
    for (uint32_t f = 0; f < model->n_fields; f++) {
        char why[2048]; /* pr_err_set cuts it to PR_ERR_MSG_MAX */
        const char *col = model->fields[f].column;
        if (column_diff(m, store, col, why, sizeof why)) {
            rc = pr_err_set(err, PR_ERR_SPEC, "column %s: %s", col, why);
            break;
        }
    }
    pr_fs_free(m);
    return rc;
}
