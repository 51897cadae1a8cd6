/*
 * test_reader.c: the data readers on real files: every format's good rows
 * and malformed rows (status, and a message naming file:line:column), going
 * on after a bad line, .zst input equal to plain input, lines crossing
 * buffer boundaries, over-long lines, CRLF, stdin in a child process.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/wait.h>
#include <zstd.h>

#include "data/reader_int.h"
#include "pronto/reader.h"
#include "test.h"

/* ------------------------------------------------------------ helpers */

/* A growing text buffer for dumps and generated files. */
typedef struct text {
    char *p;
    size_t len, cap;
} text;

static void text_add(text *t, const char *s, size_t n) {
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->p = realloc(t->p, t->cap);
        if (!t->p) TEST_FAIL("out of memory");
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}
static void text_str(text *t, const char *s) { text_add(t, s, strlen(s)); }
static void text_fmt(text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void text_fmt(text *t, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    text_add(t, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) TEST_FAIL("cannot write %s", path);
    if (n && fwrite(data, 1, n, f) != n) TEST_FAIL("short write %s", path);
    fclose(f);
}

/* Appends one record (or an error) to a dump, in a stable text form. The
 * file name is left out of error messages so dumps of the same data under
 * different names compare equal. */
static void dump_one(text *t, pr_status st, const pr_record *rec,
                     const pr_err *err, const char *name) {
    if (st != PR_OK) {
        const char *m = err->msg;
        size_t nl = strlen(name);
        if (strncmp(m, name, nl) == 0) m += nl;
        text_fmt(t, "ERR %s %s\n", pr_status_name(st), m);
        return;
    }
    text_fmt(t, "%llu: y=%g h=%d w=%g ts=%lld |", (unsigned long long)rec->line,
             rec->label, rec->has_label, rec->weight, (long long)rec->ts);
    for (uint32_t i = 0; i < rec->n_cols; i++) {
        text_str(t, i ? "," : "");
        text_add(t, rec->cols[i].ptr, rec->cols[i].len);
    }
    text_str(t, "|");
    for (uint32_t i = 0; i < rec->n_feats; i++)
        text_fmt(t, " %u:%u:%g", rec->feats[i].field, rec->feats[i].index,
                 rec->feats[i].value);
    text_str(t, "\n");
}

/* Reads a whole reader into a dump; stops at EOF or a sticky error. */
static char *dump_reader(pr_reader *r, const char *name) {
    text t = {0};
    pr_record rec;
    pr_err err;
    for (;;) {
        pr_status st = pr_reader_next(r, &rec, &err);
        if (st == PR_EOF) break;
        dump_one(&t, st, &rec, &err, name);
        if (st != PR_OK && !pr_reader_row_error(st)) break;
    }
    text_str(&t, "");
    return t.p;
}

static char *dump_file(const char *path, const pr_reader_opts *o) {
    pr_err err;
    pr_reader *r;
    ASSERT_OK(pr_reader_open(path, o, &r, &err));
    char *d = dump_reader(r, path);
    pr_reader_free(r);
    return d;
}

static char *dump_mem_limits(const char *data, size_t len, const char *name,
                             const pr_reader_opts *o, size_t cap,
                             size_t max_line) {
    pr_err err;
    pr_reader *r;
    ASSERT_OK(pr__reader_open_mem_limits(data, len, name, o, cap, max_line, &r,
                                         &err));
    char *d = dump_reader(r, name);
    pr_reader_free(r);
    return d;
}

/* Opens text written to a temporary file of the given name. */
static pr_reader *open_text(const char *name, const char *content,
                            const pr_reader_opts *o) {
    pr_err err;
    pr_reader *r;
    const char *path = test_path(name);
    test_write_file(path, content);
    ASSERT_OK(pr_reader_open(path, o, &r, &err));
    return r;
}

static void zstd_file(const char *path, const void *data, size_t n,
                      int frames) {
    text out = {0};
    size_t per = frames > 1 ? n / (size_t)frames + 1 : n;
    for (size_t off = 0; off < n || (n == 0 && out.len == 0); off += per) {
        size_t k = n - off < per ? n - off : per;
        size_t bound = ZSTD_compressBound(k);
        char *buf = malloc(bound);
        size_t z = ZSTD_compress(buf, bound, (const char *)data + off, k, 3);
        if (ZSTD_isError(z)) TEST_FAIL("zstd: %s", ZSTD_getErrorName(z));
        text_add(&out, buf, z);
        free(buf);
        if (n == 0) break;
    }
    write_bytes(path, out.p, out.len);
    free(out.p);
}

#define EXPECT_NEXT_OK(r, rec)                                         \
    do {                                                               \
        pr_err e_;                                                     \
        pr_status s_ = pr_reader_next((r), (rec), &e_);                \
        if (s_ != PR_OK) TEST_FAIL("next: %s: %s", pr_status_name(s_), e_.msg); \
    } while (0)
#define EXPECT_NEXT_ERR(r, rec, want, needle)                                \
    do {                                                                     \
        pr_err e_;                                                           \
        pr_status s_ = pr_reader_next((r), (rec), &e_);                      \
        if (s_ != (want)) TEST_FAIL("next: got %s want %s (%s)",             \
                                    pr_status_name(s_), pr_status_name(want), \
                                    s_ == PR_OK ? "" : e_.msg);              \
        ASSERT_CONTAINS(e_.msg, needle);                                     \
    } while (0)
#define EXPECT_EOF(r, rec)                                              \
    do {                                                                \
        pr_err e_;                                                      \
        ASSERT_EQ_INT(pr_reader_next((r), (rec), &e_), PR_EOF);          \
    } while (0)

static int col_is(const pr_record *rec, uint32_t i, const char *want) {
    return i < rec->n_cols && rec->cols[i].len == strlen(want) &&
           memcmp(rec->cols[i].ptr, want, rec->cols[i].len) == 0;
}
#define ASSERT_COL(rec, i, want)                                             \
    do {                                                                     \
        if (!col_is((rec), (i), (want)))                                     \
            TEST_FAIL("column %d is '%.*s', want '%s'", (int)(i),            \
                      (int)((i) < (rec)->n_cols ? (rec)->cols[i].len : 0),   \
                      (i) < (rec)->n_cols ? (rec)->cols[i].ptr : "", (want)); \
    } while (0)

/* A criteo row: label, ints[13] and cats[26] given as one tab-joined tail. */
static const char *crit_row1 =
    "1\t5\t\t-3\t0\t1234\t\t7\t8\t9\t10\t11\t\t13\t"
    "68fd1e64\t80e26c9b\tfb936136\t7b4723c4\t25c83c98\t\t"
    "5f5e6091\t0b153874\ta73ee510\t3b08e48b\tb6f7d7dd\t"
    "e0d76380\t1f89b562\t2c4b4c0d\t\t8cf07265\te5ba7672\t"
    "f54016b9\t21ddcdc9\tb1252a9d\t07b5194c\t\t3a171ecb\t"
    "c5c50484\te8b83407\t9727dd16";

/* ------------------------------------------------------------ formats */

TEST(format_names) {
    static const char *names[] = {"criteo", "csv", "libsvm", "libffm", "jsonl"};
    for (int i = 0; i < 5; i++) {
        pr_format f;
        ASSERT_EQ_INT(pr_format_parse(names[i], &f), PR_OK);
        ASSERT_EQ_INT(f, PR_FORMAT_CRITEO + i);
        ASSERT_EQ_STR(pr_format_name(f), names[i]);
    }
    pr_format f;
    ASSERT_EQ_INT(pr_format_parse("tsv", &f), PR_ERR_INVALID);
    ASSERT_EQ_INT(pr_format_parse(NULL, &f), PR_ERR_INVALID);
    ASSERT_EQ_STR(pr_format_name((pr_format)99), "unknown");
    ASSERT_TRUE(pr_reader_row_error(PR_ERR_PARSE));
    ASSERT_TRUE(pr_reader_row_error(PR_ERR_LABEL));
    ASSERT_TRUE(pr_reader_row_error(PR_ERR_LIMIT));
    ASSERT_TRUE(!pr_reader_row_error(PR_ERR_IO));
    ASSERT_TRUE(!pr_reader_row_error(PR_ERR_TRUNCATED));
}

TEST(criteo_good_rows) {
    pr_reader_opts o;
    pr_reader_opts_init(&o, PR_FORMAT_CRITEO);
    text t = {0};
    text_fmt(&t, "%s\n\n", crit_row1);
    /* All missing, label 0. */
    text_str(&t, "0");
    for (int i = 0; i < 39; i++) text_str(&t, "\t");
    text_str(&t, "\n");
    pr_reader *r = open_text("c.tsv", t.p, &o);
    free(t.p);
    ASSERT_EQ_INT(pr_reader_n_columns(r), 39);
    ASSERT_EQ_STR(pr_reader_column_name(r, 0), "I1");
    ASSERT_EQ_STR(pr_reader_column_name(r, 12), "I13");
    ASSERT_EQ_STR(pr_reader_column_name(r, 13), "C1");
    ASSERT_EQ_STR(pr_reader_column_name(r, 38), "C26");
    ASSERT_TRUE(pr_reader_column_name(r, 39) == NULL);
    ASSERT_EQ_INT(pr_reader_format(r), PR_FORMAT_CRITEO);

    pr_record rec;
    EXPECT_NEXT_OK(r, &rec);
    ASSERT_EQ_INT(rec.line, 1);
    ASSERT_CONTAINS(rec.file, "c.tsv");
    ASSERT_EQ_INT(rec.has_label, 1);
    ASSERT_NEAR(rec.label, 1, 0);
    ASSERT_NEAR(rec.weight, 1, 0);
    ASSERT_EQ_INT(rec.ts, 0);
    ASSERT_EQ_INT(rec.n_cols, 39);
    ASSERT_EQ_INT(rec.n_feats, 0);
    ASSERT_COL(&rec, 0, "5");
    ASSERT_COL(&rec, 1, "");
    ASSERT_COL(&rec, 2, "-3");
    ASSERT_COL(&rec, 12, "13");
    ASSERT_COL(&rec, 13, "68fd1e64");
    ASSERT_COL(&rec, 18, "");
    ASSERT_COL(&rec, 38, "9727dd16");

    EXPECT_NEXT_OK(r, &rec); /* the empty line 2 was skipped */
    ASSERT_EQ_INT(rec.line, 3);
    ASSERT_NEAR(rec.label, 0, 0);
    for (uint32_t i = 0; i < 39; i++) ASSERT_EQ_INT(rec.cols[i].len, 0);
    EXPECT_EOF(r, &rec);
    EXPECT_EOF(r, &rec);
    ASSERT_EQ_INT(pr_reader_bytes_read(r), pr_reader_size(r));
    pr_reader_free(r);
}

TEST(criteo_bad_rows_and_recovery) {
    pr_reader_opts o;
    pr_reader_opts_init(&o, PR_FORMAT_CRITEO);
    text t = {0};
    text_fmt(&t, "%s\n", crit_row1);                 /* 1 ok */
    text_str(&t, "1\t\t\t\tx1");                      /* 2 I4 = x1 */
    for (int i = 0; i < 35; i++) text_str(&t, "\t");
    text_str(&t, "\n");
    text_str(&t, "1\t2\t3\n");                        /* 3 too few */
    text_fmt(&t, "%s\textra\tmore\n", crit_row1);     /* 4 too many */
    text_fmt(&t, "2%s\n", crit_row1 + 1);             /* 5 label 2 */
    text_fmt(&t, "%s\n", crit_row1);                  /* 6 ok */
    text_str(&t, "0\t99999999999999999999");         /* 7 I1 overflows */
    for (int i = 0; i < 38; i++) text_str(&t, "\t");
    text_str(&t, "\n");
    text_fmt(&t, "%s\n", crit_row1 + 2);              /* 8 39 columns */
    text_fmt(&t, "%s", crit_row1);                    /* 9 ok, no newline */
    pr_reader *r = open_text("bad.tsv", t.p, &o);
    free(t.p);
    pr_record rec;
    EXPECT_NEXT_OK(r, &rec);
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_PARSE,
                    "bad.tsv:2:5: column 'I4': expected an integer, got 'x1'");
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_PARSE,
                    "bad.tsv:3:4: expected 40 tab-separated columns, found 3");
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_PARSE,
                    "expected 40 tab-separated columns, found 42");
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_LABEL,
                    "bad.tsv:5:1: label: expected 0 or 1, got '2'");
    EXPECT_NEXT_OK(r, &rec);
    ASSERT_EQ_INT(rec.line, 6);
    ASSERT_COL(&rec, 38, "9727dd16");
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_PARSE,
                    "bad.tsv:7:2: column 'I1': expected an integer in the "
                    "int64 range, got '99999999999999999999'");
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_PARSE, "bad.tsv:8:");
    EXPECT_NEXT_OK(r, &rec);
    ASSERT_EQ_INT(rec.line, 9);
    ASSERT_COL(&rec, 38, "9727dd16");
    EXPECT_EOF(r, &rec);
    pr_reader_free(r);
}

