/*
 * sim_entities.c: builds the users, ads and sites of a simulation and names
 * their categorical values.
 *
 * Everything is drawn from the entity stream, in a fixed order: users, then
 * sites, then the base ads, then (only if the cold-start scenario is set)
 * the new ads. Appending the new ads last keeps every other entity identical
 * whether or not the scenario is on.
 *
 * Latent interests: each ad category c has a prototype vector P_c ~ N(0, I);
 * an ad of category c has latent 0.8 P_c + 0.6 N(0, I); a user has N(0, I).
 * Vectors are stored as int8 with scale 1/32 (PR_SIM_LATENT_SCALE), so a
 * user costs 56 bytes and an ad 36 bytes; the arrays are owned by pr_sim and
 * freed by pr_sim_free.
 *
 * Scheduled attribute changes (written as extra rows of the entity tables):
 * 5% of users switch device at a uniform time in the span, 10% of ads get a
 * new bid (x exp(N(0, 0.3))) at a uniform time in the span.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "sim/sim_int.h"

static const char *const category_names[PR_SIM_N_CATEGORY] = {
    "autos", "beauty", "books", "business", "electronics", "entertainment",
    "fashion", "finance", "food", "gaming", "garden", "health",
    "home", "insurance", "jobs", "kids", "music", "news",
    "pets", "real_estate", "software", "sports", "telecom", "travel"};
static const char *const creative_names[PR_SIM_N_CREATIVE] = {
    "banner", "native", "video", "rich_media"};
static const char *const site_category_names[PR_SIM_N_SITE_CATEGORY] = {
    "news", "sports", "entertainment", "social", "shopping", "tech",
    "lifestyle", "finance", "games", "travel", "food", "education"};
static const char *const device_names[PR_SIM_N_DEVICE] = {
    "mobile", "desktop", "tablet", "ctv"};
static const char *const country_names[PR_SIM_N_COUNTRY] = {
    "US", "IN", "BR", "GB", "DE", "FR", "JP", "MX",
    "CA", "ES", "IT", "ID", "TR", "AU", "NL", "PL"};
static const char *const age_names[PR_SIM_N_AGE] = {
    "18-24", "25-34", "35-44", "45-54", "55-64", "65+"};
static const char *const gender_names[PR_SIM_N_GENDER] = {"f", "m", "u"};

const char *pr_sim_value_name(pr_sim_value_kind kind, unsigned code) {
    if (code >= pr_sim_value_count(kind)) return "?";
    switch (kind) {
    case PR_SIM_VALUE_CATEGORY: return category_names[code];
    case PR_SIM_VALUE_CREATIVE_TYPE: return creative_names[code];
    case PR_SIM_VALUE_SITE_CATEGORY: return site_category_names[code];
    case PR_SIM_VALUE_DEVICE: return device_names[code];
    case PR_SIM_VALUE_COUNTRY: return country_names[code];
    case PR_SIM_VALUE_AGE_BUCKET: return age_names[code];
    case PR_SIM_VALUE_GENDER: return gender_names[code];
    }
    return "?";
}

unsigned pr_sim_value_count(pr_sim_value_kind kind) {
    switch (kind) {
    case PR_SIM_VALUE_CATEGORY: return PR_SIM_N_CATEGORY;
    case PR_SIM_VALUE_CREATIVE_TYPE: return PR_SIM_N_CREATIVE;
    case PR_SIM_VALUE_SITE_CATEGORY: return PR_SIM_N_SITE_CATEGORY;
    case PR_SIM_VALUE_DEVICE: return PR_SIM_N_DEVICE;
    case PR_SIM_VALUE_COUNTRY: return PR_SIM_N_COUNTRY;
    case PR_SIM_VALUE_AGE_BUCKET: return PR_SIM_N_AGE;
    case PR_SIM_VALUE_GENDER: return PR_SIM_N_GENDER;
    }
    return 0;
}

/* Draws an index from a small table of weights (they need not sum to 1). */
static unsigned pick_weighted(pr__rng *r, const double *w, unsigned n) {
    double total = 0;
    for (unsigned i = 0; i < n; i++) total += w[i];
    double u = pr__rng_u01(r) * total;
    for (unsigned i = 0; i < n; i++) {
        if (u < w[i]) return i;
        u -= w[i];
    }
    return n - 1;
}

static int8_t to_int8(double v) {
    double q = nearbyint(v * PR_SIM_LATENT_SCALE);
    if (q > 127) q = 127;
    if (q < -127) q = -127;
    return (int8_t)q;
}

_Static_assert(sizeof(pr__user) == 56, "pr__user stays compact: 10M users in 560 MB");

