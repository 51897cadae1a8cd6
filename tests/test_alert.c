/*
 * test_alert.c: alert rules and their evaluation (pronto/alert.h).
 *
 * The state machine in simulated time: pending and firing at the `for`
 * boundary exactly, for: 0 firing at once, resolution, min_n keeping small
 * windows out, wildcard labels making one instance per value, range
 * conditions, NaN, staleness (state kept, then resolved and forgotten),
 * the instance limit. The rules file: defaults, overrides, the `monitors:`
 * block of a spec (which the spec parser accepts), the canonical text as a
 * fixed point, and errors naming line:col and the field. The retrain
 * trigger against a real registry directory, taken back with
 * pr_registry_take_request.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pronto/alert.h"
#include "pronto/feature.h"
#include "pronto/registry.h"
#include "test.h"

#define MIN 60000

/* ------------------------------------------------------------ helpers */

typedef struct seen {
    int n;
    char name[32][PR_ALERT_NAME_MAX];
    char field[32][PR_ALERT_LABEL_MAX];
    char arm[32][PR_ALERT_LABEL_MAX];
    pr_alert_state from[32], to[32];
    int64_t at[32], since[32];
    int stale[32];
    double value[32];
} seen;

static void on_transition(void *ctx, const pr_alert_transition *t) {
    seen *s = ctx;
    if (s->n >= 32) TEST_FAIL("too many transitions");
    int i = s->n++;
    snprintf(s->name[i], sizeof s->name[i], "%s", t->rule->name);
    snprintf(s->field[i], sizeof s->field[i], "%s", t->field);
    snprintf(s->arm[i], sizeof s->arm[i], "%s", t->arm);
    s->from[i] = t->from;
    s->to[i] = t->to;
    s->at[i] = t->at_ms;
    s->since[i] = t->since_ms;
    s->stale[i] = t->stale;
    s->value[i] = t->value;
}

static pr_alert_rules *parse_ok(const char *yaml) {
    pr_err err;
    pr_alert_rules *r = NULL;
    ASSERT_OK(pr_alert_rules_parse(yaml, strlen(yaml), "monitors.yaml", &r, &err));
    return r;
}

static pr_alerts *alerts_for(const char *yaml, seen *s) {
    pr_err err;
    pr_alert_rules *r = parse_ok(yaml);
    pr_alerts_opts o;
    pr_alerts_opts_default(&o);
    o.on_transition = on_transition;
    o.ctx = s;
    pr_alerts *a = NULL;
    ASSERT_OK(pr_alerts_new(r, &o, &a, &err));
    pr_alert_rules_free(r);
    return a;
}

static pr_metric_sample sample(const char *metric, const char *field, double v, uint64_t n) {
    pr_metric_sample s = {metric, field, "", "", "5m", v, n};
    return s;
}

static size_t eval1(pr_alerts *a, int64_t now, pr_metric_sample s) {
    return pr_alerts_eval(a, now, &s, 1);
}

static pr_alert_state state_of(pr_alerts *a, const char *field) {
    pr_alert_active act[16];
    size_t n = pr_alerts_active(a, act, 16);
    for (size_t i = 0; i < n && i < 16; i++)
        if (!strcmp(act[i].field, field)) return act[i].state;
    return PR_ALERT_STATE_OK;
}

static const char *const PSI_RULE =
    "rules:\n"
    "  - name: psi_high\n"
    "    metric: psi\n"
    "    field: C1\n"
    "    window: 5m\n"
    "    op: \">=\"\n"
    "    threshold: 0.2\n"
    "    for: 3m\n"
    "    min_n: 100\n";

/* ------------------------------------------------------------ state machine */

TEST(pending_then_firing_at_for) {
    seen s = {0};
    pr_alerts *a = alerts_for(PSI_RULE, &s);
    int64_t t0 = 1700000000000;
    ASSERT_EQ_INT(eval1(a, t0, sample("psi", "C1", 0.1, 500)), 0);  /* below: ok */
    ASSERT_EQ_INT(eval1(a, t0 + MIN, sample("psi", "C1", 0.2, 500)), 1); /* >= holds */
    ASSERT_EQ_INT(s.to[0], PR_ALERT_STATE_PENDING);
    ASSERT_EQ_INT(s.from[0], PR_ALERT_STATE_OK);
    ASSERT_EQ_INT(s.since[0], t0 + MIN);
    ASSERT_EQ_INT(eval1(a, t0 + 2 * MIN, sample("psi", "C1", 0.3, 500)), 0);
    /* 3m - 1 ms after pending: still pending */
    ASSERT_EQ_INT(eval1(a, t0 + 4 * MIN - 1, sample("psi", "C1", 0.3, 500)), 0);
    ASSERT_EQ_INT(state_of(a, "C1"), PR_ALERT_STATE_PENDING);
    /* exactly `for` after: firing */
    ASSERT_EQ_INT(eval1(a, t0 + 4 * MIN, sample("psi", "C1", 0.3, 500)), 1);
    ASSERT_EQ_INT(s.to[1], PR_ALERT_STATE_FIRING);
    ASSERT_EQ_INT(s.from[1], PR_ALERT_STATE_PENDING);
    ASSERT_EQ_INT(s.since[1], t0 + 4 * MIN);
    pr_alert_active act[4];
    ASSERT_EQ_INT(pr_alerts_active(a, act, 4), 1);
    ASSERT_EQ_STR(act[0].name, "psi_high");
    ASSERT_EQ_INT(act[0].since_ms, t0 + MIN);
    ASSERT_EQ_INT(act[0].firing_since_ms, t0 + 4 * MIN);
    ASSERT_NEAR(act[0].value, 0.3, 0);
    /* stays firing, no transition */
    ASSERT_EQ_INT(eval1(a, t0 + 5 * MIN, sample("psi", "C1", 0.9, 500)), 0);
    /* stops holding: resolved */
    ASSERT_EQ_INT(eval1(a, t0 + 6 * MIN, sample("psi", "C1", 0.19, 500)), 1);
    ASSERT_EQ_INT(s.from[2], PR_ALERT_STATE_FIRING);
    ASSERT_EQ_INT(s.to[2], PR_ALERT_STATE_OK);
    ASSERT_EQ_INT(s.stale[2], 0);
    ASSERT_EQ_INT(s.since[2], t0 + MIN); /* the episode began at pending */
    ASSERT_EQ_INT(pr_alerts_active(a, act, 4), 0);
    pr_alerts_free(a);
}

