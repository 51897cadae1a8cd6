/*
 * cmd_predict.c: `pronto predict` (one probability per input row, in input
 * order) and `pronto eval` (the metrics table). Both load the model, build
 * the featurizer from the spec it embeds, and stream the inputs through
 * pr_featurize_inputs: the same featurization code as training.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "cli/flags.h"
#include "pronto/train.h"

typedef struct predict_ctx {
    const pr_model *model;
    FILE *out;
    pr_metrics *metrics;   /* eval only */
    uint64_t unlabeled;
} predict_ctx;

static pr_status predict_one(void *vctx, pr_example *x, const pr_record *rec,
                             pr_err *err) {
    predict_ctx *c = vctx;
    double p = pr_model_predict(c->model, x);
    if (c->metrics) {
        if (!rec->has_label) {
            c->unlabeled++;
            return PR_OK;
        }
        return pr_metrics_add(c->metrics, p, x->label, x->weight);
    }
    if (fprintf(c->out, "%.6f\n", p) < 0)
        return pr_err_set(err, PR_ERR_IO, "writing predictions failed");
    return PR_OK;
}

static int run(const char *cmd, int argc, char **argv, int is_eval) {
    const char *format_s = NULL;
    unsigned long long skip_bad = 0;
    int json = 0, dataset = 0;
    pr_flag flags[] = {
        {"--dataset", NULL, PR_FLAG_BOOL, &dataset, "FILEs are example caches from `pronto build-dataset`", 0},
        {"--format", NULL, PR_FLAG_STRING, &format_s, "input format; default: the model spec's, else criteo", 0},
        {"--skip-bad", NULL, PR_FLAG_UINT, &skip_bad, "N skip up to N malformed rows", 0},
        {"--json", NULL, PR_FLAG_BOOL, &json, "eval: print the metrics as JSON", 0},
    };
    char *pos[4096];
    int n_pos = 0;
    int rc = pr_flags_parse(cmd, "MODEL FILE...", flags, is_eval ? 4 : 3, argc, argv, pos,
                            4096, &n_pos);
    if (rc) return rc == 1 ? PR_EXIT_OK : PR_EXIT_USAGE;
    if (n_pos < 2) return cli_usage_error(cmd, "expected MODEL and at least one FILE");

    pr_err err;
    pr_err_clear(&err);
    pr_model *model = NULL;
    pr_spec *spec = NULL;
    pr_featurizer *fz = NULL;
    pr_metrics *metrics = NULL;
    int exit_code = PR_EXIT_FAIL;
    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);

    if (cli_open_model(pos[0], &model, &spec, &fz, &err) != PR_OK) goto fail;
    pr_format format = PR_FORMAT_CSV; /* unused with --dataset */
    if (!dataset && cli_resolve_format(format_s, spec, &format, &err) != PR_OK) {
        fprintf(stderr, "pronto %s: %s\n", cmd, err.msg);
        exit_code = PR_EXIT_USAGE;
        goto done;
    }
    if (is_eval && pr_metrics_new(&metrics, &err) != PR_OK) goto fail;
    predict_ctx c = {model, stdout, metrics, 0};
    pr_input in = {format, (const char *const *)(pos + 1), (uint32_t)(n_pos - 1)};
    uint64_t bad = 0;
    if (dataset) {
        for (int i = 1; i < n_pos; i++)
            if (pr_dataset_for_each(pos[i], fz, pr_model_filter(model), predict_one, &c,
                                    &err) != PR_OK)
                goto fail;
    } else if (pr_featurize_inputs(fz, spec, pr_model_filter(model), &in, !is_eval, skip_bad,
                                   &bad, predict_one, &c, &err) != PR_OK) {
        goto fail;
    }
    if (bad) fprintf(stderr, "pronto %s: %llu malformed rows skipped\n", cmd, (unsigned long long)bad);
    if (is_eval) {
        pr_metrics_report r;
        if (pr_metrics_compute(metrics, &r, &err) != PR_OK) goto fail;
        if (json) {
            if (pr_metrics_print_json(&r, stdout, &err) != PR_OK) goto fail;
        } else {
            pr_metrics_print(&r, stdout);
        }
    }
    if (fflush(stdout) != 0) {
        pr_err_set(&err, PR_ERR_IO, "writing to stdout failed");
        goto fail;
    }
    exit_code = PR_EXIT_OK;
    goto done;
fail:
    fflush(stdout);
    fprintf(stderr, "pronto %s: %s\n", cmd, err.msg);
done:
    pr_metrics_free(metrics);
    pr_featurizer_free(fz);
    pr_spec_free(spec);
    pr_model_free(model);
    return exit_code;
}

int cmd_predict(int argc, char **argv) { return run("predict", argc, argv, 0); }
int cmd_eval(int argc, char **argv) { return run("eval", argc, argv, 1); }
