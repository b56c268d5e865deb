/* Snapshots: the state of one task for one checkpoint, and the uploader
 * that writes it to the shared store and acknowledges it.
 *
 * The task thread fills an sl_snapshot in its synchronous part (operators
 * append their state to in-memory buffers, or begin a keyed snapshot that
 * is serialized later: sl_keyed_state_snapshot_begin) and hands it to the
 * uploader,
 * which writes one checksummed state file per stateful operator into the
 * checkpoint folder, then sends AckCheckpoint (handles, size, sync, async
 * and alignment durations) to the jobmanager, or a decline. The task goes
 * on processing meanwhile. The queue is bounded: a task waits when it is
 * full. */
#ifndef SL_SNAPSHOT_H
#define SL_SNAPSHOT_H

#include <stdatomic.h>
#include <stdint.h>

#include "taskmanager/buf.h"
#include "proto/sluice.pb-c.h"

#define SL_UPLOAD_QUEUE 16

typedef struct sl_snapshot_part {
    char stage[160];
    char kind[96];      /* "source:file", "operator:window", "sink:file", ... */
    int keyed;
    int32_t kg_start, kg_end;
    sl_buf data;                  /* the state, unless keyed_snap is set */
    struct sl_keyed_snapshot *keyed_snap; /* begun by snapshot_async; owned */
} sl_snapshot_part;

typedef struct sl_snapshot {
    char job_id[33];
    uint32_t attempt, task, subtask, parallelism;
    uint64_t chk_id;
    char chk_dir[3200];
    int declined;
    char reason[512];
    int64_t sync_ms, align_ms, async_start_ms;
    int nparts;
    sl_snapshot_part parts[64];
    struct sl_snapshot *next;
} sl_snapshot;

typedef struct sl_uploader sl_uploader;
/* Sends an ack (or decline) to the jobmanager; called on the uploader thread. */
typedef void (*sl_ack_fn)(void *arg, const Sluice__AckCheckpoint *ack);

int sl_uploader_start(sl_ack_fn fn, void *arg, sl_uploader **out);
/* Queues s (ownership passes). Waits while the queue is full, giving up
 * (and freeing s) with SL_ECANCELED once *cancel is set. */
int sl_uploader_submit(sl_uploader *u, sl_snapshot *s, const atomic_int *cancel);
/* Finishes the snapshot being written, drops the rest, joins the thread. */
void sl_uploader_stop(sl_uploader *u);
void sl_snapshot_free(sl_snapshot *s);

struct sl_task;
/* Declines checkpoint id for task t (reason copied). */
void sl_task_decline(struct sl_task *t, uint64_t id, const char *reason);
void sl_barrier_aligner_abort(struct sl_task *t, uint64_t id);

#endif
