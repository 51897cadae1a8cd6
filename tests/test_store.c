/*
 * test_store.c: the pr_store contract, every test run against every backend
 * (the loop in for_each_backend: mem, lmdb, and redis against a real
 * redis-server this test starts), plus sweeping and counters on every
 * backend, the mem: table's incremental growth, and LMDB-only tests for
 * persistence, bad paths and a reader running while another thread writes.
 * Redis-only behaviour (URI grammar, dead servers, restarts, timeouts) is in
 * test_store_redis.c.
 *
 * Each redis store gets its own key prefix on one shared server, so stores
 * never see each other's rows. Without redis-server installed the test
 * fails, naming the package.
 */
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>

#include "pronto/store.h"
#include "store/store_int.h"
#include "store_redis_server.h"
#include "test.h"

static int uri_counter;
static redis_child server;

static void stop_server(void) { redis_child_stop(&server, SIGTERM); }

/* The shared redis-server, started on first use, stopped at exit. */
static const char *server_sock(void) {
    if (!server.pid) {
        char why[512];
        snprintf(server.dir, sizeof server.dir, "%.100s", test_tmpdir());
        snprintf(server.sock, sizeof server.sock, "%.100s/redis.sock", test_tmpdir());
        server.port = 0;
        if (redis_child_start(&server, why, sizeof why) != 0) TEST_FAIL("%s", why);
        atexit(stop_server);
    }
    return server.sock;
}

/* A fresh, empty store of the named backend. */
static pr_store *open_fresh(const char *backend) {
    pr_err err;
    pr_store *s = NULL;
    char uri[600];
    if (strcmp(backend, "mem") == 0) {
        snprintf(uri, sizeof uri, "mem:");
    } else if (strcmp(backend, "redis") == 0) {
        const char *sock = server_sock();
        snprintf(uri, sizeof uri, "redis:unix:%s?prefix=t%d:&timeout_ms=2000", sock, uri_counter++);
    } else {
        char name[64];
        snprintf(name, sizeof name, "lmdb-%d", uri_counter++);
        snprintf(uri, sizeof uri, "lmdb:%s", test_path(name));
    }
    ASSERT_OK(pr_store_open(uri, &s, &err));
    ASSERT_EQ_STR(pr_store_backend(s), backend);
    return s;
}

static pr_bytes B(const char *s) { return pr_bytes_of(s, strlen(s)); }

#define ASSERT_ROW(row, bytes, n)                                           \
    do {                                                                    \
        pr_bytes r_ = (row);                                                \
        ASSERT_TRUE(r_.ptr != NULL);                                        \
        ASSERT_EQ_INT(r_.len, (n));                                         \
        ASSERT_TRUE((n) == 0 || memcmp(r_.ptr, (bytes), (n)) == 0);         \
    } while (0)

static void roundtrip(pr_store *s) {
    pr_err err;
    pr_bytes row;
    const char bin[] = {0, 1, (char)0xff, 0, '\n', 0};
    ASSERT_OK(pr_store_put(s, B("user:1"), B("ctr"), B("0.25"), 0, &err));
    ASSERT_OK(pr_store_put(s, B("user:1"), B("bin"), pr_bytes_of(bin, sizeof bin), 0, &err));
    ASSERT_OK(pr_store_put(s, B("user:1"), B("empty"), pr_bytes_of(NULL, 0), 0, &err));
    ASSERT_OK(pr_store_put(s, pr_bytes_of(NULL, 0), pr_bytes_of(NULL, 0), B("root"), 0, &err));
    ASSERT_OK(pr_store_get(s, B("user:1"), B("ctr"), 100, &row, &err));
    ASSERT_ROW(row, "0.25", 4);
    ASSERT_OK(pr_store_get(s, B("user:1"), B("bin"), 100, &row, &err));
    ASSERT_ROW(row, bin, sizeof bin);
    ASSERT_OK(pr_store_get(s, B("user:1"), B("empty"), 100, &row, &err));
    ASSERT_ROW(row, "", 0);
    ASSERT_OK(pr_store_get(s, pr_bytes_of(NULL, 0), pr_bytes_of(NULL, 0), 100, &row, &err));
    ASSERT_ROW(row, "root", 4);
    /* The composite key is length-prefixed: ("user:1","ctr") is not
     * ("user:1c","tr") nor ("user:","1ctr"). */
    ASSERT_STATUS(pr_store_get(s, B("user:1c"), B("tr"), 100, &row, &err), PR_ERR_NOTFOUND);
    ASSERT_STATUS(pr_store_get(s, B("user:"), B("1ctr"), 100, &row, &err), PR_ERR_NOTFOUND);
    ASSERT_TRUE(row.ptr == NULL && row.len == 0);
}

