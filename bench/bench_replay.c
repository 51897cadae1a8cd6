/*
 * bench_replay.c: replays a simulator stream (pronto simulate's
 * events-*.jsonl) through a running `pronto serve` in event time, as fast
 * as the server takes it, for bench/monitor_validate.sh:
 *
 *   bench_replay --port N --from MS --to MS [--batch N] [--sync-lateness MS]
 *                [--no-events] FILE...
 *
 * Every impression with FROM <= ts < TO becomes a POST /v1/predict of one
 * candidate carrying the impression's fields, its ts and request_id
 * "i<impression_id>" (the impression's own keys ride along; the server
 * ignores those its spec does not read); after the answers of a batch of
 * impressions, one POST /v1/events carries those impressions (the same
 * request_id added, so live quality joins them to their predictions) and
 * the clicks of the span, in the stream's ts order. Predicts go out
 * pipelined on one keep-alive connection (read while writing: no
 * deadlock on full socket buffers).
 *
 * --sync-lateness MS (the server's --quality-lateness): at every simulated
 * minute the replay waits until the server's quality thread has taken
 * every prediction sent (pronto_quality_predictions_total) and its
 * watermark has reached the last event's ts minus MS, and until the
 * monitor has closed all but MON_BEHIND of the minutes sent
 * (pronto_monitor_windows_closed_total). A replay runs minutes of event
 * time per wall second; without the wait the quality thread's lag would
 * show up as minutes of simulated detection delay, and a monitor thread
 * starved for a second would drop requests as too far ahead.
 *
 * Prints one summary line (requests, events, wall time, rates). Exit 1 on
 * any answer that is not 200 (after retrying a 503 of /v1/events).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* How many simulated minutes the server's monitor may be behind the
 * replay (it takes requests up to 16 minutes past its last closed one:
 * further ahead they are dropped as "ahead"). */
#define MON_BEHIND 6

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static void die(const char *what) {
    fprintf(stderr, "bench_replay: %s\n", what);
    exit(1);
}

static void put(buf *b, const void *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1 << 16;
        while (cap < b->len + n + 1) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) die("out of memory");
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int conn_open(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* One answer parsed off the front of in: status and body. Returns the
 * bytes it took, 0 when incomplete. */
static size_t take_answer(const buf *in, size_t off, int *status, const char **body,
                          size_t *blen) {
    const char *p = in->p + off;
    size_t n = in->len - off;
    const char *end = memmem(p, n, "\r\n\r\n", 4);
    if (!end) return 0;
    size_t hlen = (size_t)(end - p) + 4;
    long clen = 0;
    for (const char *h = p; h < end;) {
        const char *nl = memchr(h, '\n', (size_t)(end - h));
        if (!nl) nl = end;
        if ((size_t)(nl - h) > 15 && strncasecmp(h, "content-length:", 15) == 0)
            clen = strtol(h + 15, NULL, 10);
        h = nl + 1;
    }
    if (n < hlen + (size_t)clen) return 0;
    *status = (int)strtol(p + 9, NULL, 10); /* "HTTP/1.1 200" */
    *body = p + hlen;
    *blen = (size_t)clen;
    return hlen + (size_t)clen;
}

typedef struct conn {
    int fd, port;
    buf in;
} conn;

/* Sends out (count requests, pipelined) and reads count answers; calls
 * check on each. Reads while writing. */
static void exchange(conn *c, const buf *out, size_t count,
                     void (*check)(int status, const char *body, size_t len, void *ctx),
                     void *ctx) {
    size_t sent = 0, got = 0, off = 0;
    c->in.len = 0;
    while (got < count) {
        struct pollfd pf = {c->fd, (short)(POLLIN | (sent < out->len ? POLLOUT : 0)), 0};
        if (poll(&pf, 1, 60000) <= 0) die("poll: no answer within 60 s");
        if (pf.revents & (POLLERR | POLLHUP) && !(pf.revents & POLLIN)) die("connection closed");
        if ((pf.revents & POLLOUT) && sent < out->len) {
            ssize_t w = send(c->fd, out->p + sent, out->len - sent, MSG_NOSIGNAL);
            if (w < 0 && errno != EAGAIN && errno != EINTR) die("send");
            if (w > 0) sent += (size_t)w;
        }
        if (pf.revents & POLLIN) {
            char tmp[65536];
            ssize_t r = recv(c->fd, tmp, sizeof tmp, 0);
            if (r == 0) die("connection closed by the server");
            if (r < 0 && errno != EAGAIN && errno != EINTR) die("recv");
            if (r > 0) put(&c->in, tmp, (size_t)r);
            for (;;) {
                int st;
                const char *body;
                size_t blen, k = take_answer(&c->in, off, &st, &body, &blen);
                if (!k) break;
                check(st, body, blen, ctx);
                off += k;
                got++;
            }
        }
    }
}

static void request(buf *out, const char *method, const char *path, const char *body,
                    size_t blen) {
    char head[256];
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     method, path, blen);
    put(out, head, (size_t)n);
    if (blen) put(out, body, blen);
}

