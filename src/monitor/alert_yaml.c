/*
 * alert_yaml.c: monitors.yaml (or a spec's `monitors:` block) -> a
 * validated pr_alert_rules.
 *
 *   defaults: true          optional (default false): start from the
 *                           built-in rules; a rule below with the same name
 *                           replaces the built-in one
 *   rules:                  a list (may be empty with defaults: true)
 *     - name: ctr_drift     required, 1..63 of [A-Za-z0-9_.-], unique
 *       metric: psi         required: the sample's metric name
 *       field: "*"          exact label or "*" (default "*"); "" = none
 *       arm: "*"            same (default "*")
 *       version: "*"        same (default "*")
 *       window: 5m          required: 1m | 5m | 1h
 *       op: ">="            required: ">" ">=" "<" "<=" (quote them: a
 *                           bare > starts a YAML block) or gt ge lt le,
 *                           or outside
 *       threshold: 0.2      required: a number; for outside [lo, hi]
 *       for: 10m            duration (default 0s: firing at once)
 *       stale: 10m          duration, at least 1s (default: 2 x window)
 *       min_n: 1000         samples with fewer observations do not count
 *                           (default 1: an empty window never counts)
 *       severity: warning   info | warning | critical (default warning)
 *       retrain: false      true: going firing requests a retrain
 *
 * The walk is the spec parser's (feature/spec_yaml.h: one checked read
 * per node, "name:line:col: path: message" on the first error), so a
 * monitors file reads and fails like a spec. A document whose top level
 * has a `monitors:` key is a spec: only that key is read here.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "feature/spec_yaml.h"
#include "monitor/alert_int.h"

enum { RK_NAME, RK_METRIC, RK_FIELD, RK_ARM, RK_VERSION, RK_WINDOW, RK_OP, RK_THRESHOLD,
       RK_FOR, RK_KEEP_FIRING, RK_STALE, RK_MIN_N, RK_SEVERITY, RK_RETRAIN, RK_COUNT };
static const char *const rule_keys[RK_COUNT] = {
    "name", "metric", "field", "arm", "version", "window", "op", "threshold",
    "for", "keep_firing_for", "stale", "min_n", "severity", "retrain"};

static pr_status read_bool(pr__yaml_ctx *ps, const yaml_node_t *n, const char *path,
                           int *out) {
    if (pr__yaml_scalar_is(n, "true")) {
        *out = 1;
        return PR_OK;
    }
    if (pr__yaml_scalar_is(n, "false")) {
        *out = 0;
        return PR_OK;
    }
    return pr__yaml_fail(ps, n, path, "expected true or false");
}

/* A label (exact or "*") into dst of PR_ALERT_LABEL_MAX bytes. */
static pr_status read_label(pr__yaml_ctx *ps, const yaml_node_t *n, const char *path,
                            int allow_empty, char *dst) {
    char *s = NULL;
    pr_status rc = pr__yaml_string(ps, n, path, PR_ALERT_LABEL_MAX - 1, allow_empty, &s);
    if (rc != PR_OK) return rc;
    pr__alert_copy(dst, PR_ALERT_LABEL_MAX, s);
    free(s);
    return PR_OK;
}

static pr_status read_op(pr__yaml_ctx *ps, const yaml_node_t *n, const char *path,
                         pr_alert_op *op) {
    static const struct {
        const char *word;
        pr_alert_op op;
    } ops[] = {{">", PR_ALERT_OP_GT},  {">=", PR_ALERT_OP_GE}, {"<", PR_ALERT_OP_LT},
               {"<=", PR_ALERT_OP_LE}, {"gt", PR_ALERT_OP_GT}, {"ge", PR_ALERT_OP_GE},
               {"lt", PR_ALERT_OP_LT}, {"le", PR_ALERT_OP_LE}, {"outside", PR_ALERT_OP_OUTSIDE}};
    pr_status rc = pr__yaml_expect_scalar(ps, n, path);
    if (rc != PR_OK) return rc;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (pr__yaml_scalar_is(n, ops[i].word)) {
            *op = ops[i].op;
            return PR_OK;
        }
    return pr__yaml_fail(ps, n, path,
                         "expected \">\", \">=\", \"<\", \"<=\" (quoted), gt, ge, lt, le "
                         "or outside");
}

