/*
 * bench_ct_eval.c: the scoring and the arithmetic of the continuous-training
 * experiment (bench/ct_experiment.sh, docs/continuous-training.md "The
 * experiment"). Three subcommands:
 *
 *   score --schedule FILE -o SCORES.csv EXAMPLES.csv
 *       EXAMPLES.csv is `pronto build-dataset --csv` output (impression_id,
 *       ts_ms, label, the assembled columns), in time order. The schedule
 *       has lines "FROM_MS MODEL": the model live from FROM_MS on (until the
 *       next line's FROM_MS). Every example at or after the first FROM_MS is
 *       scored by the model live at its ts_ms, featurized with that model's
 *       embedded spec and filter, as `pronto predict` does (pronto.h); rows
 *       before it are skipped. Output: "impression_id,ts_ms,label,p".
 *
 *   learn -o SCORES.csv (--spec SPEC | --init MODEL) [--delay-ms D] [--publish-ms P]
 *         [--learn-from MS] [--restart SCHEDULE] [--score-from MS] EXAMPLES.csv
 *       A stand-in for online learning (`pronto learn`) on the same examples:
 *       FTRL-LR (pronto's defaults, the spec's hash bits; from --init's
 *       weights if given) learns each example D ms after its impression (when
 *       the joiner would emit it: window + lateness), in time order; every P
 *       ms of event time the model is published (a snapshot), and each
 *       example is scored by the snapshot live at its time. Learning is
 *       done in batches at the publish boundaries (everything out by the
 *       boundary), so between two boundaries the learner's model is the
 *       published snapshot and scores with it directly. Rare features are
 *       admitted as pronto learn does: the spec's min_count counted online
 *       (pr_count_filter_add_admit), the snapshot's filter = the counts'
 *       bitmap or the model's own. --learn-from: examples
 *       before MS are not learned (the init model has seen them). --restart:
 *       at each schedule time (a publish boundary), the learner's model is
 *       replaced by that model (warm restarts from batch models), then
 *       continues from where it was in the stream.
 *
 *   report --truth truth.tsv --from T_MS --to T_MS [--day0 T_MS] [--drift T_MS:NAME]...
 *          --policy NAME=SCORES.csv... --hourly OUT.csv --table OUT.md
 *       Per simulated hour in [from, to): for each policy, the log loss of
 *       its scores and, on the same impressions, the log loss of the true
 *       click probability of the label (truth.tsv's p_label: the Bayes
 *       predictor), and the excess (policy - Bayes). Scores files have the
 *       format above, with or without a header; p is clamped to
 *       [1e-7, 1 - 1e-7]. The markdown table has the mean excess per day
 *       and overall (pooled over impressions, not a mean of hours), and per
 *       drift: the pre-drift level, the peak and the recovery time of the
 *       relative excess (defined in the table's notes and recovery_hour()).
 *
 * Memory: the truth (8 bytes per impression) and per policy an array of
 * hourly sums; scores are streamed.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pronto/pronto.h"

#define MAX_POLICIES 16
#define MAX_DRIFTS 16
#define MAX_SCHEDULE 100000

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_ct_eval: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static int64_t parse_i64(const char *s, const char *what) {
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || (*end && *end != '\n' && *end != '\r'))
        die("%s: expected an integer, got '%s'", what, s);
    return v;
}

/* ---------------------------------------------------------------- score */

typedef struct sched {
    int64_t from_ms;
    char *path;
} sched;

typedef struct scorer {
    pr_model *model;
    pr_spec *spec;
    pr_featurizer *fz;
} scorer;

static void scorer_free(scorer *s) {
    pr_featurizer_free(s->fz);
    pr_spec_free(s->spec);
    pr_model_free(s->model);
    memset(s, 0, sizeof *s);
}

static void scorer_load(scorer *s, const char *path, const char *const *names, uint32_t n) {
    pr_err err;
    scorer_free(s);
    if (pr_model_load(path, &s->model, &err) != PR_OK) die("%s", err.msg);
    const char *y = pr_model_spec(s->model);
    if (!y) die("%s: model has no embedded spec", path);
    if (pr_spec_parse(y, strlen(y), path, &s->spec, &err) != PR_OK ||
        pr_featurizer_new(s->spec, &s->fz, &err) != PR_OK ||
        pr_featurizer_bind(s->fz, names, n, &err) != PR_OK)
        die("%s: %s", path, err.msg);
}

