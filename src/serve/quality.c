/*
 * quality.c: live quality in the server (--quality, on by default): the
 * accumulator of pronto/quality.h fed on a thread of its own, its latest
 * closed windows in /metrics (pronto_quality{metric,window,arm,version})
 * and as samples for alert rules and /v1/monitor (pr__quality_snapshot).
 *
 * Hot path: a predict answered 200 and sampled (--quality-rate: about N
 * candidates a second are kept, whole requests chosen by their
 * request_id, pronto/quality.h "Sampling") builds one item (the answered
 * candidates' keys, top_k of them when the request set it: no other can be
 * shown; hashed from request_id and candidate key text, their p as the
 * answer writes it, the model's version and arm) and appends it to a queue under
 * qmu, a few instructions; a full queue (--quality-queue items or 64 MiB)
 * drops it and counts (pronto_quality_dropped_total). Nothing waits for
 * the accumulator and nothing is signalled: the thread (nice +15, below
 * the shadow and job threads) polls the queue every 10 ms, takes all of
 * it, and applies it under mu, QUAL_APPLY_CHUNK items at a time: a scrape
 * or a monitor tick waiting for mu gets it between two chunks, not after
 * the whole queue (up to 64 MiB), which this low-priority thread may be
 * descheduled in the middle of on a busy machine. Accepted event
 * batches (POST /v1/events, after they are applied and logged) are queued
 * the same way by the events thread, in the order they reach the log.
 *
 * Locks: qmu (the queue) and mu (the accumulator) are never held
 * together; a scrape takes mu for the snapshot.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "serve/serve_int.h"

#define QUAL_QUEUE_MAX_BYTES ((size_t)64 << 20)
#define QUAL_POLL_MS 10
#define QUAL_APPLY_CHUNK 64

enum { QI_PRED, QI_EVENTS };

struct pr__qitem {
    struct pr__qitem *next;
    uint32_t kind;
    uint32_t n;              /* candidates, or events */
    size_t bytes;            /* the allocation, for the queue's budget */
    int64_t ts;
    char version[PR_QUALITY_NAME_MAX], arm[PR_QUALITY_NAME_MAX];
    uint64_t *keys;          /* QI_PRED: n keys, n p */
    double *p;
    uint32_t *lens;          /* QI_EVENTS: n lengths, then the texts back to back */
    char *text;
};

static void queue_item(pr_server *s, pr__qitem *it) {
    pr__qual *ql = &s->qual;
    int ok;
    pthread_mutex_lock(&ql->qmu);
    ok = !ql->stop && ql->q_n < ql->q_max_n && ql->q_bytes + it->bytes <= QUAL_QUEUE_MAX_BYTES;
    if (ok) {
        if (ql->tail) ql->tail->next = it;
        else ql->head = it;
        ql->tail = it;
        ql->q_n++;
        ql->q_bytes += it->bytes;
    }
    pthread_mutex_unlock(&ql->qmu);
    if (!ok) {
        pr__metrics_add(&ql->dropped[it->kind], 1);
        free(it);
    }
}