static void overwrite_and_del(pr_store *s) {
    pr_err err;
    pr_bytes row;
    ASSERT_OK(pr_store_put(s, B("ad:7"), B("f"), B("first, longer value"), 0, &err));
    ASSERT_OK(pr_store_put(s, B("ad:7"), B("f"), B("2nd"), 0, &err));
    ASSERT_OK(pr_store_get(s, B("ad:7"), B("f"), 1, &row, &err));
    ASSERT_ROW(row, "2nd", 3);
    ASSERT_OK(pr_store_del(s, B("ad:7"), B("f"), &err));
    ASSERT_STATUS(pr_store_get(s, B("ad:7"), B("f"), 1, &row, &err), PR_ERR_NOTFOUND);
    ASSERT_STATUS(pr_store_del(s, B("ad:7"), B("f"), &err), PR_ERR_NOTFOUND);
    ASSERT_STATUS(pr_store_get(s, B("nobody"), B("x"), 1, &row, &err), PR_ERR_NOTFOUND);
    ASSERT_CONTAINS(err.msg, "not found");
}

static void ttl(pr_store *s) {
    pr_err err;
    pr_bytes row;
    ASSERT_OK(pr_store_put(s, B("u"), B("k"), B("v"), 1000, &err));
    ASSERT_OK(pr_store_get(s, B("u"), B("k"), 999, &row, &err));
    ASSERT_ROW(row, "v", 1);
    ASSERT_STATUS(pr_store_get(s, B("u"), B("k"), 1000, &row, &err), PR_ERR_NOTFOUND);
    ASSERT_STATUS(pr_store_get(s, B("u"), B("k"), 5000, &row, &err), PR_ERR_NOTFOUND);
    /* A put revives the key with a new expiry; 0 means never. */
    ASSERT_OK(pr_store_put(s, B("u"), B("k"), B("w"), 0, &err));
    ASSERT_OK(pr_store_get(s, B("u"), B("k"), INT64_MAX, &row, &err));
    ASSERT_ROW(row, "w", 1);
    ASSERT_STATUS(pr_store_put(s, B("u"), B("k"), B("w"), -1, &err), PR_ERR_INVALID);
}

static void batch(pr_store *s) {
    pr_err err;
    pr_bytes keys[5] = {B("a"), B("b"), B("c"), B("d"), B("a")};
    pr_bytes vals[3] = {B("A"), B(""), B("CCC")};
    pr_bytes out[5];
    ASSERT_OK(pr_store_put_batch(s, B("e"), keys, vals, 3, 0, &err));
    ASSERT_OK(pr_store_put(s, B("e"), B("d"), B("D"), 50, &err));
    ASSERT_OK(pr_store_get_batch(s, B("e"), keys, 5, 60, out, &err));
    ASSERT_ROW(out[0], "A", 1);
    ASSERT_ROW(out[1], "", 0);
    ASSERT_ROW(out[2], "CCC", 3);
    ASSERT_TRUE(out[3].ptr == NULL && out[3].len == 0); /* expired */
    ASSERT_ROW(out[4], "A", 1);                          /* repeated key */
    keys[2] = B("zz");
    ASSERT_OK(pr_store_get_batch(s, B("e"), keys, 3, 0, out, &err));
    ASSERT_TRUE(out[2].ptr == NULL && out[2].len == 0);
    ASSERT_OK(pr_store_get_batch(s, B("e"), keys, 0, 0, NULL, &err));
}

