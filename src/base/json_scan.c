/*
 * json_scan.c: one pass over one JSON object, extracting wanted top-level
 * keys (contract and accepted grammar in base/json_scan.h).
 *
 * Design. A recursive-descent validator over a byte cursor: each scan_*
 * function takes the position of a token and returns the position after
 * it, or NULL after recording the error (fail_*, kept cold and out of
 * line so the hot paths stay small). Nothing is built: values are slices
 * of the line. Nested containers recurse at most PR_JSON_DEPTH_MAX deep.
 *
 * Speed (~150 ns for a 176-byte event line with 10 wanted keys, against
 * ~3.3 us for jansson: bench/bench_json_scan.c). The work per line is a
 * chain of token boundaries, so each boundary is found in a few steps:
 *   - strings: the next special byte (quote, backslash, control character
 *     or non-ASCII byte) 16 bytes at a time with SSE2 where available
 *     (the last < 16 bytes of the line as the 16 ending at its end), a
 *     byte table otherwise; non-ASCII bytes then go through a full UTF-8
 *     check one sequence at a time;
 *   - digits: 8 bytes at a time (SWAR) on little-endian machines, and a
 *     wanted integer's value is computed the same way during the scan,
 *     off the cursor's dependency chain (converting its text afterwards
 *     costs the consumer more);
 *   - keys: a 256-slot table indexed by the length and the first byte,
 *     then two masked 64-bit compares (the first 16 bytes), memcmp beyond;
 *   - the top-level loop tries the expected byte first and skips
 *     whitespace only when there is some; numbers and strings are
 *     handled inline, other values through scan_value.
 * No allocation happens unless a wanted string has escapes (into the
 * caller's arena). The line is never read outside [line, line + len).
 *
 * Ownership. pr_json_keys owns its copies of the key names; values in
 * out borrow from the line or the arena (see the header).
 *
 * Invariants. The cursor is always within [begin, end]; a string body
 * handed to unescape() has been validated by scan_string(), so decoding
 * can neither fail nor grow (every escape shrinks or keeps its length).
 */
#include "base/json_scan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define IS_DIGIT(ch) ((unsigned)((ch) - '0') < 10u)
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

/* One wanted key, laid out for the compare in key_find: one cache line. */
typedef struct key_entry {
    uint64_t head[2];  /* first 16 bytes, zero padded */
    uint64_t mask[2];  /* 0xFF over the key's bytes among those 16 */
    uint32_t len;
    uint8_t next;      /* 1 + next key in the same bucket, 0 = none */
    char *text;        /* owned, NUL-terminated */
} key_entry;

struct pr_json_keys {
    uint32_t n;
    uint32_t len_max;
    uint8_t bucket[256];  /* key_hash -> 1 + first key, 0 = none */
    key_entry key[PR_JSON_KEYS_MAX];
};

/* ---------------------------------------------------------------- keys */

/* From the length and the first byte only: both are known early (the
 * first byte before the string is even scanned), which keeps the lookup
 * short. Keys sharing both share a bucket and are told apart by compare. */
static inline unsigned key_hash(const uint8_t *p, size_t n) {
    unsigned first = n ? p[0] : 0;
    return (first ^ (unsigned)(n * 29)) & 255u;
}

