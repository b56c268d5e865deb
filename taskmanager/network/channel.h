/* Data channels between subtasks, with credit-based flow control.
 *
 * Every taskmanager has one pull socket (data_plane.c) fed by push sockets
 * ("peers") from every taskmanager that sends to it, itself included over
 * inproc. Many channels share a connection, so flow control is per channel
 * with credits (as in Flink's network stack): a consumer grants each of its
 * input channels `cap` credits; a producer spends one per buffer and stops
 * on that channel alone when it has none; the consumer grants credits back
 * as it finishes buffers. Memory per channel is therefore bounded by
 * cap * buffer size, and a consumer that stops reading one channel (barrier
 * alignment) stalls only that channel's producer.
 *
 * nng drops in-flight messages when a connection breaks, so every data
 * frame carries a per-channel sequence number (a gap fails the task) and a
 * peer whose connection dropped is marked dead (tasks using it fail).
 *
 * Frame (little-endian): u32 magic "SLD1", u8 kind, u8[3] 0, char job[32],
 * u32 attempt, u16 prod_stage, u16 cons_stage, u16 src, u16 dst,
 * u64 seq (DATA) or credits (CREDIT), then for DATA the payload: events
 * 'R' row | 'E' end of input | 'B' barrier | 'W' watermark (i64 ms, in
 * order with the rows). A barrier is always the last event of its frame
 * (the producer flushes right after it), so a blocked channel never holds a
 * half-processed frame.
 *
 * Barrier (like Flink's CheckpointBarrier + CheckpointOptions): u64
 * checkpoint id, i64 trigger time, u8 flags (1 FINAL, 2 SAVEPOINT, 4 STOP);
 * with SAVEPOINT it goes on with u16 length + that many bytes: the absolute
 * path of the savepoint folder (1 .. SL_BARRIER_DIR_MAX bytes, no NUL). */
#ifndef SL_CHANNEL_H
#define SL_CHANNEL_H

#include <nng/nng.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SL_FRAME_MAGIC 0x31444c53u
#define SL_FRAME_HDR 60
#define SL_MAX_CREDITS 1024
enum { SL_FRAME_DATA = 1, SL_FRAME_CREDIT = 2 };
enum { SL_EV_ROW = 'R', SL_EV_END = 'E', SL_EV_BARRIER = 'B', SL_EV_WATERMARK = 'W' };
#define SL_WATERMARK_LEN 8 /* i64 event time (ms) */
#define SL_BARRIER_LEN 17 /* id, ts, flags: the fixed part */
#define SL_BARRIER_FINAL 1
#define SL_BARRIER_SAVEPOINT 2
#define SL_BARRIER_STOP 4
#define SL_BARRIER_DIR_MAX 4095
#define SL_BARRIER_MAX_LEN (SL_BARRIER_LEN + 2 + SL_BARRIER_DIR_MAX)

/* Checkpoint kinds (same values as the protocol's CheckpointKind). */
enum { SL_CHK_CHECKPOINT = 0, SL_CHK_SAVEPOINT = 1, SL_CHK_SAVEPOINT_STOP = 2 };

/* A barrier and its options. */
typedef struct sl_barrier {
    uint64_t id;
    int64_t ts;
    int final;
    int kind;                          /* SL_CHK_* */
    char dir[SL_BARRIER_DIR_MAX + 1];  /* savepoints: target folder, else "" */
} sl_barrier;

/* Encodes b into out (cap bytes; SL_BARRIER_MAX_LEN always suffices), the
 * length in *len. SL_EINVAL if a savepoint has no folder or one too long. */
int sl_barrier_encode(const sl_barrier *b, uint8_t *out, size_t cap, size_t *len);
/* Decodes a barrier from p[0..len), the bytes used in *used. SL_EINVAL when
 * truncated or malformed (unknown flags, bad path length). */
int sl_barrier_decode(const uint8_t *p, size_t len, sl_barrier *b, size_t *used);

typedef struct sl_frame_hdr {
    uint8_t kind;
    char job[33];
    uint32_t attempt;
    uint16_t prod_stage, cons_stage, src, dst;
    uint64_t seq;
} sl_frame_hdr;

/* Parses the header of a frame of len bytes; payload and plen give the rest. */
int sl_frame_parse(const uint8_t *buf, size_t len, sl_frame_hdr *h, const uint8_t **payload,
                   size_t *plen);
/* Builds a frame in a new nng message (*out owned by caller). */
int sl_frame_build(const sl_frame_hdr *h, const uint8_t *payload, size_t plen, nng_msg **out);

/* A push socket to one taskmanager's data plane. */
typedef struct sl_peer {
    nng_socket sock;
    char url[160];
    atomic_int dead; /* set when an established connection drops */
} sl_peer;

int sl_peer_open(const char *url, size_t max_frame, sl_peer **out);
void sl_peer_close(sl_peer *p);
/* Sends msg (ownership passes, even on failure). Waits while the transport
 * pushes back, giving up when *cancel becomes non-zero or the peer dies. */
int sl_peer_send(sl_peer *p, nng_msg *msg, const atomic_int *cancel);

struct sl_input_gate;

/* Consumer end of a channel, filled by the receiver thread. */
typedef struct sl_in_channel {
    struct sl_input_gate *gate;
    sl_peer *peer;            /* producer's taskmanager, for credits */
    sl_frame_hdr id;          /* job, attempt, stages, src, dst */
    nng_msg *ring[SL_MAX_CREDITS];
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
typedef struct sl_input_gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n;
    sl_in_channel **ch;
    int rr;
    char error[256];
    const atomic_int *interrupt; /* non-zero: sl_input_gate_next returns at once */
} sl_input_gate;

int sl_input_gate_init(sl_input_gate *g, int n);
void sl_input_gate_destroy(sl_input_gate *g);
/* Receiver thread: queues a DATA frame (ownership passes). */
void sl_in_channel_push(sl_in_channel *ch, uint64_t seq, nng_msg *msg);
/* Sends the initial `cap` credits of every channel. */
int sl_input_gate_open(sl_input_gate *g, const atomic_int *cancel);
/* Takes the next frame from any channel with data. SL_ETIMEDOUT after
 * timeout_ms with nothing; SL_ECLOSED when every channel has ended;
 * SL_EPROTO on a gap, overflow or lost connection (g->error says which). */
int sl_input_gate_next(sl_input_gate *g, int timeout_ms, sl_in_channel **ch, nng_msg **msg);
/* The task finished a frame of ch: frees it and grants credit back. */
int sl_input_gate_release(sl_input_gate *g, sl_in_channel *ch, nng_msg *msg,
                          const atomic_int *cancel);

/* Producer end of a channel. */
typedef struct sl_out_channel {
    sl_peer *peer;
    sl_frame_hdr id;
    uint32_t credits;         /* guarded by *mu */
    uint32_t max_credits;     /* the consumer's window (credits-per-channel) */
    int failed;               /* a bad grant was seen (guarded by *mu) */
    char error[320];          /* why, when failed */
    pthread_mutex_t *mu;      /* the owning task's output lock */
    pthread_cond_t *cv;
    uint8_t *buf;
    size_t len, cap;
} sl_out_channel;

/* bufsize: the buffer that becomes one frame; max_credits: the consumer's
 * window, 1 .. SL_MAX_CREDITS (it grants at most that many credits more
 * than the frames it was sent). */
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
