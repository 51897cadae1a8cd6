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
#include "pronto/profile.h"
#include "pronto/reader.h"
#include "pronto/report.h"

static const char report_usage[] =
    "--reference REF --current FILE -o OUT.html [--json OUT.json] [--model MODEL]\n"
    "       [--spec SPEC] [--format F] [--skip-bad N] [--title TEXT] [--monitors FILE]\n"
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
    "REF is a model file (its reference profile, written by pronto train) or a\n"
    "data file (profiled here). FILE is a data file. With a model (REF, or\n"
    "--model) its spec reads the data and it scores the current rows (and a\n"
    "reference data file's); else --spec does (default: the Criteo spec).\n"
    "--json writes the same figures as JSON. Exit 0 when written (drift or not;\n"
    "an empty current file gives a page that says so), 1 when an input cannot be\n"
    "read or the reference model has no profile, 2 on usage errors.\n"
    "Log windows (log:DIR) as either side are not supported yet.\n"
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
    pr_flag flags[] = {
        {"--reference", NULL, PR_FLAG_STRING, &ref_path,
         "REF a model file (its profile) or a data file", 0},
        {"--current", NULL, PR_FLAG_STRING, &cur_path, "FILE the current data", 0},
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
    if (!ref_path) return cli_usage_error(cmd, "--reference: required (a model or a data file)");
    if (!cur_path) return cli_usage_error(cmd, "--current: required (a data file)");
    if (!out_path) return cli_usage_error(cmd, "-o/--out: required (the HTML file to write)");
    if (!strncmp(ref_path, "log:", 4) || !strncmp(cur_path, "log:", 4))
        return cli_usage_error(cmd, "--reference/--current: log windows (log:DIR) are not "
                                    "supported yet; give a model or data files");
    int ref_is_model = is_model_file(ref_path);
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
    if (!ref) {
        const char *paths[1] = {ref_path};
        pr_input in = {format, paths, 1};
        if (pr_profile_build_from_file(spec, model, &in, skip_bad, &ref, &err) != PR_OK)
            goto fail;
    }

    /* the current side */
    uint64_t bad = 0;
    if (pr_report_acc_new(ref, &acc, &err) != PR_OK) goto fail;
    if (scan_current(spec, fz, model, format, cur_path, skip_bad, acc, &bad, &err) != PR_OK)
        goto fail;
    if (bad)
        fprintf(stderr, "pronto %s: %s: %llu malformed rows skipped\n", cmd, cur_path,
                (unsigned long long)bad);

    pr_report r;
    pr_report_init(&r, ref, acc);
    if (rules) pr_report_set_rules(&r, rules);
    r.ref_side.kind = ref_is_model ? "model" : "data";
    r.ref_side.name = ref_path;
    r.cur_side.name = cur_path;
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
