/*
 * sim_output.c: writes the simulator's event stream and its companions.
 *
 *   events   JSON-lines, one event per line (docs/events.md), to rotated
 *            files DIR/events-NNNNNN.jsonl[.zst] or to stdout;
 *   truth    TSV "impression_id<TAB>p<TAB>p_label", one row per impression
 *            in impression order (DIR/truth.tsv or --truth FILE);
 *   joined   one training row per impression, same order as truth: CSV
 *            with header, or Criteo TSV (label, I1..I13, C1..C26);
 *   notes    DIR/scenarios.log, one line per scenario change.
 *
 * Formatting is by hand (sim_fmt.h): no printf on the per-event path.
 * The broken-field scenario is applied here: a broken field is left out of
 * impressions and joined rows (missing) or replaced by a fixed valid value
 * (constant: device "mobile", site_id 0, position 1); truth is unaffected.
 *
 * Ownership: pr_sim_output owns copies of the option strings and every sink.
 * Invariant: after the first error (err.status != PR_OK) nothing more is
 * written and every call returns that status.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "sim/sim_fmt.h"
#include "sim/sim_int.h"

#define PATH_MAX_LEN 4096

struct pr_sim_output {
    pr_sim_output_options opts;
    char *dir, *joined_path, *truth_path;   /* owned copies */
    int zstd_level;
    pr__sink *events;      /* NULL when events go nowhere / between files */
    uint32_t file_index;   /* index of the current (or next) events file */
    uint64_t in_file;      /* events written to the current file */
    pr__sink *truth, *joined, *notes;
    pr_err err;            /* sticky */
};

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static pr_status open_events_file(pr_sim_output *o) {
    char path[PATH_MAX_LEN];
    snprintf(path, sizeof path, "%s/events-%06u.jsonl%s", o->dir, o->file_index,
             o->zstd_level ? ".zst" : "");
    o->in_file = 0;
    return pr__sink_open(path, o->zstd_level, &o->events, &o->err);
}

static pr_status open_in_dir(pr_sim_output *o, const char *name, pr__sink **s) {
    char path[PATH_MAX_LEN];
    snprintf(path, sizeof path, "%s/%s", o->dir, name);
    return pr__sink_open(path, 0, s, &o->err);
}

