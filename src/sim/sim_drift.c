/*
 * sim_drift.c: the drift scenarios' bookkeeping: which scenario of each kind
 * is configured, and the notes announcing each change at the simulated time
 * it happens (written to scenarios.log by the output side).
 *
 * The effects themselves live where they act, each behind pr__drift_on():
 * cold-start in the ad pick (sim_traffic.c), surge in the traffic rate
 * (sim_traffic.c), interest-shift and ctr-shift in the click model
 * (sim_click.c), broken-field as a mask on the event (sim.c) that the
 * writers apply. A scenario's boundaries (its start, and a surge's end) are
 * announced once each, in time order; pr_sim.scenario_fired has bit i for
 * the start of scenario i and bit 8 + i for the end of a surge.
 */
#include <math.h>
#include <stdio.h>

#include "sim/sim_int.h"

void pr__drift_resolve(pr_sim *sim) {
    int *slot[PR_SIM_SCENARIO_KIND_COUNT] = {
        &sim->drift.cold_start, &sim->drift.interest_shift, &sim->drift.surge,
        &sim->drift.broken_field, &sim->drift.ctr_shift};
    for (int k = 0; k < PR_SIM_SCENARIO_KIND_COUNT; k++) *slot[k] = -1;
    for (uint32_t i = 0; i < sim->cfg.n_scenarios; i++)
        *slot[sim->cfg.scenarios[i].kind] = (int)i;
}

/* Boundary number b (0..15) of the config: its time, or INFINITY. */
static double boundary_time(const pr_sim *sim, unsigned b) {
    unsigned i = b & 7;
    if (i >= sim->cfg.n_scenarios) return INFINITY;
    const pr_sim_scenario *sc = &sim->cfg.scenarios[i];
    if (b < 8) return sc->at_s;
    return sc->kind == PR_SIM_SCENARIO_SURGE ? sc->at_s + sc->length_s : INFINITY;
}

static int next_boundary(const pr_sim *sim, double *t_out) {
    int best = -1;
    double best_t = INFINITY;
    for (unsigned b = 0; b < 16; b++) {
        if (sim->scenario_fired & (1u << b)) continue;
        double t = boundary_time(sim, b);
        if (t < best_t) {
            best_t = t;
            best = (int)b;
        }
    }
    *t_out = best_t;
    return best;
}

double pr__drift_next_boundary(const pr_sim *sim) {
    double t;
    next_boundary(sim, &t);
    return t;
}

static void describe(const pr_sim *sim, unsigned b, char *buf, size_t n) {
    const pr_sim_scenario *sc = &sim->cfg.scenarios[b & 7];
    static const char *const field_names[] = {"device", "site_id", "position"};
    static const char *const constant_values[] = {"\"mobile\"", "0", "1"};
    if (b >= 8) {
        snprintf(buf, n, "surge: ends; traffic rate back to normal");
        return;
    }
    switch (sc->kind) {
    case PR_SIM_SCENARIO_COLD_START:
        snprintf(buf, n,
                 "cold-start: %u new ads (ad_id %u..%u) from new advertisers "
                 "(advertiser_id %u..%u) now take %g%% of fresh ad picks",
                 sim->n_new_ads, sim->n_base_ads, sim->n_ads - 1, sim->cfg.n_advertisers,
                 sim->n_advertisers_total - 1, sc->share * 100.0);
        break;
    case PR_SIM_SCENARIO_INTEREST_SHIFT:
        snprintf(buf, n,
                 "interest-shift: every user's latent interest vector rotates by one "
                 "dimension (users.csv: new interest segment rows)");
        break;
    case PR_SIM_SCENARIO_SURGE:
        snprintf(buf, n, "surge: traffic rate x%g for %gs", sc->factor, sc->length_s);
        break;
    case PR_SIM_SCENARIO_BROKEN_FIELD:
        if (sc->mode == PR_SIM_BREAK_MISSING)
            snprintf(buf, n, "broken-field: %s is now missing from impressions and joined rows",
                     field_names[sc->field]);
        else
            snprintf(buf, n, "broken-field: %s is now the constant %s", field_names[sc->field],
                     constant_values[sc->field]);
        break;
    case PR_SIM_SCENARIO_CTR_SHIFT:
        snprintf(buf, n, "ctr-shift: base CTR %g -> %g", sim->cfg.base_ctr,
                 sim->cfg.base_ctr * sc->factor);
        break;
    default:
        snprintf(buf, n, "?");
    }
}

int pr__drift_take_note(pr_sim *sim, double t_s, pr_sim_event *ev) {
    double bt;
    int b = next_boundary(sim, &bt);
    if (b < 0 || bt > t_s) return 0;
    sim->scenario_fired |= 1u << b;
    describe(sim, (unsigned)b, sim->note, sizeof sim->note);
    ev->type = PR_SIM_EVENT_SCENARIO;
    ev->event_id = 0;
    ev->ts_ms = sim->cfg.start_ms + (int64_t)floor(bt * 1000.0);
    ev->note = sim->note;
    return 1;
}