TEST(pending_interrupted_restarts_the_clock) {
    seen s = {0};
    pr_alerts *a = alerts_for(PSI_RULE, &s);
    int64_t t0 = 0;
    eval1(a, t0, sample("psi", "C1", 0.5, 500));                 /* pending */
    eval1(a, t0 + 2 * MIN, sample("psi", "C1", 0.1, 500));       /* ok */
    ASSERT_EQ_INT(s.n, 2);
    ASSERT_EQ_INT(s.to[1], PR_ALERT_STATE_OK);
    eval1(a, t0 + 3 * MIN, sample("psi", "C1", 0.5, 500));       /* pending again */
    /* 3m after the first pending, but 1m after this one: still pending */
    eval1(a, t0 + 4 * MIN, sample("psi", "C1", 0.5, 500));
    ASSERT_EQ_INT(state_of(a, "C1"), PR_ALERT_STATE_PENDING);
    eval1(a, t0 + 6 * MIN, sample("psi", "C1", 0.5, 500));
    ASSERT_EQ_INT(state_of(a, "C1"), PR_ALERT_STATE_FIRING);
    ASSERT_EQ_INT(s.n, 4);
    pr_alerts_free(a);
}

TEST(for_zero_fires_at_once) {
    seen s = {0};
    pr_alerts *a = alerts_for("rules:\n  - {name: r, metric: ne, field: \"\", window: 1h, "
                              "op: \">\", threshold: 1.05}\n",
                              &s);
    pr_metric_sample x = {"ne", "", "", "", "1h", 1.2, 10};
    ASSERT_EQ_INT(pr_alerts_eval(a, 1000, &x, 1), 1);
    ASSERT_EQ_INT(s.from[0], PR_ALERT_STATE_OK);
    ASSERT_EQ_INT(s.to[0], PR_ALERT_STATE_FIRING);
    /* the window must match: a 5m sample is not this rule's */
    x.window = "5m";
    x.value = 0.9;
    ASSERT_EQ_INT(pr_alerts_eval(a, 2000, &x, 1), 0);
    ASSERT_EQ_INT(state_of(a, ""), PR_ALERT_STATE_FIRING);
    /* nor a sample with a field (the rule says field "") */
    x.window = "1h";
    x.field = "C1";
    ASSERT_EQ_INT(pr_alerts_eval(a, 3000, &x, 1), 0);
    x.field = "";
    ASSERT_EQ_INT(pr_alerts_eval(a, 4000, &x, 1), 1);
    ASSERT_EQ_INT(s.to[1], PR_ALERT_STATE_OK);
    pr_alerts_free(a);
}

TEST(min_n_keeps_small_windows_out) {
    seen s = {0};
    pr_alerts *a = alerts_for(PSI_RULE, &s);
    /* a huge PSI from 99 observations does not count */
    for (int i = 0; i < 10; i++) eval1(a, (int64_t)i * MIN, sample("psi", "C1", 5.0, 99));
    ASSERT_EQ_INT(s.n, 0);
    pr_alerts_stats st;
    pr_alerts_stats_get(a, &st);
    ASSERT_EQ_INT(st.samples_below_min_n, 10);
    ASSERT_EQ_INT(st.samples_counted, 0);
    ASSERT_EQ_INT(st.instances, 0);
    /* 100 does */
    eval1(a, 10 * MIN, sample("psi", "C1", 5.0, 100));
    ASSERT_EQ_INT(s.n, 1);
    ASSERT_EQ_INT(s.to[0], PR_ALERT_STATE_PENDING);
    /* an empty window (n = 0) never counts even with min_n absent (1) */
    pr_alerts_free(a);
    seen s2 = {0};
    a = alerts_for("rules:\n  - {name: r, metric: psi, window: 5m, op: \">\", threshold: 0}\n",
                   &s2);
    eval1(a, 0, sample("psi", "C1", 1.0, 0));
    ASSERT_EQ_INT(s2.n, 0);
    eval1(a, 0, sample("psi", "C1", 1.0, 1));
    ASSERT_EQ_INT(s2.n, 1);
    pr_alerts_free(a);
}

