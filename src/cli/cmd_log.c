/*
 * cmd_log.c: `pronto log SUBCOMMAND URI ...`, the event log's tool, for any
 * log URI (log:DIR, redis-stream:...): written against pronto/log.h only.
 *
 *   stat     what the log holds: segments, records, time span, bytes,
 *            records per type (one read pass), consumers and their commits
 *   tail     the last N records; -f then follows as they are appended
 *   verify   every record's checksum and the backend's own structures
 *            (pr_log_verify); exit 1 naming the file and offset
 *   cat      records as JSON lines, by time range and type; an event's
 *            payload is printed exactly as stored
 *   compact  retention now and compression of closed segments (needs the
 *            writer's lock: not while a server writes the log)
 *   append   JSON lines from files or stdin appended as records (the
 *            inverse of cat: what tests and imports use)
 *
 * Output lines: a record of a known type (event, prediction, features),
 * whose payload is one line of JSON, is printed as its payload; with
 * --meta, or for other types, as {"pos":..,"type":..,"ts_ms":..,
 * "payload":..} (an unknown type's payload as a JSON string). Progress
 * (pr_progress) goes to stderr on a terminal only. Exit codes: 0, 1 (the
 * log could not be read, corruption), 2 (usage).
 */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/json_scan.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "cli/flags.h"
#include "data/reader_int.h"
#include "pronto/log.h"

static const char usage_text[] =
    "SUBCOMMAND URI [flags]\n"
    "\n"
    "The event log (URI: log:DIR[?OPTIONS] or redis-stream:HOST:PORT/KEY; docs/log.md).\n"
    "\n"
    "  stat URI                      segments, records, time span, bytes, records per\n"
    "                                type, consumers and their committed positions (JSON)\n"
    "  tail URI [-n N] [-f]          the last N records (default 10); -f: then follow\n"
    "  verify URI                    check every record and index; exit 1 on corruption\n"
    "  cat URI [--from T] [--to T] [--type TYPE] [--skip-corrupt]\n"
    "                                records with from <= time < to, as JSON lines\n"
    "  compact URI [--retain-bytes N] [--retain-ms D] [--no-compress]\n"
    "                                apply retention now and zstd-compress closed segments\n"
    "  append URI [--type TYPE] [FILE...]\n"
    "                                append JSON lines (stdin without FILE or with -);\n"
    "                                a record's time is the line's integer \"ts\" (ms)\n"
    "\n"
    "TYPE: event, prediction, features or a number. T: ISO-8601 (UTC unless an offset\n"
    "is given), Unix seconds, or Unix milliseconds written with 'ms' (1704067200184ms).\n"
    "Records of a known type print as their payload (an event exactly as stored);\n"
    "--meta wraps each as {\"pos\",\"type\",\"ts_ms\",\"payload\"}.";

static const char *type_name(uint32_t t) {
    switch (t) {
    case PR_LOG_TYPE_EVENT: return "event";
    case PR_LOG_TYPE_PREDICTION: return "prediction";
    case PR_LOG_TYPE_FEATURES: return "features";
    default: return NULL;
    }
}

/* "event", "prediction", "features" or a decimal number 1..2^32-1. */
static int parse_type(const char *s, uint32_t *out) {
    for (uint32_t t = 1; t <= 3; t++)
        if (!strcmp(s, type_name(t))) {
            *out = t;
            return 1;
        }
    uint32_t v;
    if (pr__parse_u32(s, strlen(s), &v) != 0 || v == 0) return 0;
    *out = v;
    return 1;
}

/* ISO-8601 UTC with milliseconds. */
static void iso_ms(int64_t ms, char *buf, size_t cap) {
    time_t s = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int frac = (int)(ms - (int64_t)s * 1000);
    struct tm tm;
    if (!gmtime_r(&s, &tm)) {
        snprintf(buf, cap, "%lld ms", (long long)ms);
        return;
    }
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%03dZ", frac);
}

