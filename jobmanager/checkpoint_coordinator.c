/* The checkpoint coordinator of a job (see checkpoint_coordinator.h): the
 * records and their state machine (setup, trigger requests, acks,
 * completion, aborts, the loop step). checkpoint_internal.h lists the other
 * checkpoint_*.c modules and what each owns.
 *
 * A checkpoint record is PENDING from its trigger until every task acked
 * (COMPLETED: _metadata written, taskmanagers notified) or it is aborted
 * (FAILED). Records live in cc->history, newest first; the loop frees the
 * ended ones beyond SL_CHK_RECENT. Completed checkpoints that are kept on
 * disk are listed by id in cc->retained.
 *
 * File system work (mkdir, _metadata, verification, removal) and RPCs run on
 * the loop thread with jm->mu released. While it is released, handlers may
 * add records (manual triggers), record acks of pending checkpoints and
 * mark pending ones FAILED, but never free anything: a record, its folder
 * name and the state copies of a fully acked checkpoint stay put, and the
 * loop re-checks the record's status after every unlocked call. */
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

/* ---- setup */

static int read_settings(sl_chk_coord *cc, const sl_config *cfg)
{
    const char *retention;
    int rv = sl_config_get_ms(cfg, "execution.checkpointing.timeout", &cc->timeout_ms);
    if (rv == SL_OK)
        rv = sl_config_get_ms(cfg, "execution.checkpointing.min-pause", &cc->min_pause_ms);
    if (rv == SL_OK)
        rv = sl_config_get_int(cfg, "execution.checkpointing.max-concurrent-checkpoints",
                               &cc->max_concurrent);
    if (rv == SL_OK)
        rv = sl_config_get_int(cfg, "execution.checkpointing.tolerable-failed-checkpoints",
                               &cc->tolerable);
    if (rv == SL_OK)
        rv = sl_config_get_int(cfg, "state.checkpoints.num-retained", &cc->num_retained);
    if (rv == SL_OK)
        rv = sl_config_get_string(cfg, "execution.checkpointing.externalized-checkpoint-retention",
                                  &retention);
    if (rv == SL_OK)
        cc->retain_on_cancel = strcmp(retention, "RETAIN_ON_CANCELLATION") == 0;
    if (rv == SL_OK)
        rv = sl_config_get_bool(cfg, "execution.state-recovery.allow-empty-on-failure",
                                &cc->allow_empty);
    return rv;
}

int sl_chk_init(sl_chk_coord *cc, const sl_config *cfg, char *err, size_t errlen)
{
    const char *dir;
    memset(cc, 0, sizeof(*cc));
    int rv = sl_config_get_ms(cfg, "execution.checkpointing.interval", &cc->interval_ms);
    cc->periodic = rv == SL_OK;
    if (rv == SL_OK || rv == SL_ENOTFOUND)
        rv = sl_config_get_string(cfg, "state.checkpoints.dir", &dir);
    if (rv == SL_OK && (cc->root = strdup(dir)) == NULL)
        rv = SL_ENOMEM;
    if (rv == SL_ENOTFOUND)
        rv = SL_OK;
    if (rv == SL_OK) {
        rv = sl_config_get_string(cfg, "state.savepoints.dir", &dir);
        if (rv == SL_OK && (cc->savepoint_root = strdup(dir)) == NULL)
            rv = SL_ENOMEM;
        if (rv == SL_ENOTFOUND)
            rv = SL_OK;
    }
    if (rv == SL_OK && cc->periodic && cc->root == NULL) {
        snprintf(err, errlen,
                 "execution.checkpointing.interval is set but state.checkpoints.dir is not");
        return SL_EINVAL;
    }
    if (rv == SL_OK)
        rv = read_settings(cc, cfg);
    if (rv != SL_OK) {
        snprintf(err, errlen, "cannot read the checkpoint settings: %s", sl_strerror(rv));
        return rv == SL_EINVAL ? SL_EPROTO : rv;
    }
    return SL_OK;
}

