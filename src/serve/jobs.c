/*
 * jobs.c: the server's slow work, off the threads that answer predictions.
 *
 * Ingesting a batch of events and loading a model take milliseconds to
 * seconds; run on an HTTP thread, they stall every connection that thread
 * owns (libmicrohttpd's pool gives each thread its own connections), which
 * is how a 4000-event batch once raised predict p99 from < 1 ms to 500 ms.
 * So each kind of slow work has a queue and a thread of its own:
 *
 *   events  POST /v1/events (one writer to the store anyway: ingest mu)
 *   reload  POST /admin/reload, SIGHUP, --poll-model (reloads serialize on
 *           reload_mu anyway)
 * The events queue also runs the event log's reopen (evlog.c), queued by
 * its ticker with no client, like a signal reload.
 *
 * A request's life: the HTTP thread that received the whole body calls
 * pr__job_submit, which reserves room in the queue (or refuses: the caller
 * answers 503 with Retry-After), takes the body, suspends the connection
 * (MHD_suspend_connection: the HTTP thread goes back to its other
 * connections) and queues the job. The queue's thread runs the handler
 * into a reply buffer of its own, stores it in the job, marks it done and
 * resumes the connection; libmicrohttpd then calls the access handler
 * again, which queues the stored reply (pr__job_result) and releases the
 * job.
 *
 * Bounds: a queue holds at most max_n jobs (queued + running) and max_bytes
 * of bodies; past either, new work is refused at once, so memory stays
 * bounded and a client flooding events sees 503s, not a growing backlog.
 * The threads run at a lower CPU priority (nice +10, time-sharing even if
 * the server runs real-time): on a saturated machine predictions get the
 * cores first and the backlog shows up as 503s to the slow work's clients.
 *
 * Ownership: a job has two owners, the connection (from submit to the
 * reply, or to the request's completion) and the queue (from submit to the
 * end of its run); refs counts them under the queue's mutex and the last
 * one frees the job. The body belongs to the job until the thread takes it
 * at the start of the run. A connection is resumed exactly once, after the
 * job was marked done, and never after the connection side let go (conn
 * NULL). `resuming` counts resume calls made outside the mutex (libmicro-
 * httpd takes its own locks there), and the daemon is stopped only when it
 * is 0, since stopping it with suspended connections is not allowed.
 *
 * Shutdown (pr_server_shutdown): the drain lets queued jobs run like any
 * request in flight. At its end pr__jobs_abort closes the queues, answers
 * every job still queued or running 503 (a running one keeps running, its
 * result is dropped) and resumes those connections; pr__jobs_join waits for
 * the threads until the drain deadline (at least half a second: a batch in
 * progress is CPU work that ends by itself), and a thread still busy then
 * (stuck in I/O) is detached: the server's memory is then left to the
 * process exit (pr__jobs_free says so), never freed under a running thread.
 */
#include <microhttpd.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "serve/serve_int.h"

enum { JOB_QUEUED, JOB_RUNNING, JOB_DONE };

struct pr__job {
    pr__job *next;             /* the queue's FIFO */
    pr__jobq *q;
    pr__job_kind kind;
    pr_server *s;
    pr__body body;             /* owned until the run takes it (its memory
                                  counts in the body budget: guard.c) */
    size_t len;
    struct MHD_Connection *conn; /* NULL: no connection (signal, poll) or it let go */
    int state;                 /* JOB_* (q->mu) */
    int refs;                  /* q->mu */
    unsigned status;           /* the reply, once JOB_DONE */
    const char *type;
    pr__tb out;
};

static const char *const json_type = "application/json";

static void lock(pr__jobq *q) { pthread_mutex_lock(&q->mu); }
static void unlock(pr__jobq *q) { pthread_mutex_unlock(&q->mu); }

static void job_free(pr__job *j) {
    pr__body_free(j->s, &j->body);
    pr__tb_free(&j->out);
    free(j);
}

