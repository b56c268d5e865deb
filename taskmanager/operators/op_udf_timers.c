/* Event-time timers of `operator: udf`: keyed-state entries plus the
 * event_timers.h min-heap that orders them (see op_udf_timers.h). */
#include "taskmanager/operators/op_udf_timers.h"

#include <stdlib.h>
#include <string.h>

#include "common/row.h"
#include "common/status.h"

#define TS_LEN 8
#define SKEY_MAX (SL_UDF_KEY_MAX + 1 + TS_LEN)
#define COMPACT_MIN 1024

/* key 'T' ts into skey; *len its length. */
static int timer_key(const uint8_t *key, size_t klen, int64_t ts, uint8_t *skey, size_t *len)
{
    uint64_t u = (uint64_t)ts ^ ((uint64_t)1 << 63);

    if (klen == 0 || klen > SL_UDF_KEY_MAX || key == NULL)
        return SL_EINVAL;
    memcpy(skey, key, klen);
    skey[klen] = 'T';
    for (int i = 0; i < TS_LEN; i++)
        skey[klen + 1 + i] = (uint8_t)(u >> (8 * (TS_LEN - 1 - i)));
    *len = klen + 1 + TS_LEN;
    return SL_OK;
}

static int64_t timer_ts(const uint8_t *p)
{
    uint64_t u = 0;

    for (int i = 0; i < TS_LEN; i++)
        u = (u << 8) | p[i];
    return (int64_t)(u ^ ((uint64_t)1 << 63));
}

void sl_udf_timers_init(sl_udf_timers *tm, int kg_start, int kg_end)
{
    memset(tm, 0, sizeof(*tm));
    tm->kg_start = kg_start;
    tm->kg_end = kg_end;
}

void sl_udf_timers_free(sl_udf_timers *tm)
{
    sl_event_timers_free(&tm->heap);
    tm->live = 0;
}

/* sl_event_timer_keep_fn: keeps an entry whose timer is in the state. */
static int in_state(void *arg, const sl_event_timer *t)
{
    uint8_t skey[SKEY_MAX];
    size_t len, vlen;
    const void *v;
    int rv = timer_key(t->key, t->klen, t->ts, skey, &len);

    return rv == SL_OK ? sl_ks_get(arg, t->kg, skey, len, &v, &vlen) : rv;
}

/* Keeps the entries whose timer is in the state, once each. */
static int compact(sl_udf_timers *tm, sl_ks_state *st)
{
    int rv = sl_event_timers_compact(&tm->heap, in_state, st);

    if (rv == SL_OK)
        tm->live = tm->heap.n;
    return rv;
}

int sl_udf_timers_add(sl_udf_timers *tm, sl_ks_state *st, int kg, const uint8_t *key,
                      size_t klen, int64_t ts)
{
    uint8_t skey[SKEY_MAX];
    const void *v;
    size_t len, vlen;
    int rv = timer_key(key, klen, ts, skey, &len);

    if (rv == SL_OK)
        rv = sl_ks_get(st, kg, skey, len, &v, &vlen);
    if (rv != SL_ENOTFOUND)
        return rv; /* SL_OK: there already */
    /* heap first: an entry without its state entry is skipped later */
    if ((rv = sl_event_timers_add(&tm->heap, ts, kg, key, klen)) != SL_OK ||
        (rv = sl_ks_put(st, kg, skey, len, "", 0)) != SL_OK)
        return rv;
    tm->live++;
    return SL_OK;
}

int sl_udf_timers_delete(sl_udf_timers *tm, sl_ks_state *st, int kg, const uint8_t *key,
                         size_t klen, int64_t ts)
{
    uint8_t skey[SKEY_MAX];
    size_t len;
    int rv = timer_key(key, klen, ts, skey, &len);

    if (rv == SL_OK)
        rv = sl_ks_delete(st, kg, skey, len);
    if (rv == SL_ENOTFOUND)
        return SL_OK;
    if (rv != SL_OK)
        return rv;
    tm->live--;
    if (tm->heap.n > COMPACT_MIN && tm->heap.n > 4 * tm->live)
        return compact(tm, st);
    return SL_OK;
}

int sl_udf_timers_next(sl_udf_timers *tm, sl_ks_state *st, int64_t wm, sl_udf_timer *out)
{
    uint8_t skey[SKEY_MAX];
    size_t len;
    sl_udf_timer t;

    while (sl_event_timers_pop_due(&tm->heap, wm, &t) == SL_OK) {
        int rv = timer_key(t.key, t.klen, t.ts, skey, &len);
        if (rv == SL_OK)
            rv = sl_ks_delete(st, t.kg, skey, len);
        if (rv == SL_OK) {
            tm->live--;
            *out = t;
            return SL_OK;
        }
        free(t.key);
        if (rv != SL_ENOTFOUND)
            return rv;
    }
    return SL_ENOTFOUND;
}

static int rebuild_visit(void *arg, int kg, const void *key, size_t klen, const void *val,
                         size_t vlen)
{
    const uint8_t *k = key;
    sl_row row;
    size_t used;

    (void)val;
    if (vlen != 0 || sl_row_decode(k, klen, &row, &used) != SL_OK ||
        klen != used + 1 + TS_LEN || k[used] != 'T')
        return 0; /* another kind of state */
    if (sl_event_timers_add(arg, timer_ts(k + used + 1), kg, k, used) != SL_OK)
        return SL_ENOMEM;
    return 0;
}

int sl_udf_timers_rebuild(sl_udf_timers *tm, sl_ks_state *st)
{
    int rv = sl_event_timers_rebuild(&tm->heap, st, tm->kg_start, tm->kg_end, rebuild_visit);

    tm->rebuild = 0;
    tm->live = tm->heap.n; /* one entry per timer of the state */
    return rv;
}
