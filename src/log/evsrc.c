/*
 * evsrc.c: the one event source of the readers (evsrc.h): JSON-lines files
 * in turn through the reader's line source (pr__linesrc: zstd, stdin,
 * over-long lines), or the PR_LOG_TYPE_EVENT records of an event log.
 *
 * Structure: a pr__evsrc is either a file cursor (index of the open file,
 * its pr__linesrc) or a log (its handle and one reader). Nothing is parsed
 * here: callers parse the line with the parser they always used, so a log
 * record and the same line in a file give the same event.
 *
 * The replay tracker is a ring of (position, ts) with a base position;
 * pr__replay_point pops from the front while ts < T (T only grows, so
 * whatever was popped stays behind the restart point).
 *
 * Ownership: the source owns the log, the reader and the file's buffers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/reader_int.h"
#include "log/evsrc.h"

struct pr__evsrc {
    pr__evsrc_opts o;
    /* files */
    uint32_t file;          /* index of the open file, or of the next */
    int open;
    pr__linesrc src;
    /* log */
    pr_event_log *log;
    pr_log_reader *reader;
    uint64_t skipped;
};

pr_status pr__evsrc_open(const pr__evsrc_opts *o, pr__evsrc **out, pr_err *err) {
    *out = NULL;
    if (!o->uri && !o->n_paths)
        return pr_err_set(err, PR_ERR_INVALID, "no event files and no event log");
    pr__evsrc *s = calloc(1, sizeof *s);
    if (!s) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    s->o = *o;
    if (o->uri) {
        pr_status st = pr_log_open(o->uri, PR_LOG_READ, &s->log, err);
        if (st == PR_OK) {
            pr_log_start start;
            memset(&start, 0, sizeof start);
            if (o->consumer) {
                start.kind = PR_LOG_CONSUMER;
                start.consumer = o->consumer;
            } else if (o->has_after) {
                start.kind = PR_LOG_AFTER_POS;
                start.after = o->after;
            } else if (o->from_ms != INT64_MIN) {
                start.kind = PR_LOG_FROM_TIME;
                start.from_ms = o->from_ms;
            }
            st = pr_log_reader_open(s->log, &start, &s->reader, err);
            if (st == PR_OK && pr_log_reader_skipped(s->reader))
                pr_log(PR_LOG_WARN,
                       "%s: the start position was dropped by retention; reading from the "
                       "oldest record kept",
                       o->uri);
        }
        if (st != PR_OK) {
            pr__evsrc_close(s);
            return st;
        }
    }
    *out = s;
    return PR_OK;
}

pr_status pr__evsrc_next(pr__evsrc *s, const char **line, size_t *len, pr__evloc *loc,
                         pr_err *err) {
    memset(loc, 0, sizeof *loc);
    if (s->log) {
        for (;;) {
            pr_log_record rec;
            pr_status st = pr_log_next(s->reader, &rec, err);
            if (st != PR_OK) return st;
            if (rec.type != PR_LOG_TYPE_EVENT) {
                s->skipped++;
                continue;
            }
            loc->pos = rec.pos;
            loc->log_ts_ms = rec.ts_ms;
            *line = rec.payload.ptr;
            *len = rec.payload.len;
            return PR_OK;
        }
    }
    for (;;) {
        if (!s->open) {
            if (s->file >= s->o.n_paths) return PR_EOF;
            const char *path = s->o.paths[s->file];
            const char *name = strcmp(path, "-") ? path : "<stdin>";
            pr_status st = pr__linesrc_open_path(&s->src, path, name, 0, 0, err);
            if (st != PR_OK) return st;
            s->open = 1;
        }
        char *l = NULL;
        size_t n = 0;
        pr_status st = pr__linesrc_next(&s->src, &l, &n, err);
        loc->file = s->file;
        loc->line = s->src.lineno;
        if (st == PR_EOF) {
            pr__linesrc_close(&s->src);
            s->open = 0;
            s->file++;
            continue;
        }
        if (st != PR_OK) return st;
        *line = l;
        *len = n;
        return PR_OK;
    }
}

void pr__evsrc_where(const pr__evsrc *s, const pr__evloc *loc, char *buf, size_t cap) {
    if (s->log) {
        char pos[PR_LOG_POS_TEXT_MAX];
        pr_log_pos_format(s->log, loc->pos, pos, sizeof pos);
        snprintf(buf, cap, "%s@%s", s->o.uri, pos);
        return;
    }
    const char *path = loc->file < s->o.n_paths ? s->o.paths[loc->file] : "?";
    snprintf(buf, cap, "%s:%llu", strcmp(path, "-") ? path : "<stdin>",
             (unsigned long long)loc->line);
}

pr_event_log *pr__evsrc_log(const pr__evsrc *s) { return s->log; }
pr_log_reader *pr__evsrc_reader(const pr__evsrc *s) { return s->reader; }
uint64_t pr__evsrc_skipped(const pr__evsrc *s) { return s->skipped; }

void pr__evsrc_close(pr__evsrc *s) {
    if (!s) return;
    if (s->open) pr__linesrc_close(&s->src);
    pr_log_reader_close(s->reader);
    pr_log_close(s->log);
    free(s);
}

/* ------------------------------------------------------------ replay track */

void pr__replay_init(pr__replay_track *t, int has_base, pr_log_pos base) {
    memset(t, 0, sizeof *t);
    t->has_base = has_base;
    t->base = base;
}

int pr__replay_push(pr__replay_track *t, pr_log_pos pos, int64_t ts) {
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4096;
        struct pr__replay_rec *v = malloc(cap * sizeof *v);
        if (!v) return 0;
        for (size_t i = 0; i < t->n; i++) v[i] = t->v[(t->head + i) % t->cap];
        free(t->v);
        t->v = v;
        t->cap = cap;
        t->head = 0;
    }
    t->v[(t->head + t->n) % t->cap] = (struct pr__replay_rec){pos, ts};
    t->n++;
    return 1;
}

int pr__replay_point(pr__replay_track *t, int64_t T, pr_log_pos *p) {
    while (t->n && t->v[t->head].ts < T) {
        t->base = t->v[t->head].pos;
        t->has_base = 1;
        t->head = (t->head + 1) % t->cap;
        t->n--;
    }
    if (t->has_base) *p = t->base;
    return t->has_base;
}

void pr__replay_free(pr__replay_track *t) {
    free(t->v);
    memset(t, 0, sizeof *t);
}
