/*
 * pronto/pronto.h: the whole library, and how its pieces fit.
 *
 * Score rows with a trained model -- the path `pronto predict` takes and
 * the server will take: the model file embeds its feature spec, so loading
 * it rebuilds the exact featurizer it was trained with.
 *
 *     pr_err err;
 *     pr_model *model;  pr_spec *spec;  pr_featurizer *fz;
 *     if (pr_model_load("ctr.pm", &model, &err) != PR_OK) die(err.msg);
 *     const char *yaml = pr_model_spec(model);
 *     pr_spec_parse(yaml, strlen(yaml), "ctr.pm", &spec, &err);
 *     pr_featurizer_new(spec, &fz, &err);
 *
 *     const char *cols[] = {"user_id", "ad_id", "device"};   // your columns
 *     pr_featurizer_bind(fz, cols, 3, &err);
 *
 *     pr_arena arena;                       // per-request memory
 *     pr_arena_init(&arena, NULL, 0, 0);
 *     pr_bytes vals[] = {{"u42", 3}, {"ad7", 3}, {"mobile", 6}};
 *     pr_record rec = {.weight = 1, .n_cols = 3, .cols = vals, .file = "request"};
 *     pr_example x;
 *     if (pr_featurizer_apply(fz, &rec, &arena, &x, &err) == PR_OK) {
 *         pr_featurizer_apply_filter(fz, pr_model_filter(model), &x);
 *         printf("p = %.4f\n", pr_model_predict(model, &x));
 *     }
 *     pr_arena_reset(&arena);               // next request: no malloc
 *
 * tests/test_api.c runs exactly this. Training is pr_train (train.h);
 * reading files is pr_reader (reader.h); everything returns a pr_status and
 * explains failures in a pr_err (base.h).
 */
#ifndef PRONTO_H
#define PRONTO_H

#include "pronto/base.h"
#include "pronto/cache.h"
#include "pronto/example.h"
#include "pronto/feature.h"
#include "pronto/metrics.h"
#include "pronto/model.h"
#include "pronto/reader.h"
#include "pronto/sim.h"
#include "pronto/store.h"
#include "pronto/stream.h"
#include "pronto/train.h"

#endif
