/* Which checkpoint folders stay on disk. This module owns cc->retained (the
 * ids of the completed checkpoints kept, ascending) and every removal of a
 * checkpoint folder: checkpoints beyond state.checkpoints.num-retained,
 * failed ones, sweeps of chk-* folders neither retained nor pending (after
 * a late ack, after the job ended) and, when the job FINISHED or was
 * CANCELED with DELETE_ON_CANCELLATION, all of its checkpoints and then its
 * folder if empty. Savepoints are never touched.
 *
 * Place: called by checkpoint_coordinator.c (and checkpoint_stats.c,
 * rpc_handlers.c for sl_retention_latest); calls checkpoint_record.c.
 * Removals run on the loop thread with jm->mu released through the view's
 * hooks ("loop" below); the rest needs only jm->mu. */
#ifndef SL_CHECKPOINT_RETENTION_H
#define SL_CHECKPOINT_RETENTION_H

#include <stddef.h>
#include <stdint.h>

#include "jobmanager/checkpoint_coordinator.h"

/* 1 if checkpoint id is in cc->retained. */
int sl_retention_has(const sl_coord *cc, uint64_t id);
/* Appends a newly completed checkpoint to cc->retained. SL_ENOMEM. */
int sl_retention_add(sl_coord *cc, uint64_t id);
/* Newest retained completed checkpoint of job_id: its id (0 = none) and its
 * folder ("" if none) into dir. */
uint64_t sl_retention_latest(const sl_coord *cc, const char *job_id, char *dir, size_t dirlen);
/* Loop: removes the completed checkpoints beyond num-retained, oldest
 * first, then asks for a sweep. */
void sl_retention_apply(sl_coord *cc, sl_coord_view *v);
/* Loop: removes the folders (and state copies) of FAILED checkpoints
 * marked for cleanup. */
void sl_retention_cleanup_failed(sl_coord *cc, sl_coord_view *v);
/* Loop: removes every chk-* folder of the job neither retained nor pending. */
void sl_retention_sweep(sl_coord *cc, sl_coord_view *v);
/* Loop, after the job ended (cc->end_state): FAILED, or CANCELED with
 * RETAIN_ON_CANCELLATION: sl_retention_sweep (the retained ones stay).
 * FINISHED, or CANCELED with DELETE_ON_CANCELLATION: every chk-* folder and
 * shared/, then the job folder if empty (nothing else in it is touched);
 * nothing is retained any more. */
void sl_retention_end_cleanup(sl_coord *cc, sl_coord_view *v);

#endif
