/*
 * model.c: the model interface. Parameter defaults and validation, creation
 * (picking the kind's function table once), dispatch, the downsampling
 * recalibration, and the metadata every model file carries.
 *
 * Ownership: a pr_model owns its impl (released through ops->destroy) and
 * copies of spec, info and filter. Getters hand out borrowed pointers valid
 * until the matching setter or pr_model_free.
 *
 * Recalibration: training on all positives and a fraction w of negatives
 * inflates the odds by 1/w, so the unbiased probability is
 *   q = p / (p + (1 - p) / w)  <=>  logit(q) = logit(p) + ln(w),
 * applied as a constant shift (recal_shift) in pr_model_predict only.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/model_int.h"

const char *pr_model_kind_name(pr_model_kind k) {
    switch (k) {
    case PR_MODEL_KIND_LR: return "lr";
    case PR_MODEL_KIND_FFM: return "ffm";
    case PR_MODEL_KIND_FM: return "fm";
    }
    return "unknown";
}

pr_status pr_model_kind_parse(const char *s, pr_model_kind *out) {
    static const pr_model_kind kinds[] = {PR_MODEL_KIND_LR, PR_MODEL_KIND_FFM,
                                          PR_MODEL_KIND_FM};
    for (size_t i = 0; s && i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcasecmp(s, pr_model_kind_name(kinds[i])) == 0) {
            *out = kinds[i];
            return PR_OK;
        }
    }
    return PR_ERR_INVALID;
}

void pr_model_params_default(pr_model_params *p, pr_model_kind kind) {
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->seed = 1;
    p->neg_sample_rate = 1.0f;
    /* FTRL values of the well-known Criteo FTRL baselines. */
    p->alpha = 0.1f;
    p->beta = 1.0f;
    p->l1 = 1.0f;
    p->l2 = 1.0f;
    /* libffm defaults. */
    p->k = 4;
    /* FFM defaults measured on gen-criteo (docs/benchmarks.md): libffm's
     * eta 0.2 / lambda 2e-5 overfit within a few passes here. */
    p->eta = 0.1f;
    p->lambda = 5e-5f;
    p->normalize = 1;
    p->n_fields = 39;
    p->hash_bits = 20;
    if (kind == PR_MODEL_KIND_LR) {
        p->hash_bits = 22;
        p->n_fields = 0;
    } else if (kind == PR_MODEL_KIND_FM) {
        p->k = 8;
        p->eta = 0.2f;
        p->n_fields = 0;
    }
}

static const pr__model_ops *ops_of(pr_model_kind k) {
    switch (k) {
    case PR_MODEL_KIND_LR: return &pr__model_lr_ops;
    case PR_MODEL_KIND_FFM: return &pr__model_ffm_ops;
    case PR_MODEL_KIND_FM: return &pr__model_fm_ops;
    }
    return NULL;
}

static pr_status bad_float(pr_err *err, const char *name, const char *want,
                           float v) {
    return pr_err_set(err, PR_ERR_INVALID,
                      "model param %s: must be %s and finite, got %g", name,
                      want, (double)v);
}

pr_status pr_model_params_check(const pr_model_params *p, pr_err *err) {
    if (!ops_of(p->kind))
        return pr_err_set(err, PR_ERR_INVALID,
                          "model param kind: expected lr, ffm or fm, got %d",
                          (int)p->kind);
    if (p->hash_bits < 1 || p->hash_bits > 30)
        return pr_err_set(err, PR_ERR_INVALID,
                          "model param hash_bits: must be in [1, 30], got %u",
                          p->hash_bits);
    if (!(p->neg_sample_rate > 0 && p->neg_sample_rate <= 1))
        return pr_err_set(err, PR_ERR_INVALID,
                          "model param neg_sample_rate: must be in (0, 1], got %g",
                          (double)p->neg_sample_rate);
    if (p->kind == PR_MODEL_KIND_LR) {
        if (!(p->alpha > 0) || !isfinite(p->alpha))
            return bad_float(err, "alpha", "> 0", p->alpha);
        if (!(p->beta >= 0) || !isfinite(p->beta))
            return bad_float(err, "beta", ">= 0", p->beta);
        if (!(p->l1 >= 0) || !isfinite(p->l1))
            return bad_float(err, "l1", ">= 0", p->l1);
        if (!(p->l2 >= 0) || !isfinite(p->l2))
            return bad_float(err, "l2", ">= 0", p->l2);
        if (p->beta == 0 && p->l2 == 0)
            return pr_err_set(err, PR_ERR_INVALID,
                              "model param beta: beta and l2 cannot both be 0 "
                              "(the first step would divide by zero)");
        return PR_OK;
    }
    if (p->kind == PR_MODEL_KIND_FFM &&
        (p->n_fields < 1 || p->n_fields > 1024))
        return pr_err_set(err, PR_ERR_INVALID,
                          "model param n_fields: must be in [1, 1024] for ffm, got %u",
                          p->n_fields);
    if (p->k < 1 || p->k > 256)
        return pr_err_set(err, PR_ERR_INVALID,
                          "model param k: must be in [1, 256], got %u", p->k);
    if (!(p->eta > 0) || !isfinite(p->eta))
        return bad_float(err, "eta", "> 0", p->eta);
    if (!(p->lambda >= 0) || !isfinite(p->lambda))
        return bad_float(err, "lambda", ">= 0", p->lambda);
    if (p->normalize != 0 && p->normalize != 1)
        return pr_err_set(err, PR_ERR_INVALID,
                          "model param normalize: must be 0 or 1, got %d",
                          p->normalize);
    return PR_OK;
}

