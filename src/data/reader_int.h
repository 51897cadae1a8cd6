/*
 * data/reader_int.h: what the reader files share and nobody else sees.
 *
 *   reader.c          pr_reader: open/next/free, the format table, errors
 *   reader_source.c   the line source: fd / memory, zstd, line splitting
 *   reader_value.c    label, weight, timestamp and number parsers
 *   reader_criteo.c   criteo TSV
 *   reader_csv.c      csv with a header
 *   reader_sparse.c   libsvm and libffm
 *   reader_jsonl.c    JSON lines (jansson)
 *
 * Each format is a pr__format_ops table chosen once at open, so the hot
 * loop tests no format flags.
 */
#ifndef PRONTO_DATA_READER_INT_H
#define PRONTO_DATA_READER_INT_H

#include <stddef.h>
#include <stdint.h>
#include <zstd.h>

#include "pronto/reader.h"

/* Longest accepted line, without its newline. */
#define PR__READER_MAX_LINE ((size_t)1 << 20)
/* Line buffer: one maximal line plus a full read block. */
#define PR__READER_BUF_CAP (PR__READER_MAX_LINE + ((size_t)1 << 20))

/* ------------------------------------------------------------ line source
 * Delivers lines from a file descriptor or a memory buffer, decompressing
 * zstd if the data starts with its magic (or the path ends in .zst).
 *
 * Buffer invariant: buf[start, end) holds bytes not yet returned as lines;
 * buf[start, scan) is known to hold no '\n'. A returned line points into buf
 * and stays valid until the next call (only then is the buffer compacted or
 * refilled). cap > max_line, so a partial line of at most max_line bytes
 * always leaves room to read more. */
typedef struct pr__linesrc {
    const char *name;         /* borrowed from the reader */
    int fd;                   /* -1 for memory input */
    int close_fd;             /* 0 for stdin */
    const unsigned char *mem; /* memory input (borrowed), or NULL */
    size_t mem_len, mem_pos;
    int64_t size;       /* input size, -1 if unknown */
    uint64_t bytes_in;  /* raw (compressed) bytes consumed */
    uint64_t bytes_out; /* decoded bytes produced */

    ZSTD_DStream *zs;   /* non-NULL when decompressing */
    unsigned char *zin; /* compressed input block (owned) */
    size_t zin_cap;
    ZSTD_inBuffer zib; /* zib.src = zin */
    int zs_in_frame;   /* a frame is started and not yet complete */
    int raw_eof;       /* the raw input is exhausted */

    char *buf; /* owned, cap bytes */
    size_t cap, max_line;
    size_t start, end, scan;
    int eof;         /* decoded stream exhausted */
    int skipping;    /* discarding the rest of an over-long line */
    uint64_t lineno; /* number of the line last returned */

    pr_status sticky; /* I/O or format failure, repeated forever */
    char sticky_msg[PR_ERR_MSG_MAX];
} pr__linesrc;

/* path: "-" is stdin. cap/max_line: 0 = the defaults above (smaller values
 * are for tests and fuzzing; cap must exceed max_line). */
pr_status pr__linesrc_open_path(pr__linesrc *s, const char *path,
                                const char *name, size_t cap, size_t max_line,
                                pr_err *err);
pr_status pr__linesrc_open_mem(pr__linesrc *s, const void *data, size_t len,
                               const char *name, size_t cap, size_t max_line,
                               pr_err *err);
/* Next line without its "\n" / "\r\n" (mutable: parsers may unescape in
 * place). PR_OK, PR_EOF, PR_ERR_LIMIT (over-long line, skipped; s->lineno
 * is its number) or a sticky error. */
pr_status pr__linesrc_next(pr__linesrc *s, char **line, size_t *len,
                           pr_err *err);
void pr__linesrc_close(pr__linesrc *s);

