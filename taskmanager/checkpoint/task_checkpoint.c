/* The task side of checkpoints: the mailbox that RPC threads post triggers
 * and notifications into, sources starting a checkpoint between two
 * records, the synchronous snapshot of a chain, forwarding barriers, the
 * final checkpoint of a bounded source, and restoring state at start.
 *
 * Savepoints are checkpoints whose barrier carries the target folder: every
 * task writes its state files there (no state.checkpoints.dir needed).
 * Stop with savepoint: a source emits the SAVEPOINT_STOP barrier, then no
 * record; it waits (mailbox, flushes) until the savepoint completes and
 * then ends without the final watermark, input_ended or a final checkpoint
 * (windows stay unfired in the savepoint); if the savepoint is aborted it
 * goes on. Tasks downstream freeze their input watermark once they took
 * the stop savepoint: the sources' channels then end one by one, and the
 * minimum over the others must not fire windows the savepoint holds open.
 * Restore: keyed state by key-group overlap; non-keyed state of a
 * `redistribute` operator from every old subtask (the operator keeps its
 * share in restore_end); other non-keyed state only at its old
 * parallelism. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/checkpoint_store.h"
#include "taskmanager/state/keygroup.h"
#include "common/log.h"
#include "common/status.h"
#include "common/util.h"
#include "taskmanager/checkpoint/snapshot.h"
#include "taskmanager/task.h"

static void wake_task(sl_task *t)
{
    atomic_store(&t->mb_flag, 1);
    pthread_mutex_lock(&t->gate.mu);
    pthread_cond_broadcast(&t->gate.cv);
    pthread_mutex_unlock(&t->gate.mu);
}

void sl_task_post_trigger(sl_task *t, const sl_barrier *b)
{
    pthread_mutex_lock(&t->mb_mu);
    if (b->id > t->mb_trigger.id)
        t->mb_trigger = *b;
    pthread_mutex_unlock(&t->mb_mu);
    wake_task(t);
}

void sl_task_post_notify(sl_task *t, uint64_t id, int complete)
{
    pthread_mutex_lock(&t->mb_mu);
    if (complete && id > t->mb_complete)
        t->mb_complete = id;
    if (!complete && id > t->mb_abort)
        t->mb_abort = id;
    pthread_mutex_unlock(&t->mb_mu);
    wake_task(t);
}

static int is_source(const sl_task *t)
{
    return t->ops[0]->ops->run != NULL;
}

static int notify_ops(sl_task *t, uint64_t id)
{
    for (int i = 0; i < t->nops; i++) {
        sl_operator *op = t->ops[i];
        if (op->ops->notify_complete == NULL)
            continue;
        int rv = op->ops->notify_complete(op, id);
        if (rv != SL_OK)
            return rv;
    }
    return SL_OK;
}

/* Copies what the mailbox holds; trig->id = 0 unless a new trigger. */
static void take_mailbox(sl_task *t, sl_barrier *trig, uint64_t *done, uint64_t *abort)
{
    pthread_mutex_lock(&t->mb_mu);
    atomic_store(&t->mb_flag, 0);
    trig->id = 0;
    if (t->mb_trigger.id > t->triggered)
        *trig = t->mb_trigger;
    *done = t->mb_complete;
    *abort = t->mb_abort;
    pthread_mutex_unlock(&t->mb_mu);
}

/* A source starts checkpoint trig (declined while it stops). */
static int source_trigger(sl_task *t, const sl_barrier *trig)
{
    t->triggered = trig->id;
    if (t->stop_barrier != 0) {
        sl_task_decline(t, trig->id, "the source is stopping with a savepoint");
        return SL_OK;
    }
    int rv = sl_task_checkpoint(t, trig, 0);
    if (rv == SL_OK && trig->kind == SL_CHK_SAVEPOINT_STOP) {
        t->stop_barrier = trig->id;
        sl_info("task %s %d/%d of job %s: stopping with savepoint %llu", t->chain->name,
                t->subtask, t->parallelism, t->run->job_id, (unsigned long long)trig->id);
    }
    return rv;
}

