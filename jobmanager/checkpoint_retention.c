/* Which checkpoint folders stay on disk. This module owns cc->retained (the
 * ids of the completed checkpoints kept, ascending) and every removal of a
 * checkpoint folder: checkpoints beyond state.checkpoints.num-retained,
 * failed ones, sweeps of chk-* folders neither retained nor pending (after a
 * late ack, after the job ended) and, when the job FINISHED or was
 * CANCELED with DELETE_ON_CANCELLATION, all of its checkpoints and then its
 * folder if empty. Removals run on the loop thread with jm->mu released. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/checkpoint_store.h"
#include "common/log.h"
#include "common/status.h"
#include "common/util.h"
#include "jobmanager/checkpoint_internal.h"
#include "jobmanager/jobmanager.h"

/* ---- the retained list */

int sl_chk_retained_has(const sl_chk_coord *cc, uint64_t id)
{
    for (size_t i = 0; i < cc->nretained; i++)
        if (cc->retained[i] == id)
            return 1;
    return 0;
}

int sl_chk_retained_add(sl_chk_coord *cc, uint64_t id)
{
    if (cc->nretained == cc->cap_retained) {
        size_t ncap = cc->cap_retained ? cc->cap_retained * 2 : 8;
        uint64_t *n = realloc(cc->retained, ncap * sizeof(*n));
        if (n == NULL)
            return SL_ENOMEM;
        cc->retained = n;
        cc->cap_retained = ncap;
    }
    cc->retained[cc->nretained++] = id; /* ids complete in ascending order */
    return SL_OK;
}

/* ---- removing folders */

/* jm->mu is released around each of these. */
static int remove_unlocked(sl_jm *jm, const char *path)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s", path);
    pthread_mutex_unlock(&jm->mu);
    int rv = sl_remove_tree(p);
    int e = errno;
    pthread_mutex_lock(&jm->mu);
    if (rv != SL_OK)
        sl_warn("cannot remove %s: %s", p, rv == SL_EIO ? strerror(e) : sl_strerror(rv));
    return rv;
}

/* Keeps the newest num_retained completed checkpoints, then sweeps. */
void sl_chk_apply_retention(sl_jm *jm, sl_job *job)
{
    sl_chk_coord *cc = &job->chk;
    char dir[PATH_MAX];
    while (cc->nretained > (size_t)cc->num_retained) {
        uint64_t id = cc->retained[0];
        memmove(cc->retained, cc->retained + 1, (cc->nretained - 1) * sizeof(*cc->retained));
        cc->nretained--;
        if (sl_chk_path(cc->root, job->id, id, dir, sizeof(dir)) != SL_OK)
            continue;
        sl_info("job %s: removing checkpoint %" PRIu64 " (%" PRId64 " retained)", job->id, id,
                cc->num_retained);
        remove_unlocked(jm, dir);
    }
    cc->sweep = 1;
}

/* Removes the folders of failed checkpoints and tells the taskmanagers. */
void sl_chk_cleanup_failed(sl_jm *jm, sl_job *job)
{
    for (sl_checkpoint *c = job->chk.history; c != NULL && !jm->stopping; c = c->next) {
        if (c->status != SL_CHK_FAILED)
            continue;
        if (c->cleanup) {
            c->cleanup = 0;
            sl_chk_free_acks(c);
            remove_unlocked(jm, c->dir);
        }
        if (c->notify_abort) {
            c->notify_abort = 0;
            sl_chk_notify_tms(jm, job, c->id, c->attempt, 0);
        }
    }
}

/* Removes every chk-* folder of the job that is neither retained nor
 * pending, logging why. */
static void sweep_for(sl_jm *jm, sl_job *job, const char *why)
{
    sl_chk_coord *cc = &job->chk;
    uint64_t *ids = NULL;
    size_t n = 0;
    char dir[PATH_MAX];
    cc->sweep = 0;
    if (cc->root == NULL)
        return; /* savepoints only: nothing of ours to sweep */
    pthread_mutex_unlock(&jm->mu);
    int rv = sl_checkpoint_list_all(cc->root, job->id, &ids, &n);
    pthread_mutex_lock(&jm->mu);
    if (rv != SL_OK) {
        sl_warn("job %s: cannot list its checkpoint folders: %s", job->id, sl_strerror(rv));
        return;
    }
    for (size_t i = 0; i < n && !jm->stopping; i++) {
        const sl_checkpoint *c = sl_chk_find(cc, ids[i]);
        if (sl_chk_retained_has(cc, ids[i]) || (c != NULL && c->status == SL_CHK_PENDING))
            continue;
        if (sl_chk_path(cc->root, job->id, ids[i], dir, sizeof(dir)) != SL_OK)
            continue;
        sl_info("job %s: removing %s (%s)", job->id, dir, why);
        remove_unlocked(jm, dir);
    }
    free(ids);
}

void sl_chk_sweep(sl_jm *jm, sl_job *job)
{
    sweep_for(jm, job, "neither retained nor in progress");
}

/* The job's checkpoints are of no more use: every chk-* folder and shared/
 * go, then the job's folder if that left it empty (a savepoint or anything
 * else someone put there stays). */
static void discard_all(sl_jm *jm, sl_job *job, const char *why)
{
    sl_chk_coord *cc = &job->chk;
    char dir[PATH_MAX];
    cc->nretained = 0;
    sweep_for(jm, job, why);
    if (cc->root == NULL || jm->stopping)
        return;
    if (sl_chk_shared_path(cc->root, job->id, dir, sizeof(dir)) == SL_OK)
        remove_unlocked(jm, dir);
    if (sl_job_chk_root(cc->root, job->id, dir, sizeof(dir)) != SL_OK)
        return;
    pthread_mutex_unlock(&jm->mu);
    int rv = rmdir(dir);
    int e = errno;
    pthread_mutex_lock(&jm->mu);
    if (rv == 0)
        sl_info("job %s: removed %s (%s)", job->id, dir, why);
    else if (e != ENOENT)
        sl_info("job %s: %s stays: %s", job->id, dir,
                e == ENOTEMPTY || e == EEXIST ? "it holds more than checkpoints" : strerror(e));
}

/* After the job ended, Flink's rule: the checkpoints of a FAILED job stay
 * (the newest num-retained), and those of a CANCELED one with
 * RETAIN_ON_CANCELLATION; a FINISHED job's, and a CANCELED one's with
 * DELETE_ON_CANCELLATION, are discarded. Savepoints are never touched. */
void sl_chk_end_cleanup(sl_jm *jm, sl_job *job)
{
    sl_chk_coord *cc = &job->chk;
    if (job->state == SLUICE__JOB_STATE__JOB_FAILED ||
        (job->state == SLUICE__JOB_STATE__JOB_CANCELED && cc->retain_on_cancel)) {
        sl_chk_sweep(jm, job);
        return;
    }
    discard_all(jm, job,
                job->state == SLUICE__JOB_STATE__JOB_FINISHED ? "the job finished"
                                                               : "DELETE_ON_CANCELLATION");
}