/* Rows of several entities in one call; the same key under two entities
 * stays two rows. */
static void multi(pr_store *s) {
    pr_err err;
    ASSERT_OK(pr_store_put(s, B("user"), B("7"), B("U7"), 0, &err));
    ASSERT_OK(pr_store_put(s, B("ad"), B("7"), B("A7"), 0, &err));
    ASSERT_OK(pr_store_put(s, B("ad"), B("8"), B("A8"), 10, &err));
    pr_bytes ents[5] = {B("user"), B("ad"), B("ad"), B("ad"), B("site")};
    pr_bytes keys[5] = {B("7"), B("7"), B("8"), B("9"), B("7")};
    pr_bytes out[5];
    ASSERT_OK(pr_store_get_multi(s, ents, keys, 5, 5, out, &err));
    ASSERT_ROW(out[0], "U7", 2);
    ASSERT_ROW(out[1], "A7", 2);
    ASSERT_ROW(out[2], "A8", 2);
    ASSERT_TRUE(out[3].ptr == NULL && out[4].ptr == NULL);
    ASSERT_OK(pr_store_get_multi(s, ents, keys, 3, 20, out, &err));
    ASSERT_TRUE(out[2].ptr == NULL); /* expired at 10 */
    ASSERT_ROW(out[0], "U7", 2);
}

/* Rows of several entities, each with its own expiry, in one call; a
 * repeated key keeps its last value; one bad row and nothing is written. */
static void put_multi(pr_store *s) {
    pr_err err;
    pr_bytes ents[4] = {B("user"), B("ad"), B("__pronto"), B("user")};
    pr_bytes keys[4] = {B("7"), B("7"), B("pos"), B("7")};
    pr_bytes vals[4] = {B("U7"), B("A7"), B(""), B("U7b")};
    int64_t exp[4] = {0, 10, 0, 100};
    pr_bytes out[4];
    ASSERT_OK(pr_store_put_multi(s, ents, keys, vals, exp, 4, &err));
    ASSERT_OK(pr_store_get_multi(s, ents, keys, 3, 5, out, &err));
    ASSERT_ROW(out[0], "U7b", 3);
    ASSERT_ROW(out[1], "A7", 2);
    ASSERT_ROW(out[2], "", 0);
    ASSERT_OK(pr_store_get_multi(s, ents, keys, 3, 50, out, &err));
    ASSERT_TRUE(out[1].ptr == NULL);  /* ad 7 expired at 10 */
    ASSERT_ROW(out[0], "U7b", 3);     /* user 7 lives until 100 */
    ASSERT_OK(pr_store_get_multi(s, ents, keys, 1, 100, out, &err));
    ASSERT_TRUE(out[0].ptr == NULL);
    /* A negative expiry or an over-long key anywhere: nothing written. */
    pr_bytes k2[2] = {B("new"), B("new2")};
    pr_bytes e2[2] = {B("user"), B("user")};
    int64_t x2[2] = {0, -1};
    ASSERT_STATUS(pr_store_put_multi(s, e2, k2, vals, x2, 2, &err), PR_ERR_INVALID);
    static char big[PR_STORE_KEY_MAX];
    memset(big, 'k', sizeof big);
    k2[1] = pr_bytes_of(big, sizeof big);
    x2[1] = 0;
    ASSERT_STATUS(pr_store_put_multi(s, e2, k2, vals, x2, 2, &err), PR_ERR_LIMIT);
    ASSERT_OK(pr_store_get_multi(s, e2, k2, 1, 0, out, &err));
    ASSERT_TRUE(out[0].ptr == NULL);
    ASSERT_OK(pr_store_put_multi(s, e2, k2, vals, x2, 0, &err));
}

