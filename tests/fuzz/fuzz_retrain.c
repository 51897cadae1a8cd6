/*
 * fuzz_retrain.c: the parsers of pronto retrain (retrain.h): the input's
 * first line as a --calibration "LO,HI" (pr_retrain_parse_range), the
 * rest as a registry history in which the last move of "production" is
 * looked up (pr_retrain_last_move, what the probation check rests on).
 * Must never crash or leak; a range it accepts is finite with
 * 0 < LO <= HI; a move it finds is an "alias" or "rollback" line's, with
 * a version, and a predecessor other than nothing only when there is one;
 * every failure explains itself.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pronto/retrain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t nl = 0;
    while (nl < size && data[nl] != '\n') nl++;
    char *first = malloc(nl + 1);
    if (!first) return 0;
    memcpy(first, data, nl);
    first[nl] = '\0';
    pr_err err;
    err.msg[0] = '\0';
    double lo = NAN, hi = NAN;
    pr_status s = pr_retrain_parse_range(first, &lo, &hi, &err);
    if (s == PR_OK && !(isfinite(lo) && isfinite(hi) && lo > 0 && lo <= hi)) abort();
    if (s != PR_OK && !err.msg[0]) abort();
    free(first);

    const char *hist = (const char *)data + (nl < size ? nl + 1 : size);
    size_t hlen = size - (size_t)(hist - (const char *)data);
    pr_retrain_move mv;
    err.msg[0] = '\0';
    s = pr_retrain_last_move(hist, hlen, "production", &mv, &err);
    if (s == PR_OK) {
        if (strcmp(mv.op, "alias") && strcmp(mv.op, "rollback")) abort();
        if (!mv.version[0] || strlen(mv.version) >= PR_REGISTRY_ID_MAX) abort();
    } else if (!err.msg[0]) {
        abort();
    }
    return 0;
}