static void task_states_free(sl_chk_task *t)
{
    for (size_t i = 0; i < t->nstates; i++) {
        free(t->states[i].stage);
        free(t->states[i].path);
        free(t->states[i].kind);
    }
    free(t->states);
    t->states = NULL;
    t->nstates = 0;
}

void sl_chk_free_acks(sl_checkpoint *c)
{
    for (int t = 0; c->tasks != NULL && t < c->ntasks; t++)
        task_states_free(&c->tasks[t]);
}

static void chk_free(sl_checkpoint *c)
{
    if (c == NULL)
        return;
    sl_chk_free_acks(c);
    free(c->tasks);
    free(c->dir);
    free(c->failure);
    free(c->decline);
    free(c->request_id);
    free(c);
}

void sl_chk_free(sl_chk_coord *cc)
{
    sl_checkpoint *c = cc->history;
    while (c != NULL) {
        sl_checkpoint *next = c->next;
        chk_free(c);
        c = next;
    }
    free(cc->retained);
    free(cc->root);
    free(cc->restored_from_dir);
    free(cc->restore_dir);
    free(cc->initial_dir);
    free(cc->savepoint_root);
    memset(cc, 0, sizeof(*cc));
}

/* ---- small helpers */

static const char *job_name(const sl_job *job)
{
    return job->spec != NULL && job->spec->name != NULL ? job->spec->name : "";
}

sl_checkpoint *sl_chk_find(const sl_chk_coord *cc, uint64_t id)
{
    for (sl_checkpoint *c = cc->history; c != NULL; c = c->next)
        if (c->id == id)
            return c;
    return NULL;
}

sl_checkpoint *sl_chk_find_request(const sl_chk_coord *cc, const char *request_id)
{
    if (request_id[0] == '\0')
        return NULL;
    for (sl_checkpoint *c = cc->history; c != NULL; c = c->next)
        if (c->request_id != NULL && strcmp(c->request_id, request_id) == 0)
            return c;
    return NULL;
}

/* Pending checkpoints; manual ones only if with_manual. */
int64_t sl_chk_pending_count(const sl_chk_coord *cc, int with_manual)
{
    int64_t n = 0;
    for (const sl_checkpoint *c = cc->history; c != NULL; c = c->next)
        n += c->status == SL_CHK_PENDING && (with_manual || !c->manual);
    return n;
}

/* ---- records */

sl_checkpoint *sl_chk_create(sl_job *job, int final, int manual)
{
    sl_chk_coord *cc = &job->chk;
    char dir[PATH_MAX];
    if (cc->root == NULL || sl_chk_path(cc->root, job->id, cc->last_id + 1, dir, sizeof(dir)) != SL_OK)
        return NULL;
    sl_checkpoint *c = sl_chk_create_in(job, dir);
    if (c != NULL) {
        c->final = final;
        c->manual = manual;
    }
    return c;
}

sl_checkpoint *sl_chk_create_in(sl_job *job, const char *dir)
{
    sl_chk_coord *cc = &job->chk;
    uint64_t id = cc->last_id + 1;
    sl_checkpoint *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->ntasks = job->graph.ntasks;
    c->tasks = calloc((size_t)c->ntasks, sizeof(*c->tasks));
    c->dir = strdup(dir);
    if (c->tasks == NULL || c->dir == NULL) {
        chk_free(c);
        return NULL;
    }
    cc->last_id = id;
    c->id = id;
    c->attempt = job->attempt;
    c->trigger_wall_ms = sl_wall_ms();
    c->trigger_mono_ms = sl_now_ms();
    c->next = cc->history;
    cc->history = c;
    cc->triggered++;
    return c;
}

/* PENDING -> FAILED. counted: towards the tolerable failures; notify: the
 * loop tells the taskmanagers. Frees nothing (the loop does). */
void sl_chk_fail(sl_job *job, sl_checkpoint *c, const char *reason, int counted, int notify)
{
    sl_chk_coord *cc = &job->chk;
    if (c->status != SL_CHK_PENDING)
        return;
    c->status = SL_CHK_FAILED;
    c->failure = strdup(reason);
    c->end_mono_ms = sl_now_ms();
    c->cleanup = 1;
    c->notify_abort = notify;
    cc->failed++;
    cc->last_end_ms = c->end_mono_ms;
    cc->has_end = 1;
    if (counted)
        cc->consecutive_failures++;
    sl_warn("checkpoint %" PRIu64 " of job %s failed: %s", c->id, job->id, reason);
}

