#include "taskmanager/task.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/bytes.h"
#include "taskmanager/state/keygroup.h"
#include "common/log.h"
#include "common/status.h"
#include "common/util.h"

#define TASK_POLL_MS 100
#define STOP_POLL_MS 5 /* a source waiting for its final or stop savepoint */

int sl_task_fail(sl_task *t, const char *fmt, ...)
{
    if (t->failure[0] == '\0') {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(t->failure, sizeof(t->failure), fmt, ap);
        va_end(ap);
    }
    return SL_EIO;
}

int sl_task_canceled(const sl_task *t)
{
    return atomic_load(&t->cancel) || atomic_load(&t->run->cancel);
}

int sl_task_max_parallelism(const sl_task *t)
{
    return t->run->spec->max_parallelism;
}

static int flush_channel(sl_task *t, sl_out_channel *ch)
{
    int rv = sl_out_channel_flush(ch, &t->cancel);
    if (rv == SL_ECLOSED)
        return sl_task_fail(t, "data connection to %s lost", ch->peer->url);
    if (rv == SL_EPROTO)
        return sl_task_fail(t, "%s", ch->error);
    return rv;
}

void sl_task_publish_metrics(sl_task *t)
{
    atomic_store_explicit(&t->pub_in, t->records_in, memory_order_relaxed);
    atomic_store_explicit(&t->pub_out, t->records_out, memory_order_relaxed);
    atomic_store_explicit(&t->pub_late, t->late_records, memory_order_relaxed);
}

void sl_task_read_metrics(const sl_task *t, uint64_t *in, uint64_t *out, uint64_t *late)
{
    *in = atomic_load_explicit(&t->pub_in, memory_order_relaxed);
    *out = atomic_load_explicit(&t->pub_out, memory_order_relaxed);
    *late = atomic_load_explicit(&t->pub_late, memory_order_relaxed);
}

int sl_task_flush(sl_task *t)
{
    sl_task_publish_metrics(t);
    for (int e = 0; e < t->nout; e++) {
        for (int i = 0; i < t->out[e].nch; i++) {
            sl_out_channel *ch = t->out[e].ch[i];
            if (ch != NULL && ch->len > 0) {
                int rv = flush_channel(t, ch);
                if (rv != SL_OK)
                    return rv;
            }
        }
    }
    t->last_flush_ms = sl_now_ms();
    return SL_OK;
}

/* Appends one event (tag, then a row or raw bytes) to ch, flushing first
 * when it does not fit. */
static int append_event(sl_task *t, sl_out_channel *ch, uint8_t tag, const sl_row *row,
                        const uint8_t *raw, size_t rawlen)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        size_t used = rawlen;
        if (ch->len + 1 + rawlen < ch->cap) {
            int rv = SL_OK;
            if (row != NULL)
                rv = sl_row_encode(row, ch->buf + ch->len + 1, ch->cap - ch->len - 1, &used);
            else if (rawlen > 0)
                memcpy(ch->buf + ch->len + 1, raw, rawlen);
            if (rv == SL_OK) {
                ch->buf[ch->len] = tag;
                ch->len += 1 + used;
                return SL_OK;
            }
            if (rv != SL_ENOSPC)
                return sl_task_fail(t, "cannot encode a record: %s", sl_strerror(rv));
        }
        if (ch->len == 0)
            break;
        int rv = flush_channel(t, ch);
        if (rv != SL_OK)
            return rv;
    }
    return sl_task_fail(t, "a record does not fit in a network buffer of %zu bytes", ch->cap);
}

static sl_out_channel *pick_channel(sl_task *t, sl_out_edge *oe, const sl_row *row)
{
    switch (oe->edge->part) {
    case SL_PART_FORWARD:
        return oe->ch[t->subtask];
    case SL_PART_HASH: {
        int maxp = sl_task_max_parallelism(t);
        int32_t h = sl_keygroup_key_hash(row, oe->cons->key_idx, oe->cons->nkeys);
        int kg = sl_keygroup_for_hash(h, maxp);
        return oe->ch[sl_keygroup_operator_index(kg, maxp, oe->nch)];
    }
    case SL_PART_REBALANCE:
        oe->rr = (oe->rr + 1) % oe->nch;
        return oe->ch[oe->rr];
    }
    return NULL;
}

int sl_task_emit(sl_task *t, const sl_row *row)
{
    for (int e = 0; e < t->nout; e++) {
        sl_out_channel *ch = pick_channel(t, &t->out[e], row);
        if (ch == NULL)
            return sl_task_fail(t, "no channel for a record on edge %d", e);
        int rv = append_event(t, ch, SL_FRAME_EV_ROW, row, NULL, 0);
        if (rv != SL_OK)
            return rv;
    }
    t->records_out++;
    if ((++t->emits & 255) == 0 && sl_now_ms() - t->last_flush_ms >= t->buffer_timeout_ms)
        return sl_task_flush(t);
    return SL_OK;
}

