/*
 * webhook.c: POSTs JSON documents (alert transitions) to a URL from one
 * thread of its own, with libcurl.
 *
 * Structure: posters copy the document, then take `mu` only to push it on
 * a ring of queue_max entries (full: the oldest is freed and counted
 * dropped) and signal `cv`; nothing a poster does waits on the network.
 * The sender pops one document under `mu`, releases it, and delivers: an
 * attempt is one curl_easy_perform bounded by timeout_ms; a connect
 * error, a timeout or a 5xx/429 is retried after backoff_ms (doubled each
 * retry, capped at backoff_max_ms) up to max_retries times; a 2xx counts
 * sent, anything else failed. Backoff waits are timed waits on `cv`, and
 * curl's progress callback polls `stop`, so pr_webhook_free never waits
 * for a timeout or a backoff: the document in flight and those still
 * queued are counted dropped.
 *
 * Ownership: the pr_webhook owns its URL copy, the queued documents and
 * the curl handle (touched by the sender thread only).
 */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "monitor/alert_int.h"

typedef struct doc {
    char *body;
    size_t len;
} doc;

struct pr_webhook {
    char *url;
    pr_webhook_opts o;
    pthread_mutex_t mu;
    pthread_cond_t cv;       /* work queued, or stop */
    pthread_cond_t idle_cv;  /* the sender finished a document */
    doc *ring;
    size_t head, count;
    int busy;                /* a document is being delivered */
    int stop;                /* read by the progress callback: atomics */
    pr_webhook_stats st;
    pthread_t thread;
    CURL *curl;
    struct curl_slist *headers;
};

void pr_webhook_opts_default(pr_webhook_opts *o) {
    o->queue_max = 256;
    o->timeout_ms = 5000;
    o->connect_timeout_ms = 2000;
    o->max_retries = 3;
    o->backoff_ms = 500;
    o->backoff_max_ms = 30000;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static int stopping(pr_webhook *w) { return __atomic_load_n(&w->stop, __ATOMIC_ACQUIRE); }

/* An absolute CLOCK_MONOTONIC deadline ms from now (the conds use it). */
static struct timespec deadline_in(int64_t ms) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += (time_t)(ms / 1000);
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

static size_t discard(char *p, size_t size, size_t n, void *ctx) { return size * n; }

static int progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un) {
    return stopping(ctx); /* nonzero aborts the transfer */
}

typedef enum { SENT, RETRY, FAIL } outcome;

/* One attempt. */
static outcome attempt(pr_webhook *w, const doc *d, int *timed_out) {
    CURL *c = w->curl;
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, d->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)d->len);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        if (code >= 200 && code < 300) return SENT;
        if (code >= 500 || code == 429) {
            pr_log(PR_LOG_WARN, "webhook %s: HTTP %ld", w->url, code);
            return RETRY;
        }
        pr_log(PR_LOG_WARN, "webhook %s: HTTP %ld (not retried)", w->url, code);
        return FAIL;
    }
    if (rc == CURLE_OPERATION_TIMEDOUT) *timed_out = 1;
    if (rc != CURLE_ABORTED_BY_CALLBACK)
        pr_log(PR_LOG_WARN, "webhook %s: %s", w->url, curl_easy_strerror(rc));
    if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL) return FAIL;
    return RETRY;
}

/* Delivers d with retries. Called without mu; updates counters under it. */
static void deliver(pr_webhook *w, const doc *d) {
    int64_t backoff = w->o.backoff_ms;
    for (unsigned i = 0;; i++) {
        int timed_out = 0;
        outcome r = attempt(w, d, &timed_out);
        pthread_mutex_lock(&w->mu);
        if (timed_out) w->st.timeouts++;
        if (stopping(w)) {
            w->st.dropped += r != SENT;
            w->st.sent += r == SENT;
            pthread_mutex_unlock(&w->mu);
            return;
        }
        if (r == SENT || r == FAIL || i >= w->o.max_retries) {
            if (r == SENT)
                w->st.sent++;
            else
                w->st.failed++;
            pthread_mutex_unlock(&w->mu);
            return;
        }
        w->st.retried++;
        struct timespec until = deadline_in(backoff);
        while (!w->stop && pthread_cond_timedwait(&w->cv, &w->mu, &until) != ETIMEDOUT) {
        }
        pthread_mutex_unlock(&w->mu);
        backoff = backoff * 2 > w->o.backoff_max_ms ? w->o.backoff_max_ms : backoff * 2;
    }
}

