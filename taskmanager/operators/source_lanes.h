/* Source lanes: the positions of a source whose record i is a pure
 * function of i (datagen, nexmark), in a form that survives a change of
 * parallelism.
 *
 * A lane is the arithmetic sequence next, next + stride, next + 2 stride,
 * ... (below `end`). A fresh subtask s of P owns the single lane (next = s,
 * stride = P), so all subtasks together emit every i exactly once. A
 * subtask may own several lanes after a restore; it emits their indices in
 * increasing order (smallest next first), so event time derived from i
 * stays ordered within the subtask.
 *
 * Restore: every new subtask is handed the snapshots of ALL old subtasks of
 * the stage (sl_lanes_restore_add once per state file), then
 * sl_lanes_restore_finish picks its share deterministically (every subtask
 * computes the same assignment): with an unchanged parallelism each subtask
 * gets exactly the lanes its predecessor of the same index had; otherwise
 * lanes are split (stride k -> 2k) until there are at least P' of them and
 * dealt out so that every remaining index belongs to exactly one subtask.
 *
 * Ownership: an sl_lanes owns its array; sl_lanes_free releases it. */
#ifndef SL_SOURCE_LANES_H
#define SL_SOURCE_LANES_H

#include <stddef.h>
#include <stdint.h>

#include "taskmanager/buf.h"

typedef struct sl_lane {
    uint64_t next;   /* next index to emit (>= end: the lane is done) */
    uint64_t stride; /* >= 1 */
} sl_lane;

typedef struct sl_lanes {
    sl_lane *v;
    int n, cap;
    uint64_t end;    /* indices < end (UINT64_MAX: unbounded) */
    /* restore bookkeeping: which old subtask each lane came from */
    int *owner;
    int old_parallelism;
} sl_lanes;

/* The single lane of fresh subtask `subtask` of `parallelism`. SL_ENOMEM. */
int sl_lanes_init(sl_lanes *l, int subtask, int parallelism, uint64_t end);
/* The next index to emit (smallest over the lanes) in *i and advances its
 * lane; SL_ENOTFOUND when every lane is done. */
int sl_lanes_next(sl_lanes *l, uint64_t *i);
/* Appends the lanes (with subtask and parallelism) to out, versioned. */
int sl_lanes_snapshot(const sl_lanes *l, int subtask, int parallelism, sl_buf *out);
/* Adds the lanes of one old subtask's snapshot. SL_EINVAL if malformed
 * (lengths and counts checked against len). */
int sl_lanes_restore_add(sl_lanes *l, const uint8_t *data, size_t len);
/* After every restore_add: keeps this subtask's share only. SL_EINVAL when
 * the snapshots are inconsistent (e.g. two for one old subtask). */
int sl_lanes_restore_finish(sl_lanes *l, int subtask, int parallelism);
void sl_lanes_free(sl_lanes *l);

#endif