/* ---- handlers and hooks */

static int ack_from_owner(const sl_job *job, const Sluice__AckCheckpoint *a)
{
    if (job->tms == NULL || a->task >= (uint32_t)job->graph.ntasks)
        return 0;
    const sl_task *t = &job->tasks[a->task];
    return strcmp(job->tms[job->slot_tm[t->subtask]].tm_id, a->tm_id) == 0;
}

static int copy_states(sl_chk_task *t, const Sluice__AckCheckpoint *a)
{
    if (a->n_states == 0)
        return SL_OK;
    if ((t->states = calloc(a->n_states, sizeof(*t->states))) == NULL)
        return SL_ENOMEM;
    for (size_t i = 0; i < a->n_states; i++) {
        const Sluice__StateHandle *h = a->states[i];
        if (h == NULL || !sl_state_name_ok(h->path))
            return SL_EINVAL;
        sl_chk_state *s = &t->states[t->nstates++];
        s->stage = strdup(h->stage != NULL ? h->stage : "");
        s->path = strdup(h->path);
        s->kind = strdup(h->kind != NULL ? h->kind : "");
        if (s->stage == NULL || s->path == NULL || s->kind == NULL)
            return SL_ENOMEM;
        s->subtask = h->subtask;
        s->parallelism = h->parallelism;
        s->size = h->size;
        s->crc32c = h->crc32c;
        s->kg_start = h->kg_start;
        s->kg_end = h->kg_end;
    }
    return SL_OK;
}

static void record_decline(sl_job *job, sl_checkpoint *c, const Sluice__AckCheckpoint *a,
                           const char *why)
{
    char name[300], reason[2048];
    sl_jm_task_name(job, (int)a->task, name, sizeof(name));
    if (why != NULL)
        snprintf(reason, sizeof(reason), "%s %s", name, why);
    else
        snprintf(reason, sizeof(reason), "declined by %s: %.1500s", name,
                 a->reason[0] != '\0' ? a->reason : "no reason given");
    c->decline = strdup(reason);
}

static void record_ack(sl_job *job, sl_checkpoint *c, const Sluice__AckCheckpoint *a)
{
    sl_chk_task *t = &c->tasks[a->task];
    int rv = copy_states(t, a);
    if (rv != SL_OK) {
        task_states_free(t);
        record_decline(job, c, a,
                       rv == SL_EINVAL ? "acked an invalid state handle"
                                       : "acked, but its state handles could not be recorded");
        return;
    }
    t->acked = 1;
    t->state_size = a->state_size;
    t->sync_ms = a->sync_ms;
    t->async_ms = a->async_ms;
    t->align_ms = a->align_ms;
    c->nacked++;
    c->state_size += a->state_size;
}

void sl_chk_on_ack(sl_jm *jm, const Sluice__AckCheckpoint *a)
{
    sl_job *job = sl_jm_job_find(jm, a->job_id);
    if (job == NULL || a->checkpoint_id == 0)
        return;
    sl_chk_coord *cc = &job->chk;
    sl_checkpoint *c = sl_chk_find(cc, a->checkpoint_id);
    int current = !sl_jm_job_terminal(job->state) && job->holds_slots &&
                  a->attempt == job->attempt;
    if (current && !ack_from_owner(job, a))
        return; /* unknown task, or not where it runs */
    if (!current || c == NULL || c->status != SL_CHK_PENDING || c->attempt != a->attempt) {
        /* too late: whatever it wrote must go (unless that is a kept one) */
        if (c != NULL && c->savepoint && c->status == SL_CHK_FAILED) {
            c->cleanup = 1; /* a late writer may have recreated its folder */
            sl_jm_kick(jm);
        } else if ((c == NULL || c->status != SL_CHK_COMPLETED) &&
                   !sl_chk_retained_has(cc, a->checkpoint_id)) {
            sl_info("job %s: late ack of checkpoint %" PRIu64 " (attempt %u, task %u): "
                    "its files will be removed", job->id, a->checkpoint_id, a->attempt, a->task);
            cc->sweep = 1;
            sl_jm_kick(jm);
        }
        return;
    }
    if (c->tasks[a->task].acked || c->decline != NULL)
        return; /* a resent ack, or aborting anyway */
    if (a->declined)
        record_decline(job, c, a, NULL);
    else
        record_ack(job, c, a);
    sl_jm_kick(jm);
}

