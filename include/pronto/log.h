/*
 * pronto/log.h: the event log, an append-only sequence of records (type,
 * event time in ms, payload bytes) behind one interface with backends chosen
 * by URI, like pronto/store.h:
 *
 *   "log:DIR[?OPTIONS]"  segment files in DIR (created if absent when opened
 *                        for writing; its parent must exist). docs/log.md.
 *   "redis-stream:HOST:PORT/KEY[?OPTIONS]"  one Redis stream KEY, one entry
 *                        per record (also "redis-stream:unix:PATH/KEY");
 *                        named consumers are consumer groups. docs/log.md.
 *
 * log: OPTIONS are NAME=VALUE pairs joined by '&':
 *   fsync=always      an append returns once its records are on disk
 *   fsync=batch:MS    group commit: appends wait for the next fdatasync, run
 *                     at most MS ms (1..10000) after the first pending write;
 *                     no acknowledged record is lost either
 *   fsync=off         the OS writes back when it likes: a process killed
 *                     with kill -9 loses nothing, a machine that loses power
 *                     loses what the kernel had not written (tens of seconds)
 *                     (default: always)
 *   segment_bytes=N   rotate when the active segment would grow beyond N
 *                     bytes (4096..2^40, default 128 MiB)
 *   segment_ms=N      also rotate a segment older than N ms (wall clock, from
 *                     its creation or the writer's open; default 0: never)
 *   retain_bytes=N    drop the oldest closed segments while the log holds
 *                     more than N bytes (default 0: keep all)
 *   retain_ms=N       drop closed segments last written more than N ms ago
 *                     (wall clock, file mtime; default 0: keep all)
 *   index_bytes=N     one time-index entry every N bytes (64..2^30, 4096)
 *   compress=zstd     a writer zstd-compresses each segment it closes, in
 *                     the background (default: none; pr_log_compact also
 *                     compresses). Positions, seeks and readers are the
 *                     same over compressed segments.
 * redis-stream: OPTIONS:
 *   maxlen=N          XADD MAXLEN ~ N: keep about the last N entries (Redis
 *                     trims whole nodes, so a few more; default 0: keep all)
 *   claim_ms=N        a consumer takes over entries another consumer of its
 *                     group was handed and has not committed for N ms
 *                     (XAUTOCLAIM at reader open; default 30000)
 *   timeout_ms=N, connect_timeout_ms=N, db=N   as for a redis: store
 *                     (default timeout_ms 2000)
 *   fsync= is refused: durability is the server's appendfsync (always: a
 *   reply means on disk; everysec: up to 1 s lost on power loss).
 * Anything else is refused with PR_ERR_INVALID naming the offending part.
 *
 * Positions. Every record has a position, opaque to callers, printable with
 * pr_log_pos_format and read back with pr_log_pos_parse (saved consumer
 * offsets). Positions grow in log order. (log: the byte offset of the
 * record among all record bytes ever written; redis-stream: the entry id
 * ms-seq, pos.a = ms and pos.b = seq.)
 *
 * Writers and readers. One process opens a log for writing (PR_LOG_WRITE; a
 * second writer is refused: flock on DIR/LOCK; redis-stream: any number of
 * writers, Redis orders their entries); any number open it read-only
 * (PR_LOG_READ), also while a writer appends. Only a writing open repairs a
 * torn tail (docs/log.md); a read-only open changes no file. Appends are
 * thread-safe. A reader (pr_log_reader) belongs to one thread; several
 * readers of one log may run in parallel with its appends. A reader sees
 * only whole records whose checksum holds; at the end of the written log
 * pr_log_next returns PR_EOF, and calling it again later returns records
 * appended meanwhile (tail -f). redis-stream: a call that finds Redis
 * unreachable fails with PR_ERR_IO naming HOST:PORT and a later call
 * reconnects by itself; an append whose reply was lost is reported failed
 * (it may have been applied: never an acknowledged loss).
 *
 * Ownership: records passed to append are borrowed for the call (copied to
 * the file). A record handed out by pr_log_next is borrowed until the next
 * call on that reader.
 */
#ifndef PRONTO_LOG_H
#define PRONTO_LOG_H

#include <stdint.h>

#include "pronto/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* pr_log is the logging function of base.h; the log handle is pr_event_log. */
typedef struct pr_event_log pr_event_log;
typedef struct pr_log_reader pr_log_reader;

