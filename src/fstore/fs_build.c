/*
 * fs_build.c: the point-in-time dataset builder (`pronto build-dataset`).
 *
 * One pass over the event stream in file order (files sorted by name;
 * events in non-decreasing ts, as pronto simulate writes them), or over
 * the event records of a log in log order (opts.events_uri; both through
 * src/log/evsrc.c, so both give the same bytes), merged with
 * the entity tables' rows by effective time (a row effective at t applies
 * before an event at t). For each impression:
 *
 *   1. assemble its features as of its ts from the state as it stands:
 *      every earlier event applied, this impression and everything after it
 *      not (no leakage by construction);
 *   2. featurize (the one featurizer) and hand the example to the label
 *      joiner as the impression's payload;
 *   3. apply the impression to the aggregates.
 *
 * Clicks and conversions go to the joiner and the aggregates. An event the
 * joiner drops as a duplicate (same event id) or too late is not applied to
 * the aggregates either, so replaying a stream twice gives the same
 * dataset. Labeled impressions come out of the joiner once their
 * attribution window closes, in (ts, impression id) order, into the output
 * whose time range holds their ts.
 *
 * Lookahead: lines are read and parsed AHEAD events before they are
 * processed (each in its own slot of a ring, with its own arena and a copy
 * of the line), so that the rows an event will touch can be prefetched
 * while earlier events are processed (fs_ahead.h): the slots AHEAD events
 * before, the rows AHEAD_ROWS events before. Events are still processed
 * one at a time in stream order, bad lines reported in order: the
 * lookahead changes when memory is loaded, nothing else.
 *
 * Materialize (a store, no outputs): the fs writes through a write-back
 * overlay (fs_overlay.c) that reaches the store, with the replay's
 * position, in one atomic commit every COMMIT_EVENTS events; on a rerun the
 * events before the stored position feed the joiner only (details at
 * commit_state below). From a log the position is one in the log, with a
 * restart point (pr__replay_track) so a rerun need not read the log from
 * its start.
 *
 * Logged features (opts.logged): an impression's example is its logged
 * row (fs_logged.c) instead of an assembly; no state is built. The
 * on_event hook sees every event with its assembled row (pronto skew).
 *
 * Ownership: everything is released before return; outputs are written
 * atomically (a failed build leaves no file under an output's name).
 */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/cache_encoded.h"
#include "data/reader_int.h"
#include "fstore/fs_ahead.h"
#include "fstore/fs_build_int.h"
#include "fstore/fs_overlay.h"
#include "log/evsrc.h"
#include "pronto/cache.h"
#include "pronto/stream.h"

#define REPORT_MAX 5
#define AHEAD 8      /* events parsed ahead (a power of two) */
#define AHEAD_ROWS 3 /* events ahead whose rows are prefetched */

/* One line read ahead: its parse, or why it has none. */
typedef struct ahead_line {
    pr_arena arena;     /* the line's copy, the parse, compound keys */
    pr__evloc loc;      /* where it came from */
    pr_bytes line;      /* its copy, in arena */
    pr_status rc;       /* PR_OK: ev holds the event; PR_EOF: a blank
                           line; else a malformed line (err) */
    pr_err err;
    pr_fs_event ev;
    pr__fs_ahead pf;
    const char *where;  /* pushed with a name for messages (in arena), or NULL */
} ahead_line;

typedef struct out_file {
    pr_cache_writer *cache;
    pr_atomic_file *csv;
    char *buf;          /* csv write buffer */
    size_t len;
} out_file;

/* Where a materialize replay stands: every event with ts < ts_ms, and the
 * first at_ts events (in stream order) with ts == ts_ms, are in the
 * state. ts_ms INT64_MIN: nothing yet. */
typedef struct position {
    int64_t ts_ms;
    uint64_t at_ts;
} position;

struct pr_fs_builder {
    int materialize;          /* state into a store, through the overlay */
    position resume;          /* what the store held at the start */
    uint64_t resume_seen;     /* events at resume.ts_ms met so far */
    position pos;             /* what the state holds now */
    /* Materializing from a log (o->events_uri): positions, not times. */
    int from_log;
    int has_applied;          /* the store holds every record up to ... */
    pr_log_pos applied;       /* ... this one (read at the start, then moved) */
    int resume_has_applied;
    pr_log_pos resume_applied;/* what the store held at the start */
    int has_start;            /* the store's restart point P (a run reads */
    pr_log_pos start;         /*   after it; from the start without one) */
    pr__replay_track track;   /* finds P for the next commit */
    const pr__evloc *cur;     /* the record being processed */
    pr_bytes cur_line;        /* its text */
    pr__evsrc *src;           /* the events: files or a log */
    int64_t window_ms;        /* the joiner's */
    uint64_t since_commit;    /* events since the last commit */
    pr_fs *fs;
    pr_featurizer *fz;
    pr_joiner *j;
    const pr_fs_build_opts *o;
    pr_fs_build_stats *st;
    pr_fs_build_opts opts;    /* o points here (a copy of the caller's) */
    pr_fs_build_stats stats;  /* st points here */
    uint64_t head, tail;      /* lines [head, tail) pushed, not processed */
    pr_progress *pg;          /* pr_fs_build's progress line, or NULL */
    int flushed;              /* pr_fs_builder_flush ran */
    double t0;
    glob_t g;                 /* pr_fs_build: the event files */
    int have_glob;
    out_file *out;
    pr_arena arena;     /* per event */
    pr_arena emit_arena;/* per emitted impression (on_labeled) */
    ahead_line ahead[AHEAD];
    char *payload;      /* packing buffer */
    size_t payload_cap;
    pr__fs_updates tables;
    size_t next_update;
};
typedef struct pr_fs_builder builder;