pr_status pr_json_keys_new(const char *const *keys, uint32_t n, pr_json_keys **out,
                           pr_err *err) {
    *out = NULL;
    if (n > PR_JSON_KEYS_MAX)
        return pr_err_set(err, PR_ERR_INVALID, "json keys: %u keys wanted, at most %d", n,
                          PR_JSON_KEYS_MAX);
    pr_json_keys *k = calloc(1, sizeof *k);
    if (!k) return pr_err_set(err, PR_ERR_NOMEM, "json keys: out of memory");
    pr_status s = PR_OK;
    for (uint32_t i = 0; i < n; i++) {
        if (!keys[i]) {
            s = pr_err_set(err, PR_ERR_INVALID, "json keys: key %u is NULL", i);
            goto fail;
        }
        size_t len = strlen(keys[i]);
        if (len > PR_JSON_KEY_LEN_MAX) {
            s = pr_err_set(err, PR_ERR_INVALID, "json keys: key %u is %zu bytes, at most %d", i,
                           len, PR_JSON_KEY_LEN_MAX);
            goto fail;
        }
        for (uint32_t j = 0; j < i; j++) {
            if (!strcmp(keys[i], keys[j])) {
                s = pr_err_set(err, PR_ERR_INVALID, "json keys: key \"%s\" wanted twice",
                               keys[i]);
                goto fail;
            }
        }
        key_entry *e = &k->key[i];
        if (!(e->text = malloc(len + 1))) {
            s = pr_err_set(err, PR_ERR_NOMEM, "json keys: out of memory");
            goto fail;
        }
        memcpy(e->text, keys[i], len + 1);
        k->n = i + 1;
        e->len = (uint32_t)len;
        if (len > k->len_max) k->len_max = (uint32_t)len;
        uint8_t head[16] = {0}, mask[16] = {0};
        memcpy(head, keys[i], len < 16 ? len : 16);
        memset(mask, 0xFF, len < 16 ? len : 16);
        memcpy(e->head, head, 16);
        memcpy(e->mask, mask, 16);
        unsigned h = key_hash((const uint8_t *)keys[i], len);
        e->next = k->bucket[h];
        k->bucket[h] = (uint8_t)(i + 1);
    }
    *out = k;
    return PR_OK;
fail:
    pr_json_keys_free(k);
    return s;
}

void pr_json_keys_free(pr_json_keys *k) {
    if (!k) return;
    for (uint32_t i = 0; i < k->n; i++) free(k->key[i].text);
    free(k);
}

uint32_t pr_json_keys_count(const pr_json_keys *k) { return k->n; }

/* The index of the wanted key equal to p[0..n), or -1. Reads at most 16
 * bytes from p, never past end. */
static inline int key_find(const pr_json_keys *k, const uint8_t *p, size_t n,
                           const uint8_t *end) {
    unsigned i = k->bucket[key_hash(p, n)];
    if (LIKELY(end - p >= 16)) {
        uint64_t a, b;
        memcpy(&a, p, 8);
        memcpy(&b, p + 8, 8);
        for (; i; i = k->key[i - 1].next) {
            const key_entry *e = &k->key[i - 1];
            if (((a & e->mask[0]) ^ e->head[0]) | ((b & e->mask[1]) ^ e->head[1]) |
                (e->len ^ n))
                continue;
            if (n <= 16 || memcmp(p + 16, e->text + 16, n - 16) == 0) return (int)(i - 1);
        }
        return -1;
    }
    for (; i; i = k->key[i - 1].next)
        if (k->key[i - 1].len == n && memcmp(p, k->key[i - 1].text, n) == 0) return (int)(i - 1);
    return -1;
}

/* ---------------------------------------------------------------- errors */

typedef struct scan_ctx {
    const uint8_t *begin, *end;
    pr_arena *arena;
    pr_err *err;
    pr_status status;
} scan_ctx;

static size_t column(const scan_ctx *c, const uint8_t *at) { return (size_t)(at - c->begin) + 1; }

__attribute__((cold, noinline, format(printf, 3, 4))) static const uint8_t *
fail_msg(scan_ctx *c, const uint8_t *at, const char *fmt, ...) {
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    c->status = pr_err_set(c->err, PR_ERR_PARSE, "column %zu: %s", column(c, at), what);
    return NULL;
}

/* "column N: expected WHAT, got 'x'" (or "byte 0xNN", "the end of the line"). */
__attribute__((cold, noinline)) static const uint8_t *fail_expected(scan_ctx *c,
                                                                    const uint8_t *at,
                                                                    const char *what) {
    if (at >= c->end) return fail_msg(c, at, "expected %s, got the end of the line", what);
    if (*at >= 0x20 && *at < 0x7F) return fail_msg(c, at, "expected %s, got '%c'", what, *at);
    return fail_msg(c, at, "expected %s, got byte 0x%02X", what, *at);
}