static void limits(pr_store *s) {
    pr_err err;
    pr_bytes row;
    static char big[PR_STORE_KEY_MAX];
    memset(big, 'k', sizeof big);
    ASSERT_STATUS(pr_store_put(s, B("e"), pr_bytes_of(big, PR_STORE_KEY_MAX - 4), B("v"), 0, &err),
                  PR_ERR_LIMIT);
    ASSERT_CONTAINS(err.msg, "exceed");
    ASSERT_OK(pr_store_put(s, B("e"), pr_bytes_of(big, PR_STORE_KEY_MAX - 5), B("v"), 0, &err));
    ASSERT_OK(pr_store_get(s, B("e"), pr_bytes_of(big, PR_STORE_KEY_MAX - 5), 0, &row, &err));
    ASSERT_ROW(row, "v", 1);
    ASSERT_STATUS(pr_store_get(s, B("e"), pr_bytes_of(NULL, 3), 0, &row, &err), PR_ERR_INVALID);
}

/* 100k keys in batches, then values of 0..64 KiB; every row read back. */
static void many(pr_store *s) {
    enum { N = 100000, BATCH = 10000 };
    pr_err err;
    static pr_bytes keys[BATCH], vals[BATCH], out[BATCH];
    static char kbuf[BATCH][16], vbuf[BATCH][32];
    for (int base = 0; base < N; base += BATCH) {
        for (int i = 0; i < BATCH; i++) {
            int id = base + i;
            keys[i] = pr_bytes_of(kbuf[i], (size_t)snprintf(kbuf[i], 16, "k%d", id));
            vals[i] = pr_bytes_of(vbuf[i], (size_t)snprintf(vbuf[i], 32, "v%d-%d", id, id % 97));
        }
        ASSERT_OK(pr_store_put_batch(s, B("many"), keys, vals, BATCH, 0, &err));
    }
    for (int base = 0; base < N; base += BATCH) {
        for (int i = 0; i < BATCH; i++)
            keys[i] = pr_bytes_of(kbuf[i], (size_t)snprintf(kbuf[i], 16, "k%d", base + i));
        ASSERT_OK(pr_store_get_batch(s, B("many"), keys, BATCH, 0, out, &err));
        for (int i = 0; i < BATCH; i++) {
            char want[32];
            int n = snprintf(want, sizeof want, "v%d-%d", base + i, (base + i) % 97);
            ASSERT_ROW(out[i], want, (size_t)n);
        }
    }
    /* Large values: sizes 0, 1, 4095, 4096, 4097, ..., 65536. */
    static const size_t sizes[] = {0, 1, 4095, 4096, 4097, 30000, 65535, 65536};
    char *big = malloc(65536);
    ASSERT_TRUE(big != NULL);
    for (size_t j = 0; j < sizeof sizes / sizeof sizes[0]; j++) {
        char key[16];
        for (size_t i = 0; i < sizes[j]; i++) big[i] = (char)((i * 131 + j) & 0xff);
        snprintf(key, sizeof key, "big%zu", j);
        ASSERT_OK(pr_store_put(s, B("many"), B(key), pr_bytes_of(big, sizes[j]), 0, &err));
    }
    for (size_t j = 0; j < sizeof sizes / sizeof sizes[0]; j++) {
        char key[16];
        pr_bytes row;
        for (size_t i = 0; i < sizes[j]; i++) big[i] = (char)((i * 131 + j) & 0xff);
        snprintf(key, sizeof key, "big%zu", j);
        ASSERT_OK(pr_store_get(s, B("many"), B(key), 0, &row, &err));
        ASSERT_ROW(row, big, sizes[j]);
    }
    free(big);

    /* Rough latency of a single get on a warm store (information only;
     * fewer for redis, where each is a round trip). */
    double t0 = pr_now();
    const int GETS = strcmp(pr_store_backend(s), "redis") == 0 ? 20000 : 100000;
    size_t total = 0;
    for (int i = 0; i < GETS; i++) {
        char key[16];
        pr_bytes row;
        int n = snprintf(key, sizeof key, "k%d", (int)(((uint64_t)i * 7919u) % N));
        ASSERT_OK(pr_store_get(s, B("many"), pr_bytes_of(key, (size_t)n), 0, &row, &err));
        total += row.len;
    }
    double dt = pr_now() - t0;
    ASSERT_TRUE(total > 0);
    printf("store %s: %.0f ns/get over %d gets of %d keys\n", pr_store_backend(s),
           dt * 1e9 / GETS, GETS, N);
}