/* Drops one owner's reference (q->mu held); frees the job at the last. */
static void job_unref(pr__job *j) {
    if (--j->refs == 0) job_free(j);
}

/* Stores a reply built elsewhere into j (q->mu held, j not done yet). */
static void job_finish(pr__job *j, unsigned status, const char *type, pr__tb *out) {
    j->state = JOB_DONE;
    j->status = status;
    j->type = type;
    pr__tb_free(&j->out);
    j->out = *out;
    memset(out, 0, sizeof *out);
}

static void job_finish_error(pr__job *j, unsigned status, const char *msg) {
    pr__tb b;
    pr__tb_init(&b, 4096);
    pr__json_error(&b, msg);
    job_finish(j, status, json_type, &b);
}

/* Resumes c outside q->mu (the caller counted it in q->resuming). */
static void resume(pr__jobq *q, struct MHD_Connection *c) {
    MHD_resume_connection(c);
    lock(q);
    q->resuming--;
    pthread_cond_broadcast(&q->done_cv);
    unlock(q);
}

/* The work itself, on the queue's thread. */
static void run(pr_server *s, pr__job_kind kind, const char *body, size_t len, unsigned *status,
                const char **type, pr__tb *out) {
    pr_err err;
    pr_err_clear(&err);
    switch (kind) {
    case PR__JOB_EVENTS: *type = pr__handle_events(s, body ? body : "", len, status, out); break;
    case PR__JOB_RELOAD: *type = pr__handle_reload(s, status, out); break;
    case PR__JOB_RETRAIN: *type = pr__handle_retrain(s, body ? body : "", len, status, out); break;
    case PR__JOB_LOG_REOPEN: pr__elog_reopen_job(s); *status = 200; break;
    case PR__JOB_SIGNAL_RELOAD:
    case PR__JOB_POLL: {
        /* No client waits: pr_server_reload logs the outcome unless quiet,
         * and a refusal is worth a line even then. */
        pr_status st = PR_OK;
        if (kind == PR__JOB_SIGNAL_RELOAD) st = pr_server_reload(s, &err);
        else if (pr_server_poll_model(s, &err)) st = err.status;
        if (st != PR_OK && s->o.quiet) pr_log(PR_LOG_WARN, "serve: reload refused: %s", err.msg);
        *status = st == PR_OK ? 200 : 422;
        break;
    }
    }
}

/* Best effort: the ordinary time-sharing policy (even if the server was
 * started with a real-time one, which the HTTP threads keep) at nice +10
 * (Linux: a thread's nice value is its own, set through its tid). */
void pr__lower_priority(void) {
    struct sched_param sp;
    memset(&sp, 0, sizeof sp);
    int policy;
    if (pthread_getschedparam(pthread_self(), &policy, &sp) == 0 && policy != SCHED_OTHER) {
        memset(&sp, 0, sizeof sp);
        pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp);
    }
    pid_t tid = (pid_t)syscall(SYS_gettid);
    if (setpriority(PRIO_PROCESS, (id_t)tid, 10) != 0) { /* not fatal */
    }
}

