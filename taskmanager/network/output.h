/* Output channels: the producer ends of a task's channels, their buffer
 * and their credits. Prefix sl_out_.
 *
 * A producer fills a channel's buffer with events (frame.h) and flushes
 * it as one DATA frame, spending one credit; with none it waits on that
 * channel alone. The consumer (input_gate.h) grants credits back in
 * CREDIT frames, which the receiver thread adds with sl_out_channel_grant;
 * a grant that would leave more than the consumer's window
 * (credits-per-channel) is the consumer's protocol error.
 *
 * Place: above frame.h and peer.h. A job run (job_run.c) owns the
 * channels, sets peer, id, mu and cv, and frees them; the owning task
 * thread fills and flushes (task.c); the receiver thread grants.
 * credits and failed are guarded by *mu (the task's output lock). */
#ifndef SL_OUTPUT_H
#define SL_OUTPUT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "taskmanager/network/frame.h"
#include "taskmanager/network/peer.h"

#define SL_OUT_ERROR_MAX 320 /* bytes of a channel's error, NUL included */

typedef struct sl_out_channel {
    sl_peer *peer;
    sl_frame_hdr id;
    uint32_t credits;         /* guarded by *mu */
    uint32_t max_credits;     /* the consumer's window (credits-per-channel) */
    int failed;               /* a bad grant was seen (guarded by *mu) */
    char error[SL_OUT_ERROR_MAX]; /* why, when failed */
    pthread_mutex_t *mu;      /* the owning task's output lock */
    pthread_cond_t *cv;
    uint8_t *buf;
    size_t len, cap;
} sl_out_channel;

/* bufsize: the buffer that becomes one frame; max_credits: the consumer's
 * window, 1 .. SL_FRAME_MAX_CREDITS (it grants at most that many credits
 * more than the frames it was sent). */
int sl_out_channel_init(sl_out_channel *ch, size_t bufsize, uint32_t max_credits);
void sl_out_channel_destroy(sl_out_channel *ch);
/* Receiver thread: adds n credits (from a CREDIT frame) and wakes the
 * producer. A grant that would hold more than max_credits is the
 * consumer's protocol error: the credits stay as they were, the channel
 * fails (error says why, the next flush returns SL_EPROTO) and
 * SL_EPROTO is returned. */
int sl_out_channel_grant(sl_out_channel *ch, uint64_t n);
/* Sends the buffered payload as one frame, waiting for a credit.
 * SL_EPROTO when the channel failed (ch->error), SL_ECLOSED when the peer
 * died, SL_ECANCELED on *cancel. */
int sl_out_channel_flush(sl_out_channel *ch, const atomic_int *cancel);

#endif
