/* Barrier alignment of one task (asynchronous barrier snapshotting): a
 * state machine over the task's input channels, numbered 0 .. n-1 as in
 * its input gate. It touches no channel, lock or clock of its own: the
 * checkpointer (checkpointer.c, its only caller) feeds it the barriers and
 * channel ends the task reads, with the time, and applies what it returns
 * (block a channel, release every channel, decline a checkpoint, take the
 * snapshot). So it is unit-tested without threads or sockets
 * (tests/unit/test_barrier_aligner.c).
 *
 * A task takes checkpoint n when barrier n has arrived on every channel
 * that has not ended. EXACTLY_ONCE: a channel that delivered barrier n is
 * blocked (not read; its producer stalls on credits, so memory stays
 * bounded) until the others catch up, so no record after barrier n reaches
 * the operators before the snapshot. AT_LEAST_ONCE: channels are never
 * blocked; the snapshot is taken when the last barrier arrives.
 *
 * A newer barrier while aligning an older one means the older checkpoint
 * was given up by someone: it is declined and alignment restarts on the
 * newer one. A barrier of a checkpoint already taken, aborted or subsumed
 * is ignored. An abort notification releases the channels. Ended channels
 * count as aligned.
 *
 * Savepoints align the same way; the barrier's options (kind, target
 * folder) are kept from the first barrier of a checkpoint (`barrier`) and
 * passed on with the snapshot and the forwarded barrier.
 *
 * Ownership: the aligner owns its per-channel arrays (sl_align_free). */
#ifndef SL_BARRIER_ALIGNER_H
#define SL_BARRIER_ALIGNER_H

#include <stdint.h>

#include "taskmanager/network/barrier.h"
#include "taskmanager/network/frame.h"
#include "taskmanager/network/input_gate.h"
#include "taskmanager/network/output.h"
#include "taskmanager/network/peer.h"

typedef struct sl_aligner {
    int n;                  /* input channels */
    int exactly_once;       /* block channels that delivered the barrier */
    uint64_t *seen;         /* [n] highest barrier taken on each channel */
    unsigned char *ended;   /* [n] 1: the channel delivered end of input */
    uint64_t current;       /* checkpoint being aligned, 0 = none */
    uint64_t last_done;     /* highest checkpoint snapshotted, aborted or restored here */
    sl_barrier barrier;     /* options (trigger time, kind, folder) of `current` */
    int64_t first_ms;       /* when the first barrier of `current` arrived */
} sl_aligner;

/* What the caller must do, in this order. */
typedef struct sl_align_out {
    uint64_t decline;       /* decline this checkpoint (subsumed), 0 = none */
    int release;            /* 1: unblock every channel */
    int block;              /* 1: then block the channel the barrier came on */
    int snapshot;           /* 1: aligned: take checkpoint `barrier` of the aligner now */
    int64_t align_ms;       /* with snapshot: first barrier to aligned */
} sl_align_out;

/* n input channels (0 for a source). SL_ENOMEM. */
int sl_align_init(sl_aligner *a, int n, int exactly_once);
void sl_align_free(sl_aligner *a);
/* After a restore of checkpoint id: barriers up to id are ignored. */
void sl_align_restored(sl_aligner *a, uint64_t id);
/* Barrier b arrived on channel ch at now_ms. */
void sl_align_on_barrier(sl_aligner *a, int ch, const sl_barrier *b, int64_t now_ms,
                         sl_align_out *out);
/* Channel ch delivered end of input at now_ms (alignment may complete). */
void sl_align_on_end(sl_aligner *a, int ch, int64_t now_ms, sl_align_out *out);
/* Checkpoint id was aborted: given up here too, and so is every older one. */
void sl_align_abort(sl_aligner *a, uint64_t id, sl_align_out *out);

#endif
