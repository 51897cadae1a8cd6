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
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pronto/log.h"

static char dir[64];
static char seg[128], idx[128], lock[128];

static void cleanup(void) {
    unlink(seg);
    unlink(idx);
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

static void try_segment(const uint8_t *data, size_t size) {
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
    free(fixed);
    return 0;
}