static void copy_name(char *dst, const char *src) {
    size_t n = strlen(src);
    if (n > PR_QUALITY_NAME_MAX - 1) n = PR_QUALITY_NAME_MAX - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* p as the answer and the log write it (pr__tb_prob): 12 decimals. */
static double as_written(double p) {
    if (!(p >= 0.0 && p < 1.0)) return p;
    uint64_t v = (uint64_t)(p * 1e12 + 0.5);
    return v >= 1000000000000ull ? 1.0 : (double)v / 1e12;
}

void pr__quality_predicted(pr_server *s, const pr__arm *a, const pr__model_ref *m,
                           const pr__predict_req *q, const pr__scored *ranked, int64_t ts) {
    /* only what the answer holds (top_k): no other candidate can be shown */
    uint32_t k = q->top_k && q->top_k < q->n ? q->top_k : q->n;
    uint64_t rh = pr_quality_request_hash(q->request_id);
    if (s->qual.smp && !pr_quality_sampler_take(s->qual.smp, ts, rh, k)) {
        pr__metrics_add(&s->qual.unsampled, 1);
        return;
    }
    size_t bytes = sizeof(pr__qitem) + (size_t)k * (sizeof(uint64_t) + sizeof(double));
    pr__qitem *it = malloc(bytes);
    if (!it) {
        pr__metrics_add(&s->qual.dropped[QI_PRED], 1);
        return;
    }
    memset(it, 0, sizeof *it);
    it->kind = QI_PRED;
    it->n = k;
    it->bytes = bytes;
    it->ts = ts;
    copy_name(it->version, m->reg_version[0] ? m->reg_version : m->version);
    copy_name(it->arm, s->reg ? a->alias : "");
    it->keys = (uint64_t *)(it + 1);
    it->p = (double *)(it->keys + k);
    for (uint32_t r = 0; r < k; r++) {
        const pr_json_value *id = &q->ids[ranked[r].candidate];
        it->keys[r] = pr_quality_key(rh, id->text);
        it->p[r] = as_written(ranked[r].p);
    }
    queue_item(s, it);
}

void pr__quality_events(pr_server *s, const pr_bytes *texts, size_t n) {
    if (!n) return;
    size_t bytes = sizeof(pr__qitem) + n * sizeof(uint32_t);
    for (size_t i = 0; i < n; i++) bytes += texts[i].len;
    pr__qitem *it = n <= UINT32_MAX ? malloc(bytes) : NULL;
    if (!it) {
        pr__metrics_add(&s->qual.dropped[QI_EVENTS], 1);
        return;
    }
    memset(it, 0, sizeof *it);
    it->kind = QI_EVENTS;
    it->n = (uint32_t)n;
    it->bytes = bytes;
    it->lens = (uint32_t *)(it + 1);
    it->text = (char *)(it->lens + n);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        it->lens[i] = (uint32_t)texts[i].len;
        memcpy(it->text + off, texts[i].ptr, texts[i].len);
        off += texts[i].len;
    }
    queue_item(s, it);
}

/* ---------------------------------------------------------------- thread */

static void apply(pr__qual *ql, pr__qitem *it) {
    if (it->kind == QI_PRED) {
        pr_quality_pred pd = {it->ts, it->version, it->arm, it->n, it->keys, it->p};
        pr_quality_add_prediction(ql->q, &pd);
        return;
    }
    size_t off = 0;
    for (uint32_t i = 0; i < it->n; i++) {
        pr_err err;
        (void)pr_quality_add_event_json(ql->q, it->text + off, it->lens[i], &err); /* counted */
        off += it->lens[i];
    }
}

static void *quality_main(void *arg) {
    pr_server *s = arg;
    pr__qual *ql = &s->qual;
    pr__lower_priority();
    /* below the shadow and the job threads (nice +10): the figures can wait
     * 10 ms more, a shadow that falls behind drops requests */
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 15);
    for (;;) {
        pthread_mutex_lock(&ql->qmu);
        if (!ql->head && !ql->stop) {
            struct timespec t;
            clock_gettime(CLOCK_REALTIME, &t);
            t.tv_nsec += QUAL_POLL_MS * 1000000L;
            if (t.tv_nsec >= 1000000000L) {
                t.tv_sec++;
                t.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&ql->qcv, &ql->qmu, &t);
        }
        pr__qitem *it = ql->head;
        int stop = ql->stop;
        ql->head = ql->tail = NULL;
        ql->q_n = 0;
        ql->q_bytes = 0;
        pthread_mutex_unlock(&ql->qmu);
        for (pr__qitem *x = it; x;) {  /* in chunks, see the top */
            pthread_mutex_lock(&ql->mu);
            for (int k = 0; x && k < QUAL_APPLY_CHUNK; k++, x = x->next) apply(ql, x);
            pthread_mutex_unlock(&ql->mu);
        }
        while (it) {
            pr__qitem *next = it->next;
            free(it);
            it = next;
        }
        if (stop) break;
    }
    return NULL;
}

pr_status pr__quality_start(pr_server *s, pr_err *err) {
    pr__qual *ql = &s->qual;
    if (!s->o.quality) return PR_OK;
    pr_quality_opts o;
    pr_quality_opts_default(&o);
    o.window_ms = s->o.quality_window_ms;
    o.lateness_ms = s->o.quality_lateness_ms;
    o.hold_ms = o.lateness_ms < o.hold_ms ? o.lateness_ms : o.hold_ms;
    if (s->o.quality_pending) o.max_pending = s->o.quality_pending;
    o.candidate_key = s->candidate_key;
    ql->q_max_n = s->o.quality_queue ? s->o.quality_queue : 65536;
    pr_status rc = pr_quality_new(&o, &ql->q, err);
    if (rc != PR_OK) return rc;
    if (s->o.quality_rate) {
        if ((rc = pr_quality_sampler_new(s->o.quality_rate, &ql->smp, err)) != PR_OK) {
            pr_quality_free(ql->q);
            ql->q = NULL;
            return rc;
        }
        pr_quality_set_sampler(ql->q, ql->smp);
    }
    pthread_mutex_init(&ql->mu, NULL);
    pthread_mutex_init(&ql->qmu, NULL);
    pthread_cond_init(&ql->qcv, NULL);
    ql->inited = 1;
    if (pthread_create(&ql->th, NULL, quality_main, s) != 0)
        return pr_err_set(err, PR_ERR_NOMEM, "cannot start the quality thread");
    ql->started = 1;
    __atomic_store_n(&ql->on, 1, __ATOMIC_RELEASE);
    return PR_OK;
}

