/* The restore point of a job's next attempt: sl_chk_pick_restore (loop
 * thread; jm->mu released around the reads) chooses the newest retained
 * completed checkpoint whose _metadata reads and whose state files verify,
 * else an older one, else none; sl_chk_use_restore makes the choice the
 * current attempt's. */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/checkpoint_store.h"
#include "common/log.h"
#include "common/status.h"
#include "jobmanager/checkpoint_internal.h"
#include "jobmanager/jobmanager.h"

void sl_chk_use_restore(sl_job *job)
{
    sl_chk_coord *cc = &job->chk;
    free(cc->restored_from_dir);
    cc->restored_from_dir = cc->restore_dir;
    cc->restored_from_id = cc->restore_id;
    cc->restore_dir = NULL;
    cc->restore_id = 0;
    if (cc->restored_from_id != 0)
        cc->restored++;
}

static int verify_one(const char *dir, const char *job_id, uint64_t id, char *err,
                      size_t errlen)
{
    Sluice__CheckpointMetadata *md = NULL;
    int rv = sl_metadata_read(dir, &md, err, errlen);
    if (rv == SL_OK && (strcmp(md->job_id, job_id) != 0 || md->checkpoint_id != id)) {
        snprintf(err, errlen, "%s/%s describes checkpoint %" PRIu64 " of job %s", dir,
                 SL_METADATA_NAME, md->checkpoint_id, md->job_id);
        rv = SL_EINVAL;
    }
    if (rv == SL_OK)
        rv = sl_checkpoint_verify(dir, md, err, errlen);
    if (md != NULL)
        sluice__checkpoint_metadata__free_unpacked(md, NULL);
    return rv;
}

/* No checkpoint of this job verifies: the savepoint or checkpoint it was
 * started from (run -s), if that still does. */
static void pick_initial(sl_jm *jm, sl_job *job)
{
    sl_chk_coord *cc = &job->chk;
    char dir[PATH_MAX], err[PATH_MAX + 512];
    Sluice__CheckpointMetadata *md = NULL;
    snprintf(dir, sizeof(dir), "%s", cc->initial_dir);
    pthread_mutex_unlock(&jm->mu);
    int rv = sl_metadata_read(dir, &md, err, sizeof(err));
    if (rv == SL_OK)
        rv = sl_checkpoint_verify(dir, md, err, sizeof(err));
    if (md != NULL)
        sluice__checkpoint_metadata__free_unpacked(md, NULL);
    pthread_mutex_lock(&jm->mu);
    if (rv == SL_OK && (cc->restore_dir = strdup(dir)) != NULL)
        cc->restore_id = cc->initial_id;
    else
        sl_warn("job %s: %s, which it started from, does not verify (%s)", job->id, dir,
                rv == SL_OK ? "out of memory" : err);
}

void sl_chk_pick_restore(sl_jm *jm, sl_job *job)
{
    sl_chk_coord *cc = &job->chk;
    char dir[PATH_MAX], err[PATH_MAX + 512];
    free(cc->restore_dir);
    cc->restore_dir = NULL;
    cc->restore_id = 0;
    size_t n = cc->nretained;
    uint64_t *ids = malloc((n + 1) * sizeof(*ids));
    if (ids == NULL) {
        sl_error("job %s: out of memory while choosing a checkpoint; starting without state",
                 job->id);
        return;
    }
    if (n > 0) /* cc->retained is NULL while empty */
        memcpy(ids, cc->retained, n * sizeof(*ids));
    for (size_t k = n; k-- > 0 && !jm->stopping && cc->root != NULL;) {
        if (sl_chk_path(cc->root, job->id, ids[k], dir, sizeof(dir)) != SL_OK)
            continue;
        pthread_mutex_unlock(&jm->mu);
        int rv = verify_one(dir, job->id, ids[k], err, sizeof(err));
        pthread_mutex_lock(&jm->mu);
        if (rv == SL_OK && (cc->restore_dir = strdup(dir)) != NULL) {
            cc->restore_id = ids[k];
            break;
        }
        if (rv == SL_OK)
            snprintf(err, sizeof(err), "out of memory");
        sl_warn("checkpoint %" PRIu64 " does not verify (%s); falling back to the previous one",
                ids[k], err);
    }
    free(ids);
    if (cc->restore_id == 0 && cc->initial_id != 0)
        pick_initial(jm, job);
    if (cc->restore_id == 0)
        sl_warn("job %s: %s; starting without state", job->id,
                n == 0 ? "no completed checkpoint to restore"
                       : "no completed checkpoint verifies");
}
