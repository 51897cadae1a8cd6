/*
 * spec_emit.c: pr_spec -> canonical YAML text.
 *
 * Canonical means: every key written (defaults included) in one fixed order,
 * every string double-quoted, every edge as %.17g (which reads back as the
 * same double). So parse(to_yaml(s)) featurizes exactly like s, and two
 * equal specs give byte-identical text: a model file can embed it and the
 * server can compare it.
 *
 * Quantile fields that have been fitted are written as transform: bins with
 * the learned edges (deliberately without a marker, so that the text of a
 * fitted featurizer is itself canonical: to_yaml(parse(text)) == text);
 * unfitted ones as quantile with their bin count.
 *
 * Feature-store sections (spec_store.h) follow input, before fields (they
 * make the columns fields read): every key with its default, durations as
 * integer milliseconds ("86400000ms"), rate priors as %.17g, key lists and
 * name lists as flow sequences of quoted strings. A spec without them
 * prints exactly as it did before they existed.
 *
 * Ownership: the text is built in a malloc'd buffer handed to the caller.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feature/feature_int.h"
#include "feature/spec_yaml.h"

typedef struct strbuf {
    char *p;
    size_t len, cap;
    int failed; /* sticky: an allocation failed */
} strbuf;

static void sb_reserve(strbuf *b, size_t extra) {
    if (b->failed || b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + extra + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->failed = 1;
        return;
    }
    b->p = p;
    b->cap = cap;
}

