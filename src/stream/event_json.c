/*
 * event_json.c: one JSON-lines event (docs/events.md) -> pr_event.
 *
 * Parsed with the strict one-pass scanner of base/json_scan.h (the whole
 * line must be one valid JSON object; nothing is built). Only type,
 * event_id, impression_id and ts are read; a missing key, a non-integer or
 * a negative id leaves the matching has_* at 0 and a type other than the
 * three known strings gives PR_EVENT_UNKNOWN: the joiner counts both. The
 * payload is the line itself, borrowed from the caller.
 *
 * The compiled key set is built once per process (pthread_once) and
 * shared read-only by every thread. A type string with escapes is
 * unescaped into a small stack buffer (an arena that mallocs only for an
 * absurdly long escaped type, freed before returning).
 */
#include <pthread.h>
#include <string.h>

#include "base/json_scan.h"
#include "pronto/stream.h"

enum { KEY_TYPE, KEY_EVENT_ID, KEY_IMPRESSION_ID, KEY_TS, KEY_COUNT };

static const char *const event_keys[KEY_COUNT] = {"type", "event_id", "impression_id", "ts"};
static pr_json_keys *keys;
static pr_status keys_status = PR_ERR_NOMEM;
static pthread_once_t keys_once = PTHREAD_ONCE_INIT;

static void keys_init(void) {
    pr_err err;
    keys_status = pr_json_keys_new(event_keys, KEY_COUNT, &keys, &err);
}

static int get_id(const pr_json_value *v, uint64_t *out) {
    int64_t x;
    if (!pr_json_int(v, &x) || x < 0) return 0;
    *out = (uint64_t)x;
    return 1;
}

pr_status pr_event_parse_json(const char *line, size_t len, pr_event *ev, pr_err *err) {
    memset(ev, 0, sizeof *ev);
    pthread_once(&keys_once, keys_init);
    if (keys_status != PR_OK)
        return pr_err_set(err, keys_status, "column 1: cannot set up the event key set");
    char buf[128];
    pr_arena arena;
    pr_arena_init(&arena, buf, sizeof buf, 0);
    pr_json_value v[KEY_COUNT];
    pr_status s = pr_json_scan(keys, line, len, &arena, v, err);
    if (s != PR_OK) goto done;
    if (pr_json_str_eq(&v[KEY_TYPE], "impression")) ev->type = PR_EVENT_IMPRESSION;
    else if (pr_json_str_eq(&v[KEY_TYPE], "click")) ev->type = PR_EVENT_CLICK;
    else if (pr_json_str_eq(&v[KEY_TYPE], "conversion")) ev->type = PR_EVENT_CONVERSION;
    else ev->type = PR_EVENT_UNKNOWN;
    ev->has_event_id = get_id(&v[KEY_EVENT_ID], &ev->event_id);
    ev->has_impression_id = get_id(&v[KEY_IMPRESSION_ID], &ev->impression_id);
    ev->has_ts = pr_json_int(&v[KEY_TS], &ev->ts_ms);
    ev->payload = pr_bytes_of(line, len);
done:
    pr_arena_free(&arena);
    return s;
}
