/* The checkpointer of one task: the task side of checkpoints, beside the
 * task loop (task.c).
 *
 * - Mailbox: RPC threads post triggers (sources) and completion or abort
 *   notifications; the task takes them between records.
 * - Sources start a checkpoint when a trigger is taken; other tasks align
 *   barriers on their inputs (barrier_aligner.h).
 * - The synchronous snapshot of the chain's operators, its submission to
 *   the uploader (snapshot_uploader.h), declines.
 * - Completion and abort notifications: operators' notify_complete (the
 *   file sink commits), the final checkpoint of a bounded source, stop
 *   with savepoint.
 * - Restore at start (restore.h).
 *
 * Savepoints are checkpoints whose barrier carries the target folder: every
 * task writes its state files there (no state.checkpoints.dir needed).
 * Stop with savepoint: a source emits the SAVEPOINT_STOP barrier, then no
 * record; it waits (mailbox, flushes) until the savepoint completes and
 * then ends without the final watermark, input_ended or a final checkpoint
 * (windows stay unfired in the savepoint); if the savepoint is aborted it
 * goes on. Tasks downstream freeze their input watermark once they took
 * the stop savepoint: the sources' channels then end one by one, and the
 * minimum over the others must not fire windows the savepoint holds open.
 *
 * Place: the task (task.c) calls it; it calls only what is below: the
 * operators' snapshot, notify and restore functions, the aligner, the
 * uploader, the restore path, and the input gate's lock to block and
 * release channels. It never calls the task: it says what to do next by
 * return values and out-structs. A checkpoint to take comes back as
 * sl_ckpt_todo; the task then calls sl_ckpt_snapshot (synchronous part),
 * writes the barrier to every output channel itself, and hands the
 * snapshot back with sl_ckpt_submit.
 *
 * Threads: sl_ckpt_post_* on any thread (under mb_mu); everything else on
 * the task thread only. Lifetime: embedded in the task (sl_task.ckpt);
 * sl_ckpt_init when the task is made, sl_ckpt_setup once its operators and
 * input gate exist, sl_ckpt_destroy when it is freed. A zeroed sl_ckpt is
 * idle (sl_ckpt_idle), so a task built by hand in a unit test can poll. */
#ifndef SL_CHECKPOINTER_H
#define SL_CHECKPOINTER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/sluice.pb-c.h"
#include "taskmanager/checkpoint/barrier_aligner.h"
#include "taskmanager/checkpoint/snapshot_uploader.h"
#include "taskmanager/network/barrier.h"
#include "taskmanager/network/frame.h"
#include "taskmanager/network/input_gate.h"
#include "taskmanager/network/output.h"
#include "taskmanager/network/peer.h"
#include "taskmanager/operators/operator.h"

/* The task and run a checkpointer works for (pointers borrowed from the
 * task and its job run, which outlive it). */
typedef struct sl_ckpt_env {
    sl_op *const *ops;    /* the chain, head first */
    int nops;
    int index, subtask, parallelism, max_parallelism;
    const char *name;           /* the chain's name, for the log */
    const char *failure;        /* the task's failure text (operators set it when they
                                   fail): quoted in declines and restore errors */
    const atomic_int *cancel;   /* the task's cancel flag */
    sl_in_gate *gate;        /* the task's inputs (blocked channels, wake-ups) */
    const char *job_id;
    uint32_t attempt;
    int exactly_once;           /* execution.checkpointing.mode */
    const char *chk_root;       /* <state.checkpoints.dir>/<job id>, "" if unset */
    const Sluice__CheckpointMetadata *restore_md; /* NULL = fresh start */
    const char *restore_dir;
    sl_uploader *uploader;
} sl_ckpt_env;

typedef struct sl_ckpt {
    sl_ckpt_env env;
    /* mailbox: posted by RPC threads, taken by the task */
    pthread_mutex_t mb_mu;
    atomic_int mb_flag;         /* something was posted (the gate's interrupt) */
    sl_barrier mb_trigger;      /* latest trigger (sources), id 0 = none */
    uint64_t mb_complete;       /* highest checkpoint notified complete */
    uint64_t mb_abort;          /* highest checkpoint notified aborted */
    /* task thread only */
    sl_barrier trig;            /* the trigger being taken */
    uint64_t mail_done, mail_abort; /* what the mailbox held when last taken */
    uint64_t triggered;         /* highest trigger handled (sources) */
    uint64_t completed;         /* highest completion handled */
    uint64_t final_barrier;     /* source: id of its final checkpoint, 0 = none yet */
    uint64_t stop_barrier;      /* source: id of its stop-with-savepoint barrier, 0 = none */
    int stopped;                /* source: that savepoint completed, the source ends */
    uint64_t stop_seen;         /* other tasks: id of a stop-with-savepoint snapshotted
                                   here, 0 = none; the watermark stays frozen */
    atomic_int input_ended;     /* source read all its input (read by the taskmanager) */
    sl_aligner aligner;
} sl_ckpt;

