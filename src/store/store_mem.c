/*
 * store_mem.c: the "mem:" backend, an in-process hash table of
 * (entity, key) -> row bytes with an expiry time.
 *
 * Structure: separate chaining over power-of-two bucket arrays. Each entry
 * is one malloc holding the encoded composite key (store_int.h) followed by
 * the row bytes, so a row never moves while its entry lives.
 *
 * Growth is incremental, as in Redis's dict: when the table holds more
 * entries than buckets, a second array twice the size is allocated and every
 * later put moves MEM_REHASH_STEP buckets of the old array into it, so no
 * single put pays for the whole table. While that runs, each key has exactly
 * one home: old bucket b = hash & old_mask has either been moved (b <
 * rehash_idx: the key lives in the new array) or not (it lives in the old
 * one, and a put of a new key goes there too). A lookup therefore searches
 * one chain, as when no rehash is running. The old array is freed when its
 * last bucket has moved; the rehash is done long before the new array fills
 * (it needs old_size / MEM_REHASH_STEP puts, the next growth old_size).
 *
 * Sweeping (pr_store_sweep) walks the buckets, old array then new, from a
 * position kept between calls, freeing expired entries. Gets never free
 * anything: an expired entry stays (invisible to reads) until a sweep, a
 * del or a put of its key removes it, so a get changes no state at all.
 *
 * Ownership: the table owns its entries. get returns a borrowed row valid
 * until the next put, del or sweep on the store (from any thread): those
 * are the only calls that free entries.
 *
 * Threads: none of its own. One pthread rwlock per table makes every call
 * atomic: reads (read lock) run in parallel with each other, puts, dels and
 * sweeps (write lock) alone; the lock prefers writers so a steady stream
 * of readers cannot starve an ingesting writer. A reader that keeps rows
 * across calls while another thread writes must hold its own lock over
 * both (the server does: src/serve/serve_int.h, state_lock), since a put
 * frees the row it replaces.
 */
#include "store/store_int.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct mem_entry {
    struct mem_entry *next;
    uint64_t hash;
    int64_t expires_at;
    uint32_t key_len;  /* encoded composite key */
    uint32_t value_len;
    char data[];       /* key_len key bytes, then value_len row bytes */
} mem_entry;

typedef struct mem_table {
    mem_entry **buckets;
    size_t mask;  /* n_buckets - 1 */
} mem_table;

typedef struct mem_store {
    pthread_rwlock_t lock; /* read: gets, shape; write: put, del, sweep */
    mem_table t[2];     /* t[1] exists only while rehashing */
    int rehashing;
    size_t rehash_idx;  /* buckets of t[0] below this have moved to t[1] */
    size_t count;
    size_t sweep_pos;   /* next bucket to sweep: t[0]'s, then t[1]'s */
    size_t max_step_moved, rehashes;  /* for pr__store_mem_shape_of */
} mem_store;

#define MEM_BUCKETS_MIN 1024u
/* Buckets moved per put while rehashing: a constant amount of work (chains
 * average about one entry at our load factor of at most 1). */
#define MEM_REHASH_STEP 16u

