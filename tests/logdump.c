/*
 * logdump.c: a test tool (not installed, not `pronto log`): prints every
 * record of an event log, read through pr_log read-only, one line each:
 *
 *   TYPE<TAB>TS_MS<TAB>PAYLOAD
 *
 * and on stderr "records N". Exit 0 at the end of the log, 1 with the
 * reader's message when a record is corrupt or the log cannot be opened
 * (the shell tests' check that no partial record is ever read), 2 on bad
 * usage. Payloads pronto writes hold no raw newline (docs/log.md); a
 * payload that does is reported as an error too.
 *
 *   logdump URI        e.g. logdump 'log:/tmp/x'
 */
#include <stdio.h>
#include <string.h>

#include "pronto/log.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: logdump URI\n");
        return 2;
    }
    pr_err err;
    pr_event_log *log;
    if (pr_log_open(argv[1], PR_LOG_READ, &log, &err) != PR_OK) {
        fprintf(stderr, "logdump: %s\n", err.msg);
        return 1;
    }
    pr_log_reader *r;
    if (pr_log_reader_open(log, NULL, &r, &err) != PR_OK) {
        fprintf(stderr, "logdump: %s\n", err.msg);
        pr_log_close(log);
        return 1;
    }
    pr_log_record rec;
    pr_status st;
    unsigned long long n = 0;
    int rc = 0;
    while ((st = pr_log_next(r, &rec, &err)) == PR_OK) {
        if (memchr(rec.payload.ptr, '\n', rec.payload.len)) {
            fprintf(stderr, "logdump: record %llu has a raw newline in its payload\n", n);
            rc = 1;
        }
        printf("%u\t%lld\t%.*s\n", rec.type, (long long)rec.ts_ms, (int)rec.payload.len,
               rec.payload.ptr);
        n++;
    }
    if (st != PR_EOF) {
        fprintf(stderr, "logdump: after %llu records: %s\n", n, err.msg);
        rc = 1;
    }
    fprintf(stderr, "records %llu\n", n);
    pr_log_reader_close(r);
    pr_log_close(log);
    return rc;
}
