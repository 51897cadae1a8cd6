/*
 * test_store_redis.c: what only the redis: backend does, against real
 * redis-server processes this test starts and kills: the URI grammar and its
 * refusals, open against dead or silent addresses (bounded by the timeouts),
 * a server killed mid-run (prompt, counted PR_ERR_IO, no hang, fail-fast
 * between reconnect attempts), a server restarted on the same socket (the
 * store recovers by itself), a stopped (hung) server, native expiry, the
 * database number, TCP, and SIGPIPE. The shared contract runs in
 * test_store.c.
 */
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "pronto/store.h"
#include "store/store_redis_int.h"
#include "store_redis_server.h"
#include "test.h"

static pr_bytes B(const char *s) { return pr_bytes_of(s, strlen(s)); }

static redis_child servers[4];
static void stop_servers(void) {
    for (int i = 0; i < 4; i++) redis_child_stop(&servers[i], SIGKILL);
}

/* Starts server i on DIR/rI/redis.sock (and a TCP port if tcp). */
static redis_child *start_server(int i, int tcp) {
    static int registered;
    char why[512];
    redis_child *c = &servers[i];
    snprintf(c->dir, sizeof c->dir, "%.100s/r%d", test_tmpdir(), i);
    mkdir(c->dir, 0700);
    snprintf(c->sock, sizeof c->sock, "%.100s/r%d/redis.sock", test_tmpdir(), i);
    c->port = tcp ? redis_free_port() : 0;
    if (redis_child_start(c, why, sizeof why) != 0) TEST_FAIL("%s", why);
    if (!registered++) atexit(stop_servers);
    return c;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A direct hiredis connection, for looking behind the store's back. */
static redisContext *direct(const redis_child *c) {
    redisContext *ctx = redisConnectUnix(c->sock);
    ASSERT_TRUE(ctx && !ctx->err);
    return ctx;
}

TEST(test_uri_grammar) {
    pr_err err;
    pr__redis_config cfg;
    ASSERT_OK(pr__redis_config_parse("//db.example:6380/2?timeout_ms=50&connect_timeout_ms=75", &cfg, &err));
    ASSERT_EQ_STR(cfg.host, "db.example");
    ASSERT_EQ_INT(cfg.port, 6380);
    ASSERT_EQ_INT(cfg.db, 2);
    ASSERT_EQ_INT(cfg.timeout_ms, 50);
    ASSERT_EQ_INT(cfg.connect_timeout_ms, 75);
    ASSERT_EQ_STR(cfg.prefix, "pronto:");
    ASSERT_EQ_INT(cfg.expire_grace_s, -1);
    ASSERT_EQ_STR(cfg.name, "redis://db.example:6380/2");
    pr__redis_config_free(&cfg);
    ASSERT_OK(pr__redis_config_parse("127.0.0.1:6379", &cfg, &err));
    ASSERT_EQ_STR(cfg.host, "127.0.0.1");
    ASSERT_EQ_INT(cfg.db, 0);
    ASSERT_EQ_INT(cfg.timeout_ms, 100);
    ASSERT_EQ_INT(cfg.connect_timeout_ms, 200);
    pr__redis_config_free(&cfg);
    ASSERT_OK(pr__redis_config_parse("//[::1]:7000", &cfg, &err));
    ASSERT_EQ_STR(cfg.host, "::1");
    ASSERT_EQ_STR(cfg.name, "redis://[::1]:7000/0");
    pr__redis_config_free(&cfg);
    ASSERT_OK(pr__redis_config_parse("unix:/run/redis/r.sock?db=3&prefix=&expire_grace_s=60", &cfg, &err));
    ASSERT_TRUE(cfg.host == NULL);
    ASSERT_EQ_STR(cfg.path, "/run/redis/r.sock");
    ASSERT_EQ_INT(cfg.db, 3);
    ASSERT_EQ_STR(cfg.prefix, "");
    ASSERT_EQ_INT(cfg.prefix_len, 0);
    ASSERT_EQ_INT(cfg.expire_grace_s, 60);
    ASSERT_EQ_STR(cfg.name, "redis:unix:/run/redis/r.sock");
    pr__redis_config_free(&cfg);
    ASSERT_OK(pr__redis_config_parse("//unix:rel.sock?prefix=app*1:", &cfg, &err));
    ASSERT_EQ_STR(cfg.path, "rel.sock");
    ASSERT_EQ_STR(cfg.prefix, "app*1:");
    pr__redis_config_free(&cfg);

    static const struct {
        const char *uri, *want;
    } bad[] = {
        {"redis:", "host is empty"},
        {"redis://", "host is empty"},
        {"redis://:6379", "host is empty"},
        {"redis://localhost", "expected ':PORT' after host 'localhost'"},
        {"redis://localhost:", "port '' is not a number in 1..65535"},
        {"redis://localhost:0", "port '0'"},
        {"redis://localhost:65536", "port '65536'"},
        {"redis://localhost:63x9", "port '63x9'"},
        {"redis://localhost:6379/", "database '' after '/'"},
        {"redis://localhost:6379/-1", "database '-1'"},
        {"redis://localhost:6379/1/2", "database '1/2'"},
        {"redis://user:pw@host:6379", "user:password@ is not supported"},
        {"redis://[::1:6379", "'[' of an IPv6 host has no ']'"},
        {"redis://[::1]6379", "expected ':PORT'"},
        {"redis:unix:", "expected a socket path after 'unix:'"},
        {"redis:unix:?db=1", "expected a socket path after 'unix:'"},
        {"redis:h:1?", "empty option after '?'"},
        {"redis:h:1?timeout_ms=5&", "empty option after '&'"},
        {"redis:h:1?timeout=5", "unknown option 'timeout' (expected connect_timeout_ms"},
        {"redis:h:1?timeout_ms", "option 'timeout_ms' needs '=VALUE'"},
        {"redis:h:1?timeout_ms=0", "timeout_ms '0' is not a number of milliseconds in 1..600000"},
        {"redis:h:1?timeout_ms=fast", "timeout_ms 'fast'"},
        {"redis:h:1?connect_timeout_ms=600001", "connect_timeout_ms '600001'"},
        {"redis:h:1?timeout_ms=5&timeout_ms=6", "option 'timeout_ms' given twice"},
        {"redis:h:1/2?db=3", "option 'db' given twice"},
        {"redis:h:1?db=x", "db 'x' is not a database number"},
        {"redis:h:1?expire_grace_s=-1", "expire_grace_s '-1'"},
        {"redis:h:1?expire_grace_s=99999999999", "expire_grace_s '99999999999'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pr_store *s = (pr_store *)1;
        pr_status st = pr_store_open(bad[i].uri, &s, &err);
        if (st != PR_ERR_INVALID) TEST_FAIL("%s: got %s (%s)", bad[i].uri, pr_status_name(st), err.msg);
        ASSERT_TRUE(s == NULL);
        ASSERT_CONTAINS(err.msg, bad[i].uri);
        ASSERT_CONTAINS(err.msg, bad[i].want);
    }
    char longp[400];
    memset(longp, 'p', sizeof longp);
    snprintf(longp, sizeof longp, "redis:h:1?prefix=%0300d", 7);
    ASSERT_STATUS(pr_store_open(longp, &(pr_store *){NULL}, &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "exceeds 256");
}

/* Open fails fast and says why: no socket file, nothing listening, and a
 * listener that accepts but never answers (bounded by timeout_ms). */
TEST(test_open_dead_addresses) {
    pr_err err;
    pr_store *s = (pr_store *)1;
    char uri[300];
    double t0;

    snprintf(uri, sizeof uri, "redis:unix:%.100s/no-such.sock", test_tmpdir());
    t0 = pr_now();
    ASSERT_STATUS(pr_store_open(uri, &s, &err), PR_ERR_IO);
    ASSERT_TRUE(s == NULL);
    ASSERT_CONTAINS(err.msg, "no-such.sock");
    ASSERT_CONTAINS(err.msg, "cannot connect");
    ASSERT_CONTAINS(err.msg, "No such file");

    int port = redis_free_port();
    ASSERT_TRUE(port > 0);
    snprintf(uri, sizeof uri, "redis://127.0.0.1:%d", port);
    ASSERT_STATUS(pr_store_open(uri, &s, &err), PR_ERR_IO);
    char want[64];
    snprintf(want, sizeof want, "redis://127.0.0.1:%d/0", port);
    ASSERT_CONTAINS(err.msg, want);
    ASSERT_CONTAINS(err.msg, "Connection refused");
    ASSERT_TRUE(pr_now() - t0 < 1.0);

    /* A TCP listener that never accepts nor answers: the kernel completes
     * the connection, then PING waits for timeout_ms and gives up. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_TRUE(bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 8) == 0);
    ASSERT_TRUE(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    snprintf(uri, sizeof uri, "redis:127.0.0.1:%d?timeout_ms=50", ntohs(a.sin_port));
    t0 = pr_now();
    ASSERT_STATUS(pr_store_open(uri, &s, &err), PR_ERR_IO);
    double dt = pr_now() - t0;
    ASSERT_CONTAINS(err.msg, "PING no reply within timeout_ms=50");
    ASSERT_TRUE(dt >= 0.045 && dt < 0.5);
    close(fd);

    /* A listener whose queue is full (backlog 0, never accepting): the
     * kernel drops our SYN, so connecting itself hangs until
     * connect_timeout_ms. */
    int fill[4];
    fd = socket(AF_INET, SOCK_STREAM, 0);
    len = sizeof a;
    a.sin_port = 0;
    ASSERT_TRUE(bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 0) == 0);
    ASSERT_TRUE(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    for (int i = 0; i < 4; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        ASSERT_TRUE(fill[i] >= 0);
        (void)!connect(fill[i], (struct sockaddr *)&a, sizeof a);
    }
    sleep_ms(20);
    snprintf(uri, sizeof uri, "redis://127.0.0.1:%d?connect_timeout_ms=50", ntohs(a.sin_port));
    t0 = pr_now();
    ASSERT_STATUS(pr_store_open(uri, &s, &err), PR_ERR_IO);
    dt = pr_now() - t0;
    ASSERT_CONTAINS(err.msg, "cannot connect (connect_timeout_ms=50)");
    ASSERT_TRUE(dt >= 0.045 && dt < 0.5);
    for (int i = 0; i < 4; i++) close(fill[i]);
    close(fd);
}

/* Kill -9 mid-run: calls fail promptly and are counted, fail fast between
 * reconnect attempts; a new server on the same socket is found by itself. */
TEST(test_server_killed_and_restarted) {
    pr_err err;
    pr_store *s = NULL;
    pr_store_stats c;
    pr_bytes row;
    char uri[300];
    redis_child *srv = start_server(0, 0);
    snprintf(uri, sizeof uri, "redis:unix:%s?timeout_ms=50", srv->sock);
    ASSERT_OK(pr_store_open(uri, &s, &err));
    ASSERT_OK(pr_store_put(s, B("u"), B("1"), B("before"), 0, &err));
    ASSERT_OK(pr_store_get(s, B("u"), B("1"), 0, &row, &err));
    ASSERT_TRUE(row.len == 6 && memcmp(row.ptr, "before", 6) == 0);

    redis_child_stop(srv, SIGKILL);
    double t0 = pr_now();
    ASSERT_STATUS(pr_store_get(s, B("u"), B("1"), 0, &row, &err), PR_ERR_IO);
    ASSERT_TRUE(pr_now() - t0 < 0.5);
    ASSERT_CONTAINS(err.msg, srv->sock);
    ASSERT_TRUE(row.ptr == NULL);
    /* A storm of calls: every one fails, fast, and is counted. */
    enum { STORM = 2000 };
    t0 = pr_now();
    for (int i = 0; i < STORM; i++) {
        pr_status st = i % 2 ? pr_store_put(s, B("u"), B("2"), B("x"), 0, &err)
                             : pr_store_get(s, B("u"), B("1"), 0, &row, &err);
        ASSERT_EQ_INT(st, PR_ERR_IO);
    }
    double storm = pr_now() - t0;
    printf("redis down: %d failed calls in %.1f ms\n", STORM, storm * 1e3);
    ASSERT_TRUE(storm < 2.0);
    ASSERT_CONTAINS(err.msg, "next reconnect attempt in");
    pr_store_stats_get(s, &c);
    ASSERT_EQ_INT(c.failures, STORM + 1);
    ASSERT_EQ_INT(c.reconnects, 0);

    /* Same socket, fresh (empty) server: the store finds it by itself. */
    srv = start_server(0, 0);
    int tries = 0;
    while (pr_store_put(s, B("u"), B("1"), B("after"), 0, &err) != PR_OK) {
        ASSERT_TRUE(++tries < 100);
        sleep_ms(20);
    }
    ASSERT_OK(pr_store_get(s, B("u"), B("1"), 0, &row, &err));
    ASSERT_TRUE(row.len == 5 && memcmp(row.ptr, "after", 5) == 0);
    pr_store_stats_get(s, &c);
    ASSERT_EQ_INT(c.reconnects, 1);
    ASSERT_TRUE(c.failures >= STORM + 1);

    /* A graceful restart between two gets: the get after it retries on a
     * new connection at once and succeeds (reads are safe to repeat). */
    uint64_t failures = c.failures;
    redis_child_stop(srv, SIGTERM);
    srv = start_server(0, 0);
    ASSERT_STATUS(pr_store_get(s, B("u"), B("1"), 0, &row, &err), PR_ERR_NOTFOUND);
    pr_store_stats_get(s, &c);
    ASSERT_EQ_INT(c.failures, failures);
    ASSERT_EQ_INT(c.reconnects, 2);
    pr_store_close(s);
    redis_child_stop(srv, SIGTERM);
}

/* A stopped (hung) server: the call returns PR_ERR_IO after about
 * timeout_ms, not never; once the server runs again the store recovers. */
TEST(test_server_hung) {
    pr_err err;
    pr_store *s = NULL;
    pr_bytes row;
    pr_bytes keys[3] = {B("a"), B("b"), B("c")}, vals[3] = {B("1"), B("2"), B("3")};
    char uri[300];
    redis_child *srv = start_server(1, 0);
    snprintf(uri, sizeof uri, "redis:unix:%s?timeout_ms=60", srv->sock);
    ASSERT_OK(pr_store_open(uri, &s, &err));
    ASSERT_OK(pr_store_put_batch(s, B("h"), keys, vals, 3, 0, &err));
    kill(srv->pid, SIGSTOP);
    double t0 = pr_now();
    ASSERT_STATUS(pr_store_get(s, B("h"), B("a"), 0, &row, &err), PR_ERR_IO);
    double dt = pr_now() - t0;
    ASSERT_CONTAINS(err.msg, "no reply within timeout_ms=60");
    ASSERT_TRUE(dt >= 0.055 && dt < 0.5);
    /* The next calls: one reconnect attempt (connects, PING times out),
     * then fail-fast until the gap has passed. Nothing waits much longer
     * than the timeouts. */
    t0 = pr_now();
    for (int i = 0; i < 50; i++) {
        double c0 = pr_now();
        ASSERT_STATUS(pr_store_get(s, B("h"), B("a"), 0, &row, &err), PR_ERR_IO);
        ASSERT_TRUE(pr_now() - c0 < 0.5);
    }
    kill(srv->pid, SIGCONT);
    sleep_ms(120);
    ASSERT_OK(pr_store_get(s, B("h"), B("b"), 0, &row, &err));
    ASSERT_TRUE(row.len == 1 && row.ptr[0] == '2');
    pr_store_close(s);
    redis_child_stop(srv, SIGTERM);
}

/* TCP, both URI spellings, database numbers and prefixes keep rows apart,
 * and native expiry (opt-in) sets EXPIREAT at expires_at + grace. */
TEST(test_tcp_db_prefix_native_expiry) {
    pr_err err;
    pr_store *s0 = NULL, *s3 = NULL, *sp = NULL, *sx = NULL;
    pr_bytes row;
    char uri[300];
    redis_child *srv = start_server(2, 1);
    snprintf(uri, sizeof uri, "redis://127.0.0.1:%d", srv->port);
    ASSERT_OK(pr_store_open(uri, &s0, &err));
    snprintf(uri, sizeof uri, "redis:127.0.0.1:%d/3", srv->port);
    ASSERT_OK(pr_store_open(uri, &s3, &err));
    snprintf(uri, sizeof uri, "redis:unix:%s?prefix=other:", srv->sock);
    ASSERT_OK(pr_store_open(uri, &sp, &err));
    ASSERT_OK(pr_store_put(s0, B("e"), B("k"), B("db0"), 0, &err));
    ASSERT_OK(pr_store_put(s3, B("e"), B("k"), B("db3"), 0, &err));
    ASSERT_OK(pr_store_put(sp, B("e"), B("k"), B("pfx"), 0, &err));
    ASSERT_OK(pr_store_get(s0, B("e"), B("k"), 0, &row, &err));
    ASSERT_TRUE(row.len == 3 && memcmp(row.ptr, "db0", 3) == 0);
    ASSERT_OK(pr_store_get(s3, B("e"), B("k"), 0, &row, &err));
    ASSERT_TRUE(row.len == 3 && memcmp(row.ptr, "db3", 3) == 0);
    ASSERT_OK(pr_store_get(sp, B("e"), B("k"), 0, &row, &err));
    ASSERT_TRUE(row.len == 3 && memcmp(row.ptr, "pfx", 3) == 0);

    /* The stored bytes: prefix, composite key, 8-byte header, row. */
    redisContext *ctx = direct(srv);
    redisReply *r = redisCommand(ctx, "GET %b", "pronto:\x01\x00\x00\x00" "ek", (size_t)13);
    ASSERT_TRUE(r && r->type == REDIS_REPLY_STRING && r->len == 11);
    ASSERT_TRUE(memcmp(r->str, "\0\0\0\0\0\0\0\0db0", 11) == 0);
    freeReplyObject(r);

    /* Default: no native expiry, even for a row long expired by the wall
     * clock (the reader's now decides). */
    ASSERT_OK(pr_store_put(s0, B("e"), B("old"), B("v"), 1000, &err));
    ASSERT_OK(pr_store_get(s0, B("e"), B("old"), 999, &row, &err));
    r = redisCommand(ctx, "TTL %b", "pronto:\x01\x00\x00\x00" "eold", (size_t)15);
    ASSERT_TRUE(r && r->type == REDIS_REPLY_INTEGER && r->integer == -1);
    freeReplyObject(r);

    /* expire_grace_s=30: EXPIREAT expires_at + 30; 0 = no expiry; a put
     * without expiry clears a previous one. */
    snprintf(uri, sizeof uri, "redis:unix:%s?expire_grace_s=30&prefix=x:", srv->sock);
    ASSERT_OK(pr_store_open(uri, &sx, &err));
    int64_t wall = pr_unix_time();
    pr_bytes keys[2] = {B("a"), B("b")}, vals[2] = {B("A"), B("B")};
    ASSERT_OK(pr_store_put_batch(sx, B("e"), keys, vals, 2, wall + 100, &err));
    ASSERT_OK(pr_store_get(sx, B("e"), B("b"), wall, &row, &err));
    ASSERT_STATUS(pr_store_get(sx, B("e"), B("b"), wall + 100, &row, &err), PR_ERR_NOTFOUND);
    r = redisCommand(ctx, "TTL %b", "x:\x01\x00\x00\x00" "eb", (size_t)8);
    ASSERT_TRUE(r && r->type == REDIS_REPLY_INTEGER);
    ASSERT_TRUE(r->integer >= 125 && r->integer <= 130);
    freeReplyObject(r);
    ASSERT_OK(pr_store_put(sx, B("e"), B("b"), B("B"), 0, &err));
    r = redisCommand(ctx, "TTL %b", "x:\x01\x00\x00\x00" "eb", (size_t)8);
    ASSERT_TRUE(r && r->type == REDIS_REPLY_INTEGER && r->integer == -1);
    freeReplyObject(r);
    /* Past wall-clock expires_at + grace: Redis drops it at once (the rule:
     * only readers whose now lags the server by > grace could notice). */
    ASSERT_OK(pr_store_put(sx, B("e"), B("gone"), B("v"), wall - 31, &err));
    ASSERT_STATUS(pr_store_get(sx, B("e"), B("gone"), wall - 40, &row, &err), PR_ERR_NOTFOUND);

    /* Someone else's junk under our prefix: a short value is a clear
     * format error, not a crash; a non-string key reads as absent. */
    r = redisCommand(ctx, "SET %b %s", "pronto:\x01\x00\x00\x00" "ejunk", (size_t)16, "abc");
    freeReplyObject(r);
    r = redisCommand(ctx, "LPUSH %b %s", "pronto:\x01\x00\x00\x00" "elist", (size_t)16, "abc");
    freeReplyObject(r);
    ASSERT_STATUS(pr_store_get(s0, B("e"), B("junk"), 0, &row, &err), PR_ERR_FORMAT);
    ASSERT_CONTAINS(err.msg, "shorter than its 8-byte expiry header");
    ASSERT_STATUS(pr_store_get(s0, B("e"), B("list"), 0, &row, &err), PR_ERR_NOTFOUND);
    /* Sweeping walks past both without touching them; empty prefix refuses. */
    pr_store_sweep_result sw;
    do ASSERT_OK(pr_store_sweep(s0, 2000, 10, &sw, &err)); while (!sw.pass_done);
    ASSERT_STATUS(pr_store_get(s0, B("e"), B("old"), 0, &row, &err), PR_ERR_NOTFOUND); /* swept */
    r = redisCommand(ctx, "EXISTS %b", "pronto:\x01\x00\x00\x00" "ejunk", (size_t)16);
    ASSERT_TRUE(r && r->integer == 1);
    freeReplyObject(r);
    redisFree(ctx);
    pr_store *se = NULL;
    snprintf(uri, sizeof uri, "redis:unix:%s?prefix=", srv->sock);
    ASSERT_OK(pr_store_open(uri, &se, &err));
    ASSERT_STATUS(pr_store_sweep(se, 2000, 10, &sw, &err), PR_ERR_UNSUPPORTED);
    ASSERT_CONTAINS(err.msg, "sweep needs a key prefix");

    pr_store_close(se);
    pr_store_close(s0);
    pr_store_close(s3);
    pr_store_close(sp);
    pr_store_close(sx);
    redis_child_stop(srv, SIGTERM);
}

/* A put into a socket the server closed raises SIGPIPE inside hiredis'
 * write(2); with SIGPIPE at its default action that would kill us. */
TEST(test_no_sigpipe) {
    pr_err err;
    pr_store *s = NULL;
    char uri[300];
    static char big[1 << 20];
    redis_child *srv = start_server(3, 0);
    signal(SIGPIPE, SIG_DFL);
    snprintf(uri, sizeof uri, "redis:unix:%s", srv->sock);
    ASSERT_OK(pr_store_open(uri, &s, &err));
    redis_child_stop(srv, SIGKILL);
    for (int i = 0; i < 3; i++) {
        pr_status st = pr_store_put(s, B("p"), B("big"), pr_bytes_of(big, sizeof big), 0, &err);
        ASSERT_EQ_INT(st, PR_ERR_IO);
    }
    sigset_t pending;
    ASSERT_TRUE(sigpending(&pending) == 0 && !sigismember(&pending, SIGPIPE));
    pr_store_close(s);
}

int main(void) {
    RUN(test_uri_grammar);
    RUN(test_open_dead_addresses);
    RUN(test_server_killed_and_restarted);
    RUN(test_server_hung);
    RUN(test_tcp_db_prefix_native_expiry);
    RUN(test_no_sigpipe);
    TEST_MAIN_END();
}
