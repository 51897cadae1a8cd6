/*
 * ticker.c: a thread that runs one function every period until stopped,
 * for the server's housekeeping (the connection reaper in guard.c, the
 * store-sentinel checker in sentinel.c, the registry alias follower in
 * follow.c). The wait is on CLOCK_MONOTONIC,
 * so a wall-clock step neither stalls nor hurries it, and stop wakes the
 * thread at once instead of after its period.
 *
 * Ownership: the ticker owns its thread, mutex and condition variable;
 * pr__ticker_stop joins the thread and frees them (idempotent, and a
 * no-op on a ticker never started: a zeroed pr__ticker).
 */
#include <time.h>

#include "serve/serve_int.h"

static void *tick_main(void *arg) {
    pr__ticker *t = arg;
    pthread_mutex_lock(&t->mu);
    while (!t->stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += t->period_ms / 1000;
        until.tv_nsec += (t->period_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&t->cv, &t->mu, &until);
        if (t->stop) break;
        pthread_mutex_unlock(&t->mu); /* fn runs without the ticker's lock */
        t->fn(t->s);
        pthread_mutex_lock(&t->mu);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

pr_status pr__ticker_start(pr__ticker *t, long period_ms, void (*fn)(pr_server *), pr_server *s,
                           const char *what, pr_err *err) {
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&t->mu, NULL);
    t->period_ms = period_ms;
    t->fn = fn;
    t->s = s;
    t->stop = 0;
    t->inited = 1;
    if (pthread_create(&t->thread, NULL, tick_main, t) != 0)
        return pr_err_set(err, PR_ERR_IO, "serve: cannot start the %s thread", what);
    t->running = 1;
    return PR_OK;
}

void pr__ticker_stop(pr__ticker *t) {
    if (t->running) {
        pthread_mutex_lock(&t->mu);
        t->stop = 1;
        pthread_cond_signal(&t->cv);
        pthread_mutex_unlock(&t->mu);
        pthread_join(t->thread, NULL);
        t->running = 0;
    }
    if (t->inited) {
        pthread_cond_destroy(&t->cv);
        pthread_mutex_destroy(&t->mu);
        t->inited = 0;
    }
}
