/*
 * predictor.c: pr_predictor, a model file turned into one read-only object
 * that scores rows of text (pronto/predictor.h).
 *
 * Structure: open loads the model, parses its embedded spec, builds the
 * featurizer and binds it to the spec's input columns (the names are
 * borrowed from the spec, which the predictor keeps for that reason).
 * score builds a pr_record per row pointing into the caller's values, and
 * runs pr_featurizer_apply -> pr_featurizer_apply_filter(model filter) ->
 * pr_model_predict, the loop body of pr_featurize_inputs, so predictions
 * equal `pronto predict`'s.
 *
 * Ownership and threads: the predictor owns model, spec, featurizer and
 * its path; nothing in it changes after open. Each score call has its own
 * arena on the stack frame's pr_arena (reset per row, freed at return), so
 * concurrent calls share only read-only state (pr_featurizer_apply and
 * pr_model_predict are documented safe for that).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pronto/feature.h"
#include "pronto/model.h"
#include "pronto/predictor.h"
#include "pronto/reader.h"

struct pr_predictor {
    pr_model *model;
    pr_spec *spec;       /* owns the column names */
    pr_featurizer *fz;   /* bound to the spec's input columns */
    const uint64_t *filter; /* borrowed from model; NULL = no filter */
    uint32_t n_cols;
    const char **cols;   /* owned array of names borrowed from spec */
    char *path;          /* owned */
};

void pr_predictor_close(pr_predictor *p) {
    if (!p) return;
    pr_featurizer_free(p->fz);
    pr_spec_free(p->spec);
    pr_model_free(p->model);
    free(p->cols);
    free(p->path);
    free(p);
}

pr_status pr_predictor_open(const char *path, pr_predictor **out, pr_err *err) {
    if (!path || !out)
        return pr_err_set(err, PR_ERR_INVALID, "pr_predictor_open: %s is NULL",
                          !path ? "path" : "out");
    pr_predictor *p = calloc(1, sizeof *p);
    if (!p) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    pr_status s = PR_OK;
    p->path = strdup(path);
    if (!p->path) {
        s = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
        goto fail;
    }
    s = pr_model_load(path, &p->model, err);
    if (s != PR_OK) goto fail;
    const char *yaml = pr_model_spec(p->model);
    if (!yaml) {
        s = pr_err_set(err, PR_ERR_FORMAT, "%s: model has no embedded feature spec", path);
        goto fail;
    }
    s = pr_spec_parse(yaml, strlen(yaml), path, &p->spec, err);
    if (s != PR_OK) goto fail;
    const char *fmt_name = pr_spec_input_format(p->spec);
    pr_format fmt;
    p->n_cols = pr_spec_n_input_columns(p->spec);
    if ((fmt_name && pr_format_parse(fmt_name, &fmt) == PR_OK &&
         (fmt == PR_FORMAT_LIBSVM || fmt == PR_FORMAT_LIBFFM)) ||
        p->n_cols == 0) {
        s = pr_err_set(err, PR_ERR_UNSUPPORTED,
                       "%s: a model of sparse inputs (%s) has no columns to score by",
                       path, fmt_name ? fmt_name : "no input columns");
        goto fail;
    }
    p->cols = calloc(p->n_cols, sizeof *p->cols);
    if (!p->cols) {
        s = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (uint32_t i = 0; i < p->n_cols; i++) p->cols[i] = pr_spec_input_column(p->spec, i);
    s = pr_featurizer_new(p->spec, &p->fz, err);
    if (s == PR_OK) s = pr_featurizer_bind(p->fz, p->cols, p->n_cols, err);
    if (s != PR_OK) goto fail;
    if (pr_featurizer_hash_bits(p->fz) != pr_model_params_get(p->model)->hash_bits) {
        s = pr_err_set(err, PR_ERR_FORMAT,
                       "%s: the embedded spec hashes into 2^%u buckets, the model has 2^%u",
                       path, pr_featurizer_hash_bits(p->fz),
                       pr_model_params_get(p->model)->hash_bits);
        goto fail;
    }
    p->filter = pr_model_filter(p->model);
    *out = p;
    return PR_OK;
fail:
    pr_predictor_close(p);
    return s;
}

uint32_t pr_predictor_n_columns(const pr_predictor *p) { return p ? p->n_cols : 0; }

const char *pr_predictor_column(const pr_predictor *p, uint32_t i) {
    return p && i < p->n_cols ? p->cols[i] : NULL;
}

/* The featurizer's messages begin "row:N: " (file "row", line N, as a
 * reader's "file:line: "); the predictor's say "row N: ". */
static pr_status reword_row_error(pr_err *err, pr_status s, size_t r) {
    if (!err) return s;
    char prefix[64], msg[PR_ERR_MSG_MAX];
    int n = snprintf(prefix, sizeof prefix, "row:%zu: ", r);
    const char *rest = err->msg;
    if (n > 0 && strncmp(rest, prefix, (size_t)n) == 0) rest += n;
    snprintf(msg, sizeof msg, "%s", rest);
    return pr_err_set(err, s, "row %zu: %s", r, msg);
}

pr_status pr_predictor_score(pr_predictor *p, const pr_bytes *values, size_t n_rows,
                             double *out, pr_err *err) {
    if (n_rows == 0) return PR_OK;
    if (!p || !values || !out)
        return pr_err_set(err, PR_ERR_INVALID, "pr_predictor_score: %s is NULL",
                          !p ? "the predictor" : !values ? "values" : "out");
    pr_arena arena;
    pr_arena_init(&arena, NULL, 0, 0);
    pr_status s = PR_OK;
    pr_record rec;
    memset(&rec, 0, sizeof rec);
    rec.weight = 1.0f;
    rec.n_cols = p->n_cols;
    rec.file = "row";
    for (size_t r = 0; r < n_rows; r++) {
        rec.cols = values + r * p->n_cols;
        rec.line = r;
        pr_example x;
        pr_arena_reset(&arena);
        s = pr_featurizer_apply(p->fz, &rec, &arena, &x, err);
        if (s != PR_OK) {
            s = reword_row_error(err, s, r);
            break;
        }
        pr_featurizer_apply_filter(p->fz, p->filter, &x);
        out[r] = pr_model_predict(p->model, &x);
    }
    pr_arena_free(&arena);
    return s;
}

const char *pr_predictor_info(const pr_predictor *p) {
    const char *info = p ? pr_model_info(p->model) : NULL;
    return info ? info : "{}";
}

const char *pr_predictor_kind(const pr_predictor *p) {
    return p ? pr_model_kind_name(pr_model_params_get(p->model)->kind) : "unknown";
}

const char *pr_predictor_path(const pr_predictor *p) { return p ? p->path : NULL; }

const char *pr_version(void) { return PR_VERSION_STRING; }

int pr_abi_version(void) { return PR_ABI_VERSION; }