pr_status pr_sim_output_open(const pr_sim_output_options *opts, const pr_sim *sim,
                             pr_sim_output **out, pr_err *err) {
    *out = NULL;
    pr_sim_output *o = calloc(1, sizeof *o);
    if (!o) return pr_err_set(err, PR_ERR_NOMEM, "simulate: out of memory");
    o->opts = *opts;
    o->dir = dup_or_null(opts->dir);
    o->joined_path = dup_or_null(opts->joined_path);
    o->truth_path = dup_or_null(opts->truth_path);
    o->zstd_level = opts->zstd ? (opts->zstd_level > 0 ? opts->zstd_level : 3) : 0;
    o->opts.dir = o->dir;
    o->opts.joined_path = o->joined_path;
    o->opts.truth_path = o->truth_path;
    if ((opts->dir && !o->dir) || (opts->joined_path && !o->joined_path) ||
        (opts->truth_path && !o->truth_path)) {
        pr_err_set(&o->err, PR_ERR_NOMEM, "simulate: out of memory");
        goto fail;
    }

    if (o->dir) {
        if (mkdir(o->dir, 0777) != 0 && errno != EEXIST) {
            pr_err_errno(&o->err, PR_ERR_IO, errno, "-o %s: cannot create the output folder",
                         o->dir);
            goto fail;
        }
        struct stat st;
        if (stat(o->dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            pr_err_set(&o->err, PR_ERR_IO, "-o %s: not a folder", o->dir);
            goto fail;
        }
        if (open_in_dir(o, "scenarios.log", &o->notes)) goto fail;
        if (pr__sink_write(o->notes, "ts_ms\ttime_utc\tchange\n", 22, &o->err)) goto fail;
        if (!o->truth_path) {
            char path[PATH_MAX_LEN];
            snprintf(path, sizeof path, "%s/truth.tsv", o->dir);
            o->truth_path = strdup(path);
            if (!o->truth_path) {
                pr_err_set(&o->err, PR_ERR_NOMEM, "simulate: out of memory");
                goto fail;
            }
        }
    }
    if (opts->to_stdout) {
        if (pr__sink_stdout(o->zstd_level, &o->events, &o->err)) goto fail;
    } else if (o->dir) {
        if (open_events_file(o)) goto fail;
    }
    if (o->truth_path) {
        if (pr__sink_open(o->truth_path, 0, &o->truth, &o->err)) goto fail;
        if (pr__sink_write(o->truth, "impression_id\tp\tp_label\n", 24, &o->err)) goto fail;
    }
    if (o->joined_path) {
        if (pr__sink_open(o->joined_path, 0, &o->joined, &o->err)) goto fail;
        if (opts->joined_format == PR_SIM_JOINED_CSV) {
            static const char header[] =
                "label,ts,user_id,ad_id,advertiser_id,campaign_id,category,creative_type,"
                "site_id,site_category,device,country,age_bucket,gender,position,hour,"
                "day_of_week,user_ad_imps,user_imps,recent_cat_click\n";
            if (pr__sink_write(o->joined, header, sizeof header - 1, &o->err)) goto fail;
        }
    }
    if (sim && o->dir && pr_sim_write_entities(sim, o->dir, &o->err)) goto fail;
    *out = o;
    return PR_OK;
fail:
    if (err) *err = o->err;
    {
        pr_status rc = o->err.status;
        pr_sim_output_abort(o);
        return rc;
    }
}

/* 0 = normal, 1 = missing, 2 = constant. */
static inline int field_state(const pr_sim_event *ev, pr_sim_field f) {
    unsigned bit = 1u << f;
    if (!(ev->broken & bit)) return 0;
    return (ev->broken_constant & bit) ? 2 : 1;
}

static char *put_name(char *p, pr_sim_value_kind kind, unsigned code) {
    return pr__put_cstr(p, pr_sim_value_name(kind, code));
}

static char *format_json(char *p, const pr_sim_event *ev) {
    static const char *const type_lit[] = {
        "{\"type\":\"impression\",\"event_id\":", "{\"type\":\"click\",\"event_id\":",
        "{\"type\":\"conversion\",\"event_id\":"};
    p = pr__put_cstr(p, type_lit[ev->type]);
    p = pr__put_u64(p, ev->event_id);
    p = PR__PUT_LIT(p, ",\"impression_id\":");
    p = pr__put_u64(p, ev->impression_id);
    p = PR__PUT_LIT(p, ",\"ts\":");
    p = pr__put_i64(p, ev->ts_ms);
    p = PR__PUT_LIT(p, ",\"user_id\":");
    p = pr__put_u64(p, ev->user_id);
    p = PR__PUT_LIT(p, ",\"ad_id\":");
    p = pr__put_u64(p, ev->ad_id);
    if (ev->type == PR_SIM_EVENT_IMPRESSION) {
        int s = field_state(ev, PR_SIM_FIELD_SITE_ID);
        if (s != 1) {
            p = PR__PUT_LIT(p, ",\"site_id\":");
            p = pr__put_u64(p, s == 2 ? 0 : ev->site_id);
        }
        s = field_state(ev, PR_SIM_FIELD_DEVICE);
        if (s != 1) {
            p = PR__PUT_LIT(p, ",\"device\":\"");
            p = put_name(p, PR_SIM_VALUE_DEVICE, s == 2 ? 0 : ev->device);
            *p++ = '"';
        }
        s = field_state(ev, PR_SIM_FIELD_POSITION);
        if (s != 1) {
            p = PR__PUT_LIT(p, ",\"position\":");
            p = pr__put_u64(p, s == 2 ? 1 : ev->position);
        }
        p = PR__PUT_LIT(p, ",\"hour\":");
        p = pr__put_u64(p, ev->hour);
        p = PR__PUT_LIT(p, ",\"day_of_week\":");
        p = pr__put_u64(p, ev->day_of_week);
    }
    p = PR__PUT_LIT(p, "}\n");
    return p;
}

static char *format_joined_csv(char *p, const pr_sim_event *ev) {
    *p++ = ev->label ? '1' : '0';
    *p++ = ',';
    p = pr__put_i64(p, ev->ts_ms / 1000);
    *p++ = ',';
    p = pr__put_u64(p, ev->user_id);
    *p++ = ',';
    p = pr__put_u64(p, ev->ad_id);
    *p++ = ',';
    p = pr__put_u64(p, ev->advertiser_id);
    *p++ = ',';
    p = pr__put_u64(p, ev->campaign_id);
    *p++ = ',';
    p = put_name(p, PR_SIM_VALUE_CATEGORY, ev->category);
    *p++ = ',';
    p = put_name(p, PR_SIM_VALUE_CREATIVE_TYPE, ev->creative_type);
    *p++ = ',';
    int s = field_state(ev, PR_SIM_FIELD_SITE_ID);
    if (s != 1) p = pr__put_u64(p, s == 2 ? 0 : ev->site_id);
    *p++ = ',';
    p = put_name(p, PR_SIM_VALUE_SITE_CATEGORY, ev->site_category);
    *p++ = ',';
    s = field_state(ev, PR_SIM_FIELD_DEVICE);
    if (s != 1) p = put_name(p, PR_SIM_VALUE_DEVICE, s == 2 ? 0 : ev->device);
    *p++ = ',';
    p = put_name(p, PR_SIM_VALUE_COUNTRY, ev->country);
    *p++ = ',';
    p = put_name(p, PR_SIM_VALUE_AGE_BUCKET, ev->age_bucket);
    *p++ = ',';
    p = put_name(p, PR_SIM_VALUE_GENDER, ev->gender);
    *p++ = ',';
    s = field_state(ev, PR_SIM_FIELD_POSITION);
    if (s != 1) p = pr__put_u64(p, s == 2 ? 1 : ev->position);
    *p++ = ',';
    p = pr__put_u64(p, ev->hour);
    *p++ = ',';
    p = pr__put_u64(p, ev->day_of_week);
    *p++ = ',';
    p = pr__put_u64(p, ev->user_ad_imps);
    *p++ = ',';
    p = pr__put_u64(p, ev->user_imps);
    *p++ = ',';
    *p++ = ev->recent_cat_click ? '1' : '0';
    *p++ = '\n';
    return p;
}

/* Criteo-style categorical token: 8 hex digits of a 32-bit mix of the
 * column number and the value's code (docs/events.md has the mapping). */
static char *put_criteo_token(char *p, unsigned column, uint64_t code) {
    static const char hex[] = "0123456789abcdef";
    uint64_t state = ((uint64_t)column << 48) ^ code;
    uint32_t h = (uint32_t)pr_splitmix64(&state);
    for (int i = 7; i >= 0; i--) {
        p[i] = hex[h & 15];
        h >>= 4;
    }
    return p + 8;
}

static char *format_joined_criteo(char *p, const pr_sim_event *ev) {
    *p++ = ev->label ? '1' : '0';
    /* I1..I13 */
    int pos_state = field_state(ev, PR_SIM_FIELD_POSITION);
    *p++ = '\t';
    if (pos_state != 1) p = pr__put_u64(p, pos_state == 2 ? 1 : ev->position);
    *p++ = '\t';
    p = pr__put_u64(p, ev->hour);
    *p++ = '\t';
    p = pr__put_u64(p, ev->day_of_week);
    *p++ = '\t';
    p = pr__put_u64(p, ev->user_ad_imps);
    *p++ = '\t';
    p = pr__put_u64(p, ev->user_imps);
    *p++ = '\t';
    *p++ = ev->recent_cat_click ? '1' : '0';
    for (int i = 7; i <= 13; i++) *p++ = '\t';
    /* C1..C26 */
    int site_state = field_state(ev, PR_SIM_FIELD_SITE_ID);
    int dev_state = field_state(ev, PR_SIM_FIELD_DEVICE);
    const uint64_t codes[12] = {
        ev->user_id, ev->ad_id, ev->advertiser_id, ev->campaign_id, ev->category,
        ev->creative_type, site_state == 2 ? 0 : ev->site_id, ev->site_category,
        dev_state == 2 ? 0 : ev->device, ev->country, ev->age_bucket, ev->gender};
    for (unsigned c = 0; c < 12; c++) {
        *p++ = '\t';
        if ((c == 6 && site_state == 1) || (c == 8 && dev_state == 1)) continue;
        p = put_criteo_token(p, c + 1, codes[c]);
    }
    for (int c = 13; c <= 26; c++) *p++ = '\t';
    *p++ = '\n';
    return p;
}

static pr_status write_note(pr_sim_output *o, const pr_sim_event *ev) {
    char when[32] = "?";
    time_t secs = (time_t)(ev->ts_ms / 1000);
    struct tm tm;
    if (gmtime_r(&secs, &tm)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!o->notes) {
        pr_log(PR_LOG_INFO, "simulate: %s %s", when, ev->note);
        return PR_OK;
    }
    char line[512];
    int n = snprintf(line, sizeof line, "%lld\t%s\t%s\n", (long long)ev->ts_ms, when, ev->note);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof line) n = (int)sizeof line - 1;
    return pr__sink_write(o->notes, line, (size_t)n, &o->err);
}

