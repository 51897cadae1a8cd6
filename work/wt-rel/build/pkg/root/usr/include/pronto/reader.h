/*
 * pronto/reader.h: streaming readers for training and prediction input.
 *
 * A reader turns one file (or stdin, or a memory buffer) into a stream of
 * pr_record values (pronto/example.h), in constant memory whatever the size
 * of the input. Five text formats are understood:
 *
 *   criteo  label<TAB>I1..I13<TAB>C1..C26      (Criteo Kaggle TSV, 40 columns)
 *   csv     a header line, then rows            (RFC 4180 quoting, any delimiter)
 *   libsvm  label idx:val idx:val ...           (field = 0)
 *   libffm  label field:idx:val ...
 *   jsonl   one JSON object per line            (opts.columns picks the keys)
 *
 * Input ending in ".zst", or starting with the zstd frame magic, is
 * decompressed on the fly. Lines end with "\n" or "\r\n"; the last line may
 * lack its newline; empty lines are skipped in every format except that a
 * CSV file needs a header line first.
 *
 * Typical use:
 *
 *     pr_reader_opts o;
 *     pr_reader_opts_init(&o, PR_FORMAT_CRITEO);
 *     pr_reader *r;
 *     if (pr_reader_open("train.tsv.zst", &o, &r, &err) != PR_OK) ...;
 *     pr_record rec;
 *     pr_status s;
 *     while ((s = pr_reader_next(r, &rec, &err)) != PR_EOF) {
 *         if (s == PR_OK) use(&rec);
 *         else if (pr_reader_row_error(s) && skipped++ < max_bad) log(err.msg);
 *         else break;                          // I/O or format error
 *     }
 *     pr_reader_free(r);
 *
 * Errors name the place: "train.tsv:12:5: column 'I4': expected an integer,
 * got 'x1'" is file:line:column, where line is 1-based and column is
 *   criteo, csv      the 1-based field number (I4 is field 5), plus the
 *                    column name where one applies;
 *   libsvm, libffm   the 1-based byte offset of the bad token;
 *   jsonl            jansson's column for JSON syntax errors; errors about
 *                    a value name its key instead ("f.jsonl:3: key 'w': ...").
 */
#ifndef PRONTO_READER_H
#define PRONTO_READER_H

#include <stddef.h>
#include <stdint.h>

#include "pronto/base.h"
#include "pronto/example.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    PR_FORMAT_CRITEO = 1,
    PR_FORMAT_CSV,
    PR_FORMAT_LIBSVM,
    PR_FORMAT_LIBFFM,
    PR_FORMAT_JSONL
} pr_format;

/* "criteo", "csv", "libsvm", "libffm", "jsonl" -> *out. PR_ERR_INVALID for
 * anything else (no pr_err: the caller names the flag it came from). */
pr_status pr_format_parse(const char *name, pr_format *out);
/* The name pr_format_parse accepts; "unknown" for an invalid value. */
const char *pr_format_name(pr_format f);

/* Options. Every string is borrowed only during pr_reader_open (the reader
 * copies what it keeps). Fields a format does not use are ignored.
 *
 *   field          criteo csv libsvm libffm jsonl
 *   label_col        -     x    -      -      x
 *   weight_col       -     x    -      -      x
 *   ts_col           -     x    -      -      x
 *   ignore_cols      -     x    -      -      -
 *   columns          -     x    -      -      x (required)
 *   delimiter        -     x    -      -      -
 *   label_optional   x     x    x      x      x
 */