/* Sends one event to every output channel and flushes each, so the event
 * ends its frame. */
static int broadcast_event(sl_task *t, uint8_t tag, const uint8_t *raw, size_t rawlen)
{
    for (int e = 0; e < t->nout; e++) {
        for (int i = 0; i < t->out[e].nch; i++) {
            sl_out_channel *ch = t->out[e].ch[i];
            if (ch == NULL)
                continue;
            int rv = append_event(t, ch, tag, NULL, raw, rawlen);
            if (rv == SL_OK)
                rv = flush_channel(t, ch);
            if (rv != SL_OK)
                return rv;
        }
    }
    return SL_OK;
}

/* Appends a barrier to every output channel and flushes them. */
static int emit_barrier(sl_task *t, const sl_barrier *b)
{
    uint8_t enc[SL_BARRIER_MAX_LEN];
    size_t len;
    if (sl_barrier_encode(b, enc, sizeof(enc), &len) != SL_OK)
        return sl_task_fail(t, "cannot encode barrier %llu (bad savepoint folder)",
                            (unsigned long long)b->id);
    int rv = broadcast_event(t, SL_FRAME_EV_BARRIER, enc, len);
    t->last_flush_ms = sl_now_ms();
    return rv;
}

/* Appends a watermark to every output channel; buffers go out when full or
 * on the buffer timeout, like rows. */
static int append_watermark(sl_task *t, int64_t wm)
{
    uint8_t b[SL_FRAME_WATERMARK_LEN];
    sl_put_le64(b, (uint64_t)wm);
    for (int e = 0; e < t->nout; e++) {
        for (int i = 0; i < t->out[e].nch; i++) {
            sl_out_channel *ch = t->out[e].ch[i];
            int rv = ch != NULL ? append_event(t, ch, SL_FRAME_EV_WATERMARK, NULL, b, sizeof(b)) : SL_OK;
            if (rv != SL_OK)
                return rv;
        }
    }
    return SL_OK;
}

/* Event time reached wm at operator `from` of the chain: each operator's
 * callback in order, then the outputs. */
static int advance_watermark(sl_task *t, int from, int64_t wm)
{
    if (wm <= t->wm_out)
        return SL_OK;
    t->wm_out = wm;
    for (int i = from; i < t->nops; i++) {
        sl_op *op = t->ops[i];
        int rv = op->ops->watermark != NULL ? op->ops->watermark(op, wm) : SL_OK;
        if (rv != SL_OK)
            return rv;
    }
    return append_watermark(t, wm);
}

int sl_task_source_watermark(sl_task *t, int64_t wm)
{
    return advance_watermark(t, 1, wm);
}

/* Combined input watermark: the minimum over channels that have not ended. */
static int input_watermark(sl_task *t)
{
    if (sl_ckpt_watermark_frozen(&t->ckpt))
        return SL_OK; /* stopping with a savepoint: nothing fires after it */
    int64_t wm = INT64_MAX;
    int open = 0;
    for (int i = 0; i < t->gate.n; i++) {
        sl_in_channel *ch = t->gate.ch[i];
        if (ch->finished)
            continue;
        open = 1;
        if (ch->watermark < wm)
            wm = ch->watermark;
    }
    if (!open || wm <= t->wm_in)
        return SL_OK;
    t->wm_in = wm;
    return advance_watermark(t, 0, wm);
}

static int send_end_of_input(sl_task *t)
{
    return broadcast_event(t, SL_FRAME_EV_END, NULL, 0);
}

/* ---- checkpoints: what the checkpointer asks for */

/* Takes the checkpoint the checkpointer asked for, if any: its synchronous
 * snapshot, the barrier to every output, then the upload. */
static int checkpoint_now(sl_task *t, const sl_ckpt_todo *todo)
{
    if (todo->barrier == NULL)
        return SL_OK;
    sl_uploader_snapshot *s = NULL;
    int rv = sl_ckpt_snapshot(&t->ckpt, todo->barrier, todo->align_ms, &s);
    if (rv != SL_OK)
        return rv;
    rv = emit_barrier(t, todo->barrier);
    sl_ckpt_submit(&t->ckpt, todo->barrier, s, rv == SL_OK);
    return rv;
}

static int handle_mailbox(sl_task *t)
{
    sl_ckpt_todo todo;
    sl_ckpt_mail_take(&t->ckpt, &todo);
    return sl_ckpt_mail_finish(&t->ckpt, checkpoint_now(t, &todo));
}

/* After a stop barrier: no records, only the mailbox and flushes until the
 * savepoint completes (SL_ECLOSED) or is aborted (SL_OK). */
