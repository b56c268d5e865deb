/* Barrier alignment: the state machine described in barrier_aligner.h. */
#include "taskmanager/checkpoint/barrier_aligner.h"

#include <stdlib.h>
#include <string.h>

#include "common/status.h"

int sl_align_init(sl_aligner *a, int n, int exactly_once)
{
    memset(a, 0, sizeof(*a));
    a->exactly_once = exactly_once;
    if (n <= 0)
        return SL_OK;
    a->seen = calloc((size_t)n, sizeof(*a->seen));
    a->ended = calloc((size_t)n, sizeof(*a->ended));
    if (a->seen == NULL || a->ended == NULL) {
        sl_align_free(a);
        return SL_ENOMEM;
    }
    a->n = n;
    return SL_OK;
}

void sl_align_free(sl_aligner *a)
{
    free(a->seen);
    free(a->ended);
    a->seen = NULL;
    a->ended = NULL;
    a->n = 0;
}

void sl_align_restored(sl_aligner *a, uint64_t id)
{
    a->last_done = id;
}

static int aligned(const sl_aligner *a, uint64_t id)
{
    for (int i = 0; i < a->n; i++)
        if (!a->ended[i] && a->seen[i] < id)
            return 0;
    return 1;
}

/* Every channel delivered `current` or ended: snapshot, then release. */
static void complete(sl_aligner *a, int64_t now_ms, sl_align_out *out)
{
    out->align_ms = now_ms - a->first_ms;
    a->last_done = a->current;
    a->current = 0;
    out->snapshot = 1;
    out->release = 1;
    out->block = 0;
}

void sl_align_on_barrier(sl_aligner *a, int ch, const sl_barrier *b, int64_t now_ms,
                         sl_align_out *out)
{
    memset(out, 0, sizeof(*out));
    uint64_t id = b->id;
    if (ch < 0 || ch >= a->n || id <= a->last_done || id < a->current)
        return; /* a barrier of a checkpoint given up or subsumed */
    if (id > a->current) {
        if (a->current != 0) {
            out->decline = a->current;
            out->release = 1;
        }
        a->current = id;
        a->barrier = *b;
        a->first_ms = now_ms;
    }
    a->seen[ch] = id;
    out->block = a->exactly_once;
    if (aligned(a, id))
        complete(a, now_ms, out);
}

void sl_align_on_end(sl_aligner *a, int ch, int64_t now_ms, sl_align_out *out)
{
    memset(out, 0, sizeof(*out));
    if (ch >= 0 && ch < a->n)
        a->ended[ch] = 1;
    if (a->current != 0 && aligned(a, a->current))
        complete(a, now_ms, out);
}

void sl_align_abort(sl_aligner *a, uint64_t id, sl_align_out *out)
{
    memset(out, 0, sizeof(*out));
    if (id > a->last_done)
        a->last_done = id;
    if (a->current != 0 && a->current <= id) {
        a->current = 0;
        out->release = 1;
    }
}