/* ---------------------------------------------------------------- strings */

/* 1 for bytes that stop a run of plain string content. */
static const uint8_t string_special[256] = {
    [0 ... 0x1F] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xFF] = 1,
};

#if defined(__SSE2__)
/* Bit i set if at[i] is special (16 bytes). The compare is signed, so
 * 0x00-0x1F and 0x80-0xFF are both "< 0x20". */
static inline unsigned special_bits(const uint8_t *at) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)at);
    __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                          _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                             _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
    return (unsigned)_mm_movemask_epi8(m);
}
#endif

/* The first special byte in [p, end), or end. begin: the line's start,
 * so that the last < 16 bytes can be read as the 16 ending at end. */
static inline const uint8_t *find_special(const uint8_t *p, const uint8_t *begin,
                                          const uint8_t *end) {
#if defined(__SSE2__)
    while (end - p >= 16) {
        unsigned bits = special_bits(p);
        if (bits) return p + __builtin_ctz(bits);
        p += 16;
    }
    if (p < end && end - begin >= 16) {
        unsigned bits = special_bits(end - 16) >> (16 - (end - p));
        return bits ? p + __builtin_ctz(bits) : end;
    }
#endif
    while (p < end && !string_special[*p]) p++;
    return p;
}

/* Length of the valid UTF-8 sequence at p (2..4), or 0 (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF). */
static int utf8_len(const uint8_t *p, const uint8_t *end) {
    uint8_t b0 = p[0];
    size_t left = (size_t)(end - p);
    uint8_t lo = 0x80, hi = 0xBF;
    int n;
    if (b0 < 0xC2) return 0;
    if (b0 < 0xE0) n = 2;
    else if (b0 < 0xF0) {
        n = 3;
        if (b0 == 0xE0) lo = 0xA0;
        else if (b0 == 0xED) hi = 0x9F;
    } else if (b0 < 0xF5) {
        n = 4;
        if (b0 == 0xF0) lo = 0x90;
        else if (b0 == 0xF4) hi = 0x8F;
    } else return 0;
    if (left < (size_t)n || p[1] < lo || p[1] > hi) return 0;
    for (int i = 2; i < n; i++)
        if ((p[i] & 0xC0) != 0x80) return 0;
    return n;
}

static int hex_val(uint8_t ch) {
    if (IS_DIGIT(ch)) return ch - '0';
    ch |= 0x20;
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    return -1;
}

/* The 4 hex digits at p as a code unit, or -1. */
static long hex4(const uint8_t *p, const uint8_t *end) {
    if (end - p < 4) return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int d = hex_val(p[i]);
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Validates the escape at p (a backslash); returns the position after it. */
static const uint8_t *scan_escape(scan_ctx *c, const uint8_t *p) {
    const uint8_t *end = c->end;
    if (end - p < 2) return fail_expected(c, p + 1, "an escape letter after '\\'");
    switch (p[1]) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        return p + 2;
    case 'u':
        break;
    default:
        return fail_expected(c, p + 1, "one of \" \\ / b f n r t u after '\\'");
    }
    long u = hex4(p + 2, end);
    if (u < 0) return fail_expected(c, p, "\\u and 4 hex digits");
    if (u == 0) return fail_msg(c, p, "\\u0000 is not allowed in a string");
    if (u >= 0xDC00 && u <= 0xDFFF)
        return fail_msg(c, p, "\\u%04lX is a second surrogate half without a first", u);
    if (u < 0xD800 || u > 0xDBFF) return p + 6;
    long lo = (end - p >= 12 && p[6] == '\\' && p[7] == 'u') ? hex4(p + 8, end) : -1;
    if (lo < 0xDC00 || lo > 0xDFFF)
        return fail_msg(c, p, "\\u%04lX must be followed by a second surrogate half \\uDC00-\\uDFFF",
                        u);
    return p + 12;
}

