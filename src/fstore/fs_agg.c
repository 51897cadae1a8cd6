/*
 * fs_agg.c: the aggregate functions, on their state inside a row blob.
 *
 * State layouts (offsets relative to the aggregate's offset in the row):
 *
 *   windowed (count, sum, mean, rate): a ring of B buckets of g = window/B
 *   milliseconds each; bucket j holds the events with floor(ts/g) == j.
 *     0     8        head: the newest bucket index written (PR__ROW_EMPTY
 *                    for none)
 *     8     W*8      total: the sum of every bucket in the ring, so a read
 *                    at a time t >= head costs O(buckets that t pushes out
 *                    of the window), not O(B)
 *     8+W*8 B*W*8    bucket (j mod B) as W doubles: count/sum -> W=1 (the
 *                    count or the sum); mean -> (sum, count); rate ->
 *                    (numerator events, denominator events)
 *   The value as of t sums the buckets j with floor(t/g) - B < j <=
 *   floor(t/g) that the ring still holds: the window is exact to one
 *   bucket. An event older than the ring (j <= head - B) is dropped and
 *   counted; one between is added to its bucket (out-of-order within the
 *   window is fine).
 *
 *   decayed (decayed_count, decayed_sum), half-life h:
 *     0     8        value as of `last`
 *     8     8        last: ts of the latest event (PR__ROW_EMPTY for none)
 *   value(t) = value * 2^(-(t - last)/h) for t >= last; an event older than
 *   last adds x * 2^(-(last - ts)/h).
 *
 *   last_n (n items of at most max_len bytes):
 *     0     4        count: items ever added (the ring position)
 *     4     4        zero
 *     8     n*slot   slot k: ts (8), length (1), bytes (max_len), padded
 *                    to 8; the newest item is at (count - 1) mod n
 *   value(t) = the items with ts <= t, newest first, joined by '|'.
 *
 * Missing values: mean of nothing, rate with no events and no prior
 * weight, an empty last_n. count, sum and decayed values of nothing are 0.
 */
#include "fstore/fs_ahead.h"
#include "fstore/fs_int.h"

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}

static uint64_t floor_mod(int64_t a, uint32_t b) {
    int64_t m = a % (int64_t)b;
    return (uint64_t)(m < 0 ? m + b : m);
}

static int windowed(pr__agg_function f) {
    return f == PR__AGG_COUNT || f == PR__AGG_SUM || f == PR__AGG_MEAN ||
           f == PR__AGG_RATE;
}

void pr__agg_init(const pr__fs_agg *a, uint8_t *state) {
    memset(state, 0, a->size);
    if (windowed(a->fn))
        pr__st_i64(state, PR__ROW_EMPTY);
    else if (a->fn == PR__AGG_DECAYED_COUNT || a->fn == PR__AGG_DECAYED_SUM)
        pr__st_i64(state + 8, PR__ROW_EMPTY);
}

/* Bucket slot r (0..B-1) of the ring. Times become slots through
 * ring_slot, and moves along the ring are unsigned distances from head,
 * so no time arithmetic can overflow, whatever ts or a stored head is. */
static uint8_t *slot_at(const pr__fs_agg *a, uint8_t *state, uint64_t r) {
    return state + 8 + a->width * 8 + r * a->width * 8;
}

static uint64_t ring_slot(const pr__fs_agg *a, int64_t j) { return floor_mod(j, a->buckets); }

uint32_t pr__agg_touch_offset(const pr__fs_agg *a, int64_t ts) {
    if (!windowed(a->fn)) return 0;
    /* = bucket(a, state, j) - state */
    int64_t j = floor_div(ts, a->gran_ms);
    return (uint32_t)(8 + a->width * 8 + floor_mod(j, a->buckets) * a->width * 8);
}

/* total = the ring's sum, recomputed in ring order after the ring moved (so
 * it never drifts from the buckets by rounding). One accumulator per
 * column in registers: the same additions in the same order as a plain
 * loop over t[w], without a store and reload between them. */
