/*
 * log_dir.c: the embedded event-log backend "log:DIR" (pronto/log.h,
 * docs/log.md). The log is a directory of segment files, each a header and
 * framed records, named by the position of their first record:
 *
 *   DIR/LOCK                           flock'ed by the one writer
 *   DIR/00000000000000000000.seg       segments, 20-digit zero-padded base
 *   DIR/00000000000000131048.seg       (order = name order; no manifest)
 *   DIR/00000000000000000000.idx       time index of a closed segment
 *
 * A position is the byte offset of a record among all record bytes ever
 * written (segment headers not counted): a segment's base is the previous
 * base + the previous segment's record bytes, so position p lives in the
 * segment with the largest base <= p at file offset p - base + 24.
 *
 * Segment file layout (all integers little-endian):
 *
 *   OFFSET  SIZE  DESCRIPTION
 *   0       8     magic "PRLOGSEG"
 *   8       4     format version (PR__LOG_VERSION = 1)
 *   12      4     reserved, 0
 *   16      8     base: position of the first record (= the file name)
 *   24      ...   records, back to back:
 *     +0    4     payload length n (<= PR_LOG_PAYLOAD_MAX)
 *     +4    4     type
 *     +8    8     ts_ms, int64
 *     +16   8     checksum: xxh3-64 of the payload seeded with the xxh3-64
 *                 of bytes +0..+16 (pr_hash64), so length, type, time and
 *                 payload are all covered
 *     +24   n     payload
 *
 * Index file layout (written atomically, pr_atomic_*, for closed segments):
 *
 *   OFFSET  SIZE  DESCRIPTION
 *   0       8     magic "PRLOGIDX"
 *   8       4     format version (1)
 *   12      4     entries k
 *   16      8     size of the segment file it describes
 *   24      8     records in the segment
 *   32      8     min ts_ms   40  8  max ts_ms (0, 0 if no record)
 *   48      16*k  entries: u64 file offset of a record, i64 the largest
 *                 ts_ms of every record before that offset in the segment
 *   48+16k  8     xxh3-64 (pr_hash64, seed 0) of every byte before it
 *
 * An index whose size field is not the segment's size, or whose checksum
 * fails, is rebuilt by scanning the segment (and rewritten by a writer).
 * The active segment's index lives in memory and is rebuilt at open.
 *
 * Invariants. In memory, segs[] is sorted by base; for a writer the last is
 * the active one, open as fd, and every byte of it up to segs[last].size is
 * whole records (a failed write is truncated back). written_end and
 * synced_end are positions (record bytes); appenders under fsync=batch
 * wait until synced_end covers their records. Rotation fsyncs the closed
 * segment (every policy) and writes its index, so only the active segment
 * can have a torn tail after a crash. Locking: mu guards everything here;
 * the flusher drops it only around fdatasync (syncing = 1; rotation waits
 * for it to clear). Group commit (fsync=batch:MS): an appender writes,
 * counts itself in `unsynced` and sleeps on cv_done; the flusher, woken by
 * the first, gathers until every appender inside append (`inflight`, counted
 * before taking mu, less the `leaving` ones already synced) waits, or MS ms
 * passed, then runs one fdatasync for all (moving them to `leaving`):
 * a lone writer is synced at once, concurrent ones share fsyncs. Readers keep their own fd and buffer and take mu only
 * to look at the segment table (in-process) or list DIR (always).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log/log_int.h"

#define PR__LOG_VERSION 1u
#define SEG_HDR 24u
#define REC_HDR 24u
#define IDX_HDR 48u
#define SEG_MAGIC "PRLOGSEG"
#define IDX_MAGIC "PRLOGIDX"

enum { FSYNC_ALWAYS = 0, FSYNC_BATCH = 1, FSYNC_OFF = 2 };

typedef struct idx_ent {
    uint64_t off;     /* file offset of a record */
    int64_t max_before;  /* largest ts of the records before off (INT64_MIN: none) */
} idx_ent;

typedef struct seg {
    uint64_t base;
    uint64_t size;     /* file bytes of the valid prefix */
    uint64_t records;
    int64_t min_ts, max_ts;  /* INT64_MAX, INT64_MIN while empty */
    int64_t mtime_ms;
    uint64_t last_idx_off;
    idx_ent *idx;
    uint32_t nidx, capidx;
} seg;

typedef struct dirlog {
    char *dir;
    int write;
    int policy;
    int batch_ms;
    uint64_t seg_bytes, seg_ms, retain_bytes, retain_ms, index_bytes;
    int lockfd;
    pthread_mutex_t mu;
    pthread_cond_t cv_work;   /* flusher: something to sync, or stop */
    pthread_cond_t cv_done;   /* appenders and rotation: a sync finished */
    seg *segs;
    size_t nseg, capseg;
    int fd;                   /* active segment (writer) */
    int64_t active_born_ms;
    char *wbuf;
    size_t wcap;
    uint64_t written_end, synced_end;
    int broken;               /* a failed fsync or rollback: refuse appends */
    char broken_msg[256];
    int syncing, stop;
    int inflight;             /* appenders inside dl_append (atomic) */
    int unsynced;             /* of those, waiting for an fsync not yet started (mu) */
    int leaving;              /* of those, synced and about to return (mu) */
    pthread_t flusher;
    int have_flusher;
    uint64_t torn_cuts, torn_bytes, appended, fsyncs, dropped;
} dirlog;

/* ---------------------------------------------------------------- bytes */

static void put32(char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (char)(v >> (8 * i));
}
static void put64(char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (char)(v >> (8 * i));
}
static uint32_t get32(const char *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)(unsigned char)p[i] << (8 * i);
    return v;
}
static uint64_t get64(const char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)(unsigned char)p[i] << (8 * i);
    return v;
}

static uint64_t rec_sum(const char *hdr16, const char *payload, size_t n) {
    return pr_hash64(payload, n, pr_hash64(hdr16, 16, 0));
}

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void seg_path(char *buf, size_t cap, const char *dir, uint64_t base, const char *ext) {
    snprintf(buf, cap, "%s/%020" PRIu64 ".%s", dir, base, ext);
}

/* ---------------------------------------------------------------- buffered pread */

typedef struct rdbuf {
    int fd;
    char *buf;
    size_t cap;
    uint64_t off;  /* file offset of buf[0] */
    size_t len;
} rdbuf;

/* Bytes [off, off + n) of the file, or NULL if the file ends before (or
 * *ioerr on a read error / no memory). */