int sl_chk_trigger_now(sl_jm *jm, sl_job *job, const char *request_id, uint64_t *id, char *err,
                       size_t errlen)
{
    const sl_checkpoint *known = sl_chk_find_request(&job->chk, request_id);
    if (known != NULL && !known->savepoint) {
        *id = known->id;
        return SL_OK;
    }
    if (job->state != SLUICE__JOB_STATE__JOB_RUNNING) {
        snprintf(err, errlen, "job %s is not running (%s)", job->id,
                 sl_job_state_name(job->state));
        return SL_EBUSY;
    }
    if (job->chk.root == NULL) {
        snprintf(err, errlen, "job %s cannot take checkpoints: state.checkpoints.dir is not set",
                 job->id);
        return SL_EINVAL;
    }
    if (sl_chk_savepoint_blocks(job)) {
        snprintf(err, errlen, "job %s is taking a savepoint; try again when it is done", job->id);
        return SL_EBUSY;
    }
    int64_t pending = sl_chk_pending_count(&job->chk, 1);
    if (pending >= job->chk.max_concurrent) {
        snprintf(err, errlen,
                 "job %s has %" PRId64 " checkpoint(s) in progress "
                 "(execution.checkpointing.max-concurrent-checkpoints is %" PRId64
                 "); try again when one completes", job->id, pending, job->chk.max_concurrent);
        return SL_EBUSY;
    }
    sl_checkpoint *c = sl_chk_create(job, 0, 1);
    if (c != NULL && request_id[0] != '\0' && (c->request_id = strdup(request_id)) == NULL) {
        sl_chk_fail(job, c, "out of memory", 0, 0);
        c = NULL;
    }
    if (c == NULL) {
        snprintf(err, errlen, "cannot create a checkpoint of job %s", job->id);
        return SL_ENOMEM;
    }
    sl_info("checkpoint %" PRIu64 " of job %s requested", c->id, job->id);
    *id = c->id;
    sl_jm_kick(jm);
    return SL_OK;
}

void sl_chk_abort_all(sl_job *job, const char *reason)
{
    for (sl_checkpoint *c = job->chk.history; c != NULL; c = c->next)
        if (c->status == SL_CHK_PENDING)
            sl_chk_fail(job, c, reason, 0, 0);
}

void sl_chk_on_running(sl_job *job)
{
    sl_chk_coord *cc = &job->chk;
    cc->last_trigger_ms = sl_now_ms();
    cc->final_done = 0;
    cc->consecutive_failures = 0;
}

void sl_chk_on_job_end(sl_job *job)
{
    char reason[64];
    sl_chk_coord *cc = &job->chk;
    snprintf(reason, sizeof(reason), "the job is %s", sl_job_state_name(job->state));
    sl_chk_abort_all(job, reason);
    cc->ended = 1;
    cc->sweep = 1;
    cc->late_sweep_ms = sl_now_ms() + SL_CHK_LATE_SWEEP_MS;
}

/* ---- loop: decisions */

static void check_pending(sl_job *job)
{
    sl_chk_coord *cc = &job->chk;
    char reason[128];
    int64_t now = sl_now_ms();
    for (sl_checkpoint *c = cc->history; c != NULL; c = c->next) {
        if (c->status != SL_CHK_PENDING)
            continue;
        if (c->decline != NULL) {
            sl_chk_fail(job, c, c->decline, !c->savepoint, 1);
        } else if (now - c->trigger_mono_ms >= cc->timeout_ms) {
            snprintf(reason, sizeof(reason), "expired before completing (timeout %" PRId64 " ms)",
                     cc->timeout_ms);
            sl_chk_fail(job, c, reason, !c->savepoint, 1);
        }
    }
}