static void sb_put(strbuf *b, const char *s, size_t n) {
    sb_reserve(b, n);
    if (b->failed) return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_printf(strbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sb_printf(strbuf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    /* every format used here fits in tmp: strings go through sb_quoted */
    sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A YAML double-quoted scalar. Specs hold no control bytes (the parser
 * refuses them), so only '"' and '\\' need escaping. */
static void sb_quoted(strbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (const char *c = s; *c; c++) {
        if (*c == '"' || *c == '\\') sb_put(b, "\\", 1);
        sb_put(b, c, 1);
    }
    sb_put(b, "\"", 1);
}

static void sb_key_string(strbuf *b, const char *indent_key,
                          const char *value) {
    sb_put(b, indent_key, strlen(indent_key));
    sb_quoted(b, value);
    sb_put(b, "\n", 1);
}

static const char *transform_word(pr__transform t) {
    switch (t) {
    case PR__TRANSFORM_LOG_BUCKET: return "log_bucket";
    case PR__TRANSFORM_BINS: return "bins";
    case PR__TRANSFORM_QUANTILE: return "quantile";
    case PR__TRANSFORM_IDENTITY: return "identity";
    default: return NULL;
    }
}

static void emit_field(strbuf *b, const pr__field_spec *f) {
    sb_key_string(b, "  - name: ", f->name);
    sb_key_string(b, "    column: ", f->column);
    if (f->type == PR__FIELD_CATEGORICAL) {
        sb_printf(b, "    type: categorical\n");
    } else {
        sb_printf(b, "    type: numeric\n");
        sb_printf(b, "    transform: %s\n", transform_word(f->transform));
    }
    if (f->transform == PR__TRANSFORM_BINS) {
        sb_printf(b, "    edges: [");
        for (uint32_t i = 0; i < f->n_edges; i++)
            sb_printf(b, "%s%.17g", i ? ", " : "", f->edges[i]);
        sb_printf(b, "]\n");
    }
    if (f->transform == PR__TRANSFORM_QUANTILE)
        sb_printf(b, "    bins: %u\n", f->quantile_bins);
    sb_key_string(b, "    missing: ", f->missing);
    if (f->separator) sb_key_string(b, "    separator: ", f->separator);
}

/* ------------------------------------------------------ feature-store */

/* indent_key ["a", "b", ...] */
static void sb_key_list(strbuf *b, const char *indent_key,
                        char *const *v, uint32_t n) {
    sb_put(b, indent_key, strlen(indent_key));
    sb_put(b, "[", 1);
    for (uint32_t i = 0; i < n; i++) {
        if (i) sb_put(b, ", ", 2);
        sb_quoted(b, v[i]);
    }
    sb_put(b, "]\n", 2);
}

static void emit_request(strbuf *b, const pr__request_spec *r) {
    sb_printf(b, "request:\n");
    sb_key_string(b, "  timestamp: ", r->timestamp);
    sb_key_list(b, "  columns: ", r->columns, r->n_columns);
    sb_printf(b, "  time: [");
    for (uint32_t i = 0; i < r->n_time; i++)
        sb_printf(b, "%s%s", i ? ", " : "", pr__time_feature_name(r->time[i]));
    sb_printf(b, "]\n");
}

static void emit_source(strbuf *b, const pr__store_spec *st,
                        const pr__source_spec *src) {
    int table = src->kind == PR__SOURCE_TABLE;
    sb_key_string(b, "  - name: ", src->name);
    sb_printf(b, "    kind: %s\n", table ? "table" : "events");
    sb_key_string(b, "    format: ", src->format);
    sb_key_string(b, "    path: ", src->path);
    if (table) {
        const pr__entity_spec *e = &st->entities[src->entity];
        sb_key_string(b, "    entity: ", e->name);
        sb_key_list(b, "    key: ", src->keys, e->n_keys);
        sb_key_string(b, "    time: ", src->time);
        sb_key_list(b, "    attributes: ", src->attributes,
                    src->n_attributes);
    } else {
        sb_key_string(b, "    time: ", src->time);
        sb_key_string(b, "    type: ", src->type);
        sb_key_string(b, "    id: ", src->id);
        sb_key_string(b, "    impression: ", src->impression);
    }
}

static const char *function_word(pr__agg_function f) {
    switch (f) {
    case PR__AGG_COUNT: return "count";
    case PR__AGG_SUM: return "sum";
    case PR__AGG_MEAN: return "mean";
    case PR__AGG_RATE: return "rate";
    case PR__AGG_DECAYED_COUNT: return "decayed_count";
    case PR__AGG_DECAYED_SUM: return "decayed_sum";
    default: return "last_n";
    }
}

/* Keys in the order of spec_store.h; only those the function takes. */
static void emit_aggregate(strbuf *b, const pr__store_spec *st,
                           const pr__agg_spec *a) {
    sb_key_string(b, "  - name: ", a->name);
    sb_key_string(b, "    entity: ", st->entities[a->entity].name);
    sb_printf(b, "    function: %s\n", function_word(a->function));
    sb_key_list(b, "    events: ", a->events, a->n_events);
    if (a->function == PR__AGG_RATE)
        sb_key_list(b, "    per: ", a->per, a->n_per);
    if (a->value) sb_key_string(b, "    value: ", a->value);
    if (a->window_ms) {
        sb_printf(b, "    window: %lldms\n", (long long)a->window_ms);
        sb_printf(b, "    buckets: %u\n", a->buckets);
    }
    if (a->half_life_ms)
        sb_printf(b, "    half_life: %lldms\n", (long long)a->half_life_ms);
    if (a->function == PR__AGG_LAST_N) {
        sb_printf(b, "    n: %u\n", a->n);
        sb_printf(b, "    max_len: %u\n", a->max_len);
    }
    if (a->function == PR__AGG_RATE) {
        sb_printf(b, "    prior: %.17g\n", a->prior);
        sb_printf(b, "    prior_weight: %.17g\n", a->prior_weight);
    }
    if (a->default_text) sb_key_string(b, "    default: ", a->default_text);
}

/* Nothing at all for a spec without a request (the store is then empty),
 * so such specs print exactly as before the store existed. */
static void emit_store(strbuf *b, const pr__store_spec *st) {
    if (!st->has_request) return;
    emit_request(b, &st->request);
    if (st->n_entities) sb_printf(b, "entities:\n");
    for (uint32_t i = 0; i < st->n_entities; i++) {
        const pr__entity_spec *e = &st->entities[i];
        sb_key_string(b, "  - name: ", e->name);
        sb_key_list(b, "    key: ", e->keys, e->n_keys);
        sb_printf(b, "    ttl: %lldms\n", (long long)e->ttl_ms);
    }
    if (st->n_sources) sb_printf(b, "sources:\n");
    for (uint32_t i = 0; i < st->n_sources; i++)
        emit_source(b, st, &st->sources[i]);
    if (st->n_aggregates) sb_printf(b, "aggregates:\n");
    for (uint32_t i = 0; i < st->n_aggregates; i++)
        emit_aggregate(b, st, &st->aggregates[i]);
}

pr_status pr_spec_to_yaml(const pr_spec *s, char **out, size_t *len,
                          pr_err *err) {
    strbuf b = {0};
    sb_printf(&b, "# pronto feature spec (canonical form)\n");
    sb_printf(&b, "version: %u\n", s->version);
    sb_printf(&b, "hash_bits: %u\n", s->hash_bits);
    sb_printf(&b, "seed: %llu\n", (unsigned long long)s->seed);
    sb_printf(&b, "min_count: %u\n", s->min_count);
    if (s->input_format || s->label_col || s->weight_col || s->ts_col) {
        sb_printf(&b, "input:\n");
        if (s->input_format) sb_key_string(&b, "  format: ", s->input_format);
        if (s->label_col) sb_key_string(&b, "  label: ", s->label_col);
        if (s->weight_col) sb_key_string(&b, "  weight: ", s->weight_col);
        if (s->ts_col) sb_key_string(&b, "  timestamp: ", s->ts_col);
    }
    emit_store(&b, &s->store);
    sb_printf(&b, "fields:\n");
    for (uint32_t i = 0; i < s->n_fields; i++) emit_field(&b, &s->fields[i]);
    if (s->n_crosses) {
        sb_printf(&b, "crosses:\n");
        for (uint32_t i = 0; i < s->n_crosses; i++) {
            const pr__cross_spec *c = &s->crosses[i];
            sb_printf(&b, "  - [");
            for (uint32_t j = 0; j < c->arity; j++) {
                if (j) sb_put(&b, ", ", 2);
                sb_quoted(&b, s->fields[c->fields[j]].name);
            }
            sb_printf(&b, "]\n");
        }
    }
    if (b.failed) {
        free(b.p);
        return pr_err_set(err, PR_ERR_NOMEM, "out of memory writing spec YAML");
    }
    *out = b.p;
    if (len) *len = b.len;
    return PR_OK;
}
