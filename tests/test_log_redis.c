/*
 * test_log_redis.c: the event log's redis-stream: backend (src/log/log_redis.c)
 * against real redis-server processes this test starts, kills and restarts:
 * the URI and its refusals, a round trip of binary payloads, the start kinds
 * (from start, from time, after a position, tail -f), MAXLEN retention,
 * threads appending through one handle (several connections),
 * malformed entries (an error naming the id, or skipped and counted),
 * consumer groups (commit part, reopen: resume right after the commit with
 * its meta; another consumer's stale pending entries taken over; a group
 * destroyed under a reader is recreated after the last commit), a
 * consuming child killed with kill -9 at random instants (every uncommitted
 * record comes again, nothing committed twice), and a server killed -9
 * mid-append and restarted on its AOF (appendfsync always): PR_ERR_IO naming
 * the server while down, appends succeed again by themselves, every
 * acknowledged record is there exactly once. PRONTO_LOG_REDIS_TRIALS=N sets
 * the number of each kind of kill trial (default 8 and 3).
 */
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "pronto/log.h"
#include "store_redis_server.h"
#include "test.h"

static redis_child srv;
static char base_uri[300]; /* redis-stream:127.0.0.1:PORT */

static void stop_server(void) { redis_child_stop(&srv, SIGKILL); }

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void start_server(int aof) {
    static int registered;
    char why[512];
    srv.aof = aof;
    if (redis_child_start(&srv, why, sizeof why) != 0) TEST_FAIL("%s", why);
    if (!registered++) atexit(stop_server);
}

/* URI of stream KEY with extra options (may be ""). */
static const char *uri_of(const char *key, const char *opts) {
    static char bufs[4][512];
    static int slot;
    char *b = bufs[slot++ & 3];
    snprintf(b, 512, "%s/%s?timeout_ms=2000%s%s", base_uri, key, opts[0] ? "&" : "", opts);
    return b;
}

/* Kill trials: the default, or PRONTO_LOG_REDIS_TRIALS for a long run by
 * hand (docs/log.md records one). */
static int trials(int dflt) {
    const char *e = getenv("PRONTO_LOG_REDIS_TRIALS");
    long n = e ? strtol(e, NULL, 10) : 0;
    return n > 0 && n <= 10000 ? (int)n : dflt;
}

static redisContext *direct(void) {
    redisContext *ctx = redisConnectUnix(srv.sock);
    ASSERT_TRUE(ctx && !ctx->err);
    return ctx;
}

static pr_event_log *open_log(const char *key, const char *opts, int mode) {
    pr_err err;
    pr_event_log *log = NULL;
    ASSERT_OK(pr_log_open(uri_of(key, opts), mode, &log, &err));
    ASSERT_EQ_STR(pr_log_backend(log), "redis-stream");
    return log;
}

/* Appends one record of type 1, ts, payload "rec-<i>". */
static pr_log_pos append_i(pr_event_log *log, long i, int64_t ts) {
    pr_err err;
    char p[32];
    int n = snprintf(p, sizeof p, "rec-%ld", i);
    pr_log_entry e = {1, ts, pr_bytes_of(p, (size_t)n)};
    pr_log_pos pos;
    ASSERT_OK(pr_log_append(log, &e, 1, &pos, &err));
    return pos;
}

/* Appends records from..to-1 ("rec-<i>", ts i) in batches of 100. */
static void append_range(pr_event_log *log, long from, long to) {
    pr_err err;
    while (from < to) {
        pr_log_entry e[100];
        char p[100][32];
        uint32_t k = 0;
        for (; k < 100 && from < to; k++, from++) {
            int n = snprintf(p[k], sizeof p[k], "rec-%ld", from);
            e[k] = (pr_log_entry){1, from, pr_bytes_of(p[k], (size_t)n)};
        }
        ASSERT_OK(pr_log_append(log, e, k, NULL, &err));
    }
}

/* The i of a "rec-<i>" payload, -1 if it is not one. */
static long rec_index(const pr_log_record *r) {
    char buf[32];
    if (r->payload.len < 5 || r->payload.len >= sizeof buf) return -1;
    memcpy(buf, r->payload.ptr, r->payload.len);
    buf[r->payload.len] = 0;
    if (strncmp(buf, "rec-", 4)) return -1;
    return strtol(buf + 4, NULL, 10);
}