static int cmd_score(int argc, char **argv) {
    const char *sched_path = NULL, *out_path = NULL, *examples = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--schedule") && i + 1 < argc) sched_path = argv[++i];
        else if (!strcmp(argv[i], "-o") && i + 1 < argc) out_path = argv[++i];
        else if (argv[i][0] != '-' && !examples) examples = argv[i];
        else die("score: unexpected argument '%s'", argv[i]);
    }
    if (!sched_path || !out_path || !examples)
        die("usage: score --schedule FILE -o SCORES.csv EXAMPLES.csv");
    FILE *sf = fopen(sched_path, "r");
    if (!sf) die("%s: %s", sched_path, strerror(errno));
    static sched sc[MAX_SCHEDULE];
    size_t n_sc = 0;
    char line[4096];
    while (fgets(line, sizeof line, sf)) {
        char *sp = strchr(line, ' ');
        if (!sp) continue;
        *sp = 0;
        char *path = sp + 1;
        path[strcspn(path, "\r\n")] = 0;
        if (n_sc >= MAX_SCHEDULE) die("%s: more than %d lines", sched_path, MAX_SCHEDULE);
        sc[n_sc].from_ms = parse_i64(line, sched_path);
        sc[n_sc].path = strdup(path);
        if (n_sc && sc[n_sc].from_ms < sc[n_sc - 1].from_ms)
            die("%s: times must not decrease", sched_path);
        n_sc++;
    }
    fclose(sf);
    if (!n_sc) die("%s: empty schedule", sched_path);

    pr_err err;
    pr_reader_opts ro;
    pr_reader_opts_init(&ro, PR_FORMAT_CSV);
    pr_reader *r = NULL;
    if (pr_reader_open(examples, &ro, &r, &err) != PR_OK) die("%s", err.msg);
    uint32_t nc = pr_reader_n_columns(r);
    const char *names[PR_MAX_INPUT_COLUMNS];
    int id_col = -1, ts_col = -1;
    if (nc > PR_MAX_INPUT_COLUMNS) die("%s: too many columns", examples);
    for (uint32_t c = 0; c < nc; c++) {
        names[c] = pr_reader_column_name(r, c);
        if (!strcmp(names[c], "impression_id")) id_col = (int)c;
        if (!strcmp(names[c], "ts_ms")) ts_col = (int)c;
    }
    if (id_col < 0 || ts_col < 0) die("%s: needs impression_id and ts_ms columns", examples);

    FILE *out = fopen(out_path, "w");
    if (!out) die("%s: %s", out_path, strerror(errno));
    fprintf(out, "impression_id,ts_ms,label,p\n");
    scorer s = {0};
    size_t cur = SIZE_MAX; /* index of the loaded model */
    pr_arena arena;
    pr_arena_init(&arena, NULL, 0, 0);
    pr_record rec;
    pr_status st;
    uint64_t scored = 0, skipped = 0;
    while ((st = pr_reader_next(r, &rec, &err)) == PR_OK) {
        char tsb[32];
        pr_bytes tv = rec.cols[ts_col];
        if (tv.len == 0 || tv.len >= sizeof tsb) die("%s:%llu: bad ts_ms", examples,
                                                     (unsigned long long)rec.line);
        memcpy(tsb, tv.ptr, tv.len);
        tsb[tv.len] = 0;
        int64_t ts = parse_i64(tsb, "ts_ms");
        if (ts < sc[0].from_ms) {
            skipped++;
            continue;
        }
        size_t want = cur == SIZE_MAX ? 0 : cur;
        while (want + 1 < n_sc && sc[want + 1].from_ms <= ts) want++;
        if (want != cur) {
            if (cur != SIZE_MAX && want < cur) die("%s: rows not in time order", examples);
            if (cur == SIZE_MAX || strcmp(sc[want].path, sc[cur].path) != 0)
                scorer_load(&s, sc[want].path, names, nc);
            cur = want;
        }
        pr_example x;
        pr_arena_reset(&arena);
        if (pr_featurizer_apply(s.fz, &rec, &arena, &x, &err) != PR_OK) die("%s", err.msg);
        pr_featurizer_apply_filter(s.fz, pr_model_filter(s.model), &x);
        double p = pr_model_predict(s.model, &x);
        fprintf(out, "%.*s,%s,%d,%.9g\n", (int)rec.cols[id_col].len, rec.cols[id_col].ptr, tsb,
                rec.label > 0.5f ? 1 : 0, p);
        scored++;
    }
    if (st != PR_EOF) die("%s", err.msg);
    if (fclose(out) != 0) die("%s: write failed", out_path);
    fprintf(stderr, "bench_ct_eval score: %llu scored, %llu before the first model\n",
            (unsigned long long)scored, (unsigned long long)skipped);
    pr_arena_free(&arena);
    scorer_free(&s);
    pr_reader_free(r);
    for (size_t i = 0; i < n_sc; i++) free(sc[i].path);
    return 0;
}


