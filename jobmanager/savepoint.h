/* Savepoints on the jobmanager side: triggering one (`sluice savepoint`,
 * `sluice stop`), its status for the CLI, disposing of one, and checking a
 * savepoint or retained checkpoint given to `sluice run -s`.
 *
 * Place: beside the coordinator: called by rpc_handlers.c and job.c; calls
 * checkpoint_record.c and checkpoint_restore.c. It never wakes the loop
 * itself: a caller whose trigger succeeded does. */
#ifndef SL_JM_SAVEPOINT_H
#define SL_JM_SAVEPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "common/jobfile.h"
#include "common/util.h"
#include "jobmanager/checkpoint_coordinator.h"

/* `sluice savepoint` / `sluice stop` (handler, jm->mu held): a new PENDING
 * savepoint into <target_dir or state.savepoints.dir>/savepoint-<6 hex of
 * the job id>-<12 random hex>, sent by the loop. A resent request (same
 * request_id) returns the id of the first. SL_EBUSY (job not running, a
 * stop already pending), SL_EINVAL (no target folder) with the reason in
 * err. */
int sl_savepoint_trigger(sl_coord *cc, const sl_coord_view *v, const Sluice__TriggerSavepoint *t,
                         uint64_t *id, char *err, size_t errlen);
/* The status of savepoint id of a job in job_state (handler, jm->mu held;
 * arena memory). SL_ENOTFOUND if the job has no such savepoint (any more). */
int sl_savepoint_status(const sl_coord *cc, Sluice__JobState job_state, uint64_t id,
                        sl_arena *a, Sluice__SavepointStatus **out);
/* `sluice savepoint -d PATH` (handler, no lock: file system work): removes
 * the savepoint or retained checkpoint folder at path (a plain path or a
 * file:// URI) after checking that its _metadata reads: the state files it
 * names, _metadata, then the folder if empty. SL_ENOTFOUND / SL_EINVAL /
 * SL_EIO with the reason in err. */
int sl_savepoint_dispose(const char *path, char *err, size_t errlen);
/* Submit with -s (no lock; the job is not shared yet): reads and verifies
 * the savepoint or checkpoint at path, checks max-parallelism and that
 * every state maps to a stage of spec of the same kind (unless
 * allow_non_restored), and makes it the first attempt's restore point;
 * checkpoint ids continue after its id. SL_EINVAL with "<path>: reason" in
 * err. job_id, file_name: for messages. */
int sl_savepoint_restore_check(sl_coord *cc, const sl_job_spec *spec, const char *job_id,
                               const char *file_name, const char *path, int allow_non_restored,
                               char *err, size_t errlen);

#endif