static unsigned long long bad_predicts;
static void check_predict(int st, const char *body, size_t len, void *ctx) {
    (void)ctx;
    if (st != 200) {
        bad_predicts++;
        if (bad_predicts <= 5) fprintf(stderr, "bench_replay: predict %d: %.*s\n", st, (int)len, body);
    }
}

static int events_status;
static void check_events(int st, const char *body, size_t len, void *ctx) {
    (void)ctx;
    events_status = st;
    if (st != 200 && st != 503) fprintf(stderr, "bench_replay: events %d: %.*s\n", st, (int)len, body);
    else if (st == 200 && !memmem(body, len, "\"rejected\":0", 12))
        fprintf(stderr, "bench_replay: events: %.*s\n", (int)len, body);
}

static buf metrics_body;
static void keep_body(int st, const char *body, size_t len, void *ctx) {
    (void)ctx;
    if (st != 200) die("GET /metrics failed");
    metrics_body.len = 0;
    put(&metrics_body, body, len);
}

static double metric(const char *name) {
    const char *p = metrics_body.p;
    size_t n = strlen(name);
    while (p && (p = strstr(p, name))) {
        if ((p == metrics_body.p || p[-1] == '\n') && p[n] == ' ') return strtod(p + n + 1, NULL);
        p += n;
    }
    return -1;
}

static void get_metrics(conn *c) {
    buf out = {0};
    request(&out, "GET", "/metrics", NULL, 0);
    exchange(c, &out, 1, keep_body, NULL);
    free(out.p);
}

/* A number after "key": in a flat JSON line (the simulator's), or -1. */
static long long num_of(const char *line, const char *key) {
    const char *p = strstr(line, key);
    if (!p) return -1;
    p += strlen(key);
    char *end;
    long long v = strtoll(p, &end, 10);
    return end == p ? -1 : v;
}