#define CSV_BUF (1u << 20)

static pr_status csv_put(out_file *f, const char *p, size_t n, pr_err *err) {
    if (f->len + n > CSV_BUF) {
        pr_status rc = pr_atomic_write(f->csv, f->buf, f->len, err);
        f->len = 0;
        if (rc != PR_OK) return rc;
        if (n > CSV_BUF) return pr_atomic_write(f->csv, p, n, err);
    }
    memcpy(f->buf + f->len, p, n);
    f->len += n;
    return PR_OK;
}

/* RFC 4180: quote a field holding a comma, quote, CR or LF. */
static size_t csv_field(char *dst, pr_bytes v) {
    int quote = 0;
    for (size_t i = 0; i < v.len; i++)
        if (v.ptr[i] == ',' || v.ptr[i] == '"' || v.ptr[i] == '\n' ||
            v.ptr[i] == '\r')
            quote = 1;
    if (!quote) {
        if (v.len) memcpy(dst, v.ptr, v.len);
        return v.len;
    }
    size_t o = 0;
    dst[o++] = '"';
    for (size_t i = 0; i < v.len; i++) {
        if (v.ptr[i] == '"') dst[o++] = '"';
        dst[o++] = v.ptr[i];
    }
    dst[o++] = '"';
    return o;
}

static int output_of(const pr_fs_build_opts *o, int64_t ts) {
    int k = -1;
    for (uint32_t i = 0; i < o->n_outputs; i++)
        if (ts >= o->outputs[i].from_ms) k = (int)i;
    if (k >= 0 && o->outputs[k].to_ms && ts >= o->outputs[k].to_ms) k = -1;
    return k;
}

static pr_status ensure_payload(builder *b, size_t n, pr_err *err) {
    if (n <= b->payload_cap) return PR_OK;
    size_t cap = b->payload_cap ? b->payload_cap : 4096;
    while (cap < n) cap *= 2;
    char *p = realloc(b->payload, cap);
    if (!p) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    b->payload = p;
    b->payload_cap = cap;
    return PR_OK;
}

/* Payload (what the joiner holds for an impression until its label):
 *   OFFSET  SIZE  DESCRIPTION
 *   0       4     n: features
 *   4       4     E: bytes of the encoded example (0 without a cache output)
 *   8       4     C: bytes of the CSV text (0 without a CSV output)
 *   12      E     the example as the output's cache stores it, without its
 *                 label (cache_encoded.h)
 *   12+E    C     the CSV text of the assembled columns, each after a
 *                 comma (id, ts and label come at output time)
 *   12+E+C  12n   with on_labeled only: the n pr_features as they are in
 *                 memory (handed to the callback at emission)
 */
#define PAYLOAD_HEAD 12u

/* texts: the columns' texts (logged rows), or NULL: row's. */
/* k: the output, or -1 (no output takes it: only on_labeled sees it). */
static pr_status pack(builder *b, int k, const pr_fs_row *row, const pr_bytes *given,
                      int64_t ts_ms, const pr_example *x, size_t *len, pr_err *err) {
    static const out_file none;
    const out_file *of = k >= 0 ? &b->out[k] : &none;
    size_t enc_max = of->cache ? pr__cache_encoded_max(x->n) : 0;
    size_t csv_max = 0, raw = b->o->on_labeled ? (size_t)x->n * sizeof(pr_feature) : 0;
    pr_bytes *texts = NULL;
    uint32_t nc = pr_fs_n_columns(b->fs);
    if (of->csv) {
        texts = pr_arena_alloc(&b->arena, (size_t)nc * sizeof *texts);
        if (!texts) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
        for (uint32_t c = 0; c < nc; c++) {
            texts[c] = given ? given[c] : pr_fs_row_text(b->fs, row, c, &b->arena);
            csv_max += texts[c].len * 2 + 3;
        }
    }
    pr_status rc = ensure_payload(b, PAYLOAD_HEAD + enc_max + csv_max + raw, err);
    if (rc != PR_OK) return rc;
    size_t o = PAYLOAD_HEAD;
    uint32_t enc_len = 0;
    if (of->cache) {
        /* Weight 1, the impression's time; the label comes with emit. */
        pr_example u = {.label = 0.0f, .weight = 1.0f, .ts = ts_ms / 1000,
                        .n = x->n, .f = x->f};
        size_t e = pr__cache_writer_encode(of->cache, &u,
                                           (uint8_t *)b->payload + o, err);
        if (e == 0) return err->status;
        enc_len = (uint32_t)e;
        o += e;
    }
    size_t csv_start = o;
    for (uint32_t c = 0; of->csv && c < nc; c++) {
        b->payload[o++] = ',';
        o += csv_field(b->payload + o, texts[c]);
    }
    uint32_t n = x->n, csv_len = (uint32_t)(o - csv_start);
    if (raw) {
        memcpy(b->payload + o, x->f, raw);
        o += raw;
    }
    memcpy(b->payload, &n, 4);
    memcpy(b->payload + 4, &enc_len, 4);
    memcpy(b->payload + 8, &csv_len, 4);
    *len = o;
    return PR_OK;
}