static int handle_mailbox(sl_task *t)
{
    sl_barrier trig;
    uint64_t done, abort;
    int rv = SL_OK;
    take_mailbox(t, &trig, &done, &abort);
    if (abort > t->aligner.last_done || (abort != 0 && abort >= t->aligner.current))
        sl_barrier_aligner_abort(t, abort);
    if (is_source(t) && trig.id > t->triggered)
        rv = source_trigger(t, &trig);
    if (rv == SL_OK && done > t->completed) {
        t->completed = done;
        rv = notify_ops(t, done);
    }
    if (t->stop_seen != 0 && abort >= t->stop_seen && t->completed < t->stop_seen)
        t->stop_seen = 0; /* the stop was aborted: the watermark moves again */
    if (t->stop_barrier != 0 && t->completed >= t->stop_barrier) {
        t->stopped = 1;
    } else if (t->stop_barrier != 0 && abort >= t->stop_barrier) {
        sl_info("task %s %d/%d of job %s: savepoint %llu aborted, the source goes on",
                t->chain->name, t->subtask, t->parallelism, t->run->job_id,
                (unsigned long long)t->stop_barrier);
        t->stop_barrier = 0;
    }
    return rv;
}

/* After a stop barrier: no records, only the mailbox and flushes until the
 * savepoint completes (SL_ECLOSED, t->stopped) or is aborted (SL_OK). */
static int wait_for_stop(sl_task *t)
{
    for (;;) {
        if (t->stopped)
            return SL_ECLOSED;
        if (t->stop_barrier == 0)
            return SL_OK;
        if (sl_task_canceled(t))
            return SL_ECANCELED;
        int rv = sl_task_flush(t);
        if (rv != SL_OK)
            return rv;
        sl_sleep_ms(5);
        if (atomic_load(&t->mb_flag) && (rv = handle_mailbox(t)) != SL_OK)
            return rv;
    }
}

int sl_task_poll(sl_task *t)
{
    if (!atomic_load(&t->mb_flag) && t->stop_barrier == 0)
        return SL_OK;
    int rv = atomic_load(&t->mb_flag) ? handle_mailbox(t) : SL_OK;
    if (rv != SL_OK || t->stop_barrier == 0)
        return rv;
    return wait_for_stop(t);
}

int sl_task_source_end(sl_task *t)
{
    if (!t->run->checkpointing)
        return SL_OK;
    atomic_store(&t->input_ended, 1);
    for (;;) {
        int rv = sl_task_poll(t);
        if (t->stopped)
            return rv == SL_ECLOSED ? SL_OK : rv;
        if (rv != SL_OK)
            return rv;
        if (t->final_barrier != 0 && t->completed >= t->final_barrier)
            return SL_OK;
        if (sl_task_canceled(t))
            return SL_ECANCELED;
        rv = sl_task_flush(t);
        if (rv != SL_OK)
            return rv;
        sl_sleep_ms(5);
    }
}

/* dir: the savepoint folder, NULL for <chk_root>/chk-<id>. */
static sl_snapshot *new_snapshot(sl_task *t, uint64_t id, const char *dir)
{
    sl_snapshot *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    snprintf(s->job_id, sizeof(s->job_id), "%s", t->run->job_id);
    s->attempt = t->run->attempt;
    s->task = (uint32_t)t->index;
    s->subtask = (uint32_t)t->subtask;
    s->parallelism = (uint32_t)t->parallelism;
    s->chk_id = id;
    if (dir != NULL)
        snprintf(s->chk_dir, sizeof(s->chk_dir), "%s", dir);
    else
        snprintf(s->chk_dir, sizeof(s->chk_dir), "%s/chk-%llu", t->run->chk_root,
                 (unsigned long long)id);
    return s;
}