TEST(criteo_label_optional) {
    pr_reader_opts o;
    pr_reader_opts_init(&o, PR_FORMAT_CRITEO);
    o.label_optional = 1;
    text t = {0};
    text_fmt(&t, "%s\n", crit_row1 + 2);  /* 39 columns: test-set layout */
    text_fmt(&t, "%s\n", crit_row1 + 1);  /* 40 columns, empty label */
    text_fmt(&t, "%s\n", crit_row1);
    pr_reader *r = open_text("opt.tsv", t.p, &o);
    free(t.p);
    pr_record rec;
    EXPECT_NEXT_OK(r, &rec);
    ASSERT_EQ_INT(rec.has_label, 0);
    ASSERT_COL(&rec, 0, "5");
    ASSERT_COL(&rec, 38, "9727dd16");
    EXPECT_NEXT_OK(r, &rec);
    ASSERT_EQ_INT(rec.has_label, 0);
    ASSERT_COL(&rec, 0, "5");
    EXPECT_NEXT_OK(r, &rec);
    ASSERT_EQ_INT(rec.has_label, 1);
    EXPECT_EOF(r, &rec);
    pr_reader_free(r);
}

TEST(csv_good_rows) {
    pr_reader_opts o;
    pr_reader_opts_init(&o, PR_FORMAT_CSV);
    o.weight_col = "w";
    o.ts_col = "time";
    const char *ign[] = {"junk"};
    o.ignore_cols = ign;
    o.n_ignore = 1;
    pr_reader *r = open_text(
        "a.csv",
        "\xEF\xBB\xBFuser,label,\"ad, id\",w,junk,time,note\r\n"
        "u1,1,a7,2.5,x,1700000000,\"say \"\"hi\"\", ok\"\r\n"
        "u2,0,,,,2024-01-02T03:04:05Z,\r\n"
        "\r\n"
        "u3,-1,\"\",0,y,2024-01-02T04:04:05+01:00,plain\"quote\r\n"
        "u4,true,b,1e-3,,,\"\"\r\n"
        "u5,FALSE,c,1,,2024-01-02,last",
        &o);
    ASSERT_EQ_INT(pr_reader_n_columns(r), 3);
    ASSERT_EQ_STR(pr_reader_column_name(r, 0), "user");
    ASSERT_EQ_STR(pr_reader_column_name(r, 1), "ad, id");
    ASSERT_EQ_STR(pr_reader_column_name(r, 2), "note");
    pr_record rec;
    EXPECT_NEXT_OK(r, &rec);
    ASSERT_EQ_INT(rec.line, 2);
    ASSERT_NEAR(rec.label, 1, 0);
    ASSERT_NEAR(rec.weight, 2.5, 1e-6);
    ASSERT_EQ_INT(rec.ts, 1700000000);
    ASSERT_COL(&rec, 0, "u1");
    ASSERT_COL(&rec, 1, "a7");
    ASSERT_COL(&rec, 2, "say \"hi\", ok");
    EXPECT_NEXT_OK(r, &rec);
    ASSERT_NEAR(rec.label, 0, 0);
    ASSERT_NEAR(rec.weight, 1, 0);  /* empty weight = 1 */
    ASSERT_EQ_INT(rec.ts, 1704164645);
    ASSERT_COL(&rec, 1, "");
    ASSERT_COL(&rec, 2, "");
    EXPECT_NEXT_OK(r, &rec);
    ASSERT_EQ_INT(rec.line, 5);
    ASSERT_NEAR(rec.label, 0, 0); /* -1 -> 0 */
    ASSERT_NEAR(rec.weight, 0, 0);
    ASSERT_EQ_INT(rec.ts, 1704164645);
    ASSERT_COL(&rec, 1, "");
    ASSERT_COL(&rec, 2, "plain\"quote");
    EXPECT_NEXT_OK(r, &rec);
    ASSERT_NEAR(rec.label, 1, 0);
    ASSERT_NEAR(rec.weight, 0.001, 1e-9);
    ASSERT_EQ_INT(rec.ts, 0);
    EXPECT_NEXT_OK(r, &rec);
    ASSERT_NEAR(rec.label, 0, 0);
    ASSERT_EQ_INT(rec.ts, 1704153600);
    ASSERT_COL(&rec, 2, "last");
    EXPECT_EOF(r, &rec);
    pr_reader_free(r);
}

