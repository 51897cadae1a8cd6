/*
 * test_log.c: the event log (pronto/log.h) on real files in a temporary
 * directory: round trips across rotations, reading from a time and after a
 * saved position, the fsync policies (group commit with several threads),
 * torn and corrupt tails cut at every byte, read-only opens that cut
 * nothing, retention, refused URIs and format versions, corruption inside
 * a closed segment, a reader tailing a live writer, and kill -9 of a child
 * appending with fsync=always and with fsync=batch.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "pronto/log.h"
#include "test.h"

static char uri_buf[8][700];
static int uri_slot;
static const char *uri_of(const char *dir, const char *opts) {
    char *b = uri_buf[uri_slot++ & 7];
    snprintf(b, 700, "log:%s%s%s", dir, opts && *opts ? "?" : "", opts ? opts : "");
    return b;
}

static pr_log_entry entry(uint32_t type, int64_t ts, const char *text) {
    pr_log_entry e = {type, ts, pr_bytes_of(text, strlen(text))};
    return e;
}

/* Appends records "r<i>" with ts = i * 10, i in [from, to). */
static void append_range(pr_event_log *log, int from, int to, pr_log_pos *pos) {
    pr_err err;
    for (int i = from; i < to; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "r%d-%040d", i, i);
        pr_log_entry e = entry((uint32_t)(i % 3), (int64_t)i * 10, buf);
        ASSERT_OK(pr_log_append(log, &e, 1, pos ? &pos[i] : NULL, &err));
    }
}

/* Reads the whole log from start; checks record i is "r<i>"; returns count. */
static int read_all_check(pr_event_log *log, int first) {
    pr_err err;
    pr_log_reader *r;
    ASSERT_OK(pr_log_reader_open(log, NULL, &r, &err));
    pr_log_record rec;
    int i = first;
    pr_status st;
    while ((st = pr_log_next(r, &rec, &err)) == PR_OK) {
        char want[64];
        snprintf(want, sizeof want, "r%d-%040d", i, i);
        if (rec.payload.len != strlen(want) || memcmp(rec.payload.ptr, want, rec.payload.len))
            TEST_FAIL("record %d: got '%.*s'", i, (int)rec.payload.len, rec.payload.ptr);
        ASSERT_EQ_INT(rec.ts_ms, (int64_t)i * 10);
        ASSERT_EQ_INT(rec.type, i % 3);
        i++;
    }
    ASSERT_EQ_INT(st, PR_EOF);
    pr_log_reader_close(r);
    return i - first;
}

static const char *fresh_dir(const char *name) {
    const char *d = test_path(name);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    if (system(cmd) != 0) TEST_FAIL("rm");
    return d;
}

static long file_size(const char *path) {
    struct stat sb;
    if (stat(path, &sb) != 0) return -1;
    return (long)sb.st_size;
}

