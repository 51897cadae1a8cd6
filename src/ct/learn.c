/*
 * learn.c: online learning from an event log (`pronto learn`,
 * pronto/learn.h; the argument for exactly-once is in
 * docs/continuous-training.md "Online learning").
 *
 * Structure. One thread reads the log (reader.c-style loop below: records
 * of type event, pushed into a pr_fs_builder with "URI@POS" as their
 * name), the builder calls back:
 *
 *   on_event    every event in processing order, before it is applied: the
 *               event-time clock (largest ts) moves, and when it reaches
 *               the next publish boundary the learner publishes (what it
 *               learned so far) before the event is processed;
 *   on_labeled  every labeled impression in emission order: scored by the
 *               snapshot, the learner's last promoted version (the --scores
 *               p: what a server following the alias answered; with
 *               --no-promote the last registered one; before any, the
 *               initial model), by production when that is another model
 *               (the gate's reference), then by the model (progressive
 *               validation) which learns it at once.
 *
 * Both decisions depend only on the sequence of lines pushed, never on
 * when the builder ran (pr_fs_builder_advance at a pause in the log), so
 * a replay of the same log prefix publishes at the same examples.
 *
 * Resume. The checkpoint is written after the version it names is
 * registered (and after the --scores file is fsynced): it holds the count
 * of labeled examples emitted when the version was cut. A restart loads
 * that version, replays the log from its start with learning off until
 * that count has been emitted again (the count filter of min_count still
 * counts those examples: its state is rebuilt, not stored), truncates
 * --scores to the recorded length and learns from there.
 *
 * Ownership: the learner owns the builder, the models (learning, snapshot,
 * production), the count filter, the registry and log handles; the
 * caller's options are borrowed for the run.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ct/learn_int.h"
#include "pronto/fstore.h"
#include "pronto/learn.h"
#include "pronto/log.h"
#include "pronto/metrics.h"
#include "pronto/registry.h"

#define POS_RING 16u        /* positions of the lines pushed, not processed */
#define IDLE_REOPEN_S 1.0   /* following: reopen the log after this idle */
#define BACKOFF_MAX_S 5.0

typedef struct acc {
    pr_logloss_acc ll;
    uint64_t n, positives;
} acc;

typedef struct learner {
    const pr_learn_opts *o;
    pr_learn_report *rep;
    pr_registry *reg;
    pr_fs_builder *b;
    pr_featurizer *fz;          /* the builder's */
    pr_model *model;            /* learning */
    pr_model *snap;             /* the last promoted (--no-promote: registered)
                                   version's model, or the initial model */
    pr_model *prod;             /* production when it is not the learner's own */
    char prod_id[PR_REGISTRY_ID_MAX];
    pr_count_filter *counts;    /* min_count > 0 */
    uint64_t *filter;           /* scratch bitmap */
    size_t filter_words;
    uint64_t emitted, skip_until;
    uint64_t since_pub;
    acc pv, pv_snap, pv_prod;   /* this interval: model, snapshot, production */
    double ll_sum;              /* overall progressive validation */
    uint64_t n, positives;
    int64_t clock_ms;
    int64_t next_pub;           /* INT64_MIN: not set yet */
    uint64_t published;
    char last_version[PR_REGISTRY_ID_MAX];
    char snap_id[PR_REGISTRY_ID_MAX];  /* the snapshot's version ("": initial) */
    char orphan_id[PR_REGISTRY_ID_MAX];/* production at a restart: this learner's
                                          version cut after its checkpoint */
    char init_parent[PR_REGISTRY_ID_MAX];
    char own[64][PR_REGISTRY_ID_MAX];
    uint32_t n_own;
    FILE *scores;
    uint64_t scores_bytes;
    char dir[PR_REGISTRY_PATH_MAX];    /* DIR/learners/NAME */
    char ckpt_path[PR_REGISTRY_PATH_MAX + 32];
    pr_feature *xa, *xs;        /* scratch feature copies */
    size_t x_cap;
    /* the log */
    pr_event_log *log;
    pr_log_reader *rd;
    int has_pos;
    pr_log_pos pos;             /* last record read */
    pr_log_pos ring[POS_RING];  /* of the lines pushed, by push count */
    uint64_t pushed;
    pr_learn_metrics *metrics;
    int finishing;              /* the end-of-log flush is running */
    int lock_fd;                /* flock on DIR/learners/NAME/LOCK, or -1 */
} learner;

/* JSON-safe copy of a text we did not make (URI, name). */
static void json_text(char *dst, size_t cap, const char *s) {
    size_t o = 0;
    for (; *s && o + 2 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        dst[o++] = c == '"' || c == '\\' || c < 0x20 ? '_' : (char)c;
    }
    dst[o] = '\0';
}

void pr_learn_opts_default(pr_learn_opts *o) {
    memset(o, 0, sizeof *o);
    pr_model_params_default(&o->params, PR_MODEL_KIND_LR);
    o->publish_every_ms = 5 * 60 * 1000;
    o->alias = "production";
    o->keep = 20;
    o->name = "learn";
    o->max_bad = UINT64_MAX;
    o->learn_from_ms = INT64_MIN;
}

/* Normalized entropy of a log-loss sum over n examples with pos clicks:
 * the mean log loss over the entropy of the base rate. */
static double ne_of(double ll_sum, uint64_t n, uint64_t pos) {
    if (!n || !pos || pos == n) return NAN;
    double p = (double)pos / (double)n;
    return ll_sum / (double)n / -(p * log(p) + (1 - p) * log1p(-p));
}

static double acc_ll(const acc *a) { return pr_logloss_value(&a->ll); }

static void acc_add(acc *a, double p, int y) {
    pr_logloss_add(&a->ll, p, y, 1.0);
    a->n++;
    a->positives += y != 0;
}

/* ---------------------------------------------------------------- models */

