/*
 * log_int.h: what the event-log files share and nothing else sees. Each
 * backend fills one pr_log_api (as src/store/store_int.h does); log.c parses
 * the scheme, validates arguments once, then dispatches. Backends may
 * assume: pointers non-NULL, 1 <= n <= PR_LOG_BATCH_MAX, every payload
 * <= PR_LOG_PAYLOAD_MAX, append only on a log opened for writing.
 */
#ifndef PRONTO_LOG_INT_H
#define PRONTO_LOG_INT_H

#include "pronto/log.h"

typedef struct pr_log_api {
    const char *name;
    /* arg: the URI after "<name>:". On success *impl is the backend state. */
    pr_status (*open)(const char *arg, int mode, void **impl, pr_err *err);
    void (*close)(void *impl);
    pr_status (*append)(void *impl, const pr_log_entry *recs, uint32_t n,
                        pr_log_pos *last, pr_err *err);
    /* start non-NULL. *reader is the backend's reader state. */
    pr_status (*reader_open)(void *impl, const pr_log_start *start,
                             void **reader, int *skipped, pr_err *err);
    pr_status (*next)(void *reader, pr_log_record *out, pr_err *err);
    /* Only for readers opened with PR_LOG_CONSUMER; pos checked by log.c to
     * be at or after the last commit of this reader. NULL: unsupported. */
    pr_status (*commit)(void *reader, pr_log_pos pos, const char *meta, pr_err *err);
    /* The meta the reader started from (NULL: never committed). */
    const char *(*commit_meta)(void *reader);
    uint64_t (*corrupt)(void *reader);
    void (*reader_close)(void *reader);
    void (*stats)(void *impl, pr_log_stats *out);
    void (*pos_format)(pr_log_pos pos, char *buf, size_t cap);
    pr_status (*pos_parse)(const char *text, pr_log_pos *out, pr_err *err);
    /* Optional (NULL: PR_ERR_UNSUPPORTED; verify NULL: log.c reads every
     * record through a reader). compact only on a log opened for writing,
     * o non-NULL. */
    pr_status (*consumers)(void *impl, int (*fn)(void *ctx, const pr_log_consumer_info *c),
                           void *ctx, pr_err *err);
    pr_status (*verify)(void *impl, pr_log_progress_fn progress, void *ctx,
                        pr_log_verify_report *out, pr_err *err);
    pr_status (*compact)(void *impl, const pr_log_compact_opts *o, pr_log_compact_result *out,
                         pr_err *err);
    /* Optional (NULL: log.c appends in full and sync returns at once):
     * append without the fsync policy's wait, and the wait for a position
     * append_nowait handed out. */
    pr_status (*append_nowait)(void *impl, const pr_log_entry *recs, uint32_t n,
                               pr_log_pos *last, pr_err *err);
    pr_status (*sync)(void *impl, pr_log_pos pos, pr_err *err);
} pr_log_api;

extern const pr_log_api pr__log_dir_api;
extern const pr_log_api pr__log_redis_api;

/* Parses the text after "redis-stream:" and frees the result: for the fuzz
 * target (no connection). Errors as pr_log_open's. */
pr_status pr__log_redis_uri_check(const char *arg, pr_err *err);

#endif
