/*
 * bench_alert.c: the cost of alerting on a server's window tick, one
 * thread, everything in memory.
 *
 *   build/bench_alert [--fields F] [--arms A] [--ticks T]
 *
 * A tick's samples: per field (default 40) and arm (default 2), the seven
 * drift stats of the metric-name list in three windows, plus the quality
 * metrics per arm: F x A x 21 + A x 15 samples (1710 by default), against
 * the built-in default rules (every rule "*" on field, arm and version).
 * Values wander so that instances move between ok, pending and firing.
 * Prints µs per pr_alerts_eval, the instances alive, and ns per
 * pr_webhook_post of a 400-byte document into a queue whose sender is
 * pointed at a closed port (what a caller pays when the receiver is down).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "pronto/alert.h"

int main(int argc, char **argv) {
    long fields = 40, arms = 2, ticks = 2000;
    for (int i = 1; i + 1 < argc; i += 2) {
        long v = strtol(argv[i + 1], NULL, 10);
        if (!strcmp(argv[i], "--fields")) fields = v;
        else if (!strcmp(argv[i], "--arms")) arms = v;
        else if (!strcmp(argv[i], "--ticks")) ticks = v;
    }
    if (fields < 1 || arms < 1 || ticks < 1) {
        fprintf(stderr, "usage: bench_alert [--fields F] [--arms A] [--ticks T]\n");
        return 2;
    }
    static const char *const drift[] = {"psi", "js", "ks", "wasserstein", "chi2_p",
                                        "missing_delta", "unseen_share"};
    static const char *const quality[] = {"logloss", "ne", "calibration", "auc", "n_labeled"};
    static const char *const windows[] = {"1m", "5m", "1h"};
    size_t n = (size_t)(fields * arms * 21 + arms * 15);
    pr_metric_sample *s = calloc(n, sizeof *s);
    char (*fname)[32] = calloc((size_t)fields, sizeof *fname);
    char (*aname)[32] = calloc((size_t)arms, sizeof *aname);
    if (!s || !fname || !aname) return 1;
    for (long f = 0; f < fields; f++) snprintf(fname[f], sizeof fname[f], "field%ld", f);
    for (long a = 0; a < arms; a++) snprintf(aname[a], sizeof aname[a], "arm%ld", a);
    size_t k = 0;
    for (long f = 0; f < fields; f++)
        for (long a = 0; a < arms; a++)
            for (int m = 0; m < 7; m++)
                for (int w = 0; w < 3; w++)
                    s[k++] = (pr_metric_sample){drift[m], fname[f], aname[a], "v1", windows[w], 0,
                                                50000};
    for (long a = 0; a < arms; a++)
        for (int m = 0; m < 5; m++)
            for (int w = 0; w < 3; w++)
                s[k++] = (pr_metric_sample){quality[m], "", aname[a], "v1", windows[w], 1, 50000};

    pr_err err;
    pr_alert_rules *rules = NULL;
    pr_alerts *al = NULL;
    if (pr_alert_rules_default(&rules, &err) || pr_alerts_new(rules, NULL, &al, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    uint64_t rng = 42;
    double t0 = pr_now();
    size_t transitions = 0;
    for (long t = 0; t < ticks; t++) {
        for (size_t i = 0; i < n; i++) /* mostly quiet, now and then drifting */
            s[i].value = (double)(pr_splitmix64(&rng) % 1000) / (i % 17 == 0 ? 1500.0 : 9000.0);
        transitions += pr_alerts_eval(al, t * 60000, s, n);
    }
    double dt = pr_now() - t0;
    pr_alerts_stats st;
    pr_alerts_stats_get(al, &st);
    bench_print_load();
    printf("alerts: %zu samples/tick, %zu rules, %ld ticks: %.1f us/eval, %llu instances, "
           "%zu transitions\n",
           n, rules->n, ticks, dt / (double)ticks * 1e6, (unsigned long long)st.instances,
           transitions);
    pr_alerts_free(al);
    pr_alert_rules_free(rules);

    pr_webhook_opts o;
    pr_webhook_opts_default(&o);
    o.queue_max = 1024;
    o.max_retries = 0;
    pr_webhook *w = NULL;
    if (pr_webhook_new("http://127.0.0.1:9/", &o, &w, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    char doc[400];
    memset(doc, 'x', sizeof doc);
    long posts = 200000;
    t0 = pr_now();
    for (long i = 0; i < posts; i++) pr_webhook_post(w, doc, sizeof doc);
    dt = pr_now() - t0;
    pr_webhook_stats ws;
    pr_webhook_stats_get(w, &ws);
    printf("webhook: %ld posts of %zu bytes: %.0f ns/post (dropped %llu, queued %llu)\n", posts,
           sizeof doc, dt / (double)posts * 1e9, (unsigned long long)ws.dropped,
           (unsigned long long)ws.queued);
    pr_webhook_free(w);
    free(s);
    free(fname);
    free(aname);
    return 0;
}