TEST(round_trip_rotations) {
    const char *d = fresh_dir("rt");
    pr_err err;
    pr_event_log *log;
    ASSERT_OK(pr_log_open(uri_of(d, "fsync=off&segment_bytes=4096&index_bytes=256"), PR_LOG_WRITE,
                          &log, &err));
    ASSERT_EQ_STR(pr_log_backend(log), "log");
    static pr_log_pos pos[2000];
    append_range(log, 0, 1000, pos);
    for (int i = 1; i < 1000; i++) ASSERT_TRUE(pr_log_pos_cmp(pos[i - 1], pos[i]) < 0);
    pr_log_stats s;
    pr_log_stats_get(log, &s);
    ASSERT_EQ_INT(s.records, 1000);
    ASSERT_TRUE(s.segments > 10);
    ASSERT_EQ_INT(s.min_ts_ms, 0);
    ASSERT_EQ_INT(s.max_ts_ms, 9990);
    ASSERT_EQ_INT(s.torn_cuts, 0);
    ASSERT_EQ_INT(read_all_check(log, 0), 1000);
    /* a batch append: one write, position of the last */
    pr_log_entry batch[3] = {entry(1, 10000, "r1000-0000000000000000000000000000000000001000"),
                             entry(2, 10010, "r1001-0000000000000000000000000000000000001001"),
                             entry(0, 10020, "r1002-0000000000000000000000000000000000001002")};
    pr_log_pos last;
    ASSERT_OK(pr_log_append(log, batch, 3, &last, &err));
    ASSERT_TRUE(pr_log_pos_cmp(pos[999], last) < 0);
    pr_log_close(log);
    /* reopen (closed segments' indexes are read back), append more */
    ASSERT_OK(pr_log_open(uri_of(d, "fsync=off&segment_bytes=4096&index_bytes=256"), PR_LOG_WRITE,
                          &log, &err));
    pr_log_stats_get(log, &s);
    ASSERT_EQ_INT(s.records, 1003);
    append_range(log, 1003, 1200, NULL);
    ASSERT_EQ_INT(read_all_check(log, 0), 1200);
    /* a second writer is refused while this one is open */
    pr_event_log *two;
    ASSERT_STATUS(pr_log_open(uri_of(d, NULL), PR_LOG_WRITE, &two, &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "open for writing");
    /* a read-only open sees the same, in parallel */
    pr_event_log *ro;
    ASSERT_OK(pr_log_open(uri_of(d, NULL), PR_LOG_READ, &ro, &err));
    ASSERT_EQ_INT(read_all_check(ro, 0), 1200);
    pr_log_entry e = entry(0, 0, "x");
    ASSERT_STATUS(pr_log_append(ro, &e, 1, NULL, &err), PR_ERR_INVALID);
    /* tail: a reader at the end sees what is appended later, also in new segments */
    pr_log_reader *r;
    ASSERT_OK(pr_log_reader_open(ro, NULL, &r, &err));
    pr_log_record rec;
    int n = 0;
    while (pr_log_next(r, &rec, &err) == PR_OK) n++;
    ASSERT_EQ_INT(n, 1200);
    append_range(log, 1200, 1300, NULL);
    while (pr_log_next(r, &rec, &err) == PR_OK) n++;
    ASSERT_EQ_INT(n, 1300);
    pr_log_reader_close(r);
    pr_log_close(ro);
    pr_log_close(log);
}

TEST(read_from_time_and_position) {
    const char *d = fresh_dir("seek");
    pr_err err;
    pr_event_log *log;
    ASSERT_OK(pr_log_open(uri_of(d, "fsync=off&segment_bytes=8192&index_bytes=512"), PR_LOG_WRITE,
                          &log, &err));
    static pr_log_pos pos[3000];
    append_range(log, 0, 3000, pos);
    for (int pass = 0; pass < 2; pass++) {
        int64_t froms[] = {0, 5, 10, 12345, 15000, 29990, 29991, -5};
        for (size_t k = 0; k < sizeof froms / sizeof *froms; k++) {
            pr_log_start st = {.kind = PR_LOG_FROM_TIME, .from_ms = froms[k]};
            pr_log_reader *r;
            ASSERT_OK(pr_log_reader_open(log, &st, &r, &err));
            pr_log_record rec;
            int64_t want = froms[k] <= 0 ? 0 : (froms[k] + 9) / 10 * 10;
            int n = 0;
            pr_status s;
            while ((s = pr_log_next(r, &rec, &err)) == PR_OK) {
                ASSERT_EQ_INT(rec.ts_ms, want);
                want += 10;
                n++;
            }
            ASSERT_EQ_INT(s, PR_EOF);
            ASSERT_EQ_INT(want, 30000);
            pr_log_reader_close(r);
        }
        /* after a saved position, printed and parsed back */
        int idx[] = {0, 1, 77, 1500, 2998, 2999};
        for (size_t k = 0; k < sizeof idx / sizeof *idx; k++) {
            char text[PR_LOG_POS_TEXT_MAX];
            pr_log_pos_format(log, pos[idx[k]], text, sizeof text);
            pr_log_pos p;
            ASSERT_OK(pr_log_pos_parse(log, text, &p, &err));
            ASSERT_EQ_INT(pr_log_pos_cmp(p, pos[idx[k]]), 0);
            pr_log_start st = {.kind = PR_LOG_AFTER_POS, .after = p};
            pr_log_reader *r;
            ASSERT_OK(pr_log_reader_open(log, &st, &r, &err));
            ASSERT_EQ_INT(pr_log_reader_skipped(r), 0);
            pr_log_record rec;
            if (idx[k] == 2999) {
                ASSERT_EQ_INT(pr_log_next(r, &rec, &err), PR_EOF);
            } else {
                ASSERT_OK(pr_log_next(r, &rec, &err));
                ASSERT_EQ_INT(rec.ts_ms, (int64_t)(idx[k] + 1) * 10);
                ASSERT_EQ_INT(pr_log_pos_cmp(rec.pos, pos[idx[k] + 1]), 0);
            }
            pr_log_reader_close(r);
        }
        pr_log_close(log);
        /* second pass: reopened read-only, the indexes come from the .idx files */
        ASSERT_OK(pr_log_open(uri_of(d, NULL), PR_LOG_READ, &log, &err));
    }
    /* a position that is not a record boundary, and text that is not one */
    pr_log_pos bad = pos[10];
    bad.a += 3;
    pr_log_start st = {.kind = PR_LOG_AFTER_POS, .after = bad};
    pr_log_reader *r;
    ASSERT_STATUS(pr_log_reader_open(log, &st, &r, &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "is not a record");
    pr_log_pos p;
    ASSERT_STATUS(pr_log_pos_parse(log, "12x", &p, &err), PR_ERR_PARSE);
    ASSERT_STATUS(pr_log_pos_parse(log, "", &p, &err), PR_ERR_PARSE);
    ASSERT_STATUS(pr_log_pos_parse(log, "99999999999999999999", &p, &err), PR_ERR_PARSE);
    pr_log_close(log);
}

typedef struct th_arg {
    pr_event_log *log;
    int id, n;
    pr_log_pos *pos;
} th_arg;

static void *appender(void *p) {
    th_arg *a = p;
    pr_err err;
    for (int i = 0; i < a->n; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "t%d-%d", a->id, i);
        pr_log_entry e = entry((uint32_t)a->id, i, buf);
        if (a->id % 2) { /* odd threads: write, then wait for durability */
            if (pr_log_append_nowait(a->log, &e, 1, &a->pos[i], &err) != PR_OK ||
                pr_log_sync(a->log, a->pos[i], &err) != PR_OK)
                TEST_FAIL("append_nowait + sync: %s", err.msg);
        } else if (pr_log_append(a->log, &e, 1, &a->pos[i], &err) != PR_OK) {
            TEST_FAIL("append: %s", err.msg);
        }
    }
    return NULL;
}

TEST(fsync_policies) {
    const char *policies[] = {"fsync=always", "fsync=batch:5", "fsync=off"};
    for (int k = 0; k < 3; k++) {
        const char *d = fresh_dir("fsync");
        char opts[128];
        snprintf(opts, sizeof opts, "%s&segment_bytes=16384", policies[k]);
        pr_err err;
        pr_event_log *log;
        ASSERT_OK(pr_log_open(uri_of(d, opts), PR_LOG_WRITE, &log, &err));
        enum { T = 4, N = 150 };
        static pr_log_pos pos[T][N];
        th_arg args[T];
        pthread_t th[T];
        for (int t = 0; t < T; t++) {
            args[t] = (th_arg){log, t, N, pos[t]};
            pthread_create(&th[t], NULL, appender, &args[t]);
        }
        for (int t = 0; t < T; t++) pthread_join(th[t], NULL);
        pr_log_stats s;
        pr_log_stats_get(log, &s);
        ASSERT_EQ_INT(s.appended, T * N);
        if (k == 0) ASSERT_TRUE(s.fsyncs >= T / 2 * N); /* even threads: one per append */
        if (k == 1) ASSERT_TRUE(s.fsyncs >= 1);
        /* each thread's acknowledged positions grow */
        for (int t = 0; t < T; t++)
            for (int i = 0; i + 1 < N; i++)
                ASSERT_TRUE(pr_log_pos_cmp(pos[t][i], pos[t][i + 1]) < 0);
        pr_log_close(log);
        ASSERT_OK(pr_log_open(uri_of(d, NULL), PR_LOG_READ, &log, &err));
        pr_log_reader *r;
        ASSERT_OK(pr_log_reader_open(log, NULL, &r, &err));
        int next[T] = {0};
        pr_log_record rec;
        int total = 0;
        while (pr_log_next(r, &rec, &err) == PR_OK) {
            int t = (int)rec.type;
            ASSERT_TRUE(t >= 0 && t < T);
            char want[64];
            snprintf(want, sizeof want, "t%d-%d", t, next[t]);
            ASSERT_TRUE(rec.payload.len == strlen(want) &&
                        !memcmp(rec.payload.ptr, want, rec.payload.len));
            ASSERT_EQ_INT(pr_log_pos_cmp(rec.pos, pos[t][next[t]]), 0);
            next[t]++;
            total++;
        }
        ASSERT_EQ_INT(total, T * N);
        pr_log_reader_close(r);
        pr_log_close(log);
    }
}

/* pr_log_append_nowait writes without the policy's fsync; pr_log_sync
 * then runs it (once: a second sync of a synced position is free). */
TEST(append_nowait_then_sync) {
    const char *policies[] = {"fsync=always", "fsync=batch:5", "fsync=off"};
    for (int k = 0; k < 3; k++) {
        const char *d = fresh_dir("nowait");
        pr_err err;
        pr_event_log *log;
        ASSERT_OK(pr_log_open(uri_of(d, policies[k]), PR_LOG_WRITE, &log, &err));
        pr_log_entry e[3] = {entry(1, 10, "a"), entry(1, 11, "bb"), entry(1, 12, "ccc")};
        pr_log_pos last, last2;
        pr_log_stats s0, s1, s2, s3;
        pr_log_stats_get(log, &s0);
        ASSERT_OK(pr_log_append_nowait(log, e, 2, &last, &err));
        pr_log_stats_get(log, &s1);
        ASSERT_EQ_INT(s1.appended, 2);
        /* batch:5's flusher may sync on its own timer at any moment, so
         * its counts are bounds; always and off are exact */
        if (k != 1) ASSERT_EQ_INT(s1.fsyncs, s0.fsyncs); /* written, not synced */
        ASSERT_OK(pr_log_append_nowait(log, e + 2, 1, &last2, &err));
        ASSERT_TRUE(pr_log_pos_cmp(last, last2) < 0);
        ASSERT_OK(pr_log_sync(log, last, &err));
        pr_log_stats_get(log, &s2);
        if (k == 0) ASSERT_EQ_INT(s2.fsyncs, s1.fsyncs + 1);
        else if (k == 1) ASSERT_TRUE(s2.fsyncs >= s0.fsyncs + 1);
        else ASSERT_EQ_INT(s2.fsyncs, s1.fsyncs);
        ASSERT_OK(pr_log_sync(log, last2, &err)); /* covered by the same fsync */
        pr_log_stats_get(log, &s3);
        if (k != 1) ASSERT_EQ_INT(s3.fsyncs, s2.fsyncs);
        ASSERT_EQ_INT(pr_log_append_nowait(log, e, 1, NULL, &err), PR_ERR_INVALID);
        pr_log_close(log);
        ASSERT_OK(pr_log_open(uri_of(d, NULL), PR_LOG_READ, &log, &err));
        ASSERT_EQ_INT(pr_log_sync(log, last, &err), PR_ERR_INVALID);
        pr_log_reader *r;
        ASSERT_OK(pr_log_reader_open(log, NULL, &r, &err));
        pr_log_record rec;
        int n = 0;
        while (pr_log_next(r, &rec, &err) == PR_OK) {
            ASSERT_EQ_INT(rec.payload.len, (size_t)n + 1);
            ASSERT_EQ_INT(rec.ts_ms, 10 + n);
            n++;
        }
        ASSERT_EQ_INT(n, 3);
        pr_log_reader_close(r);
        pr_log_close(log);
    }
}

/* The single segment file of a fresh log dir. */
static const char *seg0(const char *d) {
    static char p[600];
    snprintf(p, sizeof p, "%s/00000000000000000000.seg", d);
    return p;
}

static void write_bytes(const char *path, const char *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) TEST_FAIL("open %s", path);
    if (n && fwrite(data, 1, n, f) != n) TEST_FAIL("write");
    fclose(f);
}

