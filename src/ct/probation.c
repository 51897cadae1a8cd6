/*
 * probation.c: automatic rollback (retrain.h, docs/continuous-training.md
 * "Probation and automatic rollback"), the reading of a registry history
 * it rests on, and the --calibration range parser.
 *
 * A check: find the alias's last move in the history (replaying it the
 * way the registry does: a move pushes its target, a rollback pops back
 * to its target, so "previous" is what pr_registry_rollback returns to);
 * within the probation period, build the examples of the impressions
 * matured since the move ([moved_at, now - lag), events after now not
 * applied) with the production model's own embedded spec, score both
 * models on them, and roll back when production's NE is worse than its
 * predecessor's by more than the margin. The only write is the
 * rollback (crash-safe in the registry); the work folder is removed on
 * every path.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct/ct_int.h"
#include "pronto/feature.h"

pr_status pr_retrain_parse_range(const char *text, double *lo, double *hi, pr_err *err) {
    if (!text || !*text)
        return pr_err_set(err, PR_ERR_PARSE, "expected LO,HI (e.g. 0.8,1.25), got nothing");
    char *end;
    errno = 0;
    double a = strtod(text, &end);
    if (end == text || *end != ',')
        return pr_err_set(err, PR_ERR_PARSE, "expected LO,HI (e.g. 0.8,1.25), got '%.64s'", text);
    const char *second = end + 1;
    double b = strtod(second, &end);
    if (end == second || *end)
        return pr_err_set(err, PR_ERR_PARSE, "expected LO,HI (e.g. 0.8,1.25), got '%.64s'", text);
    if (!isfinite(a) || !isfinite(b) || !(a > 0) || !(a <= b))
        return pr_err_set(err, PR_ERR_PARSE, "'%.64s': need finite bounds with 0 < LO <= HI", text);
    *lo = a;
    *hi = b;
    return PR_OK;
}

/* ---------------------------------------------------------------- history */

typedef struct id_stack {
    char (*v)[PR_REGISTRY_ID_MAX];
    size_t n, cap;
} id_stack;

static int stack_push(id_stack *s, const char *id) {
    if (s->n == s->cap) {
        size_t c = s->cap ? s->cap * 2 : 16;
        char(*nv)[PR_REGISTRY_ID_MAX] = realloc(s->v, c * sizeof *nv);
        if (!nv) return -1;
        s->v = nv;
        s->cap = c;
    }
    snprintf(s->v[s->n++], PR_REGISTRY_ID_MAX, "%s", id);
    return 0;
}

/* "v" and 6..12 digits, as the registry names versions. */
static int is_version_id(const char *s) {
    size_t n = 0;
    if (!s || s[0] != 'v') return 0;
    for (const char *p = s + 1; *p; p++, n++)
        if (*p < '0' || *p > '9') return 0;
    return n >= 6 && n <= 12;
}

static void set_id(char *dst, const char *src) { snprintf(dst, PR_REGISTRY_ID_MAX, "%s", src ? src : ""); }

pr_status pr_retrain_last_move(const char *history, size_t len, const char *alias,
                               pr_retrain_move *out, pr_err *err) {
    memset(out, 0, sizeof *out);
    id_stack st = {0};
    int found = 0;
    pr_status s = PR_OK;
    const char *p = history, *end = history + len;
    while (p < end && s == PR_OK) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        json_t *j = le > p ? json_loadb(p, (size_t)(le - p), 0, NULL) : NULL;
        p = nl ? nl + 1 : end;
        if (!json_is_object(j)) {
            json_decref(j);
            continue;
        }
        const char *op = json_string_value(json_object_get(j, "op"));
        const char *al = json_string_value(json_object_get(j, "alias"));
        const char *ver = json_string_value(json_object_get(j, "version"));
        double t = json_number_value(json_object_get(j, "time"));
        if (!op || !al || !is_version_id(ver) || strcmp(al, alias)) {
            json_decref(j);
            continue;
        }
        if (!strcmp(op, "alias") || !strcmp(op, "rollback")) {
            if (!strcmp(op, "rollback")) {
                while (st.n && strcmp(st.v[st.n - 1], ver)) st.n--;
                if (!st.n && stack_push(&st, ver)) s = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
            } else if (stack_push(&st, ver)) {
                s = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
            }
            found = 1;
            snprintf(out->op, sizeof out->op, "%s", op);
            set_id(out->version, ver);
            set_id(out->previous, st.n > 1 ? st.v[st.n - 2] : "");
            out->at_ms = isfinite(t) && t > 0 && t < 1e13 ? (int64_t)(t * 1000.0) : 0;
            out->at_from_gate = 0;
        } else if (!strcmp(op, "gate") && found && !strcmp(out->op, "alias") &&
                   !strcmp(out->version, ver)) {
            const char *d = json_string_value(json_object_get(j, "decision"));
            json_t *at = json_object_get(j, "at_ms");
            if (d && !strcmp(d, "promoted") && json_is_integer(at) && json_integer_value(at) > 0) {
                out->at_ms = (int64_t)json_integer_value(at);
                out->at_from_gate = 1;
            }
        }
        json_decref(j);
    }
    free(st.v);
    if (s != PR_OK) return s;
    if (!found) return pr_err_set(err, PR_ERR_NOTFOUND, "alias '%s' never moved", alias);
    return PR_OK;
}

