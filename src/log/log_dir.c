/*
 * log_dir.c: the embedded event-log backend "log:DIR" (pronto/log.h,
 * docs/log.md). The log is a directory of segment files, each a header and
 * framed records, named by the position of their first record:
 *
 *   DIR/LOCK                           flock'ed by the one writer
 *   DIR/00000000000000000000.seg       segments, 20-digit zero-padded base
 *   DIR/00000000000000131048.seg       (order = name order; no manifest)
 *   DIR/00000000000000000000.idx       time index of a closed segment
 *   DIR/00000000000000000000.zseg      a closed segment, zstd-compressed
 *                                      (layout below, "compressed segments")
 *   DIR/consumers/NAME                 a named consumer's last commit
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
 * a lone writer is synced at once, concurrent ones share fsyncs. Readers
 * keep their own fd and buffer (rdbuf; for a .zseg it decompresses the
 * frames covering what is asked, so every reading path sees plain-file
 * offsets) and take mu only to look at the segment table (in-process) or
 * list DIR (always).
 *
 * fsync=off writes through a shared mapping of the active segment
 * (map_reserve: posix_fallocate'd ahead in steps of 64 KiB doubling to
 * 4 MiB, prefaulted), so an append is no
 * system call; its file then ends in zeros up to map_len, cut at rotation
 * and close (map_release) or, after a crash, by the next writing open.
 *
 * Compression (compress_closed, by pr_log_compact or the compactor thread
 * of compress=zstd) works on closed segments without mu: a segment being
 * compressed is marked busy (retention leaves it), the .zseg is written
 * under a temporary name, fsynced and renamed, then the .seg removed; mu is
 * taken only to pick the segment and to record the result (z, disk).
 * Corrupt records: a reader with skip_corrupt resyncs (resync) past them;
 * dl_verify checks everything a reader would plus frames and .idx files.
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
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zstd.h>

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
    uint64_t size;     /* file bytes of the valid prefix (uncompressed) */
    uint64_t disk;     /* bytes of the file on disk (compressed if z) */
    int z;             /* stored as DIR/<base>.zseg */
    uint64_t records;
    int64_t min_ts, max_ts;  /* INT64_MAX, INT64_MIN while empty */
    int64_t mtime_ms;
    int busy;          /* being compressed: retention leaves it (and what follows) */
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
    char *map;                /* fsync=off: the active segment mapped, map_len bytes */
    uint64_t map_len;
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
    int compress;             /* compress=zstd: a compactor thread compresses closed segments */
    pthread_t compactor;
    int have_compactor;
    pthread_cond_t cv_compact;
    int cwork, cstop;         /* compactor: segments to compress / stop (mu; cstop atomic) */
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

/* ---------------------------------------------------------------- compressed segments */

/* A compressed segment file DIR/<base>.zseg holds the bytes of the plain
 * segment file (its 24-byte header included) cut into frames of ZFRAME
 * bytes, each compressed alone as a zstd frame with its content checksum,
 * so any byte range is read by decompressing the frames that cover it:
 *
 *   OFFSET  SIZE     DESCRIPTION
 *   0       8        magic "PRLOGZSG"
 *   8       4        format version (1)
 *   12      4        raw bytes per frame F (the last frame may be shorter)
 *   16      8        base (= the file name)
 *   24      8        raw size: the plain segment's file size
 *   32      4        frames k (= ceil(raw size / F))
 *   36      4        reserved, 0
 *   40      8*(k+1)  file offset of frame i; the last is the file's size
 *   ...     8        xxh3-64 (pr_hash64, seed 0) of every byte before it
 *   ...              the k zstd frames, back to back
 *
 * File offsets inside the raw bytes are those of the plain file, so
 * positions, .idx files and everything that reads records are unchanged. */
#define Z_MAGIC "PRLOGZSG"
#define Z_HDR 40u
#define ZFRAME (256u << 10)

typedef struct zsrc {
    uint32_t frame;      /* raw bytes per frame */
    uint32_t k;
    uint64_t raw_size;
    uint64_t *zoff;      /* k + 1 file offsets */
    char *fbuf;          /* the decompressed frame `cur` */
    int64_t cur;
    char *zbuf;
    size_t zcap;
    ZSTD_DCtx *dctx;
    uint64_t bad_off;    /* file offset of the last frame that failed */
    uint32_t bad_frame;
    int64_t known_bad;   /* a frame that failed once (skip_corrupt's scan), or -1 */
} zsrc;

static void zsrc_free(zsrc *z) {
    if (!z) return;
    free(z->zoff);
    free(z->fbuf);
    free(z->zbuf);
    ZSTD_freeDCtx(z->dctx);
    free(z);
}

/* ---------------------------------------------------------------- buffered pread */

typedef struct rdbuf {
    int fd;
    char *buf;
    size_t cap;
    uint64_t off;  /* file offset of buf[0] (raw offset when z) */
    size_t len;
    zsrc *z;       /* non-NULL: fd is a .zseg, offsets are raw */
} rdbuf;

/* Decompresses frame fi into z->fbuf. 0, or an errno (EBADMSG: the frame
 * is corrupt, z->bad_off says where). */