static const char *rd_get(rdbuf *b, uint64_t off, size_t n, int *ioerr) {
    if (off >= b->off && off + n <= b->off + b->len) return b->buf + (off - b->off);
    if (n > b->cap) {
        size_t c = b->cap ? b->cap : 1 << 16;
        while (c < n) c *= 2;
        char *nb = realloc(b->buf, c);
        if (!nb) {
            *ioerr = ENOMEM;
            return NULL;
        }
        b->buf = nb;
        b->cap = c;
    }
    b->off = off;
    b->len = 0;
    while (b->len < b->cap) {
        ssize_t r = pread(b->fd, b->buf + b->len, b->cap - b->len, (off_t)(off + b->len));
        if (r < 0) {
            if (errno == EINTR) continue;
            *ioerr = errno;
            return NULL;
        }
        if (r == 0) break;
        b->len += (size_t)r;
        if (b->len >= n) break;
    }
    return b->len >= n ? b->buf : NULL;
}

enum { REC_OK = 0, REC_SHORT = 1, REC_BAD = 2, REC_IOERR = 3 };

/* Checks the record at file offset off; on REC_OK fills *hdr and *n. */
static int rec_at(rdbuf *b, uint64_t off, const char **hdr, uint32_t *n, int *ioerr) {
    const char *h = rd_get(b, off, REC_HDR, ioerr);
    if (!h) return *ioerr ? REC_IOERR : REC_SHORT;
    uint32_t len = get32(h);
    if (len > PR_LOG_PAYLOAD_MAX) return REC_BAD;
    h = rd_get(b, off, REC_HDR + (size_t)len, ioerr);
    if (!h) return *ioerr ? REC_IOERR : REC_SHORT;
    if (rec_sum(h, h + REC_HDR, len) != get64(h + 16)) return REC_BAD;
    *hdr = h;
    *n = len;
    return REC_OK;
}

/* ---------------------------------------------------------------- segments */

static int idx_add(seg *s, uint64_t off, int64_t max_before) {
    if (s->nidx == s->capidx) {
        uint32_t c = s->capidx ? s->capidx * 2 : 16;
        idx_ent *ni = realloc(s->idx, c * sizeof *ni);
        if (!ni) return -1;
        s->idx = ni;
        s->capidx = c;
    }
    s->idx[s->nidx].off = off;
    s->idx[s->nidx].max_before = max_before;
    s->nidx++;
    s->last_idx_off = off;
    return 0;
}

static void seg_note(seg *s, uint64_t off, int64_t ts, uint64_t reclen, uint64_t every) {
    if (s->records && off - s->last_idx_off >= every) (void)idx_add(s, off, s->max_ts);
    s->records++;
    if (ts < s->min_ts) s->min_ts = ts;
    if (ts > s->max_ts) s->max_ts = ts;
    s->size = off + reclen;
}

static void seg_reset(seg *s, uint64_t base) {
    free(s->idx);
    memset(s, 0, sizeof *s);
    s->base = base;
    s->size = SEG_HDR;
    s->last_idx_off = SEG_HDR;
    s->min_ts = INT64_MAX;
    s->max_ts = INT64_MIN;
}

/* Reads and checks a segment header. Returns PR_OK, or PR_ERR_TRUNCATED
 * when the file is shorter than a header (a segment being created), or a
 * refusal naming the file. */
static pr_status check_header(int fd, const char *path, uint64_t base, pr_err *err) {
    char h[SEG_HDR];
    ssize_t r = pread(fd, h, SEG_HDR, 0);
    if (r < 0) return pr_err_errno(err, PR_ERR_IO, errno, "log: cannot read %s", path);
    if ((size_t)r < SEG_HDR) {
        if (r > 0 && memcmp(h, SEG_MAGIC, (size_t)r < 8 ? (size_t)r : 8) != 0)
            return pr_err_set(err, PR_ERR_FORMAT, "log: %s is not a pronto log segment", path);
        return pr_err_set(err, PR_ERR_TRUNCATED, "log: %s has a torn header (%zd bytes)",
                          path, r);
    }
    if (memcmp(h, SEG_MAGIC, 8) != 0)
        return pr_err_set(err, PR_ERR_FORMAT, "log: %s is not a pronto log segment (bad magic)",
                          path);
    uint32_t v = get32(h + 8);
    if (v != PR__LOG_VERSION)
        return pr_err_set(err, PR_ERR_VERSION,
                          "log: %s was written by log format version %u; this pronto reads "
                          "version %u only",
                          path, v, PR__LOG_VERSION);
    if (get64(h + 16) != base)
        return pr_err_set(err, PR_ERR_FORMAT,
                          "log: %s says its base is %" PRIu64 ", its name says %" PRIu64, path,
                          get64(h + 16), base);
    return PR_OK;
}

/* Scans records from SEG_HDR, filling s (size = end of the valid prefix).
 * *bad: REC_OK if the file ends exactly after a record, else why it stopped. */
static pr_status scan_seg(int fd, const char *path, seg *s, uint64_t every, int *bad,
                          pr_err *err) {
    rdbuf b = {fd, NULL, 0, 0, 0};
    uint64_t off = SEG_HDR;
    *bad = REC_OK;
    for (;;) {
        const char *h;
        uint32_t n;
        int ioerr = 0;
        int k = rec_at(&b, off, &h, &n, &ioerr);
        if (k == REC_IOERR) {
            free(b.buf);
            return pr_err_errno(err, PR_ERR_IO, ioerr, "log: cannot read %s", path);
        }
        if (k != REC_OK) {
            /* REC_SHORT with nothing at off is a clean end */
            int dummy = 0;
            if (k == REC_SHORT && !rd_get(&b, off, 1, &dummy)) k = REC_OK;
            *bad = k;
            break;
        }
        seg_note(s, off, (int64_t)get64(h + 8), REC_HDR + (uint64_t)n, every);
        off += REC_HDR + (uint64_t)n;
    }
    free(b.buf);
    s->size = off;
    return PR_OK;
}

static int idx_load(const char *path, seg *s, uint64_t fsize) {
    char *d = NULL;
    size_t n = 0;
    pr_err e;
    if (pr_read_file(path, &d, &n, &e) != PR_OK) return -1;
    int ok = 0;
    if (n >= IDX_HDR + 8 && !memcmp(d, IDX_MAGIC, 8) && get32(d + 8) == PR__LOG_VERSION) {
        uint32_t k = get32(d + 12);
        if ((uint64_t)n == IDX_HDR + 16ull * k + 8 && get64(d + n - 8) == pr_hash64(d, n - 8, 0) &&
            get64(d + 16) == fsize) {
            s->size = fsize;
            s->records = get64(d + 24);
            s->min_ts = (int64_t)get64(d + 32);
            s->max_ts = (int64_t)get64(d + 40);
            if (!s->records) {
                s->min_ts = INT64_MAX;
                s->max_ts = INT64_MIN;
            }
            ok = 1;
            for (uint32_t i = 0; i < k && ok; i++)
                if (idx_add(s, get64(d + IDX_HDR + 16 * i), (int64_t)get64(d + IDX_HDR + 16 * i + 8)))
                    ok = 0;
        }
    }
    free(d);
    return ok ? 0 : -1;
}