static pr_status mem_open(const char *arg, void **impl, pr_err *err) {
    mem_store *m = NULL;
    if (arg[0] != '\0')
        return pr_err_set(err, PR_ERR_INVALID, "store uri 'mem:%s': 'mem:' takes no argument", arg);
    m = calloc(1, sizeof *m);
    if (m) m->t[0].buckets = calloc(MEM_BUCKETS_MIN, sizeof *m->t[0].buckets);
    if (!m || !m->t[0].buckets) {
        free(m);
        return pr_err_set(err, PR_ERR_NOMEM, "store 'mem:': out of memory");
    }
    m->t[0].mask = MEM_BUCKETS_MIN - 1;
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    int rc = pthread_rwlock_init(&m->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    if (rc != 0) {
        free(m->t[0].buckets);
        free(m);
        return pr_err_errno(err, PR_ERR_NOMEM, rc, "store 'mem:': cannot create its lock");
    }
    *impl = m;
    return PR_OK;
}

static void mem_free_table(mem_table *t) {
    if (!t->buckets) return;
    for (size_t b = 0; b <= t->mask; b++) {
        mem_entry *e = t->buckets[b];
        while (e) {
            mem_entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(t->buckets);
    t->buckets = NULL;
}

static void mem_close(void *impl) {
    mem_store *m = impl;
    mem_free_table(&m->t[0]);
    mem_free_table(&m->t[1]);
    pthread_rwlock_destroy(&m->lock);
    free(m);
}

/* The table where a key of this hash lives (see the header comment). */
static mem_table *mem_home(mem_store *m, uint64_t hash) {
    if (m->rehashing && (hash & m->t[0].mask) < m->rehash_idx) return &m->t[1];
    return &m->t[0];
}

/* Returns the link that points at the entry for this key, or at the NULL
 * ending its chain when absent, so callers can insert or unlink in place. */
static mem_entry **mem_find(mem_store *m, const char *key, size_t key_len, uint64_t hash) {
    mem_table *t = mem_home(m, hash);
    mem_entry **link = &t->buckets[hash & t->mask];
    for (; *link; link = &(*link)->next) {
        mem_entry *e = *link;
        if (e->hash == hash && e->key_len == key_len && memcmp(e->data, key, key_len) == 0)
            break;
    }
    return link;
}

/* Starts a rehash into an array twice the size; on malloc failure keeps the
 * old one (longer chains, still correct) and tries again at a later put. */
static void mem_start_rehash(mem_store *m) {
    size_t n = (m->t[0].mask + 1) * 2;
    mem_entry **nb = calloc(n, sizeof *nb);
    if (!nb) return;
    m->t[1].buckets = nb;
    m->t[1].mask = n - 1;
    m->rehash_idx = 0;
    m->rehashing = 1;
    m->rehashes++;
}

/* Moves up to MEM_REHASH_STEP buckets of t[0] into t[1]; finishes the
 * rehash when t[0] is empty. Entries are relinked, never copied. */
static void mem_rehash_step(mem_store *m) {
    size_t moved = 0;
    for (unsigned k = 0; k < MEM_REHASH_STEP && m->rehash_idx <= m->t[0].mask; k++) {
        mem_entry *e = m->t[0].buckets[m->rehash_idx];
        m->t[0].buckets[m->rehash_idx] = NULL;
        while (e) {
            mem_entry *next = e->next;
            mem_entry **head = &m->t[1].buckets[e->hash & m->t[1].mask];
            e->next = *head;
            *head = e;
            e = next;
            moved++;
        }
        m->rehash_idx++;
    }
    if (moved > m->max_step_moved) m->max_step_moved = moved;
    if (m->rehash_idx > m->t[0].mask) {
        free(m->t[0].buckets);
        m->t[0] = m->t[1];
        m->t[1].buckets = NULL;
        m->t[1].mask = 0;
        m->rehashing = 0;
        m->rehash_idx = 0;
    }
}

/* All or nothing: every entry is allocated before any is linked, so an
 * allocation failure leaves the table as it was. */
static pr_status mem_put_batch(void *impl, const pr_bytes *entities, uint32_t estep,
                               const pr_bytes *keys, const pr_bytes *values,
                               const int64_t *expires, uint32_t xstep, uint32_t n,
                               pr_err *err) {
    mem_store *m = impl;
    char key[PR_STORE_KEY_MAX];
    mem_entry *one, **made = n == 1 ? &one : malloc((size_t)n * sizeof *made);
    if (!made) return pr_err_set(err, PR_ERR_NOMEM, "store 'mem:': out of memory for a batch of %u", n);
    for (uint32_t i = 0; i < n; i++) {
        size_t key_len = pr__store_key_encode(key, entities[i * estep], keys[i]);
        mem_entry *e = malloc(sizeof *e + key_len + values[i].len);
        if (!e) {
            while (i-- > 0) free(made[i]);
            if (made != &one) free(made);
            return pr_err_set(err, PR_ERR_NOMEM, "store 'mem:': out of memory for a %zu-byte row",
                              values[i].len);
        }
        e->hash = pr_hash64(key, key_len, 0);
        e->expires_at = expires[i * xstep];
        e->key_len = (uint32_t)key_len;
        e->value_len = (uint32_t)values[i].len;
        memcpy(e->data, key, key_len);
        if (values[i].len) memcpy(e->data + key_len, values[i].ptr, values[i].len);
        made[i] = e;
    }
    pthread_rwlock_wrlock(&m->lock);
    for (uint32_t i = 0; i < n; i++) {
        mem_entry *e = made[i];
        if (m->rehashing) mem_rehash_step(m);
        mem_entry **link = mem_find(m, e->data, e->key_len, e->hash);
        if (*link) {  /* replace in place: the old row dies here */
            e->next = (*link)->next;
            free(*link);
            *link = e;
        } else {
            e->next = NULL;
            *link = e;
            if (++m->count > m->t[0].mask + 1 && !m->rehashing) mem_start_rehash(m);
        }
    }
    pthread_rwlock_unlock(&m->lock);
    if (made != &one) free(made);
    return PR_OK;
}

/* Keys are looked up GROUP at a time in three sweeps (hash and prefetch
 * the bucket slots; prefetch the chain heads; then compare), so the cache
 * misses of a batch overlap instead of queueing: a request's 100 ads cost
 * about three memory latencies, not three hundred. */
#define GROUP 16

static pr_status mem_get_group(const mem_store *m, const pr_bytes *entities, uint32_t step,
                               const pr_bytes *keys, const uint64_t *hash, uint32_t n,
                               int64_t now, pr_bytes *out, pr_err *err);

static pr_status mem_get_batch(void *impl, const pr_bytes *entities, uint32_t step,
                               const pr_bytes *keys, uint32_t n, int64_t now, pr_bytes *out,
                               pr_err *err) {
    mem_store *m = impl;
    uint64_t hash[GROUP];
    pr_status rc = PR_OK;
    pthread_rwlock_rdlock(&m->lock);
    for (uint32_t g = 0; g < n && rc == PR_OK; g += GROUP) {
        uint32_t k = n - g < GROUP ? n - g : GROUP;
        char key[PR_STORE_KEY_MAX];
        for (uint32_t j = 0; j < k; j++) {
            size_t key_len = pr__store_key_encode(key, entities[(g + j) * step], keys[g + j]);
            hash[j] = pr_hash64(key, key_len, 0);
            mem_table *t = mem_home(m, hash[j]);
            __builtin_prefetch(&t->buckets[hash[j] & t->mask]);
        }
        for (uint32_t j = 0; j < k; j++) {
            mem_table *t = mem_home(m, hash[j]);
            mem_entry *e = t->buckets[hash[j] & t->mask];
            if (e) __builtin_prefetch(e);
        }
        rc = mem_get_group(m, entities + (size_t)g * step, step, keys + g, hash, k, now, out + g,
                           err);
    }
    pthread_rwlock_unlock(&m->lock);
    return rc;
}

/* Under the read lock: finds, never frees (an expired entry is left for
 * the sweep, so concurrent readers can never see one vanish). */
static pr_status mem_get_group(const mem_store *m, const pr_bytes *entities, uint32_t step,
                               const pr_bytes *keys, const uint64_t *hash, uint32_t n,
                               int64_t now, pr_bytes *out, pr_err *err) {
    (void)err;
    char key[PR_STORE_KEY_MAX];
    for (uint32_t i = 0; i < n; i++) {
        size_t key_len = pr__store_key_encode(key, entities[i * step], keys[i]);
        mem_entry *e = *mem_find((mem_store *)m, key, key_len, hash[i]);
        if (!e || !pr__store_alive(e->expires_at, now)) continue;
        out[i] = pr_bytes_of(e->data + e->key_len, e->value_len);
    }
    return PR_OK;
}

static pr_status mem_del(void *impl, pr_bytes entity, pr_bytes k, pr_err *err) {
    mem_store *m = impl;
    char key[PR_STORE_KEY_MAX];
    size_t key_len = pr__store_key_encode(key, entity, k);
    pthread_rwlock_wrlock(&m->lock);
    mem_entry **link = mem_find(m, key, key_len, pr_hash64(key, key_len, 0));
    mem_entry *e = *link;
    if (e) {
        *link = e->next;
        free(e);
        m->count--;
    }
    pthread_rwlock_unlock(&m->lock);
    if (!e)
        return pr_err_set(err, PR_ERR_NOTFOUND, "store 'mem:': key (%zu bytes) not found", k.len);
    return PR_OK;
}

/* Walks whole buckets from sweep_pos until max_rows entries were examined
 * or 10 * max_rows + 16 buckets were visited (bounding the time spent on a
 * sparse table, as dictRehash bounds its empty visits). */
static void mem_sweep_locked(mem_store *m, int64_t now, uint32_t max_rows,
                             pr_store_sweep_result *out) {
    size_t n0 = m->t[0].mask + 1;
    size_t total = n0 + (m->rehashing ? m->t[1].mask + 1 : 0);
    uint64_t visits_max = 10 * (uint64_t)max_rows + 16;
    for (uint64_t visits = 0; out->examined < max_rows && visits < visits_max; visits++) {
        if (m->sweep_pos >= total) {
            m->sweep_pos = 0;
            out->pass_done = 1;
            break;
        }
        size_t pos = m->sweep_pos++;
        mem_entry **link = pos < n0 ? &m->t[0].buckets[pos] : &m->t[1].buckets[pos - n0];
        while (*link) {
            mem_entry *e = *link;
            out->examined++;
            if (pr__store_alive(e->expires_at, now)) {
                link = &e->next;
                continue;
            }
            *link = e->next;
            free(e);
            m->count--;
            out->removed++;
        }
    }
    if (m->sweep_pos >= total && !out->pass_done) {
        m->sweep_pos = 0;
        out->pass_done = 1;
    }
}

static pr_status mem_sweep(void *impl, int64_t now, uint32_t max_rows,
                           pr_store_sweep_result *out, pr_err *err) {
    mem_store *m = impl;
    pthread_rwlock_wrlock(&m->lock);
    mem_sweep_locked(m, now, max_rows, out);
    pthread_rwlock_unlock(&m->lock);
    return PR_OK;
}

int pr__store_mem_shape_of(const pr_store *s, pr__store_mem_shape *out) {
    const mem_store *m;
    if (!s || s->api != &pr__store_mem_api) return 0;
    m = s->impl;
    pthread_rwlock_rdlock((pthread_rwlock_t *)&m->lock);
    out->count = m->count;
    out->buckets = m->t[0].mask + 1;
    out->buckets_new = m->rehashing ? m->t[1].mask + 1 : 0;
    out->rehashing = m->rehashing;
    out->max_step_moved = m->max_step_moved;
    out->rehashes = m->rehashes;
    pthread_rwlock_unlock((pthread_rwlock_t *)&m->lock);
    return 1;
}

const pr_store_api pr__store_mem_api = {
    "mem", mem_open, mem_close, mem_put_batch, mem_get_batch, mem_del, mem_sweep, NULL,
};
