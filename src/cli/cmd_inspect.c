/*
 * cmd_inspect.c: `pronto inspect MODEL [--data FILE]`.
 *
 * Prints the model's kind, hyperparameters, training metadata (the info JSON
 * it embeds), the feature spec summary, and the heaviest weights by field.
 * Buckets are hashes, so a weight alone doesn't say which value it belongs
 * to: with --data, rows of FILE are featurized and, for each field, the
 * values (tokens) whose weights are heaviest are listed with their weight
 * and how often they occur. Without --data, the per-field rare-bucket weight
 * and the heaviest buckets overall are shown.
 *
 * --profile prints the reference profile training stored in the model
 * (pronto/profile.h) instead: rows, base rate, time span, the prediction
 * histogram's summary and one line per input column; with --json, the
 * whole profile (every bin) as one JSON object.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "cli/flags.h"
#include "pronto/profile.h"
#include "pronto/train.h"

#define TOP_MAX 50
#define TOKEN_MAX 48

typedef struct top_entry {
    uint32_t index;
    double w;
    uint64_t count;
    char token[TOKEN_MAX];
} top_entry;

typedef struct field_top {
    top_entry e[TOP_MAX];
    int n;
    uint32_t cols[4];  /* reader columns making up this field's token */
    uint32_t n_cols;
    double abs_sum;    /* sum of |w| over occurrences: the field's importance */
    uint64_t occurrences;
} field_top;

typedef struct inspect_ctx {
    const pr_model *model;
    const pr_featurizer *fz;
    field_top *fields;
    uint32_t n_fields;
    int top;
    int columns_resolved;
    uint64_t rows, max_rows;
} inspect_ctx;

static void offer(field_top *ft, int top, uint32_t index, double w, const char *tok) {
    for (int i = 0; i < ft->n; i++)
        if (ft->e[i].index == index) {
            ft->e[i].count++;
            return;
        }
    int slot = -1;
    if (ft->n < top) {
        slot = ft->n++;
    } else {
        double min = INFINITY;
        for (int i = 0; i < ft->n; i++)
            if (fabs(ft->e[i].w) < min) {
                min = fabs(ft->e[i].w);
                slot = i;
            }
        if (fabs(w) <= min) return;
    }
    top_entry *e = &ft->e[slot];
    e->index = index;
    e->w = w;
    e->count = 1;
    snprintf(e->token, sizeof e->token, "%s", tok);
}

static int by_abs_weight_desc(const void *a, const void *b) {
    double wa = fabs(((const top_entry *)a)->w), wb = fabs(((const top_entry *)b)->w);
    return (wa < wb) - (wa > wb);
}

static pr_status inspect_one(void *vctx, pr_example *x, const pr_record *rec,
                             pr_err *err) {
    inspect_ctx *c = vctx;
    (void)err;
    if (!c->columns_resolved) {
        /* the featurizer is bound to this input now: which columns make
         * each field's token */
        for (uint32_t f = 0; f < c->n_fields; f++)
            c->fields[f].n_cols = pr_featurizer_field_columns(c->fz, f, c->fields[f].cols, 4);
        c->columns_resolved = 1;
    }
    for (uint32_t i = 0; i < x->n; i++) {
        const pr_feature *ft = &x->f[i];
        if (ft->field >= c->n_fields) continue;
        field_top *t = &c->fields[ft->field];
        double w = pr_model_weight_norm(c->model, ft->index);
        t->abs_sum += fabs(w);
        t->occurrences++;
        char tok[TOKEN_MAX] = "";
        if (ft->index == pr_featurizer_rare_index(c->fz, ft->field)) {
            snprintf(tok, sizeof tok, "(rare)");
        } else if (rec->n_feats) {
            snprintf(tok, sizeof tok, "(sparse %u)", rec->feats[i < rec->n_feats ? i : 0].index);
        } else {
            /* the member values of a cross are joined with '|' */
            size_t used = 0;
            for (uint32_t k = 0; k < t->n_cols && t->cols[k] < rec->n_cols; k++) {
                pr_bytes v = rec->cols[t->cols[k]];
                int n = snprintf(tok + used, sizeof tok - used, "%s%.*s", k ? "|" : "",
                                 (int)v.len, v.len ? v.ptr : "");
                if (n < 0 || (size_t)n >= sizeof tok - used) break;
                used += (size_t)n;
            }
            if (!tok[0]) snprintf(tok, sizeof tok, "(missing)");
        }
        offer(t, c->top, ft->index, w, tok);
    }
    if (++c->rows >= c->max_rows) return PR_EOF;
    return PR_OK;
}

