/*
 * report_buf.c: the drift report's output buffer and its escapes (HTML
 * text and attributes, JSON strings and numbers). A failed allocation is
 * sticky: later writes are dropped and pr__rb_finish reports it.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_int.h"
#include "base/utf8.h"

static int reserve(pr__rbuf *b, size_t more) {
    if (b->failed) return 0;
    if (b->n + more + 1 <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 1 << 16;
    while (cap < b->n + more + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->failed = 1;
        return 0;
    }
    b->p = p;
    b->cap = cap;
    return 1;
}

void pr__rb_put(pr__rbuf *b, const char *s, size_t n) {
    if (!reserve(b, n)) return;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

void pr__rb_str(pr__rbuf *b, const char *s) { pr__rb_put(b, s, strlen(s)); }

void pr__rb_printf(pr__rbuf *b, const char *fmt, ...) {
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= sizeof tmp) n = (int)sizeof tmp - 1; /* numbers and fixed words only */
    pr__rb_put(b, tmp, (size_t)n);
}

void pr__rb_html(pr__rbuf *b, const char *text) {
    const unsigned char *s = (const unsigned char *)(text ? text : "");
    size_t n = strlen((const char *)s);
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        const char *e = c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;"
                      : c == '"' ? "&quot;" : c == '\'' ? "&#39;" : NULL;
        if (e) {
            pr__rb_str(b, e);
            i++;
            continue;
        }
        size_t len = c < 0x20 || c == 0x7f ? 0 : pr__utf8_xml_len(s + i, n - i);
        if (len == 0) {
            pr__rb_put(b, "?", 1);
            i++;
        } else {
            pr__rb_put(b, (const char *)s + i, len);
            i += len;
        }
    }
}

void pr__rb_json(pr__rbuf *b, const char *text) {
    const unsigned char *s = (const unsigned char *)(text ? text : "");
    size_t n = strlen((const char *)s);
    pr__rb_put(b, "\"", 1);
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            pr__rb_put(b, e, 2);
            i++;
        } else if (c < 0x20) {
            pr__rb_printf(b, "\\u%04x", c);
            i++;
        } else {
            size_t len = pr__utf8_xml_len(s + i, n - i);
            if (len == 0) {
                pr__rb_put(b, "?", 1);
                i++;
            } else {
                pr__rb_put(b, (const char *)s + i, len);
                i += len;
            }
        }
    }
    pr__rb_put(b, "\"", 1);
}

void pr__rb_jnum(pr__rbuf *b, double v) {
    if (isfinite(v)) pr__rb_printf(b, "%.10g", v);
    else pr__rb_str(b, "null");
}

pr_status pr__rb_finish(pr__rbuf *b, char **out, size_t *len, pr_err *err) {
    if (b->failed || !reserve(b, 0)) {
        free(b->p);
        *out = NULL;
        *len = 0;
        return pr_err_set(err, PR_ERR_NOMEM, "report: out of memory");
    }
    b->p[b->n] = 0;
    *out = b->p;
    *len = b->n;
    return PR_OK;
}

pr_status pr_report_render(const pr_report *r, pr_report_format fmt, char **out, size_t *len,
                           pr_err *err) {
    if (fmt == PR_REPORT_JSON) return pr__report_json(r, out, len, err);
    return pr__report_html(r, out, len, err);
}