/* N rows: a quarter never expire, half expire at 100, a quarter at 200.
 * Sweeps at 150 walk the store in chunks and remove exactly the half; the
 * rows are then gone even for a reader at now = 50, which would have seen
 * them had they only been hidden. */
static void sweep(pr_store *s) {
    enum { N = 2000, CHUNK = 64 };
    static const int64_t expiry[4] = {100, 0, 100, 200};
    pr_err err;
    pr_store_sweep_result r;
    pr_store_stats c;
    static pr_bytes keys[N], vals[N], out[N];
    static char kbuf[N][16];
    for (int q = 0; q < 4; q++) {
        uint32_t n = 0;
        for (int i = q; i < N; i += 4) {
            keys[n] = pr_bytes_of(kbuf[i], (size_t)snprintf(kbuf[i], 16, "s%d", i));
            vals[n++] = B("row");
        }
        ASSERT_OK(pr_store_put_batch(s, B("sw"), keys, vals, n, expiry[q], &err));
    }
    ASSERT_STATUS(pr_store_sweep(s, 150, 0, &r, &err), PR_ERR_INVALID);
    for (int round = 0; round < 2; round++) {
        uint64_t removed = 0;
        int calls = 0;
        do {
            ASSERT_OK(pr_store_sweep(s, 150, CHUNK, &r, &err));
            ASSERT_TRUE(r.removed <= r.examined);
            ASSERT_TRUE(r.examined <= 4 * CHUNK); /* bounded, about max_rows */
            removed += r.removed;
            ASSERT_TRUE(++calls < 100000);
        } while (!r.pass_done);
        ASSERT_EQ_INT(removed, round == 0 ? N / 2 : 0);
        if (strcmp(pr_store_backend(s), "redis") != 0) ASSERT_TRUE(calls >= N / (4 * CHUNK));
    }
    for (int i = 0; i < N; i++) keys[i] = pr_bytes_of(kbuf[i], (size_t)snprintf(kbuf[i], 16, "s%d", i));
    ASSERT_OK(pr_store_get_batch(s, B("sw"), keys, N, 50, out, &err));
    for (int i = 0; i < N; i++) {
        if (expiry[i % 4] == 100) ASSERT_TRUE(out[i].ptr == NULL);
        else ASSERT_ROW(out[i], "row", 3);
    }
    do ASSERT_OK(pr_store_sweep(s, 250, CHUNK, &r, &err)); while (!r.pass_done);
    do ASSERT_OK(pr_store_sweep(s, 250, CHUNK, &r, &err)); while (!r.pass_done);
    ASSERT_OK(pr_store_get_batch(s, B("sw"), keys, N, 0, out, &err));
    for (int i = 0; i < N; i++) {
        if (expiry[i % 4] == 0) ASSERT_ROW(out[i], "row", 3);
        else ASSERT_TRUE(out[i].ptr == NULL);
    }
    pr_store_stats_get(s, &c);
    ASSERT_EQ_INT(c.swept, N / 2 + N / 4);
    ASSERT_EQ_INT(c.failures, 0);
}

