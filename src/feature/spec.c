/*
 * spec.c: the pr_spec handle outside parsing and emission: loading from a
 * file, accessors, the derived input-column list, and freeing.
 *
 * Ownership: a pr_spec owns every string and array it points to (see
 * struct pr_spec in feature_int.h, the store sections in spec_store.h);
 * input_columns is an owned array whose strings are borrowed from
 * fields[].column. Accessors return borrowed pointers valid for the
 * spec's life.
 */
#include <stdlib.h>
#include <string.h>

#include "feature/feature_int.h"

pr_status pr_spec_load(const char *path, pr_spec **out, pr_err *err) {
    char *text = NULL;
    size_t len = 0;
    pr_status rc = pr_read_file(path, &text, &len, err);
    if (rc != PR_OK) return rc;
    rc = pr_spec_parse(text, len, path, out, err);
    free(text);
    return rc;
}

pr_status pr__spec_index_columns(pr_spec *s, pr_err *err) {
    free(s->input_columns);
    s->input_columns = NULL;
    s->n_input_columns = 0;
    if (s->n_fields == 0) return PR_OK;
    s->input_columns = calloc(s->n_fields, sizeof *s->input_columns);
    if (!s->input_columns)
        return pr_err_set(err, PR_ERR_NOMEM,
                          "out of memory indexing spec columns");
    /* Quadratic, but specs have at most a few thousand fields and this runs
     * once per load. */
    for (uint32_t i = 0; i < s->n_fields; i++) {
        const char *c = s->fields[i].column;
        uint32_t j = 0;
        while (j < s->n_input_columns && strcmp(s->input_columns[j], c) != 0)
            j++;
        if (j == s->n_input_columns) s->input_columns[s->n_input_columns++] = c;
    }
    return PR_OK;
}

uint32_t pr_spec_hash_bits(const pr_spec *s) { return s->hash_bits; }
uint32_t pr_spec_min_count(const pr_spec *s) { return s->min_count; }
uint64_t pr_spec_seed(const pr_spec *s) { return s->seed; }

pr_status pr_spec_set_hash_bits(pr_spec *s, uint32_t bits, pr_err *err) {
    if (bits < 1 || bits > 30)
        return pr_err_set(err, PR_ERR_INVALID, "hash_bits must be in 1..30, got %u", bits);
    s->hash_bits = bits;
    return PR_OK;
}

pr_status pr_spec_set_min_count(pr_spec *s, uint32_t min_count, pr_err *err) {
    if (min_count > 255)
        return pr_err_set(err, PR_ERR_INVALID,
                          "min_count must be in 0..255 (8-bit counters), got %u", min_count);
    s->min_count = min_count;
    return PR_OK;
}
uint32_t pr_spec_n_fields(const pr_spec *s) { return s->n_fields; }
const char *pr_spec_input_format(const pr_spec *s) { return s->input_format; }
const char *pr_spec_label_col(const pr_spec *s) { return s->label_col; }
const char *pr_spec_weight_col(const pr_spec *s) { return s->weight_col; }
const char *pr_spec_ts_col(const pr_spec *s) { return s->ts_col; }
uint32_t pr_spec_n_input_columns(const pr_spec *s) {
    return s->n_input_columns;
}

const char *pr_spec_input_column(const pr_spec *s, uint32_t i) {
    return i < s->n_input_columns ? s->input_columns[i] : NULL;
}

static void free_strings(char **v, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* Frees the feature-store sections; every array holds its full count of
 * zeroed-or-filled entries, even after a failed parse. */
static void free_store(pr__store_spec *st) {
    free(st->request.timestamp);
    free_strings(st->request.columns, st->request.n_columns);
    free(st->request.time);
    for (uint32_t i = 0; i < st->n_entities; i++) {
        free(st->entities[i].name);
        for (uint32_t k = 0; k < PR__FS_MAX_KEYS; k++)
            free(st->entities[i].keys[k]);
    }
    free(st->entities);
    for (uint32_t i = 0; i < st->n_sources; i++) {
        pr__source_spec *src = &st->sources[i];
        free(src->name);
        free(src->format);
        free(src->path);
        free(src->time);
        for (uint32_t k = 0; k < PR__FS_MAX_KEYS; k++) free(src->keys[k]);
        free_strings(src->attributes, src->n_attributes);
        free(src->type);
        free(src->id);
        free(src->impression);
    }
    free(st->sources);
    for (uint32_t i = 0; i < st->n_aggregates; i++) {
        pr__agg_spec *a = &st->aggregates[i];
        free(a->name);
        free_strings(a->events, a->n_events);
        free_strings(a->per, a->n_per);
        free(a->value);
        free(a->default_text);
    }
    free(st->aggregates);
}

void pr_spec_free(pr_spec *s) {
    if (!s) return;
    for (uint32_t i = 0; i < s->n_fields; i++) {
        pr__field_spec *f = &s->fields[i];
        free(f->name);
        free(f->column);
        free(f->missing);
        free(f->edges);
        free(f->separator);
    }
    free_store(&s->store);
    free(s->fields);
    free(s->crosses);
    free(s->input_columns);
    free(s->name);
    free(s->input_format);
    free(s->label_col);
    free(s->weight_col);
    free(s->ts_col);
    free(s);
}
