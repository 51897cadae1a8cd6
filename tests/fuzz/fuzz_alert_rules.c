/*
 * fuzz_alert_rules.c: libFuzzer target for the alert rules parser
 * (pr_alert_rules_parse) and the evaluation it drives.
 *
 * For any input: parsing returns a status (never crashes or leaks). For an
 * input that parses: the canonical text parses back to the same rules
 * byte for byte and prints the same text (a fixed point), and an
 * evaluation of every rule against samples built from the rules' own
 * labels, at several times, keeps every active instance's state pending
 * or firing and its since no later than now. A broken promise aborts.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pronto/alert.h"

static void check_round_trip(const pr_alert_rules *r) {
    pr_err err;
    char *y1 = NULL, *y2 = NULL;
    size_t l1 = 0, l2 = 0;
    pr_alert_rules *back = NULL;
    if (pr_alert_rules_to_yaml(r, &y1, &l1, &err) != PR_OK) abort();
    if (pr_alert_rules_parse(y1, l1, "canonical", &back, &err) != PR_OK) {
        fprintf(stderr, "canonical text does not parse: %s\n%s", err.msg, y1);
        abort();
    }
    if (back->n != r->n || memcmp(back->rules, r->rules, r->n * sizeof *r->rules) != 0) {
        fprintf(stderr, "canonical text reads back as other rules:\n%s", y1);
        abort();
    }
    if (pr_alert_rules_to_yaml(back, &y2, &l2, &err) != PR_OK) abort();
    if (l1 != l2 || memcmp(y1, y2, l1) != 0) abort();
    free(y1);
    free(y2);
    pr_alert_rules_free(back);
}

static void evaluate(const pr_alert_rules *r, const uint8_t *data, size_t size) {
    pr_err err;
    pr_alerts *a = NULL;
    if (pr_alerts_new(r, NULL, &a, &err) != PR_OK) abort();
    static const double values[] = {0, 0.1, 0.2, 1, 5, -1, 1e308, NAN, INFINITY};
    size_t n = r->n < 64 ? r->n : 64;
    pr_metric_sample s[64];
    for (int tick = 0; tick < 6; tick++) {
        for (size_t i = 0; i < n; i++) {
            const pr_alert_rule *u = &r->rules[i];
            uint8_t b = size ? data[(i + (size_t)tick) % size] : 0;
            s[i] = (pr_metric_sample){u->metric,
                                      strcmp(u->field, "*") ? u->field : "f",
                                      strcmp(u->arm, "*") ? u->arm : "",
                                      strcmp(u->version, "*") ? u->version : "",
                                      u->window,
                                      values[b % (sizeof values / sizeof values[0])],
                                      (uint64_t)(b >> 4) * 100};
        }
        int64_t now = (int64_t)tick * 60000;
        pr_alerts_eval(a, now, s, n);
        pr_alert_active act[8];
        size_t k = pr_alerts_active(a, act, 8);
        for (size_t i = 0; i < k && i < 8; i++)
            if (act[i].state == PR_ALERT_STATE_OK || act[i].since_ms > now) abort();
    }
    pr_alerts_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pr_err err;
    pr_alert_rules *r = NULL;
    if (pr_alert_rules_parse((const char *)data, size, "fuzz", &r, &err) != PR_OK) return 0;
    check_round_trip(r);
    evaluate(r, data, size);
    pr_alert_rules_free(r);
    return 0;
}
