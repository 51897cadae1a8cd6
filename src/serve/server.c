/*
 * server.c: pr_server's life (serve.h): options, start, reload, polling,
 * drain and shutdown, and the small handlers that describe the server
 * (GET /v1/model, GET /readyz, POST /admin/reload).
 *
 * Start order: the registry and the arms (--split, --shadow) -> store ->
 * store spec (--spec, or the first arm's model's own) -> the assembled
 * columns and the request plan -> every arm's model, bound to those
 * columns -> materialize --data -> the ingester -> the event log (--log:
 * opened, duplicate ids seeded from its end, logger thread) -> the shadow
 * thread -> the store sentinel
 * checker (sentinel.c) -> HTTP. Everything a
 * request touches exists before the first connection is accepted.
 *
 * Ownership: the server owns copies of every option string, the store,
 * the store spec, each arm's current model snapshot (through its holder), the
 * ingester and the worker states (freed after the HTTP threads stopped).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "serve/serve_int.h"

void pr_server_opts_default(pr_server_opts *o) {
    memset(o, 0, sizeof *o);
    o->listen = "127.0.0.1:8080";
    o->candidate_key = "ad_id";
    o->threads = 2;
    o->max_candidates = 1000;
    o->max_body = 1u << 20;
    o->max_connections = 512;
    o->header_timeout = 10;
    o->body_timeout = 30;
    o->idle_timeout = 30;
    o->max_body_memory = 64u << 20;
    o->event_ids = 1u << 18;
    o->max_queued_jobs = 16;
    o->max_queued_bytes = (size_t)64 << 20;
    o->max_model_bytes = pr_server_default_max_model_bytes();
    o->max_event_skew_ms = 3600 * 1000;
    o->max_event_age_ms = 0;
    o->log_uri = NULL;
    o->log_features = 0;
    o->log_queue = 65536;
    o->quality = 0; /* the library's default; pronto serve turns it on */
    o->quality_window_ms = 2 * 3600 * 1000LL;
    o->quality_lateness_ms = 10 * 60 * 1000LL;
    o->quality_queue = 65536;
    o->quality_pending = 1u << 20;
    o->quality_rate = 5000;
    o->monitor = 1;
    o->monitor_rows = 30000;
}