static int build_metadata(const sl_job *job, const sl_checkpoint *c,
                          Sluice__CheckpointMetadata *md, Sluice__StateHandle **hs_out,
                          Sluice__StateHandle ***ptrs_out)
{
    size_t n = 0, k = 0;
    for (int t = 0; t < c->ntasks; t++)
        n += c->tasks[t].nstates;
    Sluice__StateHandle *hs = calloc(n + 1, sizeof(*hs));
    Sluice__StateHandle **ptrs = calloc(n + 1, sizeof(*ptrs));
    *hs_out = hs;
    *ptrs_out = ptrs;
    if (hs == NULL || ptrs == NULL)
        return SL_ENOMEM;
    for (int t = 0; t < c->ntasks; t++) {
        for (size_t i = 0; i < c->tasks[t].nstates; i++, k++) {
            const sl_chk_state *s = &c->tasks[t].states[i];
            sluice__state_handle__init(&hs[k]);
            hs[k].stage = s->stage;
            hs[k].subtask = s->subtask;
            hs[k].parallelism = s->parallelism;
            hs[k].path = s->path;
            hs[k].size = s->size;
            hs[k].crc32c = s->crc32c;
            hs[k].kg_start = s->kg_start;
            hs[k].kg_end = s->kg_end;
            hs[k].kind = s->kind;
            ptrs[k] = &hs[k];
        }
    }
    sluice__checkpoint_metadata__init(md);
    md->job_id = (char *)job->id;
    md->job_name = (char *)job_name(job);
    md->checkpoint_id = c->id;
    md->trigger_time_ms = c->trigger_wall_ms;
    md->complete_time_ms = sl_wall_ms();
    md->max_parallelism = (uint32_t)job->spec->max_parallelism;
    md->savepoint = c->savepoint;
    md->n_states = n;
    md->states = ptrs;
    return SL_OK;
}

static void subsume_older(sl_job *job, uint64_t id)
{
    char reason[64];
    snprintf(reason, sizeof(reason), "subsumed by checkpoint %" PRIu64, id);
    for (sl_checkpoint *o = job->chk.history; o != NULL; o = o->next)
        if (o->status == SL_CHK_PENDING && o->id < id && !o->savepoint)
            sl_chk_fail(job, o, reason, 0, 1);
}

static void mark_completed(sl_jm *jm, sl_job *job, sl_checkpoint *c)
{
    sl_chk_coord *cc = &job->chk;
    int64_t now = sl_now_ms();
    c->status = SL_CHK_COMPLETED;
    c->end_mono_ms = now;
    cc->completed++;
    cc->consecutive_failures = 0;
    cc->last_end_ms = now;
    cc->has_end = 1;
    if (c->final && c->attempt == job->attempt)
        cc->final_done = 1;
    sl_chk_free_acks(c);
    sl_info("completed %s %" PRIu64 " for job %s (%" PRIu64 " bytes, %" PRId64 " ms)%s%s",
            c->savepoint ? "savepoint" : "checkpoint", c->id, job->id, c->state_size,
            now - c->trigger_mono_ms, c->savepoint ? ": " : "", c->savepoint ? c->dir : "");
    subsume_older(job, c->id);
    if (c->savepoint) {
        /* owned by the user: never retained, never removed by us */
        if (sl_chk_notify_tms(jm, job, c->id, c->attempt, 1) > 0 && c->stop)
            sl_warn("job %s: not every taskmanager heard that stop savepoint %" PRIu64
                    " completed", job->id, c->id);
        return;
    }
    if (sl_chk_retained_add(cc, c->id) != SL_OK) {
        sl_error("job %s: out of memory: checkpoint %" PRIu64 " is not tracked for retention",
                 job->id, c->id);
        return;
    }
    if (sl_chk_notify_tms(jm, job, c->id, c->attempt, 1) > 0 && c->final && cc->final_done &&
        job->state == SLUICE__JOB_STATE__JOB_RUNNING && job->attempt == c->attempt) {
        /* sources end only when told: take another final checkpoint */
        sl_warn("job %s: not every taskmanager heard that final checkpoint %" PRIu64
                " completed; taking another one", job->id, c->id);
        cc->final_done = 0;
    }
    sl_chk_apply_retention(jm, job);
}

