/*
 * pronto/stream.h: the label joiner. Impressions are joined to their clicks
 * and conversions by impression id within an attribution window; a labeled
 * impression comes out once its window has closed. See docs/joiner.md.
 *
 *   pr_joiner *j;  pr_joiner_opts o;
 *   pr_joiner_opts_default(&o);
 *   pr_joiner_new(&o, &j, &err);
 *   for each event:  pr_joiner_push(j, &ev, &err);
 *                    while (pr_joiner_poll(j, &lab) == PR_OK) use(lab);
 *   at the end:      pr_joiner_flush(j); drain pr_joiner_poll the same way;
 *   pr_joiner_free(j);
 *
 * Time. The watermark is the largest ts pushed minus the allowed lateness.
 * An event with ts < watermark is too late: counted, dropped. An impression
 * at t is final once watermark > t + window; the strict '>' keeps a click at
 * exactly t + window in the window even with zero lateness.
 *
 * Label. 1 when a click for the impression has t <= click ts <= t + window;
 * converted likewise for a conversion. Clicks arriving after the impression
 * was emitted are never applied afterwards: they are too late (ts below the
 * watermark) or outside its window, and are counted, never re-emitted.
 *
 * Determinism. Labeled impressions come out in (ts, impression_id) order.
 * Duplicate event ids are dropped, so a stream replayed twice, or reordered
 * within the lateness, gives exactly the same labeled impressions.
 */
#ifndef PRONTO_STREAM_H
#define PRONTO_STREAM_H

#include <stdint.h>

#include "pronto/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    PR_EVENT_UNKNOWN = 0,  /* a type the joiner does not know: counted */
    PR_EVENT_IMPRESSION = 1,
    PR_EVENT_CLICK = 2,
    PR_EVENT_CONVERSION = 3
} pr_event_type;

/* One event as the joiner sees it. has_* say which fields were present: an
 * event missing its event_id, impression_id or ts is counted and dropped. */
typedef struct pr_event {
    pr_event_type type;
    uint64_t event_id;
    uint64_t impression_id;
    int64_t ts_ms;          /* Unix milliseconds */
    int has_event_id, has_impression_id, has_ts;
    pr_bytes payload;       /* impressions: bytes handed back with the label
                               (e.g. the raw JSON line); copied by push */
} pr_event;

/* Fills ev from one JSON object (docs/events.md): keys type, event_id,
 * impression_id, ts; other keys are ignored. ev->payload is set to the
 * line itself (borrowed from the caller). An unknown type string gives
 * PR_EVENT_UNKNOWN, a missing or non-integer id leaves has_* at 0: both
 * are PR_OK (the joiner counts them). Not a JSON object: PR_ERR_PARSE with
 * "column N: what" in err. */
pr_status pr_event_parse_json(const char *line, size_t len, pr_event *ev, pr_err *err);

typedef struct pr_joiner_opts {
    int64_t window_ms;        /* attribution window (default 2 h) */
    int64_t lateness_ms;      /* allowed out-of-orderness (default 10 min) */
    int64_t dedup_horizon_ms; /* event ids are remembered until their ts is
                                 this far below the watermark (default 0:
                                 older events are too late anyway) */
} pr_joiner_opts;

void pr_joiner_opts_default(pr_joiner_opts *o);

typedef struct pr_joiner_stats {
    uint64_t events;               /* pushed, all kinds */
    uint64_t impressions;          /* accepted impressions */
    uint64_t clicks;               /* accepted clicks */
    uint64_t conversions;          /* accepted conversions */
    uint64_t duplicates;           /* dropped: event id already seen (or
                                      impression id already pending) */
    uint64_t too_late;             /* dropped: ts < watermark */
    uint64_t unattributed_clicks;  /* label nothing: outside the impression's
                                      window, or its impression never seen
                                      (or already emitted) */
    uint64_t unattributed_conversions; /* the same for conversions */
    uint64_t unknown_type;         /* dropped: type not known */
    uint64_t missing_ids;          /* dropped: no event_id, impression_id or ts */
    uint64_t labeled;              /* labeled impressions emitted */
    uint64_t positives;            /* of which label = 1 */
    uint64_t converted;            /* of which converted = 1 */
} pr_joiner_stats;

/* A labeled impression. payload is borrowed, valid until the next call on
 * the joiner (push, poll, flush, free). */
typedef struct pr_labeled {
    uint64_t impression_id;
    int64_t ts_ms;
    int label;               /* clicked within the window */
    int converted;           /* converted within the window */
    int64_t click_delay_ms;  /* earliest click - ts, or -1 without a click */
    pr_bytes payload;
} pr_labeled;

typedef struct pr_joiner pr_joiner;

/* *out owned by caller, free with pr_joiner_free. PR_ERR_INVALID when a
 * duration is negative. */
pr_status pr_joiner_new(const pr_joiner_opts *o, pr_joiner **out, pr_err *err);
/* Every well-formed call returns PR_OK, also for events that are dropped
 * (counted in the stats). PR_ERR_NOMEM when memory runs out (the event is
 * not applied); PR_ERR_INVALID after pr_joiner_flush. */
pr_status pr_joiner_push(pr_joiner *j, const pr_event *ev, pr_err *err);
/* The next final labeled impression: PR_OK with *out filled, or PR_EOF when
 * none is final yet. */
pr_status pr_joiner_poll(pr_joiner *j, pr_labeled *out);
/* End of input: every window closes; poll then drains the rest. Pushing
 * after flush is an error. */
void pr_joiner_flush(pr_joiner *j);
void pr_joiner_stats_get(const pr_joiner *j, pr_joiner_stats *out);
/* Impressions and early click/conversion groups (awaiting their
 * impression) held right now. */
size_t pr_joiner_pending(const pr_joiner *j);
/* Event ids held for deduplication right now. */
size_t pr_joiner_dedup_size(const pr_joiner *j);
/* The watermark (largest ts accepted minus the lateness): 1 and *wm, or 0
 * before any event was accepted. Every impression with ts + window < *wm
 * has been emitted (or is pollable now), none with ts + window >= *wm has:
 * what a resumable consumer keeps as its cut (docs/joiner.md). */
int pr_joiner_watermark(const pr_joiner *j, int64_t *wm);
void pr_joiner_free(pr_joiner *j);

#ifdef __cplusplus
}
#endif
#endif
