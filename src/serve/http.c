/*
 * http.c: the libmicrohttpd glue. Routing, request bodies with a ceiling,
 * the connection reserve, framing checks, bearer-token checks, and one
 * reply helper that counts every answer in /metrics.
 *
 * Why libmicrohttpd: a mature C library in Debian with HTTP/1.1
 * keep-alive, a thread pool (each of `threads` threads runs its own event
 * loop over its own connections: no hand-off queue between an acceptor and
 * workers, so a request is parsed, computed and answered on one core), and
 * quiesce for draining. Its transport cost is small next to a
 * 100-candidate predict (docs/benchmarks.md). The event loops use poll(2),
 * not epoll: with edge-triggered epoll, libmicrohttpd 0.9.75 misses a
 * peer's close that arrives with the last bytes of a partial request (a
 * short read clears its "readable" flag and no new edge comes), so such
 * sockets sat in CLOSE-WAIT, counted as open, until the idle timeout.
 *
 * A request's life: the connection-start callback registers the
 * connection with the guard (guard.c: header, body and idle deadlines
 * enforced by a reaper thread; connections opened past --max-connections
 * are the health reserve). The first call of the access handler (headers
 * only) allocates a req_ctx and answers at once what must not wait for the
 * body, closing the connection: a reserve connection asking for anything
 * but health, readiness or metrics (503), ambiguous framing (two
 * Content-Length headers, Content-Length with Transfer-Encoding: 400), a
 * Content-Length over --max-body (413) or over the body budget (503). It
 * notes an unknown route (404), a wrong method (405), a missing Host
 * (400) or a failed admin check (401/403). POST bodies are appended to the
 * req_ctx in the following calls (a chunked body growing past a limit is
 * dropped and answered 413/503), and the last call answers the noted error
 * or runs the handler on the whole body; events and reloads are queued to
 * their own thread instead (jobs.c, the body moving to the job), the
 * connection suspended until the reply is ready. HEAD is served on GET
 * routes (MHD sends the headers only). The completion callback frees the
 * req_ctx (and lets go of its job) and ends the request's in-flight count,
 * which is what a drain waits for.
 *
 * What libmicrohttpd answers by itself, before any of this runs, with its
 * built-in HTML bodies (0.9.75 has no option to replace them): 431 headers
 * over its per-connection memory, 414 URI too long, 505 for an HTTP version
 * other than 1.0/1.1, 400 for a request line it cannot parse and 400 for a
 * malformed Content-Length (whose header block it sends twice): all close
 * the connection. docs/api.md lists them.
 *
 * Ownership: the req_ctx and its body belong to MHD's per-request slot
 * (*con_cls) from the first call to the completion callback; the pr__conn
 * to the connection's socket context. Replies are copied by MHD
 * (MHD_RESPMEM_MUST_COPY), so handlers write into a local pr__tb freed
 * right after queueing.
 */
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "serve/serve_int.h"

typedef struct route_def {
    const char *path;
    const char *method;
    pr__route route;
} route_def;

static const route_def routes[] = {
    {"/v1/predict", "POST", PR__ROUTE_PREDICT}, {"/v1/events", "POST", PR__ROUTE_EVENTS},
    {"/v1/model", "GET", PR__ROUTE_MODEL},      {"/healthz", "GET", PR__ROUTE_HEALTHZ},
    {"/readyz", "GET", PR__ROUTE_READYZ},       {"/metrics", "GET", PR__ROUTE_METRICS},
    {"/admin/reload", "POST", PR__ROUTE_RELOAD}, {"/admin/retrain", "POST", PR__ROUTE_RETRAIN},
    {"/v1/monitor", "GET", PR__ROUTE_MONITOR}, {"/dashboard", "GET", PR__ROUTE_DASHBOARD},
};

