/*
 * fuzz_log_segment.c: arbitrary bytes as the one segment file of a log:DIR
 * event log, opened read-only (read to the end), then for writing (torn or
 * corrupt tail cut), then read again and appended to. Must never crash or
 * leak; every failure must explain itself; the records a read-only reader
 * sees are exactly those a writer keeps, and an append after recovery
 * reads back.
 *
 * Random bytes almost never pass the record checksums, so an input that
 * starts with the segment magic is tried twice: as given, and with the
 * header made valid (version 1, base 0) and every record checksum that
 * fits recomputed, which sends mutated lengths and payloads through the
 * recovery and the reader.
 *
 * Compressed segments: the (fixed) bytes, made the closed segment 0 of a
 * two-segment log, are compressed by pr_log_compact and must read back
 * the same records as plain; and the input as given is tried as a .zseg
 * file itself (with the frame-table checksum made to hold when it starts
 * with the .zseg magic, so garbage frames reach the decompressor): readers,
 * verify and a writing open must explain every failure.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pronto/log.h"

static char dir[64];
static char seg[128], idx[128], lock[128], zseg[128], seg2[128], idx2[128];

static void clear_dir(void) {
    unlink(seg);
    unlink(idx);
    unlink(zseg);
    unlink(seg2);
    unlink(idx2);
}

static void cleanup(void) {
    clear_dir();
    unlink(lock);
    rmdir(dir);
}

static void setup(void) {
    if (dir[0]) return;
    snprintf(dir, sizeof dir, "/tmp/pronto-fuzz-log-XXXXXX");
    if (!mkdtemp(dir)) abort();
    snprintf(seg, sizeof seg, "%s/00000000000000000000.seg", dir);
    snprintf(idx, sizeof idx, "%s/00000000000000000000.idx", dir);
    snprintf(lock, sizeof lock, "%s/LOCK", dir);
    snprintf(zseg, sizeof zseg, "%s/00000000000000000000.zseg", dir);
    snprintf(seg2, sizeof seg2, "%s/00000001099511627776.seg", dir);
    snprintf(idx2, sizeof idx2, "%s/00000001099511627776.idx", dir);
    atexit(cleanup);
    pr_log_set_level(PR_LOG_ERROR);
}

/* Reads every record; returns the count, or -1 on an explained error. */
static long read_all(pr_event_log *log) {
    pr_err err;
    pr_log_reader *r;
    if (pr_log_reader_open(log, NULL, &r, &err) != PR_OK) {
        if (!err.msg[0]) abort();
        return -1;
    }
    pr_log_record rec;
    long n = 0;
    pr_status st;
    while ((st = pr_log_next(r, &rec, &err)) == PR_OK) {
        if (rec.payload.len > PR_LOG_PAYLOAD_MAX) abort();
        if (rec.payload.len) (void)((volatile const char *)rec.payload.ptr)[rec.payload.len - 1];
        n++;
    }
    pr_log_reader_close(r);
    if (st != PR_EOF) {
        if (!err.msg[0]) abort();
        return -1;
    }
    return n;
}

static void write_file(const char *path, const void *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
}

/* An empty active segment after segment 0, so that 0 is a closed one. */
static void write_seg2(void) {
    uint8_t h[24] = {'P', 'R', 'L', 'O', 'G', 'S', 'E', 'G', 1};
    h[16 + 5] = 1; /* base 2^40, little-endian */
    write_file(seg2, h, sizeof h);
}

static void must_explain(pr_status st, const pr_err *err) {
    if (st != PR_OK && st != PR_EOF && !err->msg[0]) abort();
}

/* Reads what a log holds three ways (reader, skip_corrupt reader, verify);
 * returns the plain reader's count or -1. */
static long probe(const char *uri, int mode) {
    pr_err err;
    pr_event_log *log;
    pr_status st = pr_log_open(uri, mode, &log, &err);
    must_explain(st, &err);
    if (st != PR_OK) return -1;
    long n = read_all(log);
    pr_log_start sk = {.kind = PR_LOG_FROM_START, .skip_corrupt = 1};
    pr_log_reader *r;
    if (pr_log_reader_open(log, &sk, &r, &err) == PR_OK) {
        pr_log_record rec;
        long k = 0;
        while ((st = pr_log_next(r, &rec, &err)) == PR_OK && k < 1000000) k++;
        must_explain(st, &err);
        if (n >= 0 && k < n) abort(); /* skipping never reads less */
        pr_log_reader_close(r);
    }
    pr_log_verify_report v;
    st = pr_log_verify(log, NULL, NULL, &v, &err);
    must_explain(st, &err);
    pr_log_close(log);
    return n;
}