unsigned pr__user_segment(const pr__user *u, int shifted) {
    unsigned best = 0;
    for (unsigned i = 1; i < PR_SIM_LATENT_DIM; i++)
        if (u->latent[i] > u->latent[best]) best = i;
    /* Interest shift reads component (i + 1) mod D as component i, so the
     * largest one moves down by one index. */
    return shifted ? (best + PR_SIM_LATENT_DIM - 1) % PR_SIM_LATENT_DIM : best;
}

/* Whole seconds of the span, for scheduling changes inside it. */
static double span_seconds(const pr_sim_config *c) {
    return c->duration_s > 0 ? c->duration_s : (double)c->max_events / c->imp_rate;
}

static uint32_t uniform_time(pr__rng *r, double span) {
    double t = floor(pr__rng_u01(r) * span);
    return t >= (double)(PR_SIM_NO_CHANGE - 1) ? PR_SIM_NO_CHANGE - 1 : (uint32_t)t;
}

static void build_user(pr__rng *r, double span, pr__user *u) {
    static const double age_w[PR_SIM_N_AGE] = {0.18, 0.28, 0.22, 0.15, 0.10, 0.07};
    static const double gender_w[PR_SIM_N_GENDER] = {0.48, 0.47, 0.05};
    static const double device_w[PR_SIM_N_DEVICE] = {0.55, 0.30, 0.10, 0.05};
    /* Zipf(1) over countries: weight 1 / rank. */
    static const double country_w[PR_SIM_N_COUNTRY] = {
        1.0, 1 / 2.0, 1 / 3.0, 1 / 4.0, 1 / 5.0, 1 / 6.0, 1 / 7.0, 1 / 8.0,
        1 / 9.0, 1 / 10.0, 1 / 11.0, 1 / 12.0, 1 / 13.0, 1 / 14.0, 1 / 15.0, 1 / 16.0};
    memset(u, 0, sizeof *u);
    for (int k = 0; k < PR_SIM_LATENT_DIM; k++) u->latent[k] = to_int8(pr__rng_normal(r));
    u->age_bucket = (uint8_t)pick_weighted(r, age_w, PR_SIM_N_AGE);
    u->gender = (uint8_t)pick_weighted(r, gender_w, PR_SIM_N_GENDER);
    u->country = (uint8_t)pick_weighted(r, country_w, PR_SIM_N_COUNTRY);
    u->device = (uint8_t)pick_weighted(r, device_w, PR_SIM_N_DEVICE);
    u->bias = to_int8(0.4 * pr__rng_normal(r));
    u->device_change_s = PR_SIM_NO_CHANGE;
    u->new_device = u->device;
    if (pr__rng_u01(r) < 0.05) {
        u->device_change_s = uniform_time(r, span);
        u->new_device = (uint8_t)((u->device + 1 + pr__below(pr__rng_next(r), PR_SIM_N_DEVICE - 1)) %
                                  PR_SIM_N_DEVICE);
    }
}

static void build_ad(pr__rng *r, double span, const double proto[][PR_SIM_LATENT_DIM],
                     uint32_t advertiser_id, pr__ad *a) {
    static const double creative_w[PR_SIM_N_CREATIVE] = {0.5, 0.25, 0.15, 0.10};
    memset(a, 0, sizeof *a);
    a->advertiser_id = advertiser_id;
    /* Advertisers have a vertical; 20% of their ads stray from it. */
    unsigned cat = (unsigned)((advertiser_id * 7ull + 3) % PR_SIM_N_CATEGORY);
    if (pr__rng_u01(r) < 0.2) cat = pr__below(pr__rng_next(r), PR_SIM_N_CATEGORY);
    a->category = (uint8_t)cat;
    a->campaign_id = advertiser_id * 8 + pr__below(pr__rng_next(r), 8);
    a->creative_type = (uint8_t)pick_weighted(r, creative_w, PR_SIM_N_CREATIVE);
    for (int k = 0; k < PR_SIM_LATENT_DIM; k++)
        a->latent[k] = to_int8(0.8 * proto[cat][k] + 0.6 * pr__rng_normal(r));
    a->bias = to_int8(0.5 * pr__rng_normal(r));
    a->bid = (float)(nearbyint(200.0 * exp(0.5 * pr__rng_normal(r))) / 100.0);
    a->new_bid = a->bid;
    a->bid_change_s = PR_SIM_NO_CHANGE;
    if (pr__rng_u01(r) < 0.10) {
        a->bid_change_s = uniform_time(r, span);
        a->new_bid = (float)(nearbyint(a->bid * 100.0 * exp(0.3 * pr__rng_normal(r))) / 100.0);
    }
}

/* A multiplier coprime with n: rank -> (rank * mul) mod n is a permutation,
 * which spreads popular ranks over the id space. */