void pr__quality_stop(pr_server *s) {
    pr__qual *ql = &s->qual;
    if (!ql->inited) return;
    __atomic_store_n(&ql->on, 0, __ATOMIC_RELEASE);
    if (ql->started) {
        pthread_mutex_lock(&ql->qmu);
        ql->stop = 1;
        pthread_cond_signal(&ql->qcv);
        pthread_mutex_unlock(&ql->qmu);
        pthread_join(ql->th, NULL); /* applies what is queued first */
        ql->started = 0;
    }
    while (ql->head) { /* queued after the thread's last look (none: stop refuses) */
        pr__qitem *next = ql->head->next;
        free(ql->head);
        ql->head = next;
    }
    pr_quality_free(ql->q);
    ql->q = NULL;
    pr_quality_sampler_free(ql->smp);
    ql->smp = NULL;
    pthread_mutex_destroy(&ql->mu);
    pthread_mutex_destroy(&ql->qmu);
    pthread_cond_destroy(&ql->qcv);
    ql->inited = 0;
}

size_t pr__quality_snapshot(pr_server *s, pr_quality_sample *out, size_t cap) {
    pr__qual *ql = &s->qual;
    if (!__atomic_load_n(&ql->on, __ATOMIC_ACQUIRE)) return 0;
    pthread_mutex_lock(&ql->mu);
    size_t n = pr_quality_snapshot(ql->q, out, cap);
    pthread_mutex_unlock(&ql->mu);
    return n;
}

size_t pr__quality_history(pr_server *s, pr__qhist **out) {
    pr__qual *ql = &s->qual;
    *out = NULL;
    if (!__atomic_load_n(&ql->on, __ATOMIC_ACQUIRE)) return 0;
    pr_quality_window *w = NULL;
    size_t n = 0, k = 0;
    pr_err err;
    pthread_mutex_lock(&ql->mu);
    if (pr_quality_windows(ql->q, 60000, &w, &n, &err) == PR_OK && n &&
        (*out = malloc(n * sizeof **out)))
        for (size_t i = 0; i < n; i++) {
            if (!w[i].closed) continue;
            pr__qhist *h = &(*out)[k++];
            copy_name(h->version, w[i].version);
            copy_name(h->arm, w[i].arm);
            h->w = w[i];
            h->w.version = h->version;
            h->w.arm = h->arm;
        }
    pthread_mutex_unlock(&ql->mu);
    free(w);
    return k;
}

size_t pr__quality_sliding(pr_server *s, int64_t now_ms, pr_quality_sample *out, size_t cap) {
    pr__qual *ql = &s->qual;
    if (!__atomic_load_n(&ql->on, __ATOMIC_ACQUIRE)) return 0;
    int64_t until = now_ms - s->o.quality_window_ms - s->o.quality_lateness_ms;
    pthread_mutex_lock(&ql->mu);
    size_t n = pr_quality_sliding(ql->q, until, out, cap);
    pthread_mutex_unlock(&ql->mu);
    return n;
}

/* ---------------------------------------------------------------- metrics */

/* A label value: names come from the model file or the registry (hex, ids),
 * escaped anyway as the text format requires. */
static void label(pr__tb *o, const char *v) {
    for (; *v; v++) {
        if (*v == '\\' || *v == '"') pr__tb_put(o, "\\", 1);
        if (*v == '\n') pr__tb_puts(o, "\\n");
        else pr__tb_put(o, v, 1);
    }
}