/* ------------------------------------------------------------ the reader */
typedef struct pr__format_ops {
    pr_format format;
    const char *name;
    /* After the source is open: check opts, set up columns, read a header.
     * Owns nothing itself; state goes into the reader (freed by reader.c). */
    pr_status (*init)(pr_reader *r, const pr_reader_opts *o, pr_err *err);
    /* Parses one non-empty line into rec (already reset to defaults).
     * PR_EOF means "blank line, no record here": the reader moves on. */
    pr_status (*parse)(pr_reader *r, char *line, size_t len, pr_record *rec,
                       pr_err *err);
    /* Releases format state (may be NULL). */
    void (*fini)(pr_reader *r);
} pr__format_ops;

struct pr_reader {
    pr__linesrc src;
    const pr__format_ops *ops;
    char *name; /* owned copy, for messages and rec->file */
    int label_optional;

    /* Columnar formats. col_names[i] is owned when names_owned, else static. */
    uint32_t n_cols;
    char **col_names;
    int names_owned;
    pr_bytes *cols; /* owned, n_cols slots, refilled per row */

    /* Sparse formats: grows geometrically, never shrinks. */
    pr_raw_feature *feats;
    size_t feats_cap;

    void *fmt; /* format state (owned, freed by ops->fini) */

    /* Line sharding (pr_reader_opts.shard_*): rows counted so far. */
    uint32_t shard_count, shard_index;
    uint64_t shard_row;
};

extern const pr__format_ops pr__format_criteo;
extern const pr__format_ops pr__format_csv;
extern const pr__format_ops pr__format_libsvm;
extern const pr__format_ops pr__format_libffm;
extern const pr__format_ops pr__format_jsonl;

/* Opens with explicit buffer limits (0 = defaults); for tests and fuzzers
 * that want lines to cross buffer boundaries with small inputs. */
pr_status pr__reader_open_mem_limits(const void *data, size_t len,
                                     const char *name,
                                     const pr_reader_opts *opts, size_t cap,
                                     size_t max_line, pr_reader **out,
                                     pr_err *err);

/* Sets err to "<file>:<line>:<col>: <message>" (col 0: "<file>:<line>: ").
 * Returns status. */
pr_status pr__row_error(const pr_reader *r, pr_status status, size_t col,
                        pr_err *err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Allocates n_cols column slots and name pointers (names left NULL). */
pr_status pr__reader_alloc_columns(pr_reader *r, uint32_t n, int names_owned,
                                   pr_err *err);
/* Makes room for at least n sparse features. */
pr_status pr__reader_reserve_feats(pr_reader *r, size_t n, pr_err *err);

/* Writes a printable, quoted-safe excerpt of p[0,n) into dst (at most 40
 * input bytes, then "..."; control and non-ASCII bytes as \xNN). */
void pr__excerpt(char *dst, size_t cap, const char *p, size_t n);
#define PR__EXCERPT_MAX 200

/* ------------------------------------------------------------ values
 * All take a slice (not NUL-terminated) and return 0 on success, -1 if the
 * text is not acceptable. Parsers then report with their own message. */

/* Label text: "0", "1", "-1", "+1", or any number equal to 0/1/-1, and
 * (when allow_bool) true/false in any case. -1 maps to 0. */
int pr__parse_label(const char *p, size_t n, int allow_bool, float *out);
/* An optionally negative decimal integer fitting in int64. */
int pr__check_int64(const char *p, size_t n);
int pr__parse_int64(const char *p, size_t n, int64_t *out);
/* A non-negative decimal integer fitting in uint32. */
int pr__parse_u32(const char *p, size_t n, uint32_t *out);
/* A finite number (strtod syntax, no surrounding space) that is also finite
 * as a float. */
int pr__parse_float(const char *p, size_t n, float *out);
int pr__parse_double(const char *p, size_t n, double *out);
/* Integer Unix seconds, or ISO-8601 "YYYY-MM-DD[(T| )hh:mm:ss[.frac]]" with
 * "Z", "+hh:mm", "+hhmm" or nothing (= UTC). */
int pr__parse_ts(const char *p, size_t n, int64_t *out);

#endif
