/* test_sim.c: the traffic simulator: validation, calibration of clicks
 * against the true p, determinism, the click-delay distribution, time order
 * and referential integrity of the files, and each drift scenario changing
 * what it says, when it says, and nothing else. */
#include <jansson.h>
#include <sys/stat.h>
#include <zstd.h>

#include "pronto/sim.h"
#include "test.h"

/* A small world that runs in well under a second even under ASan. */
static void small_config(pr_sim_config *c) {
    pr_sim_config_default(c);
    c->n_users = 5000;
    c->n_ads = 400;
    c->n_advertisers = 40;
    c->n_sites = 100;
    c->imp_rate = 2.0;
    c->duration_s = 86400;  /* ~170k impressions */
}

typedef struct run {
    pr_sim_event *ev;       /* stream events (scenario notes kept apart) */
    size_t n, cap;
    pr_sim_event notes[16];
    char note_text[16][256];   /* ev.note is borrowed: copied here */
    size_t n_notes;
    uint32_t n_base_ads;
} run;

static run simulate(const pr_sim_config *cfg) {
    pr_err err;
    pr_sim *sim = NULL;
    ASSERT_OK(pr_sim_new(cfg, &sim, &err));
    run r;
    memset(&r, 0, sizeof r);
    r.n_base_ads = cfg->n_ads;
    pr_sim_event e;
    pr_status s;
    while ((s = pr_sim_next(sim, &e, &err)) == PR_OK) {
        if (e.type == PR_SIM_EVENT_SCENARIO) {
            ASSERT_TRUE(r.n_notes < 16);
            snprintf(r.note_text[r.n_notes], sizeof r.note_text[0], "%s", e.note);
            r.notes[r.n_notes] = e;
            r.notes[r.n_notes].note = NULL;  /* use note_text */
            r.n_notes++;
            continue;
        }
        if (r.n == r.cap) {
            r.cap = r.cap ? r.cap * 2 : 65536;
            r.ev = realloc(r.ev, r.cap * sizeof *r.ev);
            ASSERT_TRUE(r.ev != NULL);
        }
        r.ev[r.n++] = e;
    }
    ASSERT_EQ_INT(s, PR_EOF);
    pr_sim_free(sim);
    return r;
}

static int64_t start_plus(const pr_sim_config *c, double s) {
    return c->start_ms + (int64_t)(s * 1000.0);
}

/* ------------------------------------------------------------ validation */

