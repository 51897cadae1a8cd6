/*
 * tool_model_blank_info.c: `tool_model_blank_info IN OUT` writes IN's model
 * with its info section (training metadata: the time it was trained, how
 * long it took) replaced by "{}", so that two trainings of the same model
 * can be compared byte for byte with cmp (tests/cli_mpi.sh).
 */
#include <stdio.h>

#include "pronto/model.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: tool_model_blank_info IN OUT\n");
        return 2;
    }
    pr_err err;
    pr_err_clear(&err);
    pr_model *m = NULL;
    if (pr_model_load(argv[1], &m, &err) != PR_OK ||
        pr_model_set_info(m, "{}", &err) != PR_OK ||
        pr_model_save(m, argv[2], &err) != PR_OK) {
        fprintf(stderr, "tool_model_blank_info: %s\n", err.msg);
        pr_model_free(m);
        return 1;
    }
    pr_model_free(m);
    return 0;
}