static uint64_t coprime_multiplier(uint32_t n) {
    if (n <= 2) return 1;
    uint64_t m = 0x9E3779B1ull % n;
    if (m < 2) m = 2;
    for (;;) {
        uint64_t a = m, b = n;
        while (b) {
            uint64_t t = a % b;
            a = b;
            b = t;
        }
        if (a == 1) return m;
        m = m + 1 < n ? m + 1 : 2;
    }
}

/* Entity tables are read at random, once per impression: on 2 MiB pages
 * (where the kernel allows) a 10M-user table costs far fewer TLB misses.
 * Freed with free(). */
static void *alloc_table(size_t bytes) {
    const size_t huge = (size_t)2 << 20;
    if (bytes < 4 * huge) return malloc(bytes ? bytes : 1);
    void *p = NULL;
    size_t rounded = (bytes + huge - 1) & ~(huge - 1);
    if (posix_memalign(&p, huge, rounded) != 0) return NULL;
    madvise(p, rounded, MADV_HUGEPAGE);  /* advice only: failure is fine */
    return p;
}

pr_status pr__sim_build_entities(pr_sim *sim, pr_err *err) {
    const pr_sim_config *c = &sim->cfg;
    pr__rng r;
    pr__rng_seed(&r, c->seed, 1);
    double span = span_seconds(c);

    uint32_t n_new = 0;
    for (uint32_t i = 0; i < c->n_scenarios; i++)
        if (c->scenarios[i].kind == PR_SIM_SCENARIO_COLD_START)
            n_new = c->scenarios[i].n_ads ? c->scenarios[i].n_ads
                                          : (c->n_ads / 10 ? c->n_ads / 10 : 1);
    if ((uint64_t)c->n_ads + n_new > UINT32_MAX / 2)
        return pr_err_set(err, PR_ERR_INVALID, "scenario cold-start: too many new ads");

    sim->n_users = c->n_users;
    sim->n_sites = c->n_sites;
    sim->n_base_ads = c->n_ads;
    sim->n_new_ads = n_new;
    sim->n_ads = c->n_ads + n_new;
    sim->users = alloc_table((size_t)sim->n_users * sizeof *sim->users);
    sim->ads = alloc_table((size_t)sim->n_ads * sizeof *sim->ads);
    sim->sites = malloc((size_t)sim->n_sites * sizeof *sim->sites);
    if (!sim->users || !sim->ads || !sim->sites)
        return pr_err_set(err, PR_ERR_NOMEM,
                          "simulate: cannot allocate entity tables for %u users, %u ads, %u sites",
                          sim->n_users, sim->n_ads, sim->n_sites);

    for (uint32_t i = 0; i < sim->n_users; i++) build_user(&r, span, &sim->users[i]);
    for (uint32_t i = 0; i < sim->n_sites; i++) {
        sim->sites[i].category = (uint8_t)pr__below(pr__rng_next(&r), PR_SIM_N_SITE_CATEGORY);
        sim->sites[i].bias = to_int8(0.3 * pr__rng_normal(&r));
    }
    double proto[PR_SIM_N_CATEGORY][PR_SIM_LATENT_DIM];
    for (int cat = 0; cat < PR_SIM_N_CATEGORY; cat++)
        for (int k = 0; k < PR_SIM_LATENT_DIM; k++) proto[cat][k] = pr__rng_normal(&r);
    for (uint32_t i = 0; i < sim->n_base_ads; i++)
        build_ad(&r, span, (const double(*)[PR_SIM_LATENT_DIM])proto,
                 pr__below(pr__rng_next(&r), c->n_advertisers), &sim->ads[i]);

    /* Cold-start ads belong to new advertisers, ids after the existing ones. */
    uint32_t n_new_adv = n_new / 10 ? n_new / 10 : 1;
    sim->n_advertisers_total = c->n_advertisers + (n_new ? n_new_adv : 0);
    for (uint32_t i = 0; i < n_new; i++) {
        pr__ad *a = &sim->ads[sim->n_base_ads + i];
        build_ad(&r, span, (const double(*)[PR_SIM_LATENT_DIM])proto,
                 c->n_advertisers + pr__below(pr__rng_next(&r), n_new_adv), a);
        a->is_new = 1;
        a->bid_change_s = PR_SIM_NO_CHANGE;  /* no change rows for new ads */
        a->new_bid = a->bid;
    }
    sim->user_perm_mul = coprime_multiplier(sim->n_users);
    sim->ad_perm_mul = coprime_multiplier(sim->n_base_ads);
    sim->site_perm_mul = coprime_multiplier(sim->n_sites);
    sim->new_ad_perm_mul = coprime_multiplier(n_new ? n_new : 1);
    return PR_OK;
}