static pr_status idx_write(const dirlog *L, const seg *s, pr_err *err) {
    char path[PATH_MAX];
    seg_path(path, sizeof path, L->dir, s->base, "idx");
    size_t n = IDX_HDR + 16ull * s->nidx + 8;
    char *d = malloc(n);
    if (!d) return pr_err_set(err, PR_ERR_NOMEM, "log: out of memory");
    memcpy(d, IDX_MAGIC, 8);
    put32(d + 8, PR__LOG_VERSION);
    put32(d + 12, s->nidx);
    put64(d + 16, s->size);
    put64(d + 24, s->records);
    put64(d + 32, s->records ? (uint64_t)s->min_ts : 0);
    put64(d + 40, s->records ? (uint64_t)s->max_ts : 0);
    for (uint32_t i = 0; i < s->nidx; i++) {
        put64(d + IDX_HDR + 16 * i, s->idx[i].off);
        put64(d + IDX_HDR + 16 * i + 8, (uint64_t)s->idx[i].max_before);
    }
    put64(d + n - 8, pr_hash64(d, n - 8, 0));
    pr_atomic_file *f;
    pr_status st = pr_atomic_open(path, &f, err);
    if (st == PR_OK) {
        st = pr_atomic_write(f, d, n, err);
        if (st == PR_OK) st = pr_atomic_commit(f, err);
        else pr_atomic_abort(f);
    }
    free(d);
    return st;
}

/* Segment bases in DIR, sorted. */
static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static pr_status list_bases(const char *dir, uint64_t **out, size_t *n, pr_err *err) {
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return pr_err_errno(err, PR_ERR_IO, errno, "log: cannot read directory %s", dir);
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *nm = e->d_name;
        if (strlen(nm) != 24 || strcmp(nm + 20, ".seg") != 0) continue;
        uint64_t v = 0;
        int ok = 1;
        for (int i = 0; i < 20 && ok; i++) {
            if (nm[i] < '0' || nm[i] > '9') ok = 0;
            else if (v > (UINT64_MAX - 9) / 10) ok = 0;
            else v = v * 10 + (uint64_t)(nm[i] - '0');
        }
        if (!ok) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            uint64_t *nb = realloc(*out, cap * sizeof *nb);
            if (!nb) {
                closedir(d);
                free(*out);
                *out = NULL;
                return pr_err_set(err, PR_ERR_NOMEM, "log: out of memory");
            }
            *out = nb;
        }
        (*out)[(*n)++] = v;
    }
    closedir(d);
    if (*n) qsort(*out, *n, sizeof **out, cmp_u64);
    return PR_OK;
}

/* ---------------------------------------------------------------- options */

static pr_status parse_u64(const char *v, size_t vl, uint64_t lo, uint64_t hi, uint64_t *out) {
    if (vl == 0 || vl > 19) return PR_ERR_INVALID;
    uint64_t x = 0;
    for (size_t i = 0; i < vl; i++) {
        if (v[i] < '0' || v[i] > '9') return PR_ERR_INVALID;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    if (x < lo || x > hi) return PR_ERR_INVALID;
    *out = x;
    return PR_OK;
}

static pr_status parse_opts(dirlog *L, const char *q, pr_err *err) {
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', len);
        if (!eq)
            return pr_err_set(err, PR_ERR_INVALID, "log URI: option '%.*s' has no '=VALUE'",
                              (int)len, q);
        size_t nl = (size_t)(eq - q);
        const char *v = eq + 1;
        size_t vl = len - nl - 1;
        uint64_t x = 0;
        pr_status bad = PR_OK;
#define OPT(name) (nl == strlen(name) && !memcmp(q, name, nl))
        if (OPT("fsync")) {
            if (vl == 6 && !memcmp(v, "always", 6)) L->policy = FSYNC_ALWAYS;
            else if (vl == 3 && !memcmp(v, "off", 3)) L->policy = FSYNC_OFF;
            else if (vl > 6 && !memcmp(v, "batch:", 6) &&
                     parse_u64(v + 6, vl - 6, 1, 10000, &x) == PR_OK) {
                L->policy = FSYNC_BATCH;
                L->batch_ms = (int)x;
            } else
                bad = PR_ERR_INVALID;
        } else if (OPT("segment_bytes")) {
            bad = parse_u64(v, vl, 4096, 1ull << 40, &L->seg_bytes);
        } else if (OPT("segment_ms")) {
            bad = parse_u64(v, vl, 0, UINT64_MAX / 4, &L->seg_ms);
        } else if (OPT("retain_bytes")) {
            bad = parse_u64(v, vl, 0, UINT64_MAX / 4, &L->retain_bytes);
        } else if (OPT("retain_ms")) {
            bad = parse_u64(v, vl, 0, UINT64_MAX / 4, &L->retain_ms);
        } else if (OPT("index_bytes")) {
            bad = parse_u64(v, vl, 64, 1ull << 30, &L->index_bytes);
        } else {
            return pr_err_set(err, PR_ERR_INVALID,
                              "log URI: unknown option '%.*s' (fsync, segment_bytes, "
                              "segment_ms, retain_bytes, retain_ms, index_bytes)",
                              (int)nl, q);
        }
#undef OPT
        if (bad != PR_OK)
            return pr_err_set(err, PR_ERR_INVALID,
                              "log URI: bad value '%.*s' for option '%.*s'%s", (int)vl, v,
                              (int)nl, q,
                              nl == 5 ? " (always, off or batch:MS with MS 1..10000)" : "");
        q = amp ? amp + 1 : NULL;
    }
    return PR_OK;
}

/* ---------------------------------------------------------------- open / close */

static void dl_free(dirlog *L) {
    if (!L) return;
    for (size_t i = 0; i < L->nseg; i++) free(L->segs[i].idx);
    free(L->segs);
    if (L->fd >= 0) close(L->fd);
    if (L->lockfd >= 0) close(L->lockfd);
    pthread_mutex_destroy(&L->mu);
    pthread_cond_destroy(&L->cv_work);
    pthread_cond_destroy(&L->cv_done);
    free(L->wbuf);
    free(L->dir);
    free(L);
}

static pr_status fsync_dir(const char *dir, pr_err *err) {
    int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d < 0) return pr_err_errno(err, PR_ERR_IO, errno, "log: cannot open %s", dir);
    int r = fsync(d);
    int e = errno;
    close(d);
    if (r) return pr_err_errno(err, PR_ERR_IO, e, "log: cannot fsync directory %s", dir);
    return PR_OK;
}

static seg *push_seg(dirlog *L, pr_err *err) {
    if (L->nseg == L->capseg) {
        size_t c = L->capseg ? L->capseg * 2 : 16;
        seg *ns = realloc(L->segs, c * sizeof *ns);
        if (!ns) {
            pr_err_set(err, PR_ERR_NOMEM, "log: out of memory");
            return NULL;
        }
        L->segs = ns;
        L->capseg = c;
    }
    seg *s = &L->segs[L->nseg++];
    memset(s, 0, sizeof *s);
    seg_reset(s, 0);
    return s;
}

