/*
 * reader_jsonl.c: JSON lines, one object per line, parsed with jansson.
 *
 * opts.columns names the keys to extract, in order; a dotted key
 * "context.device" is looked up literally first, then as a path through
 * nested objects. Values become text columns:
 *
 *   JSON value        column text
 *   string            its bytes as-is (borrowed from the parsed document;
 *                     may hold NUL bytes, from a JSON escape of code 0)
 *   integer           "%lld"
 *   real              the shortest of %.15g/%.16g/%.17g that reads back to
 *                     the same double (deterministic and lossless)
 *   true / false      "true" / "false"
 *   null, absent      missing (zero length)
 *   array, object     error
 *
 * The label key holds 0/1 (integer or real) or a boolean; the weight key a
 * finite number >= 0; the ts key integer (or real, floored) Unix seconds or
 * an ISO-8601 string. Lines of only spaces/tabs are skipped.
 *
 * Ownership. The reader keeps the last parsed document (doc) until the next
 * line, since string columns borrow from it, and owns a fixed text slot per
 * column for formatted numbers. Keys are copied at open. jansson allocates
 * per document; JSON lines are not the hot training path.
 */
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/reader_int.h"

#define NUM_SLOT 32 /* "%.17g" of a double needs at most 24 bytes */

typedef struct jsonl_state {
    json_t *doc;           /* current document (owned), or NULL */
    char (*num)[NUM_SLOT]; /* per output column, formatted numbers */
    char *label_key, *weight_key, *ts_key; /* owned; weight/ts may be NULL */
} jsonl_state;

static void jsonl_fini(pr_reader *r) {
    jsonl_state *j = r->fmt;
    if (!j) return;
    json_decref(j->doc);
    free(j->num);
    free(j->label_key);
    free(j->weight_key);
    free(j->ts_key);
    free(j);
    r->fmt = NULL;
}

static pr_status dup_key(pr_reader *r, const char *key, char **out,
                         pr_err *err) {
    *out = NULL;
    if (!key) return PR_OK;
    if (!(*out = strdup(key)))
        return pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", r->name);
    return PR_OK;
}

static pr_status jsonl_init(pr_reader *r, const pr_reader_opts *o,
                            pr_err *err) {
    if (!o->columns || o->n_columns == 0)
        return pr_err_set(err, PR_ERR_INVALID,
                          "%s: jsonl input needs the list of keys to read "
                          "(reader option 'columns')",
                          r->name);
    jsonl_state *j = calloc(1, sizeof *j);
    if (!j) return pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", r->name);
    r->fmt = j;
    pr_status st = pr__reader_alloc_columns(r, o->n_columns, 1, err);
    if (st != PR_OK) return st;
    j->num = calloc(o->n_columns, sizeof *j->num);
    if (!j->num)
        return pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", r->name);
    for (uint32_t i = 0; i < o->n_columns; i++) {
        if (!o->columns[i] || !o->columns[i][0])
            return pr_err_set(err, PR_ERR_INVALID,
                              "%s: jsonl column %u has an empty key name",
                              r->name, i + 1);
        if ((st = dup_key(r, o->columns[i], &r->col_names[i], err)) != PR_OK)
            return st;
    }
    if ((st = dup_key(r, o->label_col ? o->label_col : "label", &j->label_key,
                      err)) != PR_OK ||
        (st = dup_key(r, o->weight_col, &j->weight_key, err)) != PR_OK ||
        (st = dup_key(r, o->ts_col, &j->ts_key, err)) != PR_OK)
        return st;
    return PR_OK;
}

/* The value at key: the literal key, else a dotted path. NULL if absent. */
static json_t *lookup(json_t *obj, const char *key) {
    json_t *v = json_object_get(obj, key);
    if (v || !strchr(key, '.')) return v;
    const char *p = key;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        obj = json_object_getn(obj, p, n);
        if (!obj || !dot) return obj;
        if (!json_is_object(obj)) return NULL;
        p = dot + 1;
    }
}

static const char *type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE: return "true";
    case JSON_FALSE: return "false";
    case JSON_NULL: return "null";
    }
    return "a value";
}

static pr_status bad_key(pr_reader *r, pr_status st, const char *key,
                         const char *expected, const json_t *v, pr_err *err) {
    char ex[PR__EXCERPT_MAX] = "";
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (text) pr__excerpt(ex, sizeof ex, text, strlen(text));
    free(text);
    return pr__row_error(r, st, 0, err, "key '%s': expected %s, got %s %s", key,
                         expected, type_name(v), ex);
}

/* Shortest %.Ng (N = 15..17) that reads back as exactly d. */
static void format_real(char *dst, double d) {
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(dst, NUM_SLOT, "%.*g", prec, d);
        if (strtod(dst, NULL) == d) return;
    }
}

