/*
 * cmd_join.c: `pronto join [--window 2h] [--lateness 10m] [-o OUT]
 * (EVENTS... | --events URI [--resume NAME])`.
 *
 * Thin: reads event JSON lines (docs/events.md) from the files in turn
 * ("-" = stdin) or from an event log's event records (src/log/evsrc.c),
 * pushes them into a pr_joiner and writes one JSON line per labeled
 * impression: the impression's own line with "label" and "converted"
 * appended. A malformed line is reported as FILE:LINE:column (URI@POS for
 * a log; the first few) and counted; with --strict it stops the run
 * (exit 1). --from/--to keep the events with from <= ts < to (a log is
 * read from --from through its time index). Without --resume, -o is
 * written atomically (pr_atomic_*): a failed run leaves no half file.
 *
 * --resume NAME (a named consumer of the log, docs/joiner.md "Resuming"):
 * the output is appended to, and every --commit-every records the run
 * syncs it and commits, through pr_log_commit, the position P of the last
 * record before the first one with ts >= watermark - max(window, dedup
 * horizon) (pr__replay_track), with meta holding the output's length and
 * the watermark W. The joiner's state at the commit depends only on the
 * records after P (proof in docs/joiner.md), and exactly the impressions
 * with ts + window < W had been written. A restarted run truncates the
 * output to the committed length, replays from P into a fresh joiner and
 * drops the labeled impressions with ts + window < W: the output is the
 * one of an uninterrupted run, whatever instant the kill came at. At the
 * end of the log such a run leaves the open windows open (a later run
 * closes them), so it does not flush.
 *
 * The stats go to stderr as one summary line. Owns nothing past its
 * return.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "cli/flags.h"
#include "log/evsrc.h"
#include "pronto/stream.h"

#define OUT_BUF_BYTES (1u << 20)
#define REPORT_MAX 10

static const char usage_text[] =
    "EVENTS.jsonl... | --events URI [--resume NAME]\n"
    "\n"
    "Joins impressions to their clicks and conversions by impression id within\n"
    "the attribution window; writes one JSON line per impression (its fields\n"
    "plus \"label\" and \"converted\") once its window has closed. Events later\n"
    "than --lateness are counted, duplicates (same event_id) dropped. The\n"
    "events come from JSON-lines files (\"-\" reads stdin) or from the event\n"
    "records of a log (--events log:DIR or redis-stream:...). With --resume\n"
    "NAME the run is a named consumer of the log: it appends to -o and\n"
    "commits its place, so a run restarted after a crash continues exactly\n"
    "where it stopped; at the end of the log it leaves open windows open for\n"
    "the next run. See docs/joiner.md.";

typedef struct out_sink {
    pr_atomic_file *af;  /* -o without --resume, or NULL */
    int fd;              /* -o with --resume (appended to), or -1 */
    uint64_t bytes;      /* with fd: the file's length once flushed */
    char *buf;
    size_t len;
} out_sink;

static pr_status sink_flush(out_sink *o, pr_err *err) {
    if (!o->len) return PR_OK;
    pr_status s = PR_OK;
    if (o->af) {
        s = pr_atomic_write(o->af, o->buf, o->len, err);
    } else if (o->fd >= 0) {
        size_t done = 0;
        while (done < o->len) {
            ssize_t w = write(o->fd, o->buf + done, o->len - done);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                s = pr_err_errno(err, PR_ERR_IO, errno, "output: write failed");
                break;
            }
            done += (size_t)w;
        }
        o->bytes += done;
    } else if (fwrite(o->buf, 1, o->len, stdout) != o->len) {
        s = pr_err_errno(err, PR_ERR_IO, errno, "stdout: write failed");
    }
    o->len = 0;
    return s;
}

static pr_status sink_put(out_sink *o, const char *p, size_t n, pr_err *err) {
    while (n) {
        if (o->len == OUT_BUF_BYTES) {
            pr_status s = sink_flush(o, err);
            if (s != PR_OK) return s;
        }
        size_t k = OUT_BUF_BYTES - o->len < n ? OUT_BUF_BYTES - o->len : n;
        memcpy(o->buf + o->len, p, k);
        o->len += k;
        p += k;
        n -= k;
    }
    return PR_OK;
}