typedef struct pr_reader_opts {
    pr_format format;
    const char *label_col;    /* csv/jsonl: name of the label column/key; NULL = "label" */
    const char *weight_col;   /* csv/jsonl: optional importance weight column (a finite
                                 number >= 0; empty/missing = 1); NULL = none */
    const char *ts_col;       /* csv/jsonl: optional timestamp column (integer Unix
                                 seconds, or ISO-8601 "2024-01-02T03:04:05Z");
                                 empty/missing = 0; NULL = none */
    const char *const *ignore_cols; /* csv: columns to drop (each must exist) */
    uint32_t n_ignore;
    const char *const *columns; /* jsonl: keys to extract as columns, in this order
                                   (required; "a.b" addresses nested objects);
                                   csv: if non-NULL, only these columns, in this order
                                   (else all header columns except label/weight/ts/
                                   ignored) */
    uint32_t n_columns;
    char delimiter;           /* csv: 0 = ',' */
    int label_optional;       /* 1: rows without a label are accepted (has_label = 0),
                                 e.g. for predict. criteo: a 39-column row (no label
                                 column, like the Criteo test set) or an empty label;
                                 libsvm/libffm: a row whose first token is a feature;
                                 csv: an empty label, or no label column at all;
                                 jsonl: a missing or null label key. */
} pr_reader_opts;

/* Zeroes *o and sets the format; label_col stays NULL (= "label"). */
void pr_reader_opts_init(pr_reader_opts *o, pr_format f);

/* Opaque; owned by caller, free with pr_reader_free. */
typedef struct pr_reader pr_reader;

/* Opens path ("-" = stdin, never closed by the reader). A path ending in
 * ".zst", or a stream starting with the zstd magic, is decompressed
 * transparently. For csv the header line is read and checked here: a missing
 * label/weight/ts/selected column is PR_ERR_PARSE naming the column.
 * Errors: PR_ERR_IO (cannot open/read), PR_ERR_INVALID (bad opts),
 * PR_ERR_FORMAT (bad zstd data), PR_ERR_PARSE (csv header), PR_ERR_NOMEM.
 * On failure *out is NULL and there is nothing to free. */
pr_status pr_reader_open(const char *path, const pr_reader_opts *opts,
                         pr_reader **out, pr_err *err);

/* The same over a memory buffer: data is borrowed for the reader's life;
 * name (copied) is used in error messages and pr_record.file. */
pr_status pr_reader_open_mem(const void *data, size_t len, const char *name,
                             const pr_reader_opts *opts, pr_reader **out,
                             pr_err *err);

/* Reads the next row.
 *   PR_OK      *rec filled; everything it points to is borrowed, valid until
 *              the next pr_reader_next or pr_reader_free on r.
 *   PR_EOF     no more rows (and every later call returns PR_EOF).
 *   PR_ERR_PARSE / PR_ERR_LABEL / PR_ERR_LIMIT
 *              a malformed row (LABEL: a bad or missing label; LIMIT: a line
 *              longer than 1 MiB, which is skipped). err->msg names
 *              file:line:column. The reader stays usable: the next call
 *              continues with the next line.
 *   PR_ERR_IO / PR_ERR_FORMAT / PR_ERR_TRUNCATED / PR_ERR_NOMEM
 *              sticky: every later call returns the same error. */
pr_status pr_reader_next(pr_reader *r, pr_record *rec, pr_err *err);

/* 1 if s is a per-row error after which pr_reader_next can go on
 * (PR_ERR_PARSE, PR_ERR_LABEL, PR_ERR_LIMIT), else 0. */
int pr_reader_row_error(pr_status s);

/* Columnar formats: number of string columns per record and their names
 * (borrowed, valid for the reader's life). 0 / NULL for libsvm, libffm, or
 * i out of range. */
uint32_t pr_reader_n_columns(const pr_reader *r);
const char *pr_reader_column_name(const pr_reader *r, uint32_t i);

/* Bytes consumed from the underlying file (compressed bytes for .zst), for
 * progress and ETA against pr_reader_size. */
uint64_t pr_reader_bytes_read(const pr_reader *r);
/* Bytes of text produced after decompression (equals bytes_read for plain
 * input once the input is consumed). */
uint64_t pr_reader_bytes_decoded(const pr_reader *r);
/* Size of the input in bytes, or -1 when unknown (stdin, pipes). */
int64_t pr_reader_size(const pr_reader *r);
/* The format the reader was opened with. */
pr_format pr_reader_format(const pr_reader *r);

/* Closes the file and releases everything. NULL is a no-op. */
void pr_reader_free(pr_reader *r);

#ifdef __cplusplus
}
#endif
#endif