static pr_status emit(builder *b, const pr_labeled *lab, pr_err *err) {
    int k = output_of(b->o, lab->ts_ms);
    if ((k < 0 && !b->o->on_labeled) || lab->payload.len < PAYLOAD_HEAD) return PR_OK;
    uint32_t n, enc_len, csv_len;
    memcpy(&n, lab->payload.ptr, 4);
    memcpy(&enc_len, lab->payload.ptr + 4, 4);
    memcpy(&csv_len, lab->payload.ptr + 8, 4);
    const char *enc = lab->payload.ptr + PAYLOAD_HEAD;
    if (b->o->on_labeled) {
        /* The features, copied out of the joiner's bytes (aligned). */
        size_t raw = (size_t)n * sizeof(pr_feature);
        if (PAYLOAD_HEAD + (size_t)enc_len + csv_len + raw > lab->payload.len)
            return pr_err_set(err, PR_ERR_INVALID, "impression %llu: short payload",
                              (unsigned long long)lab->impression_id);
        pr_arena_reset(&b->emit_arena);
        pr_feature *f = pr_arena_alloc(&b->emit_arena, raw ? raw : 1);
        if (!f) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
        if (raw) memcpy(f, enc + enc_len + csv_len, raw);
        pr_example x = {.label = lab->label ? 1.0f : 0.0f, .weight = 1.0f,
                        .ts = lab->ts_ms / 1000 - (lab->ts_ms % 1000 < 0), .n = n, .f = f};
        pr_fs_labeled l = {lab->impression_id, lab->ts_ms, lab->label, k, &x};
        pr_status rc = b->o->on_labeled(b->o->on_labeled_ctx, &l, err);
        if (rc != PR_OK) return rc;
        if (k < 0) return PR_OK;
    }
    out_file *of = &b->out[k];
    pr_status rc = PR_OK;
    if (of->cache)
        rc = pr__cache_writer_add_encoded(of->cache, (const uint8_t *)enc,
                                          enc_len, n, lab->label, err);
    if (rc == PR_OK && of->csv) {
        char head[64];
        int hl = snprintf(head, sizeof head, "%llu,%lld,%d",
                          (unsigned long long)lab->impression_id,
                          (long long)lab->ts_ms, lab->label);
        rc = csv_put(of, head, (size_t)hl, err);
        if (rc == PR_OK) rc = csv_put(of, enc + enc_len, csv_len, err);
        if (rc == PR_OK) rc = csv_put(of, "\n", 1, err);
    }
    b->st->labeled[k]++;
    if (lab->label) b->st->positives[k]++;
    return rc;
}

static pr_status drain(builder *b, pr_err *err) {
    pr_labeled lab;
    while (pr_joiner_poll(b->j, &lab) == PR_OK) {
        pr_status rc = emit(b, &lab, err);
        if (rc != PR_OK) return rc;
    }
    return PR_OK;
}

static pr_status apply_tables_until(builder *b, int64_t ts, pr_err *err) {
    while (b->next_update < b->tables.n &&
           b->tables.v[b->next_update].effective_ms <= ts) {
        pr_status rc =
            pr__fs_put_update(b->fs, &b->tables.v[b->next_update], err);
        if (rc != PR_OK) return rc;
        b->next_update++;
        b->st->table_rows++;
    }
    return PR_OK;
}

static pr_event_type joiner_type(pr_bytes t) {
    if (t.len == 10 && !memcmp(t.ptr, "impression", 10)) return PR_EVENT_IMPRESSION;
    if (t.len == 5 && !memcmp(t.ptr, "click", 5)) return PR_EVENT_CLICK;
    if (t.len == 10 && !memcmp(t.ptr, "conversion", 10)) return PR_EVENT_CONVERSION;
    return PR_EVENT_UNKNOWN;
}

