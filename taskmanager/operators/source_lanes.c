/* Source lanes (source_lanes.h): the rescalable position of a source whose
 * record i is a pure function of i.
 *
 * Snapshot (all varints): version 1, old subtask, old parallelism, end + 1
 * (0 = unbounded), lane count, then per lane next, stride. Finished lanes
 * stay in the array (a subtask's snapshot is never empty), so a restore can
 * check that it saw every old subtask exactly once.
 *
 * Rescaling: the live lanes of all old subtasks are split, the one with the
 * smallest stride first (lane (n, k) -> (n, 2k) and (n + k, 2k)), until
 * there are at least P' of them or none can be split, then sorted by
 * (next, stride) and dealt round robin: lane j goes to subtask j % P'. */
#include "taskmanager/operators/source_lanes.h"

#include <stdlib.h>
#include <string.h>

#include "common/state_file.h"
#include "common/status.h"

#define LANES_VERSION 1
#define LANES_MAX (1 << 20)

static int reserve(sl_lanes *l, int want)
{
    if (want <= l->cap)
        return SL_OK;
    if (want > LANES_MAX)
        return SL_EINVAL;
    int cap = l->cap ? l->cap : 4;
    while (cap < want)
        cap *= 2;
    sl_lane *v = realloc(l->v, (size_t)cap * sizeof(*v));
    if (v == NULL)
        return SL_ENOMEM;
    l->v = v;
    int *owner = realloc(l->owner, (size_t)cap * sizeof(*owner));
    if (owner == NULL)
        return SL_ENOMEM;
    l->owner = owner;
    l->cap = cap;
    return SL_OK;
}

static int push(sl_lanes *l, uint64_t next, uint64_t stride, int owner)
{
    int rv = reserve(l, l->n + 1);
    if (rv != SL_OK)
        return rv;
    l->v[l->n] = (sl_lane){.next = next, .stride = stride};
    l->owner[l->n++] = owner;
    return SL_OK;
}

int sl_lanes_init(sl_lanes *l, int subtask, int parallelism, uint64_t end)
{
    memset(l, 0, sizeof(*l));
    l->end = end;
    if (parallelism < 1 || subtask < 0 || subtask >= parallelism)
        return SL_EINVAL;
    return push(l, (uint64_t)subtask, (uint64_t)parallelism, subtask);
}

void sl_lanes_free(sl_lanes *l)
{
    free(l->v);
    free(l->owner);
    memset(l, 0, sizeof(*l));
}

int sl_lanes_next(sl_lanes *l, uint64_t *i)
{
    int best = -1;
    for (int k = 0; k < l->n; k++)
        if (l->v[k].next < l->end && (best < 0 || l->v[k].next < l->v[best].next))
            best = k;
    if (best < 0)
        return SL_ENOTFOUND;
    sl_lane *ln = &l->v[best];
    *i = ln->next;
    ln->next = ln->next > UINT64_MAX - ln->stride ? UINT64_MAX : ln->next + ln->stride;
    return SL_OK;
}

int sl_lanes_snapshot(const sl_lanes *l, int subtask, int parallelism, sl_buf *out)
{
    uint64_t head[5] = {LANES_VERSION, (uint64_t)subtask, (uint64_t)parallelism,
                        l->end == UINT64_MAX ? 0 : l->end + 1, (uint64_t)l->n};
    int rv = SL_OK;
    for (int k = 0; k < 5 && rv == SL_OK; k++)
        rv = sl_buf_put_varint(out, head[k]);
    for (int k = 0; k < l->n && rv == SL_OK; k++) {
        rv = sl_buf_put_varint(out, l->v[k].next);
        if (rv == SL_OK)
            rv = sl_buf_put_varint(out, l->v[k].stride);
    }
    return rv;
}

/* Reads the header of a snapshot: old subtask, parallelism, lane count. */
static int read_head(sl_state_cursor *c, uint64_t *subtask, uint64_t *par, uint64_t *n)
{
    uint64_t version, end;
    if (sl_state_cursor_varint(c, &version) != SL_OK || version != LANES_VERSION ||
        sl_state_cursor_varint(c, subtask) != SL_OK || sl_state_cursor_varint(c, par) != SL_OK ||
        sl_state_cursor_varint(c, &end) != SL_OK || sl_state_cursor_varint(c, n) != SL_OK)
        return SL_EINVAL;
    /* every lane takes at least two bytes */
    if (*par < 1 || *par > LANES_MAX || *subtask >= *par || *n < 1 || *n > LANES_MAX ||
        *n > sl_state_cursor_remaining(c) / 2)
        return SL_EINVAL;
    return SL_OK;
}

