/*
 * drift.c: drift statistics of a live sketch against its reference
 * (docs/monitoring.md, "Drift statistics", has the formulas).
 *
 * Both sketches share one shape, so the distributions compared are the
 * bin shares of present values: numeric bins (underflow, the reference's
 * quantile bins, overflow) or categorical bins (top values, then "rest"
 * and "unseen" compared as one bin: values outside the top). Unseen is
 * folded into rest because the reference's membership filter holds only
 * its profiled sample, so a long tail always brings values it never had:
 * an (always empty) reference unseen bin would make PSI and JS flag every
 * high-cardinality field of a stationary stream. The unseen share is
 * reported on its own (unseen_share).
 * Missing and non-finite values are left out of the distributions and
 * reported as missing_delta instead. No statistic is ever NaN: what the
 * data cannot support is left unset (pr_drift.has).
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "monitor/monitor_int.h"

/* Regularized lower incomplete gamma P(a, x) by its series (x < a + 1) and
 * the upper Q(a, x) by Lentz's continued fraction (otherwise). */
static double gamma_p_series(double a, double x) {
    double sum = 1.0 / a, term = sum, ap = a;
    for (int i = 0; i < 1000; i++) {
        ap += 1;
        term *= x / ap;
        sum += term;
        if (fabs(term) < fabs(sum) * 1e-15) break;
    }
    return sum * exp(-x + a * log(x) - lgamma(a));
}

static double gamma_q_cf(double a, double x) {
    double b = x + 1 - a, c = 1.0 / DBL_MIN, d = 1.0 / b, h = d;
    for (int i = 1; i < 1000; i++) {
        double an = -i * (i - a);
        b += 2;
        d = an * d + b;
        if (fabs(d) < DBL_MIN) d = DBL_MIN;
        c = b + an / c;
        if (fabs(c) < DBL_MIN) c = DBL_MIN;
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < 1e-15) break;
    }
    return exp(-x + a * log(x) - lgamma(a)) * h;
}

double pr_chi2_sf(double x, double df) {
    if (!(x > 0)) return 1.0;
    if (!(df > 0)) return 0.0;
    if (isinf(x)) return 0.0;
    double a = df / 2, hx = x / 2;
    double q = hx < a + 1 ? 1.0 - gamma_p_series(a, hx) : gamma_q_cf(a, hx);
    if (q < 0) q = 0;
    if (q > 1) q = 1;
    return q;
}

/* |D| integrated over a unit interval where D goes linearly from a to b. */
static double abs_linear(double a, double b) {
    if ((a >= 0) == (b >= 0)) return (fabs(a) + fabs(b)) / 2;
    return (a * a + b * b) / (2 * (fabs(a) + fabs(b)));
}

/* Bin i's count as the distributions see it (categorical: unseen folded
 * into rest, the unseen bin itself empty). */
static uint64_t bin_count(const pr_sketch *sk, uint32_t i) {
    const pr_sketch_shape *sh = sk->shape;
    if (sh->kind != PR_SKETCH_CATEGORICAL || sh->n_bins < sh->n_top + 2) return sk->counts[i];
    if (i == sh->n_top) return sk->counts[i] + sk->counts[i + 1];
    if (i == sh->n_top + 1) return 0;
    return sk->counts[i];
}