/* Creates segment `base` (header written, fsynced with its directory unless
 * fsync=off) and makes it the active one. */
static pr_status new_segment(dirlog *L, uint64_t base, pr_err *err) {
    char path[PATH_MAX];
    seg_path(path, sizeof path, L->dir, base, "seg");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return pr_err_errno(err, PR_ERR_IO, errno, "log: cannot create %s", path);
    char h[SEG_HDR] = {0};
    memcpy(h, SEG_MAGIC, 8);
    put32(h + 8, PR__LOG_VERSION);
    put64(h + 16, base);
    if (pwrite(fd, h, SEG_HDR, 0) != (ssize_t)SEG_HDR ||
        (L->policy != FSYNC_OFF && fdatasync(fd) != 0)) {
        int e = errno;
        close(fd);
        unlink(path);
        return pr_err_errno(err, PR_ERR_IO, e, "log: cannot write %s", path);
    }
    if (L->policy != FSYNC_OFF) {
        pr_status st = fsync_dir(L->dir, err);
        if (st != PR_OK) {
            close(fd);
            unlink(path);
            return st;
        }
    }
    seg *s = push_seg(L, err);
    if (!s) {
        close(fd);
        unlink(path);
        return PR_ERR_NOMEM;
    }
    s->base = base;
    s->mtime_ms = wall_ms();
    L->fd = fd;
    L->active_born_ms = wall_ms();
    return PR_OK;
}

/* Drops the oldest closed segments beyond retain_bytes / retain_ms. mu held
 * (or no other thread yet). */
static void apply_retention(dirlog *L) {
    if (!L->write || (!L->retain_bytes && !L->retain_ms)) return;
    uint64_t total = 0;
    for (size_t i = 0; i < L->nseg; i++) total += L->segs[i].size;
    int64_t now = wall_ms();
    while (L->nseg > 1) {
        seg *s = &L->segs[0];
        int drop = (L->retain_bytes && total > L->retain_bytes) ||
                   (L->retain_ms && s->mtime_ms < now - (int64_t)L->retain_ms);
        if (!drop) break;
        char path[PATH_MAX];
        seg_path(path, sizeof path, L->dir, s->base, "seg");
        if (unlink(path) != 0 && errno != ENOENT) {
            pr_log(PR_LOG_WARN, "pr_log: retention cannot remove %s: %s", path, strerror(errno));
            break;
        }
        seg_path(path, sizeof path, L->dir, s->base, "idx");
        unlink(path);
        total -= s->size;
        free(s->idx);
        memmove(&L->segs[0], &L->segs[1], (L->nseg - 1) * sizeof *L->segs);
        L->nseg--;
        L->dropped++;
    }
}

static void *flusher_main(void *arg);

static pr_status load_segments(dirlog *L, pr_err *err) {
    uint64_t *bases;
    size_t nb;
    pr_status st = list_bases(L->dir, &bases, &nb, err);
    if (st != PR_OK) return st;
    for (size_t i = 0; i < nb && st == PR_OK; i++) {
        char path[PATH_MAX], ipath[PATH_MAX];
        seg_path(path, sizeof path, L->dir, bases[i], "seg");
        seg_path(ipath, sizeof ipath, L->dir, bases[i], "idx");
        int last = i + 1 == nb;
        int fd = open(path, (L->write && last ? O_RDWR : O_RDONLY) | O_CLOEXEC);
        if (fd < 0) {
            st = pr_err_errno(err, PR_ERR_IO, errno, "log: cannot open %s", path);
            break;
        }
        struct stat sb;
        if (fstat(fd, &sb) != 0) {
            st = pr_err_errno(err, PR_ERR_IO, errno, "log: cannot stat %s", path);
            close(fd);
            break;
        }
        st = check_header(fd, path, bases[i], err);
        if (st == PR_ERR_TRUNCATED && last && L->write) {
            /* a crash while creating it: no record can be in it */
            close(fd);
            unlink(path);
            pr_log(PR_LOG_WARN, "pr_log: %s: torn segment header (%lld bytes) removed", path,
                   (long long)sb.st_size);
            L->torn_cuts++;
            L->torn_bytes += (uint64_t)sb.st_size;
            st = PR_OK;
            break;
        }
        if (st == PR_ERR_TRUNCATED && last) {  /* read-only: an empty segment being born */
            close(fd);
            st = PR_OK;
            break;
        }
        if (st != PR_OK) {
            close(fd);
            break;
        }
        seg *s = push_seg(L, err);
        if (!s) {
            close(fd);
            st = PR_ERR_NOMEM;
            break;
        }
        s->base = bases[i];
        s->mtime_ms = (int64_t)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000;
        if (!last && idx_load(ipath, s, (uint64_t)sb.st_size) == 0) {
            close(fd);
            continue;
        }
        seg_reset(s, bases[i]);
        s->mtime_ms = (int64_t)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000;
        int bad;
        st = scan_seg(fd, path, s, L->index_bytes, &bad, err);
        if (st != PR_OK) {
            close(fd);
            break;
        }
        if (last && L->write) {
            if (s->size < (uint64_t)sb.st_size) {
                uint64_t cut = (uint64_t)sb.st_size - s->size;
                if (ftruncate(fd, (off_t)s->size) != 0 || fdatasync(fd) != 0) {
                    st = pr_err_errno(err, PR_ERR_IO, errno, "log: cannot cut the tail of %s",
                                      path);
                    close(fd);
                    break;
                }
                pr_log(PR_LOG_WARN,
                       "pr_log: %s: %s tail at offset %" PRIu64 " cut (%" PRIu64 " bytes)", path,
                       bad == REC_BAD ? "corrupt" : "torn", s->size, cut);
                L->torn_cuts++;
                L->torn_bytes += cut;
            }
            L->fd = fd;
            L->active_born_ms = wall_ms();
        } else {
            if (!last && bad == REC_OK && L->write) {
                pr_err e2;
                if (idx_write(L, s, &e2) != PR_OK)
                    pr_log(PR_LOG_WARN, "pr_log: %s", e2.msg);
            }
            close(fd);
        }
    }
    free(bases);
    return st;
}

