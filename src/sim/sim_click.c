/*
 * sim_click.c: the true click probability and the delays of clicks and
 * conversions. docs/simulator.md is the reference for every constant here;
 * change both together.
 *
 *   logit p = logit(base_ctr [x ctr-shift factor])
 *           + user.bias + ad.bias + site.bias              (per-entity effects)
 *           + device_effect[device] + creative_effect[creative]
 *           + 0.4 [ad.category mod 12 == site.category]   (context match)
 *           + w_affinity * dot(user, ad) / 8               (latent affinity)
 *           + ln position_bias[position]                   (1, .75, .55, .4)
 *           - w_fatigue * ln(1 + prior impressions of the ad to the user)
 *           + w_recency * [clicked this category within the recency window]
 *           + w_hour * cos(2 pi (hour - 21) / 24)
 *   p clamped to [1e-6, 1 - 1e-6].
 *
 * Delays are truncated log-normals: ln(delay) ~ N(ln median, sigma^2), drawn
 * again when above the cap (so no mass piles up at the cap). Conversions
 * use sigma 1.2. Draws come from the impression's own outcome stream.
 */
#include <math.h>

#include "sim/sim_int.h"

static const double device_effect[PR_SIM_N_DEVICE] = {0.10, 0.0, 0.05, -0.30};
static const double creative_effect[PR_SIM_N_CREATIVE] = {-0.15, 0.10, 0.20, 0.0};
/* ln of the position bias 1, 0.75, 0.55, 0.40 */
static const double log_position_bias[PR_SIM_N_POSITION] = {
    0.0, -0.28768207245178090, -0.59783700075562041, -0.91629073187415511};

#define CONTEXT_MATCH_EFFECT 0.4
#define CONV_DELAY_SIGMA 1.2

double pr__click_logit(const pr_sim *sim, const pr__user *u, const pr__ad *ad,
                       const pr__site *site, const pr_sim_event *ev,
                       double t_s) {
    const pr_sim_config *c = &sim->cfg;
    double z = pr__drift_on(sim, sim->drift.ctr_shift, t_s) ? sim->shifted_logit
                                                           : sim->base_logit;
    z += (u->bias + ad->bias + site->bias) * (1.0 / PR_SIM_LATENT_SCALE);
    z += device_effect[ev->device] + creative_effect[ad->creative_type];
    if (ad->category % PR_SIM_N_SITE_CATEGORY == site->category) z += CONTEXT_MATCH_EFFECT;

    /* Interest shift: user component (k+1) mod D is read as component k. */
    int shift = pr__drift_on(sim, sim->drift.interest_shift, t_s) ? 1 : 0;
    int dot = 0;
    for (int k = 0; k < PR_SIM_LATENT_DIM; k++)
        dot += u->latent[(k + shift) & (PR_SIM_LATENT_DIM - 1)] * ad->latent[k];
    z += c->w_affinity * (double)dot *
         (1.0 / (PR_SIM_LATENT_SCALE * PR_SIM_LATENT_SCALE * PR_SIM_LATENT_DIM));

    z += log_position_bias[ev->position - 1];
    if (ev->user_ad_imps) z -= c->w_fatigue * log1p((double)ev->user_ad_imps);
    if (ev->recent_cat_click) z += c->w_recency;
    z += c->w_hour * cos(6.283185307179586 * ((double)ev->hour - 21.0) / 24.0);
    return z;
}

static double std_normal_cdf(double x) { return 0.5 * erfc(-x / 1.4142135623730951); }

double pr__click_delay_cdf(const pr_sim *sim, double x_s) {
    if (x_s <= 0) return 0;
    if (x_s * 1000.0 >= sim->click_cap_ms) return 1;
    double top = std_normal_cdf((log(sim->click_cap_ms / 1000.0) - sim->click_mu) / sim->click_sigma);
    return std_normal_cdf((log(x_s) - sim->click_mu) / sim->click_sigma) / top;
}

static int64_t truncated_lognormal_ms(double mu, double sigma, double cap_ms,
                                      uint64_t *state) {
    for (;;) {
        uint64_t a = pr_splitmix64(state);
        double z = pr__normal(a, pr_splitmix64(state));
        double ms = exp(mu + sigma * z) * 1000.0;
        if (ms <= cap_ms) {
            int64_t v = (int64_t)llround(ms);
            return v < 1 ? 1 : v;
        }
    }
}

int64_t pr__click_delay_ms(const pr_sim *sim, uint64_t *outcome_state) {
    return truncated_lognormal_ms(sim->click_mu, sim->click_sigma, sim->click_cap_ms,
                                  outcome_state);
}

int64_t pr__conv_delay_ms(const pr_sim *sim, uint64_t *outcome_state) {
    return truncated_lognormal_ms(sim->conv_mu, CONV_DELAY_SIGMA, sim->conv_cap_ms,
                                  outcome_state);
}