/* ---------------------------------------------------------------- learn */

typedef struct row_reader {
    pr_reader *r;
    int id_col, ts_col;
    pr_record rec;
    int64_t ts;
    int eof;
    const char *path;
} row_reader;

static void rr_open(row_reader *rr, const char *path, const char **names, uint32_t *nc) {
    pr_err err;
    pr_reader_opts ro;
    pr_reader_opts_init(&ro, PR_FORMAT_CSV);
    memset(rr, 0, sizeof *rr);
    rr->path = path;
    if (pr_reader_open(path, &ro, &rr->r, &err) != PR_OK) die("%s", err.msg);
    *nc = pr_reader_n_columns(rr->r);
    if (*nc > PR_MAX_INPUT_COLUMNS) die("%s: too many columns", path);
    rr->id_col = rr->ts_col = -1;
    for (uint32_t c = 0; c < *nc; c++) {
        names[c] = pr_reader_column_name(rr->r, c);
        if (!strcmp(names[c], "impression_id")) rr->id_col = (int)c;
        if (!strcmp(names[c], "ts_ms")) rr->ts_col = (int)c;
    }
    if (rr->id_col < 0 || rr->ts_col < 0) die("%s: needs impression_id and ts_ms columns", path);
}

/* Reads the next row into rr->rec / rr->ts; sets eof at the end. */
static void rr_next(row_reader *rr) {
    pr_err err;
    pr_status st = pr_reader_next(rr->r, &rr->rec, &err);
    if (st == PR_EOF) {
        rr->eof = 1;
        return;
    }
    if (st != PR_OK) die("%s", err.msg);
    char tsb[32];
    pr_bytes tv = rr->rec.cols[rr->ts_col];
    if (tv.len == 0 || tv.len >= sizeof tsb) die("%s: bad ts_ms", rr->path);
    memcpy(tsb, tv.ptr, tv.len);
    tsb[tv.len] = 0;
    int64_t ts = parse_i64(tsb, "ts_ms");
    if (ts < rr->ts) die("%s:%llu: rows not in time order", rr->path,
                         (unsigned long long)rr->rec.line);
    rr->ts = ts;
}