typedef struct req_ctx {
    const route_def *def;  /* NULL: no such route */
    pr__route route;
    pr__conn *conn;        /* the guard's record of the connection */
    uint64_t t0;           /* monotonic ns at the first call */
    pr__body body;         /* reserved from the body budget */
    int too_big;           /* over --max-body: 413 */
    int over_budget;       /* over --max-body-memory: 503 */
    int answered;
    int admin;             /* came with the right bearer token */
    int retry_after;       /* seconds, sent with a 503 when > 0 */
    pr__job *job;          /* events, reload: the work queued (jobs.c) */
    char csp[256];         /* a Content-Security-Policy to send ("": none) */
    unsigned err_status;   /* an error found at the first call, answered */
    char err_msg[512];     /* at the last one (keep-alive stays possible) */
} req_ctx;

static const char *const json_type = "application/json";

static uint64_t mono_ns(void) { return pr__mono_ns(); }

static pr__conn *conn_of(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Queues one reply and counts it. close: ask the client to go away. */
static enum MHD_Result reply(pr_server *s, struct MHD_Connection *c, req_ctx *r, unsigned status,
                             const char *type, const char *body, size_t len, int close) {
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (close || __atomic_load_n(&s->draining, __ATOMIC_RELAXED))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED && r->def)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
                                strcmp(r->def->method, "GET") ? r->def->method : "GET, HEAD");
    if (r->csp[0] && status == MHD_HTTP_OK) { /* the dashboard: a page, not data */
        MHD_add_response_header(resp, "Content-Security-Policy", r->csp);
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    }
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (r->retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", r->retry_after);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    enum MHD_Result ok = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    r->answered = 1;
    pr__metrics_request(&s->metrics, r->route, status, mono_ns() - r->t0);
    return ok;
}

static enum MHD_Result reply_error(pr_server *s, struct MHD_Connection *c, req_ctx *r,
                                   unsigned status, const char *msg, int close) {
    pr__tb b;
    pr__tb_init(&b, 4096);
    pr__json_error(&b, msg);
    enum MHD_Result ok = reply(s, c, r, status, json_type, b.p ? b.p : "", b.len, close);
    pr__tb_free(&b);
    return ok;
}

/* Compares over a fixed PR__TOKEN_MAX bytes whatever the lengths, so the
 * time says nothing about where the first difference is nor how long the
 * server's token is (longer tokens are refused at start; a longer
 * presented one compares unequal). */
static int token_equal(const char *a, size_t alen, const char *b, size_t blen) {
    volatile unsigned char d = (unsigned char)((alen != blen) | (alen > PR__TOKEN_MAX));
    for (size_t i = 0; i < PR__TOKEN_MAX; i++) {
        unsigned char x = i < alen ? (unsigned char)a[i] : 0;
        unsigned char y = i < blen ? (unsigned char)b[i] : 0;
        d |= (unsigned char)(x ^ y);
    }
    return d == 0;
}

/* Copies at most max bytes of s into out (size >= max + 1) as valid UTF-8:
 * never cut inside a character; bytes that are not UTF-8 become '?'. */
static void clip_utf8(char *out, const char *s, size_t max) {
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3
                   : (*p & 0xf8) == 0xf0 ? 4 : 0;
        for (size_t k = 1; k < n; k++)
            if ((p[k] & 0xc0) != 0x80) n = 0;
        if (n == 2 && *p < 0xc2) n = 0;                         /* overlong */
        if (n == 3 && ((*p == 0xe0 && p[1] < 0xa0) || (*p == 0xed && p[1] > 0x9f))) n = 0;
        if (n == 4 && ((*p == 0xf0 && p[1] < 0x90) || *p > 0xf4 || (*p == 0xf4 && p[1] > 0x8f)))
            n = 0;
        size_t w = n ? n : 1;
        if (o + w > max) {
            if (o + 3 <= max) memcpy(out + o, "...", 3), o += 3;
            break;
        }
        if (n) memcpy(out + o, p, n);
        else out[o] = '?';
        o += w;
        p += w;
    }
    out[o] = '\0';
}

