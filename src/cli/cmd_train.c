/*
 * cmd_train.c: `pronto train` -- flags to pr_train_opts and model params,
 * the spec (given, embedded in --init's model, or the shipped Criteo one),
 * then pr_train and a summary on stdout.
 *
 * --events URI (with a spec that has the feature-store sections): the
 * training examples are first built from the log exactly as
 * `build-dataset --events URI` builds them (pr_fs_build, the whole log
 * replayed, --from/--to bounding the examples) into a temporary example
 * cache beside -o, which is then trained on as with --dataset and removed.
 *
 * --mpi (launched by mpirun, docs/distributed.md): MPI is initialised once
 * the flags are checked; every rank runs this same command on its shard,
 * only rank 0 prints the summary and writes -o. Any failure after MPI is
 * up ends the whole job through pr_mpi_abort, so no rank is left waiting.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "cli/flags.h"
#include "pronto/fstore.h"
#include "pronto/train.h"

static const char *USAGE =
    "[--kind lr|ffm|fm] [--format F] [--spec SPEC.yaml] [--threads N] [--passes N]\n"
    "       [--valid FILE] [--seed S] [--init MODEL] [--max-memory SIZE] -o MODEL FILE...\n"
    "       --estimate [--kind K] [--spec SPEC.yaml] [--bits B] [--k K] [--threads N] [--passes N] [--valid FILE]\n"
    "       --dataset --spec SPEC.yaml [--valid VALID.pcache] -o MODEL TRAIN.pcache\n"
    "       --events URI --spec SPEC.yaml [--data DIR] [--from T] [--to T] -o MODEL\n"
    "       mpirun -np N pronto train --mpi [--sync-every N] [--merge M] [flags] -o MODEL FILE...";

static int flag_seen(const pr_flag *flags, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(flags[i].name, name)) return flags[i].seen;
    return 0;
}

/* *mpi_rank is set (>= 0) once MPI is up: the caller must then finalize
 * or abort. */