TEST(torn_tail_every_byte) {
    const char *d = fresh_dir("torn");
    pr_err err;
    pr_event_log *log;
    ASSERT_OK(pr_log_open(uri_of(d, "fsync=off"), PR_LOG_WRITE, &log, &err));
    pr_log_pos pos[5];
    append_range(log, 0, 5, pos);
    pr_log_close(log);
    size_t len;
    char *orig = test_read_file(seg0(d), &len);
    size_t last_start = 24 + (size_t)pos[4].a;
    ASSERT_TRUE(last_start < len);
    pr_log_set_level(PR_LOG_ERROR); /* the cut warnings, hundreds of them */
    for (int mode = 0; mode < 3; mode++) {
        for (size_t at = last_start + (mode == 0); at < len; at++) {
            /* mode 0: cut at `at`; 1: flip a byte; 2: cut and add garbage */
            char *copy = malloc(len + 8);
            memcpy(copy, orig, len);
            size_t n = len;
            if (mode == 0) n = at;
            if (mode == 1) copy[at] ^= 0x40;
            if (mode == 2) {
                n = at;
                memcpy(copy + n, "garbage!", 8);
                n += 8;
            }
            write_bytes(seg0(d), copy, n);
            free(copy);
            /* read-only: sees the 4 whole records, changes nothing */
            ASSERT_OK(pr_log_open(uri_of(d, NULL), PR_LOG_READ, &log, &err));
            ASSERT_EQ_INT(read_all_check(log, 0), 4);
            pr_log_close(log);
            ASSERT_EQ_INT(file_size(seg0(d)), (long)n);
            /* writer: cuts, counts, resumes */
            ASSERT_OK(pr_log_open(uri_of(d, "fsync=off"), PR_LOG_WRITE, &log, &err));
            pr_log_stats s;
            pr_log_stats_get(log, &s);
            ASSERT_EQ_INT(s.records, 4);
            ASSERT_EQ_INT(s.torn_cuts, 1);
            ASSERT_EQ_INT(s.torn_bytes, n - last_start);
            ASSERT_EQ_INT(file_size(seg0(d)), (long)last_start);
            append_range(log, 4, 6, NULL);
            ASSERT_EQ_INT(read_all_check(log, 0), 6);
            pr_log_close(log);
        }
    }
    /* the untouched file: no cut */
    write_bytes(seg0(d), orig, len);
    ASSERT_OK(pr_log_open(uri_of(d, "fsync=off"), PR_LOG_WRITE, &log, &err));
    pr_log_stats s;
    pr_log_stats_get(log, &s);
    ASSERT_EQ_INT(s.torn_cuts, 0);
    ASSERT_EQ_INT(s.records, 5);
    pr_log_close(log);
    /* a torn segment header (a crash while creating the file): removed */
    write_bytes(seg0(d), orig, 10);
    ASSERT_OK(pr_log_open(uri_of(d, "fsync=off"), PR_LOG_WRITE, &log, &err));
    pr_log_stats_get(log, &s);
    ASSERT_EQ_INT(s.records, 0);
    ASSERT_EQ_INT(s.torn_cuts, 1);
    append_range(log, 0, 3, NULL);
    ASSERT_EQ_INT(read_all_check(log, 0), 3);
    pr_log_close(log);
    pr_log_set_level(PR_LOG_INFO);
    free(orig);
}