static void submit(sl_task *t, sl_snapshot *s)
{
    if (sl_uploader_submit(t->run->uploader, s, &t->cancel) != SL_OK)
        sl_debug("checkpoint of task %d dropped: the task is cancelled", t->index);
}

void sl_task_decline(sl_task *t, uint64_t id, const char *reason)
{
    sl_snapshot *s = new_snapshot(t, id, NULL);
    if (s == NULL)
        return;
    s->declined = 1;
    snprintf(s->reason, sizeof(s->reason), "%s", reason);
    submit(t, s);
}

static const char *kind_name(enum sl_stage_kind k)
{
    return k == SL_STAGE_SOURCE ? "source" : k == SL_STAGE_SINK ? "sink" : "operator";
}

static int snapshot_ops(sl_task *t, uint64_t id, sl_snapshot *s)
{
    for (int i = 0; i < t->nops; i++) {
        sl_operator *op = t->ops[i];
        if (op->ops->snapshot == NULL)
            continue;
        sl_snapshot_part *p = &s->parts[s->nparts++];
        snprintf(p->stage, sizeof(p->stage), "%s", op->stage->name);
        snprintf(p->kind, sizeof(p->kind), "%s:%.80s", kind_name(op->stage->kind),
                 op->stage->type);
        p->keyed = op->ops->keyed;
        sl_key_group_range(sl_task_max_parallelism(t), t->parallelism, t->subtask, &p->kg_start,
                           &p->kg_end);
        int rv = op->ops->snapshot_async != NULL ? op->ops->snapshot_async(op, id, &p->keyed_snap)
                                                 : op->ops->snapshot(op, id, &p->data);
        if (rv != SL_OK) {
            snprintf(s->reason, sizeof(s->reason), "snapshot of %.100s failed: %.300s", op->stage->name,
                     t->failure[0] ? t->failure : sl_strerror(rv));
            return rv;
        }
    }
    return SL_OK;
}

/* Why checkpoint b cannot be taken here, or NULL. Savepoints go to their
 * own folder and need no state.checkpoints.dir. */
static const char *cannot_take(const sl_task *t, const sl_barrier *b)
{
    if (b->kind == SL_CHK_CHECKPOINT)
        return t->run->chk_root[0] == '\0' ? "state.checkpoints.dir is not set" : NULL;
    if (b->dir[0] != '/')
        return "the savepoint folder is not an absolute path";
    return NULL;
}

int sl_task_checkpoint(sl_task *t, const sl_barrier *b, int64_t align_ms)
{
    int64_t start = sl_now_ms();
    sl_snapshot *s = new_snapshot(t, b->id, b->kind == SL_CHK_CHECKPOINT ? NULL : b->dir);
    if (s == NULL)
        return SL_ENOMEM;
    s->align_ms = align_ms;
    const char *why = cannot_take(t, b);
    if (why != NULL) {
        s->declined = 1;
        snprintf(s->reason, sizeof(s->reason), "%s", why);
    } else if (snapshot_ops(t, b->id, s) != SL_OK) {
        s->declined = 1;
    }
    s->sync_ms = sl_now_ms() - start;
    int rv = sl_task_emit_barrier(t, b);
    if (b->final && is_source(t))
        t->final_barrier = b->id;
    if (b->kind == SL_CHK_SAVEPOINT_STOP && !is_source(t))
        t->stop_seen = b->id;
    submit(t, s);
    return rv;
}

/* ---- restore */

static int restore_handle(sl_task *t, sl_operator *op, const Sluice__StateHandle *h)
{
    char path[4096], err[512];
    if (!sl_state_name_ok(h->path))
        return sl_task_fail(t, "checkpoint names a bad state file '%s'", h->path);
    snprintf(path, sizeof(path), "%s/%s", t->run->restore_dir, h->path);
    uint8_t *buf = NULL;
    size_t len = 0;
    int rv = sl_state_file_load(path, h->size, h->crc32c, &buf, &len, err, sizeof(err));
    if (rv != SL_OK)
        return sl_task_fail(t, "cannot restore %s: %s", op->stage->name, err);
    rv = op->ops->restore(op, buf, len);
    free(buf);
    if (rv != SL_OK)
        return sl_task_fail(t, "cannot restore %s from %s: %s", op->stage->name, path,
                            t->failure[0] ? t->failure : sl_strerror(rv));
    return SL_OK;
}

