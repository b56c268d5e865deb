/* Checkpoint triggers and the coordinator's calls to taskmanagers
 * (checkpoint_trigger.h). A trigger that fails aborts the checkpoint. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/checkpoint_store.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/status.h"
#include "common/util.h"
#include "jobmanager/ha.h"
#include "jobmanager/checkpoint_record.h"
#include "jobmanager/checkpoint_trigger.h"

/* ---- small helpers */

static int all_tasks_running(const sl_coord_view *v)
{
    for (int t = 0; t < v->ntasks; t++)
        if (!v->tasks[t].running)
            return 0;
    return 1;
}

static int sources_ended(const sl_coord_view *v)
{
    int sources = 0;
    for (int t = 0; t < v->ntasks; t++) {
        if (!v->tasks[t].source)
            continue;
        sources++;
        if (!v->tasks[t].input_ended)
            return 0;
    }
    return sources > 0;
}

/* ---- loop: taskmanager calls */

static unsigned chk_flags(const sl_ckrec *c)
{
    return (c->final ? SL_TMCALL_F_FINAL : 0u) | (c->savepoint ? SL_TMCALL_F_SAVEPOINT : 0u) |
           (c->stop ? SL_TMCALL_F_STOP : 0u);
}

static void chk_key(sl_tmcall_key *k, enum sl_tmcall_kind kind, const sl_coord_view *v,
                    const sl_coord_tm *jt, uint32_t attempt, uint64_t id)
{
    memset(k, 0, sizeof(*k));
    k->kind = kind;
    snprintf(k->tm_id, sizeof(k->tm_id), "%s", jt->tm_id);
    snprintf(k->job_id, sizeof(k->job_id), "%s", v->job_id);
    k->attempt = attempt;
    k->chk_id = id;
}

static void notify_failed(const sl_coord_view *v, const char *tm_id, const char *addr, uint64_t id,
                          int complete, const char *why)
{
    sl_warn("job %s: telling taskmanager %s (%s) that checkpoint %" PRIu64 " %s failed: %s",
            v->job_id, tm_id, addr, id, complete ? "completed" : "was aborted", why);
}

static int send_call(const sl_coord_view *v, const sl_tmcall_key *key, const Sluice__Request *req)
{
    if (v->hooks == NULL || v->hooks->send == NULL)
        return SL_EUNREACH;
    return v->hooks->send(v->arg, key, req);
}

/* Starts the notifications; returns how many could not even start (the
 * others' failures come back through sl_trigger_outcome). */
int sl_trigger_notify(sl_coord *cc, const sl_coord_view *v, uint64_t id, uint32_t attempt,
                      int complete)
{
    int failed = 0;
    const sl_ckrec *c = sl_ckrec_find(cc, id);
    if (!sl_coord_view_running(v) || v->attempt != attempt)
        return 0;
    for (int i = 0; i < v->ntms && !sl_coord_view_stopping(v); i++) {
        const sl_coord_tm *jt = &v->tms[i];
        if (!jt->deployed)
            continue;
        Sluice__NotifyCheckpoint n = SLUICE__NOTIFY_CHECKPOINT__INIT;
        n.job_id = (char *)v->job_id;
        n.attempt = attempt;
        n.checkpoint_id = id;
        n.complete = complete;
        Sluice__Request req = SLUICE__REQUEST__INIT;
        req.body_case = SLUICE__REQUEST__BODY_NOTIFY_CHECKPOINT;
        req.notify_checkpoint = &n;
        sl_tmcall_key key;
        chk_key(&key, SL_TMCALL_NOTIFY, v, jt, attempt, id);
        key.flags = (complete ? SL_TMCALL_F_COMPLETE : 0u) | (c != NULL ? chk_flags(c) : 0u);
        int rv = send_call(v, &key, &req);
        if (rv != SL_OK) {
            failed++;
            notify_failed(v, jt->tm_id, jt->addr, id, complete, sl_strerror(rv));
        }
    }
    return failed;
}

/* 1 for every job taskmanager that hosts a source task. */
static char *source_tms(const sl_coord_view *v)
{
    char *src = calloc((size_t)v->ntms + 1, 1);
    if (src == NULL)
        return NULL;
    for (int t = 0; t < v->ntasks; t++)
        if (v->tasks[t].source && v->tasks[t].tm >= 0)
            src[v->tasks[t].tm] = 1;
    return src;
}