static pr_status dl_open(const char *arg, int mode, void **impl, pr_err *err) {
    dirlog *L = calloc(1, sizeof *L);
    if (!L) return pr_err_set(err, PR_ERR_NOMEM, "log: out of memory");
    L->fd = -1;
    L->lockfd = -1;
    L->write = mode == PR_LOG_WRITE;
    L->policy = FSYNC_ALWAYS;
    L->seg_bytes = 128ull << 20;
    L->index_bytes = 4096;
    pthread_mutex_init(&L->mu, NULL);
    pthread_cond_init(&L->cv_work, NULL);
    pthread_cond_init(&L->cv_done, NULL);
    const char *q = strchr(arg, '?');
    size_t dl = q ? (size_t)(q - arg) : strlen(arg);
    pr_status st = PR_OK;
    if (dl == 0) st = pr_err_set(err, PR_ERR_INVALID, "log URI: no directory (log:DIR)");
    else if (dl >= PATH_MAX - 40)
        st = pr_err_set(err, PR_ERR_INVALID, "log URI: directory name too long");
    if (st == PR_OK) st = parse_opts(L, q ? q + 1 : NULL, err);
    if (st != PR_OK) {
        dl_free(L);
        return st;
    }
    L->dir = strndup(arg, dl);
    if (!L->dir) {
        dl_free(L);
        return pr_err_set(err, PR_ERR_NOMEM, "log: out of memory");
    }
    if (L->write && mkdir(L->dir, 0755) != 0 && errno != EEXIST) {
        st = pr_err_errno(err, PR_ERR_IO, errno, "log: cannot create directory %s", L->dir);
        dl_free(L);
        return st;
    }
    if (L->write) {
        char lp[PATH_MAX];
        snprintf(lp, sizeof lp, "%s/LOCK", L->dir);
        L->lockfd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (L->lockfd < 0) {
            st = pr_err_errno(err, PR_ERR_IO, errno, "log: cannot open %s", lp);
            dl_free(L);
            return st;
        }
        if (flock(L->lockfd, LOCK_EX | LOCK_NB) != 0) {
            st = errno == EWOULDBLOCK
                     ? pr_err_set(err, PR_ERR_INVALID,
                                  "log: %s is open for writing by another process or handle",
                                  L->dir)
                     : pr_err_errno(err, PR_ERR_IO, errno, "log: cannot lock %s", lp);
            dl_free(L);
            return st;
        }
    }
    st = load_segments(L, err);
    if (st == PR_OK && L->write && L->fd < 0) {
        uint64_t base = 0;
        if (L->nseg) base = L->segs[L->nseg - 1].base + L->segs[L->nseg - 1].size - SEG_HDR;
        st = new_segment(L, base, err);
    }
    if (st != PR_OK) {
        dl_free(L);
        return st;
    }
    if (L->write) {
        seg *a = &L->segs[L->nseg - 1];
        L->written_end = L->synced_end = a->base + a->size - SEG_HDR;
        apply_retention(L);
        if (L->policy == FSYNC_BATCH) {
            if (pthread_create(&L->flusher, NULL, flusher_main, L) != 0) {
                dl_free(L);
                return pr_err_set(err, PR_ERR_IO, "log: cannot start the flusher thread");
            }
            L->have_flusher = 1;
        }
    }
    *impl = L;
    return PR_OK;
}

static void dl_close(void *impl) {
    dirlog *L = impl;
    if (L->have_flusher) {
        pthread_mutex_lock(&L->mu);
        L->stop = 1;
        pthread_cond_broadcast(&L->cv_work);
        pthread_mutex_unlock(&L->mu);
        pthread_join(L->flusher, NULL);
    }
    if (L->write && L->fd >= 0 && !L->broken) (void)fdatasync(L->fd);
    dl_free(L);
}

/* ---------------------------------------------------------------- writing */

static void *flusher_main(void *arg) {
    dirlog *L = arg;
    pthread_mutex_lock(&L->mu);
    for (;;) {
        while (!L->stop && L->written_end == L->synced_end) pthread_cond_wait(&L->cv_work, &L->mu);
        if (L->stop) break;
        /* let the group gather: until every appender inside append has
         * written and waits, at most batch_ms */
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_nsec += (long)L->batch_ms * 1000000L;
        dl.tv_sec += dl.tv_nsec / 1000000000L;
        dl.tv_nsec %= 1000000000L;
        while (!L->stop &&
               L->unsynced < __atomic_load_n(&L->inflight, __ATOMIC_ACQUIRE) - L->leaving &&
               pthread_cond_timedwait(&L->cv_work, &L->mu, &dl) == 0) {
        }
        if (L->written_end == L->synced_end) continue;
        uint64_t target = L->written_end;
        int fd = L->fd;
        int covered = L->unsynced;  /* each wrote before waiting: <= target */
        L->syncing = 1;
        pthread_mutex_unlock(&L->mu);
        int r = fdatasync(fd);
        int e = errno;
        pthread_mutex_lock(&L->mu);
        L->syncing = 0;
        L->fsyncs++;
        if (r != 0 && !L->broken) {
            L->broken = 1;
            snprintf(L->broken_msg, sizeof L->broken_msg, "fdatasync failed: %s", strerror(e));
        } else if (r == 0 && target > L->synced_end) {
            L->synced_end = target;
        }
        L->unsynced -= covered;
        L->leaving += covered;
        pthread_cond_broadcast(&L->cv_done);
    }
    pthread_mutex_unlock(&L->mu);
    return NULL;
}

/* Closes the active segment (fsync, index) and opens the next. mu held. */
static pr_status rotate(dirlog *L, pr_err *err) {
    while (L->syncing) pthread_cond_wait(&L->cv_done, &L->mu);
    seg *a = &L->segs[L->nseg - 1];
    if (fdatasync(L->fd) != 0) {
        L->broken = 1;
        snprintf(L->broken_msg, sizeof L->broken_msg, "fdatasync failed: %s", strerror(errno));
        return pr_err_set(err, PR_ERR_IO, "log %s: %s", L->dir, L->broken_msg);
    }
    L->fsyncs++;
    L->synced_end = L->written_end;
    L->leaving += L->unsynced;
    L->unsynced = 0;
    pthread_cond_broadcast(&L->cv_done);
    pr_err e2;
    if (idx_write(L, a, &e2) != PR_OK) pr_log(PR_LOG_WARN, "pr_log: %s", e2.msg);
    a->mtime_ms = wall_ms();
    uint64_t next = a->base + a->size - SEG_HDR;
    close(L->fd);
    L->fd = -1;
    pr_status st = new_segment(L, next, err);
    if (st != PR_OK) {
        /* keep appending to the old one: reopen it */
        char path[PATH_MAX];
        seg_path(path, sizeof path, L->dir, L->segs[L->nseg - 1].base, "seg");
        L->fd = open(path, O_RDWR | O_CLOEXEC);
        if (L->fd < 0) {
            L->broken = 1;
            snprintf(L->broken_msg, sizeof L->broken_msg, "cannot reopen the active segment");
        }
        return st;
    }
    apply_retention(L);
    return PR_OK;
}

/* Appends; wait 0: returns once written, before the policy's fsync (the
 * caller calls dl_sync later). */
