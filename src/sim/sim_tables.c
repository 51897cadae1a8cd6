/*
 * sim_tables.c: writes the entity tables users.csv, ads.csv and sites.csv,
 * the feature store's entity sources.
 *
 * Each is CSV with a header; effective_ts is Unix milliseconds (the unit of
 * event ts). An entity's first row takes effect at the start of the
 * simulation (cold-start ads: at the scenario's time); each attribute change
 * adds a row carrying the full new state at its time. Rows are grouped by
 * entity id, ascending, and by effective_ts within an entity. Columns:
 *
 *   users.csv  user_id,effective_ts,age_bucket,gender,country,device,interest
 *   ads.csv    ad_id,effective_ts,advertiser_id,campaign_id,category,
 *              creative_type,bid
 *   sites.csv  site_id,effective_ts,site_category
 *
 * interest is the user's interest segment 0..7 (largest latent component);
 * changes come from scheduled device switches and the interest-shift
 * scenario; ad changes from scheduled bid changes (bid: CPM, 2 decimals).
 * Each file is written as NAME.tmp and renamed when complete.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sim/sim_fmt.h"
#include "sim/sim_int.h"

static char *put_ts(char *p, const pr_sim *sim, double at_s) {
    return pr__put_i64(p, sim->cfg.start_ms + (int64_t)floor(at_s * 1000.0));
}

static char *user_row(char *p, const pr_sim *sim, uint32_t id, const pr__user *u,
                      double at_s, unsigned device, int shifted) {
    p = pr__put_u64(p, id);
    *p++ = ',';
    p = put_ts(p, sim, at_s);
    *p++ = ',';
    p = pr__put_cstr(p, pr_sim_value_name(PR_SIM_VALUE_AGE_BUCKET, u->age_bucket));
    *p++ = ',';
    p = pr__put_cstr(p, pr_sim_value_name(PR_SIM_VALUE_GENDER, u->gender));
    *p++ = ',';
    p = pr__put_cstr(p, pr_sim_value_name(PR_SIM_VALUE_COUNTRY, u->country));
    *p++ = ',';
    p = pr__put_cstr(p, pr_sim_value_name(PR_SIM_VALUE_DEVICE, device));
    *p++ = ',';
    p = pr__put_u64(p, pr__user_segment(u, shifted));
    *p++ = '\n';
    return p;
}

static char *ad_row(char *p, const pr_sim *sim, uint32_t id, const pr__ad *a, double at_s,
                    float bid) {
    p = pr__put_u64(p, id);
    *p++ = ',';
    p = put_ts(p, sim, at_s);
    *p++ = ',';
    p = pr__put_u64(p, a->advertiser_id);
    *p++ = ',';
    p = pr__put_u64(p, a->campaign_id);
    *p++ = ',';
    p = pr__put_cstr(p, pr_sim_value_name(PR_SIM_VALUE_CATEGORY, a->category));
    *p++ = ',';
    p = pr__put_cstr(p, pr_sim_value_name(PR_SIM_VALUE_CREATIVE_TYPE, a->creative_type));
    *p++ = ',';
    long long cents = llround((double)bid * 100.0);
    p = pr__put_i64(p, cents / 100);
    *p++ = '.';
    *p++ = (char)('0' + (cents % 100) / 10);
    *p++ = (char)('0' + cents % 10);
    *p++ = '\n';
    return p;
}

typedef enum { TABLE_USERS, TABLE_ADS, TABLE_SITES } table_kind;

static pr_status write_rows(const pr_sim *sim, pr__sink *s, table_kind kind, pr_err *err) {
    const pr_sim_config *c = &sim->cfg;
    int shift_idx = sim->drift.interest_shift;
    double shift_at = shift_idx >= 0 ? c->scenarios[shift_idx].at_s : INFINITY;
    double new_ads_at = sim->drift.cold_start >= 0 ? c->scenarios[sim->drift.cold_start].at_s : 0;
    uint32_t n = kind == TABLE_USERS ? sim->n_users : kind == TABLE_ADS ? sim->n_ads : sim->n_sites;
    for (uint32_t id = 0; id < n; id++) {
        /* Room for three rows of either kind. */
        char *p = pr__sink_reserve(s, PR_SIM_RECORD_MAX);
        if (!p) return pr__sink_status(s, err);
        if (kind == TABLE_USERS) {
            const pr__user *u = &sim->users[id];
            double change = u->device_change_s == PR_SIM_NO_CHANGE ? INFINITY
                                                                   : (double)u->device_change_s;
            p = user_row(p, sim, id, u, 0, change <= 0 ? u->new_device : u->device, shift_at <= 0);
            /* The later changes, in time order, each with the state then. */
            if (change < shift_at) {
                if (change > 0) p = user_row(p, sim, id, u, change, u->new_device, 0);
                if (shift_at > 0 && isfinite(shift_at))
                    p = user_row(p, sim, id, u, shift_at, u->new_device, 1);
            } else {
                if (shift_at > 0 && isfinite(shift_at))
                    p = user_row(p, sim, id, u, shift_at, u->device, 1);
                if (isfinite(change) && change > 0)
                    p = user_row(p, sim, id, u, change, u->new_device, isfinite(shift_at));
            }
        } else if (kind == TABLE_ADS) {
            const pr__ad *a = &sim->ads[id];
            p = ad_row(p, sim, id, a, a->is_new ? new_ads_at : 0, a->bid);
            if (a->bid_change_s != PR_SIM_NO_CHANGE && a->bid_change_s > 0)
                p = ad_row(p, sim, id, a, (double)a->bid_change_s, a->new_bid);
        } else {
            p = pr__put_u64(p, id);
            *p++ = ',';
            p = put_ts(p, sim, 0);
            *p++ = ',';
            p = pr__put_cstr(p, pr_sim_value_name(PR_SIM_VALUE_SITE_CATEGORY,
                                                  sim->sites[id].category));
            *p++ = '\n';
        }
        pr__sink_commit(s, p);
    }
    return PR_OK;
}

static pr_status write_table(const pr_sim *sim, const char *dir, const char *name,
                             const char *header, table_kind kind, pr_err *err) {
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    pr__sink *s = NULL;
    pr_status rc = pr__sink_open(tmp, 0, &s, err);
    if (rc) return rc;
    rc = pr__sink_write(s, header, strlen(header), err);
    if (!rc) rc = write_rows(sim, s, kind, err);
    pr_status close_rc = pr__sink_close(s, rc ? NULL : err);
    if (!rc) rc = close_rc;
    if (!rc && rename(tmp, path) != 0)
        rc = pr_err_errno(err, PR_ERR_IO, errno, "%s: cannot rename to %s", tmp, path);
    if (rc) remove(tmp);
    return rc;
}

pr_status pr_sim_write_entities(const pr_sim *sim, const char *dir, pr_err *err) {
    pr_status rc = write_table(sim, dir, "users.csv",
                               "user_id,effective_ts,age_bucket,gender,country,device,interest\n",
                               TABLE_USERS, err);
    if (!rc)
        rc = write_table(sim, dir, "ads.csv",
                         "ad_id,effective_ts,advertiser_id,campaign_id,category,creative_type,bid\n",
                         TABLE_ADS, err);
    if (!rc)
        rc = write_table(sim, dir, "sites.csv", "site_id,effective_ts,site_category\n",
                         TABLE_SITES, err);
    return rc;
}
