/*
 * follow.c: `pronto serve --model registry:DIR[@alias]`: the server serves
 * what an alias of a model registry (registry.h) names, and follows it.
 *
 * At start and at every reload the alias is resolved to a version and its
 * model file (pr__follow_resolve), which the ordinary reload path loads,
 * verifies and swaps in (server.c, model_ref.c): requests in flight finish
 * on the old snapshot, so a move costs no failed request. A ticker
 * (ticker.c) stats the alias file every PR__FOLLOW_MS; the registry
 * replaces that file by rename at every move, so its inode changes (and
 * its mtime), and a change queues one poll on the reload thread (jobs.c)
 * -- never more than one at a time (follow_pending). The poll reloads when
 * the alias file still differs from the one the last reload resolved. A
 * version that is refused (it does not load, the store cannot satisfy its
 * spec) is not retried until the alias moves again; the old model keeps
 * serving meanwhile.
 *
 * Several aliases (--split a:90,b:10, --shadow c): each is an arm with its
 * own alias file, stamps and model holder, followed independently: the
 * one ticker stats every arm's file, and the poll reloads exactly the arms
 * whose file moved, each resolved, loaded, verified and swapped on its
 * own (a refused version leaves that arm on its old model; the others are
 * untouched).
 *
 * Ownership: the server owns the registry handle (closed in
 * pr_server_free) and the ticker (stopped before the job queues close).
 * The registry handle is used only under reload_mu (every resolve runs in
 * a reload), the stamps are atomics.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "serve/serve_int.h"

/* Arm a follows alias (its alias file path set). */
static pr_status arm_init(pr_server *s, pr__arm *a, const char *alias, uint32_t weight,
                          pr_err *err) {
    snprintf(a->alias, sizeof a->alias, "%.*s", (int)sizeof a->alias - 1, alias);
    a->weight = weight;
    a->seen_ino = a->seen_mtime_ns = -1;
    return pr_registry_alias_path(s->reg, a->alias, a->alias_path, err);
}

pr_status pr__follow_open(pr_server *s, pr_err *err) {
    char dir[PR_REGISTRY_PATH_MAX], alias[PR_REGISTRY_ID_MAX];
    s->n_arms = 1;
    int is = pr_registry_uri(s->model_path, dir, alias);
    if (is == 0) {
        if (s->o.split || s->o.shadow)
            return pr_err_set(err, PR_ERR_INVALID,
                              "a split or a shadow needs the models from a registry: model "
                              "registry:DIR, not %s",
                              s->model_path);
        return PR_OK;
    }
    if (is < 0 || !*dir)
        return pr_err_set(err, PR_ERR_INVALID,
                          "model %s: expected registry:DIR[@ALIAS] (DIR or ALIAS too long or empty)",
                          s->model_path);
    int has_alias = strlen(dir) < strlen(s->model_path + 9);
    pr_server_arm split[PR_SERVER_ARMS_MAX];
    uint32_t n = 0;
    pr_status st = PR_OK;
    if (s->o.split) {
        if (has_alias)
            return pr_err_set(err, PR_ERR_INVALID,
                              "model %s: with a split the split names the aliases; serve "
                              "registry:%s",
                              s->model_path, dir);
        char why[PR_ERR_MSG_MAX];
        if ((st = pr_server_split_parse(s->o.split, split, &n, err)) != PR_OK) {
            snprintf(why, sizeof why, "%s", err->msg);
            return pr_err_set(err, st, "split %s: %s", s->o.split, why);
        }
    }
    if ((st = pr_registry_open(dir, 0, &s->reg, err)) != PR_OK) return st;
    if (n) {
        s->n_arms = n;
        for (uint32_t i = 0; i < n && st == PR_OK; i++)
            st = arm_init(s, &s->arms[i], split[i].alias, split[i].weight, err);
        pr__split_bounds(s->arms, n);
    } else {
        st = arm_init(s, &s->arms[0], alias, 0, err);
    }
    if (st == PR_OK && s->o.shadow) {
        for (uint32_t i = 0; i < s->n_arms; i++)
            if (!strcmp(s->arms[i].alias, s->o.shadow))
                return pr_err_set(err, PR_ERR_INVALID,
                                  "the shadow alias '%s' is also an arm: it would be scored "
                                  "twice",
                                  s->o.shadow);
        s->shadow = &s->arms[s->n_arms];
        st = arm_init(s, s->shadow, s->o.shadow, 0, err);
    }
    return st;
}

static void stamp(const char *path, int64_t *ino, int64_t *mtime_ns) {
    struct stat st;
    if (stat(path, &st) != 0) {
        *ino = -1;
        *mtime_ns = -1;
        return;
    }
    *ino = (int64_t)st.st_ino;
    *mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
}

pr_status pr__follow_resolve(pr_server *s, pr__arm *a, char *path, char *version, pr_err *err) {
    if (!s->reg) {
        version[0] = '\0';
        if ((size_t)snprintf(path, PR_REGISTRY_PATH_MAX, "%s", s->model_path) >= PR_REGISTRY_PATH_MAX)
            return pr_err_set(err, PR_ERR_LIMIT, "model path too long");
        return PR_OK;
    }
    /* The stamp first: if the alias moves after it, the next poll sees a
     * newer one and resolves again. */
    int64_t ino, mtime;
    stamp(a->alias_path, &ino, &mtime);
    __atomic_store_n(&a->seen_ino, ino, __ATOMIC_RELAXED);
    __atomic_store_n(&a->seen_mtime_ns, mtime, __ATOMIC_RELAXED);
    pr_status st = pr_registry_resolve(s->reg, a->alias, version, path, err);
    if (st != PR_OK) {
        char why[PR_ERR_MSG_MAX];
        snprintf(why, sizeof why, "%s", err->msg);
        st = pr_err_set(err, st, "%s@%s: %s", s->model_path, a->alias, why);
    }
    return st;
}

int pr__follow_changed(pr_server *s, pr__arm *a) {
    if (!s->reg) return 0;
    int64_t ino, mtime;
    stamp(a->alias_path, &ino, &mtime);
    return ino != __atomic_load_n(&a->seen_ino, __ATOMIC_RELAXED) ||
           mtime != __atomic_load_n(&a->seen_mtime_ns, __ATOMIC_RELAXED);
}

/* On the ticker: one stat per arm (the shadow's included); a change
 * queues a poll unless one is queued. */
static void follow_tick(pr_server *s) {
    int changed = 0;
    for (uint32_t i = 0; i < s->n_arms + (s->shadow != NULL) && !changed; i++)
        changed = pr__follow_changed(s, &s->arms[i]);
    if (!changed) return;
    if (__atomic_exchange_n(&s->follow_pending, 1, __ATOMIC_ACQ_REL)) return;
    pr_err err;
    pr_err_clear(&err);
    if (pr__jobs_submit_reload(s, 1, &err) != PR_OK)
        __atomic_store_n(&s->follow_pending, 0, __ATOMIC_RELEASE); /* retried next tick */
}

pr_status pr__follow_start(pr_server *s, pr_err *err) {
    if (!s->reg) return PR_OK;
    return pr__ticker_start(&s->follow, PR__FOLLOW_MS, follow_tick, s, "registry follower", err);
}

void pr__follow_stop(pr_server *s) { pr__ticker_stop(&s->follow); }