TEST(corrupt_closed_segment) {
    const char *d = fresh_dir("corrupt");
    pr_err err;
    pr_event_log *log;
    ASSERT_OK(pr_log_open(uri_of(d, "fsync=off&segment_bytes=4096"), PR_LOG_WRITE, &log, &err));
    append_range(log, 0, 300, NULL);
    pr_log_close(log);
    /* flip a payload byte of the 11th record of the first (closed) segment */
    size_t len;
    char *data = test_read_file(seg0(d), &len);
    size_t rec = 24 + 43;  /* records 0..9: 24-byte header, 43-byte payload */
    ASSERT_TRUE(24 + 11 * rec < len);
    data[24 + 10 * rec + 30] ^= 1;
    write_bytes(seg0(d), data, len);
    free(data);
    ASSERT_OK(pr_log_open(uri_of(d, NULL), PR_LOG_READ, &log, &err));
    pr_log_reader *r;
    ASSERT_OK(pr_log_reader_open(log, NULL, &r, &err));
    pr_log_record recd;
    for (int i = 0; i < 10; i++) ASSERT_OK(pr_log_next(r, &recd, &err));
    ASSERT_STATUS(pr_log_next(r, &recd, &err), PR_ERR_CHECKSUM);
    ASSERT_CONTAINS(err.msg, "00000000000000000000.seg");
    char off[64];
    snprintf(off, sizeof off, "offset %zu", 24 + 10 * rec);
    ASSERT_CONTAINS(err.msg, off);
    ASSERT_STATUS(pr_log_next(r, &recd, &err), PR_ERR_CHECKSUM); /* stays there */
    pr_log_reader_close(r);
    pr_log_close(log);
}

TEST(retention) {
    const char *d = fresh_dir("retain");
    pr_err err;
    pr_event_log *log;
    ASSERT_OK(pr_log_open(uri_of(d, "fsync=off&segment_bytes=4096&retain_bytes=16384"),
                          PR_LOG_WRITE, &log, &err));
    static pr_log_pos pos[2000];
    append_range(log, 0, 2000, pos);
    pr_log_stats s;
    pr_log_stats_get(log, &s);
    ASSERT_TRUE(s.bytes <= 16384 + 4096);
    ASSERT_TRUE(s.dropped > 10);
    ASSERT_TRUE(s.records < 2000);
    /* the oldest kept record starts the log; everything after it is there */
    int first = 2000 - (int)s.records;
    ASSERT_EQ_INT(s.min_ts_ms, (int64_t)first * 10);
    ASSERT_EQ_INT(read_all_check(log, first), (int)s.records);
    /* a saved position that retention dropped: resumes at the oldest, says so */
    pr_log_start st = {.kind = PR_LOG_AFTER_POS, .after = pos[5]};
    pr_log_reader *r;
    ASSERT_OK(pr_log_reader_open(log, &st, &r, &err));
    ASSERT_EQ_INT(pr_log_reader_skipped(r), 1);
    pr_log_record rec;
    ASSERT_OK(pr_log_next(r, &rec, &err));
    ASSERT_EQ_INT(rec.ts_ms, (int64_t)first * 10);
    pr_log_reader_close(r);
    pr_log_close(log);
    /* by age: every closed segment is older than 1 ms by the next open */
    usleep(20000);
    ASSERT_OK(pr_log_open(uri_of(d, "fsync=off&retain_ms=1"), PR_LOG_WRITE, &log, &err));
    pr_log_stats_get(log, &s);
    ASSERT_EQ_INT(s.segments, 1);
    pr_log_close(log);
}

