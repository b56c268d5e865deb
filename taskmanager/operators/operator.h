/* Operators: the steps of an operator chain, called directly by the task
 * thread (no serialization inside a chain), and the operator API they use
 * (prefix sl_op_, implemented in operator.c).
 *
 * Place: the task (taskmanager/task.c, checkpoint/) calls the ops of the
 * vtable below; the operators (op_*.c) call the sl_op_* functions, which
 * use only the operator's context (op_context.h): operator.c is below the
 * operators and knows none of them. The table "stage type -> vtable" is
 * op_registry.c, above the operators (sl_op_create).
 *
 * A source has `run` (emits until its input ends or the task is
 * cancelled); every other operator has `process` for one input row. All
 * output goes through sl_op_emit, to the next operator of the chain or, at
 * the chain's tail, to the task's output channels (the context's task
 * interface). Rows passed to process/emit are borrowed for the duration of
 * the call only.
 *
 * Parameters: `open` parses the stage's parameters once into the
 * operator's own typed struct (op->impl); nothing looks a parameter up by
 * name per record. `open` also owns op->impl: `close` runs only after a
 * successful open.
 *
 * Checkpoints: `snapshot` is the synchronous part, run in the task thread
 * between records when barrier n has arrived on every input: it appends the
 * operator's state to `out` (written to the shared store asynchronously
 * afterwards). An operator without state leaves `snapshot` NULL. Keyed state
 * is written grouped by key group so a restore can take any range. An
 * operator whose state is one sl_ks_state may also set `snapshot_async`,
 * which the task calls instead: it only begins the snapshot
 * (sl_ks_snapshot_begin), and the uploader thread serializes it
 * while the task goes on (copy-on-write for hashmap).
 * `restore` runs after `open` with the bytes of one state file of this
 * stage (several for keyed state after rescaling). `notify_complete` tells
 * that checkpoint n completed (two-phase-commit sinks commit then).
 *
 * Non-keyed state and rescaling: an operator with `redistribute` set gets
 * the state files of EVERY old subtask of its stage (one `restore` call
 * each, in the checkpoint's order), then `restore_end`, where it keeps its
 * share. Its state must therefore say which old subtask and parallelism it
 * was taken by, and the share must be a deterministic function of (all
 * states, subtask, parallelism) so the new subtasks split it exactly; with
 * an unchanged parallelism each subtask keeps exactly its own old state.
 * A non-keyed operator without `redistribute` only restores with the
 * parallelism its state was taken with (the task fails otherwise). */
#ifndef SL_OPERATOR_H
#define SL_OPERATOR_H

#include "taskmanager/buf.h"
#include "common/jobfile.h"
#include "common/row.h"
#include "taskmanager/operators/op_context.h"

struct sl_ks_snapshot;
typedef struct sl_op sl_op;

typedef struct sl_op_ops {
    int (*open)(sl_op *op);
    int (*run)(sl_op *op);                       /* sources */
    int (*process)(sl_op *op, const sl_row *row); /* operators and sinks */
    int (*finish)(sl_op *op);                    /* all input ended: flush, commit */
    void (*close)(sl_op *op, int committed);     /* committed = 0: discard pending output */
    int (*snapshot)(sl_op *op, uint64_t chk_id, sl_buf *out);
    int (*snapshot_async)(sl_op *op, uint64_t chk_id, struct sl_ks_snapshot **out);
    int (*restore)(sl_op *op, const uint8_t *data, size_t len);
    int (*notify_complete)(sl_op *op, uint64_t chk_id);
    /* event time reached wm (may emit); NULL = nothing to do. The task
     * then passes wm on to the next operator or the outputs. */
    int (*watermark)(sl_op *op, int64_t wm);
    int keyed;                                   /* 1: state is keyed (has a key-group range) */
    int redistribute;                            /* 1: non-keyed state, rescalable (above) */
    int (*restore_end)(sl_op *op);               /* redistribute: all restores done */
} sl_op_ops;

/* Most inputs a stage has (sl_stage.inputs). */
#define SL_OP_MAX_INPUTS 2

/* One operator of a chain. Created by sl_op_create (op_registry.h), owned
 * by the task, which destroys it after its thread ended. */
struct sl_op {
    const sl_op_ops *ops;
    const sl_stage *stage;                /* the job spec's, read-only */
    const sl_schema *in[SL_OP_MAX_INPUTS]; /* output schema of each input stage */
    int nin;
    sl_op_ctx ctx;                        /* the task's context, copied at create */
    sl_op *next;                          /* next operator of the chain, NULL at the tail */
    void *impl;                           /* the operator's own state, from open */
};

/* row to the next operator of the chain, or at the tail to the task's
 * output (the context's task interface). Inline: it is the per-record
 * path of every chain (a direct call, as before the context). */
static inline int sl_op_emit(sl_op *op, const sl_row *row)
{
    if (op->next != NULL)
        return op->next->ops->process(op->next, row);
    return op->ctx.task.emit(op->ctx.task.arg, row);
}

/* Records the failure cause in the context (first one wins) and returns
 * SL_EIO. */
int sl_op_fail(sl_op *op, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 1 if the task or its job run is cancelled. */
int sl_op_canceled(const sl_op *op);
/* A record was dropped as late (window, argmax): counted for the task. */
void sl_op_count_late(sl_op *op);

/* Sources (the task interface of op_context.h). */
int sl_op_flush(sl_op *op);
int sl_op_poll(sl_op *op);
int sl_op_source_watermark(sl_op *op, int64_t wm);

#endif
