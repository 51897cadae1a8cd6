/*
 * profile_render.c: a profile as text for `pronto inspect --profile`: a
 * human table (one line per column, the top values or the moments) or one
 * JSON object with every bin (the form a report or a dashboard reads).
 */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "monitor/monitor_int.h"

typedef struct tbuf {
    char *p;
    size_t len, cap;
    int failed;
} tbuf;

static void tprintf(tbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tprintf(tbuf *b, const char *fmt, ...) {
    if (b->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + (size_t)n + 1) cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
}

/* A display copy of a value: control bytes and quotes become '?'. */
static void printable(char *dst, const char *src) {
    size_t i = 0;
    for (; src[i]; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = c < 0x20 || c == 0x7f || c == '"' ? '?' : (char)c;
    }
    dst[i] = '\0';
}

static void format_time(int64_t t, char *out, size_t cap) {
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, cap, "%lld", (long long)t);
}

static double sd_of(const pr_sketch *s) {
    return s->n_finite ? sqrt(s->m2 / (double)s->n_finite) : 0;
}

static void text_sketch(tbuf *b, const char *name, const pr_sketch *s) {
    const pr_sketch_shape *sh = s->shape;
    double miss = s->n ? 100.0 * (double)(s->n_missing + s->n_nonfinite) / (double)s->n : 0;
    tprintf(b, "  %-20s %-4s %10llu %7.2f%% ", name,
            sh->kind == PR_SKETCH_NUMERIC ? "num" : "cat", (unsigned long long)s->n, miss);
    if (sh->kind == PR_SKETCH_NUMERIC) {
        if (!s->n_finite) {
            tprintf(b, "no finite value\n");
            return;
        }
        tprintf(b, "mean %.4g sd %.4g min %.4g max %.4g, %u bins", s->mean, sd_of(s), s->min,
                s->max, sh->n_bins);
        if (s->n_nonfinite) tprintf(b, ", %llu NaN/inf", (unsigned long long)s->n_nonfinite);
        tprintf(b, "\n");
        return;
    }
    uint64_t present = s->n - s->n_missing;
    tprintf(b, "~%llu distinct", (unsigned long long)sh->distinct_est);
    if (sh->bloom_fp > 0.5) tprintf(b, " (filter saturated)");
    for (uint32_t t = 0; t < sh->n_top && t < 3; t++) {
        char v[PR_SKETCH_VALUE_MAX + 1];
        printable(v, sh->top_value[t]);
        tprintf(b, ", \"%s\" %.1f%%", v,
                present ? 100.0 * (double)s->counts[t] / (double)present : 0);
    }
    if (sh->n_top)
        tprintf(b, ", rest %.1f%%",
                present ? 100.0 * (double)s->counts[sh->n_top] / (double)present : 0);
    tprintf(b, "\n");
}

