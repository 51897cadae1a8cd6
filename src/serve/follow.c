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
 * Ownership: the server owns the registry handle (closed in
 * pr_server_free) and the ticker (stopped before the job queues close).
 * The registry handle is used only under reload_mu (every resolve runs in
 * a reload), the stamps are atomics.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "serve/serve_int.h"

pr_status pr__follow_open(pr_server *s, pr_err *err) {
    char dir[PR_REGISTRY_PATH_MAX];
    int is = pr_registry_uri(s->model_path, dir, s->reg_alias);
    if (is == 0) return PR_OK;
    if (is < 0 || !*dir)
        return pr_err_set(err, PR_ERR_INVALID,
                          "--model %s: expected registry:DIR[@ALIAS] (DIR or ALIAS too long or empty)",
                          s->model_path);
    pr_status st = pr_registry_open(dir, 0, &s->reg, err);
    if (st == PR_OK)
        st = pr_registry_alias_path(s->reg, s->reg_alias, s->reg_alias_path, err);
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

pr_status pr__follow_resolve(pr_server *s, char *path, char *version, pr_err *err) {
    if (!s->reg) {
        version[0] = '\0';
        if ((size_t)snprintf(path, PR_REGISTRY_PATH_MAX, "%s", s->model_path) >= PR_REGISTRY_PATH_MAX)
            return pr_err_set(err, PR_ERR_LIMIT, "--model: path too long");
        return PR_OK;
    }
    /* The stamp first: if the alias moves after it, the next poll sees a
     * newer one and resolves again. */
    int64_t ino, mtime;
    stamp(s->reg_alias_path, &ino, &mtime);
    __atomic_store_n(&s->alias_seen_ino, ino, __ATOMIC_RELAXED);
    __atomic_store_n(&s->alias_seen_mtime_ns, mtime, __ATOMIC_RELAXED);
    pr_status st = pr_registry_resolve(s->reg, s->reg_alias, version, path, err);
    if (st != PR_OK) {
        char why[PR_ERR_MSG_MAX];
        snprintf(why, sizeof why, "%s", err->msg);
        st = pr_err_set(err, st, "%s: %s", s->model_path, why);
    }
    return st;
}

int pr__follow_changed(pr_server *s) {
    if (!s->reg) return 0;
    int64_t ino, mtime;
    stamp(s->reg_alias_path, &ino, &mtime);
    return ino != __atomic_load_n(&s->alias_seen_ino, __ATOMIC_RELAXED) ||
           mtime != __atomic_load_n(&s->alias_seen_mtime_ns, __ATOMIC_RELAXED);
}

/* On the ticker: one stat; a change queues a poll unless one is queued. */
static void follow_tick(pr_server *s) {
    if (!pr__follow_changed(s)) return;
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