static void *worker(void *arg) {
    pr__jobq *q = arg;
    pr_server *s = q->s;
    pr__lower_priority();
    lock(q);
    for (;;) {
        while (!q->head && !q->stop) pthread_cond_wait(&q->cv, &q->mu);
        if (q->stop) break; /* what is still queued is answered by the abort */
        pr__job *j = q->head;
        q->head = j->next;
        if (!q->head) q->tail = NULL;
        j->next = NULL;
        j->state = JOB_RUNNING;
        q->running = j;
        pr__body body = j->body;
        size_t len = j->len;
        pr__job_kind kind = j->kind;
        memset(&j->body, 0, sizeof j->body);
        unlock(q);

        pr__tb out;
        pr__tb_init(&out, s->o.max_body + (16u << 20));
        unsigned status = 500;
        const char *type = json_type;
        run(s, kind, body.p, len, &status, &type, &out);
        pr__body_free(s, &body);

        lock(q);
        q->running = NULL;
        q->n--;
        q->bytes -= len;
        q->done_total++;
        struct MHD_Connection *c = NULL;
        if (j->state != JOB_DONE) { /* not answered by an abort meanwhile */
            if (out.over) {
                pr__tb_free(&out);
                job_finish_error(j, 500, "reply too large");
            } else {
                job_finish(j, status, type, &out);
            }
            if (j->conn) {
                c = j->conn;
                q->resuming++;
            }
        }
        pr__tb_free(&out);
        job_unref(j);
        pthread_cond_broadcast(&q->done_cv);
        if (c) {
            unlock(q);
            resume(q, c);
            lock(q);
        }
    }
    q->exited = 1;
    pthread_cond_broadcast(&q->done_cv);
    unlock(q);
    return NULL;
}

/* ---------------------------------------------------------------- life */

static pr__jobq *queue_of(pr_server *s, pr__job_kind kind) {
    return &s->jobs[kind == PR__JOB_EVENTS || kind == PR__JOB_LOG_REOPEN ? PR__Q_EVENTS
                                                                          : PR__Q_RELOAD];
}

pr_status pr__jobs_start(pr_server *s, pr_err *err) {
    static const char *const names[PR__Q_COUNT] = {"events", "reload"};
    for (int i = 0; i < PR__Q_COUNT; i++) {
        pr__jobq *q = &s->jobs[i];
        q->s = s;
        q->name = names[i];
        q->max_n = i == PR__Q_EVENTS ? s->o.max_queued_jobs : 4;
        q->max_bytes = s->o.max_queued_bytes;
        pthread_mutex_init(&q->mu, NULL);
        pthread_cond_init(&q->cv, NULL);
        pthread_cond_init(&q->done_cv, NULL);
        q->inited = 1;
        if (pthread_create(&q->th, NULL, worker, q) != 0)
            return pr_err_set(err, PR_ERR_NOMEM, "cannot start the %s thread", q->name);
        q->started = 1;
    }
    return PR_OK;
}

const char *pr__job_submit(pr_server *s, pr__route route, struct MHD_Connection *c,
                           pr__body *body, pr__job **out) {
    size_t len = body->len;
    pr__job_kind kind = route == PR__ROUTE_EVENTS    ? PR__JOB_EVENTS
                        : route == PR__ROUTE_RETRAIN ? PR__JOB_RETRAIN
                                                     : PR__JOB_RELOAD;
    pr__jobq *q = queue_of(s, kind);
    *out = NULL;
    lock(q);
    if (q->closed) {
        unlock(q);
        return "draining: the server is shutting down";
    }
    if (q->n + 1 > q->max_n || q->bytes + len > q->max_bytes) {
        q->rejected++;
        unlock(q);
        return kind == PR__JOB_EVENTS
                   ? "busy: the event queue is full (--max-queued-jobs, --max-queued-bytes), "
                     "retry later"
                   : "busy: reloads or retrain requests are already queued, retry later";
    }
    q->n++; /* reserved: the job is not visible before the connection is suspended */
    q->bytes += len;
    unlock(q);
    pr__job *j = calloc(1, sizeof *j);
    if (!j) {
        lock(q);
        q->n--;
        q->bytes -= len;
        unlock(q);
        return "out of memory";
    }
    j->q = q;
    j->kind = kind;
    j->s = s;
    j->body = *body;
    memset(body, 0, sizeof *body);
    j->len = len;
    j->conn = c;
    j->refs = 2;
    j->state = JOB_QUEUED;
    /* Before the job is visible: its thread may resume c the moment it is. */
    MHD_suspend_connection(c);
    lock(q);
    if (q->closed) { /* the drain ended meanwhile: answer at once */
        q->n--;
        q->bytes -= len;
        job_finish_error(j, 503, "draining: the server is shutting down");
        job_unref(j); /* the queue's reference: the connection keeps its own */
        q->resuming++;
        unlock(q);
        resume(q, c);
    } else {
        if (q->tail) q->tail->next = j;
        else q->head = j;
        q->tail = j;
        pthread_cond_signal(&q->cv);
        unlock(q);
    }
    *out = j;
    return NULL;
}