/* 0 if the request may use admin endpoints, else the status to answer
 * (401 no credentials, 403 wrong token or admin disabled), msg set. */
static unsigned admin_check(pr_server *s, struct MHD_Connection *c, const char **msg) {
    if (!s->admin_token || !s->admin_token[0]) {
        *msg = "admin endpoints are disabled: start the server with --admin-token-file or "
               "PRONTO_ADMIN_TOKEN";
        return MHD_HTTP_FORBIDDEN;
    }
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncmp(h, "Bearer ", 7) != 0) {
        *msg = "admin endpoint: send 'Authorization: Bearer TOKEN'";
        return MHD_HTTP_UNAUTHORIZED;
    }
    const char *t = h + 7;
    if (!token_equal(t, strlen(t), s->admin_token, strlen(s->admin_token))) {
        *msg = "admin endpoint: wrong token";
        return MHD_HTTP_FORBIDDEN;
    }
    return 0;
}

/* Events and reloads run on their job queue's thread (jobs.c): the first
 * time here the work is queued (the body moves to the job) and the
 * connection suspended; when it is resumed, the stored reply goes out. A
 * full queue answers 503 at once. */
static enum MHD_Result run_job(pr_server *s, struct MHD_Connection *c, req_ctx *r) {
    if (!r->job) {
        const char *why = pr__job_submit(s, r->route, c, &r->body, &r->job);
        if (!why) return MHD_YES; /* suspended until the job is done */
        r->retry_after = 1;
        return reply_error(s, c, r, MHD_HTTP_SERVICE_UNAVAILABLE, why, 0);
    }
    unsigned status;
    const char *type, *body;
    size_t len;
    if (!pr__job_result(r->job, &status, &type, &body, &len)) return MHD_YES;
    enum MHD_Result ok = reply(s, c, r, status, type, body, len, 0);
    pr__job_release(r->job);
    r->job = NULL;
    return ok;
}

static enum MHD_Result run_handler(pr_server *s, struct MHD_Connection *c, req_ctx *r) {
    if (r->route == PR__ROUTE_EVENTS || r->route == PR__ROUTE_RELOAD ||
        r->route == PR__ROUTE_RETRAIN)
        return run_job(s, c, r);
    pr__tb out;
    pr__tb_init(&out, s->o.max_body + (16u << 20));
    unsigned status = 500;
    const char *type = json_type;
    const char *body = r->body.p ? r->body.p : "";
    size_t len = r->body.len;
    switch (r->route) {
    case PR__ROUTE_PREDICT: type = pr__handle_predict(s, body, len, &status, &out); break;
    case PR__ROUTE_MODEL: type = pr__handle_model(s, r->admin, &status, &out); break;
    case PR__ROUTE_READYZ: type = pr__handle_readyz(s, r->admin, &status, &out); break;
    case PR__ROUTE_MONITOR: type = pr__handle_monitor(s, &status, &out); break;
    case PR__ROUTE_DASHBOARD:
        type = pr__handle_dashboard(s, &status, &out, r->csp, sizeof r->csp);
        break;
    case PR__ROUTE_HEALTHZ:
        status = 200;
        pr__tb_puts(&out, "{\"status\":\"ok\"}\n");
        break;
    case PR__ROUTE_METRICS:
        status = 200;
        type = "text/plain; version=0.0.4";
        pr__metrics_render(s, &out);
        break;
    default: break;
    }
    if (status == 200 && r->route == PR__ROUTE_PREDICT) pr__metrics_add(&s->metrics.predictions, 1);
    enum MHD_Result ok = out.over ? reply_error(s, c, r, 500, "reply too large", 0)
                                  : reply(s, c, r, status, type, out.p ? out.p : "", out.len, 0);
    pr__tb_free(&out);
    return ok;
}

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value) {
    (void)kind;
    (void)value;
    if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) ((int *)cls)[0]++;
    if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) ((int *)cls)[1]++;
    return MHD_YES;
}

