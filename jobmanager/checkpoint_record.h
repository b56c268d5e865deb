/* The records of a job's checkpoints (and savepoints): one sl_ckrec per
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

enum sl_ckrec_status { SL_CKREC_PENDING = 0, SL_CKREC_COMPLETED = 1, SL_CKREC_FAILED = 2 };

/* A copy of one acked StateHandle. */
typedef struct sl_ckrec_state {
    char *stage;
    char *path;
    uint32_t subtask, parallelism;
    uint64_t size;
    uint32_t crc32c;
    int32_t kg_start, kg_end;
    char *kind;                /* "source:file", "operator:window", ... ("" if unknown) */
} sl_ckrec_state;

/* What one task reported for one checkpoint. */
typedef struct sl_ckrec_ack {
    int acked;
    uint64_t state_size, sync_ms, async_ms, align_ms;
    size_t nstates;
    sl_ckrec_state *states;  /* freed by the loop once the checkpoint ended */
} sl_ckrec_ack;

typedef struct sl_ckrec {
    uint64_t id;
    uint32_t attempt;          /* attempt it was triggered for */
    enum sl_ckrec_status status;
    int final, manual;
    int savepoint, stop;       /* a savepoint (sluice savepoint), ending the job (sluice stop) */
    char *request_id;          /* manual ones, savepoints: the CLI's request id */
    int sent;                  /* the loop took it up for sending */
    int cleanup;               /* FAILED: the loop must remove its folder */
    int notify_abort;          /* FAILED: the loop must tell the taskmanagers */
    int ha_wait;               /* PENDING, _metadata written: high availability is
                                  storing its pointer; nothing fails it meanwhile
                                  (the pointer may be written already) */
    int64_t trigger_wall_ms, trigger_mono_ms, end_mono_ms;
    char *dir;                 /* <root>/<job>/chk-<id>, or the savepoint folder */
    char *failure;             /* FAILED: why */
    char *decline;             /* set by the ack handler; the loop aborts with it */
    int ntasks, nacked;
    uint64_t state_size;       /* sum of the acks */
    sl_ckrec_ack *tasks;        /* ntasks */
    struct sl_ckrec *next;      /* older */
} sl_ckrec;

/* A new PENDING checkpoint of v's attempt with the next id, in
 * <root>/<job>/chk-<id>, at the head of cc->history; NULL (no root, out of
 * memory, path too long). */
sl_ckrec *sl_ckrec_create(struct sl_coord *cc, const sl_coord_view *v, int final, int manual);
/* The same with the folder given (savepoints); final/manual unset. */
sl_ckrec *sl_ckrec_create_in(struct sl_coord *cc, const sl_coord_view *v, const char *dir);
/* PENDING -> FAILED (no-op otherwise, and while ha_wait). counted: towards the tolerable
 * failures; notify: the loop tells the taskmanagers. Frees nothing. */
void sl_ckrec_fail(struct sl_coord *cc, const char *job_id, sl_ckrec *c, const char *reason,
                  int counted, int notify);
/* Frees the state copies of every task of c. */
/* Frees the state handles one task acked and empties the list. */
void sl_ckrec_ack_clear(sl_ckrec_ack *t);
void sl_ckrec_free_acks(sl_ckrec *c);
/* Frees c and everything it owns. */
void sl_ckrec_free(sl_ckrec *c);
/* The record of checkpoint id, NULL if none. */
sl_ckrec *sl_ckrec_find(const struct sl_coord *cc, uint64_t id);
/* The record created for request_id, NULL if none or request_id is "". */
sl_ckrec *sl_ckrec_find_request(const struct sl_coord *cc, const char *request_id);
/* Pending checkpoints; manual ones only if with_manual. */
int64_t sl_ckrec_pending(const struct sl_coord *cc, int with_manual);

#endif
