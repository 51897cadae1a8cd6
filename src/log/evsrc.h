/*
 * evsrc.h: one source of event JSON lines for join, build-dataset,
 * materialize, train and skew: either JSON-lines files read in turn (what
 * the spec's events source or the command line names), or an event log
 * (`--events URI`: log:DIR, redis-stream:..., anything pr_log_open takes),
 * of which only PR_LOG_TYPE_EVENT records are handed out (their payload is
 * the event object exactly as sent, docs/log.md), others skipped.
 *
 * Where a line came from is a pr__evloc, printed by pr__evsrc_where as
 * "FILE:LINE" for files and "URI@POS" for a log (the record's position,
 * what `pronto log cat` shows and a consumer commits).
 *
 * Also here: pr__replay_track, the small bookkeeping a resumable consumer
 * of a log needs to find a sound restart position (docs/log.md "Readers").
 *
 * Ownership: the source owns its reader, log handle and buffers; a line is
 * borrowed until the next call. One thread.
 */
#ifndef PRONTO_EVSRC_H
#define PRONTO_EVSRC_H

#include <stdint.h>

#include "pronto/base.h"
#include "pronto/log.h"

typedef struct pr__evsrc pr__evsrc;

typedef struct pr__evloc {
    uint32_t file;      /* files: index into paths */
    uint64_t line;      /* files: 1-based line number */
    pr_log_pos pos;     /* log: the record's position */
    int64_t log_ts_ms;  /* log: the record's event time */
} pr__evloc;

typedef struct pr__evsrc_opts {
    const char *uri;                /* an event log URI, or NULL: files */
    const char *const *paths;       /* files in reading order ("-": stdin) */
    uint32_t n_paths;
    /* log only; at most one of them: */
    int64_t from_ms;                /* INT64_MIN: from the start; else
                                       PR_LOG_FROM_TIME */
    const char *consumer;           /* PR_LOG_CONSUMER (--resume NAME) */
    int has_after;                  /* PR_LOG_AFTER_POS `after` */
    pr_log_pos after;
} pr__evsrc_opts;

/* Errors: those of pr_log_open / pr_log_reader_open (the message names the
 * URI), PR_ERR_INVALID (no input given). Files are opened one by one as
 * they are reached, so a missing one is an error of pr__evsrc_next. */
pr_status pr__evsrc_open(const pr__evsrc_opts *o, pr__evsrc **out, pr_err *err);

/* The next line (without its newline; not NUL-terminated; borrowed until
 * the next call) and where it is. PR_OK, PR_EOF at the end of every file /
 * of what the log holds now, PR_ERR_LIMIT for an over-long line of a file
 * (skipped; *loc says where), or an I/O or log error (the message names
 * the file or the log position). Blank lines are handed out too. */
pr_status pr__evsrc_next(pr__evsrc *s, const char **line, size_t *len, pr__evloc *loc,
                         pr_err *err);

/* "FILE:LINE" or "URI@POS" into buf. */
void pr__evsrc_where(const pr__evsrc *s, const pr__evloc *loc, char *buf, size_t cap);

/* The log (NULL for files) and its reader. */
pr_event_log *pr__evsrc_log(const pr__evsrc *s);
pr_log_reader *pr__evsrc_reader(const pr__evsrc *s);
/* Records of other types skipped so far. */
uint64_t pr__evsrc_skipped(const pr__evsrc *s);

void pr__evsrc_close(pr__evsrc *s);

/* ------------------------------------------------------ restart positions
 *
 * A consumer that replays the log into a joiner (or any state that only
 * depends on events with ts >= some T) can restart after the position P of
 * the last record before the first record, in log order, with ts >= T:
 * every record at or before P has ts < T. The tracker keeps (pos, ts) of
 * the records read since the last P (pushed in processing order) and
 * finds P for a growing T. Memory: the records between P and now. */
typedef struct pr__replay_track {
    struct pr__replay_rec { pr_log_pos pos; int64_t ts; } *v;
    size_t head, n, cap;   /* a ring */
    int has_base;
    pr_log_pos base;       /* P so far: the last record dropped, or the
                              position the reader started after */
} pr__replay_track;

void pr__replay_init(pr__replay_track *t, int has_base, pr_log_pos base);
/* 0 when out of memory. */
int pr__replay_push(pr__replay_track *t, pr_log_pos pos, int64_t ts);
/* Drops the oldest records while their ts < T; 1 and *p = P if there is
 * one (a record was dropped now or before, or the reader started after a
 * position), else 0 (restart from the start). T must not decrease. */
int pr__replay_point(pr__replay_track *t, int64_t T, pr_log_pos *p);
void pr__replay_free(pr__replay_track *t);

#endif
