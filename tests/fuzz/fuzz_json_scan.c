/*
 * fuzz_json_scan.c: pr_json_scan against jansson on arbitrary bytes (the
 * input is one line). The two must take the same decision:
 *   - jansson refuses, or parses something other than an object: the
 *     scanner refuses;
 *   - jansson parses an object: the scanner accepts, unless the object
 *     nests deeper than PR_JSON_DEPTH_MAX or a wanted key appears twice at
 *     the top level (found here by walking the text and decoding every
 *     top-level key with jansson), where it refuses;
 *   - the input holds a NUL byte: the scanner refuses (jansson skips a
 *     NUL right after a number or a literal, a quirk of its lexer's unget;
 *     anywhere else it refuses too).
 * A refusal must be PR_ERR_PARSE with "column N: ..." and 1 <= N <= size+1.
 * When both accept, every wanted key agrees: absent in both, the same
 * kind, the same string bytes, the same integer (is_int, i and the text
 * read back with strtoll), the same double, and arrays/objects whose raw
 * text parses to a value json_equal to jansson's.
 *
 * json_diff_check() is also called by tests/test_json_scan.c on thousands
 * of generated and mutated lines; a disagreement prints the input and
 * aborts.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Event keys, short and long ones (the 16-byte compare and memcmp), the
 * empty key, non-ASCII, and keys that only match through escapes. */
static const char *const diff_keys[] = {
    "type", "event_id", "ts", "a", "b", "", "\xC3\xA9", "k\"q", "tab\there",
    "a_key_longer_than_sixteen_bytes", "a_key_longer_than_sixteen_bytez", "arr", "obj",
};
#define DIFF_NKEYS (sizeof diff_keys / sizeof diff_keys[0])

typedef enum { DIFF_BOTH_REJECT = 0, DIFF_BOTH_ACCEPT = 1 } diff_result;

static void diff_fail(const uint8_t *data, size_t size, const char *why, const char *detail) {
    fprintf(stderr, "json_scan differential: %s (%s)\ninput (%zu bytes): \"", why,
            detail ? detail : "", size);
    for (size_t i = 0; i < size; i++) {
        if (data[i] >= 0x20 && data[i] < 0x7F && data[i] != '"' && data[i] != '\\')
            fputc(data[i], stderr);
        else fprintf(stderr, "\\x%02X", data[i]);
    }
    fprintf(stderr, "\"\n");
    abort();
}

/* Walks valid JSON text (jansson accepted it): the deepest container
 * nesting (the top object is 1) and, for each wanted key, how often it is
 * a key of the top-level object. */
static int walk_valid(const uint8_t *p, size_t n, unsigned counts[DIFF_NKEYS]) {
    int depth = 0, max_depth = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t ch = p[i];
        if (ch == '{' || ch == '[') {
            if (++depth > max_depth) max_depth = depth;
        } else if (ch == '}' || ch == ']') {
            depth--;
        } else if (ch == '"') {
            size_t j = i + 1;
            while (p[j] != '"') j += p[j] == '\\' ? 2 : 1;
            size_t after = j + 1;
            while (after < n && (p[after] == ' ' || p[after] == '\t' || p[after] == '\n' ||
                                 p[after] == '\r'))
                after++;
            if (depth == 1 && after < n && p[after] == ':') {
                json_error_t je;
                json_t *key = json_loadb((const char *)p + i, j + 1 - i, JSON_DECODE_ANY, &je);
                if (!key || !json_is_string(key)) abort(); /* it was valid JSON */
                for (size_t w = 0; w < DIFF_NKEYS; w++)
                    if (json_string_length(key) == strlen(diff_keys[w]) &&
                        !memcmp(json_string_value(key), diff_keys[w], strlen(diff_keys[w])))
                        counts[w]++;
                json_decref(key);
            }
            i = j;
        }
    }
    return max_depth;
}