TEST(wildcard_one_instance_per_field_and_arm) {
    seen s = {0};
    pr_alerts *a = alerts_for("rules:\n  - name: drift\n    metric: js\n    field: \"*\"\n"
                              "    arm: \"*\"\n    window: 5m\n    op: ge\n    threshold: 0.1\n"
                              "    for: 0s\n",
                              &s);
    pr_metric_sample x[] = {
        {"js", "C1", "a", "v1", "5m", 0.2, 10},
        {"js", "C2", "a", "v1", "5m", 0.05, 10},
        {"js", "C1", "b", "v1", "5m", 0.3, 10},
        {"psi", "C3", "a", "v1", "5m", 0.9, 10}, /* another metric */
        {"js", "C4", NULL, NULL, "5m", 0.5, 10},  /* NULL labels are "" */
    };
    ASSERT_EQ_INT(pr_alerts_eval(a, 0, x, 5), 3);
    pr_alert_active act[8];
    ASSERT_EQ_INT(pr_alerts_active(a, act, 8), 3);
    /* sorted by labels */
    ASSERT_EQ_STR(act[0].field, "C1");
    ASSERT_EQ_STR(act[0].arm, "a");
    ASSERT_EQ_STR(act[1].field, "C1");
    ASSERT_EQ_STR(act[1].arm, "b");
    ASSERT_EQ_STR(act[2].field, "C4");
    ASSERT_EQ_STR(act[2].arm, "");
    ASSERT_EQ_STR(act[0].version, "v1");
    pr_alerts_stats st;
    pr_alerts_stats_get(a, &st);
    ASSERT_EQ_INT(st.instances, 4); /* C2 is an ok instance */
    /* cap smaller than the count: the count is still the total */
    ASSERT_EQ_INT(pr_alerts_active(a, act, 1), 3);
    ASSERT_EQ_STR(act[0].field, "C1");
    /* one field resolves, the others stay */
    pr_metric_sample y[] = {{"js", "C1", "a", "v1", "5m", 0.01, 10},
                            {"js", "C1", "b", "v1", "5m", 0.3, 10},
                            {"js", "C4", "", "", "5m", 0.5, 10}};
    ASSERT_EQ_INT(pr_alerts_eval(a, MIN, y, 3), 1);
    ASSERT_EQ_STR(s.field[3], "C1");
    ASSERT_EQ_STR(s.arm[3], "a");
    ASSERT_EQ_INT(s.to[3], PR_ALERT_STATE_OK);
    pr_alerts_free(a);
}

