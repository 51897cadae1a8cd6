/* common.c: see common.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "data/reader_int.h"
#include "pronto/sim.h"

int cli_usage_error(const char *cmd, const char *msg) {
    fprintf(stderr, "pronto %s: %s (see pronto %s --help)\n", cmd, msg, cmd);
    return PR_EXIT_USAGE;
}

int cli_parse_duration_ms(const char *cmd, const char *flag, const char *text, int64_t *out) {
    double sec;
    if (pr_sim_parse_duration(text, &sec) != PR_OK || sec > 1e12) {
        fprintf(stderr, "pronto %s: %s: expected a duration such as 90s, 10m or 2h, got '%s'\n",
                cmd, flag, text);
        return 0;
    }
    *out = (int64_t)(sec * 1000.0 + 0.5);
    return 1;
}

int cli_parse_size(const char *cmd, const char *flag, const char *text, uint64_t *out) {
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    double mul = 1;
    if (end && end != text) {
        switch (*end) {
        case 'k': case 'K': mul = 1024.0; end++; break;
        case 'm': case 'M': mul = 1024.0 * 1024; end++; break;
        case 'g': case 'G': mul = 1024.0 * 1024 * 1024; end++; break;
        case 't': case 'T': mul = 1024.0 * 1024 * 1024 * 1024; end++; break;
        default: break;
        }
        if (mul > 1 && *end == 'i') end++;
        if (*end == 'B' || (mul > 1 && *end == 'b')) end++;
    }
    if (!end || end == text || *end || errno || !(v > 0) || v * mul >= 1.8e19) {
        fprintf(stderr, "pronto %s: %s: expected a size such as 4G, 1500M or 2GiB "
                "(binary units), got '%s'\n", cmd, flag, text);
        return 0;
    }
    *out = (uint64_t)(v * mul);
    return 1;
}

int cli_parse_time_ms(const char *cmd, const char *flag, const char *text, int64_t *out) {
    int64_t s;
    if (pr__parse_ts(text, strlen(text), &s) != 0) {
        fprintf(stderr,
                "pronto %s: %s: expected an ISO-8601 time (2024-01-06 or "
                "2024-01-06T12:00:00Z) or Unix seconds, got '%s'\n",
                cmd, flag, text);
        return 0;
    }
    *out = s * 1000;
    return 1;
}

void cli_model_flags_init(cli_model_flags *f, pr_flag *out) {
    f->alpha = f->beta = f->l1 = f->l2 = f->eta = f->lambda = NAN;
    f->k = -1;
    const pr_flag t[CLI_MODEL_FLAGS_N] = {
        {"--alpha", NULL, PR_FLAG_DOUBLE, &f->alpha, "FTRL alpha (learning rate); default 0.1", 0},
        {"--beta", NULL, PR_FLAG_DOUBLE, &f->beta, "FTRL beta; default 1", 0},
        {"--l1", NULL, PR_FLAG_DOUBLE, &f->l1, "FTRL L1; default 1", 0},
        {"--l2", NULL, PR_FLAG_DOUBLE, &f->l2, "FTRL L2; default 1", 0},
        {"--k", NULL, PR_FLAG_INT, &f->k, "FFM/FM latent dimension; default 4 (ffm), 8 (fm)", 0},
        {"--eta", NULL, PR_FLAG_DOUBLE, &f->eta, "FFM/FM AdaGrad learning rate; default 0.1 (ffm), 0.2 (fm)", 0},
        {"--lambda", NULL, PR_FLAG_DOUBLE, &f->lambda, "FFM/FM L2; default 5e-5", 0},
    };
    memcpy(out, t, sizeof t);
}

void cli_model_flags_apply(const cli_model_flags *f, pr_model_params *p) {
    if (!isnan(f->alpha)) p->alpha = (float)f->alpha;
    if (!isnan(f->beta)) p->beta = (float)f->beta;
    if (!isnan(f->l1)) p->l1 = (float)f->l1;
    if (!isnan(f->l2)) p->l2 = (float)f->l2;
    if (f->k >= 0) p->k = (uint32_t)(f->k > 100000 ? 100000 : f->k);
    if (!isnan(f->eta)) p->eta = (float)f->eta;
    if (!isnan(f->lambda)) p->lambda = (float)f->lambda;
}

pr_status cli_load_spec(const char *spec_path, const char *format_s, pr_spec **spec,
                        pr_err *err) {
    if (spec_path) return pr_spec_load(spec_path, spec, err);
    if (format_s && strcmp(format_s, "criteo") != 0)
        return pr_err_set(err, PR_ERR_INVALID,
                          "--spec is required for --format %s (the shipped default spec is for "
                          "criteo; specs/ has examples for libsvm, libffm and csv)",
                          format_s);
    const char *y = pr_spec_default_criteo();
    return pr_spec_parse(y, strlen(y), "default criteo spec", spec, err);
}

pr_status cli_resolve_format(const char *format_s, const pr_spec *spec, pr_format *out,
                             pr_err *err) {
    const char *name = format_s;
    if (!name) name = pr_spec_input_format(spec);
    if (!name) name = "criteo";
    if (pr_format_parse(name, out) != PR_OK)
        return pr_err_set(err, PR_ERR_INVALID,
                          "unknown format '%s' (expected criteo, csv, libsvm, libffm or jsonl)", name);
    return PR_OK;
}

typedef struct fit_ctx {
    pr_featurizer *fz;
    uint64_t n, max;
} fit_ctx;

pr_status cli_fit_featurizer(pr_featurizer *fz, const pr_spec *spec, const pr_input *in,
                             pr_err *err) {
    enum { FIT_ROWS = 200000 };
    pr_status s = PR_OK;
    uint64_t n = 0;
    for (uint32_t i = 0; i < in->n_paths && n < FIT_ROWS && s == PR_OK; i++) {
        if (strcmp(in->paths[i], "-") == 0)
            return pr_err_set(err, PR_ERR_INVALID,
                              "quantile bins need a file to learn from, not stdin");
        pr_reader_opts ro;
        const char *cols[PR_MAX_INPUT_COLUMNS];
        pr_reader_opts_from_spec(&ro, in->format, spec, 1, cols, PR_MAX_INPUT_COLUMNS);
        pr_reader *r;
        s = pr_reader_open(in->paths[i], &ro, &r, err);
        if (s != PR_OK) return s;
        const char *names[PR_MAX_INPUT_COLUMNS];
        uint32_t nc = pr_reader_n_columns(r);
        if (nc > PR_MAX_INPUT_COLUMNS) nc = PR_MAX_INPUT_COLUMNS;
        for (uint32_t c = 0; c < nc; c++) names[c] = pr_reader_column_name(r, c);
        s = pr_featurizer_bind(fz, names, nc, err);
        pr_record rec;
        while (s == PR_OK && n < FIT_ROWS) {
            s = pr_reader_next(r, &rec, err);
            if (s == PR_EOF) { s = PR_OK; break; }
            if (s != PR_OK && pr_reader_row_error(s)) { s = PR_OK; continue; }
            if (s == PR_OK) s = pr_featurizer_fit_add(fz, &rec, err);
            n++;
        }
        pr_reader_free(r);
    }
    if (s == PR_OK) s = pr_featurizer_fit_finish(fz, err);
    return s;
}

pr_status cli_open_model(const char *path, pr_model **model, pr_spec **spec,
                         pr_featurizer **fz, pr_err *err) {
    *model = NULL;
    *spec = NULL;
    *fz = NULL;
    pr_status s = pr_model_load(path, model, err);
    if (s != PR_OK) return s;
    const char *y = pr_model_spec(*model);
    if (!y) return pr_err_set(err, PR_ERR_FORMAT, "%s: model has no embedded feature spec", path);
    s = pr_spec_parse(y, strlen(y), path, spec, err);
    if (s == PR_OK) s = pr_featurizer_new(*spec, fz, err);
    return s;
}

void cli_flag_hint(pr_err *err, const char *phrase, const char *flag) {
    if (!err || !strstr(err->msg, phrase)) return;
    size_t n = strlen(err->msg);
    snprintf(err->msg + n, sizeof err->msg - n, " (%s)", flag);
}

static int word_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

void cli_flag_words(pr_err *err, const char *const *names, const char *const *flags, size_t n) {
    if (!err) return;
    char out[PR_ERR_MSG_MAX];
    size_t o = 0;
    const char *p = err->msg;
    while (*p && o + 1 < sizeof out) {
        size_t k = n, len = 0;
        if (p == err->msg || !word_char(p[-1]))
            for (k = 0; k < n; k++) {
                len = strlen(names[k]);
                if (!strncmp(p, names[k], len) && !word_char(p[len])) break;
            }
        if (k < n) {
            int w = snprintf(out + o, sizeof out - o, "%s", flags[k]);
            o += w < 0 ? 0 : (size_t)w;
            if (o >= sizeof out) o = sizeof out - 1;
            p += len;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    snprintf(err->msg, sizeof err->msg, "%s", out);
}

pr_status cli_fs_build(const char *spec_path, const char *store_uri, pr_fs_build_opts *o,
                       pr_fs_build_stats *st, pr_err *err) {
    pr_spec *spec = NULL;
    pr_store *store = NULL;
    pr_status s = pr_spec_load(spec_path, &spec, err);
    if (s == PR_OK && store_uri) s = pr_store_open(store_uri, &store, err);
    o->store = store;
    if (s == PR_OK) s = pr_fs_build(spec, o, st, err);
    if (s != PR_OK) {
        cli_flag_hint(err, "malformed event lines", "--max-bad");
        cli_flag_hint(err, "materialize it from the same source", "--events URI");
    }
    o->store = NULL;
    pr_store_close(store);
    pr_spec_free(spec);
    return s;
}

pr_status cli_load_logged(const char *spec_path, const char *uri, const char *cand_key,
                          uint64_t max_bad, pr_fs_logged **out, pr_err *err) {
    pr_spec *spec = NULL;
    pr_fs *fs = NULL;
    *out = NULL;
    pr_status s = pr_spec_load(spec_path, &spec, err);
    if (s == PR_OK) s = pr_fs_open(spec, NULL, &fs, err);
    if (s == PR_OK) {
        uint32_t n = pr_fs_n_columns(fs);
        const char **names = calloc(n ? n : 1, sizeof *names);
        if (!names) {
            s = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
        } else {
            for (uint32_t c = 0; c < n; c++) names[c] = pr_fs_column_name(fs, c);
            s = pr_fs_logged_load(uri, names, n, cand_key, max_bad, out, err);
            free(names);
            if (s != PR_OK) {
                cli_flag_hint(err, "malformed, the most allowed", "--max-bad");
                cli_flag_hint(err, "not a candidate column", "--candidate-key");
            }
        }
    }
    pr_fs_free(fs);
    pr_spec_free(spec);
    return s;
}