TEST(bad_uris_and_versions) {
    pr_err err;
    pr_event_log *log;
    const char *d = fresh_dir("bad");
    struct {
        const char *uri, *needle;
    } cases[] = {
        {"nope:/tmp/x", "unknown scheme 'nope'"},
        {"/tmp/x", "no scheme"},
        {"log:", "no directory"},
        {"log:?fsync=off", "no directory"},
        {"log:/tmp/x?fsync=sometimes", "bad value 'sometimes' for option 'fsync'"},
        {"log:/tmp/x?fsync=batch:0", "bad value 'batch:0'"},
        {"log:/tmp/x?fsync=batch:", "bad value 'batch:'"},
        {"log:/tmp/x?segment_bytes=12", "segment_bytes"},
        {"log:/tmp/x?segment_bytes=1x", "bad value '1x'"},
        {"log:/tmp/x?colour=blue", "unknown option 'colour'"},
        {"log:/tmp/x?fsync", "has no '=VALUE'"},
        {"log:/tmp/x?index_bytes=1", "index_bytes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ASSERT_STATUS(pr_log_open(cases[i].uri, PR_LOG_WRITE, &log, &err), PR_ERR_INVALID);
        ASSERT_TRUE(log == NULL);
        ASSERT_CONTAINS(err.msg, cases[i].needle);
    }
    /* read-only open of a directory that does not exist */
    ASSERT_STATUS(pr_log_open(uri_of(d, NULL), PR_LOG_READ, &log, &err), PR_ERR_IO);
    ASSERT_CONTAINS(err.msg, d);
    /* a segment of format version 2, and one that is no segment at all */
    ASSERT_OK(pr_log_open(uri_of(d, NULL), PR_LOG_WRITE, &log, &err));
    append_range(log, 0, 3, NULL);
    pr_log_close(log);
    size_t len;
    char *data = test_read_file(seg0(d), &len);
    data[8] = 2;
    write_bytes(seg0(d), data, len);
    for (int mode = 0; mode < 2; mode++) {
        ASSERT_STATUS(pr_log_open(uri_of(d, NULL), mode, &log, &err), PR_ERR_VERSION);
        ASSERT_CONTAINS(err.msg, "00000000000000000000.seg");
        ASSERT_CONTAINS(err.msg, "version 2");
    }
    ASSERT_EQ_INT(file_size(seg0(d)), (long)len); /* untouched */
    memcpy(data, "NOTALOG!", 8);
    write_bytes(seg0(d), data, len);
    ASSERT_STATUS(pr_log_open(uri_of(d, NULL), PR_LOG_WRITE, &log, &err), PR_ERR_FORMAT);
    ASSERT_CONTAINS(err.msg, "not a pronto log segment");
    free(data);
    /* argument checks of the front door */
    const char *d2 = fresh_dir("bad2");
    ASSERT_OK(pr_log_open(uri_of(d2, NULL), PR_LOG_WRITE, &log, &err));
    pr_log_entry e = entry(0, 0, "x");
    ASSERT_STATUS(pr_log_append(log, &e, 0, NULL, &err), PR_ERR_INVALID);
    e.payload.len = PR_LOG_PAYLOAD_MAX + 1u;
    ASSERT_STATUS(pr_log_append(log, &e, 1, NULL, &err), PR_ERR_LIMIT);
    pr_log_close(log);
}

/* kill -9 of a child appending with fsync=always, at random instants: every
 * acknowledged record is there exactly once and in order, nothing partial,
 * and appending resumes. The child numbers records from the count it finds. */
static void kill9_trials(const char *name, const char *opts, int trials) {
    const char *d = fresh_dir(name);
    const char *uri = uri_of(d, opts);
    pr_err err;
    uint64_t seed = (uint64_t)time(NULL);
    fprintf(stderr, "kill9 seed %llu\n", (unsigned long long)seed);
    long acked_total = 0;
    pr_log_set_level(PR_LOG_ERROR);
    for (int trial = 0; trial < trials; trial++) {
        int fds[2];
        ASSERT_TRUE(pipe(fds) == 0);
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            pr_event_log *log;
            if (pr_log_open(uri, PR_LOG_WRITE, &log, &err) != PR_OK) _exit(3);
            pr_log_stats s;
            pr_log_stats_get(log, &s);
            for (uint64_t i = s.records;; i++) {
                char buf[64];
                int n = snprintf(buf, sizeof buf, "seq=%llu", (unsigned long long)i);
                pr_log_entry e = {7, (int64_t)i, pr_bytes_of(buf, (size_t)n)};
                pr_log_pos p;
                if (pr_log_append(log, &e, 1, &p, &err) != PR_OK) _exit(4);
                uint64_t msg[2] = {i, p.a};
                if (write(fds[1], msg, sizeof msg) != sizeof msg) _exit(5);
            }
        }
        close(fds[1]);
        /* Odd trials wait for the child's first acknowledgement before the
         * random delay, so that a slow machine (the child's open and first
         * fsync can outlast the whole delay under ASan at high load) still
         * kills some children mid-stream; even trials may kill before any
         * append, which must be survived too. */
        static uint64_t acked[1 << 16][2];
        long na = 0;
        if (trial % 2 == 1 && read(fds[0], acked[0], sizeof acked[0]) == (ssize_t)sizeof acked[0])
            na = 1;
        usleep((useconds_t)(2000 + pr_splitmix64(&seed) % 30000));
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        ASSERT_TRUE(WIFSIGNALED(status));
        /* what the child acknowledged */
        for (;;) {
            ssize_t r = read(fds[0], acked[na], sizeof acked[0]);
            if (r != (ssize_t)sizeof acked[0]) break;
            if (++na == (1 << 16)) break;
        }
        close(fds[0]);
        acked_total += na;
        pr_event_log *log;
        ASSERT_OK(pr_log_open(uri, PR_LOG_WRITE, &log, &err));
        pr_log_reader *r;
        ASSERT_OK(pr_log_reader_open(log, NULL, &r, &err));
        pr_log_record rec;
        uint64_t i = 0;
        long k = 0;
        pr_status st;
        while ((st = pr_log_next(r, &rec, &err)) == PR_OK) {
            char want[64];
            int n = snprintf(want, sizeof want, "seq=%llu", (unsigned long long)i);
            if (rec.payload.len != (size_t)n || memcmp(rec.payload.ptr, want, (size_t)n))
                TEST_FAIL("trial %d: record %llu is '%.*s'", trial, (unsigned long long)i,
                          (int)rec.payload.len, rec.payload.ptr);
            if (k < na && acked[k][0] == i) {
                ASSERT_EQ_INT(rec.pos.a, acked[k][1]);
                k++;
            }
            i++;
        }
        ASSERT_EQ_INT(st, PR_EOF);
        if (k != na) TEST_FAIL("trial %d: %ld of %ld acknowledged records found", trial, k, na);
        pr_log_reader_close(r);
        pr_log_close(log);
    }
    pr_log_set_level(PR_LOG_INFO);
    ASSERT_TRUE(acked_total > 0);
}

TEST(kill9_acknowledged_records_survive) {
    kill9_trials("kill9-always", "fsync=always&segment_bytes=8192", 12);
    kill9_trials("kill9-batch", "fsync=batch:2&segment_bytes=8192", 12);
    /* fsync=off writes through a mapping: kill -9 loses nothing either */
    kill9_trials("kill9-off", "fsync=off&segment_bytes=8192", 6);
    kill9_trials("kill9-off-big", "fsync=off", 3);
}

/* Flips bytes in the middle of a closed segment: without skip_corrupt the
 * reader stops naming segment and offset; with it every intact record is
 * read and each corrupt span counted once. */
