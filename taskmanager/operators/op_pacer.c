/* Source pacing (op_pacer.h). */
#include "taskmanager/operators/op_pacer.h"

#include <stdlib.h>

#include "common/status.h"
#include "common/util.h"

void sl_op_pacer_init(sl_op_pacer *p, const sl_op *op)
{
    const char *rate = sl_stage_param(op->stage, "rate");

    p->rate = rate ? strtod(rate, NULL) / op->ctx.parallelism : 0;
    p->emitted = 0;
    p->t0 = 0;
}

void sl_op_pacer_start(sl_op_pacer *p)
{
    p->emitted = 0;
    p->t0 = sl_now_ms();
}

/* Called after every record: lets the task take a checkpoint between two
 * records, and holds the source to its rate (polling the mailbox while it
 * waits). */
int sl_op_pacer_pace(sl_op_pacer *p, sl_op *op)
{
    p->emitted++;
    int rv = sl_op_poll(op);
    if (rv != SL_OK)
        return rv;
    if ((p->emitted & 1023) == 0 && sl_op_canceled(op))
        return SL_ECANCELED;
    if (p->rate <= 0)
        return SL_OK;
    int64_t due = p->t0 + (int64_t)((double)p->emitted * 1000.0 / p->rate);
    int64_t now = sl_now_ms();
    if (due > now && (rv = sl_op_flush(op)) != SL_OK)
        return rv;
    while (due > now) {
        sl_sleep_ms(due - now > 20 ? 20 : due - now);
        if (sl_op_canceled(op))
            return SL_ECANCELED;
        if ((rv = sl_op_poll(op)) != SL_OK)
            return rv;
        now = sl_now_ms();
    }
    return SL_OK;
}