static pr_status read_threshold(pr__yaml_ctx *ps, yaml_node_t *n, const char *path,
                                pr_alert_rule *r) {
    if (r->op != PR_ALERT_OP_OUTSIDE) {
        if (n->type == YAML_SEQUENCE_NODE)
            return pr__yaml_fail(ps, n, path,
                                 "a range [lo, hi] goes with op: outside; op %s takes one "
                                 "number",
                                 pr_alert_op_str(r->op));
        pr_status rc = pr__yaml_double(ps, n, path, &r->threshold);
        r->threshold_hi = r->threshold;
        return rc;
    }
    if (n->type != YAML_SEQUENCE_NODE ||
        n->data.sequence.items.top - n->data.sequence.items.start != 2)
        return pr__yaml_fail(ps, n, path, "op outside takes a range [lo, hi] of two numbers");
    double v[2];
    for (int i = 0; i < 2; i++) {
        char sub[PR__YAML_PATH_MAX];
        pr__yaml_item_path(sub, path, (size_t)i);
        yaml_node_t *item = pr__yaml_node(ps, n->data.sequence.items.start[i]);
        if (!item) return pr__yaml_fail(ps, n, path, "malformed sequence");
        pr_status rc = pr__yaml_double(ps, item, sub, &v[i]);
        if (rc != PR_OK) return rc;
    }
    if (v[0] > v[1])
        return pr__yaml_fail(ps, n, path, "range [%g, %g]: lo must not exceed hi", v[0], v[1]);
    r->threshold = v[0];
    r->threshold_hi = v[1];
    return PR_OK;
}

static pr_status read_rule(pr__yaml_ctx *ps, yaml_node_t *map, const char *path,
                           pr_alert_rule *r) {
    yaml_node_t *v[RK_COUNT];
    char sub[PR__YAML_PATH_MAX];
    pr_status rc = pr__yaml_read_map(ps, map, path, rule_keys, RK_COUNT, v);
    if (rc != PR_OK) return rc;
    static const int required[] = {RK_NAME, RK_METRIC, RK_WINDOW, RK_OP, RK_THRESHOLD};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!v[required[i]]) {
            pr__yaml_child_path(sub, path, rule_keys[required[i]]);
            return pr__yaml_fail(ps, map, sub, "required");
        }
    memset(r, 0, sizeof *r);
    pr__yaml_child_path(sub, path, "name");
    rc = pr__yaml_expect_scalar(ps, v[RK_NAME], sub);
    if (rc != PR_OK) return rc;
    const char *name = (const char *)v[RK_NAME]->data.scalar.value;
    size_t name_len = v[RK_NAME]->data.scalar.length;
    if (!pr__alert_name_ok(name, name_len))
        return pr__yaml_fail(ps, v[RK_NAME], sub, "expected 1..63 of [A-Za-z0-9_.-]");
    memcpy(r->name, name, name_len);
    r->name[name_len] = '\0';

    pr__yaml_child_path(sub, path, "metric");
    if ((rc = read_label(ps, v[RK_METRIC], sub, 0, r->metric)) != PR_OK) return rc;
    static const int labels[] = {RK_FIELD, RK_ARM, RK_VERSION};
    char *dst[] = {r->field, r->arm, r->version};
    for (size_t i = 0; i < 3; i++) {
        pr__alert_copy(dst[i], PR_ALERT_LABEL_MAX, "*");
        if (!v[labels[i]]) continue;
        pr__yaml_child_path(sub, path, rule_keys[labels[i]]);
        if ((rc = read_label(ps, v[labels[i]], sub, 1, dst[i])) != PR_OK) return rc;
    }

    pr__yaml_child_path(sub, path, "window");
    if ((rc = pr__yaml_expect_scalar(ps, v[RK_WINDOW], sub)) != PR_OK) return rc;
    int64_t window_ms = pr__alert_window_ms((const char *)v[RK_WINDOW]->data.scalar.value,
                                            v[RK_WINDOW]->data.scalar.length);
    if (!window_ms) return pr__yaml_fail(ps, v[RK_WINDOW], sub, "expected 1m, 5m, 15m or 1h");
    memcpy(r->window, v[RK_WINDOW]->data.scalar.value, v[RK_WINDOW]->data.scalar.length);
    r->window[v[RK_WINDOW]->data.scalar.length] = '\0';

    pr__yaml_child_path(sub, path, "op");
    if ((rc = read_op(ps, v[RK_OP], sub, &r->op)) != PR_OK) return rc;
    pr__yaml_child_path(sub, path, "threshold");
    if ((rc = read_threshold(ps, v[RK_THRESHOLD], sub, r)) != PR_OK) return rc;

    if (v[RK_FOR]) {
        pr__yaml_child_path(sub, path, "for");
        if ((rc = pr__yaml_duration(ps, v[RK_FOR], sub, 0, &r->for_ms)) != PR_OK) return rc;
    }
    if (v[RK_KEEP_FIRING]) {
        pr__yaml_child_path(sub, path, "keep_firing_for");
        if ((rc = pr__yaml_duration(ps, v[RK_KEEP_FIRING], sub, 0, &r->keep_firing_ms)) != PR_OK)
            return rc;
    }
    r->stale_ms = pr__alert_default_stale(window_ms);
    if (v[RK_STALE]) {
        pr__yaml_child_path(sub, path, "stale");
        if ((rc = pr__yaml_duration(ps, v[RK_STALE], sub, 1000, &r->stale_ms)) != PR_OK)
            return rc;
    }
    r->min_n = 1;
    if (v[RK_MIN_N]) {
        pr__yaml_child_path(sub, path, "min_n");
        if ((rc = pr__yaml_uint(ps, v[RK_MIN_N], sub, 0, UINT64_MAX, &r->min_n)) != PR_OK)
            return rc;
    }
    r->severity = PR_ALERT_SEVERITY_WARNING;
    if (v[RK_SEVERITY]) {
        pr__yaml_child_path(sub, path, "severity");
        yaml_node_t *n = v[RK_SEVERITY];
        if ((rc = pr__yaml_expect_scalar(ps, n, sub)) != PR_OK) return rc;
        if (pr__yaml_scalar_is(n, "info"))
            r->severity = PR_ALERT_SEVERITY_INFO;
        else if (pr__yaml_scalar_is(n, "warning"))
            r->severity = PR_ALERT_SEVERITY_WARNING;
        else if (pr__yaml_scalar_is(n, "critical"))
            r->severity = PR_ALERT_SEVERITY_CRITICAL;
        else
            return pr__yaml_fail(ps, n, sub, "expected info, warning or critical");
    }
    if (v[RK_RETRAIN]) {
        pr__yaml_child_path(sub, path, "retrain");
        if ((rc = read_bool(ps, v[RK_RETRAIN], sub, &r->retrain)) != PR_OK) return rc;
    }
    return PR_OK;
}

