/*
 * cmd_monitor_report.c: `pronto monitor report`: a reference against
 * current data as one self-contained HTML page (and --json), through
 * pronto/report.h.
 *
 * The reference is a model file (its profile section, written by pronto
 * train; told apart by the file's magic) or a data file (profiled here
 * with pr_profile_build_from_file, in the spec's columns). The current
 * side is a data file read with the same spec: every row goes into
 * sketches of the reference's shape, and with a model (the reference
 * model, or --model) its prediction, label and time into the reliability
 * and quality-over-time figures. The model's embedded spec reads the data
 * when there is a model; else --spec (default: the Criteo spec).
 *
 * Exit codes: 0 (written, drift or not; also when the current data has no
 * rows: the page says so), 1 (a file could not be read, a model without a
 * profile as the reference, bad data), 2 (usage).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "cli/flags.h"
#include "pronto/log.h"
#include "pronto/profile.h"
#include "pronto/reader.h"
#include "pronto/report.h"

static const char report_usage[] =
    "--reference REF --current CUR -o OUT.html [--json OUT.json] [--model MODEL]\n"
    "       [--spec SPEC] [--format F] [--skip-bad N] [--title TEXT] [--monitors FILE]\n"
    "       [--reference-from T] [--reference-to T] [--current-from T] [--current-to T]\n"
    "\n"
    "Compares current data with a reference and writes one self-contained HTML\n"
    "page (inline SVG and CSS; no script, no network): a summary naming the\n"
    "fields that drifted at the alert rules' thresholds (default: PSI >= 0.2, JS\n"
    "distance >= 0.1, normalized Wasserstein >= 0.1, missing rate +5 points;\n"
    "--monitors FILE: the thresholds of that rules file, as pronto serve\n"
    "--monitors would alert on them), every drift\n"
    "statistic per field worst first, each field's distribution (reference bins:\n"
    "numeric quantile bins, categorical top values + rest + unseen, missing) side\n"
    "by side, the prediction histogram, and with a model and labeled current rows\n"
    "the reliability diagram and log loss / calibration over time. Categorical\n"
    "distributions are compared with rest and unseen as one bin (the unseen share\n"
    "is shown on its own: a long tail always brings new values).\n"
    "REF is a model file (its reference profile, written by pronto train), a\n"
    "data file (profiled here) or a window of a server's event log; CUR is a\n"
    "data file or a log window. A log window is a log URI (log:DIR, as pronto\n"
    "serve --log wrote it) with --reference-from/--reference-to (or\n"
    "--current-...) bounding the records' times (ISO-8601 or Unix seconds;\n"
    "default: the whole log): its rows are its features records (serve\n"
    "--log-features: every column the model read) when it has any, else the\n"
    "answered candidates of its prediction records (the request's fields and\n"
    "the candidate key); the prediction is the p the server answered; no labels.\n"
    "With a model (REF, or --model) its spec reads the data and it scores the\n"
    "current rows (and a reference data file's); else --spec does (default:\n"
    "the Criteo spec).\n"
    "--json writes the same figures as JSON. Exit 0 when written (drift or not;\n"
    "an empty current file gives a page that says so), 1 when an input cannot be\n"
    "read or the reference model has no profile, 2 on usage errors.\n"
    "docs/monitoring.md \"Report\".";

static int is_model_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char head[8];
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    return n == 8 && memcmp(head, "PRONTOMD", 8) == 0;
}

typedef struct scan_ctx {
    pr_report_acc *acc;
    const pr_model *model;
    pr_progress prog;
} scan_ctx;

static pr_status scan_row(void *vctx, pr_example *x, const pr_record *rec, pr_err *err) {
    scan_ctx *c = vctx;
    pr_report_acc_add(c->acc, rec, c->model ? pr_model_predict(c->model, x) : NAN);
    uint64_t n = pr_report_acc_rows(c->acc);
    if ((n & 0xffff) == 0) pr_progress_update(&c->prog, n, NULL, 0);
    return PR_OK;
}

/* The current rows into acc: the reader's columns bound, then every row
 * featurized (for the model) and added. */
