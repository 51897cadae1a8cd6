/*
 * alert_rules.c: the rule set outside its YAML parser: the built-in
 * defaults, the words for ops/severities/states, the condition test, and
 * the canonical text (pr_alert_rules_to_yaml), which spells every key out
 * so `pronto monitor check-rules` shows what a file really means and the
 * fuzz target can check that it parses back to the same rules.
 *
 * The defaults (docs/monitoring.md "Alerts" says why each number):
 *
 *   name               metric         window op        threshold   for  min_n  severity
 *   drift_psi          psi            5m     >=        0.2         10m  1000   warning
 *   drift_js           js             5m     >=        0.1         10m  1000   warning
 *   drift_wasserstein  wasserstein    5m     >=        0.1         10m  1000   warning
 *   missing_rate       missing_delta  1m     >=        5 (points)  2m   200    critical
 *   prediction_psi     psi of prediction          5m  >= 0.5   10m  1000   warning
 *   prediction_js      js of prediction           5m  >= 0.3   10m  1000   warning
 *   prediction_wasserstein  wasserstein of prediction  5m  >= 0.75  10m  1000  warning
 *   calibration        calibration_bound 15m outside  [0.9, 1.1]  5m   2000   critical, retrain
 *   traffic            traffic_ratio  5m     outside   [0.5, 2]    10m  100    info
 *
 * every one with field, arm and version "*" (the prediction_* rules: field
 * "prediction", which the "*" rules of their metric then leave to them)
 * and stale twice the window.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/alert_int.h"

int64_t pr__alert_window_ms(const char *w, size_t len) {
    if (len == 2 && memcmp(w, "1m", 2) == 0) return 60000;
    if (len == 2 && memcmp(w, "5m", 2) == 0) return 300000;
    if (len == 3 && memcmp(w, "15m", 3) == 0) return 900000;
    if (len == 2 && memcmp(w, "1h", 2) == 0) return 3600000;
    return 0;
}

int pr__alert_name_ok(const char *s, size_t len) {
    if (len == 0 || len >= PR_ALERT_NAME_MAX) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

int64_t pr__alert_default_stale(int64_t window_ms) { return 2 * window_ms; }

int pr__alert_holds(const pr_alert_rule *r, double v) {
    if (isnan(v)) return 0;
    switch (r->op) {
    case PR_ALERT_OP_GT: return v > r->threshold;
    case PR_ALERT_OP_GE: return v >= r->threshold;
    case PR_ALERT_OP_LT: return v < r->threshold;
    case PR_ALERT_OP_LE: return v <= r->threshold;
    case PR_ALERT_OP_OUTSIDE: return v < r->threshold || v > r->threshold_hi;
    }
    return 0;
}

int pr__alert_copy(char *dst, size_t cap, const char *src) {
    size_t n = strlen(src);
    if (n >= cap) return 0;
    memcpy(dst, src, n + 1);
    return 1;
}

const char *pr_alert_op_str(pr_alert_op op) {
    switch (op) {
    case PR_ALERT_OP_GT: return ">";
    case PR_ALERT_OP_GE: return ">=";
    case PR_ALERT_OP_LT: return "<";
    case PR_ALERT_OP_LE: return "<=";
    case PR_ALERT_OP_OUTSIDE: return "outside";
    }
    return "?";
}

const char *pr_alert_severity_str(pr_alert_severity s) {
    switch (s) {
    case PR_ALERT_SEVERITY_INFO: return "info";
    case PR_ALERT_SEVERITY_WARNING: return "warning";
    case PR_ALERT_SEVERITY_CRITICAL: return "critical";
    }
    return "?";
}

const char *pr_alert_state_str(pr_alert_state s) {
    switch (s) {
    case PR_ALERT_STATE_OK: return "ok";
    case PR_ALERT_STATE_PENDING: return "pending";
    case PR_ALERT_STATE_FIRING: return "firing";
    }
    return "?";
}

#define MIN_MS 60000
/* Every built-in rule keeps firing for its `for` after its condition
 * fails (keep_firing_for): a value that wavers at the threshold fires
 * once, not every few minutes. */