/* The counters of pr_store_stats_get move as the calls say. */
static void stats(pr_store *s) {
    pr_err err;
    pr_store_stats c;
    pr_bytes row, out[5];
    pr_bytes keys[5] = {B("a"), B("b"), B("c"), B("x"), B("y")};
    pr_bytes vals[3] = {B("A"), B("B"), B("C")};
    pr_store_stats_get(s, &c);
    ASSERT_EQ_INT(c.gets + c.hits + c.puts + c.dels + c.swept + c.failures + c.reconnects, 0);
    ASSERT_OK(pr_store_put_batch(s, B("st"), keys, vals, 3, 0, &err));
    ASSERT_OK(pr_store_put(s, B("st"), B("d"), B("D"), 10, &err));
    ASSERT_OK(pr_store_get_batch(s, B("st"), keys, 5, 0, out, &err));
    ASSERT_STATUS(pr_store_get(s, B("st"), B("d"), 10, &row, &err), PR_ERR_NOTFOUND);
    ASSERT_OK(pr_store_del(s, B("st"), B("a"), &err));
    ASSERT_STATUS(pr_store_del(s, B("st"), B("a"), &err), PR_ERR_NOTFOUND);
    ASSERT_STATUS(pr_store_put(s, B("st"), B("e"), B("E"), -5, &err), PR_ERR_INVALID);
    pr_store_stats_get(s, &c);
    ASSERT_EQ_INT(c.puts, 4);
    ASSERT_EQ_INT(c.gets, 6);
    ASSERT_EQ_INT(c.hits, 3);
    ASSERT_EQ_INT(c.dels, 1);
    ASSERT_EQ_INT(c.failures, 0); /* not-found and argument errors are not failures */
    ASSERT_EQ_INT(c.reconnects, 0);
    pr_store_stats_get(NULL, &c);
    ASSERT_EQ_INT(c.gets, 0);
}

typedef void (*store_test)(pr_store *s);
static const char *const backends[] = {"mem", "lmdb", "redis"};

static void for_each_backend(store_test t) {
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
        pr_store *s = open_fresh(backends[i]);
        t(s);
        pr_store_close(s);
    }
}

TEST(test_roundtrip) { for_each_backend(roundtrip); }
TEST(test_overwrite_and_del) { for_each_backend(overwrite_and_del); }
TEST(test_ttl) { for_each_backend(ttl); }
TEST(test_batch) { for_each_backend(batch); }
TEST(test_multi) { for_each_backend(multi); }
TEST(test_put_multi) { for_each_backend(put_multi); }
TEST(test_limits) { for_each_backend(limits); }
TEST(test_many) { for_each_backend(many); }
TEST(test_sweep) { for_each_backend(sweep); }
TEST(test_stats) { for_each_backend(stats); }

/* The mem: table grows in bounded steps: while it goes from 1024 buckets
 * past 2^18, no put relinks more than a few dozen entries (one doubling in
 * a single put would relink them all), and rows stay readable mid-rehash. */