static pr_status scan_current(const pr_spec *spec, pr_featurizer *fz, const pr_model *model,
                              pr_format format, const char *path, uint64_t skip_bad,
                              pr_report_acc *acc, uint64_t *bad, pr_err *err) {
    pr_reader_opts ro;
    const char *cols[PR_MAX_INPUT_COLUMNS];
    pr_reader_opts_from_spec(&ro, format, spec, 1, cols, PR_MAX_INPUT_COLUMNS);
    pr_reader *r = NULL;
    pr_status s = pr_reader_open(path, &ro, &r, err);
    if (s != PR_OK) return s;
    const char *names[PR_MAX_INPUT_COLUMNS];
    uint32_t nc = pr_reader_n_columns(r);
    if (nc > PR_MAX_INPUT_COLUMNS) nc = PR_MAX_INPUT_COLUMNS;
    for (uint32_t k = 0; k < nc; k++) names[k] = pr_reader_column_name(r, k);
    s = pr_report_acc_bind(acc, names, nc, err);
    pr_reader_free(r);
    if (s != PR_OK) return s;
    scan_ctx c = {acc, model, {0}};
    pr_progress_start(&c.prog, "monitor report: current rows", 0);
    const char *paths[1] = {path};
    pr_input in = {format, paths, 1};
    s = pr_featurize_inputs(fz, spec, model ? pr_model_filter(model) : NULL, &in, 1, skip_bad,
                            bad, scan_row, &c, err);
    pr_progress_end(&c.prog);
    return s;
}

static pr_status acc_bind(void *ctx, const char *const *names, uint32_t n, pr_err *err) {
    return pr_report_acc_bind(ctx, names, n, err);
}

static void acc_row(void *ctx, const pr_record *rec, double p) {
    pr_report_acc_add(ctx, rec, p);
}

static void acc_score(void *ctx, double p) { pr_report_acc_add_score(ctx, p); }

static pr_status write_text(const char *path, const char *text, size_t len, pr_err *err) {
    pr_atomic_file *f = NULL;
    pr_status s = pr_atomic_open(path, &f, err);
    if (s == PR_OK) s = pr_atomic_write(f, text, len, err);
    if (s == PR_OK) s = pr_atomic_commit(f, err);
    else if (f) pr_atomic_abort(f);
    return s;
}

