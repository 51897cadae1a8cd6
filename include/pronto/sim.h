/*
 * pronto/sim.h: the ad-traffic simulator behind `pronto simulate`.
 *
 * It generates a seeded, reproducible stream of impressions, clicks and
 * conversions over synthetic users, ads and sites, together with the true
 * click probability p of every impression, so the Bayes-optimal log loss of
 * any slice is known exactly. docs/simulator.md documents the generative
 * model and its parameters; docs/events.md the output formats.
 *
 *     pr_sim_config cfg;
 *     pr_sim_config_default(&cfg);
 *     cfg.seed = 7;
 *     pr_sim_scenario_parse(&cfg, "surge@2d:3:6h", &err);  // optional drift
 *     pr_sim *sim;
 *     if (pr_sim_new(&cfg, &sim, &err) != PR_OK) ...;      // builds entities
 *     pr_sim_event ev;
 *     while (pr_sim_next(sim, &ev, &err) == PR_OK) use(&ev); // PR_EOF ends
 *     pr_sim_free(sim);
 *
 * The output side (pr_sim_output) turns events into JSON-lines files,
 * entity CSV tables, the ground-truth file and joined training examples.
 *
 * Determinism: the same config (seed included) yields the same event
 * sequence, byte for byte, on every run and machine with IEEE doubles and
 * the same libm. Output options never change the sequence.
 */
#ifndef PRONTO_SIM_H
#define PRONTO_SIM_H

#include <stdint.h>
#include <stdio.h>

#include "pronto/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- config */

typedef enum {
    PR_SIM_SCENARIO_COLD_START = 0,     /* new ads and advertisers appear   */
    PR_SIM_SCENARIO_INTEREST_SHIFT = 1, /* user interest vectors rotate     */
    PR_SIM_SCENARIO_SURGE = 2,          /* traffic rate x factor for a span */
    PR_SIM_SCENARIO_BROKEN_FIELD = 3,   /* a context field constant/missing */
    PR_SIM_SCENARIO_CTR_SHIFT = 4,      /* base CTR x factor                */
    PR_SIM_SCENARIO_KIND_COUNT = 5
} pr_sim_scenario_kind;

/* Fields the broken-field scenario can break (request context fields). */
typedef enum {
    PR_SIM_FIELD_DEVICE = 0,
    PR_SIM_FIELD_SITE_ID = 1,
    PR_SIM_FIELD_POSITION = 2
} pr_sim_field;

typedef enum {
    PR_SIM_BREAK_MISSING = 0,  /* the field is left out / empty            */
    PR_SIM_BREAK_CONSTANT = 1  /* the field always holds one valid value    */
} pr_sim_break_mode;

typedef struct pr_sim_scenario {
    pr_sim_scenario_kind kind;
    double at_s;      /* simulated seconds after the start when it begins  */
    double factor;    /* surge: rate multiplier; ctr-shift: base CTR mult. */
    double length_s;  /* surge: how long the surge lasts                   */
    uint32_t n_ads;   /* cold-start: number of new ads                     */
    double share;     /* cold-start: share of fresh ad picks going to them */
    pr_sim_field field;        /* broken-field */
    pr_sim_break_mode mode;    /* broken-field */
} pr_sim_scenario;

#define PR_SIM_SCENARIO_MAX 8

/* All knobs of the simulator. Transparent: fill with pr_sim_config_default
 * and override fields. Each field names the `pronto simulate` flag that sets
 * it; pr_sim_config_check reports errors by that flag name. */
typedef struct pr_sim_config {
    uint64_t seed;              /* --seed (any value)                       */
    int64_t start_ms;           /* --start, Unix seconds on the command line */
    double duration_s;          /* --duration; 0 = unbounded (--events only) */
    uint64_t max_events;        /* --events; 0 = unbounded (--duration only) */
    uint32_t n_users;           /* --users                                  */
    uint32_t n_ads;             /* --ads                                    */
    uint32_t n_advertisers;     /* --advertisers                            */
    uint32_t n_sites;           /* --sites                                  */
    double imp_rate;            /* --imp-rate: mean impressions / sim second */
    double base_ctr;            /* --base-ctr: p with all effects at zero   */
    double conversion_rate;     /* --conversion-rate: P(conversion | click) */
    double click_delay_median_s;   /* --click-delay-median                 */
    double click_delay_sigma;      /* --click-delay-sigma (log-normal)     */
    double max_click_delay_s;      /* --max-click-delay (truncation)       */
    double attribution_window_s;   /* --attribution-window (<= max delay)  */
    double conv_delay_median_s;    /* --conversion-delay-median            */
    double max_conv_delay_s;       /* --max-conversion-delay               */
    double user_zipf;           /* --user-zipf: activity exponent           */
    double ad_zipf;             /* --ad-zipf: popularity exponent           */
    double retarget_prob;       /* --retarget: P(re-show a recent ad)       */
    /* Click-model weights (docs/simulator.md); tests may zero them. */
    double w_affinity;          /* user-ad latent dot product weight        */
    double w_fatigue;           /* per ln(1 + prior impressions of the ad)  */
    double w_recency;           /* boost after a click in the category      */
    double recency_window_s;    /* how long that boost lasts                */
    double w_hour;              /* amplitude of the hour-of-day effect      */
    uint32_t n_scenarios;
    pr_sim_scenario scenarios[PR_SIM_SCENARIO_MAX];  /* --scenario (repeat) */
} pr_sim_config;