static int owner_seen(const sl_lanes *l, int owner)
{
    for (int k = 0; k < l->n; k++)
        if (l->owner[k] == owner)
            return 1;
    return 0;
}

int sl_lanes_restore_add(sl_lanes *l, const uint8_t *data, size_t len)
{
    sl_state_cursor c;
    uint64_t subtask, par, n;
    sl_state_cursor_init(&c, data, len);
    if (read_head(&c, &subtask, &par, &n) != SL_OK)
        return SL_EINVAL;
    if (l->old_parallelism == 0)
        l->n = 0; /* the first snapshot replaces the fresh lane */
    else if ((uint64_t)l->old_parallelism != par || owner_seen(l, (int)subtask))
        return SL_EINVAL;
    l->old_parallelism = (int)par;
    for (uint64_t k = 0; k < n; k++) {
        uint64_t next, stride;
        if (sl_state_cursor_varint(&c, &next) != SL_OK || sl_state_cursor_varint(&c, &stride) != SL_OK ||
            stride == 0)
            return SL_EINVAL;
        int rv = push(l, next, stride, (int)subtask);
        if (rv != SL_OK)
            return rv;
    }
    return sl_state_cursor_remaining(&c) == 0 ? SL_OK : SL_EINVAL;
}

/* Keeps lanes [0, n) whose owner is `owner` (in order). */
static void keep_owner(sl_lanes *l, int owner)
{
    int kept = 0;
    for (int k = 0; k < l->n; k++) {
        if (l->owner[k] != owner)
            continue;
        l->v[kept] = l->v[k];
        l->owner[kept++] = owner;
    }
    l->n = kept;
}

/* Drops finished lanes. */
static void keep_live(sl_lanes *l)
{
    int kept = 0;
    for (int k = 0; k < l->n; k++)
        if (l->v[k].next < l->end)
            l->v[kept++] = l->v[k];
    l->n = kept;
}

/* The live lane with the smallest stride (then next) that can be split
 * into two non-empty lanes, or -1. */
static int splittable(const sl_lanes *l)
{
    int best = -1;
    for (int k = 0; k < l->n; k++) {
        const sl_lane *ln = &l->v[k];
        if (ln->stride > UINT64_MAX / 2 || ln->next > UINT64_MAX - ln->stride ||
            ln->next + ln->stride >= l->end)
            continue;
        if (best < 0 || ln->stride < l->v[best].stride ||
            (ln->stride == l->v[best].stride && ln->next < l->v[best].next))
            best = k;
    }
    return best;
}

static int split_until(sl_lanes *l, int want)
{
    while (l->n < want) {
        int k = splittable(l);
        if (k < 0)
            return SL_OK;
        sl_lane ln = l->v[k];
        l->v[k].stride = ln.stride * 2;
        int rv = push(l, ln.next + ln.stride, ln.stride * 2, l->owner[k]);
        if (rv != SL_OK)
            return rv;
    }
    return SL_OK;
}

static int cmp_lane(const void *a, const void *b)
{
    const sl_lane *x = a, *y = b;
    if (x->next != y->next)
        return x->next < y->next ? -1 : 1;
    return x->stride < y->stride ? -1 : x->stride > y->stride;
}

/* Every old subtask 0 .. old_parallelism-1 was added. */
static int all_owners_seen(const sl_lanes *l)
{
    for (int s = 0; s < l->old_parallelism; s++)
        if (!owner_seen(l, s))
            return 0;
    return 1;
}

static int deal(sl_lanes *l, int subtask, int parallelism)
{
    keep_live(l);
    int rv = split_until(l, parallelism);
    if (rv != SL_OK)
        return rv;
    qsort(l->v, (size_t)l->n, sizeof(*l->v), cmp_lane);
    int kept = 0;
    for (int k = 0; k < l->n; k++)
        if (k % parallelism == subtask)
            l->v[kept++] = l->v[k];
    l->n = kept;
    /* a subtask with nothing left keeps a finished lane: its snapshot is
     * never empty */
    return l->n == 0 ? push(l, l->end, 1, subtask) : SL_OK;
}

int sl_lanes_restore_finish(sl_lanes *l, int subtask, int parallelism)
{
    if (l->old_parallelism == 0 || parallelism < 1 || subtask < 0 || subtask >= parallelism ||
        !all_owners_seen(l))
        return SL_EINVAL;
    int rv = SL_OK;
    if (parallelism == l->old_parallelism)
        keep_owner(l, subtask);
    else
        rv = deal(l, subtask, parallelism);
    for (int k = 0; k < l->n; k++)
        l->owner[k] = subtask;
    l->old_parallelism = 0;
    return rv;
}