int main(int argc, char **argv) {
    int port = 0, events_on = 1;
    long long from = 0, to = INT64_MAX, lateness = -1;
    size_t batch = 256;
    int i = 1;
    for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--no-events")) {
            events_on = 0;
            continue;
        }
        if (i + 1 >= argc) die("a flag without its value");
        long long v = strtoll(argv[++i], NULL, 10);
        if (!strcmp(a, "--port")) port = (int)v;
        else if (!strcmp(a, "--from")) from = v;
        else if (!strcmp(a, "--to")) to = v;
        else if (!strcmp(a, "--batch")) batch = v > 0 ? (size_t)v : 1;
        else if (!strcmp(a, "--sync-lateness")) lateness = v;
        else die("unknown flag");
    }
    if (!port || i >= argc) {
        fprintf(stderr, "usage: bench_replay --port N --from MS --to MS [--batch N] "
                        "[--sync-lateness MS] [--no-events] FILE...\n");
        return 2;
    }
    conn c = {conn_open(port), port, {0}};
    buf preds = {0}, evs = {0}, body = {0};
    size_t n_pred = 0, n_ev = 0;
    unsigned long long predicts = 0, events = 0, clicks = 0, syncs = 0, waits = 0;
    long long minute = -1, max_ts = 0, first_minute = -1;
    double t0 = now_s(), sync_s = 0;
    char *line = NULL;
    size_t cap = 0;

    FILE *f = NULL;
    for (;;) {
        ssize_t len = -1;
        while (i < argc) {
            if (!f && !(f = fopen(argv[i], "r"))) die("cannot open an events file");
            if ((len = getline(&line, &cap, f)) > 0) break;
            fclose(f);
            f = NULL;
            i++;
        }
        int eof = len <= 0;
        long long ts = eof ? to : num_of(line, "\"ts\":");
        int imp = !eof && !strncmp(line, "{\"type\":\"impression\"", 20);
        int clk = !eof && !strncmp(line, "{\"type\":\"click\"", 15);
        if (!eof && ((!imp && !clk) || ts < from)) continue;
        if (!eof && ts >= to) {
            if (!imp) continue;
            eof = 1; /* the span is over */
            ts = to;
        }
        long long m = ts / 60000;
        if (n_pred >= batch || ((eof || (m != minute && minute >= 0)) && (n_pred || n_ev))) {
            exchange(&c, &preds, n_pred, check_predict, NULL);
            unsigned long long before = predicts;
            predicts += n_pred;
            if (before / 1000000 != predicts / 1000000)
                fprintf(stderr, "bench_replay: %llu predicts, %.0f/s\n", predicts,
                        (double)predicts / (now_s() - t0));
            if (events_on && n_ev) {
                for (;;) {
                    buf req = {0};
                    request(&req, "POST", "/v1/events", evs.p, evs.len);
                    exchange(&c, &req, 1, check_events, NULL);
                    free(req.p);
                    if (events_status != 503) break;
                    usleep(20000);
                }
                if (events_status != 200) die("POST /v1/events failed");
                events += n_ev;
            }
            preds.len = evs.len = 0;
            n_pred = n_ev = 0;
        }
        if (m != minute && lateness >= 0 && minute >= 0 && predicts) { /* a minute passed */
            double s0 = now_s();
            if (first_minute < 0) first_minute = minute;
            for (int k = 0;; k++) {
                get_metrics(&c);
                double taken = metric("pronto_quality_predictions_total");
                double wm = metric("pronto_quality_watermark_seconds") * 1000;
                double closed = metric("pronto_monitor_windows_closed_total");
                if (taken >= (double)predicts &&
                    (!events_on || wm + 1 >= (double)(max_ts - lateness)) &&
                    (closed < 0 || closed + MON_BEHIND >= (double)(m - first_minute)))
                    break;
                if (k == 0) waits++;
                if (now_s() - s0 > 60) die("the quality thread does not catch up (60 s)");
                usleep(k < 100 ? 200 : 3000);
            }
            syncs++;
            sync_s += now_s() - s0;
        }
        minute = m;
        if (eof) break;
        if (ts > max_ts) max_ts = ts;
        if (line[len - 1] == '\n') line[--len] = 0;
        if (imp) {
            long long id = num_of(line, "\"impression_id\":");
            const char *ad = strstr(line, "\"ad_id\":");
            if (id < 0 || !ad) die("an impression without impression_id or ad_id");
            ad += 8;
            size_t adl = strcspn(ad, ",}");
            char rid[40];
            int rn = snprintf(rid, sizeof rid, "{\"request_id\":\"i%lld\",", id);
            body.len = 0;
            put(&body, rid, (size_t)rn);
            put(&body, line + 1, (size_t)len - 2); /* without the braces */
            puts_(&body, ",\"candidates\":[{\"ad_id\":");
            put(&body, ad, adl);
            puts_(&body, "}]}");
            request(&preds, "POST", "/v1/predict", body.p, body.len);
            n_pred++;
            if (events_on) {
                put(&evs, rid, (size_t)rn);
                put(&evs, line + 1, (size_t)len - 1);
                puts_(&evs, "\n");
                n_ev++;
            }
        } else if (events_on) {
            put(&evs, line, (size_t)len);
            puts_(&evs, "\n");
            n_ev++;
            clicks++;
        }
    }
    if (f) fclose(f);
    double wall = now_s() - t0;
    printf("replay: predicts=%llu events=%llu clicks=%llu bad=%llu wall_s=%.1f predicts_per_s=%.0f "
           "syncs=%llu sync_waits=%llu sync_s=%.1f\n",
           predicts, events, clicks, bad_predicts, wall, (double)predicts / wall, syncs, waits,
           sync_s);
    free(line);
    free(preds.p);
    free(evs.p);
    free(body.p);
    free(c.in.p);
    free(metrics_body.p);
    close(c.fd);
    return bad_predicts ? 1 : 0;
}