static int cmd_learn(int argc, char **argv) {
    const char *out_path = NULL, *spec_path = NULL, *init_path = NULL, *restart_path = NULL;
    const char *examples = NULL;
    int64_t delay = 660000, publish = 300000, learn_from = INT64_MIN, score_from = INT64_MIN;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (a[0] != '-' && !examples) {
            examples = a;
            continue;
        }
        if (!v) die("learn: %s needs a value", a);
        i++;
        if (!strcmp(a, "-o")) out_path = v;
        else if (!strcmp(a, "--spec")) spec_path = v;
        else if (!strcmp(a, "--init")) init_path = v;
        else if (!strcmp(a, "--restart")) restart_path = v;
        else if (!strcmp(a, "--delay-ms")) delay = parse_i64(v, a);
        else if (!strcmp(a, "--publish-ms")) publish = parse_i64(v, a);
        else if (!strcmp(a, "--learn-from")) learn_from = parse_i64(v, a);
        else if (!strcmp(a, "--score-from")) score_from = parse_i64(v, a);
        else die("learn: unknown flag %s", a);
    }
    if (!out_path || !examples || (!spec_path == !init_path) || publish <= 0 || delay < 0)
        die("usage: learn -o SCORES.csv (--spec SPEC | --init MODEL) [--delay-ms D] "
            "[--publish-ms P] [--learn-from MS] [--restart SCHEDULE] [--score-from MS] EXAMPLES.csv");
    static sched rs[MAX_SCHEDULE];
    size_t n_rs = 0, next_rs = 0;
    if (restart_path) {
        FILE *sf = fopen(restart_path, "r");
        if (!sf) die("%s: %s", restart_path, strerror(errno));
        char line[4096];
        while (fgets(line, sizeof line, sf) && n_rs < MAX_SCHEDULE) {
            char *sp = strchr(line, ' ');
            if (!sp) continue;
            *sp = 0;
            sp[1 + strcspn(sp + 1, "\r\n")] = 0;
            rs[n_rs].from_ms = parse_i64(line, restart_path);
            rs[n_rs].path = strdup(sp + 1);
            n_rs++;
        }
        fclose(sf);
    }

    pr_err err;
    pr_spec *spec = NULL;
    pr_featurizer *fz = NULL;
    pr_model *model = NULL;
    if (init_path) {
        if (pr_model_load(init_path, &model, &err) != PR_OK) die("%s", err.msg);
        const char *y = pr_model_spec(model);
        if (!y || pr_spec_parse(y, strlen(y), init_path, &spec, &err) != PR_OK)
            die("%s: no usable spec", init_path);
    } else if (pr_spec_load(spec_path, &spec, &err) != PR_OK) {
        die("%s", err.msg);
    }
    if (pr_featurizer_new(spec, &fz, &err) != PR_OK) die("%s", err.msg);
    /* rare features as pronto learn admits them: the spec's min_count,
     * counted online; a published snapshot's filter is the counts' bitmap
     * or'ed with the model's own (the buckets a warm start knew) */
    pr_count_filter *counts = NULL;
    uint32_t bits = pr_featurizer_hash_bits(fz);
    size_t words = (((size_t)1 << bits) + 63) / 64;
    uint64_t *pubfilter = NULL;
    if (pr_spec_min_count(spec) > 0) {
        if (pr_count_filter_new(bits, pr_spec_min_count(spec), &counts, &err) != PR_OK)
            die("%s", err.msg);
        pubfilter = calloc(words, sizeof *pubfilter);
        if (!pubfilter) die("out of memory");
    }
    if (!model) {
        pr_model_params p;
        pr_model_params_default(&p, PR_MODEL_KIND_LR);
        p.hash_bits = pr_featurizer_hash_bits(fz);
        if (pr_model_new(&p, &model, &err) != PR_OK) die("%s", err.msg);
    }
    row_reader ra, rb; /* ra: scoring at the impression's time; rb: learning, delayed */
    const char *names[PR_MAX_INPUT_COLUMNS];
    uint32_t nc;
    rr_open(&ra, examples, names, &nc);
    if (pr_featurizer_bind(fz, names, nc, &err) != PR_OK) die("%s", err.msg);
    rr_open(&rb, examples, names, &nc);
    rr_next(&ra);
    rr_next(&rb);
    FILE *out = fopen(out_path, "w");
    if (!out) die("%s: %s", out_path, strerror(errno));
    fprintf(out, "impression_id,ts_ms,label,p\n");
    pr_arena arena;
    pr_arena_init(&arena, NULL, 0, 0);
    pr_example x;
    int64_t next_pub = ra.eof ? 0 : (ra.ts / publish + 1) * publish;
    uint64_t learned = 0, scored = 0, publishes = 0, restarts = 0;
    while (!ra.eof) {
        while (ra.ts >= next_pub) {
            /* everything whose label is out by the boundary is learned */
            while (!rb.eof && rb.ts + delay <= next_pub) {
                if (rb.ts >= learn_from) {
                    pr_arena_reset(&arena);
                    if (pr_featurizer_apply(fz, &rb.rec, &arena, &x, &err) != PR_OK)
                        die("%s", err.msg);
                    if (counts) pr_count_filter_add_admit(counts, fz, pr_model_filter(model), &x);
                    else pr_featurizer_apply_filter(fz, pr_model_filter(model), &x);
                    pr_model_update(model, &x);
                    learned++;
                }
                rr_next(&rb);
            }
            while (next_rs < n_rs && rs[next_rs].from_ms <= next_pub) {
                pr_model_free(model);
                model = NULL;
                if (pr_model_load(rs[next_rs].path, &model, &err) != PR_OK) die("%s", err.msg);
                next_rs++;
                restarts++;
            }
            if (counts) {
                const uint64_t *c = pr_count_filter_bitmap(counts);
                const uint64_t *old = pr_model_filter(model);
                for (size_t i = 0; i < words; i++) pubfilter[i] = c[i] | (old ? old[i] : 0);
            }
            publishes++;
            next_pub += publish;
        }
        if (ra.ts >= score_from) {
            pr_arena_reset(&arena);
            if (pr_featurizer_apply(fz, &ra.rec, &arena, &x, &err) != PR_OK) die("%s", err.msg);
            pr_featurizer_apply_filter(fz, counts ? pubfilter : pr_model_filter(model), &x);
            double p = pr_model_predict(model, &x);
            fprintf(out, "%.*s,%lld,%d,%.9g\n", (int)ra.rec.cols[ra.id_col].len,
                    ra.rec.cols[ra.id_col].ptr, (long long)ra.ts, ra.rec.label > 0.5f ? 1 : 0, p);
            scored++;
        }
        rr_next(&ra);
    }
    if (fclose(out) != 0) die("%s: write failed", out_path);
    fprintf(stderr, "bench_ct_eval learn: %llu learned, %llu scored, %llu publishes, %llu restarts\n",
            (unsigned long long)learned, (unsigned long long)scored,
            (unsigned long long)publishes, (unsigned long long)restarts);
    pr_arena_free(&arena);
    pr_count_filter_free(counts);
    free(pubfilter);
    pr_model_free(model);
    pr_featurizer_free(fz);
    pr_spec_free(spec);
    pr_reader_free(ra.r);
    pr_reader_free(rb.r);
    for (size_t i = 0; i < n_rs; i++) free(rs[i].path);
    return 0;
}

