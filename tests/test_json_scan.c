/*
 * test_json_scan.c: the one-pass JSON key scanner (src/base/json_scan.c)
 * and the event parser built on it (src/stream/event_json.c).
 *
 * Every line is scanned from an exact-size heap copy, so that ASan sees
 * any read past its end. Covered: the key set's limits; every value kind;
 * escapes, \u escapes and surrogate pairs, raw UTF-8; every error class
 * with its column; duplicates (wanted refused, others and nested ones
 * not); absent keys; nested values skipped; whitespace; integer and
 * double limits shared with jansson; short lines and long keys (the SIMD
 * and SWAR tails); the arena contract; and a differential check against
 * jansson (tests/fuzz/fuzz_json_scan.c) over thousands of generated and
 * mutated lines.
 */
#include <float.h>
#include <stdint.h>

#include "fuzz/fuzz_json_scan.c"
#include "pronto/stream.h"
#include "test.h"

static const char *const ev_keys[] = {"type", "event_id", "ts", "device", "a",
                                      "b",    "c",        "d",  "e",      "f"};
enum { K_TYPE, K_EVENT_ID, K_TS, K_DEVICE, K_A, K_B, K_C, K_D, K_E, K_F, K_N };

static pr_json_keys *keys_of(const char *const *names, uint32_t n) {
    pr_err err;
    pr_json_keys *k = NULL;
    ASSERT_OK(pr_json_keys_new(names, n, &k, &err));
    ASSERT_EQ_INT(pr_json_keys_count(k), n);
    return k;
}

/* The line as an exact-size heap copy (not NUL-terminated). */
typedef struct scanned {
    char *copy;
    size_t len;
    pr_status s;
    pr_err err;
    pr_json_value v[K_N];
} scanned;

static pr_arena arena;

static scanned last; /* the latest scan; its copy is freed by the next */

static scanned *scan_n(const pr_json_keys *k, const char *line, size_t len) {
    free(last.copy);
    memset(&last, 0, sizeof last);
    last.copy = malloc(len ? len : 1);
    memcpy(last.copy, line, len);
    last.len = len;
    pr_arena_reset(&arena);
    last.s = pr_json_scan(k, last.copy, len, &arena, last.v, &last.err);
    return &last;
}
static scanned *scan(const pr_json_keys *k, const char *line) {
    return scan_n(k, line, strlen(line));
}

/* For a scanned result r (ASSERT_OK wants an err in scope). */
#define ASSERT_SCANNED(r)                                                          \
    do {                                                                           \
        const scanned *r_ = (r);                                                   \
        if (r_->s != PR_OK) TEST_FAIL("%s: %s", pr_status_name(r_->s), r_->err.msg); \
    } while (0)
#define ASSERT_REFUSED(r, want)                                                        \
    do {                                                                               \
        const scanned *r_ = (r);                                                       \
        if (r_->s != (want)) TEST_FAIL("got %s want %s (%s)", pr_status_name(r_->s),   \
                                       pr_status_name(want), r_->err.msg);            \
    } while (0)

static int borrowed(const scanned *r, pr_bytes b) {
    return b.ptr >= r->copy && b.ptr + b.len <= r->copy + r->len;
}
static int text_is(pr_bytes b, const char *s) {
    return b.len == strlen(s) && memcmp(b.ptr, s, b.len) == 0;
}