static pr_status one_event(builder *b, const pr_fs_event *ev, pr_err *err) {
    if (b->o->until_ms && ev->has_ts && ev->ts_ms > b->o->until_ms) {
        b->st->after_until++;
        return PR_OK;
    }
    /* Resuming: events the store's state already holds go to the joiner
     * (so its duplicate detection ends as in an uninterrupted run) but not
     * to the aggregates again. */
    int already = 0;
    if (b->materialize && b->from_log) {
        /* A log: the records up to the stored position are in the state. */
        already = b->resume_has_applied && pr_log_pos_cmp(b->cur->pos, b->resume_applied) <= 0;
        if (already) b->st->already_applied++;
        if (ev->has_ts && ev->ts_ms > b->pos.ts_ms) b->pos.ts_ms = ev->ts_ms;
    } else if (ev->has_ts && b->materialize) {
        if (ev->ts_ms < b->resume.ts_ms)
            already = 1;
        else if (ev->ts_ms == b->resume.ts_ms && b->resume_seen++ < b->resume.at_ts)
            already = 1;
        if (already) {
            b->st->already_applied++;
        } else if (ev->ts_ms > b->pos.ts_ms) {
            b->pos.ts_ms = ev->ts_ms;
            b->pos.at_ts = 1;
        } else if (ev->ts_ms == b->pos.ts_ms) {
            b->pos.at_ts++;
        }
    }
    pr_status rc = apply_tables_until(b, ev->ts_ms, err);
    if (rc != PR_OK) return rc;
    pr_event je = {joiner_type(ev->type), ev->event_id, ev->impression_id,
                   ev->ts_ms, ev->has_event_id, ev->has_impression_id,
                   ev->has_ts, {NULL, 0}};
    int imp = je.type == PR_EVENT_IMPRESSION && ev->has_ts;
    int k = imp ? output_of(b->o, ev->ts_ms) : -1;
    /* on_labeled sees every impression, in an output's range or not. */
    int want = k >= 0 || (imp && b->o->on_labeled);
    pr_fs_row row;
    const pr_fs_row *assembled = NULL;
    if (imp && (want || b->o->on_event) && !b->o->logged) {
        rc = pr_fs_assemble(b->fs, ev->ts_ms, ev->cols, NULL, 0, NULL, 1,
                            &b->arena, &row, err);
        if (rc != PR_OK) return rc;
        assembled = &row;
    }
    if (b->o->on_event) {
        rc = b->o->on_event(b->o->on_event_ctx, b->cur_line, ev, b->fs, assembled, &b->arena, err);
        if (rc != PR_OK) return rc;
    }
    const pr_bytes *logged = NULL;
    if (want && b->o->logged) {
        /* What serving saw, as the featurizer received it. */
        logged = pr_fs_logged_find(b->o->logged, b->cur_line.ptr, b->cur_line.len, &b->arena,
                                   NULL);
        if (logged) {
            memset(&row, 0, sizeof row);
            row.rec.weight = 1.0f;
            row.rec.ts = ev->ts_ms / 1000 - (ev->ts_ms % 1000 < 0);
            row.rec.n_cols = pr_fs_n_columns(b->fs);
            row.rec.cols = logged;
            assembled = &row;
        } else if (k >= 0) {
            b->st->unlogged++;
        }
    }
    if (want && assembled) {
        pr_example x;
        rc = pr_featurizer_apply(b->fz, &assembled->rec, &b->arena, &x, err);
        if (rc != PR_OK) return rc;
        size_t len = 0;
        rc = pack(b, k, assembled, logged, ev->ts_ms, &x, &len, err);
        if (rc != PR_OK) return rc;
        je.payload = pr_bytes_of(b->payload, len);
        if (k >= 0) b->st->impressions++;
    }
    pr_joiner_stats before, after;
    pr_joiner_stats_get(b->j, &before);
    rc = pr_joiner_push(b->j, &je, err);
    if (rc != PR_OK) return rc;
    pr_joiner_stats_get(b->j, &after);
    if (!already && !b->o->logged && after.duplicates == before.duplicates &&
        after.too_late == before.too_late &&
        after.missing_ids == before.missing_ids) {
        rc = pr_fs_apply_event(b->fs, ev, &b->arena, err);
        if (rc != PR_OK) return rc;
    }
    return drain(b, err);
}

/* Materializing into a store keeps, in the store's "__pronto" entity:
 *
 *   "materialized:<fingerprint>"  the replay's position (per spec: the key
 *       is the featurizer's fingerprint), 24 bytes little-endian:
 *         OFFSET  SIZE  DESCRIPTION
 *         0       4     magic "PPOS"
 *         4       4     version 1
 *         8       8     ts_ms: latest event time in the state
 *         16      8     at_ts: events with exactly ts_ms in the state (in
 *                       stream order; several events may share a ts)
 *       The 8-byte value of earlier versions (ts_ms alone) still reads, as
 *       "every event at ts_ms".
 *   "sentinel"  JSON text: which spec (name, fingerprint) materialized the
 *       store and when; written by the last commit of a complete run. A
 *       server reading a store without it knows the store is empty or was
 *       wiped (docs/store.md).
 *
 * Both are committed with the rows they describe, in one atomic
 * pr_store_put_multi (fs_overlay.c), every COMMIT_EVENTS events (or
 * opts.commit_events, materialize --commit-every) and at the
 * end: killed at any instant, the store holds the state of a prefix of the
 * stream and that prefix's position, so a rerun applies each event once. */
#define WATERMARK_ENTITY "__pronto"
#define SENTINEL_KEY "sentinel"
#define COMMIT_EVENTS 20000u
#define COMMIT_BYTES ((size_t)64 << 20)
#define POSITION_BYTES 24u
/* From an event log (materialize --events URI), "materialized:<fp>" is
 * instead 48 bytes little-endian:
 *   OFFSET  SIZE  DESCRIPTION
 *   0       4     magic "PLOG"
 *   4       4     version 1
 *   8       16    applied: the log position (pr_log_pos a, b) of the last
 *                 record whose event is in the state
 *   24      4     1 if applied is set (0: no record yet)
 *   28      4     1 if start is set (0: a rerun reads from the start)
 *   32      16    start P: a rerun reads the records after P, feeding those
 *                 up to applied to the joiner only (its duplicate and
 *                 lateness decisions then match an uninterrupted run's:
 *                 every record at or before P has ts < watermark - window,
 *                 docs/joiner.md "Resuming"), and applies the rest.
 * A log's records are not in time order, so a (ts, count) position would
 * not say which records are in the state; a position in the log does. */
#define LOG_POSITION_BYTES 48u

static uint64_t ld_u64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static void st_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static void watermark_key(const builder *b, char *buf, size_t cap) {
    snprintf(buf, cap, "materialized:%016llx",
             (unsigned long long)pr_featurizer_fingerprint(b->fz));
}