#define RULE(NAME, METRIC, WIN, WIN_MS, OP, LO, HI, FOR_MIN, MIN_N, SEV, RETRAIN)            \
    {.name = NAME, .metric = METRIC, .field = "*", .arm = "*", .version = "*", .window = WIN, \
     .op = OP, .threshold = LO, .threshold_hi = HI, .for_ms = (FOR_MIN) * MIN_MS,              \
     .keep_firing_ms = (FOR_MIN) * MIN_MS, .stale_ms = 2 * (WIN_MS), .min_n = MIN_N,           \
     .severity = SEV, .retrain = RETRAIN}

/* The prediction's own drift rules (they take field "prediction" from the
 * "*" ones): 5m, for 10m, min_n 1000, warning. */
#define PRED(NAME, METRIC, TH)                                                                   \
    {.name = NAME, .metric = METRIC, .field = "prediction", .arm = "*", .version = "*",          \
     .window = "5m", .op = PR_ALERT_OP_GE, .threshold = TH, .threshold_hi = TH,                 \
     .for_ms = 10 * MIN_MS, .keep_firing_ms = 10 * MIN_MS, .stale_ms = 10 * MIN_MS,            \
     .min_n = 1000,                                                                            \
     .severity = PR_ALERT_SEVERITY_WARNING, .retrain = 0}

/* The one table of built-in rules: the alerts' defaults, and the drift
 * thresholds the report and the server's worst-first order use when no
 * rules file is given (pr_alert_rules_threshold). */
static const pr_alert_rule builtin[] = {
    RULE("drift_psi", "psi", "5m", 5 * MIN_MS, PR_ALERT_OP_GE, 0.2, 0.2, 10, 1000,
         PR_ALERT_SEVERITY_WARNING, 0),
    RULE("drift_js", "js", "5m", 5 * MIN_MS, PR_ALERT_OP_GE, 0.1, 0.1, 10, 1000,
         PR_ALERT_SEVERITY_WARNING, 0),
    RULE("drift_wasserstein", "wasserstein", "5m", 5 * MIN_MS, PR_ALERT_OP_GE, 0.1, 0.1, 10,
         1000, PR_ALERT_SEVERITY_WARNING, 0),
    RULE("missing_rate", "missing_delta", "1m", MIN_MS, PR_ALERT_OP_GE, 5, 5, 2, 200,
         PR_ALERT_SEVERITY_CRITICAL, 0),
    PRED("prediction_psi", "psi", 0.5),
    PRED("prediction_js", "js", 0.3),
    PRED("prediction_wasserstein", "wasserstein", 0.75),
    RULE("calibration", "calibration_bound", "15m", 15 * MIN_MS, PR_ALERT_OP_OUTSIDE, 0.9, 1.1,
         5, 2000, PR_ALERT_SEVERITY_CRITICAL, 1),
    RULE("traffic", "traffic_ratio", "5m", 5 * MIN_MS, PR_ALERT_OP_OUTSIDE, 0.5, 2, 10, 100,
         PR_ALERT_SEVERITY_INFO, 0),
};
#define N_BUILTIN (sizeof builtin / sizeof builtin[0])

const pr_alert_rules *pr_alert_rules_builtin(void) {
    static const pr_alert_rules set = {(pr_alert_rule *)builtin, N_BUILTIN};
    return &set;
}

pr_status pr_alert_rules_default(pr_alert_rules **out, pr_err *err) {
    pr_alert_rules *r = calloc(1, sizeof *r);
    if (r) r->rules = calloc(N_BUILTIN, sizeof *r->rules);
    if (!r || !r->rules) {
        pr_alert_rules_free(r);
        return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    }
    memcpy(r->rules, builtin, sizeof builtin);
    r->n = N_BUILTIN;
    *out = r;
    return PR_OK;
}

double pr_alert_rules_threshold(const pr_alert_rules *r, const char *metric, const char *field) {
    double th = NAN;
    if (!r) r = pr_alert_rules_builtin();
    int own = 0; /* a rule naming the field: the "*" ones leave it to that */
    for (size_t i = 0; field && i < r->n; i++)
        own |= !strcmp(r->rules[i].field, field) && !strcmp(r->rules[i].metric, metric);
    for (size_t i = 0; i < r->n; i++) {
        const pr_alert_rule *u = &r->rules[i];
        if ((u->op != PR_ALERT_OP_GE && u->op != PR_ALERT_OP_GT) || strcmp(u->metric, metric))
            continue;
        if (own ? strcmp(u->field, field) : strcmp(u->field, "*")) continue;
        if (!(u->threshold > 0)) continue; /* no ratio to score by */
        if (isnan(th) || u->threshold < th) th = u->threshold;
    }
    return th;
}

