/* Keyed state: a thin front that checks arguments and dispatches to a
 * backend through the vtable of keyed_state_backend.h. The backends are
 * "hashmap" (keyed_state_hashmap.c) and "leveldb" (keyed_state_leveldb.c).
 *
 * Another backend adds an sl_ks_ops table and a line in ks_backends[]; the
 * front does the argument checks for all of them. */
#include "taskmanager/state/keyed_state.h"

#include <stdlib.h>
#include <string.h>

#include "common/limits.h"
#include "common/status.h"
#include "taskmanager/state/keyed_state_backend.h"
#include "taskmanager/state/keyed_state_hashmap.h"
#include "taskmanager/state/keyed_state_leveldb.h"

#define KS_MAX_LEN SL_KS_MAX_LEN

/* sl_ks_state; the tag is renamed by the lead (RENAMES.txt) */
struct sl_ks_state {
    const sl_ks_ops *ops;
    void *impl;
    int kg_start;
    int kg_end;
};

/* ---- front ----------------------------------------------------------- */

static const sl_ks_ops *const ks_backends[] = {&sl_hashmap_ops, &sl_leveldb_ops};

/* Same bound as Flink's UPPER_BOUND_MAX_PARALLELISM. */
#define KS_MAX_KEY_GROUPS SL_MAX_PARALLELISM

int sl_ks_open(const char *backend, int kg_start, int kg_end, const char *dir,
               const struct sl_kcache_budget *budget, sl_ks_state **out)
{
    const sl_ks_ops *ops = NULL;
    sl_ks_state *st;
    int rv;

    if (backend == NULL || out == NULL || kg_start < 0 || kg_end < kg_start ||
        kg_end >= KS_MAX_KEY_GROUPS) {
        return SL_EINVAL;
    }
    for (size_t i = 0; i < sizeof(ks_backends) / sizeof(ks_backends[0]); i++) {
        if (strcmp(ks_backends[i]->name, backend) == 0) {
            ops = ks_backends[i];
        }
    }
    if (ops == NULL) {
        return SL_EINVAL;
    }
    if ((st = calloc(1, sizeof(*st))) == NULL) {
        return SL_ENOMEM;
    }
    if ((rv = ops->open(kg_start, kg_end, dir, budget, &st->impl)) != SL_OK) {
        free(st);
        return rv;
    }
    st->ops = ops;
    st->kg_start = kg_start;
    st->kg_end = kg_end;
    *out = st;
    return SL_OK;
}

void sl_ks_close(sl_ks_state *st)
{
    if (st == NULL) {
        return;
    }
    st->ops->close(st->impl);
    free(st);
}

static int ks_check(const sl_ks_state *st, int kg, const void *key, size_t klen)
{
    if (st == NULL || kg < st->kg_start || kg > st->kg_end || klen > KS_MAX_LEN ||
        (key == NULL && klen > 0)) {
        return SL_EINVAL;
    }
    return SL_OK;
}

int sl_ks_get(sl_ks_state *st, int kg, const void *key, size_t klen, const void **val, size_t *vlen)
{
    int rv = ks_check(st, kg, key, klen);
    return rv != SL_OK ? rv : st->ops->get(st->impl, kg, key, klen, val, vlen);
}

int sl_ks_put(sl_ks_state *st, int kg, const void *key, size_t klen, const void *val, size_t vlen)
{
    int rv = ks_check(st, kg, key, klen);

    if (rv != SL_OK) {
        return rv;
    }
    if (vlen > KS_MAX_LEN || (val == NULL && vlen > 0)) {
        return SL_EINVAL;
    }
    return st->ops->put(st->impl, kg, key, klen, val, vlen);
}

int sl_ks_put_restored(sl_ks_state *st, int kg, const sl_ks_pair *p, size_t n, uint64_t more)
{
    int rv = ks_check(st, kg, NULL, 0);

    if (rv != SL_OK || n == 0) {
        return rv;
    }
    if (st->ops->put_restored != NULL) {
        return st->ops->put_restored(st->impl, kg, p, n, more);
    }
    for (size_t i = 0; i < n && rv == SL_OK; i++) {
        rv = st->ops->put(st->impl, kg, p[i].key, p[i].klen, p[i].val, p[i].vlen);
    }
    return rv;
}

int sl_ks_presize(sl_ks_state *st, int kg, uint64_t n)
{
    if (st == NULL || kg < st->kg_start || kg > st->kg_end)
        return SL_EINVAL;
    return st->ops->presize != NULL ? st->ops->presize(st->impl, kg, n) : SL_OK;
}

int sl_ks_delete(sl_ks_state *st, int kg, const void *key, size_t klen)
{
    int rv = ks_check(st, kg, key, klen);
    return rv != SL_OK ? rv : st->ops->del(st->impl, kg, key, klen);
}

size_t sl_ks_count(const sl_ks_state *st)
{
    return st != NULL ? st->ops->count(st->impl) : 0;
}

int sl_ks_visit_group(sl_ks_state *st, int kg, sl_ks_visit_fn fn, void *arg)
{
    if (st == NULL || fn == NULL || kg < st->kg_start || kg > st->kg_end) {
        return SL_EINVAL;
    }
    return st->ops->visit(st->impl, kg, fn, arg);
}

/* ---- snapshot views -------------------------------------------------- */

struct sl_ks_view {
    const sl_ks_ops *ops; /* copied: an async view outlives its state */
    void *impl;
    int kg_start;
    int kg_end;
};

int sl_ks_view_open(sl_ks_state *st, sl_ks_view **out)
{
    sl_ks_view *v;
    int rv;

    if (st == NULL || out == NULL) {
        return SL_EINVAL;
    }
    if ((v = calloc(1, sizeof(*v))) == NULL) {
        return SL_ENOMEM;
    }
    if ((rv = st->ops->view_open(st->impl, &v->impl)) != SL_OK) {
        free(v);
        return rv;
    }
    v->ops = st->ops;
    v->kg_start = st->kg_start;
    v->kg_end = st->kg_end;
    *out = v;
    return SL_OK;
}

int sl_ks_view_async(const sl_ks_view *v)
{
    return v != NULL && v->ops->views_async;
}

int sl_ks_view_visit(sl_ks_view *v, int kg_lo, int kg_hi, sl_ks_visit_fn fn, void *arg)
{
    if (v == NULL || fn == NULL) {
        return SL_EINVAL;
    }
    if (kg_lo < v->kg_start) {
        kg_lo = v->kg_start;
    }
    if (kg_hi > v->kg_end) {
        kg_hi = v->kg_end;
    }
    if (kg_lo > kg_hi) {
        return SL_OK;
    }
    return v->ops->view_visit(v->impl, kg_lo, kg_hi, fn, arg);
}

void sl_ks_view_close(sl_ks_view *v)
{
    if (v == NULL) {
        return;
    }
    v->ops->view_close(v->impl);
    free(v);
}