static pr_status append_impl(void *impl, const pr_log_entry *recs, uint32_t n, pr_log_pos *last,
                             int wait, pr_err *err) {
    dirlog *L = impl;
    size_t need = 0;
    for (uint32_t i = 0; i < n; i++) need += REC_HDR + recs[i].payload.len;
    __atomic_fetch_add(&L->inflight, 1, __ATOMIC_ACQ_REL);
    pthread_mutex_lock(&L->mu);
    pr_status st = PR_OK;
    if (L->broken) {
        st = pr_err_set(err, PR_ERR_IO, "log %s: %s; reopen the log", L->dir, L->broken_msg);
        goto out;
    }
    seg *a = &L->segs[L->nseg - 1];
    if (a->records && (a->size + need > L->seg_bytes ||
                       (L->seg_ms && wall_ms() - L->active_born_ms >= (int64_t)L->seg_ms))) {
        st = rotate(L, err);
        if (st != PR_OK) goto out;
        a = &L->segs[L->nseg - 1];
    }
    if (need > L->wcap) {
        size_t c = L->wcap ? L->wcap : 1 << 16;
        while (c < need) c *= 2;
        char *nb = realloc(L->wbuf, c);
        if (!nb) {
            st = pr_err_set(err, PR_ERR_NOMEM, "log: out of memory");
            goto out;
        }
        L->wbuf = nb;
        L->wcap = c;
    }
    seg saved = *a;
    uint32_t saved_nidx = a->nidx;
    size_t w = 0;
    uint64_t off = a->size;
    for (uint32_t i = 0; i < n; i++) {
        char *h = L->wbuf + w;
        size_t pl = recs[i].payload.len;
        put32(h, (uint32_t)pl);
        put32(h + 4, recs[i].type);
        put64(h + 8, (uint64_t)recs[i].ts_ms);
        if (pl) memcpy(h + REC_HDR, recs[i].payload.ptr, pl);
        put64(h + 16, rec_sum(h, h + REC_HDR, pl));
        if (i + 1 == n) {
            last->a = a->base + off - SEG_HDR;
            last->b = 0;
        }
        seg_note(a, off, recs[i].ts_ms, REC_HDR + pl, L->index_bytes);
        off += REC_HDR + pl;
        w += REC_HDR + pl;
    }
    size_t done = 0;
    while (done < w) {
        ssize_t r = pwrite(L->fd, L->wbuf + done, w - done, (off_t)(saved.size + done));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = r < 0 ? errno : ENOSPC;
            /* roll back: the file must end on a whole record */
            if (ftruncate(L->fd, (off_t)saved.size) != 0) {
                L->broken = 1;
                snprintf(L->broken_msg, sizeof L->broken_msg,
                         "a failed write could not be rolled back");
            }
            a->size = saved.size;
            a->records = saved.records;
            a->min_ts = saved.min_ts;
            a->max_ts = saved.max_ts;
            a->last_idx_off = saved.last_idx_off;
            a->nidx = saved_nidx;
            st = pr_err_errno(err, PR_ERR_IO, e, "log %s: cannot append", L->dir);
            goto out;
        }
        done += (size_t)r;
    }
    L->written_end = a->base + a->size - SEG_HDR;
    L->appended += n;
    if (!wait) {
        /* dl_sync does the rest */
    } else if (L->policy == FSYNC_ALWAYS) {
        if (fdatasync(L->fd) != 0) {
            L->broken = 1;
            snprintf(L->broken_msg, sizeof L->broken_msg, "fdatasync failed: %s",
                     strerror(errno));
            st = pr_err_set(err, PR_ERR_IO, "log %s: %s", L->dir, L->broken_msg);
            goto out;
        }
        L->fsyncs++;
        L->synced_end = L->written_end;
    } else if (L->policy == FSYNC_BATCH) {
        uint64_t mine = L->written_end;
        L->unsynced++;
        pthread_cond_signal(&L->cv_work);
        while (L->synced_end < mine && !L->broken) pthread_cond_wait(&L->cv_done, &L->mu);
        /* woken by the sync that covered us (flusher or rotation moved us
         * to leaving), or by a failure: then count ourselves out here */
        if (L->synced_end >= mine || L->leaving > 0) L->leaving--;
        else L->unsynced--;
        if (L->synced_end < mine)
            st = pr_err_set(err, PR_ERR_IO, "log %s: %s", L->dir, L->broken_msg);
    }
out:
    __atomic_fetch_sub(&L->inflight, 1, __ATOMIC_ACQ_REL);
    pthread_cond_signal(&L->cv_work); /* the flusher may be waiting for us */
    pthread_mutex_unlock(&L->mu);
    return st;
}

static pr_status dl_append(void *impl, const pr_log_entry *recs, uint32_t n, pr_log_pos *last,
                           pr_err *err) {
    return append_impl(impl, recs, n, last, 1, err);
}

static pr_status dl_append_nowait(void *impl, const pr_log_entry *recs, uint32_t n,
                                  pr_log_pos *last, pr_err *err) {
    return append_impl(impl, recs, n, last, 0, err);
}

/* Waits until the record at pos is as durable as the policy says: a record
 * starting at pos.a is synced once synced_end passed pos.a (synced_end is
 * always at a record's end). Same bookkeeping as a waiting appender. */
static pr_status dl_sync(void *impl, pr_log_pos pos, pr_err *err) {
    dirlog *L = impl;
    uint64_t mine = pos.a + 1;
    pr_status st = PR_OK;
    if (L->policy == FSYNC_OFF) return PR_OK;
    __atomic_fetch_add(&L->inflight, 1, __ATOMIC_ACQ_REL);
    pthread_mutex_lock(&L->mu);
    if (L->synced_end >= mine) goto out;
    if (L->broken) {
        st = pr_err_set(err, PR_ERR_IO, "log %s: %s", L->dir, L->broken_msg);
        goto out;
    }
    if (L->policy == FSYNC_ALWAYS) {
        while (L->syncing) pthread_cond_wait(&L->cv_done, &L->mu);
        if (L->synced_end >= mine) goto out;
        uint64_t target = L->written_end;
        if (fdatasync(L->fd) != 0) {
            L->broken = 1;
            snprintf(L->broken_msg, sizeof L->broken_msg, "fdatasync failed: %s",
                     strerror(errno));
            st = pr_err_set(err, PR_ERR_IO, "log %s: %s", L->dir, L->broken_msg);
            goto out;
        }
        L->fsyncs++;
        if (target > L->synced_end) L->synced_end = target;
    } else {
        L->unsynced++;
        pthread_cond_signal(&L->cv_work);
        while (L->synced_end < mine && !L->broken) pthread_cond_wait(&L->cv_done, &L->mu);
        if (L->synced_end >= mine || L->leaving > 0) L->leaving--;
        else L->unsynced--;
        if (L->synced_end < mine)
            st = pr_err_set(err, PR_ERR_IO, "log %s: %s", L->dir, L->broken_msg);
    }
out:
    __atomic_fetch_sub(&L->inflight, 1, __ATOMIC_ACQ_REL);
    pthread_cond_signal(&L->cv_work);
    pthread_mutex_unlock(&L->mu);
    return st;
}