TEST(skip_corrupt_resyncs) {
    const char *d = fresh_dir("skipcorrupt");
    pr_err err;
    pr_event_log *log;
    ASSERT_OK(pr_log_open(uri_of(d, "fsync=off&segment_bytes=4096"), PR_LOG_WRITE, &log, &err));
    append_range(log, 0, 300, NULL);
    pr_log_close(log);
    size_t len;
    char *data = test_read_file(seg0(d), &len);
    size_t rec = 24 + 43;
    ASSERT_TRUE(24 + 31 * rec < len);
    data[24 + 10 * rec + 30] ^= 1;          /* a payload byte of record 10 */
    data[24 + 10 * rec + 10 * (rec + 1) + 2] = (char)0x7f; /* the length of record 20 */
    write_bytes(seg0(d), data, len);
    free(data);
    ASSERT_OK(pr_log_open(uri_of(d, NULL), PR_LOG_READ, &log, &err));
    pr_log_reader *r;
    pr_log_record recd;
    ASSERT_OK(pr_log_reader_open(log, NULL, &r, &err));
    for (int i = 0; i < 10; i++) ASSERT_OK(pr_log_next(r, &recd, &err));
    ASSERT_STATUS(pr_log_next(r, &recd, &err), PR_ERR_CHECKSUM);
    ASSERT_CONTAINS(err.msg, "00000000000000000000.seg");
    pr_log_reader_close(r);
    pr_log_start st = {.kind = PR_LOG_FROM_START, .skip_corrupt = 1};
    pr_log_set_level(PR_LOG_ERROR);
    ASSERT_OK(pr_log_reader_open(log, &st, &r, &err));
    int i = 0, got = 0;
    pr_status s;
    while ((s = pr_log_next(r, &recd, &err)) == PR_OK) {
        if (i == 10 || i == 20) i++;
        char want[64];
        snprintf(want, sizeof want, "r%d-%040d", i, i);
        if (recd.payload.len != strlen(want) || memcmp(recd.payload.ptr, want, recd.payload.len))
            TEST_FAIL("record %d: got '%.*s'", i, (int)recd.payload.len, recd.payload.ptr);
        i++;
        got++;
    }
    pr_log_set_level(PR_LOG_INFO);
    ASSERT_EQ_INT(s, PR_EOF);
    ASSERT_EQ_INT(got, 298);
    ASSERT_EQ_INT(pr_log_reader_corrupt(r), 2);
    pr_log_reader_close(r);
    /* verify names the first corruption */
    pr_log_verify_report v;
    ASSERT_STATUS(pr_log_verify(log, NULL, NULL, &v, &err), PR_ERR_CHECKSUM);
    ASSERT_CONTAINS(err.msg, "00000000000000000000.seg");
    char off[64];
    snprintf(off, sizeof off, "offset %zu", 24 + 10 * rec);
    ASSERT_CONTAINS(err.msg, off);
    pr_log_close(log);
}

/* Files in d whose name ends with ext (".seg" does not match ".zseg"). */
static int count_ext(const char *d, const char *ext) {
    DIR *dir = opendir(d);
    if (!dir) TEST_FAIL("opendir %s", d);
    int c = 0;
    size_t el = strlen(ext);
    struct dirent *e;
    while ((e = readdir(dir))) {
        size_t n = strlen(e->d_name);
        if (n >= el && !strcmp(e->d_name + n - el, ext)) c++;
    }
    closedir(dir);
    return c;
}

/* Closed segments compressed: the same records, positions and time seeks;
 * a reader open across the compaction keeps reading; verify checks the
 * frames; a corrupt frame is named, and skipped under skip_corrupt. */