/* A time flag in ms: "...ms" (Unix ms), else pr__parse_ts (ISO, seconds). */
static int parse_time_ms(const char *cmd, const char *flag, const char *s, int64_t *out) {
    size_t n = strlen(s);
    if (n > 2 && !strcmp(s + n - 2, "ms")) {
        if (pr__parse_int64(s, n - 2, out) == 0) return 1;
    } else {
        int64_t sec;
        if (pr__parse_ts(s, n, &sec) == 0 && sec > INT64_MIN / 1000 && sec < INT64_MAX / 1000) {
            *out = sec * 1000;
            return 1;
        }
    }
    fprintf(stderr,
            "pronto %s: %s: expected an ISO-8601 time, Unix seconds or Unix ms ending in 'ms', "
            "got '%s'\n",
            cmd, flag, s);
    return 0;
}

/* Prints one record as a JSON line. */
static void print_record(pr_event_log *log, const pr_log_record *rec, int meta) {
    const char *tn = type_name(rec->type);
    if (tn && !meta) {
        fwrite(rec->payload.ptr, 1, rec->payload.len, stdout);
        putchar('\n');
        return;
    }
    char pos[PR_LOG_POS_TEXT_MAX];
    pr_log_pos_format(log, rec->pos, pos, sizeof pos);
    printf("{\"pos\":\"%s\",\"type\":", pos);
    if (tn) printf("\"%s\"", tn);
    else printf("%u", rec->type);
    printf(",\"ts_ms\":%lld,\"payload\":", (long long)rec->ts_ms);
    if (tn) {
        fwrite(rec->payload.ptr, 1, rec->payload.len, stdout);
    } else {
        json_t *str = json_stringn_nocheck(rec->payload.ptr, rec->payload.len);
        char *txt = str ? json_dumps(str, JSON_ENCODE_ANY | JSON_ENSURE_ASCII) : NULL;
        fputs(txt ? txt : "null", stdout);
        free(txt);
        json_decref(str);
    }
    fputs("}\n", stdout);
}

static pr_status open_log(const char *cmd, const char *uri, int mode, pr_event_log **log) {
    pr_err err;
    pr_status st = pr_log_open(uri, mode, log, &err);
    if (st != PR_OK) fprintf(stderr, "pronto %s: %s\n", cmd, err.msg);
    return st;
}

/* Progress through a pr_log_progress_fn. */
static void progress_cb(void *ctx, uint64_t done, uint64_t total) {
    pr_progress *p = ctx;
    p->total = total;
    pr_progress_update(p, done, NULL, 0);
}

/* ---------------------------------------------------------------- stat */

static int add_consumer(void *ctx, const pr_log_consumer_info *c) {
    json_t *arr = ctx;
    /* the position is formatted by the log later (run_stat): keep its pair */
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(c->name));
    json_object_set_new(o, "_a", json_integer((json_int_t)c->pos.a));
    json_object_set_new(o, "_b", json_integer((json_int_t)c->pos.b));
    json_object_set_new(o, "meta", json_string(c->meta ? c->meta : ""));
    json_array_append_new(arr, o);
    return 0;
}