/* ---------------------------------------------------------------- report */

typedef struct hour_sums {
    double loss, bayes;
    uint64_t n;
} hour_sums;

typedef struct policy {
    const char *name, *path;
    hour_sums *h; /* n_hours */
} policy;

static double ll(double p, int y) {
    if (p < 1e-7) p = 1e-7;
    if (p > 1 - 1e-7) p = 1 - 1e-7;
    return y ? -log(p) : -log(1 - p);
}

static float *truth_load(const char *path, uint64_t *n_out) {
    FILE *f = fopen(path, "r");
    if (!f) die("%s: %s", path, strerror(errno));
    uint64_t cap = 1 << 20, n = 0;
    float *t = malloc(cap * sizeof *t);
    char line[256];
    uint64_t lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (lineno == 1 && !strncmp(line, "impression_id", 13)) continue;
        char *end;
        unsigned long long id = strtoull(line, &end, 10);
        if (end == line || *end != '\t') die("%s:%llu: bad line", path, (unsigned long long)lineno);
        char *p2 = strchr(end + 1, '\t'); /* p, then p_label */
        if (!p2) die("%s:%llu: no p_label", path, (unsigned long long)lineno);
        double pl = strtod(p2 + 1, NULL);
        if (id == 0 || id > 1000000000ull) die("%s:%llu: bad id", path, (unsigned long long)lineno);
        while (id > cap) {
            cap *= 2;
            t = realloc(t, cap * sizeof *t);
            if (!t) die("out of memory");
        }
        for (; n < id; n++) t[n] = NAN;
        t[id - 1] = (float)pl;
    }
    fclose(f);
    *n_out = n;
    return t;
}

