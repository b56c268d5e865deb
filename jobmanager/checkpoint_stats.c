/* Checkpoint statistics for the CLI (`sluice checkpoints`, `sluice info`):
 * counters, the SL_COORD_RECENT newest records with their subtasks, and the
 * newest retained checkpoint. Replies are built in the request's arena with
 * jm->mu held. */
#include <limits.h>
#include <stdint.h>

#include "common/checkpoint_store.h"
#include "common/status.h"
#include "common/util.h"
#include "jobmanager/checkpoint_record.h"
#include "jobmanager/checkpoint_retention.h"
#include "jobmanager/checkpoint_stats.h"

static const char *status_name(enum sl_ckrec_status s)
{
    switch (s) {
    case SL_CKREC_PENDING: return "IN_PROGRESS";
    case SL_CKREC_COMPLETED: return "COMPLETED";
    default: return "FAILED";
    }
}

static char *adup(sl_arena *a, const char *s)
{
    char *p = sl_arena_strdup(a, s != NULL ? s : "");
    return p != NULL ? p : (char *)"";
}

static Sluice__SubtaskCheckpointStat *subtask_stat(const sl_coord_view *v, const sl_ckrec *c,
                                                   int t, sl_arena *a)
{
    Sluice__SubtaskCheckpointStat *s = sl_arena_alloc(a, sizeof(*s));
    if (s == NULL)
        return NULL;
    sluice__subtask_checkpoint_stat__init(s);
    const sl_ckrec_ack *ct = &c->tasks[t];
    s->task = (uint32_t)t;
    s->chain = adup(a, t < v->ntasks ? v->tasks[t].chain : "");
    s->subtask = t < v->ntasks ? (uint32_t)v->tasks[t].subtask : 0;
    s->acked = ct->acked;
    s->state_size = ct->state_size;
    s->sync_ms = ct->sync_ms;
    s->async_ms = ct->async_ms;
    s->align_ms = ct->align_ms;
    return s;
}

static Sluice__CheckpointStat *chk_stat(const sl_coord_view *v, const sl_ckrec *c, int64_t now,
                                        sl_arena *a)
{
    Sluice__CheckpointStat *s = sl_arena_alloc(a, sizeof(*s));
    if (s == NULL)
        return NULL;
    sluice__checkpoint_stat__init(s);
    s->id = c->id;
    s->status = (char *)status_name(c->status);
    s->trigger_time_ms = c->trigger_wall_ms;
    s->duration_ms = (c->status == SL_CKREC_PENDING ? now : c->end_mono_ms) - c->trigger_mono_ms;
    s->state_size = c->state_size;
    s->acked = (uint32_t)c->nacked;
    s->total = (uint32_t)c->ntasks;
    s->failure = adup(a, c->failure);
    s->path = sl_arena_printf(a, "file://%s", c->dir);
    s->subtasks = sl_arena_alloc(a, ((size_t)c->ntasks + 1) * sizeof(*s->subtasks));
    if (s->path == NULL || s->subtasks == NULL)
        return NULL;
    for (int t = 0; t < c->ntasks; t++) {
        if ((s->subtasks[t] = subtask_stat(v, c, t, a)) == NULL)
            return NULL;
        s->n_subtasks++;
    }
    return s;
}

int sl_ckstats_reply(const sl_coord *cc, const sl_coord_view *v, sl_arena *a,
                     Sluice__CheckpointStatsReply **out)
{
    char dir[PATH_MAX];
    int64_t now = cc->now_ms();
    Sluice__CheckpointStatsReply *st = sl_arena_alloc(a, sizeof(*st));
    if (st == NULL)
        return SL_ENOMEM;
    sluice__checkpoint_stats_reply__init(st);
    st->triggered = cc->triggered;
    st->in_progress = (uint64_t)sl_ckrec_pending(cc, 1);
    st->completed = cc->completed;
    st->failed = cc->failed;
    st->restored = cc->restored;
    st->restored_from_id = cc->restored_from_id;
    st->recent = sl_arena_alloc(a, SL_COORD_RECENT * sizeof(*st->recent));
    if (st->recent == NULL)
        return SL_ENOMEM;
    for (const sl_ckrec *c = cc->history; c != NULL && st->n_recent < SL_COORD_RECENT;
         c = c->next) {
        if ((st->recent[st->n_recent] = chk_stat(v, c, now, a)) == NULL)
            return SL_ENOMEM;
        st->n_recent++;
    }
    st->latest_completed_id = sl_retention_latest(cc, v->job_id, dir, sizeof(dir));
    st->latest_completed_path =
        st->latest_completed_id != 0 ? sl_arena_printf(a, "file://%s", dir) : (char *)"";
    if (st->latest_completed_path == NULL)
        return SL_ENOMEM;
    *out = st;
    return SL_OK;
}
