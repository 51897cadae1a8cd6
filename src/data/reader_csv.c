/*
 * reader_csv.c: CSV (or any single-byte delimiter) with a header line.
 *
 * Syntax (RFC 4180 without multi-line fields): fields are separated by the
 * delimiter; a field that starts with '"' is quoted, runs to the next lone
 * '"', and may contain the delimiter and "" (a literal quote); after the
 * closing quote must come the delimiter or the end of the line. A '"' inside
 * an unquoted field is kept as a literal. A quoted field left open at the
 * end of the line is an error ("unterminated quoted field"): records never
 * span lines, so one bad quote cannot swallow the rest of the file.
 *
 * Design. The header is read at open and every header column gets a role:
 * label, weight, ts, an output column slot, or dropped. Rows are split in
 * place: quoted fields are unescaped inside the line buffer (unescaping only
 * shrinks), so values point into the line and nothing is allocated per row.
 *
 * Ownership. The csv state (roles, the field table) is owned by the reader
 * and freed by csv_fini; column names are owned copies of the header.
 *
 * Errors give the 1-based field number as the column: "f.csv:7:3: column
 * 'w': expected a finite number >= 0, got '-1'".
 *
 * Invariants. Every data row has exactly n_header fields. slot[i] < n_cols
 * for output columns.
 */
#include <stdlib.h>
#include <string.h>

#include "data/reader_int.h"

/* Roles of header columns that are not output slots. */
enum {
    ROLE_DROP = -1, /* not (yet) assigned */
    ROLE_LABEL = -2,
    ROLE_WEIGHT = -3,
    ROLE_TS = -4,
    ROLE_IGNORED = -5 /* opts.ignore_cols */
};

typedef struct csv_state {
    char delim;
    uint32_t n_header;
    int *role; /* per header column: output slot >= 0, or ROLE_* */
    int has_label_col;
    pr_bytes *fields; /* n_header slots, the current row split */
    const char *label_name, *weight_name, *ts_name; /* borrowed from header */
    char **header; /* owned copies of the header names */
} csv_state;

/* Splits line into at most max fields (unescaping quotes in place).
 * Returns the number of fields found (which may exceed max: later ones are
 * counted, not stored), or -1 with *bad_col (the 1-based field number) and
 * *what set on a quote error. */