static int run_stat(const char *cmd, pr_event_log *log) {
    pr_err err;
    pr_log_stats s;
    pr_log_stats_get(log, &s);
    uint64_t counts[4] = {0};
    json_t *other = json_object();
    pr_log_reader *r;
    if (pr_log_reader_open(log, NULL, &r, &err) != PR_OK) {
        fprintf(stderr, "pronto %s: %s\n", cmd, err.msg);
        json_decref(other);
        return PR_EXIT_FAIL;
    }
    pr_progress p;
    pr_progress_start(&p, "reading", s.records);
    pr_log_record rec;
    pr_status st;
    uint64_t n = 0, first_pos_set = 0;
    int64_t mn = 0, mx = 0;
    while ((st = pr_log_next(r, &rec, &err)) == PR_OK) {
        if (rec.type <= 3) counts[rec.type]++;
        else {
            char k[16];
            snprintf(k, sizeof k, "%u", rec.type);
            json_t *c = json_object_get(other, k);
            json_object_set_new(other, k, json_integer(c ? json_integer_value(c) + 1 : 1));
        }
        if (!first_pos_set || rec.ts_ms < mn) mn = rec.ts_ms;
        if (!first_pos_set || rec.ts_ms > mx) mx = rec.ts_ms;
        first_pos_set = 1;
        if (!(++n & 8191)) pr_progress_update(&p, n, NULL, 0);
    }
    pr_progress_end(&p);
    pr_log_reader_close(r);
    if (st != PR_EOF) {
        fprintf(stderr, "pronto %s: %s\n", cmd, err.msg);
        json_decref(other);
        return PR_EXIT_FAIL;
    }
    json_t *o = json_object();
    json_object_set_new(o, "backend", json_string(pr_log_backend(log)));
    json_object_set_new(o, "segments", json_integer((json_int_t)s.segments));
    json_object_set_new(o, "compressed_segments", json_integer((json_int_t)s.compressed));
    json_object_set_new(o, "records", json_integer((json_int_t)n));
    json_object_set_new(o, "bytes", json_integer((json_int_t)s.bytes));
    json_object_set_new(o, "record_bytes", json_integer((json_int_t)s.record_bytes));
    if (n) {
        char a[48], b[48];
        iso_ms(mn, a, sizeof a);
        iso_ms(mx, b, sizeof b);
        json_object_set_new(o, "first_ts", json_string(a));
        json_object_set_new(o, "last_ts", json_string(b));
        json_object_set_new(o, "first_ts_ms", json_integer(mn));
        json_object_set_new(o, "last_ts_ms", json_integer(mx));
    } else {
        json_object_set_new(o, "first_ts", json_null());
        json_object_set_new(o, "last_ts", json_null());
    }
    json_t *types = json_object();
    for (uint32_t t = 1; t <= 3; t++)
        json_object_set_new(types, type_name(t), json_integer((json_int_t)counts[t]));
    if (counts[0]) json_object_set_new(other, "0", json_integer((json_int_t)counts[0]));
    json_object_update(types, other);
    json_decref(other);
    json_object_set_new(o, "types", types);
    json_t *cons = json_array();
    st = pr_log_consumers(log, add_consumer, cons, &err);
    if (st != PR_OK && st != PR_ERR_UNSUPPORTED) {
        fprintf(stderr, "pronto %s: %s\n", cmd, err.msg);
        json_decref(cons);
        json_decref(o);
        return PR_EXIT_FAIL;
    }
    size_t i;
    json_t *c;
    json_array_foreach(cons, i, c) {
        pr_log_pos pos = {(uint64_t)json_integer_value(json_object_get(c, "_a")),
                          (uint64_t)json_integer_value(json_object_get(c, "_b"))};
        char txt[PR_LOG_POS_TEXT_MAX];
        pr_log_pos_format(log, pos, txt, sizeof txt);
        json_object_del(c, "_a");
        json_object_del(c, "_b");
        json_object_set_new(c, "position", json_string(txt));
    }
    if (st == PR_OK) json_object_set_new(o, "consumers", cons);
    else json_decref(cons);
    char *txt = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    printf("%s\n", txt ? txt : "{}");
    free(txt);
    json_decref(o);
    return PR_EXIT_OK;
}

/* ---------------------------------------------------------------- tail, cat */

static volatile sig_atomic_t stop_flag;
static void on_stop(int sig) {
    (void)sig;
    stop_flag = 1;
}

typedef struct kept {
    pr_log_record rec;
    char *copy;
    size_t cap;
} kept;

