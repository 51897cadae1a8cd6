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

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07;
    else return 0;
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
    if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
    if (cp == 0xFFFE || cp == 0xFFFF) return 0;
    return len;
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
        size_t len = c < 0x20 || c == 0x7f ? 0 : utf8_len(s + i, n - i);
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
            size_t len = utf8_len(s + i, n - i);
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
