/* Checkpoint triggers and the coordinator's calls to taskmanagers (loop
 * thread): when a periodic or final checkpoint is due, sending
 * TriggerCheckpoint to the taskmanagers that host a source task of the
 * current attempt, and NotifyCheckpoint{complete|aborted} to the job's
 * taskmanagers. The calls are asynchronous (tm_calls.h): they are started
 * here and their outcomes judged by sl_chk_call_outcome on a later round,
 * against the record as it is then. A trigger that fails aborts the
 * checkpoint. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/checkpoint_store.h"
#include "common/log.h"
#include "common/status.h"
#include "common/util.h"
#include "jobmanager/checkpoint_internal.h"
#include "jobmanager/jobmanager.h"

/* ---- small helpers */

static int is_source_task(const sl_job *job, int t)
{
    const sl_chain *ch = &job->graph.chains[job->tasks[t].chain];
    return job->spec->stages[ch->stages[0]].kind == SL_STAGE_SOURCE;
}

static int all_tasks_running(const sl_job *job)
{
    for (int t = 0; t < job->graph.ntasks; t++)
        if (job->tasks[t].state != SLUICE__TASK_STATE__TASK_RUNNING)
            return 0;
    return 1;
}

static int sources_ended(const sl_job *job)
{
    int sources = 0;
    for (int t = 0; t < job->graph.ntasks; t++) {
        if (!is_source_task(job, t))
            continue;
        sources++;
        if (!job->tasks[t].input_ended)
            return 0;
    }
    return sources > 0;
}

/* ---- loop: taskmanager calls */

static unsigned chk_flags(const sl_checkpoint *c)
{
    return (c->final ? SL_CALL_F_FINAL : 0u) | (c->savepoint ? SL_CALL_F_SAVEPOINT : 0u) |
           (c->stop ? SL_CALL_F_STOP : 0u);
}

static void chk_key(sl_tm_call_key *k, enum sl_tm_call_kind kind, const sl_job *job,
                    const sl_job_tm *jt, uint32_t attempt, uint64_t id)
{
    memset(k, 0, sizeof(*k));
    k->kind = kind;
    snprintf(k->tm_id, sizeof(k->tm_id), "%s", jt->tm_id);
    snprintf(k->job_id, sizeof(k->job_id), "%s", job->id);
    k->attempt = attempt;
    k->chk_id = id;
}

static void notify_failed(const sl_job *job, const char *tm_id, const char *addr, uint64_t id,
                          int complete, const char *why)
{
    sl_warn("job %s: telling taskmanager %s (%s) that checkpoint %" PRIu64 " %s failed: %s",
            job->id, tm_id, addr, id, complete ? "completed" : "was aborted", why);
}

/* Starts the notifications; returns how many could not even start (the
 * others' failures come back through sl_chk_call_outcome). */
int sl_chk_notify_tms(sl_jm *jm, sl_job *job, uint64_t id, uint32_t attempt, int complete)
{
    int failed = 0;
    const sl_checkpoint *c = sl_chk_find(&job->chk, id);
    if (job->state != SLUICE__JOB_STATE__JOB_RUNNING || job->attempt != attempt)
        return 0;
    for (int i = 0; i < job->ntms && !jm->stopping; i++) {
        sl_job_tm *jt = &job->tms[i];
        if (!jt->deployed)
            continue;
        Sluice__NotifyCheckpoint n = SLUICE__NOTIFY_CHECKPOINT__INIT;
        n.job_id = job->id;
        n.attempt = attempt;
        n.checkpoint_id = id;
        n.complete = complete;
        Sluice__Request req = SLUICE__REQUEST__INIT;
        req.body_case = SLUICE__REQUEST__BODY_NOTIFY_CHECKPOINT;
        req.notify_checkpoint = &n;
        sl_tm_call_key key;
        chk_key(&key, SL_CALL_NOTIFY, job, jt, attempt, id);
        key.flags = (complete ? SL_CALL_F_COMPLETE : 0u) | (c != NULL ? chk_flags(c) : 0u);
        int rv = sl_jm_sched_call(jm, &key, &req);
        if (rv != SL_OK) {
            failed++;
            notify_failed(job, jt->tm_id, jt->rpc_addr, id, complete, sl_strerror(rv));
        }
    }
    return failed;
}

/* 1 for every job taskmanager that hosts a source task. */
static char *source_tms(const sl_job *job)
{
    char *v = calloc((size_t)job->ntms + 1, 1);
    if (v == NULL)
        return NULL;
    for (int t = 0; t < job->graph.ntasks; t++)
        if (is_source_task(job, t))
            v[job->slot_tm[job->tasks[t].subtask]] = 1;
    return v;
}

