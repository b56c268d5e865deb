/* The keyed state and timers a C user operator reaches through its API
 * table (op_udf_api.c): value, list and map state of the current key, and
 * event-time timers (op_udf_timers.c), all in the operator's sl_keyed_op.
 * State key of an entry: the current key (sl_row_encode of the key-by
 * fields, self-delimiting), a tag and the state name:
 *   key 'V' name NUL            value state: the value
 *   key 'L' name NUL            list state: (u32 length, bytes)* in one value
 *   key 'M' name NUL user-key   map state: one entry per user key
 *   key 'T' ts                  a timer (op_udf_timers.c) */
#include <stdlib.h>
#include <string.h>

#include "common/status.h"
#include "taskmanager/operators/op_udf_internal.h"

#define LIST_MAX ((size_t)16 << 20)

/* key tag name NUL [ukey] into u->skey; 0 or a SLUICE_E* code. */
static int state_key(sl_udf_op *u, char tag, const char *name, const void *ukey, size_t uklen,
                     size_t *len)
{
    size_t n = name != NULL ? strnlen(name, SLUICE_UDF_NAME_MAX + 1) : 0;

    if (u->kg < 0 || n == 0 || n > SLUICE_UDF_NAME_MAX || uklen > SLUICE_UDF_NAME_MAX ||
        (ukey == NULL && uklen > 0) || (tag == 'M' && ukey == NULL))
        return SLUICE_EINVAL;
    memcpy(u->skey, u->k.key, u->klen);
    u->skey[u->klen] = (uint8_t)tag;
    memcpy(u->skey + u->klen + 1, name, n + 1);
    *len = u->klen + 2 + n;
    if (uklen > 0)
        memcpy(u->skey + *len, ukey, uklen);
    *len += uklen;
    return SLUICE_OK;
}

static int from_sl(int rv)
{
    switch (rv) {
    case SL_OK: return SLUICE_OK;
    case SL_ENOTFOUND: return SLUICE_ENOTFOUND;
    case SL_ENOMEM: return SLUICE_ENOMEM;
    default: return SLUICE_EFAIL;
    }
}

static int get_entry(sl_udf_op *u, char tag, const char *name, const void *uk, size_t ukl,
                     const void **val, size_t *len)
{
    size_t sl;
    int rv = state_key(u, tag, name, uk, ukl, &sl);

    if (rv != SLUICE_OK || val == NULL || len == NULL)
        return rv != SLUICE_OK ? rv : SLUICE_EINVAL;
    return from_sl(sl_ks_get(u->k.state, u->kg, u->skey, sl, val, len));
}

static int put_entry(sl_udf_op *u, char tag, const char *name, const void *uk, size_t ukl,
                     const void *val, size_t len, size_t max)
{
    size_t sl;
    int rv = state_key(u, tag, name, uk, ukl, &sl);

    if (rv != SLUICE_OK || len > max || (val == NULL && len > 0))
        return rv != SLUICE_OK ? rv : SLUICE_EINVAL;
    return from_sl(sl_ks_put(u->k.state, u->kg, u->skey, sl, len ? val : "", len));
}

static int del_entry(sl_udf_op *u, char tag, const char *name, const void *uk, size_t ukl)
{
    size_t sl;
    int rv = state_key(u, tag, name, uk, ukl, &sl);

    if (rv != SLUICE_OK)
        return rv;
    rv = sl_ks_delete(u->k.state, u->kg, u->skey, sl);
    return rv == SL_ENOTFOUND ? SLUICE_OK : from_sl(rv);
}

int sl_udf_api_value_get(sluice_ctx *c, const char *s, const void **val, size_t *len)
{
    return get_entry(sl_udf_of(c), 'V', s, NULL, 0, val, len);
}

int sl_udf_api_value_put(sluice_ctx *c, const char *s, const void *val, size_t len)
{
    return put_entry(sl_udf_of(c), 'V', s, NULL, 0, val, len, SLUICE_UDF_VALUE_MAX);
}

int sl_udf_api_value_delete(sluice_ctx *c, const char *s)
{
    return del_entry(sl_udf_of(c), 'V', s, NULL, 0);
}

static int tmp_reserve(sl_udf_op *u, size_t need)
{
    if (need <= u->tmpcap)
        return SLUICE_OK;
    uint8_t *t = realloc(u->tmp, need);
    if (t == NULL)
        return SLUICE_ENOMEM;
    u->tmp = t;
    u->tmpcap = need;
    return SLUICE_OK;
}

