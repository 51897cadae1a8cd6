/*
 * test_joiner.c: the label joiner (pronto/stream.h) against the simulator's
 * own labels, and its promises: idempotent under replay, the same output
 * under reordering within the lateness, late/duplicate/unknown/malformed
 * events counted, memory bounded by the window.
 *
 * The event stream is written by the real `pronto simulate` ($PRONTO_BIN),
 * read back from its files.
 */
#include <stdint.h>

#include "pronto/stream.h"
#include "test.h"

typedef struct lines {
    char **v;
    size_t n, cap;
} lines;

static void lines_add(lines *l, const char *s, size_t n) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 1024;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        ASSERT_TRUE(l->v);
    }
    l->v[l->n] = strndup(s, n);
    ASSERT_TRUE(l->v[l->n]);
    l->n++;
}

static void lines_free(lines *l) {
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static lines read_lines(const char *path) {
    lines l = {0};
    FILE *f = fopen(path, "rb");
    if (!f) TEST_FAIL("cannot open %s", path);
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&buf, &cap, f)) >= 0) {
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) n--;
        lines_add(&l, buf, (size_t)n);
    }
    free(buf);
    fclose(f);
    return l;
}

/* Runs `pronto simulate ARGS -o DIR --joined DIR/joined.csv` once per
 * test process, and returns DIR. */
static const char *simulate(void) {
    static int done;
    const char *dir = test_path("sim");
    if (done) return dir;
    const char *bin = getenv("PRONTO_BIN");
    if (!bin) TEST_FAIL("PRONTO_BIN is not set (run under ctest)");
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "'%s' simulate --duration 40m --attribution-window 20m --seed 7 -o '%s' "
             "--joined '%s/joined.csv' 2>/dev/null",
             bin, dir, dir);
    ASSERT_EQ_INT(system(cmd), 0);
    done = 1;
    return dir;
}

static pr_joiner *joiner(int64_t window, int64_t lateness) {
    pr_err err;
    pr_joiner_opts o;
    pr_joiner_opts_default(&o);
    o.window_ms = window;
    o.lateness_ms = lateness;
    pr_joiner *j = NULL;
    ASSERT_OK(pr_joiner_new(&o, &j, &err));
    return j;
}

/* Appends "id ts label converted payload\n" for every final impression. */
static void drain(pr_joiner *j, char **out, size_t *len, size_t *cap) {
    pr_labeled lab;
    while (pr_joiner_poll(j, &lab) == PR_OK) {
        size_t need = *len + lab.payload.len + 128;
        if (need > *cap) {
            *cap = need * 2;
            *out = realloc(*out, *cap);
            ASSERT_TRUE(*out);
        }
        *len += (size_t)snprintf(*out + *len, *cap - *len, "%llu %lld %d %d ",
                                 (unsigned long long)lab.impression_id, (long long)lab.ts_ms,
                                 lab.label, lab.converted);
        memcpy(*out + *len, lab.payload.ptr, lab.payload.len);
        *len += lab.payload.len;
        (*out)[(*len)++] = '\n';
        (*out)[*len] = 0;
    }
}

static void push_line(pr_joiner *j, const char *line) {
    pr_err err;
    pr_event ev;
    ASSERT_OK(pr_event_parse_json(line, strlen(line), &ev, &err));
    ASSERT_OK(pr_joiner_push(j, &ev, &err));
}

/* Pushes lines in order, polling after each; returns the serialized output
 * (owned by caller). */
static char *join_all(pr_joiner *j, char *const *v, size_t n) {
    char *out = NULL;
    size_t len = 0, cap = 0;
    for (size_t i = 0; i < n; i++) {
        push_line(j, v[i]);
        drain(j, &out, &len, &cap);
    }
    pr_joiner_flush(j);
    drain(j, &out, &len, &cap);
    if (!out) out = calloc(1, 1);
    return out;
}

#define WINDOW_20M (20 * 60 * 1000LL)
#define LATE_10M (10 * 60 * 1000LL)

static char *events_path(void) {
    static char p[600];
    snprintf(p, sizeof p, "%s/events-000000.jsonl", simulate());
    return p;
}

