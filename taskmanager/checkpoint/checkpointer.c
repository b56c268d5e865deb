/* The checkpointer of one task (checkpointer.h). */
#include "taskmanager/checkpoint/checkpointer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/status.h"
#include "common/util.h"
#include "taskmanager/checkpoint/restore.h"
#include "taskmanager/state/keygroup.h"

_Static_assert(SL_MAX_STAGES <= SL_UPLOADER_MAX_PARTS, "a chain's snapshot fits one upload");

void sl_ckpt_init(sl_ckpt *ck)
{
    memset(ck, 0, sizeof(*ck));
    pthread_mutex_init(&ck->mb_mu, NULL);
}

int sl_ckpt_setup(sl_ckpt *ck, const sl_ckpt_env *env)
{
    ck->env = *env;
    return sl_align_init(&ck->aligner, env->gate->n, env->exactly_once);
}

void sl_ckpt_destroy(sl_ckpt *ck)
{
    sl_align_free(&ck->aligner);
    pthread_mutex_destroy(&ck->mb_mu);
}

/* ---- mailbox */

static void wake_task(sl_ckpt *ck)
{
    sl_in_gate *g = ck->env.gate;
    atomic_store(&ck->mb_flag, 1);
    pthread_mutex_lock(&g->mu);
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

void sl_ckpt_post_trigger(sl_ckpt *ck, const sl_barrier *b)
{
    pthread_mutex_lock(&ck->mb_mu);
    if (b->id > ck->mb_trigger.id)
        ck->mb_trigger = *b;
    pthread_mutex_unlock(&ck->mb_mu);
    wake_task(ck);
}

void sl_ckpt_post_notify(sl_ckpt *ck, uint64_t id, int complete)
{
    pthread_mutex_lock(&ck->mb_mu);
    if (complete && id > ck->mb_complete)
        ck->mb_complete = id;
    if (!complete && id > ck->mb_abort)
        ck->mb_abort = id;
    pthread_mutex_unlock(&ck->mb_mu);
    wake_task(ck);
}

static int is_source(const sl_ckpt *ck)
{
    return ck->env.ops[0]->ops->run != NULL;
}

/* ---- snapshots and declines */

/* dir: the savepoint folder, NULL for <chk_root>/chk-<id>. */
static sl_uploader_snapshot *new_snapshot(const sl_ckpt *ck, uint64_t id, const char *dir)
{
    const sl_ckpt_env *e = &ck->env;
    sl_uploader_snapshot *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    snprintf(s->job_id, sizeof(s->job_id), "%s", e->job_id);
    s->attempt = e->attempt;
    s->task = (uint32_t)e->index;
    s->subtask = (uint32_t)e->subtask;
    s->parallelism = (uint32_t)e->parallelism;
    s->chk_id = id;
    if (dir != NULL)
        snprintf(s->chk_dir, sizeof(s->chk_dir), "%s", dir);
    else
        snprintf(s->chk_dir, sizeof(s->chk_dir), "%s/chk-%llu", e->chk_root,
                 (unsigned long long)id);
    return s;
}

static void submit(sl_ckpt *ck, sl_uploader_snapshot *s)
{
    if (sl_uploader_submit(ck->env.uploader, s, ck->env.cancel) != SL_OK)
        sl_debug("checkpoint of task %d dropped: the task is cancelled", ck->env.index);
}

/* Declines checkpoint id (reason copied). */
static void decline(sl_ckpt *ck, uint64_t id, const char *reason)
{
    sl_uploader_snapshot *s = new_snapshot(ck, id, NULL);
    if (s == NULL)
        return;
    s->declined = 1;
    snprintf(s->reason, sizeof(s->reason), "%s", reason);
    submit(ck, s);
}

static const char *kind_name(enum sl_stage_kind k)
{
    return k == SL_STAGE_SOURCE ? "source" : k == SL_STAGE_SINK ? "sink" : "operator";
}

static int snapshot_ops(sl_ckpt *ck, uint64_t id, sl_uploader_snapshot *s)
{
    const sl_ckpt_env *e = &ck->env;
    for (int i = 0; i < e->nops; i++) {
        sl_op *op = e->ops[i];
        if (op->ops->snapshot == NULL)
            continue;
        sl_uploader_part *p = &s->parts[s->nparts++];
        snprintf(p->stage, sizeof(p->stage), "%s", op->stage->name);
        snprintf(p->kind, sizeof(p->kind), "%s:%.80s", kind_name(op->stage->kind),
                 op->stage->type);
        p->keyed = op->ops->keyed;
        sl_keygroup_range(e->max_parallelism, e->parallelism, e->subtask, &p->kg_start,
                           &p->kg_end);
        int rv = op->ops->snapshot_async != NULL ? op->ops->snapshot_async(op, id, &p->keyed_snap)
                                                 : op->ops->snapshot(op, id, &p->data);
        if (rv != SL_OK) {
            snprintf(s->reason, sizeof(s->reason), "snapshot of %.100s failed: %.300s",
                     op->stage->name, e->failure[0] ? e->failure : sl_strerror(rv));
            return rv;
        }
    }
    return SL_OK;
}

/* Why checkpoint b cannot be taken here, or NULL. Savepoints go to their
 * own folder and need no state.checkpoints.dir. */
static const char *cannot_take(const sl_ckpt *ck, const sl_barrier *b)
{
    if (b->kind == SL_BARRIER_KIND_CHECKPOINT)
        return ck->env.chk_root[0] == '\0' ? "state.checkpoints.dir is not set" : NULL;
    if (b->dir[0] != '/')
        return "the savepoint folder is not an absolute path";
    return NULL;
}

int sl_ckpt_snapshot(sl_ckpt *ck, const sl_barrier *b, int64_t align_ms,
                     sl_uploader_snapshot **out)
{
    int64_t start = sl_now_ms();
    sl_uploader_snapshot *s = new_snapshot(ck, b->id, b->kind == SL_BARRIER_KIND_CHECKPOINT ? NULL : b->dir);
    if (s == NULL)
        return SL_ENOMEM;
    s->align_ms = align_ms;
    const char *why = cannot_take(ck, b);
    if (why != NULL) {
        s->declined = 1;
        snprintf(s->reason, sizeof(s->reason), "%s", why);
    } else if (snapshot_ops(ck, b->id, s) != SL_OK) {
        s->declined = 1;
    }
    s->sync_ms = sl_now_ms() - start;
    *out = s;
    return SL_OK;
}

void sl_ckpt_submit(sl_ckpt *ck, const sl_barrier *b, sl_uploader_snapshot *s, int forwarded)
{
    const sl_ckpt_env *e = &ck->env;
    if (b->final && is_source(ck))
        ck->final_barrier = b->id;
    if (b->kind == SL_BARRIER_KIND_SAVEPOINT_STOP && !is_source(ck))
        ck->stop_seen = b->id;
    submit(ck, s);
    if (forwarded && b->kind == SL_BARRIER_KIND_SAVEPOINT_STOP && is_source(ck)) {
        ck->stop_barrier = b->id;
        sl_info("task %s %d/%d of job %s: stopping with savepoint %llu", e->name, e->subtask,
                e->parallelism, e->job_id, (unsigned long long)b->id);
    }
}

/* ---- alignment */

/* Unblocks every channel (release), then blocks channel ch (>= 0). */
static void set_blocked(sl_ckpt *ck, int release, int ch)
{
    sl_in_gate *g = ck->env.gate;
    if (!release && ch < 0)
        return;
    pthread_mutex_lock(&g->mu);
    if (release) {
        for (int i = 0; i < g->n; i++)
            g->ch[i]->blocked = 0;
        pthread_cond_broadcast(&g->cv);
    }
    if (ch >= 0)
        g->ch[ch]->blocked = 1;
    pthread_mutex_unlock(&g->mu);
}

static int channel_index(const sl_ckpt *ck, const sl_in_channel *ch)
{
    for (int i = 0; i < ck->env.gate->n; i++)
        if (ck->env.gate->ch[i] == ch)
            return i;
    return -1;
}

/* Carries out what the aligner said for channel ch. */
static void apply(sl_ckpt *ck, int ch, const sl_align_out *o, sl_ckpt_todo *todo)
{
    if (o->decline != 0)
        decline(ck, o->decline, "subsumed by a newer checkpoint");
    set_blocked(ck, o->release, o->block ? ch : -1);
    todo->barrier = o->snapshot ? &ck->aligner.barrier : NULL;
    todo->align_ms = o->align_ms;
}

void sl_ckpt_on_barrier(sl_ckpt *ck, const sl_in_channel *ch, const sl_barrier *b,
                        sl_ckpt_todo *todo)
{
    sl_align_out o;
    int i = channel_index(ck, ch);
    sl_align_on_barrier(&ck->aligner, i, b, sl_now_ms(), &o);
    apply(ck, i, &o, todo);
}

void sl_ckpt_on_channel_end(sl_ckpt *ck, const sl_in_channel *ch, sl_ckpt_todo *todo)
{
    sl_align_out o;
    int i = channel_index(ck, ch);
    sl_align_on_end(&ck->aligner, i, sl_now_ms(), &o);
    apply(ck, i, &o, todo);
}

/* ---- the mailbox, on the task thread */

/* Copies what the mailbox holds; ck->trig.id = 0 unless a new trigger. */
static void take_mailbox(sl_ckpt *ck)
{
    pthread_mutex_lock(&ck->mb_mu);
    atomic_store(&ck->mb_flag, 0);
    ck->trig.id = 0;
    if (ck->mb_trigger.id > ck->triggered)
        ck->trig = ck->mb_trigger;
    ck->mail_done = ck->mb_complete;
    ck->mail_abort = ck->mb_abort;
    pthread_mutex_unlock(&ck->mb_mu);
}

void sl_ckpt_mail_take(sl_ckpt *ck, sl_ckpt_todo *todo)
{
    sl_aligner *a = &ck->aligner;
    todo->barrier = NULL;
    todo->align_ms = 0;
    take_mailbox(ck);
    uint64_t abort = ck->mail_abort;
    if (abort > a->last_done || (abort != 0 && abort >= a->current)) {
        sl_align_out o;
        sl_align_abort(a, abort, &o);
        set_blocked(ck, o.release, -1);
    }
    if (!is_source(ck) || ck->trig.id <= ck->triggered)
        return;
    ck->triggered = ck->trig.id;
    if (ck->stop_barrier != 0)
        decline(ck, ck->trig.id, "the source is stopping with a savepoint");
    else
        todo->barrier = &ck->trig;
}

static int notify_ops(sl_ckpt *ck, uint64_t id)
{
    for (int i = 0; i < ck->env.nops; i++) {
        sl_op *op = ck->env.ops[i];
        if (op->ops->notify_complete == NULL)
            continue;
        int rv = op->ops->notify_complete(op, id);
        if (rv != SL_OK)
            return rv;
    }
    return SL_OK;
}

int sl_ckpt_mail_finish(sl_ckpt *ck, int rv)
{
    const sl_ckpt_env *e = &ck->env;
    uint64_t done = ck->mail_done, abort = ck->mail_abort;
    if (rv == SL_OK && done > ck->completed) {
        ck->completed = done;
        rv = notify_ops(ck, done);
    }
    if (ck->stop_seen != 0 && abort >= ck->stop_seen && ck->completed < ck->stop_seen)
        ck->stop_seen = 0; /* the stop was aborted: the watermark moves again */
    if (ck->stop_barrier != 0 && ck->completed >= ck->stop_barrier) {
        ck->stopped = 1;
    } else if (ck->stop_barrier != 0 && abort >= ck->stop_barrier) {
        sl_info("task %s %d/%d of job %s: savepoint %llu aborted, the source goes on", e->name,
                e->subtask, e->parallelism, e->job_id, (unsigned long long)ck->stop_barrier);
        ck->stop_barrier = 0;
    }
    return rv;
}

/* ---- sources: end of input, stop with savepoint */

void sl_ckpt_set_input_ended(sl_ckpt *ck)
{
    atomic_store(&ck->input_ended, 1);
}

int sl_ckpt_input_ended(const sl_ckpt *ck)
{
    return atomic_load(&ck->input_ended);
}

int sl_ckpt_final_done(const sl_ckpt *ck)
{
    return ck->final_barrier != 0 && ck->completed >= ck->final_barrier;
}

int sl_ckpt_stopping(const sl_ckpt *ck)
{
    return ck->stop_barrier != 0;
}

int sl_ckpt_stopped(const sl_ckpt *ck)
{
    return ck->stopped;
}

int sl_ckpt_watermark_frozen(const sl_ckpt *ck)
{
    return ck->stop_seen != 0;
}

/* ---- restore */

int sl_ckpt_restore(sl_ckpt *ck, char *err, size_t errlen)
{
    const sl_ckpt_env *e = &ck->env;
    const Sluice__CheckpointMetadata *md = e->restore_md;
    if (md == NULL)
        return SL_OK;
    /* ids go on from a checkpoint of this job; another job's savepoint or
     * retained checkpoint does not constrain this job's ids */
    if (strcmp(md->job_id, e->job_id) == 0) {
        ck->triggered = ck->completed = md->checkpoint_id;
        sl_align_restored(&ck->aligner, md->checkpoint_id);
    }
    sl_restore_chain c = {
        .ops = e->ops, .nops = e->nops, .subtask = e->subtask, .parallelism = e->parallelism,
        .max_parallelism = e->max_parallelism, .md = md, .dir = e->restore_dir,
        .failure = e->failure,
    };
    int64_t start = sl_now_ms();
    uint64_t bytes;
    int files;
    int rv = sl_restore_run(&c, &bytes, &files, err, errlen);
    if (rv == SL_OK && files > 0)
        sl_info("task %s %d/%d of job %s: restored %llu bytes from %d state file(s) of %s in "
                "%lld ms", e->name, e->subtask, e->parallelism, e->job_id,
                (unsigned long long)bytes, files, e->restore_dir,
                (long long)(sl_now_ms() - start));
    return rv;
}