static pr_status ensure_x(learner *l, uint32_t n, pr_err *err) {
    if (n <= l->x_cap) return PR_OK;
    size_t cap = l->x_cap ? l->x_cap : 256;
    while (cap < n) cap *= 2;
    pr_feature *a = realloc(l->xa, cap * sizeof *a);
    if (a) l->xa = a;
    pr_feature *s = a ? realloc(l->xs, cap * sizeof *s) : NULL;
    if (s) l->xs = s;
    if (!a || !s) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    l->x_cap = cap;
    return PR_OK;
}

/* p of m on x as a server answers: x with m's filter applied. */
static double serve_score(learner *l, const pr_model *m, const pr_example *x) {
    pr_example c = *x;
    c.f = l->xs;
    memcpy(l->xs, x->f, (size_t)x->n * sizeof *x->f);
    pr_featurizer_apply_filter(l->fz, pr_model_filter(m), &c);
    return pr_model_predict(m, &c);
}

static pr_status load_model_uri(const char *uri, pr_model **out, char *version, pr_err *err) {
    char dir[PR_REGISTRY_PATH_MAX], alias[PR_REGISTRY_ID_MAX], path[PR_REGISTRY_PATH_MAX];
    int u = pr_registry_uri(uri, dir, alias);
    if (u < 0) return pr_err_set(err, PR_ERR_INVALID, "%s: name too long", uri);
    if (version) version[0] = '\0';
    if (u == 0) return pr_model_load(uri, out, err);
    pr_registry *r;
    pr_status s = pr_registry_open(dir, 0, &r, err);
    if (s != PR_OK) return s;
    char id[PR_REGISTRY_ID_MAX];
    s = pr_registry_resolve(r, alias, id, path, err);
    if (s == PR_OK) s = pr_model_load(path, out, err);
    if (s == PR_OK && version) snprintf(version, PR_REGISTRY_ID_MAX, "%s", id);
    pr_registry_close(r);
    return s;
}

/* The model's filter := counts' bitmap | its filter (the buckets a warm
 * start knew), as pr_train does. */
static pr_status update_filter(learner *l, pr_err *err) {
    if (!l->counts) return PR_OK;
    const uint64_t *c = pr_count_filter_bitmap(l->counts);
    const uint64_t *old = pr_model_filter(l->model);
    for (size_t i = 0; i < l->filter_words; i++) l->filter[i] = c[i] | (old ? old[i] : 0);
    return pr_model_set_filter(l->model, l->filter, err);
}

/* Production's version, "" when the alias is not set. A version this
 * learner registered (and promoted) after its last checkpoint, before a
 * kill, stands for the snapshot it replaced: the resumed run cuts the
 * same model again and must gate it as the first run did. */
static pr_status production_id(learner *l, char *id, pr_err *err) {
    id[0] = '\0';
    pr_status s = pr_registry_resolve(l->reg, l->o->alias, id, NULL, err);
    if (s == PR_ERR_NOTFOUND) {
        id[0] = '\0';
        pr_err_clear(err);
        return PR_OK;
    }
    if (s == PR_OK && l->orphan_id[0] && !strcmp(id, l->orphan_id))
        snprintf(id, PR_REGISTRY_ID_MAX, "%s", l->snap_id);
    return s;
}

/* At a restart: is production a version of this learner registered after
 * the checkpoint (its data says this learner, this log, more examples)? */
static pr_status find_orphan(learner *l, pr_err *err) {
    char id[PR_REGISTRY_ID_MAX];
    pr_status s = production_id(l, id, err);
    if (s != PR_OK || !id[0] || !strcmp(id, l->snap_id)) return s;
    char *meta = NULL;
    if ((s = pr_registry_get(l->reg, id, &meta, err)) != PR_OK) return s;
    json_error_t je;
    json_t *o = json_loads(meta, 0, &je);
    free(meta);
    json_t *d = o ? json_object_get(o, "data") : NULL;
    json_t *ln = json_object_get(d, "learner"), *lg = json_object_get(d, "log"),
           *ex = json_object_get(d, "examples");
    char name[200], uri[1024];
    json_text(name, sizeof name, l->o->name);
    json_text(uri, sizeof uri, l->o->uri);
    if (json_is_string(ln) && !strcmp(json_string_value(ln), name) && json_is_string(lg) &&
        !strcmp(json_string_value(lg), uri) && json_is_integer(ex) &&
        (uint64_t)json_integer_value(ex) > l->skip_until)
        snprintf(l->orphan_id, sizeof l->orphan_id, "%s", id);
    json_decref(o);
    return PR_OK;
}

/* Loads production for the gate when it is another model than the
 * snapshot; frees it when production is the learner's own. */
static pr_status follow_production(learner *l, pr_err *err) {
    char id[PR_REGISTRY_ID_MAX];
    pr_status s = production_id(l, id, err);
    if (s != PR_OK) return s;
    if (!id[0] || !strcmp(id, l->snap_id)) {
        pr_model_free(l->prod);
        l->prod = NULL;
        l->prod_id[0] = '\0';
        return PR_OK;
    }
    if (l->prod && !strcmp(id, l->prod_id)) return PR_OK;
    char path[PR_REGISTRY_PATH_MAX];
    pr_model *m = NULL;
    s = pr_registry_resolve(l->reg, id, NULL, path, err);
    if (s == PR_OK) s = pr_model_load(path, &m, err);
    if (s != PR_OK) return s;
    const pr_model_params *p = pr_model_params_get(m);
    if (p->hash_bits != pr_featurizer_hash_bits(l->fz)) {
        /* another featurization: it cannot score these examples */
        pr_log(PR_LOG_WARN, "learn: %s %s hashes into 2^%u buckets, the spec 2^%u: not scored",
               l->o->alias, id, p->hash_bits, pr_featurizer_hash_bits(l->fz));
        pr_model_free(m);
        m = NULL;
    }
    pr_model_free(l->prod);
    l->prod = m;
    snprintf(l->prod_id, sizeof l->prod_id, "%s", m ? id : "");
    memset(&l->pv_prod, 0, sizeof l->pv_prod);
    return PR_OK;
}

