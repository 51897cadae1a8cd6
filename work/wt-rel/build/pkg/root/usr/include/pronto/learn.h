/*
 * pronto/learn.h: online learning from an event log (`pronto learn`,
 * docs/continuous-training.md "Online learning").
 *
 * The learner reads the event records of a log in log order from its
 * start, pushes them through the feature store's dataset builder
 * (pr_fs_builder: the same assembly, featurizer and joiner as
 * build-dataset and serving), and for every labeled impression first
 * scores it with the current model (progressive validation), then learns
 * it. Every publish_every_ms of EVENT time (or publish_examples examples)
 * it registers a version in a registry, gates its promotion on the
 * interval's progressive-validation log loss, and writes a checkpoint
 * (DIR/learners/NAME/checkpoint.json) from which a restart after kill -9
 * resumes exactly once: it loads the checkpoint's version, replays the log
 * through the builder without learning until the checkpoint's count of
 * labeled examples has been emitted again (the emission sequence is a
 * function of the log prefix), then learns from there.
 *
 *   pr_learn_opts o;
 *   pr_learn_opts_default(&o);
 *   o.uri = "log:events"; o.registry_dir = "models"; o.spec = spec;
 *   o.until_end = 1;
 *   pr_learn_report rep;
 *   if (pr_learn_run(&o, &rep, &err) != PR_OK) ...
 */
#ifndef PRONTO_LEARN_H
#define PRONTO_LEARN_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "pronto/base.h"
#include "pronto/feature.h"
#include "pronto/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pr_learn_opts {
    const char *uri;            /* the event log followed (pr_log_open URI) */
    const char *registry_dir;   /* registry:DIR's DIR (created if missing) */
    const pr_spec *spec;        /* feature-store spec, borrowed for the run */
    const char *data_dir;       /* the spec's entity tables (NULL: cwd) */
    int64_t window_ms;          /* attribution window (0: the joiner's 2 h) */
    int64_t lateness_ms;        /* allowed lateness (0: the joiner's 10 min) */
    int until_end;              /* 1: stop at the log's end (flush, publish) */
    pr_model_params params;     /* a fresh model (hash_bits and n_fields are
                                   the featurizer's, set by the run) */
    const char *init;           /* NULL, a model file, or registry:DIR@ALIAS:
                                   warm start (ignored when resuming) */
    int64_t learn_from_ms;      /* INT64_MIN (the default): learn every
                                   example; else an impression stamped
                                   before it goes through the builder (the
                                   feature store, the joiner) but is neither
                                   scored nor learned nor counted for
                                   min_count: a warm start from a model
                                   trained up to it (pronto learn
                                   --learn-from) */
    int64_t publish_every_ms;   /* event time between publishes (0: never) */
    uint64_t publish_examples;  /* examples between publishes (0: never) */
    const char *alias;          /* promoted alias ("production") */
    int no_promote;             /* 1: register, never promote */
    double tolerance;           /* gate: interval log loss may be worse than
                                   production's by this much */
    uint32_t keep;              /* the learner's own unaliased versions kept
                                   (>= 1) */
    const char *name;           /* learner name: DIR/learners/NAME */
    const char *scores_path;    /* NULL, or the --scores file */
    int scores_pv;              /* 1: a 5th column, the immediate score */
    uint64_t max_bad;           /* malformed events tolerated (UINT64_MAX) */
    int metrics_port;           /* 0: no HTTP; else GET /metrics there */
    volatile sig_atomic_t *stop;/* set (by a signal handler): leave at the
                                   next record, no publish */
    FILE *out;                  /* one JSON line per publish decision (NULL:
                                   none) */
    const char *command;        /* the command line, for the registry */
} pr_learn_opts;

void pr_learn_opts_default(pr_learn_opts *o);

typedef struct pr_learn_report {
    uint64_t events;        /* event records read */
    uint64_t bad_events;    /* malformed, skipped */
    uint64_t examples;      /* labeled examples emitted (incl. skipped on
                               resume) */
    uint64_t learned;       /* learned by this run */
    uint64_t skipped;       /* replayed without learning (resume) */
    uint64_t before;        /* emitted before learn_from_ms, not learned */
    uint64_t published;     /* versions registered by this run */
    uint64_t promoted;
    double pv_logloss;      /* overall progressive validation (all runs) */
    double pv_ne;
    double seconds;         /* the run's wall time */
    int resumed;            /* 1: from a checkpoint */
    int finished;           /* 1: a finished --until-end checkpoint, nothing to do */
} pr_learn_report;

/* Runs the learner until the end of the log (until_end), a stop, or an
 * error. A log that cannot be read (missing, renamed away, a server
 * down) is retried with backoff, reported on stderr, when following.
 * Errors: PR_ERR_INVALID (options; a checkpoint of another learner
 * setup), PR_ERR_SPEC, PR_ERR_IO / FORMAT (registry, checkpoint,
 * --scores), those of pr_log_open with until_end. */
pr_status pr_learn_run(const pr_learn_opts *o, pr_learn_report *rep, pr_err *err);

/* ------------------------------------------------------------ checkpoint */

/* What DIR/learners/NAME/checkpoint.json holds (docs/continuous-training.md
 * lists the JSON keys). */
typedef struct pr_learn_ckpt {
    char version[72];          /* the registered version holding the model */
    char snapshot[72];         /* the version --scores scores with (the last
                                  promoted; "" = the initial model) */
    char kind[8];              /* "lr", "ffm" */
    uint64_t spec_fingerprint; /* of the featurizer */
    char pos[48];              /* the log position of the last record
                                  processed ("" if none) */
    uint64_t examples;         /* labeled examples emitted up to it */
    uint64_t scores_bytes;     /* length of the --scores file (0: none) */
    int64_t clock_ms;          /* largest event time processed */
    int64_t next_publish_ms;   /* the next time boundary (INT64_MIN: none) */
    uint64_t published;        /* versions published so far */
    int flushed;               /* 1: written after the end-of-log flush */
    int64_t learn_from_ms;     /* the run's learn_from_ms (INT64_MIN: none;
                                  "learn_from_ms", absent or null) */
    double ll_sum;             /* overall progressive-validation sums */
    uint64_t n, positives;
    char own[64][72];          /* the learner's versions not yet gc'd, old first */
    uint32_t n_own;
} pr_learn_ckpt;

/* Parses a checkpoint's text (name for messages). PR_ERR_FORMAT naming
 * the key at fault. */
pr_status pr_learn_ckpt_parse(const char *text, size_t len, const char *name,
                              pr_learn_ckpt *out, pr_err *err);
/* Its JSON text: malloc'd, caller frees; NULL when out of memory. */
char *pr_learn_ckpt_format(const pr_learn_ckpt *c);

#ifdef __cplusplus
}
#endif
#endif
