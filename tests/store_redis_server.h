/*
 * store_redis_server.h: runs a real redis-server as a child process for
 * tests/test_store.c and bench/bench_store.c. Header-only (static
 * functions), no pronto test harness needed.
 *
 * The child gets PR_SET_PDEATHSIG(SIGKILL), so it dies with the process
 * that started it even when that process fails with _exit() (as TEST_FAIL
 * does) or is killed: no redis-server is left behind.
 *
 * Ownership: a redis_child holds copies of its paths; redis_child_stop
 * reaps the process. Nothing is allocated.
 */
#ifndef PRONTO_STORE_REDIS_SERVER_H
#define PRONTO_STORE_REDIS_SERVER_H

#include <errno.h>
#include <hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct redis_child {
    pid_t pid;       /* 0 when not running */
    int port;        /* TCP port on 127.0.0.1, 0 = unix socket only */
    char sock[200];  /* unix socket path (sun_path holds 108 bytes) */
    char dir[200];   /* working folder (log file, AOF files) */
    int aof;         /* 1: appendonly yes with appendfsync always (a reply
                      * means on disk; a restart in dir reloads it) */
} redis_child;

/* A TCP port on 127.0.0.1 that was free a moment ago (bound to 0, read,
 * closed); 0 on failure. */
static inline int redis_free_port(void) {
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;
    if (fd < 0) return 0;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* 1 if the server on c->sock answers PING within 100 ms. */
static inline int redis_child_pings(const redis_child *c) {
    struct timeval tv = {0, 100000};
    redisContext *ctx = redisConnectUnixWithTimeout(c->sock, tv);
    int ok = 0;
    if (ctx && !ctx->err && redisSetTimeout(ctx, tv) == REDIS_OK) {
        redisReply *r = redisCommand(ctx, "PING");
        ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
        if (r) freeReplyObject(r);
    }
    if (ctx) redisFree(ctx);
    return ok;
}

/* Starts redis-server with no persistence (unless c->aof) on c->sock (and c->port if
 * nonzero), logging to DIR/redis.log, and waits until it answers PING.
 * Returns 0, or -1 with why[] filled (redis-server missing, exited early,
 * not answering within 5 s). */
static inline int redis_child_start(redis_child *c, char *why, size_t why_cap) __attribute__((unused));
static inline int redis_child_start(redis_child *c, char *why, size_t why_cap) {
    char port[16], log[220];
    snprintf(port, sizeof port, "%d", c->port);
    snprintf(log, sizeof log, "%s/redis.log", c->dir);
    unlink(c->sock);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, why_cap, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(126);  /* parent already gone */
        const char *argv[] = {"redis-server", "--port", port, "--bind", "127.0.0.1",
                              "--unixsocket", c->sock, "--unixsocketperm", "700",
                              "--save", "", "--appendonly", c->aof ? "yes" : "no",
                              "--appendfsync", c->aof ? "always" : "everysec", "--daemonize", "no",
                              "--logfile", log, "--dir", c->dir, NULL};
        execvp("redis-server", (char *const *)argv);
        _exit(127);
    }
    c->pid = pid;
    for (int i = 0; i < 500; i++) {  /* 5 s */
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            c->pid = 0;
            if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
                snprintf(why, why_cap,
                         "redis-server is not installed (not found on PATH); install the Debian package "
                         "redis-server, e.g. with scripts/bootstrap");
            else
                snprintf(why, why_cap, "redis-server exited at start (status %d); see %s", status, log);
            return -1;
        }
        if (redis_child_pings(c)) return 0;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    snprintf(why, why_cap, "redis-server did not answer PING on %s within 5 s; see %s", c->sock, log);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    c->pid = 0;
    return -1;
}

/* Sends sig (SIGTERM to stop, SIGKILL to crash it) and reaps the child. */
static inline void redis_child_stop(redis_child *c, int sig) {
    if (c->pid <= 0) return;
    kill(c->pid, sig);
    kill(c->pid, SIGCONT);  /* a stopped server must run to see SIGTERM */
    waitpid(c->pid, NULL, 0);
    c->pid = 0;
}

#endif