static int run_tail(const char *cmd, pr_event_log *log, unsigned long long n_last, int follow,
                    int meta) {
    pr_err err;
    pr_log_reader *r;
    if (pr_log_reader_open(log, NULL, &r, &err) != PR_OK) {
        fprintf(stderr, "pronto %s: %s\n", cmd, err.msg);
        return PR_EXIT_FAIL;
    }
    kept *ring = n_last ? calloc((size_t)n_last, sizeof *ring) : NULL;
    if (n_last && !ring) {
        fprintf(stderr, "pronto %s: out of memory for %llu records\n", cmd, n_last);
        pr_log_reader_close(r);
        return PR_EXIT_FAIL;
    }
    pr_log_stats s;
    pr_log_stats_get(log, &s);
    pr_progress p;
    pr_progress_start(&p, "reading", s.records);
    uint64_t seen = 0;
    pr_log_record rec;
    pr_status st;
    int rc = PR_EXIT_OK;
    while ((st = pr_log_next(r, &rec, &err)) == PR_OK) {
        if (n_last) {
            kept *k = &ring[seen % n_last];
            if (k->cap < rec.payload.len + 1) {
                free(k->copy);
                k->cap = rec.payload.len + 1;
                k->copy = malloc(k->cap);
                if (!k->copy) {
                    fprintf(stderr, "pronto %s: out of memory\n", cmd);
                    rc = PR_EXIT_FAIL;
                    break;
                }
            }
            memcpy(k->copy, rec.payload.ptr, rec.payload.len);
            k->rec = rec;
            k->rec.payload = pr_bytes_of(k->copy, rec.payload.len);
        }
        if (!(++seen & 8191)) pr_progress_update(&p, seen, NULL, 0);
    }
    pr_progress_end(&p);
    if (rc == PR_EXIT_OK && st != PR_EOF) {
        fprintf(stderr, "pronto %s: %s\n", cmd, err.msg);
        rc = PR_EXIT_FAIL;
    }
    if (rc == PR_EXIT_OK) {
        uint64_t have = seen < n_last ? seen : n_last;
        for (uint64_t i = seen - have; i < seen; i++) print_record(log, &ring[i % n_last].rec, meta);
        fflush(stdout);
    }
    for (unsigned long long i = 0; i < n_last; i++) free(ring[i].copy);
    free(ring);
    if (rc == PR_EXIT_OK && follow) {
        signal(SIGINT, on_stop);
        signal(SIGTERM, on_stop);
        while (!stop_flag) {
            st = pr_log_next(r, &rec, &err);
            if (st == PR_OK) {
                print_record(log, &rec, meta);
                continue;
            }
            if (st != PR_EOF) {
                fprintf(stderr, "pronto %s: %s\n", cmd, err.msg);
                rc = PR_EXIT_FAIL;
                break;
            }
            if (fflush(stdout) != 0 || ferror(stdout)) break;
            usleep(100 * 1000);
        }
    }
    pr_log_reader_close(r);
    return rc;
}