void pr_sim_config_default(pr_sim_config *cfg);

/* Checks every field; on failure returns PR_ERR_INVALID with a message that
 * starts with the field, e.g. "base_ctr: must be in (0, 1), got 1.5"
 * (`pronto simulate` says its flag instead). */
pr_status pr_sim_config_check(const pr_sim_config *cfg, pr_err *err);

/* Parses "NAME@TIME[:ARG...]" and appends it to cfg->scenarios:
 *   cold-start@T[:N_ADS[:SHARE]]   interest-shift@T
 *   surge@T[:FACTOR[:LENGTH]]      broken-field@T[:FIELD[:missing|constant]]
 *   ctr-shift@T[:FACTOR]
 * TIME and LENGTH are durations (pr_sim_parse_duration). Messages start with
 * "scenario SPEC:". Whether T lies inside the span is pr_sim_config_check's job. */
pr_status pr_sim_scenario_parse(pr_sim_config *cfg, const char *spec,
                                pr_err *err);

/* Parses "90", "90s", "15m", "36h", "7d", "2w" (decimals allowed) into
 * seconds. Returns PR_ERR_PARSE on anything else or a negative value. */
pr_status pr_sim_parse_duration(const char *text, double *out_s);

/* Scenario name as written on the command line ("cold-start"). */
const char *pr_sim_scenario_name(pr_sim_scenario_kind kind);

/* ---------------------------------------------------------------- events */

typedef enum {
    PR_SIM_EVENT_IMPRESSION = 0,
    PR_SIM_EVENT_CLICK = 1,
    PR_SIM_EVENT_CONVERSION = 2,
    /* Not part of the event stream: a drift scenario took effect. Only
     * ts_ms and note are set; event_id is 0. */
    PR_SIM_EVENT_SCENARIO = 3
} pr_sim_event_type;

/* Bits of pr_sim_event.broken: which context fields are currently broken
 * (bit = 1 << pr_sim_field), and how (broken_constant has the same bits). */
typedef struct pr_sim_event {
    pr_sim_event_type type;
    uint64_t event_id;        /* 1, 2, ... in stream order                */
    uint64_t impression_id;   /* 1, 2, ... in impression order            */
    int64_t ts_ms;            /* Unix milliseconds                        */
    uint32_t user_id;
    uint32_t ad_id;
    /* Impressions only (zero otherwise). Category-like fields are codes;
     * pr_sim_value_name turns them into the strings the files carry. */
    uint32_t site_id;
    uint32_t advertiser_id;
    uint32_t campaign_id;
    uint8_t category;
    uint8_t creative_type;
    uint8_t site_category;
    uint8_t device;           /* the request's device (true value)        */
    uint8_t country;
    uint8_t age_bucket;
    uint8_t gender;
    uint8_t position;         /* 1 = top slot                             */
    uint8_t hour;             /* UTC hour of ts                           */
    uint8_t day_of_week;      /* 0 = Monday, UTC                          */
    uint8_t recent_cat_click; /* history: user clicked this category lately */
    uint8_t broken;           /* bitmask of broken fields, see above      */
    uint8_t broken_constant;  /* of those, the ones broken as "constant"  */
    uint32_t user_ad_imps;    /* history: prior impressions of ad to user */
    uint32_t user_imps;       /* history: prior impressions of the user   */
    double p;                 /* true click probability (ever)            */
    double p_label;           /* P(click within the attribution window)  */
    int label;                /* 1 if clicked within the window           */
    int clicked;              /* 1 if a click follows (at any delay)      */
    /* Scenario notes only: borrowed, valid until the next pr_sim_next. */
    const char *note;
} pr_sim_event;

typedef enum {
    PR_SIM_VALUE_CATEGORY = 0,
    PR_SIM_VALUE_CREATIVE_TYPE = 1,
    PR_SIM_VALUE_SITE_CATEGORY = 2,
    PR_SIM_VALUE_DEVICE = 3,
    PR_SIM_VALUE_COUNTRY = 4,
    PR_SIM_VALUE_AGE_BUCKET = 5,
    PR_SIM_VALUE_GENDER = 6
} pr_sim_value_kind;

/* String for a code ("mobile"); "?" when code is out of range. Static. */
const char *pr_sim_value_name(pr_sim_value_kind kind, unsigned code);
/* Number of codes of a kind. */
unsigned pr_sim_value_count(pr_sim_value_kind kind);

/* ---------------------------------------------------------------- sim */

typedef struct pr_sim pr_sim;

/* Checks cfg (pr_sim_config_check), copies it and generates the entity
 * tables. *out is owned by caller, free with pr_sim_free. Memory is about
 * 56 bytes per user + 36 per ad, fixed from here on. */
