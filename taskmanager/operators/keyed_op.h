/* The keyed-state part that keyed operators share (op_aggregate.c,
 * op_window.c, op_argmax.c, op_udf.c): the subtask's key-group range, the state
 * backend (`state.backend.type`, working folder under
 * `taskmanager.state.local.root-dirs`), the encoded key-by fields of the
 * current record, snapshot and restore, and the rebuild of event-time
 * timers after a restore.
 *
 * An operator embeds sl_keyed_op as the FIRST member of its op->impl, so
 * sl_keyed_op_snapshot and sl_keyed_op_restore can be its ops as they are.
 * Failures are reported with sl_op_fail, prefixed by the stage's type.
 * Single-threaded: the operator's task thread. */
#ifndef SL_KEYED_OP_H
#define SL_KEYED_OP_H

#include <stddef.h>
#include <stdint.h>

#include "taskmanager/buf.h"
#include "common/row.h"
#include "taskmanager/operators/event_timers.h"
#include "taskmanager/state/keyed_state.h"
#include "taskmanager/operators/operator.h"

/* Longest encoded key (bytes). */
#define SL_KEYED_OP_KEY_MAX 4096

typedef struct sl_keyed_op {
    sl_ks_state *state;   /* owned: sl_keyed_op_close closes it */
    int kg_start, kg_end;    /* the subtask's key groups */
    int restored;            /* set by sl_keyed_op_restore, cleared by
                              * sl_keyed_op_timers_ready */
    uint8_t key[SL_KEYED_OP_KEY_MAX]; /* the key of the last sl_keyed_op_key */
} sl_keyed_op;

/* Takes the key-group range of op's subtask from its context and opens
 * the state backend the context names. */
int sl_keyed_op_open(sl_op *op, sl_keyed_op *k);

/* Encodes the key-by fields of row into k->key (*klen bytes); *kg is their
 * key group, which must be the subtask's. */
int sl_keyed_op_key(sl_op *op, sl_keyed_op *k, const sl_row *row, size_t *klen, int *kg);

/* operator ops: the keyed state of op->impl (an sl_keyed_op first). */
int sl_keyed_op_snapshot(sl_op *op, uint64_t chk_id, sl_buf *out);
/* The snapshot_async op: begins a snapshot the uploader writes. */
int sl_keyed_op_snapshot_begin(sl_op *op, uint64_t chk_id, sl_ks_snapshot **out);
int sl_keyed_op_restore(sl_op *op, const uint8_t *data, size_t len);

/* After a restore (k->restored), rebuilds timers from the state with
 * visit (see sl_event_timers_rebuild); nothing to do otherwise. */
int sl_keyed_op_timers_ready(sl_op *op, sl_keyed_op *k, sl_event_timers *timers,
                             sl_ks_visit_fn visit);

/* Closes the state, if open. k itself is the caller's. */
void sl_keyed_op_close(sl_keyed_op *k);

#endif
