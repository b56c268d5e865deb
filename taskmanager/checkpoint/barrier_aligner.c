/* Barrier alignment (asynchronous barrier snapshotting).
 *
 * A task with input channels takes checkpoint n when barrier n has arrived
 * on every channel that has not ended. EXACTLY_ONCE: a channel that
 * delivered barrier n is blocked (sl_input_gate_next skips it; its producer
 * stalls on credits, so memory stays bounded) until the others catch up,
 * so no record after barrier n reaches the operators before the snapshot.
 * AT_LEAST_ONCE: channels are never blocked; the snapshot is taken when the
 * last barrier arrives.
 *
 * A newer barrier while aligning an older one means the older checkpoint
 * was given up by someone: it is declined and alignment restarts on the
 * newer one. An abort notification releases the channels.
 *
 * Savepoints align the same way; the barrier's options (kind, target
 * folder) are kept from the first barrier of a checkpoint and passed on
 * with the snapshot and the forwarded barrier. */
#include <string.h>

#include "common/status.h"
#include "common/util.h"
#include "taskmanager/task.h"
#include "taskmanager/checkpoint/snapshot.h"

static void release_all(sl_task *t)
{
    pthread_mutex_lock(&t->gate.mu);
    for (int i = 0; i < t->gate.n; i++)
        t->gate.ch[i]->blocked = 0;
    pthread_cond_broadcast(&t->gate.cv);
    pthread_mutex_unlock(&t->gate.mu);
}

static int aligned(sl_task *t, uint64_t id)
{
    int ok = 1;
    pthread_mutex_lock(&t->gate.mu);
    for (int i = 0; i < t->gate.n && ok; i++)
        ok = t->gate.ch[i]->finished || t->gate.ch[i]->barrier >= id;
    pthread_mutex_unlock(&t->gate.mu);
    return ok;
}

static int complete_alignment(sl_task *t)
{
    sl_barrier_aligner *a = &t->aligner;
    uint64_t id = a->current;
    int64_t align_ms = sl_now_ms() - a->first_ms;
    a->last_done = id;
    a->current = 0;
    int rv = sl_task_checkpoint(t, &a->barrier, align_ms);
    release_all(t);
    return rv;
}

void sl_barrier_aligner_abort(sl_task *t, uint64_t id)
{
    sl_barrier_aligner *a = &t->aligner;
    if (id > a->last_done)
        a->last_done = id;
    if (a->current != 0 && a->current <= id) {
        a->current = 0;
        release_all(t);
    }
}

int sl_task_on_barrier(sl_task *t, sl_in_channel *ch, const sl_barrier *b)
{
    sl_barrier_aligner *a = &t->aligner;
    uint64_t id = b->id;
    if (id <= a->last_done || id < a->current)
        return SL_OK; /* a barrier of a checkpoint given up or subsumed */
    if (id > a->current) {
        if (a->current != 0) {
            sl_task_decline(t, a->current, "subsumed by a newer checkpoint");
            release_all(t);
        }
        a->current = id;
        a->barrier = *b;
        a->first_ms = sl_now_ms();
    }
    pthread_mutex_lock(&t->gate.mu);
    ch->barrier = id;
    ch->blocked = t->run->exactly_once;
    pthread_mutex_unlock(&t->gate.mu);
    return aligned(t, id) ? complete_alignment(t) : SL_OK;
}

int sl_task_on_channel_end(sl_task *t)
{
    if (t->aligner.current != 0 && aligned(t, t->aligner.current))
        return complete_alignment(t);
    return SL_OK;
}
