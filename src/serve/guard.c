/*
 * guard.c: what protects the HTTP threads from hostile or broken clients
 * that libmicrohttpd 0.9.75 does not bound by itself: the time to receive a
 * request's headers and body (its own timeout is idle time only, reset by
 * every byte, so a client sending one byte every few seconds holds a
 * connection forever), the reserve of connections for health checks, and
 * the memory of request bodies in flight, counted over all connections.
 *
 * Structure: one pr__conn per open connection, created by http.c's
 * connection-start callback and kept in a list (guard.mu). Each has a
 * phase and a deadline:
 *
 *   phase   from                          until                deadline
 *   HEAD    accept / the request line     end of the headers   header_timeout
 *   BODY    end of the headers            end of the body      body_timeout
 *   BUSY    end of the body               request completed    none (the
 *           (handler, reply)                                   handler's own)
 *   IDLE    request completed             next request line    idle + header
 *   CUT     408 sent, output shut         (lingering)          1 s
 *   DEAD    shut down both ways           MHD closes           -
 *
 * A reaper thread wakes every 100 ms and cuts every connection past its
 * deadline. HEAD and BODY get a 408 JSON reply, written straight to the
 * socket (MHD writes nothing there in those phases), and shutdown(SHUT_WR):
 * the client reads the reply and an end of stream. Its input is still
 * accepted for a second (phase CUT: closing a socket with unread input
 * sends a reset, which would destroy the reply before the client reads
 * it, as nginx's lingering close avoids), then shutdown(SHUT_RDWR), which
 * MHD sees as the peer's close and finishes like one (phase DEAD). An IDLE
 * connection goes straight to DEAD. A request that completes its headers
 * while CUT is dropped (the access handler refuses it). The socket is
 * touched only under guard.mu, and the connection-close callback unlinks
 * the record under guard.mu before MHD closes the descriptor, so the
 * reaper never writes to a descriptor that was closed or reused.
 *
 * Bodies: every byte of body capacity a request holds is reserved from a
 * global budget (max_body_memory) with an atomic add before it is
 * allocated and released when freed; a request that would pass the budget
 * is answered 503 and its connection closed. Buffers of 256 KiB and more
 * are mmap'ed (grown with mremap), so their memory goes back to the system
 * when the request ends instead of staying in malloc's heap.
 *
 * Ownership: the guard owns the pr__conn records (freed at close) and the
 * reaper thread (joined by pr__guard_stop, before MHD stops).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>

#include "serve/serve_int.h"

uint64_t pr__mono_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static uint64_t secs_ns(double s) { return (uint64_t)(s * 1e9); }

/* ---------------------------------------------------------------- conns */

pr__conn *pr__guard_open(pr_server *s, int fd, int64_t open_now) {
    pr__guard *g = &s->guard;
    pr__conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->fd = fd;
    c->reserve = open_now > (int64_t)s->o.max_connections;
    c->phase = PR__CONN_HEAD;
    c->deadline_ns = pr__mono_ns() + secs_ns(s->o.header_timeout);
    pthread_mutex_lock(&g->mu);
    c->next = g->head.next;
    c->prev = &g->head;
    g->head.next->prev = c;
    g->head.next = c;
    pthread_mutex_unlock(&g->mu);
    return c;
}

void pr__guard_close(pr_server *s, pr__conn *c) {
    if (!c) return;
    pthread_mutex_lock(&s->guard.mu);
    c->prev->next = c->next;
    c->next->prev = c->prev;
    pthread_mutex_unlock(&s->guard.mu);
    free(c);
}

int pr__guard_phase(pr_server *s, pr__conn *c, int phase) {
    if (!c) return 0;
    uint64_t now = pr__mono_ns(), d = 0;
    switch (phase) {
    case PR__CONN_HEAD: d = now + secs_ns(s->o.header_timeout); break;
    case PR__CONN_BODY: d = now + secs_ns(s->o.body_timeout); break;
    case PR__CONN_IDLE: d = now + secs_ns(s->o.idle_timeout + s->o.header_timeout); break;
    default: break;
    }
    int cut = 0;
    pthread_mutex_lock(&s->guard.mu);
    if (c->phase == PR__CONN_CUT || c->phase == PR__CONN_DEAD) {
        cut = -1;
    } else {
        /* A new connection's first request line keeps the deadline counted
         * from accept. */
        if (!(phase == PR__CONN_HEAD && c->phase == PR__CONN_HEAD)) c->deadline_ns = d;
        c->phase = phase;
    }
    pthread_mutex_unlock(&s->guard.mu);
    return cut;
}