TEST(outside_range_and_nan) {
    seen s = {0};
    pr_alerts *a = alerts_for("rules:\n  - name: cal\n    metric: calibration\n    window: 1h\n"
                              "    op: outside\n    threshold: [0.9, 1.1]\n",
                              &s);
    double inside[] = {0.9, 1.0, 1.1};
    for (int i = 0; i < 3; i++) {
        pr_metric_sample x = {"calibration", "", "", "", "1h", inside[i], 10};
        ASSERT_EQ_INT(pr_alerts_eval(a, i, &x, 1), 0);
    }
    pr_metric_sample lo = {"calibration", "", "", "", "1h", 0.8999, 10};
    ASSERT_EQ_INT(pr_alerts_eval(a, 10, &lo, 1), 1);
    ASSERT_EQ_INT(s.to[0], PR_ALERT_STATE_FIRING);
    /* NaN is no sample: the state stays (within stale) */
    pr_metric_sample nan_s = {"calibration", "", "", "", "1h", NAN, 10};
    ASSERT_EQ_INT(pr_alerts_eval(a, 20, &nan_s, 1), 0);
    ASSERT_EQ_INT(state_of(a, ""), PR_ALERT_STATE_FIRING);
    pr_metric_sample ok = {"calibration", "", "", "", "1h", 1.05, 10};
    ASSERT_EQ_INT(pr_alerts_eval(a, 30, &ok, 1), 1);
    /* infinity (no click observed) is outside */
    pr_metric_sample inf_s = {"calibration", "", "", "", "1h", INFINITY, 10};
    ASSERT_EQ_INT(pr_alerts_eval(a, 40, &inf_s, 1), 1);
    ASSERT_EQ_INT(s.to[2], PR_ALERT_STATE_FIRING);
    /* the other comparisons at their boundaries */
    pr_alerts_free(a);
    static const struct {
        const char *op;
        double v;
        int holds;
    } cases[] = {{"\">\"", 1.0, 0}, {"\">\"", 1.01, 1}, {"\">=\"", 1.0, 1}, {"\">=\"", 0.99, 0},
                 {"\"<\"", 1.0, 0}, {"\"<\"", 0.99, 1}, {"\"<=\"", 1.0, 1}, {"\"<=\"", 1.01, 0},
                 {"lt", 0.5, 1},    {"le", 1.5, 0},     {"gt", 2, 1},       {"ge", -1, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char yaml[256];
        snprintf(yaml, sizeof yaml,
                 "rules:\n  - {name: r, metric: m, window: 1m, op: %s, threshold: 1}\n",
                 cases[i].op);
        seen s2 = {0};
        a = alerts_for(yaml, &s2);
        pr_metric_sample x = {"m", "", "", "", "1m", cases[i].v, 1};
        if (pr_alerts_eval(a, 0, &x, 1) != (size_t)cases[i].holds)
            TEST_FAIL("op %s value %g: expected holds=%d", cases[i].op, cases[i].v,
                      cases[i].holds);
        pr_alerts_free(a);
    }
}

/* keep_firing_for: a firing instance stays firing until the condition has
 * failed that long (a value that wavers at the threshold fires once); a
 * sample that meets it again starts the count over; pending resolves at
 * once as before. */
TEST(keep_firing_for_holds_then_resolves) {
    seen s = {0};
    pr_alerts *a = alerts_for("rules:\n  - name: js\n    metric: js\n"
                              "    window: 5m\n    op: \">=\"\n    threshold: 0.1\n"
                              "    for: 0s\n    keep_firing_for: 3m\n",
                              &s);
    pr_metric_sample hi = {"js", "ad_id", "", "", "5m", 0.11, 1000};
    pr_metric_sample lo = hi;
    lo.value = 0.09;
    pr_alerts_eval(a, 0, &hi, 1);
    ASSERT_EQ_INT(s.n, 1);
    ASSERT_EQ_INT(s.to[0], PR_ALERT_STATE_FIRING);
    pr_alerts_eval(a, 1 * MIN, &lo, 1); /* fails 0m: kept */
    pr_alerts_eval(a, 2 * MIN, &hi, 1); /* holds again: the count starts over */
    pr_alerts_eval(a, 3 * MIN, &lo, 1);
    pr_alerts_eval(a, 5 * MIN, &lo, 1); /* failed 2m: kept */
    ASSERT_EQ_INT(s.n, 1);
    ASSERT_EQ_INT(state_of(a, "ad_id"), PR_ALERT_STATE_FIRING);
    pr_alerts_eval(a, 6 * MIN, &lo, 1); /* failed 3m: resolved */
    ASSERT_EQ_INT(s.n, 2);
    ASSERT_EQ_INT(s.to[1], PR_ALERT_STATE_OK);
    ASSERT_EQ_INT(s.stale[1], 0);
    pr_alerts_free(a);

    /* with `for`, a pending instance resolves at the first failing sample */
    seen s2 = {0};
    a = alerts_for("rules:\n  - name: js\n    metric: js\n    window: 5m\n"
                   "    op: \">=\"\n    threshold: 0.1\n    for: 2m\n"
                   "    keep_firing_for: 10m\n",
                   &s2);
    pr_alerts_eval(a, 0, &hi, 1);
    pr_alerts_eval(a, 1 * MIN, &lo, 1);
    ASSERT_EQ_INT(s2.n, 2);
    ASSERT_EQ_INT(s2.to[1], PR_ALERT_STATE_OK);
    pr_alerts_free(a);

    /* the built-in rules keep firing for their `for` */
    const pr_alert_rules *b = pr_alert_rules_builtin();
    for (size_t i = 0; i < b->n; i++) ASSERT_EQ_INT(b->rules[i].keep_firing_ms, b->rules[i].for_ms);
}

TEST(staleness_keeps_state_then_resolves) {
    seen s = {0};
    pr_alerts *a = alerts_for("rules:\n  - name: miss\n    metric: missing_delta\n"
                              "    field: \"*\"\n    window: 1m\n    op: \">=\"\n"
                              "    threshold: 5\n    for: 2m\n    stale: 3m\n",
                              &s);
    pr_metric_sample x = {"missing_delta", "device", "", "", "1m", 40, 1000};
    pr_alerts_eval(a, 0, &x, 1);             /* pending */
    pr_alerts_eval(a, 1 * MIN, NULL, 0);     /* nothing: still pending */
    ASSERT_EQ_INT(state_of(a, "device"), PR_ALERT_STATE_PENDING);
    pr_alerts_eval(a, 2 * MIN, &x, 1);       /* held 2m: firing */
    ASSERT_EQ_INT(s.n, 2);
    ASSERT_EQ_INT(s.to[1], PR_ALERT_STATE_FIRING);
    /* samples stop: firing until 3m after the last one */
    pr_alerts_eval(a, 3 * MIN, NULL, 0);
    pr_metric_sample empty = x;
    empty.n = 0; /* an empty window: below min_n (1), does not count */
    pr_alerts_eval(a, 5 * MIN - 1, &empty, 1);
    ASSERT_EQ_INT(state_of(a, "device"), PR_ALERT_STATE_FIRING);
    ASSERT_EQ_INT(s.n, 2);
    /* nor refresh it: 3m after the last counting sample, resolved */
    pr_alerts_eval(a, 5 * MIN, &empty, 1);
    ASSERT_EQ_INT(s.n, 3);
    ASSERT_EQ_INT(s.to[2], PR_ALERT_STATE_OK);
    ASSERT_EQ_INT(s.stale[2], 1);
    ASSERT_NEAR(s.value[2], 40, 0);
    pr_alerts_stats st;
    pr_alerts_stats_get(a, &st);
    ASSERT_EQ_INT(st.instances, 0); /* forgotten */
    /* ok instances are forgotten silently */
    x.value = 1;
    pr_alerts_eval(a, 10 * MIN, &x, 1);
    pr_alerts_stats_get(a, &st);
    ASSERT_EQ_INT(st.instances, 1);
    pr_alerts_eval(a, 20 * MIN, NULL, 0);
    pr_alerts_stats_get(a, &st);
    ASSERT_EQ_INT(st.instances, 0);
    ASSERT_EQ_INT(s.n, 3);
    pr_alerts_free(a);
}

TEST(default_stale_is_twice_the_window) {
    pr_alert_rules *r = parse_ok("rules:\n  - {name: a, metric: m, window: 5m, op: gt, "
                                 "threshold: 1}\n  - {name: b, metric: m, window: 1h, op: gt, "
                                 "threshold: 1, stale: 90s}\n");
    ASSERT_EQ_INT(r->rules[0].stale_ms, 10 * MIN);
    ASSERT_EQ_INT(r->rules[1].stale_ms, 90000);
    ASSERT_EQ_INT(r->rules[0].min_n, 1);
    ASSERT_EQ_INT(r->rules[0].for_ms, 0);
    ASSERT_EQ_INT(r->rules[0].severity, PR_ALERT_SEVERITY_WARNING);
    ASSERT_EQ_STR(r->rules[0].field, "*");
    pr_alert_rules_free(r);
}

TEST(instance_limit_is_counted) {
    pr_err err;
    pr_alert_rules *r = parse_ok("rules:\n  - {name: r, metric: psi, window: 5m, op: gt, "
                                 "threshold: 0}\n");
    pr_alerts_opts o;
    pr_alerts_opts_default(&o);
    o.max_instances = 3;
    pr_alerts *a = NULL;
    ASSERT_OK(pr_alerts_new(r, &o, &a, &err));
    pr_alert_rules_free(r);
    pr_metric_sample x[100];
    char names[100][8];
    for (int i = 0; i < 100; i++) {
        snprintf(names[i], sizeof names[i], "f%d", i);
        x[i] = (pr_metric_sample){"psi", names[i], "", "", "5m", 1, 1};
    }
    ASSERT_EQ_INT(pr_alerts_eval(a, 0, x, 100), 3);
    pr_alerts_stats st;
    pr_alerts_stats_get(a, &st);
    ASSERT_EQ_INT(st.instances, 3);
    ASSERT_EQ_INT(st.instances_dropped, 97);
    pr_alerts_free(a);
    /* and a large number of instances works (index growth) */
    o.max_instances = 10000;
    r = parse_ok("rules:\n  - {name: r, metric: psi, window: 5m, op: gt, threshold: 0}\n");
    ASSERT_OK(pr_alerts_new(r, &o, &a, &err));
    pr_alert_rules_free(r);
    static char many[5000][8];
    static pr_metric_sample xs[5000];
    for (int i = 0; i < 5000; i++) {
        snprintf(many[i], sizeof many[i], "g%d", i);
        xs[i] = (pr_metric_sample){"psi", many[i], "", "", "5m", 1, 1};
    }
    ASSERT_EQ_INT(pr_alerts_eval(a, 0, xs, 5000), 5000);
    ASSERT_EQ_INT(pr_alerts_eval(a, 1, xs, 5000), 0); /* all found again */
    pr_alerts_stats_get(a, &st);
    ASSERT_EQ_INT(st.instances, 5000);
    pr_alerts_free(a);
}

TEST(transition_json_and_summary) {
    pr_alert_rules *r = parse_ok("rules:\n  - {name: cal, metric: calibration, arm: \"*\", "
                                 "window: 1h, op: outside, threshold: [0.9, 1.1], for: 10m, "
                                 "severity: critical, retrain: true}\n");
    pr_alert_transition t = {&r->rules[0], "", "b", "v7", PR_ALERT_STATE_PENDING,
                             PR_ALERT_STATE_FIRING, 0.66, 25000, 5000, 5000, 0};
    char *json = NULL;
    size_t len = 0;
    pr_err err;
    ASSERT_OK(pr_alert_transition_json(&t, &json, &len, &err));
    json_error_t je;
    json_t *o = json_loads(json, 0, &je);
    ASSERT_TRUE(o != NULL);
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "alert")), "cal");
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "state")), "firing");
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "previous")), "pending");
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "severity")), "critical");
    ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(o, "labels"), "arm")), "b");
    ASSERT_NEAR(json_real_value(json_object_get(o, "threshold_hi")), 1.1, 0);
    ASSERT_TRUE(json_is_true(json_object_get(o, "retrain")));
    ASSERT_CONTAINS(json_string_value(json_object_get(o, "summary")),
                    "cal firing: calibration of arm b, version v7 (1h) is 0.66, outside "
                    "[0.9, 1.1] for 10m");
    json_decref(o);
    free(json);
    /* a non-finite value is null */
    t.value = INFINITY;
    ASSERT_OK(pr_alert_transition_json(&t, &json, &len, &err));
    ASSERT_CONTAINS(json, "\"value\":null");
    free(json);
    pr_alert_rules_free(r);
}

