/*
 * sim_traffic.c: when impressions happen and who/what/where they are.
 *
 * Timing (timing stream): a Poisson process whose rate follows the clock,
 *   rate(t) = imp_rate x daily(t) x weekly(t) x surge(t),
 *   daily  = 1 + 0.5 cos(2 pi (hour_of_day - 20) / 24)   (peak 20:00 UTC),
 *   weekly = 0.92 Monday-Friday, 1.20 Saturday-Sunday      (mean 1),
 * sampled as t += Exp(1) / rate(t), which is exact for a rate that is
 * constant over one gap (the rate changes over hours, gaps are sub-second).
 *
 * Selection (select stream): every impression consumes the same number of
 * draws whatever happens, so the cold-start scenario changes only the ads it
 * replaces. User and site are Zipf-like ranks mapped through a permutation;
 * the ad is a re-shown recent ad with probability --retarget, otherwise a
 * fresh pick by popularity (a new ad with probability SHARE once cold-start
 * is on). The user's history (impression count, last 4 ads with counts) is
 * updated here; its click history is updated when a click is emitted.
 */
#include <math.h>

#include "sim/sim_int.h"

void pr__zipf_init(pr__zipf *z, uint32_t n, double s) {
    z->n = n;
    z->s = s;
    if (fabs(s - 1.0) < 1e-9) {
        z->span = log((double)n + 1.0);
        z->inv = 0;
    } else {
        z->span = pow((double)n + 1.0, 1.0 - s) - 1.0;
        z->inv = 1.0 / (1.0 - s);
    }
}

uint32_t pr__zipf_rank(const pr__zipf *z, double u) {
    if (z->n <= 1) return 0;
    double x = z->inv == 0 ? exp(u * z->span) : pow(1.0 + u * z->span, z->inv);
    double r = floor(x) - 1.0;
    if (!(r >= 0)) return 0;
    if (r >= (double)z->n) return z->n - 1;
    return (uint32_t)r;
}

static inline uint32_t permute(uint32_t rank, uint64_t mul, uint32_t n) {
    return (uint32_t)(((uint64_t)rank * mul) % n);
}

double pr__traffic_rate_mult(const pr_sim *sim, double t_s) {
    double abs_s = (double)sim->cfg.start_ms / 1000.0 + t_s;
    double day_s = fmod(abs_s, 86400.0);
    double daily = 1.0 + 0.5 * cos(6.283185307179586 * (day_s / 3600.0 - 20.0) / 24.0);
    int64_t days = (int64_t)floor(abs_s / 86400.0);
    int dow = (int)((days + 3) % 7);  /* 1970-01-01 was a Thursday */
    double weekly = dow >= 5 ? 1.20 : 0.92;
    double m = daily * weekly;
    int s = sim->drift.surge;
    if (s >= 0) {
        const pr_sim_scenario *sc = &sim->cfg.scenarios[s];
        if (t_s >= sc->at_s && t_s < sc->at_s + sc->length_s) m *= sc->factor;
    }
    return m;
}

double pr__traffic_next_time(pr_sim *sim, double t_s) {
    double gap = -log(pr__u01_open(pr__rng_next(&sim->timing)));
    return t_s + gap / (sim->cfg.imp_rate * pr__traffic_rate_mult(sim, t_s));
}

static uint8_t pick_position(double u) {
    /* Slot shares 40/30/20/10%. */
    return u < 0.4 ? 1 : u < 0.7 ? 2 : u < 0.9 ? 3 : 4;
}

