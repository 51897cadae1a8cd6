/*
 * sim_int.h: what the files of src/sim share and nobody else sees: the
 * PRNGs, the compact entity structs, the pending-event heap and the pr_sim
 * handle itself.
 *
 * Randomness comes in independent streams so that a drift scenario changes
 * only what it says (see docs/simulator.md, "Determinism"):
 *   entity  - builds users, ads, sites and their scheduled changes;
 *   timing  - inter-arrival times of impressions;
 *   select  - who/what/where of each impression (user, ad, site, slot...);
 *   outcome - per impression, seeded from (seed, impression_id): click,
 *             click delay, conversion, conversion delay.
 */
#ifndef PRONTO_SIM_INT_H
#define PRONTO_SIM_INT_H

#include <math.h>
#include <stdint.h>

#include "base/heap.h"
#include "pronto/sim.h"

/* ---------------------------------------------------------------- PRNG */

/* xoshiro256** (Blackman, Vigna 2018). */
typedef struct pr__rng {
    uint64_t s[4];
} pr__rng;

static inline uint64_t pr__rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t pr__rng_next(pr__rng *r) {
    uint64_t *s = r->s;
    uint64_t result = pr__rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = pr__rotl(s[3], 45);
    return result;
}

static inline void pr__rng_seed(pr__rng *r, uint64_t seed, uint64_t stream) {
    uint64_t sm = seed ^ (stream * 0xD1B54A32D192ED03ull);
    for (int i = 0; i < 4; i++) r->s[i] = pr_splitmix64(&sm);
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double pr__u01(uint64_t x) {
    return (double)(x >> 11) * 0x1.0p-53;
}
/* Uniform in (0, 1]: safe under log(). */
static inline double pr__u01_open(uint64_t x) {
    return ((double)(x >> 11) + 1.0) * 0x1.0p-53;
}
static inline double pr__rng_u01(pr__rng *r) { return pr__u01(pr__rng_next(r)); }

/* Standard normal by Box-Muller from two uniforms (one value kept). */
static inline double pr__normal(uint64_t a, uint64_t b) {
    return sqrt(-2.0 * log(pr__u01_open(a))) * cos(6.283185307179586 * pr__u01(b));
}
static inline double pr__rng_normal(pr__rng *r) {
    uint64_t a = pr__rng_next(r);
    return pr__normal(a, pr__rng_next(r));
}
/* Uniform integer in [0, n), n > 0 (Lemire's multiply-shift; the bias of
 * at most n / 2^64 does not matter here). */
static inline uint32_t pr__below(uint64_t x, uint32_t n) {
    return (uint32_t)(((unsigned __int128)x * n) >> 64);
}

/* ---------------------------------------------------------------- entities */

#define PR_SIM_LATENT_DIM 8       /* latent interest dimensions           */
#define PR_SIM_LATENT_SCALE 32.0  /* int8 value / 32 = real component      */
#define PR_SIM_RECENT_ADS 4       /* per-user slots for frequency counts  */
#define PR_SIM_NO_CHANGE UINT32_MAX

/* 56 bytes per user. Times are whole seconds after the start. */
typedef struct pr__user {
    int8_t latent[PR_SIM_LATENT_DIM];
    uint8_t age_bucket, gender, country, device;
    uint8_t new_device;          /* device after device_change_s          */
    int8_t bias;                 /* click propensity, logit / 32         */
    uint8_t last_click_cat;
    uint8_t has_clicked;
    uint32_t device_change_s;    /* PR_SIM_NO_CHANGE if none              */
    uint32_t last_click_s;       /* time of the last emitted click        */
    uint32_t n_imps;             /* impressions so far                    */
    uint32_t recent_ad[PR_SIM_RECENT_ADS];
    uint16_t recent_count[PR_SIM_RECENT_ADS];
    uint8_t n_recent;            /* filled slots of recent_ad             */
    uint8_t pad[3];
} pr__user;

typedef struct pr__ad {
    int8_t latent[PR_SIM_LATENT_DIM];
    uint32_t advertiser_id;
    uint32_t campaign_id;
    uint8_t category, creative_type;
    int8_t bias;                 /* ad quality, logit / 32               */
    uint8_t is_new;              /* created by the cold-start scenario    */
    float bid;                   /* CPM in dollars                        */
    float new_bid;
    uint32_t bid_change_s;       /* PR_SIM_NO_CHANGE if none              */
} pr__ad;

typedef struct pr__site {
    uint8_t category;
    int8_t bias;                 /* logit / 32                            */
} pr__site;

#define PR_SIM_N_CATEGORY 24
#define PR_SIM_N_CREATIVE 4
#define PR_SIM_N_SITE_CATEGORY 12
#define PR_SIM_N_DEVICE 4
#define PR_SIM_N_COUNTRY 16
#define PR_SIM_N_AGE 6
#define PR_SIM_N_GENDER 3
#define PR_SIM_N_POSITION 4

/* Builds all entity tables from the entity stream. Cold-start ads (if the
 * scenario is configured) are appended after the n_ads base ads. */
pr_status pr__sim_build_entities(pr_sim *sim, pr_err *err);

/* Interest segment shown in users.csv: the index of the largest latent
 * component, optionally after the interest-shift rotation. */
unsigned pr__user_segment(const pr__user *u, int shifted);

/* ---------------------------------------------------------------- heap */

typedef struct pr__pending {
    int64_t ts_ms;
    uint64_t seq;            /* tie-break: scheduling order              */
    uint64_t impression_id;
    uint32_t user_id, ad_id;
    uint32_t conv_delay_ms;  /* click: delay of its conversion, 0 = none */
    uint8_t type;            /* PR_SIM_EVENT_CLICK / _CONVERSION         */
    uint8_t category;        /* the ad's category (for recency)          */
} pr__pending;

/* The pending-event heap, keyed by (ts_ms, seq): seq is the scheduling
 * order, so equal timestamps come out in a fixed order and the stream stays
 * byte-identical for a seed. Bounded by the events scheduled within the
 * longest delay cap, not by the run. */
static inline int pr__pending_earlier(const pr__pending *a, const pr__pending *b) {
    return a->ts_ms < b->ts_ms || (a->ts_ms == b->ts_ms && a->seq < b->seq);
}
PR__HEAP_DEFINE(pr__heap, pr__pending, pr__pending_earlier)

/* ---------------------------------------------------------------- zipf */

/* Zipf-like ranks in [0, n): a continuous power law x in [1, n+1) with
 * density ~ x^-s, inverted in closed form, rank = floor(x) - 1. One pow()
 * per draw, no table, so 10M users cost no memory here. */
typedef struct pr__zipf {
    uint32_t n;
    double s;
    double span;     /* (n+1)^(1-s) - 1, or ln(n+1) when s == 1 */
    double inv;      /* 1 / (1-s) */
} pr__zipf;

void pr__zipf_init(pr__zipf *z, uint32_t n, double s);
uint32_t pr__zipf_rank(const pr__zipf *z, double u);

/* ---------------------------------------------------------------- handle */

/* Resolved scenario state, looked up once per impression. */
typedef struct pr__drift {
    int cold_start;          /* index into cfg.scenarios or -1, per kind  */
    int interest_shift;
    int surge;
    int broken_field;
    int ctr_shift;
} pr__drift;

struct pr_sim {
    pr_sim_config cfg;
    pr__user *users;
    pr__ad *ads;
    pr__site *sites;
    uint32_t n_users, n_ads, n_sites;
    uint32_t n_base_ads, n_new_ads;
    uint32_t n_advertisers_total;
    uint64_t user_perm_mul, ad_perm_mul, site_perm_mul, new_ad_perm_mul;
    pr__zipf user_zipf, ad_zipf, site_zipf, new_ad_zipf;

    pr__rng timing, select;

    /* Click model constants derived from cfg. */
    double base_logit, shifted_logit;
    double click_mu, click_sigma, click_cap_ms;
    double label_share;      /* P(delay <= attribution window)           */
    double conv_mu, conv_cap_ms;

    pr__drift drift;
    uint32_t scenario_fired; /* bit per cfg.scenarios entry, once logged */
    char note[256];

    /* Generation state. */
    double t_next_s;         /* time of the next impression, sim seconds */
    int imps_done;           /* no more impressions (duration reached)   */
    uint64_t n_impressions;
    uint64_t n_events;
    uint64_t pending_seq;
    pr__heap heap;
};

/* --------------------------------------------------------- traffic, model */

/* Rate multiplier at sim time t (daily x weekly cycle, mean 1, x surge). */
double pr__traffic_rate_mult(const pr_sim *sim, double t_s);
/* Picks the next impression time after t_s (from the timing stream). */
double pr__traffic_next_time(pr_sim *sim, double t_s);

/* Fills the who/what/where of an impression at time t_s (select stream),
 * updates the user's history, and sets ev->p, p_label. */
void pr__traffic_fill_impression(pr_sim *sim, double t_s, pr_sim_event *ev);

/* Logit of p for an impression whose fields are set in ev (the model in
 * docs/simulator.md). Reads user/ad/site state; changes nothing. */
double pr__click_logit(const pr_sim *sim, const pr__user *u, const pr__ad *ad,
                       const pr__site *site, const pr_sim_event *ev,
                       double t_s);

/* Samples a click delay / conversion delay in ms from the outcome stream. */
int64_t pr__click_delay_ms(const pr_sim *sim, uint64_t *outcome_state);
int64_t pr__conv_delay_ms(const pr_sim *sim, uint64_t *outcome_state);
/* CDF of the truncated log-normal click delay at x seconds. */
double pr__click_delay_cdf(const pr_sim *sim, double x_s);

/* ---------------------------------------------------------------- drift */

/* Resolves which scenario index is configured per kind. */
void pr__drift_resolve(pr_sim *sim);
/* True when the scenario at index idx (or -1) is active at time t_s. */
static inline int pr__drift_on(const pr_sim *sim, int idx, double t_s) {
    return idx >= 0 && t_s >= sim->cfg.scenarios[idx].at_s;
}
/* If a scenario starts (or a surge ends) at or before t_s and has not been
 * announced, fills ev as a PR_SIM_EVENT_SCENARIO note and returns 1. */
int pr__drift_take_note(pr_sim *sim, double t_s, pr_sim_event *ev);
/* Time of the earliest unannounced scenario boundary, or INFINITY. */
double pr__drift_next_boundary(const pr_sim *sim);

#endif
