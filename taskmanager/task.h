/* Tasks: one thread per subtask running its operator chain: the input
 * gate loop, the chain, the output channels (partitioning, buffers,
 * watermarks, end of input). Checkpoints are the task's checkpointer's
 * (checkpoint/checkpointer.h): the loop hands it barriers, channel ends and
 * mailbox turns, and carries out what it returns (take a snapshot, write
 * the barrier to the outputs, fail).
 *
 * Place: the job run (job_run.c) creates tasks and starts sl_task_main;
 * the taskmanager reads their state and metrics and posts to their
 * checkpointers. A task calls its operators, its checkpointer and the
 * network below it. Operators call back into the sl_task_* functions
 * below (emit, fail, flush, poll): the operator runtime API, a deliberate
 * exception until operators get a context of their own.
 *
 * Lifetime: built by its job run on deploy, freed with it. A task thread
 * ends in FINISHED, CANCELED or FAILED. Only the task's own thread touches
 * its operators and state; other threads only set `cancel`, post to the
 * checkpointer's mailbox and deliver frames into channels. */
#ifndef SL_TASK_H
#define SL_TASK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "common/job_graph.h"
#include "common/jobfile.h"
#include "proto/sluice.pb-c.h"
#include "taskmanager/checkpoint/checkpointer.h"
#include "taskmanager/job_run.h" /* operators still read t->run (see above) */
#include "taskmanager/network/barrier.h"
#include "taskmanager/network/frame.h"
#include "taskmanager/network/input_gate.h"
#include "taskmanager/network/output.h"
#include "taskmanager/network/peer.h"
#include "taskmanager/operators/operator.h"

typedef struct sl_out_edge {
    const sl_edge *edge;
    const sl_stage *cons;       /* consuming stage (key fields for HASH) */
    sl_out_channel **ch;        /* [cons_par], NULL where no channel */
    int nch, rr;
} sl_out_edge;

typedef struct sl_task {
    sl_job_run *run;
    int index, chain_idx, subtask, parallelism;
    const sl_chain *chain;
    pthread_t thread;
    int thread_started;
    atomic_int state;           /* Sluice__TaskState */
    int reported;               /* last state reported to the jobmanager */
    int input_ended_reported;   /* last input_ended reported */
    atomic_int cancel;
    char failure[1024];
    int nops;
    sl_op *ops[SL_MAX_STAGES];
    sl_in_gate gate;
    int nout;
    sl_out_edge out[SL_MAX_STAGES];
    pthread_mutex_t out_mu;
    pthread_cond_t out_cv;
    int64_t last_flush_ms;
    int64_t buffer_timeout_ms;
    uint32_t emits;
    sl_ckpt ckpt;               /* checkpoints of this task */
    /* event time, task thread only */
    int64_t wm_in;              /* combined input watermark */
    int64_t wm_out;             /* last watermark sent downstream */
    /* metrics of this attempt: plain counters of the task thread, copied
     * into the pub_ ones (relaxed stores) per frame, per flush and at the
     * end (sl_task_publish_metrics); other threads read pub_ only */
    uint64_t records_in;        /* rows read from input channels */
    uint64_t records_out;       /* rows written to output channels */
    uint64_t late_records;      /* dropped by window operators */
    _Atomic uint64_t pub_in, pub_out, pub_late;
} sl_task;

/* Task runtime API for operators. */
int sl_task_emit(sl_task *t, const sl_row *row);
/* Records the failure cause (first one wins) and returns SL_EIO. */
int sl_task_fail(sl_task *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sl_task_canceled(const sl_task *t);
/* Flushes partly filled output buffers (a source calls it before it waits). */
int sl_task_flush(sl_task *t);
int sl_task_max_parallelism(const sl_task *t);
/* A source's watermark: runs the watermark callbacks of the operators after
 * the head, then appends it to every output channel (no flush). Ignored
 * unless it advances. */
int sl_task_source_watermark(sl_task *t, int64_t wm);
/* Task thread (sources between records, the input loop between frames):
 * handles what the checkpointer's mailbox holds; cheap when it is empty.
 * Stop with savepoint: after a source emitted a SAVEPOINT_STOP barrier it
 * waits in here (flushing, declining newer triggers) until that savepoint
 * completes, then returns SL_ECLOSED (the source's run returns it; the
 * task ends without the final watermark); if it is aborted it returns
 * SL_OK and the source goes on. SL_ECANCELED when the task is cancelled
 * while waiting. */
int sl_task_poll(sl_task *t);

/* Task thread: makes the counters visible to sl_task_read_metrics. */
void sl_task_publish_metrics(sl_task *t);
/* Any thread: the counters last published. */
void sl_task_read_metrics(const sl_task *t, uint64_t *in, uint64_t *out, uint64_t *late);

/* Thread entry, started by the job run at deploy. */
void *sl_task_main(void *arg);

#endif
