/* The input gate: the consumer ends of a task's input channels, with
 * credit-based flow control. Prefix sl_in_ (sl_in_gate, sl_in_channel).
 *
 * Every taskmanager has one pull socket (data_plane.c) fed by push sockets
 * (peer.h) from every taskmanager that sends to it. Many channels share a
 * connection, so flow control is per channel with credits (as in Flink's
 * network stack): a consumer grants each of its input channels `cap`
 * credits; the producer (output.h) spends one per frame and stops on that
 * channel alone when it has none; the consumer grants credits back as it
 * finishes frames. Memory per channel is therefore bounded by cap * buffer
 * size, and a consumer that stops reading one channel (barrier alignment
 * sets `blocked`) stalls only that channel's producer. Every DATA frame
 * carries a per-channel sequence number: a gap (nng lost messages when a
 * connection dropped) fails the task.
 *
 * Place: above frame.h and peer.h. A job run (job_run.c) builds the gate
 * of each task and its channels (the gate owns them once set in ch[],
 * sl_in_gate_destroy frees them); the receiver thread queues frames with
 * sl_in_channel_push; the task thread (task.c, checkpoint/) takes and
 * releases them. mu guards the rings, counts and flags written by the
 * receiver. */
#ifndef SL_INPUT_GATE_H
#define SL_INPUT_GATE_H

#include <nng/nng.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "taskmanager/network/frame.h"
#include "taskmanager/network/peer.h"

#define SL_IN_ERROR_MAX 256 /* bytes of a gate's error, NUL included */

struct sl_in_gate;

/* Consumer end of a channel, filled by the receiver thread. */
typedef struct sl_in_channel {
    struct sl_in_gate *gate;
    sl_peer *peer;            /* producer's taskmanager, for credits */
    sl_frame_hdr id;          /* job, attempt, stages, src, dst */
    nng_msg *ring[SL_FRAME_MAX_CREDITS];
    uint32_t head, count, cap;
    uint64_t next_seq;
    int finished;             /* end of input seen */
    int blocked;              /* barrier alignment: not read until released */
    uint64_t barrier;         /* highest barrier delivered on this channel */
    int failed;               /* protocol error seen by the receiver */
    uint32_t to_grant;        /* consumed buffers not yet granted back */
    int64_t watermark;        /* last watermark seen (task thread only) */
} sl_in_channel;

/* All input channels of one task. */
typedef struct sl_in_gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n;
    sl_in_channel **ch;
    int rr;
    char error[SL_IN_ERROR_MAX];
    const atomic_int *interrupt; /* non-zero: sl_in_gate_next returns at once */
} sl_in_gate;

/* Room for n channels (ch[] all NULL). */
int sl_in_gate_init(sl_in_gate *g, int n);
/* Frees the channels in ch[] and the frames they hold. */
void sl_in_gate_destroy(sl_in_gate *g);
/* Receiver thread: queues a DATA frame (ownership passes). */
void sl_in_channel_push(sl_in_channel *ch, uint64_t seq, nng_msg *msg);
/* Sends the initial `cap` credits of every channel. */
int sl_in_gate_open(sl_in_gate *g, const atomic_int *cancel);
/* Takes the next frame from any channel with data. SL_ETIMEDOUT after
 * timeout_ms with nothing; SL_ECLOSED when every channel has ended;
 * SL_EPROTO on a gap, overflow or lost connection (g->error says which). */
int sl_in_gate_next(sl_in_gate *g, int timeout_ms, sl_in_channel **ch, nng_msg **msg);
/* The task finished a frame of ch: frees it and grants credit back. */
int sl_in_gate_release(sl_in_gate *g, sl_in_channel *ch, nng_msg *msg,
                       const atomic_int *cancel);

#endif