/* ---------------------------------------------------------------- files */

static pr_status write_ckpt(learner *l, int flushed, pr_err *err) {
    pr_learn_ckpt c;
    memset(&c, 0, sizeof c);
    snprintf(c.version, sizeof c.version, "%s", l->last_version);
    snprintf(c.snapshot, sizeof c.snapshot, "%s", l->snap_id);
    snprintf(c.kind, sizeof c.kind, "%s", pr_model_kind_name(pr_model_params_get(l->model)->kind));
    c.spec_fingerprint = pr_featurizer_fingerprint(l->fz);
    pr_fs_build_stats st;
    pr_fs_builder_stats_get(l->b, &st);
    if (st.lines && l->log) /* the record being processed: line lines-1 */
        pr_log_pos_format(l->log, l->ring[(st.lines - 1) % POS_RING], c.pos, sizeof c.pos);
    c.examples = l->emitted;
    c.scores_bytes = l->scores_bytes;
    c.clock_ms = l->clock_ms;
    c.next_publish_ms = l->next_pub;
    c.published = l->published;
    c.flushed = flushed;
    c.learn_from_ms = l->o->learn_from_ms;
    c.ll_sum = l->ll_sum;
    c.n = l->n;
    c.positives = l->positives;
    c.n_own = l->n_own;
    memcpy(c.own, l->own, sizeof c.own);
    char *text = pr_learn_ckpt_format(&c);
    if (!text) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    pr_atomic_file *f;
    pr_status s = pr_atomic_open(l->ckpt_path, &f, err);
    if (s == PR_OK) {
        s = pr_atomic_write(f, text, strlen(text), err);
        if (s == PR_OK) s = pr_atomic_write(f, "\n", 1, err);
        if (s == PR_OK) s = pr_atomic_commit(f, err);
        else pr_atomic_abort(f);
    }
    free(text);
    return s;
}

static pr_status read_ckpt(learner *l, pr_learn_ckpt *c, int *found, pr_err *err) {
    *found = 0;
    FILE *f = fopen(l->ckpt_path, "rb");
    if (!f) {
        if (errno == ENOENT) return PR_OK;
        return pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot open", l->ckpt_path);
    }
    char buf[16384];
    size_t n = fread(buf, 1, sizeof buf, f);
    int bad = ferror(f) || !feof(f);
    fclose(f);
    if (bad)
        return pr_err_set(err, PR_ERR_FORMAT, "%s: unreadable or longer than %zu bytes",
                          l->ckpt_path, sizeof buf - 1);
    pr_status s = pr_learn_ckpt_parse(buf, n, l->ckpt_path, c, err);
    if (s == PR_OK) *found = 1;
    return s;
}

static pr_status mkdir_p(const char *path, pr_err *err) {
    char tmp[PR_REGISTRY_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
            return pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot create", tmp);
        *p = '/';
    }
    if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
        return pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot create", tmp);
    return PR_OK;
}

static pr_status scores_sync(learner *l, pr_err *err) {
    if (!l->scores) return PR_OK;
    if (fflush(l->scores) != 0 || fsync(fileno(l->scores)) != 0)
        return pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot write", l->o->scores_path);
    return PR_OK;
}

/* --scores: truncated to what the checkpoint recorded, appended to. */
static pr_status scores_open(learner *l, uint64_t len, pr_err *err) {
    const char *p = l->o->scores_path;
    if (!p) return PR_OK;
    int fd = open(p, O_WRONLY | O_CREAT, 0666);
    if (fd < 0) return pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot open", p);
    struct stat sb;
    if (fstat(fd, &sb) != 0 || (uint64_t)sb.st_size < len) {
        close(fd);
        return pr_err_set(err, PR_ERR_TRUNCATED,
                          "%s: %lld bytes, the checkpoint recorded %llu (not the file "
                          "of this learner?)",
                          p, (long long)sb.st_size, (unsigned long long)len);
    }
    if (ftruncate(fd, (off_t)len) != 0 || lseek(fd, 0, SEEK_END) < 0) {
        int e = errno;
        close(fd);
        return pr_err_errno(err, PR_ERR_IO, e, "%s: cannot truncate", p);
    }
    l->scores = fdopen(fd, "w");
    if (!l->scores) {
        close(fd);
        return pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot open", p);
    }
    l->scores_bytes = len;
    return PR_OK;
}

/* ---------------------------------------------------------------- publish */

static void fmt_num(char *buf, size_t cap, double v) {
    if (isfinite(v)) snprintf(buf, cap, "%.6f", v);
    else snprintf(buf, cap, "null");
}

static void gc_own(learner *l) {
    while (l->n_own > l->o->keep) {
        /* the oldest removable one; aliased ones stay listed */
        uint32_t i = 0;
        pr_err e;
        pr_err_clear(&e);
        pr_status s = PR_ERR_INVALID;
        for (; i + l->o->keep < l->n_own; i++) {
            if (!strcmp(l->own[i], l->snap_id)) continue; /* --scores needs it */
            s = pr_registry_remove(l->reg, l->own[i], "learner keeps its newest versions", &e);
            if (s == PR_OK || s == PR_ERR_NOTFOUND) break;
        }
        if (i + l->o->keep >= l->n_own) return; /* all in use */
        if (s != PR_OK && s != PR_ERR_NOTFOUND) return;
        memmove(l->own[i], l->own[i + 1], (size_t)(l->n_own - i - 1) * sizeof l->own[0]);
        l->n_own--;
    }
}

/* Registers what was learned, gates it, checkpoints. at_ms: the event
 * time of the publish. */
