/*
 * sim_fmt.h: the simulator's output plumbing, shared by the writers of
 * src/sim: fast number formatting (no printf in the per-event path) and a
 * buffered byte sink to a file or stdout, optionally zstd-compressed.
 *
 * A sink owns its buffer, its zstd context and (unless it wraps stdout) its
 * file descriptor. Failure is sticky: after the first error every call
 * returns it again and nothing more is written. Callers reserve room for a
 * whole record (pr__sink_reserve), format into it and commit the end.
 */
#ifndef PRONTO_SIM_FMT_H
#define PRONTO_SIM_FMT_H

#include <stdint.h>
#include <string.h>

#include "pronto/base.h"

/* Longest record any writer formats in one reserve. */
#define PR_SIM_RECORD_MAX 1024

typedef struct pr__sink pr__sink;

/* Opens path for writing (truncating). zstd_level 0 = plain. The path is
 * copied for error messages. */
pr_status pr__sink_open(const char *path, int zstd_level, pr__sink **out, pr_err *err);
/* Wraps stdout (fd 1, never closed). */
pr_status pr__sink_stdout(int zstd_level, pr__sink **out, pr_err *err);
/* Returns a pointer with at least n (<= PR_SIM_RECORD_MAX) writable bytes,
 * or NULL after a failure (see pr__sink_status). */
char *pr__sink_reserve(pr__sink *s, size_t n);
/* Marks everything up to end (inside the last reservation) as written. */
void pr__sink_commit(pr__sink *s, char *end);
pr_status pr__sink_write(pr__sink *s, const char *data, size_t n, pr_err *err);
/* Pushes buffered bytes to the descriptor (and a zstd flush block). */
pr_status pr__sink_flush(pr__sink *s, pr_err *err);
/* Finishes the zstd frame, flushes, closes; frees s whatever happens. */
pr_status pr__sink_close(pr__sink *s, pr_err *err);
/* The sticky status (with its message copied into err). */
pr_status pr__sink_status(const pr__sink *s, pr_err *err);

static const char pr__digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* Writes v in decimal at p; returns the end. */
static inline char *pr__put_u64(char *p, uint64_t v) {
    char tmp[20];
    char *t = tmp + sizeof tmp;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        t -= 2;
        memcpy(t, pr__digit_pairs + 2 * r, 2);
    }
    if (v >= 10) {
        t -= 2;
        memcpy(t, pr__digit_pairs + 2 * v, 2);
    } else {
        *--t = (char)('0' + v);
    }
    size_t n = (size_t)(tmp + sizeof tmp - t);
    memcpy(p, t, n);
    return p + n;
}

static inline char *pr__put_i64(char *p, int64_t v) {
    if (v < 0) {
        *p++ = '-';
        return pr__put_u64(p, (uint64_t)0 - (uint64_t)v);
    }
    return pr__put_u64(p, (uint64_t)v);
}

/* A probability with 9 decimals, "0.023456789" (rounded; 1 -> "1.000000000"). */
static inline char *pr__put_prob9(char *p, double v) {
    if (!(v > 0)) v = 0;
    if (v > 1) v = 1;
    uint64_t q = (uint64_t)(v * 1e9 + 0.5);
    *p++ = q >= 1000000000u ? '1' : '0';
    if (q >= 1000000000u) q = 0;
    *p++ = '.';
    for (int i = 8; i >= 0; i--) {
        p[i] = (char)('0' + q % 10);
        q /= 10;
    }
    return p + 9;
}

static inline char *pr__put_str(char *p, const char *s, size_t n) {
    memcpy(p, s, n);
    return p + n;
}
#define PR__PUT_LIT(p, lit) pr__put_str((p), (lit), sizeof(lit) - 1)

static inline char *pr__put_cstr(char *p, const char *s) { return pr__put_str(p, s, strlen(s)); }

#endif
