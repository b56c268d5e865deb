/* Event-time timers of `operator: udf` (include/sluice/udf.h).
 *
 * A timer is a keyed-state entry of its key, so it is in checkpoints and
 * follows its key group on restore and rescaling:
 *   key 'T' ts          ts: 8 bytes, big-endian with the sign bit flipped
 * (key: the encoded key-by fields, self-delimiting; the value is empty).
 * The order of firing comes from an in-memory min-heap by (ts, key group,
 * key) (taskmanager/event_timers.h) holding every timer of the state, plus
 * entries of timers deleted since: an entry fires only if its state entry
 * is still there, which it removes first. The heap is rebuilt from the
 * state after a restore, and compacted when deleted entries outnumber live
 * ones.
 *
 * Single-threaded: the task thread of the operator only. */
#ifndef SL_OP_UDF_TIMERS_H
#define SL_OP_UDF_TIMERS_H

#include <stddef.h>
#include <stdint.h>

#include "taskmanager/operators/event_timers.h"
#include "taskmanager/state/keyed_state.h"

/* Longest encoded key of a udf operator (bytes). */
#define SL_UDF_KEY_MAX 4096

typedef sl_event_timer sl_udf_timer;

typedef struct sl_udf_timers {
    sl_event_timers heap; /* owned: every timer of the state, plus deleted ones */
    size_t live;  /* timers in the state */
    int kg_start, kg_end;
    int rebuild;  /* the state was restored: rebuild before use */
} sl_udf_timers;

/* An empty timer set of key groups [kg_start, kg_end]. */
void sl_udf_timers_init(sl_udf_timers *tm, int kg_start, int kg_end);

/* Adds timer ts of key (1..SL_UDF_KEY_MAX bytes) in key group kg; a timer
 * that exists already is left as it is. */
int sl_udf_timers_add(sl_udf_timers *tm, sl_ks_state *st, int kg, const uint8_t *key,
                      size_t klen, int64_t ts);
/* Deletes timer ts of key, if there is one. */
int sl_udf_timers_delete(sl_udf_timers *tm, sl_ks_state *st, int kg, const uint8_t *key,
                         size_t klen, int64_t ts);
/* The earliest timer with ts <= wm, removed from the heap and the state,
 * into *out (out->key then belongs to the caller: free it).
 * SL_ENOTFOUND when no timer is due. */
int sl_udf_timers_next(sl_udf_timers *tm, sl_ks_state *st, int64_t wm, sl_udf_timer *out);
/* Rebuilds the heap (and the live count) from the timers in the state. */
int sl_udf_timers_rebuild(sl_udf_timers *tm, sl_ks_state *st);
void sl_udf_timers_free(sl_udf_timers *tm);

#endif
