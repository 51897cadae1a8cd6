/*
 * sim.c: the pr_sim handle and its event loop.
 *
 * pr_sim_next merges two time-ordered sources into one stream: the next
 * impression (a Poisson process, see sim_traffic.c) and the min-heap of
 * pending clicks and conversions already decided for past impressions.
 * Whichever is earlier comes out; on a tie, the pending event first. When an
 * impression comes out its outcome is decided at once from its own outcome
 * stream (seed, impression_id): a click and its delay, and for a click a
 * conversion and its delay. The click goes into the heap; its conversion
 * goes in when the click comes out. A click coming out also updates the
 * user's recency state, so the history features only ever see the past.
 *
 * Ownership: pr_sim owns its copy of the config, the entity arrays and the
 * heap; pr_sim_free releases them. Invariant: every event returned has
 * ts_ms >= the previous one's.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_int.h"

static pr_status heap_nomem(pr_err *err) {
    return pr_err_set(err, PR_ERR_NOMEM, "simulate: cannot grow the pending-event heap");
}

pr_status pr_sim_new(const pr_sim_config *cfg, pr_sim **out, pr_err *err) {
    *out = NULL;
    pr_status rc = pr_sim_config_check(cfg, err);
    if (rc) return rc;
    pr_sim *sim = calloc(1, sizeof *sim);
    if (!sim) return pr_err_set(err, PR_ERR_NOMEM, "simulate: out of memory");
    sim->cfg = *cfg;
    pr__drift_resolve(sim);
    rc = pr__sim_build_entities(sim, err);
    if (rc) goto fail;

    const pr_sim_config *c = &sim->cfg;
    pr__zipf_init(&sim->user_zipf, sim->n_users, c->user_zipf);
    pr__zipf_init(&sim->ad_zipf, sim->n_base_ads, c->ad_zipf);
    pr__zipf_init(&sim->site_zipf, sim->n_sites, 1.0);
    pr__zipf_init(&sim->new_ad_zipf, sim->n_new_ads ? sim->n_new_ads : 1, c->ad_zipf);
    pr__rng_seed(&sim->timing, c->seed, 2);
    pr__rng_seed(&sim->select, c->seed, 3);

    sim->base_logit = log(c->base_ctr / (1 - c->base_ctr));
    sim->shifted_logit = sim->base_logit;
    if (sim->drift.ctr_shift >= 0) {
        double b = c->base_ctr * c->scenarios[sim->drift.ctr_shift].factor;
        sim->shifted_logit = log(b / (1 - b));
    }
    sim->click_mu = log(c->click_delay_median_s);
    sim->click_sigma = c->click_delay_sigma;
    sim->click_cap_ms = c->max_click_delay_s * 1000.0;
    sim->conv_mu = log(c->conv_delay_median_s);
    sim->conv_cap_ms = c->max_conv_delay_s * 1000.0;
    sim->label_share = pr__click_delay_cdf(sim, c->attribution_window_s);

    sim->t_next_s = pr__traffic_next_time(sim, 0.0);
    *out = sim;
    return PR_OK;
fail:
    pr_sim_free(sim);
    return rc;
}

void pr_sim_free(pr_sim *sim) {
    if (!sim) return;
    free(sim->users);
    free(sim->ads);
    free(sim->sites);
    pr__heap_free(&sim->heap);
    free(sim);
}

const pr_sim_config *pr_sim_get_config(const pr_sim *sim) { return &sim->cfg; }
uint32_t pr_sim_n_users(const pr_sim *sim) { return sim->n_users; }
uint32_t pr_sim_n_ads(const pr_sim *sim) { return sim->n_ads; }
uint32_t pr_sim_n_sites(const pr_sim *sim) { return sim->n_sites; }

static void emit_pending(pr_sim *sim, const pr__pending *p, pr_sim_event *ev) {
    memset(ev, 0, sizeof *ev);
    ev->type = (pr_sim_event_type)p->type;
    ev->event_id = ++sim->n_events;
    ev->impression_id = p->impression_id;
    ev->ts_ms = p->ts_ms;
    ev->user_id = p->user_id;
    ev->ad_id = p->ad_id;
    if (p->type == PR_SIM_EVENT_CLICK) {
        pr__user *u = &sim->users[p->user_id];
        double t = (double)(p->ts_ms - sim->cfg.start_ms) / 1000.0;
        u->has_clicked = 1;
        u->last_click_cat = p->category;
        u->last_click_s = t >= (double)UINT32_MAX ? UINT32_MAX : (uint32_t)t;
    }
}

/* Decides the impression's outcome and schedules its click. */
static pr_status schedule_outcome(pr_sim *sim, pr_sim_event *ev, pr_err *err) {
    uint64_t state = sim->cfg.seed ^ (ev->impression_id * 0xA24BAED4963EE407ull);
    pr_splitmix64(&state);  /* decorrelate neighbouring ids */
    double u_click = pr__u01(pr_splitmix64(&state));
    ev->clicked = u_click < ev->p;
    ev->label = 0;
    if (!ev->clicked) return PR_OK;
    int64_t delay = pr__click_delay_ms(sim, &state);
    ev->label = (double)delay <= sim->cfg.attribution_window_s * 1000.0;
    pr__pending p;
    memset(&p, 0, sizeof p);
    p.ts_ms = ev->ts_ms + delay;
    p.seq = ++sim->pending_seq;
    p.impression_id = ev->impression_id;
    p.user_id = ev->user_id;
    p.ad_id = ev->ad_id;
    p.type = PR_SIM_EVENT_CLICK;
    p.category = ev->category;
    if (pr__u01(pr_splitmix64(&state)) < sim->cfg.conversion_rate) {
        int64_t cd = pr__conv_delay_ms(sim, &state);
        p.conv_delay_ms = cd > UINT32_MAX ? UINT32_MAX : (uint32_t)cd;
    }
    return pr__heap_push(&sim->heap, &p) ? PR_OK : heap_nomem(err);
}

