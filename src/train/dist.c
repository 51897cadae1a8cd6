/*
 * dist.c: the MPI calls of `pronto train --mpi` (docs/distributed.md), and
 * nothing else in pronto calls MPI. Built with MPI when CMake finds it
 * (PRONTO_HAVE_MPI); otherwise every function here reports that this
 * build has no MPI, and `pronto train --mpi` exits 2.
 *
 * Threads: MPI is initialised with MPI_THREAD_FUNNELED; only the thread
 * that called pr_mpi_init calls into MPI, always between learning segments
 * (learner threads joined), never from a learner.
 *
 * Errors: MPI_ERRORS_RETURN on MPI_COMM_WORLD, so a failed call comes back
 * as PR_ERR_IO with MPI's own message; the command then calls
 * pr_mpi_abort. A rank that dies (kill -9) is noticed by mpirun, which
 * ends the other ranks and names the dead one (docs/distributed.md
 * "Failures" has what Open MPI 4.1 does); no rank writes a model before
 * the last merge, and rank 0 writes it atomically, so the model file is
 * either the old one or a complete merged one.
 *
 * Merging: the ranks first OR together bitmaps of the buckets their
 * learners touched since the last merge (2^hash_bits bits: 128 KiB at 20
 * bits); only those units (and the bias) are exchanged: a bucket no rank
 * touched is already equal everywhere. Their packed values (pr_model_merge,
 * model.h) go through MPI_Allreduce(MPI_SUM) in place, in chunks of at most
 * CHUNK_FLOATS floats, so the exchange buffer stays bounded (16 MiB)
 * whatever the model's size. The result is the dense merge's, bit for bit.
 *
 * Ownership: pr__dist owns its merge and its chunk buffer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/train_int.h"

#ifdef PRONTO_HAVE_MPI
#include <mpi.h>

#define CHUNK_FLOATS ((uint64_t)1 << 22)

int pr_mpi_built(void) { return 1; }

static pr_status mpi_fail(int rc, const char *what, pr_err *err) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "error %d", rc);
    return pr_err_set(err, PR_ERR_IO, "%s failed: %s", what, msg);
}

pr_status pr_mpi_init(int *argc, char ***argv, int *rank, int *size, pr_err *err) {
    int provided = 0;
    int rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS) return pr_err_set(err, PR_ERR_IO, "MPI_Init_thread failed (%d)", rc);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    return PR_OK;
}

void pr_mpi_finalize(void) { MPI_Finalize(); }

void pr_mpi_abort(int code) {
    fflush(stdout);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
    exit(code); /* not reached */
}

pr_status pr__dist_open(pr__dist *d, pr_train_report *rep, pr_err *err) {
    memset(d, 0, sizeof *d);
    d->rep = rep;
    int flag = 0;
    MPI_Initialized(&flag);
    if (!flag) return pr_err_set(err, PR_ERR_INVALID, "data-parallel training: MPI was not initialised (pr_mpi_init)");
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    return PR_OK;
}

pr_status pr__dist_bind(pr__dist *d, pr_model *m, pr_merge_mode mode, pr_err *err) {
    pr_status s = pr_model_merge_new(m, mode, (uint32_t)d->size, &d->merge, err);
    if (s != PR_OK) return s;
    uint64_t uf = pr_model_merge_unit_floats(d->merge);
    d->chunk_units = CHUNK_FLOATS / uf ? CHUNK_FLOATS / uf : 1;
    uint64_t units = pr_model_merge_units(d->merge), buckets = units - 1;
    if (d->chunk_units > units) d->chunk_units = units;
    d->mask = (uint32_t)(buckets - 1);
    d->buf = malloc(d->chunk_units * uf * sizeof *d->buf);
    d->touched = calloc(buckets, 1);
    d->bits = malloc((buckets + 63) / 64 * sizeof *d->bits);
    d->list = malloc(units * sizeof *d->list);
    if (!d->buf || !d->touched || !d->bits || !d->list)
        return pr_err_set(err, PR_ERR_NOMEM, "data-parallel training: out of memory for the exchange buffers");
    return PR_OK;
}

void pr__dist_close(pr__dist *d) {
    pr_model_merge_free(d->merge);
    free(d->buf);
    free(d->touched);
    free(d->bits);
    free(d->list);
    d->merge = NULL;
    d->buf = NULL;
    d->touched = NULL;
    d->bits = NULL;
    d->list = NULL;
}

pr_status pr__dist_sum_u64(uint64_t *v, int n, pr_err *err) {
    int rc = MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? PR_OK : mpi_fail(rc, "MPI_Allreduce", err);
}

pr_status pr__dist_max_u64(uint64_t *v, int n, pr_err *err) {
    int rc = MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? PR_OK : mpi_fail(rc, "MPI_Allreduce", err);
}

pr_status pr__dist_sum_f64(double *v, int n, pr_err *err) {
    int rc = MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? PR_OK : mpi_fail(rc, "MPI_Allreduce", err);
}

static void sat_add_u8(void *in, void *inout, int *len, MPI_Datatype *type) {
    (void)type;
    const uint8_t *a = in;
    uint8_t *b = inout;
    for (int i = 0; i < *len; i++) {
        unsigned s = (unsigned)a[i] + b[i];
        b[i] = (uint8_t)(s > 255 ? 255 : s);
    }
}