/* ------------------------------------------------------------ rules file */

TEST(drift_thresholds_come_from_the_rules) {
    /* the built-in rules: the report's and the server's defaults */
    ASSERT_NEAR(pr_alert_rules_threshold(NULL, "psi", NULL), 0.2, 0);
    ASSERT_NEAR(pr_alert_rules_threshold(NULL, "js", "C1"), 0.1, 0);
    ASSERT_NEAR(pr_alert_rules_threshold(NULL, "wasserstein", NULL), 0.1, 0);
    ASSERT_NEAR(pr_alert_rules_threshold(NULL, "missing_delta", NULL), 5, 0);
    ASSERT_TRUE(isnan(pr_alert_rules_threshold(NULL, "unseen_share", NULL)));
    ASSERT_TRUE(isnan(pr_alert_rules_threshold(NULL, "calibration", NULL))); /* outside */
    ASSERT_EQ_INT(pr_alert_rules_builtin()->n, 9);
    ASSERT_NEAR(pr_alert_rules_threshold(NULL, "psi", "prediction"), 0.5, 0);
    /* a file: the rules naming the field, else the "*" ones, the smallest;
     * "<" rules and other metrics ignored */
    pr_alert_rules *r = parse_ok("rules:\n"
                                 "  - {name: a, metric: psi, window: 5m, op: \">=\", threshold: 0.4}\n"
                                 "  - {name: b, metric: psi, field: C7, window: 1h, op: \">\", "
                                 "threshold: 0.25}\n"
                                 "  - {name: c, metric: psi, field: C8, window: 1h, op: \">=\", "
                                 "threshold: 0.9}\n"
                                 "  - {name: d, metric: js, window: 5m, op: \"<\", threshold: 0.05}\n"
                                 "  - {name: e, metric: js, window: 5m, op: \">=\", threshold: 0}\n");
    ASSERT_NEAR(pr_alert_rules_threshold(r, "psi", NULL), 0.4, 0);
    ASSERT_NEAR(pr_alert_rules_threshold(r, "psi", "C1"), 0.4, 0);
    ASSERT_NEAR(pr_alert_rules_threshold(r, "psi", "C7"), 0.25, 0);
    ASSERT_NEAR(pr_alert_rules_threshold(r, "psi", "C8"), 0.9, 0); /* its own rule, not "*" */
    ASSERT_TRUE(isnan(pr_alert_rules_threshold(r, "js", "C1")));     /* "<" and 0: no ratio */
    ASSERT_TRUE(isnan(pr_alert_rules_threshold(r, "missing_delta", NULL)));
    pr_alert_rules_free(r);
}

