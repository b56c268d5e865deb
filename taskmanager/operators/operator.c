/* The operator API over the context (operator.h, op_context.h). Below the
 * operators: it calls none of them, only the task interface the task
 * filled in. */
#include "taskmanager/operators/operator.h"

#include <stdarg.h>
#include <stdio.h>

#include "common/status.h"

int sl_op_fail(sl_op *op, const char *fmt, ...)
{
    sl_op_ctx *c = &op->ctx;

    if (c->failure != NULL && c->failure_cap > 0 && c->failure[0] == '\0') {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->failure, c->failure_cap, fmt, ap);
        va_end(ap);
    }
    return SL_EIO;
}

int sl_op_canceled(const sl_op *op)
{
    const sl_op_ctx *c = &op->ctx;

    return (c->cancel != NULL && atomic_load(c->cancel)) ||
           (c->run_cancel != NULL && atomic_load(c->run_cancel));
}

void sl_op_count_late(sl_op *op)
{
    if (op->ctx.late_records != NULL)
        (*op->ctx.late_records)++;
}

int sl_op_flush(sl_op *op)
{
    return op->ctx.task.flush(op->ctx.task.arg);
}

int sl_op_poll(sl_op *op)
{
    return op->ctx.task.poll(op->ctx.task.arg);
}

int sl_op_source_watermark(sl_op *op, int64_t wm)
{
    return op->ctx.task.watermark(op->ctx.task.arg, wm);
}
