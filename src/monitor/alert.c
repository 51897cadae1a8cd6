/*
 * alert.c: alert evaluation. An instance is (rule, field, arm, version):
 * a rule with exact labels has at most one, a rule with "*" one per
 * distinct label value seen in counting samples. Each instance walks
 *
 *          holds, for > 0           held for `for`
 *     ok ------------------> pending ------------> firing
 *      ^  holds, for == 0 (straight to firing)      |
 *      +---- does not hold, or stale (from either) -+
 *
 * as Prometheus alerting rules do (pending is dropped silently there; here
 * every change, pending -> ok included, is a transition). A tick without a
 * counting sample (none came, NaN, or n < min_n) changes nothing until
 * stale_ms after the last counting one; then a pending or firing instance
 * resolves with stale = 1 and every stale instance is forgotten, which is
 * also what bounds memory next to max_instances.
 *
 * Locks: eval_lock serializes evaluations, transition callbacks and
 * registry requests (a pr_registry is one thread's at a time); state_lock
 * guards the instances and counters that pr_alerts_active and
 * pr_alerts_stats_get read from other threads, and is never held while a
 * callback runs. Order: eval_lock, then state_lock.
 *
 * Ownership: the pr_alerts owns a copy of the rules, its instances, and
 * the registry handle it opened.
 */
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/alert_int.h"
#include "pronto/registry.h"

typedef struct inst {
    size_t rule;
    char field[PR_ALERT_LABEL_MAX];
    char arm[PR_ALERT_LABEL_MAX];
    char version[PR_ALERT_LABEL_MAX];
    pr_alert_state state;
    double value;
    uint64_t n;
    int64_t since_ms, firing_since_ms, last_seen_ms;
    int64_t clear_since_ms; /* firing: the condition fails since (INT64_MIN: it holds) */
    int fresh;          /* a counting sample in this eval */
    double fresh_value;
    uint64_t fresh_n;
} inst;

/* A transition with its labels copied (its instance may be gone). */
typedef struct trans {
    size_t rule;
    char field[PR_ALERT_LABEL_MAX];
    char arm[PR_ALERT_LABEL_MAX];
    char version[PR_ALERT_LABEL_MAX];
    pr_alert_state from, to;
    double value;
    uint64_t n;
    int64_t since_ms;
    int stale;
} trans;

struct pr_alerts {
    pr_alert_rules rules;
    pr_alert_cb cb;
    void *ctx;
    pr_registry *reg;
    size_t max_instances;
    pthread_mutex_t eval_lock, state_lock;
    inst *inst;
    size_t n_inst, cap_inst;
    uint32_t *index;    /* open addressing: instance position + 1, 0 empty */
    size_t index_cap;   /* power of two */
    pr_alerts_stats stats;
};

void pr_alerts_opts_default(pr_alerts_opts *o) {
    memset(o, 0, sizeof *o);
    o->max_instances = 10000;
}

pr_status pr_alerts_new(const pr_alert_rules *rules, const pr_alerts_opts *o, pr_alerts **out,
                        pr_err *err) {
    pr_alerts_opts def;
    if (!o) {
        pr_alerts_opts_default(&def);
        o = &def;
    }
    if (o->max_instances == 0 || o->max_instances > (1u << 24))
        return pr_err_set(err, PR_ERR_INVALID, "max_instances must be 1..%u", 1u << 24);
    pr_alerts *a = calloc(1, sizeof *a);
    if (!a) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    a->rules.rules = calloc(rules->n ? rules->n : 1, sizeof *a->rules.rules);
    if (!a->rules.rules) {
        free(a);
        return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    }
    if (rules->n) memcpy(a->rules.rules, rules->rules, rules->n * sizeof *rules->rules);
    a->rules.n = rules->n;
    a->cb = o->on_transition;
    a->ctx = o->ctx;
    a->max_instances = o->max_instances;
    if (o->registry_dir) {
        pr_status rc = pr_registry_open(o->registry_dir, 0, &a->reg, err);
        if (rc != PR_OK) {
            free(a->rules.rules);
            free(a);
            return rc;
        }
    }
    pthread_mutex_init(&a->eval_lock, NULL);
    pthread_mutex_init(&a->state_lock, NULL);
    *out = a;
    return PR_OK;
}

void pr_alerts_free(pr_alerts *a) {
    if (!a) return;
    pr_registry_close(a->reg);
    pthread_mutex_destroy(&a->eval_lock);
    pthread_mutex_destroy(&a->state_lock);
    free(a->inst);
    free(a->index);
    free(a->rules.rules);
    free(a);
}

const pr_alert_rules *pr_alerts_rules(const pr_alerts *a) { return &a->rules; }

/* ---------------------------------------------------------------- index */