TEST(csv_selection_delimiter_label_optional) {
    pr_reader_opts o;
    pr_reader_opts_init(&o, PR_FORMAT_CSV);
    const char *cols[] = {"c", "a"};
    o.columns = cols;
    o.n_columns = 2;
    o.delimiter = ';';
    o.label_col = "y";
    pr_reader *r = open_text("sel.csv", "a;b;y;c\n1,5;2;1;\"x;y\"\n", &o);
    ASSERT_EQ_INT(pr_reader_n_columns(r), 2);
    ASSERT_EQ_STR(pr_reader_column_name(r, 0), "c");
    ASSERT_EQ_STR(pr_reader_column_name(r, 1), "a");
    pr_record rec;
    EXPECT_NEXT_OK(r, &rec);
    ASSERT_COL(&rec, 0, "x;y");
    ASSERT_COL(&rec, 1, "1,5");
    ASSERT_NEAR(rec.label, 1, 0);
    pr_reader_free(r);

    /* No label column at all, label optional: rows are unlabeled. */
    pr_reader_opts_init(&o, PR_FORMAT_CSV);
    o.label_optional = 1;
    o.delimiter = '\t';
    r = open_text("nolabel.tsv", "a\tb\nx\ty\n", &o);
    EXPECT_NEXT_OK(r, &rec);
    ASSERT_EQ_INT(rec.has_label, 0);
    ASSERT_COL(&rec, 0, "x");
    ASSERT_COL(&rec, 1, "y");
    pr_reader_free(r);

    /* Label column present but empty in a row, label optional. */
    pr_reader_opts_init(&o, PR_FORMAT_CSV);
    o.label_optional = 1;
    r = open_text("emptylabel.csv", "label,a\n,x\n1,y\n", &o);
    EXPECT_NEXT_OK(r, &rec);
    ASSERT_EQ_INT(rec.has_label, 0);
    EXPECT_NEXT_OK(r, &rec);
    ASSERT_EQ_INT(rec.has_label, 1);
    pr_reader_free(r);
}

