/*
 * event_json.c: one JSON-lines event (docs/events.md) -> pr_event.
 *
 * Parsed with jansson (the whole line must be one JSON object). Only type,
 * event_id, impression_id and ts are read; a missing key, a non-integer or
 * a negative id leaves the matching has_* at 0 and a type other than the
 * three known strings gives PR_EVENT_UNKNOWN: the joiner counts both. The
 * payload is the line itself, borrowed from the caller.
 */
#include <jansson.h>
#include <string.h>

#include "pronto/stream.h"

static int get_int(json_t *obj, const char *key, int64_t *out, int nonneg) {
    json_t *v = json_object_get(obj, key);
    if (!v || !json_is_integer(v)) return 0;
    json_int_t x = json_integer_value(v);
    if (nonneg && x < 0) return 0;
    *out = (int64_t)x;
    return 1;
}

pr_status pr_event_parse_json(const char *line, size_t len, pr_event *ev, pr_err *err) {
    memset(ev, 0, sizeof *ev);
    json_error_t je;
    json_t *obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    if (!obj)
        return pr_err_set(err, PR_ERR_PARSE, "column %d: %s", je.column > 0 ? je.column : 1,
                          je.text);
    if (!json_is_object(obj)) {
        json_decref(obj);
        return pr_err_set(err, PR_ERR_PARSE, "column 1: expected a JSON object");
    }
    json_t *type = json_object_get(obj, "type");
    const char *t = type && json_is_string(type) ? json_string_value(type) : "";
    if (!strcmp(t, "impression")) ev->type = PR_EVENT_IMPRESSION;
    else if (!strcmp(t, "click")) ev->type = PR_EVENT_CLICK;
    else if (!strcmp(t, "conversion")) ev->type = PR_EVENT_CONVERSION;
    else ev->type = PR_EVENT_UNKNOWN;
    int64_t v;
    if ((ev->has_event_id = get_int(obj, "event_id", &v, 1))) ev->event_id = (uint64_t)v;
    if ((ev->has_impression_id = get_int(obj, "impression_id", &v, 1)))
        ev->impression_id = (uint64_t)v;
    ev->has_ts = get_int(obj, "ts", &ev->ts_ms, 0);
    ev->payload = pr_bytes_of(line, len);
    json_decref(obj);
    return PR_OK;
}
