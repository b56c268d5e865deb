/* The task side of checkpoints: the mailbox that RPC threads post triggers
 * and notifications into, sources starting a checkpoint between two
 * records, the synchronous snapshot of a chain, forwarding barriers, the
 * final checkpoint of a bounded source, and restoring state at start. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/checkpoint_store.h"
#include "common/keygroup.h"
#include "common/log.h"
#include "common/status.h"
#include "common/util.h"
#include "taskmanager/snapshot.h"
#include "taskmanager/task.h"

static void wake_task(sl_task *t)
{
    atomic_store(&t->mb_flag, 1);
    pthread_mutex_lock(&t->gate.mu);
    pthread_cond_broadcast(&t->gate.cv);
    pthread_mutex_unlock(&t->gate.mu);
}

void sl_task_post_trigger(sl_task *t, uint64_t id, int64_t ts, int final)
{
    pthread_mutex_lock(&t->mb_mu);
    if (id > t->mb_trigger) {
        t->mb_trigger = id;
        t->mb_trigger_ts = ts;
        t->mb_trigger_final = final;
    }
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

int sl_task_poll(sl_task *t)
{
    if (!atomic_load(&t->mb_flag))
        return SL_OK;
    pthread_mutex_lock(&t->mb_mu);
    atomic_store(&t->mb_flag, 0);
    uint64_t trig = t->mb_trigger, done = t->mb_complete, abort = t->mb_abort;
    int64_t ts = t->mb_trigger_ts;
    int final = t->mb_trigger_final;
    pthread_mutex_unlock(&t->mb_mu);
    int rv = SL_OK;
    if (abort > t->aligner.last_done || (abort != 0 && abort >= t->aligner.current))
        sl_barrier_aligner_abort(t, abort);
    if (is_source(t) && trig > t->triggered) {
        t->triggered = trig;
        rv = sl_task_checkpoint(t, trig, ts, final, 0);
    }
    if (rv == SL_OK && done > t->completed) {
        t->completed = done;
        rv = notify_ops(t, done);
    }
    return rv;
}

int sl_task_source_end(sl_task *t)
{
    if (!t->run->checkpointing)
        return SL_OK;
    atomic_store(&t->input_ended, 1);
    for (;;) {
        int rv = sl_task_poll(t);
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

static sl_snapshot *new_snapshot(sl_task *t, uint64_t id)
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
    sl_snapshot *s = new_snapshot(t, id);
    if (s == NULL)
        return;
    s->declined = 1;
    snprintf(s->reason, sizeof(s->reason), "%s", reason);
    submit(t, s);
}

static int snapshot_ops(sl_task *t, uint64_t id, sl_snapshot *s)
{
    for (int i = 0; i < t->nops; i++) {
        sl_operator *op = t->ops[i];
        if (op->ops->snapshot == NULL)
            continue;
        sl_snapshot_part *p = &s->parts[s->nparts++];
        snprintf(p->stage, sizeof(p->stage), "%s", op->stage->name);
        p->keyed = op->ops->keyed;
        sl_key_group_range(sl_task_max_parallelism(t), t->parallelism, t->subtask, &p->kg_start,
                           &p->kg_end);
        int rv = op->ops->snapshot(op, id, &p->data);
        if (rv != SL_OK) {
            snprintf(s->reason, sizeof(s->reason), "snapshot of %.100s failed: %.300s", op->stage->name,
                     t->failure[0] ? t->failure : sl_strerror(rv));
            return rv;
        }
    }
    return SL_OK;
}

int sl_task_checkpoint(sl_task *t, uint64_t id, int64_t ts, int final, int64_t align_ms)
{
    int64_t start = sl_now_ms();
    sl_snapshot *s = new_snapshot(t, id);
    if (s == NULL)
        return SL_ENOMEM;
    s->align_ms = align_ms;
    if (t->run->chk_root[0] == '\0') {
        s->declined = 1;
        snprintf(s->reason, sizeof(s->reason), "state.checkpoints.dir is not set");
    } else if (snapshot_ops(t, id, s) != SL_OK) {
        s->declined = 1;
    }
    s->sync_ms = sl_now_ms() - start;
    int rv = sl_task_emit_barrier(t, id, ts, final);
    if (final && is_source(t))
        t->final_barrier = id;
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
    if (!op->ops->keyed)
        return h->subtask == (uint32_t)t->subtask && h->parallelism == (uint32_t)t->parallelism;
    int lo, hi;
    sl_key_group_range(sl_task_max_parallelism(t), t->parallelism, t->subtask, &lo, &hi);
    return h->kg_start <= hi && h->kg_end >= lo;
}

int sl_task_restore(sl_task *t)
{
    const Sluice__CheckpointMetadata *md = t->run->restore_md;
    if (md == NULL)
        return SL_OK;
    t->triggered = t->completed = t->aligner.last_done = md->checkpoint_id;
    for (int i = 0; i < t->nops; i++) {
        sl_operator *op = t->ops[i];
        if (op->ops->restore == NULL)
            continue;
        for (size_t k = 0; k < md->n_states; k++) {
            if (!handle_matches(t, op, md->states[k]))
                continue;
            int rv = restore_handle(t, op, md->states[k]);
            if (rv != SL_OK)
                return rv;
        }
    }
    return SL_OK;
}