static long split_fields(char *line, size_t len, char delim, pr_bytes *out,
                         size_t max, size_t *bad_col, const char **what) {
    size_t i = 0, n = 0;
    for (;;) {
        char *val;
        size_t vlen;
        if (i < len && line[i] == '"') {
            /* Quoted: copy down over "" pairs. */
            size_t w = i + 1;
            val = line + w;
            i++;
            for (;;) {
                if (i >= len) {
                    *bad_col = n + 1;
                    *what = "unterminated quoted field";
                    return -1;
                }
                if (line[i] == '"') {
                    if (i + 1 < len && line[i + 1] == '"') {
                        line[w++] = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                line[w++] = line[i++];
            }
            vlen = (size_t)(line + w - val);
            if (i < len && line[i] != delim) {
                *bad_col = n + 1;
                *what = "expected a delimiter after the closing quote";
                return -1;
            }
        } else {
            char *d = memchr(line + i, delim, len - i);
            size_t stop = d ? (size_t)(d - line) : len;
            val = line + i;
            vlen = stop - i;
            i = stop;
        }
        if (n < max) {
            out[n].ptr = val;
            out[n].len = vlen;
        }
        n++;
        if (i >= len) break;
        i++; /* the delimiter; a trailing one means one more empty field */
        if (i == len) {
            if (n < max) {
                out[n].ptr = line + len;
                out[n].len = 0;
            }
            n++;
            break;
        }
    }
    return (long)n;
}

static void csv_fini(pr_reader *r) {
    csv_state *c = r->fmt;
    if (!c) return;
    if (c->header)
        for (uint32_t i = 0; i < c->n_header; i++)
            free(c->header[i]);
    free(c->header);
    free(c->role);
    free(c->fields);
    free(c);
    r->fmt = NULL;
}

/* The header's line number (it is the last line read during init). */
#define HLINE(r) ((unsigned long long)(r)->src.lineno)

static long find_header(const csv_state *c, const char *name) {
    for (uint32_t i = 0; i < c->n_header; i++)
        if (strcmp(c->header[i], name) == 0) return (long)i;
    return -1;
}

/* Gives header column `name` the role; an absent column is an error unless
 * optional. */
static pr_status assign_role(pr_reader *r, csv_state *c, const char *name,
                             int role, int optional, const char *what,
                             pr_err *err) {
    long i = find_header(c, name);
    if (i < 0) {
        if (optional) return PR_OK;
        return pr_err_set(err, PR_ERR_PARSE,
                          "%s:%llu: %s column '%s' is not in the header",
                          r->name, HLINE(r), what, name);
    }
    if (c->role[i] != ROLE_DROP && role != ROLE_DROP)
        return pr_err_set(err, PR_ERR_INVALID,
                          "%s:%llu: column '%s' is given two roles (as %s)",
                          r->name, HLINE(r), name, what);
    c->role[i] = role;
    return PR_OK;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A header naming a column twice is refused (which one would "label" be?).
 * Sorting keeps this O(n log n) for very wide headers. */
static pr_status check_duplicates(pr_reader *r, csv_state *c, pr_err *err) {
    if (c->n_header < 2) return PR_OK;
    char **sorted = malloc(c->n_header * sizeof *sorted);
    if (!sorted)
        return pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", r->name);
    memcpy(sorted, c->header, c->n_header * sizeof *sorted);
    qsort(sorted, c->n_header, sizeof *sorted, cmp_names);
    const char *dup = NULL;
    for (uint32_t i = 1; i < c->n_header && !dup; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0) dup = sorted[i];
    pr_status st = PR_OK;
    if (dup) {
        /* Report the second occurrence, where the reader of the file sees
         * the problem. */
        uint32_t i = (uint32_t)find_header(c, dup) + 1;
        while (strcmp(c->header[i], dup) != 0)
            i++;
        st = pr_err_set(err, PR_ERR_PARSE,
                        "%s:%llu:%u: duplicate column '%s' in header", r->name,
                        HLINE(r), i + 1, dup);
    }
    free(sorted);
    return st;
}

/* Reads and splits the header line, copying the names. */
static pr_status read_header(pr_reader *r, csv_state *c, pr_err *err) {
    char *line;
    size_t len;
    pr_status st;
    do { /* leading empty lines are skipped, as everywhere */
        st = pr__linesrc_next(&r->src, &line, &len, err);
    } while (st == PR_OK && len == 0);
    if (st == PR_EOF)
        return pr_err_set(err, PR_ERR_PARSE,
                          "%s: empty file, expected a header line", r->name);
    if (st != PR_OK) return st;
    if (len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) { /* UTF-8 BOM */
        line += 3;
        len -= 3;
    }
    /* Count on a copy first: splitting unescapes quotes in place. */
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", r->name);
    if (len) memcpy(copy, line, len);
    size_t bad_col = 0;
    const char *what = "";
    long n = split_fields(copy, len, c->delim, NULL, 0, &bad_col, &what);
    free(copy);
    if (n < 0)
        return pr_err_set(err, PR_ERR_PARSE, "%s:%llu:%zu: header: %s", r->name,
                          HLINE(r), bad_col, what);
    c->n_header = (uint32_t)n;
    c->fields = calloc((size_t)n, sizeof *c->fields);
    c->role = malloc((size_t)n * sizeof *c->role);
    c->header = calloc((size_t)n, sizeof *c->header);
    if (!c->fields || !c->role || !c->header)
        return pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", r->name);
    split_fields(line, len, c->delim, c->fields, (size_t)n, &bad_col, &what);
    for (long i = 0; i < n; i++) {
        c->role[i] = ROLE_DROP;
        c->header[i] = strndup(c->fields[i].ptr, c->fields[i].len);
        if (!c->header[i])
            return pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", r->name);
    }
    return check_duplicates(r, c, err);
}

static pr_status csv_init(pr_reader *r, const pr_reader_opts *o, pr_err *err) {
    csv_state *c = calloc(1, sizeof *c);
    if (!c) return pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", r->name);
    r->fmt = c;
    c->delim = o->delimiter ? o->delimiter : ',';
    if (c->delim == '"' || c->delim == '\n' || c->delim == '\r')
        return pr_err_set(err, PR_ERR_INVALID,
                          "%s: csv delimiter cannot be a quote or newline",
                          r->name);
    pr_status st = read_header(r, c, err);
    if (st != PR_OK) return st;

    const char *label = o->label_col ? o->label_col : "label";
    if ((st = assign_role(r, c, label, ROLE_LABEL, o->label_optional, "label",
                          err)) != PR_OK)
        return st;
    c->has_label_col = find_header(c, label) >= 0;
    if (o->weight_col && (st = assign_role(r, c, o->weight_col, ROLE_WEIGHT, 0,
                                           "weight", err)) != PR_OK)
        return st;
    if (o->ts_col && (st = assign_role(r, c, o->ts_col, ROLE_TS, 0, "timestamp",
                                       err)) != PR_OK)
        return st;
    c->label_name = c->has_label_col ? c->header[find_header(c, label)] : "";
    c->weight_name =
        o->weight_col ? c->header[find_header(c, o->weight_col)] : "";
    c->ts_name = o->ts_col ? c->header[find_header(c, o->ts_col)] : "";
    for (uint32_t k = 0; k < o->n_ignore; k++) {
        long i = find_header(c, o->ignore_cols[k]);
        if (i < 0)
            return pr_err_set(
                err, PR_ERR_PARSE,
                "%s:%llu: ignored column '%s' is not in the header", r->name,
                HLINE(r), o->ignore_cols[k]);
        if (c->role[i] == ROLE_DROP) c->role[i] = ROLE_IGNORED;
    }

    /* Output columns: the selection, or every remaining header column. */
    uint32_t n_out = 0;
    if (o->columns) {
        st = pr__reader_alloc_columns(r, o->n_columns, 1, err);
        if (st != PR_OK) return st;
        for (uint32_t k = 0; k < o->n_columns; k++) {
            long i = find_header(c, o->columns[k]);
            if (i < 0)
                return pr_err_set(err, PR_ERR_PARSE,
                                  "%s:%llu: column '%s' is not in the header",
                                  r->name, HLINE(r), o->columns[k]);
            if (c->role[i] != ROLE_DROP)
                return pr_err_set(
                    err, PR_ERR_INVALID,
                    "%s:%llu: column '%s' is selected twice or is "
                    "the label/weight/ts/ignored column",
                    r->name, HLINE(r), o->columns[k]);
            c->role[i] = (int)k;
        }
        n_out = o->n_columns;
    } else {
        for (uint32_t i = 0; i < c->n_header; i++)
            if (c->role[i] == ROLE_DROP) n_out++;
        st = pr__reader_alloc_columns(r, n_out, 1, err);
        if (st != PR_OK) return st;
        uint32_t k = 0;
        for (uint32_t i = 0; i < c->n_header; i++)
            if (c->role[i] == ROLE_DROP) c->role[i] = (int)k++;
    }
    for (uint32_t i = 0; i < c->n_header; i++) {
        if (c->role[i] < 0) continue;
        r->col_names[c->role[i]] = strdup(c->header[i]);
        if (!r->col_names[c->role[i]])
            return pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", r->name);
    }
    return PR_OK;
}

static pr_status bad_value(pr_reader *r, pr_status st, size_t col,
                           const char *name, const char *expected,
                           const pr_bytes *v, pr_err *err) {
    char ex[PR__EXCERPT_MAX];
    pr__excerpt(ex, sizeof ex, v->ptr, v->len);
    return pr__row_error(r, st, col, err, "column '%s': expected %s, got '%s'",
                         name, expected, ex);
}

static pr_status csv_parse(pr_reader *r, char *line, size_t len, pr_record *rec,
                           pr_err *err) {
    csv_state *c = r->fmt;
    size_t bad_col = 0;
    const char *what = "";
    long n = split_fields(line, len, c->delim, c->fields, c->n_header, &bad_col,
                          &what);
    if (n < 0) return pr__row_error(r, PR_ERR_PARSE, bad_col, err, "%s", what);
    if ((uint64_t)n != c->n_header)
        return pr__row_error(r, PR_ERR_PARSE,
                             (uint64_t)n > c->n_header ? (size_t)c->n_header + 1
                                                       : (size_t)n + 1,
                             err,
                             "expected %u fields (as in the header), "
                             "found %ld",
                             c->n_header, n);
    if (!c->has_label_col) rec->has_label = 0;
    for (uint32_t i = 0; i < c->n_header; i++) {
        int role = c->role[i];
        const pr_bytes *v = &c->fields[i];
        if (role >= 0) {
            r->cols[role] = *v;
            continue;
        }
        if (role == ROLE_LABEL) {
            if (v->len == 0 && r->label_optional) {
                rec->has_label = 0;
            } else if (pr__parse_label(v->ptr, v->len, 1, &rec->label) != 0) {
                return bad_value(r, PR_ERR_LABEL, (size_t)i + 1, c->label_name,
                                 "a label 0/1, -1/1 or true/false", v, err);
            }
        } else if (role == ROLE_WEIGHT && v->len) {
            float w;
            if (pr__parse_float(v->ptr, v->len, &w) != 0 || w < 0)
                return bad_value(r, PR_ERR_PARSE, (size_t)i + 1, c->weight_name,
                                 "a finite number >= 0", v, err);
            rec->weight = w;
        } else if (role == ROLE_TS && v->len) {
            if (pr__parse_ts(v->ptr, v->len, &rec->ts) != 0)
                return bad_value(r, PR_ERR_PARSE, (size_t)i + 1, c->ts_name,
                                 "a Unix time in seconds or an ISO-8601 time",
                                 v, err);
        }
    }
    rec->n_cols = r->n_cols;
    rec->cols = r->cols;
    return PR_OK;
}

const pr__format_ops pr__format_csv = {
    PR_FORMAT_CSV, "csv", csv_init, csv_parse, csv_fini,
};