pr_status pr__model_create(const pr_model_params *p, int init, pr_model **out,
                           pr_err *err) {
    *out = NULL;
    pr_status rc = pr_model_params_check(p, err);
    if (rc != PR_OK) return rc;
    pr_model *m = calloc(1, sizeof *m);
    if (!m) return pr_err_set(err, PR_ERR_NOMEM, "model: out of memory");
    m->params = *p;
    m->ops = ops_of(p->kind);
    m->recal_shift = log((double)p->neg_sample_rate);
    rc = m->ops->create(&m->params, init, &m->impl, err);
    if (rc != PR_OK) goto fail;
    *out = m;
    return PR_OK;
fail:
    free(m);
    return rc;
}

uint64_t pr_model_state_bytes(const pr_model_params *p) {
    const pr__model_ops *ops = ops_of(p->kind);
    return ops ? ops->state_floats(p) * sizeof(float) : 0;
}

pr_status pr_model_new(const pr_model_params *p, pr_model **out, pr_err *err) {
    return pr__model_create(p, 1, out, err);
}

/* dst's blocks become src's (same kind and params). Only pages src may
 * have written are read and copied (pr__model_block.touched); a page dst
 * had written and src never did is zeroed. dst's maps end up as src's (a
 * zeroed page stays marked: it was committed). */
static void copy_blocks(const pr__model_block *d, const pr__model_block *s, int n) {
    for (int i = 0; i < n; i++) {
        if (!s[i].touched) {
            memcpy(d[i].ptr, s[i].ptr, s[i].n * sizeof(float));
            pr__model_touch(d[i].touched, 0, s[i].n);
            continue;
        }
        uint64_t np = pr__model_pages(s[i].n);
        for (uint64_t p = 0; p < np; p++) {
            uint64_t at = p * PR__MODEL_PAGE_FLOATS;
            uint64_t take = s[i].n - at < PR__MODEL_PAGE_FLOATS ? s[i].n - at : PR__MODEL_PAGE_FLOATS;
            if (pr__model_page_touched(&s[i], p)) {
                memcpy(d[i].ptr + at, s[i].ptr + at, take * sizeof(float));
                pr__model_touch(d[i].touched, at, take);
            } else if (pr__model_page_touched(&d[i], p)) {
                memset(d[i].ptr + at, 0, take * sizeof(float));
            }
        }
    }
}

pr_status pr_model_clone(const pr_model *src, pr_model **out, pr_err *err) {
    pr_model *m = NULL;
    /* Not pre-faulted: the copy commits only the pages src has written
     * (a lazily filled FFM table: what the data touched, not 1.3 GB). */
    int was = pr__model_mem_lazy(1);
    pr_status rc = pr__model_create(&src->params, 0, &m, err);
    pr__model_mem_lazy(was);
    if (rc != PR_OK) return rc;
    pr__model_block a[PR__MODEL_MAX_BLOCKS], b[PR__MODEL_MAX_BLOCKS];
    int na = pr__model_blocks(src, a);
    int nb = pr__model_blocks(m, b);
    /* a fresh impl made with init=0 marks every page as written: clear
     * the maps, the copy marks what it fills */
    for (int i = 0; i < nb; i++)
        if (b[i].touched) memset(b[i].touched, 0, (pr__model_pages(b[i].n) + 63) / 64 * 8);
    copy_blocks(b, a, na < nb ? na : nb);
    if ((src->spec && (rc = pr_model_set_spec(m, src->spec, err)) != PR_OK) ||
        (src->info && (rc = pr_model_set_info(m, src->info, err)) != PR_OK) ||
        (rc = pr_model_set_filter(m, src->filter, err)) != PR_OK ||
        (rc = pr_model_set_profile_bytes(m, src->profile, src->profile_len, err)) != PR_OK) {
        pr_model_free(m);
        return rc;
    }
    *out = m;
    return PR_OK;
}

