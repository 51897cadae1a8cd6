/*
 * reader_value.c: parsers for the few values a reader interprets itself
 * (labels, weights, timestamps, sparse indices and values). Everything else
 * is passed through as text for the featurizer to decide.
 *
 * All functions take a slice that is not NUL-terminated and must match it
 * whole: no leading or trailing space, no trailing junk. Numbers longer than
 * NUM_MAX bytes are refused rather than copied to the heap. strtod is only
 * used under the C locale (pronto never calls setlocale), so '.' is the
 * decimal point.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "data/reader_int.h"

#define NUM_MAX 127

static int is_digit(char c) { return c >= '0' && c <= '9'; }

int pr__parse_double(const char *p, size_t n, double *out) {
    char tmp[NUM_MAX + 1];
    if (n == 0 || n > NUM_MAX) return -1;
    /* strtod skips leading space; we do not accept it. */
    if (!(is_digit(p[0]) || p[0] == '-' || p[0] == '+' || p[0] == '.'))
        return -1;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    char *end;
    double v = strtod(tmp, &end);
    if (end != tmp + n || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

int pr__parse_float(const char *p, size_t n, float *out) {
    double d;
    if (pr__parse_double(p, n, &d) != 0) return -1;
    if (fabs(d) > FLT_MAX) return -1; /* would be inf as a float */
    *out = (float)d;
    return 0;
}

int pr__parse_int64(const char *p, size_t n, int64_t *out) {
    size_t i = 0;
    int neg = 0;
    if (n > 0 && p[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i == n) return -1;
    /* Accumulate as a negative number so INT64_MIN fits. */
    int64_t v = 0;
    for (; i < n; i++) {
        if (!is_digit(p[i])) return -1;
        int d = p[i] - '0';
        if (v < (INT64_MIN + d) / 10) return -1;
        v = v * 10 - d;
    }
    if (!neg) {
        if (v == INT64_MIN) return -1;
        v = -v;
    }
    *out = v;
    return 0;
}

int pr__check_int64(const char *p, size_t n) {
    /* Fast path for the common short case: digits only, cannot overflow. */
    size_t i = (n > 0 && p[0] == '-') ? 1 : 0;
    if (i == n || n - i > 18) {
        int64_t v;
        return pr__parse_int64(p, n, &v);
    }
    for (; i < n; i++)
        if (!is_digit(p[i])) return -1;
    return 0;
}

int pr__parse_u32(const char *p, size_t n, uint32_t *out) {
    if (n == 0 || n > 10) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(p[i])) return -1;
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    if (v > UINT32_MAX) return -1;
    *out = (uint32_t)v;
    return 0;
}

int pr__parse_label(const char *p, size_t n, int allow_bool, float *out) {
    if (n == 1 && (p[0] == '0' || p[0] == '1')) {
        *out = (float)(p[0] - '0');
        return 0;
    }
    if (allow_bool) {
        if (n == 4 && strncasecmp(p, "true", 4) == 0) {
            *out = 1.0f;
            return 0;
        }
        if (n == 5 && strncasecmp(p, "false", 5) == 0) {
            *out = 0.0f;
            return 0;
        }
    }
    double d;
    if (pr__parse_double(p, n, &d) != 0) return -1;
    if (d == 1.0)
        *out = 1.0f;
    else if (d == 0.0 || d == -1.0)
        *out = 0.0f;
    else
        return -1;
    return 0;
}

/* Reads exactly k digits at *pos into *v. */
static int digits(const char *p, size_t n, size_t *pos, int k, int *v) {
    if (*pos + (size_t)k > n) return -1;
    int x = 0;
    for (int i = 0; i < k; i++) {
        char c = p[*pos + (size_t)i];
        if (!is_digit(c)) return -1;
        x = x * 10 + (c - '0');
    }
    *pos += (size_t)k;
    *v = x;
    return 0;
}

static int expect(const char *p, size_t n, size_t *pos, char c) {
    if (*pos >= n || p[*pos] != c) return -1;
    (*pos)++;
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m) {
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : dm[m - 1];
}

int pr__parse_ts(const char *p, size_t n, int64_t *out) {
    if (n > 0 && (n < 10 || p[4] != '-')) return pr__parse_int64(p, n, out);
    size_t pos = 0;
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
    if (digits(p, n, &pos, 4, &y) || expect(p, n, &pos, '-') ||
        digits(p, n, &pos, 2, &mo) || expect(p, n, &pos, '-') ||
        digits(p, n, &pos, 2, &d))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) return -1;
    if (pos < n && (p[pos] == 'T' || p[pos] == 't' || p[pos] == ' ')) {
        pos++;
        if (digits(p, n, &pos, 2, &h) || expect(p, n, &pos, ':') ||
            digits(p, n, &pos, 2, &mi) || expect(p, n, &pos, ':') ||
            digits(p, n, &pos, 2, &s))
            return -1;
        if (h > 23 || mi > 59 || s > 60) return -1;
        if (pos < n && p[pos] == '.') { /* fraction: dropped */
            pos++;
            size_t f0 = pos;
            while (pos < n && is_digit(p[pos]))
                pos++;
            if (pos == f0) return -1;
        }
    }
    int64_t offset = 0;
    if (pos < n && (p[pos] == 'Z' || p[pos] == 'z')) {
        pos++;
    } else if (pos < n && (p[pos] == '+' || p[pos] == '-')) {
        int sign = p[pos] == '-' ? -1 : 1, oh = 0, om = 0;
        pos++;
        if (digits(p, n, &pos, 2, &oh)) return -1;
        if (pos < n && p[pos] == ':') pos++;
        if (digits(p, n, &pos, 2, &om) || oh > 23 || om > 59) return -1;
        offset = sign * (int64_t)(oh * 3600 + om * 60);
    }
    if (pos != n) return -1;
    *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - offset;
    return 0;
}
