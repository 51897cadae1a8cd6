/*
 * learn_int.h: the learner's exported metrics (learn_http.c), shared by
 * learn.c (which updates them) and the HTTP thread that serves them.
 */
#ifndef PRONTO_LEARN_INT_H
#define PRONTO_LEARN_INT_H

#include <stdint.h>

#include "pronto/base.h"

typedef struct pr_learn_metrics pr_learn_metrics;

/* port 0: no server, *out NULL (every update below accepts NULL). Else
 * GET /metrics on every address at `port`,
 * Prometheus text. PR_ERR_IO if the port cannot be bound. */
pr_status pr_learn_metrics_start(int port, pr_learn_metrics **out, pr_err *err);
void pr_learn_metrics_examples(pr_learn_metrics *m, uint64_t n, double ll, double ne,
                               uint64_t bad);
void pr_learn_metrics_publish(pr_learn_metrics *m, double interval_ll, double ne);
/* clock_ms: the newest event time processed (lag = now - it). */
void pr_learn_metrics_lag(pr_learn_metrics *m, int64_t clock_ms);
void pr_learn_metrics_stop(pr_learn_metrics *m);

#endif