static int still_sending(const sl_job *job, const sl_checkpoint *c)
{
    return c->status == SL_CHK_PENDING && job->state == SLUICE__JOB_STATE__JOB_RUNNING &&
           job->attempt == c->attempt;
}

/* A trigger that failed: a refusal counts; a taskmanager that does not
 * answer is for the heartbeat timeout / connection loss to judge. No-op if
 * the checkpoint ended meanwhile. */
static void trigger_failed(sl_job *job, sl_checkpoint *c, const char *tm_id, const char *addr,
                           int refused, const char *why)
{
    char reason[1024];
    snprintf(reason, sizeof(reason), "trigger on taskmanager %s (%s) failed: %s", tm_id, addr,
             why);
    sl_chk_fail(job, c, reason, refused && !c->savepoint, 1);
}

static void trigger_tms(sl_jm *jm, sl_job *job, sl_checkpoint *c, const char *dir)
{
    char *src = source_tms(job);
    if (src == NULL) {
        sl_chk_fail(job, c, "out of memory while triggering", 1, 1);
        return;
    }
    for (int i = 0; i < job->ntms && !jm->stopping && still_sending(job, c); i++) {
        if (!src[i])
            continue;
        sl_job_tm *jt = &job->tms[i];
        Sluice__TriggerCheckpoint t = SLUICE__TRIGGER_CHECKPOINT__INIT;
        t.job_id = job->id;
        t.attempt = c->attempt;
        t.checkpoint_id = c->id;
        t.timestamp_ms = c->trigger_wall_ms;
        t.chk_dir = (char *)dir;
        t.final = c->final;
        t.kind = !c->savepoint ? SLUICE__CHECKPOINT_KIND__KIND_CHECKPOINT
                 : c->stop     ? SLUICE__CHECKPOINT_KIND__KIND_SAVEPOINT_STOP
                               : SLUICE__CHECKPOINT_KIND__KIND_SAVEPOINT;
        Sluice__Request req = SLUICE__REQUEST__INIT;
        req.body_case = SLUICE__REQUEST__BODY_TRIGGER_CHECKPOINT;
        req.trigger_checkpoint = &t;
        sl_tm_call_key key;
        chk_key(&key, SL_CALL_TRIGGER, job, jt, c->attempt, c->id);
        key.flags = chk_flags(c);
        int rv = sl_jm_sched_call(jm, &key, &req);
        if (rv != SL_OK)
            trigger_failed(job, c, jt->tm_id, jt->rpc_addr, 0, sl_strerror(rv));
    }
    free(src);
}

/* 1 if every taskmanager c goes to may take one more call now (else the
 * trigger waits for a later round rather than reach only some). */
static int trigger_room(sl_jm *jm, const sl_job *job)
{
    char *src = source_tms(job);
    int ok = 1;
    for (int i = 0; src != NULL && i < job->ntms && ok; i++)
        ok = !src[i] || sl_jm_sched_room(jm, job->tms[i].tm_id) > 0;
    free(src);
    return ok;
}

/* ---- loop: outcomes */

static const char *outcome_error(const sl_tm_outcome *o)
{
    if (o->rv != SL_OK)
        return sl_strerror(o->rv);
    return o->reply->error[0] != '\0' ? o->reply->error : "refused";
}

static const char *tm_addr(const sl_job *job, const char *tm_id)
{
    for (int i = 0; i < job->ntms; i++)
        if (strcmp(job->tms[i].tm_id, tm_id) == 0)
            return job->tms[i].rpc_addr;
    return "?";
}

static void trigger_outcome(sl_job *job, const sl_tm_outcome *o)
{
    sl_checkpoint *c = sl_chk_find(&job->chk, o->key.chk_id);
    if (c == NULL || c->status != SL_CHK_PENDING)
        return;
    trigger_failed(job, c, o->key.tm_id, tm_addr(job, o->key.tm_id), o->rv == SL_OK,
                   outcome_error(o));
}

static void notify_outcome(sl_job *job, const sl_tm_outcome *o)
{
    sl_chk_coord *cc = &job->chk;
    int complete = (o->key.flags & SL_CALL_F_COMPLETE) != 0;
    notify_failed(job, o->key.tm_id, tm_addr(job, o->key.tm_id), o->key.chk_id, complete,
                  outcome_error(o));
    if (complete && (o->key.flags & SL_CALL_F_STOP))
        sl_warn("job %s: not every taskmanager heard that stop savepoint %" PRIu64
                " completed", job->id, o->key.chk_id);
    if (!complete || job->state != SLUICE__JOB_STATE__JOB_RUNNING ||
        job->attempt != o->key.attempt)
        return;
    if ((o->key.flags & SL_CALL_F_FINAL) && cc->final_done) {
        /* sources end only when told: take another final checkpoint */
        sl_warn("job %s: not every taskmanager heard that final checkpoint %" PRIu64
                " completed; taking another one", job->id, o->key.chk_id);
        cc->final_done = 0;
    }
}