int sl_udf_api_list_append(sluice_ctx *c, const char *s, const void *val, size_t len)
{
    sl_udf_op *u = sl_udf_of(c);
    const void *old = NULL;
    size_t olen = 0;
    uint32_t n32 = (uint32_t)len;
    int rv = get_entry(u, 'L', s, NULL, 0, &old, &olen);

    if (rv != SLUICE_OK && rv != SLUICE_ENOTFOUND)
        return rv;
    if (rv == SLUICE_ENOTFOUND)
        olen = 0;
    if (len > SLUICE_UDF_VALUE_MAX || (val == NULL && len > 0) ||
        olen + sizeof(n32) + len > LIST_MAX)
        return SLUICE_EINVAL;
    if ((rv = tmp_reserve(u, olen + sizeof(n32) + len)) != SLUICE_OK)
        return rv;
    if (olen > 0)
        memcpy(u->tmp, old, olen);
    memcpy(u->tmp + olen, &n32, sizeof(n32));
    if (len > 0)
        memcpy(u->tmp + olen + sizeof(n32), val, len);
    return put_entry(u, 'L', s, NULL, 0, u->tmp, olen + sizeof(n32) + len, LIST_MAX);
}

int sl_udf_api_list_iterate(sluice_ctx *c, const char *s, sluice_visit_fn fn, void *arg)
{
    sl_udf_op *u = sl_udf_of(c);
    const void *v = NULL;
    size_t len = 0, off = 0;
    int rv = get_entry(u, 'L', s, NULL, 0, &v, &len);

    if (rv == SLUICE_ENOTFOUND || fn == NULL)
        return fn == NULL ? SLUICE_EINVAL : SLUICE_OK;
    if (rv != SLUICE_OK || (rv = tmp_reserve(u, len ? len : 1)) != SLUICE_OK)
        return rv;
    memcpy(u->tmp, v, len); /* the callback may read other state */
    while (off + sizeof(uint32_t) <= len) {
        uint32_t n;
        memcpy(&n, u->tmp + off, sizeof(n));
        off += sizeof(n);
        if (n > len - off)
            return SLUICE_EFAIL;
        if ((rv = fn(arg, NULL, 0, u->tmp + off, n)) != 0)
            return rv;
        off += n;
    }
    return off == len ? SLUICE_OK : SLUICE_EFAIL;
}

int sl_udf_api_list_clear(sluice_ctx *c, const char *s)
{
    return del_entry(sl_udf_of(c), 'L', s, NULL, 0);
}

int sl_udf_api_map_get(sluice_ctx *c, const char *s, const void *uk, size_t ukl,
                       const void **val, size_t *len)
{
    return ukl == 0 ? SLUICE_EINVAL : get_entry(sl_udf_of(c), 'M', s, uk, ukl, val, len);
}

int sl_udf_api_map_put(sluice_ctx *c, const char *s, const void *uk, size_t ukl,
                       const void *val, size_t len)
{
    if (ukl == 0)
        return SLUICE_EINVAL;
    return put_entry(sl_udf_of(c), 'M', s, uk, ukl, val, len, SLUICE_UDF_VALUE_MAX);
}

int sl_udf_api_map_delete(sluice_ctx *c, const char *s, const void *uk, size_t ukl)
{
    return ukl == 0 ? SLUICE_EINVAL : del_entry(sl_udf_of(c), 'M', s, uk, ukl);
}

typedef struct map_visit {
    const uint8_t *prefix;
    size_t plen;
    sluice_visit_fn fn;
    void *arg;
} map_visit;

static int map_visit_one(void *arg, int kg, const void *key, size_t klen, const void *val,
                         size_t vlen)
{
    map_visit *m = arg;

    (void)kg;
    if (klen <= m->plen || memcmp(key, m->prefix, m->plen) != 0)
        return 0;
    return m->fn(m->arg, (const uint8_t *)key + m->plen, klen - m->plen, val, vlen);
}

int sl_udf_api_map_iterate(sluice_ctx *c, const char *s, sluice_visit_fn fn, void *arg)
{
    sl_udf_op *u = sl_udf_of(c);
    uint8_t prefix[SL_UDF_SKEY_MAX]; /* u->skey may be reused by the callback */
    map_visit m = {.prefix = prefix, .fn = fn, .arg = arg};
    int rv = state_key(u, 'M', s, "", 0, &m.plen);

    if (rv != SLUICE_OK || fn == NULL)
        return rv != SLUICE_OK ? rv : SLUICE_EINVAL;
    memcpy(prefix, u->skey, m.plen);
    return sl_ks_visit_group(u->k.state, u->kg, map_visit_one, &m);
}

int sl_udf_api_register_timer(sluice_ctx *c, int64_t ts)
{
    sl_udf_op *u = sl_udf_of(c);

    if (u->kg < 0)
        return SLUICE_EINVAL;
    return from_sl(sl_udf_timers_add(&u->timers, u->k.state, u->kg, u->k.key, u->klen, ts));
}

int sl_udf_api_delete_timer(sluice_ctx *c, int64_t ts)
{
    sl_udf_op *u = sl_udf_of(c);

    if (u->kg < 0)
        return SLUICE_EINVAL;
    return from_sl(sl_udf_timers_delete(&u->timers, u->k.state, u->kg, u->k.key, u->klen, ts));
}

const sluice_record *sl_udf_api_current_key(sluice_ctx *c)
{
    sl_udf_op *u = sl_udf_of(c);
    size_t used;

    if (u->kg < 0 || sl_row_decode(u->k.key, u->klen, &u->keyrow, &used) != SL_OK)
        return NULL;
    return (const sluice_record *)&u->keyrow;
}