TEST(test_mem_incremental_growth) {
    enum { N = 300000 };
    pr_err err;
    pr_store *s = open_fresh("mem");
    pr__store_mem_shape sh;
    pr_bytes row;
    char key[16], val[16];
    long mid_rehash_checks = 0;
    ASSERT_TRUE(pr__store_mem_shape_of(s, &sh));
    ASSERT_EQ_INT(sh.buckets, 1024);
    for (int i = 0; i < N; i++) {
        int kn = snprintf(key, sizeof key, "k%d", i), vn = snprintf(val, sizeof val, "v%d", i);
        ASSERT_OK(pr_store_put(s, B("g"), pr_bytes_of(key, (size_t)kn), pr_bytes_of(val, (size_t)vn), 0, &err));
        ASSERT_TRUE(pr__store_mem_shape_of(s, &sh));
        if (sh.rehashing && i % 7 == 0) {
            int j = (int)(((uint64_t)i * 2654435761u) % (uint64_t)(i + 1));
            kn = snprintf(key, sizeof key, "k%d", j);
            vn = snprintf(val, sizeof val, "v%d", j);
            ASSERT_OK(pr_store_get(s, B("g"), pr_bytes_of(key, (size_t)kn), 0, &row, &err));
            ASSERT_ROW(row, val, (size_t)vn);
            mid_rehash_checks++;
        }
    }
    ASSERT_EQ_INT(sh.count, N);
    ASSERT_TRUE(sh.rehashes >= 8);
    ASSERT_TRUE(sh.max_step_moved <= 128);
    ASSERT_TRUE(mid_rehash_checks > 1000);
    printf("mem: %zu rehashes up to %zu buckets, at most %zu entries relinked by one put, "
           "%ld reads mid-rehash\n",
           sh.rehashes, sh.buckets_new ? sh.buckets_new : sh.buckets, sh.max_step_moved, mid_rehash_checks);
    for (int i = 0; i < N; i += 13) {
        int kn = snprintf(key, sizeof key, "k%d", i), vn = snprintf(val, sizeof val, "v%d", i);
        ASSERT_OK(pr_store_get(s, B("g"), pr_bytes_of(key, (size_t)kn), 0, &row, &err));
        ASSERT_ROW(row, val, (size_t)vn);
    }
    /* Deletes and sweeps while a rehash may be running keep the count. */
    for (int i = 0; i < 1000; i++) {
        int kn = snprintf(key, sizeof key, "k%d", i);
        ASSERT_OK(pr_store_del(s, B("g"), pr_bytes_of(key, (size_t)kn), &err));
    }
    ASSERT_TRUE(pr__store_mem_shape_of(s, &sh));
    ASSERT_EQ_INT(sh.count, N - 1000);
    pr_store_close(s);
}

TEST(test_open_errors) {
    pr_err err;
    pr_store *s = (pr_store *)1;
    ASSERT_STATUS(pr_store_open("rocksdb:/var/db", &s, &err), PR_ERR_INVALID);
    ASSERT_TRUE(s == NULL);
    ASSERT_CONTAINS(err.msg, "rocksdb:/var/db");
    ASSERT_CONTAINS(err.msg, "redis:unix:");
    ASSERT_STATUS(pr_store_open("redisx://h:1", &s, &err), PR_ERR_INVALID);
    ASSERT_STATUS(pr_store_open("mem:x", &s, &err), PR_ERR_INVALID);
    ASSERT_STATUS(pr_store_open("lmdb:", &s, &err), PR_ERR_INVALID);
    ASSERT_STATUS(pr_store_open("lmdb:/nonexistent-pronto/deep/dir", &s, &err), PR_ERR_IO);
    ASSERT_CONTAINS(err.msg, "/nonexistent-pronto/deep/dir");
    ASSERT_CONTAINS(err.msg, "No such file");
    const char *file = test_path("plain-file");
    char uri[600];
    test_write_file(file, "not a directory\n");
    snprintf(uri, sizeof uri, "lmdb:%s", file);
    ASSERT_STATUS(pr_store_open(uri, &s, &err), PR_ERR_IO);
    ASSERT_CONTAINS(err.msg, file);
    ASSERT_TRUE(s == NULL);
    pr_store_close(NULL);
}

TEST(test_lmdb_reopen) {
    pr_err err;
    pr_store *s = NULL;
    pr_bytes row;
    char uri[600];
    snprintf(uri, sizeof uri, "lmdb:%s", test_path("persist"));
    ASSERT_OK(pr_store_open(uri, &s, &err));
    ASSERT_OK(pr_store_put(s, B("user:9"), B("age"), B("41"), 0, &err));
    ASSERT_OK(pr_store_put(s, B("user:9"), B("tmp"), B("x"), 10, &err));
    pr_store_close(s);
    struct stat sb;
    ASSERT_TRUE(stat(test_path("persist/data.mdb"), &sb) == 0);
    ASSERT_OK(pr_store_open(uri, &s, &err));
    ASSERT_OK(pr_store_get(s, B("user:9"), B("age"), 5, &row, &err));
    ASSERT_ROW(row, "41", 2);
    ASSERT_OK(pr_store_get(s, B("user:9"), B("tmp"), 9, &row, &err));
    ASSERT_ROW(row, "x", 1);
    ASSERT_STATUS(pr_store_get(s, B("user:9"), B("tmp"), 10, &row, &err), PR_ERR_NOTFOUND);
    pr_store_close(s);
}