TEST(uri_refusals) {
    pr_err err;
    pr_event_log *log = NULL;
    static const struct {
        const char *uri, *says;
    } bad[] = {
        {"redis-stream:127.0.0.1:6379", "no '/KEY'"},
        {"redis-stream:127.0.0.1:6379/", "stream key ''"},
        {"redis-stream:127.0.0.1:6379/k?fsync=always", "appendfsync"},
        {"redis-stream:127.0.0.1:6379/k?maxlen=x", "maxlen 'x'"},
        {"redis-stream:127.0.0.1:6379/k?maxlen=1&maxlen=2", "given twice"},
        {"redis-stream:127.0.0.1:6379/k?claim_ms=0", "claim_ms '0'"},
        {"redis-stream:127.0.0.1:6379/k?prefix=a", "unknown option 'prefix'"},
        {"redis-stream:127.0.0.1:6379/k?bogus=1", "maxlen or claim_ms"},
        {"redis-stream:127.0.0.1:99999/k", "port '99999'"},
        {"redis-stream:unix:/k", "expected a socket path"},
        {"redis-stream:127.0.0.1:6379/k?timeout_ms=0", "timeout_ms '0'"},
        {"kafka:x", "expected log:DIR or redis-stream:HOST:PORT/KEY"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        pr_status st = pr_log_open(bad[i].uri, PR_LOG_WRITE, &log, &err);
        if (st != PR_ERR_INVALID) TEST_FAIL("%s: got %s (%s)", bad[i].uri, pr_status_name(st), err.msg);
        ASSERT_CONTAINS(err.msg, bad[i].says);
        ASSERT_TRUE(log == NULL);
    }
    /* Nothing listening: PR_ERR_IO naming host:port, within the timeout. */
    int port = redis_free_port();
    char uri[128];
    snprintf(uri, sizeof uri, "redis-stream:127.0.0.1:%d/k?connect_timeout_ms=200", port);
    ASSERT_STATUS(pr_log_open(uri, PR_LOG_WRITE, &log, &err), PR_ERR_IO);
    snprintf(uri, sizeof uri, "127.0.0.1:%d", port);
    ASSERT_CONTAINS(err.msg, uri);
    /* A key that holds something else. */
    redisContext *ctx = direct();
    freeReplyObject(redisCommand(ctx, "SET notastream x"));
    redisFree(ctx);
    ASSERT_STATUS(pr_log_open(uri_of("notastream", ""), PR_LOG_READ, &log, &err), PR_ERR_FORMAT);
    ASSERT_CONTAINS(err.msg, "not a stream");
}

TEST(round_trip_binary) {
    pr_err err;
    pr_event_log *log = open_log("rt", "", PR_LOG_WRITE);
    static unsigned char all[256], big[300000];
    for (int i = 0; i < 256; i++) all[i] = (unsigned char)i;
    for (size_t i = 0; i < sizeof big; i++) big[i] = (unsigned char)(i * 131 + 7);
    pr_log_entry e[4] = {
        {7, -5, pr_bytes_of((const char *)all, sizeof all)},
        {0, INT64_MIN, pr_bytes_of(NULL, 0)},
        {UINT32_MAX, INT64_MAX, pr_bytes_of("\0a\r\n\0", 5)},
        {PR_LOG_TYPE_EVENT, 1700000000000, pr_bytes_of((const char *)big, sizeof big)},
    };
    pr_log_pos last, one;
    ASSERT_OK(pr_log_append(log, e, 4, &last, &err));
    ASSERT_OK(pr_log_append(log, e, 1, &one, &err));
    ASSERT_TRUE(pr_log_pos_cmp(last, one) < 0);
    char text[PR_LOG_POS_TEXT_MAX];
    pr_log_pos_format(log, last, text, sizeof text);
    pr_log_pos back;
    ASSERT_OK(pr_log_pos_parse(log, text, &back, &err));
    ASSERT_EQ_INT(pr_log_pos_cmp(back, last), 0);
    ASSERT_STATUS(pr_log_pos_parse(log, "12", &back, &err), PR_ERR_PARSE);
    ASSERT_STATUS(pr_log_pos_parse(log, "1-x", &back, &err), PR_ERR_PARSE);

    pr_log_reader *r;
    pr_log_record rec;
    ASSERT_OK(pr_log_reader_open(log, NULL, &r, &err));
    for (int i = 0; i < 5; i++) {
        const pr_log_entry *w = &e[i == 4 ? 0 : i];
        ASSERT_OK(pr_log_next(r, &rec, &err));
        ASSERT_EQ_INT(rec.type, w->type);
        ASSERT_EQ_INT(rec.ts_ms, w->ts_ms);
        ASSERT_EQ_INT(rec.payload.len, w->payload.len);
        ASSERT_TRUE(w->payload.len == 0 || !memcmp(rec.payload.ptr, w->payload.ptr, w->payload.len));
        if (i == 3) ASSERT_EQ_INT(pr_log_pos_cmp(rec.pos, last), 0);
    }
    ASSERT_STATUS(pr_log_next(r, &rec, &err), PR_EOF);
    pr_log_reader_close(r);

    pr_log_stats s;
    pr_log_stats_get(log, &s);
    ASSERT_EQ_INT(s.records, 5);
    ASSERT_EQ_INT(s.segments, 1);
    ASSERT_EQ_INT(s.appended, 5);
    ASSERT_TRUE(s.bytes > sizeof big);
    pr_log_close(log);

    /* A read-only log appends nothing. */
    log = open_log("rt", "", PR_LOG_READ);
    ASSERT_STATUS(pr_log_append(log, e, 1, NULL, &err), PR_ERR_INVALID);
    pr_log_close(log);

    /* The same stream through the unix socket. */
    char uri[300];
    snprintf(uri, sizeof uri, "redis-stream:unix:%s/rt?timeout_ms=2000", srv.sock);
    ASSERT_OK(pr_log_open(uri, PR_LOG_READ, &log, &err));
    ASSERT_OK(pr_log_reader_open(log, NULL, &r, &err));
    for (int i = 0; i < 5; i++) ASSERT_OK(pr_log_next(r, &rec, &err));
    ASSERT_EQ_INT(pr_log_pos_cmp(rec.pos, one), 0);
    ASSERT_STATUS(pr_log_next(r, &rec, &err), PR_EOF);
    pr_log_reader_close(r);
    pr_log_close(log);
}

TEST(start_kinds_and_tail) {
    pr_err err;
    pr_event_log *log = open_log("kinds", "", PR_LOG_WRITE);
    /* 2500 records (more than one read batch), event times not in order:
     * ts = (i * 7919) % 2500. */
    pr_log_pos pos[2500];
    for (long i = 0; i < 2500;) {
        pr_log_entry e[50];
        char p[50][32];
        for (int k = 0; k < 50; k++, i++) {
            int n = snprintf(p[k], sizeof p[k], "rec-%ld", i);
            e[k] = (pr_log_entry){1, (i * 7919) % 2500, pr_bytes_of(p[k], (size_t)n)};
        }
        pr_log_pos last;
        ASSERT_OK(pr_log_append(log, e, 50, &last, &err));
        pos[i - 1] = last;
    }
    pr_log_reader *r;
    pr_log_record rec;
    ASSERT_OK(pr_log_reader_open(log, NULL, &r, &err));
    for (long i = 0; i < 2500; i++) {
        ASSERT_OK(pr_log_next(r, &rec, &err));
        ASSERT_EQ_INT(rec_index(&rec), i);
        pos[i] = rec.pos;
    }
    ASSERT_STATUS(pr_log_next(r, &rec, &err), PR_EOF);
    /* tail -f: what comes later is returned by a later call */
    append_i(log, 2500, 2500);
    ASSERT_OK(pr_log_next(r, &rec, &err));
    ASSERT_EQ_INT(rec_index(&rec), 2500);
    ASSERT_STATUS(pr_log_next(r, &rec, &err), PR_EOF);
    pr_log_reader_close(r);

    /* FROM_TIME: the first record in log order with ts >= T, then all. */
    int64_t times[] = {0, 1, 1234, 2499, 2500, 99999};
    for (size_t t = 0; t < sizeof times / sizeof *times; t++) {
        long first = -1;
        for (long i = 0; i <= 2500 && first < 0; i++)
            if ((i == 2500 ? 2500 : (i * 7919) % 2500) >= times[t]) first = i;
        pr_log_start st = {.kind = PR_LOG_FROM_TIME, .from_ms = times[t]};
        ASSERT_OK(pr_log_reader_open(log, &st, &r, &err));
        if (first < 0) {
            ASSERT_STATUS(pr_log_next(r, &rec, &err), PR_EOF);
        } else {
            for (long i = first; i <= 2500; i++) {
                ASSERT_OK(pr_log_next(r, &rec, &err));
                ASSERT_EQ_INT(rec_index(&rec), i);
            }
            ASSERT_STATUS(pr_log_next(r, &rec, &err), PR_EOF);
        }
        pr_log_reader_close(r);
    }

    /* AFTER_POS: the record after it; the last one: EOF. */
    long afters[] = {0, 999, 1000, 2499};
    for (size_t a = 0; a < sizeof afters / sizeof *afters; a++) {
        pr_log_start st = {.kind = PR_LOG_AFTER_POS, .after = pos[afters[a]]};
        ASSERT_OK(pr_log_reader_open(log, &st, &r, &err));
        ASSERT_EQ_INT(pr_log_reader_skipped(r), 0);
        ASSERT_OK(pr_log_next(r, &rec, &err));
        ASSERT_EQ_INT(rec_index(&rec), afters[a] + 1);
        pr_log_reader_close(r);
    }
    /* A position that is no entry's. */
    pr_log_start st = {.kind = PR_LOG_AFTER_POS, .after = pos[10]};
    st.after.b += 1000000;
    ASSERT_STATUS(pr_log_reader_open(log, &st, &r, &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "not the id of an entry");
    pr_log_close(log);
}

TEST(maxlen_retention) {
    pr_err err;
    pr_event_log *log = open_log("capped", "maxlen=100", PR_LOG_WRITE);
    pr_log_pos first = append_i(log, 0, 0);
    for (long i = 1; i < 2000; i++) append_i(log, i, i);
    pr_log_stats s;
    pr_log_stats_get(log, &s);
    /* approximate: whole macro nodes (100 entries by default) are dropped */
    fprintf(stderr, "maxlen=100 after 2000 appends: %llu entries\n", (unsigned long long)s.records);
    ASSERT_TRUE(s.records >= 100 && s.records <= 300);
    pr_log_reader *r;
    pr_log_record rec;
    ASSERT_OK(pr_log_reader_open(log, NULL, &r, &err));
    long n = 0, prev = -1;
    while (pr_log_next(r, &rec, &err) == PR_OK) {
        long i = rec_index(&rec);
        ASSERT_TRUE(prev < 0 || i == prev + 1);
        prev = i;
        n++;
    }
    ASSERT_EQ_INT(n, s.records);
    ASSERT_EQ_INT(prev, 1999);
    pr_log_reader_close(r);
    /* a saved position retention dropped: start at the oldest kept */
    pr_log_start st = {.kind = PR_LOG_AFTER_POS, .after = first};
    ASSERT_OK(pr_log_reader_open(log, &st, &r, &err));
    ASSERT_EQ_INT(pr_log_reader_skipped(r), 1);
    ASSERT_OK(pr_log_next(r, &rec, &err));
    ASSERT_EQ_INT(rec_index(&rec), 2000 - (long)s.records);
    pr_log_reader_close(r);
    pr_log_close(log);
}

TEST(malformed_entries) {
    pr_err err;
    pr_event_log *log = open_log("bad", "", PR_LOG_WRITE);
    append_i(log, 0, 10);
    redisContext *ctx = direct();
    redisReply *a = redisCommand(ctx, "XADD bad * t 1 ts notanumber p x");
    redisReply *b = redisCommand(ctx, "XADD bad * t 1 ts 5");
    ASSERT_TRUE(a && a->type == REDIS_REPLY_STRING && b && b->type == REDIS_REPLY_STRING);
    char bad_id[64];
    snprintf(bad_id, sizeof bad_id, "entry %s", a->str);
    freeReplyObject(a);
    freeReplyObject(b);
    redisFree(ctx);
    append_i(log, 1, 11);

    pr_log_reader *r;
    pr_log_record rec;
    ASSERT_OK(pr_log_reader_open(log, NULL, &r, &err));
    ASSERT_OK(pr_log_next(r, &rec, &err));
    ASSERT_STATUS(pr_log_next(r, &rec, &err), PR_ERR_FORMAT);
    ASSERT_CONTAINS(err.msg, bad_id);
    ASSERT_CONTAINS(err.msg, "ts");
    ASSERT_STATUS(pr_log_next(r, &rec, &err), PR_ERR_FORMAT); /* stays there */
    pr_log_reader_close(r);

    pr_log_start st = {.kind = PR_LOG_FROM_START, .skip_corrupt = 1};
    ASSERT_OK(pr_log_reader_open(log, &st, &r, &err));
    ASSERT_OK(pr_log_next(r, &rec, &err));
    ASSERT_EQ_INT(rec_index(&rec), 0);
    ASSERT_OK(pr_log_next(r, &rec, &err));
    ASSERT_EQ_INT(rec_index(&rec), 1);
    ASSERT_STATUS(pr_log_next(r, &rec, &err), PR_EOF);
    ASSERT_EQ_INT(pr_log_reader_corrupt(r), 2);
    pr_log_reader_close(r);
    pr_log_close(log);
}

/* Threads sharing one handle append on several connections at once:
 * every record arrives once, each thread's in its order, and positions
 * grow in the stream's order. */
typedef struct tjob {
    pr_event_log *log;
    int t;
} tjob;

static void *append_thread(void *p) {
    tjob *j = p;
    pr_err err;
    for (int i = 0; i < 500; i++) {
        char buf[2][32];
        pr_log_entry e[2];
        int k = 1 + (i & 1);
        for (int q = 0; q < k; q++) {
            int n = snprintf(buf[q], sizeof buf[q], "rec-%d", j->t * 100000 + i * 2 + q);
            e[q] = (pr_log_entry){(uint32_t)j->t, 0, pr_bytes_of(buf[q], (size_t)n)};
        }
        if (pr_log_append(j->log, e, (uint32_t)k, NULL, &err) != PR_OK) TEST_FAIL("%s", err.msg);
    }
    return NULL;
}

TEST(threads_share_a_handle) {
    pr_err err;
    pr_event_log *log = open_log("threads", "", PR_LOG_WRITE);
    pthread_t th[6];
    tjob jobs[6];
    for (int t = 0; t < 6; t++) {
        jobs[t] = (tjob){log, t};
        pthread_create(&th[t], NULL, append_thread, &jobs[t]);
    }
    for (int t = 0; t < 6; t++) pthread_join(th[t], NULL);
    pr_log_stats s;
    pr_log_stats_get(log, &s);
    ASSERT_EQ_INT(s.appended, 6 * 750);
    pr_log_reader *r;
    pr_log_record rec;
    long last[6] = {-1, -1, -1, -1, -1, -1}, n = 0;
    pr_log_pos prev = {0, 0};
    ASSERT_OK(pr_log_reader_open(log, NULL, &r, &err));
    while (pr_log_next(r, &rec, &err) == PR_OK) {
        long i = rec_index(&rec);
        ASSERT_TRUE(rec.type < 6 && i / 100000 == (long)rec.type);
        i %= 100000;
        ASSERT_TRUE(i > last[rec.type]); /* in the thread's order */
        last[rec.type] = i;
        ASSERT_TRUE(pr_log_pos_cmp(rec.pos, prev) > 0);
        prev = rec.pos;
        n++;
    }
    ASSERT_EQ_INT(n, 6 * 750);
    pr_log_reader_close(r);
    pr_log_close(log);
}

/* Reads up to n records of consumer c; returns the index of the last. */
static long consume(pr_log_reader *r, long n, long expect_first, pr_log_pos *last) {
    pr_err err;
    pr_log_record rec;
    long got = -1;
    for (long k = 0; k < n; k++) {
        ASSERT_OK(pr_log_next(r, &rec, &err));
        got = rec_index(&rec);
        ASSERT_EQ_INT(got, expect_first + k);
        *last = rec.pos;
    }
    return got;
}

typedef struct listed {
    int n;
    char names[4][PR_LOG_CONSUMER_MAX + 1], metas[4][32];
    pr_log_pos pos[4];
} listed;

static int list_one(void *ctx, const pr_log_consumer_info *c) {
    listed *l = ctx;
    if (l->n == 4) return 1;
    snprintf(l->names[l->n], sizeof l->names[l->n], "%s", c->name);
    snprintf(l->metas[l->n], sizeof l->metas[l->n], "%s", c->meta);
    l->pos[l->n++] = c->pos;
    return 0;
}

TEST(consumer_resume_and_claim) {
    pr_err err;
    pr_event_log *log = open_log("cg", "claim_ms=100", PR_LOG_WRITE);
    for (long i = 0; i < 100; i++) append_i(log, i, i);
    pr_log_start st = {.kind = PR_LOG_CONSUMER, .consumer = "joiner"};
    pr_log_reader *r;
    pr_log_record rec;
    pr_log_pos p30, p50;
    ASSERT_OK(pr_log_reader_open(log, &st, &r, &err));
    ASSERT_TRUE(pr_log_reader_commit_meta(r) == NULL);
    consume(r, 31, 0, &p30);
    ASSERT_OK(pr_log_commit(r, p30, "cut=30", &err));
    consume(r, 20, 31, &p50); /* delivered, not committed */
    ASSERT_STATUS(pr_log_commit(r, p30, "older", &err), PR_OK); /* same position again */
    pr_log_pos before = p30;
    before.b = 0;
    before.a -= 1;
    ASSERT_STATUS(pr_log_commit(r, before, "", &err), PR_ERR_INVALID);
    pr_log_reader_close(r);

    /* reopen: right after the commit, with its meta */
    ASSERT_OK(pr_log_reader_open(log, &st, &r, &err));
    ASSERT_EQ_STR(pr_log_reader_commit_meta(r), "older");
    consume(r, 69, 31, &p50);
    ASSERT_STATUS(pr_log_next(r, &rec, &err), PR_EOF);
    ASSERT_OK(pr_log_commit(r, p50, "all", &err));
    append_i(log, 100, 100);
    ASSERT_OK(pr_log_next(r, &rec, &err)); /* tail -f on a group */
    ASSERT_EQ_INT(rec_index(&rec), 100);
    ASSERT_OK(pr_log_commit(r, rec.pos, "", &err));
    pr_log_reader_close(r);
    ASSERT_OK(pr_log_reader_open(log, &st, &r, &err));
    ASSERT_EQ_STR(pr_log_reader_commit_meta(r), "");
    ASSERT_STATUS(pr_log_next(r, &rec, &err), PR_EOF);
    pr_log_reader_close(r);

    /* Another consumer of the group took two entries and died: once they
     * are idle longer than claim_ms, the reader takes them over. */
    for (long i = 101; i < 104; i++) append_i(log, i, i);
    redisContext *ctx = direct();
    redisReply *x = redisCommand(ctx, "XREADGROUP GROUP joiner ghost COUNT 2 STREAMS cg >");
    ASSERT_TRUE(x && x->type == REDIS_REPLY_ARRAY);
    freeReplyObject(x);
    ASSERT_OK(pr_log_reader_open(log, &st, &r, &err));
    ASSERT_OK(pr_log_next(r, &rec, &err)); /* not idle yet: only the third */
    ASSERT_EQ_INT(rec_index(&rec), 103);
    ASSERT_STATUS(pr_log_next(r, &rec, &err), PR_EOF);
    pr_log_reader_close(r);
    sleep_ms(150);
    ASSERT_OK(pr_log_reader_open(log, &st, &r, &err));
    ASSERT_OK(pr_log_next(r, &rec, &err)); /* its own pending first */
    ASSERT_EQ_INT(rec_index(&rec), 103);
    consume(r, 2, 101, &p50); /* then the ghost's */
    ASSERT_STATUS(pr_log_next(r, &rec, &err), PR_EOF);
    ASSERT_OK(pr_log_commit(r, rec.pos, NULL, &err)); /* 103: acks 101..103 */
    pr_log_reader_close(r);
    x = redisCommand(ctx, "XPENDING cg joiner");
    ASSERT_TRUE(x && x->type == REDIS_REPLY_ARRAY && x->element[0]->type == REDIS_REPLY_INTEGER);
    ASSERT_EQ_INT(x->element[0]->integer, 0);
    freeReplyObject(x);

    /* the consumers and their commits, in name order */
    ASSERT_OK(pr_log_reader_open(log, &(pr_log_start){.kind = PR_LOG_CONSUMER, .consumer = "a-first"},
                                 &r, &err));
    ASSERT_OK(pr_log_next(r, &rec, &err));
    ASSERT_OK(pr_log_commit(r, rec.pos, "m\nx", &err));
    pr_log_reader_close(r);
    listed n_listed = {0};
    ASSERT_OK(pr_log_consumers(log, list_one, &n_listed, &err));
    ASSERT_EQ_INT(n_listed.n, 2);
    ASSERT_EQ_STR(n_listed.names[0], "a-first");
    ASSERT_EQ_STR(n_listed.metas[0], "m\nx");
    ASSERT_EQ_INT(pr_log_pos_cmp(n_listed.pos[0], rec.pos), 0);
    ASSERT_EQ_STR(n_listed.names[1], "joiner");
    ASSERT_EQ_STR(n_listed.metas[1], "");
    x = redisCommand(ctx, "HSET cg:consumers broken nonsense");
    freeReplyObject(x);
    ASSERT_STATUS(pr_log_consumers(log, list_one, &n_listed, &err), PR_ERR_FORMAT);
    ASSERT_CONTAINS(err.msg, "broken");
    redisFree(ctx);

    /* a plain reader cannot commit */
    ASSERT_OK(pr_log_reader_open(log, NULL, &r, &err));
    ASSERT_STATUS(pr_log_commit(r, p50, NULL, &err), PR_ERR_INVALID);
    pr_log_reader_close(r);
    pr_log_close(log);
}

/* The group vanishes under a reader (XGROUP DESTROY; as after a Redis
 * restart without AOF that kept the stream): the reader recreates it after
 * its last commit and goes on without repeating what it handed out; a new
 * reader starts after the commit. */
TEST(consumer_group_lost) {
    pr_err err;
    pr_event_log *log = open_log("gl", "", PR_LOG_WRITE);
    append_range(log, 0, 2500);
    pr_log_start st = {.kind = PR_LOG_CONSUMER, .consumer = "g"};
    pr_log_reader *r;
    pr_log_record rec;
    pr_log_pos p;
    ASSERT_OK(pr_log_reader_open(log, &st, &r, &err));
    consume(r, 1200, 0, &p);
    ASSERT_OK(pr_log_commit(r, p, "1199", &err));
    consume(r, 100, 1200, &p); /* the rest of the batch stays buffered */
    redisContext *ctx = direct();
    redisReply *x = redisCommand(ctx, "XGROUP DESTROY gl g");
    ASSERT_TRUE(x && x->type == REDIS_REPLY_INTEGER && x->integer == 1);
    freeReplyObject(x);
    redisFree(ctx);
    consume(r, 1200, 1300, &p); /* 1300..1999 buffered, then NOGROUP: recreated */
    ASSERT_STATUS(pr_log_next(r, &rec, &err), PR_EOF);
    pr_log_reader_close(r);
    ASSERT_OK(pr_log_reader_open(log, &st, &r, &err));
    ASSERT_EQ_STR(pr_log_reader_commit_meta(r), "1199");
    consume(r, 1300, 1200, &p);
    ASSERT_STATUS(pr_log_next(r, &rec, &err), PR_EOF);
    pr_log_reader_close(r);
    pr_log_close(log);
}

/* kill -9 of a consuming child at random instants. The child reads the
 * consumer "k9" and commits after random runs of records with the last
 * index as meta; each trial appends more records first. After each kill a
 * fresh reader of "k9" must start from its meta's successor: every uncommitted record again, nothing committed
 * twice; it reads on without committing (those become pending again for
 * the next child). */
TEST(consumer_kill9) {
    pr_err err;
    enum { PER_TRIAL = 4000 };
    int TRIALS = trials(8);
    pr_event_log *log = open_log("k9", "", PR_LOG_WRITE);
    long N = 0;
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16);
    fprintf(stderr, "consumer_kill9 seed %llu\n", (unsigned long long)seed);
    pr_log_start st = {.kind = PR_LOG_CONSUMER, .consumer = "k9"};
    long committed = -1;
    for (int t = 0; t < TRIALS; t++) {
        /* more records each trial, so that every child has some to read */
        append_range(log, N, N + PER_TRIAL);
        N += PER_TRIAL;
        uint64_t child_seed = pr_splitmix64(&seed);
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
            pr_event_log *cl;
            pr_log_reader *r;
            pr_log_record rec;
            if (pr_log_open(uri_of("k9", ""), PR_LOG_READ, &cl, &err) != PR_OK) _exit(2);
            if (pr_log_reader_open(cl, &st, &r, &err) != PR_OK) _exit(3);
            const char *m = pr_log_reader_commit_meta(r);
            long next = m ? strtol(m, NULL, 10) + 1 : 0;
            uint64_t s = child_seed;
            for (;;) {
                long run = 1 + (long)(pr_splitmix64(&s) % 40);
                for (long k = 0; k < run; k++) {
                    pr_status ps = pr_log_next(r, &rec, &err);
                    if (ps == PR_EOF) _exit(0);
                    if (ps != PR_OK || rec_index(&rec) != next) _exit(4);
                    next++;
                }
                char meta[32];
                snprintf(meta, sizeof meta, "%ld", next - 1);
                if (pr_log_commit(r, rec.pos, meta, &err) != PR_OK) _exit(5);
            }
        }
        sleep_ms(5 + (int)(pr_splitmix64(&seed) % 120));
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
            TEST_FAIL("trial %d: child exited with %d", t, WEXITSTATUS(status));
        fprintf(stderr, "trial %d: child %s\n", t, WIFEXITED(status) ? "exited" : "killed");
        pr_log_reader *r;
        pr_log_record rec;
        ASSERT_OK(pr_log_reader_open(log, &st, &r, &err));
        const char *m = pr_log_reader_commit_meta(r);
        long now = m ? strtol(m, NULL, 10) : -1;
        fprintf(stderr, "trial %d: committed up to %ld (before: %ld)\n", t, now, committed);
        ASSERT_TRUE(now >= committed);
        committed = now;
        for (long i = committed + 1; i < N; i++) {
            ASSERT_OK(pr_log_next(r, &rec, &err));
            ASSERT_EQ_INT(rec_index(&rec), i);
        }
        ASSERT_STATUS(pr_log_next(r, &rec, &err), PR_EOF);
        pr_log_reader_close(r);
    }
    pr_log_close(log);
}

