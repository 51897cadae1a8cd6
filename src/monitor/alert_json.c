/*
 * alert_json.c: a transition as words (the summary line) and as the
 * webhook's JSON object (docs/monitoring.md "Webhook" lists the members).
 * Non-finite values (a calibration of inf when no click was observed) are
 * written as null, so the body is always valid JSON.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/alert_int.h"

/* " of field C1, arm b, version v3" for the labels that are set. */
static void labels_text(const pr_alert_transition *t, char *buf, size_t cap) {
    size_t o = 0;
    buf[0] = '\0';
    const char *names[] = {"field", "arm", "version"};
    const char *vals[] = {t->field, t->arm, t->version};
    for (int i = 0; i < 3 && o < cap; i++) {
        if (!vals[i] || !vals[i][0]) continue;
        int w = snprintf(buf + o, cap - o, "%s%s %s", o ? ", " : " of ", names[i], vals[i]);
        if (w < 0) break;
        o += (size_t)w;
    }
}

static void duration_text(int64_t ms, char *buf, size_t cap) {
    if (ms % 3600000 == 0 && ms)
        snprintf(buf, cap, "%lldh", (long long)(ms / 3600000));
    else if (ms % 60000 == 0 && ms)
        snprintf(buf, cap, "%lldm", (long long)(ms / 60000));
    else if (ms % 1000 == 0)
        snprintf(buf, cap, "%llds", (long long)(ms / 1000));
    else
        snprintf(buf, cap, "%lldms", (long long)ms);
}

void pr_alert_transition_summary(const pr_alert_transition *t, char *buf, size_t cap) {
    const pr_alert_rule *u = t->rule;
    char labels[3 * PR_ALERT_LABEL_MAX + 64], cond[96], dur[32], stale[32];
    labels_text(t, labels, sizeof labels);
    if (u->op == PR_ALERT_OP_OUTSIDE)
        snprintf(cond, sizeof cond, "outside [%g, %g]", u->threshold, u->threshold_hi);
    else
        snprintf(cond, sizeof cond, "%s %g", pr_alert_op_str(u->op), u->threshold);
    duration_text(u->for_ms, dur, sizeof dur);
    duration_text(u->stale_ms, stale, sizeof stale);
    if (t->to == PR_ALERT_STATE_OK && t->stale)
        snprintf(buf, cap, "%s resolved: no %s samples%s (%s) for %s", u->name, u->metric,
                 labels, u->window, stale);
    else if (t->to == PR_ALERT_STATE_OK)
        snprintf(buf, cap, "%s resolved: %s%s (%s) is %.4g, no longer %s", u->name, u->metric,
                 labels, u->window, t->value, cond);
    else if (t->to == PR_ALERT_STATE_PENDING)
        snprintf(buf, cap, "%s pending: %s%s (%s) is %.4g, %s (fires if it holds for %s)",
                 u->name, u->metric, labels, u->window, t->value, cond, dur);
    else
        snprintf(buf, cap, "%s firing: %s%s (%s) is %.4g, %s for %s", u->name, u->metric,
                 labels, u->window, t->value, cond, dur);
}

static json_t *num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

pr_status pr_alert_transition_json(const pr_alert_transition *t, char **out, size_t *len,
                                   pr_err *err) {
    const pr_alert_rule *u = t->rule;
    char summary[1024];
    pr_alert_transition_summary(t, summary, sizeof summary);
    json_t *labels = json_pack("{s:s,s:s,s:s,s:s,s:s}", "metric", u->metric, "field", t->field,
                               "arm", t->arm, "version", t->version, "window", u->window);
    json_t *o = labels ? json_pack("{s:s,s:o,s:s,s:s,s:o,s:I,s:s,s:o,s:I,s:I,s:I,s:s,s:b,s:b,s:s}",
                                   "alert", u->name, "labels", labels, "state",
                                   pr_alert_state_str(t->to), "previous",
                                   pr_alert_state_str(t->from), "value", num(t->value), "n",
                                   (json_int_t)t->n, "op", pr_alert_op_str(u->op), "threshold",
                                   num(u->threshold), "for_ms", (json_int_t)u->for_ms, "since",
                                   (json_int_t)t->since_ms, "at", (json_int_t)t->at_ms,
                                   "severity", pr_alert_severity_str(u->severity), "retrain",
                                   u->retrain, "stale", t->stale, "summary", summary)
                        : NULL;
    if (o && u->op == PR_ALERT_OP_OUTSIDE) json_object_set_new(o, "threshold_hi", num(u->threshold_hi));
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(o);
    if (!text) return pr_err_set(err, PR_ERR_NOMEM,
                                 "could not build the alert JSON (out of memory, or a "
                                 "label that is not UTF-8)");
    *out = text;
    if (len) *len = strlen(text);
    return PR_OK;
}