static pr_status publish(learner *l, int64_t at_ms, const char *why, pr_err *err) {
    const pr_learn_opts *o = l->o;
    pr_status s = update_filter(l, err);
    char tmp[PR_REGISTRY_PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s/publish.pm", l->dir);
    if (s == PR_OK) s = pr_model_save(l->model, tmp, err);
    if (s != PR_OK) return s;

    /* the gate */
    char prod[PR_REGISTRY_ID_MAX];
    if ((s = production_id(l, prod, err)) != PR_OK) return s;
    double A = acc_ll(&l->pv), ref = NAN;
    const char *ref_what = "none";
    if (prod[0] && !strcmp(prod, l->snap_id)) {
        ref = acc_ll(&l->pv_snap);
        ref_what = "own";
    } else if (prod[0] && l->prod && !strcmp(prod, l->prod_id)) {
        ref = acc_ll(&l->pv_prod);
        ref_what = "scored";
    } else if (prod[0]) {
        ref_what = "unscored";
    }
    int pass = 1;
    char reason[512];
    if (!l->pv.n) {
        pass = 0;
        snprintf(reason, sizeof reason, "no example learned in the interval");
    } else if (!isfinite(A)) {
        pass = 0;
        snprintf(reason, sizeof reason, "interval log loss is not finite");
    } else if (!strcmp(ref_what, "unscored")) {
        pass = 0;
        snprintf(reason, sizeof reason,
                 "%s moved to %s during the interval: not compared, not promoted", o->alias,
                 prod);
    } else if (isfinite(ref) && A > ref + o->tolerance) {
        pass = 0;
        snprintf(reason, sizeof reason,
                 "interval log loss %.6f worse than %s %s's %.6f by more than %g", A, o->alias,
                 prod, ref, o->tolerance);
    } else if (isfinite(ref)) {
        snprintf(reason, sizeof reason, "interval log loss %.6f, %s %s's %.6f (tolerance %g)",
                 A, o->alias, prod, ref, o->tolerance);
    } else {
        snprintf(reason, sizeof reason, "interval log loss %.6f, no %s to compare", A, o->alias);
    }

    /* the version */
    char name[200], uri[1024], data[2048], metrics[1024], a_s[32], ne_s[32], r_s[32], o_s[32],
        one_s[32], pos[PR_LOG_POS_TEXT_MAX] = "";
    json_text(name, sizeof name, o->name);
    json_text(uri, sizeof uri, o->uri);
    char init[1100] = "";
    if (o->init) json_text(init, sizeof init, o->init);
    pr_fs_build_stats st;
    pr_fs_builder_stats_get(l->b, &st);
    if (st.lines && l->log)
        pr_log_pos_format(l->log, l->ring[(st.lines - 1) % POS_RING], pos, sizeof pos);
    snprintf(data, sizeof data,
             "{\"learner\":\"%s\",\"log\":\"%s\",\"position\":\"%s\",\"publish_ts_ms\":%lld,"
             "\"examples\":%llu,\"interval_examples\":%llu,\"trigger\":\"%s\",\"init\":%s%s%s}",
             name, uri, pos, (long long)at_ms, (unsigned long long)l->emitted,
             (unsigned long long)l->pv.n, why, init[0] ? "\"" : "", init[0] ? init : "null",
             init[0] ? "\"" : "");
    double overall = l->n ? l->ll_sum / (double)l->n : NAN;
    fmt_num(a_s, sizeof a_s, A);
    fmt_num(ne_s, sizeof ne_s, ne_of(l->pv.ll.sum, l->pv.n, l->pv.positives));
    fmt_num(r_s, sizeof r_s, ref);
    fmt_num(o_s, sizeof o_s, overall);
    fmt_num(one_s, sizeof one_s, ne_of(l->ll_sum, l->n, l->positives));
    snprintf(metrics, sizeof metrics,
             "{\"interval\":{\"pv_logloss\":%s,\"pv_ne\":%s,\"count\":%llu,"
             "\"production_logloss\":%s},\"overall\":{\"pv_logloss\":%s,\"pv_ne\":%s,"
             "\"count\":%llu}}",
             a_s, ne_s, (unsigned long long)l->pv.n, r_s, o_s, one_s,
             (unsigned long long)l->n);
    pr_registry_version_opts v;
    pr_registry_version_opts_default(&v);
    char parent_id[PR_REGISTRY_ID_MAX];
    snprintf(parent_id, sizeof parent_id, "%s",
             l->last_version[0] ? l->last_version : l->init_parent);
    const char *parent = parent_id[0] ? parent_id : NULL;
    v.parent = parent;
    v.data_json = data;
    v.metrics_json = metrics;
    v.command = o->command;
    const char *reasons[1] = {reason};
    v.reasons = reasons;
    v.n_reasons = 1;
    v.rejected = !pass && !o->no_promote;
    v.saved = l->model; /* written once: the registry links publish.pm */
    char id[PR_REGISTRY_ID_MAX];
    if ((s = pr_registry_register(l->reg, tmp, &v, id, err)) != PR_OK) return s;
    unlink(tmp);
    int promoted = 0;
    char detail[600];
    if (pass && !o->no_promote) {
        pr_err e;
        pr_err_clear(&e);
        if (pr_registry_set_alias(l->reg, o->alias, id, reason, 0, &e) == PR_OK) {
            promoted = 1;
        } else {
            pass = 0;
            snprintf(reason, sizeof reason, "not promoted: %.480s", e.msg);
        }
    }
    char rj[560];
    json_text(rj, sizeof rj, reason);
    snprintf(detail, sizeof detail,
             "{\"learner\":\"%s\",\"decision\":\"%s\",\"pv_logloss\":%s,\"production_logloss\":%s}",
             name, promoted ? "promoted" : o->no_promote ? "registered" : "rejected", a_s, r_s);
    if ((s = pr_registry_note(l->reg, "gate", id, reason, detail, err)) != PR_OK) return s;

    /* durable in this order: version, scores, checkpoint */
    snprintf(l->last_version, sizeof l->last_version, "%s", id);
    if (l->n_own == 64) {
        memmove(l->own[0], l->own[1], 63 * sizeof l->own[0]);
        l->n_own--;
    }
    snprintf(l->own[l->n_own++], sizeof l->own[0], "%s", id);
    l->published++;
    if (promoted || o->no_promote) {
        /* the new snapshot: what a server following the alias now answers
         * (copied into the old one's memory: an LR table; an FFM's clone
         * copies only its touched rows) */
        pr_err e;
        pr_err_clear(&e);
        if (pr_model_params_get(l->model)->kind != PR_MODEL_KIND_LR ||
            pr_model_copy(l->snap, l->model, &e) != PR_OK) {
            pr_model *c;
            if ((s = pr_model_clone(l->model, &c, err)) != PR_OK) return s;
            pr_model_free(l->snap);
            l->snap = c;
        }
        snprintf(l->snap_id, sizeof l->snap_id, "%s", id);
    }
    if ((s = scores_sync(l, err)) != PR_OK) return s;
    if ((s = write_ckpt(l, l->finishing, err)) != PR_OK) return s;
    gc_own(l);
    if (o->out) {
        fprintf(o->out,
                "{\"event\":\"publish\",\"learner\":\"%s\",\"version\":\"%s\",\"parent\":%s%s%s,"
                "\"decision\":\"%s\",\"reason\":\"%s\",\"publish_ts_ms\":%lld,\"trigger\":\"%s\","
                "\"examples\":%llu,\"interval\":{\"pv_logloss\":%s,\"pv_ne\":%s,\"count\":%llu,"
                "\"production_logloss\":%s},\"overall\":{\"pv_logloss\":%s,\"pv_ne\":%s,"
                "\"count\":%llu},\"position\":\"%s\"}\n",
                name, id, parent ? "\"" : "", parent ? parent : "null", parent ? "\"" : "",
                promoted ? "promoted" : o->no_promote ? "registered" : "rejected", rj,
                (long long)at_ms, why, (unsigned long long)l->emitted, a_s, ne_s,
                (unsigned long long)l->pv.n, r_s, o_s, one_s, (unsigned long long)l->n, pos);
        fflush(o->out);
    }
    l->rep->published++;
    l->rep->promoted += promoted;
    memset(&l->pv, 0, sizeof l->pv);
    memset(&l->pv_snap, 0, sizeof l->pv_snap);
    memset(&l->pv_prod, 0, sizeof l->pv_prod);
    l->since_pub = 0;
    pr_learn_metrics_publish(l->metrics, A, ne_of(l->ll_sum, l->n, l->positives));
    return follow_production(l, err);
}

/* ---------------------------------------------------------------- callbacks */

static void metrics_now(learner *l) {
    if (!l->metrics) return;
    pr_fs_build_stats st;
    pr_fs_builder_stats_get(l->b, &st);
    pr_learn_metrics_examples(l->metrics, l->n, l->n ? l->ll_sum / (double)l->n : NAN,
                              ne_of(l->ll_sum, l->n, l->positives), st.bad_lines);
}

static pr_status on_event(void *ctx, pr_bytes line, const pr_fs_event *ev, pr_fs *fs,
                          const pr_fs_row *row, pr_arena *arena, pr_err *err) {
    (void)line, (void)fs, (void)row, (void)arena;
    learner *l = ctx;
    if (!ev->has_ts) return PR_OK;
    if (ev->ts_ms > l->clock_ms) l->clock_ms = ev->ts_ms;
    int64_t D = l->o->publish_every_ms;
    if (!D) return PR_OK;
    int64_t next = (l->clock_ms / D + 1) * D;
    if (l->next_pub == INT64_MIN) {
        l->next_pub = next;
        return PR_OK;
    }
    if (l->clock_ms < l->next_pub) return PR_OK;
    int64_t at = next - D; /* the latest boundary passed */
    l->next_pub = next;
    if (l->since_pub == 0 || l->emitted < l->skip_until) return PR_OK;
    return publish(l, at, "time", err);
}

static pr_status on_labeled(void *ctx, const pr_fs_labeled *lab, pr_err *err) {
    learner *l = ctx;
    const pr_example *x = lab->x;
    uint64_t idx = l->emitted++;
    if (lab->ts_ms < l->o->learn_from_ms) {
        /* before --learn-from: the init model was trained on it */
        l->rep->before++;
        return PR_OK;
    }
    if (idx < l->skip_until) {
        /* learned before the restart: only the counts are rebuilt */
        if (l->counts) pr_count_filter_add(l->counts, x);
        l->rep->skipped++;
        return PR_OK;
    }
    pr_status s = ensure_x(l, x->n, err);
    if (s != PR_OK) return s;
    int y = lab->label != 0;
    double p = serve_score(l, l->snap, x);
    acc_add(&l->pv_snap, p, y);
    if (l->prod) acc_add(&l->pv_prod, serve_score(l, l->prod, x), y);
    pr_example a = *x;
    a.f = l->xa;
    memcpy(l->xa, x->f, (size_t)x->n * sizeof *x->f);
    if (l->counts)
        pr_count_filter_add_admit(l->counts, l->fz, pr_model_filter(l->model), &a);
    else
        pr_featurizer_apply_filter(l->fz, pr_model_filter(l->model), &a);
    double z = pr_model_update(l->model, &a);
    double pv = 1.0 / (1.0 + exp(-z));
    acc_add(&l->pv, pv, y);
    l->ll_sum += pr_logloss_row(pv, y);
    l->n++;
    l->positives += y;
    l->since_pub++;
    l->rep->learned++;
    if (l->scores) {
        char line[128];
        int n = l->o->scores_pv
                    ? snprintf(line, sizeof line, "%" PRIu64 ",%" PRId64 ",%d,%.6g,%.6g\n",
                               lab->impression_id, lab->ts_ms, y, p, pv)
                    : snprintf(line, sizeof line, "%" PRIu64 ",%" PRId64 ",%d,%.6g\n",
                               lab->impression_id, lab->ts_ms, y, p);
        if (fwrite(line, 1, (size_t)n, l->scores) != (size_t)n)
            return pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot write", l->o->scores_path);
        l->scores_bytes += (uint64_t)n;
    }
    if ((l->n & 255) == 0) metrics_now(l);
    if (l->o->publish_examples && l->since_pub >= l->o->publish_examples)
        return publish(l, l->clock_ms, "examples", err);
    return PR_OK;
}

/* ---------------------------------------------------------------- the log */

static void log_close(learner *l) {
    pr_log_reader_close(l->rd);
    l->rd = NULL;
    pr_log_close(l->log);
    l->log = NULL;
}

static pr_status log_open(learner *l, pr_err *err) {
    pr_status s = pr_log_open(l->o->uri, PR_LOG_READ, &l->log, err);
    if (s != PR_OK) return s;
    pr_log_start st = {.kind = l->has_pos ? PR_LOG_AFTER_POS : PR_LOG_FROM_START,
                       .after = l->pos, .skip_corrupt = 1};
    s = pr_log_reader_open(l->log, &st, &l->rd, err);
    if (s != PR_OK) log_close(l);
    return s;
}

static void sleep_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static int stopped(const learner *l) { return l->o->stop && *l->o->stop; }

/* Reads records and pushes them until the end (until_end) or a stop.
 * Following, an unreadable log is retried with backoff. */
static pr_status run_log(learner *l, pr_err *err) {
    const pr_learn_opts *o = l->o;
    double backoff = 0.1, idle_since = pr_now();
    int down = 0;
    while (!stopped(l)) {
        if (!l->log) {
            pr_status s = log_open(l, err);
            if (s != PR_OK) {
                if (o->until_end) return s;
                pr_log(PR_LOG_WARN, "learn: %s: %s; retrying in %.1f s", o->uri, err->msg,
                       backoff);
                down = 1;
                sleep_s(backoff);
                backoff = backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : backoff * 2;
                continue;
            }
            if (down) pr_log(PR_LOG_INFO, "learn: %s: reading again", o->uri);
            down = 0;
            idle_since = pr_now();
        }
        pr_log_record rec;
        pr_status s = pr_log_next(l->rd, &rec, err);
        if (s == PR_OK) {
            backoff = 0.1;
            l->has_pos = 1;
            l->pos = rec.pos;
            if (rec.type != PR_LOG_TYPE_EVENT) continue;
            l->rep->events++;
            char where[PR_LOG_POS_TEXT_MAX + 1100], p[PR_LOG_POS_TEXT_MAX];
            pr_log_pos_format(l->log, rec.pos, p, sizeof p);
            snprintf(where, sizeof where, "%s@%s", o->uri, p);
            l->ring[l->pushed++ % POS_RING] = rec.pos;
            s = pr_fs_builder_push(l->b, rec.payload.ptr, rec.payload.len, where, err);
            if (s != PR_OK) return s;
            idle_since = pr_now();
            continue;
        }
        if (s != PR_EOF) {
            if (o->until_end) return s;
            pr_log(PR_LOG_WARN, "learn: %s: %s; reopening in %.1f s", o->uri, err->msg, backoff);
            log_close(l);
            down = 1;
            sleep_s(backoff);
            backoff = backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : backoff * 2;
            continue;
        }
        /* the end of what is written */
        s = pr_fs_builder_advance(l->b, err);
        if (s != PR_OK) return s;
        pr_learn_metrics_lag(l->metrics, l->clock_ms);
        metrics_now(l);
        if (o->until_end) return PR_OK;
        if (pr_now() - idle_since > IDLE_REOPEN_S) {
            /* a log renamed away or recreated is noticed by reopening it */
            log_close(l);
            continue;
        }
        sleep_s(0.1);
    }
    return PR_OK;
}

/* ---------------------------------------------------------------- setup */

static pr_status setup_model(learner *l, const pr_learn_ckpt *ck, int resumed, pr_err *err) {
    const pr_learn_opts *o = l->o;
    uint32_t bits = pr_featurizer_hash_bits(l->fz);
    pr_status s;
    if (resumed) {
        char path[PR_REGISTRY_PATH_MAX];
        s = pr_registry_resolve(l->reg, ck->version, NULL, path, err);
        if (s == PR_OK) s = pr_model_load(path, &l->model, err);
        if (s != PR_OK)
            return pr_err_set(err, s, "%s: version %s: %s", l->ckpt_path, ck->version, err->msg);
    } else if (o->init) {
        s = load_model_uri(o->init, &l->model, l->init_parent, err);
        if (s != PR_OK) return s;
        /* a parent must be a version of the same registry */
        char dir[PR_REGISTRY_PATH_MAX], alias[PR_REGISTRY_ID_MAX], a[PATH_MAX], b[PATH_MAX];
        if (pr_registry_uri(o->init, dir, alias) != 1 || !realpath(dir, a) ||
            !realpath(o->registry_dir, b) || strcmp(a, b))
            l->init_parent[0] = '\0';
    } else {
        pr_model_params p = o->params;
        p.hash_bits = bits;
        p.n_fields = pr_featurizer_n_fields(l->fz);
        if ((s = pr_model_params_check(&p, err)) != PR_OK) return s;
        if ((s = pr_model_new(&p, &l->model, err)) != PR_OK) return s;
    }
    const pr_model_params *mp = pr_model_params_get(l->model);
    if (mp->hash_bits != bits ||
        (mp->kind == PR_MODEL_KIND_FFM && mp->n_fields != pr_featurizer_n_fields(l->fz)))
        return pr_err_set(err, PR_ERR_INVALID,
                          "%s: a %s model of 2^%u buckets, %u fields; the spec featurizes into "
                          "2^%u buckets, %u fields",
                          resumed ? ck->version : o->init, pr_model_kind_name(mp->kind),
                          mp->hash_bits, mp->n_fields, bits, pr_featurizer_n_fields(l->fz));
    if (mp->neg_sample_rate != 1.0f)
        return pr_err_set(err, PR_ERR_INVALID, "a model trained with negative downsampling "
                          "cannot be continued online");
    const char *ms = pr_model_spec(l->model);
    if (ms && (resumed || o->init)) {
        /* the same featurization, or the warm start learns other features */
        pr_spec *sp = NULL;
        pr_featurizer *f2 = NULL;
        s = pr_spec_parse(ms, strlen(ms), "model", &sp, err);
        if (s == PR_OK) s = pr_featurizer_new(sp, &f2, err);
        uint64_t a = s == PR_OK ? pr_featurizer_fingerprint(f2) : 0;
        pr_featurizer_free(f2);
        pr_spec_free(sp);
        if (s != PR_OK) return s;
        if (a != pr_featurizer_fingerprint(l->fz))
            return pr_err_set(err, PR_ERR_INVALID,
                              "%s: trained with another feature spec (fingerprint %016llx, "
                              "this spec's %016llx)",
                              resumed ? ck->version : o->init, (unsigned long long)a,
                              (unsigned long long)pr_featurizer_fingerprint(l->fz));
    }
    if ((s = pr_model_set_spec(l->model, pr_featurizer_spec_yaml(l->fz), err)) != PR_OK) return s;
    uint32_t mc = pr_spec_min_count(o->spec);
    if (mc) {
        if ((s = pr_count_filter_new(bits, mc, &l->counts, err)) != PR_OK) return s;
        l->filter_words = (((size_t)1 << bits) + 63) / 64;
        l->filter = malloc(l->filter_words * sizeof *l->filter);
        if (!l->filter) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    }
    if (resumed) snprintf(l->snap_id, sizeof l->snap_id, "%s", ck->snapshot);
    if (!resumed || !strcmp(ck->snapshot, ck->version))
        return pr_model_clone(l->model, &l->snap, err);
    if (ck->snapshot[0]) { /* an older promoted version */
        char path[PR_REGISTRY_PATH_MAX];
        s = pr_registry_resolve(l->reg, ck->snapshot, NULL, path, err);
        if (s == PR_OK) s = pr_model_load(path, &l->snap, err);
        return s;
    }
    /* nothing promoted yet: the initial model, made again */
    if (o->init) return load_model_uri(o->init, &l->snap, NULL, err);
    pr_model_params p = o->params;
    p.hash_bits = bits;
    p.n_fields = pr_featurizer_n_fields(l->fz);
    return pr_model_new(&p, &l->snap, err);
}

pr_status pr_learn_run(const pr_learn_opts *o, pr_learn_report *rep, pr_err *err) {
    memset(rep, 0, sizeof *rep);
    double t0 = pr_now();
    if (!o->uri || !o->registry_dir || !o->spec || !o->name)
        return pr_err_set(err, PR_ERR_INVALID, "learn: a log, a registry and a spec are needed");
    if (o->keep < 1 || o->keep > 48)
        return pr_err_set(err, PR_ERR_INVALID, "keep must be in 1..48, not %u", o->keep);
    if (o->publish_every_ms < 0)
        return pr_err_set(err, PR_ERR_INVALID, "publish interval must be >= 0");
    if (!o->name[0] || strlen(o->name) > 64 || strspn(o->name, "abcdefghijklmnopqrstuvwxyz"
                                                        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
                                                     strlen(o->name) || o->name[0] == '.')
        return pr_err_set(err, PR_ERR_INVALID,
                          "learner name '%s': 1..64 of [A-Za-z0-9_.-], not starting with '.'",
                          o->name);
    learner *l = calloc(1, sizeof *l);
    if (!l) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    l->o = o;
    l->rep = rep;
    l->next_pub = INT64_MIN;
    l->clock_ms = INT64_MIN;
    l->lock_fd = -1;
    pr_learn_ckpt ck;
    memset(&ck, 0, sizeof ck);
    int resumed = 0;
    pr_fs_build_opts bo = {.data_dir = o->data_dir, .window_ms = o->window_ms,
                           .lateness_ms = o->lateness_ms, .max_bad = o->max_bad,
                           .on_event = on_event, .on_event_ctx = l,
                           .on_labeled = on_labeled, .on_labeled_ctx = l};
    pr_status s = pr_registry_open(o->registry_dir, PR_REGISTRY_CREATE, &l->reg, err);
    if (s == PR_OK) {
        int n = snprintf(l->dir, sizeof l->dir, "%s/learners/%s", o->registry_dir, o->name);
        snprintf(l->ckpt_path, sizeof l->ckpt_path, "%s/checkpoint.json", l->dir);
        if (n < 0 || (size_t)n >= sizeof l->dir)
            s = pr_err_set(err, PR_ERR_LIMIT, "%s: path too long", o->registry_dir);
    }
    if (s == PR_OK) s = mkdir_p(l->dir, err);
    if (s == PR_OK) {
        /* one learner per name: a second would interleave its versions and
         * checkpoints with the first's (the lock goes with the process) */
        char lock[PR_REGISTRY_PATH_MAX + 16];
        snprintf(lock, sizeof lock, "%s/LOCK", l->dir);
        l->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (l->lock_fd < 0)
            s = pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot open", lock);
        else if (flock(l->lock_fd, LOCK_EX | LOCK_NB) != 0)
            s = errno == EWOULDBLOCK
                    ? pr_err_set(err, PR_ERR_INVALID,
                                 "learner '%s' is already running on %s (%s is locked)",
                                 o->name, o->registry_dir, lock)
                    : pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot lock", lock);
    }
    if (s == PR_OK) s = read_ckpt(l, &ck, &resumed, err);
    if (s == PR_OK) s = pr_fs_builder_new(o->spec, &bo, &l->b, err);
    if (s == PR_OK) {
        l->fz = pr_fs_builder_featurizer(l->b);
        if (resumed && ck.spec_fingerprint != pr_featurizer_fingerprint(l->fz))
            s = pr_err_set(err, PR_ERR_INVALID,
                           "%s: written with another feature spec (fingerprint %016llx, "
                           "this spec's %016llx); use another learner name",
                           l->ckpt_path, (unsigned long long)ck.spec_fingerprint,
                           (unsigned long long)pr_featurizer_fingerprint(l->fz));
    }
    if (s == PR_OK) s = setup_model(l, &ck, resumed, err);
    if (s == PR_OK && !resumed) l->snap_id[0] = '\0';
    if (s == PR_OK && resumed) {
        const char *want = pr_model_kind_name(pr_model_params_get(l->model)->kind);
        if (strcmp(want, ck.kind))
            s = pr_err_set(err, PR_ERR_FORMAT, "%s: kind %s, its version %s is %s",
                           l->ckpt_path, ck.kind, ck.version, want);
        else if (ck.learn_from_ms != o->learn_from_ms)
            s = pr_err_set(err, PR_ERR_INVALID,
                           "%s: written with learn_from %s%lld, this run has %s%lld (the "
                           "examples learned would differ); use another learner name",
                           l->ckpt_path, ck.learn_from_ms == INT64_MIN ? "(none) " : "",
                           ck.learn_from_ms == INT64_MIN ? 0LL : (long long)ck.learn_from_ms,
                           o->learn_from_ms == INT64_MIN ? "(none) " : "",
                           o->learn_from_ms == INT64_MIN ? 0LL : (long long)o->learn_from_ms);
        rep->resumed = 1;
        l->skip_until = ck.examples;
        l->next_pub = ck.next_publish_ms;
        l->published = ck.published;
        l->ll_sum = ck.ll_sum;
        l->n = ck.n;
        l->positives = ck.positives;
        snprintf(l->last_version, sizeof l->last_version, "%s", ck.version);
        memcpy(l->own, ck.own, sizeof l->own);
        l->n_own = ck.n_own;
    }
    if (s == PR_OK && resumed && ck.flushed) {
        /* a finished --until-end run: nothing more unless the log grew */
        s = pr_log_open(o->uri, PR_LOG_READ, &l->log, err);
        pr_log_pos after;
        if (s == PR_OK && ck.pos[0]) s = pr_log_pos_parse(l->log, ck.pos, &after, err);
        if (s == PR_OK) {
            pr_log_start st = {.kind = ck.pos[0] ? PR_LOG_AFTER_POS : PR_LOG_FROM_START,
                               .after = after};
            s = pr_log_reader_open(l->log, &st, &l->rd, err);
        }
        int more = 0;
        pr_log_record rec;
        while (s == PR_OK && !more && (s = pr_log_next(l->rd, &rec, err)) == PR_OK)
            more = rec.type == PR_LOG_TYPE_EVENT;
        if (s == PR_EOF) s = PR_OK;
        if (s == PR_OK && more)
            s = pr_err_set(err, PR_ERR_INVALID,
                           "learner '%s' finished the log with an end-of-log flush at %s "
                           "(until_end) and the log has grown since: learn on with another "
                           "learner name and init registry:%s@%s",
                           o->name, ck.pos, o->registry_dir, ck.version);
        if (s == PR_OK && !o->until_end)
            s = pr_err_set(err, PR_ERR_INVALID,
                           "learner '%s' finished with until_end; follow with another "
                           "learner name and init registry:%s@%s",
                           o->name, o->registry_dir, ck.version);
        if (s == PR_OK) rep->finished = 1;
        log_close(l);
        goto out;
    }
    if (s == PR_OK) s = scores_open(l, resumed ? ck.scores_bytes : 0, err);
    if (s == PR_OK) s = find_orphan(l, err); /* also a first run killed before its checkpoint */
    if (s == PR_OK) s = follow_production(l, err);
    if (s == PR_OK) s = pr_learn_metrics_start(o->metrics_port, &l->metrics, err);
    if (s == PR_OK) s = run_log(l, err);
    if (s == PR_OK && o->until_end && !stopped(l)) {
        /* the end: every pending impression labeled, learned, published */
        l->finishing = 1;
        s = pr_fs_builder_flush(l->b, err);
        if (s == PR_OK && l->since_pub) s = publish(l, l->clock_ms, "end", err);
        else if (s == PR_OK && l->last_version[0]) s = write_ckpt(l, 1, err);
    }
out:
    if (l->b) {
        pr_fs_build_stats st;
        pr_fs_builder_stats_get(l->b, &st);
        rep->bad_events = st.bad_lines;
    }
    pr_learn_metrics_stop(l->metrics);
    rep->examples = l->emitted;
    rep->pv_logloss = l->n ? l->ll_sum / (double)l->n : NAN;
    rep->pv_ne = ne_of(l->ll_sum, l->n, l->positives);
    rep->seconds = pr_now() - t0;
    if (l->scores && fclose(l->scores) != 0 && s == PR_OK)
        s = pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot write", o->scores_path);
    log_close(l);
    pr_fs_builder_free(l->b);
    pr_model_free(l->model);
    pr_model_free(l->snap);
    pr_model_free(l->prod);
    pr_count_filter_free(l->counts);
    free(l->filter);
    free(l->xa);
    free(l->xs);
    pr_registry_close(l->reg);
    if (l->lock_fd >= 0) close(l->lock_fd);
    free(l);
    return s;
}