void sl_chk_call_outcome(sl_jm *jm, const sl_tm_outcome *o)
{
    sl_job *job = sl_jm_job_find(jm, o->key.job_id);
    if (job == NULL || (o->rv == SL_OK && o->reply->status == SLUICE__STATUS__STATUS_OK))
        return;
    if (o->key.kind == SL_CALL_TRIGGER)
        trigger_outcome(job, o);
    else if (o->key.kind == SL_CALL_NOTIFY)
        notify_outcome(job, o);
}

static void send_trigger(sl_jm *jm, sl_job *job, sl_checkpoint *c)
{
    char dir[PATH_MAX], reason[PATH_MAX + 128];
    c->sent = 1;
    snprintf(dir, sizeof(dir), "%s", c->dir);
    sl_info("triggering %s %" PRIu64 " for job %s (attempt %u)",
            c->savepoint ? (c->stop ? "stop-with-savepoint" : "savepoint")
            : c->final   ? "final checkpoint"
            : c->manual  ? "manual checkpoint"
                         : "checkpoint",
            c->id, job->id, c->attempt);
    pthread_mutex_unlock(&jm->mu);
    int rv = sl_mkdir_p(dir);
    int e = errno;
    pthread_mutex_lock(&jm->mu);
    if (rv != SL_OK) {
        snprintf(reason, sizeof(reason), "cannot create %s: %s", dir, strerror(e));
        sl_chk_fail(job, c, reason, !c->savepoint, 1);
        return;
    }
    trigger_tms(jm, job, c, dir);
}

/* ---- loop: decisions */

int sl_chk_savepoint_blocks(const sl_job *job)
{
    for (const sl_checkpoint *c = job->chk.history; c != NULL; c = c->next) {
        if (c->savepoint && c->status == SL_CHK_PENDING)
            return 1;
        if (c->stop && c->status == SL_CHK_COMPLETED && c->attempt == job->attempt)
            return 1;
    }
    return 0;
}

/* 1 if a taskmanager of the job did not answer a checkpoint call and sent
 * no heartbeat since: the heartbeat timeout will tell whether it is lost. */
static int any_tm_stalled(sl_jm *jm, const sl_job *job)
{
    for (int i = 0; i < job->ntms; i++) {
        const sl_tm *tm = sl_jm_tm_find(jm, job->tms[i].tm_id);
        if (tm != NULL && tm->stalled_ms != 0 && tm->last_hb_ms <= tm->stalled_ms)
            return 1;
    }
    return 0;
}

void sl_chk_maybe_trigger(sl_jm *jm, sl_job *job)
{
    sl_chk_coord *cc = &job->chk;
    int64_t now = sl_now_ms();
    if (!cc->periodic || cc->final_done || !all_tasks_running(job) || any_tm_stalled(jm, job) ||
        sl_chk_savepoint_blocks(job))
        return;
    if (sources_ended(job)) {
        if (sl_chk_pending_count(cc, 1) == 0 && sl_chk_create(job, 1, 0) == NULL)
            sl_error("job %s: cannot create its final checkpoint", job->id);
        cc->last_trigger_ms = now;
        return;
    }
    if (now - cc->last_trigger_ms < cc->interval_ms)
        return;
    if (cc->has_end && now - cc->last_end_ms < cc->min_pause_ms)
        return;
    if (sl_chk_pending_count(cc, 0) >= cc->max_concurrent)
        return;
    cc->last_trigger_ms = now;
    if (sl_chk_create(job, 0, 0) == NULL)
        sl_error("job %s: cannot create a checkpoint", job->id);
}

static sl_checkpoint *oldest_unsent(const sl_job *job)
{
    sl_checkpoint *best = NULL;
    for (sl_checkpoint *c = job->chk.history; c != NULL; c = c->next)
        if (c->status == SL_CHK_PENDING && !c->sent && (best == NULL || c->id < best->id))
            best = c;
    return best;
}

void sl_chk_send_unsent(sl_jm *jm, sl_job *job)
{
    sl_checkpoint *c;
    while (job->state == SLUICE__JOB_STATE__JOB_RUNNING && !jm->stopping &&
           (c = oldest_unsent(job)) != NULL && trigger_room(jm, job))
        send_trigger(jm, job, c);
}