static int train_run(int argc, char **argv, int *mpi_rank) {
    const char *kind_s = "lr", *format_s = NULL, *spec_path = NULL, *valid = NULL;
    const char *init = NULL, *out = NULL, *cache = NULL;
    long long threads = 0, passes = 0, early_stop = 2;
    unsigned long long seed = 1, skip_bad = 0, bits = 0, min_count = 0;
    double neg = 1.0;
    cli_model_flags mf;
    int quiet = 0, team = 0, dataset = 0, estimate = 0, mpi = 0;
    const char *max_memory_s = NULL;
    unsigned long long sync_every = 1000000;
    unsigned long long hot_rows = PR_TRAIN_HOT_ROWS;
    const char *merge_s = "avg";
    const char *events_uri = NULL, *data_dir = NULL, *from_s = NULL, *to_s = NULL;
    const char *window_s = NULL, *lateness_s = NULL;
    pr_flag flags[] = {
        {"--kind", NULL, PR_FLAG_STRING, &kind_s, "lr (FTRL-Proximal), ffm or fm; default lr", 0},
        {"--format", NULL, PR_FLAG_STRING, &format_s, "criteo|csv|libsvm|libffm|jsonl; default: the spec's, else criteo", 0},
        {"--spec", NULL, PR_FLAG_STRING, &spec_path, "feature spec YAML; default: the shipped Criteo spec", 0},
        {"--threads", NULL, PR_FLAG_INT, &threads, "N learner threads; default: all cores", 0},
        {"--passes", NULL, PR_FLAG_INT, &passes, "N passes at most; default 1 (lr), 30 with --valid else 10 (ffm/fm)", 0},
        {"--valid", NULL, PR_FLAG_STRING, &valid, "FILE validation data: per-pass log loss, early stopping", 0},
        {"--early-stop", NULL, PR_FLAG_INT, &early_stop, "N passes without improvement before stopping (0 = never); default 2", 0},
        {"--seed", NULL, PR_FLAG_UINT, &seed, "S shuffling/initialization seed; default 1", 0},
        {"--bits", "-b", PR_FLAG_UINT, &bits, "B hash into 2^B buckets (1..30); default: the spec's", 0},
        {"--min-count", NULL, PR_FLAG_UINT, &min_count, "N rare-feature threshold (0..255); default: the spec's", 0},
        {"--init", NULL, PR_FLAG_STRING, &init, "MODEL warm start: continue training this model", 0},
        {"--output", "-o", PR_FLAG_STRING, &out, "MODEL file to write (atomically)", 0},
        {"--cache", NULL, PR_FLAG_STRING, &cache, "FILE keep the featurized example cache here and reuse it", 0},
        {"--dataset", NULL, PR_FLAG_BOOL, &dataset, "FILE (and --valid) are example caches from `pronto build-dataset --spec` (same spec)", 0},
        {"--events", NULL, PR_FLAG_STRING, &events_uri, "URI train on the examples built from this event log (log:DIR, redis-stream:...) as build-dataset --events builds them; needs a feature-store --spec", 0},
        {"--data", "-d", PR_FLAG_STRING, &data_dir, "DIR --events: where the spec's entity tables are (default .)", 0},
        {"--from", NULL, PR_FLAG_STRING, &from_s, "TIME --events: first impression time trained on (the whole log still builds the state)", 0},
        {"--to", NULL, PR_FLAG_STRING, &to_s, "TIME --events: end (exclusive) of the impressions trained on", 0},
        {"--window", NULL, PR_FLAG_STRING, &window_s, "D --events: attribution window (default 2h)", 0},
        {"--lateness", NULL, PR_FLAG_STRING, &lateness_s, "D --events: allowed out-of-orderness (default 10m)", 0},
        {"--skip-bad", NULL, PR_FLAG_UINT, &skip_bad, "N skip up to N malformed rows (counted); default 0", 0},
        {"--neg-sample", NULL, PR_FLAG_DOUBLE, &neg, "W keep this fraction of negatives; predictions are recalibrated", 0},
        {"--team", NULL, PR_FLAG_BOOL, &team, "ffm: threads share each example (race-free, reproducible with --seed) instead of Hogwild; for idle cores only", 0},
        {"--hot-rows", NULL, PR_FLAG_UINT, &hot_rows, "N ffm on 2+ threads (Hogwild): each thread learns the N most frequent buckets (and the bias) on its own copy, added into the model every 1024 examples; 0: plain Hogwild; default 128", 0},
        {"--max-memory", NULL, PR_FLAG_STRING, &max_memory_s, "SIZE refuse to start (exit 2) when the estimated peak RSS exceeds SIZE (4G, 1500M; docs/memory.md)", 0},
        {"--estimate", NULL, PR_FLAG_BOOL, &estimate, "print the estimated peak RSS and its parts for this configuration and exit (no input needed)", 0},
        {"--mpi", NULL, PR_FLAG_BOOL, &mpi, "data-parallel over the ranks of `mpirun -np N pronto train --mpi ...`: each rank learns its shard (files round-robin if at least N files, else row i of each file to rank i mod N), the ranks merge their models, rank 0 validates and writes -o (docs/distributed.md)", 0},
        {"--sync-every", NULL, PR_FLAG_UINT, &sync_every, "N --mpi: merge the ranks' models every N examples per rank and at the end of each pass (0: pass ends only); default 1000000", 0},
        {"--merge", NULL, PR_FLAG_STRING, &merge_s, "avg|weighted|sum --mpi: how LR models are merged: avg (default) averages FTRL's z and n; weighted averages weights by each rank's squared-gradient mass; sum adds the ranks' z and n changes (diverges at 4 ranks, kept for comparison); FFM always averages (docs/distributed.md)", 0},
        {"--quiet", "-q", PR_FLAG_BOOL, &quiet, "no summary on stdout", 0},
        {0}, {0}, {0}, {0}, {0}, {0}, {0}, /* the model flags (common.c) */
    };
    _Static_assert(CLI_MODEL_FLAGS_N == 7, "placeholders above");
    char *files[4096];
    int n_files = 0;
    const int n_flags = (int)(sizeof flags / sizeof flags[0]);
    cli_model_flags_init(&mf, &flags[n_flags - CLI_MODEL_FLAGS_N]);
    int rc = pr_flags_parse("train", USAGE, flags, n_flags, argc, argv, files, 4096, &n_files);
    if (rc) return rc == 1 ? PR_EXIT_OK : PR_EXIT_USAGE;
    if (hot_rows > 65536) return cli_usage_error("train", "--hot-rows: at most 65536");
    uint64_t max_memory = 0;
    if (max_memory_s && !cli_parse_size("train", "--max-memory", max_memory_s, &max_memory))
        return PR_EXIT_USAGE;
    if (estimate && events_uri) return cli_usage_error("train", "--estimate does not build --events");
    if (!out && !estimate) return cli_usage_error("train", "-o MODEL is required");
    pr_merge_mode merge = PR_MERGE_AVG;
    if (pr_merge_mode_parse(merge_s, &merge) != PR_OK)
        return cli_usage_error("train", "--merge must be sum, avg or weighted");
    if (!mpi && (flag_seen(flags, n_flags, "--sync-every") || flag_seen(flags, n_flags, "--merge")))
        return cli_usage_error("train", "--sync-every and --merge go with --mpi");
    if (mpi && (events_uri || dataset || cache))
        return cli_usage_error("train", "--mpi: --events, --dataset and --cache are not supported");
    if (mpi && !pr_mpi_built())
        return cli_usage_error("train", "--mpi: this pronto was built without MPI "
                                        "(install libopenmpi-dev and rebuild)");
    char events_cache[4200] = "";
    if (events_uri) {
        if (n_files) return cli_usage_error("train", "--events and input FILEs exclude each other");
        if (dataset || init) return cli_usage_error("train", "--events builds its own dataset: no --dataset, no --init");
        if (!spec_path) return cli_usage_error("train", "--events needs --spec (with request/entities/sources)");
        if (strlen(out) > 4000) return cli_usage_error("train", "-o: path too long");
        pr_fs_build_output bo;
        memset(&bo, 0, sizeof bo);
        bo.from_ms = INT64_MIN;
        if (from_s && !cli_parse_time_ms("train", "--from", from_s, &bo.from_ms)) return PR_EXIT_USAGE;
        if (to_s && !cli_parse_time_ms("train", "--to", to_s, &bo.to_ms)) return PR_EXIT_USAGE;
        pr_fs_build_opts bopts = {.data_dir = data_dir, .outputs = &bo, .n_outputs = 1,
                                  .events_uri = events_uri};
        if (window_s && !cli_parse_duration_ms("train", "--window", window_s, &bopts.window_ms))
            return PR_EXIT_USAGE;
        if (lateness_s && !cli_parse_duration_ms("train", "--lateness", lateness_s, &bopts.lateness_ms))
            return PR_EXIT_USAGE;
        snprintf(events_cache, sizeof events_cache, "%s.events-%ld.pcache", out, (long)getpid());
        bo.cache_path = events_cache;
        pr_err berr;
        pr_err_clear(&berr);
        pr_fs_build_stats bst;
        if (cli_fs_build(spec_path, NULL, &bopts, &bst, &berr) != PR_OK) {
            fprintf(stderr, "pronto train: --events %s: %s\n", events_uri, berr.msg);
            return PR_EXIT_FAIL;
        }
        if (!quiet)
            printf("built %llu examples from %s (%llu events) in %.2f s\n",
                   (unsigned long long)bst.labeled[0], events_uri,
                   (unsigned long long)bst.events, bst.seconds);
        files[0] = events_cache;
        n_files = 1;
        dataset = 1;
    }
    if (n_files == 0 && !estimate) return cli_usage_error("train", "no input FILE given");
    /* 0 stands for "not given" below: given, it is refused, not taken
     * for the default. */
    if (flag_seen(flags, n_flags, "--threads") && (threads < 1 || threads > 256))
        return cli_usage_error("train", "--threads must be in 1..256");
    if (threads == 0) threads = sysconf(_SC_NPROCESSORS_ONLN) > 0 ? sysconf(_SC_NPROCESSORS_ONLN) : 1;
    if (mpi && !flag_seen(flags, n_flags, "--threads")) {
        /* the cores shared among this machine's ranks (Open MPI says how many) */
        const char *ls = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
        long local = ls ? strtol(ls, NULL, 10) : 1;
        threads = local > 1 ? threads / local : threads;
        if (threads < 1) threads = 1;
    }
    if (mpi && !init && !strcmp(kind_s, "fm"))
        return cli_usage_error("train", "--mpi trains lr and ffm models, not fm");
    if (flag_seen(flags, n_flags, "--passes") && (passes < 1 || passes > 1000))
        return cli_usage_error("train", "--passes must be in 1..1000");
    if (early_stop < 0) return cli_usage_error("train", "--early-stop must be >= 0");
    if (!(neg > 0 && neg <= 1)) return cli_usage_error("train", "--neg-sample must be in (0, 1]");

    pr_err err;
    pr_err_clear(&err);
    int mpi_size = 0;
    if (mpi) {
        if (pr_mpi_init(&argc, &argv, mpi_rank, &mpi_size, &err) != PR_OK) {
            fprintf(stderr, "pronto train: %s\n", err.msg);
            return PR_EXIT_FAIL;
        }
        if (*mpi_rank != 0) {
            quiet = 1; /* rank 0 speaks for the job; the others only fail loudly */
            pr_log_set_level(PR_LOG_WARN);
        }
    }
    pr_model *model = NULL;
    pr_featurizer *fz = NULL;
    pr_spec *spec = NULL;
    pr_model_kind kind;
    int exit_code = PR_EXIT_FAIL;

    if (init) {
        if (pr_model_load(init, &model, &err) != PR_OK) goto fail;
        kind = pr_model_params_get(model)->kind;
        if (spec_path)
            pr_log(PR_LOG_WARN, "--spec ignored: a warm start keeps the spec embedded in %s", init);
        const char *y = pr_model_spec(model);
        if (pr_spec_parse(y, strlen(y), init, &spec, &err) != PR_OK) goto fail;
    } else {
        if (pr_model_kind_parse(kind_s, &kind) != PR_OK)
            return cli_usage_error("train", "--kind must be lr, ffm or fm");
        pr_status ls = cli_load_spec(spec_path, format_s, &spec, &err);
        if (ls == PR_ERR_INVALID) return cli_usage_error("train", err.msg);
        if (ls != PR_OK) goto fail;
        /* the flags win over the spec; the model embeds the result */
        int bits_seen = flag_seen(flags, n_flags, "--bits");
        int mc_seen = flag_seen(flags, n_flags, "--min-count");
        if ((bits_seen && pr_spec_set_hash_bits(spec, (uint32_t)(bits > 1000 ? 1000 : bits), &err) != PR_OK) ||
            (mc_seen && pr_spec_set_min_count(spec, (uint32_t)(min_count > 100000 ? 100000 : min_count), &err) != PR_OK)) {
            pr_spec_free(spec);
            return cli_usage_error("train", err.msg);
        }
    }
    pr_format format = PR_FORMAT_CSV; /* unused with --dataset */
    if (!dataset && cli_resolve_format(format_s, spec, &format, &err) != PR_OK) {
        fprintf(stderr, "pronto train: %s\n", err.msg);
        exit_code = PR_EXIT_USAGE;
        goto done;
    }
    if (pr_featurizer_new(spec, &fz, &err) != PR_OK) goto fail;
    pr_input in = {format, (const char *const *)files, (uint32_t)n_files};

    if (!model) {
        pr_model_params p;
        pr_model_params_default(&p, kind);
        p.hash_bits = pr_featurizer_hash_bits(fz);
        p.n_fields = pr_featurizer_n_fields(fz);
        p.seed = seed;
        cli_model_flags_apply(&mf, &p);
        p.neg_sample_rate = (float)neg;
        if (pr_model_params_check(&p, &err) != PR_OK) {
            fprintf(stderr, "pronto train: %s\n", err.msg);
            exit_code = PR_EXIT_USAGE;
            goto done;
        }
        if (pr_model_new(&p, &model, &err) != PR_OK) goto fail;
    }

    pr_train_opts o;
    pr_train_opts_default(&o);
    o.threads = (int)threads;
    o.passes = passes ? (int)passes : (kind == PR_MODEL_KIND_LR ? 1 : (valid ? 30 : 10));
    o.seed = seed;
    o.early_stop = (int)early_stop;
    o.valid_path = valid;
    o.cache_path = cache;
    o.skip_bad = skip_bad;
    o.neg_sample_rate = (float)neg;
    o.out_path = out;
    o.team = team;
    o.hot_rows = (uint32_t)hot_rows;
    o.dataset = dataset;
    o.max_memory = max_memory;
    o.mpi = mpi;
    o.sync_every = sync_every;
    o.merge = merge;

    /* the stated peak RSS (docs/memory.md), before any input is read */
    pr_train_memory mem;
    pr_train_memory_estimate(pr_model_params_get(model), pr_spec_min_count(spec), &o, &mem);
    char mem_text[400];
    pr_train_memory_format(&mem, mem_text, sizeof mem_text);
    if (estimate) {
        printf("estimated peak RSS of this run: %s\n", mem_text);
        printf("  %-22s %llu bytes\n  %-22s %llu\n  %-22s %llu\n  %-22s %llu\n"
               "  %-22s %llu\n  %-22s %llu\n  %-22s %llu\n",
               "total", (unsigned long long)mem.total, "model", (unsigned long long)mem.model,
               "best-pass copy", (unsigned long long)mem.best,
               "rare-feature filter", (unsigned long long)mem.filter,
               "thread buffers", (unsigned long long)mem.threads,
               "validation", (unsigned long long)mem.valid, "process", (unsigned long long)mem.base);
        exit_code = PR_EXIT_OK;
        goto done;
    }
    if (pr_train_memory_check(&mem, pr_model_params_get(model), max_memory, &err) != PR_OK) {
        /* the library's advice in the command's own words: its flags */
        pr_model_kind k = pr_model_params_get(model)->kind;
        char lim[32];
        snprintf(lim, sizeof lim, "%llu bytes", (unsigned long long)max_memory);
        fprintf(stderr, "pronto train: --max-memory %s: the estimated peak RSS is %s; lower --bits "
                "(each bit halves the table)%s%s%s, or raise --max-memory\n",
                lim, mem_text,
                k == PR_MODEL_KIND_FFM ? ", --k or the spec's fields" : k == PR_MODEL_KIND_FM ? " or --k" : "",
                mem.best ? ", train without --valid or with --passes 1 (no best-pass copy)" : "",
                mem.threads > mem.model / 4 ? ", use fewer --threads" : "");
        exit_code = PR_EXIT_USAGE;
        goto done;
    }
    if (!quiet) pr_log(PR_LOG_INFO, "estimated peak RSS %s", mem_text);
    if (!init && !dataset && pr_featurizer_needs_fit(fz) &&
        cli_fit_featurizer(fz, spec, &in, &err) != PR_OK)
        goto fail;

    pr_train_report rep;
    if (pr_train(&model, fz, &in, &o, &rep, &err) != PR_OK) goto fail;

    if (!quiet) {
        double learn_rate = rep.learn_seconds > 0 ? (double)rep.example_passes / rep.learn_seconds : 0;
        printf("trained %s on %llu rows from %d file(s)", pr_model_kind_name(kind),
               (unsigned long long)rep.rows_read, n_files);
        if (rep.rows_bad) printf(", %llu malformed rows skipped", (unsigned long long)rep.rows_bad);
        if (rep.rows_dropped) printf(", %llu negatives downsampled away", (unsigned long long)rep.rows_dropped);
        printf("\n");
        if (rep.streamed) {
            printf("  streamed    %.2f s, 1 pass read + featurized + learned at %.0f examples/s\n"
                   "              with %d learner thread(s), no cache",
                   rep.learn_seconds, learn_rate, o.threads);
            if (rep.hot_rows >= 0)
                printf(", %lld hot rows copied per thread", (long long)rep.hot_rows);
            printf("\n");
        } else {
            printf("  featurize   %.2f s (%.0f rows/s)\n", rep.prepare_seconds,
                   rep.prepare_seconds > 0 ? (double)rep.rows_read / rep.prepare_seconds : 0);
            printf("  learn       %.2f s, %d pass(es), %.0f examples/s with %d thread(s)",
                   rep.learn_seconds, rep.passes_run, learn_rate, o.threads);
            if (rep.hot_rows >= 0)
                printf(", %lld hot rows copied per thread", (long long)rep.hot_rows);
            printf("\n");
        }
        if (mpi)
            printf("  mpi         %d ranks, %llu merges (%s) of %.2f MB each; %.2f s in merges "
                   "(%.1f%% of learn): %.2f s waiting for ranks, %.2f s in MPI_Allreduce\n",
                   rep.ranks, (unsigned long long)rep.syncs, pr_merge_mode_name(merge),
                   (double)rep.sync_bytes / 1e6, rep.sync_seconds,
                   rep.learn_seconds > 0 ? 100.0 * rep.sync_seconds / rep.learn_seconds : 0,
                   rep.wait_seconds, rep.mpi_seconds);
        if (isfinite(rep.train_logloss))
            printf("  progressive log loss (pass 1)  %.5f\n", rep.train_logloss);
        if (valid)
            printf("  validation log loss %.5f  AUC %.5f  (best pass %d)\n", rep.valid_logloss,
                   rep.valid_auc, rep.best_pass);
        printf("  model -> %s (%llu nonzero weights)\n", out,
               (unsigned long long)pr_model_n_nonzero(model));
    }
    exit_code = PR_EXIT_OK;
    goto done;
fail:
    if (*mpi_rank >= 0) fprintf(stderr, "pronto train: rank %d: %s\n", *mpi_rank, err.msg);
    else fprintf(stderr, "pronto train: %s\n", err.msg);
done:
    if (events_cache[0]) unlink(events_cache);
    pr_featurizer_free(fz);
    pr_spec_free(spec);
    pr_model_free(model);
    return exit_code;
}

int cmd_train(int argc, char **argv) {
    int mpi_rank = -1;
    int rc = train_run(argc, argv, &mpi_rank);
    if (mpi_rank >= 0) {
        if (rc != PR_EXIT_OK) pr_mpi_abort(rc); /* ends every rank of the job */
        pr_mpi_finalize();
    }
    return rc;
}
