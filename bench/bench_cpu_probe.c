/*
 * bench_cpu_probe.c: the host's mode, for runs whose speed moves with it
 * (bench_ffm_variance.sh). THREADS threads (default 2) each run the same
 * fixed integer work (4e8 xorshift steps: registers only, no memory), and
 * the slowest one's seconds are printed. On an idle machine whose vCPUs
 * sit on separate host cores this is the one-thread time; when the host
 * puts the vCPUs on two hyperthreads of one core, or another guest shares
 * the core, it grows, and so does every CPU-bound run beside it.
 * Then two threads hand one cache line back and forth (each waits for the
 * other's write, then writes: 2e6 round trips) and the nanoseconds per
 * one-way hand-off are printed: the cost of the core-to-core transfer that
 * Hogwild training pays on every row both threads write; it depends on
 * where the host put the two vCPUs (one L3 or two).
 *
 *   bench_cpu_probe [THREADS]     prints "ALU_SECONDS HANDOFF_NS"
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *work(void *arg) {
    double t0 = now_s();
    uint64_t x = 88172645463325252ull + (uintptr_t)arg, s = 0;
    for (long i = 0; i < 400000000L; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s += x & 1023;
    }
    double *out = malloc(sizeof *out);
    if (out) *out = now_s() - t0 + (double)(s & 1) * 1e-12; /* keeps s alive */
    return out;
}

#define HANDOFFS 2000000L

static _Alignas(64) volatile long turn;

static void *pong(void *arg) {
    long me = (long)(uintptr_t)arg;
    for (long i = me; i < HANDOFFS; i += 2) {
        while (__atomic_load_n(&turn, __ATOMIC_ACQUIRE) != i) {
        }
        __atomic_store_n(&turn, i + 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

static double handoff_ns(void) {
    pthread_t a, b;
    turn = 0;
    double t0 = now_s();
    pthread_create(&a, NULL, pong, (void *)(uintptr_t)0);
    pthread_create(&b, NULL, pong, (void *)(uintptr_t)1);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    return (now_s() - t0) * 1e9 / (double)HANDOFFS;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 2;
    if (n < 1 || n > 64) {
        fprintf(stderr, "usage: bench_cpu_probe [THREADS 1..64]\n");
        return 2;
    }
    pthread_t th[64];
    for (long i = 0; i < n; i++) pthread_create(&th[i], NULL, work, (void *)(uintptr_t)i);
    double worst = 0;
    for (long i = 0; i < n; i++) {
        void *r;
        pthread_join(th[i], &r);
        if (r && *(double *)r > worst) worst = *(double *)r;
        free(r);
    }
    printf("%.3f %.1f\n", worst, handoff_ns());
    return 0;
}
