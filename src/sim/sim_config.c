/*
 * sim_config.c: defaults, validation and the small text parsers of the
 * simulator's configuration (durations, scenario specs).
 *
 * Validation speaks in the command line's terms: every message starts with
 * the flag that set the bad field, because pr_sim_config is what the flags
 * of `pronto simulate` fill. Nothing here allocates.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_int.h"

void pr_sim_config_default(pr_sim_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->seed = 1;
    cfg->start_ms = 1704067200000LL;   /* 2024-01-01T00:00:00Z, a Monday */
    cfg->duration_s = 7 * 86400.0;
    cfg->max_events = 0;
    cfg->n_users = 100000;
    cfg->n_ads = 10000;
    cfg->n_advertisers = 500;
    cfg->n_sites = 2000;
    cfg->imp_rate = 20.0;
    cfg->base_ctr = 0.02;
    cfg->conversion_rate = 0.05;
    cfg->click_delay_median_s = 30.0;
    cfg->click_delay_sigma = 1.5;
    cfg->max_click_delay_s = 2 * 3600.0;
    cfg->attribution_window_s = 2 * 3600.0;
    cfg->conv_delay_median_s = 20 * 60.0;
    cfg->max_conv_delay_s = 24 * 3600.0;
    cfg->user_zipf = 0.9;
    cfg->ad_zipf = 1.05;
    cfg->retarget_prob = 0.25;
    cfg->w_affinity = 2.0;
    cfg->w_fatigue = 0.3;
    cfg->w_recency = 0.7;
    cfg->recency_window_s = 3600.0;
    cfg->w_hour = 0.2;
}

const char *pr_sim_scenario_name(pr_sim_scenario_kind kind) {
    switch (kind) {
    case PR_SIM_SCENARIO_COLD_START: return "cold-start";
    case PR_SIM_SCENARIO_INTEREST_SHIFT: return "interest-shift";
    case PR_SIM_SCENARIO_SURGE: return "surge";
    case PR_SIM_SCENARIO_BROKEN_FIELD: return "broken-field";
    case PR_SIM_SCENARIO_CTR_SHIFT: return "ctr-shift";
    default: return "?";
    }
}

pr_status pr_sim_parse_duration(const char *text, double *out_s) {
    if (!text || !*text) return PR_ERR_PARSE;
    errno = 0;
    char *end = NULL;
    double v = strtod(text, &end);
    if (end == text || errno != 0 || !isfinite(v) || v < 0) return PR_ERR_PARSE;
    double mult = 1;
    if (*end) {
        switch (*end) {
        case 's': mult = 1; break;
        case 'm': mult = 60; break;
        case 'h': mult = 3600; break;
        case 'd': mult = 86400; break;
        case 'w': mult = 7 * 86400; break;
        default: return PR_ERR_PARSE;
        }
        if (end[1]) return PR_ERR_PARSE;
    }
    *out_s = v * mult;
    return PR_OK;
}

/* Copies the next ':'-separated token of *cursor into buf; returns 0 at the
 * end of the spec. */
static int next_token(const char **cursor, char *buf, size_t n) {
    const char *s = *cursor;
    if (!s) return 0;
    const char *colon = strchr(s, ':');
    size_t len = colon ? (size_t)(colon - s) : strlen(s);
    if (len >= n) len = n - 1;
    memcpy(buf, s, len);
    buf[len] = 0;
    *cursor = colon ? colon + 1 : NULL;
    return 1;
}

static pr_status parse_positive(const char *tok, const char *spec,
                                const char *what, double *out, pr_err *err) {
    errno = 0;
    char *end = NULL;
    double v = strtod(tok, &end);
    if (end == tok || *end || errno || !isfinite(v) || v <= 0)
        return pr_err_set(err, PR_ERR_INVALID,
                          "scenario %s: %s must be a positive number, got '%s'",
                          spec, what, tok);
    *out = v;
    return PR_OK;
}