static void *sender(void *arg) {
    pr_webhook *w = arg;
    /* a peer that closes mid-write must not kill the process (TLS writes
     * do not all pass MSG_NOSIGNAL) */
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->stop && w->count == 0) pthread_cond_wait(&w->cv, &w->mu);
        if (w->stop) break;
        doc d = w->ring[w->head];
        w->head = (w->head + 1) % w->o.queue_max;
        w->count--;
        w->busy = 1;
        pthread_mutex_unlock(&w->mu);
        deliver(w, &d);
        free(d.body);
        pthread_mutex_lock(&w->mu);
        w->busy = 0;
        pthread_cond_broadcast(&w->idle_cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

pr_status pr_webhook_new(const char *url, const pr_webhook_opts *o, pr_webhook **out,
                         pr_err *err) {
    pr_webhook_opts def;
    if (!o) {
        pr_webhook_opts_default(&def);
        o = &def;
    }
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return pr_err_set(err, PR_ERR_INVALID, "webhook URL '%.200s': expected http:// or https://",
                          url);
    if (o->queue_max == 0 || o->queue_max > 1000000)
        return pr_err_set(err, PR_ERR_INVALID, "webhook queue must hold 1..1000000 documents");
    if (o->timeout_ms <= 0 || o->connect_timeout_ms <= 0 || o->backoff_ms < 0 ||
        o->backoff_max_ms < o->backoff_ms || o->max_retries > 100)
        return pr_err_set(err, PR_ERR_INVALID,
                          "webhook timeouts must be positive, backoff 0..backoff_max, retries "
                          "at most 100");
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return pr_err_set(err, PR_ERR_IO, "libcurl: %s", curl_easy_strerror(curl_init_rc));
    pr_webhook *w = calloc(1, sizeof *w);
    if (!w) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    w->o = *o;
    w->url = strdup(url);
    w->ring = calloc(o->queue_max, sizeof *w->ring);
    w->curl = curl_easy_init();
    w->headers = curl_slist_append(NULL, "Content-Type: application/json");
    struct curl_slist *h2 = w->headers ? curl_slist_append(w->headers, "Expect:") : NULL;
    if (h2) w->headers = h2;
    if (!w->url || !w->ring || !w->curl || !h2) {
        curl_slist_free_all(w->headers);
        curl_easy_cleanup(w->curl);
        free(w->ring);
        free(w->url);
        free(w);
        return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    }
    CURL *c = w->curl;
    curl_easy_setopt(c, CURLOPT_URL, w->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, w->headers);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "pronto-alerts/1");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)o->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, w);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, &ca);
    pthread_cond_init(&w->idle_cv, &ca);
    pthread_condattr_destroy(&ca);
    int e = pthread_create(&w->thread, NULL, sender, w);
    if (e) {
        pthread_cond_destroy(&w->cv);
        pthread_cond_destroy(&w->idle_cv);
        pthread_mutex_destroy(&w->mu);
        curl_slist_free_all(w->headers);
        curl_easy_cleanup(w->curl);
        free(w->ring);
        free(w->url);
        free(w);
        return pr_err_errno(err, PR_ERR_IO, e, "webhook: cannot start its thread");
    }
    *out = w;
    return PR_OK;
}

void pr_webhook_free(pr_webhook *w) {
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    __atomic_store_n(&w->stop, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    for (size_t i = 0; i < w->count; i++) free(w->ring[(w->head + i) % w->o.queue_max].body);
    pthread_cond_destroy(&w->cv);
    pthread_cond_destroy(&w->idle_cv);
    pthread_mutex_destroy(&w->mu);
    curl_slist_free_all(w->headers);
    curl_easy_cleanup(w->curl);
    free(w->ring);
    free(w->url);
    free(w);
}

pr_status pr_webhook_post(pr_webhook *w, const char *json, size_t len) {
    char *copy = malloc(len + 1);
    if (copy) {
        memcpy(copy, json, len);
        copy[len] = '\0';
    }
    pthread_mutex_lock(&w->mu);
    if (!copy || w->stop) {
        w->st.dropped++;
        pthread_mutex_unlock(&w->mu);
        free(copy);
        return copy ? PR_OK : PR_ERR_NOMEM;
    }
    if (w->count == w->o.queue_max) { /* full: drop the oldest */
        free(w->ring[w->head].body);
        w->head = (w->head + 1) % w->o.queue_max;
        w->count--;
        w->st.dropped++;
    }
    w->ring[(w->head + w->count) % w->o.queue_max] = (doc){copy, len};
    w->count++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return PR_OK;
}

void pr_webhook_on_transition(void *ctx, const pr_alert_transition *t) {
    pr_webhook *w = ctx;
    char *json = NULL;
    size_t len = 0;
    pr_err err;
    if (pr_alert_transition_json(t, &json, &len, &err) != PR_OK) {
        pthread_mutex_lock(&w->mu);
        w->st.dropped++;
        pthread_mutex_unlock(&w->mu);
        pr_log(PR_LOG_ERROR, "webhook: %s", err.msg);
        return;
    }
    pr_webhook_post(w, json, len);
    free(json);
}

int pr_webhook_flush(pr_webhook *w, int64_t timeout_ms) {
    struct timespec until = deadline_in(timeout_ms);
    pthread_mutex_lock(&w->mu);
    int idle;
    while (!(idle = w->count == 0 && !w->busy) &&
           pthread_cond_timedwait(&w->idle_cv, &w->mu, &until) != ETIMEDOUT) {
    }
    idle = w->count == 0 && !w->busy;
    pthread_mutex_unlock(&w->mu);
    return idle;
}

void pr_webhook_stats_get(pr_webhook *w, pr_webhook_stats *out) {
    pthread_mutex_lock(&w->mu);
    *out = w->st;
    out->queued = w->count;
    pthread_mutex_unlock(&w->mu);
}
