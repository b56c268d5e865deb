/* Which checkpoint folders stay on disk (checkpoint_retention.h). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/checkpoint_store.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/status.h"
#include "common/util.h"
#include "jobmanager/ha.h"
#include "jobmanager/checkpoint_record.h"
#include "jobmanager/checkpoint_retention.h"

/* ---- the retained list */

int sl_retention_has(const sl_coord *cc, uint64_t id)
{
    for (size_t i = 0; i < cc->nretained; i++)
        if (cc->retained[i] == id)
            return 1;
    return 0;
}

int sl_retention_add(sl_coord *cc, uint64_t id)
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
static int remove_unlocked(sl_coord_view *v, const char *path)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s", path);
    if (!sl_jmha_may_act(v->ha)) {
        sl_warn("not removing %s: this jobmanager is not the acting leader", p);
        return SL_EBUSY;
    }
    sl_coord_view_unlock(v);
    int rv = sl_fs_remove_tree(p);
    int e = errno;
    sl_coord_view_relock(v);
    if (rv != SL_OK)
        sl_warn("cannot remove %s: %s", p, rv == SL_EIO ? strerror(e) : sl_strerror(rv));
    return rv;
}

/* Keeps the newest num_retained completed checkpoints, then sweeps. */
void sl_retention_apply(sl_coord *cc, sl_coord_view *v)
{
    char dir[PATH_MAX];
    while (cc->nretained > (size_t)cc->num_retained) {
        uint64_t id = cc->retained[0];
        memmove(cc->retained, cc->retained + 1, (cc->nretained - 1) * sizeof(*cc->retained));
        cc->nretained--;
        if (sl_store_checkpoint_path(cc->root, v->job_id, id, dir, sizeof(dir)) != SL_OK)
            continue;
        sl_info("job %s: removing checkpoint %" PRIu64 " (%" PRId64 " retained)", v->job_id, id,
                cc->num_retained);
        remove_unlocked(v, dir);
    }
    cc->sweep = 1;
}

void sl_retention_cleanup_failed(sl_coord *cc, sl_coord_view *v)
{
    for (sl_ckrec *c = cc->history; c != NULL && !sl_coord_view_stopping(v); c = c->next) {
        if (c->status != SL_CKREC_FAILED || !c->cleanup)
            continue;
        c->cleanup = 0;
        sl_ckrec_free_acks(c);
        remove_unlocked(v, c->dir);
    }
}

/* Removes every chk-* folder of the job that is neither retained nor
 * pending, logging why; never one with a higher id than we handed out (a
 * deposed leader must not touch the checkpoints of the one after it). */
static void sweep_for(sl_coord *cc, sl_coord_view *v, const char *why)
{
    uint64_t *ids = NULL;
    size_t n = 0;
    char dir[PATH_MAX];
    cc->sweep = 0;
    if (cc->root == NULL)
        return; /* savepoints only: nothing of ours to sweep */
    sl_coord_view_unlock(v);
    int rv = sl_store_list_all(cc->root, v->job_id, &ids, &n);
    sl_coord_view_relock(v);
    if (rv != SL_OK) {
        sl_warn("job %s: cannot list its checkpoint folders: %s", v->job_id, sl_strerror(rv));
        return;
    }
    for (size_t i = 0; i < n && !sl_coord_view_stopping(v); i++) {
        const sl_ckrec *c = sl_ckrec_find(cc, ids[i]);
        if (sl_retention_has(cc, ids[i]) || (c != NULL && c->status == SL_CKREC_PENDING))
            continue;
        if (ids[i] > cc->last_id)
            continue; /* not handed out by us: another leader's (high availability) */
        if (sl_store_checkpoint_path(cc->root, v->job_id, ids[i], dir, sizeof(dir)) != SL_OK)
            continue;
        sl_info("job %s: removing %s (%s)", v->job_id, dir, why);
        remove_unlocked(v, dir);
    }
    free(ids);
}

void sl_retention_sweep(sl_coord *cc, sl_coord_view *v)
{
    sweep_for(cc, v, "neither retained nor in progress");
}

/* The job's checkpoints are of no more use: every chk-* folder and shared/
 * go, then the job's folder if that left it empty (a savepoint or anything
 * else someone put there stays). */
static void discard_all(sl_coord *cc, sl_coord_view *v, const char *why)
{
    char dir[PATH_MAX];
    cc->nretained = 0;
    sweep_for(cc, v, why);
    if (cc->root == NULL || sl_coord_view_stopping(v))
        return;
    if (sl_store_shared_path(cc->root, v->job_id, dir, sizeof(dir)) == SL_OK)
        remove_unlocked(v, dir);
    if (sl_store_job_root(cc->root, v->job_id, dir, sizeof(dir)) != SL_OK ||
        !sl_jmha_may_act(v->ha))
        return;
    sl_coord_view_unlock(v);
    int rv = rmdir(dir);
    int e = errno;
    sl_coord_view_relock(v);
    if (rv == 0)
        sl_info("job %s: removed %s (%s)", v->job_id, dir, why);
    else if (e != ENOENT)
        sl_info("job %s: %s stays: %s", v->job_id, dir,
                e == ENOTEMPTY || e == EEXIST ? "it holds more than checkpoints" : strerror(e));
}

/* After the job ended, Flink's rule: the checkpoints of a FAILED job stay
 * (the newest num-retained), and those of a CANCELED one with
 * RETAIN_ON_CANCELLATION; a FINISHED job's, and a CANCELED one's with
 * DELETE_ON_CANCELLATION, are discarded. Savepoints are never touched. */
void sl_retention_end_cleanup(sl_coord *cc, sl_coord_view *v)
{
    Sluice__JobState st = cc->end_state;
    if (st == SLUICE__JOB_STATE__JOB_FAILED ||
        (st == SLUICE__JOB_STATE__JOB_CANCELED && cc->retain_on_cancel)) {
        sl_retention_sweep(cc, v);
        return;
    }
    discard_all(cc, v,
                st == SLUICE__JOB_STATE__JOB_FINISHED ? "the job finished"
                                                      : "DELETE_ON_CANCELLATION");
}

uint64_t sl_retention_latest(const sl_coord *cc, const char *job_id, char *dir, size_t dirlen)
{
    if (dirlen > 0)
        dir[0] = '\0';
    if (cc->root == NULL || cc->nretained == 0)
        return 0;
    uint64_t id = cc->retained[cc->nretained - 1];
    if (sl_store_checkpoint_path(cc->root, job_id, id, dir, dirlen) != SL_OK)
        return 0;
    return id;
}