TEST(csv_open_errors) {
    pr_reader_opts o;
    pr_reader *r = NULL;
    pr_err err;
    pr_reader_opts_init(&o, PR_FORMAT_CSV);
    const char *p = test_path("nolabel.csv");
    test_write_file(p, "a,b\n1,2\n");
    ASSERT_STATUS(pr_reader_open(p, &o, &r, &err), PR_ERR_PARSE);
    ASSERT_TRUE(r == NULL);
    ASSERT_CONTAINS(err.msg, "nolabel.csv:1: label column 'label' is not in the header");

    o.label_col = "a";
    o.weight_col = "wt";
    ASSERT_STATUS(pr_reader_open(p, &o, &r, &err), PR_ERR_PARSE);
    ASSERT_CONTAINS(err.msg, "weight column 'wt'");
    o.weight_col = NULL;
    const char *cols[] = {"zz"};
    o.columns = cols;
    o.n_columns = 1;
    ASSERT_STATUS(pr_reader_open(p, &o, &r, &err), PR_ERR_PARSE);
    ASSERT_CONTAINS(err.msg, "column 'zz' is not in the header");
    o.columns = NULL;
    o.n_columns = 0;
    const char *ign[] = {"q"};
    o.ignore_cols = ign;
    o.n_ignore = 1;
    ASSERT_STATUS(pr_reader_open(p, &o, &r, &err), PR_ERR_PARSE);
    ASSERT_CONTAINS(err.msg, "ignored column 'q'");

    pr_reader_opts_init(&o, PR_FORMAT_CSV);
    p = test_path("empty.csv");
    test_write_file(p, "");
    ASSERT_STATUS(pr_reader_open(p, &o, &r, &err), PR_ERR_PARSE);
    ASSERT_CONTAINS(err.msg, "empty.csv: empty file, expected a header line");

    p = test_path("dup.csv");
    test_write_file(p, "label,a,a\n");
    ASSERT_STATUS(pr_reader_open(p, &o, &r, &err), PR_ERR_PARSE);
    ASSERT_CONTAINS(err.msg, "dup.csv:1:3: duplicate column 'a'");

    p = test_path("openquote.csv");
    test_write_file(p, "label,\"a\n");
    ASSERT_STATUS(pr_reader_open(p, &o, &r, &err), PR_ERR_PARSE);
    ASSERT_CONTAINS(err.msg, "openquote.csv:1:2: header: unterminated quoted field");

    o.delimiter = '"';
    p = test_path("ok.csv");
    test_write_file(p, "label\n1\n");
    ASSERT_STATUS(pr_reader_open(p, &o, &r, &err), PR_ERR_INVALID);
}

TEST(csv_bad_rows) {
    pr_reader_opts o;
    pr_reader_opts_init(&o, PR_FORMAT_CSV);
    o.weight_col = "w";
    o.ts_col = "ts";
    pr_reader *r = open_text("rows.csv",
                             "label,w,ts,x\n"
                             "1,1,5,a\n"            /* 2 ok */
                             "1,1,5\n"              /* 3 too few */
                             "1,1,5,a,b\n"          /* 4 too many */
                             "1,1,5,\"abc\n"        /* 5 unterminated */
                             "1,1,5,\"a\"b\n"       /* 6 junk after quote */
                             "2,1,5,a\n"            /* 7 bad label */
                             "1,-1,5,a\n"           /* 8 negative weight */
                             "1,nan,5,a\n"          /* 9 NaN weight */
                             "1,1,yesterday,a\n"    /* 10 bad ts */
                             "1,1,2024-02-30,a\n"   /* 11 bad date */
                             ",1,5,a\n"             /* 12 missing label */
                             "0,1,5,z\n",           /* 13 ok */
                             &o);
    pr_record rec;
    EXPECT_NEXT_OK(r, &rec);
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_PARSE,
                    "rows.csv:3:4: expected 4 fields (as in the header), found 3");
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_PARSE, "rows.csv:4:5: expected 4 fields");
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_PARSE,
                    "rows.csv:5:4: unterminated quoted field");
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_PARSE,
                    "rows.csv:6:4: expected a delimiter after the closing quote");
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_LABEL,
                    "rows.csv:7:1: column 'label': expected a label 0/1, -1/1 "
                    "or true/false, got '2'");
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_PARSE,
                    "rows.csv:8:2: column 'w': expected a finite number >= 0, got '-1'");
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_PARSE, "rows.csv:9:2: column 'w'");
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_PARSE,
                    "rows.csv:10:3: column 'ts': expected a Unix time");
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_PARSE, "rows.csv:11:3: column 'ts'");
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_LABEL, "rows.csv:12:1: column 'label'");
    EXPECT_NEXT_OK(r, &rec);
    ASSERT_EQ_INT(rec.line, 13);
    ASSERT_COL(&rec, 0, "z");
    EXPECT_EOF(r, &rec);
    pr_reader_free(r);
}

TEST(libsvm_rows) {
    pr_reader_opts o;
    pr_reader_opts_init(&o, PR_FORMAT_LIBSVM);
    pr_reader *r = open_text("d.svm",
                             "1 3:0.5 10:1\n"
                             "-1\t7:-2.25e1  \r\n"
                             "+1\n"
                             "   \n"
                             "0 4294967295:1\n"
                             "2 1:1\n"              /* 6 bad label */
                             "1 1:nan\n"            /* 7 nan */
                             "1 1:inf 2:1\n"        /* 8 inf */
                             "1 1:1e40\n"           /* 9 overflows float */
                             "1 x:1\n"              /* 10 bad index */
                             "1 4294967296:1\n"     /* 11 index too big */
                             "1 5\n"                /* 12 no colon */
                             "1 1:2:3\n"            /* 13 libffm token */
                             "1 -1:2\n"             /* 14 negative index */
                             "0 2:1",
                             &o);
    ASSERT_EQ_INT(pr_reader_n_columns(r), 0);
    pr_record rec;
    EXPECT_NEXT_OK(r, &rec);
    ASSERT_NEAR(rec.label, 1, 0);
    ASSERT_EQ_INT(rec.n_cols, 0);
    ASSERT_EQ_INT(rec.n_feats, 2);
    ASSERT_EQ_INT(rec.feats[0].field, 0);
    ASSERT_EQ_INT(rec.feats[0].index, 3);
    ASSERT_NEAR(rec.feats[0].value, 0.5, 0);
    ASSERT_EQ_INT(rec.feats[1].index, 10);
    EXPECT_NEXT_OK(r, &rec);
    ASSERT_NEAR(rec.label, 0, 0);
    ASSERT_EQ_INT(rec.n_feats, 1);
    ASSERT_NEAR(rec.feats[0].value, -22.5, 1e-6);
    EXPECT_NEXT_OK(r, &rec);
    ASSERT_NEAR(rec.label, 1, 0);
    ASSERT_EQ_INT(rec.n_feats, 0);
    EXPECT_NEXT_OK(r, &rec); /* the blank line 4 was skipped */
    ASSERT_EQ_INT(rec.line, 5);
    ASSERT_EQ_INT(rec.feats[0].index, 4294967295u);
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_LABEL, "d.svm:6:1: label: expected 0/1 or -1/+1, got '2'");
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_PARSE, "d.svm:7:5: value: expected a finite number, got 'nan'");
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_PARSE, "d.svm:8:5: value");
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_PARSE, "d.svm:9:5: value");
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_PARSE, "d.svm:10:3: index: expected a non-negative integer");
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_PARSE, "d.svm:11:3: index");
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_PARSE, "d.svm:12:3: expected 'idx:val', got '5'");
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_PARSE, "d.svm:13:3: expected 'idx:val'");
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_PARSE, "d.svm:14:3: index");
    EXPECT_NEXT_OK(r, &rec);
    ASSERT_EQ_INT(rec.line, 15);
    EXPECT_EOF(r, &rec);
    pr_reader_free(r);

    /* Many features in one row: the feature array grows. */
    text t = {0};
    text_str(&t, "1");
    for (int i = 0; i < 5000; i++) text_fmt(&t, " %d:%d", i, i % 7);
    text_str(&t, "\n3:1\n");
    o.label_optional = 1;
    r = open_text("wide.svm", t.p, &o);
    free(t.p);
    EXPECT_NEXT_OK(r, &rec);
    ASSERT_EQ_INT(rec.n_feats, 5000);
    ASSERT_EQ_INT(rec.feats[4999].index, 4999);
    ASSERT_NEAR(rec.feats[4999].value, 4999 % 7, 0);
    EXPECT_NEXT_OK(r, &rec); /* no label, optional */
    ASSERT_EQ_INT(rec.has_label, 0);
    ASSERT_EQ_INT(rec.n_feats, 1);
    ASSERT_EQ_INT(rec.feats[0].index, 3);
    pr_reader_free(r);
}