/* RFC 9112 6.3: a message whose length is ambiguous (several
 * Content-Length headers, or Content-Length with Transfer-Encoding) must be
 * refused and the connection closed: the two ends could disagree on where
 * the next request starts (request smuggling). NULL when the framing is
 * clear. */
static const char *framing_error(struct MHD_Connection *c) {
    int n[2] = {0, 0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, count_header, n);
    if (n[0] > 1) return "several Content-Length headers: the body's length is ambiguous";
    if (n[0] && n[1]) return "both Content-Length and Transfer-Encoding: the body's length is ambiguous";
    return NULL;
}

/* The route for url and method (HEAD is served as GET), or a 404/405
 * noted in r. */
static void route(req_ctx *r, const char *url, const char *method) {
    char text[256];
    r->route = PR__ROUTE_OTHER;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (!strcmp(url, routes[i].path)) r->def = &routes[i];
    if (r->def) r->route = r->def->route;
    if (!r->def) {
        r->err_status = MHD_HTTP_NOT_FOUND;
        clip_utf8(text, url, 200);
        snprintf(r->err_msg, sizeof r->err_msg, "no such endpoint: %s", text);
    } else if (strcmp(method, r->def->method) != 0 &&
               !(!strcmp(method, "HEAD") && !strcmp(r->def->method, "GET"))) {
        r->err_status = MHD_HTTP_METHOD_NOT_ALLOWED;
        clip_utf8(text, method, 32);
        snprintf(r->err_msg, sizeof r->err_msg, "%s takes %s, not %s", r->def->path,
                 r->def->method, text);
    }
}

/* The first call: headers only. Answers at once only what must not wait
 * for the body (all of them close the connection); other errors are noted
 * and answered at the last call, since libmicrohttpd closes a connection
 * whose reply was queued that early. */
static enum MHD_Result first_call(pr_server *s, struct MHD_Connection *c, req_ctx *r,
                                  const char *url, const char *method, const char *version) {
    const char *msg;
    char text[256];
    route(r, url, method);
    int health = r->def && !r->err_status &&
                 (r->route == PR__ROUTE_HEALTHZ || r->route == PR__ROUTE_READYZ ||
                  r->route == PR__ROUTE_METRICS);
    if (r->conn && r->conn->reserve && !health) {
        pr__metrics_add(&s->metrics.overload_rejected, 1);
        return reply_error(s, c, r, MHD_HTTP_SERVICE_UNAVAILABLE,
                           "overloaded: too many open connections, retry later", 1);
    }
    if ((msg = framing_error(c))) {
        pr__metrics_add(&s->metrics.framing_rejected, 1);
        return reply_error(s, c, r, MHD_HTTP_BAD_REQUEST, msg, 1);
    }
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        unsigned long long n = strtoull(cl, NULL, 10);
        if (n > s->o.max_body) {
            snprintf(text, sizeof text, "request body of %llu bytes, the limit is %zu (--max-body)",
                     n, s->o.max_body);
            return reply_error(s, c, r, MHD_HTTP_CONTENT_TOO_LARGE, text, 1);
        }
        /* The whole body's memory, reserved before any of it is read. */
        if (n && !r->err_status && pr__body_reserve(s, &r->body, (size_t)n + 1) != 0) {
            snprintf(text, sizeof text,
                     "overloaded: request bodies in flight hold the server's body memory "
                     "(--max-body-memory %zu bytes), retry later",
                     s->o.max_body_memory);
            return reply_error(s, c, r, MHD_HTTP_SERVICE_UNAVAILABLE, text, 1);
        }
    }
    if (!r->err_status && !strcmp(version, MHD_HTTP_VERSION_1_1) &&
        !MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST)) {
        pr__metrics_add(&s->metrics.framing_rejected, 1);
        r->err_status = MHD_HTTP_BAD_REQUEST;
        snprintf(r->err_msg, sizeof r->err_msg, "HTTP/1.1 request without a Host header");
    }
    if (!r->err_status && (r->route == PR__ROUTE_RELOAD || r->route == PR__ROUTE_RETRAIN ||
                           r->route == PR__ROUTE_MODEL || r->route == PR__ROUTE_READYZ)) {
        unsigned st = admin_check(s, c, &msg);
        r->admin = st == 0;
        if (st && (r->route == PR__ROUTE_RELOAD || r->route == PR__ROUTE_RETRAIN)) {
            r->err_status = st;
            snprintf(r->err_msg, sizeof r->err_msg, "%s", msg);
        }
    }
    /* cut by the reaper while its headers trickled in: drop it */
    return pr__guard_phase(s, r->conn, PR__CONN_BODY) == 0 ? MHD_YES : MHD_NO;
}

