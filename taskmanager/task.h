/* Tasks: one thread per subtask running its operator chain, and the job
 * run that groups a job attempt's tasks, channels and peers on one
 * taskmanager.
 *
 * Lifetime: the taskmanager creates a job run on deploy (channels
 * registered, threads waiting), starts it on start, sets `cancel` on
 * cancel. A task thread ends in FINISHED, CANCELED or FAILED; the
 * taskmanager reports that to the jobmanager and frees the run once every
 * task has ended and been reported. Only the task's own thread touches its
 * operators and state; other threads only set `cancel` and deliver frames
 * into channels. */
#ifndef SL_TASK_H
#define SL_TASK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "common/config.h"
#include "common/job_graph.h"
#include "common/jobfile.h"
#include "proto/sluice.pb-c.h"
#include "taskmanager/network/channel.h"
#include "taskmanager/operators/operator.h"

typedef struct sl_job_run sl_job_run;
struct sl_uploader;

/* Barrier alignment of one task (barrier_aligner.c). */
typedef struct sl_barrier_aligner {
    uint64_t current;        /* checkpoint being aligned, 0 = none */
    uint64_t last_done;      /* highest checkpoint snapshotted or aborted here */
    sl_barrier barrier;      /* options (trigger time, kind, folder) of `current` */
    int64_t first_ms;        /* when the first barrier of `current` arrived */
} sl_barrier_aligner;

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
    atomic_int cancel;
    char failure[1024];
    int nops;
    sl_operator *ops[SL_MAX_STAGES];
    sl_input_gate gate;
    int nout;
    sl_out_edge out[SL_MAX_STAGES];
    pthread_mutex_t out_mu;
    pthread_cond_t out_cv;
    int64_t last_flush_ms;
    int64_t buffer_timeout_ms;
    uint32_t emits;
    /* mailbox: control events posted by RPC threads, drained by the task
     * between records (sl_task_poll) */
    pthread_mutex_t mb_mu;
    atomic_int mb_flag;
    sl_barrier mb_trigger;      /* latest trigger (sources), id 0 = none */
    uint64_t mb_complete;       /* highest checkpoint notified complete */
    uint64_t mb_abort;          /* highest checkpoint notified aborted */
    /* checkpointing, task thread only */
    uint64_t triggered;         /* highest trigger handled (sources) */
    uint64_t completed;         /* highest completion handled */
    uint64_t final_barrier;     /* source: id of its final checkpoint, 0 = none yet */
    uint64_t stop_barrier;      /* source: id of its stop-with-savepoint barrier, 0 = none */
    int stopped;                /* source: that savepoint completed, the source ends */
    uint64_t stop_seen;         /* other tasks: id of a stop-with-savepoint snapshotted
                                   here, 0 = none; the watermark stays frozen (channels
                                   that end do not fire windows past the savepoint) */
    atomic_int input_ended;     /* source read all its input */
    int input_ended_reported;
    sl_barrier_aligner aligner;
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

struct sl_job_run {
    char job_id[33];
    uint32_t attempt;
    sl_job_spec *spec;
    sl_job_graph graph;
    sl_config *cfg;
    int npeers;
    sl_peer *peers[64];
    int ntasks;
    sl_task **tasks;
    /* channels by edge, indexed src * cons_par + dst (local ends only) */
    sl_in_channel **in[SL_MAX_STAGES * 2];
    sl_out_channel **out[SL_MAX_STAGES * 2];
    pthread_mutex_t start_mu;
    pthread_cond_t start_cv;
    int started;
    int checkpointing;          /* periodic checkpoints on: sources end with a final one */
    int exactly_once;           /* execution.checkpointing.mode */
    char chk_root[3072];        /* <state.checkpoints.dir>/<job id>, "" if unset */
    Sluice__CheckpointMetadata *restore_md; /* checkpoint to restore, NULL = fresh */
    char restore_dir[3072];
    struct sl_uploader *uploader;
    const struct sl_kcache_budget *kcache_budget; /* leveldb caches' budget (the taskmanager's) */
    char tm_id[17];
    atomic_int cancel;
    int reap;                   /* ended and reported: free it */
    sl_job_run *next;
};

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

/* Task thread: makes the counters visible to sl_task_read_metrics. */
void sl_task_publish_metrics(sl_task *t);
/* Any thread: the counters last published. */
void sl_task_read_metrics(const sl_task *t, uint64_t *in, uint64_t *out, uint64_t *late);

/* Thread entry, started by the taskmanager at deploy. */
void *sl_task_main(void *arg);

/* ---- checkpointing (task_checkpoint.c) */

/* RPC threads: post a trigger (sources; b copied), a completion or an abort. */
void sl_task_post_trigger(sl_task *t, const sl_barrier *b);
void sl_task_post_notify(sl_task *t, uint64_t id, int complete);
/* Task thread: handles what the mailbox holds. Cheap when it is empty.
 * Stop with savepoint: after a source emitted a SAVEPOINT_STOP barrier it
 * waits in here (flushing, declining newer triggers) until that savepoint
 * completes, then sets t->stopped and returns SL_ECLOSED (the source's run
 * returns it; the task ends without the final watermark, see task.c); if
 * it is aborted it returns SL_OK and the source goes on. SL_ECANCELED when
 * the task is cancelled while waiting. */
int sl_task_poll(sl_task *t);
/* Task thread: a source read all its input. With checkpointing on it waits
 * for a final checkpoint to complete before end of input goes downstream. */
int sl_task_source_end(sl_task *t);
/* Task thread: a barrier arrived on input channel ch. */
int sl_task_on_barrier(sl_task *t, sl_in_channel *ch, const sl_barrier *b);
/* Task thread: a channel delivered end of input (alignment may complete). */
int sl_task_on_channel_end(sl_task *t);
/* Task thread: restores the chain's state from the run's checkpoint. */
int sl_task_restore(sl_task *t);
/* Takes checkpoint (or savepoint) b->id of the whole chain and forwards
 * the barrier. State files go to <chk_root>/chk-<id>, or to b->dir for a
 * savepoint. */
int sl_task_checkpoint(sl_task *t, const sl_barrier *b, int64_t align_ms);
/* Appends a barrier to every output channel and flushes them. */
int sl_task_emit_barrier(sl_task *t, const sl_barrier *b);

#endif
