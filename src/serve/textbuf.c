/*
 * textbuf.c: the bounded text buffer the server writes every reply into,
 * JSON string escaping, number formatting, and the walker over a validated
 * JSON array's elements.
 *
 * Ownership: a pr__tb owns its malloc'd bytes; pr__tb_free releases them.
 * Invariant: len < cap whenever p is non-NULL, and p[len] == '\0', so the
 * text can be handed on as a C string.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve_int.h"

void pr__tb_init(pr__tb *b, size_t max) {
    memset(b, 0, sizeof *b);
    b->max = max;
}

void pr__tb_free(pr__tb *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* Makes room for n more bytes plus the NUL; 0 if the ceiling or malloc
 * refuses (then `over` is set). */
static int tb_reserve(pr__tb *b, size_t n) {
    if (b->over) return 0;
    if (b->len + n + 1 <= b->cap) return 1;
    if (b->len + n + 1 > b->max) {
        b->over = 1;
        return 0;
    }
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + n + 1) cap *= 2;
    if (cap > b->max) cap = b->max;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->over = 1;
        return 0;
    }
    b->p = p;
    b->cap = cap;
    return 1;
}

void pr__tb_put(pr__tb *b, const char *s, size_t n) {
    if (!tb_reserve(b, n)) return;
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void pr__tb_puts(pr__tb *b, const char *s) { pr__tb_put(b, s, strlen(s)); }

void pr__tb_printf(pr__tb *b, const char *fmt, ...) {
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->over = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        pr__tb_put(b, small, (size_t)n);
        return;
    }
    if (!tb_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void pr__tb_json_str(pr__tb *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    pr__tb_put(b, "\"", 1);
    size_t run = 0; /* bytes copied verbatim in one go */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        pr__tb_put(b, s + run, i - run);
        run = i + 1;
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        switch (c) {
        case '"': pr__tb_put(b, "\\\"", 2); break;
        case '\\': pr__tb_put(b, "\\\\", 2); break;
        case '\n': pr__tb_put(b, "\\n", 2); break;
        case '\r': pr__tb_put(b, "\\r", 2); break;
        case '\t': pr__tb_put(b, "\\t", 2); break;
        default: pr__tb_put(b, esc, 6); break;
        }
    }
    pr__tb_put(b, s + run, n - run);
    pr__tb_put(b, "\"", 1);
}

void pr__tb_json_num(pr__tb *b, double x) {
    if (!isfinite(x)) {
        pr__tb_put(b, "null", 4);
        return;
    }
    /* The shortest of %.15g / %.17g that reads back as x: exact, and short
     * for the common case. */
    char t[32];
    int n = snprintf(t, sizeof t, "%.15g", x);
    if (strtod(t, NULL) != x) n = snprintf(t, sizeof t, "%.17g", x);
    pr__tb_put(b, t, (size_t)n);
}

void pr__tb_prob(pr__tb *b, double p) {
    if (!(p >= 0.0 && p < 1.0)) { /* 1, or not a probability: the general path */
        pr__tb_json_num(b, p);
        return;
    }
    /* Fixed point, 12 decimals, integer arithmetic: 20x cheaper than
     * snprintf("%.17g") + strtod, which made serializing 100 candidates
     * cost more than scoring them. */
    uint64_t v = (uint64_t)(p * 1e12 + 0.5);
    if (v >= 1000000000000ull) { /* rounds up to 1 */
        pr__tb_put(b, "1", 1);
        return;
    }
    char t[16] = "0.";
    int n = 12;
    while (n > 1 && v % 10 == 0) { /* trailing zeros */
        v /= 10;
        n--;
    }
    for (int i = n - 1; i >= 0; i--) {
        t[2 + i] = (char)('0' + v % 10);
        v /= 10;
    }
    pr__tb_put(b, t, 2 + (size_t)n);
}

void pr__json_error(pr__tb *out, const char *msg) {
    out->len = 0;
    out->over = 0;
    if (out->p) out->p[0] = '\0';
    pr__tb_puts(out, "{\"error\":");
    pr__tb_json_str(out, msg, strlen(msg));
    pr__tb_puts(out, "}\n");
}

/* Skips whitespace as RFC 8259 defines it. */
static size_t skip_ws(pr_bytes t, size_t i) {
    while (i < t.len && (t.ptr[i] == ' ' || t.ptr[i] == '\t' || t.ptr[i] == '\n' || t.ptr[i] == '\r'))
        i++;
    return i;
}

int pr__json_array_next(pr_bytes arr, size_t *pos, pr_bytes *elem) {
    size_t i = *pos;
    if (i == 0) { /* step over '[' */
        i = skip_ws(arr, 0);
        if (i >= arr.len || arr.ptr[i] != '[') return 0;
        i++;
    }
    i = skip_ws(arr, i);
    if (i < arr.len && arr.ptr[i] == ',') i = skip_ws(arr, i + 1);
    if (i >= arr.len || arr.ptr[i] == ']') {
        *pos = arr.len;
        return 0;
    }
    /* One element: a string, a nested value, or a literal/number up to the
     * next ',' or ']' at depth 0. The text is valid JSON (scanned before),
     * so brackets balance and strings close. */
    size_t start = i;
    int depth = 0;
    for (; i < arr.len; i++) {
        char c = arr.ptr[i];
        if (c == '"') {
            for (i++; i < arr.len && arr.ptr[i] != '"'; i++)
                if (arr.ptr[i] == '\\') i++;
            continue;
        }
        if (c == '[' || c == '{') depth++;
        else if (c == ']' || c == '}') {
            if (depth == 0) break;
            depth--;
        } else if (c == ',' && depth == 0) break;
    }
    if (i > arr.len) i = arr.len; /* never past the text, even if not JSON */
    size_t end = i;
    while (end > start && (arr.ptr[end - 1] == ' ' || arr.ptr[end - 1] == '\t' ||
                           arr.ptr[end - 1] == '\n' || arr.ptr[end - 1] == '\r'))
        end--;
    *elem = pr_bytes_of(arr.ptr + start, end - start);
    *pos = i;
    return 1;
}
