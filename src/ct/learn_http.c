/*
 * learn_http.c: `pronto learn --metrics-port P`: the learner's figures as
 * Prometheus text on GET /metrics, served by libmicrohttpd (as pronto
 * serve) from one internal thread; 404 for anything else. The learner's
 * thread writes the figures under a mutex every 256 examples, at each
 * publish and at each pause of the log; the HTTP thread copies them.
 *
 * Ownership: pr_learn_metrics owns the daemon; stop joins it.
 */
#include <math.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ct/learn_int.h"

struct pr_learn_metrics {
    struct MHD_Daemon *mhd;
    pthread_mutex_t lock;
    uint64_t examples, bad, published;
    double ll, ne, interval_ll;
    int64_t clock_ms;
};

static void num(char *buf, size_t cap, double v) {
    if (isfinite(v)) snprintf(buf, cap, "%.9g", v);
    else snprintf(buf, cap, "NaN");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_len, void **con_cls) {
    (void)version, (void)upload, (void)upload_len, (void)con_cls;
    pr_learn_metrics *m = cls;
    struct MHD_Response *r;
    enum MHD_Result rc;
    if (strcmp(url, "/metrics") || (strcmp(method, "GET") && strcmp(method, "HEAD"))) {
        static const char nf[] = "not found: GET /metrics\n";
        r = MHD_create_response_from_buffer(sizeof nf - 1, (void *)nf, MHD_RESPMEM_PERSISTENT);
        rc = MHD_queue_response(c, MHD_HTTP_NOT_FOUND, r);
        MHD_destroy_response(r);
        return rc;
    }
    pthread_mutex_lock(&m->lock);
    pr_learn_metrics v = *m;
    pthread_mutex_unlock(&m->lock);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    double lag = v.clock_ms == INT64_MIN
                     ? NAN
                     : (double)now.tv_sec + now.tv_nsec * 1e-9 - (double)v.clock_ms / 1000.0;
    char ll[32], ne[32], il[32], lg[32], body[2048];
    num(ll, sizeof ll, v.ll);
    num(ne, sizeof ne, v.ne);
    num(il, sizeof il, v.interval_ll);
    num(lg, sizeof lg, lag);
    int n = snprintf(body, sizeof body,
                     "# HELP pronto_learn_examples_total Labeled examples learned.\n"
                     "# TYPE pronto_learn_examples_total counter\n"
                     "pronto_learn_examples_total %llu\n"
                     "# HELP pronto_learn_pv_logloss Progressive-validation log loss, overall.\n"
                     "# TYPE pronto_learn_pv_logloss gauge\n"
                     "pronto_learn_pv_logloss %s\n"
                     "# HELP pronto_learn_pv_ne Progressive-validation normalized entropy.\n"
                     "# TYPE pronto_learn_pv_ne gauge\n"
                     "pronto_learn_pv_ne %s\n"
                     "# HELP pronto_learn_interval_pv_logloss Last published interval's log loss.\n"
                     "# TYPE pronto_learn_interval_pv_logloss gauge\n"
                     "pronto_learn_interval_pv_logloss %s\n"
                     "# HELP pronto_learn_lag_seconds Wall clock minus the newest event time processed.\n"
                     "# TYPE pronto_learn_lag_seconds gauge\n"
                     "pronto_learn_lag_seconds %s\n"
                     "# HELP pronto_learn_bad_events_total Malformed events skipped.\n"
                     "# TYPE pronto_learn_bad_events_total counter\n"
                     "pronto_learn_bad_events_total %llu\n"
                     "# HELP pronto_learn_published_total Versions registered.\n"
                     "# TYPE pronto_learn_published_total counter\n"
                     "pronto_learn_published_total %llu\n",
                     (unsigned long long)v.examples, ll, ne, il, lg, (unsigned long long)v.bad,
                     (unsigned long long)v.published);
    r = MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4");
    rc = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

pr_status pr_learn_metrics_start(int port, pr_learn_metrics **out, pr_err *err) {
    *out = NULL;
    if (!port) return PR_OK;
    if (port < 1 || port > 65535)
        return pr_err_set(err, PR_ERR_INVALID, "metrics port %d: not in 1..65535", port);
    pr_learn_metrics *m = calloc(1, sizeof *m);
    if (!m) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&m->lock, NULL);
    m->ll = m->ne = m->interval_ll = NAN;
    m->clock_ms = INT64_MIN;
    m->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, (uint16_t)port,
                              NULL, NULL, on_request, m, MHD_OPTION_CONNECTION_TIMEOUT,
                              (unsigned)10, MHD_OPTION_END);
    if (!m->mhd) {
        pthread_mutex_destroy(&m->lock);
        free(m);
        return pr_err_set(err, PR_ERR_IO, "metrics port %d: cannot listen", port);
    }
    *out = m;
    return PR_OK;
}

void pr_learn_metrics_examples(pr_learn_metrics *m, uint64_t n, double ll, double ne,
                               uint64_t bad) {
    if (!m) return;
    pthread_mutex_lock(&m->lock);
    m->examples = n;
    m->ll = ll;
    m->ne = ne;
    m->bad = bad;
    pthread_mutex_unlock(&m->lock);
}

void pr_learn_metrics_publish(pr_learn_metrics *m, double interval_ll, double ne) {
    if (!m) return;
    pthread_mutex_lock(&m->lock);
    m->published++;
    m->interval_ll = interval_ll;
    m->ne = ne;
    pthread_mutex_unlock(&m->lock);
}

void pr_learn_metrics_lag(pr_learn_metrics *m, int64_t clock_ms) {
    if (!m) return;
    pthread_mutex_lock(&m->lock);
    m->clock_ms = clock_ms;
    pthread_mutex_unlock(&m->lock);
}

void pr_learn_metrics_stop(pr_learn_metrics *m) {
    if (!m) return;
    MHD_stop_daemon(m->mhd);
    pthread_mutex_destroy(&m->lock);
    free(m);
}