static void append_body(pr_server *s, req_ctx *r, const char *data, size_t n) {
    if (r->too_big || r->over_budget || r->err_status) return;
    if (r->body.len + n > s->o.max_body) {
        r->too_big = 1;
        pr__body_free(s, &r->body);
        return;
    }
    if (pr__body_reserve(s, &r->body, r->body.len + n + 1) != 0) {
        r->over_budget = 1;
        pr__body_free(s, &r->body);
        return;
    }
    memcpy(r->body.p + r->body.len, data, n);
    r->body.len += n;
    r->body.p[r->body.len] = '\0';
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    pr_server *s = cls;
    req_ctx *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r) return MHD_NO;
        r->t0 = mono_ns();
        r->conn = conn_of(c);
        *con_cls = r;
        __atomic_add_fetch(&s->metrics.in_flight, 1, __ATOMIC_RELAXED);
        return first_call(s, c, r, url, method, version);
    }
    if (r->answered) { /* answered at the first call: drop any body */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        append_body(s, r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    /* cut by the reaper (408 sent) while its body trickled in: drop it */
    if (pr__guard_phase(s, r->conn, PR__CONN_BUSY) != 0) return MHD_NO;
    if (r->err_status) return reply_error(s, c, r, r->err_status, r->err_msg, 0);
    if (r->too_big || r->over_budget) {
        char text[200];
        if (r->too_big)
            snprintf(text, sizeof text, "request body over the limit of %zu bytes (--max-body)",
                     s->o.max_body);
        else
            snprintf(text, sizeof text,
                     "overloaded: request bodies in flight hold the server's body memory "
                     "(--max-body-memory %zu bytes), retry later",
                     s->o.max_body_memory);
        return reply_error(s, c, r, r->too_big ? MHD_HTTP_CONTENT_TOO_LARGE
                                               : MHD_HTTP_SERVICE_UNAVAILABLE, text, 1);
    }
    return run_handler(s, c, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    pr_server *s = cls;
    req_ctx *r = *con_cls;
    (void)toe;
    if (!r) return;
    /* the answer is out: the shadow's copy of its rows costs it nothing */
    if (r->route == PR__ROUTE_PREDICT && s->shadow) pr__predict_completed(s);
    pr__job_release(r->job);
    pr__guard_phase(s, r->conn ? r->conn : conn_of(c), PR__CONN_IDLE);
    pr__body_free(s, &r->body);
    free(r);
    *con_cls = NULL;
    __atomic_sub_fetch(&s->metrics.in_flight, 1, __ATOMIC_RELAXED);
}

/* The request line of a request arrived (MHD calls this before parsing the
 * headers): a keep-alive connection's header deadline starts here. */
static void *on_request_line(void *cls, const char *uri, struct MHD_Connection *c) {
    (void)uri;
    pr__guard_phase(cls, conn_of(c), PR__CONN_HEAD);
    return NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
    pr_server *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        int64_t open = __atomic_add_fetch(&s->metrics.connections_open, 1, __ATOMIC_RELAXED);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci ? pr__guard_open(s, ci->connect_fd, open) : NULL;
    } else {
        __atomic_sub_fetch(&s->metrics.connections_open, 1, __ATOMIC_RELAXED);
        pr__guard_close(s, *socket_context);
        *socket_context = NULL;
    }
}

static void on_log(void *cls, const char *fmt, va_list ap) {
    pr_server *s = cls;
    char line[512];
    if (s->o.quiet) return;
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n') line[--n] = '\0';
    pr_log(PR_LOG_WARN, "serve: http: %s", line);
}

/* "HOST:PORT" or "[V6]:PORT" -> a socket address. */
static pr_status parse_listen(const char *listen, struct sockaddr_storage *sa, int *v6,
                              pr_err *err) {
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || !colon[1])
        return pr_err_set(err, PR_ERR_INVALID, "listen address '%s': expected HOST:PORT", listen);
    size_t hl = (size_t)(colon - listen);
    const char *h = listen;
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= sizeof host) return pr_err_set(err, PR_ERR_INVALID, "listen address '%s': host too long", listen);
    memcpy(host, h, hl);
    host[hl] = '\0';
    char *end;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (*end || port > 65535)
        return pr_err_set(err, PR_ERR_INVALID, "listen address '%s': port must be 0..65535", listen);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    int rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0 || !res)
        return pr_err_set(err, PR_ERR_INVALID, "listen address '%s': %s", listen, gai_strerror(rc));
    memcpy(sa, res->ai_addr, res->ai_addrlen);
    *v6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return PR_OK;
}

