/*
 * pronto/base.h: what every module leans on. Status codes, the error buffer,
 * arenas, hashing, time and the terminal progress line.
 *
 * Errors. Every fallible function returns a pr_status; zero is success. The
 * details (file, line, column, errno text) go into a caller-supplied pr_err,
 * so failing never allocates. Status values reach logs and HTTP bodies: new
 * ones are appended to PR_STATUS_LIST, existing ones are never renumbered.
 *
 * Ownership words used in every contract of pronto:
 *   "owned by caller, free with pr_x_free"  - you must release it;
 *   "borrowed, valid until ..."             - do not free, do not keep;
 *   "copied"                                - the callee keeps its own copy.
 * pr_x_free(NULL) is always a no-op.
 */
#ifndef PRONTO_BASE_H
#define PRONTO_BASE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, message) -- append only, never renumber. */
#define PR_STATUS_LIST(X)                                              \
    X(PR_OK, 0, "ok")                                                  \
    X(PR_EOF, 1, "end of input")                                       \
    X(PR_ERR_IO, 2, "input/output error")                              \
    X(PR_ERR_NOMEM, 3, "out of memory")                                \
    X(PR_ERR_PARSE, 4, "malformed input")                              \
    X(PR_ERR_INVALID, 5, "invalid argument")                           \
    X(PR_ERR_FORMAT, 6, "unsupported or corrupt file format")          \
    X(PR_ERR_VERSION, 7, "unsupported format version")                 \
    X(PR_ERR_CHECKSUM, 8, "checksum mismatch")                         \
    X(PR_ERR_TRUNCATED, 9, "file is truncated")                        \
    X(PR_ERR_LIMIT, 10, "a size limit was exceeded")                   \
    X(PR_ERR_NOTFOUND, 11, "not found")                                \
    X(PR_ERR_SPEC, 12, "invalid feature spec")                         \
    X(PR_ERR_LABEL, 13, "invalid label")                               \
    X(PR_ERR_UNSUPPORTED, 14, "operation not supported")

typedef enum {
#define PR__STATUS_ENUM(name, value, msg) name = value,
    PR_STATUS_LIST(PR__STATUS_ENUM)
#undef PR__STATUS_ENUM
} pr_status;

/* Short message for a status ("malformed input"); never NULL. */
const char *pr_status_str(pr_status s);
/* Symbolic name ("PR_ERR_PARSE"); never NULL. */
const char *pr_status_name(pr_status s);

/* Caller-supplied error detail. Functions that fail fill msg with a whole
 * sentence such as "train.tsv:12:3: expected an integer, got 'x'". */
#define PR_ERR_MSG_MAX 512
typedef struct pr_err {
    pr_status status;
    char msg[PR_ERR_MSG_MAX];
} pr_err;

/* Records status and a printf-style message into err (err may be NULL).
 * Returns status so callers can write `return pr_err_set(err, ...)`. */