static void recompute_total(const pr__fs_agg *a, uint8_t *state) {
    const uint8_t *b = state + 8 + a->width * 8;
    if (a->width == 1) {
        double t0 = 0;
        for (uint32_t i = 0; i < a->buckets; i++) t0 += pr__ld_f64(b + (size_t)i * 8);
        pr__st_f64(state + 8, t0);
        return;
    }
    double t0 = 0, t1 = 0; /* width 2 */
    for (uint32_t i = 0; i < a->buckets; i++) {
        t0 += pr__ld_f64(b + (size_t)i * 16);
        t1 += pr__ld_f64(b + (size_t)i * 16 + 8);
    }
    pr__st_f64(state + 8, t0);
    pr__st_f64(state + 16, t1);
}

static int window_apply(const pr__fs_agg *a, uint8_t *state, int64_t ts,
                        int num, int den, double x) {
    int64_t j = floor_div(ts, a->gran_ms);
    int64_t head = pr__ld_i64(state);
    uint64_t nb = a->buckets;
    if (head == PR__ROW_EMPTY) {
        memset(state + 8, 0, (size_t)(a->buckets + 1) * a->width * 8);
        head = j;
    } else if (j > head) {
        /* Clear the slots the ring moves over: d of them, or all. */
        uint64_t d = (uint64_t)j - (uint64_t)head, h = ring_slot(a, head);
        if (d >= nb) {
            memset(slot_at(a, state, 0), 0, (size_t)nb * a->width * 8);
        } else {
            for (uint64_t i = 1; i <= d; i++)
                memset(slot_at(a, state, (h + i) % nb), 0, (size_t)a->width * 8);
        }
        recompute_total(a, state);
        head = j;
    } else if ((uint64_t)head - (uint64_t)j >= nb) {
        return 0; /* older than the ring */
    }
    pr__st_i64(state, head);
    double add[2] = {0, 0};
    switch (a->fn) {
    case PR__AGG_COUNT: add[0] = 1; break;
    case PR__AGG_SUM: add[0] = x; break;
    case PR__AGG_MEAN: add[0] = x; add[1] = 1; break;
    default: /* rate */
        add[0] = num ? 1 : 0;
        add[1] = den ? 1 : 0;
        break;
    }
    uint8_t *b = slot_at(a, state, ring_slot(a, j));
    for (uint32_t w = 0; w < a->width; w++) {
        pr__st_f64(b + w * 8, pr__ld_f64(b + w * 8) + add[w]);
        pr__st_f64(state + 8 + w * 8, pr__ld_f64(state + 8 + w * 8) + add[w]);
    }
    return 1;
}

/* Sums of the live buckets as of t into s[0..width). The ring holds the
 * buckets (head - B, head]; the window is (k - B, k] with k = floor(t/g). */
static void window_sums(const pr__fs_agg *a, const uint8_t *state, int64_t t,
                        double s[2]) {
    s[0] = s[1] = 0;
    if (!state) return;
    int64_t head = pr__ld_i64(state);
    if (head == PR__ROW_EMPTY) return;
    int64_t k = floor_div(t, a->gran_ms);
    uint64_t nb = a->buckets, h = ring_slot(a, head);
    if (k >= head) {
        uint64_t d = (uint64_t)k - (uint64_t)head;
        if (d >= nb) return; /* the whole ring is older than the window */
        /* The ring's total minus its d oldest buckets, which t has pushed
         * out of the window (oldest first: (head - B, head - B + d]). */
        s[0] = pr__ld_f64(state + 8);
        if (a->width > 1) s[1] = pr__ld_f64(state + 16);
        for (uint64_t i = 1; i <= d; i++) {
            const uint8_t *p = slot_at(a, (uint8_t *)(uintptr_t)state, (h + i) % nb);
            s[0] -= pr__ld_f64(p);
            if (a->width > 1) s[1] -= pr__ld_f64(p + 8);
        }
        return;
    }
    /* A time before the newest bucket: the ring's buckets up to k, i.e.
     * (head - B, k], oldest first. */
    uint64_t back = (uint64_t)head - (uint64_t)k;
    if (back >= nb) return;
    for (uint64_t i = nb - 1; i >= back && i < nb; i--) {
        const uint8_t *p = slot_at(a, (uint8_t *)(uintptr_t)state, (h + nb - i) % nb);
        s[0] += pr__ld_f64(p);
        if (a->width > 1) s[1] += pr__ld_f64(p + 8);
    }
}

