/*
 * base/json_scan.h: a fast, strict scanner that pulls a few wanted
 * top-level keys out of one JSON object (one line of a JSON-lines stream).
 * Internal to libpronto: included as "base/json_scan.h".
 *
 * Why not jansson: building a DOM costs ~3 us per 180-byte event line;
 * the dataset builder needs < 200 ns. The scanner makes one pass over the
 * line, allocates nothing unless a wanted string has escapes, and returns
 * borrowed slices of the line.
 *
 * Usage:
 *     static const char *const names[] = {"type", "event_id", "ts"};
 *     pr_json_keys *keys;                    // compile once, reuse per line
 *     pr_json_keys_new(names, 3, &keys, &err);
 *     pr_json_value v[3];
 *     pr_arena_reset(&arena);                // holds unescaped strings
 *     if (pr_json_scan(keys, line, len, &arena, v, &err) != PR_OK) ...
 *     int64_t id;
 *     if (pr_json_int(&v[1], &id)) ...      // v[1].kind == PR_JSON_NUMBER
 *
 * What is accepted (RFC 8259, strictly, for the whole line):
 *   - the line is one object; whitespace (space, tab, CR, LF) may stand
 *     around any token, so a trailing "\r" is fine; nothing else may follow;
 *   - nested arrays and objects are validated and skipped, up to
 *     PR_JSON_DEPTH_MAX levels counting the top object; deeper is refused;
 *   - strings: no raw control characters (< 0x20), valid UTF-8 only (no
 *     overlong forms, no encoded surrogates, nothing above U+10FFFF), the
 *     escapes \" \\ \/ \b \f \n \r \t \uXXXX, a \uD800-\uDBFF escape only
 *     as the first half of a surrogate pair;
 *   - numbers: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?.
 * Limits shared with jansson (which pronto used before; the fuzz target
 * checks that both take the same decisions): \u0000 is refused (keys and
 * values are handed on as C strings downstream); an integer literal (no
 * fraction, no exponent) must fit in int64_t; any other number must be
 * finite as a double. Keys are compared after unescaping ("typ\u0065"
 * is "type"). A wanted key present twice is refused (JSON does not define
 * which one wins); repeats of other keys, and keys of nested objects, are
 * not looked at (jansson with JSON_REJECT_DUPLICATES refused those too).
 *
 * Errors: PR_ERR_PARSE with "column N: what was expected, got what"
 * (N is a 1-based byte column). Everything is validated before PR_OK.
 */
#ifndef PRONTO_BASE_JSON_SCAN_H
#define PRONTO_BASE_JSON_SCAN_H

#include <stdint.h>

#include "pronto/base.h"

#define PR_JSON_KEYS_MAX 64      /* wanted keys per set */
#define PR_JSON_KEY_LEN_MAX 255  /* bytes of one wanted key */
#define PR_JSON_DEPTH_MAX 64     /* nesting, the top-level object is 1 */

/* A compiled set of wanted keys. Immutable once built: one set may be
 * shared by any number of threads scanning at the same time. */
typedef struct pr_json_keys pr_json_keys;

/* Compiles keys[0..n) (UTF-8, NUL-terminated, copied; n <= 64, each
 * <= 255 bytes, no two equal). The index of a key in keys is the index of
 * its value in pr_json_scan's out. *out is owned by caller, free with
 * pr_json_keys_free. PR_ERR_INVALID (naming the key) or PR_ERR_NOMEM. */
pr_status pr_json_keys_new(const char *const *keys, uint32_t n, pr_json_keys **out,
                           pr_err *err);
void pr_json_keys_free(pr_json_keys *k);
/* Number of keys in the set. */
uint32_t pr_json_keys_count(const pr_json_keys *k);

typedef enum {
    PR_JSON_ABSENT = 0,
    PR_JSON_STRING,
    PR_JSON_NUMBER,
    PR_JSON_TRUE,
    PR_JSON_FALSE,
    PR_JSON_NULL,
    PR_JSON_ARRAY,
    PR_JSON_OBJECT
} pr_json_kind;

/* One wanted key's value. text, by kind:
 *   ABSENT        {NULL, 0}
 *   STRING        the unescaped bytes (valid UTF-8, no NUL). Borrowed from
 *                 the line when the string has no escape, else from the
 *                 arena (NUL-terminated there); valid while both live.
 *   NUMBER        the literal as written ("-12", "1.5e3"), borrowed; when
 *                 it is written as an integer (no fraction, no exponent)
 *                 is_int is 1 and i holds its value (computed during the
 *                 scan: cheaper than converting the text afterwards)
 *   TRUE/FALSE/NULL  the literal, borrowed
 *   ARRAY/OBJECT  the raw text from '[' or '{' to the matching bracket,
 *                 validated, borrowed */
typedef struct pr_json_value {
    pr_json_kind kind;
    int is_int;     /* NUMBER only: written as an integer, value in i */
    int64_t i;
    pr_bytes text;
} pr_json_value;

/* Scans line[0..len) (need not be NUL-terminated; borrowed, never
 * written) and fills out[0..pr_json_keys_count(k)) in key order. arena:
 * where unescaped wanted strings go (nothing else is allocated); may be
 * NULL if no wanted string will have escapes, else such a string gives
 * PR_ERR_INVALID. Returns PR_OK, PR_ERR_PARSE ("column N: ..."), or
 * PR_ERR_NOMEM when the arena refuses. On failure out is unspecified. */
pr_status pr_json_scan(const pr_json_keys *k, const char *line, size_t len, pr_arena *arena,
                       pr_json_value *out, pr_err *err);

/* If v is a NUMBER written as an integer (no fraction, no exponent),
 * stores it in *out and returns 1; else returns 0. Never overflows: the
 * scanner refused integers outside int64_t. */
static inline int pr_json_int(const pr_json_value *v, int64_t *out) {
    if (!v->is_int) return 0;
    *out = v->i;
    return 1;
}

/* 1 if v is a STRING whose bytes equal the NUL-terminated s. */
int pr_json_str_eq(const pr_json_value *v, const char *s);

#endif
