/*
 * sim_stats.c: the running totals behind `pronto simulate`'s final report.
 *
 * Per impression with q = p_label (the probability of the label):
 *   Bayes-optimal log loss = mean of -[q ln q + (1-q) ln(1-q)], the expected
 *   log loss of the true probabilities; realized log loss = mean of
 *   -[y ln q + (1-y) ln(1-q)] against the sampled labels y.
 * The AUC of q against y comes from 2^18 bins of sqrt(q) (fine bins where
 * CTRs live): pairs in one bin count as ties (half). The histograms are the
 * only allocation, owned by the stats and freed by pr_sim_stats_free.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_int.h"

#define AUC_BINS (1u << 18)

pr_status pr_sim_stats_init(pr_sim_stats *st, pr_err *err) {
    memset(st, 0, sizeof *st);
    st->bin_pos = calloc(AUC_BINS, sizeof *st->bin_pos);
    st->bin_neg = calloc(AUC_BINS, sizeof *st->bin_neg);
    if (!st->bin_pos || !st->bin_neg) {
        pr_sim_stats_free(st);
        return pr_err_set(err, PR_ERR_NOMEM, "simulate: out of memory for the AUC histogram");
    }
    return PR_OK;
}

void pr_sim_stats_add(pr_sim_stats *st, const pr_sim_event *ev) {
    if (ev->type == PR_SIM_EVENT_SCENARIO) return;
    st->events++;
    if (ev->type == PR_SIM_EVENT_CLICK) st->clicks++;
    if (ev->type == PR_SIM_EVENT_CONVERSION) st->conversions++;
    if (ev->type != PR_SIM_EVENT_IMPRESSION) return;
    double q = ev->p_label;
    st->impressions++;
    st->labels += ev->label != 0;
    st->sum_p += ev->p;
    st->sum_p_label += q;
    st->sum_entropy += -(q * log(q) + (1 - q) * log1p(-q));
    st->sum_logloss += ev->label ? -log(q) : -log1p(-q);
    unsigned bin = (unsigned)(sqrt(q) * AUC_BINS);
    if (bin >= AUC_BINS) bin = AUC_BINS - 1;
    if (ev->label) st->bin_pos[bin]++;
    else st->bin_neg[bin]++;
}

double pr_sim_stats_auc(const pr_sim_stats *st) {
    double pos = 0, neg = 0, area = 0;
    for (unsigned b = 0; b < AUC_BINS; b++) {
        /* Positives in this bin beat every negative below it, tie with the
         * negatives in it. */
        area += (double)st->bin_pos[b] * (neg + 0.5 * (double)st->bin_neg[b]);
        pos += (double)st->bin_pos[b];
        neg += (double)st->bin_neg[b];
    }
    if (pos == 0 || neg == 0) return NAN;
    return area / (pos * neg);
}

void pr_sim_stats_format(const pr_sim_stats *st, char *buf, size_t n) {
    double imps = st->impressions ? (double)st->impressions : 1;
    snprintf(buf, n,
             "events=%llu impressions=%llu clicks=%llu conversions=%llu labels=%llu "
             "ctr=%.6f mean_p=%.6f mean_p_label=%.6f bayes_logloss=%.6f "
             "realized_logloss=%.6f auc=%.4f",
             (unsigned long long)st->events, (unsigned long long)st->impressions,
             (unsigned long long)st->clicks, (unsigned long long)st->conversions,
             (unsigned long long)st->labels, (double)st->labels / imps, st->sum_p / imps,
             st->sum_p_label / imps, st->sum_entropy / imps, st->sum_logloss / imps,
             pr_sim_stats_auc(st));
}

void pr_sim_stats_free(pr_sim_stats *st) {
    free(st->bin_pos);
    free(st->bin_neg);
    st->bin_pos = st->bin_neg = NULL;
}