pr_status pr_sim_new(const pr_sim_config *cfg, pr_sim **out, pr_err *err);
void pr_sim_free(pr_sim *sim);

/* Fills *ev with the next event in timestamp order (ties: pending clicks and
 * conversions before the impression, then in scheduling order). Returns
 * PR_EOF when --events or --duration is reached (after --duration, the
 * clicks and conversions still pending are drained first). No allocation
 * except the pending-event heap growing to its bounded size. */
pr_status pr_sim_next(pr_sim *sim, pr_sim_event *ev, pr_err *err);

/* The config in use (borrowed, valid until pr_sim_free). */
const pr_sim_config *pr_sim_get_config(const pr_sim *sim);

/* Writes users.csv, ads.csv and sites.csv (CSV with header, one row per
 * entity plus one per attribute change, column effective_ts in Unix ms) into
 * dir. Files are written to a temporary name and renamed when complete. */
pr_status pr_sim_write_entities(const pr_sim *sim, const char *dir,
                                pr_err *err);

/* Entity counts including cold-start ads (valid ids are < these). */
uint32_t pr_sim_n_users(const pr_sim *sim);
uint32_t pr_sim_n_ads(const pr_sim *sim);
uint32_t pr_sim_n_sites(const pr_sim *sim);

/* ---------------------------------------------------------------- output */

typedef enum {
    PR_SIM_JOINED_CSV = 0,     /* header + named columns (docs/events.md)  */
    PR_SIM_JOINED_CRITEO = 1   /* label, I1..I13, C1..C26, tab-separated   */
} pr_sim_joined_format;

typedef struct pr_sim_output_options {
    const char *dir;            /* -o: events-NNNNNN.jsonl[.zst], entity
                                   tables, truth.tsv, scenarios.log; NULL */
    int to_stdout;              /* --stdout: events to stdout, not to dir */
    int zstd;                   /* --zstd: compress the event stream      */
    uint64_t rotate_events;     /* --rotate: events per file (0 = never)  */
    const char *joined_path;    /* --joined FILE, or NULL                 */
    pr_sim_joined_format joined_format;   /* --joined-format             */
    const char *truth_path;     /* --truth FILE; default dir/truth.tsv    */
    int zstd_level;             /* 1..19; 0 = default (3)                 */
} pr_sim_output_options;

typedef struct pr_sim_output pr_sim_output;

/* Opens every output file (creating dir if missing, one level), so an
 * unwritable folder fails here. sim may be NULL; if it is not and opts->dir
 * is set, the entity tables are written too (pr_sim_write_entities). To
 * fail before any work, open with sim = NULL before pr_sim_new and write
 * the tables afterwards, as `pronto simulate` does. Strings in opts are
 * copied; sim is only read during the call. *out is owned by caller:
 * finish with pr_sim_output_close (which frees it) or pr_sim_output_abort. */
pr_status pr_sim_output_open(const pr_sim_output_options *opts,
                             const pr_sim *sim, pr_sim_output **out,
                             pr_err *err);
/* Writes one event (scenario notes go to scenarios.log). Sticky: after a
 * failure every later call returns the same status. */
pr_status pr_sim_output_write(pr_sim_output *o, const pr_sim_event *ev,
                              pr_err *err);
/* Flushes stdout-bound buffers (for --rate pacing). */
pr_status pr_sim_output_flush(pr_sim_output *o, pr_err *err);
/* Flushes and closes everything; frees o whatever happens. */
pr_status pr_sim_output_close(pr_sim_output *o, pr_err *err);
/* Closes without reporting errors; accepts NULL. */
void pr_sim_output_abort(pr_sim_output *o);

/* ---------------------------------------------------------------- summary */

/* Running totals for the final report line. The AUC uses 2^18 bins of
 * sqrt(p_label): ties inside a bin count half, error well under 1e-4. */
typedef struct pr_sim_stats {
    uint64_t events, impressions, clicks, conversions, labels;
    double sum_p, sum_p_label;
    double sum_entropy;      /* sum of -[q ln q + (1-q) ln(1-q)], q=p_label */
    double sum_logloss;      /* realized log loss of p_label vs label       */
    uint64_t *bin_pos;       /* owned; 2^18 counts each                     */
    uint64_t *bin_neg;
} pr_sim_stats;

pr_status pr_sim_stats_init(pr_sim_stats *st, pr_err *err);
void pr_sim_stats_add(pr_sim_stats *st, const pr_sim_event *ev);
/* AUC of p_label against labels; NaN without both classes. */
double pr_sim_stats_auc(const pr_sim_stats *st);
/* One line: "events=... impressions=... clicks=... ctr=... mean_p=...
 * bayes_logloss=... realized_logloss=... auc=...". */
void pr_sim_stats_format(const pr_sim_stats *st, char *buf, size_t n);
void pr_sim_stats_free(pr_sim_stats *st);

#ifdef __cplusplus
}
#endif
#endif