static int still_sending(const sl_coord_view *v, const sl_ckrec *c)
{
    return c->status == SL_CKREC_PENDING && sl_coord_view_running(v) && v->attempt == c->attempt;
}

/* A trigger that failed: a refusal counts; a taskmanager that does not
 * answer is for the heartbeat timeout / connection loss to judge. No-op if
 * the checkpoint ended meanwhile. */
static void trigger_failed(sl_coord *cc, const sl_coord_view *v, sl_ckrec *c, const char *tm_id, const char *addr,
                           int refused, const char *why)
{
    char reason[1024];
    snprintf(reason, sizeof(reason), "trigger on taskmanager %s (%s) failed: %s", tm_id, addr,
             why);
    sl_ckrec_fail(cc, v->job_id, c, reason, refused && !c->savepoint, 1);
}

static void trigger_tms(sl_coord *cc, const sl_coord_view *v, sl_ckrec *c, const char *dir)
{
    char *src = source_tms(v);
    if (src == NULL) {
        sl_ckrec_fail(cc, v->job_id, c, "out of memory while triggering", 1, 1);
        return;
    }
    for (int i = 0; i < v->ntms && !sl_coord_view_stopping(v) && still_sending(v, c); i++) {
        if (!src[i])
            continue;
        const sl_coord_tm *jt = &v->tms[i];
        Sluice__TriggerCheckpoint t = SLUICE__TRIGGER_CHECKPOINT__INIT;
        t.job_id = (char *)v->job_id;
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
        sl_tmcall_key key;
        chk_key(&key, SL_TMCALL_TRIGGER, v, jt, c->attempt, c->id);
        key.flags = chk_flags(c);
        int rv = send_call(v, &key, &req);
        if (rv != SL_OK)
            trigger_failed(cc, v, c, jt->tm_id, jt->addr, 0, sl_strerror(rv));
    }
    free(src);
}

/* 1 if every taskmanager c goes to may take one more call now (else the
 * trigger waits for a later round rather than reach only some). */
static int trigger_room(const sl_coord_view *v)
{
    char *src = source_tms(v);
    int ok = 1;
    for (int i = 0; src != NULL && i < v->ntms && ok; i++)
        ok = !src[i] || (v->hooks != NULL && v->hooks->room != NULL &&
                         v->hooks->room(v->arg, v->tms[i].tm_id) > 0);
    free(src);
    return ok;
}

/* ---- loop: outcomes */

static const char *outcome_error(const sl_tmcall_outcome *o)
{
    if (o->rv != SL_OK)
        return sl_strerror(o->rv);
    return o->reply->error[0] != '\0' ? o->reply->error : "refused";
}

static const char *tm_addr(const sl_coord_view *v, const char *tm_id)
{
    for (int i = 0; i < v->ntms; i++)
        if (strcmp(v->tms[i].tm_id, tm_id) == 0)
            return v->tms[i].addr;
    return "?";
}

static void trigger_outcome(sl_coord *cc, const sl_coord_view *v, const sl_tmcall_outcome *o)
{
    sl_ckrec *c = sl_ckrec_find(cc, o->key.chk_id);
    if (c == NULL || c->status != SL_CKREC_PENDING)
        return;
    trigger_failed(cc, v, c, o->key.tm_id, tm_addr(v, o->key.tm_id), o->rv == SL_OK,
                   outcome_error(o));
}

static void notify_outcome(sl_coord *cc, const sl_coord_view *v, const sl_tmcall_outcome *o)
{
    int complete = (o->key.flags & SL_TMCALL_F_COMPLETE) != 0;
    notify_failed(v, o->key.tm_id, tm_addr(v, o->key.tm_id), o->key.chk_id, complete,
                  outcome_error(o));
    if (complete && (o->key.flags & SL_TMCALL_F_STOP))
        sl_warn("job %s: not every taskmanager heard that stop savepoint %" PRIu64
                " completed", v->job_id, o->key.chk_id);
    if (!complete || !sl_coord_view_running(v) || v->attempt != o->key.attempt)
        return;
    if ((o->key.flags & SL_TMCALL_F_FINAL) && cc->final_done) {
        /* sources end only when told: take another final checkpoint */
        sl_warn("job %s: not every taskmanager heard that final checkpoint %" PRIu64
                " completed; taking another one", v->job_id, o->key.chk_id);
        cc->final_done = 0;
    }
}