TEST(reproduces_simulator_labels) {
    lines ev = read_lines(events_path());
    char p[600];
    snprintf(p, sizeof p, "%s/joined.csv", simulate());
    lines joined = read_lines(p);
    snprintf(p, sizeof p, "%s/truth.tsv", simulate());
    lines truth = read_lines(p);
    ASSERT_TRUE(ev.n > 20000);
    ASSERT_EQ_INT(joined.n, truth.n);

    pr_joiner *j = joiner(WINDOW_20M, LATE_10M);
    size_t row = 1, positives = 0; /* row 0 is the header of both files */
    for (size_t i = 0; i <= ev.n; i++) {
        if (i < ev.n) push_line(j, ev.v[i]);
        else pr_joiner_flush(j);
        pr_labeled lab;
        while (pr_joiner_poll(j, &lab) == PR_OK) {
            ASSERT_TRUE(row < joined.n);
            unsigned long long id = strtoull(truth.v[row], NULL, 10);
            ASSERT_EQ_INT(lab.impression_id, id);
            int want = joined.v[row][0] - '0';
            if (lab.label != want)
                TEST_FAIL("impression %llu: label %d, simulator says %d", id, lab.label, want);
            positives += (size_t)lab.label;
            row++;
        }
    }
    ASSERT_EQ_INT(row, joined.n);
    ASSERT_TRUE(positives > 100);
    pr_joiner_stats st;
    pr_joiner_stats_get(j, &st);
    ASSERT_EQ_INT(st.labeled, joined.n - 1);
    ASSERT_EQ_INT(st.positives, positives);
    ASSERT_EQ_INT(st.too_late + st.duplicates + st.unknown_type + st.missing_ids, 0);
    /* Clicks between 20 min and the 2 h delay cap fall outside the window;
     * they find no pending impression and are counted, never applied. */
    ASSERT_TRUE(st.unattributed_clicks > 0);
    ASSERT_EQ_INT(st.clicks - st.unattributed_clicks, positives);
    ASSERT_TRUE(st.converted > 0);
    pr_joiner_free(j);
    lines_free(&ev);
    lines_free(&joined);
    lines_free(&truth);
}

TEST(replay_is_idempotent) {
    lines ev = read_lines(events_path());
    pr_joiner *j = joiner(WINDOW_20M, LATE_10M);
    char *once = join_all(j, ev.v, ev.n);
    pr_joiner_free(j);

    /* the whole stream twice */
    char **twice = malloc(2 * ev.n * sizeof *twice);
    ASSERT_TRUE(twice);
    for (size_t i = 0; i < ev.n; i++) twice[i] = twice[ev.n + i] = ev.v[i];
    j = joiner(WINDOW_20M, LATE_10M);
    char *again = join_all(j, twice, 2 * ev.n);
    pr_joiner_stats st;
    pr_joiner_stats_get(j, &st);
    ASSERT_EQ_INT(st.duplicates + st.too_late, ev.n);
    pr_joiner_free(j);
    ASSERT_TRUE(strlen(once) > 1000);
    ASSERT_TRUE(strcmp(once, again) == 0);
    free(again);

    /* every event delivered twice in a row (at-least-once delivery) */
    for (size_t i = 0; i < ev.n; i++) twice[2 * i] = twice[2 * i + 1] = ev.v[i];
    j = joiner(WINDOW_20M, LATE_10M);
    again = join_all(j, twice, 2 * ev.n);
    pr_joiner_stats_get(j, &st);
    ASSERT_EQ_INT(st.duplicates, ev.n);
    ASSERT_EQ_INT(st.too_late, 0);
    pr_joiner_free(j);
    ASSERT_TRUE(strcmp(once, again) == 0);
    free(again);
    free(twice);
    free(once);
    lines_free(&ev);
}

static int64_t ts_of(const char *line) {
    pr_err err;
    pr_event ev;
    ASSERT_OK(pr_event_parse_json(line, strlen(line), &ev, &err));
    return ev.ts_ms;
}

TEST(reordering_within_lateness) {
    lines ev = read_lines(events_path());
    pr_joiner *j = joiner(WINDOW_20M, LATE_10M);
    char *in_order = join_all(j, ev.v, ev.n);
    pr_joiner_free(j);

    /* Local shuffle: reverse runs of up to 7 events spanning under 30 s,
     * so clicks often arrive before their impressions. */
    char **v = malloc(ev.n * sizeof *v);
    ASSERT_TRUE(v);
    memcpy(v, ev.v, ev.n * sizeof *v);
    uint64_t rng = 42;
    size_t moved = 0;
    for (size_t i = 0; i < ev.n;) {
        size_t k = 2 + pr_splitmix64(&rng) % 6;
        if (i + k > ev.n) k = ev.n - i;
        if (ts_of(v[i + k - 1]) - ts_of(v[i]) < 30000) {
            for (size_t a = i, b = i + k - 1; a < b; a++, b--) {
                char *t = v[a];
                v[a] = v[b];
                v[b] = t;
            }
            moved += k;
        }
        i += k;
    }
    ASSERT_TRUE(moved > ev.n / 2);
    j = joiner(WINDOW_20M, LATE_10M);
    char *shuffled = join_all(j, v, ev.n);
    pr_joiner_stats st;
    pr_joiner_stats_get(j, &st);
    ASSERT_EQ_INT(st.too_late, 0);
    pr_joiner_free(j);
    ASSERT_TRUE(strcmp(in_order, shuffled) == 0);
    free(shuffled);

    /* With 20 ms of lateness the same shuffle makes events late: counted. */
    j = joiner(WINDOW_20M, 20);
    shuffled = join_all(j, v, ev.n);
    pr_joiner_stats_get(j, &st);
    ASSERT_TRUE(st.too_late > 100);
    ASSERT_EQ_INT(st.impressions + st.clicks + st.conversions + st.too_late, ev.n);
    pr_joiner_free(j);
    free(shuffled);
    free(v);
    free(in_order);
    lines_free(&ev);
}

