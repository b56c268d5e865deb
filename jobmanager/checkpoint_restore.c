/* The restore point of a job's next attempt (checkpoint_restore.h):
 * sl_restore_pick (loop
 * thread; jm->mu released around the reads) chooses the newest retained
 * completed checkpoint whose _metadata reads and whose state files verify,
 * else an older one, else the savepoint or checkpoint the job started from,
 * else none: starting without state is allowed only if the job has no state
 * (never completed a checkpoint, not started from one) or
 * execution.state-recovery.allow-empty-on-failure says so; otherwise the
 * caller fails the job with the reasons. sl_restore_use makes the
 * choice the current attempt's. */
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/checkpoint_store.h"
#include "common/log.h"
#include "common/status.h"
#include "jobmanager/checkpoint_restore.h"

void sl_restore_use(sl_coord *cc)
{
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
    int rv = sl_store_metadata_read(dir, &md, err, errlen);
    if (rv == SL_OK && (strcmp(md->job_id, job_id) != 0 || md->checkpoint_id != id)) {
        snprintf(err, errlen, "%s/%s describes checkpoint %" PRIu64 " of job %s", dir,
                 SL_STORE_METADATA_NAME, md->checkpoint_id, md->job_id);
        rv = SL_EINVAL;
    }
    if (rv == SL_OK)
        rv = sl_store_verify(dir, md, err, errlen);
    if (md != NULL)
        sluice__checkpoint_metadata__free_unpacked(md, NULL);
    return rv;
}

/* Appends "; " (unless first) and the formatted text to why, truncating. */
static void add_reason(char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_reason(char *why, size_t len, const char *fmt, ...)
{
    size_t used = strnlen(why, len);
    if (used + 3 >= len)
        return;
    if (used > 0) {
        memcpy(why + used, "; ", 3);
        used += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why + used, len - used, fmt, ap);
    va_end(ap);
}

/* No checkpoint of this job verifies: the savepoint or checkpoint it was
 * started from (run -s), if that still does. */
static void pick_initial(sl_coord *cc, sl_coord_view *v, char *why, size_t whylen)
{
    char dir[PATH_MAX], err[PATH_MAX + 512];
    Sluice__CheckpointMetadata *md = NULL;
    snprintf(dir, sizeof(dir), "%s", cc->initial_dir);
    sl_coord_view_unlock(v);
    int rv = sl_store_metadata_read(dir, &md, err, sizeof(err));
    if (rv == SL_OK)
        rv = sl_store_verify(dir, md, err, sizeof(err));
    if (md != NULL)
        sluice__checkpoint_metadata__free_unpacked(md, NULL);
    sl_coord_view_relock(v);
    if (rv == SL_OK && (cc->restore_dir = strdup(dir)) != NULL) {
        cc->restore_id = cc->initial_id;
        return;
    }
    if (rv == SL_OK)
        snprintf(err, sizeof(err), "out of memory");
    sl_warn("job %s: %s, which it started from, does not verify (%s)", v->job_id, dir, err);
    add_reason(why, whylen, "%s, which the job started from: %s", dir, err);
}

/* Tries the retained checkpoints, newest first; the reasons of those that
 * do not verify go to why. SL_ENOMEM, SL_EBUSY (stopping), else SL_OK. */
static int pick_retained(sl_coord *cc, sl_coord_view *v, char *why, size_t whylen)
{
    char dir[PATH_MAX], err[PATH_MAX + 512];
    size_t n = cc->nretained;
    if (n == 0)
        return SL_OK;
    uint64_t *ids = malloc(n * sizeof(*ids));
    if (ids == NULL)
        return SL_ENOMEM;
    memcpy(ids, cc->retained, n * sizeof(*ids));
    for (size_t k = n; k-- > 0 && !sl_coord_view_stopping(v) && cc->root != NULL;) {
        if (sl_store_checkpoint_path(cc->root, v->job_id, ids[k], dir, sizeof(dir)) != SL_OK) {
            add_reason(why, whylen, "checkpoint %" PRIu64 ": its path is too long", ids[k]);
            continue;
        }
        sl_coord_view_unlock(v);
        int rv = verify_one(dir, v->job_id, ids[k], err, sizeof(err));
        sl_coord_view_relock(v);
        if (rv == SL_OK && (cc->restore_dir = strdup(dir)) != NULL) {
            cc->restore_id = ids[k];
            if (k + 1 < n)
                sl_warn("job %s: restoring checkpoint %" PRIu64 ", older than checkpoint %" PRIu64
                        ": output committed after checkpoint %" PRIu64 " stays and may be "
                        "written again", v->job_id, ids[k], ids[n - 1], ids[k]);
            break;
        }
        if (rv == SL_OK)
            snprintf(err, sizeof(err), "out of memory");
        sl_warn("checkpoint %" PRIu64 " does not verify (%s)%s", ids[k], err,
                k > 0 ? "; falling back to the previous one" : "");
        add_reason(why, whylen, "checkpoint %" PRIu64 ": %s", ids[k], err);
    }
    free(ids);
    return sl_coord_view_stopping(v) ? SL_EBUSY : SL_OK;
}

int sl_restore_pick(sl_coord *cc, sl_coord_view *v, char *err, size_t errlen)
{
    char why[SL_COORD_REASON_MAX] = "";
    free(cc->restore_dir);
    cc->restore_dir = NULL;
    cc->restore_id = 0;
    int has_state = cc->nretained > 0 || cc->initial_id != 0;
    int rv = pick_retained(cc, v, why, sizeof(why));
    if (rv == SL_ENOMEM)
        add_reason(why, sizeof(why), "out of memory while choosing a checkpoint");
    if (rv == SL_EBUSY)
        return rv;
    if (cc->restore_id == 0 && cc->initial_id != 0 && !sl_coord_view_stopping(v))
        pick_initial(cc, v, why, sizeof(why));
    if (sl_coord_view_stopping(v))
        return SL_EBUSY;
    if (cc->restore_id != 0)
        return SL_OK;
    if (!has_state) {
        sl_info("job %s: no completed checkpoint to restore; starting without state", v->job_id);
        return SL_OK;
    }
    if (cc->allow_empty) {
        sl_warn("job %s: no checkpoint to restore from verifies (%s); starting without state "
                "(execution.state-recovery.allow-empty-on-failure is true)", v->job_id, why);
        return SL_OK;
    }
    snprintf(err, errlen,
             "cannot restart: no checkpoint to restore from verifies (%s); not starting "
             "without state (set execution.state-recovery.allow-empty-on-failure: true to allow it)",
             why);
    return SL_ENOTFOUND;
}