TEST(libffm_rows) {
    pr_reader_opts o;
    pr_reader_opts_init(&o, PR_FORMAT_LIBFFM);
    pr_reader *r = open_text("d.ffm",
                             "1 0:3:1 2:17:0.25\r\n"
                             "0 1:2\n"
                             "1 a:1:1\n"
                             "1 1:1:x\n"
                             "1 1:1:1:1\n"
                             "true 1:1:1\n"
                             "-1 4:5:6\n",
                             &o);
    pr_record rec;
    EXPECT_NEXT_OK(r, &rec);
    ASSERT_EQ_INT(rec.n_feats, 2);
    ASSERT_EQ_INT(rec.feats[1].field, 2);
    ASSERT_EQ_INT(rec.feats[1].index, 17);
    ASSERT_NEAR(rec.feats[1].value, 0.25, 0);
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_PARSE, "d.ffm:2:3: expected 'field:idx:val', got '1:2'");
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_PARSE, "d.ffm:3:3: field: expected a non-negative integer");
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_PARSE, "d.ffm:4:7: value: expected a finite number, got 'x'");
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_PARSE, "d.ffm:5:3: expected 'field:idx:val'");
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_LABEL, "d.ffm:6:1: label");
    EXPECT_NEXT_OK(r, &rec);
    ASSERT_NEAR(rec.label, 0, 0);
    ASSERT_EQ_INT(rec.feats[0].field, 4);
    ASSERT_EQ_INT(rec.feats[0].index, 5);
    ASSERT_NEAR(rec.feats[0].value, 6, 0);
    EXPECT_EOF(r, &rec);
    pr_reader_free(r);
}

TEST(jsonl_rows) {
    pr_reader_opts o;
    pr_reader_opts_init(&o, PR_FORMAT_JSONL);
    const char *cols[] = {"ad", "context.device", "price", "n", "flag", "gone", "a.b"};
    o.columns = cols;
    o.n_columns = 7;
    o.label_col = "click";
    o.weight_col = "w";
    o.ts_col = "t";
    pr_reader *r = open_text(
        "e.jsonl",
        "{\"click\":1,\"ad\":\"a\\u00e9\\\"1\",\"context\":{\"device\":\"ios\"},"
        "\"price\":0.1,\"n\":-42,\"flag\":true,\"gone\":null,\"a.b\":\"lit\","
        "\"w\":2,\"t\":1700000000}\r\n"
        "\n"
        "  \t \n"
        "{\"click\":false,\"price\":3.0,\"n\":12345678901234,\"flag\":false,"
        "\"price2\":1,\"t\":\"2024-01-02T03:04:05Z\",\"a\":{\"b\":7}}\n"
        "{\"click\":true,\"price\":1e300,\"context\":{\"device\":{\"x\":1}}}\n" /* 4: object value */
        "{\"click\":2}\n"                                        /* 5 bad label */
        "{\"ad\":\"x\"}\n"                                       /* 6 missing label */
        "[1,2]\n"                                                /* 7 not an object */
        "{\"click\":1,\"ad\":}\n"                                /* 8 invalid JSON */
        "{\"click\":1,\"w\":-1}\n"                               /* 9 bad weight */
        "{\"click\":1,\"t\":\"noon\"}\n"                         /* 10 bad ts */
        "{\"click\":0.0,\"price\":0.30000000000000004,\"t\":1.9}", /* 11 ok */
        &o);
    ASSERT_EQ_INT(pr_reader_n_columns(r), 7);
    ASSERT_EQ_STR(pr_reader_column_name(r, 1), "context.device");
    pr_record rec;
    EXPECT_NEXT_OK(r, &rec);
    ASSERT_NEAR(rec.label, 1, 0);
    ASSERT_NEAR(rec.weight, 2, 0);
    ASSERT_EQ_INT(rec.ts, 1700000000);
    ASSERT_COL(&rec, 0, "a\xc3\xa9\"1");
    ASSERT_COL(&rec, 1, "ios");
    ASSERT_COL(&rec, 2, "0.1");
    ASSERT_COL(&rec, 3, "-42");
    ASSERT_COL(&rec, 4, "true");
    ASSERT_COL(&rec, 5, "");
    ASSERT_COL(&rec, 6, "lit");  /* the literal dotted key wins */
    EXPECT_NEXT_OK(r, &rec);
    ASSERT_EQ_INT(rec.line, 4);
    ASSERT_NEAR(rec.label, 0, 0);
    ASSERT_EQ_INT(rec.ts, 1704164645);
    ASSERT_COL(&rec, 0, "");
    ASSERT_COL(&rec, 1, "");
    ASSERT_COL(&rec, 2, "3");
    ASSERT_COL(&rec, 3, "12345678901234");
    ASSERT_COL(&rec, 4, "false");
    ASSERT_COL(&rec, 6, "7");    /* nested path a -> b */
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_PARSE,
                    "e.jsonl:5: key 'context.device': expected a string, number, "
                    "boolean or null, got an object {\"x\":1}");
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_LABEL,
                    "e.jsonl:6: key 'click': expected 0/1 or true/false, got an integer 2");
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_LABEL, "e.jsonl:7: key 'click': missing label");
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_PARSE, "e.jsonl:8:1: expected a JSON object, got an array");
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_PARSE, "e.jsonl:9:17: invalid JSON: ");
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_PARSE, "e.jsonl:10: key 'w': expected a finite number >= 0");
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_PARSE, "e.jsonl:11: key 't'");
    EXPECT_NEXT_OK(r, &rec);
    ASSERT_COL(&rec, 2, "0.30000000000000004");
    ASSERT_EQ_INT(rec.ts, 1);
    EXPECT_EOF(r, &rec);
    pr_reader_free(r);

    /* Strings keep escaped NUL bytes: values are (pointer, length). */
    const char *one[] = {"s"};
    o.columns = one;
    o.n_columns = 1;
    o.label_optional = 1;
    r = open_text("nul.jsonl", "{\"s\":\"a\\u0000b\"}\n", &o);
    EXPECT_NEXT_OK(r, &rec);
    ASSERT_EQ_INT(rec.has_label, 0);
    ASSERT_EQ_INT(rec.cols[0].len, 3);
    ASSERT_TRUE(memcmp(rec.cols[0].ptr, "a\0b", 3) == 0);
    pr_reader_free(r);

    /* jsonl without columns is refused at open. */
    pr_err err;
    pr_reader_opts_init(&o, PR_FORMAT_JSONL);
    ASSERT_STATUS(pr_reader_open_mem("{}", 2, "x.jsonl", &o, &r, &err),
                  PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "columns");
}

