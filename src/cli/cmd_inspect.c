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
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "cli/flags.h"
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
    int column;        /* reader column carrying this field's token, or -1 */
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

static void offer(field_top *ft, int top, uint32_t index, double w, pr_bytes tok) {
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
    size_t n = tok.len < TOKEN_MAX - 1 ? tok.len : TOKEN_MAX - 1;
    memcpy(e->token, tok.ptr ? tok.ptr : "", n);
    e->token[n] = '\0';
}

static pr_status inspect_one(void *vctx, pr_example *x, const pr_record *rec,
                             pr_err *err) {
    inspect_ctx *c = vctx;
    (void)err;
    if (!c->columns_resolved) {
        /* A field whose name is an input column shows that column's value. */
        for (uint32_t f = 0; f < c->n_fields; f++) c->fields[f].column = -1;
        c->columns_resolved = 1;
    }
    for (uint32_t i = 0; i < x->n; i++) {
        const pr_feature *ft = &x->f[i];
        if (ft->field >= c->n_fields) continue;
        field_top *t = &c->fields[ft->field];
        double w = pr_model_weight_norm(c->model, ft->index);
        t->abs_sum += fabs(w);
        t->occurrences++;
        pr_bytes tok = {"", 0};
        if (ft->index == pr_featurizer_rare_index(c->fz, ft->field)) tok = pr_bytes_of("(rare)", 6);
        else if (t->column >= 0 && (uint32_t)t->column < rec->n_cols) tok = rec->cols[t->column];
        else if (rec->n_feats) tok = pr_bytes_of("(sparse)", 8);
        offer(t, c->top, ft->index, w, tok);
    }
    if (++c->rows >= c->max_rows) return PR_EOF;
    return PR_OK;
}

int cmd_inspect(int argc, char **argv) {
    const char *data = NULL, *format_s = NULL;
    long long top = 5;
    unsigned long long max_rows = 200000;
    pr_flag flags[] = {
        {"--data", NULL, PR_FLAG_STRING, &data, "FILE show the heaviest values of each field in FILE", 0},
        {"--format", NULL, PR_FLAG_STRING, &format_s, "format of --data; default: the spec's, else criteo", 0},
        {"--top", NULL, PR_FLAG_INT, &top, "N weights per field; default 5", 0},
        {"--rows", NULL, PR_FLAG_UINT, &max_rows, "N rows of --data to scan; default 200000", 0},
    };
    char *pos[2];
    int n_pos = 0;
    int rc = pr_flags_parse("inspect", "MODEL [--data FILE]", flags, 4, argc, argv, pos, 2, &n_pos);
    if (rc) return rc == 1 ? PR_EXIT_OK : PR_EXIT_USAGE;
    if (n_pos != 1) return cli_usage_error("inspect", "expected one MODEL");
    if (top < 1 || top > TOP_MAX) return cli_usage_error("inspect", "--top must be in 1..50");

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
        /* resolve field -> column by name, from the reader's columns */
        pr_reader_opts ro;
        const char *cols[PR_MAX_INPUT_COLUMNS];
        pr_reader_opts_from_spec(&ro, format, spec, 1, cols, PR_MAX_INPUT_COLUMNS);
        pr_reader *r = NULL;
        if (pr_reader_open(data, &ro, &r, &err) != PR_OK) goto fail;
        for (uint32_t f = 0; f < nf; f++) {
            fields[f].column = -1;
            for (uint32_t k = 0; k < pr_reader_n_columns(r); k++)
                if (!strcmp(pr_reader_column_name(r, k), pr_featurizer_field_name(fz, f)))
                    fields[f].column = (int)k;
        }
        pr_reader_free(r);
        c.columns_resolved = 1;
        pr_input in = {format, (const char *const *)&data, 1};
        uint64_t bad = 0;
        pr_status s = pr_featurize_inputs(fz, spec, pr_model_filter(model), &in, 1, 0, &bad,
                                          inspect_one, &c, &err);
        if (s != PR_OK && s != PR_EOF) goto fail;
        printf("\nheaviest weights by field (from %llu rows of %s):\n",
               (unsigned long long)c.rows, data);
        printf("  %-14s %10s   %s\n", "field", "mean |w|", "values: weight (occurrences)");
        for (uint32_t f = 0; f < nf; f++) {
            field_top *t = &fields[f];
            printf("  %-14s %10.4f  ", pr_featurizer_field_name(fz, f),
                   t->occurrences ? t->abs_sum / (double)t->occurrences : 0.0);
            for (int i = 0; i < t->n; i++)
                printf(" %s%s: %+.3f (%llu)", i ? "," : "", t->e[i].token[0] ? t->e[i].token : "#",
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
            if (w != 0) offer(&all, (int)top * 2, (uint32_t)i, w, pr_bytes_of("", 0));
        }
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
