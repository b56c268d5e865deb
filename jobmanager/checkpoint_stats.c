/* Checkpoint statistics for the CLI (`sluice checkpoints`, `sluice info`):
 * counters, the SL_CHK_RECENT newest records with their subtasks, and the
 * newest retained checkpoint. Replies are built in the request's arena with
 * jm->mu held. */
#include <limits.h>
#include <stdint.h>

#include "common/checkpoint_store.h"
#include "common/status.h"
#include "common/util.h"
#include "jobmanager/checkpoint_internal.h"
#include "jobmanager/jobmanager.h"

static const char *status_name(enum sl_chk_status s)
{
    switch (s) {
    case SL_CHK_PENDING: return "IN_PROGRESS";
    case SL_CHK_COMPLETED: return "COMPLETED";
    default: return "FAILED";
    }
}

static char *adup(sl_arena *a, const char *s)
{
    char *p = sl_arena_strdup(a, s != NULL ? s : "");
    return p != NULL ? p : (char *)"";
}

static Sluice__SubtaskCheckpointStat *subtask_stat(const sl_job *job, const sl_checkpoint *c,
                                                   int t, sl_arena *a)
{
    Sluice__SubtaskCheckpointStat *s = sl_arena_alloc(a, sizeof(*s));
    if (s == NULL)
        return NULL;
    sluice__subtask_checkpoint_stat__init(s);
    const sl_chk_task *ct = &c->tasks[t];
    s->task = (uint32_t)t;
    s->chain = adup(a, job->graph.chains[job->tasks[t].chain].name);
    s->subtask = (uint32_t)job->tasks[t].subtask;
    s->acked = ct->acked;
    s->state_size = ct->state_size;
    s->sync_ms = ct->sync_ms;
    s->async_ms = ct->async_ms;
    s->align_ms = ct->align_ms;
    return s;
}

static Sluice__CheckpointStat *chk_stat(const sl_job *job, const sl_checkpoint *c, int64_t now,
                                        sl_arena *a)
{
    Sluice__CheckpointStat *s = sl_arena_alloc(a, sizeof(*s));
    if (s == NULL)
        return NULL;
    sluice__checkpoint_stat__init(s);
    s->id = c->id;
    s->status = (char *)status_name(c->status);
    s->trigger_time_ms = c->trigger_wall_ms;
    s->duration_ms = (c->status == SL_CHK_PENDING ? now : c->end_mono_ms) - c->trigger_mono_ms;
    s->state_size = c->state_size;
    s->acked = (uint32_t)c->nacked;
    s->total = (uint32_t)c->ntasks;
    s->failure = adup(a, c->failure);
    s->path = sl_arena_printf(a, "file://%s", c->dir);
    s->subtasks = sl_arena_alloc(a, ((size_t)c->ntasks + 1) * sizeof(*s->subtasks));
    if (s->path == NULL || s->subtasks == NULL)
        return NULL;
    for (int t = 0; t < c->ntasks; t++) {
        if ((s->subtasks[t] = subtask_stat(job, c, t, a)) == NULL)
            return NULL;
        s->n_subtasks++;
    }
    return s;
}

int sl_chk_stats(const sl_job *job, sl_arena *a, Sluice__CheckpointStatsReply **out)
{
    const sl_chk_coord *cc = &job->chk;
    char dir[PATH_MAX];
    int64_t now = sl_now_ms();
    Sluice__CheckpointStatsReply *st = sl_arena_alloc(a, sizeof(*st));
    if (st == NULL)
        return SL_ENOMEM;
    sluice__checkpoint_stats_reply__init(st);
    st->triggered = cc->triggered;
    st->in_progress = (uint64_t)sl_chk_pending_count(cc, 1);
    st->completed = cc->completed;
    st->failed = cc->failed;
    st->restored = cc->restored;
    st->restored_from_id = cc->restored_from_id;
    st->recent = sl_arena_alloc(a, SL_CHK_RECENT * sizeof(*st->recent));
    if (st->recent == NULL)
        return SL_ENOMEM;
    for (const sl_checkpoint *c = cc->history; c != NULL && st->n_recent < SL_CHK_RECENT;
         c = c->next) {
        if ((st->recent[st->n_recent] = chk_stat(job, c, now, a)) == NULL)
            return SL_ENOMEM;
        st->n_recent++;
    }
    st->latest_completed_id = sl_chk_latest(job, dir, sizeof(dir));
    st->latest_completed_path =
        st->latest_completed_id != 0 ? sl_arena_printf(a, "file://%s", dir) : (char *)"";
    if (st->latest_completed_path == NULL)
        return SL_ENOMEM;
    *out = st;
    return SL_OK;
}

uint64_t sl_chk_latest(const sl_job *job, char *dir, size_t dirlen)
{
    const sl_chk_coord *cc = &job->chk;
    if (dirlen > 0)
        dir[0] = '\0';
    if (cc->root == NULL || cc->nretained == 0)
        return 0;
    uint64_t id = cc->retained[cc->nretained - 1];
    if (sl_chk_path(cc->root, job->id, id, dir, dirlen) != SL_OK)
        return 0;
    return id;
}