static int handle_matches(const sl_task *t, const sl_operator *op, const Sluice__StateHandle *h)
{
    if (strcmp(h->stage, op->stage->name) != 0)
        return 0;
    if (op->ops->redistribute)
        return 1; /* every old subtask's state: the operator picks its share */
    if (!op->ops->keyed)
        return h->subtask == (uint32_t)t->subtask && h->parallelism == (uint32_t)t->parallelism;
    int lo, hi;
    sl_key_group_range(sl_task_max_parallelism(t), t->parallelism, t->subtask, &lo, &hi);
    return h->kg_start <= hi && h->kg_end >= lo;
}

/* Non-keyed state that cannot be redistributed needs the old parallelism. */
static int check_rescalable(sl_task *t, const sl_operator *op)
{
    const Sluice__CheckpointMetadata *md = t->run->restore_md;
    if (op->ops->keyed || op->ops->redistribute)
        return SL_OK;
    for (size_t k = 0; k < md->n_states; k++) {
        const Sluice__StateHandle *h = md->states[k];
        if (strcmp(h->stage, op->stage->name) == 0 && h->parallelism != (uint32_t)t->parallelism)
            return sl_task_fail(t, "cannot restore %s: its state was taken with parallelism %u "
                                "and this operator cannot redistribute it to parallelism %d",
                                op->stage->name, h->parallelism, t->parallelism);
    }
    return SL_OK;
}

static int restore_op(sl_task *t, sl_operator *op, uint64_t *bytes, int *files)
{
    const Sluice__CheckpointMetadata *md = t->run->restore_md;
    int rv = check_rescalable(t, op), restored = 0;
    for (size_t k = 0; k < md->n_states && rv == SL_OK; k++) {
        if (!handle_matches(t, op, md->states[k]))
            continue;
        rv = restore_handle(t, op, md->states[k]);
        *bytes += md->states[k]->size;
        restored++;
    }
    *files += restored;
    if (rv != SL_OK || !restored || !op->ops->redistribute || op->ops->restore_end == NULL)
        return rv;
    rv = op->ops->restore_end(op);
    if (rv != SL_OK)
        return sl_task_fail(t, "cannot restore %s: %s", op->stage->name,
                            t->failure[0] ? t->failure : sl_strerror(rv));
    return SL_OK;
}

int sl_task_restore(sl_task *t)
{
    const Sluice__CheckpointMetadata *md = t->run->restore_md;
    if (md == NULL)
        return SL_OK;
    /* ids go on from a checkpoint of this job; another job's savepoint or
     * retained checkpoint does not constrain this job's ids */
    if (strcmp(md->job_id, t->run->job_id) == 0)
        t->triggered = t->completed = t->aligner.last_done = md->checkpoint_id;
    int64_t start = sl_now_ms();
    uint64_t bytes = 0;
    int files = 0;
    for (int i = 0; i < t->nops; i++) {
        sl_operator *op = t->ops[i];
        if (op->ops->restore == NULL)
            continue;
        int rv = restore_op(t, op, &bytes, &files);
        if (rv != SL_OK)
            return rv;
    }
    if (files > 0)
        sl_info("task %s %d/%d of job %s: restored %llu bytes from %d state file(s) of %s in "
                "%lld ms", t->chain->name, t->subtask, t->parallelism, t->run->job_id,
                (unsigned long long)bytes, files, t->run->restore_dir,
                (long long)(sl_now_ms() - start));
    return SL_OK;
}