/* Largest payload of one record, and largest n of one append. */
#define PR_LOG_PAYLOAD_MAX (16u << 20)
#define PR_LOG_BATCH_MAX (1u << 20)
/* Buffer size that holds any formatted position, NUL included. */
#define PR_LOG_POS_TEXT_MAX 48

/* Record types pronto writes; their payloads are in docs/log.md "Records":
 * an event (the JSON object as the client sent it, ts_ms its ts), a served
 * prediction, a logged feature row. Other values are the caller's. */
enum {
    PR_LOG_TYPE_EVENT = 1,
    PR_LOG_TYPE_PREDICTION = 2,
    PR_LOG_TYPE_FEATURES = 3
};

/* Longest consumer name (bytes; [A-Za-z0-9_.-] only). */
#define PR_LOG_CONSUMER_MAX 64

/* A position (opaque: compare with pr_log_pos_cmp, print, parse). */
typedef struct pr_log_pos {
    uint64_t a, b;
} pr_log_pos;

/* A record to append. */
typedef struct pr_log_entry {
    uint32_t type;      /* caller's record kind (event, prediction, ...) */
    int64_t ts_ms;      /* event time, Unix ms (any value; not required to grow) */
    pr_bytes payload;   /* borrowed; len <= PR_LOG_PAYLOAD_MAX */
} pr_log_entry;

/* A record read back. */
typedef struct pr_log_record {
    uint32_t type;
    int64_t ts_ms;
    pr_bytes payload;   /* borrowed until the next call on the reader */
    pr_log_pos pos;     /* where it is: save it to resume after it */
} pr_log_record;

enum { PR_LOG_READ = 0, PR_LOG_WRITE = 1 };

/* Opens a log. mode: PR_LOG_READ or PR_LOG_WRITE.
 * out: OUT: owned by caller, free with pr_log_close; NULL on failure.
 * Errors: PR_ERR_INVALID (unknown scheme or option, malformed value: the
 * message names it; a second writer), PR_ERR_IO (DIR cannot be created or
 * read), PR_ERR_FORMAT (a segment that is not a pronto log segment),
 * PR_ERR_VERSION (a segment of another format version: named). */
pr_status pr_log_open(const char *uri, int mode, pr_event_log **out, pr_err *err);

/* Syncs what was written (unless fsync=off), stops the flusher, frees all.
 * Readers of the log must be closed first. NULL is a no-op. */
void pr_log_close(pr_event_log *log);
/* 1 when s begins with the scheme of a log backend ("log:", "redis-stream:"):
 * a log URI rather than a file path. */
int pr_log_is_uri(const char *s);

/* Appends n records (1..PR_LOG_BATCH_MAX) in order, as one write; returns
 * when they are as durable as the fsync policy says. last: OUT (may be
 * NULL): the position of the last one.
 * Errors: PR_ERR_INVALID (read-only log, n out of range), PR_ERR_LIMIT
 * (payload too long), PR_ERR_IO (write or fsync failed: none of the n is
 * acknowledged; after a failed fsync the log refuses appends until it is
 * reopened, since the kernel may have dropped the dirty pages). */
pr_status pr_log_append(pr_event_log *log, const pr_log_entry *recs, uint32_t n,
                        pr_log_pos *last, pr_err *err);

/* Group commit across the caller's own work: appends as pr_log_append
 * but returns once the records are written, before the fsync policy's
 * wait, so the caller can do other work (the server applies the events to
 * its store) while the fsync runs, then call pr_log_sync(log, *last).
 * Readers may see the records before they are durable (as with
 * pr_log_append). last: required. A backend without the split
 * (redis-stream) appends in full here. Errors as pr_log_append; a failed
 * write leaves none of the n in the log. */
pr_status pr_log_append_nowait(pr_event_log *log, const pr_log_entry *recs, uint32_t n,
                               pr_log_pos *last, pr_err *err);

/* Returns once the record at pos (a position an append of this handle
 * handed out) and every record before it are as durable as the fsync
 * policy says (always, batch:MS: on disk; off: at once).
 * Errors: PR_ERR_IO (the fsync failed: the records may or may not be on
 * disk, and the log refuses appends until it is reopened). */
pr_status pr_log_sync(pr_event_log *log, pr_log_pos pos, pr_err *err);

