/* `operator: filter`: passes on, unchanged, the records for which the
 * `where:` expression (common/expr.h) is true. The job file's check
 * (stage_catalog_expr.c) already compiled it against the same schema, so
 * compiling it here cannot fail on the text. */
#include <stdlib.h>

#include "common/expr.h"
#include "common/log.h"
#include "common/status.h"
#include "taskmanager/operators/operator.h"

typedef struct filter_op {
    sl_expr *where;
} filter_op;

static void filter_free(sl_op *op)
{
    filter_op *f = op->impl;

    if (f != NULL)
        sl_expr_free(f->where);
    free(f);
    op->impl = NULL;
}

static int filter_open(sl_op *op)
{
    const sl_schema *in = op->in[0];
    const char *where = sl_stage_param(op->stage, "where");
    filter_op *f = calloc(1, sizeof(*f));
    sl_expr_error err;
    int rv;

    if (f == NULL)
        return SL_ENOMEM;
    op->impl = f;
    rv = sl_expr_compile(where, in, &f->where, &err);
    if (rv == SL_OK && sl_expr_type(f->where) != SL_EXPR_BOOL)
        rv = SL_EINVAL;
    if (rv != SL_OK) {
        filter_free(op); /* close is only called after a successful open */
        if (rv == SL_ENOMEM)
            return rv;
        return sl_op_fail(op, "filter '%s': where: %s", op->stage->name,
                          err.msg[0] ? err.msg : "not a condition");
    }
    return SL_OK;
}

static int filter_process(sl_op *op, const sl_row *row)
{
    filter_op *f = op->impl;
    int pass;

    if (sl_expr_eval_bool(f->where, row, &pass) != SL_OK)
        return sl_op_fail(op, "filter '%s': a record does not match the input schema",
                          op->stage->name);
    return pass ? sl_op_emit(op, row) : SL_OK;
}

static void filter_close(sl_op *op, int committed)
{
    filter_op *f = op->impl;
    sl_expr_stats s;

    (void)committed;
    if (f == NULL)
        return;
    sl_expr_get_stats(f->where, &s);
    if (s.zero_divisions > 0 || s.truncated > 0)
        sl_warn("filter '%s' subtask %d: %llu integer divisions by zero (taken as 0), %llu "
                "strings cut to fit",
                op->stage->name, op->ctx.subtask, (unsigned long long)s.zero_divisions,
                (unsigned long long)s.truncated);
    filter_free(op);
}

const sl_op_ops sl_op_filter = {
    .open = filter_open, .process = filter_process, .close = filter_close,
};
