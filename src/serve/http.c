/*
 * http.c: the libmicrohttpd glue. Routing, request bodies with a ceiling,
 * the connection cap, bearer-token checks, and one reply helper that
 * counts every answer in /metrics.
 *
 * Why libmicrohttpd: a mature C library in Debian with HTTP/1.1
 * keep-alive, an epoll thread pool (each of `threads` threads runs its own
 * event loop over its own connections: no hand-off queue between an
 * acceptor and workers, so a request is parsed, computed and answered on
 * one core), and quiesce for draining. Its transport cost is small next to
 * a 100-candidate predict: a fixed body through it (GET /healthz) answers
 * at p50 33 us, p99 72 us at wrk -t1 -c2 (docs/api.md), where the
 * predict's own work is ~130 us.
 *
 * A request's life: the first call of the access handler (headers only)
 * allocates a req_ctx, answers at once too many open connections (503)
 * and a Content-Length over --max-body (413), both closing the
 * connection, and notes an unknown route (404), a wrong method (405) or a
 * failed admin check (401/403). POST bodies are appended to the req_ctx
 * in the following calls (a chunked body growing past the ceiling is
 * dropped and answered 413), and the last call answers the noted error or
 * runs the handler on the whole body; events and reloads are queued to
 * their own thread instead (jobs.c), the connection suspended until the
 * reply is ready. The completion callback frees the req_ctx (and lets go
 * of its job) and ends the request's in-flight count, which is what a
 * drain waits for.
 *
 * Ownership: the req_ctx and its body belong to MHD's per-request slot
 * (*con_cls) from the first call to the completion callback. Replies are
 * copied by MHD (MHD_RESPMEM_MUST_COPY), so handlers write into a local
 * pr__tb freed right after queueing.
 */
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    {"/admin/reload", "POST", PR__ROUTE_RELOAD},
};

typedef struct req_ctx {
    const route_def *def;  /* NULL: no such route */
    pr__route route;
    uint64_t t0;           /* monotonic ns at the first call */
    char *body;
    size_t len, cap;
    int too_big;
    int answered;
    int retry_after;       /* seconds, sent with a 503 when > 0 */
    pr__job *job;          /* events, reload: the work queued (jobs.c) */
    unsigned err_status;   /* an error found at the first call, answered */
    char err_msg[256];     /* at the last one (keep-alive stays possible) */
} req_ctx;

static const char *const json_type = "application/json";

static uint64_t mono_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
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
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->def->method);
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

