/*
 * reader_criteo.c: the Criteo Kaggle TSV layout, pronto's hot input path.
 *
 *   field  1      2..14     15..40
 *          label  I1..I13   C1..C26      tab-separated, empty = missing
 *
 * label is 0 or 1; I* must be (optionally negative) decimal integers that
 * fit in int64; C* may hold any bytes but a tab. With label_optional, a
 * 39-field row (the Criteo test set layout) or an empty label gives
 * has_label = 0.
 *
 * Errors give the 1-based column (field) number: "f.tsv:12:5: column 'I4':
 * ..." (field 5 is I4), and for a wrong field count the first missing or
 * surplus column.
 *
 * Design. One pass over the line (16 bytes at a time with SSE2) splits it
 * into at most 40 fields pointing into the line buffer (no copy, no
 * allocation), which are then copied as slices into the reader's cols.
 * Only the I* fields are scanned again, to validate their digits. Column
 * names are static strings.
 */
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "data/reader_int.h"

#define N_INT 13
#define N_CAT 26
#define N_COLS (N_INT + N_CAT) /* 39 value columns */
#define N_FIELDS (1 + N_COLS)  /* 40 with the label */

static const char *const criteo_names[N_COLS] = {
    "I1",  "I2",  "I3",  "I4",  "I5",  "I6",  "I7",  "I8",  "I9",  "I10",
    "I11", "I12", "I13", "C1",  "C2",  "C3",  "C4",  "C5",  "C6",  "C7",
    "C8",  "C9",  "C10", "C11", "C12", "C13", "C14", "C15", "C16", "C17",
    "C18", "C19", "C20", "C21", "C22", "C23", "C24", "C25", "C26",
};

static pr_status criteo_init(pr_reader *r, const pr_reader_opts *o,
                             pr_err *err) {
    pr_status st = pr__reader_alloc_columns(r, N_COLS, 0, err);
    if (st != PR_OK) return st;
    for (uint32_t i = 0; i < N_COLS; i++)
        r->col_names[i] = (char *)criteo_names[i];
    return PR_OK;
}

static size_t count_tabs(const char *p, const char *end) {
    size_t n = 0;
    while ((p = memchr(p, '\t', (size_t)(end - p))) != NULL) {
        n++;
        p++;
    }
    return n;
}

/* True for "-?[0-9]+": an integer, if perhaps too large for int64. */
static int all_digits(pr_bytes v) {
    size_t i = v.len > 0 && v.ptr[0] == '-' ? 1 : 0;
    if (i == v.len) return 0;
    for (; i < v.len; i++)
        if (v.ptr[i] < '0' || v.ptr[i] > '9') return 0;
    return 1;
}

/* Splits line at tabs into fields[0, N_FIELDS). Returns the number of
 * fields, or N_FIELDS + 1 when there are more (the rest is not split).
 * With SSE2 (every x86-64) 16 bytes are tested per step and each tab is
 * taken from a bit mask: Criteo fields are ~8 bytes, too short for a
 * memchr call per field to pay off. */
static size_t split_tabs(const char *line, size_t len, pr_bytes *fields) {
    size_t n = 0, start = 0, i = 0;
#if defined(__SSE2__)
    const __m128i tab = _mm_set1_epi8('\t');
    for (; i + 16 <= len; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(line + i));
        unsigned mask = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, tab));
        while (mask) {
            size_t pos = i + (size_t)__builtin_ctz(mask);
            mask &= mask - 1;
            if (n == N_FIELDS - 1) return N_FIELDS + 1;
            fields[n].ptr = line + start;
            fields[n].len = pos - start;
            n++;
            start = pos + 1;
        }
    }
#endif
    for (; i < len; i++) {
        if (line[i] != '\t') continue;
        if (n == N_FIELDS - 1) return N_FIELDS + 1;
        fields[n].ptr = line + start;
        fields[n].len = i - start;
        n++;
        start = i + 1;
    }
    fields[n].ptr = line + start;
    fields[n].len = len - start;
    return n + 1;
}

static pr_status criteo_parse(pr_reader *r, char *line, size_t len,
                              pr_record *rec, pr_err *err) {
    /* fields[0] is the label slot; fields + 1 is r->cols when a label is
     * present. We split into a local array first because a 39-field row
     * shifts everything by one. */
    pr_bytes fields[N_FIELDS];
    size_t n = split_tabs(line, len, fields);
    if (n > N_FIELDS)
        return pr__row_error(r, PR_ERR_PARSE, N_FIELDS + 1, err,
                             "expected %d tab-separated columns, found %zu",
                             N_FIELDS, 1 + count_tabs(line, line + len));

    const pr_bytes *vals;
    if (n == N_FIELDS) {
        const pr_bytes *lab = &fields[0];
        if (lab->len == 1 && (lab->ptr[0] == '0' || lab->ptr[0] == '1')) {
            rec->label = (float)(lab->ptr[0] - '0');
        } else if (lab->len == 0 && r->label_optional) {
            rec->has_label = 0;
        } else {
            char ex[PR__EXCERPT_MAX];
            pr__excerpt(ex, sizeof ex, lab->ptr, lab->len);
            return pr__row_error(r, PR_ERR_LABEL, 1, err,
                                 "label: expected 0 or 1, got '%s'", ex);
        }
        vals = fields + 1;
    } else if (n == N_COLS && r->label_optional) {
        rec->has_label = 0;
        vals = fields;
    } else {
        return pr__row_error(r, PR_ERR_PARSE, n + 1, err,
                             "expected %d tab-separated columns, found %zu",
                             N_FIELDS, n);
    }

    size_t first_col = vals == fields ? 1 : 2; /* column number of I1 */
    for (int i = 0; i < N_INT; i++) {
        if (vals[i].len && pr__check_int64(vals[i].ptr, vals[i].len) != 0) {
            char ex[PR__EXCERPT_MAX];
            pr__excerpt(ex, sizeof ex, vals[i].ptr, vals[i].len);
            return pr__row_error(
                r, PR_ERR_PARSE, first_col + (size_t)i, err,
                "column '%s': expected an integer%s, got '%s'", criteo_names[i],
                all_digits(vals[i]) ? " in the int64 range" : "", ex);
        }
    }
    memcpy(r->cols, vals, N_COLS * sizeof *vals);
    rec->n_cols = N_COLS;
    rec->cols = r->cols;
    return PR_OK;
}

const pr__format_ops pr__format_criteo = {
    PR_FORMAT_CRITEO, "criteo", criteo_init, criteo_parse, NULL,
};