/* Where a reader starts. */
typedef enum {
    PR_LOG_FROM_START = 0,  /* the oldest record kept */
    PR_LOG_FROM_TIME = 1,   /* the first record (in log order) with ts_ms >=
                             * from_ms, found through the time index, and
                             * every record after it (redis-stream: no time
                             * index, a scan from the oldest entry) */
    PR_LOG_AFTER_POS = 2,   /* the record after position `after` */
    PR_LOG_CONSUMER = 3     /* after the last position the named consumer
                             * committed (pr_log_commit); from the start if
                             * it never did. redis-stream: the consumer
                             * group of that name: first the entries it was
                             * handed and did not commit, then those of
                             * other members idle > claim_ms, then new ones */
} pr_log_start_kind;

typedef struct pr_log_start {
    pr_log_start_kind kind;
    int64_t from_ms;       /* PR_LOG_FROM_TIME */
    pr_log_pos after;      /* PR_LOG_AFTER_POS: a position this log handed out */
    const char *consumer;  /* PR_LOG_CONSUMER: its name (copied) */
    int skip_corrupt;      /* 1: a corrupt record of a closed segment (a
                            * malformed stream entry) is skipped (counted,
                            * pr_log_reader_corrupt) instead of stopping the
                            * reader with an error */
} pr_log_start;

/* Opens a reader. start NULL: from the start.
 * Errors: PR_ERR_INVALID (after: not the position of a record of this log),
 * PR_ERR_IO. A position older than what retention kept starts at the
 * oldest record kept (pr_log_reader_skipped says so). */
pr_status pr_log_reader_open(pr_event_log *log, const pr_log_start *start,
                             pr_log_reader **out, pr_err *err);

/* The next record: PR_OK and *out, or PR_EOF at the end of what is written
 * (call again later for more). Errors: PR_ERR_CHECKSUM or PR_ERR_TRUNCATED
 * for a corrupt record in a closed segment (the message names the segment
 * file and the byte offset; the reader stays there), PR_ERR_FORMAT
 * (redis-stream: an entry without t, ts or p, or a non-number: named by its
 * id; the reader stays there), PR_ERR_IO. */
pr_status pr_log_next(pr_log_reader *r, pr_log_record *out, pr_err *err);

/* 1 if the reader's start position had been dropped by retention. */
int pr_log_reader_skipped(const pr_log_reader *r);

/* Corrupt records (or spans) skipped under skip_corrupt so far. */
uint64_t pr_log_reader_corrupt(const pr_log_reader *r);

/* Longest metadata string of a commit (bytes, NUL excluded). */
#define PR_LOG_COMMIT_META_MAX 4096

/* Commits a consumer's progress: every record up to and including pos (a
 * position this reader handed out) is done, and a reader opened later with
 * PR_LOG_CONSUMER and the same name starts right after pos. meta (may be
 * NULL; at most PR_LOG_COMMIT_META_MAX bytes, no NUL) is stored with the
 * position, as Kafka's offset-commit metadata: what the consumer needs to
 * resume besides the position (e.g. the joiner's emitted cut). Atomic: a
 * crash leaves the previous or the new commit, never a mix (log: a file
 * per consumer, written to a temporary name, fsynced, renamed;
 * redis-stream: position and meta in HSET KEY:consumers NAME, in one
 * MULTI/EXEC with the XACK of the entries this reader handed out up to
 * pos).
 * Errors: PR_ERR_INVALID (the reader was not opened with PR_LOG_CONSUMER,
 * pos before its last commit), PR_ERR_LIMIT (meta too long), PR_ERR_IO. */
pr_status pr_log_commit(pr_log_reader *r, pr_log_pos pos, const char *meta, pr_err *err);

/* The meta of the commit a PR_LOG_CONSUMER reader started from: NULL if
 * the consumer never committed (or the reader is not a consumer's), ""
 * if it committed without meta. Owned by the reader. */
const char *pr_log_reader_commit_meta(const pr_log_reader *r);

void pr_log_reader_close(pr_log_reader *r);

/* Positions: -1, 0, 1 as a is before, at, after b. */
int pr_log_pos_cmp(pr_log_pos a, pr_log_pos b);
/* Writes pos as text into buf (cap >= PR_LOG_POS_TEXT_MAX). */
void pr_log_pos_format(const pr_event_log *log, pr_log_pos pos, char *buf, size_t cap);
/* Reads text written by pr_log_pos_format. Errors: PR_ERR_PARSE. */
pr_status pr_log_pos_parse(const pr_event_log *log, const char *text,
                           pr_log_pos *out, pr_err *err);