static int run_cat(const char *cmd, pr_event_log *log, int has_from, int64_t from_ms,
                   int has_to, int64_t to_ms, int has_type, uint32_t type, int skip_corrupt,
                   int meta) {
    pr_err err;
    pr_log_start start = {.kind = has_from ? PR_LOG_FROM_TIME : PR_LOG_FROM_START,
                          .from_ms = from_ms,
                          .skip_corrupt = skip_corrupt};
    pr_log_reader *r;
    if (pr_log_reader_open(log, &start, &r, &err) != PR_OK) {
        fprintf(stderr, "pronto %s: %s\n", cmd, err.msg);
        return PR_EXIT_FAIL;
    }
    pr_log_stats s;
    pr_log_stats_get(log, &s);
    pr_progress p;
    pr_progress_start(&p, "reading", s.records);
    pr_log_record rec;
    pr_status st;
    uint64_t n = 0;
    while ((st = pr_log_next(r, &rec, &err)) == PR_OK) {
        if (!(++n & 8191)) pr_progress_update(&p, n, NULL, 0);
        /* times need not grow: the reader starts at the first record at or
         * after from; later ones outside [from, to) are passed over */
        if ((has_from && rec.ts_ms < from_ms) || (has_to && rec.ts_ms >= to_ms)) continue;
        if (has_type ? rec.type != type : !type_name(rec.type) && !meta) {
            if (!has_type && !meta) print_record(log, &rec, 1); /* unknown: wrapped */
            continue;
        }
        print_record(log, &rec, meta);
    }
    pr_progress_end(&p);
    int rc = PR_EXIT_OK;
    if (st != PR_EOF) {
        fprintf(stderr, "pronto %s: %s\n", cmd, err.msg);
        rc = PR_EXIT_FAIL;
    }
    if (pr_log_reader_corrupt(r))
        fprintf(stderr, "pronto %s: skipped %llu corrupt span(s)\n", cmd,
                (unsigned long long)pr_log_reader_corrupt(r));
    pr_log_reader_close(r);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "pronto %s: cannot write the output\n", cmd);
        rc = PR_EXIT_FAIL;
    }
    return rc;
}

/* ---------------------------------------------------------------- verify, compact */

static int run_verify(const char *cmd, pr_event_log *log) {
    pr_err err;
    pr_log_verify_report v;
    pr_progress p;
    pr_progress_start(&p, "verifying", 0);
    pr_status st = pr_log_verify(log, progress_cb, &p, &v, &err);
    pr_progress_end(&p);
    if (st != PR_OK) {
        fprintf(stderr, "pronto %s: %s\n", cmd, err.msg);
        return PR_EXIT_FAIL;
    }
    printf("ok: %llu segments (%llu compressed), %llu records, %llu record bytes, %llu indexes "
           "checked",
           (unsigned long long)v.segments, (unsigned long long)v.compressed,
           (unsigned long long)v.records, (unsigned long long)v.bytes,
           (unsigned long long)v.indexes);
    if (v.torn_bytes)
        printf("; %llu unfinished bytes at the end of the active segment (a live writer's, or "
               "cut at the next writing open)",
               (unsigned long long)v.torn_bytes);
    printf("\n");
    return PR_EXIT_OK;
}

static int run_compact(const char *cmd, const char *uri, unsigned long long retain_bytes,
                       int64_t retain_ms, int no_compress) {
    pr_event_log *log;
    /* a read-only open first: compacting a log that is not there is an
     * error, not an empty new log */
    if (open_log(cmd, uri, PR_LOG_READ, &log) != PR_OK) return PR_EXIT_FAIL;
    pr_log_close(log);
    if (open_log(cmd, uri, PR_LOG_WRITE, &log) != PR_OK) return PR_EXIT_FAIL;
    pr_err err;
    pr_progress p;
    pr_progress_start(&p, "compressing (bytes)", 0);
    pr_log_compact_opts o = {.retain_bytes = retain_bytes,
                             .retain_ms = (uint64_t)retain_ms,
                             .compress = !no_compress,
                             .progress = progress_cb,
                             .ctx = &p};
    pr_log_compact_result res;
    pr_status st = pr_log_compact(log, &o, &res, &err);
    pr_progress_end(&p);
    pr_log_close(log);
    if (st != PR_OK) {
        fprintf(stderr, "pronto %s: %s\n", cmd, err.msg);
        return PR_EXIT_FAIL;
    }
    printf("dropped %llu segments, compressed %llu; %llu bytes before, %llu after\n",
           (unsigned long long)res.dropped, (unsigned long long)res.compressed,
           (unsigned long long)res.bytes_before, (unsigned long long)res.bytes_after);
    return PR_EXIT_OK;
}

/* ---------------------------------------------------------------- append */

enum { APPEND_BATCH = 1024 };

typedef struct batch {
    pr_log_entry e[APPEND_BATCH];
    char *line[APPEND_BATCH];
    uint32_t n;
} batch;