uint64_t pr_server_default_max_model_bytes(void) {
    /* A reload holds the new file's bytes and the model parsed from them
     * beside the model still serving: a file over half the memory cannot
     * be loaded without pushing the serving one out, so it is refused
     * before reading. Generous otherwise (24 GiB of RAM: 12 GiB files). */
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0) return (uint64_t)8 << 30;
    uint64_t half = (uint64_t)pages * (uint64_t)page / 2;
    return half < ((uint64_t)64 << 20) ? (uint64_t)64 << 20 : half;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static pr_status check_opts(const pr_server_opts *o, pr_err *err) {
    if (!o->model_path) return pr_err_set(err, PR_ERR_INVALID, "no model file given (model_path)");
    if (!o->store_uri) return pr_err_set(err, PR_ERR_INVALID, "no store given (store_uri)");
    if (o->threads < 1 || o->threads > 256)
        return pr_err_set(err, PR_ERR_INVALID, "threads must be 1..256, got %u", o->threads);
    if (o->max_candidates < 1 || o->max_candidates > PR_STORE_BATCH_MAX)
        return pr_err_set(err, PR_ERR_INVALID, "max_candidates must be 1..%u, got %u",
                          PR_STORE_BATCH_MAX, o->max_candidates);
    if (o->max_body < 64 || o->max_body > (1u << 30))
        return pr_err_set(err, PR_ERR_INVALID, "max_body must be 64..2^30 bytes, got %zu",
                          o->max_body);
    if (o->max_connections < 1)
        return pr_err_set(err, PR_ERR_INVALID, "max_connections must be >= 1");
    if (o->max_queued_jobs < 1 || o->max_queued_jobs > 65536)
        return pr_err_set(err, PR_ERR_INVALID, "max_queued_jobs must be 1..65536, got %u",
                          o->max_queued_jobs);
    if (o->max_queued_bytes < o->max_body)
        return pr_err_set(err, PR_ERR_INVALID,
                          "max_queued_bytes (%zu) must be at least max_body (%zu)",
                          o->max_queued_bytes, o->max_body);
    if (o->max_model_bytes < 1)
        return pr_err_set(err, PR_ERR_INVALID, "max_model_bytes must be >= 1");
    if (!(o->header_timeout > 0 && o->header_timeout <= 3600) ||
        !(o->body_timeout > 0 && o->body_timeout <= 3600) ||
        !(o->idle_timeout >= 1 && o->idle_timeout <= 3600))
        return pr_err_set(err, PR_ERR_INVALID,
                          "header_timeout and body_timeout must be in (0, 3600] seconds, "
                          "idle_timeout in [1, 3600]");
    if (o->admin_token && strlen(o->admin_token) > PR__TOKEN_MAX)
        return pr_err_set(err, PR_ERR_INVALID, "the admin token is longer than %d bytes",
                          PR__TOKEN_MAX);
    if (o->max_body_memory < o->max_body)
        return pr_err_set(err, PR_ERR_INVALID,
                          "max_body_memory (%zu) must be at least max_body (%zu)",
                          o->max_body_memory, o->max_body);
    if (o->max_event_skew_ms < 0 || o->max_event_age_ms < 0)
        return pr_err_set(err, PR_ERR_INVALID, "the event skew and age limits must be >= 0");
    if (!(o->log_features >= 0 && o->log_features <= 1))
        return pr_err_set(err, PR_ERR_INVALID, "log_features must be in [0, 1], got %g",
                          o->log_features);
    if (o->log_features > 0 && !o->log_uri)
        return pr_err_set(err, PR_ERR_INVALID, "log_features needs an event log (log_uri)");
    if (o->split) {
        pr_server_arm arms[PR_SERVER_ARMS_MAX];
        uint32_t n;
        pr_status st = pr_server_split_parse(o->split, arms, &n, err);
        if (st != PR_OK) {
            char why[PR_ERR_MSG_MAX];
            snprintf(why, sizeof why, "%s", err->msg);
            return pr_err_set(err, st, "split '%s': %s", o->split, why);
        }
    }
    return PR_OK;
}

/* Every arm's model (the shadow's too), bound to the store's columns;
 * first (may be NULL): arm 0's, already loaded from version. */
static pr_status load_arms(pr_server *s, pr__model_ref *first, const char *first_version,
                           pr_err *err) {
    for (uint32_t i = 0; i < s->n_arms + (s->shadow != NULL); i++) {
        pr__arm *a = &s->arms[i];
        pr__model_ref *r = i == 0 ? first : NULL;
        char path[PR_REGISTRY_PATH_MAX], version[PR_REGISTRY_ID_MAX];
        pr_status st = PR_OK;
        if (r)
            snprintf(version, sizeof version, "%s", first_version);
        else if ((st = pr__follow_resolve(s, a, path, version, err)) == PR_OK)
            st = pr__model_ref_load(path, s->col_names, s->n_cols, s->plan_fs, s->generation + 1,
                                    s->o.max_model_bytes, &r, err);
        if (st != PR_OK) {
            if (a->alias[0] && (s->n_arms > 1 || s->shadow)) {
                char why[PR_ERR_MSG_MAX];
                snprintf(why, sizeof why, "%s", err->msg);
                st = pr_err_set(err, st, "%s %s: %s", a == s->shadow ? "the shadow" : "arm",
                                a->alias, why);
            }
            return st;
        }
        r->generation = ++s->generation;
        snprintf(r->reg_version, sizeof r->reg_version, "%s", version);
        pr__holder_swap(&a->holder, r);
    }
    return PR_OK;
}

