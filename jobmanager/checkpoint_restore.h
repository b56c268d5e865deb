/* The restore point of a job's next attempt.
 *
 * Place: called by job.c (restarts) and savepoint.c (run -s); calls
 * common/checkpoint_store.h only. Works on the coordinator's struct. */
#ifndef SL_CHECKPOINT_RESTORE_H
#define SL_CHECKPOINT_RESTORE_H

#include <stddef.h>

#include "jobmanager/checkpoint_coordinator.h"

/* Loop (jm->mu held, released through v's hooks around the reads): picks
 * the restore point of the next attempt: the newest retained completed
 * checkpoint that reads and verifies, else older ones, else the savepoint
 * or checkpoint the job started from (run -s). The choice is in
 * cc->restore_id / restore_dir (0 / NULL: start without state).
 * SL_OK: a restore point, or none and starting without state is allowed
 * (the job never completed a checkpoint and did not start from one, or
 * execution.state-recovery.allow-empty-on-failure is true; logged).
 * SL_ENOTFOUND: the job has state but none of it verifies: the job must
 * fail; the reasons (one per checkpoint tried) are in err.
 * SL_EBUSY: the jobmanager is stopping; nothing chosen. */
int sl_restore_pick(sl_coord *cc, sl_coord_view *v, char *err, size_t errlen);
/* The choice of sl_restore_pick (or of run -s) becomes the current
 * attempt's restore point (counts `restored` when there is one). */
void sl_restore_use(sl_coord *cc);

#endif