static void policy_load(policy *pol, const float *truth, uint64_t n_truth, int64_t from,
                        int64_t to, size_t n_hours) {
    FILE *f = fopen(pol->path, "r");
    if (!f) die("%s: %s", pol->path, strerror(errno));
    pol->h = calloc(n_hours, sizeof *pol->h);
    char line[512];
    uint64_t lineno = 0, missing = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (line[0] < '0' || line[0] > '9') {
            if (lineno == 1) continue; /* header */
            die("%s:%llu: bad line", pol->path, (unsigned long long)lineno);
        }
        char *e1, *e2, *e3, *e4;
        unsigned long long id = strtoull(line, &e1, 10);
        long long ts = *e1 == ',' ? strtoll(e1 + 1, &e2, 10) : 0;
        if (*e1 != ',' || *e2 != ',') die("%s:%llu: bad line", pol->path, (unsigned long long)lineno);
        long y = strtol(e2 + 1, &e3, 10);
        if (*e3 != ',' || (y != 0 && y != 1))
            die("%s:%llu: bad label", pol->path, (unsigned long long)lineno);
        double p = strtod(e3 + 1, &e4);
        if (e4 == e3 + 1 || !(p >= 0 && p <= 1))
            die("%s:%llu: bad p", pol->path, (unsigned long long)lineno);
        if (ts < from || ts >= to) continue;
        if (id == 0 || id > n_truth || isnan(truth[id - 1])) {
            missing++;
            continue;
        }
        size_t hi = (size_t)((ts - from) / 3600000);
        pol->h[hi].loss += ll(p, (int)y);
        pol->h[hi].bayes += ll(truth[id - 1], (int)y);
        pol->h[hi].n++;
    }
    fclose(f);
    if (missing) fprintf(stderr, "bench_ct_eval: %s: %llu rows without truth\n", pol->path,
                         (unsigned long long)missing);
}

static double excess_h(const policy *p, size_t h) {
    return p->h[h].n ? (p->h[h].loss - p->h[h].bayes) / (double)p->h[h].n : NAN;
}

/* Mean excess over hours [a, b), pooled over impressions. */
static double excess_range(const policy *p, size_t a, size_t b) {
    double l = 0, by = 0;
    uint64_t n = 0;
    for (size_t h = a; h < b; h++) {
        l += p->h[h].loss;
        by += p->h[h].bayes;
        n += p->h[h].n;
    }
    return n ? (l - by) / (double)n : NAN;
}

/* Relative excess (loss - Bayes) / Bayes over hours [a, b), pooled. */
static double rel_range(const policy *p, size_t a, size_t b) {
    double l = 0, by = 0;
    for (size_t h = a; h < b; h++) {
        l += p->h[h].loss;
        by += p->h[h].bayes;
    }
    return by > 0 ? (l - by) / by : NAN;
}

/* The relative excess over the 3 hours ending at h (a trailing mean). */
static double smooth3(const policy *p, size_t h) {
    size_t a = h >= 2 ? h - 2 : 0;
    return rel_range(p, a, h + 1);
}

/*
 * Recovery after a drift at hour d (the first whole hour at or after the
 * drift). Measured on the relative excess (loss - Bayes) / Bayes, because a
 * drift moves the Bayes loss itself (doubling the CTR raises it by ~70%),
 * and with it every policy's absolute excess: "back to the pre-drift
 * level" means back to the same share above the best possible.
 * L = the relative excess over the 24 hours before d, sd = the standard
 * deviation of its 3-hour trailing mean over those hours, threshold =
 * max(1.2 L, L + 2 sd) (1.2 L alone is within the noise when L is small).
 * Recovered at the first hour r >= d from which the 3-hour trailing mean
 * stays <= threshold for 12 hours, all before `end` (the next drift or the
 * end of the run). Returns r - d in hours (0: never above), -1 if never.
 * *peak: the largest 3-hour trailing mean in the 24 hours from d.
 */
