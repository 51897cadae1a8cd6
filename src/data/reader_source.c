/*
 * reader_source.c: the line source under every reader.
 *
 * Design. Bytes come from a file descriptor (read(2) in blocks of up to
 * 1 MiB) or a borrowed memory buffer, optionally through a zstd streaming
 * decoder, into one line buffer of cap bytes (2 MiB by default). Lines are
 * found with memchr and handed out in place: no copy, no malloc per line.
 * When the buffer holds no complete line, the partial line is moved to the
 * front and the rest of the buffer is refilled.
 *
 * Ownership. The source owns buf, zin and the zstd stream, and the fd
 * unless it is stdin. name is borrowed from the reader. A returned line is
 * borrowed until the next call to pr__linesrc_next.
 *
 * Invariants (see pr__linesrc in reader_int.h): start <= scan <= end <= cap;
 * no '\n' in buf[start, scan); end - start <= max_line < cap - 1 whenever
 * we refill, so every refill has room for at least one byte. The one
 * exception to cap > max_line + 1 is plain memory input, whose buffer is cut
 * to len + 2 bytes: then no line can outgrow it.
 *
 * Compressed input is recognised by the zstd frame magic (28 B5 2F FD) in
 * the first four bytes, whatever the name; a name ending in ".zst" whose
 * data lacks the magic is a PR_ERR_FORMAT. Concatenated frames are decoded
 * one after another; input ending inside a frame is PR_ERR_TRUNCATED.
 * I/O and decoding failures are sticky.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/reader_int.h"

#define READ_BLOCK ((size_t)1 << 20)

static const unsigned char zstd_magic[4] = {0x28, 0xB5, 0x2F, 0xFD};

static pr_status set_sticky(pr__linesrc *s, pr_status st, pr_err *err,
                            const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static pr_status set_sticky(pr__linesrc *s, pr_status st, pr_err *err,
                            const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->sticky_msg, sizeof s->sticky_msg, fmt, ap);
    va_end(ap);
    s->sticky = st;
    return pr_err_set(err, st, "%s", s->sticky_msg);
}

/* Reads up to n raw bytes from the fd or memory. 0 = end of input. */
static pr_status raw_read(pr__linesrc *s, void *dst, size_t n, size_t *got,
                          pr_err *err) {
    *got = 0;
    if (s->raw_eof || n == 0) return PR_OK;
    if (s->mem || s->fd < 0) {
        size_t left = s->mem_len - s->mem_pos;
        size_t k = left < n ? left : n;
        if (k) memcpy(dst, s->mem + s->mem_pos, k);
        s->mem_pos += k;
        *got = k;
    } else {
        ssize_t k;
        do {
            k = read(s->fd, dst, n);
        } while (k < 0 && errno == EINTR);
        if (k < 0)
            return set_sticky(s, PR_ERR_IO, err, "%s: read failed: %s", s->name,
                              strerror(errno));
        *got = (size_t)k;
    }
    if (*got == 0) s->raw_eof = 1;
    s->bytes_in += *got;
    return PR_OK;
}

/* Decodes zstd into dst[0, n). Returns with *got > 0, or *got == 0 at the
 * clean end of the stream. */
static pr_status zstd_fill(pr__linesrc *s, char *dst, size_t n, size_t *got,
                           pr_err *err) {
    ZSTD_outBuffer ob = {dst, n, 0};
    *got = 0;
    for (;;) {
        if (s->zib.pos == s->zib.size && !s->raw_eof) {
            size_t k;
            pr_status st = raw_read(s, s->zin, s->zin_cap, &k, err);
            if (st != PR_OK) return st;
            s->zib.src = s->zin;
            s->zib.size = k;
            s->zib.pos = 0;
        }
        if (s->zib.pos == s->zib.size && s->raw_eof) {
            /* The decoder may still hold output for a complete frame. */
            if (!s->zs_in_frame) break;
        }
        size_t before_in = s->zib.pos;
        size_t r = ZSTD_decompressStream(s->zs, &ob, &s->zib);
        if (ZSTD_isError(r))
            return set_sticky(s, PR_ERR_FORMAT, err,
                              "%s: corrupt zstd data: %s", s->name,
                              ZSTD_getErrorName(r));
        s->zs_in_frame = r != 0;
        if (ob.pos > 0) break;
        if (s->raw_eof && s->zib.pos == s->zib.size &&
            s->zib.pos == before_in) {
            /* No progress possible: the input ended inside a frame. */
            if (s->zs_in_frame)
                return set_sticky(s, PR_ERR_TRUNCATED, err,
                                  "%s: truncated zstd stream (input ends "
                                  "inside a frame)",
                                  s->name);
            break;
        }
    }
    *got = ob.pos;
    return PR_OK;
}