static void apply_broken_mask(const pr_sim *sim, double t_s, pr_sim_event *ev) {
    int b = sim->drift.broken_field;
    if (!pr__drift_on(sim, b, t_s)) return;
    const pr_sim_scenario *sc = &sim->cfg.scenarios[b];
    ev->broken = (uint8_t)(1u << sc->field);
    if (sc->mode == PR_SIM_BREAK_CONSTANT) ev->broken_constant = ev->broken;
}

pr_status pr_sim_next(pr_sim *sim, pr_sim_event *ev, pr_err *err) {
    const pr_sim_config *c = &sim->cfg;
    if (c->max_events && sim->n_events >= c->max_events) return PR_EOF;
    if (!sim->imps_done && c->duration_s > 0 && sim->t_next_s >= c->duration_s)
        sim->imps_done = 1;

    const pr__pending *top = pr__heap_top(&sim->heap);
    int64_t imp_ts = c->start_ms + (int64_t)(sim->t_next_s * 1000.0);
    int take_pending;
    if (sim->imps_done) {
        if (!top) return PR_EOF;
        take_pending = 1;
    } else {
        take_pending = top && top->ts_ms <= imp_ts;
    }
    double t_candidate = take_pending ? (double)(top->ts_ms - c->start_ms) / 1000.0 : sim->t_next_s;
    if (pr__drift_take_note(sim, t_candidate, ev)) return PR_OK;

    if (take_pending) {
        pr__pending p;
        pr__heap_pop(&sim->heap, &p);
        emit_pending(sim, &p, ev);
        if (p.type == PR_SIM_EVENT_CLICK && p.conv_delay_ms) {
            pr__pending conv = p;
            conv.type = PR_SIM_EVENT_CONVERSION;
            conv.ts_ms = p.ts_ms + p.conv_delay_ms;
            conv.conv_delay_ms = 0;
            conv.seq = ++sim->pending_seq;
            return pr__heap_push(&sim->heap, &conv) ? PR_OK : heap_nomem(err);
        }
        return PR_OK;
    }

    double t = sim->t_next_s;
    memset(ev, 0, sizeof *ev);
    pr__traffic_fill_impression(sim, t, ev);
    ev->event_id = ++sim->n_events;
    ev->impression_id = ++sim->n_impressions;
    apply_broken_mask(sim, t, ev);
    sim->t_next_s = pr__traffic_next_time(sim, t);
    return schedule_outcome(sim, ev, err);
}
