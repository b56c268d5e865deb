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
 * is written grouped by key group so a restore can take any range. An
 * operator whose state is one sl_keyed_state may also set `snapshot_async`,
 * which the task calls instead: it only begins the snapshot
 * (sl_keyed_state_snapshot_begin), and the uploader thread serializes it
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

struct sl_task;
struct sl_keyed_snapshot;
typedef struct sl_operator sl_operator;

typedef struct sl_operator_ops {
    int (*open)(sl_operator *op);
    int (*run)(sl_operator *op);                       /* sources */
    int (*process)(sl_operator *op, const sl_row *row); /* operators and sinks */
    int (*finish)(sl_operator *op);                    /* all input ended: flush, commit */
    void (*close)(sl_operator *op, int committed);     /* committed = 0: discard pending output */
    int (*snapshot)(sl_operator *op, uint64_t chk_id, sl_buf *out);
    int (*snapshot_async)(sl_operator *op, uint64_t chk_id, struct sl_keyed_snapshot **out);
    int (*restore)(sl_operator *op, const uint8_t *data, size_t len);
    int (*notify_complete)(sl_operator *op, uint64_t chk_id);
    /* event time reached wm (may emit); NULL = nothing to do. The task
     * then passes wm on to the next operator or the outputs. */
    int (*watermark)(sl_operator *op, int64_t wm);
    int keyed;                                         /* 1: state is keyed (has a key-group range) */
    int redistribute;                                  /* 1: non-keyed state, rescalable (above) */
    int (*restore_end)(sl_operator *op);               /* redistribute: all restores done */
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

/* Sources: holds a source to its `rate` parameter (records/s over all
 * subtasks, none = unlimited) and polls the task's mailbox after every
 * record, so a barrier always falls between two records (op_file_source.c).
 * sl_source_pacer_start at the start of run, sl_source_pace after every
 * record emitted. */
typedef struct sl_source_pacer {
    double rate; /* records/s for this subtask, 0 = unlimited */
    int64_t emitted, t0;
} sl_source_pacer;

void sl_source_pacer_start(sl_source_pacer *p, const sl_operator *op);
int sl_source_pace(sl_operator *op, sl_source_pacer *p);

/* Record i of `source: datagen` with seed and keys distinct keys: fields
 * key, value, ts, a pure function of (seed, i) (op_datagen.c). */
void sl_datagen_record(uint64_t seed, uint64_t i, uint64_t keys, sl_row *row);

/* Implementations (one file each). */
extern const sl_operator_ops sl_op_file_source;
extern const sl_operator_ops sl_op_datagen_source;
extern const sl_operator_ops sl_op_tokenize;
extern const sl_operator_ops sl_op_filter; /* op_filter.c */
extern const sl_operator_ops sl_op_map;    /* op_map.c */
extern const sl_operator_ops sl_op_count; /* count, sum, min, max, avg: op_aggregate.c */
extern const sl_operator_ops sl_op_sum;
extern const sl_operator_ops sl_op_min;
extern const sl_operator_ops sl_op_max;
extern const sl_operator_ops sl_op_avg;
extern const sl_operator_ops sl_op_window; /* op_window.c */
extern const sl_operator_ops sl_op_argmax; /* op_argmax.c */
extern const sl_operator_ops sl_op_nexmark_source; /* op_nexmark.c */
extern const sl_operator_ops sl_op_udf;    /* op_udf.c */
extern const sl_operator_ops sl_op_file_sink;
extern const sl_operator_ops sl_op_print_sink;
extern const sl_operator_ops sl_op_blackhole_sink;

#endif