static pr_status flush_batch(pr_event_log *log, batch *b, pr_err *err) {
    pr_status st = b->n ? pr_log_append(log, b->e, b->n, NULL, err) : PR_OK;
    for (uint32_t i = 0; i < b->n; i++) free(b->line[i]);
    b->n = 0;
    return st;
}

static int append_file(const char *cmd, pr_event_log *log, const char *path, uint32_t type,
                       const pr_json_keys *keys, batch *b, uint64_t *total) {
    int is_stdin = !path || !strcmp(path, "-");
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    const char *name = is_stdin ? "stdin" : path;
    if (!f) {
        fprintf(stderr, "pronto %s: cannot open %s\n", cmd, path);
        return PR_EXIT_FAIL;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    uint64_t lineno = 0;
    int rc = PR_EXIT_OK;
    pr_err err;
    pr_arena arena;
    pr_arena_init(&arena, NULL, 0, 0);
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (len && line[len - 1] == '\n') len--;
        if (len == 0) continue;
        pr_json_value v[1];
        pr_arena_reset(&arena);
        if (pr_json_scan(keys, line, (size_t)len, &arena, v, &err) != PR_OK) {
            fprintf(stderr, "pronto %s: %s:%llu: %s\n", cmd, name, (unsigned long long)lineno,
                    err.msg);
            rc = PR_EXIT_FAIL;
            break;
        }
        int64_t ts;
        if (!pr_json_int(&v[0], &ts)) {
            fprintf(stderr, "pronto %s: %s:%llu: field \"ts\": expected integer Unix ms\n", cmd,
                    name, (unsigned long long)lineno);
            rc = PR_EXIT_FAIL;
            break;
        }
        char *copy = malloc((size_t)len ? (size_t)len : 1);
        if (!copy) {
            fprintf(stderr, "pronto %s: out of memory\n", cmd);
            rc = PR_EXIT_FAIL;
            break;
        }
        memcpy(copy, line, (size_t)len);
        b->line[b->n] = copy;
        b->e[b->n] = (pr_log_entry){type, ts, pr_bytes_of(copy, (size_t)len)};
        if (++b->n == APPEND_BATCH && flush_batch(log, b, &err) != PR_OK) {
            fprintf(stderr, "pronto %s: %s\n", cmd, err.msg);
            rc = PR_EXIT_FAIL;
            break;
        }
        (*total)++;
    }
    if (rc == PR_EXIT_OK && ferror(f)) {
        fprintf(stderr, "pronto %s: cannot read %s\n", cmd, name);
        rc = PR_EXIT_FAIL;
    }
    pr_arena_free(&arena);
    free(line);
    if (!is_stdin) fclose(f);
    return rc;
}

static int run_append(const char *cmd, const char *uri, uint32_t type, char **files,
                      int n_files) {
    pr_event_log *log;
    if (open_log(cmd, uri, PR_LOG_WRITE, &log) != PR_OK) return PR_EXIT_FAIL;
    static const char *const names[] = {"ts"};
    pr_json_keys *keys;
    pr_err err;
    if (pr_json_keys_new(names, 1, &keys, &err) != PR_OK) {
        pr_log_close(log);
        fprintf(stderr, "pronto %s: %s\n", cmd, err.msg);
        return PR_EXIT_FAIL;
    }
    batch *b = calloc(1, sizeof *b);
    int rc = b ? PR_EXIT_OK : PR_EXIT_FAIL;
    uint64_t total = 0;
    for (int i = 0; rc == PR_EXIT_OK && i < (n_files ? n_files : 1); i++)
        rc = append_file(cmd, log, n_files ? files[i] : NULL, type, keys, b, &total);
    if (b) {
        /* lines read before a bad one are appended: nothing read is lost */
        if (flush_batch(log, b, &err) != PR_OK) {
            fprintf(stderr, "pronto %s: %s\n", cmd, err.msg);
            rc = PR_EXIT_FAIL;
        }
    }
    free(b);
    pr_json_keys_free(keys);
    pr_log_close(log);
    if (rc == PR_EXIT_OK) fprintf(stderr, "pronto %s: %llu records appended\n", cmd,
                                  (unsigned long long)total);
    return rc;
}

