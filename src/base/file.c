/*
 * file.c: atomic whole-file writes and whole-file reads.
 *
 * pr_atomic_*: data goes to "<path>.tmp.<pid>" in the same folder; commit
 * fsyncs it, renames it over path and fsyncs the folder, so a crash or a
 * full disk never leaves a half-written file under the real name, and the
 * previous file stays intact until the rename. A write error is sticky: the
 * handle refuses further writes and commit fails and removes the temporary.
 * A process killed with -9 leaves its temporary behind; the next
 * pr_atomic_open of the same path removes those of dead processes.
 *
 * pr_read_regular_file is the read for files named by someone else (a
 * model path that may be a symlink to /dev/zero, a FIFO, a directory): it
 * opens without blocking (a FIFO with no writer would block open()), asks
 * the opened descriptor what it is (fstat: no window between checking a
 * path and opening another file under it), refuses anything but a regular
 * file and anything over the caller's byte limit, and never reads past it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pronto/base.h"

struct pr_atomic_file {
    int fd;
    pr_status failed;   /* sticky: first error seen */
    int saved_errno;
    char *path;
    char *tmp;
    char *buf;          /* write buffer: many small writes become few syscalls */
    size_t used;
};

#define ATOMIC_BUF (1 << 20)

/* Temporaries in flight, for the signal handler: a fixed table of atomic
 * pointers, so the handler never sees a half-updated structure. */
#define TMP_SLOTS 64
static _Atomic(char *) g_tmp[TMP_SLOTS];

static void tmp_register(char *path) {
    for (int i = 0; i < TMP_SLOTS; i++) {
        char *expected = NULL;
        if (atomic_compare_exchange_strong(&g_tmp[i], &expected, path)) return;
    }
}

static void tmp_unregister(const char *path) {
    for (int i = 0; i < TMP_SLOTS; i++) {
        char *expected = (char *)path;
        if (atomic_compare_exchange_strong(&g_tmp[i], &expected, NULL)) return;
    }
}

