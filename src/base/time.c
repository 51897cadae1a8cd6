/* time.c: clocks. Monotonic for measuring, wall-clock for timestamps. */
#include <time.h>

#include "pronto/base.h"

double pr_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int64_t pr_unix_time(void) { return (int64_t)time(NULL); }
