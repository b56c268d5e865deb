/* Source pacing: holds a source to its `rate` parameter (records/s over
 * all subtasks, none = unlimited) and polls the task's mailbox after every
 * record, so a barrier always falls between two records.
 *
 * Place: used by the sources (op_file_source.c, op_datagen.c,
 * op_nexmark.c); calls only the operator API (operator.h). The pacer is
 * the source's (embedded in its state), task thread only. */
#ifndef SL_OP_PACER_H
#define SL_OP_PACER_H

#include <stdint.h>

#include "taskmanager/operators/operator.h"

typedef struct sl_op_pacer {
    double rate; /* records/s for this subtask, 0 = unlimited */
    int64_t emitted, t0;
} sl_op_pacer;

/* At open: parses op's `rate` parameter. */
void sl_op_pacer_init(sl_op_pacer *p, const sl_op *op);
/* At the start of run. */
void sl_op_pacer_start(sl_op_pacer *p);
/* After every record emitted: polls the mailbox (a checkpoint may be
 * taken in there) and waits until the rate allows the next record. */
int sl_op_pacer_pace(sl_op_pacer *p, sl_op *op);

#endif