void pr_alert_rules_free(pr_alert_rules *r) {
    if (!r) return;
    free(r->rules);
    free(r);
}

/* ---------------------------------------------------------------- to_yaml */

typedef struct text {
    char *p;
    size_t len, cap;
    int failed;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...) {
    if (t->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if (t->p && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap * 2 : 1024;
        while (cap < t->len + (size_t)n + 1) cap *= 2;
        char *q = realloc(t->p, cap);
        if (!q) {
            t->failed = 1;
            return;
        }
        t->p = q;
        t->cap = cap;
    }
}

/* A double-quoted YAML string. Labels come from libyaml (valid UTF-8, no
 * C0 controls); every non-ASCII character is written as a \u or \U
 * escape, since some (U+0085, U+2028, U+2029) are line breaks that a
 * double-quoted scalar would fold into a space. */
static void put_str(text *t, const char *str) {
    const unsigned char *s = (const unsigned char *)str;
    put(t, "\"");
    while (*s) {
        unsigned c = *s;
        size_t extra = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
        if (c < 0x80) {
            if (c == '"' || c == '\\')
                put(t, "\\%c", c);
            else if (c < 0x20 || c == 0x7f)
                put(t, "\\x%02x", c);
            else
                put(t, "%c", c);
            s++;
            continue;
        }
        uint32_t cp = extra == 3 ? c & 0x07 : extra == 2 ? c & 0x0f : c & 0x1f;
        size_t k = 1;
        for (; k <= extra && (s[k] & 0xc0) == 0x80; k++) cp = cp << 6 | (s[k] & 0x3f);
        if (extra == 0 || k <= extra) cp = 0xfffd; /* not UTF-8: cannot come from libyaml */
        if (cp > 0xffff)
            put(t, "\\U%08x", (unsigned)cp);
        else
            put(t, "\\u%04x", (unsigned)cp);
        s += k;
    }
    put(t, "\"");
}

/* The shortest %g text that reads back as x exactly. */
static void put_num(text *t, double x) {
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) break;
    }
    put(t, "%s", buf);
}

/* A duration in its largest exact unit ("10m", "90s", "0s"). */
static void put_duration(text *t, int64_t ms) {
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}};
    if (ms == 0) {
        put(t, "0s");
        return;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (ms % units[i].ms == 0) {
            put(t, "%lld%s", (long long)(ms / units[i].ms), units[i].unit);
            return;
        }
    put(t, "%lldms", (long long)ms);
}

pr_status pr_alert_rules_to_yaml(const pr_alert_rules *r, char **out, size_t *len,
                                 pr_err *err) {
    text t = {0};
    put(&t, "defaults: false\nrules:%s\n", r->n ? "" : " []");
    for (size_t i = 0; i < r->n; i++) {
        const pr_alert_rule *u = &r->rules[i];
        put(&t, "  - name: %s\n    metric: ", u->name);
        put_str(&t, u->metric);
        put(&t, "\n    field: ");
        put_str(&t, u->field);
        put(&t, "\n    arm: ");
        put_str(&t, u->arm);
        put(&t, "\n    version: ");
        put_str(&t, u->version);
        put(&t, "\n    window: %s\n    op: \"%s\"\n", u->window, pr_alert_op_str(u->op));
        put(&t, "    threshold: %s", u->op == PR_ALERT_OP_OUTSIDE ? "[" : "");
        put_num(&t, u->threshold);
        if (u->op == PR_ALERT_OP_OUTSIDE) {
            put(&t, ", ");
            put_num(&t, u->threshold_hi);
            put(&t, "]");
        }
        put(&t, "\n");
        put(&t, "    for: ");
        put_duration(&t, u->for_ms);
        put(&t, "\n    keep_firing_for: ");
        put_duration(&t, u->keep_firing_ms);
        put(&t, "\n    stale: ");
        put_duration(&t, u->stale_ms);
        put(&t, "\n    min_n: %llu\n    severity: %s\n    retrain: %s\n",
            (unsigned long long)u->min_n, pr_alert_severity_str(u->severity),
            u->retrain ? "true" : "false");
    }
    if (t.failed || !t.p) {
        free(t.p);
        return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    }
    *out = t.p;
    if (len) *len = t.len;
    return PR_OK;
}