static int wait_for_stop(sl_task *t)
{
    for (;;) {
        if (sl_ckpt_stopped(&t->ckpt))
            return SL_ECLOSED;
        if (!sl_ckpt_stopping(&t->ckpt))
            return SL_OK;
        if (sl_task_canceled(t))
            return SL_ECANCELED;
        int rv = sl_task_flush(t);
        if (rv != SL_OK)
            return rv;
        sl_sleep_ms(STOP_POLL_MS);
        if (sl_ckpt_has_mail(&t->ckpt) && (rv = handle_mailbox(t)) != SL_OK)
            return rv;
    }
}

int sl_task_poll(sl_task *t)
{
    if (sl_ckpt_idle(&t->ckpt))
        return SL_OK;
    int rv = sl_ckpt_has_mail(&t->ckpt) ? handle_mailbox(t) : SL_OK;
    if (rv != SL_OK || !sl_ckpt_stopping(&t->ckpt))
        return rv;
    return wait_for_stop(t);
}

/* A source read all its input. With checkpointing on it waits for a final
 * checkpoint to complete before end of input goes downstream. */
static int source_end(sl_task *t)
{
    if (!t->run->checkpointing)
        return SL_OK;
    sl_ckpt_set_input_ended(&t->ckpt);
    for (;;) {
        int rv = sl_task_poll(t);
        if (sl_ckpt_stopped(&t->ckpt))
            return rv == SL_ECLOSED ? SL_OK : rv;
        if (rv != SL_OK)
            return rv;
        if (sl_ckpt_final_done(&t->ckpt))
            return SL_OK;
        if (sl_task_canceled(t))
            return SL_ECANCELED;
        rv = sl_task_flush(t);
        if (rv != SL_OK)
            return rv;
        sl_sleep_ms(STOP_POLL_MS);
    }
}

static int restore(sl_task *t)
{
    char err[sizeof(t->failure)] = "";
    int rv = sl_ckpt_restore(&t->ckpt, err, sizeof(err));
    if (rv != SL_OK && err[0] != '\0')
        sl_task_fail(t, "%s", err);
    return rv;
}

static int on_barrier(sl_task *t, sl_in_channel *ch, const sl_barrier *b)
{
    sl_ckpt_todo todo;
    sl_ckpt_on_barrier(&t->ckpt, ch, b, &todo);
    return checkpoint_now(t, &todo);
}

static int channel_ended(sl_task *t, sl_in_channel *ch)
{
    pthread_mutex_lock(&t->gate.mu);
    ch->finished = 1;
    pthread_mutex_unlock(&t->gate.mu);
    int rv = input_watermark(t);
    if (rv != SL_OK)
        return rv;
    sl_ckpt_todo todo;
    sl_ckpt_on_channel_end(&t->ckpt, ch, &todo);
    return checkpoint_now(t, &todo);
}

/* ---- the input loop */

/* Delivers every event of one frame to the chain's head. */
static int process_frame(sl_task *t, sl_in_channel *ch, nng_msg *msg)
{
    sl_frame_hdr h;
    const uint8_t *p;
    size_t len;
    if (sl_frame_parse(nng_msg_body(msg), nng_msg_len(msg), &h, &p, &len) != SL_OK)
        return sl_task_fail(t, "malformed data frame");
    sl_op *head = t->ops[0];
    sl_row row;
    size_t off = 0;
    while (off < len) {
        uint8_t tag = p[off++];
        if (tag == SL_FRAME_EV_END)
            return channel_ended(t, ch);
        if (tag == SL_FRAME_EV_BARRIER) {
            sl_barrier b;
            size_t used;
            if (sl_barrier_decode(p + off, len - off, &b, &used) != SL_OK)
                return sl_task_fail(t, "malformed barrier from subtask %u", h.src);
            return on_barrier(t, ch, &b);
        }
        if (tag == SL_FRAME_EV_WATERMARK) {
            if (len - off < SL_FRAME_WATERMARK_LEN)
                return sl_task_fail(t, "truncated watermark from subtask %u", h.src);
            int64_t wm = (int64_t)sl_get_le64(p + off);
            off += SL_FRAME_WATERMARK_LEN;
            if (wm <= ch->watermark)
                continue;
            ch->watermark = wm;
            int rv = input_watermark(t);
            if (rv != SL_OK)
                return rv;
            continue;
        }
        size_t used;
        if (tag != SL_FRAME_EV_ROW || sl_row_decode(p + off, len - off, &row, &used) != SL_OK)
            return sl_task_fail(t, "malformed event in a data frame from subtask %u", h.src);
        off += used;
        t->records_in++;
        int rv = head->ops->process(head, &row);
        if (rv != SL_OK)
            return rv;
    }
    return SL_OK;
}