static pr_status write_event(pr_sim_output *o, const pr_sim_event *ev) {
    if (o->events == NULL && o->dir && !o->opts.to_stdout) {
        if (open_events_file(o)) return o->err.status;
    }
    if (o->events) {
        char *p = pr__sink_reserve(o->events, PR_SIM_RECORD_MAX);
        if (!p) return pr__sink_status(o->events, &o->err);
        pr__sink_commit(o->events, format_json(p, ev));
        o->in_file++;
        if (o->dir && !o->opts.to_stdout && o->opts.rotate_events &&
            o->in_file >= o->opts.rotate_events) {
            pr__sink *done = o->events;
            o->events = NULL;
            o->file_index++;
            if (pr__sink_close(done, &o->err)) return o->err.status;
        }
    }
    if (ev->type != PR_SIM_EVENT_IMPRESSION) return PR_OK;
    if (o->truth) {
        char *p = pr__sink_reserve(o->truth, PR_SIM_RECORD_MAX);
        if (!p) return pr__sink_status(o->truth, &o->err);
        p = pr__put_u64(p, ev->impression_id);
        *p++ = '\t';
        p = pr__put_prob9(p, ev->p);
        *p++ = '\t';
        p = pr__put_prob9(p, ev->p_label);
        *p++ = '\n';
        pr__sink_commit(o->truth, p);
    }
    if (o->joined) {
        char *p = pr__sink_reserve(o->joined, PR_SIM_RECORD_MAX);
        if (!p) return pr__sink_status(o->joined, &o->err);
        p = o->opts.joined_format == PR_SIM_JOINED_CRITEO ? format_joined_criteo(p, ev)
                                                          : format_joined_csv(p, ev);
        pr__sink_commit(o->joined, p);
    }
    return PR_OK;
}