pr_status pr__dist_sum_counts(uint8_t *counts, uint64_t n, pr_err *err) {
    MPI_Op op;
    int rc = MPI_Op_create(sat_add_u8, 1, &op);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Op_create", err);
    const uint64_t step = (uint64_t)1 << 24;
    for (uint64_t at = 0; at < n && rc == MPI_SUCCESS; at += step) {
        uint64_t k = n - at < step ? n - at : step;
        rc = MPI_Allreduce(MPI_IN_PLACE, counts + at, (int)k, MPI_UINT8_T, op, MPI_COMM_WORLD);
    }
    MPI_Op_free(&op);
    return rc == MPI_SUCCESS ? PR_OK : mpi_fail(rc, "MPI_Allreduce (feature counts)", err);
}

pr_status pr__dist_bcast_int(int *v, int n, pr_err *err) {
    int rc = MPI_Bcast(v, n, MPI_INT, 0, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? PR_OK : mpi_fail(rc, "MPI_Bcast", err);
}

pr_status pr__dist_merge(pr__dist *d, pr_err *err) {
    double t0 = pr_now(), tm = 0;
    const uint64_t units = pr_model_merge_units(d->merge), buckets = units - 1;
    const uint64_t uf = pr_model_merge_unit_floats(d->merge);
    const uint64_t words = (buckets + 63) / 64;
    /* the union of the touched buckets */
    for (uint64_t w = 0; w < words; w++) {
        uint64_t v = 0;
        const uint8_t *t = d->touched + w * 64;
        uint64_t nb = buckets - w * 64 < 64 ? buckets - w * 64 : 64;
        uint64_t any;
        memcpy(&any, t, 8); /* most words are all-zero: skip them fast */
        for (uint64_t k = 8; k + 8 <= nb && !any; k += 8) {
            uint64_t x;
            memcpy(&x, t + k, 8);
            any |= x;
        }
        if (any || nb < 8)
            for (uint64_t k = 0; k < nb; k++) v |= (uint64_t)(t[k] != 0) << k;
        d->bits[w] = v;
    }
    memset(d->touched, 0, (size_t)d->mask + 1);
    /* the barrier separates waiting for a slower rank from exchanging */
    double t1 = pr_now();
    int rc = MPI_Barrier(MPI_COMM_WORLD);
    d->wait_seconds += pr_now() - t1;
    d->rep->wait_seconds = d->wait_seconds;
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Barrier", err);
    t1 = pr_now();
    rc = MPI_Allreduce(MPI_IN_PLACE, d->bits, (int)words, MPI_UINT64_T, MPI_BOR,
                           MPI_COMM_WORLD);
    tm += pr_now() - t1;
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Allreduce (touched buckets)", err);
    uint64_t n = 0;
    for (uint64_t w = 0; w < words; w++)
        for (uint64_t v = d->bits[w]; v; v &= v - 1)
            d->list[n++] = w * 64 + (uint64_t)__builtin_ctzll(v);
    d->list[n++] = buckets; /* the bias */
    for (uint64_t at = 0; at < n; at += d->chunk_units) {
        uint64_t k = n - at < d->chunk_units ? n - at : d->chunk_units;
        pr_model_merge_pack(d->merge, d->list + at, k, d->buf);
        t1 = pr_now();
        rc = MPI_Allreduce(MPI_IN_PLACE, d->buf, (int)(k * uf), MPI_FLOAT, MPI_SUM,
                           MPI_COMM_WORLD);
        tm += pr_now() - t1;
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Allreduce (model merge)", err);
        pr_model_merge_unpack(d->merge, d->list + at, k, d->buf);
    }
    d->bytes_total += words * 8 + n * uf * sizeof(float);
    d->rep->syncs++;
    d->rep->sync_bytes = d->bytes_total / d->rep->syncs;
    d->rep->sync_seconds += pr_now() - t0;
    d->rep->mpi_seconds += tm;
    return PR_OK;
}

#else /* no MPI in this build */

int pr_mpi_built(void) { return 0; }

static pr_status no_mpi(pr_err *err) {
    return pr_err_set(err, PR_ERR_UNSUPPORTED,
                      "data-parallel training: this pronto was built without MPI (install libopenmpi-dev "
                      "and rebuild; CMake option PRONTO_MPI)");
}

pr_status pr_mpi_init(int *argc, char ***argv, int *rank, int *size, pr_err *err) {
    (void)argc, (void)argv;
    *rank = 0;
    *size = 1;
    return no_mpi(err);
}
void pr_mpi_finalize(void) {}
void pr_mpi_abort(int code) {
    fflush(stdout);
    exit(code);
}
pr_status pr__dist_open(pr__dist *d, pr_train_report *rep, pr_err *err) {
    memset(d, 0, sizeof *d);
    d->rep = rep;
    return no_mpi(err);
}
pr_status pr__dist_bind(pr__dist *d, pr_model *m, pr_merge_mode mode, pr_err *err) {
    (void)d, (void)m, (void)mode;
    return no_mpi(err);
}
void pr__dist_close(pr__dist *d) { (void)d; }
pr_status pr__dist_sum_u64(uint64_t *v, int n, pr_err *err) { (void)v, (void)n; return no_mpi(err); }
pr_status pr__dist_max_u64(uint64_t *v, int n, pr_err *err) { (void)v, (void)n; return no_mpi(err); }
pr_status pr__dist_sum_f64(double *v, int n, pr_err *err) { (void)v, (void)n; return no_mpi(err); }
pr_status pr__dist_sum_counts(uint8_t *c, uint64_t n, pr_err *err) { (void)c, (void)n; return no_mpi(err); }
pr_status pr__dist_bcast_int(int *v, int n, pr_err *err) { (void)v, (void)n; return no_mpi(err); }
pr_status pr__dist_merge(pr__dist *d, pr_err *err) { (void)d; return no_mpi(err); }

#endif