/* A checkpoint the task must take now, or none. */
typedef struct sl_ckpt_todo {
    const sl_barrier *barrier;  /* NULL = nothing; else valid until the next call */
    int64_t align_ms;
} sl_ckpt_todo;

void sl_ckpt_init(sl_ckpt *ck);
/* env copied (its pointers borrowed). SL_ENOMEM. */
int sl_ckpt_setup(sl_ckpt *ck, const sl_ckpt_env *env);
void sl_ckpt_destroy(sl_ckpt *ck);

/* Any thread: post a trigger (sources; b copied), a completion or an abort,
 * and wake the task. */
void sl_ckpt_post_trigger(sl_ckpt *ck, const sl_barrier *b);
void sl_ckpt_post_notify(sl_ckpt *ck, uint64_t id, int complete);

/* Task thread: nothing to do (no mail, not stopping). One atomic load. */
static inline int sl_ckpt_idle(const sl_ckpt *ck)
{
    return !atomic_load(&ck->mb_flag) && ck->stop_barrier == 0;
}
static inline int sl_ckpt_has_mail(const sl_ckpt *ck)
{
    return atomic_load(&ck->mb_flag);
}

/* Task thread, handling the mailbox in two steps around the checkpoint a
 * source may have to take: sl_ckpt_mail_take takes what was posted,
 * applies aborts and says whether a trigger must be taken now (declined
 * instead while stopping); sl_ckpt_mail_finish, given the status of taking
 * it, runs the completions (unless rv failed) and updates stop with
 * savepoint. Returns rv or the first failure of a notification. */
void sl_ckpt_mail_take(sl_ckpt *ck, sl_ckpt_todo *todo);
int sl_ckpt_mail_finish(sl_ckpt *ck, int rv);

/* Task thread: a barrier arrived on input channel ch / ch delivered end of
 * input. Blocks or releases channels; todo says whether to take the
 * checkpoint now. */
void sl_ckpt_on_barrier(sl_ckpt *ck, const sl_in_channel *ch, const sl_barrier *b,
                        sl_ckpt_todo *todo);
void sl_ckpt_on_channel_end(sl_ckpt *ck, const sl_in_channel *ch, sl_ckpt_todo *todo);

/* Task thread: the synchronous part of checkpoint (or savepoint) b: each
 * operator's snapshot into *out (owned by the caller until sl_ckpt_submit).
 * A checkpoint that cannot be taken is a declined snapshot, not an error.
 * SL_ENOMEM. */
int sl_ckpt_snapshot(sl_ckpt *ck, const sl_barrier *b, int64_t align_ms,
                     sl_uploader_snapshot **out);
/* Task thread: after the task wrote barrier b to its outputs (forwarded =
 * 1 if that worked): records a final or stop barrier and submits s
 * (ownership passes). State files go to <chk_root>/chk-<id>, or to b->dir
 * for a savepoint. */
void sl_ckpt_submit(sl_ckpt *ck, const sl_barrier *b, sl_uploader_snapshot *s, int forwarded);

/* Task thread: a source read all its input (the taskmanager reports it). */
void sl_ckpt_set_input_ended(sl_ckpt *ck);
/* Any thread. */
int sl_ckpt_input_ended(const sl_ckpt *ck);
/* Task thread: the source's final checkpoint completed. */
int sl_ckpt_final_done(const sl_ckpt *ck);
/* Task thread: the source emitted a stop-with-savepoint barrier and waits
 * for it; it completed (the source ends); a stop savepoint was taken here
 * (the input watermark is frozen). */
int sl_ckpt_stopping(const sl_ckpt *ck);
int sl_ckpt_stopped(const sl_ckpt *ck);
int sl_ckpt_watermark_frozen(const sl_ckpt *ck);

/* Task thread, after the chain opened: restores its state from the run's
 * checkpoint (nothing without one). On error writes the reason to err. */
int sl_ckpt_restore(sl_ckpt *ck, char *err, size_t errlen);

#endif