/* The impression's object with ,"label":L,"converted":C before its '}'. */
static pr_status write_labeled(out_sink *o, const pr_labeled *lab, pr_err *err) {
    const char *p = lab->payload.ptr;
    size_t n = lab->payload.len;
    while (n && p[n - 1] != '}') n--;  /* parse checked: it is an object */
    if (!n) return PR_OK;
    size_t body = n - 1;
    size_t k = body;
    while (k && (p[k - 1] == ' ' || p[k - 1] == '\t' || p[k - 1] == '\n' || p[k - 1] == '\r')) k--;
    int empty = k && p[k - 1] == '{';
    char tail[64];
    int t = snprintf(tail, sizeof tail, "%s\"label\":%d,\"converted\":%d}\n", empty ? "" : ",",
                     lab->label, lab->converted);
    pr_status s = sink_put(o, p, body, err);
    return s != PR_OK ? s : sink_put(o, tail, (size_t)t, err);
}

typedef struct run_state {
    int strict;
    int64_t from_ms, to_ms;     /* keep from <= ts < to (to 0: no end) */
    int64_t window_ms, horizon_ms;
    uint64_t malformed, lines, out_of_range, replayed;
    /* --resume */
    int has_cut;
    int64_t cut_wm;             /* drop labeled with ts + window < cut_wm */
    pr__replay_track track;
} run_state;

static pr_status drain(pr_joiner *j, out_sink *o, run_state *rs, pr_err *err) {
    pr_labeled lab;
    while (pr_joiner_poll(j, &lab) == PR_OK) {
        int64_t key;
        if (rs->has_cut && !__builtin_add_overflow(lab.ts_ms, rs->window_ms, &key) &&
            key < rs->cut_wm) {
            rs->replayed++; /* written before the restart */
            continue;
        }
        pr_status s = write_labeled(o, &lab, err);
        if (s != PR_OK) return s;
    }
    return PR_OK;
}

/* ------------------------------------------------------------- --resume */

/* The commit meta: one JSON object, always written in this order. */
#define META_FMT                                                                        \
    "{\"v\":1,\"out_bytes\":%" SCNu64 ",\"watermark\":%" SCNd64 ",\"window_ms\":%" SCNd64 \
    ",\"lateness_ms\":%" SCNd64 ",\"dedup_horizon_ms\":%" SCNd64 ",\"pos\":\"%47[0-9a-zA-Z:-]\"}"
#define META_PRINT                                                                      \
    "{\"v\":1,\"out_bytes\":%" PRIu64 ",\"watermark\":%" PRId64 ",\"window_ms\":%" PRId64 \
    ",\"lateness_ms\":%" PRId64 ",\"dedup_horizon_ms\":%" PRId64 ",\"pos\":\"%s\"}"

/* Syncs the output and commits the restart point (see the header). */
static pr_status commit_resume(pr__evsrc *src, pr_joiner *j, out_sink *o, run_state *rs,
                               int64_t lateness_ms, pr_err *err) {
    int64_t wm;
    if (!pr_joiner_watermark(j, &wm)) return PR_OK; /* nothing accepted yet */
    int64_t back = rs->window_ms > rs->horizon_ms ? rs->window_ms : rs->horizon_ms;
    int64_t T;
    if (__builtin_sub_overflow(wm, back, &T)) T = INT64_MIN;
    pr_log_pos p;
    if (!pr__replay_point(&rs->track, T, &p)) return PR_OK; /* restart: from the start */
    pr_status s = sink_flush(o, err);
    if (s != PR_OK) return s;
    if (fdatasync(o->fd) != 0) return pr_err_errno(err, PR_ERR_IO, errno, "output: fsync failed");
    char pos[PR_LOG_POS_TEXT_MAX], meta[512];
    pr_log_pos_format(pr__evsrc_log(src), p, pos, sizeof pos);
    /* Still replaying what was written before the restart: the output
     * holds everything below the old cut, so the cut stays (P has not
     * moved either: the record after it has ts >= the old T). */
    int64_t cut = rs->has_cut && rs->cut_wm > wm ? rs->cut_wm : wm;
    snprintf(meta, sizeof meta, META_PRINT, o->bytes, cut, rs->window_ms, lateness_ms,
             rs->horizon_ms, pos);
    return pr_log_commit(pr__evsrc_reader(src), p, meta, err);
}

