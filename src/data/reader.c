/*
 * reader.c: the pr_reader handle. Opens the line source, picks the format
 * table once, and runs next(): fetch a line, skip it if empty, reset the
 * record, let the format parse it.
 *
 * Ownership. The reader owns its name copy, the column names (when the
 * format built them: csv, jsonl; criteo's are static), the cols and feats
 * arrays and the format state (released by ops->fini). Records handed out
 * borrow from all of these and from the line buffer, so they stay valid
 * until the next pr_reader_next or pr_reader_free.
 *
 * Invariants. cols has n_cols slots for the reader's life; feats only
 * grows. After a row error the line source has already moved past the bad
 * line, which is what lets the caller continue; sticky errors live in the
 * source and are repeated by every later call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "data/reader_int.h"

static const pr__format_ops *const formats[] = {
    &pr__format_criteo, &pr__format_csv,   &pr__format_libsvm,
    &pr__format_libffm, &pr__format_jsonl,
};
#define N_FORMATS (sizeof formats / sizeof formats[0])

static const pr__format_ops *find_ops(pr_format f) {
    for (size_t i = 0; i < N_FORMATS; i++)
        if (formats[i]->format == f) return formats[i];
    return NULL;
}

pr_status pr_format_parse(const char *name, pr_format *out) {
    if (!name) return PR_ERR_INVALID;
    for (size_t i = 0; i < N_FORMATS; i++)
        if (strcmp(formats[i]->name, name) == 0) {
            *out = formats[i]->format;
            return PR_OK;
        }
    return PR_ERR_INVALID;
}

const char *pr_format_name(pr_format f) {
    const pr__format_ops *ops = find_ops(f);
    return ops ? ops->name : "unknown";
}

void pr_reader_opts_init(pr_reader_opts *o, pr_format f) {
    memset(o, 0, sizeof *o);
    o->format = f;
}

int pr_reader_row_error(pr_status s) {
    return s == PR_ERR_PARSE || s == PR_ERR_LABEL || s == PR_ERR_LIMIT;
}

pr_status pr__row_error(const pr_reader *r, pr_status status, size_t col,
                        pr_err *err, const char *fmt, ...) {
    char msg[PR_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (col)
        return pr_err_set(err, status, "%s:%llu:%zu: %s", r->name,
                          (unsigned long long)r->src.lineno, col, msg);
    return pr_err_set(err, status, "%s:%llu: %s", r->name,
                      (unsigned long long)r->src.lineno, msg);
}

void pr__excerpt(char *dst, size_t cap, const char *p, size_t n) {
    static const char hex[] = "0123456789abcdef";
    size_t o = 0, shown = n > 40 ? 40 : n;
    for (size_t i = 0; i < shown && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c < 0x7f) {
            dst[o++] = (char)c;
        } else {
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[c >> 4];
            dst[o++] = hex[c & 15];
        }
    }
    if (shown < n && o + 4 < cap) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
}

pr_status pr__reader_alloc_columns(pr_reader *r, uint32_t n, int names_owned,
                                   pr_err *err) {
    r->n_cols = n;
    r->names_owned = names_owned;
    r->col_names = calloc(n ? n : 1, sizeof *r->col_names);
    r->cols = calloc(n ? n : 1, sizeof *r->cols);
    if (!r->col_names || !r->cols)
        return pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", r->name);
    return PR_OK;
}

pr_status pr__reader_reserve_feats(pr_reader *r, size_t n, pr_err *err) {
    if (n <= r->feats_cap) return PR_OK;
    size_t cap = r->feats_cap ? r->feats_cap : 64;
    while (cap < n)
        cap *= 2;
    pr_raw_feature *f = realloc(r->feats, cap * sizeof *f);
    if (!f) return pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", r->name);
    r->feats = f;
    r->feats_cap = cap;
    return PR_OK;
}

/* Everything but the source: name copy, format lookup, ops->init. */
static pr_status reader_new(const char *name, const pr_reader_opts *opts,
                            pr_reader **out, pr_err *err) {
    *out = NULL;
    if (!opts)
        return pr_err_set(err, PR_ERR_INVALID, "%s: no reader options", name);
    const pr__format_ops *ops = find_ops(opts->format);
    if (!ops)
        return pr_err_set(err, PR_ERR_INVALID, "%s: unknown input format %d",
                          name, (int)opts->format);
    if (opts->shard_count > 1 && opts->shard_index >= opts->shard_count)
        return pr_err_set(err, PR_ERR_INVALID, "%s: shard %u of %u does not exist",
                          name, opts->shard_index, opts->shard_count);
    pr_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->name = strdup(name))) {
        free(r);
        return pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", name);
    }
    r->ops = ops;
    r->label_optional = opts->label_optional;
    r->shard_count = opts->shard_count > 1 ? opts->shard_count : 0;
    r->shard_index = opts->shard_index;
    r->src.fd = -1;
    *out = r;
    return PR_OK;
}

