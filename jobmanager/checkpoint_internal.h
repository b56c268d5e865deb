/* Private to the checkpoint modules of the jobmanager: what they share with
 * each other. Other code uses checkpoint_coordinator.h.
 *
 *   checkpoint_coordinator.c  the records and their state machine: setup,
 *                             manual triggers, acks, completion (_metadata),
 *                             aborts, and sl_chk_step, the loop's round
 *   checkpoint_trigger.c      when a periodic or final checkpoint is due, and
 *                             the calls to taskmanagers (TriggerCheckpoint,
 *                             NotifyCheckpoint)
 *   checkpoint_retention.c    the retained list and every folder removal:
 *                             retention, failed checkpoints, sweeps, job end
 *   checkpoint_restore.c      choosing and verifying the restore point
 *   checkpoint_stats.c        the statistics replies
 *
 * Who owns what: the coordinator creates the records of cc->history, moves
 * them from PENDING to COMPLETED or FAILED and frees them (and their state
 * copies); the other modules only read records and set their flags.
 * checkpoint_retention.c alone changes cc->retained and removes folders.
 *
 * Locking as in the public header: everything here is called with jm->mu
 * held. The functions marked "loop" run on the loop thread only and release
 * jm->mu around file system work and RPCs; afterwards the caller must
 * re-check anything a handler may have changed meanwhile (a record's status,
 * the job's state). */
#ifndef SL_CHECKPOINT_INTERNAL_H
#define SL_CHECKPOINT_INTERNAL_H

#include <stdint.h>

#include "jobmanager/checkpoint_coordinator.h"

struct sl_jm;
struct sl_job;

/* ---- records (checkpoint_coordinator.c) */

/* A new PENDING checkpoint with the next id in cc->history, or NULL (out of
 * memory, path too long). */
sl_checkpoint *sl_chk_create(struct sl_job *job, int final, int manual);
/* The same with the folder given (savepoints); final/manual unset. */
sl_checkpoint *sl_chk_create_in(struct sl_job *job, const char *dir);
/* PENDING -> FAILED (no-op otherwise). counted: towards the tolerable
 * failures; notify: the loop tells the taskmanagers. Frees nothing. */
void sl_chk_fail(struct sl_job *job, sl_checkpoint *c, const char *reason, int counted,
                 int notify);
/* Frees the state copies of every task of c (loop). */
void sl_chk_free_acks(sl_checkpoint *c);
/* The record of checkpoint id, NULL if none. */
sl_checkpoint *sl_chk_find(const sl_chk_coord *cc, uint64_t id);
/* The record created for request_id (manual checkpoints and savepoints),
 * NULL if none or request_id is "". */
sl_checkpoint *sl_chk_find_request(const sl_chk_coord *cc, const char *request_id);
/* Pending checkpoints; manual ones only if with_manual. */
int64_t sl_chk_pending_count(const sl_chk_coord *cc, int with_manual);

/* ---- triggers and taskmanager calls (checkpoint_trigger.c; loop) */

/* Creates the periodic or final checkpoint when one is due. */
void sl_chk_maybe_trigger(struct sl_jm *jm, struct sl_job *job);
/* 1 while a savepoint is pending, or a stop-with-savepoint of the current
 * attempt completed: no other checkpoint starts then. A source keeps only
 * the newest trigger in its mailbox, so a checkpoint right behind a
 * savepoint could hide the savepoint's trigger; after a stop the sources
 * end (and decline anything newer). */
int sl_chk_savepoint_blocks(const struct sl_job *job);
/* Sends every PENDING checkpoint not sent yet, oldest first: creates its
 * folder and triggers the sources' taskmanagers; failures abort it. */
void sl_chk_send_unsent(struct sl_jm *jm, struct sl_job *job);
/* NotifyCheckpoint (complete, else aborted) to the job's deployed
 * taskmanagers while the job runs attempt; returns how many could not be
 * told. */
int sl_chk_notify_tms(struct sl_jm *jm, struct sl_job *job, uint64_t id, uint32_t attempt,
                      int complete);

/* ---- retention and removals (checkpoint_retention.c) */

/* 1 if checkpoint id is in cc->retained. */
int sl_chk_retained_has(const sl_chk_coord *cc, uint64_t id);
/* Appends a newly completed checkpoint to cc->retained. SL_ENOMEM. */
int sl_chk_retained_add(sl_chk_coord *cc, uint64_t id);
/* Loop: removes the completed checkpoints beyond num-retained, oldest first,
 * then asks for a sweep. */
void sl_chk_apply_retention(struct sl_jm *jm, struct sl_job *job);
/* Loop: removes the folders of FAILED checkpoints (and their state copies)
 * and tells the taskmanagers about the aborts. */
void sl_chk_cleanup_failed(struct sl_jm *jm, struct sl_job *job);
/* Loop: removes every chk-* folder of the job neither retained nor pending. */
void sl_chk_sweep(struct sl_jm *jm, struct sl_job *job);
/* Loop, after the job ended: FAILED, or CANCELED with
 * RETAIN_ON_CANCELLATION: sl_chk_sweep (the retained ones stay). FINISHED,
 * or CANCELED with DELETE_ON_CANCELLATION: every chk-* folder and shared/,
 * then the job folder if empty (nothing else in it is touched); nothing is
 * retained any more. */
void sl_chk_end_cleanup(struct sl_jm *jm, struct sl_job *job);

#endif