/* Writes a 408 with a JSON body and ends the output; guard.mu held. */
static void cut(pr_server *s, pr__conn *c, uint64_t now, const char *what, double limit,
                const char *flag) {
    char body[256], msg[512];
    int bl = snprintf(body, sizeof body,
                      "{\"error\":\"request %s not received within %g s (%s)\"}\n", what, limit,
                      flag);
    int ml = snprintf(msg, sizeof msg,
                      "HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
                      "Connection: close\r\nContent-Length: %d\r\n\r\n%s",
                      bl, body);
    (void)s;
    if (ml > 0 && (size_t)ml < sizeof msg)
        (void)send(c->fd, msg, (size_t)ml, MSG_NOSIGNAL | MSG_DONTWAIT);
    shutdown(c->fd, SHUT_WR);
    c->phase = PR__CONN_CUT;
    c->deadline_ns = now + 1000000000u; /* the lingering second */
}

static void kill_conn(pr__conn *c) {
    shutdown(c->fd, SHUT_RDWR);
    c->phase = PR__CONN_DEAD;
}

static void sweep(pr_server *s) {
    pr__guard *g = &s->guard;
    uint64_t now = pr__mono_ns();
    pthread_mutex_lock(&g->mu);
    for (pr__conn *c = g->head.next; c != &g->head; c = c->next) {
        if (c->phase == PR__CONN_BUSY || c->phase == PR__CONN_DEAD || now < c->deadline_ns)
            continue;
        if (c->phase == PR__CONN_HEAD) {
            pr__metrics_add(&s->metrics.header_timeouts, 1);
            cut(s, c, now, "headers", s->o.header_timeout, "--header-timeout");
        } else if (c->phase == PR__CONN_BODY) {
            pr__metrics_add(&s->metrics.body_timeouts, 1);
            cut(s, c, now, "body", s->o.body_timeout, "--body-timeout");
        } else if (c->phase == PR__CONN_IDLE) {
            pr__metrics_add(&s->metrics.idle_timeouts, 1);
            kill_conn(c);
        } else { /* CUT: the lingering second is over */
            kill_conn(c);
        }
    }
    pthread_mutex_unlock(&g->mu);
}

pr_status pr__guard_init(pr_server *s, pr_err *err) {
    pr__guard *g = &s->guard;
    pthread_mutex_init(&g->mu, NULL);
    g->head.next = g->head.prev = &g->head;
    g->inited = 1;
    return pr__ticker_start(&g->reaper, 100, sweep, s, "connection reaper", err);
}

void pr__guard_stop(pr_server *s) {
    pr__ticker_stop(&s->guard.reaper);
}

void pr__guard_free(pr_server *s) {
    pr__guard *g = &s->guard;
    if (!g->inited) return;
    pr__guard_stop(s);
    pthread_mutex_destroy(&g->mu);
    g->inited = 0;
}

/* ---------------------------------------------------------------- bodies */

enum { MAP_FROM = 256u << 10 }; /* buffers this large are mmap'ed */

static size_t page_round(size_t n) { return (n + 4095) & ~(size_t)4095; }

/* The bytes a buffer of capacity cap really holds (mmap: whole pages). */
static size_t held(size_t cap) { return cap >= MAP_FROM ? page_round(cap) : cap; }

int pr__body_reserve(pr_server *s, pr__body *b, size_t need) {
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < need) cap *= 2;
    if (cap > s->o.max_body + 1) cap = s->o.max_body + 1;
    if (cap < need) cap = need;
    size_t add = held(cap) - held(b->cap);
    int64_t now = __atomic_add_fetch(&s->metrics.body_bytes, (int64_t)add, __ATOMIC_RELAXED);
    if (now > (int64_t)s->o.max_body_memory) {
        __atomic_sub_fetch(&s->metrics.body_bytes, (int64_t)add, __ATOMIC_RELAXED);
        pr__metrics_add(&s->metrics.body_budget_rejected, 1);
        return -1;
    }
    char *p;
    if (cap >= MAP_FROM) {
        if (b->cap >= MAP_FROM) {
            p = mremap(b->p, page_round(b->cap), page_round(cap), MREMAP_MAYMOVE);
        } else {
            p = mmap(NULL, page_round(cap), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
            if (p != MAP_FAILED && b->len) memcpy(p, b->p, b->len);
            if (p != MAP_FAILED) free(b->p);
        }
        if (p == MAP_FAILED) p = NULL;
    } else {
        p = realloc(b->p, cap);
    }
    if (!p) {
        __atomic_sub_fetch(&s->metrics.body_bytes, (int64_t)add, __ATOMIC_RELAXED);
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void pr__body_free(pr_server *s, pr__body *b) {
    if (!b->cap) return;
    if (b->cap >= MAP_FROM) munmap(b->p, page_round(b->cap));
    else free(b->p);
    __atomic_sub_fetch(&s->metrics.body_bytes, (int64_t)held(b->cap), __ATOMIC_RELAXED);
    b->p = NULL;
    b->len = b->cap = 0;
}
