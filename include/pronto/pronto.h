/*
 * pronto/pronto.h: the whole library, and how its pieces fit.
 *
 * Score rows with a trained model -- what `pronto predict` does: the model
 * file embeds its feature spec and rare-feature filter, so opening it
 * rebuilds the exact featurizer it was trained with (predictor.h).
 *
 *     pr_err err;
 *     pr_predictor *p;
 *     if (pr_predictor_open("ctr.pm", &p, &err) != PR_OK) die(err.msg);
 *
 *     // the columns it reads, in order: here user_id, ad_id, device
 *     for (uint32_t c = 0; c < pr_predictor_n_columns(p); c++)
 *         printf("%s ", pr_predictor_column(p, c));
 *
 *     pr_bytes rows[] = {{"u42", 3}, {"ad7", 3}, {"mobile", 6},    // row 0
 *                        {"u42", 3}, {"ad9", 3}, {"", 0}};         // row 1
 *     double prob[2];                       // len 0 = missing
 *     if (pr_predictor_score(p, rows, 2, prob, &err) != PR_OK) die(err.msg);
 *     printf("p = %.4f, %.4f\n", prob[0], prob[1]);
 *     pr_predictor_close(p);
 *
 * A whole ranking request against the online feature store (assembly,
 * featurize, score, sort, top_k: what `POST /v1/predict` runs) is pr_rank
 * (rank.h). Any number of threads may score on one predictor at once. The pieces
 * underneath (pr_model_load, pr_featurizer_apply, pr_featurizer_apply_filter,
 * pr_model_predict) stay public for training loops and tools.
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
#include "pronto/predictor.h"
#include "pronto/rank.h"
#include "pronto/reader.h"
#include "pronto/sim.h"
#include "pronto/store.h"
#include "pronto/stream.h"
#include "pronto/train.h"

#endif