void pr__traffic_fill_impression(pr_sim *sim, double t_s, pr_sim_event *ev) {
    pr__rng *r = &sim->select;
    /* Fixed number of draws per impression (see the file comment). */
    double u_user = pr__rng_u01(r);
    double u_dev = pr__rng_u01(r);
    uint64_t x_other_dev = pr__rng_next(r);
    double u_retarget = pr__rng_u01(r);
    uint64_t x_slot = pr__rng_next(r);
    double u_new = pr__rng_u01(r);
    double u_ad = pr__rng_u01(r);
    double u_site = pr__rng_u01(r);
    double u_pos = pr__rng_u01(r);

    uint32_t uid = permute(pr__zipf_rank(&sim->user_zipf, u_user), sim->user_perm_mul,
                           sim->n_users);
    pr__user *u = &sim->users[uid];
    uint32_t t_whole = (uint32_t)t_s;

    /* 85% of requests come from the user's current device. */
    uint8_t home_device = t_whole >= u->device_change_s ? u->new_device : u->device;
    uint8_t device = home_device;
    if (u_dev >= 0.85)
        device = (uint8_t)((home_device + 1 + pr__below(x_other_dev, PR_SIM_N_DEVICE - 1)) %
                           PR_SIM_N_DEVICE);

    uint32_t ad_id;
    if (u->n_recent > 0 && u_retarget < sim->cfg.retarget_prob) {
        ad_id = u->recent_ad[pr__below(x_slot, u->n_recent)];
    } else if (pr__drift_on(sim, sim->drift.cold_start, t_s) &&
               u_new < sim->cfg.scenarios[sim->drift.cold_start].share) {
        ad_id = sim->n_base_ads + permute(pr__zipf_rank(&sim->new_ad_zipf, u_ad),
                                          sim->new_ad_perm_mul, sim->n_new_ads);
    } else {
        ad_id = permute(pr__zipf_rank(&sim->ad_zipf, u_ad), sim->ad_perm_mul, sim->n_base_ads);
    }
    const pr__ad *ad = &sim->ads[ad_id];
    uint32_t site_id = permute(pr__zipf_rank(&sim->site_zipf, u_site), sim->site_perm_mul,
                               sim->n_sites);
    const pr__site *site = &sim->sites[site_id];

    /* History as of this impression (before counting it). */
    int slot = -1;
    for (int i = 0; i < u->n_recent; i++)
        if (u->recent_ad[i] == ad_id) slot = i;
    uint32_t prior = slot >= 0 ? u->recent_count[slot] : 0;

    int64_t ts_ms = sim->cfg.start_ms + (int64_t)(t_s * 1000.0);
    int64_t secs = ts_ms / 1000;
    ev->type = PR_SIM_EVENT_IMPRESSION;
    ev->ts_ms = ts_ms;
    ev->user_id = uid;
    ev->ad_id = ad_id;
    ev->site_id = site_id;
    ev->advertiser_id = ad->advertiser_id;
    ev->campaign_id = ad->campaign_id;
    ev->category = ad->category;
    ev->creative_type = ad->creative_type;
    ev->site_category = site->category;
    ev->device = device;
    ev->country = u->country;
    ev->age_bucket = u->age_bucket;
    ev->gender = u->gender;
    ev->position = pick_position(u_pos);
    ev->hour = (uint8_t)((secs / 3600) % 24);
    ev->day_of_week = (uint8_t)(((secs / 86400) + 3) % 7);
    ev->user_ad_imps = prior;
    ev->user_imps = u->n_imps;
    ev->recent_cat_click = u->has_clicked && u->last_click_cat == ad->category &&
                           t_s - (double)u->last_click_s < sim->cfg.recency_window_s;

    double z = pr__click_logit(sim, u, ad, site, ev, t_s);
    double p = 1.0 / (1.0 + exp(-z));
    if (p < 1e-6) p = 1e-6;
    if (p > 1 - 1e-6) p = 1 - 1e-6;
    ev->p = p;
    ev->p_label = p * sim->label_share;

    /* Count this impression. New ads take the slot round-robin. */
    if (u->n_imps < UINT32_MAX) u->n_imps++;
    if (slot >= 0) {
        if (u->recent_count[slot] < UINT16_MAX) u->recent_count[slot]++;
    } else {
        int s = u->n_recent < PR_SIM_RECENT_ADS ? u->n_recent++ : (int)(u->n_imps % PR_SIM_RECENT_ADS);
        u->recent_ad[s] = ad_id;
        u->recent_count[s] = 1;
    }
}