pr_status pr_sim_scenario_parse(pr_sim_config *cfg, const char *spec,
                                pr_err *err) {
    char name[32], tok[64];
    const char *at = strchr(spec, '@');
    if (!at)
        return pr_err_set(err, PR_ERR_INVALID,
                          "scenario %s: expected NAME@TIME[:ARGS], e.g. surge@2d:3:6h",
                          spec);
    size_t name_len = (size_t)(at - spec);
    if (name_len >= sizeof name) name_len = sizeof name - 1;
    memcpy(name, spec, name_len);
    name[name_len] = 0;

    pr_sim_scenario sc;
    memset(&sc, 0, sizeof sc);
    int kind = -1;
    for (int k = 0; k < PR_SIM_SCENARIO_KIND_COUNT; k++)
        if (strcmp(name, pr_sim_scenario_name((pr_sim_scenario_kind)k)) == 0) kind = k;
    if (kind < 0)
        return pr_err_set(err, PR_ERR_INVALID,
                          "scenario %s: unknown scenario '%s' (expected cold-start, "
                          "interest-shift, surge, broken-field or ctr-shift)",
                          spec, name);
    sc.kind = (pr_sim_scenario_kind)kind;
    for (uint32_t i = 0; i < cfg->n_scenarios; i++)
        if (cfg->scenarios[i].kind == sc.kind)
            return pr_err_set(err, PR_ERR_INVALID,
                              "scenario %s: %s given twice", spec, name);
    if (cfg->n_scenarios >= PR_SIM_SCENARIO_MAX)
        return pr_err_set(err, PR_ERR_INVALID, "scenario %s: too many scenarios", spec);

    const char *cursor = at + 1;
    next_token(&cursor, tok, sizeof tok);
    if (pr_sim_parse_duration(tok, &sc.at_s) != PR_OK)
        return pr_err_set(err, PR_ERR_INVALID,
                          "scenario %s: TIME must be a duration after the start "
                          "such as 36h or 2d, got '%s'", spec, tok);
    /* Defaults of the optional arguments. */
    sc.factor = sc.kind == PR_SIM_SCENARIO_SURGE ? 3.0 : 0.5;
    sc.length_s = 86400.0;
    sc.share = 0.2;
    sc.n_ads = 0; /* resolved from n_ads in pr_sim_new */
    sc.field = PR_SIM_FIELD_DEVICE;
    sc.mode = PR_SIM_BREAK_MISSING;

    pr_status rc = PR_OK;
    int argi = 0;
    while (next_token(&cursor, tok, sizeof tok)) {
        argi++;
        switch (sc.kind) {
        case PR_SIM_SCENARIO_COLD_START:
            if (argi == 1) {
                double v = 0;
                rc = parse_positive(tok, spec, "N_ADS", &v, err);
                if (rc) return rc;
                if (v != floor(v) || v > 1e8)
                    return pr_err_set(err, PR_ERR_INVALID,
                                      "scenario %s: N_ADS must be a whole number up to 1e8, got '%s'",
                                      spec, tok);
                sc.n_ads = (uint32_t)v;
            } else if (argi == 2) {
                rc = parse_positive(tok, spec, "SHARE", &sc.share, err);
                if (rc) return rc;
                if (sc.share > 1)
                    return pr_err_set(err, PR_ERR_INVALID,
                                      "scenario %s: SHARE must be in (0, 1], got '%s'", spec, tok);
            } else {
                goto too_many;
            }
            break;
        case PR_SIM_SCENARIO_SURGE:
            if (argi == 1) {
                rc = parse_positive(tok, spec, "FACTOR", &sc.factor, err);
                if (rc) return rc;
            } else if (argi == 2) {
                if (pr_sim_parse_duration(tok, &sc.length_s) != PR_OK || sc.length_s <= 0)
                    return pr_err_set(err, PR_ERR_INVALID,
                                      "scenario %s: LENGTH must be a positive duration, got '%s'",
                                      spec, tok);
            } else {
                goto too_many;
            }
            break;
        case PR_SIM_SCENARIO_CTR_SHIFT:
            if (argi != 1) goto too_many;
            rc = parse_positive(tok, spec, "FACTOR", &sc.factor, err);
            if (rc) return rc;
            break;
        case PR_SIM_SCENARIO_BROKEN_FIELD:
            if (argi == 1) {
                if (strcmp(tok, "device") == 0) sc.field = PR_SIM_FIELD_DEVICE;
                else if (strcmp(tok, "site_id") == 0) sc.field = PR_SIM_FIELD_SITE_ID;
                else if (strcmp(tok, "position") == 0) sc.field = PR_SIM_FIELD_POSITION;
                else
                    return pr_err_set(err, PR_ERR_INVALID,
                                      "scenario %s: FIELD must be device, site_id or position, got '%s'",
                                      spec, tok);
            } else if (argi == 2) {
                if (strcmp(tok, "missing") == 0) sc.mode = PR_SIM_BREAK_MISSING;
                else if (strcmp(tok, "constant") == 0) sc.mode = PR_SIM_BREAK_CONSTANT;
                else
                    return pr_err_set(err, PR_ERR_INVALID,
                                      "scenario %s: MODE must be missing or constant, got '%s'",
                                      spec, tok);
            } else {
                goto too_many;
            }
            break;
        default:
            goto too_many;
        }
    }
    cfg->scenarios[cfg->n_scenarios++] = sc;
    return PR_OK;
too_many:
    return pr_err_set(err, PR_ERR_INVALID, "scenario %s: too many arguments for %s",
                      spec, name);
}