TEST(keys_limits) {
    pr_err err;
    pr_json_keys *k = (pr_json_keys *)1;
    const char *many[65];
    char names[65][8];
    for (int i = 0; i < 65; i++) {
        snprintf(names[i], sizeof names[i], "k%d", i);
        many[i] = names[i];
    }
    ASSERT_STATUS(pr_json_keys_new(many, 65, &k, &err), PR_ERR_INVALID);
    ASSERT_TRUE(k == NULL);
    ASSERT_CONTAINS(err.msg, "at most 64");
    pr_json_keys_free(keys_of(many, 64));
    pr_json_keys_free(keys_of(many, 0));
    const char *twice[] = {"a", "b", "a"};
    ASSERT_STATUS(pr_json_keys_new(twice, 3, &k, &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "\"a\" wanted twice");
    const char *null_key[] = {"a", NULL};
    ASSERT_STATUS(pr_json_keys_new(null_key, 2, &k, &err), PR_ERR_INVALID);
    char longest[PR_JSON_KEY_LEN_MAX + 2];
    memset(longest, 'x', sizeof longest - 1);
    longest[sizeof longest - 1] = 0;
    const char *too_long[] = {longest};
    ASSERT_STATUS(pr_json_keys_new(too_long, 1, &k, &err), PR_ERR_INVALID);
    longest[PR_JSON_KEY_LEN_MAX] = 0;
    pr_json_keys_free(keys_of(too_long, 1));
    pr_json_keys_free(NULL);
}

/* The impression line of docs/events.md. */
TEST(event_line) {
    static const char *const names[] = {"type", "event_id", "impression_id", "ts", "user_id",
                                        "ad_id", "site_id", "device", "position", "hour",
                                        "day_of_week", "missing"};
    pr_json_keys *k = keys_of(names, 12);
    const char *line = "{\"type\":\"impression\",\"event_id\":1,\"impression_id\":1,\"ts\":"
                       "1704067200184,\"user_id\":85705,\"ad_id\":5761,\"site_id\":992,"
                       "\"device\":\"tablet\",\"position\":4,\"hour\":0,\"day_of_week\":0}";
    pr_err err;
    pr_json_value v[12];
    char *copy = malloc(strlen(line));
    memcpy(copy, line, strlen(line));
    ASSERT_OK(pr_json_scan(k, copy, strlen(line), NULL, v, &err));
    ASSERT_TRUE(pr_json_str_eq(&v[0], "impression"));
    ASSERT_TRUE(v[0].text.ptr == copy + 9); /* borrowed, no escape */
    int64_t want[] = {1, 1, 1704067200184, 85705, 5761, 992, -1, 4, 0, 0};
    for (int i = 1; i <= 10; i++) {
        if (i == 7) continue;
        int64_t x = -99;
        ASSERT_EQ_INT(v[i].kind, PR_JSON_NUMBER);
        ASSERT_TRUE(pr_json_int(&v[i], &x));
        ASSERT_EQ_INT(x, want[i - 1]);
    }
    ASSERT_TRUE(pr_json_str_eq(&v[7], "tablet"));
    ASSERT_EQ_INT(v[11].kind, PR_JSON_ABSENT);
    ASSERT_TRUE(v[11].text.ptr == NULL && v[11].text.len == 0 && !v[11].is_int);
    free(copy);
    pr_json_keys_free(k);
}

TEST(every_kind) {
    pr_json_keys *k = keys_of(ev_keys, K_N);
    scanned *r = scan(k, "{\"type\":\"s\",\"event_id\":-12,\"ts\":1.5e3,\"device\":true,"
                         "\"a\":false,\"b\":null,\"c\":[1, \"]\", {\"x\":[]}],\"d\":{\"y\":{}},"
                         "\"e\":\"\",\"f\":0}");
    ASSERT_SCANNED(r);
    ASSERT_EQ_INT(r->v[K_TYPE].kind, PR_JSON_STRING);
    ASSERT_TRUE(text_is(r->v[K_TYPE].text, "s") && borrowed(r, r->v[K_TYPE].text));
    int64_t x;
    ASSERT_TRUE(pr_json_int(&r->v[K_EVENT_ID], &x));
    ASSERT_EQ_INT(x, -12);
    ASSERT_TRUE(text_is(r->v[K_EVENT_ID].text, "-12"));
    ASSERT_EQ_INT(r->v[K_TS].kind, PR_JSON_NUMBER);
    ASSERT_TRUE(!pr_json_int(&r->v[K_TS], &x)); /* a real */
    ASSERT_TRUE(text_is(r->v[K_TS].text, "1.5e3"));
    ASSERT_EQ_INT(r->v[K_DEVICE].kind, PR_JSON_TRUE);
    ASSERT_TRUE(text_is(r->v[K_DEVICE].text, "true"));
    ASSERT_EQ_INT(r->v[K_A].kind, PR_JSON_FALSE);
    ASSERT_TRUE(text_is(r->v[K_A].text, "false"));
    ASSERT_EQ_INT(r->v[K_B].kind, PR_JSON_NULL);
    ASSERT_TRUE(text_is(r->v[K_B].text, "null"));
    ASSERT_EQ_INT(r->v[K_C].kind, PR_JSON_ARRAY);
    ASSERT_TRUE(text_is(r->v[K_C].text, "[1, \"]\", {\"x\":[]}]"));
    ASSERT_EQ_INT(r->v[K_D].kind, PR_JSON_OBJECT);
    ASSERT_TRUE(text_is(r->v[K_D].text, "{\"y\":{}}"));
    ASSERT_EQ_INT(r->v[K_E].kind, PR_JSON_STRING);
    ASSERT_EQ_INT(r->v[K_E].text.len, 0);
    ASSERT_TRUE(pr_json_int(&r->v[K_F], &x) && x == 0);
    ASSERT_TRUE(!pr_json_str_eq(&r->v[K_F], "0")); /* a number is not a string */

    r = scan(k, "{}");
    ASSERT_SCANNED(r);
    for (int i = 0; i < K_N; i++) ASSERT_EQ_INT(r->v[i].kind, PR_JSON_ABSENT);
    pr_json_keys_free(k);
}

TEST(escapes_and_unicode) {
    pr_json_keys *k = keys_of(ev_keys, K_N);
    scanned *r = scan(k, "{\"type\":\"q\\\"b\\\\s\\/b\\bf\\fn\\nr\\rt\\t\","
                         "\"event_id\":\"\\u00e9\\u20AC\\ud83d\\ude00\\u0041\","
                         "\"ts\":\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\","
                         "\"typ\\u0065x\":1,\"d\\u0065vice\":\"matched through escapes\"}");
    ASSERT_SCANNED(r);
    ASSERT_TRUE(text_is(r->v[K_TYPE].text, "q\"b\\s/b\bf\fn\nr\rt\t"));
    ASSERT_TRUE(!borrowed(r, r->v[K_TYPE].text)); /* unescaped into the arena */
    ASSERT_EQ_INT(r->v[K_TYPE].text.ptr[r->v[K_TYPE].text.len], 0);
    ASSERT_TRUE(text_is(r->v[K_EVENT_ID].text, "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80" "A"));
    ASSERT_TRUE(text_is(r->v[K_TS].text, "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"));
    ASSERT_TRUE(borrowed(r, r->v[K_TS].text)); /* raw UTF-8 needs no copy */
    ASSERT_TRUE(pr_json_str_eq(&r->v[K_DEVICE], "matched through escapes"));

    /* keys that need escapes to be written */
    static const char *const odd[] = {"k\"q", "tab\there", "\xC3\xA9", ""};
    pr_json_keys *k2 = keys_of(odd, 4);
    pr_json_value v[4];
    pr_err err;
    const char *line = "{\"k\\\"q\":1,\"tab\\there\":2,\"\\u00E9\":3,\"\":4}";
    ASSERT_OK(pr_json_scan(k2, line, strlen(line), NULL, v, &err));
    for (int i = 0; i < 4; i++) {
        int64_t x;
        ASSERT_TRUE(pr_json_int(&v[i], &x));
        ASSERT_EQ_INT(x, i + 1);
    }
    pr_json_keys_free(k2);
    pr_json_keys_free(k);
}

/* Each error class: the status, the column and what was expected. */
TEST(errors_with_columns) {
    pr_json_keys *k = keys_of(ev_keys, K_N);
    static const struct {
        const char *line;
        size_t len; /* 0: strlen */
        int column;
        const char *what;
    } cases[] = {
        {"", 0, 1, "expected '{' (a line is one JSON object), got the end of the line"},
        {"  [1,2]", 0, 3, "expected '{'"},
        {"\"s\"", 0, 1, "expected '{'"},
        {"{", 0, 2, "expected a string key, got the end of the line"},
        {"{a:1}", 0, 2, "expected a string key, got 'a'"},
        {"{\"a\"}", 0, 5, "expected ':' after the key, got '}'"},
        {"{\"a\":}", 0, 6, "expected a value, got '}'"},
        {"{\"a\":1,}", 0, 8, "expected a string key, got '}'"},
        {"{\"a\":1 \"b\":2}", 0, 8, "expected ',' or '}', got '\"'"},
        {"{\"a\":1}x", 0, 8, "expected the end of the line after the object, got 'x'"},
        {"{\"a\":1}}", 0, 8, "expected the end of the line"},
        {"{\"a\":[1 2]}", 0, 9, "expected ',' or ']'"},
        {"{\"a\":[1,]}", 0, 9, "expected a value, got ']'"},
        {"{\"a\":{\"x\" 1}}", 0, 11, "expected ':' after the key"},
        {"{\"a\":{1:1}}", 0, 7, "expected a string key, got '1'"},
        {"{\"a\":01}", 0, 6, "a number may not start with 0"},
        {"{\"a\":-}", 0, 7, "expected a digit, got '}'"},
        {"{\"a\":+1}", 0, 6, "expected a value, got '+'"},
        {"{\"a\":.5}", 0, 6, "expected a value, got '.'"},
        {"{\"a\":1.}", 0, 8, "expected a digit after '.'"},
        {"{\"a\":1e}", 0, 8, "expected a digit in the exponent"},
        {"{\"a\":1e+}", 0, 9, "expected a digit in the exponent"},
        {"{\"a\":tru}", 0, 9, "expected the literal true, got '}'"},
        {"{\"a\":nul", 0, 9, "expected the literal null, got the end of the line"},
        {"{\"a\":False}", 0, 6, "expected a value, got 'F'"},
        {"{\"a\":\"x", 0, 8, "expected '\"' to close the string, got the end of the line"},
        {"{\"a\":\"x\x01\"}", 0, 8, "control character 0x01 in a string"},
        {"{\"a\":\"x\ty\"}", 0, 8, "control character 0x09"},
        {"{\"a\":\"\\q\"}", 0, 8, "expected one of \" \\ / b f n r t u after '\\', got 'q'"},
        {"{\"a\":\"\\", 0, 8, "expected an escape letter after '\\', got the end of the line"},
        {"{\"a\":\"\\u12\"}", 0, 7, "expected \\u and 4 hex digits"},
        {"{\"a\":\"\\u12G4\"}", 0, 7, "expected \\u and 4 hex digits"},
        {"{\"a\":\"\\u0000\"}", 0, 7, "\\u0000 is not allowed"},
        {"{\"a\":\"\\ud800\"}", 0, 7, "\\uD800 must be followed by a second surrogate half"},
        {"{\"a\":\"\\ud800\\u0041\"}", 0, 7, "\\uD800 must be followed by a second surrogate half"},
        {"{\"a\":\"\\udc00\"}", 0, 7, "\\uDC00 is a second surrogate half without a first"},
        {"{\"a\":\"\xC3\x28\"}", 0, 7, "invalid UTF-8 byte 0xC3"},
        {"{\"a\":\"\xC0\x80\"}", 0, 7, "invalid UTF-8 byte 0xC0"},          /* overlong */
        {"{\"a\":\"\xE0\x80\xAF\"}", 0, 7, "invalid UTF-8 byte 0xE0"},      /* overlong */
        {"{\"a\":\"\xED\xA0\x80\"}", 0, 7, "invalid UTF-8 byte 0xED"},      /* surrogate */
        {"{\"a\":\"\xF4\x90\x80\x80\"}", 0, 7, "invalid UTF-8 byte 0xF4"},  /* > U+10FFFF */
        {"{\"a\":\"\xF0\x9F\x98\"}", 0, 7, "invalid UTF-8 byte 0xF0"},      /* truncated */
        {"{\"a\":\"\x80\"}", 0, 7, "invalid UTF-8 byte 0x80"},
        {"{\"a\":\"\xFF\"}", 0, 7, "invalid UTF-8 byte 0xFF"},
        {"\xEF\xBB\xBF{}", 0, 1, "expected '{' (a line is one JSON object), got byte 0xEF"},
        {"{\"a\":1\0}", 8, 7, "expected ',' or '}', got byte 0x00"},
        {"{\"a\":99999999999999999999}", 0, 6, "integer 99999999999999999999 is out of the 64-bit range"},
        {"{\"a\":9223372036854775808}", 0, 6, "integer 9223372036854775808 is out of the 64-bit range"},
        {"{\"a\":-9223372036854775809}", 0, 6, "integer -9223372036854775809 is out of the 64-bit range"},
        {"{\"a\":1e309}", 0, 6, "number is too large for a double"},
        {"{\"a\":-1.8e308}", 0, 6, "number is too large for a double"},
        {"{\"a\":1.7976931348623159e308}", 0, 6, "number is too large for a double"},
        {"{\"type\":\"a\",\"type\":\"b\"}", 0, 13, "duplicate key \"type\""},
        {"{\"ts\":1,\"a\":2,\"t\\u0073\":3}", 0, 15, "duplicate key \"ts\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].line);
        scanned *r = scan_n(k, cases[i].line, len);
        char want[300];
        snprintf(want, sizeof want, "column %d: %s", cases[i].column, cases[i].what);
        if (r->s != PR_ERR_PARSE || strncmp(r->err.msg, want, strlen(want)) != 0)
            TEST_FAIL("case %zu: got %s \"%s\", want \"%s\"", i, pr_status_name(r->s), r->err.msg,
                      want);
    }
    pr_json_keys_free(k);
}

TEST(duplicates_absent_nested) {
    pr_json_keys *k = keys_of(ev_keys, K_N);
    /* repeated keys nobody wants, and keys of nested objects: not checked */
    scanned *r = scan(k, "{\"x\":1,\"x\":2,\"n\":{\"type\":\"inner\",\"type\":1},"
                         "\"type\":\"outer\",\"l\":[{\"ts\":5}]}");
    ASSERT_SCANNED(r);
    ASSERT_TRUE(pr_json_str_eq(&r->v[K_TYPE], "outer"));
    ASSERT_EQ_INT(r->v[K_TS].kind, PR_JSON_ABSENT);
    ASSERT_EQ_INT(r->v[K_EVENT_ID].kind, PR_JSON_ABSENT);

    /* 64 levels (the top object is one) pass, 65 are refused, arrays
     * or objects alike */
    for (int object = 0; object < 2; object++) {
        for (int levels = 63; levels <= 64; levels++) {
            char line[600];
            size_t n = (size_t)snprintf(line, sizeof line, "{\"a\":");
            for (int i = 0; i < levels; i++) n += (size_t)snprintf(line + n, sizeof line - n, "%s", object ? "{\"a\":" : "[");
            n += (size_t)snprintf(line + n, sizeof line - n, "0");
            for (int i = 0; i < levels; i++) line[n++] = object ? '}' : ']';
            line[n++] = '}';
            r = scan_n(k, line, n);
            if (levels == 63) {
                ASSERT_SCANNED(r);
                ASSERT_EQ_INT(r->v[K_A].kind, object ? PR_JSON_OBJECT : PR_JSON_ARRAY);
            } else {
                char want[64];
                snprintf(want, sizeof want, "column %d: nesting deeper than 64 levels",
                         6 + 63 * (object ? 5 : 1));
                ASSERT_REFUSED(r, PR_ERR_PARSE);
                ASSERT_CONTAINS(r->err.msg, want);
            }
        }
    }
    pr_json_keys_free(k);
}

TEST(whitespace) {
    pr_json_keys *k = keys_of(ev_keys, K_N);
    const char *ok[] = {
        " \t{ \"type\" : \"x\" , \"a\" :\n[ 1 , 2 ] ,\"b\":{ \"c\" : null } }\r",
        "{\"type\":\"x\",\"a\":[1,2],\"b\":{\"c\":null}}\r\n",
        "\r\n\t {\"type\"\t:\t\"x\"\t,\t\"a\"\t:\t[\t1\t,\t2\t]\t,\t\"b\"\t:\t{\t\"c\"\t:\tnull\t}\t}",
    };
    for (size_t i = 0; i < 3; i++) {
        scanned *r = scan(k, ok[i]);
        if (r->s != PR_OK) TEST_FAIL("line %zu: %s", i, r->err.msg);
        ASSERT_TRUE(pr_json_str_eq(&r->v[K_TYPE], "x"));
        ASSERT_EQ_INT(r->v[K_A].kind, PR_JSON_ARRAY);
        ASSERT_TRUE(r->v[K_A].text.ptr[0] == '[' && r->v[K_A].text.ptr[r->v[K_A].text.len - 1] == ']');
        ASSERT_EQ_INT(r->v[K_B].kind, PR_JSON_OBJECT);
    }
    /* not JSON whitespace */
    ASSERT_REFUSED(scan(k, "{\"a\":1}\f"), PR_ERR_PARSE);
    ASSERT_REFUSED(scan(k, "\v{}"), PR_ERR_PARSE);
    ASSERT_REFUSED(scan(k, "{\"a\":\xC2\xA0" "1}"), PR_ERR_PARSE);
    pr_json_keys_free(k);
}

TEST(number_limits) {
    pr_json_keys *k = keys_of(ev_keys, K_N);
    int64_t x;
    scanned *r = scan(k, "{\"a\":9223372036854775807,\"b\":-9223372036854775808,\"c\":-0,"
                         "\"d\":1234567890123456789,\"e\":12345678,\"f\":123456789}");
    ASSERT_SCANNED(r);
    ASSERT_TRUE(pr_json_int(&r->v[K_A], &x) && x == INT64_MAX);
    ASSERT_TRUE(pr_json_int(&r->v[K_B], &x) && x == INT64_MIN);
    ASSERT_TRUE(pr_json_int(&r->v[K_C], &x) && x == 0);
    ASSERT_TRUE(pr_json_int(&r->v[K_D], &x) && x == 1234567890123456789LL);
    ASSERT_TRUE(pr_json_int(&r->v[K_E], &x) && x == 12345678);
    ASSERT_TRUE(pr_json_int(&r->v[K_F], &x) && x == 123456789);
    /* every length of integer, at the very end of a short line (the
     * byte-at-a-time tails) and inside a long one */
    for (int digits = 1; digits <= 19; digits++) {
        char num[24], line[128];
        for (int i = 0; i < digits; i++) num[i] = (char)('1' + (i % 9));
        num[digits] = 0;
        int64_t want = strtoll(num, NULL, 10);
        snprintf(line, sizeof line, "{\"a\":%s}", num);
        r = scan(k, line);
        ASSERT_SCANNED(r);
        ASSERT_TRUE(pr_json_int(&r->v[K_A], &x) && x == want);
        snprintf(line, sizeof line, "{\"a\":-%s,\"padding\":\"%s\"}", num,
                 "0123456789012345678901234567890123456789");
        r = scan(k, line);
        ASSERT_SCANNED(r);
        ASSERT_TRUE(pr_json_int(&r->v[K_A], &x) && x == -want);
    }
    /* doubles: finite ones pass, the first that rounds to infinity does not */
    r = scan(k, "{\"a\":1.7976931348623157e308,\"b\":1.7976931348623158e308,\"c\":1e-400,"
                "\"d\":0.00000000000000000000000000001e337,\"e\":-0.0,\"f\":1E+2}");
    ASSERT_SCANNED(r);
    ASSERT_TRUE(text_is(r->v[K_B].text, "1.7976931348623158e308"));
    ASSERT_TRUE(!pr_json_int(&r->v[K_F], &x));
    ASSERT_REFUSED(scan(k, "{\"a\":0.00000000000000000000000000001e339}"), PR_ERR_PARSE);
    ASSERT_REFUSED(scan(k, "{\"a\":1e1000000000000000000000}"), PR_ERR_PARSE);
    ASSERT_SCANNED(scan(k, "{\"a\":1e-1000000000000000000000}"));
    ASSERT_SCANNED(scan(k, "{\"a\":0e1000000000000000000000}"));
    pr_json_keys_free(k);
}

/* Keys longer than the 16-byte fast compare; keys equal in their first 16
 * bytes; short lines where fewer than 16 bytes remain. */
TEST(key_matching) {
    static const char *const names[] = {"a_key_longer_than_sixteen_bytes_1",
                                        "a_key_longer_than_sixteen_bytes_2", "sixteen_bytes_ab",
                                        "x"};
    pr_json_keys *k = keys_of(names, 4);
    scanned *r = scan(k, "{\"a_key_longer_than_sixteen_bytes_3\":0,"
                         "\"a_key_longer_than_sixteen_bytes_2\":2,\"sixteen_bytes_ac\":0,"
                         "\"a_key_longer_than_sixteen_bytes_1\":1,\"sixteen_bytes_ab\":3,"
                         "\"sixteen_bytes_a\":0,\"x\":4}");
    ASSERT_SCANNED(r);
    for (int i = 0; i < 4; i++) {
        int64_t x;
        ASSERT_TRUE(pr_json_int(&r->v[i], &x));
        ASSERT_EQ_INT(x, i + 1);
    }
    r = scan(k, "{\"x\":7}");
    ASSERT_SCANNED(r);
    ASSERT_EQ_INT(r->v[3].i, 7);
    r = scan(k, "{\"x\":\"y\"}");
    ASSERT_TRUE(r->s == PR_OK && pr_json_str_eq(&r->v[3], "y"));
    r = scan(k, "{\"sixteen_bytes_ab\":1}");
    ASSERT_TRUE(r->s == PR_OK && r->v[2].i == 1);
    pr_json_keys_free(k);
}

TEST(arena_contract) {
    pr_json_keys *k = keys_of(ev_keys, K_N);
    pr_err err;
    pr_json_value v[K_N];
    /* no arena: fine without escapes in wanted strings (others may have them) */
    const char *plain = "{\"typ\\u0065\":\"x\",\"other\":\"\\n\"}";
    ASSERT_OK(pr_json_scan(k, plain, strlen(plain), NULL, v, &err));
    ASSERT_TRUE(pr_json_str_eq(&v[K_TYPE], "x") && v[K_TYPE].text.ptr == plain + 14);
    const char *escaped = "{\"type\":\"\\n\"}";
    ASSERT_STATUS(pr_json_scan(k, escaped, strlen(escaped), NULL, v, &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "column 9: a string with escapes needs an arena");
    /* an arena that refuses */
    char buf[16];
    pr_arena small;
    pr_arena_init(&small, buf, sizeof buf, sizeof buf);
    const char *big = "{\"type\":\"\\n0123456789012345678901234567890123456789\"}";
    ASSERT_STATUS(pr_json_scan(k, big, strlen(big), &small, v, &err), PR_ERR_NOMEM);
    pr_arena_free(&small);
    pr_json_keys_free(k);
}

/* pr_event_parse_json on the scanner: ids, types, and what is counted. */
TEST(event_parse) {
    pr_err err;
    pr_event ev;
    const char *l1 = "{\"type\":\"\\u0063lick\",\"event_id\":7,\"impression_id\":3,\"ts\":-5}";
    ASSERT_OK(pr_event_parse_json(l1, strlen(l1), &ev, &err));
    ASSERT_EQ_INT(ev.type, PR_EVENT_CLICK);
    ASSERT_TRUE(ev.has_event_id && ev.event_id == 7 && ev.has_impression_id &&
                ev.impression_id == 3 && ev.has_ts && ev.ts_ms == -5);
    ASSERT_TRUE(ev.payload.ptr == l1 && ev.payload.len == strlen(l1));
    const char *l2 = "{\"type\":\"impressions\",\"event_id\":1.0,\"impression_id\":-1,\"ts\":\"1\"}";
    ASSERT_OK(pr_event_parse_json(l2, strlen(l2), &ev, &err));
    ASSERT_EQ_INT(ev.type, PR_EVENT_UNKNOWN);
    ASSERT_TRUE(!ev.has_event_id && !ev.has_impression_id && !ev.has_ts);
    const char *l3 = "{\"type\":\"conversion\",\"event_id\":1,\"impression_id\":2,\"ts\":3}\r";
    ASSERT_OK(pr_event_parse_json(l3, strlen(l3), &ev, &err));
    ASSERT_EQ_INT(ev.type, PR_EVENT_CONVERSION);
    const char *l4 = "{\"type\":\"click\",\"type\":\"impression\"}";
    ASSERT_STATUS(pr_event_parse_json(l4, strlen(l4), &ev, &err), PR_ERR_PARSE);
    ASSERT_CONTAINS(err.msg, "column 17: duplicate key \"type\"");
    const char *l5 = "{\"type\":\"click\",\"event_id\":1,\"impression_id\":1,\"ts\":1";
    ASSERT_STATUS(pr_event_parse_json(l5, strlen(l5), &ev, &err), PR_ERR_PARSE);
    ASSERT_CONTAINS(err.msg, "column 54: expected ',' or '}', got the end of the line");
    /* a long escaped type goes past the stack buffer: still decoded */
    char l6[600];
    int n = snprintf(l6, sizeof l6, "{\"type\":\"");
    for (int i = 0; i < 80; i++) n += snprintf(l6 + n, sizeof l6 - (size_t)n, "\\u0078");
    n += snprintf(l6 + n, sizeof l6 - (size_t)n, "\",\"event_id\":1}");
    ASSERT_OK(pr_event_parse_json(l6, (size_t)n, &ev, &err));
    ASSERT_EQ_INT(ev.type, PR_EVENT_UNKNOWN);
    ASSERT_TRUE(ev.has_event_id);
}

/* ------------------------------------------------------ differential */

typedef struct gen {
    uint64_t rng;
    char *buf;
    size_t len, cap;
} gen;

static uint64_t rnd(gen *g, uint64_t n) { return pr_splitmix64(&g->rng) % n; }
static void put(gen *g, const char *s, size_t n) {
    if (g->len + n + 1 > g->cap) {
        g->cap = (g->len + n + 1) * 2;
        g->buf = realloc(g->buf, g->cap);
    }
    memcpy(g->buf + g->len, s, n);
    g->len += n;
}
static void puts_(gen *g, const char *s) { put(g, s, strlen(s)); }
static void ws(gen *g) {
    static const char *w[] = {" ", "\t", "\n", "\r", "  "};
    if (rnd(g, 8) == 0) puts_(g, w[rnd(g, 5)]);
}

static void gen_string(gen *g) {
    static const char *pieces[] = {
        "a", "xyz", "impression", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t",
        "\\u00e9", "\\u20AC", "\\ud83d\\ude00", "\\u0041", "\\uFFFF", "\xC3\xA9",
        "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xEF\xBF\xBF", " ", "0123456789abcdef",
    };
    puts_(g, "\"");
    int n = (int)rnd(g, 6);
    for (int i = 0; i < n; i++) puts_(g, pieces[rnd(g, sizeof pieces / sizeof pieces[0])]);
    puts_(g, "\"");
}

static void gen_key(gen *g) {
    static const char *keys[] = {
        "\"type\"", "\"event_id\"", "\"ts\"", "\"a\"", "\"b\"", "\"\"", "\"\\u00e9\"",
        "\"\xC3\xA9\"", "\"k\\\"q\"", "\"tab\\there\"", "\"a_key_longer_than_sixteen_bytes\"",
        "\"a_key_longer_than_sixteen_bytez\"", "\"arr\"", "\"obj\"", "\"typ\\u0065\"",
        "\"other\"", "\"user_id\"", "\"t\"",
    };
    puts_(g, keys[rnd(g, sizeof keys / sizeof keys[0])]);
}

static void gen_value(gen *g, int depth);

static void gen_number(gen *g) {
    static const char *nums[] = {
        "0", "-0", "7", "-12", "1704067200184", "9223372036854775807", "-9223372036854775808",
        "9223372036854775808", "12345678901234567", "1.5", "-0.25e-3", "1E+2", "2e10",
        "1.7976931348623157e308", "1.7976931348623159e308", "1e309", "1e-400", "0.1e310",
        "123456789.123456789", "100000000000000000000000",
    };
    if (rnd(g, 3)) {
        char b[32];
        uint64_t r = pr_splitmix64(&g->rng); /* one call per statement: a fixed order */
        unsigned shift = (unsigned)rnd(g, 64);
        long long sign = rnd(g, 2) ? 1 : -1;
        snprintf(b, sizeof b, "%lld", (long long)(r >> 1 >> shift) * sign);
        puts_(g, b);
    } else {
        puts_(g, nums[rnd(g, sizeof nums / sizeof nums[0])]);
    }
}

static void gen_container(gen *g, int depth, int object) {
    puts_(g, object ? "{" : "[");
    int n = depth > 3 ? (int)rnd(g, 2) : (int)rnd(g, 5);
    for (int i = 0; i < n; i++) {
        if (i) puts_(g, ",");
        ws(g);
        if (object) {
            gen_key(g);
            ws(g);
            puts_(g, ":");
            ws(g);
        }
        gen_value(g, depth + 1);
        ws(g);
    }
    puts_(g, object ? "}" : "]");
}

static void gen_value(gen *g, int depth) {
    switch (rnd(g, depth > 6 ? 6 : 8)) {
    case 0: case 1: gen_string(g); break;
    case 2: case 3: gen_number(g); break;
    case 4: puts_(g, rnd(g, 2) ? "true" : "false"); break;
    case 5: puts_(g, "null"); break;
    case 6: gen_container(g, depth, 0); break;
    default: gen_container(g, depth, 1); break;
    }
}

static void gen_line(gen *g) {
    g->len = 0;
    ws(g);
    if (rnd(g, 40) == 0) { /* very deep, around the limit */
        int levels = 60 + (int)rnd(g, 8);
        puts_(g, "{\"arr\":");
        for (int i = 1; i < levels; i++) puts_(g, "[");
        for (int i = 1; i < levels; i++) puts_(g, "]");
        puts_(g, "}");
    } else {
        gen_container(g, 1, 1);
    }
    ws(g);
}

static void mutate(gen *g) {
    static const char bytes[] = "\"\\{}[],:0-.eE+u \x00\x01\x1F\x7F\x80\xBF\xC3\xED\xF4\xFFx";
    int n = 1 + (int)rnd(g, 3);
    for (int m = 0; m < n && g->len; m++) {
        size_t at = rnd(g, g->len);
        switch (rnd(g, 5)) {
        case 0: g->buf[at] = bytes[rnd(g, sizeof bytes - 1)]; break;
        case 1: memmove(g->buf + at, g->buf + at + 1, g->len - at - 1); g->len--; break;
        case 2:
            put(g, "x", 1); /* grow */
            memmove(g->buf + at + 1, g->buf + at, g->len - at - 1);
            g->buf[at] = bytes[rnd(g, sizeof bytes - 1)];
            break;
        case 3: g->len = at; break;
        default: { /* repeat a slice */
            size_t from = rnd(g, g->len), k = rnd(g, 12);
            if (from + k > g->len) k = g->len - from;
            char tmp[12];
            memcpy(tmp, g->buf + from, k);
            size_t tail = g->len - at;
            put(g, tmp, k);
            memmove(g->buf + at + k, g->buf + at, tail);
            memcpy(g->buf + at, tmp, k);
        }
        }
    }
}

TEST(differential_against_jansson) {
    gen g = {12345, NULL, 0, 0};
    int accepted = 0, refused = 0, mutated_accepted = 0;
    for (int i = 0; i < 6000; i++) {
        gen_line(&g);
        int mutated = i % 2;
        if (mutated) mutate(&g);
        /* an exact-size copy, so ASan catches reads past the end */
        uint8_t *copy = malloc(g.len ? g.len : 1);
        memcpy(copy, g.buf, g.len);
        diff_result d = json_diff_check(copy, g.len);
        free(copy);
        if (d == DIFF_BOTH_ACCEPT) {
            accepted++;
            mutated_accepted += mutated;
        } else {
            refused++;
        }
    }
    fprintf(stderr, "   differential: %d accepted by both, %d refused by both (%d mutated accepted)\n",
            accepted, refused, mutated_accepted);
    /* the check is only worth something if both outcomes are common */
    ASSERT_TRUE(accepted > 1500);
    ASSERT_TRUE(refused > 1500);
    ASSERT_TRUE(mutated_accepted > 50);
    free(g.buf);
}

/* The seed corpus of the fuzz target, through the same check. */
TEST(corpus_replay) {
    const char *src = getenv("PRONTO_SRC");
    if (!src) src = ".";
    char dir[512];
    snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/json_scan", src);
    const char *files[] = {"impression.json", "click_crlf.json", "escapes_ws.json",
                           "nested.json",     "numbers.json",    "long_keys_utf8.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[700];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        char *data;
        size_t len;
        pr_err err;
        ASSERT_OK(pr_read_file(path, &data, &len, &err));
        if (json_diff_check((const uint8_t *)data, len) != DIFF_BOTH_ACCEPT)
            TEST_FAIL("%s: expected a valid line", files[i]);
        free(data);
    }
}

int main(void) {
    pr_arena_init(&arena, NULL, 0, 0);
    RUN(keys_limits);
    RUN(event_line);
    RUN(every_kind);
    RUN(escapes_and_unicode);
    RUN(errors_with_columns);
    RUN(duplicates_absent_nested);
    RUN(whitespace);
    RUN(number_limits);
    RUN(key_matching);
    RUN(arena_contract);
    RUN(event_parse);
    RUN(differential_against_jansson);
    RUN(corpus_replay);
    free(last.copy);
    pr_arena_free(&arena);
    TEST_MAIN_END();
}