/* A small stream written by hand: every rule at its boundary. */
TEST(counts_bad_and_edge_events) {
    pr_joiner *j = joiner(1000, 0);  /* window 1 s, no lateness */
    static const char *in[] = {
        "{\"type\":\"impression\",\"event_id\":1,\"impression_id\":10,\"ts\":1000,\"k\":\"a\"}",
        "{\"type\":\"impression\",\"event_id\":2,\"impression_id\":11,\"ts\":1000}",
        "{\"type\":\"impression\",\"event_id\":3,\"impression_id\":12,\"ts\":1500}",
        "{\"type\":\"click\",\"event_id\":4,\"impression_id\":10,\"ts\":2000}",  /* t+W: in */
        "{\"type\":\"click\",\"event_id\":4,\"impression_id\":10,\"ts\":2000}",  /* dup id */
        "{\"type\":\"conversion\",\"event_id\":5,\"impression_id\":10,\"ts\":2000}",
        "{\"type\":\"click\",\"event_id\":6,\"impression_id\":11,\"ts\":2001}",  /* t+W+1: out */
        "{\"type\":\"click\",\"event_id\":7,\"impression_id\":99,\"ts\":2001}",  /* unknown imp */
        "{\"type\":\"view\",\"event_id\":8,\"impression_id\":12,\"ts\":2001}",   /* unknown type */
        "{\"event_id\":9,\"impression_id\":12,\"ts\":2001}",                      /* no type */
        "{\"type\":\"click\",\"impression_id\":12,\"ts\":2001}",                  /* no event id */
        "{\"type\":\"click\",\"event_id\":10,\"ts\":2001}",                       /* no imp id */
        "{\"type\":\"click\",\"event_id\":11,\"impression_id\":12,\"ts\":\"x\"}", /* bad ts */
        "{\"type\":\"click\",\"event_id\":12,\"impression_id\":12,\"ts\":1999}",  /* late */
        "{\"type\":\"impression\",\"event_id\":13,\"impression_id\":12,\"ts\":2001}", /* dup imp */
        "{\"type\":\"click\",\"event_id\":14,\"impression_id\":12,\"ts\":2500}",  /* t+W: in */
    };
    size_t n = sizeof in / sizeof in[0];
    char *out = join_all(j, (char *const *)in, n);
    ASSERT_EQ_STR(out,
                  "10 1000 1 1 {\"type\":\"impression\",\"event_id\":1,\"impression_id\":10,\"ts\":1000,\"k\":\"a\"}\n"
                  "11 1000 0 0 {\"type\":\"impression\",\"event_id\":2,\"impression_id\":11,\"ts\":1000}\n"
                  "12 1500 1 0 {\"type\":\"impression\",\"event_id\":3,\"impression_id\":12,\"ts\":1500}\n");
    pr_joiner_stats st;
    pr_joiner_stats_get(j, &st);
    ASSERT_EQ_INT(st.events, n);
    ASSERT_EQ_INT(st.impressions, 3);
    ASSERT_EQ_INT(st.clicks, 4);
    ASSERT_EQ_INT(st.conversions, 1);
    ASSERT_EQ_INT(st.duplicates, 2);
    ASSERT_EQ_INT(st.unattributed_clicks, 2); /* id 99, and 11's click after it closed */
    ASSERT_EQ_INT(st.unknown_type, 2);
    ASSERT_EQ_INT(st.missing_ids, 3);
    ASSERT_EQ_INT(st.too_late, 1);
    ASSERT_EQ_INT(st.labeled, 3);
    ASSERT_EQ_INT(st.positives, 2);
    ASSERT_EQ_INT(st.converted, 1);
    ASSERT_EQ_INT(pr_joiner_pending(j), 0);
    free(out);

    pr_err err;
    pr_event ev;
    ASSERT_STATUS(pr_event_parse_json("{\"type\":", 8, &ev, &err), PR_ERR_PARSE);
    ASSERT_CONTAINS(err.msg, "column");
    ASSERT_STATUS(pr_event_parse_json("[1,2]", 5, &ev, &err), PR_ERR_PARSE);
    ASSERT_STATUS(pr_joiner_push(j, &ev, &err), PR_ERR_INVALID); /* after flush */
    pr_joiner_free(j);

    pr_joiner_opts o;
    pr_joiner_opts_default(&o);
    o.window_ms = -1;
    ASSERT_STATUS(pr_joiner_new(&o, &j, &err), PR_ERR_INVALID);
    ASSERT_TRUE(j == NULL);
    pr_joiner_free(NULL);
}

