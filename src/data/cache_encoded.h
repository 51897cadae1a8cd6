/*
 * cache_encoded.h: adding examples to a cache in two steps, for a writer
 * that holds examples a while before it knows their labels (the dataset
 * builder: an impression is featurized at once, labeled when its
 * attribution window closes). The example is encoded as the cache stores
 * it (cache.c, "Example") without its label, held as those bytes (about
 * 5 bytes a feature instead of the 12 of a pr_feature), and appended with
 * its label later: the file is byte for byte what pr_cache_writer_add of
 * the labeled example would have written.
 */
#ifndef PRONTO_CACHE_ENCODED_H
#define PRONTO_CACHE_ENCODED_H

#include <stddef.h>
#include <stdint.h>

#include "pronto/cache.h"

/* Room pr__cache_writer_encode needs for an example of n features. */
size_t pr__cache_encoded_max(uint32_t n);

/* Encodes x, whose label must be 0 (the label is given at add time), as
 * writer w stores it, into out (pr__cache_encoded_max(x->n) bytes).
 * Returns the bytes written, or 0 with err set (PR_ERR_INVALID: too many
 * features, or one out of the writer's range). w is not changed. */
size_t pr__cache_writer_encode(const pr_cache_writer *w, const pr_example *x,
                               uint8_t *out, pr_err *err);

/* Appends example enc (len bytes from pr__cache_writer_encode of a writer
 * with the same hash_bits and n_fields; n features) labeled label (0 or
 * 1). The bytes are copied. Errors as pr_cache_writer_add. */
pr_status pr__cache_writer_add_encoded(pr_cache_writer *w, const uint8_t *enc,
                                       size_t len, uint32_t n, int label,
                                       pr_err *err);

#endif