/* ---------------------------------------------------------------- main */

/* Each subcommand: its name and its own usage text (`pronto log tail
 * --help` shows tail's). */
static const struct {
    const char *name, *usage;
} log_subs[] = {
    {"stat", "URI [flags]\n\nSegments, records, time span, bytes, records per type, consumers "
             "and their committed\npositions of the log, as JSON (docs/log.md)."},
    {"tail", "URI [-n N] [-f] [flags]\n\nThe last N records (default 10); -f: then the "
             "records as they are appended,\nuntil Ctrl-C (docs/log.md)."},
    {"verify", "URI [flags]\n\nChecks every record and index of the log; exit 1 on "
               "corruption (docs/log.md)."},
    {"cat", "URI [--from T] [--to T] [--type TYPE] [--skip-corrupt] [flags]\n\nThe records "
            "with from <= time < to, as JSON lines. T: ISO-8601 (UTC unless an\noffset is "
            "given), Unix seconds, or Unix milliseconds written with 'ms'\n(1704067200184ms). "
            "TYPE: event, prediction, features or a number (docs/log.md)."},
    {"compact", "URI [--retain-bytes N] [--retain-ms D] [--no-compress] [flags]\n\nApplies "
                "retention now and zstd-compresses the closed segments (docs/log.md)."},
    {"append", "URI [--type TYPE] [FILE...] [flags]\n\nAppends JSON lines (stdin without "
               "FILE or with -); a record's time is the\nline's integer \"ts\" (ms) "
               "(docs/log.md)."},
};

const char *cmd_log_sub(size_t i) {
    return i < sizeof log_subs / sizeof *log_subs ? log_subs[i].name : NULL;
}

