/*
 * reader_sparse.c: the two sparse text formats.
 *
 *   libsvm   label idx:val idx:val ...           field = 0
 *   libffm   label field:idx:val field:idx:val ...
 *
 * Tokens are separated by runs of spaces or tabs. label is 0/1 or -1/+1
 * (any number equal to one of those; -1 maps to 0). field and idx are
 * decimal integers fitting in uint32; val is a number that is finite as a
 * float (NaN, inf and overflow are errors). Lines of only spaces and tabs are
 * skipped like empty ones. With label_optional, a row whose
 * first token already contains ':' has no label (has_label = 0).
 *
 * Design. One table per format, one parser: the number of ':'-separated
 * parts (2 or 3) is the only difference. Features go into the reader's feats
 * array, which grows geometrically and is never shrunk, so steady-state
 * parsing allocates nothing.
 */
#include <string.h>

#include "data/reader_int.h"

static int is_space(char c) { return c == ' ' || c == '\t'; }

static pr_status sparse_init(pr_reader *r, const pr_reader_opts *o,
                             pr_err *err) {
    return pr__reader_reserve_feats(r, 64, err);
}

/* Parses "a:b" (parts == 2, field = 0) or "a:b:c" (parts == 3) at tok. */
static pr_status parse_feature(pr_reader *r, const char *line, const char *tok,
                               size_t n, int parts, pr_raw_feature *f,
                               pr_err *err) {
    const char *p = tok, *end = tok + n;
    const char *c1 = memchr(p, ':', n);
    const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;
    size_t col = (size_t)(tok - line) + 1;
    char ex[PR__EXCERPT_MAX];
    if (parts == 2 ? (!c1 || c2)
                   : (!c2 || memchr(c2 + 1, ':', (size_t)(end - c2 - 1)))) {
        pr__excerpt(ex, sizeof ex, tok, n);
        return pr__row_error(r, PR_ERR_PARSE, col, err,
                             "expected '%s', got '%s'",
                             parts == 2 ? "idx:val" : "field:idx:val", ex);
    }
    const char *idx = p, *val = c1 + 1;
    f->field = 0;
    if (parts == 3) {
        if (pr__parse_u32(p, (size_t)(c1 - p), &f->field) != 0) {
            pr__excerpt(ex, sizeof ex, p, (size_t)(c1 - p));
            return pr__row_error(r, PR_ERR_PARSE, col, err,
                                 "field: expected a non-negative integer "
                                 "< 2^32, got '%s'",
                                 ex);
        }
        idx = c1 + 1;
        val = c2 + 1;
    }
    const char *idx_end = val - 1;
    if (pr__parse_u32(idx, (size_t)(idx_end - idx), &f->index) != 0) {
        pr__excerpt(ex, sizeof ex, idx, (size_t)(idx_end - idx));
        return pr__row_error(r, PR_ERR_PARSE, (size_t)(idx - line) + 1, err,
                             "index: expected a non-negative integer < 2^32, "
                             "got '%s'",
                             ex);
    }
    if (pr__parse_float(val, (size_t)(end - val), &f->value) != 0) {
        pr__excerpt(ex, sizeof ex, val, (size_t)(end - val));
        return pr__row_error(r, PR_ERR_PARSE, (size_t)(val - line) + 1, err,
                             "value: expected a finite number, got '%s'", ex);
    }
    return PR_OK;
}

static pr_status sparse_parse(pr_reader *r, char *line, size_t len,
                              pr_record *rec, int parts, pr_err *err) {
    const char *p = line, *end = line + len;
    int first = 1;
    size_t n = 0;
    pr_status st;
    for (;;) {
        while (p < end && is_space(*p))
            p++;
        if (p == end) break;
        const char *tok = p;
        while (p < end && !is_space(*p))
            p++;
        size_t tlen = (size_t)(p - tok);
        if (first) {
            first = 0;
            if (r->label_optional && memchr(tok, ':', tlen)) {
                rec->has_label = 0;
            } else {
                if (pr__parse_label(tok, tlen, 0, &rec->label) != 0) {
                    char ex[PR__EXCERPT_MAX];
                    pr__excerpt(ex, sizeof ex, tok, tlen);
                    return pr__row_error(
                        r, PR_ERR_LABEL, (size_t)(tok - line) + 1, err,
                        "label: expected 0/1 or -1/+1, got '%s'", ex);
                }
                continue;
            }
        }
        if (n == r->feats_cap &&
            (st = pr__reader_reserve_feats(r, n + 1, err)) != PR_OK)
            return st;
        st = parse_feature(r, line, tok, tlen, parts, &r->feats[n], err);
        if (st != PR_OK) return st;
        n++;
    }
    if (first) return PR_EOF; /* only spaces and tabs: a blank line */
    rec->n_feats = (uint32_t)n;
    rec->feats = r->feats;
    return PR_OK;
}

static pr_status libsvm_parse(pr_reader *r, char *line, size_t len,
                              pr_record *rec, pr_err *err) {
    return sparse_parse(r, line, len, rec, 2, err);
}

static pr_status libffm_parse(pr_reader *r, char *line, size_t len,
                              pr_record *rec, pr_err *err) {
    return sparse_parse(r, line, len, rec, 3, err);
}

const pr__format_ops pr__format_libsvm = {
    PR_FORMAT_LIBSVM, "libsvm", sparse_init, libsvm_parse, NULL,
};
const pr__format_ops pr__format_libffm = {
    PR_FORMAT_LIBFFM, "libffm", sparse_init, libffm_parse, NULL,
};
