/* `sink: print` writes "<subtask+1>> csv" lines to the taskmanager's
 * standard output (its log); `sink: blackhole` discards.
 *
 * `latency-field: F` on blackhole: F holds each record's creation time
 * (wall clock since the epoch, in `latency-unit`: ms, the default, or us;
 * e.g. datagen's `ts: wall` / `ts: wall-us`). The sink adds now - F to a
 * fixed-size histogram (latency_hist.h) and logs count, p50, p99, p99.9
 * and max once, when its input ends (or when the task stops otherwise). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "taskmanager/operators/latency_hist.h"
#include "common/log.h"
#include "common/status.h"
#include "taskmanager/operators/operator.h"

static int print_open(sl_op *op)
{
    (void)op;
    return SL_OK;
}

static int print_process(sl_op *op, const sl_row *row)
{
    char line[8192];
    int n = snprintf(line, sizeof(line), "%d> ", op->ctx.subtask + 1);
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

typedef struct latency_sink {
    int field;    /* index of latency-field in the input */
    const char *field_name; /* `latency-field` (the stage's), for the report */
    int us;       /* 1: the field is in us, else ms */
    int reported; /* the summary was logged */
    sl_hist hist;
} latency_sink;

static int blackhole_open(sl_op *op)
{
    const char *field = sl_stage_param(op->stage, "latency-field");
    const char *unit = sl_stage_param(op->stage, "latency-unit");
    const sl_schema *in;
    latency_sink *ls;

    if (field == NULL)
        return SL_OK; /* impl NULL: discard only */
    in = op->in[0];
    ls = malloc(sizeof(*ls));
    if (ls == NULL)
        return SL_ENOMEM;
    sl_hist_reset(&ls->hist);
    ls->field = sl_schema_find(in, field);
    ls->field_name = field;
    ls->us = unit != NULL && strcmp(unit, "us") == 0;
    ls->reported = 0;
    op->impl = ls;
    if (ls->field < 0 || in->types[ls->field] != SL_TYPE_INT)
        return sl_op_fail(op, "blackhole: no int input field '%s'", field);
    return SL_OK;
}

static int blackhole_process(sl_op *op, const sl_row *row)
{
    latency_sink *ls = op->impl;

    if (ls != NULL && ls->field < row->nfields && row->v[ls->field].type == SL_TYPE_INT)
        sl_hist_add(&ls->hist, sl_latency_clock(ls->us) - row->v[ls->field].u.i);
    return SL_OK;
}

/* One log line with the latency summary (the benchmarks grep it). */
static void latency_report(sl_op *op, const char *why)
{
    latency_sink *ls = op->impl;
    uint64_t p50 = 0, p99 = 0, p999 = 0;

    if (ls == NULL || ls->reported)
        return;
    ls->reported = 1;
    sl_hist_percentile(&ls->hist, 50, &p50);
    sl_hist_percentile(&ls->hist, 99, &p99);
    sl_hist_percentile(&ls->hist, 99.9, &p999);
    sl_info("task %s %d/%d of job %s: latency (%s) of %llu records by field %s in %s: "
            "p50 %llu p99 %llu p99.9 %llu max %llu (negative %llu)",
            op->ctx.task_name, op->ctx.subtask, op->ctx.parallelism,
            op->ctx.job_id, why, (unsigned long long)ls->hist.count,
            ls->field_name, ls->us ? "us" : "ms",
            (unsigned long long)p50, (unsigned long long)p99, (unsigned long long)p999,
            (unsigned long long)ls->hist.max, (unsigned long long)ls->hist.negative);
}

static int blackhole_finish(sl_op *op)
{
    latency_report(op, "input ended");
    return SL_OK;
}

static void blackhole_close(sl_op *op, int committed)
{
    (void)committed;
    latency_report(op, "task stopped");
    free(op->impl);
    op->impl = NULL;
}

static void nothing_close(sl_op *op, int committed)
{
    (void)op;
    (void)committed;
}

const sl_op_ops sl_op_print_sink = {
    .open = print_open, .process = print_process, .close = nothing_close,
};

const sl_op_ops sl_op_blackhole_sink = {
    .open = blackhole_open, .process = blackhole_process, .finish = blackhole_finish,
    .close = blackhole_close,
};