/* p: just after the opening quote. Validates the string body; returns the
 * position of the closing quote; *escaped tells whether it had escapes. */
__attribute__((always_inline)) static inline const uint8_t *scan_string(scan_ctx *c,
                                                                      const uint8_t *p,
                                                                      int *escaped) {
    const uint8_t *end = c->end;
    for (;;) {
        p = find_special(p, c->begin, end);
        if (UNLIKELY(p == end)) return fail_expected(c, p, "'\"' to close the string");
        uint8_t ch = *p;
        if (LIKELY(ch == '"')) return p;
        if (ch == '\\') {
            *escaped = 1;
            if (!(p = scan_escape(c, p))) return NULL;
        } else if (ch < 0x20) {
            return fail_msg(c, p, "control character 0x%02X in a string (must be escaped)", ch);
        } else {
            int n = utf8_len(p, end);
            if (!n) return fail_msg(c, p, "invalid UTF-8 byte 0x%02X in a string", ch);
            p += n;
        }
    }
}

static size_t utf8_put(uint8_t *d, unsigned long cp) {
    if (cp < 0x80) {
        d[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (uint8_t)(0xC0 | (cp >> 6));
        d[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (uint8_t)(0xE0 | (cp >> 12));
        d[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        d[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    d[0] = (uint8_t)(0xF0 | (cp >> 18));
    d[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    d[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    d[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* Unescapes the validated string body s[0..e) into d (room for e - s
 * bytes); returns the decoded length. */
static size_t unescape(const uint8_t *s, const uint8_t *e, uint8_t *d) {
    uint8_t *d0 = d;
    while (s < e) {
        const uint8_t *bs = memchr(s, '\\', (size_t)(e - s));
        size_t run = (size_t)((bs ? bs : e) - s);
        memcpy(d, s, run);
        d += run;
        if (!bs) break;
        s = bs + 2;
        switch (bs[1]) {
        case 'b': *d++ = '\b'; break;
        case 'f': *d++ = '\f'; break;
        case 'n': *d++ = '\n'; break;
        case 'r': *d++ = '\r'; break;
        case 't': *d++ = '\t'; break;
        case 'u': {
            unsigned long cp = (unsigned long)hex4(bs + 2, e);
            s = bs + 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + ((unsigned long)hex4(bs + 8, e) - 0xDC00);
                s = bs + 12;
            }
            d += utf8_put(d, cp);
            break;
        }
        default: *d++ = bs[1]; break; /* " \ / */
        }
    }
    return (size_t)(d - d0);
}

/* ---------------------------------------------------------------- numbers */

/* Length of the run of ASCII digits at p (stops at end). */
static inline size_t digit_run(const uint8_t *p, const uint8_t *begin, const uint8_t *end) {
    const uint8_t *s = p;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* The first byte is the lowest: a carry out of a non-digit byte only
     * disturbs later bytes, so the lowest flagged byte is exact. */
    while (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        /* a byte is a digit iff (b & 0xF0) == 0x30 and b + 6 < 0x40 */
        uint64_t t = ((w & 0xF0F0F0F0F0F0F0F0ull) ^ 0x3030303030303030ull) |
                     (((w + 0x0606060606060606ull) & 0xF0F0F0F0F0F0F0F0ull) ^
                      0x3030303030303030ull);
        if (t) return (size_t)(p - s) + (size_t)(__builtin_ctzll(t) >> 3);
        p += 8;
    }
    if (p < end && end - begin >= 8) {
        /* the 8 bytes ending at end, shifted so p is byte 0: the zero
         * bytes shifted in are non-digits and stop the count at end */
        uint64_t w;
        memcpy(&w, end - 8, 8);
        w >>= 8 * (8 - (end - p));
        uint64_t t = ((w & 0xF0F0F0F0F0F0F0F0ull) ^ 0x3030303030303030ull) |
                     (((w + 0x0606060606060606ull) & 0xF0F0F0F0F0F0F0F0ull) ^
                      0x3030303030303030ull);
        return (size_t)(p - s) + (size_t)(__builtin_ctzll(t) >> 3);
    }
#endif
    while (p < end && IS_DIGIT(*p)) p++;
    return (size_t)(p - s);
}

/* The value of the n ASCII digits at d (n <= 19, so it fits). Little
 * endian, 8 bytes readable: 8 digits at a time (SWAR: pairs, then quads,
 * then the octet); else one digit at a time. */
static inline uint32_t swar8(uint64_t w) { /* byte 0 = most significant digit */
    w = (w * 10 + (w >> 8)) & 0x00FF00FF00FF00FFull;
    w = (w * 100 + (w >> 16)) & 0x0000FFFF0000FFFFull;
    return (uint32_t)((w * 10000 + (w >> 32)) & 0xFFFFFFFFull);
}

static inline uint64_t digits_value(const uint8_t *d, size_t n, const uint8_t *end) {
    uint64_t x = 0;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (end - d >= 8) {
        size_t head = n - 8 * ((n - 1) / 8); /* 1..8 digits, then whole octets */
        uint64_t w;
        memcpy(&w, d, 8);
        /* bytes past the digits may borrow, but only from later bytes,
         * which the shift drops */
        x = swar8((w - 0x3030303030303030ull) << (8 * (8 - head)));
        for (d += head, n -= head; n; d += 8, n -= 8) {
            memcpy(&w, d, 8);
            x = x * 100000000u + swar8(w - 0x3030303030303030ull);
        }
        return x;
    }
#endif
    for (size_t i = 0; i < n; i++) x = x * 10 + (uint64_t)(d[i] - '0');
    return x;
}

/* jansson, and pronto after it, refuse integers outside int64_t.
 * digits: n >= 1 digits without leading zeros. */
static int int_fits(const uint8_t *digits, size_t n, int negative) {
    if (n != 19) return n < 19;
    return memcmp(digits, negative ? "9223372036854775808" : "9223372036854775807", 19) <= 0;
}

/* 1 if the validated real s[0..e) rounds to +-infinity as a double (what
 * jansson calls "real number overflow"). value = 0.D x 10^mag with D the
 * significant digits; only mag == 309 is close enough to DBL_MAX
 * (1.797...e308) to need strtod, fed the digits as an integer mantissa
 * (no decimal point: locale-proof), at most 400 of them plus a sticky
 * digit that keeps the rounding exact. */
static int real_overflows(const uint8_t *s, const uint8_t *e) {
    const uint8_t *p = s + (*s == '-');
    const uint8_t *int0 = p;
    while (p < e && IS_DIGIT(*p)) p++;
    const uint8_t *int1 = p, *frac0 = p, *frac1 = p;
    if (p < e && *p == '.') {
        frac0 = ++p;
        while (p < e && IS_DIGIT(*p)) p++;
        frac1 = p;
    }
    long long exp = 0;
    if (p < e) { /* 'e' or 'E' */
        p++;
        int neg = *p == '-';
        if (*p == '+' || *p == '-') p++;
        for (; p < e; p++)
            if (exp < 1000000000LL) exp = exp * 10 + (*p - '0');
        if (neg) exp = -exp;
    }
    long long mag;
    const uint8_t *first; /* first significant digit */
    if (*int0 != '0') {
        mag = (long long)(int1 - int0);
        first = int0;
    } else {
        first = frac0;
        while (first < frac1 && *first == '0') first++;
        if (first == frac1) return 0; /* zero */
        mag = -(long long)(first - frac0);
    }
    if (mag > 1000000000LL) mag = 1000000000LL;
    mag += exp;
    if (mag <= 308) return 0;
    if (mag >= 310) return 1;
    char buf[420];
    size_t n = 0;
    int sticky = 0;
    for (const uint8_t *q = first; q < frac1; q++) {
        if (q == int1) q = frac0; /* skip the '.' (and nothing else) */
        if (q >= frac1) break;
        if (n < 400) buf[n++] = (char)*q;
        else if (*q != '0') sticky = 1;
    }
    if (sticky) buf[n++] = '1';
    snprintf(buf + n, sizeof buf - n, "e%lld", 309LL - (long long)n);
    return isinf(strtod(buf, NULL));
}

/* p: at '-' or a digit. Returns the position after the number. v: for a
 * wanted number, gets is_int and i. */
__attribute__((always_inline)) static inline const uint8_t *scan_number(scan_ctx *c,
                                                                      const uint8_t *p,
                                                                      pr_json_value *v) {
    const uint8_t *s = p, *end = c->end;
    int negative = *p == '-';
    p += negative;
    const uint8_t *digits = p;
    size_t n = p < end ? digit_run(p, c->begin, end) : 0;
    if (UNLIKELY(n == 0)) return fail_expected(c, p, "a digit");
    if (UNLIKELY(*p == '0' && n > 1)) return fail_msg(c, p, "a number may not start with 0");
    p += n;
    int real = 0, has_exp = 0;
    if (p < end && *p == '.') {
        size_t f = digit_run(p + 1, c->begin, end);
        if (!f) return fail_expected(c, p + 1, "a digit after '.'");
        p += 1 + f;
        real = 1;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        size_t x = digit_run(p, c->begin, end);
        if (!x) return fail_expected(c, p, "a digit in the exponent");
        p += x;
        real = has_exp = 1;
    }
    if (!real) {
        if (UNLIKELY(n >= 19) && !int_fits(digits, n, negative))
            return fail_msg(c, s, "integer %.*s is out of the 64-bit range", (int)(p - s), s);
        if (v) {
            /* off the cursor's dependency chain: costs little */
            uint64_t x = digits_value(digits, n, end);
            v->is_int = 1;
            v->i = negative ? (int64_t)(0 - x) : (int64_t)x;
        }
    } else if (UNLIKELY(has_exp || n > 300) && real_overflows(s, p)) {
        return fail_msg(c, s, "number is too large for a double");
    }
    return p;
}

/* ---------------------------------------------------------------- values */

/* Whitespace is rare in event lines: one compare rules it out. */
static inline const uint8_t *skip_ws(const uint8_t *p, const uint8_t *end) {
    while (p < end && *p <= ' ' && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    return p;
}

static const uint8_t *scan_literal(scan_ctx *c, const uint8_t *p, const char *word, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p + i >= c->end || p[i] != (uint8_t)word[i]) {
            char what[32];
            snprintf(what, sizeof what, "the literal %s", word);
            return fail_expected(c, p + i, what);
        }
    return p + n;
}

static const uint8_t *scan_value(scan_ctx *c, const uint8_t *p, int depth, pr_json_value *v);

/* p: at '[' or '{' (a container at depth). Returns the position after it. */
static const uint8_t *scan_container(scan_ctx *c, const uint8_t *p, int depth) {
    const uint8_t *end = c->end;
    if (depth > PR_JSON_DEPTH_MAX)
        return fail_msg(c, p, "nesting deeper than %d levels", PR_JSON_DEPTH_MAX);
    if (*p == '[') {
        p = skip_ws(p + 1, end);
        if (p < end && *p == ']') return p + 1;
        for (;;) {
            if (!(p = scan_value(c, p, depth, NULL))) return NULL;
            p = skip_ws(p, end);
            if (p < end && *p == ']') return p + 1;
            if (p >= end || *p != ',') return fail_expected(c, p, "',' or ']'");
            p = skip_ws(p + 1, end);
        }
    }
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}') return p + 1;
    for (;;) {
        int escaped = 0;
        if (p >= end || *p != '"') return fail_expected(c, p, "a string key");
        if (!(p = scan_string(c, p + 1, &escaped))) return NULL;
        p = skip_ws(p + 1, end);
        if (p >= end || *p != ':') return fail_expected(c, p, "':' after the key");
        p = skip_ws(p + 1, end);
        if (!(p = scan_value(c, p, depth, NULL))) return NULL;
        p = skip_ws(p, end);
        if (p < end && *p == '}') return p + 1;
        if (p >= end || *p != ',') return fail_expected(c, p, "',' or '}'");
        p = skip_ws(p + 1, end);
    }
}

/* A wanted string with escapes (body s[0..e)): its unescaped copy in the
 * arena. Errors name the column of the opening quote. */
static int unescape_to_arena(scan_ctx *c, const uint8_t *s, const uint8_t *e, pr_json_value *v) {
    if (!c->arena) {
        c->status = pr_err_set(c->err, PR_ERR_INVALID,
                               "column %zu: a string with escapes needs an arena",
                               column(c, s - 1));
        return 0;
    }
    char *d = pr_arena_alloc(c->arena, (size_t)(e - s) + 1);
    if (!d) {
        c->status = pr_err_set(c->err, PR_ERR_NOMEM,
                               "column %zu: out of memory unescaping a string", column(c, s - 1));
        return 0;
    }
    size_t n = unescape(s, e, (uint8_t *)d);
    d[n] = '\0';
    v->text = pr_bytes_of(d, n);
    return 1;
}

/* p: at a value inside a container at depth (nested containers are at
 * depth + 1). v: where a wanted value goes, or NULL to skip it. */
static const uint8_t *scan_value(scan_ctx *c, const uint8_t *p, int depth, pr_json_value *v) {
    const uint8_t *s = p, *q;
    pr_json_kind kind;
    if (UNLIKELY(p >= c->end)) return fail_expected(c, p, "a value");
    switch (*p) {
    case '"': {
        int escaped = 0;
        if (!(q = scan_string(c, p + 1, &escaped))) return NULL;
        if (v) {
            v->kind = PR_JSON_STRING;
            if (LIKELY(!escaped)) v->text = pr_bytes_of((const char *)p + 1, (size_t)(q - p - 1));
            else if (!unescape_to_arena(c, p + 1, q, v)) return NULL;
        }
        return q + 1;
    }
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        q = scan_number(c, p, v);
        kind = PR_JSON_NUMBER;
        break;
    case 't':
        q = scan_literal(c, p, "true", 4);
        kind = PR_JSON_TRUE;
        break;
    case 'f':
        q = scan_literal(c, p, "false", 5);
        kind = PR_JSON_FALSE;
        break;
    case 'n':
        q = scan_literal(c, p, "null", 4);
        kind = PR_JSON_NULL;
        break;
    case '[':
        q = scan_container(c, p, depth + 1);
        kind = PR_JSON_ARRAY;
        break;
    case '{':
        q = scan_container(c, p, depth + 1);
        kind = PR_JSON_OBJECT;
        break;
    default:
        return fail_expected(c, p, "a value");
    }
    if (q && v) {
        v->kind = kind;
        v->text = pr_bytes_of((const char *)s, (size_t)(q - s));
    }
    return q;
}

/* The index of the wanted key whose escaped body is s[0..e), or -1. */
static int key_find_escaped(const pr_json_keys *k, const uint8_t *s, const uint8_t *e) {
    /* every escape is at most 6 bytes for one byte of output */
    uint8_t buf[PR_JSON_KEY_LEN_MAX * 6 + 16];
    if ((size_t)(e - s) > (size_t)k->len_max * 6) return -1;
    size_t n = unescape(s, e, buf);
    memset(buf + n, 0, 16); /* key_find may load 16 bytes */
    return key_find(k, buf, n, buf + sizeof buf);
}

/* ---------------------------------------------------------------- scan */

pr_status pr_json_scan(const pr_json_keys *k, const char *line, size_t len, pr_arena *arena,
                       pr_json_value *out, pr_err *err) {
    scan_ctx c = {(const uint8_t *)line, (const uint8_t *)line + len, arena, err, PR_OK};
    const uint8_t *p = c.begin, *end = c.end;
    uint64_t seen = 0;

    p = skip_ws(p, end);
    if (p >= end || *p != '{') {
        fail_expected(&c, p, "'{' (a line is one JSON object)");
        goto fail;
    }
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}') {
        p++;
        goto tail;
    }
    for (;;) {
        /* "key":value, with whitespace allowed around each token: the
         * expected byte is tried first, whitespace skipped only if there
         * is some (event lines have none) */
        int escaped = 0;
        if (UNLIKELY(p >= end || *p != '"')) {
            fail_expected(&c, p, "a string key");
            goto fail;
        }
        const uint8_t *key = p + 1, *key_end;
        if (!(key_end = scan_string(&c, key, &escaped))) goto fail;
        int idx = LIKELY(!escaped) ? key_find(k, key, (size_t)(key_end - key), end)
                                   : key_find_escaped(k, key, key_end);
        p = key_end + 1;
        if (UNLIKELY(p >= end || *p != ':')) {
            p = skip_ws(p, end);
            if (p >= end || *p != ':') {
                fail_expected(&c, p, "':' after the key");
                goto fail;
            }
        }
        p++;
        if (UNLIKELY(p < end && *p <= ' ')) p = skip_ws(p, end);
        pr_json_value *v = NULL;
        if (idx >= 0) {
            uint64_t bit = 1ull << idx;
            if (UNLIKELY(seen & bit)) {
                fail_msg(&c, key - 1, "duplicate key \"%s\"", k->key[idx].text);
                goto fail;
            }
            seen |= bit;
            v = &out[idx];
            v->is_int = 0;
            v->i = 0;
        }
        /* the common values inline, the rest through scan_value */
        if (LIKELY(p < end) && (IS_DIGIT(*p) || *p == '-')) {
            const uint8_t *q = scan_number(&c, p, v);
            if (!q) goto fail;
            if (v) {
                v->kind = PR_JSON_NUMBER;
                v->text = pr_bytes_of((const char *)p, (size_t)(q - p));
            }
            p = q;
        } else if (p < end && *p == '"') {
            int value_escaped = 0;
            const uint8_t *q = scan_string(&c, p + 1, &value_escaped);
            if (!q) goto fail;
            if (v) {
                v->kind = PR_JSON_STRING;
                if (LIKELY(!value_escaped)) v->text = pr_bytes_of((const char *)p + 1, (size_t)(q - p - 1));
                else if (!unescape_to_arena(&c, p + 1, q, v)) goto fail;
            }
            p = q + 1;
        } else if (!(p = scan_value(&c, p, 1, v))) {
            goto fail;
        }
        if (UNLIKELY(p < end && *p <= ' ')) p = skip_ws(p, end);
        if (LIKELY(p < end && *p == ',')) {
            p++;
            if (UNLIKELY(p < end && *p <= ' ')) p = skip_ws(p, end);
            continue;
        }
        if (LIKELY(p < end && *p == '}')) {
            p++;
            break;
        }
        fail_expected(&c, p, "',' or '}'");
        goto fail;
    }
tail:
    p = skip_ws(p, end);
    if (UNLIKELY(p != end)) {
        fail_expected(&c, p, "the end of the line after the object");
        goto fail;
    }
    /* wanted keys not seen are ABSENT (cheaper than clearing out first) */
    uint64_t unseen = ~seen & (k->n == 64 ? ~0ull : (1ull << k->n) - 1);
    for (; unseen; unseen &= unseen - 1) {
        pr_json_value *v = &out[__builtin_ctzll(unseen)];
        memset(v, 0, sizeof *v);
    }
    return PR_OK;
fail:
    return c.status;
}

/* ---------------------------------------------------------------- values */

int pr_json_str_eq(const pr_json_value *v, const char *s) {
    size_t n = strlen(s);
    return v->kind == PR_JSON_STRING && v->text.len == n && memcmp(v->text.ptr, s, n) == 0;
}