/* data as a plain closed segment, compressed by pr_log_compact: the same
 * records before and after. */
static void try_compressed(const uint8_t *data, size_t size) {
    clear_dir();
    write_file(seg, data, size);
    write_seg2();
    char uri[128];
    snprintf(uri, sizeof uri, "log:%s?fsync=off", dir);
    long before = probe(uri, PR_LOG_READ);
    pr_err err;
    pr_event_log *log;
    if (pr_log_open(uri, PR_LOG_WRITE, &log, &err) != PR_OK) {
        if (!err.msg[0]) abort();
        return;
    }
    pr_log_compact_opts o = {.compress = 1};
    pr_status st = pr_log_compact(log, &o, NULL, &err);
    must_explain(st, &err);
    pr_log_close(log);
    long after = probe(uri, PR_LOG_READ);
    if (st == PR_OK && before != after) abort();
}

/* data as the .zseg of segment 0 */
static void try_zseg(const uint8_t *data, size_t size) {
    clear_dir();
    write_file(zseg, data, size);
    write_seg2();
    char uri[128];
    snprintf(uri, sizeof uri, "log:%s?fsync=off", dir);
    (void)probe(uri, PR_LOG_READ);
    (void)probe(uri, PR_LOG_WRITE);
}

static void try_segment(const uint8_t *data, size_t size) {
    clear_dir();
    FILE *f = fopen(seg, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
    unlink(idx);
    char uri[128];
    snprintf(uri, sizeof uri, "log:%s?fsync=off", dir);
    pr_err err;
    pr_event_log *log;
    long ro = -1;
    if (pr_log_open(uri, PR_LOG_READ, &log, &err) == PR_OK) {
        ro = read_all(log);
        pr_log_close(log);
    } else if (!err.msg[0]) {
        abort();
    }
    if (pr_log_open(uri, PR_LOG_WRITE, &log, &err) != PR_OK) {
        if (!err.msg[0] || log) abort();
        return;
    }
    pr_log_stats s;
    pr_log_stats_get(log, &s);
    if (ro >= 0 && (long)s.records != ro) abort();
    long rw = read_all(log);
    if (rw != (long)s.records) abort();
    pr_log_entry e = {1, 42, pr_bytes_of("after", 5)};
    if (pr_log_append(log, &e, 1, NULL, &err) != PR_OK) abort();
    if (read_all(log) != rw + 1) abort();
    pr_log_close(log);
}

static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup();
    try_segment(data, size);
    try_zseg(data, size);
    if (size >= 40 && memcmp(data, "PRLOGZSG", 8) == 0) {
        /* make the header's base 0 and the frame-table checksum hold */
        uint8_t *z = malloc(size);
        if (!z) return 0;
        memcpy(z, data, size);
        put64(z + 16, 0);
        uint64_t k = get32(z + 32);
        if (k < (1u << 20) && 40 + 8 * (k + 1) + 8 <= size) {
            size_t tn = 40 + 8 * (size_t)(k + 1) + 8;
            put64(z + tn - 8, pr_hash64(z, tn - 8, 0));
        }
        try_zseg(z, size);
        free(z);
        return 0;
    }
    if (size < 24 || memcmp(data, "PRLOGSEG", 8) != 0) return 0;
    uint8_t *fixed = malloc(size);
    if (!fixed) return 0;
    memcpy(fixed, data, size);
    fixed[8] = 1, fixed[9] = fixed[10] = fixed[11] = 0;
    put64(fixed + 16, 0);
    size_t off = 24;
    while (off + 24 <= size) {
        uint32_t n = get32(fixed + off);
        if (n > size - off - 24) break;
        uint64_t sum = pr_hash64(fixed + off + 24, n, pr_hash64(fixed + off, 16, 0));
        put64(fixed + off + 16, sum);
        off += 24 + (size_t)n;
    }
    try_segment(fixed, size);
    try_compressed(fixed, size);
    free(fixed);
    return 0;
}