static void complete_one(sl_jm *jm, sl_job *job, sl_checkpoint *c)
{
    char dir[PATH_MAX], err[1024], reason[1200];
    Sluice__CheckpointMetadata md;
    Sluice__StateHandle *hs = NULL, **ptrs = NULL;
    snprintf(dir, sizeof(dir), "%s", c->dir);
    int rv = build_metadata(job, c, &md, &hs, &ptrs);
    if (rv == SL_OK) {
        pthread_mutex_unlock(&jm->mu);
        rv = sl_metadata_write(dir, &md, err, sizeof(err));
        pthread_mutex_lock(&jm->mu);
    } else {
        snprintf(err, sizeof(err), "%s", sl_strerror(rv));
    }
    free(hs);
    free(ptrs);
    if (c->status != SL_CHK_PENDING)
        return; /* aborted meanwhile: its folder goes with the cleanup */
    if (rv != SL_OK) {
        snprintf(reason, sizeof(reason), "cannot write the metadata: %s", err);
        sl_chk_fail(job, c, reason, !c->savepoint, 1);
        return;
    }
    mark_completed(jm, job, c);
}

static sl_checkpoint *oldest_ready(const sl_job *job)
{
    sl_checkpoint *best = NULL;
    for (sl_checkpoint *c = job->chk.history; c != NULL; c = c->next)
        if (c->status == SL_CHK_PENDING && c->decline == NULL && c->nacked == c->ntasks &&
            c->attempt == job->attempt && (best == NULL || c->id < best->id))
            best = c;
    return best;
}

static void complete_ready(sl_jm *jm, sl_job *job)
{
    sl_checkpoint *c;
    while (job->state == SLUICE__JOB_STATE__JOB_RUNNING && !jm->stopping &&
           (c = oldest_ready(job)) != NULL)
        complete_one(jm, job, c);
}

static void check_tolerable(sl_jm *jm, sl_job *job)
{
    sl_chk_coord *cc = &job->chk;
    char reason[128];
    if (job->state != SLUICE__JOB_STATE__JOB_RUNNING ||
        cc->consecutive_failures <= cc->tolerable)
        return;
    snprintf(reason, sizeof(reason),
             "exceeded the tolerable number of failed checkpoints (%" PRId64 ")", cc->tolerable);
    cc->consecutive_failures = 0;
    sl_jm_job_fail(jm, job, reason);
}

static void trim_history(sl_chk_coord *cc)
{
    int kept = 0;
    sl_checkpoint **pp = &cc->history;
    while (*pp != NULL) {
        sl_checkpoint *c = *pp;
        if (c->status == SL_CHK_PENDING || c->cleanup || c->notify_abort ||
            kept < SL_CHK_RECENT) {
            kept++;
            pp = &c->next;
            continue;
        }
        *pp = c->next;
        chk_free(c);
    }
}

void sl_chk_step(sl_jm *jm, sl_job *job)
{
    sl_chk_coord *cc = &job->chk;
    if (cc->root == NULL && cc->history == NULL)
        return;
    if (job->state == SLUICE__JOB_STATE__JOB_RUNNING) {
        check_pending(job);
        complete_ready(jm, job);
        check_tolerable(jm, job);
    }
    sl_chk_cleanup_failed(jm, job);
    if (job->state == SLUICE__JOB_STATE__JOB_RUNNING) {
        sl_chk_maybe_trigger(jm, job);
        sl_chk_send_unsent(jm, job);
    }
    if (cc->ended && cc->late_sweep_ms != 0 && sl_now_ms() >= cc->late_sweep_ms) {
        cc->late_sweep_ms = 0;
        cc->sweep = 1;
    }
    if (cc->sweep && !jm->stopping) {
        if (cc->ended)
            sl_chk_end_cleanup(jm, job);
        else
            sl_chk_sweep(jm, job);
    }
    trim_history(cc);
}
