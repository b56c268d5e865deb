/* The records of a job's checkpoints (and savepoints): one sl_ckpt per
 * checkpoint, in the coordinator's history, newest first.
 *
 * A record is PENDING from its trigger until every task acked (COMPLETED)
 * or it is aborted (FAILED). This module creates records, moves them to
 * FAILED, finds them and frees them; the coordinator moves them to
 * COMPLETED; the other checkpoint modules read them and set their flags.
 *
 * Place: the bottom of the checkpoint modules (coordinator, trigger,
 * retention, stats, savepoint call it); calls nothing of the jobmanager.
 * Locking: the caller holds jm->mu (or owns the coordinator alone). */
#ifndef SL_CHECKPOINT_RECORD_H
#define SL_CHECKPOINT_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "jobmanager/checkpoint_view.h"

struct sl_coord;

enum sl_ckpt_status { SL_CKPT_PENDING = 0, SL_CKPT_COMPLETED = 1, SL_CKPT_FAILED = 2 };

/* A copy of one acked StateHandle. */
typedef struct sl_ckpt_state {
    char *stage;
    char *path;
    uint32_t subtask, parallelism;
    uint64_t size;
    uint32_t crc32c;
    int32_t kg_start, kg_end;
    char *kind;                /* "source:file", "operator:window", ... ("" if unknown) */
} sl_ckpt_state;

/* What one task reported for one checkpoint. */
typedef struct sl_ckpt_ack {
    int acked;
    uint64_t state_size, sync_ms, async_ms, align_ms;
    size_t nstates;
    sl_ckpt_state *states;  /* freed by the loop once the checkpoint ended */
} sl_ckpt_ack;

typedef struct sl_ckpt {
    uint64_t id;
    uint32_t attempt;          /* attempt it was triggered for */
    enum sl_ckpt_status status;
    int final, manual;
    int savepoint, stop;       /* a savepoint (sluice savepoint), ending the job (sluice stop) */
    char *request_id;          /* manual ones, savepoints: the CLI's request id */
    int sent;                  /* the loop took it up for sending */
    int cleanup;               /* FAILED: the loop must remove its folder */
    int notify_abort;          /* FAILED: the loop must tell the taskmanagers */
    int64_t trigger_wall_ms, trigger_mono_ms, end_mono_ms;
    char *dir;                 /* <root>/<job>/chk-<id>, or the savepoint folder */
    char *failure;             /* FAILED: why */
    char *decline;             /* set by the ack handler; the loop aborts with it */
    int ntasks, nacked;
    uint64_t state_size;       /* sum of the acks */
    sl_ckpt_ack *tasks;        /* ntasks */
    struct sl_ckpt *next;      /* older */
} sl_ckpt;

/* A new PENDING checkpoint of v's attempt with the next id, in
 * <root>/<job>/chk-<id>, at the head of cc->history; NULL (no root, out of
 * memory, path too long). */
sl_ckpt *sl_ckpt_create(struct sl_coord *cc, const sl_coord_view *v, int final, int manual);
/* The same with the folder given (savepoints); final/manual unset. */
sl_ckpt *sl_ckpt_create_in(struct sl_coord *cc, const sl_coord_view *v, const char *dir);
/* PENDING -> FAILED (no-op otherwise). counted: towards the tolerable
 * failures; notify: the loop tells the taskmanagers. Frees nothing. */
void sl_ckpt_fail(struct sl_coord *cc, const char *job_id, sl_ckpt *c, const char *reason,
                  int counted, int notify);
/* Frees the state copies of every task of c. */
void sl_ckpt_free_acks(sl_ckpt *c);
/* Frees c and everything it owns. */
void sl_ckpt_free(sl_ckpt *c);
/* The record of checkpoint id, NULL if none. */
sl_ckpt *sl_ckpt_find(const struct sl_coord *cc, uint64_t id);
/* The record created for request_id, NULL if none or request_id is "". */
sl_ckpt *sl_ckpt_find_request(const struct sl_coord *cc, const char *request_id);
/* Pending checkpoints; manual ones only if with_manual. */
int64_t sl_ckpt_pending(const struct sl_coord *cc, int with_manual);

#endif