enum { BK_DEFAULTS, BK_RULES, BK_COUNT };
static const char *const block_keys[BK_COUNT] = {"defaults", "rules"};

static pr_status read_block(pr__yaml_ctx *ps, yaml_node_t *block, const char *path,
                            pr_alert_rules *out) {
    yaml_node_t *v[BK_COUNT];
    char sub[PR__YAML_PATH_MAX];
    pr_status rc = pr__yaml_read_map(ps, block, path, block_keys, BK_COUNT, v);
    if (rc != PR_OK) return rc;
    int defaults = 0;
    if (v[BK_DEFAULTS]) {
        pr__yaml_child_path(sub, path, "defaults");
        if ((rc = read_bool(ps, v[BK_DEFAULTS], sub, &defaults)) != PR_OK) return rc;
    }
    pr__yaml_child_path(sub, path, "rules");
    if (!v[BK_RULES])
        return pr__yaml_fail(ps, block, sub, "required (a list of rules; `rules: []` and "
                                             "`defaults: true` for the built-in ones)");
    yaml_node_t *seq = v[BK_RULES];
    if (seq->type != YAML_SEQUENCE_NODE)
        return pr__yaml_fail(ps, seq, sub, "expected a sequence of rules, got %s",
                             pr__yaml_node_kind(seq));
    size_t n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    if (n > PR_ALERT_RULES_MAX)
        return pr__yaml_fail_status(ps, PR_ERR_LIMIT, seq, sub, "%zu rules (max %d)", n,
                                    PR_ALERT_RULES_MAX);
    if (n == 0 && !defaults)
        return pr__yaml_fail(ps, seq, sub, "no rules (add some, or `defaults: true`)");

    pr_alert_rules *d = NULL;
    if (defaults && (rc = pr_alert_rules_default(&d, ps->err)) != PR_OK) return rc;
    size_t cap = n + (d ? d->n : 0);
    out->rules = calloc(cap ? cap : 1, sizeof *out->rules);
    if (!out->rules) {
        pr_alert_rules_free(d);
        return pr_err_set(ps->err, PR_ERR_NOMEM, "out of memory");
    }
    if (d) {
        memcpy(out->rules, d->rules, d->n * sizeof *d->rules);
        out->n = d->n;
    }
    size_t n_defaults = out->n;
    uint64_t replaced = 0; /* bit j: built-in rule j was replaced (n_defaults < 64) */
    pr_alert_rules_free(d);
    for (size_t i = 0; i < n; i++) {
        char item[PR__YAML_PATH_MAX];
        pr__yaml_item_path(item, sub, i);
        yaml_node_t *map = pr__yaml_node(ps, seq->data.sequence.items.start[i]);
        if (!map) return pr__yaml_fail(ps, seq, item, "malformed sequence");
        pr_alert_rule r;
        if ((rc = read_rule(ps, map, item, &r)) != PR_OK) return rc;
        size_t j = 0;
        while (j < out->n && strcmp(out->rules[j].name, r.name) != 0) j++;
        if (j < n_defaults && !(replaced >> j & 1)) {
            out->rules[j] = r; /* replaces the built-in rule of that name */
            replaced |= (uint64_t)1 << j;
            continue;
        }
        if (j < out->n) {
            char at[PR__YAML_PATH_MAX];
            pr__yaml_child_path(at, item, "name");
            return pr__yaml_fail(ps, pr__yaml_map_value(ps, map, "name"), at,
                                 "duplicate rule name '%s'", r.name);
        }
        out->rules[out->n++] = r;
    }
    return PR_OK;
}

