/*
 * model_team.c: the public team calls (model.h), dispatched to the kind's
 * optional team entries of pr__model_ops. The FFM team itself is in
 * model_ffm_team.c.
 *
 * Ownership: a pr_model_team owns the kind's team state (released through
 * ops->team_free) and borrows the model.
 */
#include <stdlib.h>

#include "model/model_int.h"

struct pr_model_team {
    const pr__model_ops *ops;
    void *impl;          /* the kind's team state, owned */
};

#define PR__TEAM_MAX 1024

int pr_model_supports_team(const pr_model *m) {
    return m && m->ops->team_new != NULL;
}

pr_status pr_model_team_new(pr_model *m, int nth, pr_model_team **out,
                            pr_err *err) {
    *out = NULL;
    if (!pr_model_supports_team(m))
        return pr_err_set(err, PR_ERR_UNSUPPORTED,
                          "model kind %s has no team update (train it Hogwild)",
                          pr_model_kind_name(m ? m->params.kind : 0));
    if (nth < 1 || nth > PR__TEAM_MAX)
        return pr_err_set(err, PR_ERR_INVALID,
                          "team size: must be in [1, %d], got %d", PR__TEAM_MAX, nth);
    pr_model_team *t = calloc(1, sizeof *t);
    if (!t) return pr_err_set(err, PR_ERR_NOMEM, "model team: out of memory");
    t->ops = m->ops;
    pr_status s = m->ops->team_new(m->impl, nth, &t->impl, err);
    if (s != PR_OK) {
        free(t);
        return s;
    }
    *out = t;
    return PR_OK;
}

double pr_model_update_team(pr_model_team *t, int ith, const pr_example *x) {
    return t->ops->team_update(t->impl, ith, x);
}

void pr_model_team_prefetch(pr_model_team *t, int ith, const pr_example *x) {
    t->ops->team_prefetch(t->impl, ith, x);
}

void pr_model_team_sync(pr_model_team *t, int ith) {
    t->ops->team_sync(t->impl, ith);
}

void pr_model_team_free(pr_model_team *t) {
    if (!t) return;
    t->ops->team_free(t->impl);
    free(t);
}