int cmd_log(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: pronto log %s\n", usage_text);
        return PR_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        pr_flags_help("log", usage_text, NULL, 0);
        return PR_EXIT_OK;
    }
    const char *sub = argv[1];
    const char *sub_usage = NULL;
    for (size_t i = 0; cmd_log_sub(i); i++)
        if (!strcmp(sub, cmd_log_sub(i))) sub_usage = log_subs[i].usage;
    if (!sub_usage) {
        fprintf(stderr,
                "pronto log: unknown subcommand '%s' (stat, tail, verify, cat, compact, "
                "append)\n",
                sub);
        return PR_EXIT_USAGE;
    }
    char cmd[32];
    snprintf(cmd, sizeof cmd, "log %s", sub);
    unsigned long long n_last = 10, retain_bytes = 0;
    int follow = 0, meta = 0, skip_corrupt = 0, no_compress = 0;
    const char *from_s = NULL, *to_s = NULL, *type_s = NULL, *retain_ms_s = NULL;
    pr_flag flags[16];
    int nf = 0;
    if (!strcmp(sub, "tail")) {
        flags[nf++] = (pr_flag){"--lines", "-n", PR_FLAG_UINT, &n_last,
                                "N  how many of the last records (default 10)", 0};
        flags[nf++] = (pr_flag){"--follow", "-f", PR_FLAG_BOOL, &follow,
                                "then print records as they are appended (until Ctrl-C)", 0};
    }
    if (!strcmp(sub, "cat")) {
        flags[nf++] = (pr_flag){"--from", NULL, PR_FLAG_STRING, &from_s,
                                "T  records with time >= T (found through the time index)", 0};
        flags[nf++] = (pr_flag){"--to", NULL, PR_FLAG_STRING, &to_s, "T  records with time < T",
                                0};
        flags[nf++] = (pr_flag){"--skip-corrupt", NULL, PR_FLAG_BOOL, &skip_corrupt,
                                "skip corrupt records of closed segments (counted on stderr)",
                                0};
    }
    if (!strcmp(sub, "cat") || !strcmp(sub, "append"))
        flags[nf++] = (pr_flag){"--type", NULL, PR_FLAG_STRING, &type_s,
                                "TYPE  event, prediction, features or a number (append: "
                                "default event)",
                                0};
    if (!strcmp(sub, "cat") || !strcmp(sub, "tail"))
        flags[nf++] = (pr_flag){"--meta", NULL, PR_FLAG_BOOL, &meta,
                                "wrap each record with its position, type and time", 0};
    if (!strcmp(sub, "compact")) {
        flags[nf++] = (pr_flag){"--retain-bytes", NULL, PR_FLAG_UINT, &retain_bytes,
                                "N  drop the oldest closed segments while the log is bigger",
                                0};
        flags[nf++] = (pr_flag){"--retain-ms", NULL, PR_FLAG_STRING, &retain_ms_s,
                                "D  drop closed segments last written longer ago (7d, 12h, "
                                "90s; a bare number is seconds)",
                                0};
        flags[nf++] = (pr_flag){"--no-compress", NULL, PR_FLAG_BOOL, &no_compress,
                                "only apply retention", 0};
    }
    char *pos[256];
    int n_pos = 0;
    int rc = pr_flags_parse(cmd, sub_usage, flags, nf, argc - 1, argv + 1, pos, 256, &n_pos);
    if (rc) return rc == 1 ? PR_EXIT_OK : PR_EXIT_USAGE;
    if (n_pos < 1) return cli_usage_error(cmd, "expected a log URI (e.g. log:DIR)");
    if (n_pos > 1 && strcmp(sub, "append"))
        return cli_usage_error(cmd, "expected one log URI; more arguments were given");
    if (!strchr(pos[0], ':'))
        return cli_usage_error(cmd, "the log URI needs a scheme: log:DIR or redis-stream:...");
    uint32_t type = PR_LOG_TYPE_EVENT;
    if (type_s && !parse_type(type_s, &type))
        return cli_usage_error(cmd,
                               "--type: expected event, prediction, features or a number >= 1");
    int64_t from_ms = 0, to_ms = 0, retain_ms = 0;
    if (from_s && !parse_time_ms(cmd, "--from", from_s, &from_ms)) return PR_EXIT_USAGE;
    if (to_s && !parse_time_ms(cmd, "--to", to_s, &to_ms)) return PR_EXIT_USAGE;
    if (from_s && to_s && to_ms <= from_ms)
        return cli_usage_error(cmd, "--to must be after --from");
    if (retain_ms_s && !cli_parse_duration_ms(cmd, "--retain-ms", retain_ms_s, &retain_ms))
        return PR_EXIT_USAGE;
    if (!strcmp(sub, "tail") && n_last > 10000000ull)
        return cli_usage_error(cmd, "-n: at most 10000000 records");

    if (!strcmp(sub, "compact")) return run_compact(cmd, pos[0], retain_bytes, retain_ms, no_compress);
    if (!strcmp(sub, "append")) return run_append(cmd, pos[0], type, pos + 1, n_pos - 1);
    pr_event_log *log;
    if (open_log(cmd, pos[0], PR_LOG_READ, &log) != PR_OK) return PR_EXIT_FAIL;
    if (!strcmp(sub, "stat")) rc = run_stat(cmd, log);
    else if (!strcmp(sub, "tail")) rc = run_tail(cmd, log, n_last, follow, meta);
    else if (!strcmp(sub, "verify")) rc = run_verify(cmd, log);
    else rc = run_cat(cmd, log, from_s != NULL, from_ms, to_s != NULL, to_ms, type_s != NULL,
                      type, skip_corrupt, meta);
    pr_log_close(log);
    return rc;
}