static uint64_t key_hash(size_t rule, const char *f, const char *arm, const char *v) {
    uint64_t h = pr_hash64(&rule, sizeof rule, 0x616c657274ull);
    h = pr_hash64(f, strlen(f) + 1, h);
    h = pr_hash64(arm, strlen(arm) + 1, h);
    return pr_hash64(v, strlen(v) + 1, h);
}

static int key_eq(const inst *x, size_t rule, const char *f, const char *arm, const char *v) {
    return x->rule == rule && !strcmp(x->field, f) && !strcmp(x->arm, arm) &&
           !strcmp(x->version, v);
}

static void index_put(pr_alerts *a, size_t pos) {
    const inst *x = &a->inst[pos];
    size_t mask = a->index_cap - 1;
    size_t i = (size_t)key_hash(x->rule, x->field, x->arm, x->version) & mask;
    while (a->index[i]) i = (i + 1) & mask;
    a->index[i] = (uint32_t)pos + 1;
}

/* Rebuilds the index with room for twice `room` instances (load <= 1/2
 * after the rebuild, and add() rebuilds before it passes 1/2); 0 when out
 * of memory (the old index is intact then). */
static int index_rebuild(pr_alerts *a, size_t room) {
    size_t cap = 16;
    while (cap < 4 * room) cap *= 2;
    if (cap != a->index_cap) {
        uint32_t *p = realloc(a->index, cap * sizeof *p);
        if (!p) return 0;
        a->index = p;
        a->index_cap = cap;
    }
    memset(a->index, 0, a->index_cap * sizeof *a->index);
    for (size_t i = 0; i < a->n_inst; i++) index_put(a, i);
    return 1;
}

static inst *find(pr_alerts *a, size_t rule, const char *f, const char *arm, const char *v) {
    size_t mask = a->index_cap - 1;
    for (size_t i = (size_t)key_hash(rule, f, arm, v) & mask; a->index[i]; i = (i + 1) & mask)
        if (key_eq(&a->inst[a->index[i] - 1], rule, f, arm, v)) return &a->inst[a->index[i] - 1];
    return NULL;
}

/* A new ok instance, or NULL (limit or memory: counted dropped). */
static inst *add(pr_alerts *a, size_t rule, const char *f, const char *arm, const char *v) {
    if (a->n_inst >= a->max_instances) {
        a->stats.instances_dropped++;
        return NULL;
    }
    if (a->n_inst == a->cap_inst) {
        size_t cap = a->cap_inst ? a->cap_inst * 2 : 16;
        inst *p = realloc(a->inst, cap * sizeof *p);
        if (!p) {
            a->stats.instances_dropped++;
            return NULL;
        }
        a->inst = p;
        a->cap_inst = cap;
    }
    inst *x = &a->inst[a->n_inst];
    memset(x, 0, sizeof *x);
    x->rule = rule;
    pr__alert_copy(x->field, sizeof x->field, f);
    pr__alert_copy(x->arm, sizeof x->arm, arm);
    pr__alert_copy(x->version, sizeof x->version, v);
    x->value = NAN;
    a->n_inst++;
    if (2 * a->n_inst <= a->index_cap) {
        index_put(a, a->n_inst - 1);
    } else if (!index_rebuild(a, a->n_inst)) {
        a->n_inst--; /* the old index, untouched, does not name it */
        a->stats.instances_dropped++;
        return NULL;
    }
    return x;
}

/* ---------------------------------------------------------------- eval */

static int label_matches(const char *rule_label, const char *label) {
    return (rule_label[0] == '*' && rule_label[1] == '\0') || !strcmp(rule_label, label);
}

static const char *or_empty(const char *s) { return s ? s : ""; }

/* A rule naming field f exactly on metric: the "*" rules of that metric
 * leave f to it (a field with a threshold of its own, e.g. prediction). */
static int field_has_own_rule(const pr_alert_rules *r, const char *metric, const char *f) {
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->rules[i].field, f) && !strcmp(r->rules[i].metric, metric)) return 1;
    return 0;
}

static void match_sample(pr_alerts *a, const pr_metric_sample *s) {
    if (!s->metric || !s->window) return;
    const char *f = or_empty(s->field), *arm = or_empty(s->arm), *v = or_empty(s->version);
    if (strlen(f) >= PR_ALERT_LABEL_MAX || strlen(arm) >= PR_ALERT_LABEL_MAX ||
        strlen(v) >= PR_ALERT_LABEL_MAX)
        return; /* no rule can name it, and "*" could not keep it */
    for (size_t r = 0; r < a->rules.n; r++) {
        const pr_alert_rule *u = &a->rules.rules[r];
        if (strcmp(u->metric, s->metric) || strcmp(u->window, s->window) ||
            !label_matches(u->field, f) || !label_matches(u->arm, arm) ||
            !label_matches(u->version, v))
            continue;
        if (!strcmp(u->field, "*") && field_has_own_rule(&a->rules, u->metric, f)) continue;
        if (isnan(s->value)) continue;
        if (s->n < u->min_n) {
            a->stats.samples_below_min_n++;
            continue;
        }
        inst *x = find(a, r, f, arm, v);
        if (!x && !(x = add(a, r, f, arm, v))) continue;
        a->stats.samples_counted++;
        x->fresh = 1;
        x->fresh_value = s->value;
        x->fresh_n = s->n;
    }
}