static pr_status read_watermark(builder *b, pr_store *st, pr_err *err) {
    char key[64];
    watermark_key(b, key, sizeof key);
    pr_bytes row;
    pr_status rc = pr_store_get(st, pr_bytes_of(WATERMARK_ENTITY, strlen(WATERMARK_ENTITY)),
                                pr_bytes_of(key, strlen(key)), 0, &row, err);
    if (rc == PR_ERR_NOTFOUND) return PR_OK;
    if (rc != PR_OK) return rc;
    int is_log = row.len == LOG_POSITION_BYTES && !memcmp(row.ptr, "PLOG", 4) &&
                 pr__ld_u32((const uint8_t *)row.ptr + 4) == 1;
    if (is_log != b->from_log && (is_log || row.len == 8 || row.len == POSITION_BYTES))
        return pr_err_set(err, PR_ERR_INVALID,
                          "store: materialized for this spec from %s; materialize it from "
                          "the same source (%s), or into another store",
                          is_log ? "an event log" : "event files",
                          is_log ? "the event log" : "the spec's event files");
    if (is_log) {
        const uint8_t *v = (const uint8_t *)row.ptr;
        b->resume_applied.a = ld_u64(v + 8);
        b->resume_applied.b = ld_u64(v + 16);
        b->resume_has_applied = (int)(pr__ld_u32(v + 24) & 1);
        b->has_start = (int)(pr__ld_u32(v + 28) & 1);
        b->start.a = ld_u64(v + 32);
        b->start.b = ld_u64(v + 40);
        b->has_applied = b->resume_has_applied;
        b->applied = b->resume_applied;
        return PR_OK;
    }
    if (row.len == 8) {
        memcpy(&b->resume.ts_ms, row.ptr, 8);
        b->resume.at_ts = UINT64_MAX;
    } else if (row.len == POSITION_BYTES && !memcmp(row.ptr, "PPOS", 4) &&
               pr__ld_u32((const uint8_t *)row.ptr + 4) == 1) {
        b->resume.ts_ms = pr__ld_i64((const uint8_t *)row.ptr + 8);
        memcpy(&b->resume.at_ts, row.ptr + 16, 8);
    } else {
        return pr_err_set(err, PR_ERR_FORMAT,
                          "store: %s/%s holds %zu bytes, not a materialize position "
                          "(written by a newer pronto?)",
                          WATERMARK_ENTITY, key, row.len);
    }
    b->pos = b->resume;
    return PR_OK;
}

/* Commits the rows written since the last commit with the position (and,
 * at the end of a run, the sentinel): one atomic write. */
static pr_status commit_state(builder *b, int final, pr_err *err) {
    char key[64], val[LOG_POSITION_BYTES], sentinel[512];
    size_t val_len = POSITION_BYTES;
    watermark_key(b, key, sizeof key);
    if (b->from_log) {
        int64_t wm, T = INT64_MIN;
        if (pr_joiner_watermark(b->j, &wm) && __builtin_sub_overflow(wm, b->window_ms, &T))
            T = INT64_MIN;
        b->has_start = pr__replay_point(&b->track, T, &b->start);
        uint8_t *v = (uint8_t *)val;
        memset(v, 0, LOG_POSITION_BYTES);
        memcpy(v, "PLOG", 4);
        pr__st_u32(v + 4, 1);
        st_u64(v + 8, b->applied.a);
        st_u64(v + 16, b->applied.b);
        pr__st_u32(v + 24, (uint32_t)b->has_applied);
        pr__st_u32(v + 28, (uint32_t)b->has_start);
        st_u64(v + 32, b->start.a);
        st_u64(v + 40, b->start.b);
        val_len = LOG_POSITION_BYTES;
    } else {
        memcpy(val, "PPOS", 4);
        pr__st_u32((uint8_t *)val + 4, 1);
        pr__st_i64((uint8_t *)val + 8, b->pos.ts_ms);
        memcpy(val + 16, &b->pos.at_ts, 8);
    }
    char name[201];
    snprintf(name, sizeof name, "%s", b->fs->spec->name ? b->fs->spec->name : "");
    for (char *c = name; *c; c++) /* a JSON string whatever the name holds */
        if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20) *c = '_';
    int sl = snprintf(sentinel, sizeof sentinel,
                      "{\"spec\":\"%s\",\"fingerprint\":\"%016llx\","
                      "\"materialized_at\":%lld,\"position_ts_ms\":%lld}",
                      name,
                      (unsigned long long)pr_featurizer_fingerprint(b->fz),
                      (long long)pr_unix_time(), (long long)b->pos.ts_ms);
    pr_bytes ent = pr_bytes_of(WATERMARK_ENTITY, strlen(WATERMARK_ENTITY));
    pr_bytes ents[2] = {ent, ent};
    pr_bytes keys[2] = {pr_bytes_of(key, strlen(key)), pr_bytes_of(SENTINEL_KEY, strlen(SENTINEL_KEY))};
    pr_bytes vals[2] = {pr_bytes_of(val, val_len), pr_bytes_of(sentinel, (size_t)sl)};
    int64_t exp[2] = {0, 0};
    b->since_commit = 0;
    return pr__fs_overlay_commit(b->fs, ents, keys, vals, exp, final ? 2 : 1, err);
}

static pr_status event_files(const pr_fs *fs, const pr_fs_build_opts *o,
                             glob_t *g, pr_err *err) {
    memset(g, 0, sizeof *g);
    const pr__source_spec *src = NULL;
    for (uint32_t s = 0; s < fs->ss->n_sources; s++)
        if (fs->ss->sources[s].kind == PR__SOURCE_EVENTS) src = &fs->ss->sources[s];
    if (!src)
        return pr_err_set(err, PR_ERR_SPEC,
                          "%s: no events source (sources: kind: events)",
                          fs->spec->name);
    if (o->events_uri) return PR_OK; /* the events come from a log */
    char pattern[4096];
    if (src->path[0] == '/' || !o->data_dir)
        snprintf(pattern, sizeof pattern, "%s", src->path);
    else
        snprintf(pattern, sizeof pattern, "%s/%s", o->data_dir, src->path);
    int r = glob(pattern, 0, NULL, g);
    if (r == GLOB_NOMATCH || (r == 0 && g->gl_pathc == 0))
        return pr_err_set(err, PR_ERR_IO, "%s: no event files match",
                          pattern);
    if (r != 0) return pr_err_set(err, PR_ERR_IO, "%s: glob failed", pattern);
    return PR_OK;
}