static void dl_stats(void *impl, pr_log_stats *out) {
    dirlog *L = impl;
    pthread_mutex_lock(&L->mu);
    int64_t mn = INT64_MAX, mx = INT64_MIN;
    for (size_t i = 0; i < L->nseg; i++) {
        const seg *s = &L->segs[i];
        out->records += s->records;
        out->bytes += s->size;
        if (s->records) {
            if (s->min_ts < mn) mn = s->min_ts;
            if (s->max_ts > mx) mx = s->max_ts;
        }
    }
    out->segments = L->nseg;
    out->min_ts_ms = out->records ? mn : 0;
    out->max_ts_ms = out->records ? mx : 0;
    out->torn_cuts = L->torn_cuts;
    out->torn_bytes = L->torn_bytes;
    out->appended = L->appended;
    out->fsyncs = L->fsyncs;
    out->dropped = L->dropped;
    pthread_mutex_unlock(&L->mu);
}

/* ---------------------------------------------------------------- reading */

typedef struct dreader {
    dirlog *L;
    uint64_t base;     /* current segment; UINT64_MAX: none open yet */
    uint64_t off;      /* next record's file offset in it */
    int has_seg;
    rdbuf b;
    int64_t skip_before;  /* FROM_TIME: drop records until one has ts >= this */
    int skipping;
    char path[PATH_MAX];
    char consumer[PR_LOG_CONSUMER_MAX + 1];  /* PR_LOG_CONSUMER: its name */
    char *meta;        /* the meta of the commit it started from, or NULL */
} dreader;

/* Consumers. A consumer's commit is the file DIR/consumers/NAME: the
 * position in decimal, a newline, then the meta bytes; replaced atomically (pr_atomic_*: temporary
 * name, fsync, rename, directory fsync) at each commit. log.c has checked
 * the name ([A-Za-z0-9_.-], no leading '.'). */
static void consumer_path(char *buf, size_t cap, const char *dir, const char *name) {
    if (name)
        snprintf(buf, cap, "%s/consumers/%s", dir, name);
    else
        snprintf(buf, cap, "%s/consumers", dir);
}

/* *found 0 when the consumer never committed; else *meta (owned by the
 * caller) is its meta. */
static pr_status consumer_load(const char *dir, const char *name, int *found, uint64_t *pos,
                               char **meta, pr_err *err) {
    char path[PATH_MAX];
    consumer_path(path, sizeof path, dir, name);
    *found = 0;
    struct stat sb;
    if (stat(path, &sb) != 0 && errno == ENOENT) return PR_OK;
    char *text = NULL;
    size_t len = 0;
    pr_status st = pr_read_file(path, &text, &len, err);
    if (st != PR_OK) return st;
    char *nl = memchr(text, '\n', len);
    size_t digits = nl ? (size_t)(nl - text) : len;
    if (!nl || digits == 0 || digits > 20 || strspn(text, "0123456789") != digits ||
        memchr(text, 0, len)) {
        free(text);
        return pr_err_set(err, PR_ERR_FORMAT,
                          "log consumer file %s: expected a decimal position and a newline",
                          path);
    }
    *pos = strtoull(text, NULL, 10);
    memmove(text, nl + 1, len - digits - 1);
    text[len - digits - 1] = 0;
    *meta = text;
    *found = 1;
    return PR_OK;
}

static pr_status dl_commit(void *impl, pr_log_pos pos, const char *meta, pr_err *err) {
    dreader *r = impl;
    char path[PATH_MAX];
    consumer_path(path, sizeof path, r->L->dir, NULL);
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return pr_err_errno(err, PR_ERR_IO, errno, "log: cannot create %s", path);
    consumer_path(path, sizeof path, r->L->dir, r->consumer);
    char text[32];
    int n = snprintf(text, sizeof text, "%" PRIu64 "\n", pos.a);
    pr_atomic_file *f;
    pr_status st = pr_atomic_open(path, &f, err);
    if (st != PR_OK) return st;
    st = pr_atomic_write(f, text, (size_t)n, err);
    if (st == PR_OK) st = pr_atomic_write(f, meta, strlen(meta), err);
    if (st != PR_OK) {
        pr_atomic_abort(f);
        return st;
    }
    return pr_atomic_commit(f, err);
}

static pr_status rd_open_seg(dreader *r, uint64_t base, pr_err *err) {
    if (r->b.fd >= 0) close(r->b.fd);
    r->b.fd = -1;
    r->b.len = 0;
    r->has_seg = 0;
    seg_path(r->path, sizeof r->path, r->L->dir, base, "seg");
    int fd = open(r->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return PR_ERR_NOTFOUND;
        return pr_err_errno(err, PR_ERR_IO, errno, "log: cannot open %s", r->path);
    }
    pr_status st = check_header(fd, r->path, base, err);
    if (st == PR_ERR_TRUNCATED) st = PR_OK; /* being created: reads as empty for now */
    if (st != PR_OK) {
        close(fd);
        return st;
    }
    r->b.fd = fd;
    r->base = base;
    r->off = SEG_HDR;
    r->has_seg = 1;
    return PR_OK;
}

/* The first segment whose base is > after (or >= when ge), from DIR. */
static pr_status next_base(const char *dir, uint64_t after, int ge, int *found, uint64_t *out,
                           pr_err *err) {
    uint64_t *b;
    size_t n;
    pr_status st = list_bases(dir, &b, &n, err);
    if (st != PR_OK) return st;
    *found = 0;
    for (size_t i = 0; i < n; i++)
        if (ge ? b[i] >= after : b[i] > after) {
            *found = 1;
            *out = b[i];
            break;
        }
    free(b);
    return PR_OK;
}