static void decayed_apply(const pr__fs_agg *a, uint8_t *state, int64_t ts,
                          double x) {
    double v = pr__ld_f64(state);
    int64_t last = pr__ld_i64(state + 8);
    if (last == PR__ROW_EMPTY) {
        v = x;
        last = ts;
    } else if (ts >= last) {
        v = v * exp2(-((double)ts - (double)last) / a->half_life_ms) + x;
        last = ts;
    } else {
        v += x * exp2(-((double)last - (double)ts) / a->half_life_ms);
    }
    pr__st_f64(state, v);
    pr__st_i64(state + 8, last);
}

static void last_n_apply(const pr__fs_agg *a, uint8_t *state, int64_t ts,
                         pr_bytes token) {
    uint32_t count = pr__ld_u32(state);
    uint8_t *slot = state + 8 + (size_t)(count % a->n) * a->slot;
    size_t len = token.len < a->max_len ? token.len : a->max_len;
    pr__st_i64(slot, ts);
    slot[8] = (uint8_t)len;
    if (len) memcpy(slot + 9, token.ptr, len);
    pr__st_u32(state, count + 1 ? count + 1 : a->n); /* never wraps to 0 */
}

int pr__agg_apply(const pr__fs_agg *a, uint8_t *state, int64_t ts, int num,
                  int den, double x, pr_bytes token) {
    switch (a->fn) {
    case PR__AGG_DECAYED_COUNT: decayed_apply(a, state, ts, 1.0); return 1;
    case PR__AGG_DECAYED_SUM: decayed_apply(a, state, ts, x); return 1;
    case PR__AGG_LAST_N:
        if (token.len) last_n_apply(a, state, ts, token);
        return 1;
    default: return window_apply(a, state, ts, num, den, x);
    }
}

static int last_n_eval(const pr__fs_agg *a, const uint8_t *state, int64_t t,
                       pr_arena *arena, pr_bytes *list) {
    if (!state) return 0;
    uint32_t count = pr__ld_u32(state);
    uint32_t have = count < a->n ? count : a->n;
    if (!have) return 0;
    char *out = pr_arena_alloc(arena, (size_t)have * (a->max_len + 1));
    if (!out) return 0;
    size_t o = 0;
    for (uint32_t i = 0; i < have; i++) {
        const uint8_t *slot =
            state + 8 + (size_t)((count - 1 - i) % a->n) * a->slot;
        if (pr__ld_i64(slot) > t) continue;
        size_t len = slot[8] < a->max_len ? slot[8] : a->max_len; /* never
                                                 trust a stored length */
        if (o) out[o++] = PR__LIST_SEP;
        memcpy(out + o, slot + 9, len);
        o += len;
    }
    if (!o) return 0;
    *list = pr_bytes_of(out, o);
    return 1;
}

int pr__agg_eval(const pr__fs_agg *a, const uint8_t *state, int64_t t,
                 pr_arena *arena, double *x, pr_bytes *list) {
    double s[2];
    switch (a->fn) {
    case PR__AGG_COUNT:
    case PR__AGG_SUM:
        window_sums(a, state, t, s);
        *x = s[0];
        return 1;
    case PR__AGG_MEAN:
        window_sums(a, state, t, s);
        if (s[1] <= 0) return 0;
        *x = s[0] / s[1];
        return 1;
    case PR__AGG_RATE:
        window_sums(a, state, t, s);
        if (s[1] + a->prior_weight <= 0) return 0;
        *x = (s[0] + a->prior * a->prior_weight) / (s[1] + a->prior_weight);
        return 1;
    case PR__AGG_DECAYED_COUNT:
    case PR__AGG_DECAYED_SUM: {
        *x = 0;
        if (!state) return 1;
        double v = pr__ld_f64(state);
        int64_t last = pr__ld_i64(state + 8);
        if (last == PR__ROW_EMPTY) return 1;
        *x = t > last ? v * exp2(-((double)t - (double)last) / a->half_life_ms) : v;
        return 1;
    }
    default: return last_n_eval(a, state, t, arena, list);
    }
}