pr_status pr_drift_compute(const pr_sketch *ref, const pr_sketch *live,
                           pr_drift *out, pr_err *err) {
    memset(out, 0, sizeof *out);
    const pr_sketch_shape *sh = ref->shape;
    if (live->shape != sh)
        return pr_err_set(err, PR_ERR_INVALID,
                          "drift: the live sketch was not made from this reference");
    out->n = live->n;
    if (live->n == 0) return PR_OK;
    uint32_t nb = sh->n_bins;
    uint64_t R = 0, L = 0;
    for (uint32_t i = 0; i < nb; i++) {
        R += ref->counts[i];
        L += live->counts[i];
    }
    out->n_present = L;
    if (ref->n > 0) {
        double rm = (double)(ref->n_missing + ref->n_nonfinite) / (double)ref->n;
        double lm = (double)(live->n_missing + live->n_nonfinite) / (double)live->n;
        out->missing_delta = 100.0 * (lm - rm);
        out->has |= PR_DRIFT_MISSING_DELTA;
    }
    if (R == 0 || L == 0) return PR_OK;

    double psi = 0, js = 0, ks = 0, ce = 0, ca = 0, chi2 = 0;
    uint32_t nonempty = 0;
    double N = (double)R + (double)L;
    for (uint32_t i = 0; i < nb; i++) {
        uint64_t rc = bin_count(ref, i), lc = bin_count(live, i);
        double e = (double)rc / (double)R;
        double a = (double)lc / (double)L;
        double e1 = e > PR_DRIFT_PSI_EPS ? e : PR_DRIFT_PSI_EPS;
        double a1 = a > PR_DRIFT_PSI_EPS ? a : PR_DRIFT_PSI_EPS;
        psi += (a1 - e1) * log(a1 / e1);
        double m = (a + e) / 2;
        if (a > 0) js += 0.5 * a * log2(a / m);
        if (e > 0) js += 0.5 * e * log2(e / m);
        ce += e;
        ca += a;
        if (fabs(ca - ce) > ks) ks = fabs(ca - ce);
        double tot = (double)rc + (double)lc;
        if (tot > 0) {
            nonempty++;
            double er = (double)R * tot / N, el = (double)L * tot / N;
            double dr = (double)rc - er, dl = (double)lc - el;
            chi2 += dr * dr / er + dl * dl / el;
        }
    }
    out->psi = psi > 0 ? psi : 0;
    js = js > 0 ? sqrt(js) : 0;
    out->js = js < 1 ? js : 1;
    out->has |= PR_DRIFT_PSI | PR_DRIFT_JS;

    if (sh->kind == PR_SKETCH_CATEGORICAL) {
        out->chi2_p = nonempty > 1 ? pr_chi2_sf(chi2, nonempty - 1) : 1.0;
        out->has |= PR_DRIFT_CHI2_P;
        if (sh->bloom_log2 && sh->bloom_fp <= 0.5) {
            double u = (double)live->counts[sh->n_top + 1] / (double)L / (1 - sh->bloom_fp);
            out->unseen_share = u < 1 ? u : 1;
            out->has |= PR_DRIFT_UNSEEN_SHARE;
        }
        return PR_OK;
    }

    out->ks = ks;
    out->has |= PR_DRIFT_KS;
    /* Wasserstein-1 between the two binned distributions, each uniform
     * within a bin; the outer bins end at the smaller minimum and the
     * larger maximum of the two sides. */
    double lo = ref->min < live->min ? ref->min : live->min;
    double hi = ref->max > live->max ? ref->max : live->max;
    double w = 0, d0 = 0;
    ce = ca = 0;
    for (uint32_t i = 0; i < nb; i++) {
        double x0 = i == 0 ? (lo < sh->edges[0] ? lo : sh->edges[0]) : sh->edges[i - 1];
        double x1 = i < sh->n_edges ? sh->edges[i] : (hi > x0 ? hi : x0);
        if (i == 0 && sh->n_edges == 0) x0 = lo, x1 = hi;
        ce += (double)ref->counts[i] / (double)R;
        ca += (double)live->counts[i] / (double)L;
        double d1 = ca - ce;
        double width = x1 - x0;
        if (width > 0 && isfinite(width)) w += width * abs_linear(d0, d1);
        d0 = d1;
    }
    double sd = ref->n_finite > 0 ? sqrt(ref->m2 / (double)ref->n_finite) : 0;
    out->wasserstein = sd > 0 && isfinite(sd) ? w / sd : w;
    if (!isfinite(out->wasserstein)) out->wasserstein = DBL_MAX;
    out->has |= PR_DRIFT_WASSERSTEIN;
    if (ref->n_finite && live->n_finite && ref->mean != 0) {
        out->mean_shift = (live->mean - ref->mean) / fabs(ref->mean);
        if (isfinite(out->mean_shift)) out->has |= PR_DRIFT_MEAN_SHIFT;
        else out->mean_shift = 0;
    }
    return PR_OK;
}

int pr_drift_samples(const pr_drift *d, const char **names, double *values) {
    static const char *const N[PR_DRIFT_N_STATS] = {
        "psi", "js", "ks", "wasserstein", "chi2_p", "missing_delta",
        "unseen_share", "mean_shift"};
    const double v[PR_DRIFT_N_STATS] = {d->psi, d->js, d->ks, d->wasserstein, d->chi2_p,
                                        d->missing_delta, d->unseen_share, d->mean_shift};
    int k = 0;
    for (int i = 0; i < PR_DRIFT_N_STATS; i++)
        if (d->has & (1u << i)) {
            names[k] = N[i];
            values[k++] = v[i];
        }
    return k;
}