/* ------------------------------------------------ server killed mid-append */

typedef struct writer {
    pr_event_log *log;
    int stop;               /* atomic */
    long next;              /* next index to write (atomic) */
    unsigned char *acked;   /* acked[i]: append of i returned PR_OK */
    long cap;
    long failed;            /* appends that failed (atomic) */
    int wrong;              /* an append failed with another status */
    char last_error[PR_ERR_MSG_MAX];
} writer;

static void *write_loop(void *p) {
    writer *w = p;
    uint64_t s = 7;
    while (!__atomic_load_n(&w->stop, __ATOMIC_RELAXED) && w->next + 20 < w->cap) {
        uint32_t k = 1 + (uint32_t)(pr_splitmix64(&s) % 8);
        pr_log_entry e[8];
        char buf[8][32];
        for (uint32_t q = 0; q < k; q++) {
            int n = snprintf(buf[q], sizeof buf[q], "rec-%ld", w->next + q);
            e[q] = (pr_log_entry){1, w->next + q, pr_bytes_of(buf[q], (size_t)n)};
        }
        pr_err err;
        pr_status st = pr_log_append(w->log, e, k, NULL, &err);
        if (st == PR_OK) {
            for (uint32_t q = 0; q < k; q++) __atomic_store_n(&w->acked[w->next + q], 1, __ATOMIC_RELAXED);
        } else {
            if (st != PR_ERR_IO) {
                snprintf(w->last_error, sizeof w->last_error, "not PR_ERR_IO: %.400s", err.msg);
                w->wrong = 1;
                return NULL;
            }
            __atomic_fetch_add(&w->failed, 1, __ATOMIC_RELAXED);
            memcpy(w->last_error, err.msg, sizeof err.msg);
            sleep_ms(2);
        }
        __atomic_store_n(&w->next, w->next + k, __ATOMIC_RELAXED); /* a failed index is never written again */
    }
    return NULL;
}