int pr__job_result(pr__job *j, unsigned *status, const char **type, const char **body,
                   size_t *len) {
    lock(j->q);
    int done = j->state == JOB_DONE;
    unlock(j->q);
    if (!done) return 0;
    /* Done: nobody writes the reply any more. */
    *status = j->status;
    *type = j->type;
    *body = j->out.p ? j->out.p : "";
    *len = j->out.len;
    return 1;
}

void pr__job_release(pr__job *j) {
    if (!j) return;
    pr__jobq *q = j->q;
    lock(q);
    j->conn = NULL; /* never resumed from here on */
    job_unref(j);
    unlock(q);
}

/* A job no client waits for (signal and poll reloads, log reopens). */
static pr_status submit_bare(pr_server *s, pr__job_kind kind, pr_err *err) {
    pr__jobq *q = queue_of(s, kind);
    pr__job *j = calloc(1, sizeof *j);
    if (!j) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    j->q = q;
    j->kind = kind;
    j->refs = 1;
    j->state = JOB_QUEUED;
    lock(q);
    pr_status st = PR_OK;
    if (q->closed) {
        st = pr_err_set(err, PR_ERR_INVALID, "the server is shutting down");
    } else if (q->n + 1 > q->max_n) {
        q->rejected++;
        st = pr_err_set(err, PR_ERR_LIMIT, "%u %s jobs are already queued", q->n, q->name);
    } else {
        q->n++;
        if (q->tail) q->tail->next = j;
        else q->head = j;
        q->tail = j;
        pthread_cond_signal(&q->cv);
        j = NULL;
    }
    unlock(q);
    free(j);
    return st;
}

pr_status pr__jobs_submit_reload(pr_server *s, int only_if_changed, pr_err *err) {
    return submit_bare(s, only_if_changed ? PR__JOB_POLL : PR__JOB_SIGNAL_RELOAD, err);
}

pr_status pr__jobs_submit_log_reopen(pr_server *s, pr_err *err) {
    return submit_bare(s, PR__JOB_LOG_REOPEN, err);
}

/* ---------------------------------------------------------------- shutdown */

uint32_t pr__jobs_abort(pr_server *s) {
    uint32_t answered = 0;
    /* A batch being applied stops at its next event (events.c). */
    __atomic_store_n(&s->ingest.cancel, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < PR__Q_COUNT; i++) {
        pr__jobq *q = &s->jobs[i];
        if (!q->inited) continue;
        lock(q);
        q->closed = 1;
        q->stop = 1;
        pthread_cond_broadcast(&q->cv);
        /* Collect the connections to resume, then resume them unlocked. */
        for (;;) {
            struct MHD_Connection *c = NULL;
            pr__job *j = q->head;
            if (j) { /* never started: out of the queue, answered */
                q->head = j->next;
                if (!q->head) q->tail = NULL;
                q->n--;
                q->bytes -= j->len;
                c = j->conn;
                job_finish_error(j, 503, "draining: the server stopped before this ran, retry");
                job_unref(j);
            } else if (q->running && q->running->state != JOB_DONE) {
                j = q->running; /* keeps running; its result will be dropped */
                c = j->conn;
                job_finish_error(j, 503,
                                 "draining: the server stopped before this finished; events "
                                 "may be partly applied, a retry with the same event ids is safe");
            } else {
                break;
            }
            if (c) {
                answered++;
                q->resuming++;
                unlock(q);
                resume(q, c);
                lock(q);
            }
        }
        while (q->resuming) pthread_cond_wait(&q->done_cv, &q->mu);
        unlock(q);
    }
    return answered;
}