typedef struct trans_list {
    trans *t;
    size_t n, cap;
} trans_list;

static void record(pr_alerts *a, trans_list *l, const inst *x, pr_alert_state to,
                   int64_t since, int stale) {
    a->stats.transitions++;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        trans *p = realloc(l->t, cap * sizeof *p);
        if (!p) {
            pr_log(PR_LOG_ERROR, "alerts: out of memory: a transition of %s is not reported",
                   a->rules.rules[x->rule].name);
            return;
        }
        l->t = p;
        l->cap = cap;
    }
    trans *t = &l->t[l->n++];
    t->rule = x->rule;
    memcpy(t->field, x->field, sizeof t->field);
    memcpy(t->arm, x->arm, sizeof t->arm);
    memcpy(t->version, x->version, sizeof t->version);
    t->from = x->state;
    t->to = to;
    t->value = x->value;
    t->n = x->n;
    t->since_ms = since;
    t->stale = stale;
}

/* Steps one instance; 1 if it is to be forgotten. */
static int step(pr_alerts *a, inst *x, int64_t now, trans_list *l) {
    const pr_alert_rule *u = &a->rules.rules[x->rule];
    if (!x->fresh) {
        if (now - x->last_seen_ms < u->stale_ms) return 0;
        if (x->state != PR_ALERT_STATE_OK) record(a, l, x, PR_ALERT_STATE_OK, x->since_ms, 1);
        return 1;
    }
    x->fresh = 0;
    x->value = x->fresh_value;
    x->n = x->fresh_n;
    x->last_seen_ms = now;
    if (!pr__alert_holds(u, x->value)) {
        if (x->state == PR_ALERT_STATE_FIRING && u->keep_firing_ms > 0) {
            if (x->clear_since_ms == INT64_MIN) x->clear_since_ms = now;
            if (now - x->clear_since_ms < u->keep_firing_ms) return 0; /* kept firing */
        }
        if (x->state != PR_ALERT_STATE_OK) {
            record(a, l, x, PR_ALERT_STATE_OK, x->since_ms, 0);
            x->state = PR_ALERT_STATE_OK;
            x->since_ms = x->firing_since_ms = 0;
        }
        return 0;
    }
    x->clear_since_ms = INT64_MIN;
    if (x->state == PR_ALERT_STATE_OK) {
        x->since_ms = now;
        if (u->for_ms > 0) {
            record(a, l, x, PR_ALERT_STATE_PENDING, now, 0);
            x->state = PR_ALERT_STATE_PENDING;
            return 0;
        }
    } else if (x->state == PR_ALERT_STATE_FIRING || now - x->since_ms < u->for_ms) {
        return 0;
    }
    record(a, l, x, PR_ALERT_STATE_FIRING, now, 0);
    x->state = PR_ALERT_STATE_FIRING;
    x->firing_since_ms = now;
    return 0;
}

static void fill_transition(const pr_alerts *a, const trans *t, int64_t now,
                            pr_alert_transition *out) {
    out->rule = &a->rules.rules[t->rule];
    out->field = t->field;
    out->arm = t->arm;
    out->version = t->version;
    out->from = t->from;
    out->to = t->to;
    out->value = t->value;
    out->n = t->n;
    out->at_ms = now;
    out->since_ms = t->since_ms;
    out->stale = t->stale;
}