TEST(a_field_with_its_own_rule_leaves_the_wildcard) {
    /* psi >= 0.2 for "*", >= 0.5 for prediction: a prediction psi of 0.3
     * does not count for the "*" rule; C1's does */
    seen s = {0};
    pr_alerts *a = alerts_for("rules:\n"
                              "  - {name: any, metric: psi, window: 5m, op: \">=\", threshold: 0.2}\n"
                              "  - {name: pred, metric: psi, field: prediction, window: 5m, op: "
                              "\">=\", threshold: 0.5}\n",
                              &s);
    pr_metric_sample v[2] = {sample("psi", "prediction", 0.3, 5000), sample("psi", "C1", 0.3, 5000)};
    ASSERT_EQ_INT(pr_alerts_eval(a, 10 * MIN, v, 2), 1);
    ASSERT_EQ_STR(s.name[0], "any");
    ASSERT_EQ_STR(s.field[0], "C1");
    v[0].value = 0.6;
    ASSERT_EQ_INT(pr_alerts_eval(a, 11 * MIN, v, 2), 1);
    ASSERT_EQ_STR(s.name[1], "pred");
    ASSERT_EQ_STR(s.field[1], "prediction");
    pr_alerts_free(a);
}

TEST(defaults_and_overrides) {
    pr_err err;
    pr_alert_rules *d = NULL;
    ASSERT_OK(pr_alert_rules_default(&d, &err));
    ASSERT_EQ_INT(d->n, 9);
    const char *names[] = {"drift_psi",      "drift_js",      "drift_wasserstein",
                           "missing_rate",   "prediction_psi", "prediction_js",
                           "prediction_wasserstein", "calibration", "traffic"};
    for (int i = 0; i < 9; i++) ASSERT_EQ_STR(d->rules[i].name, names[i]);
    ASSERT_EQ_STR(d->rules[4].field, "prediction");
    ASSERT_NEAR(d->rules[4].threshold, 0.5, 0);
    ASSERT_NEAR(d->rules[0].threshold, 0.2, 0);
    ASSERT_NEAR(d->rules[1].threshold, 0.1, 0);
    ASSERT_NEAR(d->rules[2].threshold, 0.1, 0);
    ASSERT_NEAR(d->rules[3].threshold, 5, 0);
    ASSERT_EQ_INT(d->rules[7].op, PR_ALERT_OP_OUTSIDE);
    ASSERT_NEAR(d->rules[7].threshold, 0.9, 0);
    ASSERT_NEAR(d->rules[7].threshold_hi, 1.1, 0);
    ASSERT_EQ_INT(d->rules[7].retrain, 1);
    ASSERT_EQ_STR(d->rules[7].metric, "calibration_bound");
    ASSERT_EQ_STR(d->rules[7].window, "15m");
    ASSERT_EQ_STR(d->rules[8].metric, "traffic_ratio");
    ASSERT_EQ_INT(d->rules[8].op, PR_ALERT_OP_OUTSIDE);
    ASSERT_NEAR(d->rules[8].threshold_hi, 2, 0);
    ASSERT_EQ_INT(d->rules[8].severity, PR_ALERT_SEVERITY_INFO);
    pr_alert_rules_free(d);

    pr_alert_rules *r = parse_ok("defaults: true\nrules:\n"
                                 "  - {name: drift_psi, metric: psi, window: 1h, op: \">=\", "
                                 "threshold: 0.3}\n"
                                 "  - {name: traffic_low, metric: requests_per_s, field: \"\", "
                                 "window: 1m, op: \"<\", threshold: 1, severity: info}\n");
    ASSERT_EQ_INT(r->n, 10);
    ASSERT_EQ_STR(r->rules[0].name, "drift_psi"); /* replaced in place */
    ASSERT_NEAR(r->rules[0].threshold, 0.3, 0);
    ASSERT_EQ_STR(r->rules[0].window, "1h");
    ASSERT_EQ_STR(r->rules[9].name, "traffic_low");
    ASSERT_EQ_INT(r->rules[9].severity, PR_ALERT_SEVERITY_INFO);
    pr_alert_rules_free(r);
    r = parse_ok("defaults: true\nrules: []\n");
    ASSERT_EQ_INT(r->n, 9);
    pr_alert_rules_free(r);
}

TEST(spec_with_monitors_block) {
    const char *spec = "version: 1\n"
                       "fields:\n"
                       "  - {name: C1, type: categorical}\n"
                       "monitors:\n"
                       "  rules:\n"
                       "    - name: c1_drift\n"
                       "      metric: js\n"
                       "      field: C1\n"
                       "      window: 5m\n"
                       "      op: \">=\"\n"
                       "      threshold: 0.15\n";
    pr_err err;
    pr_spec *s = NULL;
    ASSERT_OK(pr_spec_parse(spec, strlen(spec), "spec.yaml", &s, &err));
    char *canon = NULL;
    ASSERT_OK(pr_spec_to_yaml(s, &canon, NULL, &err));
    ASSERT_TRUE(strstr(canon, "monitors") == NULL); /* not part of the featurization */
    free(canon);
    pr_spec_free(s);
    pr_alert_rules *r = parse_ok(spec);
    ASSERT_EQ_INT(r->n, 1);
    ASSERT_EQ_STR(r->rules[0].field, "C1");
    pr_alert_rules_free(r);
    /* errors inside the block name its path */
    const char *bad = "version: 1\nfields:\n  - {name: C1, type: categorical}\nmonitors:\n"
                      "  rules:\n    - {name: x, metric: js, window: 2m, op: gt, threshold: 1}\n";
    ASSERT_STATUS(pr_alert_rules_parse(bad, strlen(bad), "spec.yaml", &r, &err), PR_ERR_SPEC);
    ASSERT_EQ_STR(err.msg, "spec.yaml:6:37: monitors.rules[0].window: expected 1m, 5m, 15m or 1h");
}