static int run_inputs(sl_task *t)
{
    for (int i = 0; i < t->gate.n; i++)
        t->gate.ch[i]->watermark = INT64_MIN;
    int rv = sl_in_gate_open(&t->gate, &t->cancel);
    while (rv == SL_OK) {
        sl_in_channel *ch;
        nng_msg *msg;
        rv = sl_in_gate_next(&t->gate, TASK_POLL_MS, &ch, &msg);
        if (rv == SL_ECLOSED)
            return SL_OK;
        if (rv == SL_ETIMEDOUT) {
            rv = sl_task_canceled(t) ? SL_ECANCELED : sl_task_poll(t);
            if (rv == SL_OK)
                rv = sl_task_flush(t);
            continue;
        }
        if (rv == SL_EPROTO)
            return sl_task_fail(t, "%s", t->gate.error);
        rv = process_frame(t, ch, msg);
        int rv2 = sl_in_gate_release(&t->gate, ch, msg, &t->cancel);
        if (rv == SL_OK)
            rv = rv2;
        if (rv == SL_OK)
            rv = sl_task_poll(t);
        if (rv == SL_OK && sl_now_ms() - t->last_flush_ms >= t->buffer_timeout_ms)
            rv = sl_task_flush(t);
    }
    return rv;
}

static int wait_for_start(sl_task *t)
{
    sl_job_run *r = t->run;
    pthread_mutex_lock(&r->start_mu);
    while (!r->started && !sl_task_canceled(t))
        pthread_cond_wait(&r->start_cv, &r->start_mu);
    pthread_mutex_unlock(&r->start_mu);
    return sl_task_canceled(t) ? SL_ECANCELED : SL_OK;
}

static int open_chain(sl_task *t, int *nopened)
{
    for (int i = 0; i < t->nops; i++) {
        int rv = t->ops[i]->ops->open(t->ops[i]);
        if (rv != SL_OK)
            return rv;
        (*nopened)++;
    }
    return SL_OK;
}

static int finish_chain(sl_task *t)
{
    for (int i = 0; i < t->nops; i++) {
        if (t->ops[i]->ops->finish == NULL)
            continue;
        int rv = t->ops[i]->ops->finish(t->ops[i]);
        if (rv != SL_OK)
            return rv;
    }
    return SL_OK;
}

static int run_chain(sl_task *t, int *nopened)
{
    int rv = open_chain(t, nopened);
    if (rv == SL_OK)
        rv = restore(t);
    if (rv != SL_OK)
        return rv;
    t->last_flush_ms = sl_now_ms();
    t->wm_in = t->wm_out = INT64_MIN;
    sl_op *head = t->ops[0];
    if (head->ops->run != NULL) {
        rv = head->ops->run(head);
        /* stopped with a savepoint: no final watermark, no final checkpoint */
        if (sl_ckpt_stopped(&t->ckpt))
            rv = rv == SL_ECLOSED ? SL_OK : rv;
        else if (rv == SL_OK && !sl_task_canceled(t))
            rv = sl_task_source_watermark(t, INT64_MAX);
        if (rv == SL_OK && !sl_ckpt_stopped(&t->ckpt))
            rv = source_end(t);
    } else {
        rv = run_inputs(t);
    }
    if (rv == SL_OK && sl_task_canceled(t))
        rv = SL_ECANCELED;
    if (rv == SL_OK)
        rv = finish_chain(t);
    if (rv == SL_OK)
        rv = sl_task_flush(t);
    if (rv == SL_OK)
        rv = send_end_of_input(t);
    return rv;
}

void *sl_task_main(void *arg)
{
    sl_task *t = arg;
    int nopened = 0;
    int rv = wait_for_start(t);
    if (rv == SL_OK) {
        atomic_store(&t->state, SLUICE__TASK_STATE__TASK_RUNNING);
        rv = run_chain(t, &nopened);
    }
    for (int i = nopened - 1; i >= 0; i--)
        t->ops[i]->ops->close(t->ops[i], rv == SL_OK);
    sl_task_publish_metrics(t); /* before the state: its report carries them */
    if (rv == SL_OK) {
        atomic_store(&t->state, SLUICE__TASK_STATE__TASK_FINISHED);
    } else if (sl_task_canceled(t)) {
        atomic_store(&t->state, SLUICE__TASK_STATE__TASK_CANCELED);
    } else {
        if (t->failure[0] == '\0')
            sl_task_fail(t, "%s", sl_strerror(rv));
        sl_error("task %s %d/%d of job %s failed: %s", t->chain->name, t->subtask,
                 t->parallelism, t->run->job_id, t->failure);
        atomic_store(&t->state, SLUICE__TASK_STATE__TASK_FAILED);
    }
    return NULL;
}