/* ------------------------------------------------------------ input paths */

TEST(zstd_equals_plain) {
    pr_reader_opts o;
    pr_reader_opts_init(&o, PR_FORMAT_CRITEO);
    text t = {0};
    for (int i = 0; i < 20000; i++) {
        if (i % 997 == 5) text_str(&t, "garbage line\n");
        text_fmt(&t, "%d\t%d\t\t%d", i & 1, i, -i);
        for (int k = 0; k < 10; k++) text_fmt(&t, "\t%d", i * k % 1000);
        for (int k = 0; k < 26; k++) text_fmt(&t, "\t%08x", (unsigned)(i * 2654435761u + k));
        text_str(&t, "\n");
    }
    const char *plain = test_path("z.tsv");
    write_bytes(plain, t.p, t.len);
    const char *zst = test_path("z.tsv.zst");
    zstd_file(zst, t.p, t.len, 3);                 /* three frames */
    const char *noext = test_path("z-compressed.tsv");
    zstd_file(noext, t.p, t.len, 1);                /* magic, no .zst name */

    char *a = dump_file(plain, &o);
    char *b = dump_file(zst, &o);
    char *c = dump_file(noext, &o);
    char *d = dump_mem_limits(t.p, t.len, plain, &o, 0, 0);
    ASSERT_TRUE(strlen(a) > 1000000);
    ASSERT_TRUE(strstr(a, "\nERR PR_ERR_PARSE :6:2: expected 40 tab-separated "
                          "columns, found 1\n") != NULL);
    /* Names differ, and dump_one strips each reader's own name. */
    ASSERT_TRUE(strcmp(a, b) == 0);
    ASSERT_TRUE(strcmp(a, c) == 0);
    ASSERT_TRUE(strcmp(a, d) == 0);

    pr_err err;
    pr_reader *r;
    ASSERT_OK(pr_reader_open(zst, &o, &r, &err));
    ASSERT_TRUE(pr_reader_size(r) > 0);
    pr_record rec;
    while (pr_reader_next(r, &rec, &err) != PR_EOF) {}
    ASSERT_EQ_INT(pr_reader_bytes_read(r), pr_reader_size(r));
    ASSERT_EQ_INT(pr_reader_bytes_decoded(r), t.len);
    ASSERT_TRUE(pr_reader_bytes_read(r) < t.len / 2);
    pr_reader_free(r);
    free(a);
    free(b);
    free(c);
    free(d);
    free(t.p);
}

TEST(zstd_errors) {
    pr_reader_opts o;
    pr_reader_opts_init(&o, PR_FORMAT_LIBSVM);
    pr_err err;
    pr_reader *r;
    const char *text_data = "1 1:1\n0 2:1\n1 3:1\n";
    size_t n = strlen(text_data);
    size_t bound = ZSTD_compressBound(n);
    char *z = malloc(bound);
    size_t zn = ZSTD_compress(z, bound, text_data, n, 1);
    ASSERT_TRUE(!ZSTD_isError(zn));

    /* Truncated: the stream ends inside the frame; sticky. */
    const char *p = test_path("trunc.svm.zst");
    write_bytes(p, z, zn - 3);
    ASSERT_OK(pr_reader_open(p, &o, &r, &err));
    pr_record rec;
    pr_status st;
    while ((st = pr_reader_next(r, &rec, &err)) == PR_OK) {}
    ASSERT_EQ_INT(st, PR_ERR_TRUNCATED);
    ASSERT_CONTAINS(err.msg, "trunc.svm.zst: truncated zstd stream");
    ASSERT_EQ_INT(pr_reader_next(r, &rec, &err), PR_ERR_TRUNCATED);
    pr_reader_free(r);

    /* Corrupt: set the reserved bit of the frame header descriptor (frames
     * carry no checksum by default, so damaged literals could go unseen). */
    z[4] |= 0x08;
    p = test_path("corrupt.svm.zst");
    write_bytes(p, z, zn);
    ASSERT_OK(pr_reader_open(p, &o, &r, &err));
    while ((st = pr_reader_next(r, &rec, &err)) == PR_OK) {}
    ASSERT_EQ_INT(st, PR_ERR_FORMAT);
    ASSERT_CONTAINS(err.msg, "corrupt.svm.zst: corrupt zstd data: ");
    ASSERT_EQ_INT(pr_reader_next(r, &rec, &err), st);
    pr_reader_free(r);

    /* .zst name without zstd data. */
    p = test_path("plain.svm.zst");
    test_write_file(p, text_data);
    ASSERT_STATUS(pr_reader_open(p, &o, &r, &err), PR_ERR_FORMAT);
    ASSERT_CONTAINS(err.msg, "plain.svm.zst: name ends in .zst but the data is not zstd");

    /* An empty .zst frame stream is an empty file. */
    p = test_path("empty.svm.zst");
    zstd_file(p, "", 0, 1);
    ASSERT_OK(pr_reader_open(p, &o, &r, &err));
    ASSERT_EQ_INT(pr_reader_next(r, &rec, &err), PR_EOF);
    pr_reader_free(r);
    free(z);
}