pr_status pr_sim_output_write(pr_sim_output *o, const pr_sim_event *ev, pr_err *err) {
    if (!o->err.status) {
        if (ev->type == PR_SIM_EVENT_SCENARIO) write_note(o, ev);
        else write_event(o, ev);
    }
    if (o->err.status && err) *err = o->err;
    return o->err.status;
}

pr_status pr_sim_output_flush(pr_sim_output *o, pr_err *err) {
    if (!o->err.status && o->events && o->opts.to_stdout) pr__sink_flush(o->events, &o->err);
    if (o->err.status && err) *err = o->err;
    return o->err.status;
}

static void close_sink(pr_sim_output *o, pr__sink **s) {
    pr_err e;
    pr_err_clear(&e);
    if (*s && pr__sink_close(*s, &e) && !o->err.status) o->err = e;
    *s = NULL;
}

static void close_all(pr_sim_output *o) {
    close_sink(o, &o->events);
    close_sink(o, &o->truth);
    close_sink(o, &o->joined);
    close_sink(o, &o->notes);
    free(o->dir);
    free(o->joined_path);
    free(o->truth_path);
}

pr_status pr_sim_output_close(pr_sim_output *o, pr_err *err) {
    if (!o) return PR_OK;
    close_all(o);
    pr_status rc = o->err.status;
    if (rc && err) *err = o->err;
    free(o);
    return rc;
}

void pr_sim_output_abort(pr_sim_output *o) {
    if (!o) return;
    close_all(o);
    free(o);
}
