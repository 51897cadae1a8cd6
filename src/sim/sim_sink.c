/*
 * sim_sink.c: the buffered output sink of sim_fmt.h.
 *
 * Bytes collect in a 1 MiB buffer; a flush writes them to the descriptor
 * with write(2) (retrying short writes and EINTR), or first through a zstd
 * streaming context (ZSTD_compressStream2) whose output buffer is owned by
 * the sink too. No allocation after open. The first failure is recorded
 * with the path and errno text and returned by every later call.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "sim/sim_fmt.h"

#define SINK_BUF (1u << 20)

struct pr__sink {
    int fd;
    int owns_fd;
    char *buf;
    size_t used;
    ZSTD_CCtx *zc;
    char *zbuf;
    size_t zcap;
    pr_err err;            /* sticky failure; status PR_OK while healthy */
    char path[256];
};

static pr_status sink_new(const char *path, int fd, int owns_fd, int zstd_level,
                          pr__sink **out, pr_err *err) {
    pr_status rc = PR_ERR_NOMEM;
    pr__sink *s = calloc(1, sizeof *s);
    if (!s) goto nomem;
    s->fd = fd;
    s->owns_fd = owns_fd;
    snprintf(s->path, sizeof s->path, "%s", path);
    s->buf = malloc(SINK_BUF);
    if (!s->buf) goto nomem;
    if (zstd_level > 0) {
        s->zc = ZSTD_createCCtx();
        s->zcap = ZSTD_CStreamOutSize();
        s->zbuf = malloc(s->zcap);
        if (!s->zc || !s->zbuf) goto nomem;
        size_t r = ZSTD_CCtx_setParameter(s->zc, ZSTD_c_compressionLevel, zstd_level);
        if (ZSTD_isError(r)) {
            rc = pr_err_set(err, PR_ERR_INVALID, "%s: zstd level %d: %s", path, zstd_level,
                            ZSTD_getErrorName(r));
            goto fail;
        }
    }
    *out = s;
    return PR_OK;
nomem:
    rc = pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory for the output buffer", path);
fail:
    if (s) {
        if (s->owns_fd) close(s->fd);
        ZSTD_freeCCtx(s->zc);
        free(s->zbuf);
        free(s->buf);
        free(s);
    } else if (owns_fd) {
        close(fd);
    }
    *out = NULL;
    return rc;
}

pr_status pr__sink_open(const char *path, int zstd_level, pr__sink **out, pr_err *err) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        *out = NULL;
        return pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot create", path);
    }
    return sink_new(path, fd, 1, zstd_level, out, err);
}

pr_status pr__sink_stdout(int zstd_level, pr__sink **out, pr_err *err) {
    return sink_new("<stdout>", 1, 0, zstd_level, out, err);
}

static pr_status write_all(pr__sink *s, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(s->fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return pr_err_errno(&s->err, PR_ERR_IO, errno, "%s: write failed", s->path);
        }
        p += w;
        n -= (size_t)w;
    }
    return PR_OK;
}

/* Feeds the buffer through zstd (mode: continue, flush or end). */
static pr_status compress_out(pr__sink *s, ZSTD_EndDirective mode) {
    ZSTD_inBuffer in = {s->buf, s->used, 0};
    for (;;) {
        ZSTD_outBuffer zout = {s->zbuf, s->zcap, 0};
        size_t left = ZSTD_compressStream2(s->zc, &zout, &in, mode);
        if (ZSTD_isError(left))
            return pr_err_set(&s->err, PR_ERR_IO, "%s: zstd: %s", s->path, ZSTD_getErrorName(left));
        if (zout.pos && write_all(s, s->zbuf, zout.pos)) return s->err.status;
        int done = mode == ZSTD_e_continue ? in.pos == in.size : left == 0;
        if (done) break;
    }
    return PR_OK;
}

static pr_status drain(pr__sink *s, ZSTD_EndDirective mode) {
    if (s->err.status) return s->err.status;
    pr_status rc = s->zc ? compress_out(s, mode) : write_all(s, s->buf, s->used);
    s->used = 0;
    return rc;
}

char *pr__sink_reserve(pr__sink *s, size_t n) {
    if (s->err.status) return NULL;
    if (SINK_BUF - s->used < n && drain(s, ZSTD_e_continue)) return NULL;
    return s->buf + s->used;
}

void pr__sink_commit(pr__sink *s, char *end) { s->used = (size_t)(end - s->buf); }

pr_status pr__sink_status(const pr__sink *s, pr_err *err) {
    if (s->err.status && err) *err = s->err;
    return s->err.status;
}

pr_status pr__sink_write(pr__sink *s, const char *data, size_t n, pr_err *err) {
    while (n) {
        size_t room = SINK_BUF - s->used;
        if (room == 0) {
            if (drain(s, ZSTD_e_continue)) return pr__sink_status(s, err);
            room = SINK_BUF;
        }
        size_t k = n < room ? n : room;
        memcpy(s->buf + s->used, data, k);
        s->used += k;
        data += k;
        n -= k;
    }
    return pr__sink_status(s, err);
}

pr_status pr__sink_flush(pr__sink *s, pr_err *err) {
    drain(s, s->zc ? ZSTD_e_flush : ZSTD_e_continue);
    return pr__sink_status(s, err);
}

pr_status pr__sink_close(pr__sink *s, pr_err *err) {
    if (!s) return PR_OK;
    drain(s, ZSTD_e_end);
    if (s->owns_fd && close(s->fd) != 0 && !s->err.status)
        pr_err_errno(&s->err, PR_ERR_IO, errno, "%s: close failed", s->path);
    pr_status rc = pr__sink_status(s, err);
    ZSTD_freeCCtx(s->zc);
    free(s->zbuf);
    free(s->buf);
    free(s);
    return rc;
}
