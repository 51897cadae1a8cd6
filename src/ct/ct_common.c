/*
 * ct_common.c: the pieces retrain.c and probation.c share (ct_int.h):
 * the work folder DIR.retrain-PID beside the registry (temporary example
 * caches and the candidate model; removed at the end, and those of dead
 * processes by the next cycle), the point-in-time build, scoring a model
 * on an example cache, metrics as JSON.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ct/ct_int.h"
#include "pronto/feature.h"
#include "pronto/train.h"

static void remove_flat(const char *dir) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char p[CT_PATH_MAX];
            if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, e->d_name) < sizeof p) unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

void pr__ct_workdir_remove(const char *dir) {
    if (dir && dir[0]) remove_flat(dir);
}

pr_status pr__ct_workdir(const pr_registry *reg, char *dir, pr_err *err) {
    const char *rd = pr_registry_dir(reg);
    if ((size_t)snprintf(dir, CT_PATH_MAX, "%s.retrain-%ld", rd, (long)getpid()) >= CT_PATH_MAX - 64)
        return pr_err_set(err, PR_ERR_LIMIT, "registry %s: path too long for a work folder", rd);
    /* Folders of processes that are gone (killed): remove them. */
    char parent[CT_PATH_MAX], base[CT_PATH_MAX];
    const char *slash = strrchr(rd, '/');
    if (slash) {
        snprintf(parent, sizeof parent, "%.*s", (int)(slash - rd == 0 ? 1 : slash - rd), rd);
        snprintf(base, sizeof base, "%s.retrain-", slash + 1);
    } else {
        snprintf(parent, sizeof parent, ".");
        snprintf(base, sizeof base, "%s.retrain-", rd);
    }
    DIR *d = opendir(parent);
    if (d) {
        size_t bl = strlen(base);
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strncmp(e->d_name, base, bl)) continue;
            char *end;
            long pid = strtol(e->d_name + bl, &end, 10);
            if (*end || pid <= 0 || pid == (long)getpid()) continue;
            if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive (or not ours) */
            char p[CT_PATH_MAX];
            if ((size_t)snprintf(p, sizeof p, "%s/%s", parent, e->d_name) < sizeof p) remove_flat(p);
        }
        closedir(d);
    }
    remove_flat(dir); /* a reused pid's leftovers */
    if (mkdir(dir, 0755) != 0)
        return pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot create the work folder", dir);
    return PR_OK;
}

pr_status pr__ct_build(const pr_retrain_opts *o, const pr_spec *spec,
                       const pr_fs_build_output *outs, uint32_t n, pr_fs_build_stats *st,
                       pr_err *err) {
    pr_fs_build_opts b;
    memset(&b, 0, sizeof b);
    b.data_dir = o->data_dir;
    b.outputs = outs;
    b.n_outputs = n;
    b.window_ms = o->window_ms;
    b.lateness_ms = o->lateness_ms;
    b.events_uri = o->events_uri;
    b.until_ms = o->now_ms; /* nothing after now: labels as of now */
    memset(st, 0, sizeof *st);
    return pr_fs_build(spec, &b, st, err);
}

typedef struct score_ctx {
    const pr_model *model;
    pr_metrics *m;
    uint64_t nonfinite;
} score_ctx;

static pr_status score_one(void *vctx, pr_example *x, const pr_record *rec, pr_err *err) {
    (void)rec;
    score_ctx *c = vctx;
    double p = pr_model_predict(c->model, x);
    if (!isfinite(p)) {
        c->nonfinite++;
        return PR_OK;
    }
    pr_status s = pr_metrics_add(c->m, p, x->label, x->weight);
    if (s == PR_ERR_NOMEM) return pr_err_set(err, s, "out of memory (holdout metrics)");
    if (s != PR_OK) c->nonfinite++;
    return PR_OK;
}

pr_status pr__ct_score(const pr_model *model, const char *path, pr_metrics_report *rep,
                       uint64_t *nonfinite, pr_err *err) {
    memset(rep, 0, sizeof *rep);
    *nonfinite = 0;
    const char *y = pr_model_spec(model);
    if (!y) return pr_err_set(err, PR_ERR_FORMAT, "model has no embedded feature spec");
    pr_spec *spec = NULL;
    pr_featurizer *fz = NULL;
    score_ctx c = {model, NULL, 0};
    pr_status s = pr_spec_parse(y, strlen(y), "model spec", &spec, err);
    if (s == PR_OK) s = pr_featurizer_new(spec, &fz, err);
    if (s == PR_OK) s = pr_metrics_new(&c.m, err);
    if (s == PR_OK) s = pr_dataset_for_each(path, fz, pr_model_filter(model), score_one, &c, err);
    if (s == PR_OK) s = pr_metrics_compute(c.m, rep, err);
    *nonfinite = c.nonfinite;
    pr_metrics_free(c.m);
    pr_featurizer_free(fz);
    pr_spec_free(spec);
    return s;
}

pr_status pr__ct_fingerprint(const pr_model *model, uint64_t *fp, pr_err *err) {
    *fp = 0;
    const char *y = pr_model_spec(model);
    if (!y) return PR_OK;
    pr_spec *spec = NULL;
    pr_featurizer *fz = NULL;
    pr_status s = pr_spec_parse(y, strlen(y), "model spec", &spec, err);
    if (s == PR_OK) s = pr_featurizer_new(spec, &fz, err);
    if (s == PR_OK) *fp = pr_featurizer_fingerprint(fz);
    pr_featurizer_free(fz);
    pr_spec_free(spec);
    return s;
}

json_t *pr__ct_num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

json_t *pr__ct_metrics_json(const pr_metrics_report *r) {
    json_t *o = json_object();
    json_object_set_new(o, "rows", json_integer((json_int_t)r->rows));
    json_object_set_new(o, "positives", pr__ct_num(r->positives));
    json_object_set_new(o, "log_loss", pr__ct_num(r->log_loss));
    json_object_set_new(o, "ne", pr__ct_num(r->ne));
    json_object_set_new(o, "auc", pr__ct_num(r->auc));
    json_object_set_new(o, "calibration", pr__ct_num(r->calibration));
    json_object_set_new(o, "mean_p", pr__ct_num(r->mean_p));
    json_object_set_new(o, "base_rate", pr__ct_num(r->base_rate));
    return o;
}

const char *pr__ct_iso(int64_t ms, char *buf, size_t n) {
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm)) snprintf(buf, n, "?");
    return buf;
}