/* One retrain request naming the retrain rules that went firing. */
static void request_retrain(pr_alerts *a, const trans_list *l, int64_t now) {
    json_t *list = json_array();
    char reason[512] = "";
    size_t n = 0;
    for (size_t i = 0; list && i < l->n; i++) {
        const trans *t = &l->t[i];
        if (t->to != PR_ALERT_STATE_FIRING || !a->rules.rules[t->rule].retrain) continue;
        pr_alert_transition tr;
        fill_transition(a, t, now, &tr);
        if (n == 0) pr_alert_transition_summary(&tr, reason, sizeof reason);
        if (n++ < 16)
            json_array_append_new(
                list, json_pack("{s:s,s:s,s:s,s:s,s:f,s:s}", "alert", tr.rule->name, "field",
                                t->field, "arm", t->arm, "version", t->version, "value",
                                isfinite(t->value) ? t->value : 0.0, "window",
                                tr.rule->window));
    }
    if (n == 0) {
        json_decref(list);
        return;
    }
    if (n > 1) {
        size_t o = strlen(reason);
        snprintf(reason + o, sizeof reason - o, " (and %zu more)", n - 1);
    }
    json_t *detail = json_pack("{s:o,s:I}", "alerts", list, "at_ms", (json_int_t)now);
    char *dj = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
    json_decref(detail);
    pr_err err;
    pr_err_clear(&err);
    pr_status rc = dj ? pr_registry_request(a->reg, "retrain", reason, dj, &err)
                      : pr_err_set(&err, PR_ERR_NOMEM, "out of memory");
    free(dj);
    pthread_mutex_lock(&a->state_lock);
    if (rc == PR_OK)
        a->stats.retrain_requests++;
    else
        a->stats.retrain_failed++;
    pthread_mutex_unlock(&a->state_lock);
    if (rc != PR_OK) pr_log(PR_LOG_ERROR, "alerts: retrain request failed: %s", err.msg);
}

size_t pr_alerts_eval(pr_alerts *a, int64_t now_ms, const pr_metric_sample *samples, size_t n) {
    trans_list l = {0};
    pthread_mutex_lock(&a->eval_lock);
    pthread_mutex_lock(&a->state_lock);
    a->stats.evals++;
    if (index_rebuild(a, a->n_inst)) {
        for (size_t i = 0; i < n; i++) match_sample(a, &samples[i]);
    } else {
        pr_log(PR_LOG_ERROR, "alerts: out of memory: %zu samples not evaluated", n);
    }
    size_t kept = 0;
    for (size_t i = 0; i < a->n_inst; i++) {
        if (step(a, &a->inst[i], now_ms, &l)) continue;
        if (kept != i) a->inst[kept] = a->inst[i];
        kept++;
    }
    a->n_inst = kept;
    a->stats.instances = kept;
    pthread_mutex_unlock(&a->state_lock);

    if (a->reg) request_retrain(a, &l, now_ms);
    for (size_t i = 0; a->cb && i < l.n; i++) {
        pr_alert_transition tr;
        fill_transition(a, &l.t[i], now_ms, &tr);
        a->cb(a->ctx, &tr);
    }
    pthread_mutex_unlock(&a->eval_lock);
    size_t count = l.n;
    free(l.t);
    return count;
}

/* ---------------------------------------------------------------- reading */

static int active_cmp(const void *pa, const void *pb) {
    const pr_alert_active *x = pa, *y = pb;
    if (x->rule != y->rule) return x->rule < y->rule ? -1 : 1;
    int c = strcmp(x->field, y->field);
    if (!c) c = strcmp(x->arm, y->arm);
    if (!c) c = strcmp(x->version, y->version);
    return c;
}

size_t pr_alerts_active(pr_alerts *a, pr_alert_active *out, size_t cap) {
    pthread_mutex_lock(&a->state_lock);
    size_t total = 0;
    for (size_t i = 0; i < a->n_inst; i++)
        if (a->inst[i].state != PR_ALERT_STATE_OK) total++;
    pr_alert_active *all = total ? calloc(total, sizeof *all) : NULL;
    size_t k = 0;
    for (size_t i = 0; all && i < a->n_inst; i++) {
        const inst *x = &a->inst[i];
        if (x->state == PR_ALERT_STATE_OK) continue;
        pr_alert_active *o = &all[k++];
        const pr_alert_rule *u = &a->rules.rules[x->rule];
        o->rule = x->rule;
        memcpy(o->name, u->name, sizeof o->name);
        memcpy(o->field, x->field, sizeof o->field);
        memcpy(o->arm, x->arm, sizeof o->arm);
        memcpy(o->version, x->version, sizeof o->version);
        o->state = x->state;
        o->severity = u->severity;
        o->value = x->value;
        o->n = x->n;
        o->since_ms = x->since_ms;
        o->firing_since_ms = x->firing_since_ms;
        o->last_seen_ms = x->last_seen_ms;
    }
    pthread_mutex_unlock(&a->state_lock);
    if (total && !all) {
        pr_log(PR_LOG_ERROR, "alerts: out of memory listing %zu active alerts", total);
        return 0;
    }
    if (k) qsort(all, k, sizeof *all, active_cmp);
    if (k) memcpy(out, all, (k < cap ? k : cap) * sizeof *all);
    free(all);
    return total;
}

void pr_alerts_stats_get(pr_alerts *a, pr_alerts_stats *out) {
    pthread_mutex_lock(&a->state_lock);
    *out = a->stats;
    pthread_mutex_unlock(&a->state_lock);
}