/* Reads the consumer's last commit: truncates the output to what it had
 * written then and sets the cut; without a commit, the output starts
 * empty. */
static pr_status start_resume(pr__evsrc *src, const char *name, const char *out_path,
                              out_sink *o, run_state *rs, const pr_joiner_opts *jo,
                              pr_err *err) {
    const char *meta = pr_log_reader_commit_meta(pr__evsrc_reader(src));
    uint64_t bytes = 0;
    pr_log_pos base = {0, 0};
    int has_base = 0;
    if (meta) {
        uint64_t b;
        int64_t wm, w, l, h;
        char pos[PR_LOG_POS_TEXT_MAX];
        if (sscanf(meta, META_FMT, &b, &wm, &w, &l, &h, pos) != 6)
            return pr_err_set(err, PR_ERR_FORMAT,
                              "--resume %s: the consumer's commit meta is not join's "
                              "(another program's consumer?): '%.200s'",
                              name, meta);
        if (w != jo->window_ms || l != jo->lateness_ms || h != jo->dedup_horizon_ms)
            return pr_err_set(err, PR_ERR_INVALID,
                              "--resume %s: committed with --window %" PRId64
                              "ms --lateness %" PRId64 "ms --dedup-horizon %" PRId64
                              "ms; resume with the same (or use another NAME)",
                              name, w, l, h);
        pr_status s = pr_log_pos_parse(pr__evsrc_log(src), pos, &base, err);
        if (s != PR_OK) return s;
        has_base = 1;
        bytes = b;
        rs->has_cut = 1;
        rs->cut_wm = wm;
    }
    pr__replay_init(&rs->track, has_base, base);
    o->fd = open(out_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
    if (o->fd < 0) return pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot open", out_path);
    struct stat sb;
    if (fstat(o->fd, &sb) != 0) return pr_err_errno(err, PR_ERR_IO, errno, "%s: stat", out_path);
    if ((uint64_t)sb.st_size < bytes)
        return pr_err_set(err, PR_ERR_INVALID,
                          "%s holds %lld bytes, but consumer %s committed %" PRIu64
                          " written: the output was changed or replaced; remove it and "
                          "use a new --resume NAME",
                          out_path, (long long)sb.st_size, name, bytes);
    /* Rows written after the commit are written again by this run. */
    if ((uint64_t)sb.st_size > bytes && ftruncate(o->fd, (off_t)bytes) != 0)
        return pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot truncate", out_path);
    if (lseek(o->fd, (off_t)bytes, SEEK_SET) < 0)
        return pr_err_errno(err, PR_ERR_IO, errno, "%s: seek", out_path);
    o->bytes = bytes;
    return PR_OK;
}

static pr_status join_all(pr__evsrc *src, pr_joiner *j, out_sink *o, run_state *rs,
                          int resume, uint64_t commit_every, int64_t lateness_ms,
                          pr_err *err) {
    uint64_t since = 0;
    for (;;) {
        const char *line;
        size_t n;
        pr__evloc loc;
        pr_err perr;
        pr_status ps = pr__evsrc_next(src, &line, &n, &loc, &perr);
        if (ps == PR_EOF) break;
        pr_event ev;
        int64_t track_ts = INT64_MIN; /* not an event the joiner holds */
        if (ps == PR_OK) {
            while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
            if (!n) continue;
            rs->lines++;
            ps = pr_event_parse_json(line, n, &ev, &perr);
        } else if (ps == PR_ERR_LIMIT) {
            rs->lines++;
        } else {
            *err = perr;
            return ps;
        }
        if (ps != PR_OK) {
            rs->malformed++;
            char where[PR_ERR_MSG_MAX];
            pr__evsrc_where(src, &loc, where, sizeof where);
            if (rs->strict) return pr_err_set(err, ps, "%s:%s", where, perr.msg);
            if (rs->malformed <= REPORT_MAX)
                fprintf(stderr, "pronto join: %s:%s (skipped)\n", where, perr.msg);
        } else if (ev.has_ts && (ev.ts_ms < rs->from_ms || (rs->to_ms && ev.ts_ms >= rs->to_ms))) {
            rs->out_of_range++;
        } else {
            if (ev.has_ts) track_ts = ev.ts_ms;
            pr_status s = pr_joiner_push(j, &ev, err);
            if (s == PR_OK) s = drain(j, o, rs, err);
            if (s != PR_OK) return s;
        }
        if (resume) {
            if (!pr__replay_push(&rs->track, loc.pos, track_ts))
                return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
            if (++since >= commit_every) {
                since = 0;
                pr_status s = commit_resume(src, j, o, rs, lateness_ms, err);
                if (s != PR_OK) return s;
            }
        }
    }
    return PR_OK;
}

int cmd_join(int argc, char **argv) {
    const char *cmd = "join";
    const char *window_s = "2h", *lateness_s = "10m", *horizon_s = "0s", *out_path = NULL;
    const char *events_uri = NULL, *resume = NULL, *from_s = NULL, *to_s = NULL;
    unsigned long long commit_every = 10000;
    int strict = 0;
    pr_flag flags[] = {
        {"--window", NULL, PR_FLAG_STRING, &window_s, "D  attribution window (default 2h)", 0},
        {"--lateness", NULL, PR_FLAG_STRING, &lateness_s,
         "D  allowed out-of-orderness; later events are counted, dropped (default 10m)", 0},
        {"--dedup-horizon", NULL, PR_FLAG_STRING, &horizon_s,
         "D  keep event ids this long below the watermark (default 0s)", 0},
        {"--out", "-o", PR_FLAG_STRING, &out_path, "FILE  output (default stdout)", 0},
        {"--strict", NULL, PR_FLAG_BOOL, &strict, "a malformed line is an error (exit 1)", 0},
        {"--events", NULL, PR_FLAG_STRING, &events_uri,
         "URI  read the event records of this log (log:DIR, redis-stream:...) instead of files",
         0},
        {"--from", NULL, PR_FLAG_STRING, &from_s,
         "TIME  only events with ts >= TIME (ISO-8601 or Unix s; a log seeks there)", 0},
        {"--to", NULL, PR_FLAG_STRING, &to_s, "TIME  only events with ts < TIME", 0},
        {"--resume", NULL, PR_FLAG_STRING, &resume,
         "NAME  a named consumer of --events: continue after its last commit, append to -o", 0},
        {"--commit-every", NULL, PR_FLAG_UINT, &commit_every,
         "N  --resume: records between commits (default 10000)", 0},
    };
    char *pos[4096];
    int n_pos = 0;
    int rc = pr_flags_parse(cmd, usage_text, flags, (int)(sizeof flags / sizeof flags[0]), argc,
                            argv, pos, 4096, &n_pos);
    if (rc) return rc == 1 ? PR_EXIT_OK : PR_EXIT_USAGE;
    if (events_uri && n_pos) return cli_usage_error(cmd, "EVENTS files and --events exclude each other");
    if (!events_uri && n_pos < 1)
        return cli_usage_error(cmd, "expected at least one EVENTS file (or -), or --events URI");
    if (resume && !events_uri) return cli_usage_error(cmd, "--resume needs --events URI");
    if (resume && !out_path) return cli_usage_error(cmd, "--resume needs -o FILE (appended to)");
    if (resume && from_s)
        return cli_usage_error(cmd, "--resume starts where the consumer stopped: no --from");
    if (commit_every < 1 || commit_every > 100000000)
        return cli_usage_error(cmd, "--commit-every must be 1..100000000");
    pr_joiner_opts o;
    pr_joiner_opts_default(&o);
    if (!cli_parse_duration_ms("join", "--window", window_s, &o.window_ms) ||
        !cli_parse_duration_ms("join", "--lateness", lateness_s, &o.lateness_ms) ||
        !cli_parse_duration_ms("join", "--dedup-horizon", horizon_s, &o.dedup_horizon_ms))
        return PR_EXIT_USAGE;
    run_state rs;
    memset(&rs, 0, sizeof rs);
    rs.strict = strict;
    rs.from_ms = INT64_MIN;
    rs.window_ms = o.window_ms;
    rs.horizon_ms = o.dedup_horizon_ms;
    if (from_s && !cli_parse_time_ms(cmd, "--from", from_s, &rs.from_ms)) return PR_EXIT_USAGE;
    if (to_s && !cli_parse_time_ms(cmd, "--to", to_s, &rs.to_ms)) return PR_EXIT_USAGE;

    pr_err err;
    pr_err_clear(&err);
    pr_joiner *j = NULL;
    pr__evsrc *src = NULL;
    out_sink sink = {NULL, -1, 0, NULL, 0};
    pr_status s = PR_OK;
    double t0 = pr_now();
    pr__evsrc_opts so = {.uri = events_uri, .paths = (const char *const *)pos,
                         .n_paths = (uint32_t)n_pos, .from_ms = rs.from_ms, .consumer = resume};
    if (!(sink.buf = malloc(OUT_BUF_BYTES))) {
        s = pr_err_set(&err, PR_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if ((s = pr_joiner_new(&o, &j, &err)) != PR_OK) goto fail;
    if ((s = pr__evsrc_open(&so, &src, &err)) != PR_OK) goto fail;
    if (resume) {
        if ((s = start_resume(src, resume, out_path, &sink, &rs, &o, &err)) != PR_OK) goto fail;
    } else if (out_path && (s = pr_atomic_open(out_path, &sink.af, &err)) != PR_OK) {
        goto fail;
    }
    if ((s = join_all(src, j, &sink, &rs, resume != NULL, commit_every, o.lateness_ms, &err)) !=
        PR_OK)
        goto fail;
    if (resume) {
        if ((s = commit_resume(src, j, &sink, &rs, o.lateness_ms, &err)) != PR_OK) goto fail;
        if ((s = sink_flush(&sink, &err)) != PR_OK) goto fail;
        close(sink.fd);
        sink.fd = -1;
    } else {
        pr_joiner_flush(j);
        if ((s = drain(j, &sink, &rs, &err)) != PR_OK) goto fail;
        if ((s = sink_flush(&sink, &err)) != PR_OK) goto fail;
    }
    if (sink.af) {
        pr_atomic_file *af = sink.af;
        sink.af = NULL;
        if ((s = pr_atomic_commit(af, &err)) != PR_OK) goto fail;
    } else if (!resume && fflush(stdout) != 0) {
        s = pr_err_errno(&err, PR_ERR_IO, errno, "stdout: write failed");
        goto fail;
    }
    pr_joiner_stats st;
    pr_joiner_stats_get(j, &st);
    double el = pr_now() - t0;
    fprintf(stderr,
            "pronto join: lines=%llu malformed=%llu events=%llu impressions=%llu clicks=%llu "
            "conversions=%llu duplicates=%llu too_late=%llu unattributed_clicks=%llu "
            "unattributed_conversions=%llu unknown_type=%llu missing_ids=%llu labeled=%llu "
            "positives=%llu converted=%llu out_of_range=%llu other_records=%llu "
            "replayed=%llu pending=%llu elapsed_s=%.2f events_per_s=%.0f\n",
            (unsigned long long)rs.lines, (unsigned long long)rs.malformed,
            (unsigned long long)st.events, (unsigned long long)st.impressions,
            (unsigned long long)st.clicks, (unsigned long long)st.conversions,
            (unsigned long long)st.duplicates, (unsigned long long)st.too_late,
            (unsigned long long)st.unattributed_clicks, (unsigned long long)st.unattributed_conversions,
            (unsigned long long)st.unknown_type, (unsigned long long)st.missing_ids,
            (unsigned long long)st.labeled, (unsigned long long)st.positives,
            (unsigned long long)st.converted, (unsigned long long)rs.out_of_range,
            (unsigned long long)pr__evsrc_skipped(src), (unsigned long long)rs.replayed,
            (unsigned long long)pr_joiner_pending(j), el,
            el > 0 ? (double)st.events / el : 0.0);
    pr__evsrc_close(src);
    pr__replay_free(&rs.track);
    pr_joiner_free(j);
    free(sink.buf);
    return PR_EXIT_OK;
fail:
    fprintf(stderr, "pronto join: %s\n", err.msg);
    pr_atomic_abort(sink.af);
    if (sink.fd >= 0) close(sink.fd);
    pr__evsrc_close(src);
    pr__replay_free(&rs.track);
    pr_joiner_free(j);
    free(sink.buf);
    return PR_EXIT_FAIL;
}
