/* Operators: the steps of an operator chain, called directly by the task
 * thread (no serialization inside a chain).
 *
 * A source has `run` (emits until its input ends or the task is
 * cancelled); every other operator has `process` for one input row. All
 * output goes through sl_operator_emit, to the next operator of the chain
 * or, at the chain's tail, to the task's output channels. Rows passed to
 * process/emit are borrowed for the duration of the call only.
 *
 * Checkpoints: `snapshot` is the synchronous part, run in the task thread
 * between records when barrier n has arrived on every input: it appends the
 * operator's state to `out` (written to the shared store asynchronously
 * afterwards). An operator without state leaves `snapshot` NULL. Keyed state
 * is written grouped by key group so a restore can take any range.
 * `restore` runs after `open` with the bytes of one state file of this
 * stage (several for keyed state after rescaling). `notify_complete` tells
 * that checkpoint n completed (two-phase-commit sinks commit then). */
#ifndef SL_OPERATOR_H
#define SL_OPERATOR_H

#include "common/buf.h"
#include "common/jobfile.h"
#include "common/row.h"

struct sl_task;
typedef struct sl_operator sl_operator;

typedef struct sl_operator_ops {
    int (*open)(sl_operator *op);
    int (*run)(sl_operator *op);                       /* sources */
    int (*process)(sl_operator *op, const sl_row *row); /* operators and sinks */
    int (*finish)(sl_operator *op);                    /* all input ended: flush, commit */
    void (*close)(sl_operator *op, int committed);     /* committed = 0: discard pending output */
    int (*snapshot)(sl_operator *op, uint64_t chk_id, sl_buf *out);
    int (*restore)(sl_operator *op, const uint8_t *data, size_t len);
    int (*notify_complete)(sl_operator *op, uint64_t chk_id);
    int keyed;                                         /* 1: state is keyed (has a key-group range) */
} sl_operator_ops;

struct sl_operator {
    const sl_operator_ops *ops;
    const sl_stage *stage;
    struct sl_task *task;
    sl_operator *next;
    void *impl;
};

/* Creates the operator of stage for task (not yet opened). */
int sl_operator_create(const sl_stage *stage, struct sl_task *task, sl_operator **out);
void sl_operator_destroy(sl_operator *op);

int sl_operator_emit(sl_operator *op, const sl_row *row);

/* Implementations (one file each). */
extern const sl_operator_ops sl_op_file_source;
extern const sl_operator_ops sl_op_tokenize;
extern const sl_operator_ops sl_op_count;
extern const sl_operator_ops sl_op_file_sink;
extern const sl_operator_ops sl_op_print_sink;
extern const sl_operator_ops sl_op_blackhole_sink;

#endif