static pr_status set_column(pr_reader *r, jsonl_state *j, uint32_t i, json_t *v,
                            pr_err *err) {
    pr_bytes *out = &r->cols[i];
    out->ptr = "";
    out->len = 0;
    if (!v) return PR_OK;
    switch (json_typeof(v)) {
    case JSON_STRING:
        out->ptr = json_string_value(v);
        out->len = json_string_length(v);
        return PR_OK;
    case JSON_INTEGER:
        snprintf(j->num[i], NUM_SLOT, "%lld", (long long)json_integer_value(v));
        break;
    case JSON_REAL: format_real(j->num[i], json_real_value(v)); break;
    case JSON_TRUE:
        out->ptr = "true";
        out->len = 4;
        return PR_OK;
    case JSON_FALSE:
        out->ptr = "false";
        out->len = 5;
        return PR_OK;
    case JSON_NULL: return PR_OK;
    default:
        return bad_key(r, PR_ERR_PARSE, r->col_names[i],
                       "a string, number, boolean or null", v, err);
    }
    out->ptr = j->num[i];
    out->len = strlen(j->num[i]);
    return PR_OK;
}

static pr_status read_label(pr_reader *r, jsonl_state *j, pr_record *rec,
                            pr_err *err) {
    json_t *v = lookup(j->doc, j->label_key);
    if (!v || json_is_null(v)) {
        if (r->label_optional) {
            rec->has_label = 0;
            return PR_OK;
        }
        return pr__row_error(r, PR_ERR_LABEL, 0, err, "key '%s': missing label",
                             j->label_key);
    }
    if (json_is_boolean(v)) {
        rec->label = json_is_true(v) ? 1.0f : 0.0f;
        return PR_OK;
    }
    if (json_is_number(v)) {
        double d = json_number_value(v);
        if (d == 0.0 || d == 1.0) {
            rec->label = (float)d;
            return PR_OK;
        }
    }
    return bad_key(r, PR_ERR_LABEL, j->label_key, "0/1 or true/false", v, err);
}

static pr_status read_weight_ts(pr_reader *r, jsonl_state *j, pr_record *rec,
                                pr_err *err) {
    json_t *v;
    if (j->weight_key && (v = lookup(j->doc, j->weight_key)) &&
        !json_is_null(v)) {
        double w = json_is_number(v) ? json_number_value(v) : -1.0;
        if (!(w >= 0.0 && w <= FLT_MAX))
            return bad_key(r, PR_ERR_PARSE, j->weight_key,
                           "a finite number >= 0", v, err);
        rec->weight = (float)w;
    }
    if (j->ts_key && (v = lookup(j->doc, j->ts_key)) && !json_is_null(v)) {
        if (json_is_integer(v)) {
            rec->ts = (int64_t)json_integer_value(v);
        } else if (json_is_real(v) && fabs(json_real_value(v)) < 9e18) {
            rec->ts = (int64_t)floor(json_real_value(v));
        } else if (!json_is_string(v) ||
                   pr__parse_ts(json_string_value(v), json_string_length(v),
                                &rec->ts) != 0) {
            return bad_key(r, PR_ERR_PARSE, j->ts_key,
                           "Unix seconds or an ISO-8601 time string", v, err);
        }
    }
    return PR_OK;
}

static pr_status jsonl_parse(pr_reader *r, char *line, size_t len,
                             pr_record *rec, pr_err *err) {
    jsonl_state *j = r->fmt;
    json_decref(j->doc);
    j->doc = NULL;

    size_t skip = 0;
    if (r->src.lineno == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0)
        skip = 3; /* UTF-8 BOM */
    size_t k = skip;
    while (k < len && (line[k] == ' ' || line[k] == '\t'))
        k++;
    if (k == len) return PR_EOF; /* blank line */

    json_error_t je;
    j->doc = json_loadb(line + skip, len - skip,
                        JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!j->doc)
        return pr__row_error(r, PR_ERR_PARSE,
                             je.column > 0 ? (size_t)je.column + skip : 1, err,
                             "invalid JSON: %s", je.text);
    if (!json_is_object(j->doc))
        return pr__row_error(r, PR_ERR_PARSE, k + 1, err,
                             "expected a JSON object, got %s",
                             type_name(j->doc));

    pr_status st;
    if ((st = read_label(r, j, rec, err)) != PR_OK ||
        (st = read_weight_ts(r, j, rec, err)) != PR_OK)
        return st;
    for (uint32_t i = 0; i < r->n_cols; i++)
        if ((st = set_column(r, j, i, lookup(j->doc, r->col_names[i]), err)) !=
            PR_OK)
            return st;
    rec->n_cols = r->n_cols;
    rec->cols = r->cols;
    return PR_OK;
}

const pr__format_ops pr__format_jsonl = {
    PR_FORMAT_JSONL, "jsonl", jsonl_init, jsonl_parse, jsonl_fini,
};