void sl_trigger_outcome(sl_coord *cc, const sl_coord_view *v, const sl_tmcall_outcome *o)
{
    if (o->rv == SL_OK && o->reply->status == SLUICE__STATUS__STATUS_OK)
        return;
    if (o->key.kind == SL_TMCALL_TRIGGER)
        trigger_outcome(cc, v, o);
    else if (o->key.kind == SL_TMCALL_NOTIFY)
        notify_outcome(cc, v, o);
}

static void send_trigger(sl_coord *cc, sl_coord_view *v, sl_ckrec *c)
{
    char dir[PATH_MAX], reason[PATH_MAX + 128];
    c->sent = 1;
    snprintf(dir, sizeof(dir), "%s", c->dir);
    sl_info("triggering %s %" PRIu64 " for job %s (attempt %u)",
            c->savepoint ? (c->stop ? "stop-with-savepoint" : "savepoint")
            : c->final   ? "final checkpoint"
            : c->manual  ? "manual checkpoint"
                         : "checkpoint",
            c->id, v->job_id, c->attempt);
    if (!sl_jmha_may_act(v->ha)) { /* a leader id may collide with the next leader's */
        sl_ckrec_fail(cc, v->job_id, c, "this jobmanager is not the acting leader", 0, 0);
        c->cleanup = 0;
        return;
    }
    sl_coord_view_unlock(v);
    int rv = sl_fs_mkdir_p(dir);
    int e = errno;
    sl_coord_view_relock(v);
    if (rv != SL_OK) {
        snprintf(reason, sizeof(reason), "cannot create %s: %s", dir, strerror(e));
        sl_ckrec_fail(cc, v->job_id, c, reason, !c->savepoint, 1);
        return;
    }
    trigger_tms(cc, v, c, dir);
}

/* ---- loop: decisions */

int sl_trigger_savepoint_blocks(const sl_coord *cc, uint32_t attempt)
{
    for (const sl_ckrec *c = cc->history; c != NULL; c = c->next) {
        if (c->savepoint && c->status == SL_CKREC_PENDING)
            return 1;
        if (c->stop && c->status == SL_CKREC_COMPLETED && c->attempt == attempt)
            return 1;
    }
    return 0;
}

/* 1 if a taskmanager of the job did not answer a checkpoint call and sent
 * no heartbeat since: the heartbeat timeout will tell whether it is lost. */
static int any_tm_stalled(const sl_coord_view *v)
{
    for (int i = 0; i < v->ntms; i++)
        if (v->tms[i].stalled)
            return 1;
    return 0;
}

void sl_trigger_maybe(sl_coord *cc, const sl_coord_view *v)
{
    int64_t now = cc->now_ms();
    if (!cc->periodic || cc->final_done || !all_tasks_running(v) || any_tm_stalled(v) ||
        sl_trigger_savepoint_blocks(cc, v->attempt))
        return;
    if (sources_ended(v)) {
        if (sl_ckrec_pending(cc, 1) == 0 && sl_ckrec_create(cc, v, 1, 0) == NULL)
            sl_error("job %s: cannot create its final checkpoint", v->job_id);
        cc->last_trigger_ms = now;
        return;
    }
    if (now - cc->last_trigger_ms < cc->interval_ms)
        return;
    if (cc->has_end && now - cc->last_end_ms < cc->min_pause_ms)
        return;
    if (sl_ckrec_pending(cc, 0) >= cc->max_concurrent)
        return;
    cc->last_trigger_ms = now;
    if (sl_ckrec_create(cc, v, 0, 0) == NULL)
        sl_error("job %s: cannot create a checkpoint", v->job_id);
}

static sl_ckrec *oldest_unsent(const sl_coord *cc)
{
    sl_ckrec *best = NULL;
    for (sl_ckrec *c = cc->history; c != NULL; c = c->next)
        if (c->status == SL_CKREC_PENDING && !c->sent && (best == NULL || c->id < best->id))
            best = c;
    return best;
}

void sl_trigger_send_unsent(sl_coord *cc, sl_coord_view *v)
{
    sl_ckrec *c;
    while (sl_coord_view_running(v) && !sl_coord_view_stopping(v) &&
           (c = oldest_unsent(cc)) != NULL && trigger_room(v))
        send_trigger(cc, v, c);
}