static json_t *json_sketch(const char *name, const pr_sketch *s) {
    const pr_sketch_shape *sh = s->shape;
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(name));
    json_object_set_new(o, "kind", json_string(sh->kind == PR_SKETCH_NUMERIC ? "numeric"
                                                                              : "categorical"));
    json_object_set_new(o, "n", json_integer((json_int_t)s->n));
    json_object_set_new(o, "missing", json_integer((json_int_t)s->n_missing));
    json_object_set_new(o, "nonfinite", json_integer((json_int_t)s->n_nonfinite));
    json_object_set_new(o, "missing_rate",
                        json_real(s->n ? (double)(s->n_missing + s->n_nonfinite) / (double)s->n : 0));
    json_t *counts = json_array();
    for (uint32_t i = 0; i < sh->n_bins; i++)
        json_array_append_new(counts, json_integer((json_int_t)s->counts[i]));
    if (sh->kind == PR_SKETCH_NUMERIC) {
        if (s->n_finite) {
            json_object_set_new(o, "mean", json_real(s->mean));
            json_object_set_new(o, "sd", json_real(sd_of(s)));
            json_object_set_new(o, "min", json_real(s->min));
            json_object_set_new(o, "max", json_real(s->max));
        }
        json_t *edges = json_array();
        for (uint32_t i = 0; i < sh->n_edges; i++) json_array_append_new(edges, json_real(sh->edges[i]));
        json_object_set_new(o, "edges", edges);
        json_object_set_new(o, "counts", counts);
        return o;
    }
    json_t *top = json_array();
    uint64_t present = s->n - s->n_missing;
    for (uint32_t t = 0; t < sh->n_top; t++) {
        json_t *e = json_object();
        json_t *v = json_string(sh->top_value[t]);
        if (!v) {   /* not UTF-8 (or cut inside a sequence at 32 bytes) */
            char buf[PR_SKETCH_VALUE_MAX + 1];
            printable(buf, sh->top_value[t]);
            for (char *c = buf; *c; c++)
                if ((unsigned char)*c >= 0x80) *c = '?';
            v = json_string(buf);
        }
        json_object_set_new(e, "value", v);
        json_object_set_new(e, "count", json_integer((json_int_t)s->counts[t]));
        json_object_set_new(e, "share", json_real(present ? (double)s->counts[t] / (double)present : 0));
        json_array_append_new(top, e);
    }
    json_object_set_new(o, "top", top);
    json_object_set_new(o, "rest", json_integer((json_int_t)s->counts[sh->n_top]));
    json_object_set_new(o, "distinct_estimate", json_integer((json_int_t)sh->distinct_est));
    json_object_set_new(o, "filter_bits", json_integer(sh->bloom_log2 ? (json_int_t)1 << sh->bloom_log2 : 0));
    json_object_set_new(o, "filter_fp", json_real(sh->bloom_fp));
    json_decref(counts);
    return o;
}

pr_status pr_profile_render(const pr_profile *p, int json, char **out, pr_err *err) {
    *out = NULL;
    const pr_profile_summary *s = &p->sum;
    const pr_sketch *pred = &p->sketches[p->n_columns];
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "rows", json_integer((json_int_t)s->rows));
        json_object_set_new(o, "labeled", json_integer((json_int_t)s->labeled));
        json_object_set_new(o, "clicks", json_integer((json_int_t)s->clicks));
        if (s->labeled) json_object_set_new(o, "base_rate", json_real(s->base_rate));
        if (s->ts_min || s->ts_max) {
            json_object_set_new(o, "ts_min", json_integer(s->ts_min));
            json_object_set_new(o, "ts_max", json_integer(s->ts_max));
        }
        json_object_set_new(o, "score_source", json_string(p->score_source));
        json_object_set_new(o, "prediction", json_sketch("prediction", pred));
        json_t *cols = json_array();
        for (uint32_t i = 0; i < p->n_columns; i++)
            json_array_append_new(cols, json_sketch(p->names[i], &p->sketches[i]));
        json_object_set_new(o, "columns", cols);
        char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
        json_decref(o);
        if (!text) return pr_err_set(err, PR_ERR_NOMEM, "profile: out of memory");
        *out = text;
        return PR_OK;
    }
    tbuf b = {NULL, 0, 0, 0};
    tprintf(&b, "reference profile: %llu rows", (unsigned long long)s->rows);
    if (s->labeled)
        tprintf(&b, ", %llu labeled, base rate %.5f", (unsigned long long)s->labeled, s->base_rate);
    if (s->ts_min || s->ts_max) {
        char a[32], z[32];
        format_time(s->ts_min, a, sizeof a);
        format_time(s->ts_max, z, sizeof z);
        tprintf(&b, ", time %s .. %s", a, z);
    }
    tprintf(&b, "\n");
    if (pred->n) {
        tprintf(&b, "prediction (%s): n %llu, mean %.5f sd %.5f min %.5f max %.5f, %u bins\n",
                p->score_source, (unsigned long long)pred->n, pred->mean, sd_of(pred), pred->min,
                pred->max, pred->shape->n_bins);
    } else {
        tprintf(&b, "prediction: no scores recorded\n");
    }
    tprintf(&b, "  %-20s %-4s %10s %8s  %s\n", "column", "kind", "n", "missing", "distribution");
    for (uint32_t i = 0; i < p->n_columns; i++) text_sketch(&b, p->names[i], &p->sketches[i]);
    if (b.failed) {
        free(b.p);
        return pr_err_set(err, PR_ERR_NOMEM, "profile: out of memory");
    }
    *out = b.p ? b.p : strdup("");
    return PR_OK;
}
