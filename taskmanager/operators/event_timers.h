/* Event-time timers of keyed operators: an in-memory min-heap of
 * (time, key group, key) entries, shared by `operator: window`
 * (op_window.c), `operator: argmax` (op_argmax.c) and the timers of
 * `operator: udf` (op_udf_timers.c).
 *
 * The heap orders by time, then key group, then key bytes, so timers due at
 * the same time fire in one deterministic order. It holds nothing durable:
 * each operator keeps its timers' truth in its keyed state and rebuilds the
 * heap from it after a restore (sl_event_timers_rebuild). What a timer means
 * and whether it is still wanted when it comes due is the operator's.
 *
 * A zero-initialised sl_event_timers is empty and ready. Every entry owns
 * a copy of its key; sl_event_timers_free releases them and the array.
 * Single-threaded: the task thread of the operator only. */
#ifndef SL_EVENT_TIMERS_H
#define SL_EVENT_TIMERS_H

#include <stddef.h>
#include <stdint.h>

#include "taskmanager/state/keyed_state.h"

typedef struct sl_event_timer {
    int64_t ts;     /* due once the watermark is >= ts */
    int kg;         /* key group of key */
    uint32_t klen;
    uint8_t *key;   /* owned by the heap, or by whoever popped the entry */
} sl_event_timer;

typedef struct sl_event_timers {
    sl_event_timer *t; /* the heap, t[0] the earliest */
    size_t n, cap;
} sl_event_timers;

/* <0, 0, >0 as a comes before, with, after b: by ts, kg, then key. */
int sl_event_timer_cmp(const sl_event_timer *a, const sl_event_timer *b);

/* Adds timer ts of key (klen bytes, copied) in key group kg. Duplicates are
 * kept: the caller decides whether a second entry is wanted. */
int sl_event_timers_add(sl_event_timers *h, int64_t ts, int kg, const uint8_t *key, size_t klen);

/* The timer of an event-time window [start, end) (window and argmax
 * operators): due at its last millisecond, end - 1, i.e. once
 * sl_window_fired(end, wm) (taskmanager/watermark.h). */
int sl_event_timers_add_window(sl_event_timers *h, int64_t end, int kg, const uint8_t *key,
                               size_t klen);

/* Removes the earliest timer with ts <= wm into *out; out->key is then the
 * caller's to free. SL_ENOTFOUND when no timer is due. */
int sl_event_timers_pop_due(sl_event_timers *h, int64_t wm, sl_event_timer *out);

/* Called for each due timer by sl_event_timers_fire; t and t->key are
 * borrowed for the call. Non-SL_OK stops the firing. */
typedef int (*sl_event_timer_fire_fn)(void *arg, const sl_event_timer *t);

/* Pops every timer with ts <= wm, earliest first, and calls fire for it
 * (freeing its key after). Returns the first failure of fire, else SL_OK. */
int sl_event_timers_fire(sl_event_timers *h, int64_t wm, sl_event_timer_fire_fn fire, void *arg);

/* Says whether timer t stays: SL_OK keep it, SL_ENOTFOUND drop it, any
 * other code stops sl_event_timers_compact with that code. */
typedef int (*sl_event_timer_keep_fn)(void *arg, const sl_event_timer *t);

/* Keeps one entry of each distinct timer, and only those keep says to
 * keep. On a failure of keep the heap still holds every entry not yet
 * dropped (a valid heap) and that code is returned. */
int sl_event_timers_compact(sl_event_timers *h, sl_event_timer_keep_fn keep, void *arg);

/* Empties the heap (frees the keys, keeps the array). */
void sl_event_timers_clear(sl_event_timers *h);

/* Empties the heap, then visits every entry of key groups [kg_start,
 * kg_end] of st with visit(h, ...): visit adds the timers an entry stands
 * for with sl_event_timers_add (its arg is h) and returns 0, or non-zero
 * to stop; that value is returned. */
int sl_event_timers_rebuild(sl_event_timers *h, sl_ks_state *st, int kg_start, int kg_end,
                            sl_ks_visit_fn visit);

/* Frees every entry and the array; h is empty and reusable after. */
void sl_event_timers_free(sl_event_timers *h);

#endif