pr_status pr_err_set(pr_err *err, pr_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* As pr_err_set, appending ": strerror(errno_value)". */
pr_status pr_err_errno(pr_err *err, pr_status status, int errno_value,
                       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Clears err to PR_OK and an empty message. */
void pr_err_clear(pr_err *err);

/* A borrowed byte slice: never owns ptr. */
typedef struct pr_bytes {
    const char *ptr;
    size_t len;
} pr_bytes;

static inline pr_bytes pr_bytes_of(const char *p, size_t n) {
    pr_bytes b = {p, n};
    return b;
}

/* ---------------------------------------------------------------- arena
 * A bump allocator. pr_arena_init takes an optional caller buffer; without
 * one, the arena mallocs blocks as it grows (never beyond max_bytes, if
 * nonzero). pr_arena_reset rewinds to empty keeping the first block, so
 * steady-state use (one request, one example) does no malloc at all. */
typedef struct pr_arena_block pr_arena_block;
typedef struct pr_arena {
    pr_arena_block *head;  /* current block (owned unless it is buf) */
    char *buf;             /* caller's buffer, or NULL */
    size_t buf_len;
    size_t used;           /* bytes used in the current block */
    size_t cap;            /* capacity of the current block */
    size_t max_bytes;      /* 0 = unlimited */
    size_t total;          /* bytes handed out since the last reset */
} pr_arena;

/* buf/buf_len: optional caller storage (borrowed for the arena's life). */
void pr_arena_init(pr_arena *a, void *buf, size_t buf_len, size_t max_bytes);
/* Returns 16-byte aligned memory, or NULL if max_bytes or malloc refuses. */
void *pr_arena_alloc(pr_arena *a, size_t n);
/* Copies n bytes into the arena and NUL-terminates; NULL on failure. */
char *pr_arena_strndup(pr_arena *a, const char *s, size_t n);
void pr_arena_reset(pr_arena *a);
void pr_arena_free(pr_arena *a);

/* ---------------------------------------------------------------- hashing
 * xxh3-64 with a seed. Stable across runs, machines and byte orders: this is
 * what makes a feature index reproducible between training and serving. */
uint64_t pr_hash64(const void *data, size_t len, uint64_t seed);
/* splitmix64 (Steele, Lea & Flood 2014): one step of a small, well-mixed
 * PRNG; also a good way to seed others. Used for shuffles, sampling and
 * weight initialization, everywhere results must be reproducible. */
static inline uint64_t pr_splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Streaming 64-bit checksum for file formats (xxh3-64, seed 0). */
typedef struct pr_checksum pr_checksum;
pr_checksum *pr_checksum_new(void);
void pr_checksum_update(pr_checksum *c, const void *data, size_t len);
uint64_t pr_checksum_digest(const pr_checksum *c);
void pr_checksum_free(pr_checksum *c);

/* ---------------------------------------------------------------- time */
/* Monotonic seconds, for measuring. */
double pr_now(void);
/* Wall-clock Unix time in seconds. */
int64_t pr_unix_time(void);

/* ---------------------------------------------------------------- progress
 * One line redrawn in place on stderr, at most ~5 times a second, only when
 * stderr is a terminal (or PRONTO_PROGRESS=1); silent otherwise. */
typedef struct pr_progress {
    const char *what;     /* "train pass 1/3" (borrowed) */
    uint64_t total;       /* expected units or 0 if unknown */
    uint64_t done;
    double t_start, t_last;
    int enabled;
    int drawn;
} pr_progress;

void pr_progress_start(pr_progress *p, const char *what, uint64_t total);
/* done: units so far; metric_name/metric may be NULL / ignored. */
void pr_progress_update(pr_progress *p, uint64_t done, const char *metric_name,
                        double metric);
/* Erases the line (if drawn). */
void pr_progress_end(pr_progress *p);

/* ---------------------------------------------------------------- files */
/* Writes a file atomically: data goes to "<path>.tmp.<pid>", is fsynced and
 * renamed over path, then the directory is fsynced. On any failure the
 * temporary is removed and whatever was at path stays intact. */
typedef struct pr_atomic_file pr_atomic_file;
pr_status pr_atomic_open(const char *path, pr_atomic_file **out, pr_err *err);
/* Sticky failure: after an error every later write returns it again. */
pr_status pr_atomic_write(pr_atomic_file *f, const void *data, size_t n,
                          pr_err *err);
/* Commits (fsync + rename). The handle is freed whatever happens. */
pr_status pr_atomic_commit(pr_atomic_file *f, pr_err *err);
/* Abandons: removes the temporary. Accepts NULL. */
void pr_atomic_abort(pr_atomic_file *f);
/* Installs SIGINT/SIGTERM handlers that remove every temporary still being
 * written, then die of the signal as before. For programs (the CLI). */
void pr_atomic_cleanup_on_signals(void);

/* Whole-file read into a malloc'd buffer (owned by caller, free()), of a
 * file the user names for the command itself (a spec, a token file). A
 * pipe works (`--spec <(sed ... spec.yaml)`); whatever it is, at most
 * PR_READ_FILE_MAX bytes are read: past that (a path to /dev/zero, a
 * runaway pipe) PR_ERR_LIMIT, naming the limit, rather than memory
 * growing without end. */
#define PR_READ_FILE_MAX ((size_t)64 << 20)
pr_status pr_read_file(const char *path, char **data, size_t *len,
                       pr_err *err);

/* Whole-file read of a file someone else names (a model to serve): opened
 * without blocking and checked on the open descriptor, so a FIFO, a device
 * (a symlink to /dev/zero), a directory or a socket is refused at once
 * (PR_ERR_INVALID, naming what it is), and so is a file of more than
 * max_bytes (PR_ERR_LIMIT), before anything is read. Never reads more than
 * max_bytes, even from a file that grows meanwhile.
 * data: OUT: malloc'd, NUL-terminated, owned by caller.
 * mtime_ns: OUT (may be NULL): the modification time of the file read. */
pr_status pr_read_regular_file(const char *path, uint64_t max_bytes, char **data,
                               size_t *len, int64_t *mtime_ns, pr_err *err);

/* ---------------------------------------------------------------- logging */
typedef enum {
    PR_LOG_ERROR = 0,
    PR_LOG_WARN = 1,
    PR_LOG_INFO = 2,
    PR_LOG_DEBUG = 3
} pr_log_level;
void pr_log_set_level(pr_log_level level);
/* At most per_second lines a second from one call site of pr_log (its
 * format string); the next line written after a drop says "(suppressed N
 * similar)". 0 (the default): no limit. Process-wide. */
void pr_log_set_rate_limit(unsigned per_second);
/* One line to the sink (below; by default stderr, "pronto: warning: ...",
 * written with one write(2): lines of different threads never mix),
 * subject to the level and the rate limit above. */
void pr_log(pr_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Where log lines go instead of stderr, for a program that embeds pronto
 * (its own logger, a Python logging handler).
 *   fn(user, level, msg, len): one line, msg its text without the
 *     "pronto: LEVEL: " prefix and without a newline, NUL-terminated at
 *     msg[len] (borrowed for the call; at most 2 KiB, cut with "..."). It
 *     is called from whatever thread logs, possibly several at once, so it
 *     must be thread-safe; it must not call pr_log_set_sink.
 *   fn NULL: back to stderr. user is passed to fn as is.
 * When pr_log_set_sink returns, no thread is inside the previous sink any
 * more, so its user data may be freed. Process-wide, like the level. */
typedef void (*pr_log_sink_fn)(void *user, pr_log_level level, const char *msg, size_t len);
void pr_log_set_sink(pr_log_sink_fn fn, void *user);

#ifdef __cplusplus
}
#endif
#endif