static pr_status dl_reader_open(void *impl, const pr_log_start *start, void **out, int *skipped,
                                pr_err *err) {
    dirlog *L = impl;
    dreader *r = calloc(1, sizeof *r);
    if (!r) return pr_err_set(err, PR_ERR_NOMEM, "log: out of memory");
    r->L = L;
    r->b.fd = -1;
    uint64_t *bases = NULL;
    size_t nb = 0;
    pr_status st = list_bases(L->dir, &bases, &nb, err);
    if (st != PR_OK) goto fail;
    pr_log_start resolved = *start;
    if (start->kind == PR_LOG_CONSUMER) {
        snprintf(r->consumer, sizeof r->consumer, "%s", start->consumer);
        int found = 0;
        st = consumer_load(L->dir, start->consumer, &found, &resolved.after.a, &r->meta, err);
        if (st != PR_OK) goto fail;
        resolved.kind = found ? PR_LOG_AFTER_POS : PR_LOG_FROM_START;
        resolved.after.b = 0;
        start = &resolved;
    }
    if (start->kind == PR_LOG_FROM_START || nb == 0) {
        if (nb) {
            st = rd_open_seg(r, bases[0], err);
            if (st == PR_ERR_NOTFOUND) st = PR_OK; /* dropped meanwhile: found at next() */
        }
        if (start->kind == PR_LOG_FROM_TIME) {
            r->skipping = 1;
            r->skip_before = start->from_ms;
        }
    } else if (start->kind == PR_LOG_FROM_TIME) {
        /* the first segment whose max ts reaches from_ms, then the last
         * index entry before which every record is older */
        uint64_t base = bases[nb - 1], off = SEG_HDR;
        pthread_mutex_lock(&L->mu);
        size_t i = 0;
        while (i < L->nseg && L->segs[i].records && L->segs[i].max_ts < start->from_ms) i++;
        if (i < L->nseg) {
            const seg *s = &L->segs[i];
            base = s->base;
            for (uint32_t k = 0; k < s->nidx && s->idx[k].max_before < start->from_ms; k++)
                off = s->idx[k].off;
        } else if (L->nseg) {
            const seg *s = &L->segs[L->nseg - 1];
            base = s->base;
            off = s->size;
        }
        pthread_mutex_unlock(&L->mu);
        st = rd_open_seg(r, base, err);
        if (st == PR_ERR_NOTFOUND) st = PR_OK;
        else if (st == PR_OK) r->off = off;
        r->skipping = 1;
        r->skip_before = start->from_ms;
    } else {
        uint64_t p = start->after.a;
        size_t i = nb;
        while (i > 0 && bases[i - 1] > p) i--;
        if (i == 0) {  /* older than anything kept */
            *skipped = 1;
            st = rd_open_seg(r, bases[0], err);
            if (st == PR_ERR_NOTFOUND) st = PR_OK;
        } else {
            st = rd_open_seg(r, bases[i - 1], err);
            if (st == PR_OK) {
                r->off = p - bases[i - 1] + SEG_HDR;
                const char *h;
                uint32_t n;
                int ioerr = 0;
                int k = rec_at(&r->b, r->off, &h, &n, &ioerr);
                if (k != REC_OK || start->after.b != 0) {
                    st = pr_err_set(err, PR_ERR_INVALID,
                                    "log: position %" PRIu64 " is not a record in %s", p,
                                    r->path);
                } else {
                    r->off += REC_HDR + n;
                }
            } else if (st == PR_ERR_NOTFOUND) {
                st = pr_err_set(err, PR_ERR_INVALID,
                                "log: position %" PRIu64 ": its segment is gone", p);
            }
        }
    }
    if (st != PR_OK) goto fail;
    free(bases);
    *out = r;
    return PR_OK;
fail:
    free(bases);
    if (r->b.fd >= 0) close(r->b.fd);
    free(r->b.buf);
    free(r->meta);
    free(r);
    return st;
}

static pr_status dl_next(void *impl, pr_log_record *out, pr_err *err) {
    dreader *r = impl;
    for (;;) {
        if (!r->has_seg) {
            int found;
            uint64_t nb;
            pr_status st = next_base(r->L->dir, 0, 1, &found, &nb, err);
            if (st != PR_OK) return st;
            if (!found) return PR_EOF;
            st = rd_open_seg(r, nb, err);
            if (st == PR_ERR_NOTFOUND) continue;
            if (st != PR_OK) return st;
        }
        const char *h;
        uint32_t n;
        int ioerr = 0;
        int k = rec_at(&r->b, r->off, &h, &n, &ioerr);
        if (k == REC_IOERR)
            return pr_err_errno(err, PR_ERR_IO, ioerr, "log: cannot read %s", r->path);
        if (k != REC_OK) {
            /* the end of what is written, or of a closed segment? */
            int found;
            uint64_t nb;
            pr_status st = next_base(r->L->dir, r->base, 0, &found, &nb, err);
            if (st != PR_OK) return st;
            if (!found) return PR_EOF;  /* the active segment: the rest is unwritten */
            r->b.len = 0;               /* the writer may have finished it meanwhile */
            k = rec_at(&r->b, r->off, &h, &n, &ioerr);
            if (k == REC_IOERR)
                return pr_err_errno(err, PR_ERR_IO, ioerr, "log: cannot read %s", r->path);
            if (k != REC_OK) {
                struct stat sb;
                if (fstat(r->b.fd, &sb) != 0)
                    return pr_err_errno(err, PR_ERR_IO, errno, "log: cannot stat %s", r->path);
                if ((uint64_t)sb.st_size == r->off) {  /* clean end: next segment */
                    st = rd_open_seg(r, nb, err);
                    if (st == PR_ERR_NOTFOUND) continue;
                    if (st != PR_OK) return st;
                    continue;
                }
                return pr_err_set(err, k == REC_BAD ? PR_ERR_CHECKSUM : PR_ERR_TRUNCATED,
                                  "log: %s: %s record at offset %" PRIu64
                                  " of a closed segment",
                                  r->path, k == REC_BAD ? "corrupt" : "truncated", r->off);
            }
        }
        uint64_t at = r->off;
        r->off += REC_HDR + n;
        int64_t ts = (int64_t)get64(h + 8);
        if (r->skipping) {
            if (ts < r->skip_before) continue;
            r->skipping = 0;
        }
        out->type = get32(h + 4);
        out->ts_ms = ts;
        out->payload = pr_bytes_of(h + REC_HDR, n);
        out->pos.a = r->base + at - SEG_HDR;
        out->pos.b = 0;
        return PR_OK;
    }
}

static const char *dl_commit_meta(void *impl) { return ((dreader *)impl)->meta; }

static void dl_reader_close(void *impl) {
    dreader *r = impl;
    if (r->b.fd >= 0) close(r->b.fd);
    free(r->b.buf);
    free(r->meta);
    free(r);
}

static void dl_pos_format(pr_log_pos pos, char *buf, size_t cap) {
    snprintf(buf, cap, "%" PRIu64, pos.a);
}

static pr_status dl_pos_parse(const char *text, pr_log_pos *out, pr_err *err) {
    uint64_t v;
    size_t n = strlen(text);
    if (n == 0 || n > 20 || (n == 20 && strcmp(text, "18446744073709551615") > 0) ||
        strspn(text, "0123456789") != n)
        return pr_err_set(err, PR_ERR_PARSE, "log position '%.40s': expected a decimal number",
                          text);
    v = strtoull(text, NULL, 10);
    out->a = v;
    out->b = 0;
    return PR_OK;
}

const pr_log_api pr__log_dir_api = {
    .name = "log",
    .open = dl_open,
    .close = dl_close,
    .append = dl_append,
    .append_nowait = dl_append_nowait,
    .sync = dl_sync,
    .reader_open = dl_reader_open,
    .next = dl_next,
    .commit = dl_commit,
    .commit_meta = dl_commit_meta,
    .corrupt = NULL,
    .reader_close = dl_reader_close,
    .stats = dl_stats,
    .pos_format = dl_pos_format,
    .pos_parse = dl_pos_parse,
};