TEST(open_errors) {
    pr_reader_opts o;
    pr_reader_opts_init(&o, PR_FORMAT_CRITEO);
    pr_err err;
    pr_reader *r = (pr_reader *)&o; /* must be reset to NULL */
    ASSERT_STATUS(pr_reader_open(test_path("missing.tsv"), &o, &r, &err), PR_ERR_IO);
    ASSERT_TRUE(r == NULL);
    ASSERT_CONTAINS(err.msg, "missing.tsv: cannot open: No such file or directory");
    ASSERT_STATUS(pr_reader_open(test_tmpdir(), &o, &r, &err), PR_ERR_IO);
    ASSERT_CONTAINS(err.msg, "is a directory");
    o.format = (pr_format)42;
    ASSERT_STATUS(pr_reader_open_mem("", 0, "m", &o, &r, &err), PR_ERR_INVALID);
    ASSERT_STATUS(pr_reader_open_mem("", 0, "m", NULL, &r, &err), PR_ERR_INVALID);
    pr_reader_free(NULL);
}

/* Line sharding (train --mpi): shards 0..2 of 3 of a CSV file read every
 * data row exactly once, row i in shard i mod 3, the header in each, empty
 * lines not counted; shard_index >= shard_count is refused. */
TEST(shards_partition_rows) {
    const char *csv = "label,a\n1,r0\n0,r1\n\n1,r2\n0,r3\n1,r4\n0,r5\n1,r6\n";
    char seen[8] = {0};
    pr_err err;
    for (uint32_t k = 0; k < 3; k++) {
        pr_reader_opts o;
        pr_reader_opts_init(&o, PR_FORMAT_CSV);
        o.shard_count = 3;
        o.shard_index = k;
        pr_reader *r = NULL;
        ASSERT_OK(pr_reader_open_mem(csv, strlen(csv), "s.csv", &o, &r, &err));
        ASSERT_EQ_INT(pr_reader_n_columns(r), 1);
        pr_record rec;
        pr_status st;
        while ((st = pr_reader_next(r, &rec, &err)) == PR_OK) {
            ASSERT_EQ_INT(rec.n_cols, 1);
            int row = rec.cols[0].ptr[1] - '0';
            ASSERT_EQ_INT(row % 3, (int)k);
            ASSERT_EQ_INT(seen[row], 0);
            seen[row] = 1;
        }
        ASSERT_EQ_INT(st, PR_EOF);
        pr_reader_free(r);
    }
    for (int i = 0; i < 7; i++) ASSERT_EQ_INT(seen[i], 1);
    pr_reader_opts o;
    pr_reader_opts_init(&o, PR_FORMAT_CRITEO);
    o.shard_count = 2;
    o.shard_index = 2;
    pr_reader *r = NULL;
    ASSERT_STATUS(pr_reader_open_mem("", 0, "m", &o, &r, &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "shard 2 of 2");
}

/* Rows of about 700 KB in a 2 MiB buffer: each refill leaves a partial line
 * that must be carried over; one 1.5 MiB line in the middle is refused. */
TEST(long_lines_cross_buffers) {
    pr_reader_opts o;
    pr_reader_opts_init(&o, PR_FORMAT_CRITEO);
    text t = {0};
    const int rows = 12;
    for (int i = 0; i < rows; i++) {
        size_t width = i == 6 ? 1500000 : 650000 + (size_t)i * 7919;
        text_fmt(&t, "%d\t%d", i & 1, i);
        for (int k = 0; k < 12; k++) text_str(&t, "\t1");
        text_fmt(&t, "\tstart%d_", i);
        size_t before = t.len;
        while (t.len - before < width) text_str(&t, "abcdefghijklmnopqrstuvwxyz0123456789");
        for (int k = 1; k < 26; k++) text_fmt(&t, "\tc%d", k);
        text_str(&t, "\n");
    }
    /* Exactly at the limit is accepted, one byte more is not. */
    size_t lim_start = t.len;
    text_str(&t, "0");
    for (int k = 0; k < 38; k++) text_str(&t, "\t");
    while (t.len - lim_start < PR__READER_MAX_LINE - 1) text_str(&t, "x");
    text_str(&t, "\t\n");
    ASSERT_EQ_INT(t.len - lim_start, PR__READER_MAX_LINE + 1);
    lim_start = t.len;
    text_str(&t, "0");
    for (int k = 0; k < 39; k++) text_str(&t, "\t");
    while (t.len - lim_start < PR__READER_MAX_LINE + 1) text_str(&t, "y");
    text_str(&t, "\n1\t");
    for (int k = 0; k < 38; k++) text_str(&t, "\t");
    text_str(&t, "tail");  /* last line, no newline */
    const char *p = test_path("long.tsv");
    write_bytes(p, t.p, t.len);
    ASSERT_TRUE(t.len > 3 * PR__READER_BUF_CAP);

    pr_err err;
    pr_reader *r;
    ASSERT_OK(pr_reader_open(p, &o, &r, &err));
    pr_record rec;
    for (int i = 0; i < rows; i++) {
        if (i == 6) {
            EXPECT_NEXT_ERR(r, &rec, PR_ERR_LIMIT,
                            "long.tsv:7: line longer than 1048576 bytes; skipped");
            continue;
        }
        EXPECT_NEXT_OK(r, &rec);
        ASSERT_EQ_INT(rec.line, i + 1);
        char want[32];
        snprintf(want, sizeof want, "%d", i);
        ASSERT_COL(&rec, 0, want);
        snprintf(want, sizeof want, "start%d_", i);
        ASSERT_TRUE(rec.cols[13].len >= 650000);
        ASSERT_TRUE(memcmp(rec.cols[13].ptr, want, strlen(want)) == 0);
        ASSERT_COL(&rec, 38, "c25");
    }
    EXPECT_NEXT_OK(r, &rec);
    ASSERT_EQ_INT(rec.line, rows + 1);
    ASSERT_EQ_INT(rec.cols[37].len, PR__READER_MAX_LINE - 40);
    EXPECT_NEXT_ERR(r, &rec, PR_ERR_LIMIT, "long.tsv:14:");
    EXPECT_NEXT_OK(r, &rec);
    ASSERT_EQ_INT(rec.line, rows + 3);
    ASSERT_COL(&rec, 38, "tail");
    EXPECT_EOF(r, &rec);
    pr_reader_free(r);
    free(t.p);
}

/* The same inputs through tiny buffers (lines always straddle refills, and
 * the limit is hit often) must give the same records and errors as through
 * the default buffer, as long as no line exceeds the small limit. */
TEST(tiny_buffers_match) {
    static const struct {
        pr_format f;
        const char *data;
    } cases[] = {
        {PR_FORMAT_LIBSVM, "1 1:1 2:2\r\n\n0 3:0.5\n-1 7:1 8:1 9:1\nbad\n1 2:3"},
        {PR_FORMAT_LIBFFM, "1 0:1:1 1:2:2\n0 2:3:4\r\n\r\n1 a:b:c\n0 5:5:5\n"},
        {PR_FORMAT_CSV, "label,a,b\n1,\"x,y\",z\r\n0,\"q\"\"q\",\n1,2\n0,,\"\"\n"},
        {PR_FORMAT_JSONL, "{\"label\":1,\"a\":\"x\"}\n\n{\"label\":0,\"b\":2.5}\n{bad\n"},
    };
    const char *cols[] = {"a", "b"};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        pr_reader_opts o;
        pr_reader_opts_init(&o, cases[c].f);
        if (cases[c].f == PR_FORMAT_JSONL) {
            o.columns = cols;
            o.n_columns = 2;
        }
        size_t n = strlen(cases[c].data);
        char *want = dump_mem_limits(cases[c].data, n, "m", &o, 0, 0);
        for (size_t cap = 34; cap < 45; cap++) {
            char *got = dump_mem_limits(cases[c].data, n, "m", &o, cap, 32);
            if (strcmp(want, got) != 0)
                TEST_FAIL("case %zu cap %zu:\n%s\nvs\n%s", c, cap, want, got);
            free(got);
        }
        free(want);
    }
    /* A small limit really limits, and the reader goes on after. */
    pr_reader_opts o;
    pr_reader_opts_init(&o, PR_FORMAT_LIBSVM);
    const char *d = "1 1:1\n1 1:1 2:2 3:3 4:4 5:5 6:6 7:7 8:8\n0 2:2\n";
    char *got = dump_mem_limits(d, strlen(d), "m", &o, 20, 16);
    ASSERT_EQ_STR(got, "1: y=1 h=1 w=1 ts=0 || 0:1:1\n"
                       "ERR PR_ERR_LIMIT :2: line longer than 16 bytes; skipped\n"
                       "3: y=0 h=1 w=1 ts=0 || 0:2:2\n");
    free(got);
}