TEST(canonical_text_is_a_fixed_point) {
    pr_err err;
    pr_alert_rules *d = NULL;
    ASSERT_OK(pr_alert_rules_default(&d, &err));
    char *y1 = NULL, *y2 = NULL;
    size_t l1, l2;
    ASSERT_OK(pr_alert_rules_to_yaml(d, &y1, &l1, &err));
    ASSERT_CONTAINS(y1, "threshold: 0.2\n");
    ASSERT_CONTAINS(y1, "threshold: [0.9, 1.1]\n");
    pr_alert_rules *back = parse_ok(y1);
    ASSERT_EQ_INT(back->n, d->n);
    ASSERT_TRUE(memcmp(back->rules, d->rules, d->n * sizeof *d->rules) == 0);
    ASSERT_OK(pr_alert_rules_to_yaml(back, &y2, &l2, &err));
    ASSERT_EQ_STR(y1, y2);
    free(y1);
    free(y2);
    pr_alert_rules_free(back);
    pr_alert_rules_free(d);
}

typedef struct bad_case {
    const char *yaml;
    const char *msg;
} bad_case;

#define R0 "rules:\n  - name: r\n    metric: psi\n    window: 5m\n"

TEST(errors_name_line_col_and_field) {
    static const bad_case cases[] = {
        {"rules:\n  - name: r\n    metric: psi\n    window: 5m\n    op: >=\n    threshold: 1\n",
         "monitors.yaml:5:10: YAML syntax error"},
        {R0 "    op: \">=\"\n", "monitors.yaml:2:5: rules[0].threshold: required"},
        {R0 "    op: \">=\"\n    threshold: abc\n",
         "monitors.yaml:6:16: rules[0].threshold: expected a finite number, got 'abc'"},
        {R0 "    op: \"=\"\n    threshold: 1\n",
         "monitors.yaml:5:9: rules[0].op: expected \">\", \">=\", \"<\", \"<=\" (quoted), gt, "
         "ge, lt, le or outside"},
        {R0 "    op: outside\n    threshold: 1\n",
         "monitors.yaml:6:16: rules[0].threshold: op outside takes a range [lo, hi] of two "
         "numbers"},
        {R0 "    op: outside\n    threshold: [2, 1]\n",
         "monitors.yaml:6:16: rules[0].threshold: range [2, 1]: lo must not exceed hi"},
        {R0 "    op: gt\n    threshold: [1, 2]\n",
         "monitors.yaml:6:16: rules[0].threshold: a range [lo, hi] goes with op: outside; op > "
         "takes one number"},
        {R0 "    op: gt\n    threshold: 1\n    for: 10 minutes\n",
         "monitors.yaml:7:10: rules[0].for: expected a duration"},
        {R0 "    op: gt\n    threshold: 1\n    severity: page\n",
         "monitors.yaml:7:15: rules[0].severity: expected info, warning or critical"},
        {R0 "    op: gt\n    threshold: 1\n    retrain: yes\n",
         "monitors.yaml:7:14: rules[0].retrain: expected true or false"},
        {R0 "    op: gt\n    threshold: 1\n    min_n: -5\n",
         "monitors.yaml:7:12: rules[0].min_n: expected an integer"},
        {R0 "    op: gt\n    threshold: 1\n    colour: red\n",
         "monitors.yaml:7:5: rules[0]: unknown key 'colour'"},
        {R0 "    op: gt\n    threshold: 1\n    stale: 0s\n",
         "monitors.yaml:7:12: rules[0].stale: duration '0s' is too short"},
        {"rules:\n  - {name: 'a b', metric: m, window: 1m, op: gt, threshold: 1}\n",
         "monitors.yaml:2:12: rules[0].name: expected 1..63 of [A-Za-z0-9_.-]"},
        {"rules:\n  - {name: a, metric: m, window: 1m, op: gt, threshold: 1}\n"
         "  - {name: a, metric: n, window: 1m, op: gt, threshold: 1}\n",
         "monitors.yaml:3:12: rules[1].name: duplicate rule name 'a'"},
        {"rules: []\n", "monitors.yaml:1:8: rules: no rules"},
        {"defaults: true\n", "monitors.yaml:1:1: rules: required"},
        {"rules: {a: 1}\n", "monitors.yaml:1:8: rules: expected a sequence of rules"},
        {"alerts: []\n", "monitors.yaml:1:1: unknown key 'alerts' (expected defaults, rules)"},
        {"", "monitors.yaml:1:1: empty document"},
        {"rules:\n  - {name: a, metric: m, window: 1m, op: gt, threshold: 1}\n---\nrules: []\n",
         "monitors.yaml:3:1: a rules file is one YAML document; found another"},
        {"- 1\n", "monitors.yaml:1:1: expected a mapping, got a sequence"},
        {"monitors: 3\n", "monitors.yaml:1:11: monitors: expected a mapping, got a scalar"},
        {"rules:\n  - {name: a, metric: \"\", window: 1m, op: gt, threshold: 1}\n",
         "monitors.yaml:2:23: rules[0].metric: expected a non-empty string"},
    };
    int failed = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pr_err err;
        pr_alert_rules *r = NULL;
        pr_status s = pr_alert_rules_parse(cases[i].yaml, strlen(cases[i].yaml), "monitors.yaml",
                                           &r, &err);
        if (s == PR_OK) TEST_FAIL("case %zu parsed:\n%s", i, cases[i].yaml);
        if (strncmp(err.msg, cases[i].msg, strlen(cases[i].msg)) != 0) {
            fprintf(stderr, "case %zu:\n got  %s\n want %s...\n", i, err.msg, cases[i].msg);
            failed++;
        }
    }
    if (failed) TEST_FAIL("%d error messages differ", failed);
}