/* A writer thread commits big batches while this thread reads: every read
 * succeeds, sees a whole row (old or new), and some land mid-write. */
typedef struct {
    pr_store *s;
    volatile int writing;  /* 1 while a put_batch is in progress */
    volatile int done;
    int failed;
} writer_arg;

static void *writer_main(void *p) {
    writer_arg *w = p;
    enum { N = 20000 };
    pr_bytes *keys = calloc(N, sizeof *keys), *vals = calloc(N, sizeof *vals);
    char(*kbuf)[16] = calloc(N, 16);
    char *val = calloc(1, 512);
    pr_err err;
    memset(val, 'n', 512);
    for (int i = 0; i < N; i++) {
        keys[i] = pr_bytes_of(kbuf[i], (size_t)snprintf(kbuf[i], 16, "w%d", i));
        vals[i] = pr_bytes_of(val, 512);
    }
    keys[0] = B("hot");
    for (int round = 0; round < 3 && !w->failed; round++) {
        __atomic_store_n(&w->writing, 1, __ATOMIC_SEQ_CST);
        if (pr_store_put_batch(w->s, B("t"), keys, vals, N, 0, &err) != PR_OK) w->failed = 1;
        __atomic_store_n(&w->writing, 0, __ATOMIC_SEQ_CST);
    }
    __atomic_store_n(&w->done, 1, __ATOMIC_SEQ_CST);
    free(keys);
    free(vals);
    free(kbuf);
    free(val);
    return NULL;
}

TEST(test_lmdb_read_during_write) {
    pr_err err;
    pr_store *s = NULL;
    pr_bytes row;
    char uri[600];
    pthread_t th;
    writer_arg w = {0};
    long reads = 0, reads_mid_write = 0;
    snprintf(uri, sizeof uri, "lmdb:%s", test_path("concurrent"));
    ASSERT_OK(pr_store_open(uri, &s, &err));
    ASSERT_OK(pr_store_put(s, B("t"), B("hot"), B("old"), 0, &err));
    w.s = s;
    ASSERT_TRUE(pthread_create(&th, NULL, writer_main, &w) == 0);
    while (!__atomic_load_n(&w.done, __ATOMIC_SEQ_CST)) {
        int mid = __atomic_load_n(&w.writing, __ATOMIC_SEQ_CST);
        ASSERT_OK(pr_store_get(s, B("t"), B("hot"), 0, &row, &err));
        ASSERT_TRUE(row.len == 3 || row.len == 512);
        if (row.len == 512) ASSERT_TRUE(row.ptr[0] == 'n' && row.ptr[511] == 'n');
        else ASSERT_TRUE(memcmp(row.ptr, "old", 3) == 0);
        reads++;
        if (mid && __atomic_load_n(&w.writing, __ATOMIC_SEQ_CST)) reads_mid_write++;
    }
    ASSERT_TRUE(pthread_join(th, NULL) == 0);
    ASSERT_TRUE(!w.failed);
    printf("lmdb: %ld reads, %ld while a write transaction was open\n", reads, reads_mid_write);
    ASSERT_TRUE(reads_mid_write > 0);
    ASSERT_OK(pr_store_get(s, B("t"), B("hot"), 0, &row, &err));
    ASSERT_EQ_INT(row.len, 512);
    pr_store_close(s);
}

int main(void) {
    RUN(test_roundtrip);
    RUN(test_overwrite_and_del);
    RUN(test_ttl);
    RUN(test_batch);
    RUN(test_multi);
    RUN(test_put_multi);
    RUN(test_limits);
    RUN(test_stats);
    RUN(test_sweep);
    RUN(test_many);
    RUN(test_mem_incremental_growth);
    RUN(test_open_errors);
    RUN(test_lmdb_reopen);
    RUN(test_lmdb_read_during_write);
    TEST_MAIN_END();
}