static int z_load(int fd, zsrc *z, uint32_t fi) {
    if (z->cur == (int64_t)fi) return 0;
    if (z->known_bad == (int64_t)fi) { /* failed before: do not decompress again */
        z->bad_off = z->zoff[fi];
        z->bad_frame = fi;
        return EBADMSG;
    }
    z->cur = -1;
    uint64_t zs = z->zoff[fi], ze = z->zoff[fi + 1];
    size_t zn = (size_t)(ze - zs);
    size_t want = fi + 1 == z->k ? (size_t)(z->raw_size - (uint64_t)fi * z->frame) : z->frame;
    if (zn > z->zcap) {
        char *nb = realloc(z->zbuf, zn);
        if (!nb) return ENOMEM;
        z->zbuf = nb;
        z->zcap = zn;
    }
    size_t got = 0;
    while (got < zn) {
        ssize_t r = pread(fd, z->zbuf + got, zn - got, (off_t)(zs + got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return errno;
        if (r == 0) break;
        got += (size_t)r;
    }
    size_t d = got == zn ? ZSTD_decompressDCtx(z->dctx, z->fbuf, z->frame, z->zbuf, zn) : 0;
    if (got != zn || ZSTD_isError(d) || d != want) {
        z->bad_off = zs;
        z->bad_frame = fi;
        z->known_bad = fi;
        return EBADMSG;
    }
    z->cur = fi;
    return 0;
}

static int rd_grow(rdbuf *b, size_t n) {
    if (n <= b->cap) return 0;
    size_t c = b->cap ? b->cap : 1 << 16;
    while (c < n) c *= 2;
    char *nb = realloc(b->buf, c);
    if (!nb) return ENOMEM;
    b->buf = nb;
    b->cap = c;
    return 0;
}

/* Bytes [off, off + n) of the file, or NULL if the file ends before (or
 * *ioerr on a read error / no memory / EBADMSG: a corrupt compressed
 * frame). */
static const char *rd_get(rdbuf *b, uint64_t off, size_t n, int *ioerr) {
    if (off >= b->off && off + n <= b->off + b->len) return b->buf + (off - b->off);
    if (!b->cap && n < (1u << 16) && rd_grow(b, 1u << 16)) {
        *ioerr = ENOMEM;
        return NULL;
    }
    if (rd_grow(b, n)) {
        *ioerr = ENOMEM;
        return NULL;
    }
    b->off = off;
    b->len = 0;
    if (b->z) {
        zsrc *z = b->z;
        while (b->len < b->cap && off + b->len < z->raw_size) {
            uint64_t at = off + b->len;
            uint32_t fi = (uint32_t)(at / z->frame);
            int e = z_load(b->fd, z, fi);
            if (e) {
                *ioerr = e;
                b->len = 0;
                return NULL;
            }
            uint64_t fs = (uint64_t)fi * z->frame;
            uint64_t fe = fi + 1 == z->k ? z->raw_size : fs + z->frame;
            size_t take = (size_t)(fe - at);
            if (take > b->cap - b->len) take = b->cap - b->len;
            memcpy(b->buf + b->len, z->fbuf + (at - fs), take);
            b->len += take;
            if (b->len >= n && b->len >= (1u << 16)) break;
        }
        return b->len >= n ? b->buf : NULL;
    }
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

static void rd_close(rdbuf *b) {
    if (b->fd >= 0) close(b->fd);
    b->fd = -1;
    b->len = 0;
    zsrc_free(b->z);
    b->z = NULL;
}

/* The error for a failed read of path through b. */
static pr_status rd_error(pr_err *err, const rdbuf *b, const char *path, int ioerr) {
    if (ioerr == EBADMSG && b->z)
        return pr_err_set(err, PR_ERR_CHECKSUM,
                          "log: %s: corrupt compressed frame %u at byte offset %" PRIu64, path,
                          b->z->bad_frame, b->z->bad_off);
    return pr_err_errno(err, PR_ERR_IO, ioerr, "log: cannot read %s", path);
}

/* Reads the header and frame table of the .zseg open as fd into a new
 * zsrc. PR_ERR_FORMAT naming path when they do not hold. */
static pr_status z_open(int fd, const char *path, uint64_t base, zsrc **out, pr_err *err) {
    *out = NULL;
    struct stat sb;
    if (fstat(fd, &sb) != 0) return pr_err_errno(err, PR_ERR_IO, errno, "log: cannot stat %s", path);
    char h[Z_HDR];
    if (pread(fd, h, Z_HDR, 0) != (ssize_t)Z_HDR || memcmp(h, Z_MAGIC, 8) != 0)
        return pr_err_set(err, PR_ERR_FORMAT, "log: %s is not a compressed pronto log segment",
                          path);
    if (get32(h + 8) != PR__LOG_VERSION)
        return pr_err_set(err, PR_ERR_VERSION,
                          "log: %s was written by log format version %u; this pronto reads "
                          "version %u only",
                          path, get32(h + 8), PR__LOG_VERSION);
    uint32_t frame = get32(h + 12), k = get32(h + 32);
    uint64_t raw = get64(h + 24);
    if (get64(h + 16) != base || frame < 4096 || frame > (64u << 20) || raw < SEG_HDR ||
        (raw + frame - 1) / frame != k || (uint64_t)sb.st_size < Z_HDR + 8ull * k + 16)
        return pr_err_set(err, PR_ERR_FORMAT, "log: %s: bad compressed segment header", path);
    size_t tn = Z_HDR + 8ull * (k + 1) + 8;
    char *t = malloc(tn);
    zsrc *z = calloc(1, sizeof *z);
    if (!t || !z) {
        free(t);
        free(z);
        return pr_err_set(err, PR_ERR_NOMEM, "log: out of memory");
    }
    pr_status st = PR_OK;
    if (pread(fd, t, tn, 0) != (ssize_t)tn || get64(t + tn - 8) != pr_hash64(t, tn - 8, 0))
        st = pr_err_set(err, PR_ERR_CHECKSUM, "log: %s: corrupt frame table", path);
    z->frame = frame;
    z->k = k;
    z->raw_size = raw;
    z->cur = -1;
    z->known_bad = -1;
    z->zoff = malloc(8ull * (k + 1));
    z->fbuf = malloc(frame);
    z->dctx = ZSTD_createDCtx();
    if (st == PR_OK && (!z->zoff || !z->fbuf || !z->dctx))
        st = pr_err_set(err, PR_ERR_NOMEM, "log: out of memory");
    for (uint32_t i = 0; st == PR_OK && i <= k; i++) {
        z->zoff[i] = get64(t + Z_HDR + 8ull * i);
        if ((i == 0 && z->zoff[0] != tn) || (i > 0 && z->zoff[i] <= z->zoff[i - 1]) ||
            (i == k && z->zoff[k] != (uint64_t)sb.st_size))
            st = pr_err_set(err, PR_ERR_FORMAT, "log: %s: bad frame table (frame %u)", path, i);
    }
    free(t);
    if (st != PR_OK) {
        zsrc_free(z);
        return st;
    }
    *out = z;
    return PR_OK;
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

/* Checks a segment header: r bytes of the file's first SEG_HDR at h.
 * Returns PR_OK, or PR_ERR_TRUNCATED when the file is shorter than a
 * header (a segment being created), or a refusal naming the file. */
static pr_status check_header(const char *h, ssize_t r, const char *path, uint64_t base,
                              pr_err *err) {
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

/* Opens segment base for reading: DIR/<base>.seg (read-write when rw),
 * else DIR/<base>.zseg. b (closed first) gets the file, b->z set for a
 * compressed one; path its name (PATH_MAX); *raw the plain size (a plain
 * file's size now), *disk the file's size. The header is checked:
 * PR_ERR_TRUNCATED (err set) for a plain file shorter than a header, and
 * PR_ERR_CHECKSUM for a compressed one whose first frame is corrupt, with
 * b open. PR_ERR_NOTFOUND (err untouched) if neither file exists. */
static pr_status seg_open_read(const char *dir, uint64_t base, int rw, rdbuf *b, char *path,
                               uint64_t *raw, uint64_t *disk, pr_err *err) {
    rd_close(b);
    seg_path(path, PATH_MAX, dir, base, "seg");
    int fd = open(path, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    int z = 0;
    if (fd < 0 && errno == ENOENT && !rw) {
        seg_path(path, PATH_MAX, dir, base, "zseg");
        fd = open(path, O_RDONLY | O_CLOEXEC);
        z = 1;
    }
    if (fd < 0) {
        if (errno == ENOENT) return PR_ERR_NOTFOUND;
        return pr_err_errno(err, PR_ERR_IO, errno, "log: cannot open %s", path);
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return pr_err_errno(err, PR_ERR_IO, e, "log: cannot stat %s", path);
    }
    b->fd = fd;
    *disk = *raw = (uint64_t)sb.st_size;
    if (z) {
        pr_status st = z_open(fd, path, base, &b->z, err);
        if (st != PR_OK) {
            rd_close(b);
            return st;
        }
        *raw = b->z->raw_size;
    }
    int ioerr = 0;
    const char *h = rd_get(b, 0, SEG_HDR, &ioerr);
    if (!h && ioerr) /* a corrupt first frame: b stays open, *raw set */
        return rd_error(err, b, path, ioerr);
    pr_status st = check_header(h ? h : b->buf, h ? (ssize_t)SEG_HDR : (ssize_t)b->len, path,
                                base, err);
    if (st != PR_OK && st != PR_ERR_TRUNCATED) rd_close(b);
    if (st == PR_ERR_TRUNCATED && z) {
        rd_close(b);
        st = pr_err_set(err, PR_ERR_FORMAT, "log: %s: compressed segment without a header", path);
    }
    return st;
}

/* 1 if bytes [from, to) of the file are all zero: the preallocated tail
 * of a mapped segment (fsync=off) that a crash left uncut. */
static int all_zero(rdbuf *b, uint64_t from, uint64_t to) {
    while (from < to) {
        int ioerr = 0;
        size_t n = to - from > 65536 ? 65536 : (size_t)(to - from);
        const char *p = rd_get(b, from, n, &ioerr);
        if (!p) return 0;
        for (size_t i = 0; i < n; i++)
            if (p[i]) return 0;
        from += n;
    }
    return 1;
}

/* Scans records from SEG_HDR, filling s (size = end of the valid prefix).
 * *bad: REC_OK if the file ends exactly after a record, else why it stopped. */
static pr_status scan_seg(rdbuf *b, const char *path, seg *s, uint64_t every, int *bad,
                          pr_err *err) {
    uint64_t off = SEG_HDR;
    *bad = REC_OK;
    b->len = 0;
    for (;;) {
        const char *h;
        uint32_t n;
        int ioerr = 0;
        int k = rec_at(b, off, &h, &n, &ioerr);
        if (k == REC_IOERR) return rd_error(err, b, path, ioerr);
        if (k != REC_OK) {
            /* REC_SHORT with nothing at off is a clean end */
            int dummy = 0;
            if (k == REC_SHORT && !rd_get(b, off, 1, &dummy)) k = REC_OK;
            *bad = k;
            break;
        }
        seg_note(s, off, (int64_t)get64(h + 8), REC_HDR + (uint64_t)n, every);
        off += REC_HDR + (uint64_t)n;
    }
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
        size_t nl = strlen(nm);
        if (!(nl == 24 && !strcmp(nm + 20, ".seg")) && !(nl == 25 && !strcmp(nm + 20, ".zseg")))
            continue;
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
    size_t u = 0; /* a base may be there twice (.seg and .zseg) mid-compaction */
    for (size_t i = 0; i < *n; i++)
        if (!u || (*out)[u - 1] != (*out)[i]) (*out)[u++] = (*out)[i];
    *n = u;
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
        } else if (OPT("compress")) {
            if (vl == 4 && !memcmp(v, "zstd", 4)) L->compress = 1;
            else if (vl == 4 && !memcmp(v, "none", 4)) L->compress = 0;
            else bad = PR_ERR_INVALID;
        } else if (OPT("index_bytes")) {
            bad = parse_u64(v, vl, 64, 1ull << 30, &L->index_bytes);
        } else {
            return pr_err_set(err, PR_ERR_INVALID,
                              "log URI: unknown option '%.*s' (fsync, segment_bytes, "
                              "segment_ms, retain_bytes, retain_ms, index_bytes, compress)",
                              (int)nl, q);
        }
#undef OPT
        if (bad != PR_OK)
            return pr_err_set(err, PR_ERR_INVALID,
                              "log URI: bad value '%.*s' for option '%.*s'%s", (int)vl, v,
                              (int)nl, q,
                              nl == 5 ? " (always, off or batch:MS with MS 1..10000)"
                              : nl == 8 ? " (zstd or none)" : "");
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
    pthread_cond_destroy(&L->cv_compact);
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

static uint64_t seg_disk(const seg *s) { return s->z ? s->disk : s->size; }

/* Drops the oldest closed segments beyond retain_bytes / retain_ms (0:
 * no limit) but never one being compressed. mu held (or no other thread
 * yet). Returns how many were dropped. */
static uint64_t retention_with(dirlog *L, uint64_t retain_bytes, uint64_t retain_ms) {
    if (!L->write || (!retain_bytes && !retain_ms)) return 0;
    uint64_t total = 0, dropped = 0;
    for (size_t i = 0; i < L->nseg; i++) total += seg_disk(&L->segs[i]);
    int64_t now = wall_ms();
    while (L->nseg > 1) {
        seg *s = &L->segs[0];
        int drop = (retain_bytes && total > retain_bytes) ||
                   (retain_ms && s->mtime_ms < now - (int64_t)retain_ms);
        if (!drop || s->busy) break;
        char path[PATH_MAX];
        seg_path(path, sizeof path, L->dir, s->base, s->z ? "zseg" : "seg");
        if (unlink(path) != 0 && errno != ENOENT) {
            pr_log(PR_LOG_WARN, "pr_log: retention cannot remove %s: %s", path, strerror(errno));
            break;
        }
        seg_path(path, sizeof path, L->dir, s->base, "idx");
        unlink(path);
        total -= seg_disk(s);
        free(s->idx);
        memmove(&L->segs[0], &L->segs[1], (L->nseg - 1) * sizeof *L->segs);
        L->nseg--;
        L->dropped++;
        dropped++;
    }
    return dropped;
}

static void apply_retention(dirlog *L) { (void)retention_with(L, L->retain_bytes, L->retain_ms); }

/* ---------------------------------------------------------------- compression */

static pr_status fsync_dir(const char *dir, pr_err *err);

static pr_status write_all(int fd, const char *p, size_t n, uint64_t off) {
    while (n) {
        ssize_t r = pwrite(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return PR_ERR_IO;
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return PR_OK;
}

/* Compresses the closed plain segment `base` of `raw` bytes. Crash-safe
 * order: DIR/<base>.zseg.tmp is written and fdatasync'ed, renamed to
 * DIR/<base>.zseg, the directory fsynced, and only then the plain file
 * removed; at every instant one whole copy is there under a name readers
 * take (.seg first, else .zseg), and a reader holding the plain file open
 * keeps reading it. *stop (atomic) nonzero aborts between frames. *zsize:
 * the compressed file's size. The caller marked the segment busy. */
static pr_status compress_file(dirlog *L, uint64_t base, uint64_t raw, const int *stop,
                               uint64_t *zsize, pr_log_progress_fn progress, void *ctx,
                               uint64_t done0, uint64_t total, pr_err *err) {
    char path[PATH_MAX], tmp[PATH_MAX + 8], zpath[PATH_MAX];
    seg_path(path, sizeof path, L->dir, base, "seg");
    seg_path(zpath, sizeof zpath, L->dir, base, "zseg");
    snprintf(tmp, sizeof tmp, "%s.tmp", zpath);
    uint32_t k = (uint32_t)((raw + ZFRAME - 1) / ZFRAME);
    size_t tn = Z_HDR + 8ull * (k + 1) + 8;
    size_t cb = ZSTD_compressBound(ZFRAME);
    char *t = calloc(1, tn), *in = malloc(ZFRAME), *outb = malloc(cb);
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    int in_fd = -1, fd = -1;
    pr_status st = PR_OK;
    if (!t || !in || !outb || !cc) {
        st = pr_err_set(err, PR_ERR_NOMEM, "log: out of memory");
        goto out;
    }
    ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 3);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
    in_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (in_fd < 0) {
        st = pr_err_errno(err, PR_ERR_IO, errno, "log: cannot open %s", path);
        goto out;
    }
    /* the whole file, not only the valid prefix the segment table knows:
     * records after a corrupt one stay for skip_corrupt readers */
    struct stat sb;
    if (fstat(in_fd, &sb) != 0) {
        st = pr_err_errno(err, PR_ERR_IO, errno, "log: cannot stat %s", path);
        goto out;
    }
    raw = (uint64_t)sb.st_size;
    k = (uint32_t)((raw + ZFRAME - 1) / ZFRAME);
    tn = Z_HDR + 8ull * (k + 1) + 8;
    free(t);
    t = calloc(1, tn);
    if (!t) {
        st = pr_err_set(err, PR_ERR_NOMEM, "log: out of memory");
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        st = pr_err_errno(err, PR_ERR_IO, errno, "log: cannot create %s", tmp);
        goto out;
    }
    uint64_t woff = tn;
    for (uint32_t i = 0; i < k; i++) {
        if (stop && __atomic_load_n(stop, __ATOMIC_ACQUIRE)) {
            st = pr_err_set(err, PR_ERR_IO, "log: compression of %s stopped", path);
            goto out;
        }
        size_t want = i + 1 == k ? (size_t)(raw - (uint64_t)i * ZFRAME) : ZFRAME, got = 0;
        while (got < want) {
            ssize_t r = pread(in_fd, in + got, want - got, (off_t)((uint64_t)i * ZFRAME + got));
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) {
                st = pr_err_errno(err, PR_ERR_IO, r < 0 ? errno : EIO,
                                  "log: cannot read %s (shorter than its %" PRIu64 " bytes?)",
                                  path, raw);
                goto out;
            }
            got += (size_t)r;
        }
        size_t zn = ZSTD_compress2(cc, outb, cb, in, want);
        if (ZSTD_isError(zn)) {
            st = pr_err_set(err, PR_ERR_IO, "log: zstd: %s", ZSTD_getErrorName(zn));
            goto out;
        }
        put64(t + Z_HDR + 8ull * i, woff);
        if (write_all(fd, outb, zn, woff) != PR_OK) {
            st = pr_err_errno(err, PR_ERR_IO, errno, "log: cannot write %s", tmp);
            goto out;
        }
        woff += zn;
        if (progress) progress(ctx, done0 + (uint64_t)i * ZFRAME + want, total);
    }
    memcpy(t, Z_MAGIC, 8);
    put32(t + 8, PR__LOG_VERSION);
    put32(t + 12, ZFRAME);
    put64(t + 16, base);
    put64(t + 24, raw);
    put32(t + 32, k);
    put64(t + Z_HDR + 8ull * k, woff);
    put64(t + tn - 8, pr_hash64(t, tn - 8, 0));
    if (write_all(fd, t, tn, 0) != PR_OK || fdatasync(fd) != 0) {
        st = pr_err_errno(err, PR_ERR_IO, errno, "log: cannot write %s", tmp);
        goto out;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, zpath) != 0) {
        st = pr_err_errno(err, PR_ERR_IO, errno, "log: cannot rename %s", tmp);
        goto out;
    }
    st = fsync_dir(L->dir, err);
    if (st != PR_OK) goto out;
    if (unlink(path) != 0)
        pr_log(PR_LOG_WARN, "pr_log: cannot remove %s after compressing it: %s", path,
               strerror(errno));
    *zsize = woff;
out:
    if (fd >= 0) close(fd);
    if (st != PR_OK) unlink(tmp);
    if (in_fd >= 0) close(in_fd);
    ZSTD_freeCCtx(cc);
    free(t);
    free(in);
    free(outb);
    return st;
}

/* Compresses every closed plain segment, oldest first (the compactor
 * thread, pr_log_compact). mu not held. *n: how many were compressed. */
static pr_status compress_closed(dirlog *L, const int *stop, pr_log_progress_fn progress,
                                 void *ctx, uint64_t *n, pr_err *err) {
    uint64_t total = 0, done = 0;
    pthread_mutex_lock(&L->mu);
    for (size_t i = 0; i + 1 < L->nseg; i++)
        if (!L->segs[i].z) total += L->segs[i].size;
    pthread_mutex_unlock(&L->mu);
    for (;;) {
        pthread_mutex_lock(&L->mu);
        seg *s = NULL;
        for (size_t i = 0; i + 1 < L->nseg && !s; i++)
            if (!L->segs[i].z && !L->segs[i].busy) s = &L->segs[i];
        uint64_t base = 0, raw = 0;
        if (s) {
            s->busy = 1;
            base = s->base;
            raw = s->size;
        }
        pthread_mutex_unlock(&L->mu);
        if (!s) return PR_OK;
        uint64_t zsize = 0;
        pr_status st = compress_file(L, base, raw, stop, &zsize, progress, ctx, done,
                                     total, err);
        pthread_mutex_lock(&L->mu);
        for (size_t i = 0; i < L->nseg; i++)
            if (L->segs[i].base == base) {
                L->segs[i].busy = 0;
                if (st == PR_OK) {
                    L->segs[i].z = 1;
                    L->segs[i].disk = zsize;
                }
            }
        pthread_mutex_unlock(&L->mu);
        if (st != PR_OK) return st;
        done += raw;
        (*n)++;
    }
}

static void *compactor_main(void *arg) {
    dirlog *L = arg;
    pthread_mutex_lock(&L->mu);
    while (!L->cstop) {
        if (!L->cwork) {
            pthread_cond_wait(&L->cv_compact, &L->mu);
            continue;
        }
        L->cwork = 0;
        pthread_mutex_unlock(&L->mu);
        pr_err e;
        uint64_t n = 0;
        if (compress_closed(L, &L->cstop, NULL, NULL, &n, &e) != PR_OK &&
            !__atomic_load_n(&L->cstop, __ATOMIC_ACQUIRE))
            pr_log(PR_LOG_WARN, "pr_log: %s", e.msg);
        pthread_mutex_lock(&L->mu);
    }
    pthread_mutex_unlock(&L->mu);
    return NULL;
}

static pr_status dl_compact(void *impl, const pr_log_compact_opts *o, pr_log_compact_result *out,
                            pr_err *err) {
    dirlog *L = impl;
    pthread_mutex_lock(&L->mu);
    for (size_t i = 0; i < L->nseg; i++) out->bytes_before += seg_disk(&L->segs[i]);
    out->dropped = retention_with(L, o->retain_bytes ? o->retain_bytes : L->retain_bytes,
                                  o->retain_ms ? o->retain_ms : L->retain_ms);
    pthread_mutex_unlock(&L->mu);
    pr_status st = PR_OK;
    if (o->compress) st = compress_closed(L, NULL, o->progress, o->ctx, &out->compressed, err);
    pthread_mutex_lock(&L->mu);
    for (size_t i = 0; i < L->nseg; i++) out->bytes_after += seg_disk(&L->segs[i]);
    pthread_mutex_unlock(&L->mu);
    return st;
}

static void *flusher_main(void *arg);
static void dl_close(void *impl);
static void map_release(dirlog *L);

/* Writing open, before loading: finishes or undoes a compaction a crash
 * interrupted. A *.zseg.tmp is unfinished: removed. A .zseg beside its
 * .seg was renamed into place whole (fsynced first) but the plain file not
 * yet removed: the plain one is kept as the authority and the .zseg
 * removed (a later compaction redoes it). */
static void compaction_cleanup(dirlog *L) {
    DIR *d = opendir(L->dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *nm = e->d_name;
        size_t n = strlen(nm);
        char path[PATH_MAX];
        if (n == 29 && !strcmp(nm + 20, ".zseg.tmp")) {
            snprintf(path, sizeof path, "%s/%s", L->dir, nm);
            if (unlink(path) == 0)
                pr_log(PR_LOG_WARN, "pr_log: %s: unfinished compression removed", path);
        } else if (n == 25 && !strcmp(nm + 20, ".zseg")) {
            char plain[PATH_MAX];
            snprintf(plain, sizeof plain, "%s/%.20s.seg", L->dir, nm);
            struct stat sb;
            if (stat(plain, &sb) == 0) {
                snprintf(path, sizeof path, "%s/%s", L->dir, nm);
                (void)unlink(path);
            }
        }
    }
    closedir(d);
}

static pr_status load_segments(dirlog *L, pr_err *err) {
    uint64_t *bases;
    size_t nb;
    if (L->write) compaction_cleanup(L);
    pr_status st = list_bases(L->dir, &bases, &nb, err);
    if (st != PR_OK) return st;
    rdbuf b = {-1, NULL, 0, 0, 0, NULL};
    for (size_t i = 0; i < nb && st == PR_OK; i++) {
        char path[PATH_MAX], ipath[PATH_MAX];
        seg_path(ipath, sizeof ipath, L->dir, bases[i], "idx");
        int last = i + 1 == nb;
        uint64_t raw, disk;
        st = seg_open_read(L->dir, bases[i], L->write && last, &b, path, &raw, &disk, err);
        if (st == PR_ERR_NOTFOUND) { /* removed meanwhile (a reader racing retention) */
            st = PR_OK;
            continue;
        }
        if (st == PR_ERR_TRUNCATED && last && L->write) {
            /* a crash while creating it: no record can be in it */
            rd_close(&b);
            unlink(path);
            pr_log(PR_LOG_WARN, "pr_log: %s: torn segment header (%llu bytes) removed", path,
                   (unsigned long long)disk);
            L->torn_cuts++;
            L->torn_bytes += disk;
            st = PR_OK;
            break;
        }
        if (st == PR_ERR_TRUNCATED && last) {  /* read-only: an empty segment being born */
            rd_close(&b);
            st = PR_OK;
            break;
        }
        if (st == PR_ERR_CHECKSUM && !last) {
            /* a corrupt compressed closed segment: kept (from its index if
             * it has one) for readers with skip_corrupt and for verify */
            pr_log(PR_LOG_WARN, "pr_log: %s", err->msg);
            seg *s = push_seg(L, err);
            if (!s) {
                st = PR_ERR_NOMEM;
                break;
            }
            s->base = bases[i];
            if (idx_load(ipath, s, raw) != 0) {
                seg_reset(s, bases[i]);
                s->size = raw;
            }
            s->z = 1;
            s->disk = disk;
            s->mtime_ms = wall_ms();
            rd_close(&b);
            st = PR_OK;
            continue;
        }
        if (st != PR_OK) break;
        struct stat sb;
        if (fstat(b.fd, &sb) != 0) {
            st = pr_err_errno(err, PR_ERR_IO, errno, "log: cannot stat %s", path);
            break;
        }
        seg *s = push_seg(L, err);
        if (!s) {
            st = PR_ERR_NOMEM;
            break;
        }
        s->base = bases[i];
        s->mtime_ms = (int64_t)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000;
        if (!last && idx_load(ipath, s, raw) == 0) {
            s->disk = disk;
            s->z = b.z != NULL;
            rd_close(&b);
            continue;
        }
        seg_reset(s, bases[i]);
        s->mtime_ms = (int64_t)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000;
        s->z = b.z != NULL;
        int bad;
        st = scan_seg(&b, path, s, L->index_bytes, &bad, err);
        if (st != PR_OK) break;
        s->disk = disk;
        if (last && L->write) {
            if (s->size < raw) {
                uint64_t cut = raw - s->size;
                int slack = all_zero(&b, s->size, raw);
                if (ftruncate(b.fd, (off_t)s->size) != 0 || fdatasync(b.fd) != 0) {
                    st = pr_err_errno(err, PR_ERR_IO, errno, "log: cannot cut the tail of %s",
                                      path);
                    break;
                }
                if (!slack) {
                    pr_log(PR_LOG_WARN,
                           "pr_log: %s: %s tail at offset %" PRIu64 " cut (%" PRIu64 " bytes)",
                           path, bad == REC_BAD ? "corrupt" : "torn", s->size, cut);
                    L->torn_cuts++;
                    L->torn_bytes += cut;
                }
                s->disk = s->size;
            }
            L->fd = b.fd;
            b.fd = -1;
            L->active_born_ms = wall_ms();
        } else {
            if (!last && bad == REC_OK && L->write) {
                pr_err e2;
                if (idx_write(L, s, &e2) != PR_OK)
                    pr_log(PR_LOG_WARN, "pr_log: %s", e2.msg);
            }
            rd_close(&b);
        }
    }
    rd_close(&b);
    free(b.buf);
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
    pthread_cond_init(&L->cv_compact, NULL);
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
        if (L->compress) {
            L->cwork = 1; /* closed segments left plain by an earlier writer */
            if (pthread_create(&L->compactor, NULL, compactor_main, L) != 0) {
                dl_close(L);
                return pr_err_set(err, PR_ERR_IO, "log: cannot start the compactor thread");
            }
            L->have_compactor = 1;
        }
    }
    *impl = L;
    return PR_OK;
}

static void dl_close(void *impl) {
    dirlog *L = impl;
    if (L->have_compactor) {
        pthread_mutex_lock(&L->mu);
        __atomic_store_n(&L->cstop, 1, __ATOMIC_RELEASE);
        pthread_cond_broadcast(&L->cv_compact);
        pthread_mutex_unlock(&L->mu);
        pthread_join(L->compactor, NULL);
    }
    if (L->have_flusher) {
        pthread_mutex_lock(&L->mu);
        L->stop = 1;
        pthread_cond_broadcast(&L->cv_work);
        pthread_mutex_unlock(&L->mu);
        pthread_join(L->flusher, NULL);
    }
    if (L->write && L->nseg) map_release(L);
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

/* fsync=off writes records straight into a shared mapping of the active
 * segment: no system call per append, and the bytes are in the page cache
 * (kill -9 loses nothing) when append returns, as with write(2). The file
 * is grown ahead in MAP_CHUNK steps with posix_fallocate (blocks reserved:
 * a full disk is an ENOSPC error here, never a SIGBUS later), so its tail
 * beyond the records is zeros until map_release cuts it (rotation, close;
 * after a crash the next writing open does, silently: an all-zero tail
 * is slack; a torn record, unacknowledged, is cut and counted as before,
 * unless what of it reached the file is zeros too). */
#define MAP_CHUNK (4u << 20)

static pr_status map_reserve(dirlog *L, uint64_t end, pr_err *err) {
    if (end <= L->map_len) return PR_OK;
    /* steps of 64 KiB doubling up to MAP_CHUNK: a small log stays small */
    uint64_t cap = (L->seg_bytes + 4095) & ~(uint64_t)4095;
    uint64_t step = L->map_len < (64u << 10) ? (64u << 10) : L->map_len;
    if (step > MAP_CHUNK) step = MAP_CHUNK;
    uint64_t nl = (end + step - 1) / step * step;
    if (nl > cap) nl = cap;
    if (nl < end) nl = (end + 4095) & ~(uint64_t)4095;
    int e = posix_fallocate(L->fd, (off_t)L->map_len, (off_t)(nl - L->map_len));
    if (e) return pr_err_errno(err, PR_ERR_IO, e, "log %s: cannot append", L->dir);
    void *m = L->map ? mremap(L->map, L->map_len, nl, MREMAP_MAYMOVE)
                     : mmap(NULL, nl, PROT_READ | PROT_WRITE, MAP_SHARED, L->fd, 0);
    if (m == MAP_FAILED) {
        e = errno;
        if (L->map) { /* mremap failed: the old mapping stands */
            (void)ftruncate(L->fd, (off_t)L->map_len);
        } else {
            (void)ftruncate(L->fd, (off_t)L->segs[L->nseg - 1].size);
        }
        return pr_err_errno(err, PR_ERR_IO, e, "log %s: cannot map the active segment", L->dir);
    }
#ifdef MADV_POPULATE_WRITE
    /* fault the new pages in writable with one call, not one exception per
     * 4 KiB page at the first record written to each (a third of the time
     * of 1-record appends on a VM); older kernels refuse it: then lazily */
    (void)madvise((char *)m + (L->map_len & ~(uint64_t)4095),
                  (size_t)(nl - (L->map_len & ~(uint64_t)4095)), MADV_POPULATE_WRITE);
#endif
    L->map = m;
    L->map_len = nl;
    return PR_OK;
}

/* Unmaps the active segment and cuts the zeros after its records. */
static void map_release(dirlog *L) {
    if (!L->map) return;
    munmap(L->map, L->map_len);
    L->map = NULL;
    L->map_len = 0;
    if (L->fd >= 0 && ftruncate(L->fd, (off_t)L->segs[L->nseg - 1].size) != 0)
        pr_log(PR_LOG_WARN, "pr_log: %s: cannot cut the preallocated tail: %s", L->dir,
               strerror(errno));
}

/* Closes the active segment (fsync, index) and opens the next. mu held. */
static pr_status rotate(dirlog *L, pr_err *err) {
    while (L->syncing) pthread_cond_wait(&L->cv_done, &L->mu);
    seg *a = &L->segs[L->nseg - 1];
    map_release(L);
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
    if (L->have_compactor) {
        L->cwork = 1;
        pthread_cond_signal(&L->cv_compact);
    }
    return PR_OK;
}

/* With L->mu held: waits until synced_end >= mine, as the policy says
 * (always: an fdatasync of its own unless one in progress covers it;
 * batch: the flusher's; off: none). A record is durable once synced_end passed its
 * first byte, since synced_end always stands at a record's end: an
 * appender passes its record's end, a dl_sync its start + 1. */
static pr_status await_durable(dirlog *L, uint64_t mine, pr_err *err) {
    if (L->policy == FSYNC_OFF || L->synced_end >= mine) return PR_OK;
    if (L->broken) return pr_err_set(err, PR_ERR_IO, "log %s: %s", L->dir, L->broken_msg);
    if (L->policy == FSYNC_ALWAYS) {
        while (L->syncing) pthread_cond_wait(&L->cv_done, &L->mu);
        if (L->synced_end >= mine) return PR_OK;
        uint64_t target = L->written_end;
        if (fdatasync(L->fd) != 0) {
            L->broken = 1;
            snprintf(L->broken_msg, sizeof L->broken_msg, "fdatasync failed: %s",
                     strerror(errno));
            return pr_err_set(err, PR_ERR_IO, "log %s: %s", L->dir, L->broken_msg);
        }
        L->fsyncs++;
        if (target > L->synced_end) L->synced_end = target;
        return PR_OK;
    }
    L->unsynced++;
    pthread_cond_signal(&L->cv_work);
    while (L->synced_end < mine && !L->broken) pthread_cond_wait(&L->cv_done, &L->mu);
    /* woken by the sync that covered us (flusher or rotation moved us to
     * leaving), or by a failure: then count ourselves out here */
    if (L->synced_end >= mine || L->leaving > 0) L->leaving--;
    else L->unsynced--;
    if (L->synced_end < mine) return pr_err_set(err, PR_ERR_IO, "log %s: %s", L->dir, L->broken_msg);
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
    char *dst;
    if (L->policy == FSYNC_OFF) {
        st = map_reserve(L, a->size + need, err);
        if (st != PR_OK) goto out;
        dst = L->map + a->size;
    } else if (need > L->wcap) {
        size_t c = L->wcap ? L->wcap : 1 << 16;
        while (c < need) c *= 2;
        char *nb = realloc(L->wbuf, c);
        if (!nb) {
            st = pr_err_set(err, PR_ERR_NOMEM, "log: out of memory");
            goto out;
        }
        L->wbuf = nb;
        L->wcap = c;
        dst = L->wbuf;
    } else {
        dst = L->wbuf;
    }
    seg saved = *a;
    uint32_t saved_nidx = a->nidx;
    size_t w = 0;
    uint64_t off = a->size;
    for (uint32_t i = 0; i < n; i++) {
        char *h = dst + w;
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
    size_t done = L->policy == FSYNC_OFF ? w : 0; /* mapped: already in the page cache */
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
    if (wait) st = await_durable(L, L->written_end, err);
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
    if (L->policy == FSYNC_OFF) return PR_OK;
    __atomic_fetch_add(&L->inflight, 1, __ATOMIC_ACQ_REL);
    pthread_mutex_lock(&L->mu);
    pr_status st = await_durable(L, pos.a + 1, err);
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
        out->bytes += seg_disk(s);
        out->record_bytes += s->size - SEG_HDR;
        out->compressed += s->z ? 1u : 0u;
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
    int skip_corrupt;     /* resync past corrupt records of closed segments */
    int resume_after;     /* !has_seg: continue after segment after_base */
    uint64_t after_base;
    uint64_t corrupt;     /* corrupt spans skipped */
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
    r->has_seg = 0;
    uint64_t raw, disk;
    pr_status st = seg_open_read(r->L->dir, base, 0, &r->b, r->path, &raw, &disk, err);
    if (st == PR_ERR_TRUNCATED) st = PR_OK; /* being created: reads as empty for now */
    if (st != PR_OK) return st;
    r->base = base;
    r->off = SEG_HDR;
    r->has_seg = 1;
    return PR_OK;
}

/* The file size of the reader's segment (raw size if compressed). */
static pr_status rd_size(dreader *r, uint64_t *out, pr_err *err) {
    if (r->b.z) {
        *out = r->b.z->raw_size;
        return PR_OK;
    }
    struct stat sb;
    if (fstat(r->b.fd, &sb) != 0)
        return pr_err_errno(err, PR_ERR_IO, errno, "log: cannot stat %s", r->path);
    *out = (uint64_t)sb.st_size;
    return PR_OK;
}

/* skip_corrupt: the first offset after `from` in the reader's (closed)
 * segment where a whole record with a good checksum starts, or the file's
 * end. A candidate's length must fit in the file, so most bad offsets are
 * refused after 4 bytes; a compressed frame that fails is stepped over. */
static pr_status resync(dreader *r, uint64_t from, uint64_t *out, pr_err *err) {
    uint64_t size = 0;
    pr_status st = rd_size(r, &size, err);
    if (st != PR_OK) return st;
    for (uint64_t off = from + 1; off + REC_HDR <= size; off++) {
        int ioerr = 0;
        const char *h = rd_get(&r->b, off, REC_HDR, &ioerr);
        if (!h && ioerr == EBADMSG && r->b.z) {  /* next frame */
            off = ((uint64_t)r->b.z->bad_frame + 1) * r->b.z->frame - 1;
            continue;
        }
        if (!h && ioerr) return rd_error(err, &r->b, r->path, ioerr);
        if (!h) break;
        uint32_t len = get32(h);
        if (len > PR_LOG_PAYLOAD_MAX || off + REC_HDR + len > size) continue;
        uint32_t n;
        int k = rec_at(&r->b, off, &h, &n, &ioerr);
        if (k == REC_OK) {
            *out = off;
            return PR_OK;
        }
        if (k == REC_IOERR && ioerr != EBADMSG) return rd_error(err, &r->b, r->path, ioerr);
    }
    *out = size;
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

/* skip_corrupt: a closed segment that cannot be opened (a corrupt header
 * or compressed frame) is skipped whole, counted. 1 if skipped. */
static int skip_unreadable(dreader *r, uint64_t base, pr_status st, pr_err *err) {
    if (!r->skip_corrupt || (st != PR_ERR_CHECKSUM && st != PR_ERR_FORMAT)) return 0;
    pr_log(PR_LOG_WARN, "pr_log: %s skipped", err->msg);
    r->corrupt++;
    r->has_seg = 0;
    r->resume_after = 1;
    r->after_base = base;
    return 1;
}

static pr_status dl_reader_open(void *impl, const pr_log_start *start, void **out, int *skipped,
                                pr_err *err) {
    dirlog *L = impl;
    dreader *r = calloc(1, sizeof *r);
    if (!r) return pr_err_set(err, PR_ERR_NOMEM, "log: out of memory");
    r->L = L;
    r->b.fd = -1;
    r->skip_corrupt = start->skip_corrupt;
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
            if (st != PR_OK && nb > 1 && skip_unreadable(r, bases[0], st, err)) st = PR_OK;
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
    rd_close(&r->b);
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
            pr_status st = next_base(r->L->dir, r->resume_after ? r->after_base : 0,
                                     !r->resume_after, &found, &nb, err);
            if (st != PR_OK) return st;
            if (!found) return PR_EOF;
            st = rd_open_seg(r, nb, err);
            if (st == PR_ERR_NOTFOUND) continue;
            if (st != PR_OK && skip_unreadable(r, nb, st, err)) continue;
            if (st != PR_OK) return st;
        }
        const char *h;
        uint32_t n;
        int ioerr = 0;
        int k = rec_at(&r->b, r->off, &h, &n, &ioerr);
        if (k == REC_IOERR && !(ioerr == EBADMSG && r->skip_corrupt))
            return rd_error(err, &r->b, r->path, ioerr);
        if (k != REC_OK) {
            /* the end of what is written, or of a closed segment? */
            int found;
            uint64_t nb;
            pr_status st = next_base(r->L->dir, r->base, 0, &found, &nb, err);
            if (st != PR_OK) return st;
            if (!found) return PR_EOF;  /* the active segment: the rest is unwritten */
            r->b.len = 0;               /* the writer may have finished it meanwhile */
            if (k != REC_IOERR) k = rec_at(&r->b, r->off, &h, &n, &ioerr);
            if (k == REC_IOERR && !(ioerr == EBADMSG && r->skip_corrupt))
                return rd_error(err, &r->b, r->path, ioerr);
            if (k != REC_OK) {
                uint64_t size = 0;
                st = rd_size(r, &size, err);
                if (st != PR_OK) return st;
                if (size == r->off) {  /* clean end: next segment */
                    st = rd_open_seg(r, nb, err);
                    if (st == PR_ERR_NOTFOUND) continue;
                    if (st != PR_OK && skip_unreadable(r, nb, st, err)) continue;
                    if (st != PR_OK) return st;
                    continue;
                }
                if (r->skip_corrupt) {
                    uint64_t to = 0;
                    st = resync(r, r->off, &to, err);
                    if (st != PR_OK) return st;
                    pr_log(PR_LOG_WARN,
                           "pr_log: %s: corrupt bytes %" PRIu64 "..%" PRIu64 " skipped", r->path,
                           r->off, to);
                    r->corrupt++;
                    r->off = to;
                    continue;
                }
                if (k == REC_IOERR) return rd_error(err, &r->b, r->path, ioerr);
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

static uint64_t dl_corrupt(void *impl) { return ((dreader *)impl)->corrupt; }

/* ---------------------------------------------------------------- verify, consumers */

static pr_status dl_verify(void *impl, pr_log_progress_fn progress, void *ctx,
                           pr_log_verify_report *out, pr_err *err) {
    dirlog *L = impl;
    uint64_t *bases = NULL;
    size_t nb = 0;
    pr_status st = list_bases(L->dir, &bases, &nb, err);
    if (st != PR_OK) return st;
    uint64_t total = 0, done = 0;
    pthread_mutex_lock(&L->mu);
    for (size_t i = 0; i < L->nseg; i++) total += L->segs[i].size;
    pthread_mutex_unlock(&L->mu);
    rdbuf b = {-1, NULL, 0, 0, 0, NULL};
    seg t;
    memset(&t, 0, sizeof t);
    for (size_t i = 0; i < nb && st == PR_OK; i++) {
        char path[PATH_MAX], ipath[PATH_MAX];
        uint64_t raw = 0, disk = 0;
        int last = i + 1 == nb;
        st = seg_open_read(L->dir, bases[i], 0, &b, path, &raw, &disk, err);
        if (st == PR_ERR_NOTFOUND) {  /* dropped by retention meanwhile */
            st = PR_OK;
            continue;
        }
        if (st == PR_ERR_TRUNCATED && last) {  /* being created */
            out->torn_bytes += b.len;
            st = PR_OK;
            break;
        }
        if (st != PR_OK) break;
        out->segments++;
        out->compressed += b.z ? 1u : 0u;
        /* the index, checked against the scan below (closed segments) */
        seg_path(ipath, sizeof ipath, L->dir, bases[i], "idx");
        seg_reset(&t, bases[i]);
        struct stat sb;
        int have_idx = !last && stat(ipath, &sb) == 0;
        if (have_idx && idx_load(ipath, &t, raw) != 0) {
            st = pr_err_set(err, PR_ERR_CHECKSUM,
                            "log: %s: damaged index (checksum, or not of this %" PRIu64
                            "-byte segment)",
                            ipath, raw);
            break;
        }
        uint64_t off = SEG_HDR, recs = 0;
        int64_t mn = INT64_MAX, mx = INT64_MIN;
        uint32_t j = 0;
        int idx_bad = 0;
        int k;
        for (;;) {
            const char *h;
            uint32_t n;
            int ioerr = 0;
            k = rec_at(&b, off, &h, &n, &ioerr);
            if (k == REC_IOERR) {
                st = rd_error(err, &b, path, ioerr);
                break;
            }
            if (k != REC_OK) break;
            if (have_idx) {
                if (j < t.nidx && t.idx[j].off < off) idx_bad = 1;
                if (j < t.nidx && t.idx[j].off == off) {
                    if (t.idx[j].max_before != mx) idx_bad = 1;
                    j++;
                }
            }
            int64_t ts = (int64_t)get64(h + 8);
            if (ts < mn) mn = ts;
            if (ts > mx) mx = ts;
            recs++;
            out->records++;
            out->bytes += REC_HDR + (uint64_t)n;
            off += REC_HDR + (uint64_t)n;
            done += REC_HDR + (uint64_t)n;
            if (progress && !(recs & 1023)) progress(ctx, done, total);
        }
        if (st != PR_OK) break;
        if (off < raw) {
            if (last) {
                if (!all_zero(&b, off, raw)) out->torn_bytes += raw - off; /* else slack */
            } else {
                st = pr_err_set(err, k == REC_BAD ? PR_ERR_CHECKSUM : PR_ERR_TRUNCATED,
                                "log: %s: %s record at offset %" PRIu64 " of a closed segment",
                                path, k == REC_BAD ? "corrupt" : "truncated", off);
                break;
            }
        }
        if (have_idx) {
            if (j != t.nidx || t.records != recs ||
                (recs && (t.min_ts != mn || t.max_ts != mx)))
                idx_bad = 1;
            if (idx_bad) {
                st = pr_err_set(err, PR_ERR_CHECKSUM,
                                "log: %s: index does not match its segment (%" PRIu64
                                " records in the index, %" PRIu64 " in the segment)",
                                ipath, t.records, recs);
                break;
            }
            out->indexes++;
        }
    }
    if (progress) progress(ctx, done, total);
    free(t.idx);
    rd_close(&b);
    free(b.buf);
    free(bases);
    return st;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static pr_status dl_consumers(void *impl, int (*fn)(void *ctx, const pr_log_consumer_info *c),
                              void *ctx, pr_err *err) {
    dirlog *L = impl;
    char path[PATH_MAX];
    consumer_path(path, sizeof path, L->dir, NULL);
    DIR *d = opendir(path);
    if (!d) {
        if (errno == ENOENT) return PR_OK;
        return pr_err_errno(err, PR_ERR_IO, errno, "log: cannot read directory %s", path);
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    pr_status st = PR_OK;
    struct dirent *e;
    while ((e = readdir(d)) && st == PR_OK) {
        const char *nm = e->d_name;
        /* pr_atomic's temporaries are NAME.tmp.PID */
        if (nm[0] == '.' || strstr(nm, ".tmp.") || strlen(nm) > PR_LOG_CONSUMER_MAX) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                st = pr_err_set(err, PR_ERR_NOMEM, "log: out of memory");
                break;
            }
            names = nn;
        }
        if (!(names[n] = strdup(nm))) st = pr_err_set(err, PR_ERR_NOMEM, "log: out of memory");
        else n++;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n && st == PR_OK; i++) {
        int found = 0;
        uint64_t pos = 0;
        char *meta = NULL;
        st = consumer_load(L->dir, names[i], &found, &pos, &meta, err);
        if (st == PR_OK && found) {
            pr_log_consumer_info c = {names[i], {pos, 0}, meta};
            if (fn(ctx, &c)) i = n;
        }
        free(meta);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return st;
}

static const char *dl_commit_meta(void *impl) { return ((dreader *)impl)->meta; }

static void dl_reader_close(void *impl) {
    dreader *r = impl;
    rd_close(&r->b);
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
    .corrupt = dl_corrupt,
    .reader_close = dl_reader_close,
    .stats = dl_stats,
    .pos_format = dl_pos_format,
    .pos_parse = dl_pos_parse,
    .consumers = dl_consumers,
    .verify = dl_verify,
    .compact = dl_compact,
};
