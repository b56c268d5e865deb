/* Checkpoint barriers and their options, and their wire form (like
 * Flink's CheckpointBarrier + CheckpointOptions). Prefix sl_barrier_ /
 * SL_BARRIER_ (the type is sl_barrier).
 *
 * Place: a codec at the bottom of network/, calling nothing. The task
 * loop encodes a barrier into a frame's 'B' event and decodes it
 * (task.c); the taskmanager builds the barrier of a trigger
 * (task_manager.c); the checkpointer reads its kind (checkpoint/).
 *
 * Wire form (little-endian): u64 checkpoint id, i64 trigger time, u8 flags
 * (1 FINAL, 2 SAVEPOINT, 4 STOP; STOP only with SAVEPOINT): the
 * SL_BARRIER_LEN bytes of the fixed part; with SAVEPOINT it goes on with
 * u16 length + that many bytes: the absolute path of the savepoint folder
 * (1 .. SL_BARRIER_DIR_MAX bytes, no NUL). */
#ifndef SL_BARRIER_H
#define SL_BARRIER_H

#include <stddef.h>
#include <stdint.h>

/* The wire form's fields: offsets and sizes. */
#define SL_BARRIER_OFF_ID 0
#define SL_BARRIER_OFF_TS 8
#define SL_BARRIER_OFF_FLAGS 16
#define SL_BARRIER_LEN 17     /* id, ts, flags: the fixed part */
#define SL_BARRIER_DIR_LEN 2  /* u16 length of the savepoint folder */
#define SL_BARRIER_DIR_MAX 4095
#define SL_BARRIER_MAX_LEN (SL_BARRIER_LEN + SL_BARRIER_DIR_LEN + SL_BARRIER_DIR_MAX)

/* Bits of the flags byte. */
#define SL_BARRIER_FLAG_FINAL 1
#define SL_BARRIER_FLAG_SAVEPOINT 2
#define SL_BARRIER_FLAG_STOP 4

/* Checkpoint kinds (same values as the protocol's CheckpointKind). */
enum {
    SL_BARRIER_KIND_CHECKPOINT = 0,
    SL_BARRIER_KIND_SAVEPOINT = 1,
    SL_BARRIER_KIND_SAVEPOINT_STOP = 2
};

/* A barrier and its options. */
typedef struct sl_barrier {
    uint64_t id;
    int64_t ts;
    int final;
    int kind;                         /* SL_BARRIER_KIND_* */
    char dir[SL_BARRIER_DIR_MAX + 1]; /* savepoints: target folder, else "" */
} sl_barrier;

/* Encodes b into out (cap bytes; SL_BARRIER_MAX_LEN always suffices), the
 * length in *len. SL_EINVAL if a savepoint has no folder or one too long,
 * SL_ENOSPC if cap is too small. */
int sl_barrier_encode(const sl_barrier *b, uint8_t *out, size_t cap, size_t *len);
/* Decodes a barrier from p[0..len), the bytes used in *used. SL_EINVAL when
 * truncated or malformed (unknown flags, bad path length). */
int sl_barrier_decode(const uint8_t *p, size_t len, sl_barrier *b, size_t *used);

#endif
