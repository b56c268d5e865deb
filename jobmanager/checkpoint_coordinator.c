/* The checkpoint coordinator of a job (see checkpoint_coordinator.h): the
 * state machine of its records (setup, trigger requests, acks, completion,
 * aborts, the loop round). The records themselves are checkpoint_record.c's;
 * triggers and calls checkpoint_trigger.c's; folders checkpoint_retention.c's.
 *
 * A checkpoint record is PENDING from its trigger until every task acked
 * (COMPLETED: _metadata written, taskmanagers notified) or it is aborted
 * (FAILED). Records live in cc->history, newest first; the loop frees the
 * ended ones beyond SL_COORD_RECENT. Completed checkpoints that are kept on
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
#include "jobmanager/checkpoint_coordinator.h"
#include "jobmanager/checkpoint_retention.h"
#include "jobmanager/ha.h"
#include "jobmanager/checkpoint_trigger.h"

/* ---- setup */

static int read_settings(sl_coord *cc, const sl_config *cfg)
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

int sl_coord_init(sl_coord *cc, const sl_config *cfg, char *err, size_t errlen)
{
    const char *dir;
    memset(cc, 0, sizeof(*cc));
    cc->now_ms = sl_now_ms;
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

void sl_coord_free(sl_coord *cc)
{
    sl_ckrec *c = cc->history;
    while (c != NULL) {
        sl_ckrec *next = c->next;
        sl_ckrec_free(c);
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

/* ---- handlers and hooks */

static int ack_from_owner(const sl_coord_view *v, const Sluice__AckCheckpoint *a)
{
    if (a->task >= (uint32_t)v->ntasks)
        return 0;
    int tm = v->tasks[a->task].tm;
    return tm >= 0 && tm < v->ntms && strcmp(v->tms[tm].tm_id, a->tm_id) == 0;
}

static void task_name(const sl_coord_view *v, uint32_t t, char *buf, size_t len)
{
    const sl_coord_exec *e = &v->tasks[t];
    snprintf(buf, len, "task %s %d/%d", e->chain, e->subtask + 1, e->parallelism);
}

static int copy_states(sl_ckrec_ack *t, const Sluice__AckCheckpoint *a)
{
    if (a->n_states == 0)
        return SL_OK;
    if ((t->states = calloc(a->n_states, sizeof(*t->states))) == NULL)
        return SL_ENOMEM;
    for (size_t i = 0; i < a->n_states; i++) {
        const Sluice__StateHandle *h = a->states[i];
        if (h == NULL || !sl_store_state_name_ok(h->path))
            return SL_EINVAL;
        sl_ckrec_state *s = &t->states[t->nstates++];
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

static void record_decline(const sl_coord_view *v, sl_ckrec *c, const Sluice__AckCheckpoint *a,
                           const char *why)
{
    char name[300], reason[2048];
    task_name(v, a->task, name, sizeof(name));
    if (why != NULL)
        snprintf(reason, sizeof(reason), "%s %s", name, why);
    else
        snprintf(reason, sizeof(reason), "declined by %s: %.1500s", name,
                 a->reason[0] != '\0' ? a->reason : "no reason given");
    c->decline = strdup(reason);
}

static void record_ack(const sl_coord_view *v, sl_ckrec *c, const Sluice__AckCheckpoint *a)
{
    sl_ckrec_ack *t = &c->tasks[a->task];
    int rv = copy_states(t, a);
    if (rv != SL_OK) {
        sl_ckrec_ack_clear(t);
        record_decline(v, c, a,
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

int sl_coord_on_ack(sl_coord *cc, const sl_coord_view *v, const Sluice__AckCheckpoint *a)
{
    if (a->checkpoint_id == 0)
        return 0;
    sl_ckrec *c = sl_ckrec_find(cc, a->checkpoint_id);
    int current = v->active && a->attempt == v->attempt;
    if (current && !ack_from_owner(v, a))
        return 0; /* unknown task, or not where it runs */
    if (!current || c == NULL || c->status != SL_CKREC_PENDING || c->attempt != a->attempt) {
        /* too late: whatever it wrote must go (unless that is a kept one) */
        if (c != NULL && c->savepoint && c->status == SL_CKREC_FAILED) {
            c->cleanup = 1; /* a late writer may have recreated its folder */
            return 1;
        }
        if ((c == NULL || c->status != SL_CKREC_COMPLETED) &&
            !sl_retention_has(cc, a->checkpoint_id)) {
            /* rate-limited: any peer can send acks */
            sl_log_every(SL_LOG_INFO,
                         "job %s: late ack of checkpoint %" PRIu64 " (attempt %u, task %u): "
                         "its files will be removed", v->job_id, a->checkpoint_id, a->attempt,
                         a->task);
            cc->sweep = 1;
            return 1;
        }
        return 0;
    }
    if (c->tasks[a->task].acked || c->decline != NULL)
        return 0; /* a resent ack, or aborting anyway */
    if (a->declined)
        record_decline(v, c, a, NULL);
    else
        record_ack(v, c, a);
    return 1;
}

int sl_coord_trigger_now(sl_coord *cc, const sl_coord_view *v, const char *request_id,
                         uint64_t *id, char *err, size_t errlen)
{
    const sl_ckrec *known = sl_ckrec_find_request(cc, request_id);
    if (known != NULL && !known->savepoint) {
        *id = known->id;
        return SL_OK;
    }
    if (!sl_coord_view_running(v)) {
        snprintf(err, errlen, "job %s is not running (%s)", v->job_id,
                 sl_job_state_name(v->state));
        return SL_EBUSY;
    }
    if (cc->root == NULL) {
        snprintf(err, errlen, "job %s cannot take checkpoints: state.checkpoints.dir is not set",
                 v->job_id);
        return SL_EINVAL;
    }
    if (sl_trigger_savepoint_blocks(cc, v->attempt)) {
        snprintf(err, errlen, "job %s is taking a savepoint; try again when it is done",
                 v->job_id);
        return SL_EBUSY;
    }
    int64_t pending = sl_ckrec_pending(cc, 1);
    if (pending >= cc->max_concurrent) {
        snprintf(err, errlen,
                 "job %s has %" PRId64 " checkpoint(s) in progress "
                 "(execution.checkpointing.max-concurrent-checkpoints is %" PRId64
                 "); try again when one completes", v->job_id, pending, cc->max_concurrent);
        return SL_EBUSY;
    }
    sl_ckrec *c = sl_ckrec_create(cc, v, 0, 1);
    if (c != NULL && request_id[0] != '\0' && (c->request_id = strdup(request_id)) == NULL) {
        sl_ckrec_fail(cc, v->job_id, c, "out of memory", 0, 0);
        c = NULL;
    }
    if (c == NULL) {
        snprintf(err, errlen, "cannot create a checkpoint of job %s", v->job_id);
        return SL_ENOMEM;
    }
    sl_info("checkpoint %" PRIu64 " of job %s requested", c->id, v->job_id);
    *id = c->id;
    return SL_OK;
}

void sl_coord_abort_all(sl_coord *cc, const char *job_id, const char *reason)
{
    for (sl_ckrec *c = cc->history; c != NULL; c = c->next)
        if (c->status == SL_CKREC_PENDING)
            sl_ckrec_fail(cc, job_id, c, reason, 0, 0);
}

void sl_coord_on_running(sl_coord *cc)
{
    cc->last_trigger_ms = cc->now_ms();
    cc->final_done = 0;
    cc->consecutive_failures = 0;
}

void sl_coord_on_job_end(sl_coord *cc, const char *job_id, Sluice__JobState state)
{
    char reason[64];
    snprintf(reason, sizeof(reason), "the job is %s", sl_job_state_name(state));
    sl_coord_abort_all(cc, job_id, reason);
    cc->ended = 1;
    cc->end_state = state;
    cc->sweep = 1;
    cc->late_sweep_ms = cc->now_ms() + SL_COORD_LATE_SWEEP_MS;
}

/* ---- loop: decisions */

static void check_pending(sl_coord *cc, const sl_coord_view *v)
{
    char reason[128];
    int64_t now = cc->now_ms();
    for (sl_ckrec *c = cc->history; c != NULL; c = c->next) {
        if (c->status != SL_CKREC_PENDING)
            continue;
        if (c->decline != NULL) {
            sl_ckrec_fail(cc, v->job_id, c, c->decline, !c->savepoint, 1);
        } else if (now - c->trigger_mono_ms >= cc->timeout_ms) {
            snprintf(reason, sizeof(reason), "expired before completing (timeout %" PRId64 " ms)",
                     cc->timeout_ms);
            sl_ckrec_fail(cc, v->job_id, c, reason, !c->savepoint, 1);
            /* Its writers are likely stuck on the store: removing the files
             * they write would block this loop (unlink waits for a write
             * in progress) as long as the store does. A chk-* folder goes
             * with the sweep of its late acks or of the next completed
             * checkpoint, or at the end; a savepoint's now. */
            if (!c->savepoint)
                c->cleanup = 0;
        }
    }
}

static int build_metadata(const sl_coord_view *v, const sl_ckrec *c,
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
            const sl_ckrec_state *s = &c->tasks[t].states[i];
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
    md->job_id = (char *)v->job_id;
    md->job_name = (char *)(v->job_name != NULL ? v->job_name : "");
    md->checkpoint_id = c->id;
    md->trigger_time_ms = c->trigger_wall_ms;
    md->complete_time_ms = sl_wall_ms();
    md->max_parallelism = (uint32_t)v->max_parallelism;
    md->savepoint = c->savepoint;
    md->n_states = n;
    md->states = ptrs;
    return SL_OK;
}

static void subsume_older(sl_coord *cc, const sl_coord_view *v, uint64_t id)
{
    char reason[64];
    snprintf(reason, sizeof(reason), "subsumed by checkpoint %" PRIu64, id);
    for (sl_ckrec *o = cc->history; o != NULL; o = o->next)
        if (o->status == SL_CKREC_PENDING && o->id < id && !o->savepoint)
            sl_ckrec_fail(cc, v->job_id, o, reason, 0, 1);
}

static void mark_completed(sl_coord *cc, sl_coord_view *v, sl_ckrec *c)
{
    int64_t now = cc->now_ms();
    c->status = SL_CKREC_COMPLETED;
    c->end_mono_ms = now;
    cc->completed++;
    cc->consecutive_failures = 0;
    cc->last_end_ms = now;
    cc->has_end = 1;
    if (c->final && c->attempt == v->attempt)
        cc->final_done = 1;
    sl_ckrec_free_acks(c);
    sl_info("completed %s %" PRIu64 " for job %s (%" PRIu64 " bytes, %" PRId64 " ms)%s%s",
            c->savepoint ? "savepoint" : "checkpoint", c->id, v->job_id, c->state_size,
            now - c->trigger_mono_ms, c->savepoint ? ": " : "", c->savepoint ? c->dir : "");
    subsume_older(cc, v, c->id);
    if (c->savepoint) {
        /* owned by the user: never retained, never removed by us */
        if (sl_trigger_notify(cc, v, c->id, c->attempt, 1) > 0 && c->stop)
            sl_warn("job %s: not every taskmanager heard that stop savepoint %" PRIu64
                    " completed", v->job_id, c->id);
        return;
    }
    if (sl_retention_add(cc, c->id) != SL_OK) {
        sl_error("job %s: out of memory: checkpoint %" PRIu64 " is not tracked for retention",
                 v->job_id, c->id);
        return;
    }
    if (sl_trigger_notify(cc, v, c->id, c->attempt, 1) > 0 && c->final && cc->final_done &&
        sl_coord_view_running(v) && v->attempt == c->attempt) {
        /* sources end only when told: take another final checkpoint */
        sl_warn("job %s: not every taskmanager heard that final checkpoint %" PRIu64
                " completed; taking another one", v->job_id, c->id);
        cc->final_done = 0;
    }
    sl_retention_apply(cc, v);
}

/* 1 if c completed. */
static int complete_one(sl_coord *cc, sl_coord_view *v, sl_ckrec *c)
{
    char dir[PATH_MAX], err[1024], reason[1200];
    Sluice__CheckpointMetadata md;
    Sluice__StateHandle *hs = NULL, **ptrs = NULL;
    snprintf(dir, sizeof(dir), "%s", c->dir);
    if (!sl_jmha_may_act(v->ha))
        return 0; /* a later round, if leading still */
    int rv = build_metadata(v, c, &md, &hs, &ptrs);
    if (rv == SL_OK) {
        sl_coord_view_unlock(v);
        rv = sl_store_metadata_write(dir, &md, err, sizeof(err));
        sl_coord_view_relock(v);
    } else {
        snprintf(err, sizeof(err), "%s", sl_strerror(rv));
    }
    free(hs);
    free(ptrs);
    if (c->status != SL_CKREC_PENDING)
        return 0; /* aborted meanwhile: its folder goes with the cleanup */
    if (rv != SL_OK) {
        snprintf(reason, sizeof(reason), "cannot write the metadata: %s", err);
        sl_ckrec_fail(cc, v->job_id, c, reason, !c->savepoint, 1);
        return 0;
    }
    if (v->ha != NULL && !c->savepoint) {
        /* complete once its pointer is stored: only then may sinks commit */
        if (sl_jmha_pointer_put(v->ha, v->job_id, c->id, c->dir) != SL_OK) {
            sl_ckrec_fail(cc, v->job_id, c, "the job has no high-availability record", 1, 1);
            return 0;
        }
        c->ha_wait = 1;
        return 0;
    }
    mark_completed(cc, v, c);
    return 1;
}

static sl_ckrec *oldest_waiting(const sl_coord *cc)
{
    sl_ckrec *best = NULL;
    for (sl_ckrec *c = cc->history; c != NULL; c = c->next)
        if (c->status == SL_CKREC_PENDING && c->ha_wait && (best == NULL || c->id < best->id))
            best = c;
    return best;
}

/* Checkpoints whose pointer high availability was storing complete once it
 * is stored, in id order; the newest completed (0 = none). */
static uint64_t settle_pointers(sl_coord *cc, sl_coord_view *v)
{
    sl_ckrec *c;
    uint64_t done = 0;
    while (!sl_coord_view_stopping(v) && (c = oldest_waiting(cc)) != NULL) {
        int rv = sl_jmha_pointer_state(v->ha, v->job_id, c->id);
        if (rv == SL_EBUSY)
            break;
        c->ha_wait = 0;
        if (rv != SL_OK) { /* nothing was written */
            sl_ckrec_fail(cc, v->job_id, c, "cannot store its pointer for high availability", 1,
                          1);
            continue;
        }
        mark_completed(cc, v, c);
        done = c->id;
    }
    return done;
}

static sl_ckrec *oldest_ready(const sl_coord *cc, uint32_t attempt)
{
    sl_ckrec *best = NULL;
    for (sl_ckrec *c = cc->history; c != NULL; c = c->next)
        if (c->status == SL_CKREC_PENDING && c->decline == NULL && c->nacked == c->ntasks &&
            c->attempt == attempt && (best == NULL || c->id < best->id))
            best = c;
    return best;
}

/* The newest checkpoint completed, 0 if none. */
static uint64_t complete_ready(sl_coord *cc, sl_coord_view *v)
{
    sl_ckrec *c;
    uint64_t done = 0;
    while (sl_coord_view_running(v) && !sl_coord_view_stopping(v) && sl_jmha_may_act(v->ha) &&
           (c = oldest_ready(cc, v->attempt)) != NULL && !c->ha_wait) {
        uint64_t id = c->id;
        if (complete_one(cc, v, c))
            done = id;
    }
    return done;
}

static void check_tolerable(sl_coord *cc, const sl_coord_view *v, sl_coord_outcome *out)
{
    if (!sl_coord_view_running(v) || cc->consecutive_failures <= cc->tolerable)
        return;
    snprintf(out->reason, sizeof(out->reason),
             "exceeded the tolerable number of failed checkpoints (%" PRId64 ")", cc->tolerable);
    cc->consecutive_failures = 0;
    out->verdict = SL_COORD_FAIL_JOB;
}

static void trim_history(sl_coord *cc)
{
    int kept = 0;
    sl_ckrec **pp = &cc->history;
    while (*pp != NULL) {
        sl_ckrec *c = *pp;
        if (c->status == SL_CKREC_PENDING || c->cleanup || c->notify_abort ||
            kept < SL_COORD_RECENT) {
            kept++;
            pp = &c->next;
            continue;
        }
        *pp = c->next;
        sl_ckrec_free(c);
    }
}

static int coord_idle(const sl_coord *cc)
{
    return cc->root == NULL && cc->history == NULL;
}

void sl_coord_judge(sl_coord *cc, sl_coord_view *v, sl_coord_outcome *out)
{
    out->verdict = SL_COORD_NOTHING;
    out->completed = 0;
    out->reason[0] = '\0';
    if (coord_idle(cc))
        return;
    if (v->ha != NULL)
        out->completed = settle_pointers(cc, v);
    if (!sl_coord_view_running(v))
        return;
    check_pending(cc, v);
    uint64_t done = complete_ready(cc, v);
    if (done != 0)
        out->completed = done;
    check_tolerable(cc, v, out);
}

/* Tells the taskmanagers about aborted checkpoints. */
static void notify_aborts(sl_coord *cc, const sl_coord_view *v)
{
    for (sl_ckrec *c = cc->history; c != NULL && !sl_coord_view_stopping(v); c = c->next) {
        if (c->status != SL_CKREC_FAILED || !c->notify_abort)
            continue;
        c->notify_abort = 0;
        sl_trigger_notify(cc, v, c->id, c->attempt, 0);
    }
}

void sl_coord_act(sl_coord *cc, sl_coord_view *v)
{
    if (coord_idle(cc))
        return;
    sl_retention_cleanup_failed(cc, v);
    notify_aborts(cc, v);
    if (sl_coord_view_running(v)) {
        sl_trigger_maybe(cc, v);
        sl_trigger_send_unsent(cc, v);
    }
    if (cc->ended && cc->late_sweep_ms != 0 && cc->now_ms() >= cc->late_sweep_ms) {
        cc->late_sweep_ms = 0;
        cc->sweep = 1;
    }
    if (cc->sweep && !sl_coord_view_stopping(v)) {
        if (cc->ended)
            sl_retention_end_cleanup(cc, v);
        else
            sl_retention_sweep(cc, v);
    }
    trim_history(cc);
}

void sl_coord_call_outcome(sl_coord *cc, const sl_coord_view *v, const sl_tmcall_outcome *o)
{
    sl_trigger_outcome(cc, v, o);
}