TEST(compressed_segments) {
    const char *d = fresh_dir("zseg");
    pr_err err;
    pr_event_log *log;
    enum { N = 600 };
    static pr_log_pos pos[N];
    ASSERT_OK(pr_log_open(uri_of(d, "fsync=off&segment_bytes=8192&index_bytes=512"),
                          PR_LOG_WRITE, &log, &err));
    append_range(log, 0, N, pos);
    pr_log_reader *early;
    ASSERT_OK(pr_log_reader_open(log, NULL, &early, &err));
    pr_log_record rec;
    for (int i = 0; i < 5; i++) ASSERT_OK(pr_log_next(early, &rec, &err));
    pr_log_stats before;
    pr_log_stats_get(log, &before);
    pr_log_compact_opts o = {.compress = 1};
    pr_log_compact_result res;
    ASSERT_OK(pr_log_compact(log, &o, &res, &err));
    ASSERT_EQ_INT(res.compressed, before.segments - 1);
    ASSERT_TRUE(res.bytes_after < res.bytes_before);
    pr_log_stats after;
    pr_log_stats_get(log, &after);
    ASSERT_EQ_INT(after.compressed, before.segments - 1);
    ASSERT_EQ_INT(after.records, N);
    ASSERT_EQ_INT(after.record_bytes, before.record_bytes);
    ASSERT_EQ_INT(count_ext(d, ".zseg"), (int)before.segments - 1);
    ASSERT_EQ_INT(count_ext(d, ".seg"), 1);
    for (int i = 5; i < N; i++) {
        ASSERT_OK(pr_log_next(early, &rec, &err));
        ASSERT_EQ_INT(rec.pos.a, pos[i].a);
    }
    ASSERT_STATUS(pr_log_next(early, &rec, &err), PR_EOF);
    pr_log_reader_close(early);
    append_range(log, N, N + 50, NULL); /* the writer goes on */
    pr_log_close(log);
    for (int pass = 0; pass < 2; pass++) {  /* read-only, then writing open */
        ASSERT_OK(pr_log_open(uri_of(d, NULL), pass ? PR_LOG_WRITE : PR_LOG_READ, &log, &err));
        ASSERT_EQ_INT(read_all_check(log, 0), N + 50);
        for (int i = 0; i < N; i += 37) {
            pr_log_start st = {.kind = PR_LOG_FROM_TIME, .from_ms = (int64_t)i * 10};
            pr_log_reader *r;
            ASSERT_OK(pr_log_reader_open(log, &st, &r, &err));
            ASSERT_OK(pr_log_next(r, &rec, &err));
            ASSERT_EQ_INT(rec.pos.a, pos[i].a);
            pr_log_reader_close(r);
            pr_log_start ap = {.kind = PR_LOG_AFTER_POS, .after = pos[i]};
            ASSERT_OK(pr_log_reader_open(log, &ap, &r, &err));
            ASSERT_OK(pr_log_next(r, &rec, &err));
            ASSERT_EQ_INT(rec.pos.a, pos[i + 1].a);
            pr_log_reader_close(r);
        }
        pr_log_verify_report v;
        ASSERT_OK(pr_log_verify(log, NULL, NULL, &v, &err));
        ASSERT_EQ_INT(v.records, N + 50);
        ASSERT_EQ_INT(v.compressed, before.segments - 1);
        ASSERT_EQ_INT(v.indexes, v.segments - 1);
        pr_log_close(log);
    }
    /* a corrupt frame in the second segment */
    char zp[700];
    pr_log_reader *r;
    /* the second segment's name: the first base after 0 */
    char cmd[800];
    snprintf(cmd, sizeof cmd, "ls '%s'/*.zseg | sed -n 2p > '%s/../second.txt'", d, d);
    ASSERT_TRUE(system(cmd) == 0);
    snprintf(zp, sizeof zp, "%s/../second.txt", d);
    size_t n;
    char *name = test_read_file(zp, &n);
    while (n && (name[n - 1] == '\n')) name[--n] = 0;
    char *data = test_read_file(name, &n);
    data[n / 2] ^= 0x55;
    write_bytes(name, data, n);
    free(data);
    ASSERT_OK(pr_log_open(uri_of(d, NULL), PR_LOG_READ, &log, &err));
    pr_log_verify_report v;
    ASSERT_STATUS(pr_log_verify(log, NULL, NULL, &v, &err), PR_ERR_CHECKSUM);
    ASSERT_CONTAINS(err.msg, name);
    ASSERT_CONTAINS(err.msg, "byte offset");
    ASSERT_OK(pr_log_reader_open(log, NULL, &r, &err));
    pr_status st;
    int got = 0;
    while ((st = pr_log_next(r, &rec, &err)) == PR_OK) got++;
    ASSERT_EQ_INT(st, PR_ERR_CHECKSUM);
    ASSERT_CONTAINS(err.msg, name);
    pr_log_reader_close(r);
    pr_log_start sk = {.kind = PR_LOG_FROM_START, .skip_corrupt = 1};
    pr_log_set_level(PR_LOG_ERROR);
    ASSERT_OK(pr_log_reader_open(log, &sk, &r, &err));
    int got2 = 0;
    while ((st = pr_log_next(r, &rec, &err)) == PR_OK) got2++;
    pr_log_set_level(PR_LOG_INFO);
    ASSERT_EQ_INT(st, PR_EOF);
    ASSERT_EQ_INT(pr_log_reader_corrupt(r), 1);
    ASSERT_TRUE(got2 > got && got2 < N + 50);
    pr_log_reader_close(r);
    pr_log_close(log);
    free(name);
}

/* compress=zstd: a writer compresses the segments it closes in the
 * background. */
TEST(compress_option_writer) {
    const char *d = fresh_dir("zwriter");
    pr_err err;
    pr_event_log *log;
    ASSERT_OK(pr_log_open(uri_of(d, "fsync=off&segment_bytes=8192&compress=zstd"), PR_LOG_WRITE,
                          &log, &err));
    append_range(log, 0, 500, NULL);
    pr_log_stats s;
    for (int tries = 0; tries < 500; tries++) {
        pr_log_stats_get(log, &s);
        if (s.compressed + 1 == s.segments) break;
        usleep(10000);
    }
    ASSERT_EQ_INT(s.compressed + 1, s.segments);
    ASSERT_EQ_INT(read_all_check(log, 0), 500);
    pr_log_close(log);
    pr_event_log *bad;
    ASSERT_STATUS(pr_log_open(uri_of(d, "compress=lz4"), PR_LOG_READ, &bad, &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "compress");
}

/* kill -9 of a process compacting, at random instants: every record stays
 * readable (read-only open first, then a writing open that tidies), and
 * verify passes; a later compaction finishes the work. */
TEST(kill9_during_compaction) {
    uint64_t seed = (uint64_t)time(NULL) ^ 0x9e37;
    fprintf(stderr, "kill9 compaction seed %llu\n", (unsigned long long)seed);
    pr_log_set_level(PR_LOG_ERROR);
    int mid = 0;
    enum { TRIALS = 10, RECS = 800 };
    double span = 0; /* how long an uninterrupted compaction takes (trial 0) */
    for (int trial = 0; trial <= TRIALS; trial++) {
        const char *d = fresh_dir("kill9-compact");
        const char *uri = uri_of(d, "fsync=off&segment_bytes=4096");
        pr_err err;
        pr_event_log *log;
        ASSERT_OK(pr_log_open(uri, PR_LOG_WRITE, &log, &err));
        append_range(log, 0, RECS, NULL);
        pr_log_close(log);
        double t0 = pr_now();
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
            if (pr_log_open(uri, PR_LOG_WRITE, &log, &err) != PR_OK) _exit(3);
            pr_log_compact_opts o = {.compress = 1};
            if (pr_log_compact(log, &o, NULL, &err) != PR_OK) _exit(4);
            pr_log_close(log);
            _exit(0);
        }
        int status;
        if (trial == 0) {
            waitpid(pid, &status, 0);
            ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
            span = pr_now() - t0;
        } else {
            usleep((useconds_t)(pr_splitmix64(&seed) % (uint64_t)(span * 1e6 + 1)));
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            ASSERT_TRUE(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0));
        }
        int z = count_ext(d, ".zseg");
        if (z > 0 && count_ext(d, ".seg") > 1) mid++;
        ASSERT_OK(pr_log_open(uri, PR_LOG_READ, &log, &err));
        ASSERT_EQ_INT(read_all_check(log, 0), RECS);
        pr_log_close(log);
        ASSERT_OK(pr_log_open(uri, PR_LOG_WRITE, &log, &err));
        ASSERT_EQ_INT(count_ext(d, ".tmp"), 0);
        ASSERT_EQ_INT(read_all_check(log, 0), RECS);
        ASSERT_OK(pr_log_verify(log, NULL, NULL, NULL, &err));
        pr_log_compact_opts o = {.compress = 1};
        ASSERT_OK(pr_log_compact(log, &o, NULL, &err));
        pr_log_stats s;
        pr_log_stats_get(log, &s);
        ASSERT_EQ_INT(s.compressed + 1, s.segments);
        ASSERT_EQ_INT(read_all_check(log, 0), RECS);
        pr_log_close(log);
    }
    fprintf(stderr, "kill9 compaction: %d of %d kills landed mid-compaction (%.0f ms each)\n",
            mid, TRIALS, span * 1e3);
    pr_log_set_level(PR_LOG_INFO);
}