void pr__quality_render(pr_server *s, pr__tb *o) {
    pr__qual *ql = &s->qual;
    if (!__atomic_load_n(&ql->on, __ATOMIC_ACQUIRE)) return;
    pr_quality_sample stack[256], *smp = stack;
    pr_quality_stats st;
    pthread_mutex_lock(&ql->mu);
    size_t n = pr_quality_snapshot(ql->q, smp, 256);
    if (n > 256 && (smp = malloc(n * sizeof *smp))) pr_quality_snapshot(ql->q, smp, n);
    else if (n > 256) n = 256, smp = stack;
    pr_quality_stats_get(ql->q, &st);
    pthread_mutex_unlock(&ql->mu);
    unsigned level = ql->smp ? pr_quality_sampler_level(ql->smp) : 0;
    pr__tb_puts(o, "# HELP pronto_quality model quality of the latest closed window (by impression "
                   "time) per window length, arm and model version: logloss, ne, calibration, "
                   "auc, n_labeled, ctr, mean_p\n# TYPE pronto_quality gauge\n");
    for (size_t i = 0; i < n; i++) {
        pr__tb_printf(o, "pronto_quality{metric=\"%s\",window=\"%s\",arm=\"", smp[i].metric,
                      smp[i].window);
        label(o, smp[i].arm);
        pr__tb_puts(o, "\",version=\"");
        label(o, smp[i].version);
        pr__tb_printf(o, "\"} %.17g\n", smp[i].value);
    }
    if (smp != stack) free(smp);
    pr__tb_puts(o, "# HELP pronto_quality_watermark_seconds event time up to which impressions "
                   "are labeled (the joiner's watermark)\n"
                   "# TYPE pronto_quality_watermark_seconds gauge\n");
    pr__tb_printf(o, "pronto_quality_watermark_seconds %.3f\n",
                  st.has_watermark ? (double)st.watermark_ms / 1e3 : 0.0);
    pr__tb_printf(o,
                  "# HELP pronto_quality_predictions_total predict answers the quality thread took\n"
                  "# TYPE pronto_quality_predictions_total counter\n"
                  "pronto_quality_predictions_total %llu\n"
                  "# HELP pronto_quality_dropped_total items not taken: the queue was full\n"
                  "# TYPE pronto_quality_dropped_total counter\n"
                  "pronto_quality_dropped_total{kind=\"prediction\"} %llu\n"
                  "pronto_quality_dropped_total{kind=\"events\"} %llu\n"
                  "# HELP pronto_quality_labeled_total impressions labeled once their attribution "
                  "window closed, by whether their prediction was found\n"
                  "# TYPE pronto_quality_labeled_total counter\n"
                  "pronto_quality_labeled_total{matched=\"true\"} %llu\n"
                  "pronto_quality_labeled_total{matched=\"false\"} %llu\n"
                  "# HELP pronto_quality_pending_predictions candidate predictions waiting for "
                  "an impression\n# TYPE pronto_quality_pending_predictions gauge\n"
                  "pronto_quality_pending_predictions %llu\n"
                  "# HELP pronto_quality_predictions_unseen_total candidate predictions no "
                  "impression took: aged out, or pushed out by --quality-pending\n"
                  "# TYPE pronto_quality_predictions_unseen_total counter\n"
                  "pronto_quality_predictions_unseen_total{why=\"expired\"} %llu\n"
                  "pronto_quality_predictions_unseen_total{why=\"evicted\"} %llu\n"
                  "# HELP pronto_quality_unsampled_total answered requests and labeled "
                  "impressions left out by the sampler (--quality-rate)\n"
                  "# TYPE pronto_quality_unsampled_total counter\n"
                  "pronto_quality_unsampled_total{kind=\"prediction\"} %llu\n"
                  "pronto_quality_unsampled_total{kind=\"impression\"} %llu\n"
                  "# HELP pronto_quality_sample_level requests of the current second sampled: "
                  "one in 2^level (0: all)\n"
                  "# TYPE pronto_quality_sample_level gauge\n"
                  "pronto_quality_sample_level %u\n",
                  (unsigned long long)st.predictions,
                  (unsigned long long)__atomic_load_n(&ql->dropped[QI_PRED], __ATOMIC_RELAXED),
                  (unsigned long long)__atomic_load_n(&ql->dropped[QI_EVENTS], __ATOMIC_RELAXED),
                  (unsigned long long)st.matched, (unsigned long long)st.unmatched,
                  (unsigned long long)st.pending, (unsigned long long)st.expired,
                  (unsigned long long)st.evicted,
                  (unsigned long long)__atomic_load_n(&ql->unsampled, __ATOMIC_RELAXED),
                  (unsigned long long)st.unsampled, level);
}