/* Fills slot l with a copy of line and its parse: parsed, blank, or
 * malformed (rc, err). PR_OK, or PR_ERR_NOMEM. */
static pr_status fill_slot(builder *b, ahead_line *l, const char *line, size_t len,
                           const char *where, pr_err *err) {
    pr_arena_reset(&l->arena);
    l->where = NULL;
    if (where) {
        size_t wl = strlen(where);
        char *w = pr_arena_alloc(&l->arena, wl + 1);
        if (!w) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
        memcpy(w, where, wl + 1);
        l->where = w;
    }
    size_t k = 0;
    while (k < len && (line[k] == ' ' || line[k] == '\t')) k++;
    if (k == len) {
        l->rc = PR_EOF;
        return PR_OK;
    }
    /* The line is only valid until the next read: parse a copy. */
    char *copy = pr_arena_alloc(&l->arena, len + 1);
    if (!copy) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    memcpy(copy, line, len);
    copy[len] = '\0';
    l->line = pr_bytes_of(copy, len);
    l->rc = pr_fs_event_parse(b->fs, copy, len, &l->arena, &l->ev, &l->err);
    if (l->rc == PR_OK) pr__fs_ahead_slots(b->fs, &l->ev, &l->arena, &l->pf);
    return PR_OK;
}

/* Processes one line read ahead. */
/* A log record processed (whatever it held): the state now includes it. */
static pr_status log_done(builder *b, const ahead_line *l, pr_err *err) {
    if (!b->from_log || !b->materialize) return PR_OK;
    /* Replaying the records the store already holds moves nothing: a
     * commit among them still says all of them are in. */
    if (!b->has_applied || pr_log_pos_cmp(l->loc.pos, b->applied) > 0) {
        b->has_applied = 1;
        b->applied = l->loc.pos;
    }
    int64_t ts = l->rc == PR_OK && l->ev.has_ts ? l->ev.ts_ms : INT64_MIN;
    if (!pr__replay_push(&b->track, l->loc.pos, ts))
        return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    return PR_OK;
}

static pr_status run_line(builder *b, ahead_line *l, pr_err *err) {
    b->st->lines++;
    if (l->rc == PR_EOF) return log_done(b, l, err);
    if (l->rc != PR_OK) {
        *err = l->err;
        char where[PR_ERR_MSG_MAX];
        if (l->where)
            snprintf(where, sizeof where, "%s", l->where);
        else if (b->src)
            pr__evsrc_where(b->src, &l->loc, where, sizeof where);
        else
            snprintf(where, sizeof where, "event line %llu", (unsigned long long)b->st->lines);
        if (++b->st->bad_lines <= REPORT_MAX)
            pr_log(PR_LOG_WARN, "%s: %s", where, err->msg);
        if (b->st->bad_lines > b->o->max_bad)
            return pr_err_set(err, PR_ERR_PARSE,
                              "%s: more than %llu malformed event "
                              "lines (the most allowed)",
                              where, (unsigned long long)b->o->max_bad);
        return log_done(b, l, err);
    }
    pr_arena_reset(&b->arena);
    b->st->events++;
    b->cur = &l->loc;
    b->cur_line = l->line;
    pr_status rc = one_event(b, &l->ev, err);
    if (rc == PR_OK) rc = log_done(b, l, err);
    if (rc != PR_OK) return rc;
    if (b->materialize) {
        uint32_t rows;
        size_t bytes;
        pr__fs_overlay_pending(b->fs, &rows, &bytes);
        uint32_t every = b->o->commit_events ? b->o->commit_events : COMMIT_EVENTS;
        if (++b->since_commit >= every || bytes >= COMMIT_BYTES) {
            rc = commit_state(b, 0, err);
            if (rc != PR_OK) return rc;
        }
    }
    if (b->pg && (b->st->lines & 0xffff) == 0)
        pr_progress_update(b->pg, b->st->impressions, NULL, 0);
    return PR_OK;
}

/* Processes the oldest line pushed, first prefetching the rows of the
 * line AHEAD_ROWS after it. */
static pr_status run_oldest(builder *b, pr_err *err) {
    if (b->tail - b->head > AHEAD_ROWS) {
        ahead_line *l = &b->ahead[(b->head + AHEAD_ROWS) % AHEAD];
        if (l->rc == PR_OK) pr__fs_ahead_rows(b->fs, &l->ev, &l->pf);
    }
    pr_status rc = run_line(b, &b->ahead[b->head % AHEAD], err);
    b->head++;
    return rc;
}

/* The slot the next line goes to; processes the oldest line when the ring
 * is full (lines are processed AHEAD pushes after they came). */
static pr_status next_slot(builder *b, ahead_line **out, pr_err *err) {
    if (b->flushed)
        return pr_err_set(err, PR_ERR_INVALID, "builder: a push after the flush");
    if (b->tail - b->head == AHEAD) {
        pr_status rc = run_oldest(b, err);
        if (rc != PR_OK) return rc;
    }
    *out = &b->ahead[b->tail % AHEAD];
    return PR_OK;
}

static pr_status push_loc(builder *b, const char *line, size_t len, const pr__evloc *loc,
                          const char *where, pr_err *err) {
    ahead_line *l = NULL;
    pr_status rc = next_slot(b, &l, err);
    if (rc != PR_OK) return rc;
    if (loc) l->loc = *loc;
    else memset(&l->loc, 0, sizeof l->loc);
    rc = fill_slot(b, l, line, len, where, err);
    if (rc == PR_OK) b->tail++;
    return rc;
}

