/* The snapshot uploader: one thread per taskmanager that writes the state
 * of each task's snapshot to the shared store and acknowledges it.
 *
 * Place: below the checkpointer (checkpointer.c fills an
 * sl_uploader_snapshot in a task's synchronous part and submits it) and
 * the taskmanager (task_manager.c starts and stops it and gives it the
 * function that sends acks). It calls the state files (common/) and keyed
 * state snapshots (state/), nothing above.
 *
 * The task thread fills a snapshot in its synchronous part (operators
 * append their state to in-memory buffers, or begin a keyed snapshot that
 * is serialized later: sl_ks_snapshot_begin) and hands it to the
 * uploader, which writes one checksummed state file per stateful operator
 * into the checkpoint folder, then sends AckCheckpoint (handles, size,
 * sync, async and alignment durations) to the jobmanager, or a decline.
 * The task goes on processing meanwhile. The queue is bounded: a task
 * waits when it is full.
 *
 * The ack function is a deliberate callback: the uploader thread cannot
 * return to its starter, and it only sends the message it is given. */
#ifndef SL_SNAPSHOT_UPLOADER_H
#define SL_SNAPSHOT_UPLOADER_H

#include <stdatomic.h>
#include <stdint.h>

#include "taskmanager/buf.h"
#include "proto/sluice.pb-c.h"

#define SL_UPLOADER_QUEUE 16
#define SL_UPLOADER_MAX_PARTS 64

/* The state of one operator in a snapshot. */
typedef struct sl_uploader_part {
    char stage[160];
    char kind[96];      /* "source:file", "operator:window", "sink:file", ... */
    int keyed;
    int32_t kg_start, kg_end;
    sl_buf data;                  /* the state, unless keyed_snap is set */
    struct sl_ks_snapshot *keyed_snap; /* begun by snapshot_async; owned */
} sl_uploader_part;

/* The state of one task for one checkpoint, or its decline. */
typedef struct sl_uploader_snapshot {
    char job_id[33];
    uint32_t attempt, task, subtask, parallelism;
    uint64_t chk_id;
    char chk_dir[3200];
    int declined;
    char reason[512];
    int64_t sync_ms, align_ms, async_start_ms;
    int nparts;
    sl_uploader_part parts[SL_UPLOADER_MAX_PARTS];
    struct sl_uploader_snapshot *next;
} sl_uploader_snapshot;

typedef struct sl_uploader sl_uploader;
/* Sends an ack (or decline) to the jobmanager; called on the uploader thread. */
typedef void (*sl_uploader_ack_fn)(void *arg, const Sluice__AckCheckpoint *ack);

int sl_uploader_start(sl_uploader_ack_fn fn, void *arg, sl_uploader **out);
/* Queues s (ownership passes). Waits while the queue is full, giving up
 * (and freeing s) with SL_ECANCELED once *cancel is set. */
int sl_uploader_submit(sl_uploader *u, sl_uploader_snapshot *s, const atomic_int *cancel);
/* Finishes the snapshot being written, drops the rest, joins the thread. */
void sl_uploader_stop(sl_uploader *u);
void sl_uploader_snapshot_free(sl_uploader_snapshot *s);

#endif
