/* `sink: print` writes "<subtask+1>> csv" lines to the taskmanager's
 * standard output (its log); `sink: blackhole` discards. */
#include <stdio.h>

#include "common/status.h"
#include "taskmanager/task.h"

static int print_open(sl_operator *op)
{
    (void)op;
    return SL_OK;
}

static int print_process(sl_operator *op, const sl_row *row)
{
    char line[8192];
    int n = snprintf(line, sizeof(line), "%d> ", op->task->subtask + 1);
    for (int i = 0; i < row->nfields && n < (int)sizeof(line) - 2; i++) {
        if (i > 0)
            line[n++] = ',';
        int w = sl_value_format_csv(&row->v[i], line + n, sizeof(line) - (size_t)n - 2);
        n = w < 0 ? (int)sizeof(line) - 2 : n + w;
    }
    line[n++] = '\n';
    flockfile(stdout);
    fwrite(line, 1, (size_t)n, stdout);
    fflush(stdout);
    funlockfile(stdout);
    return SL_OK;
}

static int blackhole_process(sl_operator *op, const sl_row *row)
{
    (void)op;
    (void)row;
    return SL_OK;
}

static void nothing_close(sl_operator *op, int committed)
{
    (void)op;
    (void)committed;
}

const sl_operator_ops sl_op_print_sink = {
    .open = print_open, .process = print_process, .close = nothing_close,
};

const sl_operator_ops sl_op_blackhole_sink = {
    .open = print_open, .process = blackhole_process, .close = nothing_close,
};