static int recovery_hour(const policy *p, size_t d, size_t end, double *level, double *thr,
                         double *peak) {
    size_t a = d >= 24 ? d - 24 : 0;
    *level = rel_range(p, a, d);
    double s = 0, s2 = 0;
    int k = 0;
    for (size_t h = a; h < d; h++) {
        double v = smooth3(p, h);
        if (isnan(v)) continue;
        s += v;
        s2 += v * v;
        k++;
    }
    double sd = k > 1 ? sqrt(fmax(0, (s2 - s * s / k) / (k - 1))) : 0;
    *thr = fmax(1.2 * *level, *level + 2 * sd);
    *peak = -INFINITY;
    for (size_t h = d; h < end && h < d + 24; h++) {
        double v = smooth3(p, h);
        if (v > *peak) *peak = v;
    }
    for (size_t r = d; r + 12 <= end; r++) {
        size_t stop = r + 12;
        int ok = 1;
        for (size_t h = r; h < stop && ok; h++) {
            double v = smooth3(p, h);
            if (!(v <= *thr)) ok = 0;
        }
        if (ok) return (int)(r - d);
    }
    return -1;
}

static int cmd_report(int argc, char **argv) {
    const char *truth_path = NULL, *hourly_path = NULL, *table_path = NULL;
    int64_t from = -1, to = -1, day0 = -1;
    policy pol[MAX_POLICIES];
    int n_pol = 0;
    int64_t drift_ms[MAX_DRIFTS];
    const char *drift_name[MAX_DRIFTS];
    int n_drift = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) die("report: %s needs a value", a);
        i++;
        if (!strcmp(a, "--truth")) truth_path = v;
        else if (!strcmp(a, "--from")) from = parse_i64(v, "--from");
        else if (!strcmp(a, "--to")) to = parse_i64(v, "--to");
        else if (!strcmp(a, "--day0")) day0 = parse_i64(v, "--day0");
        else if (!strcmp(a, "--hourly")) hourly_path = v;
        else if (!strcmp(a, "--table")) table_path = v;
        else if (!strcmp(a, "--policy")) {
            const char *eq = strchr(v, '=');
            if (!eq || n_pol >= MAX_POLICIES) die("--policy: expected NAME=FILE");
            pol[n_pol].name = strndup(v, (size_t)(eq - v));
            pol[n_pol].path = eq + 1;
            n_pol++;
        } else if (!strcmp(a, "--drift")) {
            const char *c = strchr(v, ':');
            if (!c || n_drift >= MAX_DRIFTS) die("--drift: expected T_MS:NAME");
            char tmp[32];
            snprintf(tmp, sizeof tmp, "%.*s", (int)(c - v), v);
            drift_ms[n_drift] = parse_i64(tmp, "--drift");
            drift_name[n_drift] = c + 1;
            n_drift++;
        } else die("report: unknown flag %s", a);
    }
    if (!truth_path || from < 0 || to <= from || !n_pol || !hourly_path || !table_path)
        die("usage: report --truth FILE --from MS --to MS --policy NAME=FILE... "
            "[--drift MS:NAME]... --hourly OUT.csv --table OUT.md");
    if (day0 < 0) day0 = from;
    size_t n_hours = (size_t)((to - from + 3599999) / 3600000);
    uint64_t n_truth;
    float *truth = truth_load(truth_path, &n_truth);
    for (int k = 0; k < n_pol; k++) policy_load(&pol[k], truth, n_truth, from, to, n_hours);

    FILE *hf = fopen(hourly_path, "w");
    if (!hf) die("%s: %s", hourly_path, strerror(errno));
    fprintf(hf, "hour_ms,n,bayes");
    for (int k = 0; k < n_pol; k++) fprintf(hf, ",loss_%s", pol[k].name);
    for (int k = 0; k < n_pol; k++) fprintf(hf, ",excess_%s", pol[k].name);
    fprintf(hf, "\n");
    for (size_t h = 0; h < n_hours; h++) {
        const hour_sums *b = &pol[0].h[h];
        fprintf(hf, "%lld,%llu,", (long long)(from + (int64_t)h * 3600000),
                (unsigned long long)b->n);
        if (b->n) fprintf(hf, "%.6f", b->bayes / (double)b->n);
        for (int k = 0; k < n_pol; k++) {
            const hour_sums *s = &pol[k].h[h];
            if (s->n) fprintf(hf, ",%.6f", s->loss / (double)s->n);
            else fprintf(hf, ",");
        }
        for (int k = 0; k < n_pol; k++) {
            double e = excess_h(&pol[k], h);
            if (isnan(e)) fprintf(hf, ",");
            else fprintf(hf, ",%.6f", e);
        }
        fprintf(hf, "\n");
    }
    if (fclose(hf) != 0) die("%s: write failed", hourly_path);

    FILE *tf = fopen(table_path, "w");
    if (!tf) die("%s: %s", table_path, strerror(errno));
    fprintf(tf, "Mean log loss minus Bayes (the true p of each label), per simulated day "
                "(x 1000; pooled over the day's impressions):\n\n| day | impressions | Bayes |");
    for (int k = 0; k < n_pol; k++) fprintf(tf, " %s |", pol[k].name);
    fprintf(tf, "\n|---|---|---|");
    for (int k = 0; k < n_pol; k++) fprintf(tf, "---|");
    fprintf(tf, "\n");
    int best = 0;
    double best_v = INFINITY;
    for (size_t d = 0; d * 24 < n_hours + 24; d++) {
        int overall = d * 24 >= n_hours;
        size_t a = overall ? 0 : d * 24, b = overall ? n_hours : (d + 1) * 24;
        if (b > n_hours) b = n_hours;
        uint64_t n = 0;
        double by = 0;
        for (size_t h = a; h < b; h++) {
            n += pol[0].h[h].n;
            by += pol[0].h[h].bayes;
        }
        if (overall) fprintf(tf, "| **all** | %llu | %.4f |", (unsigned long long)n, n ? by / n : NAN);
        else {
            /* day 1 starts at --day0 (the simulation's start) */
            int64_t day = (from + (int64_t)a * 3600000 - day0) / 86400000;
            fprintf(tf, "| %lld | %llu | %.4f |", (long long)day + 1, (unsigned long long)n,
                    n ? by / n : NAN);
        }
        for (int k = 0; k < n_pol; k++) {
            double e = excess_range(&pol[k], a, b);
            fprintf(tf, overall ? " **%.2f** |" : " %.2f |", e * 1000);
            if (overall && e < best_v) {
                best_v = e;
                best = k;
            }
        }
        fprintf(tf, "\n");
        if (overall) break;
    }
    fprintf(tf, "\nLowest over the whole window: **%s** (%.2f x 1e-3 above Bayes).\n",
            pol[best].name, best_v * 1000);

    if (n_drift) {
        fprintf(tf, "\nAfter each drift, on the relative excess (loss - Bayes) / Bayes in %%: "
                    "its level over the 24 h before, its peak (3-hour trailing mean, first 24 h "
                    "after) and the hours until the policy recovered (the 3-hour trailing mean "
                    "stays within max(1.2 x before, before + 2 sd) for 12 hours; 0 = within the "
                    "first hour; never = no such 12 hours before the next drift or the end):\n\n"
                    "| drift | policy | before %% | peak %% | recovered after |\n"
                    "|---|---|---|---|---|\n");
        for (int i = 0; i < n_drift; i++) {
            if (drift_ms[i] < from || drift_ms[i] >= to) continue;
            size_t d = (size_t)((drift_ms[i] - from + 3599999) / 3600000);
            size_t end = n_hours;
            for (int j = 0; j < n_drift; j++)
                if (drift_ms[j] > drift_ms[i]) {
                    size_t e = (size_t)((drift_ms[j] - from) / 3600000);
                    if (e < end) end = e;
                }
            for (int k = 0; k < n_pol; k++) {
                double level, thr, peak;
                int r = recovery_hour(&pol[k], d, end, &level, &thr, &peak);
                char rs[32];
                if (r < 0) snprintf(rs, sizeof rs, "never");
                else snprintf(rs, sizeof rs, "%d h", r);
                fprintf(tf, "| %s | %s | %.1f | %.1f | %s |\n", drift_name[i], pol[k].name,
                        level * 100, peak * 100, rs);
            }
        }
    }
    if (fclose(tf) != 0) die("%s: write failed", table_path);
    for (int k = 0; k < n_pol; k++) {
        free(pol[k].h);
        free((char *)pol[k].name);
    }
    free(truth);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "score")) return cmd_score(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "report")) return cmd_report(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "learn")) return cmd_learn(argc - 2, argv + 2);
    fprintf(stderr, "usage: bench_ct_eval score|learn|report ... (see the file's header)\n");
    return 2;
}