/* Every connection is a descriptor: raise the soft limit to the hard one
 * and refuse a --max-connections that cannot fit. */
static pr_status raise_fd_limit(pr_server *s, pr_err *err) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return PR_OK;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    rlim_t need = (rlim_t)s->o.max_connections + PR_SERVE_RESERVE + 64;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
        return pr_err_set(err, PR_ERR_INVALID,
                          "max_connections %u needs %llu file descriptors, the limit is %llu "
                          "(ulimit -n)",
                          s->o.max_connections, (unsigned long long)need,
                          (unsigned long long)rl.rlim_cur);
    return PR_OK;
}

pr_status pr__http_start(pr_server *s, pr_err *err) {
    struct sockaddr_storage sa;
    int v6 = 0;
    pr_status st = parse_listen(s->listen, &sa, &v6, err);
    if (st != PR_OK) return st;
    if ((st = raise_fd_limit(s, err)) != PR_OK) return st;
    if ((st = pr__guard_init(s, err)) != PR_OK) return st;
    unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC |
                     MHD_ALLOW_SUSPEND_RESUME; /* jobs.c */
    if (v6) flags |= MHD_USE_IPv6;
    unsigned per_ip = s->o.max_connections_per_ip ? s->o.max_connections_per_ip
                                                  : (s->o.max_connections * 3 + 3) / 4;
    s->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_log, s,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)s->o.threads,
        /* Past max_connections a connection is the health reserve (first
         * call); past the reserve MHD closes new connections at accept. */
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)(s->o.max_connections + PR_SERVE_RESERVE),
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(s->o.idle_timeout + 0.5),
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
        MHD_OPTION_URI_LOG_CALLBACK, on_request_line, s,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
        s, MHD_OPTION_END);
    if (!s->mhd)
        return pr_err_set(err, PR_ERR_IO,
                          "cannot listen on %s (address in use, or not an address of this host)",
                          s->listen);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : 0;
    return PR_OK;
}

void pr__http_quiesce(pr_server *s) {
    __atomic_store_n(&s->draining, 1, __ATOMIC_RELAXED);
    if (!s->mhd) return;
    /* No new connections from here on; MHD hands the listening socket back
     * to be closed (connections already open keep being served). */
    MHD_socket fd = MHD_quiesce_daemon(s->mhd);
    if (fd != MHD_INVALID_SOCKET) close(fd);
}

void pr__http_stop(pr_server *s) {
    pr__guard_stop(s); /* no socket touched by the reaper from here on */
    if (s->mhd) MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
}
