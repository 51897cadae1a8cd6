/*
 * featurize_inputs.c: the read -> featurize loop shared by train, predict
 * and eval, so that every command turns rows into examples the same way.
 *
 * For each input file: open a pr_reader with options derived from the
 * spec's input section, bind the featurizer to the reader's columns, and for
 * each row featurize into a per-row arena (reset every row: no malloc once
 * warm), apply the model's filter bitmap, and hand the example to fn.
 * Malformed rows stop the run with the reader's file:line:column message,
 * unless skip_bad allows them; skipped rows are logged and counted. A
 * record source (train.h: the host's own rows) goes through the same
 * steps, its records in place of a reader's.
 */
#include <stdio.h>
#include <string.h>

#include "pronto/cache.h"
#include "pronto/train.h"
#include "train/train_int.h"

void pr_reader_opts_from_spec(pr_reader_opts *ro, pr_format format,
                              const pr_spec *spec, int label_optional,
                              const char **cols, uint32_t cols_cap) {
    pr_reader_opts_init(ro, format);
    ro->label_optional = label_optional;
    if (format == PR_FORMAT_CSV || format == PR_FORMAT_JSONL) {
        ro->label_col = pr_spec_label_col(spec);
        ro->weight_col = pr_spec_weight_col(spec);
        ro->ts_col = pr_spec_ts_col(spec);
    }
    if (format == PR_FORMAT_JSONL || format == PR_FORMAT_CSV) {
        /* read only the columns the spec uses, in a fixed order */
        uint32_t n = pr_spec_n_input_columns(spec);
        if (n > cols_cap) n = cols_cap;
        for (uint32_t i = 0; i < n; i++) cols[i] = pr_spec_input_column(spec, i);
        ro->n_columns = n;
        ro->columns = cols;
    }
}

pr_status pr_featurize_inputs(pr_featurizer *fz, const pr_spec *spec,
                              const uint64_t *filter, const pr_input *in,
                              int label_optional, uint64_t skip_bad,
                              uint64_t *bad, pr_example_fn fn, void *ctx,
                              pr_err *err) {
    return pr__featurize_shard(fz, spec, filter, in, NULL, 0, 0, label_optional, skip_bad,
                               bad, fn, ctx, err);
}

/* The loop below over a record source instead of files. */
static pr_status featurize_source(pr_featurizer *fz, const uint64_t *filter,
                                  const pr_record_source *src, uint32_t shard_count,
                                  uint32_t shard_index, int label_optional,
                                  uint64_t skip_bad, uint64_t *bad, pr_example_fn fn,
                                  void *ctx, pr_arena *arena, pr_err *err) {
    const char *name = src->name ? src->name : "records";
    if (!src->next)
        return pr_err_set(err, PR_ERR_INVALID, "%s: the record source has no next function",
                          name);
    pr_status s = pr_featurizer_bind(fz, src->columns, src->n_columns, err);
    if (s != PR_OK) {
        char msg[PR_ERR_MSG_MAX];
        snprintf(msg, sizeof msg, "%s", err->msg);
        return pr_err_set(err, s, "%s: %s", name, msg);
    }
    if (src->rewind && (s = src->rewind(src->user, err)) != PR_OK) return s;
    for (uint64_t line = 1;; line++) {
        pr_record rec;
        memset(&rec, 0, sizeof rec);
        rec.has_label = 1;
        rec.weight = 1.0f;
        rec.file = name;
        rec.line = line;
        s = src->next(src->user, &rec, err);
        if (s == PR_EOF) return PR_OK;
        if (shard_count && (line - 1) % shard_count != shard_index) {
            if (s == PR_OK) continue;
        }
        if (s == PR_OK && rec.has_label && rec.label != 0.0f && rec.label != 1.0f)
            s = pr_err_set(err, PR_ERR_LABEL, "%s:%llu: label must be 0 or 1, got %g", name,
                           (unsigned long long)line, (double)rec.label);
        if (s == PR_OK && !rec.has_label && !label_optional)
            s = pr_err_set(err, PR_ERR_LABEL, "%s:%llu: row has no label", name,
                           (unsigned long long)line);
        pr_example x;
        if (s == PR_OK) {
            pr_arena_reset(arena);
            s = pr_featurizer_apply(fz, &rec, arena, &x, err);
        }
        if (s != PR_OK) {
            if (pr_reader_row_error(s) && *bad < skip_bad) {
                (*bad)++;
                pr_log(PR_LOG_WARN, "skipped: %s", err->msg);
                continue;
            }
            return s;
        }
        pr_featurizer_apply_filter(fz, filter, &x);
        if ((s = fn(ctx, &x, &rec, err)) != PR_OK) return s;
    }
}

