/* Event-time timers of keyed operators: a min-heap by (ts, kg, key); see
 * event_timers.h. */
#include "taskmanager/operators/event_timers.h"

#include <stdlib.h>
#include <string.h>

#include "common/status.h"

int sl_event_timer_cmp(const sl_event_timer *a, const sl_event_timer *b)
{
    size_t n = a->klen < b->klen ? a->klen : b->klen;
    int c;

    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    if (a->kg != b->kg)
        return a->kg < b->kg ? -1 : 1;
    if (n > 0 && (c = memcmp(a->key, b->key, n)) != 0)
        return c;
    return a->klen < b->klen ? -1 : a->klen > b->klen;
}

static int cmp_qsort(const void *a, const void *b)
{
    return sl_event_timer_cmp(a, b);
}

static void swap(sl_event_timers *h, size_t i, size_t j)
{
    sl_event_timer t = h->t[i];
    h->t[i] = h->t[j];
    h->t[j] = t;
}

static void sift_up(sl_event_timers *h, size_t i)
{
    for (; i > 0 && sl_event_timer_cmp(&h->t[(i - 1) / 2], &h->t[i]) > 0; i = (i - 1) / 2)
        swap(h, i, (i - 1) / 2);
}

static void sift_down(sl_event_timers *h, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && sl_event_timer_cmp(&h->t[l], &h->t[m]) < 0)
            m = l;
        if (r < h->n && sl_event_timer_cmp(&h->t[r], &h->t[m]) < 0)
            m = r;
        if (m == i)
            return;
        swap(h, i, m);
        i = m;
    }
}

int sl_event_timers_add(sl_event_timers *h, int64_t ts, int kg, const uint8_t *key, size_t klen)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        sl_event_timer *t = realloc(h->t, cap * sizeof(*t));
        if (t == NULL)
            return SL_ENOMEM;
        h->t = t;
        h->cap = cap;
    }
    sl_event_timer *t = &h->t[h->n];
    if ((t->key = malloc(klen ? klen : 1)) == NULL)
        return SL_ENOMEM;
    if (klen > 0)
        memcpy(t->key, key, klen);
    t->klen = (uint32_t)klen;
    t->ts = ts;
    t->kg = kg;
    sift_up(h, h->n++);
    return SL_OK;
}

int sl_event_timers_add_window(sl_event_timers *h, int64_t end, int kg, const uint8_t *key,
                               size_t klen)
{
    return sl_event_timers_add(h, end - 1, kg, key, klen);
}

int sl_event_timers_pop_due(sl_event_timers *h, int64_t wm, sl_event_timer *out)
{
    if (h->n == 0 || h->t[0].ts > wm)
        return SL_ENOTFOUND;
    *out = h->t[0];
    h->t[0] = h->t[--h->n];
    sift_down(h, 0);
    return SL_OK;
}

int sl_event_timers_fire(sl_event_timers *h, int64_t wm, sl_event_timer_fire_fn fire, void *arg)
{
    sl_event_timer t;
    int rv = SL_OK;

    while (rv == SL_OK && sl_event_timers_pop_due(h, wm, &t) == SL_OK) {
        rv = fire(arg, &t);
        free(t.key);
    }
    return rv;
}

int sl_event_timers_compact(sl_event_timers *h, sl_event_timer_keep_fn keep, void *arg)
{
    size_t kept = 0, i;
    int rv = SL_OK;

    /* sorted, the array is a heap; dropping entries keeps it sorted */
    qsort(h->t, h->n, sizeof(*h->t), cmp_qsort);
    for (i = 0; i < h->n; i++) {
        sl_event_timer *t = &h->t[i];
        int dup = kept > 0 && sl_event_timer_cmp(&h->t[kept - 1], t) == 0;
        rv = dup ? SL_ENOTFOUND : keep(arg, t);
        if (rv != SL_OK && rv != SL_ENOTFOUND)
            break;
        if (rv == SL_OK)
            h->t[kept++] = *t;
        else
            free(t->key);
        rv = SL_OK;
    }
    memmove(&h->t[kept], &h->t[i], (h->n - i) * sizeof(*h->t));
    h->n = kept + (h->n - i);
    return rv;
}

void sl_event_timers_clear(sl_event_timers *h)
{
    for (size_t i = 0; i < h->n; i++)
        free(h->t[i].key);
    h->n = 0;
}

int sl_event_timers_rebuild(sl_event_timers *h, sl_ks_state *st, int kg_start, int kg_end,
                            sl_ks_visit_fn visit)
{
    sl_event_timers_clear(h);
    for (int kg = kg_start; kg <= kg_end; kg++) {
        int rv = sl_ks_visit_group(st, kg, visit, h);
        if (rv != 0)
            return rv;
    }
    return SL_OK;
}

void sl_event_timers_free(sl_event_timers *h)
{
    sl_event_timers_clear(h);
    free(h->t);
    h->t = NULL;
    h->cap = 0;
}