pr_status pr_fs_builder_push(pr_fs_builder *b, const char *line, size_t len, const char *where,
                             pr_err *err) {
    return push_loc(b, line, len, NULL, where, err);
}

pr_status pr_fs_builder_advance(pr_fs_builder *b, pr_err *err) {
    while (b->head < b->tail) {
        pr_status rc = run_oldest(b, err);
        if (rc != PR_OK) return rc;
    }
    return PR_OK;
}

/* pr_fs_build's loop: every line of the source through the ring. */
static pr_status run_events(builder *b, pr_err *err) {
    for (;;) {
        const char *line = NULL;
        size_t len = 0;
        pr__evloc loc;
        pr_status rc = pr__evsrc_next(b->src, &line, &len, &loc, err);
        if (rc == PR_EOF) break;
        if (rc == PR_ERR_LIMIT) { /* over-long line: malformed, in its turn */
            ahead_line *l = NULL;
            pr_err limit = *err;
            rc = next_slot(b, &l, err);
            if (rc != PR_OK) return rc;
            pr_arena_reset(&l->arena);
            l->loc = loc;
            l->where = NULL;
            l->rc = PR_ERR_LIMIT;
            l->err = limit;
            b->tail++;
            continue;
        }
        if (rc != PR_OK) {
            /* a read error, after the lines before it */
            pr_err read_err = *err;
            rc = pr_fs_builder_advance(b, err);
            if (rc != PR_OK) return rc;
            *err = read_err;
            return read_err.status;
        }
        rc = push_loc(b, line, len, &loc, NULL, err);
        if (rc != PR_OK) return rc;
    }
    return pr_fs_builder_advance(b, err);
}

static pr_status open_outputs(builder *b, const pr_spec *spec, pr_err *err) {
    uint64_t fp = pr_featurizer_fingerprint(b->fz);
    (void)spec;
    for (uint32_t k = 0; k < b->o->n_outputs; k++) {
        const pr_fs_build_output *o = &b->o->outputs[k];
        out_file *f = &b->out[k];
        pr_status rc = PR_OK;
        if (o->cache_path)
            rc = pr_cache_writer_open(o->cache_path, pr_featurizer_hash_bits(b->fz),
                                      pr_featurizer_n_fields(b->fz), fp,
                                      &f->cache, err);
        if (rc == PR_OK && o->csv_path) {
            rc = pr_atomic_open(o->csv_path, &f->csv, err);
            f->buf = malloc(CSV_BUF);
            if (rc == PR_OK && !f->buf)
                rc = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
            if (rc == PR_OK) {
                rc = csv_put(f, "impression_id,ts_ms,label", 25, err);
                for (uint32_t c = 0; rc == PR_OK && c < pr_fs_n_columns(b->fs); c++) {
                    const char *name = pr_fs_column_name(b->fs, c);
                    rc = csv_put(f, ",", 1, err);
                    if (rc == PR_OK) rc = csv_put(f, name, strlen(name), err);
                }
                if (rc == PR_OK) rc = csv_put(f, "\n", 1, err);
            }
        }
        if (rc != PR_OK) return rc;
    }
    return PR_OK;
}

static pr_status close_outputs(builder *b, pr_status rc, pr_err *err) {
    for (uint32_t k = 0; k < b->o->n_outputs; k++) {
        out_file *f = &b->out[k];
        if (f->cache) {
            if (rc == PR_OK) rc = pr_cache_writer_close(f->cache, err);
            else pr_cache_writer_abort(f->cache);
        }
        if (f->csv) {
            if (rc == PR_OK && f->len) rc = pr_atomic_write(f->csv, f->buf, f->len, err);
            if (rc == PR_OK) rc = pr_atomic_commit(f->csv, err);
            else pr_atomic_abort(f->csv);
        }
        free(f->buf);
    }
    return rc;
}

pr_status pr_fs_builder_new(const pr_spec *spec, const pr_fs_build_opts *opts,
                            pr_fs_builder **out, pr_err *err) {
    *out = NULL;
    if (opts->n_outputs > PR_FS_BUILD_MAX_OUTPUTS)
        return pr_err_set(err, PR_ERR_INVALID, "0..%u outputs, not %u",
                          PR_FS_BUILD_MAX_OUTPUTS, opts->n_outputs);
    builder *bp = calloc(1, sizeof *bp);
    if (!bp) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    builder *b = bp;
    b->opts = *opts;
    b->o = &b->opts;
    b->st = &b->stats;
    const pr_fs_build_opts *o = b->o;
    b->resume.ts_ms = b->pos.ts_ms = INT64_MIN;
    b->t0 = pr_now();
    pr_arena_init(&b->arena, NULL, 0, 0);
    pr_arena_init(&b->emit_arena, NULL, 0, 0);
    for (uint32_t i = 0; i < AHEAD; i++) pr_arena_init(&b->ahead[i].arena, NULL, 0, 0);
    pr_status rc = pr_fs_open(spec, o->store, &b->fs, err);
    if (rc == PR_OK) rc = pr_featurizer_new(spec, &b->fz, err);
    if (rc == PR_OK && pr_featurizer_needs_fit(b->fz))
        rc = pr_err_set(err, PR_ERR_SPEC,
                        "%s: quantile transforms are not supported by "
                        "build-dataset yet; use bins with edges",
                        spec->name);
    if (rc == PR_OK) {
        const char *names[PR_FS_MAX_COLUMNS];
        uint32_t n = pr_fs_n_columns(b->fs);
        if (n > PR_FS_MAX_COLUMNS) n = PR_FS_MAX_COLUMNS;
        for (uint32_t c = 0; c < n; c++) names[c] = pr_fs_column_name(b->fs, c);
        rc = pr_featurizer_bind(b->fz, names, n, err);
    }
    pr_joiner_opts jo;
    pr_joiner_opts_default(&jo);
    if (o->window_ms) jo.window_ms = o->window_ms;
    if (o->lateness_ms) jo.lateness_ms = o->lateness_ms;
    b->window_ms = jo.window_ms;
    b->from_log = o->events_uri != NULL;
    if (rc == PR_OK) rc = pr_joiner_new(&jo, &b->j, err);
    if (rc == PR_OK) rc = pr__fs_read_tables(b->fs, o->data_dir, &b->tables, err);
    b->materialize = o->store && o->n_outputs == 0;
    if (rc == PR_OK && b->materialize) rc = read_watermark(b, o->store, err);
    if (rc == PR_OK && b->materialize) rc = pr__fs_overlay_install(b->fs, err);
    b->out = calloc(o->n_outputs ? o->n_outputs : 1, sizeof *b->out);
    if (rc == PR_OK && !b->out) rc = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    if (rc == PR_OK) rc = open_outputs(b, spec, err);
    if (rc != PR_OK) {
        pr_fs_builder_close(b, rc, NULL, err);
        return rc;
    }
    *out = b;
    return PR_OK;
}