/* The `monitors` value of a top-level mapping, or NULL. */
static yaml_node_t *find_monitors(pr__yaml_ctx *ps, yaml_node_t *root) {
    if (root->type != YAML_MAPPING_NODE) return NULL;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = pr__yaml_node(ps, p->key);
        if (k && pr__yaml_scalar_is(k, "monitors")) return pr__yaml_node(ps, p->value);
    }
    return NULL;
}

pr_status pr_alert_rules_parse(const char *yaml, size_t len, const char *name,
                               pr_alert_rules **out, pr_err *err) {
    pr__yaml_ctx ps = {name ? name : "<monitors>", NULL, err};
    yaml_parser_t yp;
    yaml_document_t doc;
    int have_parser = 0, have_doc = 0;
    pr_alert_rules *r = NULL;
    pr_status rc = PR_OK;

    if (len > PR__ALERT_YAML_MAX) {
        rc = pr_err_set(err, PR_ERR_LIMIT, "%s: %zu bytes is too large for a rules file (max %zu)",
                        ps.name, len, PR__ALERT_YAML_MAX);
        goto fail;
    }
    r = calloc(1, sizeof *r);
    if (!r || !yaml_parser_initialize(&yp)) {
        rc = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
        goto fail;
    }
    have_parser = 1;
    yaml_parser_set_input_string(&yp, (const unsigned char *)yaml, len);
    if (!yaml_parser_load(&yp, &doc)) {
        rc = pr__yaml_syntax_error(&ps, &yp);
        goto fail;
    }
    have_doc = 1;
    ps.doc = &doc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        rc = pr_err_set(err, PR_ERR_SPEC, "%s:1:1: empty document (expected a mapping with rules)",
                        ps.name);
        goto fail;
    }
    yaml_node_t *block = find_monitors(&ps, root);
    rc = read_block(&ps, block ? block : root, block ? "monitors" : "", r);
    if (rc != PR_OK) goto fail;
    /* a second document would be ignored silently: refuse it */
    yaml_document_t extra;
    if (!yaml_parser_load(&yp, &extra)) {
        rc = pr__yaml_syntax_error(&ps, &yp);
        goto fail;
    }
    int more = yaml_document_get_root_node(&extra) != NULL;
    unsigned long extra_line = (unsigned long)extra.start_mark.line + 1;
    yaml_document_delete(&extra);
    if (more) {
        rc = pr_err_set(err, PR_ERR_SPEC, "%s:%lu:1: a rules file is one YAML document; found another",
                        ps.name, extra_line);
        goto fail;
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&yp);
    *out = r;
    return PR_OK;

fail:
    if (have_doc) yaml_document_delete(&doc);
    if (have_parser) yaml_parser_delete(&yp);
    pr_alert_rules_free(r);
    return rc;
}

pr_status pr_alert_rules_load(const char *path, pr_alert_rules **out, pr_err *err) {
    char *data = NULL;
    size_t len = 0;
    pr_status rc = pr_read_file(path, &data, &len, err);
    if (rc != PR_OK) return rc;
    rc = pr_alert_rules_parse(data, len, path, out, err);
    free(data);
    return rc;
}