TEST(load_names_the_file) {
    pr_err err;
    pr_alert_rules *r = NULL;
    const char *path = test_path("monitors.yaml");
    test_write_file(path, "rules:\n  - {name: a, metric: m, window: 7m, op: gt, threshold: 1}\n");
    ASSERT_STATUS(pr_alert_rules_load(path, &r, &err), PR_ERR_SPEC);
    char want[600];
    snprintf(want, sizeof want, "%s:2:34: rules[0].window: expected 1m, 5m, 15m or 1h", path);
    ASSERT_EQ_STR(err.msg, want);
    ASSERT_TRUE(pr_alert_rules_load(test_path("nope.yaml"), &r, &err) != PR_OK);
    ASSERT_CONTAINS(err.msg, "nope.yaml");
}

/* ------------------------------------------------------------ retrain */

TEST(retrain_trigger_writes_a_registry_request) {
    pr_err err;
    const char *dir = test_path("registry");
    pr_registry *reg = NULL;
    ASSERT_OK(pr_registry_open(dir, PR_REGISTRY_CREATE, &reg, &err));
    pr_alert_rules *r = parse_ok("rules:\n"
                                 "  - {name: cal, metric: calibration, arm: \"*\", window: 1h, "
                                 "op: outside, threshold: [0.9, 1.1], for: 2m, retrain: true}\n"
                                 "  - {name: psi, metric: psi, field: \"*\", window: 5m, "
                                 "op: \">=\", threshold: 0.2}\n");
    pr_alerts_opts o;
    pr_alerts_opts_default(&o);
    o.registry_dir = dir;
    pr_alerts *a = NULL;
    ASSERT_OK(pr_alerts_new(r, &o, &a, &err));
    pr_alert_rules_free(r);
    char *json = NULL;
    /* a non-retrain rule firing requests nothing */
    pr_metric_sample p = {"psi", "C1", "", "", "5m", 0.5, 100};
    ASSERT_EQ_INT(pr_alerts_eval(a, 0, &p, 1), 1);
    ASSERT_STATUS(pr_registry_take_request(reg, "retrain", &json, &err), PR_ERR_NOTFOUND);
    /* pending requests nothing either */
    pr_metric_sample c[] = {{"calibration", "", "a", "", "1h", 0.7, 30000},
                            {"calibration", "", "b", "", "1h", 0.6, 30000}};
    ASSERT_EQ_INT(pr_alerts_eval(a, MIN, c, 2), 2);
    ASSERT_STATUS(pr_registry_take_request(reg, "retrain", &json, &err), PR_ERR_NOTFOUND);
    /* both arms go firing in one eval: one request naming them */
    ASSERT_EQ_INT(pr_alerts_eval(a, 3 * MIN, c, 2), 2);
    ASSERT_OK(pr_registry_take_request(reg, "retrain", &json, &err));
    json_error_t je;
    json_t *o_req = json_loads(json, 0, &je);
    ASSERT_TRUE(o_req != NULL);
    ASSERT_CONTAINS(json_string_value(json_object_get(o_req, "reason")),
                    "cal firing: calibration of arm a (1h) is 0.7, outside [0.9, 1.1] for 2m "
                    "(and 1 more)");
    json_t *alerts = json_object_get(json_object_get(o_req, "detail"), "alerts");
    ASSERT_EQ_INT(json_array_size(alerts), 2);
    ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(alerts, 1), "arm")), "b");
    ASSERT_EQ_INT(json_integer_value(json_object_get(o_req, "count")), 1);
    json_decref(o_req);
    free(json);
    /* staying firing requests nothing more */
    ASSERT_EQ_INT(pr_alerts_eval(a, 4 * MIN, c, 2), 0);
    ASSERT_STATUS(pr_registry_take_request(reg, "retrain", &json, &err), PR_ERR_NOTFOUND);
    pr_alerts_stats st;
    pr_alerts_stats_get(a, &st);
    ASSERT_EQ_INT(st.retrain_requests, 1);
    ASSERT_EQ_INT(st.retrain_failed, 0);
    /* the history has the request line */
    char *hist = NULL;
    size_t hl = 0;
    ASSERT_OK(pr_registry_history(reg, &hist, &hl, &err));
    ASSERT_CONTAINS(hist, "\"op\":\"request\"");
    ASSERT_CONTAINS(hist, "cal firing");
    free(hist);
    pr_alerts_free(a);
    pr_registry_close(reg);
    /* a directory that is not a registry is refused up front */
    o.registry_dir = test_path("not-a-registry");
    pr_alert_rules *d = NULL;
    ASSERT_OK(pr_alert_rules_default(&d, &err));
    ASSERT_TRUE(pr_alerts_new(d, &o, &a, &err) != PR_OK);
    ASSERT_CONTAINS(err.msg, "not-a-registry");
    pr_alert_rules_free(d);
}

int main(void) {
    RUN(pending_then_firing_at_for);
    RUN(pending_interrupted_restarts_the_clock);
    RUN(for_zero_fires_at_once);
    RUN(min_n_keeps_small_windows_out);
    RUN(wildcard_one_instance_per_field_and_arm);
    RUN(outside_range_and_nan);
    RUN(staleness_keeps_state_then_resolves);
    RUN(keep_firing_for_holds_then_resolves);
    RUN(default_stale_is_twice_the_window);
    RUN(instance_limit_is_counted);
    RUN(transition_json_and_summary);
    RUN(defaults_and_overrides);
    RUN(drift_thresholds_come_from_the_rules);
    RUN(a_field_with_its_own_rule_leaves_the_wildcard);
    RUN(spec_with_monitors_block);
    RUN(canonical_text_is_a_fixed_point);
    RUN(errors_name_line_col_and_field);
    RUN(load_names_the_file);
    RUN(retrain_trigger_writes_a_registry_request);
    TEST_MAIN_END();
}