TEST(bad_parameters_name_the_flag) {
    pr_err err;
    pr_sim_config c;
    small_config(&c);
    ASSERT_OK(pr_sim_config_check(&c, &err));

    c.base_ctr = 1.5;
    ASSERT_STATUS(pr_sim_config_check(&c, &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "base_ctr");
    small_config(&c);
    c.imp_rate = -3;
    ASSERT_STATUS(pr_sim_config_check(&c, &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "imp_rate");
    small_config(&c);
    c.conversion_rate = -0.1;
    ASSERT_STATUS(pr_sim_config_check(&c, &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "conversion_rate");
    small_config(&c);
    c.attribution_window_s = c.max_click_delay_s * 2;
    ASSERT_STATUS(pr_sim_config_check(&c, &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "attribution_window_s");
    small_config(&c);
    c.n_advertisers = c.n_ads + 1;
    ASSERT_STATUS(pr_sim_config_check(&c, &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "n_advertisers");

    /* Scenario outside the span, and malformed specs. */
    small_config(&c);
    ASSERT_OK(pr_sim_scenario_parse(&c, "surge@2d", &err));
    ASSERT_STATUS(pr_sim_config_check(&c, &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "scenario surge");
    ASSERT_CONTAINS(err.msg, "outside the simulated span");
    small_config(&c);
    ASSERT_STATUS(pr_sim_scenario_parse(&c, "sunspots@1h", &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "unknown scenario 'sunspots'");
    ASSERT_STATUS(pr_sim_scenario_parse(&c, "surge", &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "scenario surge:");
    ASSERT_STATUS(pr_sim_scenario_parse(&c, "surge@-1h", &err), PR_ERR_INVALID);
    ASSERT_STATUS(pr_sim_scenario_parse(&c, "surge@1h:-2", &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "FACTOR");
    ASSERT_STATUS(pr_sim_scenario_parse(&c, "broken-field@1h:price", &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "FIELD");
    ASSERT_OK(pr_sim_scenario_parse(&c, "ctr-shift@1h:60", &err));
    ASSERT_STATUS(pr_sim_config_check(&c, &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "ctr-shift");  /* 0.02 x 60 > 1 */
    ASSERT_STATUS(pr_sim_scenario_parse(&c, "ctr-shift@2h", &err), PR_ERR_INVALID);
    ASSERT_CONTAINS(err.msg, "given twice");

    double d;
    ASSERT_OK(pr_sim_parse_duration("36h", &d));
    ASSERT_NEAR(d, 129600, 0);
    ASSERT_OK(pr_sim_parse_duration("1.5m", &d));
    ASSERT_NEAR(d, 90, 0);
    ASSERT_TRUE(pr_sim_parse_duration("7x", &d) != PR_OK);
    ASSERT_TRUE(pr_sim_parse_duration("", &d) != PR_OK);
}

/* ------------------------------------------------------------ calibration */

TEST(clicks_match_true_p_within_4_sigma) {
    pr_sim_config c;
    small_config(&c);
    run r = simulate(&c);
    double sum_p = 0, var = 0;
    uint64_t imps = 0, clicked = 0, click_events = 0;
    for (size_t i = 0; i < r.n; i++) {
        const pr_sim_event *e = &r.ev[i];
        if (e->type == PR_SIM_EVENT_CLICK) click_events++;
        if (e->type != PR_SIM_EVENT_IMPRESSION) continue;
        imps++;
        clicked += (uint64_t)e->clicked;
        sum_p += e->p;
        var += e->p * (1 - e->p);
        ASSERT_TRUE(e->p > 0 && e->p < 1);
    }
    ASSERT_TRUE(imps > 100000);
    /* Every decided click comes out (duration mode drains the heap). */
    ASSERT_EQ_INT(click_events, clicked);
    double z = ((double)clicked - sum_p) / sqrt(var);
    fprintf(stderr, "   %llu impressions, ctr %.5f, mean p %.5f, z %.2f\n",
            (unsigned long long)imps, (double)clicked / imps, sum_p / imps, z);
    ASSERT_TRUE(fabs(z) < 4);
    /* The default world lands in the documented 2-3% band. */
    ASSERT_TRUE(sum_p / imps > 0.015 && sum_p / imps < 0.035);

    /* Slices too: top slot vs bottom slot follow their own p. */
    for (int pos = 1; pos <= 4; pos += 3) {
        double sp = 0, sv = 0, k = 0;
        for (size_t i = 0; i < r.n; i++) {
            const pr_sim_event *e = &r.ev[i];
            if (e->type != PR_SIM_EVENT_IMPRESSION || e->position != pos) continue;
            sp += e->p;
            sv += e->p * (1 - e->p);
            k += e->clicked;
        }
        ASSERT_TRUE(fabs((k - sp) / sqrt(sv)) < 4);
    }
    free(r.ev);
}

TEST(attribution_window_shrinks_p_label) {
    pr_sim_config c;
    small_config(&c);
    c.attribution_window_s = 30;  /* = the median click delay */
    run r = simulate(&c);
    double sum_q = 0, var = 0, labels = 0, clicked = 0;
    for (size_t i = 0; i < r.n; i++) {
        const pr_sim_event *e = &r.ev[i];
        if (e->type != PR_SIM_EVENT_IMPRESSION) continue;
        /* median of the truncated log-normal is a bit under 30 s */
        ASSERT_NEAR(e->p_label / e->p, 0.5, 0.01);
        sum_q += e->p_label;
        var += e->p_label * (1 - e->p_label);
        labels += e->label;
        clicked += e->clicked;
        ASSERT_TRUE(!e->label || e->clicked);
    }
    ASSERT_TRUE(fabs((labels - sum_q) / sqrt(var)) < 4);
    ASSERT_TRUE(labels < clicked);
    free(r.ev);
}

/* ------------------------------------------------------------ delays */

static double normal_cdf(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

TEST(click_delays_follow_the_truncated_lognormal) {
    pr_sim_config c;
    small_config(&c);
    c.base_ctr = 0.2;  /* many clicks, fast */
    c.duration_s = 43200;
    run r = simulate(&c);
    int64_t *imp_ts = calloc(r.n + 2, sizeof *imp_ts);
    double *delays = malloc(r.n * sizeof *delays);
    size_t nd = 0;
    for (size_t i = 0; i < r.n; i++) {
        const pr_sim_event *e = &r.ev[i];
        if (e->type == PR_SIM_EVENT_IMPRESSION) imp_ts[e->impression_id] = e->ts_ms;
        if (e->type == PR_SIM_EVENT_CLICK) delays[nd++] = (double)(e->ts_ms - imp_ts[e->impression_id]) / 1000.0;
    }
    ASSERT_TRUE(nd > 10000);
    double mu = log(c.click_delay_median_s), sg = c.click_delay_sigma;
    double top = normal_cdf((log(c.max_click_delay_s) - mu) / sg);
    const double probes[] = {1, 5, 30, 120, 600, 3600};
    for (size_t k = 0; k < sizeof probes / sizeof probes[0]; k++) {
        double x = probes[k], want = normal_cdf((log(x) - mu) / sg) / top, got = 0;
        for (size_t i = 0; i < nd; i++) got += delays[i] <= x;
        got /= (double)nd;
        double tol = 4 * sqrt(want * (1 - want) / (double)nd) + 0.002;
        fprintf(stderr, "   P(delay <= %5.0fs): %.4f (model %.4f)\n", x, got, want);
        ASSERT_NEAR(got, want, tol);
    }
    for (size_t i = 0; i < nd; i++) ASSERT_TRUE(delays[i] > 0 && delays[i] <= c.max_click_delay_s);
    free(delays);
    free(imp_ts);
    free(r.ev);
}

/* ------------------------------------------------------------ order */

TEST(events_are_time_ordered_and_reference_their_impression) {
    pr_sim_config c;
    small_config(&c);
    c.conversion_rate = 0.3;
    run r = simulate(&c);
    typedef struct { int64_t ts; uint32_t user, ad; int clicked, clicks, convs; int64_t click_ts; } imp;
    imp *imps = calloc(r.n + 2, sizeof *imps);
    uint64_t last_id = 0, n_imp = 0, n_conv = 0;
    for (size_t i = 0; i < r.n; i++) {
        const pr_sim_event *e = &r.ev[i];
        ASSERT_EQ_INT(e->event_id, last_id + 1);
        last_id = e->event_id;
        if (i) ASSERT_TRUE(e->ts_ms >= r.ev[i - 1].ts_ms);
        ASSERT_TRUE(e->user_id < c.n_users && e->ad_id < c.n_ads);
        imp *m = &imps[e->impression_id];
        if (e->type == PR_SIM_EVENT_IMPRESSION) {
            ASSERT_EQ_INT(e->impression_id, ++n_imp);
            ASSERT_TRUE(e->site_id < c.n_sites);
            m->ts = e->ts_ms;
            m->user = e->user_id;
            m->ad = e->ad_id;
            m->clicked = e->clicked;
        } else {
            ASSERT_TRUE(e->impression_id >= 1 && e->impression_id <= n_imp);
            ASSERT_EQ_INT(e->user_id, m->user);
            ASSERT_EQ_INT(e->ad_id, m->ad);
            if (e->type == PR_SIM_EVENT_CLICK) {
                ASSERT_TRUE(m->clicked);
                ASSERT_TRUE(e->ts_ms > m->ts);
                m->clicks++;
                m->click_ts = e->ts_ms;
            } else {
                ASSERT_EQ_INT(m->clicks, 1);  /* conversion follows its click */
                ASSERT_TRUE(e->ts_ms > m->click_ts);
                m->convs++;
                n_conv++;
            }
        }
    }
    uint64_t n_click = 0;
    for (uint64_t i = 1; i <= n_imp; i++) {
        ASSERT_EQ_INT(imps[i].clicks, imps[i].clicked);
        ASSERT_TRUE(imps[i].convs <= 1);
        n_click += imps[i].clicks;
    }
    double rate = (double)n_conv / (double)n_click;
    ASSERT_NEAR(rate, 0.3, 4 * sqrt(0.3 * 0.7 / (double)n_click));
    free(imps);
    free(r.ev);
}

/* History features: the impression count of this ad to this user. */
TEST(history_features_count_what_happened) {
    pr_sim_config c;
    small_config(&c);
    c.n_users = 200;  /* many repeats */
    c.duration_s = 20000;
    run r = simulate(&c);
    uint32_t *user_imps = calloc(c.n_users, sizeof *user_imps);
    int repeats = 0;
    for (size_t i = 0; i < r.n; i++) {
        const pr_sim_event *e = &r.ev[i];
        if (e->type != PR_SIM_EVENT_IMPRESSION) continue;
        ASSERT_EQ_INT(e->user_imps, user_imps[e->user_id]);
        user_imps[e->user_id]++;
        /* user_ad_imps never exceeds the real count of earlier pairs */
        if (e->user_ad_imps > 0 && repeats < 200) {
            uint32_t seen = 0;
            for (size_t j = 0; j < i; j++)
                seen += r.ev[j].type == PR_SIM_EVENT_IMPRESSION && r.ev[j].user_id == e->user_id &&
                        r.ev[j].ad_id == e->ad_id;
            ASSERT_TRUE(e->user_ad_imps <= seen && seen > 0);
            repeats++;
        }
    }
    ASSERT_TRUE(repeats >= 200);
    free(user_imps);
    free(r.ev);
}

/* ------------------------------------------------------------ files */

static char *slurp(const char *path, size_t *len) {
    char *data = NULL;
    pr_err err;
    ASSERT_OK(pr_read_file(path, &data, len, &err));
    return data;
}

static void write_run(const pr_sim_config *cfg, const char *dir, const char *joined, int zstd) {
    pr_err err;
    pr_sim *sim = NULL;
    pr_sim_output *out = NULL;
    pr_sim_output_options o;
    memset(&o, 0, sizeof o);
    o.dir = dir;
    o.rotate_events = 50000;
    o.joined_path = joined;
    o.zstd = zstd;
    ASSERT_OK(pr_sim_new(cfg, &sim, &err));
    ASSERT_OK(pr_sim_output_open(&o, sim, &out, &err));
    pr_sim_event e;
    while (pr_sim_next(sim, &e, &err) == PR_OK) ASSERT_OK(pr_sim_output_write(out, &e, &err));
    ASSERT_OK(pr_sim_output_close(out, &err));
    pr_sim_free(sim);
}

static int same_file(const char *a, const char *b) {
    size_t la, lb;
    char *x = slurp(a, &la), *y = slurp(b, &lb);
    int same = la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return same;
}

TEST(same_seed_same_bytes_other_seed_differs) {
    pr_err err;
    pr_sim_config c;
    small_config(&c);
    c.duration_s = 40000;
    ASSERT_OK(pr_sim_scenario_parse(&c, "cold-start@5h", &err));
    ASSERT_OK(pr_sim_scenario_parse(&c, "interest-shift@6h", &err));
    write_run(&c, test_path("det_a"), test_path("det_a.csv"), 0);
    write_run(&c, test_path("det_b"), test_path("det_b.csv"), 0);
    const char *files[] = {"events-000000.jsonl", "events-000001.jsonl", "users.csv", "ads.csv",
                           "sites.csv", "truth.tsv", "scenarios.log"};
    char pa[600], pb[600];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(pa, sizeof pa, "%s/%s", test_path("det_a"), files[i]);
        snprintf(pb, sizeof pb, "%s/%s", test_path("det_b"), files[i]);
        if (!same_file(pa, pb)) TEST_FAIL("%s differs between two runs of one seed", files[i]);
    }
    ASSERT_TRUE(same_file(test_path("det_a.csv"), test_path("det_b.csv")));

    c.seed = 2;
    write_run(&c, test_path("det_c"), NULL, 0);
    snprintf(pa, sizeof pa, "%s/events-000000.jsonl", test_path("det_a"));
    snprintf(pb, sizeof pb, "%s/events-000000.jsonl", test_path("det_c"));
    ASSERT_TRUE(!same_file(pa, pb));
    snprintf(pa, sizeof pa, "%s/users.csv", test_path("det_a"));
    snprintf(pb, sizeof pb, "%s/users.csv", test_path("det_c"));
    ASSERT_TRUE(!same_file(pa, pb));
}

/* Entity ids in a CSV table, with the earliest effective_ts of each. */
static int64_t *table_first_ts(const char *path, uint32_t *n_out) {
    size_t len;
    char *data = slurp(path, &len);
    uint32_t cap = 1024, n = 0;
    int64_t *first = malloc(cap * sizeof *first);
    char *line = strchr(data, '\n') + 1;  /* skip the header */
    while (line < data + len) {
        char *end = strchr(line, '\n');
        ASSERT_TRUE(end != NULL);
        unsigned long long id = strtoull(line, NULL, 10);
        char *comma = strchr(line, ',');
        long long ts = strtoll(comma + 1, NULL, 10);
        while (id >= cap) {
            cap *= 2;
            first = realloc(first, cap * sizeof *first);
        }
        if (id >= n) {
            for (uint32_t k = n; k <= id; k++) first[k] = -1;
            n = (uint32_t)id + 1;
        }
        if (first[id] < 0 || ts < first[id]) first[id] = ts;
        line = end + 1;
    }
    free(data);
    *n_out = n;
    return first;
}

TEST(every_event_references_an_existing_entity) {
    pr_err err;
    pr_sim_config c;
    small_config(&c);
    ASSERT_OK(pr_sim_scenario_parse(&c, "cold-start@3h", &err));
    const char *dir = test_path("refs");
    write_run(&c, dir, NULL, 0);
    char path[600];
    uint32_t n_users, n_ads, n_sites;
    snprintf(path, sizeof path, "%s/users.csv", dir);
    int64_t *users = table_first_ts(path, &n_users);
    snprintf(path, sizeof path, "%s/ads.csv", dir);
    int64_t *ads = table_first_ts(path, &n_ads);
    snprintf(path, sizeof path, "%s/sites.csv", dir);
    int64_t *sites = table_first_ts(path, &n_sites);
    ASSERT_EQ_INT(n_users, c.n_users);
    ASSERT_EQ_INT(n_sites, c.n_sites);
    ASSERT_EQ_INT(n_ads, c.n_ads + c.n_ads / 10);  /* cold-start adds 10% */

    int n_files = 0, n_events = 0, new_ad_imps = 0;
    for (;; n_files++) {
        snprintf(path, sizeof path, "%s/events-%06d.jsonl", dir, n_files);
        struct stat st;
        if (stat(path, &st) != 0) break;
        FILE *f = fopen(path, "rb");
        char line[2048];
        while (fgets(line, sizeof line, f)) {
            json_error_t jerr;
            json_t *o = json_loads(line, 0, &jerr);
            if (!o) TEST_FAIL("%s: %s", path, jerr.text);
            n_events++;
            json_int_t ts = json_integer_value(json_object_get(o, "ts"));
            json_int_t uid = json_integer_value(json_object_get(o, "user_id"));
            json_int_t aid = json_integer_value(json_object_get(o, "ad_id"));
            ASSERT_TRUE(uid >= 0 && uid < n_users && users[uid] >= 0 && users[uid] <= ts);
            ASSERT_TRUE(aid >= 0 && aid < n_ads && ads[aid] >= 0 && ads[aid] <= ts);
            if (!strcmp(json_string_value(json_object_get(o, "type")), "impression")) {
                json_int_t sid = json_integer_value(json_object_get(o, "site_id"));
                ASSERT_TRUE(sid >= 0 && sid < n_sites && sites[sid] <= ts);
                ASSERT_TRUE(json_is_string(json_object_get(o, "device")));
                new_ad_imps += aid >= c.n_ads;
            }
            json_decref(o);
        }
        fclose(f);
    }
    ASSERT_TRUE(n_files >= 2);  /* rotated every 50000 events */
    ASSERT_TRUE(n_events > 100000);
    ASSERT_TRUE(new_ad_imps > 1000);
    free(users);
    free(ads);
    free(sites);
}

TEST(zstd_stream_and_joined_rows_line_up_with_truth) {
    pr_sim_config c;
    small_config(&c);
    c.duration_s = 10000;
    write_run(&c, test_path("plain"), test_path("plain.csv"), 0);
    write_run(&c, test_path("zst"), NULL, 1);
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/events-000000.jsonl.zst", test_path("zst"));
    snprintf(b, sizeof b, "%s/events-000000.jsonl", test_path("plain"));
    size_t lz, lp;
    char *z = slurp(a, &lz), *plain = slurp(b, &lp);
    ASSERT_TRUE(lz < lp / 3);
    char *unz = malloc(lp + 1);
    ZSTD_DCtx *dc = ZSTD_createDCtx();
    ZSTD_inBuffer in = {z, lz, 0};
    ZSTD_outBuffer outb = {unz, lp + 1, 0};
    while (in.pos < in.size) {
        size_t r = ZSTD_decompressStream(dc, &outb, &in);
        ASSERT_TRUE(!ZSTD_isError(r));
        if (outb.pos == outb.size) break;
    }
    ASSERT_EQ_INT(outb.pos, lp);
    ASSERT_TRUE(memcmp(unz, plain, lp) == 0);
    ZSTD_freeDCtx(dc);
    free(unz);
    free(z);
    free(plain);

    /* Joined CSV row k and truth row k are the same impression. */
    size_t lj, lt;
    char *joined = slurp(test_path("plain.csv"), &lj);
    snprintf(a, sizeof a, "%s/truth.tsv", test_path("plain"));
    char *truth = slurp(a, &lt);
    ASSERT_TRUE(strncmp(joined, "label,ts,user_id,ad_id,", 23) == 0);
    ASSERT_TRUE(strncmp(truth, "impression_id\tp\tp_label\n", 24) == 0);
    size_t rows_j = 0, rows_t = 0;
    for (size_t i = 0; i < lj; i++) rows_j += joined[i] == '\n';
    for (size_t i = 0; i < lt; i++) rows_t += truth[i] == '\n';
    ASSERT_EQ_INT(rows_j, rows_t);
    ASSERT_TRUE(rows_j > 10000);
    /* The joined label rate matches the mean truth p. */
    double sum_p = 0, labels = 0;
    char *line = strchr(truth, '\n') + 1;
    while (*line) {
        sum_p += strtod(strchr(line, '\t') + 1, NULL);
        line = strchr(line, '\n') + 1;
    }
    line = strchr(joined, '\n') + 1;
    while (*line) {
        labels += line[0] == '1';
        line = strchr(line, '\n') + 1;
    }
    ASSERT_TRUE(fabs(labels - sum_p) < 4 * sqrt(sum_p));
    free(joined);
    free(truth);
}

/* ------------------------------------------------------------ scenarios */

/* Events strictly before t_ms are identical in both runs (all fields);
 * returns the index of the first event at or after t_ms. */
static size_t assert_same_before(const run *a, const run *b, int64_t t_ms) {
    size_t i = 0;
    for (; i < a->n && a->ev[i].ts_ms < t_ms; i++) {
        ASSERT_TRUE(i < b->n);
        const pr_sim_event *x = &a->ev[i], *y = &b->ev[i];
        ASSERT_EQ_INT(x->type, y->type);
        ASSERT_EQ_INT(x->ts_ms, y->ts_ms);
        ASSERT_EQ_INT(x->user_id, y->user_id);
        ASSERT_EQ_INT(x->ad_id, y->ad_id);
        ASSERT_EQ_INT(x->site_id, y->site_id);
        ASSERT_EQ_INT(x->broken, y->broken);
        ASSERT_TRUE(x->p == y->p);
    }
    ASSERT_TRUE(b->n > i && b->ev[i].ts_ms >= t_ms);
    return i;
}

/* The k-th impression of each run. */
static const pr_sim_event **impressions(const run *r, size_t *n) {
    const pr_sim_event **v = malloc(r->n * sizeof *v);
    *n = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->ev[i].type == PR_SIM_EVENT_IMPRESSION) v[(*n)++] = &r->ev[i];
    return v;
}

static void assert_note_at(const run *r, const pr_sim_config *c, double at_s, const char *text) {
    for (size_t i = 0; i < r->n_notes; i++)
        if (strstr(r->note_text[i], text)) {
            ASSERT_EQ_INT(r->notes[i].ts_ms, start_plus(c, at_s));
            return;
        }
    TEST_FAIL("no scenario note containing '%s'", text);
}

TEST(scenario_ctr_shift_changes_base_rate_only_after_t) {
    pr_err err;
    pr_sim_config c;
    small_config(&c);
    c.w_recency = 0;  /* so clicks cannot feed back into p */
    run base = simulate(&c);
    ASSERT_OK(pr_sim_scenario_parse(&c, "ctr-shift@12h:2", &err));
    run shifted = simulate(&c);
    assert_same_before(&base, &shifted, start_plus(&c, 43200));
    assert_note_at(&shifted, &c, 43200, "ctr-shift: base CTR 0.02 -> 0.04");
    size_t na, nb;
    const pr_sim_event **a = impressions(&base, &na), **b = impressions(&shifted, &nb);
    ASSERT_EQ_INT(na, nb);  /* traffic untouched */
    double want = log(0.04 / 0.96) - log(0.02 / 0.98), ca = 0, cb = 0;
    for (size_t k = 0; k < na; k++) {
        ASSERT_EQ_INT(a[k]->ts_ms, b[k]->ts_ms);
        ASSERT_EQ_INT(a[k]->user_id, b[k]->user_id);
        ASSERT_EQ_INT(a[k]->ad_id, b[k]->ad_id);
        double d = log(b[k]->p / (1 - b[k]->p)) - log(a[k]->p / (1 - a[k]->p));
        if (a[k]->ts_ms < start_plus(&c, 43200)) {
            ASSERT_TRUE(d == 0);
        } else {
            if (a[k]->p > 1e-5) ASSERT_NEAR(d, want, 1e-6);
            ca += a[k]->clicked;
            cb += b[k]->clicked;
        }
    }
    fprintf(stderr, "   clicks after T: %.0f -> %.0f\n", ca, cb);
    ASSERT_TRUE(cb > 1.7 * ca);
    free(a);
    free(b);
    free(base.ev);
    free(shifted.ev);
}

TEST(scenario_surge_multiplies_traffic_for_its_span) {
    pr_err err;
    pr_sim_config c;
    small_config(&c);
    run base = simulate(&c);
    ASSERT_OK(pr_sim_scenario_parse(&c, "surge@10h:3:4h", &err));
    run surge = simulate(&c);
    assert_same_before(&base, &surge, start_plus(&c, 36000));
    assert_note_at(&surge, &c, 36000, "surge: traffic rate x3");
    assert_note_at(&surge, &c, 36000 + 14400, "surge: ends");
    size_t na, nb;
    const pr_sim_event **a = impressions(&base, &na), **b = impressions(&surge, &nb);
    /* Who/what/where is the same sequence; only the clock is compressed. */
    size_t n = na < nb ? na : nb;
    for (size_t k = 0; k < n; k++) {
        ASSERT_EQ_INT(a[k]->user_id, b[k]->user_id);
        ASSERT_EQ_INT(a[k]->site_id, b[k]->site_id);
        ASSERT_EQ_INT(a[k]->position, b[k]->position);
    }
    /* Count impressions per window: in [10h, 14h) about 3x, and the rate of
     * the last 4 hours (after the surge) the same as the baseline's. */
    double win[3][2] = {{36000, 50400}, {72000, 86400}, {0, 36000}};
    for (int w = 0; w < 3; w++) {
        double ka = 0, kb = 0;
        for (size_t k = 0; k < na; k++)
            ka += a[k]->ts_ms >= start_plus(&c, win[w][0]) && a[k]->ts_ms < start_plus(&c, win[w][1]);
        for (size_t k = 0; k < nb; k++)
            kb += b[k]->ts_ms >= start_plus(&c, win[w][0]) && b[k]->ts_ms < start_plus(&c, win[w][1]);
        double ratio = kb / ka, want = w == 0 ? 3.0 : 1.0;
        fprintf(stderr, "   window %d: %.0f -> %.0f impressions (x%.3f)\n", w, ka, kb, ratio);
        ASSERT_NEAR(ratio, want, 4 * want * sqrt(1 / ka + 1 / kb));
    }
    free(a);
    free(b);
    free(base.ev);
    free(surge.ev);
}

TEST(scenario_interest_shift_changes_affinity_only) {
    pr_err err;
    pr_sim_config c;
    small_config(&c);
    c.w_recency = 0;
    run base = simulate(&c);
    pr_sim_config cs = c;
    ASSERT_OK(pr_sim_scenario_parse(&cs, "interest-shift@8h", &err));
    run shifted = simulate(&cs);
    size_t first = assert_same_before(&base, &shifted, start_plus(&c, 28800));
    assert_note_at(&shifted, &c, 28800, "interest-shift");
    size_t na, nb;
    const pr_sim_event **a = impressions(&base, &na), **b = impressions(&shifted, &nb);
    ASSERT_EQ_INT(na, nb);
    size_t after = 0, changed = 0;
    for (size_t k = 0; k < na; k++) {
        ASSERT_EQ_INT(a[k]->ad_id, b[k]->ad_id);
        if (a[k]->ts_ms < start_plus(&c, 28800)) continue;
        after++;
        changed += a[k]->p != b[k]->p;
    }
    ASSERT_TRUE(first > 0 && after > 1000);
    ASSERT_TRUE(changed > after * 9 / 10);
    free(a);
    free(b);
    free(shifted.ev);

    /* With the affinity weight at zero the same scenario changes nothing:
     * it touches the latent dot product and nothing else. */
    c.w_affinity = cs.w_affinity = 0;
    run base0 = simulate(&c);
    run shifted0 = simulate(&cs);
    ASSERT_EQ_INT(base0.n, shifted0.n);
    for (size_t i = 0; i < base0.n; i++) {
        ASSERT_TRUE(base0.ev[i].p == shifted0.ev[i].p);
        ASSERT_EQ_INT(base0.ev[i].ts_ms, shifted0.ev[i].ts_ms);
    }
    free(base0.ev);
    free(shifted0.ev);
    free(base.ev);
}

TEST(scenario_cold_start_adds_new_ads_from_t) {
    pr_err err;
    pr_sim_config c;
    small_config(&c);
    run base = simulate(&c);
    ASSERT_OK(pr_sim_scenario_parse(&c, "cold-start@6h:50:0.3", &err));
    run cold = simulate(&c);
    assert_same_before(&base, &cold, start_plus(&c, 21600));
    assert_note_at(&cold, &c, 21600, "cold-start: 50 new ads");
    size_t na, nb;
    const pr_sim_event **a = impressions(&base, &na), **b = impressions(&cold, &nb);
    ASSERT_EQ_INT(na, nb);
    size_t after = 0, fresh = 0;
    for (size_t k = 0; k < na; k++) {
        ASSERT_EQ_INT(a[k]->ts_ms, b[k]->ts_ms);   /* same traffic */
        ASSERT_EQ_INT(a[k]->user_id, b[k]->user_id);
        ASSERT_EQ_INT(a[k]->site_id, b[k]->site_id);
        ASSERT_TRUE(a[k]->ad_id < c.n_ads);
        if (b[k]->ts_ms < start_plus(&c, 21600)) {
            ASSERT_TRUE(b[k]->ad_id < c.n_ads);
        } else {
            after++;
            fresh += b[k]->ad_id >= c.n_ads;
            ASSERT_TRUE(b[k]->ad_id < c.n_ads + 50);
            if (b[k]->ad_id >= c.n_ads) ASSERT_TRUE(b[k]->advertiser_id >= c.n_advertisers);
        }
    }
    /* 30% of fresh picks; re-shown ads (--retarget) lag behind at first
     * and then re-show new ads in proportion, so the share approaches 30%. */
    double share = (double)fresh / (double)after;
    fprintf(stderr, "   new-ad share after T: %.3f\n", share);
    ASSERT_TRUE(share > 0.2 && share < 0.36);
    free(a);
    free(b);
    free(base.ev);
    free(cold.ev);
}

TEST(scenario_broken_field_touches_only_that_field) {
    pr_err err;
    pr_sim_config c;
    small_config(&c);
    c.duration_s = 20000;
    const char *dir_a = test_path("brk_base"), *dir_b = test_path("brk_missing"),
               *dir_c = test_path("brk_const");
    write_run(&c, dir_a, NULL, 0);
    pr_sim_config cb = c;
    ASSERT_OK(pr_sim_scenario_parse(&cb, "broken-field@3h:device:missing", &err));
    write_run(&cb, dir_b, NULL, 0);
    pr_sim_config cc = c;
    ASSERT_OK(pr_sim_scenario_parse(&cc, "broken-field@3h:position:constant", &err));
    write_run(&cc, dir_c, NULL, 0);

    char pa[600], pb[600];
    snprintf(pa, sizeof pa, "%s/truth.tsv", dir_a);
    snprintf(pb, sizeof pb, "%s/truth.tsv", dir_b);
    ASSERT_TRUE(same_file(pa, pb));  /* p untouched */
    snprintf(pb, sizeof pb, "%s/scenarios.log", dir_b);
    size_t len;
    char *log = slurp(pb, &len);
    ASSERT_CONTAINS(log, "1704078000000\t2024-01-01T03:00:00Z\tbroken-field: device is now missing");
    free(log);

    /* Line by line: before 3h identical; after, only the field differs. */
    const char *variants[2] = {dir_b, dir_c};
    for (int v = 0; v < 2; v++) {
        snprintf(pa, sizeof pa, "%s/events-000000.jsonl", dir_a);
        snprintf(pb, sizeof pb, "%s/events-000000.jsonl", variants[v]);
        FILE *fa = fopen(pa, "rb"), *fb = fopen(pb, "rb");
        char la[2048], lb[2048];
        int after = 0;
        while (fgets(la, sizeof la, fa)) {
            ASSERT_TRUE(fgets(lb, sizeof lb, fb) != NULL);
            json_t *ja = json_loads(la, 0, NULL), *jb = json_loads(lb, 0, NULL);
            json_int_t ts = json_integer_value(json_object_get(ja, "ts"));
            int imp = !strcmp(json_string_value(json_object_get(ja, "type")), "impression");
            if (ts < 1704078000000LL || !imp) {
                ASSERT_EQ_STR(la, lb);
            } else {
                after++;
                const char *field = v == 0 ? "device" : "position";
                if (v == 0) ASSERT_TRUE(json_object_get(jb, field) == NULL);
                else ASSERT_EQ_INT(json_integer_value(json_object_get(jb, field)), 1);
                json_object_del(ja, field);
                json_object_del(jb, field);
                ASSERT_TRUE(json_equal(ja, jb));
            }
            json_decref(ja);
            json_decref(jb);
        }
        ASSERT_TRUE(fgets(lb, sizeof lb, fb) == NULL);
        ASSERT_TRUE(after > 1000);
        fclose(fa);
        fclose(fb);
    }
}

TEST(entity_tables_carry_changes_with_effective_ts) {
    pr_err err;
    pr_sim_config c;
    small_config(&c);
    c.duration_s = 20000;
    ASSERT_OK(pr_sim_scenario_parse(&c, "interest-shift@2h", &err));
    const char *dir = test_path("tables");
    write_run(&c, dir, NULL, 0);
    char path[600];
    snprintf(path, sizeof path, "%s/users.csv", dir);
    size_t len;
    char *data = slurp(path, &len);
    ASSERT_TRUE(strncmp(data, "user_id,effective_ts,age_bucket,gender,country,device,interest\n", 63) == 0);
    /* Every user has a start row and an interest row at 2h; ~5% also switch
     * device. Rows of one user are in time order. */
    size_t rows = 0, at_shift = 0;
    long long last_id = -1, last_ts = 0;
    for (char *line = strchr(data, '\n') + 1; line < data + len; line = strchr(line, '\n') + 1) {
        char *end;
        long long id = strtoll(line, &end, 10);
        long long ts = strtoll(end + 1, NULL, 10);
        if (id == last_id) ASSERT_TRUE(ts >= last_ts);
        else ASSERT_EQ_INT(id, last_id + 1);
        at_shift += ts == 1704067200000LL + 7200000LL;
        last_id = id;
        last_ts = ts;
        rows++;
    }
    ASSERT_EQ_INT(at_shift, c.n_users);
    ASSERT_TRUE(rows > 2 * (size_t)c.n_users && rows < 2 * (size_t)c.n_users + c.n_users / 10);
    free(data);
}

TEST(events_limit_stops_exactly) {
    pr_sim_config c;
    small_config(&c);
    c.duration_s = 0;
    c.max_events = 12345;
    run r = simulate(&c);
    ASSERT_EQ_INT(r.n, 12345);
    free(r.ev);
}

TEST(unwritable_output_folder_fails_at_open) {
    pr_err err;
    const char *file = test_path("not_a_dir");
    test_write_file(file, "x");
    pr_sim_output_options o;
    memset(&o, 0, sizeof o);
    o.dir = file;
    pr_sim_output *out = NULL;
    ASSERT_STATUS(pr_sim_output_open(&o, NULL, &out, &err), PR_ERR_IO);
    ASSERT_CONTAINS(err.msg, "not_a_dir");
    ASSERT_TRUE(out == NULL);
    char sub[600];
    snprintf(sub, sizeof sub, "%s/deeper/still", test_tmpdir());
    o.dir = sub;
    ASSERT_STATUS(pr_sim_output_open(&o, NULL, &out, &err), PR_ERR_IO);
    ASSERT_CONTAINS(err.msg, "-o ");
}

TEST(summary_stats_are_consistent) {
    pr_err err;
    pr_sim_config c;
    small_config(&c);
    c.duration_s = 30000;
    run r = simulate(&c);
    pr_sim_stats st;
    ASSERT_OK(pr_sim_stats_init(&st, &err));
    for (size_t i = 0; i < r.n; i++) pr_sim_stats_add(&st, &r.ev[i]);
    double imps = (double)st.impressions;
    /* Realized log loss of the true p is its expectation, within noise. */
    ASSERT_NEAR(st.sum_logloss / imps, st.sum_entropy / imps, 0.01);
    double auc = pr_sim_stats_auc(&st);
    ASSERT_TRUE(auc > 0.6 && auc < 0.95);
    /* Exact AUC by brute force over a sample agrees with the binned one. */
    size_t pos = 0, neg = 0;
    double wins = 0;
    const pr_sim_event **v = impressions(&r, &pos);
    size_t n = pos;
    double *ps = malloc(n * sizeof *ps), *ns = malloc(n * sizeof *ns);
    pos = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i]->label) ps[pos++] = v[i]->p_label;
        else ns[neg++] = v[i]->p_label;
    }
    for (size_t i = 0; i < pos; i++)
        for (size_t j = 0; j < neg; j += 7)
            wins += ps[i] > ns[j] ? 1 : ps[i] == ns[j] ? 0.5 : 0;
    double exact = wins / ((double)pos * (double)((neg + 6) / 7));
    ASSERT_NEAR(auc, exact, 0.01);
    char line[512];
    pr_sim_stats_format(&st, line, sizeof line);
    ASSERT_CONTAINS(line, "bayes_logloss=");
    free(ps);
    free(ns);
    free(v);
    pr_sim_stats_free(&st);
    free(r.ev);
}

int main(void) {
    RUN(bad_parameters_name_the_flag);
    RUN(clicks_match_true_p_within_4_sigma);
    RUN(attribution_window_shrinks_p_label);
    RUN(click_delays_follow_the_truncated_lognormal);
    RUN(events_are_time_ordered_and_reference_their_impression);
    RUN(history_features_count_what_happened);
    RUN(same_seed_same_bytes_other_seed_differs);
    RUN(every_event_references_an_existing_entity);
    RUN(zstd_stream_and_joined_rows_line_up_with_truth);
    RUN(scenario_ctr_shift_changes_base_rate_only_after_t);
    RUN(scenario_surge_multiplies_traffic_for_its_span);
    RUN(scenario_interest_shift_changes_affinity_only);
    RUN(scenario_cold_start_adds_new_ads_from_t);
    RUN(scenario_broken_field_touches_only_that_field);
    RUN(entity_tables_carry_changes_with_effective_ts);
    RUN(events_limit_stops_exactly);
    RUN(unwritable_output_folder_fails_at_open);
    RUN(summary_stats_are_consistent);
    TEST_MAIN_END();
}