void pr__jobs_join(pr_server *s, double deadline) {
    double floor = pr_now() + 0.5;
    if (deadline < floor) deadline = floor;
    for (int i = 0; i < PR__Q_COUNT; i++) {
        pr__jobq *q = &s->jobs[i];
        if (!q->started) continue;
        lock(q);
        q->stop = 1;
        q->closed = 1;
        pthread_cond_broadcast(&q->cv);
        while (!q->exited) {
            double now = pr_now();
            if (now >= deadline) break;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            double wait = deadline - now;
            ts.tv_sec += (time_t)wait;
            ts.tv_nsec += (long)((wait - (double)(time_t)wait) * 1e9);
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&q->done_cv, &q->mu, &ts);
        }
        int exited = q->exited;
        unlock(q);
        if (exited) {
            pthread_join(q->th, NULL);
        } else {
            pthread_detach(q->th);
            s->jobs_stuck = 1;
            if (!s->o.quiet)
                pr_log(PR_LOG_WARN,
                       "serve: the %s thread is still busy (stuck in I/O?); exiting without it",
                       q->name);
        }
        q->started = 0;
    }
}

int pr__jobs_free(pr_server *s) {
    if (s->jobs_stuck) return 0;
    for (int i = 0; i < PR__Q_COUNT; i++) {
        pr__jobq *q = &s->jobs[i];
        if (!q->inited) continue;
        if (q->started) { /* never joined (a failed start): stop it now */
            lock(q);
            q->stop = 1;
            pthread_cond_broadcast(&q->cv);
            unlock(q);
            pthread_join(q->th, NULL);
            q->started = 0;
        }
        while (q->head) { /* jobs without a connection (signal reloads) */
            pr__job *j = q->head;
            q->head = j->next;
            job_unref(j);
        }
        pthread_mutex_destroy(&q->mu);
        pthread_cond_destroy(&q->cv);
        pthread_cond_destroy(&q->done_cv);
        q->inited = 0;
    }
    return 1;
}

void pr__jobs_render(pr_server *s, pr__tb *o) {
    uint32_t n[PR__Q_COUNT];
    size_t bytes[PR__Q_COUNT];
    uint64_t rejected[PR__Q_COUNT];
    for (int i = 0; i < PR__Q_COUNT; i++) {
        pr__jobq *q = &s->jobs[i];
        lock(q);
        n[i] = q->n;
        bytes[i] = q->bytes;
        rejected[i] = q->rejected;
        unlock(q);
    }
    pr__tb_puts(o, "# HELP pronto_jobs_queued slow work queued or running, by queue\n"
                   "# TYPE pronto_jobs_queued gauge\n");
    for (int i = 0; i < PR__Q_COUNT; i++)
        pr__tb_printf(o, "pronto_jobs_queued{queue=\"%s\"} %u\n", s->jobs[i].name, n[i]);
    pr__tb_puts(o, "# HELP pronto_jobs_queued_bytes request bodies held by the queue\n"
                   "# TYPE pronto_jobs_queued_bytes gauge\n");
    for (int i = 0; i < PR__Q_COUNT; i++)
        pr__tb_printf(o, "pronto_jobs_queued_bytes{queue=\"%s\"} %zu\n", s->jobs[i].name,
                      bytes[i]);
    pr__tb_puts(o, "# HELP pronto_jobs_rejected_total slow work refused because its queue was "
                   "full (503)\n# TYPE pronto_jobs_rejected_total counter\n");
    for (int i = 0; i < PR__Q_COUNT; i++)
        pr__tb_printf(o, "pronto_jobs_rejected_total{queue=\"%s\"} %llu\n", s->jobs[i].name,
                      (unsigned long long)rejected[i]);
}