static pr_status check_range(double v, double lo, double hi, int lo_open,
                             const char *field, const char *what, pr_err *err) {
    int bad = !isfinite(v) || v > hi || (lo_open ? v <= lo : v < lo);
    if (bad)
        return pr_err_set(err, PR_ERR_INVALID, "%s: %s, got %g", field, what, v);
    return PR_OK;
}

pr_status pr_sim_config_check(const pr_sim_config *c, pr_err *err) {
    pr_status rc;
#define CHECK(v, lo, hi, open, field, what) \
    if ((rc = check_range((v), (lo), (hi), (open), (field), (what), err))) return rc
    if (c->duration_s == 0 && c->max_events == 0)
        return pr_err_set(err, PR_ERR_INVALID,
                          "duration_s: give a positive duration_s or max_events");
    CHECK(c->duration_s, 0, 1e10, 0, "duration_s", "must be a duration of 0 to 1e10 s");
    if (c->start_ms < 0 || c->start_ms > 4102444800000LL)
        return pr_err_set(err, PR_ERR_INVALID,
                          "start_ms: must be Unix seconds between 0 and 4102444800 (year 2100), got %lld",
                          (long long)(c->start_ms / 1000));
    if (c->n_users < 1 || c->n_users > 100000000)
        return pr_err_set(err, PR_ERR_INVALID, "n_users: must be 1 to 100M, got %u", c->n_users);
    if (c->n_ads < 1 || c->n_ads > 100000000)
        return pr_err_set(err, PR_ERR_INVALID, "n_ads: must be 1 to 100M, got %u", c->n_ads);
    if (c->n_advertisers < 1 || c->n_advertisers > c->n_ads)
        return pr_err_set(err, PR_ERR_INVALID,
                          "n_advertisers: must be 1 to n_ads (%u), got %u", c->n_ads,
                          c->n_advertisers);
    if (c->n_sites < 1 || c->n_sites > 100000000)
        return pr_err_set(err, PR_ERR_INVALID, "n_sites: must be 1 to 100M, got %u", c->n_sites);
    CHECK(c->imp_rate, 0, 1e9, 1, "imp_rate", "must be a positive rate (impressions per simulated second)");
    CHECK(c->base_ctr, 0, 1, 1, "base_ctr", "must be a probability in (0, 1)");
    if (c->base_ctr >= 1)
        return pr_err_set(err, PR_ERR_INVALID, "base_ctr: must be a probability in (0, 1), got %g", c->base_ctr);
    CHECK(c->conversion_rate, 0, 1, 0, "conversion_rate", "must be a probability in [0, 1]");
    CHECK(c->click_delay_median_s, 0, 1e7, 1, "click_delay_median_s", "must be a positive duration");
    CHECK(c->click_delay_sigma, 0, 10, 1, "click_delay_sigma", "must be in (0, 10]");
    CHECK(c->max_click_delay_s, 0.001, 1e7, 0, "max_click_delay_s", "must be a duration of at least 1ms");
    if (c->max_click_delay_s < c->click_delay_median_s)
        return pr_err_set(err, PR_ERR_INVALID,
                          "max_click_delay_s: must be at least click_delay_median_s (%g s), got %g s",
                          c->click_delay_median_s, c->max_click_delay_s);
    CHECK(c->attribution_window_s, 0, c->max_click_delay_s, 1, "attribution_window_s",
          "must be positive and at most max_click_delay_s");
    CHECK(c->conv_delay_median_s, 0, 1e7, 1, "conv_delay_median_s", "must be a positive duration");
    CHECK(c->max_conv_delay_s, c->conv_delay_median_s, 1e7, 0, "max_conv_delay_s",
          "must be at least conv_delay_median_s");
    CHECK(c->user_zipf, 0, 3, 0, "user_zipf", "must be in [0, 3]");
    CHECK(c->ad_zipf, 0, 3, 0, "ad_zipf", "must be in [0, 3]");
    CHECK(c->retarget_prob, 0, 1, 0, "retarget_prob", "must be a probability in [0, 1]");
    CHECK(c->w_affinity, -10, 10, 0, "w_affinity", "must be in [-10, 10]");
    CHECK(c->w_fatigue, -10, 10, 0, "w_fatigue", "must be in [-10, 10]");
    CHECK(c->w_recency, -10, 10, 0, "w_recency", "must be in [-10, 10]");
    CHECK(c->recency_window_s, 0, 1e8, 0, "recency_window_s", "must be a duration");
    CHECK(c->w_hour, -10, 10, 0, "w_hour", "must be in [-10, 10]");
#undef CHECK

    /* The simulated span: --duration, or with --events only, the time the
     * expected number of impressions takes at --imp-rate. */
    double span = c->duration_s > 0 ? c->duration_s : (double)c->max_events / c->imp_rate;
    if (c->n_scenarios > PR_SIM_SCENARIO_MAX)
        return pr_err_set(err, PR_ERR_INVALID, "scenario: at most %d scenarios", PR_SIM_SCENARIO_MAX);
    for (uint32_t i = 0; i < c->n_scenarios; i++) {
        const pr_sim_scenario *s = &c->scenarios[i];
        const char *name = pr_sim_scenario_name(s->kind);
        if (!isfinite(s->at_s) || s->at_s < 0 || s->at_s >= span)
            return pr_err_set(err, PR_ERR_INVALID,
                              "scenario %s: time %gs is outside the simulated span [0, %gs)%s",
                              name, s->at_s, span,
                              c->duration_s > 0 ? "" : " (max_events / imp_rate; set duration_s to widen it)");
        if (s->kind == PR_SIM_SCENARIO_CTR_SHIFT &&
            !(s->factor > 0 && s->factor * c->base_ctr < 1))
            return pr_err_set(err, PR_ERR_INVALID,
                              "scenario ctr-shift: FACTOR %g would make the base CTR %g, "
                              "which is not a probability below 1", s->factor,
                              s->factor * c->base_ctr);
        if (s->kind == PR_SIM_SCENARIO_SURGE && !(s->factor > 0 && s->factor <= 1000))
            return pr_err_set(err, PR_ERR_INVALID,
                              "scenario surge: FACTOR must be in (0, 1000], got %g", s->factor);
        if (s->kind == PR_SIM_SCENARIO_COLD_START && !(s->share > 0 && s->share <= 1))
            return pr_err_set(err, PR_ERR_INVALID,
                              "scenario cold-start: SHARE must be in (0, 1], got %g", s->share);
    }
    return PR_OK;
}
