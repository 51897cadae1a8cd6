/*
 * transform.c: the value-level pieces of featurization: number parsing,
 * log-bucket and bin codes, and the token hashing scheme described in
 * feature_int.h.
 *
 * Everything here is pure (no state, no allocation) and deterministic across
 * machines: integers are hashed as explicit little-endian bytes, and the
 * floating-point steps (log, comparisons with edges) are IEEE-754 double
 * operations whose results do not depend on the platform for the inputs a
 * reader can produce.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "feature/feature_hash.h"
#include "feature/feature_int.h"

uint64_t pr__field_seed(const char *name, size_t len, uint64_t spec_seed) {
    return pr_hash64(name, len, spec_seed);
}

uint64_t pr__cross_seed(const uint64_t *member_seeds, uint32_t arity,
                        uint64_t spec_seed) {
    unsigned char b[8 * PR__CROSS_MAX_ARITY];
    for (uint32_t i = 0; i < arity; i++)
        pr__put_le64(b + 8 * i, member_seeds[i]);
    return pr_hash64(b, 8 * (size_t)arity, spec_seed ^ PR__CROSS_DOMAIN);
}

/* Criteo 2014 winners' transform: values above 2 go to floor(ln(x)^2), the
 * small ones stay themselves. The tag keeps bucket 2 (x in [4.1, 5.6)) apart
 * from the plain value 2, which the original Python conflated. */
int64_t pr__log_bucket_code(double x) {
    if (x > 2.0) {
        double l = log(x);
        return PR__LOG_TAG + (int64_t)floor(l * l);
    }
    double f = floor(x);
    if (f < (double)PR__CODE_MIN) return PR__CODE_MIN;
    return (int64_t)f;
}

uint32_t pr__bin_of(const double *edges, uint32_t n, double x) {
    uint32_t lo = 0, hi = n; /* answer in [lo, hi] */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (edges[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

pr__num_result pr__parse_number(const char *p, size_t len, double *x,
                                int *is_int, int64_t *i) {
    while (len && is_blank(p[0])) p++, len--;
    while (len && is_blank(p[len - 1])) len--;
    *is_int = 0;
    if (len == 0) return PR__NUM_MISSING;

    /* Fast path: [+-]digits, at most 18 digits so it cannot overflow. */
    size_t k = 0;
    int neg = 0;
    if (p[0] == '-' || p[0] == '+') neg = p[k++] == '-';
    size_t digits = len - k;
    if (digits > 0 && digits <= 18) {
        int64_t v = 0;
        size_t j = k;
        for (; j < len; j++) {
            unsigned d = (unsigned)(unsigned char)p[j] - '0';
            if (d > 9) break;
            v = v * 10 + (int64_t)d;
        }
        if (j == len) {
            *i = neg ? -v : v;
            *x = (double)*i;
            *is_int = 1;
            return PR__NUM_OK;
        }
    }

    /* General path: strtod needs a NUL-terminated copy. No number worth
     * reading is longer than this; an embedded NUL stops strtod early and is
     * caught by the end check. */
    char buf[128];
    if (len >= sizeof buf) return PR__NUM_BAD;
    memcpy(buf, p, len);
    buf[len] = '\0';
    char *end = NULL;
    double v = strtod(buf, &end);
    if (end != buf + len) return PR__NUM_BAD;
    if (!isfinite(v)) return PR__NUM_MISSING;
    *x = v;
    return PR__NUM_OK;
}

void pr__render_bytes(char *dst, size_t cap, const char *p, size_t len) {
    static const char hex[] = "0123456789abcdef";
    const size_t shown_max = 40;
    size_t o = 0;
    if (cap == 0) return;
    for (size_t k = 0; k < len && k < shown_max; k++) {
        unsigned char c = (unsigned char)p[k];
        if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') {
            if (o + 1 >= cap) break;
            dst[o++] = (char)c;
        } else {
            if (o + 4 >= cap) break;
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[c >> 4];
            dst[o++] = hex[c & 15];
        }
    }
    if (len > shown_max && o + 3 < cap) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
}