/* A click that arrives before its impression (within the lateness) joins. */
TEST(click_before_impression) {
    pr_joiner *j = joiner(1000, 500);
    static const char *in[] = {
        "{\"type\":\"click\",\"event_id\":2,\"impression_id\":5,\"ts\":1200}",
        "{\"type\":\"conversion\",\"event_id\":3,\"impression_id\":5,\"ts\":1300}",
        "{\"type\":\"impression\",\"event_id\":1,\"impression_id\":5,\"ts\":1000}",
        "{\"type\":\"click\",\"event_id\":4,\"impression_id\":6,\"ts\":1400}", /* never joined */
        "{\"type\":\"impression\",\"event_id\":5,\"impression_id\":7,\"ts\":1450}",
        "{\"type\":\"click\",\"event_id\":6,\"impression_id\":7,\"ts\":1420}", /* before t: no */
    };
    char *out = join_all(j, (char *const *)in, 6);
    ASSERT_CONTAINS(out, "5 1000 1 1 ");
    ASSERT_CONTAINS(out, "7 1450 0 0 ");
    pr_joiner_stats st;
    pr_joiner_stats_get(j, &st);
    ASSERT_EQ_INT(st.labeled, 2);
    ASSERT_EQ_INT(st.unattributed_clicks, 2); /* id 6, and 7's click before it */
    free(out);
    pr_joiner_free(j);
}

/* A long stream: what the joiner holds stays bounded by window + lateness. */
TEST(memory_is_bounded) {
    pr_err err;
    pr_joiner_opts o;
    pr_joiner_opts_default(&o);
    o.window_ms = 1000;
    o.lateness_ms = 200;
    o.dedup_horizon_ms = 300;
    pr_joiner *j = NULL;
    ASSERT_OK(pr_joiner_new(&o, &j, &err));
    const char payload[] = "{\"type\":\"impression\"}";
    size_t max_pending = 0, max_dedup = 0, labeled = 0;
    uint64_t rng = 1, eid = 0;
    for (uint64_t i = 0; i < 400000; i++) {
        /* one impression per ms; a click for every 10th, 0..1.5 s later */
        pr_event ev = {PR_EVENT_IMPRESSION, ++eid, i, (int64_t)i, 1, 1, 1,
                       pr_bytes_of(payload, sizeof payload - 1)};
        ASSERT_OK(pr_joiner_push(j, &ev, &err));
        if (i % 10 == 0 && i > 2000) {
            pr_event c = {PR_EVENT_CLICK, ++eid, i - 1 - pr_splitmix64(&rng) % 1500,
                          (int64_t)i, 1, 1, 1, pr_bytes_of(NULL, 0)};
            ASSERT_OK(pr_joiner_push(j, &c, &err));
        }
        pr_labeled lab;
        while (pr_joiner_poll(j, &lab) == PR_OK) labeled++;
        if (pr_joiner_pending(j) > max_pending) max_pending = pr_joiner_pending(j);
        if (pr_joiner_dedup_size(j) > max_dedup) max_dedup = pr_joiner_dedup_size(j);
    }
    /* window + lateness = 1200 ms of impressions (+1 at the boundary);
     * dedup keeps lateness + horizon = 500 ms of events (1.1 per ms). */
    fprintf(stderr, "max pending %zu, max dedup %zu\n", max_pending, max_dedup);
    ASSERT_TRUE(max_pending <= 1202 + 25); /* + clicks of emitted impressions,
                                               held 200 ms till none can join */
    ASSERT_TRUE(max_dedup <= 560);
    ASSERT_TRUE(labeled > 390000);
    pr_joiner_stats st;
    pr_joiner_stats_get(j, &st);
    ASSERT_TRUE(st.positives > 25000);  /* 2/3 of ~40k clicks are within 1 s */
    ASSERT_TRUE(st.unattributed_clicks > 1000); /* delays over 1 s */
    pr_joiner_free(j);
}

int main(void) {
    RUN(counts_bad_and_edge_events);
    RUN(click_before_impression);
    RUN(memory_is_bounded);
    RUN(reproduces_simulator_labels);
    RUN(replay_is_idempotent);
    RUN(reordering_within_lateness);
    TEST_MAIN_END();
}