/* A reader tailing a log that another thread appends to (across
 * rotations) sees every record whole, in order, and never a partial one. */
typedef struct tail_arg {
    pr_event_log *log;
    int n;
} tail_arg;

static void *tail_writer(void *p) {
    tail_arg *a = p;
    append_range(a->log, 0, a->n, NULL);
    return NULL;
}

TEST(reader_tails_a_live_writer) {
    const char *d = fresh_dir("tail");
    pr_err err;
    pr_event_log *log, *ro;
    ASSERT_OK(pr_log_open(uri_of(d, "fsync=off&segment_bytes=4096"), PR_LOG_WRITE, &log, &err));
    ASSERT_OK(pr_log_open(uri_of(d, NULL), PR_LOG_READ, &ro, &err));
    tail_arg a = {log, 20000};
    pthread_t th;
    pthread_create(&th, NULL, tail_writer, &a);
    pr_log_reader *r;
    ASSERT_OK(pr_log_reader_open(ro, NULL, &r, &err));
    int i = 0;
    pr_log_record rec;
    while (i < a.n) {
        pr_status st = pr_log_next(r, &rec, &err);
        if (st == PR_EOF) continue;
        ASSERT_OK(st);
        char want[64];
        snprintf(want, sizeof want, "r%d-%040d", i, i);
        if (rec.payload.len != strlen(want) || memcmp(rec.payload.ptr, want, rec.payload.len))
            TEST_FAIL("record %d: got '%.*s'", i, (int)rec.payload.len, rec.payload.ptr);
        i++;
    }
    pthread_join(th, NULL);
    ASSERT_EQ_INT(pr_log_next(r, &rec, &err), PR_EOF);
    pr_log_reader_close(r);
    pr_log_close(ro);
    pr_log_close(log);
}

/* A named consumer resumes right after its last commit, across reopens and
 * rotations; a consumer that never committed starts at the start; commits
 * only go forward; names are checked. */
TEST(named_consumers) {
    const char *d = fresh_dir("log-consumers");
    pr_err err;
    pr_event_log *log;
    ASSERT_OK(pr_log_open(uri_of(d, "fsync=off&segment_bytes=4096"), PR_LOG_WRITE, &log, &err));
    pr_log_pos pos[600];
    append_range(log, 0, 600, pos);
    pr_log_start st = {.kind = PR_LOG_CONSUMER, .consumer = "joiner-1"};
    int next = 0;
    for (int round = 0; round < 4; round++) {
        pr_log_reader *r;
        ASSERT_OK(pr_log_reader_open(log, &st, &r, &err));
        pr_log_record rec;
        for (int k = 0; k < 150; k++) {
            ASSERT_OK(pr_log_next(r, &rec, &err));
            ASSERT_EQ_INT(pr_log_pos_cmp(rec.pos, pos[next]), 0);
            next++;
        }
        /* commit only up to 100 of the 150 read: 50 come again */
        if (round == 0) ASSERT_TRUE(pr_log_reader_commit_meta(r) == NULL);
        else ASSERT_EQ_STR(pr_log_reader_commit_meta(r), round == 2 ? "" : "cut=ts:1\nid:2");
        ASSERT_OK(pr_log_commit(r, pos[next - 51], round == 1 ? NULL : "cut=ts:1\nid:2", &err));
        ASSERT_STATUS(pr_log_commit(r, pos[0], NULL, &err), PR_ERR_INVALID);
        next -= 50;
        pr_log_reader_close(r);
        if (round == 1) {  /* a reopen read-only sees the same commit */
            pr_log_close(log);
            ASSERT_OK(pr_log_open(uri_of(d, NULL), PR_LOG_READ, &log, &err));
        }
    }
    ASSERT_EQ_INT(next, 400);
    pr_log_start other = {.kind = PR_LOG_CONSUMER, .consumer = "other"};
    pr_log_reader *r;
    ASSERT_OK(pr_log_reader_open(log, &other, &r, &err));
    pr_log_record rec;
    ASSERT_OK(pr_log_next(r, &rec, &err));
    ASSERT_EQ_INT(pr_log_pos_cmp(rec.pos, pos[0]), 0);
    pr_log_reader_close(r);
    /* a reader not opened for a consumer cannot commit */
    ASSERT_OK(pr_log_reader_open(log, NULL, &r, &err));
    ASSERT_STATUS(pr_log_commit(r, pos[0], NULL, &err), PR_ERR_INVALID);
    pr_log_reader_close(r);
    const char *bad[] = {"", ".hidden", "a/b", "x y",
                         "0123456789012345678901234567890123456789012345678901234567890123456789"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        pr_log_start b = {.kind = PR_LOG_CONSUMER, .consumer = bad[i]};
        ASSERT_STATUS(pr_log_reader_open(log, &b, &r, &err), PR_ERR_INVALID);
        ASSERT_CONTAINS(err.msg, "consumer name");
    }
    pr_log_close(log);
}

int main(void) {
    RUN(round_trip_rotations);
    RUN(read_from_time_and_position);
    RUN(fsync_policies);
    RUN(append_nowait_then_sync);
    RUN(torn_tail_every_byte);
    RUN(corrupt_closed_segment);
    RUN(retention);
    RUN(bad_uris_and_versions);
    RUN(reader_tails_a_live_writer);
    RUN(kill9_acknowledged_records_survive);
    RUN(named_consumers);
    RUN(skip_corrupt_resyncs);
    RUN(compressed_segments);
    RUN(compress_option_writer);
    RUN(kill9_during_compaction);
    TEST_MAIN_END();
}