static void on_fatal_signal(int sig) {
    for (int i = 0; i < TMP_SLOTS; i++) {
        char *p = atomic_load(&g_tmp[i]);
        if (p) unlink(p); /* async-signal-safe */
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

void pr_atomic_cleanup_on_signals(void) {
    signal(SIGINT, on_fatal_signal);
    signal(SIGTERM, on_fatal_signal);
}

/* Removes "<path>.tmp.<pid>" files of processes that no longer exist (a
 * writer killed with -9 cannot clean up after itself), so killed runs do
 * not pile up temporaries beside the output. A live pid's file is left
 * alone: that writer may still commit it. Best effort, errors ignored. */
static void remove_stale_tmps(const char *path) {
    char *d = strdup(path), *b = strdup(path);
    if (d && b) {
        const char *dir = dirname(d), *base = basename(b);
        size_t bl = strlen(base);
        DIR *dh = opendir(dir);
        struct dirent *de;
        while (dh && (de = readdir(dh))) {
            const char *n = de->d_name;
            if (strncmp(n, base, bl) || strncmp(n + bl, ".tmp.", 5)) continue;
            char *end;
            long pid = strtol(n + bl + 5, &end, 10);
            if (end == n + bl + 5 || *end || pid <= 0 || pid == (long)getpid()) continue;
            if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
            char full[4096];
            if (snprintf(full, sizeof full, "%s/%s", dir, n) < (int)sizeof full) unlink(full);
        }
        if (dh) closedir(dh);
    }
    free(d);
    free(b);
}

pr_status pr_atomic_open(const char *path, pr_atomic_file **out, pr_err *err) {
    *out = NULL;
    remove_stale_tmps(path);
    pr_atomic_file *f = calloc(1, sizeof *f);
    size_t n = strlen(path) + 32;
    if (f) {
        f->path = strdup(path);
        f->tmp = malloc(n);
        f->buf = malloc(ATOMIC_BUF);
    }
    if (!f || !f->path || !f->tmp || !f->buf) {
        if (f) { free(f->path); free(f->tmp); free(f->buf); free(f); }
        return pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(f->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    tmp_register(f->tmp);
    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f->fd < 0) {
        int e = errno;
        tmp_unregister(f->tmp);
        free(f->path); free(f->tmp); free(f->buf); free(f);
        return pr_err_errno(err, PR_ERR_IO, e, "%s: cannot create", path);
    }
    *out = f;
    return PR_OK;
}

static pr_status flush_buf(pr_atomic_file *f) {
    size_t off = 0;
    while (off < f->used) {
        ssize_t w = write(f->fd, f->buf + off, f->used - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            f->saved_errno = errno;
            return f->failed = PR_ERR_IO;
        }
        off += (size_t)w;
    }
    f->used = 0;
    return PR_OK;
}

pr_status pr_atomic_write(pr_atomic_file *f, const void *data, size_t n,
                          pr_err *err) {
    if (f->failed)
        return pr_err_errno(err, f->failed, f->saved_errno, "%s: write failed earlier", f->path);
    const char *p = data;
    while (n > 0) {
        if (f->used == ATOMIC_BUF && flush_buf(f) != PR_OK)
            return pr_err_errno(err, PR_ERR_IO, f->saved_errno, "%s: write", f->path);
        size_t take = ATOMIC_BUF - f->used;
        if (take > n) take = n;
        memcpy(f->buf + f->used, p, take);
        f->used += take;
        p += take;
        n -= take;
    }
    return PR_OK;
}

static void atomic_free(pr_atomic_file *f) {
    tmp_unregister(f->tmp);
    free(f->path);
    free(f->tmp);
    free(f->buf);
    free(f);
}

void pr_atomic_abort(pr_atomic_file *f) {
    if (!f) return;
    close(f->fd);
    unlink(f->tmp);
    atomic_free(f);
}

pr_status pr_atomic_commit(pr_atomic_file *f, pr_err *err) {
    pr_status s = PR_OK;
    if (!f->failed) flush_buf(f);
    if (!f->failed && fsync(f->fd) != 0) {
        f->saved_errno = errno;
        f->failed = PR_ERR_IO;
    }
    if (f->failed) {
        s = pr_err_errno(err, f->failed, f->saved_errno, "%s: write", f->path);
        pr_atomic_abort(f);
        return s;
    }
    if (close(f->fd) != 0) {
        s = pr_err_errno(err, PR_ERR_IO, errno, "%s: close", f->path);
        f->fd = -1;
        unlink(f->tmp);
        atomic_free(f);
        return s;
    }
    if (rename(f->tmp, f->path) != 0) {
        s = pr_err_errno(err, PR_ERR_IO, errno, "%s: rename", f->path);
        unlink(f->tmp);
        atomic_free(f);
        return s;
    }
    /* fsync the folder so the rename itself is durable */
    char *dup = strdup(f->path);
    if (dup) {
        int dfd = open(dirname(dup), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(dup);
    }
    atomic_free(f);
    return PR_OK;
}

pr_status pr_read_file(const char *path, char **data, size_t *len, pr_err *err) {
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot open", path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return pr_err_errno(err, PR_ERR_IO, e, "%s: stat", path);
    }
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > PR_READ_FILE_MAX) {
        close(fd);
        return pr_err_set(err, PR_ERR_LIMIT, "%s: %lld bytes, more than the %zu MiB read whole",
                          path, (long long)st.st_size, PR_READ_FILE_MAX >> 20);
    }
    size_t cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 65536;
    char *buf = malloc(cap);
    size_t used = 0;
    if (!buf) {
        close(fd);
        return pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (used + 1 >= cap) {
            if (used >= PR_READ_FILE_MAX) {
                free(buf);
                close(fd);
                return pr_err_set(err, PR_ERR_LIMIT, "%s: more than the %zu MiB read whole",
                                  path, PR_READ_FILE_MAX >> 20);
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                close(fd);
                return pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", path);
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + used, cap - 1 - used);
        if (r < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            free(buf);
            close(fd);
            return pr_err_errno(err, PR_ERR_IO, e, "%s: read", path);
        }
        if (r == 0) break;
        used += (size_t)r;
    }
    close(fd);
    buf[used] = '\0';
    *data = buf;
    *len = used;
    return PR_OK;
}

/* What st_mode is, for messages. */
static const char *file_kind(mode_t m) {
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    return "not a regular file";
}

pr_status pr_read_regular_file(const char *path, uint64_t max_bytes, char **data, size_t *len,
                               int64_t *mtime_ns, pr_err *err) {
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot open", path);
    struct stat st;
    pr_status s = PR_OK;
    char *buf = NULL;
    size_t used = 0;
    if (fstat(fd, &st) != 0) {
        s = pr_err_errno(err, PR_ERR_IO, errno, "%s: stat", path);
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        s = pr_err_set(err, PR_ERR_INVALID, "%s: %s, not a regular file", path,
                       file_kind(st.st_mode));
        goto done;
    }
    if ((uint64_t)st.st_size > max_bytes || (uint64_t)st.st_size >= SIZE_MAX) {
        s = pr_err_set(err, PR_ERR_LIMIT, "%s: %lld bytes, over the limit of %llu bytes", path,
                       (long long)st.st_size, (unsigned long long)max_bytes);
        goto done;
    }
    /* A regular file: reads never block anyway, but say so plainly. */
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    size_t cap = (size_t)st.st_size + 1;
    buf = malloc(cap);
    if (!buf) {
        s = pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory for %zu bytes", path, cap);
        goto done;
    }
    for (;;) { /* to EOF: a file growing while we read stops at max_bytes */
        if (used + 1 >= cap) {
            if (used >= max_bytes) {
                s = pr_err_set(err, PR_ERR_LIMIT, "%s: grew past the limit of %llu bytes",
                               path, (unsigned long long)max_bytes);
                goto done;
            }
            size_t ncap = cap * 2 > max_bytes + 1 ? (size_t)max_bytes + 1 : cap * 2;
            if (ncap <= cap) ncap = cap + 1;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                s = pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", path);
                goto done;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + used, cap - 1 - used);
        if (r < 0) {
            if (errno == EINTR) continue;
            s = pr_err_errno(err, PR_ERR_IO, errno, "%s: read", path);
            goto done;
        }
        if (r == 0) break;
        used += (size_t)r;
    }
    buf[used] = '\0';
    *data = buf;
    *len = used;
    buf = NULL;
    if (mtime_ns) *mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
done:
    free(buf);
    close(fd);
    return s;
}