/* Store spec, assembled columns, request plan; loads the arms' models. */
static pr_status prepare_model(pr_server *s, pr_err *err) {
    pr__model_ref *first = NULL;
    char path[PR_REGISTRY_PATH_MAX], version[PR_REGISTRY_ID_MAX];
    pr_status st = pr__follow_resolve(s, &s->arms[0], path, version, err);
    if (st != PR_OK) return st;
    if (s->spec_path) {
        st = pr_spec_load(s->spec_path, &s->store_spec, err);
    } else {
        st = pr__model_ref_load(path, NULL, 0, NULL, 1, s->o.max_model_bytes, &first, err);
        if (st != PR_OK) return st;
        const char *y = pr_model_spec(first->model);
        st = pr_spec_parse(y, strlen(y), path, &s->store_spec, err);
    }
    if (st == PR_OK) st = pr_fs_open(s->store_spec, NULL, &s->plan_fs, err);
    if (st != PR_OK) goto fail;
    s->n_cols = pr_fs_n_columns(s->plan_fs);
    s->col_names = calloc(s->n_cols ? s->n_cols : 1, sizeof *s->col_names);
    if (!s->col_names) {
        st = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (uint32_t c = 0; c < s->n_cols; c++) s->col_names[c] = pr_fs_column_name(s->plan_fs, c);
    st = pr__request_plan_init(&s->req, s->col_names, pr_fs_n_request_columns(s->plan_fs),
                               s->candidate_key, err);
    if (st != PR_OK) goto fail;
    s->split_col = UINT32_MAX;
    for (uint32_t c = 0; c < s->req.n_req; c++)
        if (!strcmp(s->req.names[c], s->split_key)) s->split_col = c;
    if (s->o.split && s->split_col == UINT32_MAX) {
        st = pr_err_set(err, PR_ERR_SPEC,
                        "the split key '%s' is not a request column of the store's spec",
                        s->split_key);
        goto fail;
    }
    /* A model loaded for its spec is bound to its own columns, the store's
     * when it is the store spec: kept as arm 0's. */
    return load_arms(s, first, version, err);
fail:
    pr__model_ref_release(first);
    return st;
}

static pr_status open_ingest(pr_server *s, pr_err *err) {
    pr__ingest *in = &s->ingest;
    pr_store *store = s->store;
    pr_arena_init(&in->arena, NULL, 0, 0);
    pr_arena_init(&in->apply_arena, NULL, 0, 0);
    pr_status st = pr__idset_init(&in->ids, s->o.event_ids ? s->o.event_ids : 1, err);
    if (st == PR_OK && s->is_redis) {
        st = pr_store_open(s->store_uri, &in->own_store, err);
        store = in->own_store;
    }
    if (st == PR_OK) st = pr_fs_open(s->store_spec, store, &in->fs, err);
    /* Into the past, by default as far as the longest window: an older
     * event could not change any windowed aggregate as of now (its ring
     * drops it), and is a replay for `pronto materialize`, not a live
     * event. 7 d when nothing is windowed (decays, last-N lists). */
    in->max_ahead_ms = s->o.max_event_skew_ms;
    in->max_behind_ms = s->o.max_event_age_ms;
    if (st == PR_OK && !in->max_behind_ms) {
        in->max_behind_ms = pr_fs_max_window_ms(in->fs);
        if (!in->max_behind_ms) in->max_behind_ms = 7 * 86400 * 1000LL;
    }
    return st;
}

pr_status pr_server_start(const pr_server_opts *o, pr_server **out, pr_err *err) {
    *out = NULL;
    pr_status st = check_opts(o, err);
    if (st != PR_OK) return st;
    pr_server *s = calloc(1, sizeof *s);
    if (!s) return pr_err_set(err, PR_ERR_NOMEM, "out of memory");
    s->o = *o;
    s->model_path = strdup(o->model_path);
    s->store_uri = strdup(o->store_uri);
    s->spec_path = dup_or_null(o->spec_path);
    s->data_dir = dup_or_null(o->data_dir);
    s->listen = strdup(o->listen ? o->listen : "127.0.0.1:8080");
    s->admin_token = dup_or_null(o->admin_token && o->admin_token[0] ? o->admin_token : NULL);
    s->candidate_key = strdup(o->candidate_key ? o->candidate_key : "ad_id");
    s->split_key = strdup(o->split_key && o->split_key[0] ? o->split_key : "user_id");
    s->started_at = pr_unix_time();
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    /* Readers first: a predict never waits for a writer that is only
     * waiting (the events thread runs at a lower priority and may wait
     * for a CPU), only for one event being applied. The writer cannot
     * starve for long: readers are the HTTP threads, each holding the lock
     * for one assembly, and they leave gaps between requests; if they do
     * not, the event queue fills and events are answered 503. */
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_READER_NP);
    pthread_rwlock_init(&s->state_lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    pthread_mutex_init(&s->admin_mu, NULL);
    pthread_mutex_init(&s->reload_mu, NULL);
    for (uint32_t i = 0; i <= PR_SERVER_ARMS_MAX; i++) pthread_mutex_init(&s->arms[i].holder.mu, NULL);
    pthread_mutex_init(&s->workers_mu, NULL);
    pthread_mutex_init(&s->ingest.mu, NULL);
    if (!s->model_path || !s->store_uri || !s->listen || !s->candidate_key || !s->split_key) {
        st = pr_err_set(err, PR_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if ((st = pr__follow_open(s, err)) != PR_OK) goto fail;
    if ((st = pr_store_open(s->store_uri, &s->store, err)) != PR_OK) goto fail;
    s->is_redis = !strcmp(pr_store_backend(s->store), "redis");
    s->is_mem = !strcmp(pr_store_backend(s->store), "mem");
    if ((st = prepare_model(s, err)) != PR_OK) goto fail;
    if (s->data_dir) {
        pr_fs_build_opts bo;
        pr_fs_build_stats bs;
        memset(&bo, 0, sizeof bo);
        bo.data_dir = s->data_dir;
        bo.store = s->store;
        if ((st = pr_fs_build(s->store_spec, &bo, &bs, err)) != PR_OK) goto fail;
        if (!s->o.quiet)
            pr_log(PR_LOG_INFO, "serve: materialized %llu table rows and %llu events from %s in %.1f s",
                   (unsigned long long)bs.table_rows, (unsigned long long)bs.events, s->data_dir,
                   bs.seconds);
    }
    if ((st = open_ingest(s, err)) != PR_OK) goto fail;
    if ((st = pr__elog_start(s, err)) != PR_OK) goto fail;
    if ((st = pr__shadow_start(s, err)) != PR_OK) goto fail;
    if ((st = pr__quality_start(s, err)) != PR_OK) goto fail;
    if ((st = pr__monitor_start(s, err)) != PR_OK) goto fail;
    if ((st = pr__jobs_start(s, err)) != PR_OK) goto fail;
    if ((st = pr__sentinel_start(s, err)) != PR_OK) goto fail;
    if ((st = pr__follow_start(s, err)) != PR_OK) goto fail;
    if ((st = pr__http_start(s, err)) != PR_OK) goto fail;
    if (!s->o.quiet) pr_log(PR_LOG_INFO, "serve: listening on %s (port %u)", s->listen, s->port);
    *out = s;
    return PR_OK;
fail:
    pr_server_free(s);
    return st;
}

uint16_t pr_server_port(const pr_server *s) { return s->port; }

/* "arm ALIAS: " or "the shadow ALIAS: " before a message when the server
 * has several models, else "". */
static void arm_prefix(const pr_server *s, const pr__arm *a, char *buf, size_t cap) {
    if (!a->alias[0] || (s->n_arms == 1 && !s->shadow)) buf[0] = '\0';
    else snprintf(buf, cap, "%s %s: ", a == s->shadow ? "the shadow" : "arm", a->alias);
}

/* Reloads arm a; same_version: OUT (may be NULL): when given, a registry
 * alias that still names the version being served is not reloaded
 * (versions never change) and *same_version is set to 1. */
static pr_status reload_arm(pr_server *s, pr__arm *a, int *same_version, pr_err *err) {
    pthread_mutex_lock(&s->reload_mu);
    pr__model_ref *r = NULL;
    int64_t mtime, size;
    char path[PR_REGISTRY_PATH_MAX], version[PR_REGISTRY_ID_MAX], pre[PR_REGISTRY_ID_MAX + 16];
    arm_prefix(s, a, pre, sizeof pre);
    pr_status st = pr__follow_resolve(s, a, path, version, err);
    if (st == PR_OK && same_version && version[0]) {
        pr__model_ref *cur = pr__holder_acquire(&a->holder);
        *same_version = !strcmp(cur->reg_version, version);
        pr__model_ref_release(cur);
        if (*same_version) {
            pthread_mutex_unlock(&s->reload_mu);
            return PR_OK;
        }
    }
    pr__file_stamp(path, &mtime, &size);
    if (st == PR_OK)
        st = pr__model_ref_load(path, s->col_names, s->n_cols, s->plan_fs, s->generation + 1,
                                s->o.max_model_bytes, &r, err);
    if (st == PR_OK) {
        snprintf(r->reg_version, sizeof r->reg_version, "%s", version);
        s->generation++;
        /* Keep a reference to the old model across the swap and drop it
         * when the requests still on it are done (bounded wait): freeing a
         * large model takes time, spent here on the reload thread rather
         * than by the last predict that used it. */
        pr__model_ref *old = pr__holder_acquire(&a->holder);
        pr__holder_swap(&a->holder, r);
        /* Counted as it takes effect: a scrape that sees the new model
         * answering sees its reload counted, however long the old one's
         * last requests and its freeing take below. */
        pr__metrics_add(&s->metrics.reloads_ok, 1);
        for (int i = 0; old && i < 2000 && __atomic_load_n(&old->refs, __ATOMIC_ACQUIRE) > 1; i++) {
            struct timespec ts = {0, 500000};
            nanosleep(&ts, NULL);
        }
        pr__model_ref_release(old);
        if (!s->o.quiet)
            pr_log(PR_LOG_INFO, "serve: %sreloaded %s%s%s%s%s, version %s", pre, s->model_path,
                   a->alias[0] ? "@" : "", a->alias, version[0] ? " -> " : "", version, r->version);
    } else {
        pr__metrics_add(&s->metrics.reloads_refused, 1);
        if (a == &s->arms[0]) {
            __atomic_store_n(&s->refused_mtime_ns, mtime, __ATOMIC_RELAXED);
            __atomic_store_n(&s->refused_size, size, __ATOMIC_RELAXED);
        }
        if (pre[0]) {
            char why[PR_ERR_MSG_MAX];
            snprintf(why, sizeof why, "%s", err->msg);
            pr_err_set(err, st, "%s%s", pre, why);
        }
        if (!s->o.quiet)
            pr_log(PR_LOG_WARN, "serve: refused the new model, the old one keeps serving: %s",
                   err->msg);
    }
    pthread_mutex_unlock(&s->reload_mu);
    return st;
}

/* Every arm (the shadow too): the first failure in err; the other arms
 * are reloaded all the same. */
pr_status pr_server_reload(pr_server *s, pr_err *err) {
    pr_status first = PR_OK;
    for (uint32_t i = 0; i < s->n_arms + (s->shadow != NULL); i++) {
        pr_err e;
        pr_err_clear(&e);
        pr_status st = reload_arm(s, &s->arms[i], NULL, &e);
        if (st != PR_OK && first == PR_OK) {
            first = st;
            *err = e;
        }
    }
    return first;
}

int pr_server_poll_model(pr_server *s, pr_err *err) {
    if (s->reg) { /* the alias files, not the model files, say what changed */
        __atomic_store_n(&s->follow_pending, 0, __ATOMIC_RELEASE);
        int attempted = 0, failed = 0;
        for (uint32_t i = 0; i < s->n_arms + (s->shadow != NULL); i++) {
            pr__arm *a = &s->arms[i];
            if (!pr__follow_changed(s, a)) continue;
            int same = 0;
            pr_err e;
            pr_err_clear(&e);
            pr_status st = reload_arm(s, a, &same, &e);
            attempted |= !same;
            if (st != PR_OK && !failed) {
                failed = 1;
                *err = e;
            }
        }
        return attempted;
    }
    int64_t mtime, size;
    pr__file_stamp(s->model_path, &mtime, &size);
    if (mtime < 0) return 0;
    pr__model_ref *r = pr__holder_acquire(pr__main_holder(s));
    int changed = r->file_mtime_ns != mtime || r->file_size != size;
    pr__model_ref_release(r);
    /* A refused file (by any reload) is not retried until it changes. */
    if (!changed || (__atomic_load_n(&s->refused_mtime_ns, __ATOMIC_RELAXED) == mtime &&
                     __atomic_load_n(&s->refused_size, __ATOMIC_RELAXED) == size))
        return 0;
    pr_server_reload(s, err);
    return 1;
}

pr_status pr_server_reload_async(pr_server *s, int only_if_changed, pr_err *err) {
    return pr__jobs_submit_reload(s, only_if_changed, err);
}

/* Waits until no request is in flight or until deadline; returns those left. */
static int64_t wait_in_flight(pr_server *s, double deadline) {
    int64_t left;
    while ((left = __atomic_load_n(&s->metrics.in_flight, __ATOMIC_RELAXED)) > 0 &&
           pr_now() < deadline) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return left;
}

uint32_t pr_server_shutdown(pr_server *s, double drain_s) {
    if (s->stopped) return 0;
    s->stopped = 1;
    pr__follow_stop(s); /* no new reloads queued from here on */
    pr__http_quiesce(s);
    double deadline = pr_now() + drain_s;
    /* Requests in flight include those whose events or reload wait in a
     * job queue: the drain lets the queues run too. */
    int64_t left = wait_in_flight(s, deadline);
    /* What is still queued or running is answered 503 and its connection
     * resumed (a daemon must not stop with suspended connections); the
     * answers get a moment to go out. */
    if (pr__jobs_abort(s)) wait_in_flight(s, pr_now() + 0.1);
    pr__http_stop(s);
    pr__workers_flush_shadow(s); /* answers whose completion was not seen */
    pr__jobs_join(s, deadline);
    pr__monitor_stop(s); /* before quality (it reads its windows) and the workers */
    pr__shadow_stop(s); /* scores what is queued, hands the records to the logger */
    if (!s->jobs_stuck) pr__elog_stop(s); /* the logger appends what is queued */
    if (!s->jobs_stuck) pr__quality_stop(s);
    pr__workers_free(s);
    if (!s->o.quiet) pr_log(PR_LOG_INFO, "serve: stopped (%lld requests cut short)", (long long)left);
    return left > 0 ? (uint32_t)left : 0;
}

void pr_server_free(pr_server *s) {
    if (!s) return;
    if (s->mhd) pr_server_shutdown(s, 0);
    pr__follow_stop(s); /* before the queues it submits to go away */
    /* The log's ticker queues jobs: stopped before the queues go. */
    pr__ticker_stop(&s->elog.tick);
    if (!pr__jobs_free(s)) {
        /* A job thread is stuck (in I/O) and may still touch the server:
         * its memory stays for the process exit to reclaim. */
        if (!s->o.quiet) pr_log(PR_LOG_WARN, "serve: not freeing the server: a job thread is busy");
        return;
    }
    pr__shadow_stop(s); /* gives the workers' lent arenas back */
    pr__monitor_stop(s); /* before the workers: it reads their parts */
    pr__workers_free(s);
    pr__guard_free(s);
    pr__sentinel_stop(s);
    pr_registry_close(s->reg);
    pr__elog_stop(s);
    pr__quality_stop(s);
    pr_fs_free(s->ingest.fs);
    pr_store_close(s->ingest.own_store);
    pr_arena_free(&s->ingest.arena);
    pr_arena_free(&s->ingest.apply_arena);
    pr__idset_free(&s->ingest.ids);
    for (uint32_t i = 0; i <= PR_SERVER_ARMS_MAX; i++) pr__holder_swap(&s->arms[i].holder, NULL);
    pr__request_plan_free(&s->req);
    free(s->col_names);
    pr_fs_free(s->plan_fs);
    pr_spec_free(s->store_spec);
    pr_store_close(s->store);
    pthread_rwlock_destroy(&s->state_lock);
    pthread_mutex_destroy(&s->admin_mu);
    pthread_mutex_destroy(&s->reload_mu);
    for (uint32_t i = 0; i <= PR_SERVER_ARMS_MAX; i++) pthread_mutex_destroy(&s->arms[i].holder.mu);
    pthread_mutex_destroy(&s->workers_mu);
    pthread_mutex_destroy(&s->ingest.mu);
    free(s->model_path);
    free(s->store_uri);
    free(s->spec_path);
    free(s->data_dir);
    free(s->listen);
    free(s->admin_token);
    free(s->candidate_key);
    free(s->split_key);
    free(s);
}

/* ---------------------------------------------------------------- handlers */

/* {"arm":…,"weight":…,"registry_version":…,"version":…,…} of arm a. */
static void put_arm(pr__tb *out, const pr__arm *a, const pr__model_ref *r) {
    pr__tb_puts(out, "{\"arm\":");
    pr__tb_json_str(out, a->alias, strlen(a->alias));
    if (a->weight) pr__tb_printf(out, ",\"weight\":%u", a->weight);
    pr__tb_puts(out, ",\"registry_version\":");
    pr__tb_json_str(out, r->reg_version, strlen(r->reg_version));
    pr__tb_printf(out,
                  ",\"version\":\"%s\",\"kind\":\"%s\",\"fingerprint\":\"%016llx\","
                  "\"loaded_at\":%lld,\"generation\":%llu}",
                  r->version, r->kind, (unsigned long long)r->fingerprint, (long long)r->loaded_at,
                  (unsigned long long)r->generation);
}

/* Every arm ("arms":[…], with the split's weights) and the shadow. */
static void put_arms(pr_server *s, pr__tb *out) {
    pr__tb_puts(out, ",\"arms\":[");
    for (uint32_t i = 0; i < s->n_arms; i++) {
        pr__model_ref *r = pr__holder_acquire(&s->arms[i].holder);
        if (i) pr__tb_put(out, ",", 1);
        put_arm(out, &s->arms[i], r);
        pr__model_ref_release(r);
    }
    pr__tb_puts(out, "]");
    if (s->shadow) {
        pr__model_ref *r = pr__holder_acquire(&s->shadow->holder);
        pr__tb_puts(out, ",\"shadow\":");
        put_arm(out, s->shadow, r);
        pr__model_ref_release(r);
    }
}

/* Without the admin token the reply leaves out where the model lives and
 * what it was trained on (path, info). The top level describes the first
 * arm; with a registry, "arms" lists each with its weight and version. */
const char *pr__handle_model(pr_server *s, int admin, unsigned *status, pr__tb *out) {
    pr__model_ref *r = pr__holder_acquire(pr__main_holder(s));
    const pr_model_params *p = pr_model_params_get(r->model);
    pr__tb_printf(out, "{\"kind\":\"%s\",\"version\":\"%s\",\"fingerprint\":\"%016llx\"", r->kind,
                  r->version, (unsigned long long)r->fingerprint);
    if (admin) {
        pr__tb_puts(out, ",\"path\":");
        pr__tb_json_str(out, s->model_path, strlen(s->model_path));
    }
    if (s->reg) { /* which registry version, through which alias */
        pr__tb_puts(out, ",\"registry_alias\":");
        pr__tb_json_str(out, s->arms[0].alias, strlen(s->arms[0].alias));
        pr__tb_puts(out, ",\"registry_version\":");
        pr__tb_json_str(out, r->reg_version, strlen(r->reg_version));
    }
    pr__tb_printf(out,
                  ",\"loaded_at\":%lld,\"load_seconds\":%.6f,\"generation\":%llu,"
                  "\"hash_bits\":%u,\"n_fields\":%u,",
                  (long long)r->loaded_at, r->load_seconds, (unsigned long long)r->generation,
                  p->hash_bits, pr_featurizer_n_fields(r->fz));
    pr__tb_puts(out, "\"candidate_key\":");
    pr__tb_json_str(out, s->candidate_key, strlen(s->candidate_key));
    pr__tb_puts(out, ",\"request_columns\":[");
    for (uint32_t c = 0; c < s->req.n_req; c++) {
        if (c) pr__tb_put(out, ",", 1);
        pr__tb_json_str(out, s->req.names[c], strlen(s->req.names[c]));
    }
    pr__tb_puts(out, "]");
    if (s->n_arms > 1) {
        pr__tb_puts(out, ",\"split_key\":");
        pr__tb_json_str(out, s->split_key, strlen(s->split_key));
    }
    if (s->reg) put_arms(s, out);
    const char *info = pr_model_info(r->model);
    if (admin) {
        pr__tb_puts(out, ",\"info\":");
        pr__tb_puts(out, info ? info : "null");
    }
    pr__tb_puts(out, "}\n");
    pr__model_ref_release(r);
    *status = 200;
    return "application/json";
}

/* Not ready while draining, while the connections are at --max-connections
 * (new clients would get 503), or when the store does not answer; the
 * store's own message only with the admin token (it names hosts). */
const char *pr__handle_readyz(pr_server *s, int admin, unsigned *status, pr__tb *out) {
    const char *why = NULL;
    pr_err err;
    err.msg[0] = '\0';
    char busy[160];
    int64_t open = __atomic_load_n(&s->metrics.connections_open, __ATOMIC_RELAXED);
    if (__atomic_load_n(&s->draining, __ATOMIC_RELAXED)) {
        why = "draining: the server is shutting down";
    } else if (open >= (int64_t)s->o.max_connections) {
        snprintf(busy, sizeof busy, "overloaded: %lld connections open, --max-connections is %u",
                 (long long)open, s->o.max_connections);
        why = busy;
    } else if (s->is_redis) {
        /* One read of a key that is never written: NOTFOUND = reachable. */
        pr_bytes v;
        pthread_mutex_lock(&s->admin_mu);
        pr_status st = pr_store_get(s->store, pr_bytes_of("pronto", 6), pr_bytes_of("readyz", 6),
                                    pr_unix_time(), &v, &err);
        pthread_mutex_unlock(&s->admin_mu);
        if (st != PR_OK && st != PR_ERR_NOTFOUND)
            why = admin ? err.msg : "the store does not answer (details with the admin token)";
    }
    if (!why && pr__store_empty(s))
        why = "the store has no materialize sentinel (__pronto/sentinel): it is empty or was "
              "wiped; run pronto materialize";
    pr__model_ref *r = pr__holder_acquire(pr__main_holder(s));
    if (why) {
        *status = 503;
        pr__tb_puts(out, "{\"ready\":false,\"reason\":");
        pr__tb_json_str(out, why, strlen(why));
        pr__tb_puts(out, "}\n");
    } else {
        *status = 200;
        pr__tb_printf(out, "{\"ready\":true,\"model_version\":\"%s\",\"store\":\"%s\"",
                      r->version, pr_store_backend(s->store));
        /* A log that is down does not make the server unready: predictions
         * still work (unlogged, counted), events get 503 until it is back. */
        if (pr__elog_on(&s->elog))
            pr__tb_printf(out, ",\"log\":\"%s\"", pr__elog_up(&s->elog) ? "up" : "down");
        pr__tb_puts(out, "}\n");
    }
    pr__model_ref_release(r);
    return "application/json";
}

const char *pr__handle_reload(pr_server *s, unsigned *status, pr__tb *out) {
    pr_err err;
    pr_err_clear(&err);
    if (pr_server_reload(s, &err) != PR_OK) {
        char msg[PR_ERR_MSG_MAX + 64];
        snprintf(msg, sizeof msg, "model refused, the previous one keeps serving: %s", err.msg);
        *status = 422;
        pr__json_error(out, msg);
        return "application/json";
    }
    pr__model_ref *r = pr__holder_acquire(pr__main_holder(s));
    pr__tb_printf(out, "{\"reloaded\":true,\"version\":\"%s\",\"generation\":%llu", r->version,
                  (unsigned long long)r->generation);
    pr__model_ref_release(r);
    if (s->reg) put_arms(s, out);
    pr__tb_puts(out, "}\n");
    *status = 200;
    return "application/json";
}
