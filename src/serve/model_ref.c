/*
 * model_ref.c: loaded model snapshots and the holder that swaps them.
 *
 * A pr__model_ref is built completely (file read once: its xxh3 is the
 * version, the same bytes are loaded and checksum-verified; the embedded
 * spec parsed; the featurizer bound to the columns the server assembles,
 * each of which must mean in the model's spec what it means in the
 * store's: pr_fs_check_model_spec)
 * before anyone can see it, and never changes afterwards, so readers need
 * no lock to use it: only to take a reference.
 *
 * The holder is RCU-like: acquire takes the mutex for two instructions
 * (read the pointer, bump its count); a swap replaces the pointer under the
 * same mutex and drops the holder's own reference to the old snapshot
 * outside it. Whoever drops the last reference frees the snapshot, so a
 * request that started on the old model finishes on it, and the old model
 * is freed by that request's thread, never under a lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "serve/serve_int.h"

void pr__file_stamp(const char *path, int64_t *mtime_ns, int64_t *size) {
    struct stat st;
    if (stat(path, &st) != 0) {
        *mtime_ns = -1;
        *size = -1;
        return;
    }
    *mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    *size = (int64_t)st.st_size;
}

static void ref_free(pr__model_ref *r) {
    if (!r) return;
    pr__profile_ref_release(r->profile);
    pr_featurizer_free(r->fz);
    pr_spec_free(r->spec);
    pr_model_free(r->model);
    free(r);
}

pr_status pr__model_ref_load(const char *path, const char *const *names, uint32_t n,
                             const pr_fs *store_plan, uint64_t generation, uint64_t max_bytes,
                             pr__model_ref **out,
                             pr_err *err) {
    *out = NULL;
    double t0 = pr_now();
    char *buf = NULL;
    size_t len = 0;
    pr__model_ref *r = calloc(1, sizeof *r);
    if (!r) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    /* Only a regular file of at most max_bytes, checked on the opened
     * descriptor (base.h): a symlink to /dev/zero, a FIFO or a directory
     * is refused at once. Its stamp is the opened file's, taken before
     * reading: if the file changes while we read it, the next poll sees a
     * newer stamp and loads again. */
    pr_status s = pr_read_regular_file(path, max_bytes, &buf, &len, &r->file_mtime_ns, err);
    if (s == PR_ERR_LIMIT) {
        char why[PR_ERR_MSG_MAX];
        snprintf(why, sizeof why, "%s", err->msg);
        s = pr_err_set(err, s, "%s (max_model_bytes)", why);
    }
    if (s != PR_OK) goto fail;
    r->file_size = (int64_t)len;
    snprintf(r->version, sizeof r->version, "%016llx",
             (unsigned long long)pr_hash64(buf, len, 0));
    s = pr_model_load_mem(buf, len, path, &r->model, err);
    free(buf);
    buf = NULL;
    if (s != PR_OK) goto fail;
    /* the embedded spec's featurizer, bound to the assembled columns and
     * checked against the store's spec: what pr_ranker_open does too */
    s = pr__rank_bind_model(r->model, path, names, n, store_plan, &r->spec, &r->fz, err);
    if (s != PR_OK) goto fail;
    /* The reference profile for drift (monitor.c): a file without one
     * (written before profiles existed) or with a bad one still serves,
     * with drift off and the reason shown. */
    pr_err perr;
    pr_err_clear(&perr);
    pr_profile *prof = NULL;
    if (pr_profile_of_model(r->model, &prof, &perr) != PR_OK) {
        snprintf(r->profile_why, sizeof r->profile_why, "the model's profile is unreadable: %.80s",
                 perr.msg);
    } else if (!prof) {
        snprintf(r->profile_why, sizeof r->profile_why,
                 "the model file has no reference profile (written before profiles existed)");
    } else if (!(r->profile = calloc(1, sizeof *r->profile))) {
        pr_profile_free(prof);
        snprintf(r->profile_why, sizeof r->profile_why, "out of memory for the profile");
    } else {
        r->profile->refs = 1;
        r->profile->p = prof;
    }
    r->refs = 1;
    r->fingerprint = pr_featurizer_fingerprint(r->fz);
    r->kind = pr_model_kind_name(pr_model_params_get(r->model)->kind);
    r->loaded_at = pr_unix_time();
    r->generation = generation;
    r->load_seconds = pr_now() - t0;
    *out = r;
    return PR_OK;
fail:
    free(buf);
    ref_free(r);
    return s;
}

void pr__profile_ref_release(pr__profile_ref *r) {
    if (r && __atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        pr_profile_free(r->p);
        free(r);
    }
}

void pr__model_ref_release(pr__model_ref *r) {
    if (r && __atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) == 0) ref_free(r);
}

pr__model_ref *pr__holder_acquire(pr__holder *h) {
    pthread_mutex_lock(&h->mu);
    pr__model_ref *r = h->cur;
    if (r) __atomic_add_fetch(&r->refs, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&h->mu);
    return r;
}

void pr__holder_swap(pr__holder *h, pr__model_ref *r) {
    pthread_mutex_lock(&h->mu);
    pr__model_ref *old = h->cur;
    h->cur = r;
    pthread_mutex_unlock(&h->mu);
    pr__model_ref_release(old);
}