pr_status pr_fs_builder_flush(pr_fs_builder *b, pr_err *err) {
    if (b->flushed) return PR_OK;
    pr_status rc = pr_fs_builder_advance(b, err);
    b->flushed = 1;
    /* Table rows after the last event still belong to the state. */
    if (rc == PR_OK)
        rc = apply_tables_until(b, b->o->until_ms ? b->o->until_ms : INT64_MAX, err);
    if (rc == PR_OK) {
        pr_joiner_flush(b->j);
        rc = drain(b, err);
    }
    if (rc == PR_OK && b->materialize) rc = commit_state(b, 1, err);
    return rc;
}

void pr_fs_builder_stats_get(const pr_fs_builder *b, pr_fs_build_stats *st) {
    *st = b->stats;
    if (b->j) pr_joiner_stats_get(b->j, &st->joiner);
    if (b->fs) pr_fs_stats_get(b->fs, &st->fs);
    st->seconds = pr_now() - b->t0;
    if (b->src) st->other_records = pr__evsrc_skipped(b->src);
}

pr_featurizer *pr_fs_builder_featurizer(const pr_fs_builder *b) { return b->fz; }

int pr_fs_builder_watermark(const pr_fs_builder *b, int64_t *wm) {
    return b->j ? pr_joiner_watermark(b->j, wm) : 0;
}

pr_status pr_fs_builder_close(pr_fs_builder *b, pr_status rc, pr_fs_build_stats *st,
                              pr_err *err) {
    if (!b) return rc;
    if (rc == PR_OK && !b->flushed)
        rc = pr_err_set(err, PR_ERR_INVALID, "builder: closed before its flush");
    if (b->out) rc = close_outputs(b, rc, err);
    if (st) pr_fs_builder_stats_get(b, st);
    pr__evsrc_close(b->src);
    pr__replay_free(&b->track);
    if (b->have_glob) globfree(&b->g);
    free(b->out);
    free(b->payload);
    pr__fs_updates_free(&b->tables);
    pr_arena_free(&b->arena);
    pr_arena_free(&b->emit_arena);
    for (uint32_t i = 0; i < AHEAD; i++) pr_arena_free(&b->ahead[i].arena);
    pr_joiner_free(b->j);
    pr_featurizer_free(b->fz);
    pr_fs_free(b->fs);
    free(b);
    return rc;
}

void pr_fs_builder_free(pr_fs_builder *b) {
    if (!b) return;
    pr_err e;
    pr_err_clear(&e);
    pr_fs_builder_close(b, PR_ERR_INVALID, NULL, &e);
}

/* The builder fed from its source: the spec's event files, or a log. */
pr_status pr_fs_build(const pr_spec *spec, const pr_fs_build_opts *o,
                      pr_fs_build_stats *st, pr_err *err) {
    memset(st, 0, sizeof *st);
    builder *b;
    pr_status rc = pr_fs_builder_new(spec, o, &b, err);
    if (rc != PR_OK) return rc;
    if (!o->tables_only) {
        rc = event_files(b->fs, b->o, &b->g, err);
        b->have_glob = rc == PR_OK && !b->from_log;
    }
    if (rc == PR_OK && !o->tables_only) {
        /* A log replays from its start (the aggregates need the whole
         * history), or, materializing, after the store's restart point. */
        pr__evsrc_opts so = {.uri = o->events_uri, .from_ms = INT64_MIN};
        if (!b->from_log) {
            so.paths = (const char *const *)b->g.gl_pathv;
            so.n_paths = (uint32_t)b->g.gl_pathc;
        } else if (b->has_start) {
            so.has_after = 1;
            so.after = b->start;
        }
        pr__replay_init(&b->track, b->has_start, b->start);
        rc = pr__evsrc_open(&so, &b->src, err);
    }
    pr_progress pg;
    pr_progress_start(&pg, "build-dataset", 0);
    b->pg = &pg;
    if (rc == PR_OK && b->src) rc = run_events(b, err);
    pr_progress_end(&pg);
    b->pg = NULL;
    if (rc == PR_OK) rc = pr_fs_builder_flush(b, err);
    else b->flushed = 1;
    return pr_fs_builder_close(b, rc, st, err);
}