TEST(server_killed_mid_append) {
    pr_err err;
    enum { CAP = 400000 };
    writer w = {0};
    w.cap = CAP;
    w.acked = calloc(CAP, 1);
    ASSERT_TRUE(w.acked);
    stop_server();
    start_server(1);
    w.log = open_log("crash", "connect_timeout_ms=200", PR_LOG_WRITE);
    uint64_t seed = (uint64_t)time(NULL);
    char hostport[64];
    snprintf(hostport, sizeof hostport, "127.0.0.1:%d", srv.port);
    for (int t = 0, n_trials = trials(3); t < n_trials; t++) {
        pthread_t th;
        w.stop = 0;
        long failed_before = w.failed;
        pthread_create(&th, NULL, write_loop, &w);
        sleep_ms(30 + (int)(pr_splitmix64(&seed) % 100));
        redis_child_stop(&srv, SIGKILL);
        long at_kill = __atomic_load_n(&w.next, __ATOMIC_RELAXED);
        for (int i = 0; i < 100 && __atomic_load_n(&w.failed, __ATOMIC_RELAXED) < failed_before + 3; i++)
            sleep_ms(10);
        start_server(1);
        long at_restart = __atomic_load_n(&w.next, __ATOMIC_RELAXED);
        /* the writer recovers by itself */
        for (int i = 0; i < 200; i++) {
            sleep_ms(10);
            long a = 0, end = __atomic_load_n(&w.next, __ATOMIC_RELAXED);
            for (long j = at_restart; j < end; j++) a += __atomic_load_n(&w.acked[j], __ATOMIC_RELAXED);
            if (a > 50) break;
        }
        __atomic_store_n(&w.stop, 1, __ATOMIC_RELAXED);
        pthread_join(th, NULL);
        if (w.wrong) TEST_FAIL("%s", w.last_error);
        ASSERT_TRUE(w.failed >= failed_before + 3); /* while down */
        long after = 0;
        for (long j = at_restart; j < w.next; j++) after += w.acked[j];
        fprintf(stderr, "trial %d: killed at %ld, %ld failed appends, %ld acked after restart\n", t,
                at_kill, w.failed - failed_before, after);
        ASSERT_TRUE(after > 0);
    }
    ASSERT_CONTAINS(w.last_error, hostport); /* the last failure names the server */
    pr_log_close(w.log);
    /* every acknowledged index exactly once, no index twice */
    pr_event_log *log = open_log("crash", "", PR_LOG_READ);
    unsigned char *seen = calloc(CAP, 1);
    pr_log_reader *r;
    pr_log_record rec;
    ASSERT_OK(pr_log_reader_open(log, NULL, &r, &err));
    long total = 0, unacked_present = 0;
    pr_status ps;
    while ((ps = pr_log_next(r, &rec, &err)) == PR_OK) {
        long i = rec_index(&rec);
        ASSERT_TRUE(i >= 0 && i < CAP);
        if (seen[i]) TEST_FAIL("record %ld is in the stream twice", i);
        seen[i] = 1;
        if (!w.acked[i]) unacked_present++;
        total++;
    }
    ASSERT_EQ_INT(ps, PR_EOF);
    long acked = 0;
    for (long i = 0; i < CAP; i++) {
        if (w.acked[i] && !seen[i]) TEST_FAIL("acknowledged record %ld is lost", i);
        acked += w.acked[i];
    }
    fprintf(stderr, "%ld acknowledged, %ld in the stream (%ld unacknowledged but applied)\n", acked,
            total, unacked_present);
    pr_log_reader_close(r);
    pr_log_close(log);
    free(seen);
    free(w.acked);
}