static int same_params(const pr_model_params *a, const pr_model_params *b) {
    return a->kind == b->kind && a->hash_bits == b->hash_bits && a->n_fields == b->n_fields &&
           a->alpha == b->alpha && a->beta == b->beta && a->l1 == b->l1 && a->l2 == b->l2 &&
           a->k == b->k && a->eta == b->eta && a->lambda == b->lambda &&
           a->normalize == b->normalize && a->seed == b->seed &&
           a->neg_sample_rate == b->neg_sample_rate;
}

pr_status pr_model_copy(pr_model *dst, const pr_model *src, pr_err *err) {
    if (dst == src) return PR_OK;
    if (!same_params(&dst->params, &src->params))
        return pr_err_set(err, PR_ERR_INVALID, "model copy: the two models' params differ");
    pr__model_block a[PR__MODEL_MAX_BLOCKS], b[PR__MODEL_MAX_BLOCKS];
    int na = pr__model_blocks(src, a);
    int nb = pr__model_blocks(dst, b);
    copy_blocks(b, a, na < nb ? na : nb);
    pr_status rc;
    if ((rc = pr_model_set_spec(dst, src->spec, err)) != PR_OK ||
        (rc = pr_model_set_info(dst, src->info, err)) != PR_OK ||
        (rc = pr_model_set_profile_bytes(dst, src->profile, src->profile_len, err)) != PR_OK)
        return rc;
    if (src->filter && dst->filter) {
        memcpy(dst->filter, src->filter, (size_t)pr__model_filter_bytes(src->params.hash_bits));
        return PR_OK;
    }
    return pr_model_set_filter(dst, src->filter, err);
}

const pr_model_params *pr_model_params_get(const pr_model *m) {
    return &m->params;
}

double pr_model_logit(const pr_model *m, const pr_example *x) {
    return m->ops->logit(m->impl, x);
}

double pr_model_predict(const pr_model *m, const pr_example *x) {
    double t = m->ops->logit(m->impl, x) + m->recal_shift;
    return pr__sigmoid(pr__clip_logit(t));
}

double pr_model_update(pr_model *m, const pr_example *x) {
    return m->ops->update(m->impl, x);
}

void pr_model_prefetch(const pr_model *m, const pr_example *x) {
    if (m->ops->prefetch) m->ops->prefetch(m->impl, x);
}

double pr_model_weight_norm(const pr_model *m, uint32_t index) {
    return m->ops->weight_norm(m->impl, index);
}

uint64_t pr_model_n_nonzero(const pr_model *m) {
    return m->ops->n_nonzero(m->impl);
}

static pr_status set_text(char **slot, const char *text, const char *what,
                          pr_err *err) {
    char *copy = NULL;
    if (text) {
        copy = strdup(text);
        if (!copy)
            return pr_err_set(err, PR_ERR_NOMEM, "model %s: out of memory", what);
    }
    free(*slot);
    *slot = copy;
    return PR_OK;
}

pr_status pr_model_set_spec(pr_model *m, const char *spec_yaml, pr_err *err) {
    return set_text(&m->spec, spec_yaml, "spec", err);
}

pr_status pr_model_set_info(pr_model *m, const char *info_json, pr_err *err) {
    if (info_json) {
        const char *s = info_json;
        while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
        if (*s != '{')
            return pr_err_set(err, PR_ERR_INVALID,
                              "model info: expected a JSON object starting "
                              "with '{', got '%.20s'", info_json);
    }
    return set_text(&m->info, info_json, "info", err);
}

pr_status pr_model_set_filter(pr_model *m, const uint64_t *bitmap,
                              pr_err *err) {
    uint64_t *copy = NULL;
    if (bitmap) {
        size_t bytes = (size_t)pr__model_filter_bytes(m->params.hash_bits);
        copy = malloc(bytes);
        if (!copy)
            return pr_err_set(err, PR_ERR_NOMEM, "model filter: out of memory");
        memcpy(copy, bitmap, bytes);
    }
    free(m->filter);
    m->filter = copy;
    return PR_OK;
}

pr_status pr_model_set_profile_bytes(pr_model *m, const void *bytes, size_t len,
                                     pr_err *err) {
    uint8_t *copy = NULL;
    if (bytes) {
        copy = malloc(len ? len : 1);
        if (!copy) return pr_err_set(err, PR_ERR_NOMEM, "model profile: out of memory");
        memcpy(copy, bytes, len);
    }
    free(m->profile);
    m->profile = copy;
    m->profile_len = copy ? len : 0;
    return PR_OK;
}

const void *pr_model_profile_bytes(const pr_model *m, size_t *len) {
    if (len) *len = m->profile_len;
    return m->profile;
}

const char *pr_model_spec(const pr_model *m) { return m->spec; }
const uint64_t *pr_model_filter(const pr_model *m) { return m->filter; }
const char *pr_model_info(const pr_model *m) { return m->info; }

void pr_model_free(pr_model *m) {
    if (!m) return;
    if (m->impl) m->ops->destroy(m->impl);
    free(m->spec);
    free(m->info);
    free(m->filter);
    free(m->profile);
    free(m);
}