static void compare_values(const uint8_t *data, size_t size, json_t *root,
                           const pr_json_value *out) {
    for (size_t w = 0; w < DIFF_NKEYS; w++) {
        const pr_json_value *v = &out[w];
        json_t *j = json_object_get(root, diff_keys[w]);
        const char *key = diff_keys[w];
        if (!j) {
            if (v->kind != PR_JSON_ABSENT || v->text.ptr) diff_fail(data, size, "absent in jansson", key);
            continue;
        }
        switch (json_typeof(j)) {
        case JSON_STRING:
            if (v->kind != PR_JSON_STRING || v->text.len != json_string_length(j) ||
                memcmp(v->text.ptr, json_string_value(j), v->text.len) != 0)
                diff_fail(data, size, "string differs", key);
            break;
        case JSON_INTEGER: {
            char buf[32];
            if (v->kind != PR_JSON_NUMBER || !v->is_int || v->i != json_integer_value(j) ||
                v->text.len >= sizeof buf)
                diff_fail(data, size, "integer differs", key);
            memcpy(buf, v->text.ptr, v->text.len);
            buf[v->text.len] = 0;
            if (strtoll(buf, NULL, 10) != json_integer_value(j))
                diff_fail(data, size, "integer text differs", key);
            int64_t x;
            if (!pr_json_int(v, &x) || x != json_integer_value(j))
                diff_fail(data, size, "pr_json_int differs", key);
            break;
        }
        case JSON_REAL: {
            if (v->kind != PR_JSON_NUMBER || v->is_int) diff_fail(data, size, "real differs", key);
            char *buf = malloc(v->text.len + 1);
            if (!buf) abort();
            memcpy(buf, v->text.ptr, v->text.len);
            buf[v->text.len] = 0;
            double d = strtod(buf, NULL);
            free(buf);
            if (d != json_real_value(j)) diff_fail(data, size, "real value differs", key);
            break;
        }
        case JSON_TRUE:
            if (v->kind != PR_JSON_TRUE) diff_fail(data, size, "true differs", key);
            break;
        case JSON_FALSE:
            if (v->kind != PR_JSON_FALSE) diff_fail(data, size, "false differs", key);
            break;
        case JSON_NULL:
            if (v->kind != PR_JSON_NULL) diff_fail(data, size, "null differs", key);
            break;
        case JSON_ARRAY:
        case JSON_OBJECT: {
            pr_json_kind want = json_is_array(j) ? PR_JSON_ARRAY : PR_JSON_OBJECT;
            json_error_t je;
            json_t *again = v->kind == want ? json_loadb(v->text.ptr, v->text.len, 0, &je) : NULL;
            if (!again || !json_equal(again, j)) diff_fail(data, size, "container differs", key);
            json_decref(again);
            break;
        }
        }
    }
}

/* One differential check; aborts on a disagreement. */
static diff_result json_diff_check(const uint8_t *data, size_t size) {
    static pr_json_keys *keys; /* built once, reachable until exit */
    pr_err err;
    if (!keys && pr_json_keys_new(diff_keys, DIFF_NKEYS, &keys, &err) != PR_OK) abort();
    char arena_buf[64];
    pr_arena arena;
    pr_arena_init(&arena, arena_buf, sizeof arena_buf, 0);
    pr_json_value out[DIFF_NKEYS];
    pr_status s = pr_json_scan(keys, (const char *)data, size, &arena, out, &err);

    if (s != PR_OK) {
        unsigned long col = 0;
        if (s != PR_ERR_PARSE) diff_fail(data, size, "refused without PR_ERR_PARSE", err.msg);
        if (sscanf(err.msg, "column %lu: ", &col) != 1 || col < 1 || col > size + 1)
            diff_fail(data, size, "error without a valid column", err.msg);
    }

    json_error_t je;
    json_t *root = json_loadb((const char *)data, size, 0, &je);
    int expect_ok = root && json_is_object(root) && !memchr(data, 0, size);
    const char *why = !root ? je.text : "jansson: not an object, or a NUL byte";
    if (expect_ok) {
        unsigned counts[DIFF_NKEYS] = {0};
        if (walk_valid(data, size, counts) > PR_JSON_DEPTH_MAX) {
            expect_ok = 0;
            why = "deeper than PR_JSON_DEPTH_MAX";
        }
        for (size_t w = 0; w < DIFF_NKEYS; w++)
            if (counts[w] > 1) {
                expect_ok = 0;
                why = "a wanted key twice";
            }
    }
    if (expect_ok && s != PR_OK) diff_fail(data, size, "scanner refused what jansson took", err.msg);
    if (!expect_ok && s == PR_OK) diff_fail(data, size, "scanner took what it must refuse", why);
    if (expect_ok) compare_values(data, size, root, out);
    json_decref(root);
    pr_arena_free(&arena);
    return expect_ok ? DIFF_BOTH_ACCEPT : DIFF_BOTH_REJECT;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_diff_check(data, size);
    return 0;
}