/* Compares in time independent of where the first difference is. */
static int token_equal(const char *a, size_t alen, const char *b, size_t blen) {
    unsigned char d = (unsigned char)(alen != blen);
    for (size_t i = 0; i < alen && i < blen; i++) d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

/* 0 if the request may use admin endpoints, else the status to answer
 * (401 no credentials, 403 wrong token or admin disabled), msg set. */
static unsigned admin_check(pr_server *s, struct MHD_Connection *c, const char **msg) {
    if (!s->admin_token || !s->admin_token[0]) {
        *msg = "admin endpoints are disabled: start the server with --admin-token or "
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
 * time here the work is queued and the connection suspended; when it is
 * resumed, the stored reply goes out. A full queue answers 503 at once. */
static enum MHD_Result run_job(pr_server *s, struct MHD_Connection *c, req_ctx *r) {
    if (!r->job) {
        const char *why = pr__job_submit(s, r->route, c, &r->body, r->len, &r->job);
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
    if (r->route == PR__ROUTE_EVENTS || r->route == PR__ROUTE_RELOAD) return run_job(s, c, r);
    pr__tb out;
    pr__tb_init(&out, s->o.max_body + (16u << 20));
    unsigned status = 500;
    const char *type = json_type;
    const char *body = r->body ? r->body : "";
    switch (r->route) {
    case PR__ROUTE_PREDICT: type = pr__handle_predict(s, body, r->len, &status, &out); break;
    case PR__ROUTE_MODEL: type = pr__handle_model(s, &status, &out); break;
    case PR__ROUTE_READYZ: type = pr__handle_readyz(s, &status, &out); break;
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

/* The first call: headers only. Answers at once only what must not wait
 * for the body (413 by Content-Length, overload 503: both close the
 * connection); other errors are noted and answered at the last call, since
 * libmicrohttpd closes a connection whose reply was queued that early. */
static enum MHD_Result first_call(pr_server *s, struct MHD_Connection *c, req_ctx *r,
                                  const char *url, const char *method) {
    const char *msg;
    char text[256];
    r->route = PR__ROUTE_OTHER;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (!strcmp(url, routes[i].path)) r->def = &routes[i];
    if (r->def) r->route = r->def->route;
    int64_t open = __atomic_load_n(&s->metrics.connections_open, __ATOMIC_RELAXED);
    if (open > (int64_t)s->o.max_connections && (!r->def || r->def->route != PR__ROUTE_HEALTHZ)) {
        pr__metrics_add(&s->metrics.overload_rejected, 1);
        return reply_error(s, c, r, MHD_HTTP_SERVICE_UNAVAILABLE,
                           "overloaded: too many open connections, retry later", 1);
    }
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end;
        unsigned long long n = strtoull(cl, &end, 10);
        if (n > s->o.max_body) {
            snprintf(text, sizeof text, "request body of %llu bytes, the limit is %zu (--max-body)",
                     n, s->o.max_body);
            return reply_error(s, c, r, MHD_HTTP_CONTENT_TOO_LARGE, text, 1);
        }
    }
    if (!r->def) {
        r->err_status = MHD_HTTP_NOT_FOUND;
        snprintf(r->err_msg, sizeof r->err_msg, "no such endpoint: %.200s", url);
        return MHD_YES;
    }
    if (strcmp(method, r->def->method) != 0) {
        r->err_status = MHD_HTTP_METHOD_NOT_ALLOWED;
        snprintf(r->err_msg, sizeof r->err_msg, "%s takes %s, not %.32s", r->def->path,
                 r->def->method, method);
        return MHD_YES;
    }
    if (r->route == PR__ROUTE_RELOAD) {
        unsigned st = admin_check(s, c, &msg);
        if (st) {
            r->err_status = st;
            snprintf(r->err_msg, sizeof r->err_msg, "%s", msg);
        }
    }
    return MHD_YES;
}

static void append_body(pr_server *s, req_ctx *r, const char *data, size_t n) {
    if (r->too_big || r->err_status) return;
    if (r->len + n > s->o.max_body) {
        r->too_big = 1;
        free(r->body);
        r->body = NULL;
        r->len = r->cap = 0;
        return;
    }
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->len + n + 1) cap *= 2;
        char *b = realloc(r->body, cap);
        if (!b) {
            r->too_big = 1;
            return;
        }
        r->body = b;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = '\0';
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    pr_server *s = cls;
    req_ctx *r = *con_cls;
    (void)version;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r) return MHD_NO;
        r->t0 = mono_ns();
        *con_cls = r;
        __atomic_add_fetch(&s->metrics.in_flight, 1, __ATOMIC_RELAXED);
        return first_call(s, c, r, url, method);
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
    if (r->err_status) return reply_error(s, c, r, r->err_status, r->err_msg, 0);
    if (r->too_big) {
        char text[128];
        snprintf(text, sizeof text, "request body over the limit of %zu bytes (--max-body)",
                 s->o.max_body);
        return reply_error(s, c, r, MHD_HTTP_CONTENT_TOO_LARGE, text, 1);
    }
    return run_handler(s, c, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    pr_server *s = cls;
    req_ctx *r = *con_cls;
    (void)c;
    (void)toe;
    if (!r) return;
    pr__job_release(r->job);
    free(r->body);
    free(r);
    *con_cls = NULL;
    __atomic_sub_fetch(&s->metrics.in_flight, 1, __ATOMIC_RELAXED);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
    pr_server *s = cls;
    (void)c;
    (void)socket_context;
    __atomic_add_fetch(&s->metrics.connections_open, toe == MHD_CONNECTION_NOTIFY_STARTED ? 1 : -1,
                       __ATOMIC_RELAXED);
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
        return pr_err_set(err, PR_ERR_INVALID, "--listen '%s': expected HOST:PORT", listen);
    size_t hl = (size_t)(colon - listen);
    const char *h = listen;
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= sizeof host) return pr_err_set(err, PR_ERR_INVALID, "--listen '%s': host too long", listen);
    memcpy(host, h, hl);
    host[hl] = '\0';
    char *end;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (*end || port > 65535)
        return pr_err_set(err, PR_ERR_INVALID, "--listen '%s': port must be 0..65535", listen);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    int rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0 || !res)
        return pr_err_set(err, PR_ERR_INVALID, "--listen '%s': %s", listen, gai_strerror(rc));
    memcpy(sa, res->ai_addr, res->ai_addrlen);
    *v6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return PR_OK;
}

pr_status pr__http_start(pr_server *s, pr_err *err) {
    struct sockaddr_storage sa;
    int v6 = 0;
    pr_status st = parse_listen(s->listen, &sa, &v6, err);
    if (st != PR_OK) return st;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC |
                     MHD_ALLOW_SUSPEND_RESUME; /* jobs.c */
    if (v6) flags |= MHD_USE_IPv6;
    s->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_log, s,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)s->o.threads,
        /* Past the soft cap requests get a fast 503; past this hard one
         * MHD closes new connections at accept. */
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)(s->o.max_connections + 64 * s->o.threads),
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
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
    if (s->mhd) MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
}