static pr_status finish_open(pr_reader *r, const pr_reader_opts *opts,
                             pr_status st, pr_reader **out, pr_err *err) {
    if (st == PR_OK) st = r->ops->init(r, opts, err);
    if (st != PR_OK) {
        pr_reader_free(r);
        *out = NULL;
        return st;
    }
    *out = r;
    return PR_OK;
}

pr_status pr_reader_open(const char *path, const pr_reader_opts *opts,
                         pr_reader **out, pr_err *err) {
    pr_reader *r;
    if (!path) return pr_err_set(err, PR_ERR_INVALID, "no input path given");
    pr_status st =
        reader_new(strcmp(path, "-") == 0 ? "<stdin>" : path, opts, &r, err);
    if (st != PR_OK) return st;
    st = pr__linesrc_open_path(&r->src, path, r->name, 0, 0, err);
    return finish_open(r, opts, st, out, err);
}

pr_status pr__reader_open_mem_limits(const void *data, size_t len,
                                     const char *name,
                                     const pr_reader_opts *opts, size_t cap,
                                     size_t max_line, pr_reader **out,
                                     pr_err *err) {
    pr_reader *r;
    pr_status st = reader_new(name ? name : "<memory>", opts, &r, err);
    if (st != PR_OK) return st;
    st = pr__linesrc_open_mem(&r->src, data, len, r->name, cap, max_line, err);
    return finish_open(r, opts, st, out, err);
}

pr_status pr_reader_open_mem(const void *data, size_t len, const char *name,
                             const pr_reader_opts *opts, pr_reader **out,
                             pr_err *err) {
    return pr__reader_open_mem_limits(data, len, name, opts, 0, 0, out, err);
}

static void reset_record(const pr_reader *r, pr_record *rec) {
    rec->label = 0.0f;
    rec->has_label = 1;
    rec->weight = 1.0f;
    rec->ts = 0;
    rec->n_cols = 0;
    rec->cols = NULL;
    rec->num = NULL;
    rec->n_feats = 0;
    rec->feats = NULL;
    rec->file = r->name;
    rec->line = r->src.lineno;
}

pr_status pr_reader_next(pr_reader *r, pr_record *rec, pr_err *err) {
    char *line;
    size_t len;
    pr_status st;
    do {
        do {
            st = pr__linesrc_next(&r->src, &line, &len, err);
            if (st != PR_OK) return st;
        } while (len == 0 || /* empty lines are skipped in every format */
                 (r->shard_count && r->shard_row++ % r->shard_count != r->shard_index));
        reset_record(r, rec);
        st = r->ops->parse(r, line, len, rec, err);
    } while (st == PR_EOF); /* the format saw a blank line */
    return st;
}

uint32_t pr_reader_n_columns(const pr_reader *r) { return r->n_cols; }

const char *pr_reader_column_name(const pr_reader *r, uint32_t i) {
    return i < r->n_cols ? r->col_names[i] : NULL;
}

uint64_t pr_reader_bytes_read(const pr_reader *r) { return r->src.bytes_in; }
uint64_t pr_reader_bytes_decoded(const pr_reader *r) {
    return r->src.bytes_out;
}
int64_t pr_reader_size(const pr_reader *r) { return r->src.size; }
pr_format pr_reader_format(const pr_reader *r) { return r->ops->format; }

void pr_reader_free(pr_reader *r) {
    if (!r) return;
    if (r->ops && r->ops->fini) r->ops->fini(r);
    pr__linesrc_close(&r->src);
    if (r->names_owned && r->col_names)
        for (uint32_t i = 0; i < r->n_cols; i++)
            free(r->col_names[i]);
    free(r->col_names);
    free(r->cols);
    free(r->feats);
    free(r->name);
    free(r);
}