/* ---------------------------------------------------------------- the check */

static pr_status finish(pr_retrain_result *res, json_t *line, pr_status s) {
    json_object_set_new(line, "decision", json_string(pr_retrain_decision_name(res->decision)));
    json_object_set_new(line, "seconds", json_real(res->seconds_total));
    res->json = json_dumps(line, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(line);
    return s;
}

pr_status pr_retrain_check_probation(pr_registry *reg, const pr_retrain_opts *o,
                                     pr_retrain_result *res, pr_err *err) {
    memset(res, 0, sizeof *res);
    res->decision = PR_RETRAIN_NONE;
    double t0 = pr_now();
    const char *alias = o->alias ? o->alias : "production";
    json_t *line = json_object();
    json_object_set_new(line, "check", json_string("probation"));
    json_object_set_new(line, "alias", json_string(alias));
    json_object_set_new(line, "at_ms", json_integer(o->now_ms));
    char iso[32], why[600];
    json_object_set_new(line, "at", json_string(pr__ct_iso(o->now_ms, iso, sizeof iso)));
    if (o->probation_ms <= 0) {
        json_object_set_new(line, "reason", json_string("probation is off"));
        return finish(res, line, PR_OK);
    }
    if (o->now_ms <= 0 || !o->events_uri) {
        res->decision = PR_RETRAIN_ERROR;
        pr_status s = pr_err_set(err, PR_ERR_INVALID, "probation: needs the time and an event log");
        json_object_set_new(line, "reason", json_string(err->msg));
        return finish(res, line, s);
    }
    char *hist = NULL;
    size_t hlen = 0;
    pr_retrain_move mv;
    pr_status s = pr_registry_history(reg, &hist, &hlen, err);
    if (s == PR_OK) s = pr_retrain_last_move(hist, hlen, alias, &mv, err);
    free(hist);
    if (s == PR_ERR_NOTFOUND) {
        json_object_set_new(line, "reason", json_string(err->msg));
        return finish(res, line, PR_OK);
    }
    if (s != PR_OK) {
        res->decision = PR_RETRAIN_ERROR;
        json_object_set_new(line, "reason", json_string(err->msg));
        return finish(res, line, s);
    }
    set_id(res->production, mv.version);
    json_object_set_new(line, "production", json_string(mv.version));
    json_object_set_new(line, "predecessor", mv.previous[0] ? json_string(mv.previous) : json_null());
    int64_t moved_at = o->moved_at_ms > 0 ? o->moved_at_ms : mv.at_ms;
    json_object_set_new(line, "moved_at_ms", json_integer(moved_at));
    json_object_set_new(line, "moved_at_from", json_string(o->moved_at_ms > 0 ? "--moved-at" : mv.at_from_gate ? "the retrain cycle's time" : "the history's clock"));
    if (strcmp(mv.op, "alias")) {
        snprintf(why, sizeof why, "the last move of '%s' was a rollback (to %s): no probation", alias, mv.version);
        json_object_set_new(line, "reason", json_string(why));
        return finish(res, line, PR_OK);
    }
    if (!mv.previous[0]) {
        snprintf(why, sizeof why, "'%s' (%s) has no predecessor to go back to", alias, mv.version);
        json_object_set_new(line, "reason", json_string(why));
        return finish(res, line, PR_OK);
    }
    if (o->now_ms - moved_at >= o->probation_ms) {
        snprintf(why, sizeof why, "probation over: %s moved %.1f h before now", mv.version,
                 (double)(o->now_ms - moved_at) / 3.6e6);
        json_object_set_new(line, "reason", json_string(why));
        return finish(res, line, PR_OK);
    }
    /* Still the target? (someone may have moved it since the history was read) */
    char cur[PR_REGISTRY_ID_MAX], pp[PR_REGISTRY_PATH_MAX], qp[PR_REGISTRY_PATH_MAX],
        prev_id[PR_REGISTRY_ID_MAX];
    if ((s = pr_registry_resolve(reg, alias, cur, pp, err)) != PR_OK ||
        (s = pr_registry_resolve(reg, mv.previous, prev_id, qp, err)) != PR_OK) {
        res->decision = PR_RETRAIN_ERROR;
        json_object_set_new(line, "reason", json_string(err->msg));
        return finish(res, line, s);
    }
    if (strcmp(cur, mv.version)) {
        snprintf(why, sizeof why, "'%s' names %s now, not %s: checked at the next cycle", alias, cur, mv.version);
        json_object_set_new(line, "reason", json_string(why));
        return finish(res, line, PR_OK);
    }
    res->decision = PR_RETRAIN_KEEP;
    int64_t lag = o->label_lag_ms >= 0 ? o->label_lag_ms : (o->window_ms ? o->window_ms : 7200000);
    int64_t to = o->now_ms - lag;
    json_t *w = json_object();
    json_object_set_new(w, "from_ms", json_integer(moved_at));
    json_object_set_new(w, "to_ms", json_integer(to));
    json_object_set_new(line, "window", w);
    if (to <= moved_at) {
        json_object_set_new(line, "reason", json_string("no matured impressions since the move yet"));
        res->seconds_total = pr_now() - t0;
        return finish(res, line, PR_OK);
    }
    pr_model *prod = NULL, *prev = NULL;
    pr_spec *spec = NULL;
    char workdir[CT_PATH_MAX] = "", cache[CT_PATH_MAX];
    pr_metrics_report pr, qr;
    uint64_t nf1 = 0, nf2 = 0;
    pr_fs_build_stats bst;
    if ((s = pr_model_load(pp, &prod, err)) != PR_OK || (s = pr_model_load(qp, &prev, err)) != PR_OK)
        goto fail;
    /* Built with production's own spec, so it scores on its featurization;
     * the given spec when the embedded one has no store sections. */
    const char *y = pr_model_spec(prod);
    if (y && pr_spec_parse(y, strlen(y), mv.version, &spec, err) != PR_OK) spec = NULL;
    if ((s = pr__ct_workdir(reg, workdir, err)) != PR_OK) {
        workdir[0] = '\0';
        goto fail;
    }
    snprintf(cache, sizeof cache, "%s/probation.pcache", workdir);
    pr_fs_build_output out = {cache, NULL, moved_at, to};
    s = spec ? pr__ct_build(o, spec, &out, 1, &bst, err)
             : pr_err_set(err, PR_ERR_SPEC, "%s: no usable embedded spec", mv.version);
    if (s == PR_ERR_SPEC && o->spec_path) {
        pr_spec_free(spec);
        spec = NULL;
        if ((s = pr_spec_load(o->spec_path, &spec, err)) == PR_OK)
            s = pr__ct_build(o, spec, &out, 1, &bst, err);
    }
    if (s != PR_OK) goto fail;
    pr_status s1 = pr__ct_score(prod, cache, &pr, &nf1, err);
    if (s1 == PR_OK) s1 = pr__ct_score(prev, cache, &qr, &nf2, err);
    if (s1 == PR_ERR_SPEC) {
        snprintf(why, sizeof why, "%s and %s featurize differently: not compared (%.300s)",
                 mv.version, prev_id, err->msg);
        json_object_set_new(line, "reason", json_string(why));
        goto out;
    }
    if ((s = s1) != PR_OK) goto fail;
    json_object_set_new(line, "production_metrics", pr__ct_metrics_json(&pr));
    json_object_set_new(line, "predecessor_metrics", pr__ct_metrics_json(&qr));
    if (pr.rows < o->min_examples || !(pr.positives > 0) || !isfinite(pr.ne) || !isfinite(qr.ne)) {
        snprintf(why, sizeof why, "too few matured impressions since the move: %llu (%g clicks), "
                 "at least %llu with clicks needed", (unsigned long long)pr.rows, pr.positives,
                 (unsigned long long)o->min_examples);
        json_object_set_new(line, "reason", json_string(why));
        goto out;
    }
    if (pr.ne > qr.ne + o->rollback_margin) {
        char at[32];
        snprintf(why, sizeof why,
                 "probation: %s's live NE %.5f is worse than its predecessor %s's %.5f by "
                 "%.5f > %g on %llu impressions since %s", mv.version, pr.ne, prev_id, qr.ne,
                 pr.ne - qr.ne, o->rollback_margin, (unsigned long long)pr.rows,
                 pr__ct_iso(moved_at, at, sizeof at));
        char back[PR_REGISTRY_ID_MAX];
        if ((s = pr_registry_rollback(reg, alias, why, back, err)) != PR_OK) goto fail;
        res->decision = PR_RETRAIN_ROLLBACK;
        set_id(res->version, back);
        json_object_set_new(line, "version", json_string(back));
    } else {
        snprintf(why, sizeof why, "%s's live NE %.5f is within %g of %s's %.5f on %llu impressions",
                 mv.version, pr.ne, o->rollback_margin, prev_id, qr.ne, (unsigned long long)pr.rows);
    }
    json_object_set_new(line, "reason", json_string(why));
out:
    pr_model_free(prod);
    pr_model_free(prev);
    pr_spec_free(spec);
    pr__ct_workdir_remove(workdir);
    res->seconds_total = pr_now() - t0;
    return finish(res, line, PR_OK);
fail:
    pr_model_free(prod);
    pr_model_free(prev);
    pr_spec_free(spec);
    pr__ct_workdir_remove(workdir);
    res->decision = PR_RETRAIN_ERROR;
    res->seconds_total = pr_now() - t0;
    json_object_set_new(line, "reason", json_string(err->msg));
    return finish(res, line, s);
}