pr_status pr__featurize_shard(pr_featurizer *fz, const pr_spec *spec,
                              const uint64_t *filter, const pr_input *in,
                              const pr_record_source *src, uint32_t shard_count, uint32_t shard_index,
                              int label_optional, uint64_t skip_bad,
                              uint64_t *bad, pr_example_fn fn, void *ctx,
                              pr_err *err) {
    pr_status s = PR_OK;
    pr_arena arena;
    pr_arena_init(&arena, NULL, 0, 0);
    *bad = 0;
    if (src) {
        s = featurize_source(fz, filter, src, shard_count, shard_index, label_optional,
                             skip_bad, bad, fn, ctx, &arena, err);
        pr_arena_free(&arena);
        return s;
    }
    for (uint32_t i = 0; i < in->n_paths && s == PR_OK; i++) {
        pr_reader_opts ro;
        const char *cols[PR_MAX_INPUT_COLUMNS];
        pr_reader_opts_from_spec(&ro, in->format, spec, label_optional, cols,
                                 PR_MAX_INPUT_COLUMNS);
        ro.shard_count = shard_count;
        ro.shard_index = shard_index;
        pr_reader *r = NULL;
        s = pr_reader_open(in->paths[i], &ro, &r, err);
        if (s != PR_OK) break;
        const char *names[PR_MAX_INPUT_COLUMNS];
        uint32_t nc = pr_reader_n_columns(r);
        if (nc > PR_MAX_INPUT_COLUMNS) nc = PR_MAX_INPUT_COLUMNS;
        for (uint32_t c = 0; c < nc; c++) names[c] = pr_reader_column_name(r, c);
        s = pr_featurizer_bind(fz, names, nc, err);
        if (s != PR_OK) {
            char msg[PR_ERR_MSG_MAX];
            snprintf(msg, sizeof msg, "%s", err->msg);
            pr_err_set(err, s, "%s: %s", in->paths[i], msg);
        }
        pr_record rec;
        while (s == PR_OK) {
            s = pr_reader_next(r, &rec, err);
            if (s == PR_EOF) {
                s = PR_OK;
                break;
            }
            pr_example x;
            if (s == PR_OK) {
                pr_arena_reset(&arena);
                s = pr_featurizer_apply(fz, &rec, &arena, &x, err);
            }
            if (s != PR_OK) {
                if (pr_reader_row_error(s) && *bad < skip_bad) {
                    (*bad)++;
                    pr_log(PR_LOG_WARN, "skipped: %s", err->msg);
                    s = PR_OK;
                    continue;
                }
                break;
            }
            pr_featurizer_apply_filter(fz, filter, &x);
            s = fn(ctx, &x, &rec, err);
        }
        pr_reader_free(r);
    }
    pr_arena_free(&arena);
    return s;
}

pr_status pr__open_dataset(const char *path, const pr_featurizer *fz,
                           pr_cache **out, pr_err *err) {
    pr_cache *c = NULL;
    pr_status s = pr_cache_open(path, &c, err);
    if (s != PR_OK) return s;
    if (pr_cache_spec_fingerprint(c) != pr_featurizer_fingerprint(fz) ||
        pr_cache_hash_bits(c) != pr_featurizer_hash_bits(fz) ||
        pr_cache_n_fields(c) != pr_featurizer_n_fields(fz)) {
        pr_cache_close(c);
        return pr_err_set(err, PR_ERR_SPEC,
                          "%s: this dataset was built with another spec than "
                          "the one given (build it again with that spec)",
                          path);
    }
    *out = c;
    return PR_OK;
}

pr_status pr_dataset_for_each(const char *path, const pr_featurizer *fz,
                              const uint64_t *filter, pr_example_fn fn,
                              void *ctx, pr_err *err) {
    pr_cache *c = NULL;
    pr_status s = pr__open_dataset(path, fz, &c, err);
    if (s != PR_OK) return s;
    pr_cache_block blk;
    pr_cache_block_init(&blk);
    for (uint32_t b = 0; b < pr_cache_n_blocks(c) && s == PR_OK; b++) {
        s = pr_cache_read_block(c, b, &blk, err);
        for (uint32_t i = 0; s == PR_OK && i < blk.n; i++) {
            pr_example *x = &blk.ex[i];
            pr_featurizer_apply_filter(fz, filter, x);
            pr_record rec;
            memset(&rec, 0, sizeof rec);
            rec.label = x->label;
            rec.has_label = 1;
            rec.weight = x->weight;
            rec.ts = x->ts;
            rec.file = path;
            s = fn(ctx, x, &rec, err);
        }
    }
    pr_cache_block_free(&blk);
    pr_cache_close(c);
    return s;
}