static int inspect_profile(const char *path, int json) {
    pr_err err;
    pr_err_clear(&err);
    pr_model *model = NULL;
    pr_profile *prof = NULL;
    char *text = NULL;
    if (pr_model_load(path, &model, &err) != PR_OK ||
        pr_profile_of_model(model, &prof, &err) != PR_OK) {
        fprintf(stderr, "pronto inspect: %s\n", err.msg);
        pr_model_free(model);
        return PR_EXIT_FAIL;
    }
    int code = PR_EXIT_OK;
    if (!prof) {
        fprintf(stderr, "pronto inspect: %s: no reference profile (trained before profiles "
                "existed); drift monitoring is off for it\n", path);
        code = PR_EXIT_FAIL;
    } else if (pr_profile_render(prof, json, &text, &err) != PR_OK) {
        fprintf(stderr, "pronto inspect: %s\n", err.msg);
        code = PR_EXIT_FAIL;
    } else {
        size_t len = strlen(text);
        fputs(text, stdout);
        if (len && text[len - 1] != '\n') fputc('\n', stdout);
    }
    free(text);
    pr_profile_free(prof);
    pr_model_free(model);
    return code;
}

int cmd_inspect(int argc, char **argv) {
    const char *data = NULL, *format_s = NULL;
    long long top = 5;
    unsigned long long max_rows = 200000;
    int profile = 0, json = 0;
    pr_flag flags[] = {
        {"--profile", NULL, PR_FLAG_BOOL, &profile, "print the reference profile of the training data", 0},
        {"--json", NULL, PR_FLAG_BOOL, &json, "with --profile: the whole profile as JSON", 0},
        {"--data", NULL, PR_FLAG_STRING, &data, "FILE show the heaviest values of each field in FILE", 0},
        {"--format", NULL, PR_FLAG_STRING, &format_s, "format of --data; default: the spec's, else criteo", 0},
        {"--top", NULL, PR_FLAG_INT, &top, "N weights per field; default 5", 0},
        {"--rows", NULL, PR_FLAG_UINT, &max_rows, "N rows of --data to scan; default 200000", 0},
    };
    char *pos[2];
    int n_pos = 0;
    int rc = pr_flags_parse("inspect", "MODEL [--data FILE] | --profile [--json] MODEL", flags,
                            (int)(sizeof flags / sizeof flags[0]), argc, argv, pos, 2, &n_pos);
    if (rc) return rc == 1 ? PR_EXIT_OK : PR_EXIT_USAGE;
    if (n_pos != 1) return cli_usage_error("inspect", "expected one MODEL");
    if (json && !profile) return cli_usage_error("inspect", "--json goes with --profile");
    if (profile && data) return cli_usage_error("inspect", "--profile and --data exclude each other");
    if (profile) return inspect_profile(pos[0], json);
    if (top < 1 || top > TOP_MAX) return cli_usage_error("inspect", "--top must be in 1..50");
    if (max_rows < 1) return cli_usage_error("inspect", "--rows must be >= 1");

    pr_err err;
    pr_err_clear(&err);
    pr_model *model = NULL;
    pr_spec *spec = NULL;
    pr_featurizer *fz = NULL;
    field_top *fields = NULL;
    int exit_code = PR_EXIT_FAIL;
    if (cli_open_model(pos[0], &model, &spec, &fz, &err) != PR_OK) goto fail;

    const pr_model_params *p = pr_model_params_get(model);
    printf("model        %s\n", pos[0]);
    printf("kind         %s\n", pr_model_kind_name(p->kind));
    printf("buckets      2^%u\n", p->hash_bits);
    printf("fields       %u\n", pr_featurizer_n_fields(fz));
    if (p->kind == PR_MODEL_KIND_LR)
        printf("ftrl         alpha %g  beta %g  l1 %g  l2 %g\n", p->alpha, p->beta, p->l1, p->l2);
    else
        printf("factors      k %u  eta %g  lambda %g  normalize %d\n", p->k, p->eta, p->lambda,
               p->normalize);
    if (p->neg_sample_rate < 1) printf("downsampling negatives kept %g (predictions recalibrated)\n",
                                       p->neg_sample_rate);
    printf("nonzero      %llu\n", (unsigned long long)pr_model_n_nonzero(model));
    printf("filter       %s\n", pr_model_filter(model) ? "rare features map to their field's rare bucket" : "none");
    printf("training     %s\n", pr_model_info(model) ? pr_model_info(model) : "{}");

    uint32_t nf = pr_featurizer_n_fields(fz);
    fields = calloc(nf ? nf : 1, sizeof *fields);
    if (!fields) {
        pr_err_set(&err, PR_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (data) {
        pr_format format;
        if (cli_resolve_format(format_s, spec, &format, &err) != PR_OK) goto fail;
        inspect_ctx c = {model, fz, fields, nf, (int)top, 0, 0, max_rows};
        pr_input in = {format, (const char *const *)&data, 1};
        uint64_t bad = 0;
        pr_status s = pr_featurize_inputs(fz, spec, pr_model_filter(model), &in, 1, 0, &bad,
                                          inspect_one, &c, &err);
        if (s != PR_OK && s != PR_EOF) goto fail;
        printf("\nheaviest weights by field (from %llu rows of %s):\n",
               (unsigned long long)c.rows, data);
        printf("  %-24s %9s   %s\n", "field", "mean |w|", "values: weight (occurrences)");
        for (uint32_t f = 0; f < nf; f++) {
            field_top *t = &fields[f];
            qsort(t->e, (size_t)t->n, sizeof t->e[0], by_abs_weight_desc);
            printf("  %-24s %9.4f  ", pr_featurizer_field_name(fz, f),
                   t->occurrences ? t->abs_sum / (double)t->occurrences : 0.0);
            for (int i = 0; i < t->n; i++)
                printf("%s %s: %+.3f (%llu)", i ? "," : "", t->e[i].token,
                       t->e[i].w, (unsigned long long)t->e[i].count);
            printf("\n");
        }
    } else {
        printf("\nrare-bucket weight by field (run with --data FILE for the heaviest values):\n");
        for (uint32_t f = 0; f < nf; f++)
            printf("  %-14s %+.4f\n", pr_featurizer_field_name(fz, f),
                   pr_model_weight_norm(model, pr_featurizer_rare_index(fz, f)));
        /* heaviest buckets overall */
        field_top all;
        memset(&all, 0, sizeof all);
        uint64_t nb = (uint64_t)1 << p->hash_bits;
        for (uint64_t i = 0; i < nb; i++) {
            double w = pr_model_weight_norm(model, (uint32_t)i);
            if (w != 0) offer(&all, (int)top * 2, (uint32_t)i, w, "");
        }
        qsort(all.e, (size_t)all.n, sizeof all.e[0], by_abs_weight_desc);
        printf("\nheaviest buckets overall:\n");
        for (int i = 0; i < all.n; i++) printf("  bucket %-10u %+.4f\n", all.e[i].index, all.e[i].w);
    }
    exit_code = PR_EXIT_OK;
    goto done;
fail:
    fprintf(stderr, "pronto inspect: %s\n", err.msg);
done:
    free(fields);
    pr_featurizer_free(fz);
    pr_spec_free(spec);
    pr_model_free(model);
    return exit_code;
}