/* A consumer reading across a server crash and restart (AOF always keeps
 * the group and its pending entries): PR_ERR_IO naming the server while
 * down, then it goes on by itself, each record once, and a reopen after
 * the last commit finds nothing left. */
TEST(consumer_across_restart) {
    pr_err err;
    char hostport[64];
    snprintf(hostport, sizeof hostport, "127.0.0.1:%d", srv.port);
    pr_event_log *log = open_log("cr", "connect_timeout_ms=200", PR_LOG_WRITE);
    append_range(log, 0, 3000);
    pr_log_start st = {.kind = PR_LOG_CONSUMER, .consumer = "c"};
    pr_log_reader *r;
    pr_log_record rec;
    pr_log_pos p;
    ASSERT_OK(pr_log_reader_open(log, &st, &r, &err));
    consume(r, 500, 0, &p);
    ASSERT_OK(pr_log_commit(r, p, "499", &err));
    consume(r, 10, 500, &p); /* delivered, pending */
    redis_child_stop(&srv, SIGKILL);
    long next = 510;
    pr_status ps;
    while ((ps = pr_log_next(r, &rec, &err)) == PR_OK) { /* what the reader holds */
        ASSERT_EQ_INT(rec_index(&rec), next);
        next++;
    }
    ASSERT_EQ_INT(ps, PR_ERR_IO);
    ASSERT_CONTAINS(err.msg, hostport);
    ASSERT_TRUE(next <= 1000);
    ASSERT_STATUS(pr_log_append(log, &(pr_log_entry){1, 0, pr_bytes_of("x", 1)}, 1, NULL, &err),
                  PR_ERR_IO);
    ASSERT_CONTAINS(err.msg, hostport);
    start_server(1);
    for (int tries = 0; next < 3000 && tries < 300;) {
        ps = pr_log_next(r, &rec, &err);
        if (ps == PR_ERR_IO) {
            tries++;
            sleep_ms(10);
            continue;
        }
        ASSERT_EQ_INT(ps, PR_OK);
        ASSERT_EQ_INT(rec_index(&rec), next);
        next++;
    }
    ASSERT_EQ_INT(next, 3000);
    ASSERT_STATUS(pr_log_next(r, &rec, &err), PR_EOF);
    ASSERT_OK(pr_log_commit(r, rec.pos, "2999", &err));
    pr_log_reader_close(r);
    ASSERT_OK(pr_log_reader_open(log, &st, &r, &err));
    ASSERT_EQ_STR(pr_log_reader_commit_meta(r), "2999");
    ASSERT_STATUS(pr_log_next(r, &rec, &err), PR_EOF);
    pr_log_reader_close(r);
    pr_log_close(log);
}

int main(void) {
    snprintf(srv.dir, sizeof srv.dir, "%.100s", test_tmpdir());
    snprintf(srv.sock, sizeof srv.sock, "%.100s/redis.sock", test_tmpdir());
    srv.port = redis_free_port();
    start_server(0);
    snprintf(base_uri, sizeof base_uri, "redis-stream:127.0.0.1:%d", srv.port);
    RUN(uri_refusals);
    RUN(round_trip_binary);
    RUN(start_kinds_and_tail);
    RUN(maxlen_retention);
    RUN(threads_share_a_handle);
    RUN(malformed_entries);
    RUN(consumer_resume_and_claim);
    RUN(consumer_group_lost);
    RUN(consumer_kill9);
    RUN(server_killed_mid_append);
    RUN(consumer_across_restart);
    TEST_MAIN_END();
}
