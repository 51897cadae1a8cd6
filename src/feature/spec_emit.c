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
 * Ownership: the text is built in a malloc'd buffer handed to the caller.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feature/feature_int.h"

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