int cmd_monitor_report(const char *sub, int argc, char **argv) {
    const char *cmd = "monitor report";
    (void)sub;
    const char *ref_path = NULL, *cur_path = NULL, *out_path = NULL, *json_path = NULL;
    const char *model_path = NULL, *spec_path = NULL, *format_s = NULL, *title = NULL;
    const char *monitors_path = NULL;
    unsigned long long skip_bad = 0;
    const char *rfrom_s = NULL, *rto_s = NULL, *cfrom_s = NULL, *cto_s = NULL;
    pr_flag flags[] = {
        {"--reference", NULL, PR_FLAG_STRING, &ref_path,
         "REF a model file (its profile), a data file or a log (log:DIR)", 0},
        {"--current", NULL, PR_FLAG_STRING, &cur_path, "CUR the current data: a file or a log",
         0},
        {"--reference-from", NULL, PR_FLAG_STRING, &rfrom_s,
         "T  a log reference: records at or after T (ISO-8601 or Unix seconds)", 0},
        {"--reference-to", NULL, PR_FLAG_STRING, &rto_s, "T  a log reference: records before T",
         0},
        {"--current-from", NULL, PR_FLAG_STRING, &cfrom_s,
         "T  a log as the current side: records at or after T", 0},
        {"--current-to", NULL, PR_FLAG_STRING, &cto_s, "T  ... records before T", 0},
        {"--out", "-o", PR_FLAG_STRING, &out_path, "OUT.html the page to write", 0},
        {"--json", NULL, PR_FLAG_STRING, &json_path, "OUT.json also write the figures as JSON", 0},
        {"--model", NULL, PR_FLAG_STRING, &model_path,
         "MODEL scores the rows (default: REF when it is a model)", 0},
        {"--spec", NULL, PR_FLAG_STRING, &spec_path,
         "SPEC reads the data when no model is given (default: the Criteo spec)", 0},
        {"--format", NULL, PR_FLAG_STRING, &format_s, "F input format (default: the spec's)", 0},
        {"--skip-bad", NULL, PR_FLAG_UINT, &skip_bad, "N skip up to N malformed rows per side", 0},
        {"--title", NULL, PR_FLAG_STRING, &title, "TEXT the page's title", 0},
        {"--monitors", NULL, PR_FLAG_STRING, &monitors_path,
         "FILE alert rules whose thresholds judge drift (default: the built-in rules)", 0},
    };
    char *pos[8];
    int n_pos = 0;
    int rc = pr_flags_parse(cmd, report_usage, flags, (int)(sizeof flags / sizeof flags[0]),
                            argc, argv, pos, 8, &n_pos);
    if (rc) return rc == 1 ? PR_EXIT_OK : PR_EXIT_USAGE;
    if (n_pos > 0) return cli_usage_error(cmd, "unexpected argument (give files with --reference and --current)");
    if (!ref_path)
        return cli_usage_error(cmd, "--reference: required (a model, a data file or a log)");
    if (!cur_path) return cli_usage_error(cmd, "--current: required (a data file or a log)");
    if (!out_path) return cli_usage_error(cmd, "-o/--out: required (the HTML file to write)");
    int ref_log = pr_log_is_uri(ref_path), cur_log = pr_log_is_uri(cur_path);
    if (!ref_log && (rfrom_s || rto_s))
        return cli_usage_error(cmd, "--reference-from/--reference-to: the reference is not a log");
    if (!cur_log && (cfrom_s || cto_s))
        return cli_usage_error(cmd, "--current-from/--current-to: the current side is not a log");
    int64_t rfrom = INT64_MIN, rto = INT64_MAX, cfrom = INT64_MIN, cto = INT64_MAX;
    if ((rfrom_s && !cli_parse_time_ms(cmd, "--reference-from", rfrom_s, &rfrom)) ||
        (rto_s && !cli_parse_time_ms(cmd, "--reference-to", rto_s, &rto)) ||
        (cfrom_s && !cli_parse_time_ms(cmd, "--current-from", cfrom_s, &cfrom)) ||
        (cto_s && !cli_parse_time_ms(cmd, "--current-to", cto_s, &cto)))
        return PR_EXIT_USAGE;
    if (rfrom >= rto || cfrom >= cto)
        return cli_usage_error(cmd, "a window's -to must be after its -from");
    int ref_is_model = !ref_log && is_model_file(ref_path);
    if (ref_is_model && model_path == NULL) model_path = ref_path;
    if (model_path && spec_path)
        return cli_usage_error(cmd, "--spec: the model's embedded spec reads the data; "
                                    "drop --spec");

    pr_err err;
    pr_err_clear(&err);
    int exit_code = PR_EXIT_FAIL;
    pr_model *model = NULL;
    pr_spec *spec = NULL;
    pr_featurizer *fz = NULL;
    pr_profile *ref = NULL;
    pr_report_acc *acc = NULL;
    char *html = NULL, *json = NULL;
    pr_report_field *fields = NULL;
    pr_format format = PR_FORMAT_CSV;
    pr_alert_rules *rules = NULL;

    if (monitors_path && pr_alert_rules_load(monitors_path, &rules, &err) != PR_OK) goto fail;
    /* the reference profile first: a model without one fails here */
    if (ref_is_model) {
        pr_model *rm = NULL;
        if (pr_model_load(ref_path, &rm, &err) != PR_OK) goto fail;
        pr_status s = pr_profile_of_model(rm, &ref, &err);
        if (s == PR_OK && !ref)
            s = pr_err_set(&err, PR_ERR_FORMAT,
                           "%s: the model has no reference profile (written before profiles "
                           "existed); retrain it with this pronto, or give its training data "
                           "as --reference",
                           ref_path);
        if (s == PR_OK && !strcmp(model_path, ref_path)) {
            model = rm; /* the same model scores: its spec reads the data */
            rm = NULL;
            const char *y = pr_model_spec(model);
            if (!y) s = pr_err_set(&err, PR_ERR_FORMAT, "%s: model has no embedded feature spec",
                                   ref_path);
            if (s == PR_OK) s = pr_spec_parse(y, strlen(y), ref_path, &spec, &err);
            if (s == PR_OK) s = pr_featurizer_new(spec, &fz, &err);
        }
        pr_model_free(rm);
        if (s != PR_OK) goto fail;
    }
    if (!model && model_path) {
        if (cli_open_model(model_path, &model, &spec, &fz, &err) != PR_OK) goto fail;
    } else if (!model) {
        if (cli_load_spec(spec_path, format_s, &spec, &err) != PR_OK) goto fail;
        if (pr_featurizer_new(spec, &fz, &err) != PR_OK) goto fail;
    }
    if (cli_resolve_format(format_s, spec, &format, &err) != PR_OK) {
        fprintf(stderr, "pronto %s: --format: %s\n", cmd, err.msg);
        exit_code = PR_EXIT_USAGE;
        goto done;
    }
    char ref_name[1024], cur_name[1024];
    snprintf(ref_name, sizeof ref_name, "%s", ref_path);
    snprintf(cur_name, sizeof cur_name, "%s", cur_path);
    if (!ref && ref_log) {
        pr_report_log_stats ls;
        if (pr_report_log_profile(spec, ref_path, rfrom, rto, skip_bad, &ref, &ls, &err) != PR_OK)
            goto fail;
        if (ls.malformed)
            fprintf(stderr, "pronto %s: %s: %llu malformed log records skipped\n", cmd,
                    ref_path, (unsigned long long)ls.malformed);
        fprintf(stderr, "pronto %s: %s: %llu rows from its %s records\n", cmd, ref_path,
                (unsigned long long)ls.rows, ls.from_features ? "features" : "prediction");
        if (rfrom_s || rto_s)
            snprintf(ref_name, sizeof ref_name, "%s [%s, %s)", ref_path, rfrom_s ? rfrom_s : "start",
                     rto_s ? rto_s : "end");
    } else if (!ref) {
        const char *paths[1] = {ref_path};
        pr_input in = {format, paths, 1};
        if (pr_profile_build_from_file(spec, model, &in, skip_bad, &ref, &err) != PR_OK)
            goto fail;
    }

    /* the current side */
    uint64_t bad = 0;
    int cur_from_features = -1;
    if (pr_report_acc_new(ref, &acc, &err) != PR_OK) goto fail;
    if (cur_log) {
        pr_report_log_sink sink = {acc_bind, acc_row, acc_score, acc};
        pr_report_log_stats ls;
        if (pr_report_log_scan(cur_path, cfrom, cto, skip_bad, &sink, &ls, &err) != PR_OK)
            goto fail;
        bad = ls.malformed;
        cur_from_features = ls.from_features;
        if (cfrom_s || cto_s)
            snprintf(cur_name, sizeof cur_name, "%s [%s, %s)", cur_path, cfrom_s ? cfrom_s : "start",
                     cto_s ? cto_s : "end");
    } else if (scan_current(spec, fz, model, format, cur_path, skip_bad, acc, &bad, &err) !=
               PR_OK) {
        goto fail;
    }
    if (bad)
        fprintf(stderr, "pronto %s: %s: %llu malformed %s skipped\n", cmd, cur_path,
                (unsigned long long)bad, cur_log ? "log records" : "rows");
    if (cur_from_features >= 0)
        fprintf(stderr, "pronto %s: %s: %llu rows from its %s records\n", cmd, cur_path,
                (unsigned long long)pr_report_acc_rows(acc),
                cur_from_features ? "features" : "prediction");

    pr_report r;
    pr_report_init(&r, ref, acc);
    if (rules) pr_report_set_rules(&r, rules);
    r.ref_side.kind = ref_is_model ? "model" : ref_log ? "log" : "data";
    r.ref_side.name = ref_name;
    if (cur_log) r.cur_side.kind = "log";
    r.cur_side.name = cur_name;
    r.model = model_path;
    r.generated = pr_unix_time();
    if (title) r.title = title;
    size_t len = 0;
    if (pr_report_render(&r, PR_REPORT_HTML, &html, &len, &err) != PR_OK) goto fail;
    if (write_text(out_path, html, len, &err) != PR_OK) goto fail;
    if (json_path) {
        if (pr_report_render(&r, PR_REPORT_JSON, &json, &len, &err) != PR_OK) goto fail;
        if (write_text(json_path, json, len, &err) != PR_OK) goto fail;
    }

    /* one line to stderr: the verdict */
    uint32_t nf = 0, drifted = 0;
    if (pr_report_fields(&r, &fields, &nf, &err) != PR_OK) goto fail;
    for (uint32_t i = 0; i < nf; i++) drifted += fields[i].drifted;
    if (r.cur_side.rows == 0) {
        fprintf(stderr, "pronto %s: %s: no rows; %s says so\n", cmd, cur_path, out_path);
    } else {
        fprintf(stderr, "pronto %s: %s: %llu rows against %llu, %u of %u drifted", cmd, out_path,
                (unsigned long long)r.cur_side.rows, (unsigned long long)r.ref_side.rows,
                drifted, nf);
        for (uint32_t i = 0, k = 0; i < nf && k < 10; i++)
            if (fields[i].drifted) fprintf(stderr, "%s%s", k++ ? ", " : ": ", fields[i].name);
        fputc('\n', stderr);
    }
    exit_code = PR_EXIT_OK;
    goto done;
fail:
    fprintf(stderr, "pronto %s: %s\n", cmd, err.msg);
done:
    pr_alert_rules_free(rules);
    free(fields);
    free(html);
    free(json);
    pr_report_acc_free(acc);
    pr_profile_free(ref);
    pr_featurizer_free(fz);
    pr_spec_free(spec);
    pr_model_free(model);
    return exit_code;
}