/* What the log holds and what happened since open. */
typedef struct pr_log_stats {
    uint64_t segments;      /* segment files (redis-stream: 1, 0 if empty) */
    uint64_t records;       /* whole records in them (XLEN) */
    uint64_t bytes;         /* their total size on disk (redis-stream: MEMORY
                             * USAGE, Redis' estimate) */
    int64_t min_ts_ms;      /* smallest / largest event time; 0, 0 if empty
                             * (redis-stream: of the first and last entries) */
    int64_t max_ts_ms;
    uint64_t torn_cuts;     /* torn or corrupt tails cut at open (0 or 1) */
    uint64_t torn_bytes;    /* bytes cut */
    uint64_t appended;      /* records appended since open */
    uint64_t fsyncs;        /* fdatasync calls since open */
    uint64_t dropped;       /* segments removed by retention since open */
    uint64_t compressed;    /* of the segments, stored compressed */
    uint64_t record_bytes;  /* uncompressed bytes of the records (framing
                             * included; bytes is what the files take) */
} pr_log_stats;

/* Fills *out (one consistent snapshot). Any thread. */
void pr_log_stats_get(pr_event_log *log, pr_log_stats *out);

/* A consumer and its last commit (pr_log_consumers). Borrowed for the
 * callback. */
typedef struct pr_log_consumer_info {
    const char *name;
    pr_log_pos pos;     /* the last committed position */
    const char *meta;   /* its meta ("" if none) */
} pr_log_consumer_info;

/* Calls fn once per named consumer that committed, in name order; a
 * nonzero return from fn stops the listing. Errors: PR_ERR_UNSUPPORTED
 * (the backend cannot list consumers), PR_ERR_FORMAT (a commit that does
 * not parse: named), PR_ERR_IO. */
pr_status pr_log_consumers(pr_event_log *log,
                           int (*fn)(void *ctx, const pr_log_consumer_info *c), void *ctx,
                           pr_err *err);

/* Progress of a long operation (verify, compact): done of total units
 * (bytes). Called from the calling thread; may be NULL. */
typedef void (*pr_log_progress_fn)(void *ctx, uint64_t done, uint64_t total);

typedef struct pr_log_verify_report {
    uint64_t segments;    /* segment files read */
    uint64_t compressed;  /* of them, compressed */
    uint64_t records;     /* records whose checksum holds */
    uint64_t bytes;       /* uncompressed record bytes read */
    uint64_t indexes;     /* index files checked against their segment */
    uint64_t torn_bytes;  /* unfinished bytes at the end of the active
                           * segment (a live writer's, or a crash's before
                           * the next writing open): not corruption */
} pr_log_verify_report;

/* Reads every record and checks every checksum, and what the backend
 * keeps besides (log: segment headers, compressed frames, each .idx file
 * against a scan of its segment). Errors: PR_ERR_CHECKSUM,
 * PR_ERR_TRUNCATED or PR_ERR_FORMAT at the first corruption, the message
 * naming the file and the byte offset; PR_ERR_IO. A backend without its
 * own check is read through a reader. out (may be NULL) is filled also on
 * failure, up to it. */
pr_status pr_log_verify(pr_event_log *log, pr_log_progress_fn progress, void *ctx,
                        pr_log_verify_report *out, pr_err *err);

typedef struct pr_log_compact_opts {
    uint64_t retain_bytes;  /* 0: the log's retain_bytes option */
    uint64_t retain_ms;     /* 0: the log's retain_ms option */
    int compress;           /* 1: compress every closed segment not yet compressed */
    pr_log_progress_fn progress;
    void *ctx;
} pr_log_compact_opts;

typedef struct pr_log_compact_result {
    uint64_t dropped;       /* segments removed by retention */
    uint64_t compressed;    /* segments compressed now */
    uint64_t bytes_before;  /* files' bytes before and after */
    uint64_t bytes_after;
} pr_log_compact_result;

/* Applies retention now and (o->compress) compresses the closed segments,
 * crash-safely: a crash at any point leaves one whole readable copy of
 * every segment, and readers open meanwhile keep working. Needs a log
 * opened for writing. o NULL: the log's options, no compression. out may
 * be NULL. Errors: PR_ERR_INVALID (read-only), PR_ERR_UNSUPPORTED (the
 * backend has nothing to compact), PR_ERR_IO. */
pr_status pr_log_compact(pr_event_log *log, const pr_log_compact_opts *o,
                         pr_log_compact_result *out, pr_err *err);

/* The backend's name ("log" or "redis-stream"); static, never NULL. */
const char *pr_log_backend(const pr_event_log *log);

#ifdef __cplusplus
}
#endif
#endif