TEST(stdin_in_child) {
    const char *p = test_path("stdin.svm");
    test_write_file(p, "1 5:1\n0 6:2\n");
    fflush(NULL);
    pid_t pid = fork();
    ASSERT_TRUE(pid >= 0);
    if (pid == 0) {
        int fd = open(p, O_RDONLY);
        if (fd < 0 || dup2(fd, 0) < 0) _exit(10);
        pr_reader_opts o;
        pr_reader_opts_init(&o, PR_FORMAT_LIBSVM);
        pr_err err;
        pr_reader *r;
        if (pr_reader_open("-", &o, &r, &err) != PR_OK) _exit(11);
        if (pr_reader_size(r) != -1) _exit(12);
        pr_record rec;
        if (pr_reader_next(r, &rec, &err) != PR_OK || rec.feats[0].index != 5 ||
            strcmp(rec.file, "<stdin>") != 0)
            _exit(13);
        if (pr_reader_next(r, &rec, &err) != PR_OK || rec.feats[0].value != 2)
            _exit(14);
        if (pr_reader_next(r, &rec, &err) != PR_EOF) _exit(15);
        pr_reader_free(r);
        _exit(0);
    }
    int status = 0;
    ASSERT_TRUE(waitpid(pid, &status, 0) == pid);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ_INT(WEXITSTATUS(status), 0);
}

TEST(value_parsers) {
    int64_t ts;
    ASSERT_EQ_INT(pr__parse_ts("2024-01-02T03:04:05Z", 20, &ts), 0);
    ASSERT_EQ_INT(ts, 1704164645);
    ASSERT_EQ_INT(pr__parse_ts("2024-01-02 03:04:05.250-0130", 28, &ts), 0);
    ASSERT_EQ_INT(ts, 1704164645 + 5400);
    ASSERT_EQ_INT(pr__parse_ts("1970-01-01", 10, &ts), 0);
    ASSERT_EQ_INT(ts, 0);
    ASSERT_EQ_INT(pr__parse_ts("2000-02-29T00:00:00Z", 20, &ts), 0);
    ASSERT_EQ_INT(ts, 951782400);
    ASSERT_EQ_INT(pr__parse_ts("1900-02-29", 10, &ts), -1);
    ASSERT_EQ_INT(pr__parse_ts("2024-13-01", 10, &ts), -1);
    ASSERT_EQ_INT(pr__parse_ts("2024-01-02T25:00:00Z", 20, &ts), -1);
    ASSERT_EQ_INT(pr__parse_ts("-5", 2, &ts), 0);
    ASSERT_EQ_INT(ts, -5);
    int64_t v;
    ASSERT_EQ_INT(pr__parse_int64("-9223372036854775808", 20, &v), 0);
    ASSERT_TRUE(v == INT64_MIN);
    ASSERT_EQ_INT(pr__parse_int64("9223372036854775807", 19, &v), 0);
    ASSERT_TRUE(v == INT64_MAX);
    ASSERT_EQ_INT(pr__parse_int64("9223372036854775808", 19, &v), -1);
    ASSERT_EQ_INT(pr__check_int64("-", 1), -1);
    ASSERT_EQ_INT(pr__check_int64("123456789012345678", 18), 0);
    float f;
    ASSERT_EQ_INT(pr__parse_float(" 1", 2, &f), -1);
    ASSERT_EQ_INT(pr__parse_float("1 ", 2, &f), -1);
    ASSERT_EQ_INT(pr__parse_float("-inf", 4, &f), -1);
    ASSERT_EQ_INT(pr__parse_float("3.5e2", 5, &f), 0);
    ASSERT_NEAR(f, 350, 0);
    float y;
    ASSERT_EQ_INT(pr__parse_label("1.0", 3, 0, &y), 0);
    ASSERT_NEAR(y, 1, 0);
    ASSERT_EQ_INT(pr__parse_label("true", 4, 0, &y), -1);
    ASSERT_EQ_INT(pr__parse_label("0.5", 3, 1, &y), -1);
}

int main(void) {
    RUN(format_names);
    RUN(criteo_good_rows);
    RUN(criteo_bad_rows_and_recovery);
    RUN(criteo_label_optional);
    RUN(csv_good_rows);
    RUN(csv_selection_delimiter_label_optional);
    RUN(csv_open_errors);
    RUN(csv_bad_rows);
    RUN(libsvm_rows);
    RUN(libffm_rows);
    RUN(jsonl_rows);
    RUN(zstd_equals_plain);
    RUN(zstd_errors);
    RUN(open_errors);
    RUN(shards_partition_rows);
    RUN(long_lines_cross_buffers);
    RUN(tiny_buffers_match);
    RUN(stdin_in_child);
    RUN(value_parsers);
    TEST_MAIN_END();
}