/* Appends decoded bytes at buf + end. Sets eof when nothing more comes. */
static pr_status fill(pr__linesrc *s, pr_err *err) {
    size_t room = s->cap - s->end, got = 0;
    if (room > READ_BLOCK) room = READ_BLOCK;
    if (room == 0) /* cannot happen: see the buffer invariant above */
        return set_sticky(s, PR_ERR_LIMIT, err, "%s: line buffer full",
                          s->name);
    pr_status st = s->zs ? zstd_fill(s, s->buf + s->end, room, &got, err)
                         : raw_read(s, s->buf + s->end, room, &got, err);
    if (st != PR_OK) return st;
    if (got == 0) s->eof = 1;
    s->end += got;
    s->bytes_out += got;
    return PR_OK;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* Shared tail of both opens: allocate, then sniff the first bytes. */
static pr_status start(pr__linesrc *s, const char *name, size_t cap,
                       size_t max_line, int want_zstd, pr_err *err) {
    s->name = name;
    s->max_line = max_line ? max_line : PR__READER_MAX_LINE;
    size_t need = s->max_line + 2; /* one maximal line, its '\n', one more */
    s->cap = cap ? cap : PR__READER_BUF_CAP;
    if (s->cap < need) s->cap = need;
    /* Plain memory input shorter than the buffer: any line fits in len + 2
     * bytes, so do not allocate megabytes for a short test or fuzz input.
     * (Re-grown below if the data turns out to be zstd.) */
    if (s->mem && !cap && s->mem_len + 2 < s->cap)
        s->cap = s->mem_len + 2 < 64 ? 64 : s->mem_len + 2;
    s->buf = malloc(s->cap);
    if (!s->buf)
        return pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", name);

    /* Read until we have 4 bytes (or the input ends) to look for the magic. */
    while (s->end < 4 && !s->raw_eof) {
        size_t got;
        pr_status st = raw_read(s, s->buf + s->end, 4 - s->end, &got, err);
        if (st != PR_OK) return st;
        s->end += got;
    }
    int magic = s->end == 4 && memcmp(s->buf, zstd_magic, 4) == 0;
    if (want_zstd && !magic)
        return pr_err_set(err, PR_ERR_FORMAT,
                          "%s: name ends in .zst but the data is not zstd "
                          "(no frame magic)",
                          name);
    if (!magic) {
        s->bytes_out = s->end;
        if (s->raw_eof && s->end == 0) s->eof = 1;
        return PR_OK;
    }
    if (s->cap < need) {
        char *grown = realloc(
            s->buf, need > PR__READER_BUF_CAP ? need : PR__READER_BUF_CAP);
        if (!grown)
            return pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", name);
        s->buf = grown;
        s->cap = need > PR__READER_BUF_CAP ? need : PR__READER_BUF_CAP;
    }
    s->zs = ZSTD_createDStream();
    s->zin_cap = ZSTD_DStreamInSize();
    s->zin = malloc(s->zin_cap);
    if (!s->zs || !s->zin)
        return pr_err_set(err, PR_ERR_NOMEM, "%s: out of memory", name);
    ZSTD_initDStream(s->zs);
    memcpy(s->zin, s->buf, 4);
    s->zib.src = s->zin;
    s->zib.size = 4;
    s->zib.pos = 0;
    s->zs_in_frame = 1;
    s->end = 0;
    return PR_OK;
}

pr_status pr__linesrc_open_path(pr__linesrc *s, const char *path,
                                const char *name, size_t cap, size_t max_line,
                                pr_err *err) {
    memset(s, 0, sizeof *s);
    s->size = -1;
    if (strcmp(path, "-") == 0) {
        s->fd = 0;
    } else {
        s->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (s->fd < 0)
            return pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot open", path);
        s->close_fd = 1;
        struct stat st;
        if (fstat(s->fd, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                return pr_err_set(err, PR_ERR_IO, "%s: is a directory", path);
            if (S_ISREG(st.st_mode)) s->size = (int64_t)st.st_size;
        }
#ifdef POSIX_FADV_SEQUENTIAL
        posix_fadvise(s->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    }
    return start(s, name, cap, max_line, ends_with(path, ".zst"), err);
}

pr_status pr__linesrc_open_mem(pr__linesrc *s, const void *data, size_t len,
                               const char *name, size_t cap, size_t max_line,
                               pr_err *err) {
    memset(s, 0, sizeof *s);
    s->fd = -1;
    s->mem = data ? data : (const unsigned char *)"";
    s->mem_len = data ? len : 0;
    s->size = (int64_t)s->mem_len;
    return start(s, name, cap, max_line, 0, err);
}

/* Discards input up to and including the next '\n'. Returns PR_OK with
 * skipping cleared, or at end of input. */
static pr_status skip_rest_of_line(pr__linesrc *s, pr_err *err) {
    for (;;) {
        char *nl = memchr(s->buf + s->start, '\n', s->end - s->start);
        if (nl) {
            s->start = s->scan = (size_t)(nl - s->buf) + 1;
            s->skipping = 0;
            return PR_OK;
        }
        s->start = s->end = s->scan = 0;
        if (s->eof) {
            s->skipping = 0;
            return PR_OK;
        }
        pr_status st = fill(s, err);
        if (st != PR_OK) return st;
    }
}

static pr_status too_long(pr__linesrc *s, pr_err *err) {
    s->lineno++;
    return pr_err_set(err, PR_ERR_LIMIT,
                      "%s:%llu: line longer than %zu bytes; skipped", s->name,
                      (unsigned long long)s->lineno, s->max_line);
}

pr_status pr__linesrc_next(pr__linesrc *s, char **line, size_t *len,
                           pr_err *err) {
    pr_status st;
    if (s->sticky) return pr_err_set(err, s->sticky, "%s", s->sticky_msg);
    if (s->skipping && (st = skip_rest_of_line(s, err)) != PR_OK) return st;
    for (;;) {
        char *nl = memchr(s->buf + s->scan, '\n', s->end - s->scan);
        if (nl) {
            size_t n = (size_t)(nl - (s->buf + s->start));
            char *p = s->buf + s->start;
            s->start = s->scan = (size_t)(nl - s->buf) + 1;
            if (n > s->max_line) return too_long(s, err);
            if (n > 0 && p[n - 1] == '\r') n--;
            s->lineno++;
            *line = p;
            *len = n;
            return PR_OK;
        }
        s->scan = s->end;
        if (s->end - s->start > s->max_line) {
            /* Drop what we have and discard the rest on the next call. */
            s->start = s->end = s->scan = 0;
            s->skipping = 1;
            return too_long(s, err);
        }
        if (s->eof) {
            if (s->start == s->end) return PR_EOF;
            /* Last line without a newline. */
            char *p = s->buf + s->start;
            size_t n = s->end - s->start;
            s->start = s->scan = s->end;
            if (p[n - 1] == '\r') n--;
            s->lineno++;
            *line = p;
            *len = n;
            return PR_OK;
        }
        if (s->start > 0) {
            size_t keep = s->end - s->start;
            memmove(s->buf, s->buf + s->start, keep);
            s->start = 0;
            s->end = s->scan = keep;
        }
        if ((st = fill(s, err)) != PR_OK) return st;
    }
}

void pr__linesrc_close(pr__linesrc *s) {
    if (s->close_fd && s->fd >= 0) close(s->fd);
    s->fd = -1;
    ZSTD_freeDStream(s->zs);
    s->zs = NULL;
    free(s->zin);
    s->zin = NULL;
    free(s->buf);
    s->buf = NULL;
}
